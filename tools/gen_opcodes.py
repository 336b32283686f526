#!/usr/bin/env python3
"""Generate assembler/src/opcode/generated.rs from the real CPython interpreters.

For each supported version (3.8 to 3.15) this runs an extraction snippet in that version's
interpreter, which reports the `opcode` and `dis` tables as JSON, then fits every opcode's
`dis.stack_effect` to a compact formula, verifies the formula against every sampled value, and
writes the Rust tables.

Interpreters: `$PYC_PYTHON_3_X` if set, else the newest `$(pyenv root)/versions/3.X.N/bin/python3`,
else (3.14, 3.15) CPython compiled to WebAssembly: the Pyodide npm package `pyodide3X` of
`tests/pyodide/package.json`, run by node (`$PYC_NODE`, else `node`) through
`tests/pyodide/oracle.mjs`; `npm ci` installs the packages when they are missing.

Usage: gen_opcodes.py [--check] [--output PATH]

Exit codes: 0 success (or up to date), 1 the file on disk is stale (--check), 2 an error
(extraction, or a stack effect that no formula fits), 3 an interpreter is missing.
"""

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

VERSIONS = (8, 9, 10, 11, 12, 13, 14, 15)
REPO = Path(__file__).resolve().parent.parent
PYODIDE = REPO / "tests" / "pyodide"
OUTPUT = REPO / "assembler" / "src" / "opcode" / "generated.rs"

EXIT_STALE = 1
EXIT_ERROR = 2
EXIT_MISSING = 3

# Runs inside the interpreter being examined (3.8 to 3.15), so it must stay valid for all of them.
EXTRACT = r'''
import dis, json, opcode, sys

# CPython reads the argument as a C int: 0 to 2**31 - 1.
END = 1 << 31
SAMPLES = set(range(1024))
for i in range(10, 32):
    SAMPLES.update(x for x in ((1 << i) - 1, 1 << i, (1 << i) + 1) if x < END)
SAMPLES.update((65535, 0x12345, 0x12345678, 0x5555aaaa, 0x7ffffffe))


def effect(op, arg, jump):
    try:
        return dis.stack_effect(op, arg, jump=jump)
    except ValueError:
        return None


def limit(op, jump):
    """The first argument from which every argument is rejected (2**31 when none is)."""
    if effect(op, END - 1, jump) is not None:
        return END
    if effect(op, 0, jump) is None:
        return 0
    lo, hi = 0, END - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if effect(op, mid, jump) is None:
            hi = mid
        else:
            lo = mid
    return hi


def effects(op, has_arg, jump):
    if not has_arg:
        return {"const": effect(op, None, jump)}
    end = limit(op, jump)
    args = SAMPLES | set(a for a in range(end - 2, end + 2) if 0 <= a < END)
    return {"limit": end, "samples": [[a, effect(op, a, jump)] for a in sorted(args)]}


hasarg = getattr(opcode, "hasarg", None)
hasjump = getattr(opcode, "hasjump", None)
caches = getattr(opcode, "_inline_cache_entries", None)
cache_format = getattr(opcode, "_cache_format", {})
is_backward = getattr(dis, "_is_backward_jump", lambda op: False)

ops = []
for name, num in sorted(opcode.opmap.items(), key=lambda kv: kv[1]):
    has_arg = num in hasarg if hasarg is not None else num >= opcode.HAVE_ARGUMENT
    if hasattr(caches, "get"):  # a dict (3.13), a frozendict (3.15)
        n_caches = caches.get(name, 0)
    elif caches is not None and num < len(caches):
        n_caches = caches[num]
    else:
        n_caches = 0
    flags = {
        "ARG": has_arg,
        "CONST": num in opcode.hasconst,
        "NAME": num in opcode.hasname,
        "JREL": num in opcode.hasjrel,
        "JABS": num in opcode.hasjabs,
        "LOCAL": num in opcode.haslocal,
        "FREE": num in opcode.hasfree,
        "COMPARE": num in opcode.hascompare,
        "EXC": num in getattr(opcode, "hasexc", ()),
        "JUMP": num in hasjump if hasjump is not None
                else num in opcode.hasjrel or num in opcode.hasjabs,
        "PSEUDO": num >= 256,
        "BACKWARD": bool(is_backward(num)),
    }
    ops.append({
        "name": name,
        "number": num,
        "caches": n_caches,
        "cache_format": [[k, v] for k, v in cache_format.get(name, {}).items()],
        "flags": [k for k, v in flags.items() if v],
        "effects": [effects(num, has_arg, False), effects(num, has_arg, True)],
    })

if hasattr(dis, "FORMAT_VALUE_CONVERTERS"):
    converters = [text for _, text in dis.FORMAT_VALUE_CONVERTERS]
else:
    # 3.13 spells CONVERT_VALUE's argument names inline; ask its argument resolver.
    converters = []
    resolver = dis.ArgResolver()
    while True:
        try:
            converters.append(resolver.get_argval_argrepr(dis.CONVERT_VALUE, len(converters), 0)[1])
        except IndexError:
            break

def describe(obj):
    """How `dis` names a constant of `LOAD_COMMON_CONSTANT`."""
    return obj.__name__ if isinstance(obj, type) else repr(obj)


json.dump({
    "version": list(sys.version_info[:2]),
    "have_argument": opcode.HAVE_ARGUMENT,
    "extended_arg": opcode.EXTENDED_ARG,
    "ops": ops,
    "cmp_op": list(opcode.cmp_op),
    "nb_ops": [list(pair) for pair in getattr(opcode, "_nb_ops", [])],
    "intrinsic1": list(getattr(opcode, "_intrinsic_1_descs", [])),
    "intrinsic2": list(getattr(opcode, "_intrinsic_2_descs", [])),
    "compiler_flag_names": sorted(dis.COMPILER_FLAG_NAMES.items()),
    "make_function_flags": list(getattr(dis, "MAKE_FUNCTION_FLAGS", None)
                                or getattr(dis, "FUNCTION_ATTR_FLAGS")),
    "format_value_converters": converters,
    "common_constants": [describe(c) for c in getattr(opcode, "_common_constants", [])],
    "special_method_names": list(getattr(opcode, "_special_method_names", [])),
}, sys.stdout)
'''


