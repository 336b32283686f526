//! Constant folding: CPython's AST optimizer (`Python/ast_opt.c`, `_PyAST_Optimize`) for
//! 3.8–3.13, run between parsing and the symbol table as in CPython.
//!
//! # What the AST pass does (every version unless said)
//! - Unary `-`, `+`, `~` and `not` on a constant; `not (a is b)` / `not (a in b)` (a single
//!   `is`, `is not`, `in`, `not in` comparison) becomes the inverted comparison.
//! - Binary operators on two constants, except `@`: `int` arithmetic exact; `float` and
//!   `complex` bit for bit as CPython; `str`/`bytes`/`tuple` concatenation (no limit) and
//!   repetition. Nothing is folded where CPython raises (division by zero, overflow of an
//!   int-to-float conversion or of `**`, bad operand types) or where a result would pass the
//!   limits: `*` of two ints over 128 bits together, `**` whose base bits exceed
//!   `128 / exponent`, `<<` past 128 bits, a repeated tuple over 256 items or 1024 nested
//!   items, a repeated `str`/`bytes` over 4096 characters, a negative or huge repeat count
//!   of a non-empty sequence. `%` with a `str` or `bytes` left operand never folds.
//! - Subscripts `const[const]` (an index, never a slice) of `str`, `bytes`, `tuple`.
//! - Tuples of constants in a load context.
//! - The right operand of a final `in`/`not in`, the iterable of `for` (not `async for`) and
//!   of every comprehension: a list display becomes a tuple (unless it has `*`), a tuple of
//!   constants if it can; a set display of constants becomes a `frozenset`.
//! - `__debug__` is `True`, or `False` at `-O` and above (3.8 in any context; 3.9+ loads).
//! - 3.11+: `'...' % (a, b)` with only `%s`/`%r`/`%a` conversions (optional `-` flag, width and
//!   precision of at most two digits; other flags are ignored) becomes an f-string.
//! - 3.9+: annotations are not folded under `from __future__ import annotations`. 3.8 folds
//!   them, and codegen must then turn the *folded* annotation back into its string.
//! - A first statement that folding turns into a string (`'a' + 'b'`) is wrapped in a
//!   one-item f-string so that it is no docstring ([`Folded::wraps_docstring`]).
//! - Match patterns (3.10+) fold their values (`case -1:`), type parameters their bounds
//!   (3.12+) and defaults (3.13+).
//!
//! # What later passes fold (codegen's business)
//! The bytecode optimizer of every version (3.8–3.9 `peephole.c`, 3.10–3.11 `compile.c`,
//! 3.12–3.13 `flowgraph.c`) folds `BUILD_TUPLE n` after `n` constant loads into one
//! constant: this catches tuples whose items codegen loads as constants although the AST
//! holds none, such as `(f'a', 1)` (an f-string of one literal loads as a constant) and, in
//! 3.13, `(f'', 1)`. Codegen itself folds lists and sets of constants (3.9+:
//! `LOAD_CONST tuple` or `frozenset` then `LIST_EXTEND`/`SET_UPDATE` for three or more
//! items; use [`frozenset`]), constant dict keys (`BUILD_CONST_KEY_MAP`) and keyword-name
//! tuples. Every version drops jumps on constant conditions, and 3.13's flowgraph turns
//! `LOAD_CONST c; TO_BOOL` into `LOAD_CONST bool(c)` (use [`truth`]).
//!
//! # What codegen must do with this
//! - Before compiling any expression, ask [`Folded::constant`]: a hit is one `LOAD_CONST`
//!   of exactly that constant (subexpressions of a folded expression may keep stale
//!   entries, so look up outermost first). Every place CPython's compiler checks for a
//!   `Constant` node (docstrings, constant `if`/`while` tests, `is` with a literal warnings,
//!   the assert-on-tuple warning, constant subscript warnings, dict keys, starred unpacking)
//!   must use [`Folded::value`], which also covers literal nodes.
//! - `-O` (optimize ≥ 1): `assert` statements compile to nothing; `__debug__` is folded here.
//!   `-OO` (optimize ≥ 2): docstrings are dropped, neither stored as `__doc__` nor put first
//!   in a function's constants; which statement is then skipped and what stands first in
//!   `co_consts` differ by version (`compiler_body`, `compiler_function`).
//! - A statement marked by [`Folded::wraps_docstring`] is CPython's `JoinedStr` of one
//!   constant: not a docstring, and compiled as an expression (a load and `POP_TOP`), not
//!   skipped as a constant statement.
//! - The symbol table must not record `__debug__` loads, which CPython never sees.
//!
//! # Representation
//! ruff's AST has no node for an arbitrary constant (negative numbers, tuples, frozensets,
//! lone surrogates), so folded values live in a side table keyed by the folded
//! expression's source range. The rewrites CPython makes to the tree are made in place:
//! list displays become `Expr::Tuple` (range unchanged), `not` over a comparison becomes the
//! comparison, and a `%` format becomes an `Expr::FString` with the `BinOp`'s range, whose
//! values keep their own ranges and whose literal parts (and format specs), which have no
//! location in CPython, get empty ranges (their exact text, lone surrogates included, is in
//! [`Folded::format_literals`]).

