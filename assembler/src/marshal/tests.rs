use num_bigint::BigInt;

use super::codes::*;
use super::samples::BLOBS;
use super::*;
use crate::code::{local_kind, LocalPlus, Locals, PyStr};
use crate::pyc;

const V: PythonVersion = PythonVersion::V3_12;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn samples() -> Vec<(PythonVersion, Vec<u8>)> {
    BLOBS.iter().map(|(v, h)| (*v, unhex(h))).collect()
}

fn i32le(x: i32) -> [u8; 4] {
    x.to_le_bytes()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn load(b: &[u8]) -> Constant {
    loads(b, V).unwrap_or_else(|e| panic!("{e} in {b:02x?}"))
}

fn load_err(b: &[u8]) -> MarshalError {
    match loads(b, V) {
        Err(e) => e,
        Ok(c) => panic!("{b:02x?} loaded as {c:?}"),
    }
}

/// Loads a blob and checks that its layout reproduces it exactly.
fn lossless(b: &[u8]) -> Constant {
    let (c, layout) = loads_with_layout(b, V).unwrap();
    assert_eq!(dumps_with_layout(&c, &layout, V).unwrap(), b);
    c
}

fn int(i: i64) -> Constant {
    Constant::int(i)
}

fn big(s: &str) -> Constant {
    Constant::Int(s.parse::<BigInt>().unwrap())
}

#[test]
fn singletons() {
    for (b, c) in [
        (b"N", Constant::None),
        (b"T", Constant::Bool(true)),
        (b"F", Constant::Bool(false)),
        (b"S", Constant::StopIteration),
        (b".", Constant::Ellipsis),
    ] {
        assert_eq!(lossless(b), c);
        assert_eq!(dumps(&c, V), b);
    }
}

/// Values with the bytes CPython's `marshal.dumps` writes for them (`FLAG_REF` cleared).
#[test]
fn numbers_match_cpython() {
    let cases = [
        (int(0), "6900000000"),
        (int(-1), "69ffffffff"),
        (int(i32::MAX as i64), "69ffffff7f"),
        (int(i32::MIN as i64), "6900000080"),
        (big("2147483648"), "6c03000000000000000200"),
        (big("-2147483649"), "6cfdffffff010000000200"),
        (big("4611686018427387904"), "6c0500000000000000000000000400"),
        (
            big("-1000000000000000000000000000000"),
            "6cf9ffffff00000000a937a733044d93652703",
        ),
        (
            big("1267650600228229401496703205376"),
            "6c070000000000000000000000000000000004",
        ),
        (Constant::Float(1.5), "67000000000000f83f"),
        (Constant::Float(-0.0), "670000000000000080"),
        (
            Constant::Complex { re: 1.0, im: -2.0 },
            "79000000000000f03f00000000000000c0",
        ),
        (Constant::Bytes(b"xy".to_vec()), "73020000007879"),
        (Constant::Tuple(vec![]), "2900"),
        (
            Constant::Tuple(vec![int(1), Constant::Float(2.5)]),
            "2902e901000000670000000000000440",
        ),
        (Constant::FrozenSet(vec![]), "3e00000000"),
    ];
    for (c, hex) in cases {
        let mut expected = unhex(hex);
        // CPython flags objects that have more than one reference; ours are not shared.
        for (i, b) in expected.iter_mut().enumerate() {
            if i == 0 || (hex == "2902e901000000670000000000000440" && i == 2) {
                *b &= !FLAG_REF;
            }
        }
        assert_eq!(dumps(&c, V), expected, "{c:?}");
        assert_eq!(lossless(&expected), c);
    }
}

#[test]
fn int64_and_unusual_longs() {
    let b = cat(&[b"I", &(1i64 << 40).to_le_bytes()]);
    assert_eq!(lossless(&b), Constant::Int(BigInt::from(1i64 << 40)));
    assert_eq!(dumps(&load(&b), V)[0], LONG);
    // A TYPE_LONG holding a small value (CPython would write TYPE_INT) and zero.
    assert_eq!(lossless(&cat(&[b"l", &i32le(-1), &[5, 0]])), int(-5));
    assert_eq!(lossless(&cat(&[b"l", &i32le(0)])), int(0));
    // Digits cross the 32-bit word boundaries of the bit packing.
    for s in [
        "340282366920938463463374607431768211455",
        "-98765432109876543210987654321",
    ] {
        assert_eq!(load(&dumps(&big(s), V)), big(s));
    }
}

#[test]
fn long_errors() {
    let e = load_err(&cat(&[b"l", &i32le(1), &[0, 0]]));
    assert!(e.message.contains("unnormalized"), "{e}");
    assert_eq!(e.offset, 5);
    let e = load_err(&cat(&[b"l", &i32le(2), &[1, 0, 0, 0x80]]));
    assert!(e.message.contains("out of range"), "{e}");
    assert_eq!(e.offset, 7);
    let e = load_err(&cat(&[b"l", &i32le(i32::MIN)]));
    assert!(e.message.contains("size out of range"), "{e}");
    let e = load_err(&cat(&[b"l", &i32le(1_000_000), &[1, 0]]));
    assert!(e.message.contains("too short"), "{e}");
}

#[test]
fn floats() {
    assert_eq!(
        lossless(&cat(&[b"g", &(-2.25f64).to_le_bytes()])),
        Constant::Float(-2.25)
    );
    let nan = load(&cat(&[b"g", &f64::NAN.to_le_bytes()]));
    assert_eq!(dumps(&nan, V), cat(&[b"g", &f64::NAN.to_le_bytes()]));
    for (text, value) in [
        (&b"1.5"[..], 1.5),
        (b"-inf", f64::NEG_INFINITY),
        (b"Infinity", f64::INFINITY),
        (b"1e400", f64::INFINITY),
        (b"+.5", 0.5),
        (b"2.\0junk", 2.0),
    ] {
        let b = cat(&[b"f", &[text.len() as u8], text]);
        assert_eq!(lossless(&b), Constant::Float(value), "{text:?}");
        assert_eq!(dumps(&load(&b), V), cat(&[b"g", &value.to_le_bytes()]));
    }
    assert!(matches!(load(b"f\x03NaN"), Constant::Float(f) if f.is_nan()));
    for bad in [&b""[..], b"abc", b"1.5x", b" 1", b"--1", b"1_0"] {
        let e = load_err(&cat(&[b"f", &[bad.len() as u8], bad]));
        assert!(e.message.contains("text float"), "{bad:?}: {e}");
    }
    let c = lossless(b"x\x031.5\x04-2e1");
    assert_eq!(c, Constant::Complex { re: 1.5, im: -20.0 });
    assert_eq!(dumps(&c, V)[0], BINARY_COMPLEX);
    let y = cat(&[b"y", &1.0f64.to_le_bytes(), &2.0f64.to_le_bytes()]);
    assert_eq!(lossless(&y), Constant::Complex { re: 1.0, im: 2.0 });
}

#[test]
fn strings() {
    let s = |t: &str| Constant::str(t);
    assert_eq!(
        lossless(b"s\x02\x00\x00\x00\x00b"),
        Constant::Bytes(vec![0, b'b'])
    );
    for code in [UNICODE, INTERNED] {
        let b = cat(&[&[code], &i32le(5), "caf\u{e9}".as_bytes()]);
        assert_eq!(lossless(&b), s("caf\u{e9}"));
    }
    // Surrogates pass, as with CPython's "surrogatepass".
    let sur = lossless(b"u\x03\x00\x00\x00\xed\xb3\xbf");
    assert_eq!(sur, Constant::Str(PyStr::from_code_points([0xdcff])));
    assert_eq!(dumps(&sur, V), b"u\x03\x00\x00\x00\xed\xb3\xbf");
    // The ASCII forms are read as Latin-1, as CPython does.
    for b in [
        &b"z\x04caf\xe9"[..],
        b"Z\x04caf\xe9",
        b"a\x04\x00\x00\x00caf\xe9",
        b"A\x04\x00\x00\x00caf\xe9",
    ] {
        assert_eq!(lossless(b), s("caf\u{e9}"));
    }
    assert_eq!(dumps(&s("caf\u{e9}"), V), b"u\x05\x00\x00\x00caf\xc3\xa9");
    assert_eq!(dumps(&s("abc"), V), b"z\x03abc");
    assert_eq!(dumps(&s(""), V), b"z\x00");
    let long = "a".repeat(256);
    assert_eq!(
        dumps(&s(&long), V),
        cat(&[b"a", &i32le(256), long.as_bytes()])
    );
    let short = "a".repeat(255);
    assert_eq!(dumps(&s(&short), V), cat(&[b"z\xff", short.as_bytes()]));
    assert_eq!(lossless(b"u\x00\x00\x00\x00"), s(""));
    let e = load_err(b"u\x02\x00\x00\x00a\xff");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("UTF-8"), "{e}");
    let e = load_err(b"u\x02\x00\x00\x00\xc0\x80");
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn tuples_and_frozensets() {
    let t = lossless(b")\x02Ni\x07\x00\x00\x00");
    assert_eq!(t, Constant::Tuple(vec![Constant::None, int(7)]));
    let big_t = cat(&[b"(", &i32le(256), &[b'N'; 256]]);
    let c = lossless(&big_t);
    assert_eq!(dumps(&c, V), big_t);
    let small = cat(&[b")\xff", &[b'N'; 255]]);
    assert_eq!(dumps(&lossless(&small), V), small);
    assert_eq!(lossless(b"(\x00\x00\x00\x00"), Constant::Tuple(vec![]));
    let fs = lossless(b">\x02\x00\x00\x00z\x01bz\x01a");
    assert_eq!(
        fs,
        Constant::FrozenSet(vec![Constant::str("a"), Constant::str("b")])
    );
    // 3.11+ sorts members by their marshal bytes; 3.8–3.10 keep the order given.
    assert_eq!(dumps(&fs, V), b">\x02\x00\x00\x00z\x01az\x01b");
    assert_eq!(
        dumps(&fs, PythonVersion::V3_10),
        b">\x02\x00\x00\x00z\x01bz\x01a"
    );
}

#[test]
fn references() {
    // A flagged string and a reference to it.
    let c = lossless(b")\x02\xda\x01ar\x00\x00\x00\x00");
    assert_eq!(c, Constant::Tuple(vec![Constant::str("a"); 2]));
    // Flagged singletons take no index: `r 0` is the string.
    let c = lossless(b")\x03\xce\xda\x01ar\x00\x00\x00\x00");
    assert_eq!(
        c,
        Constant::Tuple(vec![Constant::None, Constant::str("a"), Constant::str("a")])
    );
    // A flagged tuple reserves its index before its members.
    let c = lossless(b")\x02\xa9\x02\xda\x01ar\x01\x00\x00\x00r\x00\x00\x00\x00");
    let inner = Constant::Tuple(vec![Constant::str("a"); 2]);
    assert_eq!(c, Constant::Tuple(vec![inner.clone(), inner]));
    // So does a flagged frozenset; an empty one is registered at once.
    let c = lossless(
        b")\x03\xbe\x01\x00\x00\x00\xe9\x01\x00\x00\x00r\x01\x00\x00\x00r\x00\x00\x00\x00",
    );
    let fs = Constant::FrozenSet(vec![int(1)]);
    assert_eq!(c, Constant::Tuple(vec![fs.clone(), int(1), fs]));
    let c = lossless(b")\x02\xbe\x00\x00\x00\x00r\x00\x00\x00\x00");
    assert_eq!(c, Constant::Tuple(vec![Constant::FrozenSet(vec![]); 2]));
    // A reference whose own type byte is flagged (CPython ignores the flag).
    let c = lossless(b")\x02\xe9\x05\x00\x00\x00\xf2\x00\x00\x00\x00");
    assert_eq!(c, Constant::Tuple(vec![int(5), int(5)]));
    // Every registering type code, flagged and referenced.
    for leaf in [
        &b"\xe9\x01\x00\x00\x00"[..],
        b"\xc9\x01\x00\x00\x00\x00\x00\x00\x00",
        b"\xec\x01\x00\x00\x00\x01\x00",
        b"\xe7\x00\x00\x00\x00\x00\x00\xf8\x3f",
        b"\xe6\x011",
        b"\xf9\x00\x00\x00\x00\x00\x00\xf8\x3f\x00\x00\x00\x00\x00\x00\xf8\x3f",
        b"\xf8\x011\x012",
        b"\xf3\x01\x00\x00\x00x",
        b"\xf5\x01\x00\x00\x00x",
        b"\xf4\x01\x00\x00\x00x",
        b"\xe1\x01\x00\x00\x00x",
        b"\xc1\x01\x00\x00\x00x",
        b"\xfa\x01x",
        b"\xda\x01x",
        b"\xa8\x01\x00\x00\x00N",
    ] {
        let b = cat(&[b")\x02", leaf, b"r\x00\x00\x00\x00"]);
        let Constant::Tuple(items) = lossless(&b) else {
            panic!()
        };
        assert_eq!(items[0], items[1], "{leaf:02x?}");
    }
}

#[test]
fn reference_errors() {
    let e = load_err(b"r\x00\x00\x00\x00");
    assert!(e.message.contains("invalid reference 0"), "{e}");
    let e = load_err(b")\x02\xda\x01ar\xff\xff\xff\xff");
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("invalid reference -1"), "{e}");
    for b in [
        &b"\xa9\x01r\x00\x00\x00\x00"[..],
        b"\xbe\x01\x00\x00\x00r\x00\x00\x00\x00",
    ] {
        let e = load_err(b);
        assert!(e.message.contains("still being built"), "{e}");
    }
    // A code object referring to itself from its constants.
    let code = dumps_code(&sample_code(PythonVersion::V3_12), V);
    let mut b = code.clone();
    b[0] |= FLAG_REF;
    let consts = b.iter().position(|&x| x == SMALL_TUPLE).unwrap();
    b.splice(consts + 2..consts + 3, *b"r\x00\x00\x00\x00");
    let e = load_err(&b);
    assert!(e.message.contains("still being built"), "{e}");
}

