//! The 3.11 flow graph and assembly: `assemble()` in `compile.c` and the passes it calls.

use pyc_assembler::CodeObject;

use super::{CResult, CodegenError, Compiler};

impl<'a> Compiler<'a> {
    /// `assemble(c, addNone)`: optimises the current unit's block graph and builds its code
    /// object.
    pub fn assemble(&mut self, add_none: bool) -> CResult<CodeObject> {
        let _ = add_none;
        Err(CodegenError::Unsupported {
            what: "assembly".into(),
            line: self.u.firstlineno,
            column: 0,
        })
    }
}
