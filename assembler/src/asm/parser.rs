//! The parser: lines of tokens to a tree of code blocks with symbolic instructions.

use num_bigint::BigInt;
use num_traits::Num;

use super::args::{arg_kind, compare_arg, name_flag_words, ArgKind};
use super::lexer::{lex, unescape, Tok, Token};
use super::AsmError;
use crate::code::flags;
use crate::opcode::Opcode;
use crate::version::{LineTableFormat, LocalsLayout};
use crate::{Constant, PyStr, PythonVersion};

/// A byte range of the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end.max(self.start),
        }
    }
}

/// A constant as written: a value, or containers that may hold references to nested code.
#[derive(Clone, Debug)]
pub enum ConstExpr {
    Value(Constant),
    Tuple(Vec<ConstExpr>),
    FrozenSet(Vec<ConstExpr>),
    /// `code LABEL`: the nested code block with this label.
    Code(PyStr, Span),
}

/// Equal as constants of one table: values as Python's code comparison sees them, code by
/// label (spans do not count).
impl PartialEq for ConstExpr {
    fn eq(&self, other: &ConstExpr) -> bool {
        match (self, other) {
            (ConstExpr::Value(a), ConstExpr::Value(b)) => a == b,
            (ConstExpr::Tuple(a), ConstExpr::Tuple(b)) => a == b,
            (ConstExpr::FrozenSet(a), ConstExpr::FrozenSet(b)) => {
                a.len() == b.len() && a.iter().all(|x| b.contains(x))
            }
            (ConstExpr::Code(a, _), ConstExpr::Code(b, _)) => a == b,
            _ => false,
        }
    }
}

/// A source position: `None` fields are CPython's -1.
pub type Pos = crate::lines::Position;

/// An instruction operand, resolved as far as the parser can.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    None,
    /// The argument itself (`@N`, plain numbers, and symbols the parser resolved).
    Arg(u32),
    Const(ConstExpr),
    /// A name, with the flag bits below it.
    Name(PyStr, u32),
    Local(PyStr),
    LocalPair(PyStr, PyStr),
    Free(PyStr),
    Jump(String),
}

/// One item of an instruction stream.
#[derive(Clone, Debug)]
pub enum Item {
    Label(String, Span),
    Line(Pos),
    /// An explicit `EXTENDED_ARG` prefix of the next instruction.
    Prefix(Span),
    Instr {
        op: &'static Opcode,
        operand: Operand,
        span: Span,
    },
}

/// A parsed signature (`.args a, b, /, c, *args, d, **kw`).
#[derive(Clone, Debug, Default)]
pub struct Signature {
    /// Parameter names in `co_varnames` order.
    pub names: Vec<PyStr>,
    pub argcount: u32,
    pub posonly: u32,
    pub kwonly: u32,
    pub varargs: bool,
    pub varkw: bool,
}

/// An exception table entry as written, with labels.
#[derive(Clone, Debug)]
pub struct ExceptionAst {
    pub start: String,
    pub end: String,
    pub target: String,
    pub depth: u32,
    pub lasti: bool,
    pub span: Span,
}

/// One code object as written.
#[derive(Clone, Debug, Default)]
pub struct CodeBlock {
    pub label: PyStr,
    pub span: Span,
    pub name: Option<PyStr>,
    pub qualname: Option<PyStr>,
    pub filename: Option<PyStr>,
    pub firstlineno: Option<u32>,
    pub flags: Option<u32>,
    pub args: Option<Signature>,
    pub locals: Vec<(PyStr, Span)>,
    pub cellvars: Vec<(PyStr, Span)>,
    pub freevars: Vec<(PyStr, Span)>,
    pub hidden: Vec<(PyStr, Span)>,
    /// `.localsplus`: the exact 3.11+ layout, names with their kind bytes.
    pub localsplus: Vec<(PyStr, u8)>,
    pub consts: Vec<(ConstExpr, Span)>,
    pub names: Vec<(PyStr, Span)>,
    pub docstring: Option<(ConstExpr, Span)>,
    pub stacksize: Option<u32>,
    pub linetable: Option<Vec<u8>>,
    pub exceptiontable: Option<Vec<u8>>,
    pub items: Vec<Item>,
    pub exceptions: Vec<ExceptionAst>,
    pub children: Vec<CodeBlock>,
}

/// A whole file: the target version and the module's code block.
#[derive(Debug)]
pub struct Program {
    pub version: PythonVersion,
    pub module: CodeBlock,
}

/// An error at `span`.
pub(super) fn err(span: Span, message: impl Into<String>) -> AsmError {
    AsmError {
        start: span.start,
        end: span.end,
        message: message.into(),
        hint: None,
    }
}

/// An error at `span`, with a hint.
pub(super) fn err_hint(
    span: Span,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> AsmError {
    AsmError {
        hint: Some(hint.into()),
        ..err(span, message)
    }
}

/// A cursor over the tokens of one line.
struct Line<'a> {
    text: &'a str,
    toks: &'a [Token],
    pos: usize,
    /// The span at the end of the line, for "expected ..." errors.
    eol: Span,
}

