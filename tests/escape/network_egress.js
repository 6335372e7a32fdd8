// what: any network egress: TCP to the daemon's own port, to a host listener on loopback and on the host's addresses, UDP, DNS, the internet
// status: success
// reason: none
// denied: tcp 127.0.0.1:{{DAEMON_PORT}}, tcp 127.0.0.1:{{LISTEN_PORT}}, udp 127.0.0.1:{{LISTEN_PORT}}, dns, tcp 1.1.1.1:443, host addresses
const net = require("net");
const dgram = require("dgram");
const dns = require("dns");

function tcp(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 3000 });
    s.on("connect", () => { s.destroy(); resolve(null); });
    s.on("timeout", () => { s.destroy(); resolve("timeout"); });
    s.on("error", (e) => resolve(e.code));
  });
}

function udp(host, port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    s.on("error", (e) => { s.close(); resolve(e.code); });
    s.send(Buffer.from("escape-{{MARKER}}"), port, host, (e) => { s.close(); resolve(e ? e.code : null); });
  });
}

async function main() {
  const report = (what, err) => console.log(err ? `DENIED ${what} (${err})` : `ESCAPED ${what} connected`);
  report("tcp 127.0.0.1:{{DAEMON_PORT}}", await tcp("127.0.0.1", {{DAEMON_PORT}}));
  report("tcp 127.0.0.1:{{LISTEN_PORT}}", await tcp("127.0.0.1", {{LISTEN_PORT}}));
  report("udp 127.0.0.1:{{LISTEN_PORT}}", await udp("127.0.0.1", {{LISTEN_PORT}}));
  report("tcp 1.1.1.1:443", await tcp("1.1.1.1", 443));
  let reached = false;
  for (const addr of "{{HOST_ADDRS}}".split(" ").filter(Boolean)) {
    const t = await tcp(addr, {{LISTEN_PORT}});
    const u = await udp(addr, {{LISTEN_PORT}});
    if (!t) { console.log(`ESCAPED tcp ${addr}:{{LISTEN_PORT}} connected`); reached = true; }
    // A datagram sent without an error may still be dropped; the runner's listener counts what arrives.
    if (!u) console.log(`udp ${addr} sent without error`);
  }
  if (!reached) console.log("DENIED host addresses");
  const err = await new Promise((resolve) => dns.lookup("example.com", (e) => resolve(e ? e.code : null)));
  report("dns", err);
}
main();
