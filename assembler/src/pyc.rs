//! pyc files: the 16-byte header of PEP 552 and `importlib.util.source_hash`.
//!
//! A pyc is the four magic bytes of its version, a 32-bit flags word, eight bytes that depend
//! on the flags (source mtime and size, or a hash of the source), then the marshalled module
//! code object.

use std::fmt;
use std::hash::Hasher;

use siphasher::sip::{SipHasher13, SipHasher24};

use crate::code::CodeObject;
use crate::marshal;
use crate::version::{PythonVersion, SipHashVariant};

/// The size of a pyc header (PEP 552).
pub const HEADER_LEN: usize = 16;

/// Flags bit 0: the pyc is validated by a source hash instead of a timestamp.
const FLAG_HASH_BASED: u32 = 0b01;
/// Flags bit 1: with a hash, check it against the source on import.
const FLAG_CHECK_SOURCE: u32 = 0b10;

/// How the import system decides whether a pyc is up to date (PEP 552).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalidation {
    /// The source's modification time and size, both modulo 2**32.
    Timestamp { mtime: u32, source_size: u32 },
    /// `source_hash` of the source, checked on import.
    CheckedHash([u8; 8]),
    /// `source_hash` of the source, trusted without checking.
    UncheckedHash([u8; 8]),
}

/// A parsed pyc header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PycHeader {
    pub version: PythonVersion,
    pub invalidation: Invalidation,
}

/// A pyc file that cannot be read, with the byte offset where the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PycError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PycError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for PycError {}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, PycError> {
    Err(PycError {
        offset,
        message: message.into(),
    })
}

/// The Python release a magic number belongs to, from the history in
/// `importlib/_bootstrap_external.py` (3.11 on, release 3.n uses 2900 + 50n and up).
fn release_of_magic(magic: u16) -> Option<String> {
    const RANGES: [(u16, u16, &str); 11] = [
        (3000, 3140, "3.0"),
        (3140, 3160, "3.1"),
        (3160, 3190, "3.2"),
        (3190, 3250, "3.3"),
        (3250, 3320, "3.4"),
        (3320, 3360, "3.5"),
        (3360, 3390, "3.6"),
        (3390, 3400, "3.7"),
        (3400, 3420, "3.8"),
        (3420, 3430, "3.9"),
        (3430, 3450, "3.10"),
    ];
    if let Some((_, _, v)) = RANGES
        .iter()
        .find(|(lo, hi, _)| (*lo..*hi).contains(&magic))
    {
        return Some(v.to_string());
    }
    match magic {
        3450..=3999 => Some(format!("3.{}", (magic - 2900) / 50)),
        20121..=62211 => Some("2".into()),
        _ => None,
    }
}

/// Reads and checks the 16-byte header, as importlib's `_classify_pyc` does.
pub fn read_header(data: &[u8]) -> Result<PycHeader, PycError> {
    let Some(magic) = data.get(..4) else {
        return err(
            data.len(),
            format!("{} bytes are too few for a pyc magic number", data.len()),
        );
    };
    let magic: [u8; 4] = [magic[0], magic[1], magic[2], magic[3]];
    let Some(version) = PythonVersion::from_magic_bytes(magic) else {
        let number = u16::from_le_bytes([magic[0], magic[1]]);
        let bytes = magic.map(|b| format!("{b:02x}")).join(" ");
        if magic[2..] != *b"\r\n" {
            return err(0, format!("not a pyc file: bad magic bytes {bytes}"));
        }
        let supported = "supported: 3.8 to 3.13";
        return err(
            0,
            match release_of_magic(number) {
                Some(release) => {
                    let final_of = release
                        .parse::<PythonVersion>()
                        .ok()
                        .map(|v| format!(", whose release uses {}", v.magic_number()))
                        .unwrap_or_default();
                    format!(
                        "bad magic number {number} ({bytes}): from Python {release}{final_of} ({supported})"
                    )
                }
                None => format!("unknown magic number {number} ({bytes}) ({supported})"),
            },
        );
    };
    if data.len() < HEADER_LEN {
        return err(
            data.len(),
            format!(
                "EOF while reading the pyc header: {} bytes of {HEADER_LEN}",
                data.len()
            ),
        );
    }
    let word = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let flags = word(4);
    if flags & !(FLAG_HASH_BASED | FLAG_CHECK_SOURCE) != 0 {
        return err(
            4,
            format!("invalid flags {flags:#x} in the pyc header (only bits 0 and 1 are defined)"),
        );
    }
    let mut hash = [0; 8];
    hash.copy_from_slice(&data[8..16]);
    // As in importlib, the check-source bit means nothing without the hash bit.
    let invalidation = if flags & FLAG_HASH_BASED == 0 {
        Invalidation::Timestamp {
            mtime: word(8),
            source_size: word(12),
        }
    } else if flags & FLAG_CHECK_SOURCE != 0 {
        Invalidation::CheckedHash(hash)
    } else {
        Invalidation::UncheckedHash(hash)
    };
    Ok(PycHeader {
        version,
        invalidation,
    })
}

