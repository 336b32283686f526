//! 3.11+: `'...%s...' % (a, b)` becomes an f-string (`optimize_format` in `ast_opt.c`) when
//! every conversion is a simple `%s`, `%r` or `%a` with at most a width and a precision.

/// A piece of the f-string that replaces a `%` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// Literal text (code points, `%%` already turned into `%`).
    Literal(Vec<u32>),
    /// The next item of the tuple, formatted with conversion `s`, `r` or `a` and an optional
    /// format spec (such as `>10.3`).
    Value {
        conversion: char,
        spec: Option<String>,
    },
}

const PERCENT: u32 = '%' as u32;

/// The pieces of format string `fmt` applied to a tuple of `items` values, or `None` when
/// CPython keeps the `%` operation: an unsupported conversion or flag, more than two digits
/// of width or precision, or a count of conversions other than `items`.
pub(super) fn pieces(fmt: &[u32], items: usize) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut count = 0;
    loop {
        let start = pos;
        while pos < fmt.len() {
            if fmt[pos] != PERCENT {
                pos += 1;
            } else if fmt.get(pos + 1) == Some(&PERCENT) {
                pos += 2;
            } else {
                break;
            }
        }
        if pos > start {
            let mut text = Vec::with_capacity(pos - start);
            let mut i = start;
            while i < pos {
                text.push(fmt[i]);
                i += if fmt[i] == PERCENT { 2 } else { 1 };
            }
            out.push(Piece::Literal(text));
        }
        if pos >= fmt.len() {
            break;
        }
        if count >= items {
            return None;
        }
        pos += 1;
        out.push(conversion(fmt, &mut pos)?);
        count += 1;
    }
    (count == items).then_some(out)
}

/// Reads a format string one character at a time, as `NEXTC` does.
struct Reader<'a> {
    fmt: &'a [u32],
    pos: usize,
}

impl Reader<'_> {
    fn next(&mut self) -> Option<char> {
        let c = *self.fmt.get(self.pos)?;
        self.pos += 1;
        Some(char::from_u32(c).unwrap_or('\u{fffd}'))
    }

    /// The decimal number starting at `ch`, if any (leaving `ch` on the character after
    /// it); `None` at the end of the string or at a third digit, which CPython refuses.
    fn number(&mut self, ch: &mut char) -> Option<Option<u32>> {
        /// Width and precision stop short of this many digits.
        const MAX_DIGITS: u32 = 3;
        if !ch.is_ascii_digit() {
            return Some(None);
        }
        let (mut value, mut count) = (0, 0);
        while let Some(d) = ch.to_digit(10) {
            value = value * 10 + d;
            *ch = self.next()?;
            count += 1;
            if count >= MAX_DIGITS {
                return None;
            }
        }
        Some(Some(value))
    }
}

/// One conversion after its `%` (`simple_format_arg_parse` and `parse_format`).
fn conversion(fmt: &[u32], pos: &mut usize) -> Option<Piece> {
    let mut r = Reader { fmt, pos: *pos };
    let mut left = false;
    let mut ch;
    loop {
        ch = r.next()?;
        match ch {
            '-' => left = true,
            // 3.11.0 to 3.11.3 also took the `z` flag; later 3.11 releases, like 3.12, do not.
            '+' | ' ' | '#' | '0' => {}
            _ => break,
        }
    }
    let width = r.number(&mut ch)?;
    let mut precision = None;
    if ch == '.' {
        ch = r.next()?;
        precision = Some(r.number(&mut ch)?.unwrap_or(0));
    }
    *pos = r.pos;
    if !matches!(ch, 's' | 'r' | 'a') {
        return None;
    }
    let mut spec = String::new();
    if let Some(w) = width {
        if !left && w > 0 {
            spec.push('>');
        }
        spec.push_str(&w.to_string());
    }
    if let Some(p) = precision {
        spec.push_str(&format!(".{p}"));
    }
    Some(Piece::Value {
        conversion: ch,
        spec: (!spec.is_empty()).then_some(spec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fmt: &str, items: usize) -> Option<Vec<Piece>> {
        let points: Vec<u32> = fmt.chars().map(u32::from).collect();
        pieces(&points, items)
    }

    fn lit(s: &str) -> Piece {
        Piece::Literal(s.chars().map(u32::from).collect())
    }

    fn val(c: char, spec: Option<&str>) -> Piece {
        Piece::Value {
            conversion: c,
            spec: spec.map(str::to_string),
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            run("a%%b %s=%-5r!%.3a%10.2s", 4),
            Some(vec![
                lit("a%b "),
                val('s', None),
                lit("="),
                val('r', Some("5")),
                lit("!"),
                val('a', Some(".3")),
                val('s', Some(">10.2")),
            ])
        );
        assert_eq!(run("%s", 2), None);
        assert_eq!(run("%s %s", 1), None);
        assert_eq!(run("%d", 1), None);
        assert_eq!(run("%100s", 1), None);
        assert_eq!(run("%.s", 1), Some(vec![val('s', Some(".0"))]));
        assert_eq!(run("%05s", 1), Some(vec![val('s', Some(">5"))]));
        assert_eq!(run("%", 1), None);
        assert_eq!(run("%(a)s", 1), None);
        assert_eq!(run("%zs", 1), None);
        assert_eq!(run("%+ #0-s", 1), Some(vec![val('s', None)]));
    }
}
