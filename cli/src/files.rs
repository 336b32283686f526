//! Finding the Python sources named on the command line.

use std::path::{Path, PathBuf};

/// A path to compile, or one that could not be listed.
pub type Source = Result<PathBuf, (PathBuf, std::io::Error)>;

/// The sources under `paths`: a file is taken as given; a directory contributes every `.py`
/// file beneath it (symbolic links to directories are not followed), sorted by path. A path
/// that cannot be read is returned as an error in its place.
pub fn python_sources(paths: &[PathBuf]) -> Vec<Source> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found);
                found.sort_by(|a, b| match (a, b) {
                    (Ok(a), Ok(b)) | (Err((a, _)), Err((b, _))) => a.cmp(b),
                    (Ok(a), Err((b, _))) | (Err((a, _)), Ok(b)) => a.cmp(b),
                });
                out.extend(found);
            }
            Ok(_) => out.push(Ok(path.clone())),
            Err(e) => out.push(Err((path.clone(), e))),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Source>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return out.push(Err((dir.to_path_buf(), e))),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.push(Err((dir.to_path_buf(), e)));
                continue;
            }
        };
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) if path.extension().is_some_and(|x| x == "py") => out.push(Ok(path)),
            Ok(_) => {}
            Err(e) => out.push(Err((path, e))),
        }
    }
}
