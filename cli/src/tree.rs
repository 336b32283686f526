//! Building a tree of Python sources into pycs, as `python -m compileall` does: the same files
//! walked in the same order, compiled to the same paths with the same names inside, and
//! written atomically; files are compiled in parallel, results reported in walk order.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use fancy_regex::Regex;
use pyc_assembler::pyc::{self, Invalidation, PycHeader, HEADER_LEN};
use pyc_assembler::PythonVersion;
use pyc_compiler::{CompileError, CompileOptions, Diagnostic};
use rayon::prelude::*;

use crate::paths;
use crate::write;

/// How a pyc is validated on import (PEP 552), `py_compile.PycInvalidationMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidationMode {
    /// The source's modification time and size.
    Timestamp,
    /// A hash of the source, checked on import.
    CheckedHash,
    /// A hash of the source, not checked on import.
    UncheckedHash,
}

impl InvalidationMode {
    /// `py_compile`'s default: checked-hash when `SOURCE_DATE_EPOCH` is set and not empty
    /// (reproducible builds), else timestamp.
    pub fn from_env() -> InvalidationMode {
        match std::env::var_os("SOURCE_DATE_EPOCH") {
            Some(v) if !v.is_empty() => InvalidationMode::CheckedHash,
            _ => InvalidationMode::Timestamp,
        }
    }
}

/// What to build and how; the fields are `compileall`'s options.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The CPython version the pycs are for.
    pub target: PythonVersion,
    /// Optimization levels (0, 1, 2): one pyc per level (`-o`).
    pub optimize: Vec<u8>,
    /// The pyc invalidation mode (`--invalidation-mode`).
    pub invalidation: InvalidationMode,
    /// Rewrite pycs even when they are up to date (`-f`).
    pub force: bool,
    /// Write `NAME.pyc` beside the source instead of under `__pycache__` (`-b`).
    pub legacy: bool,
    /// Write pycs under this directory, as `sys.pycache_prefix` places them.
    pub pycache_prefix: Option<PathBuf>,
    /// The directory compiled into the pycs in place of each file's own (`-d`).
    pub ddir: Option<PathBuf>,
    /// The leading part removed from each path compiled into the pycs (`-s`).
    pub stripdir: Option<PathBuf>,
    /// The directory put in front of each path compiled into the pycs (`-p`).
    pub prependdir: Option<PathBuf>,
    /// Files whose path this matches (a Python-style regular expression searched for in the
    /// path) are skipped (`-x`).
    pub exclude: Option<Regex>,
    /// Symbolic links to files outside this directory are skipped (`-e`).
    pub limit_symlinks: Option<PathBuf>,
    /// A pyc equal to the previous level's becomes a hard link to it (`--hardlink-dupes`).
    pub hardlink_dupes: bool,
    /// How many directory levels below each given directory are walked (`-r`; `-l` is 0).
    pub max_levels: i64,
    /// Files compiled at once; 0 means one per CPU (`-j`).
    pub jobs: usize,
    /// Compute the SHA-256 of each pyc (for a manifest).
    pub hash_outputs: bool,
}

impl BuildOptions {
    /// `compileall`'s defaults for `target`: optimization 0, the invalidation mode of the
    /// environment, recursion up to 1000 levels (Python's recursion limit), all CPUs.
    pub fn new(target: PythonVersion) -> BuildOptions {
        BuildOptions {
            target,
            optimize: vec![0],
            invalidation: InvalidationMode::from_env(),
            force: false,
            legacy: false,
            pycache_prefix: None,
            ddir: None,
            stripdir: None,
            prependdir: None,
            exclude: None,
            limit_symlinks: None,
            hardlink_dupes: false,
            max_levels: 1000,
            jobs: 0,
            hash_outputs: false,
        }
    }
}

/// One step of the walk over the given paths, in `compileall`'s order.
#[derive(Debug)]
pub enum WalkEntry {
    /// A directory about to be listed (`Listing 'dir'...`).
    Listing(PathBuf),
    /// A directory that could not be listed (`Can't list 'dir'`); it adds no files.
    CantList(PathBuf, io::Error),
    /// A file to consider, and the given directory it was found under (`None` when it was
    /// given itself).
    File {
        path: PathBuf,
        root: Option<PathBuf>,
    },
}

