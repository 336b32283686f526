//! From code objects to assembly text that assembles back to equal code objects.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use super::args::{
    arg_kind, compare_from_arg, jump_kind, jump_unit, name_flag_words, ArgKind, JumpKind,
};
use super::stackdepth::{folded_tuples, stack_depth, Handler, Ins};
use crate::code::{flags, local_kind, Locals};
use crate::exceptions::parse_exception_table;
use crate::lines::{co_lines, co_positions, Position};
use crate::opcode::Opcode;
use crate::repr::{repr_bytes, repr_complex, repr_float, repr_str};
use crate::version::LineTableFormat;
use crate::{CodeObject, Constant, PyStr, PythonVersion};

/// One decoded instruction.
#[derive(Clone, Copy, Debug)]
struct Decoded {
    op: &'static Opcode,
    arg: u32,
    /// First code unit, prefixes included.
    start: u32,
    /// `EXTENDED_ARG` prefixes.
    prefixes: u32,
    /// The unit after the instruction and its caches.
    end: u32,
    /// The jump target in code units.
    target: Option<u32>,
}

/// Decodes `co_code`; `None` when it holds something the format cannot say (an unknown
/// opcode, a cut-short instruction, non-zero caches).
fn decode(code: &CodeObject, v: PythonVersion) -> Option<Vec<Decoded>> {
    let table = v.opcodes();
    if !code.code.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<(u8, u8)> = code.code.chunks(2).map(|c| (c[0], c[1])).collect();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < units.len() {
        let start = i;
        let mut arg: u64 = 0;
        while units[i].0 == table.extended_arg {
            arg = (arg << 8) | units[i].1 as u64;
            i += 1;
            if i >= units.len() {
                return None;
            }
        }
        let (opnum, low) = units[i];
        arg = (arg << 8) | low as u64;
        let op = table
            .by_number(u16::from(opnum))
            .filter(|o| !o.is_pseudo() && o.name != "CACHE")?;
        let arg = u32::try_from(arg).ok()?;
        let caches = if v.has_inline_caches() {
            op.cache_entries as usize
        } else {
            0
        };
        let end = i + 1 + caches;
        if end > units.len() || units[i + 1..end].iter().any(|&u| u != (0, 0)) {
            return None;
        }
        let kind = arg_kind(v, op);
        let target = (kind == ArgKind::Jump).then(|| {
            let units = arg / (2 / jump_unit(v));
            match jump_kind(v, op) {
                JumpKind::Absolute => Some(units),
                JumpKind::Forward => (end as u32).checked_add(units),
                JumpKind::Backward => (end as u32).checked_sub(units),
            }
        });
        let target = target.flatten().filter(|_| arg % (2 / jump_unit(v)) == 0);
        out.push(Decoded {
            op,
            arg,
            start: start as u32,
            prefixes: (i - start) as u32,
            end: end as u32,
            target,
        });
        i = end;
    }
    Some(out)
}

/// The stack depth the assembler computes for `code`.
pub fn computed_stacksize(code: &CodeObject, v: PythonVersion) -> Result<u32, String> {
    let ins = decode(code, v).ok_or("the code cannot be decoded")?;
    walk_depth(code, v, &ins)
}

fn walk_depth(code: &CodeObject, v: PythonVersion, ins: &[Decoded]) -> Result<u32, String> {
    let index: HashMap<u32, usize> = ins.iter().enumerate().map(|(i, d)| (d.start, i)).collect();
    let at = |unit: u32| index.get(&unit).copied();
    let mut walk: Vec<Ins> = ins
        .iter()
        .map(|d| Ins {
            op: d.op,
            arg: d.arg,
            target: d.target.and_then(at),
            folded: None,
        })
        .collect();
    if v.folds_tuples_after_stack_depth() {
        let loads: Vec<usize> = (0..ins.len())
            .filter(|&i| ins[i].op.name == "LOAD_CONST")
            .collect();
        let args: Vec<u32> = loads.iter().map(|&i| ins[i].arg).collect();
        for (k, n) in folded_tuples(&code.consts, &args) {
            walk[loads[k]].folded = Some(n);
        }
    }
    let mut handlers = Vec::new();
    if v.has_exception_table() {
        let entries = parse_exception_table(&code.exceptiontable).map_err(|e| e.to_string())?;
        let total = ins.last().map_or(0, |d| d.end);
        for e in entries {
            let idx = |u: u32| if u == total { Some(ins.len()) } else { at(u) };
            let (Some(start), Some(end), Some(target)) =
                (idx(e.start / 2), idx(e.end / 2), at(e.target / 2))
            else {
                return Err("exception table entry off instruction boundaries".into());
            };
            handlers.push(Handler {
                start,
                end,
                target,
                depth: e.depth,
                lasti: e.lasti,
            });
        }
    }
    stack_depth(v, code.flags, &walk, &handlers).map_err(|e| e.message)
}

