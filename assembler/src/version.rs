//! The CPython versions we know, and every version difference asked as a named question.

use std::fmt;
use std::str::FromStr;

/// A CPython feature release (3.8 to 3.15). Only supported versions can be constructed.
///
/// 3.15 means 3.15.0rc1 (magic number 3666); pyc-build reads, writes, disassembles and
/// assembles code for 3.14 and 3.15 but has no code generation for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    minor: u8,
}

/// How a code object's line numbers are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineTableFormat {
    /// `co_lnotab`: (byte offset delta, line delta) pairs (3.8, 3.9).
    Lnotab,
    /// PEP 626 `co_linetable` (3.10).
    Linetable310,
    /// PEP 657 location table with columns (3.11+).
    Locations,
}

/// How a code object's local variables are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalsLayout {
    /// `co_nlocals`, `co_varnames`, `co_cellvars`, `co_freevars` (3.8–3.10).
    Split,
    /// `co_localsplusnames` with `co_localspluskinds` (3.11+).
    LocalsPlus,
}

/// The SipHash variant behind `importlib.util.source_hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SipHashVariant {
    Sip24,
    Sip13,
}

/// Which f-string token CPython searches to place the lines of an f-string's expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FStringSearch {
    /// The first token of an implicit concatenation (3.8).
    FirstToken,
    /// Each f-string's own token (3.9–3.11).
    OwnToken,
    /// None: the tokenizer knows where each expression is (3.12+).
    None,
}

impl PythonVersion {
    pub const V3_8: PythonVersion = PythonVersion { minor: 8 };
    pub const V3_9: PythonVersion = PythonVersion { minor: 9 };
    pub const V3_10: PythonVersion = PythonVersion { minor: 10 };
    pub const V3_11: PythonVersion = PythonVersion { minor: 11 };
    pub const V3_12: PythonVersion = PythonVersion { minor: 12 };
    pub const V3_13: PythonVersion = PythonVersion { minor: 13 };
    pub const V3_14: PythonVersion = PythonVersion { minor: 14 };
    pub const V3_15: PythonVersion = PythonVersion { minor: 15 };

    /// Every supported version, oldest first.
    pub const ALL: [PythonVersion; 8] = [
        Self::V3_8,
        Self::V3_9,
        Self::V3_10,
        Self::V3_11,
        Self::V3_12,
        Self::V3_13,
        Self::V3_14,
        Self::V3_15,
    ];

    /// The version with this minor number (3.X), if supported.
    pub fn from_minor(minor: u8) -> Option<PythonVersion> {
        Self::ALL.into_iter().find(|v| v.minor == minor)
    }

    pub fn major(self) -> u8 {
        3
    }

    pub fn minor(self) -> u8 {
        self.minor
    }

    /// This version's position in [`PythonVersion::ALL`], for tables kept per version.
    pub fn index(self) -> usize {
        usize::from(self.minor - Self::ALL[0].minor)
    }

    /// The magic number (`importlib.util.MAGIC_NUMBER` read as a little-endian u16).
    pub fn magic_number(self) -> u16 {
        match self.minor {
            8 => 3413,
            9 => 3425,
            10 => 3439,
            11 => 3495,
            12 => 3531,
            13 => 3571,
            14 => 3627,
            15 => 3666,
            _ => unreachable!("unsupported versions cannot be constructed"),
        }
    }

    /// The four magic bytes at the start of a pyc: the magic number, then `\r\n`.
    pub fn magic_bytes(self) -> [u8; 4] {
        let m = self.magic_number().to_le_bytes();
        [m[0], m[1], b'\r', b'\n']
    }

    /// The version whose pyc files start with these four bytes.
    pub fn from_magic_bytes(bytes: [u8; 4]) -> Option<PythonVersion> {
        Self::ALL.into_iter().find(|v| v.magic_bytes() == bytes)
    }

    /// `sys.implementation.cache_tag`, e.g. `cpython-311`.
    pub fn cache_tag(self) -> String {
        format!("cpython-3{}", self.minor)
    }

    /// The marshal format version `marshal.dumps` writes by default: 4, then 5 (3.14, which
    /// adds slice objects) and 6 (3.15).
    pub fn marshal_version(self) -> u8 {
        match self.minor {
            ..=13 => 4,
            14 => 5,
            _ => 6,
        }
    }

    /// marshal writes and reads slice objects (`TYPE_SLICE`, marshal version 5: 3.14+), which
    /// appear as constants of code objects.
    pub fn marshals_slices(self) -> bool {
        self.marshal_version() >= 5
    }

