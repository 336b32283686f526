//! The last steps of 3.11's `assemble()`: exception handlers per instruction
//! (`label_exception_targets`), real jump opcodes (`normalize_jumps`), jump offsets with
//! `EXTENDED_ARG` (`assemble_jump_offsets`), and writing `co_code`, the location table and
//! the exception table.

use pyc_assembler::exceptions::{encode_exception_table, ExceptionEntry};
use pyc_assembler::lines::{encode_locations, Position};
use pyc_assembler::opcode::OpcodeTable;

use super::super::ir::{BlockId, Instr, Op};
use super::super::{CResult, CodegenError};
use super::cfg::{target, Cfg};

fn internal(what: String) -> CodegenError {
    CodegenError::Unsupported {
        what,
        line: 0,
        column: 0,
    }
}

/// An opcode's number and inline cache size in the target version.
#[derive(Clone, Copy)]
struct Real {
    number: u8,
    has_arg: bool,
    caches: u32,
}

fn real(table: &OpcodeTable, op: Op) -> CResult<Real> {
    let code = op
        .real(table.version)
        .filter(|c| c.number < 256 && !c.is_pseudo())
        .ok_or_else(|| internal(format!("opcode {} in final code", op.name())))?;
    Ok(Real {
        number: code.number as u8,
        has_arg: code.has_arg(),
        caches: u32::from(code.cache_entries),
    })
}

/// `instr_size`: code units including `EXTENDED_ARG` prefixes and caches.
fn instr_size(table: &OpcodeTable, i: &Instr) -> CResult<u32> {
    let r = real(table, i.op)?;
    let arg = if r.has_arg { i.arg } else { 0 };
    let ext = (arg > 0xff_ffff) as u32 + (arg > 0xffff) as u32 + (arg > 0xff) as u32;
    Ok(ext + 1 + r.caches)
}

impl Cfg {
    /// `label_exception_targets`: follows the `SETUP_*`/`POP_BLOCK` pseudo-instructions
    /// along the flow and records in each instruction the handler it is covered by.
    pub fn label_exception_targets(&mut self) {
        for b in self.chain() {
            self.blocks[b].visited = false;
        }
        let entry = self.entry;
        self.blocks[entry].visited = true;
        self.blocks[entry].except_stack = Some(vec![None]);
        let mut todo = vec![entry];
        while let Some(b) = todo.pop() {
            let mut stack = self.blocks[b].except_stack.take();
            let mut handler = stack.as_ref().and_then(|s| s.last().copied().flatten());
            for k in 0..self.blocks[b].instrs.len() {
                let ins = self.blocks[b].instrs[k];
                if ins.op.is_block_push() {
                    let t = target(&ins);
                    if !self.blocks[t].visited {
                        self.blocks[t].except_stack = stack.clone();
                        self.blocks[t].visited = true;
                        todo.push(t);
                    }
                    // push_except_block
                    if matches!(ins.op, Op::SETUP_WITH | Op::SETUP_CLEANUP) {
                        self.blocks[t].preserve_lasti = true;
                    }
                    if let Some(s) = stack.as_mut() {
                        s.push(Some(t));
                    }
                    handler = Some(t);
                } else if ins.op == Op::POP_BLOCK {
                    // pop_except_block
                    if let Some(s) = stack.as_mut() {
                        if s.len() > 1 {
                            s.pop();
                        }
                        handler = s.last().copied().flatten();
                    }
                } else if ins.op.is_jump() {
                    self.blocks[b].instrs[k].except = handler.map(|h| BlockId(h as u32));
                    let t = target(&ins);
                    if !self.blocks[t].visited {
                        if !self.blocks[b].nofallthrough {
                            self.blocks[t].except_stack = stack.clone();
                        } else {
                            self.blocks[t].except_stack = stack.take();
                        }
                        self.blocks[t].visited = true;
                        todo.push(t);
                    }
                } else {
                    self.blocks[b].instrs[k].except = handler.map(|h| BlockId(h as u32));
                }
            }
            if !self.blocks[b].nofallthrough {
                if let Some(next) = self.blocks[b].next {
                    if !self.blocks[next].visited {
                        self.blocks[next].except_stack = stack;
                        self.blocks[next].visited = true;
                        todo.push(next);
                    }
                }
            }
        }
    }

    /// `convert_exception_handlers_to_nops`.
    pub fn convert_exception_handlers_to_nops(&mut self) {
        for b in self.chain() {
            for i in &mut self.blocks[b].instrs {
                if i.op.is_block_push() || i.op == Op::POP_BLOCK {
                    i.op = Op::NOP;
                }
            }
        }
    }

