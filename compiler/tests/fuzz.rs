//! Fuzz smoke test of the front end: decoding, parsing, the symbol table, the compiler's checks
//! and constant folding must turn any input (mutated, spliced or absurdly nested source) into a
//! result or a clear error, never a panic or a stack overflow.
//!
//! Deterministic (xorshift PRNG, fixed seed). `PYC_FUZZ_ITERS` sets the number of random cases
//! per version (default 200); `PYC_FUZZ_SEED` changes the seed.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyc_assembler::PythonVersion;
use pyc_compiler::{fold, parse, source};

/// Realistic sources to mutate: most statement and expression forms of 3.8..3.13.
const SOURCES: &[&str] = &[
    r##"import os, sys as system
from collections import defaultdict
from . import sibling

@decorator(arg=1)
class Shape(Base, metaclass=Meta):
    """A shape."""
    sides: int = 0
    __slots__ = ("a", "b")

    def __init__(self, *args, name="x", **kwargs):
        super().__init__()
        self.name = name
        self.args = [a for a in args if a is not None]

    @property
    def area(self) -> float:
        return sum(x * y for x, y in zip(self.args, self.args[1:])) or 0.0

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r:>10}, {self.area:.{2}f})"
"##,
    r##"def counter(start=0, /, step=1, *, limit=None):
    count = start
    def incr():
        nonlocal count
        count += step
        if limit is not None and count > limit:
            raise ValueError("over %d" % limit) from None
        return count
    return incr

squares = {k: k ** 2 for k in range(10) if k % 2}
pairs = [(i, j) for i in range(3) for j in range(i)]
gen = (lambda x, *y, **z: (x, y, z))(1, 2, a=3)
total = 0
while (n := len(pairs)) > total:
    total += 1
else:
    pass
x = 1 if total else -2 + ~3 << 4 | 5 & 6 ^ 7
del pairs[0], squares
assert total, "never"
global_name = not x and (x or total) is not None
"##,
    r##"async def fetch(session, urls):
    async with session.get(urls[0]) as resp, other() as o:
        data = await resp.json()
    async for item in aiter(urls):
        yield item
    results = [await f(u) async for u in urls]
    return

def gen():
    x = yield 1
    yield from range(x)

try:
    import missing
except* ImportError as eg:
    print(eg.exceptions)
except* (TypeError, ValueError):
    raise
finally:
    cleanup = True
"##,
    r##"match command.split():
    case [action]:
        pass
    case ["go", direction] | ["move", direction]:
        go(direction)
    case {"x": x, "y": y, **rest}:
        point(x, y)
    case Point(x=0, y=0) if flag:
        origin()
    case [1, 2, *others] as seq:
        print(others, seq)
    case str() | bytes():
        pass
    case -1j | 1.5 | None | True:
        pass
    case _:
        print(f"unknown {command!s}")

type Alias[T: int, *Ts, **P] = dict[T, tuple[*Ts]]

class Box[T](Generic):
    def get[U: (int, str)](self, u: U) -> T | U:
        return self.item

def outer():
    global counter
    counter = 0
    with open("f") as f, open("g") as (a, b):
        for line in f:
            if not line: continue
            elif line[0] == "#": break
    print(*args, sep="", **{"end": "\n"})
    return b'bytes' rb'\d' u'text' """doc""" f'{x=}' f"{'nested' + f'{y}'}"
"##,
    "# -*- coding: utf-8 -*-\nname = 'caf\u{e9}'\n\u{3c0} = 3.14159\nx = 0x_ff + 0o17 + 0b1 + 1_000.5e-3 + 2j\n@a.b[c]\ndef f(a, b=lambda: (yield), *, c): ...\nclass C: x: 'int'; y = [*range(3), *()]\nif __debug__: print(__debug__, ..., -(-1), +True)\n",
];

