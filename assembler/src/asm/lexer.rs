//! The tokens of the assembly text, lexed with `logos`. Statements are lines, so newlines are
//! tokens; comments run from `#` to the end of the line.

use logos::Logos;

/// One token kind; its text is the slice of the source at its span.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
#[logos(skip r"[ \t\r\f]+")]
pub enum Tok {
    /// A comment, to the end of the line (skipped by [`lex`]).
    #[token("#", rest_of_line)]
    Comment,
    #[token("\n")]
    Newline,
    /// `.version`, `.code`, `.line`, ...
    #[regex(r"\.[A-Za-z_][A-Za-z0-9_]*")]
    Directive,
    /// Identifiers and dotted names (`print`, `os.path`, `LOAD_CONST`).
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")]
    Word,
    /// `<module>`, `<lambda>`: code object names.
    #[regex(r"<[A-Za-z_][A-Za-z0-9_]*>")]
    Angle,
    /// Decimal, hexadecimal, octal or binary integers.
    #[regex(r"[0-9][0-9_]*")]
    #[regex(r"0[xX][0-9a-fA-F_]+")]
    #[regex(r"0[oO][0-7_]+")]
    #[regex(r"0[bB][01_]+")]
    Int,
    #[regex(r"[0-9][0-9_]*\.[0-9_]*([eE][+-]?[0-9]+)?")]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+")]
    Float,
    /// An imaginary literal such as `2j` or `1.5e3j`.
    #[regex(r"[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?[jJ]")]
    Imag,
    /// A str literal in single or double quotes (no triple quotes, no raw strings).
    #[token("'", |lex| quoted(lex, b'\''))]
    #[token("\"", |lex| quoted(lex, b'"'))]
    Str,
    /// A bytes literal: `b'...'`.
    #[token("b'", |lex| quoted(lex, b'\''))]
    #[token("b\"", |lex| quoted(lex, b'"'))]
    #[token("B'", |lex| quoted(lex, b'\''))]
    #[token("B\"", |lex| quoted(lex, b'"'))]
    Bytes,
    /// Operators: comparison and binary operator symbols, `-`, `+`, `@`, `->`, `/`, `*`, `**`.
    #[regex(r"[<>=!+\-*/%&|^~@]+")]
    Op,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
}

/// Consumes the rest of a quoted literal up to its closing `quote` (a loop, where a regex
/// would make the generated lexer recurse once per character). Fails at a line end.
fn quoted(lex: &mut logos::Lexer<Tok>, quote: u8) -> bool {
    let rest = lex.remainder().as_bytes();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' if rest.get(i + 1).is_some_and(|&c| c != b'\n') => i += 2,
            b'\n' | b'\\' => break,
            c if c == quote => {
                lex.bump(i + 1);
                return true;
            }
            _ => i += 1,
        }
    }
    false
}

fn rest_of_line(lex: &mut logos::Lexer<Tok>) -> logos::Skip {
    let n = lex.remainder().find('\n').unwrap_or(lex.remainder().len());
    lex.bump(n);
    logos::Skip
}

/// A token with its byte span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

/// Lexes the whole text. Characters that start no token come back as `Err(span)`.
pub fn lex(text: &str) -> Vec<Result<Token, (usize, usize)>> {
    let mut lexer = Tok::lexer(text);
    let mut out = Vec::new();
    while let Some(kind) = lexer.next() {
        let span = lexer.span();
        out.push(match kind {
            Ok(kind) => Ok(Token {
                kind,
                start: span.start,
                end: span.end,
            }),
            Err(()) => Err((span.start, span.end)),
        });
    }
    out
}

/// Decodes the body of a str or bytes literal (without prefix and quotes): Python's escapes
/// `\\ \' \" \a \b \f \n \r \t \v \0-\777 \xhh`, and for str also `\uXXXX`, `\UXXXXXXXX`
/// (surrogates allowed). Returns code points (bytes for bytes literals), or the byte offset
/// within `body` and a message.
pub fn unescape(body: &str, bytes: bool) -> Result<Vec<u32>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            if bytes && !c.is_ascii() {
                return Err((i, "bytes literals hold ASCII characters only".into()));
            }
            out.push(c as u32);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err((i, "unfinished escape".into()));
        };
        let simple = match e {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s as u32);
            continue;
        }
        let mut hex = |n: usize| -> Result<u32, (usize, String)> {
            let mut v = 0u32;
            for _ in 0..n {
                match chars.next().and_then(|(_, h)| h.to_digit(16)) {
                    Some(d) => v = v * 16 + d,
                    None => return Err((i, format!("\\{e} needs {n} hex digits"))),
                }
            }
            Ok(v)
        };
        let value = match e {
            'x' => hex(2)?,
            'u' if !bytes => hex(4)?,
            'U' if !bytes => {
                let v = hex(8)?;
                if v > 0x10ffff {
                    return Err((i, format!("\\U{v:08x} is beyond U+10FFFF")));
                }
                v
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|&(_, d)| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                if bytes && v > 0xff {
                    return Err((i, "octal escape beyond \\377".into()));
                }
                v
            }
            _ => return Err((i, format!("unknown escape \\{e}"))),
        };
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        lex(text).into_iter().map(|t| t.unwrap().kind).collect()
    }

    #[test]
    fn tokens() {
        use Tok::*;
        assert_eq!(
            kinds("L1: LOAD_CONST 'hi' # comment\n"),
            [Word, Colon, Word, Str, Newline]
        );
        assert_eq!(
            kinds(".line 3:4-3:10"),
            [Directive, Int, Colon, Int, Op, Int, Colon, Int]
        );
        assert_eq!(kinds("<lambda> < <= ->"), [Angle, Op, Op, Op]);
        assert_eq!(
            kinds("1.5 2j 1e10 0x1f b'x'"),
            [Float, Imag, Float, Int, Bytes]
        );
        assert_eq!(kinds("os.path"), [Word]);
        assert!(lex("$").iter().all(|t| t.is_err()));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            unescape(r"a\n\x41\u00e9\udc80\101", false).unwrap(),
            [0x61, 10, 0x41, 0xe9, 0xdc80, 0o101]
        );
        assert!(unescape(r"\q", false).is_err());
        assert!(unescape(r"\u12", false).is_err());
        assert!(unescape("é", true).is_err());
        assert!(unescape(r"\u1234", true).is_err());
    }
}
