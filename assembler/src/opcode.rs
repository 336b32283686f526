//! Opcode tables per CPython version, extracted from the real interpreters.
//!
//! The data lives in `opcode/generated.rs`, written by `tools/gen_opcodes.py` from each
//! interpreter's `opcode` and `dis` modules and `dis.stack_effect`; never edit it by hand.
//! Names and numbers follow `opcode.opmap`: real opcodes, the instrumented ones (3.12+) and the
//! compiler's pseudo-opcodes (3.12+, numbers 256 and up); specialized opcodes are not included.

use crate::PythonVersion;

#[rustfmt::skip]
mod generated;

/// The flag bits of [`Opcode`], one per `opcode.has*` list (and a few more).
mod flags {
    pub const ARG: u16 = 1 << 0;
    pub const CONST: u16 = 1 << 1;
    pub const NAME: u16 = 1 << 2;
    pub const JREL: u16 = 1 << 3;
    pub const JABS: u16 = 1 << 4;
    pub const LOCAL: u16 = 1 << 5;
    pub const FREE: u16 = 1 << 6;
    pub const COMPARE: u16 = 1 << 7;
    pub const EXC: u16 = 1 << 8;
    pub const JUMP: u16 = 1 << 9;
    pub const PSEUDO: u16 = 1 << 10;
    pub const BACKWARD: u16 = 1 << 11;
}

/// The opcodes of one CPython version, and the tables `dis` uses to describe arguments.
#[derive(Debug)]
pub struct OpcodeTable {
    /// The version these tables belong to.
    pub version: PythonVersion,
    /// `opcode.HAVE_ARGUMENT`.
    pub have_argument: u16,
    /// `opcode.EXTENDED_ARG`.
    pub extended_arg: u8,
    /// Every opcode in `opcode.opmap`, sorted by number.
    pub ops: &'static [Opcode],
    /// `opcode.cmp_op`: `COMPARE_OP` argument names.
    pub cmp_op: &'static [&'static str],
    /// `opcode._nb_ops` (3.11+): `BINARY_OP` arguments as (name, symbol), e.g. `("NB_ADD", "+")`.
    pub nb_ops: &'static [(&'static str, &'static str)],
    /// `opcode._intrinsic_1_descs` (3.12+): `CALL_INTRINSIC_1` argument names.
    pub intrinsic1: &'static [&'static str],
    /// `opcode._intrinsic_2_descs` (3.12+): `CALL_INTRINSIC_2` argument names.
    pub intrinsic2: &'static [&'static str],
    /// `dis.COMPILER_FLAG_NAMES`: code flag bits and their names, by bit.
    pub compiler_flag_names: &'static [(u32, &'static str)],
    /// The names of the argument bits of `MAKE_FUNCTION` (`dis.MAKE_FUNCTION_FLAGS`), or of
    /// `SET_FUNCTION_ATTRIBUTE` in 3.13 (`dis.FUNCTION_ATTR_FLAGS`), lowest bit first.
    pub make_function_flags: &'static [&'static str],
    /// How `dis` shows the conversion of `FORMAT_VALUE` (`arg & 3`, `dis.FORMAT_VALUE_CONVERTERS`)
    /// or, in 3.13, of `CONVERT_VALUE` (`arg`): `""`, `"str"`, `"repr"`, `"ascii"`.
    pub format_value_converters: &'static [&'static str],
    /// `opcode._common_constants` (3.14+), as `dis` names them: `LOAD_COMMON_CONSTANT`'s
    /// argument.
    pub common_constants: &'static [&'static str],
    /// `opcode._special_method_names` (3.14+): `LOAD_SPECIAL`'s argument.
    pub special_method_names: &'static [&'static str],
    /// Position in `ops` by opcode number; 255 where no opcode has that number.
    index: &'static [u8],
    /// Positions in `ops`, sorted by name.
    by_name: &'static [u8],
}

impl OpcodeTable {
    /// The opcode with this number, in constant time.
    pub fn by_number(&self, n: u16) -> Option<&Opcode> {
        let i = *self.index.get(usize::from(n))?;
        self.ops.get(usize::from(i))
    }

