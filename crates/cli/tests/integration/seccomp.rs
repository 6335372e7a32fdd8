//! The system call filter and the Landlock rules, from inside real runs: the calls that build
//! escapes fail with EPERM (ENOSYS where callers fall back), the program is never killed for
//! trying, and what the interpreters need still works.

use crate::common;
use crate::common::Daemon;
use sandbox::{Confinement, LandlockRules, Mount, Outcome, SandboxSpec};
use serde_json::{json, Value};

/// A daemon whose runs are filtered, or None (with the reason printed).
async fn filtered() -> Option<Daemon> {
    if let Err(why) = sandbox::seccomp::probe() {
        eprintln!("SKIP: no seccomp on this host: {why}");
        return None;
    }
    common::sandboxed().await
}

async fn python(d: &Daemon, code: &str) -> Value {
    d.execute(json!({"code": code, "language": "python", "timeout": 30})).await
}

/// Calls each raw system call through ctypes and prints `name errno` (0 on success).
const PROBE: &str = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
keep = []
def cstr(b):
    keep.append(ctypes.create_string_buffer(b))  # alive for the whole run
    return ctypes.addressof(keep[-1])
def call(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == 0 and name.startswith("clone"):
        os._exit(0)  # the child of a clone that should have failed
    print(name, 0 if r >= 0 else ctypes.get_errno(), flush=True)
"#;

// Numbers are x86_64's. Arguments are harmless: without the filter most of these would
// fail later for other reasons, or (unshare, clone, personality, io_uring) succeed.
const ESCAPE_CALLS: &str = r#"
buf = cstr(bytes(256))
CLONE_NEWUSER, SIGCHLD = 0x10000000, 17
call("unshare", 272, CLONE_NEWUSER)
call("unshare_ns", 272, 0x20000)
call("setns", 308, 0, 0)
call("clone_newuser", 56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
call("clone_newnet", 56, 0x40000000 | SIGCHLD, 0, 0, 0, 0)
call("mount", 165, cstr(b"none"), cstr(b"/tmp"), cstr(b"tmpfs"), 0, 0)
call("umount2", 166, cstr(b"/tmp"), 2)
call("pivot_root", 155, 0, 0)
call("open_tree", 428, -100, 0, 0)
call("fsopen", 430, 0, 0)
call("ptrace", 101, 16, 1, 0, 0)
call("process_vm_readv", 310, 1, 0, 0, 0, 0, 0)
call("keyctl", 250, 0, 0, 0, 0, 0)
call("add_key", 248, 0, 0, 0, 0, 0)
call("request_key", 249, 0, 0, 0, 0)
call("bpf", 321, 0, 0, 0)
call("perf_event_open", 298, buf, 0, -1, -1, 0)
call("userfaultfd", 323, 1)
call("kexec_load", 246, 0, 0, 0, 0)
call("init_module", 175, 0, 0, 0)
call("finit_module", 313, -1, 0, 0)
call("personality", 135, 0x0040000)
call("clock_settime", 227, 0, buf)
call("settimeofday", 164, buf, 0)
call("adjtimex", 159, buf)
call("sethostname", 170, buf, 4)
call("setdomainname", 171, buf, 4)
call("acct", 163, 0)
call("swapon", 167, 0, 0)
call("reboot", 169, 0, 0, 0, 0)
call("syslog", 103, 3, buf, 10)
call("iopl", 172, 3)
call("ioperm", 173, 0, 1, 1)
call("open_by_handle_at", 304, -100, buf, 0)
call("name_to_handle_at", 303, -100, cstr(b"/"), buf, buf, 0)
call("socket_packet", 41, 17, 3, 0)
call("socket_netlink", 41, 16, 3, 0)
call("socket_raw", 41, 2, 3, 1)
call("x32_getpid", 0x40000000 | 39)
call("io_uring_setup", 425, 8, cstr(bytes(120)))
call("clone3", 435, 0, 0)
print("STILL RUNNING")
print(open("/proc/self/status").read())
"#;

#[tokio::test]
async fn escape_calls_fail_with_eperm_and_never_kill() {
    let Some(d) = filtered().await else { return };
    let r = python(&d, &format!("{PROBE}{ESCAPE_CALLS}")).await;
    let out = common::text(&r, "stdout");
    assert_eq!(r["exit_code"], 0, "{r}");
    assert!(out.contains("STILL RUNNING"), "{r}");
    assert!(out.contains("Seccomp:\t2"), "no filter on the program: {out}");
    let errno = |name: &str| -> i64 {
        let line = out.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("{name}: {out}"));
        line.split(' ').nth(1).unwrap().parse().unwrap()
    };
    const EPERM: i64 = 1;
    const ENOSYS: i64 = 38;
    for name in [
        "unshare",
        "unshare_ns",
        "setns",
        "clone_newuser",
        "clone_newnet",
        "mount",
        "umount2",
        "pivot_root",
        "open_tree",
        "fsopen",
        "ptrace",
        "process_vm_readv",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "init_module",
        "finit_module",
        "personality",
        "clock_settime",
        "settimeofday",
        "adjtimex",
        "sethostname",
        "setdomainname",
        "acct",
        "swapon",
        "reboot",
        "syslog",
        "iopl",
        "ioperm",
        "open_by_handle_at",
        "name_to_handle_at",
        "socket_packet",
        "socket_netlink",
        "socket_raw",
        "x32_getpid",
    ] {
        assert_eq!(errno(name), EPERM, "{name}: {out}");
    }
    for name in ["io_uring_setup", "clone3"] {
        assert_eq!(errno(name), ENOSYS, "{name}: {out}");
    }
}

#[tokio::test]
async fn processes_threads_and_sockets_still_work_under_the_filter() {
    let Some(d) = filtered().await else { return };
    let code = r#"
import os, socket, subprocess, threading, multiprocessing, ctypes
def square(x):
    return x * x
if __name__ == "__main__":
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    print("fork", os.waitpid(pid, 0)[1] >> 8)
    t = threading.Thread(target=lambda: print("thread ran", flush=True)); t.start(); t.join()
    print("subprocess", subprocess.run(["sh", "-c", "echo $((6*7)) | cat"], capture_output=True, text=True).stdout.strip())
    with multiprocessing.Pool(2) as pool:
        print("pool", sum(pool.map(square, range(10))))
    a, b = socket.socketpair(); a.sendall(b"ping"); print("socketpair", b.recv(4).decode())
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(); socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
    print("getaddrinfo", "127.0.0.1" in {ai[4][0] for ai in socket.getaddrinfo("localhost", 80)})
    libc = ctypes.CDLL(None, use_errno=True)
    print("personality", libc.personality(0xffffffff) >= 0)
"#;
    let r = python(&d, code).await;
    assert_eq!(r["exit_code"], 0, "{r}");
    let out = common::text(&r, "stdout");
    for want in
        ["fork 7", "thread ran", "subprocess 42", "pool 285", "socketpair ping", "getaddrinfo True", "personality True"]
    {
        assert!(out.contains(want), "missing {want:?}: {r}");
    }

    // Node: worker threads, child processes, file I/O (libuv without io_uring), DNS.
    let code = r#"
const { Worker } = require('worker_threads');
const { execFileSync } = require('child_process');
const fs = require('fs');
const dns = require('dns');
(async () => {
  const n = await new Promise((ok, err) => {
    const w = new Worker('require("worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
    w.on('message', ok); w.on('error', err);
  });
  console.log('worker', n);
  console.log('child', execFileSync('sh', ['-c', 'echo spawned']).toString().trim());
  await fs.promises.writeFile('/tmp/n.txt', 'node file');
  console.log('file', await fs.promises.readFile('/tmp/n.txt', 'utf8'));
  const { address } = await dns.promises.lookup('localhost', { family: 4 });
  console.log('dns', address);
})();
"#;
    let r = d.execute(json!({"code": code, "language": "javascript", "timeout": 30})).await;
    assert_eq!(r["exit_code"], 0, "{r}");
    let out = common::text(&r, "stdout");
    for want in ["worker 42", "child spawned", "file node file", "dns 127.0.0.1"] {
        assert!(out.contains(want), "missing {want:?}: {r}");
    }

    let code = "set -e; seq 1 5 | sort -r | head -n 2 | tr '\\n' ' '; (sleep 0.1 & wait); cp /etc/hosts /tmp/h; wc -l < /tmp/h; nproc >/dev/null; echo OK";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 30})).await;
    assert_eq!(r["exit_code"], 0, "{r}");
    assert!(common::text(&r, "stdout").contains("5 4 ") && common::text(&r, "stdout").ends_with("OK\n"), "{r}");
}

