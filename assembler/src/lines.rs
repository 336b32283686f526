//! Line number and location tables, read and written as each CPython version does.
//!
//! Three formats exist (see [`LineTableFormat`]):
//!
//! - 3.8, 3.9: `co_lnotab`, pairs of (unsigned byte offset increment, signed line increment).
//! - 3.10: `co_linetable` (PEP 626), pairs of (unsigned byte length, signed line delta) where a
//!   line delta of -128 means "no line" and zero-length pairs only carry line deltas.
//! - 3.11+: the location table (PEP 657): variable-length entries covering 1 to 8 code units
//!   each, with start/end line and start/end column.
//!
//! The readers reproduce what the interpreter reports ([`co_lines`], [`co_positions`],
//! `dis.findlinestarts` as [`line_starts`], `PyCode_Addr2Line` as [`line_for_offset`]). The
//! writers ([`encode_lnotab`], [`encode_linetable_310`], [`encode_locations`]) follow CPython's
//! assembler, and the `decode_*` functions give back the input those writers take, so that
//! `encode(decode(table)) == table` for the tables CPython writes.
//!
//! Line arithmetic wraps at 32 bits like CPython's C `int`; a negative line number that CPython
//! would hand to Python code (it only ever makes them for malformed tables) is reported as an
//! error, since lines here are `u32`.

use std::fmt;

use crate::code::CodeObject;
use crate::version::{LineTableFormat, PythonVersion};

/// A malformed table: what is wrong, and the byte offset in the table where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    pub offset: usize,
    pub message: String,
}

impl TableError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> TableError {
        TableError {
            offset,
            message: message.into(),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {} of the table)", self.message, self.offset)
    }
}

impl std::error::Error for TableError {}

/// One tuple of `code.co_lines()`: bytes `start..end` of `co_code` belong to `line` (`None`
/// for instructions without a line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRange {
    pub start: u32,
    pub end: u32,
    pub line: Option<u32>,
}

/// One tuple of `code.co_positions()`: `(lineno, end_lineno, col_offset, end_col_offset)`.
///
/// It is also the location the assembler attaches to an instruction ([`encode_locations`]),
/// with `None` where CPython's compiler uses -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    pub lineno: Option<u32>,
    pub end_lineno: Option<u32>,
    pub col: Option<u32>,
    pub end_col: Option<u32>,
}

/// `code.co_lines()`.
///
/// - 3.10, 3.11: one range per table entry, unmerged (3.10 also splits ranges longer than 254
///   bytes; 3.11 has one entry per at most 8 code units).
/// - 3.12+: consecutive entries with the same line (or both without one) are merged.
/// - 3.8, 3.9 have no `co_lines`; the ranges are derived from `co_lnotab` the way 3.10 presents
///   its own table, without its storage splits: maximal runs of bytes on the same line (as
///   `PyCode_Addr2Line` gives it), within `0..len(co_code)`. There is no `None` line.
pub fn co_lines(code: &CodeObject, v: PythonVersion) -> Result<Vec<LineRange>, TableError> {
    match v.line_table_format() {
        LineTableFormat::Lnotab => lnotab_lines(code),
        LineTableFormat::Linetable310 => ranges_310(&code.linetable, code.firstlineno)?
            .into_iter()
            .map(|r| {
                Ok(LineRange {
                    start: r.start,
                    end: r.end,
                    line: line_value(r.line, v, r.offset)?,
                })
            })
            .collect(),
        LineTableFormat::Locations => {
            let mut out: Vec<LineRange> = Vec::new();
            let mut last_raw = None;
            for e in location_ranges(&code.linetable, code.firstlineno)? {
                if v.merges_line_ranges() && last_raw == Some(e.entry.line) {
                    if let Some(prev) = out.last_mut() {
                        prev.end = e.end;
                        continue;
                    }
                }
                last_raw = Some(e.entry.line);
                out.push(LineRange {
                    start: e.start,
                    end: e.end,
                    line: line_value(e.entry.line, v, e.entry.offset)?,
                });
            }
            Ok(out)
        }
    }
}

/// `dis.findlinestarts(code)` of version `v`: `(byte offset, line)` pairs.
///
/// - 3.8, 3.9: walks `co_lnotab` (signed line increments), yielding an offset when the line has
///   changed since the last yield; it stops at the first increment reaching past `co_code`.
/// - 3.10–3.12: the starts of the `co_lines()` ranges whose line is not `None` and differs from
///   the last line yielded.
/// - 3.13: the start of every `co_lines()` range, `None` lines included (3.13 compares lines
///   with `is not`, and its merged ranges never repeat a line).
pub fn line_starts(
    code: &CodeObject,
    v: PythonVersion,
) -> Result<Vec<(u32, Option<u32>)>, TableError> {
    if v.line_table_format() == LineTableFormat::Lnotab {
        return lnotab_line_starts(code);
    }
    let lines = co_lines(code, v)?;
    if v.dis_starts_line_at_every_range() {
        return Ok(lines.iter().map(|r| (r.start, r.line)).collect());
    }
    let mut last = None;
    let mut out = Vec::new();
    for r in lines {
        if r.line.is_some() && r.line != last {
            last = r.line;
            out.push((r.start, r.line));
        }
    }
    Ok(out)
}

