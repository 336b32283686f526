//! `match` statements (PEP 634): `compiler_match` and the pattern helpers (3.11 `compile.c`).

use ruff_python_ast as ast;

use super::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// `compiler_match`.
    pub fn match_stmt(&mut self, s: &'a ast::StmtMatch) -> CResult {
        Err(self.unsupported("match statement", s))
    }
}
