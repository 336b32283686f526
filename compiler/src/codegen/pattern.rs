//! `match` statements (PEP 634): `compiler_match` and the pattern helpers (3.11 `compile.c`).
//!
//! As in CPython, every `pattern_*` routine consumes the top of the stack (the subject of that
//! pattern) and jumps to a `fail_pop` block on failure. [`PatternContext::on_top`] counts the
//! items the current routine keeps above the subject: they are popped on failure, and name
//! captures are rotated *underneath* them on success, so that all names are stored only once
//! the whole pattern matched.
//!
//! The `SyntaxError`s CPython's compiler raises here (duplicate captures, alternatives
//! binding different names, irrefutable patterns before the last case, repeated class
//! pattern attributes, mapping key checks, `__debug__` captures) are raised by the front end
//! (`checks::pattern`) before code generation runs; code generation only refuses what it
//! cannot compile consistently.

use pyc_assembler::Constant;
use ruff_python_ast::{self as ast, Pattern, Singleton};

use super::ir::{BlockId, Op};
use super::{CResult, Compiler, Ctx};

/// `Py_EQ` and `Py_GE`: the `COMPARE_OP` arguments of `==` and `>=`.
const CMP_EQ: u32 = 2;
const CMP_GE: u32 = 5;
/// `NB_SUBTRACT`: the `BINARY_OP` argument of `-`.
const NB_SUBTRACT: u32 = 10;

/// What a pattern being compiled has bound and keeps on the stack (`pattern_context`).
#[derive(Default)]
struct PatternContext<'a> {
    /// The names captured so far, in stack order (`stores`): their values wait on the stack
    /// under the `on_top` items.
    stores: Vec<&'a str>,
    /// `fail_pop[n]` pops `n` items and falls into `fail_pop[n - 1]`; `fail_pop[0]` is where
    /// a failed match continues.
    fail_pop: Vec<BlockId>,
    /// The number of items above the captured values that a failure must pop.
    on_top: usize,
}

/// `WILDCARD_CHECK`: `_`, matching anything and binding nothing.
fn is_wildcard(p: &Pattern) -> bool {
    matches!(p, Pattern::MatchAs(a) if a.pattern.is_none() && a.name.is_none())
}

/// `WILDCARD_STAR_CHECK`: `*_`.
fn is_star_wildcard(p: &Pattern) -> bool {
    matches!(p, Pattern::MatchStar(s) if s.name.is_none())
}

impl<'a> Compiler<'a> {
    /// `compiler_match` (and `compiler_match_inner`).
    pub fn match_stmt(&mut self, s: &'a ast::StmtMatch) -> CResult {
        self.visit_expr(&s.subject)?;
        let end = self.new_block();
        let cases = s.cases.len();
        let Some(last) = s.cases.last() else {
            return Err(self.unsupported("match statement without cases", s));
        };
        let has_default = is_wildcard(&last.pattern) && cases > 1;
        let mut pc = PatternContext::default();
        for (i, m) in s.cases[..cases - usize::from(has_default)]
            .iter()
            .enumerate()
        {
            self.set_loc(&m.pattern);
            // Only copy the subject if this is not the last case:
            let copy = i != cases - usize::from(has_default) - 1;
            if copy {
                self.addop_i(Op::COPY, 1);
            }
            pc.stores.clear();
            pc.fail_pop.clear();
            pc.on_top = 0;
            self.pattern(&m.pattern, &mut pc)?;
            // It's a match! Store all of the captured names (they're on the stack).
            for name in std::mem::take(&mut pc.stores) {
                self.nameop(name, Ctx::Store);
            }
            if let Some(guard) = &m.guard {
                self.ensure_fail_pop(&mut pc, 0);
                self.jump_if(guard, pc.fail_pop[0], false)?;
            }
            // Success! Pop the subject off, we're done with it:
            if copy {
                self.addop(Op::POP_TOP);
            }
            for stmt in &m.body {
                self.visit_stmt(stmt)?;
            }
            // No location: 3.11.3 gave this jump the current one, later 3.11 releases
            // (and 3.12) none, so that it takes the last body instruction's.
            self.addop_j_noline(Op::JUMP, end);
            // A failed match's cleanup belongs to the pattern, not to the last line of the
            // body.
            self.set_loc(&m.pattern);
            self.emit_and_reset_fail_pop(&mut pc);
        }
        if has_default {
            // A trailing `case _:` saves some pushing and popping in the loop above. It
            // creates no bytecode, but a NOP shows its line as covered. (CPython pops the
            // subject here when it is the only case, which `has_default` excludes.)
            self.set_loc(&last.pattern);
            self.addop(Op::NOP);
            if let Some(guard) = &last.guard {
                self.jump_if(guard, end, false)?;
            }
            for stmt in &last.body {
                self.visit_stmt(stmt)?;
            }
        }
        self.use_next_block(end);
        Ok(())
    }