    /// The SipHash variant of `_imp.source_hash`.
    pub fn source_hash_variant(self) -> SipHashVariant {
        if self.minor >= 11 {
            SipHashVariant::Sip13
        } else {
            SipHashVariant::Sip24
        }
    }

    /// The key `importlib.util.source_hash` uses: `_RAW_MAGIC_NUMBER` (up to 3.13) or
    /// `_imp.pyc_magic_number_token` (3.14+), both the four magic bytes read as a
    /// little-endian integer.
    pub fn source_hash_key(self) -> u64 {
        u32::from_le_bytes(self.magic_bytes()) as u64
    }
}

/// Code objects: their fields and flags.
impl PythonVersion {
    /// How line numbers are stored: `co_lnotab` (3.8, 3.9), PEP 626 (3.10), PEP 657 (3.11+).
    pub fn line_table_format(self) -> LineTableFormat {
        match self.minor {
            8 | 9 => LineTableFormat::Lnotab,
            10 => LineTableFormat::Linetable310,
            _ => LineTableFormat::Locations,
        }
    }

    /// How local variables are stored: split lists (3.8–3.10) or locals-plus (3.11+).
    pub fn locals_layout(self) -> LocalsLayout {
        if self.minor <= 10 {
            LocalsLayout::Split
        } else {
            LocalsLayout::LocalsPlus
        }
    }

    /// Code objects carry a `co_qualname` (3.11+).
    pub fn has_qualname(self) -> bool {
        self.minor >= 11
    }

    /// Code objects carry a zero-cost exception table (3.11+).
    pub fn has_exception_table(self) -> bool {
        self.minor >= 11
    }

    /// Locals-plus kinds include `CO_FAST_HIDDEN`, for the names of inlined comprehensions
    /// (3.12+).
    pub fn has_hidden_locals(self) -> bool {
        self.minor >= 12
    }

    /// The plain marshal writer models the references CPython's `marshal.dumps` finds on a
    /// freshly compiled code object (so that our pycs load with the same objects shared, and
    /// match `py_compile`'s bytes where the interpreter's state does not leak in): 3.11.
    pub fn marshal_compile_refs(self) -> bool {
        self.minor == 11
    }

    /// The AST optimizer folds constant expressions (up to 3.13). 3.14 folds only `%`
    /// formatting there and leaves the rest to the flow-graph optimizer, which the compiler's
    /// `fold` pass does not model yet.
    pub fn folds_constants_in_ast(self) -> bool {
        self.minor <= 13
    }

    /// pyc-build can compile source for this version (code generation exists: 3.11 so far).
    pub fn has_codegen(self) -> bool {
        self.minor == 11
    }

    /// Code flags include `CO_NOFREE`, set when there are no cell or free variables (3.8–3.10).
    pub fn has_nofree_flag(self) -> bool {
        self.minor <= 10
    }

    /// `co_stacksize` is at least 1: 3.13 raises a computed 0 when it builds the code object.
    pub fn stack_size_at_least_one(self) -> bool {
        self.minor >= 13
    }

    /// A generator's stack starts at depth 1: 3.10 for `GEN_START`'s value, 3.11 and 3.12 for
    /// the one `RETURN_GENERATOR` leaves and `POP_TOP` removes.
    pub fn generators_start_at_depth_one(self) -> bool {
        matches!(self.minor, 10..=12)
    }

    /// The stack size is counted before the peephole optimizer folds `LOAD_CONST`s and
    /// `BUILD_TUPLE` into one constant tuple (3.8, 3.9).
    pub fn folds_tuples_after_stack_depth(self) -> bool {
        self.minor <= 9
    }
}

/// Instructions and their arguments.
impl PythonVersion {
    /// Instructions are followed by inline `CACHE` code units (3.11+).
    pub fn has_inline_caches(self) -> bool {
        self.minor >= 11
    }

    /// Jump arguments count code units (3.10+) rather than bytes (3.8, 3.9).
    pub fn jumps_count_code_units(self) -> bool {
        self.minor >= 10
    }

    /// Backward jumps are relative, with opcodes of their own (`JUMP_BACKWARD`, 3.11+);
    /// earlier versions jump backward to an absolute offset.
    pub fn has_backward_jumps(self) -> bool {
        self.minor >= 11
    }

    /// `LOAD_GLOBAL`'s argument is the name index shifted left by one, the low bit asking for
    /// a `NULL` pushed first (3.11+).
    pub fn load_global_pushes_null_in_low_bit(self) -> bool {
        self.minor >= 11
    }

