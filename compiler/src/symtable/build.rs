//! Pass 1: visit the AST in CPython's order, creating scopes and recording raw name facts
//! (`symtable_visit_*` in `Python/symtable.c`).

use std::borrow::Cow;

use ruff_python_ast::{self as ast, Expr, ExprContext, Pattern, Stmt, TypeParam};
use ruff_text_size::{Ranged, TextRange, TextSize};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    ComprehensionKind, FutureFeatures, Lines, NameScope, Role, Scope, ScopeFlags, ScopeId,
    ScopeKind, Symbol, SymbolFlags as F, SymbolTable,
};
use crate::{Diagnostic, ErrorKind};
use pyc_assembler::version::FStringSearch;
use pyc_assembler::PythonVersion;

/// A node's position as CPython reports it: 1-based lines, 0-based byte columns.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Loc {
    line: u32,
    col: u32,
    end_line: u32,
    end_col: u32,
}

/// Where a name is bound or used, for the errors `add_def` may raise: a node's range, turned
/// into a [`Loc`] only when an error is reported (most names never need their position).
#[derive(Clone, Copy, Debug)]
pub(super) enum Span {
    /// A node's range and the line shift in force where it is (see `fstring_line_shift`).
    Range(TextRange, i64),
    /// A position already computed.
    Loc(Loc),
}

impl From<Loc> for Span {
    fn from(loc: Loc) -> Span {
        Span::Loc(loc)
    }
}

/// A `SyntaxError` at `loc`; `plus_one` is false for the few 3.8/3.9 errors that report the
/// 0-based column. 3.10+ errors carry the end of the node.
pub(super) fn error(v: PythonVersion, message: String, loc: Loc, plus_one: bool) -> Diagnostic {
    let mut d = Diagnostic::new(
        ErrorKind::SyntaxError,
        message,
        loc.line,
        loc.col + u32::from(plus_one),
    );
    if v.syntax_errors_have_end() {
        d.end = Some((loc.end_line, loc.end_col + 1));
    }
    d
}

/// Build-time state of a scope that the finished table does not keep.
#[derive(Default)]
pub(super) struct Extra {
    loc: Loc,
    comp_iter_target: bool,
    comp_iter_expr: u32,
    /// `global`/`nonlocal` statements (and walrus targets) by mangled name, for errors found
    /// during analysis.
    pub(super) directives: Vec<(String, Loc)>,
    /// 3.13+: index of the set of names to mangle in a generic class's type-parameter scope.
    mangled: Option<usize>,
    /// 3.13+: what a type-variable scope evaluates, for messages.
    scope_info: &'static str,
    /// 3.14+: the `__annotate__` scope of the variable annotations in this scope.
    annotation_block: Option<ScopeId>,
    /// 3.14+: inside a loop, `if`, `match`, `try` or `with` (`ste_in_conditional_block`).
    in_conditional_block: bool,
    /// 3.14+: in the annotation of a local variable, which is never evaluated: its names
    /// are not recorded (`ste_in_unevaluated_annotation`).
    in_unevaluated_annotation: bool,
}

/// CPython stops at about this depth too (3.8: three times the recursion limit), though with
/// a `RecursionError`; the visitor's stack is sized for it.
const MAX_DEPTH: u32 = 3000;

pub(super) struct Builder<'a> {
    v: PythonVersion,
    source: &'a str,
    lines: Lines<'a>,
    table: SymbolTable,
    pub(super) extra: Vec<Extra>,
    stack: Vec<ScopeId>,
    private: Option<String>,
    mangled_sets: Vec<FxHashSet<String>>,
    depth: u32,
    /// Lines to add inside pre-3.12 f-string expressions (see `fstring_line_shift`).
    line_shift: i64,
}

type Result<T> = std::result::Result<T, Diagnostic>;

impl<'a> Builder<'a> {
    pub(super) fn run(
        module: &ast::ModModule,
        source: &'a str,
        lines: Lines<'a>,
        v: PythonVersion,
    ) -> Result<(SymbolTable, Vec<Extra>)> {
        let future = future_features(module, v, &lines)?;
        let mut b = Builder {
            v,
            source,
            lines,
            table: SymbolTable {
                version: v,
                scopes: Vec::new(),
                future,
                keys: FxHashMap::default(),
            },
            extra: Vec::new(),
            stack: Vec::new(),
            private: None,
            mangled_sets: Vec::new(),
            depth: 0,
            line_shift: 0,
        };
        b.enter_block("top", ScopeKind::Module, None, Loc::default());
        b.visit_body(&module.body)?;
        b.exit_block();
        Ok((b.table, b.extra))
    }

    fn loc(&self, range: TextRange) -> Loc {
        self.resolve(Span::Range(range, self.line_shift))
    }

    /// The position of `range`, computed only if an error needs it.
    fn span(&self, range: TextRange) -> Span {
        Span::Range(range, self.line_shift)
    }

    fn resolve(&self, span: Span) -> Loc {
        let (range, line_shift) = match span {
            Span::Range(range, shift) => (range, shift),
            Span::Loc(loc) => return loc,
        };
        let (line, col) = self.lines.position(range.start().into());
        let (end_line, end_col) = self.lines.position(range.end().into());
        let shift = |line: u32| (i64::from(line) + line_shift).max(1) as u32;
        Loc {
            line: shift(line),
            col,
            end_line: shift(end_line),
            end_col,
        }
    }

    /// The location CPython gives a decorated `def` or `class`: its keyword (`async`
    /// included), not its first decorator.
    fn def_loc(&self, range: TextRange, name: TextRange, decorated: bool, kw: &str) -> Loc {
        let mut loc = self.loc(range);
        if decorated {
            let bytes = self.source.as_bytes();
            let back = |mut i: usize| {
                while i > 0
                    && matches!(bytes[i - 1], b' ' | b'\t' | b'\x0c' | b'\\' | b'\n' | b'\r')
                {
                    i -= 1;
                }
                i
            };
            let keyword = if kw == "class" { 5 } else { 3 };
            let mut start = back(usize::from(name.start())).saturating_sub(keyword);
            if kw == "async def" {
                start = back(start).saturating_sub(5);
            }
            let (line, col) = self.lines.position(start as u32);
            loc.line = line;
            loc.col = col;
        }
        loc
    }

    fn err(&self, message: String, loc: Loc) -> Diagnostic {
        error(self.v, message, loc, true)
    }

    fn cur(&self) -> ScopeId {
        *self.stack.last().expect("a scope is open while visiting")
    }

    fn scope(&mut self, id: ScopeId) -> &mut Scope {
        &mut self.table.scopes[id.0 as usize]
    }

    fn cur_scope(&mut self) -> &mut Scope {
        let id = self.cur();
        self.scope(id)
    }

    fn cur_extra(&mut self) -> &mut Extra {
        let id = self.cur();
        &mut self.extra[id.0 as usize]
    }

