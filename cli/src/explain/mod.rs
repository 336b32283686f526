//! `pyc-build explain`: what each compiler pass makes of a source file, as text, as JSON
//! (`docs/explain-json.md`), as Graphviz (the `cfg` pass) or as one self-contained HTML page.
//!
//! Every pass first builds its JSON value (the documented schema); the text rendering reads
//! that value, so the two never disagree.

use std::path::{Path, PathBuf};

use pyc_assembler::{CodeObject, PythonVersion};
use pyc_compiler::{CompileError, CompileOptions};
use serde_json::{json, Value};

mod compare;
mod html;
mod marshal;
mod passes;
mod stack;
mod text;

pub use stack::{stack_report, StackReport, StackRow};

/// The passes `explain` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Tokens,
    Ast,
    Fold,
    Symtable,
    Codegen,
    Cfg,
    Stack,
    Lines,
    Exceptions,
    Marshal,
}

impl Pass {
    /// Every pass, in pipeline order.
    pub const ALL: [Pass; 10] = [
        Pass::Tokens,
        Pass::Ast,
        Pass::Fold,
        Pass::Symtable,
        Pass::Codegen,
        Pass::Cfg,
        Pass::Stack,
        Pass::Lines,
        Pass::Exceptions,
        Pass::Marshal,
    ];

    /// The pass's name on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Tokens => "tokens",
            Pass::Ast => "ast",
            Pass::Fold => "fold",
            Pass::Symtable => "symtable",
            Pass::Codegen => "codegen",
            Pass::Cfg => "cfg",
            Pass::Stack => "stack",
            Pass::Lines => "lines",
            Pass::Exceptions => "exceptions",
            Pass::Marshal => "marshal",
        }
    }

    /// Whether the pass needs code generation (and so a target pyc-build can compile for).
    pub fn needs_codegen(self) -> bool {
        !matches!(self, Pass::Tokens | Pass::Ast | Pass::Fold | Pass::Symtable)
    }

    /// Whether the pass is shown per code object (and so can be narrowed with `--function`).
    pub fn per_unit(self) -> bool {
        matches!(
            self,
            Pass::Codegen | Pass::Cfg | Pass::Stack | Pass::Lines | Pass::Exceptions
        )
    }
}

impl std::str::FromStr for Pass {
    type Err = String;
    fn from_str(s: &str) -> Result<Pass, String> {
        Pass::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Pass::ALL.iter().map(|p| p.name()).collect();
                format!("unknown pass {s:?} (one of {})", names.join(", "))
            })
    }
}

/// How the result is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// Graphviz, for the `cfg` pass.
    Dot,
}

/// Why `explain` could not show a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExplainError {
    /// The source is invalid: the error CPython raises (exit status 1).
    Source(String),
    /// The file uses a construct (or the target) pyc-build cannot compile yet: passes after
    /// the symbol table cannot be shown (exit status 3).
    Unsupported(String),
    /// A usage error or an I/O failure (exit status 2).
    Usage(String),
}

impl std::fmt::Display for ExplainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExplainError::Source(m) | ExplainError::Usage(m) => f.write_str(m),
            ExplainError::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

/// A source file and what to compile it for.
pub struct Input<'a> {
    pub path: &'a Path,
    pub source: &'a [u8],
    pub target: PythonVersion,
}

impl Input<'_> {
    fn filename(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// The source as text, for showing lines next to instructions (lossy for bad bytes).
    fn text(&self) -> String {
        pyc_compiler::source::decode(self.source, self.target)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| String::from_utf8_lossy(self.source).into_owned())
    }

    /// Our code object and the codegen snapshots, or why there are none.
    fn compile(
        &self,
    ) -> Result<(CodeObject, Vec<pyc_compiler::explain::UnitSnapshot>), ExplainError> {
        let options = CompileOptions {
            target: self.target,
            optimize: 0,
        };
        let name = self.filename();
        pyc_compiler::explain::compile_traced(self.source, &name, &options)
            .map_err(|e| compile_error(&name, e))
    }
}

