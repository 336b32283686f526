//! Functions, lambdas, classes, comprehensions and closures (3.11 `compile.c`):
//! `compiler_function`, `compiler_class`, `compiler_lambda`, `compiler_comprehension` and the
//! helpers they share (`compiler_make_closure`, `compiler_default_arguments`,
//! `compiler_visit_annotations`, decorators).
//!
//! The `__debug__` parameter check (`compiler_check_debug_args`) and the "asynchronous
//! comprehension outside of an asynchronous function" error are raised earlier by
//! [`crate::checks`]; the latter is repeated here where CPython raises it.

use pyc_assembler::{CodeObject, Constant};
use ruff_python_ast::{self as ast, Expr};
use ruff_text_size::{Ranged, TextRange, TextSize};

use super::ir::Op;
use super::{CResult, CodegenError, Compiler, Ctx, FBlockDatum, FBlockType, ScopeType};
use crate::symtable::{NameScope, ScopeKind};

mod unparse;

/// `MAKE_FUNCTION` flags.
const MAKE_DEFAULTS: u32 = 0x01;
const MAKE_KWDEFAULTS: u32 = 0x02;
const MAKE_ANNOTATIONS: u32 = 0x04;
const MAKE_CLOSURE: u32 = 0x08;

/// What a comprehension builds (`COMP_GENEXP` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CompKind {
    Genexp,
    List,
    Set,
    Dict,
}

impl<'a> Compiler<'a> {
    /// `compiler_function`: a `def` or `async def` statement.
    pub fn function(&mut self, s: &'a ast::StmtFunctionDef) -> CResult {
        if s.type_params.is_some() {
            return Err(self.unsupported("type parameters", s));
        }
        let Some(scope) = self.table.function(s) else {
            return Err(self.unsupported("function without a scope", s));
        };
        let kw = if s.is_async { "async def" } else { "def" };
        let range = def_range(self.source, s.range, s.name.range, &s.decorator_list, kw);
        self.u.loc = self.loc_of(range);
        self.decorators(&s.decorator_list)?;
        let firstlineno = self.first_lineno(&s.decorator_list, range);

        let args = &*s.parameters;
        let mut funcflags = self.default_arguments(Some(args))?;
        if self.visit_annotations(args, s.returns.as_deref())? {
            funcflags |= MAKE_ANNOTATIONS;
        }

        let scope_type = if s.is_async {
            ScopeType::AsyncFunction
        } else {
            ScopeType::Function
        };
        self.enter_scope(&s.name, scope_type, scope, firstlineno)?;
        let code = self.in_scope(|c| {
            let docstring = if c.optimize < 2 {
                c.docstring(&s.body)
            } else {
                None
            };
            let skip = usize::from(docstring.is_some());
            c.add_const(docstring.unwrap_or(Constant::None));
            c.set_argcounts(args);
            for stmt in &s.body[skip..] {
                c.visit_stmt(stmt)?;
            }
            Ok(())
        })?;
        let code = self.finish_scope_with(code)?;
        self.make_closure(code, funcflags)?;
        self.apply_decorators(&s.decorator_list);
        self.nameop(&s.name, Ctx::Store);
        Ok(())
    }

