//! The symbol table: every scope of a module and how each name in it resolves, exactly as
//! CPython's `Python/symtable.c` computes it for the target version.
//!
//! Like CPython it works in two passes over the `ruff_python_ast` tree:
//! 1. [`build`] visits the AST (module `build`), creating a [`Scope`] for the module, every
//!    class, function, lambda and comprehension, and (3.12+) every PEP 695 type-parameter,
//!    type-alias and type-variable scope, and records raw facts per name ([`SymbolFlags`]:
//!    assigned, used, parameter, `global`, `nonlocal`, imported, annotated, …) in CPython's
//!    insertion order. Statements that are wrong for the symbol table (`global x` after `x =
//!    1`, a duplicate argument, `import *` in a function, …) fail here with CPython's message.
//! 2. The analysis (module `analyze`) walks the finished tree, deciding for each name its
//!    [`NameScope`]: local, cell, free, explicit or implicit global; it adds the implicit
//!    `__class__` (and 3.12+ `__classdict__`) cells of classes, marks class names that methods
//!    read as free (`DEF_FREE_CLASS`) and, from 3.12, inlines list/set/dict comprehensions into
//!    their enclosing scope (PEP 709).
//!
//! The result answers what code generation asks: which opcode family loads a name
//! (`LOAD_FAST`, `LOAD_DEREF`, `LOAD_GLOBAL`, `LOAD_NAME`, …), a code object's parameters,
//! cell and free variables, whether a function is a generator or coroutine. [`explain`] prints
//! the tree for people.
//!
//! The table is the one the `symtable` module shows, which differs from the one `compile()`
//! uses in one respect: `compile()` folds loads of `__debug__` into constants before building
//! it, so `__debug__` never appears there. Code generation treats `__debug__` as a constant
//! and never asks for it.

use std::fmt::Write as _;

use indexmap::IndexMap;
use pyc_assembler::version::LocalsLayout;
use pyc_assembler::PythonVersion;
use ruff_python_ast as ast;
use ruff_text_size::{Ranged, TextRange};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::Diagnostic;

mod analyze;
mod build;

/// What kind of block a scope is (CPython's `_Py_block_ty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Module,
    Class,
    /// A `def`, a lambda or a comprehension (see [`Scope::comprehension`]).
    Function,
    /// 3.12+: the scope around a generic function, class or type alias holding its type
    /// parameters (CPython's `TypeParametersBlock`).
    TypeParameters,
    /// 3.12+: the lazily evaluated value of a `type` statement.
    TypeAlias,
    /// 3.12+: the lazily evaluated bound or constraints (3.13: or default) of one type
    /// parameter (CPython's `TypeVariableBlock`, `TypeVarBoundBlock` in 3.12).
    TypeVariable,
    /// An annotation scope: 3.14+, the `__annotate__` function of a function's parameters or
    /// of a module's or class's variable annotations; 3.10+, under `from __future__ import
    /// annotations`, an annotation that is never evaluated, whose scope only exists to report
    /// errors and is not part of the tree.
    Annotation,
}

impl ScopeKind {
    /// CPython's `_Py_block_ty` value for `v`, as `symtable` shows it in `_table.type`.
    pub fn number(self, v: PythonVersion) -> u32 {
        match (self, v.renumbered_type_blocks()) {
            (ScopeKind::Function, _) => 0,
            (ScopeKind::Class, _) => 1,
            (ScopeKind::Module, _) => 2,
            (ScopeKind::Annotation, _) => 3,
            (ScopeKind::TypeVariable, false) | (ScopeKind::TypeAlias, true) => 4,
            (ScopeKind::TypeAlias, false) | (ScopeKind::TypeParameters, true) => 5,
            (ScopeKind::TypeParameters, false) | (ScopeKind::TypeVariable, true) => 6,
        }
    }
}

/// Which comprehension a comprehension scope is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComprehensionKind {
    List,
    Set,
    Dict,
    Generator,
}

