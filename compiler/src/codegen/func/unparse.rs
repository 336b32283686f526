//! `Python/ast_unparse.c` (3.11): an expression back to source text, for annotations under
//! `from __future__ import annotations`.

use pyc_assembler::PyStr;
use ruff_python_ast::Expr;

use super::super::{CResult, Compiler};

/// `_PyAST_ExprAsUnicode`.
pub(super) fn expr_as_unicode(c: &Compiler<'_>, e: &Expr) -> CResult<PyStr> {
    Err(c.unsupported("annotation string", e))
}