    /// `ensure_fail_pop`: makes sure `fail_pop[n]` exists.
    fn ensure_fail_pop(&mut self, pc: &mut PatternContext<'a>, n: usize) {
        while pc.fail_pop.len() <= n {
            let block = self.new_block();
            pc.fail_pop.push(block);
        }
    }

    /// `jump_to_fail_pop`: jumps with `op` to the block popping everything the pattern holds
    /// on the stack, the values waiting to be captured included.
    fn jump_to_fail_pop(&mut self, pc: &mut PatternContext<'a>, op: Op) {
        let pops = pc.on_top + pc.stores.len();
        self.ensure_fail_pop(pc, pops);
        self.addop_j(op, pc.fail_pop[pops]);
    }

    /// `emit_and_reset_fail_pop`: the `fail_pop` blocks, one `POP_TOP` each, falling into
    /// `fail_pop[0]`, which becomes current.
    fn emit_and_reset_fail_pop(&mut self, pc: &mut PatternContext<'a>) {
        let Some((&first, rest)) = pc.fail_pop.split_first() else {
            return;
        };
        for &block in rest.iter().rev() {
            self.use_next_block(block);
            self.addop(Op::POP_TOP);
        }
        self.use_next_block(first);
        pc.fail_pop.clear();
    }

    /// `pattern_helper_rotate`: 3.10's `ROT_N count` as `SWAP`s.
    fn pattern_helper_rotate(&mut self, count: usize) {
        for n in (2..=count).rev() {
            self.addop_i(Op::SWAP, n as u32);
        }
    }

    /// `pattern_helper_store_name`: captures the subject as `name` (or pops it for `_`),
    /// rotating it under the items that must stay on top.
    fn pattern_helper_store_name(
        &mut self,
        name: Option<&'a ast::Identifier>,
        pc: &mut PatternContext<'a>,
    ) {
        let Some(name) = name else {
            self.addop(Op::POP_TOP);
            return;
        };
        let rotations = pc.on_top + pc.stores.len() + 1;
        self.pattern_helper_rotate(rotations);
        pc.stores.push(name.as_str());
    }

    /// `pattern_unpack_helper`: `UNPACK_EX` around the first star, else `UNPACK_SEQUENCE`.
    fn pattern_unpack_helper(&mut self, elts: &[Pattern]) {
        let n = elts.len();
        match elts.iter().position(|p| matches!(p, Pattern::MatchStar(_))) {
            Some(i) => self.addop_i(Op::UNPACK_EX, (i + ((n - i - 1) << 8)) as u32),
            None => self.addop_i(Op::UNPACK_SEQUENCE, n as u32),
        }
    }

    /// `pattern_helper_sequence_unpack`: unpacks the subject and matches each item.
    fn pattern_helper_sequence_unpack(
        &mut self,
        patterns: &'a [Pattern],
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        self.pattern_unpack_helper(patterns);
        // The new subjects must stay on the stack while each subpattern matches:
        pc.on_top += patterns.len();
        for pattern in patterns {
            pc.on_top -= 1;
            self.pattern(pattern, pc)?;
        }
        Ok(())
    }

    /// `pattern_helper_sequence_subscr`: like [`Self::pattern_helper_sequence_unpack`] but
    /// with `BINARY_SUBSCR`, for patterns whose star is `*_`.
    fn pattern_helper_sequence_subscr(
        &mut self,
        patterns: &'a [Pattern],
        star: usize,
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        // The subject stays on the stack for extracting items:
        pc.on_top += 1;
        let size = patterns.len();
        for (i, pattern) in patterns.iter().enumerate() {
            if is_wildcard(pattern) || i == star {
                continue;
            }
            self.addop_i(Op::COPY, 1);
            if i < star {
                self.load_const(Constant::int(i as i64));
            } else {
                // The subject may not support negative indexing: compute a nonnegative
                // index.
                self.addop(Op::GET_LEN);
                self.load_const(Constant::int((size - i) as i64));
                self.addop_i(Op::BINARY_OP, NB_SUBTRACT);
            }
            self.addop(Op::BINARY_SUBSCR);
            self.pattern(pattern, pc)?;
        }
        // Done with the subject:
        pc.on_top -= 1;
        self.addop(Op::POP_TOP);
        Ok(())
    }

