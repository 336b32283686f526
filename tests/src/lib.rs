//! Test support: discovery of real CPython interpreters, the oracle worker protocol, the
//! standard-library corpus and the recorded floors of differential figures.
//!
//! Versions without a native interpreter here (3.14, 3.15) are served by CPython compiled to
//! WebAssembly: the Pyodide npm packages of `tests/pyodide/package.json`, installed with
//! `npm ci` when missing and run by node (`tests/pyodide/oracle.mjs`) with the same worker.
//!
//! Environment variables:
//! - `PYC_PYTHON_3_X`: the interpreter to use for 3.X (otherwise `pyenv root`, then PATH).
//! - `PYC_NODE`: the node binary for the Pyodide oracles (otherwise `node` on PATH).
//! - `PYC_REQUIRE_ORACLES=1`: a missing interpreter fails the test instead of skipping it
//!   (CI sets this).
//! - `PYC_SWEEP=full`: sweep the whole standard library instead of a sample.
//! - `PYC_VERSIONS=3.14,3.15`: test only these versions (for work on some of them).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use pyc_assembler::repr::hash::HashBuild;
use pyc_assembler::repr::SetOrder;
use pyc_assembler::PythonVersion;
use serde_json::{json, Value};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// True when a missing interpreter must fail the tests (CI).
pub fn oracles_required() -> bool {
    std::env::var("PYC_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// True when differential tests sweep the whole standard library.
pub fn full_sweep() -> bool {
    std::env::var("PYC_SWEEP").is_ok_and(|v| v == "full")
}

/// Finds the interpreter for `v`, or says why there is none.
pub fn find_interpreter(v: PythonVersion) -> Result<PathBuf, String> {
    let var = format!("PYC_PYTHON_3_{}", v.minor());
    if let Ok(p) = std::env::var(&var) {
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
    for c in candidates {
        let out = Command::new(&c)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output();
        if let Ok(out) = out {
            if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == v.to_string()
            {
                return Ok(c);
            }
        }
    }
    Err(format!(
        "no CPython {v} interpreter found (set {var}, or install it with pyenv)"
    ))
}

/// How the oracle of a version runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runner {
    /// A native CPython interpreter running `tests/oracle/worker.py`.
    Native(PathBuf),
    /// CPython compiled to WebAssembly: the npm package `pyodide3X` of `tests/pyodide/`, run
    /// by this node binary through `tests/pyodide/oracle.mjs`.
    Pyodide(PathBuf),
}

/// The directory of the Pyodide oracles' npm project.
pub fn pyodide_dir() -> PathBuf {
    repo_root().join("tests/pyodide")
}

/// Whether `tests/pyodide/package.json` lists a Pyodide package for `v`.
pub fn has_pyodide_package(v: PythonVersion) -> bool {
    let text = std::fs::read_to_string(pyodide_dir().join("package.json")).unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    json["dependencies"]
        .get(format!("pyodide3{}", v.minor()))
        .is_some()
}

/// Installs the Pyodide packages (`npm ci`) unless they are there; once per process.
fn install_pyodide() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = pyodide_dir();
            if dir.join("node_modules/.package-lock.json").is_file() {
                return Ok(());
            }
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("cannot run npm to install the Pyodide oracles: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "npm ci in tests/pyodide failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        })
        .clone()
}

/// Finds how to run the oracle for `v`: a native interpreter, else Pyodide under node when
/// `tests/pyodide/package.json` has a package for `v`; or says why there is none.
pub fn find_runner(v: PythonVersion) -> Result<Runner, String> {
    let native = match find_interpreter(v) {
        Ok(p) => return Ok(Runner::Native(p)),
        Err(why) => why,
    };
    if !has_pyodide_package(v) {
        return Err(native);
    }
    let node = PathBuf::from(std::env::var("PYC_NODE").unwrap_or_else(|_| "node".into()));
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => {
            return Err(format!(
                "no CPython {v}: no native interpreter and no node to run Pyodide (set PYC_NODE)"
            ))
        }
    }
    install_pyodide()?;
    Ok(Runner::Pyodide(node))
}

