//! Functions, lambdas, classes, comprehensions and closures (3.11 `compile.c`).

use ruff_python_ast::{self as ast, Expr};

use super::{CResult, Compiler};

impl<'a> Compiler<'a> {
    /// `compiler_function`: a `def` or `async def` statement.
    pub fn function(&mut self, s: &'a ast::StmtFunctionDef) -> CResult {
        Err(self.unsupported("function definition", s))
    }

    /// `compiler_class`.
    pub fn class(&mut self, s: &'a ast::StmtClassDef) -> CResult {
        Err(self.unsupported("class definition", s))
    }

    /// `compiler_lambda`.
    pub fn lambda(&mut self, e: &'a ast::ExprLambda) -> CResult {
        Err(self.unsupported("lambda", e))
    }

    /// `compiler_comprehension` for list, set and dict comprehensions and generator
    /// expressions.
    pub fn comprehension(&mut self, e: &'a Expr) -> CResult {
        Err(self.unsupported("comprehension", e))
    }
}
