//! From parsed code blocks to code objects: tables, jumps, caches, positions, exception
//! table, stack depth, locals and flags.

use std::collections::HashMap;

use super::args::{arg_kind, jump_kind, jump_unit, ArgKind, JumpKind};
use super::parser::{err, err_hint, CodeBlock, ConstExpr, Item, Operand, Pos, Program, Span};
use super::stackdepth::{folded_tuples, stack_depth, Handler, Ins};
use super::AsmError;
use crate::code::{flags, local_kind, LocalPlus, Locals};
use crate::exceptions::{encode_exception_table, ExceptionEntry};
use crate::lines::{encode_linetable_310, encode_locations, Position};
use crate::opcode::Opcode;
use crate::version::LineTableFormat;
use crate::{CodeObject, Constant, PyStr, PythonVersion};

/// What a code block inherits from the one around it.
struct Ctx<'a> {
    v: PythonVersion,
    top: bool,
    parent_qualname: Option<&'a PyStr>,
    parent_top: bool,
    parent_is_function: bool,
    /// Some enclosing block is a function (CPython's `ste_nested`).
    nested: bool,
    filename: PyStr,
}

/// Assembles the module block of a program.
pub fn assemble(p: &Program) -> Result<CodeObject, Vec<AsmError>> {
    let ctx = Ctx {
        v: p.version,
        top: true,
        parent_qualname: None,
        parent_top: false,
        parent_is_function: false,
        nested: false,
        filename: PyStr::from("<asm>"),
    };
    block(&p.module, &ctx)
}

