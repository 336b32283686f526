//! The 3.11 flow graph and assembly: `assemble()` in `compile.c` and the passes it calls.
//!
//! - [`cfg`]: the block graph and the optimiser (jump threading, constant conditions and
//!   tuples, `SWAP` elimination, dead blocks, `NOP` removal, line number propagation);
//! - [`stack`]: `stack_effect` and `stackdepth`;
//! - [`emit`]: exception handler labels, real jump opcodes and offsets, and the bytes of
//!   `co_code`, the location table and the exception table.
//!
//! This module holds `assemble()` itself and what builds the code object around the
//! bytecode: the implicit `return None`, the prefix instructions (`MAKE_CELL`,
//! `COPY_FREE_VARS`, `RETURN_GENERATOR`), cell slot numbers and `co_localsplus*`.

use pyc_assembler::code::local_kind;
use pyc_assembler::{CodeObject, Constant, LocalPlus, Locals, PyStr};

use super::ir::{Instr, Loc, Op};
use super::{CResult, Compiler};

mod cfg;
mod emit;
mod stack;

use cfg::Cfg;
use emit::Reals;

impl<'a> Compiler<'a> {
    /// `assemble(c, addNone)`: optimises the current unit's block graph and builds its code
    /// object.
    pub fn assemble(&mut self, add_none: bool) -> CResult<CodeObject> {
        // Make sure every block that falls off the end returns None (`b_return` of the
        // current block: whether a RETURN_VALUE was added to it).
        if !self
            .cur_block()
            .instrs
            .iter()
            .any(|i| i.op == Op::RETURN_VALUE)
        {
            self.unset_loc();
            if add_none {
                self.load_const(Constant::None);
            }
            self.addop(Op::RETURN_VALUE);
        }
        self.trace_codegen();
        let reals = Reals::new(self.v);
        let blocks = std::mem::take(&mut self.u.blocks);
        let mut g = Cfg::new(blocks, self.u.entry.0 as usize)?;
        for b in (0..g.blocks.len()).rev() {
            g.normalize_basic_block(b)?;
        }
        for b in (0..g.blocks.len()).rev() {
            g.extend_block(b);
        }

        let nlocals = self.u.varnames.len();
        let ncellvars = self.u.cellvars.len();
        let nfreevars = self.u.freevars.len();
        let mut nlocalsplus = nlocals + ncellvars + nfreevars;
        let mut fixed = self.build_cellfixedoffsets();

        // Set firstlineno if it wasn't explicitly set.
        if self.u.firstlineno == 0 {
            let first = g.blocks[g.entry].instrs.first().map_or(0, |i| i.loc.lineno);
            self.u.firstlineno = if first > 0 { first as u32 } else { 1 };
        }

        self.insert_prefix_instructions(&mut g, &fixed, nfreevars);
        let numdropped = fix_cell_offsets(&mut g, nlocals, &mut fixed);
        nlocalsplus -= numdropped;

        let mut consts = std::mem::take(&mut self.u.consts);
        g.optimize_cfg(&mut consts)?;
        g.duplicate_exits_without_lineno();
        g.trim_unused_consts(&mut consts);
        g.propagate_line_numbers();
        g.guarantee_lineno_for_exits(self.u.firstlineno as i32);
        let flags = self.ste().flags;
        let maxdepth = g.stackdepth(flags.generator || flags.coroutine);

        let has_handlers = g.label_exception_targets();
        g.convert_exception_handlers_to_nops();
        let mut b = Some(g.entry);
        while let Some(i) = b {
            g.clean_basic_block(i);
            b = g.blocks[i].next;
        }
        g.normalize_jumps()?;
        if self.tracing() {
            let blocks = g.chain().map(|b| {
                (
                    b,
                    g.blocks[b].instrs.clone(),
                    g.blocks[b].next,
                    g.blocks[b].startdepth,
                )
            });
            self.trace_cfg(blocks.collect(), &consts);
        }
        let units = g.assemble_jump_offsets(reals)?;
        let (code, linetable) = g.emit_code_and_locations(reals, self.u.firstlineno, units)?;
        // No handler, no entries: the table is empty.
        let exceptiontable = if has_handlers {
            g.emit_exception_table(reals, units)?
        } else {
            Vec::new()
        };

        let locals = self.compute_localsplus_info(nlocalsplus);
        let u = &self.u;
        Ok(CodeObject {
            argcount: u.posonlyargcount + u.argcount,
            posonlyargcount: u.posonlyargcount,
            kwonlyargcount: u.kwonlyargcount,
            stacksize: maxdepth.max(0) as u32,
            flags: self.compute_code_flags(),
            code,
            consts,
            names: u.names.iter().map(|n| PyStr::from(n.as_str())).collect(),
            locals,
            filename: self.filename.clone(),
            name: u.name.clone(),
            qualname: Some(u.qualname.clone().unwrap_or_else(|| u.name.clone())),
            firstlineno: u.firstlineno,
            linetable,
            exceptiontable,
        })
    }

