//! Writing pycs so that no reader ever sees a partial or mixed file: each pyc is written to a
//! temporary file in the target directory and renamed into place, as importlib's
//! `_write_atomic` does.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Refuses a target that is a symbolic link or exists and is not a regular file, with
/// `py_compile`'s words (renaming over it would change what kind of file it is).
pub fn check_target(cfile: &Path) -> io::Result<()> {
    match fs::symlink_metadata(cfile) {
        Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is a symlink and will be changed into a regular file if import writes a \
                 byte-compiled file to it",
                cfile.display()
            ),
        )),
        Ok(m) if !m.is_file() => Err(io::Error::new(
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
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    target.with_file_name(name)
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
    make_parent(target)?;
    let (tmp, mut file) = loop {
        let tmp = temporary_name(target);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode & 0o666);
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
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
    make_parent(target)?;
    let tmp = loop {
        let tmp = temporary_name(target);
        match fs::hard_link(existing, &tmp) {
            Ok(()) => break tmp,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let renamed = fs::rename(&tmp, target);
    // Renaming a link onto another link of the same file does nothing, leaving the
    // temporary name; it goes either way.
    let _ = fs::remove_file(&tmp);
    renamed
}