    /// `LOAD_ATTR`'s argument is the name index shifted left by one, the low bit asking for a
    /// method load, `NULL|self` (3.12+).
    pub fn load_attr_loads_method_in_low_bit(self) -> bool {
        self.minor >= 12
    }

    /// How far `COMPARE_OP`'s argument shifts the comparison's index: 0 up to 3.11, then 4 (3.12)
    /// or 5 (3.13+) above a mask of the outcomes that make it true.
    pub fn compare_op_arg_shift(self) -> u32 {
        match self.minor {
            ..=11 => 0,
            12 => 4,
            _ => 5,
        }
    }

    /// `COMPARE_OP`'s argument has a bit (16) asking for a `bool` result (3.13+).
    pub fn compare_op_has_to_bool_bit(self) -> bool {
        self.minor >= 13
    }
}

/// Line tables: what the assembler writes and what `co_lines()` reads.
impl PythonVersion {
    /// `co_lnotab` has no pair for an instruction that keeps the line (3.9); 3.8 writes one at
    /// each new offset.
    pub fn lnotab_skips_unchanged_lines(self) -> bool {
        self.minor >= 9
    }

    /// The assembler writes one location entry for a run of instructions at the same position
    /// (3.12+) rather than one per instruction.
    pub fn merges_equal_locations(self) -> bool {
        self.minor >= 12
    }

    /// `co_lines()` merges consecutive entries with the same line (3.12+).
    pub fn merges_line_ranges(self) -> bool {
        self.minor >= 12
    }

    /// `co_lines()` gives `None` for every negative line (3.10, 3.11); later only for -1.
    pub fn negative_lines_are_none(self) -> bool {
        self.minor <= 11
    }
}

/// What each version's `dis` module shows.
impl PythonVersion {
    /// `dis` asks `hasarg` whether an instruction has an argument (3.12+), not
    /// `HAVE_ARGUMENT`; unknown opcodes then have none.
    pub fn dis_reads_hasarg(self) -> bool {
        self.minor >= 12
    }

    /// `dis` folds `EXTENDED_ARG` into a C int, wrapping at 2**31 (3.11+).
    pub fn dis_wraps_oparg_as_c_int(self) -> bool {
        self.minor >= 11
    }

    /// `dis` drops a pending `EXTENDED_ARG` at an instruction without argument (3.10+); 3.8 and
    /// 3.9 keep it for the next instruction that has one.
    pub fn dis_clears_extended_arg_on_argless(self) -> bool {
        self.minor >= 10
    }

    /// `dis` places a relative jump's target after the instruction's caches (3.12+).
    pub fn dis_jump_targets_skip_caches(self) -> bool {
        self.minor >= 12
    }

    /// `dis` shows absolute jumps as `to <target>` (3.10+); 3.8 and 3.9 show the bare argument.
    pub fn dis_shows_absolute_jump_targets(self) -> bool {
        self.minor >= 10
    }

    /// `dis` names jump targets and exception-table bounds with labels `L1`, `L2`, … (3.13+).
    pub fn dis_uses_labels(self) -> bool {
        self.minor >= 13
    }

    /// `dis` always shows the line-number column (3.8, 3.9), even when no line starts.
    pub fn dis_always_shows_line_numbers(self) -> bool {
        self.minor <= 9
    }

    /// `dis.findlinestarts` yields the start of every `co_lines()` range, `None` lines
    /// included (3.13+), not only where the line changes.
    pub fn dis_starts_line_at_every_range(self) -> bool {
        self.minor >= 13
    }

    /// `dis` resolves the constant of `LOAD_CONST` only, leaving `KW_NAMES`'s unknown (3.11).
    pub fn dis_resolves_only_load_const(self) -> bool {
        self.minor == 11
    }

    /// `dis` writes a name's `NULL` flag after the name, `x + NULL` (3.13+), not before it.
    pub fn dis_writes_null_after_name(self) -> bool {
        self.minor >= 13
    }

    /// `dis` spells the argument of `IS_OP` (`is`, `is not`) and `CONTAINS_OP` (`in`,
    /// `not in`), and names `END_ASYNC_FOR`'s target `from L…` (3.14+).
    pub fn dis_names_is_and_contains(self) -> bool {
        self.minor >= 14
    }

    /// `IMPORT_NAME`'s argument is the name index shifted left by two, above a bit for a
    /// lazy import (1) and one for an eager import (2) (3.15+).
    pub fn import_name_has_lazy_bits(self) -> bool {
        self.minor >= 15
    }
}

/// Hashes of constants, which order the members of frozensets.
impl PythonVersion {
    /// `hash(None)` is a constant (3.12+) rather than derived from its address.
    pub fn none_has_fixed_hash(self) -> bool {
        self.minor >= 12
    }

