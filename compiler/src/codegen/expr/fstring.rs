//! f-strings: `compiler_joined_str` and `compiler_formatted_value` (3.11 `compile.c`) over
//! the `JoinedStr` CPython 3.11's parser builds, which ruff's `ExprFString` parts are turned
//! into here: adjacent literal text (string parts, literal elements and the text of `{x=}`)
//! merges into one constant and empty text disappears; the constants and formatted values
//! stand at the whole f-string's location, and a format spec's `JoinedStr` and the text
//! ending it at the location of the f-string part holding it. An f-string made from `%` formatting by the fold pass has no
//! location for its literal text, and its formatted values stand at their items.

use pyc_assembler::{Constant, PyStr};
use ruff_python_ast::{self as ast, ConversionFlag, Expr, FStringPart, InterpolatedStringElement};

use ruff_text_size::{TextRange, TextSize};

use super::STACK_USE_GUIDELINE;
use crate::codegen::ir::{Loc, Op};
use crate::codegen::{CResult, Compiler};
use crate::fold;

/// One item of a `JoinedStr`'s values.
enum Piece<'a> {
    /// A `Constant` string at a location.
    Text(Vec<u32>, Loc),
    /// A `FormattedValue` at a location, its format spec's `JoinedStr` located at `spec_at`.
    Value {
        element: &'a ast::InterpolatedElement,
        at: Loc,
        spec_at: Loc,
        /// The format spec's pieces.
        spec: Option<Vec<Piece<'a>>>,
    },
}

/// Collects the values of a `JoinedStr`, merging literal text.
struct Collector<'a> {
    pieces: Vec<Piece<'a>>,
    pending: Vec<u32>,
}

impl<'a> Collector<'a> {
    fn new() -> Self {
        Collector {
            pieces: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn text(&mut self, s: &str) {
        self.pending.extend(s.chars().map(u32::from));
    }

    fn points(&mut self, points: Vec<u32>) {
        self.pending.extend(points);
    }

    fn flush(&mut self, at: Loc) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.pieces.push(Piece::Text(text, at));
        }
    }

    fn finish(mut self, at: Loc) -> Vec<Piece<'a>> {
        self.flush(at);
        self.pieces
    }
}

impl<'a> Compiler<'a> {
    /// `compiler_joined_str` for an f-string expression.
    pub(super) fn joined_str(&mut self, f: &'a ast::ExprFString) -> CResult {
        let pieces = match self.folded.format_literals(f) {
            Some(exact) => {
                let exact = exact.to_vec();
                self.format_pieces(f, &exact)
            }
            None => {
                let at = self.loc_of(f.range);
                let mut c = Collector::new();
                for part in f.value.iter() {
                    match part {
                        FStringPart::Literal(s) => c.points(self.exact_text(
                            &s.value,
                            s.content_range(),
                            s.flags.prefix().is_raw(),
                            false,
                        )),
                        FStringPart::FString(fs) => {
                            let raw = fs.flags.prefix().is_raw();
                            self.collect(&mut c, &fs.elements, at, self.loc_of(fs.range), raw)
                        }
                    }
                }
                c.finish(at)
            }
        };
        self.emit_joined(&pieces)
    }

    /// The pieces of an f-string's (or a format spec's) elements: text and formatted values
    /// at `at`, format specs at `spec_at`.
    fn collect(
        &self,
        c: &mut Collector<'a>,
        elements: &'a ast::InterpolatedStringElements,
        at: Loc,
        spec_at: Loc,
        raw: bool,
    ) {
        for element in elements.iter() {
            match element {
                InterpolatedStringElement::Literal(l) => {
                    c.points(self.exact_text(&l.value, l.range, raw, true))
                }
                InterpolatedStringElement::Interpolation(i) => {
                    if let Some(debug) = &i.debug_text {
                        c.text(debug.as_str());
                    }
                    c.flush(at);
                    let spec = i.format_spec.as_deref().map(|spec| {
                        let mut inner = Collector::new();
                        self.collect(&mut inner, &spec.elements, at, spec_at, raw);
                        // As 3.11's parser, text ending a spec is at the part's location,
                        // text before a value at the whole f-string's.
                        inner.finish(spec_at)
                    });
                    c.pieces.push(Piece::Value {
                        element: i,
                        at,
                        spec_at,
                        spec,
                    });
                }
            }
        }
    }

    /// The exact code points of literal text whose source is at `range`: ruff's decoded
    /// `value` stands U+FFFD in for escaped lone surrogates (`'\udc80'`), so such text is
    /// decoded again from the source (with `{{` and `}}` undoubled in an f-string).
    fn exact_text(&self, value: &str, range: TextRange, raw: bool, fstring: bool) -> Vec<u32> {
        let again = (value.contains('\u{fffd}') && !raw)
            .then(|| {
                self.source
                    .get(range.start().to_usize()..range.end().to_usize())
            })
            .flatten()
            .and_then(|body| {
                if fstring {
                    fold::decode_escapes(&body.replace("{{", "{").replace("}}", "}"))
                } else {
                    fold::decode_escapes(body)
                }
            });
        again.unwrap_or_else(|| value.chars().map(u32::from).collect())
    }

