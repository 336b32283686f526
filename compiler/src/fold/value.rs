//! Operations on constants as `ast_opt.c` performs them: `PyNumber_*` and `PyObject_GetItem`
//! on the constant types, behind the folder's size limits (`safe_multiply`, `safe_power`,
//! `safe_lshift`, `safe_mod`). `None` means CPython raised or refused, and the expression
//! stays as it is.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};
use pyc_assembler::{Constant, PyStr, PythonVersion};
use ruff_python_ast::{Operator, UnaryOp};

use super::number::{arith, num_eq, Arith, Complex, Num};

/// Largest int result of `*`, `**` and `<<`, in bits.
const MAX_INT_SIZE: u64 = 128;
/// Most items of a tuple built by repetition.
const MAX_COLLECTION_SIZE: i64 = 256;
/// Longest str or bytes built by repetition.
const MAX_STR_SIZE: i64 = 4096;
/// Most items, nested ones included, of a tuple built by repetition.
const MAX_TOTAL_ITEMS: i64 = 1024;

/// The value of an `int` or `bool` constant.
fn int_of(c: &Constant) -> Option<BigInt> {
    match c {
        Constant::Int(i) => Some(i.clone()),
        Constant::Bool(b) => Some(BigInt::from(*b as u8)),
        _ => None,
    }
}

fn num_of(c: &Constant) -> Option<Num> {
    match c {
        Constant::Float(f) => Some(Num::Float(*f)),
        Constant::Complex { re, im } => Some(Num::Complex(Complex { re: *re, im: *im })),
        other => int_of(other).map(Num::Int),
    }
}

fn constant_of(n: Num) -> Constant {
    match n {
        Num::Int(i) => Constant::Int(i),
        Num::Float(f) => Constant::Float(f),
        Num::Complex(c) => Constant::Complex { re: c.re, im: c.im },
    }
}

/// `bool(c)` for a constant.
pub fn truth(c: &Constant) -> bool {
    match c {
        Constant::None => false,
        Constant::StopIteration | Constant::Ellipsis | Constant::Slice(_) | Constant::Code(_) => {
            true
        }
        Constant::Bool(b) => *b,
        Constant::Int(i) => !i.is_zero(),
        Constant::Float(f) => *f != 0.0,
        Constant::Complex { re, im } => *re != 0.0 || *im != 0.0,
        Constant::Str(s) => !s.is_empty(),
        Constant::Bytes(b) => !b.is_empty(),
        Constant::Tuple(t) | Constant::FrozenSet(t) => !t.is_empty(),
    }
}

/// A unary operator on a constant.
pub(super) fn unary(op: UnaryOp, c: &Constant) -> Option<Constant> {
    if op == UnaryOp::Not {
        return Some(Constant::Bool(!truth(c)));
    }
    Some(match (op, num_of(c)?) {
        (UnaryOp::USub, Num::Int(i)) => Constant::Int(-i),
        (UnaryOp::USub, Num::Float(f)) => Constant::Float(-f),
        (UnaryOp::USub, Num::Complex(z)) => Constant::Complex {
            re: -z.re,
            im: -z.im,
        },
        (UnaryOp::UAdd, n) => constant_of(n),
        // `~True` warns from 3.12 on, and still folds.
        (UnaryOp::Invert, Num::Int(i)) => Constant::Int(-(i + 1u8)),
        _ => return None,
    })
}

/// A binary operator on two constants, with the folder's limits.
pub(super) fn binary(
    op: Operator,
    l: &Constant,
    r: &Constant,
    v: PythonVersion,
) -> Option<Constant> {
    let arith_op = match op {
        Operator::Add => {
            return match (l, r) {
                (Constant::Str(a), Constant::Str(b)) => {
                    let mut bytes = a.as_bytes().to_vec();
                    bytes.extend_from_slice(b.as_bytes());
                    PyStr::from_marshal_bytes(&bytes).map(Constant::Str)
                }
                (Constant::Bytes(a), Constant::Bytes(b)) => {
                    Some(Constant::Bytes([&a[..], b].concat()))
                }
                (Constant::Tuple(a), Constant::Tuple(b)) => {
                    Some(Constant::Tuple([&a[..], b].concat()))
                }
                _ => numeric(Arith::Add, l, r, v),
            }
        }
        Operator::Sub => Arith::Sub,
        Operator::Mult => return safe_multiply(l, r, v),
        Operator::Div => Arith::TrueDiv,
        Operator::FloorDiv => Arith::FloorDiv,
        Operator::Mod => {
            // `safe_mod`: `%` formatting is never folded.
            if matches!(l, Constant::Str(_) | Constant::Bytes(_)) {
                return None;
            }
            Arith::Mod
        }
        Operator::Pow => return safe_power(l, r, v),
        Operator::LShift => return safe_lshift(l, r),
        Operator::RShift => return rshift(l, r),
        Operator::BitAnd | Operator::BitOr | Operator::BitXor => return bitwise(op, l, r),
        Operator::MatMult => return None,
    };
    numeric(arith_op, l, r, v)
}