/// Fragments inserted by mutations: tokens that change nesting, scopes and tokenizer state.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    ";",
    "lambda",
    "lambda x:",
    "yield",
    "yield from",
    "await",
    "async",
    "*",
    "**",
    ":=",
    "=",
    "nonlocal x",
    "global x",
    "return",
    "break",
    "continue",
    "del",
    "def f():",
    "class C:",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "f\"",
    "f'{",
    "}",
    "b'",
    "rb\"",
    "\\",
    "\\\n",
    "\t",
    "\r",
    "\r\n",
    "\n",
    "\n    ",
    "\0",
    "\u{ff}",
    "\u{e9}",
    "\u{3c0}",
    "\u{200b}",
    "\u{1f600}",
    "# coding: latin-1\n",
    "# coding: bogus\n",
    "#",
    "@",
    "->",
    "...",
    "None",
    "__debug__",
    "match x:",
    "case _:",
    "type X = ",
    "[T]",
    "except*",
    "try:",
    "finally:",
    "else:",
    "from __future__ import annotations\n",
    "import *",
    "1_",
    "0x",
    "1e",
    "9",
    "!r",
    "!=",
    "==",
    "<>",
    ".",
    "->",
    " if ",
    " else ",
    " for x in ",
    "not ",
    "-",
];

/// Raw bytes that are not valid UTF-8 or that tokenizers treat specially.
const BYTES: &[u8] = &[
    0x00, 0xff, 0xfe, 0xc3, 0x80, 0xef, 0xbb, 0xbf, 0x0c, 0x1a, 0x7f,
];

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One random mutation of `src` in place.
fn mutate(rng: &mut Rng, src: &mut Vec<u8>) {
    let at = rng.below(src.len() + 1);
    match rng.below(7) {
        0 if at < src.len() => src[at] ^= 1 << rng.below(8),
        1 if at < src.len() => {
            let end = (at + 1 + rng.below(8)).min(src.len());
            src.drain(at..end);
        }
        2 => {
            let b = *rng.pick(BYTES);
            src.insert(at, b);
        }
        3 if at < src.len() => {
            // Duplicate a slice: repeats brackets, indentation and keywords.
            let end = (at + 1 + rng.below(40)).min(src.len());
            let piece = src[at..end].to_vec();
            src.splice(at..at, piece);
        }
        _ => {
            let token = rng.pick(TOKENS).as_bytes();
            src.splice(at..at, token.iter().copied());
        }
    }
}

/// A source built by the PRNG: a mutated source, or a splice of two.
fn random_case(rng: &mut Rng) -> Vec<u8> {
    let mut src = rng.pick(SOURCES).as_bytes().to_vec();
    if rng.below(4) == 0 {
        let other = rng.pick(SOURCES).as_bytes();
        let cut = rng.below(src.len());
        let from = rng.below(other.len());
        src.truncate(cut);
        src.extend_from_slice(&other[from..]);
    }
    // Mostly a few mutations, sometimes many: near-valid code reaches the later passes, mangled
    // code the error paths.
    let count = if rng.below(8) == 0 { 40 } else { 6 };
    for _ in 0..1 + rng.below(count) {
        mutate(rng, &mut src);
    }
    src
}

