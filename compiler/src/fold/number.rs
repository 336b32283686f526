//! Python's arithmetic on `int`, `float` and `complex`, bit for bit as CPython computes it:
//! `int` → `float` conversion and `int / int` correctly rounded (`PyLong_AsDouble`,
//! `long_true_divide`), floor division and modulo with the divisor's sign (`_float_div_mod`),
//! `float_pow`'s special cases, and `complex`'s Smith division and integer powers by repeated
//! squaring. Transcendental functions come from the platform's libm, as CPython's do.
//!
//! Every operation returns `None` where CPython raises (`ZeroDivisionError`, `OverflowError`,
//! `ValueError`, `TypeError`): the folder then leaves the expression alone.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// A number as an operand: `bool` counts as `int`.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Num {
    Int(BigInt),
    Float(f64),
    Complex(Complex),
}

/// A `complex` value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Complex {
    pub re: f64,
    pub im: f64,
}

const C_ONE: Complex = Complex { re: 1.0, im: 0.0 };

/// The binary arithmetic operators on numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    TrueDiv,
    FloorDiv,
    Mod,
    Pow,
}

/// `x * 2**e` for an integral `x >= 0` with at most 64 significant bits, exact whenever the
/// result is representable (the callers round `x` first); infinite on overflow.
fn ldexp(x: f64, e: i64) -> f64 {
    let pow2 = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    if e > 1023 {
        x * pow2(1023) * pow2((e - 1023).min(1023))
    } else if e < -1022 {
        // `x * 2**-1022` stays normal for `x >= 1`; the second step is the only rounding one.
        x * pow2(-1022) * pow2((e + 1022).max(-1022))
    } else {
        x * pow2(e)
    }
}

/// `float(i)` (`PyLong_AsDouble`): correctly rounded, half to even; `None` on overflow.
pub(super) fn int_to_f64(i: &BigInt) -> Option<f64> {
    let mag = i.magnitude();
    let bits = mag.bits();
    let f = if bits <= 64 {
        mag.to_u64()? as f64
    } else {
        let shift = bits - 64;
        let top = (mag >> shift).to_u64()?;
        // Bits shifted out only matter as a "sticky" bit below the rounding position.
        let sticky = mag.trailing_zeros().is_some_and(|tz| tz < shift);
        if shift > 1023 {
            return None;
        }
        ldexp((top | sticky as u64) as f64, shift as i64)
    };
    if f.is_infinite() {
        return None;
    }
    Some(if i.is_negative() { -f } else { f })
}

/// `a / b` on ints (`long_true_divide`): the correctly rounded quotient, however large the
/// operands; `None` on division by zero or when the quotient overflows a float.
pub(super) fn int_true_div(a: &BigInt, b: &BigInt) -> Option<f64> {
    const MANT_DIG: i64 = 53;
    const MIN_EXP: i64 = -1021;
    const MAX_EXP: i64 = 1024;
    if b.is_zero() {
        return None;
    }
    let negative = a.is_negative() != b.is_negative();
    let signed = |x: f64| if negative { -x } else { x };
    let (a, b) = (a.magnitude(), b.magnitude());
    if a.is_zero() {
        return Some(signed(0.0));
    }
    let diff = a.bits() as i64 - b.bits() as i64;
    if diff > MAX_EXP {
        return None;
    }
    if diff < MIN_EXP - MANT_DIG - 1 {
        return Some(signed(0.0));
    }
    // x = a / (b * 2**shift), truncated, with two or three bits beyond the result's
    // precision (more in the subnormal range) and a flag for a nonzero remainder.
    let shift = diff.max(MIN_EXP) - MANT_DIG - 2;
    let (mut x, inexact) = if shift >= 0 {
        let lost = a.trailing_zeros().is_some_and(|tz| tz < shift as u64);
        let n = a >> shift as u64;
        let (q, r) = (&n / b, &n % b);
        (q, lost || !r.is_zero())
    } else {
        let n = a << (-shift) as u64;
        let (q, r) = (&n / b, &n % b);
        (q, !r.is_zero())
    };
    if inexact {
        x |= num_bigint::BigUint::from(1u8);
    }
    let extra = (x.bits() as i64).max(MIN_EXP - shift) - MANT_DIG;
    let mut x = x.to_u64()?;
    if extra > 0 {
        let unit = 1u64 << extra;
        let low = x & (unit - 1);
        let half = unit >> 1;
        x -= low;
        if low > half || (low == half && x & unit != 0) {
            x += unit;
        }
    }
    let q = ldexp(x as f64, shift);
    if q.is_infinite() {
        return None;
    }
    Some(signed(q))
}

