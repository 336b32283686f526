//! Expressions back to source text as CPython's `_PyAST_ExprAsUnicode` (`Python/ast_unparse.c`)
//! writes them: the strings annotations become under `from __future__ import annotations`.

use pyc_assembler::{repr, Constant, PythonVersion};
use ruff_python_ast::{self as ast, BoolOp, CmpOp, Expr, Operator, UnaryOp};

use crate::fold::literal;

// Priority levels (`PR_*`).
const TUPLE: u8 = 0;
const TEST: u8 = 1;
const OR: u8 = 2;
const AND: u8 = 3;
const NOT: u8 = 4;
const CMP: u8 = 5;
const EXPR: u8 = 6;
const BOR: u8 = EXPR;
const BXOR: u8 = 7;
const BAND: u8 = 8;
const SHIFT: u8 = 9;
const ARITH: u8 = 10;
const TERM: u8 = 11;
const FACTOR: u8 = 12;
const POWER: u8 = 13;
const AWAIT: u8 = 14;
const ATOM: u8 = 15;

/// The text of `e` (at the `PR_TEST` level), or `None` for what this unparser does not
/// handle yet (f-strings).
pub fn unparse(e: &Expr, source: &str, v: PythonVersion) -> Option<String> {
    let mut w = Writer {
        out: String::new(),
        source,
        v,
    };
    w.expr(e, TEST)?;
    Some(w.out)
}

struct Writer<'s> {
    out: String,
    source: &'s str,
    v: PythonVersion,
}

