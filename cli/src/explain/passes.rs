//! Each pass as its JSON value (the fields after `schema`, `file`, `target` and `pass`).

use pyc_assembler::{dis, exceptions, lines, CodeObject, PythonVersion};
use pyc_compiler::explain::{code_objects_postorder, SnapBlock, SnapInstr, UnitSnapshot};
use pyc_compiler::symtable::{ScopeKind, SymbolTable};
use serde_json::{json, Value};

use super::{code_objects, select, source_error, ExplainError, Input, Pass};

pub(super) fn build(
    input: &Input,
    pass: Pass,
    function: Option<&str>,
) -> Result<Value, ExplainError> {
    let v = input.target;
    let name = input.filename();
    match pass {
        Pass::Tokens => {
            let tokens = pyc_compiler::explain::tokens(input.source, v)
                .map_err(|d| source_error(&name, d))?;
            let tokens: Vec<Value> = tokens
                .iter()
                .map(|t| {
                    json!({"kind": t.kind, "line": t.line, "col": t.col,
                           "end_line": t.end_line, "end_col": t.end_col, "text": t.text})
                })
                .collect();
            Ok(json!({ "tokens": tokens }))
        }
        Pass::Ast | Pass::Fold => {
            let nodes = pyc_compiler::explain::ast(input.source, v, pass == Pass::Fold)
                .map_err(|d| source_error(&name, d))?;
            let nodes: Vec<Value> = nodes
                .iter()
                .map(|n| {
                    json!({"depth": n.depth, "kind": n.kind, "line": n.line, "col": n.col,
                           "end_line": n.end_line, "end_col": n.end_col,
                           "text": n.text, "folded": n.folded})
                })
                .collect();
            Ok(json!({ "nodes": nodes }))
        }
        Pass::Symtable => {
            let table = pyc_compiler::check(input.source, v).map_err(|d| source_error(&name, d))?;
            Ok(symtable(&table))
        }
        Pass::Codegen | Pass::Cfg => {
            let (code, snaps) = input.compile()?;
            let units = snapshot_units(&code, snaps);
            let units = select(units, function)?;
            let units: Vec<Value> = units
                .into_iter()
                .map(|(_, (c, s))| {
                    let blocks = if pass == Pass::Codegen {
                        Some(&s.codegen)
                    } else {
                        s.cfg.as_ref()
                    };
                    let blocks: Vec<Value> = blocks.into_iter().flatten().map(block).collect();
                    json!({"name": s.name, "qualname": s.qualname,
                           "firstlineno": c.firstlineno, "blocks": blocks})
                })
                .collect();
            Ok(json!({ "units": units }))
        }
        Pass::Stack => {
            let (code, _) = input.compile()?;
            let units = select(named(&code), function)?;
            let mut out = Vec::new();
            for (_, c) in units {
                out.push(super::stack::stack_json(c, v)?);
            }
            Ok(json!({ "units": out }))
        }
        Pass::Lines => {
            let (code, _) = input.compile()?;
            let text = input.text();
            let source_lines: Vec<&str> = text.lines().collect();
            let units = select(named(&code), function)?;
            let mut out = Vec::new();
            for (q, c) in units {
                out.push(lines_json(&q, c, v, &source_lines)?);
            }
            Ok(json!({ "units": out }))
        }
        Pass::Exceptions => {
            let (code, _) = input.compile()?;
            let units = select(named(&code), function)?;
            let mut out = Vec::new();
            for (q, c) in units {
                out.push(exceptions_json(&q, c, v)?);
            }
            Ok(json!({ "units": out }))
        }
        Pass::Marshal => {
            let (code, _) = input.compile()?;
            let header = pyc_assembler::pyc::PycHeader {
                version: v,
                invalidation: pyc_assembler::pyc::Invalidation::UncheckedHash(
                    pyc_assembler::pyc::source_hash(v, input.source),
                ),
            };
            let bytes = pyc_assembler::pyc::write_pyc(&header, &code);
            Ok(super::marshal::annotate(&bytes, v))
        }
    }
}

/// Each code object with its qualified name, depth first in `co_consts` order. Before 3.11
/// code objects have no `co_qualname`: it is derived as CPython derives `__qualname__`.
pub(super) fn named(code: &CodeObject) -> Vec<(String, &CodeObject)> {
    fn walk<'a>(
        c: &'a CodeObject,
        parent: Option<(&str, bool)>,
        out: &mut Vec<(String, &'a CodeObject)>,
    ) {
        let name = c.name.to_string_lossy();
        let q = match (&c.qualname, parent) {
            (Some(q), _) => q.to_string_lossy(),
            (None, None) => name,
            (None, Some(("<module>", _))) => name,
            (None, Some((p, true))) => format!("{p}.<locals>.{name}"),
            (None, Some((p, false))) => format!("{p}.{name}"),
        };
        let function = c.flags & pyc_assembler::code::flags::NEWLOCALS != 0;
        out.push((q.clone(), c));
        for n in c.nested_code() {
            walk(n, Some((&q, function)), out);
        }
    }
    let mut out = Vec::new();
    walk(code, None, &mut out);
    out
}

/// Pairs each snapshot with its code object and orders them as `dis` shows code objects.
fn snapshot_units(
    code: &CodeObject,
    snaps: Vec<UnitSnapshot>,
) -> Vec<(String, (&CodeObject, UnitSnapshot))> {
    let post = code_objects_postorder(code);
    let mut paired: Vec<(&CodeObject, UnitSnapshot)> = post.into_iter().zip(snaps).collect();
    let order = code_objects(code);
    paired.sort_by_key(|(c, _)| {
        order
            .iter()
            .position(|o| std::ptr::eq(*o, *c))
            .unwrap_or(usize::MAX)
    });
    paired
        .into_iter()
        .map(|(c, s)| (s.qualname.clone(), (c, s)))
        .collect()
}