/// Sources nested or sized far beyond what real code does.
fn extreme_cases() -> Vec<(String, Vec<u8>)> {
    let n = 5000;
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("( * 5000".into(), "(".repeat(n).into_bytes()),
        (
            "( * 5000 + 1 + )".into(),
            format!("{}1{}", "(".repeat(n), ")".repeat(n)).into_bytes(),
        ),
        ("[ * 5000".into(), "[".repeat(n).into_bytes()),
        (
            "[ * 5000 + ]".into(),
            format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes(),
        ),
        ("{ * 5000".into(), "{".repeat(n).into_bytes()),
        (
            "- * 5000".into(),
            format!("x = {}1\n", "-".repeat(n)).into_bytes(),
        ),
        (
            "- * 100000".into(),
            format!("x = {}1\n", "-".repeat(100_000)).into_bytes(),
        ),
        (
            "not * 5000".into(),
            format!("x = {}1\n", "not ".repeat(n)).into_bytes(),
        ),
        (
            "await * 5000".into(),
            format!("async def f():\n return {}1\n", "await ".repeat(n)).into_bytes(),
        ),
        (
            "lambda * 5000".into(),
            format!("f = {}1\n", "lambda: ".repeat(n)).into_bytes(),
        ),
        (
            "x.a * 50000".into(),
            format!("y = x{}\n", ".a".repeat(50_000)).into_bytes(),
        ),
        (
            "f() * 20000".into(),
            format!("y = f{}\n", "()".repeat(20_000)).into_bytes(),
        ),
        (
            "x[0] * 20000".into(),
            format!("y = x{}\n", "[0]".repeat(20_000)).into_bytes(),
        ),
        (
            "1+1+... 100000".into(),
            format!("x = 1{}\n", "+1".repeat(100_000)).into_bytes(),
        ),
        (
            "'a'+... 100000".into(),
            format!("x = 'a'{}\n", "+'a'".repeat(100_000)).into_bytes(),
        ),
        (
            "1 if 1 else ... 5000".into(),
            format!("x = {}0\n", "1 if 1 else ".repeat(n)).into_bytes(),
        ),
        (
            "a<b<... 100000".into(),
            format!("x = a{}\n", "<a".repeat(100_000)).into_bytes(),
        ),
        (
            "'a' 'a' ... 100000".into(),
            format!("x = {}\n", "'a' ".repeat(100_000)).into_bytes(),
        ),
        (
            "f-string nested".into(),
            format!("x = {}1{}\n", "f'{".repeat(200), "}'".repeat(200)).into_bytes(),
        ),
        (
            "1 MB string".into(),
            format!("x = '{}'\n", "a".repeat(1 << 20)).into_bytes(),
        ),
        (
            "1 MB line".into(),
            format!("x = [{}]\n", "1,".repeat(1 << 19)).into_bytes(),
        ),
        (
            "1 MB comment".into(),
            format!("#{}\nx = 1\n", "\u{e9}".repeat(1 << 19)).into_bytes(),
        ),
        (
            "100000 lines".into(),
            "x = 1\n".repeat(100_000).into_bytes(),
        ),
        (
            "x = y = ... 20000".into(),
            format!("{}1\n", "x = ".repeat(20_000)).into_bytes(),
        ),
        (
            "del x, ... 20000".into(),
            format!("del x{}\n", ", x".repeat(20_000)).into_bytes(),
        ),
    ];
    // Just within the parser's limit: the module is returned, and dropped on this stack.
    for (name, level) in [
        ("-", "-"),
        ("not", "not "),
        ("lambda", "lambda: "),
        ("await", "await "),
    ] {
        let src = format!("async def f():\n return {}1\n", level.repeat(5990));
        cases.push((format!("{name} * 5990"), src.into_bytes()));
    }
    cases.push((
        "if-else * 5990".into(),
        format!("x = {}0\n", "1 if 1 else ".repeat(5990)).into_bytes(),
    ));
    let mut ifs = String::new();
    for depth in 0..200 {
        ifs += &format!("{}if x{depth}:\n", " ".repeat(depth));
    }
    ifs += &format!("{}pass\n", " ".repeat(200));
    cases.push(("if * 200".into(), ifs.into_bytes()));
    let mut defs = String::new();
    for depth in 0..100 {
        defs += &format!(
            "{}def f{depth}(a{depth}):\n{0} x = a{depth}\n",
            " ".repeat(depth)
        );
    }
    defs += &format!("{}return x + a0\n", " ".repeat(100));
    cases.push(("def * 100".into(), defs.into_bytes()));
    let mut classes = String::new();
    for depth in 0..100 {
        classes += &format!("{}class C{depth}:\n", " ".repeat(depth));
    }
    classes += &format!("{}x = [y for y in z]\n", " ".repeat(100));
    cases.push(("class * 100".into(), classes.into_bytes()));
    let mut comps = "x = ".to_string();
    comps += &"[".repeat(150);
    comps += "y";
    comps += &" for y in z]".repeat(150);
    cases.push(("comprehension * 150".into(), comps.into_bytes()));
    let mut tabs = String::new();
    for depth in 0..100 {
        tabs += &format!("{}if x:\n", "\t".repeat(depth));
    }
    tabs += &format!("{}pass\n", "\t".repeat(100));
    cases.push(("tab indent * 100".into(), tabs.into_bytes()));
    cases
}

