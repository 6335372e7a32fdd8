//! What sandboxed code must not reach: host secrets, the daemon's environment and processes,
//! the network (the daemon's own port above all), and any place outside the workspace.

use crate::common;
use crate::common::Daemon;
use base64::Engine;
use serde_json::{json, Value};

async fn shell(d: &Daemon, code: &str) -> Value {
    d.execute(json!({"code": code, "language": "shell", "timeout": 20})).await
}

#[tokio::test]
async fn host_secret_files_are_not_visible() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    // The secret never appears in the code: only reading a planted file could reveal it.
    let secret = format!("s3cr3t-{}-{}", std::process::id(), d.port);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&secret);
    let planted =
        [d.state.path().join("planted.txt"), std::path::PathBuf::from(format!("/root/.se-planted-{}", d.port))];
    for path in &planted {
        std::fs::write(path, &secret).unwrap();
    }
    // /usr is the host's own, read-only and holding nothing planted; grepping it only costs time.
    let code = format!(
        "ls /root /home /var /work 2>&1; cat {} {} /etc/shadow 2>&1; S=$(echo {encoded} | base64 -d); grep -rsl \"$S\" / --exclude-dir=proc --exclude-dir=dev --exclude-dir=usr",
        planted[0].display(),
        planted[1].display()
    );
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 120})).await;
    for path in &planted {
        let _ = std::fs::remove_file(path);
    }
    let out = r["stdout"].as_str().unwrap();
    assert_ne!(r["status"], "timeout", "the search did not finish: {out}");
    assert!(!out.contains(&secret), "a host secret leaked into the sandbox: {out}");
    assert!(out.contains("/etc/shadow: No such file"), "{out}");
    for dir in ["/root", "/home", "/var", "/work"] {
        assert!(out.contains(&format!("cannot access '{dir}'")), "{dir} is visible: {out}");
    }
}

#[tokio::test]
async fn the_daemons_environment_does_not_leak() {
    let token = format!("tok-{}", std::process::id());
    let d = Daemon::start_with(&[("INTERNAL_API_TOKEN", &token), ("EXTRA_DAEMON_SECRET", &token)]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = shell(&d, "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'").await;
    let out = r["stdout"].as_str().unwrap();
    assert!(out.contains("PATH="), "{out}");
    assert!(!out.contains(&token), "the daemon's environment leaked: {out}");
    assert!(!out.contains("INTERNAL_API_TOKEN"), "{out}");
}

#[tokio::test]
async fn host_processes_are_invisible() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    // Cold, and forked by the zygote once it is ready (a forked run's pid 1 is a fork of the
    // zygote's interpreter, inside the sandbox: no host path in it either).
    for warm in [false, true] {
        let run = |code: &str| json!({"code": code, "language": "shell", "timeout": 20, "warm": warm});
        let r = d
            .execute(run("ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '"))
            .await;
        let out = r["stdout"].as_str().unwrap();
        let count: usize = out.lines().next().unwrap().trim().parse().unwrap();
        assert!(count <= 6, "the sandbox sees {count} processes: {out}");
        assert!(!out.contains(" serve") && !out.contains(common::BIN), "the daemon's process is visible: {out}");
        let r = d.execute(run("tr '\\0' ' ' < /proc/1/cmdline; readlink /proc/1/exe || echo NO-EXE")).await;
        let out = r["stdout"].as_str().unwrap();
        if r["metrics"]["path"] == "cold" {
            // Pid 1 is the sandbox's own init; it does not reveal where the daemon is installed.
            assert!(out.starts_with("sandbox-init "), "{out}");
            assert!(out.contains("NO-EXE"), "{out}");
        }
        assert!(!out.contains(common::BIN) && !out.contains(d.state.path().to_str().unwrap()), "{out}");
        // The daemon's host pid, as a path, means nothing inside.
        let r = d.execute(run(&format!("cat /proc/{}/environ 2>&1 | head -c 200", d.pid()))).await;
        assert!(!r["stdout"].as_str().unwrap().contains("EXECUTOR_PORT"), "{}", r["stdout"]);
    }
}

#[tokio::test]
async fn no_network_not_even_the_daemons_own_port() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let code = format!(
        "if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo CONNECTED; else echo REFUSED; fi; \
         if (exec 3<>/dev/tcp/10.0.2.2/80) 2>/dev/null; then echo EGRESS; else echo NO-EGRESS; fi; \
         cat /proc/net/dev | tail -n +3",
        port = d.port
    );
    let r = shell(&d, &code).await;
    let out = r["stdout"].as_str().unwrap();
    assert!(out.contains("REFUSED") && !out.contains("CONNECTED"), "{out}");
    assert!(out.contains("NO-EGRESS"), "{out}");
    let interfaces: Vec<&str> = out.lines().skip(2).collect();
    assert!(interfaces.iter().all(|l| l.trim_start().starts_with("lo:")), "interfaces other than lo: {out}");
}

#[tokio::test]
async fn nothing_outside_the_workspace_and_tmp_is_writable() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let marker = format!("se-escape-{}", std::process::id());
    let targets = ["/", "/usr", "/usr/bin", "/etc", "/sandbox", "/dev", "/proc", "/bin"];
    let code: String = targets
        .iter()
        .map(|t| format!("touch {t}/{marker} 2>/dev/null && echo WROTE {t}; "))
        .chain(["touch /workspace/ok /tmp/ok && echo WORKSPACE-OK".to_string()])
        .collect();
    let r = shell(&d, &code).await;
    let out = r["stdout"].as_str().unwrap();
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.contains("WORKSPACE-OK"), "{out}");
    for t in ["/", "/usr", "/usr/bin", "/etc", "/tmp"] {
        assert!(!std::path::Path::new(t).join(&marker).exists(), "{t}/{marker} appeared on the host");
    }
}

#[tokio::test]
async fn code_runs_unprivileged_with_no_capabilities() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = shell(
        &d,
        "id -u; id -g; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status; hostname",
    )
    .await;
    let out = r["stdout"].as_str().unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1000"));
    assert_eq!(lines.next(), Some("1000"));
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{cap}:\t0000000000000000")), "{cap} not empty: {out}");
    }
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.trim_end().ends_with("sandbox"), "{out}");
}

#[tokio::test]
async fn one_runs_files_are_gone_for_the_next() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    shell(&d, "echo first > /workspace/left.txt; echo first > /tmp/left.txt; echo first > /dev/shm/left").await;
    let r = shell(&d, "ls /workspace /tmp /dev/shm; cat /workspace/left.txt /tmp/left.txt /dev/shm/left 2>&1").await;
    let out = r["stdout"].as_str().unwrap();
    assert!(!out.contains("first"), "a file of the previous run is visible: {out}");
}
