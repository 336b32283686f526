//! Python's `hash()` of constants and the iteration order of the frozensets built from them.
//!
//! `repr()` of a frozenset lists its members in the order of its hash table, which depends
//! on the hashes, and for `str` and `bytes` on the hash secret (`PYTHONHASHSEED`). marshal
//! builds a frozenset by adding the stored members one by one, so the order a reader sees
//! follows from the members, the version and the seed alone.

use num_bigint::{BigInt, Sign};
use num_traits::ToPrimitive;
use siphasher::sip::{SipHasher13, SipHasher24};
use std::hash::Hasher;

use crate::code::{Constant, PyStr};
use crate::version::{PythonVersion, SipHashVariant};

/// The kind of CPython build whose hashes are computed: hashes are `Py_hash_t`, as wide as a
/// pointer, and the build chooses the algorithm for `str` and `bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashBuild {
    /// A 64-bit build hashing `str` and `bytes` with SipHash (`sys.hash_info.width` 64).
    #[default]
    Native64,
    /// A 32-bit build hashing `str` and `bytes` with FNV (`sys.hash_info`: width 32,
    /// algorithm `fnv`), as Pyodide's WebAssembly CPython.
    Fnv32,
}

impl HashBuild {
    /// `sys.hash_info.width`.
    pub fn width(self) -> u32 {
        match self {
            HashBuild::Native64 => 64,
            HashBuild::Fnv32 => 32,
        }
    }

    /// `Py_uhash_t`'s bits set.
    fn mask(self) -> u64 {
        u64::MAX >> (64 - self.width())
    }

    /// `_PyHASH_BITS`: the modulus of numeric hashes is `2**bits - 1`.
    fn hash_bits(self) -> u32 {
        match self {
            HashBuild::Native64 => 61,
            HashBuild::Fnv32 => 31,
        }
    }

    fn modulus(self) -> u64 {
        (1 << self.hash_bits()) - 1
    }

    /// A `Py_uhash_t` (the low `width` bits of `x`) as the signed `Py_hash_t`.
    fn signed(self, x: u64) -> i64 {
        let shift = 64 - self.width();
        ((x << shift) as i64) >> shift
    }
}

/// The SipHash keys `(k0, k1)` of a Python started with `PYTHONHASHSEED=seed`
/// (0 disables randomization: both keys are zero).
pub fn hash_secret(seed: u32) -> (u64, u64) {
    if seed == 0 {
        return (0, 0);
    }
    // CPython fills the secret from a linear congruential generator seeded with the value.
    let mut x = seed;
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        x = x.wrapping_mul(214013).wrapping_add(2531011);
        *b = (x >> 16) as u8;
    }
    let (k0, k1) = bytes.split_at(8);
    (
        u64::from_le_bytes(k0.try_into().unwrap_or_default()),
        u64::from_le_bytes(k1.try_into().unwrap_or_default()),
    )
}

/// `hash(c)` in Python `v` (a 64-bit build) started with `PYTHONHASHSEED=seed`, or `None`
/// when it depends on the object's address (`None` before 3.12, `Ellipsis`, NaN from 3.10,
/// code objects).
pub fn hash(c: &Constant, v: PythonVersion, seed: u32) -> Option<i64> {
    hash_in(c, v, seed, HashBuild::Native64)
}

/// [`hash`] in a build of the given kind.
pub fn hash_in(c: &Constant, v: PythonVersion, seed: u32, b: HashBuild) -> Option<i64> {
    let h = match c {
        Constant::None if v.none_has_fixed_hash() => b.signed(0xFCA8_6420),
        // Slices are never members of a compiled frozenset.
        Constant::None
        | Constant::StopIteration
        | Constant::Ellipsis
        | Constant::Slice(_)
        | Constant::Code(_) => return None,
        Constant::Bool(b) => *b as i64,
        Constant::Int(i) => hash_int(i, b),
        Constant::Float(f) => hash_float(*f, v, b)?,
        Constant::Complex { re, im } => {
            let h = (hash_float(*re, v, b)? as u64)
                .wrapping_add(1000003u64.wrapping_mul(hash_float(*im, v, b)? as u64));
            fix(b.signed(h))
        }
        Constant::Str(s) => hash_bytes(&str_data(s), v, seed, b),
        Constant::Bytes(bytes) => hash_bytes(bytes, v, seed, b),
        Constant::Tuple(items) => {
            // xxHash's primes and rotation for the build's width.
            let (p1, p2, p5, rotate): (u64, u64, u64, u32) = match b {
                HashBuild::Native64 => (
                    11400714785074694791,
                    14029467366897019727,
                    2870177450012600261,
                    31,
                ),
                HashBuild::Fnv32 => (2654435761, 2246822519, 374761393, 13),
            };
            let mask = b.mask();
            let rotl = |x: u64| ((x << rotate) | (x >> (b.width() - rotate))) & mask;
            let mut acc = p5;
            for item in items {
                let lane = hash_in(item, v, seed, b)? as u64 & mask;
                acc = acc.wrapping_add(lane.wrapping_mul(p2)) & mask;
                acc = rotl(acc);
                acc = acc.wrapping_mul(p1) & mask;
            }
            acc = acc.wrapping_add(items.len() as u64 ^ (p5 ^ 3527539)) & mask;
            if acc == mask {
                1546275796
            } else {
                b.signed(acc)
            }
        }
        Constant::FrozenSet(items) => {
            let mask = b.mask();
            let shuffle = |h: u64| ((h ^ 89869747) ^ (h << 16)).wrapping_mul(3644798167) & mask;
            let mut h = 0u64;
            for item in items {
                h ^= shuffle(hash_in(item, v, seed, b)? as u64 & mask);
            }
            h ^= (items.len() as u64 + 1).wrapping_mul(1927868237) & mask;
            h ^= (h >> 11) ^ (h >> 25);
            h = h.wrapping_mul(69069).wrapping_add(907133923) & mask;
            if h == mask {
                590923713
            } else {
                b.signed(h)
            }
        }
    };
    Some(h)
}

