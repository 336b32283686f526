//! Test support: discovery of real CPython interpreters and the oracle worker protocol.