    /// `compiler_class`.
    pub fn class(&mut self, s: &'a ast::StmtClassDef) -> CResult {
        if s.type_params.is_some() {
            return Err(self.unsupported("type parameters", s));
        }
        let Some(scope) = self.table.class(s) else {
            return Err(self.unsupported("class without a scope", s));
        };
        let range = def_range(
            self.source,
            s.range,
            s.name.range,
            &s.decorator_list,
            "class",
        );
        self.u.loc = self.loc_of(range);
        self.decorators(&s.decorator_list)?;
        let firstlineno = self.first_lineno(&s.decorator_list, range);

        // 1. The class body as a code object.
        self.enter_scope(&s.name, ScopeType::Class, scope, firstlineno)?;
        self.u.private = Some(s.name.to_string());
        let body = self.in_scope(|c| {
            c.nameop("__name__", Ctx::Load);
            c.nameop("__module__", Ctx::Store);
            let qualname = c.u.qualname.clone().unwrap_or_else(|| c.u.name.clone());
            c.load_const(Constant::Str(qualname));
            c.nameop("__qualname__", Ctx::Store);
            c.body(&s.body)?;
            // The following code is artificial.
            c.unset_loc();
            if c.ste().flags.needs_class_closure {
                // Store `__classcell__` into the class namespace and return it.
                let Some(i) = c.u.cellvars.get_index_of("__class__") else {
                    return Err(c.unsupported("class cell without __class__", s));
                };
                c.addop_i(Op::LOAD_CLOSURE, i as u32);
                c.addop_i(Op::COPY, 1);
                c.nameop("__classcell__", Ctx::Store);
            } else {
                // No method referenced `__class__`: return None.
                c.load_const(Constant::None);
            }
            c.addop(Op::RETURN_VALUE);
            Ok(())
        })?;
        let code = self.finish_scope_with(body)?;

        // 2. The `__build_class__` function.
        self.addop(Op::PUSH_NULL);
        self.addop(Op::LOAD_BUILD_CLASS);
        // 3. A function made from the code object.
        self.make_closure(code, 0)?;
        // 4. The class name.
        self.load_const(Constant::str(&s.name));
        // 5. The rest of the call: bases and keywords.
        let (bases, keywords): (&'a [Expr], &'a [ast::Keyword]) = match s.arguments.as_deref() {
            Some(a) => (&a.args, &a.keywords),
            None => (&[], &[]),
        };
        match bases.first().or(keywords.first().map(|k| &k.value)) {
            Some(node) => self.call_helper(2, bases, keywords, node)?,
            // `compiler_call_helper` with nothing to pass.
            None => {
                self.addop_i(Op::PRECALL, 2);
                self.addop_i(Op::CALL, 2);
            }
        }
        // 6. Decorators.
        self.apply_decorators(&s.decorator_list);
        // 7. The store of the name.
        self.nameop(&s.name, Ctx::Store);
        Ok(())
    }

    /// `compiler_lambda`.
    pub fn lambda(&mut self, e: &'a ast::ExprLambda) -> CResult {
        let Some(scope) = self.table.lambda(e) else {
            return Err(self.unsupported("lambda without a scope", e));
        };
        let args = e.parameters.as_deref();
        let funcflags = self.default_arguments(args)?;
        let lineno = self.loc_of(e.range).lineno.max(1) as u32;
        self.enter_scope("<lambda>", ScopeType::Lambda, scope, lineno)?;
        let generator = self.ste().flags.generator;
        let body = self.in_scope(|c| {
            // None first, so that a lambda has no docstring.
            c.add_const(Constant::None);
            if let Some(args) = args {
                c.set_argcounts(args);
            }
            c.visit_expr(&e.body)?;
            if !generator {
                c.addop(Op::RETURN_VALUE);
            }
            Ok(())
        })?;
        let code = match body {
            Ok(()) => self.finish_scope(!generator)?,
            Err(err) => return Err(err),
        };
        self.make_closure(code, funcflags)
    }

