//! Unit tests: errors with CPython's messages and positions per version (recorded from the
//! real interpreters), and resolution of the cases code generation cares about.

use super::*;

fn table(source: &str, minor: u8) -> Result<SymbolTable, Diagnostic> {
    let v = PythonVersion::from_minor(minor).expect("a supported version");
    let parsed = ruff_python_parser::parse_module(source).expect("test sources parse");
    build(parsed.syntax(), source, v)
}

/// Sources and CPython's verdict per range of minor versions: `LO-HI ok`, or
/// `LO-HI LINE:OFFSET[-END_LINE:END_OFFSET] MESSAGE` (an absent `end_offset` is 0). Versions
/// whose parser rejects the source, and errors raised by the compiler proper, are left out.
const ERRORS: &[(&str, &[&str])] = &[
    ("def f(a, a): pass\n", &[
        "8-9 1:1 duplicate argument 'a' in function definition",
        "10-13 1:10-1:11 duplicate argument 'a' in function definition",
    ]),
    ("@d\ndef f(a, b, *, a): pass\n", &[
        "8-9 2:1 duplicate argument 'a' in function definition",
        "10-13 2:16-2:17 duplicate argument 'a' in function definition",
    ]),
    ("x = lambda a, a: 0\n", &[
        "8-9 1:5 duplicate argument 'a' in function definition",
        "10-13 1:15-1:16 duplicate argument 'a' in function definition",
    ]),
    ("def f():\n    x = 1\n    global x\n", &[
        "8-9 3:5 name 'x' is assigned to before global declaration",
        "10-13 3:5-3:13 name 'x' is assigned to before global declaration",
    ]),
    ("def f():\n    print(x)\n    global x\n", &[
        "8-9 3:5 name 'x' is used prior to global declaration",
        "10-13 3:5-3:13 name 'x' is used prior to global declaration",
    ]),
    ("def f(x):\n    global x\n", &[
        "8-9 2:5 name 'x' is parameter and global",
        "10-13 2:5-2:13 name 'x' is parameter and global",
    ]),
    ("def g():\n    def f(x):\n        nonlocal x\n", &[
        "8-9 3:9 name 'x' is parameter and nonlocal",
        "10-13 3:9-3:19 name 'x' is parameter and nonlocal",
    ]),
    ("def g():\n    x = 1\n    def f():\n        print(x)\n        nonlocal x\n", &[
        "8-9 5:9 name 'x' is used prior to nonlocal declaration",
        "10-13 5:9-5:19 name 'x' is used prior to nonlocal declaration",
    ]),
    ("def f():\n    nonlocal x\n", &[
        "8-9 2:5 no binding for nonlocal 'x' found",
        "10-13 2:5-2:15 no binding for nonlocal 'x' found",
    ]),
    ("nonlocal x\n", &[
        "8-9 1:1 nonlocal declaration not allowed at module level",
        "10-13 1:1-1:11 nonlocal declaration not allowed at module level",
    ]),
    ("class C:\n    nonlocal x\n", &[
        "8-9 2:5 no binding for nonlocal 'x' found",
        "10-13 2:5-2:15 no binding for nonlocal 'x' found",
    ]),
    ("def g():\n    x = 1\n    def f():\n        global x\n        nonlocal x\n", &[
        "8-9 4:9 name 'x' is nonlocal and global",
        "10-13 4:9-4:17 name 'x' is nonlocal and global",
    ]),
    ("def f():\n    from os import *\n", &[
        "8-9 1:1 import * only allowed at module level",
        "10-13 2:20-2:21 import * only allowed at module level",
    ]),
    ("class C:\n    x = 1; from os import *\n", &[
        "8-9 1:1 import * only allowed at module level",
        "10-13 2:27-2:28 import * only allowed at module level",
    ]),
    ("[(y := 1) for y in range(3)]\n", &[
        "8-9 1:2 assignment expression cannot rebind comprehension iteration variable 'y'",
        "10-13 1:3-1:4 assignment expression cannot rebind comprehension iteration variable 'y'",
    ]),
    ("[x for x in (y := [1])]\n", &[
        "8-9 1:13 assignment expression cannot be used in a comprehension iterable expression",
        "10-13 1:14-1:22 assignment expression cannot be used in a comprehension iterable expression",
    ]),
    ("class C:\n    [(z := 1) for q in range(3)]\n", &[
        "8-9 2:6 assignment expression within a comprehension cannot be used in a class body",
        "10-13 2:7-2:8 assignment expression within a comprehension cannot be used in a class body",
    ]),
    ("[j for i in range(5) if (j := i) for j in range(5)]\n", &[
        "8-9 1:1 comprehension inner loop cannot rebind assignment expression target 'j'",
        "10-13 1:38-1:39 comprehension inner loop cannot rebind assignment expression target 'j'",
    ]),
    ("def f():\n    global x\n    x: int = 1\n", &[
        "8-9 3:5 annotated name 'x' can't be global",
        "10-13 3:5-3:15 annotated name 'x' can't be global",
    ]),
    ("def f():\n    x: int\n    global x\n", &[
        "8-9 3:5 annotated name 'x' can't be global",
        "10-13 3:5-3:13 annotated name 'x' can't be global",
    ]),
    ("def g():\n    x = 1\n    def f():\n        nonlocal x\n        x: int\n", &[
        "8-9 5:9 annotated name 'x' can't be nonlocal",
        "10-13 5:9-5:15 annotated name 'x' can't be nonlocal",
    ]),
    ("def f(a):\n    return [(yield) for q in a]\n", &[
        "8-9 2:12 'yield' inside list comprehension",
        "10-13 2:14-2:19 'yield' inside list comprehension",
    ]),
    ("def f(a):\n    return ((yield q) for q in a)\n", &[
        "8-9 2:12 'yield' inside generator expression",
        "10-13 2:14-2:21 'yield' inside generator expression",
    ]),
    ("def f(a):\n    return {q: (yield) for q in a}\n", &[
        "8-9 2:12 'yield' inside dict comprehension",
        "10-13 2:17-2:22 'yield' inside dict comprehension",
    ]),
    ("\"doc\"\nfrom __future__ import braces\n", &[
        "8-9 2:1 not a chance",
        "10-13 2:1-2:0 not a chance",
    ]),
    ("from __future__ import nope\n", &[
        "8-9 1:1 future feature nope is not defined",
        "10-13 1:1-1:0 future feature nope is not defined",
    ]),
    ("import os; from __future__ import annotations\n", &[
        "8-9 1:11 from __future__ imports must occur at the beginning of the file",
        "10-11 1:11-1:0 from __future__ imports must occur at the beginning of the file",
    ]),
    ("from __future__ import annotations\ndef f(x: (y := 1)): pass\n", &[
        "8-9 ok",
        "10-11 2:11-2:17 'named expression' can not be used within an annotation",
        "12-13 2:11-2:17 named expression cannot be used within an annotation",
    ]),
    ("from __future__ import annotations\ndef f():\n    x: (yield) = 1\n", &[
        "8-9 ok",
        "10-11 3:9-3:14 'yield expression' can not be used within an annotation",
        "12-13 3:9-3:14 yield expression cannot be used within an annotation",
    ]),
    ("from __future__ import annotations\nasync def f() -> (await g()): pass\n", &[
        "8-9 ok",
        "10-11 2:19-2:28 'await expression' can not be used within an annotation",
        "12-13 2:19-2:28 await expression cannot be used within an annotation",
    ]),
    ("def f():\n    \"éé\"; x = 1; global x\n", &[
        "8-9 2:20 name 'x' is assigned to before global declaration",
        "10-13 2:20-2:28 name 'x' is assigned to before global declaration",
    ]),
    ("def f[T, T](): pass\n", &[
        "12-13 1:10-1:11 duplicate type parameter 'T'",
    ]),
    ("class C:\n    def f[T](x: (lambda: T)): pass\n", &[
        "12-12 2:18-2:27 Cannot use lambda in annotation scope within class scope",
        "13-13 ok",
    ]),
    ("class C:\n    type A = [x for x in T]\n", &[
        "12-12 2:14-2:28 Cannot use comprehension in annotation scope within class scope",
        "13-13 ok",
    ]),
    ("type X = (yield)\n", &[
        "12-13 1:11-1:16 yield expression cannot be used within a type alias",
    ]),
    ("def f[T: (yield)](): pass\n", &[
        "12-13 1:11-1:16 yield expression cannot be used within a TypeVar bound",
    ]),
    ("def f[T: (int, await x)](): pass\n", &[
        "12-12 1:16-1:23 await expression cannot be used within a TypeVar bound",
        "13-13 1:16-1:23 await expression cannot be used within a TypeVar constraint",
    ]),
    ("class C[T]((x := 1)): pass\n", &[
        "12-13 1:13-1:19 named expression cannot be used within the definition of a generic",
    ]),
    ("type X = [(y := 1) for q in a]\n", &[
        "12-13 1:12-1:13 assignment expression within a comprehension cannot be used in a type alias",
    ]),
    ("def f[T]():\n    def g():\n        nonlocal T\n", &[
        "12-13 3:9-3:19 nonlocal binding not allowed for type parameter 'T'",
    ]),
    ("def f[T = (yield)](): pass\n", &[
        "13-13 1:12-1:17 yield expression cannot be used within a TypeVar default",
    ]),
];

