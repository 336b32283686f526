//! Statements and frame blocks: `compiler_visit_stmt` and what it uses (3.11 `compile.c`).

use ruff_python_ast::Stmt;

use super::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// `compiler_visit_stmt`.
    pub fn visit_stmt(&mut self, s: &'a Stmt) -> CResult {
        Err(self.unsupported("statement", s))
    }
}
