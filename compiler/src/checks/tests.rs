use pyc_assembler::PythonVersion;

use crate::diagnostic::ErrorKind;

const V3_8: PythonVersion = PythonVersion::V3_8;
const V3_9: PythonVersion = PythonVersion::V3_9;
const V3_10: PythonVersion = PythonVersion::V3_10;
const V3_11: PythonVersion = PythonVersion::V3_11;
const V3_12: PythonVersion = PythonVersion::V3_12;
const V3_13: PythonVersion = PythonVersion::V3_13;

/// The message and line of the first error of `src` for `v`, through the whole front end.
fn err(src: &str, v: PythonVersion) -> (String, u32) {
    let d = crate::check(src.as_bytes(), v).expect_err("should fail");
    assert_eq!(d.kind, ErrorKind::SyntaxError, "{src:?} for {v}");
    (d.message, d.line)
}

fn ok(src: &str, v: PythonVersion) {
    if let Err(d) = crate::check(src.as_bytes(), v) {
        panic!("{src:?} for {v}: {d}");
    }
}

fn e(message: &str, line: u32) -> (String, u32) {
    (message.to_string(), line)
}

#[test]
fn valid_code_passes() {
    let src = "import os\n\
               async def f(a, *b, c=1, **d):\n    \
                   async for x in a:\n        \
                       await x\n    \
                   return [y async for y in b]\n\
               def g():\n    \
                   for x in y:\n        \
                       try:\n            \
                           continue\n        \
                       finally:\n            \
                           break\n    \
                   yield from g()\n";
    for v in PythonVersion::ALL {
        ok(src, v);
    }
}

#[test]
fn outside_functions_and_loops() {
    for v in PythonVersion::ALL {
        assert_eq!(
            err("x = 1\nreturn x\n", v),
            e("'return' outside function", 2)
        );
        assert_eq!(
            err("class C:\n    yield 1\n", v),
            e("'yield' outside function", 2)
        );
        assert_eq!(
            err("def f():\n    await x\n", v),
            e("'await' outside async function", 2)
        );
        assert_eq!(
            err("for x in y:\n    class C:\n        break\n", v),
            e("'break' outside loop", 3)
        );
        assert_eq!(
            err("while x:\n    pass\nelse:\n    continue\n", v),
            e("'continue' not properly in loop", 4)
        );
        assert_eq!(
            err("def f():\n    async with x:\n        pass\n", v),
            e("'async with' outside async function", 2)
        );
        assert_eq!(
            err("async def f():\n    yield 1\n    return 2\n", v),
            e("'return' with value in async generator", 3)
        );
    }
    assert_eq!(
        err("yield from x\n", V3_12),
        e("'yield' outside function", 1)
    );
    assert_eq!(
        err("yield from x\n", V3_13),
        e("'yield from' outside function", 1)
    );
}

#[test]
fn asynchronous_comprehensions() {
    let src = "def f():\n    return [x async for x in y]\n";
    // 3.8 and 3.9 report it before compiling anything of the comprehension: at line 0.
    assert_eq!(err(src, V3_8).1, 0);
    assert_eq!(err(src, V3_10).1, 2);
    // An `await` makes the comprehension asynchronous.
    let src = "def f():\n    return [await x for x in y]\n";
    assert_eq!(
        err(src, V3_12).0,
        "asynchronous comprehension outside of an asynchronous function"
    );
    // 3.12 compiles a list comprehension inline, its outermost iterable first.
    let src = "[(lambda: (await z)) for x in (yield)]\n";
    assert_eq!(err(src, V3_11), e("'await' outside async function", 1));
    assert_eq!(err(src, V3_12), e("'yield' outside function", 1));
    // Before 3.11, an async comprehension is fine in any scope that awaits.
    let src = "[x async for x in y]\nawait z\n";
    assert_eq!(err(src, V3_10), e("'await' outside function", 2));
    assert_eq!(err(src, V3_11).1, 1);
}