#[test]
fn reference_bombs_are_refused() {
    // Each level is a flagged pair of references to the level below: 2**60 copies.
    let mut b = vec![];
    for _ in 0..60 {
        b.extend(b"\xa9\x02");
    }
    b.extend(b"\xf3\x10\x00\x00\x00");
    b.extend([b'x'; 16]);
    for level in (0..60).rev() {
        // Close level `level`: its second member is a reference to its first.
        b.extend(b"r");
        b.extend(i32le(level + 1));
    }
    let e = load_err(&b);
    assert!(e.message.contains("reference bomb"), "{e}");
}

#[test]
fn unsupported_and_unknown_codes() {
    for (b, what) in [
        (&b"[\x00\x00\x00\x00"[..], "list"),
        (b"{0", "dict"),
        (b"<\x00\x00\x00\x00", "set"),
        (b"0", "NULL"),
    ] {
        let e = load_err(b);
        assert!(e.message.contains(what) && e.message.contains("not a code object constant"));
    }
    for b in [&b"?"[..], b"\x01", b":", b"\xff"] {
        let e = load_err(b);
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("unknown type code"), "{e}");
    }
}

#[test]
fn structural_errors() {
    let e = load_err(b"");
    assert_eq!(
        (e.offset, e.message.as_str()),
        (0, "EOF read where object expected")
    );
    let e = load_err(b"NN");
    assert_eq!(e.offset, 1);
    assert!(e.message.contains("trailing"), "{e}");
    for (b, what) in [
        (cat(&[b"s", &i32le(-1)]), "bytes"),
        (cat(&[b"u", &i32le(-5)]), "str"),
        (cat(&[b"(", &i32le(-1)]), "tuple"),
        (cat(&[b">", &i32le(i32::MIN)]), "frozenset"),
    ] {
        let e = load_err(&b);
        assert_eq!(e.offset, 1);
        assert!(
            e.message.contains("negative size") && e.message.contains(what),
            "{e}"
        );
    }
    // Lying sizes fail before anything is allocated for them.
    for b in [
        cat(&[b"(", &i32le(i32::MAX), b"NNN"]),
        cat(&[b"s", &i32le(i32::MAX), b"abc"]),
        cat(&[b">", &i32le(i32::MAX), b"N"]),
        b")\xffN".to_vec(),
    ] {
        let e = load_err(&b);
        assert!(e.message.contains("too short"), "{e}");
    }
    let e = load_err(b")\x02)\x00");
    assert_eq!(
        (e.offset, e.message.as_str()),
        (4, "EOF read where object expected")
    );
    let e = load_err(b"i\x01\x00");
    assert_eq!(e.offset, 1);
    assert!(e.message.contains("needs 4 bytes, 2 remain"), "{e}");
}

