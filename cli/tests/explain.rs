//! `pyc-build explain`: every pass over the 3.11 standard library, the stack pass against the
//! interpreter's own `dis.stack_effect`, the HTML page in a headless browser, `--compare`, and
//! the guided tour (`docs/tour.md`), whose listings must be what `explain` prints today.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pyc_assembler::{marshal, CodeObject, PythonVersion};
use pyc_build::explain::{self, ExplainError, Format, Input, Pass};
use pyc_tests::{catch_quietly, full_sweep, oracles_required, repo_root, short, Oracle};
use serde_json::{json, Value};

const V: PythonVersion = PythonVersion::V3_11;

fn pyc_build(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pyc-build"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs pyc-build")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pyc-build-explain-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SAMPLE: &str = "\
def f(items, n=2):
    total = 0
    for x in items:
        try:
            total += x // n
        except ZeroDivisionError:
            return None
    return total

def outer():
    k = 3
    def inner(y):
        return y + k
    return inner
";

/// Depth-first code objects in `co_consts` order (the worker's `walk`).
fn walk(code: &CodeObject) -> Vec<&CodeObject> {
    let mut out = vec![code];
    for c in code.nested_code() {
        out.extend(walk(c));
    }
    out
}

#[test]
fn passes_show_their_structure() {
    let dir = temp_dir("passes");
    std::fs::write(dir.join("s.py"), SAMPLE).unwrap();
    let run = |args: &[&str]| {
        let out = pyc_build(args, &dir);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Codegen shows pseudo-instructions; the optimised graph has real jumps and handlers.
    let codegen = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "codegen",
        "--function",
        "f",
        "s.py",
    ]);
    assert!(codegen.contains("SETUP_FINALLY -> B"), "{codegen}");
    assert!(codegen.contains("<pseudo>"), "{codegen}");
    assert!(
        !codegen.contains("== outer"),
        "--function narrows to f: {codegen}"
    );
    let cfg = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "cfg",
        "--function",
        "f",
        "s.py",
    ]);
    assert!(!cfg.contains("SETUP_FINALLY"), "{cfg}");
    assert!(cfg.contains("[handler B"), "{cfg}");
    assert!(cfg.contains("(stack depth 0 at entry)"), "{cfg}");
    let dot = run(&[
        "explain", "--target", "3.11", "--pass", "cfg", "--format", "dot", "s.py",
    ]);
    assert!(
        dot.starts_with("digraph cfg {") && dot.contains("style=dashed"),
        "{dot}"
    );
    // The cell variable: a slot of co_localsplus by the time of the optimised graph.
    let inner = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "cfg",
        "--function",
        "outer",
        "s.py",
    ]);
    assert!(
        inner.contains("MAKE_CELL") && inner.contains("(k)"),
        "{inner}"
    );
    let stack = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "stack",
        "--function",
        "f",
        "s.py",
    ]);
    assert!(stack.contains("maximum depth"), "{stack}");
    let exc = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "exceptions",
        "--function",
        "f",
        "s.py",
    ]);
    assert!(exc.contains("handled by PUSH_EXC_INFO"), "{exc}");
    let lines = run(&[
        "explain",
        "--target",
        "3.11",
        "--pass",
        "lines",
        "--function",
        "f",
        "s.py",
    ]);
    assert!(
        lines.contains("    5 |             total += x // n"),
        "{lines}"
    );
    let marshal = run(&["explain", "--target", "3.11", "--pass", "marshal", "s.py"]);
    assert!(marshal.contains("co_exceptiontable"), "{marshal}");
    let fold_dir = temp_dir("fold");
    std::fs::write(fold_dir.join("k.py"), "x = 2 ** 10 - 1\n").unwrap();
    let fold = pyc_build(
        &["explain", "--target", "3.11", "--pass", "fold", "k.py"],
        &fold_dir,
    );
    assert!(String::from_utf8_lossy(&fold.stdout).contains("ExprBinOp 1:4-1:15 => folded to 1023"));
    // Every pass has JSON with the schema's header.
    for pass in Pass::ALL {
        let text = run(&[
            "explain",
            "--target",
            "3.11",
            "--pass",
            pass.name(),
            "--format",
            "json",
            "s.py",
        ]);
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["schema"], explain::SCHEMA);
        assert_eq!(v["pass"], pass.name());
        assert_eq!(v["target"], "3.11");
    }
    // Usage errors.
    let out = pyc_build(
        &[
            "explain",
            "--target",
            "3.11",
            "--pass",
            "cfg",
            "--function",
            "nope",
            "s.py",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("the file has: <module>, f, outer, outer.<locals>.inner"));
}

