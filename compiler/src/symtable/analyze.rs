//! Pass 2: decide each name's scope (`analyze_block`, `analyze_name`, `inline_comprehension`,
//! `analyze_cells`, `update_symbols` in `Python/symtable.c`).
//!
//! A scope passes to its children the names bound in enclosing function scopes (`bound`) and
//! the declared globals (`global`); children report back the names they read as free. A
//! function's local that a child reads becomes a cell; a class never provides bindings to its
//! methods, except for the implicit `__class__` (and 3.12+ `__classdict__`) cells.

use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::build::{error, Extra};
use super::{NameScope, ScopeId, ScopeKind, Symbol, SymbolFlags as F, SymbolTable};
use crate::Diagnostic;

/// A name, as its number in [`Names`]: the sets of names that the analysis copies for every
/// scope hold no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Name(u32);

/// The names of a module, numbered as first met.
#[derive(Default)]
struct Names {
    ids: FxHashMap<String, Name>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> Name {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = Name(self.names.len() as u32);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn name(&self, id: Name) -> &str {
        &self.names[id.0 as usize]
    }
}

type Set = FxHashSet<Name>;
/// Names to their scopes, in the order of the scope's symbols.
type Scopes = IndexMap<Name, NameScope, FxBuildHasher>;
type Result<T> = std::result::Result<T, Diagnostic>;

pub(super) fn analyze(table: &mut SymbolTable, extra: &[Extra]) -> Result<()> {
    let mut a = Analyzer {
        t: table,
        extra,
        names: Names::default(),
    };
    let (mut free, mut global, mut type_params) = (Set::default(), Set::default(), Set::default());
    a.block(
        SymbolTable::ROOT,
        None,
        &mut free,
        &mut global,
        &mut type_params,
        None,
    )
}

struct Analyzer<'a> {
    t: &'a mut SymbolTable,
    extra: &'a [Extra],
    names: Names,
}