    fn enter_block(
        &mut self,
        name: &str,
        kind: ScopeKind,
        key: Option<(TextRange, Role)>,
        loc: Loc,
    ) {
        let prev = self.stack.last().copied();
        let id = ScopeId(self.table.scopes.len() as u32);
        let mut extra = Extra {
            loc,
            ..Extra::default()
        };
        let mut nested = false;
        if let Some(p) = prev {
            let ps = &self.table.scopes[p.0 as usize];
            nested = ps.flags.nested || ps.is_function_like();
            let pe = &self.extra[p.0 as usize];
            extra.comp_iter_expr = pe.comp_iter_expr;
            if kind != ScopeKind::Class {
                extra.mangled = pe.mangled;
            }
        }
        self.table.scopes.push(Scope {
            kind,
            comprehension: None,
            name: name.to_string(),
            lineno: loc.line,
            symbols: Default::default(),
            varnames: Vec::new(),
            children: Vec::new(),
            parent: prev,
            flags: ScopeFlags {
                nested,
                ..ScopeFlags::default()
            },
        });
        self.extra.push(extra);
        if let Some(key) = key {
            self.table.keys.insert(key, id);
        }
        self.stack.push(id);
        // 3.14+: the functions of annotation, type-variable and type-alias scopes take the
        // format as a `.format` parameter, which their code reads.
        if self.v.has_deferred_annotations()
            && matches!(
                kind,
                ScopeKind::Annotation | ScopeKind::TypeVariable | ScopeKind::TypeAlias
            )
        {
            let scope = self.scope(id);
            let symbol = Symbol {
                flags: F(F::PARAM | F::USE),
                scope: NameScope::GlobalImplicit,
            };
            scope.symbols.insert(".format".into(), symbol);
            scope.varnames.push(".format".into());
        }
        if kind != ScopeKind::Annotation {
            if let Some(p) = prev {
                self.scope(p).children.push(id);
            }
        }
    }

    fn exit_block(&mut self) {
        self.stack.pop();
    }

