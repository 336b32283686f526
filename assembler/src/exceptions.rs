//! Exception tables (`co_exceptiontable`, 3.11+), read as `dis._parse_exception_table` does
//! and written as CPython's assembler does.
//!
//! Each entry is four numbers — start, length and target in code units, then
//! `depth << 1 | lasti` — each written as big-endian 6-bit chunks with bit 6 set on all but
//! the last chunk; the first byte of an entry also has bit 7 set.

use crate::lines::TableError;

/// One entry of an exception table, in byte offsets as `dis._parse_exception_table` returns it
/// (3.11–3.13 alike): instructions in `start..end` jump to `target` on an exception, with the
/// value stack cut to `depth` items and, if `lasti`, the offset of the raising instruction
/// pushed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionEntry {
    pub start: u32,
    pub end: u32,
    pub target: u32,
    pub depth: u32,
    pub lasti: bool,
}

/// Reads `co_exceptiontable`. Like `dis`, it ignores the entry-start bit; unlike `dis`, which
/// drops a cut-short last entry silently, it reports one as an error.
pub fn parse_exception_table(table: &[u8]) -> Result<Vec<ExceptionEntry>, TableError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < table.len() {
        let entry = pos;
        let mut next = || -> Result<u64, TableError> {
            let mut value = 0u64;
            loop {
                let &b = table
                    .get(pos)
                    .ok_or_else(|| TableError::new(entry, "exception table entry is cut short"))?;
                pos += 1;
                value = (value << 6) | (b & 63) as u64;
                if value > u32::MAX as u64 {
                    return Err(TableError::new(entry, "value out of range"));
                }
                if b & 64 == 0 {
                    return Ok(value);
                }
            }
        };
        let start = next()? * 2;
        let end = start + next()? * 2;
        let target = next()? * 2;
        let depth_lasti = next()?;
        let bytes =
            |v: u64| u32::try_from(v).map_err(|_| TableError::new(entry, "offset out of range"));
        out.push(ExceptionEntry {
            start: bytes(start)?,
            end: bytes(end)?,
            target: bytes(target)?,
            depth: (depth_lasti >> 1) as u32,
            lasti: depth_lasti & 1 != 0,
        });
    }
    Ok(out)
}

/// Writes `co_exceptiontable` as CPython's assembler does. Offsets are in bytes, as
/// [`parse_exception_table`] gives them, and are written as code units (halved; they are even
/// for real code).
pub fn encode_exception_table(entries: &[ExceptionEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let depth_lasti = ((e.depth as u64) << 1) | e.lasti as u64;
        write_item(&mut out, (e.start / 2) as u64, 0x80);
        write_item(&mut out, (e.end.saturating_sub(e.start) / 2) as u64, 0);
        write_item(&mut out, (e.target / 2) as u64, 0);
        write_item(&mut out, depth_lasti, 0);
    }
    out
}

fn write_item(out: &mut Vec<u8>, value: u64, mut start_bit: u8) {
    let mut shift = 0;
    while shift + 6 < u64::BITS && value >> (shift + 6) != 0 {
        shift += 6;
    }
    while shift > 0 {
        out.push(((value >> shift) & 63) as u8 | 64 | start_bit);
        start_bit = 0;
        shift -= 6;
    }
    out.push((value & 63) as u8 | start_bit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: u32, end: u32, target: u32, depth: u32, lasti: bool) -> ExceptionEntry {
        ExceptionEntry {
            start,
            end,
            target,
            depth,
            lasti,
        }
    }

    #[test]
    fn example_from_cpython_notes() {
        // start 20, size 8, target 100 (code units), depth 3, no lasti.
        let table = [148, 8, 65, 36, 6];
        let entries = [entry(40, 56, 200, 3, false)];
        assert_eq!(parse_exception_table(&table).unwrap(), entries);
        assert_eq!(encode_exception_table(&entries), table);
    }

    #[test]
    fn real_tables() {
        // `g` of the line table tests, compiled by 3.11 and by 3.12.
        let t311 = b"\x82\x04\x07\x00\x87\x0e\x18\x03\x97\x01\x18\x03";
        let e311 = [
            entry(4, 12, 14, 0, false),
            entry(14, 42, 48, 1, true),
            entry(46, 48, 48, 1, true),
        ];
        let t312 = b"\x82\x04\x07\x00\x87\x0d\x17\x03\x96\x01\x17\x03";
        let e312 = [
            entry(4, 12, 14, 0, false),
            entry(14, 40, 46, 1, true),
            entry(44, 46, 46, 1, true),
        ];
        for (t, e) in [(&t311[..], &e311), (&t312[..], &e312)] {
            assert_eq!(parse_exception_table(t).unwrap(), e);
            assert_eq!(encode_exception_table(e), t);
        }
        assert_eq!(parse_exception_table(&[]).unwrap(), []);
    }

    #[test]
    fn large_values() {
        let e = [entry(
            2 * ((1 << 24) + 1),
            2 * ((1 << 24) + 2),
            2 * 4095,
            64,
            true,
        )];
        let t = encode_exception_table(&e);
        assert_eq!(&t[..5], [0xc1, 0x40, 0x40, 0x40, 0x01]);
        assert_eq!(&t[6..8], [0x7f, 0x3f]);
        assert_eq!(&t[8..], [0x42, 0x01]);
        assert_eq!(parse_exception_table(&t).unwrap(), e);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_exception_table(&[0x82, 0x04]).unwrap_err().offset, 0);
        let t = [0x82, 0x04, 0x07, 0x00, 0x87, 0x0e, 0x58];
        assert_eq!(parse_exception_table(&t).unwrap_err().offset, 4);
        let long = [0xff, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x3f, 0, 0, 0];
        assert!(parse_exception_table(&long).is_err());
    }
}
