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
    let old = v < PythonVersion::V3_10;
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
            k if depth == 0 => {
                if let Some(words) = block_owner(k) {
                    owner = Some((words, t.start(), k));
                    break;
                }
            }
            _ => {}
        }
    }
    let n = ctx.tokens.partition_point(|t| t.start() < at);
    let target = ctx.tokens[n..]
        .iter()
        .find(|t| {
            !t.kind().is_trivia()
                && !matches!(
                    t.kind(),
                    TokenKind::Newline | TokenKind::Dedent | TokenKind::Indent
                )
        })
        .map_or(at, |t| {
            if t.kind() == TokenKind::EndOfFile {
                at
            } else {
                t.start()
            }
        });
    if ctx.v == PythonVersion::V3_8
        && target == at
        && ctx
            .token_at(at)
            .is_none_or(|t| t.kind() == TokenKind::EndOfFile)
    {
        return ctx.syntax("unexpected EOF while parsing", at);
    }
    let mut d = ctx.at(
        ErrorKind::IndentationError,
        "expected an indented block",
        target,
    );
    if let (true, Some((words, kw_at, kind))) = (ctx.v.pegen_messages(), owner) {
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

/// 3.11 and later word parameter-list errors specifically.
fn parameter_messages(v: PythonVersion) -> bool {
    v >= PythonVersion::V3_11
}

/// The kinds of the last few tokens before `at`, nearest first.
fn kinds_before(ctx: &Context, at: TextSize) -> Vec<TokenKind> {
    ctx.tokens_before(at)
        .iter()
        .rev()
        .filter(|t| !t.kind().is_trivia())
        .take(4)
        .map(|t| t.kind())
        .collect()
}

/// Whether the innermost construct open at `at` is a `lambda` (rather than a `def`), judged
/// by the nearest of the two keywords on the way back.
fn in_lambda(ctx: &Context, at: TextSize) -> bool {
    ctx.tokens_before(at)
        .iter()
        .rev()
        .find(|t| matches!(t.kind(), TokenKind::Lambda | TokenKind::Def))
        .is_some_and(|t| t.kind() == TokenKind::Lambda)
}

/// The innermost open bracket before `at`, if any.
fn open_bracket(ctx: &Context, at: TextSize) -> Option<TokenKind> {
    let mut depth = 0i32;
    for t in ctx.tokens_before(at).iter().rev() {
        match t.kind() {
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth += 1,
            k @ (TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace) => {
                if depth == 0 {
                    return Some(k);
                }
                depth -= 1;
            }
            TokenKind::Newline => return None,
            _ => {}
        }
    }
    None
}

/// Whether a bitwise-or level expression (pegen's `bitwise_or`) stands here.
fn is_bitwise_or(e: &Expr) -> bool {
    !matches!(
        e,
        Expr::Compare(_)
            | Expr::BoolOp(_)
            | Expr::Lambda(_)
            | Expr::If(_)
            | Expr::Named(_)
            | Expr::Starred(_)
            | Expr::Yield(_)
            | Expr::YieldFrom(_)
            | Expr::Slice(_)
    ) && !matches!(e, Expr::UnaryOp(u) if u.op == ruff_python_ast::UnaryOp::Not)
}

/// An assignment target CPython refuses, in its words for the statement it stands in.
fn bad_target(ctx: &Context, e: &ParseError, target: &Expr) -> Diagnostic {
    let v = ctx.v;
    let start = e.location.start();
    let name = expr_name(target, v);
    let after = ctx
        .tokens
        .iter()
        .find(|t| {
            t.start() >= e.location.end() && !t.kind().is_trivia() && t.kind() != TokenKind::Rpar
        })
        .map(|t| t.kind());
    match e.error {
        ParseErrorType::InvalidDeleteTarget => ctx.syntax(format!("cannot delete {name}"), start),
        ParseErrorType::InvalidNamedAssignmentTarget => ctx.syntax(
            format!("cannot use assignment expressions with {name}"),
            start,
        ),
        ParseErrorType::InvalidAugmentedAssignmentTarget => {
            if v == PythonVersion::V3_8 {
                if matches!(target, Expr::Tuple(_) | Expr::List(_)) {
                    ctx.syntax("illegal expression for augmented assignment", start)
                } else {
                    ctx.syntax(format!("cannot assign to {name}"), start)
                }
            } else {
                ctx.syntax(
                    format!("'{name}' is an illegal expression for augmented assignment"),
                    start,
                )
            }
        }
        ParseErrorType::InvalidAnnotatedAssignmentTarget => match target {
            Expr::Tuple(_) => ctx.syntax("only single target (not tuple) can be annotated", start),
            Expr::List(_) => ctx.syntax("only single target (not list) can be annotated", start),
            _ => ctx.syntax("illegal target for annotation", start),
        },
        _ => {
            let parenthesized = kinds_before(ctx, start).first() == Some(&TokenKind::Lpar);
            let stmt = ctx.token_at(statement_start(ctx, start)).map(|t| t.kind());
            if matches!(
                stmt,
                Some(TokenKind::For | TokenKind::Async | TokenKind::Del)
            ) && stmt != Some(TokenKind::Del)
            {
                let followed_by_in = ctx
                    .tokens
                    .iter()
                    .filter(|t| t.start() >= e.location.end() && !t.kind().is_trivia())
                    .find(|t| {
                        !matches!(
                            t.kind(),
                            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Comma | TokenKind::Name
                        )
                    })
                    .is_some_and(|t| t.kind() == TokenKind::In);
                if (!followed_by_in && v != PythonVersion::V3_9)
                    || matches!(target, Expr::Compare(_))
                {
                    return ctx.invalid(start);
                }
            }
            if v == PythonVersion::V3_8
                && matches!(target, Expr::Yield(_) | Expr::YieldFrom(_))
                && statement_start(ctx, start) == start
            {
                return ctx.invalid(start);
            }
            if matches!(target, Expr::Yield(_) | Expr::YieldFrom(_))
                && v >= PythonVersion::V3_9
                && !parenthesized
            {
                return ctx.syntax("assignment to yield expression not possible", start);
            }
            let first_target = kinds_before(ctx, start)
                .iter()
                .find(|k| **k != TokenKind::Lpar)
                .is_none_or(|k| {
                    matches!(
                        k,
                        TokenKind::Newline
                            | TokenKind::Semi
                            | TokenKind::Indent
                            | TokenKind::Dedent
                            | TokenKind::Colon
                    )
                });
            let plain_literal = matches!(
                target,
                Expr::Tuple(_)
                    | Expr::List(_)
                    | Expr::Generator(_)
                    | Expr::BooleanLiteral(_)
                    | Expr::NoneLiteral(_)
            );
            if v.pegen_messages()
                && first_target
                && after == Some(TokenKind::Equal)
                && !plain_literal
                && (parenthesized || is_bitwise_or(target))
                && single_equal_after(ctx, e.location.end())
            {
                ctx.syntax(
                    format!("cannot assign to {name} here. Maybe you meant '==' instead of '='?"),
                    start,
                )
            } else {
                ctx.syntax(format!("cannot assign to {name}"), start)
            }
        }
    }
}

/// After the `=` that follows `end`, the value is not itself followed by another `=`.
fn single_equal_after(ctx: &Context, end: TextSize) -> bool {
    let mut depth = 0i32;
    let mut seen_equal = false;
    for t in ctx.tokens.iter().filter(|t| t.start() >= end) {
        match t.kind() {
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => depth += 1,
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth -= 1,
            TokenKind::Equal | TokenKind::ColonEqual if depth == 0 => {
                if seen_equal {
                    return false;
                }
                seen_equal = true;
            }
            TokenKind::Newline | TokenKind::Semi | TokenKind::EndOfFile if depth <= 0 => {
                return true
            }
            _ => {}
        }
    }
    true
}

/// A ruff parse error in CPython's words.
pub(crate) fn parse_error(ctx: &Context, e: &ParseError) -> Diagnostic {
    let v = ctx.v;
    let start = e.location.start();
    let new = v.pegen_messages();
    let params = parameter_messages(v);
    let before = kinds_before(ctx, start);
    let prev = before.first().copied();
    if new
        && ctx
            .token_at(start)
            .is_some_and(|t| t.kind() == TokenKind::Equal)
    {
        if let Some(d) = equal_in_brackets(ctx, start, prev).filter(|_| !in_parameters(ctx, start))
        {
            return d;
        }
    }
    if let Some(d) = missing_parentheses(ctx, start) {
        return d;
    }
    match &e.error {
        ParseErrorType::Lexical(ruff_python_parser::LexicalErrorType::InvalidByteLiteral) => ctx
            .syntax(
                if v < PythonVersion::V3_10 {
                    "bytes can only contain ASCII literal characters."
                } else {
                    "bytes can only contain ASCII literal characters"
                },
                start,
            ),
        ParseErrorType::UnexpectedIndentation => {
            ctx.at(ErrorKind::IndentationError, "unexpected indent", start)
        }
        ParseErrorType::Lexical(ruff_python_parser::LexicalErrorType::IndentationError) => ctx.at(
            ErrorKind::IndentationError,
            "unindent does not match any outer indentation level",
            start,
        ),
        ParseErrorType::OtherError(m) => {
            let m = m.as_str();
            let specific = match m {
                _ if m.starts_with("Expected an indented block") => {
                    return indented_block(ctx, start)
                }
                "Only one '/' separator allowed" if params => "/ may appear only once",
                "Only one '*' parameter allowed" if params => "* argument may appear only once",
                "'/' parameter must appear before '*' parameter" if params => {
                    "/ must be ahead of *"
                }
                "Position-only parameter separator not allowed as first parameter" if params => {
                    "at least one argument must precede /"
                }
                "Positional patterns cannot follow keyword patterns" if new => {
                    "positional patterns follow keyword patterns"
                }
                "Cannot have both 'except' and 'except*' on the same 'try'" if params => {
                    "cannot have both 'except' and 'except*' on the same 'try'"
                }
                "Only single target (not tuple) can be annotated" => {
                    "only single target (not tuple) can be annotated"
                }
                "Only single target (not list) can be annotated" => {
                    "only single target (not list) can be annotated"
                }
                "Expected one or more exception types" if params => {
                    "expected one or more exception types"
                }
                "Expected `except` or `finally` after `try` block" => {
                    if new {
                        let last = ctx
                            .tokens_before(start)
                            .iter()
                            .rev()
                            .find(|t| {
                                !t.kind().is_trivia()
                                    && !matches!(
                                        t.kind(),
                                        TokenKind::Newline | TokenKind::Dedent | TokenKind::Indent
                                    )
                            })
                            .map_or(start, |t| t.start());
                        return ctx.syntax("expected 'except' or 'finally' block", last);
                    } else if ctx.tokens[ctx.tokens.partition_point(|t| t.start() < start)..]
                        .iter()
                        .find(|t| {
                            !t.kind().is_trivia()
                                && !matches!(t.kind(), TokenKind::Newline | TokenKind::Dedent)
                        })
                        .is_none_or(|t| t.kind() == TokenKind::EndOfFile)
                    {
                        "unexpected EOF while parsing"
                    } else {
                        "invalid syntax"
                    }
                }
                "Trailing comma not allowed" => {
                    "trailing comma not allowed without surrounding parentheses"
                }
                "Boolean 'not' expression cannot be used here"
                    if v >= PythonVersion::V3_13 && !matches!(prev, Some(TokenKind::Lpar)) =>
                {
                    "'not' after an operator must be parenthesized"
                }
                "Expected a parameter name" => {
                    let kw = ctx
                        .tokens
                        .iter()
                        .find(|t| t.start() == start)
                        .map(|t| t.kind());
                    let words = &ctx.text[e.location];
                    if words.starts_with('*') {
                        if v < PythonVersion::V3_12 {
                            return ctx.invalid(start);
                        }
                        let what = if words.starts_with("**") {
                            "keyword argument unpacking"
                        } else {
                            "iterable argument unpacking"
                        };
                        return ctx.syntax(format!("cannot assign to {what}"), start);
                    }
                    return match kw {
                        Some(TokenKind::True | TokenKind::False | TokenKind::None)
                            if v != PythonVersion::V3_9
                                && ctx.tokens.iter().any(|t| {
                                    t.start() >= e.location.end() && t.kind() == TokenKind::Equal
                                }) =>
                        {
                            let word = &ctx.text[e.location];
                            ctx.syntax(format!("cannot assign to {word}"), start)
                        }
                        _ => ctx.syntax(
                            "expression cannot contain assignment, perhaps you meant \"==\"?",
                            start,
                        ),
                    };
                }
                _ => "invalid syntax",
            };
            ctx.syntax(specific, start)
        }
        ParseErrorType::ExpectedToken { expected, found } => {
            use TokenKind as K;
            let msg = match (expected, found) {
                (K::Colon, K::Newline) if new => "expected ':'",
                (K::Lpar, _)
                    if params
                        && (prev == Some(K::Name)
                            || (prev == Some(K::Rsqb)
                                && (statement_starts_with(ctx, start, K::Def)
                                    || statement_starts_with(ctx, start, K::Async)))) =>
                {
                    "expected '('"
                }
                (K::Colon, K::Equal)
                    if new
                        && ctx
                            .tokens_before(start)
                            .iter()
                            .rev()
                            .any(|t| matches!(t.kind(), K::If | K::Elif | K::While)) =>
                {
                    // `if x = 1:`: a name gets a hint of `==` or `:=`, anything else `==`.
                    let target = prev.filter(|_| {
                        before
                            .get(1)
                            .is_some_and(|k| matches!(k, K::If | K::Elif | K::While))
                    });
                    if target == Some(K::Name) {
                        "invalid syntax. Maybe you meant '==' or ':=' instead of '='?"
                    } else {
                        return ctx.syntax(
                            format!(
                                "cannot assign to {} here. Maybe you meant '==' instead of '='?",
                                assigned_words(ctx, start)
                            ),
                            start,
                        );
                    }
                }
                (K::Else, _) if new => {
                    if v >= PythonVersion::V3_13 && in_comprehension_target(ctx, start) {
                        "'in' expected after for-loop variables"
                    } else {
                        "expected 'else' after 'if' expression"
                    }
                }
                (K::Rpar, K::Lpar) if params => {
                    if in_lambda(ctx, start) {
                        "Lambda expression parameters cannot be parenthesized"
                    } else {
                        "Function parameters cannot be parenthesized"
                    }
                }
                (K::Colon, K::Lpar)
                    if params
                        && matches!(prev, Some(K::Lambda | K::Comma))
                        && in_lambda(ctx, start) =>
                {
                    "Lambda expression parameters cannot be parenthesized"
                }
                (K::Comma, K::Star) if params && prev == Some(K::Slash) => {
                    "expected comma between / and *"
                }
                (K::Colon, K::Rbrace | K::Comma)
                    if new && open_bracket(ctx, start) == Some(K::Lbrace) =>
                {
                    "':' expected after dictionary key"
                }
                (K::Comma, K::Equal)
                    if new
                        && prev == Some(K::Name)
                        && matches!(
                            open_bracket(ctx, start),
                            Some(K::Lpar | K::Lsqb | K::Lbrace)
                        ) =>
                {
                    "invalid syntax. Maybe you meant '==' or ':=' instead of '='?"
                }
                (K::Comma, aug)
                    if is_augmented(*aug) && !statement_starts_with(ctx, start, K::Del) =>
                {
                    return ctx.syntax(
                        if v == PythonVersion::V3_8 {
                            "illegal expression for augmented assignment"
                        } else {
                            "'tuple' is an illegal expression for augmented assignment"
                        },
                        statement_start(ctx, start),
                    );
                }
                (K::Rsqb | K::Rbrace, K::For) if new => {
                    "did you forget parentheses around the comprehension target?"
                }
                (K::Comma, _)
                    if new && open_bracket(ctx, start).is_some() && starts_expression(*found) =>
                {
                    "invalid syntax. Perhaps you forgot a comma?"
                }
                _ => "invalid syntax",
            };
            let at = if msg == "invalid syntax. Perhaps you forgot a comma?" {
                juxtaposed_start(ctx, start)
            } else {
                start
            };
            ctx.syntax(msg, at)
        }
        ParseErrorType::ExpectedExpression => {
            use TokenKind as K;
            let msg = match prev {
                Some(K::Equal) if params && in_parameters(ctx, start) => {
                    "expected default value expression"
                }
                Some(K::Equal)
                    if v >= PythonVersion::V3_12 && open_bracket(ctx, start) == Some(K::Lpar) =>
                {
                    "expected argument value expression"
                }
                Some(K::Colon) if new && open_bracket(ctx, start) == Some(K::Lbrace) => {
                    "expression expected after dictionary key and ':'"
                }
                Some(K::Star) if v >= PythonVersion::V3_13 => "Invalid star expression",
                Some(K::Star)
                    if v >= PythonVersion::V3_9
                        && open_bracket(ctx, start) == Some(K::Lpar)
                        && (v == PythonVersion::V3_9
                            || before.iter().any(|k| matches!(k, K::Equal | K::DoubleStar))) =>
                {
                    "iterable argument unpacking follows keyword argument unpacking"
                }
                _ => "invalid syntax",
            };
            ctx.syntax(msg, start)
        }
        ParseErrorType::InvalidAssignmentTarget
        | ParseErrorType::InvalidAnnotatedAssignmentTarget
        | ParseErrorType::InvalidAugmentedAssignmentTarget
        | ParseErrorType::InvalidDeleteTarget
        | ParseErrorType::InvalidNamedAssignmentTarget => match ctx.expr_at(e.location) {
            Some(target) => bad_target(ctx, e, target),
            None => ctx.invalid(start),
        },
        ParseErrorType::InvalidStarredExpressionUsage if new => {
            if prev == Some(TokenKind::Colon) && open_bracket(ctx, start) == Some(TokenKind::Lbrace)
            {
                ctx.syntax(
                    "cannot use a starred expression in a dictionary value",
                    start,
                )
            } else if prev == Some(TokenKind::Lpar)
                && ctx
                    .tokens
                    .iter()
                    .find(|t| t.start() >= e.location.end() && !t.kind().is_trivia())
                    .is_some_and(|t| t.kind() == TokenKind::Rpar)
            {
                ctx.syntax(
                    if v == PythonVersion::V3_9 {
                        "can't use starred expression here"
                    } else {
                        "cannot use starred expression here"
                    },
                    start,
                )
            } else {
                ctx.invalid(start)
            }
        }
        ParseErrorType::VarParameterWithDefault if params => {
            let star = ctx
                .tokens_before(start)
                .iter()
                .rev()
                .find(|t| matches!(t.kind(), TokenKind::Star | TokenKind::DoubleStar));
            let kind = if star.is_some_and(|t| t.kind() == TokenKind::DoubleStar) {
                "var-keyword"
            } else {
                "var-positional"
            };
            ctx.syntax(format!("{kind} argument cannot have default value"), start)
        }
        ParseErrorType::ParamAfterVarKeywordParam if params => {
            ctx.syntax("arguments cannot follow var-keyword argument", start)
        }
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
        ParseErrorType::UnparenthesizedGeneratorExpression
            if !statement_starts_with(ctx, start, TokenKind::Class) =>
        {
            ctx.syntax("Generator expression must be parenthesized", start)
        }
        ParseErrorType::NonDefaultParamAfterDefaultParam
            if (PythonVersion::V3_9..PythonVersion::V3_12).contains(&v)
                && ctx
                    .tokens_before(start)
                    .iter()
                    .rev()
                    .take_while(|t| !matches!(t.kind(), TokenKind::Def | TokenKind::Lambda))
                    .any(|t| t.kind() == TokenKind::Slash) =>
        {
            ctx.invalid(start)
        }
        ParseErrorType::NonDefaultParamAfterDefaultParam => ctx.syntax(
            if v >= PythonVersion::V3_12 {
                "parameter without a default follows parameter with a default"
            } else {
                "non-default argument follows default argument"
            },
            start,
        ),
        ParseErrorType::ExpectedKeywordParam
            if ctx
                .tokens
                .iter()
                .find(|t| t.start() >= e.location.end() && !t.kind().is_trivia())
                .is_none_or(|t| {
                    matches!(
                        t.kind(),
                        TokenKind::Rpar | TokenKind::Comma | TokenKind::Colon
                    )
                }) =>
        {
            ctx.syntax(
                if v.names_bare_star_parameters() {
                    "named parameters must follow bare *"
                } else {
                    "named arguments must follow bare *"
                },
                start,
            )
        }
        ParseErrorType::InvalidMatchPatternTarget if new && prev == Some(TokenKind::As) => {
            ctx.syntax("cannot use '_' as a target", start)
        }
        ParseErrorType::IterableUnpackingInComprehension => {
            ctx.syntax("iterable unpacking cannot be used in comprehension", start)
        }
        ParseErrorType::EmptyTypeParams if v >= PythonVersion::V3_13 => {
            ctx.syntax("Type parameter list cannot be empty", start)
        }
        ParseErrorType::EmptyImportNames if v >= PythonVersion::V3_13 => {
            ctx.syntax("Expected one or more names after 'import'", start)
        }
        ParseErrorType::SimpleStatementsOnSameLine
            if v >= PythonVersion::V3_12
                && ctx
                    .token_at(start)
                    .is_some_and(|t| t.kind() == TokenKind::From)
                && statement_starts_with(ctx, start, TokenKind::Import) =>
        {
            ctx.syntax("Did you mean to use 'from ... import ...' instead?", start)
        }
        _ => ctx.invalid(start),
    }
}

/// Python 2's `print x` and `exec code`: CPython suggests the call.
fn missing_parentheses(ctx: &Context, at: TextSize) -> Option<Diagnostic> {
    let begin = statement_start(ctx, at);
    let first = ctx.token_at(begin)?;
    let word = &ctx.text[first.range()];
    if first.kind() != TokenKind::Name || !matches!(word, "print" | "exec") {
        return None;
    }
    let next = ctx
        .tokens
        .iter()
        .find(|t| t.start() >= first.end() && !t.kind().is_trivia())?;
    if !starts_expression(next.kind()) || next.kind() == TokenKind::Lpar || next.start() != at {
        return None;
    }
    let line_end = ctx.text[next.start().to_usize()..]
        .find('\n')
        .map_or(ctx.text.len(), |i| next.start().to_usize() + i);
    let rest = ctx.text[next.start().to_usize()..line_end].trim_end();
    let rest = rest.strip_suffix(';').unwrap_or(rest).trim_end();
    let message = match (word, ctx.v.pegen_messages()) {
        (_, true) => format!("Missing parentheses in call to '{word}'. Did you mean {word}(...)?"),
        ("print", false) => {
            format!("Missing parentheses in call to 'print'. Did you mean print({rest})?")
        }
        _ => format!("Missing parentheses in call to '{word}'"),
    };
    Some(ctx.syntax(message, begin))
}

/// A stray `=` inside brackets: `[x=1]`, `{'a'=1}`, `f(**k=1)`.
fn equal_in_brackets(ctx: &Context, at: TextSize, prev: Option<TokenKind>) -> Option<Diagnostic> {
    let open = open_bracket(ctx, at)?;
    let begin = juxtaposed_start(ctx, at);
    let words = ctx.text.get(begin.to_usize()..at.to_usize())?.trim();
    let unpacking = if words.starts_with("**") {
        Some("keyword argument unpacking")
    } else if words.starts_with('*') {
        Some("iterable argument unpacking")
    } else {
        None
    };
    if let Some(what) = unpacking {
        return (ctx.v >= PythonVersion::V3_12)
            .then(|| ctx.syntax(format!("cannot assign to {what}"), begin));
    }
    if prev == Some(TokenKind::Name) && words.chars().all(|c| c.is_alphanumeric() || c == '_') {
        // `f(x=1)` is a keyword argument, not an error.
        let call = open == TokenKind::Lpar
            && ctx
                .tokens_before(begin)
                .iter()
                .rev()
                .filter(|t| !t.kind().is_trivia())
                .nth(1)
                .is_some_and(|t| {
                    matches!(
                        t.kind(),
                        TokenKind::Name | TokenKind::Rpar | TokenKind::Rsqb
                    )
                });
        return (!call).then(|| {
            ctx.syntax(
                "invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
                begin,
            )
        });
    }
    let target = ruff_python_parser::parse_expression(words).ok()?;
    let name = expr_name(target.expr(), ctx.v);
    Some(ctx.syntax(
        format!("cannot assign to {name} here. Maybe you meant '==' instead of '='?"),
        begin,
    ))
}

/// The augmented assignment operators.
fn is_augmented(k: TokenKind) -> bool {
    use TokenKind as K;
    matches!(
        k,
        K::PlusEqual
            | K::MinusEqual
            | K::StarEqual
            | K::SlashEqual
            | K::DoubleSlashEqual
            | K::PercentEqual
            | K::DoubleStarEqual
            | K::AtEqual
            | K::AmperEqual
            | K::VbarEqual
            | K::CircumflexEqual
            | K::LeftShiftEqual
            | K::RightShiftEqual
    )
}

/// Where the logical line holding `at` starts.
fn statement_start(ctx: &Context, at: TextSize) -> TextSize {
    ctx.tokens_before(at)
        .iter()
        .rev()
        .take_while(|t| {
            !matches!(
                t.kind(),
                TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent | TokenKind::Semi
            )
        })
        .filter(|t| !t.kind().is_trivia())
        .last()
        .map_or(at, |t| t.start())
}

/// Whether the tokens can start an expression (for "Perhaps you forgot a comma?").
fn starts_expression(k: TokenKind) -> bool {
    use TokenKind as K;
    matches!(
        k,
        K::Name
            | K::Int
            | K::Float
            | K::Complex
            | K::String
            | K::FStringStart
            | K::Lpar
            | K::Lsqb
            | K::Lbrace
            | K::Minus
            | K::Plus
            | K::Tilde
            | K::None
            | K::True
            | K::False
            | K::Ellipsis
            | K::Lambda
            | K::Await
            | K::Not
    )
}

/// The start of the expression just before `at` (the first of two juxtaposed expressions).
fn juxtaposed_start(ctx: &Context, at: TextSize) -> TextSize {
    let mut depth = 0i32;
    let mut start = at;
    for t in ctx.tokens_before(at).iter().rev() {
        match t.kind() {
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth += 1,
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            TokenKind::Comma | TokenKind::Colon | TokenKind::Equal if depth == 0 => break,
            k if k.is_trivia() => continue,
            _ => {}
        }
        start = t.start();
    }
    start
}

/// What an `if x.a = 1:` header assigns to, in CPython's words.
fn assigned_words(ctx: &Context, equal_at: TextSize) -> &'static str {
    let header = ctx
        .tokens_before(equal_at)
        .iter()
        .rev()
        .find(|t| matches!(t.kind(), TokenKind::If | TokenKind::Elif | TokenKind::While));
    let Some(kw) = header else {
        return "expression";
    };
    let source = ctx.text[kw.end().to_usize()..equal_at.to_usize()].trim();
    match ruff_python_parser::parse_expression(source) {
        Ok(p) => expr_name(p.expr(), ctx.v),
        Err(_) => "expression",
    }
}

