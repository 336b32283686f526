//! The `pyc-build` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pyc_assembler::{pyc, PythonVersion};

/// The compiler allocates many small short-lived objects on several threads at once;
/// mimalloc serves that faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod build;
mod check;
mod files;
use pyc_build::panics;

/// Compile Python sources to .pyc files without running an interpreter, and read pycs back.
#[derive(Parser, Debug)]
#[command(name = "pyc-build", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    build: BuildArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Disassemble pyc files as the dis module of their Python version prints them.
    Dis(DisArgs),
    /// Show what a compiler pass makes of a source file.
    Explain(ExplainArgs),
    /// Assemble a textual bytecode file (docs/asm.md) into a pyc.
    Asm(AsmArgs),
    /// Compile sources with pyc-build and with the real CPython, and show where they differ.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Source files and directories (every `.py` file beneath, recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,

    /// The CPython version to compile for (default: the version of `--python`, else of
    /// `python3` on PATH).
    #[arg(long, value_name = "3.X")]
    target: Option<PythonVersion>,

    /// The interpreter to compare with (default: $PYC_PYTHON_3_X, else pyenv's newest 3.X,
    /// else python3.X or python3 on PATH).
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,

    /// Files checked in parallel, each job with its own CPython worker (default: the number of
    /// CPUs).
    #[arg(long, short, value_name = "N")]
    jobs: Option<usize>,

    /// Optimization level of both compilations, as `-O` (1) and `-OO` (2) set it.
    #[arg(long, short = 'O', value_name = "LEVEL", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    optimize: u8,
}

#[derive(Args, Debug)]
struct AsmArgs {
    /// The assembly file.
    file: PathBuf,

    /// Where to write the pyc (default: FILE with the extension `.pyc`).
    #[arg(long, short)]
    output: Option<PathBuf>,

    /// The CPython version to assemble for, when the file has no `.version` line
    /// (default: the version of `python3` on PATH).
    #[arg(long, value_name = "3.X")]
    target: Option<PythonVersion>,
}

/// Compiling sources (the default action when no subcommand is given): `compileall`'s
/// command line, and more.
#[derive(Args, Debug)]
pub(crate) struct BuildArgs {
    /// Files and directories to compile (write `./check` for a path named like a subcommand).
    #[arg(value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,

    /// The CPython version to compile for (default: the version of `python3` on PATH).
    #[arg(long, value_name = "3.X")]
    pub target: Option<PythonVersion>,

    /// Don't recurse into subdirectories.
    #[arg(short = 'l')]
    pub no_recursion: bool,

    /// The maximum recursion level (takes precedence over -l).
    #[arg(short = 'r', value_name = "N", allow_negative_numbers = true)]
    pub recursion: Option<i64>,

    /// Rewrite pycs even when they are up to date.
    #[arg(short = 'f')]
    pub force: bool,

    /// Print only errors; -qq prints nothing.
    #[arg(short = 'q', action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// Write legacy pyc locations (NAME.pyc beside NAME.py) instead of __pycache__.
    #[arg(short = 'b')]
    pub legacy: bool,

    /// The directory compiled into the pycs in place of the sources' (for tracebacks).
    #[arg(short = 'd', value_name = "DESTDIR")]
    pub ddir: Option<PathBuf>,

    /// The leading part removed from each source path compiled into the pycs.
    #[arg(short = 's', value_name = "STRIPDIR")]
    pub stripdir: Option<PathBuf>,

    /// The directory put in front of each source path compiled into the pycs (after -s).
    #[arg(short = 'p', value_name = "PREPENDDIR")]
    pub prependdir: Option<PathBuf>,

    /// Skip files whose path this regular expression matches (searched for, Python syntax).
    #[arg(short = 'x', value_name = "REGEXP")]
    pub exclude: Option<String>,

    /// Also compile the files and directories listed in FILE, one a line ("-": standard input).
    #[arg(short = 'i', value_name = "FILE")]
    pub file_list: Option<PathBuf>,

    /// The -i list is separated by NUL bytes (paths taken exactly, without stripping).
    #[arg(short = '0', long = "null")]
    pub null: bool,

    /// Files compiled at once; 0 means one per CPU (default).
    #[arg(
        short = 'j',
        long = "workers",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub jobs: Option<i64>,

    /// How importlib validates the pycs (default: checked-hash when SOURCE_DATE_EPOCH is
    /// set, else timestamp).
    #[arg(long, value_enum, value_name = "MODE")]
    pub invalidation_mode: Option<InvalidationArg>,

