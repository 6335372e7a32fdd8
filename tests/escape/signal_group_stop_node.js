// what: SIGSTOP its own process group (kill(0)) from JavaScript, and everything it may signal (kill(-1)): nothing outside the run may freeze
// status: success
// reason: none
// denied: own group beyond the run, own session beyond the run, resumed
// bystander: yes
// in-session: yes
const fs = require("fs");
const { spawn } = require("child_process");

const stat = (pid) => fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop().trim().split(" ");
const [group, session] = stat("self").slice(2, 4).map(Number);
for (const [what, leader] of [["own group beyond the run", group], ["own session beyond the run", session]]) {
  console.log(leader > 0 ? `DENIED ${what} (led by pid ${leader} of the sandbox)` : `ESCAPED ${what}: it is led from outside the sandbox`);
}
// A helper in a session of its own (detached), out of reach of the stop, wakes this process
// once it is stopped. spawn() returns once the helper runs.
const waker = `
const fs = require("fs");
const me = ${process.pid};
const deadline = Date.now() + 10000;
while (fs.readFileSync("/proc/" + me + "/stat", "utf8").split(")").pop().trim().split(" ")[0] !== "T" && Date.now() < deadline) {}
process.kill(me, "SIGCONT");
`;
spawn(process.execPath, ["-e", waker], { detached: true, stdio: "ignore" });
process.kill(0, "SIGSTOP");
// kill(-1) skips the caller: every other process of the run stops, then goes on.
const sleeper = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
process.kill(-1, "SIGSTOP");
process.kill(-1, "SIGCONT");
sleeper.kill("SIGKILL");
console.log("DENIED resumed: every stop of this run was undone by the run itself");
