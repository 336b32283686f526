//! Parsing: text to a ruff AST, or the syntax error CPython raises for the target version, in
//! its words and at its line.
//!
//! Three sources of errors are weighed as CPython's tokenizer and parser would meet them:
//! [`tokenize`] (a scan following CPython's tokenizer rules), ruff's parse errors and
//! version gates (reworded by [`messages`]), and [`checks`] on the AST for what CPython's
//! grammar refuses but ruff accepts.

use pyc_assembler::PythonVersion;
use ruff_python_ast::ModModule;
use ruff_python_parser::{Mode, ParseOptions};
use ruff_text_size::TextSize;

use crate::diagnostic::Diagnostic;

mod checks;
mod messages;
mod tokenize;

/// A parsed module with the index that turns its byte offsets into CPython positions.
#[derive(Debug)]
pub struct Parsed {
    pub module: ModModule,
    pub lines: LineIndex,
}

/// Line starts of a text, for turning byte offsets into lines and columns in O(log n) (plus
/// the length of the line for character columns on non-ASCII lines).
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of each line's start; line 1 starts at 0.
    starts: Vec<u32>,
    /// Whether each line is pure ASCII (its character columns are byte columns).
    ascii: Vec<bool>,
    /// See [`line_blocks`].
    blocks: Vec<u32>,
}

impl LineIndex {
    /// Indexes `text` in one pass. Lines end at `\n` (the text has universal newlines).
    pub fn new(text: &str) -> LineIndex {
        // Room for lines of 32 bytes on average, which most sources exceed.
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0u32);
        let mut ascii = Vec::with_capacity(text.len() / 32 + 1);
        let last_ascii = scan_lines(text.as_bytes(), |i, line_ascii| {
            starts.push(i as u32 + 1);
            ascii.push(line_ascii);
        });
        ascii.push(last_ascii);
        let blocks = line_blocks(&starts, text.len());
        LineIndex {
            starts,
            ascii,
            blocks,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line(&self, offset: TextSize) -> u32 {
        find_line(&self.starts, &self.blocks, offset.to_u32()) as u32 + 1
    }

    /// `(line, column)` of byte `offset`: 1-based line, 0-based column in UTF-8 bytes, as
    /// CPython's AST (`col_offset`) and location tables count.
    pub fn line_col(&self, offset: TextSize) -> (u32, u32) {
        let line = self.line(offset);
        (line, offset.to_u32() - self.starts[line as usize - 1])
    }

    /// `(line, offset)` of byte `offset` as `SyntaxError` reports it: 1-based line and 1-based
    /// column in characters.
    pub fn line_char_col(&self, text: &str, offset: TextSize) -> (u32, u32) {
        let (line, col) = self.line_col(offset);
        if self.ascii[line as usize - 1] {
            return (line, col + 1);
        }
        let start = self.starts[line as usize - 1] as usize;
        let end = (start + col as usize).min(text.len());
        let chars = text
            .get(start..end)
            .map_or(col as usize, |s| s.chars().count());
        (line, chars as u32 + 1)
    }
}

/// Log2 of the size of the blocks of text that [`line_blocks`] indexes.
const BLOCK_BITS: u32 = 6;

/// For each block of 64 bytes of a text `len` bytes long whose lines start at `starts`, the
/// 0-based index of the line holding the block's first byte: [`find_line`] starts there and
/// steps over the few lines that start within the block.
pub(crate) fn line_blocks(starts: &[u32], len: usize) -> Vec<u32> {
    let count = (len >> BLOCK_BITS) + 1;
    let mut blocks = Vec::with_capacity(count);
    let mut line = 0;
    for block in 0..count {
        let offset = (block << BLOCK_BITS) as u32;
        while starts.get(line + 1).is_some_and(|&s| s <= offset) {
            line += 1;
        }
        blocks.push(line as u32);
    }
    blocks
}

/// The 0-based index of the line holding byte `offset`: the last of `starts` (which begins
/// with 0) at or before it.
pub(crate) fn find_line(starts: &[u32], blocks: &[u32], offset: u32) -> usize {
    let Some(&first) = blocks.get((offset >> BLOCK_BITS) as usize) else {
        return starts.partition_point(|&s| s <= offset).max(1) - 1;
    };
    let mut line = first as usize;
    while starts.get(line + 1).is_some_and(|&s| s <= offset) {
        line += 1;
    }
    line
}

/// Calls `line_end(i, ascii)` for each `\n` of `bytes`, at offset `i`, with whether the line
/// it ends is pure ASCII; returns whether the last line is. Eight bytes at a time: most words
/// hold neither a newline nor a non-ASCII byte.
pub(crate) fn scan_lines(bytes: &[u8], mut line_end: impl FnMut(usize, bool)) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut ascii = true;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The high bit of each byte of `w` that is `\n` (exact: no carry crosses bytes).
        let x = w ^ NEWLINES;
        let mut newlines = !(((x & !HIGH) + !HIGH) | x) & HIGH;
        let high = w & HIGH;
        if newlines == 0 {
            ascii &= high == 0;
        } else if high == 0 {
            while newlines != 0 {
                line_end(base + (newlines.trailing_zeros() / 8) as usize, ascii);
                ascii = true;
                newlines &= newlines - 1;
            }
        } else {
            for (i, &b) in chunk.iter().enumerate() {
                ascii &= b.is_ascii();
                if b == b'\n' {
                    line_end(base + i, ascii);
                    ascii = true;
                }
            }
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        ascii &= b.is_ascii();
        if b == b'\n' {
            line_end(base + i, ascii);
            ascii = true;
        }
    }
    ascii
}

