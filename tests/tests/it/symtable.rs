//! The symbol table against CPython, per version, over the standard library.
//!
//! - `symtable 3.X`: every scope (kind, name, line, nesting, parameters, children in order) and
//!   every symbol (CPython's raw flag word, which holds the flags and the resolved scope, and
//!   each `is_*` property of the `symtable` module) against the `symtable` module. A symbol
//!   counts as matched when its scope matched and its flags and properties are equal; names
//!   must also come in CPython's order, except the free names CPython adds from a set (whose
//!   order follows string hashes). Files CPython rejects count one case each when the error is
//!   one the symbol table (or future-statement check) raises: message and position must match.
//! - `cells 3.X`: since `symtable` cannot tell cells before 3.14, each code object of
//!   `compile()` (matched to its scope by name and line) against what the table implies: its
//!   `co_cellvars` and `co_freevars` in order, its parameters as the first `co_varnames`,
//!   which cells share a local's slot (3.11+ `co_localspluskinds`), and the `co_flags` bits
//!   the table decides (generator, coroutine, nested, varargs, future features).
//!
//! Files the pinned ruff parser cannot parse are skipped, counted and printed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pyc_assembler::PythonVersion;

use pyc_compiler::symtable::{self, ScopeId, ScopeKind, SymbolFlags, SymbolTable};
use pyc_tests::{for_each_version, short, Figure, Oracle};
use serde_json::{json, Value};

/// Every `n`th standard-library file unless `PYC_SWEEP=full`.
const SAMPLE_EVERY: usize = 7;

#[test]
fn symtable_matches_cpython() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut figures = Figures::new("symtable", "cells", v);
        for path in oracle.stdlib_corpus(SAMPLE_EVERY) {
            figures.file(oracle, &path);
        }
        figures.check();
    });
}

/// Small programs for what the standard library rarely or never does (PEP 695 scopes, private
/// names, class bodies with comprehensions, the 3.13 `try` order, …). Each version compares
/// those its parser accepts.
const EDGE_CASES: &[&str] = &[
    "x = 0\ndef outer():\n    x = 1\n    y = 2\n    class C:\n        x = 2\n        def m(self): return x, y, __class__\n        z = [x for _ in range(1)]\n        w = [y for _ in range(1)]\n        def n(self): return super().n()\n        global g\n        g = 1\n        def p(self): return g\n    return C\n",
    "def f(xs):\n    a = [[lambda: (i, j) for j in xs] for i in xs]\n    b = [(last := x) for x in xs]\n    c = {k: v for k, v in zip(xs, xs) if (w := k)}\n    d = (y for y in xs if [z for z in xs if z == y])\n    e = [z for z in xs if (lambda: z)()]\n    return last, w\n",
    "funcs = [lambda: i for i in range(3)]\nvals = [i for i in range(3)]\ni = 5\nmore = [(lambda: i)() for i in range(2)]\nclass K:\n    items = [lambda: j for j in range(3)]\n    j = 1\n    other = [j for _ in range(2)]\n    nested = [[k for k in range(j)] for j in range(2)]\n",
    "async def f(xs):\n    a = [x async for x in xs]\n    b = [await x for x in xs]\n    c = (x async for x in xs)\n    async with xs as y: pass\n    async for z in xs: pass\n    return {k: await k for k in xs}\nasync def gen():\n    yield 1\n    await gen()\n",
    "class __Private:\n    __a = 1\n    def __m(self, __p):\n        __q = __p\n        return self.__a, __q, [__r for __r in ()], lambda __s: __s\n    class __Inner:\n        def f(self): return __a\n    import os.path as __p2\nclass _:\n    __x = 1\nclass ___:\n    __y = 2\n",
    "def a():\n    v = 1\n    def b():\n        nonlocal v\n        v = 2\n        def c():\n            global v\n            v = 3\n            def d(): return v\n            return d\n        return c\n    return b\ndef e():\n    global q\n    def f(): return q\n    return f\n",
    "class A[T, *Ts, **P](Base[T]):\n    def m[U: int](self, x: T, y: U) -> T: return x\n    type Alias[V] = list[V | T]\n    z = T\ntype X = int\nclass __B[__T](__Base):\n    def f(self): return __T\ndef g[T: (int, str)](a: T = 1, *, b: T = 2) -> T: ...\nclass C:\n    type D[W: C] = W\n    def h[Q: C](self) -> Q: ...\n",
    "def f[T = int, *Ts = (), **P = [int]](x: T) -> T: ...\nclass K:\n    class L[T = K]: pass\n",
    "def m(x):\n    match x:\n        case [a, *rest]: return a, rest\n        case {'k': v, **kw}: return v, kw\n        case Point(x=px, y=py) | Point(px, py): return px\n        case str() as s if s: return s\n",
    "from __future__ import annotations\ndef f(a: A, b: (lambda: B)) -> [c for c in C]:\n    x: X = 1\n    y: Y\n    return a\nclass K:\n    attr: Attr\n    other: [o for o in O] = 3\n",
    "def f(a: A, b: (lambda: B)) -> [c for c in C]:\n    x: X = 1\n    y: Y\n    (z): Z\n    return a\nclass K:\n    attr: Attr\n    other: [o for o in O] = 3\n",
    "def t():\n    try:\n        a = 1\n    except E as e:\n        b = lambda: e\n    else:\n        c = lambda: a\n    finally:\n        d = 1\n",
    "@deco(lambda: 1)\nclass C(Base(lambda: 2), metaclass=M(lambda: 3)):\n    pass\n@deco2(lambda: 4)\ndef f(a=lambda: 5, *, b=lambda: 6) -> (lambda: 7): pass\nd = {(lambda: 8): (lambda: 9), **{}}\ndc = {k: v for k, v in (lambda: 10)()}\n",
    "class C:\n    def f(self):\n        return [super() for _ in range(1)], (super() for _ in range(1)), [__class__ for _ in range(1)]\n    g = [__class__ for _ in range(1)]\n",
    "print([(n := i) for i in range(3)], n)\ndef h():\n    [(m := i) for i in range(3)]\n    return m\ndef h2():\n    global gg\n    [(gg := i) for i in range(3)]\ndef h3():\n    nn = 0\n    def inner():\n        nonlocal nn\n        [(nn := i) for i in range(3)]\n",
    "def outer(a):\n    return [[(lambda: a + b + c) for c in range(2)] for b in range(2)]\ndef outer2():\n    x = 1\n    return [y for y in [x for _ in range(1)]]\n",
    "def f(seq):\n    a, *b = seq\n    del a\n    c = 0\n    c += 1\n    with open(seq) as (d, e): pass\n    import os.path, sys as s\n    from os import path as p\n    for i, (j, k) in seq: pass\n    return [b, c, d, e, s, p, i, j, k]\n",
    "x = f'{(lambda: 1)()} {[y for y in z]!r:>{w}}'\ny = (f'a'\n     f'{[q for q in r]}')\n",
];