/// Expands the given paths as `compileall`'s command line does: a path that is a file (or a
/// link to one) is taken as given; anything else is walked as a directory: its entries
/// sorted, `__pycache__` skipped, every non-directory yielded, and subdirectories (not
/// symbolic links to them) entered up to `max_levels` deep.
pub fn walk(dests: &[PathBuf], max_levels: i64) -> Vec<WalkEntry> {
    let mut out = Vec::new();
    for dest in dests {
        if fs::metadata(dest).is_ok_and(|m| m.is_file()) {
            out.push(WalkEntry::File {
                path: dest.clone(),
                root: None,
            });
        } else {
            walk_dir(dest, dest, max_levels, &mut out);
        }
    }
    out
}

fn walk_dir(dir: &Path, root: &Path, levels: i64, out: &mut Vec<WalkEntry>) {
    out.push(WalkEntry::Listing(dir.to_path_buf()));
    let mut names: Vec<_> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect(),
        Err(e) => return out.push(WalkEntry::CantList(dir.to_path_buf(), e)),
    };
    names.sort_by_cached_key(|n| paths::bytes(n));
    for name in names {
        if name == "__pycache__" {
            continue;
        }
        let full = paths::join(dir, Path::new(&name));
        if !fs::metadata(&full).is_ok_and(|m| m.is_dir()) {
            out.push(WalkEntry::File {
                path: full,
                root: Some(root.to_path_buf()),
            });
        } else if levels > 0
            && name != "."
            && name != ".."
            && !fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink())
        {
            walk_dir(&full, root, levels - 1, out);
        }
    }
}

/// A pyc that the build wrote or found up to date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pyc {
    /// Where it is.
    pub path: PathBuf,
    /// Its optimization level.
    pub optimize: u8,
    /// Whether this build wrote it (false: it was up to date).
    pub written: bool,
    /// SHA-256 of its bytes, when [`BuildOptions::hash_outputs`] asked for it.
    pub sha256: Option<[u8; 32]>,
}

/// Why a file got no pyc. Its old pycs, if any, are left as they were.
#[derive(Debug)]
pub enum Failure {
    /// Reading the source or writing a pyc failed, or the pyc path is a symbolic link or not a
    /// regular file (refused as `py_compile` refuses it). `named` tells whether Python's
    /// `OSError` names the file (opening does, reading an open file does not).
    Io {
        path: PathBuf,
        error: io::Error,
        named: bool,
    },
    /// The source is not valid Python: the error CPython's `compile()` raises. `filename` is
    /// the name compiled into the pyc.
    Source {
        source: Vec<u8>,
        filename: String,
        diagnostic: Diagnostic,
    },
    /// The source uses a construct pyc-build cannot compile yet (1-based line, 0-based byte
    /// column).
    Unsupported {
        what: String,
        line: u32,
        column: u32,
    },
    /// A bug in pyc-build.
    Internal(String),
}

impl Failure {
    /// The Python exception `compileall` would print for this failure.
    pub fn exception_name(&self) -> &'static str {
        match self {
            Failure::Io { error, .. } => os_error_name(error),
            Failure::Source { diagnostic, .. } => diagnostic.kind.name(),
            Failure::Unsupported { .. } => "NotImplementedError",
            Failure::Internal(_) => "SystemError",
        }
    }
}

/// The `OSError` subclass Python raises for an I/O error.
fn os_error_name(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound => "FileNotFoundError",
        io::ErrorKind::PermissionDenied => "PermissionError",
        io::ErrorKind::AlreadyExists => "FileExistsError",
        io::ErrorKind::IsADirectory => "IsADirectoryError",
        io::ErrorKind::NotADirectory => "NotADirectoryError",
        _ => "OSError",
    }
}