use std::borrow::Cow;
use std::sync::Mutex;

use pyc_assembler::{Constant, PyStr, PythonVersion};
use ruff_python_ast::{
    self as ast, AtomicNodeIndex, CmpOp, ConversionFlag, Expr, ExprContext, FStringFlags,
    FStringValue, InterpolatedElement, InterpolatedStringElement, InterpolatedStringElements,
    InterpolatedStringFormatSpec, InterpolatedStringLiteralElement, ModModule, Operator, Pattern,
    Stmt, UnaryOp,
};
use ruff_text_size::{Ranged, TextRange};
use rustc_hash::{FxHashMap, FxHashSet};

mod format;
mod literal;
mod number;
mod value;

pub use literal::{decode_escapes, is_literal, literal};
pub use value::{frozenset, truth};

/// What constant folding decided about a module: the constant of every folded expression.
#[derive(Clone, Debug, Default)]
pub struct Folded {
    constants: FxHashMap<TextRange, Constant>,
    wrapped_docstrings: FxHashSet<TextRange>,
    format_literals: FxHashMap<TextRange, Vec<PyStr>>,
}

impl Folded {
    /// The constant `expr` was folded into, if it was (literal nodes are not in the table:
    /// see [`Folded::value`]).
    pub fn constant(&self, expr: &Expr) -> Option<&Constant> {
        self.constants.get(&expr.range())
    }

    /// The constant `expr` stands for after folding, as CPython's `Constant` node would hold
    /// it: a folded expression's value or a literal's. `source` is the module's text.
    pub fn value(&self, expr: &Expr, source: &str) -> Option<Constant> {
        self.constant(expr)
            .cloned()
            .or_else(|| literal(expr, source))
    }

    /// Whether `expr` is a constant after folding (CPython's `Constant_kind`).
    pub fn is_constant(&self, expr: &Expr) -> bool {
        is_literal(expr) || self.constants.contains_key(&expr.range())
    }

    /// Whether this expression statement is the first of a module, class or function body
    /// that folding turned into a string, which CPython wraps in a `JoinedStr` so that it is
    /// not taken for a docstring.
    pub fn wraps_docstring(&self, stmt: &ast::StmtExpr) -> bool {
        self.wrapped_docstrings.contains(&stmt.range)
    }

    /// For an f-string made from a `%` format (3.11+), the exact values of its literal
    /// elements in order (the elements themselves hold U+FFFD for lone surrogates).
    pub fn format_literals(&self, fstring: &ast::ExprFString) -> Option<&[PyStr]> {
        self.format_literals.get(&fstring.range).map(Vec::as_slice)
    }

    /// How many expressions were folded (counting folded subexpressions).
    pub fn len(&self) -> usize {
        self.constants.len()
    }

    /// Whether nothing was folded.
    pub fn is_empty(&self) -> bool {
        self.constants.is_empty()
    }
}

