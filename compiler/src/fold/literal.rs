//! The constant a literal node stands for, exactly: big ints from their digits, and strings
//! with the lone surrogates (`'\udc80'`) that ruff's decoded values replace by U+FFFD.

use num_bigint::BigInt;
use pyc_assembler::{Constant, PyStr};
use ruff_python_ast::{Expr, ExprStringLiteral, Int, Number};

/// The constant of a literal node (number, string, bytes, `True`/`False`, `None`, `...`), or
/// `None` for any other expression. `source` is the text the node was parsed from.
pub fn literal(expr: &Expr, source: &str) -> Option<Constant> {
    Some(match expr {
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => Constant::Int(int_value(i)?),
            Number::Float(f) => Constant::Float(*f),
            Number::Complex { real, imag } => Constant::Complex {
                re: *real,
                im: *imag,
            },
        },
        Expr::StringLiteral(s) => Constant::Str(string_value(s, source)),
        Expr::BytesLiteral(b) => Constant::Bytes(b.value.bytes().collect()),
        Expr::BooleanLiteral(b) => Constant::Bool(b.value),
        Expr::NoneLiteral(_) => Constant::None,
        Expr::EllipsisLiteral(_) => Constant::Ellipsis,
        _ => return None,
    })
}

/// Whether `expr` is a literal node (CPython's `Constant` straight from the parser).
pub fn is_literal(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
    )
}

/// An int literal's value; ruff keeps the token's text for those beyond 64 bits.
fn int_value(i: &Int) -> Option<BigInt> {
    if let Some(small) = i.as_u64() {
        return Some(BigInt::from(small));
    }
    let text: String = i.to_string().chars().filter(|&c| c != '_').collect();
    let lower = text.to_ascii_lowercase();
    let (digits, radix) = match lower.get(..2) {
        Some("0x") => (&lower[2..], 16),
        Some("0o") => (&lower[2..], 8),
        Some("0b") => (&lower[2..], 2),
        _ => (&lower[..], 10),
    };
    BigInt::parse_bytes(digits.as_bytes(), radix)
}

/// A string literal's value. Parts whose decoded value holds U+FFFD are decoded again from
/// the source, since ruff stands U+FFFD in for escaped lone surrogates.
fn string_value(s: &ExprStringLiteral, source: &str) -> PyStr {
    if !s.value.iter().any(|p| p.value.contains('\u{fffd}')) {
        return PyStr::from(s.value.to_str());
    }
    let mut points = Vec::new();
    for part in s.value.iter() {
        let exact = (part.value.contains('\u{fffd}') && !part.flags.prefix().is_raw())
            .then(|| {
                source.get(
                    part.content_range().start().to_usize()..part.content_range().end().to_usize(),
                )
            })
            .flatten()
            .and_then(decode_escapes);
        match exact {
            Some(p) => points.extend(p),
            None => points.extend(part.value.chars().map(u32::from)),
        }
    }
    PyStr::from_code_points(points)
}

/// Decodes the body of a non-raw string literal into code points, as CPython's
/// `decode_unicode_with_escapes`; `None` for `\N{...}` (left to ruff's decoding) or a
/// malformed escape.
pub fn decode_escapes(body: &str) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v * 16 + chars.next()?.to_digit(16)?;
        }
        Some(v)
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u32);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\' as u32);
            break;
        };
        match e {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(e as u32),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(10),
            'r' => out.push(13),
            't' => out.push(9),
            'v' => out.push(11),
            '0'..='7' => {
                let mut v = e as u32 - '0' as u32;
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(v);
            }
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8).filter(|&v| v <= 0x10ffff)?),
            'N' => return None,
            other => {
                out.push('\\' as u32);
                out.push(other as u32);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruff_python_ast::Stmt;

    fn value_of(src: &str) -> Option<Constant> {
        let parsed = ruff_python_parser::parse_module(src).expect("valid");
        match &parsed.syntax().body[0] {
            Stmt::Expr(e) => literal(&e.value, src),
            _ => None,
        }
    }

    #[test]
    fn literals() {
        assert_eq!(
            value_of("0x_ffff_ffff_ffff_ffff_ff"),
            Some(Constant::Int(BigInt::from(0x00ff_ffff_ffff_ffff_ffff_u128)))
        );
        assert_eq!(
            value_of("1_000_000_000_000_000_000_000"),
            Some(Constant::Int(
                "1000000000000000000000".parse().expect("int")
            ))
        );
        assert_eq!(value_of("0b1"), Some(Constant::int(1)));
        assert_eq!(
            value_of("2.5j"),
            Some(Constant::Complex { re: 0.0, im: 2.5 })
        );
        assert_eq!(
            value_of("b'a\\x00'"),
            Some(Constant::Bytes(b"a\0".to_vec()))
        );
        assert_eq!(value_of("..."), Some(Constant::Ellipsis));
        assert_eq!(value_of("'a' 'b'"), Some(Constant::str("ab")));
    }

    #[test]
    fn lone_surrogates_survive() {
        let expected = PyStr::from_code_points([0x61, 0xdc80, 0x62, 0xfffd, 0x1f600]);
        assert_eq!(
            value_of("'a\\udc80' 'b\\ufffd\\U0001F600'"),
            Some(Constant::Str(expected))
        );
        assert_eq!(
            value_of("r'\\udc80' '\\udc80'"),
            Some(Constant::Str(PyStr::from_code_points(
                "\\udc80".chars().map(u32::from).chain([0xdc80])
            )))
        );
        assert_eq!(
            value_of("'\\101\\0\\777\\\n!'"),
            Some(Constant::Str(PyStr::from_code_points([65, 0, 0o777, 33])))
        );
    }
}
