//! The marshal format (version 4) as CPython 3.8–3.13 reads and writes it for code objects.
//!
//! Two ways out: [`dumps`] writes bytes that CPython loads into an equal object, and the
//! lossless pair [`loads_with_layout`] / [`dumps_with_layout`] reproduces a blob byte for byte
//! by replaying how each object was encoded (its exact type byte, `FLAG_REF`, back references).
//!
//! The reader follows `Python/marshal.c`: every type code it accepts is accepted here, with its
//! reference-index order (containers and code objects reserve their index before their
//! children are read), its nesting limit and its checks on code objects. It never panics and
//! never recurses: malformed input gives a [`MarshalError`] with the byte offset. Where CPython
//! is more lenient than a code object allows, this reader is stricter and says so: lists,
//! dicts, sets and `NULL` are refused, as are references to an object still being built and
//! bytes after the root object (which `marshal.loads` would ignore). Frozenset members are
//! kept as read, in order and without merging members that compare equal (CPython's writer
//! never repeats one). A negative `co_firstlineno` is kept as its bit pattern in the `u32`.
//!
//! Our model has no sharing, so a back reference copies its target; the reader charges
//! those copies against a budget (64 MiB plus 64 bytes per input byte, far above the ~5x
//! that compiled modules reach) so a small blob cannot expand without bound.

use std::fmt;

use crate::code::{CodeObject, Constant};
use crate::version::PythonVersion;

mod read;
mod write;

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;

/// The type codes of the marshal format (`Python/marshal.c`).
pub mod codes {
    pub const NULL: u8 = b'0';
    pub const NONE: u8 = b'N';
    pub const FALSE: u8 = b'F';
    pub const TRUE: u8 = b'T';
    pub const STOPITER: u8 = b'S';
    pub const ELLIPSIS: u8 = b'.';
    pub const INT: u8 = b'i';
    /// Read by every version, written by none of them.
    pub const INT64: u8 = b'I';
    /// Float as text (marshal version 0 and 1).
    pub const FLOAT: u8 = b'f';
    pub const BINARY_FLOAT: u8 = b'g';
    /// Complex as two texts (marshal version 0 and 1).
    pub const COMPLEX: u8 = b'x';
    pub const BINARY_COMPLEX: u8 = b'y';
    pub const LONG: u8 = b'l';
    /// `bytes`.
    pub const STRING: u8 = b's';
    pub const INTERNED: u8 = b't';
    pub const REF: u8 = b'r';
    pub const TUPLE: u8 = b'(';
    pub const LIST: u8 = b'[';
    pub const DICT: u8 = b'{';
    pub const CODE: u8 = b'c';
    pub const UNICODE: u8 = b'u';
    pub const UNKNOWN: u8 = b'?';
    pub const SET: u8 = b'<';
    pub const FROZENSET: u8 = b'>';
    /// Marshal version 5 (3.14+).
    pub const SLICE: u8 = b':';
    pub const ASCII: u8 = b'a';
    pub const ASCII_INTERNED: u8 = b'A';
    pub const SMALL_TUPLE: u8 = b')';
    pub const SHORT_ASCII: u8 = b'z';
    pub const SHORT_ASCII_INTERNED: u8 = b'Z';
    /// Set on a type code: the object gets the next reference index.
    pub const FLAG_REF: u8 = 0x80;
}

/// CPython's `MAX_MARSHAL_STACK_DEPTH` on Linux and macOS: the deepest nesting of objects
/// (the root counting as 1) that `marshal.loads` accepts.
pub const MAX_DEPTH: usize = 2000;

/// A marshal blob that cannot be read (or a value that does not fit a layout), with the byte
/// offset where the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarshalError {
    pub offset: usize,
    pub message: String,
}

impl MarshalError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> MarshalError {
        MarshalError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for MarshalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for MarshalError {}

/// One step of a [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LayoutItem {
    /// An object was written with this exact type byte (including [`codes::FLAG_REF`]).
    Object(u8),
    /// A back reference `r index` stood here; `flagged` when its type byte carried
    /// `FLAG_REF` (which CPython ignores on a reference).
    Ref { index: u32, flagged: bool },
    /// The text of a text float (`f`), or of one half of a text complex (`x`); follows the
    /// `Object` item of that float. Text floats are the one encoding a value does not decide.
    FloatText(Vec<u8>),
}

/// How a blob encoded its objects, in visit order: everything [`dumps_with_layout`] needs,
/// beside the value, to reproduce the blob exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Layout {
    items: Vec<LayoutItem>,
}

impl Layout {
    /// A layout from its items, in visit order.
    pub fn from_items(items: Vec<LayoutItem>) -> Layout {
        Layout { items }
    }

    /// The items, in visit order.
    pub fn items(&self) -> &[LayoutItem] {
        &self.items
    }

    /// The items, in visit order.
    pub fn into_items(self) -> Vec<LayoutItem> {
        self.items
    }

    /// How many objects carried `FLAG_REF` (the size of the reference table).
    pub fn flagged_objects(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i, LayoutItem::Object(c) if c & codes::FLAG_REF != 0 && read::registers(c & !codes::FLAG_REF)))
            .count()
    }
}

/// Reads one object, which must fill `data` exactly.
pub fn loads(data: &[u8], v: PythonVersion) -> Result<Constant, MarshalError> {
    read::read(data, v, false).map(|(c, _)| c)
}

/// Reads a code object, which must fill `data` exactly.
pub fn loads_code(data: &[u8], v: PythonVersion) -> Result<CodeObject, MarshalError> {
    match loads(data, v)? {
        Constant::Code(code) => Ok(*code),
        other => Err(MarshalError::new(
            0,
            format!("expected a code object, found a {}", other.type_name()),
        )),
    }
}

/// Reads one object and records how it was encoded, for [`dumps_with_layout`].
pub fn loads_with_layout(
    data: &[u8],
    v: PythonVersion,
) -> Result<(Constant, Layout), MarshalError> {
    read::read(data, v, true).map(|(c, l)| (c, Layout::from_items(l)))
}

/// Writes a constant (a code object, typically) the way CPython's `marshal.dumps` would choose
/// its encodings: short and ASCII string forms, small tuples, binary floats, `TYPE_INT` where
/// the value fits 32 bits, and back references for repeated names. A code object whose locals
/// are in the other layout than `v` uses is converted.
pub fn dumps(c: &Constant, v: PythonVersion) -> Vec<u8> {
    write::dumps(write::Obj::constant(c), v, &[])
}

/// [`dumps`] for a code object.
pub fn dumps_code(c: &CodeObject, v: PythonVersion) -> Vec<u8> {
    write::dumps(write::Obj::Code(c), v, &[])
}

/// [`dumps_code`] after `prefix` (a pyc header), in one buffer.
pub(crate) fn dumps_code_after(prefix: &[u8], c: &CodeObject, v: PythonVersion) -> Vec<u8> {
    write::dumps(write::Obj::Code(c), v, prefix)
}

/// Writes `c` encoded exactly as `layout` says; for a layout from [`loads_with_layout`] and
/// the value read with it, this gives back the original bytes. Fails (with the output offset)
/// when the value does not fit the layout: a type code that cannot hold the value there, a
/// reference to an object that differs (frozenset members are compared in order, as a
/// reference copies its target exactly), or a layout shorter or longer than the value.
pub fn dumps_with_layout(
    c: &Constant,
    layout: &Layout,
    v: PythonVersion,
) -> Result<Vec<u8>, MarshalError> {
    write::dumps_with_layout(write::Obj::constant(c), layout.items(), v)
}
