//! Code objects and the constants CPython stores in them, for every supported layout.

use std::fmt;

use num_bigint::BigInt;

/// A Python `str`, held as the bytes marshal writes for it: UTF-8, where lone surrogates
/// (`'\udc80'`, legal in Python strings) are encoded as three bytes as with `surrogatepass`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PyStr(Box<[u8]>);

impl PyStr {
    /// Wraps bytes in marshal's encoding. Fails when they do not decode to code points
    /// (UTF-8 that allows surrogates).
    pub fn from_marshal_bytes(bytes: &[u8]) -> Option<PyStr> {
        decode_code_points(bytes)
            .all(|c| c.is_some())
            .then(|| PyStr(bytes.into()))
    }

    /// Builds a string from code points (each at most 0x10FFFF; surrogates allowed).
    pub fn from_code_points(points: impl IntoIterator<Item = u32>) -> PyStr {
        let mut out = Vec::new();
        for c in points {
            encode_code_point(c, &mut out);
        }
        PyStr(out.into())
    }

    /// Builds a string from Latin-1 bytes (marshal's ASCII forms are a subset).
    pub fn from_latin1(bytes: &[u8]) -> PyStr {
        Self::from_code_points(bytes.iter().map(|&b| b as u32))
    }

    /// The bytes marshal writes for this string.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The string as Rust text, unless it holds lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The text, with each lone surrogate replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        self.code_points()
            .map(|c| char::from_u32(c).unwrap_or('\u{fffd}'))
            .collect()
    }

    /// The code points of the string, as Python indexes them.
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        decode_code_points(&self.0).map(|c| c.expect("PyStr holds valid code points"))
    }

    /// `len(s)` in Python.
    pub fn char_len(&self) -> usize {
        self.code_points().count()
    }

    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> PyStr {
        PyStr(s.as_bytes().into())
    }
}

impl From<String> for PyStr {
    fn from(s: String) -> PyStr {
        PyStr(s.into_bytes().into_boxed_slice())
    }
}

impl fmt::Display for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

fn encode_code_point(c: u32, out: &mut Vec<u8>) {
    match c {
        0..=0x7f => out.push(c as u8),
        0x80..=0x7ff => out.extend([0xc0 | (c >> 6) as u8, 0x80 | (c & 0x3f) as u8]),
        0x800..=0xffff => out.extend([
            0xe0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ]),
        _ => out.extend([
            0xf0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3f) as u8,
            0x80 | ((c >> 6) & 0x3f) as u8,
            0x80 | (c & 0x3f) as u8,
        ]),
    }
}

/// Decodes UTF-8 that may hold encoded surrogates; `None` marks an invalid sequence (and
/// ends the iteration).
fn decode_code_points(bytes: &[u8]) -> impl Iterator<Item = Option<u32>> + '_ {
    let mut i = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || i >= bytes.len() {
            return None;
        }
        let b0 = bytes[i] as u32;
        let (len, min, init) = match b0 {
            0x00..=0x7f => (1, 0, b0),
            0xc2..=0xdf => (2, 0x80, b0 & 0x1f),
            0xe0..=0xef => (3, 0x800, b0 & 0x0f),
            0xf0..=0xf4 => (4, 0x10000, b0 & 0x07),
            _ => {
                failed = true;
                return Some(None);
            }
        };
        if i + len > bytes.len() {
            failed = true;
            return Some(None);
        }
        let mut c = init;
        for &b in &bytes[i + 1..i + len] {
            if b & 0xc0 != 0x80 {
                failed = true;
                return Some(None);
            }
            c = (c << 6) | (b as u32 & 0x3f);
        }
        if c < min || c > 0x10ffff {
            failed = true;
            return Some(None);
        }
        i += len;
        Some(Some(c))
    })
}