fn numeric(op: Arith, l: &Constant, r: &Constant, v: PythonVersion) -> Option<Constant> {
    let real = v.mixed_complex_arithmetic_is_real();
    arith(op, &num_of(l)?, &num_of(r)?, real).map(constant_of)
}

/// The length `safe_multiply` weighs for a sequence: items, characters or bytes.
fn seq_len(c: &Constant) -> Option<usize> {
    match c {
        Constant::Tuple(t) => Some(t.len()),
        Constant::Str(s) => Some(s.char_len()),
        Constant::Bytes(b) => Some(b.len()),
        _ => None,
    }
}

/// `check_complexity`: what remains of `limit` after counting the items of `c` and of the
/// tuples nested in it; negative once exhausted.
fn check_complexity(c: &Constant, mut limit: i64) -> i64 {
    if let Constant::Tuple(items) = c {
        limit -= items.len() as i64;
        for item in items {
            if limit < 0 {
                break;
            }
            limit = check_complexity(item, limit);
        }
    }
    limit
}

fn safe_multiply(v: &Constant, w: &Constant, version: PythonVersion) -> Option<Constant> {
    match (int_of(v), int_of(w)) {
        (Some(a), Some(b)) => {
            if !a.is_zero() && !b.is_zero() && a.bits() + b.bits() > MAX_INT_SIZE {
                return None;
            }
            Some(Constant::Int(a * b))
        }
        (Some(n), None) => {
            let size = seq_len(w);
            match size {
                Some(size) if size > 0 => {
                    // `PyLong_AsLong` fails (and the fold with it) beyond a C long.
                    let n = n.to_i64()?;
                    let (limit, is_tuple) = match w {
                        Constant::Tuple(_) => (MAX_COLLECTION_SIZE, true),
                        _ => (MAX_STR_SIZE, false),
                    };
                    if n < 0 || n > limit / size as i64 {
                        return None;
                    }
                    if is_tuple && n != 0 && check_complexity(w, MAX_TOTAL_ITEMS / n) < 0 {
                        return None;
                    }
                    repeat(w, n)
                }
                // An empty sequence repeats to itself for any count that fits an index.
                Some(_) => {
                    n.to_i64()?;
                    repeat(w, 0)
                }
                None => numeric(Arith::Mul, v, w, version),
            }
        }
        (None, Some(_)) if seq_len(v).is_some() => safe_multiply(w, v, version),
        _ => numeric(Arith::Mul, v, w, version),
    }
}

/// `seq * n` for a count `n` already checked against the limits (`n <= 0` gives an empty
/// sequence).
fn repeat(seq: &Constant, n: i64) -> Option<Constant> {
    let n = n.max(0) as usize;
    Some(match seq {
        Constant::Tuple(t) => Constant::Tuple((0..n).flat_map(|_| t.iter().cloned()).collect()),
        Constant::Str(s) => Constant::Str(PyStr::from_marshal_bytes(&s.as_bytes().repeat(n))?),
        Constant::Bytes(b) => Constant::Bytes(b.repeat(n)),
        _ => return None,
    })
}

fn safe_power(v: &Constant, w: &Constant, version: PythonVersion) -> Option<Constant> {
    if let (Some(a), Some(b)) = (int_of(v), int_of(w)) {
        if !a.is_zero() && b.is_positive() {
            // `PyLong_AsSize_t` of the exponent; beyond it the fold fails.
            let wbits = b.to_u64()?;
            if a.bits() > MAX_INT_SIZE / wbits {
                return None;
            }
        }
    }
    numeric(Arith::Pow, v, w, version)
}