#[test]
fn nesting_limit() {
    let nest = |n: usize| cat(&[&b")\x01".repeat(n), b"N"]);
    // The innermost None is at depth MAX_DEPTH: accepted; one more level is not.
    let c = lossless(&nest(MAX_DEPTH - 1));
    let mut depth = 1;
    let mut at = &c;
    while let Constant::Tuple(items) = at {
        depth += 1;
        at = &items[0];
    }
    assert_eq!(depth, MAX_DEPTH);
    assert_eq!(loads(&dumps(&c, V), V), Ok(c.clone()));
    // Nested frozensets of two members each, at the limit, dump without nesting sorts.
    let sets = cat(&[&b">\x02\x00\x00\x00N".repeat(MAX_DEPTH - 1), b"N"]);
    let d = dumps(&load(&sets), V);
    assert_eq!(dumps(&load(&d), V), d);
    // A reference to such a value is checked in linear time.
    let flagged = cat(&[b")\x02\xbe", &sets[7..], b"r\x00\x00\x00\x00"]);
    lossless(&flagged);
    let e = load_err(&nest(MAX_DEPTH));
    assert_eq!(e.offset, 2 * MAX_DEPTH);
    assert!(e.message.contains("nested deeper than 2000"), "{e}");
    // Deeper input is refused at the same place, without exhausting the stack.
    let e = load_err(&nest(200_000));
    assert_eq!(e.offset, 2 * MAX_DEPTH);
}

