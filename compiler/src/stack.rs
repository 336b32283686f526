//! Room for the passes that recurse as deep as the source nests.

use std::sync::Mutex;

/// The stack of the thread a deep pass runs on (address space, committed as used). CPython
/// allows nesting up to about 3000 levels; its passes recurse once per level, as ours do.
const STACK_SIZE: usize = 64 << 20;

/// Runs `pass` on a thread with a large stack, so that deeply nested code cannot overflow the
/// caller's; when no thread can be started, runs it on the caller's.
pub(crate) fn with_large_stack<T: Send>(name: &str, pass: impl FnOnce() -> T + Send) -> T {
    with_stack(name, STACK_SIZE, pass)
}

/// Runs `pass` as [`with_large_stack`] does, on a stack of `size` bytes (at least the usual).
pub(crate) fn with_stack<T: Send>(name: &str, size: usize, pass: impl FnOnce() -> T + Send) -> T {
    let slot = Mutex::new(Some(pass));
    let take = || {
        let pass = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        pass.expect("the pass runs once")
    };
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name(name.into())
            .stack_size(size.max(STACK_SIZE))
            .spawn_scoped(s, || take()())
        {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => take()(),
        }
    })
}
