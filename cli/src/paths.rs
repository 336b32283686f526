//! Paths as `compileall` and importlib compute them: where each pyc goes
//! (`importlib.util.cache_from_source`), the name compiled into it (`-d`, `-s`, `-p`) and how
//! paths are shown (`repr`).
//!
//! Paths are handled as the bytes POSIX gives them, as Python's `os.path` handles `str` paths
//! there; elsewhere they are taken as (lossy) Unicode.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use pyc_assembler::code::PyStr;
use pyc_assembler::PythonVersion;

/// The bytes of a path.
pub(crate) fn bytes(p: &OsStr) -> Vec<u8> {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::as_bytes(p).to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

/// A path from bytes made by [`bytes`] and ASCII.
pub(crate) fn from_bytes(b: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        PathBuf::from(<OsString as std::os::unix::ffi::OsStringExt>::from_vec(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// `posixpath.join(a, b)`: `b` if it is absolute, else `a` and `b` with one `/` between.
pub fn join(a: &Path, b: &Path) -> PathBuf {
    let (a, b) = (bytes(a.as_os_str()), bytes(b.as_os_str()));
    if b.first() == Some(&b'/') {
        return from_bytes(b);
    }
    let mut out = a;
    if !out.is_empty() && out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend(b);
    from_bytes(out)
}

/// `importlib._bootstrap_external._path_join` on POSIX: the non-empty parts, each stripped of
/// trailing slashes, joined by `/`.
fn path_join(parts: &[&[u8]]) -> Vec<u8> {
    let kept: Vec<&[u8]> = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let end = p.iter().rposition(|&c| c != b'/').map_or(0, |i| i + 1);
            &p[..end]
        })
        .collect();
    kept.join(&b'/')
}

/// `importlib.util.cache_from_source(source, optimization=...)` for CPython `v`, optimization
/// level `optimize` (0 gives no `.opt-N` part), under `pycache_prefix` when given (as
/// `sys.pycache_prefix`, relative sources made absolute against `cwd`).
pub fn cache_from_source(
    source: &Path,
    v: PythonVersion,
    optimize: u8,
    pycache_prefix: Option<&Path>,
    cwd: &Path,
) -> PathBuf {
    let path = bytes(source.as_os_str());
    let (head, tail) = match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], &path[..]),
    };
    let (base, sep, rest) = match tail.iter().rposition(|&c| c == b'.') {
        Some(i) => (&tail[..i], &b"."[..], &tail[i + 1..]),
        None => (&tail[..0], &b""[..], tail),
    };
    let mut filename = if base.is_empty() { rest } else { base }.to_vec();
    filename.extend(sep);
    filename.extend(format!("cpython-3{}", v.minor()).bytes());
    if optimize > 0 {
        filename.extend(format!(".opt-{optimize}").bytes());
    }
    filename.extend(b".pyc");
    match pycache_prefix {
        Some(prefix) => {
            let head = if head.first() == Some(&b'/') {
                head.to_vec()
            } else {
                path_join(&[&bytes(cwd.as_os_str()), head])
            };
            let start = head.iter().position(|&c| c != b'/').unwrap_or(head.len());
            from_bytes(path_join(&[
                &bytes(prefix.as_os_str()),
                &head[start..],
                &filename,
            ]))
        }
        None => from_bytes(path_join(&[head, b"__pycache__", &filename])),
    }
}

/// The legacy (`-b`) pyc path: the source's path with `c` appended.
pub fn legacy_path(source: &Path) -> PathBuf {
    let mut p = source.as_os_str().to_owned();
    p.push("c");
    PathBuf::from(p)
}

