//! Field-by-field comparison of two code-object trees, for differential testing: where does our
//! compiler's output first differ from CPython's?
//!
//! [`first_difference`] walks both trees in the same order (a code object's own fields, then the
//! code objects nested in its `co_consts`, in order) and reports the first field that differs,
//! shown as a human reads it: instructions decoded with their arguments resolved, constants by
//! `repr`, line tables as `co_positions()` entries, exception tables as `dis` lists them.
//!
//! Within a code object, fields are compared causes first: the signature and flags, the
//! variables, then the instructions, constants and names they use, and only then what is
//! derived from the instructions (stack size, exception and location tables).

use std::fmt;

use crate::code::{local_kind, CodeObject, Constant, Locals, PyStr};
use crate::dis::{instructions, pretty_flags, Instruction};
use crate::exceptions::{parse_exception_table, ExceptionEntry};
use crate::lines::{co_positions, Position};
use crate::repr::repr;
use crate::version::{LineTableFormat, PythonVersion};

/// The first field in which two code-object trees differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// Where: `<module>` joined with the nested code object's qualified name (its `co_qualname`
    /// from 3.11, the chain of `co_name`s before), e.g. `<module>.C.f.<locals>.g`.
    pub path: String,
    /// Which field, without details: `co_code`, `co_consts`, `co_positions`, ...
    pub kind: &'static str,
    /// The field with the place in it, e.g. `co_code at offset 24` or `co_consts[3]`.
    pub field: String,
    /// Our value there.
    pub ours: String,
    /// CPython's value there.
    pub theirs: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: ours {}, CPython {}",
            self.path, self.field, self.ours, self.theirs
        )
    }
}

/// Compares `ours` with `theirs` (CPython's), both for version `v`, and returns the first
/// difference, or `None` when the trees are equal field by field.
pub fn first_difference(
    ours: &CodeObject,
    theirs: &CodeObject,
    v: PythonVersion,
) -> Option<Difference> {
    walk(ours, theirs, v, "<module>".to_string())
}

/// What a missing item is shown as.
const ABSENT: &str = "<nothing>";

fn walk(
    ours: &CodeObject,
    theirs: &CodeObject,
    v: PythonVersion,
    path: String,
) -> Option<Difference> {
    let diff = |kind: &'static str, field: String, o: String, t: String| Difference {
        path: path.clone(),
        kind,
        field,
        ours: o,
        theirs: t,
    };
    let scalar = |kind: &'static str, o: u32, t: u32| {
        (o != t).then(|| diff(kind, kind.to_string(), o.to_string(), t.to_string()))
    };
    let found = scalar("co_argcount", ours.argcount, theirs.argcount)
        .or_else(|| {
            scalar(
                "co_posonlyargcount",
                ours.posonlyargcount,
                theirs.posonlyargcount,
            )
        })
        .or_else(|| {
            scalar(
                "co_kwonlyargcount",
                ours.kwonlyargcount,
                theirs.kwonlyargcount,
            )
        })
        .or_else(|| {
            (ours.flags != theirs.flags).then(|| {
                let show = |f: u32| format!("{f:#x} ({})", pretty_flags(f, v));
                diff(
                    "co_flags",
                    "co_flags".into(),
                    show(ours.flags),
                    show(theirs.flags),
                )
            })
        })
        .or_else(|| {
            compare_locals(&ours.locals, &theirs.locals).map(|(k, f, o, t)| diff(k, f, o, t))
        })
        .or_else(|| compare_code(ours, theirs, v).map(|(f, o, t)| diff("co_code", f, o, t)))
        .or_else(|| {
            compare_consts(&ours.consts, &theirs.consts, v)
                .map(|(f, o, t)| diff("co_consts", f, o, t))
        })
        .or_else(|| {
            compare_names("co_names", &ours.names, &theirs.names)
                .map(|(f, o, t)| diff("co_names", f, o, t))
        })
        .or_else(|| scalar("co_stacksize", ours.stacksize, theirs.stacksize))
        .or_else(|| {
            compare_exceptions(ours, theirs).map(|(f, o, t)| diff("co_exceptiontable", f, o, t))
        })
        .or_else(|| compare_lines(ours, theirs, v).map(|(k, f, o, t)| diff(k, f, o, t)))
        .or_else(|| {
            text("co_name", &ours.name, &theirs.name).map(|(f, o, t)| diff("co_name", f, o, t))
        })
        .or_else(|| {
            (ours.qualname != theirs.qualname).then(|| {
                let show =
                    |q: &Option<PyStr>| q.as_ref().map_or("None".into(), |q| format!("{q:?}"));
                diff(
                    "co_qualname",
                    "co_qualname".into(),
                    show(&ours.qualname),
                    show(&theirs.qualname),
                )
            })
        })
        .or_else(|| scalar("co_firstlineno", ours.firstlineno, theirs.firstlineno))
        .or_else(|| {
            text("co_filename", &ours.filename, &theirs.filename)
                .map(|(f, o, t)| diff("co_filename", f, o, t))
        });
    if found.is_some() {
        return found;
    }
    // The constants are equal but for nested code objects, which sit at the same indexes.
    for (o, t) in ours.consts.iter().zip(&theirs.consts) {
        if let (Constant::Code(o), Constant::Code(t)) = (o, t) {
            let name = match &t.qualname {
                Some(q) => format!("<module>.{q}"),
                None => format!("{path}.{}", t.name),
            };
            if let Some(d) = walk(o, t, v, name) {
                return Some(d);
            }
        }
    }
    None
}

