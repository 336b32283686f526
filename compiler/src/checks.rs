//! The errors CPython's compiler (`Python/compile.c`) raises for a module that parsed and got
//! its symbol table: `'return' outside function`, `'break' outside loop`, `'await' outside
//! async function`, `cannot assign to __debug__`, starred assignment targets, late `from
//! __future__` imports, pattern-matching errors, `except*` restrictions and the rest, each with
//! the message and position the target version gives.
//!
//! CPython raises the first error its code generator meets, and it meets them in the order it
//! generates code, which is not always source order: a function's defaults and annotations come
//! before its body, a class's bases after its body, the outermost iterable of a comprehension
//! after the comprehension (3.12+: before, when the comprehension is inlined), a `try`'s `else`
//! before its handlers (3.11+), and a `finally` block is compiled again wherever a `return`,
//! `break` or `continue` leaves it (3.9+) — before its own turn, in 3.8. The walk here follows
//! the code generator of each version: it keeps, like CPython, a stack of compilation units
//! (module, class, function, lambda, comprehension, type-parameter scope) each with its stack
//! of frame blocks (loops, `try`, `with`, handlers), and visits the tree in the same order.
//!
//! Positions: from 3.12 each error carries the location of its node. Up to 3.11 CPython reports
//! the position of the statement or expression it was compiling (`u_lineno`, `u_col_offset`),
//! which is mostly the same node but not always (3.8/3.9 report an asynchronous comprehension
//! at line 0, and a misplaced bare `except:` at the last statement compiled before it); the
//! walk keeps that cursor too.

use pyc_assembler::PythonVersion;
use ruff_python_ast::{self as ast, Expr, ModModule, Stmt};
use ruff_text_size::{Ranged, TextRange};

use crate::diagnostic::{Diagnostic, ErrorKind};
use crate::parse::LineIndex;
use crate::symtable::{ScopeId, ScopeKind, SymbolTable};

mod expr;
mod pattern;
#[cfg(test)]
mod tests;

/// Checks `module` (parsed for `v`, with its symbol table `table`) for the errors CPython's
/// compiler raises, returning the first one CPython would raise.
pub fn check(
    module: &ModModule,
    table: &SymbolTable,
    lines: &LineIndex,
    v: PythonVersion,
) -> Result<(), Diagnostic> {
    let run = || Checker::new(module, table, lines, v).module(module);
    // The walk recurses as deep as the source nests.
    crate::stack::with_large_stack("checks", run)
}

type R = Result<(), Diagnostic>;

/// The version differences of CPython's code generator that decide its errors.
trait CompilerVersion {
    /// 3.9+: assigning `__debug__` is checked by the compiler (3.8's parser checks it).
    fn compiler_checks_debug(self) -> bool;
    /// 3.10+: so is deleting it.
    fn compiler_checks_debug_delete(self) -> bool;
    /// 3.9+: a `finally` block is compiled after its `try` body and again wherever a
    /// `return`, `break` or `continue` leaves it; 3.8 compiles it once, first.
    fn duplicates_finally(self) -> bool;
    /// 3.11+: `try`'s `else` block is compiled before its handlers.
    fn else_before_handlers(self) -> bool;
    /// 3.11+: whether a comprehension may be asynchronous depends on the kind of the
    /// enclosing unit; before, on whether the enclosing scope is a coroutine.
    fn async_comprehension_by_unit(self) -> bool;
    /// 3.12+: errors carry their node's location instead of the unit's current position.
    fn explicit_locations(self) -> bool;
    /// 3.13+: the body of a generator or coroutine is a frame block of its own.
    fn stop_iteration_block(self) -> bool;
    /// 3.13+: `yield from` outside a function has a message of its own.
    fn names_yield_from_outside(self) -> bool;
    /// 3.12+: type-parameter and type-alias scopes count as functions.
    fn pep695(self) -> bool;
    /// 3.10+: errors carry an end position.
    fn has_end_positions(self) -> bool;
    /// `CO_MAXBLOCKS`: how many frame blocks a unit may nest.
    fn max_blocks(self) -> usize;
}

