'use strict';
// JavaScript driver of sandbox-executor: runs the user's code inside the sandbox.
//
// Usage: node driver.js USER_CODE(.cjs|.mjs) EVENT_JSON CONTEXT_JSON  [3>result]
//        node driver.js --warm  3>result 4<>socket
//
// Warm mode starts the sandbox before its run (CommonJS code only): once loaded, the
// driver says "ready" on fd 4, then reads one JSON document up to end of file from fd 4,
// {"code", "code_path", "event", "context", "env"}, answers "taken" on fd 4 (the daemon
// knows from it that the sandbox is alive and has the run), takes `env` as its whole
// environment and runs the code exactly as the first form runs the files.
//
// The user's code is loaded as if it were <cwd>/index.js (CommonJS) or
// <cwd>/index.mjs (ES module), so that relative requires/imports and
// node_modules resolve in the workspace. If it provides a `handler`, the handler
// is called with (event, context), awaited, and its JSON-encoded return value
// is written to fd 3; otherwise the code is simply a script and the event loop
// drains naturally. Uncaught errors are printed like Node does and also reported
// on fd 3. At most one JSON document is ever written to fd 3, and nothing at all
// to stdout, which belongs to the user.
//
// fd 3 is used as is: Node 20 marks it close-on-exec at startup and
// child_process passes only stdio to children, so user subprocesses never get
// it (runtimes/test_drivers.sh checks this).

const fs = require('fs');
const path = require('path');
const Module = require('module');
const { toJson } = require('./exact_json.js');
const util = require('util');
const { pathToFileURL } = require('url');

let START = Date.now();
const DRIVER_FILE = __filename;
const WARM_FD = 4;
const warmRun = process.argv[2] === '--warm' ? waitForRun() : null;
const [userPath, eventPath, contextPath] = warmRun ? [warmRun.code_path] : process.argv.slice(2);
const readSource = () => (warmRun ? warmRun.code : fs.readFileSync(userPath, 'utf8'));
const readEvent = () => (warmRun ? warmRun.event : fs.readFileSync(eventPath, 'utf8'));
const readContext = () => (warmRun ? warmRun.context : fs.readFileSync(contextPath, 'utf8'));

// Warm mode: waits for the run on fd 4 (blocking: nothing else is going on yet), then
// closes it, so the user's code never sees it, and takes the run's environment.
function waitForRun() {
  fs.writeSync(WARM_FD, 'ready\n');
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(WARM_FD, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  fs.writeSync(WARM_FD, 'taken\n');
  fs.closeSync(WARM_FD);
  const run = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, run.env);
  START = Date.now();
  return run;
}
const isESM = userPath.endsWith('.mjs');
const displayPath = path.join(process.cwd(), isESM ? 'index.mjs' : 'index.js');
const displayURL = pathToFileURL(displayPath).href;
const realURL = pathToFileURL(path.resolve(userPath)).href;
// Without a channel, fd 3 is one of Node's own descriptors (epoll): check its type.
let resultFd = (() => {
  try {
    const st = fs.fstatSync(3);
    return st.isFIFO() || st.isFile() || st.isSocket() || st.isCharacterDevice() ? 3 : -1;
  } catch { return -1; }
})();
let mode = 'script'; // becomes 'handler' once the handler is being called
let finished = false; // a result or an error has been reported: ignore anything later
let settled = false; // the user's module (and handler, if any) completed

process.argv = [process.argv[0], displayPath]; // what `node index.js` would show

function writeResult(text) {
  const fd = resultFd;
  resultFd = -1; // at most one document, ever
  if (fd < 0) return;
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') break; // the reader went away
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // non-blocking pipe is full
    }
  }
  try { fs.closeSync(fd); } catch {}
}

function writeError(type, message, traceback) {
  writeResult(JSON.stringify({ mode, error: { type, message, traceback } }));
}

// Exit once stdout/stderr have flushed: on Linux pipes and files are written
// synchronously, but be safe if the streams ever buffer.
function exitWhenFlushed(code) {
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  if (!pending.length) process.exit(code);
  let left = pending.length;
  const done = () => { if (--left === 0) process.exit(code); };
  for (const s of pending) {
    let called = false;
    const once = () => { if (!called) { called = true; done(); } };
    s.once('drain', once); s.once('error', once); s.once('close', once);
  }
}

