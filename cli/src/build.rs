//! The compile job (`pyc-build [--target 3.X] PATH...`): each source becomes
//! `__pycache__/NAME.cpython-3X.pyc` beside it, as `compileall` writes them (timestamp pycs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pyc_assembler::pyc::{self, Invalidation, PycHeader};
use pyc_assembler::PythonVersion;
use pyc_compiler::{CompileError, CompileOptions, Diagnostic};

use crate::files::python_sources;

pub fn run(paths: &[PathBuf], target: PythonVersion) -> ExitCode {
    let options = CompileOptions {
        target,
        optimize: 0,
    };
    // Refuse up front when the target cannot be compiled for, before touching any file.
    if let Err(e @ CompileError::UnsupportedTarget(_)) =
        pyc_compiler::compile(b"", "<probe>", &options)
    {
        eprintln!("pyc-build: error: --target {target}: {e}");
        return ExitCode::from(2);
    }
    crate::panics::quiet_panics();
    let mut failed = 0;
    for source in python_sources(paths) {
        let result = match source {
            Ok(path) => compile_file(&path, &options),
            Err((path, e)) => Err(Failure::Plain(path, e.to_string())),
        };
        if let Err(failure) = result {
            failed += 1;
            failure.report();
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Why a file got no pyc.
enum Failure {
    /// The source is not valid Python for the target.
    Source(PathBuf, Vec<u8>, Diagnostic),
    /// Anything else: unreadable, a construct not compiled yet, a write that failed.
    Plain(PathBuf, String),
}

impl Failure {
    fn report(&self) {
        match self {
            Failure::Source(path, bytes, d) => report_diagnostic(path, bytes, d),
            Failure::Plain(path, message) => {
                eprintln!("{}: error: {message}", path.display())
            }
        }
    }
}

/// The pyc path of a source, as `importlib.util.cache_from_source` gives it (optimization 0).
pub fn cache_path(source: &Path, v: PythonVersion) -> PathBuf {
    let dir = source.parent().unwrap_or(Path::new(""));
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    dir.join("__pycache__")
        .join(format!("{stem}.cpython-3{}.pyc", v.minor()))
}

fn compile_file(path: &Path, options: &CompileOptions) -> Result<(), Failure> {
    let plain = |e: &dyn std::fmt::Display| Failure::Plain(path.to_path_buf(), e.to_string());
    let bytes = std::fs::read(path).map_err(|e| plain(&e))?;
    let metadata = std::fs::metadata(path).map_err(|e| plain(&e))?;
    let compiled = crate::panics::compile_caught(&bytes, &path.to_string_lossy(), options);
    let code = match compiled.map_err(|e| plain(&e))? {
        Ok(code) => code,
        Err(CompileError::Source(d)) => return Err(Failure::Source(path.to_path_buf(), bytes, d)),
        Err(e) => return Err(plain(&e)),
    };
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let header = PycHeader {
        version: options.target,
        // Both modulo 2**32, as importlib stores them.
        invalidation: Invalidation::Timestamp {
            mtime: mtime as u32,
            source_size: metadata.len() as u32,
        },
    };
    let target = cache_path(path, options.target);
    write_atomically(&target, &pyc::write_pyc(&header, &code), &metadata)
        .map_err(|e| Failure::Plain(path.to_path_buf(), format!("{}: {e}", target.display())))
}

/// Writes `data` to `target` through a temporary file in the same directory, so no reader
/// ever sees a partial pyc. The file gets the source's permission bits plus owner write,
/// as importlib gives its pycs.
fn write_atomically(target: &Path, data: &[u8], source: &std::fs::Metadata) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(data)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = (source.permissions().mode() | 0o200) & 0o666;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = source;
    file.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// Renders a syntax error with the source line and a caret, as `path:line:col` first.
fn report_diagnostic(path: &Path, bytes: &[u8], d: &Diagnostic) {
    use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor};

    let message = format!("{}: {}", d.kind.name(), d.message);
    eprintln!("{}:{}:{}: {message}", path.display(), d.line, d.column);
    let text = String::from_utf8_lossy(bytes);
    let Some(start) = byte_offset(&text, d.line, d.column) else {
        return;
    };
    let end = text[start..]
        .chars()
        .next()
        .filter(|c| *c != '\n')
        .map_or(start, |c| start + c.len_utf8());
    let file = SimpleFile::new(path.display().to_string(), &*text);
    let report = Report::error()
        .with_message(message)
        .with_labels(vec![Label::primary((), start..end)]);
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let mut stderr = termcolor::StandardStream::stderr(choice);
    let _ = term::emit_to_write_style(&mut stderr, &term::Config::default(), &file, &report);
}

/// The byte offset of 1-based `line` and `column` (in characters), when the text has it.
fn byte_offset(text: &str, line: u32, column: u32) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)?
    };
    if line == 0 || column == 0 {
        return None;
    }
    let rest = &text[line_start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let skip = column as usize - 1;
    let offset = rest[..line_len]
        .char_indices()
        .map(|(i, _)| i)
        .chain([line_len])
        .nth(skip)?;
    Some(line_start + offset)
}
