//! `Python/ast_unparse.c` (3.11): an expression back to source text, as annotations are kept
//! under `from __future__ import annotations` (`_PyAST_ExprAsUnicode`). Precedence,
//! parentheses, spacing and quoting follow CPython's unparser, quirks included (`lambda*a: 1`,
//! `1e309` for infinities, `a[*b,]`).

use pyc_assembler::repr::repr;
use pyc_assembler::{Constant, PyStr};
use ruff_python_ast::{
    self as ast, BoolOp, CmpOp, ConversionFlag, Expr, FStringPart, InterpolatedStringElement,
    InterpolatedStringElements, Number, Operator, UnaryOp,
};

use super::super::{CResult, Compiler};

// Priority levels (`PR_TUPLE` …).
const PR_TUPLE: u8 = 0;
/// `if`-`else`, `lambda`.
const PR_TEST: u8 = 1;
const PR_OR: u8 = 2;
const PR_AND: u8 = 3;
const PR_NOT: u8 = 4;
/// Comparisons, `in`, `is`.
const PR_CMP: u8 = 5;
const PR_EXPR: u8 = 6;
/// `|` (same as `PR_EXPR`).
const PR_BOR: u8 = PR_EXPR;
const PR_BXOR: u8 = 7;
const PR_BAND: u8 = 8;
const PR_SHIFT: u8 = 9;
const PR_ARITH: u8 = 10;
const PR_TERM: u8 = 11;
/// Unary `+`, `-`, `~`.
const PR_FACTOR: u8 = 12;
const PR_POWER: u8 = 13;
const PR_AWAIT: u8 = 14;
const PR_ATOM: u8 = 15;

/// `_PyAST_ExprAsUnicode`: the source text of an annotation.
pub(super) fn expr_as_unicode(c: &Compiler<'_>, e: &Expr) -> CResult<PyStr> {
    let mut u = Unparser {
        c,
        out: String::new(),
    };
    u.expr(e, PR_TEST)?;
    Ok(PyStr::from(u.out.as_str()))
}

struct Unparser<'c, 'a> {
    c: &'c Compiler<'a>,
    out: String,
}

impl Unparser<'_, '_> {
    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn push_if(&mut self, cond: bool, s: &str) {
        if cond {
            self.out.push_str(s);
        }
    }

    /// `append_repr`: `repr()`, with infinities of floats and complex numbers as `1e309`.
    fn repr(&mut self, value: &Constant) {
        let r = repr(value, self.c.v);
        if matches!(value, Constant::Float(_) | Constant::Complex { .. }) {
            self.out.push_str(&r.replace("inf", "1e309"));
        } else {
            self.out.push_str(&r);
        }
    }