/// How a name resolves in a scope (CPython's `LOCAL` … `CELL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameScope {
    /// Bound in this scope and not captured: `LOAD_FAST` in functions, `LOAD_NAME` elsewhere.
    Local,
    /// Declared `global` here (or, 3.12+, in the class an annotation scope can see).
    GlobalExplicit,
    /// Not bound in any enclosing function: a global or a builtin.
    GlobalImplicit,
    /// Bound in an enclosing function scope: read through a closure cell.
    Free,
    /// Bound here and captured by an inner scope: stored in a cell.
    Cell,
}

impl NameScope {
    /// CPython's number for the scope (`LOCAL` = 1 … `CELL` = 5).
    pub fn number(self) -> u32 {
        match self {
            NameScope::Local => 1,
            NameScope::GlobalExplicit => 2,
            NameScope::GlobalImplicit => 3,
            NameScope::Free => 4,
            NameScope::Cell => 5,
        }
    }

    fn label(self) -> &'static str {
        match self {
            NameScope::Local => "local",
            NameScope::GlobalExplicit => "global (declared)",
            NameScope::GlobalImplicit => "global (implicit)",
            NameScope::Free => "free",
            NameScope::Cell => "cell",
        }
    }
}

/// How code accesses a name (see [`Scope::access`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Fast,
    Deref,
    Global,
    Name,
}

/// The raw facts about a name in one scope: CPython's `DEF_*` and `USE` bits, with CPython's
/// values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SymbolFlags(pub u32);

impl SymbolFlags {
    /// Named in a `global` statement.
    pub const GLOBAL: u32 = 1;
    /// Bound by assignment, `del`, `for`, `with`, `except … as`, `def`, `class`, a pattern….
    pub const LOCAL: u32 = 2;
    /// A parameter.
    pub const PARAM: u32 = 4;
    /// Named in a `nonlocal` statement.
    pub const NONLOCAL: u32 = 8;
    /// Read.
    pub const USE: u32 = 16;
    /// In a class: a name that a method (or other inner scope) reads as free.
    pub const FREE_CLASS: u32 = 64;
    /// Bound by an import.
    pub const IMPORT: u32 = 128;
    /// Target of an annotated assignment.
    pub const ANNOT: u32 = 256;
    /// An iteration variable of a comprehension.
    pub const COMP_ITER: u32 = 512;
    /// 3.12+: a type parameter.
    pub const TYPE_PARAM: u32 = 1024;
    /// 3.12+: a cell of a comprehension inlined into this scope.
    pub const COMP_CELL: u32 = 2048;
    /// Any binding (`DEF_BOUND`).
    pub const BOUND: u32 = Self::LOCAL | Self::PARAM | Self::IMPORT;

    pub fn has(self, bits: u32) -> bool {
        self.0 & bits != 0
    }
}

/// One name in one scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub flags: SymbolFlags,
    pub scope: NameScope,
}

impl Symbol {
    /// The value CPython keeps in `ste_symbols` for `v` (flags, with the scope shifted to
    /// `SCOPE_OFFSET`), as `symtable` shows it in `_table.symbols`.
    pub fn raw(&self, v: PythonVersion) -> u32 {
        self.flags.0 | (self.scope.number() << v.symbol_scope_shift())
    }

    pub fn is_referenced(&self) -> bool {
        self.flags.has(SymbolFlags::USE)
    }
    pub fn is_parameter(&self) -> bool {
        self.flags.has(SymbolFlags::PARAM)
    }
    pub fn is_assigned(&self) -> bool {
        self.flags.has(SymbolFlags::LOCAL)
    }
    pub fn is_imported(&self) -> bool {
        self.flags.has(SymbolFlags::IMPORT)
    }
    pub fn is_annotated(&self) -> bool {
        self.flags.has(SymbolFlags::ANNOT)
    }
    pub fn is_nonlocal(&self) -> bool {
        self.flags.has(SymbolFlags::NONLOCAL)
    }
    pub fn is_declared_global(&self) -> bool {
        self.scope == NameScope::GlobalExplicit
    }
    pub fn is_global(&self) -> bool {
        matches!(
            self.scope,
            NameScope::GlobalExplicit | NameScope::GlobalImplicit
        )
    }
    pub fn is_local(&self) -> bool {
        matches!(self.scope, NameScope::Local | NameScope::Cell)
    }
    pub fn is_free(&self) -> bool {
        self.scope == NameScope::Free
    }