/// Folds `module` (parsed from `source`) as CPython `v`'s AST optimizer does at optimization
/// level `optimize` (0, 1 for `-O`, 2 for `-OO`): rewrites the tree in place where CPython
/// does and returns the folded constants.
///
/// Nesting deeper than CPython's compiler allows is left unfolded; the symbol table reports
/// it.
pub fn fold(module: &mut ModModule, source: &str, v: PythonVersion, optimize: u8) -> Folded {
    let module = Mutex::new(module);
    let run = || {
        let mut guard = module.lock().unwrap_or_else(|e| e.into_inner());
        let body = &mut guard.body;
        let fold_annotations = v == PythonVersion::V3_8 || !has_future_annotations(body);
        let mut folder = Folder {
            v,
            debug: optimize == 0,
            fold_annotations,
            source,
            out: Folded::default(),
            depth: 0,
        };
        folder.body(body);
        folder.out
    };
    // The walk recurses as deep as the source nests.
    crate::stack::with_large_stack("fold", run)
}

/// The nesting (statements, expressions and patterns) beyond which CPython's compiler gives
/// up with a `RecursionError`; the symbol table stops at the same depth.
const MAX_DEPTH: u32 = 3000;

/// `from __future__ import annotations` among the future statements opening the module.
fn has_future_annotations(body: &[Stmt]) -> bool {
    let skip = usize::from(is_docstring(body.first()));
    body.iter()
        .skip(skip)
        .map_while(|s| match s {
            Stmt::ImportFrom(i) if i.level == 0 && i.module.as_deref() == Some("__future__") => {
                Some(i)
            }
            _ => None,
        })
        .any(|i| i.names.iter().any(|a| a.name.as_str() == "annotations"))
}

/// A statement CPython takes for a docstring before folding: a string literal expression.
fn is_docstring(stmt: Option<&Stmt>) -> bool {
    matches!(stmt, Some(Stmt::Expr(e)) if matches!(*e.value, Expr::StringLiteral(_)))
}

/// What to do to an expression once its children are folded.
enum After {
    Nothing,
    Fold(Constant),
    /// `not` over a comparison: the comparison with this operator.
    Invert(CmpOp),
    /// `%` formatting becomes an f-string of these pieces.
    Format(Vec<format::Piece>),
}

struct Folder<'s> {
    v: PythonVersion,
    /// The value of `__debug__`.
    debug: bool,
    fold_annotations: bool,
    source: &'s str,
    out: Folded,
    depth: u32,
}