    /// `compute_code_flags`.
    fn compute_code_flags(&self) -> u32 {
        self.ste().code_flags(&self.table.future)
    }

    /// `build_cellfixedoffsets`: the localsplus slot of each cell and free variable before
    /// arguments that are cells are folded into their argument's slot.
    fn build_cellfixedoffsets(&self) -> Vec<usize> {
        let nlocals = self.u.varnames.len();
        let n = self.u.cellvars.len() + self.u.freevars.len();
        let mut fixed: Vec<usize> = (0..n).map(|i| nlocals + i).collect();
        for (cell, name) in self.u.cellvars.iter().enumerate() {
            if let Some(var) = self.u.varnames.get_index_of(name) {
                fixed[cell] = var;
            }
        }
        fixed
    }

    /// `insert_prefix_instructions`: `COPY_FREE_VARS`, one `MAKE_CELL` per cell in slot
    /// order, and `RETURN_GENERATOR`/`POP_TOP` for generators and coroutines, in front of
    /// the entry block.
    fn insert_prefix_instructions(&self, g: &mut Cfg, fixed: &[usize], nfreevars: usize) {
        use pyc_assembler::code::flags::{ASYNC_GENERATOR, COROUTINE, GENERATOR};
        let none = Loc {
            lineno: -1,
            end_lineno: -1,
            col_offset: -1,
            end_col_offset: -1,
        };
        let instr = |op, arg, loc| Instr {
            op,
            arg,
            target: None,
            except: None,
            loc,
        };
        let entry = &mut g.blocks[g.entry].instrs;
        if self.compute_code_flags() & (GENERATOR | COROUTINE | ASYNC_GENERATOR) != 0 {
            let line = self.u.firstlineno as i32;
            let at_def = Loc {
                lineno: line,
                end_lineno: line,
                col_offset: -1,
                end_col_offset: -1,
            };
            entry.insert(0, instr(Op::RETURN_GENERATOR, 0, at_def));
            entry.insert(1, instr(Op::POP_TOP, 0, none));
        }
        let ncellvars = self.u.cellvars.len();
        if ncellvars > 0 {
            let nvars = ncellvars + self.u.varnames.len();
            let mut sorted = vec![0usize; nvars];
            for (i, &slot) in fixed.iter().take(ncellvars).enumerate() {
                if let Some(s) = sorted.get_mut(slot) {
                    *s = i + 1;
                }
            }
            let mut used = 0;
            for &s in &sorted {
                if s == 0 {
                    continue;
                }
                entry.insert(used, instr(Op::MAKE_CELL, s as u32 - 1, none));
                used += 1;
            }
        }
        if nfreevars > 0 {
            entry.insert(0, instr(Op::COPY_FREE_VARS, nfreevars as u32, none));
        }
    }

    /// `compute_localsplus_info`: `co_localsplusnames` and kinds — locals (cells among
    /// them marked), then the other cells, then the free variables.
    fn compute_localsplus_info(&self, nlocalsplus: usize) -> Locals {
        let u = &self.u;
        let mut out = Vec::with_capacity(nlocalsplus);
        for name in &u.varnames {
            let mut kind = local_kind::LOCAL;
            if u.cellvars.contains(name) {
                kind |= local_kind::CELL;
            }
            out.push(LocalPlus {
                name: PyStr::from(name.as_str()),
                kind,
            });
        }
        for name in u.cellvars.iter().filter(|n| !u.varnames.contains(*n)) {
            out.push(LocalPlus {
                name: PyStr::from(name.as_str()),
                kind: local_kind::CELL,
            });
        }
        for name in &u.freevars {
            out.push(LocalPlus {
                name: PyStr::from(name.as_str()),
                kind: local_kind::FREE,
            });
        }
        Locals::Plus(out)
    }
}

/// `fix_cell_offsets`: cell and free variable arguments become localsplus slots (arguments
/// that are cells share the argument's slot). Returns how many cells were such arguments.
fn fix_cell_offsets(g: &mut Cfg, nlocals: usize, fixed: &mut [usize]) -> usize {
    let mut numdropped = 0;
    for (i, f) in fixed.iter_mut().enumerate() {
        if *f == i + nlocals {
            *f -= numdropped;
        } else {
            numdropped += 1;
        }
    }
    if fixed.is_empty() {
        return 0;
    }
    let mut b = Some(g.entry);
    while let Some(i) = b {
        b = g.blocks[i].next;
        for ins in &mut g.blocks[i].instrs {
            if matches!(
                ins.op,
                Op::MAKE_CELL
                    | Op::LOAD_CLOSURE
                    | Op::LOAD_DEREF
                    | Op::STORE_DEREF
                    | Op::DELETE_DEREF
                    | Op::LOAD_CLASSDEREF
            ) {
                if let Some(&f) = fixed.get(ins.arg as usize) {
                    ins.arg = f as u32;
                }
            }
        }
    }
    numdropped
}