    /// Why the name is in the scope, in words (`parameter`, `assigned`, `used`, …).
    pub fn facts(&self) -> Vec<&'static str> {
        [
            (SymbolFlags::PARAM, "parameter"),
            (SymbolFlags::LOCAL, "assigned"),
            (SymbolFlags::IMPORT, "imported"),
            (SymbolFlags::USE, "used"),
            (SymbolFlags::GLOBAL, "declared global"),
            (SymbolFlags::NONLOCAL, "declared nonlocal"),
            (SymbolFlags::ANNOT, "annotated"),
            (SymbolFlags::COMP_ITER, "comprehension variable"),
            (SymbolFlags::TYPE_PARAM, "type parameter"),
            (SymbolFlags::FREE_CLASS, "free in a method"),
            (SymbolFlags::COMP_CELL, "cell of an inlined comprehension"),
        ]
        .into_iter()
        .filter_map(|(bit, fact)| self.flags.has(bit).then_some(fact))
        .collect()
    }
}

/// The per-scope facts CPython keeps as `ste_*` bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScopeFlags {
    /// Inside a function-like scope (`ste_nested`).
    pub nested: bool,
    /// Has free variables, or (when nested) reads implicit globals (`ste_free`).
    pub free: bool,
    /// Some inner scope is `free` (`ste_child_free`).
    pub child_free: bool,
    /// Contains `yield` (or is a generator expression).
    pub generator: bool,
    /// Is `async def`, contains `await`/`async for`/`async with`, or an async comprehension.
    pub coroutine: bool,
    pub varargs: bool,
    pub varkeywords: bool,
    /// Has a `return` with a value.
    pub returns_value: bool,
    /// A class whose methods use `__class__` or `super()`: it gets a `__class__` cell.
    pub needs_class_closure: bool,
    /// 3.12+: a class whose annotation scopes read its namespace: it gets a `__classdict__`
    /// cell.
    pub needs_classdict: bool,
    /// 3.12+: a comprehension inlined into its parent (PEP 709); it has no code object and is
    /// no longer among its parent's children.
    pub comp_inlined: bool,
    /// 3.12+: an annotation scope directly inside a class body, which sees the class
    /// namespace.
    pub can_see_class_scope: bool,
    /// 3.14+: a module with variable annotations, or a class with some under a condition:
    /// it gets a `__conditional_annotations__` cell.
    pub has_conditional_annotations: bool,
}

/// Index of a scope in [`SymbolTable::scopes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId(pub u32);

/// One scope (CPython's symbol table entry).
#[derive(Clone, Debug)]
pub struct Scope {
    pub kind: ScopeKind,
    pub comprehension: Option<ComprehensionKind>,
    /// CPython's `ste_name`: `top` for the module, `lambda`, `listcomp`, `setcomp`,
    /// `dictcomp`, `genexpr`, otherwise the function, class, alias or type-parameter name.
    pub name: String,
    /// First line (`ste_lineno`): the `def`/`class` keyword line, not a decorator's; 0 for the
    /// module.
    pub lineno: u32,
    /// Names in CPython's insertion order, mangled (`__x` in class `C` is `_C__x`).
    pub symbols: IndexMap<String, Symbol, FxBuildHasher>,
    /// Parameters in order (`ste_varnames`): positional-only, positional, keyword-only,
    /// `*args`, `**kwargs`; `.0` for a comprehension; 3.12+ `.defaults`, `.kwdefaults` for
    /// type-parameter scopes of generic functions.
    pub varnames: Vec<String>,
    /// Inner scopes in CPython's order (inlined comprehensions replaced by their own children).
    pub children: Vec<ScopeId>,
    pub parent: Option<ScopeId>,
    pub flags: ScopeFlags,
}

