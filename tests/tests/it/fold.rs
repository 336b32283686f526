//! Constant folding against CPython: snippets whose probed expression CPython may fold go
//! through our `fold` and through each interpreter's `compile()`. The oracle reports the
//! instruction just before the probed one (the value stored in `x`, the iterable of the
//! last `GET_ITER`, the container of the first `in` test) and, when it is a `LOAD_CONST`,
//! the constant. They agree when we fold exactly where CPython loads a constant, into an
//! equal constant (exact types, floats by bits), and where we do not fold, CPython's
//! instruction fits the node we left (a tuple for a list display under `in`, an f-string
//! for a 3.11+ `%` format, `is not` for `not ... is ...`). From 3.13, `ast.parse(optimize=)`
//! shows the AST optimizer alone: a second figure compares the whole probed expression.
//!
//! The snippets: a generated corpus (every pair of literal atoms under every binary
//! operator, unary operators, random nestings, and hand-picked edge cases: the size limits,
//! overflows, zero divisions, subscripts, `__debug__` at each optimization level, `in` and
//! `for` over displays, `%` formats, `not` over comparisons) and the expressions of the
//! standard library sample that CPython may fold. By default one pair in five and one
//! stdlib file in twelve; all of them under `PYC_SWEEP=full`.

use std::collections::HashSet;

use pyc_assembler::{Constant, PythonVersion};
use pyc_compiler::fold::{fold, Folded};
use pyc_compiler::{parse, source};
use pyc_tests::{for_each_version, full_sweep, Figure, Oracle};
use ruff_python_ast::visitor::{walk_expr, walk_stmt, Visitor};
use ruff_python_ast::{
    CmpOp, ConversionFlag, Expr, FStringPart, InterpolatedStringElement, Operator, Stmt, UnaryOp,
};
use ruff_text_size::Ranged;
use serde_json::{json, Value};

/// Where the oracle looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Probe {
    /// The value stored by the last `x = ...`.
    Store,
    /// The iterable of a `for` loop (or comprehension) ending the snippet.
    Iter,
    /// The container of the first `in`/`not in` test (in `x = ...`).
    In,
}