    /// `compiler_pattern_as`: `p as name`, a capture, or `_`.
    fn pattern_as(&mut self, p: &'a ast::PatternMatchAs, pc: &mut PatternContext<'a>) -> CResult {
        let Some(pattern) = &p.pattern else {
            // An irrefutable match.
            self.pattern_helper_store_name(p.name.as_ref(), pc);
            return Ok(());
        };
        // A copy to store if the pattern matches:
        pc.on_top += 1;
        self.addop_i(Op::COPY, 1);
        self.pattern(pattern, pc)?;
        pc.on_top -= 1;
        self.pattern_helper_store_name(p.name.as_ref(), pc);
        Ok(())
    }

    /// `compiler_pattern_class`: `MATCH_CLASS` with the keyword attribute names, then the
    /// subpatterns on the tuple of attributes it returns.
    fn pattern_class(
        &mut self,
        p: &'a ast::PatternMatchClass,
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        let patterns = &p.arguments.patterns;
        let keywords = &p.arguments.keywords;
        let nargs = patterns.len();
        let nattrs = keywords.len();
        self.visit_expr(&p.cls)?;
        let names = keywords
            .iter()
            .map(|k| Constant::str(k.attr.as_str()))
            .collect();
        self.load_const(Constant::Tuple(names));
        self.addop_i(Op::MATCH_CLASS, nargs as u32);
        self.addop_i(Op::COPY, 1);
        self.load_const(Constant::None);
        self.addop_i(Op::IS_OP, 1);
        // The top is now a tuple of nargs + nattrs attributes (or None):
        pc.on_top += 1;
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        self.addop_i(Op::UNPACK_SEQUENCE, (nargs + nattrs) as u32);
        // The tuple is replaced by its items:
        pc.on_top = pc.on_top - 1 + nargs + nattrs;
        let keyword_patterns = keywords.iter().map(|k| &k.pattern);
        for pattern in patterns.iter().chain(keyword_patterns) {
            pc.on_top -= 1;
            if is_wildcard(pattern) {
                self.addop(Op::POP_TOP);
                continue;
            }
            self.pattern(pattern, pc)?;
        }
        Ok(())
    }

    /// `compiler_pattern_mapping`: `MATCH_MAPPING`, a length check, `MATCH_KEYS` on the
    /// tuple of keys, the value subpatterns, and `**rest` as a copy of the subject without
    /// those keys.
    fn pattern_mapping(
        &mut self,
        p: &'a ast::PatternMatchMapping,
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        let size = p.keys.len();
        if size != p.patterns.len() {
            return Err(self.unsupported("mapping pattern with keys and patterns unpaired", p));
        }
        let star_target = p.rest.as_ref();
        // The subject stays on top during the mapping and length checks:
        pc.on_top += 1;
        self.addop(Op::MATCH_MAPPING);
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        if size == 0 && star_target.is_none() {
            // `{}`: done, pop the subject.
            pc.on_top -= 1;
            self.addop(Op::POP_TOP);
            return Ok(());
        }
        if size > 0 {
            self.addop(Op::GET_LEN);
            self.load_const(Constant::int(size as i64));
            self.addop_i(Op::COMPARE_OP, CMP_GE);
            self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        }
        for key in &p.keys {
            self.visit_expr(key)?;
        }
        self.addop_i(Op::BUILD_TUPLE, size as u32);
        self.addop(Op::MATCH_KEYS);
        // A tuple of keys and a tuple of values (or None) are now on top of the subject:
        pc.on_top += 2;
        self.addop_i(Op::COPY, 1);
        self.load_const(Constant::None);
        self.addop_i(Op::IS_OP, 1);
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        // Match the subpatterns against the tuple of values:
        self.addop_i(Op::UNPACK_SEQUENCE, size as u32);
        pc.on_top = pc.on_top - 1 + size;
        for pattern in &p.patterns {
            pc.on_top -= 1;
            self.pattern(pattern, pc)?;
        }
        // A match! What follows consumes the tuple of keys and the subject:
        pc.on_top -= 2;
        if let Some(rest) = star_target {
            // rest = dict(subject); for key in keys: del rest[key]
            self.addop_i(Op::BUILD_MAP, 0); // [subject, keys, empty]
            self.addop_i(Op::SWAP, 3); // [empty, keys, subject]
            self.addop_i(Op::DICT_UPDATE, 2); // [copy, keys]
            self.addop_i(Op::UNPACK_SEQUENCE, size as u32); // [copy, keys...]
            for n in (1..=size).rev() {
                self.addop_i(Op::COPY, (1 + n) as u32); // [copy, keys..., copy]
                self.addop_i(Op::SWAP, 2); // [copy, keys..., copy, key]
                self.addop(Op::DELETE_SUBSCR); // [copy, keys...]
            }
            self.pattern_helper_store_name(Some(rest), pc);
        } else {
            self.addop(Op::POP_TOP); // The tuple of keys.
            self.addop(Op::POP_TOP); // The subject.
        }
        Ok(())
    }

