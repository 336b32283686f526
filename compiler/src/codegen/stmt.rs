//! Statements and frame blocks: `compiler_visit_stmt` and what it uses (3.11 `compile.c`).
//!
//! Locations follow CPython's AST, which differs from ruff's in two places handled here: a
//! decorated `def` or `class` starts at its keyword, not at its first decorator, and an
//! `elif` clause is an `If` statement nested in the `orelse` of the previous one, starting at
//! its `elif` keyword and ending where the whole `if` statement ends.

use pyc_assembler::{Constant, PyStr};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::{Ranged, TextRange, TextSize};

use super::ir::{BlockId, Op};
use super::{CResult, Compiler, Ctx, FBlock, FBlockDatum, FBlockType, ScopeType};
use crate::symtable::ScopeKind;

/// `CO_MAXBLOCKS`: how deeply frame blocks may nest in one code object.
const CO_MAXBLOCKS: usize = 20;

impl<'a> Compiler<'a> {
    /// `VISIT_SEQ(c, stmt, stmts)`.
    pub fn visit_stmts(&mut self, stmts: &'a [Stmt]) -> CResult {
        for s in stmts {
            self.visit_stmt(s)?;
        }
        Ok(())
    }

    /// `compiler_visit_stmt`: every statement starts at its own location (`SET_LOC`).
    pub fn visit_stmt(&mut self, s: &'a Stmt) -> CResult {
        self.u.loc = self.loc_of(self.stmt_range(s));
        match s {
            Stmt::FunctionDef(f) => self.function(f),
            Stmt::ClassDef(c) => self.class(c),
            Stmt::Return(r) => self.return_stmt(s, r),
            Stmt::Delete(d) => {
                for target in &d.targets {
                    self.visit_expr(target)?;
                }
                Ok(())
            }
            Stmt::Assign(a) => {
                self.visit_expr(&a.value)?;
                let n = a.targets.len();
                for (i, target) in a.targets.iter().enumerate() {
                    if i + 1 < n {
                        self.addop_i(Op::COPY, 1);
                    }
                    self.visit_expr(target)?;
                }
                Ok(())
            }
            Stmt::AugAssign(a) => self.augassign(a),
            Stmt::AnnAssign(a) => self.annassign(a),
            Stmt::For(f) if f.is_async => self.async_for(f),
            Stmt::For(f) => self.for_stmt(f),
            Stmt::While(w) => self.while_stmt(w),
            Stmt::If(i) => {
                let end = self.block_end(i.range.end());
                self.if_stmt(&i.test, &i.body, &i.elif_else_clauses, end)
            }
            Stmt::Match(m) => self.match_stmt(m),
            Stmt::Raise(r) => {
                let mut n = 0;
                if let Some(exc) = &r.exc {
                    self.visit_expr(exc)?;
                    n += 1;
                    if let Some(cause) = &r.cause {
                        self.visit_expr(cause)?;
                        n += 1;
                    }
                }
                self.addop_i(Op::RAISE_VARARGS, n);
                Ok(())
            }
            Stmt::Try(t) if t.is_star => {
                if t.finalbody.is_empty() {
                    self.try_star_except(t)
                } else {
                    self.try_finally(t)
                }
            }
            Stmt::Try(t) => {
                if t.finalbody.is_empty() {
                    self.try_except(t)
                } else {
                    self.try_finally(t)
                }
            }
            Stmt::Assert(a) => self.assert_stmt(a),
            Stmt::Import(i) => self.import(i),
            Stmt::ImportFrom(i) => self.import_from(s, i),
            Stmt::Global(_) | Stmt::Nonlocal(_) => Ok(()),
            Stmt::Expr(e) => self.visit_stmt_expr(e),
            Stmt::Pass(_) => {
                self.addop(Op::NOP);
                Ok(())
            }
            Stmt::Break(_) => self.break_stmt(s),
            Stmt::Continue(_) => self.continue_stmt(s),
            Stmt::With(w) if w.is_async => self.async_with(w, 0),
            Stmt::With(w) => self.with(w, 0),
            Stmt::TypeAlias(_) => Err(self.unsupported("type alias statement", s)),
            Stmt::IpyEscapeCommand(_) => Err(self.unsupported("IPython escape command", s)),
        }
    }

