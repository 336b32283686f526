//! The single integration-test binary: unit-crossing and differential tests.

mod errors;
mod marshal;
mod opcodes;
mod pyc;
mod tables;
mod symtable;
