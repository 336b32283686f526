//! Listings checked against what each CPython version's own `dis` printed for the same code.

use super::*;
use crate::code::{Constant, Locals};
use crate::marshal::loads_code;

/// The module of `f` below, as `marshal.dumps(compile(SOURCE, "t.py", "exec"))` of each
/// version wrote it, with `dis.dis` of it and `dis.show_code(f)` (addresses as `0x0000`):
///
/// ```python
/// def f(a, b=1):
///     for x in a:
///         if x is None:
///             continue
///         try:
///             a.m(x < b)
///         except E:
///             break
///     return f"{a!r:>3}"
/// ```
#[rustfmt::skip]
mod fixtures {
pub const MARSHAL_3_8: &str = "\
    e3000000000000000000000000000000000300000040000000730e00000064046401640284015a00640353002905e901\
    00000063020000000000000000000000030000000900000043000000734a0000007c0044005d3c7d027c0264006b0872\
    1271047a127c00a0007c027c016b00a101010057007104040074016b0a723e0100010001005900010071425900710458\
    0071047c0064019b06530029024e7a023e332902da016dda01452903da0161da0162da0178a9007207000000fa04742e\
    7079da01660100000073100000000001080108010201020112010e010e0172090000004e290172010000002901720900\
    00007207000000720700000072070000007208000000da083c6d6f64756c653e01000000f300000000\
";
pub const DIS_3_8: &str = r#"  1           0 LOAD_CONST               4 ((1,))
              2 LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              4 LOAD_CONST               2 ('f')
              6 MAKE_FUNCTION            1 (defaults)
              8 STORE_NAME               0 (f)
             10 LOAD_CONST               3 (None)
             12 RETURN_VALUE

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
  2           0 LOAD_FAST                0 (a)
              2 GET_ITER
        >>    4 FOR_ITER                60 (to 66)
              6 STORE_FAST               2 (x)

  3           8 LOAD_FAST                2 (x)
             10 LOAD_CONST               0 (None)
             12 COMPARE_OP               8 (is)
             14 POP_JUMP_IF_FALSE       18

  4          16 JUMP_ABSOLUTE            4

  5     >>   18 SETUP_FINALLY           18 (to 38)

  6          20 LOAD_FAST                0 (a)
             22 LOAD_METHOD              0 (m)
             24 LOAD_FAST                2 (x)
             26 LOAD_FAST                1 (b)
             28 COMPARE_OP               0 (<)
             30 CALL_METHOD              1
             32 POP_TOP
             34 POP_BLOCK
             36 JUMP_ABSOLUTE            4

  7     >>   38 DUP_TOP
             40 LOAD_GLOBAL              1 (E)
             42 COMPARE_OP              10 (exception match)
             44 POP_JUMP_IF_FALSE       62
             46 POP_TOP
             48 POP_TOP
             50 POP_TOP

  8          52 POP_EXCEPT
             54 POP_TOP
             56 JUMP_ABSOLUTE           66
             58 POP_EXCEPT
             60 JUMP_ABSOLUTE            4
        >>   62 END_FINALLY
             64 JUMP_ABSOLUTE            4

  9     >>   66 LOAD_FAST                0 (a)
             68 LOAD_CONST               1 ('>3')
             70 FORMAT_VALUE             6 (repr, with format)
             72 RETURN_VALUE
"#;
pub const SHOW_3_8: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        9
Flags:             OPTIMIZED, NEWLOCALS, NOFREE
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
pub const MARSHAL_3_9: &str = "\
    e3000000000000000000000000000000000300000040000000730e00000064046401640284015a00640353002905e901\
    0000006302000000000000000000000003000000090000004300000073480000007c0044005d3a7d027c026400750072\
    1271047a127c00a0007c027c016b00a10101005700710404007401793c01000100010059000100714059007104300071\
    047c0064019b06530029024e7a023e332902da016dda01452903da0161da0162da0178a9007207000000fa04742e7079\
    da01660100000073100000000001080108010201020112010c010e0172090000004e2901720100000029017209000000\
    7207000000720700000072070000007208000000da083c6d6f64756c653e01000000f300000000\
";
pub const DIS_3_9: &str = r#"  1           0 LOAD_CONST               4 ((1,))
              2 LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              4 LOAD_CONST               2 ('f')
              6 MAKE_FUNCTION            1 (defaults)
              8 STORE_NAME               0 (f)
             10 LOAD_CONST               3 (None)
             12 RETURN_VALUE

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
  2           0 LOAD_FAST                0 (a)
              2 GET_ITER
        >>    4 FOR_ITER                58 (to 64)
              6 STORE_FAST               2 (x)

