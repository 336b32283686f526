//! A textual assembler for CPython bytecode, and the printer that writes its format.
//!
//! The format (documented with examples in `docs/asm.md`) describes a module and its nested
//! code objects: the target version, names, signatures, flags, variables, constants,
//! instructions with symbolic arguments (`LOAD_CONST 'hi'`, `LOAD_FAST x`, `COMPARE_OP <`,
//! `JUMP_FORWARD done`), labels, source positions and exception handling.
//!
//! [`parse_and_assemble`] computes what a person should not have to write: the constant and
//! name tables, the stack depth, jump arguments with their `EXTENDED_ARG` prefixes, inline
//! `CACHE` units, the line or location table, the exception table, the locals layout and the
//! default flags. [`to_asm`] prints a code object in this format so that assembling the text
//! gives back an equal code object, tables included.

mod args;
mod assemble;
mod lexer;
mod parser;
mod printer;
mod stackdepth;

use std::fmt;

use crate::{CodeObject, PythonVersion};

/// An error in assembly text: a byte range of the text, a message and perhaps a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// Byte offset where the offending text starts.
    pub start: usize,
    /// Byte offset where it ends (equal to `start` for a point such as the end of a line).
    pub end: usize,
    pub message: String,
    /// What to do about it, when there is something to say.
    pub hint: Option<String>,
}

