"""The oracle worker: a long-lived CPython process that answers questions about its own compiler.

Protocol: one JSON object per line on stdin; one JSON object per line on stdout. Binary data
travels as base64. Runs under every CPython from 3.8 on; it must not write pycs or touch the
files it is asked about.
"""
import base64
import dis
import importlib.util
import io
import json
import marshal
import re
import sys
import types
from importlib import _bootstrap_external as bext

ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text.encode("ascii"))


def compile_file(path, optimize=0):
    with open(path, "rb") as f:
        source = f.read()
    return compile(source, path, "exec", dont_inherit=True, optimize=optimize)


def walk(code):
    """Every code object, depth first, in co_consts order (the order our tests use too)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from walk(const)


def line_table(code):
    if sys.version_info >= (3, 10):
        return code.co_linetable
    return code.co_lnotab


def exception_table(code):
    return getattr(code, "co_exceptiontable", b"")


def op_compile(req):
    try:
        code = compile_file(req["path"], req.get("optimize", 0))
    except (SyntaxError, ValueError) as e:
        return {"ok": False, "error": {
            "type": type(e).__name__, "msg": str(getattr(e, "msg", e)),
            "lineno": getattr(e, "lineno", None), "offset": getattr(e, "offset", None)}}
    return {"ok": True, "marshal": b64(marshal.dumps(code))}


def op_check_marshal(req):
    """Loads our marshal bytes and compares the code object with CPython's own compile()."""
    theirs = compile_file(req["path"], req.get("optimize", 0))
    try:
        ours = marshal.loads(unb64(req["ours"]))
    except Exception as e:  # what CPython says about our bytes is the answer
        return {"equal": False, "detail": "marshal.loads failed: %r" % (e,)}
    if ours != theirs:
        return {"equal": False, "detail": "code objects differ (==)"}
    a, b = list(walk(ours)), list(walk(theirs))
    if len(a) != len(b):
        return {"equal": False, "detail": "different number of code objects"}
    for x, y in zip(a, b):
        for field in ("co_code", "co_consts", "co_names", "co_varnames", "co_freevars",
                      "co_cellvars", "co_filename", "co_name", "co_firstlineno",
                      "co_stacksize", "co_flags", "co_argcount", "co_kwonlyargcount",
                      "co_posonlyargcount", "co_nlocals", "co_qualname"):
            if getattr(x, field, None) != getattr(y, field, None):
                return {"equal": False, "detail": "%s differs in %s" % (field, y.co_name)}
        if line_table(x) != line_table(y) or exception_table(x) != exception_table(y):
            return {"equal": False, "detail": "line or exception table differs in %s" % y.co_name}
    return {"equal": True, "detail": ""}


def op_tables(req):
    code = compile_file(req["path"], req.get("optimize", 0))
    out = []
    for co in walk(code):
        entry = {"name": co.co_name,
                 "linestarts": [list(p) for p in dis.findlinestarts(co)]}
        if hasattr(co, "co_lines"):
            entry["lines"] = [list(t) for t in co.co_lines()]
        if hasattr(co, "co_positions"):
            entry["positions"] = [list(t) for t in co.co_positions()]
        if hasattr(dis, "_parse_exception_table"):
            entry["exceptions"] = [[e.start, e.end, e.target, e.depth, e.lasti]
                                   for e in dis._parse_exception_table(co)]
        out.append(entry)
    return {"code_objects": out}


def op_dis(req):
    code = compile_file(req["path"], req.get("optimize", 0))
    buf = io.StringIO()
    if req.get("show_code"):
        for co in walk(code):
            dis.show_code(co, file=buf)
    else:
        dis.dis(code, file=buf)
    return {"text": ADDRESS.sub(" at 0x0", buf.getvalue())}


def op_run_pyc(req):
    """Runs a pyc file in a fresh interpreter; returns its exit status, stdout and stderr."""
    import os
    import subprocess
    import tempfile
    fd, path = tempfile.mkstemp(suffix=".pyc")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(unb64(req["pyc"]))
        proc = subprocess.run([sys.executable, "-I", path], capture_output=True, timeout=60)
    finally:
        os.unlink(path)
    return {"status": proc.returncode,
            "stdout": proc.stdout.decode("utf-8", "replace"),
            "stderr": proc.stderr.decode("utf-8", "replace")}


def op_source_hash(req):
    return {"hash": b64(importlib.util.source_hash(unb64(req["data"])))}


def op_validate_pyc(req):
    """Runs importlib's own checks of a pyc against its source, as SourceLoader.get_code does."""
    data = unb64(req["pyc"])
    source_path = req["source"]
    name = "oracle_module"
    details = {"name": name, "path": req.get("pyc_path", "<pyc>")}
    try:
        flags = bext._classify_pyc(data, name, details)
        if flags & 0b1:
            if flags & 0b10:
                with open(source_path, "rb") as f:
                    source_hash = importlib.util.source_hash(f.read())
                bext._validate_hash_pyc(data, source_hash, name, details)
            mode = "checked-hash" if flags & 0b10 else "unchecked-hash"
        else:
            import os
            st = os.stat(source_path)
            bext._validate_timestamp_pyc(data, st.st_mtime, st.st_size, name, details)
            mode = "timestamp"
        code = marshal.loads(memoryview(data)[16:])
        if not isinstance(code, types.CodeType):
            return {"ok": False, "error": "not a code object"}
    except (ImportError, EOFError, ValueError, TypeError) as e:
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    return {"ok": True, "mode": mode}


def op_stdlib(req):
    import sysconfig
    return {"path": sysconfig.get_paths()["stdlib"]}


def op_version(req):
    return {"version": "%d.%d.%d" % sys.version_info[:3],
            "magic": b64(importlib.util.MAGIC_NUMBER)}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main():
    sys.dont_write_bytecode = True
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            reply = OPS[req["op"]](req)
        except Exception as e:
            reply = {"internal_error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
