//! Listings in the format of each version's own `dis` module.
//!
//! [`instructions`] decodes a code object as that version's `dis.get_instructions` does
//! (`EXTENDED_ARG` folding, hidden inline `CACHE` units, arguments resolved to constants,
//! names, jump targets and operator names); [`disassemble`] and [`dis_module`] print what
//! `dis.disassemble(code)` and `dis.dis(code)` print; [`code_info`] is `dis.code_info`.
//! Object addresses print as [`crate::repr::ADDRESS`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::code::{CodeObject, Locals, PyStr};
use crate::exceptions::{parse_exception_table, ExceptionEntry};
use crate::lines::line_starts;
use crate::opcode::{Opcode, OpcodeTable};
use crate::repr::{repr_code, repr_with, SetOrder};
use crate::version::{LocalsLayout, PythonVersion};

/// Why a code object cannot be listed: where `dis` itself would raise (an index out of
/// range, a malformed table), or an argument too large to represent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisError {
    /// Byte offset of the instruction in `co_code`, when one is to blame.
    pub offset: Option<u32>,
    pub message: String,
}

impl DisError {
    fn at(offset: u32, message: impl Into<String>) -> DisError {
        DisError {
            offset: Some(offset),
            message: message.into(),
        }
    }
}

impl fmt::Display for DisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} (instruction at byte {o})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DisError {}

