//! Source bytes to text, as CPython's `compile(bytes, ...)` decodes them: null bytes are
//! refused, `\r\n` and `\r` become `\n`, a UTF-8 BOM forces UTF-8, and a PEP 263 coding cookie
//! on line 1 (or on line 2 after a blank or comment-only line 1) names the codec.
//!
//! UTF-8 sources (no cookie, or a cookie CPython normalizes to `utf-8`) are checked lazily by
//! CPython's tokenizer: undecodable bytes are fine inside comments and are reported where a
//! token holds them. Sources in any other codec are decoded whole before tokenizing, so their
//! errors have no line. Both behaviours are reproduced here, in one linear pass.

use std::borrow::Cow;

use pyc_assembler::PythonVersion;

use crate::diagnostic::{Diagnostic, ErrorKind};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Decodes `source` as CPython `v`'s `compile()` would, returning the text with universal
/// newlines applied, or the error CPython raises before (or while) tokenizing.
pub fn decode(source: &[u8], v: PythonVersion) -> Result<String, Diagnostic> {
    if source.contains(&0) {
        return Err(Diagnostic::new(
            null_bytes_error_kind(v),
            "source code string cannot contain null bytes",
            0,
            0,
        ));
    }
    let bytes = universal_newlines(source);
    let (has_bom, bytes) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, &bytes[..]),
    };
    let cookie = coding_cookie(bytes);
    let name = cookie.map(normal_name);
    if has_bom {
        if let Some(name) = name.as_deref().filter(|n| *n != "utf-8") {
            let mut d = no_line(format!("encoding problem: {name} with BOM"));
            if v.bom_conflict_on_line_one() {
                d.line = 1;
            }
            return Err(d);
        }
    }
    match name.as_deref() {
        None | Some("utf-8") if v.checks_whole_source_is_utf8() => decode_utf8_strictly(bytes),
        None | Some("utf-8") => decode_utf8_lazily(bytes, v),
        Some(name) => match Codec::lookup(name) {
            Some(codec) => codec.decode(bytes),
            None => Err(no_line(format!("unknown encoding: {name}"))),
        },
    }
}

/// 3.14+: the source must be valid UTF-8 throughout; the error points at the first bad byte
/// (its line, and its 1-based byte column).
fn decode_utf8_strictly(bytes: &[u8]) -> Result<String, Diagnostic> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let at = e.valid_up_to();
            let line_start = bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let line = count_newlines(&bytes[..at]) as u32 + 1;
            let column = (at - line_start) as u32 + 1;
            let mut d = Diagnostic::new(
                ErrorKind::SyntaxError,
                format!(
                    "Non-UTF-8 code starting with '\\x{:02x}' on line {line}, but no encoding \
                     declared; see https://peps.python.org/pep-0263/ for details",
                    bytes[at]
                ),
                line,
                column,
            );
            d.end = Some((line, column));
            Err(d)
        }
    }
}

/// The exception for a source with a null byte: `ValueError` until 3.10, then `SyntaxError`.
fn null_bytes_error_kind(v: PythonVersion) -> ErrorKind {
    if v >= PythonVersion::V3_11 {
        ErrorKind::SyntaxError
    } else {
        ErrorKind::ValueError
    }
}

/// A `SyntaxError` without a position (CPython's `lineno` 0, `offset` 0 or -1).
fn no_line(message: String) -> Diagnostic {
    Diagnostic::new(ErrorKind::SyntaxError, message, 0, 0)
}