impl Probe {
    fn name(self) -> &'static str {
        match self {
            Probe::Store => "store",
            Probe::Iter => "iter",
            Probe::In => "in",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Snippet {
    source: String,
    probe: Probe,
    optimize: u8,
}

fn store(expr: &str) -> Snippet {
    Snippet {
        source: format!("x = {expr}\n"),
        probe: Probe::Store,
        optimize: 0,
    }
}

const ATOMS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "255",
    "9223372036854775807",
    "18446744073709551616",
    "340282366920938463463374607431768211455",
    "0x7fffffffffffffffffffffffffffffff",
    "10000000000000000000000000000000000000000000",
    "True",
    "False",
    "0.0",
    "0.5",
    "2.5",
    "0.1",
    "3.0",
    "1e16",
    "1e308",
    "1e-308",
    "5e-324",
    "1e999",
    "9007199254740993.0",
    "0j",
    "1j",
    "2.5j",
    "1e308j",
    "''",
    "'a'",
    "'abc'",
    "'\\xe9t\\xe9'",
    "'\\U0001f600'",
    "'\\udc80'",
    "'%s'",
    "b''",
    "b'ab'",
    "b'\\xff'",
    "None",
    "...",
    "()",
    "(1,)",
    "(1, 'a')",
    "((1, 2), 3)",
    "(0.5, (None,))",
];

const BINARY: &[&str] = &[
    "+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@",
];

const UNARY: &[&str] = &["-", "+", "~", "not "];

/// Hand-picked `x = ...` expressions: the limits and the corner cases of each operation.
const EDGES: &[&str] = &[
    "'a' * 4096",
    "'a' * 4097",
    "4096 * 'a'",
    "'ab' * 2048",
    "'ab' * 2049",
    "b'a' * 4096",
    "b'a' * 4097",
    "'\\U0001f600' * 4096",
    "(1,) * 256",
    "(1,) * 257",
    "(1, 2) * 128",
    "(1, 2) * 129",
    "((1, 2, 3),) * 256",
    "((1, 2, 3, 4),) * 256",
    "(((1,),),) * 341",
    "(((1,),),) * 342",
    "'' * 10**30",
    "'' * -5",
    "() * -5",
    "'ab' * -1",
    "'ab' * 0",
    "'ab' * True",
    "() * 10**18",
    "2**63 * 2**63",
    "2**64 * 2**63",
    "-2**64 * 2**64",
    "2**127 * 2",
    "2**64",
    "2**65",
    "(-2)**63",
    "(-1)**200",
    "0**200",
    "0**0",
    "1**129",
    "1**128",
    "7**45",
    "7**46",
    "2**-1",
    "0**-1",
    "(-2)**-1",
    "(-8)**(1/3)",
    "(-8.0)**0.5",
    "10**-400",
    "10.0**400",
    "2.0**-1074",
    "0.5**1074.5",
    "(-1.0)**1e300",
    "1e999**0",
    "(-1e999)**3",
    "(-1e999)**-3",
    "(-0.0)**-1",
    "(-0.0)**3",
    "1 << 127",
    "1 << 128",
    "2 << 126",
    "2 << 127",
    "-1 << 100",
    "0 << 1000",
    "0 << 10**30",
    "1 << -1",
    "1 << 0",
    "1 >> 1000",
    "-1 >> 1000",
    "-5 >> 1",
    "5 >> -1",
    "1 >> 10**30",
    "1/0",
    "1//0",
    "1%0",
    "1.0/0",
    "0.0/0.0",
    "1/0.0",
    "0/-5",
    "-0.0/5",
    "7//-2",
    "-7%2",
    "7.5//-2",
    "-7.5%2",
    "-0.0//1",
    "0.0%-1",
    "1e308/1e-308",
    "(1+2j)/0",
    "(1+2j)/(3-4j)",
    "(1e300+1e300j)/(1e-300+1e300j)",
    "1j/(0.0*1j)",
    "1j//1",
    "1j%1",
    "1/3",
    "2/3",
    "-7/2",
    "10**40/3",
    "1/2**1074",
    "1/2**1075",
    "3/2**1075",
    "12345678901234567890123456789/98765432109876543210",
    "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 + 1.0",
    "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 * 1.0",
    "9007199254740993 + 0.0",
    "9007199254740995 * 1.0",
    "18446744073709553665 * 1.0",
    "1j ** 2",
    "1j ** -1",
    "0j ** -1",
    "0j ** 0",
    "0j ** 1j",
    "(1+1j) ** 101",
    "(1+1j) ** 100",
    "(1+1j) ** -100",
    "(1+1j) ** 0.5",
    "(1+1j) ** (1+1j)",
    "2 ** 1j",
    "1e200j ** 2",
    "(1e200+1j) ** 3",
    "1j * 1j",
    "-0j + 0",
    "0 - 0j",
    "-(0j)",
    "+(-0.0)",
    "-True",
    "~False",
    "+True",
    "not 0.0",
    "not 0j",
    "not ''",
    "not ()",
    "not None",
    "not ...",
    "not 1e999",
    "-'a'",
    "~1.5",
    "~1j",
    "-(1, 2)",
    "True & True",
    "True | False",
    "True ^ True",
    "True & 1",
    "-1 & 0xff",
    "-6 | 5",
    "-1 ^ 2**100",
    "'abc'[1]",
    "'abc'[-1]",
    "'abc'[3]",
    "'abc'[-4]",
    "'abc'[True]",
    "'abc'[1.0]",
    "b'abc'[0]",
    "b'abc'[-1]",
    "(1, 2, 3)[1]",
    "(1, (2, 3))[1]",
    "((1, 2), 3)[0][1]",
    "'abc'[10**30]",
    "''[0]",
    "'\\U0001f600x'[1]",
    "'a\\udc80'[1]",
    "(1, 2)[1:]",
    "'abc'[::-1]",
    "'abc'[1, 2]",
    "None[0]",
    "1[0]",
    "{1: 2}[1]",
    "[1, 2][0]",
    "(1, 2)[-1] + 1",
    "(1, 2, (3, (4, None)), ..., 'a', b'b', 1.5, 2j, True)",
    "(1, y)",
    "((1, 2), [3])",
    "(*(1, 2), 3)",
    "(-1, +2, ~3, not 4)",
    "'a' 'b' + 'c'",
    "'\\udc80' + '\\udc00'",
    "'\\ud83d' + '\\ude00'",
    "b'a' + 'b'",
    "(1,) + [2]",
    "(1,) + (2,) * 3",
    "not (a is b)",
    "not (a is not b)",
    "not a in b",
    "not (a not in b)",
    "not a == b",
    "not a < b",
    "not (a is b is c)",
    "not not (a is b)",
    "'%s' % (a,)",
    "'%s%%' % (a,)",
    "'%d' % (a,)",
    "'%s %r %a' % (a, b, c)",
    "'%-5.2s|%5s|%.3r|%.s' % (a, b, c, d)",
    "'%+ #0s' % (a,)",
    "'%s' % (a, b)",
    "'%s %s' % (a,)",
    "'%s' % (*a,)",
    "'%zs' % (a,)",
    "'%99s' % (a,)",
    "'%100s' % (a,)",
    "'%.99r' % (a,)",
    "'%(k)s' % (a,)",
    "'%s' % (a, 1)",
    "'%s%s' % (1 + 1, a)",
    "'x' % (a,)",
    "'' % (a,)",
    "'%%' % (a,)",
    "'%' % (a,)",
    "'%s' % (1, 2)",
    "'%s' % ()",
    "b'%s' % (a,)",
    "'%c' % (a,)",
    "'%s' % a",
    "'\\udc80%s' % (a,)",
    "f'{a}' % (b,)",
];

/// `x = <container>` expressions whose `in` test the oracle probes.
const IN_EDGES: &[&str] = &[
    "a in [1, 2, 3]",
    "a not in [1, 2]",
    "a in {1, 2}",
    "a in {1, 1.0, True, 'a'}",
    "a in {0, 0.0, -0.0, 0j, False}",
    "a in [b, 1]",
    "a in {b, 1}",
    "a in [*b]",
    "a in {*b, 1}",
    "a in []",
    "a in [[1], 2]",
    "a in [(1, 2), 3]",
    "a in ((1,), 2)",
    "a in [__debug__]",
    "a in {-1, 2**64}",
    "a in ['a' * 3]",
    "a in [1, (2, [3])]",
    "a in {(1, 2), (1, 2)}",
    "a in {'a', b'a'}",
    "a in {1e999 - 1e999, 1e999 - 1e999}",
];

/// Loops and comprehensions whose iterable the oracle probes.
const ITER_EDGES: &[&str] = &[
    "for _ in [1, 2]: pass",
    "for _ in {1, 2}: pass",
    "for _ in [a, 1]: pass",
    "for _ in [*a, 1]: pass",
    "for _ in []: pass",
    "for _ in [(1, 2), [3]]: pass",
    "for _ in {a}: pass",
    "for _ in (1, 2): pass",
    "for _ in [1] * 3: pass",
    "for _ in [-1, 'a' + 'b']: pass",
    "x = [i for i in [1, 2, 3]]",
    "x = {i for i in {1, 2}}",
    "x = [i for i in [a, b]]",
    "x = (i for i in [1, 2])",
    "x = {i: 0 for i in [1, [2]]}",
];

/// A small deterministic generator for the random nestings.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn expr(&mut self, depth: u32) -> String {
        match (depth, self.below(4)) {
            (0, _) | (_, 0) => ATOMS[self.below(ATOMS.len())].to_string(),
            (_, 1) => format!(
                "{}({})",
                UNARY[self.below(UNARY.len())],
                self.expr(depth - 1)
            ),
            (_, 2) => format!("({}, {})", self.expr(depth - 1), self.expr(depth - 1)),
            _ => format!(
                "({}) {} ({})",
                self.expr(depth - 1),
                BINARY[self.below(BINARY.len())],
                self.expr(depth - 1)
            ),
        }
    }
}

