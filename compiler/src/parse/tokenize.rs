//! The errors CPython's tokenizer raises, found by a scan that follows its rules: indentation
//! (`IndentationError`, `TabError`), brackets, string and number literals, invalid characters
//! and line continuations. The AST comes from ruff; this scan only decides which tokenizer
//! error CPython would meet, and where.

use pyc_assembler::PythonVersion;

use crate::diagnostic::{Diagnostic, ErrorKind};

/// CPython's limits: indentation levels and nested brackets.
const MAX_INDENT: usize = 100;
const MAX_PAREN_LEVEL: usize = 200;

/// A tokenizer error and where the scan met it.
#[derive(Clone, Debug)]
pub(crate) struct TokError {
    pub diag: Diagnostic,
    /// Byte offset where the tokenizer stops: the parser has consumed the tokens before it.
    pub offset: usize,
    /// The tokenizer raises it as an exception at once (3.10+ then prefers it to any parser
    /// error, as it tokenizes the rest of the source after a parser error).
    pub raises: bool,
}

/// What the scan found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scan {
    pub error: Option<TokError>,
    /// The innermost bracket still open at the end of the source: (bracket, line, column).
    pub unclosed: Option<(char, u32, u32)>,
}

/// Scans `text` as CPython `v`'s tokenizer would, up to its first error.
pub(crate) fn scan(text: &str, v: PythonVersion) -> Scan {
    let mut t = Tokenizer {
        text,
        b: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        v,
        indents: vec![(0, 0)],
        parens: Vec::new(),
        last_token_end: 0,
        tok_start: 0,
    };
    let error = t.run().err();
    let unclosed = if error.is_none() {
        t.parens
            .last()
            .map(|&(c, line, line_start, at)| (c as char, line, t.col_from(line_start, at)))
    } else {
        None
    };
    // The source ends inside brackets: the parser meets the end of the input there.
    let error = error.or_else(|| {
        let (open, line, col) = unclosed?;
        let (line, col, message) = if v.precise_tokenizer_errors() {
            (line, col, format!("'{open}' was never closed"))
        } else {
            // The line of the last token's end: the newlines before it, counted only here.
            let at = t.last_token_end;
            let before = &text.as_bytes()[..at.min(text.len())];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u32;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let col = t.col_from(line_start, at);
            (line, col, "unexpected EOF while parsing".to_string())
        };
        Some(TokError {
            diag: Diagnostic::new(ErrorKind::SyntaxError, message, line, col),
            offset: text.len(),
            raises: false,
        })
    });
    Scan { error, unclosed }
}

struct Tokenizer<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    v: PythonVersion,
    /// Indentation stack: (column with tabs to multiples of 8, column with tabs as 1).
    indents: Vec<(u32, u32)>,
    /// Open brackets: (bracket, line, its line's start, byte offset). Columns are counted only
    /// when reported, so that long lines stay linear.
    parens: Vec<(u8, u32, usize, usize)>,
    /// Byte offset where the last token ended (comments, newlines and line continuations are
    /// not tokens here). Its line is counted only when an error reports it.
    last_token_end: usize,
    /// Where the token being read starts.
    tok_start: usize,
}

type Step = Result<(), TokError>;

fn is_ident_byte(c: u8) -> bool {
    IDENT_BYTES[usize::from(c)]
}

/// Bytes that may be part of a name: ASCII letters, digits, `_`, and any byte of a non-ASCII
/// character.
static IDENT_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        c += 1;
    }
    table
};

/// Python's `str.isprintable()` for the characters that matter here: controls, format
/// characters, separators other than the space, and private or unassigned code points.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || u == 0x1680
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x206f).contains(&u)
        || u == 0x3000
        || (0xd800..=0xf8ff).contains(&u)
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || (0xf0000..).contains(&u))
}

