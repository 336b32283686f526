//! `_PyAST_ExprAsUnicode` (`Python/ast_unparse.c`): an expression back to source text, as
//! annotations under `from __future__ import annotations` are stored.

use ruff_python_ast::Expr;

use super::super::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// The text CPython 3.11 stores for an annotation under `from __future__ import
    /// annotations`.
    pub fn unparse(&self, e: &Expr) -> CResult<String> {
        Err(self.unsupported("annotation under `from __future__ import annotations`", e))
    }
}
