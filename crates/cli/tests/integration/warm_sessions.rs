//! Session interpreters from the warm path: a Python session's interpreter is forked by the
//! zygote, answers every cell as a cold one does, and sees nothing of another session.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Daemon};

async fn create(d: &Daemon) -> String {
    let r = d.post("/session/create", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["session_id"].as_str().expect("session_id").to_string()
}

async fn cell(d: &Daemon, session: &str, language: &str, code: &str) -> Value {
    let r = d.post("/session/execute", &json!({"session_id": session, "code": code, "language": language})).await;
    assert_eq!(r.status, 200, "{code}: {}", r.body);
    r.body
}

/// Waits until the Python zygote is ready (it starts in the background).
async fn until_zygote(d: &Daemon) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        if pools.iter().any(|p| p["language"] == "python" && p["template"].is_null() && p["ready"].as_u64() > Some(0)) {
            return;
        }
        assert!(Instant::now() < deadline, "no Python zygote after 180 s: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const CELLS: [(&str, &str); 10] = [
    ("python", "import os, sys\nx = 41\nprint(sorted(os.listdir('.')))"),
    ("python", "x + 1"),
    ("python", "print(os.environ.get('MPLBACKEND'), sys.argv, sys.path[0] == os.getcwd(), __name__)"),
    ("python", "def f(n):\n    return {'twice': n * 2}\nf(21)"),
    ("python", "raise ValueError('bad')"),
    ("python", "import signal\nprint(signal.getsignal(signal.SIGPIPE), signal.getsignal(signal.SIGINT).__name__)"),
    ("python", "import threading\nprint(threading.current_thread().name, threading.active_count())"),
    ("python", "open('made.txt', 'w').write('m')\nprint(input.__module__, type(__builtins__).__name__)"),
    ("shell", "cat made.txt; echo; ls"),
    ("python", "x"),
];

#[tokio::test]
async fn a_forked_session_interpreter_answers_every_cell_as_a_cold_one() {
    let Some(warm) = common::sandboxed().await else { return };
    let cold = Daemon::start_with(&[("SANDBOX_WARM_POOL", "0")]).await;
    until_zygote(&warm).await;
    let (w, c) = (create(&warm).await, create(&cold).await);
    for (language, code) in CELLS {
        let (a, b) = (cell(&warm, &w, language, code).await, cell(&cold, &c, language, code).await);
        // A shell cell is a one-shot run in the session's workspace: forked, or built ahead.
        assert_eq!((crate::warm::path_of(&a), crate::warm::path_of(&b)), ("forked", "cold"), "{a}\n{b}");
        for field in ["status", "stdout", "stderr", "return_value", "display", "interpreter_restarted", "results"] {
            assert_eq!(a[field], b[field], "{field} differs for {code}:\nforked {a}\ncold {b}");
        }
        assert_eq!(a["error"]["type"], b["error"]["type"], "{a}\n{b}");
        assert_eq!(a["isolation"], b["isolation"], "the same layers hold: {a}\n{b}");
    }
}

/// Two sessions forked from one zygote: neither sees the other's variables, files or processes.
#[tokio::test]
async fn sessions_forked_from_one_zygote_share_nothing() {
    let Some(d) = common::sandboxed().await else { return };
    until_zygote(&d).await;
    let (a, b) = (create(&d).await, create(&d).await);
    let planted = "import subprocess\nsecret = 'a-secret'\nopen('a.txt', 'w').write(secret)\n\
                   p = subprocess.Popen(['sleep', '30'])\nprint('planted')";
    let r = cell(&d, &a, "python", planted).await;
    assert_eq!((r["stdout"].as_str(), crate::warm::path_of(&r)), (Some("planted\n"), "forked"), "{r}");
    let look = "import os\nprocs = [p for p in os.listdir('/proc') if p.isdigit()]\n\
                print('secret' in globals(), sorted(os.listdir('.')), len(procs))";
    let r = cell(&d, &b, "python", look).await;
    assert_eq!(crate::warm::path_of(&r), "forked", "{r}");
    // Its own pid 1 and itself: the other session's interpreter and its sleep are not there.
    assert_eq!(r["stdout"], "False [] 2\n", "{r}");
}
