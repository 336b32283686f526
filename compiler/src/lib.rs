//! `pyc-compiler`: Python source to CPython code objects.
//!
//! The pipeline (see `docs/ARCHITECTURE.md`): [`source`] decodes bytes as CPython does (PEP 263
//! cookies, BOM); [`parse`] parses with `ruff_python_parser` and words syntax errors as the
//! target version does; [`symtable`] resolves every name's scope; [`checks`] raises the errors
//! CPython's compiler finds after that ([`check`] runs all of these); [`fold`] folds constants
//! and [`codegen`] builds the code objects. Code generation lands version by version (3.11
//! first); until a target's code generation exists, [`compile`] refuses it with
//! [`CompileError::UnsupportedTarget`].

use std::fmt;

use pyc_assembler::{CodeObject, PythonVersion};

pub mod checks;
pub mod codegen;
pub mod diagnostic;
pub mod explain;
pub mod fold;
pub mod parse;
pub mod source;
mod stack;
pub mod symtable;

pub use diagnostic::{Diagnostic, ErrorKind};
pub use stack::declare_stack;

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
    /// The source is not valid for the target: the error CPython would raise.
    Source(Diagnostic),
    /// The source uses a construct code generation does not handle yet; nothing is written
    /// for it. `line` is 1-based, `column` a 0-based byte offset.
    Unsupported {
        what: String,
        line: u32,
        column: u32,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::UnsupportedTarget(v) => write!(
                f,
                "code generation for Python {v} is not implemented yet; \
                 pyc-build can read and disassemble {v} pycs but cannot compile for it"
            ),
            CompileError::Source(d) => d.fmt(f),
            CompileError::Unsupported { what, line, column } => write!(
                f,
                "{line}:{}: unsupported: pyc-build cannot compile this {what} yet",
                column + 1
            ),
        }
    }
}

impl std::error::Error for CompileError {}

/// Decodes, parses and builds the symbol table of `source` (the bytes of a `.py` file) for
/// target `v`: the front end up to name resolution.
pub fn symbol_table(source: &[u8], v: PythonVersion) -> Result<symtable::SymbolTable, Diagnostic> {
    let text = source::decode(source, v)?;
    let parsed = parse::parse(&text, v)?;
    symtable::build(&parsed.module, &text, v)
}

/// Runs the whole front end on `source` (the bytes of a `.py` file) for target `v`: decoding,
/// parsing, the symbol table and the compiler's own checks. Returns the symbol table, or the
/// first error CPython's `compile()` raises for the source.
pub fn check(source: &[u8], v: PythonVersion) -> Result<symtable::SymbolTable, Diagnostic> {
    let text = source::decode(source, v)?;
    let parsed = parse::parse(&text, v)?;
    let table = symtable::build_with_lines(&parsed.module, &text, &parsed.lines, v)?;
    checks::check(&parsed.module, &table, &parsed.lines, v)?;
    Ok(table)
}

/// Compiles `source` (the bytes of a `.py` file) as CPython's `compile(source, filename,
/// "exec")` would for `options.target`.
pub fn compile(
    source: &[u8],
    filename: &str,
    options: &CompileOptions,
) -> Result<CodeObject, CompileError> {
    compile_inner(source, filename, options, false).map(|(code, _)| code)
}

/// [`compile`], with the snapshots `pyc-build explain` shows when `trace` is set.
fn compile_inner(
    source: &[u8],
    filename: &str,
    options: &CompileOptions,
    trace: bool,
) -> Result<(CodeObject, Vec<explain::UnitSnapshot>), CompileError> {
    let v = options.target;
    if !v.has_codegen() {
        return Err(CompileError::UnsupportedTarget(v));
    }
    let text = source::decode(source, v).map_err(CompileError::Source)?;
    let mut parsed = parse::parse(&text, v).map_err(CompileError::Source)?;
    let folded = fold::fold(&mut parsed.module, &text, v, options.optimize);
    let table = symtable::build_with_lines(&parsed.module, &text, &parsed.lines, v)
        .map_err(CompileError::Source)?;
    checks::check(&parsed.module, &table, &parsed.lines, v).map_err(CompileError::Source)?;
    let optimize = options.optimize;
    let result = stack::with_large_stack("codegen", || {
        codegen::compile_module_traced(
            &parsed.module,
            &text,
            &parsed.lines,
            &table,
            &folded,
            filename,
            v,
            optimize,
            trace,
        )
    });
    result.map_err(|e| match e {
        codegen::CodegenError::Unsupported { what, line, column } => {
            CompileError::Unsupported { what, line, column }
        }
        codegen::CodegenError::Source {
            kind: _,
            message,
            line,
            column,
        } => CompileError::Source(Diagnostic::new(
            ErrorKind::SyntaxError,
            message,
            line,
            column,
        )),
    })
}