#[test]
fn symtable_edge_cases_match_cpython() {
    let dir = std::env::temp_dir().join(format!("pyc-symtable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let paths: Vec<PathBuf> = EDGE_CASES
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let path = dir.join(format!("case{i}.py"));
            std::fs::write(&path, source).expect("writable temporary directory");
            path
        })
        .collect();
    for_each_version(|oracle| {
        let mut figures = Figures::new("symtable-edges", "cells-edges", oracle.version);
        for path in &paths {
            figures.file(oracle, path);
        }
        figures.check();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// The two figures of a version, and what was left out.
struct Figures {
    symbols: Figure,
    cells: Figure,
    unparsed: Vec<String>,
    rejected: usize,
}

impl Figures {
    fn new(symbols: &'static str, cells: &'static str, v: PythonVersion) -> Figures {
        Figures {
            symbols: Figure::new(symbols, v),
            cells: Figure::new(cells, v),
            unparsed: Vec::new(),
            rejected: 0,
        }
    }

    /// Compares one file.
    fn file(&mut self, oracle: &mut Oracle, path: &Path) {
        let v = oracle.version;
        let file = short(path);
        let Some(text) = std::fs::read(path).ok().and_then(|b| decode(&b)) else {
            self.unparsed.push(file);
            return;
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let Ok(parsed) = ruff_python_parser::parse_module(text) else {
            self.unparsed.push(file);
            return;
        };
        let ours = symtable::build(parsed.syntax(), text, v);
        let reply = oracle.request(json!({"op": "symtable", "path": path}));
        if reply["ok"].as_bool() != Some(true) {
            let theirs = &reply["error"];
            let msg = theirs["msg"].as_str().unwrap_or_default();
            if !is_symtable_error(msg) {
                self.rejected += 1;
                return;
            }
            self.symbols.record(match &ours {
                Err(d)
                    if d.message == msg
                        && Some(d.line as u64) == theirs["lineno"].as_u64()
                        && Some(d.column as u64) == theirs["offset"].as_u64() =>
                {
                    Ok(())
                }
                Err(d) => Err(format!("{file}: we raise {d}, CPython {theirs}")),
                Ok(_) => Err(format!("{file}: CPython raises {theirs}")),
            });
            return;
        }
        match ours {
            Ok(table) => {
                let top = &reply["top"];
                compare_scope(&table, SymbolTable::ROOT, top, &file, &mut self.symbols);
                compare_code(&table, &reply["code_objects"], &file, &mut self.cells);
            }
            Err(d) => {
                for _ in 0..count_symbols(&reply["top"]).max(1) {
                    self.symbols.record(Err(format!("{file}: we raise {d}")));
                }
            }
        }
    }

    fn check(&self) {
        let (name, v) = (self.symbols.name, self.symbols.version);
        println!(
            "{name} {v}: {} files skipped (not UTF-8, or rejected by the ruff parser){}; {} rejected by CPython outside the symbol table",
            self.unparsed.len(),
            if self.unparsed.is_empty() { String::new() } else { format!(": {}", self.unparsed.join(", ")) },
            self.rejected,
        );
        self.symbols.check();
        self.cells.check();
    }
}

/// UTF-8, or Latin-1 when a coding cookie says so (the other codings are left out).
fn decode(bytes: &[u8]) -> Option<String> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Some(text.to_string());
    }
    let head: Vec<&[u8]> = bytes.split(|&b| b == b'\n').take(2).collect();
    let latin1 = head.iter().any(|line| {
        let line = String::from_utf8_lossy(line).to_ascii_lowercase();
        line.starts_with('#')
            && line.contains("coding")
            && ["latin-1", "latin1", "iso-8859-1", "iso8859-1"]
                .iter()
                .any(|c| line.contains(c))
    });
    latin1.then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

/// Messages raised by `symtable.c` or `future.c`.
fn is_symtable_error(msg: &str) -> bool {
    const PARTS: [&str; 20] = [
        "is parameter and",
        "before global declaration",
        "before nonlocal declaration",
        "prior to global declaration",
        "prior to nonlocal declaration",
        "can't be global",
        "can't be nonlocal",
        "import * only allowed",
        "assignment expression",
        "comprehension inner loop",
        "duplicate argument",
        "duplicate type parameter",
        "nonlocal declaration not allowed",
        "no binding for nonlocal",
        "is nonlocal and global",
        "inside list comprehension",
        "not a chance",
        "future feature",
        "can not be used within",
        "cannot be used within",
    ];
    PARTS.iter().any(|p| msg.contains(p)) || msg.starts_with("'yield' inside")
}

fn count_symbols(scope: &Value) -> usize {
    let own = scope["symbols"].as_array().map_or(0, Vec::len);
    own + scope["children"]
        .as_array()
        .map_or(0, |c| c.iter().map(count_symbols).sum())
}

/// The `is_*` properties `Lib/symtable.py` gives a symbol (its `module_scope` is a scope named
/// `top`).
fn properties(table: &SymbolTable, id: ScopeId, name: &str) -> Vec<&'static str> {
    let scope = table.scope(id);
    let sym = scope.symbols[name];
    let module = scope.name == "top" && sym.flags.has(SymbolFlags::BOUND);
    [
        ("is_referenced", sym.is_referenced()),
        ("is_parameter", sym.is_parameter()),
        ("is_global", sym.is_global() || module),
        ("is_nonlocal", sym.is_nonlocal()),
        ("is_declared_global", sym.is_declared_global()),
        ("is_local", sym.is_local() || module),
        ("is_annotated", sym.is_annotated()),
        ("is_free", sym.is_free()),
        ("is_imported", sym.is_imported()),
        ("is_assigned", sym.is_assigned()),
    ]
    .into_iter()
    .filter_map(|(p, on)| on.then_some(p))
    .collect()
}

fn compare_scope(table: &SymbolTable, id: ScopeId, theirs: &Value, file: &str, fig: &mut Figure) {
    let v = table.version;
    let scope = table.scope(id);
    let where_ = format!("{file}:{} {}", scope.lineno, scope.name);
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let header = (
        scope.kind.number(v) as u64,
        scope.name.as_str(),
        scope.lineno as u64,
        scope.flags.nested,
        scope.varnames.clone(),
    );
    let their_header = (
        theirs["raw_type"].as_u64().unwrap_or(99),
        theirs["name"].as_str().unwrap_or_default(),
        theirs["lineno"].as_u64().unwrap_or(0),
        theirs["nested"].as_bool().unwrap_or(false),
        strs(&theirs["varnames"]),
    );
    let their_symbols = theirs["symbols"].as_array().cloned().unwrap_or_default();
    let scope_error = if header != their_header {
        Some(format!(
            "{where_}: scope {header:?} vs CPython {their_header:?}"
        ))
    } else {
        // Order of the names CPython inserts deterministically.
        let ordered = |names: Vec<(&str, u64)>| -> Vec<String> {
            names
                .into_iter()
                .filter(|(_, f)| f & 0x7ff != 0)
                .map(|(n, _)| n.to_string())
                .collect()
        };
        let ours = ordered(
            scope
                .symbols
                .iter()
                .map(|(n, s)| (n.as_str(), s.raw(v) as u64))
                .collect(),
        );
        let theirs_order = ordered(
            their_symbols
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap_or_default(),
                        s["flags"].as_u64().unwrap_or(0),
                    )
                })
                .collect(),
        );
        (ours != theirs_order)
            .then(|| format!("{where_}: symbol order {ours:?} vs CPython {theirs_order:?}"))
    };
    let mut seen = HashSet::new();
    for s in &their_symbols {
        let name = s["name"].as_str().unwrap_or_default();
        seen.insert(name);
        if let Some(e) = &scope_error {
            fig.record(Err(e.clone()));
            continue;
        }
        let Some(sym) = scope.symbols.get(name) else {
            fig.record(Err(format!("{where_}: no symbol {name}")));
            continue;
        };
        let flags = s["flags"].as_u64().unwrap_or(0);
        let props = strs(&s["props"]);
        let our_props = properties(table, id, name);
        fig.record(if sym.raw(v) as u64 == flags && props == our_props {
            Ok(())
        } else {
            Err(format!(
                "{where_}: {name} flags {:#x} {our_props:?} vs CPython {flags:#x} {props:?}",
                sym.raw(v)
            ))
        });
    }
    for name in scope.symbols.keys().filter(|n| !seen.contains(n.as_str())) {
        fig.record(Err(format!("{where_}: extra symbol {name}")));
    }
    let their_children = theirs["children"].as_array().cloned().unwrap_or_default();
    for (i, child) in their_children.iter().enumerate() {
        match scope.children.get(i) {
            Some(&ours) => compare_scope(table, ours, child, file, fig),
            None => {
                for _ in 0..count_symbols(child) {
                    fig.record(Err(format!("{where_}: missing child {}", child["name"])));
                }
            }
        }
    }
    for &extra in scope.children.iter().skip(their_children.len()) {
        fig.record(Err(format!(
            "{where_}: extra child {}",
            table.scope(extra).name
        )));
    }
}

