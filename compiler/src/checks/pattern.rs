//! `match` statements (3.10+): the errors of `compiler_match` and `compiler_pattern_*`.

use pyc_assembler::repr::{repr_bytes, repr_complex, repr_float, repr_str};
use pyc_assembler::PyStr;
use ruff_python_ast::{self as ast, Expr, Number, Operator, Pattern, UnaryOp};
use ruff_text_size::Ranged;

use super::{Checker, Loc, R};

/// What a pattern has bound so far (CPython's `pattern_context`).
#[derive(Clone, Default)]
struct Context {
    stores: Vec<String>,
    /// Whether an irrefutable pattern is allowed here.
    allow_irrefutable: bool,
}

/// `_` with no name: matches anything, binds nothing.
fn is_wildcard(p: &Pattern) -> bool {
    matches!(p, Pattern::MatchAs(a) if a.pattern.is_none() && a.name.is_none())
}

fn is_star_wildcard(p: &Pattern) -> bool {
    matches!(p, Pattern::MatchStar(s) if s.name.is_none())
}

impl<'a> Checker<'a> {
    /// `compiler_match`.
    pub(super) fn match_(&mut self, m: &'a ast::StmtMatch) -> R {
        self.expr(&m.subject)?;
        let cases = m.cases.len();
        let has_default = cases > 1 && m.cases.last().is_some_and(|c| is_wildcard(&c.pattern));
        for (i, case) in m.cases.iter().enumerate() {
            let loc = self.loc(case.pattern.range());
            self.set_cursor(loc);
            if has_default && i + 1 == cases {
                self.opt_expr(case.guard.as_deref())?;
                self.stmts(&case.body)?;
                break;
            }
            let mut pc = Context {
                stores: Vec::new(),
                allow_irrefutable: case.guard.is_some() || i + 1 == cases,
            };
            self.pattern(&case.pattern, &mut pc)?;
            self.opt_expr(case.guard.as_deref())?;
            self.stmts(&case.body)?;
        }
        Ok(())
    }

    /// `compiler_pattern`.
    fn pattern(&mut self, p: &'a Pattern, pc: &mut Context) -> R {
        let loc = self.loc(p.range());
        self.set_cursor(loc);
        match p {
            Pattern::MatchValue(m) => {
                if constant(&m.value).is_none() && !m.value.is_attribute_expr() {
                    return Err(self.error(
                        self.at(loc),
                        "patterns may only match literals and attribute lookups",
                    ));
                }
                self.expr(&m.value)
            }
            Pattern::MatchSingleton(_) => Ok(()),
            Pattern::MatchSequence(s) => self.sequence_pattern(&s.patterns, pc, loc),
            Pattern::MatchMapping(m) => self.mapping_pattern(m, pc, loc),
            Pattern::MatchClass(c) => self.class_pattern(c, pc),
            Pattern::MatchStar(s) => self.store_capture(s.name.as_deref(), pc, loc),
            Pattern::MatchAs(a) => {
                match &a.pattern {
                    None => {
                        if !pc.allow_irrefutable {
                            let message = match &a.name {
                                Some(name) => {
                                    format!("name capture '{name}' makes remaining patterns unreachable")
                                }
                                None => "wildcard makes remaining patterns unreachable".into(),
                            };
                            return Err(self.error(self.at(loc), message));
                        }
                        self.store_capture(a.name.as_deref(), pc, loc)
                    }
                    Some(inner) => {
                        self.pattern(inner, pc)?;
                        self.store_capture(a.name.as_deref(), pc, loc)
                    }
                }
            }
            Pattern::MatchOr(o) => self.or_pattern(&o.patterns, pc, loc),
        }
    }

    /// `compiler_pattern_subpattern`: irrefutable patterns are fine inside others.
    fn subpattern(&mut self, p: &'a Pattern, pc: &mut Context) -> R {
        let allow = pc.allow_irrefutable;
        pc.allow_irrefutable = true;
        self.pattern(p, pc)?;
        pc.allow_irrefutable = allow;
        Ok(())
    }

    /// `pattern_helper_store_name`.
    fn store_capture(&mut self, name: Option<&str>, pc: &mut Context, loc: Loc) -> R {
        let Some(name) = name else {
            return Ok(());
        };
        self.store_name(name, loc)?;
        if pc.stores.iter().any(|s| s == name) {
            return Err(self.error(
                self.at(loc),
                format!("multiple assignments to name '{name}' in pattern"),
            ));
        }
        pc.stores.push(name.to_string());
        Ok(())
    }

    /// `compiler_pattern_sequence`.
    fn sequence_pattern(&mut self, patterns: &'a [Pattern], pc: &mut Context, loc: Loc) -> R {
        let mut star = None;
        let mut only_wildcard = true;
        let mut star_wildcard = false;
        for (i, p) in patterns.iter().enumerate() {
            if let Pattern::MatchStar(_) = p {
                if star.is_some() {
                    return Err(
                        self.error(self.at(loc), "multiple starred names in sequence pattern")
                    );
                }
                star_wildcard = is_star_wildcard(p);
                only_wildcard &= star_wildcard;
                star = Some(i);
                continue;
            }
            only_wildcard &= is_wildcard(p);
        }
        if only_wildcard {
            return Ok(());
        }
        if !star_wildcard && star.is_some_and(|i| i >= 1 << 8) {
            return Err(self.error(
                self.at(loc),
                "too many expressions in star-unpacking sequence pattern",
            ));
        }
        for (i, p) in patterns.iter().enumerate() {
            if star_wildcard && (is_wildcard(p) || Some(i) == star) {
                continue;
            }
            self.subpattern(p, pc)?;
        }
        Ok(())
    }