    /// `compiler_comprehension` for list, set and dict comprehensions and generator
    /// expressions (`compiler_listcomp`, `compiler_setcomp`, `compiler_dictcomp`,
    /// `compiler_genexp`).
    pub fn comprehension(&mut self, e: &'a Expr) -> CResult {
        let (kind, name, generators, elt, val): (_, _, &'a [ast::Comprehension], _, _) = match e {
            Expr::Generator(g) => (CompKind::Genexp, "<genexpr>", &g.generators, &*g.elt, None),
            Expr::ListComp(l) => (CompKind::List, "<listcomp>", &l.generators, &*l.elt, None),
            Expr::SetComp(s) => (CompKind::Set, "<setcomp>", &s.generators, &*s.elt, None),
            Expr::DictComp(d) => match d.key.as_deref() {
                Some(key) => (
                    CompKind::Dict,
                    "<dictcomp>",
                    &d.generators,
                    key,
                    Some(&*d.value),
                ),
                None => return Err(self.unsupported("dict comprehension without a key", e)),
            },
            _ => return Err(self.unsupported("comprehension", e)),
        };
        let Some(outermost) = generators.first() else {
            return Err(self.unsupported("comprehension without generators", e));
        };
        let Some(scope) = self.table.comprehension(e) else {
            return Err(self.unsupported("comprehension without a scope", e));
        };
        let parent_type = self.u.scope_type;
        let top_level_await = self.is_top_level_await();
        // What follows in this unit is at the comprehension's location too.
        let loc = self.loc_of(comprehension_range(self.source, e));
        self.u.loc = loc;
        self.enter_scope(
            name,
            ScopeType::Comprehension,
            scope,
            loc.lineno.max(1) as u32,
        )?;
        self.u.loc = loc;
        let is_async_generator = self.ste().flags.coroutine;
        let body = self.in_scope(|c| {
            if is_async_generator
                && kind != CompKind::Genexp
                && parent_type != ScopeType::AsyncFunction
                && parent_type != ScopeType::Comprehension
                && !top_level_await
            {
                return Err(c.error(
                    "asynchronous comprehension outside of an asynchronous function",
                    e,
                ));
            }
            match kind {
                CompKind::Genexp => {}
                CompKind::List => c.addop_i(Op::BUILD_LIST, 0),
                CompKind::Set => c.addop_i(Op::BUILD_SET, 0),
                CompKind::Dict => c.addop_i(Op::BUILD_MAP, 0),
            }
            c.comprehension_generator(generators, 0, 0, elt, val, kind)?;
            if kind != CompKind::Genexp {
                c.addop(Op::RETURN_VALUE);
            }
            Ok(())
        })?;
        let code = self.finish_scope_with(body)?;
        self.make_closure(code, 0)?;
        self.visit_expr(&outermost.iter)?;
        self.addop(if outermost.is_async {
            Op::GET_AITER
        } else {
            Op::GET_ITER
        });
        self.addop_i(Op::PRECALL, 0);
        self.addop_i(Op::CALL, 0);
        if is_async_generator && kind != CompKind::Genexp {
            self.addop_i(Op::GET_AWAITABLE, 0);
            self.load_const(Constant::None);
            self.add_yield_from(true);
        }
        Ok(())
    }

    // ---- Helpers -----------------------------------------------------------------------

    /// Runs `f` in a scope just entered; on error leaves the scope (`VISIT_IN_SCOPE`). The
    /// outer `Result` is always `Ok`: the inner one says whether to assemble.
    fn in_scope(&mut self, f: impl FnOnce(&mut Self) -> CResult) -> CResult<CResult> {
        let r = f(self);
        if r.is_err() {
            self.abandon_scope();
        }
        Ok(r)
    }

    /// Assembles the current unit after a successful body (`assemble(c, 1)` and
    /// `compiler_exit_scope`), or passes on the body's error (the scope already left).
    fn finish_scope_with(&mut self, body: CResult) -> CResult<CodeObject> {
        body?;
        self.finish_scope(true)
    }

    /// `IS_TOP_LEVEL_AWAIT`: `await` allowed at module level (never for files).
    fn is_top_level_await(&self) -> bool {
        self.interactive && self.ste().kind == ScopeKind::Module
    }

    /// `u_argcount`, `u_posonlyargcount` and `u_kwonlyargcount` from a parameter list.
    fn set_argcounts(&mut self, args: &ast::Parameters) {
        self.u.argcount = args.args.len() as u32;
        self.u.posonlyargcount = args.posonlyargs.len() as u32;
        self.u.kwonlyargcount = args.kwonlyargs.len() as u32;
    }

    /// The first line of a `def` or `class`: its first decorator's, else its keyword's.
    fn first_lineno(&self, decorators: &[ast::Decorator], def: TextRange) -> u32 {
        let range = decorators.first().map_or(def, |d| d.expression.range());
        self.loc_of(range).lineno.max(1) as u32
    }