impl Folder<'_> {
    fn value(&self, e: &Expr) -> Option<Cow<'_, Constant>> {
        match self.out.constants.get(&e.range()) {
            Some(c) => Some(Cow::Borrowed(c)),
            None => literal(e, self.source).map(Cow::Owned),
        }
    }

    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            return false;
        }
        self.depth += 1;
        true
    }

    /// `astfold_body`: a module, class or function body, with the docstring check.
    fn body(&mut self, body: &mut [Stmt]) {
        let had_docstring = is_docstring(body.first());
        self.stmts(body);
        if let (false, Some(Stmt::Expr(e))) = (had_docstring, body.first()) {
            if let Some(Constant::Str(_)) = self.out.constants.get(&e.value.range()) {
                self.out.wrapped_docstrings.insert(e.range);
            }
        }
    }

    fn stmts(&mut self, body: &mut [Stmt]) {
        for s in body {
            self.stmt(s);
        }
    }

    fn exprs<'e>(&mut self, exprs: impl IntoIterator<Item = &'e mut Expr>) {
        for e in exprs {
            self.expr(e);
        }
    }

    fn opt(&mut self, e: Option<&mut Expr>) {
        if let Some(e) = e {
            self.expr(e);
        }
    }

    fn annotation(&mut self, e: Option<&mut Expr>) {
        if self.fold_annotations {
            self.opt(e);
        }
    }

    fn stmt(&mut self, s: &mut Stmt) {
        if !self.enter() {
            return;
        }
        match s {
            Stmt::FunctionDef(f) => {
                self.type_params(f.type_params.as_deref_mut());
                self.parameters(&mut f.parameters);
                self.body(&mut f.body);
                self.exprs(f.decorator_list.iter_mut().map(|d| &mut d.expression));
                self.annotation(f.returns.as_deref_mut());
            }
            Stmt::ClassDef(c) => {
                self.type_params(c.type_params.as_deref_mut());
                if let Some(args) = c.arguments.as_deref_mut() {
                    self.arguments(args);
                }
                self.body(&mut c.body);
                self.exprs(c.decorator_list.iter_mut().map(|d| &mut d.expression));
            }
            Stmt::Return(r) => self.opt(r.value.as_deref_mut()),
            Stmt::Delete(d) => self.exprs(&mut d.targets),
            Stmt::Assign(a) => {
                self.exprs(&mut a.targets);
                self.expr(&mut a.value);
            }
            Stmt::AugAssign(a) => {
                self.expr(&mut a.target);
                self.expr(&mut a.value);
            }
            Stmt::AnnAssign(a) => {
                self.expr(&mut a.target);
                self.annotation(Some(&mut a.annotation));
                self.opt(a.value.as_deref_mut());
            }
            Stmt::TypeAlias(t) => {
                self.expr(&mut t.name);
                self.type_params(t.type_params.as_deref_mut());
                self.expr(&mut t.value);
            }
            Stmt::For(f) => {
                self.expr(&mut f.target);
                self.expr(&mut f.iter);
                self.stmts(&mut f.body);
                self.stmts(&mut f.orelse);
                if !f.is_async {
                    self.fold_iter(&mut f.iter);
                }
            }
            Stmt::While(w) => {
                self.expr(&mut w.test);
                self.stmts(&mut w.body);
                self.stmts(&mut w.orelse);
            }
            Stmt::If(i) => {
                self.expr(&mut i.test);
                self.stmts(&mut i.body);
                for clause in &mut i.elif_else_clauses {
                    self.opt(clause.test.as_mut());
                    self.stmts(&mut clause.body);
                }
            }
            Stmt::With(w) => {
                for item in &mut w.items {
                    self.expr(&mut item.context_expr);
                    self.opt(item.optional_vars.as_deref_mut());
                }
                self.stmts(&mut w.body);
            }
            Stmt::Match(m) => {
                self.expr(&mut m.subject);
                for case in &mut m.cases {
                    self.pattern(&mut case.pattern);
                    self.opt(case.guard.as_deref_mut());
                    self.stmts(&mut case.body);
                }
            }
            Stmt::Raise(r) => {
                self.opt(r.exc.as_deref_mut());
                self.opt(r.cause.as_deref_mut());
            }
            Stmt::Try(t) => {
                self.stmts(&mut t.body);
                for handler in &mut t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = handler;
                    self.opt(h.type_.as_deref_mut());
                    self.stmts(&mut h.body);
                }
                self.stmts(&mut t.orelse);
                self.stmts(&mut t.finalbody);
            }
            Stmt::Assert(a) => {
                self.expr(&mut a.test);
                self.opt(a.msg.as_deref_mut());
            }
            Stmt::Expr(e) => self.expr(&mut e.value),
            Stmt::Import(_)
            | Stmt::ImportFrom(_)
            | Stmt::Global(_)
            | Stmt::Nonlocal(_)
            | Stmt::Pass(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::IpyEscapeCommand(_) => {}
        }
        self.depth -= 1;
    }

    fn parameters(&mut self, p: &mut ast::Parameters) {
        for a in p
            .posonlyargs
            .iter_mut()
            .chain(p.args.iter_mut())
            .chain(p.kwonlyargs.iter_mut())
        {
            self.annotation(a.parameter.annotation.as_deref_mut());
            self.opt(a.default.as_deref_mut());
        }
        for a in [p.vararg.as_deref_mut(), p.kwarg.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            self.annotation(a.annotation.as_deref_mut());
        }
    }

    fn arguments(&mut self, a: &mut ast::Arguments) {
        self.exprs(a.args.iter_mut());
        self.exprs(a.keywords.iter_mut().map(|k| &mut k.value));
    }

    fn type_params(&mut self, params: Option<&mut ast::TypeParams>) {
        let Some(params) = params else { return };
        let defaults = self.v >= PythonVersion::V3_13;
        for p in &mut params.type_params {
            let (bound, default) = match p {
                ast::TypeParam::TypeVar(t) => (t.bound.as_deref_mut(), t.default.as_deref_mut()),
                ast::TypeParam::ParamSpec(t) => (None, t.default.as_deref_mut()),
                ast::TypeParam::TypeVarTuple(t) => (None, t.default.as_deref_mut()),
            };
            self.opt(bound);
            if defaults {
                self.opt(default);
            }
        }
    }

    fn pattern(&mut self, p: &mut Pattern) {
        if !self.enter() {
            return;
        }
        match p {
            Pattern::MatchValue(m) => self.expr(&mut m.value),
            Pattern::MatchSingleton(_) | Pattern::MatchStar(_) => {}
            Pattern::MatchSequence(m) => self.patterns(&mut m.patterns),
            Pattern::MatchMapping(m) => {
                self.exprs(&mut m.keys);
                self.patterns(&mut m.patterns);
            }
            Pattern::MatchClass(m) => {
                self.expr(&mut m.cls);
                self.patterns(&mut m.arguments.patterns);
                for k in &mut m.arguments.keywords {
                    self.pattern(&mut k.pattern);
                }
            }
            Pattern::MatchAs(m) => {
                if let Some(p) = m.pattern.as_deref_mut() {
                    self.pattern(p);
                }
            }
            Pattern::MatchOr(m) => self.patterns(&mut m.patterns),
        }
        self.depth -= 1;
    }

    fn patterns(&mut self, patterns: &mut [Pattern]) {
        for p in patterns {
            self.pattern(p);
        }
    }

    fn comprehensions(&mut self, generators: &mut [ast::Comprehension]) {
        for g in generators {
            self.expr(&mut g.target);
            self.expr(&mut g.iter);
            self.exprs(&mut g.ifs);
            self.fold_iter(&mut g.iter);
        }
    }

    fn interpolated(&mut self, elements: &mut InterpolatedStringElements) {
        for element in elements.iter_mut() {
            if let InterpolatedStringElement::Interpolation(i) = element {
                self.expr(&mut i.expression);
                if let Some(spec) = i.format_spec.as_deref_mut() {
                    self.interpolated(&mut spec.elements);
                }
            }
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        if !self.enter() {
            return;
        }
        let after = match e {
            Expr::BoolOp(b) => {
                self.exprs(&mut b.values);
                After::Nothing
            }
            Expr::Named(n) => {
                self.expr(&mut n.value);
                After::Nothing
            }
            Expr::BinOp(b) => {
                self.expr(&mut b.left);
                self.expr(&mut b.right);
                self.fold_binop(b)
            }
            Expr::UnaryOp(u) => {
                self.expr(&mut u.operand);
                self.fold_unary(u)
            }
            Expr::Lambda(l) => {
                if let Some(p) = l.parameters.as_deref_mut() {
                    self.parameters(p);
                }
                self.expr(&mut l.body);
                After::Nothing
            }
            Expr::If(i) => {
                self.expr(&mut i.test);
                self.expr(&mut i.body);
                self.expr(&mut i.orelse);
                After::Nothing
            }
            Expr::Dict(d) => {
                for item in &mut d.items {
                    self.opt(item.key.as_mut());
                    self.expr(&mut item.value);
                }
                After::Nothing
            }
            Expr::Set(s) => {
                self.exprs(&mut s.elts);
                After::Nothing
            }
            Expr::ListComp(c) => {
                self.expr(&mut c.elt);
                self.comprehensions(&mut c.generators);
                After::Nothing
            }
            Expr::SetComp(c) => {
                self.expr(&mut c.elt);
                self.comprehensions(&mut c.generators);
                After::Nothing
            }
            Expr::Generator(c) => {
                self.expr(&mut c.elt);
                self.comprehensions(&mut c.generators);
                After::Nothing
            }
            Expr::DictComp(c) => {
                self.opt(c.key.as_deref_mut());
                self.expr(&mut c.value);
                self.comprehensions(&mut c.generators);
                After::Nothing
            }
            Expr::Await(a) => {
                self.expr(&mut a.value);
                After::Nothing
            }
            Expr::Yield(y) => {
                self.opt(y.value.as_deref_mut());
                After::Nothing
            }
            Expr::YieldFrom(y) => {
                self.expr(&mut y.value);
                After::Nothing
            }
            Expr::Compare(c) => {
                self.expr(&mut c.left);
                self.exprs(c.comparators.iter_mut());
                if let (Some(CmpOp::In | CmpOp::NotIn), Some(last)) =
                    (c.ops.last(), c.comparators.last_mut())
                {
                    self.fold_iter(last);
                }
                After::Nothing
            }
            Expr::Call(c) => {
                self.expr(&mut c.func);
                self.arguments(&mut c.arguments);
                After::Nothing
            }
            Expr::FString(f) => {
                for part in f.value.iter_mut() {
                    if let ast::FStringPart::FString(s) = part {
                        self.interpolated(&mut s.elements);
                    }
                }
                After::Nothing
            }
            Expr::Attribute(a) => {
                self.expr(&mut a.value);
                After::Nothing
            }
            Expr::Subscript(s) => {
                self.expr(&mut s.value);
                self.expr(&mut s.slice);
                match (s.ctx, self.value(&s.value), self.value(&s.slice)) {
                    (ExprContext::Load, Some(c), Some(i)) => {
                        value::subscript(&c, &i).map_or(After::Nothing, After::Fold)
                    }
                    _ => After::Nothing,
                }
            }
            Expr::Starred(s) => {
                self.expr(&mut s.value);
                After::Nothing
            }
            Expr::Slice(s) => {
                self.opt(s.lower.as_deref_mut());
                self.opt(s.upper.as_deref_mut());
                self.opt(s.step.as_deref_mut());
                After::Nothing
            }
            Expr::List(l) => {
                self.exprs(&mut l.elts);
                After::Nothing
            }
            Expr::Tuple(t) => {
                self.exprs(&mut t.elts);
                match (t.ctx, self.const_tuple(&t.elts)) {
                    (ExprContext::Load, Some(c)) => After::Fold(c),
                    _ => After::Nothing,
                }
            }
            Expr::Name(n) => {
                if n.id.as_str() == "__debug__"
                    && (n.ctx == ExprContext::Load || self.v == PythonVersion::V3_8)
                {
                    After::Fold(Constant::Bool(self.debug))
                } else {
                    After::Nothing
                }
            }
            Expr::TString(_)
            | Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
            | Expr::IpyEscapeCommand(_) => After::Nothing,
        };
        self.depth -= 1;
        self.apply(e, after);
    }

    /// `make_const_tuple`: the tuple of the items' constants, if all are constant.
    fn const_tuple(&self, elts: &[Expr]) -> Option<Constant> {
        elts.iter()
            .map(|e| self.value(e).map(Cow::into_owned))
            .collect::<Option<Vec<_>>>()
            .map(Constant::Tuple)
    }

    fn fold_unary(&self, u: &ast::ExprUnaryOp) -> After {
        if let Some(c) = self.value(&u.operand) {
            return value::unary(u.op, &c).map_or(After::Nothing, After::Fold);
        }
        match (&*u.operand, u.op) {
            (Expr::Compare(c), UnaryOp::Not) if c.ops.len() == 1 => match c.ops[0] {
                CmpOp::Is => After::Invert(CmpOp::IsNot),
                CmpOp::IsNot => After::Invert(CmpOp::Is),
                CmpOp::In => After::Invert(CmpOp::NotIn),
                CmpOp::NotIn => After::Invert(CmpOp::In),
                // `==` and `<` and the like cannot be inverted safely.
                _ => After::Nothing,
            },
            _ => After::Nothing,
        }
    }

    fn fold_binop(&self, b: &ast::ExprBinOp) -> After {
        let Some(left) = self.value(&b.left) else {
            return After::Nothing;
        };
        if let (Constant::Str(fmt), Operator::Mod, Expr::Tuple(t)) = (&*left, b.op, &*b.right) {
            // A tuple still standing has non-constant items.
            if self.v >= PythonVersion::V3_11
                && !self.out.constants.contains_key(&t.range)
                && !t.elts.iter().any(Expr::is_starred_expr)
            {
                let points: Vec<u32> = fmt.code_points().collect();
                return format::pieces(&points, t.elts.len()).map_or(After::Nothing, After::Format);
            }
        }
        let Some(right) = self.value(&b.right) else {
            return After::Nothing;
        };
        value::binary(b.op, &left, &right, self.v).map_or(After::Nothing, After::Fold)
    }

    /// `fold_iter`: list displays to tuples, and sets of constants to frozensets.
    fn fold_iter(&mut self, e: &mut Expr) {
        match e {
            Expr::List(l) if !l.elts.iter().any(Expr::is_starred_expr) => {
                let constant = self.const_tuple(&l.elts);
                let range = l.range;
                *e = Expr::Tuple(ast::ExprTuple {
                    node_index: std::mem::take(&mut l.node_index),
                    range,
                    elts: std::mem::take(&mut l.elts),
                    ctx: l.ctx,
                    parenthesized: true,
                });
                if let Some(c) = constant {
                    self.out.constants.insert(range, c);
                }
            }
            Expr::Set(s) => {
                if let Some(Constant::Tuple(items)) = self.const_tuple(&s.elts) {
                    self.out.constants.insert(s.range, value::frozenset(items));
                }
            }
            _ => {}
        }
    }

    fn apply(&mut self, e: &mut Expr, after: After) {
        match after {
            After::Nothing => {}
            After::Fold(c) => {
                self.out.constants.insert(e.range(), c);
            }
            After::Invert(op) => {
                let placeholder = Expr::EllipsisLiteral(ast::ExprEllipsisLiteral::default());
                if let Expr::UnaryOp(u) = std::mem::replace(e, placeholder) {
                    if let Expr::Compare(mut c) = *u.operand {
                        c.ops[0] = op;
                        *e = Expr::Compare(c);
                    }
                }
            }
            After::Format(pieces) => {
                let placeholder = Expr::EllipsisLiteral(ast::ExprEllipsisLiteral::default());
                if let Expr::BinOp(b) = std::mem::replace(e, placeholder) {
                    if let Expr::Tuple(t) = *b.right {
                        let exact = pieces
                            .iter()
                            .filter_map(|p| match p {
                                format::Piece::Literal(points) => {
                                    Some(PyStr::from_code_points(points.iter().copied()))
                                }
                                format::Piece::Value { .. } => None,
                            })
                            .collect();
                        self.out.format_literals.insert(b.range, exact);
                        *e = format_string(b.range, pieces, t.elts);
                    }
                }
            }
        }
    }
}

