//! Marshal against CPython: over each version's stdlib, CPython's `marshal.dumps(compile(...))`
//! read by us and written back (a) losslessly gives CPython's exact bytes, and (b) by the plain
//! writer gives bytes that CPython loads into an equal code object.

use pyc_assembler::marshal;
use pyc_tests::{b64, for_each_version, short, Figure};
use serde_json::json;

#[test]
fn marshal_round_trip_over_stdlib() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut lossless = Figure::new("marshal-lossless", v);
        let mut plain = Figure::new("marshal-plain", v);
        for path in oracle.stdlib_corpus(20) {
            let Ok(blob) = oracle.compile(&path) else {
                continue; // deliberate syntax errors in the corpus
            };
            let name = short(&path);
            lossless.record(
                marshal::loads_with_layout(&blob, v)
                    .map_err(|e| format!("{name}: read: {e}"))
                    .and_then(|(value, layout)| {
                        let ours = marshal::dumps_with_layout(&value, &layout, v)
                            .map_err(|e| format!("{name}: write: {e}"))?;
                        match ours.iter().zip(&blob).position(|(a, b)| a != b) {
                            None if ours.len() == blob.len() => Ok(()),
                            at => Err(format!(
                                "{name}: bytes differ at {} (ours {} bytes, CPython {})",
                                at.unwrap_or(ours.len().min(blob.len())),
                                ours.len(),
                                blob.len()
                            )),
                        }
                    }),
            );
            let outcome = match marshal::loads_code(&blob, v) {
                Err(e) => Err(format!("{name}: read: {e}")),
                Ok(code) => {
                    let ours = marshal::dumps_code(&code, v);
                    let reply = oracle
                        .request(json!({"op": "check_marshal", "path": path, "ours": b64(&ours)}));
                    if reply["equal"].as_bool() == Some(true) {
                        Ok(())
                    } else {
                        Err(format!("{name}: {}", reply["detail"]))
                    }
                }
            };
            plain.record(outcome);
        }
        lossless.check();
        plain.check();
    });
}