/// `list(code.co_positions())`: one position per code unit (`CACHE` units included) that the
/// table covers.
///
/// Before 3.11 there is no `co_positions`; the result then has, for each code unit `co_lines`
/// covers, its line as `lineno` and `end_lineno` and no columns (as 3.11 shows an entry without
/// columns).
pub fn co_positions(code: &CodeObject, v: PythonVersion) -> Result<Vec<Position>, TableError> {
    if v.line_table_format() != LineTableFormat::Locations {
        let mut out = Vec::new();
        for r in co_lines(code, v)? {
            let units = (r.end - r.start).div_ceil(2) as usize;
            let p = Position {
                lineno: r.line,
                end_lineno: r.line,
                col: None,
                end_col: None,
            };
            out.extend(std::iter::repeat_n(p, units));
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for e in location_entries(&code.linetable, code.firstlineno)? {
        let p = e.position()?;
        out.extend(std::iter::repeat_n(p, e.units as usize));
    }
    Ok(out)
}

/// `PyCode_Addr2Line(code, offset)`: the line of the instruction at byte `offset`, `None` for
/// an instruction without a line or an offset the table does not cover (CPython's -1).
pub fn line_for_offset(
    code: &CodeObject,
    v: PythonVersion,
    offset: u32,
) -> Result<Option<u32>, TableError> {
    if v.line_table_format() == LineTableFormat::Lnotab {
        let mut line = code.firstlineno as i64;
        let mut addr = 0u64;
        for (at, incr, delta) in lnotab_pairs(&code.linetable) {
            addr += incr as u64;
            if addr > offset as u64 {
                break;
            }
            line = checked_line(line + delta as i64, at)?;
        }
        return Ok(Some(line as u32));
    }
    Ok(co_lines(code, v)?
        .into_iter()
        .find(|r| r.start <= offset && offset < r.end)
        .and_then(|r| r.line))
}

// ---------------------------------------------------------------------------------------------
// 3.8, 3.9: co_lnotab

/// `(table offset, byte increment, line increment)` for each whole pair (a trailing odd byte is
/// ignored, as CPython does).
fn lnotab_pairs(table: &[u8]) -> impl Iterator<Item = (usize, u32, i32)> + '_ {
    table
        .chunks_exact(2)
        .enumerate()
        .map(|(i, p)| (2 * i, p[0] as u32, p[1] as i8 as i32))
}

fn checked_line(line: i64, offset: usize) -> Result<i64, TableError> {
    if (0..=u32::MAX as i64).contains(&line) {
        Ok(line)
    } else {
        Err(TableError::new(
            offset,
            format!("line number {line} out of range"),
        ))
    }
}

fn lnotab_line_starts(code: &CodeObject) -> Result<Vec<(u32, Option<u32>)>, TableError> {
    let len = code.code.len() as u64;
    let mut out = Vec::new();
    let mut last = None;
    let mut line = code.firstlineno as i64;
    let mut addr = 0u64;
    for (at, incr, delta) in lnotab_pairs(&code.linetable) {
        if incr != 0 {
            if last != Some(line) {
                out.push((addr as u32, Some(line as u32)));
                last = Some(line);
            }
            addr += incr as u64;
            if addr >= len {
                return Ok(out);
            }
        }
        line = checked_line(line + delta as i64, at)?;
    }
    if last != Some(line) {
        out.push((addr as u32, Some(line as u32)));
    }
    Ok(out)
}

/// The points where an lnotab sets a line: `(byte offset, line from there on, table offset)`,
/// the first being `(0, co_firstlineno)`; a later increment at the same offset replaces it.
fn lnotab_points(code: &CodeObject) -> Result<Vec<(u64, i64, usize)>, TableError> {
    let mut points = vec![(0u64, code.firstlineno as i64, 0usize)];
    let (mut addr, mut line) = (0u64, code.firstlineno as i64);
    for (at, incr, delta) in lnotab_pairs(&code.linetable) {
        addr += incr as u64;
        line = checked_line(line + delta as i64, at)?;
        match points.last_mut() {
            Some(p) if p.0 == addr => *p = (addr, line, at),
            _ => points.push((addr, line, at)),
        }
    }
    Ok(points)
}

fn lnotab_lines(code: &CodeObject) -> Result<Vec<LineRange>, TableError> {
    let len = code.code.len() as u64;
    let points = lnotab_points(code)?;
    let mut out: Vec<LineRange> = Vec::new();
    for (i, &(start, line, _)) in points.iter().enumerate() {
        let end = points.get(i + 1).map_or(len, |p| p.0).min(len);
        if start >= end {
            continue;
        }
        let line = Some(line as u32);
        match out.last_mut() {
            Some(prev) if prev.line == line => prev.end = end as u32,
            _ => out.push(LineRange {
                start: start as u32,
                end: end as u32,
                line,
            }),
        }
    }
    Ok(out)
}

/// Writes a `co_lnotab` as CPython 3.8 or 3.9 assembles it.
///
/// `instrs` holds one item per instruction, in order: `(size in code units, line)`, where a
/// line of 0 means the instruction does not set a line (CPython's `i_lineno == 0`: in 3.8 only
/// the first instruction of each statement carries its line). 3.8 writes a pair for every
/// instruction that sets a line at a new offset, even when the line is unchanged; 3.9 only when
/// the line changes. Byte increments above 255 and line increments outside -128..=127 are split
/// over several pairs as CPython does.
///
/// CPython 3.8/3.9's peephole optimizer later shifts the offsets in the table when it removes
/// `NOP`s; that step is not part of this function.
pub fn encode_lnotab(v: PythonVersion, firstlineno: u32, instrs: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut offset, mut line_offset, mut last_line) = (0u64, 0u64, firstlineno as i64);
    for &(size, line) in instrs {
        if line != 0 {
            let mut d_bytes = (offset - line_offset) * 2;
            let mut d_line = line as i64 - last_line;
            let skip = if v.lnotab_skips_unchanged_lines() {
                d_line == 0
            } else {
                d_bytes == 0 && d_line == 0
            };
            if !skip {
                while d_bytes > 255 {
                    out.extend([255, 0]);
                    d_bytes -= 255;
                }
                if !(-128..=127).contains(&d_line) {
                    let (k, n) = if d_line < 0 {
                        (-128i64, -d_line / 128)
                    } else {
                        (127, d_line / 127)
                    };
                    d_line -= n * k;
                    out.extend([d_bytes as u8, k as u8]);
                    for _ in 1..n {
                        out.extend([0, k as u8]);
                    }
                    d_bytes = 0;
                }
                out.extend([d_bytes as u8, d_line as u8]);
                last_line = line as i64;
                line_offset = offset;
            }
        }
        offset += size as u64;
    }
    out
}