impl<'a> Line<'a> {
    fn peek(&self) -> Option<Token> {
        self.toks.get(self.pos).copied()
    }

    fn peek_is(&self, kind: Tok, text: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == kind && self.slice(t) == text)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.peek();
        self.pos += t.is_some() as usize;
        t
    }

    fn slice(&self, t: Token) -> &'a str {
        &self.text[t.start..t.end]
    }

    fn span_of(t: Token) -> Span {
        Span {
            start: t.start,
            end: t.end,
        }
    }

    fn here(&self) -> Span {
        self.peek().map_or(self.eol, Self::span_of)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Token, AsmError> {
        match self.peek() {
            Some(t) if t.kind == kind => {
                self.pos += 1;
                Ok(t)
            }
            _ => Err(err(self.here(), format!("expected {what}"))),
        }
    }

    fn eat(&mut self, kind: Tok, text: &str) -> bool {
        let yes = self.peek_is(kind, text);
        self.pos += yes as usize;
        yes
    }

    fn finish(&self) -> Result<(), AsmError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(err(
                Self::span_of(t),
                format!("unexpected `{}` at the end of the line", self.slice(t)),
            )),
        }
    }

    fn uint(&mut self, what: &str) -> Result<u32, AsmError> {
        let t = self.expect(Tok::Int, what)?;
        parse_int(self.slice(t))
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| err(Self::span_of(t), format!("{what} out of range")))
    }

    /// A name: a word, `<angle>` name or str literal.
    fn name(&mut self, what: &str) -> Result<(PyStr, Span), AsmError> {
        let t = self
            .next()
            .ok_or_else(|| err(self.eol, format!("expected {what}")))?;
        let span = Self::span_of(t);
        match t.kind {
            Tok::Word | Tok::Angle => Ok((PyStr::from(self.slice(t)), span)),
            Tok::Str => Ok((str_literal(self.slice(t), span)?, span)),
            _ => Err(err(span, format!("expected {what}"))),
        }
    }

    fn names(&mut self, what: &str) -> Result<Vec<(PyStr, Span)>, AsmError> {
        let mut out = Vec::new();
        while !self.at_end() {
            out.push(self.name(what)?);
            self.eat(Tok::Comma, ",");
        }
        Ok(out)
    }
}

fn parse_int(s: &str) -> Option<BigInt> {
    let s = s.replace('_', "");
    let (digits, radix) = match s.get(..2) {
        Some("0x" | "0X") => (&s[2..], 16),
        Some("0o" | "0O") => (&s[2..], 8),
        Some("0b" | "0B") => (&s[2..], 2),
        _ => (&s[..], 10),
    };
    BigInt::from_str_radix(digits, radix).ok()
}

fn str_literal(slice: &str, span: Span) -> Result<PyStr, AsmError> {
    let body = &slice[1..slice.len() - 1];
    unescape(body, false)
        .map(PyStr::from_code_points)
        .map_err(|(at, m)| {
            let start = span.start + 1 + at;
            err(
                Span {
                    start,
                    end: start + 1,
                },
                m,
            )
        })
}

fn bytes_literal(slice: &str, span: Span) -> Result<Vec<u8>, AsmError> {
    let body = &slice[2..slice.len() - 1];
    unescape(body, true)
        .map(|v| v.into_iter().map(|b| b as u8).collect())
        .map_err(|(at, m)| {
            let start = span.start + 2 + at;
            err(
                Span {
                    start,
                    end: start + 1,
                },
                m,
            )
        })
}

fn float_of(text: &str) -> Option<f64> {
    match text {
        "inf" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => text.replace('_', "").parse().ok(),
    }
}

/// A version: `3.X` read from the token text (a float token to the lexer).
fn version_of(line: &mut Line) -> Result<(PythonVersion, Span), AsmError> {
    let t = line
        .next()
        .ok_or_else(|| err(line.eol, "expected a version such as 3.12"))?;
    let span = Line::span_of(t);
    line.slice(t)
        .parse::<PythonVersion>()
        .map(|v| (v, span))
        .map_err(|e| err_hint(span, e.to_string(), "supported versions are 3.8 to 3.13"))
}

/// `3.11`, `3.11+` or `3.8-3.10`: is `v` in it?
fn condition(line: &mut Line, v: PythonVersion) -> Result<bool, AsmError> {
    let (lo, _) = version_of(line)?;
    let result = if line.eat(Tok::Op, "+") {
        v >= lo
    } else if line.eat(Tok::Op, "-") {
        let (hi, _) = version_of(line)?;
        lo <= v && v <= hi
    } else {
        v == lo
    };
    line.finish()?;
    Ok(result)
}