impl fmt::Display for Failure {
    /// As Python's `str()` of the exception (`[Errno 13] Permission denied: 'x.py'`,
    /// `invalid syntax (x.py, line 2)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io { path, error, named } => match error.raw_os_error() {
                Some(n) => {
                    let text = error.to_string();
                    let text = text
                        .strip_suffix(&format!(" (os error {n})"))
                        .unwrap_or(&text);
                    write!(f, "[Errno {n}] {text}")?;
                    if *named {
                        write!(f, ": {}", paths::repr(path))?;
                    }
                    Ok(())
                }
                None => error.fmt(f),
            },
            Failure::Source {
                filename,
                diagnostic,
                ..
            } => {
                let name = Path::new(filename)
                    .file_name()
                    .map_or_else(|| filename.clone(), |n| n.to_string_lossy().into_owned());
                write!(
                    f,
                    "{} ({name}, line {})",
                    diagnostic.message, diagnostic.line
                )
            }
            Failure::Unsupported { what, line, column } => write!(
                f,
                "pyc-build cannot compile this {what} yet (line {line}, column {})",
                column + 1
            ),
            Failure::Internal(message) => write!(f, "internal error in pyc-build: {message}"),
        }
    }
}

/// What became of one file of the walk.
#[derive(Debug)]
pub enum Outcome {
    /// Not compiled and not reported, as `compileall` passes it by: excluded by `-x` or `-e`,
    /// not a regular file, or not named `*.py`.
    Ignored,
    /// Every pyc is already exactly what the build would write.
    UpToDate(Vec<Pyc>),
    /// Compiled, and every pyc written.
    Compiled(Vec<Pyc>),
    /// Not compiled; nothing written.
    Failed(Failure),
}

/// One file of the walk and what became of it.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub outcome: Outcome,
}

/// What [`build`] reports, in walk order whatever the parallelism.
#[derive(Debug)]
pub enum Event<'a> {
    /// The walk is done: this many files will be reported.
    Planned(usize),
    /// A directory is listed.
    Listing(&'a Path),
    /// A directory could not be listed.
    CantList(&'a Path, &'a io::Error),
    /// A file is done.
    File(&'a FileReport),
}

/// Counts over a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Sources compiled.
    pub compiled: usize,
    /// Sources whose pycs were up to date.
    pub up_to_date: usize,
    /// Sources that failed.
    pub failed: usize,
    /// Pycs written.
    pub written: usize,
}

