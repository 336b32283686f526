//! Expressions: `compiler_visit_expr` and what it uses (3.11 `compile.c`).

use ruff_python_ast::{self as ast, Expr};

use super::ir::BlockId;
use super::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// `compiler_visit_expr`: compiles `e` at its own location, restoring the current one
    /// afterwards.
    pub fn visit_expr(&mut self, e: &'a Expr) -> CResult {
        Err(self.unsupported("expression", e))
    }

    /// `compiler_jump_if`: jumps to `target` when `e` is true (`cond`) or false (`!cond`),
    /// short-circuiting `and`/`or`/`not`/comparisons as CPython does.
    pub fn jump_if(&mut self, e: &'a Expr, target: BlockId, cond: bool) -> CResult {
        let _ = (target, cond);
        Err(self.unsupported("condition", e))
    }

    /// `compiler_call_helper`: the arguments of a call after `n` values already pushed (the
    /// class-definition call uses it for bases and keywords), then `PRECALL`/`CALL` or
    /// `CALL_FUNCTION_EX`.
    pub fn call_helper(
        &mut self,
        n: u32,
        args: &'a [Expr],
        keywords: &'a [ast::Keyword],
        node: &'a Expr,
    ) -> CResult {
        let _ = (n, args, keywords);
        Err(self.unsupported("call", node))
    }
}