/// Prints the module code object and everything nested in it.
pub fn print(code: &CodeObject, v: PythonVersion) -> String {
    let head = format!(".version {v}\n");
    let ctx = Ctx {
        v,
        top: true,
        parent_qualname: None,
        parent_top: false,
        parent_is_function: false,
        nested: false,
        filename: None,
    };
    let render = |explicit: Explicit| {
        let mut text = head.clone();
        block(code, &ctx, None, 0, explicit, &mut text);
        text
    };
    // Verify; where a code object does not come back equal, say more about it.
    let mut levels: HashMap<Vec<usize>, u8> = HashMap::new();
    let mut text = render(Explicit::default());
    for _ in 0..=LEVELS {
        let mut failing = Vec::new();
        match super::parse_and_assemble(&text, None) {
            Ok((_, back)) => compare(code, &back, &mut Vec::new(), &mut failing),
            Err(_) => break,
        }
        if failing.is_empty() {
            return text;
        }
        for p in failing {
            let level = levels.entry(p).or_insert(0);
            *level = (*level + 1).min(LEVELS);
        }
        text = render(Explicit {
            levels: levels.clone(),
            all: false,
            path: Vec::new(),
        });
    }
    match super::parse_and_assemble(&text, None) {
        Ok(_) => text,
        Err(_) => render(Explicit {
            levels: HashMap::new(),
            all: true,
            path: Vec::new(),
        }),
    }
}

/// How many times the printer says more about a code object that did not come back equal:
/// first every `EXTENDED_ARG`, then every table as bytes.
const LEVELS: u8 = 2;

/// Compares code objects field by field, collecting the paths (nested const indices) of those
/// that differ.
fn compare(a: &CodeObject, b: &CodeObject, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let same_consts = a.consts.len() == b.consts.len()
        && a.consts.iter().zip(&b.consts).all(|(x, y)| match (x, y) {
            (Constant::Code(_), Constant::Code(_)) => true,
            _ => x == y,
        });
    let same = same_consts
        && a.argcount == b.argcount
        && a.posonlyargcount == b.posonlyargcount
        && a.kwonlyargcount == b.kwonlyargcount
        && a.stacksize == b.stacksize
        && a.flags == b.flags
        && a.code == b.code
        && a.names == b.names
        && a.locals == b.locals
        && a.filename == b.filename
        && a.name == b.name
        && a.qualname == b.qualname
        && a.firstlineno == b.firstlineno
        && a.linetable == b.linetable
        && a.exceptiontable == b.exceptiontable;
    if !same {
        out.push(path.clone());
    }
    if a.consts.len() == b.consts.len() {
        for (i, (x, y)) in a.consts.iter().zip(&b.consts).enumerate() {
            if let (Constant::Code(x), Constant::Code(y)) = (x, y) {
                path.push(i);
                compare(x, y, path, out);
                path.pop();
            }
        }
    }
}

/// How much to spell out, per code object (by path of const indices): level 1 writes every
/// `EXTENDED_ARG`, level 2 also every table as bytes.
#[derive(Clone, Default)]
struct Explicit {
    levels: HashMap<Vec<usize>, u8>,
    all: bool,
    path: Vec<usize>,
}

impl Explicit {
    fn level(&self) -> u8 {
        if self.all {
            2
        } else {
            self.levels.get(&self.path).copied().unwrap_or(0)
        }
    }

    fn here(&self) -> bool {
        self.level() >= 2
    }
}

struct Ctx<'a> {
    v: PythonVersion,
    top: bool,
    parent_qualname: Option<&'a PyStr>,
    parent_top: bool,
    parent_is_function: bool,
    nested: bool,
    filename: Option<&'a PyStr>,
}

fn is_word(s: &str) -> bool {
    let mut parts = s.split('.');
    parts.all(|p| {
        let mut c = p.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
    })
}

fn is_angle(s: &str) -> bool {
    s.len() > 2
        && s.starts_with('<')
        && s.ends_with('>')
        && is_word(&s[1..s.len() - 1])
        && !s[1..s.len() - 1].contains('.')
}

/// A name as the lexer reads it back: bare when it is a word, quoted otherwise.
fn name_text(n: &PyStr, v: PythonVersion) -> String {
    match n.as_str() {
        Some(s) if is_word(s) || is_angle(s) => s.to_string(),
        _ => repr_str(n, v),
    }
}