#[test]
fn errors_match_cpython() {
    for (source, verdicts) in ERRORS {
        for verdict in *verdicts {
            let (range, rest) = verdict.split_once(' ').expect("a version range");
            let (lo, hi) = range.split_once('-').expect("LO-HI");
            let (lo, hi): (u8, u8) = (lo.parse().expect("minor"), hi.parse().expect("minor"));
            let want = (rest != "ok").then(|| rest.to_string());
            for minor in lo..=hi {
                let got = table(source, minor).err().map(|d| {
                    let end = d.end.map_or(String::new(), |(l, c)| format!("-{l}:{c}"));
                    format!("{}:{}{end} {}", d.line, d.column, d.message)
                });
                assert_eq!(got, want, "3.{minor}: {source:?}");
            }
        }
    }
}

fn symbol(t: &SymbolTable, path: &[&str], name: &str) -> Symbol {
    let mut id = SymbolTable::ROOT;
    for step in path {
        id = *t
            .scope(id)
            .children
            .iter()
            .find(|c| t.scope(**c).name == *step)
            .unwrap_or_else(|| panic!("no scope {step}"));
    }
    t.scope(id).symbols[name]
}

#[test]
fn closures_and_class_cells() {
    let src = "class C:\n    def m(self):\n        return super().m(x)\ndef f(a):\n    x = 1\n    def g():\n        return a + x\n    return g\n";
    for minor in 8..=13 {
        let t = table(src, minor).expect("valid");
        let c = t.scope(t.root().children[0]);
        assert!(c.flags.needs_class_closure, "3.{minor}");
        assert_eq!(c.cellvars(t.version), ["__class__"]);
        assert_eq!(symbol(&t, &["C", "m"], "__class__").scope, NameScope::Free);
        assert_eq!(
            symbol(&t, &["C", "m"], "x").scope,
            NameScope::GlobalImplicit
        );
        assert_eq!(symbol(&t, &["f"], "x").scope, NameScope::Cell);
        assert_eq!(symbol(&t, &["f", "g"], "a").scope, NameScope::Free);
        let f = t.scope(t.root().children[1]);
        assert_eq!(f.cellvars(t.version), ["a", "x"]);
        assert_eq!(t.scope(f.children[0]).freevars(), ["a", "x"]);
    }
}

