//! ruff's parse errors and version gates in CPython's words, per target version.

use pyc_assembler::PythonVersion;
use ruff_python_ast::token::{TokenKind, Tokens};
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule};
use ruff_python_parser::{
    ParseError, ParseErrorType, UnsupportedSyntaxError, UnsupportedSyntaxErrorKind,
};
use ruff_text_size::{Ranged, TextRange, TextSize};

use super::LineIndex;
use crate::diagnostic::{Diagnostic, ErrorKind};

/// What the wording needs: the text, its line index, the target and ruff's output.
pub(crate) struct Context<'a> {
    pub text: &'a str,
    pub lines: &'a LineIndex,
    pub v: PythonVersion,
    pub tokens: &'a Tokens,
    pub module: &'a ModModule,
}

/// The PEG parser's messages (3.10+ words most errors specifically; 3.9 a few more than 3.8).
pub(crate) fn pegen_messages(v: PythonVersion) -> bool {
    v >= PythonVersion::V3_10
}

impl Context<'_> {
    pub fn at(&self, kind: ErrorKind, message: impl Into<String>, offset: TextSize) -> Diagnostic {
        let offset = offset.min(TextSize::of(self.text));
        let (line, col) = self.lines.line_char_col(self.text, offset);
        Diagnostic::new(kind, message, line, col)
    }

    pub fn syntax(&self, message: impl Into<String>, offset: TextSize) -> Diagnostic {
        self.at(ErrorKind::SyntaxError, message, offset)
    }

    pub fn invalid(&self, offset: TextSize) -> Diagnostic {
        self.syntax("invalid syntax", offset)
    }

    /// Tokens (not trivia) starting before `offset`.
    pub fn tokens_before(&self, offset: TextSize) -> &[ruff_python_ast::token::Token] {
        let n = self.tokens.partition_point(|t| t.start() < offset);
        &self.tokens[..n]
    }

    /// The token starting at or after `offset`.
    pub fn token_at(&self, offset: TextSize) -> Option<&ruff_python_ast::token::Token> {
        let n = self.tokens.partition_point(|t| t.start() < offset);
        self.tokens[n..].iter().find(|t| !t.kind().is_trivia())
    }

    /// The expression with exactly this range, if the AST holds one.
    pub fn expr_at(&self, range: TextRange) -> Option<&Expr> {
        struct Find<'b> {
            range: TextRange,
            found: Option<&'b Expr>,
        }
        impl<'b> Visitor<'b> for Find<'b> {
            fn visit_expr(&mut self, expr: &'b Expr) {
                if self.found.is_some() || !expr.range().contains_range(self.range) {
                    return;
                }
                if expr.range() == self.range {
                    self.found = Some(expr);
                    return;
                }
                visitor::walk_expr(self, expr);
            }
        }
        let mut find = Find { range, found: None };
        find.visit_body(&self.module.body);
        find.found
    }
}

/// CPython's name for an expression in "cannot assign to ..." messages
/// (`_PyPegen_get_expr_name`, and before 3.9 the AST builder's words).
pub(crate) fn expr_name(e: &Expr, v: PythonVersion) -> &'static str {
    let old = v == PythonVersion::V3_8;
    match e {
        Expr::Attribute(_) => "attribute",
        Expr::Subscript(_) => "subscript",
        Expr::Starred(_) => "starred",
        Expr::Name(_) => "name",
        Expr::List(_) => "list",
        Expr::Tuple(_) => "tuple",
        Expr::Lambda(_) => "lambda",
        Expr::Call(_) => "function call",
        Expr::BoolOp(_) | Expr::BinOp(_) | Expr::UnaryOp(_) if old => "operator",
        Expr::BoolOp(_) | Expr::BinOp(_) | Expr::UnaryOp(_) => "expression",
        Expr::Generator(_) => "generator expression",
        Expr::Yield(_) | Expr::YieldFrom(_) => "yield expression",
        Expr::Await(_) => "await expression",
        Expr::ListComp(_) => "list comprehension",
        Expr::SetComp(_) => "set comprehension",
        Expr::DictComp(_) => "dict comprehension",
        Expr::Dict(_) if v < PythonVersion::V3_10 => "dict display",
        Expr::Dict(_) => "dict literal",
        Expr::Set(_) => "set display",
        Expr::FString(_) | Expr::TString(_) => "f-string expression",
        Expr::NoneLiteral(_) => "None",
        Expr::BooleanLiteral(b) if b.value => "True",
        Expr::BooleanLiteral(_) => "False",
        Expr::EllipsisLiteral(_) if v < PythonVersion::V3_10 => "Ellipsis",
        Expr::EllipsisLiteral(_) => "ellipsis",
        Expr::StringLiteral(_) | Expr::BytesLiteral(_) | Expr::NumberLiteral(_) => "literal",
        Expr::Compare(_) => "comparison",
        Expr::If(_) => "conditional expression",
        Expr::Named(_) => "named expression",
        Expr::Slice(_) | Expr::IpyEscapeCommand(_) => "expression",
    }
}

/// The clause words of "expected an indented block after ...".
fn block_owner(keyword: TokenKind) -> Option<&'static str> {
    Some(match keyword {
        TokenKind::If => "'if' statement",
        TokenKind::Elif => "'elif' statement",
        TokenKind::Else => "'else' statement",
        TokenKind::While => "'while' statement",
        TokenKind::For => "'for' statement",
        TokenKind::With => "'with' statement",
        TokenKind::Try => "'try' statement",
        TokenKind::Except => "'except' statement",
        TokenKind::Finally => "'finally' statement",
        TokenKind::Def => "function definition",
        TokenKind::Class => "class definition",
        TokenKind::Match => "'match' statement",
        TokenKind::Case => "'case' statement",
        _ => return None,
    })
}

