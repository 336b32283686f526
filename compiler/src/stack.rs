//! Room for the passes that recurse as deep as the source nests.

use std::cell::Cell;
use std::sync::Mutex;

thread_local! {
    /// The stack the current thread has free for a pass, as [`declare_stack`] was told.
    static DECLARED: Cell<usize> = const { Cell::new(0) };
}

/// Declares that the calling thread has at least `bytes` of stack free at this point, so the
/// deep passes run directly on it instead of each on a thread of its own (which costs a thread
/// start per pass and file). For the worker threads of a tool that compiles many files:
/// start them with a large stack and declare it, less what the pool's own frames take. A
/// source that needs more still gets a thread of its own.
pub fn declare_stack(bytes: usize) {
    DECLARED.with(|d| d.set(bytes));
}

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
    let declared = DECLARED.with(Cell::get);
    if declared >= size.max(STACK_SIZE) {
        // A pass nested in this one cannot count on the same room: it gets its own thread.
        DECLARED.with(|d| d.set(0));
        let result = pass();
        DECLARED.with(|d| d.set(declared));
        return result;
    }
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