fn loc(i: &SnapInstr) -> Value {
    if i.lineno < 0 {
        Value::Null
    } else {
        json!([i.lineno, i.end_lineno, i.col_offset, i.end_col_offset])
    }
}

fn block(b: &SnapBlock) -> Value {
    let instrs: Vec<Value> = b
        .instrs
        .iter()
        .map(|i| {
            json!({"op": i.op, "arg": i.arg, "argrepr": i.argrepr, "target": i.target,
                   "except": i.except, "pseudo": i.pseudo, "loc": loc(i)})
        })
        .collect();
    json!({"id": b.id, "next": b.next, "startdepth": b.startdepth, "instrs": instrs})
}

fn symtable(table: &SymbolTable) -> Value {
    let v = table.version;
    let scopes: Vec<Value> = table
        .walk()
        .into_iter()
        .map(|(id, depth)| {
            let s = table.scope(id);
            let kind = match (s.kind, s.comprehension) {
                (ScopeKind::Module, _) => "module",
                (ScopeKind::Class, _) => "class",
                (ScopeKind::Function, Some(_)) => "comprehension",
                (ScopeKind::Function, None) if s.name == "lambda" => "lambda",
                (ScopeKind::Function, None) => "function",
                (ScopeKind::TypeParameters, _) => "type parameters",
                (ScopeKind::TypeAlias, _) => "type alias",
                (ScopeKind::TypeVariable, _) => "type variable",
                (ScopeKind::Annotation, _) => "annotation",
            };
            let symbols: Vec<Value> = s
                .symbols
                .iter()
                .map(|(name, sym)| {
                    let facts = sym.facts();
                    json!({"name": name, "scope": format!("{:?}", sym.scope), "facts": facts,
                           "flags": sym.raw(v)})
                })
                .collect();
            json!({"depth": depth, "kind": kind, "name": s.code_name(), "lineno": s.lineno,
                   "parameters": s.varnames, "symbols": symbols,
                   "cells": s.cellvars(v), "free": s.freevars()})
        })
        .collect();
    json!({ "scopes": scopes, "text": pyc_compiler::symtable::explain(table) })
}

/// One instruction as the per-code-object passes list it.
pub(super) fn instr_json(i: &dis::Instruction) -> Value {
    json!({"offset": i.offset, "op": i.opname, "arg": i.arg, "argrepr": i.argrepr,
           "line": i.line_number, "jump_target": i.jump_target})
}

fn pos(p: &lines::Position) -> Value {
    json!([p.lineno, p.end_lineno, p.col, p.end_col])
}

fn lines_json(
    qualname: &str,
    code: &CodeObject,
    v: PythonVersion,
    source: &[&str],
) -> Result<Value, ExplainError> {
    let err = |e: &dyn std::fmt::Display| ExplainError::Usage(format!("{qualname}: {e}"));
    let instrs = dis::instructions(code, v).map_err(|e| err(&e))?;
    let positions = lines::co_positions(code, v).map_err(|e| err(&e))?;
    let mut rows = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for i in &instrs {
        let p = positions
            .get(i.offset as usize / 2)
            .copied()
            .unwrap_or_default();
        if let Some(l) = p.lineno {
            used.insert(l);
        }
        let mut row = instr_json(i);
        row["positions"] = pos(&p);
        rows.push(row);
    }
    let source_lines: Vec<Value> = used
        .into_iter()
        .filter(|&l| l >= 1)
        .map(|l| json!({"line": l, "text": source.get(l as usize - 1).copied().unwrap_or("")}))
        .collect();
    let table: Vec<Value> = lines::co_lines(code, v)
        .map_err(|e| err(&e))?
        .iter()
        .map(|r| json!([r.start, r.end, r.line]))
        .collect();
    Ok(
        json!({"qualname": qualname, "firstlineno": code.firstlineno,
              "linetable_bytes": code.linetable.len(),
              "co_lines": table, "instrs": rows, "source_lines": source_lines}),
    )
}

fn exceptions_json(
    qualname: &str,
    code: &CodeObject,
    v: PythonVersion,
) -> Result<Value, ExplainError> {
    let err = |e: &dyn std::fmt::Display| ExplainError::Usage(format!("{qualname}: {e}"));
    let instrs = dis::instructions(code, v).map_err(|e| err(&e))?;
    let entries = if v.has_exception_table() {
        exceptions::parse_exception_table(&code.exceptiontable).map_err(|e| err(&e))?
    } else {
        Vec::new()
    };
    let op_at = |off: u32| {
        instrs
            .iter()
            .find(|i| i.offset == off)
            .map(|i| i.opname.to_string())
    };
    let last_before = |off: u32| {
        instrs
            .iter()
            .rev()
            .find(|i| i.offset < off)
            .map(|i| i.opname.to_string())
    };
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"start": e.start, "end": e.end, "target": e.target, "depth": e.depth,
                   "lasti": e.lasti, "first_op": op_at(e.start), "last_op": last_before(e.end),
                   "handler_op": op_at(e.target),
                   "handler_depth": e.depth + u32::from(e.lasti) + 1})
        })
        .collect();
    let instrs: Vec<Value> = instrs.iter().map(instr_json).collect();
    Ok(
        json!({"qualname": qualname, "firstlineno": code.firstlineno,
              "table_bytes": code.exceptiontable.len(), "entries": entries, "instrs": instrs}),
    )
}