#[test]
fn comprehensions_are_inlined_from_3_12() {
    let src = "def f(xs):\n    return [lambda: y for y in xs]\n";
    for minor in 8..=13 {
        let t = table(src, minor).expect("valid");
        let f = t.scope(t.root().children[0]);
        let inlined = minor >= 12;
        let child = t.scope(f.children[0]);
        assert_eq!(child.name == "lambda", inlined, "3.{minor}");
        assert_eq!(f.symbols.contains_key("y"), inlined, "3.{minor}");
        if inlined {
            let y = f.symbols["y"];
            assert_eq!(y.scope, NameScope::Cell);
            assert!(y.flags.has(SymbolFlags::COMP_CELL | SymbolFlags::COMP_ITER));
            assert_eq!(f.cellvars(t.version), ["y"]);
        } else {
            assert_eq!(child.cellvars(t.version), ["y"]);
        }
    }
}

#[test]
fn private_names_are_mangled() {
    assert_eq!(build::mangle(Some("_Spam"), "__x"), "_Spam__x");
    assert_eq!(build::mangle(Some("Spam"), "__x__"), "__x__");
    assert_eq!(build::mangle(Some("Spam"), "__a.b"), "__a.b");
    // An import binds the first component, which is mangled.
    assert_eq!(build::mangle(Some("___"), "__x"), "__x");
    assert_eq!(build::mangle(None, "__x"), "__x");
    let t = table("class C:\n    import __a.b\n    __y = 1\n", 13).expect("valid");
    let names: Vec<&String> = t.scope(t.root().children[0]).symbols.keys().collect();
    assert_eq!(names, ["_C__a", "_C__y"]);
}

