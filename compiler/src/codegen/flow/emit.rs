//! The last steps of 3.11's `assemble()`: exception handlers per instruction
//! (`label_exception_targets`), real jump opcodes (`normalize_jumps`), jump offsets with
//! `EXTENDED_ARG` (`assemble_jump_offsets`), and writing `co_code`, the location table and
//! the exception table.

use std::sync::OnceLock;

use pyc_assembler::exceptions::{encode_exception_table, ExceptionEntry};
use pyc_assembler::lines::LocationWriter;
use pyc_assembler::PythonVersion;

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
    caches: u8,
}

/// The real opcode of every [`Op`] in one version (`None` for pseudo-instructions and names
/// the version lacks), indexed by `Op`: emission asks for every instruction several times.
#[derive(Clone, Copy)]
pub(super) struct Reals {
    ops: &'static [Option<Real>],
    /// `EXTENDED_ARG`.
    extended_arg: u8,
}

impl Reals {
    /// The table of `v`, built once per version.
    pub fn new(v: PythonVersion) -> Reals {
        static TABLES: [OnceLock<Vec<Option<Real>>>; PythonVersion::ALL.len()] =
            [const { OnceLock::new() }; PythonVersion::ALL.len()];
        let build = || {
            let real = |op: Op| {
                let code = op.real(v).filter(|c| c.number < 256 && !c.is_pseudo())?;
                Some(Real {
                    number: code.number as u8,
                    has_arg: code.has_arg(),
                    caches: code.cache_entries,
                })
            };
            Op::ALL.iter().map(|&op| real(op)).collect()
        };
        Reals {
            ops: TABLES[v.index()].get_or_init(build),
            extended_arg: v.opcodes().extended_arg,
        }
    }

    fn real(self, op: Op) -> CResult<Real> {
        self.ops
            .get(op as usize)
            .copied()
            .flatten()
            .ok_or_else(|| internal(format!("opcode {} in final code", op.name())))
    }

    /// `instr_size`: code units including `EXTENDED_ARG` prefixes and caches.
    fn instr_size(self, i: &Instr) -> CResult<u32> {
        let r = self.real(i.op)?;
        let arg = if r.has_arg { i.arg } else { 0 };
        let ext = (arg > 0xff_ffff) as u32 + (arg > 0xffff) as u32 + (arg > 0xff) as u32;
        Ok(ext + 1 + u32::from(r.caches))
    }
}

