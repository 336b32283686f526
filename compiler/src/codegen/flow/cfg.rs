//! The block graph the 3.11 assembler works on, and the passes over it that run before stack
//! depth and exception labels: `normalize_basic_block`, `extend_block`, `optimize_cfg` (with
//! `optimize_basic_block`, constant-tuple folding and `swaptimize`), `clean_basic_block`,
//! `mark_reachable`, `eliminate_empty_basic_blocks`, `duplicate_exits_without_lineno`,
//! `trim_unused_consts`, `propagate_line_numbers` and `guarantee_lineno_for_exits`.
//!
//! CPython keeps two orders of blocks: `b_list`, every block in reverse allocation order (here
//! the block indices from last to first), and `b_next`, the emission order from the entry
//! block (here [`Bb::next`]). Passes walk the same order as CPython's: some results depend
//! on it.

use std::collections::HashMap;

use pyc_assembler::Constant;

use super::super::ir::{BlockId, Instr, Loc, Op};
use super::super::{const_key, CResult, CodegenError};

/// `MAX_COPY_SIZE`: the longest exit block `extend_block` copies.
const MAX_COPY_SIZE: usize = 4;

/// A basic block with the work fields of CPython's `basicblock`.
#[derive(Clone, Debug, Default)]
pub(super) struct Bb {
    pub instrs: Vec<Instr>,
    /// `b_next`: the block control flow falls into, in emission order.
    pub next: Option<usize>,
    /// `b_exit`: ends the code object (return or raise).
    pub exit: bool,
    /// `b_nofallthrough`: does not continue into `next`. A flag CPython sets at given
    /// points, not recomputed from the last instruction.
    pub nofallthrough: bool,
    pub predecessors: u32,
    pub startdepth: i32,
    /// `b_offset` in code units.
    pub offset: u32,
    pub preserve_lasti: bool,
    pub visited: bool,
    /// `b_exceptstack`: handlers at block entry, `None` at the bottom.
    pub except_stack: Option<Vec<Option<usize>>>,
}

/// The block graph of one code object.
pub(super) struct Cfg {
    pub blocks: Vec<Bb>,
    pub entry: usize,
    /// The index of each constant by its key, built when a tuple is first folded.
    const_index: Option<HashMap<Vec<u8>, usize>>,
}

/// The block an instruction jumps to. Checked by [`Cfg::new`] for every jump and `SETUP_*`.
pub(super) fn target(i: &Instr) -> usize {
    i.target.map_or(0, |t| t.0 as usize)
}

fn set_target(i: &mut Instr, t: usize) {
    i.target = Some(BlockId(t as u32));
}

/// `is_jump(i) || is_block_push(i)`.
fn has_target(op: Op) -> bool {
    op.is_jump() || op.is_block_push()
}

/// `COPY_INSTR_LOC(from, to)`.
fn copy_loc(from: Loc, to: &mut Instr) {
    to.loc = from;
}

fn malformed(what: &str) -> CodegenError {
    CodegenError::Unsupported {
        what: format!("malformed control flow graph ({what})"),
        line: 0,
        column: 0,
    }
}

impl Cfg {
    /// Takes a unit's blocks; fails if a jump or `SETUP_*` has no valid target.
    pub fn new(blocks: Vec<super::super::ir::Block>, entry: usize) -> CResult<Cfg> {
        let n = blocks.len();
        let blocks: Vec<Bb> = blocks
            .into_iter()
            .map(|b| Bb {
                instrs: b.instrs,
                next: b.next.map(|n| n.0 as usize),
                ..Bb::default()
            })
            .collect();
        for b in &blocks {
            if b.next.is_some_and(|x| x >= n) {
                return Err(malformed("block out of range"));
            }
            for i in &b.instrs {
                if has_target(i.op) && i.target.is_none_or(|t| (t.0 as usize) >= n) {
                    return Err(malformed("jump without target"));
                }
            }
        }
        if entry >= n {
            return Err(malformed("no entry block"));
        }
        // The passes walk the emission order: it must end.
        let mut b = Some(entry);
        for _ in 0..=n {
            b = b.and_then(|b| blocks[b].next);
        }
        if b.is_some() {
            return Err(malformed("blocks in a loop"));
        }
        Ok(Cfg {
            blocks,
            entry,
            const_index: None,
        })
    }

