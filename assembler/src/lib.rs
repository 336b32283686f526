//! `pyc-assembler`: everything about CPython bytecode, and nothing about Python syntax.
//!
//! - [`version`]: the supported CPython versions and their differences, as named questions.
//! - [`opcode`]: opcode tables per version, generated from the real interpreters.
//! - [`code`]: code objects and constants, one model for the 3.8–3.10 and 3.11+ layouts.
//! - [`marshal`]: marshal reader and writer (with a lossless, byte-exact path).
//! - [`pyc`]: pyc headers (PEP 552) and `importlib.util.source_hash`.
//! - [`lines`], [`exceptions`]: line/location tables and exception tables.
//! - [`repr`]: Python's `repr()` of constants, as `dis` prints them.
//! - [`dis`]: listings in the format of each version's own `dis` module.
//! - [`compare`]: the first difference between two code-object trees, for differential tests.

pub mod asm;
pub mod code;
pub mod compare;
pub mod dis;
pub mod exceptions;
pub mod lines;
pub mod marshal;
pub mod opcode;
pub mod pyc;
pub mod repr;
pub mod version;

pub use code::{CodeObject, Constant, LocalPlus, Locals, PyStr};
pub use version::PythonVersion;
