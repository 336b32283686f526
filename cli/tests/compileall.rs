//! The compile job side by side with `python3.11 -m compileall`: for each flag, the same
//! transcript, exit status, pyc paths, headers and code objects; and the properties beyond
//! compileall (determinism, atomic writes under concurrent runs, the stricter up-to-date rule,
//! the manifest).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pyc_assembler::{compare, pyc, PythonVersion};
use pyc_compiler::{CompileError, CompileOptions};

const V: PythonVersion = PythonVersion::V3_11;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pyc-build-ca-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The 3.11 interpreter and whether 3.11 code generation exists, or `None` (after saying why)
/// when either is missing and not required.
fn setup() -> Option<PathBuf> {
    let options = CompileOptions {
        target: V,
        optimize: 0,
    };
    if let Err(CompileError::UnsupportedTarget(_)) = pyc_compiler::compile(b"", "<p>", &options) {
        eprintln!("skipped: no code generation for 3.11 yet");
        return None;
    }
    match pyc_tests::find_interpreter(V) {
        Ok(p) => Some(p),
        Err(why) => {
            assert!(!pyc_tests::oracles_required(), "{why}");
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A tree with nested packages, symbolic links (to a file inside, a file outside, a
/// directory), a syntax error, a source that is not UTF-8 (with and without a coding
/// cookie), a file that is not Python, and a directory named like a subcommand.
fn make_tree(root: &Path) {
    let t = root.join("tree");
    write(&t.join("top.py"), "import os\nX = [1, 2, 3]\n");
    write(&t.join("pkg/__init__.py"), "from . import mod\n");
    write(
        &t.join("pkg/mod.py"),
        "'''Doc.'''\ndef f(a, b=2):\n    '''Doc f.'''\n    assert a, 'no'\n    return a + b\n\nclass C:\n    def m(self):\n        return __debug__\n",
    );
    write(&t.join("pkg/sub/__init__.py"), "");
    write(&t.join("pkg/sub/deep/leaf.py"), "Y = {'a': 1}\n");
    write(&t.join("pkg/bad.py"), "x = 1\ndef f(:\n    pass\n");
    write(
        &t.join("pkg/latin.py"),
        b"# -*- coding: latin-1 -*-\nS = '\xe9t\xe9'\n",
    );
    write(&t.join("pkg/notutf8.py"), b"S = '\xff'\n");
    write(&t.join("pkg/data.txt"), "not python");
    write(&t.join("skipme/s.py"), "Z = 3\n");
    write(&t.join("check/c.py"), "C = 4\n");
    write(&root.join("outside/o.py"), "O = 5\n");
    #[cfg(unix)]
    {
        symlink("../top.py", &t.join("pkg/inside_link.py"));
        symlink("../../outside/o.py", &t.join("pkg/outside_link.py"));
        symlink("../skipme", &t.join("pkg/dirlink"));
        symlink("missing.py", &t.join("pkg/broken.py"));
    }
}

/// Copies `from` to `to` keeping symbolic links and modification times.
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn pyc_build(cwd: &Path, args: &[OsString], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyc-build"));
    cmd.current_dir(cwd).arg("--target").arg("3.11").args(args);
    cmd.env_remove("SOURCE_DATE_EPOCH")
        .envs(env.iter().copied());
    run(cmd, stdin)
}

fn compileall(
    python: &Path,
    cwd: &Path,
    args: &[OsString],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Output {
    let mut cmd = Command::new(python);
    cmd.current_dir(cwd).args(["-m", "compileall"]).args(args);
    cmd.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PYTHONPYCACHEPREFIX")
        .envs(env.iter().copied());
    run(cmd, stdin)
}

/// The transcript lines both must print alike: listings and compilations exactly, failure
/// details only as a marker (error wording is compared elsewhere).
fn transcript(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            if l.starts_with("Listing ")
                || l.starts_with("Compiling ")
                || l.starts_with("Can't list ")
                || l.starts_with("*** Error compiling ")
                || l.starts_with("Error reading file list")
            {
                Some(l.to_string())
            } else if l.starts_with("***") {
                Some("***".into())
            } else {
                None
            }
        })
        .collect()
}

/// Every pyc under `root`: its relative path, bytes, and inode (for hard links).
fn pycs(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u64)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() && e.path().extension().is_some_and(|x| x == "pyc") {
                #[cfg(unix)]
                let ino = std::os::unix::fs::MetadataExt::ino(&e.metadata().unwrap());
                #[cfg(not(unix))]
                let ino = 0;
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, (std::fs::read(e.path()).unwrap(), ino));
            }
        }
    }
    out
}

