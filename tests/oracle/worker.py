"""The oracle worker: a long-lived CPython process that answers questions about its own compiler.

Protocol: one JSON object per line on stdin; one JSON object per line on stdout. Binary data
travels as base64. Runs under every CPython from 3.8 on; it must not write pycs or touch the
files it is asked about.

It also runs inside Pyodide (CPython compiled to WebAssembly, `tests/pyodide/oracle.mjs`), which
calls `handle` per request line. There the host's files are mounted under
`$PYC_ORACLE_HOST_ROOT`: paths in requests and replies are the host's, and only the files
opened here are translated.
"""
import base64
import dis
import importlib.util
import io
import json
import marshal
import os
import re
import struct
import sys
import types
from importlib import _bootstrap_external as bext

ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# Where the host's root directory is mounted (Pyodide); empty for a native interpreter.
HOST_ROOT = os.environ.get("PYC_ORACLE_HOST_ROOT", "")


def host(path):
    """The path under which this interpreter sees the host's file `path`."""
    return HOST_ROOT + os.path.abspath(path) if HOST_ROOT else path


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text.encode("ascii"))


def compile_file(path, optimize=0):
    with open(host(path), "rb") as f:
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


def op_compile_source(req):
    """compile() of given source bytes; on failure the error, and whether ast.parse() (the
    parser alone, without symtable and code generation) failed too."""
    source = unb64(req["source"])
    filename = req.get("filename", "<snippet>")

    def describe(e):
        return {"type": type(e).__name__, "msg": str(getattr(e, "msg", e)),
                "lineno": getattr(e, "lineno", None), "offset": getattr(e, "offset", None),
                "end_lineno": getattr(e, "end_lineno", None),
                "end_offset": getattr(e, "end_offset", None)}

    import ast
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        error = describe(e)
    else:
        return {"ok": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source, filename)
    except (SyntaxError, ValueError):
        parsed = False
    else:
        parsed = True
    return {"ok": False, "error": error, "parsed": parsed}


CODE_FIELDS = ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals",
               "co_stacksize", "co_flags", "co_code", "co_consts", "co_names", "co_varnames",
               "co_freevars", "co_cellvars", "co_filename", "co_name", "co_qualname",
               "co_firstlineno", "co_lnotab", "co_linetable", "co_exceptiontable")


def key(obj):
    """A comparable form of a constant: exact types, floats by bit pattern (so NaN equals NaN
    and -0.0 differs from 0.0, as code objects want), frozensets as sets."""
    if isinstance(obj, types.CodeType):
        return ("code",) + tuple(key(getattr(obj, f, None)) for f in CODE_FIELDS)
    if isinstance(obj, float):
        return ("float", struct.pack("<d", obj))
    if isinstance(obj, complex):
        return ("complex", struct.pack("<dd", obj.real, obj.imag))
    if isinstance(obj, tuple):
        return ("tuple", tuple(key(x) for x in obj))
    if isinstance(obj, frozenset):
        return ("frozenset", frozenset(key(x) for x in obj))
    if isinstance(obj, slice):
        return ("slice", key(obj.start), key(obj.stop), key(obj.step))
    return (type(obj).__name__, obj)


def op_check_marshal(req):
    """Loads our marshal bytes and compares the code object, field by field in every nested
    code object, with CPython's own compile() of the file."""
    theirs = compile_file(req["path"], req.get("optimize", 0))
    try:
        ours = marshal.loads(unb64(req["ours"]))
    except Exception as e:  # what CPython says about our bytes is the answer
        return {"equal": False, "detail": "marshal.loads failed: %r" % (e,)}
    if not isinstance(ours, types.CodeType):
        return {"equal": False, "detail": "not a code object: %r" % (type(ours),)}
    a, b = list(walk(ours)), list(walk(theirs))
    if len(a) != len(b):
        return {"equal": False, "detail": "different number of code objects"}
    for x, y in zip(a, b):
        for field in CODE_FIELDS:
            if key(getattr(x, field, None)) != key(getattr(y, field, None)):
                return {"equal": False, "detail": "%s differs in %s" % (field, y.co_name)}
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


SYMBOL_PROPERTIES = ("is_referenced", "is_parameter", "is_global", "is_nonlocal",
                     "is_declared_global", "is_local", "is_annotated", "is_free",
                     "is_imported", "is_assigned")