/// Floor division and modulo on ints; `None` for a zero divisor.
pub(super) fn int_divmod(a: &BigInt, b: &BigInt) -> Option<(BigInt, BigInt)> {
    if b.is_zero() {
        return None;
    }
    let (mut q, mut r) = (a / b, a % b);
    if !r.is_zero() && r.is_negative() != b.is_negative() {
        q -= 1;
        r += b;
    }
    Some((q, r))
}

/// `fmod(|x|, 2) == 1`: `x` is an odd integer (for finite `x`).
fn is_odd_integer(x: f64) -> bool {
    x.abs() % 2.0 == 1.0
}

/// What `float_pow` answers.
pub(super) enum FloatPow {
    Value(f64),
    /// A negative base with a fractional exponent: CPython hands both operands to
    /// `complex.__pow__`.
    Complex,
    Error,
}

/// `float.__pow__` on two floats.
pub(super) fn float_pow(iv: f64, iw: f64) -> FloatPow {
    use FloatPow::*;
    if iw == 0.0 {
        return Value(1.0);
    }
    if iv.is_nan() {
        return Value(iv);
    }
    if iw.is_nan() {
        return Value(if iv == 1.0 { 1.0 } else { iw });
    }
    if iw.is_infinite() {
        let av = iv.abs();
        return Value(if av == 1.0 {
            1.0
        } else if (iw > 0.0) == (av > 1.0) {
            iw.abs()
        } else {
            0.0
        });
    }
    if iv.is_infinite() {
        let odd = is_odd_integer(iw);
        return Value(match (iw > 0.0, odd) {
            (true, true) => iv,
            (true, false) => iv.abs(),
            (false, true) => 0.0f64.copysign(iv),
            (false, false) => 0.0,
        });
    }
    if iv == 0.0 {
        if iw < 0.0 {
            return Error;
        }
        return Value(if is_odd_integer(iw) { iv } else { 0.0 });
    }
    let mut base = iv;
    let mut negate = false;
    if iv < 0.0 {
        if iw != iw.floor() {
            return Complex;
        }
        base = -iv;
        negate = is_odd_integer(iw);
    }
    if base == 1.0 {
        return Value(if negate { -1.0 } else { 1.0 });
    }
    let ix = base.powf(iw);
    // `_Py_ADJUST_ERANGE1`: an infinite result is an overflow; underflow is not an error.
    if ix.is_infinite() {
        return Error;
    }
    Value(if negate { -ix } else { ix })
}

/// `(x // y, x % y)` on floats (`_float_div_mod`); `None` for a zero divisor.
pub(super) fn float_divmod(vx: f64, wx: f64) -> Option<(f64, f64)> {
    if wx == 0.0 {
        return None;
    }
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0f64.copysign(vx / wx)
    };
    Some((floordiv, m))
}

/// `x % y` on floats (`float_rem`), which does not go through `_float_div_mod`.
fn float_rem(vx: f64, wx: f64) -> Option<f64> {
    if wx == 0.0 {
        return None;
    }
    let m = vx % wx;
    Some(if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m + wx
        } else {
            m
        }
    } else {
        0.0f64.copysign(wx)
    })
}

fn c_prod(a: Complex, b: Complex) -> Complex {
    Complex {
        re: a.re * b.re - a.im * b.im,
        im: a.re * b.im + a.im * b.re,
    }
}