fn sample_code(v: PythonVersion) -> CodeObject {
    let locals = if v.locals_layout() == crate::version::LocalsLayout::Split {
        Locals::Split {
            nlocals: 2,
            varnames: vec!["a".into(), "b".into()],
            cellvars: vec!["a".into()],
            freevars: vec![],
        }
    } else {
        Locals::Plus(vec![
            LocalPlus {
                name: "a".into(),
                kind: local_kind::LOCAL | local_kind::CELL,
            },
            LocalPlus {
                name: "b".into(),
                kind: local_kind::LOCAL,
            },
        ])
    };
    CodeObject {
        argcount: 1,
        posonlyargcount: 0,
        kwonlyargcount: 0,
        stacksize: 2,
        flags: 3,
        code: vec![100, 0, 83, 0],
        consts: vec![
            Constant::None,
            Constant::str("name_like"),
            Constant::str("not a name"),
        ],
        names: vec!["print".into(), "a".into()],
        locals,
        filename: "f.py".into(),
        name: "f".into(),
        qualname: v.has_qualname().then(|| "C.f".into()),
        firstlineno: 7,
        linetable: vec![1, 2],
        exceptiontable: if v.has_exception_table() {
            vec![3]
        } else {
            vec![]
        },
    }
}

#[test]
fn code_objects_round_trip_in_both_layouts() {
    for v in PythonVersion::ALL {
        let code = sample_code(v);
        let b = dumps_code(&code, v);
        assert_eq!(loads_code(&b, v), Ok(code.clone()), "{v}");
        // Names are interned and shared: `a` is written once, then referenced.
        let a_flagged = b.windows(3).filter(|w| *w == b"\xda\x01a").count();
        assert_eq!(a_flagged, 1, "{v}");
        assert!(
            b.windows(3).any(|w| w == b"\xda\x09n"),
            "{v}: name-like constant interned"
        );
        assert!(
            b.windows(3).any(|w| w == b"z\x0an"),
            "{v}: other constant not interned"
        );
        let (c, layout) = loads_with_layout(&b, v).unwrap();
        assert_eq!(dumps_with_layout(&c, &layout, v), Ok(b));
        let e = loads_code(b"N", v).unwrap_err();
        assert!(e.message.contains("expected a code object"), "{e}");
    }
}