    /// `compiler_decorators`: evaluates the decorators, first to last.
    fn decorators(&mut self, decorators: &'a [ast::Decorator]) -> CResult {
        for d in decorators {
            self.visit_expr(&d.expression)?;
        }
        Ok(())
    }

    /// `compiler_apply_decorators`: calls them, last to first, each at its own location.
    fn apply_decorators(&mut self, decorators: &[ast::Decorator]) {
        if decorators.is_empty() {
            return;
        }
        let old = self.u.loc;
        for d in decorators.iter().rev() {
            self.set_loc(&d.expression);
            self.addop_i(Op::PRECALL, 0);
            self.addop_i(Op::CALL, 0);
        }
        self.u.loc = old;
    }

    /// `compiler_default_arguments`: pushes the defaults tuple and the keyword-only defaults
    /// dict, returning the `MAKE_FUNCTION` flags they need.
    fn default_arguments(&mut self, args: Option<&'a ast::Parameters>) -> CResult<u32> {
        let Some(args) = args else {
            return Ok(0);
        };
        let mut flags = 0;
        let mut n = 0;
        for p in args.posonlyargs.iter().chain(&args.args) {
            if let Some(d) = p.default.as_deref() {
                self.visit_expr(d)?;
                n += 1;
            }
        }
        if n > 0 {
            self.addop_i(Op::BUILD_TUPLE, n);
            flags |= MAKE_DEFAULTS;
        }
        if self.visit_kwonlydefaults(&args.kwonlyargs)? {
            flags |= MAKE_KWDEFAULTS;
        }
        Ok(flags)
    }

    /// `compiler_visit_kwonlydefaults`: pushes a dict of the keyword-only defaults, if any.
    fn visit_kwonlydefaults(
        &mut self,
        kwonlyargs: &'a [ast::ParameterWithDefault],
    ) -> CResult<bool> {
        let mut keys = Vec::new();
        for p in kwonlyargs {
            if let Some(d) = p.default.as_deref() {
                keys.push(Constant::str(&self.mangle(p.name())));
                self.visit_expr(d)?;
            }
        }
        if keys.is_empty() {
            return Ok(false);
        }
        let n = keys.len() as u32;
        self.load_const(Constant::Tuple(keys));
        self.addop_i(Op::BUILD_CONST_KEY_MAP, n);
        Ok(true)
    }

    /// `compiler_visit_annotations`: pushes a flat tuple of (name, value) pairs for the
    /// annotated parameters and the return annotation; whether it pushed one.
    fn visit_annotations(
        &mut self,
        args: &'a ast::Parameters,
        returns: Option<&'a Expr>,
    ) -> CResult<bool> {
        let mut len = 0;
        // CPython's order: `args` before `posonlyargs`.
        for p in args.args.iter().chain(&args.posonlyargs) {
            self.visit_argannotation(p.name(), p.parameter.annotation.as_deref(), &mut len)?;
        }
        if let Some(p) = args.vararg.as_deref() {
            self.visit_argannotation(p.name(), p.annotation.as_deref(), &mut len)?;
        }
        for p in &args.kwonlyargs {
            self.visit_argannotation(p.name(), p.parameter.annotation.as_deref(), &mut len)?;
        }
        if let Some(p) = args.kwarg.as_deref() {
            self.visit_argannotation(p.name(), p.annotation.as_deref(), &mut len)?;
        }
        self.visit_argannotation("return", returns, &mut len)?;
        if len == 0 {
            return Ok(false);
        }
        self.addop_i(Op::BUILD_TUPLE, len);
        Ok(true)
    }