impl Tokenizer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.b.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// The 1-based character column of byte `at` on the current line.
    fn col(&self, at: usize) -> u32 {
        self.col_from(self.line_start, at)
    }

    /// The 1-based character column of byte `at` on the line starting at `line_start`.
    fn col_from(&self, line_start: usize, at: usize) -> u32 {
        let start = line_start.min(at);
        self.text
            .get(start..at)
            .map_or(0, |s| s.chars().count() as u32)
            + 1
    }

    fn error(
        &self,
        kind: ErrorKind,
        message: String,
        line: u32,
        col: u32,
        raises: bool,
    ) -> TokError {
        TokError {
            diag: Diagnostic::new(kind, message, line, col),
            offset: self.tok_start,
            raises,
        }
    }

    fn syntax(&self, message: impl Into<String>, at: usize) -> TokError {
        self.error(
            ErrorKind::SyntaxError,
            message.into(),
            self.line,
            self.col(at),
            true,
        )
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    fn run(&mut self) -> Step {
        let mut at_line_start = true;
        while self.pos <= self.b.len() {
            if at_line_start && self.parens.is_empty() {
                self.indentation()?;
            }
            at_line_start = false;
            while matches!(self.peek(0), b' ' | b'\t' | b'\x0c') {
                self.pos += 1;
            }
            if self.pos >= self.b.len() {
                return Ok(());
            }
            self.tok_start = self.pos;
            let c = self.peek(0);
            match c {
                b'#' => {
                    self.skip_to_newline();
                    continue;
                }
                b'\n' => {
                    self.newline();
                    at_line_start = true;
                    continue;
                }
                b'\\' => match self.peek(1) {
                    b'\n' => {
                        self.pos += 1;
                        self.newline();
                        if self.pos >= self.b.len() {
                            return Err(self.error(
                                ErrorKind::SyntaxError,
                                "unexpected EOF while parsing".into(),
                                self.line - 1,
                                self.col(self.pos),
                                false,
                            ));
                        }
                        continue;
                    }
                    0 if self.pos + 1 >= self.b.len() => {
                        let at = self.pos;
                        self.pos += 1;
                        return Err(self.error(
                            ErrorKind::SyntaxError,
                            "unexpected EOF while parsing".into(),
                            self.line,
                            self.col(at),
                            false,
                        ));
                    }
                    _ => {
                        let at = self.pos + 1;
                        return Err(self.error(
                            ErrorKind::SyntaxError,
                            "unexpected character after line continuation character".into(),
                            self.line,
                            self.col(at),
                            false,
                        ));
                    }
                },
                b'\'' | b'"' => self.string(self.pos, false)?,
                b'0'..=b'9' => self.number()?,
                b'.' if self.peek(1).is_ascii_digit() => self.number()?,
                b'(' | b'[' | b'{' => {
                    if self.parens.len() >= MAX_PAREN_LEVEL {
                        return Err(self.syntax("too many nested parentheses", self.pos));
                    }
                    self.parens.push((c, self.line, self.line_start, self.pos));
                    self.pos += 1;
                }
                b')' | b']' | b'}' => {
                    let Some((open, line, _, _)) = self.parens.pop() else {
                        return Err(self.syntax(format!("unmatched '{}'", c as char), self.pos));
                    };
                    let expected = match open {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    if c != expected {
                        let mut msg = format!(
                            "closing parenthesis '{}' does not match opening parenthesis '{}'",
                            c as char, open as char
                        );
                        if line != self.line {
                            msg.push_str(&format!(" on line {line}"));
                        }
                        return Err(self.syntax(msg, self.pos));
                    }
                    self.pos += 1;
                }
                c if is_ident_byte(c) => self.identifier()?,
                c if c < 0x20 || c == 0x7f => {
                    if self.v.precise_tokenizer_errors() {
                        return Err(self.syntax(
                            format!("invalid non-printable character U+{:04X}", c),
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
            // Comments, newlines and continuations `continue` above: this ends a token.
            self.last_token_end = self.pos;
        }
        Ok(())
    }

    /// Measures a line's indentation and checks it against the stack, as CPython does for
    /// lines that hold a token.
    fn indentation(&mut self) -> Step {
        self.tok_start = self.pos;
        // Most indentation is spaces only: count them at once.
        let rest = self.b.get(self.pos..).unwrap_or_default();
        let spaces = rest.iter().take_while(|&&b| b == b' ').count();
        self.pos += spaces;
        let (mut col, mut alt) = (spaces as u32, spaces as u32);
        loop {
            match self.peek(0) {
                b' ' => {
                    col += 1;
                    alt += 1;
                }
                b'\t' => {
                    col = (col / 8 + 1) * 8;
                    alt += 1;
                }
                b'\x0c' => {
                    col = 0;
                    alt = 0;
                }
                _ => break,
            }
            self.pos += 1;
        }
        if matches!(self.peek(0), b'#' | b'\n' | b'\\') || self.pos >= self.b.len() {
            return Ok(());
        }
        let tab_error = |t: &Self| {
            t.error(
                ErrorKind::TabError,
                "inconsistent use of tabs and spaces in indentation".into(),
                t.line,
                t.col(t.pos),
                false,
            )
        };
        let &(top, top_alt) = self.indents.last().unwrap_or(&(0, 0));
        if col == top {
            if alt != top_alt {
                return Err(tab_error(self));
            }
        } else if col > top {
            if self.indents.len() >= MAX_INDENT {
                return Err(self.error(
                    ErrorKind::IndentationError,
                    "too many levels of indentation".into(),
                    self.line,
                    self.col(self.pos),
                    false,
                ));
            }
            if alt <= top_alt {
                return Err(tab_error(self));
            }
            self.indents.push((col, alt));
        } else {
            while self.indents.len() > 1 && self.indents.last().is_some_and(|&(c, _)| col < c) {
                self.indents.pop();
            }
            let &(top, top_alt) = self.indents.last().unwrap_or(&(0, 0));
            if col != top {
                return Err(self.error(
                    ErrorKind::IndentationError,
                    "unindent does not match any outer indentation level".into(),
                    self.line,
                    self.col(self.pos),
                    false,
                ));
            }
            if alt != top_alt {
                return Err(tab_error(self));
            }
        }
        Ok(())
    }

    /// Moves to the end of the line (a comment's end).
    fn skip_to_newline(&mut self) {
        let rest = self.b.get(self.pos..).unwrap_or_default();
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    fn identifier(&mut self) -> Step {
        let start = self.pos;
        // String prefixes: any of b, r, u, f in the combinations CPython accepts.
        let (mut saw_b, mut saw_r, mut saw_u, mut saw_f) = (false, false, false, false);
        loop {
            let c = self.peek(0).to_ascii_lowercase();
            let ok = match c {
                b'b' if !saw_b && !saw_u && !saw_f => {
                    saw_b = true;
                    true
                }
                b'r' if !saw_r && !saw_u => {
                    saw_r = true;
                    true
                }
                b'u' if !saw_b && !saw_r && !saw_u && !saw_f => {
                    saw_u = true;
                    true
                }
                b'f' if !saw_f && !saw_b && !saw_u => {
                    saw_f = true;
                    true
                }
                _ => false,
            };
            if !ok {
                break;
            }
            self.pos += 1;
            if matches!(self.peek(0), b'\'' | b'"') {
                return self.string(start, saw_f);
            }
        }
        let rest = self.b.get(self.pos..).unwrap_or_default();
        self.pos += rest
            .iter()
            .position(|&b| !is_ident_byte(b))
            .unwrap_or(rest.len());
        let word = &self.text[start..self.pos];
        // An ASCII name is valid: it starts with a letter or `_` (digits start numbers).
        if word.is_ascii() {
            return Ok(());
        }
        let bad = word.char_indices().find(|&(i, c)| {
            if i == 0 {
                !(c == '_' || unicode_ident::is_xid_start(c))
            } else {
                !unicode_ident::is_xid_continue(c)
            }
        });
        if let Some((i, c)) = bad {
            let at = start + i;
            let msg = if !self.v.names_invalid_characters() {
                "invalid character in identifier".to_string()
            } else if is_printable(c) {
                format!("invalid character '{c}' (U+{:04X})", c as u32)
            } else {
                format!("invalid non-printable character U+{:04X}", c as u32)
            };
            self.pos = at;
            return Err(self.syntax(msg, at));
        }
        Ok(())
    }

    /// A string literal whose prefix starts at `start`; `self.pos` is at the opening quote.
    fn string(&mut self, start: usize, fstring: bool) -> Step {
        let quote = self.peek(0);
        let triple = self.peek(1) == quote && self.peek(2) == quote;
        let (start_line, start_line_start) = (self.line, self.line_start);
        self.pos += if triple { 3 } else { 1 };
        // Each open replacement field is (brackets open in its expression, whether its format
        // spec has begun).
        let nested = fstring && self.v.tokenizes_fstrings();
        let mut fields: Vec<(u32, bool)> = Vec::new();
        loop {
            if fields.is_empty() {
                // Outside replacement fields only these bytes matter: skip to the next one.
                let rest = self.b.get(self.pos..).unwrap_or_default();
                self.pos += rest
                    .iter()
                    .position(|&b| matches!(b, b'\\' | b'\n' | b'{' | b'}') || b == quote)
                    .unwrap_or(rest.len());
            }
            if self.pos >= self.b.len() {
                let col = self.col_from(start_line_start, start);
                return Err(self.unterminated(triple, fstring, start_line, col));
            }
            let c = self.peek(0);
            let in_expr = fields.last().is_some_and(|f| !f.1);
            match c {
                b'\\' => {
                    self.pos += 1;
                    if self.peek(0) == b'\n' {
                        self.newline();
                    } else if nested && matches!(self.peek(0), b'{' | b'}') {
                        // A backslash does not escape braces.
                    } else if self.pos < self.b.len() {
                        self.pos += 1;
                    }
                    continue;
                }
                b'\n' if !triple && !in_expr => {
                    let col = self.col_from(start_line_start, start);
                    return Err(self.unterminated(triple, fstring, start_line, col));
                }
                b'\n' => {
                    self.newline();
                    continue;
                }
                b'{' if nested && !in_expr => {
                    if fields.is_empty() && self.peek(1) == b'{' {
                        self.pos += 2;
                        continue;
                    }
                    fields.push((0, false));
                }
                b'}' if nested && !in_expr && fields.is_empty() && self.peek(1) == b'}' => {
                    self.pos += 2;
                    continue;
                }
                b'}' if nested && !in_expr => {
                    fields.pop();
                }
                b'(' | b'[' | b'{' if in_expr => {
                    if let Some(f) = fields.last_mut() {
                        f.0 += 1;
                    }
                }
                b')' | b']' | b'}' if in_expr => match fields.last_mut() {
                    Some(f) if f.0 > 0 => f.0 -= 1,
                    _ if c == b'}' => {
                        fields.pop();
                    }
                    _ => {}
                },
                b':' if in_expr && fields.last().is_some_and(|f| f.0 == 0) => {
                    if let Some(f) = fields.last_mut() {
                        f.1 = true;
                    }
                }
                b'#' if in_expr => {
                    self.skip_to_newline();
                    continue;
                }
                // Strings inside a replacement field may reuse the quote.
                b'\'' | b'"' if in_expr => {
                    let inner_f = self.b[..self.pos]
                        .iter()
                        .rev()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .take(2)
                        .any(|c| c.eq_ignore_ascii_case(&b'f'));
                    self.string(self.pos, inner_f)?;
                    continue;
                }
                q if q == quote => {
                    if !triple {
                        self.pos += 1;
                        return Ok(());
                    }
                    if self.peek(1) == quote && self.peek(2) == quote {
                        self.pos += 3;
                        return Ok(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn unterminated(&self, triple: bool, fstring: bool, line: u32, col: u32) -> TokError {
        let kind = if fstring && self.v.tokenizes_fstrings() {
            "f-string literal"
        } else {
            "string literal"
        };
        // The line where the tokenizer gave up: a final newline does not start a new line.
        let detected = if self.pos >= self.b.len() && self.text.ends_with('\n') {
            self.line - 1
        } else {
            self.line
        };
        let (msg, report_line) = match (triple, self.v.precise_tokenizer_errors()) {
            (false, true) => {
                let end = self.pos.min(self.b.len());
                let escaped_quote = self.v.hints_escaped_end_quote()
                    && end >= 2
                    && matches!(self.b[end - 1], b'\'' | b'"')
                    && self.b[end - 2] == b'\\';
                let hint = if escaped_quote {
                    "; perhaps you escaped the end quote?"
                } else {
                    ""
                };
                (
                    format!("unterminated {kind} (detected at line {detected}){hint}"),
                    line,
                )
            }
            (true, true) => (
                format!("unterminated triple-quoted {kind} (detected at line {detected})"),
                line,
            ),
            (false, false) => ("EOL while scanning string literal".into(), self.line),
            (true, false) => (
                "EOF while scanning triple-quoted string literal".into(),
                detected,
            ),
        };
        TokError {
            diag: Diagnostic::new(ErrorKind::SyntaxError, msg, report_line, col),
            offset: self.tok_start,
            raises: true,
        }
    }

    fn digit_run(&mut self, ok: impl Fn(u8) -> bool) {
        while ok(self.peek(0)) {
            self.pos += 1;
        }
    }

    /// Digits with single underscores between them; `self.pos` is at a digit.
    fn decimal_tail(&mut self) -> Step {
        loop {
            self.digit_run(|c| c.is_ascii_digit());
            if self.peek(0) != b'_' {
                return Ok(());
            }
            self.pos += 1;
            if !self.peek(0).is_ascii_digit() {
                return Err(self.syntax("invalid decimal literal", self.pos));
            }
        }
    }

    /// CPython's `verify_end_of_number` (3.10+): a number glued to a name is an error, unless
    /// the name is a keyword that may follow a number (then it is only a warning).
    fn end_of_number(&mut self, kind: &str) -> Step {
        if !self.v.precise_tokenizer_errors() {
            return Ok(());
        }
        let c = self.peek(0);
        let rest = &self.b[self.pos.min(self.b.len())..];
        let keyword = match c {
            b'a' => rest.starts_with(b"and"),
            b'e' => rest.starts_with(b"else"),
            b'f' => rest.starts_with(b"for"),
            b'i' => matches!(rest.get(1), Some(b'f' | b'n' | b's')),
            b'o' => rest.starts_with(b"or"),
            b'n' => rest.starts_with(b"not"),
            _ => false,
        };
        if !keyword && is_ident_byte(c) && c != 0 {
            return Err(self.syntax(format!("invalid {kind} literal"), self.pos));
        }
        Ok(())
    }

    fn number(&mut self) -> Step {
        let start = self.pos;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
            let (kind, radix) = match self.peek(1).to_ascii_lowercase() {
                b'x' => ("hexadecimal", 16),
                b'o' => ("octal", 8),
                _ => ("binary", 2),
            };
            self.pos += 2;
            let in_radix = move |c: u8| (c as char).is_digit(radix);
            loop {
                if self.peek(0) == b'_' {
                    self.pos += 1;
                }
                let c = self.peek(0);
                if !in_radix(c) {
                    if radix != 16 && c.is_ascii_digit() {
                        return Err(self.syntax(
                            format!("invalid digit '{}' in {kind} literal", c as char),
                            self.pos,
                        ));
                    }
                    return Err(self.syntax(format!("invalid {kind} literal"), self.pos));
                }
                self.digit_run(in_radix);
                if self.peek(0) != b'_' {
                    break;
                }
            }
            let c = self.peek(0);
            if radix != 16 && c.is_ascii_digit() {
                return Err(self.syntax(
                    format!("invalid digit '{}' in {kind} literal", c as char),
                    self.pos,
                ));
            }
            return self.end_of_number(kind);
        }
        let mut leading_zeros = false;
        if self.peek(0) == b'0' {
            // `0`, `00`, `0_0`: zeros only, unless more digits follow (old-style octal).
            loop {
                if self.peek(0) == b'_' {
                    self.pos += 1;
                    if !self.peek(0).is_ascii_digit() {
                        return Err(self.syntax("invalid decimal literal", self.pos));
                    }
                }
                if self.peek(0) != b'0' {
                    break;
                }
                self.pos += 1;
            }
            if self.peek(0).is_ascii_digit() {
                leading_zeros = true;
                self.decimal_tail()?;
            }
        } else if self.peek(0) != b'.' {
            self.decimal_tail()?;
        }
        let mut is_float = false;
        if self.peek(0) == b'.' {
            is_float = true;
            self.pos += 1;
            if self.peek(0).is_ascii_digit() {
                self.decimal_tail()?;
            }
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let e = self.pos;
            self.pos += 1;
            if matches!(self.peek(0), b'+' | b'-') {
                self.pos += 1;
                if !self.peek(0).is_ascii_digit() {
                    return Err(self.syntax("invalid decimal literal", self.pos));
                }
            } else if !self.peek(0).is_ascii_digit() {
                self.pos = e;
                return self.end_of_number("decimal");
            }
            is_float = true;
            self.decimal_tail()?;
        }
        if matches!(self.peek(0), b'j' | b'J') {
            self.pos += 1;
            return self.end_of_number("imaginary");
        }
        if leading_zeros && !is_float {
            return Err(self.syntax(
                "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
                start,
            ));
        }
        self.end_of_number("decimal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(src: &str, v: PythonVersion) -> Option<(String, u32)> {
        scan(src, v).error.map(|e| (e.diag.message, e.diag.line))
    }

    #[test]
    fn literals() {
        let v = PythonVersion::V3_11;
        assert_eq!(first("x = 1\n", v), None);
        assert_eq!(first("1a\n", v).unwrap().0, "invalid decimal literal");
        assert_eq!(first("1a\n", PythonVersion::V3_9), None);
        assert_eq!(first("1if x else 2\n", v), None);
        assert_eq!(first("0x\n", v).unwrap().0, "invalid hexadecimal literal");
        assert_eq!(
            first("0o8\n", v).unwrap().0,
            "invalid digit '8' in octal literal"
        );
        assert_eq!(
            first("0b2\n", v).unwrap().0,
            "invalid digit '2' in binary literal"
        );
        assert!(first("012\n", v).unwrap().0.starts_with("leading zeros"));
        assert_eq!(first("00.5 + 0e0 + 0_0 + 1_000j\n", v), None);
        assert_eq!(first("1jx\n", v).unwrap().0, "invalid imaginary literal");
        assert_eq!(
            first("x = 1\ny = 'abc\n", v).unwrap(),
            ("unterminated string literal (detected at line 2)".into(), 2)
        );
        assert_eq!(
            first("x = '''abc\n\ny", v).unwrap(),
            (
                "unterminated triple-quoted string literal (detected at line 3)".into(),
                1
            )
        );
        assert_eq!(
            first("x = '''abc\n\ny", PythonVersion::V3_8).unwrap(),
            ("EOF while scanning triple-quoted string literal".into(), 3)
        );
    }

    #[test]
    fn brackets_and_characters() {
        let v = PythonVersion::V3_12;
        assert_eq!(first("x = 1)\n", v).unwrap().0, "unmatched ')'");
        assert_eq!(
            first("x = (1\n]\n", v).unwrap(),
            (
                "closing parenthesis ']' does not match opening parenthesis '(' on line 1".into(),
                2
            )
        );
        let s = scan("f(\n1,\n", v);
        assert_eq!(s.error.unwrap().diag.message, "'(' was never closed");
        assert_eq!(s.unclosed, Some(('(', 1, 2)));
        assert_eq!(
            first("x = €\n", v).unwrap().0,
            "invalid character '€' (U+20AC)"
        );
        assert_eq!(
            first("x = a\u{a0}b\n", v).unwrap().0,
            "invalid non-printable character U+00A0"
        );
        assert_eq!(
            first("x = €\n", PythonVersion::V3_8).unwrap().0,
            "invalid character in identifier"
        );
        assert_eq!(first("f'{\"a\"}'\n", v), None);
        assert_eq!(first("f'{x:>{w}}' fr'\\{{'\n", v), None);
        assert_eq!(first("f'''{ # it's a comment\n3}'''\n", v), None);
        assert_eq!(first("f'{f'{1}'}' f'{{'\n", v), None);
        assert!(first("f'{x:'>10}'\n", v).is_some());
    }

    #[test]
    fn indentation() {
        let v = PythonVersion::V3_10;
        let e = scan("if x:\n  a\n b\n", v).error.unwrap();
        assert_eq!(e.diag.kind, ErrorKind::IndentationError);
        assert_eq!(e.diag.line, 3);
        let e = scan("if x:\n\ta\n        b\n", v).error.unwrap();
        assert_eq!(e.diag.kind, ErrorKind::TabError);
        assert!(scan("if x:\n\ta\n\tb\n  # c\n", v).error.is_none());
        assert_eq!(
            first("x = \\ 1\n", v).unwrap().0,
            "unexpected character after line continuation character"
        );
    }
}
