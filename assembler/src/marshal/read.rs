//! The marshal reader: an explicit stack instead of recursion, CPython's reference order.

use num_bigint::{BigInt, BigUint, Sign};

use super::codes::*;
use super::{LayoutItem, MarshalError, MAX_DEPTH};
use crate::code::{CodeObject, Constant, LocalPlus, Locals, PyStr};
use crate::version::{LocalsLayout, PythonVersion};

/// Approximate memory of one constant node, for the reference expansion budget.
const NODE: u64 = std::mem::size_of::<Constant>() as u64;

/// References copy objects (our model has no sharing); this many bytes may be copied
/// through them beyond [`COPY_PER_INPUT_BYTE`] per input byte before the blob counts as a
/// reference bomb.
const COPY_ALLOWANCE: u64 = 64 << 20;
const COPY_PER_INPUT_BYTE: u64 = 64;

/// Whether an object with this type code (without `FLAG_REF`) takes a reference index when
/// flagged. CPython does not register the singletons, nor a reference itself.
pub(super) fn registers(ty: u8) -> bool {
    !matches!(ty, NONE | FALSE | TRUE | STOPITER | ELLIPSIS | REF | NULL)
}

/// Reads the root object of `data`, which must fill it exactly.
pub(super) fn read(
    data: &[u8],
    version: PythonVersion,
    record: bool,
) -> Result<(Constant, Vec<LayoutItem>), MarshalError> {
    let mut r = Reader {
        data,
        pos: 0,
        version,
        refs: Vec::new(),
        layout: record.then(Vec::new),
        copy_budget: COPY_ALLOWANCE
            .saturating_add(COPY_PER_INPUT_BYTE.saturating_mul(data.len() as u64)),
    };
    let root = r.run()?;
    if r.pos != data.len() {
        return Err(MarshalError::new(
            r.pos,
            format!(
                "{} bytes of trailing data after the object",
                data.len() - r.pos
            ),
        ));
    }
    Ok((root, r.layout.unwrap_or_default()))
}

/// A finished object and an estimate of the memory it holds.
struct Value {
    c: Constant,
    cost: u64,
}

impl Value {
    fn leaf(c: Constant, payload: usize) -> Value {
        Value {
            c,
            cost: NODE + payload as u64,
        }
    }
}

/// A container whose children are being read.
struct Frame {
    /// Offset of its type byte.
    start: usize,
    /// Its reserved reference index, when flagged.
    slot: Option<usize>,
    kind: Kind,
    want: usize,
    items: Vec<Constant>,
    cost: u64,
}

enum Kind {
    Tuple,
    FrozenSet,
    Slice,
    Code(CodeHead),
}

/// The integer fields of a code object, read as CPython reads them (signed 32 bits).
struct CodeHead {
    argcount: i32,
    posonlyargcount: i32,
    kwonlyargcount: i32,
    /// 3.8–3.10 only.
    nlocals: i32,
    stacksize: i32,
    flags: i32,
    /// Read between the 8th and 9th object field.
    firstlineno: Option<i32>,
}

/// The object fields before `co_firstlineno`, in both layouts.
const FIELDS_BEFORE_LINENO: usize = 8;