type Found = Option<(String, String, String)>;

fn text(field: &str, o: &PyStr, t: &PyStr) -> Found {
    (o != t).then(|| (field.to_string(), format!("{o:?}"), format!("{t:?}")))
}

fn compare_names(field: &str, o: &[PyStr], t: &[PyStr]) -> Found {
    first_item(o, t, |a, b| a == b, |n| n.to_string())
        .map(|(i, a, b)| (format!("{field}[{i}]"), a, b))
}

/// The first index where two lists differ, with both items shown (or [`ABSENT`]).
fn first_item<T>(
    o: &[T],
    t: &[T],
    eq: impl Fn(&T, &T) -> bool,
    show: impl Fn(&T) -> String,
) -> Option<(usize, String, String)> {
    let i = (0..o.len().max(t.len())).find(|&i| match (o.get(i), t.get(i)) {
        (Some(a), Some(b)) => !eq(a, b),
        _ => true,
    })?;
    let show = |x: Option<&T>| x.map_or(ABSENT.to_string(), &show);
    Some((i, show(o.get(i)), show(t.get(i))))
}

fn compare_locals(o: &Locals, t: &Locals) -> Option<(&'static str, String, String, String)> {
    match (o, t) {
        (Locals::Plus(o), Locals::Plus(t)) => {
            let show = |l: &crate::code::LocalPlus| format!("{} ({})", l.name, kind_names(l.kind));
            first_item(o, t, |a, b| a == b, show).map(|(i, a, b)| {
                (
                    "co_localsplusnames",
                    format!("co_localsplusnames[{i}]"),
                    a,
                    b,
                )
            })
        }
        (
            Locals::Split {
                nlocals: n1,
                varnames: v1,
                cellvars: c1,
                freevars: f1,
            },
            Locals::Split {
                nlocals: n2,
                varnames: v2,
                cellvars: c2,
                freevars: f2,
            },
        ) => compare_names("co_varnames", v1, v2)
            .map(|(f, a, b)| ("co_varnames", f, a, b))
            .or_else(|| {
                compare_names("co_cellvars", c1, c2).map(|(f, a, b)| ("co_cellvars", f, a, b))
            })
            .or_else(|| {
                compare_names("co_freevars", f1, f2).map(|(f, a, b)| ("co_freevars", f, a, b))
            })
            .or_else(|| {
                (n1 != n2).then(|| {
                    (
                        "co_nlocals",
                        "co_nlocals".into(),
                        n1.to_string(),
                        n2.to_string(),
                    )
                })
            }),
        _ => Some((
            "locals",
            "locals layout".into(),
            layout_name(o).into(),
            layout_name(t).into(),
        )),
    }
}

