//! The compile job (`pyc-build [OPTIONS] PATH...`): `python -m compileall`'s command line on
//! top of [`pyc_build::tree`].
//!
//! Standard output carries `compileall`'s own transcript (`Listing 'dir'...`, `Compiling
//! 'x.py'...`, `*** ...` for failures) at the same quiet levels; standard error carries the
//! diagnostics (source line and caret, or JSON lines) and, on a terminal, a progress bar. The
//! exit status is `compileall`'s: 1 when any file failed, 2 for bad arguments.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pyc_build::paths::repr;
use pyc_build::tree::{self, BuildOptions, Event, Failure, InvalidationMode, Outcome};
use pyc_compiler::{CompileError, CompileOptions, Diagnostic};

use crate::{BuildArgs, ErrorFormat, InvalidationArg};

/// A usage error: reported as `pyc-build: error: ...`, exit status 2.
fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("pyc-build: error: {message}");
    ExitCode::from(2)
}

pub fn run(args: &BuildArgs, target: pyc_assembler::PythonVersion) -> ExitCode {
    let probe = CompileOptions {
        target,
        optimize: 0,
    };
    // Refuse up front when the target cannot be compiled for, before touching any file.
    if let Err(e @ CompileError::UnsupportedTarget(_)) =
        pyc_compiler::compile(b"", "<probe>", &probe)
    {
        return usage(format_args!("--target {target}: {e}"));
    }
    let options = match options(args, target) {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    let mut dests = args.paths.clone();
    if let Some(list) = &args.file_list {
        match read_list(list, args.null) {
            Ok(more) => dests.extend(more),
            Err(_) => {
                if args.quiet < 2 {
                    println!("Error reading file list {}", list.display());
                }
                return ExitCode::FAILURE;
            }
        }
    }
    if dests.is_empty() {
        return usage("no paths given (see `pyc-build --help`)");
    }
    pyc_build::panics::quiet_panics();
    let mut reporter = Reporter::new(args);
    let summary = tree::build(&dests, &options, |event| reporter.event(event));
    reporter.finish();
    if let Some(path) = &args.manifest {
        if let Err(e) = reporter.write_manifest(path) {
            eprintln!("pyc-build: error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The build options of the command line, checked as `compileall` checks them.
fn options(args: &BuildArgs, target: pyc_assembler::PythonVersion) -> Result<BuildOptions, String> {
    let mut o = BuildOptions::new(target);
    if args.ddir.is_some() && (args.stripdir.is_some() || args.prependdir.is_some()) {
        return Err("-d cannot be used in combination with -s or -p".into());
    }
    let levels = if args.opt_levels.is_empty() {
        vec![-1]
    } else {
        args.opt_levels.clone()
    };
    if args.hardlink_dupes && levels.len() == 1 {
        return Err(
            "Hardlinking of duplicated bytecode makes sense only for more than one \
                    optimization level."
                .into(),
        );
    }
    o.optimize = levels
        .iter()
        .map(|&l| match l {
            // -1 is the interpreter's own level; pyc-build is an interpreter without -O.
            -1 => Ok(0),
            0..=2 => Ok(l as u8),
            _ => Err(format!(
                "-o {l}: optimization levels are -1 (the default, as 0), 0, 1 and 2"
            )),
        })
        .collect::<Result<_, _>>()?;
    o.max_levels = args
        .recursion
        .unwrap_or(if args.no_recursion { 0 } else { 1000 });
    o.force = args.force;
    o.legacy = args.legacy;
    o.ddir = args.ddir.clone();
    o.stripdir = args.stripdir.clone();
    o.prependdir = args.prependdir.clone();
    o.exclude = args
        .exclude
        .as_deref()
        .map(fancy_regex::Regex::new)
        .transpose()
        .map_err(|e| format!("-x: {e}"))?;
    o.limit_symlinks = args
        .limit_symlinks
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    o.hardlink_dupes = args.hardlink_dupes;
    o.jobs = match args.jobs {
        Some(n) if n < 0 => return Err("-j: workers must be greater or equal to 0".into()),
        Some(n) => n as usize,
        None => 0,
    };
    if let Some(mode) = args.invalidation_mode {
        o.invalidation = match mode {
            InvalidationArg::Timestamp => InvalidationMode::Timestamp,
            InvalidationArg::CheckedHash => InvalidationMode::CheckedHash,
            InvalidationArg::UncheckedHash => InvalidationMode::UncheckedHash,
        };
    }
    o.pycache_prefix = args.pycache_prefix.clone();
    o.hash_outputs = args.manifest.is_some();
    Ok(o)
}

/// The paths listed in `-i FILE` (`-` for standard input): one a line, stripped of
/// surrounding whitespace as `compileall` strips them, or with `--null` separated by NUL
/// bytes and taken exactly.
fn read_list(list: &Path, null: bool) -> std::io::Result<Vec<PathBuf>> {
    let mut data = Vec::new();
    if list == Path::new("-") {
        std::io::stdin().read_to_end(&mut data)?;
    } else {
        data = std::fs::read(list)?;
    }
    let from = |b: &[u8]| pyc_build_path(b.to_vec());
    if null {
        return Ok(data
            .split(|&c| c == 0)
            .filter(|p| !p.is_empty())
            .map(from)
            .collect());
    }
    // Universal newlines, then `line.strip()`.
    let text: Vec<u8> = {
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < data.len() {
            if data[i] == b'\r' {
                out.push(b'\n');
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            } else {
                out.push(data[i]);
            }
            i += 1;
        }
        out
    };
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f);
    Ok(text
        .split_inclusive(|&c| c == b'\n')
        .map(|line| {
            let start = line.iter().position(|c| !space(c)).unwrap_or(line.len());
            let end = line
                .iter()
                .rposition(|c| !space(c))
                .map_or(start, |i| i + 1);
            from(&line[start..end.max(start)])
        })
        .collect())
}

fn pyc_build_path(b: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// One manifest entry.
struct Written {
    source: PathBuf,
    pyc: PathBuf,
    optimize: u8,
    written: bool,
    sha256: Option<[u8; 32]>,
}

/// Prints the events of a build and remembers the pycs for the manifest.
struct Reporter {
    quiet: u8,
    format: ErrorFormat,
    progress: Option<indicatif::ProgressBar>,
    manifest: Option<Vec<Written>>,
    stdout: std::io::StdoutLock<'static>,
}

impl Reporter {
    fn new(args: &BuildArgs) -> Reporter {
        let progress = (args.quiet < 2 && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files {elapsed} {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Reporter {
            quiet: args.quiet,
            format: args.error_format,
            progress,
            manifest: args.manifest.is_some().then(Vec::new),
            stdout: std::io::stdout().lock(),
        }
    }

    /// Runs `f` with the progress bar out of the way.
    fn print(&mut self, f: impl FnOnce(&mut Self)) {
        match self.progress.clone() {
            Some(bar) => bar.suspend(|| f(self)),
            None => f(self),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Planned(n) => {
                if let Some(bar) = &self.progress {
                    bar.set_length(n as u64);
                }
            }
            Event::Listing(dir) => {
                if self.quiet == 0 {
                    self.print(|r| {
                        let _ = writeln!(r.stdout, "Listing {}...", repr(dir));
                    });
                }
            }
            Event::CantList(dir, _) => {
                if self.quiet < 2 {
                    self.print(|r| {
                        let _ = writeln!(r.stdout, "Can't list {}", repr(dir));
                    });
                }
            }
            Event::File(report) => {
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                }
                let path = &report.path;
                match &report.outcome {
                    Outcome::Ignored => {}
                    Outcome::UpToDate(pycs) => self.record(path, pycs),
                    Outcome::Compiled(pycs) => {
                        if self.quiet == 0 {
                            self.print(|r| {
                                let _ = writeln!(r.stdout, "Compiling {}...", repr(path));
                            });
                        }
                        self.record(path, pycs);
                    }
                    Outcome::Failed(failure) => {
                        if self.quiet < 2 {
                            self.print(|r| r.failure(path, failure));
                        }
                    }
                }
            }
        }
    }

    fn record(&mut self, source: &Path, pycs: &[tree::Pyc]) {
        if let Some(manifest) = &mut self.manifest {
            manifest.extend(pycs.iter().map(|p| Written {
                source: source.to_path_buf(),
                pyc: p.path.clone(),
                optimize: p.optimize,
                written: p.written,
                sha256: p.sha256,
            }));
        }
    }

    /// A failed file: `compileall`'s lines on standard output, the diagnostic on standard
    /// error.
    fn failure(&mut self, path: &Path, failure: &Failure) {
        let out = &mut self.stdout;
        if self.quiet == 0 {
            let _ = writeln!(out, "Compiling {}...", repr(path));
            let _ = write!(out, "*** ");
        } else {
            let _ = writeln!(out, "*** Error compiling {}...", repr(path));
        }
        match failure {
            Failure::Source {
                source,
                filename,
                diagnostic,
            } => {
                // py_compile's message: the traceback of the SyntaxError.
                let _ = writeln!(out, "{}", format_syntax_error(source, filename, diagnostic));
            }
            _ => {
                let _ = writeln!(out, "{}: {failure}", failure.exception_name());
            }
        }
        let _ = out.flush();
        match self.format {
            ErrorFormat::Json => json_error(path, failure),
            ErrorFormat::Human => match failure {
                Failure::Source {
                    source, diagnostic, ..
                } => report_diagnostic(path, source, diagnostic),
                Failure::Unsupported { what, line, column } => eprintln!(
                    "{}:{line}:{}: error: unsupported: pyc-build cannot compile this {what} \
                     yet; no pyc written",
                    path.display(),
                    column + 1
                ),
                _ => eprintln!(
                    "{}: error: {}: {failure}",
                    path.display(),
                    failure.exception_name()
                ),
            },
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
        let _ = self.stdout.flush();
    }

    /// The manifest: a JSON list of the pycs, sorted by path, so that it does not depend on
    /// the order of the work.
    fn write_manifest(&mut self, path: &Path) -> std::io::Result<()> {
        let mut entries = self.manifest.take().unwrap_or_default();
        entries.sort_by(|a, b| a.pyc.cmp(&b.pyc));
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "source": e.source.to_string_lossy(),
                    "pyc": e.pyc.to_string_lossy(),
                    "optimize": e.optimize,
                    "written": e.written,
                    "sha256": e.sha256.map(hex),
                })
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?;
        text.push('\n');
        pyc_build::write::write_atomic(path, text.as_bytes(), 0o666)
    }
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One failure as a JSON line on standard error.
fn json_error(path: &Path, failure: &Failure) {
    let mut value = serde_json::json!({
        "path": path.to_string_lossy(),
        "exception": failure.exception_name(),
        "message": failure.to_string(),
    });
    match failure {
        Failure::Source { diagnostic: d, .. } => {
            value["message"] = d.message.clone().into();
            value["line"] = d.line.into();
            value["column"] = d.column.into();
            if let Some((line, column)) = d.end {
                value["end_line"] = line.into();
                value["end_column"] = column.into();
            }
        }
        Failure::Unsupported { what, line, column } => {
            value["unsupported"] = what.clone().into();
            value["line"] = (*line).into();
            value["column"] = (column + 1).into();
        }
        _ => {}
    }
    eprintln!("{value}");
}

/// The text of line `line` (1-based) of `source`, decoded leniently.
fn source_line(source: &[u8], line: u32) -> Option<String> {
    let text = String::from_utf8_lossy(source);
    let l = text
        .split_inclusive('\n')
        .nth((line as usize).checked_sub(1)?)?;
    Some(l.to_string())
}

/// `traceback.format_exception_only` of a SyntaxError, as `py_compile` words a failure.
fn format_syntax_error(source: &[u8], filename: &str, d: &Diagnostic) -> String {
    let mut out = String::new();
    let mut suffix = String::new();
    if d.line > 0 {
        out.push_str(&format!("  File \"{filename}\", line {}\n", d.line));
    } else {
        suffix = format!(" ({filename})");
    }
    if let Some(text) = source_line(source, d.line) {
        let rtext = text.trim_end_matches('\n');
        let ltext = rtext.trim_start_matches([' ', '\n', '\x0c']);
        let spaces = rtext.chars().count() - ltext.chars().count();
        out.push_str(&format!("    {ltext}\n"));
        if d.column > 0 {
            let offset = d.column as i64;
            let end = d.end.map_or(0, |(_, c)| c as i64);
            let mut end = if end == 0 { offset } else { end };
            if end == offset || end == -1 {
                end = offset + 1;
            }
            let colno = offset - 1 - spaces as i64;
            let end_colno = end - 1 - spaces as i64;
            if colno >= 0 {
                let caretspace: String = ltext
                    .chars()
                    .take(colno as usize)
                    .map(|c| if c.is_whitespace() { c } else { ' ' })
                    .collect();
                let carets = "^".repeat((end_colno - colno).max(0) as usize);
                out.push_str(&format!("    {caretspace}{carets}\n"));
            }
        }
    }
    out.push_str(&format!("{}: {}{suffix}\n", d.kind.name(), d.message));
    out
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
    let end = d
        .end
        .filter(|&(line, _)| line == d.line)
        .and_then(|(line, column)| byte_offset(&text, line, column))
        .filter(|&end| end > start)
        .unwrap_or_else(|| {
            text[start..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(start, |c| start + c.len_utf8())
        });
    let file = SimpleFile::new(path.display().to_string(), &*text);
    let report = Report::error()
        .with_message(message)
        .with_labels(vec![Label::primary((), start..end)]);
    let choice = if std::io::stderr().is_terminal() {
        termcolor::ColorChoice::Auto
    } else {
        termcolor::ColorChoice::Never
    };
    let mut stderr = termcolor::StandardStream::stderr(choice);
    let _ = term::emit_to_write_style(&mut stderr, &term::Config::default(), &file, &report);
}

/// The byte offset of 1-based `line` and `column` (in characters), when the text has it.
fn byte_offset(text: &str, line: u32, column: u32) -> Option<usize> {
    if line == 0 || column == 0 {
        return None;
    }
    let line_start = if line == 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line as usize - 2)
            .map(|(i, _)| i + 1)?
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use pyc_compiler::ErrorKind;

    #[test]
    fn syntax_errors_are_worded_as_traceback_words_them() {
        let d = Diagnostic::new(ErrorKind::SyntaxError, "invalid syntax", 2, 7);
        assert_eq!(
            format_syntax_error(b"x = 1\n  def f(:\n", "a/b.py", &d),
            "  File \"a/b.py\", line 2\n    def f(:\n        ^\nSyntaxError: invalid syntax\n"
        );
        let d = Diagnostic::new(ErrorKind::SyntaxError, "bad", 0, 0);
        assert_eq!(
            format_syntax_error(b"", "x.py", &d),
            "SyntaxError: bad (x.py)\n"
        );
    }
}