/// A constant literal, as `repr()` writes it (and code references).
fn constant(line: &mut Line) -> Result<(ConstExpr, Span), AsmError> {
    let start = line.here();
    let t = line
        .next()
        .ok_or_else(|| err(line.eol, "expected a constant"))?;
    let span = Line::span_of(t);
    let text = line.slice(t);
    let value = match t.kind {
        Tok::Str => Constant::Str(str_literal(text, span)?),
        Tok::Bytes => Constant::Bytes(bytes_literal(text, span)?),
        Tok::Int => Constant::Int(parse_int(text).ok_or_else(|| err(span, "bad integer"))?),
        Tok::Float => Constant::Float(float_of(text).ok_or_else(|| err(span, "bad float"))?),
        Tok::Imag => Constant::Complex {
            re: 0.0,
            im: float_of(&text[..text.len() - 1]).ok_or_else(|| err(span, "bad number"))?,
        },
        Tok::Op if text == "-" => {
            let (inner, end) = constant(line)?;
            let negated = match inner {
                ConstExpr::Value(Constant::Int(i)) => Constant::Int(-i),
                ConstExpr::Value(Constant::Float(f)) => Constant::Float(-f),
                ConstExpr::Value(Constant::Complex { re, im }) if re.to_bits() == 0 => {
                    Constant::Complex { re, im: -im }
                }
                _ => return Err(err(span.to(end), "`-` applies to numbers only")),
            };
            return Ok((ConstExpr::Value(negated), span.to(end)));
        }
        Tok::Word => match text {
            "None" => Constant::None,
            "True" => Constant::Bool(true),
            "False" => Constant::Bool(false),
            "Ellipsis" => Constant::Ellipsis,
            "StopIteration" => Constant::StopIteration,
            "inf" | "nan" => Constant::Float(float_of(text).unwrap_or(f64::NAN)),
            "infj" | "nanj" => Constant::Complex {
                re: 0.0,
                im: float_of(&text[..3]).unwrap_or(f64::NAN),
            },
            "code" => {
                let (label, lspan) = line.name("a code block label")?;
                return Ok((ConstExpr::Code(label, lspan), span.to(lspan)));
            }
            "slice" => {
                line.expect(Tok::LParen, "`(`")?;
                let mut parts = Vec::with_capacity(3);
                for i in 0..3 {
                    if i > 0 {
                        line.expect(Tok::Comma, "`,`")?;
                    }
                    match constant(line)? {
                        (ConstExpr::Value(c), _) => parts.push(c),
                        (_, at) => return Err(err(at, "a slice holds plain constants only")),
                    }
                }
                let end = line.expect(Tok::RParen, "`)`")?;
                let parts = <[Constant; 3]>::try_from(parts)
                    .map_err(|_| err(span, "a slice has three parts"))?;
                let value = Constant::Slice(Box::new(parts));
                return Ok((ConstExpr::Value(value), start.to(Line::span_of(end))));
            }
            "frozenset" => {
                line.expect(Tok::LParen, "`(`")?;
                let mut items = Vec::new();
                if line.eat(Tok::LBrace, "{") {
                    while !line.eat(Tok::RBrace, "}") {
                        items.push(constant(line)?.0);
                        if !line.eat(Tok::Comma, ",") {
                            line.expect(Tok::RBrace, "`}` or `,`")?;
                            break;
                        }
                    }
                }
                let end = line.expect(Tok::RParen, "`)`")?;
                return Ok((ConstExpr::FrozenSet(items), start.to(Line::span_of(end))));
            }
            _ => {
                return Err(err_hint(
                    span,
                    format!("`{text}` is not a constant"),
                    "constants are written as repr() writes them: 'text', 1, 2.5, None, (1, 2), code NAME",
                ))
            }
        },
        Tok::LParen => return paren_constant(line, span),
        _ => return Err(err(span, format!("`{text}` is not a constant"))),
    };
    Ok((ConstExpr::Value(value), span))
}

/// Whether a slice appears in the constant.
fn holds_slice(c: &ConstExpr) -> bool {
    match c {
        ConstExpr::Value(Constant::Slice(_)) => true,
        ConstExpr::Value(Constant::Tuple(items)) => {
            items.iter().any(|i| matches!(i, Constant::Slice(_)))
        }
        ConstExpr::Tuple(items) | ConstExpr::FrozenSet(items) => items.iter().any(holds_slice),
        _ => false,
    }
}

