//! The single integration-test binary: unit-crossing and differential tests.

mod marshal;
mod opcodes;
mod pyc;
