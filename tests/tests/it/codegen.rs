//! Code generation against CPython 3.11.
//!
//! - The differential figure: over the 3.11 standard library, how many modules we compile into
//!   code objects equal to CPython's (or fail with CPython's own error), with the first
//!   differences and a histogram of what differs first, most common first.
//! - Run-time equivalence: the 3.11 standard library compiled by us into a pycache prefix, and a
//!   set of CPython's own test modules run against those pycs and against CPython's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyc_assembler::compare::{first_difference, Difference};
use pyc_assembler::pyc::{self, Invalidation, PycHeader};
use pyc_assembler::{marshal, CodeObject, PythonVersion};
use pyc_compiler::{CompileError, CompileOptions};
use pyc_tests::{catch_quietly, floor, full_sweep, python_files, short, Oracle};
use serde_json::Value;

const V: PythonVersion = PythonVersion::V3_11;

fn options(optimize: u8) -> CompileOptions {
    CompileOptions {
        target: V,
        optimize,
    }
}

/// Our compile of a file; a panic is `Err` with its message.
fn compile_ours(
    path: &Path,
    source: &[u8],
    optimize: u8,
) -> Result<Result<CodeObject, CompileError>, String> {
    catch_quietly(|| pyc_compiler::compile(source, &path.to_string_lossy(), &options(optimize)))
}

/// A compile error's text with its numbers blanked, to group the same unsupported construct
/// (or the same refusal) across files.
fn error_kind(e: &CompileError) -> String {
    let text = e.to_string();
    let mut out = String::new();
    let mut digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(c);
        }
    }
    out
}

/// The histogram key of a difference: the field, and for instructions the two opcodes.
fn difference_kind(d: &Difference) -> String {
    if d.kind == "co_code" {
        let op = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
        format!(
            "co_code: ours {} where CPython {}",
            op(&d.ours),
            op(&d.theirs)
        )
    } else {
        d.kind.to_string()
    }
}

fn show_raised(e: &Value) -> String {
    format!(
        "{}: {} ({}:{})",
        e["type"].as_str().unwrap_or("?"),
        e["msg"].as_str().unwrap_or("?"),
        e["lineno"],
        e["offset"]
    )
}

/// One file: `Ok` when identical — with, when both compiled, whether our marshal bytes equal
/// `marshal.dumps` of CPython's code object — else (histogram key, detail).
fn compare_file(
    oracle: &mut Oracle,
    path: &Path,
    optimize: u8,
) -> Result<Option<bool>, (String, String)> {
    let source = std::fs::read(path).map_err(|e| ("unreadable".to_string(), e.to_string()))?;
    let ours = compile_ours(path, &source, optimize)
        .map_err(|panic| ("internal error (panic)".to_string(), panic))?;
    match (ours, oracle.compile_optimized(path, optimize)) {
        (Ok(ours), Ok(blob)) => {
            let theirs = marshal::loads_code(&blob, V)
                .map_err(|e| ("CPython's code unreadable".to_string(), e.to_string()))?;
            match first_difference(&ours, &theirs, V) {
                None => Ok(Some(marshal::dumps_code(&ours, V) == blob)),
                Some(d) => Err((difference_kind(&d), d.to_string())),
            }
        }
        (Err(CompileError::Source(d)), Err(e)) => {
            let same = e["type"].as_str() == Some(d.kind.name())
                && e["msg"].as_str() == Some(d.message.as_str())
                && e["lineno"].as_u64().unwrap_or(0) == u64::from(d.line)
                && e["offset"].as_u64().unwrap_or(0) == u64::from(d.column);
            if same {
                Ok(None)
            } else {
                Err((
                    "syntax error differs".into(),
                    format!("ours {d}, CPython {}", show_raised(&e)),
                ))
            }
        }
        (Err(CompileError::Source(d)), Ok(_)) => Err((
            "syntax error where CPython compiles".into(),
            format!("ours {d}"),
        )),
        (Err(e), _) => Err((error_kind(&e), e.to_string())),
        (Ok(_), Err(e)) => Err(("compiles where CPython raises".into(), show_raised(&e))),
    }
}

#[test]
fn codegen_3_11_over_stdlib() {
    sweep(0, 10);
}

/// `-O` and `-OO` (asserts, `__debug__` and docstrings), on a sparser sample by default.
#[test]
fn codegen_3_11_optimized() {
    sweep(1, 40);
    sweep(2, 40);
}

