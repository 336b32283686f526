//! Times each pass of the compiler over a tree of sources, on one thread, with every file read
//! into memory first, so that the figures are the compiler's alone (no file system, no
//! threads): `cargo run --release -p pyc-compiler --example phases -- DIR [RUNS]`.
//!
//! Prints, for each pass, the best time over RUNS (default 3) runs and its share of the whole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyc_assembler::pyc::{write_pyc, Invalidation, PycHeader};
use pyc_assembler::PythonVersion;
use pyc_compiler::{checks, codegen, fold, parse, source, symtable};

/// The allocator the `pyc-build` binary uses, so that allocation costs what it costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PASSES: [&str; 7] = [
    "decode", "parse", "fold", "symtable", "checks", "codegen", "marshal",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() && !path.is_symlink() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(path);
        }
    }
}

/// One run over every file: the time each pass took, and how many files compiled.
fn run(files: &[(String, Vec<u8>)], v: PythonVersion) -> ([Duration; 7], usize) {
    let mut times = [Duration::ZERO; 7];
    let mut compiled = 0;
    let mut clock = Instant::now();
    let mut lap = |times: &mut [Duration; 7], i: usize| {
        let now = Instant::now();
        times[i] += now - clock;
        clock = now;
    };
    for (name, bytes) in files {
        let Ok(text) = source::decode(bytes, v) else {
            continue;
        };
        lap(&mut times, 0);
        let Ok(mut parsed) = parse::parse(&text, v) else {
            continue;
        };
        lap(&mut times, 1);
        let folded = fold::fold(&mut parsed.module, &text, v, 0);
        lap(&mut times, 2);
        let Ok(table) = symtable::build_with_lines(&parsed.module, &text, &parsed.lines, v) else {
            continue;
        };
        lap(&mut times, 3);
        if checks::check(&parsed.module, &table, &parsed.lines, v).is_err() {
            continue;
        }
        lap(&mut times, 4);
        let Ok(code) = codegen::compile_module(
            &parsed.module,
            &text,
            &parsed.lines,
            &table,
            &folded,
            name,
            v,
            0,
        ) else {
            continue;
        };
        lap(&mut times, 5);
        let header = PycHeader {
            version: v,
            invalidation: Invalidation::Timestamp {
                mtime: 0,
                source_size: bytes.len() as u32,
            },
        };
        std::hint::black_box(write_pyc(&header, &code));
        lap(&mut times, 6);
        drop((code, table, folded, parsed, text));
        compiled += 1;
    }
    (times, compiled)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: phases DIR [RUNS]"));
    let runs: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("RUNS is a number"));
    let v = PythonVersion::V3_11;
    let mut paths = Vec::new();
    sources(&dir, &mut paths);
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(p).ok()?)))
        .collect();
    // The passes recurse as deep as the source nests: run them on a large stack, as the
    // compile job's workers do.
    let stack = 256 << 20;
    let (best, compiled) = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            pyc_compiler::declare_stack(stack - (1 << 20));
            let mut best: Option<([Duration; 7], usize)> = None;
            for _ in 0..runs {
                let (times, n) = run(&files, v);
                let total: Duration = times.iter().sum();
                if best.as_ref().is_none_or(|(b, _)| total < b.iter().sum()) {
                    best = Some((times, n));
                }
            }
            best.expect("at least one run")
        })
        .expect("a thread starts")
        .join()
        .expect("no pass panics");
    let total: Duration = best.iter().sum();
    println!("{compiled} files, best of {runs} runs, one thread");
    for (name, t) in PASSES.iter().zip(best) {
        println!(
            "{name:>10} {:8.1} ms {:5.1}%",
            t.as_secs_f64() * 1e3,
            100.0 * t.as_secs_f64() / total.as_secs_f64()
        );
    }
    println!("{:>10} {:8.1} ms", "total", total.as_secs_f64() * 1e3);
}