#[test]
fn finally_blocks() {
    // 3.8 compiles a `finally` block before its `try` body.
    let src = "try:\n    yield\nfinally:\n    continue\n";
    assert_eq!(err(src, V3_8), e("'continue' not properly in loop", 4));
    assert_eq!(err(src, V3_9), e("'yield' outside function", 2));
    // From 3.9 leaving the `try` body compiles the `finally` block on the way out.
    let src = "try:\n    break\nfinally:\n    continue\n";
    assert_eq!(err(src, V3_9), e("'continue' not properly in loop", 4));
    // From 3.9 a `return` compiles the `finally` blocks it leaves.
    let src = "def f():\n    try:\n        return\n    finally:\n        break\n";
    assert_eq!(err(src, V3_10), e("'break' outside loop", 5));
    ok(
        "for x in y:\n    try:\n        pass\n    finally:\n        continue\n",
        V3_8,
    );
}

#[test]
fn try_statements() {
    let src = "try:\n    pass\nexcept E:\n    break\nelse:\n    continue\n";
    assert_eq!(err(src, V3_10), e("'break' outside loop", 4));
    assert_eq!(err(src, V3_11), e("'continue' not properly in loop", 6));
    // 3.8 and 3.9 report a misplaced bare `except:` at the last statement compiled.
    let src = "try:\n    x = 1\n    if x:\n        y = 2\nexcept:\n    pass\nexcept E:\n    pass\n";
    assert_eq!(err(src, V3_9), e("default 'except:' must be last", 4));
    assert_eq!(err(src, V3_10), e("default 'except:' must be last", 5));
    let star = "def f():\n    try:\n        pass\n    except* E:\n        return\n";
    let message = "'break', 'continue' and 'return' cannot appear in an except* block";
    assert_eq!(err(star, V3_11), e(message, 5));
    ok(
        "try:\n    pass\nexcept* E:\n    for x in y:\n        break\n",
        V3_13,
    );
    // Leaving a `with` first leaves the error without a line.
    let star =
        "def f():\n    try:\n        pass\n    except* E:\n        with x:\n            return\n";
    assert_eq!(err(star, V3_12), e(message, 0));
}

#[test]
fn nested_blocks() {
    let nested = |n: usize, body: &str| {
        let mut src = String::from("def f():\n");
        for i in 0..n {
            src += &format!("{}for x{i} in y:\n", "    ".repeat(i + 1));
        }
        src + &"    ".repeat(n + 1) + body + "\n"
    };
    ok(&nested(20, "pass"), V3_12);
    let message = "too many statically nested blocks";
    assert_eq!(err(&nested(21, "pass"), V3_12), e(message, 22));
    assert_eq!(err(&nested(21, "pass"), V3_8), e(message, 0));
    ok(&nested(21, "pass"), V3_13);
    // 3.13 counts the body of a generator as a block.
    assert_eq!(err(&nested(21, "yield"), V3_13), e(message, 22));
    ok(&nested(20, "yield"), V3_13);
}

#[test]
fn debug_and_starred_targets() {
    ok("import __debug__\n", V3_8);
    let message = "cannot assign to __debug__";
    for v in [V3_9, V3_13] {
        assert_eq!(err("import os, __debug__\n", v), e(message, 1));
        assert_eq!(err("def f(*, __debug__=1):\n    pass\n", v), e(message, 1));
        assert_eq!(err("x = 1\nf(__debug__=1)\n", v), e(message, 2));
        assert_eq!(
            err("match x:\n    case [*__debug__]:\n        pass\n", V3_10),
            e(message, 2)
        );
    }
    ok("del (a, __debug__)\n", V3_9);
    assert_eq!(
        err("del (a, __debug__)\n", V3_10),
        e("cannot delete __debug__", 1)
    );
    assert_eq!(
        err("*a, *b = c\n", V3_8).0,
        "two starred expressions in assignment"
    );
    assert_eq!(
        err("*a, *b = c\n", V3_9).0,
        "multiple starred expressions in assignment"
    );
    assert_eq!(
        err("for *a in b:\n    pass\n", V3_12).0,
        "starred assignment target must be in a list or tuple"
    );
    let names: Vec<String> = (0..256).map(|i| format!("a{i}")).collect();
    let src = format!("{}, *b = c\n", names.join(", "));
    assert_eq!(
        err(&src, V3_11).0,
        "too many expressions in star-unpacking assignment"
    );
}