/// Compares every `sample_every`th module (all under a full sweep) at `-O` level `optimize`,
/// prints the figure and enforces the floor.
fn sweep(optimize: u8, sample_every: usize) {
    let Some(mut oracle) = Oracle::start(V) else {
        return;
    };
    let files = oracle.stdlib_corpus(sample_every);
    let (mut identical, mut internal) = (0, 0);
    let (mut compiled, mut same_bytes) = (0, 0);
    let mut byte_examples = Vec::new();
    let mut examples = Vec::new();
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    for path in &files {
        let result = compare_file(&mut oracle, path, optimize);
        if let Ok(Some(bytes)) = result {
            compiled += 1;
            same_bytes += usize::from(bytes);
            if !bytes && byte_examples.len() < 5 {
                byte_examples.push(short(path));
            }
        }
        if let Err((kind, detail)) = result {
            internal += usize::from(kind.starts_with("internal error"));
            let seen = histogram.entry(kind).or_default();
            // The first differences, at most three of a kind.
            if examples.len() < 15 && *seen < 3 {
                examples.push(format!("{}: {detail}", short(path)));
            }
            *seen += 1;
        } else {
            identical += 1;
        }
    }
    let total = files.len();
    let percent = 100.0 * identical as f64 / total.max(1) as f64;
    let floor = floor("codegen", V);
    let level = ["", " -O", " -OO"][usize::from(optimize)];
    println!(
        "{V} codegen{level}: {identical}/{total} modules identical ({percent:.2}%, floor \
         {floor}%), {internal} internal errors{}",
        if full_sweep() { "" } else { " [sample]" }
    );
    // Byte identity with `marshal.dumps` (as `py_compile` writes it) of the modules whose
    // code objects are equal.
    let bytes_percent = 100.0 * same_bytes as f64 / compiled.max(1) as f64;
    let bytes_floor = pyc_tests::floor("codegen_bytes", V);
    println!(
        "{V} codegen{level}: {same_bytes}/{compiled} of those byte-identical to marshal.dumps \
         ({bytes_percent:.2}%, floor {bytes_floor}%){}",
        if byte_examples.is_empty() {
            String::new()
        } else {
            format!("; differing bytes: {}", byte_examples.join(", "))
        }
    );
    let mut ranked: Vec<_> = histogram.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("  first difference, by kind (files):");
    for (kind, n) in ranked.iter().take(30) {
        println!("  {n:6}  {kind}");
    }
    for e in &examples {
        println!("  differs: {e}");
    }
    assert!(total > 0, "{V} codegen{level}: nothing was compared");
    assert_eq!(internal, 0, "{V} codegen{level}: internal errors");
    assert!(
        bytes_percent >= bytes_floor,
        "{V} codegen{level}: {bytes_percent:.2}% byte-identical is below the floor {bytes_floor}%"
    );
    assert!(
        percent >= floor,
        "{V} codegen{level}: {percent:.2}% is below the recorded floor {floor}%; first differences:\n{}",
        examples.join("\n")
    );
}

/// CPython's test modules whose results must not change when they run on our pycs.
const RUNTIME_TESTS: &[&str] = &[
    "test_grammar",
    "test_scope",
    "test_generators",
    "test_coroutines",
    "test_exceptions",
    "test_exception_group",
    "test_with",
    "test_contextlib",
    "test_patma",
    "test_fstring",
    "test_unpack",
    "test_unpack_ex",
    "test_keywordonlyarg",
    "test_positional_only_arg",
    "test_listcomps",
    "test_setcomps",
    "test_genexps",
    "test_class",
    "test_super",
    "test_descr",
    "test_decorators",
    "test_named_expressions",
    "test_syntax",
    "test_compile",
    "test_dataclasses",
    "test_enum",
    "test_json",
    "test_re",
];

/// Where the import system looks for the pyc of `source` under `PYTHONPYCACHEPREFIX=prefix`
/// (`importlib.util.cache_from_source`).
fn prefixed_pyc(prefix: &Path, source: &Path) -> PathBuf {
    let dir = source.parent().unwrap_or(Path::new("/"));
    let relative = dir.strip_prefix("/").unwrap_or(dir);
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    prefix
        .join(relative)
        .join(format!("{stem}.cpython-3{}.pyc", V.minor()))
}

