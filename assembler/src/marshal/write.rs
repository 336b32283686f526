//! The marshal writers: the plain one that chooses encodings as CPython does, and the one that
//! replays a [`Layout`](super::Layout). Both walk the value with an explicit stack.

use std::borrow::Cow;
use std::collections::HashMap;

use num_bigint::BigInt;
use rustc_hash::FxHashMap;

use super::codes::*;
use super::read::{parse_float_text, registers};
use super::{LayoutItem, MarshalError};
use crate::code::{local_kind, CodeObject, Constant, LocalPlus, Locals, PyStr};
use crate::version::{LocalsLayout, PythonVersion};

/// Something marshal writes as one object: a constant, or one of the fields of a code object
/// (which our model keeps in other types than `Constant`).
#[derive(Clone)]
pub(crate) enum Obj<'a> {
    /// A constant; `in_consts` when it sits in `co_consts`, where CPython interns strings
    /// made only of name characters.
    Const(&'a Constant, bool),
    /// `co_consts` itself.
    Consts(&'a [Constant]),
    Str(&'a PyStr, StrRole),
    Bytes(&'a [u8], BytesRole),
    /// `co_localspluskinds`, made for the writer: fresh for each code object.
    Kinds(Vec<u8>),
    /// A tuple of names (`co_names`, `co_varnames`, `co_localsplusnames`...).
    Names(Names<'a>),
    Code(&'a CodeObject),
}

/// Where a string field sits, which decides interning and sharing in the plain writer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrRole {
    /// An identifier (a name, `co_name`, `co_qualname`): interned, written once and referenced.
    Name,
    /// `co_filename`: shared by every code object of a module, not interned.
    Filename,
    /// A `co_qualname` other than `co_name`: a fresh string…
    Qualname,
    /// …unless its code object is a class body, whose first constant is its qualified name
    /// (stored as `__qualname__`): then it is that constant.
    QualnameConst,
}

/// Which field a bytes object is, which decides its sharing in the compile model.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BytesRole {
    /// `co_code`: made afresh for each code object, and held twice while marshal writes it.
    Code,
    /// `co_linetable`, `co_exceptiontable` (3.8–3.10: `co_lnotab`): merged with equal ones.
    Table,
}

#[derive(Clone)]
pub(crate) enum Names<'a> {
    Strs(&'a [PyStr]),
    Plus(&'a [LocalPlus]),
    /// Names picked from locals in the other layout than the version's.
    Picked(Vec<&'a PyStr>),
}

impl<'a> Names<'a> {
    fn len(&self) -> usize {
        match self {
            Names::Strs(s) => s.len(),
            Names::Plus(p) => p.len(),
            Names::Picked(p) => p.len(),
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &'a PyStr> + '_ {
        // Two of the three are empty.
        let (strs, plus, picked): (&'a [PyStr], &'a [LocalPlus], &[&'a PyStr]) = match self {
            Names::Strs(s) => (s, &[], &[]),
            Names::Plus(p) => (&[], p, &[]),
            Names::Picked(p) => (&[], &[], p),
        };
        strs.iter()
            .chain(plus.iter().map(|l| &l.name))
            .chain(picked.iter().copied())
    }
}

impl<'a> Obj<'a> {
    pub(crate) fn constant(c: &'a Constant) -> Obj<'a> {
        Obj::Const(c, false)
    }
}

/// What kind of Python object an [`Obj`] is, for choosing and checking type codes.
enum Shape<'s> {
    /// `None`, `True`, `False`, `StopIteration`, `...`: their type code.
    Singleton(u8),
    Int(&'s BigInt),
    Float(f64),
    Complex(f64, f64),
    Str(&'s PyStr),
    Bytes(&'s [u8]),
    Tuple(usize),
    FrozenSet(usize),
    Slice,
    Code,
}

impl Obj<'_> {
    fn shape(&self) -> Shape<'_> {
        match self {
            Obj::Const(c, _) => match c {
                Constant::None => Shape::Singleton(NONE),
                Constant::StopIteration => Shape::Singleton(STOPITER),
                Constant::Ellipsis => Shape::Singleton(ELLIPSIS),
                Constant::Bool(true) => Shape::Singleton(TRUE),
                Constant::Bool(false) => Shape::Singleton(FALSE),
                Constant::Int(i) => Shape::Int(i),
                Constant::Float(f) => Shape::Float(*f),
                Constant::Complex { re, im } => Shape::Complex(*re, *im),
                Constant::Str(s) => Shape::Str(s),
                Constant::Bytes(b) => Shape::Bytes(b),
                Constant::Tuple(t) => Shape::Tuple(t.len()),
                Constant::FrozenSet(s) => Shape::FrozenSet(s.len()),
                Constant::Slice(_) => Shape::Slice,
                Constant::Code(_) => Shape::Code,
            },
            Obj::Consts(t) => Shape::Tuple(t.len()),
            Obj::Str(s, _) => Shape::Str(s),
            Obj::Bytes(b, _) => Shape::Bytes(b),
            Obj::Kinds(k) => Shape::Bytes(k),
            Obj::Names(n) => Shape::Tuple(n.len()),
            Obj::Code(_) => Shape::Code,
        }
    }

    /// Equality of the values behind two objects, whatever field type holds them, with
    /// frozenset members compared in order (a reference copies its target exactly).
    fn same(&self, other: &Obj<'_>) -> bool {
        match (self.norm(), other.norm()) {
            (Norm::Const(a), Norm::Const(b)) => same_values(vec![(a, b)]),
            (Norm::Items(a), Norm::Items(b)) => {
                a.len() == b.len() && same_values(a.iter().zip(b).collect())
            }
            (Norm::Str(a), Norm::Str(b)) => a == b,
            (Norm::Bytes(a), Norm::Bytes(b)) => a == b,
            (Norm::Code(a), Norm::Code(b)) => same_code(a, b, &mut Vec::new()),
            (Norm::Names(a), Norm::Names(b)) => a.iter().eq(b.iter()),
            (Norm::Names(n), Norm::Items(t)) | (Norm::Items(t), Norm::Names(n)) => {
                n.len() == t.len()
                    && n.iter()
                        .zip(t)
                        .all(|(a, b)| matches!(b, Constant::Str(b) if a == b))
            }
            _ => false,
        }
    }

    fn norm(&self) -> Norm<'_> {
        match self {
            Obj::Const(c, _) => match c {
                Constant::Str(s) => Norm::Str(s),
                Constant::Bytes(b) => Norm::Bytes(b),
                Constant::Tuple(t) => Norm::Items(t),
                Constant::Code(c) => Norm::Code(c),
                other => Norm::Const(other),
            },
            Obj::Consts(t) => Norm::Items(t),
            Obj::Str(s, _) => Norm::Str(s),
            Obj::Bytes(b, _) => Norm::Bytes(b),
            Obj::Kinds(k) => Norm::Bytes(k),
            Obj::Names(n) => Norm::Names(n),
            Obj::Code(c) => Norm::Code(c),
        }
    }
}

/// Whether all pairs hold equal values, frozenset members compared in order: linear, and
/// without recursion however deep the values nest.
fn same_values<'c>(mut pairs: Vec<(&'c Constant, &'c Constant)>) -> bool {
    while let Some(pair) = pairs.pop() {
        let equal = match pair {
            (Constant::Tuple(a), Constant::Tuple(b))
            | (Constant::FrozenSet(a), Constant::FrozenSet(b)) => {
                pairs.extend(a.iter().zip(b));
                a.len() == b.len()
            }
            (Constant::Slice(a), Constant::Slice(b)) => {
                pairs.extend(a.iter().zip(b.iter()));
                true
            }
            (Constant::Code(a), Constant::Code(b)) => same_code(a, b, &mut pairs),
            (
                Constant::Tuple(_)
                | Constant::FrozenSet(_)
                | Constant::Slice(_)
                | Constant::Code(_),
                _,
            ) => false,
            (a, b) => a == b,
        };
        if !equal {
            return false;
        }
    }
    true
}

/// Compares every field of two code objects but their constants, which it queues as pairs
/// (all of them, if called with an empty queue).
fn same_code<'c>(
    a: &'c CodeObject,
    b: &'c CodeObject,
    pairs: &mut Vec<(&'c Constant, &'c Constant)>,
) -> bool {
    let top = pairs.is_empty();
    // Listing every field makes a new one a compile error here rather than a silent gap.
    let CodeObject {
        argcount,
        posonlyargcount,
        kwonlyargcount,
        stacksize,
        flags,
        code,
        consts,
        names,
        locals,
        filename,
        name,
        qualname,
        firstlineno,
        linetable,
        exceptiontable,
    } = a;
    let fields_equal = (argcount, posonlyargcount, kwonlyargcount, stacksize, flags)
        == (
            &b.argcount,
            &b.posonlyargcount,
            &b.kwonlyargcount,
            &b.stacksize,
            &b.flags,
        )
        && (code, names, locals, filename, name)
            == (&b.code, &b.names, &b.locals, &b.filename, &b.name)
        && (qualname, firstlineno, linetable, exceptiontable)
            == (&b.qualname, &b.firstlineno, &b.linetable, &b.exceptiontable)
        && consts.len() == b.consts.len();
    if !fields_equal {
        return false;
    }
    pairs.extend(consts.iter().zip(&b.consts));
    !top || same_values(std::mem::take(pairs))
}

enum Norm<'s> {
    Const(&'s Constant),
    Items(&'s [Constant]),
    Str(&'s PyStr),
    Bytes(&'s [u8]),
    Names(&'s Names<'s>),
    Code(&'s CodeObject),
}

enum Task<'a> {
    Obj(Obj<'a>),
    /// A member of a frozenset in the compile model, with its node: while marshal writes a
    /// set, its sort list holds every member a second time, so each gets `FLAG_REF`.
    Member(Obj<'a>, usize),
    /// A raw 32-bit integer (`co_firstlineno`).
    Raw(u32),
    /// The compile model's walk goes on at this node: after a frozenset's members, which
    /// their sort may have visited in another order than their nodes'.
    Seek(usize),
}

enum Mode<'l, 'a> {
    /// Choose encodings as CPython does; share repeated names through references.
    Plain {
        strings: HashMap<(Box<[u8]>, bool), u32>,
        next_ref: u32,
    },
    /// Choose encodings as CPython does and reference flags as marshal finds them on a code
    /// object fresh from `compile()` (see [`dumps`]).
    Compiled(Refs),
    /// Replay a layout; `table` holds the objects that took reference indexes.
    Layout {
        items: &'l [LayoutItem],
        next: usize,
        table: Vec<Obj<'a>>,
    },
}

struct Writer<'l, 'a> {
    out: Vec<u8>,
    /// The object being written is a frozenset member ([`Task::Member`]).
    member: bool,
    version: PythonVersion,
    mode: Mode<'l, 'a>,
}

/// The plain writer. For versions with a compile model of references
/// ([`PythonVersion::marshal_compile_refs`]) it flags and shares objects as `marshal.dumps`
/// does on a code object fresh from `compile()`: an object gets `FLAG_REF` when something
/// else holds it too — the interpreter's caches (small ints, one-character strings, empty
/// tuple and bytes, interned names, the static names `<module>`, `<lambda>`, …), the
/// compiler's constant cache, which makes equal constants, `co_consts`, `co_names`,
/// `co_localsplusnames` and tables one object, or a second place in the tree — and every
/// later place holding the same object is a back reference. The bytes follow `prefix`.
pub(crate) fn dumps<'a>(root: Obj<'a>, version: PythonVersion, prefix: &[u8]) -> Vec<u8> {
    let size = Size::of(&root);
    let mode = if version.marshal_compile_refs() {
        Mode::Compiled(Refs::new(&root, version, size))
    } else {
        Mode::Plain {
            strings: HashMap::new(),
            next_ref: 0,
        }
    };
    let mut out = Vec::with_capacity(prefix.len() + size.bytes);
    out.extend_from_slice(prefix);
    let mut w = Writer {
        out,
        member: false,
        version,
        mode,
    };
    // The plain writer has no layout to violate: every value has an encoding.
    if let Err(e) = w.run(root) {
        unreachable!("plain marshal writer failed: {e}")
    }
    w.out
}

/// A guess at the size of a value, from its code objects, to allocate once.
#[derive(Clone, Copy)]
struct Size {
    objects: usize,
    codes: usize,
    bytes: usize,
}

impl Size {
    fn of(root: &Obj<'_>) -> Size {
        let mut size = Size {
            objects: 1,
            codes: 0,
            bytes: 16,
        };
        let mut stack: Vec<&CodeObject> = match root {
            Obj::Code(c) => vec![c],
            Obj::Const(Constant::Code(c), _) => vec![c],
            _ => return size,
        };
        while let Some(c) = stack.pop() {
            let locals = match &c.locals {
                Locals::Plus(p) => p.len(),
                Locals::Split {
                    varnames,
                    cellvars,
                    freevars,
                    ..
                } => varnames.len() + cellvars.len() + freevars.len(),
            };
            // The fields, and about 12 bytes for each constant and name.
            let objects = 12 + c.consts.len() + c.names.len() + locals;
            size.objects += objects;
            size.codes += 1;
            size.bytes += 12 * objects + c.code.len() + c.linetable.len() + c.exceptiontable.len();
            stack.extend(c.nested_code());
        }
        size
    }
}

/// What the compile model knows of one object of the value before writing it. The nodes
/// are in visit order, frozenset members in the order the value holds them: an object's
/// members follow it, each with everything it holds.
#[derive(Clone, Copy)]
struct Node {
    /// What makes objects one object in a freshly compiled module ([`NO_ID`]: an object
    /// nothing else shares, or a singleton, which is never a reference).
    id: u32,
    /// How many nodes this object and everything it holds take, which a reference skips.
    size: u32,
    /// The interpreter or the caller always holds another reference to it.
    inherent: bool,
    /// A [`StrRole::QualnameConst`], whose identity depends on what came before.
    qualname_const: bool,
}

/// No identity, and no reference index.
const NO_ID: u32 = u32::MAX;

/// The compile model: every object's identity, counted over the value before writing it.
struct Refs {
    nodes: Vec<Node>,
    /// How many places hold each identity, not counting those inside a repeated object
    /// (marshal writes a repeat as a reference and never visits its members).
    counts: Vec<u32>,
    /// The reference index of each identity written so far, or [`NO_ID`].
    seen: Vec<u32>,
    /// The node of the next object to write.
    cursor: usize,
    next_ref: u32,
}

/// How a container's identity follows from its members'.
#[derive(Clone, Copy)]
enum Group {
    /// The sequence of member identities; the empty tuple is cached by the interpreter.
    Tuple { empty: bool },
    /// The multiset of member identities, unless a member is a name-like string.
    Set { named: bool },
    /// No identity (code objects, slices).
    Opaque { inherent: bool },
}

impl Group {
    /// The group of a container, `None` for an object without members.
    fn of(o: &Obj<'_>) -> Option<Group> {
        Some(match o {
            Obj::Const(Constant::Tuple(items), _) => Group::Tuple {
                empty: items.is_empty(),
            },
            Obj::Consts(items) => Group::Tuple {
                empty: items.is_empty(),
            },
            // Interning the name-like strings of a frozenset (`intern_string_constants`)
            // makes a new set for each code object whenever an equal string was interned
            // before, as an identifier of the module or of the interpreter usually is
            // (strings that start with a digit are no identifiers).
            Obj::Const(Constant::FrozenSet(items), _) => Group::Set {
                named: items.iter().any(|c| {
                    matches!(c, Constant::Str(s) if all_name_chars(s)
                        && !s.as_bytes().first().is_some_and(u8::is_ascii_digit))
                }),
            },
            Obj::Const(Constant::Slice(_) | Constant::Code(_), _) => {
                Group::Opaque { inherent: false }
            }
            Obj::Names(n) => Group::Tuple {
                empty: n.len() == 0,
            },
            // The caller holds the module's code object; nested ones sit only in `co_consts`.
            Obj::Code(_) => Group::Opaque { inherent: true },
            Obj::Const(..) | Obj::Str(..) | Obj::Bytes(..) | Obj::Kinds(_) => return None,
        })
    }
}

impl Refs {
    /// Identifies every object of the value, then counts the places holding each identity
    /// in the order marshal visits them.
    fn new(root: &Obj<'_>, version: PythonVersion, size: Size) -> Refs {
        // Each code object has about three tuples.
        let mut ids = Identities::with_capacity(size.objects / 2, 3 * size.codes);
        let mut nodes: Vec<Node> = Vec::with_capacity(size.objects);
        let mut tasks = vec![Task::Obj(root.clone())];
        // The containers whose members are being visited: their node, the height of the
        // task stack when their members are done, where their members' identities start.
        let mut open: Vec<(usize, usize, usize, Group)> = Vec::new();
        // The identities of the members of the open containers, as their container sees
        // them.
        let mut members: Vec<u32> = Vec::new();
        while let Some(task) = tasks.pop() {
            // `Raw` has no node; `Member` and `Seek` come only from the writer.
            if let Task::Obj(o) = task {
                let node = nodes.len();
                if let Some(group) = Group::of(&o) {
                    nodes.push(Node {
                        id: NO_ID,
                        size: 1,
                        inherent: false,
                        qualname_const: false,
                    });
                    open.push((node, tasks.len(), members.len(), group));
                    push_members(&o, version, &mut tasks);
                } else {
                    add_leaf(&o, &mut ids, &mut nodes, &mut members);
                }
            }
            while let Some(&(node, height, base, group)) = open.last() {
                if height != tasks.len() {
                    break;
                }
                open.pop();
                let (id, inherent) = match group {
                    Group::Tuple { empty } => (ids.seq(b't', &members[base..], false), empty),
                    Group::Set { named: false } => (ids.seq(b'z', &members[base..], true), false),
                    Group::Set { named: true } => (NO_ID, false),
                    Group::Opaque { inherent } => (NO_ID, inherent),
                };
                members.truncate(base);
                members.push(id);
                nodes[node] = Node {
                    id,
                    size: (nodes.len() - node) as u32,
                    inherent,
                    qualname_const: false,
                };
            }
        }
        let mut counts = vec![0; ids.next as usize];
        let mut i = 0;
        while let Some(node) = nodes.get_mut(i) {
            i += 1;
            let Some(n) = counts.get_mut(node.id as usize) else {
                continue;
            };
            if node.qualname_const && *n != 1 {
                // The class body's `__qualname__` constant is its qualname object unless
                // the constant cache already held an equal string from earlier code.
                node.id = NO_ID;
                continue;
            }
            *n += 1;
            if *n > 1 {
                // The same object again: its members were counted the first time.
                i += node.size as usize - 1;
            }
        }
        Refs {
            nodes,
            seen: vec![NO_ID; counts.len()],
            counts,
            cursor: 0,
            next_ref: 0,
        }
    }

    /// Whether something besides its place in the tree holds the object of this node.
    fn shared(&self, node: &Node) -> bool {
        node.inherent || self.counts.get(node.id as usize).is_some_and(|&n| n > 1)
    }
}

/// Gives an object without members its node.
fn add_leaf<'a>(
    o: &Obj<'a>,
    ids: &mut Identities<'a>,
    nodes: &mut Vec<Node>,
    members: &mut Vec<u32>,
) {
    let (id, member, inherent) = ids.leaf(o);
    nodes.push(Node {
        id,
        size: 1,
        inherent,
        qualname_const: matches!(o, Obj::Str(_, StrRole::QualnameConst)),
    });
    members.push(member);
}

/// What makes objects without members one object, beside their values.
#[derive(PartialEq, Eq, Hash)]
enum Atom<'a> {
    /// `None`, `True`, `False`, `StopIteration`, `...` by type code: never references, but
    /// tuples holding them need identities.
    Singleton(u8),
    /// Strings by their kind and bytes.
    Str(StrKind, &'a [u8]),
    Bytes(&'a [u8]),
    Int(i64),
    BigInt(&'a BigInt),
    /// Floats and complex numbers by their bits (NaNs have no identity).
    Float(u64),
    Complex(u64, u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum StrKind {
    Interned,
    Plain,
    /// A static string of the interpreter (`<module>`, `<lambda>`, …).
    Static,
    Filename,
}

/// Identities as small integers: one per distinct atom, tuple (by its members' identities
/// in order) and frozenset (by the multiset of its members' identities).
struct Identities<'a> {
    atoms: FxHashMap<Atom<'a>, u32>,
    /// A tag (`t` or `z`), then the member identities.
    seqs: FxHashMap<Box<[u32]>, u32>,
    key: Vec<u32>,
    next: u32,
}

impl<'a> Identities<'a> {
    fn with_capacity(atoms: usize, seqs: usize) -> Identities<'a> {
        Identities {
            atoms: FxHashMap::with_capacity_and_hasher(atoms, Default::default()),
            seqs: FxHashMap::with_capacity_and_hasher(seqs, Default::default()),
            key: Vec::new(),
            next: 0,
        }
    }

    fn atom(&mut self, a: Atom<'a>) -> u32 {
        let next = &mut self.next;
        *self.atoms.entry(a).or_insert_with(|| {
            *next += 1;
            *next - 1
        })
    }

    /// The identity of a tuple or frozenset (`sorted`) of these member identities; none if
    /// a member has none.
    fn seq(&mut self, tag: u8, members: &[u32], sorted: bool) -> u32 {
        if members.contains(&NO_ID) {
            return NO_ID;
        }
        self.key.clear();
        self.key.push(tag.into());
        self.key.extend_from_slice(members);
        if sorted {
            self.key[1..].sort_unstable();
        }
        if let Some(&id) = self.seqs.get(self.key.as_slice()) {
            return id;
        }
        self.seqs.insert(self.key.as_slice().into(), self.next);
        self.next += 1;
        self.next - 1
    }

    /// The identity of an object without members, its identity as a member of a
    /// container, and whether the interpreter or the caller always holds another reference
    /// to it.
    fn leaf(&mut self, o: &Obj<'a>) -> (u32, u32, bool) {
        if let Shape::Singleton(code) = o.shape() {
            return (NO_ID, self.atom(Atom::Singleton(code)), false);
        }
        let (atom, inherent) = match *o {
            Obj::Const(c, in_consts) => match c {
                Constant::Str(s) => string_atom(s, interned_constant(s, in_consts)),
                Constant::Int(i) => match i64::try_from(i) {
                    Ok(v) => (Some(Atom::Int(v)), (-5..=256).contains(&v)),
                    Err(_) => (Some(Atom::BigInt(i)), false),
                },
                Constant::Float(f) => ((!f.is_nan()).then(|| Atom::Float(f.to_bits())), false),
                Constant::Complex { re, im } => (
                    (!re.is_nan() && !im.is_nan())
                        .then(|| Atom::Complex(re.to_bits(), im.to_bits())),
                    false,
                ),
                Constant::Bytes(b) => (Some(Atom::Bytes(b)), b.len() <= 1),
                _ => (None, false),
            },
            // Identifiers are interned; `<module>`, `<lambda>` and the comprehension names
            // are static strings of the interpreter (but count as interned in a tuple).
            Obj::Str(s, StrRole::Name) if s.as_bytes().first() == Some(&b'<') => {
                let id = self.atom(Atom::Str(StrKind::Static, s.as_bytes()));
                let member = self.atom(Atom::Str(StrKind::Interned, s.as_bytes()));
                return (id, member, true);
            }
            Obj::Str(s, StrRole::Name) => string_atom(s, true),
            Obj::Str(s, StrRole::Filename) => {
                (Some(Atom::Str(StrKind::Filename, s.as_bytes())), true)
            }
            Obj::Str(_, StrRole::Qualname) => (None, false),
            Obj::Str(s, StrRole::QualnameConst) => string_atom(s, false),
            Obj::Bytes(_, BytesRole::Code) => (None, true),
            Obj::Bytes(b, BytesRole::Table) => (Some(Atom::Bytes(b)), b.len() <= 1),
            // Made with `PyBytes_FromStringAndSize(NULL, n)`: only the empty one is cached.
            Obj::Kinds(ref k) if k.is_empty() => (Some(Atom::Bytes(&[])), true),
            Obj::Kinds(_) => (None, false),
            Obj::Consts(_) | Obj::Names(_) | Obj::Code(_) => (None, false),
        };
        let id = atom.map_or(NO_ID, |a| self.atom(a));
        (id, id, inherent)
    }
}

/// A string's identity, and whether it is always held elsewhere: interned strings are one
/// object per value and always held elsewhere; so are the cached empty and one-character
/// Latin-1 strings.
fn string_atom(s: &PyStr, interned: bool) -> (Option<Atom<'_>>, bool) {
    let bytes = s.as_bytes();
    let cached = bytes.is_empty()
        || (bytes.len() <= 2 && {
            let mut points = s.code_points();
            matches!((points.next(), points.next()), (Some(c), None) if c < 256)
        });
    let kind = if interned {
        StrKind::Interned
    } else {
        StrKind::Plain
    };
    (Some(Atom::Str(kind, bytes)), interned || cached)
}

pub(crate) fn dumps_with_layout(
    root: Obj<'_>,
    items: &[LayoutItem],
    version: PythonVersion,
) -> Result<Vec<u8>, MarshalError> {
    let mut w = Writer {
        out: Vec::new(),
        member: false,
        version,
        mode: Mode::Layout {
            items,
            next: 0,
            table: Vec::new(),
        },
    };
    w.run(root)?;
    if let Mode::Layout { items, next, .. } = &w.mode {
        if *next != items.len() {
            return Err(MarshalError::new(
                w.out.len(),
                format!(
                    "the value ended with {} layout items left",
                    items.len() - next
                ),
            ));
        }
    }
    Ok(w.out)
}

/// The type code CPython's marshal writes for an object (without `FLAG_REF`).
fn plain_code(o: &Obj<'_>, shape: &Shape<'_>) -> u8 {
    match shape {
        Shape::Singleton(code) => *code,
        Shape::Int(i) if i32::try_from(*i).is_ok() => INT,
        Shape::Int(_) => LONG,
        Shape::Float(_) => BINARY_FLOAT,
        Shape::Complex(..) => BINARY_COMPLEX,
        Shape::Bytes(_) => STRING,
        Shape::Tuple(n) if *n < 256 => SMALL_TUPLE,
        Shape::Tuple(_) => TUPLE,
        Shape::FrozenSet(_) => FROZENSET,
        Shape::Code => CODE,
        Shape::Slice => SLICE,
        Shape::Str(s) => match o {
            // `<module>`, `<lambda>`, … are static strings, not interned.
            Obj::Str(_, role) => str_code(
                s,
                *role == StrRole::Name && s.as_bytes().first() != Some(&b'<'),
            ),
            // A string of name characters is ASCII: no second scan to learn it.
            Obj::Const(_, in_consts) if interned_constant(s, *in_consts) => {
                if s.as_bytes().len() < 256 {
                    SHORT_ASCII_INTERNED
                } else {
                    ASCII_INTERNED
                }
            }
            _ => str_code(s, false),
        },
    }
}

/// Whether a string constant is interned on a fresh code object: strings of name characters
/// in `co_consts` (`intern_string_constants`), and `"*"`, which the interpreter interns at
/// start-up (the other cached one-character strings are not).
fn interned_constant(s: &PyStr, in_consts: bool) -> bool {
    (in_consts && all_name_chars(s)) || s.as_bytes() == b"*"
}

/// The type code of a string: short or long, ASCII or not, interned or not.
fn str_code(s: &PyStr, interned: bool) -> u8 {
    match (s.is_ascii(), s.as_bytes().len() < 256, interned) {
        (true, true, true) => SHORT_ASCII_INTERNED,
        (true, true, false) => SHORT_ASCII,
        (true, false, true) => ASCII_INTERNED,
        (true, false, false) => ASCII,
        (false, _, true) => INTERNED,
        (false, _, false) => UNICODE,
    }
}

/// A string made only of ASCII letters, digits and `_`, which CPython interns in constants.
fn all_name_chars(s: &PyStr) -> bool {
    s.as_bytes()
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a frozenset appears anywhere inside `c` (including nested code objects).
fn holds_frozenset(c: &Constant) -> bool {
    let mut stack = vec![c];
    while let Some(c) = stack.pop() {
        match c {
            Constant::FrozenSet(_) => return true,
            Constant::Tuple(items) => stack.extend(items),
            Constant::Slice(parts) => stack.extend(parts.iter()),
            Constant::Code(code) => stack.extend(&code.consts),
            _ => {}
        }
    }
    false
}

/// The string's Latin-1 bytes, if every code point is below 256.
fn latin1(s: &PyStr) -> Option<Cow<'_, [u8]>> {
    if s.is_ascii() {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    s.code_points()
        .map(|c| u8::try_from(c).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}

/// The 15-bit digits of `|v|`, least significant first, as `TYPE_LONG` stores them.
fn long_digits(v: &BigInt) -> Vec<u16> {
    let words = v.magnitude().to_u32_digits();
    let n = v.magnitude().bits().div_ceil(15) as usize;
    (0..n)
        .map(|i| {
            let (w, s) = (15 * i / 32, 15 * i % 32);
            let mut d = words[w] >> s;
            if s > 17 {
                if let Some(next) = words.get(w + 1) {
                    d |= next << (32 - s);
                }
            }
            (d & 0x7fff) as u16
        })
        .collect()
}

/// Whether a value of this shape can be written with type code `ty` (without `FLAG_REF`).
fn fits(ty: u8, shape: &Shape<'_>) -> bool {
    match (ty, shape) {
        (_, Shape::Singleton(code)) => ty == *code,
        (INT, Shape::Int(i)) => i32::try_from(*i).is_ok(),
        (INT64, Shape::Int(i)) => i64::try_from(*i).is_ok(),
        (LONG, Shape::Int(i)) => long_digits(i).len() <= i32::MAX as usize,
        (FLOAT | BINARY_FLOAT, Shape::Float(_)) => true,
        (COMPLEX | BINARY_COMPLEX, Shape::Complex(..)) => true,
        (STRING, Shape::Bytes(_)) => true,
        (UNICODE | INTERNED, Shape::Str(_)) => true,
        (ASCII | ASCII_INTERNED, Shape::Str(s)) => latin1(s).is_some(),
        (SHORT_ASCII | SHORT_ASCII_INTERNED, Shape::Str(s)) => {
            latin1(s).is_some_and(|b| b.len() < 256)
        }
        (TUPLE, Shape::Tuple(_)) => true,
        (SMALL_TUPLE, Shape::Tuple(n)) => *n < 256,
        (FROZENSET, Shape::FrozenSet(_)) => true,
        (SLICE, Shape::Slice) => true,
        (CODE, Shape::Code) => true,
        _ => false,
    }
}

fn shape_name(shape: &Shape<'_>) -> &'static str {
    match shape {
        Shape::Singleton(NONE) => "None",
        Shape::Singleton(STOPITER) => "StopIteration",
        Shape::Singleton(ELLIPSIS) => "Ellipsis",
        Shape::Singleton(_) => "bool",
        Shape::Int(_) => "int",
        Shape::Float(_) => "float",
        Shape::Complex(..) => "complex",
        Shape::Str(_) => "str",
        Shape::Bytes(_) => "bytes",
        Shape::Tuple(_) => "tuple",
        Shape::FrozenSet(_) => "frozenset",
        Shape::Slice => "slice",
        Shape::Code => "code object",
    }
}

enum Choice {
    /// Write a back reference with this type byte (`r`, or `r` with `FLAG_REF`).
    Ref(u8, u32),
    /// Write the object with this type byte.
    Object(u8),
}

impl<'a> Writer<'_, 'a> {
    fn run(&mut self, root: Obj<'a>) -> Result<(), MarshalError> {
        let mut tasks = vec![Task::Obj(root)];
        while let Some(task) = tasks.pop() {
            match task {
                Task::Raw(x) => self.u32(x),
                Task::Obj(o) => self.object(o, &mut tasks)?,
                Task::Member(o, node) => {
                    self.member = true;
                    self.seek(node);
                    self.object(o, &mut tasks)?;
                }
                Task::Seek(node) => self.seek(node),
            }
        }
        Ok(())
    }

    fn seek(&mut self, node: usize) {
        if let Mode::Compiled(refs) = &mut self.mode {
            refs.cursor = node;
        }
    }

    fn u32(&mut self, x: u32) {
        self.out.extend_from_slice(&x.to_le_bytes());
    }

    fn sized(&mut self, bytes: &[u8]) {
        self.u32(bytes.len() as u32);
        self.out.extend_from_slice(bytes);
    }

    fn error(&self, message: impl Into<String>) -> MarshalError {
        MarshalError::new(self.out.len(), message)
    }

    /// The next layout item, in layout mode.
    fn next_item(&mut self) -> Result<Option<LayoutItem>, MarshalError> {
        let Mode::Layout { items, next, .. } = &mut self.mode else {
            return Ok(None);
        };
        let Some(item) = items.get(*next) else {
            return Err(MarshalError::new(
                self.out.len(),
                "the layout ended before the value did",
            ));
        };
        *next += 1;
        Ok(Some(item.clone()))
    }

    fn choose(&mut self, o: &Obj<'a>, shape: &Shape<'_>) -> Result<Choice, MarshalError> {
        if let Mode::Compiled { .. } = self.mode {
            return Ok(self.choose_compiled(o, shape));
        }
        match self.next_item()? {
            None => Ok(self.choose_plain(o, shape)),
            Some(LayoutItem::Object(code)) => {
                let ty = code & !FLAG_REF;
                if !fits(ty, shape) {
                    return Err(self.error(format!(
                        "the layout has type code {code:#04x} where the value holds a {}",
                        shape_name(shape)
                    )));
                }
                if code & FLAG_REF != 0 && registers(ty) {
                    if let Mode::Layout { table, .. } = &mut self.mode {
                        table.push(o.clone());
                    }
                }
                Ok(Choice::Object(code))
            }
            Some(LayoutItem::Ref { index, flagged }) => {
                let Mode::Layout { table, .. } = &self.mode else {
                    unreachable!("layout items come only in layout mode")
                };
                let target = table.get(index as usize);
                if !matches!(shape, Shape::Singleton(_)) && target.is_some_and(|t| t.same(o)) {
                    Ok(Choice::Ref(REF | if flagged { FLAG_REF } else { 0 }, index))
                } else {
                    Err(self.error(format!(
                        "the layout refers to object {index} where the value holds a different {}",
                        shape_name(shape)
                    )))
                }
            }
            Some(LayoutItem::FloatText(_)) => {
                Err(self.error("the layout has float text where an object was expected"))
            }
        }
    }

    /// What CPython sorts a frozenset member by: `marshal.dumps(member)` on its own, where
    /// the member (at `node` in the compile model) is flagged when something besides the set
    /// holds it.
    fn member_sort_key(&self, c: &Constant, ctx: bool, node: usize) -> Vec<u8> {
        let o = Obj::Const(c, ctx);
        let Mode::Compiled(refs) = &self.mode else {
            return dumps(o, self.version, &[]);
        };
        let shared = refs.nodes.get(node).is_some_and(|n| refs.shared(n));
        let mut w = Writer {
            out: Vec::new(),
            member: false,
            version: self.version,
            mode: Mode::Plain {
                strings: HashMap::new(),
                next_ref: 0,
            },
        };
        if w.run(o).is_err() {
            return Vec::new();
        }
        if let Some(first) = w.out.first_mut() {
            if shared {
                *first |= FLAG_REF;
            } else {
                *first &= !FLAG_REF;
            }
        }
        w.out
    }

    fn choose_compiled(&mut self, o: &Obj<'a>, shape: &Shape<'_>) -> Choice {
        let code = plain_code(o, shape);
        let member = std::mem::take(&mut self.member);
        let Mode::Compiled(refs) = &mut self.mode else {
            unreachable!("compiled choices come only in compiled mode")
        };
        // The nodes follow the walk: built from the same value in the same order. Were they
        // ever out of step, the object is written plainly rather than the writer failing
        // (and the tests, which run with debug assertions, fail).
        let Some(&node) = refs.nodes.get(refs.cursor) else {
            debug_assert!(false, "the marshal walk ran past its nodes");
            return Choice::Object(code);
        };
        refs.cursor += 1;
        if matches!(shape, Shape::Singleton(_)) {
            return Choice::Object(code);
        }
        if !(member || refs.shared(&node)) {
            return Choice::Object(code);
        }
        if let Some(seen) = refs.seen.get_mut(node.id as usize) {
            if *seen != NO_ID {
                // Its members are not written again.
                refs.cursor += node.size as usize - 1;
                return Choice::Ref(REF, *seen);
            }
            *seen = refs.next_ref;
        }
        refs.next_ref += 1;
        Choice::Object(code | FLAG_REF)
    }

    fn choose_plain(&mut self, o: &Obj<'a>, shape: &Shape<'_>) -> Choice {
        let Mode::Plain { strings, next_ref } = &mut self.mode else {
            unreachable!("plain choices come only in plain mode")
        };
        let Shape::Str(s) = shape else {
            return Choice::Object(plain_code(o, shape));
        };
        let (interned, shared) = match o {
            Obj::Str(_, StrRole::Name) => (true, true),
            Obj::Str(_, StrRole::Filename) => (false, true),
            Obj::Const(_, in_consts) => {
                let i = *in_consts && all_name_chars(s);
                (i, i)
            }
            _ => (false, false),
        };
        let code = str_code(s, interned);
        if !shared {
            return Choice::Object(code);
        }
        let key = (Box::from(s.as_bytes()), interned);
        if let Some(&index) = strings.get(&key) {
            return Choice::Ref(REF, index);
        }
        strings.insert(key, *next_ref);
        *next_ref += 1;
        Choice::Object(code | FLAG_REF)
    }

    fn object(&mut self, o: Obj<'a>, tasks: &mut Vec<Task<'a>>) -> Result<(), MarshalError> {
        let shape = o.shape();
        let code = match self.choose(&o, &shape)? {
            Choice::Ref(code, index) => {
                self.out.push(code);
                self.u32(index);
                return Ok(());
            }
            Choice::Object(code) => code,
        };
        self.out.push(code);
        let ty = code & !FLAG_REF;
        match shape {
            Shape::Singleton(_) => {}
            Shape::Int(i) => match ty {
                INT => self.u32(i32::try_from(i).unwrap_or_default() as u32),
                INT64 => {
                    let v = i64::try_from(i).unwrap_or_default();
                    self.out.extend_from_slice(&v.to_le_bytes());
                }
                _ => {
                    let digits = long_digits(i);
                    let n = digits.len() as i32;
                    let n = if i.sign() == num_bigint::Sign::Minus {
                        -n
                    } else {
                        n
                    };
                    self.u32(n as u32);
                    for d in digits {
                        self.out.extend_from_slice(&d.to_le_bytes());
                    }
                }
            },
            Shape::Float(f) => self.float(ty == FLOAT, f)?,
            Shape::Complex(re, im) => {
                self.float(ty == COMPLEX, re)?;
                self.float(ty == COMPLEX, im)?;
            }
            Shape::Bytes(b) => self.sized(b),
            Shape::Str(s) => match ty {
                UNICODE | INTERNED => self.sized(s.as_bytes()),
                _ => {
                    // `fits` made sure of Latin-1 in a layout; otherwise `plain_code` chose
                    // an ASCII code only for an ASCII string.
                    let bytes = if let Mode::Layout { .. } = self.mode {
                        latin1(s).unwrap_or_default()
                    } else {
                        Cow::Borrowed(s.as_bytes())
                    };
                    if matches!(ty, SHORT_ASCII | SHORT_ASCII_INTERNED) {
                        self.out.push(bytes.len() as u8);
                        self.out.extend_from_slice(&bytes);
                    } else {
                        self.sized(&bytes);
                    }
                }
            },
            Shape::Tuple(n) => {
                if ty == SMALL_TUPLE {
                    self.out.push(n as u8);
                } else {
                    self.u32(n as u32);
                }
                self.members(&o, tasks);
            }
            Shape::FrozenSet(n) => {
                self.u32(n as u32);
                self.members(&o, tasks);
            }
            Shape::Slice => self.members(&o, tasks),
            Shape::Code => {
                match &o {
                    Obj::Code(c) => self.code_header(c),
                    Obj::Const(Constant::Code(c), _) => self.code_header(c),
                    _ => {}
                }
                self.members(&o, tasks);
            }
        }
        Ok(())
    }

    fn float(&mut self, text: bool, f: f64) -> Result<(), MarshalError> {
        if !text {
            self.out.extend_from_slice(&f.to_le_bytes());
            return Ok(());
        }
        let text = match self.next_item()? {
            Some(LayoutItem::FloatText(t)) => t,
            _ => return Err(self.error("the layout lacks the text of a text float")),
        };
        let parsed = parse_float_text(&text).map(f64::to_bits);
        if parsed != Some(f.to_bits()) || text.len() > 255 {
            return Err(self.error(format!(
                "the layout's float text {:?} does not spell the value {f:?}",
                String::from_utf8_lossy(&text)
            )));
        }
        self.out.push(text.len() as u8);
        self.out.extend_from_slice(&text);
        Ok(())
    }

    /// Schedules the objects a container holds, first on top.
    fn members(&self, o: &Obj<'a>, tasks: &mut Vec<Task<'a>>) {
        let Obj::Const(Constant::FrozenSet(items), ctx) = *o else {
            push_members(o, self.version, tasks);
            return;
        };
        // 3.11+ writes set members sorted by their own marshal bytes (bpo-37596). Members
        // holding a frozenset themselves (which no compiled constant does) keep their order,
        // so that sorting never nests.
        let sort = !matches!(self.mode, Mode::Layout { .. })
            && self.version.has_qualname()
            && !items.iter().any(holds_frozenset);
        if let Mode::Compiled(refs) = &self.mode {
            // The members' nodes follow the set's, each with everything it holds.
            let mut next = refs.cursor;
            let mut members: Vec<(&'a Constant, usize)> = items
                .iter()
                .map(|c| {
                    let node = next;
                    next += refs.nodes.get(node).map_or(1, |n| n.size as usize);
                    (c, node)
                })
                .collect();
            if sort {
                members.sort_by_cached_key(|&(c, node)| self.member_sort_key(c, ctx, node));
            }
            tasks.push(Task::Seek(next));
            tasks.extend(
                members
                    .into_iter()
                    .rev()
                    .map(|(c, node)| Task::Member(Obj::Const(c, ctx), node)),
            );
        } else {
            let mut members: Vec<&'a Constant> = items.iter().collect();
            if sort {
                members.sort_by_cached_key(|c| self.member_sort_key(c, ctx, 0));
            }
            tasks.extend(
                members
                    .into_iter()
                    .rev()
                    .map(|c| Task::Obj(Obj::Const(c, ctx))),
            );
        }
    }

    /// Writes the integer fields of a code object that come before its object fields.
    fn code_header(&mut self, c: &CodeObject) {
        for x in [c.argcount, c.posonlyargcount, c.kwonlyargcount] {
            self.u32(x);
        }
        if self.version.locals_layout() == LocalsLayout::Split {
            self.u32(c.nlocals());
        }
        self.u32(c.stacksize);
        self.u32(c.flags);
    }
}

/// Schedules the objects a container holds, first on top (frozenset members in the order
/// the value holds them).
fn push_members<'a>(o: &Obj<'a>, version: PythonVersion, tasks: &mut Vec<Task<'a>>) {
    match *o {
        Obj::Const(Constant::Tuple(items) | Constant::FrozenSet(items), ctx) => {
            tasks.extend(items.iter().rev().map(|c| Task::Obj(Obj::Const(c, ctx))))
        }
        // Strings in a slice are not interned.
        Obj::Const(Constant::Slice(parts), _) => {
            tasks.extend(parts.iter().rev().map(|c| Task::Obj(Obj::Const(c, false))))
        }
        Obj::Const(Constant::Code(c), _) => push_code_fields(c, version, tasks),
        Obj::Code(c) => push_code_fields(c, version, tasks),
        Obj::Consts(items) => {
            tasks.extend(items.iter().rev().map(|c| Task::Obj(Obj::Const(c, true))))
        }
        Obj::Names(ref names) => tasks.extend(
            names
                .iter()
                .rev()
                .map(|s| Task::Obj(Obj::Str(s, StrRole::Name))),
        ),
        Obj::Const(..) | Obj::Str(..) | Obj::Bytes(..) | Obj::Kinds(_) => {}
    }
}

/// Schedules the object fields of a code object, with `co_firstlineno` among them, first
/// on top.
fn push_code_fields<'a>(c: &'a CodeObject, version: PythonVersion, tasks: &mut Vec<Task<'a>>) {
    let start = tasks.len();
    let split = version.locals_layout() == LocalsLayout::Split;
    tasks.extend(
        [
            Obj::Bytes(&c.code, BytesRole::Code),
            Obj::Consts(&c.consts),
            Obj::Names(Names::Strs(&c.names)),
        ]
        .map(Task::Obj),
    );
    if split {
        let names = match &c.locals {
            Locals::Split {
                varnames,
                cellvars,
                freevars,
                ..
            } => [
                Names::Strs(varnames),
                Names::Strs(freevars),
                Names::Strs(cellvars),
            ],
            Locals::Plus(p) => [local_kind::LOCAL, local_kind::FREE, local_kind::CELL].map(|k| {
                Names::Picked(
                    p.iter()
                        .filter(|l| l.kind & k != 0)
                        .map(|l| &l.name)
                        .collect(),
                )
            }),
        };
        tasks.extend(names.map(|n| Task::Obj(Obj::Names(n))));
    } else {
        let (names, kinds) = match &c.locals {
            Locals::Plus(p) => (Names::Plus(p), p.iter().map(|l| l.kind).collect()),
            Locals::Split {
                varnames,
                cellvars,
                freevars,
                ..
            } => split_to_plus(varnames, cellvars, freevars),
        };
        tasks.push(Task::Obj(Obj::Names(names)));
        tasks.push(Task::Obj(Obj::Kinds(kinds)));
    }
    tasks.push(Task::Obj(Obj::Str(&c.filename, StrRole::Filename)));
    tasks.push(Task::Obj(Obj::Str(&c.name, StrRole::Name)));
    if !split {
        let qualname = c.qualname_or_name();
        // CPython's qualname is the name object itself when the two are equal.
        let role = if *qualname == c.name {
            StrRole::Name
        } else if c.flags & crate::code::flags::OPTIMIZED == 0
            && matches!(c.consts.first(), Some(Constant::Str(s)) if s == qualname)
        {
            StrRole::QualnameConst
        } else {
            StrRole::Qualname
        };
        tasks.push(Task::Obj(Obj::Str(qualname, role)));
    }
    tasks.push(Task::Raw(c.firstlineno));
    tasks.push(Task::Obj(Obj::Bytes(&c.linetable, BytesRole::Table)));
    if !split {
        tasks.push(Task::Obj(Obj::Bytes(&c.exceptiontable, BytesRole::Table)));
    }
    tasks[start..].reverse();
}

/// 3.11's `co_localsplusnames`/`co_localspluskinds` for locals in the 3.8–3.10 layout:
/// the variables (an argument that is also a cell marked both), the other cells, the frees.
fn split_to_plus<'a>(
    varnames: &'a [PyStr],
    cellvars: &'a [PyStr],
    freevars: &'a [PyStr],
) -> (Names<'a>, Vec<u8>) {
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    for v in varnames {
        let cell = if cellvars.contains(v) {
            local_kind::CELL
        } else {
            0
        };
        names.push(v);
        kinds.push(local_kind::LOCAL | cell);
    }
    for c in cellvars.iter().filter(|c| !varnames.contains(c)) {
        names.push(c);
        kinds.push(local_kind::CELL);
    }
    for f in freevars {
        names.push(f);
        kinds.push(local_kind::FREE);
    }
    (Names::Picked(names), kinds)
}
