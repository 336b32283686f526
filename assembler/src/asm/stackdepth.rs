//! The stack depth a code object needs, found as CPython's `stackdepth()` finds it: by walking
//! the control-flow graph from the entry (and, from 3.11, into exception handlers), taking
//! each instruction's stack effect with and without its jump.

use crate::code::{flags, Constant};
use crate::opcode::Opcode;
use crate::PythonVersion;

/// One instruction, as the walk needs it.
#[derive(Clone, Copy, Debug)]
pub struct Ins {
    pub op: &'static Opcode,
    pub arg: u32,
    /// The jump target, as an index into the instructions.
    pub target: Option<usize>,
    /// For 3.8/3.9: a `LOAD_CONST` of a tuple CPython's peephole optimizer made from this
    /// many loads; CPython counted the stack before that folding.
    pub folded: Option<u32>,
}

/// An exception-table entry, with instruction indices.
#[derive(Clone, Copy, Debug)]
pub struct Handler {
    /// Instructions `start..end` are protected.
    pub start: usize,
    pub end: usize,
    pub target: usize,
    pub depth: u32,
    pub lasti: bool,
}

/// Why the walk failed, at which instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepthError {
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

fn ends_block(op: &Opcode) -> bool {
    matches!(
        op.name,
        "JUMP_ABSOLUTE"
            | "JUMP_FORWARD"
            | "JUMP_BACKWARD"
            | "JUMP_BACKWARD_NO_INTERRUPT"
            | "RETURN_VALUE"
            | "RETURN_CONST"
            | "RAISE_VARARGS"
            | "RERAISE"
    )
}

/// The maximum stack depth, or the instruction where the depth goes negative or where two
/// paths arrive with different depths.
pub fn stack_depth(
    v: PythonVersion,
    code_flags: u32,
    ins: &[Ins],
    handlers: &[Handler],
) -> Result<u32, DepthError> {
    if ins.is_empty() {
        return Ok(u32::from(v.stack_size_at_least_one()));
    }
    let generator = flags::GENERATOR | flags::COROUTINE | flags::ASYNC_GENERATOR;
    let first = (v.generators_start_at_depth_one() && code_flags & generator != 0) as i64;
    let mut handler_of: Vec<Option<usize>> = vec![None; ins.len()];
    for (h, e) in handlers.iter().enumerate() {
        for slot in handler_of
            .iter_mut()
            .take(e.end.min(ins.len()))
            .skip(e.start)
        {
            slot.get_or_insert(h);
        }
    }
    let mut depth_at: Vec<Option<i64>> = vec![None; ins.len()];
    let mut work: Vec<(usize, i64, usize)> = vec![(0, first, 0)];
    let mut max = first;
    let disagree = |at: usize, from: usize, old: i64, new: i64| {
        DepthError {
        at,
        message: format!(
            "the stack holds {new} items when reached from instruction {from} but {old} on another path"
        ),
        hint: Some("every path into an instruction must leave the same stack depth".into()),
    }
    };
    let push = |work: &mut Vec<(usize, i64, usize)>,
                depth_at: &mut Vec<Option<i64>>,
                at: usize,
                d: i64,
                from: usize|
     -> Result<bool, DepthError> {
        match depth_at.get(at).copied().flatten() {
            Some(old) if old == d => Ok(false),
            Some(old) => Err(disagree(at, from, old, d)),
            None => {
                if let Some(slot) = depth_at.get_mut(at) {
                    *slot = Some(d);
                    work.push((at, d, from));
                }
                Ok(true)
            }
        }
    };
    depth_at[0] = Some(first);
    while let Some((mut i, mut d, _)) = work.pop() {
        loop {
            let x = ins[i];
            if let Some(h) = handler_of[i] {
                let e = handlers[h];
                let hd = e.depth as i64 + 1 + e.lasti as i64;
                max = max.max(hd);
                push(&mut work, &mut depth_at, e.target, hd, i)?;
            }
            let effect = x.op.stack_effect(x.arg, false).ok_or_else(|| DepthError {
                at: i,
                message: format!("{} has no stack effect for argument {}", x.op.name, x.arg),
                hint: None,
            })?;
            let nd = d + effect as i64;
            if nd < 0 {
                return Err(DepthError {
                    at: i,
                    message: format!(
                        "stack underflow: {} takes more than the {d} item{} on the stack",
                        x.op.name,
                        if d == 1 { "" } else { "s" }
                    ),
                    hint: Some("push the operands first".into()),
                });
            }
            max = max.max(nd);
            if let Some(n) = x.folded {
                max = max.max(d + n as i64);
            }
            // 3.14+: END_ASYNC_FOR names the SEND of its loop as a target, but never goes
            // there (CPython's stack depth skips it too).
            if let Some(t) = x.target.filter(|_| x.op.name != "END_ASYNC_FOR") {
                let je = x.op.stack_effect(x.arg, true).ok_or_else(|| DepthError {
                    at: i,
                    message: format!("{} has no stack effect for argument {}", x.op.name, x.arg),
                    hint: None,
                })?;
                let td = d + je as i64;
                if td < 0 {
                    return Err(DepthError {
                        at: i,
                        message: format!("stack underflow when {} jumps", x.op.name),
                        hint: Some("push the operands first".into()),
                    });
                }
                max = max.max(td);
                // 3.8's CALL_FINALLY only checks its target, which other paths reach.
                if x.op.name != "CALL_FINALLY" {
                    push(&mut work, &mut depth_at, t, td, i)?;
                }
            }
            d = nd;
            if ends_block(x.op) || i + 1 >= ins.len() {
                break;
            }
            if !push(&mut work, &mut depth_at, i + 1, d, i)? {
                break;
            }
            // Continue in line instead of through the work list.
            work.pop();
            i += 1;
        }
    }
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    Ok(if v.stack_size_at_least_one() {
        max.max(1)
    } else {
        max
    })
}