impl Analyzer<'_> {
    fn scope(&mut self, id: ScopeId) -> &mut super::Scope {
        &mut self.t.scopes[id.0 as usize]
    }

    /// `analyze_block`: resolve the names of `id`, then of its children; `free` gains the
    /// names still free after this block.
    fn block(
        &mut self,
        id: ScopeId,
        mut bound: Option<Set>,
        free: &mut Set,
        global: &mut Set,
        type_params: &mut Set,
        class_entry: Option<ScopeId>,
    ) -> Result<()> {
        let v = self.t.version;
        let (kind, function_like, sees_class, count) = {
            let s = &self.t.scopes[id.0 as usize];
            let count = s.symbols.len();
            (
                s.kind,
                s.is_function_like(),
                s.flags.can_see_class_scope,
                count,
            )
        };
        let mut local = Set::with_capacity_and_hasher(count, Default::default());
        let mut scopes = Scopes::with_capacity_and_hasher(count, Default::default());
        let (mut newglobal, mut newfree, mut newbound) =
            (Set::default(), Set::default(), Set::default());
        let mut inlined_cells = Set::default();

        // A class's own bindings are invisible to its children: seed before analyzing.
        if kind == ScopeKind::Class {
            newglobal.extend(global.iter().cloned());
            if let Some(b) = &bound {
                newbound.extend(b.iter().cloned());
            }
        }
        let names: Vec<(Name, u32)> = {
            let symbols = &self.t.scopes[id.0 as usize].symbols;
            let ids = &mut self.names;
            symbols
                .iter()
                .map(|(n, s)| (ids.id(n), s.flags.0))
                .collect()
        };
        for (name, flags) in names {
            let ctx = NameCtx {
                bound: bound.as_mut(),
                local: &mut local,
                free,
                global,
                type_params,
                class_entry,
            };
            let resolved = self.name(id, name, flags, ctx)?;
            scopes.insert(name, resolved);
        }
        if kind != ScopeKind::Class {
            if function_like {
                newbound.extend(local.iter().cloned());
            }
            if let Some(b) = &bound {
                newbound.extend(b.iter().cloned());
            }
            newglobal.extend(global.iter().cloned());
        } else {
            newbound.insert(self.names.id("__class__"));
            if v.has_type_params() {
                newbound.insert(self.names.id("__classdict__"));
            }
            if v.has_deferred_annotations() {
                newbound.insert(self.names.id("__conditional_annotations__"));
            }
        }

        let children = self.t.scopes[id.0 as usize].children.clone();
        let mut allfree = Set::default();
        for &child in &children {
            let (child_sees_class, inline) = {
                let c = &self.t.scopes[child.0 as usize];
                let inline = v.inlines_comprehensions()
                    && c.comprehension.is_some()
                    && !c.flags.generator
                    // 3.13 keeps those in annotation scopes within a class (3.12 refuses them).
                    && (!sees_class || v.refuses_nested_scopes_in_class_annotation_scopes());
                (c.flags.can_see_class_scope, inline)
            };
            let new_class_entry = match (child_sees_class, kind) {
                (false, _) => None,
                (true, ScopeKind::Class) => Some(id),
                (true, _) => class_entry,
            };
            // Before 3.12 each child starts from no free names; from 3.12 from those of the
            // children before it.
            let mut child_free = if v.inlines_comprehensions() {
                newfree.clone()
            } else {
                Set::default()
            };
            let mut child_global = newglobal.clone();
            let mut child_type_params = type_params.clone();
            self.block(
                child,
                Some(newbound.clone()),
                &mut child_free,
                &mut child_global,
                &mut child_type_params,
                new_class_entry,
            )?;
            if inline {
                self.inline_comprehension(
                    id,
                    child,
                    &mut scopes,
                    &mut child_free,
                    &mut inlined_cells,
                );
                self.scope(child).flags.comp_inlined = true;
            }
            if v.inlines_comprehensions() {
                newfree.extend(child_free);
            } else {
                allfree.extend(child_free);
            }
            let c = self.t.scopes[child.0 as usize].flags;
            if c.free || c.child_free {
                self.scope(id).flags.child_free = true;
            }
        }
        newfree.extend(allfree);

        // The children of inlined comprehensions become our children.
        let mut spliced = Vec::with_capacity(children.len());
        for &child in &children {
            let c = &self.t.scopes[child.0 as usize];
            if c.flags.comp_inlined {
                spliced.extend(c.children.iter().copied());
            } else {
                spliced.push(child);
            }
        }
        for &c in &spliced {
            self.scope(c).parent = Some(id);
        }
        self.scope(id).children = spliced;

        if function_like {
            for (name, scope) in scopes.iter_mut() {
                if *scope == NameScope::Local
                    && (newfree.contains(name) || inlined_cells.contains(name))
                {
                    *scope = NameScope::Cell;
                    newfree.remove(name);
                }
            }
        } else if kind == ScopeKind::Class {
            if newfree.remove(&self.names.id("__class__")) {
                self.scope(id).flags.needs_class_closure = true;
            }
            if v.has_type_params() && newfree.remove(&self.names.id("__classdict__")) {
                self.scope(id).flags.needs_classdict = true;
            }
            if v.has_deferred_annotations()
                && newfree.remove(&self.names.id("__conditional_annotations__"))
            {
                self.scope(id).flags.has_conditional_annotations = true;
            }
        }
        let classflag = kind == ScopeKind::Class || sees_class;
        self.update_symbols(
            id,
            &scopes,
            bound.as_ref(),
            &newfree,
            &inlined_cells,
            classflag,
        );
        free.extend(newfree);
        Ok(())
    }

    /// `analyze_name`: the scope of one name given its flags and what enclosing scopes bind.
    fn name(&mut self, id: ScopeId, n: Name, flags: u32, ctx: NameCtx) -> Result<NameScope> {
        let NameCtx {
            bound,
            local,
            free,
            global,
            type_params,
            class_entry,
        } = ctx;
        if flags & F::GLOBAL != 0 {
            if flags & F::NONLOCAL != 0 {
                return Err(self.at_directive(id, n, |name| {
                    format!("name '{name}' is nonlocal and global")
                }));
            }
            global.insert(n);
            if let Some(b) = bound {
                b.remove(&n);
            }
            return Ok(NameScope::GlobalExplicit);
        }
        if flags & F::NONLOCAL != 0 {
            let Some(b) = bound else {
                return Err(self.at_directive(id, n, |_| {
                    "nonlocal declaration not allowed at module level".into()
                }));
            };
            if !b.contains(&n) {
                return Err(self.at_directive(id, n, |name| {
                    format!("no binding for nonlocal '{name}' found")
                }));
            }
            if type_params.contains(&n) {
                return Err(self.at_directive(id, n, |name| {
                    format!("nonlocal binding not allowed for type parameter '{name}'")
                }));
            }
            self.scope(id).flags.free = true;
            free.insert(n);
            return Ok(NameScope::Free);
        }
        if flags & F::BOUND != 0 {
            local.insert(n);
            global.remove(&n);
            if flags & F::TYPE_PARAM != 0 {
                type_params.insert(n);
            } else {
                type_params.remove(&n);
            }
            return Ok(NameScope::Local);
        }
        // 3.12+: an annotation scope in a class sees the class's bindings first, as globals.
        if let Some(class) = class_entry {
            let cf = self.t.scopes[class.0 as usize]
                .symbols
                .get(self.names.name(n))
                .map_or(0, |s| s.flags.0);
            if cf & F::GLOBAL != 0 {
                return Ok(NameScope::GlobalExplicit);
            }
            if cf & F::BOUND != 0 && cf & F::NONLOCAL == 0 {
                return Ok(NameScope::GlobalImplicit);
            }
        }
        if bound.is_some_and(|b| b.contains(&n)) {
            self.scope(id).flags.free = true;
            free.insert(n);
            return Ok(NameScope::Free);
        }
        if global.contains(&n) {
            return Ok(NameScope::GlobalImplicit);
        }
        if self.t.scopes[id.0 as usize].flags.nested {
            self.scope(id).flags.free = true;
        }
        Ok(NameScope::GlobalImplicit)
    }

    /// The error for a name, at its first `global`/`nonlocal` statement (or walrus).
    fn at_directive(
        &self,
        id: ScopeId,
        n: Name,
        message: impl FnOnce(&str) -> String,
    ) -> Diagnostic {
        let name = self.names.name(n);
        let message = message(name);
        let loc = self.extra[id.0 as usize]
            .directives
            .iter()
            .find(|(directive, _)| directive == name)
            .map(|&(_, loc)| loc)
            .unwrap_or_default();
        error(self.t.version, message, loc, true)
    }

    /// 3.12+ (PEP 709): merge an inlined comprehension's names into the enclosing scope.
    fn inline_comprehension(
        &mut self,
        id: ScopeId,
        comp: ScopeId,
        scopes: &mut Scopes,
        comp_free: &mut Set,
        inlined_cells: &mut Set,
    ) {
        let is_class = self.t.scopes[id.0 as usize].kind == ScopeKind::Class;
        let symbols: Vec<(String, Symbol)> = self.t.scopes[comp.0 as usize]
            .symbols
            .iter()
            .map(|(n, s)| (n.clone(), *s))
            .collect();
        let mut remove_dunder_class = false;
        for (name, sym) in symbols {
            if sym.flags.has(F::PARAM) {
                continue;
            }
            let n = self.names.id(&name);
            let mut scope = sym.scope;
            if scope == NameScope::Cell || sym.flags.has(F::COMP_CELL) {
                inlined_cells.insert(n);
            }
            // `__class__` is never free through a class scope.
            if scope == NameScope::Free && is_class && name == "__class__" {
                scope = NameScope::GlobalImplicit;
                comp_free.remove(&n);
                remove_dunder_class = true;
            }
            let existing = self.t.scopes[id.0 as usize].symbols.get(&name).copied();
            match existing {
                None => {
                    let placeholder = Symbol {
                        flags: sym.flags,
                        scope: NameScope::GlobalImplicit,
                    };
                    self.scope(id).symbols.insert(name, placeholder);
                    scopes.insert(n, scope);
                }
                Some(outer) => {
                    // A comprehension's free name that is local outside is simply local,
                    // unless the comprehension's own children need it as a cell.
                    if outer.flags.has(F::BOUND)
                        && !is_class
                        && !self.free_in_any_child(comp, &name)
                    {
                        comp_free.remove(&n);
                    }
                }
            }
        }
        let c = self.scope(comp);
        c.flags.free = !comp_free.is_empty();
        if remove_dunder_class {
            c.symbols.shift_remove("__class__");
        }
    }

    fn free_in_any_child(&self, id: ScopeId, name: &str) -> bool {
        self.t.scopes[id.0 as usize].children.iter().any(|c| {
            self.t.scopes[c.0 as usize]
                .symbols
                .get(name)
                .map(|s| s.scope)
                == Some(NameScope::Free)
        })
    }

    /// `update_symbols`: store the scopes, and record the names children still need free.
    fn update_symbols(
        &mut self,
        id: ScopeId,
        scopes: &Scopes,
        bound: Option<&Set>,
        free: &Set,
        inlined_cells: &Set,
        classflag: bool,
    ) {
        let v = self.t.version;
        let symbols = &mut self.t.scopes[id.0 as usize].symbols;
        let ids = &mut self.names;
        for (name, sym) in symbols.iter_mut() {
            let n = ids.id(name);
            if inlined_cells.contains(&n) {
                sym.flags.0 |= F::COMP_CELL;
            }
            if let Some(&scope) = scopes.get(&n) {
                sym.scope = scope;
            }
        }
        // CPython walks a set here, in hash order; sorting keeps the table deterministic.
        let mut names: Vec<(&str, Name)> = free.iter().map(|&n| (ids.name(n), n)).collect();
        names.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (name, n) in names {
            if let Some(sym) = symbols.get_mut(name) {
                // A method's free name that the class also has: the class body must read it
                // from the class namespace first (`LOAD_CLASSDEREF`).
                if classflag && (v.inlines_comprehensions() || sym.flags.has(F::BOUND | F::GLOBAL))
                {
                    sym.flags.0 |= F::FREE_CLASS;
                }
                continue;
            }
            if bound.is_some_and(|b| !b.contains(&n)) {
                continue;
            }
            symbols.insert(
                name.to_owned(),
                Symbol {
                    flags: F(0),
                    scope: NameScope::Free,
                },
            );
        }
    }
}

/// The sets `analyze_name` reads and updates.
struct NameCtx<'s> {
    bound: Option<&'s mut Set>,
    local: &'s mut Set,
    free: &'s mut Set,
    global: &'s mut Set,
    type_params: &'s mut Set,
    class_entry: Option<ScopeId>,
}