/// The input for an assertion message: escaped and cut to a readable length.
fn show(src: &[u8]) -> String {
    let text = String::from_utf8_lossy(src);
    let shown: String = text.chars().take(300).collect();
    let shown = format!("{shown:?}");
    if text.chars().count() > 300 {
        format!("{shown}... ({} bytes)", src.len())
    } else {
        shown
    }
}

/// Runs the whole front end on `src` for `v`; `Err` holds the panic message or a bad error.
///
/// Errors past decoding must have a line (but see [`no_line_in_cpython`]). Decoding errors may
/// not: CPython's `compile()` gives `lineno` 0 for an unknown or failing encoding and `None` for
/// null bytes.
fn front_end(src: &[u8], v: PythonVersion) -> Result<(), String> {
    let run = catch_unwind(AssertUnwindSafe(|| {
        let checked = pyc_compiler::check(src, v);
        let decoded = source::decode(src, v);
        // Fold whatever parses, valid for the later passes or not.
        if let Ok(text) = &decoded {
            if let Ok(mut parsed) = parse::parse(text, v) {
                fold::fold(&mut parsed.module, text, v, 0);
                fold::fold(&mut parsed.module, text, v, 2);
            }
        }
        (decoded.is_ok(), checked)
    }));
    match run {
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(format!("panic: {message}"))
        }
        Ok((true, Err(d))) if d.line == 0 && !no_line_in_cpython(&d.message, v) => {
            Err(format!("{} without a line: {}", d.kind.name(), d.message))
        }
        Ok((false, Ok(_))) => Err("decoding failed but check passed".into()),
        Ok(_) => Ok(()),
    }
}

/// Errors past decoding that CPython's `compile()` too reports at line 0: 3.8 and 3.9 check a
/// comprehension's asynchrony before compiling any of it, with no line set.
fn no_line_in_cpython(message: &str, v: PythonVersion) -> bool {
    v < PythonVersion::V3_10
        && message == "asynchronous comprehension outside of an asynchronous function"
}

fn check_case(name: &str, src: &[u8], v: PythonVersion) {
    if let Err(problem) = front_end(src, v) {
        panic!(
            "{problem}\n  case {name}, Python {v}\n  input {}",
            show(src)
        );
    }
}

fn iterations() -> usize {
    std::env::var("PYC_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn seed() -> u64 {
    std::env::var("PYC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        | 1
}

#[test]
fn realistic_sources_pass_the_front_end() {
    for v in PythonVersion::ALL {
        for (i, src) in SOURCES.iter().enumerate() {
            check_case(&format!("source {i}"), src.as_bytes(), v);
        }
    }
}

#[test]
fn mutated_sources_never_panic() {
    let iters = iterations();
    for v in PythonVersion::ALL {
        let mut rng = Rng(seed() ^ u64::from(v.minor()));
        for i in 0..iters {
            let src = random_case(&mut rng);
            check_case(&format!("mutation {i}"), &src, v);
        }
    }
}

#[test]
fn extreme_nesting_and_sizes_never_overflow() {
    let cases = extreme_cases();
    // The largest cases take a while in debug builds: by default each runs for one version (in
    // turn), under `PYC_FUZZ_ITERS` for all.
    let all = std::env::var_os("PYC_FUZZ_ITERS").is_some();
    for (i, v) in PythonVersion::ALL.into_iter().enumerate() {
        for (j, (name, src)) in cases.iter().enumerate() {
            if src.len() > 20_000 && !all && j % PythonVersion::ALL.len() != i {
                continue;
            }
            // A stack overflow aborts the process: name the case first.
            eprintln!("extreme case {name}, Python {v}");
            check_case(name, src, v);
        }
    }
}