    /// The blocks in `b_next` order from the entry. [`Cfg::new`] checks that the order ends,
    /// and no pass links a block back into it.
    pub fn chain(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(self.entry), |&b| self.blocks[b].next)
    }

    /// Follows `b_next` from `t` past empty blocks (`while (t->b_iused == 0) t = t->b_next`).
    fn skip_empty(&self, mut t: usize) -> usize {
        let mut steps = 0;
        while self.blocks[t].instrs.is_empty() {
            match self.blocks[t].next {
                Some(n) if steps <= self.blocks.len() => t = n,
                _ => break,
            }
            steps += 1;
        }
        t
    }

    /// `compiler_copy_block`: a new block with the same instructions.
    fn copy_block(&mut self, b: usize) -> usize {
        let copy = Bb {
            instrs: self.blocks[b].instrs.clone(),
            exit: self.blocks[b].exit,
            nofallthrough: true,
            ..Bb::default()
        };
        self.blocks.push(copy);
        self.blocks.len() - 1
    }

    /// `normalize_basic_block`: marks exits and blocks without fall-through, and skips jump
    /// targets past empty blocks.
    pub fn normalize_basic_block(&mut self, b: usize) -> CResult {
        let len = self.blocks[b].instrs.len();
        for i in 0..len {
            let op = self.blocks[b].instrs[i].op;
            match op {
                Op::RETURN_VALUE | Op::RAISE_VARARGS | Op::RERAISE => {
                    self.blocks[b].exit = true;
                    self.blocks[b].nofallthrough = true;
                }
                Op::JUMP
                | Op::JUMP_NO_INTERRUPT
                | Op::POP_JUMP_IF_NOT_NONE
                | Op::POP_JUMP_IF_NONE
                | Op::POP_JUMP_IF_FALSE
                | Op::POP_JUMP_IF_TRUE
                | Op::JUMP_IF_FALSE_OR_POP
                | Op::JUMP_IF_TRUE_OR_POP
                | Op::FOR_ITER => {
                    if matches!(op, Op::JUMP | Op::JUMP_NO_INTERRUPT) {
                        self.blocks[b].nofallthrough = true;
                    }
                    if i != len - 1 {
                        return Err(malformed("jump inside a block"));
                    }
                    let t = self.skip_empty(target(&self.blocks[b].instrs[i]));
                    set_target(&mut self.blocks[b].instrs[i], t);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `basicblock_has_lineno`.
    fn has_lineno(&self, b: usize) -> bool {
        self.blocks[b].instrs.iter().any(|i| i.loc.lineno > 0)
    }

    /// `extend_block`: a block ending with an unconditional jump to a short exit block
    /// without line numbers gets a copy of that block instead of the jump.
    pub fn extend_block(&mut self, b: usize) {
        let Some(last) = self.blocks[b].instrs.last() else {
            return;
        };
        if !matches!(last.op, Op::JUMP | Op::JUMP_FORWARD | Op::JUMP_BACKWARD) {
            return;
        }
        let t = target(last);
        if self.blocks[t].exit && self.blocks[t].instrs.len() <= MAX_COPY_SIZE {
            if self.has_lineno(t) {
                return;
            }
            let copy = self.blocks[t].instrs.clone();
            let bb = &mut self.blocks[b];
            if let Some(last) = bb.instrs.last_mut() {
                last.op = Op::NOP;
            }
            bb.instrs.extend(copy);
            bb.exit = true;
        }
    }

    /// `clean_basic_block`: removes `NOP`s where the line table does not need them.
    pub fn clean_basic_block(&mut self, b: usize) {
        // Everything before the first `NOP` stays where it is.
        let instrs = &self.blocks[b].instrs;
        let Some(first) = instrs.iter().position(|i| i.op == Op::NOP) else {
            return;
        };
        // A `NOP` at the end compares its line with the first instruction after the block.
        let next_lineno = if instrs.last().is_some_and(|i| i.op == Op::NOP) {
            let mut next = self.blocks[b].next;
            while let Some(nx) = next.filter(|&nx| self.blocks[nx].instrs.is_empty()) {
                next = self.blocks[nx].next;
            }
            next.map(|nx| self.blocks[nx].instrs[0].loc.lineno)
        } else {
            None
        };
        let instrs = &mut self.blocks[b].instrs;
        let n = instrs.len();
        let mut dest = first;
        let mut prev_lineno = first.checked_sub(1).map_or(-1, |p| instrs[p].loc.lineno);
        for src in first..n {
            let ins = instrs[src];
            let lineno = ins.loc.lineno;
            if ins.op == Op::NOP {
                if lineno < 0 || prev_lineno == lineno {
                    continue;
                }
                if let Some(next) = instrs.get_mut(src + 1) {
                    if next.loc.lineno == lineno {
                        continue;
                    }
                    if next.loc.lineno < 0 {
                        copy_loc(ins.loc, next);
                        continue;
                    }
                } else if next_lineno == Some(lineno) {
                    continue;
                }
            }
            if dest != src {
                instrs[dest] = ins;
            }
            dest += 1;
            prev_lineno = lineno;
        }
        instrs.truncate(dest);
    }

    /// `optimize_cfg`.
    pub fn optimize_cfg(&mut self, consts: &mut Vec<Constant>) -> CResult {
        let mut b = Some(self.entry);
        while let Some(i) = b {
            self.optimize_basic_block(i, consts)?;
            self.clean_basic_block(i);
            b = self.blocks[i].next;
        }
        for i in (0..self.blocks.len()).rev() {
            self.extend_block(i);
        }
        self.mark_reachable();
        let mut b = Some(self.entry);
        while let Some(i) = b {
            let bb = &mut self.blocks[i];
            if bb.predecessors == 0 {
                bb.instrs.clear();
                bb.nofallthrough = false;
            }
            b = bb.next;
        }
        self.eliminate_empty_basic_blocks();
        let mut b = Some(self.entry);
        while let Some(i) = b {
            self.clean_basic_block(i);
            b = self.blocks[i].next;
        }
        let mut maybe_empty_blocks = false;
        let mut b = Some(self.entry);
        while let Some(i) = b {
            let bb = &mut self.blocks[i];
            b = bb.next;
            if let Some(last) = bb.instrs.last_mut() {
                if matches!(last.op, Op::JUMP | Op::JUMP_NO_INTERRUPT) && Some(target(last)) == b {
                    bb.nofallthrough = false;
                    last.op = Op::NOP;
                    maybe_empty_blocks = true;
                }
            }
        }
        if maybe_empty_blocks {
            self.eliminate_empty_basic_blocks();
        }
        Ok(())
    }

    /// `mark_reachable`: counts the predecessors of every block reachable from the entry.
    fn mark_reachable(&mut self) {
        self.blocks[self.entry].predecessors = 1;
        let mut stack = vec![self.entry];
        while let Some(b) = stack.pop() {
            if let Some(next) = self.blocks[b].next {
                if !self.blocks[b].nofallthrough {
                    if self.blocks[next].predecessors == 0 {
                        stack.push(next);
                    }
                    self.blocks[next].predecessors += 1;
                }
            }
            for k in 0..self.blocks[b].instrs.len() {
                let ins = self.blocks[b].instrs[k];
                if has_target(ins.op) {
                    let t = target(&ins);
                    if self.blocks[t].predecessors == 0 {
                        stack.push(t);
                    }
                    self.blocks[t].predecessors += 1;
                }
            }
        }
    }

    /// `eliminate_empty_basic_blocks`.
    fn eliminate_empty_basic_blocks(&mut self) {
        let mut b = Some(self.entry);
        while let Some(i) = b {
            if let Some(mut next) = self.blocks[i].next {
                while self.blocks[next].instrs.is_empty() {
                    match self.blocks[next].next {
                        Some(n) => next = n,
                        None => break,
                    }
                }
                self.blocks[i].next = Some(next);
            }
            b = self.blocks[i].next;
        }
        let mut b = Some(self.entry);
        while let Some(i) = b {
            if let Some(last) = self.blocks[i].instrs.last() {
                if last.op.is_jump() {
                    let t = self.skip_empty(target(last));
                    if let Some(last) = self.blocks[i].instrs.last_mut() {
                        set_target(last, t);
                    }
                }
            }
            b = self.blocks[i].next;
        }
    }

    /// `optimize_basic_block`: peephole optimisations inside one block.
    fn optimize_basic_block(&mut self, b: usize, consts: &mut Vec<Constant>) -> CResult {
        let n = self.blocks[b].instrs.len();
        let mut i = 0;
        while i < n {
            // The first instruction of the jump target (after empty blocks), as CPython's
            // `target`; `None` stands for its `nop`.
            let mut tgt: Option<Instr> = None;
            let op = self.blocks[b].instrs[i].op;
            if has_target(op) {
                let t = self.skip_empty(target(&self.blocks[b].instrs[i]));
                set_target(&mut self.blocks[b].instrs[i], t);
                tgt = self.blocks[t].instrs.first().copied();
            } else if !matches!(
                op,
                Op::LOAD_CONST | Op::BUILD_TUPLE | Op::SWAP | Op::PUSH_NULL
            ) {
                // The arms below without a target: nothing to do for anything else.
                i += 1;
                continue;
            }
            let inst = self.blocks[b].instrs[i];
            let oparg = inst.arg;
            let nextop = (i + 1 < n).then(|| self.blocks[b].instrs[i + 1].op);
            let tgt_op = tgt.map(|t| t.op);
            let mut redo = false;
            match inst.op {
                Op::LOAD_CONST => match nextop {
                    Some(Op::POP_JUMP_IF_FALSE | Op::POP_JUMP_IF_TRUE) => {
                        let truth = crate::fold::truth(const_at(consts, oparg)?);
                        self.blocks[b].instrs[i].op = Op::NOP;
                        let jump_if_true = nextop == Some(Op::POP_JUMP_IF_TRUE);
                        if truth == jump_if_true {
                            self.blocks[b].instrs[i + 1].op = Op::JUMP;
                            self.blocks[b].nofallthrough = true;
                        } else {
                            self.blocks[b].instrs[i + 1].op = Op::NOP;
                        }
                    }
                    Some(Op::JUMP_IF_FALSE_OR_POP | Op::JUMP_IF_TRUE_OR_POP) => {
                        let truth = crate::fold::truth(const_at(consts, oparg)?);
                        let jump_if_true = nextop == Some(Op::JUMP_IF_TRUE_OR_POP);
                        if truth == jump_if_true {
                            self.blocks[b].instrs[i + 1].op = Op::JUMP;
                            self.blocks[b].nofallthrough = true;
                        } else {
                            self.blocks[b].instrs[i].op = Op::NOP;
                            self.blocks[b].instrs[i + 1].op = Op::NOP;
                        }
                    }
                    Some(Op::IS_OP) => {
                        let c = const_at(consts, oparg)?;
                        let jump_op = (i + 2 < n).then(|| self.blocks[b].instrs[i + 2].op);
                        if matches!(c, Constant::None)
                            && matches!(jump_op, Some(Op::POP_JUMP_IF_FALSE | Op::POP_JUMP_IF_TRUE))
                        {
                            let nextarg = self.blocks[b].instrs[i + 1].arg as u8;
                            let flip = (jump_op == Some(Op::POP_JUMP_IF_FALSE)) as u8;
                            let ins = &mut self.blocks[b].instrs;
                            ins[i].op = Op::NOP;
                            ins[i + 1].op = Op::NOP;
                            ins[i + 2].op = if nextarg ^ flip != 0 {
                                Op::POP_JUMP_IF_NOT_NONE
                            } else {
                                Op::POP_JUMP_IF_NONE
                            };
                        }
                    }
                    _ => {}
                },
                Op::BUILD_TUPLE => {
                    if nextop == Some(Op::UNPACK_SEQUENCE)
                        && oparg == self.blocks[b].instrs[i + 1].arg
                        && (1..=3).contains(&oparg)
                    {
                        let ins = &mut self.blocks[b].instrs;
                        ins[i].op = Op::NOP;
                        ins[i + 1].op = if oparg == 1 { Op::NOP } else { Op::SWAP };
                    } else if i >= oparg as usize {
                        self.fold_tuple_on_constants(
                            b,
                            i - oparg as usize,
                            oparg as usize,
                            consts,
                        )?;
                    }
                }
                Op::JUMP_IF_FALSE_OR_POP | Op::JUMP_IF_TRUE_OR_POP => {
                    let (same, other_pop, other) = if inst.op == Op::JUMP_IF_FALSE_OR_POP {
                        (
                            Op::POP_JUMP_IF_FALSE,
                            Op::POP_JUMP_IF_TRUE,
                            Op::JUMP_IF_TRUE_OR_POP,
                        )
                    } else {
                        (
                            Op::POP_JUMP_IF_TRUE,
                            Op::POP_JUMP_IF_FALSE,
                            Op::JUMP_IF_FALSE_OR_POP,
                        )
                    };
                    if let Some(t) = tgt {
                        if t.op == same {
                            redo = self.jump_thread(b, i, t, same);
                        } else if t.op == Op::JUMP || t.op == inst.op {
                            redo = self.jump_thread(b, i, t, inst.op);
                        } else if (t.op == other || t.op == other_pop)
                            && inst.loc.lineno == t.loc.lineno
                        {
                            if let Some(after) = self.blocks[target(&inst)].next {
                                let ins = &mut self.blocks[b].instrs[i];
                                ins.op = same;
                                set_target(ins, after);
                                redo = true;
                            }
                        }
                    }
                }
                Op::POP_JUMP_IF_NOT_NONE
                | Op::POP_JUMP_IF_NONE
                | Op::POP_JUMP_IF_FALSE
                | Op::POP_JUMP_IF_TRUE
                | Op::JUMP => {
                    if let Some(t) = tgt.filter(|_| tgt_op == Some(Op::JUMP)) {
                        redo = self.jump_thread(b, i, t, inst.op);
                    }
                }
                Op::SWAP => {
                    if oparg == 1 {
                        self.blocks[b].instrs[i].op = Op::NOP;
                    } else {
                        swaptimize(&mut self.blocks[b].instrs, &mut i);
                        apply_static_swaps(&mut self.blocks[b].instrs, i);
                    }
                }
                // CPython tests `inst[1].i_opcode & 1`, the opcode rather than the argument:
                // always 0 for LOAD_GLOBAL (116).
                Op::PUSH_NULL if nextop == Some(Op::LOAD_GLOBAL) => {
                    let ins = &mut self.blocks[b].instrs;
                    ins[i].op = Op::NOP;
                    ins[i].arg = 0;
                    ins[i + 1].arg |= 1;
                }
                _ => {}
            }
            if !redo {
                i += 1;
            }
        }
        Ok(())
    }

    /// `jump_thread`: makes the jump at `i` go where the jump `t` (first instruction of its
    /// target) goes, with opcode `op`, when they are on the same line.
    fn jump_thread(&mut self, b: usize, i: usize, t: Instr, op: Op) -> bool {
        let inst = &mut self.blocks[b].instrs[i];
        if inst.loc.lineno == t.loc.lineno && inst.target != t.target {
            inst.target = t.target;
            inst.op = op;
            true
        } else {
            false
        }
    }

    /// `fold_tuple_on_constants`: `LOAD_CONST`×n, `BUILD_TUPLE n` to one `LOAD_CONST`.
    fn fold_tuple_on_constants(
        &mut self,
        b: usize,
        start: usize,
        n: usize,
        consts: &mut Vec<Constant>,
    ) -> CResult {
        let ins = &mut self.blocks[b].instrs;
        let run = &ins[start..start + n];
        // HAS_CONST: LOAD_CONST and KW_NAMES, whose value CPython cannot fetch here.
        if !run
            .iter()
            .all(|i| matches!(i.op, Op::LOAD_CONST | Op::KW_NAMES))
        {
            return Ok(());
        }
        let mut items = Vec::with_capacity(n);
        for i in run {
            if i.op != Op::LOAD_CONST {
                return Err(malformed("constant of KW_NAMES"));
            }
            items.push(const_at(consts, i.arg)?.clone());
        }
        let tuple = Constant::Tuple(items);
        // CPython merges the tuple with an equal constant (`merge_const_one`) and looks for
        // that object in the list: an existing constant with the same key, or a new one.
        let index_of = self.const_index.get_or_insert_with(|| {
            let mut map = HashMap::new();
            for (i, c) in consts.iter().enumerate() {
                if !matches!(c, Constant::Code(_)) {
                    let mut k = Vec::new();
                    const_key(c, &mut k);
                    map.entry(k).or_insert(i);
                }
            }
            map
        });
        let mut key = Vec::new();
        const_key(&tuple, &mut key);
        let index = *index_of.entry(key).or_insert_with(|| {
            consts.push(tuple);
            consts.len() - 1
        });
        let ins = &mut self.blocks[b].instrs;
        for i in &mut ins[start..start + n] {
            i.op = Op::NOP;
        }
        ins[start + n].op = Op::LOAD_CONST;
        ins[start + n].arg = index as u32;
        Ok(())
    }

    /// `duplicate_exits_without_lineno`: exit blocks without a line number that several
    /// jumps reach are copied, one per jump, so each can take its jump's line.
    pub fn duplicate_exits_without_lineno(&mut self) {
        let is_exit_without_lineno = |cfg: &Cfg, b: usize| {
            cfg.blocks[b].exit && cfg.blocks[b].instrs.iter().all(|i| i.loc.lineno < 0)
        };
        for b in (0..self.blocks.len()).rev() {
            let Some(last) = self.blocks[b].instrs.last().copied() else {
                continue;
            };
            if !last.op.is_jump() {
                continue;
            }
            let t = target(&last);
            if is_exit_without_lineno(self, t) && self.blocks[t].predecessors > 1 {
                let new = self.copy_block(t);
                if let Some(first) = self.blocks[new].instrs.first_mut() {
                    copy_loc(last.loc, first);
                }
                if let Some(l) = self.blocks[b].instrs.last_mut() {
                    set_target(l, new);
                }
                self.blocks[t].predecessors -= 1;
                self.blocks[new].predecessors = 1;
                self.blocks[new].next = self.blocks[t].next;
                self.blocks[t].next = Some(new);
            }
        }
        for b in (0..self.blocks.len()).rev() {
            while let Some(next) = self.blocks[b].next {
                if !self.blocks[next].instrs.is_empty() {
                    break;
                }
                self.blocks[b].next = self.blocks[next].next;
            }
        }
        for b in (0..self.blocks.len()).rev() {
            let bb = &self.blocks[b];
            if let (false, Some(next), Some(last)) = (bb.nofallthrough, bb.next, bb.instrs.last()) {
                let loc = last.loc;
                if is_exit_without_lineno(self, next) {
                    if let Some(first) = self.blocks[next].instrs.first_mut() {
                        copy_loc(loc, first);
                    }
                }
            }
        }
    }

    /// `trim_unused_consts`: drops constants after the last one used (the first, maybe a
    /// docstring, always stays).
    pub fn trim_unused_consts(&self, consts: &mut Vec<Constant>) {
        let mut max = 0;
        for b in self.chain() {
            for i in &self.blocks[b].instrs {
                if matches!(i.op, Op::LOAD_CONST | Op::KW_NAMES) && i.arg > max {
                    max = i.arg;
                }
            }
        }
        consts.truncate(max as usize + 1);
    }

    /// `propagate_line_numbers`.
    pub fn propagate_line_numbers(&mut self) {
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            cur = self.blocks[b].next;
            if self.blocks[b].instrs.is_empty() {
                continue;
            }
            let mut prev = Loc {
                lineno: -1,
                end_lineno: -1,
                col_offset: -1,
                end_col_offset: -1,
            };
            for ins in &mut self.blocks[b].instrs {
                if ins.loc.lineno < 0 {
                    ins.loc = prev;
                } else {
                    prev = ins.loc;
                }
            }
            if !self.blocks[b].nofallthrough {
                if let Some(next) = self.blocks[b].next {
                    if self.blocks[next].predecessors == 1 {
                        if let Some(first) = self.blocks[next].instrs.first_mut() {
                            if first.loc.lineno < 0 {
                                first.loc = prev;
                            }
                        }
                    }
                }
            }
            let last = self.blocks[b].instrs[self.blocks[b].instrs.len() - 1];
            if last.op.is_jump() {
                let t = target(&last);
                if self.blocks[t].predecessors == 1 {
                    if let Some(first) = self.blocks[t].instrs.first_mut() {
                        if first.loc.lineno < 0 {
                            first.loc = prev;
                        }
                    }
                }
            }
        }
    }

    /// `guarantee_lineno_for_exits`: a return without a line takes the line of the last
    /// block that had one.
    pub fn guarantee_lineno_for_exits(&mut self, firstlineno: i32) {
        let mut lineno = firstlineno;
        let mut cur = Some(self.entry);
        while let Some(b) = cur {
            let bb = &mut self.blocks[b];
            cur = bb.next;
            let Some(last) = bb.instrs.last() else {
                continue;
            };
            if last.loc.lineno < 0 {
                if last.op == Op::RETURN_VALUE {
                    for i in &mut bb.instrs {
                        i.loc.lineno = lineno;
                    }
                }
            } else {
                lineno = last.loc.lineno;
            }
        }
    }
}

/// `get_const_value` for `LOAD_CONST`.
fn const_at(consts: &[Constant], i: u32) -> CResult<&Constant> {
    consts
        .get(i as usize)
        .ok_or_else(|| malformed("constant index out of range"))
}

/// `swaptimize`: replaces a run of `SWAP`s and `NOP`s starting at `*ix` with the shortest
/// run of `SWAP`s with the same effect; leaves `*ix` on the run's last instruction.
fn swaptimize(instrs: &mut [Instr], ix: &mut usize) {
    let run = &mut instrs[*ix..];
    let mut depth = run[0].arg as usize;
    let mut len = 0;
    let mut more = false;
    let limit = run.len();
    loop {
        len += 1;
        if len >= limit {
            break;
        }
        match run[len].op {
            Op::SWAP => {
                depth = depth.max(run[len].arg as usize);
                more = true;
            }
            Op::NOP => {}
            _ => break,
        }
    }
    if !more {
        return;
    }
    const VISITED: isize = -1;
    let mut stack: Vec<isize> = (0..depth as isize).collect();
    for ins in &run[..len] {
        if ins.op == Op::SWAP {
            let k = (ins.arg as usize).saturating_sub(1);
            stack.swap(0, k);
        }
    }
    let mut current = len as isize - 1;
    for i in 0..depth {
        if stack[i] == VISITED || stack[i] == i as isize {
            continue;
        }
        let mut j = i;
        loop {
            if j != 0 {
                let c = &mut run[current as usize];
                c.op = Op::SWAP;
                c.arg = j as u32 + 1;
                current -= 1;
            }
            if stack[j] == VISITED {
                break;
            }
            let next_j = stack[j] as usize;
            stack[j] = VISITED;
            j = next_j;
        }
    }
    while current >= 0 {
        run[current as usize].op = Op::NOP;
        current -= 1;
    }
    *ix += len - 1;
}

/// `SWAPPABLE`: instructions that only pop the top of the stack.
fn swappable(op: Op) -> bool {
    matches!(op, Op::STORE_FAST | Op::POP_TOP)
}

/// `next_swappable_instruction`.
fn next_swappable_instruction(instrs: &[Instr], mut i: usize, lineno: i32) -> Option<usize> {
    loop {
        i += 1;
        let ins = instrs.get(i)?;
        if lineno >= 0 && ins.loc.lineno != lineno {
            return None;
        }
        if ins.op == Op::NOP {
            continue;
        }
        return swappable(ins.op).then_some(i);
    }
}

/// `apply_static_swaps`: swaps the instructions a `SWAP` would reorder instead.
fn apply_static_swaps(instrs: &mut [Instr], i: usize) {
    for i in (0..=i).rev() {
        let swap = instrs[i];
        if swap.op != Op::SWAP {
            if swap.op == Op::NOP || swappable(swap.op) {
                continue;
            }
            return;
        }
        let Some(j) = next_swappable_instruction(instrs, i, -1) else {
            return;
        };
        let mut k = j;
        let lineno = instrs[j].loc.lineno;
        for _ in 1..swap.arg {
            match next_swappable_instruction(instrs, k, lineno) {
                Some(x) => k = x,
                None => return,
            }
        }
        // The reordering is not safe if the two instructions store to the same local, or
        // an instruction between them stores to one of theirs (3.11.4+).
        let stores_to = |i: &Instr| (i.op == Op::STORE_FAST).then_some(i.arg);
        let (store_j, store_k) = (stores_to(&instrs[j]), stores_to(&instrs[k]));
        if store_j.is_some() || store_k.is_some() {
            if store_j == store_k {
                return;
            }
            if instrs[j + 1..k]
                .iter()
                .filter_map(stores_to)
                .any(|s| Some(s) == store_j || Some(s) == store_k)
            {
                return;
            }
        }
        instrs[i].op = Op::NOP;
        instrs.swap(j, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instr(op: Op, arg: u32) -> Instr {
        Instr {
            op,
            arg,
            target: None,
            except: None,
            loc: Loc::NONE,
        }
    }

    /// The permutation of the top `depth` stack items a run of instructions performs.
    fn permutation(instrs: &[Instr], depth: usize) -> Vec<usize> {
        let mut stack: Vec<usize> = (0..depth).collect();
        for i in instrs {
            if i.op == Op::SWAP {
                stack.swap(0, i.arg as usize - 1);
            }
        }
        stack
    }

    /// `swaptimize` keeps the effect of every run of swaps (all runs of up to four `SWAP`s
    /// of depth 2..=4 with a `NOP` mixed in), never lengthens it, and leaves the index on
    /// the run's last instruction.
    #[test]
    fn swaptimize_keeps_the_permutation() {
        let args = [2u32, 3, 4];
        let mut runs: Vec<Vec<u32>> = vec![vec![]];
        for _ in 0..4 {
            let longer: Vec<Vec<u32>> = runs
                .iter()
                .flat_map(|r| {
                    args.iter().map(move |&a| {
                        let mut r = r.clone();
                        r.push(a);
                        r
                    })
                })
                .collect();
            runs.extend(longer);
        }
        runs.sort();
        runs.dedup();
        let mut optimised = 0;
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let mut instrs: Vec<Instr> = run.iter().map(|&a| instr(Op::SWAP, a)).collect();
            instrs.insert(1, instr(Op::NOP, 0));
            instrs.push(instr(Op::POP_TOP, 0));
            let before = permutation(&instrs, 4);
            let swaps_before = instrs.iter().filter(|i| i.op == Op::SWAP).count();
            let mut ix = 0;
            swaptimize(&mut instrs, &mut ix);
            assert_eq!(permutation(&instrs, 4), before, "run {run:?}");
            let swaps_after = instrs.iter().filter(|i| i.op == Op::SWAP).count();
            assert!(swaps_after <= swaps_before, "run {run:?}");
            if run.len() > 1 {
                assert_eq!(ix, run.len(), "run {run:?}");
                optimised += (swaps_after < swaps_before) as usize;
            }
            assert_eq!(instrs.last().map(|i| i.op), Some(Op::POP_TOP));
        }
        assert!(optimised > 0);
    }

    /// `apply_static_swaps` turns `SWAP 2; STORE_FAST a; STORE_FAST b` on one line into
    /// the stores in the other order, but not across a line change nor for one local.
    #[test]
    fn static_swaps_reorder_stores() {
        let line = |op, arg, lineno| {
            let mut i = instr(op, arg);
            i.loc.lineno = lineno;
            i
        };
        let mut same = vec![
            line(Op::SWAP, 2, 1),
            line(Op::STORE_FAST, 0, 1),
            line(Op::STORE_FAST, 1, 1),
        ];
        apply_static_swaps(&mut same, 0);
        let ops: Vec<(Op, u32)> = same.iter().map(|i| (i.op, i.arg)).collect();
        assert_eq!(
            ops,
            [(Op::NOP, 2), (Op::STORE_FAST, 1), (Op::STORE_FAST, 0)]
        );
        let mut split = vec![
            line(Op::SWAP, 2, 1),
            line(Op::STORE_FAST, 0, 1),
            line(Op::STORE_FAST, 1, 2),
        ];
        apply_static_swaps(&mut split, 0);
        assert_eq!(split[0].op, Op::SWAP);
        // `a, a = x, y`: both stores go to one local, so their order matters.
        let mut same_local = vec![
            line(Op::SWAP, 2, 1),
            line(Op::STORE_FAST, 0, 1),
            line(Op::STORE_FAST, 0, 1),
        ];
        apply_static_swaps(&mut same_local, 0);
        assert_eq!(same_local[0].op, Op::SWAP);
    }
}