fn layout_name(l: &Locals) -> &'static str {
    match l {
        Locals::Plus(_) => "co_localsplusnames (3.11+)",
        Locals::Split { .. } => "co_varnames/co_cellvars/co_freevars (3.8-3.10)",
    }
}

/// A `co_localspluskinds` byte as names: `local`, `cell`, `local+cell`, `free`, `hidden+local`.
fn kind_names(kind: u8) -> String {
    let names = [
        (local_kind::HIDDEN, "hidden"),
        (local_kind::LOCAL, "local"),
        (local_kind::CELL, "cell"),
        (local_kind::FREE, "free"),
    ];
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(bit, _)| kind & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let rest = kind & !names.iter().fold(0, |a, (b, _)| a | b);
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("+")
}

/// An instruction as `dis` shows it: `LOAD_FAST 1 (x)`.
fn show_instruction(i: &Instruction) -> String {
    let mut s = i.opname.to_string();
    if let Some(arg) = i.arg {
        s.push_str(&format!(" {arg}"));
        if !i.argrepr.is_empty() {
            s.push_str(&format!(" ({})", i.argrepr));
        }
    }
    s
}

fn compare_code(ours: &CodeObject, theirs: &CodeObject, v: PythonVersion) -> Found {
    if ours.code == theirs.code {
        return None;
    }
    if let (Ok(o), Ok(t)) = (instructions(ours, v), instructions(theirs, v)) {
        let same = |a: &Instruction, b: &Instruction| {
            a.offset == b.offset && a.opcode == b.opcode && a.arg == b.arg
        };
        if let Some((i, a, b)) = first_item(&o, &t, same, show_instruction) {
            let offset = [o.get(i), t.get(i)]
                .into_iter()
                .flatten()
                .map(|x| x.offset)
                .min()
                .unwrap_or(0);
            return Some((format!("co_code at offset {offset}"), a, b));
        }
    }
    // Undecodable code, or equal instructions with different bytes (inline caches).
    let at = ours
        .code
        .iter()
        .zip(&theirs.code)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.code.len().min(theirs.code.len()));
    let byte = |c: &[u8]| {
        c.get(at)
            .map_or(ABSENT.to_string(), |b| format!("{b:#04x}"))
    };
    Some((
        format!(
            "co_code byte {at} (of {} and {})",
            ours.code.len(),
            theirs.code.len()
        ),
        byte(&ours.code),
        byte(&theirs.code),
    ))
}

fn compare_consts(o: &[Constant], t: &[Constant], v: PythonVersion) -> Found {
    // Nested code objects are compared on their own, after this code object's fields.
    let same = |a: &Constant, b: &Constant| match (a, b) {
        (Constant::Code(_), Constant::Code(_)) => true,
        _ => a == b,
    };
    let show = |c: &Constant| match c {
        Constant::Code(c) => format!("<code object {}>", c.name),
        c => format!("{} ({})", repr(c, v), c.type_name()),
    };
    first_item(o, t, same, show).map(|(i, a, b)| (format!("co_consts[{i}]"), a, b))
}

fn show_entry(e: &ExceptionEntry) -> String {
    format!(
        "{} to {} -> {} [{}]{}",
        e.start,
        e.end,
        e.target,
        e.depth,
        if e.lasti { " lasti" } else { "" }
    )
}

fn compare_exceptions(ours: &CodeObject, theirs: &CodeObject) -> Found {
    if ours.exceptiontable == theirs.exceptiontable {
        return None;
    }
    if let (Ok(o), Ok(t)) = (
        parse_exception_table(&ours.exceptiontable),
        parse_exception_table(&theirs.exceptiontable),
    ) {
        if let Some((i, a, b)) = first_item(&o, &t, |a, b| a == b, show_entry) {
            return Some((format!("co_exceptiontable entry {i}"), a, b));
        }
    }
    raw_bytes(
        "co_exceptiontable",
        &ours.exceptiontable,
        &theirs.exceptiontable,
    )
}