    /// The opcode with this name (as in `opcode.opmap`), by binary search. Code generation
    /// maps its own opcode type through a table built once per version instead.
    pub fn by_name(&self, name: &str) -> Option<&Opcode> {
        let pos = self
            .by_name
            .binary_search_by(|&i| self.ops[usize::from(i)].name.cmp(name))
            .ok()?;
        self.ops.get(usize::from(self.by_name[pos]))
    }
}

/// One opcode of one CPython version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opcode {
    /// The name, as in `opcode.opmap`.
    pub name: &'static str,
    /// The number (256 and up for 3.12+ pseudo-opcodes).
    pub number: u16,
    /// The inline `CACHE` code units that follow the instruction (3.11+).
    pub cache_entries: u8,
    /// The layout of those cache entries (`opcode._cache_format`): (field name, code units).
    pub cache_format: &'static [(&'static str, u8)],
    flags: u16,
    /// `dis.stack_effect` with `jump=False` and with `jump=True`.
    effects: [StackEffect; 2],
}

impl Opcode {
    fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// Takes an argument: in `opcode.hasarg` (3.12+), or numbered from `HAVE_ARGUMENT` on.
    pub fn has_arg(&self) -> bool {
        self.has(flags::ARG)
    }

    /// In `opcode.hasconst`: the argument indexes `co_consts`.
    pub fn has_const(&self) -> bool {
        self.has(flags::CONST)
    }

    /// In `opcode.hasname`: the argument indexes `co_names`.
    pub fn has_name(&self) -> bool {
        self.has(flags::NAME)
    }

    /// In `opcode.hasjrel`: the argument is a relative jump.
    pub fn has_jrel(&self) -> bool {
        self.has(flags::JREL)
    }

    /// In `opcode.hasjabs`: the argument is an absolute jump target.
    pub fn has_jabs(&self) -> bool {
        self.has(flags::JABS)
    }

    /// In `opcode.haslocal`: the argument indexes the local variables.
    pub fn has_local(&self) -> bool {
        self.has(flags::LOCAL)
    }

    /// In `opcode.hasfree`: the argument indexes cell and free variables.
    pub fn has_free(&self) -> bool {
        self.has(flags::FREE)
    }

    /// In `opcode.hascompare`: the argument selects a comparison from `cmp_op`.
    pub fn has_compare(&self) -> bool {
        self.has(flags::COMPARE)
    }

    /// In `opcode.hasexc` (3.12+): a pseudo-opcode that sets up an exception handler.
    pub fn has_exc(&self) -> bool {
        self.has(flags::EXC)
    }

    /// A pseudo-opcode of the compiler (3.12+), never found in real bytecode.
    pub fn is_pseudo(&self) -> bool {
        self.has(flags::PSEUDO)
    }

    /// A relative jump that goes backwards (3.11+), as `dis._is_backward_jump` decides.
    pub fn is_backward_jump(&self) -> bool {
        self.has(flags::BACKWARD)
    }

    /// A jump: in `opcode.hasjump` in 3.13, in `hasjrel` or `hasjabs` before.
    pub fn is_jump(&self) -> bool {
        self.has(flags::JUMP)
    }

    /// `dis.stack_effect(op, arg, jump=jump)`, or `None` where CPython raises `ValueError`.
    /// The argument is ignored for opcodes without one. CPython reads the argument as a C
    /// `int`; arguments above `i32::MAX` give `None`.
    pub fn stack_effect(&self, arg: u32, jump: bool) -> Option<i32> {
        let arg = if self.has_arg() { arg } else { 0 };
        self.effects[usize::from(jump)].eval(arg)
    }
}

/// One opcode's stack effect as a function of its argument: `base` plus, for each term
/// `(shift, width, factor)`, `factor * ((arg >> shift) & (2^width - 1))`, in wrapping 32-bit
/// arithmetic as CPython's C code computes it; arguments from `valid_below` on are rejected;
/// `exceptions` override the formula. A result of `i32::MAX` is CPython's "invalid" marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StackEffect {
    base: i32,
    terms: &'static [(u8, u8, i32)],
    valid_below: u32,
    exceptions: &'static [(u32, Option<i32>)],
}