/// Compiles `source` with us and writes its timestamp pyc; `Err` says why not.
fn write_our_pyc(prefix: &Path, source: &Path) -> Result<(), String> {
    let bytes = std::fs::read(source).map_err(|e| format!("unreadable: {e}"))?;
    let metadata = std::fs::metadata(source).map_err(|e| format!("unreadable: {e}"))?;
    let code = match compile_ours(source, &bytes, 0) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => return Err(error_kind(&e)),
        Err(panic) => return Err(format!("internal error (panic): {panic}")),
    };
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let header = PycHeader {
        version: V,
        invalidation: Invalidation::Timestamp {
            mtime: mtime as u32,
            source_size: metadata.len() as u32,
        },
    };
    let target = prefixed_pyc(prefix, source);
    let dir = target.parent().expect("a pyc path has a directory");
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&target, pyc::write_pyc(&header, &code)))
        .map_err(|e| format!("cannot write {}: {e}", target.display()))
}

/// Runs one of CPython's test modules; returns whether it passed, and with a prefix how many
/// code objects were loaded from pycs under it (from `-v`'s `# code object from` lines).
fn run_test(python: &Path, test: &str, prefix: Option<&Path>, cwd: &Path) -> (bool, usize, String) {
    let mut command = Command::new(python);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PYTHON") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(cwd)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-X", "frozen_modules=off"]);
    if let Some(prefix) = prefix {
        command.env("PYTHONPYCACHEPREFIX", prefix).arg("-v");
    }
    let out = command
        .args(["-m", "test", "-q", test])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let loaded = prefix.map_or(0, |prefix| {
        let prefix = prefix.to_string_lossy();
        stderr
            .lines()
            .filter(|l| l.starts_with("# code object from ") && l.contains(&*prefix))
            .count()
    });
    // The end of the output, without -v's import trace.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.starts_with('#') && !l.starts_with("import "))
        .collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n");
    (out.status.success(), loaded, tail)
}

/// Run-time equivalence; slow, so it runs only with `PYC_RUNTIME=1` or in the full sweep (CI).
#[test]
fn runtime_equivalence_3_11() {
    let wanted = std::env::var("PYC_RUNTIME").is_ok_and(|v| v == "1") || full_sweep();
    if !wanted {
        println!("runtime equivalence {V}: skipped (set PYC_RUNTIME=1, or PYC_SWEEP=full)");
        return;
    }
    let Some(mut oracle) = Oracle::start(V) else {
        return;
    };
    let python = pyc_tests::find_interpreter(V).expect("the oracle's interpreter");
    let root = oracle.stdlib_root();
    drop(oracle);
    let files = python_files(&root);
    let work = std::env::temp_dir().join(format!("pyc-runtime-{}", std::process::id()));
    let prefix = work.join("prefix");
    let cwd = work.join("cwd");
    std::fs::create_dir_all(&cwd).expect("temporary directory");
    let mut compiled = 0;
    let mut left: BTreeMap<String, usize> = BTreeMap::new();
    for source in &files {
        match write_our_pyc(&prefix, source) {
            Ok(()) => compiled += 1,
            Err(why) => *left.entry(why).or_default() += 1,
        }
    }
    println!(
        "runtime equivalence {V}: pyc-build compiled {compiled} of {} files of {}; \
         {} left to CPython",
        files.len(),
        root.display(),
        files.len() - compiled
    );
    let mut ranked: Vec<_> = left.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (why, n) in ranked.iter().take(10) {
        println!("  {n:6}  {why}");
    }
    if compiled == 0 {
        println!(
            "runtime equivalence {V}: nothing to run, since pyc-build compiled none of the files"
        );
        std::fs::remove_dir_all(&work).ok();
        return;
    }
    let mut loaded_total = 0;
    let mut changed = Vec::new();
    for test in RUNTIME_TESTS {
        let (ours, loaded, ours_tail) = run_test(&python, test, Some(&prefix), &cwd);
        let (theirs, _, theirs_tail) = run_test(&python, test, None, &cwd);
        loaded_total += loaded;
        let word = |ok: bool| if ok { "pass" } else { "FAIL" };
        println!(
            "  {test:26} ours {}  CPython {}  ({loaded} code objects from our pycs)",
            word(ours),
            word(theirs)
        );
        if ours != theirs {
            changed.push(format!(
                "{test}: ours {}, CPython {}\n--- ours:\n{ours_tail}\n--- CPython:\n{theirs_tail}",
                word(ours),
                word(theirs)
            ));
        }
    }
    println!("runtime equivalence {V}: {loaded_total} code objects loaded from our pycs");
    std::fs::remove_dir_all(&work).ok();
    assert!(
        loaded_total > 0,
        "pyc-build compiled {compiled} files, but the interpreter loaded none of them"
    );
    assert!(
        changed.is_empty(),
        "results differ on our pycs:\n{}",
        changed.join("\n")
    );
}
