//! The `marshal` pass: the pyc's bytes, each run annotated with what it encodes (header
//! fields, type codes with their reference flag, lengths, code object fields).

use pyc_assembler::marshal::codes::*;
use pyc_assembler::version::LocalsLayout;
use pyc_assembler::PythonVersion;
use serde_json::{json, Value};

/// Bytes per row of payload.
const WIDTH: usize = 16;

struct Dump<'a> {
    data: &'a [u8],
    pos: usize,
    v: PythonVersion,
    rows: Vec<Value>,
    refs: usize,
}

/// The annotated dump of a whole pyc (header, then the marshalled module code object).
pub(super) fn annotate(pyc: &[u8], v: PythonVersion) -> Value {
    let mut d = Dump {
        data: pyc,
        pos: 0,
        v,
        rows: Vec::new(),
        refs: 0,
    };
    d.bytes(4, 0, "magic number (this version's MAGIC_NUMBER)".into());
    d.bytes(
        4,
        0,
        "flags: 0 timestamp, 1 unchecked hash, 3 checked hash".into(),
    );
    d.bytes(8, 0, "source hash (or mtime and size)".into());
    if let Err(e) = d.object(0, "module code object") {
        d.rows
            .push(json!({"offset": d.pos, "hex": "", "depth": 0, "what": format!("error: {e}")}));
    }
    json!({"size": pyc.len(), "rows": d.rows})
}

