//! The single integration-test binary: unit-crossing and differential tests.

mod asm;
mod codegen;
mod dis;
mod errors;
mod fold;
mod marshal;
mod opcodes;
mod pyc;
mod symtable;
mod tables;
