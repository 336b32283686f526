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

use pyc_compiler::symtable::{self, ScopeId, ScopeKind, SymbolFlags, SymbolTable};
use pyc_tests::{for_each_version, short, Figure};
use serde_json::{json, Value};

/// Every `n`th standard-library file unless `PYC_SWEEP=full`.
const SAMPLE_EVERY: usize = 7;

#[test]
fn symtable_matches_cpython() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut symbols = Figure::new("symtable", v);
        let mut cells = Figure::new("cells", v);
        let (mut unparsed, mut rejected) = (Vec::new(), 0);
        for path in oracle.stdlib_corpus(SAMPLE_EVERY) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Some(text) = decode(&bytes) else {
                unparsed.push(short(&path));
                continue;
            };
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let Ok(parsed) = ruff_python_parser::parse_module(text) else {
                unparsed.push(short(&path));
                continue;
            };
            let ours = symtable::build(parsed.syntax(), text, v);
            let reply = oracle.request(json!({"op": "symtable", "path": path}));
            let file = short(&path);
            if reply["ok"].as_bool() != Some(true) {
                let theirs = &reply["error"];
                let msg = theirs["msg"].as_str().unwrap_or_default();
                if !is_symtable_error(msg) {
                    rejected += 1;
                    continue;
                }
                symbols.record(match &ours {
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
                continue;
            }
            let table = match ours {
                Ok(table) => table,
                Err(d) => {
                    let n = count_symbols(&reply["top"]);
                    for _ in 0..n.max(1) {
                        symbols.record(Err(format!("{file}: we raise {d}")));
                    }
                    continue;
                }
            };
            compare_scope(
                &table,
                SymbolTable::ROOT,
                &reply["top"],
                &file,
                &mut symbols,
            );
            compare_code(&table, &reply["code_objects"], &file, &mut cells);
        }
        println!(
            "symtable {v}: {} files skipped (not UTF-8, or rejected by the ruff parser){}; {rejected} rejected by CPython outside the symbol table",
            unparsed.len(),
            if unparsed.is_empty() { String::new() } else { format!(": {}", unparsed.join(", ")) }
        );
        symbols.check();
        cells.check();
    });
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

/// Matches each code object to a scope (same code name, preferring the same first line, then
/// the first unused one in tree order) and compares its cells and free variables.
fn compare_code(table: &SymbolTable, codes: &Value, file: &str, fig: &mut Figure) {
    let v = table.version;
    let candidates: Vec<ScopeId> = table.walk().into_iter().map(|(id, _)| id).collect();
    let mut used = HashSet::new();
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for code in codes.as_array().into_iter().flatten() {
        let name = code["name"].as_str().unwrap_or_default();
        let line = code["firstlineno"].as_u64().unwrap_or(0) as u32;
        let same_name: Vec<ScopeId> = candidates
            .iter()
            .copied()
            .filter(|id| !used.contains(id) && table.scope(*id).code_name() == name)
            .collect();
        let pick = same_name
            .iter()
            .find(|id| table.scope(**id).lineno == line || (name == "<module>"))
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
        if scope.is_function_like()
            && (varnames.len() < scope.varnames.len()
                || varnames[..scope.varnames.len()] != scope.varnames[..])
        {
            problems.push(format!(
                "co_varnames {varnames:?} do not start with parameters {:?}",
                scope.varnames
            ));
        }
        fig.record(if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{file}:{line} {name}: {}", problems.join("; ")))
        });
    }
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