// Remove the driver's frames and the Node internals below the user's code
// (module loader, timers...), so that the stack looks as if the user's file had
// been run directly.
function cleanStack(stack) {
  const lines = stack.split('\n');
  let end = lines.findIndex((l) => /^\s+at /.test(l) && (l.includes(DRIVER_FILE) || l.includes(HOOKS_URL)));
  if (end < 0) end = lines.length;
  while (end > 0 && /^\s+at (?:.* \()?node:/.test(lines[end - 1])) end--;
  return lines.slice(0, end).join('\n').split(realURL).join(displayURL);
}

const isError = (v) => v instanceof Error || util.types.isNativeError(v); // any realm

function cleanError(err, seen = new Set()) {
  if (!isError(err) || seen.has(err)) return;
  seen.add(err);
  try { if (typeof err.stack === 'string') err.stack = cleanStack(err.stack); } catch {}
  cleanError(err.cause, seen);
}

// Node attaches the "file:line / source line / caret" header of a SyntaxError
// in an ES module to a hidden property only its own fatal-error printer can
// read. `node --check` prints it, so ask it (only on this rare path).
function esmSyntaxHeader() {
  try {
    const r = require('child_process').spawnSync(process.execPath, ['--check', userPath], { encoding: 'utf8', timeout: 5000 });
    const m = /^.*:(\d+)\n([^]*?)\n\n/.exec(r.stderr);
    return m ? `${displayURL}:${m[1]}\n${m[2]}\n\n` : '';
  } catch { return ''; }
}

function fail(err) {
  if (finished) return;
  finished = true;
  let text, type, message;
  if (isError(err)) {
    cleanError(err);
    // SyntaxErrors from compiling CommonJS already carry the header in .stack.
    const header = isESM && err.name === 'SyntaxError' && mode === 'script' &&
      !String(err.stack).includes(displayURL) ? esmSyntaxHeader() : '';
    text = util.inspect(err);
    const bracketed = `[${err.stack}]`; // how inspect shows a stack without frames
    if (text.startsWith(bracketed)) text = err.stack + text.slice(bracketed.length);
    text = header + text;
    type = err.name || 'Error';
    message = String(err.message);
  } else { // `throw "x"`, Promise.reject(42)...
    text = `Uncaught ${util.inspect(err)}`;
    type = err === null ? 'null' : typeof err === 'object' ? err.constructor?.name || 'Object' : typeof err;
    try { message = String(err); } catch { message = util.inspect(err); }
  }
  text += '\n';
  process.stderr.write(text);
  writeError(type, message, text);
  exitWhenFlushed(1);
}

// Respect user-installed listeners, as Node would: then the error is theirs.
process.on('uncaughtException', (err) => {
  if (process.listenerCount('uncaughtException') === 1) fail(err);
});
process.on('unhandledRejection', (reason) => {
  if (process.listenerCount('unhandledRejection') === 1) fail(reason);
});
// The loop emptied while we were still waiting for a promise (the handler's, or
// a top-level await): it can never settle, so this is an error.
process.on('beforeExit', () => {
  if (!settled && !finished) fail(new Error(mode === 'handler'
    ? "the handler's promise never settled (nothing left in the event loop)"
    : 'the top-level await never settled (nothing left in the event loop)'));
});

function loadCommonJS() {
  const source = readSource();
  const mod = new Module(displayPath, null);
  mod.filename = displayPath;
  mod.paths = Module._nodeModulePaths(process.cwd());
  mod.id = '.';
  process.mainModule = mod; // so that `require.main === module` holds
  // A top-level `function handler` / `const handler` is local to the module
  // wrapper: capture it from inside. The leading newline ends any line comment.
  const key = '__sandboxTopHandler';
  mod._compile(`${source}\n;try{globalThis.${key}=typeof handler==='function'?handler:undefined}catch(e){}`, displayPath);
  mod.loaded = true;
  const top = globalThis[key];
  delete globalThis[key];
  const exp = mod.exports;
  return exp != null && typeof exp.handler === 'function' ? exp.handler : top;
}

// ES module loader hooks serving the user's code under a virtual workspace URL.
const HOOKS_URL = 'data:text/javascript,' + encodeURIComponent(`
  let real, virtual;
  export function initialize(data) { ({ real, virtual } = data); }
  export async function resolve(specifier, context, next) {
    return specifier === virtual ? { url: virtual, format: 'module', shortCircuit: true } : next(specifier, context);
  }
  export async function load(url, context, next) {
    if (url !== virtual) return next(url, context);
    const { readFile } = await import('node:fs/promises');
    return { format: 'module', source: await readFile(real, 'utf8'), shortCircuit: true };
  }`);

async function loadESM() {
  // ESM resolves imports relative to the importing file's URL, and /sandbox is
  // not the workspace: serve the code under a virtual URL in the workspace
  // through the loader hooks. They run in a worker thread costing ~60 ms, so
  // skip them when the code visibly imports nothing but Node builtins (the
  // only difference left is the file name in stacks, which cleanStack fixes).
  const source = fs.readFileSync(userPath, 'utf8');
  const specifiers = [...source.matchAll(/\b(?:from|import)\s*(['"])(.*?)\1/g)].map((m) => m[2]);
  const needsHooks = /\bimport\s*[.(]/.test(source) || !specifiers.every((s) => Module.isBuiltin(s));
  if (needsHooks) Module.register(HOOKS_URL, { data: { real: userPath, virtual: displayURL } });
  const mod = await import(needsHooks ? displayURL : realURL);
  if (typeof mod.handler === 'function') return mod.handler;
  if (typeof mod.default === 'function') return mod.default;
  if (mod.default != null && typeof mod.default.handler === 'function') return mod.default.handler;
  return undefined;
}

function makeContext() {
  const ctx = JSON.parse(readContext());
  return {
    execution_id: ctx.execution_id,
    function_name: 'handler',
    memory_limit_in_mb: ctx.memory_limit_mb,
    getRemainingTimeInMillis: () => Math.max(0, (ctx.timeout_ms || 0) - (Date.now() - START)),
  };
}

async function main() {
  const handler = isESM ? await loadESM() : loadCommonJS();
  if (typeof handler !== 'function') { settled = true; return; } // script mode
  mode = 'handler';
  const event = JSON.parse(readEvent());
  // Extra arguments are harmless in JS: always pass the context.
  const value = await handler(event, makeContext());
  settled = true;
  if (finished) return;
  let json;
  try {
    json = toJson(value); // throws on circular structures
  } catch (e) {
    finished = true;
    const message = `the handler's return value is not JSON serializable: ${e && e.message}`;
    process.stderr.write(`SerializationError: ${message}\n`);
    writeError('SerializationError', message, '');
    return exitWhenFlushed(1);
  }
  finished = true;
  writeResult(`{"mode":"handler","return_value":${json === undefined ? 'null' : json}}`);
  exitWhenFlushed(0); // don't wait for leftover timers and sockets
}

main().catch(fail);