/// The input [`encode_lnotab`] takes, read back from a code object's `co_lnotab`: one item
/// per point where the table sets a line, sized up to the next one (the last up to the end of
/// `co_code`), after a first item for the bytes before the first such point, if any.
///
/// The pairs that CPython writes for one instruction (a run of `(255, 0)` pairs, then line
/// increments of 127 or -128 continued by pairs with no byte increment) are read as one point.
pub fn decode_lnotab(code: &CodeObject) -> Result<Vec<(u32, u32)>, TableError> {
    let table = &code.linetable;
    let mut points: Vec<(u64, i64, usize)> = Vec::new();
    let (mut addr, mut line) = (0u64, code.firstlineno as i64);
    let pairs: Vec<_> = lnotab_pairs(table).collect();
    for (i, &(at, incr, delta)) in pairs.iter().enumerate() {
        addr += incr as u64;
        line = checked_line(line + delta as i64, at)?;
        let next = pairs.get(i + 1);
        let continued = next.is_some()
            && ((incr == 255 && delta == 0)
                || ((delta == 127 || delta == -128) && next.is_some_and(|n| n.1 == 0)));
        if !continued {
            points.push((addr, line, at));
        }
    }
    let len = code.code.len() as u64;
    let mut out = Vec::new();
    let first = points.first().map_or(len, |p| p.0);
    if first > 0 {
        out.push((units(first, 0)?, code.firstlineno));
    }
    for (i, &(start, line, at)) in points.iter().enumerate() {
        let end = points.get(i + 1).map_or(len.max(start), |p| p.0);
        out.push((units(end - start, at)?, line as u32));
    }
    Ok(out)
}

fn units(bytes: u64, at: usize) -> Result<u32, TableError> {
    if !bytes.is_multiple_of(2) {
        return Err(TableError::new(at, "byte offset is not a whole code unit"));
    }
    u32::try_from(bytes / 2).map_err(|_| TableError::new(at, "byte offset out of range"))
}

// ---------------------------------------------------------------------------------------------
// 3.10: PEP 626 co_linetable

/// A range of a 3.10 line table, as `PyLineTable_NextAddressRange` steps through them.
struct Range310 {
    start: u32,
    end: u32,
    /// The line, or -1 for none.
    line: i32,
    /// Offset in the table of the pair that ended the range.
    offset: usize,
}

fn ranges_310(table: &[u8], firstlineno: u32) -> Result<Vec<Range310>, TableError> {
    let mut out = Vec::new();
    let (mut i, mut end, mut computed) = (0usize, 0u32, firstlineno as i32);
    while i < table.len() {
        let start = end;
        loop {
            let at = i;
            let incr = table[i] as u32;
            // CPython reads the byte after the table (its terminating NUL) for an odd length.
            let delta = table.get(i + 1).map_or(0, |&b| b as i8);
            i += 2;
            end = end
                .checked_add(incr)
                .ok_or_else(|| TableError::new(at, "byte offset out of range"))?;
            let line = if delta == -128 {
                -1
            } else {
                computed = computed.wrapping_add(delta as i32);
                computed
            };
            if end != start {
                out.push(Range310 {
                    start,
                    end,
                    line,
                    offset: at,
                });
                break;
            }
            if i >= table.len() {
                return Err(TableError::new(at, "table ends with an empty range"));
            }
        }
    }
    Ok(out)
}

/// Writes a 3.10 `co_linetable` as CPython 3.10 assembles it.
///
/// `instrs` holds one item per instruction, in order: `(size in code units, line)`, where
/// `None` is an instruction without a line (CPython's -1) and `Some(0)` one that does not set a
/// line and so continues the current range (CPython's `i_lineno == 0`). A range is written
/// whenever the line changes; ranges longer than 254 bytes and line deltas outside -127..=127
/// are split over several pairs as CPython does.
pub fn encode_linetable_310(firstlineno: u32, instrs: &[(u32, Option<u32>)]) -> Vec<u8> {
    struct State {
        out: Vec<u8>,
        offset: u64,
        start: u64,
        line: i64,
        prev_line: i64,
    }
    impl State {
        fn range(&mut self) {
            let mut d_bytes = (self.offset - self.start) * 2;
            if d_bytes == 0 {
                return;
            }
            let mut d_line = if self.line < 0 {
                -128
            } else {
                let mut d = self.line - self.prev_line;
                self.prev_line = self.line;
                while d > 127 {
                    self.out.extend([0, 127]);
                    d -= 127;
                }
                while d < -127 {
                    self.out.extend([0, (-127i8) as u8]);
                    d += 127;
                }
                d
            };
            while d_bytes > 254 {
                self.out.extend([254, d_line as u8]);
                d_line = if self.line < 0 { -128 } else { 0 };
                d_bytes -= 254;
            }
            self.out.extend([d_bytes as u8, d_line as u8]);
            self.start = self.offset;
        }
    }
    let first = firstlineno as i64;
    let mut s = State {
        out: Vec::new(),
        offset: 0,
        start: 0,
        line: first,
        prev_line: first,
    };
    for &(size, line) in instrs {
        let line = line.map_or(-1, |l| l as i64);
        if line != 0 && line != s.line {
            s.range();
            s.line = line;
        }
        s.offset += size as u64;
    }
    s.range();
    s.out
}