/// `\r\n` and lone `\r` become `\n`, as CPython's string tokenizer input is translated. A
/// source without `\r` (the usual case) is borrowed as it is.
fn universal_newlines(source: &[u8]) -> Cow<'_, [u8]> {
    if !source.contains(&b'\r') {
        return Cow::Borrowed(source);
    }
    let mut out = Vec::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.iter().position(|&b| b == b'\r') {
        out.extend_from_slice(&rest[..at]);
        out.push(b'\n');
        let skip = if rest.get(at + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = &rest[at + skip..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// The PEP 263 cookie's codec name as written, from line 1, or from line 2 when line 1 holds
/// nothing but blanks or a comment.
fn coding_cookie(bytes: &[u8]) -> Option<&[u8]> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next()?;
    if let Some(name) = cookie_in_line(first) {
        return Some(name);
    }
    let blank_or_comment = first
        .iter()
        .find(|&&b| !matches!(b, b' ' | b'\t' | b'\x0c'))
        .is_none_or(|&b| b == b'#');
    if blank_or_comment {
        cookie_in_line(lines.next()?)
    } else {
        None
    }
}

/// CPython's `get_coding_spec`: a comment line containing `coding[:=]`, blanks, then the name
/// (letters, digits, `-`, `_`, `.`).
fn cookie_in_line(line: &[u8]) -> Option<&[u8]> {
    let start = line
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\x0c'))?;
    if line[start] != b'#' {
        return None;
    }
    let comment = &line[start..];
    let mut from = 0;
    while let Some(at) = find(&comment[from..], b"coding") {
        let mut i = from + at + 6;
        from += at + 1;
        if !matches!(comment.get(i), Some(b':' | b'=')) {
            continue;
        }
        i += 1;
        while matches!(comment.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let begin = i;
        while comment
            .get(i)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            i += 1;
        }
        if i > begin {
            return Some(&comment[begin..i]);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// CPython's `get_normal_name`: spellings of UTF-8 and Latin-1 become `utf-8` and
/// `iso-8859-1` (judged on the first 12 characters, lowercased, `_` read as `-`); any other
/// name is kept as written.
fn normal_name(name: &[u8]) -> String {
    let head: String = name
        .iter()
        .take(12)
        .map(|&b| {
            if b == b'_' {
                '-'
            } else {
                b.to_ascii_lowercase() as char
            }
        })
        .collect();
    let is = |base: &str| head == base || head.starts_with(&format!("{base}-"));
    if is("utf-8") {
        "utf-8".into()
    } else if is("latin-1") || is("iso-8859-1") || is("iso-latin-1") {
        "iso-8859-1".into()
    } else {
        // The name holds only ASCII letters, digits and `-_.`, as the cookie scan took it.
        String::from_utf8_lossy(name).into_owned()
    }
}

/// The codecs we decode whole sources with: UTF-8, ASCII, Latin-1 and the single-byte codecs
/// of [`SINGLE_BYTE`] (CPython accepts any text codec Python knows; the multi-byte East Asian
/// codecs, UTF-16 and UTF-32 are not here).
#[derive(Clone, Copy, Debug)]
enum Codec {
    Utf8,
    Ascii,
    Latin1,
    SingleByte(&'static SingleByte),
}

/// A single-byte codec of Python's: its module name, its aliases (as `encodings.aliases`
/// lists them), and the characters of bytes 0x80 to 0xff (bytes below are ASCII).
#[derive(Debug)]
struct SingleByte {
    name: &'static str,
    aliases: &'static [&'static str],
    high: High,
}

/// Where a single-byte codec's upper half comes from.
#[derive(Debug)]
enum High {
    /// An `encoding_rs` encoding equal to Python's codec on every byte, except for the bytes
    /// listed (Python's character, or `None` for a byte Python leaves undefined). With
    /// `c1_undefined`, bytes that `encoding_rs` maps to C1 controls are undefined in Python
    /// (the Windows code pages).
    Whatwg {
        encoding: &'static encoding_rs::Encoding,
        c1_undefined: bool,
        patches: &'static [(u8, Option<char>)],
    },
    /// The 128 characters, in order.
    Table(&'static str),
}

/// Python's single-byte codecs that coding cookies name, checked byte for byte against
/// CPython's codecs.
static SINGLE_BYTE: &[SingleByte] = {
    use encoding_rs as e;
    const fn whatwg(encoding: &'static e::Encoding) -> High {
        High::Whatwg {
            encoding,
            c1_undefined: false,
            patches: &[],
        }
    }
    const fn windows(encoding: &'static e::Encoding) -> High {
        High::Whatwg {
            encoding,
            c1_undefined: true,
            patches: &[],
        }
    }
    &[
        SingleByte {
            name: "iso8859_2",
            aliases: &["csisolatin2", "iso_8859_2", "iso_8859_2_1987", "iso_ir_101", "l2", "latin2"],
            high: whatwg(e::ISO_8859_2),
        },
        SingleByte {
            name: "iso8859_3",
            aliases: &["csisolatin3", "iso_8859_3", "iso_8859_3_1988", "iso_ir_109", "l3", "latin3"],
            high: whatwg(e::ISO_8859_3),
        },
        SingleByte {
            name: "iso8859_4",
            aliases: &["csisolatin4", "iso_8859_4", "iso_8859_4_1988", "iso_ir_110", "l4", "latin4"],
            high: whatwg(e::ISO_8859_4),
        },
        SingleByte {
            name: "iso8859_5",
            aliases: &["csisolatincyrillic", "cyrillic", "iso_8859_5", "iso_8859_5_1988", "iso_ir_144"],
            high: whatwg(e::ISO_8859_5),
        },
        SingleByte {
            name: "iso8859_6",
            aliases: &["arabic", "asmo_708", "csisolatinarabic", "ecma_114", "iso_8859_6", "iso_8859_6_1987", "iso_ir_127"],
            high: whatwg(e::ISO_8859_6),
        },
        SingleByte {
            name: "iso8859_7",
            aliases: &["csisolatingreek", "ecma_118", "elot_928", "greek", "greek8", "iso_8859_7", "iso_8859_7_1987", "iso_ir_126"],
            high: whatwg(e::ISO_8859_7),
        },
        SingleByte {
            name: "iso8859_8",
            aliases: &["csisolatinhebrew", "hebrew", "iso_8859_8", "iso_8859_8_1988", "iso_ir_138"],
            high: whatwg(e::ISO_8859_8),
        },
        SingleByte {
            // Latin-1 with six Turkish letters (the WHATWG label means windows-1254).
            name: "iso8859_9",
            aliases: &["csisolatin5", "iso_8859_9", "iso_8859_9_1989", "iso_ir_148", "l5", "latin5"],
            high: High::Table(
                "\u{80}\u{81}\u{82}\u{83}\u{84}\u{85}\u{86}\u{87}\u{88}\u{89}\u{8a}\u{8b}\u{8c}\u{8d}\u{8e}\u{8f}\
                 \u{90}\u{91}\u{92}\u{93}\u{94}\u{95}\u{96}\u{97}\u{98}\u{99}\u{9a}\u{9b}\u{9c}\u{9d}\u{9e}\u{9f}\
                 \u{a0}¡¢£¤¥¦§¨©ª«¬\u{ad}®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏĞÑÒÓÔÕÖ×ØÙÚÛÜİŞß\
                 àáâãäåæçèéêëìíîïğñòóôõö÷øùúûüışÿ",
            ),
        },
        SingleByte {
            name: "iso8859_10",
            aliases: &["csisolatin6", "iso_8859_10", "iso_8859_10_1992", "iso_ir_157", "l6", "latin6"],
            high: whatwg(e::ISO_8859_10),
        },
        SingleByte {
            name: "iso8859_13",
            aliases: &["iso_8859_13", "l7", "latin7"],
            high: whatwg(e::ISO_8859_13),
        },
        SingleByte {
            name: "iso8859_14",
            aliases: &["iso_8859_14", "iso_8859_14_1998", "iso_celtic", "iso_ir_199", "l8", "latin8"],
            high: whatwg(e::ISO_8859_14),
        },
        SingleByte {
            name: "iso8859_15",
            aliases: &["iso_8859_15", "l9", "latin9"],
            high: whatwg(e::ISO_8859_15),
        },
        SingleByte {
            name: "iso8859_16",
            aliases: &["iso_8859_16", "iso_8859_16_2001", "iso_ir_226", "l10", "latin10"],
            high: whatwg(e::ISO_8859_16),
        },
        SingleByte {
            name: "koi8_r",
            aliases: &["cskoi8r"],
            high: whatwg(e::KOI8_R),
        },
        SingleByte {
            // The WHATWG's KOI8-U is KOI8-RU: two box-drawing characters are Belarusian
            // letters there.
            name: "koi8_u",
            aliases: &[],
            high: High::Whatwg {
                encoding: e::KOI8_U,
                c1_undefined: false,
                patches: &[(0xae, Some('\u{255d}')), (0xbe, Some('\u{256c}'))],
            },
        },
        SingleByte {
            name: "cp866",
            aliases: &["866", "csibm866", "ibm866"],
            high: whatwg(e::IBM866),
        },
        SingleByte {
            name: "cp874",
            aliases: &[],
            high: windows(e::WINDOWS_874),
        },
        SingleByte {
            name: "cp1250",
            aliases: &["1250", "windows_1250"],
            high: windows(e::WINDOWS_1250),
        },
        SingleByte {
            name: "cp1251",
            aliases: &["1251", "windows_1251"],
            high: windows(e::WINDOWS_1251),
        },
        SingleByte {
            name: "cp1252",
            aliases: &["1252", "windows_1252"],
            high: windows(e::WINDOWS_1252),
        },
        SingleByte {
            name: "cp1253",
            aliases: &["1253", "windows_1253"],
            high: windows(e::WINDOWS_1253),
        },
        SingleByte {
            name: "cp1254",
            aliases: &["1254", "windows_1254"],
            high: windows(e::WINDOWS_1254),
        },
        SingleByte {
            // Python leaves the Hebrew point qamats qatan (0xca) undefined.
            name: "cp1255",
            aliases: &["1255", "windows_1255"],
            high: High::Whatwg {
                encoding: e::WINDOWS_1255,
                c1_undefined: true,
                patches: &[(0xca, None)],
            },
        },
        SingleByte {
            name: "cp1256",
            aliases: &["1256", "windows_1256"],
            high: windows(e::WINDOWS_1256),
        },
        SingleByte {
            name: "cp1257",
            aliases: &["1257", "windows_1257"],
            high: windows(e::WINDOWS_1257),
        },
        SingleByte {
            name: "cp1258",
            aliases: &["1258", "windows_1258"],
            high: windows(e::WINDOWS_1258),
        },
        SingleByte {
            name: "mac_roman",
            aliases: &["macintosh", "macroman"],
            high: whatwg(e::MACINTOSH),
        },
        SingleByte {
            name: "mac_cyrillic",
            aliases: &["maccyrillic"],
            high: whatwg(e::X_MAC_CYRILLIC),
        },
        SingleByte {
            name: "cp437",
            aliases: &["437", "cspc8codepage437", "ibm437"],
            high: High::Table(
                "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐\
                 └┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}",
            ),
        },
        SingleByte {
            name: "cp850",
            aliases: &["850", "cspc850multilingual", "ibm850"],
            high: High::Table(
                "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐\
                 └┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}",
            ),
        },
    ]
};

impl SingleByte {
    /// The characters of bytes 0x80 to 0xff; `None` where Python's codec has none.
    fn upper_half(&self) -> [Option<char>; 128] {
        let mut out = [None; 128];
        match &self.high {
            High::Table(chars) => {
                for (slot, c) in out.iter_mut().zip(chars.chars()) {
                    *slot = Some(c);
                }
            }
            High::Whatwg {
                encoding,
                c1_undefined,
                patches,
            } => {
                for (i, slot) in out.iter_mut().enumerate() {
                    let byte = [0x80 + i as u8];
                    let (text, malformed) = encoding.decode_without_bom_handling(&byte);
                    let c = text.chars().next().filter(|_| !malformed);
                    *slot = c.filter(|&c| !(*c1_undefined && ('\u{80}'..='\u{9f}').contains(&c)));
                }
                for &(byte, c) in patches.iter() {
                    out[usize::from(byte - 0x80)] = c;
                }
            }
        }
        out
    }
}

impl Codec {
    /// Python's codec lookup (`encodings.search_function`): lowercase, runs of punctuation
    /// other than `.` as one `_`, then the aliases or the codec's own module name.
    fn lookup(name: &str) -> Option<Codec> {
        let mut norm = String::new();
        let mut punct = false;
        for c in name.chars().map(|c| c.to_ascii_lowercase()) {
            if c.is_ascii_alphanumeric() || c == '.' {
                if punct && !norm.is_empty() {
                    norm.push('_');
                }
                norm.push(c);
                punct = false;
            } else {
                punct = true;
            }
        }
        let norm = norm.replace('.', "_");
        let codec = match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "utf8_ucs2" | "utf8_ucs4" | "cp65001" => Codec::Utf8,
            "ascii" | "646" | "ansi_x3_4_1968" | "ansi_x3_4_1986" | "cp367" | "csascii"
            | "ibm367" | "iso646_us" | "iso_646_irv_1991" | "iso_ir_6" | "us" | "us_ascii" => {
                Codec::Ascii
            }
            "latin_1" | "8859" | "cp819" | "csisolatin1" | "ibm819" | "iso8859" | "iso8859_1"
            | "iso_8859_1" | "iso_8859_1_1987" | "iso_ir_100" | "l1" | "latin" | "latin1" => {
                Codec::Latin1
            }
            other => Codec::SingleByte(
                SINGLE_BYTE
                    .iter()
                    .find(|c| c.name == other || c.aliases.contains(&other))?,
            ),
        };
        Some(codec)
    }

    /// Decodes the whole source strictly; errors carry Python's codec message and no line.
    fn decode(self, bytes: &[u8]) -> Result<String, Diagnostic> {
        let fail = |codec: &str, at: usize, reason: &str| {
            no_line(format!(
                "'{codec}' codec can't decode byte 0x{:02x} in position {at}: {reason}",
                bytes[at]
            ))
        };
        match self {
            Codec::Utf8 => std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
                let at = e.valid_up_to();
                fail(
                    "utf-8",
                    at,
                    utf8_reason(&bytes[at..], e.error_len().is_none()),
                )
            }),
            Codec::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
                Some(at) => Err(fail("ascii", at, "ordinal not in range(128)")),
                None => Ok(bytes.iter().map(|&b| b as char).collect()),
            },
            Codec::Latin1 => Ok(bytes.iter().map(|&b| b as char).collect()),
            Codec::SingleByte(codec) => {
                let high = codec.upper_half();
                bytes
                    .iter()
                    .enumerate()
                    .map(|(at, &b)| match b {
                        0..=0x7f => Ok(b as char),
                        _ => high[usize::from(b - 0x80)]
                            .ok_or_else(|| fail("charmap", at, "character maps to <undefined>")),
                    })
                    .collect()
            }
        }
    }
}

/// Python's UTF-8 decoder's reason for the first bad sequence starting `rest[0]`.
fn utf8_reason(rest: &[u8], truncated: bool) -> &'static str {
    if matches!(rest.first(), Some(0x80..=0xc1 | 0xf5..=0xff)) {
        "invalid start byte"
    } else if truncated {
        "unexpected end of data"
    } else {
        "invalid continuation byte"
    }
}

/// Where a stretch of source bytes stands, for the lazy UTF-8 check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    Code,
    Comment,
    /// A string literal: where its content starts, its quote, whether tripled, and whether it
    /// is a bytes literal.
    Str {
        content: usize,
        quote: u8,
        triple: bool,
        bytes: bool,
    },
}

