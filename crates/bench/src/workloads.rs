//! The request shapes the latency bench sends: each as a request to the daemon, what it must
//! produce to count, the bare interpreter it is compared with, and the targets for it.

use serde_json::{json, Value};

pub struct Workload {
    pub name: &'static str,
    pub endpoint: Endpoint,
    /// The request body, without `warm` (added per path).
    body: Value,
    pub interpreter: Interpreter,
    /// The baseline program (see `baseline::programs`) that runs the same code bare.
    pub same_program: Option<&'static str>,
    /// Slow enough on the cold path that it gets the smaller run count.
    pub heavy: bool,
    expect: Expect,
    pub goals: Vec<Goal>,
}

/// Where the shape's request goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /execute`, which may choose its path with `warm`.
    Execute,
    /// `POST /session/create` then the first `POST /session/execute`, timed as one figure
    /// (the session is destroyed after, untimed). Session requests do not choose a path.
    SessionFirstCell,
}

/// The bare interpreter a shape is compared with, by its start alone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    Python,
    Node,
    Bash,
}

impl Interpreter {
    /// The name of its start-up baseline in `baseline::programs`.
    pub fn start(self) -> &'static str {
        match self {
            Interpreter::Python => "python3 start",
            Interpreter::Node => "node start",
            Interpreter::Bash => "bash start",
        }
    }
}

/// One of the targets for a shape, on its p50 unless said otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    P50AtMost(f64),
    P99AtMost(f64),
    /// p50 at most this many times the bare interpreter's start.
    TimesStartAtMost(f64),
    /// p50 at most this many ms above python-hello's p50 on the same path.
    WithinOfHello(f64),
}

