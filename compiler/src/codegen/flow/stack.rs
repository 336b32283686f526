//! Stack depth: 3.11's `stack_effect` for every opcode and pseudo-instruction, and
//! `stackdepth` over the block graph.

use super::super::ir::Op;
use super::cfg::{target, Cfg};

/// `stack_effect(opcode, oparg, jump)` of 3.11's `compile.c`: the change of the stack depth
/// when the instruction falls through (`jump == false`) or jumps (`jump == true`).
pub(super) fn stack_effect(op: Op, oparg: u32, jump: bool) -> i32 {
    let arg = oparg as i32;
    match op {
        Op::NOP | Op::EXTENDED_ARG | Op::RESUME | Op::CACHE => 0,
        Op::POP_TOP => -1,
        Op::SWAP => 0,
        Op::UNARY_POSITIVE | Op::UNARY_NEGATIVE | Op::UNARY_NOT | Op::UNARY_INVERT => 0,
        Op::SET_ADD | Op::LIST_APPEND => -1,
        Op::MAP_ADD => -2,
        Op::BINARY_SUBSCR => -1,
        Op::STORE_SUBSCR => -3,
        Op::DELETE_SUBSCR => -2,
        Op::GET_ITER => 0,
        Op::PRINT_EXPR => -1,
        Op::LOAD_BUILD_CLASS => 1,
        Op::RETURN_VALUE => -1,
        Op::IMPORT_STAR => -1,
        Op::SETUP_ANNOTATIONS => 0,
        Op::ASYNC_GEN_WRAP | Op::YIELD_VALUE => 0,
        Op::POP_BLOCK => 0,
        Op::POP_EXCEPT => -1,
        Op::STORE_NAME => -1,
        Op::DELETE_NAME => 0,
        Op::UNPACK_SEQUENCE => arg.wrapping_sub(1),
        Op::UNPACK_EX => (arg & 0xff) + (arg >> 8),
        Op::FOR_ITER => {
            if jump {
                -1
            } else {
                1
            }
        }
        Op::SEND => {
            if jump {
                -1
            } else {
                0
            }
        }
        Op::STORE_ATTR => -2,
        Op::DELETE_ATTR => -1,
        Op::STORE_GLOBAL => -1,
        Op::DELETE_GLOBAL => 0,
        Op::LOAD_CONST => 1,
        Op::LOAD_NAME => 1,
        Op::BUILD_TUPLE | Op::BUILD_LIST | Op::BUILD_SET | Op::BUILD_STRING => {
            1i32.wrapping_sub(arg)
        }
        Op::BUILD_MAP => 1i32.wrapping_sub(arg.wrapping_mul(2)),
        Op::BUILD_CONST_KEY_MAP => arg.wrapping_neg(),
        Op::LOAD_ATTR => 0,
        Op::COMPARE_OP | Op::IS_OP | Op::CONTAINS_OP => -1,
        Op::CHECK_EXC_MATCH => 0,
        Op::CHECK_EG_MATCH => 0,
        Op::IMPORT_NAME => -1,
        Op::IMPORT_FROM => 1,
        Op::JUMP_FORWARD
        | Op::JUMP_BACKWARD
        | Op::JUMP
        | Op::JUMP_BACKWARD_NO_INTERRUPT
        | Op::JUMP_NO_INTERRUPT => 0,
        Op::JUMP_IF_TRUE_OR_POP | Op::JUMP_IF_FALSE_OR_POP => {
            if jump {
                0
            } else {
                -1
            }
        }
        Op::POP_JUMP_BACKWARD_IF_NONE
        | Op::POP_JUMP_FORWARD_IF_NONE
        | Op::POP_JUMP_IF_NONE
        | Op::POP_JUMP_BACKWARD_IF_NOT_NONE
        | Op::POP_JUMP_FORWARD_IF_NOT_NONE
        | Op::POP_JUMP_IF_NOT_NONE
        | Op::POP_JUMP_FORWARD_IF_FALSE
        | Op::POP_JUMP_BACKWARD_IF_FALSE
        | Op::POP_JUMP_IF_FALSE
        | Op::POP_JUMP_FORWARD_IF_TRUE
        | Op::POP_JUMP_BACKWARD_IF_TRUE
        | Op::POP_JUMP_IF_TRUE => -1,
        Op::LOAD_GLOBAL => (arg & 1) + 1,
        // Exception handling pseudo-instructions: nothing in the normal flow; the handler
        // gets the exception (and, for cleanups, `lasti`).
        Op::SETUP_FINALLY => jump as i32,
        Op::SETUP_CLEANUP => 2 * jump as i32,
        Op::SETUP_WITH => jump as i32,
        Op::PREP_RERAISE_STAR => -1,
        Op::RERAISE => -1,
        Op::PUSH_EXC_INFO => 1,
        Op::WITH_EXCEPT_START => 1,
        Op::LOAD_FAST => 1,
        Op::STORE_FAST => -1,
        Op::DELETE_FAST => 0,
        Op::RETURN_GENERATOR => 0,
        Op::RAISE_VARARGS => arg.wrapping_neg(),
        Op::PRECALL => arg.wrapping_neg(),
        Op::KW_NAMES => 0,
        Op::CALL => -1,
        Op::CALL_FUNCTION_EX => -2 - (arg & 1 != 0) as i32,
        Op::MAKE_FUNCTION => -((arg & 0xf).count_ones() as i32),
        Op::BUILD_SLICE => {
            if arg == 3 {
                -2
            } else {
                -1
            }
        }
        Op::MAKE_CELL | Op::COPY_FREE_VARS => 0,
        Op::LOAD_CLOSURE => 1,
        Op::LOAD_DEREF | Op::LOAD_CLASSDEREF => 1,
        Op::STORE_DEREF => -1,
        Op::DELETE_DEREF => 0,
        Op::GET_AWAITABLE => 0,
        Op::BEFORE_ASYNC_WITH | Op::BEFORE_WITH => 1,
        Op::GET_AITER => 0,
        Op::GET_ANEXT => 1,
        Op::GET_YIELD_FROM_ITER => 0,
        Op::END_ASYNC_FOR => -2,
        // A format spec on the stack (FVS_HAVE_SPEC) is consumed.
        Op::FORMAT_VALUE => {
            if arg & 4 == 4 {
                -1
            } else {
                0
            }
        }
        Op::LOAD_METHOD => 1,
        Op::LOAD_ASSERTION_ERROR => 1,
        Op::LIST_TO_TUPLE => 0,
        Op::LIST_EXTEND | Op::SET_UPDATE | Op::DICT_MERGE | Op::DICT_UPDATE => -1,
        Op::MATCH_CLASS => -2,
        Op::GET_LEN | Op::MATCH_MAPPING | Op::MATCH_SEQUENCE | Op::MATCH_KEYS => 1,
        Op::COPY | Op::PUSH_NULL => 1,
        Op::BINARY_OP => -1,
    }
}