/// Matches each code object to a scope (same code name; on the same first line, the first
/// whose code agrees; else the next one below, as decorators come first) and compares them.
fn compare_code(table: &SymbolTable, codes: &Value, file: &str, fig: &mut Figure) {
    let mut candidates: Vec<ScopeId> = table.walk().into_iter().map(|(id, _)| id).collect();
    // 3.14+ under `from __future__ import annotations`: code generation still makes the
    // `__annotate__` functions of annotation scopes that are not part of the tree.
    if table.version.has_deferred_annotations() && table.future.annotations {
        let unreachable: Vec<ScopeId> = (0..table.scopes.len() as u32)
            .map(ScopeId)
            .filter(|id| table.scope(*id).kind == ScopeKind::Annotation)
            .filter(|id| !candidates.contains(id))
            .collect();
        candidates.extend(unreachable);
    }
    let mut used = HashSet::new();
    for code in codes.as_array().into_iter().flatten() {
        let name = code["name"].as_str().unwrap_or_default();
        let line = code["firstlineno"].as_u64().unwrap_or(0) as u32;
        let same_name: Vec<ScopeId> = candidates
            .iter()
            .copied()
            .filter(|id| !used.contains(id) && table.scope(*id).code_name() == name)
            .collect();
        // Among scopes of the same name on the same line, the first whose code agrees.
        let on_line: Vec<ScopeId> = same_name
            .iter()
            .copied()
            .filter(|id| table.scope(*id).lineno == line || name == "<module>")
            .collect();
        let pick = on_line
            .iter()
            .find(|id| code_problems(table, **id, code).is_empty())
            .or(on_line.first())
            .or_else(|| same_name.iter().find(|id| table.scope(**id).lineno > line))
            .or(same_name.first())
            .copied();
        let Some(id) = pick else {
            fig.record(Err(format!(
                "{file}:{line} {name}: no scope for this code object"
            )));
            continue;
        };
        used.insert(id);
        let problems = code_problems(table, id, code);
        fig.record(if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{file}:{line} {name}: {}", problems.join("; ")))
        });
    }
}