/// A constant as CPython stores it in `co_consts` (and as marshal reads it).
#[derive(Clone, Debug)]
pub enum Constant {
    None,
    /// `StopIteration`, which marshal can carry (never in a compiled code object).
    StopIteration,
    Ellipsis,
    Bool(bool),
    Int(BigInt),
    Float(f64),
    Complex {
        re: f64,
        im: f64,
    },
    Str(PyStr),
    Bytes(Vec<u8>),
    Tuple(Vec<Constant>),
    /// Members in the order they were read or will be written; compared as a set.
    FrozenSet(Vec<Constant>),
    /// A slice object, `start`, `stop` and `step` (3.14+, which folds constant slices and
    /// marshals them).
    Slice(Box<[Constant; 3]>),
    Code(Box<CodeObject>),
}

impl Constant {
    pub fn str(s: &str) -> Constant {
        Constant::Str(PyStr::from(s))
    }

    pub fn int(i: i64) -> Constant {
        Constant::Int(BigInt::from(i))
    }

    /// A short name of the constant's Python type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Constant::None => "NoneType",
            Constant::StopIteration => "type",
            Constant::Ellipsis => "ellipsis",
            Constant::Bool(_) => "bool",
            Constant::Int(_) => "int",
            Constant::Float(_) => "float",
            Constant::Complex { .. } => "complex",
            Constant::Str(_) => "str",
            Constant::Bytes(_) => "bytes",
            Constant::Tuple(_) => "tuple",
            Constant::FrozenSet(_) => "frozenset",
            Constant::Slice(_) => "slice",
            Constant::Code(_) => "code",
        }
    }
}

/// Equality as CPython's code comparison sees constants: exact types, floats by bit pattern
/// (so `-0.0 != 0.0` and `nan == nan`), frozensets as sets.
impl PartialEq for Constant {
    fn eq(&self, other: &Constant) -> bool {
        use Constant::*;
        match (self, other) {
            (None, None) | (StopIteration, StopIteration) | (Ellipsis, Ellipsis) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Complex { re: a, im: b }, Complex { re: c, im: d }) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            (Str(a), Str(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Tuple(a), Tuple(b)) => a == b,
            // Members of a set are distinct, so with equal sizes one inclusion suffices; the
            // in-order check first keeps nested frozensets linear.
            (FrozenSet(a), FrozenSet(b)) => {
                a.len() == b.len() && (a == b || a.iter().all(|x| b.contains(x)))
            }
            (Slice(a), Slice(b)) => a == b,
            (Code(a), Code(b)) => a == b,
            _ => false,
        }
    }
}

/// `co_flags` bits.
pub mod flags {
    pub const OPTIMIZED: u32 = 0x1;
    pub const NEWLOCALS: u32 = 0x2;
    pub const VARARGS: u32 = 0x4;
    pub const VARKEYWORDS: u32 = 0x8;
    pub const NESTED: u32 = 0x10;
    pub const GENERATOR: u32 = 0x20;
    /// Only up to 3.10.
    pub const NOFREE: u32 = 0x40;
    pub const COROUTINE: u32 = 0x80;
    pub const ITERABLE_COROUTINE: u32 = 0x100;
    pub const ASYNC_GENERATOR: u32 = 0x200;
}

/// `co_localspluskinds` bits (3.11+).
pub mod local_kind {
    /// 3.12+: a comprehension variable hidden from `locals()`.
    pub const HIDDEN: u8 = 0x10;
    pub const LOCAL: u8 = 0x20;
    pub const CELL: u8 = 0x40;
    pub const FREE: u8 = 0x80;
}

/// One entry of `co_localsplusnames` with its kind byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPlus {
    pub name: PyStr,
    pub kind: u8,
}

/// The local variables of a code object, in the layout of its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locals {
    /// 3.8–3.10. An argument that is also a cell appears in both `varnames` and `cellvars`.
    Split {
        nlocals: u32,
        varnames: Vec<PyStr>,
        cellvars: Vec<PyStr>,
        freevars: Vec<PyStr>,
    },
    /// 3.11+: `co_localsplusnames` and `co_localspluskinds`.
    Plus(Vec<LocalPlus>),
}