    /// The pieces of an f-string the fold pass made from `%` formatting: literal text (exact,
    /// in `exact`) without location, values at their items.
    fn format_pieces(&self, f: &'a ast::ExprFString, exact: &[PyStr]) -> Vec<Piece<'a>> {
        let mut exact = exact.iter();
        let mut pieces = Vec::new();
        for element in f.value.elements() {
            match element {
                InterpolatedStringElement::Literal(l) => {
                    let points = match exact.next() {
                        Some(s) => s.code_points().collect(),
                        None => l.value.chars().map(u32::from).collect(),
                    };
                    pieces.push(Piece::Text(points, Loc::NONE));
                }
                InterpolatedStringElement::Interpolation(i) => {
                    let at = self.loc_of(i.range);
                    let spec = i.format_spec.as_deref().map(|spec| {
                        let mut c = Collector::new();
                        for e in spec.elements.iter() {
                            if let InterpolatedStringElement::Literal(l) = e {
                                c.text(&l.value);
                            }
                        }
                        c.finish(Loc::NONE)
                    });
                    pieces.push(Piece::Value {
                        element: i,
                        at,
                        spec_at: at,
                        spec,
                    });
                }
            }
        }
        pieces
    }

    /// Compiles the values of a `JoinedStr` and joins them (`compiler_joined_str`).
    fn emit_joined(&mut self, pieces: &[Piece<'a>]) -> CResult {
        let n = pieces.len();
        if n > STACK_USE_GUIDELINE {
            self.load_const(Constant::str(""));
            self.addop_name(Op::LOAD_METHOD, "join");
            self.addop_i(Op::BUILD_LIST, 0);
            for piece in pieces {
                self.emit_piece(piece)?;
                self.addop_i(Op::LIST_APPEND, 1);
            }
            self.addop_i(Op::PRECALL, 1);
            self.addop_i(Op::CALL, 1);
        } else {
            for piece in pieces {
                self.emit_piece(piece)?;
            }
            if n != 1 {
                self.addop_i(Op::BUILD_STRING, n as u32);
            }
        }
        Ok(())
    }

    /// One value of a `JoinedStr`, as `compiler_visit_expr` compiles it at its location.
    fn emit_piece(&mut self, piece: &Piece<'a>) -> CResult {
        let old = self.u.loc;
        let result = match piece {
            Piece::Text(points, at) => {
                self.u.loc = *at;
                let s = PyStr::from_code_points(points.iter().copied());
                self.load_const(Constant::Str(s));
                Ok(())
            }
            Piece::Value {
                element,
                at,
                spec_at,
                spec,
            } => {
                self.u.loc = *at;
                self.formatted_value(element, *spec_at, spec.as_deref())
            }
        };
        self.u.loc = old;
        result
    }

    /// Where 3.11's parser places a bare tuple in a replacement field: it parses the field's
    /// text in parentheses standing on the `{` and on the character ending the expression
    /// (`!`, `:`, `=` or `}`); when only a line break follows the `{`, the parenthesis takes
    /// the column of the f-string part (`part`).
    fn parenthesized_loc(
        &self,
        element: &ast::InterpolatedElement,
        tuple: TextRange,
        part: Loc,
    ) -> Loc {
        let after = tuple.end().to_usize();
        let skipped = self.source.get(after..).map_or(0, |rest| {
            rest.len()
                - rest
                    .trim_start_matches([' ', '\t', '\n', '\r', '\x0c'])
                    .len()
        });
        let end = (after + skipped + 1).min(element.range.end().to_usize());
        let mut loc = self.loc_of(TextRange::new(
            element.range.start(),
            TextSize::new(end as u32),
        ));
        let open = element.range.start().to_usize() + 1;
        let line_break_follows = self.source.get(open..).is_some_and(|rest| {
            rest.trim_start_matches([' ', '\t', '\x0c'])
                .starts_with(['\n', '\r'])
        });
        if line_break_follows {
            loc.col_offset = part.col_offset;
        }
        loc
    }

    /// `compiler_formatted_value`: `FORMAT_VALUE` with the conversion in its low bits and 4
    /// when a format spec is pushed.
    fn formatted_value(
        &mut self,
        element: &'a ast::InterpolatedElement,
        spec_at: Loc,
        spec: Option<&[Piece<'a>]>,
    ) -> CResult {
        match &*element.expression {
            Expr::Tuple(t) if !t.parenthesized => {
                let loc = self.parenthesized_loc(element, t.range, spec_at);
                self.visit_expr_loc(&element.expression, loc)?
            }
            e => self.visit_expr(e)?,
        }
        let mut oparg = match element.conversion {
            ConversionFlag::None if element.debug_text.is_some() && spec.is_none() => 2,
            ConversionFlag::None => 0,
            ConversionFlag::Str => 1,
            ConversionFlag::Repr => 2,
            ConversionFlag::Ascii => 3,
        };
        if let Some(spec) = spec {
            let old = self.u.loc;
            self.u.loc = spec_at;
            let result = self.emit_joined(spec);
            self.u.loc = old;
            result?;
            oparg |= 4;
        }
        self.addop_i(Op::FORMAT_VALUE, oparg);
        Ok(())
    }
}