    /// `compiler_pattern_or`: each alternative on a copy of the subject; the captures of
    /// every alternative are reordered like the first one's, then rotated into place.
    fn pattern_or(&mut self, p: &'a ast::PatternMatchOr, pc: &mut PatternContext<'a>) -> CResult {
        let end = self.new_block();
        // The alternatives work on a fresh context; keep the outer one:
        let old_stores = std::mem::take(&mut pc.stores);
        let old_fail_pop = std::mem::take(&mut pc.fail_pop);
        let old_on_top = pc.on_top;
        // The names the first alternative binds: the others must bind the same ones, and
        // their values are reordered to match.
        let mut control: Option<Vec<&'a str>> = None;
        for alt in &p.patterns {
            self.set_loc(alt);
            pc.stores.clear();
            pc.fail_pop.clear();
            pc.on_top = 0;
            self.addop_i(Op::COPY, 1);
            self.pattern(alt, pc)?;
            match &control {
                None => control = Some(pc.stores.clone()),
                Some(control) => self.reorder_stores(control, pc, p)?,
            }
            self.addop_j(Op::JUMP, end);
            self.emit_and_reset_fail_pop(pc);
        }
        pc.stores = old_stores;
        pc.fail_pop = old_fail_pop;
        pc.on_top = old_on_top;
        // No match: pop the remaining copy of the subject and fail.
        self.addop(Op::POP_TOP);
        self.jump_to_fail_pop(pc, Op::JUMP);
        self.use_next_block(end);
        let control = control.unwrap_or_default();
        // Between the new captures and their place lie the other new captures, the copy of
        // the subject, the items on top and the captures stashed before:
        let nrots = control.len() + 1 + pc.on_top + pc.stores.len();
        for name in control {
            self.pattern_helper_rotate(nrots);
            pc.stores.push(name);
        }
        // Pop the copy of the subject:
        self.addop(Op::POP_TOP);
        Ok(())
    }