/// What an instruction's argument stands for (`Instruction.argval`).
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    /// The instruction takes no argument.
    None,
    /// The argument itself.
    Int(i64),
    /// A constant, by index into `co_consts`.
    Const(usize),
    /// A constant `dis` does not look up (3.11 shows only `LOAD_CONST` constants).
    Unknown,
    /// A name from `co_names` or a variable name.
    Name(PyStr),
    /// Two variable names (3.13 `LOAD_FAST_LOAD_FAST` and kin).
    Names(PyStr, PyStr),
    /// A jump target, as a byte offset.
    Jump(i64),
    /// A comparison from `cmp_op`.
    Compare(&'static str),
    /// A conversion (`""`, `"str"`, `"repr"`, `"ascii"`) and whether a format spec follows.
    Format(&'static str, bool),
}

/// One instruction as `dis` shows it (`dis.Instruction`).
#[derive(Clone, Debug, PartialEq)]
pub struct Instruction {
    /// Byte offset in `co_code`.
    pub offset: u32,
    /// Offset of the first `EXTENDED_ARG` in front of it, or `offset`.
    pub start_offset: u32,
    /// The opcode byte.
    pub opcode: u8,
    /// The opcode's name, or `<N>` for a number the version does not define.
    pub opname: Cow<'static, str>,
    /// The argument with its `EXTENDED_ARG` prefixes folded in.
    pub arg: Option<i64>,
    pub argval: ArgValue,
    /// The text `dis` prints in parentheses after the argument (may be empty).
    pub argrepr: String,
    /// Where the instruction jumps to, for jumps (byte offset).
    pub jump_target: Option<i64>,
    /// Marked `>>` by `dis` (3.13: has a label).
    pub is_jump_target: bool,
    /// The 3.13 label number (`L1`, `L2`, ...), 3.13 only.
    pub label: Option<u32>,
    /// A new source line starts here.
    pub starts_line: bool,
    /// The line of the last line start at or before this instruction.
    pub line_number: Option<u32>,
    /// The inline `CACHE` code units that follow (hidden from the listing).
    pub cache_entries: u8,
}

/// The instructions of `code` as `dis.get_instructions(code)` of version `v` gives them.
pub fn instructions(code: &CodeObject, v: PythonVersion) -> Result<Vec<Instruction>, DisError> {
    Ok(Listing::new(code, v, SetOrder::default())?.instrs)
}

/// What `dis.disassemble(code)` prints (no nested code objects).
pub fn disassemble(code: &CodeObject, v: PythonVersion) -> Result<String, DisError> {
    let mut out = String::new();
    Listing::new(code, v, SetOrder::default())?.print(&mut out);
    Ok(out)
}

/// What `dis.dis(code)` prints for a module's code object read from a pyc: its listing,
/// then that of every code object among its constants (recursively), each after a
/// `Disassembly of` header. Frozensets are listed in the [`SetOrder::default`] order.
pub fn dis_module(code: &CodeObject, v: PythonVersion) -> Result<String, DisError> {
    dis_module_with(code, v, SetOrder::default())
}

/// [`dis_module`] with frozensets listed in the given order.
pub fn dis_module_with(
    code: &CodeObject,
    v: PythonVersion,
    order: SetOrder,
) -> Result<String, DisError> {
    let mut out = String::new();
    dis_recursive(code, v, order, &mut out)?;
    Ok(out)
}

fn dis_recursive(
    code: &CodeObject,
    v: PythonVersion,
    order: SetOrder,
    out: &mut String,
) -> Result<(), DisError> {
    Listing::new(code, v, order)?.print(out);
    for inner in code.nested_code() {
        out.push('\n');
        out.push_str(&format!("Disassembly of {}:\n", repr_code(inner)));
        dis_recursive(inner, v, order, out)?;
    }
    Ok(())
}

/// What `dis.show_code(code)` prints: [`code_info`] and a newline.
pub fn show_code(code: &CodeObject, v: PythonVersion) -> String {
    show_code_with(code, v, SetOrder::default())
}

/// [`show_code`] with frozensets listed in the given order.
pub fn show_code_with(code: &CodeObject, v: PythonVersion, order: SetOrder) -> String {
    let mut s = code_info_with(code, v, order);
    s.push('\n');
    s
}

/// `dis.code_info(code)`: name, argument counts, flags, constants and names.
pub fn code_info(code: &CodeObject, v: PythonVersion) -> String {
    code_info_with(code, v, SetOrder::default())
}

/// [`code_info`] with frozensets listed in the given order.
pub fn code_info_with(code: &CodeObject, v: PythonVersion, order: SetOrder) -> String {
    let mut lines = vec![
        format!("Name:              {}", code.name),
        format!("Filename:          {}", code.filename),
        format!("Argument count:    {}", code.argcount),
        format!("Positional-only arguments: {}", code.posonlyargcount),
        format!("Kw-only arguments: {}", code.kwonlyargcount),
        format!("Number of locals:  {}", code.nlocals()),
        format!("Stack size:        {}", code.stacksize),
        format!("Flags:             {}", pretty_flags(code.flags, v)),
    ];
    if !code.consts.is_empty() {
        lines.push("Constants:".into());
        for (i, c) in code.consts.iter().enumerate() {
            lines.push(format!("{i:4}: {}", repr_with(c, v, order)));
        }
    }
    let sections = [
        ("Names:", code.names.clone()),
        ("Variable names:", code.varnames()),
        ("Free variables:", code.freevars()),
        ("Cell variables:", code.cellvars()),
    ];
    for (title, names) in sections {
        if !names.is_empty() {
            lines.push(title.into());
            for (i, n) in names.iter().enumerate() {
                lines.push(format!("{i:4}: {n}"));
            }
        }
    }
    lines.join("\n")
}

/// `dis.pretty_flags`: the names of the set flag bits, lowest first (`0x0` for none).
pub fn pretty_flags(flags: u32, v: PythonVersion) -> String {
    if flags == 0 {
        return "0x0".into();
    }
    let names = v.opcodes().compiler_flag_names;
    (0..32)
        .map(|i| 1u32 << i)
        .filter(|bit| flags & bit != 0)
        .map(|bit| match names.iter().find(|(b, _)| *b == bit) {
            Some((_, name)) => name.to_string(),
            None => format!("{bit:#x}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `list[i]` with Python's negative indexes.
fn py_index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// Python's `i // d` for a positive `d`.
fn floor_div(i: i64, d: i64) -> i64 {
    i.div_euclid(d)
}

/// An instruction as `_unpack_opargs` yields it.
struct Raw {
    offset: u32,
    start_offset: u32,
    op: u8,
    arg: Option<i64>,
}

/// Arguments beyond this cannot come from real code; refusing them keeps arithmetic in range.
const ARG_LIMIT: i64 = 1 << 54;

fn opcode_of(table: &'static OpcodeTable, op: u8) -> Option<&'static Opcode> {
    table.by_number(u16::from(op))
}

/// `_unpack_opargs` of version `v`: instruction offsets, opcodes and folded arguments.
fn unpack(code: &[u8], v: PythonVersion) -> Result<Vec<Raw>, DisError> {
    let table = v.opcodes();
    let mut out = Vec::new();
    let mut ext: i64 = 0;
    let mut caches = 0u32;
    let mut ext_count = 0u32;
    for i in (0..code.len()).step_by(2) {
        if caches > 0 {
            caches -= 1;
            continue;
        }
        let offset = i as u32;
        let op = code[i];
        let opcode = opcode_of(table, op);
        caches = opcode.map_or(0, |o| u32::from(o.cache_entries));
        let has_arg = match opcode {
            Some(o) => o.has_arg(),
            None => !v.dis_reads_hasarg() && u16::from(op) >= table.have_argument,
        };
        let is_ext = op == table.extended_arg;
        let arg = if has_arg {
            let byte = *code
                .get(i + 1)
                .ok_or_else(|| DisError::at(offset, "code ends inside an instruction"))?;
            let arg = i64::from(byte) | ext;
            if arg.abs() >= ARG_LIMIT {
                return Err(DisError::at(offset, "argument too large"));
            }
            ext = if is_ext { arg << 8 } else { 0 };
            // The argument is a C int: one wrap at 2**31, as dis computes it.
            if v.dis_wraps_oparg_as_c_int() && ext >= 1 << 31 {
                ext -= 1 << 32;
            }
            Some(arg)
        } else {
            if v.dis_clears_extended_arg_on_argless() {
                ext = 0;
            }
            None
        };
        let start_offset = if is_ext {
            ext_count += 1;
            offset
        } else {
            let start = offset.saturating_sub(2 * ext_count);
            ext_count = 0;
            start
        };
        out.push(Raw {
            offset,
            start_offset,
            op,
            arg,
        });
    }
    Ok(out)
}

/// Where a jump goes (`findlabels` of version `v`), or `None` for other instructions.
fn jump_target(v: PythonVersion, opcode: Option<&Opcode>, arg: i64, offset: u32) -> Option<i64> {
    let o = opcode?;
    let unit = if v.jumps_count_code_units() { 2 } else { 1 };
    if o.has_jabs() {
        return Some(arg * unit);
    }
    if !o.has_jrel() {
        return None;
    }
    let arg = if v.has_backward_jumps() && o.is_backward_jump() {
        -arg
    } else {
        arg
    };
    let caches = if v.dis_jump_targets_skip_caches() {
        2 * i64::from(o.cache_entries)
    } else {
        0
    };
    Some(i64::from(offset) + 2 + arg * unit + caches)
}

/// One code object prepared for listing.
struct Listing {
    v: PythonVersion,
    instrs: Vec<Instruction>,
    /// `dict(findlinestarts(code))`.
    line_starts: BTreeMap<u32, Option<u32>>,
    exceptions: Vec<ExceptionEntry>,
    /// 3.13: label numbers by offset.
    labels: BTreeMap<i64, u32>,
    code_len: usize,
}

impl Listing {
    fn new(code: &CodeObject, v: PythonVersion, order: SetOrder) -> Result<Listing, DisError> {
        let table = v.opcodes();
        let raws = unpack(&code.code, v)?;
        let table_error = |what: &str, e: &dyn fmt::Display| DisError {
            offset: None,
            message: format!("bad {what}: {e}"),
        };
        let line_starts: BTreeMap<u32, Option<u32>> = line_starts(code, v)
            .map_err(|e| table_error("line table", &e))?
            .into_iter()
            .collect();
        let exceptions = if v.has_exception_table() {
            parse_exception_table(&code.exceptiontable)
                .map_err(|e| table_error("exception table", &e))?
        } else {
            Vec::new()
        };

        // findlabels, plus what each version adds from the exception table.
        let mut target_set: BTreeSet<i64> = raws
            .iter()
            .filter_map(|r| jump_target(v, opcode_of(table, r.op), r.arg?, r.offset))
            .collect();
        for e in &exceptions {
            if v.dis_uses_labels() {
                target_set.extend([e.start, e.end, e.target].map(i64::from));
            } else if e.start < e.end {
                target_set.insert(i64::from(e.target));
            }
        }
        let labels: BTreeMap<i64, u32> = if v.dis_uses_labels() {
            target_set.iter().zip(1..).map(|(&o, n)| (o, n)).collect()
        } else {
            BTreeMap::new()
        };

        let resolver = Resolver {
            code,
            v,
            table,
            order,
            varnames: code.varnames(),
            localsplus: localsplus_names(code, v),
            labels: &labels,
        };
        let mut instrs = Vec::with_capacity(raws.len());
        let mut line_number = None;
        for r in raws {
            let opcode = opcode_of(table, r.op);
            let (argval, argrepr) = match r.arg {
                Some(arg) => resolver.resolve(opcode, arg, r.offset)?,
                None => (ArgValue::None, String::new()),
            };
            let starts = line_starts.get(&r.offset);
            if let Some(&line) = starts {
                line_number = line;
            }
            let offset = i64::from(r.offset);
            instrs.push(Instruction {
                offset: r.offset,
                start_offset: r.start_offset,
                opcode: r.op,
                opname: match opcode {
                    Some(o) => Cow::Borrowed(o.name),
                    None => Cow::Owned(format!("<{}>", r.op)),
                },
                arg: r.arg,
                argval,
                argrepr,
                jump_target: r.arg.and_then(|a| jump_target(v, opcode, a, r.offset)),
                is_jump_target: target_set.contains(&offset),
                label: labels.get(&offset).copied(),
                starts_line: starts.is_some(),
                line_number,
                cache_entries: opcode.map_or(0, |o| o.cache_entries),
            });
        }
        Ok(Listing {
            v,
            instrs,
            line_starts,
            exceptions,
            labels,
            code_len: code.code.len(),
        })
    }

    fn print(&self, out: &mut String) {
        if self.v.dis_uses_labels() {
            self.print_313(out);
        } else {
            self.print_classic(out);
        }
    }

    /// 3.8 to 3.12: line, `>>` marker, offset, name, argument.
    fn print_classic(&self, out: &mut String) {
        let lines: Vec<u32> = self.line_starts.values().flatten().copied().collect();
        let show_lineno = self.v.dis_always_shows_line_numbers() || !lines.is_empty();
        let lineno_width = match lines.iter().max() {
            Some(&max) if show_lineno && max >= 1000 => max.to_string().len(),
            _ if show_lineno => 3,
            _ => 0,
        };
        let max_offset = self.code_len as i64 - 2;
        let offset_width = if max_offset >= 10000 {
            max_offset.to_string().len()
        } else {
            4
        };
        for ins in &self.instrs {
            if show_lineno && ins.starts_line && ins.offset > 0 {
                out.push('\n');
            }
            let mut fields: Vec<String> = Vec::with_capacity(6);
            if lineno_width > 0 {
                fields.push(match (ins.starts_line, ins.line_number) {
                    (true, Some(line)) => format!("{line:>lineno_width$}"),
                    _ => " ".repeat(lineno_width),
                });
            }
            fields.push("   ".into());
            fields.push(if ins.is_jump_target { ">>" } else { "  " }.into());
            fields.push(format!("{:>offset_width$}", ins.offset));
            fields.push(format!("{:<20}", ins.opname));
            if let Some(arg) = ins.arg {
                fields.push(format!("{arg:>5}"));
                if !ins.argrepr.is_empty() {
                    fields.push(format!("({})", ins.argrepr));
                }
            }
            push_line(out, &fields);
        }
        if !self.exceptions.is_empty() {
            out.push_str("ExceptionTable:\n");
            for e in &self.exceptions {
                let lasti = if e.lasti { " lasti" } else { "" };
                out.push_str(&format!(
                    "  {} to {} -> {} [{}]{lasti}\n",
                    e.start,
                    i64::from(e.end) - 2,
                    e.target,
                    e.depth
                ));
            }
        }
    }

    /// 3.13: line, label, name, argument; jumps and the exception table use labels.
    fn print_313(&self, out: &mut String) {
        const NO_LINENO: &str = "  --";
        // `max(filter(None, ...))` skips line 0 as well as missing lines.
        let max_line = self
            .line_starts
            .values()
            .flatten()
            .filter(|&&l| l != 0)
            .max();
        let lineno_width = match max_line {
            None => 0,
            Some(max) => {
                let w = max.to_string().len().max(3);
                if w < NO_LINENO.len() && self.line_starts.values().any(Option::is_none) {
                    NO_LINENO.len()
                } else {
                    w
                }
            }
        };
        let label_width = 4 + self.labels.len().to_string().len();
        for ins in &self.instrs {
            if lineno_width > 0 && ins.starts_line && ins.offset > 0 {
                out.push('\n');
            }
            let mut fields: Vec<String> = Vec::with_capacity(6);
            if lineno_width > 0 {
                fields.push(match (ins.starts_line, ins.line_number) {
                    (true, Some(line)) => format!("{line:>lineno_width$}"),
                    (true, None) => format!("{NO_LINENO:>lineno_width$}"),
                    (false, _) => " ".repeat(lineno_width),
                });
            }
            fields.push(match ins.label {
                Some(l) => format!("{:>label_width$}", format!("L{l}:")),
                None => " ".repeat(label_width),
            });
            fields.push("   ".into());
            fields.push(format!("{:<20}", ins.opname));
            if let Some(arg) = ins.arg {
                // A long name may take the room of the argument.
                let width = 5usize.saturating_sub(ins.opname.len().saturating_sub(20));
                fields.push(format!("{arg:>width$}"));
                if !ins.argrepr.is_empty() {
                    fields.push(format!("({})", ins.argrepr));
                }
            }
            push_line(out, &fields);
        }
        if !self.exceptions.is_empty() {
            out.push_str("ExceptionTable:\n");
            let label = |o: u32| self.labels.get(&i64::from(o)).copied().unwrap_or(0);
            for e in &self.exceptions {
                let lasti = if e.lasti { " lasti" } else { "" };
                out.push_str(&format!(
                    "  L{} to L{} -> L{} [{}]{lasti}\n",
                    label(e.start),
                    label(e.end),
                    label(e.target),
                    e.depth
                ));
            }
        }
    }
}

/// `' '.join(fields).rstrip()` and a newline.
fn push_line(out: &mut String, fields: &[String]) {
    let line = fields.join(" ");
    out.push_str(line.trim_end());
    out.push('\n');
}

/// The names local-variable arguments index: `co_varnames` for `haslocal` and
/// `co_cellvars + co_freevars` for `hasfree` before 3.11, `co_localsplusnames` from 3.11.
fn localsplus_names(code: &CodeObject, v: PythonVersion) -> Vec<PyStr> {
    match &code.locals {
        Locals::Plus(l) => l.iter().map(|l| l.name.clone()).collect(),
        Locals::Split {
            varnames,
            cellvars,
            freevars,
            ..
        } => {
            if v.locals_layout() == LocalsLayout::LocalsPlus {
                // The 3.11 layout of split locals: arguments that are cells appear once.
                let mut names = varnames.clone();
                names.extend(cellvars.iter().filter(|c| !varnames.contains(c)).cloned());
                names.extend(freevars.iter().cloned());
                names
            } else {
                cellvars.iter().chain(freevars).cloned().collect()
            }
        }
    }
}

/// Turns arguments into `argval` and `argrepr`, as `_get_instructions_bytes` (3.8–3.12) and
/// `ArgResolver` (3.13) do.
struct Resolver<'a> {
    code: &'a CodeObject,
    v: PythonVersion,
    table: &'static OpcodeTable,
    order: SetOrder,
    /// `co_varnames`.
    varnames: Vec<PyStr>,
    /// Cells and free variables before 3.11; all locals from 3.11.
    localsplus: Vec<PyStr>,
    labels: &'a BTreeMap<i64, u32>,
}

impl Resolver<'_> {
    fn resolve(
        &self,
        opcode: Option<&Opcode>,
        arg: i64,
        offset: u32,
    ) -> Result<(ArgValue, String), DisError> {
        let Some(o) = opcode else {
            return Ok((ArgValue::Int(arg), String::new()));
        };
        let plus = self.v.locals_layout() == LocalsLayout::LocalsPlus;
        let missing = |what: &str| DisError::at(offset, format!("{what} index {arg} out of range"));
        let pick = |list: &'static [&'static str], i: i64, what: &str| {
            py_index(list.len(), i)
                .map(|i| list[i])
                .ok_or_else(|| missing(what))
        };
        let name = |i: i64| -> Result<PyStr, DisError> {
            py_index(self.code.names.len(), i)
                .map(|i| self.code.names[i].clone())
                .ok_or_else(|| missing("name"))
        };
        // `haslocal` indexes `co_varnames` before 3.11, and all locals from 3.11.
        let local = |i: i64| -> Result<PyStr, DisError> {
            let list = if plus {
                &self.localsplus
            } else {
                &self.varnames
            };
            py_index(list.len(), i)
                .map(|i| list[i].clone())
                .ok_or_else(|| missing("local variable"))
        };
        let flags_repr = |arg: i64| {
            let flags = self.table.make_function_flags;
            flags
                .iter()
                .enumerate()
                .filter(|(i, _)| arg & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let with_name = |n: PyStr| {
            let s = n.to_string();
            (ArgValue::Name(n), s)
        };

        if o.has_const() {
            if self.v.dis_resolves_only_load_const() && o.name != "LOAD_CONST" {
                return Ok((ArgValue::Unknown, String::new()));
            }
            let i = py_index(self.code.consts.len(), arg).ok_or_else(|| missing("constant"))?;
            let text = repr_with(&self.code.consts[i], self.v, self.order);
            return Ok((ArgValue::Const(i), text));
        }
        if o.has_name() {
            let (index, null_bit, prefix) = match o.name {
                "LOAD_GLOBAL" if self.v.load_global_pushes_null_in_low_bit() => {
                    (floor_div(arg, 2), true, "NULL")
                }
                "LOAD_ATTR" if self.v.load_attr_loads_method_in_low_bit() => {
                    (floor_div(arg, 2), true, "NULL|self")
                }
                "LOAD_SUPER_ATTR" => (floor_div(arg, 4), true, "NULL|self"),
                "IMPORT_NAME" if self.v.import_name_has_lazy_bits() => {
                    let (val, mut text) = with_name(name(floor_div(arg, 4))?);
                    if !text.is_empty() {
                        if arg & 1 != 0 {
                            text.push_str(" + lazy");
                        } else if arg & 2 != 0 {
                            text.push_str(" + eager");
                        }
                    }
                    return Ok((val, text));
                }
                _ => (arg, false, ""),
            };
            let (val, mut text) = with_name(name(index)?);
            if null_bit && arg & 1 != 0 && !text.is_empty() {
                text = if self.v.dis_writes_null_after_name() {
                    format!("{text} + {prefix}")
                } else {
                    format!("{prefix} + {text}")
                };
            }
            return Ok((val, text));
        }
        let is_jump = if self.v.dis_uses_labels() {
            o.is_jump() || o.has_exc()
        } else {
            o.has_jrel() || (o.has_jabs() && self.v.dis_shows_absolute_jump_targets())
        };
        if is_jump {
            let target = jump_target(self.v, Some(o), arg, offset).unwrap_or(arg);
            let text = if self.v.dis_uses_labels() {
                let label = self
                    .labels
                    .get(&target)
                    .ok_or_else(|| DisError::at(offset, "jump target without a label"))?;
                let preposition = if o.name == "END_ASYNC_FOR" && self.v.dis_names_is_and_contains()
                {
                    "from"
                } else {
                    "to"
                };
                format!("{preposition} L{label}")
            } else {
                format!("to {target}")
            };
            return Ok((ArgValue::Jump(target), text));
        }
        if matches!(
            o.name,
            "LOAD_FAST_LOAD_FAST"
                | "LOAD_FAST_BORROW_LOAD_FAST_BORROW"
                | "STORE_FAST_LOAD_FAST"
                | "STORE_FAST_STORE_FAST"
        ) {
            let (a, b) = (local(arg >> 4)?, local(arg & 15)?);
            let text = format!("{a}, {b}");
            return Ok((ArgValue::Names(a, b), text));
        }
        if o.has_local() || (plus && o.has_free()) {
            return Ok(with_name(local(arg)?));
        }
        if o.has_compare() {
            let index = arg >> self.v.compare_op_arg_shift();
            let op = pick(self.table.cmp_op, index, "comparison")?;
            let text = if self.v.compare_op_has_to_bool_bit() && arg & 16 != 0 {
                format!("bool({op})")
            } else {
                op.to_string()
            };
            return Ok((ArgValue::Compare(op), text));
        }
        if o.has_free() {
            let i = py_index(self.localsplus.len(), arg).ok_or_else(|| missing("cell"))?;
            return Ok(with_name(self.localsplus[i].clone()));
        }
        let converters = self.table.format_value_converters;
        match o.name {
            "FORMAT_VALUE" => {
                let conv = pick(converters, arg & 3, "conversion")?;
                let spec = arg & 4 != 0;
                let mut text = conv.to_string();
                if spec {
                    if !text.is_empty() {
                        text.push_str(", ");
                    }
                    text.push_str("with format");
                }
                Ok((ArgValue::Format(conv, spec), text))
            }
            "CONVERT_VALUE" => {
                let conv = pick(converters, arg, "conversion")?;
                Ok((ArgValue::Format(conv, false), conv.to_string()))
            }
            "MAKE_FUNCTION" => Ok((ArgValue::Int(arg), flags_repr(arg))),
            "SET_FUNCTION_ATTRIBUTE" => Ok((ArgValue::Int(arg), flags_repr(arg))),
            "BINARY_OP" => {
                let i = py_index(self.table.nb_ops.len(), arg)
                    .ok_or_else(|| missing("binary operator"))?;
                Ok((ArgValue::Int(arg), self.table.nb_ops[i].1.to_string()))
            }
            "CALL_INTRINSIC_1" => {
                let text = pick(self.table.intrinsic1, arg, "intrinsic")?;
                Ok((ArgValue::Int(arg), text.to_string()))
            }
            "CALL_INTRINSIC_2" => {
                let text = pick(self.table.intrinsic2, arg, "intrinsic")?;
                Ok((ArgValue::Int(arg), text.to_string()))
            }
            // The opcodes below exist from 3.14 on.
            "LOAD_COMMON_CONSTANT" => {
                let text = pick(self.table.common_constants, arg, "common constant")?;
                Ok((ArgValue::Int(arg), text.to_string()))
            }
            "LOAD_SPECIAL" => {
                let text = pick(self.table.special_method_names, arg, "special method")?;
                Ok((ArgValue::Int(arg), text.to_string()))
            }
            "IS_OP" if self.v.dis_names_is_and_contains() => {
                let text = if arg != 0 { "is not" } else { "is" };
                Ok((ArgValue::Int(arg), text.into()))
            }
            "CONTAINS_OP" if self.v.dis_names_is_and_contains() => {
                let text = if arg != 0 { "not in" } else { "in" };
                Ok((ArgValue::Int(arg), text.into()))
            }
            _ => Ok((ArgValue::Int(arg), String::new())),
        }
    }
}

#[cfg(test)]
mod tests;
