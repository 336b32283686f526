//! `pyc-build dis` against each version's own `dis.dis(module_code)` over its stdlib.

use pyc_assembler::{dis, marshal};
use pyc_tests::{for_each_version, normalise_addresses, short, Figure};
use serde_json::json;

/// The first line where two listings differ, for the report.
fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (ours.lines().collect(), theirs.lines().collect());
    let i = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "line {}: ours {:?}, CPython {:?}",
        i + 1,
        a.get(i).copied().unwrap_or("<end>"),
        b.get(i).copied().unwrap_or("<end>")
    )
}

fn sweep(figure: &'static str, show_code: bool) {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut fig = Figure::new(figure, v);
        for path in oracle.stdlib_corpus(20) {
            let Ok(blob) = oracle.compile(&path) else {
                continue;
            };
            let name = short(&path);
            let code = match marshal::loads_code(&blob, v) {
                Ok(code) => code,
                Err(e) => {
                    fig.record(Err(format!("{name}: {e}")));
                    continue;
                }
            };
            let ours = if show_code {
                let mut all = vec![&code];
                let mut i = 0;
                while i < all.len() {
                    let nested: Vec<_> = all[i].nested_code().collect();
                    all.splice(i + 1..i + 1, nested);
                    i += 1;
                }
                let order = oracle.set_order();
                all.iter()
                    .map(|c| dis::show_code_with(c, v, order))
                    .collect::<String>()
            } else {
                match dis::dis_module_with(&code, v, oracle.set_order()) {
                    Ok(text) => text,
                    Err(e) => {
                        fig.record(Err(format!("{name}: {e}")));
                        continue;
                    }
                }
            };
            let reply = oracle.request(json!({"op": "dis", "path": path, "show_code": show_code}));
            let theirs = reply["text"].as_str().unwrap_or_default();
            let ours = normalise_addresses(&ours);
            fig.record(if ours == theirs {
                Ok(())
            } else {
                Err(format!("{name}: {}", first_difference(&ours, theirs)))
            });
        }
        fig.check();
    });
}

#[test]
fn dis_listing_equals_cpython() {
    sweep("dis", false);
}

#[test]
fn show_code_equals_cpython() {
    sweep("show-code", true);
}
