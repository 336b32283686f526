//! Errors against CPython: every snippet of `tests/corpus/errors/*.txt` goes through our whole
//! front end (`pyc_compiler::check`: decoding, parsing, the symbol table and the compiler's
//! checks) and through each interpreter's `compile()`; they agree when both accept the snippet,
//! or both reject it with the same exception type, message and line. Every snippet differing
//! is listed in the output.
//!
//! `PYC_ERRORS_DUMP=<file>` writes every comparison to `<file>.3.X`, for study.

use std::fmt::Write as _;
use std::path::Path;

use pyc_compiler::Diagnostic;
use pyc_tests::{b64, for_each_version, repo_root, Figure};
use serde_json::{json, Value};

/// One corpus snippet: where it comes from and its exact bytes.
struct Snippet {
    name: String,
    source: Vec<u8>,
}

/// Reads every `*.txt` corpus file (format documented at the top of each file).
fn load_corpus(dir: &Path) -> Vec<Snippet> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("corpus file is UTF-8");
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let mut current: Option<(String, bool, Vec<&str>)> = None;
        for line in text.lines() {
            if let Some(header) = line.strip_prefix("===") {
                out.extend(current.take().map(finish));
                let header = header.trim();
                let escaped = header.ends_with("[escaped]");
                current = Some((format!("{file}: {header}"), escaped, Vec::new()));
            } else if let Some((_, _, lines)) = current.as_mut() {
                lines.push(line);
            }
        }
        out.extend(current.map(finish));
    }
    out
}

fn finish((name, escaped, lines): (String, bool, Vec<&str>)) -> Snippet {
    let source = if escaped {
        unescape(&lines.concat())
    } else {
        lines
            .iter()
            .flat_map(|l| [*l, "\n"])
            .collect::<String>()
            .into_bytes()
    };
    Snippet { name, source }
}

/// Decodes `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH`; anything else stands for itself.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let simple = match b[i + 1] {
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'0' => Some(0),
                b'\\' => Some(b'\\'),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                i += 2;
                continue;
            }
            if b[i + 1] == b'x' {
                if let Some(v) = s
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `(type, message, line)` of an error, the part compared.
fn key(d: &Diagnostic) -> (String, String, u64) {
    (d.kind.name().to_string(), d.message.clone(), d.line as u64)
}

fn theirs_key(e: &Value) -> (String, String, u64) {
    (
        e["type"].as_str().unwrap_or("?").to_string(),
        e["msg"].as_str().unwrap_or("?").to_string(),
        e["lineno"].as_u64().unwrap_or(0),
    )
}

#[test]
fn errors_match_cpython() {
    let corpus = load_corpus(&repo_root().join("tests/corpus/errors"));
    assert!(
        corpus.len() >= 300,
        "the corpus has {} snippets",
        corpus.len()
    );
    let dump = std::env::var("PYC_ERRORS_DUMP").ok();
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut figure = Figure::new("errors", v);
        let mut log = String::new();
        let mut differing = Vec::new();
        for snippet in &corpus {
            let reply = oracle.request(json!({
                "op": "compile_source",
                "source": b64(&snippet.source),
                "filename": "<snippet>",
            }));
            let ours = pyc_compiler::check(&snippet.source, v);
            let outcome = match (&ours, reply["ok"].as_bool() == Some(true)) {
                (Ok(_), true) => Ok(()),
                (Err(d), true) => Err(format!("CPython accepts it; we say {d}")),
                (Ok(_), false) => Err(format!("CPython says {}; we accept it", reply["error"])),
                (Err(d), false) => {
                    let theirs = theirs_key(&reply["error"]);
                    if key(d) == theirs {
                        Ok(())
                    } else {
                        Err(format!("CPython says {theirs:?}; we say {:?}", key(d)))
                    }
                }
            };
            if dump.is_some() {
                let _ = writeln!(
                    log,
                    "{v} {} {}\n  src: {:?}\n  {}",
                    if outcome.is_ok() { "EQUAL" } else { "DIFF" },
                    snippet.name,
                    String::from_utf8_lossy(&snippet.source),
                    outcome.as_ref().err().map_or("", |s| s.as_str())
                );
            }
            if let Err(why) = &outcome {
                differing.push(format!("{}: {why}", snippet.name));
            }
            figure.record(outcome.map_err(|why| format!("{}: {why}", snippet.name)));
        }
        let mut report = format!("errors {v}: {}/{} equal\n", figure.matched, figure.total);
        for d in &differing {
            let _ = writeln!(report, "  differs ({v}): {d}");
        }
        print!("{report}");
        if let Some(path) = &dump {
            std::fs::write(format!("{path}.{v}"), log).expect("write the dump");
        }
        figure.check();
    });
}