  3           8 LOAD_FAST                2 (x)
             10 LOAD_CONST               0 (None)
             12 IS_OP                    0
             14 POP_JUMP_IF_FALSE       18

  4          16 JUMP_ABSOLUTE            4

  5     >>   18 SETUP_FINALLY           18 (to 38)

  6          20 LOAD_FAST                0 (a)
             22 LOAD_METHOD              0 (m)
             24 LOAD_FAST                2 (x)
             26 LOAD_FAST                1 (b)
             28 COMPARE_OP               0 (<)
             30 CALL_METHOD              1
             32 POP_TOP
             34 POP_BLOCK
             36 JUMP_ABSOLUTE            4

  7     >>   38 DUP_TOP
             40 LOAD_GLOBAL              1 (E)
             42 JUMP_IF_NOT_EXC_MATCH    60
             44 POP_TOP
             46 POP_TOP
             48 POP_TOP

  8          50 POP_EXCEPT
             52 POP_TOP
             54 JUMP_ABSOLUTE           64
             56 POP_EXCEPT
             58 JUMP_ABSOLUTE            4
        >>   60 RERAISE
             62 JUMP_ABSOLUTE            4

  9     >>   64 LOAD_FAST                0 (a)
             66 LOAD_CONST               1 ('>3')
             68 FORMAT_VALUE             6 (repr, with format)
             70 RETURN_VALUE
"#;
pub const SHOW_3_9: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        9
Flags:             OPTIMIZED, NEWLOCALS, NOFREE
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
pub const MARSHAL_3_10: &str = "\
    e3000000000000000000000000000000000300000040000000730e00000064046401640284015a00640353002905e901\
    0000006302000000000000000000000003000000090000004300000073480000007c0044005d1d7d027c026400750072\
    0971027a097c00a0007c027c016b00a10101005700710204007401791f010001000100590001007c0064019b06530077\
    007c0064019b06530029024e7a023e332902da016dda01452903da0161da0162da0178a9007207000000fa04742e7079\
    da0166010000007314000000080108010201020112010c010401080102fe080272090000004e29017201000000290172\
    090000007207000000720700000072070000007208000000da083c6d6f64756c653e0100000073020000000e00\
";
pub const DIS_3_10: &str = r#"  1           0 LOAD_CONST               4 ((1,))
              2 LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              4 LOAD_CONST               2 ('f')
              6 MAKE_FUNCTION            1 (defaults)
              8 STORE_NAME               0 (f)
             10 LOAD_CONST               3 (None)
             12 RETURN_VALUE

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
  2           0 LOAD_FAST                0 (a)
              2 GET_ITER
        >>    4 FOR_ITER                29 (to 64)
              6 STORE_FAST               2 (x)

  3           8 LOAD_FAST                2 (x)
             10 LOAD_CONST               0 (None)
             12 IS_OP                    0
             14 POP_JUMP_IF_FALSE        9 (to 18)

  4          16 JUMP_ABSOLUTE            2 (to 4)

  5     >>   18 SETUP_FINALLY            9 (to 38)