#[test]
fn keywords_and_future_imports() {
    let src = "f(\n    a=1,\n    a=2,\n)\n";
    assert_eq!(err(src, V3_9), e("keyword argument repeated: a", 1));
    assert_eq!(err(src, V3_10), e("keyword argument repeated: a", 3));
    let src = "import os\nfrom __future__ import annotations\n";
    for v in PythonVersion::ALL {
        assert_eq!(
            err(src, v),
            e(
                "from __future__ imports must occur at the beginning of the file",
                2
            )
        );
    }
    ok(
        "\"doc\"\nfrom __future__ import annotations\nfrom __future__ import division\n",
        V3_12,
    );
}

#[test]
fn patterns() {
    let m = |cases: &str| format!("match x:\n{cases}");
    let v = V3_12;
    assert_eq!(
        err(
            &m("    case y:\n        pass\n    case 1:\n        pass\n"),
            v
        ),
        e("name capture 'y' makes remaining patterns unreachable", 2)
    );
    assert_eq!(
        err(
            &m("    case _:\n        pass\n    case _:\n        pass\n"),
            v
        ),
        e("wildcard makes remaining patterns unreachable", 2)
    );
    ok(
        &m("    case y if y:\n        pass\n    case 1 | _:\n        pass\n"),
        v,
    );
    assert_eq!(
        err(&m("    case [y, *_, y]:\n        pass\n"), v),
        e("multiple assignments to name 'y' in pattern", 2)
    );
    assert_eq!(
        err(&m("    case [y] | [z]:\n        pass\n"), v),
        e("alternative patterns bind different names", 2)
    );
    ok(&m("    case [y, z] | [z, y]:\n        pass\n"), v);
    let duplicate = |keys: &str| err(&m(&format!("    case {{{keys}}}:\n        pass\n")), v).0;
    assert_eq!(
        duplicate("1: a, True: b"),
        "mapping pattern checks duplicate key (True)"
    );
    assert_eq!(
        duplicate("1: a, 1.0: b"),
        "mapping pattern checks duplicate key (1.0)"
    );
    assert_eq!(
        duplicate("-2j: a, -2j: b"),
        "mapping pattern checks duplicate key ((-0-2j))"
    );
    assert_eq!(
        duplicate("1 + 2j: a, 1 + 2j: b"),
        "mapping pattern checks duplicate key ((1+2j))"
    );
    assert_eq!(
        duplicate("'ab': a, 'a' 'b': b"),
        "mapping pattern checks duplicate key ('ab')"
    );
    ok(
        &m("    case {1: a, '1': b, b'1': c, x.y: d, x.y: e}:\n        pass\n"),
        v,
    );
    assert_eq!(
        err(&m("    case C(a=1,\n           a=2):\n        pass\n"), v),
        e("attribute name repeated in class pattern: a", 3)
    );
}

#[test]
fn type_parameters() {
    let src = "def f[T=int, U]():\n    pass\n";
    assert_eq!(
        err(src, V3_13),
        e(
            "non-default type parameter 'U' follows default type parameter",
            1
        )
    );
    ok("def f[T, U=int, *Ts=()]():\n    pass\n", V3_13);
    assert_eq!(
        err("type A = [x async for x in y]\n", V3_12).0,
        "asynchronous comprehension outside of an asynchronous function"
    );
}