    /// `compiler_visit_argannotation`: the mangled name and the annotation's value (its
    /// source string under `from __future__ import annotations`).
    fn visit_argannotation(
        &mut self,
        id: &str,
        annotation: Option<&'a Expr>,
        len: &mut u32,
    ) -> CResult {
        let Some(annotation) = annotation else {
            return Ok(());
        };
        let mangled = self.mangle(id);
        self.load_const(Constant::str(&mangled));
        if self.table.future.annotations {
            self.visit_annexpr(annotation)?;
        } else if let Expr::Starred(s) = annotation {
            // `*args: *Ts`: `[annotation_value] = [*Ts]`.
            self.visit_expr(&s.value)?;
            self.addop_i(Op::UNPACK_SEQUENCE, 1);
        } else {
            self.visit_expr(annotation)?;
        }
        *len += 2;
        Ok(())
    }

    /// `compiler_visit_annexpr`: an annotation as the string of its source
    /// (`_PyAST_ExprAsUnicode`).
    pub fn visit_annexpr(&mut self, annotation: &'a Expr) -> CResult {
        let text = unparse::expr_as_unicode(self, annotation)?;
        self.load_const(Constant::Str(text));
        Ok(())
    }

    /// `compiler_make_closure`: pushes the function made from `code`, with its closure
    /// tuple when it has free variables, and `MAKE_FUNCTION flags`.
    fn make_closure(&mut self, code: CodeObject, mut flags: u32) -> CResult {
        let freevars = code.freevars();
        if !freevars.is_empty() {
            for name in &freevars {
                let name = super::text(name);
                // A class can have a method with a free variable named like a method: the
                // name is free *and* local in the class; the closure takes the free one.
                let cell = self.get_ref_type(&name)? == NameScope::Cell;
                let arg = if cell {
                    self.u.cellvars.get_index_of(&*name)
                } else {
                    self.u
                        .freevars
                        .get_index_of(&*name)
                        .map(|i| i + self.u.cellvars.len())
                };
                let Some(arg) = arg else {
                    return Err(self.internal(format!(
                        "compiler_lookup_arg(name={name:?}) failed in {}",
                        self.u.name.to_string_lossy()
                    )));
                };
                self.addop_i(Op::LOAD_CLOSURE, arg as u32);
            }
            flags |= MAKE_CLOSURE;
            self.addop_i(Op::BUILD_TUPLE, freevars.len() as u32);
        }
        self.load_const(Constant::Code(Box::new(code)));
        self.addop_i(Op::MAKE_FUNCTION, flags);
        Ok(())
    }

    /// `get_ref_type`: how a child's free variable resolves here.
    fn get_ref_type(&self, name: &str) -> CResult<NameScope> {
        if self.u.scope_type == ScopeType::Class && name == "__class__" {
            return Ok(NameScope::Cell);
        }
        self.ste().resolve(name).ok_or_else(|| {
            self.internal(format!(
                "unknown scope for {name:?} in unit {}",
                self.u.name.to_string_lossy()
            ))
        })
    }

    /// A `SystemError` CPython's compiler would raise: reported as unsupported at the
    /// current unit's first line.
    fn internal(&self, what: String) -> CodegenError {
        CodegenError::Unsupported {
            what,
            line: self.u.loc.lineno.max(0) as u32,
            column: self.u.loc.col_offset.max(0) as u32,
        }
    }

    /// `compiler_comprehension_generator`.
    fn comprehension_generator(
        &mut self,
        generators: &'a [ast::Comprehension],
        index: usize,
        depth: u32,
        elt: &'a Expr,
        val: Option<&'a Expr>,
        kind: CompKind,
    ) -> CResult {
        if generators[index].is_async {
            self.async_comprehension_generator(generators, index, depth, elt, val, kind)
        } else {
            self.sync_comprehension_generator(generators, index, depth, elt, val, kind)
        }
    }