/// Which pycs are hard links of which (by first path of each inode).
fn link_groups(p: &BTreeMap<PathBuf, (Vec<u8>, u64)>) -> Vec<Vec<PathBuf>> {
    let mut by_inode: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for (path, (_, ino)) in p {
        by_inode.entry(*ino).or_default().push(path.clone());
    }
    let mut groups: Vec<_> = by_inode.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    groups
}

/// Compares the pycs of both trees: same paths, same headers, equal code objects.
fn same_pycs(ours: &Path, theirs: &Path, what: &str) {
    let (a, b) = (pycs(ours), pycs(theirs));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: pyc paths"
    );
    assert_eq!(link_groups(&a), link_groups(&b), "{what}: hard links");
    for (path, (data, _)) in &a {
        let theirs = &b[path].0;
        assert_eq!(
            data[..16],
            theirs[..16],
            "{what}: {} header",
            path.display()
        );
        let (_, ours_code) = pyc::read_pyc(data).unwrap();
        let (_, their_code) = pyc::read_pyc(theirs).unwrap();
        assert_eq!(
            ours_code.filename,
            their_code.filename,
            "{what}: {} co_filename",
            path.display()
        );
        let diff = compare::first_difference(&ours_code, &their_code, V);
        assert!(diff.is_none(), "{what}: {}: {diff:?}", path.display());
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn every_flag_side_by_side_with_compileall() {
    let Some(python) = setup() else { return };
    let base = temp_dir("flags");
    make_tree(&base.join("orig"));
    write(
        &base.join("orig/list.txt"),
        "tree/top.py\n  tree/pkg/sub  \n\nnope\n",
    );
    let abs = base.join("ours").join("tree");
    let abs_theirs = base.join("theirs").join("tree");
    // (name, arguments, environment, standard input, pycache prefix, parallel output order)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Vec<OsString>, Vec<(&str, &str)>, Option<&[u8]>)> = vec![
        ("default", os(&["tree"]), vec![], None),
        ("trailing slash", os(&["tree/"]), vec![], None),
        ("-q", os(&["-q", "tree"]), vec![], None),
        ("-qq", os(&["-qq", "tree"]), vec![], None),
        ("-l", os(&["-l", "tree"]), vec![], None),
        ("-r 1", os(&["-r", "1", "tree"]), vec![], None),
        ("-l -r 2", os(&["-l", "-r", "2", "tree"]), vec![], None),
        ("-f", os(&["-f", "tree"]), vec![], None),
        ("-b", os(&["-b", "tree"]), vec![], None),
        ("-d", os(&["-d", "/installed/site", "tree"]), vec![], None),
        ("-d file", os(&["-d", "/x", "tree/top.py"]), vec![], None),
        (
            "-s -p",
            os(&["-s", "tree", "-p", "/usr/lib", "tree"]),
            vec![],
            None,
        ),
        ("-p", os(&["-p", "/prefix", "tree"]), vec![], None),
        ("-x", os(&["-x", r"skip|bad\.py$", "tree"]), vec![], None),
        (
            "-x lookahead",
            os(&["-x", r"pkg/(?!mod)", "tree"]),
            vec![],
            None,
        ),
        (
            "-e",
            vec!["-e".into(), abs.clone().into(), "tree".into()],
            vec![],
            None,
        ),
        (
            "-o",
            os(&["-o", "0", "-o", "1", "-o", "2", "tree"]),
            vec![],
            None,
        ),
        (
            "--hardlink-dupes",
            os(&["-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes", "tree"]),
            vec![],
            None,
        ),
        ("-o -1", os(&["-o", "-1", "tree/pkg"]), vec![], None),
        (
            "timestamp",
            os(&["--invalidation-mode", "timestamp", "tree"]),
            vec![("SOURCE_DATE_EPOCH", "1")],
            None,
        ),
        (
            "checked-hash",
            os(&["--invalidation-mode", "checked-hash", "tree"]),
            vec![],
            None,
        ),
        (
            "unchecked-hash",
            os(&["--invalidation-mode", "unchecked-hash", "tree"]),
            vec![],
            None,
        ),
        (
            "SOURCE_DATE_EPOCH",
            os(&["tree"]),
            vec![("SOURCE_DATE_EPOCH", "1")],
            None,
        ),
        (
            "-i FILE",
            os(&["-i", "list.txt", "tree/check"]),
            vec![],
            None,
        ),
        (
            "-i -",
            os(&["-i", "-"]),
            vec![],
            Some(b"tree/pkg/mod.py\ntree/skipme\n"),
        ),
        (
            "-i missing",
            os(&["-i", "nolist.txt", "tree"]),
            vec![],
            None,
        ),
        ("./check", os(&["./check"]), vec![], None),
        ("missing path", os(&["nope", "tree/top.py"]), vec![], None),
        (
            "files",
            os(&["tree/pkg/bad.py", "tree/top.py", "tree/pkg/data.txt"]),
            vec![],
            None,
        ),
        ("-j 0", os(&["-j", "0", "tree"]), vec![], None),
        ("-j 3", os(&["-j", "3", "tree"]), vec![], None),
    ];
    for (name, args, env, stdin) in cases {
        for side in ["ours", "theirs"] {
            let _ = std::fs::remove_dir_all(base.join(side));
            copy_tree(&base.join("orig"), &base.join(side));
        }
        // -e is given absolute paths, which differ between the two copies.
        // compileall's worker processes print in no particular order (not even whole lines),
        // so pyc-build's parallel transcript, always in walk order, is compared with
        // compileall's serial one.
        let skip = if name.starts_with("-j") { 2 } else { 0 };
        let their_args: Vec<OsString> = args
            .iter()
            .skip(skip)
            .map(|a| {
                if *a == *abs.as_os_str() {
                    abs_theirs.clone().into()
                } else {
                    a.clone()
                }
            })
            .collect();
        let cwd = |side: &str| {
            if name == "./check" {
                base.join(side).join("tree")
            } else {
                base.join(side)
            }
        };
        let ours = pyc_build(&cwd("ours"), &args, &env, stdin);
        let theirs = compileall(&python, &cwd("theirs"), &their_args, &env, stdin);
        let what = format!("{name}: {}", String::from_utf8_lossy(&ours.stderr));
        assert_eq!(ours.status.code(), theirs.status.code(), "{what}");
        assert_eq!(transcript(&ours), transcript(&theirs), "{what}");
        if name == "-qq" {
            assert!(ours.stdout.is_empty() && ours.stderr.is_empty(), "{what}");
        }
        same_pycs(&base.join("ours"), &base.join("theirs"), &what);
        // The second run finds everything up to date (or, for hash-based pycs, pyc-build
        // does where compileall rewrites them).
        if name == "default" {
            let again = pyc_build(&cwd("ours"), &args, &env, stdin);
            let theirs = compileall(&python, &cwd("theirs"), &args, &env, stdin);
            assert_eq!(again.status.code(), theirs.status.code());
            assert_eq!(transcript(&again), transcript(&theirs));
        }
    }
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn pycache_prefix_matches_pythons() {
    let Some(python) = setup() else { return };
    let base = temp_dir("prefix");
    make_tree(&base.join("ours"));
    copy_tree(&base.join("ours"), &base.join("theirs"));
    for side in ["ours", "theirs"] {
        let prefix = base.join(side).join("cache");
        let out = if side == "ours" {
            let args = vec!["--pycache-prefix".into(), prefix.into(), "tree".into()];
            pyc_build(&base.join(side), &args, &[], None)
        } else {
            let mut cmd = Command::new(&python);
            cmd.current_dir(base.join(side))
                .arg("-X")
                .arg(format!("pycache_prefix={}", prefix.display()))
                .args(["-m", "compileall", "-q", "tree"]);
            run(cmd, None)
        };
        assert_eq!(out.status.code(), Some(1), "{side}");
        assert!(!base.join(side).join("tree/__pycache__").exists());
    }
    // The prefix holds the sources' absolute paths, which differ between the copies.
    let ours = base
        .join("ours/cache")
        .join(base.join("ours").strip_prefix("/").unwrap());
    let theirs = base
        .join("theirs/cache")
        .join(base.join("theirs").strip_prefix("/").unwrap());
    let (a, b) = (pycs(&ours), pycs(&theirs));
    assert!(a.len() > 5);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn refusals_and_failures_leave_old_pycs() {
    let Some(python) = setup() else { return };
    let base = temp_dir("refuse");
    for side in ["ours", "theirs"] {
        let t = base.join(side);
        write(&t.join("a.py"), "A = 1\n");
        write(&t.join("b.py"), "B = 1\n");
        write(&t.join("c.py"), "C = 1\n");
        write(&t.join("elsewhere.pyc"), "x");
        std::fs::create_dir_all(t.join("__pycache__/c.cpython-311.pyc")).unwrap();
        #[cfg(unix)]
        symlink("../elsewhere.pyc", &t.join("__pycache__/a.cpython-311.pyc"));
    }
    let ours = pyc_build(&base.join("ours"), &os(&["."]), &[], None);
    let theirs = compileall(&python, &base.join("theirs"), &os(&["."]), &[], None);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(transcript(&ours), transcript(&theirs));
    let stdout = String::from_utf8_lossy(&ours.stdout);
    assert!(
        stdout.contains("*** FileExistsError: ./__pycache__/a.cpython-311.pyc is a symlink"),
        "{stdout}"
    );
    assert!(stdout.contains("is a non-regular file"), "{stdout}");
    let t = base.join("ours");
    assert!(
        std::fs::symlink_metadata(t.join("__pycache__/a.cpython-311.pyc"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(t.join("elsewhere.pyc")).unwrap(), b"x");
    // A source that stops compiling keeps its old pyc.
    let pyc = t.join("__pycache__/b.cpython-311.pyc");
    let before = std::fs::read(&pyc).unwrap();
    write(&t.join("b.py"), "B = (1,\n");
    let out = pyc_build(&t, &os(&["-q", "b.py"]), &[], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("*** Error compiling 'b.py'...\n  File \"b.py\", line 1"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("b.py:1:5: SyntaxError: '(' was never closed"),
        "{stderr}"
    );
    assert!(stderr.contains("^"), "{stderr}");
    assert_eq!(std::fs::read(&pyc).unwrap(), before);
    // As JSON.
    let out = pyc_build(
        &t,
        &os(&["-q", "--error-format", "json", "b.py"]),
        &[],
        None,
    );
    let line = String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["exception"], "SyntaxError");
    assert_eq!(v["line"], 1);
    assert_eq!(v["path"], "b.py");
    std::fs::remove_dir_all(&base).ok();
}

#[cfg(unix)]
#[test]
fn unreadable_files_fail_as_in_compileall() {
    use std::os::unix::fs::PermissionsExt;
    let Some(python) = setup() else { return };
    let base = temp_dir("unreadable");
    for side in ["ours", "theirs"] {
        let dir = base.join(side);
        write(&dir.join("fine.py"), "F = 1\n");
        // Permissions stop other users; a file that fails to read stops root too (reading
        // a process's own memory at address 0 is an I/O error).
        let secret = dir.join("secret.py");
        write(&secret, "S = 1\n");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
        if Path::new("/proc/self/mem").exists() {
            symlink("/proc/self/mem", &dir.join("mem.py"));
        }
    }
    let ours = pyc_build(&base.join("ours"), &os(&["."]), &[], None);
    let theirs = compileall(&python, &base.join("theirs"), &os(&["."]), &[], None);
    let stdout = String::from_utf8_lossy(&ours.stdout);
    assert_eq!(stdout, String::from_utf8_lossy(&theirs.stdout));
    assert_eq!(ours.status.code(), theirs.status.code(), "{stdout}");
    let unreadable = std::fs::read(base.join("ours/secret.py")).is_err();
    if unreadable || base.join("ours/mem.py").exists() {
        assert_eq!(ours.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("*** "), "{stdout}");
    }
    assert!(base.join("ours/__pycache__/fine.cpython-311.pyc").exists());
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn up_to_date_is_exactly_what_would_be_written() {
    let Some(python) = setup() else { return };
    let base = temp_dir("uptodate");
    for side in ["ours", "theirs"] {
        write(&base.join(side).join("m.py"), "M = 1\n");
    }
    let both = |args: &[&str]| {
        let a = pyc_build(&base.join("ours"), &os(args), &[], None);
        let b = compileall(&python, &base.join("theirs"), &os(args), &[], None);
        (transcript(&a), transcript(&b))
    };
    assert_eq!(both(&["m.py"]).0, ["Compiling 'm.py'..."]);
    assert_eq!(both(&["m.py"]), (vec![], vec![]));
    // Same mtime, other size: compileall keeps the stale pyc, pyc-build rewrites it.
    for side in ["ours", "theirs"] {
        let f = base.join(side).join("m.py");
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        write(&f, "M = 12\n");
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    let (ours, theirs) = both(&["m.py"]);
    assert_eq!(ours, ["Compiling 'm.py'..."]);
    assert!(theirs.is_empty());
    // Another invalidation mode: compileall keeps the timestamp pyc, pyc-build does not.
    let hash = ["--invalidation-mode", "checked-hash", "m.py"];
    let (ours, theirs) = both(&hash);
    assert_eq!(ours, ["Compiling 'm.py'..."]);
    assert!(theirs.is_empty());
    // Hash-based pycs: compileall always rewrites them; pyc-build when the source changed.
    let forced = ["-f", "--invalidation-mode", "checked-hash", "m.py"];
    assert_eq!(both(&forced).1, ["Compiling 'm.py'..."]);
    let (ours, theirs) = both(&hash);
    assert!(ours.is_empty());
    assert_eq!(theirs, ["Compiling 'm.py'..."]);
    // Another mode is another pyc.
    assert_eq!(
        both(&["--invalidation-mode", "unchecked-hash", "m.py"]).0,
        ["Compiling 'm.py'..."]
    );
    write(&base.join("ours/m.py"), "M = 13\n");
    assert_eq!(
        both(&["--invalidation-mode", "unchecked-hash", "m.py"]).0,
        ["Compiling 'm.py'..."]
    );
    std::fs::remove_dir_all(&base).ok();
}

/// The pyc bytes of a build into `prefix` of the tree under `cwd`, by path under the prefix.
fn build_into(
    cwd: &Path,
    prefix: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = vec![OsString::from("--pycache-prefix"), prefix.into()];
    all.extend(os(args));
    let out = pyc_build(cwd, &all, &[], stdin);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pycs(prefix).into_iter().map(|(k, (v, _))| (k, v)).collect()
}

#[test]
fn the_same_bytes_whatever_jobs_order_or_place() {
    if setup().is_none() {
        return;
    }
    let base = temp_dir("determinism");
    make_tree(&base.join("a"));
    let first = build_into(
        &base.join("a"),
        &base.join("p1"),
        &["-o", "0", "-o", "2", "-j", "1", "tree"],
        None,
    );
    assert!(first.len() > 10);
    // All CPUs, the files listed one by one in reverse order.
    let mut files: Vec<String> = pyc_build::tree::walk(&[base.join("a/tree")], 1000)
        .into_iter()
        .filter_map(|e| match e {
            pyc_build::tree::WalkEntry::File { path, .. } => Some(
                path.strip_prefix(base.join("a"))
                    .ok()?
                    .display()
                    .to_string(),
            ),
            _ => None,
        })
        .collect();
    files.reverse();
    let list = files.join("\0");
    let second = build_into(
        &base.join("a"),
        &base.join("p2"),
        &["-o", "2", "-o", "0", "-j", "0", "--null", "-i", "-"],
        Some(list.as_bytes()),
    );
    assert_eq!(first, second);
    // Another copy elsewhere (same mtimes), or hash-based pycs of a tree with other mtimes.
    copy_tree(&base.join("a"), &base.join("b"));
    let third = build_into(
        &base.join("b"),
        &base.join("p3"),
        &["-o", "0", "-o", "2", "tree"],
        None,
    );
    let strip = |m: BTreeMap<PathBuf, Vec<u8>>, root: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        m.into_iter()
            .map(|(k, v)| {
                (
                    k.strip_prefix(root.strip_prefix("/").unwrap())
                        .unwrap()
                        .to_path_buf(),
                    v,
                )
            })
            .collect()
    };
    assert_eq!(strip(first, &base.join("a")), strip(third, &base.join("b")));
    let hashed = ["--invalidation-mode", "checked-hash", "tree"];
    let h1 = build_into(&base.join("a"), &base.join("p4"), &hashed, None);
    write(
        &base.join("b/tree/top.py"),
        std::fs::read(base.join("a/tree/top.py")).unwrap(),
    );
    let h2 = build_into(&base.join("b"), &base.join("p5"), &hashed, None);
    assert_eq!(strip(h1, &base.join("a")), strip(h2, &base.join("b")));
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn concurrent_runs_never_leave_a_torn_pyc() {
    if setup().is_none() {
        return;
    }
    let base = temp_dir("concurrent");
    for i in 0..40 {
        let body: String = (0..200)
            .map(|j| format!("V{j} = {i} * {j} + 1\n"))
            .collect();
        write(&base.join(format!("t/p{}/m{i}.py", i % 4)), body);
    }
    // The two runs write different pycs (timestamp and hash-based), so a mixed file shows.
    let modes = ["timestamp", "unchecked-hash"];
    let mut expected: BTreeMap<PathBuf, Vec<Vec<u8>>> = BTreeMap::new();
    for mode in modes {
        let out = pyc_build(
            &base,
            &os(&["-q", "--invalidation-mode", mode, "t"]),
            &[],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (k, (v, _)) in pycs(&base.join("t")) {
            expected.entry(k).or_default().push(v);
        }
    }
    assert_eq!(expected.len(), 40);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (path, options) in &expected {
                    if let Ok(data) = std::fs::read(base.join("t").join(path)) {
                        assert!(
                            options.contains(&data),
                            "torn or mixed pyc: {}",
                            path.display()
                        );
                        reads += 1;
                    }
                }
            }
            reads
        });
        let writers: Vec<_> = modes
            .iter()
            .map(|mode| {
                let base = &base;
                s.spawn(move || {
                    for _ in 0..5 {
                        let args = os(&["-qq", "-f", "-j", "2", "--invalidation-mode", mode, "t"]);
                        let out = pyc_build(base, &args, &[], None);
                        assert!(out.status.success());
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    // No temporary file is left behind.
    for dir in ["t/p0/__pycache__", "t/p1/__pycache__"] {
        for e in std::fs::read_dir(base.join(dir)).unwrap() {
            let name = e.unwrap().file_name();
            assert!(name.to_string_lossy().ends_with(".pyc"), "{name:?}");
        }
    }
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn manifest_lists_every_pyc_with_its_hash() {
    if setup().is_none() {
        return;
    }
    use sha2::Digest;
    let base = temp_dir("manifest");
    write(&base.join("t/a.py"), "A = 1\n");
    write(&base.join("t/b.py"), "def f(:\n");
    write(&base.join("t/c.py"), "'''doc'''\nC = 2\n");
    let args = os(&["-q", "-o", "0", "-o", "2", "--manifest", "m.json", "t"]);
    let out = pyc_build(&base, &args, &[], None);
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(base.join("m.json")).unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 4, "{text}");
    let mut seen = Vec::new();
    for e in &list {
        let pyc = base.join(e["pyc"].as_str().unwrap());
        let data = std::fs::read(&pyc).unwrap();
        let hex: String = sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(e["sha256"].as_str(), Some(hex.as_str()));
        assert_eq!(e["written"], true);
        seen.push((
            e["source"].as_str().unwrap().to_string(),
            e["optimize"].as_u64().unwrap(),
        ));
    }
    // Sorted by pyc path.
    assert_eq!(
        seen,
        [
            ("t/a.py".into(), 2),
            ("t/a.py".into(), 0),
            ("t/c.py".into(), 2),
            ("t/c.py".into(), 0)
        ]
    );
    // Up-to-date pycs are listed too, as not written.
    let out = pyc_build(&base, &args, &[], None);
    assert_eq!(out.status.code(), Some(1));
    let again: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(base.join("m.json")).unwrap()).unwrap();
    assert_eq!(again.len(), 4);
    assert!(again.iter().all(|e| e["written"] == false));
    std::fs::remove_dir_all(&base).ok();
}