impl StackEffect {
    fn eval(&self, arg: u32) -> Option<i32> {
        if let Some(&(_, effect)) = self.exceptions.iter().find(|&&(a, _)| a == arg) {
            return effect;
        }
        if arg >= self.valid_below {
            return None;
        }
        let effect = self
            .terms
            .iter()
            .fold(self.base, |acc, &(shift, width, factor)| {
                let field = (arg >> shift) & (u32::MAX >> (32 - u32::from(width)));
                acc.wrapping_add(factor.wrapping_mul(field as i32))
            });
        (effect != i32::MAX).then_some(effect)
    }
}

/// `valid_below` for effects defined for every argument CPython accepts (`0..=i32::MAX`).
const ANY: u32 = 1 << 31;

/// The effect of an opcode CPython rejects whatever the argument.
const INVALID: StackEffect = fx(0, &[], 0, &[]);

/// A stack effect given by formula (for the generated tables).
const fn fx(
    base: i32,
    terms: &'static [(u8, u8, i32)],
    valid_below: u32,
    exceptions: &'static [(u32, Option<i32>)],
) -> StackEffect {
    StackEffect {
        base,
        terms,
        valid_below,
        exceptions,
    }
}

/// A constant stack effect (for the generated tables).
const fn c(effect: i32) -> StackEffect {
    fx(effect, &[], ANY, &[])
}

/// An opcode (for the generated tables).
const fn op(
    name: &'static str,
    number: u16,
    cache_entries: u8,
    cache_format: &'static [(&'static str, u8)],
    flags: u16,
    no_jump: StackEffect,
    jump: StackEffect,
) -> Opcode {
    Opcode {
        name,
        number,
        cache_entries,
        cache_format,
        flags,
        effects: [no_jump, jump],
    }
}

