//! What an instruction's argument means, per opcode and version: the symbolic forms the
//! assembler reads and the printer writes.

use crate::opcode::Opcode;
use crate::PythonVersion;

/// The kind of an instruction's argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument.
    None,
    /// A plain number.
    Int,
    /// An index into `co_consts`, written as the constant.
    Const,
    /// An index into `co_names`, written as the name; `shift` low bits carry flags
    /// (`LOAD_GLOBAL` 3.11+, `LOAD_ATTR` 3.12+, `LOAD_SUPER_ATTR`, `IMPORT_NAME` 3.15+).
    Name {
        shift: u8,
    },
    /// A local variable (`co_varnames`, or the locals-plus index from 3.11).
    Local,
    /// Two locals packed in four bits each (3.13+ `LOAD_FAST_LOAD_FAST` and friends).
    LocalPair,
    /// A cell or free variable (index into cells then frees before 3.11, locals-plus after).
    Free,
    /// A jump target, written as a label.
    Jump,
    /// A comparison operator (`COMPARE_OP <`).
    Compare,
    /// A binary operator (`BINARY_OP +`, 3.11+).
    BinaryOp,
    /// An intrinsic function name (3.12+).
    Intrinsic1,
    Intrinsic2,
}

/// How a jump argument is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JumpKind {
    /// Relative to the end of the instruction (and its caches), forward.
    Forward,
    /// Relative to the end of the instruction (and its caches), backward.
    Backward,
    /// An absolute offset.
    Absolute,
}

/// The kind of `op`'s argument in version `v`.
pub fn arg_kind(v: PythonVersion, op: &Opcode) -> ArgKind {
    if !op.has_arg() && !op.is_jump() {
        return ArgKind::None;
    }
    let name = op.name;
    if op.has_jrel() || op.has_jabs() {
        return ArgKind::Jump;
    }
    if op.has_const() {
        return ArgKind::Const;
    }
    if op.has_name() {
        let shift = match name {
            "LOAD_GLOBAL" if v.load_global_pushes_null_in_low_bit() => 1,
            "LOAD_ATTR" if v.load_attr_loads_method_in_low_bit() => 1,
            "LOAD_SUPER_ATTR" => 2,
            "IMPORT_NAME" if v.import_name_has_lazy_bits() => 2,
            _ => 0,
        };
        return ArgKind::Name { shift };
    }
    if matches!(
        name,
        "LOAD_FAST_LOAD_FAST"
            | "LOAD_FAST_BORROW_LOAD_FAST_BORROW"
            | "STORE_FAST_LOAD_FAST"
            | "STORE_FAST_STORE_FAST"
    ) {
        return ArgKind::LocalPair;
    }
    if op.has_local() {
        return ArgKind::Local;
    }
    if op.has_free() {
        return ArgKind::Free;
    }
    if op.has_compare() {
        return ArgKind::Compare;
    }
    match name {
        "BINARY_OP" => ArgKind::BinaryOp,
        "CALL_INTRINSIC_1" => ArgKind::Intrinsic1,
        "CALL_INTRINSIC_2" => ArgKind::Intrinsic2,
        _ => ArgKind::Int,
    }
}

/// How `op` jumps in version `v`.
pub fn jump_kind(v: PythonVersion, op: &Opcode) -> JumpKind {
    if op.has_jabs() {
        JumpKind::Absolute
    } else if v.has_backward_jumps() && op.is_backward_jump() {
        JumpKind::Backward
    } else {
        JumpKind::Forward
    }
}

/// Bytes per unit of a jump argument: 1 (3.8, 3.9) or 2.
pub fn jump_unit(v: PythonVersion) -> u32 {
    if v.jumps_count_code_units() {
        2
    } else {
        1
    }
}