  6          20 LOAD_FAST                0 (a)
             22 LOAD_METHOD              0 (m)
             24 LOAD_FAST                2 (x)
             26 LOAD_FAST                1 (b)
             28 COMPARE_OP               0 (<)
             30 CALL_METHOD              1
             32 POP_TOP
             34 POP_BLOCK
             36 JUMP_ABSOLUTE            2 (to 4)

  7     >>   38 DUP_TOP
             40 LOAD_GLOBAL              1 (E)
             42 JUMP_IF_NOT_EXC_MATCH    31 (to 62)
             44 POP_TOP
             46 POP_TOP
             48 POP_TOP

  8          50 POP_EXCEPT
             52 POP_TOP

  9          54 LOAD_FAST                0 (a)
             56 LOAD_CONST               1 ('>3')
             58 FORMAT_VALUE             6 (repr, with format)
             60 RETURN_VALUE

  7     >>   62 RERAISE                  0

  9     >>   64 LOAD_FAST                0 (a)
             66 LOAD_CONST               1 ('>3')
             68 FORMAT_VALUE             6 (repr, with format)
             70 RETURN_VALUE
"#;
pub const SHOW_3_10: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        9
Flags:             OPTIMIZED, NEWLOCALS, NOFREE
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
pub const MARSHAL_3_11: &str = "\
    e30000000000000000000000000200000000000000f30e00000097006403640184015a00640253002904e90100000063\
    0200000000000000000000000500000003000000f37000000097007c0044005d307d027c0280018c0509007c00a00000\
    000000000000000000000000000000000000007c027c016b0000000000a6010000ab01000000000000000001008c2023\
    00740200000000000000000000240072040100590001006e0477007803590077017c0064019b06530029024e7a023e33\
    2902da016dda01452903da0161da0162da01787303000000202020fa04742e7079da0166720a00000001000000735f00\
    00008000d80d0ef000060512f0000605128801d80b0c8839d80c14f002030912d80c0d8f438a43900190419205894a8c\
    4a884a884af8dd0f10f000010912f000010912f000010912d80c1188458845f003010912f8f8f8e00e0f883b883bd004\
    16730c00000089192302a30a3105b00131054e290172020000002901720a000000a900f3000000007209000000fa083c\
    6d6f64756c653e720d000000010000007323000000f003010101f002080117f000080117f000080117f000080117f000\
    080117f000080117720c000000\
";
pub const DIS_3_11: &str = r#"  0           0 RESUME                   0

  1           2 LOAD_CONST               3 ((1,))
              4 LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              6 MAKE_FUNCTION            1 (defaults)
              8 STORE_NAME               0 (f)
             10 LOAD_CONST               2 (None)
             12 RETURN_VALUE

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
  1           0 RESUME                   0

  2           2 LOAD_FAST                0 (a)
              4 GET_ITER
        >>    6 FOR_ITER                48 (to 104)
              8 STORE_FAST               2 (x)

  3          10 LOAD_FAST                2 (x)
             12 POP_JUMP_FORWARD_IF_NOT_NONE     1 (to 16)

  4          14 JUMP_BACKWARD            5 (to 6)

  5     >>   16 NOP

  6          18 LOAD_FAST                0 (a)
             20 LOAD_METHOD              0 (m)
             42 LOAD_FAST                2 (x)
             44 LOAD_FAST                1 (b)
             46 COMPARE_OP               0 (<)
             52 PRECALL                  1
             56 CALL                     1
             66 POP_TOP
             68 JUMP_BACKWARD           32 (to 6)
        >>   70 PUSH_EXC_INFO

  7          72 LOAD_GLOBAL              2 (E)
             84 CHECK_EXC_MATCH
             86 POP_JUMP_FORWARD_IF_FALSE     4 (to 96)
             88 POP_TOP

  8          90 POP_EXCEPT
             92 POP_TOP
             94 JUMP_FORWARD             4 (to 104)

  7     >>   96 RERAISE                  0
        >>   98 COPY                     3
            100 POP_EXCEPT
            102 RERAISE                  1

