//! The `stack` pass: the value stack depth before and after every instruction of a finished
//! code object, found by walking its control flow (jumps and exception handlers) with the
//! opcode table's stack effects — the same rules as `dis.stack_effect`, independent of the
//! compiler's own `stackdepth()`.

use pyc_assembler::code::flags;
use pyc_assembler::{dis, exceptions, CodeObject, PythonVersion};
use serde_json::{json, Value};

use super::ExplainError;

/// One instruction with its depths (`None`: unreachable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackRow {
    pub offset: u32,
    pub op: String,
    pub arg: Option<i64>,
    pub argrepr: String,
    pub line: Option<u32>,
    pub before: Option<i64>,
    /// The depth when control falls through (for jumps: when the jump is not taken).
    pub after: Option<i64>,
}

/// The depths of one code object and where the maximum is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackReport {
    pub rows: Vec<StackRow>,
    /// The largest depth reached anywhere (`co_stacksize` when the compiler is right).
    pub max: i64,
    /// Why: the first instruction (in offset order) after which the maximum is reached, or
    /// the handler whose entry reaches it.
    pub reason: String,
}

/// Opcodes after which control never falls through.
fn unconditional(op: &str) -> bool {
    matches!(
        op,
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

/// Walks `code` (not its nested code objects) for version `v`.
pub fn stack_report(code: &CodeObject, v: PythonVersion) -> Result<StackReport, String> {
    let table = v.opcodes();
    let instrs = dis::instructions(code, v).map_err(|e| e.to_string())?;
    let entries = if v.has_exception_table() {
        exceptions::parse_exception_table(&code.exceptiontable).map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    let index_of = |offset: i64| instrs.iter().position(|i| i64::from(i.offset) == offset);
    let n = instrs.len();
    let mut before: Vec<Option<i64>> = vec![None; n];
    let mut after: Vec<Option<i64>> = vec![None; n];
    let generator = flags::GENERATOR | flags::COROUTINE | flags::ASYNC_GENERATOR;
    let start = i64::from(v.generators_start_at_depth_one() && code.flags & generator != 0);
    let mut work = Vec::new();
    let mut max = start;
    let mut reason = "the entry depth".to_string();
    let reach = |at: usize,
                 depth: i64,
                 why: &dyn Fn() -> String,
                 before: &mut Vec<Option<i64>>,
                 work: &mut Vec<usize>|
     -> Result<(), String> {
        if depth < 0 {
            return Err(format!("depth {depth} below zero at {}", why()));
        }
        match before[at] {
            Some(d) if d != depth => {
                return Err(format!(
                    "offset {} reached with depths {d} and {depth} ({})",
                    instrs[at].offset,
                    why()
                ))
            }
            Some(_) => {}
            None => {
                before[at] = Some(depth);
                work.push(at);
            }
        }
        Ok(())
    };
    if n > 0 {
        reach(0, start, &|| "entry".into(), &mut before, &mut work)?;
    }
    while let Some(at) = work.pop() {
        let ins = &instrs[at];
        let depth = before[at].unwrap_or(0);
        let op = table
            .by_number(u16::from(ins.opcode))
            .ok_or_else(|| format!("unknown opcode {} at {}", ins.opcode, ins.offset))?;
        let arg = ins.arg.unwrap_or(0) as u32;
        let describe = || format!("{} {} at offset {}", ins.opname, arg, ins.offset);
        let effect = op
            .stack_effect(arg, false)
            .ok_or_else(|| format!("no stack effect for {}", describe()))?;
        for e in entries
            .iter()
            .filter(|e| e.start <= ins.offset && ins.offset < e.end)
            .take(1)
        {
            let h = index_of(i64::from(e.target))
                .ok_or_else(|| format!("handler at {} is no instruction", e.target))?;
            let d = i64::from(e.depth) + i64::from(e.lasti) + 1;
            reach(h, d, &describe, &mut before, &mut work)?;
        }
        if let Some(t) = ins.jump_target {
            let jump = op
                .stack_effect(arg, true)
                .ok_or_else(|| format!("no jump stack effect for {}", describe()))?;
            let h = index_of(t).ok_or_else(|| format!("jump target {t} is no instruction"))?;
            reach(
                h,
                depth + i64::from(jump),
                &describe,
                &mut before,
                &mut work,
            )?;
        }
        after[at] = Some(depth + i64::from(effect));
        if !unconditional(op.name) && at + 1 < n {
            reach(
                at + 1,
                depth + i64::from(effect),
                &describe,
                &mut before,
                &mut work,
            )?;
        }
    }
    // The maximum and its first cause, in offset order.
    for (i, ins) in instrs.iter().enumerate() {
        if let Some(b) = before[i].filter(|&b| b > max) {
            max = b;
            reason = format!(
                "entry of {} at offset {} (an exception handler or jump target)",
                ins.opname, ins.offset
            );
        }
        if let Some(a) = after[i].filter(|&a| a > max) {
            max = a;
            reason = format!(
                "after {}{} at offset {}{}",
                ins.opname,
                if ins.argrepr.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", ins.argrepr)
                },
                ins.offset,
                ins.line_number
                    .map_or(String::new(), |l| format!(", line {l}"))
            );
        }
    }
    let rows = instrs
        .iter()
        .enumerate()
        .map(|(i, ins)| StackRow {
            offset: ins.offset,
            op: ins.opname.to_string(),
            arg: ins.arg,
            argrepr: ins.argrepr.clone(),
            line: ins.line_number,
            before: before[i],
            after: after[i],
        })
        .collect();
    Ok(StackReport { rows, max, reason })
}

/// The pass's JSON for one code object.
pub(super) fn stack_json(code: &CodeObject, v: PythonVersion) -> Result<Value, ExplainError> {
    let q = code.qualname_or_name().to_string_lossy();
    let r = stack_report(code, v).map_err(|e| ExplainError::Usage(format!("{q}: {e}")))?;
    let rows: Vec<Value> = r
        .rows
        .iter()
        .map(|s| {
            json!({"offset": s.offset, "op": s.op, "arg": s.arg, "argrepr": s.argrepr,
                   "line": s.line, "before": s.before, "after": s.after})
        })
        .collect();
    Ok(
        json!({"qualname": q, "firstlineno": code.firstlineno, "co_stacksize": code.stacksize,
              "max": r.max, "reason": r.reason, "instrs": rows}),
    )
}