    /// `compiler_pattern_mapping`.
    fn mapping_pattern(
        &mut self,
        m: &'a ast::PatternMatchMapping,
        pc: &mut Context,
        loc: Loc,
    ) -> R {
        if m.keys.is_empty() && m.rest.is_none() {
            return Ok(());
        }
        let mut seen: Vec<Key> = Vec::new();
        for key in &m.keys {
            match constant(key) {
                Some(k) => {
                    if seen.iter().any(|s| s.equals(&k)) {
                        let message =
                            format!("mapping pattern checks duplicate key ({})", k.repr(self.v));
                        return Err(self.error(self.at(loc), message));
                    }
                    seen.push(k);
                }
                None if !key.is_attribute_expr() => {
                    return Err(self.error(
                        self.at(loc),
                        "mapping pattern keys may only match literals and attribute lookups",
                    ));
                }
                None => {}
            }
            self.expr(key)?;
        }
        for p in &m.patterns {
            self.subpattern(p, pc)?;
        }
        self.store_capture(m.rest.as_deref(), pc, loc)
    }

    /// `compiler_pattern_class`.
    fn class_pattern(&mut self, c: &'a ast::PatternMatchClass, pc: &mut Context) -> R {
        let keywords = &c.arguments.keywords;
        for (i, k) in keywords.iter().enumerate() {
            let at = self.loc(k.pattern.range());
            self.set_cursor(at);
            self.store_name(&k.attr, at)?;
            if let Some(other) = keywords[i + 1..]
                .iter()
                .find(|o| o.attr.as_str() == k.attr.as_str())
            {
                let at = self.loc(other.pattern.range());
                self.set_cursor(at);
                return Err(self.error(
                    self.at(at),
                    format!("attribute name repeated in class pattern: {}", k.attr),
                ));
            }
        }
        self.set_cursor(self.loc(c.range));
        self.expr(&c.cls)?;
        let positional = c.arguments.patterns.iter();
        for p in positional.chain(keywords.iter().map(|k| &k.pattern)) {
            if !is_wildcard(p) {
                self.subpattern(p, pc)?;
            }
        }
        Ok(())
    }

    /// `compiler_pattern_or`: every alternative must bind the same names.
    fn or_pattern(&mut self, alternatives: &'a [Pattern], pc: &mut Context, loc: Loc) -> R {
        let old = pc.clone();
        let mut control: Option<Vec<String>> = None;
        for (i, alt) in alternatives.iter().enumerate() {
            self.set_cursor(self.loc(alt.range()));
            let mut alt_pc = Context {
                stores: Vec::new(),
                allow_irrefutable: i + 1 == alternatives.len() && old.allow_irrefutable,
            };
            self.pattern(alt, &mut alt_pc)?;
            match &control {
                None => control = Some(alt_pc.stores),
                Some(names) => {
                    let same = names.len() == alt_pc.stores.len()
                        && names.iter().all(|n| alt_pc.stores.contains(n));
                    if !same {
                        return Err(
                            self.error(self.at(loc), "alternative patterns bind different names")
                        );
                    }
                }
            }
        }
        *pc = old;
        for name in control.unwrap_or_default() {
            if pc.stores.contains(&name) {
                return Err(self.error(
                    self.at(loc),
                    format!("multiple assignments to name '{name}' in pattern"),
                ));
            }
            pc.stores.push(name);
        }
        Ok(())
    }
}

/// A constant key or value of a pattern, as CPython's AST optimizer folds it.
#[derive(Clone, Debug)]
enum Key {
    /// A number: its real part (an integer when exact), imaginary part and Python type.
    Number {
        re: Real,
        im: f64,
        ty: NumberType,
    },
    Str(String),
    Bytes(Vec<u8>),
    None,
    Ellipsis,
}

/// The type of a numeric constant, for its `repr()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumberType {
    Bool,
    Int,
    Float,
    Complex,
}

#[derive(Clone, Debug)]
enum Real {
    Int(i128),
    /// An integer too large for `i128`, as its decimal digits (with a sign).
    Big(String),
    Float(f64),
}

impl Real {
    fn as_f64(&self) -> f64 {
        match self {
            Real::Int(i) => *i as f64,
            Real::Big(s) => s.parse().unwrap_or(f64::NAN),
            Real::Float(f) => *f,
        }
    }

