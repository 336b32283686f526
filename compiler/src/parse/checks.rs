//! What CPython's parser refuses but ruff's accepts, found on the AST: non-ASCII characters
//! in bytes literals, and (3.8, whose AST builder checked them) assignments to `__debug__` and
//! repeated keyword arguments.

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, Parameter, Stmt};
use ruff_text_size::{Ranged, TextSize};

use super::messages::Context;
use crate::diagnostic::Diagnostic;

/// The first such error in source order, with its byte offset.
pub(crate) fn check(ctx: &Context) -> Option<(u32, Diagnostic)> {
    let mut c = Checker { ctx, found: None };
    c.visit_body(&ctx.module.body);
    c.found
}

struct Checker<'a, 'b> {
    ctx: &'b Context<'a>,
    found: Option<(u32, Diagnostic)>,
}

impl Checker<'_, '_> {
    fn report(&mut self, at: TextSize, message: &str) {
        if self.found.as_ref().is_none_or(|(o, _)| at.to_u32() < *o) {
            self.found = Some((at.to_u32(), self.ctx.syntax(message, at)));
        }
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
        if let Stmt::FunctionDef(f) = stmt {
            self.debug_name(f.name.as_str(), f.name.range.start());
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_parameter(&mut self, p: &'a Parameter) {
        self.debug_name(p.name.as_str(), p.name.range.start());
        visitor::walk_parameter(self, p);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
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
        visitor::walk_expr(self, expr);
    }
}