/// What a run must produce to count as a success, besides `status: success`.
enum Expect {
    Stdout(&'static str),
    ReturnValue(Value),
    Artifact(&'static str),
}

pub const PYTHON_HELLO: &str = "python-hello";
pub const PYTHON_DATA: &str = "python-data";
pub const PYTHON_HANDLER: &str = "def handler(event, context):\n    return {\"n\": event[\"n\"] + 1}\n";
pub const JS_HANDLER: &str = "module.exports.handler = (event, context) => ({ n: event.n + 1 });\n";
pub const NUMPY_PANDAS: &str = "\
import numpy as np
import pandas as pd

df = pd.DataFrame({\"a\": np.arange(10), \"b\": np.arange(10) ** 2})
print(int(df[\"b\"].sum()))
";
pub const DATA_SNIPPET: &str = "\
import os
import matplotlib
matplotlib.use(\"Agg\")
import matplotlib.pyplot as plt
import pandas as pd

df = pd.DataFrame({\"x\": range(50), \"y\": [i * i for i in range(50)]})
df[\"z\"] = df[\"y\"].rolling(5).mean()
os.makedirs(\"output\", exist_ok=True)
df.plot(x=\"x\", y=[\"y\", \"z\"])
plt.savefig(\"output/chart.png\")
plt.close(\"all\")
print(int(df[\"y\"].sum()))
";
/// Seed 000's quickstart: a handler whose event arrives on stdin as JSON.
const SEED_000_HANDLER: &str =
    "def handler(event):\n    return {\"message\": \"Hello\", \"input\": event.get(\"name\", \"World\")}";
/// Seed 001's first example, in the persistent workspace its `session_id` names.
const SEED_001_HANDLER: &str = "def handler(event):\n    return {\"message\": \"Hello World!\"}";

fn shape(name: &'static str, interpreter: Interpreter, body: Value, expect: Expect, goals: Vec<Goal>) -> Workload {
    let endpoint = Endpoint::Execute;
    Workload { name, endpoint, body, interpreter, same_program: None, heavy: false, expect, goals }
}

/// Every shape, in the order they run and print. `js_memory_mb` is a memory limit other than
/// the daemon's default, for the JavaScript run with non-default limits.
pub fn all(js_memory_mb: u64) -> Vec<Workload> {
    let mut all = python_shapes();
    all.extend(other_shapes(js_memory_mb));
    all
}

/// Python on `/execute`: hello-world first (the throughput phase sends it), then the seeds'
/// requests and the templates'.
fn python_shapes() -> Vec<Workload> {
    use Goal::*;
    use Interpreter::Python;
    let hello = json!({"language": "python", "code": "print('hello')"});
    let handler = json!({"language": "python", "code": PYTHON_HANDLER, "event": {"n": 1}});
    let seed_000 = json!({"code": SEED_000_HANDLER, "language": "python", "timeout": 10,
                          "stdin": "{\"name\": \"Alice\"}", "execution_id": "exec_test_001"});
    let seed_001 = json!({"execution_id": "exec_001", "session_id": "session_001", "code": SEED_001_HANDLER,
                          "language": "python", "timeout": 10});
    let nvidia = |code: &str| json!({"generated_code": code, "timeout": 30, "language": "python"});
    let data = json!({"language": "python", "template": PYTHON_DATA, "code": DATA_SNIPPET});
    let seed_000_answer = Expect::ReturnValue(json!({"message": "Hello", "input": "Alice"}));
    let seed_001_answer = Expect::ReturnValue(json!({"message": "Hello World!"}));
    let nvidia_hello = nvidia("print(\"Hello, World!\")");
    // A variable the interpreter reads only as it starts: the one reason a run goes cold on
    // the warm pass, so its `served by` says how often that happens to such a request.
    let start_var = json!({"language": "python", "code": "import os\nprint(os.environ['PYTHONHASHSEED'])",
                           "env_vars": {"PYTHONHASHSEED": "0"}});
    vec![
        shape(
            PYTHON_HELLO,
            Python,
            hello,
            Expect::Stdout("hello"),
            vec![P50AtMost(5.0), P99AtMost(15.0), TimesStartAtMost(0.3)],
        ),
        Workload {
            same_program: Some("python-handler"),
            ..shape("python-handler", Python, handler, Expect::ReturnValue(json!({"n": 2})), vec![])
        },
        shape("seed000-stdin", Python, seed_000, seed_000_answer, vec![WithinOfHello(1.0)]),
        shape("seed001-session-id", Python, seed_001, seed_001_answer, vec![WithinOfHello(1.0)]),
        shape("python-start-var", Python, start_var, Expect::Stdout("0"), vec![]),
        shape("nvidia-hello", Python, nvidia_hello, Expect::Stdout("Hello, World!"), vec![P50AtMost(5.0)]),
        Workload {
            same_program: Some("numpy-pandas"),
            heavy: true,
            ..shape("nvidia-numpy-pandas", Python, nvidia(NUMPY_PANDAS), Expect::Stdout("285"), vec![P50AtMost(60.0)])
        },
        Workload {
            same_program: Some(PYTHON_DATA),
            heavy: true,
            ..shape(PYTHON_DATA, Python, data, Expect::Artifact("output/chart.png"), vec![P50AtMost(60.0)])
        },
    ]
}

/// JavaScript, shell, and a session's creation with its first cell.
fn other_shapes(js_memory_mb: u64) -> Vec<Workload> {
    use Goal::*;
    use Interpreter::*;
    let n_plus_one = || Expect::ReturnValue(json!({"n": 2}));
    let js = json!({"language": "javascript", "code": JS_HANDLER, "event": {"n": 1}});
    let mut js_limits = js.clone();
    js_limits["limits"] = json!({"memory_mb": js_memory_mb});
    let shell = json!({"language": "shell", "code": "echo hi"});
    let cell = json!({"language": "python", "code": "x = 41\nprint(x + 1)"});
    vec![
        Workload {
            same_program: Some("js-handler"),
            ..shape("js-handler", Node, js, n_plus_one(), vec![TimesStartAtMost(0.15)])
        },
        Workload {
            same_program: Some("js-handler"),
            ..shape("js-limits", Node, js_limits, n_plus_one(), vec![TimesStartAtMost(0.15)])
        },
        shape("shell-echo", Bash, shell, Expect::Stdout("hi"), vec![P50AtMost(5.0)]),
        Workload {
            endpoint: Endpoint::SessionFirstCell,
            ..shape("session-create+cell", Python, cell, Expect::Stdout("42"), vec![P50AtMost(15.0)])
        },
    ]
}

/// A memory limit the daemon does not give by default, for the JavaScript run with
/// non-default limits.
pub fn other_memory_mb(default_mb: Option<u64>) -> u64 {
    if default_mb == Some(256) {
        384
    } else {
        256
    }
}

impl Workload {
    /// The request body; `warm` is sent only to a daemon that advertises a warm path, and
    /// only on `/execute`.
    pub fn request(&self, warm: Option<bool>) -> Value {
        let mut body = self.body.clone();
        if let (Some(warm), Endpoint::Execute) = (warm, self.endpoint) {
            body["warm"] = json!(warm);
        }
        body
    }

    /// Why `reply` is not a successful run of this shape, or None when it is.
    pub fn failure(&self, reply: &Value) -> Option<String> {
        if reply["status"] != "success" {
            let why = [&reply["error"], &reply["stderr"]].iter().find(|v| !v.is_null()).map(|v| v.to_string());
            return Some(format!("status {}: {}", reply["status"], why.unwrap_or_default()));
        }
        let ok = match &self.expect {
            Expect::Stdout(text) => reply["stdout"].as_str().is_some_and(|s| s.trim() == *text),
            Expect::ReturnValue(value) => reply["return_value"] == *value,
            Expect::Artifact(path) => {
                reply["artifacts"].as_array().is_some_and(|a| a.iter().any(|f| f["path"] == *path))
            }
        };
        (!ok).then(|| format!("unexpected result: stdout {} return_value {}", reply["stdout"], reply["return_value"]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Workload {
        all(256).into_iter().find(|w| w.name == name).unwrap()
    }

    #[test]
    fn warm_is_sent_only_when_chosen_and_only_to_execute() {
        let hello = named(PYTHON_HELLO);
        assert!(hello.request(None).get("warm").is_none());
        assert_eq!(hello.request(Some(false))["warm"], false);
        assert!(named("session-create+cell").request(Some(true)).get("warm").is_none());
    }

    #[test]
    fn a_run_must_produce_the_expected_result() {
        let handler = named("python-handler");
        assert_eq!(handler.failure(&json!({"status": "success", "return_value": {"n": 2}})), None);
        assert!(handler.failure(&json!({"status": "success", "return_value": {"n": 1}})).is_some());
        assert!(handler.failure(&json!({"status": "failed", "error": "boom"})).is_some());
    }

    #[test]
    fn the_seed_requests_are_sent_as_the_seeds_write_them() {
        let seed_000 = named("seed000-stdin").request(None);
        assert_eq!(seed_000["stdin"], "{\"name\": \"Alice\"}");
        assert!(seed_000.get("event").is_none());
        assert_eq!(named("seed001-session-id").request(None)["session_id"], "session_001");
        assert!(named("nvidia-hello").request(None).get("code").is_none());
    }

    #[test]
    fn the_limits_shape_asks_for_a_memory_limit_other_than_the_default() {
        assert_eq!(other_memory_mb(Some(512)), 256);
        assert_eq!(other_memory_mb(Some(256)), 384);
        assert_eq!(
            all(384).into_iter().find(|w| w.name == "js-limits").unwrap().request(None)["limits"]["memory_mb"],
            384
        );
    }
}