    /// `hash(nan)` comes from the object's address (3.10+) rather than being 0.
    pub fn nan_hash_is_by_identity(self) -> bool {
        self.minor >= 10
    }
}

/// The tokenizer and the parser.
impl PythonVersion {
    /// The tokenizer words its errors precisely and checks what follows a number (3.10+):
    /// `'(' was never closed`, `invalid non-printable character`, `invalid decimal literal`.
    pub fn precise_tokenizer_errors(self) -> bool {
        self.minor >= 10
    }

    /// A tokenizer error raised at once wins over any parser error (3.10+, which tokenizes
    /// the rest of the source after a parser error).
    pub fn raised_tokenizer_errors_win(self) -> bool {
        self.minor >= 10
    }

    /// An invalid character in an identifier is named with its code point (3.9+).
    pub fn names_invalid_characters(self) -> bool {
        self.minor >= 9
    }

    /// A UTF-8 source (no cookie, or a UTF-8 one) must be valid UTF-8 throughout, comments
    /// and bytes literals included: the first bad byte is `Non-UTF-8 code starting with …`
    /// (3.14+); before, only what the tokenizer decodes is checked.
    pub fn checks_whole_source_is_utf8(self) -> bool {
        self.minor >= 14
    }

    /// `encoding problem: … with BOM` is reported on line 1 (3.14+), not line 0.
    pub fn bom_conflict_on_line_one(self) -> bool {
        self.minor >= 14
    }

    /// A comprehension's element may be unpacked, `[*it for it in its]` (PEP 798, 3.15+).
    pub fn unpacks_in_comprehensions(self) -> bool {
        self.minor >= 15
    }

    /// A bare `*` without named parameters after it is worded "named parameters must follow
    /// bare *" (3.15+), not "named arguments …".
    pub fn names_bare_star_parameters(self) -> bool {
        self.minor >= 15
    }

    /// f-strings are tokenized with their replacement fields (PEP 701, 3.12+).
    pub fn tokenizes_fstrings(self) -> bool {
        self.minor >= 12
    }

    /// An unterminated string whose end is `\'` or `\"` gets a hint about the escaped quote
    /// (3.13+).
    pub fn hints_escaped_end_quote(self) -> bool {
        self.minor >= 13
    }

    /// Syntax errors take the wording of the 3.10 PEG parser (no trailing periods, more
    /// specific messages) rather than the older wording.
    pub fn pegen_messages(self) -> bool {
        self.minor >= 10
    }

    /// The AST builder refuses binding `__debug__` and repeated keyword arguments (3.8);
    /// later versions leave both to the compiler.
    pub fn ast_builder_checks_names(self) -> bool {
        self.minor == 8
    }

    /// A `SyntaxError` carries an end position, `end_lineno` and `end_offset` (3.10+).
    pub fn syntax_errors_have_end(self) -> bool {
        self.minor >= 10
    }
}

/// The symbol table.
impl PythonVersion {
    /// With `from __future__ import annotations`, annotations get throwaway scopes that
    /// refuse `yield`, `await` and walrus (3.10+).
    pub fn future_annotations_have_scopes(self) -> bool {
        self.minor >= 10
    }

    /// Symbol-table errors point at the offending node (3.10+), not at the enclosing scope or
    /// comprehension.
    pub fn symtable_errors_at_node(self) -> bool {
        self.minor >= 10
    }

    /// Assignment-expression errors in comprehensions give a 1-based column (3.10+); 3.8 and
    /// 3.9 give the 0-based `col_offset`.
    pub fn walrus_errors_one_based(self) -> bool {
        self.minor >= 10
    }

    /// An async comprehension makes the enclosing function a coroutine (3.11+).
    pub fn async_comprehension_awaits_in_parent(self) -> bool {
        self.minor >= 11
    }

    /// PEP 709 inlines list, set and dict comprehensions into their parent scope (3.12+).
    pub fn inlines_comprehensions(self) -> bool {
        self.minor >= 12
    }

    /// PEP 695 type parameters exist, with their scopes and a class's `__classdict__` cell
    /// (3.12+).
    pub fn has_type_params(self) -> bool {
        self.minor >= 12
    }

    /// Decorators are visited before type parameters, annotations and bases (3.12+).
    pub fn visits_decorators_first(self) -> bool {
        self.minor >= 12
    }

    /// Future imports are scanned up to the first other statement (3.12+); before, a late one
    /// on that statement's line is refused there too.
    pub fn future_scan_ends_at_first_statement(self) -> bool {
        self.minor >= 12
    }