    /// `append_ast_expr`.
    fn expr(&mut self, e: &Expr, level: u8) -> CResult {
        match e {
            Expr::BoolOp(b) => {
                let (op, pr) = match b.op {
                    BoolOp::And => (" and ", PR_AND),
                    BoolOp::Or => (" or ", PR_OR),
                };
                self.push_if(level > pr, "(");
                for (i, v) in b.values.iter().enumerate() {
                    self.push_if(i > 0, op);
                    self.expr(v, pr + 1)?;
                }
                self.push_if(level > pr, ")");
            }
            Expr::BinOp(b) => {
                let (op, pr) = match b.op {
                    Operator::Add => (" + ", PR_ARITH),
                    Operator::Sub => (" - ", PR_ARITH),
                    Operator::Mult => (" * ", PR_TERM),
                    Operator::MatMult => (" @ ", PR_TERM),
                    Operator::Div => (" / ", PR_TERM),
                    Operator::Mod => (" % ", PR_TERM),
                    Operator::LShift => (" << ", PR_SHIFT),
                    Operator::RShift => (" >> ", PR_SHIFT),
                    Operator::BitOr => (" | ", PR_BOR),
                    Operator::BitXor => (" ^ ", PR_BXOR),
                    Operator::BitAnd => (" & ", PR_BAND),
                    Operator::FloorDiv => (" // ", PR_TERM),
                    Operator::Pow => (" ** ", PR_POWER),
                };
                let rassoc = u8::from(b.op == Operator::Pow);
                self.push_if(level > pr, "(");
                self.expr(&b.left, pr + rassoc)?;
                self.push(op);
                self.expr(&b.right, pr + 1 - rassoc)?;
                self.push_if(level > pr, ")");
            }
            Expr::UnaryOp(u) => {
                let (op, pr) = match u.op {
                    UnaryOp::Invert => ("~", PR_FACTOR),
                    UnaryOp::Not => ("not ", PR_NOT),
                    UnaryOp::UAdd => ("+", PR_FACTOR),
                    UnaryOp::USub => ("-", PR_FACTOR),
                };
                self.push_if(level > pr, "(");
                self.push(op);
                self.expr(&u.operand, pr)?;
                self.push_if(level > pr, ")");
            }
            Expr::Lambda(l) => {
                self.push_if(level > PR_TEST, "(");
                let positional = l
                    .parameters
                    .as_deref()
                    .is_some_and(|p| !p.args.is_empty() || !p.posonlyargs.is_empty());
                self.push(if positional { "lambda " } else { "lambda" });
                if let Some(p) = l.parameters.as_deref() {
                    self.args(p)?;
                }
                self.push(": ");
                self.expr(&l.body, PR_TEST)?;
                self.push_if(level > PR_TEST, ")");
            }
            Expr::If(i) => {
                self.push_if(level > PR_TEST, "(");
                self.expr(&i.body, PR_TEST + 1)?;
                self.push(" if ");
                self.expr(&i.test, PR_TEST + 1)?;
                self.push(" else ");
                self.expr(&i.orelse, PR_TEST)?;
                self.push_if(level > PR_TEST, ")");
            }
            Expr::Dict(d) => {
                self.push("{");
                for (i, item) in d.items.iter().enumerate() {
                    self.push_if(i > 0, ", ");
                    match &item.key {
                        Some(k) => {
                            self.expr(k, PR_TEST)?;
                            self.push(": ");
                            self.expr(&item.value, PR_TEST)?;
                        }
                        None => {
                            self.push("**");
                            self.expr(&item.value, PR_EXPR)?;
                        }
                    }
                }
                self.push("}");
            }
            Expr::Set(s) => {
                self.push("{");
                self.seq(&s.elts)?;
                self.push("}");
            }
            Expr::Generator(g) => self.genexp(g)?,
            Expr::ListComp(l) => {
                self.push("[");
                self.expr(&l.elt, PR_TEST)?;
                self.comprehensions(&l.generators)?;
                self.push("]");
            }
            Expr::SetComp(s) => {
                self.push("{");
                self.expr(&s.elt, PR_TEST)?;
                self.comprehensions(&s.generators)?;
                self.push("}");
            }
            Expr::DictComp(d) => {
                let Some(key) = d.key.as_deref() else {
                    return Err(self.c.unsupported("dict comprehension without a key", e));
                };
                self.push("{");
                self.expr(key, PR_TEST)?;
                self.push(": ");
                self.expr(&d.value, PR_TEST)?;
                self.comprehensions(&d.generators)?;
                self.push("}");
            }
            Expr::Yield(y) => match y.value.as_deref() {
                None => self.push("(yield)"),
                Some(v) => {
                    self.push("(yield ");
                    self.expr(v, PR_TEST)?;
                    self.push(")");
                }
            },
            Expr::YieldFrom(y) => {
                self.push("(yield from ");
                self.expr(&y.value, PR_TEST)?;
                self.push(")");
            }
            Expr::Await(a) => {
                self.push_if(level > PR_AWAIT, "(");
                self.push("await ");
                self.expr(&a.value, PR_ATOM)?;
                self.push_if(level > PR_AWAIT, ")");
            }
            Expr::Compare(cmp) => {
                self.push_if(level > PR_CMP, "(");
                self.expr(&cmp.left, PR_CMP + 1)?;
                for (op, right) in cmp.ops.iter().zip(cmp.comparators.iter()) {
                    self.push(match op {
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
                    self.expr(right, PR_CMP + 1)?;
                }
                self.push_if(level > PR_CMP, ")");
            }
            Expr::Call(call) => {
                self.expr(&call.func, PR_ATOM)?;
                let args = &call.arguments;
                if let ([Expr::Generator(g)], []) = (&*args.args, &*args.keywords) {
                    // A single generator expression: its parentheses serve the call.
                    return self.genexp(g);
                }
                self.push("(");
                let mut first = true;
                for a in args.args.iter() {
                    self.push_if(!first, ", ");
                    first = false;
                    self.expr(a, PR_TEST)?;
                }
                for k in args.keywords.iter() {
                    self.push_if(!first, ", ");
                    first = false;
                    match &k.arg {
                        None => self.push("**"),
                        Some(name) => {
                            self.push(name);
                            self.push("=");
                        }
                    }
                    self.expr(&k.value, PR_TEST)?;
                }
                self.push(")");
            }
            Expr::FString(f) => {
                let body = self.fstring_body(f)?;
                self.push("f");
                self.repr(&Constant::Str(PyStr::from(body.as_str())));
            }
            Expr::EllipsisLiteral(_) => self.push("..."),
            Expr::StringLiteral(s) => {
                // The parser's `kind`: "u" when the first literal has a `u` prefix.
                let first = s.value.iter().next();
                if first.is_some_and(|p| self.c.source[p.range].starts_with('u')) {
                    self.push("u");
                }
                self.constant(e)?;
            }
            Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_) => self.constant(e)?,
            Expr::Attribute(a) => {
                self.expr(&a.value, PR_ATOM)?;
                // An integer needs a space before the period.
                let int = matches!(
                    &*a.value,
                    Expr::NumberLiteral(ast::ExprNumberLiteral {
                        value: Number::Int(_),
                        ..
                    })
                );
                self.push(if int { " ." } else { "." });
                self.push(&a.attr);
            }
            Expr::Subscript(s) => {
                self.expr(&s.value, PR_ATOM)?;
                self.push("[");
                self.expr(&s.slice, PR_TUPLE)?;
                self.push("]");
            }
            Expr::Starred(s) => {
                self.push("*");
                self.expr(&s.value, PR_EXPR)?;
            }
            Expr::Slice(s) => {
                if let Some(lower) = s.lower.as_deref() {
                    self.expr(lower, PR_TEST)?;
                }
                self.push(":");
                if let Some(upper) = s.upper.as_deref() {
                    self.expr(upper, PR_TEST)?;
                }
                if let Some(step) = s.step.as_deref() {
                    self.push(":");
                    self.expr(step, PR_TEST)?;
                }
            }
            Expr::Name(n) => self.push(&n.id),
            Expr::List(l) => {
                self.push("[");
                self.seq(&l.elts)?;
                self.push("]");
            }
            Expr::Tuple(t) => {
                if t.elts.is_empty() {
                    self.push("()");
                    return Ok(());
                }
                self.push_if(level > PR_TUPLE, "(");
                self.seq(&t.elts)?;
                self.push_if(t.elts.len() == 1, ",");
                self.push_if(level > PR_TUPLE, ")");
            }
            // Assignment expressions are forbidden in annotations (the symbol table says so);
            // 3.11's spacing of them is not reproduced here.
            Expr::Named(_) | Expr::TString(_) | Expr::IpyEscapeCommand(_) => {
                return Err(self
                    .c
                    .unsupported("this expression in an annotation string", e));
            }
        }
        Ok(())
    }

    /// A literal: `append_ast_constant`.
    fn constant(&mut self, e: &Expr) -> CResult {
        let Some(value) = self.c.folded.value(e, self.c.source) else {
            return Err(self.c.unsupported("literal in an annotation string", e));
        };
        self.repr(&value);
        Ok(())
    }

    /// Items separated by `, `, each at `PR_TEST`.
    fn seq(&mut self, elts: &[Expr]) -> CResult {
        for (i, e) in elts.iter().enumerate() {
            self.push_if(i > 0, ", ");
            self.expr(e, PR_TEST)?;
        }
        Ok(())
    }

    /// `append_ast_genexp`.
    fn genexp(&mut self, g: &ast::ExprGenerator) -> CResult {
        self.push("(");
        self.expr(&g.elt, PR_TEST)?;
        self.comprehensions(&g.generators)?;
        self.push(")");
        Ok(())
    }

    /// `append_ast_comprehensions`.
    fn comprehensions(&mut self, generators: &[ast::Comprehension]) -> CResult {
        for gen in generators {
            self.push(if gen.is_async { " async for " } else { " for " });
            self.expr(&gen.target, PR_TUPLE)?;
            self.push(" in ");
            self.expr(&gen.iter, PR_TEST + 1)?;
            for cond in &gen.ifs {
                self.push(" if ");
                self.expr(cond, PR_TEST + 1)?;
            }
        }
        Ok(())
    }

    /// `append_ast_args`: a lambda's parameters.
    fn args(&mut self, p: &ast::Parameters) -> CResult {
        let mut first = true;
        let positional = p.posonlyargs.len();
        for (i, a) in p.posonlyargs.iter().chain(&p.args).enumerate() {
            self.push_if(!first, ", ");
            first = false;
            self.arg(&a.parameter)?;
            if let Some(d) = a.default.as_deref() {
                self.push("=");
                self.expr(d, PR_TEST)?;
            }
            self.push_if(positional > 0 && i + 1 == positional, ", /");
        }
        if p.vararg.is_some() || !p.kwonlyargs.is_empty() {
            self.push_if(!first, ", ");
            first = false;
            self.push("*");
            if let Some(v) = p.vararg.as_deref() {
                self.arg(v)?;
            }
        }
        for a in &p.kwonlyargs {
            self.push_if(!first, ", ");
            first = false;
            self.arg(&a.parameter)?;
            if let Some(d) = a.default.as_deref() {
                self.push("=");
                self.expr(d, PR_TEST)?;
            }
        }
        if let Some(k) = p.kwarg.as_deref() {
            self.push_if(!first, ", ");
            self.push("**");
            self.arg(k)?;
        }
        Ok(())
    }

    /// `append_ast_arg`.
    fn arg(&mut self, a: &ast::Parameter) -> CResult {
        self.push(&a.name);
        if let Some(ann) = a.annotation.as_deref() {
            self.push(": ");
            self.expr(ann, PR_TEST)?;
        }
        Ok(())
    }

    /// `build_fstring_body` of a whole (possibly implicitly concatenated) f-string: its
    /// literal text with braces doubled and its replacement fields.
    fn fstring_body(&mut self, f: &ast::ExprFString) -> CResult<String> {
        let saved = std::mem::take(&mut self.out);
        let r = (|| {
            for part in f.value.iter() {
                match part {
                    FStringPart::Literal(l) => self.fstring_text(&l.value),
                    FStringPart::FString(s) => self.fstring_elements(&s.elements)?,
                }
            }
            Ok(())
        })();
        let body = std::mem::replace(&mut self.out, saved);
        r.map(|()| body)
    }

    /// `append_fstring_unicode`: literal text with braces doubled.
    fn fstring_text(&mut self, text: &str) {
        self.out
            .push_str(&text.replace('{', "{{").replace('}', "}}"));
    }

    /// The elements of an f-string or of a format spec.
    fn fstring_elements(&mut self, elements: &InterpolatedStringElements) -> CResult {
        for element in elements {
            match element {
                InterpolatedStringElement::Literal(l) => self.fstring_text(&l.value),
                InterpolatedStringElement::Interpolation(i) => self.formatted_value(i)?,
            }
        }
        Ok(())
    }

    /// `append_formattedvalue`; a `=` specifier is the text before it, as a literal.
    fn formatted_value(&mut self, i: &ast::InterpolatedElement) -> CResult {
        let mut conversion = i.conversion;
        if let Some(debug) = &i.debug_text {
            self.fstring_text(debug.as_str());
            if conversion == ConversionFlag::None && i.format_spec.is_none() {
                conversion = ConversionFlag::Repr;
            }
        }
        // The grammar allows PR_TUPLE, but a lambda's ':' needs parentheses.
        let saved = std::mem::take(&mut self.out);
        let r = self.expr(&i.expression, PR_TEST + 1);
        let value = std::mem::replace(&mut self.out, saved);
        r?;
        // An expression starting with a brace is set apart from the outer one.
        self.push(if value.starts_with('{') { "{ " } else { "{" });
        self.push(&value);
        match conversion {
            ConversionFlag::None => {}
            ConversionFlag::Str => self.push("!s"),
            ConversionFlag::Ascii => self.push("!a"),
            ConversionFlag::Repr => self.push("!r"),
        }
        if let Some(spec) = i.format_spec.as_deref() {
            self.push(":");
            self.fstring_elements(&spec.elements)?;
        }
        self.push("}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use pyc_assembler::PythonVersion;
    use ruff_python_ast::Stmt;

    use super::super::super::{Compiler, ScopeType, Unit};
    use crate::symtable::SymbolTable;
    use crate::{fold, parse, symtable};

    /// The unparsed annotations of the first function in `source`, in parameter order, then
    /// `return`.
    fn annotations(source: &str) -> Vec<String> {
        let v = PythonVersion::V3_11;
        let mut parsed = parse::parse(source, v).expect("parses");
        let folded = fold::fold(&mut parsed.module, source, v, 0);
        let table = symtable::build(&parsed.module, source, v).expect("symbol table");
        let c = Compiler {
            v,
            source,
            lines: &parsed.lines,
            table: &table,
            folded: &folded,
            filename: "t.py".into(),
            optimize: 0,
            u: Unit::new(
                &table,
                SymbolTable::ROOT,
                "<module>".into(),
                ScopeType::Module,
                1,
                None,
            ),
            stack: Vec::new(),
            nestlevel: 0,
            interactive: false,
            trace: None,
            line_cache: Default::default(),
            key_buf: Vec::new(),
        };
        let Some(Stmt::FunctionDef(f)) = parsed.module.body.last() else {
            panic!("no function");
        };
        let p = &f.parameters;
        let params = p.posonlyargs.iter().chain(&p.args).map(|a| &a.parameter);
        let params = params
            .chain(p.vararg.as_deref())
            .chain(p.kwonlyargs.iter().map(|a| &a.parameter))
            .chain(p.kwarg.as_deref());
        params
            .filter_map(|a| a.annotation.as_deref())
            .chain(f.returns.as_deref())
            .map(|e| {
                super::expr_as_unicode(&c, e)
                    .expect("unparses")
                    .to_string_lossy()
            })
            .collect()
    }

    /// Expected strings are what CPython 3.11 stores in `__annotations__`.
    #[test]
    fn unparses_as_cpython() {
        let source = r#"from __future__ import annotations
def f(b: lambda *a: 1, c: lambda: 2, d: a[*b], e: a[1:2, ::3], g: 1 .real,
      h: f"{x!r:>{w}} {y=} {{z}}", i: u'x', j: 1e400, k: -1j*1e400, l: "a" "b",
      m: 'it\'s', o: {**a, 'b': 1}, p: not a < b, q: (a, b), r: (a,), s: (),
      t: a if b else c, w: f(x for x in y), x2: f(*a, **k, z=1), y2: 2 ** -1,
      z2: (-2) ** 2, a3: -(2 ** 2), b3: {1, 2}, c3: [x async for x in y if z if w],
      d3: lambda a, /, b=1, *c, d, e=2, **f: 0, e3: b'x\x00', f3: ..., g3: True,
      h3: (a + b) * c, i3: a - (b - c), j3: f"{'a'}" "b" f'{x:{y}}', k3: f"{x=!s}",
      l3: f"{x=:>3}", n3: -x.y, o3: (not a) + 1, r3: 'a"b', s3: "a'b\"",
      t3: {x: y for x, in z}, u3: a[:], w3: f'{ {1}}', x3: f'{(lambda: 1)}',
      y3: 1.5e-7, z3: 2.0, *q3: *a, **kw: 'x\n\u1234') -> r: pass
"#;
        let expected = [
            "lambda*a: 1",
            "lambda: 2",
            "a[*b,]",
            "a[1:2, ::3]",
            "1 .real",
            "f'{x!r:>{w}} y={y!r} {{z}}'",
            "u'x'",
            "1e309",
            "-1j * 1e309",
            "'ab'",
            "\"it's\"",
            "{**a, 'b': 1}",
            "not a < b",
            "(a, b)",
            "(a,)",
            "()",
            "a if b else c",
            "f(x for x in y)",
            "f(*a, **k, z=1)",
            "2 ** (-1)",
            "(-2) ** 2",
            "-2 ** 2",
            "{1, 2}",
            "[x async for x in y if z if w]",
            "lambda a, /, b=1, *c, d, e=2, **f: 0",
            "b'x\\x00'",
            "...",
            "True",
            "(a + b) * c",
            "a - (b - c)",
            "f\"{'a'}b{x:{y}}\"",
            "f'x={x!s}'",
            "f'x={x:>3}'",
            "-x.y",
            "(not a) + 1",
            "'a\"b'",
            "'a\\'b\"'",
            "{x: y for x, in z}",
            "a[:]",
            "f'{ {1}}'",
            "f'{(lambda: 1)}'",
            "1.5e-07",
            "2.0",
            "*a",
            "'x\\n\u{1234}'",
            "r",
        ];
        assert_eq!(annotations(source), expected);
    }
}