/// A long-lived CPython process answering the oracle protocol (`tests/oracle/worker.py`).
pub struct Oracle {
    pub version: PythonVersion,
    /// The interpreter's full version, e.g. `3.11.7`.
    pub full_version: String,
    /// How this oracle runs.
    pub runner: Runner,
    /// How the interpreter hashes (Pyodide's is a 32-bit build hashing with FNV).
    pub hash_build: HashBuild,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the worker for `v`. Returns `None` (after printing why) when the interpreter is
    /// missing, unless [`oracles_required`], in which case it panics.
    pub fn start(v: PythonVersion) -> Option<Oracle> {
        let runner = match find_runner(v) {
            Ok(r) => r,
            Err(why) if oracles_required() => panic!("{why} (PYC_REQUIRE_ORACLES=1)"),
            Err(why) => {
                eprintln!("skipped {v}: {why}");
                return None;
            }
        };
        // Not `-I`: that would ignore PYTHONHASHSEED. The rest of the environment that could
        // change the interpreter's behaviour is removed instead.
        let mut command = match &runner {
            Runner::Native(python) => {
                let mut c = Command::new(python);
                c.arg("-s")
                    .arg("-B")
                    .arg(repo_root().join("tests/oracle/worker.py"));
                c
            }
            Runner::Pyodide(node) => {
                let mut c = Command::new(node);
                c.arg(pyodide_dir().join("oracle.mjs")).arg(v.to_string());
                c
            }
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PYTHON") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Frozensets of strings are listed in hash order: make it the same every run.
            .env("PYTHONHASHSEED", "0")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the oracle {runner:?}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut oracle = Oracle {
            version: v,
            full_version: String::new(),
            runner,
            hash_build: HashBuild::Native64,
            child,
            stdin,
            stdout,
        };
        let reply = oracle.request(json!({"op": "version"}));
        oracle.full_version = reply["version"].as_str().unwrap_or("?").to_string();
        oracle.hash_build = match (
            reply["hash_width"].as_u64(),
            reply["hash_algorithm"].as_str(),
        ) {
            (Some(64), Some("siphash13" | "siphash24")) => HashBuild::Native64,
            (Some(32), Some("fnv")) => HashBuild::Fnv32,
            other => panic!("oracle {v}: hashes of an unknown kind of build {other:?}"),
        };
        Some(oracle)
    }

    /// Sends one request and returns the reply; panics when the worker reports an internal
    /// error or dies, since a test cannot go on without its oracle.
    pub fn request(&mut self, req: Value) -> Value {
        let mut line = req.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush())
            .expect("oracle worker stdin");
        let mut reply = String::new();
        self.stdout
            .read_line(&mut reply)
            .expect("oracle worker stdout");
        let value: Value = serde_json::from_str(&reply)
            .unwrap_or_else(|e| panic!("oracle {} replied {reply:?}: {e}", self.version));
        if let Some(err) = value.get("internal_error") {
            panic!("oracle {} failed on {req}: {err}", self.version);
        }
        value
    }

    /// The order in which this interpreter lists the members of a frozenset read from a pyc.
    pub fn set_order(&self) -> SetOrder {
        SetOrder::Loaded {
            hash_seed: 0,
            build: self.hash_build,
        }
    }

    /// `marshal.dumps(compile(source_of(path)))`, or the compile error as JSON.
    pub fn compile(&mut self, path: &Path) -> Result<Vec<u8>, Value> {
        self.compile_optimized(path, 0)
    }

    /// [`Oracle::compile`] at `-O` level `optimize`.
    pub fn compile_optimized(&mut self, path: &Path, optimize: u8) -> Result<Vec<u8>, Value> {
        let reply = self.request(json!({"op": "compile", "path": path, "optimize": optimize}));
        if reply["ok"].as_bool() == Some(true) {
            Ok(unb64(&reply["marshal"]))
        } else {
            Err(reply["error"].clone())
        }
    }

    /// The `.py` files of this interpreter's standard library (without `site-packages`),
    /// sorted; every `n`th one unless [`full_sweep`]. Pyodide's standard library is small
    /// (it leaves out the tests): the 3.13 standard library's sources follow it.
    pub fn stdlib_corpus(&mut self, sample_every: usize) -> Vec<PathBuf> {
        let mut files = python_files(&self.stdlib_root());
        if matches!(self.runner, Runner::Pyodide(_)) {
            match native_stdlib(PythonVersion::V3_13) {
                Ok(root) => files.extend(python_files(&root)),
                Err(why) if oracles_required() => panic!("{why} (PYC_REQUIRE_ORACLES=1)"),
                Err(why) => eprintln!("{}: corpus without the 3.13 sources: {why}", self.version),
            }
        }
        if !full_sweep() {
            files = files.into_iter().step_by(sample_every.max(1)).collect();
        }
        files
    }
}

impl Oracle {
    /// The directory of this interpreter's standard library (`sysconfig`'s `stdlib`).
    pub fn stdlib_root(&mut self) -> PathBuf {
        let reply = self.request(json!({"op": "stdlib"}));
        PathBuf::from(reply["path"].as_str().expect("stdlib path"))
    }
}

