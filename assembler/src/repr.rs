//! Python's `repr()` of the constants a code object can hold, as each version prints them.
//!
//! Strings escape the code points that version's `str.isprintable()` rejects, which depends
//! on the Unicode version its `unicodedata` was built with.

use num_bigint::BigInt;
use unicode_general_category::{get_general_category, GeneralCategory};

use crate::code::{CodeObject, Constant, PyStr};
use crate::version::PythonVersion;

pub mod hash;

/// What `repr()` prints for the address of an object; real addresses differ per run.
pub const ADDRESS: &str = "0x0000";

/// The order in which `repr()` lists the members of a frozenset.
///
/// Python lists them in the order of its hash table, which depends on the hashes (for `str`
/// and `bytes` on `PYTHONHASHSEED`) and on the order they were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOrder {
    /// As a Python started with `PYTHONHASHSEED=hash_seed` lists a frozenset that marshal
    /// read (marshal adds the members in their stored order): what `dis` shows for code
    /// loaded from a pyc. Members whose hash depends on their address (`None` before 3.12,
    /// `Ellipsis`, NaN from 3.10) make the order unknowable; such sets keep their stored order.
    Loaded {
        hash_seed: u32,
        /// The kind of build: Pyodide's 32-bit CPython hashes otherwise than native ones.
        build: hash::HashBuild,
    },
    /// The stored order. Up to 3.10 marshal stores a frozenset in its iteration order, so
    /// this is what `dis` shows for the code object that was written (not read back);
    /// 3.11+ stores members sorted by their marshal bytes.
    Stored,
}

impl Default for SetOrder {
    /// Sets as read from a pyc by a Python with hash randomization off (`PYTHONHASHSEED=0`).
    fn default() -> SetOrder {
        SetOrder::Loaded {
            hash_seed: 0,
            build: hash::HashBuild::Native64,
        }
    }
}

/// `repr(c)` as Python `v` prints it, frozensets in the [`SetOrder::default`] order.
pub fn repr(c: &Constant, v: PythonVersion) -> String {
    repr_with(c, v, SetOrder::default())
}

/// `repr(c)` as Python `v` prints it, frozensets in the given order.
pub fn repr_with(c: &Constant, v: PythonVersion, order: SetOrder) -> String {
    let mut out = String::new();
    write_repr(c, v, order, &mut out);
    out
}

fn write_repr(c: &Constant, v: PythonVersion, order: SetOrder, out: &mut String) {
    match c {
        Constant::None => out.push_str("None"),
        Constant::StopIteration => out.push_str("<class 'StopIteration'>"),
        Constant::Ellipsis => out.push_str("Ellipsis"),
        Constant::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Constant::Int(i) => out.push_str(&repr_int(i)),
        Constant::Float(f) => out.push_str(&repr_float(*f)),
        Constant::Complex { re, im } => out.push_str(&repr_complex(*re, *im)),
        Constant::Str(s) => out.push_str(&repr_str(s, v)),
        Constant::Bytes(b) => out.push_str(&repr_bytes(b)),
        Constant::Tuple(items) => {
            out.push('(');
            write_items(items.iter(), v, order, out);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Constant::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
        Constant::FrozenSet(items) => {
            out.push_str("frozenset({");
            let by_hash = match order {
                SetOrder::Loaded { hash_seed, build } => {
                    hash::frozenset_order(items, v, hash_seed, build)
                }
                SetOrder::Stored => None,
            };
            match by_hash {
                Some(pos) => write_items(pos.into_iter().map(|i| &items[i]), v, order, out),
                None => write_items(items.iter(), v, order, out),
            }
            out.push_str("})");
        }
        Constant::Slice(parts) => {
            out.push_str("slice(");
            write_items(parts.iter(), v, order, out);
            out.push(')');
        }
        Constant::Code(code) => out.push_str(&repr_code(code)),
    }
}

fn write_items<'a>(
    items: impl Iterator<Item = &'a Constant>,
    v: PythonVersion,
    order: SetOrder,
    out: &mut String,
) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_repr(item, v, order, out);
    }
}

/// `repr()` of an int.
pub fn repr_int(i: &BigInt) -> String {
    i.to_string()
}