/// `_Py_c_quot`: Smith's algorithm; `None` (CPython's `EDOM`) for a zero divisor.
fn c_quot(a: Complex, b: Complex) -> Option<Complex> {
    let (abs_re, abs_im) = (b.re.abs(), b.im.abs());
    if abs_re >= abs_im {
        if abs_re == 0.0 {
            return None;
        }
        let ratio = b.im / b.re;
        let denom = b.re + b.im * ratio;
        Some(Complex {
            re: (a.re + a.im * ratio) / denom,
            im: (a.im - a.re * ratio) / denom,
        })
    } else if abs_im >= abs_re {
        let ratio = b.re / b.im;
        let denom = b.re * ratio + b.im;
        Some(Complex {
            re: (a.re * ratio + a.im) / denom,
            im: (a.im * ratio - a.re) / denom,
        })
    } else {
        // At least one part of the divisor is a NaN.
        Some(Complex {
            re: f64::NAN,
            im: f64::NAN,
        })
    }
}

/// `_Py_c_pow`; `None` where CPython sets `EDOM`.
fn c_pow(a: Complex, b: Complex) -> Option<Complex> {
    if b.re == 0.0 && b.im == 0.0 {
        return Some(C_ONE);
    }
    if a.re == 0.0 && a.im == 0.0 {
        if b.im != 0.0 || b.re < 0.0 {
            return None;
        }
        return Some(Complex { re: 0.0, im: 0.0 });
    }
    let vabs = a.re.hypot(a.im);
    let mut len = vabs.powf(b.re);
    let at = a.im.atan2(a.re);
    let mut phase = at * b.re;
    if b.im != 0.0 {
        len /= (at * b.im).exp();
        phase += b.im * vabs.ln();
    }
    // libm's cos and sin of an infinity set EDOM.
    if phase.is_infinite() {
        return None;
    }
    Some(Complex {
        re: len * phase.cos(),
        im: len * phase.sin(),
    })
}

/// `c_powu`: a power by a positive integer, by repeated squaring.
fn c_powu(x: Complex, n: i64) -> Complex {
    let (mut r, mut p, mut mask) = (C_ONE, x, 1i64);
    while mask > 0 && n >= mask {
        if n & mask != 0 {
            r = c_prod(r, p);
        }
        mask <<= 1;
        p = c_prod(p, p);
    }
    r
}

/// `complex.__pow__`: small integral exponents by squaring, the rest by `_Py_c_pow`; `None`
/// on `ZeroDivisionError` or on overflow (an infinite part).
fn complex_pow(a: Complex, b: Complex) -> Option<Complex> {
    let p = if b.im == 0.0 && b.re == b.re.floor() && b.re.abs() <= 100.0 {
        let n = b.re as i64;
        if n > 0 {
            c_powu(a, n)
        } else {
            c_quot(C_ONE, c_powu(a, -n))?
        }
    } else {
        c_pow(a, b)?
    };
    (!p.re.is_infinite() && !p.im.is_infinite()).then_some(p)
}

fn to_float(n: &Num) -> Option<f64> {
    match n {
        Num::Int(i) => int_to_f64(i),
        Num::Float(f) => Some(*f),
        Num::Complex(_) => None,
    }
}

fn to_complex(n: &Num) -> Option<Complex> {
    match n {
        Num::Complex(c) => Some(*c),
        other => Some(Complex {
            re: to_float(other)?,
            im: 0.0,
        }),
    }
}