    fn equals(&self, other: &Real) -> bool {
        match (self, other) {
            (Real::Int(a), Real::Int(b)) => a == b,
            (Real::Big(a), Real::Big(b)) => a == b,
            (Real::Float(a), Real::Float(b)) => a == b,
            (Real::Int(i), Real::Float(f)) | (Real::Float(f), Real::Int(i)) => {
                f.fract() == 0.0 && f.abs() < 1e38 && *f as i128 == *i
            }
            (Real::Big(s), Real::Float(f)) | (Real::Float(f), Real::Big(s)) => {
                f.fract() == 0.0 && format!("{f:.0}") == *s
            }
            (Real::Int(_), Real::Big(_)) | (Real::Big(_), Real::Int(_)) => false,
        }
    }

    fn negate(self) -> Real {
        match self {
            Real::Int(i) => Real::Int(-i),
            Real::Big(s) => match s.strip_prefix('-') {
                Some(digits) => Real::Big(digits.to_string()),
                None => Real::Big(format!("-{s}")),
            },
            Real::Float(f) => Real::Float(-f),
        }
    }

    fn repr(&self) -> String {
        match self {
            Real::Int(i) => i.to_string(),
            Real::Big(s) => s.clone(),
            Real::Float(f) => repr_float(*f),
        }
    }
}

impl Key {
    /// Python's `==` between two constants (what a set of keys compares).
    fn equals(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Number { re: a, im: ai, .. }, Key::Number { re: b, im: bi, .. }) => {
                a.equals(b) && ai == bi
            }
            (Key::Str(a), Key::Str(b)) => a == b,
            (Key::Bytes(a), Key::Bytes(b)) => a == b,
            (Key::None, Key::None) | (Key::Ellipsis, Key::Ellipsis) => true,
            _ => false,
        }
    }

    fn repr(&self, v: pyc_assembler::PythonVersion) -> String {
        match self {
            Key::Number { re, ty, .. } if *ty == NumberType::Bool => if re.equals(&Real::Int(0)) {
                "False"
            } else {
                "True"
            }
            .into(),
            Key::Number { re, ty, .. } if *ty != NumberType::Complex => re.repr(),
            Key::Number { re, im, .. } => repr_complex(re.as_f64(), *im),
            Key::Str(s) => repr_str(&PyStr::from(s.as_str()), v),
            Key::Bytes(b) => repr_bytes(b),
            Key::None => "None".into(),
            Key::Ellipsis => "Ellipsis".into(),
        }
    }
}

/// The value of a literal pattern expression after constant folding: numbers with signs and
/// complex sums, strings, bytes, `None`, `True`, `False`.
fn constant(e: &Expr) -> Option<Key> {
    Some(match e {
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => Key::Number {
                re: int_value(i)?,
                im: 0.0,
                ty: NumberType::Int,
            },
            Number::Float(f) => Key::Number {
                re: Real::Float(*f),
                im: 0.0,
                ty: NumberType::Float,
            },
            Number::Complex { real, imag } => Key::Number {
                re: Real::Float(*real),
                im: *imag,
                ty: NumberType::Complex,
            },
        },
        Expr::BooleanLiteral(b) => Key::Number {
            re: Real::Int(i128::from(b.value)),
            im: 0.0,
            ty: NumberType::Bool,
        },
        Expr::StringLiteral(s) => Key::Str(s.value.to_str().to_string()),
        Expr::BytesLiteral(b) => Key::Bytes(b.value.bytes().collect()),
        Expr::NoneLiteral(_) => Key::None,
        Expr::EllipsisLiteral(_) => Key::Ellipsis,
        Expr::UnaryOp(u) if u.op == UnaryOp::USub => match constant(&u.operand)? {
            Key::Number { re, im, ty } => Key::Number {
                re: re.negate(),
                im: -im,
                ty: if ty == NumberType::Bool {
                    NumberType::Int
                } else {
                    ty
                },
            },
            _ => return None,
        },
        Expr::BinOp(b) if matches!(b.op, Operator::Add | Operator::Sub) => {
            let (
                Key::Number {
                    re: lre, im: lim, ..
                },
                Key::Number {
                    re: rre, im: rim, ..
                },
            ) = (constant(&b.left)?, constant(&b.right)?)
            else {
                return None;
            };
            // Only `real ± imaginary` reaches here from the parser.
            let sign = if b.op == Operator::Sub { -1.0 } else { 1.0 };
            let re = match (&lre, &rre) {
                (_, Real::Float(f)) if *f == 0.0 => lre,
                _ => Real::Float(lre.as_f64() + sign * rre.as_f64()),
            };
            Key::Number {
                re,
                im: lim + sign * rim,
                ty: NumberType::Complex,
            }
        }
        _ => return None,
    })
}

/// An integer literal's value: small ones exactly, big ones as decimal digits when written
/// in decimal.
fn int_value(i: &ast::Int) -> Option<Real> {
    if let Some(small) = i.as_u64() {
        return Some(Real::Int(i128::from(small)));
    }
    let text = i.to_string().replace('_', "");
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let digits = text.trim_start_matches('0');
        return Some(match digits.parse::<i128>() {
            Ok(n) => Real::Int(n),
            Err(_) => Real::Big(digits.to_string()),
        });
    }
    // A big hexadecimal, octal or binary literal: equal only to itself.
    Some(Real::Big(text.to_ascii_lowercase()))
}