/// After `(`: a tuple, or a complex number `(re+imj)`.
fn paren_constant(line: &mut Line, open: Span) -> Result<(ConstExpr, Span), AsmError> {
    let mut items = Vec::new();
    if let Some(t) = line.peek().filter(|t| t.kind == Tok::RParen) {
        line.next();
        return Ok((ConstExpr::Tuple(items), open.to(Line::span_of(t))));
    }
    // A leading minus is kept apart so that `(-0-1j)` keeps the sign of its zero.
    let minus = line.here();
    let negative = line.eat(Tok::Op, "-");
    let (mut first, fspan) = constant(line)?;
    if let Some(sign) = line.peek().filter(|t| t.kind == Tok::Op) {
        let s = line.slice(sign);
        if s == "+" || s == "-" {
            line.next();
            let (imag, ispan) = constant(line)?;
            let re = match first {
                ConstExpr::Value(Constant::Int(i)) => i.to_string().parse::<f64>().ok(),
                ConstExpr::Value(Constant::Float(f)) => Some(f),
                _ => None,
            }
            .map(|r| if negative { -r } else { r });
            let im = match imag {
                ConstExpr::Value(Constant::Complex { re, im }) if re.to_bits() == 0 => Some(im),
                _ => None,
            };
            let (Some(re), Some(im)) = (re, im) else {
                return Err(err(open.to(ispan), "expected a complex number (re+imj)"));
            };
            let end = line.expect(Tok::RParen, "`)`")?;
            let im = if s == "-" { -im } else { im };
            return Ok((
                ConstExpr::Value(Constant::Complex { re, im }),
                open.to(Line::span_of(end)),
            ));
        }
    }
    if negative {
        first = match first {
            ConstExpr::Value(Constant::Int(i)) => ConstExpr::Value(Constant::Int(-i)),
            ConstExpr::Value(Constant::Float(f)) => ConstExpr::Value(Constant::Float(-f)),
            ConstExpr::Value(Constant::Complex { re, im }) if re.to_bits() == 0 => {
                ConstExpr::Value(Constant::Complex { re, im: -im })
            }
            _ => return Err(err(minus.to(fspan), "`-` applies to numbers only")),
        };
    }
    items.push(first);
    loop {
        if let Some(t) = line.peek().filter(|t| t.kind == Tok::RParen) {
            line.next();
            return Ok((ConstExpr::Tuple(items), open.to(Line::span_of(t))));
        }
        line.expect(Tok::Comma, "`,` or `)`")?;
        if let Some(t) = line.peek().filter(|t| t.kind == Tok::RParen) {
            line.next();
            return Ok((ConstExpr::Tuple(items), open.to(Line::span_of(t))));
        }
        items.push(constant(line)?.0);
    }
}

/// `none`, `L`, `L:C`, `L-EL`, `L:C-EL:EC`, `L-EL:EC`, `L:C-EL`.
fn position(line: &mut Line) -> Result<Pos, AsmError> {
    if line.eat(Tok::Word, "none") {
        return Ok(Pos::default());
    }
    let lineno = line.uint("a line number")?;
    let col = if line.eat(Tok::Colon, ":") {
        Some(line.uint("a column")?)
    } else {
        None
    };
    let (end_lineno, end_col) = if line.eat(Tok::Op, "-") {
        let el = line.uint("an end line")?;
        let ec = if line.eat(Tok::Colon, ":") {
            Some(line.uint("an end column")?)
        } else {
            None
        };
        (el, ec)
    } else {
        (lineno, None)
    };
    Ok(Pos {
        lineno: Some(lineno),
        end_lineno: Some(end_lineno),
        col,
        end_col,
    })
}

fn signature(line: &mut Line) -> Result<Signature, AsmError> {
    let paren = line.eat(Tok::LParen, "(");
    let (mut pos, mut kwonly, mut posonly) = (Vec::new(), Vec::new(), 0u32);
    let (mut varargs, mut varkw) = (None, None);
    let mut star = false;
    loop {
        if line.at_end() || (paren && line.peek_is(Tok::RParen, ")")) {
            break;
        }
        let here = line.here();
        if line.eat(Tok::Op, "/") {
            if star || posonly > 0 {
                return Err(err(here, "`/` must come once, before `*`"));
            }
            posonly = pos.len() as u32;
        } else if line.eat(Tok::Op, "**") {
            varkw = Some(line.name("a parameter name")?.0);
        } else if line.eat(Tok::Op, "*") {
            if star {
                return Err(err(here, "only one `*` is allowed"));
            }
            star = true;
            if !line.peek().is_some_and(|t| t.kind == Tok::Comma) && !line.at_end() {
                varargs = Some(line.name("a parameter name")?.0);
            }
        } else {
            let (n, _) = line.name("a parameter name")?;
            if varkw.is_some() {
                return Err(err(here, "nothing may follow `**name`"));
            }
            if star { &mut kwonly } else { &mut pos }.push(n);
        }
        if !line.eat(Tok::Comma, ",") {
            break;
        }
    }
    if paren {
        line.expect(Tok::RParen, "`)`")?;
    }
    let mut sig = Signature {
        argcount: pos.len() as u32,
        posonly,
        kwonly: kwonly.len() as u32,
        varargs: varargs.is_some(),
        varkw: varkw.is_some(),
        names: pos,
    };
    sig.names.extend(kwonly);
    sig.names.extend(varargs);
    sig.names.extend(varkw);
    Ok(sig)
}

fn flag_value(line: &mut Line, v: PythonVersion) -> Result<u32, AsmError> {
    let mut value = 0;
    while let Some(t) = line.next() {
        let span = Line::span_of(t);
        let text = line.slice(t);
        value |= match t.kind {
            Tok::Int => parse_int(text)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| err(span, "flags out of range"))?,
            Tok::Word => flag_bit(v, text).ok_or_else(|| {
                err_hint(
                    span,
                    format!("unknown code flag `{text}`"),
                    "use the names of dis.COMPILER_FLAG_NAMES, or a number",
                )
            })?,
            _ => return Err(err(span, "expected flag names or a number")),
        };
        line.eat(Tok::Op, "|");
    }
    Ok(value)
}