#[test]
fn code_layouts_convert_between_versions() {
    let old = sample_code(PythonVersion::V3_10);
    let new = loads_code(&dumps_code(&old, V), V).unwrap();
    assert_eq!(new.locals, sample_code(V).locals);
    assert_eq!(new.qualname, Some(PyStr::from("f")));
    let back = loads_code(&dumps_code(&new, PythonVersion::V3_9), PythonVersion::V3_9).unwrap();
    assert_eq!(back.locals, old.locals);
    assert_eq!(back.qualname, None);
}

/// Rewrites one integer field of `code` as written by `dumps_code` (field index in the head).
fn with_head(v: PythonVersion, code: &CodeObject, field: usize, value: i32) -> Vec<u8> {
    let mut b = dumps_code(code, v);
    b[1 + 4 * field..5 + 4 * field].copy_from_slice(&i32le(value));
    b
}

#[test]
fn code_object_checks() {
    let v8 = PythonVersion::V3_8;
    for (v, field, value) in [
        (v8, 0, -1),
        (v8, 1, 2),
        (v8, 2, -1),
        (v8, 3, -1),
        (v8, 4, -1),
        (v8, 5, -1),
        (V, 3, -1),
    ] {
        let e = loads(&with_head(v, &sample_code(v), field, value), v).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("negative or inconsistent"), "{e}");
    }
    // Too few local names for the arguments.
    for v in [v8, V] {
        let e = loads(&with_head(v, &sample_code(v), 0, 3), v).unwrap_err();
        assert!(e.message.contains("too small"), "{v}: {e}");
    }
    let mut odd = sample_code(V);
    odd.code.push(0);
    let e = loads(&dumps_code(&odd, V), V).unwrap_err();
    assert!(e.message.contains("co_code is malformed"), "{e}");
    // 3.8 had no such check.
    let mut odd8 = sample_code(v8);
    odd8.code.push(0);
    assert_eq!(loads_code(&dumps_code(&odd8, v8), v8), Ok(odd8));
    // A non-string in co_names.
    let b = dumps_code(&sample_code(V), V);
    let names = b.windows(2).position(|w| w == b"\x29\x02").unwrap();
    let mut bad = b.clone();
    bad.splice(names + 2..names + 9, *b"\xe9\x01\x00\x00\x00");
    let e = loads(&bad, V).unwrap_err();
    assert!(
        e.message.contains("non-string found in code slot co_names"),
        "{e}"
    );
    // Kinds and names of different lengths (3.11+).
    let kinds = b
        .windows(7)
        .position(|w| w == b"s\x02\x00\x00\x00\x60\x20")
        .unwrap();
    let mut bad = b.clone();
    bad.splice(kinds..kinds + 7, *b"s\x01\x00\x00\x00\x60");
    let e = loads(&bad, V).unwrap_err();
    assert!(e.message.contains("2 local names but 1 kinds"), "{e}");
    // A field of the wrong type.
    let mut bad = b.clone();
    bad.splice(21..30, *b"N");
    let e = loads(&bad, V).unwrap_err();
    assert!(e.message.contains("co_code must be bytes"), "{e}");
    // A negative first line number is kept as it is.
    let b = dumps_code(&sample_code(V), V);
    let fl = b.len() - 4 - 7 - 6;
    let mut neg = b.clone();
    neg[fl..fl + 4].copy_from_slice(&i32le(-2));
    let c = loads_code(&neg, V).unwrap();
    assert_eq!(c.firstlineno as i32, -2);
    assert_eq!(dumps_code(&c, V), neg);
}