/// `(line, column)` of a ruff offset for other passes: 1-based line, 0-based UTF-8 byte column
/// (CPython's `lineno` and `col_offset`). See [`LineIndex::line_char_col`] for `SyntaxError`
/// columns.
pub fn line_col(index: &LineIndex, offset: TextSize) -> (u32, u32) {
    index.line_col(offset)
}

fn ruff_version(v: PythonVersion) -> ruff_python_ast::PythonVersion {
    ruff_python_ast::PythonVersion {
        major: 3,
        minor: v.minor(),
    }
}

/// Parses `text` (decoded by [`crate::source::decode`]) as CPython `v` would, returning the
/// module or the `SyntaxError` (or `IndentationError`, `TabError`) CPython raises first.
///
/// Parsing, the checks on the AST and dropping a refused AST recurse once per level of nesting,
/// and ruff nests as deep as the source does (a level can take one byte: `---...1`), so they run
/// on a stack sized for the text. A module is returned only when it nests at most
/// [`checks::MAX_DEPTH`] levels, which any stack drops.
pub fn parse(text: &str, v: PythonVersion) -> Result<Parsed, Diagnostic> {
    /// Stack per byte of source, above what one level of the deepest pass takes.
    const STACK_PER_BYTE: usize = 512;
    /// Beyond this the address space reserved is more than a thread may get; such a source
    /// (hundreds of megabytes) falls back to the usual stack.
    const MAX_STACK: usize = 8 << 30;
    let size = text.len().saturating_mul(STACK_PER_BYTE).min(MAX_STACK);
    crate::stack::with_stack("parse", size, || parse_here(text, v))
}

fn parse_here(text: &str, v: PythonVersion) -> Result<Parsed, Diagnostic> {
    let lines = LineIndex::new(text);
    let scan = tokenize::scan(text, v);
    let options = ParseOptions::from(Mode::Module).with_target_version(ruff_version(v));
    let parsed = ruff_python_parser::parse_unchecked(text, options);
    let error = match parsed.syntax().as_module() {
        Some(module) => first_error(text, &lines, v, scan, &parsed, module),
        None => unreachable!("module mode parses a module"),
    };
    match (error, parsed.into_syntax()) {
        (Some(d), _) => Err(d),
        (None, ruff_python_ast::Mod::Module(module)) => Ok(Parsed { module, lines }),
        (None, ruff_python_ast::Mod::Expression(_)) => unreachable!("module mode"),
    }
}