enum Started {
    Value(Value),
    Frame(Frame),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    version: PythonVersion,
    /// The reference table; `None` marks an index reserved by a container still being read.
    refs: Vec<Option<Value>>,
    layout: Option<Vec<LayoutItem>>,
    copy_budget: u64,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, MarshalError> {
    Err(MarshalError::new(offset, message))
}

fn type_name(ty: u8) -> String {
    if ty.is_ascii_graphic() {
        format!("{:#04x} ('{}')", ty, ty as char)
    } else {
        format!("{ty:#04x}")
    }
}

impl Reader<'_> {
    fn run(&mut self) -> Result<Constant, MarshalError> {
        let mut stack: Vec<Frame> = Vec::new();
        'objects: loop {
            if let Some(Frame {
                kind: Kind::Code(head),
                items,
                ..
            }) = stack.last_mut()
            {
                if items.len() == FIELDS_BEFORE_LINENO && head.firstlineno.is_none() {
                    head.firstlineno = Some(self.i32("co_firstlineno")?);
                }
            }
            let mut done = match self.start(stack.len() + 1)? {
                Started::Value(v) => v,
                Started::Frame(f) if f.want > 0 => {
                    stack.push(f);
                    continue;
                }
                Started::Frame(f) => self.finish(f)?,
            };
            while let Some(mut top) = stack.pop() {
                top.cost = top.cost.saturating_add(done.cost);
                top.items.push(done.c);
                if top.items.len() < top.want {
                    stack.push(top);
                    continue 'objects;
                }
                done = self.finish(top)?;
            }
            return Ok(done.c);
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], MarshalError> {
        let rest = self.data.len() - self.pos;
        if n > rest {
            return err(
                self.pos,
                format!("marshal data too short: {what} needs {n} bytes, {rest} remain"),
            );
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], MarshalError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn byte(&mut self, what: &str) -> Result<u8, MarshalError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn i32(&mut self, what: &str) -> Result<i32, MarshalError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// A 32-bit size field that must not be negative, nor promise more objects or bytes
    /// (`unit` each) than remain.
    fn size(&mut self, what: &str, unit: usize) -> Result<usize, MarshalError> {
        let at = self.pos;
        let n = self.i32(&format!("the size of a {what}"))?;
        let Ok(n) = usize::try_from(n) else {
            return err(at, format!("negative size {n} for a {what}"));
        };
        let rest = self.data.len() - self.pos;
        if n.saturating_mul(unit) > rest {
            return err(
                at,
                format!(
                    "marshal data too short: a {what} of size {n} needs at least {} bytes, {rest} remain",
                    n.saturating_mul(unit)
                ),
            );
        }
        Ok(n)
    }

    fn record(&mut self, item: LayoutItem) {
        if let Some(l) = &mut self.layout {
            l.push(item);
        }
    }

    fn charge(&mut self, cost: u64, at: usize) -> Result<(), MarshalError> {
        match self.copy_budget.checked_sub(cost) {
            Some(rest) => {
                self.copy_budget = rest;
                Ok(())
            }
            None => err(
                at,
                "references copy more data than the blob could plausibly hold (a reference bomb)",
            ),
        }
    }

    fn reserve(&mut self, flagged: bool, at: usize) -> Result<Option<usize>, MarshalError> {
        if !flagged {
            return Ok(None);
        }
        if self.refs.len() >= 0x7fff_fffe {
            return err(at, "too many flagged objects (index list too large)");
        }
        self.refs.push(None);
        Ok(Some(self.refs.len() - 1))
    }

    fn fill(&mut self, slot: Option<usize>, v: &Value, at: usize) -> Result<(), MarshalError> {
        if let Some(i) = slot {
            self.charge(v.cost, at)?;
            self.refs[i] = Some(Value {
                c: v.c.clone(),
                cost: v.cost,
            });
        }
        Ok(())
    }

    /// Reads a type byte and either a whole leaf object or the head of a container.
    fn start(&mut self, depth: usize) -> Result<Started, MarshalError> {
        let at = self.pos;
        let Some(&code) = self.data.get(at) else {
            return err(at, "EOF read where object expected");
        };
        self.pos += 1;
        if depth > MAX_DEPTH {
            return err(
                at,
                format!("objects nested deeper than {MAX_DEPTH} (CPython's marshal limit)"),
            );
        }
        let flagged = code & FLAG_REF != 0;
        let ty = code & !FLAG_REF;
        if ty != REF {
            self.record(LayoutItem::Object(code));
        }
        let value = match ty {
            NONE => return Ok(Started::Value(Value::leaf(Constant::None, 0))),
            TRUE => return Ok(Started::Value(Value::leaf(Constant::Bool(true), 0))),
            FALSE => return Ok(Started::Value(Value::leaf(Constant::Bool(false), 0))),
            STOPITER => return Ok(Started::Value(Value::leaf(Constant::StopIteration, 0))),
            ELLIPSIS => return Ok(Started::Value(Value::leaf(Constant::Ellipsis, 0))),
            REF => return self.reference(at, flagged).map(Started::Value),
            INT => Value::leaf(Constant::Int(self.i32("an int")?.into()), 4),
            INT64 => {
                let v = i64::from_le_bytes(self.array("a 64-bit int")?);
                Value::leaf(Constant::Int(v.into()), 8)
            }
            LONG => self.long()?,
            BINARY_FLOAT => Value::leaf(Constant::Float(self.binary_float()?), 0),
            FLOAT => Value::leaf(Constant::Float(self.text_float()?), 0),
            BINARY_COMPLEX => {
                let (re, im) = (self.binary_float()?, self.binary_float()?);
                Value::leaf(Constant::Complex { re, im }, 0)
            }
            COMPLEX => {
                let (re, im) = (self.text_float()?, self.text_float()?);
                Value::leaf(Constant::Complex { re, im }, 0)
            }
            STRING => {
                let n = self.size("bytes object", 1)?;
                let b = self.take(n, "a bytes object")?.to_vec();
                Value::leaf(Constant::Bytes(b), n)
            }
            UNICODE | INTERNED => {
                let n = self.size("str", 1)?;
                let payload = self.pos;
                let bytes = self.take(n, "a str")?;
                let Some(s) = PyStr::from_marshal_bytes(bytes) else {
                    return err(
                        payload,
                        format!("str of {n} bytes is not valid UTF-8 (even allowing surrogates)"),
                    );
                };
                Value::leaf(Constant::Str(s), n)
            }
            ASCII | ASCII_INTERNED | SHORT_ASCII | SHORT_ASCII_INTERNED => {
                let n = if matches!(ty, ASCII | ASCII_INTERNED) {
                    self.size("str", 1)?
                } else {
                    self.byte("the size of a short str")? as usize
                };
                // CPython reads these as Latin-1, so bytes above 0x7f are accepted.
                let s = PyStr::from_latin1(self.take(n, "a str")?);
                let len = s.as_bytes().len();
                Value::leaf(Constant::Str(s), len)
            }
            TUPLE | SMALL_TUPLE => {
                let n = if ty == TUPLE {
                    self.size("tuple", 1)?
                } else {
                    let n = self.byte("the size of a small tuple")? as usize;
                    if n > self.data.len() - self.pos {
                        return err(at, format!("marshal data too short for a tuple of {n}"));
                    }
                    n
                };
                let slot = self.reserve(flagged, at)?;
                return Ok(Started::Frame(Frame::new(at, slot, Kind::Tuple, n)));
            }
            FROZENSET => {
                let n = self.size("frozenset", 1)?;
                if n == 0 {
                    Value::leaf(Constant::FrozenSet(Vec::new()), 0)
                } else {
                    let slot = self.reserve(flagged, at)?;
                    return Ok(Started::Frame(Frame::new(at, slot, Kind::FrozenSet, n)));
                }
            }
            SLICE if self.version.marshals_slices() => {
                let slot = self.reserve(flagged, at)?;
                return Ok(Started::Frame(Frame::new(at, slot, Kind::Slice, 3)));
            }
            CODE => {
                let slot = self.reserve(flagged, at)?;
                return self.code_head(at, slot).map(Started::Frame);
            }
            LIST | DICT | SET => {
                let what = match ty {
                    LIST => "list",
                    DICT => "dict",
                    _ => "set",
                };
                return err(
                    at,
                    format!(
                        "a {what} (type code {}) is not a code object constant",
                        type_name(ty)
                    ),
                );
            }
            NULL => return err(at, "NULL (type code '0') is not a code object constant"),
            _ => return err(at, format!("unknown type code {}", type_name(code))),
        };
        if flagged {
            let slot = self.reserve(true, at)?;
            self.fill(slot, &value, at)?;
        }
        Ok(Started::Value(value))
    }

    fn reference(&mut self, at: usize, flagged: bool) -> Result<Value, MarshalError> {
        let n = self.i32("a reference index")?;
        let index = usize::try_from(n).ok().filter(|&i| i < self.refs.len());
        let Some(index) = index else {
            return err(
                at,
                format!(
                    "invalid reference {n}: {} objects are registered so far",
                    self.refs.len()
                ),
            );
        };
        let (c, cost) = match &self.refs[index] {
            Some(v) => (v.c.clone(), v.cost),
            None => {
                return err(
                    at,
                    format!("reference {n} points to an object still being built"),
                )
            }
        };
        self.charge(cost, at)?;
        self.record(LayoutItem::Ref {
            index: index as u32,
            flagged,
        });
        Ok(Value { c, cost })
    }

    /// `TYPE_LONG`: a signed count of 15-bit digits, least significant first.
    fn long(&mut self) -> Result<Value, MarshalError> {
        let at = self.pos;
        let n = self.i32("the size of a long")?;
        if n == i32::MIN {
            return err(at, "long size out of range");
        }
        let count = n.unsigned_abs() as usize;
        let rest = self.data.len() - self.pos;
        if count.saturating_mul(2) > rest {
            return err(
                at,
                format!("marshal data too short: a long of {count} digits needs {} bytes, {rest} remain", 2 * count),
            );
        }
        let digits_at = self.pos;
        let raw = self.take(2 * count, "long digits")?;
        let mut words = vec![0u32; (count * 15).div_ceil(32)];
        for (i, pair) in raw.chunks_exact(2).enumerate() {
            let d = u16::from_le_bytes([pair[0], pair[1]]);
            if d > 0x7fff {
                return err(
                    digits_at + 2 * i,
                    format!("digit {d:#06x} out of range in long (15-bit digits)"),
                );
            }
            if i + 1 == count && d == 0 {
                return err(
                    digits_at + 2 * i,
                    "unnormalized long data (the top digit is zero)",
                );
            }
            let (bit, d) = (15 * i, d as u32);
            words[bit / 32] |= d << (bit % 32);
            if bit % 32 > 17 {
                words[bit / 32 + 1] |= d >> (32 - bit % 32);
            }
        }
        let sign = if n < 0 { Sign::Minus } else { Sign::Plus };
        let v = BigInt::from_biguint(sign, BigUint::new(words));
        Ok(Value::leaf(Constant::Int(v), 2 * count))
    }

    fn binary_float(&mut self) -> Result<f64, MarshalError> {
        Ok(f64::from_le_bytes(self.array("a binary float")?))
    }

    /// A text float: a length byte and the digits, parsed like `PyOS_string_to_double`
    /// (which stops at a NUL byte).
    fn text_float(&mut self) -> Result<f64, MarshalError> {
        let n = self.byte("the size of a text float")? as usize;
        let at = self.pos;
        let text = self.take(n, "a text float")?.to_vec();
        let Some(value) = parse_float_text(&text) else {
            return err(
                at,
                format!(
                    "could not convert text float {:?} to a float",
                    String::from_utf8_lossy(&text)
                ),
            );
        };
        self.record(LayoutItem::FloatText(text));
        Ok(value)
    }

    fn code_head(&mut self, at: usize, slot: Option<usize>) -> Result<Frame, MarshalError> {
        let split = self.version.locals_layout() == LocalsLayout::Split;
        let argcount = self.i32("co_argcount")?;
        let posonlyargcount = self.i32("co_posonlyargcount")?;
        let kwonlyargcount = self.i32("co_kwonlyargcount")?;
        let nlocals = if split { self.i32("co_nlocals")? } else { 0 };
        let stacksize = self.i32("co_stacksize")?;
        let flags = self.i32("co_flags")?;
        let head = CodeHead {
            argcount,
            posonlyargcount,
            kwonlyargcount,
            nlocals,
            stacksize,
            flags,
            firstlineno: None,
        };
        let want = if split { 9 } else { 10 };
        Ok(Frame::new(at, slot, Kind::Code(head), want))
    }

    fn finish(&mut self, f: Frame) -> Result<Value, MarshalError> {
        let c = match f.kind {
            Kind::Tuple => Constant::Tuple(f.items),
            Kind::FrozenSet => Constant::FrozenSet(f.items),
            Kind::Slice => match <[Constant; 3]>::try_from(f.items) {
                Ok(parts) => Constant::Slice(Box::new(parts)),
                Err(_) => return err(f.start, "a slice needs three objects"),
            },
            Kind::Code(head) => {
                Constant::Code(Box::new(build_code(self.version, head, f.items, f.start)?))
            }
        };
        let v = Value {
            c,
            cost: f.cost.saturating_add(NODE),
        };
        self.fill(f.slot, &v, f.start)?;
        Ok(v)
    }
}

impl Frame {
    fn new(start: usize, slot: Option<usize>, kind: Kind, want: usize) -> Frame {
        Frame {
            start,
            slot,
            kind,
            want,
            // Grown as children arrive: a lying size must not allocate up front.
            items: Vec::with_capacity(want.min(1024)),
            cost: 0,
        }
    }
}

/// Parses a text float as `PyOS_string_to_double(s, NULL, NULL)` does: the text up to the
/// first NUL must be a whole decimal, `inf`/`infinity` or `nan` (any case, optional sign).
pub(super) fn parse_float_text(text: &[u8]) -> Option<f64> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let s = std::str::from_utf8(&text[..end]).ok()?;
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !ok {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ if body.starts_with(['+', '-']) => return None,
        _ => body.parse::<f64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

fn field_err(at: usize, field: &str, want: &str, found: &Constant) -> MarshalError {
    MarshalError::new(
        at,
        format!(
            "bad code object: {field} must be {want}, found a {}",
            found.type_name()
        ),
    )
}

fn bytes_field(c: Constant, field: &str, at: usize) -> Result<Vec<u8>, MarshalError> {
    match c {
        Constant::Bytes(b) => Ok(b),
        other => Err(field_err(at, field, "bytes", &other)),
    }
}

fn str_field(c: Constant, field: &str, at: usize) -> Result<PyStr, MarshalError> {
    match c {
        Constant::Str(s) => Ok(s),
        other => Err(field_err(at, field, "a str", &other)),
    }
}

fn tuple_field(c: Constant, field: &str, at: usize) -> Result<Vec<Constant>, MarshalError> {
    match c {
        Constant::Tuple(t) => Ok(t),
        other => Err(field_err(at, field, "a tuple", &other)),
    }
}

fn names_field(c: Constant, field: &str, at: usize) -> Result<Vec<PyStr>, MarshalError> {
    tuple_field(c, field, at)?
        .into_iter()
        .map(|item| match item {
            Constant::Str(s) => Ok(s),
            other => Err(MarshalError::new(
                at,
                format!(
                    "bad code object: non-string found in code slot {field} (a {})",
                    other.type_name()
                ),
            )),
        })
        .collect()
}

/// Builds a code object from its fields in marshal order, with the checks of CPython's
/// `PyCode_NewWithPosOnlyArgs` (3.8–3.10) or `_PyCode_Validate` (3.11+).
fn build_code(
    version: PythonVersion,
    head: CodeHead,
    fields: Vec<Constant>,
    at: usize,
) -> Result<CodeObject, MarshalError> {
    let split = version.locals_layout() == LocalsLayout::Split;
    let bad = |what: &str| MarshalError::new(at, format!("bad code object: {what}"));
    if head.argcount < head.posonlyargcount
        || head.posonlyargcount < 0
        || head.kwonlyargcount < 0
        || head.nlocals < 0
        || head.stacksize < 0
        || head.flags < 0
    {
        return Err(bad(&format!(
            "negative or inconsistent counts (argcount {}, posonlyargcount {}, kwonlyargcount {}, nlocals {}, stacksize {}, flags {:#x})",
            head.argcount, head.posonlyargcount, head.kwonlyargcount, head.nlocals, head.stacksize, head.flags
        )));
    }
    let mut it = fields.into_iter();
    let mut next = || it.next().ok_or_else(|| bad("missing fields"));
    let code = bytes_field(next()?, "co_code", at)?;
    let consts = tuple_field(next()?, "co_consts", at)?;
    let names = names_field(next()?, "co_names", at)?;
    let locals = if split {
        let varnames = names_field(next()?, "co_varnames", at)?;
        let freevars = names_field(next()?, "co_freevars", at)?;
        let cellvars = names_field(next()?, "co_cellvars", at)?;
        Locals::Split {
            nlocals: head.nlocals as u32,
            varnames,
            cellvars,
            freevars,
        }
    } else {
        let names = names_field(next()?, "co_localsplusnames", at)?;
        let kinds = bytes_field(next()?, "co_localspluskinds", at)?;
        if names.len() != kinds.len() {
            return Err(bad(&format!(
                "{} local names but {} kinds",
                names.len(),
                kinds.len()
            )));
        }
        Locals::Plus(
            names
                .into_iter()
                .zip(kinds)
                .map(|(name, kind)| LocalPlus { name, kind })
                .collect(),
        )
    };
    let filename = str_field(next()?, "co_filename", at)?;
    let name = str_field(next()?, "co_name", at)?;
    let qualname = if split {
        None
    } else {
        Some(str_field(next()?, "co_qualname", at)?)
    };
    let linetable = bytes_field(next()?, "the line table", at)?;
    let exceptiontable = if split {
        Vec::new()
    } else {
        bytes_field(next()?, "co_exceptiontable", at)?
    };
    let code = CodeObject {
        argcount: head.argcount as u32,
        posonlyargcount: head.posonlyargcount as u32,
        kwonlyargcount: head.kwonlyargcount as u32,
        stacksize: head.stacksize as u32,
        flags: head.flags as u32,
        code,
        consts,
        names,
        locals,
        filename,
        name,
        qualname,
        // CPython accepts any value here; a negative one is kept as its bit pattern.
        firstlineno: head.firstlineno.unwrap_or(0) as u32,
        linetable,
        exceptiontable,
    };
    check_arg_names(&code, split).map_err(|m| bad(&m))?;
    Ok(code)
}

/// The local-name checks CPython makes when it builds a code object.
fn check_arg_names(code: &CodeObject, split: bool) -> Result<(), String> {
    use crate::code::flags::{VARARGS, VARKEYWORDS};
    let total = code.argcount as u64
        + code.kwonlyargcount as u64
        + u64::from(code.flags & VARARGS != 0)
        + u64::from(code.flags & VARKEYWORDS != 0);
    if split {
        let n = code.varnames().len() as u64;
        if total > n {
            return Err(format!(
                "varnames is too small ({n} names for {total} arguments)"
            ));
        }
    } else {
        if !code.code.len().is_multiple_of(2) {
            return Err(format!(
                "co_code is malformed (odd length {})",
                code.code.len()
            ));
        }
        let n = code.nlocals() as u64;
        if total > n {
            return Err(format!(
                "co_varnames is too small ({n} locals for {total} arguments)"
            ));
        }
    }
    Ok(())
}
