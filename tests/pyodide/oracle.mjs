// Runs a CPython that Pyodide compiled to WebAssembly as an oracle of the differential tests.
//
//   node oracle.mjs 3.14            serve tests/oracle/worker.py's protocol: one JSON request
//                                   per line on stdin, one JSON reply per line on stdout
//   node oracle.mjs 3.14 --script   run the Python program read from stdin; what it prints
//                                   is printed on stdout (tools/gen_opcodes.py uses this)
//
// The interpreter for 3.X is the npm package `pyodide3X` of package.json here. The host's
// root directory is mounted at /host inside it, so the worker reads the host's files.

import { createInterface } from "node:readline";
import { readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HOST = "/host";
const here = dirname(fileURLToPath(import.meta.url));
const [version, mode] = process.argv.slice(2);
const match = /^3\.(\d+)$/.exec(version ?? "");
if (!match || (mode !== undefined && mode !== "--script")) {
  process.stderr.write("usage: node oracle.mjs 3.X [--script]\n");
  process.exit(2);
}
const pkg = `pyodide3${match[1]}`;
const dir = join(here, "node_modules", pkg);
let loadPyodide;
try {
  ({ loadPyodide } = await import(pathToFileURL(join(dir, "pyodide.mjs")).href));
} catch (e) {
  process.stderr.write(`no Pyodide for ${version}: ${pkg} is not installed (npm ci in ${here}): ${e.message}\n`);
  process.exit(3);
}

const py = await loadPyodide({
  indexURL: dir + "/",
  env: { PYTHONHASHSEED: "0", PYC_ORACLE_HOST_ROOT: HOST,
         PYC_ORACLE_STDLIB_EXPORT: join(here, "node_modules", ".stdlib", pkg) },
});
// Python's own prints, unbuffered; they must not mix with the replies: in server mode they
// go to stderr.
function writeAll(fd, buf) {
  for (let done = 0; done < buf.length; ) {
    try {
      done += writeSync(fd, buf, done);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e; // a full pipe: try again
    }
  }
  return buf.length;
}
const writer = (fd) => ({ write: (buf) => writeAll(fd, buf) });
py.setStdout(writer(mode === "--script" ? 1 : 2));
py.setStderr(writer(2));
py.FS.mkdir(HOST);
py.FS.mount(py.FS.filesystems.NODEFS, { root: "/" }, HOST);

if (mode === "--script") {
  try {
    py.runPython(readFileSync(0, "utf8"));
    py.runPython("import sys; sys.stdout.flush(); sys.stderr.flush()");
  } catch (e) {
    process.stderr.write(String(e.message ?? e) + "\n");
    process.exit(1);
  }
  process.exit(0);
}

const worker = join(here, "..", "oracle");
py.runPython(`
import sys
sys.path.insert(0, ${JSON.stringify(HOST + worker)})
import worker
worker.prepare()
`);
const handle = py.globals.get("worker").handle;
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim()) {
    process.stdout.write(handle(line) + "\n");
  }
}