fn safe_lshift(v: &Constant, w: &Constant) -> Option<Constant> {
    let (a, b) = (int_of(v)?, int_of(w)?);
    if b.is_negative() {
        return None;
    }
    if a.is_zero() || b.is_zero() {
        return Some(Constant::Int(a));
    }
    let wbits = b.to_u64()?;
    if wbits > MAX_INT_SIZE || a.bits() > MAX_INT_SIZE - wbits {
        return None;
    }
    Some(Constant::Int(a << wbits))
}

fn rshift(v: &Constant, w: &Constant) -> Option<Constant> {
    let (a, b) = (int_of(v)?, int_of(w)?);
    if b.is_negative() {
        return None;
    }
    // Shifting out every bit leaves the sign: 0 or -1.
    let shift = b.to_u64().unwrap_or(u64::MAX).min(a.bits() + 1);
    Some(Constant::Int(floor_shr(&a, shift)))
}

/// `a >> n` rounding toward negative infinity.
fn floor_shr(a: &BigInt, n: u64) -> BigInt {
    if a.is_negative() {
        // -((-a - 1) >> n) - 1, the two's complement identity.
        -((-a - 1u8) >> n) - 1u8
    } else {
        a >> n
    }
}

fn bitwise(op: Operator, l: &Constant, r: &Constant) -> Option<Constant> {
    if let (Constant::Bool(a), Constant::Bool(b)) = (l, r) {
        return Some(Constant::Bool(match op {
            Operator::BitAnd => a & b,
            Operator::BitOr => a | b,
            _ => a ^ b,
        }));
    }
    let (a, b) = (int_of(l)?, int_of(r)?);
    Some(Constant::Int(match op {
        Operator::BitAnd => a & b,
        Operator::BitOr => a | b,
        _ => a ^ b,
    }))
}

/// `container[index]` (`PyObject_GetItem`) for the constant types that support it.
pub(super) fn subscript(container: &Constant, index: &Constant) -> Option<Constant> {
    let i = int_of(index)?.to_i64()?;
    let at = |len: usize| -> Option<usize> {
        let i = if i < 0 { i + len as i64 } else { i };
        (0..len as i64).contains(&i).then_some(i as usize)
    };
    match container {
        Constant::Str(s) => {
            let points: Vec<u32> = s.code_points().collect();
            let c = points[at(points.len())?];
            Some(Constant::Str(PyStr::from_code_points([c])))
        }
        Constant::Bytes(b) => Some(Constant::int(b[at(b.len())?] as i64)),
        Constant::Tuple(t) => Some(t[at(t.len())?].clone()),
        _ => None,
    }
}

/// Python's `==` between constants, as a set compares its members.
pub(super) fn py_eq(a: &Constant, b: &Constant) -> bool {
    if let (Some(x), Some(y)) = (num_of(a), num_of(b)) {
        return num_eq(&x, &y);
    }
    match (a, b) {
        (Constant::None, Constant::None) | (Constant::Ellipsis, Constant::Ellipsis) => true,
        (Constant::Str(x), Constant::Str(y)) => x == y,
        (Constant::Bytes(x), Constant::Bytes(y)) => x == y,
        (Constant::Tuple(x), Constant::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Constant::FrozenSet(x), Constant::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| py_eq(p, q)))
        }
        _ => false,
    }
}