/// Reads a whole pyc: the header, then the module code object, which must end the file.
/// Errors in the code object are reported at their offset in the file.
pub fn read_pyc(data: &[u8]) -> Result<(PycHeader, CodeObject), PycError> {
    let header = read_header(data)?;
    let code = marshal::loads_code(&data[HEADER_LEN..], header.version).map_err(|e| PycError {
        offset: e.offset + HEADER_LEN,
        message: e.message,
    })?;
    Ok((header, code))
}

/// The 16 header bytes.
pub fn header_bytes(header: &PycHeader) -> [u8; HEADER_LEN] {
    let (flags, rest) = match header.invalidation {
        Invalidation::Timestamp { mtime, source_size } => {
            let mut rest = [0; 8];
            rest[..4].copy_from_slice(&mtime.to_le_bytes());
            rest[4..].copy_from_slice(&source_size.to_le_bytes());
            (0, rest)
        }
        Invalidation::CheckedHash(h) => (FLAG_HASH_BASED | FLAG_CHECK_SOURCE, h),
        Invalidation::UncheckedHash(h) => (FLAG_HASH_BASED, h),
    };
    let mut out = [0; HEADER_LEN];
    out[..4].copy_from_slice(&header.version.magic_bytes());
    out[4..8].copy_from_slice(&u32::to_le_bytes(flags));
    out[8..].copy_from_slice(&rest);
    out
}

/// A whole pyc: the header, then the code object as [`marshal::dumps_code`] writes it.
pub fn write_pyc(header: &PycHeader, code: &CodeObject) -> Vec<u8> {
    marshal::dumps_code_after(&header_bytes(header), code, header.version)
}

