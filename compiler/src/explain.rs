//! What each pass makes of a source, as data for `pyc-build explain`: the tokens, the AST
//! before and after constant folding, and snapshots of every code unit's instruction graph
//! right after codegen and after the optimiser ([`compile_traced`]). The symbol table has its
//! own printer ([`crate::symtable::explain`]); the passes after assembly (stack depths, line
//! and exception tables, marshal) are read from the finished code object.

use pyc_assembler::repr::repr;
use pyc_assembler::{CodeObject, PythonVersion};
use ruff_python_ast::visitor::source_order::{walk_expr, SourceOrderVisitor, TraversalSignal};
use ruff_python_ast::{AnyNodeRef, Expr};
use ruff_text_size::Ranged;

use crate::parse::LineIndex;
use crate::{fold, parse, source, CompileError, CompileOptions, Diagnostic};

/// One instruction of a snapshot (`struct instr`), its argument resolved for reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapInstr {
    /// The opcode or pseudo-instruction name.
    pub op: &'static str,
    /// The argument, for opcodes that take one and are not jumps.
    pub arg: Option<u32>,
    /// What the argument stands for (a constant's repr, a name, an operator), or empty.
    pub argrepr: String,
    /// The block a jump or `SETUP_*` goes to.
    pub target: Option<usize>,
    /// The handler block an exception here goes to (after optimisation only).
    pub except: Option<usize>,
    /// A pseudo-instruction (`SETUP_FINALLY`, `JUMP`, `POP_JUMP_IF_FALSE`, ...).
    pub pseudo: bool,
    /// The location: `lineno` -1 for none.
    pub lineno: i32,
    pub end_lineno: i32,
    pub col_offset: i32,
    pub end_col_offset: i32,
}

/// One basic block of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapBlock {
    /// The block's number (allocation order in codegen, stable across both snapshots).
    pub id: usize,
    pub instrs: Vec<SnapInstr>,
    /// The block control falls into.
    pub next: Option<usize>,
    /// The stack depth at entry, after optimisation (`None` for unreachable blocks).
    pub startdepth: Option<i32>,
}

/// The blocks of one code unit after codegen and after optimisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitSnapshot {
    pub name: String,
    pub qualname: String,
    pub firstlineno: u32,
    /// Blocks in emission order as codegen left them: pseudo-instructions, no line
    /// propagation, nothing removed.
    pub codegen: Vec<SnapBlock>,
    /// Blocks in emission order just before offsets are assigned: real jumps, handlers
    /// resolved, dead code and `NOP`s removed, lines propagated.
    pub cfg: Option<Vec<SnapBlock>>,
}

/// Compiles as [`crate::compile`] and returns, with the module's code object, one snapshot
/// per code object in the order of [`code_objects_postorder`] of the result.
pub fn compile_traced(
    source: &[u8],
    filename: &str,
    options: &CompileOptions,
) -> Result<(CodeObject, Vec<UnitSnapshot>), CompileError> {
    crate::compile_inner(source, filename, options, true)
}

/// The code objects of a tree with children before their parent, in `co_consts` order: the
/// order units finish compiling, which is the order of [`compile_traced`]'s snapshots.
pub fn code_objects_postorder(code: &CodeObject) -> Vec<&CodeObject> {
    fn walk<'a>(c: &'a CodeObject, out: &mut Vec<&'a CodeObject>) {
        for n in c.nested_code() {
            walk(n, out);
        }
        out.push(c);
    }
    let mut out = Vec::new();
    walk(code, &mut out);
    out
}

/// A token as the lexer gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The kind (`Name`, `Int`, `Lpar`, `Newline`, `Indent`, ...).
    pub kind: String,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
    /// The token's source text.
    pub text: String,
}

