'use strict';
// Session interpreter of sandbox-executor: one long-lived Node.js that runs cells like a
// notebook (or the REPL).
//
// Usage: node session.js  3<>socket
//
// Requests arrive on fd 3 (a socket the daemon handed over), one JSON object per line:
// {"id": n, "code": "...", "max_output": bytes, "max_value": bytes, "live": bool}. Each is
// answered with one line: {"id", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
// "display", "value", "error", "execution_count", "cpu_ms", "peak_kb"}. Before it come event
// lines: {"event": "result", "is_main_result": true, "data": {"text/plain", "application/json"}}
// for the cell's value, and when "live" is true {"event": "stdout"|"stderr", "text"} for each
// chunk of output as the cell writes it (within max_output).
//
// Cells run as scripts in the global scope (vm.runInThisContext), so `var`, functions,
// globalThis properties and top-level `let`/`const`/`class` live on from one cell to the
// next. The cell's completion value (awaited when it is a promise) is its result:
// `display` is util.inspect of it, `value` the value itself when it is JSON. What the cell
// writes through process.stdout/stderr (console.log and the like) is captured per cell.

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const vm = require('vm');
const Module = require('module');
const { StringDecoder } = require('string_decoder');
const { toJson } = require('./exact_json.js');

const MAX_DISPLAY_CHARS = 64 * 1024;
const socket = new net.Socket({ fd: 3, readable: true, writable: true });

// require() resolves from the workspace, as in `node index.js` there.
const workspaceMain = path.join(process.cwd(), 'index.js');
globalThis.require = Module.createRequire(workspaceMain);
globalThis.module = new Module(workspaceMain, null);
globalThis.exports = globalThis.module.exports;
globalThis.__filename = workspaceMain;
globalThis.__dirname = process.cwd();
process.argv = [process.argv[0], workspaceMain];

// Per-cell capture of everything written through process.stdout and process.stderr.
let capture = null;
for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]]) {
  const original = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => {
    if (!capture) return original(chunk, encoding, callback);
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
    const c = capture[name];
    const room = capture.max - c.size;
    if (room > 0) c.parts.push(buf.subarray(0, room));
    if (room > 0 && capture.live) {
      const text = c.decoder.write(buf.subarray(0, room));
      if (text) socket.write(JSON.stringify({ event: name, text }) + '\n');
    }
    if (buf.length > room) c.truncated = true;
    c.size += Math.min(buf.length, Math.max(room, 0));
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
}

const isError = (v) => v instanceof Error || util.types.isNativeError(v);

function describeError(err) {
  if (isError(err)) {
    const text = String(err.stack || err);
    return { type: err.name || 'Error', message: String(err.message), traceback: text + '\n' };
  }
  const text = `Uncaught ${util.inspect(err)}\n`;
  return { type: err === null ? 'null' : typeof err, message: String(err), traceback: text };
}

// The display text, and the value as JSON text (null when it is not JSON or too large).
function valueFields(value, maxValue) {
  let display;
  try { display = util.inspect(value); } catch (e) { display = `<inspect failed: ${e}>`; }
  if (display.length > MAX_DISPLAY_CHARS) display = display.slice(0, MAX_DISPLAY_CHARS) + '...';
  let json = null;
  try {
    const text = toJson(value);
    if (text !== undefined && Buffer.byteLength(text) <= maxValue) json = text;
  } catch {}
  return [display, json];
}

// The reply's line: `value` is already JSON text, put in as it is so BigInts stay exact.
function replyLine(reply) {
  const { value, ...rest } = reply;
  return JSON.stringify(rest).slice(0, -1) + `,"value":${value === null ? 'null' : value}}\n`;
}

// The cell's value as a result: its text, and itself as JSON when it is JSON.
function resultLine(display, json) {
  const plain = JSON.stringify(display);
  const data = json === null ? `{"text/plain":${plain}}` : `{"text/plain":${plain},"application/json":${json}}`;
  return `{"event":"result","is_main_result":true,"data":${data}}\n`;
}

let executionCount = 0; // the cells this interpreter has run: a notebook's In [n]

async function serve(request) {
  const id = request.id || 0;
  const maxValue = request.max_value || (1 << 20);
  const stream = () => ({ parts: [], size: 0, truncated: false, decoder: new StringDecoder('utf8') });
  capture = { max: request.max_output || (1 << 20), live: !!request.live, stdout: stream(), stderr: stream() };
  executionCount += 1;
  const reply = { id, display: null, value: null, error: null, execution_count: executionCount };
  const cpuBefore = process.cpuUsage();
  try {
    let value = vm.runInThisContext(String(request.code || ''), { filename: `cell-${id}` });
    if (value && typeof value.then === 'function') value = await value;
    if (value !== undefined) {
      [reply.display, reply.value] = valueFields(value, maxValue);
      socket.write(resultLine(reply.display, reply.value));
    }
  } catch (err) {
    reply.error = describeError(err);
    process.stderr.write(reply.error.traceback);
  }
  // Let callbacks already due (resolved promises, immediates) write into this cell.
  await new Promise((resolve) => setImmediate(resolve));
  const taken = capture;
  capture = null;
  for (const name of ['stdout', 'stderr']) {
    const rest = taken.live ? taken[name].decoder.end() : '';
    if (rest) socket.write(JSON.stringify({ event: name, text: rest }) + '\n');
    reply[name] = Buffer.concat(taken[name].parts).toString('utf8');
    reply[`${name}_truncated`] = taken[name].truncated;
  }
  const cpu = process.cpuUsage(cpuBefore);
  reply.cpu_ms = Math.round((cpu.user + cpu.system) / 10) / 100;
  reply.peak_kb = process.resourceUsage().maxRSS;
  return reply;
}

// A rejection or exception nobody handles belongs to the cell that is running, if any;
// the interpreter lives on.
process.on('uncaughtException', (err) => { process.stderr.write(describeError(err).traceback); });
process.on('unhandledRejection', (err) => { process.stderr.write(describeError(err).traceback); });

let pending = '';
let queue = Promise.resolve();
socket.setEncoding('utf8');
socket.on('data', (chunk) => {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    queue = queue.then(() => serve(request)).then((reply) => { socket.write(replyLine(reply)); });
  }
});
socket.on('end', () => process.exit(0));
socket.on('error', () => process.exit(0));