/// -1 is CPython's error value, so a hash of -1 becomes -2.
fn fix(h: i64) -> i64 {
    if h == -1 {
        -2
    } else {
        h
    }
}

fn hash_int(i: &BigInt, b: HashBuild) -> i64 {
    let m = (i.magnitude() % b.modulus()).to_u64().unwrap_or(0) as i64;
    fix(if i.sign() == Sign::Minus { -m } else { m })
}

/// `_Py_HashDouble`: the value modulo 2**61 - 1, so that equal ints and floats hash alike.
fn hash_float(x: f64, v: PythonVersion, b: HashBuild) -> Option<i64> {
    let (modulus, bits) = (b.modulus(), b.hash_bits());
    if x.is_nan() {
        return if v.nan_hash_is_by_identity() {
            None
        } else {
            Some(0)
        };
    }
    if x.is_infinite() {
        return Some(if x > 0.0 { 314159 } else { -314159 });
    }
    let (mut m, mut e) = frexp(x.abs());
    let mut h: u64 = 0;
    while m != 0.0 {
        h = ((h << 28) & modulus) | h >> (bits - 28);
        m *= 268435456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        h += y;
        if h >= modulus {
            h -= modulus;
        }
    }
    let e = if e >= 0 {
        e % bits as i32
    } else {
        bits as i32 - 1 - ((-1 - e) % bits as i32)
    } as u32;
    h = ((h << e) & modulus) | h >> (bits - e);
    let h = if x < 0.0 {
        (h as i64).wrapping_neg()
    } else {
        h as i64
    };
    Some(fix(h))
}