def op_symtable(req):
    """The `symtable` module's scope tree of a file (type, name, lineno, children, and per
    symbol its raw flags and every is_* property), and per code object of compile() (walk
    order) its name, firstlineno, co_flags, co_cellvars, co_freevars and co_varnames; 3.11+
    also its localsplus names and kinds (rebuilt from those three, without CO_FAST_HIDDEN)."""
    import symtable
    with open(host(req["path"]), "rb") as f:
        source = f.read()

    def scope(table):
        raw = table._table
        symbols = []
        for name, flags in raw.symbols.items():
            sym = table.lookup(name)
            symbols.append({"name": name, "flags": flags,
                            "props": [p for p in SYMBOL_PROPERTIES if getattr(sym, p)()]})
        return {"type": str(getattr(table.get_type(), "value", table.get_type())),
                "raw_type": raw.type, "name": raw.name, "lineno": raw.lineno,
                "nested": bool(raw.nested), "varnames": list(raw.varnames),
                "symbols": symbols, "children": [scope(c) for c in table.get_children()]}

    try:
        try:
            top = symtable.symtable(source, req["path"], "exec")
        except TypeError:
            top = symtable.symtable(importlib.util.decode_source(source), req["path"], "exec")
        code = compile(source, req["path"], "exec", dont_inherit=True)
    except (SyntaxError, ValueError, SystemError) as e:  # SystemError: 3.12.1's own bugs
        return {"ok": False, "error": {
            "type": type(e).__name__, "msg": str(getattr(e, "msg", e)),
            "lineno": getattr(e, "lineno", None), "offset": getattr(e, "offset", None)}}
    codes = []
    for co in walk(code):
        entry = {"name": co.co_name, "firstlineno": co.co_firstlineno, "flags": co.co_flags,
                 "cellvars": list(co.co_cellvars), "freevars": list(co.co_freevars),
                 "varnames": list(co.co_varnames)}
        if hasattr(co, "_co_localsplusnames"):
            entry["localsplus"] = [[n, k] for n, k in zip(co._co_localsplusnames,
                                                          co._co_localspluskinds)]
        codes.append(entry)
    return {"ok": True, "top": scope(top), "code_objects": codes}


def op_dis(req):
    # What a pyc holds is the code object marshal loads back, which can list frozenset
    # members in another order than the freshly compiled one.
    code = marshal.loads(marshal.dumps(compile_file(req["path"], req.get("optimize", 0))))
    buf = io.StringIO()
    if req.get("show_code"):
        for co in walk(code):
            dis.show_code(co, file=buf)
    else:
        dis.dis(code, file=buf)
    return {"text": ADDRESS.sub(" at 0x0", buf.getvalue())}


def op_run_pyc(req):
    """Runs a pyc file in a fresh interpreter; returns its exit status, stdout and stderr.
    Without processes (Pyodide), runs its code object here as a fresh `__main__` module."""
    if sys.platform == "emscripten":
        return run_pyc_here(unb64(req["pyc"]))
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


def run_pyc_here(data):
    import contextlib
    import traceback
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = marshal.loads(data[16:])
            exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            status = 1
    return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


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
                with open(host(source_path), "rb") as f:
                    source_hash = importlib.util.source_hash(f.read())
                bext._validate_hash_pyc(data, source_hash, name, details)
            mode = "checked-hash" if flags & 0b10 else "unchecked-hash"
        else:
            st = os.stat(host(source_path))
            bext._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, name, details)
            mode = "timestamp"
        code = marshal.loads(memoryview(data)[16:])
        if not isinstance(code, types.CodeType):
            return {"ok": False, "error": "not a code object"}
    except (ImportError, EOFError, ValueError, TypeError) as e:
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    return {"ok": True, "mode": mode}