fn generated() -> Vec<Snippet> {
    let stride = if full_sweep() { 1 } else { 5 };
    let mut out = Vec::new();
    let mut n = 0usize;
    for a in ATOMS {
        for op in BINARY {
            for b in ATOMS {
                n += 1;
                if n.is_multiple_of(stride) {
                    out.push(store(&format!("{a} {op} {b}")));
                }
            }
        }
        for op in UNARY {
            out.push(store(&format!("{op}{a}")));
        }
    }
    let mut rng = Lcg(0x5eed);
    for _ in 0..3000 / stride {
        out.push(store(&rng.expr(3)));
    }
    out.extend(EDGES.iter().map(|e| store(e)));
    for expr in [
        "__debug__",
        "not __debug__",
        "__debug__ + 1",
        "(__debug__, 1)",
    ] {
        for optimize in 0..=2 {
            out.push(Snippet {
                optimize,
                ..store(expr)
            });
        }
    }
    out.extend(IN_EDGES.iter().map(|e| Snippet {
        probe: Probe::In,
        ..store(e)
    }));
    out.extend(ITER_EDGES.iter().map(|s| Snippet {
        source: format!("{s}\n"),
        probe: Probe::Iter,
        optimize: 0,
    }));
    out
}

/// Whether CPython may fold this expression: literals (or `__debug__`) under operators,
/// tuples and subscripts, and not a bare literal.
fn constant_built(e: &Expr) -> bool {
    match e {
        Expr::UnaryOp(u) => constant_built(&u.operand),
        Expr::BinOp(b) => constant_built(&b.left) && constant_built(&b.right),
        Expr::Tuple(t) => t.elts.iter().all(constant_built),
        Expr::Subscript(s) => constant_built(&s.value) && constant_built(&s.slice),
        Expr::Name(n) => n.id.as_str() == "__debug__",
        other => pyc_compiler::fold::is_literal(other),
    }
}