/// 3.8 and 3.9 count the stack before the peephole optimizer folds `LOAD_CONST`s followed by
/// `BUILD_TUPLE` into one `LOAD_CONST` of a tuple, which it appends to `co_consts` (the items
/// stay behind). This finds those tuples from the table's layout: the fewest trailing tuple
/// constants, each loaded once and made of earlier constants, without which the constants
/// are no longer in order of first use. `loads` are the constant indices in code order; the
/// result maps a position in `loads` to the tuple's length.
pub fn folded_tuples(consts: &[Constant], loads: &[u32]) -> Vec<(usize, u32)> {
    let mut uses = vec![0u32; consts.len()];
    for &l in loads {
        if let Some(u) = uses.get_mut(l as usize) {
            *u += 1;
        }
    }
    let position = |c: &Constant, below: usize| consts[..below].iter().position(|x| x == c);
    let mut candidates = Vec::new();
    let mut i = consts.len();
    while i > 1 {
        i -= 1;
        match &consts[i] {
            Constant::Tuple(items)
                if uses[i] == 1 && items.iter().all(|x| position(x, i).is_some()) =>
            {
                candidates.push(i)
            }
            _ => break,
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    let in_order = |boundary: usize| {
        let mut seen = vec![false; consts.len()];
        let mut last = None;
        for &l in loads {
            let l = l as usize;
            let firsts: Vec<usize> = match &consts.get(l) {
                Some(Constant::Tuple(items)) if l >= boundary => {
                    items.iter().filter_map(|x| position(x, boundary)).collect()
                }
                Some(_) => vec![l],
                None => return false,
            };
            for e in firsts {
                if !seen[e] {
                    if last.is_some_and(|p| e < p) {
                        return false;
                    }
                    seen[e] = true;
                    last = Some(e);
                }
            }
        }
        true
    };
    let mut boundary = consts.len();
    for &c in std::iter::once(&consts.len()).chain(candidates.iter()) {
        if in_order(c) {
            boundary = c;
            break;
        }
    }
    loads
        .iter()
        .enumerate()
        .filter(|&(_, &l)| l as usize >= boundary)
        .filter_map(|(k, &l)| match &consts[l as usize] {
            Constant::Tuple(items) => Some((k, items.len() as u32)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(v: PythonVersion, code: &[(&str, u32, Option<usize>)]) -> Vec<Ins> {
        code.iter()
            .map(|&(name, arg, target)| Ins {
                op: v.opcodes().by_name(name).unwrap(),
                arg,
                target,
                folded: None,
            })
            .collect()
    }

    #[test]
    fn straight_and_branches() {
        let v = PythonVersion::V3_8;
        let code = ins(
            v,
            &[
                ("LOAD_CONST", 0, None),
                ("LOAD_CONST", 1, None),
                ("BUILD_TUPLE", 2, None),
                ("POP_JUMP_IF_FALSE", 0, Some(6)),
                ("LOAD_CONST", 0, None),
                ("RETURN_VALUE", 0, None),
                ("LOAD_CONST", 0, None),
                ("RETURN_VALUE", 0, None),
            ],
        );
        assert_eq!(stack_depth(v, 0, &code, &[]), Ok(2));
        let bad = ins(v, &[("POP_TOP", 0, None)]);
        assert_eq!(stack_depth(v, 0, &bad, &[]).unwrap_err().at, 0);
        // Two paths into instruction 3 with different depths.
        let bad = ins(
            v,
            &[
                ("LOAD_CONST", 0, None),
                ("POP_JUMP_IF_FALSE", 0, Some(3)),
                ("LOAD_CONST", 0, None),
                ("RETURN_VALUE", 0, None),
            ],
        );
        let e = stack_depth(v, 0, &bad, &[]).unwrap_err();
        assert!(e.message.contains("another path"), "{e:?}");
    }

    #[test]
    fn handlers_and_minimum() {
        let v = PythonVersion::V3_13;
        let code = ins(
            v,
            &[
                ("NOP", 0, None),
                ("RETURN_CONST", 0, None),
                ("PUSH_EXC_INFO", 0, None),
                ("POP_EXCEPT", 0, None),
                ("RETURN_CONST", 0, None),
            ],
        );
        assert_eq!(stack_depth(v, 0, &code[..2], &[]), Ok(1));
        let h = Handler {
            start: 0,
            end: 1,
            target: 2,
            depth: 0,
            lasti: true,
        };
        assert_eq!(stack_depth(v, 0, &code, &[h]), Ok(3));
    }

    #[test]
    fn folded() {
        let c = |i: i64| Constant::int(i);
        // def f(a=1, b=2): compiler constants 1, 2, code, name; the peephole adds (1, 2).
        let consts = vec![
            c(1),
            c(2),
            Constant::str("f"),
            Constant::Tuple(vec![c(1), c(2)]),
        ];
        assert_eq!(folded_tuples(&consts, &[3, 2]), vec![(0, 2)]);
        // A tuple in first-use order was the compiler's own.
        let consts = vec![c(1), c(2), Constant::Tuple(vec![c(1), c(2)])];
        assert!(folded_tuples(&consts, &[0, 1, 2]).is_empty());
    }
}