/// The name compiled into the code objects (`co_filename`) of `fullname`, as `compileall`
/// computes its `dfile`: `ddir/NAME` for `-d`; with `-s STRIPDIR` the path without the parts
/// it shares with STRIPDIR; then `-p PREPENDDIR` in front. `None` keeps `fullname`.
pub fn display_name(
    fullname: &Path,
    ddir: Option<&Path>,
    stripdir: Option<&Path>,
    prependdir: Option<&Path>,
) -> Option<PathBuf> {
    let full = bytes(fullname.as_os_str());
    let mut dfile = ddir.map(|d| {
        let name = full.rsplit(|&c| c == b'/').next().unwrap_or_default();
        join(d, &from_bytes(name.to_vec()))
    });
    if let Some(strip) = stripdir {
        let strip = bytes(strip.as_os_str());
        let full_parts: Vec<&[u8]> = full.split(|&c| c == b'/').collect();
        let mut parts = full_parts.clone();
        for (s, o) in strip.split(|&c| c == b'/').zip(&full_parts) {
            // `list.remove`: the first part equal to it goes.
            if s == *o {
                if let Some(i) = parts.iter().position(|p| *p == s) {
                    parts.remove(i);
                }
            }
        }
        dfile = Some(
            parts
                .iter()
                .fold(PathBuf::new(), |acc, p| join(&acc, &from_bytes(p.to_vec()))),
        );
    }
    if let Some(prepend) = prependdir {
        dfile = Some(join(prepend, dfile.as_deref().unwrap_or(fullname)));
    }
    dfile
}

/// Python's `repr()` of a path (a `str` decoded with `surrogateescape`), as `compileall`
/// prints paths.
pub fn repr(p: &Path) -> String {
    let b = bytes(p.as_os_str());
    let mut points = Vec::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        points.extend(chunk.valid().chars().map(u32::from));
        points.extend(chunk.invalid().iter().map(|&c| 0xdc00 + u32::from(c)));
    }
    pyc_assembler::repr::repr_str(&PyStr::from_code_points(points), PythonVersion::V3_11)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(p: &str, opt: u8, prefix: Option<&str>) -> String {
        cache_from_source(
            Path::new(p),
            PythonVersion::V3_11,
            opt,
            prefix.map(Path::new),
            Path::new("/tmp"),
        )
        .display()
        .to_string()
    }

    #[test]
    fn cache_paths_are_importlibs() {
        // As `importlib.util.cache_from_source` gives them (3.11, cwd /tmp).
        assert_eq!(cache("a/b.py", 0, None), "a/__pycache__/b.cpython-311.pyc");
        assert_eq!(cache("/x.py", 0, None), "__pycache__/x.cpython-311.pyc");
        assert_eq!(
            cache("a//b.py", 2, None),
            "a/__pycache__/b.cpython-311.opt-2.pyc"
        );
        assert_eq!(cache(".py", 0, None), "__pycache__/py.cpython-311.pyc");
        assert_eq!(
            cache("a.b.py", 1, None),
            "__pycache__/a.b.cpython-311.opt-1.pyc"
        );
        assert_eq!(cache("x", 0, None), "__pycache__/xcpython-311.pyc");
        assert_eq!(
            cache("/x.py", 0, Some("/pfx/")),
            "/pfx/tmp/x.cpython-311.pyc"
        );
        assert_eq!(
            cache("a//b.py", 0, Some("/pfx")),
            "/pfx/tmp/a/b.cpython-311.pyc"
        );
        assert_eq!(
            cache("/r/y.py", 0, Some("/pfx")),
            "/pfx/r/y.cpython-311.pyc"
        );
    }

    #[test]
    fn display_names_are_compilealls() {
        let d = |full: &str, ddir: Option<&str>, s: Option<&str>, p: Option<&str>| {
            display_name(
                Path::new(full),
                ddir.map(Path::new),
                s.map(Path::new),
                p.map(Path::new),
            )
            .map(|p| p.display().to_string())
        };
        assert_eq!(d("src/a/b.py", None, None, None), None);
        assert_eq!(d("src/a/b.py", Some("/d"), None, None).unwrap(), "/d/b.py");
        assert_eq!(
            d("/build/root/lib/x.py", None, Some("/build/root"), Some("/")).unwrap(),
            "/lib/x.py"
        );
        assert_eq!(
            d("a/b/a/x.py", None, Some("a/c"), None).unwrap(),
            "b/a/x.py"
        );
        assert_eq!(d("/abs/x.py", None, None, Some("/p")).unwrap(), "/abs/x.py");
        assert_eq!(
            d("rel/x.py", None, None, Some("/p")).unwrap(),
            "/p/rel/x.py"
        );
    }

    #[test]
    fn reprs_are_pythons() {
        assert_eq!(repr(Path::new("a/b.py")), "'a/b.py'");
        assert_eq!(repr(Path::new("it's.py")), "\"it's.py\"");
        #[cfg(unix)]
        assert_eq!(repr(&from_bytes(b"\xff.py".to_vec())), "'\\udcff.py'");
    }
}