/// The tokens of a source file (decoded as CPython decodes it for `v`). The lexer is
/// ruff's: its kinds are finer than `tokenize`'s (`Lpar` rather than `OP`).
pub fn tokens(data: &[u8], v: PythonVersion) -> Result<Vec<Token>, Diagnostic> {
    let text = source::decode(data, v)?;
    parse::parse(&text, v)?;
    let lines = LineIndex::new(&text);
    let parsed = ruff_python_parser::parse_unchecked(
        &text,
        ruff_python_parser::ParseOptions::from(ruff_python_parser::Mode::Module),
    );
    Ok(parsed
        .tokens()
        .iter()
        .map(|t| {
            let (line, col) = lines.line_col(t.start());
            let (end_line, end_col) = lines.line_col(t.end());
            Token {
                kind: format!("{:?}", t.kind()),
                line,
                col,
                end_line,
                end_col,
                text: text[t.range()].to_string(),
            }
        })
        .collect())
}

/// One node of the AST, in source order with its depth in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AstNode {
    pub depth: usize,
    /// ruff's node kind (`StmtFunctionDef`, `ExprBinOp`, ...).
    pub kind: String,
    pub line: u32,
    pub col: u32,
    pub end_line: u32,
    pub end_col: u32,
    /// For identifiers and literals: the source text, shortened.
    pub text: Option<String>,
    /// After folding: the constant this expression became (its repr); its children are not
    /// listed, since codegen sees only the constant.
    pub folded: Option<String>,
}

/// The AST of a source (`folded`: after constant folding, with each folded expression's
/// constant).
pub fn ast(data: &[u8], v: PythonVersion, folded: bool) -> Result<Vec<AstNode>, Diagnostic> {
    let text = source::decode(data, v)?;
    let mut parsed = parse::parse(&text, v)?;
    let table = folded.then(|| fold::fold(&mut parsed.module, &text, v, 0));
    let mut walker = Walker {
        text: &text,
        lines: &parsed.lines,
        folded: table.as_ref(),
        v,
        depth: 0,
        out: Vec::new(),
    };
    walker.node("ModModule", parsed.module.range(), None, None);
    walker.depth = 1;
    walker.visit_body(&parsed.module.body);
    Ok(walker.out)
}

struct Walker<'a> {
    text: &'a str,
    lines: &'a LineIndex,
    folded: Option<&'a fold::Folded>,
    v: PythonVersion,
    depth: usize,
    out: Vec<AstNode>,
}

impl Walker<'_> {
    fn node(
        &mut self,
        kind: &str,
        range: ruff_text_size::TextRange,
        text: Option<String>,
        folded: Option<String>,
    ) {
        let (line, col) = self.lines.line_col(range.start());
        let (end_line, end_col) = self.lines.line_col(range.end());
        self.out.push(AstNode {
            depth: self.depth,
            kind: kind.to_string(),
            line,
            col,
            end_line,
            end_col,
            text,
            folded,
        });
    }
}

/// The source text of a leaf worth showing, at most 40 characters.
fn leaf_text(node: AnyNodeRef, text: &str) -> Option<String> {
    let shown = matches!(
        node,
        AnyNodeRef::Identifier(_)
            | AnyNodeRef::ExprName(_)
            | AnyNodeRef::ExprNumberLiteral(_)
            | AnyNodeRef::ExprStringLiteral(_)
            | AnyNodeRef::ExprBytesLiteral(_)
            | AnyNodeRef::ExprBooleanLiteral(_)
            | AnyNodeRef::ExprNoneLiteral(_)
            | AnyNodeRef::Alias(_)
            | AnyNodeRef::Parameter(_)
    );
    shown.then(|| {
        let s = text.get(node.range().start().to_usize()..node.range().end().to_usize())?;
        let s: String = s.chars().take(40).collect();
        Some(s.replace('\n', "\\n"))
    })?
}

impl<'a> SourceOrderVisitor<'a> for Walker<'a> {
    fn enter_node(&mut self, node: AnyNodeRef<'a>) -> TraversalSignal {
        let text = leaf_text(node, self.text);
        self.node(&format!("{:?}", node.kind()), node.range(), text, None);
        self.depth += 1;
        TraversalSignal::Traverse
    }

    fn leave_node(&mut self, _node: AnyNodeRef<'a>) {
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Some(c) = self.folded.and_then(|f| f.constant(expr)) {
            let kind = format!("{:?}", AnyNodeRef::from(expr).kind());
            let shown = repr(c, self.v);
            self.node(&kind, expr.range(), None, Some(shown));
            return;
        }
        walk_expr(self, expr);
    }
}
