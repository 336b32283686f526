//! `pyc_build`: the file-system side of pyc-build, for embedding in other Rust tools, and the
//! parts of the command line the tests call directly ([`explain`]).
//!
//! [`tree::build`] compiles a tree of Python sources into pycs as `python -m compileall` does
//! (same files, same pyc paths, same names compiled in, every `compileall` option), in
//! parallel, deterministically (the same sources, paths, mtimes and options give the same
//! bytes whatever the parallelism or order), and atomically (each pyc is written to a
//! temporary file beside it and renamed into place).
//!
//! The pieces underneath are public too: [`pyc_compiler::compile`] turns source bytes into a
//! code object or a diagnostic, and [`pyc_assembler::pyc::write_pyc`] turns a code object and
//! a header into pyc bytes.
//!
//! ```no_run
//! use pyc_assembler::pyc::{self, Invalidation, PycHeader};
//! use pyc_assembler::PythonVersion;
//! use pyc_compiler::{compile, CompileOptions};
//!
//! let v = PythonVersion::V3_11;
//! let source = b"print('hello')\n";
//! let code = compile(source, "hello.py", &CompileOptions { target: v, optimize: 0 })?;
//! let header = PycHeader {
//!     version: v,
//!     invalidation: Invalidation::CheckedHash(pyc::source_hash(v, source)),
//! };
//! std::fs::write("hello.pyc", pyc::write_pyc(&header, &code))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A whole tree, with two optimization levels and hash-based pycs:
//!
//! ```no_run
//! use pyc_build::tree::{build, BuildOptions, InvalidationMode};
//! use pyc_assembler::PythonVersion;
//!
//! let mut options = BuildOptions::new(PythonVersion::V3_11);
//! options.optimize = vec![0, 2];
//! options.invalidation = InvalidationMode::CheckedHash;
//! let summary = build(&["site-packages/mypkg".into()], &options, |_event| {});
//! println!("{} compiled, {} failed", summary.compiled, summary.failed);
//! ```

pub mod explain;
pub mod panics;
pub mod paths;
pub mod tree;
pub mod write;
