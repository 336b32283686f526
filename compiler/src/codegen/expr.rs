//! Expressions: `compiler_visit_expr` and what it uses (3.11 `compile.c`): names, constants,
//! operators, conditions (`compiler_jump_if`), comparisons, displays, assignment targets,
//! subscripts and slices, `yield` and `await`. Calls are in [`call`], f-strings in
//! [`fstring`].

use pyc_assembler::Constant;
use ruff_python_ast::{self as ast, BoolOp, CmpOp, Expr, ExprContext, UnaryOp};
use ruff_text_size::TextRange;

use super::ir::{BlockId, Loc, Op};
use super::{CResult, Compiler, Ctx};
use crate::fold;

mod call;
mod fstring;

/// Whether `e` is of a kind constant folding never turns into a constant (CPython's AST
/// optimizer folds operators, subscripts, displays and `__debug__`): names, attribute loads
/// and calls, the most common expressions, need not be looked up in [`fold::Folded`].
fn never_folded(e: &Expr) -> bool {
    match e {
        Expr::Name(n) => n.id.as_str() != "__debug__",
        Expr::Attribute(_) | Expr::Call(_) => true,
        _ => false,
    }
}

/// `STACK_USE_GUIDELINE`: how many items codegen keeps on the stack before building
/// collections piecewise.
pub(crate) const STACK_USE_GUIDELINE: usize = 30;

/// The `BUILD_*`, add and extend opcodes of a display (`starunpack_helper`'s arguments).
#[derive(Clone, Copy)]
pub(crate) struct Collection {
    build: Op,
    add: Op,
    extend: Op,
    tuple: bool,
}

/// A list display, or a tuple built through a list.
pub(crate) const LIST: Collection = Collection {
    build: Op::BUILD_LIST,
    add: Op::LIST_APPEND,
    extend: Op::LIST_EXTEND,
    tuple: false,
};
const TUPLE: Collection = Collection {
    tuple: true,
    ..LIST
};
const SET: Collection = Collection {
    build: Op::BUILD_SET,
    add: Op::SET_ADD,
    extend: Op::SET_UPDATE,
    tuple: false,
};

impl<'a> Compiler<'a> {
    /// `compiler_visit_expr`: compiles `e` at its own location, restoring the current one
    /// afterwards.
    pub fn visit_expr(&mut self, e: &'a Expr) -> CResult {
        let old = self.u.loc;
        self.set_loc(e);
        let result = self.visit_expr1(e);
        self.u.loc = old;
        result
    }

    /// `compiler_visit_expr` for an expression CPython locates at `range` rather than at its
    /// own: a generator expression that is a call's only argument spans the call's
    /// parentheses, which ruff leaves out of its range.
    pub(crate) fn visit_expr_at(&mut self, e: &'a Expr, range: TextRange) -> CResult {
        self.visit_expr_loc(e, self.loc_of(range))
    }

    /// `compiler_visit_expr` with `e` at `loc`.
    pub(crate) fn visit_expr_loc(&mut self, e: &'a Expr, loc: Loc) -> CResult {
        let old = self.u.loc;
        self.u.loc = loc;
        let result = self.visit_expr1(e);
        self.u.loc = old;
        result
    }

    /// The constant CPython's AST holds for `e` after folding (`Constant_kind`), if any.
    pub fn constant_of(&self, e: &Expr) -> Option<Constant> {
        if never_folded(e) {
            return None;
        }
        self.folded.value(e, self.source)
    }

    /// Whether `e` is a constant after folding (`Constant_kind`).
    pub fn is_constant(&self, e: &Expr) -> bool {
        !never_folded(e) && self.folded.is_constant(e)
    }

    /// `expr_constant`: the truth of a constant expression, `None` if `e` is no constant.
    pub fn expr_constant(&self, e: &Expr) -> Option<bool> {
        self.constant_of(e).map(|c| fold::truth(&c))
    }

