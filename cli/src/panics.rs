//! A panic in the compiler is a bug, reported for the file that caused it while the other
//! files go on.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyc_assembler::CodeObject;
use pyc_compiler::{CompileError, CompileOptions};

/// [`pyc_compiler::compile`], with a panic turned into `Err("internal error: ...")`.
pub fn compile_caught(
    source: &[u8],
    filename: &str,
    options: &CompileOptions,
) -> Result<Result<CodeObject, CompileError>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        pyc_compiler::compile(source, filename, options)
    }))
    .map_err(|panic| format!("internal error: {}", panic_message(&panic)))
}

thread_local! {
    /// Where the last panic on this thread happened.
    static PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Panics of the compiler are reported per file: the hook only remembers where they were.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        PANIC_AT.with(|p| *p.borrow_mut() = at);
    }));
}

/// The text of a panic's payload, with where it happened.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    let at = PANIC_AT.with(|p| p.take());
    if at.is_empty() {
        text
    } else {
        format!("{text} (at {at})")
    }
}