/// The bit of a code flag named as `dis.COMPILER_FLAG_NAMES` names it.
pub fn flag_bit(v: PythonVersion, name: &str) -> Option<u32> {
    let names = v.opcodes().compiler_flag_names;
    names
        .iter()
        .find(|&&(_, n)| n == name)
        .map(|&(b, _)| b)
        .or(match name {
            "NOFREE" if v.has_nofree_flag() => Some(flags::NOFREE),
            _ => None,
        })
}

fn operand(line: &mut Line, v: PythonVersion, op: &Opcode) -> Result<Operand, AsmError> {
    let kind = arg_kind(v, op);
    if line.at_end() {
        return match kind {
            ArgKind::None => Ok(Operand::None),
            _ => Err(err_hint(
                line.eol,
                format!("{} needs an argument", op.name),
                format!("write {}", describe(kind)),
            )),
        };
    }
    if line.peek_is(Tok::Op, "@") && kind != ArgKind::BinaryOp
        || line.peek_is(Tok::Op, "@") && line.toks.len() > line.pos + 1
    {
        line.next();
        return Ok(Operand::Arg(line.uint("a number after `@`")?));
    }
    let here = line.here();
    let wrong = |line: &Line| {
        let t = line.here();
        err_hint(
            here.to(t),
            format!("wrong kind of argument for {}", op.name),
            format!("{} takes {}", op.name, describe(kind)),
        )
    };
    Ok(match kind {
        ArgKind::None => {
            return Err(err_hint(
                here,
                format!("{} takes no argument", op.name),
                "remove the argument",
            ))
        }
        ArgKind::Int => {
            if line.peek().is_some_and(|t| t.kind != Tok::Int) {
                return Err(wrong(line));
            }
            Operand::Arg(line.uint("a number")?)
        }
        ArgKind::Const => {
            let (c, span) = constant(line)?;
            if !v.marshals_slices() && holds_slice(&c) {
                return Err(err(
                    span,
                    format!("{v} cannot store slice constants (marshal writes them from 3.14)"),
                ));
            }
            Operand::Const(c)
        }
        ArgKind::Name { .. } => {
            let words = name_flag_words(v, op);
            let mut bits = 0;
            'mods: loop {
                for (i, w) in words.iter().enumerate() {
                    let save = line.pos;
                    let mut ok = true;
                    for (k, part) in w.split('|').enumerate() {
                        ok = ok && (k == 0 || line.eat(Tok::Op, "|")) && line.eat(Tok::Word, part);
                    }
                    if ok && line.eat(Tok::Op, "+") {
                        bits |= 1 << i;
                        continue 'mods;
                    }
                    line.pos = save;
                }
                break;
            }
            if line
                .peek()
                .is_some_and(|t| !matches!(t.kind, Tok::Word | Tok::Str | Tok::Angle))
            {
                return Err(wrong(line));
            }
            Operand::Name(line.name("a name")?.0, bits)
        }
        ArgKind::Local | ArgKind::Free => {
            if line
                .peek()
                .is_some_and(|t| !matches!(t.kind, Tok::Word | Tok::Str | Tok::Angle))
            {
                return Err(wrong(line));
            }
            let (n, _) = line.name("a variable name")?;
            if kind == ArgKind::Local {
                Operand::Local(n)
            } else {
                Operand::Free(n)
            }
        }
        ArgKind::LocalPair => {
            let (a, _) = line.name("a variable name")?;
            line.eat(Tok::Comma, ",");
            let (b, _) = line.name("a second variable name")?;
            Operand::LocalPair(a, b)
        }
        ArgKind::Jump => {
            let t = line.next().filter(|t| t.kind == Tok::Word);
            match t {
                Some(t) => Operand::Jump(line.slice(t).to_string()),
                None => return Err(wrong(line)),
            }
        }
        ArgKind::Compare => {
            let first = line.here();
            let mut to_bool = false;
            if line.peek_is(Tok::Word, "bool") && v.compare_op_has_to_bool_bit() {
                line.next();
                line.expect(Tok::LParen, "`(`")?;
                to_bool = true;
            }
            let mut parts = Vec::new();
            while let Some(t) = line.peek() {
                if t.kind == Tok::RParen {
                    break;
                }
                parts.push(line.slice(t));
                line.next();
            }
            if to_bool {
                line.expect(Tok::RParen, "`)`")?;
            }
            let text = parts.join(" ");
            let table = v.opcodes().cmp_op;
            let Some(index) = table.iter().position(|&c| c == text) else {
                return Err(err_hint(
                    first.to(line.here()),
                    format!("unknown comparison `{text}`"),
                    format!("{} compares with one of: {}", v, table.join(" ")),
                ));
            };
            Operand::Arg(compare_arg(v, index as u32, to_bool))
        }
        ArgKind::BinaryOp => {
            let t = line
                .next()
                .filter(|t| matches!(t.kind, Tok::Op | Tok::Word));
            let Some(t) = t else { return Err(wrong(line)) };
            let text = line.slice(t);
            let table = v.opcodes().nb_ops;
            let Some(index) = table.iter().position(|&(n, s)| s == text || n == text) else {
                return Err(err_hint(
                    Line::span_of(t),
                    format!("unknown binary operator `{text}`"),
                    "write the operator as dis shows it: + - * += ...",
                ));
            };
            Operand::Arg(index as u32)
        }
        ArgKind::Intrinsic1 | ArgKind::Intrinsic2 => {
            let table = if kind == ArgKind::Intrinsic1 {
                v.opcodes().intrinsic1
            } else {
                v.opcodes().intrinsic2
            };
            match line.peek() {
                Some(t) if t.kind == Tok::Word => {
                    line.next();
                    let text = line.slice(t);
                    let index = table.iter().position(|&n| n == text).ok_or_else(|| {
                        err(Line::span_of(t), format!("unknown intrinsic `{text}`"))
                    })?;
                    Operand::Arg(index as u32)
                }
                _ => Operand::Arg(line.uint("an intrinsic name or number")?),
            }
        }
    })
}

