// what: SIGKILL its own process group (kill(0)) and session from JavaScript: they hold the run and nothing else, not a pre-started sandbox, a zygote, another tenant's run or the daemon
// status: killed
// reason: signal
// denied: own group beyond the run, own session beyond the run
// bystander: yes
// in-session: dies
const fs = require("fs");

// Fields 5 and 6 of /proc/self/stat: inside the sandbox's pid namespace, a group or session
// led from outside it is 0.
const [group, session] = fs.readFileSync("/proc/self/stat", "utf8").split(")").pop().trim().split(" ").slice(2, 4).map(Number);
for (const [what, leader] of [["own group beyond the run", group], ["own session beyond the run", session]]) {
  console.log(leader > 0 ? `DENIED ${what} (led by pid ${leader} of the sandbox)` : `ESCAPED ${what}: it is led from outside the sandbox`);
}
// The host checks that everything outside the run outlives this.
process.kill(0, "SIGKILL");