/// Whether `at` lies in a comprehension's `for` target (before its `in`).
fn in_comprehension_target(ctx: &Context, at: TextSize) -> bool {
    let mut depth = 0i32;
    for t in ctx.tokens_before(at).iter().rev() {
        match t.kind() {
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth += 1,
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            TokenKind::In if depth == 0 => return false,
            TokenKind::For if depth == 0 => return true,
            TokenKind::Newline => return false,
            _ => {}
        }
    }
    false
}

/// Whether `at` lies in the parameter list of a `def` or `lambda`.
fn in_parameters(ctx: &Context, at: TextSize) -> bool {
    let mut depth = 0i32;
    for t in ctx.tokens_before(at).iter().rev() {
        match t.kind() {
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => depth += 1,
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => depth -= 1,
            TokenKind::Lambda if depth <= 0 => return true,
            TokenKind::Def => return depth < 0,
            TokenKind::Newline => return false,
            TokenKind::Colon if depth < 0 => return false,
            _ => {}
        }
    }
    false
}

/// Whether the logical line holding `at` starts with `kind`.
fn statement_starts_with(ctx: &Context, at: TextSize, kind: TokenKind) -> bool {
    ctx.tokens_before(at)
        .iter()
        .rev()
        .take_while(|t| {
            !matches!(
                t.kind(),
                TokenKind::Newline | TokenKind::Indent | TokenKind::Dedent
            )
        })
        .last()
        .is_some_and(|t| t.kind() == kind)
}

