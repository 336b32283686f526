//! pyc headers and source hashes against each version's importlib.

use pyc_assembler::pyc::{self, Invalidation, PycHeader};
use pyc_tests::{b64, for_each_version, unb64};
use serde_json::json;

/// Inputs of every length around SipHash's 8-byte blocks, and some text.
fn hash_inputs() -> Vec<Vec<u8>> {
    let mut inputs: Vec<Vec<u8>> = (0..=33).map(|n| (0..n as u8).collect()).collect();
    inputs.push(b"print('hello')\n".to_vec());
    inputs.push(
        "# -*- coding: utf-8 -*-\nx = '\u{e9}\u{1f600}'\n"
            .as_bytes()
            .to_vec(),
    );
    inputs.push(vec![0xff; 1000]);
    inputs.push((0..100_000u32).map(|i| (i * 7 % 251) as u8).collect());
    inputs
}

#[test]
fn source_hash_equals_importlib() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let inputs = hash_inputs();
        for data in &inputs {
            let reply = oracle.request(json!({"op": "source_hash", "data": b64(data)}));
            assert_eq!(
                pyc::source_hash(v, data).to_vec(),
                unb64(&reply["hash"]),
                "{v}: source_hash of {} bytes",
                data.len()
            );
        }
        println!(
            "source-hash {v}: {}/{} inputs equal",
            inputs.len(),
            inputs.len()
        );
    });
}

/// A pyc we write in each invalidation mode passes importlib's own validation against its
/// source, and a stale one is rejected.
#[test]
fn headers_are_validated_by_importlib() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let dir =
            std::env::temp_dir().join(format!("pyc-headers-{}-{}", std::process::id(), v.minor()));
        std::fs::create_dir_all(&dir).unwrap();
        let source_path = dir.join("mod.py");
        let source = b"x = 1\n";
        std::fs::write(&source_path, source).unwrap();
        let code = pyc::read_pyc(&{
            // Any code object will do: take CPython's own for the source.
            let blob = oracle.compile(&source_path).expect("compiles");
            let mut data = v.magic_bytes().to_vec();
            data.extend([0; 12]);
            data.extend(blob);
            data
        })
        .expect("reads")
        .1;
        let meta = std::fs::metadata(&source_path).unwrap();
        let mtime = meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as u32;
        let hash = pyc::source_hash(v, source);
        let good = [
            (
                Invalidation::Timestamp {
                    mtime,
                    source_size: source.len() as u32,
                },
                "timestamp",
            ),
            (Invalidation::CheckedHash(hash), "checked-hash"),
            (Invalidation::UncheckedHash(hash), "unchecked-hash"),
        ];
        for (invalidation, mode) in good {
            let data = pyc::write_pyc(
                &PycHeader {
                    version: v,
                    invalidation,
                },
                &code,
            );
            let reply = oracle.request(json!({
                "op": "validate_pyc", "source": source_path, "pyc": b64(&data)}));
            assert_eq!(reply["ok"], true, "{v} {mode}: {reply}");
            assert_eq!(reply["mode"], mode, "{v}");
            let (header, back) = pyc::read_pyc(&data).unwrap();
            assert_eq!(header.invalidation, invalidation);
            assert_eq!(back, code);
        }
        let stale = [
            Invalidation::Timestamp {
                mtime: mtime ^ 1,
                source_size: source.len() as u32,
            },
            Invalidation::Timestamp {
                mtime,
                source_size: source.len() as u32 + 1,
            },
            Invalidation::CheckedHash([0; 8]),
        ];
        for invalidation in stale {
            let data = pyc::write_pyc(
                &PycHeader {
                    version: v,
                    invalidation,
                },
                &code,
            );
            let reply = oracle.request(json!({
                "op": "validate_pyc", "source": source_path, "pyc": b64(&data)}));
            assert_eq!(
                reply["ok"], false,
                "{v}: stale {invalidation:?} accepted: {reply}"
            );
        }
        println!("pyc-headers {v}: 3 modes accepted, 3 stale headers rejected");
        std::fs::remove_dir_all(&dir).ok();
    });
}
