//! `_PyAST_ExprAsUnicode` (3.11 `Python/ast_unparse.c`): an expression back to source
//! text, as annotations under `from __future__ import annotations` are stored. The text is
//! CPython's, not the source's: operators spaced, parentheses only where precedence needs
//! them, literals as their `repr()`.

use pyc_assembler::repr;
use pyc_assembler::Constant;
use ruff_python_ast::{
    self as ast, BoolOp, CmpOp, ConversionFlag, Expr, InterpolatedStringElement, Number, Operator,
    UnaryOp,
};

use super::super::{CResult, Compiler};

// Priority levels (`PR_*`).
const PR_TUPLE: u8 = 0;
const PR_TEST: u8 = 1;
const PR_OR: u8 = 2;
const PR_AND: u8 = 3;
const PR_NOT: u8 = 4;
const PR_CMP: u8 = 5;
const PR_EXPR: u8 = 6;
const PR_BOR: u8 = PR_EXPR;
const PR_BXOR: u8 = 7;
const PR_BAND: u8 = 8;
const PR_SHIFT: u8 = 9;
const PR_ARITH: u8 = 10;
const PR_TERM: u8 = 11;
const PR_FACTOR: u8 = 12;
const PR_POWER: u8 = 13;
const PR_AWAIT: u8 = 14;
const PR_ATOM: u8 = 15;

/// The writer: the compiler (for literals and errors) and the text so far.
struct Unparser<'c, 'a> {
    c: &'c Compiler<'a>,
    out: String,
}

impl<'a> Compiler<'a> {
    /// The text CPython 3.11 stores for an annotation under `from __future__ import
    /// annotations` (`_PyAST_ExprAsUnicode`).
    pub fn unparse(&self, e: &Expr) -> CResult<String> {
        let mut u = Unparser {
            c: self,
            out: String::new(),
        };
        u.expr(e, PR_TEST)?;
        Ok(u.out)
    }
}

impl Unparser<'_, '_> {
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

