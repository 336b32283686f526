//! Writing pycs so that no reader ever sees a partial or mixed file: each pyc is written to a
//! temporary file in the target directory and renamed into place, as importlib's
//! `_write_atomic` does.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Refuses a target that is a symbolic link or exists and is not a regular file, with
/// `py_compile`'s words (renaming over it would change what kind of file it is).
pub fn check_target(cfile: &Path) -> io::Result<()> {
    check_kind(cfile, fs::symlink_metadata(cfile).ok().as_ref())
}

/// [`check_target`] with `cfile`'s `symlink_metadata` taken already (`None`: it does not
/// exist or cannot be seen).
pub(crate) fn check_kind(cfile: &Path, kind: Option<&fs::Metadata>) -> io::Result<()> {
    match kind {
        Some(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is a symlink and will be changed into a regular file if import writes a \
                 byte-compiled file to it",
                cfile.display()
            ),
        )),
        Some(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is a non-regular file and will be changed into a regular one if import \
                 writes a byte-compiled file to it",
                cfile.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// A fresh name beside `target` for a temporary file, unique in this process; the process id
/// keeps concurrent runs apart.
fn temporary_name(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PID: OnceLock<u32> = OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = PID.get_or_init(std::process::id);
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{pid}.{n}.tmp"));
    target.with_file_name(name)
}

/// Makes a new file beside `target` under a fresh temporary name with `create` (which fails
/// with `AlreadyExists` when the name is taken), creating the directory first if need be.
/// The directory is looked at only when the first try fails, which then counts for
/// nothing: the result is that of creating the directory and trying again.
fn create_beside<T>(
    target: &Path,
    mut create: impl FnMut(&Path) -> io::Result<T>,
) -> io::Result<(PathBuf, T)> {
    let mut made_parent = false;
    loop {
        let tmp = temporary_name(target);
        match create(&tmp) {
            Ok(t) => return Ok((tmp, t)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if made_parent => return Err(e),
            Err(_) => {
                make_parent(target)?;
                made_parent = true;
            }
        }
    }
}

/// Creates the directory of `target` (as `py_compile` does, parents included).
fn make_parent(target: &Path) -> io::Result<()> {
    match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Writes `data` to `target` atomically. `mode` is the permission bits the file is created
/// with (the process umask applies), as importlib creates pycs with the source's mode plus
/// owner write.
pub fn write_atomic(target: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode & 0o666);
    #[cfg(not(unix))]
    let _ = mode;
    let (tmp, mut file) = create_beside(target, |tmp| options.open(tmp))?;
    let written = file
        .write_all(data)
        .and_then(|()| File::flush(&mut file))
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, target)
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Makes `target` a hard link to `existing`, atomically: a link under a temporary name,
/// renamed into place.
pub fn link_atomic(existing: &Path, target: &Path) -> io::Result<()> {
    let (tmp, ()) = create_beside(target, |tmp| fs::hard_link(existing, tmp))?;
    let renamed = fs::rename(&tmp, target);
    // Renaming a link onto another link of the same file does nothing, leaving the
    // temporary name; it goes either way.
    let _ = fs::remove_file(&tmp);
    renamed
}