fn float_text(f: f64) -> String {
    if f.is_nan() && f.is_sign_negative() {
        "-nan".into()
    } else {
        repr_float(f)
    }
}

/// A constant as the parser reads it; code objects by their labels.
fn const_text(
    c: &Constant,
    v: PythonVersion,
    labels: &dyn Fn(&CodeObject) -> Option<String>,
) -> String {
    match c {
        Constant::None => "None".into(),
        Constant::StopIteration => "StopIteration".into(),
        Constant::Ellipsis => "Ellipsis".into(),
        Constant::Bool(b) => if *b { "True" } else { "False" }.into(),
        Constant::Int(i) => i.to_string(),
        Constant::Float(f) => float_text(*f),
        Constant::Complex { re, im } => {
            if re.is_nan() || im.is_nan() {
                // repr() loses NaN signs; spell them out.
                let sign = if im.is_sign_negative() { "-" } else { "+" };
                let im = float_text(im.abs());
                format!("({}{sign}{}j)", float_text(*re), im.trim_start_matches('-'))
            } else {
                repr_complex(*re, *im)
            }
        }
        Constant::Str(s) => repr_str(s, v),
        Constant::Bytes(b) => repr_bytes(b),
        Constant::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(|i| const_text(i, v, labels)).collect();
            if inner.len() == 1 {
                format!("({},)", inner[0])
            } else {
                format!("({})", inner.join(", "))
            }
        }
        Constant::FrozenSet(items) if items.is_empty() => "frozenset()".into(),
        Constant::FrozenSet(items) => {
            let inner: Vec<String> = items.iter().map(|i| const_text(i, v, labels)).collect();
            format!("frozenset({{{}}})", inner.join(", "))
        }
        Constant::Slice(parts) => {
            let inner: Vec<String> = parts.iter().map(|i| const_text(i, v, labels)).collect();
            format!("slice({})", inner.join(", "))
        }
        Constant::Code(code) => format!("code {}", labels(code).unwrap_or_else(|| "?".into())),
    }
}

fn pos_text(p: &Position) -> String {
    let Some(l) = p.lineno else {
        return "none".into();
    };
    let mut s = l.to_string();
    if p.col.is_none() && p.end_col.is_none() && p.end_lineno == Some(l) {
        return s;
    }
    if let Some(c) = p.col {
        let _ = write!(s, ":{c}");
    }
    if let Some(el) = p.end_lineno {
        let _ = write!(s, "-{el}");
        if let Some(ec) = p.end_col {
            let _ = write!(s, ":{ec}");
        }
    }
    s
}

fn signature(code: &CodeObject, varnames: &[PyStr], v: PythonVersion) -> Option<String> {
    let (a, p, k) = (
        code.argcount as usize,
        code.posonlyargcount as usize,
        code.kwonlyargcount as usize,
    );
    let va = code.flags & flags::VARARGS != 0;
    let vk = code.flags & flags::VARKEYWORDS != 0;
    let n = a + k + va as usize + vk as usize;
    if n == 0 || varnames.len() < n || p > a {
        return None;
    }
    let name = |i: usize| name_text(&varnames[i], v);
    let mut parts: Vec<String> = (0..a).map(name).collect();
    if p > 0 {
        parts.insert(p, "/".into());
    }
    if va {
        parts.push(format!("*{}", name(a + k)));
    } else if k > 0 {
        parts.push("*".into());
    }
    parts.extend((a..a + k).map(name));
    if vk {
        parts.push(format!("**{}", name(a + k + va as usize)));
    }
    Some(parts.join(", "))
}

/// The variables as the format declares them: all of co_varnames, cells, frees, hidden.
fn variables(code: &CodeObject) -> (Vec<PyStr>, Vec<PyStr>, Vec<PyStr>, Vec<PyStr>) {
    match &code.locals {
        Locals::Split {
            varnames,
            cellvars,
            freevars,
            ..
        } => (
            varnames.clone(),
            cellvars.clone(),
            freevars.clone(),
            Vec::new(),
        ),
        Locals::Plus(l) => {
            let pick = |k: u8| {
                l.iter()
                    .filter(|x| x.kind & k != 0)
                    .map(|x| x.name.clone())
                    .collect::<Vec<_>>()
            };
            (
                pick(local_kind::LOCAL),
                pick(local_kind::CELL),
                pick(local_kind::FREE),
                pick(local_kind::HIDDEN),
            )
        }
    }
}