impl CompilerVersion for PythonVersion {
    fn compiler_checks_debug(self) -> bool {
        self.minor() >= 9
    }
    fn compiler_checks_debug_delete(self) -> bool {
        self.minor() >= 10
    }
    fn duplicates_finally(self) -> bool {
        self.minor() >= 9
    }
    fn else_before_handlers(self) -> bool {
        self.minor() >= 11
    }
    fn async_comprehension_by_unit(self) -> bool {
        self.minor() >= 11
    }
    fn explicit_locations(self) -> bool {
        self.minor() >= 12
    }
    fn stop_iteration_block(self) -> bool {
        self.minor() >= 13
    }
    fn names_yield_from_outside(self) -> bool {
        self.minor() >= 13
    }
    fn pep695(self) -> bool {
        self.minor() >= 12
    }
    fn has_end_positions(self) -> bool {
        self.minor() >= 10
    }
    fn max_blocks(self) -> usize {
        if self.minor() >= 13 {
            21
        } else {
            20
        }
    }
}

/// A position as CPython's compiler keeps it: 1-based lines, 0-based byte columns. Line 0
/// stands for "no position" (a fresh unit before 3.10, CPython's `NO_LOCATION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Loc {
    line: u32,
    col: u32,
    end_line: u32,
    end_col: u32,
}

/// What kind of code a compilation unit makes (CPython's `COMPILER_SCOPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnitKind {
    Module,
    Class,
    Function,
    AsyncFunction,
    Lambda,
    Comprehension,
    TypeParams,
}

/// A frame block (CPython's `fblocktype`): what a `break`, `continue` or `return` has to
/// unwind, and what counts toward `CO_MAXBLOCKS`.
#[derive(Clone, Copy, Debug)]
enum Block<'a> {
    WhileLoop,
    ForLoop,
    /// The body of a `try` with handlers.
    TryExcept,
    /// The body of a `try` with a `finally` block, which unwinding compiles again (3.9+).
    FinallyTry(&'a [Stmt]),
    /// The `finally` block itself.
    FinallyEnd,
    /// The body of a `with`.
    With,
    AsyncWith,
    /// The body of an `except` handler.
    HandlerCleanup,
    /// Around all the handlers of a `try` (3.9+).
    ExceptionHandler,
    /// Around all the handlers of a `try` with `except*` (3.11+).
    ExceptionGroupHandler,
    /// One `async for` of a comprehension (3.10+).
    AsyncComprehension,
    /// The body of a generator or coroutine (3.13+).
    StopIteration,
    /// A `return` value kept while a `finally` block runs (3.9+).
    PopValue,
}

/// A compilation unit: one code object being generated.
#[derive(Debug)]
struct Unit<'a> {
    /// Its scope in the symbol table (`u_ste`).
    scope: ScopeId,
    kind: UnitKind,
    blocks: Vec<Block<'a>>,
    /// The position of what is being compiled (`u_lineno`, `u_col_offset`), up to 3.11.
    cursor: Cursor,
}

/// A unit's position: set from a statement, or the range of the expression being compiled,
/// whose position is computed only if an error needs it.
#[derive(Clone, Copy, Debug)]
enum Cursor {
    At(Loc),
    Expr(TextRange),
}

/// The walk over a module in CPython's code generation order.
struct Checker<'a> {
    table: &'a SymbolTable,
    lines: &'a LineIndex,
    v: PythonVersion,
    units: Vec<Unit<'a>>,
    /// 3.8–3.11: the line of the last `from __future__` import at the top of the module.
    future_line: Option<u32>,
    /// 3.12+: the location of that import (its end decides what comes after it).
    future_loc: Option<Loc>,
}

/// Whether an expression is a constant once CPython's AST optimizer has folded it.
fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::BytesLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::NoneLiteral(_)
        | Expr::EllipsisLiteral(_) => true,
        Expr::UnaryOp(u) => is_constant(&u.operand),
        Expr::BinOp(b) => is_constant(&b.left) && is_constant(&b.right),
        Expr::Tuple(t) => t.elts.iter().all(is_constant),
        _ => false,
    }
}

/// The `__future__` module, imported absolutely.
fn is_future_import(i: &ast::StmtImportFrom, v: PythonVersion) -> bool {
    i.module
        .as_ref()
        .is_some_and(|m| m.as_str() == "__future__")
        && (v.minor() < 13 || i.level == 0)
}

