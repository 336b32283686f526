//! `pyc-build check`: compiles sources with pyc-build and with the real CPython of the target
//! version, and reports where the code objects (or the errors) first differ.
//!
//! CPython runs as long-lived worker processes (`worker.py`, embedded in the binary), one per
//! job, each answering length-prefixed compile requests with `marshal.dumps(code)` or the
//! exception `compile()` raised.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use pyc_assembler::{compare, marshal, PythonVersion};
use pyc_compiler::{CompileError, CompileOptions, Diagnostic};

use crate::files::{python_sources, Source};
use crate::panics::{compile_caught, quiet_panics};

const WORKER: &str = include_str!("worker.py");

/// What `check` was asked.
pub struct CheckOptions<'a> {
    pub paths: &'a [PathBuf],
    pub target: Option<PythonVersion>,
    pub python: Option<&'a Path>,
    pub jobs: Option<usize>,
    /// `-O` level for both compilers (0, 1 or 2).
    pub optimize: u8,
}

/// The verdict on one file.
enum Outcome {
    Identical,
    Differs(String),
    Error(String),
}

pub fn run(opts: &CheckOptions) -> ExitCode {
    if opts.paths.is_empty() {
        eprintln!("pyc-build check: error: no paths given");
        return ExitCode::from(2);
    }
    let (target, python) = match interpreter(opts.target, opts.python) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("pyc-build check: error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = CompileOptions {
        target,
        optimize: opts.optimize,
    };
    if let Err(e @ CompileError::UnsupportedTarget(_)) =
        pyc_compiler::compile(b"", "<probe>", &options)
    {
        eprintln!("pyc-build check: error: --target {target}: {e}");
        return ExitCode::from(2);
    }
    let sources = python_sources(opts.paths);
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, sources.len().max(1));
    // Start every worker before any work, so a broken interpreter is one clear error.
    let mut workers = Vec::new();
    for _ in 0..jobs {
        match Worker::start(&python) {
            Ok(w) => workers.push(w),
            Err(e) => {
                eprintln!("pyc-build check: error: {}: {e}", python.display());
                return ExitCode::from(2);
            }
        }
    }
    quiet_panics();
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel();
    let mut counts = [0usize; 3];
    std::thread::scope(|s| {
        for mut worker in workers {
            let (send, next, sources, options, python) =
                (send.clone(), &next, &sources, &options, &python);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(source) = sources.get(i) else { break };
                let outcome = check_one(source, &mut worker, python, options);
                if send.send((i, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(send);
        // Print in file order as results arrive.
        let mut pending = std::collections::BTreeMap::new();
        let mut printed = 0;
        for (i, outcome) in receive {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&printed) {
                let name = match &sources[printed] {
                    Ok(p) | Err((p, _)) => p.display().to_string(),
                };
                match outcome {
                    Outcome::Identical => counts[0] += 1,
                    Outcome::Differs(why) => {
                        counts[1] += 1;
                        println!("{name}: {why}");
                    }
                    Outcome::Error(why) => {
                        counts[2] += 1;
                        println!("{name}: error: {why}");
                    }
                }
                printed += 1;
            }
        }
    });
    let [identical, differ, errors] = counts;
    println!(
        "{} files: {identical} identical, {differ} differ, {errors} errors (CPython {target} at {})",
        sources.len(),
        python.display()
    );
    if differ + errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn check_one(
    source: &Source,
    worker: &mut Worker,
    python: &Path,
    options: &CompileOptions,
) -> Outcome {
    let path = match source {
        Ok(p) => p,
        Err((_, e)) => return Outcome::Error(e.to_string()),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let filename = path.to_string_lossy();
    let ours = match compile_caught(&bytes, &filename, options) {
        Ok(result) => result,
        Err(why) => return Outcome::Error(why),
    };
    let theirs = match worker.compile(&filename, &bytes, options.optimize) {
        Ok(reply) => reply,
        Err(e) => {
            // The worker died (CPython itself crashed on this file, say): start a new one for
            // the next files.
            let why = format!("CPython worker failed: {e}");
            match Worker::start(python) {
                Ok(w) => *worker = w,
                Err(e) => return Outcome::Error(format!("{why}; restarting it failed: {e}")),
            }
            return Outcome::Error(why);
        }
    };
    let v = options.target;
    match (ours, theirs) {
        (Ok(ours), Ok(blob)) => match marshal::loads_code(&blob, v) {
            Err(e) => Outcome::Error(format!("cannot read CPython's code object: {e}")),
            Ok(theirs) => match compare::first_difference(&ours, &theirs, v) {
                None => Outcome::Identical,
                Some(d) => Outcome::Differs(d.to_string()),
            },
        },
        (Err(CompileError::Source(d)), Err(e)) if e.matches(&d) => Outcome::Identical,
        (Err(CompileError::Source(d)), Err(e)) => {
            Outcome::Differs(format!("ours {}, CPython {e}", show_diagnostic(&d)))
        }
        (Err(ours), Err(e)) => Outcome::Differs(format!("ours {ours}, CPython {e}")),
        (Ok(_), Err(e)) => Outcome::Differs(format!("ours compiles, CPython {e}")),
        (Err(CompileError::Source(d)), Ok(_)) => {
            Outcome::Differs(format!("ours {}, CPython compiles", show_diagnostic(&d)))
        }
        (Err(ours), Ok(_)) => Outcome::Differs(format!("ours {ours}, CPython compiles")),
    }
}

fn show_diagnostic(d: &Diagnostic) -> String {
    format!("{}: {} ({}:{})", d.kind.name(), d.message, d.line, d.column)
}

/// The exception CPython's `compile()` raised.
#[derive(Debug)]
struct Raised {
    kind: String,
    lineno: Option<u32>,
    offset: Option<u32>,
    message: String,
}

impl Raised {
    fn matches(&self, d: &Diagnostic) -> bool {
        self.kind == d.kind.name()
            && self.message == d.message
            && self.lineno.unwrap_or(0) == d.line
            && self.offset.unwrap_or(0) == d.column
    }
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |x: Option<u32>| x.map_or("None".to_string(), |x| x.to_string());
        write!(
            f,
            "{}: {} ({}:{})",
            self.kind,
            self.message,
            n(self.lineno),
            n(self.offset)
        )
    }
}

/// A CPython process running `worker.py`.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Worker {
    fn start(python: &Path) -> Result<Worker, String> {
        // -I: no user site, no PYTHON* variables, no script directory on sys.path;
        // -B: write no pycs.
        let mut child = Command::new(python)
            .args(["-I", "-B", "-c", WORKER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the interpreter: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the interpreter's pipes are missing".into());
        };
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }

    /// CPython's `marshal.dumps(compile(source, filename, "exec"))`, or what it raised.
    fn compile(
        &mut self,
        filename: &str,
        source: &[u8],
        optimize: u8,
    ) -> std::io::Result<Result<Vec<u8>, Raised>> {
        let too_long = || std::io::Error::other("the source is larger than 4 GiB");
        let mut request = vec![b'C', optimize];
        for part in [filename.as_bytes(), source] {
            let n = u32::try_from(part.len()).map_err(|_| too_long())?;
            request.extend(n.to_le_bytes());
            request.extend(part);
        }
        self.stdin.write_all(&request)?;
        self.stdin.flush()?;
        let mut head = [0u8; 5];
        self.stdout.read_exact(&mut head)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut payload = vec![0; len];
        self.stdout.read_exact(&mut payload)?;
        match head[0] {
            b'O' => Ok(Ok(payload)),
            b'E' => {
                let text = String::from_utf8_lossy(&payload);
                let mut parts = text.splitn(4, '\0');
                let mut next = || parts.next().unwrap_or("").to_string();
                let (kind, lineno, offset, message) = (next(), next(), next(), next());
                Ok(Err(Raised {
                    kind,
                    lineno: lineno.parse().ok(),
                    offset: offset.parse().ok(),
                    message,
                }))
            }
            other => Err(std::io::Error::other(format!(
                "unexpected reply status {other:#04x}"
            ))),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The interpreter to compare with and its version: `--python` (whose version is the target
/// unless `--target` is given, which must then agree), else the interpreter found for the
/// target (the version of `python3` on PATH by default).
fn interpreter(
    target: Option<PythonVersion>,
    python: Option<&Path>,
) -> Result<(PythonVersion, PathBuf), String> {
    if let Some(python) = python {
        let found = version_of(python)
            .ok_or_else(|| format!("{}: not a usable Python interpreter", python.display()))?;
        let v: PythonVersion = found
            .parse()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if let Some(t) = target.filter(|&t| t != v) {
            return Err(format!(
                "--python {} is Python {v}, but --target {t} was given",
                python.display()
            ));
        }
        return Ok((v, python.to_path_buf()));
    }
    let target = target.map_or_else(crate::default_target, Ok)?;
    Ok((target, find_interpreter(target)?))
}

/// `major.minor` of an interpreter, if it runs.
fn version_of(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Finds CPython `v`: `$PYC_PYTHON_3_X`, else the newest `$(pyenv root)/versions/3.X.*`, else
/// `python3.X` or `python3` on PATH when its version is `v`.
pub fn find_interpreter(v: PythonVersion) -> Result<PathBuf, String> {
    let var = format!("PYC_PYTHON_3_{}", v.minor());
    if let Some(p) = std::env::var_os(&var) {
        return Ok(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Ok(entries) = std::fs::read_dir(root.join("versions")) {
            let prefix = format!("{v}.");
            let mut found: Vec<(u32, PathBuf)> = entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let patch = name.strip_prefix(&prefix)?.parse::<u32>().ok()?;
                    Some((patch, e.path().join("bin/python3")))
                })
                .collect();
            found.sort();
            candidates.extend(found.into_iter().rev().map(|(_, p)| p));
        }
    }
    candidates.push(PathBuf::from(format!("python{v}")));
    candidates.push(PathBuf::from("python3"));
    candidates
        .into_iter()
        .find(|c| version_of(c).is_some_and(|found| found == v.to_string()))
        .ok_or_else(|| {
            format!("no CPython {v} interpreter found (set {var} or --python, or install it with pyenv)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_answers_with_code_or_the_exception() {
        let v = PythonVersion::V3_11;
        let python = match find_interpreter(v) {
            Ok(p) => p,
            Err(why) => {
                let required = std::env::var("PYC_REQUIRE_ORACLES").is_ok_and(|x| x == "1");
                assert!(!required, "{why}");
                eprintln!("skipped: {why}");
                return;
            }
        };
        let mut worker = Worker::start(&python).expect("worker starts");
        for _ in 0..2 {
            let blob = worker
                .compile("m.py", b"def f(x):\n    return x + 1\n", 0)
                .expect("worker replies")
                .expect("compiles");
            let code = marshal::loads_code(&blob, v).expect("a code object");
            assert_eq!(code.filename.as_str(), Some("m.py"));
            assert_eq!(code.nested_code().count(), 1);
            let raised = match worker.compile("bad.py", b"x = 1\ndef f(:\n", 0) {
                Ok(Err(raised)) => raised,
                _ => panic!("a SyntaxError"),
            };
            assert_eq!(raised.to_string(), "SyntaxError: invalid syntax (2:7)");
            let d = Diagnostic::new(pyc_compiler::ErrorKind::SyntaxError, "invalid syntax", 2, 7);
            assert!(raised.matches(&d));
            assert!(!raised.matches(&Diagnostic { column: 6, ..d }));
            // Null bytes: a SyntaxError in 3.11 (ValueError in some older versions).
            let raised = worker.compile("nul.py", b"x\0", 0).expect("worker replies");
            assert!(raised.is_err());
            // -O levels reach compile().
            let blob = worker.compile("o.py", b"assert x\n", 1).unwrap().unwrap();
            let plain = worker.compile("o.py", b"assert x\n", 0).unwrap().unwrap();
            assert!(blob.len() < plain.len());
        }
    }
}