/// "expected an indented block": the header is the last clause keyword at bracket depth 0
/// before the error, on the line that starts the clause.
fn indented_block(ctx: &Context, at: TextSize) -> Diagnostic {
    let before = ctx.tokens_before(at);
    let mut depth = 0i32;
    let mut owner = None;
    for t in before.iter().rev() {
        match t.kind() {
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth += 1,
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => depth -= 1,
            TokenKind::Newline if owner.is_none() && depth == 0 && t.end() < at => {}
            k if depth == 0 => {
                if let Some(words) = block_owner(k) {
                    let prev_is_newline = true;
                    let _ = prev_is_newline;
                    owner = Some((words, t.start(), k));
                    // `except*`, and `else` of `for`/`while`/`try` keep their own words.
                    break;
                }
            }
            _ => {}
        }
    }
    let target = ctx.token_at(at).map_or(at, |t| {
        if t.kind() == TokenKind::EndOfFile {
            at
        } else {
            t.start()
        }
    });
    let mut d = ctx.at(
        ErrorKind::IndentationError,
        "expected an indented block",
        target,
    );
    if let (true, Some((words, kw_at, kind))) = (pegen_messages(ctx.v), owner) {
        let line = ctx.lines.line(kw_at);
        let star = kind == TokenKind::Except
            && ctx
                .tokens
                .iter()
                .find(|t| t.start() > kw_at && !t.kind().is_trivia())
                .is_some_and(|t| t.kind() == TokenKind::Star);
        let words = if star { "'except*' statement" } else { words };
        d.message = format!("expected an indented block after {words} on line {line}");
    }
    d
}

/// A ruff parse error in CPython's words.
pub(crate) fn parse_error(ctx: &Context, e: &ParseError) -> Diagnostic {
    let v = ctx.v;
    let start = e.location.start();
    let new = pegen_messages(v);
    match &e.error {
        ParseErrorType::UnexpectedIndentation => {
            ctx.at(ErrorKind::IndentationError, "unexpected indent", start)
        }
        ParseErrorType::OtherError(m) if m.starts_with("Expected an indented block") => {
            indented_block(ctx, start)
        }
        ParseErrorType::ExpectedToken {
            expected: TokenKind::Colon,
            found: TokenKind::Newline,
        } if new => ctx.syntax("expected ':'", start),
        ParseErrorType::InvalidAssignmentTarget
        | ParseErrorType::InvalidAnnotatedAssignmentTarget
        | ParseErrorType::InvalidAugmentedAssignmentTarget
        | ParseErrorType::InvalidDeleteTarget
        | ParseErrorType::InvalidNamedAssignmentTarget => match ctx.expr_at(e.location) {
            Some(target) => {
                let verb = if matches!(e.error, ParseErrorType::InvalidDeleteTarget) {
                    "delete"
                } else {
                    "assign to"
                };
                ctx.syntax(format!("cannot {verb} {}", expr_name(target, v)), start)
            }
            None => ctx.invalid(start),
        },
        ParseErrorType::PositionalAfterKeywordArgument => {
            ctx.syntax("positional argument follows keyword argument", start)
        }
        ParseErrorType::PositionalAfterKeywordUnpacking => ctx.syntax(
            "positional argument follows keyword argument unpacking",
            start,
        ),
        ParseErrorType::InvalidArgumentUnpackingOrder => ctx.syntax(
            "iterable argument unpacking follows keyword argument unpacking",
            start,
        ),
        ParseErrorType::UnparenthesizedGeneratorExpression => {
            ctx.syntax("Generator expression must be parenthesized", start)
        }
        ParseErrorType::NonDefaultParamAfterDefaultParam => ctx.syntax(
            if v >= PythonVersion::V3_12 {
                "parameter without a default follows parameter with a default"
            } else {
                "non-default argument follows default argument"
            },
            start,
        ),
        ParseErrorType::ExpectedKeywordParam => {
            ctx.syntax("named arguments must follow bare *", start)
        }
        ParseErrorType::IterableUnpackingInComprehension => {
            ctx.syntax("iterable unpacking cannot be used in comprehension", start)
        }
        _ => ctx.invalid(start),
    }
}

/// Syntax newer than the target: the target's own parser says "invalid syntax".
pub(crate) fn unsupported(ctx: &Context, e: &UnsupportedSyntaxError) -> Diagnostic {
    let start = e.range.start();
    match e.kind {
        // `FStringKind` is not exported: its variant is known by name.
        UnsupportedSyntaxErrorKind::Pep701FString(kind) if format!("{kind:?}") == "Backslash" => {
            ctx.syntax("f-string expression part cannot include a backslash", start)
        }
        _ => ctx.invalid(start),
    }
}

/// 3.10+ tokenizes the rest of the source after a parser error: a bracket opened on an
/// earlier line and never closed then takes the error's place.
pub(crate) fn after_parser_error(
    ctx: &Context,
    d: Diagnostic,
    unclosed: Option<(char, u32, u32)>,
) -> Diagnostic {
    match unclosed {
        Some((open, line, col)) if pegen_messages(ctx.v) && line < d.line => Diagnostic::new(
            ErrorKind::SyntaxError,
            format!("'{open}' was never closed"),
            line,
            col,
        ),
        _ => d,
    }
}