#[tokio::test]
async fn landlock_confines_files_beyond_the_mounts() {
    if let Err(why) = sandbox::landlock::probe() {
        eprintln!("SKIP: no Landlock on this host: {why}");
        return;
    }
    let Some(d) = common::sandboxed().await else { return };
    // /proc is mounted read-write (a process may rename itself through /proc/self/comm):
    // only Landlock stops the write. /tmp, the workspace, /dev/shm and /dev/null stay writable,
    // and any directory may still be listed.
    let code = "echo renamed > /proc/self/comm && echo PROC-WRITTEN; \
                echo a > /tmp/a && echo b > /workspace/b && echo c > /dev/shm/c && echo d > /dev/null && echo WRITES-OK; \
                ls / >/dev/null && ls /proc/self >/dev/null && echo LIST-OK; \
                cat /etc/hosts >/dev/null && echo READ-OK";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 30})).await;
    let out = common::text(&r, "stdout");
    let err = common::text(&r, "stderr");
    assert!(!out.contains("PROC-WRITTEN"), "{r}");
    assert!(err.contains("Permission denied"), "{r}");
    for want in ["WRITES-OK", "LIST-OK", "READ-OK"] {
        assert!(out.contains(want), "missing {want}: {r}");
    }
}

#[tokio::test]
async fn the_data_stack_runs_its_threads_and_processes_under_the_filter() {
    let Some(d) = filtered().await else { return };
    // NVIDIA-dialect requests run in the python-data template: BLAS threads, process pools
    // and plotting, with the filter on.
    let code = "import numpy as np, scipy.linalg, pandas as pd, matplotlib.pyplot as plt\n\
                from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor\n\
                m = np.random.default_rng(0).random((400, 400))\n\
                print('solve', bool(np.allclose(m @ scipy.linalg.solve(m, np.ones(400)), 1)))\n\
                with ProcessPoolExecutor(2) as p: print('procs', sum(p.map(abs, [-1, -2, -3])))\n\
                with ThreadPoolExecutor(4) as t: print('threads', sum(t.map(lambda x: int(np.sum(np.arange(x))), range(5))))\n\
                print('pandas', int(pd.DataFrame({'a': range(5)}).a.sum()))\n\
                plt.plot([1, 2]); plt.savefig('/tmp/p.png'); print('plot ok')";
    let r = d.execute(json!({"generated_code": code, "timeout": 60, "language": "python"})).await;
    assert_eq!(r["process_status"], "completed", "{r}");
    assert_eq!(r["stdout"], "solve True\nprocs 6\nthreads 10\npandas 10\nplot ok\n", "{r}");
}