/// Collects the snippets of a standard-library module.
struct Extract<'a> {
    text: &'a str,
    out: &'a mut HashSet<Snippet>,
}

impl Extract<'_> {
    fn add(&mut self, probe: Probe, e: &Expr) {
        let Some(text) = self
            .text
            .get(e.range().start().to_usize()..e.range().end().to_usize())
        else {
            return;
        };
        let source = match probe {
            Probe::Store => format!("x = (\n{text}\n)\n"),
            Probe::In => format!("x = _ in (\n{text}\n)\n"),
            Probe::Iter => format!("for _ in (\n{text}\n): pass\n"),
        };
        self.out.insert(Snippet {
            source,
            probe,
            optimize: 0,
        });
    }
}

impl<'a> Visitor<'a> for Extract<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if let Stmt::For(f) = stmt {
            if matches!(*f.iter, Expr::List(_) | Expr::Set(_)) {
                self.add(Probe::Iter, &f.iter);
            }
        }
        walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, e: &'a Expr) {
        if constant_built(e) {
            if !pyc_compiler::fold::is_literal(e) {
                self.add(Probe::Store, e);
            }
            return;
        }
        match e {
            Expr::Compare(c) => {
                if let (Some(CmpOp::In | CmpOp::NotIn), Some(last)) =
                    (c.ops.last(), c.comparators.last())
                {
                    if matches!(last, Expr::List(_) | Expr::Set(_)) {
                        self.add(Probe::In, last);
                    }
                }
            }
            Expr::BinOp(b)
                if b.op == Operator::Mod
                    && matches!(*b.left, Expr::StringLiteral(_))
                    && matches!(*b.right, Expr::Tuple(_)) =>
            {
                self.add(Probe::Store, e);
            }
            Expr::UnaryOp(u) if u.op == UnaryOp::Not && matches!(*u.operand, Expr::Compare(_)) => {
                self.add(Probe::Store, e);
            }
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                let generators = match e {
                    Expr::ListComp(c) => &c.generators,
                    Expr::SetComp(c) => &c.generators,
                    Expr::DictComp(c) => &c.generators,
                    Expr::Generator(c) => &c.generators,
                    _ => unreachable!(),
                };
                if matches!(generators[0].iter, Expr::List(_) | Expr::Set(_)) {
                    self.add(Probe::Iter, &generators[0].iter);
                }
            }
            _ => {}
        }
        walk_expr(self, e);
    }
}