    /// `normalize_jumps`: pseudo jumps become forward or backward real jumps, by whether
    /// the target comes later in emission order.
    pub fn normalize_jumps(&mut self) -> CResult {
        let chain = self.chain();
        for &b in &chain {
            self.blocks[b].visited = false;
        }
        for &b in &chain {
            self.blocks[b].visited = true;
            let Some(last) = self.blocks[b].instrs.last().copied() else {
                continue;
            };
            if !last.op.is_jump() {
                continue;
            }
            let forward = !self.blocks[target(&last)].visited;
            let op = match (last.op, forward) {
                (Op::JUMP, true) | (Op::JUMP_NO_INTERRUPT, true) => Op::JUMP_FORWARD,
                (Op::JUMP, false) => Op::JUMP_BACKWARD,
                (Op::JUMP_NO_INTERRUPT, false) => Op::JUMP_BACKWARD_NO_INTERRUPT,
                (Op::POP_JUMP_IF_NOT_NONE, true) => Op::POP_JUMP_FORWARD_IF_NOT_NONE,
                (Op::POP_JUMP_IF_NOT_NONE, false) => Op::POP_JUMP_BACKWARD_IF_NOT_NONE,
                (Op::POP_JUMP_IF_NONE, true) => Op::POP_JUMP_FORWARD_IF_NONE,
                (Op::POP_JUMP_IF_NONE, false) => Op::POP_JUMP_BACKWARD_IF_NONE,
                (Op::POP_JUMP_IF_FALSE, true) => Op::POP_JUMP_FORWARD_IF_FALSE,
                (Op::POP_JUMP_IF_FALSE, false) => Op::POP_JUMP_BACKWARD_IF_FALSE,
                (Op::POP_JUMP_IF_TRUE, true) => Op::POP_JUMP_FORWARD_IF_TRUE,
                (Op::POP_JUMP_IF_TRUE, false) => Op::POP_JUMP_BACKWARD_IF_TRUE,
                (Op::JUMP_IF_TRUE_OR_POP | Op::JUMP_IF_FALSE_OR_POP, false) => {
                    return Err(internal(format!(
                        "unexpected {} jumping backwards",
                        last.op.name()
                    )));
                }
                (op, _) => op,
            };
            if let Some(l) = self.blocks[b].instrs.last_mut() {
                l.op = op;
            }
        }
        Ok(())
    }

    /// `assemble_jump_offsets`: block offsets and relative jump arguments, repeated until
    /// the `EXTENDED_ARG` prefixes they need stop changing.
    pub fn assemble_jump_offsets(&mut self, table: &OpcodeTable) -> CResult {
        let chain = self.chain();
        loop {
            let mut total = 0;
            for &b in &chain {
                self.blocks[b].offset = total;
                for i in &self.blocks[b].instrs {
                    total += instr_size(table, i)?;
                }
            }
            let mut recompile = false;
            for &b in &chain {
                let mut offset = self.blocks[b].offset;
                for k in 0..self.blocks[b].instrs.len() {
                    let ins = self.blocks[b].instrs[k];
                    let size = instr_size(table, &ins)?;
                    offset += size;
                    if ins.op.is_jump() {
                        let t = self.blocks[target(&ins)].offset;
                        let arg = offset.abs_diff(t);
                        let ins = &mut self.blocks[b].instrs[k];
                        ins.arg = arg;
                        if instr_size(table, ins)? != size {
                            recompile = true;
                        }
                    }
                }
            }
            if !recompile {
                return Ok(());
            }
        }
    }

    /// `assemble_emit` for every instruction: `co_code`.
    pub fn emit_code(&self, table: &OpcodeTable) -> CResult<Vec<u8>> {
        let ext = table.extended_arg;
        let mut code = Vec::new();
        for b in self.chain() {
            for i in &self.blocks[b].instrs {
                let r = real(table, i.op)?;
                let arg = if r.has_arg { i.arg } else { 0 };
                for shift in [24, 16, 8] {
                    if arg >> shift != 0 {
                        code.extend([ext, (arg >> shift) as u8]);
                    }
                }
                code.extend([r.number, arg as u8]);
                for _ in 0..r.caches {
                    code.extend([0, 0]);
                }
            }
        }
        Ok(code)
    }

    /// `assemble_emit_location` for every instruction: the location table.
    pub fn emit_locations(&self, table: &OpcodeTable, firstlineno: u32) -> CResult<Vec<u8>> {
        let opt = |v: i32| u32::try_from(v).ok();
        let mut items = Vec::new();
        for b in self.chain() {
            for i in &self.blocks[b].instrs {
                let l = i.loc;
                let pos = Position {
                    lineno: opt(l.lineno),
                    end_lineno: opt(l.end_lineno),
                    col: opt(l.col_offset),
                    end_col: opt(l.end_col_offset),
                };
                items.push((instr_size(table, i)?, pos));
            }
        }
        Ok(encode_locations(firstlineno, &items))
    }

    /// `assemble_exception_table`.
    pub fn emit_exception_table(&self, table: &OpcodeTable) -> CResult<Vec<u8>> {
        let mut entries = Vec::new();
        let mut handler: Option<BlockId> = None;
        let mut start = 0;
        let mut offset = 0;
        let mut close = |start: u32, end: u32, h: BlockId| -> CResult {
            let hb = &self.blocks[h.0 as usize];
            let depth = hb.startdepth - 1 - hb.preserve_lasti as i32;
            let depth = u32::try_from(depth)
                .map_err(|_| internal("exception handler without stack depth".into()))?;
            entries.push(ExceptionEntry {
                start: start * 2,
                end: end * 2,
                target: hb.offset * 2,
                depth,
                lasti: hb.preserve_lasti,
            });
            Ok(())
        };
        for b in self.chain() {
            offset = self.blocks[b].offset;
            for i in &self.blocks[b].instrs {
                if i.except != handler {
                    if let Some(h) = handler {
                        close(start, offset, h)?;
                    }
                    start = offset;
                    handler = i.except;
                }
                offset += instr_size(table, i)?;
            }
        }
        if let Some(h) = handler {
            close(start, offset, h)?;
        }
        Ok(encode_exception_table(&entries))
    }
}