impl Dump<'_> {
    fn bytes(&mut self, n: usize, depth: usize, what: String) {
        let end = (self.pos + n).min(self.data.len());
        let hex: Vec<String> = self.data[self.pos..end]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.rows
            .push(json!({"offset": self.pos, "hex": hex.join(" "), "depth": depth, "what": what}));
        self.pos = end;
    }

    /// A payload of `n` bytes in rows of [`WIDTH`], the first one described.
    fn payload(&mut self, n: usize, depth: usize, what: String) -> Result<(), String> {
        if self.pos + n > self.data.len() {
            return Err(format!("payload of {n} bytes runs past the end"));
        }
        let mut first = Some(what);
        let mut left = n;
        while left > 0 {
            let k = left.min(WIDTH);
            self.bytes(k, depth, first.take().unwrap_or_default());
            left -= k;
        }
        Ok(())
    }

    fn u32_at(&self, at: usize) -> Result<u32, String> {
        let b = self
            .data
            .get(at..at + 4)
            .ok_or_else(|| "cut short".to_string())?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn int(&mut self, depth: usize, name: &str) -> Result<(), String> {
        let value = self.u32_at(self.pos)? as i32;
        self.bytes(4, depth, format!("{name} = {value}"));
        Ok(())
    }

    fn text(&self, n: usize) -> String {
        let end = (self.pos + n).min(self.data.len());
        let s = String::from_utf8_lossy(&self.data[self.pos..end]);
        let s: String = s.chars().take(40).collect();
        format!("{s:?}")
    }

    fn object(&mut self, depth: usize, role: &str) -> Result<(), String> {
        if depth > 200 {
            return Err("nested too deeply to annotate".into());
        }
        let &byte = self
            .data
            .get(self.pos)
            .ok_or_else(|| "cut short".to_string())?;
        let ty = byte & !FLAG_REF;
        let flag = if byte & FLAG_REF != 0 {
            self.refs += 1;
            format!(", FLAG_REF -> ref {}", self.refs - 1)
        } else {
            String::new()
        };
        let at = self.pos;
        let head = |d: &mut Self, extra: usize, what: String| {
            d.bytes(1 + extra, depth, format!("{role}: {what}{flag}"));
        };
        match ty {
            NONE => head(self, 0, "None".into()),
            TRUE => head(self, 0, "True".into()),
            FALSE => head(self, 0, "False".into()),
            ELLIPSIS => head(self, 0, "Ellipsis".into()),
            STOPITER => head(self, 0, "StopIteration".into()),
            NULL => head(self, 0, "NULL".into()),
            INT => {
                let value = self.u32_at(at + 1)? as i32;
                head(self, 4, format!("int {value}"))
            }
            BINARY_FLOAT => {
                let b = self.data.get(at + 1..at + 9).ok_or("cut short")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                head(self, 8, format!("float {}", f64::from_le_bytes(a)))
            }
            BINARY_COMPLEX => head(self, 16, "complex (two doubles)".into()),
            LONG => {
                let n = self.u32_at(at + 1)? as i32;
                head(
                    self,
                    4,
                    format!(
                        "long, {} 15-bit digits (sign {})",
                        n.unsigned_abs(),
                        n.signum()
                    ),
                );
                self.payload(
                    2 * n.unsigned_abs() as usize,
                    depth + 1,
                    "digits, least significant first".into(),
                )?;
            }
            REF => {
                let n = self.u32_at(at + 1)?;
                head(self, 4, format!("reference to object {n}"))
            }
            SHORT_ASCII | SHORT_ASCII_INTERNED => {
                let n = usize::from(*self.data.get(at + 1).ok_or("cut short")?);
                let kind = if ty == SHORT_ASCII {
                    "short ascii"
                } else {
                    "short ascii, interned"
                };
                head(self, 1, format!("{kind} str of {n}"));
                let t = self.text(n);
                self.payload(n, depth + 1, t)?;
            }
            STRING | UNICODE | ASCII | ASCII_INTERNED | INTERNED => {
                let n = self.u32_at(at + 1)? as usize;
                let kind = match ty {
                    STRING => "bytes",
                    UNICODE => "str (UTF-8)",
                    INTERNED => "str (UTF-8), interned",
                    ASCII => "ascii str",
                    _ => "ascii str, interned",
                };
                head(self, 4, format!("{kind} of {n}"));
                let t = self.text(n);
                self.payload(n, depth + 1, t)?;
            }
            SMALL_TUPLE | TUPLE | LIST | SET | FROZENSET => {
                let (n, extra) = if ty == SMALL_TUPLE {
                    (usize::from(*self.data.get(at + 1).ok_or("cut short")?), 1)
                } else {
                    (self.u32_at(at + 1)? as usize, 4)
                };
                let kind = match ty {
                    SMALL_TUPLE => "small tuple",
                    TUPLE => "tuple",
                    LIST => "list",
                    SET => "set",
                    _ => "frozenset",
                };
                head(self, extra, format!("{kind} of {n}"));
                for i in 0..n {
                    self.object(depth + 1, &format!("[{i}]"))?;
                }
            }
            CODE => {
                head(self, 0, "code object".into());
                self.code(depth + 1)?;
            }
            other => {
                return Err(format!(
                    "type code {:?} at {at} not annotated",
                    other as char
                ))
            }
        }
        Ok(())
    }

    fn code(&mut self, depth: usize) -> Result<(), String> {
        let split = self.v.locals_layout() == LocalsLayout::Split;
        let ints: &[&str] = if split {
            &[
                "co_argcount",
                "co_posonlyargcount",
                "co_kwonlyargcount",
                "co_nlocals",
                "co_stacksize",
                "co_flags",
            ]
        } else {
            &[
                "co_argcount",
                "co_posonlyargcount",
                "co_kwonlyargcount",
                "co_stacksize",
                "co_flags",
            ]
        };
        for name in ints {
            self.int(depth, name)?;
        }
        let objects: &[&str] = if split {
            &[
                "co_code",
                "co_consts",
                "co_names",
                "co_varnames",
                "co_freevars",
                "co_cellvars",
                "co_filename",
                "co_name",
            ]
        } else {
            &[
                "co_code",
                "co_consts",
                "co_names",
                "co_localsplusnames",
                "co_localspluskinds",
                "co_filename",
                "co_name",
                "co_qualname",
            ]
        };
        for name in objects {
            self.object(depth, name)?;
        }
        self.int(depth, "co_firstlineno")?;
        let tables: &[&str] = if split {
            &["co_lnotab / co_linetable"]
        } else {
            &["co_linetable", "co_exceptiontable"]
        };
        for name in tables {
            self.object(depth, name)?;
        }
        Ok(())
    }
}