/// `importlib.util.source_hash(source)` of version `v`: SipHash keyed with the magic number
/// (and 0), little-endian. 3.8–3.10 use SipHash-2-4, 3.11+ SipHash-1-3.
pub fn source_hash(v: PythonVersion, source: &[u8]) -> [u8; 8] {
    let key = v.source_hash_key();
    let hash = match v.source_hash_variant() {
        SipHashVariant::Sip24 => {
            let mut h = SipHasher24::new_with_keys(key, 0);
            h.write(source);
            h.finish()
        }
        SipHashVariant::Sip13 => {
            let mut h = SipHasher13::new_with_keys(key, 0);
            h.write(source);
            h.finish()
        }
    };
    hash.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{Constant, Locals, PyStr};

    /// `importlib.util.source_hash` of each version, for the inputs of `hash_inputs`,
    /// as printed by the real interpreters.
    const EXPECTED: [(PythonVersion, [&str; 15]); 6] = [
        (
            PythonVersion::V3_8,
            [
                "81e4881b3643e8e9",
                "9a482bdd2aa28b77",
                "d55899e14c4ed633",
                "cdfe194f45691474",
                "02aa09843099c453",
                "549529d03ffcd791",
                "674fb67bb17a602e",
                "c011868e0c7e3cad",
                "1ccec927de48c3ec",
                "b6578d250b37c656",
                "e406a6c42169ad39",
                "0e3a7640216ecb18",
                "78d4994d5eca2354",
                "fab399247f3f6050",
                "cf8a70e380c8d364",
            ],
        ),
        (
            PythonVersion::V3_9,
            [
                "ac0bb7c83e5b1c5f",
                "2fe27d18d3549d18",
                "c70f3d0d4f37bbfb",
                "361f0027dbc6db99",
                "311f502e2a8935c6",
                "9ab31174f9979e7d",
                "e5fc4aed9709aa75",
                "2850a36fd215f337",
                "08acb926c79b8040",
                "9146a7e4ceab9f7b",
                "39c2219a947127a2",
                "93386cafad0d7568",
                "1b64a99c8e43e334",
                "c36ea2d3f9ac3f38",
                "9a60fcb85b40fdd3",
            ],
        ),
        (
            PythonVersion::V3_10,
            [
                "8cc0cd2525e7fd27",
                "3f75554bda1e742f",
                "3c6b07785856e5bd",
                "435b6a4bbf3d9415",
                "d3b33f0b75942e7a",
                "b59eaa0f65006709",
                "763abe9ba895c82f",
                "dc92dfc5df5381a0",
                "f3dc82f1450cade2",
                "b8b2b03f109dc4e8",
                "e5a9b1c29439ca8f",
                "79c366e6e38618e5",
                "51461cb96b0c47ed",
                "62d2de8b60d0f96b",
                "ce1247293fbf4d04",
            ],
        ),
        (
            PythonVersion::V3_11,
            [
                "738d9cd5d5e87f73",
                "fa30db0730dcbf07",
                "3927419a81fb762c",
                "c7af82e77c1da4f5",
                "03cba3eb043fad21",
                "c774bf0dc4743452",
                "144c2d539364d310",
                "9b58a82378e1d95f",
                "a705b39c25edd8a5",
                "e428a4f8cd79259b",
                "079db2d3d6d46ae6",
                "b4b69b316a380bc3",
                "de8f2668cdc2c7b5",
                "e7924841fbd90364",
                "c9e573189daa009a",
            ],
        ),
        (
            PythonVersion::V3_12,
            [
                "baf18eedc9387a25",
                "8724e43a54b7eb49",
                "28737173a4772832",
                "a00f5731f8bafd32",
                "1beebba925b7daf1",
                "32aea0b905a4fd6f",
                "b16c61551f568d90",
                "938168dfd8fcccf4",
                "8a99407cdd8ad4fc",
                "b7ac9f47e285a5ee",
                "041e7e0626a3e591",
                "4901ef3ff28c0a82",
                "4e733a1fecc26b10",
                "56217e6df0b58f51",
                "8109d5061012c75a",
            ],
        ),
        (
            PythonVersion::V3_13,
            [
                "27ec6d312f93b814",
                "4edf51a8923be584",
                "221135ea0415fdc6",
                "c9ff551a534790a0",
                "c010e32ac5df977e",
                "7f6e5191e033faa4",
                "7a608f2f9be235f9",
                "5938e0b96d03c544",
                "688580b078b36f08",
                "af7a8a21f813eb3a",
                "21c95a0aa18d1b0d",
                "bcff2109bfaca3a0",
                "07a048f7d2d8e9d3",
                "5e46167e6ae3f757",
                "6707382481987754",
            ],
        ),
    ];

    /// Empty, 1 to 9 bytes, 16 and 17 bytes (around SipHash's 8-byte blocks), a line of
    /// code, non-ASCII UTF-8 and 1280 bytes.
    fn hash_inputs() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = (0..10).map(|n| b"abcdefghi"[..n].to_vec()).collect();
        v.push((1..17).collect());
        v.push((0..17).collect());
        v.push(b"print('hello')\n".to_vec());
        v.push("h\u{e9}llo w\u{f6}rld \u{2603}\n".as_bytes().to_vec());
        v.push((0..=255u8).cycle().take(1280).collect());
        v
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn source_hash_matches_every_interpreter() {
        let inputs = hash_inputs();
        for (v, expected) in EXPECTED {
            for (input, want) in inputs.iter().zip(expected) {
                assert_eq!(hex(&source_hash(v, input)), want, "{v}, {input:?}");
            }
        }
    }

    fn module() -> CodeObject {
        CodeObject {
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            stacksize: 1,
            flags: 0,
            code: vec![100, 0, 83, 0],
            consts: vec![Constant::None],
            names: vec![],
            locals: Locals::Split {
                nlocals: 0,
                varnames: vec![],
                cellvars: vec![],
                freevars: vec![],
            },
            filename: PyStr::from("m.py"),
            name: PyStr::from("<module>"),
            qualname: None,
            firstlineno: 1,
            linetable: vec![],
            exceptiontable: vec![],
        }
    }

    #[test]
    fn headers_round_trip() {
        for v in PythonVersion::ALL {
            for invalidation in [
                Invalidation::Timestamp {
                    mtime: 0x6543_2100,
                    source_size: 77,
                },
                Invalidation::CheckedHash(*b"12345678"),
                Invalidation::UncheckedHash(*b"abcdefgh"),
            ] {
                let h = PycHeader {
                    version: v,
                    invalidation,
                };
                let bytes = header_bytes(&h);
                assert_eq!(bytes[..4], v.magic_bytes());
                assert_eq!(read_header(&bytes), Ok(h));
            }
        }
        let h = PycHeader {
            version: PythonVersion::V3_8,
            invalidation: Invalidation::CheckedHash([9; 8]),
        };
        assert_eq!(header_bytes(&h)[4..8], [3, 0, 0, 0]);
    }

    #[test]
    fn whole_pyc_round_trips() {
        let h = PycHeader {
            version: PythonVersion::V3_9,
            invalidation: Invalidation::UncheckedHash([1; 8]),
        };
        let pyc = write_pyc(&h, &module());
        assert_eq!(read_pyc(&pyc), Ok((h, module())));
    }

    #[test]
    fn header_errors() {
        let e = read_header(b"\xa7\x0d").unwrap_err();
        assert_eq!(e.offset, 2);
        let e = read_header(b"\x42\x0d\r\n\0\0\0\0\0\0\0\0\0\0\0\0").unwrap_err();
        assert!(
            e.message.contains("3394") && e.message.contains("3.7"),
            "{e}"
        );
        // 3600: a 3.14 alpha.
        let e = read_header(b"\x10\x0e\r\n\0\0\0\0\0\0\0\0\0\0\0\0").unwrap_err();
        assert!(
            e.message.contains("3.14") && e.message.contains("3627"),
            "{e}"
        );
        let e = read_header(b"\x49\x0d\r\n\0\0\0\0\0\0\0\0\0\0\0\0").unwrap_err();
        assert!(
            e.message.contains("3401") && e.message.contains("3.8") && e.message.contains("3413"),
            "{e}"
        );
        let e = read_header(b"\x00\x00\r\n").unwrap_err();
        assert!(e.message.starts_with("unknown magic number 0"), "{e}");
        let e = read_header(b"PK\x03\x04").unwrap_err();
        assert!(e.message.contains("not a pyc"), "{e}");
        let v = PythonVersion::V3_12.magic_bytes();
        let e = read_header(&v).unwrap_err();
        assert_eq!((e.offset, e.message.contains("EOF")), (4, true));
        let mut bytes = header_bytes(&PycHeader {
            version: PythonVersion::V3_12,
            invalidation: Invalidation::UncheckedHash([0; 8]),
        });
        bytes[4] = 4;
        let e = read_header(&bytes).unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.message.contains("invalid flags 0x4"), "{e}");
        // As importlib does, the check-source bit alone means a timestamp pyc.
        bytes[4] = 2;
        assert!(matches!(
            read_header(&bytes).map(|h| h.invalidation),
            Ok(Invalidation::Timestamp { .. })
        ));
    }

    #[test]
    fn code_errors_are_reported_at_file_offsets() {
        let h = PycHeader {
            version: PythonVersion::V3_10,
            invalidation: Invalidation::Timestamp {
                mtime: 1,
                source_size: 2,
            },
        };
        let mut pyc = write_pyc(&h, &module());
        let len = pyc.len();
        pyc.truncate(len - 3);
        let e = read_pyc(&pyc).unwrap_err();
        assert!(e.offset >= HEADER_LEN && e.offset <= pyc.len(), "{e}");
        let mut pyc = header_bytes(&h).to_vec();
        pyc.push(b'N');
        let e = read_pyc(&pyc).unwrap_err();
        assert_eq!(e.offset, HEADER_LEN);
        assert!(e.message.contains("code object"), "{e}");
    }
}