#[test]
fn layout_mismatches_are_errors() {
    let b = b")\x02\xda\x01ar\x00\x00\x00\x00";
    let (c, layout) = loads_with_layout(b, V).unwrap();
    let items = layout.items().to_vec();
    assert_eq!(
        items,
        vec![
            LayoutItem::Object(SMALL_TUPLE),
            LayoutItem::Object(SHORT_ASCII_INTERNED | FLAG_REF),
            LayoutItem::Ref {
                index: 0,
                flagged: false
            },
        ]
    );
    assert_eq!(layout.flagged_objects(), 1);
    let other = Constant::Tuple(vec![Constant::str("a"), Constant::str("b")]);
    let e = dumps_with_layout(&other, &layout, V).unwrap_err();
    assert_eq!(e.offset, 5);
    assert!(e.message.contains("refers to object 0"), "{e}");
    let ints = Constant::Tuple(vec![int(1), int(1)]);
    let e = dumps_with_layout(&ints, &layout, V).unwrap_err();
    assert!(e.message.contains("type code 0xda"), "{e}");
    let e = dumps_with_layout(&Constant::Tuple(vec![Constant::str("a"); 3]), &layout, V);
    assert!(e.unwrap_err().message.contains("layout ended"));
    let e = dumps_with_layout(&Constant::Tuple(vec![Constant::str("a")]), &layout, V);
    assert!(e.unwrap_err().message.contains("1 layout items left"));
    let long = Constant::Tuple(vec![Constant::str(&"a".repeat(300)); 2]);
    assert!(dumps_with_layout(&long, &layout, V).is_err());
    let nonlatin = Constant::Tuple(vec![Constant::str("\u{3b1}"); 2]);
    assert!(dumps_with_layout(&nonlatin, &layout, V).is_err());
    // Text floats must spell the value.
    let (_, layout) = loads_with_layout(b"f\x031.5", V).unwrap();
    let e = dumps_with_layout(&Constant::Float(2.5), &layout, V).unwrap_err();
    assert!(e.message.contains("does not spell"), "{e}");
    // A singleton never stands behind a reference.
    let refs = Layout::from_items(vec![
        LayoutItem::Object(SMALL_TUPLE),
        LayoutItem::Object(NONE | FLAG_REF),
        LayoutItem::Ref {
            index: 0,
            flagged: false,
        },
    ]);
    let nones = Constant::Tuple(vec![Constant::None; 2]);
    assert!(dumps_with_layout(&nones, &refs, V).is_err());
    assert_eq!(
        dumps_with_layout(&c, &Layout::default(), V)
            .unwrap_err()
            .offset,
        0
    );
}