/// The stdlib sample's snippets, deduplicated and sorted.
fn from_stdlib(oracle: &mut Oracle) -> Vec<Snippet> {
    let v = oracle.version;
    let mut found = HashSet::new();
    for path in oracle.stdlib_corpus(12) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(text) = source::decode(&bytes, v) else {
            continue;
        };
        let Ok(parsed) = parse::parse(&text, v) else {
            continue;
        };
        let mut extract = Extract {
            text: &text,
            out: &mut found,
        };
        extract.visit_body(&parsed.module.body);
    }
    let mut out: Vec<Snippet> = found.into_iter().collect();
    out.sort_by(|a, b| (&a.source, a.probe.name()).cmp(&(&b.source, b.probe.name())));
    out
}

/// A constant as the oracle writes it (`tagged` in the worker).
fn tagged(c: &Constant) -> Value {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    match c {
        Constant::None => json!(["None"]),
        Constant::Ellipsis => json!(["Ellipsis"]),
        Constant::Bool(b) => json!(["bool", b]),
        Constant::Int(i) => {
            let digits = i.to_str_radix(16);
            let text = match digits.strip_prefix('-') {
                Some(rest) => format!("-0x{rest}"),
                None => format!("0x{digits}"),
            };
            json!(["int", text])
        }
        Constant::Float(f) => json!(["float", hex(&f.to_le_bytes())]),
        Constant::Complex { re, im } => {
            json!(["complex", hex(&re.to_le_bytes()), hex(&im.to_le_bytes())])
        }
        Constant::Str(s) => json!(["str", hex(s.as_bytes())]),
        Constant::Bytes(b) => json!(["bytes", hex(b)]),
        Constant::Tuple(items) => json!(["tuple", items.iter().map(tagged).collect::<Vec<_>>()]),
        Constant::FrozenSet(items) => {
            json!(["frozenset", items.iter().map(tagged).collect::<Vec<_>>()])
        }
        other => json!(["other", other.type_name()]),
    }
}

/// Sorts the members of every frozenset, so that equal sets compare equal.
fn normalise(v: &mut Value) {
    if let Value::Array(items) = v {
        let is_set = items.first().and_then(Value::as_str) == Some("frozenset");
        for item in items.iter_mut() {
            normalise(item);
        }
        if is_set {
            if let Some(Value::Array(members)) = items.get_mut(1) {
                members.sort_by_key(|m| m.to_string());
            }
        }
    }
}

fn operator_name(op: Operator) -> &'static str {
    match op {
        Operator::Add => "Add",
        Operator::Sub => "Sub",
        Operator::Mult => "Mult",
        Operator::MatMult => "MatMult",
        Operator::Div => "Div",
        Operator::Mod => "Mod",
        Operator::Pow => "Pow",
        Operator::LShift => "LShift",
        Operator::RShift => "RShift",
        Operator::BitOr => "BitOr",
        Operator::BitXor => "BitXor",
        Operator::BitAnd => "BitAnd",
        Operator::FloorDiv => "FloorDiv",
    }
}

fn cmp_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "Eq",
        CmpOp::NotEq => "NotEq",
        CmpOp::Lt => "Lt",
        CmpOp::LtE => "LtE",
        CmpOp::Gt => "Gt",
        CmpOp::GtE => "GtE",
        CmpOp::Is => "Is",
        CmpOp::IsNot => "IsNot",
        CmpOp::In => "In",
        CmpOp::NotIn => "NotIn",
    }
}