impl PythonVersion {
    /// The opcode tables of this version.
    pub fn opcodes(self) -> &'static OpcodeTable {
        match self.minor() {
            8 => &generated::V3_8,
            9 => &generated::V3_9,
            10 => &generated::V3_10,
            11 => &generated::V3_11,
            12 => &generated::V3_12,
            13 => &generated::V3_13,
            14 => &generated::V3_14,
            15 => &generated::V3_15,
            _ => unreachable!("unsupported versions cannot be constructed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(v: PythonVersion, name: &str) -> &'static Opcode {
        v.opcodes()
            .by_name(name)
            .unwrap_or_else(|| panic!("{v} has no {name}"))
    }

    #[test]
    fn lookups_agree_with_the_table() {
        for v in PythonVersion::ALL {
            let t = v.opcodes();
            assert_eq!(t.version, v);
            assert!(t.ops.windows(2).all(|w| w[0].number < w[1].number));
            for o in t.ops {
                assert_eq!(t.by_number(o.number), Some(o));
                assert_eq!(t.by_name(o.name), Some(o));
                assert_eq!(o.is_pseudo(), o.number >= 256);
            }
            assert_eq!(t.by_name("NO_SUCH_OP"), None);
            assert_eq!(t.by_number(u16::MAX), None);
            let ext = t.by_number(u16::from(t.extended_arg));
            assert_eq!(ext.map(|o| o.name), Some("EXTENDED_ARG"));
        }
    }

    #[test]
    fn numbers_and_constants() {
        let (v8, v11, v12, v13) = (
            PythonVersion::V3_8,
            PythonVersion::V3_11,
            PythonVersion::V3_12,
            PythonVersion::V3_13,
        );
        assert_eq!(op(v8, "BINARY_ADD").number, 23);
        assert_eq!(
            (v8.opcodes().have_argument, v8.opcodes().extended_arg),
            (90, 144)
        );
        assert_eq!(
            (v13.opcodes().have_argument, v13.opcodes().extended_arg),
            (44, 71)
        );
        assert_eq!(v11.opcodes().by_number(0).map(|o| o.name), Some("CACHE"));
        assert_eq!(op(v11, "BINARY_OP").number, 122);
        assert_eq!(op(v13, "BINARY_OP").number, 45);
        assert_eq!(op(v13, "RETURN_VALUE").number, 36);
        assert_eq!(op(v12, "JUMP").number, 260);
        assert_eq!(op(v13, "SETUP_FINALLY").number, 265);
        assert!(PythonVersion::V3_10.opcodes().by_name("CACHE").is_none());
        assert!(v8.opcodes().by_number(7).is_none() && v8.opcodes().by_number(255).is_none());
    }

    #[test]
    fn flags() {
        let v = PythonVersion::V3_8;
        assert!(op(v, "LOAD_CONST").has_const() && op(v, "LOAD_CONST").has_arg());
        assert!(!op(v, "POP_TOP").has_arg());
        assert!(op(v, "LOAD_NAME").has_name() && op(v, "LOAD_FAST").has_local());
        assert!(op(v, "LOAD_DEREF").has_free() && op(v, "COMPARE_OP").has_compare());
        assert!(op(v, "JUMP_ABSOLUTE").has_jabs() && op(v, "JUMP_ABSOLUTE").is_jump());
        assert!(op(v, "FOR_ITER").has_jrel() && !op(v, "FOR_ITER").is_backward_jump());
        let v = PythonVersion::V3_11;
        assert!(op(v, "POP_JUMP_BACKWARD_IF_TRUE").is_backward_jump());
        assert!(op(v, "JUMP_BACKWARD").has_jrel() && op(v, "JUMP_BACKWARD").is_jump());
        let v = PythonVersion::V3_12;
        assert!(op(v, "SETUP_FINALLY").has_exc() && op(v, "SETUP_FINALLY").is_pseudo());
        // 3.12's hasarg leaves out the pseudo-opcodes; 3.13's includes them.
        assert!(!op(v, "SETUP_FINALLY").has_arg());
        assert!(op(PythonVersion::V3_13, "SETUP_FINALLY").has_arg());
        assert!(op(v, "INSTRUMENTED_JUMP_BACKWARD").is_backward_jump());
        assert!(op(v, "JUMP").is_pseudo() && op(v, "JUMP").has_jrel());
        let v = PythonVersion::V3_13;
        assert!(!op(v, "INSTRUMENTED_JUMP_BACKWARD").is_backward_jump());
        assert!(op(v, "JUMP_BACKWARD_NO_INTERRUPT").is_backward_jump());
        assert!(op(v, "POP_JUMP_IF_NONE").is_jump() && op(v, "POP_JUMP_IF_NONE").has_jrel());
        assert!(!op(v, "MAKE_FUNCTION").has_arg());
    }

    #[test]
    fn cache_entries() {
        assert_eq!(op(PythonVersion::V3_10, "LOAD_GLOBAL").cache_entries, 0);
        let v = PythonVersion::V3_11;
        assert_eq!(op(v, "BINARY_OP").cache_entries, 1);
        assert_eq!(op(v, "LOAD_GLOBAL").cache_entries, 5);
        assert_eq!(op(v, "LOAD_ATTR").cache_entries, 4);
        let la = op(PythonVersion::V3_12, "LOAD_ATTR");
        assert_eq!(la.cache_entries, 9);
        let fields: Vec<_> = la.cache_format.iter().map(|f| f.0).collect();
        assert_eq!(fields, ["counter", "version", "keys_version", "descr"]);
        assert_eq!(op(PythonVersion::V3_13, "TO_BOOL").cache_entries, 3);
        assert_eq!(op(PythonVersion::V3_13, "JUMP_BACKWARD").cache_entries, 1);
        for v in PythonVersion::ALL {
            for o in v.opcodes().ops {
                let sum: u8 = o.cache_format.iter().map(|f| f.1).sum();
                assert!(
                    sum == o.cache_entries || o.cache_format.is_empty(),
                    "{v} {}",
                    o.name
                );
            }
        }
    }

    #[test]
    fn stack_effects() {
        for v in PythonVersion::ALL {
            assert_eq!(op(v, "BUILD_TUPLE").stack_effect(3, false), Some(-2), "{v}");
            assert_eq!(op(v, "BUILD_SLICE").stack_effect(2, false), Some(-1), "{v}");
            assert_eq!(op(v, "BUILD_SLICE").stack_effect(3, true), Some(-2), "{v}");
            assert_eq!(
                op(v, "UNPACK_EX").stack_effect(0x0102, false),
                Some(3),
                "{v}"
            );
            assert_eq!(op(v, "POP_TOP").stack_effect(7, false), Some(-1), "{v}");
            let big = op(v, "BUILD_TUPLE").stack_effect(1 << 31, false);
            assert_eq!(big, None, "{v}");
        }
        let v = PythonVersion::V3_8;
        assert_eq!(op(v, "MAKE_FUNCTION").stack_effect(0b1011, false), Some(-4));
        assert_eq!(op(v, "FOR_ITER").stack_effect(0, false), Some(1));
        assert_eq!(op(v, "FOR_ITER").stack_effect(0, true), Some(-1));
        assert_eq!(op(v, "SETUP_FINALLY").stack_effect(0, true), Some(6));
        // 1 - 2 * arg wraps to INT_MAX, CPython's "invalid" marker.
        let build_map = op(v, "BUILD_MAP");
        assert_eq!(build_map.stack_effect(1 << 30, false), Some(-2147483647));
        assert_eq!(build_map.stack_effect((1 << 30) + 1, false), None);
        let v = PythonVersion::V3_11;
        assert_eq!(op(v, "MAKE_FUNCTION").stack_effect(0b1011, false), Some(-3));
        assert_eq!(op(v, "LOAD_GLOBAL").stack_effect(1, false), Some(2));
        assert_eq!(op(v, "CALL").stack_effect(2, false), Some(-1));
        let v = PythonVersion::V3_12;
        assert_eq!(op(v, "FOR_ITER").stack_effect(0, true), Some(1));
        assert_eq!(op(v, "CALL").stack_effect(2, false), Some(-3));
        assert_eq!(op(v, "CALL").stack_effect(0x7fff_fffe, false), None);
        assert_eq!(op(v, "BUILD_MAP").stack_effect(1 << 30, false), None);
        assert_eq!(op(v, "SETUP_CLEANUP").stack_effect(0, true), Some(2));
        assert_eq!(op(v, "INSTRUMENTED_LINE").stack_effect(0, false), None);
        let v = PythonVersion::V3_13;
        assert_eq!(op(v, "MAKE_FUNCTION").stack_effect(11, false), Some(0));
        assert_eq!(
            op(v, "SET_FUNCTION_ATTRIBUTE").stack_effect(8, false),
            Some(-1)
        );
        assert_eq!(op(v, "LOAD_ATTR").stack_effect(3, false), Some(1));
    }

    #[test]
    fn argument_tables() {
        let t = PythonVersion::V3_8.opcodes();
        assert_eq!(t.cmp_op.len(), 12);
        assert_eq!(t.cmp_op[10], "exception match");
        assert!(t.nb_ops.is_empty() && t.intrinsic1.is_empty());
        assert_eq!(t.make_function_flags[3], "closure");
        assert_eq!(t.format_value_converters, ["", "str", "repr", "ascii"]);
        assert!(t.compiler_flag_names.contains(&(32, "GENERATOR")));
        let t = PythonVersion::V3_11.opcodes();
        assert_eq!(t.cmp_op, ["<", "<=", "==", "!=", ">", ">="]);
        assert_eq!((t.nb_ops.len(), t.nb_ops[0]), (26, ("NB_ADD", "+")));
        assert_eq!(t.nb_ops[13], ("NB_INPLACE_ADD", "+="));
        let t = PythonVersion::V3_12.opcodes();
        assert_eq!(t.intrinsic1[1], "INTRINSIC_PRINT");
        assert_eq!(t.intrinsic2.len(), 5);
        let t = PythonVersion::V3_13.opcodes();
        assert_eq!(t.intrinsic2.len(), 6);
        assert_eq!(t.format_value_converters, ["", "str", "repr", "ascii"]);
        assert_eq!(t.make_function_flags.len(), 4);
    }
}