#[test]
fn cpython_samples() {
    for (v, blob) in samples() {
        let (c, layout) = loads_with_layout(&blob, v).unwrap();
        assert_eq!(dumps_with_layout(&c, &layout, v).unwrap(), blob, "{v}");
        let again = dumps(&c, v);
        assert_eq!(loads(&again, v).unwrap(), c, "{v}");
        let Constant::Code(module) = c else {
            panic!("{v}: not code")
        };
        assert_eq!(module.name.as_str(), Some("<module>"));
        assert_eq!(module.filename.as_str(), Some("s.py"));
        let names: Vec<_> = module.names.iter().filter_map(|n| n.as_str()).collect();
        for n in ["Y", "sys", "_s", "X", "T", "f", "C", "ValueError", "e"] {
            assert!(names.contains(&n), "{v}: {n} missing from {names:?}");
        }
        let consts = &module.consts;
        let y = PyStr::from_code_points([b's' as u32, 0xdcff]);
        assert!(consts.contains(&Constant::Str(y)), "{v}");
        let x = consts
            .iter()
            .find_map(|c| match c {
                Constant::Tuple(t) if t.len() == 18 => Some(t),
                _ => None,
            })
            .unwrap();
        assert_eq!(x[4], big("2147483648"));
        assert_eq!(x[6], big("-1000000000000000000000000000000"));
        assert_eq!(x[8], Constant::Float(-0.0));
        assert_eq!(x[9], Constant::Float(f64::INFINITY));
        assert_eq!(x[11], Constant::Complex { re: -0.0, im: -3.5 });
        assert_eq!(x[14], Constant::str(&"x".repeat(300)));
        assert_eq!(x[17], Constant::Ellipsis);
        assert!(consts
            .iter()
            .any(|c| matches!(c, Constant::Tuple(t) if t.len() == 258)));
        let f = module
            .nested_code()
            .find(|c| c.name.as_str() == Some("f"))
            .unwrap();
        assert_eq!((f.argcount, f.posonlyargcount, f.kwonlyargcount), (2, 1, 1));
        assert!(f.cellvars().contains(&PyStr::from("a")));
        let g = f
            .nested_code()
            .find(|c| c.name.as_str() == Some("g"))
            .unwrap();
        assert_eq!(g.freevars(), vec![PyStr::from("a"), PyStr::from("b")]);
        if v.has_qualname() {
            assert_eq!(
                g.qualname.as_ref().and_then(|q| q.as_str()),
                Some("f.<locals>.g")
            );
        }
        // `i in {1, 'two'}` is a frozenset constant somewhere inside f.
        let mut stack: Vec<&CodeObject> = vec![f];
        let mut found = false;
        while let Some(code) = stack.pop() {
            found |= code
                .consts
                .iter()
                .any(|c| *c == Constant::FrozenSet(vec![Constant::str("two"), int(1)]));
            stack.extend(code.nested_code());
        }
        assert!(found, "{v}");
    }
}