#[test]
fn generic_class_mangling_changed_in_3_13() {
    let src = "class C[T](__B): pass\n";
    let mangled = |minor| {
        let t = table(src, minor).expect("valid");
        t.scope(t.root().children[0])
            .symbols
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(mangled(12).contains(&"_C__B".to_string()));
    assert!(mangled(13).contains(&"__B".to_string()));
    // 3.12.1 keeps mangling with the class name after a generic class.
    let t = table("class A[T]: pass\ndef __f(): pass\n", 12).expect("valid");
    assert!(t.root().symbols.contains_key("_A__f"));
    let t = table("class A[T]: pass\ndef __f(): pass\n", 13).expect("valid");
    assert!(t.root().symbols.contains_key("__f"));
}

#[test]
fn future_annotations_hide_annotation_names_from_3_10() {
    let src = "from __future__ import annotations\ndef f(a: Foo) -> Bar: pass\n";
    for minor in 8..=13 {
        let t = table(src, minor).expect("valid");
        assert!(t.future.annotations);
        assert_eq!(
            t.root().symbols.contains_key("Foo"),
            minor < 10,
            "3.{minor}"
        );
    }
}

#[test]
fn decorated_definitions_start_at_their_keyword() {
    let src = "@a\n@b\nasync \\\n def f(): pass\n@c\nclass K: pass\n";
    let t = table(src, 11).expect("valid");
    let lines: Vec<u32> = t
        .root()
        .children
        .iter()
        .map(|c| t.scope(*c).lineno)
        .collect();
    assert_eq!(lines, [3, 6]);
    assert!(t.scope(t.root().children[0]).flags.coroutine);
}

#[test]
fn lookups_and_explain() {
    let src = "def f(a, *r, k=1, **kw):\n    yield [b for b in a], len\n";
    let parsed = ruff_python_parser::parse_module(src).expect("parses");
    let t = build(parsed.syntax(), src, PythonVersion::V3_11).expect("valid");
    let ast::Stmt::FunctionDef(def) = &parsed.syntax().body[0] else {
        panic!("a def")
    };
    let f = t.scope(t.function(def).expect("scoped"));
    assert_eq!(f.varnames, ["a", "k", "r", "kw"]);
    assert!(f.flags.generator && f.flags.varargs && f.flags.varkeywords);
    assert_eq!(f.access("a"), Access::Fast);
    assert_eq!(f.access("len"), Access::Global);
    assert_eq!(t.root().access("f"), Access::Name);
    let text = explain(&t);
    assert!(text.contains("function f (line 1) [generator]"), "{text}");
    assert!(
        text.contains("comprehension <listcomp> (line 2) [nested]"),
        "{text}"
    );
    assert!(text.contains("a: local — parameter, used"), "{text}");
}

#[test]
fn line_index_counts_bytes_and_all_newlines() {
    let index = LineIndex::new("a\r\nbé\rc\nd");
    assert_eq!(index.position(0), (1, 0));
    assert_eq!(index.position(3), (2, 0));
    assert_eq!(index.position(6), (2, 3));
    assert_eq!(index.position(7), (3, 0));
    assert_eq!(index.position(9), (4, 0));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let deep = format!("x = {}\n", "-".repeat(5000) + "1");
            let parsed = ruff_python_parser::parse_module(&deep).expect("parses");
            eprintln!("parsed");
            let r = build(parsed.syntax(), &deep, PythonVersion::V3_13)
                .err()
                .map(|d| d.message);
            eprintln!("built");
            std::mem::forget(parsed);
            r
        })
        .expect("thread");
    let message = handle.join().expect("no stack overflow");
    assert_eq!(
        message.as_deref(),
        Some("maximum recursion depth exceeded during compilation")
    );
}