/// `a <op> b` on numbers as `PyNumber_<op>` computes it (without the folder's size limits,
/// which the caller applies first); `real_mixed`: a real operand of a complex one counts as
/// real (3.14+).
pub(super) fn arith(op: Arith, a: &Num, b: &Num, real_mixed: bool) -> Option<Num> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_arith(op, x, y),
        (Num::Complex(c), Num::Complex(d)) => complex_arith(op, *c, *d).map(Num::Complex),
        (Num::Complex(c), r) if real_mixed && op != Arith::Pow => {
            cr_arith(op, *c, to_float(r)?).map(Num::Complex)
        }
        (r, Num::Complex(c)) if real_mixed && op != Arith::Pow => {
            rc_arith(op, to_float(r)?, *c).map(Num::Complex)
        }
        (Num::Complex(_), _) | (_, Num::Complex(_)) => {
            complex_arith(op, to_complex(a)?, to_complex(b)?).map(Num::Complex)
        }
        _ => match float_arith(op, to_float(a)?, to_float(b)?)? {
            FloatPow::Value(f) => Some(Num::Float(f)),
            FloatPow::Complex => complex_pow(to_complex(a)?, to_complex(b)?).map(Num::Complex),
            FloatPow::Error => None,
        },
    }
}

fn int_arith(op: Arith, x: &BigInt, y: &BigInt) -> Option<Num> {
    Some(Num::Int(match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::TrueDiv => return int_true_div(x, y).map(Num::Float),
        Arith::FloorDiv => int_divmod(x, y)?.0,
        Arith::Mod => int_divmod(x, y)?.1,
        Arith::Pow => {
            if y.is_negative() {
                // `long_pow` hands negative exponents to `float.__pow__`.
                return match float_pow(int_to_f64(x)?, int_to_f64(y)?) {
                    FloatPow::Value(f) => Some(Num::Float(f)),
                    FloatPow::Complex | FloatPow::Error => None,
                };
            }
            match (x.to_i64(), y.to_u32()) {
                (Some(0), _) => BigInt::from(y.is_zero() as u8),
                (Some(1), _) => BigInt::from(1u8),
                (Some(-1), _) => BigInt::from(if y.bit(0) { -1 } else { 1 }),
                (_, Some(e)) => x.pow(e),
                // The folder's size limits keep anything larger away.
                (_, None) => return None,
            }
        }
    }))
}

fn float_arith(op: Arith, x: f64, y: f64) -> Option<FloatPow> {
    Some(FloatPow::Value(match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::TrueDiv => {
            if y == 0.0 {
                return None;
            }
            x / y
        }
        Arith::FloorDiv => float_divmod(x, y)?.0,
        Arith::Mod => float_rem(x, y)?,
        Arith::Pow => return Some(float_pow(x, y)),
    }))
}

fn complex_arith(op: Arith, a: Complex, b: Complex) -> Option<Complex> {
    match op {
        Arith::Add => Some(Complex {
            re: a.re + b.re,
            im: a.im + b.im,
        }),
        Arith::Sub => Some(Complex {
            re: a.re - b.re,
            im: a.im - b.im,
        }),
        Arith::Mul => Some(c_prod(a, b)),
        Arith::TrueDiv => c_quot(a, b),
        Arith::Pow => complex_pow(a, b),
        // "can't take floor of complex number", "can't mod complex numbers".
        Arith::FloorDiv | Arith::Mod => None,
    }
}

/// 3.14+ `complex <op> real` (`_Py_cr_sum` and kin).
fn cr_arith(op: Arith, a: Complex, r: f64) -> Option<Complex> {
    let (re, im) = match op {
        Arith::Add => (a.re + r, a.im),
        Arith::Sub => (a.re - r, a.im),
        Arith::Mul => (a.re * r, a.im * r),
        Arith::TrueDiv if r == 0.0 => return None,
        Arith::TrueDiv => (a.re / r, a.im / r),
        Arith::Pow | Arith::FloorDiv | Arith::Mod => return complex_arith(op, a, to_c(r)),
    };
    Some(Complex { re, im })
}