    /// `append_ast_expr`.
    fn expr(&mut self, e: &Expr, level: u8) -> CResult {
        match e {
            Expr::BoolOp(b) => {
                let (op, pr) = match b.op {
                    BoolOp::And => (" and ", PR_AND),
                    BoolOp::Or => (" or ", PR_OR),
                };
                self.open(level > pr);
                for (i, v) in b.values.iter().enumerate() {
                    if i > 0 {
                        self.s(op);
                    }
                    self.expr(v, pr + 1)?;
                }
                self.close(level > pr);
            }
            Expr::BinOp(b) => {
                let (op, pr) = binop(b.op);
                let rassoc = u8::from(b.op == Operator::Pow);
                self.open(level > pr);
                self.expr(&b.left, pr + rassoc)?;
                self.s(op);
                self.expr(&b.right, pr + 1 - rassoc)?;
                self.close(level > pr);
            }
            Expr::UnaryOp(u) => {
                let (op, pr) = match u.op {
                    UnaryOp::Invert => ("~", PR_FACTOR),
                    UnaryOp::Not => ("not ", PR_NOT),
                    UnaryOp::UAdd => ("+", PR_FACTOR),
                    UnaryOp::USub => ("-", PR_FACTOR),
                };
                self.open(level > pr);
                self.s(op);
                self.expr(&u.operand, pr)?;
                self.close(level > pr);
            }
            Expr::Lambda(l) => {
                self.open(level > PR_TEST);
                let positional = l
                    .parameters
                    .as_ref()
                    .map_or(0, |p| p.posonlyargs.len() + p.args.len());
                self.s(if positional > 0 { "lambda " } else { "lambda" });
                if let Some(p) = &l.parameters {
                    self.args(p)?;
                }
                self.s(": ");
                self.expr(&l.body, PR_TEST)?;
                self.close(level > PR_TEST);
            }
            Expr::If(i) => {
                self.open(level > PR_TEST);
                self.expr(&i.body, PR_TEST + 1)?;
                self.s(" if ");
                self.expr(&i.test, PR_TEST + 1)?;
                self.s(" else ");
                self.expr(&i.orelse, PR_TEST)?;
                self.close(level > PR_TEST);
            }
            Expr::Dict(d) => {
                self.s("{");
                for (i, item) in d.items.iter().enumerate() {
                    if i > 0 {
                        self.s(", ");
                    }
                    match &item.key {
                        Some(k) => {
                            self.expr(k, PR_TEST)?;
                            self.s(": ");
                            self.expr(&item.value, PR_TEST)?;
                        }
                        None => {
                            self.s("**");
                            self.expr(&item.value, PR_EXPR)?;
                        }
                    }
                }
                self.s("}");
            }
            Expr::Set(s) => self.seq("{", &s.elts, "}")?,
            Expr::List(l) => self.seq("[", &l.elts, "]")?,
            Expr::Generator(g) => self.comp("(", &g.elt, None, &g.generators, ")")?,
            Expr::ListComp(l) => self.comp("[", &l.elt, None, &l.generators, "]")?,
            Expr::SetComp(s) => self.comp("{", &s.elt, None, &s.generators, "}")?,
            Expr::DictComp(d) => match &d.key {
                Some(key) => self.comp("{", key, Some(&d.value), &d.generators, "}")?,
                None => return Err(self.c.unsupported("dict comprehension unpacking", e)),
            },
            Expr::Yield(y) => match &y.value {
                None => self.s("(yield)"),
                Some(v) => {
                    self.s("(yield ");
                    self.expr(v, PR_TEST)?;
                    self.s(")");
                }
            },
            Expr::YieldFrom(y) => {
                self.s("(yield from ");
                self.expr(&y.value, PR_TEST)?;
                self.s(")");
            }
            Expr::Await(a) => {
                self.open(level > PR_AWAIT);
                self.s("await ");
                self.expr(&a.value, PR_ATOM)?;
                self.close(level > PR_AWAIT);
            }
            Expr::Compare(c) => {
                self.open(level > PR_CMP);
                self.expr(&c.left, PR_CMP + 1)?;
                for (op, right) in c.ops.iter().zip(c.comparators.iter()) {
                    self.s(cmpop(*op));
                    self.expr(right, PR_CMP + 1)?;
                }
                self.close(level > PR_CMP);
            }
            Expr::Call(call) => {
                self.expr(&call.func, PR_ATOM)?;
                let args = &call.arguments;
                if let ([Expr::Generator(g)], true) = (&*args.args, args.keywords.is_empty()) {
                    // A single generator expression is its own parentheses.
                    return self.comp("(", &g.elt, None, &g.generators, ")");
                }
                self.s("(");
                let mut first = true;
                for a in args.args.iter() {
                    if !std::mem::take(&mut first) {
                        self.s(", ");
                    }
                    self.expr(a, PR_TEST)?;
                }
                for k in args.keywords.iter() {
                    if !std::mem::take(&mut first) {
                        self.s(", ");
                    }
                    match &k.arg {
                        Some(name) => {
                            self.s(name.as_str());
                            self.s("=");
                        }
                        None => self.s("**"),
                    }
                    self.expr(&k.value, PR_TEST)?;
                }
                self.s(")");
            }
            Expr::FString(f) => {
                let body = self.fstring_body(f.value.iter())?;
                self.s("f");
                self.repr_str(&body);
            }
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_) => self.constant(e)?,
            Expr::EllipsisLiteral(_) => self.s("..."),
            Expr::Attribute(a) => {
                self.expr(&a.value, PR_ATOM)?;
                // An integer needs a space before the period.
                let int = matches!(
                    &*a.value,
                    Expr::NumberLiteral(n) if matches!(n.value, Number::Int(_))
                );
                self.s(if int { " ." } else { "." });
                self.s(a.attr.as_str());
            }
            Expr::Subscript(s) => {
                self.expr(&s.value, PR_ATOM)?;
                self.s("[");
                self.expr(&s.slice, PR_TUPLE)?;
                self.s("]");
            }
            Expr::Starred(s) => {
                self.s("*");
                self.expr(&s.value, PR_EXPR)?;
            }
            Expr::Slice(s) => {
                if let Some(lower) = &s.lower {
                    self.expr(lower, PR_TEST)?;
                }
                self.s(":");
                if let Some(upper) = &s.upper {
                    self.expr(upper, PR_TEST)?;
                }
                if let Some(step) = &s.step {
                    self.s(":");
                    self.expr(step, PR_TEST)?;
                }
            }
            Expr::Name(n) => self.s(n.id.as_str()),
            Expr::Tuple(t) => {
                if t.elts.is_empty() {
                    self.s("()");
                    return Ok(());
                }
                self.open(level > PR_TUPLE);
                for (i, elt) in t.elts.iter().enumerate() {
                    if i > 0 {
                        self.s(", ");
                    }
                    self.expr(elt, PR_TEST)?;
                }
                if t.elts.len() == 1 {
                    self.s(",");
                }
                self.close(level > PR_TUPLE);
            }
            Expr::Named(n) => {
                self.open(level > PR_TUPLE);
                self.expr(&n.target, PR_ATOM)?;
                self.s(":=");
                self.expr(&n.value, PR_ATOM)?;
                self.close(level > PR_TUPLE);
            }
            Expr::TString(_) => return Err(self.c.unsupported("template string", e)),
            Expr::IpyEscapeCommand(_) => {
                return Err(self.c.unsupported("IPython escape command", e));
            }
        }
        Ok(())
    }

    /// A list or set display.
    fn seq(&mut self, open: &str, elts: &[Expr], close: &str) -> CResult {
        self.s(open);
        for (i, elt) in elts.iter().enumerate() {
            if i > 0 {
                self.s(", ");
            }
            self.expr(elt, PR_TEST)?;
        }
        self.s(close);
        Ok(())
    }

    /// A comprehension or generator expression (`append_ast_comprehensions`).
    fn comp(
        &mut self,
        open: &str,
        elt: &Expr,
        value: Option<&Expr>,
        generators: &[ast::Comprehension],
        close: &str,
    ) -> CResult {
        self.s(open);
        self.expr(elt, PR_TEST)?;
        if let Some(value) = value {
            self.s(": ");
            self.expr(value, PR_TEST)?;
        }
        for g in generators {
            self.s(if g.is_async { " async for " } else { " for " });
            self.expr(&g.target, PR_TUPLE)?;
            self.s(" in ");
            self.expr(&g.iter, PR_TEST + 1)?;
            for cond in &g.ifs {
                self.s(" if ");
                self.expr(cond, PR_TEST + 1)?;
            }
        }
        self.s(close);
        Ok(())
    }

    /// `append_ast_args`: a lambda's parameters.
    fn args(&mut self, p: &ast::Parameters) -> CResult {
        let mut first = true;
        let positional: Vec<&ast::ParameterWithDefault> =
            p.posonlyargs.iter().chain(p.args.iter()).collect();
        for (i, a) in positional.iter().enumerate() {
            if !std::mem::take(&mut first) {
                self.s(", ");
            }
            self.arg(&a.parameter)?;
            if let Some(d) = &a.default {
                self.s("=");
                self.expr(d, PR_TEST)?;
            }
            if !p.posonlyargs.is_empty() && i + 1 == p.posonlyargs.len() {
                self.s(", /");
            }
        }
        if p.vararg.is_some() || !p.kwonlyargs.is_empty() {
            if !std::mem::take(&mut first) {
                self.s(", ");
            }
            self.s("*");
            if let Some(v) = &p.vararg {
                self.arg(v)?;
            }
        }
        for a in &p.kwonlyargs {
            if !std::mem::take(&mut first) {
                self.s(", ");
            }
            self.arg(&a.parameter)?;
            if let Some(d) = &a.default {
                self.s("=");
                self.expr(d, PR_TEST)?;
            }
        }
        if let Some(k) = &p.kwarg {
            if !std::mem::take(&mut first) {
                self.s(", ");
            }
            self.s("**");
            self.arg(k)?;
        }
        Ok(())
    }

    /// `append_ast_arg`.
    fn arg(&mut self, a: &ast::Parameter) -> CResult {
        self.s(a.name.as_str());
        if let Some(ann) = &a.annotation {
            self.s(": ");
            self.expr(ann, PR_TEST)?;
        }
        Ok(())
    }

    /// `append_ast_constant`: a literal's `repr()`, infinities spelled `1e309`.
    fn constant(&mut self, e: &Expr) -> CResult {
        let Some(value) = crate::fold::literal(e, self.c.source) else {
            return Err(self.c.unsupported("literal in annotation", e));
        };
        let text = repr::repr(&value, self.c.v);
        match value {
            Constant::Float(_) | Constant::Complex { .. } => {
                self.s(&text.replace("inf", "1e309"));
            }
            _ => self.s(&text),
        }
        Ok(())
    }

    fn repr_str(&mut self, text: &str) {
        let r = repr::repr_str(&text.into(), self.c.v);
        self.s(&r);
    }

    /// `build_fstring_body`: the text between an f-string's quotes, from its parts (an
    /// implicitly concatenated string is one `JoinedStr`).
    fn fstring_body<'x>(
        &self,
        parts: impl Iterator<Item = &'x ast::FStringPart>,
    ) -> CResult<String> {
        let mut body = String::new();
        for part in parts {
            match part {
                ast::FStringPart::Literal(lit) => body.push_str(&escape_braces(&lit.value)),
                ast::FStringPart::FString(f) => self.fstring_elements(&f.elements, &mut body)?,
            }
        }
        Ok(body)
    }

    fn fstring_elements(
        &self,
        elements: &ast::InterpolatedStringElements,
        body: &mut String,
    ) -> CResult {
        for element in elements.iter() {
            match element {
                InterpolatedStringElement::Literal(lit) => {
                    body.push_str(&escape_braces(&lit.value));
                }
                InterpolatedStringElement::Interpolation(fv) => {
                    let mut conversion = fv.conversion;
                    if let Some(debug) = &fv.debug_text {
                        // `{x=}` is the literal text `x=` and the value, by default as
                        // its repr().
                        body.push_str(&escape_braces(debug.as_str()));
                        if conversion == ConversionFlag::None && fv.format_spec.is_none() {
                            conversion = ConversionFlag::Repr;
                        }
                    }
                    self.formatted_value(fv, conversion, body)?;
                }
            }
        }
        Ok(())
    }

    /// `append_formattedvalue`.
    fn formatted_value(
        &self,
        fv: &ast::InterpolatedElement,
        conversion: ConversionFlag,
        body: &mut String,
    ) -> CResult {
        let mut inner = Unparser {
            c: self.c,
            out: String::new(),
        };
        // PR_TEST + 1 puts a lambda (with its ':') in parentheses.
        inner.expr(&fv.expression, PR_TEST + 1)?;
        body.push_str(if inner.out.starts_with('{') {
            "{ "
        } else {
            "{"
        });
        body.push_str(&inner.out);
        match conversion {
            ConversionFlag::None => {}
            ConversionFlag::Str => body.push_str("!s"),
            ConversionFlag::Ascii => body.push_str("!a"),
            ConversionFlag::Repr => body.push_str("!r"),
        }
        if let Some(spec) = &fv.format_spec {
            body.push(':');
            self.fstring_elements(&spec.elements, body)?;
        }
        body.push('}');
        Ok(())
    }
}

fn escape_braces(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

fn binop(op: Operator) -> (&'static str, u8) {
    match op {
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
    }
}

fn cmpop(op: CmpOp) -> &'static str {
    match op {
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
    }
}
