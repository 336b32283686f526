//! The instruction graph codegen builds for one code object, as CPython 3.11's `compile.c`
//! keeps it: basic blocks of instructions (real opcodes and the pseudo-instructions below),
//! with jump targets naming blocks and each instruction carrying its source location.

use std::sync::OnceLock;

use pyc_assembler::opcode::Opcode;
use pyc_assembler::PythonVersion;

/// Declares [`Op`]: every opcode name codegen or the flow graph uses.
macro_rules! ops {
    ($($name:ident),* $(,)?) => {
        /// An opcode by name, version independent: a real opcode of some version or one of
        /// CPython's pseudo-instructions (`SETUP_FINALLY` … `POP_JUMP_IF_NOT_NONE`), which the
        /// flow graph turns into real ones. The assembler maps names to each version's numbers.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Op { $($name),* }

        impl Op {
            /// Every opcode name, in declaration order.
            pub const ALL: &'static [Op] = &[$(Op::$name),*];

            /// The opcode's name as `dis` prints it.
            pub fn name(self) -> &'static str {
                match self { $(Op::$name => stringify!($name)),* }
            }
        }
    };
}

ops! {
    // Real opcodes of 3.11.
    CACHE, POP_TOP, PUSH_NULL, NOP, UNARY_POSITIVE, UNARY_NEGATIVE, UNARY_NOT, UNARY_INVERT,
    BINARY_SUBSCR, GET_LEN, MATCH_MAPPING, MATCH_SEQUENCE, MATCH_KEYS, PUSH_EXC_INFO,
    CHECK_EXC_MATCH, CHECK_EG_MATCH, WITH_EXCEPT_START, GET_AITER, GET_ANEXT, BEFORE_ASYNC_WITH,
    BEFORE_WITH, END_ASYNC_FOR, STORE_SUBSCR, DELETE_SUBSCR, GET_ITER, GET_YIELD_FROM_ITER,
    PRINT_EXPR, LOAD_BUILD_CLASS, LOAD_ASSERTION_ERROR, RETURN_GENERATOR, LIST_TO_TUPLE,
    RETURN_VALUE, IMPORT_STAR, SETUP_ANNOTATIONS, YIELD_VALUE, ASYNC_GEN_WRAP,
    PREP_RERAISE_STAR, POP_EXCEPT, STORE_NAME, DELETE_NAME, UNPACK_SEQUENCE, FOR_ITER,
    UNPACK_EX, STORE_ATTR, DELETE_ATTR, STORE_GLOBAL, DELETE_GLOBAL, SWAP, LOAD_CONST,
    LOAD_NAME, BUILD_TUPLE, BUILD_LIST, BUILD_SET, BUILD_MAP, LOAD_ATTR, COMPARE_OP,
    IMPORT_NAME, IMPORT_FROM, JUMP_FORWARD, JUMP_IF_FALSE_OR_POP, JUMP_IF_TRUE_OR_POP,
    POP_JUMP_FORWARD_IF_FALSE, POP_JUMP_FORWARD_IF_TRUE, LOAD_GLOBAL, IS_OP, CONTAINS_OP,
    RERAISE, COPY, BINARY_OP, SEND, LOAD_FAST, STORE_FAST, DELETE_FAST,
    POP_JUMP_FORWARD_IF_NOT_NONE, POP_JUMP_FORWARD_IF_NONE, RAISE_VARARGS, GET_AWAITABLE,
    MAKE_FUNCTION, BUILD_SLICE, JUMP_BACKWARD_NO_INTERRUPT, MAKE_CELL, LOAD_CLOSURE,
    LOAD_DEREF, STORE_DEREF, DELETE_DEREF, JUMP_BACKWARD, CALL_FUNCTION_EX, EXTENDED_ARG,
    LIST_APPEND, SET_ADD, MAP_ADD, LOAD_CLASSDEREF, COPY_FREE_VARS, RESUME, MATCH_CLASS,
    FORMAT_VALUE, BUILD_CONST_KEY_MAP, BUILD_STRING, LOAD_METHOD, LIST_EXTEND, SET_UPDATE,
    DICT_MERGE, DICT_UPDATE, PRECALL, CALL, KW_NAMES, POP_JUMP_BACKWARD_IF_NOT_NONE,
    POP_JUMP_BACKWARD_IF_NONE, POP_JUMP_BACKWARD_IF_FALSE, POP_JUMP_BACKWARD_IF_TRUE,
    // Pseudo-instructions (3.11's compile.c: negative numbers).
    SETUP_FINALLY, SETUP_CLEANUP, SETUP_WITH, POP_BLOCK, JUMP, JUMP_NO_INTERRUPT,
    POP_JUMP_IF_FALSE, POP_JUMP_IF_TRUE, POP_JUMP_IF_NONE, POP_JUMP_IF_NOT_NONE,
}

impl Op {
    /// This opcode in `v`'s table (`None` for a name `v` does not have), through a table
    /// indexed by `Op` built once per version: code generation asks for every instruction.
    pub fn real(self, v: PythonVersion) -> Option<&'static Opcode> {
        static TABLES: [OnceLock<Vec<Option<&'static Opcode>>>; PythonVersion::ALL.len()] =
            [const { OnceLock::new() }; PythonVersion::ALL.len()];
        let build = || {
            let table = v.opcodes();
            Op::ALL.iter().map(|op| table.by_name(op.name())).collect()
        };
        TABLES[v.index()].get_or_init(build)[self as usize]
    }