  9     >>  104 LOAD_FAST                0 (a)
            106 LOAD_CONST               1 ('>3')
            108 FORMAT_VALUE             6 (repr, with format)
            110 RETURN_VALUE
ExceptionTable:
  18 to 66 -> 70 [1]
  70 to 88 -> 98 [2] lasti
  96 to 96 -> 98 [2] lasti
"#;
pub const SHOW_3_11: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        5
Flags:             OPTIMIZED, NEWLOCALS
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
pub const MARSHAL_3_12: &str = "\
    e30000000000000000000000000200000000000000f30c00000097006403640184015a0079022904e901000000630200\
    000000000000000000000500000003000000f36e00000097007c0044005d1a00007d027c0280018c0609007c006a0100\
    00000000000000000000000000000000007c027c016b020000ab0100000000000001008c1c04007c0064019b06530023\
    0074020000000000000000240072070100590001007c0064019b065300770078035900770129024e7a023e332902da01\
    6dda01452903da0161da0162da01787303000000202020fa04742e7079da0166720a0000000100000073570000008000\
    d80d0ef2000605128801d80b0c8839d80c14f002030912d80c0d8f4389439001904191058d4af009060512f00e000f10\
    90228858d00416f8f405001011f200010912d90c11d80e0f90228858d00416f005010912fa730c0000008a142402a409\
    3405b30134054e290172020000002901720a000000a900f3000000007209000000fa083c6d6f64756c653e720d000000\
    01000000730a000000f003010101f402080117720c000000\
";
pub const DIS_3_12: &str = r#"  0           0 RESUME                   0

  1           2 LOAD_CONST               3 ((1,))
              4 LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              6 MAKE_FUNCTION            1 (defaults)
              8 STORE_NAME               0 (f)
             10 RETURN_CONST             2 (None)

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
  1           0 RESUME                   0

  2           2 LOAD_FAST                0 (a)
              4 GET_ITER
        >>    6 FOR_ITER                26 (to 62)
             10 STORE_FAST               2 (x)

  3          12 LOAD_FAST                2 (x)
             14 POP_JUMP_IF_NOT_NONE     1 (to 18)

  4          16 JUMP_BACKWARD            6 (to 6)

  5     >>   18 NOP

  6          20 LOAD_FAST                0 (a)
             22 LOAD_ATTR                1 (NULL|self + m)
             42 LOAD_FAST                2 (x)
             44 LOAD_FAST                1 (b)
             46 COMPARE_OP               2 (<)
             50 CALL                     1
             58 POP_TOP
             60 JUMP_BACKWARD           28 (to 6)

  2     >>   62 END_FOR

  9          64 LOAD_FAST                0 (a)
             66 LOAD_CONST               1 ('>3')
             68 FORMAT_VALUE             6 (repr, with format)
             70 RETURN_VALUE
        >>   72 PUSH_EXC_INFO

  7          74 LOAD_GLOBAL              2 (E)
             84 CHECK_EXC_MATCH
             86 POP_JUMP_IF_FALSE        7 (to 102)
             88 POP_TOP

  8          90 POP_EXCEPT
             92 POP_TOP

  9          94 LOAD_FAST                0 (a)
             96 LOAD_CONST               1 ('>3')
             98 FORMAT_VALUE             6 (repr, with format)
            100 RETURN_VALUE

