//! `--compare 3.8,3.11,3.13`: one code object's `dis` listing for several targets side by
//! side. A target pyc-build compiles for shows our output; for the others, the output of that
//! version's own CPython stands in, labelled as such, until its code generation lands.

use std::path::PathBuf;
use std::process::Command;

use pyc_assembler::{dis, marshal, CodeObject, PythonVersion};
use serde_json::{json, Value};

use super::{ExplainError, Input};

/// Compiles the file with CPython `python` and loads the module code object it marshals.
fn cpython_code(python: &PathBuf, input: &Input) -> Result<CodeObject, String> {
    const SCRIPT: &str = "import marshal, sys\n\
        src = open(sys.argv[1], 'rb').read()\n\
        sys.stdout.buffer.write(marshal.dumps(compile(src, sys.argv[1], 'exec', dont_inherit=True)))\n";
    let out = Command::new(python)
        .args(["-I", "-B", "-c", SCRIPT])
        .arg(input.path)
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("failed").to_string();
        return Err(last);
    }
    marshal::loads_code(&out.stdout, input.target).map_err(|e| e.to_string())
}

pub(super) fn build(
    input: &Input,
    targets: &[PythonVersion],
    function: Option<&str>,
    find_python: &dyn Fn(PythonVersion) -> Result<PathBuf, String>,
) -> Result<Value, ExplainError> {
    let mut columns = Vec::new();
    for &v in targets {
        let at = Input {
            path: input.path,
            source: input.source,
            target: v,
        };
        let (code, origin, label) = if v.has_codegen() {
            match at.compile() {
                Ok((code, _)) => (Ok(code), "pyc-build", format!("{v}: pyc-build")),
                Err(e) => (Err(e.to_string()), "pyc-build", format!("{v}: pyc-build")),
            }
        } else {
            match find_python(v) {
                Ok(python) => (
                    cpython_code(&python, &at),
                    "cpython",
                    format!("{v}: CPython's own output (pyc-build cannot compile for {v} yet)"),
                ),
                Err(e) => (
                    Err(e.clone()),
                    "unavailable",
                    format!("{v}: no code generation, and {e}"),
                ),
            }
        };
        let listing: Result<Vec<String>, String> = code.and_then(|code| {
            let all = super::passes::named(&code);
            let want = function.unwrap_or("<module>");
            let (_, c) = all
                .into_iter()
                .find(|(q, _)| q == want)
                .ok_or_else(|| format!("no code object named {want:?}"))?;
            let text = dis::disassemble(c, v).map_err(|e| e.to_string())?;
            Ok(text.lines().map(str::to_string).collect())
        });
        columns.push(match listing {
            Ok(lines) => json!({"target": v.to_string(), "origin": origin, "label": label,
                                "listing": lines, "error": null}),
            Err(e) => json!({"target": v.to_string(), "origin": origin, "label": label,
                             "listing": [], "error": e}),
        });
    }
    Ok(json!({
        "schema": super::SCHEMA,
        "file": input.filename(),
        "pass": "compare",
        "function": function.unwrap_or("<module>"),
        "columns": columns,
    }))
}

/// The columns side by side, each as wide as its longest line.
pub(super) fn text(value: &Value) -> String {
    let cols: Vec<(String, Vec<String>)> = value["columns"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|c| {
            let mut lines: Vec<String> = c["listing"]
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|l| l.as_str().unwrap_or("").to_string())
                .collect();
            if let Some(e) = c["error"].as_str() {
                lines.push(format!("error: {e}"));
            }
            (c["label"].as_str().unwrap_or("").to_string(), lines)
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .map(|(h, l)| {
            l.iter()
                .map(|x| x.chars().count())
                .chain([h.chars().count().min(60)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rows = cols.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join(" | ").trim_end());
        out.push('\n');
    };
    line(cols.iter().map(|(h, _)| h.as_str()).collect());
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    line(rule.iter().map(String::as_str).collect());
    for r in 0..rows {
        line(
            cols.iter()
                .map(|(_, l)| l.get(r).map_or("", String::as_str))
                .collect(),
        );
    }
    out
}
