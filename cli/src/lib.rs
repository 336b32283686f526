//! The library half of `pyc-build`: the parts of the command line other tools and the tests
//! call directly.

pub mod explain;