def op_fold(req):
    """Constant folding, per snippet: compile() at the snippet's optimize level and report
    the instruction just before the probed one (`store`: the last STORE_NAME x; `iter`: the
    last GET_ITER; `in`: the first `in`/`not in` test) and, if it is a LOAD_CONST, its
    constant. From 3.13 also the AST optimizer's result alone (ast.parse with optimize, at
    least 1) for the probed expression: `x`'s value, or the iterable of the first `for` loop
    (else of the first comprehension in `x`'s value)."""
    import ast
    import warnings

    def tagged(obj):
        """A constant as JSON with its exact type: ints in hex (free of the int-to-str
        limit), floats by their little-endian bytes, str as UTF-8 with surrogates passed."""
        if obj is None or obj is Ellipsis:
            return [repr(obj)]
        if isinstance(obj, bool):
            return ["bool", obj]
        if isinstance(obj, int):
            return ["int", hex(obj)]
        if isinstance(obj, float):
            return ["float", struct.pack("<d", obj).hex()]
        if isinstance(obj, complex):
            return ["complex", struct.pack("<d", obj.real).hex(),
                    struct.pack("<d", obj.imag).hex()]
        if isinstance(obj, str):
            return ["str", obj.encode("utf-8", "surrogatepass").hex()]
        if isinstance(obj, bytes):
            return ["bytes", obj.hex()]
        if isinstance(obj, (tuple, frozenset)):
            return [type(obj).__name__, [tagged(x) for x in obj]]
        return ["other", type(obj).__name__]

    def shape(node):
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return ["const", tagged(node.value)]
        if isinstance(node, ast.Name):
            return ["name", node.id]
        if isinstance(node, ast.BinOp):
            return ["binop", type(node.op).__name__, shape(node.left), shape(node.right)]
        if isinstance(node, ast.UnaryOp):
            return ["unary", type(node.op).__name__, shape(node.operand)]
        if isinstance(node, ast.BoolOp):
            return ["boolop", type(node.op).__name__, [shape(v) for v in node.values]]
        if isinstance(node, ast.Compare):
            return ["compare", [type(o).__name__ for o in node.ops], shape(node.left),
                    [shape(c) for c in node.comparators]]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [type(node).__name__.lower(), [shape(e) for e in node.elts]]
        if isinstance(node, ast.Subscript):
            return ["subscript", shape(node.value), shape(node.slice)]
        if isinstance(node, ast.Slice):
            return ["slice", shape(node.lower), shape(node.upper), shape(node.step)]
        if isinstance(node, ast.Starred):
            return ["starred", shape(node.value)]
        if isinstance(node, ast.JoinedStr):
            return ["joined", [shape(v) for v in node.values]]
        if isinstance(node, ast.FormattedValue):
            spec = node.format_spec
            if isinstance(spec, ast.JoinedStr) and all(
                    isinstance(v, ast.Constant) for v in spec.values):
                spec = ast.Constant("".join(v.value for v in spec.values))
            return ["formatted", shape(node.value), node.conversion, shape(spec)]
        if isinstance(node, ast.Call):
            return ["call", shape(node.func), [shape(a) for a in node.args]]
        if isinstance(node, ast.Attribute):
            return ["attribute", shape(node.value), node.attr]
        return [type(node).__name__]

    def probed(tree, probe):
        if probe == "iter":
            for stmt in tree.body:
                if isinstance(stmt, ast.For):
                    return stmt.iter
        for stmt in reversed(tree.body):
            if (isinstance(stmt, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "x" for t in stmt.targets)):
                if probe == "iter":
                    generators = getattr(stmt.value, "generators", None)
                    return generators[0].iter if generators else None
                return stmt.value
        return None

    results = []
    for snippet in req["snippets"]:
        source, probe = snippet["source"], snippet["probe"]
        optimize = snippet.get("optimize", 0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(source, "<fold>", "exec", dont_inherit=True, optimize=optimize)
                tree = (ast.parse(source, optimize=max(1, optimize))
                        if sys.version_info >= (3, 13) else None)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as e:
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
            continue
        ins = [i for i in dis.get_instructions(code) if i.opname not in ("NOP", "CACHE")]
        at = None
        for n, i in enumerate(ins):
            if ((probe == "store" and i.opname == "STORE_NAME" and i.argval == "x")
                    or (probe == "iter" and i.opname == "GET_ITER")):
                at = n
            elif at is None and probe == "in" and (i.opname == "CONTAINS_OP" or (
                    i.opname == "COMPARE_OP" and i.argval in ("in", "not in"))):
                at = n
        result = {"op": None, "const": None}
        if at:
            prev = ins[at - 1]
            result["op"] = prev.opname
            if prev.opname == "LOAD_CONST":
                result["const"] = tagged(prev.argval)
            elif prev.opname == "LOAD_SMALL_INT" or (
                    prev.opname == "LOAD_COMMON_CONSTANT"
                    and isinstance(prev.argval, (type(None), bool, int, str))):
                # 3.14+ loads small ints, and 3.15 a few other constants, without co_consts:
                # folding made the same constant.
                result["op"] = "LOAD_CONST"
                result["const"] = tagged(prev.argval)
        if tree is not None:
            result["ast"] = shape(probed(tree, probe))
        results.append(result)
    return {"results": results}


def stack_replay(code):
    """Depth before and after each instruction of one code object, replayed with this
    interpreter's own dis.stack_effect over jumps and the exception table."""
    instrs = list(dis.get_instructions(code))
    index = {i.offset: n for n, i in enumerate(instrs)}
    entries = dis._parse_exception_table(code) if hasattr(dis, "_parse_exception_table") else []
    gen = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
    start = 1 if sys.version_info[:2] == (3, 11) and code.co_flags & gen else 0
    before = [None] * len(instrs)
    after = [None] * len(instrs)
    stops = {"JUMP_ABSOLUTE", "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
             "RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"}
    work = []

    def reach(n, depth):
        if depth < 0:
            raise ValueError("negative depth at %d" % instrs[n].offset)
        if before[n] is None:
            before[n] = depth
            work.append(n)
        elif before[n] != depth:
            raise ValueError("offset %d reached with %d and %d" % (instrs[n].offset, before[n], depth))

    if instrs:
        reach(0, start)
    while work:
        n = work.pop()
        ins = instrs[n]
        depth = before[n]
        arg = ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None
        for e in entries:
            if e.start <= ins.offset < e.end:
                reach(index[e.target], e.depth + int(e.lasti) + 1)
                break
        effect = dis.stack_effect(ins.opcode, arg, jump=False)
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            target = ins.argval
            reach(index[target], depth + dis.stack_effect(ins.opcode, arg, jump=True))
        after[n] = depth + effect
        if ins.opname not in stops and n + 1 < len(instrs):
            reach(n + 1, depth + effect)
    seen = [d for d in before + after if d is not None]
    return {"qualname": getattr(code, "co_qualname", code.co_name),
            "depths": [[i.offset, before[n], after[n]] for n, i in enumerate(instrs)],
            "max": max(seen) if seen else 0, "stacksize": code.co_stacksize}


def op_stack_replay(req):
    """For marshalled code (ours or CPython's), every code object's depths, depth first."""
    code = marshal.loads(unb64(req["marshal"]))
    out = []
    for c in walk(code):
        try:
            out.append(stack_replay(c))
        except (ValueError, KeyError) as e:
            out.append({"qualname": getattr(c, "co_qualname", c.co_name), "error": str(e)})
    return {"units": out}


def op_stdlib(req):
    """The standard library's directory. Pyodide imports its standard library from a zip
    file: its `.py` files are extracted once to `$PYC_ORACLE_STDLIB_EXPORT` on the host,
    whose path is returned."""
    import sysconfig
    export = os.environ.get("PYC_ORACLE_STDLIB_EXPORT")
    if not HOST_ROOT or not export:
        return {"path": sysconfig.get_paths()["stdlib"]}
    import shutil
    import zipfile
    archive = next(p for p in sys.path if p.endswith(".zip"))
    stamp = "%s\n%s\n" % (sys.version, archive)
    target = os.path.join(export, "lib", "python%d.%d" % sys.version_info[:2])
    marker = host(os.path.join(export, "VERSION"))
    if not os.path.exists(marker) or open(marker).read() != stamp:
        # Several oracles may start at once: each extracts to a directory of its own and
        # renames it into place; the first rename wins.
        if os.path.exists(marker):  # another version's copy
            shutil.rmtree(host(export), ignore_errors=True)
        partial = host(export) + ".partial-" + os.urandom(8).hex()
        with zipfile.ZipFile(archive) as z:
            z.extractall(partial + target[len(export):],
                         [n for n in z.namelist() if n.endswith(".py")])
        with open(os.path.join(partial, "VERSION"), "w") as f:
            f.write(stamp)
        try:
            os.rename(partial, host(export))
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
    return {"path": target}


def op_version(req):
    return {"version": "%d.%d.%d" % sys.version_info[:3],
            "magic": b64(importlib.util.MAGIC_NUMBER),
            "hash_width": sys.hash_info.width, "hash_algorithm": sys.hash_info.algorithm}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def prepare():
    """Settings for a whole session: no pycs written, no warnings shown."""
    sys.dont_write_bytecode = True
    # Compiling the stdlib's test data warns (SyntaxWarning, DeprecationWarning): not our news.
    import warnings
    warnings.simplefilter("ignore")


def main():
    prepare()
    out = sys.stdout
    for line in sys.stdin:
        if line.strip():
            out.write(handle(line) + "\n")
            out.flush()


def handle(line):
    """The JSON reply (one line) to one JSON request line."""
    try:
        req = json.loads(line)
        reply = OPS[req["op"]](req)
    except Exception as e:
        reply = {"internal_error": "%s: %s" % (type(e).__name__, e)}
    return json.dumps(reply)


if __name__ == "__main__":
    main()
