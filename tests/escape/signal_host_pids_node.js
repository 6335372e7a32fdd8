// what: signal host processes from JavaScript by guessed pid and group (the daemon, pids and groups 1 to pid_max, at most 65536), and everything it may signal (kill(-1)) with signal 0
// status: success
// reason: none
// denied: kill daemon by pid, killpg daemon, kill guessed pids, killpg guessed groups
// in-session: yes
const fs = require("fs");

// Guessing stops here on hosts whose pid_max is larger: each guess is a system call.
const GUESSES = 1 << 16;
// The run's processes and their threads (node has several; a thread's id answers kill too).
const own = new Set();
for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
  own.add(Number(pid));
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) own.add(Number(tid));
  } catch (e) {}
}

function attempt(what, call) {
  try {
    call();
    console.log(`ESCAPED ${what}: it worked`);
  } catch (e) {
    console.log(`DENIED ${what} (${e.code})`);
  }
}

for (const sig of ["SIGSTOP", "SIGKILL"]) {
  attempt("kill daemon by pid", () => process.kill({{DAEMON_PID}}, sig));
  attempt("killpg daemon", () => process.kill(-{{DAEMON_PID}}, sig));
}

// Signal 0 checks for a process (or group) without touching it: none outside the run may be
// found, whatever the number.
let pidMax = 32768;
try {
  pidMax = Math.min(Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")), GUESSES);
} catch (e) {}
for (const [what, sign] of [["kill guessed pids", 1], ["killpg guessed groups", -1]]) {
  const found = [];
  for (let n = 1; n <= pidMax; n++) {
    if (own.has(n)) continue;
    try {
      process.kill(sign * n, 0);
      found.push(n);
    } catch (e) {}
  }
  console.log(found.length ? `ESCAPED ${what}: ${found.length} outside the sandbox answer, e.g. ${found.slice(0, 8)}` : `DENIED ${what} (none of 1 to ${pidMax} outside the sandbox)`);
}
