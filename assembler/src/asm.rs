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