fn compile_error(name: &str, e: CompileError) -> ExplainError {
    match e {
        CompileError::Source(d) => ExplainError::Source(format!(
            "{name}:{}:{}: {}: {}",
            d.line,
            d.column,
            d.kind.name(),
            d.message
        )),
        CompileError::UnsupportedTarget(_) | CompileError::Unsupported { .. } => {
            ExplainError::Unsupported(format!("{name}: {e}"))
        }
    }
}

fn source_error(name: &str, d: pyc_compiler::Diagnostic) -> ExplainError {
    compile_error(name, CompileError::Source(d))
}

/// The JSON value of one pass (see `docs/explain-json.md`), narrowed to the code objects
/// named `function` (a `co_qualname`) for the passes shown per code object.
pub fn pass_json(input: &Input, pass: Pass, function: Option<&str>) -> Result<Value, ExplainError> {
    if function.is_some() && !pass.per_unit() {
        return Err(ExplainError::Usage(format!(
            "--function applies to the passes codegen, cfg, stack, lines and exceptions, not {}",
            pass.name()
        )));
    }
    let body = passes::build(input, pass, function)?;
    let mut out = json!({
        "schema": SCHEMA,
        "file": input.filename(),
        "target": input.target.to_string(),
        "pass": pass.name(),
    });
    if let (Value::Object(o), Value::Object(b)) = (&mut out, body) {
        o.extend(b);
    }
    Ok(out)
}

/// The schema identifier every JSON document carries.
pub const SCHEMA: &str = "pyc-build-explain/1";

/// One pass rendered in `format`.
pub fn render(
    input: &Input,
    pass: Pass,
    function: Option<&str>,
    format: Format,
) -> Result<String, ExplainError> {
    let value = pass_json(input, pass, function)?;
    match format {
        Format::Json => Ok(format!("{value:#}\n")),
        Format::Text => Ok(text::render(&value, pass)),
        Format::Dot if pass == Pass::Cfg => Ok(text::dot(&value)),
        Format::Dot => Err(ExplainError::Usage(
            "--format dot is for the cfg pass".to_string(),
        )),
    }
}

/// The self-contained HTML page: source and bytecode side by side, linked through the
/// location table, with each code object's flow graph.
pub fn render_html(input: &Input) -> Result<String, ExplainError> {
    html::page(input)
}

/// `--compare`: the same code object compiled for several targets, side by side. Targets
/// without code generation show the output of that CPython (found by `find_python`), labelled.
pub fn render_compare(
    input: &Input,
    targets: &[PythonVersion],
    function: Option<&str>,
    format: Format,
    find_python: &dyn Fn(PythonVersion) -> Result<PathBuf, String>,
) -> Result<String, ExplainError> {
    let value = compare::build(input, targets, function, find_python)?;
    match format {
        Format::Json => Ok(format!("{value:#}\n")),
        _ => Ok(compare::text(&value)),
    }
}

/// The code objects of a tree, depth first in `co_consts` order (the order `dis` shows them).
fn code_objects(code: &CodeObject) -> Vec<&CodeObject> {
    fn walk<'a>(c: &'a CodeObject, out: &mut Vec<&'a CodeObject>) {
        out.push(c);
        for n in c.nested_code() {
            walk(n, out);
        }
    }
    let mut out = Vec::new();
    walk(code, &mut out);
    out
}

/// The units `function` selects (all when `None`), or a usage error listing the names.
fn select<T>(
    units: Vec<(String, T)>,
    function: Option<&str>,
) -> Result<Vec<(String, T)>, ExplainError> {
    let Some(f) = function else {
        return Ok(units);
    };
    let names: Vec<String> = units.iter().map(|(q, _)| q.clone()).collect();
    let chosen: Vec<(String, T)> = units.into_iter().filter(|(q, _)| q == f).collect();
    if chosen.is_empty() {
        return Err(ExplainError::Usage(format!(
            "no code object named {f:?}; the file has: {}",
            names.join(", ")
        )));
    }
    Ok(chosen)
}