/// Our folded expression in the form of the oracle's `shape`.
fn shape(e: &Expr, folded: &Folded, src: &str) -> Value {
    if let Some(c) = folded.value(e, src) {
        return json!(["const", tagged(&c)]);
    }
    let many = |es: &[Expr]| es.iter().map(|x| shape(x, folded, src)).collect::<Vec<_>>();
    match e {
        Expr::Name(n) => json!(["name", n.id.as_str()]),
        Expr::BinOp(b) => json!([
            "binop",
            operator_name(b.op),
            shape(&b.left, folded, src),
            shape(&b.right, folded, src)
        ]),
        Expr::UnaryOp(u) => {
            let op = match u.op {
                UnaryOp::Invert => "Invert",
                UnaryOp::Not => "Not",
                UnaryOp::UAdd => "UAdd",
                UnaryOp::USub => "USub",
            };
            json!(["unary", op, shape(&u.operand, folded, src)])
        }
        Expr::BoolOp(b) => {
            let op = if b.op == ruff_python_ast::BoolOp::And {
                "And"
            } else {
                "Or"
            };
            json!(["boolop", op, many(&b.values)])
        }
        Expr::Compare(c) => json!([
            "compare",
            c.ops.iter().map(|o| cmp_name(*o)).collect::<Vec<_>>(),
            shape(&c.left, folded, src),
            many(&c.comparators)
        ]),
        Expr::Tuple(t) => json!(["tuple", many(&t.elts)]),
        Expr::List(l) => json!(["list", many(&l.elts)]),
        Expr::Set(s) => json!(["set", many(&s.elts)]),
        Expr::Subscript(s) => json!([
            "subscript",
            shape(&s.value, folded, src),
            shape(&s.slice, folded, src)
        ]),
        Expr::Slice(s) => {
            let part =
                |p: &Option<Box<Expr>>| p.as_deref().map_or(Value::Null, |x| shape(x, folded, src));
            json!(["slice", part(&s.lower), part(&s.upper), part(&s.step)])
        }
        Expr::Starred(s) => json!(["starred", shape(&s.value, folded, src)]),
        Expr::FString(f) => {
            let exact = folded.format_literals(f);
            let mut literals = exact.map(|l| l.iter());
            let mut values = Vec::new();
            let mut text: Vec<u8> = Vec::new();
            let flush = |text: &mut Vec<u8>, values: &mut Vec<Value>| {
                if !text.is_empty() {
                    let s = pyc_assembler::PyStr::from_marshal_bytes(text).expect("valid text");
                    values.push(json!(["const", tagged(&Constant::Str(s))]));
                    text.clear();
                }
            };
            for part in f.value.iter() {
                match part {
                    FStringPart::Literal(s) => text.extend_from_slice(s.value.as_bytes()),
                    FStringPart::FString(fs) => {
                        for element in fs.elements.iter() {
                            match element {
                                InterpolatedStringElement::Literal(l) => {
                                    match literals.as_mut().and_then(Iterator::next) {
                                        Some(exact) => text.extend_from_slice(exact.as_bytes()),
                                        None => text.extend_from_slice(l.value.as_bytes()),
                                    }
                                }
                                InterpolatedStringElement::Interpolation(i) => {
                                    let mut conversion = match i.conversion {
                                        ConversionFlag::None => -1,
                                        other => i64::from(other.to_byte().unwrap_or(0)),
                                    };
                                    if let Some(debug) = &i.debug_text {
                                        text.extend_from_slice(debug.as_str().as_bytes());
                                        if conversion == -1 && i.format_spec.is_none() {
                                            conversion = i64::from(b'r');
                                        }
                                    }
                                    flush(&mut text, &mut values);
                                    let spec = i.format_spec.as_deref().map_or(Value::Null, |s| {
                                        let mut spec_text = String::new();
                                        for el in s.elements.iter() {
                                            match el {
                                                InterpolatedStringElement::Literal(l) => {
                                                    spec_text.push_str(&l.value)
                                                }
                                                InterpolatedStringElement::Interpolation(_) => {
                                                    return json!(["joined"]);
                                                }
                                            }
                                        }
                                        json!(["const", tagged(&Constant::str(&spec_text))])
                                    });
                                    values.push(json!([
                                        "formatted",
                                        shape(&i.expression, folded, src),
                                        conversion,
                                        spec
                                    ]));
                                }
                            }
                        }
                    }
                }
            }
            flush(&mut text, &mut values);
            json!(["joined", values])
        }
        Expr::Call(c) => json!(["call", shape(&c.func, folded, src), many(&c.arguments.args)]),
        Expr::Attribute(a) => json!(["attribute", shape(&a.value, folded, src), a.attr.as_str()]),
        Expr::Lambda(_) => json!(["Lambda"]),
        Expr::If(_) => json!(["IfExp"]),
        Expr::Dict(_) => json!(["Dict"]),
        Expr::ListComp(_) => json!(["ListComp"]),
        Expr::SetComp(_) => json!(["SetComp"]),
        Expr::DictComp(_) => json!(["DictComp"]),
        Expr::Generator(_) => json!(["GeneratorExp"]),
        Expr::Named(_) => json!(["NamedExpr"]),
        Expr::Await(_) => json!(["Await"]),
        Expr::Yield(_) => json!(["Yield"]),
        Expr::YieldFrom(_) => json!(["YieldFrom"]),
        _ => json!(["?"]),
    }
}