/// C's `frexp` for finite non-negative values: `x = m * 2**e` with `0.5 <= m < 1` (or 0).
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 {
        return (0.0, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * f64::powi(2.0, 64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// The bytes CPython hashes for a str: its code points in the narrowest of 1, 2 or 4 bytes
/// each, little-endian.
fn str_data(s: &PyStr) -> Vec<u8> {
    let max = s.code_points().max().unwrap_or(0);
    let width = if max < 0x100 {
        1
    } else if max < 0x10000 {
        2
    } else {
        4
    };
    s.code_points()
        .flat_map(|c| c.to_le_bytes().into_iter().take(width))
        .collect()
}

fn hash_bytes(data: &[u8], v: PythonVersion, seed: u32, b: HashBuild) -> i64 {
    if data.is_empty() {
        return 0;
    }
    let (k0, k1) = hash_secret(seed);
    if b == HashBuild::Fnv32 {
        // The secret's first 4 bytes are FNV's prefix, the next 4 its suffix.
        return fix(b.signed(fnv32(data, k0 as u32, (k0 >> 32) as u32).into()));
    }
    let h = match v.source_hash_variant() {
        SipHashVariant::Sip13 => {
            let mut h = SipHasher13::new_with_keys(k0, k1);
            h.write(data);
            h.finish()
        }
        SipHashVariant::Sip24 => {
            let mut h = SipHasher24::new_with_keys(k0, k1);
            h.write(data);
            h.finish()
        }
    };
    fix(h as i64)
}

/// CPython's `fnv` for a 32-bit `Py_uhash_t`: the first byte shifted in, 4-byte blocks,
/// then the rest (at least one whole block) byte by byte, and the length.
fn fnv32(data: &[u8], prefix: u32, suffix: u32) -> u32 {
    const MULTIPLIER: u32 = 1000003;
    let mut rest = data.len() % 4;
    if rest == 0 {
        rest = 4;
    }
    let (blocks, tail) = data.split_at(data.len() - rest);
    let mut x = prefix ^ (u32::from(data[0]) << 7);
    for block in blocks.chunks_exact(4) {
        let word = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        x = MULTIPLIER.wrapping_mul(x) ^ word;
    }
    for &byte in tail {
        x = MULTIPLIER.wrapping_mul(x) ^ u32::from(byte);
    }
    x ^= data.len() as u32;
    x ^= suffix;
    if x == u32::MAX {
        u32::MAX - 1
    } else {
        x
    }
}

/// The order in which Python iterates a frozenset built by adding `items` one by one (as
/// marshal does), as indexes into `items`; `None` when a member's hash is unpredictable.
/// Members are taken to be distinct, as in any set.
pub fn frozenset_order(
    items: &[Constant],
    v: PythonVersion,
    seed: u32,
    b: HashBuild,
) -> Option<Vec<usize>> {
    // `(size_t)hash`: the probe sequence sees the build's unsigned hash.
    let hashes = items
        .iter()
        .map(|c| hash_in(c, v, seed, b).map(|h| h as u64 & b.mask()))
        .collect::<Option<Vec<u64>>>()?;
    let mut table: Vec<Option<usize>> = vec![None; 8];
    let mut fill = 0usize;
    for (index, &h) in hashes.iter().enumerate() {
        insert_clean(&mut table, index, h);
        fill += 1;
        let mask = table.len() - 1;
        if fill * 5 >= mask * 3 {
            // `set_table_resize` to the smallest power of two above the wanted size.
            let wanted = if fill > 50000 { fill * 2 } else { fill * 4 };
            let mut size = 8;
            while size <= wanted {
                size <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; size]);
            for i in old.into_iter().flatten() {
                insert_clean(&mut table, i, hashes[i]);
            }
        }
    }
    Some(table.into_iter().flatten().collect())
}

/// Puts a member in the first free slot of its probe sequence: a run of up to ten slots,
/// then a perturbed jump.
fn insert_clean(table: &mut [Option<usize>], index: usize, hash: u64) {
    const LINEAR_PROBES: usize = 9;
    let mask = table.len() - 1;
    let mut perturb = hash;
    let mut i = hash as usize & mask;
    loop {
        let run = if i + LINEAR_PROBES <= mask {
            LINEAR_PROBES
        } else {
            0
        };
        for slot in &mut table[i..=i + run] {
            if slot.is_none() {
                *slot = Some(index);
                return;
            }
        }
        perturb >>= 5;
        i = (i
            .wrapping_mul(5)
            .wrapping_add(1)
            .wrapping_add(perturb as usize))
            & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V310: PythonVersion = PythonVersion::V3_10;
    const V311: PythonVersion = PythonVersion::V3_11;

    #[test]
    fn hashes_match_python_with_seed_zero() {
        let h = |c: Constant, v| hash(&c, v, 0);
        assert_eq!(h(Constant::str("a"), V310), Some(-7583489610679606711));
        assert_eq!(h(Constant::str("a"), V311), Some(4644417185603328019));
        assert_eq!(
            h(Constant::Bytes(b"a".to_vec()), V311),
            Some(4644417185603328019)
        );
        assert_eq!(h(Constant::str(""), V311), Some(0));
        assert_eq!(h(Constant::int(-1), V311), Some(-2));
        assert_eq!(h(Constant::Float(1.5), V311), Some(1152921504606846977));
        assert_eq!(h(Constant::Float(-2.0), V311), Some(-2));
        assert_eq!(h(Constant::None, PythonVersion::V3_12), Some(4238894112));
        assert_eq!(h(Constant::None, V311), None);
        assert_eq!(h(Constant::Tuple(vec![]), V311), Some(5740354900026072187));
    }

    /// Values printed by Pyodide's CPython 3.14 (`sys.hash_info.algorithm` `fnv`, width 32).
    #[test]
    fn hashes_match_a_32_bit_fnv_build() {
        let v = PythonVersion::V3_14;
        let h = |c: Constant| hash_in(&c, v, 0, HashBuild::Fnv32);
        assert_eq!(h(Constant::str("a")), Some(-468864544));
        assert_eq!(
            h(Constant::Bytes(b"hello world!".to_vec())),
            Some(-593832496)
        );
        assert_eq!(h(Constant::str("")), Some(0));
        assert_eq!(h(Constant::int(-1)), Some(-2));
        assert_eq!(h(Constant::int(1 << 40)), Some(512));
        assert_eq!(h(Constant::Float(1.5)), Some(1073741825));
        assert_eq!(h(Constant::None), Some(-56073184));
        assert_eq!(h(Constant::Tuple(vec![])), Some(750394483));
        let pair = || vec![Constant::int(1), Constant::int(2)];
        assert_eq!(h(Constant::Tuple(pair())), Some(994727857));
        assert_eq!(h(Constant::FrozenSet(pair())), Some(-489709338));
    }

    #[test]
    fn order_follows_the_hash_table() {
        // Small ints hash to themselves, so they come out sorted whatever the input order.
        let items: Vec<Constant> = [5, 3, 1].into_iter().map(Constant::int).collect();
        let order = |items: &[Constant], v| frozenset_order(items, v, 0, HashBuild::Native64);
        assert_eq!(order(&items, V311), Some(vec![2, 1, 0]));
        // 8 and 0 share slot 0 of the first table; the table grows at the fifth member.
        let items: Vec<Constant> = [8, 0, 1, 2, 3].into_iter().map(Constant::int).collect();
        assert_eq!(order(&items, V311), Some(vec![1, 2, 3, 4, 0]));
        assert_eq!(order(&[Constant::Ellipsis], V311), None);
    }
}