/// Every `.py` file under `root` (not in `site-packages` or `__pycache__`), sorted.
pub fn python_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect_py(root, &mut files);
    files.sort();
    files
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs `f`, turning a panic into `Err(message)` without printing it (other threads' panics
/// still print as usual): for counting our compiler's internal errors per file.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                PANIC_AT.with(|p| *p.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|e| {
        let text = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        format!("{text} (at {})", PANIC_AT.with(|p| p.take()))
    })
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The standard library directory of the native interpreter for `v`.
fn native_stdlib(v: PythonVersion) -> Result<PathBuf, String> {
    let python = find_interpreter(v)?;
    let out = Command::new(&python)
        .args([
            "-I",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn collect_py(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if e.file_name() != "site-packages" && e.file_name() != "__pycache__" {
                collect_py(&path, out);
            }
        } else if ft.is_file() && path.extension().is_some_and(|x| x == "py") {
            out.push(path);
        }
    }
}

/// Replaces object addresses as the oracle does, so listings can be compared.
pub fn normalise_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // As the oracle's ` at 0x[0-9a-fA-F]+`: at least one hex digit.
    while let Some(i) = rest.find(" at 0x") {
        let digits = rest[i + 6..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        let end = rest.len() - digits.len();
        out.push_str(&rest[..i]);
        out.push_str(if end > i + 6 {
            " at 0x0"
        } else {
            &rest[i..end]
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Base64 of bytes, for requests.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Bytes from a base64 JSON string, from replies.
pub fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

/// The path of a stdlib file relative to the stdlib root, for messages.
pub fn short(path: &Path) -> String {
    let s = path.to_string_lossy();
    match s.find("/lib/python3.") {
        Some(i) => s[i + 1..].splitn(3, '/').nth(2).unwrap_or(&s).to_string(),
        None => s.into_owned(),
    }
}

/// A differential figure: how many of `total` matched, printed and checked against the
/// floor recorded in `tests/floors.txt` for `(name, version)`.
pub struct Figure {
    pub name: &'static str,
    pub version: PythonVersion,
    pub matched: usize,
    pub total: usize,
    /// The first few mismatches, for the failure message.
    pub examples: Vec<String>,
}

impl Figure {
    pub fn new(name: &'static str, version: PythonVersion) -> Figure {
        Figure {
            name,
            version,
            matched: 0,
            total: 0,
            examples: Vec::new(),
        }
    }

    /// Counts one case; `Err` holds what differed.
    pub fn record(&mut self, outcome: Result<(), String>) {
        self.total += 1;
        match outcome {
            Ok(()) => self.matched += 1,
            Err(why) => {
                if self.examples.len() < 10 {
                    self.examples.push(why);
                }
            }
        }
    }

    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.matched as f64 / self.total as f64
        }
    }

    /// Prints the figure and fails when it is below its recorded floor.
    pub fn check(&self) {
        let floor = floor(self.name, self.version);
        println!(
            "{} {}: {}/{} identical ({:.2}%, floor {floor}%){}",
            self.name,
            self.version,
            self.matched,
            self.total,
            self.percent(),
            if full_sweep() { "" } else { " [sample]" }
        );
        for e in &self.examples {
            println!("  differs: {e}");
        }
        assert!(
            self.total > 0,
            "{} {}: nothing was compared",
            self.name,
            self.version
        );
        assert!(
            self.percent() >= floor,
            "{} {}: {:.2}% is below the recorded floor {floor}%; first differences:\n{}",
            self.name,
            self.version,
            self.percent(),
            self.examples.join("\n")
        );
    }
}

/// The floor recorded for a figure in `tests/floors.txt` (lines `name version percent`);
/// 100 when none is recorded.
pub fn floor(name: &str, v: PythonVersion) -> f64 {
    let text = std::fs::read_to_string(repo_root().join("tests/floors.txt")).unwrap_or_default();
    let version = v.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let mut parts = l.split_whitespace();
            let (n, ver, p) = (parts.next()?, parts.next()?, parts.next()?);
            (n == name && ver == version).then(|| p.parse().ok())?
        })
        .unwrap_or(100.0)
}

/// The versions to test: every supported one, or those `PYC_VERSIONS` names.
pub fn versions() -> Vec<PythonVersion> {
    let Ok(list) = std::env::var("PYC_VERSIONS") else {
        return PythonVersion::ALL.to_vec();
    };
    list.split(',')
        .map(|s| {
            s.parse()
                .unwrap_or_else(|e| panic!("PYC_VERSIONS={list}: {e}"))
        })
        .collect()
}

/// Runs `f` with the oracle of every version to test that is available, in parallel
/// threads (one per version; each owns its worker).
pub fn for_each_version(f: impl Fn(&mut Oracle) + Sync) {
    let versions = versions();
    std::thread::scope(|s| {
        let handles: Vec<_> = versions
            .iter()
            .copied()
            .map(|v| {
                let f = &f;
                s.spawn(move || {
                    if let Some(mut oracle) = Oracle::start(v) {
                        f(&mut oracle)
                    }
                })
            })
            .collect();
        let mut failures = Vec::new();
        for (v, h) in versions.iter().zip(handles) {
            if let Err(e) = h.join() {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{v}: {msg}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}