/// 3.14+ `real <op> complex` (`_Py_rc_diff`, `_Py_rc_quot` and kin).
fn rc_arith(op: Arith, r: f64, b: Complex) -> Option<Complex> {
    let (re, im) = match op {
        Arith::Add => (r + b.re, b.im),
        Arith::Sub => (r - b.re, -b.im),
        Arith::Mul => (r * b.re, r * b.im),
        Arith::TrueDiv => return rc_quot(r, b),
        Arith::Pow | Arith::FloorDiv | Arith::Mod => return complex_arith(op, to_c(r), b),
    };
    Some(Complex { re, im })
}

fn to_c(r: f64) -> Complex {
    Complex { re: r, im: 0.0 }
}

/// `_Py_rc_quot`: Smith's division of a real by a complex number.
fn rc_quot(a: f64, b: Complex) -> Option<Complex> {
    let (abs_re, abs_im) = (b.re.abs(), b.im.abs());
    if abs_re >= abs_im {
        if abs_re == 0.0 {
            return None;
        }
        let ratio = b.im / b.re;
        let denom = b.re + b.im * ratio;
        Some(Complex {
            re: a / denom,
            im: (-a * ratio) / denom,
        })
    } else if abs_im >= abs_re {
        let ratio = b.re / b.im;
        let denom = b.re * ratio + b.im;
        Some(Complex {
            re: (a * ratio) / denom,
            im: (-a) / denom,
        })
    } else {
        Some(Complex {
            re: f64::NAN,
            im: f64::NAN,
        })
    }
}

/// Python's `==` between numbers of any kinds: exact, never through a rounded conversion.
pub(super) fn num_eq(a: &Num, b: &Num) -> bool {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x == y,
        (Num::Float(x), Num::Float(y)) => x == y,
        (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => int_eq_float(i, *f),
        (Num::Complex(c), other) | (other, Num::Complex(c)) => match other {
            Num::Complex(d) => c.re == d.re && c.im == d.im,
            Num::Float(f) => c.im == 0.0 && c.re == *f,
            Num::Int(i) => c.im == 0.0 && int_eq_float(i, c.re),
        },
    }
}