fn instrs(b: &CodeBlock) -> impl Iterator<Item = (&'static Opcode, &Operand, Span)> + '_ {
    b.items.iter().filter_map(|i| match i {
        Item::Instr { op, operand, span } => Some((*op, operand, *span)),
        _ => None,
    })
}

/// The default rule: the module and blocks that use `*_NAME` instructions (class bodies) are
/// not functions; other nested blocks are.
fn is_function(b: &CodeBlock, top: bool) -> bool {
    match b.flags {
        Some(f) => f & flags::OPTIMIZED != 0,
        None => {
            !top && !instrs(b)
                .any(|(op, _, _)| matches!(op.name, "LOAD_NAME" | "STORE_NAME" | "DELETE_NAME"))
        }
    }
}

/// The flags CPython would give `b` without future imports or `async`.
fn default_flags(b: &CodeBlock, ctx: &Ctx, function: bool, has_cells: bool) -> u32 {
    let mut f = 0;
    if function {
        f |= flags::OPTIMIZED | flags::NEWLOCALS;
        if ctx.nested {
            f |= flags::NESTED;
        }
        let has = |names: &[&str]| instrs(b).any(|(op, _, _)| names.contains(&op.name));
        let asynchronous = has(&[
            "GET_AWAITABLE",
            "GET_AITER",
            "GET_ANEXT",
            "BEFORE_ASYNC_WITH",
        ]);
        if !asynchronous && has(&["YIELD_VALUE", "GET_YIELD_FROM_ITER"]) {
            f |= flags::GENERATOR;
        }
    }
    if let Some(sig) = &b.args {
        if sig.varargs {
            f |= flags::VARARGS;
        }
        if sig.varkw {
            f |= flags::VARKEYWORDS;
        }
    }
    if ctx.v.has_nofree_flag() && !has_cells {
        f |= flags::NOFREE;
    }
    f
}

/// The qualified name CPython gives a block named `name` inside `ctx`'s block.
fn default_qualname(ctx: &Ctx, name: &PyStr) -> PyStr {
    match ctx.parent_qualname {
        Some(p) if !ctx.parent_top => {
            let sep = if ctx.parent_is_function {
                ".<locals>."
            } else {
                "."
            };
            let mut s = p.to_string_lossy();
            s.push_str(sep);
            s.push_str(&name.to_string_lossy());
            if p.as_str().is_some() && name.as_str().is_some() {
                PyStr::from(s)
            } else {
                let mut points: Vec<u32> = p.code_points().collect();
                points.extend(sep.chars().map(|c| c as u32));
                points.extend(name.code_points());
                PyStr::from_code_points(points)
            }
        }
        _ => name.clone(),
    }
}

fn block(b: &CodeBlock, ctx: &Ctx) -> Result<CodeObject, Vec<AsmError>> {
    let v = ctx.v;
    let mut errors = Vec::new();
    let function = is_function(b, ctx.top);
    let name = b.name.clone().unwrap_or_else(|| b.label.clone());
    let qualname = b
        .qualname
        .clone()
        .unwrap_or_else(|| default_qualname(ctx, &name));
    let filename = b.filename.clone().unwrap_or_else(|| ctx.filename.clone());

    // Nested blocks first: constants refer to them.
    let child_ctx = Ctx {
        v,
        top: false,
        parent_qualname: Some(&qualname),
        parent_top: ctx.top,
        parent_is_function: function,
        nested: ctx.nested || function,
        filename: filename.clone(),
    };
    let mut children: HashMap<PyStr, (CodeObject, Span)> = HashMap::new();
    for child in &b.children {
        match block(child, &child_ctx) {
            Ok(code) => {
                if children.contains_key(&child.label) {
                    errors.push(err_hint(
                        child.span,
                        format!(
                            "a code block labelled {:?} is already defined here",
                            child.label
                        ),
                        "give nested code blocks distinct labels and set `.name`",
                    ));
                }
                children.insert(child.label.clone(), (code, child.span));
            }
            Err(e) => errors.extend(e),
        }
    }

    // Variables.
    let plus = v.locals_layout() == crate::version::LocalsLayout::LocalsPlus;
    let mut varnames: Vec<PyStr> = Vec::new();
    let seen_var = |n: &PyStr, span: Span, list: &mut Vec<PyStr>, errors: &mut Vec<AsmError>| {
        if list.contains(n) {
            errors.push(err(span, format!("variable {n:?} is declared twice")));
        } else {
            list.push(n.clone());
        }
    };
    if let Some(sig) = &b.args {
        for n in &sig.names {
            seen_var(n, b.span, &mut varnames, &mut errors);
        }
    }
    for (n, s) in &b.locals {
        seen_var(n, *s, &mut varnames, &mut errors);
    }
    let mut cellvars = Vec::new();
    if !b.localsplus.is_empty() {
        varnames.clear();
    }
    for (n, s) in &b.cellvars {
        seen_var(n, *s, &mut cellvars, &mut errors);
    }
    let mut freevars = Vec::new();
    for (n, s) in &b.freevars {
        seen_var(n, *s, &mut freevars, &mut errors);
    }
    let exact = plus && !b.localsplus.is_empty();
    if exact {
        let pick = |k: u8| {
            b.localsplus
                .iter()
                .filter(|e| e.1 & k != 0)
                .map(|e| e.0.clone())
                .collect::<Vec<_>>()
        };
        varnames = pick(local_kind::LOCAL);
        cellvars = pick(local_kind::CELL);
        freevars = pick(local_kind::FREE);
    }
    // Undeclared locals join in order of first use.
    for (_, operand, _) in instrs(b).filter(|_| !exact) {
        let mut add = |n: &PyStr| {
            let known =
                varnames.contains(n) || (plus && (cellvars.contains(n) || freevars.contains(n)));
            if !known {
                varnames.push(n.clone());
            }
        };
        match operand {
            Operand::Local(n) => add(n),
            Operand::LocalPair(a, c) => {
                add(a);
                add(c);
            }
            _ => {}
        }
    }
    let plus_names: Vec<PyStr> = if exact {
        b.localsplus.iter().map(|e| e.0.clone()).collect()
    } else {
        varnames
            .iter()
            .cloned()
            .chain(cellvars.iter().filter(|c| !varnames.contains(c)).cloned())
            .chain(freevars.iter().cloned())
            .collect()
    };
    let local_index = |n: &PyStr| -> Option<u32> {
        if plus {
            plus_names.iter().position(|x| x == n).map(|i| i as u32)
        } else {
            varnames.iter().position(|x| x == n).map(|i| i as u32)
        }
    };
    let free_index = |n: &PyStr| -> Option<u32> {
        if plus {
            let i = plus_names.iter().position(|x| x == n)?;
            (cellvars.contains(n) || freevars.contains(n)).then_some(i as u32)
        } else {
            cellvars
                .iter()
                .chain(freevars.iter())
                .position(|x| x == n)
                .map(|i| i as u32)
        }
    };
    for (n, s) in &b.hidden {
        if !plus_names.contains(n) {
            errors.push(err(*s, format!("hidden variable {n:?} is not declared")));
        }
    }

    // Names, in the given order, then by first use.
    let mut names: Vec<PyStr> = b.names.iter().map(|(n, _)| n.clone()).collect();
    for (_, operand, _) in instrs(b) {
        if let Operand::Name(n, _) = operand {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }

    // Constants: the docstring slot, the given ones, then by first use.
    let mut consts: Vec<ConstExpr> = Vec::new();
    let mut const_spans: Vec<Span> = Vec::new();
    if let Some((d, s)) = &b.docstring {
        consts.push(d.clone());
        const_spans.push(*s);
    }
    for (c, s) in &b.consts {
        consts.push(c.clone());
        const_spans.push(*s);
    }
    for (_, operand, span) in instrs(b) {
        if let Operand::Const(c) = operand {
            if !consts.contains(c) {
                consts.push(c.clone());
                const_spans.push(span);
            }
        }
    }
    let mut used_children: Vec<&PyStr> = Vec::new();
    let mut resolve_errors = Vec::new();
    let resolved: Vec<Constant> = consts
        .iter()
        .zip(&const_spans)
        .map(|(c, _)| resolve(c, &children, &mut used_children, &mut resolve_errors))
        .collect();
    errors.extend(resolve_errors);
    for child in &b.children {
        if !used_children.contains(&&child.label) {
            errors.push(err_hint(
                child.span,
                format!("code block {:?} is never used", child.label),
                format!(
                    "load it with `LOAD_CONST code {0}` or list it with `.const code {0}`",
                    child.label
                ),
            ));
        }
    }

    // Instructions with their arguments (jumps resolved below).
    struct Pending {
        op: &'static Opcode,
        arg: u32,
        jump: Option<(String, Span)>,
        span: Span,
        prefixes: u32,
        caches: u32,
        item: usize,
    }
    let mut pend: Vec<Pending> = Vec::new();
    let mut prefixes = 0u32;
    let mut labels: HashMap<&str, (usize, Span)> = HashMap::new();
    // For each item, the instruction index it belongs to (the next instruction).
    let mut label_items: Vec<(&str, usize, Span)> = Vec::new();
    let mut last_prefix_span = None;
    for (k, item) in b.items.iter().enumerate() {
        match item {
            Item::Label(l, s) => label_items.push((l.as_str(), k, *s)),
            Item::Line(_) => {}
            Item::Prefix(s) => {
                prefixes += 1;
                last_prefix_span = Some(*s);
            }
            Item::Instr { op, operand, span } => {
                let kind = arg_kind(v, op);
                let mut jump = None;
                let arg = match (operand, kind) {
                    (Operand::None, _) => 0,
                    (Operand::Arg(a), _) => {
                        check_raw(
                            *a,
                            kind,
                            op,
                            *span,
                            &resolved,
                            &names,
                            &plus_names,
                            &varnames,
                            plus,
                            &mut errors,
                        );
                        *a
                    }
                    (Operand::Const(c), _) => {
                        consts.iter().position(|x| x == c).unwrap_or(0) as u32
                    }
                    (Operand::Name(n, bits), ArgKind::Name { shift }) => {
                        let i = names.iter().position(|x| x == n).unwrap_or(0) as u32;
                        (i << shift) | bits
                    }
                    (Operand::Local(n), _) => local_index(n).unwrap_or(0),
                    (Operand::LocalPair(a, c), _) => {
                        let (a, c) = (local_index(a).unwrap_or(0), local_index(c).unwrap_or(0));
                        if a > 15 || c > 15 {
                            errors.push(err_hint(
                                *span,
                                format!("{} packs two variables of index below 16", op.name),
                                "use two single instructions",
                            ));
                        }
                        (a << 4) | c
                    }
                    (Operand::Free(n), _) => match free_index(n) {
                        Some(i) => i,
                        None => {
                            errors.push(err_hint(
                                *span,
                                format!("{n:?} is not a cell or free variable"),
                                "declare it with `.cellvars` or `.freevars`",
                            ));
                            0
                        }
                    },
                    (Operand::Jump(l), _) => {
                        jump = Some((l.clone(), *span));
                        0
                    }
                    (Operand::Name(..), _) => 0,
                };
                let caches = if v.has_inline_caches() {
                    op.cache_entries as u32
                } else {
                    0
                };
                pend.push(Pending {
                    op,
                    arg,
                    jump,
                    span: *span,
                    prefixes,
                    caches,
                    item: k,
                });
                prefixes = 0;
                last_prefix_span = None;
            }
        }
    }
    if let Some(s) = last_prefix_span {
        errors.push(err(s, "EXTENDED_ARG is not followed by an instruction"));
    }
    // Labels point at the next instruction (or the end).
    let instr_after = |item: usize| {
        pend.iter()
            .position(|p| p.item > item)
            .unwrap_or(pend.len())
    };
    for &(l, item, s) in &label_items {
        if let Some((_, first)) = labels.get(l) {
            errors.push(err_hint(
                s,
                format!("label `{l}` is already defined"),
                format!(
                    "the first definition is at byte {}; rename one of them",
                    first.start
                ),
            ));
        } else {
            labels.insert(l, (instr_after(item), s));
        }
    }
    let mut targets: Vec<Option<usize>> = vec![None; pend.len()];
    for (i, p) in pend.iter().enumerate() {
        if let Some((l, span)) = &p.jump {
            match labels.get(l.as_str()) {
                Some(&(t, _)) if t < pend.len() => targets[i] = Some(t),
                Some(_) => errors.push(err(
                    *span,
                    format!("label `{l}` is after the last instruction"),
                )),
                None => errors.push(err_hint(
                    *span,
                    format!("undefined label `{l}`"),
                    format!("define it with `{l}:` before the target instruction"),
                )),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Sizes and jump arguments, to a fixed point.
    let unit = jump_unit(v);
    let mut args: Vec<u32> = pend.iter().map(|p| p.arg).collect();
    let mut sizes: Vec<u32> = pend
        .iter()
        .map(|p| units_for(p.arg).max(1 + p.prefixes))
        .collect();
    let mut starts = vec![0u32; pend.len() + 1];
    let mut bad_jump = None;
    for round in 0..200 {
        let mut at = 0u32;
        for (i, p) in pend.iter().enumerate() {
            starts[i] = at;
            at = at.saturating_add(sizes[i] + p.caches);
        }
        starts[pend.len()] = at;
        let mut changed = false;
        bad_jump = None;
        for (i, p) in pend.iter().enumerate() {
            let Some(t) = targets[i] else { continue };
            let end = starts[i] + sizes[i] + p.caches;
            let target = starts[t];
            let units = match jump_kind(v, p.op) {
                JumpKind::Absolute => Some(target),
                JumpKind::Forward => target.checked_sub(end),
                JumpKind::Backward => end.checked_sub(target),
            };
            let arg = match units {
                Some(u) => u.saturating_mul(2 / unit),
                None => {
                    bad_jump = Some(i);
                    0
                }
            };
            args[i] = arg;
            let size = units_for(arg).max(1 + p.prefixes);
            // Let sizes shrink early on, as CPython does, but only grow later to end surely.
            if size > sizes[i] || (size < sizes[i] && round < 100) {
                sizes[i] = size;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    if let Some(i) = bad_jump {
        let p = &pend[i];
        let dir = if jump_kind(v, p.op) == JumpKind::Backward {
            "forward"
        } else {
            "backward"
        };
        return Err(vec![err_hint(
            p.span,
            format!("{} cannot jump {dir}", p.op.name),
            if v.has_backward_jumps() {
                "use JUMP_BACKWARD (or JUMP_FORWARD) for the direction"
            } else {
                "use JUMP_ABSOLUTE to jump backward"
            },
        )]);
    }
    let total = starts[pend.len()];

    // The code.
    let ext = u16::from(v.opcodes().extended_arg);
    let mut code = Vec::with_capacity(total as usize * 2);
    for (i, p) in pend.iter().enumerate() {
        let arg = args[i];
        for k in (1..sizes[i]).rev() {
            code.extend([ext as u8, (arg >> (8 * k)) as u8]);
        }
        code.extend([p.op.number as u8, arg as u8]);
        code.extend(std::iter::repeat_n(0u8, 2 * p.caches as usize));
    }

    // Positions: the unit offset of each `.line`, and the position of each instruction.
    let mut events: Vec<(u32, Pos)> = Vec::new();
    let mut ins_pos: Vec<Pos> = Vec::with_capacity(pend.len());
    {
        let mut current = Pos::default();
        let mut next = 0usize;
        let mut prefix_seen = 0u32;
        for item in &b.items {
            match item {
                Item::Line(p) => {
                    let off = if next < pend.len() {
                        let extra = sizes[next] - 1 - pend[next].prefixes;
                        starts[next]
                            + if prefix_seen > 0 || pend[next].prefixes > 0 {
                                extra + prefix_seen
                            } else {
                                0
                            }
                    } else {
                        total
                    };
                    if prefix_seen == 0 {
                        current = *p;
                    }
                    events.push((off, *p));
                }
                Item::Prefix(_) => {
                    if prefix_seen == 0 && next < pend.len() {
                        ins_pos.push(current);
                    }
                    prefix_seen += 1;
                }
                Item::Instr { .. } => {
                    if prefix_seen == 0 {
                        ins_pos.push(current);
                    }
                    prefix_seen = 0;
                    next += 1;
                }
                Item::Label(..) => {}
            }
        }
    }
    let firstlineno = b
        .firstlineno
        .or_else(|| events.iter().find_map(|(_, p)| p.lineno))
        .unwrap_or(1);
    let linetable = match &b.linetable {
        Some(raw) => raw.clone(),
        None => line_table(
            v,
            firstlineno,
            &events,
            &ins_pos,
            &sizes,
            &pend.iter().map(|p| p.caches).collect::<Vec<_>>(),
        ),
    };

    // The exception table.
    let mut entries = Vec::new();
    let mut handlers = Vec::new();
    for e in &b.exceptions {
        let find = |l: &str| -> Result<usize, AsmError> {
            labels.get(l).map(|&(i, _)| i).ok_or_else(|| {
                err_hint(
                    e.span,
                    format!("undefined label `{l}`"),
                    format!("define it with `{l}:`"),
                )
            })
        };
        match (find(&e.start), find(&e.end), find(&e.target)) {
            (Ok(s), Ok(end), Ok(t)) => {
                if end < s {
                    errors.push(err(e.span, "the range ends before it starts"));
                }
                if t >= pend.len() {
                    errors.push(err(
                        e.span,
                        format!("label `{}` is after the last instruction", e.target),
                    ));
                    continue;
                }
                entries.push(ExceptionEntry {
                    start: starts[s] * 2,
                    end: starts[end] * 2,
                    target: starts[t] * 2,
                    depth: e.depth,
                    lasti: e.lasti,
                });
                handlers.push(Handler {
                    start: s,
                    end,
                    target: t,
                    depth: e.depth,
                    lasti: e.lasti,
                });
            }
            (a, c, d) => errors.extend([a.err(), c.err(), d.err()].into_iter().flatten()),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let exceptiontable = match &b.exceptiontable {
        Some(raw) => raw.clone(),
        None => encode_exception_table(&entries),
    };

    // Locals and flags.
    let has_cells = !cellvars.is_empty() || !freevars.is_empty();
    let code_flags = b
        .flags
        .unwrap_or_else(|| default_flags(b, ctx, function, has_cells));
    let locals = if exact {
        Locals::Plus(
            b.localsplus
                .iter()
                .map(|(name, kind)| LocalPlus {
                    name: name.clone(),
                    kind: *kind,
                })
                .collect(),
        )
    } else if plus {
        let hidden: Vec<&PyStr> = b.hidden.iter().map(|(n, _)| n).collect();
        let kind = |n: &PyStr| {
            let mut k = 0;
            if varnames.contains(n) {
                k |= local_kind::LOCAL;
            }
            if cellvars.contains(n) {
                k |= local_kind::CELL;
            }
            if freevars.contains(n) {
                k |= local_kind::FREE;
            }
            if hidden.contains(&n) {
                k |= local_kind::HIDDEN;
            }
            k
        };
        Locals::Plus(
            plus_names
                .iter()
                .map(|n| LocalPlus {
                    name: n.clone(),
                    kind: kind(n),
                })
                .collect(),
        )
    } else {
        Locals::Split {
            nlocals: varnames.len() as u32,
            varnames: varnames.clone(),
            cellvars: cellvars.clone(),
            freevars: freevars.clone(),
        }
    };

    // The stack depth.
    let stacksize = match b.stacksize {
        Some(s) => s,
        None => {
            let loads: Vec<u32> = pend
                .iter()
                .enumerate()
                .filter(|(_, p)| p.op.name == "LOAD_CONST")
                .map(|(i, _)| args[i])
                .collect();
            let mut walk: Vec<Ins> = pend
                .iter()
                .enumerate()
                .map(|(i, p)| Ins {
                    op: p.op,
                    arg: args[i],
                    target: targets[i],
                    folded: None,
                })
                .collect();
            if v.folds_tuples_after_stack_depth() {
                let load_at: Vec<usize> = (0..pend.len())
                    .filter(|&i| pend[i].op.name == "LOAD_CONST")
                    .collect();
                for (k, n) in folded_tuples(&resolved, &loads) {
                    walk[load_at[k]].folded = Some(n);
                }
            }
            match stack_depth(v, code_flags, &walk, &handlers) {
                Ok(d) => d,
                Err(e) => {
                    let span = pend.get(e.at).map_or(b.span, |p| p.span);
                    return Err(vec![AsmError {
                        start: span.start,
                        end: span.end,
                        message: e.message,
                        hint: e.hint,
                    }]);
                }
            }
        }
    };

    let sig = b.args.clone().unwrap_or_default();
    Ok(CodeObject {
        argcount: sig.argcount,
        posonlyargcount: sig.posonly,
        kwonlyargcount: sig.kwonly,
        stacksize,
        flags: code_flags,
        code,
        consts: resolved,
        names,
        locals,
        filename,
        name,
        qualname: v.has_qualname().then_some(qualname),
        firstlineno,
        linetable,
        exceptiontable,
    })
}

/// Checks a raw `@N` argument that indexes a table.
#[allow(clippy::too_many_arguments)]
fn check_raw(
    a: u32,
    kind: ArgKind,
    op: &Opcode,
    span: Span,
    consts: &[Constant],
    names: &[PyStr],
    plus_names: &[PyStr],
    varnames: &[PyStr],
    plus: bool,
    errors: &mut Vec<AsmError>,
) {
    let (len, what) = match kind {
        ArgKind::Const => (consts.len(), "constants"),
        ArgKind::Name { shift } => {
            if ((a >> shift) as usize) < names.len() {
                return;
            }
            (names.len(), "names")
        }
        ArgKind::Local if plus => (plus_names.len(), "variables"),
        ArgKind::Local => (varnames.len(), "local variables"),
        _ => return,
    };
    if a as usize >= len {
        errors.push(err(
            span,
            format!("{} @{a} is beyond the {len} {what}", op.name),
        ));
    }
}

/// Code units an instruction needs for argument `arg` (its `EXTENDED_ARG` prefixes included).
fn units_for(arg: u32) -> u32 {
    match arg {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    }
}

fn resolve<'a>(
    c: &ConstExpr,
    children: &'a HashMap<PyStr, (CodeObject, Span)>,
    used: &mut Vec<&'a PyStr>,
    errors: &mut Vec<AsmError>,
) -> Constant {
    match c {
        ConstExpr::Value(v) => v.clone(),
        ConstExpr::Tuple(items) => Constant::Tuple(
            items
                .iter()
                .map(|i| resolve(i, children, used, errors))
                .collect(),
        ),
        ConstExpr::FrozenSet(items) => Constant::FrozenSet(
            items
                .iter()
                .map(|i| resolve(i, children, used, errors))
                .collect(),
        ),
        ConstExpr::Code(label, lspan) => match children.get_key_value(label) {
            Some((k, (code, _))) => {
                used.push(k);
                Constant::Code(Box::new(code.clone()))
            }
            None => {
                errors.push(err_hint(
                    *lspan,
                    format!("no nested code block labelled {label:?}"),
                    "define it inside this block with `.code LABEL` ... `.end`",
                ));
                Constant::None
            }
        },
    }
}

/// The line or location table of version `v`. `events` are the `.line` directives with the
/// code unit where each stands; `ins_pos` the position of each instruction.
fn line_table(
    v: PythonVersion,
    firstlineno: u32,
    events: &[(u32, Pos)],
    ins_pos: &[Pos],
    sizes: &[u32],
    caches: &[u32],
) -> Vec<u8> {
    match v.line_table_format() {
        LineTableFormat::Lnotab => lnotab(v, firstlineno, events),
        LineTableFormat::Linetable310 => {
            let items: Vec<(u32, Option<u32>)> = ins_pos
                .iter()
                .zip(sizes)
                .map(|(p, &s)| (s, p.lineno))
                .collect();
            encode_linetable_310(firstlineno, &items)
        }
        LineTableFormat::Locations => {
            let mut items: Vec<(u32, Position)> = Vec::new();
            for ((p, &s), &c) in ins_pos.iter().zip(sizes).zip(caches) {
                let pos = Position {
                    lineno: p.lineno,
                    end_lineno: p.end_lineno,
                    col: p.col,
                    end_col: p.end_col,
                };
                match items.last_mut() {
                    Some(last) if v.merges_equal_locations() && last.1 == pos => last.0 += s + c,
                    _ => items.push((s + c, pos)),
                }
            }
            encode_locations(firstlineno, &items)
        }
    }
}

/// `co_lnotab` with one entry per `.line` directive. 3.9 skips a directive that keeps the
/// line, as CPython's assembler does. 3.8 writes them all, because after its peephole
/// optimizer removed code CPython's own tables hold entries that move neither offset nor
/// line; only a first directive at offset 0 that restates `co_firstlineno` writes nothing.
fn lnotab(v: PythonVersion, firstlineno: u32, events: &[(u32, Pos)]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut last_off, mut last_line) = (0u64, firstlineno as i64);
    for (k, (off, pos)) in events.iter().enumerate() {
        let Some(line) = pos.lineno else { continue };
        let off = *off as u64;
        let mut d_bytes = (off.saturating_sub(last_off)) * 2;
        let mut d_line = line as i64 - last_line;
        let skip = if v.lnotab_skips_unchanged_lines() {
            d_line == 0
        } else {
            k == 0 && off == 0 && d_line == 0
        };
        if skip {
            continue;
        }
        while d_bytes > 255 {
            out.extend([255, 0]);
            d_bytes -= 255;
        }
        if !(-128..=127).contains(&d_line) {
            let (k, n) = if d_line < 0 {
                (-128i64, -d_line / 128)
            } else {
                (127, d_line / 127)
            };
            d_line -= n * k;
            out.extend([d_bytes as u8, k as u8]);
            for _ in 1..n {
                out.extend([0, k as u8]);
            }
            d_bytes = 0;
        }
        out.extend([d_bytes as u8, d_line as u8]);
        last_line = line as i64;
        last_off = off;
    }
    out
}