    /// The part of `compiler_pattern_or` that reorders the captures of an alternative (on
    /// the stack and in `pc.stores`) to the order of the first one's, `control`.
    fn reorder_stores(
        &mut self,
        control: &[&'a str],
        pc: &mut PatternContext<'a>,
        p: &'a ast::PatternMatchOr,
    ) -> CResult {
        let differ = |c: &Compiler<'a>| c.error("alternative patterns bind different names", p);
        if pc.stores.len() != control.len() {
            return Err(differ(self));
        }
        for (icontrol, name) in control.iter().enumerate().rev() {
            let Some(istores) = pc.stores.iter().position(|s| s == name) else {
                return Err(differ(self));
            };
            if istores == icontrol {
                continue;
            }
            // The names after `icontrol` are in place already, so this one comes earlier.
            let Some(shift) = icontrol.checked_sub(istores) else {
                return Err(differ(self));
            };
            // rotated = stores[:rotations]; del stores[:rotations];
            // stores[shift:shift] = rotated — and the same on the stack.
            let rotations = istores + 1;
            let rotated: Vec<&'a str> = pc.stores.drain(..rotations).collect();
            pc.stores.splice(shift..shift, rotated);
            for _ in 0..rotations {
                self.pattern_helper_rotate(icontrol + 1);
            }
        }
        Ok(())
    }

    /// `compiler_pattern_sequence`: `MATCH_SEQUENCE`, a length check, then the items by
    /// unpacking or (when the star is `*_`) by subscripting.
    fn pattern_sequence(
        &mut self,
        p: &'a ast::PatternMatchSequence,
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        let patterns = &p.patterns;
        let size = patterns.len();
        let mut star = None;
        let mut only_wildcard = true;
        let mut star_wildcard = false;
        for (i, pattern) in patterns.iter().enumerate() {
            if let Pattern::MatchStar(_) = pattern {
                if star.is_some() {
                    return Err(self.unsupported("sequence pattern with several stars", p));
                }
                star_wildcard = is_star_wildcard(pattern);
                only_wildcard &= star_wildcard;
                star = Some(i);
                continue;
            }
            only_wildcard &= is_wildcard(pattern);
        }
        // The subject stays on top during the sequence and length checks:
        pc.on_top += 1;
        self.addop(Op::MATCH_SEQUENCE);
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        match star {
            None => {
                // len(subject) == size
                self.addop(Op::GET_LEN);
                self.load_const(Constant::int(size as i64));
                self.addop_i(Op::COMPARE_OP, CMP_EQ);
                self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
            }
            Some(_) if size > 1 => {
                // len(subject) >= size - 1
                self.addop(Op::GET_LEN);
                self.load_const(Constant::int(size as i64 - 1));
                self.addop_i(Op::COMPARE_OP, CMP_GE);
                self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
            }
            Some(_) => {}
        }
        // What comes next consumes the subject:
        pc.on_top -= 1;
        match star {
            _ if only_wildcard => {
                // [] / [_] / [_, _] / [*_] / [_, *_] / [_, _, *_] / …
                self.addop(Op::POP_TOP);
                Ok(())
            }
            Some(star) if star_wildcard => self.pattern_helper_sequence_subscr(patterns, star, pc),
            _ => self.pattern_helper_sequence_unpack(patterns, pc),
        }
    }

    /// `compiler_pattern_value`: `subject == value` for a literal (folded) or a dotted name.
    fn pattern_value(
        &mut self,
        p: &'a ast::PatternMatchValue,
        pc: &mut PatternContext<'a>,
    ) -> CResult {
        self.visit_expr(&p.value)?;
        self.addop_i(Op::COMPARE_OP, CMP_EQ);
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
        Ok(())
    }

    /// `compiler_pattern_singleton`: `subject is None/True/False`.
    fn pattern_singleton(&mut self, p: &ast::PatternMatchSingleton, pc: &mut PatternContext<'a>) {
        self.load_const(match p.value {
            Singleton::None => Constant::None,
            Singleton::True => Constant::Bool(true),
            Singleton::False => Constant::Bool(false),
        });
        self.addop_i(Op::IS_OP, 0);
        self.jump_to_fail_pop(pc, Op::POP_JUMP_IF_FALSE);
    }

    /// `compiler_pattern`: one pattern, at its location (which stays set afterwards, as in
    /// CPython). Irrefutable subpatterns need no `compiler_pattern_subpattern` here: the
    /// front end checks irrefutability.
    fn pattern(&mut self, p: &'a Pattern, pc: &mut PatternContext<'a>) -> CResult {
        self.set_loc(p);
        match p {
            Pattern::MatchValue(v) => self.pattern_value(v, pc),
            Pattern::MatchSingleton(s) => {
                self.pattern_singleton(s, pc);
                Ok(())
            }
            Pattern::MatchSequence(s) => self.pattern_sequence(s, pc),
            Pattern::MatchMapping(m) => self.pattern_mapping(m, pc),
            Pattern::MatchClass(c) => self.pattern_class(c, pc),
            // `compiler_pattern_star`:
            Pattern::MatchStar(s) => {
                self.pattern_helper_store_name(s.name.as_ref(), pc);
                Ok(())
            }
            Pattern::MatchAs(a) => self.pattern_as(a, pc),
            Pattern::MatchOr(o) => self.pattern_or(o, pc),
        }
    }
}