  7     >>  102 RERAISE                  0
        >>  104 COPY                     3
            106 POP_EXCEPT
            108 RERAISE                  1
ExceptionTable:
  20 to 58 -> 72 [1]
  72 to 88 -> 104 [2] lasti
  102 to 102 -> 104 [2] lasti
"#;
pub const SHOW_3_12: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        5
Flags:             OPTIMIZED, NEWLOCALS
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
pub const MARSHAL_3_13: &str = "\
    e30000000000000000000000000200000000000000f30e0000009500530353011a006a01720067022904e90100000063\
    0200000000000000000000000500000003000000f374000000950055001300481c00006e025502630200004d0800001e\
    005500520100000000000000000000000000000000000058213a020000350100000000000020004d1e00000b00200055\
    003c0253010f00240021005b02000000000000000007006105000020001f0020004d13000066003d031f00660129024e\
    7a023e332902da016dda01452903da0161da0162da01787303000000202020da04742e7079da0166720a000000010000\
    0073480000008000db0d0e8801d80b0c8939d90c14f002030912d80c0d8f438943900191058e4af109000e0ff00e000f\
    10885890228858d00416f8f405001011f300010912db0c11f003010912fa730c0000008c132802a80a3705b60137054e\
    290172020000002901720a000000a900f3000000007209000000da083c6d6f64756c653e720d00000001000000730a00\
    0000f003010101f502080117720c000000\
";
pub const DIS_3_13: &str = r#"  0           RESUME                   0

  1           LOAD_CONST               3 ((1,))
              LOAD_CONST               1 (<code object f at 0x0000, file "t.py", line 1>)
              MAKE_FUNCTION
              SET_FUNCTION_ATTRIBUTE   1 (defaults)
              STORE_NAME               0 (f)
              RETURN_CONST             2 (None)

Disassembly of <code object f at 0x0000, file "t.py", line 1>:
   1            RESUME                   0

   2            LOAD_FAST                0 (a)
                GET_ITER
        L1:     FOR_ITER                28 (to L5)
                STORE_FAST               2 (x)

   3            LOAD_FAST                2 (x)
                POP_JUMP_IF_NOT_NONE     2 (to L2)

   4            JUMP_BACKWARD            8 (to L1)

   5    L2:     NOP

   6    L3:     LOAD_FAST                0 (a)
                LOAD_ATTR                1 (m + NULL|self)
                LOAD_FAST_LOAD_FAST     33 (x, b)
                COMPARE_OP               2 (<)
                CALL                     1
                POP_TOP
        L4:     JUMP_BACKWARD           30 (to L1)

   2    L5:     END_FOR
                POP_TOP

   9    L6:     LOAD_FAST                0 (a)
                CONVERT_VALUE            2 (repr)
                LOAD_CONST               1 ('>3')
                FORMAT_WITH_SPEC
                RETURN_VALUE

  --    L7:     PUSH_EXC_INFO

   7            LOAD_GLOBAL              2 (E)
                CHECK_EXC_MATCH
                POP_JUMP_IF_FALSE        5 (to L9)
                POP_TOP

   8    L8:     POP_EXCEPT
                POP_TOP
                JUMP_BACKWARD           19 (to L6)

   7    L9:     RERAISE                  0

  --   L10:     COPY                     3
                POP_EXCEPT
                RERAISE                  1
ExceptionTable:
  L3 to L4 -> L7 [1]
  L7 to L8 -> L10 [2] lasti
  L9 to L10 -> L10 [2] lasti
"#;
pub const SHOW_3_13: &str = r#"Name:              f
Filename:          t.py
Argument count:    2
Positional-only arguments: 0
Kw-only arguments: 0
Number of locals:  3
Stack size:        5
Flags:             OPTIMIZED, NEWLOCALS
Constants:
   0: None
   1: '>3'
Names:
   0: m
   1: E
Variable names:
   0: a
   1: b
   2: x
"#;
}

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn check(v: PythonVersion, marshal: &str, dis: &str, show: &str) {
    let code = loads_code(&hex(marshal), v).unwrap();
    assert_eq!(dis_module(&code, v).unwrap(), dis, "{v}");
    let f = code.nested_code().next().unwrap();
    assert_eq!(show_code(f, v), show, "{v}");
}