impl Scope {
    /// True for scopes whose locals live in fast slots: functions, lambdas, comprehensions
    /// and the 3.12+ annotation scopes (CPython's `_PyST_IsFunctionLike`).
    pub fn is_function_like(&self) -> bool {
        !matches!(self.kind, ScopeKind::Module | ScopeKind::Class)
    }

    /// The symbol for an already mangled name.
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.symbols.get(name)
    }

    /// How `name` (already mangled) resolves here; `None` for names the table never saw
    /// (such as the `__module__` and `__qualname__` a class body stores).
    pub fn resolve(&self, name: &str) -> Option<NameScope> {
        self.symbols.get(name).map(|s| s.scope)
    }

    /// Which family of opcodes loads and stores `name` (already mangled) here, as
    /// `compiler_nameop` chooses: cells and free names go through `*_DEREF` (in a class body
    /// a load is `LOAD_CLASSDEREF`, 3.12+ `LOAD_FROM_DICT_OR_DEREF`), locals of function-like
    /// scopes are `*_FAST`, other locals and unknown names `*_NAME`, globals `*_GLOBAL` (from
    /// a module or class, implicit globals use `*_NAME`). From 3.12 code generation makes the
    /// names an inlined comprehension binds fast while it compiles that comprehension, and an
    /// annotation scope that sees a class loads implicit globals through its `__classdict__`.
    pub fn access(&self, name: &str) -> Access {
        self.access_full(name).1
    }

    /// [`Scope::access`] with the index of `name` among [`Scope::symbols`] (`None` for names
    /// the table never saw), from one lookup.
    pub fn access_full(&self, name: &str) -> (Option<usize>, Access) {
        let Some((i, _, symbol)) = self.symbols.get_full(name) else {
            return (None, Access::Name);
        };
        let access = match symbol.scope {
            NameScope::Free | NameScope::Cell => Access::Deref,
            NameScope::Local if self.is_function_like() => Access::Fast,
            NameScope::GlobalImplicit if self.is_function_like() => Access::Global,
            NameScope::GlobalExplicit => Access::Global,
            _ => Access::Name,
        };
        (Some(i), access)
    }

    /// The `co_name` of the scope's code object: `<module>`, `<lambda>`, `<listcomp>`,
    /// `<genexpr>`, `<generic parameters of f>`, or the function, class or alias name.
    pub fn code_name(&self) -> String {
        match (self.kind, self.comprehension) {
            (ScopeKind::Module, _) => "<module>".into(),
            (ScopeKind::TypeParameters, _) => format!("<generic parameters of {}>", self.name),
            (_, Some(_)) | (ScopeKind::Function, None) if self.name.starts_with('<') => {
                self.name.clone()
            }
            (_, Some(_)) => format!("<{}>", self.name),
            (ScopeKind::Function, None) if self.name == "lambda" => "<lambda>".into(),
            _ => self.name.clone(),
        }
    }

    /// The `co_flags` bits the symbol table decides (`compute_code_flags`): `CO_OPTIMIZED`,
    /// `CO_NEWLOCALS`, `CO_VARARGS`, `CO_VARKEYWORDS`, `CO_NESTED`, `CO_GENERATOR`,
    /// `CO_COROUTINE`, `CO_ASYNC_GENERATOR`, and the future features `annotations`
    /// (`CO_FUTURE_ANNOTATIONS`) and `barry_as_FLUFL`. `CO_NOFREE` (3.8–3.10) follows from
    /// [`Scope::cellvars`] and [`Scope::freevars`] being empty.
    pub fn code_flags(&self, future: &FutureFeatures) -> u32 {
        let f = self.flags;
        let mut flags = 0;
        if self.is_function_like() {
            flags |= 0x1 | 0x2;
            flags |= [(f.varargs, 0x4), (f.varkeywords, 0x8), (f.nested, 0x10)]
                .into_iter()
                .filter_map(|(on, bit)| on.then_some(bit))
                .sum::<u32>();
            flags |= match (f.generator, f.coroutine) {
                (true, false) => 0x20,
                (false, true) => 0x80,
                (true, true) => 0x200,
                (false, false) => 0,
            };
        }
        if future.barry_as_flufl {
            flags |= 0x40_0000;
        }
        if future.annotations {
            flags |= 0x100_0000;
        }
        flags
    }

    /// The cell variables of the scope's code object in `co_cellvars` order: names that are
    /// cells (or 3.12+ inlined-comprehension cells) sorted, then the implicit `__class__` and
    /// `__classdict__` cells of a class. From 3.11 a cell that is also a fast local shares its
    /// slot and comes first, in `co_varnames` order: parameters (placed first here) and, from
    /// 3.12, names an inlined comprehension binds, whose slots code generation assigns.
    pub fn cellvars(&self, v: PythonVersion) -> Vec<&str> {
        let mut cells: Vec<&str> = self
            .symbols
            .iter()
            .filter(|(_, s)| s.scope == NameScope::Cell || s.flags.has(SymbolFlags::COMP_CELL))
            .map(|(n, _)| n.as_str())
            .collect();
        cells.sort_unstable();
        if self.flags.needs_class_closure {
            cells.push("__class__");
        }
        if self.flags.needs_classdict {
            cells.push("__classdict__");
        }
        if self.flags.has_conditional_annotations {
            cells.push("__conditional_annotations__");
        }
        if v.locals_layout() == LocalsLayout::LocalsPlus {
            let params: Vec<&str> = self
                .varnames
                .iter()
                .map(String::as_str)
                .filter(|p| cells.contains(p))
                .collect();
            cells.retain(|c| !params.contains(c));
            cells.splice(0..0, params);
        }
        cells
    }

    /// The free variables of the scope's code object in `co_freevars` order: names that are
    /// free here, and in a class the names its methods read as free, sorted.
    pub fn freevars(&self) -> Vec<&str> {
        let mut free: Vec<&str> = self
            .symbols
            .iter()
            .filter(|(_, s)| s.scope == NameScope::Free || s.flags.has(SymbolFlags::FREE_CLASS))
            .map(|(n, _)| n.as_str())
            .collect();
        free.sort_unstable();
        free
    }
}