/// `repr()` of a code object, with [`ADDRESS`] for its address.
pub fn repr_code(code: &CodeObject) -> String {
    let line = if code.firstlineno != 0 {
        code.firstlineno as i32
    } else {
        -1
    };
    format!(
        "<code object {} at {ADDRESS}, file \"{}\", line {line}>",
        code.name, code.filename
    )
}

/// `repr()` of a float: the shortest digits that read back to the same value.
pub fn repr_float(x: f64) -> String {
    format_float(x, true, false)
}

/// `repr()` of a complex number.
pub fn repr_complex(re: f64, im: f64) -> String {
    if re == 0.0 && re.is_sign_positive() {
        format!("{}j", format_float(im, false, false))
    } else {
        format!(
            "({}{}j)",
            format_float(re, false, false),
            format_float(im, false, true)
        )
    }
}

/// CPython's `PyOS_double_to_string(x, 'r', 0, flags)`: `add_dot_0` is
/// `Py_DTSF_ADD_DOT_0`, `always_sign` is `Py_DTSF_SIGN`.
fn format_float(x: f64, add_dot_0: bool, always_sign: bool) -> String {
    if x.is_nan() {
        // The sign of a NaN is never shown.
        return if always_sign { "+nan" } else { "nan" }.to_string();
    }
    let sign = if x.is_sign_negative() {
        "-"
    } else if always_sign {
        "+"
    } else {
        ""
    };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    // Python prints the fewest digits that read back to the same value, and of those the
    // nearest that reads back (ties to an even last digit). Rust's `{:e}` finds how many
    // digits are needed but may pick the other neighbour; rounding to exactly that many
    // digits gives the nearest, which is the answer whenever it reads back.
    let shortest = format!("{:e}", x.abs());
    let needed = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.replace('.', "").len());
    let nearest = format!("{:.*e}", needed - 1, x.abs());
    let sci = if nearest.parse() == Ok(x.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|&c| c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let ndigits = digits.len() as i32;
    // The value is 0.DIGITS * 10**decpt.
    let decpt = exp + 1;
    let mut out = String::from(sign);
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (decpt - ndigits) as usize));
        if add_dot_0 {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// `repr()` of a str, with Python's choice of quotes and escapes.
pub fn repr_str(s: &PyStr, v: PythonVersion) -> String {
    let quote = quote_for(s.code_points().filter(|&c| c < 0x80).map(|c| c as u8));
    let mut out = String::with_capacity(s.as_bytes().len() + 2);
    out.push(quote);
    for c in s.code_points() {
        match c {
            0x5c => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            _ if c == quote as u32 => {
                out.push('\\');
                out.push(quote);
            }
            0..=0x1f | 0x7f => out.push_str(&format!("\\x{c:02x}")),
            0x20..=0x7e => out.push(c as u8 as char),
            // Printable code points are never surrogates.
            _ if is_printable(c, v) => out.push(char::from_u32(c).unwrap_or('\u{fffd}')),
            0x80..=0xff => out.push_str(&format!("\\x{c:02x}")),
            0x100..=0xffff => out.push_str(&format!("\\u{c:04x}")),
            _ => out.push_str(&format!("\\U{c:08x}")),
        }
    }
    out.push(quote);
    out
}

/// `repr()` of a bytes object.
pub fn repr_bytes(b: &[u8]) -> String {
    let quote = quote_for(b.iter().copied());
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if c == quote as u8 => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote);
    out
}

/// Double quotes only when the text has a single quote and no double quote.
fn quote_for(ascii: impl Iterator<Item = u8>) -> char {
    let (mut single, mut double) = (false, false);
    for b in ascii {
        single |= b == b'\'';
        double |= b == b'"';
    }
    if single && !double {
        '"'
    } else {
        '\''
    }
}

/// The Unicode version of `unicodedata` in each CPython version, as `major * 10 + minor`.
/// 3.15 has Unicode 17.0, but our category data stops at 16.0: code points new in 17.0
/// count as unassigned.
fn unicode_version(v: PythonVersion) -> u8 {
    match v.minor() {
        8 => 121,
        9 | 10 => 130,
        11 => 140,
        12 => 150,
        13 => 151,
        14 => 160,
        _ => 170,
    }
}