/// `frozenset(items)` of constants: of members equal in Python (`1`, `1.0`, `True`), the
/// first is kept; members stay in insertion order (marshal decides the written order).
pub fn frozenset(items: Vec<Constant>) -> Constant {
    let mut members: Vec<Constant> = Vec::with_capacity(items.len());
    for item in items {
        if !members.iter().any(|m| py_eq(m, &item)) {
            members.push(item);
        }
    }
    Constant::FrozenSet(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Constant {
        Constant::int(i)
    }

    fn pow2(n: u32) -> Constant {
        Constant::Int(BigInt::from(1u8) << n)
    }

    fn s(x: &str) -> Constant {
        Constant::str(x)
    }

    #[test]
    fn size_limits() {
        let mul = |a: &Constant, b: &Constant| binary(Operator::Mult, a, b, PythonVersion::V3_13);
        assert!(mul(&pow2(63), &pow2(63)).is_some());
        assert!(mul(&pow2(64), &pow2(63)).is_none());
        assert_eq!(
            mul(&s("a"), &int(4096)).map(|c| matches!(c, Constant::Str(s) if s.char_len() == 4096)),
            Some(true)
        );
        assert!(mul(&s("a"), &int(4097)).is_none());
        assert!(mul(&int(2049), &s("ab")).is_none());
        assert_eq!(mul(&int(-1), &s("ab")), None);
        assert_eq!(mul(&int(-3), &s("")), Some(s("")));
        let one = Constant::Tuple(vec![int(1)]);
        assert!(mul(&one, &int(256)).is_some());
        assert!(mul(&one, &int(257)).is_none());
        let nested = Constant::Tuple(vec![Constant::Tuple(vec![int(1), int(2), int(3)])]);
        assert!(mul(&nested, &int(256)).is_some());
        let nested4 = Constant::Tuple(vec![Constant::Tuple(vec![int(1), int(2), int(3), int(4)])]);
        assert!(mul(&nested4, &int(256)).is_none());
        let pow = |a: i64, b: i64| binary(Operator::Pow, &int(a), &int(b), PythonVersion::V3_13);
        assert_eq!(pow(2, 64), Some(pow2(64)));
        assert_eq!(pow(2, 128), None);
        assert_eq!(pow(1, 200), None);
        assert_eq!(pow(0, 1000), Some(int(0)));
        assert_eq!(pow(2, -2), Some(Constant::Float(0.25)));
        let shl = |a: i64, b: i64| binary(Operator::LShift, &int(a), &int(b), PythonVersion::V3_13);
        assert_eq!(shl(1, 127), Some(pow2(127)));
        assert_eq!(shl(1, 128), None);
        assert_eq!(shl(0, 1000), Some(int(0)));
        assert_eq!(shl(1, -1), None);
        assert_eq!(
            binary(Operator::Mod, &s("%s"), &int(1), PythonVersion::V3_13),
            None
        );
    }

    #[test]
    fn bool_and_shift_semantics() {
        let t = Constant::Bool(true);
        let f = Constant::Bool(false);
        assert_eq!(
            binary(Operator::BitAnd, &t, &f, PythonVersion::V3_13),
            Some(f.clone())
        );
        assert_eq!(
            binary(Operator::BitOr, &t, &int(2), PythonVersion::V3_13),
            Some(int(3))
        );
        assert_eq!(
            binary(Operator::Add, &t, &t, PythonVersion::V3_13),
            Some(int(2))
        );
        assert_eq!(unary(UnaryOp::Invert, &t), Some(int(-2)));
        assert_eq!(unary(UnaryOp::UAdd, &t), Some(int(1)));
        assert_eq!(unary(UnaryOp::Not, &s("")), Some(t.clone()));
        assert_eq!(
            binary(Operator::RShift, &int(-5), &int(1), PythonVersion::V3_13),
            Some(int(-3))
        );
        assert_eq!(
            binary(Operator::RShift, &int(-5), &pow2(100), PythonVersion::V3_13),
            Some(int(-1))
        );
        assert_eq!(
            binary(Operator::BitAnd, &int(-6), &int(7), PythonVersion::V3_13),
            Some(int(2))
        );
        assert_eq!(
            binary(Operator::BitXor, &int(-1), &int(5), PythonVersion::V3_13),
            Some(int(-6))
        );
    }

    #[test]
    fn subscripts_and_sets() {
        assert_eq!(subscript(&s("abc"), &int(-1)), Some(s("c")));
        assert_eq!(subscript(&s("abc"), &int(3)), None);
        assert_eq!(
            subscript(&Constant::Bytes(b"ab".to_vec()), &Constant::Bool(true)),
            Some(int(98))
        );
        assert_eq!(subscript(&s("abc"), &Constant::Float(1.0)), None);
        let set = frozenset(vec![
            int(1),
            Constant::Float(1.0),
            Constant::Bool(true),
            s("a"),
        ]);
        assert_eq!(set, Constant::FrozenSet(vec![int(1), s("a")]));
    }
}