    fn mangle<'n>(&self, name: &'n str) -> Cow<'n, str> {
        if self.v.mangles_only_type_params() {
            if let Some(set) = self.extra[self.cur().0 as usize].mangled {
                if !self.mangled_sets[set].contains(name) {
                    return Cow::Borrowed(name);
                }
            }
        }
        mangled(self.private.as_deref(), name)
    }

    fn lookup_in(&self, ste: ScopeId, name: &str) -> u32 {
        let mangled = self.mangle(name);
        self.table.scopes[ste.0 as usize]
            .symbols
            .get(&*mangled)
            .map_or(0, |s| s.flags.0)
    }

    fn lookup(&self, name: &str) -> u32 {
        self.lookup_in(self.cur(), name)
    }

    fn add_def(&mut self, name: &str, flag: u32, loc: impl Into<Span>) -> Result<()> {
        if flag & F::TYPE_PARAM != 0 {
            if let Some(set) = self.cur_extra().mangled {
                self.mangled_sets[set].insert(name.to_string());
            }
        }
        self.add_def_in(name, flag, self.cur(), loc)
    }

    fn add_def_in(
        &mut self,
        name: &str,
        flag: u32,
        ste: ScopeId,
        loc: impl Into<Span>,
    ) -> Result<()> {
        let loc = loc.into();
        let mangled = self.mangle(name);
        let v = self.v;
        let (ste_loc, comp_iter_target) = {
            let e = &self.extra[ste.0 as usize];
            (e.loc, e.comp_iter_target)
        };
        let at = |b: &Self| {
            if v.symtable_errors_at_node() {
                b.resolve(loc)
            } else {
                ste_loc
            }
        };
        let mut val = flag;
        let index = self.scope(ste).symbols.get_index_of(&*mangled);
        if let Some(i) = index {
            let old = self.scope(ste).symbols[i].flags.0;
            if flag & F::PARAM != 0 && old & F::PARAM != 0 {
                return Err(self.err(
                    format!("duplicate argument '{name}' in function definition"),
                    at(self),
                ));
            }
            if flag & F::TYPE_PARAM != 0 && old & F::TYPE_PARAM != 0 {
                return Err(self.err(
                    format!("duplicate type parameter '{name}'"),
                    self.resolve(loc),
                ));
            }
            val |= old;
        }
        if comp_iter_target {
            if val & (F::GLOBAL | F::NONLOCAL) != 0 {
                return Err(self.err(
                    format!(
                        "comprehension inner loop cannot rebind assignment expression target '{name}'"
                    ),
                    at(self),
                ));
            }
            val |= F::COMP_ITER;
        }
        let symbol = Symbol {
            flags: F(val),
            scope: NameScope::GlobalImplicit,
        };
        let scope = self.scope(ste);
        match index {
            Some(i) => scope.symbols[i] = symbol,
            None => {
                scope.symbols.insert(mangled.to_string(), symbol);
            }
        }
        if flag & F::PARAM != 0 {
            scope.varnames.push(mangled.into_owned());
        } else if flag & F::GLOBAL != 0 {
            let module = &mut self.table.scopes[0].symbols;
            match module.get_mut(&*mangled) {
                Some(entry) => entry.flags.0 |= flag,
                None => {
                    let symbol = Symbol {
                        flags: F(flag),
                        scope: NameScope::GlobalImplicit,
                    };
                    module.insert(mangled.into_owned(), symbol);
                }
            }
        }
        Ok(())
    }

    fn record_directive(&mut self, name: &str, loc: Loc) {
        let mangled = self.mangle(name).into_owned();
        self.cur_extra().directives.push((mangled, loc));
    }

    fn enter_depth(&mut self, range: TextRange) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                "maximum recursion depth exceeded during compilation".into(),
                self.loc(range),
            ));
        }
        Ok(())
    }

    fn visit_body(&mut self, body: &[Stmt]) -> Result<()> {
        body.iter().try_for_each(|s| self.visit_stmt(s))
    }

    fn visit_exprs<'e>(&mut self, exprs: impl IntoIterator<Item = &'e Expr>) -> Result<()> {
        exprs.into_iter().try_for_each(|e| self.visit_expr(e))
    }

    fn visit_stmt(&mut self, s: &Stmt) -> Result<()> {
        self.enter_depth(s.range())?;
        self.visit_stmt_inner(s)?;
        self.depth -= 1;
        Ok(())
    }

    fn visit_stmt_inner(&mut self, s: &Stmt) -> Result<()> {
        let v = self.v;
        match s {
            Stmt::FunctionDef(f) => {
                let kw = if f.is_async { "async def" } else { "def" };
                let loc = self.def_loc(f.range, f.name.range, !f.decorator_list.is_empty(), kw);
                self.add_def(&f.name, F::LOCAL, loc)?;
                self.visit_defaults(&f.parameters)?;
                let decorators = f.decorator_list.iter().map(|d| &d.expression);
                let generic = f
                    .type_params
                    .as_deref()
                    .filter(|tp| !tp.is_empty() && v.has_type_params());
                if v.visits_decorators_first() {
                    self.visit_exprs(decorators.clone())?;
                }
                if let Some(tp) = generic {
                    let kwdefaults = f.parameters.kwonlyargs.iter().any(|p| p.default.is_some());
                    self.enter_type_param_block(&f.name, tp.range, true, kwdefaults, false, loc)?;
                    self.visit_type_params(tp)?;
                }
                self.visit_annotations(&f.parameters, f.returns.as_deref(), loc)?;
                if !v.visits_decorators_first() {
                    self.visit_exprs(decorators)?;
                }
                self.enter_block(
                    &f.name,
                    ScopeKind::Function,
                    Some((f.range, Role::Body)),
                    loc,
                );
                if f.is_async {
                    self.cur_scope().flags.coroutine = true;
                }
                self.visit_arguments(&f.parameters)?;
                self.visit_body(&f.body)?;
                self.exit_block();
                if generic.is_some() {
                    self.exit_block();
                }
            }
            Stmt::ClassDef(c) => {
                let loc =
                    self.def_loc(c.range, c.name.range, !c.decorator_list.is_empty(), "class");
                self.add_def(&c.name, F::LOCAL, loc)?;
                let decorators = c.decorator_list.iter().map(|d| &d.expression);
                let (bases, keywords): (&[Expr], &[ast::Keyword]) = match &c.arguments {
                    Some(a) => (&a.args, &a.keywords),
                    None => (&[], &[]),
                };
                let generic = c
                    .type_params
                    .as_deref()
                    .filter(|tp| !tp.is_empty() && v.has_type_params());
                let saved_private = self.private.clone();
                if !v.visits_decorators_first() {
                    self.visit_exprs(bases)?;
                    self.visit_exprs(keywords.iter().map(|k| &k.value))?;
                    self.visit_exprs(decorators)?;
                } else {
                    self.visit_exprs(decorators)?;
                    if let Some(tp) = generic {
                        self.enter_type_param_block(&c.name, tp.range, false, false, true, loc)?;
                        self.private = Some(c.name.to_string());
                        if v.mangles_only_type_params() {
                            self.mangled_sets.push(FxHashSet::default());
                            self.cur_extra().mangled = Some(self.mangled_sets.len() - 1);
                        }
                        self.visit_type_params(tp)?;
                    }
                    self.visit_exprs(bases)?;
                    self.visit_exprs(keywords.iter().map(|k| &k.value))?;
                }
                self.enter_block(&c.name, ScopeKind::Class, Some((c.range, Role::Body)), loc);
                self.private = Some(c.name.to_string());
                if generic.is_some() {
                    self.add_def("__type_params__", F::LOCAL, loc)?;
                    self.add_def(".type_params", F::USE, loc)?;
                }
                self.visit_body(&c.body)?;
                self.exit_block();
                if generic.is_some() {
                    self.exit_block();
                }
                // 3.12 (as of 3.12.1) saves the private name only after setting it for the
                // type parameters, so after a generic class it stays that class's name.
                self.private = if generic.is_some() && !v.mangles_only_type_params() {
                    Some(c.name.to_string())
                } else {
                    saved_private
                };
            }
            Stmt::TypeAlias(t) => {
                let loc = self.loc(s.range());
                self.visit_expr(&t.name)?;
                let Expr::Name(name) = t.name.as_ref() else {
                    return Ok(());
                };
                let in_class = self.table.scopes[self.cur().0 as usize].kind == ScopeKind::Class;
                let generic = t.type_params.as_deref().filter(|tp| !tp.is_empty());
                if let Some(tp) = generic {
                    self.enter_type_param_block(&name.id, tp.range, false, false, false, loc)?;
                    self.visit_type_params(tp)?;
                }
                self.enter_block(
                    &name.id,
                    ScopeKind::TypeAlias,
                    Some((t.range, Role::Body)),
                    loc,
                );
                self.cur_scope().flags.can_see_class_scope = in_class;
                if in_class {
                    self.add_def("__classdict__", F::USE, self.loc(t.value.range()))?;
                }
                self.visit_expr(&t.value)?;
                self.exit_block();
                if generic.is_some() {
                    self.exit_block();
                }
            }
            Stmt::Return(r) => {
                if let Some(value) = &r.value {
                    self.visit_expr(value)?;
                    self.cur_scope().flags.returns_value = true;
                }
            }
            Stmt::Delete(d) => self.visit_exprs(&d.targets)?,
            Stmt::Assign(a) => {
                self.visit_exprs(&a.targets)?;
                self.visit_expr(&a.value)?;
            }
            Stmt::AnnAssign(a) => {
                if let Expr::Name(target) = a.target.as_ref() {
                    let cur = self.lookup(&target.id);
                    if cur & (F::GLOBAL | F::NONLOCAL) != 0
                        && self.cur() != SymbolTable::ROOT
                        && a.simple
                    {
                        let which = if cur & F::GLOBAL != 0 {
                            "global"
                        } else {
                            "nonlocal"
                        };
                        return Err(self.err(
                            format!("annotated name '{}' can't be {which}", target.id),
                            self.loc(s.range()),
                        ));
                    }
                    let tloc = self.span(target.range);
                    if a.simple {
                        self.add_def(&target.id, F::ANNOT | F::LOCAL, tloc)?;
                    } else if a.value.is_some() {
                        self.add_def(&target.id, F::LOCAL, tloc)?;
                    }
                } else {
                    self.visit_expr(&a.target)?;
                }
                self.visit_annotation(&a.annotation)?;
                if let Some(value) = &a.value {
                    self.visit_expr(value)?;
                }
            }
            Stmt::AugAssign(a) => {
                self.visit_expr(&a.target)?;
                self.visit_expr(&a.value)?;
            }
            Stmt::For(f) => {
                self.visit_expr(&f.target)?;
                self.visit_expr(&f.iter)?;
                self.visit_conditional(&f.body)?;
                self.visit_conditional(&f.orelse)?;
            }
            Stmt::While(w) => {
                self.visit_expr(&w.test)?;
                self.visit_conditional(&w.body)?;
                self.visit_conditional(&w.orelse)?;
            }
            Stmt::If(i) => {
                self.visit_expr(&i.test)?;
                let saved = std::mem::replace(&mut self.cur_extra().in_conditional_block, true);
                self.visit_body(&i.body)?;
                // An `elif` is an `if` inside the `else`: its test is in the conditional block.
                for clause in &i.elif_else_clauses {
                    if let Some(test) = &clause.test {
                        self.visit_expr(test)?;
                    }
                    self.visit_body(&clause.body)?;
                }
                self.cur_extra().in_conditional_block = saved;
            }
            Stmt::With(w) => {
                let saved = std::mem::replace(&mut self.cur_extra().in_conditional_block, true);
                for item in &w.items {
                    self.visit_expr(&item.context_expr)?;
                    if let Some(vars) = &item.optional_vars {
                        self.visit_expr(vars)?;
                    }
                }
                self.visit_body(&w.body)?;
                self.cur_extra().in_conditional_block = saved;
            }
            Stmt::Match(m) => {
                self.visit_expr(&m.subject)?;
                let saved = std::mem::replace(&mut self.cur_extra().in_conditional_block, true);
                for case in &m.cases {
                    self.visit_pattern(&case.pattern)?;
                    if let Some(guard) = &case.guard {
                        self.visit_expr(guard)?;
                    }
                    self.visit_body(&case.body)?;
                }
                self.cur_extra().in_conditional_block = saved;
            }
            Stmt::Raise(r) => {
                if let Some(exc) = &r.exc {
                    self.visit_expr(exc)?;
                    if let Some(cause) = &r.cause {
                        self.visit_expr(cause)?;
                    }
                }
            }
            Stmt::Try(t) => {
                let saved = std::mem::replace(&mut self.cur_extra().in_conditional_block, true);
                self.visit_body(&t.body)?;
                if !v.handlers_before_else() {
                    self.visit_body(&t.orelse)?;
                }
                for ast::ExceptHandler::ExceptHandler(h) in &t.handlers {
                    if let Some(type_) = &h.type_ {
                        self.visit_expr(type_)?;
                    }
                    if let Some(name) = &h.name {
                        self.add_def(name, F::LOCAL, self.span(h.range))?;
                    }
                    self.visit_body(&h.body)?;
                }
                if v.handlers_before_else() {
                    self.visit_body(&t.orelse)?;
                }
                self.visit_body(&t.finalbody)?;
                self.cur_extra().in_conditional_block = saved;
            }
            Stmt::Assert(a) => {
                self.visit_expr(&a.test)?;
                if let Some(msg) = &a.msg {
                    self.visit_expr(msg)?;
                }
            }
            Stmt::Import(i) => i.names.iter().try_for_each(|a| self.visit_alias(a))?,
            Stmt::ImportFrom(i) => i.names.iter().try_for_each(|a| self.visit_alias(a))?,
            Stmt::Global(g) => {
                let loc = self.loc(s.range());
                self.visit_directive(&g.names, F::GLOBAL, "global", loc)?;
            }
            Stmt::Nonlocal(n) => {
                let loc = self.loc(s.range());
                self.visit_directive(&n.names, F::NONLOCAL, "nonlocal", loc)?;
            }
            Stmt::Expr(e) => self.visit_expr(&e.value)?,
            Stmt::Pass(_) | Stmt::Break(_) | Stmt::Continue(_) | Stmt::IpyEscapeCommand(_) => {}
        }
        Ok(())
    }

    fn visit_directive(
        &mut self,
        names: &[ast::Identifier],
        flag: u32,
        what: &str,
        loc: Loc,
    ) -> Result<()> {
        for name in names {
            let cur = self.lookup(name);
            if cur & (F::PARAM | F::LOCAL | F::USE | F::ANNOT) != 0 {
                let message = if cur & F::PARAM != 0 {
                    format!("name '{name}' is parameter and {what}")
                } else if cur & F::USE != 0 {
                    format!("name '{name}' is used prior to {what} declaration")
                } else if cur & F::ANNOT != 0 {
                    format!("annotated name '{name}' can't be {what}")
                } else {
                    format!("name '{name}' is assigned to before {what} declaration")
                };
                return Err(self.err(message, loc));
            }
            self.add_def(name, flag, loc)?;
            self.record_directive(name, loc);
        }
        Ok(())
    }

    /// Positional defaults, then keyword-only defaults: evaluated in the enclosing scope.
    fn visit_defaults(&mut self, params: &ast::Parameters) -> Result<()> {
        let positional = params.posonlyargs.iter().chain(&params.args);
        let defaults = positional.chain(&params.kwonlyargs);
        self.visit_exprs(defaults.filter_map(|p| p.default.as_deref()))
    }

    /// Parameters in `ste_varnames` order: positional-only, positional, keyword-only,
    /// `*args`, `**kwargs`.
    fn visit_arguments(&mut self, params: &ast::Parameters) -> Result<()> {
        let named = params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .chain(&params.kwonlyargs);
        for p in named {
            self.add_def(&p.parameter.name, F::PARAM, self.param_loc(&p.parameter))?;
        }
        if let Some(p) = &params.vararg {
            self.add_def(&p.name, F::PARAM, self.param_loc(p))?;
            self.cur_scope().flags.varargs = true;
        }
        if let Some(p) = &params.kwarg {
            self.add_def(&p.name, F::PARAM, self.param_loc(p))?;
            self.cur_scope().flags.varkeywords = true;
        }
        Ok(())
    }

    /// CPython's `arg` starts at the name, not at a `*`.
    fn param_loc(&self, p: &ast::Parameter) -> Span {
        self.span(TextRange::new(p.name.range.start(), p.range.end()))
    }

    fn annotations_deferred(&self) -> bool {
        self.v.future_annotations_have_scopes() && self.table.future.annotations
    }

    /// 3.14+: enters a new `__annotate__` scope, which takes a `.format` parameter; under
    /// `from __future__ import annotations` it is not part of the tree.
    fn enter_annotate_block(&mut self, loc: Loc) -> Result<ScopeId> {
        let parent = self.cur();
        self.enter_block("__annotate__", ScopeKind::Annotation, None, loc);
        let id = self.cur();
        if !self.table.future.annotations {
            self.scope(parent).children.push(id);
        }
        Ok(id)
    }

    /// Visits `body` as the body of a conditional statement (3.14+ tracks it for
    /// annotations).
    fn visit_conditional(&mut self, body: &[Stmt]) -> Result<()> {
        let saved = std::mem::replace(&mut self.cur_extra().in_conditional_block, true);
        let result = self.visit_body(body);
        self.cur_extra().in_conditional_block = saved;
        result
    }

    /// 3.14+ `symtable_visit_annotation`: a variable annotation, in the `__annotate__` scope
    /// its scope shares; a function's local annotations are not evaluated at all.
    fn visit_deferred_annotation(&mut self, annotation: &Expr) -> Result<()> {
        let loc = self.loc(annotation.range());
        let cur = self.cur();
        let kind = self.table.scopes[cur.0 as usize].kind;
        let unevaluated = kind == ScopeKind::Function;
        let conditional = self.extra[cur.0 as usize].in_conditional_block;
        if ((kind == ScopeKind::Class && conditional) || kind == ScopeKind::Module)
            && !self.table.scopes[cur.0 as usize]
                .flags
                .has_conditional_annotations
        {
            self.scope(cur).flags.has_conditional_annotations = true;
            self.add_def("__conditional_annotations__", F::USE, loc)?;
        }
        match self.extra[cur.0 as usize].annotation_block {
            Some(block) => self.stack.push(block),
            None => {
                let block = self.enter_annotate_block(loc)?;
                self.extra[cur.0 as usize].annotation_block = Some(block);
                if kind == ScopeKind::Class && !self.table.future.annotations {
                    self.cur_scope().flags.can_see_class_scope = true;
                    self.add_def("__classdict__", F::USE, loc)?;
                }
            }
        }
        self.cur_extra().in_unevaluated_annotation = unevaluated;
        let result = self.visit_expr(annotation);
        self.cur_extra().in_unevaluated_annotation = false;
        self.exit_block();
        result
    }

    fn visit_annotation(&mut self, annotation: &Expr) -> Result<()> {
        if self.v.has_deferred_annotations() {
            return self.visit_deferred_annotation(annotation);
        }
        let deferred = self.annotations_deferred();
        if deferred {
            let loc = self.loc(annotation.range());
            self.enter_block("_annotation", ScopeKind::Annotation, None, loc);
        }
        self.visit_expr(annotation)?;
        if deferred {
            self.exit_block();
        }
        Ok(())
    }

    /// Parameter annotations (positional-only, positional, `*args`, `**kwargs`, keyword-only),
    /// then the return annotation.
    fn visit_annotations(
        &mut self,
        params: &ast::Parameters,
        returns: Option<&Expr>,
        loc: Loc,
    ) -> Result<()> {
        // 3.14+: one `__annotate__` scope for the parameters and the return, always.
        let deferred = self.annotations_deferred() || self.v.has_deferred_annotations();
        if self.v.has_deferred_annotations() {
            let cur = &self.table.scopes[self.cur().0 as usize];
            let in_class = cur.flags.can_see_class_scope || cur.kind == ScopeKind::Class;
            self.enter_annotate_block(loc)?;
            if in_class {
                self.cur_scope().flags.can_see_class_scope = true;
                self.add_def("__classdict__", F::USE, loc)?;
            }
        } else if deferred {
            self.enter_block("_annotation", ScopeKind::Annotation, None, loc);
        }
        let positional = params
            .posonlyargs
            .iter()
            .chain(&params.args)
            .map(|p| &p.parameter);
        let star = params
            .vararg
            .iter()
            .chain(&params.kwarg)
            .map(|p| p.as_ref());
        let kwonly = params.kwonlyargs.iter().map(|p| &p.parameter);
        let all: Vec<&ast::Parameter> = positional.chain(star).chain(kwonly).collect();
        self.visit_exprs(all.into_iter().filter_map(|p| p.annotation.as_deref()))?;
        if self.v.has_deferred_annotations() {
            if let Some(returns) = returns {
                self.visit_expr(returns)?;
            }
            self.exit_block();
            return Ok(());
        }
        if deferred {
            self.exit_block();
        }
        if let Some(returns) = returns {
            self.visit_annotation(returns)?;
        }
        Ok(())
    }

    fn visit_alias(&mut self, alias: &ast::Alias) -> Result<()> {
        let name = alias.asname.as_ref().unwrap_or(&alias.name);
        if name.as_str() == "*" {
            let cur = self.cur();
            if self.table.scopes[cur.0 as usize].kind != ScopeKind::Module {
                let at = if self.v.symtable_errors_at_node() {
                    self.loc(alias.range)
                } else {
                    self.extra[cur.0 as usize].loc
                };
                return Err(self.err("import * only allowed at module level".into(), at));
            }
            return Ok(());
        }
        let store = name.split('.').next().unwrap_or(name);
        self.add_def(store, F::IMPORT, self.span(alias.range))
    }

    fn enter_type_param_block(
        &mut self,
        name: &str,
        range: TextRange,
        defaults: bool,
        kwdefaults: bool,
        class: bool,
        loc: Loc,
    ) -> Result<()> {
        let in_class = self.table.scopes[self.cur().0 as usize].kind == ScopeKind::Class;
        self.enter_block(
            name,
            ScopeKind::TypeParameters,
            Some((range, Role::TypeParams)),
            loc,
        );
        if in_class {
            self.cur_scope().flags.can_see_class_scope = true;
            self.add_def("__classdict__", F::USE, loc)?;
        }
        if class {
            for hidden in [".type_params", ".generic_base"] {
                self.add_def(hidden, F::LOCAL, loc)?;
                self.add_def(hidden, F::USE, loc)?;
            }
        }
        if defaults {
            self.add_def(".defaults", F::PARAM, loc)?;
        }
        if kwdefaults {
            self.add_def(".kwdefaults", F::PARAM, loc)?;
        }
        Ok(())
    }

    fn visit_type_params(&mut self, params: &ast::TypeParams) -> Result<()> {
        for tp in params.iter() {
            self.enter_depth(tp.range())?;
            let loc = self.loc(tp.range());
            let (name, bound, default, default_info) = match tp {
                TypeParam::TypeVar(t) => {
                    (&t.name, t.bound.as_deref(), &t.default, "a TypeVar default")
                }
                TypeParam::TypeVarTuple(t) => (&t.name, None, &t.default, "a TypeVarTuple default"),
                TypeParam::ParamSpec(t) => (&t.name, None, &t.default, "a ParamSpec default"),
            };
            self.add_def(name, F::TYPE_PARAM | F::LOCAL, loc)?;
            if let Some(bound) = bound {
                let info = if bound.is_tuple_expr() {
                    "a TypeVar constraint"
                } else {
                    "a TypeVar bound"
                };
                // 3.12 places the bound's scope at the type parameter, 3.13 at the bound.
                let at = if self.v.has_type_param_defaults() {
                    self.loc(bound.range())
                } else {
                    loc
                };
                self.visit_type_variable(name, bound, (tp.range(), Role::Bound), info, at)?;
            }
            if let (Some(default), true) = (default, self.v.has_type_param_defaults()) {
                let at = self.loc(default.range());
                self.visit_type_variable(
                    name,
                    default,
                    (tp.range(), Role::Default),
                    default_info,
                    at,
                )?;
            }
            self.depth -= 1;
        }
        Ok(())
    }

    fn visit_type_variable(
        &mut self,
        name: &str,
        e: &Expr,
        key: (TextRange, Role),
        info: &'static str,
        loc: Loc,
    ) -> Result<()> {
        let in_class = self.table.scopes[self.cur().0 as usize]
            .flags
            .can_see_class_scope;
        self.enter_block(name, ScopeKind::TypeVariable, Some(key), loc);
        self.cur_scope().flags.can_see_class_scope = in_class;
        if in_class {
            self.add_def("__classdict__", F::USE, self.loc(e.range()))?;
        }
        self.cur_extra().scope_info = info;
        self.visit_expr(e)?;
        self.exit_block();
        Ok(())
    }

    fn visit_pattern(&mut self, p: &Pattern) -> Result<()> {
        self.enter_depth(p.range())?;
        let loc = self.span(p.range());
        match p {
            Pattern::MatchValue(m) => self.visit_expr(&m.value)?,
            Pattern::MatchSingleton(_) => {}
            Pattern::MatchSequence(m) => {
                m.patterns.iter().try_for_each(|p| self.visit_pattern(p))?
            }
            Pattern::MatchStar(m) => {
                if let Some(name) = &m.name {
                    self.add_def(name, F::LOCAL, loc)?;
                }
            }
            Pattern::MatchMapping(m) => {
                self.visit_exprs(&m.keys)?;
                m.patterns.iter().try_for_each(|p| self.visit_pattern(p))?;
                if let Some(rest) = &m.rest {
                    self.add_def(rest, F::LOCAL, loc)?;
                }
            }
            Pattern::MatchClass(m) => {
                self.visit_expr(&m.cls)?;
                m.arguments
                    .patterns
                    .iter()
                    .try_for_each(|p| self.visit_pattern(p))?;
                for k in &m.arguments.keywords {
                    self.visit_pattern(&k.pattern)?;
                }
            }
            Pattern::MatchAs(m) => {
                if let Some(p) = &m.pattern {
                    self.visit_pattern(p)?;
                }
                if let Some(name) = &m.name {
                    self.add_def(name, F::LOCAL, loc)?;
                }
            }
            Pattern::MatchOr(m) => m.patterns.iter().try_for_each(|p| self.visit_pattern(p))?,
        }
        self.depth -= 1;
        Ok(())
    }

    /// 3.10+: yield, await and walrus are not allowed in annotations and type scopes.
    fn forbid_in_annotation(&self, what: &str, e: &Expr) -> Result<()> {
        let cur = self.cur();
        let message = match self.table.scopes[cur.0 as usize].kind {
            // Reworded along with the messages of the type-parameter scopes.
            ScopeKind::Annotation if self.v.has_type_params() => {
                format!("{what} cannot be used within an annotation")
            }
            ScopeKind::Annotation => format!("'{what}' can not be used within an annotation"),
            ScopeKind::TypeVariable if self.v.has_type_param_defaults() => {
                format!(
                    "{what} cannot be used within {}",
                    self.extra[cur.0 as usize].scope_info
                )
            }
            ScopeKind::TypeVariable => format!("{what} cannot be used within a TypeVar bound"),
            ScopeKind::TypeAlias => format!("{what} cannot be used within a type alias"),
            ScopeKind::TypeParameters => {
                format!("{what} cannot be used within the definition of a generic")
            }
            _ => return Ok(()),
        };
        Err(self.err(message, self.loc(e.range())))
    }

    /// 3.10+: `yield` in a comprehension fails at the `yield`.
    fn forbid_yield_in_comprehension(&self, e: &Expr) -> Result<()> {
        match self.table.scopes[self.cur().0 as usize].comprehension {
            Some(kind) if self.v.symtable_errors_at_node() => {
                Err(self.err(yield_in_comprehension(kind), self.loc(e.range())))
            }
            _ => Ok(()),
        }
    }

    fn visit_expr(&mut self, e: &Expr) -> Result<()> {
        self.enter_depth(e.range())?;
        self.visit_expr_inner(e)?;
        self.depth -= 1;
        Ok(())
    }

    fn visit_expr_inner(&mut self, e: &Expr) -> Result<()> {
        // The arms that recurse most stay here; the rest live in `visit_expr_other`, keeping
        // this frame small for deeply nested expressions.
        match e {
            Expr::BoolOp(b) => self.visit_exprs(&b.values)?,
            Expr::BinOp(b) => {
                self.visit_expr(&b.left)?;
                self.visit_expr(&b.right)?;
            }
            Expr::UnaryOp(u) => self.visit_expr(&u.operand)?,
            Expr::If(i) => {
                self.visit_expr(&i.test)?;
                self.visit_expr(&i.body)?;
                self.visit_expr(&i.orelse)?;
            }
            Expr::Dict(d) => {
                self.visit_exprs(d.items.iter().filter_map(|i| i.key.as_ref()))?;
                self.visit_exprs(d.items.iter().map(|i| &i.value))?;
            }
            Expr::Set(s) => self.visit_exprs(&s.elts)?,
            Expr::Compare(c) => {
                self.visit_expr(&c.left)?;
                self.visit_exprs(c.comparators.iter())?;
            }
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
            | Expr::IpyEscapeCommand(_) => {}
            Expr::Attribute(a) => self.visit_expr(&a.value)?,
            Expr::Subscript(s) => {
                self.visit_expr(&s.value)?;
                self.visit_expr(&s.slice)?;
            }
            Expr::Starred(s) => self.visit_expr(&s.value)?,
            Expr::Slice(s) => {
                let parts = [&s.lower, &s.upper, &s.step];
                self.visit_exprs(parts.into_iter().filter_map(|p| p.as_deref()))?;
            }
            Expr::List(l) => self.visit_exprs(&l.elts)?,
            Expr::Tuple(t) => self.visit_exprs(&t.elts)?,
            Expr::Call(c) => {
                self.visit_expr(&c.func)?;
                if let ([Expr::Generator(g)], []) = (&*c.arguments.args, &*c.arguments.keywords) {
                    if !g.parenthesized {
                        return self.visit_call_generator(c, g);
                    }
                }
                self.visit_exprs(c.arguments.args.iter())?;
                self.visit_exprs(c.arguments.keywords.iter().map(|k| &k.value))?;
            }
            _ => self.visit_expr_other(e)?,
        }
        Ok(())
    }

    /// CPython places a generator that is a call's only argument at the call's parentheses.
    #[inline(never)]
    fn visit_call_generator(&mut self, c: &ast::ExprCall, g: &ast::ExprGenerator) -> Result<()> {
        let at = self.loc(c.arguments.range);
        let arg = &c.arguments.args[0];
        self.enter_depth(arg.range())?;
        let kind = ComprehensionKind::Generator;
        self.visit_comprehension_expr(arg, kind, &g.generators, &g.elt, None, Some(at))?;
        self.depth -= 1;
        Ok(())
    }

    #[inline(never)]
    fn visit_expr_other(&mut self, e: &Expr) -> Result<()> {
        match e {
            Expr::Named(n) => {
                self.forbid_in_annotation("named expression", e)?;
                self.visit_named(n)?;
            }
            Expr::Lambda(l) => {
                let params = l.parameters.as_deref();
                if let Some(params) = params {
                    self.visit_defaults(params)?;
                }
                if self.v.refuses_nested_scopes_in_class_annotation_scopes()
                    && self.sees_class_scope()
                {
                    return Err(self.err(
                        "Cannot use lambda in annotation scope within class scope".into(),
                        self.loc(l.range),
                    ));
                }
                let loc = self.loc(l.range);
                self.enter_block(
                    if self.v.symtable_names_in_brackets() {
                        "<lambda>"
                    } else {
                        "lambda"
                    },
                    ScopeKind::Function,
                    Some((l.range, Role::Body)),
                    loc,
                );
                if let Some(params) = params {
                    self.visit_arguments(params)?;
                }
                self.visit_expr(&l.body)?;
                self.exit_block();
            }
            Expr::ListComp(c) => self.visit_comprehension_expr(
                e,
                ComprehensionKind::List,
                &c.generators,
                &c.elt,
                None,
                None,
            )?,
            Expr::SetComp(c) => self.visit_comprehension_expr(
                e,
                ComprehensionKind::Set,
                &c.generators,
                &c.elt,
                None,
                None,
            )?,
            Expr::DictComp(c) => self.visit_comprehension_expr(
                e,
                ComprehensionKind::Dict,
                &c.generators,
                c.key.as_deref().unwrap_or(&c.value),
                c.key.as_ref().map(|_| c.value.as_ref()),
                None,
            )?,
            Expr::Generator(g) => self.visit_comprehension_expr(
                e,
                ComprehensionKind::Generator,
                &g.generators,
                &g.elt,
                None,
                None,
            )?,
            Expr::Yield(y) => {
                self.forbid_in_annotation("yield expression", e)?;
                if let Some(value) = &y.value {
                    self.visit_expr(value)?;
                }
                self.cur_scope().flags.generator = true;
                self.forbid_yield_in_comprehension(e)?;
            }
            Expr::YieldFrom(y) => {
                self.forbid_in_annotation("yield expression", e)?;
                self.visit_expr(&y.value)?;
                self.cur_scope().flags.generator = true;
                self.forbid_yield_in_comprehension(e)?;
            }
            Expr::Await(a) => {
                self.forbid_in_annotation("await expression", e)?;
                self.visit_expr(&a.value)?;
                self.cur_scope().flags.coroutine = true;
            }
            Expr::FString(f) => {
                let parts = f.value.as_slice();
                for part in parts {
                    if let ast::FStringPart::FString(fs) = part {
                        // Before 3.12 an f-string's expressions were parsed on their own and
                        // placed by searching their text in the string token: in 3.8 the
                        // first token of an implicit concatenation, later the token itself.
                        let search = match (self.v.fstring_search(), parts.first()) {
                            (FStringSearch::FirstToken, Some(first)) => {
                                Some((first.range(), f.range.start()))
                            }
                            (FStringSearch::OwnToken, _) => Some((fs.range, fs.range.start())),
                            _ => None,
                        };
                        self.visit_interpolations(&fs.elements, search)?;
                    }
                }
            }
            Expr::TString(t) => {
                for part in t.value.as_slice() {
                    self.visit_interpolations(&part.elements, None)?;
                }
            }
            Expr::Name(_) if self.extra[self.cur().0 as usize].in_unevaluated_annotation => {}
            Expr::Name(n) => {
                let load = n.ctx == ExprContext::Load;
                let loc = self.span(n.range);
                self.add_def(&n.id, if load { F::USE } else { F::LOCAL }, loc)?;
                let cur = self.cur();
                if load
                    && n.id.as_str() == "super"
                    && self.table.scopes[cur.0 as usize].is_function_like()
                {
                    self.add_def("__class__", F::USE, loc)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn visit_interpolations(
        &mut self,
        elements: &ast::InterpolatedStringElements,
        search: Option<(TextRange, TextSize)>,
    ) -> Result<()> {
        let outer_shift = self.line_shift;
        for element in elements.iter() {
            if let ast::InterpolatedStringElement::Interpolation(i) = element {
                if let Some((token, base)) = search {
                    self.line_shift = outer_shift + self.fstring_line_shift(i, token, base);
                }
                self.visit_expr(&i.expression)?;
                self.line_shift = outer_shift;
                if let Some(spec) = &i.format_spec {
                    self.visit_interpolations(&spec.elements, search)?;
                }
            }
        }
        Ok(())
    }

    /// 3.8–3.11: how far CPython's line numbers inside an f-string expression are from the
    /// real ones. CPython searches `{expr}` in the token's text; when found, lines count from
    /// there, otherwise from the `base` line.
    fn fstring_line_shift(
        &self,
        i: &ast::InterpolatedElement,
        token: TextRange,
        base: TextSize,
    ) -> i64 {
        let bytes = self.source.as_bytes();
        let open = usize::from(i.range.start());
        let mut end = usize::from(i.expression.range().end());
        while end < bytes.len()
            && matches!(bytes[end], b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b')')
        {
            end += 1;
        }
        let line = |offset: usize| i64::from(self.lines.position(offset as u32).0);
        let (Some(expr), Some(hay)) = (
            self.source.get(open + 1..end),
            self.source
                .get(usize::from(token.start())..usize::from(token.end())),
        ) else {
            return 0;
        };
        let start = match hay.find(&format!("{{{expr}}}")) {
            Some(k) => line(usize::from(token.start()) + k),
            None => line(usize::from(base)),
        };
        start - line(open)
    }

    fn sees_class_scope(&self) -> bool {
        self.table.scopes[self.cur().0 as usize]
            .flags
            .can_see_class_scope
    }

    fn visit_named(&mut self, n: &ast::ExprNamed) -> Result<()> {
        let cur = self.cur();
        let plus_one = self.v.walrus_errors_one_based();
        if self.extra[cur.0 as usize].comp_iter_expr > 0 {
            return Err(error(
                self.v,
                "assignment expression cannot be used in a comprehension iterable expression"
                    .into(),
                self.loc(n.range),
                plus_one,
            ));
        }
        if self.table.scopes[cur.0 as usize].comprehension.is_some() {
            if let Expr::Name(target) = n.target.as_ref() {
                self.extend_named_scope(target, plus_one)?;
            }
        }
        self.visit_expr(&n.value)?;
        self.visit_expr(&n.target)
    }

    /// A walrus in a comprehension binds in the nearest enclosing function or module.
    fn extend_named_scope(&mut self, target: &ast::ExprName, plus_one: bool) -> Result<()> {
        let name = target.id.as_str();
        let loc = self.loc(target.range);
        let v = self.v;
        for i in (0..self.stack.len()).rev() {
            let ste = self.stack[i];
            let scope = &self.table.scopes[ste.0 as usize];
            let (kind, is_comprehension) = (scope.kind, scope.comprehension.is_some());
            let flags = if v.inlines_comprehensions() {
                self.lookup_in(ste, name)
            } else {
                scope.symbols.get(name).map_or(0, |s| s.flags.0)
            };
            if is_comprehension {
                let local = !v.inlines_comprehensions() || flags & F::LOCAL != 0;
                if flags & F::COMP_ITER != 0 && local {
                    return Err(error(
                        v,
                        format!(
                            "assignment expression cannot rebind comprehension iteration variable '{name}'"
                        ),
                        loc,
                        plus_one,
                    ));
                }
                continue;
            }
            let place = match kind {
                ScopeKind::Function => {
                    let flag = if flags & F::GLOBAL != 0 {
                        F::GLOBAL
                    } else {
                        F::NONLOCAL
                    };
                    self.add_def(name, flag, loc)?;
                    self.record_directive(name, loc);
                    return self.add_def_in(name, F::LOCAL, ste, loc);
                }
                ScopeKind::Module => {
                    self.add_def(name, F::GLOBAL, loc)?;
                    self.record_directive(name, loc);
                    return self.add_def_in(name, F::GLOBAL, ste, loc);
                }
                ScopeKind::Annotation => continue,
                ScopeKind::Class => "in a class body",
                ScopeKind::TypeParameters => "within the definition of a generic",
                ScopeKind::TypeAlias => "in a type alias",
                ScopeKind::TypeVariable => "in a TypeVar bound",
            };
            let message =
                format!("assignment expression within a comprehension cannot be used {place}");
            return Err(error(v, message, loc, plus_one));
        }
        Ok(())
    }

    fn visit_comprehension_expr(
        &mut self,
        e: &Expr,
        kind: ComprehensionKind,
        generators: &[ast::Comprehension],
        elt: &Expr,
        value: Option<&Expr>,
        at: Option<Loc>,
    ) -> Result<()> {
        let v = self.v;
        if v.refuses_nested_scopes_in_class_annotation_scopes() && self.sees_class_scope() {
            return Err(self.err(
                "Cannot use comprehension in annotation scope within class scope".into(),
                at.unwrap_or_else(|| self.loc(e.range())),
            ));
        }
        let Some(outermost) = generators.first() else {
            return Ok(());
        };
        self.cur_extra().comp_iter_expr += 1;
        self.visit_expr(&outermost.iter)?;
        self.cur_extra().comp_iter_expr -= 1;
        let name = match kind {
            ComprehensionKind::List => "listcomp",
            ComprehensionKind::Set => "setcomp",
            ComprehensionKind::Dict => "dictcomp",
            ComprehensionKind::Generator => "genexpr",
        };
        let name = if self.v.symtable_names_in_brackets() {
            format!("<{name}>")
        } else {
            name.to_string()
        };
        let name = name.as_str();
        let loc = at.unwrap_or_else(|| self.loc(e.range()));
        self.enter_block(
            name,
            ScopeKind::Function,
            Some((e.range(), Role::Body)),
            loc,
        );
        self.cur_scope().comprehension = Some(kind);
        if outermost.is_async {
            self.cur_scope().flags.coroutine = true;
        }
        self.add_def(".0", F::PARAM, loc)?;
        self.cur_extra().comp_iter_target = true;
        self.visit_expr(&outermost.target)?;
        self.cur_extra().comp_iter_target = false;
        self.visit_exprs(&outermost.ifs)?;
        for g in &generators[1..] {
            self.cur_extra().comp_iter_target = true;
            self.visit_expr(&g.target)?;
            self.cur_extra().comp_iter_target = false;
            self.cur_extra().comp_iter_expr += 1;
            self.visit_expr(&g.iter)?;
            self.cur_extra().comp_iter_expr -= 1;
            self.visit_exprs(&g.ifs)?;
            if g.is_async {
                self.cur_scope().flags.coroutine = true;
            }
        }
        if let Some(value) = value {
            self.visit_expr(value)?;
        }
        self.visit_expr(elt)?;
        let is_generator = kind == ComprehensionKind::Generator;
        if !v.symtable_errors_at_node() && self.cur_scope().flags.generator {
            return Err(self.err(yield_in_comprehension(kind), loc));
        }
        let flags = &mut self.cur_scope().flags;
        flags.generator = is_generator;
        let is_async = flags.coroutine && !is_generator;
        self.exit_block();
        if is_async && v.async_comprehension_awaits_in_parent() {
            self.cur_scope().flags.coroutine = true;
        }
        Ok(())
    }
}

fn yield_in_comprehension(kind: ComprehensionKind) -> String {
    let what = match kind {
        ComprehensionKind::List => "list comprehension",
        ComprehensionKind::Set => "set comprehension",
        ComprehensionKind::Dict => "dict comprehension",
        ComprehensionKind::Generator => "generator expression",
    };
    format!("'yield' inside {what}")
}

/// `_Py_Mangle` (see [`super::mangle`]).
pub(super) fn mangle(private: Option<&str>, name: &str) -> String {
    mangled(private, name).into_owned()
}

/// [`mangle`], borrowing `name` when it stays as it is (nearly always).
fn mangled<'n>(private: Option<&str>, name: &'n str) -> Cow<'n, str> {
    let Some(class) = private.filter(|_| name.starts_with("__")) else {
        return Cow::Borrowed(name);
    };
    let class = class.trim_start_matches('_');
    if name.ends_with("__") || name.contains('.') || class.is_empty() {
        return Cow::Borrowed(name);
    }
    Cow::Owned(format!("_{class}{name}"))
}

/// `Python/future.c`: the future features of the module, or the error for a bad one.
fn future_features(
    module: &ast::ModModule,
    v: PythonVersion,
    lines: &Lines,
) -> Result<FutureFeatures> {
    let mut features = FutureFeatures::default();
    let body = &module.body;
    let docstring = matches!(body.first(), Some(Stmt::Expr(e)) if e.value.is_string_literal_expr());
    let (mut done, mut prev_line) = (false, 0);
    let at = |start: TextSize, plus_one: bool| {
        let (line, col) = lines.position(start.into());
        let mut d = Diagnostic::new(ErrorKind::SyntaxError, "", line, col + u32::from(plus_one));
        if v.syntax_errors_have_end() {
            d.end = Some((line, 0));
        }
        d
    };
    for s in &body[usize::from(docstring)..] {
        let (line, _) = lines.position(s.start().into());
        // Before 3.12, a future import after another statement on the same line is checked
        // here; every other late one is left to the compiler.
        if done && line > prev_line {
            break;
        }
        prev_line = line;
        let future = match s {
            Stmt::ImportFrom(i)
                if i.module
                    .as_ref()
                    .is_some_and(|m| m.as_str() == "__future__") =>
            {
                i
            }
            _ if v.future_scan_ends_at_first_statement() => break,
            _ => {
                done = true;
                continue;
            }
        };
        if done {
            let mut d = at(s.start(), false);
            d.message = "from __future__ imports must occur at the beginning of the file".into();
            return Err(d);
        }
        for alias in &future.names {
            match alias.name.as_str() {
                "nested_scopes" | "generators" | "division" | "absolute_import"
                | "with_statement" | "print_function" | "unicode_literals" | "generator_stop" => {}
                "annotations" => features.annotations = true,
                "barry_as_FLUFL" => features.barry_as_flufl = true,
                other => {
                    let mut d = at(s.start(), true);
                    d.message = if other == "braces" {
                        "not a chance".into()
                    } else {
                        let feature: String = other.chars().take(100).collect();
                        format!("future feature {feature} is not defined")
                    };
                    return Err(d);
                }
            }
        }
        features.last_line = Some(line);
    }
    Ok(features)
}
