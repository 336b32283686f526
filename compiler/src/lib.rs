//! `pyc-compiler`: Python source to CPython code objects.
//!
//! Code generation lands version by version; until a target's code generation exists,
//! [`compile`] refuses it with [`CompileError::UnsupportedTarget`].

use std::fmt;

use pyc_assembler::{CodeObject, PythonVersion};

/// What to compile for.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub target: PythonVersion,
    /// `-O` level: 0, 1 (drop asserts, `__debug__` is false) or 2 (also drop docstrings).
    pub optimize: u8,
}

/// Why a source did not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// No code generation exists for this target yet.
    UnsupportedTarget(PythonVersion),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::UnsupportedTarget(v) => write!(
                f,
                "code generation for Python {v} is not implemented yet; \
                 pyc-build can read and disassemble {v} pycs but cannot compile for it"
            ),
        }
    }
}

impl std::error::Error for CompileError {}

/// Compiles `source` (the bytes of a `.py` file) as CPython's `compile(source, filename,
/// "exec")` would for `options.target`.
pub fn compile(
    _source: &[u8],
    _filename: &str,
    options: &CompileOptions,
) -> Result<CodeObject, CompileError> {
    Err(CompileError::UnsupportedTarget(options.target))
}