fn describe(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::None => "no argument",
        ArgKind::Int => "a number",
        ArgKind::Const => "a constant such as 'text', 42 or None",
        ArgKind::Name { .. } => "a name",
        ArgKind::Local => "a local variable name",
        ArgKind::LocalPair => "two local variable names",
        ArgKind::Free => "a cell or free variable name",
        ArgKind::Jump => "a label",
        ArgKind::Compare => "a comparison operator such as <",
        ArgKind::BinaryOp => "an operator such as + or +=",
        ArgKind::Intrinsic1 | ArgKind::Intrinsic2 => "an intrinsic name",
    }
}

/// Parses a whole file. Errors are collected per line, so one mistake does not hide others.
pub fn parse(text: &str, default: Option<PythonVersion>) -> Result<Program, Vec<AsmError>> {
    let mut errors = Vec::new();
    let mut lines: Vec<Vec<Token>> = vec![Vec::new()];
    // A line with a character that starts no token is reported once and skipped.
    let mut bad_line = false;
    for t in lex(text) {
        match t {
            Ok(t) if t.kind == Tok::Newline => {
                lines.push(Vec::new());
                bad_line = false;
            }
            Ok(t) if !bad_line => {
                if let Some(l) = lines.last_mut() {
                    l.push(t)
                }
            }
            Ok(_) => {}
            Err((start, end)) => {
                if !bad_line {
                    let what = text.get(start..end).unwrap_or("");
                    let hint = if what.starts_with(['\'', '"']) {
                        Some("close the string on the same line")
                    } else {
                        None
                    };
                    let mut e = err(Span { start, end }, format!("unexpected `{what}`"));
                    e.hint = hint.map(String::from);
                    errors.push(e);
                }
                bad_line = true;
                if let Some(l) = lines.last_mut() {
                    l.clear()
                }
            }
        }
    }
    let mut version: Option<PythonVersion> = None;
    let mut stack = vec![CodeBlock {
        label: PyStr::from("<module>"),
        ..CodeBlock::default()
    }];
    // Conditional assembly: (enclosing code is active, this branch is, some branch was).
    let mut conds: Vec<(bool, bool, bool, Span)> = Vec::new();
    let mut line_start = 0;
    for toks in &lines {
        let eol_at = toks.last().map_or(line_start, |t| t.end);
        let mut line = Line {
            text,
            toks,
            pos: 0,
            eol: Span {
                start: eol_at,
                end: eol_at,
            },
        };
        line_start = text[eol_at..]
            .find('\n')
            .map_or(text.len(), |i| eol_at + i + 1);
        if toks.is_empty() {
            continue;
        }
        if let Err(e) = statement(&mut line, &mut version, default, &mut stack, &mut conds) {
            errors.push(e);
        }
    }
    let end = Span {
        start: text.len(),
        end: text.len(),
    };
    if let Some(&(_, _, _, span)) = conds.last() {
        errors.push(err_hint(
            span,
            "`.if` without `.endif`",
            "close it with .endif",
        ));
    }
    while stack.len() > 1 {
        let block = stack.pop().unwrap_or_default();
        errors.push(err_hint(
            block.span,
            "`.code` block without `.end`",
            "close it with .end",
        ));
        if let Some(parent) = stack.last_mut() {
            parent.children.push(block);
        }
    }
    let version = match version.or(default) {
        Some(v) => v,
        None => {
            errors.push(err_hint(
                end,
                "no target version",
                "start the file with `.version 3.X`, or give a target",
            ));
            return Err(errors);
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let module = stack.pop().unwrap_or_default();
    Ok(Program { version, module })
}

fn statement(
    line: &mut Line,
    version: &mut Option<PythonVersion>,
    default: Option<PythonVersion>,
    stack: &mut Vec<CodeBlock>,
    conds: &mut Vec<(bool, bool, bool, Span)>,
) -> Result<(), AsmError> {
    let first = line.peek().ok_or_else(|| err(line.eol, "empty line"))?;
    let first_span = Line::span_of(first);
    let word = line.slice(first);
    let active = conds.last().is_none_or(|c| c.1);
    if first.kind == Tok::Directive {
        match word {
            ".version" => {
                line.next();
                let (v, span) = version_of(line)?;
                line.finish()?;
                if version.is_some() {
                    return Err(err(span, "the version is already set"));
                }
                let started = stack.len() > 1 || !stack[0].items.is_empty();
                if started {
                    return Err(err_hint(span, "`.version` comes too late", "put it first"));
                }
                *version = Some(v);
                return Ok(());
            }
            ".if" | ".elif" | ".else" | ".endif" => {
                line.next();
                let v = version.or(default).ok_or_else(|| {
                    err_hint(
                        first_span,
                        "no target version yet",
                        "put `.version 3.X` first",
                    )
                })?;
                match word {
                    ".if" => {
                        let c = active && condition(line, v)?;
                        conds.push((active, c, c, first_span));
                    }
                    ".endif" => {
                        line.finish()?;
                        conds
                            .pop()
                            .ok_or_else(|| err(first_span, "`.endif` without `.if`"))?;
                    }
                    _ => {
                        let top = conds
                            .last_mut()
                            .ok_or_else(|| err(first_span, format!("`{word}` without `.if`")))?;
                        let c = if word == ".elif" {
                            condition(line, v)?
                        } else {
                            line.finish()?;
                            true
                        };
                        let take = top.0 && !top.2 && c;
                        top.1 = take;
                        top.2 |= take;
                    }
                }
                return Ok(());
            }
            _ => {}
        }
    }
    if !active {
        return Ok(());
    }
    let v = version.or(default).ok_or_else(|| {
        err_hint(
            first_span,
            "no target version",
            "start the file with `.version 3.X`, or give a target",
        )
    })?;
    if first.kind == Tok::Directive {
        line.next();
        return directive(line, word, first_span, v, stack);
    }
    let block = stack
        .last_mut()
        .ok_or_else(|| err(first_span, "no code block"))?;
    // `label:` and possibly an instruction after it.
    if first.kind == Tok::Word && line.toks.get(1).is_some_and(|t| t.kind == Tok::Colon) {
        line.next();
        line.next();
        block.items.push(Item::Label(word.to_string(), first_span));
        if line.at_end() {
            return Ok(());
        }
    }
    let t = line
        .next()
        .ok_or_else(|| err(line.eol, "expected an instruction"))?;
    let span = Line::span_of(t);
    let name = line.slice(t);
    if t.kind != Tok::Word {
        return Err(err(
            span,
            format!("expected an instruction, found `{name}`"),
        ));
    }
    let table = v.opcodes();
    let Some(op) = table.by_name(name) else {
        let upper = name.to_ascii_uppercase();
        let hint = if table.by_name(&upper).is_some() {
            format!("opcodes are upper case: {upper}")
        } else if PythonVersion::ALL
            .iter()
            .any(|o| o.opcodes().by_name(name).is_some())
        {
            let have: Vec<String> = PythonVersion::ALL
                .iter()
                .filter(|o| o.opcodes().by_name(name).is_some())
                .map(|o| o.to_string())
                .collect();
            format!("{name} exists in {}", have.join(", "))
        } else {
            "see Lib/opcode.py of the target version for its opcodes".to_string()
        };
        return Err(err_hint(
            span,
            format!("unknown opcode `{name}` for {v}"),
            hint,
        ));
    };
    if op.is_pseudo() {
        return Err(err_hint(
            span,
            format!("{name} is a compiler pseudo-instruction, not bytecode"),
            "write protected ranges with `.exception` instead",
        ));
    }
    if op.number == u16::from(table.extended_arg) {
        if !line.at_end() {
            return Err(err_hint(
                line.here(),
                "EXTENDED_ARG takes no argument here",
                "the assembler computes it; write the whole argument on the next instruction",
            ));
        }
        block.items.push(Item::Prefix(span));
        return Ok(());
    }
    if op.name == "CACHE" {
        return Err(err_hint(
            span,
            "CACHE units are written by the assembler",
            "remove it",
        ));
    }
    let operand = operand(line, v, op)?;
    line.finish()?;
    let span = span.to(line.eol);
    block.items.push(Item::Instr { op, operand, span });
    Ok(())
}

fn directive(
    line: &mut Line,
    word: &str,
    span: Span,
    v: PythonVersion,
    stack: &mut Vec<CodeBlock>,
) -> Result<(), AsmError> {
    if word == ".code" {
        let (label, lspan) = line.name("a code block label")?;
        line.finish()?;
        stack.push(CodeBlock {
            label,
            span: span.to(lspan),
            ..CodeBlock::default()
        });
        return Ok(());
    }
    if word == ".end" {
        line.finish()?;
        if stack.len() < 2 {
            return Err(err(span, "`.end` without `.code`"));
        }
        let block = stack.pop().unwrap_or_default();
        if let Some(parent) = stack.last_mut() {
            parent.children.push(block);
        }
        return Ok(());
    }
    let block = stack.last_mut().ok_or_else(|| err(span, "no code block"))?;
    let once = |set: bool| {
        if set {
            Err(err(
                span,
                format!("`{word}` is already given for this code block"),
            ))
        } else {
            Ok(())
        }
    };
    match word {
        ".name" => {
            once(block.name.is_some())?;
            block.name = Some(line.name("a name")?.0);
        }
        ".qualname" => {
            once(block.qualname.is_some())?;
            if !v.has_qualname() {
                return Err(err_hint(
                    span,
                    "code objects have no qualname before 3.11",
                    "remove it",
                ));
            }
            block.qualname = Some(line.name("a qualified name")?.0);
        }
        ".filename" => {
            once(block.filename.is_some())?;
            block.filename = Some(line.name("a file name")?.0);
        }
        ".firstlineno" => {
            once(block.firstlineno.is_some())?;
            block.firstlineno = Some(line.uint("a line number")?);
        }
        ".flags" => {
            once(block.flags.is_some())?;
            block.flags = Some(flag_value(line, v)?);
        }
        ".stacksize" => {
            once(block.stacksize.is_some())?;
            block.stacksize = Some(line.uint("a stack size")?);
        }
        ".args" => {
            once(block.args.is_some())?;
            block.args = Some(signature(line)?);
        }
        ".locals" => block.locals.extend(line.names("a variable name")?),
        ".cellvars" => block.cellvars.extend(line.names("a variable name")?),
        ".freevars" => block.freevars.extend(line.names("a variable name")?),
        ".localsplus" => {
            if v.locals_layout() != LocalsLayout::LocalsPlus {
                return Err(err_hint(
                    span,
                    "locals-plus exist from 3.11 on",
                    "use .locals, .cellvars, .freevars",
                ));
            }
            while !line.at_end() {
                let (n, _) = line.name("a variable name")?;
                let k = line.uint("its kind byte")?;
                let k = u8::try_from(k).map_err(|_| err(line.here(), "a kind is one byte"))?;
                block.localsplus.push((n, k));
            }
        }
        ".hidden" => {
            if !v.has_hidden_locals() {
                return Err(err_hint(
                    span,
                    "hidden locals exist from 3.12 on",
                    "remove it",
                ));
            }
            block.hidden.extend(line.names("a variable name")?)
        }
        ".names" => block.names.extend(line.names("a name")?),
        ".const" => {
            let c = constant(line)?;
            block.consts.push(c);
        }
        ".docstring" => {
            once(block.docstring.is_some())?;
            block.docstring = Some(constant(line)?);
        }
        ".linetable" | ".exceptiontable" => {
            let t = line.expect(Tok::Bytes, "a bytes literal")?;
            let bytes = bytes_literal(line.slice(t), Line::span_of(t))?;
            let slot = if word == ".linetable" {
                &mut block.linetable
            } else {
                &mut block.exceptiontable
            };
            once(slot.is_some())?;
            *slot = Some(bytes);
        }
        ".line" => {
            let pos = position(line)?;
            if pos.col.is_some() && !v.has_exception_table() {
                return Err(err_hint(
                    span.to(line.eol),
                    format!("{v} keeps no columns"),
                    "columns are recorded from 3.11 on; write the line only",
                ));
            }
            if pos.lineno.is_none() && v.line_table_format() == LineTableFormat::Lnotab {
                return Err(err(
                    span.to(line.eol),
                    format!("{v} cannot mark code without a line"),
                ));
            }
            block.items.push(Item::Line(pos));
        }
        ".exception" => {
            if !v.has_exception_table() {
                return Err(err_hint(
                    span,
                    format!("{v} has no exception table"),
                    "before 3.11, protect code with SETUP_FINALLY and friends",
                ));
            }
            let label = |line: &mut Line, what: &str| -> Result<String, AsmError> {
                let t = line.expect(Tok::Word, what)?;
                Ok(line.slice(t).to_string())
            };
            let start = label(line, "the label where the range starts")?;
            if !line.eat(Tok::Word, "to") {
                return Err(err(line.here(), "expected `to`"));
            }
            let end = label(line, "the label where the range ends")?;
            if !line.eat(Tok::Op, "->") {
                return Err(err(line.here(), "expected `->`"));
            }
            let target = label(line, "the handler's label")?;
            if !line.eat(Tok::Word, "depth") {
                return Err(err(line.here(), "expected `depth N`"));
            }
            let depth = line.uint("a stack depth")?;
            let lasti = line.eat(Tok::Word, "lasti");
            block.exceptions.push(ExceptionAst {
                start,
                end,
                target,
                depth,
                lasti,
                span: span.to(line.eol),
            });
        }
        _ => {
            return Err(err_hint(
                span,
                format!("unknown directive `{word}`"),
                "see docs/asm.md for the directives",
            ))
        }
    }
    line.finish()
}