/// The future features of a module that matter after parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FutureFeatures {
    /// `from __future__ import annotations`: annotations are kept as strings.
    pub annotations: bool,
    /// `from __future__ import barry_as_FLUFL`.
    pub barry_as_flufl: bool,
    /// Line of the last `from __future__` statement at the top of the module.
    pub last_line: Option<u32>,
}

/// Which scope of a node a lookup asks for (a generic function has two: its type-parameter
/// scope and its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Role {
    Body,
    TypeParams,
    Bound,
    Default,
}

/// The symbol table of a module: the scope tree and the way back from AST nodes to scopes.
#[derive(Clone, Debug)]
pub struct SymbolTable {
    pub version: PythonVersion,
    /// Every scope; the module is [`SymbolTable::ROOT`]. Scopes created inside annotations
    /// under `from __future__ import annotations` (3.10+) are here but unreachable, as in
    /// CPython.
    pub scopes: Vec<Scope>,
    pub future: FutureFeatures,
    keys: FxHashMap<(TextRange, Role), ScopeId>,
}

impl SymbolTable {
    /// The module scope.
    pub const ROOT: ScopeId = ScopeId(0);

    pub fn scope(&self, id: ScopeId) -> &Scope {
        &self.scopes[id.0 as usize]
    }

    pub fn root(&self) -> &Scope {
        self.scope(Self::ROOT)
    }

    fn lookup(&self, range: TextRange, role: Role) -> Option<ScopeId> {
        self.keys.get(&(range, role)).copied()
    }

    /// The scope of a function's body.
    pub fn function(&self, def: &ast::StmtFunctionDef) -> Option<ScopeId> {
        self.lookup(def.range, Role::Body)
    }