impl Summary {
    /// Whether every file succeeded (`compileall` exits 0).
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

/// Builds the pycs of `dests` (files and directories, as `compileall`'s command line takes
/// them), calling `on_event` for each step in walk order.
///
/// ```no_run
/// use pyc_build::tree::{build, BuildOptions, Event, Outcome};
/// use pyc_assembler::PythonVersion;
///
/// let mut options = BuildOptions::new(PythonVersion::V3_11);
/// options.optimize = vec![0, 1];
/// let summary = build(&["src".into()], &options, |event| {
///     if let Event::File(report) = event {
///         if let Outcome::Failed(why) = &report.outcome {
///             eprintln!("{}: {}: {why}", report.path.display(), why.exception_name());
///         }
///     }
/// });
/// assert!(summary.success());
/// ```
pub fn build(
    dests: &[PathBuf],
    options: &BuildOptions,
    mut on_event: impl FnMut(Event<'_>),
) -> Summary {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut options = options.clone();
    options.optimize.sort_unstable();
    options.optimize.dedup();
    let entries = walk(dests, options.max_levels);
    let files: Vec<(&Path, Option<&Path>)> = entries
        .iter()
        .filter_map(|e| match e {
            WalkEntry::File { path, root } => Some((path.as_path(), root.as_deref())),
            _ => None,
        })
        .collect();
    on_event(Event::Planned(files.len()));
    let mut summary = Summary::default();
    let results = Results::default();
    let (options, cwd, results) = (&options, &cwd, &results);
    std::thread::scope(|s| {
        // Each file is a task of its own, so that a worker left without work takes over
        // half of what another has left, down to a single file. The halves are runs of
        // neighbouring files: the workers seldom write into the same directory at once.
        let work = move || {
            files
                .par_iter()
                .with_max_len(1)
                .enumerate()
                .for_each(|(i, &(path, root))| results.put(i, run_file(path, root, options, cwd)))
        };
        s.spawn(move || {
            // However the workers end, the reporter is not left waiting.
            let _finished = results.finish_on_drop();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(options.jobs)
                .stack_size(WORKER_STACK)
                .start_handler(|_| pyc_compiler::declare_stack(WORKER_STACK - (1 << 20)))
                .build();
            match pool {
                Ok(pool) => pool.install(work),
                Err(_) => work(),
            }
        });
        let mut file = 0;
        for entry in &entries {
            match entry {
                WalkEntry::Listing(dir) => on_event(Event::Listing(dir)),
                WalkEntry::CantList(dir, e) => on_event(Event::CantList(dir, e)),
                WalkEntry::File { path, .. } => {
                    let outcome = results.take(file);
                    file += 1;
                    match &outcome {
                        Outcome::Ignored => {}
                        Outcome::UpToDate(_) => summary.up_to_date += 1,
                        Outcome::Compiled(pycs) => {
                            summary.compiled += 1;
                            summary.written += pycs.len();
                        }
                        Outcome::Failed(_) => summary.failed += 1,
                    }
                    let report = FileReport {
                        path: path.clone(),
                        outcome,
                    };
                    on_event(Event::File(&report));
                }
            }
        }
    });
    summary
}

/// The outcomes the workers have made and the reporter has not taken yet.
#[derive(Default)]
struct Results {
    state: Mutex<ResultsState>,
    done: Condvar,
}

#[derive(Default)]
struct ResultsState {
    outcomes: HashMap<usize, Outcome>,
    /// The workers have stopped: whatever is missing will not come.
    finished: bool,
    /// The file the reporter is waiting for: only its outcome wakes it.
    awaited: Option<usize>,
}

impl Results {
    fn put(&self, index: usize, outcome: Outcome) {
        let mut state = lock(&self.state);
        state.outcomes.insert(index, outcome);
        if state.awaited == Some(index) {
            self.done.notify_one();
        }
    }

    /// A guard that marks the results finished when the workers end, however they end.
    fn finish_on_drop(&self) -> Finished<'_> {
        Finished(self)
    }

    /// The outcome of file `index`, waiting for it.
    fn take(&self, index: usize) -> Outcome {
        let mut state = lock(&self.state);
        loop {
            if let Some(outcome) = state.outcomes.remove(&index) {
                state.awaited = None;
                return outcome;
            }
            if state.finished {
                return Outcome::Failed(Failure::Internal("the compile workers stopped".into()));
            }
            state.awaited = Some(index);
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Marks the results finished when dropped.
struct Finished<'a>(&'a Results);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).finished = true;
        self.0.done.notify_one();
    }
}

/// Locks `m`; a panic elsewhere while holding it leaves the data usable here.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`compile_file`] for a worker: a panic outside the compiler (which `compile_file` already
/// catches) is a failure of this file, not the end of the build.
fn run_file(path: &Path, root: Option<&Path>, options: &BuildOptions, cwd: &Path) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        compile_file(path, root, options, cwd)
    }))
    .unwrap_or_else(|_| Outcome::Failed(Failure::Internal("the compile worker failed".into())))
}

/// The stack of each compile thread (address space, committed as used): room for the
/// compiler's deep passes on sources up to about half a megabyte, so they need no thread of
/// their own.
const WORKER_STACK: usize = 256 << 20;

/// The source's modification time as `int(os.stat(path).st_mtime)`: seconds and nanoseconds
/// summed as a double, then truncated, exactly as Python rounds them.
fn python_mtime(m: &fs::Metadata) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (m.mtime() as f64 + m.mtime_nsec() as f64 * 1e-9) as i64
    }
    #[cfg(not(unix))]
    {
        match m
            .modified()
            .map(|t| t.duration_since(std::time::UNIX_EPOCH))
        {
            Ok(Ok(d)) => d.as_secs_f64() as i64,
            Ok(Err(e)) => -(e.duration().as_secs_f64() as i64),
            Err(_) => 0,
        }
    }
}

/// The mode importlib gives a pyc: the source's, plus owner write.
fn pyc_mode(m: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::mode(m) | 0o200
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        0o666
    }
}