    /// CPython's `IS_VIRTUAL_OPCODE`: a pseudo-instruction.
    pub fn is_virtual(self) -> bool {
        matches!(
            self,
            Op::SETUP_FINALLY
                | Op::SETUP_CLEANUP
                | Op::SETUP_WITH
                | Op::POP_BLOCK
                | Op::JUMP
                | Op::JUMP_NO_INTERRUPT
                | Op::POP_JUMP_IF_FALSE
                | Op::POP_JUMP_IF_TRUE
                | Op::POP_JUMP_IF_NONE
                | Op::POP_JUMP_IF_NOT_NONE
        )
    }

    /// `SETUP_FINALLY`, `SETUP_CLEANUP` or `SETUP_WITH` (`is_block_push`).
    pub fn is_block_push(self) -> bool {
        matches!(self, Op::SETUP_FINALLY | Op::SETUP_CLEANUP | Op::SETUP_WITH)
    }

    /// CPython's `is_jump`: a pseudo jump or a real jump opcode (3.11's `hasjrel`).
    pub fn is_jump(self) -> bool {
        /// The opcodes `is_jump` holds for, by `Op` (asked for every instruction, often).
        const JUMPS: [bool; Op::ALL.len()] = op_set(&[
            Op::JUMP,
            Op::JUMP_NO_INTERRUPT,
            Op::POP_JUMP_IF_FALSE,
            Op::POP_JUMP_IF_TRUE,
            Op::POP_JUMP_IF_NONE,
            Op::POP_JUMP_IF_NOT_NONE,
            Op::JUMP_FORWARD,
            Op::JUMP_IF_FALSE_OR_POP,
            Op::JUMP_IF_TRUE_OR_POP,
            Op::POP_JUMP_FORWARD_IF_FALSE,
            Op::POP_JUMP_FORWARD_IF_TRUE,
            Op::SEND,
            Op::POP_JUMP_FORWARD_IF_NOT_NONE,
            Op::POP_JUMP_FORWARD_IF_NONE,
            Op::JUMP_BACKWARD_NO_INTERRUPT,
            Op::JUMP_BACKWARD,
            Op::FOR_ITER,
            Op::POP_JUMP_BACKWARD_IF_NOT_NONE,
            Op::POP_JUMP_BACKWARD_IF_NONE,
            Op::POP_JUMP_BACKWARD_IF_FALSE,
            Op::POP_JUMP_BACKWARD_IF_TRUE,
        ]);
        JUMPS[self as usize]
    }

    /// CPython's `is_end_of_basic_block`: a jump, `RETURN_VALUE`, `RAISE_VARARGS` or
    /// `RERAISE`; the next instruction starts a new block.
    pub fn ends_block(self) -> bool {
        self.is_jump() || matches!(self, Op::RETURN_VALUE | Op::RAISE_VARARGS | Op::RERAISE)
    }
}

/// A table by `Op` of which opcodes are in `ops`.
const fn op_set(ops: &[Op]) -> [bool; Op::ALL.len()] {
    let mut set = [false; Op::ALL.len()];
    let mut i = 0;
    while i < ops.len() {
        set[ops[i] as usize] = true;
        i += 1;
    }
    set
}

/// A block, by its index in [`crate::codegen::Unit::blocks`] (allocation order; CPython's
/// `b_list` is the reverse of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

/// A source location as 3.11's `struct instr` keeps it: `lineno` -1 means none
/// (`UNSET_LOC` / the `_noline` helpers, which also zero the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub lineno: i32,
    pub end_lineno: i32,
    pub col_offset: i32,
    pub end_col_offset: i32,
}

impl Loc {
    /// No location: `(-1, 0, 0, 0)`.
    pub const NONE: Loc = Loc {
        lineno: -1,
        end_lineno: 0,
        col_offset: 0,
        end_col_offset: 0,
    };
}

/// One instruction (`struct instr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instr {
    pub op: Op,
    /// The argument (0 for opcodes without one, and for jumps until assembly).
    pub arg: u32,
    /// The target of a jump or of a `SETUP_*` pseudo-instruction.
    pub target: Option<BlockId>,
    /// The handler an exception here goes to, set by the flow graph (`i_except`).
    pub except: Option<BlockId>,
    pub loc: Loc,
}

/// A basic block (`basicblock`).
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub instrs: Vec<Instr>,
    /// The block control flow falls into (`b_next`), in emission order.
    pub next: Option<BlockId>,
    /// Work fields of the flow graph passes (CPython's bit fields and counters).
    pub predecessors: u32,
    pub startdepth: i32,
    pub offset: u32,
    pub preserve_lasti: bool,
    pub visited: bool,
    pub cold: bool,
    pub warm: bool,
    /// The handler stack at block entry (`b_exceptstack`), set by `label_exception_targets`.
    pub except_stack: Option<Vec<BlockId>>,
}

impl Block {
    /// The last instruction, if any.
    pub fn last(&self) -> Option<&Instr> {
        self.instrs.last()
    }
}