    /// A statement's range as CPython's AST has it: a decorated `def` or `class` starts at
    /// its keyword (`async` included), and a compound statement ends at the last token of
    /// its block (see [`Compiler::block_end`]).
    pub fn stmt_range(&self, s: &Stmt) -> TextRange {
        let range = s.range();
        let (decorated, name, keyword) = match s {
            Stmt::FunctionDef(f) => (!f.decorator_list.is_empty(), f.name.range, "def"),
            Stmt::ClassDef(c) => (!c.decorator_list.is_empty(), c.name.range, "class"),
            Stmt::If(_)
            | Stmt::For(_)
            | Stmt::While(_)
            | Stmt::With(_)
            | Stmt::Try(_)
            | Stmt::Match(_) => return self.compound_range(range),
            _ => return range,
        };
        let end = self.block_end(range.end());
        if !decorated {
            return TextRange::new(range.start(), end);
        }
        let bytes = self.source.as_bytes();
        let back = |mut i: usize| {
            while i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\x0c' | b'\\' | b'\n' | b'\r') {
                i -= 1;
            }
            i
        };
        let mut start = back(usize::from(name.start())).saturating_sub(keyword.len());
        if matches!(s, Stmt::FunctionDef(f) if f.is_async) {
            start = back(start).saturating_sub("async".len());
        }
        let start = TextSize::try_from(start).unwrap_or(range.start());
        TextRange::new(start.max(range.start()), end)
    }

    /// Where CPython ends a block that ends at `end` in ruff's AST: at its last token, which
    /// is the `;` a last simple statement may be followed by (`if a: b;`). Compound
    /// statements and `except` handlers end there.
    pub fn block_end(&self, end: TextSize) -> TextSize {
        let rest = self
            .source
            .as_bytes()
            .get(usize::from(end)..)
            .unwrap_or_default();
        let blanks = rest
            .iter()
            .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\x0c'))
            .count();
        match rest.get(blanks) {
            Some(b';') => end + TextSize::try_from(blanks + 1).unwrap_or_default(),
            _ => end,
        }
    }

    /// The range of a compound statement or `except` handler as CPython's AST has it.
    fn compound_range(&self, range: TextRange) -> TextRange {
        TextRange::new(range.start(), self.block_end(range.end()))
    }

    /// `compiler_visit_stmt_expr`: a constant expression statement is a `NOP`, any other is
    /// evaluated and popped.
    fn visit_stmt_expr(&mut self, s: &'a ast::StmtExpr) -> CResult {
        if self.is_constant(&s.value) && !self.folded.wraps_docstring(s) {
            self.addop(Op::NOP);
            return Ok(());
        }
        self.visit_expr(&s.value)?;
        // The POP_TOP is artificial.
        self.unset_loc();
        self.addop(Op::POP_TOP);
        Ok(())
    }

    // ---- Frame blocks ------------------------------------------------------------------

    /// `compiler_push_fblock`. `node` is where the "too many statically nested blocks"
    /// error points.
    pub fn push_fblock(
        &mut self,
        kind: FBlockType,
        block: BlockId,
        exit: Option<BlockId>,
        datum: FBlockDatum<'a>,
        node: &impl Ranged,
    ) -> CResult {
        if self.u.fblocks.len() >= CO_MAXBLOCKS {
            return Err(self.error("too many statically nested blocks", node));
        }
        self.u.fblocks.push(FBlock {
            kind,
            block,
            exit,
            datum,
        });
        Ok(())
    }

    /// `compiler_pop_fblock`: removes the innermost frame block, which must be of `kind`.
    pub fn pop_fblock(&mut self, kind: FBlockType) {
        let top = self.u.fblocks.pop();
        debug_assert_eq!(top.map(|f| f.kind), Some(kind));
    }

    /// `compiler_call_exit_with_nones`: calls a context manager's `__exit__` with three
    /// `None`s.
    fn call_exit_with_nones(&mut self) {
        self.load_const(Constant::None);
        self.load_const(Constant::None);
        self.load_const(Constant::None);
        self.addop_i(Op::PRECALL, 2);
        self.addop_i(Op::CALL, 2);
    }

    /// `compiler_pop_except_and_reraise`: `[exc_info, lasti, exc]` → restores the previous
    /// exception and re-raises.
    pub fn pop_except_and_reraise(&mut self) {
        self.addop_i(Op::COPY, 3);
        self.addop(Op::POP_EXCEPT);
        self.addop_i(Op::RERAISE, 1);
    }

    /// `compiler_unwind_fblock`: the code that leaves one frame block early. With
    /// `preserve_tos` the value on top of the stack (a return value) is kept above what is
    /// popped.
    fn unwind_fblock(&mut self, info: &FBlock<'a>, preserve_tos: bool, node: &Stmt) -> CResult {
        match info.kind {
            FBlockType::WhileLoop
            | FBlockType::ExceptionHandler
            | FBlockType::ExceptionGroupHandler
            | FBlockType::AsyncComprehensionGenerator => {}
            FBlockType::ForLoop => {
                // Pop the iterator.
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.addop(Op::POP_TOP);
            }
            FBlockType::TryExcept => self.addop(Op::POP_BLOCK),
            FBlockType::FinallyTry => {
                // This POP_BLOCK gets the line number of the unwinding statement.
                self.addop(Op::POP_BLOCK);
                if preserve_tos {
                    self.push_fblock(
                        FBlockType::PopValue,
                        self.u.cur,
                        None,
                        FBlockDatum::None,
                        node,
                    )?;
                }
                // Emit the finally block.
                if let FBlockDatum::Finally(body) = info.datum {
                    self.visit_stmts(body)?;
                }
                if preserve_tos {
                    self.pop_fblock(FBlockType::PopValue);
                }
                // The finally block should appear to execute after the statement causing
                // the unwinding, so the unwinding instruction is artificial.
                self.unset_loc();
            }
            FBlockType::FinallyEnd => {
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.addop(Op::POP_TOP); // exc_value
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.addop(Op::POP_BLOCK);
                self.addop(Op::POP_EXCEPT);
            }
            FBlockType::With | FBlockType::AsyncWith => {
                if let FBlockDatum::With(range) = info.datum {
                    self.set_loc(&range);
                }
                self.addop(Op::POP_BLOCK);
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.call_exit_with_nones();
                if info.kind == FBlockType::AsyncWith {
                    self.addop_i(Op::GET_AWAITABLE, 2);
                    self.load_const(Constant::None);
                    self.add_yield_from(true);
                }
                self.addop(Op::POP_TOP);
                // The exit call should appear to execute after the statement causing the
                // unwinding, so the unwinding instruction is artificial.
                self.unset_loc();
            }
            FBlockType::HandlerCleanup => {
                let name = match info.datum {
                    FBlockDatum::Name(name) => Some(name),
                    _ => None,
                };
                if name.is_some() {
                    self.addop(Op::POP_BLOCK);
                }
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.addop(Op::POP_BLOCK);
                self.addop(Op::POP_EXCEPT);
                if let Some(name) = name {
                    self.load_const(Constant::None);
                    self.nameop(name, Ctx::Store);
                    self.nameop(name, Ctx::Del);
                }
            }
            FBlockType::PopValue => {
                if preserve_tos {
                    self.addop_i(Op::SWAP, 2);
                }
                self.addop(Op::POP_TOP);
            }
        }
        Ok(())
    }

    /// `compiler_unwind_fblock_stack`: unwinds every frame block (or, with `stop_at_loop`,
    /// those inside the innermost loop, which is returned) for a `return`, `break` or
    /// `continue` at `node`. The frame block stack is the same afterwards.
    pub fn unwind_fblock_stack(
        &mut self,
        preserve_tos: bool,
        stop_at_loop: bool,
        node: &Stmt,
    ) -> CResult<Option<FBlock<'a>>> {
        let Some(top) = self.u.fblocks.last().copied() else {
            return Ok(None);
        };
        if top.kind == FBlockType::ExceptionGroupHandler {
            return Err(self.error(
                "'break', 'continue' and 'return' cannot appear in an except* block",
                node,
            ));
        }
        if stop_at_loop && matches!(top.kind, FBlockType::WhileLoop | FBlockType::ForLoop) {
            return Ok(Some(top));
        }
        self.u.fblocks.pop();
        self.unwind_fblock(&top, preserve_tos, node)?;
        let found = self.unwind_fblock_stack(preserve_tos, stop_at_loop, node)?;
        self.u.fblocks.push(top);
        Ok(found)
    }

    // ---- return, break, continue --------------------------------------------------------

    /// `compiler_return`.
    fn return_stmt(&mut self, s: &'a Stmt, r: &'a ast::StmtReturn) -> CResult {
        let value = r.value.as_deref();
        let constant = value.and_then(|v| {
            self.folded
                .is_constant(v)
                .then(|| self.folded.value(v, self.source))
                .flatten()
        });
        let preserve_tos = value.is_some() && constant.is_none();
        let ste = self.ste();
        if ste.kind != ScopeKind::Function {
            return Err(self.error("'return' outside function", s));
        }
        if value.is_some() && ste.flags.coroutine && ste.flags.generator {
            return Err(self.error("'return' with value in async generator", s));
        }
        if let Some(v) = value {
            if preserve_tos {
                self.visit_expr(v)?;
            } else {
                // An instruction with the line number of the return value.
                self.set_loc(v);
                self.addop(Op::NOP);
            }
        }
        let line = self.line_col(s.range().start()).0;
        if value.is_none_or(|v| self.line_col(v.range().start()).0 != line) {
            self.set_loc(s);
            self.addop(Op::NOP);
        }
        self.unwind_fblock_stack(preserve_tos, false, s)?;
        match constant {
            _ if value.is_none() => self.load_const(Constant::None),
            Some(c) => self.load_const(c),
            None => {}
        }
        self.addop(Op::RETURN_VALUE);
        Ok(())
    }

    /// `compiler_break`.
    fn break_stmt(&mut self, s: &'a Stmt) -> CResult {
        // An instruction with the line number.
        self.addop(Op::NOP);
        let Some(lp) = self.unwind_fblock_stack(false, true, s)? else {
            return Err(self.error("'break' outside loop", s));
        };
        self.unwind_fblock(&lp, false, s)?;
        match lp.exit {
            Some(exit) => self.addop_j(Op::JUMP, exit),
            None => return Err(self.unsupported("loop without exit block", s)),
        }
        Ok(())
    }

    /// `compiler_continue`.
    fn continue_stmt(&mut self, s: &'a Stmt) -> CResult {
        self.addop(Op::NOP);
        let Some(lp) = self.unwind_fblock_stack(false, true, s)? else {
            return Err(self.error("'continue' not properly in loop", s));
        };
        self.addop_j(Op::JUMP, lp.block);
        Ok(())
    }

    // ---- if, while, for -----------------------------------------------------------------

    /// `compiler_if` for an `if` and its `elif`/`else` clauses; each `elif` is compiled as
    /// the `If` statement CPython nests in the `orelse` of the previous one, ending at `end`.
    fn if_stmt(
        &mut self,
        test: &'a Expr,
        body: &'a [Stmt],
        clauses: &'a [ast::ElifElseClause],
        end_pos: TextSize,
    ) -> CResult {
        let end = self.new_block();
        let next = if clauses.is_empty() {
            end
        } else {
            self.new_block()
        };
        self.jump_if(test, next, false)?;
        self.visit_stmts(body)?;
        if let Some((first, rest)) = clauses.split_first() {
            self.addop_j_noline(Op::JUMP, end);
            self.use_next_block(next);
            match &first.test {
                Some(elif_test) => {
                    let range =
                        TextRange::new(first.range.start(), end_pos.max(first.range.start()));
                    self.u.loc = self.loc_of(range);
                    self.if_stmt(elif_test, &first.body, rest, end_pos)?;
                }
                None => self.visit_stmts(&first.body)?,
            }
        }
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_while`.
    fn while_stmt(&mut self, s: &'a ast::StmtWhile) -> CResult {
        let lp = self.new_block();
        let body = self.new_block();
        let anchor = self.new_block();
        let end = self.new_block();
        self.use_next_block(lp);
        self.push_fblock(FBlockType::WhileLoop, lp, Some(end), FBlockDatum::None, s)?;
        self.jump_if(&s.test, anchor, false)?;
        self.use_next_block(body);
        self.visit_stmts(&s.body)?;
        self.u.loc = self.loc_of(self.compound_range(s.range));
        self.jump_if(&s.test, body, true)?;
        self.pop_fblock(FBlockType::WhileLoop);
        self.use_next_block(anchor);
        self.visit_stmts(&s.orelse)?;
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_for`.
    fn for_stmt(&mut self, s: &'a ast::StmtFor) -> CResult {
        let start = self.new_block();
        let body = self.new_block();
        let cleanup = self.new_block();
        let end = self.new_block();
        self.push_fblock(FBlockType::ForLoop, start, Some(end), FBlockDatum::None, s)?;
        self.visit_expr(&s.iter)?;
        self.addop(Op::GET_ITER);
        self.use_next_block(start);
        self.addop_j(Op::FOR_ITER, cleanup);
        self.use_next_block(body);
        self.visit_expr(&s.target)?;
        self.visit_stmts(&s.body)?;
        // The jump back is artificial.
        self.unset_loc();
        self.addop_j(Op::JUMP, start);
        self.use_next_block(cleanup);
        self.pop_fblock(FBlockType::ForLoop);
        self.visit_stmts(&s.orelse)?;
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_async_for`.
    fn async_for(&mut self, s: &'a ast::StmtFor) -> CResult {
        if self.u.scope_type != ScopeType::AsyncFunction {
            return Err(self.error("'async for' outside async function", s));
        }
        let start = self.new_block();
        let except = self.new_block();
        let end = self.new_block();
        self.visit_expr(&s.iter)?;
        self.addop(Op::GET_AITER);
        self.use_next_block(start);
        self.push_fblock(FBlockType::ForLoop, start, Some(end), FBlockDatum::None, s)?;
        // SETUP_FINALLY guards the __anext__ call.
        self.addop_j(Op::SETUP_FINALLY, except);
        self.addop(Op::GET_ANEXT);
        self.load_const(Constant::None);
        self.add_yield_from(true);
        self.addop(Op::POP_BLOCK);
        // Success block for __anext__.
        self.visit_expr(&s.target)?;
        self.visit_stmts(&s.body)?;
        self.unset_loc();
        self.addop_j(Op::JUMP, start);
        self.pop_fblock(FBlockType::ForLoop);
        // Except block for __anext__, at the iterator's line: END_ASYNC_FOR succeeds the
        // `for`, not its body.
        self.use_next_block(except);
        self.set_loc(&*s.iter);
        self.addop(Op::END_ASYNC_FOR);
        self.visit_stmts(&s.orelse)?;
        self.use_next_block(end);
        Ok(())
    }

    // ---- try ----------------------------------------------------------------------------

    /// `compiler_try_finally` (and `compiler_try_star_finally`, which is the same).
    fn try_finally(&mut self, s: &'a ast::StmtTry) -> CResult {
        let body = self.new_block();
        let end = self.new_block();
        let exit = self.new_block();
        let cleanup = self.new_block();
        // `try` block.
        self.addop_j(Op::SETUP_FINALLY, end);
        self.use_next_block(body);
        self.push_fblock(
            FBlockType::FinallyTry,
            body,
            Some(end),
            FBlockDatum::Finally(&s.finalbody),
            s,
        )?;
        if s.handlers.is_empty() {
            self.visit_stmts(&s.body)?;
        } else if s.is_star {
            self.try_star_except(s)?;
        } else {
            self.try_except(s)?;
        }
        self.addop_noline(Op::POP_BLOCK);
        self.pop_fblock(FBlockType::FinallyTry);
        self.visit_stmts(&s.finalbody)?;
        self.addop_j_noline(Op::JUMP, exit);
        // `finally` block.
        self.use_next_block(end);
        self.unset_loc();
        self.addop_j(Op::SETUP_CLEANUP, cleanup);
        self.addop(Op::PUSH_EXC_INFO);
        self.push_fblock(FBlockType::FinallyEnd, end, None, FBlockDatum::None, s)?;
        self.visit_stmts(&s.finalbody)?;
        self.pop_fblock(FBlockType::FinallyEnd);
        self.addop_i(Op::RERAISE, 0);
        self.use_next_block(cleanup);
        self.pop_except_and_reraise();
        self.use_next_block(exit);
        Ok(())
    }

    /// `compiler_try_except`.
    fn try_except(&mut self, s: &'a ast::StmtTry) -> CResult {
        let body = self.new_block();
        let mut except = self.new_block();
        let end = self.new_block();
        let cleanup = self.new_block();
        self.addop_j(Op::SETUP_FINALLY, except);
        self.use_next_block(body);
        self.push_fblock(FBlockType::TryExcept, body, None, FBlockDatum::None, s)?;
        self.visit_stmts(&s.body)?;
        self.pop_fblock(FBlockType::TryExcept);
        self.addop_noline(Op::POP_BLOCK);
        self.visit_stmts(&s.orelse)?;
        self.addop_j_noline(Op::JUMP, end);
        let n = s.handlers.len();
        self.use_next_block(except);

        self.unset_loc();
        self.addop_j(Op::SETUP_CLEANUP, cleanup);
        self.addop(Op::PUSH_EXC_INFO);
        // The runtime pushes a block here.
        self.push_fblock(
            FBlockType::ExceptionHandler,
            except,
            None,
            FBlockDatum::None,
            s,
        )?;
        for (i, handler) in s.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(handler) = handler;
            self.u.loc = self.loc_of(self.compound_range(handler.range));
            if handler.type_.is_none() && i + 1 < n {
                return Err(self.error("default 'except:' must be last", handler));
            }
            except = self.new_block();
            if let Some(type_) = &handler.type_ {
                self.visit_expr(type_)?;
                self.addop(Op::CHECK_EXC_MATCH);
                self.addop_j(Op::POP_JUMP_IF_FALSE, except);
            }
            if let Some(name) = &handler.name {
                let name = name.as_str();
                let cleanup_end = self.new_block();
                let cleanup_body = self.new_block();
                self.nameop(name, Ctx::Store);
                // try:
                //     # body
                // except type as name:
                //     try:
                //         # body
                //     finally:
                //         name = None # in case body contains "del name"
                //         del name
                self.addop_j(Op::SETUP_CLEANUP, cleanup_end);
                self.use_next_block(cleanup_body);
                self.push_fblock(
                    FBlockType::HandlerCleanup,
                    cleanup_body,
                    None,
                    FBlockDatum::Name(name),
                    handler,
                )?;
                self.visit_stmts(&handler.body)?;
                self.pop_fblock(FBlockType::HandlerCleanup);
                // name = None; del name (artificial).
                self.unset_loc();
                self.addop(Op::POP_BLOCK);
                self.addop(Op::POP_BLOCK);
                self.addop(Op::POP_EXCEPT);
                self.clear_handler_name(name);
                self.addop_j(Op::JUMP, end);
                // except:
                self.use_next_block(cleanup_end);
                self.unset_loc();
                self.clear_handler_name(name);
                self.addop_i(Op::RERAISE, 1);
            } else {
                let cleanup_body = self.new_block();
                self.addop(Op::POP_TOP); // exc_value
                self.use_next_block(cleanup_body);
                self.push_fblock(
                    FBlockType::HandlerCleanup,
                    cleanup_body,
                    None,
                    FBlockDatum::None,
                    handler,
                )?;
                self.visit_stmts(&handler.body)?;
                self.pop_fblock(FBlockType::HandlerCleanup);
                self.unset_loc();
                self.addop(Op::POP_BLOCK);
                self.addop(Op::POP_EXCEPT);
                self.addop_j(Op::JUMP, end);
            }
            self.use_next_block(except);
        }
        self.unset_loc();
        self.pop_fblock(FBlockType::ExceptionHandler);
        self.addop_i(Op::RERAISE, 0);
        self.use_next_block(cleanup);
        self.pop_except_and_reraise();
        self.use_next_block(end);
        Ok(())
    }

    /// `name = None; del name` after an `except ... as name` handler.
    fn clear_handler_name(&mut self, name: &str) {
        self.load_const(Constant::None);
        self.nameop(name, Ctx::Store);
        self.nameop(name, Ctx::Del);
    }

    /// `compiler_try_star_except`, as 3.11.7 compiles it: an unmatched handler jumps to a
    /// `POP_TOP` of its own after the handler body (3.11.3 popped and jumped in line).
    fn try_star_except(&mut self, s: &'a ast::StmtTry) -> CResult {
        let body = self.new_block();
        let mut except = self.new_block();
        let orelse = self.new_block();
        let end = self.new_block();
        let cleanup = self.new_block();
        let reraise_star = self.new_block();

        self.addop_j(Op::SETUP_FINALLY, except);
        self.use_next_block(body);
        self.push_fblock(FBlockType::TryExcept, body, None, FBlockDatum::None, s)?;
        self.visit_stmts(&s.body)?;
        self.pop_fblock(FBlockType::TryExcept);
        self.addop_noline(Op::POP_BLOCK);
        self.addop_j_noline(Op::JUMP, orelse);
        let n = s.handlers.len();
        self.use_next_block(except);

        self.unset_loc();
        self.addop_j(Op::SETUP_CLEANUP, cleanup);
        self.addop(Op::PUSH_EXC_INFO);
        // The runtime pushes a block here.
        self.push_fblock(
            FBlockType::ExceptionGroupHandler,
            except,
            None,
            FBlockDatum::None,
            s,
        )?;
        for (i, handler) in s.handlers.iter().enumerate() {
            let ast::ExceptHandler::ExceptHandler(handler) = handler;
            self.u.loc = self.loc_of(self.compound_range(handler.range));
            let handler_loc = self.u.loc;
            except = self.new_block();
            let except_with_error = self.new_block();
            let no_match = self.new_block();
            if i == 0 {
                // [exc] -> [orig, [], exc]: the original group and the list of exceptions
                // raised or re-raised by the handlers.
                self.addop_i(Op::COPY, 1);
                self.addop_i(Op::BUILD_LIST, 0);
                self.addop_i(Op::SWAP, 2);
            }
            if let Some(type_) = &handler.type_ {
                self.visit_expr(type_)?;
                self.addop(Op::CHECK_EG_MATCH);
                self.addop_i(Op::COPY, 1);
                self.addop_j(Op::POP_JUMP_IF_NONE, no_match);
            }
            let cleanup_end = self.new_block();
            let cleanup_body = self.new_block();
            let name = handler.name.as_ref().map(|n| n.as_str());
            match name {
                Some(name) => self.nameop(name, Ctx::Store),
                None => self.addop(Op::POP_TOP), // match
            }
            self.addop_j(Op::SETUP_CLEANUP, cleanup_end);
            self.use_next_block(cleanup_body);
            self.push_fblock(
                FBlockType::HandlerCleanup,
                cleanup_body,
                None,
                name.map_or(FBlockDatum::None, FBlockDatum::Name),
                handler,
            )?;
            self.visit_stmts(&handler.body)?;
            self.pop_fblock(FBlockType::HandlerCleanup);
            // name = None; del name (artificial).
            self.unset_loc();
            self.addop(Op::POP_BLOCK);
            if let Some(name) = name {
                self.clear_handler_name(name);
            }
            self.addop_j(Op::JUMP, except);
            // except:
            self.use_next_block(cleanup_end);
            if let Some(name) = name {
                self.clear_handler_name(name);
            }
            // Add the exception raised to the result list.
            self.addop_i(Op::LIST_APPEND, 3); // exc
            self.addop(Op::POP_TOP); // lasti
            self.addop_j(Op::JUMP, except_with_error);
            self.use_next_block(except);
            // A NOP to hold a propagated location.
            self.addop(Op::NOP);
            self.addop_j(Op::JUMP, except_with_error);
            self.use_next_block(no_match);
            self.u.loc = handler_loc;
            self.addop(Op::POP_TOP); // match (None)
            self.unset_loc();
            self.use_next_block(except_with_error);
            if i + 1 == n {
                // Add exc to the list (if not None it's the unhandled part of the group).
                self.addop_i(Op::LIST_APPEND, 1);
                self.addop_j(Op::JUMP, reraise_star);
            }
        }
        self.unset_loc();
        self.pop_fblock(FBlockType::ExceptionGroupHandler);
        let reraise = self.new_block();
        self.use_next_block(reraise_star);
        self.addop(Op::PREP_RERAISE_STAR);
        self.addop_i(Op::COPY, 1);
        self.addop_j(Op::POP_JUMP_IF_NOT_NONE, reraise);
        // Nothing to re-raise.
        self.addop(Op::POP_TOP);
        self.addop(Op::POP_BLOCK);
        self.addop(Op::POP_EXCEPT);
        self.addop_j(Op::JUMP, end);
        self.use_next_block(reraise);
        self.addop(Op::POP_BLOCK);
        self.addop_i(Op::SWAP, 2);
        self.addop(Op::POP_EXCEPT);
        self.addop_i(Op::RERAISE, 0);
        self.use_next_block(cleanup);
        self.pop_except_and_reraise();
        self.use_next_block(orelse);
        self.visit_stmts(&s.orelse)?;
        self.use_next_block(end);
        Ok(())
    }

    // ---- with ---------------------------------------------------------------------------

    /// `compiler_with_except_finish`: after `WITH_EXCEPT_START`, re-raises unless `__exit__`
    /// returned true.
    fn with_except_finish(&mut self, cleanup: BlockId) {
        self.unset_loc();
        let exit = self.new_block();
        self.addop_j(Op::POP_JUMP_IF_TRUE, exit);
        self.addop_i(Op::RERAISE, 2);
        self.use_next_block(cleanup);
        self.pop_except_and_reraise();
        self.use_next_block(exit);
        self.addop(Op::POP_TOP); // exc_value
        self.addop(Op::POP_BLOCK);
        self.addop(Op::POP_EXCEPT);
        self.addop(Op::POP_TOP);
        self.addop(Op::POP_TOP);
    }

    /// `compiler_with`: the items from `pos` on, then the body.
    fn with(&mut self, s: &'a ast::StmtWith, pos: usize) -> CResult {
        let Some(item) = s.items.get(pos) else {
            return Err(self.unsupported("with statement without items", s));
        };
        let block = self.new_block();
        let fin = self.new_block();
        let exit = self.new_block();
        let cleanup = self.new_block();
        self.visit_expr(&item.context_expr)?;
        // Pushes the bound __exit__.
        self.addop(Op::BEFORE_WITH);
        self.addop_j(Op::SETUP_WITH, fin);
        // SETUP_WITH pushes a finally block.
        self.use_next_block(block);
        self.push_fblock(
            FBlockType::With,
            block,
            Some(fin),
            FBlockDatum::With(self.compound_range(s.range)),
            s,
        )?;
        match &item.optional_vars {
            Some(target) => self.visit_expr(target)?,
            // Discard the result of __enter__().
            None => self.addop(Op::POP_TOP),
        }
        if pos + 1 == s.items.len() {
            self.visit_stmts(&s.body)?;
        } else {
            self.with(s, pos + 1)?;
        }
        // All following code is artificial.
        self.unset_loc();
        self.addop(Op::POP_BLOCK);
        self.pop_fblock(FBlockType::With);
        // Success: call __exit__(None, None, None).
        self.u.loc = self.loc_of(self.compound_range(s.range));
        self.call_exit_with_nones();
        self.addop(Op::POP_TOP);
        self.addop_j(Op::JUMP, exit);
        // Exception.
        self.use_next_block(fin);
        self.addop_j(Op::SETUP_CLEANUP, cleanup);
        self.addop(Op::PUSH_EXC_INFO);
        self.addop(Op::WITH_EXCEPT_START);
        self.with_except_finish(cleanup);
        self.use_next_block(exit);
        Ok(())
    }

    /// `compiler_async_with`.
    fn async_with(&mut self, s: &'a ast::StmtWith, pos: usize) -> CResult {
        if self.u.scope_type != ScopeType::AsyncFunction {
            return Err(self.error("'async with' outside async function", s));
        }
        let Some(item) = s.items.get(pos) else {
            return Err(self.unsupported("with statement without items", s));
        };
        let block = self.new_block();
        let fin = self.new_block();
        let exit = self.new_block();
        let cleanup = self.new_block();
        self.visit_expr(&item.context_expr)?;
        self.addop(Op::BEFORE_ASYNC_WITH);
        self.addop_i(Op::GET_AWAITABLE, 1);
        self.load_const(Constant::None);
        self.add_yield_from(true);
        self.addop_j(Op::SETUP_WITH, fin);
        // SETUP_WITH pushes a finally block.
        self.use_next_block(block);
        self.push_fblock(
            FBlockType::AsyncWith,
            block,
            Some(fin),
            FBlockDatum::With(self.compound_range(s.range)),
            s,
        )?;
        match &item.optional_vars {
            Some(target) => self.visit_expr(target)?,
            // Discard the result of __aenter__().
            None => self.addop(Op::POP_TOP),
        }
        if pos + 1 == s.items.len() {
            self.visit_stmts(&s.body)?;
        } else {
            self.async_with(s, pos + 1)?;
        }
        self.pop_fblock(FBlockType::AsyncWith);
        self.addop(Op::POP_BLOCK);
        // Success: call __aexit__(None, None, None).
        self.u.loc = self.loc_of(self.compound_range(s.range));
        self.call_exit_with_nones();
        self.addop_i(Op::GET_AWAITABLE, 2);
        self.load_const(Constant::None);
        self.add_yield_from(true);
        self.addop(Op::POP_TOP);
        self.addop_j(Op::JUMP, exit);
        // Exception.
        self.use_next_block(fin);
        self.addop_j(Op::SETUP_CLEANUP, cleanup);
        self.addop(Op::PUSH_EXC_INFO);
        self.addop(Op::WITH_EXCEPT_START);
        self.addop_i(Op::GET_AWAITABLE, 2);
        self.load_const(Constant::None);
        self.add_yield_from(true);
        self.with_except_finish(cleanup);
        self.use_next_block(exit);
        Ok(())
    }

    // ---- assignments --------------------------------------------------------------------

    /// `compiler_augassign`.
    fn augassign(&mut self, s: &'a ast::StmtAugAssign) -> CResult {
        let e = &*s.target;
        let old = self.u.loc;
        self.set_loc(e);
        match e {
            Expr::Attribute(a) => {
                self.visit_expr(&a.value)?;
                self.addop_i(Op::COPY, 1);
                self.update_start_location_to_match_attr(a);
                self.addop_name(Op::LOAD_ATTR, a.attr.as_str());
            }
            Expr::Subscript(sub) => {
                self.visit_expr(&sub.value)?;
                self.visit_expr(&sub.slice)?;
                self.addop_i(Op::COPY, 2);
                self.addop_i(Op::COPY, 2);
                self.addop(Op::BINARY_SUBSCR);
            }
            Expr::Name(n) => self.nameop(n.id.as_str(), Ctx::Load),
            _ => return Err(self.unsupported("augmented assignment target", e)),
        }
        self.u.loc = old;
        self.visit_expr(&s.value)?;
        self.addop_binary(&s.op, true);
        self.set_loc(e);
        match e {
            Expr::Attribute(a) => {
                self.update_start_location_to_match_attr(a);
                self.addop_i(Op::SWAP, 2);
                self.addop_name(Op::STORE_ATTR, a.attr.as_str());
            }
            Expr::Subscript(_) => {
                self.addop_i(Op::SWAP, 3);
                self.addop_i(Op::SWAP, 2);
                self.addop(Op::STORE_SUBSCR);
            }
            Expr::Name(n) => self.nameop(n.id.as_str(), Ctx::Store),
            _ => {}
        }
        Ok(())
    }

    /// `check_ann_expr`: evaluates an expression of an annotated target and drops it.
    fn check_ann_expr(&mut self, e: &'a Expr) -> CResult {
        self.visit_expr(e)?;
        self.addop(Op::POP_TOP);
        Ok(())
    }

    /// `check_ann_subscr`: evaluates what a subscript target's slice needs at run time.
    fn check_ann_subscr(&mut self, e: &'a Expr) -> CResult {
        match e {
            Expr::Slice(sl) => {
                for part in [&sl.lower, &sl.upper, &sl.step].into_iter().flatten() {
                    self.check_ann_expr(part)?;
                }
                Ok(())
            }
            Expr::Tuple(t) => {
                for elt in &t.elts {
                    self.check_ann_subscr(elt)?;
                }
                Ok(())
            }
            _ => self.check_ann_expr(e),
        }
    }

    /// `compiler_annassign`.
    fn annassign(&mut self, s: &'a ast::StmtAnnAssign) -> CResult {
        let target = &*s.target;
        let future = self.table.future.annotations;
        let module_or_class = matches!(self.u.scope_type, ScopeType::Module | ScopeType::Class);
        // The assignment comes first.
        if let Some(value) = &s.value {
            self.visit_expr(value)?;
            self.visit_expr(target)?;
        }
        match target {
            Expr::Name(n) => {
                if n.id.as_str() == "__debug__" {
                    return Err(self.error("cannot assign to __debug__", target));
                }
                // A simple name in a module or class stores its annotation.
                if s.simple && module_or_class {
                    if future {
                        self.visit_annexpr(&s.annotation)?;
                    } else {
                        self.visit_expr(&s.annotation)?;
                    }
                    self.addop_name(Op::LOAD_NAME, "__annotations__");
                    let mangled = self.mangle(n.id.as_str());
                    self.load_const(Constant::str(&mangled));
                    self.addop(Op::STORE_SUBSCR);
                }
            }
            Expr::Attribute(a) => {
                if a.attr.as_str() == "__debug__" {
                    return Err(self.error("cannot assign to __debug__", target));
                }
                if s.value.is_none() {
                    self.check_ann_expr(&a.value)?;
                }
            }
            Expr::Subscript(sub) => {
                if s.value.is_none() {
                    self.check_ann_expr(&sub.value)?;
                    self.check_ann_subscr(&sub.slice)?;
                }
            }
            _ => return Err(self.unsupported("annotated assignment target", target)),
        }
        // The annotation is evaluated last (`check_annotation`): only in a module or class,
        // never under future annotations.
        if !s.simple && !future && module_or_class {
            self.check_ann_expr(&s.annotation)?;
        }
        Ok(())
    }

    // ---- assert, import -----------------------------------------------------------------

    /// `compiler_assert`: nothing under `-O`.
    fn assert_stmt(&mut self, s: &'a ast::StmtAssert) -> CResult {
        if self.optimize > 0 {
            return Ok(());
        }
        let end = self.new_block();
        self.jump_if(&s.test, end, true)?;
        self.addop(Op::LOAD_ASSERTION_ERROR);
        if let Some(msg) = &s.msg {
            self.visit_expr(msg)?;
            self.addop_i(Op::PRECALL, 0);
            self.addop_i(Op::CALL, 0);
        }
        self.addop_i(Op::RAISE_VARARGS, 1);
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_import_as`: binds `import a.b.c as d` to the innermost module.
    fn import_as(&mut self, name: &str, asname: &str) {
        let mut parts = name.split('.');
        parts.next();
        let attrs: Vec<&str> = parts.collect();
        if attrs.is_empty() {
            self.nameop(asname, Ctx::Store);
            return;
        }
        for (i, attr) in attrs.iter().enumerate() {
            self.addop_name_raw(Op::IMPORT_FROM, attr);
            if i + 1 < attrs.len() {
                self.addop_i(Op::SWAP, 2);
                self.addop(Op::POP_TOP);
            }
        }
        self.nameop(asname, Ctx::Store);
        self.addop(Op::POP_TOP);
    }

    /// `compiler_import`.
    fn import(&mut self, s: &'a ast::StmtImport) -> CResult {
        for alias in &s.names {
            let name = alias.name.as_str();
            self.load_const(Constant::Int(0.into()));
            self.load_const(Constant::None);
            self.addop_name(Op::IMPORT_NAME, name);
            match &alias.asname {
                Some(asname) => self.import_as(name, asname.as_str()),
                None => {
                    let first = name.split('.').next().unwrap_or(name);
                    self.nameop(first, Ctx::Store);
                }
            }
        }
        Ok(())
    }

    /// `compiler_from_import`.
    fn import_from(&mut self, stmt: &'a Stmt, s: &'a ast::StmtImportFrom) -> CResult {
        self.load_const(Constant::Int(s.level.into()));
        let names = s
            .names
            .iter()
            .map(|a| Constant::Str(PyStr::from(a.name.as_str())))
            .collect();
        let module = s.module.as_ref().map(|m| m.as_str());
        if module == Some("__future__") {
            let line = i64::from(self.lines.line(stmt.range().start()));
            let future_line = self.table.future.last_line.map_or(-1, i64::from);
            if line > future_line {
                return Err(self.error(
                    "from __future__ imports must occur at the beginning of the file",
                    stmt,
                ));
            }
        }
        self.load_const(Constant::Tuple(names));
        self.addop_name(Op::IMPORT_NAME, module.unwrap_or(""));
        for (i, alias) in s.names.iter().enumerate() {
            let name = alias.name.as_str();
            if i == 0 && name.starts_with('*') {
                self.addop(Op::IMPORT_STAR);
                return Ok(());
            }
            self.addop_name(Op::IMPORT_FROM, name);
            let store = alias.asname.as_ref().map_or(name, |a| a.as_str());
            self.nameop(store, Ctx::Store);
        }
        // Remove the imported module.
        self.addop(Op::POP_TOP);
        Ok(())
    }
}