/// A small spec straight through the sandbox's runner: /usr, /proc, /dev, /tmp and one file
/// in the root that no Landlock rule names.
async fn run_spec(confinement: Confinement, script: &str) -> (Outcome, String) {
    let mut mounts =
        vec![Mount::Bind { source: "/usr".into(), target: "/usr".into(), writable: false, optional: false }];
    for alias in ["/bin", "/lib", "/lib64"] {
        if let Ok(to) = std::fs::read_link(alias) {
            mounts.push(Mount::Symlink { link_target: to.display().to_string(), target: alias.into() });
        }
    }
    mounts.extend([
        Mount::Proc { target: "/proc".into() },
        Mount::Dev { target: "/dev".into(), shm_size_bytes: 1 << 20, terminals: false },
        Mount::Tmpfs { target: "/tmp".into(), size_bytes: 1 << 20, mode: 0o1777 },
        Mount::File { target: "/unlisted.txt".into(), contents: "UNLISTED-CONTENTS\n".into(), mode: 0o444 },
    ]);
    let spec = SandboxSpec {
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: "/tmp".into(),
        identity: sandbox::Identity { uid: 1000, gid: 1000, host_uid: 100000, host_gid: 100000 },
        hostname: "sandbox".into(),
        mounts,
        limits: sandbox::Limits {
            wall_time_ms: 20_000,
            data_bytes: None,
            file_size_bytes: 1 << 20,
            open_files: 256,
            processes: 64,
            channel_bytes: 0,
            memory_bytes: None,
            pids: None,
        },
        stdin: String::new(),
        channel_fd: None,
        session_fd: None,
        confinement,
        egress: None,
        awaits_claim: false,
        agent: false,
    };
    let options = sandbox::runner::RunOptions {
        init_exe: common::BIN.into(),
        max_output_bytes: 1 << 16,
        cancel: Default::default(),
        cgroups: None,
        tap: Default::default(),
        adjust: None,
    };
    let out = sandbox::runner::run(&spec, &options).await.expect("the sandbox runs");
    let text = String::from_utf8_lossy(&out.stdout.bytes).into_owned() + &String::from_utf8_lossy(&out.stderr.bytes);
    (out.report.outcome, text)
}

#[tokio::test]
async fn each_layer_is_what_denies_in_a_small_spec() {
    // Without the layers the same script reads the file and creates a user namespace.
    let seccomp = sandbox::seccomp::probe().map_err(|e| e.to_string());
    let landlock = sandbox::landlock::probe().map_err(|e| e.to_string());
    if let Err(why) = seccomp.as_ref().and(landlock.as_ref()) {
        eprintln!("SKIP: a layer is missing on this host: {why}");
        return;
    }
    let script = "cat /unlisted.txt; unshare -U true && echo UNSHARED; echo x > /tmp/t && echo TMP-OK";
    let (outcome, bare) = run_spec(Confinement::default(), script).await;
    assert_eq!(outcome, Outcome::Exited { code: 0 }, "{bare}");
    assert!(bare.contains("UNLISTED-CONTENTS") && bare.contains("UNSHARED") && bare.contains("TMP-OK"), "{bare}");

    let rules = LandlockRules { read_exec: vec!["/usr".into()], read_write: vec!["/tmp".into()], list: Vec::new() };
    let confined = Confinement { seccomp: true, landlock: Some(rules) };
    let (outcome, out) = run_spec(confined, script).await;
    assert_eq!(outcome, Outcome::Exited { code: 0 }, "{out}");
    assert!(!out.contains("UNLISTED-CONTENTS") && out.contains("/unlisted.txt: Permission denied"), "{out}");
    assert!(!out.contains("UNSHARED") && out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("TMP-OK"), "{out}");
}