#[test]
fn every_prefix_of_a_blob_is_an_error() {
    for (v, blob) in samples().into_iter().step_by(3) {
        for n in 0..blob.len() {
            let e = loads(&blob[..n], v).unwrap_err();
            assert!(e.offset <= n, "{v} {n}: {e}");
        }
    }
}

/// xorshift64*: a deterministic stream for the fuzz test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[(PythonVersion, Vec<u8>)], b: &mut Vec<u8>) {
    const INTERESTING: &[u8] = b"NTFS.iIlfgxysutaAzZr()[{<>c0?\x00\x01\x7f\x80\xff\xe3\xda\xa9";
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len());
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            let i = rng.below(b.len());
            if let Some(x) = b.get_mut(i) {
                *x = INTERESTING[rng.below(INTERESTING.len())];
            }
        }
        2 => b.truncate(rng.below(b.len() + 1)),
        3 => {
            // Splice a piece of another blob over or into this one.
            let other = &seeds[rng.below(seeds.len())].1;
            let from = rng.below(other.len());
            let piece = &other[from..(from + rng.below(64)).min(other.len())];
            let at = rng.below(b.len() + 1);
            let end = if rng.below(2) == 0 {
                at
            } else {
                (at + piece.len()).min(b.len())
            };
            b.splice(at..end, piece.iter().copied());
        }
        4 => {
            let from = rng.below(b.len());
            let piece = b[from..(from + rng.below(32)).min(b.len())].to_vec();
            let at = rng.below(b.len() + 1);
            b.splice(at..at, piece);
        }
        5 => {
            let from = rng.below(b.len());
            let to = (from + rng.below(16)).min(b.len());
            b.drain(from..to);
        }
        _ => {
            // A 32-bit field set to an extreme value.
            let i = rng.below(b.len());
            let x = [0u32, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 256][rng.below(6)];
            for (k, byte) in x.to_le_bytes().into_iter().enumerate() {
                if let Some(slot) = b.get_mut(i + k) {
                    *slot = byte;
                }
            }
        }
    }
}

/// Thousands of mutated CPython blobs: none may panic; whatever loads must survive a plain
/// round trip unchanged and a layout round trip byte for byte.
#[test]
fn fuzz_smoke() {
    let seeds = samples();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut loaded, mut failed) = (0, 0);
    for round in 0..3000 {
        let (seed_v, seed) = &seeds[round % seeds.len()];
        // Mostly the seed's own version; sometimes a wrong one.
        let v = if rng.below(8) == 0 {
            PythonVersion::ALL[rng.below(6)]
        } else {
            *seed_v
        };
        let mut b = seed.clone();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &seeds, &mut b);
        }
        match loads_with_layout(&b, v) {
            Ok((c, layout)) => {
                loaded += 1;
                assert_eq!(dumps_with_layout(&c, &layout, v).as_ref(), Ok(&b));
                assert_eq!(loads(&dumps(&c, v), v).as_ref(), Ok(&c));
                assert_eq!(loads(&b, v).as_ref(), Ok(&c));
            }
            Err(e) => {
                failed += 1;
                assert!(e.offset <= b.len(), "{e}");
                assert_eq!(loads(&b, v), Err(e));
            }
        }
        let header = pyc::header_bytes(&pyc::PycHeader {
            version: v,
            invalidation: pyc::Invalidation::UncheckedHash([0; 8]),
        });
        let file = cat(&[&header, &b]);
        match pyc::read_pyc(&file) {
            Ok((_, code)) => assert_eq!(loads_code(&b, v).as_ref(), Ok(&code)),
            Err(e) => assert!(e.offset <= file.len() && e.offset >= pyc::HEADER_LEN, "{e}"),
        }
    }
    // The mutations must exercise both outcomes.
    assert!(
        loaded > 200 && failed > 2000,
        "{loaded} loaded, {failed} failed"
    );
}
