//! The CPython versions we know, and every version difference asked as a named question.

use std::fmt;
use std::str::FromStr;

/// A CPython feature release (3.8 to 3.13). Only supported versions can be constructed.
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

impl PythonVersion {
    pub const V3_8: PythonVersion = PythonVersion { minor: 8 };
    pub const V3_9: PythonVersion = PythonVersion { minor: 9 };
    pub const V3_10: PythonVersion = PythonVersion { minor: 10 };
    pub const V3_11: PythonVersion = PythonVersion { minor: 11 };
    pub const V3_12: PythonVersion = PythonVersion { minor: 12 };
    pub const V3_13: PythonVersion = PythonVersion { minor: 13 };

    /// Every supported version, oldest first.
    pub const ALL: [PythonVersion; 6] = [
        Self::V3_8,
        Self::V3_9,
        Self::V3_10,
        Self::V3_11,
        Self::V3_12,
        Self::V3_13,
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

    /// The magic number (`importlib.util.MAGIC_NUMBER` read as a little-endian u16).
    pub fn magic_number(self) -> u16 {
        match self.minor {
            8 => 3413,
            9 => 3425,
            10 => 3439,
            11 => 3495,
            12 => 3531,
            13 => 3571,
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

    /// The marshal format version `marshal.dumps` writes by default.
    pub fn marshal_version(self) -> u8 {
        4
    }

    pub fn line_table_format(self) -> LineTableFormat {
        match self.minor {
            8 | 9 => LineTableFormat::Lnotab,
            10 => LineTableFormat::Linetable310,
            _ => LineTableFormat::Locations,
        }
    }

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

    /// Instructions are followed by inline `CACHE` code units (3.11+).
    pub fn has_inline_caches(self) -> bool {
        self.minor >= 11
    }

    /// Jump arguments count code units (3.10+) rather than bytes (3.8, 3.9).
    pub fn jumps_count_code_units(self) -> bool {
        self.minor >= 10
    }

    /// The SipHash variant of `_imp.source_hash`.
    pub fn source_hash_variant(self) -> SipHashVariant {
        if self.minor >= 11 {
            SipHashVariant::Sip13
        } else {
            SipHashVariant::Sip24
        }
    }

    /// The key `importlib.util.source_hash` uses: `_RAW_MAGIC_NUMBER`, the four magic bytes
    /// read as a little-endian integer.
    pub fn source_hash_key(self) -> u64 {
        u32::from_le_bytes(self.magic_bytes()) as u64
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
            "unsupported Python version '{}' (supported: 3.8 to 3.13)",
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
    fn parse() {
        assert_eq!("3.11".parse(), Ok(PythonVersion::V3_11));
        assert_eq!("3.8.18".parse(), Ok(PythonVersion::V3_8));
        assert_eq!("310".parse(), Ok(PythonVersion::V3_10));
        assert!("3.7".parse::<PythonVersion>().is_err());
        assert!("2.7".parse::<PythonVersion>().is_err());
        assert!("banana".parse::<PythonVersion>().is_err());
    }
}