    /// The scope of a class body.
    pub fn class(&self, def: &ast::StmtClassDef) -> Option<ScopeId> {
        self.lookup(def.range, Role::Body)
    }

    /// The scope of a lambda.
    pub fn lambda(&self, lambda: &ast::ExprLambda) -> Option<ScopeId> {
        self.lookup(lambda.range, Role::Body)
    }

    /// The scope of a list/set/dict comprehension or generator expression.
    pub fn comprehension(&self, expr: &ast::Expr) -> Option<ScopeId> {
        self.lookup(expr.range(), Role::Body)
    }

    /// The value scope of a `type` statement (3.12+).
    pub fn type_alias(&self, stmt: &ast::StmtTypeAlias) -> Option<ScopeId> {
        self.lookup(stmt.range, Role::Body)
    }

    /// The type-parameter scope of a generic function, class or alias (3.12+).
    pub fn type_params(&self, params: &ast::TypeParams) -> Option<ScopeId> {
        self.lookup(params.range, Role::TypeParams)
    }

    /// The scope of a type variable's bound or constraints (3.12+).
    pub fn type_param_bound(&self, param: &ast::TypeParam) -> Option<ScopeId> {
        self.lookup(param.range(), Role::Bound)
    }

    /// The scope of a type parameter's default (3.13+).
    pub fn type_param_default(&self, param: &ast::TypeParam) -> Option<ScopeId> {
        self.lookup(param.range(), Role::Default)
    }

    /// The scopes in CPython's order (depth first, children in order) with their depth.
    pub fn walk(&self) -> Vec<(ScopeId, usize)> {
        let mut out = Vec::new();
        let mut stack = vec![(Self::ROOT, 0)];
        while let Some((id, depth)) = stack.pop() {
            out.push((id, depth));
            for &child in self.scope(id).children.iter().rev() {
                stack.push((child, depth + 1));
            }
        }
        out
    }
}

/// Builds the symbol table of `module` (parsed from `source`) as CPython `v` does, or returns
/// the `SyntaxError` CPython's future-statement check or symbol table raises first.
pub fn build(
    module: &ast::ModModule,
    source: &str,
    v: PythonVersion,
) -> Result<SymbolTable, Diagnostic> {
    build_in(module, source, Lines::Own(LineIndex::new(source)), v)
}

/// [`build`] for a module that [`crate::parse::parse`] parsed from `source`, using the line
/// index it made (`parsed.lines`) instead of indexing the source again.
pub fn build_with_lines(
    module: &ast::ModModule,
    source: &str,
    lines: &crate::parse::LineIndex,
    v: PythonVersion,
) -> Result<SymbolTable, Diagnostic> {
    build_in(module, source, Lines::Shared(lines), v)
}

fn build_in(
    module: &ast::ModModule,
    source: &str,
    lines: Lines<'_>,
    v: PythonVersion,
) -> Result<SymbolTable, Diagnostic> {
    let run = || {
        let (mut table, extra) = build::Builder::run(module, source, lines, v)?;
        analyze::analyze(&mut table, &extra)?;
        Ok(table)
    };
    // The walk recurses as deep as the source nests.
    crate::stack::with_large_stack("symtable", run)
}

