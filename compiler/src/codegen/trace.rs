//! Snapshots of each unit's instruction graph for `pyc-build explain`: the blocks as codegen
//! left them (before `assemble`'s passes) and as the optimiser left them (real jumps, handler
//! labels, start depths; just before offsets and bytes are emitted). Off unless the compiler
//! was built with a trace ([`crate::explain::compile_traced`]).

use pyc_assembler::repr::repr;
use pyc_assembler::Constant;

use super::ir::{Instr, Op};
use super::Compiler;
use crate::explain::{SnapBlock, SnapInstr, UnitSnapshot};

impl Compiler<'_> {
    /// Whether snapshots are being recorded.
    pub(crate) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// Records the current unit's blocks right after codegen, in emission order (following
    /// `next` from the entry), before any of `assemble`'s passes.
    pub(crate) fn trace_codegen(&mut self) {
        if !self.tracing() {
            return;
        }
        let mut order = Vec::new();
        let mut b = Some(self.u.entry.0 as usize);
        while let Some(i) = b {
            if order.len() > self.u.blocks.len() {
                break;
            }
            order.push(i);
            b = self.u.blocks[i].next.map(|n| n.0 as usize);
        }
        let blocks = order
            .iter()
            .map(|&i| SnapBlock {
                id: i,
                instrs: self.u.blocks[i]
                    .instrs
                    .iter()
                    .map(|ins| self.snap_instr(ins, &self.u.consts, false))
                    .collect(),
                next: self.u.blocks[i].next.map(|n| n.0 as usize),
                startdepth: None,
            })
            .collect();
        let u = &self.u;
        let snapshot = UnitSnapshot {
            name: u.name.to_string_lossy(),
            qualname: u.qualname.as_ref().unwrap_or(&u.name).to_string_lossy(),
            firstlineno: u.firstlineno,
            codegen: blocks,
            cfg: None,
        };
        if let Some(trace) = &mut self.trace {
            trace.push(snapshot);
        }
    }

    /// Records the current unit's optimised blocks: `chain` lists each block in emission order
    /// with its instructions, its successor and its start depth (`consts` are the trimmed
    /// constants; cell and free arguments are `co_localsplus` slots by now).
    pub(crate) fn trace_cfg(
        &mut self,
        chain: Vec<(usize, Vec<Instr>, Option<usize>, i32)>,
        consts: &[Constant],
    ) {
        let blocks = chain
            .into_iter()
            .map(|(id, instrs, next, depth)| SnapBlock {
                id,
                instrs: instrs
                    .iter()
                    .map(|ins| self.snap_instr(ins, consts, true))
                    .collect(),
                next,
                startdepth: (depth >= 0).then_some(depth),
            })
            .collect();
        if let Some(last) = self.trace.as_mut().and_then(|t| t.last_mut()) {
            last.cfg = Some(blocks);
        }
    }

    fn snap_instr(&self, ins: &Instr, consts: &[Constant], slots: bool) -> SnapInstr {
        let has_arg = ins.op.real(self.v).is_some_and(|o| o.has_arg());
        SnapInstr {
            op: ins.op.name(),
            arg: (has_arg && ins.target.is_none()).then_some(ins.arg),
            argrepr: self.argrepr(ins, consts, slots),
            target: ins.target.map(|t| t.0 as usize),
            except: ins.except.map(|t| t.0 as usize),
            pseudo: ins.op.is_virtual(),
            lineno: ins.loc.lineno,
            end_lineno: ins.loc.end_lineno,
            col_offset: ins.loc.col_offset,
            end_col_offset: ins.loc.end_col_offset,
        }
    }

    /// What the argument stands for, as `dis` would describe it.
    fn argrepr(&self, ins: &Instr, consts: &[Constant], slots: bool) -> String {
        let u = &self.u;
        let i = ins.arg as usize;
        let name = |set: &super::NameSet, i: usize| set.get_index(i).cloned().unwrap_or_default();
        let cell = |i: usize| -> String {
            if slots {
                // co_localsplusnames: locals, cells that are not arguments, free variables.
                let extra: Vec<&String> = u
                    .cellvars
                    .iter()
                    .filter(|n| !u.varnames.contains(*n))
                    .chain(u.freevars.iter())
                    .collect();
                if i < u.varnames.len() {
                    name(&u.varnames, i)
                } else {
                    extra
                        .get(i - u.varnames.len())
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                }
            } else if i < u.cellvars.len() {
                name(&u.cellvars, i)
            } else {
                name(&u.freevars, i - u.cellvars.len())
            }
        };
        let table = self.v.opcodes();
        match ins.op {
            Op::LOAD_CONST | Op::KW_NAMES => {
                consts.get(i).map(|c| repr(c, self.v)).unwrap_or_default()
            }
            Op::LOAD_GLOBAL => {
                let n = name(&u.names, i >> 1);
                if i & 1 == 1 {
                    format!("NULL + {n}")
                } else {
                    n
                }
            }
            Op::LOAD_NAME
            | Op::STORE_NAME
            | Op::DELETE_NAME
            | Op::LOAD_ATTR
            | Op::STORE_ATTR
            | Op::DELETE_ATTR
            | Op::LOAD_METHOD
            | Op::IMPORT_NAME
            | Op::IMPORT_FROM
            | Op::STORE_GLOBAL
            | Op::DELETE_GLOBAL => name(&u.names, i),
            Op::LOAD_FAST | Op::STORE_FAST | Op::DELETE_FAST => name(&u.varnames, i),
            Op::MAKE_CELL
            | Op::LOAD_CLOSURE
            | Op::LOAD_DEREF
            | Op::STORE_DEREF
            | Op::DELETE_DEREF
            | Op::LOAD_CLASSDEREF => cell(i),
            Op::COMPARE_OP => table
                .cmp_op
                .get(i)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            Op::BINARY_OP => table
                .nb_ops
                .get(i)
                .map(|s| s.1.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}