/// What differs between a code object and what the table implies for its scope.
fn code_problems(table: &SymbolTable, id: ScopeId, code: &Value) -> Vec<String> {
    let v = table.version;
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scope = table.scope(id);
    let (cellvars, freevars, varnames) = (
        strs(&code["cellvars"]),
        strs(&code["freevars"]),
        strs(&code["varnames"]),
    );
    let mut problems = Vec::new();
    // A cell shares a fast slot (so is in co_varnames, and from 3.11 comes first in
    // co_cellvars, in co_varnames order) when it is a parameter or, 3.12+, a name an
    // inlined comprehension binds.
    let bound = inlined_bindings(table, id);
    let mut our_cells = scope.cellvars(v);
    for cell in &our_cells {
        let expected = scope.varnames.iter().any(|p| p == cell) || bound.contains(cell);
        if varnames.iter().any(|n| n == cell) != expected {
            problems.push(format!("cell {cell} in co_varnames: {}", !expected));
        }
    }
    if v.minor() >= 11 {
        let slot = |c: &&str| varnames.iter().position(|n| n == c);
        let (mut shared, rest): (Vec<&str>, Vec<&str>) =
            our_cells.iter().partition(|c| slot(c).is_some());
        shared.sort_by_key(|c| slot(c));
        our_cells = shared.into_iter().chain(rest).collect();
    }
    if cellvars != our_cells {
        problems.push(format!(
            "co_cellvars {cellvars:?}, table implies {our_cells:?}"
        ));
    }
    const SYMTABLE_FLAGS: u64 = 0x2bf | 0x40_0000 | 0x100_0000;
    let flags = code["flags"].as_u64().unwrap_or(0) & SYMTABLE_FLAGS;
    let our_flags = u64::from(scope.code_flags(&table.future));
    if flags != our_flags {
        problems.push(format!("co_flags {flags:#x}, table implies {our_flags:#x}"));
    }
    let our_free = scope.freevars();
    if freevars != our_free {
        problems.push(format!(
            "co_freevars {freevars:?}, table implies {our_free:?}"
        ));
    }
    // 3.14+: the `.format` parameter of an annotation scope is `format` in its
    // `__annotate__` code object.
    let annotate = scope.kind == ScopeKind::Annotation;
    let params: Vec<&str> = scope
        .varnames
        .iter()
        .map(|p| {
            if annotate && p == ".format" {
                "format"
            } else {
                p.as_str()
            }
        })
        .collect();
    if scope.is_function_like()
        && (varnames.len() < params.len() || varnames[..params.len()] != params[..])
    {
        problems.push(format!(
            "co_varnames {varnames:?} do not start with parameters {:?}",
            scope.varnames
        ));
    }
    problems
}

/// 3.12+: the names that comprehensions inlined into `host` bind (code generation saves them
/// with `LOAD_FAST_AND_CLEAR`, giving them a fast slot): names assigned and not nonlocal, and
/// every name of a comprehension directly in a class body.
fn inlined_bindings(table: &SymbolTable, host: ScopeId) -> HashSet<&str> {
    let mut names = HashSet::new();
    for comp in &table.scopes {
        if !comp.flags.comp_inlined {
            continue;
        }
        let mut at = comp.parent;
        while let Some(p) = at.filter(|p| table.scope(*p).flags.comp_inlined) {
            at = table.scope(p).parent;
        }
        if at != Some(host) {
            continue;
        }
        let in_class = comp.parent == Some(host) && table.scope(host).kind == ScopeKind::Class;
        for (name, sym) in &comp.symbols {
            let local = sym.flags.has(SymbolFlags::LOCAL) && !sym.flags.has(SymbolFlags::NONLOCAL);
            if local || in_class {
                names.insert(name.as_str());
            }
        }
    }
    names
}