/// The UTF-8 path: valid text passes through; undecodable bytes in comments and bytes
/// literals become U+FFFD (CPython ignores the former and rejects the latter for their
/// non-ASCII bytes later); anywhere else they are CPython's `(unicode error)`.
fn decode_utf8_lazily(bytes: &[u8], v: PythonVersion) -> Result<String, Diagnostic> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(bytes.len());
    let mut region = Region::Code;
    let mut i = 0;
    let mut line = 1u32;
    let mut line_start = 0usize;
    // The region of each byte: a small tokenizer that knows comments and strings.
    while i < bytes.len() {
        let b = bytes[i];
        if b >= 0x80 {
            let end = utf8_char_end(bytes, i);
            match std::str::from_utf8(&bytes[i..end]) {
                Ok(s) => out.push_str(s),
                Err(_) => match region {
                    Region::Comment | Region::Str { bytes: true, .. } => {
                        out.push('\u{fffd}');
                        i += 1;
                        continue;
                    }
                    Region::Str {
                        content,
                        quote,
                        triple,
                        ..
                    } => {
                        let close = string_end(bytes, content, quote, triple);
                        let piece = &bytes[content..close];
                        let (at, reason) = first_utf8_error(piece);
                        let start_line = line_of(bytes, content, line, line_start);
                        let end_line = line + count_newlines(&bytes[i..close]) as u32;
                        let report_line =
                            if (PythonVersion::V3_9..PythonVersion::V3_12).contains(&v) {
                                end_line
                            } else {
                                start_line
                            };
                        return Err(Diagnostic::new(
                            ErrorKind::SyntaxError,
                            format!(
                                "(unicode error) 'utf-8' codec can't decode byte 0x{:02x} in position {at}: {reason}",
                                piece[at]
                            ),
                            report_line,
                            1,
                        ));
                    }
                    Region::Code => {
                        let is_ident = |c: u8| c >= 0x80 || c.is_ascii_alphanumeric() || c == b'_';
                        let mut start = i;
                        while start > line_start && is_ident(bytes[start - 1]) {
                            start -= 1;
                        }
                        let mut stop = i;
                        while stop < bytes.len() && is_ident(bytes[stop]) {
                            stop += 1;
                        }
                        let column = String::from_utf8_lossy(&bytes[line_start..start])
                            .chars()
                            .count() as u32
                            + 1;
                        if v == PythonVersion::V3_8 {
                            return Err(Diagnostic::new(
                                ErrorKind::SyntaxError,
                                "invalid character in identifier",
                                line,
                                column,
                            ));
                        }
                        let token = &bytes[start..stop];
                        let (at, reason) = first_utf8_error(token);
                        return Err(Diagnostic::new(
                            ErrorKind::SyntaxError,
                            format!(
                                "(unicode error) 'utf-8' codec can't decode byte 0x{:02x} in position {at}: {reason}",
                                token[at]
                            ),
                            line,
                            column,
                        ));
                    }
                },
            }
            i = end;
            continue;
        }
        out.push(b as char);
        match region {
            Region::Code => {
                if b == b'#' {
                    region = Region::Comment;
                } else if b == b'\'' || b == b'"' {
                    let is_bytes = is_bytes_prefix(bytes, line_start, i);
                    let triple = bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b);
                    let skip = if triple { 2 } else { 0 };
                    for &q in &bytes[i + 1..i + 1 + skip] {
                        out.push(q as char);
                    }
                    i += skip;
                    region = Region::Str {
                        content: i + 1,
                        quote: b,
                        triple,
                        bytes: is_bytes,
                    };
                }
            }
            Region::Comment => {
                if b == b'\n' {
                    region = Region::Code;
                }
            }
            Region::Str { quote, triple, .. } => {
                if b == b'\\' {
                    // An escaped character never closes the string (raw strings too).
                    if let Some(&next) = bytes.get(i + 1) {
                        if next < 0x80 {
                            out.push(next as char);
                            if next == b'\n' {
                                line += 1;
                                line_start = i + 2;
                            }
                            i += 2;
                            continue;
                        }
                    }
                } else if b == quote {
                    if !triple {
                        region = Region::Code;
                    } else if bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote) {
                        out.push(quote as char);
                        out.push(quote as char);
                        i += 2;
                        region = Region::Code;
                    }
                } else if b == b'\n' && !triple {
                    region = Region::Code;
                }
            }
        }
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
        i += 1;
    }
    Ok(out)
}