fn block(
    code: &CodeObject,
    ctx: &Ctx,
    label: Option<&str>,
    depth: usize,
    explicit: Explicit,
    out: &mut String,
) {
    let v = ctx.v;
    let all = explicit.here();
    let ind = "    ".repeat(depth);
    let insn_ind = format!("{ind}    ");
    if let Some(l) = label {
        let _ = writeln!(out, "{ind}.code {l}");
    }
    // Nested code objects get labels unique among their siblings.
    let mut labels: Vec<(usize, String)> = Vec::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    for (i, c) in code.consts.iter().enumerate() {
        if let Constant::Code(child) = c {
            let base = name_text(&child.name, v);
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let label = if *n == 1 {
                base
            } else {
                format!("{}_{}", base.trim_matches('\''), n)
            };
            let label = if is_word(&label)
                || is_angle(&label)
                || label.starts_with('\'')
                || label.starts_with('"')
            {
                label
            } else {
                repr_str(&PyStr::from(label.as_str()), v)
            };
            labels.push((i, label));
        }
    }
    let label_of = |c: &CodeObject| -> Option<String> {
        labels
            .iter()
            .find(|(i, _)| matches!(&code.consts[*i], Constant::Code(x) if std::ptr::eq(&**x, c)))
            .map(|(_, l)| l.clone())
    };
    let decoded = decode(code, v);
    let function = code.flags & flags::OPTIMIZED != 0;

    // Header.
    let default_name = label.map_or_else(|| "<module>".to_string(), |l| l.to_string());
    if name_text(&code.name, v) != default_name || all {
        let _ = writeln!(out, "{insn_ind}.name {}", name_text(&code.name, v));
    }
    let qual = default_qualname(ctx, &code.name);
    if let Some(q) = &code.qualname {
        if *q != qual || all {
            let _ = writeln!(out, "{insn_ind}.qualname {}", name_text(q, v));
        }
    }
    if ctx.filename != Some(&code.filename) || all {
        let _ = writeln!(out, "{insn_ind}.filename {}", repr_str(&code.filename, v));
    }
    let (varnames, cellvars, freevars, hidden) = variables(code);
    let sig = signature(code, &varnames, v);
    let nargs = code.argcount
        + code.kwonlyargcount
        + (code.flags & flags::VARARGS != 0) as u32
        + (code.flags & flags::VARKEYWORDS != 0) as u32;
    if let Some(s) = &sig {
        let _ = writeln!(out, "{insn_ind}.args {s}");
    }
    let rest = if sig.is_some() {
        &varnames[nargs as usize..]
    } else {
        &varnames[..]
    };
    let exact = match &code.locals {
        Locals::Plus(entries) => {
            let standard: Vec<(PyStr, u8)> = varnames
                .iter()
                .chain(cellvars.iter().filter(|c| !varnames.contains(c)))
                .chain(freevars.iter())
                .map(|n| {
                    let mut k = 0;
                    for (list, bit) in [
                        (&varnames, local_kind::LOCAL),
                        (&cellvars, local_kind::CELL),
                        (&freevars, local_kind::FREE),
                        (&hidden, local_kind::HIDDEN),
                    ] {
                        if list.contains(n) {
                            k |= bit;
                        }
                    }
                    (n.clone(), k)
                })
                .collect();
            let actual: Vec<(PyStr, u8)> =
                entries.iter().map(|e| (e.name.clone(), e.kind)).collect();
            (standard != actual).then_some(actual)
        }
        Locals::Split { .. } => None,
    };
    if let Some(entries) = &exact {
        let list: Vec<String> = entries
            .iter()
            .map(|(n, k)| format!("{} {k:#04x}", name_text(n, v)))
            .collect();
        let _ = writeln!(out, "{insn_ind}.localsplus {}", list.join(" "));
    }
    let (rest, cellvars, freevars, hidden) = if exact.is_some() {
        (
            &varnames[varnames.len()..],
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
    } else {
        (rest, cellvars, freevars, hidden)
    };
    if !rest.is_empty() {
        let _ = writeln!(
            out,
            "{insn_ind}.locals {}",
            rest.iter()
                .map(|n| name_text(n, v))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if !cellvars.is_empty() {
        let _ = writeln!(
            out,
            "{insn_ind}.cellvars {}",
            cellvars
                .iter()
                .map(|n| name_text(n, v))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if !freevars.is_empty() {
        let _ = writeln!(
            out,
            "{insn_ind}.freevars {}",
            freevars
                .iter()
                .map(|n| name_text(n, v))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if !hidden.is_empty() {
        let _ = writeln!(
            out,
            "{insn_ind}.hidden {}",
            hidden
                .iter()
                .map(|n| name_text(n, v))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let default_flags = printer_default_flags(
        code,
        ctx,
        decoded.as_deref(),
        !cellvars.is_empty() || !freevars.is_empty(),
    );
    if code.flags != default_flags || all {
        let _ = writeln!(out, "{insn_ind}.flags {}", flags_text(code.flags, v));
    }

    let Some(ins) = decoded else {
        // Not decodable: nothing symbolic to say. Raw bytes would need a directive the
        // format does not have; print what we can as a comment.
        let _ = writeln!(
            out,
            "{insn_ind}# co_code cannot be decoded for {v}: {}",
            repr_bytes(&code.code)
        );
        if label.is_some() {
            let _ = writeln!(out, "{ind}.end");
        }
        return;
    };

    // Constants: by first use, after the docstring slot, unless the table is in another order.
    let const_uses: Vec<u32> = ins
        .iter()
        .filter(|d| arg_kind(v, d.op) == ArgKind::Const)
        .map(|d| d.arg)
        .collect();
    let text_of = |c: &Constant| const_text(c, v, &label_of);
    let keys: Vec<String> = code.consts.iter().map(&text_of).collect();
    let in_first_use = |doc: bool| -> bool {
        let mut table: Vec<&str> = Vec::new();
        if doc {
            match keys.first() {
                Some(k) => table.push(k),
                None => return false,
            }
        }
        for &u in &const_uses {
            let Some(k) = keys.get(u as usize) else {
                return false;
            };
            if !table.contains(&k.as_str()) {
                table.push(k);
            }
        }
        table.len() == keys.len() && table.iter().zip(&keys).all(|(a, b)| *a == b)
    };
    let docstring = !in_first_use(false) && function && in_first_use(true);
    let explicit_consts = all || (!in_first_use(false) && !docstring);
    if docstring && !explicit_consts {
        let _ = writeln!(out, "{insn_ind}.docstring {}", keys[0]);
    }
    if explicit_consts {
        for k in &keys {
            let _ = writeln!(out, "{insn_ind}.const {k}");
        }
    }
    // Names.
    let name_uses: Vec<u32> = ins
        .iter()
        .filter_map(|d| match arg_kind(v, d.op) {
            ArgKind::Name { shift } => Some(d.arg >> shift),
            _ => None,
        })
        .collect();
    let mut first_use: Vec<u32> = Vec::new();
    for u in &name_uses {
        if !first_use.contains(u) {
            first_use.push(*u);
        }
    }
    let names_in_order = first_use.len() == code.names.len()
        && first_use.iter().enumerate().all(|(i, &u)| u as usize == i)
        && code
            .names
            .iter()
            .enumerate()
            .all(|(i, n)| code.names.iter().position(|m| m == n) == Some(i));
    if !names_in_order || all {
        for chunk in code.names.chunks(8) {
            let _ = writeln!(
                out,
                "{insn_ind}.names {}",
                chunk
                    .iter()
                    .map(|n| name_text(n, v))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }

    // Stack size and tables.
    let depth_ok = walk_depth(code, v, &ins).is_ok_and(|d| d == code.stacksize);
    if !depth_ok || all {
        let _ = writeln!(out, "{insn_ind}.stacksize {}", code.stacksize);
    }
    let firstline_event = first_line(code, v, &ins);
    if firstline_event != Some(code.firstlineno) || all {
        let _ = writeln!(out, "{insn_ind}.firstlineno {}", code.firstlineno);
    }
    if all {
        let _ = writeln!(out, "{insn_ind}.linetable {}", repr_bytes(&code.linetable));
        if v.has_exception_table() {
            let _ = writeln!(
                out,
                "{insn_ind}.exceptiontable {}",
                repr_bytes(&code.exceptiontable)
            );
        }
    }

    // Labels: jump targets and exception table offsets.
    let total = ins.last().map_or(0, |d| d.end);
    let starts: HashMap<u32, usize> = ins.iter().enumerate().map(|(i, d)| (d.start, i)).collect();
    let mut label_at: BTreeMap<u32, String> = BTreeMap::new();
    for d in &ins {
        if let Some(t) = d.target.filter(|t| starts.contains_key(t)) {
            label_at.insert(t, String::new());
        }
    }
    let entries = if v.has_exception_table() {
        parse_exception_table(&code.exceptiontable).ok()
    } else {
        None
    };
    let entries_ok = entries.as_ref().is_some_and(|es| {
        es.iter().all(|e| {
            let ok =
                |u: u32| u.is_multiple_of(2) && (starts.contains_key(&(u / 2)) || u / 2 == total);
            ok(e.start) && ok(e.end) && e.target % 2 == 0 && starts.contains_key(&(e.target / 2))
        })
    });
    if let Some(es) = entries.as_ref().filter(|_| entries_ok && !all) {
        for e in es {
            for u in [e.start / 2, e.end / 2, e.target / 2] {
                label_at.insert(u, String::new());
            }
        }
    } else if v.has_exception_table() && !all && !code.exceptiontable.is_empty() {
        let _ = writeln!(
            out,
            "{insn_ind}.exceptiontable {}",
            repr_bytes(&code.exceptiontable)
        );
    }
    for (n, l) in label_at.values_mut().enumerate() {
        *l = format!("L{}", n + 1);
    }

    // Positions, as `.line` items before instructions (by instruction index and prefix).
    let positions = if all {
        Some(Vec::new())
    } else {
        line_items(code, v, &ins)
    };
    if positions.is_none() {
        let _ = writeln!(out, "{insn_ind}.linetable {}", repr_bytes(&code.linetable));
    }
    let positions = positions.unwrap_or_default();

    // Instructions.
    let mut pi = 0;
    for (i, d) in ins.iter().enumerate() {
        let here: Vec<&(usize, u32, Position)> = {
            let from = pi;
            while pi < positions.len() && positions[pi].0 == i {
                pi += 1;
            }
            positions[from..pi].iter().collect()
        };
        if let Some(l) = label_at.get(&d.start) {
            let _ = writeln!(out, "{ind}{l}:");
        }
        let minimal = units_for(d.arg) - 1;
        let inner = here.iter().any(|(_, k, _)| *k > 0);
        let explicit_prefixes =
            d.prefixes != minimal || inner || (explicit.level() >= 1 && d.prefixes > 0);
        for (_, _, p) in here.iter().filter(|(_, k, _)| *k == 0) {
            let _ = writeln!(out, "{ind}  .line {}", pos_text(p));
        }
        if explicit_prefixes {
            for k in 0..d.prefixes {
                let _ = writeln!(out, "{insn_ind}EXTENDED_ARG");
                for (_, _, p) in here.iter().filter(|(_, kk, _)| *kk == k + 1) {
                    let _ = writeln!(out, "{ind}  .line {}", pos_text(p));
                }
            }
        }
        let operand = operand_text(
            code,
            v,
            d,
            &label_at,
            &keys,
            explicit_consts || docstring,
            &text_of,
        );
        if operand.is_empty() {
            let _ = writeln!(out, "{insn_ind}{}", d.op.name);
        } else {
            let _ = writeln!(out, "{insn_ind}{} {operand}", d.op.name);
        }
    }
    for (_, _, p) in positions[pi..].iter() {
        let _ = writeln!(out, "{ind}  .line {}", pos_text(p));
    }
    if let Some(l) = label_at.get(&total) {
        let _ = writeln!(out, "{ind}{l}:");
    }
    if let Some(es) = entries.as_ref().filter(|_| entries_ok && !all) {
        for e in es {
            let l = |u: u32| label_at.get(&(u / 2)).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "{insn_ind}.exception {} to {} -> {} depth {}{}",
                l(e.start),
                l(e.end),
                l(e.target),
                e.depth,
                if e.lasti { " lasti" } else { "" }
            );
        }
    }

    // Nested code objects.
    let qualname = code.qualname.clone().unwrap_or_else(|| qual.clone());
    let child_ctx = Ctx {
        v,
        top: false,
        parent_qualname: Some(&qualname),
        parent_top: ctx.top,
        parent_is_function: function,
        nested: ctx.nested || function,
        filename: Some(&code.filename),
    };
    for (i, l) in &labels {
        if let Constant::Code(child) = &code.consts[*i] {
            out.push('\n');
            let mut e = explicit.clone();
            e.path.push(*i);
            block(child, &child_ctx, Some(l), depth + 1, e, out);
        }
    }
    if label.is_some() {
        let _ = writeln!(out, "{ind}.end");
    }
}

fn units_for(arg: u32) -> u32 {
    match arg {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xff_ffff => 3,
        _ => 4,
    }
}

fn default_qualname(ctx: &Ctx, name: &PyStr) -> PyStr {
    match ctx.parent_qualname {
        Some(p) if !ctx.parent_top => {
            let sep = if ctx.parent_is_function {
                ".<locals>."
            } else {
                "."
            };
            let mut points: Vec<u32> = p.code_points().collect();
            points.extend(sep.chars().map(|c| c as u32));
            points.extend(name.code_points());
            PyStr::from_code_points(points)
        }
        _ => name.clone(),
    }
}

fn printer_default_flags(
    code: &CodeObject,
    ctx: &Ctx,
    ins: Option<&[Decoded]>,
    has_cells: bool,
) -> u32 {
    let ins = ins.unwrap_or(&[]);
    let has = |names: &[&str]| ins.iter().any(|d| names.contains(&d.op.name));
    let function = !ctx.top && !has(&["LOAD_NAME", "STORE_NAME", "DELETE_NAME"]);
    let mut f = 0;
    if function {
        f |= flags::OPTIMIZED | flags::NEWLOCALS;
        if ctx.nested {
            f |= flags::NESTED;
        }
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
    if signature_printed(code) {
        f |= code.flags & (flags::VARARGS | flags::VARKEYWORDS);
    }
    if ctx.v.has_nofree_flag() && !has_cells {
        f |= flags::NOFREE;
    }
    f
}

fn signature_printed(code: &CodeObject) -> bool {
    code.argcount + code.kwonlyargcount > 0
        || code.flags & (flags::VARARGS | flags::VARKEYWORDS) != 0
}

fn flags_text(f: u32, v: PythonVersion) -> String {
    let mut parts = Vec::new();
    let mut rest = f;
    for &(bit, name) in v.opcodes().compiler_flag_names {
        if f & bit != 0 && rest & bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if v.has_nofree_flag() && rest & flags::NOFREE != 0 {
        parts.push("NOFREE".into());
        rest &= !flags::NOFREE;
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join(" ")
}

/// The line of the first `.line` the printer writes (the default `co_firstlineno`).
fn first_line(code: &CodeObject, v: PythonVersion, ins: &[Decoded]) -> Option<u32> {
    line_items(code, v, ins).and_then(|items| items.iter().find_map(|(_, _, p)| p.lineno))
}

/// Where to write `.line` directives: (instruction index, prefix index (0 = before the
/// instruction), position). `None` when the table cannot be said with them.
fn line_items(
    code: &CodeObject,
    v: PythonVersion,
    ins: &[Decoded],
) -> Option<Vec<(usize, u32, Position)>> {
    let line = |l: u32| Position {
        lineno: Some(l),
        end_lineno: Some(l),
        col: None,
        end_col: None,
    };
    match v.line_table_format() {
        LineTableFormat::Lnotab => {
            let t = &code.linetable;
            if !t.len().is_multiple_of(2) {
                return None;
            }
            let pairs: Vec<(u32, i32)> = t
                .chunks(2)
                .map(|p| (p[0] as u32, p[1] as i8 as i32))
                .collect();
            let mut events: Vec<(u32, i64)> = Vec::new();
            let (mut addr, mut l) = (0u32, code.firstlineno as i64);
            for (k, &(b, d)) in pairs.iter().enumerate() {
                addr += b;
                l += d as i64;
                let next = pairs.get(k + 1);
                let continued = next
                    .is_some_and(|n| (b == 255 && d == 0) || ((d == 127 || d == -128) && n.0 == 0));
                if !continued {
                    if addr % 2 != 0 || l < 0 || l > u32::MAX as i64 {
                        return None;
                    }
                    events.push((addr / 2, l));
                }
            }
            let mut out = Vec::new();
            let first_at_zero = events.first().is_some_and(|e| e.0 == 0);
            if !first_at_zero || events[0].1 == code.firstlineno as i64 {
                out.push((0, 0, line(code.firstlineno)));
            }
            let total = ins.last().map_or(0, |d| d.end);
            for (u, l) in events {
                let p = line(l as u32);
                if u == total {
                    out.push((ins.len(), 0, p));
                    continue;
                }
                let i = ins
                    .iter()
                    .position(|d| d.start <= u && u < d.start + d.prefixes + 1)?;
                out.push((i, u - ins[i].start, p));
            }
            Some(out)
        }
        LineTableFormat::Linetable310 => {
            let ranges = co_lines(code, v).ok()?;
            let mut out = Vec::new();
            let mut last: Option<Option<u32>> = None;
            for (i, d) in ins.iter().enumerate() {
                let b = d.start * 2;
                let l = ranges
                    .iter()
                    .find(|r| r.start <= b && b < r.end)
                    .map(|r| r.line)
                    .unwrap_or(None);
                if last != Some(l) && !(last.is_none() && l.is_none()) {
                    out.push((i, 0, l.map_or(Position::default(), line)));
                }
                last = Some(l);
            }
            Some(out)
        }
        LineTableFormat::Locations => {
            let units = co_positions(code, v).ok()?;
            let mut out = Vec::new();
            let mut last = Position::default();
            for (i, d) in ins.iter().enumerate() {
                let p = units.get(d.start as usize).copied().unwrap_or_default();
                if p != last {
                    out.push((i, 0, p));
                }
                last = p;
            }
            Some(out)
        }
    }
}

fn operand_text(
    code: &CodeObject,
    v: PythonVersion,
    d: &Decoded,
    labels: &BTreeMap<u32, String>,
    keys: &[String],
    explicit_consts: bool,
    text_of: &dyn Fn(&Constant) -> String,
) -> String {
    let raw = || format!("@{}", d.arg);
    let kind = arg_kind(v, d.op);
    let plus_names = || -> Vec<PyStr> {
        match &code.locals {
            Locals::Plus(l) => l.iter().map(|x| x.name.clone()).collect(),
            Locals::Split { varnames, .. } => varnames.clone(),
        }
    };
    let local = |i: u32| -> Option<String> {
        let names = plus_names();
        let n = names.get(i as usize)?;
        // The assembler resolves a name to its first occurrence.
        (names.iter().position(|x| x == n) == Some(i as usize)).then(|| name_text(n, v))
    };
    match kind {
        ArgKind::None if d.arg == 0 => String::new(),
        ArgKind::None => raw(),
        ArgKind::Int => d.arg.to_string(),
        ArgKind::Const => match code.consts.get(d.arg as usize) {
            Some(c) => {
                let k = &keys[d.arg as usize];
                if explicit_consts && keys.iter().position(|x| x == k) != Some(d.arg as usize) {
                    format!("{}  # {}", raw(), text_of(c))
                } else {
                    k.clone()
                }
            }
            None => raw(),
        },
        ArgKind::Name { shift } => {
            let i = d.arg >> shift;
            let Some(n) = code.names.get(i as usize) else {
                return raw();
            };
            if code.names.iter().position(|x| x == n) != Some(i as usize) {
                return raw();
            }
            let words = name_flag_words(v, d.op);
            let bits = d.arg & ((1 << shift) - 1);
            let mut s = String::new();
            for (b, w) in words.iter().enumerate() {
                if bits & (1 << b) != 0 {
                    let _ = write!(s, "{w} + ");
                }
            }
            if bits >> words.len() != 0 {
                return raw();
            }
            s.push_str(&name_text(n, v));
            s
        }
        ArgKind::Local => local(d.arg).unwrap_or_else(raw),
        ArgKind::LocalPair => match (local(d.arg >> 4), local(d.arg & 15)) {
            (Some(a), Some(b)) if d.arg < 256 => format!("{a} {b}"),
            _ => raw(),
        },
        ArgKind::Free => {
            let name = match &code.locals {
                Locals::Plus(_) => local(d.arg),
                Locals::Split {
                    cellvars, freevars, ..
                } => {
                    let all: Vec<&PyStr> = cellvars.iter().chain(freevars).collect();
                    all.get(d.arg as usize)
                        .filter(|n| all.iter().position(|x| x == *n) == Some(d.arg as usize))
                        .map(|n| name_text(n, v))
                }
            };
            name.unwrap_or_else(raw)
        }
        ArgKind::Jump => d
            .target
            .and_then(|t| labels.get(&t))
            .cloned()
            .unwrap_or_else(raw),
        ArgKind::Compare => match compare_from_arg(v, d.arg) {
            Some((i, b)) => {
                let s = v.opcodes().cmp_op[i as usize];
                if b {
                    format!("bool({s})")
                } else {
                    s.to_string()
                }
            }
            None => raw(),
        },
        ArgKind::BinaryOp => v
            .opcodes()
            .nb_ops
            .get(d.arg as usize)
            // 3.14's subscript, `[]`, is no operator token: it goes by its name, NB_SUBSCR.
            .map_or_else(raw, |(n, s)| {
                if s.chars().all(|c| "+-*/%@&|^<>=".contains(c)) {
                    s.to_string()
                } else {
                    n.to_string()
                }
            }),
        ArgKind::Intrinsic1 => v
            .opcodes()
            .intrinsic1
            .get(d.arg as usize)
            .map_or_else(raw, |s| s.to_string()),
        ArgKind::Intrinsic2 => v
            .opcodes()
            .intrinsic2
            .get(d.arg as usize)
            .map_or_else(raw, |s| s.to_string()),
    }
}