/// Whether `cfile`, a regular file by `kind` (its `symlink_metadata`), starts with `header`.
fn starts_with(cfile: &Path, kind: Option<&fs::Metadata>, header: &[u8; HEADER_LEN]) -> bool {
    if !kind.is_some_and(|m| m.is_file()) {
        return false;
    }
    let mut actual = [0; HEADER_LEN];
    fs::File::open(cfile)
        .and_then(|mut f| f.read_exact(&mut actual))
        .is_ok_and(|()| actual == *header)
}

/// The bytes of a source; a failure to open it names the file, a failure to read it does
/// not, as in Python. `size` is its size as last seen: with it right, the source takes one
/// read and one more to see the end.
fn read_source(path: &Path, size: u64) -> Result<Vec<u8>, Failure> {
    let failure = |error, named| Failure::Io {
        path: path.to_path_buf(),
        error,
        named,
    };
    let mut file = fs::File::open(path).map_err(|e| failure(e, true))?;
    let mut data = vec![0; usize::try_from(size).map_or(0, |n| n.saturating_add(1))];
    let mut len = 0;
    loop {
        if len == data.len() {
            data.resize(len.saturating_mul(2).max(8192), 0);
        }
        match file.read(&mut data[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(failure(e, false)),
        }
    }
    data.truncate(len);
    Ok(data)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Compiles one file of the walk as `compileall.compile_file` does, with pyc-build's stricter
/// up-to-date rule: the pycs are left alone exactly when each one already is what would be
/// written (same magic number and invalidation mode, and the same source mtime and size, or
/// the same source hash).
pub fn compile_file(
    fullname: &Path,
    root: Option<&Path>,
    options: &BuildOptions,
    cwd: &Path,
) -> Outcome {
    let io_failure = |path: &Path, error| {
        Outcome::Failed(Failure::Io {
            path: path.to_path_buf(),
            error,
            named: true,
        })
    };
    // Whatever else holds, a file not named `*.py` is passed by.
    if !paths::bytes(fullname.as_os_str()).ends_with(b".py") {
        return Outcome::Ignored;
    }
    if let Some(rx) = &options.exclude {
        if rx
            .is_match(&*fullname.to_string_lossy())
            .unwrap_or_default()
        {
            return Outcome::Ignored;
        }
    }
    if let Some(limit) = &options.limit_symlinks {
        if fs::symlink_metadata(fullname).is_ok_and(|m| m.file_type().is_symlink()) {
            let limit = fs::canonicalize(limit)
                .or_else(|_| std::path::absolute(limit))
                .unwrap_or_else(|_| limit.clone());
            let inside = fs::canonicalize(fullname)
                .is_ok_and(|target| target.ancestors().skip(1).any(|a| a == limit));
            if !inside {
                return Outcome::Ignored;
            }
        }
    }
    let Ok(metadata) = fs::metadata(fullname) else {
        return Outcome::Ignored;
    };
    if !metadata.is_file() {
        return Outcome::Ignored;
    }
    let v = options.target;
    let cfiles: Vec<(u8, PathBuf)> = options
        .optimize
        .iter()
        .map(|&level| {
            let cfile = if options.legacy {
                paths::legacy_path(fullname)
            } else {
                paths::cache_from_source(fullname, v, level, options.pycache_prefix.as_deref(), cwd)
            };
            (level, cfile)
        })
        .collect();
    // The source is read once: what is compiled is what is hashed. Its metadata is taken
    // before reading, so a source changed meanwhile gets a pyc that is stale, never one that
    // looks current.
    let mut source = None;
    let invalidation = match options.invalidation {
        InvalidationMode::Timestamp => Invalidation::Timestamp {
            // Both modulo 2**32, as importlib stores them.
            mtime: python_mtime(&metadata) as u32,
            source_size: metadata.len() as u32,
        },
        mode => {
            let bytes = match read_source(fullname, metadata.len()) {
                Ok(b) => b,
                Err(failure) => return Outcome::Failed(failure),
            };
            let hash = pyc::source_hash(v, &bytes);
            source = Some(bytes);
            if mode == InvalidationMode::CheckedHash {
                Invalidation::CheckedHash(hash)
            } else {
                Invalidation::UncheckedHash(hash)
            }
        }
    };
    let header = PycHeader {
        version: v,
        invalidation,
    };
    let header_bytes = pyc::header_bytes(&header);
    // What each pyc path is now (not following links): for the up-to-date check and for
    // refusing links and non-regular files.
    let kinds: Vec<Option<fs::Metadata>> = cfiles
        .iter()
        .map(|(_, c)| fs::symlink_metadata(c).ok())
        .collect();
    if !options.force
        && cfiles
            .iter()
            .zip(&kinds)
            .all(|((_, c), kind)| starts_with(c, kind.as_ref(), &header_bytes))
    {
        let pycs = cfiles
            .into_iter()
            .map(|(optimize, path)| {
                let sha256 = if options.hash_outputs {
                    fs::read(&path).ok().map(|d| sha256(&d))
                } else {
                    None
                };
                Pyc {
                    path,
                    optimize,
                    written: false,
                    sha256,
                }
            })
            .collect();
        return Outcome::UpToDate(pycs);
    }
    for ((_, cfile), kind) in cfiles.iter().zip(&kinds) {
        if let Err(e) = write::check_kind(cfile, kind.as_ref()) {
            return io_failure(cfile, e);
        }
    }
    let source = match source {
        Some(s) => s,
        None => match read_source(fullname, metadata.len()) {
            Ok(s) => s,
            Err(failure) => return Outcome::Failed(failure),
        },
    };
    let dfile = root
        .map_or_else(
            || {
                paths::display_name(
                    fullname,
                    options.ddir.as_deref(),
                    options.stripdir.as_deref(),
                    options.prependdir.as_deref(),
                )
            },
            |root| {
                // For a walked directory, `-d DIR` strips the directory and prepends DIR.
                if options.ddir.is_some() {
                    paths::display_name(fullname, None, Some(root), options.ddir.as_deref())
                } else {
                    paths::display_name(
                        fullname,
                        None,
                        options.stripdir.as_deref(),
                        options.prependdir.as_deref(),
                    )
                }
            },
        )
        .unwrap_or_else(|| fullname.to_path_buf());
    let filename = dfile.to_string_lossy().into_owned();
    // Every level is compiled before anything is written: a file that fails keeps all its
    // old pycs.
    let mut outputs = Vec::with_capacity(cfiles.len());
    for &(level, _) in &cfiles {
        let compile_options = CompileOptions {
            target: v,
            optimize: level,
        };
        let code = match crate::panics::compile_caught(&source, &filename, &compile_options) {
            Ok(Ok(code)) => code,
            Ok(Err(CompileError::Source(diagnostic))) => {
                return Outcome::Failed(Failure::Source {
                    source,
                    filename,
                    diagnostic,
                })
            }
            Ok(Err(CompileError::Unsupported { what, line, column })) => {
                return Outcome::Failed(Failure::Unsupported { what, line, column })
            }
            Ok(Err(e @ CompileError::UnsupportedTarget(_))) => {
                return Outcome::Failed(Failure::Internal(e.to_string()))
            }
            Err(panic) => return Outcome::Failed(Failure::Internal(panic)),
        };
        outputs.push(pyc::write_pyc(&header, &code));
    }
    let mode = pyc_mode(&metadata);
    let mut pycs = Vec::with_capacity(cfiles.len());
    for (i, ((optimize, cfile), data)) in cfiles.iter().zip(&outputs).enumerate() {
        let previous = i.checked_sub(1).map(|p| (&cfiles[p].1, &outputs[p]));
        let result = match previous {
            Some((prev, prev_data)) if options.hardlink_dupes && prev_data == data => {
                write::link_atomic(prev, cfile)
            }
            _ => write::write_atomic(cfile, data, mode),
        };
        if let Err(e) = result {
            return io_failure(cfile, e);
        }
        pycs.push(Pyc {
            path: cfile.clone(),
            optimize: *optimize,
            written: true,
            sha256: options.hash_outputs.then(|| sha256(data)),
        });
    }
    Outcome::Compiled(pycs)
}