/// The words that name the flag bits of a name argument, lowest bit first.
pub fn name_flag_words(v: PythonVersion, op: &Opcode) -> &'static [&'static str] {
    match op.name {
        "LOAD_GLOBAL" if v.load_global_pushes_null_in_low_bit() => &["NULL"],
        "LOAD_ATTR" if v.load_attr_loads_method_in_low_bit() => &["NULL|self"],
        "LOAD_SUPER_ATTR" => &["NULL|self", "twoarg"],
        "IMPORT_NAME" if v.import_name_has_lazy_bits() => &["lazy", "eager"],
        _ => &[],
    }
}

/// `COMPARE_OP`'s argument for comparison `index` of `cmp_op`, as CPython's compiler writes
/// it: 3.12 keeps a mask of the outcomes that make it true in the low four bits, 3.13 also
/// a bit asking for a `bool` result.
pub fn compare_arg(v: PythonVersion, index: u32, to_bool: bool) -> u32 {
    // CPython's COMPARISON_* bits (2 less, 4 greater, 8 equal; 1 unordered) that make each of
    // `<`, `<=`, `==`, `!=`, `>`, `>=` true.
    const MASKS: [u32; 6] = [2, 2 | 8, 8, 1 | 2 | 4, 4, 4 | 8];
    let shift = v.compare_op_arg_shift();
    if shift == 0 {
        return index;
    }
    let mask = MASKS.get(index as usize).copied().unwrap_or(0);
    let to_bool = if to_bool && v.compare_op_has_to_bool_bit() {
        16
    } else {
        0
    };
    (index << shift) | mask | to_bool
}

/// The reverse of [`compare_arg`]: `(index, to_bool)` when `arg` is exactly what the compiler
/// writes for it.
pub fn compare_from_arg(v: PythonVersion, arg: u32) -> Option<(u32, bool)> {
    let index = arg >> v.compare_op_arg_shift();
    let to_bool = v.compare_op_has_to_bool_bit() && arg & 16 != 0;
    let n = v.opcodes().cmp_op.len() as u32;
    (index < n && compare_arg(v, index, to_bool) == arg).then_some((index, to_bool))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(v: PythonVersion, name: &str) -> &'static Opcode {
        v.opcodes().by_name(name).unwrap()
    }

    #[test]
    fn kinds() {
        let v = PythonVersion::V3_11;
        assert_eq!(arg_kind(v, op(v, "LOAD_CONST")), ArgKind::Const);
        assert_eq!(
            arg_kind(v, op(v, "LOAD_GLOBAL")),
            ArgKind::Name { shift: 1 }
        );
        assert_eq!(arg_kind(v, op(v, "JUMP_BACKWARD")), ArgKind::Jump);
        assert_eq!(jump_kind(v, op(v, "JUMP_BACKWARD")), JumpKind::Backward);
        assert_eq!(arg_kind(v, op(v, "POP_TOP")), ArgKind::None);
        assert_eq!(arg_kind(v, op(v, "BINARY_OP")), ArgKind::BinaryOp);
        let v = PythonVersion::V3_13;
        assert_eq!(
            arg_kind(v, op(v, "LOAD_FAST_LOAD_FAST")),
            ArgKind::LocalPair
        );
        assert_eq!(arg_kind(v, op(v, "LOAD_DEREF")), ArgKind::Free);
        let v = PythonVersion::V3_8;
        assert_eq!(jump_kind(v, op(v, "JUMP_ABSOLUTE")), JumpKind::Absolute);
        assert_eq!(
            arg_kind(v, op(v, "LOAD_GLOBAL")),
            ArgKind::Name { shift: 0 }
        );
    }

    #[test]
    fn compare_args() {
        // What `dis` shows for `a < b` (3.12: 2) and `bool(a == b)` (3.13: 88).
        assert_eq!(compare_arg(PythonVersion::V3_12, 0, false), 2);
        assert_eq!(compare_arg(PythonVersion::V3_12, 2, false), 40);
        assert_eq!(compare_arg(PythonVersion::V3_13, 2, true), 88);
        assert_eq!(compare_from_arg(PythonVersion::V3_13, 88), Some((2, true)));
        assert_eq!(compare_from_arg(PythonVersion::V3_12, 37), None);
        assert_eq!(compare_from_arg(PythonVersion::V3_8, 10), Some((10, false)));
    }
}