    /// `compiler_sync_comprehension_generator`: the iterator, the conditions, then the
    /// next generator or the element.
    fn sync_comprehension_generator(
        &mut self,
        generators: &'a [ast::Comprehension],
        index: usize,
        mut depth: u32,
        elt: &'a Expr,
        val: Option<&'a Expr>,
        kind: CompKind,
    ) -> CResult {
        let mut start = Some(self.new_block());
        let if_cleanup = self.new_block();
        let anchor = self.new_block();
        let gen = &generators[index];
        if index == 0 {
            // The outermost iterator is the implicit argument `.0`.
            self.u.argcount = 1;
            self.addop_i(Op::LOAD_FAST, 0);
        } else {
            // Fast path for the temporary variable idiom `for y in [f(x)]`.
            let elts: &'a [Expr] = if self.is_constant(&gen.iter) {
                &[]
            } else {
                match &gen.iter {
                    Expr::List(l) => &l.elts,
                    Expr::Tuple(t) => &t.elts,
                    _ => &[],
                }
            };
            if let [only] = elts {
                if !matches!(only, Expr::Starred(_)) {
                    self.visit_expr(only)?;
                    start = None;
                }
            }
            if start.is_some() {
                self.visit_expr(&gen.iter)?;
                self.addop(Op::GET_ITER);
            }
        }
        if let Some(start) = start {
            depth += 1;
            self.use_next_block(start);
            self.addop_j(Op::FOR_ITER, anchor);
        }
        self.visit_expr(&gen.target)?;
        for cond in &gen.ifs {
            self.jump_if(cond, if_cleanup, false)?;
        }
        if index + 1 < generators.len() {
            self.comprehension_generator(generators, index + 1, depth, elt, val, kind)?;
        } else {
            self.comprehension_element(depth, elt, val, kind)?;
        }
        self.use_next_block(if_cleanup);
        if let Some(start) = start {
            self.addop_j(Op::JUMP, start);
            self.use_next_block(anchor);
        }
        Ok(())
    }

    /// `compiler_async_comprehension_generator`.
    fn async_comprehension_generator(
        &mut self,
        generators: &'a [ast::Comprehension],
        index: usize,
        mut depth: u32,
        elt: &'a Expr,
        val: Option<&'a Expr>,
        kind: CompKind,
    ) -> CResult {
        let start = self.new_block();
        let except = self.new_block();
        let if_cleanup = self.new_block();
        let gen = &generators[index];
        if index == 0 {
            // The outermost iterator is the implicit argument `.0`.
            self.u.argcount = 1;
            self.addop_i(Op::LOAD_FAST, 0);
        } else {
            self.visit_expr(&gen.iter)?;
            self.addop(Op::GET_AITER);
        }
        self.use_next_block(start);
        // The runtime pushes a block here: account for it.
        self.push_fblock(
            FBlockType::AsyncComprehensionGenerator,
            start,
            None,
            FBlockDatum::None,
            gen,
        )?;
        self.addop_j(Op::SETUP_FINALLY, except);
        self.addop(Op::GET_ANEXT);
        self.load_const(Constant::None);
        self.add_yield_from(true);
        self.addop(Op::POP_BLOCK);
        self.visit_expr(&gen.target)?;
        for cond in &gen.ifs {
            self.jump_if(cond, if_cleanup, false)?;
        }
        depth += 1;
        if index + 1 < generators.len() {
            self.comprehension_generator(generators, index + 1, depth, elt, val, kind)?;
        } else {
            self.comprehension_element(depth, elt, val, kind)?;
        }
        self.use_next_block(if_cleanup);
        self.addop_j(Op::JUMP, start);
        self.pop_fblock(FBlockType::AsyncComprehensionGenerator);
        self.use_next_block(except);
        self.addop(Op::END_ASYNC_FOR);
        Ok(())
    }

    /// The element of the innermost generator: yielded, appended or added to the container
    /// `depth + 1` slots down the stack.
    fn comprehension_element(
        &mut self,
        depth: u32,
        elt: &'a Expr,
        val: Option<&'a Expr>,
        kind: CompKind,
    ) -> CResult {
        self.visit_expr(elt)?;
        match kind {
            CompKind::Genexp => {
                self.addop_yield();
                self.addop(Op::POP_TOP);
            }
            CompKind::List => self.addop_i(Op::LIST_APPEND, depth + 1),
            CompKind::Set => self.addop_i(Op::SET_ADD, depth + 1),
            CompKind::Dict => {
                // With `{k: v}`, k is evaluated before v.
                if let Some(val) = val {
                    self.visit_expr(val)?;
                }
                self.addop_i(Op::MAP_ADD, depth + 1);
            }
        }
        Ok(())
    }
}

