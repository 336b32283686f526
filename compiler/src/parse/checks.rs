//! What CPython's parser refuses but ruff's accepts, found on the AST: non-ASCII characters
//! in bytes literals, and (3.8, whose AST builder checked them) assignments to `__debug__` and
//! repeated keyword arguments. Also the limit on nesting that CPython's parser stack sets.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Parameter, Pattern, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};

use super::messages::Context;
use crate::diagnostic::Diagnostic;

/// The first such error in source order, with its byte offset.
pub(crate) fn check(ctx: &Context) -> Option<(u32, Diagnostic)> {
    let mut c = Checker {
        ctx,
        found: None,
        depth: 0,
        only_depth: !ctx.v.ast_builder_checks_names() && ctx.text.is_ascii(),
    };
    c.visit_body(&ctx.module.body);
    c.found
}

struct Checker<'a, 'b> {
    ctx: &'b Context<'a>,
    found: Option<(u32, Diagnostic)>,
    /// Statements, expressions and patterns enclosing the node visited.
    depth: u32,
    /// Only the nesting limit can be exceeded: no name is checked and no bytes literal holds
    /// a non-ASCII character (the text has none).
    only_depth: bool,
}

/// The nesting of statements, expressions and patterns refused as too complex: CPython's parser
/// stack (`MAXSTACK`) holds 6000 rules, and its compiler gives up at about half that depth (see
/// the symbol table's limit), so no source that compiles is refused here.
pub(crate) const MAX_DEPTH: u32 = 6000;

impl Checker<'_, '_> {
    /// Whether the node at `range` is too small to nest beyond the limit, when nothing else
    /// is checked: going from a node to a child shortens the range, except from an expression
    /// statement or a value pattern to its expression (which shortens it next), so a node
    /// nests at most twice its length in bytes (three times here, to spare any doubt).
    fn skips(&self, range: TextRange) -> bool {
        self.only_depth
            && 3 * range.len().to_u32() as u64 + 3 + u64::from(self.depth) < u64::from(MAX_DEPTH)
    }

    fn report(&mut self, at: TextSize, message: &str) {
        if self.found.as_ref().is_none_or(|(o, _)| at.to_u32() < *o) {
            self.found = Some((at.to_u32(), self.ctx.syntax(message, at)));
        }
    }

    /// Visits a node's children one level deeper, or reports the node when that is too deep
    /// (then its children are not visited: the walk stays within the stack).
    fn nested(&mut self, at: TextSize, walk: impl FnOnce(&mut Self)) {
        if self.depth >= MAX_DEPTH {
            self.report(
                at,
                "Parser stack overflowed - Python source too complex to parse",
            );
            return;
        }
        self.depth += 1;
        walk(self);
        self.depth -= 1;
    }

    /// 3.8's AST builder refused binding `__debug__`.
    fn debug_name(&mut self, name: &str, at: TextSize) {
        if self.ctx.v.ast_builder_checks_names() && name == "__debug__" {
            self.report(at, "cannot assign to __debug__");
        }
    }
}

impl<'a> Visitor<'a> for Checker<'a, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.skips(stmt.range()) {
            return;
        }
        if let Stmt::FunctionDef(f) = stmt {
            self.debug_name(f.name.as_str(), f.name.range.start());
        }
        self.nested(stmt.start(), |c| visitor::walk_stmt(c, stmt));
    }

    fn visit_pattern(&mut self, pattern: &'a Pattern) {
        if self.skips(pattern.range()) {
            return;
        }
        self.nested(pattern.start(), |c| visitor::walk_pattern(c, pattern));
    }

    fn visit_parameter(&mut self, p: &'a Parameter) {
        self.debug_name(p.name.as_str(), p.name.range.start());
        visitor::walk_parameter(self, p);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.skips(expr.range()) {
            return;
        }
        match expr {
            Expr::BytesLiteral(b) => {
                for part in b.value.iter() {
                    if !self.ctx.text[part.range()].is_ascii() {
                        let msg = if self.ctx.v.pegen_messages() {
                            "bytes can only contain ASCII literal characters"
                        } else {
                            "bytes can only contain ASCII literal characters."
                        };
                        self.report(part.range().start(), msg);
                    }
                }
            }
            Expr::Name(n) if n.ctx == ExprContext::Store => {
                self.debug_name(n.id.as_str(), n.range.start());
            }
            Expr::Attribute(a) if a.ctx == ExprContext::Store => {
                self.debug_name(a.attr.as_str(), a.attr.range.start());
            }
            Expr::Call(call) if self.ctx.v.ast_builder_checks_names() => {
                let mut seen: Vec<&str> = Vec::new();
                for kw in call.arguments.keywords.iter() {
                    if let Some(arg) = &kw.arg {
                        self.debug_name(arg.as_str(), kw.range.start());
                        if seen.contains(&arg.as_str()) {
                            self.report(kw.range.start(), "keyword argument repeated");
                        }
                        seen.push(arg.as_str());
                    }
                }
            }
            _ => {}
        }
        self.nested(expr.start(), |c| visitor::walk_expr(c, expr));
    }
}
