//! Expressions in CPython's code generation order (`compiler_visit_expr1` and its helpers).

use ruff_python_ast::{self as ast, Expr, ExprContext};
use ruff_text_size::{Ranged, TextRange};

use super::{Block, Checker, CompilerVersion, Cursor, Loc, UnitKind, R};
use crate::symtable::ComprehensionKind;

impl<'a> Checker<'a> {
    pub(super) fn exprs(&mut self, exprs: &'a [Expr]) -> R {
        exprs.iter().try_for_each(|e| self.expr(e))
    }

    pub(super) fn opt_expr(&mut self, e: Option<&'a Expr>) -> R {
        e.map_or(Ok(()), |e| self.expr(e))
    }

    /// `compiler_visit_expr`: up to 3.11 the unit's position moves to the expression while it
    /// is compiled.
    pub(super) fn expr(&mut self, e: &'a Expr) -> R {
        let saved = self.unit().cursor;
        let range = e.range();
        self.unit_mut().cursor = Cursor::Expr(range);
        self.expr1(e, range)?;
        self.unit_mut().cursor = saved;
        Ok(())
    }

    /// `e`, whose range is `range` (its position is computed only for an error).
    fn expr1(&mut self, e: &'a Expr, range: TextRange) -> R {
        match e {
            Expr::Named(n) => {
                self.expr(&n.value)?;
                self.expr(&n.target)
            }
            Expr::BoolOp(b) => self.exprs(&b.values),
            Expr::BinOp(b) => {
                self.expr(&b.left)?;
                self.expr(&b.right)
            }
            Expr::UnaryOp(u) => self.expr(&u.operand),
            Expr::Lambda(l) => self.lambda(l),
            Expr::If(i) => {
                self.expr(&i.test)?;
                self.expr(&i.body)?;
                self.expr(&i.orelse)
            }
            Expr::Dict(d) => d.items.iter().try_for_each(|item| {
                self.opt_expr(item.key.as_ref())?;
                self.expr(&item.value)
            }),
            Expr::Set(s) => self.elements(&s.elts),
            Expr::ListComp(c) => {
                self.comprehension(e, ComprehensionKind::List, &c.generators, &c.elt, None)
            }
            Expr::SetComp(c) => {
                self.comprehension(e, ComprehensionKind::Set, &c.generators, &c.elt, None)
            }
            Expr::DictComp(c) => match &c.key {
                Some(key) => self.comprehension(
                    e,
                    ComprehensionKind::Dict,
                    &c.generators,
                    key,
                    Some(&c.value),
                ),
                None => self.expr(&c.value),
            },
            Expr::Generator(g) => {
                self.comprehension(e, ComprehensionKind::Generator, &g.generators, &g.elt, None)
            }
            Expr::Yield(y) => {
                if !self.in_function() {
                    return Err(self.error(self.at(self.loc(range)), "'yield' outside function"));
                }
                self.opt_expr(y.value.as_deref())
            }
            Expr::YieldFrom(y) => {
                if !self.in_function() {
                    let message = if self.v.names_yield_from_outside() {
                        "'yield from' outside function"
                    } else {
                        "'yield' outside function"
                    };
                    return Err(self.error(self.at(self.loc(range)), message));
                }
                if self.unit().kind == UnitKind::AsyncFunction {
                    return Err(self.error(
                        self.at(self.loc(range)),
                        "'yield from' inside async function",
                    ));
                }
                self.expr(&y.value)
            }
            Expr::Await(a) => {
                if !self.in_function() {
                    return Err(self.error(self.at(self.loc(range)), "'await' outside function"));
                }
                if !matches!(
                    self.unit().kind,
                    UnitKind::AsyncFunction | UnitKind::Comprehension
                ) {
                    return Err(
                        self.error(self.at(self.loc(range)), "'await' outside async function")
                    );
                }
                self.expr(&a.value)
            }
            Expr::Compare(c) => {
                self.expr(&c.left)?;
                self.exprs(&c.comparators)
            }
            Expr::Call(c) => self.call(c),
            Expr::FString(f) => {
                for part in f.value.as_slice() {
                    if let ast::FStringPart::FString(fs) = part {
                        self.interpolations(&fs.elements)?;
                    }
                }
                Ok(())
            }
            Expr::TString(t) => t
                .value
                .as_slice()
                .iter()
                .try_for_each(|part| self.interpolations(&part.elements)),
            Expr::Attribute(a) => {
                self.expr(&a.value)?;
                if a.ctx == ExprContext::Store
                    && self.v.compiler_checks_debug()
                    && a.attr.as_str() == "__debug__"
                {
                    let at = self.attribute_loc(a, self.loc(range));
                    return Err(self.error(self.at(at), "cannot assign to __debug__"));
                }
                Ok(())
            }
            Expr::Subscript(s) => {
                self.expr(&s.value)?;
                self.expr(&s.slice)
            }
            Expr::Starred(s) => {
                let message = if s.ctx == ExprContext::Store {
                    "starred assignment target must be in a list or tuple"
                } else {
                    "can't use starred expression here"
                };
                Err(self.error(self.at(self.loc(range)), message))
            }
            Expr::Slice(s) => {
                self.opt_expr(s.lower.as_deref())?;
                self.opt_expr(s.upper.as_deref())?;
                self.opt_expr(s.step.as_deref())
            }
            Expr::Name(n) => {
                if self.v.compiler_checks_debug() && n.id.as_str() == "__debug__" {
                    match n.ctx {
                        ExprContext::Store => {
                            return Err(
                                self.error(self.at(self.loc(range)), "cannot assign to __debug__")
                            )
                        }
                        ExprContext::Del if self.v.compiler_checks_debug_delete() => {
                            return Err(
                                self.error(self.at(self.loc(range)), "cannot delete __debug__")
                            )
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Expr::List(l) => self.sequence(&l.elts, l.ctx, self.loc(range)),
            Expr::Tuple(t) => self.sequence(&t.elts, t.ctx, self.loc(range)),
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
            | Expr::IpyEscapeCommand(_) => Ok(()),
        }
    }

    /// 3.12+ reports an attribute spanning lines at the attribute name.
    fn attribute_loc(&self, a: &ast::ExprAttribute, loc: Loc) -> Loc {
        if !self.v.explicit_locations() || loc.line == loc.end_line {
            return loc;
        }
        let attr = self.loc(a.attr.range);
        Loc {
            line: loc.end_line,
            col: attr.col,
            ..loc
        }
    }

    fn interpolations(&mut self, elements: &'a ast::InterpolatedStringElements) -> R {
        for element in elements.iter() {
            if let ast::InterpolatedStringElement::Interpolation(i) = element {
                self.expr(&i.expression)?;
                if let Some(spec) = &i.format_spec {
                    self.interpolations(&spec.elements)?;
                }
            }
        }
        Ok(())
    }

    /// Elements of a list, tuple, set or call that may be unpacked with `*`
    /// (`starunpack_helper`).
    fn elements(&mut self, elts: &'a [Expr]) -> R {
        elts.iter().try_for_each(|e| match e {
            Expr::Starred(s) => self.expr(&s.value),
            _ => self.expr(e),
        })
    }

    /// A list or tuple: built from its elements, unpacked into targets
    /// (`assignment_helper`), or deleted.
    fn sequence(&mut self, elts: &'a [Expr], ctx: ExprContext, loc: Loc) -> R {
        match ctx {
            ExprContext::Load => self.elements(elts),
            ExprContext::Store => {
                let mut seen_star = false;
                for (i, e) in elts.iter().enumerate() {
                    if !e.is_starred_expr() {
                        continue;
                    }
                    if seen_star {
                        let message = if self.v.minor() == 8 {
                            "two starred expressions in assignment"
                        } else {
                            "multiple starred expressions in assignment"
                        };
                        return Err(self.error(self.at(loc), message));
                    }
                    if i >= 1 << 8 {
                        return Err(self.error(
                            self.at(loc),
                            "too many expressions in star-unpacking assignment",
                        ));
                    }
                    seen_star = true;
                }
                self.elements(elts)
            }
            _ => self.exprs(elts),
        }
    }

    /// `compiler_lambda`.
    fn lambda(&mut self, l: &'a ast::ExprLambda) -> R {
        if let Some(params) = l.parameters.as_deref() {
            if self.v.compiler_checks_debug() {
                self.check_debug_params(params)?;
            }
            self.defaults(params)?;
        }
        let Some(scope) = self.table.lambda(l) else {
            return Ok(());
        };
        self.enter(scope, UnitKind::Lambda);
        self.expr(&l.body)?;
        self.exit();
        Ok(())
    }

    /// `compiler_call`: 3.11+ checks the keywords before anything, 3.9 and 3.10 after the
    /// called expression.
    fn call(&mut self, c: &'a ast::ExprCall) -> R {
        if self.v.minor() >= 11 {
            self.validate_keywords(&c.arguments.keywords)?;
        }
        self.expr(&c.func)?;
        self.call_arguments(&c.arguments)
    }

    /// `compiler_call_helper`: positional arguments, then keyword arguments.
    pub(super) fn call_arguments(&mut self, arguments: &'a ast::Arguments) -> R {
        if self.v.compiler_checks_debug() {
            self.validate_keywords(&arguments.keywords)?;
        }
        self.elements(&arguments.args)?;
        arguments
            .keywords
            .iter()
            .try_for_each(|k| self.expr(&k.value))
    }

    /// `validate_keywords` (3.9+): no keyword called `__debug__`, none repeated.
    fn validate_keywords(&mut self, keywords: &'a [ast::Keyword]) -> R {
        for (i, k) in keywords.iter().enumerate() {
            let Some(arg) = &k.arg else {
                continue;
            };
            if arg.as_str() == "__debug__" {
                let at = self.at(self.loc(k.range));
                return Err(self.error(at, "cannot assign to __debug__"));
            }
            let repeated = keywords[i + 1..].iter().find(|other| {
                other
                    .arg
                    .as_ref()
                    .is_some_and(|o| o.as_str() == arg.as_str())
            });
            if let Some(other) = repeated {
                let other = self.loc(other.range);
                let at = match self.v.minor() {
                    // 3.9 only moves the column.
                    9 => Loc {
                        col: other.col,
                        ..self.cursor()
                    },
                    10 | 11 => other,
                    _ => self.at(other),
                };
                return Err(self.error(at, format!("keyword argument repeated: {arg}")));
            }
        }
        Ok(())
    }

    /// `compiler_comprehension`: a function of its own, or (3.12+, PEP 709) inlined into the
    /// enclosing code.
    fn comprehension(
        &mut self,
        e: &'a Expr,
        kind: ComprehensionKind,
        generators: &'a [ast::Comprehension],
        elt: &'a Expr,
        value: Option<&'a Expr>,
    ) -> R {
        let Some(scope) = self.table.comprehension(e) else {
            return Ok(());
        };
        let Some(outermost) = generators.first() else {
            return Ok(());
        };
        let flags = self.table.scope(scope).flags;
        let outer = self.unit().kind;
        let outer_coroutine = self.table.scope(self.unit().scope).flags.coroutine;
        let inlined = flags.comp_inlined;
        let loc = self.loc(e.range());
        if inlined {
            self.expr(&outermost.iter)?;
        } else {
            self.enter(scope, UnitKind::Comprehension);
            if self.v.has_end_positions() {
                self.set_cursor(loc);
            }
        }
        let allowed = if self.v.async_comprehension_by_unit() {
            matches!(outer, UnitKind::AsyncFunction | UnitKind::Comprehension)
        } else {
            outer_coroutine
        };
        if flags.coroutine && kind != ComprehensionKind::Generator && !allowed {
            return Err(self.error(
                self.at(loc),
                "asynchronous comprehension outside of an asynchronous function",
            ));
        }
        self.generators(generators, 0, elt, value)?;
        if !inlined {
            self.exit();
            self.expr(&outermost.iter)?;
        }
        Ok(())
    }

    /// `compiler_comprehension_generator`: each `for` clause nests the next.
    fn generators(
        &mut self,
        generators: &'a [ast::Comprehension],
        index: usize,
        elt: &'a Expr,
        value: Option<&'a Expr>,
    ) -> R {
        let Some(generator) = generators.get(index) else {
            // 3.15+: `[*it for it in its]` unpacks each element (PEP 798).
            match elt {
                Expr::Starred(s) if value.is_none() && self.v.unpacks_in_comprehensions() => {
                    self.expr(&s.value)?
                }
                _ => self.expr(elt)?,
            }
            return self.opt_expr(value);
        };
        if index > 0 {
            self.expr(&generator.iter)?;
        }
        let async_block = generator.is_async && self.v.has_end_positions();
        if async_block {
            self.push_block(Block::AsyncComprehension, self.loc(generator.range))?;
        }
        self.expr(&generator.target)?;
        self.exprs(&generator.ifs)?;
        self.generators(generators, index + 1, elt, value)?;
        if async_block {
            self.pop_block();
        }
        Ok(())
    }
}