/// The input [`encode_linetable_310`] takes, read back from a 3.10 `co_linetable`: one item per
/// run of ranges on the same line (or without one).
pub fn decode_linetable_310(code: &CodeObject) -> Result<Vec<(u32, Option<u32>)>, TableError> {
    let mut out: Vec<(u32, Option<u32>)> = Vec::new();
    let mut last = None;
    for r in ranges_310(&code.linetable, code.firstlineno)? {
        let size = units((r.end - r.start) as u64, r.offset)?;
        if last == Some(r.line) {
            if let Some(prev) = out.last_mut() {
                prev.0 += size;
                continue;
            }
        }
        last = Some(r.line);
        out.push((size, position_value(r.line, r.offset)?));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// 3.11+: PEP 657 location table

const KIND_ONE_LINE0: u8 = 10;
const KIND_NO_COLUMNS: u8 = 13;
const KIND_LONG: u8 = 14;
const KIND_NONE: u8 = 15;

/// One entry of a location table, with CPython's -1 for missing values.
struct LocationEntry {
    /// Offset of the entry's first byte in the table.
    offset: usize,
    units: u32,
    line: i32,
    end_line: i32,
    col: i32,
    end_col: i32,
}

impl LocationEntry {
    fn position(&self) -> Result<Position, TableError> {
        let v = |x| position_value(x, self.offset);
        Ok(Position {
            lineno: v(self.line)?,
            end_lineno: v(self.end_line)?,
            col: v(self.col)?,
            end_col: v(self.end_col)?,
        })
    }
}

struct Reader<'a> {
    table: &'a [u8],
    pos: usize,
    entry: usize,
}

impl Reader<'_> {
    /// A byte inside an entry (never one that starts the next entry).
    fn byte(&mut self) -> Result<u8, TableError> {
        match self.table.get(self.pos) {
            Some(&b) if b & 0x80 == 0 => {
                self.pos += 1;
                Ok(b)
            }
            _ => Err(TableError::new(self.entry, "location entry is cut short")),
        }
    }

    /// Little-endian 6-bit chunks, bit 6 set on all but the last; wraps as C's `unsigned int`.
    fn varint(&mut self) -> Result<u32, TableError> {
        let (mut value, mut shift) = (0u32, 0u32);
        loop {
            let b = self.byte()?;
            value |= ((b & 63) as u32) << shift;
            if b & 64 == 0 {
                return Ok(value);
            }
            shift += 6;
            if shift >= 32 {
                return Err(TableError::new(self.entry, "varint too long"));
            }
        }
    }

    fn signed_varint(&mut self) -> Result<i32, TableError> {
        let u = self.varint()?;
        let magnitude = (u >> 1) as i32;
        Ok(if u & 1 != 0 { -magnitude } else { magnitude })
    }
}

fn location_entries(table: &[u8], firstlineno: u32) -> Result<Vec<LocationEntry>, TableError> {
    let mut out = Vec::new();
    let mut computed = firstlineno as i32;
    let mut r = Reader {
        table,
        pos: 0,
        entry: 0,
    };
    while r.pos < table.len() {
        r.entry = r.pos;
        let first = table[r.pos];
        if first & 0x80 == 0 {
            return Err(TableError::new(
                r.pos,
                "expected the start of a location entry",
            ));
        }
        r.pos += 1;
        let kind = (first >> 3) & 15;
        let units = (first & 7) as u32 + 1;
        let (line, end_line, col, end_col) = match kind {
            KIND_NONE => (-1, -1, -1, -1),
            KIND_LONG => {
                computed = computed.wrapping_add(r.signed_varint()?);
                let end_line = computed.wrapping_add(r.varint()? as i32);
                let col = (r.varint()? as i32).wrapping_sub(1);
                let end_col = (r.varint()? as i32).wrapping_sub(1);
                (computed, end_line, col, end_col)
            }
            KIND_NO_COLUMNS => {
                computed = computed.wrapping_add(r.signed_varint()?);
                (computed, computed, -1, -1)
            }
            KIND_ONE_LINE0.. => {
                computed = computed.wrapping_add((kind - KIND_ONE_LINE0) as i32);
                let col = r.byte()? as i32;
                (computed, computed, col, r.byte()? as i32)
            }
            _ => {
                let second = r.byte()?;
                let col = ((kind as i32) << 3) | (second >> 4) as i32;
                (computed, computed, col, col + (second & 15) as i32)
            }
        };
        out.push(LocationEntry {
            offset: r.entry,
            units,
            line,
            end_line,
            col,
            end_col,
        });
    }
    Ok(out)
}

/// A location entry placed in the code: bytes `start..end`.
struct Placed {
    start: u32,
    end: u32,
    entry: LocationEntry,
}

fn location_ranges(table: &[u8], firstlineno: u32) -> Result<Vec<Placed>, TableError> {
    let mut end = 0u32;
    location_entries(table, firstlineno)?
        .into_iter()
        .map(|entry| {
            let start = end;
            end = start
                .checked_add(entry.units * 2)
                .ok_or_else(|| TableError::new(entry.offset, "byte offset out of range"))?;
            Ok(Placed { start, end, entry })
        })
        .collect()
}

/// A line as `co_lines()` hands it out: 3.10 and 3.11 give `None` for any negative line,
/// 3.12+ only for -1.
fn line_value(line: i32, v: PythonVersion, offset: usize) -> Result<Option<u32>, TableError> {
    if line < 0 && v.negative_lines_are_none() {
        return Ok(None);
    }
    position_value(line, offset)
}

