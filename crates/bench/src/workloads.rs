//! The workloads the latency bench runs: each as a request to the daemon, and as the same
//! program given to the bare interpreter (the baseline).

use std::path::Path;

use serde_json::{json, Value};

pub struct Workload {
    pub name: &'static str,
    pub language: &'static str,
    pub template: Option<&'static str>,
    pub code: &'static str,
    pub event: Option<Value>,
    /// Slow enough that it gets the smaller run count.
    pub heavy: bool,
    expect: Expect,
}

/// What a run must produce to count as a success, besides `status: success`.
enum Expect {
    Stdout(&'static str),
    ReturnValue(fn() -> Value),
    Artifact(&'static str),
}

pub const PYTHON_DATA: &str = "python-data";

const PYTHON_HANDLER: &str = "def handler(event, context):\n    return {\"n\": event[\"n\"] + 1}\n";
const JS_HANDLER: &str = "module.exports.handler = (event, context) => ({ n: event.n + 1 });\n";
const DATA_SNIPPET: &str = "\
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

pub fn all() -> Vec<Workload> {
    let n_plus_one = || json!({"n": 2});
    vec![
        Workload {
            name: "python-hello",
            language: "python",
            template: None,
            code: "print('hello')",
            event: None,
            heavy: false,
            expect: Expect::Stdout("hello"),
        },
        Workload {
            name: "python-handler",
            language: "python",
            template: None,
            code: PYTHON_HANDLER,
            event: Some(json!({"n": 1})),
            heavy: false,
            expect: Expect::ReturnValue(n_plus_one),
        },
        Workload {
            name: "js-handler",
            language: "javascript",
            template: None,
            code: JS_HANDLER,
            event: Some(json!({"n": 1})),
            heavy: false,
            expect: Expect::ReturnValue(n_plus_one),
        },
        Workload {
            name: "shell-echo",
            language: "shell",
            template: None,
            code: "echo hi",
            event: None,
            heavy: false,
            expect: Expect::Stdout("hi"),
        },
        Workload {
            name: PYTHON_DATA,
            language: "python",
            template: Some(PYTHON_DATA),
            code: DATA_SNIPPET,
            event: None,
            heavy: true,
            expect: Expect::Artifact("output/chart.png"),
        },
    ]
}

impl Workload {
    /// The body of `POST /execute`; `warm` is sent only to a daemon that advertises a warm path.
    pub fn request(&self, warm: Option<bool>) -> Value {
        let mut body = json!({"language": self.language, "code": self.code, "timeout": 60});
        if let Some(template) = self.template {
            body["template"] = json!(template);
        }
        if let Some(event) = &self.event {
            body["event"] = event.clone();
        }
        if let Some(warm) = warm {
            body["warm"] = json!(warm);
        }
        body
    }

    /// Why `reply` is not a successful run of this workload, or None when it is.
    pub fn failure(&self, reply: &Value) -> Option<String> {
        if reply["status"] != "success" {
            let why = [&reply["error"], &reply["stderr"]].iter().find(|v| !v.is_null()).map(|v| v.to_string());
            return Some(format!("status {}: {}", reply["status"], why.unwrap_or_default()));
        }
        let ok = match &self.expect {
            Expect::Stdout(text) => reply["stdout"].as_str().is_some_and(|s| s.trim() == *text),
            Expect::ReturnValue(value) => reply["return_value"] == value(),
            Expect::Artifact(path) => {
                reply["artifacts"].as_array().is_some_and(|a| a.iter().any(|f| f["path"] == *path))
            }
        };
        (!ok).then(|| format!("unexpected result: stdout {} return_value {}", reply["stdout"], reply["return_value"]))
    }

    /// The same program for the bare interpreter, as argv; `templates` is where the template
    /// environments are (the python-data baseline uses its venv's interpreter).
    pub fn bare_command(&self, templates: &Path) -> Vec<String> {
        let python = |code: &str| vec!["/usr/bin/python3".to_owned(), "-c".to_owned(), code.to_owned()];
        match self.name {
            "python-handler" => {
                python(&format!("{PYTHON_HANDLER}import json\nprint(json.dumps(handler({{'n': 1}}, None)))\n"))
            }
            "js-handler" => vec![
                "/usr/bin/node".to_owned(),
                "-e".to_owned(),
                format!("{JS_HANDLER}console.log(JSON.stringify(module.exports.handler({{n: 1}}, {{}})));\n"),
            ],
            "shell-echo" => vec!["/bin/bash".to_owned(), "-c".to_owned(), self.code.to_owned()],
            PYTHON_DATA => {
                let interpreter = templates.join(PYTHON_DATA).join("env/bin/python3");
                vec![interpreter.display().to_string(), "-c".to_owned(), self.code.to_owned()]
            }
            _ => python(self.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_is_sent_only_when_chosen() {
        let hello = &all()[0];
        assert!(hello.request(None).get("warm").is_none());
        assert_eq!(hello.request(Some(false))["warm"], false);
    }

    #[test]
    fn a_run_must_produce_the_expected_result() {
        let handler = &all()[1];
        assert_eq!(handler.failure(&json!({"status": "success", "return_value": {"n": 2}})), None);
        assert!(handler.failure(&json!({"status": "success", "return_value": {"n": 1}})).is_some());
        assert!(handler.failure(&json!({"status": "failed", "error": "boom"})).is_some());
    }
}