/// A code object: every field marshal stores, in one model for both layouts.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeObject {
    pub argcount: u32,
    pub posonlyargcount: u32,
    pub kwonlyargcount: u32,
    pub stacksize: u32,
    pub flags: u32,
    /// `co_code`, including `CACHE` units from 3.11.
    pub code: Vec<u8>,
    pub consts: Vec<Constant>,
    pub names: Vec<PyStr>,
    pub locals: Locals,
    pub filename: PyStr,
    pub name: PyStr,
    /// `co_qualname` (3.11+); `None` before.
    pub qualname: Option<PyStr>,
    pub firstlineno: u32,
    /// `co_lnotab` (3.8, 3.9), `co_linetable` (3.10) or the location table (3.11+).
    pub linetable: Vec<u8>,
    /// `co_exceptiontable` (3.11+); empty before.
    pub exceptiontable: Vec<u8>,
}

impl CodeObject {
    fn plus_names(&self, pick: impl Fn(u8) -> bool) -> Vec<PyStr> {
        match &self.locals {
            Locals::Plus(l) => l
                .iter()
                .filter(|l| pick(l.kind))
                .map(|l| l.name.clone())
                .collect(),
            Locals::Split { .. } => unreachable!(),
        }
    }

    /// `co_varnames`.
    pub fn varnames(&self) -> Vec<PyStr> {
        match &self.locals {
            Locals::Split { varnames, .. } => varnames.clone(),
            Locals::Plus(_) => self.plus_names(|k| k & local_kind::LOCAL != 0),
        }
    }

    /// `co_cellvars`.
    pub fn cellvars(&self) -> Vec<PyStr> {
        match &self.locals {
            Locals::Split { cellvars, .. } => cellvars.clone(),
            Locals::Plus(_) => self.plus_names(|k| k & local_kind::CELL != 0),
        }
    }

    /// `co_freevars`.
    pub fn freevars(&self) -> Vec<PyStr> {
        match &self.locals {
            Locals::Split { freevars, .. } => freevars.clone(),
            Locals::Plus(_) => self.plus_names(|k| k & local_kind::FREE != 0),
        }
    }

    /// `co_nlocals`.
    pub fn nlocals(&self) -> u32 {
        match &self.locals {
            Locals::Split { nlocals, .. } => *nlocals,
            Locals::Plus(l) => l.iter().filter(|l| l.kind & local_kind::LOCAL != 0).count() as u32,
        }
    }

    /// `co_qualname`, or `co_name` for versions without one.
    pub fn qualname_or_name(&self) -> &PyStr {
        self.qualname.as_ref().unwrap_or(&self.name)
    }

    /// The code objects nested in `co_consts`, in order (not recursive).
    pub fn nested_code(&self) -> impl Iterator<Item = &CodeObject> {
        self.consts.iter().filter_map(|c| match c {
            Constant::Code(c) => Some(&**c),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogates_survive() {
        let s = PyStr::from_code_points([0x61, 0xdc80, 0x1f600]);
        assert_eq!(s.as_str(), None);
        assert_eq!(
            s.code_points().collect::<Vec<_>>(),
            vec![0x61, 0xdc80, 0x1f600]
        );
        assert_eq!(PyStr::from_marshal_bytes(s.as_bytes()), Some(s.clone()));
        assert_eq!(s.char_len(), 3);
        assert!(PyStr::from_marshal_bytes(b"\xff").is_none());
        assert!(PyStr::from_marshal_bytes(b"\xc0\x80").is_none());
    }

    #[test]
    fn constant_equality_is_python_code_equality() {
        assert_ne!(Constant::Float(0.0), Constant::Float(-0.0));
        assert_eq!(Constant::Float(f64::NAN), Constant::Float(f64::NAN));
        assert_ne!(Constant::int(1), Constant::Bool(true));
        let a = Constant::FrozenSet(vec![Constant::int(1), Constant::str("a")]);
        let b = Constant::FrozenSet(vec![Constant::str("a"), Constant::int(1)]);
        assert_eq!(a, b);
    }
}