/// The f-string CPython's `optimize_format` builds from `%` formatting pieces and the
/// tuple's items.
fn format_string(range: TextRange, pieces: Vec<format::Piece>, items: Vec<Expr>) -> Expr {
    let nowhere = TextRange::empty(range.start());
    let text = |points: &[u32]| -> Box<str> {
        points
            .iter()
            .map(|&c| char::from_u32(c).unwrap_or('\u{fffd}'))
            .collect()
    };
    let literal = |value: Box<str>| {
        InterpolatedStringElement::Literal(InterpolatedStringLiteralElement {
            range: nowhere,
            node_index: AtomicNodeIndex::NONE,
            value,
        })
    };
    let mut items = items.into_iter();
    let mut elements = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            format::Piece::Literal(points) => elements.push(literal(text(&points))),
            format::Piece::Value { conversion, spec } => {
                // `pieces` checked that there is one item per conversion.
                let Some(item) = items.next() else { break };
                let conversion = match conversion {
                    'r' => ConversionFlag::Repr,
                    'a' => ConversionFlag::Ascii,
                    _ => ConversionFlag::Str,
                };
                elements.push(InterpolatedStringElement::Interpolation(
                    InterpolatedElement {
                        range: item.range(),
                        node_index: AtomicNodeIndex::NONE,
                        expression: Box::new(item),
                        debug_text: None,
                        conversion,
                        format_spec: spec.map(|s| {
                            Box::new(InterpolatedStringFormatSpec {
                                range: nowhere,
                                node_index: AtomicNodeIndex::NONE,
                                elements: vec![literal(s.into())].into(),
                            })
                        }),
                    },
                ));
            }
        }
    }
    Expr::FString(ast::ExprFString {
        node_index: AtomicNodeIndex::NONE,
        range,
        value: FStringValue::single(ast::FString {
            range,
            node_index: AtomicNodeIndex::NONE,
            elements: elements.into(),
            flags: FStringFlags::empty(),
        }),
    })
}

#[cfg(test)]
mod tests;
