//! Errors in the source, as data: CPython's exception type, message and position.

use std::fmt;

/// The exception CPython raises for a bad source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    SyntaxError,
    IndentationError,
    TabError,
    /// Raised by some versions for undecodable sources or null bytes.
    ValueError,
    UnicodeDecodeError,
}

impl ErrorKind {
    /// The exception's name, as `type(e).__name__` gives it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::SyntaxError => "SyntaxError",
            ErrorKind::IndentationError => "IndentationError",
            ErrorKind::TabError => "TabError",
            ErrorKind::ValueError => "ValueError",
            ErrorKind::UnicodeDecodeError => "UnicodeDecodeError",
        }
    }
}

/// One error in a source: what CPython's `compile()` would raise, with its `msg`, `lineno` and
/// `offset` (1-based column in characters, as CPython reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: ErrorKind,
    pub message: String,
    /// 1-based line; 0 when CPython gives none.
    pub line: u32,
    /// 1-based column (CPython's `offset`); 0 when CPython gives none.
    pub column: u32,
    /// The end of the span, when known (CPython's `end_lineno`, `end_offset`).
    pub end: Option<(u32, u32)>,
}

impl Diagnostic {
    pub fn new(kind: ErrorKind, message: impl Into<String>, line: u32, column: u32) -> Diagnostic {
        Diagnostic {
            kind,
            message: message.into(),
            line,
            column,
            end: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line,
            self.column,
            self.kind.name(),
            self.message
        )
    }
}