    /// Lambdas and comprehensions are refused in annotation scopes within a class (3.12 only;
    /// 3.13 allows them and does not inline those comprehensions).
    pub fn refuses_nested_scopes_in_class_annotation_scopes(self) -> bool {
        self.minor == 12
    }

    /// PEP 649 and 749: annotations are evaluated lazily by `__annotate__` functions, whose
    /// annotation scopes are part of the symbol table; a module (and a class, for annotations
    /// under a condition) gets a `__conditional_annotations__` cell (3.14+).
    pub fn has_deferred_annotations(self) -> bool {
        self.minor >= 14
    }

    /// An `int` or `float` operand of `+`, `-`, `*` and `/` with a `complex` one counts as a
    /// real number (C99 Annex G), not as a complex with a zero imaginary part (3.14+):
    /// `1 - 0j` is `(1-0j)`. This decides what constant folding makes.
    pub fn mixed_complex_arithmetic_is_real(self) -> bool {
        self.minor >= 14
    }

    /// The symbol table names lambdas and comprehensions as their code objects are named,
    /// `<lambda>`, `<listcomp>`, … (3.15+), not `lambda`, `listcomp`, ….
    pub fn symtable_names_in_brackets(self) -> bool {
        self.minor >= 15
    }

    /// `try` visits its handlers before its `else` block (3.13+).
    pub fn handlers_before_else(self) -> bool {
        self.minor >= 13
    }

    /// Type parameters may have defaults; type-variable scopes start at their expression and
    /// name it in messages ("a TypeVar bound", "a TypeVar default", …) (3.13+).
    pub fn has_type_param_defaults(self) -> bool {
        self.minor >= 13
    }

    /// A generic class's type-parameter scope mangles only the type parameters (3.13+); 3.12
    /// (as of 3.12.1) mangles every name there and keeps the class's name for mangling after.
    pub fn mangles_only_type_params(self) -> bool {
        self.minor >= 13
    }

    /// `_Py_block_ty` numbers the type blocks alias 4, parameters 5, variable 6 (3.13+); 3.12
    /// numbers them variable (bound) 4, alias 5, parameters 6.
    pub fn renumbered_type_blocks(self) -> bool {
        self.minor >= 13
    }

    /// The bit position of a symbol's scope in `ste_symbols` (`SCOPE_OFFSET`): 11, or 12 from
    /// 3.12.
    pub fn symbol_scope_shift(self) -> u32 {
        if self.minor >= 12 {
            12
        } else {
            11
        }
    }

    /// Which f-string token is searched to place the lines of an f-string's expressions.
    pub fn fstring_search(self) -> FStringSearch {
        match self.minor {
            8 => FStringSearch::FirstToken,
            9..=11 => FStringSearch::OwnToken,
            _ => FStringSearch::None,
        }
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "3.{}", self.minor)
    }
}

/// The error for a version string we do not support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVersion(pub String);

impl fmt::Display for UnknownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported Python version '{}' (supported: 3.8 to 3.15)",
            self.0
        )
    }
}

impl std::error::Error for UnknownVersion {}

impl FromStr for PythonVersion {
    type Err = UnknownVersion;

    /// Accepts `3.11`, `3.11.7` and `311`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownVersion(s.to_string());
        let t = s.trim();
        let minor = if let Some(rest) = t.strip_prefix("3.") {
            let minor = rest.split('.').next().unwrap_or("");
            minor.parse::<u8>().map_err(|_| err())?
        } else if let Some(rest) = t.strip_prefix('3') {
            rest.parse::<u8>().map_err(|_| err())?
        } else {
            return Err(err());
        };
        Self::from_minor(minor).ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_round_trip() {
        for v in PythonVersion::ALL {
            assert_eq!(PythonVersion::from_magic_bytes(v.magic_bytes()), Some(v));
        }
        assert_eq!(PythonVersion::V3_11.magic_bytes(), [0xa7, 0x0d, 0x0d, 0x0a]);
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (i, v) in PythonVersion::ALL.into_iter().enumerate() {
            assert_eq!(v.index(), i, "{v}");
        }
    }

    #[test]
    fn parse() {
        assert_eq!("3.11".parse(), Ok(PythonVersion::V3_11));
        assert_eq!("3.8.18".parse(), Ok(PythonVersion::V3_8));
        assert_eq!("310".parse(), Ok(PythonVersion::V3_10));
        assert!("3.7".parse::<PythonVersion>().is_err());
        assert!("2.7".parse::<PythonVersion>().is_err());
        assert!("banana".parse::<PythonVersion>().is_err());
    }
}