#[test]
fn a_target_without_codegen_is_unsupported_not_an_error() {
    let dir = temp_dir("unsupported");
    std::fs::write(dir.join("s.py"), SAMPLE).unwrap();
    let out = pyc_build(
        &["explain", "--target", "3.8", "--pass", "cfg", "s.py"],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported"));
    // The front-end passes work for every version.
    let out = pyc_build(
        &["explain", "--target", "3.8", "--pass", "symtable", "s.py"],
        &dir,
    );
    assert!(out.status.success());
}

#[test]
fn compare_labels_cpython_output() {
    let dir = temp_dir("compare");
    std::fs::write(dir.join("s.py"), SAMPLE).unwrap();
    let out = pyc_build(
        &[
            "explain",
            "--compare",
            "3.8,3.11,3.13",
            "--function",
            "outer.<locals>.inner",
            "--format",
            "json",
            "s.py",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    assert_eq!(cols[1]["origin"], "pyc-build");
    assert!(cols[1]["listing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("LOAD_DEREF")));
    for (c, v) in [
        (&cols[0], PythonVersion::V3_8),
        (&cols[2], PythonVersion::V3_13),
    ] {
        match pyc_tests::find_interpreter(v) {
            Ok(_) => {
                assert_eq!(c["origin"], "cpython", "{c}");
                assert!(c["label"]
                    .as_str()
                    .unwrap()
                    .contains("CPython's own output"));
                assert!(!c["listing"].as_array().unwrap().is_empty(), "{c}");
            }
            Err(_) if oracles_required() => panic!("CPython {v} missing"),
            Err(_) => assert_eq!(c["origin"], "unavailable"),
        }
    }
}

/// Every pass over the 3.11 standard library (a sample; all of it under `PYC_SWEEP=full`):
/// no pass may fail on a file we compile; files our codegen does not handle yet are counted
/// apart, as are files CPython refuses too.
#[test]
fn every_pass_prints_for_the_stdlib() {
    let Some(mut oracle) = Oracle::start(V) else {
        return;
    };
    let files = oracle.stdlib_corpus(40);
    let (mut ok, mut unsupported, mut refused) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for path in &files {
        let Ok(source) = std::fs::read(path) else {
            continue;
        };
        let input = Input {
            path,
            source: &source,
            target: V,
        };
        for pass in Pass::ALL {
            for format in [Format::Text, Format::Json] {
                match catch_quietly(|| explain::render(&input, pass, None, format)) {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(ExplainError::Unsupported(_))) => unsupported += 1,
                    Ok(Err(ExplainError::Source(_))) => refused += 1,
                    Ok(Err(e)) => failures.push(format!("{} {}: {e}", short(path), pass.name())),
                    Err(panic) => {
                        failures.push(format!("{} {}: panic: {panic}", short(path), pass.name()))
                    }
                }
            }
        }
    }
    println!(
        "explain over {} stdlib files (x{} passes x2 formats): {ok} shown, {unsupported} unsupported \
         by codegen, {refused} refused as CPython refuses them, {} failures{}",
        files.len(),
        Pass::ALL.len(),
        failures.len(),
        if full_sweep() { "" } else { " (sample; PYC_SWEEP=full for all)" }
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ok > 0);
}

/// The stack pass against the interpreter: for each code object of the 3.11 standard library
/// (ours where we compile the file, CPython's where we do not yet), replaying the
/// instructions with `dis.stack_effect` gives the same depth before and after each
/// instruction and the same maximum.
#[test]
fn stack_pass_agrees_with_dis_stack_effect() {
    let Some(mut oracle) = Oracle::start(V) else {
        return;
    };
    let files = oracle.stdlib_corpus(10);
    let (mut units, mut ours, mut theirs, mut stacksize_differs) = (0usize, 0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for path in &files {
        let Ok(source) = std::fs::read(path) else {
            continue;
        };
        let options = pyc_compiler::CompileOptions {
            target: V,
            optimize: 0,
        };
        let compiled =
            catch_quietly(|| pyc_compiler::compile(&source, &path.to_string_lossy(), &options));
        let code = match compiled {
            Ok(Ok(code)) => {
                ours += 1;
                code
            }
            _ => match oracle.compile(path) {
                Ok(blob) => {
                    theirs += 1;
                    marshal::loads_code(&blob, V).expect("CPython's marshal loads")
                }
                Err(_) => continue,
            },
        };
        let blob = marshal::dumps_code(&code, V);
        let reply = oracle.request(json!({"op": "stack_replay", "marshal": pyc_tests::b64(&blob)}));
        let replayed = reply["units"].as_array().cloned().unwrap_or_default();
        let codes = walk(&code);
        assert_eq!(codes.len(), replayed.len(), "{}", short(path));
        for (c, r) in codes.iter().zip(&replayed) {
            units += 1;
            let q = c.qualname_or_name().to_string_lossy();
            let report = match explain::stack_report(c, V) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!(
                        "{} {q}: ours: {e}; dis: {}",
                        short(path),
                        r["error"]
                    ));
                    continue;
                }
            };
            if let Some(e) = r["error"].as_str() {
                failures.push(format!(
                    "{} {q}: dis replay failed ({e}) where ours did not",
                    short(path)
                ));
                continue;
            }
            let theirs: Vec<(i64, Option<i64>, Option<i64>)> = r["depths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d[0].as_i64().unwrap(), d[1].as_i64(), d[2].as_i64()))
                .collect();
            let mine: Vec<(i64, Option<i64>, Option<i64>)> = report
                .rows
                .iter()
                .map(|row| (i64::from(row.offset), row.before, row.after))
                .collect();
            if mine != theirs {
                let first = mine.iter().zip(&theirs).find(|(a, b)| a != b);
                failures.push(format!(
                    "{} {q}: depths differ first at {first:?}",
                    short(path)
                ));
            } else if r["max"].as_i64() != Some(report.max) {
                failures.push(format!(
                    "{} {q}: max {} vs dis {}",
                    short(path),
                    report.max,
                    r["max"]
                ));
            }
            if report.max != i64::from(c.stacksize) {
                stacksize_differs += 1;
            }
        }
    }
    println!(
        "stack pass vs dis.stack_effect: {units} code objects in {} files ({ours} compiled by us, \
         {theirs} by CPython), {} disagreements; maximum differs from co_stacksize in {stacksize_differs}",
        files.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(units > 0);
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn headless(browser: &Path, args: &[&str]) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("runs the browser")
}

/// The HTML page in a real (headless) browser: selecting a source line highlights its
/// instructions, selecting an instruction highlights its line and underlines its columns,
/// and a screenshot renders.
#[test]
fn html_page_highlights_partners_in_a_browser() {
    let dir = temp_dir("html");
    std::fs::write(dir.join("s.py"), SAMPLE).unwrap();
    let out = pyc_build(
        &["explain", "--target", "3.11", "--html", "page.html", "s.py"],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(dir.join("page.html")).unwrap();
    assert!(
        !page.contains("http://") || !page.contains("<script src"),
        "no external resources"
    );
    assert!(!page.contains("<link"), "no external stylesheets");
    assert!(page.contains("<svg class=\"cfg\""), "flow graphs drawn");
    let Some(browser) = chromium() else {
        assert!(!oracles_required(), "no chromium (PYC_REQUIRE_ORACLES=1)");
        println!("skipped the browser check: chromium is not installed");
        return;
    };
    let url = format!("file://{}", dir.join("page.html").display());
    // Line 5 (`total += x // n`) selected: its instructions light up, in the listing and in
    // the flow graph, and the other lines do not.
    let dom = headless(&browser, &["--dump-dom", &format!("{url}#line=5")]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("class=\"src hl\" data-line=\"5\""),
        "source line 5 highlighted"
    );
    assert!(
        dom.contains("class=\"ins hl\" data-id=\"u1o"),
        "an instruction of f highlighted"
    );
    assert!(
        dom.contains("class=\"ins cfg hl\""),
        "its flow graph instruction highlighted"
    );
    assert!(!dom.contains("class=\"src hl\" data-line=\"4\""));
    // An instruction selected: its source line lights up and its columns are marked.
    let id = page
        .lines()
        .find(|l| l.contains("BINARY_OP") && l.contains("data-line=\"5\""))
        .and_then(|l| l.split("data-id=\"").nth(1))
        .and_then(|l| l.split('"').next())
        .expect("a BINARY_OP on line 5")
        .to_string();
    let dom = headless(&browser, &["--dump-dom", &format!("{url}#ins={id}")]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("class=\"src hl\" data-line=\"5\""),
        "its line highlighted"
    );
    assert!(
        dom.contains("<mark>x // n</mark>"),
        "its columns marked: {}",
        dom.lines()
            .find(|l| l.contains("data-line=\"5\""))
            .unwrap_or("")
    );
    let shot = dir.join("shot.png");
    let _ = headless(
        &browser,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,800",
            &format!("{url}#line=5"),
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 10_000,
        "the screenshot has content ({} bytes)",
        png.len()
    );
}

/// The tour's listings are what `explain` prints now: each ```text block that follows an
/// `<!-- explain: ARGS -->` marker is the output of `pyc-build explain ARGS` run in a
/// directory holding the tour's example files (the ```python blocks after `<!-- file: NAME -->`
/// markers), or lines A to B of it when the marker ends in `| lines A-B`. `PYC_BLESS=1` rewrites the listings instead of checking them.
#[test]
fn tour_listings_are_current() {
    let path = repo_root().join("docs/tour.md");
    let doc = std::fs::read_to_string(&path).expect("docs/tour.md");
    let dir = temp_dir("tour");
    let lines: Vec<&str> = doc.lines().collect();
    // Example files.
    let mut i = 0;
    while i < lines.len() {
        if let Some(name) = lines[i]
            .strip_prefix("<!-- file: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            let start = i + 2;
            let end = start
                + lines[start..]
                    .iter()
                    .position(|l| *l == "```")
                    .expect("closed block");
            std::fs::write(dir.join(name), lines[start..end].join("\n") + "\n").unwrap();
            i = end;
        }
        i += 1;
    }
    let mut out = Vec::new();
    let mut stale = Vec::new();
    let mut listings = 0;
    let mut i = 0;
    while i < lines.len() {
        out.push(lines[i].to_string());
        if let Some(args) = lines[i]
            .strip_prefix("<!-- explain: ")
            .and_then(|l| l.strip_suffix(" -->"))
        {
            listings += 1;
            // `ARGS | lines A-B` shows lines A to B (1-based) of the output.
            let (command, excerpt) = match args.split_once(" | lines ") {
                Some((c, range)) => {
                    let (a, b) = range.split_once('-').expect("lines A-B");
                    (
                        c,
                        Some((a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap())),
                    )
                }
                None => (args, None),
            };
            let mut argv = vec!["explain"];
            argv.extend(command.split_whitespace());
            let result = pyc_build(&argv, &dir);
            assert!(
                result.status.success(),
                "{args}: {}",
                String::from_utf8_lossy(&result.stderr)
            );
            let mut now = String::from_utf8(result.stdout).unwrap();
            if let Some((a, b)) = excerpt {
                now = now
                    .lines()
                    .skip(a - 1)
                    .take(b + 1 - a)
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            assert_eq!(
                lines[i + 1],
                "```text",
                "a text block follows the marker for {args}"
            );
            let end = i
                + 2
                + lines[i + 2..]
                    .iter()
                    .position(|l| *l == "```")
                    .expect("closed block");
            let was = lines[i + 2..end].join("\n");
            if was.trim_end() != now.trim_end() {
                stale.push(args.to_string());
            }
            out.push("```text".into());
            out.extend(now.trim_end().lines().map(str::to_string));
            out.push("```".into());
            i = end;
        }
        i += 1;
    }
    assert!(listings >= 6, "the tour shows every topic");
    if std::env::var_os("PYC_BLESS").is_some() {
        std::fs::write(&path, out.join("\n") + "\n").unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "stale listings in docs/tour.md (PYC_BLESS=1 rewrites them): {stale:?}"
    );
}
