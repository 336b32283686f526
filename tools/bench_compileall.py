#!/usr/bin/env python3
"""Times `pyc-build -q -j0` against `python3.X -m compileall -q -f -j0` on fresh copies of
CPython 3.X's standard library, in the same run, and prints the wall-time ratio, the user and
system CPU time, and the peak memory of each (the sum of the resident sets of the whole process
tree, sampled, and the largest single process as the kernel counts it).

Usage: python3 tools/bench_compileall.py [--target 3.11] [--python PATH] [--pyc-build PATH]
       [--runs N] [--dir DIR]

The system time is mostly the file system creating the new pycs, the same work for both tools;
`--dir` puts the copies elsewhere (a tmpfs such as /dev/shm shows the tools without it).

Without --pyc-build, builds it with `cargo build --release -p pyc-build`. Without --python,
the interpreter is $PYC_PYTHON_3_X, else pyenv's newest 3.X, else python3.X on PATH.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_python(target):
    env = os.environ.get("PYC_PYTHON_" + target.replace(".", "_"))
    if env:
        return env
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
        versions = sorted(
            (p for p in Path(root, "versions").glob(target + ".*")
             if p.name[len(target) + 1:].isdigit()),
            key=lambda p: int(p.name.split(".")[2]))
        if versions:
            return str(versions[-1] / "bin" / "python3")
    except (OSError, subprocess.CalledProcessError):
        pass
    found = shutil.which("python" + target)
    if found:
        return found
    sys.exit(f"no CPython {target} found (give --python)")


def tree_rss(root):
    """The summed resident set (bytes) of `root` and all its descendants."""
    parents = {}
    rss = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * page
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(p for p, parent in parents.items() if parent == pid)
    return total


def measure(argv, cwd):
    """Runs argv; returns (wall seconds, user CPU seconds, system CPU seconds, peak tree RSS,
    peak single-process RSS, exit code). CPU times and the single-process peak count the
    process and the children it waited for (compileall's workers)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux: the largest of the process and its waited-for children.
    return (wall, usage.ru_utime, usage.ru_stime, peak, usage.ru_maxrss * 1024,
            proc.returncode)


def copy_stdlib(python, dest):
    lib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(lib, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "site-packages", "*.pyc"))


def count_pycs(root):
    return sum(1 for _ in Path(root).rglob("*.pyc"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="3.11")
    parser.add_argument("--python")
    parser.add_argument("--pyc-build", dest="pyc_build")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dir", help="where the copies of the standard library go "
                        "(default: the system's temporary directory)")
    args = parser.parse_args()
    python = args.python or find_python(args.target)
    pyc_build = args.pyc_build
    if not pyc_build:
        subprocess.run(["cargo", "build", "--release", "-p", "pyc-build"], cwd=REPO,
                       check=True)
        target_dir = os.environ.get("CARGO_TARGET_DIR", REPO / "target")
        pyc_build = str(Path(target_dir, "release", "pyc-build"))
    pyc_build = str(Path(pyc_build).resolve())
    print(f"python: {python}\npyc-build: {pyc_build}\ncores: {os.cpu_count()}")
    rows = {"compileall": [], "pyc-build": []}
    tools = [
        ("compileall", [python, "-m", "compileall", "-q", "-f", "-j0", "Lib"]),
        ("pyc-build", [pyc_build, "--target", args.target, "-q", "-j0", "Lib"]),
    ]
    with tempfile.TemporaryDirectory(prefix="pyc-bench-", dir=args.dir) as tmp:
        # Every copy is made before the first run and removed after the last: deleting a
        # tree just before a run would make the file system's inode allocation part of
        # what is measured (ext4 without a journal skips recently freed inodes one by one).
        for run in range(args.runs):
            for name, _ in tools:
                copy_stdlib(python, Path(tmp, f"{name}-{run}", "Lib"))
        for run in range(args.runs):
            for name, argv in tools:
                work = Path(tmp, f"{name}-{run}")
                *measured, = measure(argv, work)
                rows[name].append((*measured, count_pycs(work)))
    print(f"{'':12} {'wall s':>7} {'user s':>7} {'sys s':>7} {'peak RSS (tree)':>16} "
          f"{'largest process':>16} {'exit':>5} {'pycs':>6}")
    best, cpu = {}, {}
    for name, results in rows.items():
        for wall, user, system, peak, single, code, pycs in results:
            print(f"{name:12} {wall:7.2f} {user:7.2f} {system:7.2f} {peak / 2**20:12.1f} MiB "
                  f"{single / 2**20:12.1f} MiB {code:5} {pycs:6}")
        best[name] = min(r[0] for r in results)
        cpu[name] = min(r[1] + r[2] for r in results)
    print(f"wall-time ratio (compileall / pyc-build, best of {args.runs}): "
          f"{best['compileall'] / best['pyc-build']:.2f}x")
    print(f"CPU-time ratio (compileall / pyc-build, best of {args.runs}): "
          f"{cpu['compileall'] / cpu['pyc-build']:.2f}x")
    peak = max(r[3] for r in rows["pyc-build"])
    print(f"pyc-build peak RSS: {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