class Missing(Exception):
    pass


class Failure(Exception):
    pass


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        root = os.environ.get("PYENV_ROOT")
        return Path(root) if root else None


def pyodide(minor):
    """The command that runs a Python script (read from stdin) in Pyodide's CPython 3.X."""
    package = "pyodide3{}".format(minor)
    try:
        manifest = json.loads((PYODIDE / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if package not in manifest.get("dependencies", {}):
        return None
    node = shutil.which(os.environ.get("PYC_NODE", "node"))
    if node is None:
        raise Missing("no CPython 3.{} interpreter, and no node to run Pyodide".format(minor))
    if not (PYODIDE / "node_modules" / package / "pyodide.mjs").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise Missing("no CPython 3.{}, and no npm to install Pyodide".format(minor))
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=str(PYODIDE),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Missing("npm ci in tests/pyodide failed:\n{}".format(proc.stderr))
    return [node, str(PYODIDE / "oracle.mjs"), "3.{}".format(minor), "--script"]


def interpreter(minor):
    """The command that runs a Python script read from stdin in CPython 3.X."""
    var = "PYC_PYTHON_3_{}".format(minor)
    if os.environ.get(var):
        exe = shutil.which(os.environ[var])
        if exe is None:
            raise Missing("{}={} is not an executable".format(var, os.environ[var]))
        return [exe, "-I", "-"]
    root = pyenv_root()
    found = []
    if root is not None and (root / "versions").is_dir():
        for entry in (root / "versions").iterdir():
            m = re.fullmatch(r"3\.{}\.(\d+)".format(minor), entry.name)
            exe = entry / "bin" / "python3"
            if m and exe.is_file():
                found.append((int(m.group(1)), exe))
    if not found:
        command = pyodide(minor)
        if command is not None:
            return command
        raise Missing("no CPython 3.{} interpreter: set {} or install 3.{}.x under pyenv"
                      .format(minor, var, minor))
    return [str(max(found)[1]), "-I", "-"]


def extract(minor, command):
    shown = " ".join(command)
    try:
        proc = subprocess.run(command, input=EXTRACT, capture_output=True, text=True)
    except OSError as e:
        raise Missing("cannot run {}: {}".format(shown, e))
    if proc.returncode != 0:
        raise Failure("extraction failed in {}:\n{}".format(shown, proc.stderr))
    data = json.loads(proc.stdout)
    if data["version"] != [3, minor]:
        raise Failure("{} is Python {}.{}, expected 3.{}".format(shown, *data["version"], minor))
    return data


# Stack effects: base + sum of factor * ((arg >> shift) & (2**width - 1)), in wrapping 32-bit
# arithmetic like CPython's C code, for arguments below `limit` (at most 2**31: CPython takes the
# argument as a C int); an explicit table of exceptions wins over the formula, and a result of
# INT_MAX is CPython's "invalid" sentinel. This mirrors `StackEffect::eval` in opcode.rs exactly.

U32 = 1 << 32
END = 1 << 31
INT_MAX = (1 << 31) - 1
MAX_EXCEPTIONS = 8


def wrap(x):
    x %= U32
    return x - U32 if x > INT_MAX else x


def evaluate(fit, arg, use_exceptions=True):
    base, terms, limit, exceptions = fit
    if use_exceptions:
        for a, v in exceptions:
            if a == arg:
                return v
    if arg >= limit:
        return None
    acc = base
    for shift, width, factor in terms:
        acc = wrap(acc + factor * ((arg >> shift) & ((1 << width) - 1)))
    return None if acc == INT_MAX else acc


def fit_effect(what, eff):
    if "const" in eff:
        v = eff["const"]
        return (0, [], 0, []) if v is None else (v, [], END, [])
    limit = eff["limit"]
    samples = dict((a, v) for a, v in eff["samples"])
    if limit == 0:
        fit = (0, [], 0, [])
    else:
        base = samples[0]
        weights = []
        for i in range(31):
            # The weight of bit i, from 2**i + x against x (x = 1 where 2**i itself hits the
            # INT_MAX sentinel).
            weight = 0
            if (1 << i) < limit:
                pairs = [(samples.get((1 << i) + x), samples.get(x)) for x in (0, 1)]
                pairs = [(hi, lo) for hi, lo in pairs if hi is not None and lo is not None]
                if not pairs:
                    raise Failure("{}: rejects argument {} below its limit {}"
                                  .format(what, 1 << i, limit))
                weight = wrap(pairs[0][0] - pairs[0][1])
            weights.append(weight)
        terms = []
        i = 0
        while i < 31:
            if weights[i] == 0:
                i += 1
                continue
            width = 1
            while i + width < 31 and weights[i + width] == wrap(weights[i] << width):
                width += 1
            terms.append((i, width, weights[i]))
            i += width
        fit = (base, terms, limit, [])
    exceptions = [(a, v) for a, v in sorted(samples.items()) if evaluate(fit, a, False) != v]
    if len(exceptions) > MAX_EXCEPTIONS:
        raise Failure("{}: no formula fits ({} exceptions, first {})"
                      .format(what, len(exceptions), exceptions[:4]))
    fit = fit[:3] + (exceptions,)
    for a, v in samples.items():
        if evaluate(fit, a) != v:
            raise Failure("{}: fit gives {} for argument {}, CPython {}".format(what, evaluate(fit, a), a, v))
    return fit


# Rust output.

FLAG_ORDER = ("ARG", "CONST", "NAME", "JREL", "JABS", "LOCAL", "FREE", "COMPARE", "EXC", "JUMP",
              "PSEUDO", "BACKWARD")


def rs_str(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("\\u{{{:x}}}".format(ord(ch)))
    return '"' + "".join(out) + '"'


def rs_list(items):
    return "&[" + ", ".join(items) + "]"


def rs_limit(limit):
    return "ANY" if limit == END else str(limit)


def rs_effect(fit):
    base, terms, limit, exceptions = fit
    if limit == 0 and not exceptions:
        return "INVALID"
    if not terms and not exceptions and limit == END:
        return "c({})".format(base)
    return "fx({}, {}, {}, {})".format(
        base,
        rs_list("({}, {}, {})".format(*t) for t in terms),
        rs_limit(limit),
        rs_list("({}, {})".format(a, "None" if v is None else "Some({})".format(v))
                for a, v in exceptions),
    )


def render_table(minor, data):
    ops = data["ops"]
    numbers = [op["number"] for op in ops]
    if len(set(numbers)) != len(numbers) or len(ops) >= 255:
        raise Failure("3.{}: opcode numbers are not unique, or too many opcodes".format(minor))
    index = [255] * (max(numbers) + 1)
    for i, n in enumerate(numbers):
        index[n] = i
    by_name = sorted(range(len(ops)), key=lambda i: ops[i]["name"])
    lines = [
        "/// The opcode table of CPython 3.{}.".format(minor),
        "pub(super) static V3_{}: OpcodeTable = OpcodeTable {{".format(minor),
        "    version: PythonVersion::V3_{},".format(minor),
        "    have_argument: {},".format(data["have_argument"]),
        "    extended_arg: {},".format(data["extended_arg"]),
        "    ops: &[",
    ]
    for op in ops:
        what = "3.{} {}".format(minor, op["name"])
        fits = [fit_effect("{} (jump={})".format(what, j), e)
                for j, e in zip((False, True), op["effects"])]
        if sum(size for _, size in op["cache_format"]) not in (0, op["caches"]):
            raise Failure("{}: cache format does not add up to {}".format(what, op["caches"]))
        flags = " | ".join(f for f in FLAG_ORDER if f in op["flags"]) or "0"
        lines.append("        op({}, {}, {}, {}, {}, {}, {}),".format(
            rs_str(op["name"]), op["number"], op["caches"],
            rs_list("({}, {})".format(rs_str(k), v) for k, v in op["cache_format"]),
            flags, rs_effect(fits[0]), rs_effect(fits[1])))
    lines += [
        "    ],",
        "    index: {},".format(rs_list(str(i) for i in index)),
        "    by_name: {},".format(rs_list(str(i) for i in by_name)),
        "    cmp_op: {},".format(rs_list(rs_str(s) for s in data["cmp_op"])),
        "    nb_ops: {},".format(rs_list("({}, {})".format(rs_str(a), rs_str(b)) for a, b in data["nb_ops"])),
        "    intrinsic1: {},".format(rs_list(rs_str(s) for s in data["intrinsic1"])),
        "    intrinsic2: {},".format(rs_list(rs_str(s) for s in data["intrinsic2"])),
        "    compiler_flag_names: {},".format(
            rs_list("({}, {})".format(k, rs_str(v)) for k, v in data["compiler_flag_names"])),
        "    make_function_flags: {},".format(rs_list(rs_str(s) for s in data["make_function_flags"])),
        "    format_value_converters: {},".format(rs_list(rs_str(s) for s in data["format_value_converters"])),
        "    common_constants: {},".format(rs_list(rs_str(s) for s in data["common_constants"])),
        "    special_method_names: {},".format(rs_list(rs_str(s) for s in data["special_method_names"])),
        "};",
    ]
    return "\n".join(lines)


def render(tables):
    header = [
        "// @generated by tools/gen_opcodes.py \u2014 do not edit.",
        "// Regenerate with `python3 tools/gen_opcodes.py`; check with `--check`.",
        "//! Opcode tables extracted from the CPython interpreters by `tools/gen_opcodes.py`.",
        "",
        "use super::flags::*;",
        "use super::{c, fx, op, OpcodeTable, ANY, INVALID};",
        "use crate::PythonVersion;",
    ]
    return "\n".join(header) + "\n\n" + "\n\n".join(render_table(m, d) for m, d in tables) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file on disk differs from what would be generated")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the file to write or check")
    args = parser.parse_args()
    shown = os.path.relpath(args.output)
    try:
        exes = [(m, interpreter(m)) for m in VERSIONS]
        text = render([(m, extract(m, exe)) for m, exe in exes])
    except Missing as e:
        print("gen_opcodes: {}".format(e), file=sys.stderr)
        return EXIT_MISSING
    except Failure as e:
        print("gen_opcodes: {}".format(e), file=sys.stderr)
        return EXIT_ERROR
    if args.check:
        try:
            current = args.output.read_text(encoding="utf-8")
        except OSError as e:
            print("gen_opcodes: {} is missing: {}".format(shown, e), file=sys.stderr)
            return EXIT_STALE
        if current == text:
            print("gen_opcodes: {} is up to date".format(shown))
            return 0
        diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                         "on disk", "generated", lineterm="", n=0))
        changed = sum(1 for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---"))
        print("gen_opcodes: {} is stale ({} lines differ); regenerate with tools/gen_opcodes.py"
              .format(shown, changed), file=sys.stderr)
        for line in diff[:40]:
            print("  " + line[:160], file=sys.stderr)
        return EXIT_STALE
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print("gen_opcodes: wrote {}".format(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