#[test]
fn listings_match_cpython() {
    use fixtures::*;
    check(PythonVersion::V3_8, MARSHAL_3_8, DIS_3_8, SHOW_3_8);
    check(PythonVersion::V3_9, MARSHAL_3_9, DIS_3_9, SHOW_3_9);
    check(PythonVersion::V3_10, MARSHAL_3_10, DIS_3_10, SHOW_3_10);
    check(PythonVersion::V3_11, MARSHAL_3_11, DIS_3_11, SHOW_3_11);
    check(PythonVersion::V3_12, MARSHAL_3_12, DIS_3_12, SHOW_3_12);
    check(PythonVersion::V3_13, MARSHAL_3_13, DIS_3_13, SHOW_3_13);
}

/// A code object with the given bytecode and line table, and one constant.
fn synthetic(v: PythonVersion, code: Vec<u8>, linetable: Vec<u8>) -> CodeObject {
    CodeObject {
        argcount: 0,
        posonlyargcount: 0,
        kwonlyargcount: 0,
        stacksize: 1,
        flags: 0,
        code,
        consts: vec![Constant::None],
        names: vec![],
        locals: if v.minor() >= 11 {
            Locals::Plus(vec![])
        } else {
            Locals::Split {
                nlocals: 0,
                varnames: vec![],
                cellvars: vec![],
                freevars: vec![],
            }
        },
        filename: PyStr::from("t.py"),
        name: PyStr::from("<module>"),
        qualname: None,
        firstlineno: 1,
        linetable,
        exceptiontable: vec![],
    }
}

#[test]
fn extended_args_and_unknown_opcodes() {
    // EXTENDED_ARG 1; NOP; JUMP_ABSOLUTE 4; <255> 7; RETURN_VALUE
    let bytes = vec![144, 1, 9, 0, 113, 4, 255, 7, 83, 0];
    // 3.8 keeps the pending EXTENDED_ARG across the NOP, and shows no jump targets.
    let code = synthetic(PythonVersion::V3_8, bytes.clone(), vec![4, 1]);
    assert_eq!(
        dis_module(&code, PythonVersion::V3_8).unwrap(),
        "  1           0 EXTENDED_ARG             1\n\
        \x20             2 NOP\n\
        \n\
        \x20 2           4 JUMP_ABSOLUTE          260\n\
        \x20             6 <255>                    7\n\
        \x20             8 RETURN_VALUE\n"
    );
    // 3.10 drops it, counts jumps in code units, and has no line column without lines.
    let code = synthetic(PythonVersion::V3_10, bytes, vec![]);
    assert_eq!(
        dis_module(&code, PythonVersion::V3_10).unwrap(),
        "          0 EXTENDED_ARG             1\n\
        \x20         2 NOP\n\
        \x20         4 JUMP_ABSOLUTE            4 (to 8)\n\
        \x20         6 <255>                    7\n\
        \x20   >>    8 RETURN_VALUE\n"
    );
    let ins = instructions(&code, PythonVersion::V3_10).unwrap();
    assert_eq!(ins[2].jump_target, Some(8));
    assert_eq!(ins[3].opname, "<255>");
    assert!(ins[4].is_jump_target && !ins[3].is_jump_target);
}

#[test]
fn bad_code_is_an_error() {
    let v = PythonVersion::V3_10;
    // LOAD_CONST 5 with one constant.
    let err = dis_module(&synthetic(v, vec![100, 5, 83, 0], vec![]), v).unwrap_err();
    assert_eq!(err.offset, Some(0));
    // Code cut inside an instruction's argument.
    let err = dis_module(&synthetic(v, vec![9, 0, 100], vec![]), v).unwrap_err();
    assert_eq!(err.offset, Some(2));
    // A long run of EXTENDED_ARG cannot overflow.
    let err = disassemble(&synthetic(v, [144, 255].repeat(9), vec![]), v).unwrap_err();
    assert!(err.message.contains("too large"));
}

#[test]
fn flags() {
    let v = PythonVersion::V3_11;
    assert_eq!(pretty_flags(0, v), "0x0");
    assert_eq!(pretty_flags(0x3, v), "OPTIMIZED, NEWLOCALS");
    assert_eq!(pretty_flags(0x20_0001, v), "OPTIMIZED, 0x200000");
}