    /// `compiler_visit_expr1`.
    fn visit_expr1(&mut self, e: &'a Expr) -> CResult {
        let folded = if never_folded(e) {
            None
        } else {
            self.folded.constant(e)
        };
        if let Some(c) = folded {
            let c = c.clone();
            self.load_const(c);
            return Ok(());
        }
        match e {
            Expr::Named(n) => {
                self.visit_expr(&n.value)?;
                self.addop_i(Op::COPY, 1);
                self.visit_expr(&n.target)?;
            }
            Expr::BoolOp(b) => self.boolop(b)?,
            Expr::BinOp(b) => {
                self.visit_expr(&b.left)?;
                self.visit_expr(&b.right)?;
                self.addop_binary(&b.op, false);
            }
            Expr::UnaryOp(u) => {
                self.visit_expr(&u.operand)?;
                self.addop(match u.op {
                    UnaryOp::Invert => Op::UNARY_INVERT,
                    UnaryOp::Not => Op::UNARY_NOT,
                    UnaryOp::UAdd => Op::UNARY_POSITIVE,
                    UnaryOp::USub => Op::UNARY_NEGATIVE,
                });
            }
            Expr::Lambda(l) => self.lambda(l)?,
            Expr::If(i) => self.ifexp(i)?,
            Expr::Dict(d) => self.dict(d)?,
            Expr::Set(s) => self.starunpack_helper(&s.elts, 0, SET)?,
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                self.comprehension(e)?
            }
            Expr::Yield(y) => {
                match y.value.as_deref() {
                    Some(v) => self.visit_expr(v)?,
                    None => self.load_const(Constant::None),
                }
                self.addop_yield();
            }
            Expr::YieldFrom(y) => {
                self.visit_expr(&y.value)?;
                self.addop(Op::GET_YIELD_FROM_ITER);
                self.load_const(Constant::None);
                self.add_yield_from(false);
            }
            Expr::Await(a) => {
                self.visit_expr(&a.value)?;
                self.addop_i(Op::GET_AWAITABLE, 0);
                self.load_const(Constant::None);
                self.add_yield_from(true);
            }
            Expr::Compare(c) => self.compare(c)?,
            Expr::Call(c) => self.call(c, e)?,
            Expr::FString(f) => self.joined_str(f)?,
            Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_) => match fold::literal(e, self.source) {
                Some(c) => self.load_const(c),
                None => return Err(self.unsupported("literal", e)),
            },
            Expr::Attribute(a) => {
                self.visit_expr(&a.value)?;
                self.update_start_location_to_match_attr(a);
                let op = match Ctx::from(a.ctx) {
                    Ctx::Load => Op::LOAD_ATTR,
                    Ctx::Store => Op::STORE_ATTR,
                    Ctx::Del => Op::DELETE_ATTR,
                };
                self.addop_name(op, a.attr.as_str());
            }
            Expr::Subscript(s) => self.subscript(s)?,
            Expr::Starred(s) => {
                return Err(self.error(
                    if s.ctx == ExprContext::Store {
                        "starred assignment target must be in a list or tuple"
                    } else {
                        "can't use starred expression here"
                    },
                    e,
                ));
            }
            Expr::Slice(s) => self.slice(s)?,
            Expr::Name(n) => self.nameop(n.id.as_str(), n.ctx.into()),
            Expr::List(l) => self.sequence(&l.elts, l.ctx.into(), LIST)?,
            Expr::Tuple(t) => self.sequence(&t.elts, t.ctx.into(), TUPLE)?,
            Expr::TString(_) => return Err(self.unsupported("template string", e)),
            Expr::IpyEscapeCommand(_) => return Err(self.unsupported("IPython escape", e)),
        }
        Ok(())
    }

    /// `addop_binary`: `BINARY_OP` with the operator's `NB_*` argument, the in-place one for
    /// augmented assignments.
    pub fn addop_binary(&mut self, op: &ast::Operator, inplace: bool) {
        use ast::Operator::*;
        // `NB_ADD` … `NB_XOR`, then the in-place ones in the same order.
        let nb = match op {
            Add => 0,
            BitAnd => 1,
            FloorDiv => 2,
            LShift => 3,
            MatMult => 4,
            Mult => 5,
            Mod => 6,
            BitOr => 7,
            Pow => 8,
            RShift => 9,
            Sub => 10,
            Div => 11,
            BitXor => 12,
        };
        self.addop_i(Op::BINARY_OP, if inplace { nb + 13 } else { nb });
    }

    /// `addop_yield`: `YIELD_VALUE` (wrapped for async generators) and the `RESUME` after it.
    pub fn addop_yield(&mut self) {
        let flags = &self.ste().flags;
        if flags.generator && flags.coroutine {
            self.addop(Op::ASYNC_GEN_WRAP);
        }
        self.addop(Op::YIELD_VALUE);
        self.addop_i(Op::RESUME, 1);
    }

    /// `compiler_add_yield_from`: the `SEND` loop of `yield from` and `await` (the iterator
    /// and the value to send are on the stack).
    pub fn add_yield_from(&mut self, is_await: bool) {
        let start = self.new_block();
        let resume = self.new_block();
        let exit = self.new_block();
        self.use_next_block(start);
        self.addop_j(Op::SEND, exit);
        self.use_next_block(resume);
        self.addop(Op::YIELD_VALUE);
        self.addop_i(Op::RESUME, if is_await { 3 } else { 2 });
        self.addop_j(Op::JUMP_NO_INTERRUPT, start);
        self.use_next_block(exit);
    }

    /// `update_start_location_to_match_attr`: when an attribute access spans lines, the
    /// location starts at the attribute's name.
    pub(super) fn update_start_location_to_match_attr(&mut self, attr: &ast::ExprAttribute) {
        let (end_lineno, end_col_offset) = self.line_col(attr.range.end());
        let (end_lineno, end_col_offset) = (end_lineno as i32, end_col_offset as i32);
        let loc = &mut self.u.loc;
        if loc.lineno != end_lineno {
            loc.lineno = end_lineno;
            let len = attr.attr.as_str().chars().count() as i32;
            if len <= end_col_offset {
                loc.col_offset = end_col_offset - len;
            } else {
                loc.col_offset = -1;
                loc.end_col_offset = -1;
            }
            loc.end_lineno = loc.end_lineno.max(loc.lineno);
            if loc.lineno == loc.end_lineno {
                loc.end_col_offset = loc.end_col_offset.max(loc.col_offset);
            }
        }
    }

    /// `compiler_boolop`: `and`/`or` as a value.
    fn boolop(&mut self, e: &'a ast::ExprBoolOp) -> CResult {
        let jump = match e.op {
            BoolOp::And => Op::JUMP_IF_FALSE_OR_POP,
            BoolOp::Or => Op::JUMP_IF_TRUE_OR_POP,
        };
        let end = self.new_block();
        let Some((last, rest)) = e.values.split_last() else {
            return Err(self.unsupported("empty boolean operation", e));
        };
        for value in rest {
            self.visit_expr(value)?;
            self.addop_j(jump, end);
            let next = self.new_block();
            self.use_next_block(next);
        }
        self.visit_expr(last)?;
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_jump_if`: jumps to `target` when `e` is true (`cond`) or false (`!cond`),
    /// short-circuiting `and`/`or`/`not`/comparisons as CPython does.
    pub fn jump_if(&mut self, e: &'a Expr, target: BlockId, cond: bool) -> CResult {
        if !self.is_constant(e) {
            match e {
                Expr::UnaryOp(u) if u.op == UnaryOp::Not => {
                    return self.jump_if(&u.operand, target, !cond);
                }
                Expr::BoolOp(b) => {
                    let cond2 = b.op == BoolOp::Or;
                    let next2 = if cond2 != cond {
                        self.new_block()
                    } else {
                        target
                    };
                    let Some((last, rest)) = b.values.split_last() else {
                        return Err(self.unsupported("empty boolean operation", e));
                    };
                    for value in rest {
                        self.jump_if(value, next2, cond2)?;
                    }
                    self.jump_if(last, target, cond)?;
                    if next2 != target {
                        self.use_next_block(next2);
                    }
                    return Ok(());
                }
                Expr::If(i) => {
                    let end = self.new_block();
                    let next2 = self.new_block();
                    self.jump_if(&i.test, next2, false)?;
                    self.jump_if(&i.body, target, cond)?;
                    self.addop_j_noline(Op::JUMP, end);
                    self.use_next_block(next2);
                    self.jump_if(&i.orelse, target, cond)?;
                    self.use_next_block(end);
                    return Ok(());
                }
                Expr::Compare(c) => {
                    // As CPython, the location stays the comparison's afterwards, for the
                    // jump of a single comparison too.
                    self.set_loc(e);
                    if c.ops.len() > 1 {
                        return self.jump_if_chained(c, target, cond);
                    }
                }
                _ => {}
            }
        }
        self.visit_expr(e)?;
        let jump = if cond {
            Op::POP_JUMP_IF_TRUE
        } else {
            Op::POP_JUMP_IF_FALSE
        };
        self.addop_j(jump, target);
        Ok(())
    }

    /// The chained comparison case of `compiler_jump_if`.
    fn jump_if_chained(&mut self, c: &'a ast::ExprCompare, target: BlockId, cond: bool) -> CResult {
        let n = c.ops.len() - 1;
        let cleanup = self.new_block();
        self.visit_expr(&c.left)?;
        for (op, comparator) in c.ops[..n].iter().zip(&c.comparators[..n]) {
            self.visit_expr(comparator)?;
            self.addop_i(Op::SWAP, 2);
            self.addop_i(Op::COPY, 2);
            self.addcompare(*op);
            self.addop_j(Op::POP_JUMP_IF_FALSE, cleanup);
        }
        self.visit_expr(&c.comparators[n])?;
        self.addcompare(c.ops[n]);
        let jump = if cond {
            Op::POP_JUMP_IF_TRUE
        } else {
            Op::POP_JUMP_IF_FALSE
        };
        self.addop_j(jump, target);
        let end = self.new_block();
        self.addop_j_noline(Op::JUMP, end);
        self.use_next_block(cleanup);
        self.addop(Op::POP_TOP);
        if !cond {
            self.addop_j_noline(Op::JUMP, target);
        }
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_ifexp`.
    fn ifexp(&mut self, e: &'a ast::ExprIf) -> CResult {
        let end = self.new_block();
        let next = self.new_block();
        self.jump_if(&e.test, next, false)?;
        self.visit_expr(&e.body)?;
        self.addop_j_noline(Op::JUMP, end);
        self.use_next_block(next);
        self.visit_expr(&e.orelse)?;
        self.use_next_block(end);
        Ok(())
    }

    /// `compiler_addcompare`: `COMPARE_OP`, `IS_OP` or `CONTAINS_OP`.
    pub fn addcompare(&mut self, op: CmpOp) {
        let (op, arg) = match op {
            CmpOp::Lt => (Op::COMPARE_OP, 0),
            CmpOp::LtE => (Op::COMPARE_OP, 1),
            CmpOp::Eq => (Op::COMPARE_OP, 2),
            CmpOp::NotEq => (Op::COMPARE_OP, 3),
            CmpOp::Gt => (Op::COMPARE_OP, 4),
            CmpOp::GtE => (Op::COMPARE_OP, 5),
            CmpOp::Is => (Op::IS_OP, 0),
            CmpOp::IsNot => (Op::IS_OP, 1),
            CmpOp::In => (Op::CONTAINS_OP, 0),
            CmpOp::NotIn => (Op::CONTAINS_OP, 1),
        };
        self.addop_i(op, arg);
    }

    /// `compiler_compare`, chained comparisons included.
    fn compare(&mut self, e: &'a ast::ExprCompare) -> CResult {
        self.visit_expr(&e.left)?;
        let Some(n) = e.ops.len().checked_sub(1) else {
            return Err(self.unsupported("empty comparison", e));
        };
        if n == 0 {
            self.visit_expr(&e.comparators[0])?;
            self.addcompare(e.ops[0]);
            return Ok(());
        }
        let cleanup = self.new_block();
        for (op, comparator) in e.ops[..n].iter().zip(&e.comparators[..n]) {
            self.visit_expr(comparator)?;
            self.addop_i(Op::SWAP, 2);
            self.addop_i(Op::COPY, 2);
            self.addcompare(*op);
            self.addop_j(Op::JUMP_IF_FALSE_OR_POP, cleanup);
        }
        self.visit_expr(&e.comparators[n])?;
        self.addcompare(e.ops[n]);
        let end = self.new_block();
        self.addop_j_noline(Op::JUMP, end);
        self.use_next_block(cleanup);
        self.addop_i(Op::SWAP, 2);
        self.addop(Op::POP_TOP);
        self.use_next_block(end);
        Ok(())
    }

    /// Whether every expression is a constant (`are_all_items_const`).
    fn all_constant(&self, elts: &[Expr]) -> Option<Vec<Constant>> {
        elts.iter().map(|e| self.constant_of(e)).collect()
    }

    /// `starunpack_helper`: a list, set or tuple display (or the positional arguments of a
    /// call) with `pushed` items already on the stack, `*` unpacking included.
    pub(crate) fn starunpack_helper(
        &mut self,
        elts: &'a [Expr],
        pushed: u32,
        kind: Collection,
    ) -> CResult {
        let n = elts.len();
        if n > 2 {
            if let Some(items) = self.all_constant(elts) {
                if kind.tuple && pushed == 0 {
                    self.load_const(Constant::Tuple(items));
                } else {
                    let folded = if kind.add == Op::SET_ADD {
                        fold::frozenset(items)
                    } else {
                        Constant::Tuple(items)
                    };
                    self.addop_i(kind.build, pushed);
                    self.load_const(folded);
                    self.addop_i(kind.extend, 1);
                    if kind.tuple {
                        self.addop(Op::LIST_TO_TUPLE);
                    }
                }
                return Ok(());
            }
        }
        let big = n + pushed as usize > STACK_USE_GUIDELINE;
        let seen_star = elts.iter().any(Expr::is_starred_expr);
        if !seen_star && !big {
            for elt in elts {
                self.visit_expr(elt)?;
            }
            let build = if kind.tuple {
                Op::BUILD_TUPLE
            } else {
                kind.build
            };
            self.addop_i(build, n as u32 + pushed);
            return Ok(());
        }
        let mut sequence_built = false;
        if big {
            self.addop_i(kind.build, pushed);
            sequence_built = true;
        }
        for (i, elt) in elts.iter().enumerate() {
            if let Expr::Starred(s) = elt {
                if !sequence_built {
                    self.addop_i(kind.build, i as u32 + pushed);
                    sequence_built = true;
                }
                self.visit_expr(&s.value)?;
                self.addop_i(kind.extend, 1);
            } else {
                self.visit_expr(elt)?;
                if sequence_built {
                    self.addop_i(kind.add, 1);
                }
            }
        }
        if kind.tuple {
            self.addop(Op::LIST_TO_TUPLE);
        }
        Ok(())
    }

    /// `unpack_helper`: `UNPACK_SEQUENCE` or `UNPACK_EX` for an assignment target.
    fn unpack_helper(&mut self, elts: &'a [Expr]) -> CResult {
        let n = elts.len();
        let mut seen_star = false;
        for (i, elt) in elts.iter().enumerate() {
            if elt.is_starred_expr() {
                if seen_star {
                    return Err(self.error("multiple starred expressions in assignment", elt));
                }
                let after = n - i - 1;
                if i >= 1 << 8 || after >= (i32::MAX >> 8) as usize {
                    return Err(
                        self.error("too many expressions in star-unpacking assignment", elt)
                    );
                }
                self.addop_i(Op::UNPACK_EX, (i + (after << 8)) as u32);
                seen_star = true;
            }
        }
        if !seen_star {
            self.addop_i(Op::UNPACK_SEQUENCE, n as u32);
        }
        Ok(())
    }

    /// `assignment_helper`: unpacks the value on the stack into a list or tuple target.
    fn assignment_helper(&mut self, elts: &'a [Expr]) -> CResult {
        self.unpack_helper(elts)?;
        for elt in elts {
            match elt {
                Expr::Starred(s) => self.visit_expr(&s.value)?,
                _ => self.visit_expr(elt)?,
            }
        }
        Ok(())
    }

    /// `compiler_list` and `compiler_tuple`.
    fn sequence(&mut self, elts: &'a [Expr], ctx: Ctx, kind: Collection) -> CResult {
        match ctx {
            Ctx::Store => self.assignment_helper(elts),
            Ctx::Load => self.starunpack_helper(elts, 0, kind),
            Ctx::Del => {
                for elt in elts {
                    self.visit_expr(elt)?;
                }
                Ok(())
            }
        }
    }

    /// `compiler_subdict`: the items `begin..end` of a dict display, none of them `**`.
    fn subdict(&mut self, items: &'a [ast::DictItem]) -> CResult {
        let n = items.len();
        let big = n * 2 > STACK_USE_GUIDELINE;
        if n > 1 && !big {
            let keys: Option<Vec<Constant>> = items
                .iter()
                .map(|item| item.key.as_ref().and_then(|k| self.constant_of(k)))
                .collect();
            if let Some(keys) = keys {
                for item in items {
                    self.visit_expr(&item.value)?;
                }
                self.load_const(Constant::Tuple(keys));
                self.addop_i(Op::BUILD_CONST_KEY_MAP, n as u32);
                return Ok(());
            }
        }
        if big {
            self.addop_i(Op::BUILD_MAP, 0);
        }
        for item in items {
            if let Some(key) = &item.key {
                self.visit_expr(key)?;
            }
            self.visit_expr(&item.value)?;
            if big {
                self.addop_i(Op::MAP_ADD, 1);
            }
        }
        if !big {
            self.addop_i(Op::BUILD_MAP, n as u32);
        }
        Ok(())
    }

    /// `compiler_dict`.
    fn dict(&mut self, e: &'a ast::ExprDict) -> CResult {
        let items = &e.items[..];
        let n = items.len();
        let mut have_dict = false;
        let mut elements = 0;
        for i in 0..n {
            if items[i].key.is_none() {
                if elements > 0 {
                    self.subdict(&items[i - elements..i])?;
                    if have_dict {
                        self.addop_i(Op::DICT_UPDATE, 1);
                    }
                    have_dict = true;
                    elements = 0;
                }
                if !have_dict {
                    self.addop_i(Op::BUILD_MAP, 0);
                    have_dict = true;
                }
                self.visit_expr(&items[i].value)?;
                self.addop_i(Op::DICT_UPDATE, 1);
            } else if elements * 2 > STACK_USE_GUIDELINE {
                self.subdict(&items[i - elements..i + 1])?;
                if have_dict {
                    self.addop_i(Op::DICT_UPDATE, 1);
                }
                have_dict = true;
                elements = 0;
            } else {
                elements += 1;
            }
        }
        if elements > 0 {
            self.subdict(&items[n - elements..])?;
            if have_dict {
                self.addop_i(Op::DICT_UPDATE, 1);
            }
            have_dict = true;
        }
        if !have_dict {
            self.addop_i(Op::BUILD_MAP, 0);
        }
        Ok(())
    }

    /// `compiler_subscript`.
    fn subscript(&mut self, e: &'a ast::ExprSubscript) -> CResult {
        let op = match Ctx::from(e.ctx) {
            Ctx::Load => Op::BINARY_SUBSCR,
            Ctx::Store => Op::STORE_SUBSCR,
            Ctx::Del => Op::DELETE_SUBSCR,
        };
        self.visit_expr(&e.value)?;
        self.visit_expr(&e.slice)?;
        self.addop(op);
        Ok(())
    }

    /// `compiler_slice`: `BUILD_SLICE` of the bounds (`None` for a missing one).
    fn slice(&mut self, s: &'a ast::ExprSlice) -> CResult {
        let mut n = 2;
        for bound in [&s.lower, &s.upper] {
            match bound.as_deref() {
                Some(b) => self.visit_expr(b)?,
                None => self.load_const(Constant::None),
            }
        }
        if let Some(step) = s.step.as_deref() {
            n += 1;
            self.visit_expr(step)?;
        }
        self.addop_i(Op::BUILD_SLICE, n);
        Ok(())
    }
}