/// Syntax newer than the target: the target's own parser says "invalid syntax".
pub(crate) fn unsupported(ctx: &Context, e: &UnsupportedSyntaxError) -> Diagnostic {
    let start = e.range.start();
    match e.kind {
        // `FStringKind` is not exported: its variant is known by name.
        UnsupportedSyntaxErrorKind::Pep701FString(kind) if format!("{kind:?}") == "Backslash" => {
            ctx.syntax("f-string expression part cannot include a backslash", start)
        }
        UnsupportedSyntaxErrorKind::Pep701FString(kind) if format!("{kind:?}") == "NestedQuote" => {
            ctx.syntax("f-string: expecting '}'", start)
        }
        UnsupportedSyntaxErrorKind::TypeParameterList
            if ctx.v == PythonVersion::V3_11
                && kinds_before(ctx, start).get(1) == Some(&TokenKind::Def) =>
        {
            ctx.syntax("expected '('", start)
        }
        UnsupportedSyntaxErrorKind::ParenthesizedKeywordArgumentName => ctx.syntax(
            "expression cannot contain assignment, perhaps you meant \"==\"?",
            start,
        ),
        UnsupportedSyntaxErrorKind::UnpackingInComprehension(_) => {
            ctx.syntax("iterable unpacking cannot be used in comprehension", start)
        }
        UnsupportedSyntaxErrorKind::UnparenthesizedExceptionTypes if ctx.v.pegen_messages() => {
            ctx.syntax("multiple exception types must be parenthesized", start)
        }
        _ => ctx.invalid(start),
    }
}

/// 3.10+ tokenizes the rest of the source after a parser error: a bracket opened on an
/// earlier line and never closed then takes the error's place.
/// The parser's position is the line of the token it failed on (`failed_at`), which may lie
/// past the line the message names.
pub(crate) fn after_parser_error(
    ctx: &Context,
    d: Diagnostic,
    failed_at: TextSize,
    unclosed: Option<(char, u32, u32)>,
) -> Diagnostic {
    let failed_line = ctx
        .lines
        .line(failed_at.min(TextSize::of(ctx.text)))
        .max(d.line);
    match unclosed {
        Some((open, line, col)) if ctx.v.pegen_messages() && line < failed_line => Diagnostic::new(
            ErrorKind::SyntaxError,
            format!("'{open}' was never closed"),
            line,
            col,
        ),
        _ => d,
    }
}
