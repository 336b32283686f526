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

/// `sys.hash_info.modulus`: 2**61 - 1.
const MODULUS: u64 = (1 << 61) - 1;
const HASH_BITS: u32 = 61;

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

/// `hash(c)` in Python `v` started with `PYTHONHASHSEED=seed`, or `None` when it depends on
/// the object's address (`None` before 3.12, `Ellipsis`, NaN from 3.10, code objects).
pub fn hash(c: &Constant, v: PythonVersion, seed: u32) -> Option<i64> {
    let h = match c {
        Constant::None if v.none_has_fixed_hash() => 0xFCA8_6420,
        Constant::None | Constant::StopIteration | Constant::Ellipsis | Constant::Code(_) => {
            return None
        }
        Constant::Bool(b) => *b as i64,
        Constant::Int(i) => hash_int(i),
        Constant::Float(f) => hash_float(*f, v)?,
        Constant::Complex { re, im } => {
            let h = (hash_float(*re, v)? as u64)
                .wrapping_add(1000003u64.wrapping_mul(hash_float(*im, v)? as u64));
            fix(h as i64)
        }
        Constant::Str(s) => hash_bytes(&str_data(s), v, seed),
        Constant::Bytes(b) => hash_bytes(b, v, seed),
        Constant::Tuple(items) => {
            const P1: u64 = 11400714785074694791;
            const P2: u64 = 14029467366897019727;
            const P5: u64 = 2870177450012600261;
            let mut acc = P5;
            for item in items {
                let lane = hash(item, v, seed)? as u64;
                acc = acc.wrapping_add(lane.wrapping_mul(P2));
                acc = acc.rotate_left(31);
                acc = acc.wrapping_mul(P1);
            }
            acc = acc.wrapping_add(items.len() as u64 ^ (P5 ^ 3527539));
            if acc == u64::MAX {
                1546275796
            } else {
                acc as i64
            }
        }
        Constant::FrozenSet(items) => {
            let shuffle = |h: u64| ((h ^ 89869747) ^ (h << 16)).wrapping_mul(3644798167);
            let mut h = 0u64;
            for item in items {
                h ^= shuffle(hash(item, v, seed)? as u64);
            }
            h ^= (items.len() as u64 + 1).wrapping_mul(1927868237);
            h ^= (h >> 11) ^ (h >> 25);
            h = h.wrapping_mul(69069).wrapping_add(907133923);
            if h == u64::MAX {
                590923713
            } else {
                h as i64
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

fn hash_int(i: &BigInt) -> i64 {
    let m = (i.magnitude() % MODULUS).to_u64().unwrap_or(0) as i64;
    fix(if i.sign() == Sign::Minus { -m } else { m })
}

/// `_Py_HashDouble`: the value modulo 2**61 - 1, so that equal ints and floats hash alike.
fn hash_float(x: f64, v: PythonVersion) -> Option<i64> {
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
        h = ((h << 28) & MODULUS) | h >> (HASH_BITS - 28);
        m *= 268435456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        h += y;
        if h >= MODULUS {
            h -= MODULUS;
        }
    }
    let e = if e >= 0 {
        e % HASH_BITS as i32
    } else {
        HASH_BITS as i32 - 1 - ((-1 - e) % HASH_BITS as i32)
    } as u32;
    h = ((h << e) & MODULUS) | h >> (HASH_BITS - e);
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

fn hash_bytes(data: &[u8], v: PythonVersion, seed: u32) -> i64 {
    if data.is_empty() {
        return 0;
    }
    let (k0, k1) = hash_secret(seed);
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

/// The order in which Python iterates a frozenset built by adding `items` one by one (as
/// marshal does), as indexes into `items`; `None` when a member's hash is unpredictable.
/// Members are taken to be distinct, as in any set.
pub fn frozenset_order(items: &[Constant], v: PythonVersion, seed: u32) -> Option<Vec<usize>> {
    let hashes = items
        .iter()
        .map(|c| hash(c, v, seed).map(|h| h as u64))
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

    #[test]
    fn order_follows_the_hash_table() {
        // Small ints hash to themselves, so they come out sorted whatever the input order.
        let items: Vec<Constant> = [5, 3, 1].into_iter().map(Constant::int).collect();
        assert_eq!(frozenset_order(&items, V311, 0), Some(vec![2, 1, 0]));
        // 8 and 0 share slot 0 of the first table; the table grows at the fifth member.
        let items: Vec<Constant> = [8, 0, 1, 2, 3].into_iter().map(Constant::int).collect();
        assert_eq!(frozenset_order(&items, V311, 0), Some(vec![1, 2, 3, 4, 0]));
        assert_eq!(frozenset_order(&[Constant::Ellipsis], V311, 0), None);
    }
}