/// The range CPython gives a comprehension: a generator expression that is a call's only
/// argument includes the call's parentheses, which ruff leaves out of its range.
fn comprehension_range(source: &str, e: &Expr) -> TextRange {
    let range = e.range();
    if !matches!(e, Expr::Generator(g) if !g.parenthesized) {
        return range;
    }
    let bytes = source.as_bytes();
    // Forward to the `)`, past blanks and comments.
    let mut end = usize::from(range.end());
    while end < bytes.len() {
        match bytes[end] {
            b' ' | b'\t' | b'\x0c' | b'\\' | b'\n' | b'\r' => end += 1,
            b'#' => {
                while end < bytes.len() && bytes[end] != b'\n' {
                    end += 1;
                }
            }
            _ => break,
        }
    }
    // Back to the `(`, past blanks and comments (a line ending in a comment is cut at the
    // comment's `#`, found by scanning the line for a `#` outside quotes).
    let mut start = usize::from(range.start());
    while start > 0 {
        match bytes[start - 1] {
            b' ' | b'\t' | b'\x0c' | b'\\' | b'\n' | b'\r' => start -= 1,
            c => {
                let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
                match comment_start(&bytes[line_start..start]) {
                    Some(hash) => start = line_start + hash,
                    None if c == b'(' => break,
                    None => return range,
                }
            }
        }
    }
    if start == 0 || bytes.get(end) != Some(&b')') {
        return range;
    }
    TextRange::new(
        TextSize::try_from(start - 1).unwrap_or(range.start()),
        TextSize::try_from(end + 1).unwrap_or(range.end()),
    )
}

/// The offset of the `#` starting a comment in one line of source, if any.
fn comment_start(line: &[u8]) -> Option<usize> {
    let mut quote = None;
    let mut i = 0;
    while i < line.len() {
        match (quote, line[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, c @ (b'\'' | b'"')) => quote = Some(c),
            (None, b'#') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where CPython ends a compound statement (its last token) whose ruff range ends at `end`:
/// after the `;` that may end its last simple statement, which ruff's range leaves out.
pub(super) fn compound_end(source: &str, end: TextSize) -> TextSize {
    let bytes = source.as_bytes();
    let mut after = usize::from(end);
    while after < bytes.len() {
        match bytes[after] {
            b' ' | b'\t' | b'\x0c' => after += 1,
            b'\\' if bytes.get(after + 1) == Some(&b'\n') => after += 2,
            b'\\' if bytes.get(after + 1..after + 3) == Some(b"\r\n") => after += 3,
            _ => break,
        }
    }
    if bytes.get(after) == Some(&b';') {
        TextSize::try_from(after + 1).unwrap_or(end)
    } else {
        end
    }
}

/// The range CPython gives a `def` or `class` statement: from its keyword (`async`
/// included), not from its first decorator as ruff's range starts, to its last token
/// ([`compound_end`]).
fn def_range(
    source: &str,
    range: TextRange,
    name: TextRange,
    decorators: &[ast::Decorator],
    kw: &str,
) -> TextRange {
    let end = compound_end(source, range.end());
    let bytes = source.as_bytes();
    if decorators.is_empty() {
        return TextRange::new(range.start(), end);
    }
    let back = |mut i: usize| {
        while i > 0 && matches!(bytes[i - 1], b' ' | b'\t' | b'\x0c' | b'\\' | b'\n' | b'\r') {
            i -= 1;
        }
        i
    };
    let mut start =
        back(usize::from(name.start())).saturating_sub(if kw == "class" { 5 } else { 3 });
    if kw == "async def" {
        start = back(start).saturating_sub(5);
    }
    let start = TextSize::try_from(start).unwrap_or(range.start());
    TextRange::new(start.max(range.start()), end)
}
