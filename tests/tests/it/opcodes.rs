//! The checked-in opcode tables must match what `tools/gen_opcodes.py` extracts from the real
//! interpreters today.

use std::path::Path;
use std::process::Command;

use pyc_assembler::PythonVersion;

/// The exit code of `gen_opcodes.py` when an interpreter is missing.
const EXIT_MISSING: i32 = 3;

fn oracles_required() -> bool {
    std::env::var("PYC_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

#[test]
fn generated_opcode_tables_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Installs the Pyodide interpreters (once per process) before the script looks for them.
    for v in PythonVersion::ALL {
        if let Err(why) = pyc_tests::find_runner(v) {
            eprintln!("{v}: {why}");
        }
    }
    let output = match Command::new("python3")
        .arg(root.join("tools").join("gen_opcodes.py"))
        .arg("--check")
        .current_dir(&root)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            assert!(!oracles_required(), "cannot run python3: {e}");
            eprintln!("skipped: cannot run python3: {e}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(EXIT_MISSING) {
        assert!(!oracles_required(), "interpreter missing: {stderr}");
        eprintln!("skipped: {stderr}");
        return;
    }
    assert!(
        output.status.success(),
        "tools/gen_opcodes.py --check failed ({}):\n{stderr}",
        output.status
    );
}