/// The error CPython meets first, weighing the tokenizer scan against the parser's
/// complaints, or `None` for a valid module.
fn first_error(
    text: &str,
    lines: &LineIndex,
    v: PythonVersion,
    scan: tokenize::Scan,
    parsed: &ruff_python_parser::Parsed<ruff_python_ast::Mod>,
    module: &ModModule,
) -> Option<Diagnostic> {
    let ctx = messages::Context {
        text,
        lines,
        v,
        tokens: parsed.tokens(),
        module,
    };
    // The parser's first complaint: ruff's errors, its version gates, or our AST checks.
    let mut found: Vec<(u32, Diagnostic)> = Vec::new();
    // ruff reports in parsing order; its first error is where its parser first went wrong.
    if let Some(e) = parsed.errors().first() {
        found.push((e.location.start().to_u32(), messages::parse_error(&ctx, e)));
    }
    if let Some(e) = parsed
        .unsupported_syntax_errors()
        .iter()
        .min_by_key(|e| e.range.start())
    {
        found.push((e.range.start().to_u32(), messages::unsupported(&ctx, e)));
    }
    if found.is_empty() {
        found.extend(checks::check(&ctx));
    }
    let parser_error = found.into_iter().min_by_key(|(at, _)| *at);
    match (scan.error, parser_error) {
        (None, None) => None,
        (Some(t), None) => Some(t.diag),
        (Some(t), Some((at, _)))
            if t.offset <= at as usize || (t.raises && v.raised_tokenizer_errors_win()) =>
        {
            Some(t.diag)
        }
        (_, Some((at, d))) => Some(messages::after_parser_error(
            &ctx,
            d,
            TextSize::new(at),
            scan.unclosed,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index() {
        let text = "ab\nçd = 1\n\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(TextSize::new(0)), (1, 0));
        assert_eq!(idx.line_col(TextSize::new(3)), (2, 0));
        assert_eq!(idx.line_col(TextSize::new(6)), (2, 3));
        assert_eq!(idx.line_char_col(text, TextSize::new(6)), (2, 3));
        assert_eq!(idx.line_col(TextSize::new(11)), (3, 0));
        assert_eq!(idx.line_col(TextSize::new(12)), (4, 0));
        assert_eq!(line_col(&idx, TextSize::new(1)), (1, 1));
    }

    #[test]
    fn line_lookup_matches_a_binary_search() {
        let text: String = (0..300).map(|i| "x".repeat(i % 97) + "\n").collect();
        let idx = LineIndex::new(&text);
        for offset in 0..text.len() as u32 + 200 {
            let expected = idx.starts.partition_point(|&s| s <= offset).max(1) as u32;
            assert_eq!(idx.line(TextSize::new(offset)), expected, "{offset}");
        }
    }

    #[test]
    fn scan_lines_matches_a_byte_loop() {
        let texts = [
            "",
            "\n",
            "abc",
            "a\nb\n\nc",
            "0123456\n89abcdef\n",
            "x = 'é'\ny = 1\n\n\n\n\n\n\n\n\nz\n# çà\nlast line, longer than eight",
            "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
            "ééééé\néé\nabcdefgh\n\u{10ffff}",
            &"x\u{e9}y\n".repeat(100),
            &format!(
                "{}\n{}\u{e9}\n{}",
                "a".repeat(63),
                "b".repeat(64),
                "c".repeat(130)
            ),
            &format!("{}\u{e9}{}\n\n", "a".repeat(62), "b".repeat(127)),
        ];
        for text in texts {
            let (mut naive, mut ascii) = (Vec::new(), true);
            for (i, b) in text.bytes().enumerate() {
                ascii &= b.is_ascii();
                if b == b'\n' {
                    naive.push((i, ascii));
                    ascii = true;
                }
            }
            let mut fast = Vec::new();
            let last = scan_lines(text.as_bytes(), |i, a| fast.push((i, a)));
            assert_eq!((fast, last), (naive, ascii), "{text:?}");
        }
    }

    fn err(src: &str, v: PythonVersion) -> (String, String, u32) {
        let d = parse(src, v).expect_err("should fail");
        (d.kind.name().to_string(), d.message, d.line)
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        for v in PythonVersion::ALL {
            // Nested too deep for any stack to walk naively: refused, at the outermost level
            // beyond the limit.
            let src = format!("x = {}1\n", "-".repeat(100_000));
            let d = parse(&src, v).expect_err("too deep");
            assert_eq!(
                d.message,
                "Parser stack overflowed - Python source too complex to parse"
            );
            assert_eq!(d.line, 1, "{v}");
            // Brackets beyond the tokenizer's limit: its error, though ruff nests them all.
            let src = format!("x = {}{}\n", "[".repeat(5000), "]".repeat(5000));
            let (kind, msg, line) = err(&src, v);
            assert_eq!(
                (kind.as_str(), msg.as_str(), line),
                ("SyntaxError", "too many nested parentheses", 1)
            );
            // Deep but within CPython's parser stack: parsed.
            let src = format!("x = {}1\n", "-".repeat(2000));
            assert!(parse(&src, v).is_ok(), "{v}");
        }
    }

    #[test]
    fn accepts_valid_code() {
        for v in PythonVersion::ALL {
            let src = "import os\ndef f(a, *b, c=1, **d):\n    return [x for x in a if x]\n";
            assert!(parse(src, v).is_ok(), "{v}");
        }
    }

    #[test]
    fn common_errors() {
        let v = PythonVersion::V3_11;
        assert_eq!(
            err("if x\n    pass\n", v),
            ("SyntaxError".into(), "expected ':'".into(), 1)
        );
        assert_eq!(
            err("x = (1,\n", v),
            ("SyntaxError".into(), "'(' was never closed".into(), 1)
        );
        assert_eq!(
            err("x = (1,\n", PythonVersion::V3_8),
            (
                "SyntaxError".into(),
                "unexpected EOF while parsing".into(),
                1
            )
        );
        assert_eq!(
            err("  x = 1\n", v),
            ("IndentationError".into(), "unexpected indent".into(), 1)
        );
        assert_eq!(
            err("match x:\n    case 1: pass\n", PythonVersion::V3_9),
            ("SyntaxError".into(), "invalid syntax".into(), 1)
        );
        assert!(parse("match x:\n    case 1: pass\n", v).is_ok());
    }
    #[test]
    fn pegen_words() {
        let v = PythonVersion::V3_12;
        let syntax = |m: &str, line| ("SyntaxError".to_string(), m.to_string(), line);
        assert_eq!(
            err("x = 1\nif x:\ny = 2\n", v),
            (
                "IndentationError".into(),
                "expected an indented block after 'if' statement on line 2".into(),
                3
            )
        );
        assert_eq!(
            err("f() = 1\n", v),
            syntax(
                "cannot assign to function call here. Maybe you meant '==' instead of '='?",
                1
            )
        );
        assert_eq!(
            err("x = y = f() = 1\n", v),
            syntax("cannot assign to function call", 1)
        );
        assert_eq!(
            err("f() = 1\n", PythonVersion::V3_8),
            syntax("cannot assign to function call", 1)
        );
        assert_eq!(
            err("x = [1, 2 3]\n", v),
            syntax("invalid syntax. Perhaps you forgot a comma?", 1)
        );
        assert_eq!(
            err("f(a=1, b)\n", v),
            syntax("positional argument follows keyword argument", 1)
        );
        assert_eq!(
            err("if x = 1:\n    pass\n", v),
            syntax(
                "invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
                1
            )
        );
        assert_eq!(
            err("print 'hi'\n", PythonVersion::V3_8),
            syntax(
                "Missing parentheses in call to 'print'. Did you mean print('hi')?",
                1
            )
        );
        assert_eq!(
            err("x = b'\u{e9}'\n", v),
            syntax("bytes can only contain ASCII literal characters", 1)
        );
        assert_eq!(
            err("__debug__ = 1\n", PythonVersion::V3_8),
            syntax("cannot assign to __debug__", 1)
        );
        // 3.9+ leaves `__debug__` to the compiler.
        assert!(parse("__debug__ = 1\n", PythonVersion::V3_9).is_ok());
        assert_eq!(err("foo(a,\nb c\n", v), syntax("'(' was never closed", 1));
    }
}