impl AsmError {
    /// The 1-based line and column (in characters) of `start` in `text`.
    pub fn line_col(&self, text: &str) -> (usize, usize) {
        let start = self.start.min(text.len());
        let before = text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AsmError {}

/// Assembles a whole file into its module code object.
///
/// The version comes from the file's `.version` line; `default_target` applies when the file
/// has none. All errors found are returned, each with a byte span of `text`.
pub fn parse_and_assemble(
    text: &str,
    default_target: Option<PythonVersion>,
) -> Result<(PythonVersion, CodeObject), Vec<AsmError>> {
    let program = parser::parse(text, default_target)?;
    let code = assemble::assemble(&program)?;
    Ok((program.version, code))
}

/// Prints `code` (and the code objects nested in it) in the assembly format of version `v`.
///
/// The output is lossless: [`parse_and_assemble`] gives back a code object equal to `code`,
/// tables included. The stack size is left to the assembler unless its computation disagrees
/// with `code.stacksize`; tables the format cannot express symbolically are spelled out as
/// bytes.
pub fn to_asm(code: &CodeObject, v: PythonVersion) -> String {
    printer::print(code, v)
}

/// The stack depth the assembler computes for `code` (as if its `.stacksize` were not given),
/// or why it cannot.
pub fn computed_stacksize(code: &CodeObject, v: PythonVersion) -> Result<u32, String> {
    printer::computed_stacksize(code, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Constant;

    const EXAMPLES: [&str; 5] = [
        include_str!("../../docs/asm/hello.pyasm"),
        include_str!("../../docs/asm/loop.pyasm"),
        include_str!("../../docs/asm/closure.pyasm"),
        include_str!("../../docs/asm/generator.pyasm"),
        include_str!("../../docs/asm/try_except.pyasm"),
    ];

    fn first_error(text: &str) -> AsmError {
        match parse_and_assemble(text, Some(PythonVersion::V3_12)) {
            Ok(_) => panic!("assembled:\n{text}"),
            Err(e) => e[0].clone(),
        }
    }

    /// The error's text in the source, and its message.
    fn at(text: &str, e: &AsmError) -> String {
        text[e.start..e.end].to_string()
    }

    #[test]
    fn hello_world() {
        let text = ".version 3.12\n.line 1\nRESUME 0\nPUSH_NULL\nLOAD_NAME print\n\
                    LOAD_CONST 'hi'\nCALL 1\nPOP_TOP\nRETURN_CONST None\n";
        let (v, code) = parse_and_assemble(text, None).unwrap();
        assert_eq!(v, PythonVersion::V3_12);
        assert_eq!(code.consts, [Constant::str("hi"), Constant::None]);
        assert_eq!(code.names.len(), 1);
        assert_eq!(code.stacksize, 3);
        // CALL has three cache units in 3.12.
        assert_eq!(code.code.len(), 2 * (7 + 3));
        assert_eq!(code.firstlineno, 1);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let text = ".version 3.12\n    PRECALL 1\n";
        let e = first_error(text);
        assert_eq!(at(text, &e), "PRECALL");
        assert!(e.message.contains("unknown opcode"), "{e}");
        assert!(e.hint.as_deref().unwrap_or("").contains("3.11"), "{e:?}");
        assert_eq!(e.line_col(text), (2, 5));

        let text = ".version 3.12\nLOAD_FAST 42\n";
        let e = first_error(text);
        assert!(e.message.contains("wrong kind of argument"), "{e}");

        let text = ".version 3.12\nJUMP_FORWARD nowhere\nRETURN_CONST None\n";
        let e = first_error(text);
        assert!(e.message.contains("undefined label `nowhere`"), "{e}");

        let text = ".version 3.12\nx:\nx:\nRETURN_CONST None\n";
        let e = first_error(text);
        assert!(e.message.contains("already defined"), "{e}");
        assert_eq!(e.line_col(text), (3, 1));

        let text = ".version 3.12\nRESUME 0\nPOP_TOP\nRETURN_CONST None\n";
        let e = first_error(text);
        assert_eq!(at(text, &e), "POP_TOP");
        assert!(e.message.contains("stack underflow"), "{e}");

        let text = ".version 3.12\nRESUME 0\nLOAD_CONST 1\nPOP_JUMP_IF_TRUE a\n\
                    LOAD_CONST 2\na:\nRETURN_VALUE\n";
        let e = first_error(text);
        assert!(e.message.contains("another path"), "{e}");

        let text = ".version 3.12\nJUMP_FORWARD back\nback:\n";
        assert!(first_error(text)
            .message
            .contains("after the last instruction"));
        let text = ".version 3.12\nback:\nNOP\nJUMP_FORWARD back\n";
        assert!(first_error(text).message.contains("cannot jump backward"));
        let text = "RETURN_VALUE\n";
        let e = parse_and_assemble(text, None).unwrap_err();
        assert!(e[0].message.contains("no target version"), "{e:?}");
    }

    #[test]
    fn examples_round_trip_on_every_version() {
        for v in PythonVersion::ALL {
            for text in EXAMPLES {
                let (_, code) =
                    parse_and_assemble(text, Some(v)).unwrap_or_else(|e| panic!("{v}: {:?}", e));
                let printed = to_asm(&code, v);
                let (_, back) = parse_and_assemble(&printed, None).unwrap();
                assert_eq!(back, code, "{v}\n{printed}");
                assert_eq!(computed_stacksize(&code, v), Ok(code.stacksize));
            }
        }
    }

    #[test]
    fn jumps_grow_extended_args() {
        // A forward jump over 300 NOPs needs one EXTENDED_ARG.
        let mut text = String::from(".version 3.10\nJUMP_FORWARD end\n");
        text.push_str(&"NOP\n".repeat(300));
        text.push_str("end:\nLOAD_CONST None\nRETURN_VALUE\n");
        let (_, code) = parse_and_assemble(&text, None).unwrap();
        let ext = PythonVersion::V3_10.opcodes().extended_arg;
        assert_eq!(&code.code[..4], &[ext, 1, 110, 44]);
    }

    /// A small deterministic generator for the fuzz test.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn fuzz_smoke_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let alphabet: Vec<char> = ".:@#'\"()[]{},-+<>=|*/ \n\t0123456789abcxyzLOAD_CONSTNULLj\\é"
            .chars()
            .collect();
        let pieces = [
            ".code f\n",
            ".end\n",
            ".if 3.11+\n",
            ".else\n",
            ".endif\n",
            "LOAD_CONST ",
            "JUMP_FORWARD a\n",
            "a:\n",
            "EXTENDED_ARG\n",
            ".line 3:4-5:6\n",
            ".exception a to b -> c depth 1 lasti\n",
            "(1, (2,), frozenset({3}))",
            "'\\u12",
            "b'\\xff'",
            "-0.0",
            "(1-2j)",
            ".args a, *, b, **c\n",
            ".localsplus a 0x20\n",
            "@99999999999",
            "COMPARE_OP bool(<)\n",
            "LOAD_GLOBAL NULL + x\n",
        ];
        for round in 0..3000 {
            let text = if round % 3 == 0 {
                (0..rng.below(80))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect::<String>()
            } else {
                let mut t: Vec<char> = EXAMPLES[rng.below(EXAMPLES.len())].chars().collect();
                for _ in 0..1 + rng.below(6) {
                    let at = rng.below(t.len() + 1);
                    match rng.below(3) {
                        0 if !t.is_empty() => {
                            let end = (at + rng.below(20)).min(t.len());
                            t.drain(at.min(end)..end);
                        }
                        1 => {
                            let p = pieces[rng.below(pieces.len())];
                            t.splice(at..at, p.chars());
                        }
                        _ => t.insert(at, alphabet[rng.below(alphabet.len())]),
                    }
                }
                t.into_iter().collect()
            };
            let v = PythonVersion::ALL[rng.below(6)];
            if let Ok((v, code)) = parse_and_assemble(&text, Some(v)) {
                let _ = to_asm(&code, v);
            } else if let Err(errors) = parse_and_assemble(&text, Some(v)) {
                for e in errors {
                    assert!(e.start <= e.end && e.end <= text.len(), "{e:?} in {text:?}");
                    let _ = e.line_col(&text);
                }
            }
        }
    }
}