impl Writer<'_> {
    fn s(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn open(&mut self, cond: bool) {
        if cond {
            self.out.push('(');
        }
    }

    fn close(&mut self, cond: bool) {
        if cond {
            self.out.push(')');
        }
    }

    fn repr(&mut self, c: &Constant) {
        let text = repr::repr(c, self.v);
        if matches!(c, Constant::Float(_) | Constant::Complex { .. }) {
            self.out.push_str(&text.replace("inf", "1e309"));
        } else {
            self.out.push_str(&text);
        }
    }

    fn constant(&mut self, c: &Constant) {
        match c {
            Constant::Ellipsis => self.s("..."),
            Constant::Tuple(items) => {
                self.s("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.s(", ");
                    }
                    self.repr(item);
                }
                if items.len() == 1 {
                    self.s(",");
                }
                self.s(")");
            }
            c => self.repr(c),
        }
    }

    fn seq(&mut self, items: &[Expr], level: u8) -> Option<()> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.s(", ");
            }
            self.expr(item, level)?;
        }
        Some(())
    }

    fn expr(&mut self, e: &Expr, level: u8) -> Option<()> {
        match e {
            Expr::BoolOp(b) => {
                let (op, pr) = match b.op {
                    BoolOp::And => (" and ", AND),
                    BoolOp::Or => (" or ", OR),
                };
                self.open(level > pr);
                for (i, value) in b.values.iter().enumerate() {
                    if i > 0 {
                        self.s(op);
                    }
                    self.expr(value, pr + 1)?;
                }
                self.close(level > pr);
            }
            Expr::BinOp(b) => {
                let (op, pr) = match b.op {
                    Operator::Add => (" + ", ARITH),
                    Operator::Sub => (" - ", ARITH),
                    Operator::Mult => (" * ", TERM),
                    Operator::MatMult => (" @ ", TERM),
                    Operator::Div => (" / ", TERM),
                    Operator::Mod => (" % ", TERM),
                    Operator::LShift => (" << ", SHIFT),
                    Operator::RShift => (" >> ", SHIFT),
                    Operator::BitOr => (" | ", BOR),
                    Operator::BitXor => (" ^ ", BXOR),
                    Operator::BitAnd => (" & ", BAND),
                    Operator::FloorDiv => (" // ", TERM),
                    Operator::Pow => (" ** ", POWER),
                };
                let rassoc = u8::from(b.op == Operator::Pow);
                self.open(level > pr);
                self.expr(&b.left, pr + rassoc)?;
                self.s(op);
                self.expr(&b.right, pr + 1 - rassoc)?;
                self.close(level > pr);
            }
            Expr::UnaryOp(u) => {
                let (op, pr) = match u.op {
                    UnaryOp::Invert => ("~", FACTOR),
                    UnaryOp::Not => ("not ", NOT),
                    UnaryOp::UAdd => ("+", FACTOR),
                    UnaryOp::USub => ("-", FACTOR),
                };
                self.open(level > pr);
                self.s(op);
                self.expr(&u.operand, pr)?;
                self.close(level > pr);
            }
            Expr::Lambda(l) => {
                self.open(level > TEST);
                let positional = l
                    .parameters
                    .as_ref()
                    .is_some_and(|p| !p.args.is_empty() || !p.posonlyargs.is_empty());
                self.s(if positional { "lambda " } else { "lambda" });
                if let Some(p) = &l.parameters {
                    self.parameters(p)?;
                }
                self.s(": ");
                self.expr(&l.body, TEST)?;
                self.close(level > TEST);
            }
            Expr::If(i) => {
                self.open(level > TEST);
                self.expr(&i.body, TEST + 1)?;
                self.s(" if ");
                self.expr(&i.test, TEST + 1)?;
                self.s(" else ");
                self.expr(&i.orelse, TEST)?;
                self.close(level > TEST);
            }
            Expr::Dict(d) => {
                self.s("{");
                for (i, item) in d.items.iter().enumerate() {
                    if i > 0 {
                        self.s(", ");
                    }
                    match &item.key {
                        Some(k) => {
                            self.expr(k, TEST)?;
                            self.s(": ");
                            self.expr(&item.value, TEST)?;
                        }
                        None => {
                            self.s("**");
                            self.expr(&item.value, EXPR)?;
                        }
                    }
                }
                self.s("}");
            }
            Expr::Set(s) => {
                self.s("{");
                self.seq(&s.elts, TEST)?;
                self.s("}");
            }
            Expr::ListComp(c) => {
                self.s("[");
                self.expr(&c.elt, TEST)?;
                self.comprehensions(&c.generators)?;
                self.s("]");
            }
            Expr::SetComp(c) => {
                self.s("{");
                self.expr(&c.elt, TEST)?;
                self.comprehensions(&c.generators)?;
                self.s("}");
            }
            Expr::DictComp(c) => {
                self.s("{");
                self.expr(c.key.as_deref()?, TEST)?;
                self.s(": ");
                self.expr(&c.value, TEST)?;
                self.comprehensions(&c.generators)?;
                self.s("}");
            }
            Expr::Generator(g) => self.genexp(g)?,
            Expr::Await(a) => {
                self.open(level > AWAIT);
                self.s("await ");
                self.expr(&a.value, ATOM)?;
                self.close(level > AWAIT);
            }
            Expr::Yield(y) => match &y.value {
                None => self.s("(yield)"),
                Some(value) => {
                    self.s("(yield ");
                    self.expr(value, TEST)?;
                    self.s(")");
                }
            },
            Expr::YieldFrom(y) => {
                self.s("(yield from ");
                self.expr(&y.value, TEST)?;
                self.s(")");
            }
            Expr::Compare(c) => {
                self.open(level > CMP);
                self.expr(&c.left, CMP + 1)?;
                for (op, right) in c.ops.iter().zip(c.comparators.iter()) {
                    self.s(match op {
                        CmpOp::Eq => " == ",
                        CmpOp::NotEq => " != ",
                        CmpOp::Lt => " < ",
                        CmpOp::LtE => " <= ",
                        CmpOp::Gt => " > ",
                        CmpOp::GtE => " >= ",
                        CmpOp::Is => " is ",
                        CmpOp::IsNot => " is not ",
                        CmpOp::In => " in ",
                        CmpOp::NotIn => " not in ",
                    });
                    self.expr(right, CMP + 1)?;
                }
                self.close(level > CMP);
            }
            Expr::Call(c) => {
                self.expr(&c.func, ATOM)?;
                let args = &c.arguments;
                if let ([Expr::Generator(g)], []) = (&*args.args, &*args.keywords) {
                    return self.genexp(g);
                }
                self.s("(");
                let mut first = true;
                for a in args.args.iter() {
                    if !first {
                        self.s(", ");
                    }
                    first = false;
                    self.expr(a, TEST)?;
                }
                for k in args.keywords.iter() {
                    if !first {
                        self.s(", ");
                    }
                    first = false;
                    match &k.arg {
                        None => self.s("**"),
                        Some(name) => {
                            self.s(name.as_str());
                            self.s("=");
                        }
                    }
                    self.expr(&k.value, TEST)?;
                }
                self.s(")");
            }
            Expr::FString(_) | Expr::TString(_) | Expr::IpyEscapeCommand(_) => return None,
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => {
                let c = literal(e, self.source)?;
                self.constant(&c);
            }
            Expr::Attribute(a) => {
                self.expr(&a.value, ATOM)?;
                let int = matches!(
                    &*a.value,
                    Expr::NumberLiteral(ast::ExprNumberLiteral {
                        value: ast::Number::Int(_),
                        ..
                    })
                );
                self.s(if int { " ." } else { "." });
                self.s(a.attr.as_str());
            }
            Expr::Subscript(s) => {
                self.expr(&s.value, ATOM)?;
                self.s("[");
                self.expr(&s.slice, TUPLE)?;
                self.s("]");
            }
            Expr::Starred(s) => {
                self.s("*");
                self.expr(&s.value, EXPR)?;
            }
            Expr::Slice(s) => {
                if let Some(lower) = &s.lower {
                    self.expr(lower, TEST)?;
                }
                self.s(":");
                if let Some(upper) = &s.upper {
                    self.expr(upper, TEST)?;
                }
                if let Some(step) = &s.step {
                    self.s(":");
                    self.expr(step, TEST)?;
                }
            }
            Expr::Name(n) => self.s(n.id.as_str()),
            Expr::List(l) => {
                self.s("[");
                self.seq(&l.elts, TEST)?;
                self.s("]");
            }
            Expr::Tuple(t) => {
                if t.elts.is_empty() {
                    self.s("()");
                    return Some(());
                }
                self.open(level > TUPLE);
                self.seq(&t.elts, TEST)?;
                if t.elts.len() == 1 {
                    self.s(",");
                }
                self.close(level > TUPLE);
            }
            Expr::Named(n) => {
                self.open(level > TUPLE);
                self.expr(&n.target, ATOM)?;
                self.s(":=");
                self.expr(&n.value, ATOM)?;
                self.close(level > TUPLE);
            }
        }
        Some(())
    }

    fn genexp(&mut self, g: &ast::ExprGenerator) -> Option<()> {
        self.s("(");
        self.expr(&g.elt, TEST)?;
        self.comprehensions(&g.generators)?;
        self.s(")");
        Some(())
    }

    fn comprehensions(&mut self, gens: &[ast::Comprehension]) -> Option<()> {
        for g in gens {
            self.s(if g.is_async { " async for " } else { " for " });
            self.expr(&g.target, TUPLE)?;
            self.s(" in ");
            self.expr(&g.iter, TEST + 1)?;
            for cond in &g.ifs {
                self.s(" if ");
                self.expr(cond, TEST + 1)?;
            }
        }
        Some(())
    }

    fn parameter(&mut self, p: &ast::Parameter) -> Option<()> {
        self.s(p.name.as_str());
        if let Some(a) = &p.annotation {
            self.s(": ");
            self.expr(a, TEST)?;
        }
        Some(())
    }

    fn parameters(&mut self, p: &ast::Parameters) -> Option<()> {
        let mut first = true;
        let mut sep = |w: &mut Self| {
            if !first {
                w.s(", ");
            }
            first = false;
        };
        let posonly = p.posonlyargs.len();
        for (i, a) in p.posonlyargs.iter().chain(p.args.iter()).enumerate() {
            sep(self);
            self.parameter(&a.parameter)?;
            if let Some(d) = &a.default {
                self.s("=");
                self.expr(d, TEST)?;
            }
            if posonly > 0 && i + 1 == posonly {
                self.s(", /");
            }
        }
        if p.vararg.is_some() || !p.kwonlyargs.is_empty() {
            sep(self);
            self.s("*");
            if let Some(v) = &p.vararg {
                self.parameter(v)?;
            }
        }
        for a in &p.kwonlyargs {
            sep(self);
            self.parameter(&a.parameter)?;
            if let Some(d) = &a.default {
                self.s("=");
                self.expr(d, TEST)?;
            }
        }
        if let Some(k) = &p.kwarg {
            sep(self);
            self.s("**");
            self.parameter(k)?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unparse_src(src: &str) -> Option<String> {
        let v: PythonVersion = "3.11".parse().unwrap();
        let parsed = crate::parse::parse(src, v).unwrap();
        let ast::Stmt::Expr(e) = &parsed.module.body[0] else {
            panic!("not an expression statement")
        };
        unparse(&e.value, src, v)
    }

    #[test]
    fn matches_cpython_spelling() {
        // Expected strings are the constants CPython 3.11 stores for `x: <expr>` under
        // `from __future__ import annotations` (`ast.unparse` differs in places).
        for (src, want) in [
            ("a.b[c, d]", "a.b[c, d]"),
            ("(a)", "a"),
            ("a ** -b ** c", "a ** (-b ** c)"),
            (
                "(lambda x, /, y=2, *a, z, **k: x)",
                "lambda x, /, y=2, *a, z, **k: x",
            ),
            ("not a < b", "not a < b"),
            ("1 .real", "1 .real"),
            ("1e999", "1e309"),
            ("{**a, 'b': c}", "{**a, 'b': c}"),
            ("x[1:2, ::3]", "x[1:2, ::3]"),
            ("(a ** b) ** c", "(a ** b) ** c"),
            ("-a ** b", "-a ** b"),
            ("(-a) ** b", "(-a) ** b"),
            ("a if b else (c if d else e)", "a if b else c if d else e"),
            ("(a if b else c) if d else e", "(a if b else c) if d else e"),
            ("'a' 'b'", "'ab'"),
            ("\"it's\"", "\"it's\""),
            ("f(*a, b=1, **c)", "f(*a, b=1, **c)"),
            ("f(x for x in y if x)", "f(x for x in y if x)"),
            ("(a, )", "(a,)"),
            ("...", "..."),
        ] {
            assert_eq!(unparse_src(src).as_deref(), Some(want), "{src}");
        }
        assert_eq!(unparse_src("f'{x}'"), None);
    }
}
