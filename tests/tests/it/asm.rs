//! The assembler against CPython: `to_asm` then `parse_and_assemble` gives back CPython's code
//! objects, the computed stack depth matches `co_stacksize`, and the hand-written programs in
//! `docs/asm/` run under every interpreter and print what they say they print.

use pyc_assembler::asm::{computed_stacksize, parse_and_assemble, to_asm};
use pyc_assembler::pyc::{write_pyc, Invalidation, PycHeader};
use pyc_assembler::{marshal, CodeObject, Constant};
use pyc_tests::{b64, for_each_version, repo_root, short, Figure};
use serde_json::json;

fn walk<'a>(code: &'a CodeObject, out: &mut Vec<&'a CodeObject>) {
    out.push(code);
    for c in &code.consts {
        if let Constant::Code(inner) = c {
            walk(inner, out);
        }
    }
}

/// A code object without its nested code objects, to compare one level at a time.
fn shallow(code: &CodeObject) -> CodeObject {
    let mut c = code.clone();
    for k in &mut c.consts {
        if let Constant::Code(inner) = k {
            let mut stub = (**inner).clone();
            stub.consts.clear();
            *k = Constant::Code(Box::new(stub));
        }
    }
    c
}

#[test]
fn asm_round_trip_over_the_stdlib() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut roundtrip = Figure::new("asm-roundtrip", v);
        let mut depth = Figure::new("asm-stackdepth", v);
        for path in oracle.stdlib_corpus(20) {
            let Ok(bytes) = oracle.compile(&path) else {
                continue;
            };
            let code = marshal::loads_code(&bytes, v).expect("CPython's marshal output loads");
            let mut theirs = Vec::new();
            walk(&code, &mut theirs);
            for c in &theirs {
                depth.record(match computed_stacksize(c, v) {
                    Ok(d) if d == c.stacksize => Ok(()),
                    other => Err(format!(
                        "{} {}: computed {other:?}, co_stacksize {}",
                        short(&path),
                        c.name,
                        c.stacksize
                    )),
                });
            }
            let text = to_asm(&code, v);
            let back = match parse_and_assemble(&text, None) {
                Ok((_, back)) => back,
                Err(errors) => {
                    for c in &theirs {
                        roundtrip.record(Err(format!(
                            "{} {}: does not assemble: {}",
                            short(&path),
                            c.name,
                            errors[0]
                        )));
                    }
                    continue;
                }
            };
            // CPython itself must find the result equal to its own compile(), tables included.
            let reply = oracle.request(json!({
                "op": "check_marshal",
                "path": path,
                "ours": b64(&marshal::dumps_code(&back, v)),
            }));
            let cpython_equal = reply["equal"].as_bool() == Some(true);
            let mut ours = Vec::new();
            walk(&back, &mut ours);
            for (i, c) in theirs.iter().enumerate() {
                roundtrip.record(match ours.get(i) {
                    Some(o) if shallow(o) == shallow(c) && cpython_equal => Ok(()),
                    Some(o) if shallow(o) == shallow(c) => Err(format!(
                        "{}: CPython says {}",
                        short(&path),
                        reply["detail"]
                    )),
                    _ => Err(format!("{} {}: differs", short(&path), c.name)),
                });
            }
        }
        roundtrip.check();
        depth.check();
    });
}

/// The `# output:` lines of a program: what it must print.
fn expected_output(text: &str) -> String {
    text.lines()
        .filter_map(|l| l.strip_prefix("# output:"))
        .map(|l| format!("{}\n", l.trim()))
        .collect()
}

#[test]
fn hand_written_programs_run_everywhere() {
    let dir = repo_root().join("docs/asm");
    let mut programs: Vec<_> = std::fs::read_dir(&dir)
        .expect("docs/asm exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pyasm"))
        .collect();
    programs.sort();
    assert!(
        programs.len() >= 5,
        "the five example programs are in docs/asm"
    );
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut fig = Figure::new("asm-programs", v);
        for p in &programs {
            let text = std::fs::read_to_string(p).expect("readable program");
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let outcome = match parse_and_assemble(&text, Some(v)) {
                Err(e) => {
                    let (l, c) = e[0].line_col(&text);
                    Err(format!("{name}:{l}:{c}: {}", e[0]))
                }
                Ok((_, code)) => {
                    let header = PycHeader {
                        version: v,
                        invalidation: Invalidation::UncheckedHash([0; 8]),
                    };
                    let reply = oracle.request(json!({
                        "op": "run_pyc",
                        "pyc": b64(&write_pyc(&header, &code)),
                    }));
                    let out = reply["stdout"].as_str().unwrap_or_default();
                    let want = expected_output(&text);
                    if reply["status"] == 0 && out == want {
                        Ok(())
                    } else {
                        Err(format!(
                            "{name}: status {}, printed {out:?}, expected {want:?}; stderr {}",
                            reply["status"], reply["stderr"]
                        ))
                    }
                }
            };
            fig.record(outcome);
        }
        fig.check();
    });
}