impl Cfg {
    /// `stackdepth`: the largest stack any path needs, starting at depth 1 for generators
    /// and coroutines (the value `RETURN_GENERATOR` leaves). Sets each reached block's
    /// `startdepth`.
    pub fn stackdepth(&mut self, generator: bool) -> i32 {
        for b in &mut self.blocks {
            b.startdepth = i32::MIN;
        }
        let mut stack: Vec<usize> = Vec::with_capacity(self.blocks.len());
        let mut maxdepth = 0;
        self.stackdepth_push(&mut stack, self.entry, generator as i32);
        while let Some(b) = stack.pop() {
            let mut depth = self.blocks[b].startdepth;
            let mut next = self.blocks[b].next;
            // Set aside while the targets' depths change (their instructions are not read).
            let instrs = std::mem::take(&mut self.blocks[b].instrs);
            for ins in &instrs {
                let new_depth = depth.wrapping_add(stack_effect(ins.op, ins.arg, false));
                maxdepth = maxdepth.max(new_depth);
                if ins.op.is_jump() || ins.op.is_block_push() {
                    let target_depth = depth.wrapping_add(stack_effect(ins.op, ins.arg, true));
                    maxdepth = maxdepth.max(target_depth);
                    self.stackdepth_push(&mut stack, target(ins), target_depth);
                }
                depth = new_depth;
                if matches!(
                    ins.op,
                    Op::JUMP_NO_INTERRUPT
                        | Op::JUMP
                        | Op::RETURN_VALUE
                        | Op::RAISE_VARARGS
                        | Op::RERAISE
                ) {
                    next = None;
                    break;
                }
            }
            self.blocks[b].instrs = instrs;
            if let Some(next) = next {
                self.stackdepth_push(&mut stack, next, depth);
            }
        }
        maxdepth
    }

    /// `stackdepth_push`.
    fn stackdepth_push(&mut self, stack: &mut Vec<usize>, b: usize, depth: i32) {
        let bb = &mut self.blocks[b];
        if bb.startdepth < depth && bb.startdepth < 100 {
            bb.startdepth = depth;
            stack.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyc_assembler::PythonVersion;

    /// Every real 3.11 opcode's effect equals `dis.stack_effect` of the interpreter (the
    /// generated opcode table), for both branches and a spread of arguments.
    #[test]
    fn stack_effects_match_the_interpreter() {
        let v: PythonVersion = "3.11".parse().expect("version");
        let table = v.opcodes();
        let mut checked = 0;
        for op in Op::ALL {
            let Some(real) = table.by_name(op.name()) else {
                assert!(op.is_virtual(), "{} is not a 3.11 opcode", op.name());
                continue;
            };
            for arg in [0, 1, 2, 3, 4, 5, 7, 8, 15, 255, 256, 513, 0x1234] {
                for jump in [false, true] {
                    if let Some(expected) = real.stack_effect(arg, jump) {
                        assert_eq!(
                            stack_effect(*op, arg, jump),
                            expected,
                            "{} arg {arg} jump {jump}",
                            op.name()
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
