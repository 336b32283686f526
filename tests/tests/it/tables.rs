//! Decoded line, location and exception tables against what each interpreter reports for every
//! code object: `dis.findlinestarts`, `co_lines()` (3.10+), `co_positions()` (3.11+) and the
//! exception table as that version's `dis` parses it (3.11+).

use pyc_assembler::version::LineTableFormat;
use pyc_assembler::{exceptions, lines, marshal, CodeObject, PythonVersion};
use pyc_tests::{for_each_version, short, Figure};
use serde_json::{json, Value};

fn walk<'a>(code: &'a CodeObject, out: &mut Vec<&'a CodeObject>) {
    out.push(code);
    for c in code.nested_code() {
        walk(c, out);
    }
}

/// Our decoding of one code object, in the oracle's JSON shape.
fn ours(code: &CodeObject, v: PythonVersion) -> Result<Value, String> {
    let e = |e: lines::TableError| e.to_string();
    let mut entry = json!({
        "name": code.name.to_string_lossy(),
        "linestarts": lines::line_starts(code, v).map_err(e)?
            .into_iter().map(|(o, l)| json!([o, l])).collect::<Vec<_>>(),
    });
    if v.line_table_format() != LineTableFormat::Lnotab {
        entry["lines"] = lines::co_lines(code, v)
            .map_err(e)?
            .into_iter()
            .map(|r| json!([r.start, r.end, r.line]))
            .collect();
    }
    if v.line_table_format() == LineTableFormat::Locations {
        entry["positions"] = lines::co_positions(code, v)
            .map_err(e)?
            .into_iter()
            .map(|p| json!([p.lineno, p.end_lineno, p.col, p.end_col]))
            .collect();
    }
    if v.has_exception_table() {
        entry["exceptions"] = exceptions::parse_exception_table(&code.exceptiontable)
            .map_err(e)?
            .into_iter()
            .map(|x| json!([x.start, x.end, x.target, x.depth, x.lasti]))
            .collect();
    }
    Ok(entry)
}

#[test]
fn decoded_tables_equal_cpython() {
    for_each_version(|oracle| {
        let v = oracle.version;
        let mut fig = Figure::new("tables", v);
        for path in oracle.stdlib_corpus(20) {
            let Ok(blob) = oracle.compile(&path) else {
                continue;
            };
            let name = short(&path);
            let code = marshal::loads_code(&blob, v).expect("CPython's marshal loads");
            let mut all = Vec::new();
            walk(&code, &mut all);
            let reply = oracle.request(json!({"op": "tables", "path": path}));
            let theirs = reply["code_objects"].as_array().expect("code objects");
            assert_eq!(theirs.len(), all.len(), "{name}");
            for (co, expected) in all.into_iter().zip(theirs) {
                fig.record(match ours(co, v) {
                    Ok(got) if &got == expected => Ok(()),
                    Ok(got) => {
                        let field = ["linestarts", "lines", "positions", "exceptions"]
                            .into_iter()
                            .find(|f| got.get(f) != expected.get(f))
                            .unwrap_or("name");
                        Err(format!("{name}: {} {field}", co.qualname_or_name()))
                    }
                    Err(e) => Err(format!("{name}: {}: {e}", co.qualname_or_name())),
                });
            }
        }
        fig.check();
    });
}