/// The end of the (possibly invalid) UTF-8 sequence starting at `i`: its declared length,
/// cut at the first byte that is not a continuation byte.
fn utf8_char_end(bytes: &[u8], i: usize) -> usize {
    let len = match bytes[i] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    };
    let mut end = i + 1;
    while end < i + len && end < bytes.len() && (0x80..0xc0).contains(&bytes[end]) {
        end += 1;
    }
    end
}

/// The first decoding error in `piece`: its position and Python's reason.
fn first_utf8_error(piece: &[u8]) -> (usize, &'static str) {
    match std::str::from_utf8(piece) {
        Ok(_) => (0, "invalid start byte"),
        Err(e) => {
            let at = e.valid_up_to();
            (at, utf8_reason(&piece[at..], e.error_len().is_none()))
        }
    }
}

/// Where a string whose content starts at `content` ends (its closing quote, the end of the
/// line for an unterminated one-line string, or the end of the source).
fn string_end(bytes: &[u8], content: usize, quote: u8, triple: bool) -> usize {
    let mut i = content;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'\n' if !triple => return i,
            q if q == quote
                && (!triple
                    || (bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote))) =>
            {
                return i;
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Whether the string prefix letters just before the quote at `quote_at` make a bytes literal.
fn is_bytes_prefix(bytes: &[u8], line_start: usize, quote_at: usize) -> bool {
    let mut start = quote_at;
    while start > line_start && bytes[start - 1].is_ascii_alphabetic() && quote_at - start < 2 {
        start -= 1;
    }
    if start > line_start && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_')
    {
        return false;
    }
    bytes[start..quote_at]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(&b'b'))
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The line of byte `at`, which lies at or before the current position (`line` starting at
/// `line_start`) and within the current string.
fn line_of(bytes: &[u8], at: usize, line: u32, line_start: usize) -> u32 {
    if at >= line_start {
        line
    } else {
        line - count_newlines(&bytes[at..line_start]) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &[u8], v: PythonVersion) -> Diagnostic {
        decode(src, v).expect_err("should fail")
    }

    #[test]
    fn plain_utf8_and_newlines() {
        let v = PythonVersion::V3_12;
        assert_eq!(
            decode(b"x = 1\r\ny = 2\rz\n", v).unwrap(),
            "x = 1\ny = 2\nz\n"
        );
        assert_eq!(decode("é = 'ü'\n".as_bytes(), v).unwrap(), "é = 'ü'\n");
        assert_eq!(decode(b"\xef\xbb\xbfx=1\n", v).unwrap(), "x=1\n");
    }

    #[test]
    fn null_bytes_by_version() {
        let e = err(b"x = 1\0\n", PythonVersion::V3_8);
        assert_eq!(e.kind, ErrorKind::ValueError);
        assert_eq!(e.message, "source code string cannot contain null bytes");
        assert_eq!(
            err(b"\0", PythonVersion::V3_11).kind,
            ErrorKind::SyntaxError
        );
    }

    #[test]
    fn cookies() {
        let v = PythonVersion::V3_10;
        assert_eq!(
            decode(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n", v).unwrap(),
            "# -*- coding: latin-1 -*-\nx = '\u{e9}'\n"
        );
        assert_eq!(
            decode(
                b"#!/usr/bin/python\n# vim: set fileencoding=cp1252 :\nx='\x80'\n",
                v
            )
            .unwrap()
            .chars()
            .nth(54),
            Some('\u{20ac}')
        );
        // Line 2 only counts after a comment or blank line 1.
        assert!(decode(b"x = 1\n# coding: xyz\n", v).is_ok());
        assert_eq!(
            err(b"\n# coding: xyz\n", v).message,
            "unknown encoding: xyz"
        );
        assert_eq!(err(b"  # coding=xyz\n", v).message, "unknown encoding: xyz");
        assert_eq!(
            err(b"\xef\xbb\xbf# coding: latin-1\n", v).message,
            "encoding problem: iso-8859-1 with BOM"
        );
        assert_eq!(
            err(b"\xef\xbb\xbf# coding: UTF8\n", v).message,
            "encoding problem: UTF8 with BOM"
        );
        assert!(decode(b"\xef\xbb\xbf# coding: utf-8-sig\n", v).is_ok());
        assert_eq!(
            err(b"# coding: ascii\n# \xff\n", v).message,
            "'ascii' codec can't decode byte 0xff in position 18: ordinal not in range(128)"
        );
        assert_eq!(
            err(b"# coding: cp1252\nx=\"\x81\"\n", v).message,
            "'charmap' codec can't decode byte 0x81 in position 20: character maps to <undefined>"
        );
        // `utf8` is not normalized by the tokenizer: the whole source is decoded strictly.
        assert_eq!(
            err(b"# coding: utf8\n# \xff\n", v).message,
            "'utf-8' codec can't decode byte 0xff in position 17: invalid start byte"
        );
    }

    #[test]
    fn single_byte_codecs() {
        let v = PythonVersion::V3_12;
        let text = |src: &[u8]| decode(src, v).expect("decodes");
        assert!(text(b"# coding: cp1251\nx = '\xc0\xff'\n").contains("'\u{410}\u{44f}'"));
        assert!(text(b"# coding: windows-1251\n\xc0 = 1\n")
            .starts_with("# coding: windows-1251\n\u{410}"));
        assert!(text(b"# -*- coding: koi8-r -*-\nx = '\xc1'\n").contains("'\u{430}'"));
        assert!(text(b"# coding: koi8_u\nx = '\xae'\n").contains("'\u{255d}'"));
        assert!(text(b"# coding: iso-8859-9\nx = '\xd0\xfd'\n").contains("'\u{11e}\u{131}'"));
        assert!(text(b"# coding: latin9\nx = '\xa4'\n").contains("'\u{20ac}'"));
        assert!(text(b"# coding: ISO8859.15\nx = '\xa4'\n").contains("'\u{20ac}'"));
        assert!(text(b"# coding: mac-roman\nx = '\xa5'\n").contains("'\u{2022}'"));
        assert!(text(b"# coding: cp437\nx = '\x9e\xff'\n").contains("'\u{20a7}\u{a0}'"));
        assert!(text(b"# coding: IBM850\nx = '\x9b'\n").contains("'\u{f8}'"));
        assert!(text(b"# coding: cp1252\nx = '\x80'\n").contains("'\u{20ac}'"));
        let undefined = |src: &[u8]| err(src, v).message;
        assert_eq!(
            undefined(b"# coding: cp1251\nx = '\x98'\n"),
            "'charmap' codec can't decode byte 0x98 in position 22: character maps to <undefined>"
        );
        assert!(undefined(b"# coding: cp1255\n\xca\n").contains("byte 0xca in position 17"));
        assert!(undefined(b"# coding: iso-8859-3\n\xa5\n").contains("byte 0xa5"));
        assert!(undefined(b"# coding: cp1252\n\x81\n").contains("byte 0x81"));
        // Python has no `latin-9` alias (only `latin9` and `l9`).
        assert_eq!(
            undefined(b"# coding: latin-9\n"),
            "unknown encoding: latin-9"
        );
        assert_eq!(
            undefined(b"# coding: shift_jis\n"),
            "unknown encoding: shift_jis"
        );
    }

    #[test]
    fn lazy_utf8() {
        let v = PythonVersion::V3_11;
        assert_eq!(decode(b"x = 1 # \xff\n", v).unwrap(), "x = 1 # \u{fffd}\n");
        assert_eq!(decode(b"x = b'\xff'\n", v).unwrap(), "x = b'\u{fffd}'\n");
        let e = err(b"x = \"\xff\"\n", v);
        assert_eq!(
            e.message,
            "(unicode error) 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
        );
        assert_eq!(e.line, 1);
        let e = err(b"x = \"\"\"a\n\xff\"\"\"\n", v);
        assert_eq!(e.line, 2);
        assert!(e.message.ends_with("in position 2: invalid start byte"));
        assert_eq!(
            err(b"x = \"\"\"a\n\xff\"\"\"\n", PythonVersion::V3_12).line,
            1
        );
        let e = err(b"x=\"\xc3\"\n", v);
        assert!(e.message.ends_with("position 0: unexpected end of data"));
        let e = err(b"x = 1\n\n\n\xc3\xa9\xff = 2\n", v);
        assert_eq!((e.line, e.column), (4, 1));
        assert!(e.message.ends_with("position 2: invalid start byte"));
        let e = err(b"\xed\xa0\x80 = 1\n", PythonVersion::V3_8);
        assert_eq!(e.message, "invalid character in identifier");
        let e = err(b"\xed\xa0\x80 = 1\n", v);
        assert!(e.message.ends_with("position 0: invalid continuation byte"));
    }
}