    /// An optimization level (-1, the default, is 0); repeat for one pyc per level.
    #[arg(short = 'o', value_name = "LEVEL", allow_negative_numbers = true)]
    pub opt_levels: Vec<i64>,

    /// Skip symbolic links to files outside DIR.
    #[arg(short = 'e', value_name = "DIR")]
    pub limit_symlinks: Option<PathBuf>,

    /// Make a pyc equal to the previous optimization level's a hard link to it.
    #[arg(long)]
    pub hardlink_dupes: bool,

    /// Write the pycs under DIR, as Python's PYTHONPYCACHEPREFIX places them.
    #[arg(long, value_name = "DIR")]
    pub pycache_prefix: Option<PathBuf>,

    /// Write a JSON list of every pyc (written or up to date) with its source and SHA-256.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// How errors are shown on standard error: with the source line and a caret, or as JSON
    /// lines.
    #[arg(long, value_enum, default_value = "human")]
    pub error_format: ErrorFormat,
}

/// `--invalidation-mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum InvalidationArg {
    Timestamp,
    CheckedHash,
    UncheckedHash,
}

/// `--error-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorFormat {
    Human,
    Json,
}

#[derive(Args, Debug)]
struct DisArgs {
    /// The pyc files to read; the version comes from each file's magic number.
    #[arg(required = true)]
    files: Vec<PathBuf>,

    /// Print the fields of every code object as `dis.show_code` does, instead of the listing.
    #[arg(long, conflicts_with = "asm")]
    show_code: bool,

    /// Print the textual assembly format (docs/asm.md), which `pyc-build asm` reads back.
    #[arg(long)]
    asm: bool,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    /// The source file.
    file: PathBuf,

    /// The pass to show: tokens, ast, fold (after constant folding), symtable, codegen
    /// (instructions with pseudo-instructions, before optimisation), cfg (basic blocks after
    /// optimisation), stack (depth before and after each instruction), lines (the location
    /// table next to the source), exceptions (the exception table), marshal (the pyc, annotated).
    #[arg(long = "pass", default_value = "symtable")]
    pass: pyc_build::explain::Pass,

    /// The CPython version whose rules apply (default: the version of `python3` on PATH).
    #[arg(long, value_name = "3.X")]
    target: Option<PythonVersion>,

    /// Show only the code object with this qualified name (`co_qualname`, e.g. `C.f.<locals>.g`).
    #[arg(long, value_name = "QUALNAME")]
    function: Option<String>,

    /// Output format: text, json (docs/explain-json.md) or dot (Graphviz, cfg pass only).
    #[arg(long, value_enum, default_value = "text")]
    format: ExplainFormat,

    /// Write one self-contained HTML page (source and bytecode linked, with flow graphs) here.
    #[arg(long, value_name = "OUT.html", conflicts_with_all = ["compare"])]
    html: Option<PathBuf>,

    /// Show the code object compiled for several targets side by side (e.g. 3.8,3.11,3.13);
    /// targets pyc-build cannot compile for yet show that CPython's own output, labelled.
    #[arg(long, value_name = "3.X,...", value_delimiter = ',')]
    compare: Vec<PythonVersion>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ExplainFormat {
    Text,
    Json,
    Dot,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Dis(args)) => dis(&args),
        Some(Command::Explain(args)) => explain(&args),
        Some(Command::Asm(args)) => asm(&args),
        Some(Command::Check(args)) => check::run(&check::CheckOptions {
            paths: &args.paths,
            target: args.target,
            python: args.python.as_deref(),
            jobs: args.jobs,
            optimize: args.optimize,
        }),
        None => build(&cli.build),
    }
}