/// A readable scope tree: every scope with its kind and line, then each name with how it
/// resolves and why.
pub fn explain(table: &SymbolTable) -> String {
    let mut out = String::new();
    for (id, depth) in table.walk() {
        let scope = table.scope(id);
        let pad = "    ".repeat(depth);
        let kind = match (scope.kind, scope.comprehension) {
            (ScopeKind::Module, _) => "module",
            (ScopeKind::Class, _) => "class",
            (ScopeKind::Function, Some(_)) => "comprehension",
            (ScopeKind::Function, None) if matches!(scope.name.as_str(), "lambda" | "<lambda>") => {
                "lambda"
            }
            (ScopeKind::Function, None) => "function",
            (ScopeKind::TypeParameters, _) => "type parameters",
            (ScopeKind::TypeAlias, _) => "type alias",
            (ScopeKind::TypeVariable, _) => "type variable",
            (ScopeKind::Annotation, _) => "annotation",
        };
        let f = scope.flags;
        let notes: Vec<&str> = [
            (f.nested, "nested"),
            (f.generator, "generator"),
            (f.coroutine, "coroutine"),
            (f.needs_class_closure, "__class__ cell"),
            (f.needs_classdict, "__classdict__ cell"),
            (f.can_see_class_scope, "sees class namespace"),
        ]
        .into_iter()
        .filter_map(|(on, note)| on.then_some(note))
        .collect();
        let _ = write!(
            out,
            "{pad}{kind} {} (line {})",
            scope.code_name(),
            scope.lineno
        );
        if !notes.is_empty() {
            let _ = write!(out, " [{}]", notes.join(", "));
        }
        out.push('\n');
        if !scope.varnames.is_empty() {
            let _ = writeln!(out, "{pad}  parameters: {}", scope.varnames.join(", "));
        }
        for (name, sym) in &scope.symbols {
            let facts = sym.facts();
            let _ = writeln!(
                out,
                "{pad}  {name}: {}{}{}",
                sym.scope.label(),
                if facts.is_empty() { "" } else { " — " },
                facts.join(", ")
            );
        }
        if scope.is_function_like() {
            let (cells, frees) = (scope.cellvars(table.version), scope.freevars());
            if !cells.is_empty() {
                let _ = writeln!(out, "{pad}  cells: {}", cells.join(", "));
            }
            if !frees.is_empty() {
                let _ = writeln!(out, "{pad}  free variables: {}", frees.join(", "));
            }
        } else if scope.flags.needs_class_closure || scope.flags.needs_classdict {
            let _ = writeln!(
                out,
                "{pad}  cells: {}",
                scope.cellvars(table.version).join(", ")
            );
        }
    }
    out
}

/// `_Py_Mangle`: inside class `private`, `__x` becomes `_private__x` (leading underscores of
/// the class name dropped), except for `__dunder__` names, dotted names and classes named only
/// with underscores. 3.13 mangles, inside the type-parameter scope of a generic class (and the
/// scopes within it other than the class body), only the names of its type parameters.
pub fn mangle(private: Option<&str>, name: &str) -> String {
    build::mangle(private, name)
}

/// Turns ruff's byte offsets into CPython's (line, byte column).
enum Lines<'a> {
    /// The parser's index of the same (decoded) text.
    Shared(&'a crate::parse::LineIndex),
    /// An index of a text given on its own, which may hold `\r` line ends.
    Own(LineIndex),
}

impl Lines<'_> {
    /// 1-based line and 0-based byte column of an offset.
    fn position(&self, offset: u32) -> (u32, u32) {
        match self {
            Lines::Shared(lines) => lines.line_col(ruff_text_size::TextSize::new(offset)),
            Lines::Own(lines) => lines.position(offset),
        }
    }
}

/// Line starts of a source, to turn ruff's byte offsets into CPython's (line, byte column).
struct LineIndex {
    starts: Vec<u32>,
    /// See [`crate::parse::line_blocks`].
    blocks: Vec<u32>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let bytes = source.as_bytes();
        let mut starts = vec![0];
        // Decoded sources have universal newlines: only `\n` ends lines.
        if !bytes.contains(&b'\r') {
            crate::parse::scan_lines(bytes, |i, _| starts.push(i as u32 + 1));
            let blocks = crate::parse::line_blocks(&starts, bytes.len());
            return LineIndex { starts, blocks };
        }
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i as u32 + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i as u32 + 1),
                _ => {}
            }
            i += 1;
        }
        let blocks = crate::parse::line_blocks(&starts, bytes.len());
        LineIndex { starts, blocks }
    }

    /// 1-based line and 0-based byte column of an offset.
    fn position(&self, offset: u32) -> (u32, u32) {
        let line = crate::parse::find_line(&self.starts, &self.blocks, offset);
        (line as u32 + 1, offset - self.starts[line])
    }
}

#[cfg(test)]
mod tests;
