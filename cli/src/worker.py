"""pyc-build check's worker: compiles sources with this interpreter's own compile().

Protocol on stdin/stdout, all integers little-endian:
  request:  op (1 byte, b"C"), optimize (1 byte), path length (4), path (UTF-8),
            source length (4), source bytes
  reply:    status (1 byte: b"O" compiled, b"E" raised), payload length (4), payload:
            for b"O" marshal.dumps(code); for b"E" the exception's type name, lineno,
            offset and message, separated by NUL bytes (an empty field for None).
The worker never writes files; it exits at the end of its input.
"""
import marshal
import struct
import sys
import warnings


def read_exactly(stream, n):
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def compile_one(path, source, optimize):
    try:
        code = compile(source, path, "exec", dont_inherit=True, optimize=optimize)
    except Exception as e:  # every exception compile() raises is an answer
        def field(x):
            return "" if x is None else str(x)
        parts = (type(e).__name__, field(getattr(e, "lineno", None)),
                 field(getattr(e, "offset", None)), str(getattr(e, "msg", e)))
        return b"E", "\0".join(parts).encode("utf-8", "surrogateescape")
    return b"O", marshal.dumps(code)


def main():
    sys.dont_write_bytecode = True
    warnings.simplefilter("ignore")  # warnings are not compile() results
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            op, optimize = read_exactly(stdin, 2)
            (n,) = struct.unpack("<I", read_exactly(stdin, 4))
            path = read_exactly(stdin, n).decode("utf-8", "surrogateescape")
            (n,) = struct.unpack("<I", read_exactly(stdin, 4))
            source = read_exactly(stdin, n)
        except EOFError:
            return
        if op != ord("C"):
            status, payload = b"E", b"ProtocolError\0\0\0unknown request"
        else:
            status, payload = compile_one(path, source, optimize)
        stdout.write(status + struct.pack("<I", len(payload)) + payload)
        stdout.flush()


main()