fn dis(args: &DisArgs) -> ExitCode {
    let mut failed = false;
    let many = args.files.len() > 1;
    for (i, path) in args.files.iter().enumerate() {
        let result = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|data| pyc::read_pyc(&data).map_err(|e| e.to_string()));
        match result {
            Ok((header, code)) => {
                if many {
                    if i > 0 {
                        println!();
                    }
                    println!("==> {} <==", path.display());
                }
                let v = header.version;
                let text = if args.asm {
                    pyc_assembler::asm::to_asm(&code, v)
                } else if args.show_code {
                    let mut all = Vec::new();
                    collect_code(&code, &mut all);
                    all.iter()
                        .map(|c| pyc_assembler::dis::show_code(c, v))
                        .collect::<String>()
                } else {
                    match pyc_assembler::dis::dis_module(&code, v) {
                        Ok(text) => text,
                        Err(e) => {
                            eprintln!("pyc-build: error: {}: {e}", path.display());
                            failed = true;
                            continue;
                        }
                    }
                };
                print!("{text}");
            }
            Err(e) => {
                eprintln!("pyc-build: error: {}: {e}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Every code object, depth first in `co_consts` order.
fn collect_code<'a>(
    code: &'a pyc_assembler::CodeObject,
    out: &mut Vec<&'a pyc_assembler::CodeObject>,
) {
    out.push(code);
    for c in code.nested_code() {
        collect_code(c, out);
    }
}

fn asm(args: &AsmArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pyc-build: error: {}: {e}", args.file.display());
            return ExitCode::FAILURE;
        }
    };
    let default = args.target.or_else(|| default_target().ok());
    let (version, code) = match pyc_assembler::asm::parse_and_assemble(&text, default) {
        Ok(r) => r,
        Err(errors) => {
            report_asm_errors(&args.file, &text, &errors);
            return ExitCode::FAILURE;
        }
    };
    if let Some(t) = args.target.filter(|&t| t != version) {
        eprintln!(
            "pyc-build: error: {}: the file is for Python {version} (its .version line) but \
             --target {t} was given",
            args.file.display()
        );
        return ExitCode::FAILURE;
    }
    let header = pyc::PycHeader {
        version,
        invalidation: pyc::Invalidation::UncheckedHash(pyc::source_hash(version, text.as_bytes())),
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.file.with_extension("pyc"));
    if let Err(e) = std::fs::write(&output, pyc::write_pyc(&header, &code)) {
        eprintln!("pyc-build: error: {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Renders assembly errors with the source line, a caret and the hint.
fn report_asm_errors(path: &std::path::Path, text: &str, errors: &[pyc_assembler::asm::AsmError]) {
    use codespan_reporting::diagnostic::{Diagnostic, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor};

    let file = SimpleFile::new(path.display().to_string(), text);
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let mut stderr = termcolor::StandardStream::stderr(choice);
    let config = term::Config::default();
    for e in errors {
        let start = e.start.min(text.len());
        let end = e.end.clamp(start, text.len());
        let mut diagnostic = Diagnostic::error()
            .with_message(&e.message)
            .with_labels(vec![Label::primary((), start..end)]);
        if let Some(hint) = &e.hint {
            diagnostic = diagnostic.with_notes(vec![format!("hint: {hint}")]);
        }
        if term::emit_to_write_style(&mut stderr, &config, &file, &diagnostic).is_err() {
            let (line, col) = e.line_col(text);
            eprintln!("{}:{line}:{col}: error: {e}", path.display());
        }
    }
}

fn explain(args: &ExplainArgs) -> ExitCode {
    use pyc_build::explain::{self as ex, ExplainError, Format};
    let source = match std::fs::read(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pyc-build: error: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let target = match args.target.map_or_else(default_target, Ok) {
        Ok(t) => t,
        Err(e) if args.compare.is_empty() => {
            eprintln!("pyc-build: error: {e}");
            return ExitCode::from(2);
        }
        Err(_) => PythonVersion::V3_11,
    };
    let input = ex::Input {
        path: &args.file,
        source: &source,
        target,
    };
    let format = match args.format {
        ExplainFormat::Text => Format::Text,
        ExplainFormat::Json => Format::Json,
        ExplainFormat::Dot => Format::Dot,
    };
    let function = args.function.as_deref();
    let result = if let Some(out) = &args.html {
        ex::render_html(&input).and_then(|page| {
            std::fs::write(out, page)
                .map(|()| String::new())
                .map_err(|e| ExplainError::Usage(format!("{}: {e}", out.display())))
        })
    } else if !args.compare.is_empty() {
        ex::render_compare(
            &input,
            &args.compare,
            function,
            format,
            &check::find_interpreter,
        )
    } else {
        ex::render(&input, args.pass, function, format)
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "pyc-build: {}{e}",
                if matches!(e, ExplainError::Usage(_)) {
                    "error: "
                } else {
                    ""
                }
            );
            ExitCode::from(match e {
                ExplainError::Source(_) => 1,
                ExplainError::Usage(_) => 2,
                ExplainError::Unsupported(_) => 3,
            })
        }
    }
}

fn build(args: &BuildArgs) -> ExitCode {
    match args.target.map_or_else(default_target, Ok) {
        Ok(target) => build::run(args, target),
        Err(e) => {
            eprintln!("pyc-build: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The version of `python3` on PATH, the default target.
pub(crate) fn default_target() -> Result<PythonVersion, String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .map_err(|e| format!("no --target given and python3 could not be run to pick one: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .map_err(|e| format!("no --target given and python3 on PATH is not usable: {e}"))
}