fn raw_bytes(field: &str, o: &[u8], t: &[u8]) -> Found {
    let at = o
        .iter()
        .zip(t)
        .position(|(a, b)| a != b)
        .unwrap_or(o.len().min(t.len()));
    let byte = |c: &[u8]| {
        c.get(at)
            .map_or(ABSENT.to_string(), |b| format!("{b:#04x}"))
    };
    Some((
        format!("{field} byte {at} (of {} and {})", o.len(), t.len()),
        byte(o),
        byte(t),
    ))
}

fn show_position(p: &Position) -> String {
    let n = |x: Option<u32>| x.map_or("None".to_string(), |x| x.to_string());
    format!(
        "({}, {}, {}, {})",
        n(p.lineno),
        n(p.end_lineno),
        n(p.col),
        n(p.end_col)
    )
}

fn compare_lines(
    ours: &CodeObject,
    theirs: &CodeObject,
    v: PythonVersion,
) -> Option<(&'static str, String, String, String)> {
    if ours.linetable == theirs.linetable {
        return None;
    }
    let (kind, table) = match v.line_table_format() {
        LineTableFormat::Locations => ("co_positions", "co_linetable"),
        LineTableFormat::Lnotab => ("co_lines", "co_lnotab"),
        _ => ("co_lines", "co_linetable"),
    };
    if let (Ok(o), Ok(t)) = (co_positions(ours, v), co_positions(theirs, v)) {
        let show = |p: &Position| match v.line_table_format() {
            LineTableFormat::Locations => show_position(p),
            _ => p.lineno.map_or("None".to_string(), |l| l.to_string()),
        };
        if let Some((i, a, b)) = first_item(&o, &t, |a, b| a == b, show) {
            return Some((kind, format!("{kind} at offset {}", 2 * i), a, b));
        }
    }
    raw_bytes(table, &ours.linetable, &theirs.linetable).map(|(f, a, b)| (kind, f, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::parse_and_assemble;

    fn assemble(text: &str, v: PythonVersion) -> CodeObject {
        parse_and_assemble(text, Some(v))
            .expect("example assembles")
            .1
    }

    fn closure(v: PythonVersion) -> CodeObject {
        assemble(include_str!("../../docs/asm/closure.pyasm"), v)
    }

    fn nested_mut(code: &mut CodeObject, index: usize) -> &mut CodeObject {
        code.consts
            .iter_mut()
            .filter_map(|c| match c {
                Constant::Code(c) => Some(&mut **c),
                _ => None,
            })
            .nth(index)
            .expect("nested code object")
    }

    #[test]
    fn equal_trees_have_no_difference() {
        for v in PythonVersion::ALL {
            let code = closure(v);
            assert_eq!(first_difference(&code, &code.clone(), v), None, "{v}");
        }
    }

    #[test]
    fn an_instruction_is_shown_with_its_argument_resolved() {
        let v = PythonVersion::V3_11;
        let theirs = closure(v);
        let mut ours = theirs.clone();
        let bump = nested_mut(nested_mut(&mut ours, 0), 0);
        // bump: COPY_FREE_VARS 1, RESUME 0, LOAD_DEREF count ... make the load a LOAD_FAST.
        let number = |name| v.opcodes().by_name(name).expect("opcode").number as u8;
        let (load_deref, load_fast) = (number("LOAD_DEREF"), number("LOAD_FAST"));
        let at = bump
            .code
            .chunks(2)
            .position(|u| u[0] == load_deref)
            .expect("a LOAD_DEREF")
            * 2;
        bump.code[at] = load_fast;
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(d.path, "<module>.counter.<locals>.bump");
        assert_eq!(d.kind, "co_code");
        assert_eq!(d.field, format!("co_code at offset {at}"));
        assert_eq!(d.ours, "LOAD_FAST 0 (count)");
        assert_eq!(d.theirs, "LOAD_DEREF 0 (count)");
        assert_eq!(
            d.to_string(),
            format!(
                "<module>.counter.<locals>.bump co_code at offset {at}: ours LOAD_FAST 0 (count), \
                 CPython LOAD_DEREF 0 (count)"
            )
        );
    }

    #[test]
    fn paths_before_qualnames_join_code_names() {
        let v = PythonVersion::V3_10;
        let theirs = closure(v);
        let mut ours = theirs.clone();
        nested_mut(nested_mut(&mut ours, 0), 0).stacksize += 1;
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(d.path, "<module>.counter.bump");
        assert_eq!(d.field, "co_stacksize");
    }

    #[test]
    fn constants_names_and_locals_show_the_differing_item() {
        let v = PythonVersion::V3_11;
        let theirs = closure(v);
        let mut ours = theirs.clone();
        ours.consts.push(Constant::Float(-0.0));
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(
            (d.field.as_str(), d.ours.as_str()),
            ("co_consts[2]", "-0.0 (float)")
        );
        assert_eq!(d.theirs, ABSENT);

        let mut ours = theirs.clone();
        ours.names[0] = PyStr::from("other");
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(
            d.to_string(),
            "<module> co_names[0]: ours other, CPython counter"
        );

        let mut ours = theirs.clone();
        let counter = nested_mut(&mut ours, 0);
        if let Locals::Plus(l) = &mut counter.locals {
            let cell = l
                .iter_mut()
                .find(|l| l.kind & local_kind::CELL != 0)
                .expect("a cell");
            cell.kind = local_kind::LOCAL;
        }
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(d.path, "<module>.counter");
        assert_eq!(d.kind, "co_localsplusnames");
        assert!(
            d.ours.ends_with("(local)") && d.theirs.ends_with("(cell)"),
            "{d}"
        );
    }

    #[test]
    fn nested_code_is_compared_after_the_parent() {
        let v = PythonVersion::V3_12;
        let theirs = closure(v);
        let mut ours = theirs.clone();
        nested_mut(&mut ours, 0).flags ^= crate::code::flags::GENERATOR;
        ours.firstlineno += 1;
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!((d.path.as_str(), d.kind), ("<module>", "co_firstlineno"));
        ours.firstlineno -= 1;
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!((d.path.as_str(), d.kind), ("<module>.counter", "co_flags"));
        assert!(d.ours.contains("GENERATOR"), "{d}");
    }

    #[test]
    fn tables_are_compared_decoded() {
        let v = PythonVersion::V3_11;
        let theirs = assemble(include_str!("../../docs/asm/try_except.pyasm"), v);
        assert!(!theirs.exceptiontable.is_empty());
        let mut ours = theirs.clone();
        let mut entries = parse_exception_table(&ours.exceptiontable).expect("table");
        entries[0].depth += 1;
        ours.exceptiontable = crate::exceptions::encode_exception_table(&entries);
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(d.field, "co_exceptiontable entry 0");
        assert_ne!(d.ours, d.theirs);

        let mut ours = theirs.clone();
        let mut located = crate::lines::decode_locations(&ours).expect("table");
        let at = located
            .iter()
            .position(|(_, p)| p.lineno.is_some())
            .expect("an entry with a line");
        let offset = 2 * located[..at].iter().map(|(units, _)| units).sum::<u32>();
        let p = &mut located[at].1;
        (p.col, p.end_col) = (Some(4), Some(9));
        ours.linetable = crate::lines::encode_locations(ours.firstlineno, &located);
        let d = first_difference(&ours, &theirs, v).expect("a difference");
        assert_eq!(d.kind, "co_positions");
        assert_eq!(d.field, format!("co_positions at offset {offset}"));
        assert!(d.ours.starts_with('(') && d.ours != d.theirs, "{d}");
    }
}