impl<'a> Checker<'a> {
    fn new(
        module: &'a ModModule,
        table: &'a SymbolTable,
        lines: &'a LineIndex,
        v: PythonVersion,
    ) -> Checker<'a> {
        let mut checker = Checker {
            table,
            lines,
            v,
            units: Vec::new(),
            future_line: table.future.last_line,
            future_loc: None,
        };
        if v.explicit_locations() {
            // `Python/future.c` (3.12+): the future imports right at the top, after an
            // optional docstring.
            let body = &module.body;
            let docstring =
                matches!(body.first(), Some(Stmt::Expr(e)) if e.value.is_string_literal_expr());
            for s in &body[usize::from(docstring)..] {
                match s {
                    Stmt::ImportFrom(i)
                        if i.module
                            .as_ref()
                            .is_some_and(|m| m.as_str() == "__future__") =>
                    {
                        checker.future_loc = Some(checker.loc(i.range));
                    }
                    _ => break,
                }
            }
        }
        checker
    }

    fn loc(&self, range: TextRange) -> Loc {
        let (line, col) = self.lines.line_col(range.start());
        let (end_line, end_col) = self.lines.line_col(range.end());
        Loc {
            line,
            col,
            end_line,
            end_col,
        }
    }

    /// A statement's location: a decorated `def` or `class` starts at its keyword, in the
    /// column of its decorators.
    fn stmt_loc(&self, s: &Stmt) -> Loc {
        let (decorators, name) = match s {
            Stmt::FunctionDef(f) => (&f.decorator_list, &f.name),
            Stmt::ClassDef(c) => (&c.decorator_list, &c.name),
            _ => return self.loc(s.range()),
        };
        let mut loc = self.loc(s.range());
        if let Some(first) = decorators.first() {
            loc.line = self.lines.line_col(name.range.start()).0;
            loc.col = self.lines.line_col(first.range.start()).1;
        }
        loc
    }

    fn unit(&self) -> &Unit<'a> {
        self.units.last().expect("a unit is open while checking")
    }

    fn unit_mut(&mut self) -> &mut Unit<'a> {
        self.units
            .last_mut()
            .expect("a unit is open while checking")
    }

    fn set_cursor(&mut self, loc: Loc) {
        self.unit_mut().cursor = Cursor::At(loc);
    }

    /// The unit's position.
    fn cursor(&self) -> Loc {
        match self.unit().cursor {
            Cursor::At(loc) => loc,
            Cursor::Expr(range) => self.loc(range),
        }
    }

    /// Where an error is reported: the node's own location from 3.12, the unit's current
    /// position before.
    fn at(&self, node: Loc) -> Loc {
        if self.v.explicit_locations() {
            node
        } else {
            self.cursor()
        }
    }

    /// A `SyntaxError` at `loc` (CPython's `compiler_error`).
    fn error(&self, loc: Loc, message: impl Into<String>) -> Diagnostic {
        let mut d = Diagnostic::new(ErrorKind::SyntaxError, message, loc.line, loc.col + 1);
        if self.v.has_end_positions() {
            d.end = Some((loc.end_line, loc.end_col + 1));
        }
        d
    }

    fn enter(&mut self, scope: ScopeId, kind: UnitKind) {
        self.units.push(Unit {
            scope,
            kind,
            blocks: Vec::new(),
            cursor: Cursor::At(Loc::default()),
        });
    }

    fn exit(&mut self) {
        self.units.pop();
    }

    /// Whether the current unit's scope is a function for `return`, `yield` and `await`.
    fn in_function(&self) -> bool {
        let scope = self.table.scope(self.unit().scope);
        if self.v.pep695() {
            scope.is_function_like()
        } else {
            scope.kind == ScopeKind::Function
        }
    }

    /// `compiler_push_fblock`.
    fn push_block(&mut self, block: Block<'a>, loc: Loc) -> R {
        if self.unit().blocks.len() >= self.v.max_blocks() {
            let message = "too many statically nested blocks";
            // 3.8 raises it without a position.
            if self.v.minor() == 8 {
                return Err(Diagnostic::new(ErrorKind::SyntaxError, message, 0, 0));
            }
            return Err(self.error(self.at(loc), message));
        }
        self.unit_mut().blocks.push(block);
        Ok(())
    }

    fn pop_block(&mut self) {
        self.unit_mut().blocks.pop();
    }

    fn module(&mut self, module: &'a ModModule) -> R {
        self.enter(SymbolTable::ROOT, UnitKind::Module);
        self.stmts(&module.body)?;
        self.exit();
        Ok(())
    }

    fn stmts(&mut self, body: &'a [Stmt]) -> R {
        body.iter().try_for_each(|s| self.stmt(s))
    }

    /// `compiler_visit_stmt`.
    fn stmt(&mut self, s: &'a Stmt) -> R {
        let loc = self.stmt_loc(s);
        self.set_cursor(loc);
        match s {
            Stmt::FunctionDef(f) => self.function(f, loc)?,
            Stmt::ClassDef(c) => self.class(c, loc)?,
            Stmt::TypeAlias(t) => self.type_alias(t, loc)?,
            Stmt::Return(r) => self.return_(r, loc)?,
            Stmt::Delete(d) => self.exprs(&d.targets)?,
            Stmt::Assign(a) => {
                self.expr(&a.value)?;
                self.exprs(&a.targets)?;
            }
            Stmt::AugAssign(a) => self.aug_assign(a)?,
            Stmt::AnnAssign(a) => self.ann_assign(a, loc)?,
            Stmt::For(f) => self.for_(f, loc)?,
            Stmt::While(w) => {
                self.push_block(Block::WhileLoop, loc)?;
                self.expr(&w.test)?;
                self.stmts(&w.body)?;
                self.pop_block();
                self.stmts(&w.orelse)?;
            }
            Stmt::If(i) => {
                self.expr(&i.test)?;
                self.stmts(&i.body)?;
                self.elif_else(&i.elif_else_clauses)?;
            }
            Stmt::With(w) => {
                if w.is_async && !self.in_async_function() {
                    return Err(self.error(self.at(loc), "'async with' outside async function"));
                }
                self.with(w, 0, loc)?;
            }
            Stmt::Match(m) => self.match_(m)?,
            Stmt::Raise(r) => {
                self.opt_expr(r.exc.as_deref())?;
                self.opt_expr(r.cause.as_deref())?;
            }
            Stmt::Try(t) => self.try_(t, loc)?,
            Stmt::Assert(a) => {
                self.expr(&a.test)?;
                self.opt_expr(a.msg.as_deref())?;
            }
            Stmt::Import(i) => {
                for alias in &i.names {
                    let stored = match &alias.asname {
                        Some(asname) => asname.as_str(),
                        None => alias.name.split('.').next().unwrap_or_default(),
                    };
                    self.store_name(stored, loc)?;
                }
            }
            Stmt::ImportFrom(i) => self.import_from(i, loc)?,
            Stmt::Expr(e) => self.expr(&e.value)?,
            Stmt::Break(_) => self.break_(loc)?,
            Stmt::Continue(_) => self.continue_(loc)?,
            Stmt::Global(_) | Stmt::Nonlocal(_) | Stmt::Pass(_) | Stmt::IpyEscapeCommand(_) => {}
        }
        Ok(())
    }

    /// The `elif` and `else` clauses of an `if`: each `elif` is an `if` statement of its own.
    fn elif_else(&mut self, clauses: &'a [ast::ElifElseClause]) -> R {
        let Some((first, rest)) = clauses.split_first() else {
            return Ok(());
        };
        match &first.test {
            Some(test) => {
                self.set_cursor(self.loc(first.range));
                self.expr(test)?;
                self.stmts(&first.body)?;
                self.elif_else(rest)
            }
            None => self.stmts(&first.body),
        }
    }

    fn in_async_function(&self) -> bool {
        self.unit().kind == UnitKind::AsyncFunction
    }

    /// `compiler_function`.
    fn function(&mut self, f: &'a ast::StmtFunctionDef, loc: Loc) -> R {
        let v = self.v;
        if v.compiler_checks_debug() {
            self.check_debug_params(&f.parameters)?;
        }
        for d in &f.decorator_list {
            self.expr(&d.expression)?;
        }
        self.defaults(&f.parameters)?;
        let type_params = f.type_params.as_deref().filter(|_| v.pep695());
        if let Some(tp) = type_params {
            let Some(scope) = self.table.type_params(tp) else {
                return Ok(());
            };
            self.enter(scope, UnitKind::TypeParams);
            self.set_cursor(loc);
            self.type_params(tp)?;
        }
        self.annotations(&f.parameters, f.returns.as_deref())?;
        if let Some(scope) = self.table.function(f) {
            let kind = if f.is_async {
                UnitKind::AsyncFunction
            } else {
                UnitKind::Function
            };
            self.enter(scope, kind);
            let flags = self.table.scope(scope).flags;
            if v.stop_iteration_block() && (flags.generator || flags.coroutine) {
                self.push_block(Block::StopIteration, Loc::default())?;
            }
            self.stmts(&f.body)?;
            self.exit();
        }
        if type_params.is_some() {
            self.exit();
        }
        self.store_name(&f.name, loc)
    }

    /// `compiler_class`.
    fn class(&mut self, c: &'a ast::StmtClassDef, loc: Loc) -> R {
        for d in &c.decorator_list {
            self.expr(&d.expression)?;
        }
        let type_params = c.type_params.as_deref().filter(|_| self.v.pep695());
        if let Some(tp) = type_params {
            let Some(scope) = self.table.type_params(tp) else {
                return Ok(());
            };
            self.enter(scope, UnitKind::TypeParams);
            self.set_cursor(loc);
            self.type_params(tp)?;
        }
        if let Some(scope) = self.table.class(c) {
            self.enter(scope, UnitKind::Class);
            self.stmts(&c.body)?;
            self.exit();
        }
        if let Some(arguments) = &c.arguments {
            self.call_arguments(arguments)?;
        }
        if type_params.is_some() {
            self.exit();
        }
        self.store_name(&c.name, loc)
    }

    /// `compiler_typealias` (3.12+).
    fn type_alias(&mut self, t: &'a ast::StmtTypeAlias, loc: Loc) -> R {
        let type_params = t.type_params.as_deref();
        if let Some(tp) = type_params {
            let Some(scope) = self.table.type_params(tp) else {
                return Ok(());
            };
            self.enter(scope, UnitKind::TypeParams);
            self.type_params(tp)?;
        }
        if let Some(scope) = self.table.type_alias(t) {
            self.enter(scope, UnitKind::Function);
            self.expr(&t.value)?;
            self.exit();
        }
        if type_params.is_some() {
            self.exit();
        }
        match &*t.name {
            Expr::Name(n) => self.store_name(&n.id, loc),
            _ => Ok(()),
        }
    }

    /// `compiler_type_params` (3.12+): bounds and defaults are lazily evaluated scopes of
    /// their own; 3.13 refuses a parameter without a default after one with.
    fn type_params(&mut self, tp: &'a ast::TypeParams) -> R {
        let mut seen_default = false;
        for param in &tp.type_params {
            let loc = self.loc(param.range());
            let (name, bound, default) = match param {
                ast::TypeParam::TypeVar(t) => (&t.name, t.bound.as_deref(), t.default.as_deref()),
                ast::TypeParam::TypeVarTuple(t) => (&t.name, None, t.default.as_deref()),
                ast::TypeParam::ParamSpec(t) => (&t.name, None, t.default.as_deref()),
            };
            if let (Some(bound), Some(scope)) = (bound, self.table.type_param_bound(param)) {
                self.lazy_value(scope, bound, false)?;
            }
            match default {
                Some(default) => {
                    if let Some(scope) = self.table.type_param_default(param) {
                        let starred = matches!(param, ast::TypeParam::TypeVarTuple(_));
                        self.lazy_value(scope, default, starred)?;
                    }
                    seen_default = true;
                }
                None if seen_default => {
                    return Err(self.error(
                        self.at(loc),
                        format!(
                            "non-default type parameter '{name}' follows default type parameter"
                        ),
                    ));
                }
                None => {}
            }
            self.store_name(name, loc)?;
        }
        Ok(())
    }

    /// A type parameter's bound or default, compiled as a function of its own.
    fn lazy_value(&mut self, scope: ScopeId, e: &'a Expr, allow_starred: bool) -> R {
        self.enter(scope, UnitKind::TypeParams);
        match e {
            Expr::Starred(s) if allow_starred => self.expr(&s.value)?,
            _ => self.expr(e)?,
        }
        self.exit();
        Ok(())
    }

    /// `compiler_default_arguments`: positional defaults, then keyword-only ones.
    fn defaults(&mut self, params: &'a ast::Parameters) -> R {
        let positional = params.posonlyargs.iter().chain(&params.args);
        for p in positional.chain(&params.kwonlyargs) {
            self.opt_expr(p.default.as_deref())?;
        }
        Ok(())
    }

    /// `compiler_visit_annotations`: evaluated unless `from __future__ import annotations`,
    /// in CPython's order (positional before positional-only).
    fn annotations(&mut self, params: &'a ast::Parameters, returns: Option<&'a Expr>) -> R {
        if self.table.future.annotations {
            return Ok(());
        }
        let plain = params.args.iter().chain(&params.posonlyargs);
        for p in plain {
            self.annotation(p.parameter.annotation.as_deref())?;
        }
        if let Some(p) = &params.vararg {
            self.annotation(p.annotation.as_deref())?;
        }
        for p in &params.kwonlyargs {
            self.annotation(p.parameter.annotation.as_deref())?;
        }
        if let Some(p) = &params.kwarg {
            self.annotation(p.annotation.as_deref())?;
        }
        self.annotation(returns)
    }

    fn annotation(&mut self, annotation: Option<&'a Expr>) -> R {
        match annotation {
            // `*args: *Ts` unpacks the annotation.
            Some(Expr::Starred(s)) => self.expr(&s.value),
            other => self.opt_expr(other),
        }
    }

    /// `compiler_check_debug_args` (3.9+): no parameter may be called `__debug__`.
    fn check_debug_params(&mut self, params: &ast::Parameters) -> R {
        fn plain(p: &ast::ParameterWithDefault) -> &ast::Parameter {
            &p.parameter
        }
        let all = (params.posonlyargs.iter().map(plain))
            .chain(params.args.iter().map(plain))
            .chain(params.vararg.as_deref())
            .chain(params.kwonlyargs.iter().map(plain))
            .chain(params.kwarg.as_deref());
        for p in all {
            if p.name.as_str() == "__debug__" {
                let loc = self.at(self.loc(p.range));
                return Err(self.error(loc, "cannot assign to __debug__"));
            }
        }
        Ok(())
    }

    /// `compiler_return`.
    fn return_(&mut self, r: &'a ast::StmtReturn, loc: Loc) -> R {
        if !self.in_function() {
            return Err(self.error(self.at(loc), "'return' outside function"));
        }
        let flags = self.table.scope(self.unit().scope).flags;
        if r.value.is_some() && flags.coroutine && flags.generator {
            return Err(self.error(self.at(loc), "'return' with value in async generator"));
        }
        let preserve = r.value.as_deref().is_some_and(|e| !is_constant(e));
        if let Some(value) = r.value.as_deref().filter(|_| preserve) {
            self.expr(value)?;
        }
        // 3.12+ reports an error while unwinding at the constant value when it is on the
        // `return` line.
        let mut at = loc;
        if let Some(value) = r.value.as_deref().filter(|_| !preserve) {
            let value = self.loc(value.range());
            if value.line == loc.line {
                at = value;
            }
        }
        self.set_cursor(at);
        self.unwind(&mut at, preserve, false)?;
        Ok(())
    }

    /// `compiler_break`.
    fn break_(&mut self, loc: Loc) -> R {
        let mut at = loc;
        if !self.unwind(&mut at, false, true)? {
            self.set_cursor(loc);
            return Err(self.error(self.at(loc), "'break' outside loop"));
        }
        Ok(())
    }

    /// `compiler_continue`.
    fn continue_(&mut self, loc: Loc) -> R {
        let mut at = loc;
        if !self.unwind(&mut at, false, true)? {
            self.set_cursor(loc);
            return Err(self.error(self.at(loc), "'continue' not properly in loop"));
        }
        Ok(())
    }

    /// `compiler_unwind_fblock_stack`: leaves the blocks of the current unit from the top,
    /// down to the innermost loop when `to_loop`, compiling the `finally` blocks on the way
    /// (3.9+). Returns whether a loop was found. `at` is the position an `except*` error is
    /// reported at (unwinding a `with` or `finally` leaves it without one).
    fn unwind(&mut self, at: &mut Loc, preserve: bool, to_loop: bool) -> Result<bool, Diagnostic> {
        let Some(&top) = self.unit().blocks.last() else {
            return Ok(false);
        };
        if matches!(top, Block::ExceptionGroupHandler) {
            let message = "'break', 'continue' and 'return' cannot appear in an except* block";
            return Err(self.error(self.at(*at), message));
        }
        if to_loop && matches!(top, Block::WhileLoop | Block::ForLoop) {
            return Ok(true);
        }
        if !self.v.duplicates_finally() {
            // 3.8: nothing to compile on the way out.
            return Ok(self
                .unit()
                .blocks
                .iter()
                .any(|b| matches!(b, Block::WhileLoop | Block::ForLoop)));
        }
        self.unit_mut().blocks.pop();
        match top {
            Block::FinallyTry(finalbody) => {
                if preserve {
                    self.push_block(Block::PopValue, *at)?;
                }
                let line = self.cursor().line;
                self.stmts(finalbody)?;
                if preserve {
                    self.pop_block();
                }
                // 3.9 goes back to the line it was at; later versions leave the code after
                // a `finally` block without a position.
                if self.v.has_end_positions() {
                    self.set_cursor(Loc::default());
                } else {
                    let mut cursor = self.cursor();
                    cursor.line = line;
                    self.set_cursor(cursor);
                }
                *at = Loc::default();
            }
            Block::With | Block::AsyncWith => {
                if self.v.has_end_positions() {
                    self.set_cursor(Loc::default());
                }
                *at = Loc::default();
            }
            _ => {}
        }
        let found = self.unwind(at, preserve, to_loop)?;
        self.unit_mut().blocks.push(top);
        Ok(found)
    }

    /// `compiler_for` and `compiler_async_for`.
    fn for_(&mut self, f: &'a ast::StmtFor, loc: Loc) -> R {
        if f.is_async {
            if !self.in_async_function() {
                return Err(self.error(self.at(loc), "'async for' outside async function"));
            }
            self.expr(&f.iter)?;
            self.push_block(Block::ForLoop, loc)?;
        } else {
            self.push_block(Block::ForLoop, loc)?;
            self.expr(&f.iter)?;
        }
        self.expr(&f.target)?;
        self.stmts(&f.body)?;
        self.pop_block();
        self.stmts(&f.orelse)
    }

    /// `compiler_with` and `compiler_async_with`, one item at a time.
    fn with(&mut self, w: &'a ast::StmtWith, pos: usize, loc: Loc) -> R {
        let Some(item) = w.items.get(pos) else {
            return self.stmts(&w.body);
        };
        self.expr(&item.context_expr)?;
        let block = if w.is_async {
            Block::AsyncWith
        } else {
            Block::With
        };
        self.push_block(block, self.loc(item.context_expr.range()))?;
        self.opt_expr(item.optional_vars.as_deref())?;
        self.with(w, pos + 1, loc)?;
        self.pop_block();
        if !self.v.duplicates_finally() {
            // 3.8 ends each item with a `finally` block of its own.
            self.push_block(Block::FinallyEnd, loc)?;
            self.pop_block();
        }
        Ok(())
    }

    /// `compiler_try`, `compiler_try_star`.
    fn try_(&mut self, t: &'a ast::StmtTry, loc: Loc) -> R {
        if t.finalbody.is_empty() {
            return self.try_except(t, loc);
        }
        if !self.v.duplicates_finally() {
            self.push_block(Block::FinallyEnd, loc)?;
            self.stmts(&t.finalbody)?;
            self.pop_block();
            self.set_cursor(loc);
            self.push_block(Block::FinallyTry(&t.finalbody), loc)?;
            self.try_body(t, loc)?;
            self.pop_block();
            return Ok(());
        }
        self.push_block(Block::FinallyTry(&t.finalbody), loc)?;
        self.try_body(t, loc)?;
        self.pop_block();
        self.stmts(&t.finalbody)?;
        self.push_block(Block::FinallyEnd, Loc::default())?;
        self.stmts(&t.finalbody)?;
        self.pop_block();
        Ok(())
    }

    fn try_body(&mut self, t: &'a ast::StmtTry, loc: Loc) -> R {
        if t.handlers.is_empty() {
            self.stmts(&t.body)
        } else {
            self.try_except(t, loc)
        }
    }

    /// `compiler_try_except`, `compiler_try_star_except`.
    fn try_except(&mut self, t: &'a ast::StmtTry, loc: Loc) -> R {
        let v = self.v;
        self.push_block(Block::TryExcept, loc)?;
        self.stmts(&t.body)?;
        self.pop_block();
        let else_first = v.else_before_handlers() && !t.is_star;
        if else_first {
            self.stmts(&t.orelse)?;
        }
        let group = if t.is_star {
            Block::ExceptionGroupHandler
        } else {
            Block::ExceptionHandler
        };
        if v.duplicates_finally() {
            self.push_block(group, loc)?;
        }
        let n = t.handlers.len();
        for (i, handler) in t.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(h) = handler;
            let hloc = self.loc(h.range);
            // 3.8 and 3.9 check before moving to the handler.
            if v.has_end_positions() {
                self.set_cursor(hloc);
            }
            if h.type_.is_none() && i + 1 < n && !t.is_star {
                return Err(self.error(self.at(hloc), "default 'except:' must be last"));
            }
            self.set_cursor(hloc);
            self.opt_expr(h.type_.as_deref())?;
            if let Some(name) = &h.name {
                self.store_name(name, hloc)?;
            }
            self.push_block(Block::HandlerCleanup, hloc)?;
            self.stmts(&h.body)?;
            self.pop_block();
            if h.name.is_some() && !v.duplicates_finally() {
                self.push_block(Block::FinallyEnd, hloc)?;
                self.pop_block();
            }
        }
        if v.duplicates_finally() {
            self.pop_block();
        }
        if !else_first {
            self.stmts(&t.orelse)?;
        }
        Ok(())
    }

    /// `compiler_from_import`.
    fn import_from(&mut self, i: &'a ast::StmtImportFrom, loc: Loc) -> R {
        if is_future_import(i, self.v) && self.after_future(loc) {
            return Err(self.error(
                self.at(loc),
                "from __future__ imports must occur at the beginning of the file",
            ));
        }
        for alias in &i.names {
            if alias.name.as_str() == "*" {
                break;
            }
            let stored = alias.asname.as_ref().unwrap_or(&alias.name);
            self.store_name(stored, loc)?;
        }
        Ok(())
    }

    /// Whether a statement at `loc` comes after the future imports at the top.
    fn after_future(&self, loc: Loc) -> bool {
        if self.v.explicit_locations() {
            self.future_loc.is_none_or(|f| {
                loc.line > f.end_line || (loc.line == f.end_line && loc.col > f.end_col)
            })
        } else {
            self.future_line.is_none_or(|line| loc.line > line)
        }
    }

    /// `compiler_augassign`: the target is read, the value computed, the target written.
    fn aug_assign(&mut self, a: &'a ast::StmtAugAssign) -> R {
        let target = self.loc(a.target.range());
        match &*a.target {
            Expr::Name(n) => {
                self.expr(&a.value)?;
                if self.v.has_end_positions() {
                    self.set_cursor(target);
                }
                self.store_name(&n.id, target)
            }
            Expr::Attribute(at) => {
                self.expr(&at.value)?;
                self.expr(&a.value)
            }
            Expr::Subscript(s) => {
                self.expr(&s.value)?;
                self.expr(&s.slice)?;
                self.expr(&a.value)
            }
            _ => self.expr(&a.value),
        }
    }

    /// `compiler_annassign`.
    fn ann_assign(&mut self, a: &'a ast::StmtAnnAssign, loc: Loc) -> R {
        if let Some(value) = &a.value {
            self.expr(value)?;
            self.expr(&a.target)?;
        }
        let evaluated = !self.table.future.annotations
            && matches!(self.unit().kind, UnitKind::Module | UnitKind::Class);
        let debug = self.v.compiler_checks_debug();
        match &*a.target {
            Expr::Name(n) => {
                if debug && n.id.as_str() == "__debug__" {
                    return Err(self.error(self.at(loc), "cannot assign to __debug__"));
                }
                if a.simple && evaluated {
                    self.expr(&a.annotation)?;
                }
            }
            Expr::Attribute(at) => {
                if debug && at.attr.as_str() == "__debug__" {
                    return Err(self.error(self.at(loc), "cannot assign to __debug__"));
                }
                if a.value.is_none() {
                    self.expr(&at.value)?;
                }
            }
            Expr::Subscript(s) if a.value.is_none() => {
                self.expr(&s.value)?;
                self.annotated_subscript(&s.slice)?;
            }
            _ => {}
        }
        if !a.simple && evaluated {
            self.expr(&a.annotation)?;
        }
        Ok(())
    }

    /// `check_ann_subscr`: the parts of an annotated subscript target.
    fn annotated_subscript(&mut self, e: &'a Expr) -> R {
        match e {
            Expr::Slice(s) => {
                self.opt_expr(s.lower.as_deref())?;
                self.opt_expr(s.upper.as_deref())?;
                self.opt_expr(s.step.as_deref())
            }
            Expr::Tuple(t) => t.elts.iter().try_for_each(|e| self.annotated_subscript(e)),
            _ => self.expr(e),
        }
    }

    /// A name bound by a statement (`compiler_nameop` with `Store`): 3.9+ refuses
    /// `__debug__`.
    fn store_name(&mut self, name: &str, loc: Loc) -> R {
        if self.v.compiler_checks_debug() && name == "__debug__" {
            return Err(self.error(self.at(loc), "cannot assign to __debug__"));
        }
        Ok(())
    }
}