/// Whether CPython's instruction before the probe fits the (unfolded) node we left.
fn op_fits(e: &Expr, op: &str) -> bool {
    match e {
        Expr::FString(_) => matches!(
            op,
            "FORMAT_VALUE" | "BUILD_STRING" | "FORMAT_SIMPLE" | "FORMAT_WITH_SPEC"
        ),
        Expr::BinOp(_) => {
            op.starts_with("BINARY_") && op != "BINARY_SUBSCR" && op != "BINARY_SLICE"
        }
        Expr::UnaryOp(u) => match u.op {
            // 3.13 turns `not not x` into `TO_BOOL`.
            UnaryOp::Not => matches!(op, "UNARY_NOT" | "TO_BOOL"),
            UnaryOp::USub => op == "UNARY_NEGATIVE",
            UnaryOp::Invert => op == "UNARY_INVERT",
            UnaryOp::UAdd => matches!(op, "UNARY_POSITIVE" | "CALL_INTRINSIC_1"),
        },
        Expr::Compare(c) if c.ops.len() == 1 => match c.ops[0] {
            CmpOp::Is | CmpOp::IsNot => matches!(op, "IS_OP" | "COMPARE_OP"),
            CmpOp::In | CmpOp::NotIn => matches!(op, "CONTAINS_OP" | "COMPARE_OP"),
            _ => op == "COMPARE_OP",
        },
        // Past 30 items codegen builds a list and converts it (3.9+).
        Expr::Tuple(t) if !t.elts.is_empty() && !t.elts.iter().any(Expr::is_starred_expr) => {
            matches!(op, "BUILD_TUPLE" | "LIST_TO_TUPLE" | "CALL_INTRINSIC_1")
        }
        Expr::Subscript(_) => matches!(op, "BINARY_SUBSCR" | "BINARY_SLICE"),
        Expr::List(_) => matches!(
            op,
            "BUILD_LIST" | "LIST_EXTEND" | "LIST_APPEND" | "BUILD_LIST_UNPACK"
        ),
        Expr::Set(_) => matches!(
            op,
            "BUILD_SET" | "SET_UPDATE" | "SET_ADD" | "BUILD_SET_UNPACK"
        ),
        _ => true,
    }
}

/// The probed expressions of our folded snippet: the one the bytecode probe sees, and the
/// one the oracle's AST shape covers.
fn probed(body: &[Stmt], probe: Probe) -> Option<(&Expr, &Expr)> {
    let assigned = || {
        body.iter().rev().find_map(|s| match s {
            Stmt::Assign(a)
                if a.targets
                    .iter()
                    .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == "x")) =>
            {
                Some(&*a.value)
            }
            _ => None,
        })
    };
    match probe {
        Probe::Store => assigned().map(|e| (e, e)),
        Probe::In => {
            let value = assigned()?;
            let Expr::Compare(c) = value else {
                return None;
            };
            let first = c
                .ops
                .iter()
                .position(|o| matches!(o, CmpOp::In | CmpOp::NotIn))?;
            Some((&c.comparators[first], value))
        }
        Probe::Iter => {
            let iter = body.iter().find_map(|s| match s {
                Stmt::For(f) => Some(&*f.iter),
                _ => None,
            });
            let iter = iter.or_else(|| match assigned()? {
                Expr::ListComp(c) => Some(&c.generators[0].iter),
                Expr::SetComp(c) => Some(&c.generators[0].iter),
                Expr::DictComp(c) => Some(&c.generators[0].iter),
                Expr::Generator(c) => Some(&c.generators[0].iter),
                _ => None,
            })?;
            Some((iter, iter))
        }
    }
}