/// A value as `co_positions()` hands it out: -1 is `None`.
fn position_value(value: i32, offset: usize) -> Result<Option<u32>, TableError> {
    match value {
        -1 => Ok(None),
        v if v < 0 => Err(TableError::new(offset, format!("negative value {v}"))),
        v => Ok(Some(v as u32)),
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 64 {
        out.push(64 | (value & 63) as u8);
        value >>= 6;
    }
    out.push(value as u8);
}

fn write_signed_varint(out: &mut Vec<u8>, value: i64) {
    let u = if value < 0 {
        (value.unsigned_abs() << 1) | 1
    } else {
        (value as u64) << 1
    };
    write_varint(out, u);
}

/// Writes a location table as CPython 3.11+ assembles it.
///
/// `instrs` holds `(size in code units, location)` items in code order, sizes counting the
/// instruction's `EXTENDED_ARG` prefixes and `CACHE` units; `None` in a location stands for
/// CPython's -1. CPython 3.11 passes one item per instruction; 3.12+ first merges consecutive
/// instructions with equal locations into one item, which the caller must do for those versions.
/// Items longer than 8 code units are written as several entries, items of size 0 not at all;
/// each entry takes the shortest form CPython would choose (short, one-line, no-column, long,
/// or none when there is no line).
pub fn encode_locations(firstlineno: u32, instrs: &[(u32, Position)]) -> Vec<u8> {
    let mut w = LocationWriter::new(firstlineno, instrs.len() * 2);
    for &(size, pos) in instrs {
        w.push(size, pos);
    }
    w.finish()
}

/// [`encode_locations`] one item at a time, for an assembler that walks its instructions
/// (CPython's `assemble_emit_location`).
#[derive(Clone, Debug)]
pub struct LocationWriter {
    out: Vec<u8>,
    last_line: i64,
}

impl LocationWriter {
    /// An empty table for a code object starting at `firstlineno`, with room for `capacity`
    /// bytes (about 1.3 per code unit in real code).
    pub fn new(firstlineno: u32, capacity: usize) -> LocationWriter {
        LocationWriter {
            out: Vec::with_capacity(capacity),
            last_line: i64::from(firstlineno as i32),
        }
    }

    /// Adds the entries of one item: `size` code units at `pos`.
    pub fn push(&mut self, size: u32, pos: Position) {
        let c = |v: Option<u32>| v.map_or(-1, |x| x as i32);
        let (line, end_line, col, end_col) =
            (c(pos.lineno), c(pos.end_lineno), c(pos.col), c(pos.end_col));
        self.push_location(size, line, end_line, col, end_col);
    }

    /// [`LocationWriter::push`] with the location as CPython's compiler keeps it: C ints,
    /// a negative number where [`Position`] has `None`.
    #[inline]
    pub fn push_location(&mut self, size: u32, line: i32, end_line: i32, col: i32, end_col: i32) {
        let mut remaining = size;
        while remaining > 0 {
            let n = remaining.min(8);
            remaining -= n;
            self.entry(
                n as u8,
                line.into(),
                end_line.into(),
                col.into(),
                end_col.into(),
            );
        }
    }

    /// `write_location_info_entry`: one entry of `n` (1 to 8) code units.
    fn entry(&mut self, n: u8, line: i64, end_line: i64, col: i64, end_col: i64) {
        let out = &mut self.out;
        let start = |kind: u8| 0x80 | (kind << 3) | (n - 1);
        if line < 0 {
            out.push(start(KIND_NONE));
            return;
        }
        let delta = line - self.last_line;
        if col < 0 || end_col < 0 {
            if end_line == line || end_line == -1 {
                out.push(start(KIND_NO_COLUMNS));
                write_signed_varint(out, delta);
                self.last_line = line;
                return;
            }
        } else if end_line == line {
            if delta == 0 && col < 80 && end_col >= col && end_col - col < 16 {
                let second = ((col & 7) << 4) | (end_col - col);
                out.extend([start((col >> 3) as u8), second as u8]);
                return;
            }
            if (0..3).contains(&delta) && col < 128 && end_col < 128 {
                let first = start(KIND_ONE_LINE0 + delta as u8);
                out.extend([first, col as u8, end_col as u8]);
                self.last_line = line;
                return;
            }
        }
        out.push(start(KIND_LONG));
        write_signed_varint(out, delta);
        // CPython passes `end_lineno - lineno` as an unsigned int; reading adds it back
        // with the same wrap-around.
        write_varint(out, (end_line - line) as i32 as u32 as u64);
        write_varint(out, (col + 1) as u64);
        write_varint(out, (end_col + 1) as u64);
        self.last_line = line;
    }

    /// The table.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// The input [`encode_locations`] takes, read back from a location table: one item per entry.
pub fn decode_locations(code: &CodeObject) -> Result<Vec<(u32, Position)>, TableError> {
    location_entries(&code.linetable, code.firstlineno)?
        .into_iter()
        .map(|e| Ok((e.units, e.position()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{Locals, PyStr};

    const V8: PythonVersion = PythonVersion::V3_8;
    const V9: PythonVersion = PythonVersion::V3_9;
    const V10: PythonVersion = PythonVersion::V3_10;
    const V11: PythonVersion = PythonVersion::V3_11;
    const V12: PythonVersion = PythonVersion::V3_12;
    const V13: PythonVersion = PythonVersion::V3_13;

    fn code(firstlineno: u32, code_len: usize, table: &[u8]) -> CodeObject {
        CodeObject {
            argcount: 0,
            posonlyargcount: 0,
            kwonlyargcount: 0,
            stacksize: 0,
            flags: 0,
            code: vec![0; code_len],
            consts: vec![],
            names: vec![],
            locals: Locals::Plus(vec![]),
            filename: PyStr::from("t.py"),
            name: PyStr::from("g"),
            qualname: None,
            firstlineno,
            linetable: table.to_vec(),
            exceptiontable: vec![],
        }
    }

    fn ranges(r: &[(u32, u32, Option<u32>)]) -> Vec<LineRange> {
        r.iter()
            .map(|&(start, end, line)| LineRange { start, end, line })
            .collect()
    }

    /// Expands `(count, [lineno, end_lineno, col, end_col])` runs, -1 standing for `None`.
    fn positions(runs: &[(usize, [i64; 4])]) -> Vec<Position> {
        let o = |x: i64| u32::try_from(x).ok();
        runs.iter()
            .flat_map(|&(n, [l, el, c, ec])| {
                std::iter::repeat_n(
                    Position {
                        lineno: o(l),
                        end_lineno: o(el),
                        col: o(c),
                        end_col: o(ec),
                    },
                    n,
                )
            })
            .collect()
    }

    fn pos(l: i64, el: i64, c: i64, ec: i64) -> Position {
        positions(&[(1, [l, el, c, ec])])[0]
    }

    // Function `g` below, compiled by each version (`def g` on line 2):
    //
    //     def g(a):
    //         try:
    //             return (a +
    //                 1)
    //         except E:
    //             a = 1; b = 2
    //         for x in a:
    //             pass

    #[test]
    fn lnotab_38_real() {
        let c = code(
            2,
            54,
            b"\x00\x01\x02\x01\x02\x01\x02\xff\x06\x02\x0e\x01\x04\x00\x0a\x01\x08\x01",
        );
        let starts = [
            (0, 3),
            (2, 4),
            (4, 5),
            (6, 4),
            (12, 6),
            (26, 7),
            (40, 8),
            (48, 9),
        ];
        let starts: Vec<_> = starts.iter().map(|&(o, l)| (o, Some(l))).collect();
        assert_eq!(line_starts(&c, V8).unwrap(), starts);
        let expected = [
            (0, 2, Some(3)),
            (2, 4, Some(4)),
            (4, 6, Some(5)),
            (6, 12, Some(4)),
            (12, 26, Some(6)),
            (26, 40, Some(7)),
            (40, 48, Some(8)),
            (48, 54, Some(9)),
        ];
        assert_eq!(co_lines(&c, V8).unwrap(), ranges(&expected));
        assert_eq!(line_for_offset(&c, V8, 0).unwrap(), Some(3));
        assert_eq!(line_for_offset(&c, V8, 8).unwrap(), Some(4));
        assert_eq!(line_for_offset(&c, V8, 30).unwrap(), Some(7));
        assert_eq!(line_for_offset(&c, V8, 1000).unwrap(), Some(9));
        let p = co_positions(&c, V8).unwrap();
        assert_eq!(p.len(), 27);
        assert_eq!(p[3], pos(4, 4, -1, -1));

        // 3.8 writes a pair for a statement on an unchanged line (the `(4, 0)`), 3.9 does not.
        let items = decode_lnotab(&c).unwrap();
        assert_eq!(items[5..7], [(2, 7), (5, 7)]);
        assert_eq!(encode_lnotab(V8, 2, &items), c.linetable);
        assert_eq!(
            encode_lnotab(V9, 2, &items),
            b"\x00\x01\x02\x01\x02\x01\x02\xff\x06\x02\x0e\x01\x0e\x01\x08\x01"
        );
    }

    #[test]
    fn lnotab_long_jumps() {
        let table = [255, 0, 145, 127, 0, 127, 0, 45, 2, 128, 0, 128, 0, 222];
        let items = [(200, 1), (1, 300), (1, 10)];
        for v in [V8, V9] {
            assert_eq!(encode_lnotab(v, 1, &items), table);
        }
        let c = code(1, 404, &table);
        assert_eq!(
            line_starts(&c, V8).unwrap(),
            [(0, Some(1)), (400, Some(300)), (402, Some(10))]
        );
        assert_eq!(
            co_lines(&c, V9).unwrap(),
            ranges(&[
                (0, 400, Some(1)),
                (400, 402, Some(300)),
                (402, 404, Some(10))
            ])
        );
        assert_eq!(decode_lnotab(&c).unwrap(), items);
    }

    #[test]
    fn lnotab_edges() {
        // Offsets past the code end stop findlinestarts; a trailing odd byte is ignored.
        for table in [&[2, 1, 10, 1][..], &[2, 1, 10, 1, 7]] {
            let c = code(5, 4, table);
            assert_eq!(line_starts(&c, V8).unwrap(), [(0, Some(5)), (2, Some(6))]);
            assert_eq!(
                co_lines(&c, V8).unwrap(),
                ranges(&[(0, 2, Some(5)), (2, 4, Some(6))])
            );
        }
        // An empty table puts everything on the first line.
        let c = code(7, 6, &[]);
        assert_eq!(line_starts(&c, V9).unwrap(), [(0, Some(7))]);
        assert_eq!(co_lines(&c, V9).unwrap(), ranges(&[(0, 6, Some(7))]));
        assert_eq!(decode_lnotab(&c).unwrap(), [(3, 7)]);
        assert_eq!(encode_lnotab(V9, 7, &[(3, 7)]), b"");
        // A line below zero cannot be represented.
        let c = code(1, 4, &[2, 0xfe]);
        let e = line_starts(&c, V8).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(co_lines(&c, V8).is_err());
    }

    #[test]
    fn linetable_310_real() {
        let c = code(
            2,
            52,
            b"\x02\x01\x02\x01\x02\x01\x06\xff\x0c\x02\x0c\x01\x02\xff\x08\x02\x02\x01\x04\xff",
        );
        let expected = [
            (0, 2, Some(3)),
            (2, 4, Some(4)),
            (4, 6, Some(5)),
            (6, 12, Some(4)),
            (12, 24, Some(6)),
            (24, 36, Some(7)),
            (36, 38, Some(6)),
            (38, 46, Some(8)),
            (46, 48, Some(9)),
            (48, 52, Some(8)),
        ];
        assert_eq!(co_lines(&c, V10).unwrap(), ranges(&expected));
        let starts: Vec<_> = expected.iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(line_starts(&c, V10).unwrap(), starts);
        assert_eq!(line_for_offset(&c, V10, 40).unwrap(), Some(8));
        assert_eq!(line_for_offset(&c, V10, 52).unwrap(), None);
        let items = decode_linetable_310(&c).unwrap();
        assert_eq!(encode_linetable_310(2, &items), c.linetable);
    }

    #[test]
    fn linetable_310_splits() {
        let items = [
            (200, Some(1)),
            (3, None),
            (2, Some(300)),
            (1, Some(0)),
            (1, Some(2)),
        ];
        let table = [
            254, 0, 146, 0, 6, 128, 0, 127, 0, 127, 6, 45, 0, 129, 0, 129, 2, 212,
        ];
        assert_eq!(encode_linetable_310(1, &items), table);
        let c = code(1, 0, &table);
        let expected = [
            (0, 254, Some(1)),
            (254, 400, Some(1)),
            (400, 406, None),
            (406, 412, Some(300)),
            (412, 414, Some(2)),
        ];
        assert_eq!(co_lines(&c, V10).unwrap(), ranges(&expected));
        assert_eq!(
            line_starts(&c, V10).unwrap(),
            [(0, Some(1)), (406, Some(300)), (412, Some(2))]
        );
        assert_eq!(
            decode_linetable_310(&c).unwrap(),
            [(200, Some(1)), (3, None), (3, Some(300)), (1, Some(2))]
        );
        let p = co_positions(&c, V10).unwrap();
        assert_eq!(p.len(), 207);
        assert_eq!(p[200], Position::default());
    }

    #[test]
    fn linetable_310_malformed() {
        let e = co_lines(&code(1, 0, &[2, 1, 0, 5]), V10).unwrap_err();
        assert_eq!(e.offset, 2);
        // An odd length reads a zero line delta, as CPython reads the bytes' terminator.
        assert_eq!(
            co_lines(&code(1, 0, &[4, 1, 2]), V10).unwrap(),
            ranges(&[(0, 4, Some(2)), (4, 6, Some(2))])
        );
        // 3.10 shows any negative line as None.
        assert_eq!(
            co_lines(&code(1, 0, &[2, 0xfd]), V10).unwrap(),
            ranges(&[(0, 2, None)])
        );
    }

    const T311: &[u8] = b"\x80\x00\xf0\x02\x04\x05\x15\xd8\x10\x11\xd8\x0c\x0d\xf1\x03\x01\x11\x0e\
        \xf0\x00\x01\x09\x0f\xf8\xe5\x0b\x0c\xf0\x00\x01\x05\x15\xf0\x00\x01\x05\x15\xf0\x00\x01\x05\
        \x15\xd8\x0c\x0d\x88\x01\x90\x31\x88\x71\x88\x71\x88\x71\xf0\x03\x01\x05\x15\xf8\xf8\xf8\xe0\
        \x0d\x0e\xf0\x00\x01\x05\x0d\xf0\x00\x01\x05\x0d\x88\x01\xd8\x08\x0c\xf0\x03\x01\x05\x0d\xf0\
        \x00\x01\x05\x0d";

    #[test]
    fn locations_311_real() {
        let c = code(2, 0, T311);
        let expected = [
            (0, 2, Some(2)),
            (2, 4, Some(3)),
            (4, 6, Some(4)),
            (6, 8, Some(5)),
            (8, 12, Some(4)),
            (12, 14, Some(4)),
            (14, 16, None),
            (16, 28, Some(6)),
            (28, 30, Some(6)),
            (30, 32, Some(6)),
            (32, 34, Some(6)),
            (34, 36, Some(7)),
            (36, 38, Some(7)),
            (38, 40, Some(7)),
            (40, 42, Some(7)),
            (42, 44, Some(7)),
            (44, 46, Some(7)),
            (46, 48, Some(6)),
            (48, 50, None),
            (50, 52, None),
            (52, 54, None),
            (54, 56, Some(8)),
            (56, 58, Some(8)),
            (58, 60, Some(8)),
            (60, 62, Some(8)),
            (62, 64, Some(9)),
            (64, 66, Some(8)),
            (66, 68, Some(8)),
        ];
        assert_eq!(co_lines(&c, V11).unwrap(), ranges(&expected));
        let starts = [
            (0, 2),
            (2, 3),
            (4, 4),
            (6, 5),
            (8, 4),
            (16, 6),
            (34, 7),
            (46, 6),
            (54, 8),
            (62, 9),
            (64, 8),
        ];
        let starts: Vec<_> = starts.iter().map(|&(o, l)| (o, Some(l))).collect();
        assert_eq!(line_starts(&c, V11).unwrap(), starts);
        let runs = [
            (1, [2, 2, 0, 0]),
            (1, [3, 7, 4, 20]),
            (1, [4, 4, 16, 17]),
            (1, [5, 5, 12, 13]),
            (2, [4, 5, 16, 13]),
            (1, [4, 5, 8, 14]),
            (1, [-1, -1, -1, -1]),
            (6, [6, 6, 11, 12]),
            (3, [6, 7, 4, 20]),
            (1, [7, 7, 12, 13]),
            (1, [7, 7, 8, 9]),
            (1, [7, 7, 19, 20]),
            (3, [7, 7, 15, 16]),
            (1, [6, 7, 4, 20]),
            (3, [-1, -1, -1, -1]),
            (1, [8, 8, 13, 14]),
            (2, [8, 9, 4, 12]),
            (1, [8, 8, 8, 9]),
            (1, [9, 9, 8, 12]),
            (2, [8, 9, 4, 12]),
        ];
        assert_eq!(co_positions(&c, V11).unwrap(), positions(&runs));
        assert_eq!(line_for_offset(&c, V11, 14).unwrap(), None);
        assert_eq!(line_for_offset(&c, V11, 62).unwrap(), Some(9));
        assert_eq!(line_for_offset(&c, V11, 68).unwrap(), None);
        let items = decode_locations(&c).unwrap();
        assert_eq!(encode_locations(2, &items), T311);
    }

    const T313: &[u8] = b"\x80\x00\xf0\x02\x04\x05\x15\xd8\x10\x11\xd8\x0c\x0d\xf1\x03\x01\x11\x0e\
        \xf0\x00\x01\x09\x0f\xf8\xe4\x0b\x0c\xf3\x00\x01\x05\x15\xd8\x0c\x0d\x88\x01\x90\x31\x8a\x71\
        \xf0\x03\x01\x05\x15\xfa\xe3\x0d\x0e\x88\x01\xd9\x08\x0c\xf2\x03\x00\x0e\x0f";

    #[test]
    fn locations_313_real() {
        let c = code(2, 0, T313);
        let expected = [
            (0, 2, Some(2)),
            (2, 4, Some(3)),
            (4, 6, Some(4)),
            (6, 8, Some(5)),
            (8, 14, Some(4)),
            (14, 16, None),
            (16, 34, Some(6)),
            (34, 46, Some(7)),
            (46, 48, Some(6)),
            (48, 54, None),
            (54, 64, Some(8)),
            (64, 68, Some(9)),
            (68, 74, Some(8)),
        ];
        assert_eq!(co_lines(&c, V13).unwrap(), ranges(&expected));
        assert_eq!(co_lines(&c, V12).unwrap(), ranges(&expected));
        // 3.13 yields every range, None lines included; 3.12 skips them.
        let starts: Vec<_> = expected.iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(line_starts(&c, V13).unwrap(), starts);
        let without_none: Vec<_> = starts.iter().copied().filter(|s| s.1.is_some()).collect();
        assert_eq!(line_starts(&c, V12).unwrap(), without_none);
        let runs = [
            (1, [2, 2, 0, 0]),
            (1, [3, 7, 4, 20]),
            (1, [4, 4, 16, 17]),
            (1, [5, 5, 12, 13]),
            (2, [4, 5, 16, 13]),
            (1, [4, 5, 8, 14]),
            (1, [-1, -1, -1, -1]),
            (5, [6, 6, 11, 12]),
            (4, [6, 7, 4, 20]),
            (1, [7, 7, 12, 13]),
            (1, [7, 7, 8, 9]),
            (1, [7, 7, 19, 20]),
            (3, [7, 7, 15, 16]),
            (1, [6, 7, 4, 20]),
            (3, [-1, -1, -1, -1]),
            (4, [8, 8, 13, 14]),
            (1, [8, 8, 8, 9]),
            (2, [9, 9, 8, 12]),
            (3, [8, 8, 13, 14]),
        ];
        let expected_positions = positions(&runs);
        assert_eq!(co_positions(&c, V13).unwrap(), expected_positions);
        assert_eq!(encode_locations(2, &decode_locations(&c).unwrap()), T313);
        // 3.12+ merges equal neighbours before writing: runs of positions give the table back.
        let runs: Vec<_> = runs
            .iter()
            .map(|&(n, [l, el, col, ec])| (n as u32, pos(l, el, col, ec)))
            .collect();
        assert_eq!(encode_locations(2, &runs), T313);
    }

    #[test]
    fn location_forms() {
        let items = [
            (1, pos(-1, -1, -1, -1)),
            (2, pos(10, 10, -1, -1)),
            (1, pos(10, 10, 5, 9)),
            (1, pos(11, 11, 100, 120)),
            (9, pos(11, 13, 0, 200)),
            (1, pos(3, 3, -1, -1)),
        ];
        let table = [
            0xf8, 0xe9, 0x00, 0x80, 0x54, 0xd8, 100, 120, 0xf7, 0x00, 0x02, 0x01, 0x49, 0x03, 0xf0,
            0x00, 0x02, 0x01, 0x49, 0x03, 0xe8, 0x11,
        ];
        assert_eq!(encode_locations(10, &items), table);
        let c = code(10, 0, &table);
        let expected = positions(&[
            (1, [-1, -1, -1, -1]),
            (2, [10, 10, -1, -1]),
            (1, [10, 10, 5, 9]),
            (1, [11, 11, 100, 120]),
            (9, [11, 13, 0, 200]),
            (1, [3, 3, -1, -1]),
        ]);
        assert_eq!(co_positions(&c, V11).unwrap(), expected);
        assert_eq!(
            co_lines(&c, V11).unwrap(),
            ranges(&[
                (0, 2, None),
                (2, 6, Some(10)),
                (6, 8, Some(10)),
                (8, 10, Some(11)),
                (10, 26, Some(11)),
                (26, 28, Some(11)),
                (28, 30, Some(3)),
            ])
        );
        assert_eq!(
            co_lines(&c, V12).unwrap(),
            ranges(&[
                (0, 2, None),
                (2, 8, Some(10)),
                (8, 28, Some(11)),
                (28, 30, Some(3)),
            ])
        );
        assert_eq!(encode_locations(10, &decode_locations(&c).unwrap()), table);
        // An end line before the start, or missing, survives the trip as CPython's C ints do.
        let odd = [(1, pos(10, 5, 1, 2)), (1, pos(10, -1, 1, 2))];
        let t = encode_locations(10, &odd);
        assert_eq!(decode_locations(&code(10, 0, &t)).unwrap(), odd);
    }

    #[test]
    fn locations_malformed() {
        let err = |t: &[u8], v| co_positions(&code(0, 0, t), v).unwrap_err().offset;
        assert_eq!(err(&[0x80], V11), 0);
        assert_eq!(err(&[0xf8, 0x00], V11), 1);
        assert_eq!(
            err(&[0xf8, 0xf0, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40], V11),
            1
        );
        assert_eq!(err(&[0xf0, 0x00, 0x80], V12), 0);
        // Line -2: co_lines shows None in 3.11 but a negative number in 3.12.
        let c = code(0, 0, &[0xe8, 0x05]);
        assert!(co_positions(&c, V11).is_err());
        assert_eq!(co_lines(&c, V11).unwrap(), ranges(&[(0, 2, None)]));
        assert!(co_lines(&c, V12).is_err());
        assert!(line_starts(&c, V13).is_err());
        let e = co_lines(&c, V13).unwrap_err();
        assert_eq!(e.to_string(), "negative value -2 (at byte 0 of the table)");
    }
}