fn int_eq_float(i: &BigInt, f: f64) -> bool {
    // An integral finite float converts to an int exactly.
    f.is_finite()
        && f == f.trunc()
        && <BigInt as num_traits::FromPrimitive>::from_f64(f).as_ref() == Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(s: &str) -> BigInt {
        s.parse().expect("valid int")
    }

    #[test]
    fn int_to_float_rounds_half_even() {
        assert_eq!(
            int_to_f64(&big("9007199254740993")),
            Some(9007199254740992.0)
        );
        assert_eq!(
            int_to_f64(&big("9007199254740995")),
            Some(9007199254740996.0)
        );
        // 2**64 + 2**11 + 1: above the halfway point only through the low bit.
        let x = (BigInt::from(1u8) << 64u32) + BigInt::from(2049);
        assert_eq!(int_to_f64(&x), Some(18446744073709555712.0));
        assert_eq!(int_to_f64(&-big("1000")), Some(-1000.0));
        assert_eq!(int_to_f64(&(BigInt::from(1u8) << 1024u32)), None);
        // Just below 2**1024 rounds up to it: overflow.
        let near = (BigInt::from(1u8) << 1024u32) - BigInt::from(1u8);
        assert_eq!(int_to_f64(&near), None);
        let x = (BigInt::from(3u8) << 1022u32) / 2;
        assert_eq!(int_to_f64(&x), Some(0.75 * 2f64.powi(1023)));
    }

    #[test]
    fn true_division_is_correctly_rounded() {
        let ten = BigInt::from(10u8);
        assert_eq!(int_true_div(&ten.pow(400), &ten.pow(399)), Some(10.0));
        assert_eq!(
            int_true_div(&BigInt::from(1), &BigInt::from(3)),
            Some(1.0 / 3.0)
        );
        assert_eq!(
            int_true_div(&BigInt::from(0), &BigInt::from(-5)).map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(int_true_div(&BigInt::from(1), &BigInt::from(0)), None);
        assert_eq!(int_true_div(&ten.pow(400), &BigInt::from(1)), None);
        // The smallest subnormal, and half of it (which rounds to even: zero).
        let two = BigInt::from(2u8);
        assert_eq!(int_true_div(&BigInt::from(1), &two.pow(1074)), Some(5e-324));
        assert_eq!(int_true_div(&BigInt::from(1), &two.pow(1075)), Some(0.0));
        assert_eq!(int_true_div(&BigInt::from(3), &two.pow(1075)), Some(1e-323));
        assert_eq!(int_true_div(&big("-7"), &BigInt::from(2)), Some(-3.5));
    }

    #[test]
    fn floor_semantics() {
        let d = |a: i64, b: i64| int_divmod(&BigInt::from(a), &BigInt::from(b));
        assert_eq!(d(-7, 2), Some((BigInt::from(-4), BigInt::from(1))));
        assert_eq!(d(7, -2), Some((BigInt::from(-4), BigInt::from(-1))));
        assert_eq!(d(1, 0), None);
        assert_eq!(float_divmod(-7.5, 2.0), Some((-4.0, 0.5)));
        assert_eq!(
            float_divmod(0.0, -1.0).map(|(q, m)| (q.to_bits(), m.to_bits())),
            Some(((-0.0f64).to_bits(), (-0.0f64).to_bits()))
        );
        assert_eq!(float_rem(-1.0, 3.0), Some(2.0));
    }

    /// 3.14+: `1 - 0j` is `(1-0j)`, a real operand keeping the sign of the zero.
    #[test]
    fn mixed_complex_arithmetic() {
        let one = Num::Int(BigInt::from(1));
        let zero_j = Num::Complex(Complex { re: 0.0, im: 0.0 });
        let im = |real| match arith(Arith::Sub, &one, &zero_j, real) {
            Some(Num::Complex(c)) => c.im.to_bits(),
            other => panic!("{other:?}"),
        };
        assert_eq!(im(true), (-0.0f64).to_bits());
        assert_eq!(im(false), 0.0f64.to_bits());
    }

    #[test]
    fn powers() {
        let pow = |a: Num, b: Num| arith(Arith::Pow, &a, &b, false);
        assert_eq!(
            pow(Num::Int(BigInt::from(2)), Num::Int(BigInt::from(-1))),
            Some(Num::Float(0.5))
        );
        assert_eq!(
            pow(Num::Int(BigInt::from(0)), Num::Int(BigInt::from(-1))),
            None
        );
        assert_eq!(pow(Num::Float(0.0), Num::Float(-1.0)), None);
        assert_eq!(
            pow(Num::Float(-1.0), Num::Float(f64::INFINITY)),
            Some(Num::Float(1.0))
        );
        assert_eq!(pow(Num::Float(10.0), Num::Float(400.0)), None);
        assert!(matches!(
            pow(Num::Int(BigInt::from(-8)), Num::Float(1.0 / 3.0)),
            Some(Num::Complex(_))
        ));
        let j = Num::Complex(Complex { re: 0.0, im: 1.0 });
        assert_eq!(
            pow(j.clone(), Num::Int(BigInt::from(2))),
            Some(Num::Complex(Complex { re: -1.0, im: 0.0 }))
        );
        assert_eq!(
            pow(
                Num::Complex(Complex { re: 0.0, im: 0.0 }),
                Num::Int(BigInt::from(-1))
            ),
            None
        );
    }

    #[test]
    fn exact_equality() {
        let two53 = BigInt::from(1u64 << 53);
        assert!(num_eq(
            &Num::Int(two53.clone()),
            &Num::Float(9007199254740992.0)
        ));
        assert!(!num_eq(
            &Num::Int(two53 + 1),
            &Num::Float(9007199254740992.0)
        ));
        assert!(num_eq(
            &Num::Complex(Complex { re: 1.0, im: 0.0 }),
            &Num::Int(BigInt::from(1))
        ));
        assert!(!num_eq(&Num::Float(f64::NAN), &Num::Float(f64::NAN)));
    }
}