impl Cfg {
    /// `label_exception_targets`: follows the `SETUP_*`/`POP_BLOCK` pseudo-instructions
    /// along the flow and records in each instruction the handler it is covered by. Returns
    /// whether the code has any handler (a `SETUP_*`) at all.
    pub fn label_exception_targets(&mut self) -> bool {
        // Without a `SETUP_*` no instruction is covered by a handler: every `except` stays
        // `None` (most code objects), and the walk below would only confirm it.
        let has_setup = |b: &super::cfg::Bb| b.instrs.iter().any(|i| i.op.is_block_push());
        if !self.blocks.iter().any(has_setup) {
            return false;
        }
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            self.blocks[b].visited = false;
            cur = self.blocks[b].next;
        }
        let entry = self.entry;
        self.blocks[entry].visited = true;
        self.blocks[entry].except_stack = Some(vec![None]);
        let mut todo = vec![entry];
        while let Some(b) = todo.pop() {
            let mut stack = self.blocks[b].except_stack.take();
            let mut handler = stack.as_ref().and_then(|s| s.last().copied().flatten());
            // The instructions are set aside while the other blocks are updated; nothing
            // here reads a target's instructions.
            let mut instrs = std::mem::take(&mut self.blocks[b].instrs);
            let nofallthrough = self.blocks[b].nofallthrough;
            for ins in &mut instrs {
                if ins.op.is_block_push() {
                    let t = target(ins);
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
                } else {
                    ins.except = handler.map(|h| BlockId(h as u32));
                    if ins.op.is_jump() {
                        let t = target(ins);
                        if !self.blocks[t].visited {
                            self.blocks[t].except_stack = if nofallthrough {
                                stack.take()
                            } else {
                                stack.clone()
                            };
                            self.blocks[t].visited = true;
                            todo.push(t);
                        }
                    }
                }
            }
            self.blocks[b].instrs = instrs;
            if !nofallthrough {
                if let Some(next) = self.blocks[b].next {
                    if !self.blocks[next].visited {
                        self.blocks[next].except_stack = stack;
                        self.blocks[next].visited = true;
                        todo.push(next);
                    }
                }
            }
        }
        true
    }

    /// `convert_exception_handlers_to_nops`.
    pub fn convert_exception_handlers_to_nops(&mut self) {
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            for i in &mut self.blocks[b].instrs {
                if i.op.is_block_push() || i.op == Op::POP_BLOCK {
                    i.op = Op::NOP;
                }
            }
            cur = self.blocks[b].next;
        }
    }

    /// `normalize_jumps`: pseudo jumps become forward or backward real jumps, by whether
    /// the target comes later in emission order.
    pub fn normalize_jumps(&mut self) -> CResult {
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            self.blocks[b].visited = false;
            cur = self.blocks[b].next;
        }
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            self.blocks[b].visited = true;
            cur = self.blocks[b].next;
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
    /// the `EXTENDED_ARG` prefixes they need stop changing. Returns the length of the code in
    /// code units.
    pub fn assemble_jump_offsets(&mut self, reals: Reals) -> CResult<u32> {
        // Each jump as (block, index, offset after it). CPython's second walk over every
        // instruction adds up the sizes the first one did, so the offsets are kept from it.
        let mut jumps = Vec::new();
        loop {
            jumps.clear();
            let mut total = 0;
            let mut cur = Some(self.entry);
            while let Some(b) = cur {
                let bb = &mut self.blocks[b];
                bb.offset = total;
                for (k, i) in bb.instrs.iter().enumerate() {
                    total += reals.instr_size(i)?;
                    if i.op.is_jump() {
                        jumps.push((b, k, total));
                    }
                }
                cur = bb.next;
            }
            let mut recompile = false;
            for &(b, k, offset) in &jumps {
                let t = self.blocks[target(&self.blocks[b].instrs[k])].offset;
                let ins = &mut self.blocks[b].instrs[k];
                let size = reals.instr_size(ins)?;
                ins.arg = offset.abs_diff(t);
                if reals.instr_size(ins)? != size {
                    recompile = true;
                }
            }
            if !recompile {
                return Ok(total);
            }
        }
    }

    /// `assemble_emit` and `assemble_emit_location` for every instruction, in one walk:
    /// `co_code` of `units` code units and the location table.
    pub fn emit_code_and_locations(
        &self,
        reals: Reals,
        firstlineno: u32,
        units: u32,
    ) -> CResult<(Vec<u8>, Vec<u8>)> {
        let ext = reals.extended_arg;
        let mut code = Vec::with_capacity(2 * units as usize);
        let mut w = LocationWriter::new(firstlineno, units as usize * 3 / 2);
        for b in self.chain() {
            for i in &self.blocks[b].instrs {
                let r = reals.real(i.op)?;
                let arg = if r.has_arg { i.arg } else { 0 };
                let mut size = 1 + u32::from(r.caches);
                if arg > 0xff {
                    if arg > 0xffff {
                        if arg > 0xff_ffff {
                            code.extend([ext, (arg >> 24) as u8]);
                            size += 1;
                        }
                        code.extend([ext, (arg >> 16) as u8]);
                        size += 1;
                    }
                    code.extend([ext, (arg >> 8) as u8]);
                    size += 1;
                }
                code.extend([r.number, arg as u8]);
                if r.caches > 0 {
                    code.resize(code.len() + 2 * usize::from(r.caches), 0);
                }
                let l = i.loc;
                w.push_location(size, l.lineno, l.end_lineno, l.col_offset, l.end_col_offset);
            }
        }
        Ok((code, w.finish()))
    }

    /// `assemble_exception_table` for code of `units` code units.
    pub fn emit_exception_table(&self, reals: Reals, units: u32) -> CResult<Vec<u8>> {
        let mut entries = Vec::new();
        let mut handler: Option<BlockId> = None;
        let mut start = 0;
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
            let bb = &self.blocks[b];
            // Offsets are only needed where the handler changes (most code has none).
            if bb.instrs.iter().all(|i| i.except == handler) {
                continue;
            }
            let mut offset = bb.offset;
            for i in &bb.instrs {
                if i.except != handler {
                    if let Some(h) = handler {
                        close(start, offset, h)?;
                    }
                    start = offset;
                    handler = i.except;
                }
                offset += reals.instr_size(i)?;
            }
        }
        if let Some(h) = handler {
            close(start, units, h)?;
        }
        Ok(encode_exception_table(&entries))
    }
}