/// Parses and folds a snippet as `v` at `optimize`.
fn ours(
    snippet: &Snippet,
    v: PythonVersion,
    optimize: u8,
) -> Result<(ruff_python_ast::ModModule, Folded), String> {
    let mut parsed = parse::parse(&snippet.source, v).map_err(|d| format!("we reject it: {d}"))?;
    let folded = fold(&mut parsed.module, &snippet.source, v, optimize);
    Ok((parsed.module, folded))
}

/// Compares one snippet's bytecode probe; `Ok` when we agree.
fn compare_bytecode(snippet: &Snippet, v: PythonVersion, theirs: &Value) -> Result<(), String> {
    let (module, folded) = ours(snippet, v, snippet.optimize)?;
    let (node, _) = probed(&module.body, snippet.probe).ok_or("nothing to probe")?;
    let mut our_const = folded
        .value(node, &snippet.source)
        .map(|c| tagged(&c))
        .unwrap_or(Value::Null);
    let mut their_const = theirs["const"].clone();
    normalise(&mut our_const);
    normalise(&mut their_const);
    let op = theirs["op"].as_str().unwrap_or("");
    if our_const != their_const {
        return Err(format!(
            "CPython loads {their_const} ({op}); we fold {our_const}"
        ));
    }
    if our_const.is_null() && !op_fits(node, op) {
        return Err(format!(
            "CPython ends with {op}; we leave {}",
            shape(node, &folded, &snippet.source)
        ));
    }
    Ok(())
}

/// Compares one snippet's AST shape (3.13+).
fn compare_ast(snippet: &Snippet, v: PythonVersion, theirs: &Value) -> Result<(), String> {
    let (module, folded) = ours(snippet, v, snippet.optimize.max(1))?;
    let (_, node) = probed(&module.body, snippet.probe).ok_or("nothing to probe")?;
    let mut our_shape = shape(node, &folded, &snippet.source);
    let mut their_shape = theirs.clone();
    normalise(&mut our_shape);
    normalise(&mut their_shape);
    if our_shape == their_shape {
        Ok(())
    } else {
        Err(format!("CPython's AST {their_shape}; ours {our_shape}"))
    }
}

#[test]
fn constant_folding_matches_cpython() {
    let generated = generated();
    for v in pyc_tests::versions() {
        if !v.folds_constants_in_ast() {
            eprintln!("skipped {v}: its constant folding is the flow-graph optimizer's");
        }
    }
    for_each_version(|oracle| {
        if !oracle.version.folds_constants_in_ast() {
            return;
        }
        let v = oracle.version;
        let mut snippets = generated.clone();
        let stdlib = from_stdlib(oracle);
        let from_stdlib = stdlib.len();
        snippets.extend(stdlib);
        let mut figure = Figure::new("fold", v);
        let mut ast_figure = Figure::new("fold-ast", v);
        let mut refused = 0;
        for chunk in snippets.chunks(400) {
            let request: Vec<Value> = chunk
                .iter()
                .map(|s| json!({"source": s.source, "probe": s.probe.name(), "optimize": s.optimize}))
                .collect();
            let reply = oracle.request(json!({"op": "fold", "snippets": request}));
            let results = reply["results"].as_array().expect("results");
            assert_eq!(results.len(), chunk.len(), "one result per snippet");
            for (snippet, theirs) in chunk.iter().zip(results) {
                if theirs.get("error").is_some() {
                    refused += 1;
                    continue;
                }
                let label = |why: String| {
                    format!(
                        "{:?} (-O{}): {why}",
                        snippet.source.trim_end(),
                        snippet.optimize
                    )
                };
                figure.record(compare_bytecode(snippet, v, theirs).map_err(label));
                if let Some(shape) = theirs.get("ast") {
                    ast_figure.record(compare_ast(snippet, v, shape).map_err(label));
                }
            }
        }
        println!(
            "fold {v}: {}/{} expressions equal ({} generated, {from_stdlib} from the standard library, {refused} refused by CPython's compile)",
            figure.matched,
            figure.total,
            generated.len(),
        );
        figure.check();
        if ast_figure.total > 0 {
            println!(
                "fold-ast {v}: {}/{} expressions equal",
                ast_figure.matched, ast_figure.total
            );
            ast_figure.check();
        }
    });
}