/// `chr(c).isprintable()` in Python `v`: false for the general categories Cc, Cf, Cs, Co,
/// Cn, Zl, Zp and Zs (except the space), where code points that version's Unicode had not
/// yet assigned count as Cn.
pub fn is_printable(c: u32, v: PythonVersion) -> bool {
    let Some(ch) = char::from_u32(c) else {
        return false; // a surrogate
    };
    use GeneralCategory::*;
    let printable = match get_general_category(ch) {
        Control | Format | Surrogate | PrivateUse | Unassigned | LineSeparator
        | ParagraphSeparator => false,
        SpaceSeparator => c == 0x20,
        _ => true,
    };
    printable && assigned_by(c) <= unicode_version(v)
}

/// The Unicode version (`major * 10 + minor`) that assigned a printable code point, for
/// those assigned after Unicode 12.1 (older ones give 0).
fn assigned_by(c: u32) -> u8 {
    match LATE_PRINTABLE.binary_search_by(|&(lo, hi, _)| {
        if hi < c {
            std::cmp::Ordering::Less
        } else if lo > c {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    }) {
        Ok(i) => LATE_PRINTABLE[i].2,
        Err(_) => 0,
    }
}

/// Printable code points assigned in Unicode 13.0 to 16.0 (the version of the general
/// category data we use), as `(first, last, major * 10 + minor)`, sorted. Derived from
/// `str.isprintable()` of CPython 3.8 to 3.13 and the category data; Unicode changed no
/// other code point's printability in between.
#[rustfmt::skip]
static LATE_PRINTABLE: &[(u32, u32, u8)] = &[
    (0x61d, 0x61d, 140), (0x870, 0x88e, 140), (0x897, 0x897, 160), (0x898, 0x89f, 140),
    (0x8b5, 0x8b5, 140), (0x8be, 0x8c7, 130), (0x8c8, 0x8d2, 140), (0xb55, 0xb55, 130),
    (0xc3c, 0xc3c, 140), (0xc5d, 0xc5d, 140), (0xcdd, 0xcdd, 140), (0xcf3, 0xcf3, 150),
    (0xd04, 0xd04, 130), (0xd81, 0xd81, 130), (0xece, 0xece, 150), (0x170d, 0x170d, 140),
    (0x1715, 0x1715, 140), (0x171f, 0x171f, 140), (0x180f, 0x180f, 140), (0x1abf, 0x1ac0, 130),
    (0x1ac1, 0x1ace, 140), (0x1b4c, 0x1b4c, 140), (0x1b4e, 0x1b4f, 160), (0x1b7d, 0x1b7e, 140),
    (0x1b7f, 0x1b7f, 160), (0x1c89, 0x1c8a, 160), (0x1dfa, 0x1dfa, 140), (0x20c0, 0x20c0, 140),
    (0x2427, 0x2429, 160), (0x2b97, 0x2b97, 130), (0x2c2f, 0x2c2f, 140), (0x2c5f, 0x2c5f, 140),
    (0x2e50, 0x2e52, 130), (0x2e53, 0x2e5d, 140), (0x2ffc, 0x2fff, 151), (0x31bb, 0x31bf, 130),
    (0x31e4, 0x31e5, 160), (0x31ef, 0x31ef, 151), (0x4db6, 0x4dbf, 130), (0x9ff0, 0x9ffc, 130),
    (0x9ffd, 0x9fff, 140), (0xa7c0, 0xa7c1, 140), (0xa7c7, 0xa7ca, 130), (0xa7cb, 0xa7cd, 160),
    (0xa7d0, 0xa7d1, 140), (0xa7d3, 0xa7d3, 140), (0xa7d5, 0xa7d9, 140), (0xa7da, 0xa7dc, 160),
    (0xa7f2, 0xa7f4, 140), (0xa7f5, 0xa7f6, 130), (0xa82c, 0xa82c, 130), (0xab68, 0xab6b, 130),
    (0xfbc2, 0xfbc2, 140), (0xfd40, 0xfd4f, 140), (0xfdcf, 0xfdcf, 140), (0xfdfe, 0xfdff, 140),
    (0x1019c, 0x1019c, 130), (0x10570, 0x1057a, 140), (0x1057c, 0x1058a, 140), (0x1058c, 0x10592, 140),
    (0x10594, 0x10595, 140), (0x10597, 0x105a1, 140), (0x105a3, 0x105b1, 140), (0x105b3, 0x105b9, 140),
    (0x105bb, 0x105bc, 140), (0x105c0, 0x105f3, 160), (0x10780, 0x10785, 140), (0x10787, 0x107b0, 140),
    (0x107b2, 0x107ba, 140), (0x10d40, 0x10d65, 160), (0x10d69, 0x10d85, 160), (0x10d8e, 0x10d8f, 160),
    (0x10e80, 0x10ea9, 130), (0x10eab, 0x10ead, 130), (0x10eb0, 0x10eb1, 130), (0x10ec2, 0x10ec4, 160),
    (0x10efc, 0x10efc, 160), (0x10efd, 0x10eff, 150), (0x10f70, 0x10f89, 140), (0x10fb0, 0x10fcb, 130),
    (0x11070, 0x11075, 140), (0x110c2, 0x110c2, 140), (0x11147, 0x11147, 130), (0x111ce, 0x111cf, 130),
    (0x1123f, 0x11241, 150), (0x11380, 0x11389, 160), (0x1138b, 0x1138b, 160), (0x1138e, 0x1138e, 160),
    (0x11390, 0x113b5, 160), (0x113b7, 0x113c0, 160), (0x113c2, 0x113c2, 160), (0x113c5, 0x113c5, 160),
    (0x113c7, 0x113ca, 160), (0x113cc, 0x113d5, 160), (0x113d7, 0x113d8, 160), (0x113e1, 0x113e2, 160),
    (0x1145a, 0x1145a, 130), (0x11460, 0x11461, 130), (0x116b9, 0x116b9, 140), (0x116d0, 0x116e3, 160),
    (0x11740, 0x11746, 140), (0x11900, 0x11906, 130), (0x11909, 0x11909, 130), (0x1190c, 0x11913, 130),
    (0x11915, 0x11916, 130), (0x11918, 0x11935, 130), (0x11937, 0x11938, 130), (0x1193b, 0x11946, 130),
    (0x11950, 0x11959, 130), (0x11ab0, 0x11abf, 140), (0x11b00, 0x11b09, 150), (0x11bc0, 0x11be1, 160),
    (0x11bf0, 0x11bf9, 160), (0x11f00, 0x11f10, 150), (0x11f12, 0x11f3a, 150), (0x11f3e, 0x11f59, 150),
    (0x11f5a, 0x11f5a, 160), (0x11fb0, 0x11fb0, 130), (0x12f90, 0x12ff2, 140), (0x1342f, 0x1342f, 150),
    (0x13440, 0x13455, 150), (0x13460, 0x143fa, 160), (0x16100, 0x16139, 160), (0x16a70, 0x16abe, 140),
    (0x16ac0, 0x16ac9, 140), (0x16d40, 0x16d79, 160), (0x16fe4, 0x16fe4, 130), (0x16ff0, 0x16ff1, 130),
    (0x18af3, 0x18cd5, 130), (0x18cff, 0x18cff, 160), (0x18d00, 0x18d08, 130), (0x1aff0, 0x1aff3, 140),
    (0x1aff5, 0x1affb, 140), (0x1affd, 0x1affe, 140), (0x1b11f, 0x1b122, 140), (0x1b132, 0x1b132, 150),
    (0x1b155, 0x1b155, 150), (0x1cc00, 0x1ccf9, 160), (0x1cd00, 0x1ceb3, 160), (0x1cf00, 0x1cf2d, 140),
    (0x1cf30, 0x1cf46, 140), (0x1cf50, 0x1cfc3, 140), (0x1d1e9, 0x1d1ea, 140), (0x1d2c0, 0x1d2d3, 150),
    (0x1df00, 0x1df1e, 140), (0x1df25, 0x1df2a, 150), (0x1e030, 0x1e06d, 150), (0x1e08f, 0x1e08f, 150),
    (0x1e290, 0x1e2ae, 140), (0x1e4d0, 0x1e4f9, 150), (0x1e5d0, 0x1e5fa, 160), (0x1e5ff, 0x1e5ff, 160),
    (0x1e7e0, 0x1e7e6, 140), (0x1e7e8, 0x1e7eb, 140), (0x1e7ed, 0x1e7ee, 140), (0x1e7f0, 0x1e7fe, 140),
    (0x1f10d, 0x1f10f, 130), (0x1f16d, 0x1f16f, 130), (0x1f1ad, 0x1f1ad, 130), (0x1f6d6, 0x1f6d7, 130),
    (0x1f6dc, 0x1f6dc, 150), (0x1f6dd, 0x1f6df, 140), (0x1f6fb, 0x1f6fc, 130), (0x1f774, 0x1f776, 150),
    (0x1f77b, 0x1f77f, 150), (0x1f7d9, 0x1f7d9, 150), (0x1f7f0, 0x1f7f0, 140), (0x1f8b0, 0x1f8b1, 130),
    (0x1f8b2, 0x1f8bb, 160), (0x1f8c0, 0x1f8c1, 160), (0x1f90c, 0x1f90c, 130), (0x1f972, 0x1f972, 130),
    (0x1f977, 0x1f978, 130), (0x1f979, 0x1f979, 140), (0x1f9a3, 0x1f9a4, 130), (0x1f9ab, 0x1f9ad, 130),
    (0x1f9cb, 0x1f9cb, 130), (0x1f9cc, 0x1f9cc, 140), (0x1fa74, 0x1fa74, 130), (0x1fa75, 0x1fa77, 150),
    (0x1fa7b, 0x1fa7c, 140), (0x1fa83, 0x1fa86, 130), (0x1fa87, 0x1fa88, 150), (0x1fa89, 0x1fa89, 160),
    (0x1fa8f, 0x1fa8f, 160), (0x1fa96, 0x1faa8, 130), (0x1faa9, 0x1faac, 140), (0x1faad, 0x1faaf, 150),
    (0x1fab0, 0x1fab6, 130), (0x1fab7, 0x1faba, 140), (0x1fabb, 0x1fabd, 150), (0x1fabe, 0x1fabe, 160),
    (0x1fabf, 0x1fabf, 150), (0x1fac0, 0x1fac2, 130), (0x1fac3, 0x1fac5, 140), (0x1fac6, 0x1fac6, 160),
    (0x1face, 0x1facf, 150), (0x1fad0, 0x1fad6, 130), (0x1fad7, 0x1fad9, 140), (0x1fada, 0x1fadb, 150),
    (0x1fadc, 0x1fadc, 160), (0x1fadf, 0x1fadf, 160), (0x1fae0, 0x1fae7, 140), (0x1fae8, 0x1fae8, 150),
    (0x1fae9, 0x1fae9, 160), (0x1faf0, 0x1faf6, 140), (0x1faf7, 0x1faf8, 150), (0x1fb00, 0x1fb92, 130),
    (0x1fb94, 0x1fbca, 130), (0x1fbcb, 0x1fbef, 160), (0x1fbf0, 0x1fbf9, 130), (0x2a6d7, 0x2a6dd, 130),
    (0x2a6de, 0x2a6df, 140), (0x2b735, 0x2b738, 140), (0x2b739, 0x2b739, 150), (0x2ebf0, 0x2ee5d, 151),
    (0x30000, 0x3134a, 130), (0x31350, 0x323af, 150),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Locals;

    const V38: PythonVersion = PythonVersion::V3_8;
    const V311: PythonVersion = PythonVersion::V3_11;
    const V312: PythonVersion = PythonVersion::V3_12;

    #[test]
    fn floats() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
            // An exact tie between two shortest strings goes to the even digit.
            (809_625_706_530.0 + 5.0 / 32.0, "809625706530.1562"),
            // Below a power of two the gap is narrower: only the upper neighbour reads back.
            (2f64.powi(-24), "5.960464477539063e-08"),
        ];
        for (x, want) in cases {
            assert_eq!(repr_float(x), want, "{x:e}");
        }
    }

    #[test]
    fn complex() {
        let cases = [
            (0.0, 1.0, "1j"),
            (0.0, -1.5, "-1.5j"),
            (1.0, 2.0, "(1+2j)"),
            (-0.0, -1.0, "(-0-1j)"),
            (0.0, -0.0, "-0j"),
            (-0.0, 0.0, "(-0+0j)"),
            (f64::NAN, f64::INFINITY, "(nan+infj)"),
            (1.0, f64::NAN, "(1+nanj)"),
            (1e16, 1e-5, "(1e+16+1e-05j)"),
        ];
        for (re, im, want) in cases {
            assert_eq!(repr_complex(re, im), want);
        }
    }

    #[test]
    fn ints() {
        let big: BigInt = "-123456789012345678901234567890".parse().unwrap();
        assert_eq!(
            repr(&Constant::Int(big), V311),
            "-123456789012345678901234567890"
        );
        assert_eq!(repr(&Constant::int(0), V311), "0");
        assert_eq!(repr(&Constant::Bool(true), V311), "True");
    }

    #[test]
    fn strings() {
        let s = |t: &str| repr_str(&PyStr::from(t), V311);
        assert_eq!(s(""), "''");
        assert_eq!(s("it's"), "\"it's\"");
        assert_eq!(s("'\""), "'\\'\"'");
        assert_eq!(s("a\\b\t\n\r\x00\x7f"), "'a\\\\b\\t\\n\\r\\x00\\x7f'");
        assert_eq!(
            s("é\u{a0}\u{2028} \u{e0001}\u{10ffff}"),
            "'é\\xa0\\u2028 \\U000e0001\\U0010ffff'"
        );
        let lone = PyStr::from_code_points([0x61, 0xd800, 0xdfff]);
        assert_eq!(repr_str(&lone, V311), "'a\\ud800\\udfff'");
    }

    #[test]
    fn printable_follows_the_unicode_version() {
        // U+061D was assigned in Unicode 14.0, U+1FAE8 in Unicode 15.0.
        let s = PyStr::from("\u{61d}\u{1fae8}");
        assert_eq!(repr_str(&s, V38), "'\\u061d\\U0001fae8'");
        assert_eq!(repr_str(&s, V311), "'\u{61d}\\U0001fae8'");
        assert_eq!(repr_str(&s, V312), "'\u{61d}\u{1fae8}'");
        assert!(is_printable(0x41, V38));
        assert!(!is_printable(0x3000, V38));
        assert!(!is_printable(0xe000, PythonVersion::V3_13));
    }

    #[test]
    fn bytes() {
        assert_eq!(repr_bytes(b""), "b''");
        assert_eq!(repr_bytes(b"a'b"), "b\"a'b\"");
        assert_eq!(repr_bytes(b"'\""), "b'\\'\"'");
        assert_eq!(
            repr_bytes(b"\x00\t\x7f\x80\xff~\\"),
            "b'\\x00\\t\\x7f\\x80\\xff~\\\\'"
        );
    }

    #[test]
    fn containers() {
        let t = |items: Vec<Constant>| repr(&Constant::Tuple(items), V311);
        assert_eq!(t(vec![]), "()");
        assert_eq!(t(vec![Constant::int(1)]), "(1,)");
        assert_eq!(
            t(vec![Constant::str("a"), Constant::None, Constant::Ellipsis]),
            "('a', None, Ellipsis)"
        );
        assert_eq!(repr(&Constant::FrozenSet(vec![]), V311), "frozenset()");
        let ints = Constant::FrozenSet([5, 3, 1].into_iter().map(Constant::int).collect());
        assert_eq!(repr(&ints, V311), "frozenset({1, 3, 5})");
        assert_eq!(
            repr_with(&ints, V311, SetOrder::Stored),
            "frozenset({5, 3, 1})"
        );
        let fs = Constant::FrozenSet(vec![Constant::int(1), Constant::Float(2.0)]);
        assert_eq!(repr(&fs, V311), "frozenset({1, 2.0})");
        assert_eq!(
            repr(
                &Constant::Tuple(vec![fs, Constant::Bytes(b"x".to_vec())]),
                V311
            ),
            "(frozenset({1, 2.0}), b'x')"
        );
    }

    #[test]
    fn code() {
        let code = CodeObject {
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            stacksize: 0,
            flags: 0,
            code: vec![],
            consts: vec![],
            names: vec![],
            locals: Locals::Plus(vec![]),
            filename: PyStr::from("a/b.py"),
            name: PyStr::from("<lambda>"),
            qualname: None,
            firstlineno: 7,
            linetable: vec![],
            exceptiontable: vec![],
        };
        assert_eq!(
            repr(&Constant::Code(Box::new(code)), V311),
            format!("<code object <lambda> at {ADDRESS}, file \"a/b.py\", line 7>")
        );
    }
}
