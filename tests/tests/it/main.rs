//! The single integration-test binary: unit-crossing and differential tests.

mod asm;
mod opcodes;
