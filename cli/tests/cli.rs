//! The `pyc-build` binary, end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pyc_assembler::PythonVersion;
use pyc_compiler::{CompileError, CompileOptions};
use pyc_tests::{for_each_version, repo_root};
use serde_json::json;

fn pyc_build(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pyc-build"))
        .args(args)
        .output()
        .expect("runs pyc-build")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pyc-build-cli-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SAMPLE: &str = r#"
import sys

def greet(name, *args, greeting="hello", **kw):
    """Say hello."""
    def inner():
        return f"{greeting}, {name}!"
    try:
        return inner()
    except (TypeError, ValueError) as e:
        raise RuntimeError("no") from e
    finally:
        print(len(args), sorted(kw), 1.5e300, -0.0, b"\x00", {1, 2} == frozenset())

class C(object):
    x: int = 3
    def m(self):
        return [i * 2 for i in range(self.x) if i % 2]
"#;

/// A pyc written by CPython itself for `SAMPLE`, for the given oracle's version.
fn cpython_pyc(oracle: &mut pyc_tests::Oracle, dir: &Path) -> (PathBuf, PathBuf) {
    let source = dir.join(format!("sample{}.py", oracle.version.minor()));
    std::fs::write(&source, SAMPLE).unwrap();
    let blob = oracle.compile(&source).expect("sample compiles");
    let mut data = oracle.version.magic_bytes().to_vec();
    data.extend([0u8; 12]);
    data.extend(blob);
    let pyc = source.with_extension("pyc");
    std::fs::write(&pyc, data).unwrap();
    (source, pyc)
}

#[test]
fn dis_prints_what_cpython_prints() {
    let dir = temp_dir("dis");
    for_each_version(|oracle| {
        let (source, pyc) = cpython_pyc(oracle, &dir);
        for show_code in [false, true] {
            let mut args = vec![std::ffi::OsStr::new("dis"), pyc.as_os_str()];
            if show_code {
                args.push("--show-code".as_ref());
            }
            let out = pyc_build(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let ours = String::from_utf8(out.stdout).unwrap();
            let reply =
                oracle.request(json!({"op": "dis", "path": source, "show_code": show_code}));
            let ours = pyc_tests::normalise_addresses(&ours);
            assert_eq!(ours, reply["text"].as_str().unwrap(), "{}", oracle.version);
        }
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn broken_pycs_are_errors_with_offsets() {
    let dir = temp_dir("broken");
    let truncated = dir.join("truncated.pyc");
    let mut data = pyc_assembler::PythonVersion::V3_11.magic_bytes().to_vec();
    data.extend([0u8; 12]);
    data.extend(b"\xe3\x00\x00");
    std::fs::write(&truncated, &data).unwrap();
    let unknown = dir.join("unknown.pyc");
    std::fs::write(&unknown, b"\x42\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0N").unwrap();
    let short = dir.join("short.pyc");
    std::fs::write(&short, b"\xa7\x0d").unwrap();
    let missing = dir.join("missing.pyc");
    for path in [&truncated, &unknown, &short, &missing] {
        let out = pyc_build(&["dis".as_ref(), path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", path.display());
        assert!(stderr.contains(&*path.to_string_lossy()), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = pyc_build(&["dis".as_ref(), truncated.as_os_str()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("byte"));
    let out = pyc_build(&["dis".as_ref(), unknown.as_os_str()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("magic"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Whether `compile` refuses a target outright (no code generation for it yet).
fn refused(v: PythonVersion) -> bool {
    let options = CompileOptions {
        target: v,
        optimize: 0,
    };
    matches!(
        pyc_compiler::compile(b"", "<probe>", &options),
        Err(CompileError::UnsupportedTarget(_))
    )
}

#[test]
fn targets_without_codegen_are_refused() {
    let source = repo_root().join("tests/oracle/worker.py");
    let Some(target) = PythonVersion::ALL.into_iter().find(|&v| refused(v)) else {
        eprintln!("skipped: every target has code generation");
        return;
    };
    let target = target.to_string();
    for subcommand in [None, Some("check")] {
        let mut args: Vec<&std::ffi::OsStr> = subcommand.iter().map(|s| s.as_ref()).collect();
        args.extend(["--target".as_ref(), target.as_ref(), source.as_os_str()]);
        let out = pyc_build(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{subcommand:?}: {stderr}");
        assert!(stderr.contains("not implemented yet"), "{stderr}");
        assert!(out.stdout.is_empty(), "{subcommand:?}");
    }
    let out = pyc_build(&["--target".as_ref(), "3.7".as_ref(), source.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unsupported Python version '3.7'"),
        "{stderr}"
    );
}

/// The 3.11 interpreter, or `None` (after saying why) when it is missing and not required.
fn python_3_11() -> Option<PathBuf> {
    match pyc_tests::find_interpreter(PythonVersion::V3_11) {
        Ok(p) => Some(p),
        Err(why) => {
            assert!(!pyc_tests::oracles_required(), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

#[test]
fn check_compares_with_cpython() {
    let Some(python) = python_3_11() else { return };
    let dir = temp_dir("check");
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/bad.py"), "x = 1\ndef f(:\n").unwrap();
    std::fs::write(dir.join("pkg/good.py"), "x = 1\n").unwrap();
    std::fs::write(dir.join("pkg/notes.txt"), "not python").unwrap();
    let missing = dir.join("missing.py");
    let out = pyc_build(&[
        "check".as_ref(),
        "--python".as_ref(),
        python.as_os_str(),
        "-j".as_ref(),
        "2".as_ref(),
        dir.join("pkg").as_os_str(),
        missing.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if refused(PythonVersion::V3_11) {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--target 3.11: code generation"),
            "{stderr}"
        );
    } else {
        // The syntax error is CPython's, so the file counts as identical; the missing file is
        // an error; good.py is identical or differs, depending on code generation.
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("{}: error: ", missing.display())),
            "{stdout}"
        );
        assert!(!stdout.contains("bad.py"), "{stdout}");
        let summary = stdout.lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("3 files: 2 identical, 0 differ, 1 errors")
                || summary.starts_with("3 files: 1 identical, 1 differ, 1 errors"),
            "{stdout}"
        );
        if summary.contains("1 differ") {
            assert!(stdout.contains("good.py: "), "{stdout}");
        }
    }
    // --python and --target must agree.
    let out = pyc_build(&[
        "check".as_ref(),
        "--python".as_ref(),
        python.as_os_str(),
        "--target".as_ref(),
        "3.12".as_ref(),
        dir.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is Python 3.11, but --target 3.12"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn build_writes_pycs_that_cpython_accepts() {
    if refused(PythonVersion::V3_11) {
        eprintln!("skipped: no code generation for 3.11 yet");
        return;
    }
    let Some(mut oracle) = pyc_tests::Oracle::start(PythonVersion::V3_11) else {
        return;
    };
    let dir = temp_dir("build");
    let bad = dir.join("bad.py");
    std::fs::write(&bad, "x = 1\ndef f(:\n").unwrap();
    let good = dir.join("good.py");
    std::fs::write(&good, "x = 1\n").unwrap();
    let out = pyc_build(&["--target".as_ref(), "3.11".as_ref(), dir.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:7: SyntaxError: invalid syntax",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(!dir.join("__pycache__/bad.cpython-311.pyc").exists());
    let pyc = dir.join("__pycache__/good.cpython-311.pyc");
    if pyc.exists() {
        let reply = oracle.request(json!({
            "op": "validate_pyc",
            "pyc": pyc_tests::b64(&std::fs::read(&pyc).unwrap()),
            "source": good,
        }));
        assert_eq!(reply["ok"].as_bool(), Some(true), "{reply}");
        assert_eq!(reply["mode"].as_str(), Some("timestamp"), "{reply}");
    } else {
        // A construct code generation does not handle yet is an error naming the file.
        assert!(
            stderr.contains(&format!("{}: error: ", good.display())),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explain_symtable_shows_each_resolution() {
    let dir = temp_dir("explain");
    let source = dir.join("closure.py");
    std::fs::write(
        &source,
        "def f(a):\n    def g():\n        return a + b\n    return g\nb = 1\n",
    )
    .unwrap();
    let out = pyc_build(&[
        "explain".as_ref(),
        source.as_os_str(),
        "--target".as_ref(),
        "3.11".as_ref(),
        "--pass".as_ref(),
        "symtable".as_ref(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("a: cell"), "{text}");
    assert!(text.contains("a: free"), "{text}");
    assert!(text.contains("b: global (implicit)"), "{text}");
    let bad = dir.join("bad.py");
    std::fs::write(&bad, "def f():\n    nonlocal x\n").unwrap();
    let out = pyc_build(&[
        "explain".as_ref(),
        bad.as_os_str(),
        "--target".as_ref(),
        "3.11".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(":2:5: SyntaxError: no binding for nonlocal 'x' found"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn asm_assembles_and_dis_asm_round_trips() {
    let dir = temp_dir("asm");
    for_each_version(|oracle| {
        let v = oracle.version;
        let (_, cpython) = cpython_pyc(oracle, &dir);
        let text = pyc_build(&["dis".as_ref(), "--asm".as_ref(), cpython.as_os_str()]);
        assert!(
            text.status.success(),
            "{}",
            String::from_utf8_lossy(&text.stderr)
        );
        let asm = dir.join(format!("sample{}.pyasm", v.minor()));
        std::fs::write(&asm, &text.stdout).unwrap();
        let ours = dir.join(format!("ours{}.pyc", v.minor()));
        let out = pyc_build(&[
            "asm".as_ref(),
            asm.as_os_str(),
            "--output".as_ref(),
            ours.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |p: &Path| {
            pyc_assembler::pyc::read_pyc(&std::fs::read(p).unwrap())
                .unwrap()
                .1
        };
        assert_eq!(read(&ours), read(&cpython), "{v}");
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn asm_errors_point_at_the_line_with_a_hint() {
    let dir = temp_dir("asm-errors");
    let bad = dir.join("bad.pyasm");
    std::fs::write(
        &bad,
        ".version 3.11\n    RESUME 0\n    BINARY_ADD\n    RETURN_VALUE\n",
    )
    .unwrap();
    let out = pyc_build(&["asm".as_ref(), bad.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown opcode `BINARY_ADD` for 3.11"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.pyasm:3:5"), "{stderr}");
    assert!(stderr.contains("^^^^^^^^^^"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!dir.join("bad.pyc").exists());
    let out = pyc_build(&[
        "asm".as_ref(),
        bad.as_os_str(),
        "--target".as_ref(),
        "3.12".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hello_world_pyasm_runs_under_python3() {
    let dir = temp_dir("hello");
    let Ok(python) = pyc_tests::find_interpreter(pyc_assembler::PythonVersion::V3_11) else {
        assert!(!pyc_tests::oracles_required(), "no CPython 3.11");
        eprintln!("skipped: no CPython 3.11");
        return;
    };
    let pyc = dir.join("hello.pyc");
    let source = repo_root().join("docs/asm/hello.pyasm");
    let out = pyc_build(&[
        "asm".as_ref(),
        source.as_os_str(),
        "--target".as_ref(),
        "3.11".as_ref(),
        "-o".as_ref(),
        pyc.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(python).arg(&pyc).output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("ello"),
        "{:?}",
        run.stdout
    );
    std::fs::remove_dir_all(&dir).ok();
}
