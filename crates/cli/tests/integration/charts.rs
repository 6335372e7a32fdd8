//! Rich outputs: files under the workspace's `output/` folder come back as artifacts with their
//! content (base64), and in the `python-data` template matplotlib and plotly figures land there
//! by themselves (`plt.show()`, figures left open, `fig.show()`).

use crate::common;
use std::time::Duration;

use crate::common::Daemon;
use base64::Engine;
use serde_json::{json, Value};

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Long enough for a daemon to build the template on first use (pip installs the stack).
const TEMPLATE_BUILD_WAIT: Duration = Duration::from_secs(20 * 60);

fn artifacts(r: &Value) -> &Vec<Value> {
    r["artifacts"].as_array().unwrap_or_else(|| panic!("no artifacts array: {r}"))
}

fn artifact<'a>(r: &'a Value, path: &str) -> &'a Value {
    artifacts(r).iter().find(|a| a["path"] == path).unwrap_or_else(|| panic!("no artifact {path}: {}", r["artifacts"]))
}

/// The artifact's content, decoded, after checking it agrees with its size and hash.
fn content(a: &Value) -> Vec<u8> {
    let text = a["content"].as_str().unwrap_or_else(|| panic!("artifact without content: {a}"));
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("{e}: {a}"));
    assert_eq!(a["size"], bytes.len(), "{a}");
    assert_eq!(a["sha256"], common::sha256_hex(&bytes), "{a}");
    bytes
}

fn assert_png(a: &Value, name: &str) {
    assert_eq!(a["type"], "image/png", "{a}");
    assert_eq!(a["mime_type"], "image/png", "{a}");
    assert_eq!(a["name"], name, "{a}");
    let bytes = content(a);
    assert!(bytes.starts_with(PNG_MAGIC), "{name} is not a PNG: {:?}", &bytes[..bytes.len().min(16)]);
}

#[tokio::test]
async fn files_under_output_come_back_with_their_content() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "mkdir -p output/deep && echo hello > output/hello.txt && printf 'a,b\\n1,2\\n' > output/deep/t.csv && echo notes > notes.txt";
    let r = d.execute(json!({"code": code, "language": "shell"})).await;
    assert_eq!(r["status"], "success", "{r}");
    let paths: Vec<&str> = artifacts(&r).iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["notes.txt", "output/deep/t.csv", "output/hello.txt"], "{r}");

    let hello = artifact(&r, "output/hello.txt");
    assert_eq!(hello["type"], "text/plain", "{hello}");
    assert_eq!(hello["mime_type"], "text/plain", "{hello}");
    assert_eq!(hello["name"], "hello", "{hello}");
    assert_eq!(hello["content"], "aGVsbG8K", "{hello}");
    assert_eq!(hello["size"], 6, "{hello}");
    assert_eq!(content(hello), b"hello\n");
    let csv = artifact(&r, "output/deep/t.csv");
    assert_eq!((&csv["type"], &csv["name"]), (&json!("text/csv"), &json!("t")), "{csv}");
    assert_eq!(content(csv), b"a,b\n1,2\n");

    // Outside output/: described as before, without content.
    let notes = artifact(&r, "notes.txt");
    assert!(notes.get("content").is_none(), "{notes}");
    assert_eq!((&notes["type"], &notes["name"], &notes["size"]), (&json!("text/plain"), &json!("notes"), &json!(6)));
}

#[tokio::test]
async fn an_output_file_over_10_mib_comes_back_without_content() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "mkdir -p output && head -c 11M /dev/zero > output/big.bin && echo small > output/small.txt";
    let r = d.execute(json!({"code": code, "language": "shell"})).await;
    assert_eq!(r["status"], "success", "{r}");
    let big = artifact(&r, "output/big.bin");
    assert_eq!(big["size"], 11 * 1024 * 1024, "{big}");
    assert_eq!(big["type"], "application/octet-stream", "{big}");
    assert_eq!(big["name"], "big", "{big}");
    assert!(big.get("content").is_none(), "an 11 MiB file came back with its content");
    assert_eq!(artifact(&r, "output/small.txt")["content"], "c21hbGwK");
}

#[tokio::test]
async fn output_files_of_a_session_come_back_when_they_change() {
    let Some(d) = common::sandboxed().await else { return };
    let run = |code: &str| d.execute(json!({"code": code, "language": "shell", "session_id": "charts-session"}));
    let r = run("mkdir -p output && echo one > output/a.txt").await;
    assert_eq!(artifact(&r, "output/a.txt")["content"], "b25lCg==", "{r}");
    let r = run("echo two > output/b.txt").await;
    assert_eq!(artifacts(&r).len(), 1, "an unchanged output file came back again: {r}");
    assert_eq!(artifact(&r, "output/b.txt")["content"], "dHdvCg==", "{r}");
}

/// Runs Python code in the `python-data` template, or None (the test is skipped, with the
/// reason printed) when this daemon has no such template yet.
async fn python_data(d: &Daemon, code: &str) -> Option<Value> {
    let body = json!({"code": code, "language": "python", "template": "python-data", "timeout": 120});
    let response = d
        .client()
        .post(format!("{}/execute", d.base))
        .timeout(TEMPLATE_BUILD_WAIT)
        .json(&body)
        .send()
        .await
        .expect("POST /execute");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    if status == 400 && text.contains("template") {
        eprintln!("SKIP: the daemon has no python-data template: {text}");
        return None;
    }
    assert_eq!(status, 200, "POST /execute {body} answered {status}: {text}");
    let r: Value = serde_json::from_str(&text).expect("a JSON result");
    assert_eq!(r["status"], "success", "{code}\n=> {r}");
    Some(r)
}

/// Every chart case in one test, so that a daemon that builds the template on first use builds
/// it once.
#[tokio::test]
async fn python_data_charts_come_back_as_artifacts() {
    let Some(d) = common::sandboxed().await else { return };

    // plt.show() saves the figure as output/plot_0.png, and closes it.
    let code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\nplt.show()\nprint(plt.get_fignums())";
    let Some(r) = python_data(&d, code).await else { return };
    assert_eq!(r["stdout"], "[]\n", "plt.show() left figures open, or printed: {r}");
    assert_eq!(artifacts(&r).len(), 1, "{r}");
    assert_png(artifact(&r, "output/plot_0.png"), "plot_0");

    // Figures still open when the code ends are saved too, after a handler returns as well.
    let code = "import matplotlib.pyplot as plt\n\ndef handler(event):\n    fig, ax = plt.subplots()\n    ax.bar(['a', 'b'], [3, 5])\n    plt.figure()\n    plt.scatter([1, 2], [2, 1])\n    return {'charts': 2}";
    let Some(r) = python_data(&d, code).await else { return };
    assert_eq!(r["return_value"], json!({"charts": 2}), "{r}");
    assert_png(artifact(&r, "output/plot_0.png"), "plot_0");
    assert_png(artifact(&r, "output/plot_1.png"), "plot_1");

    // fig.show() of plotly saves the figure's JSON (and a PNG when kaleido is installed).
    let code = "import plotly.graph_objects as go\nfig = go.Figure(go.Bar(x=['a', 'b'], y=[1, 2]))\nfig.show()\nprint('shown')";
    let Some(r) = python_data(&d, code).await else { return };
    assert_eq!(r["stdout"], "shown\n", "{r}");
    let figure = artifact(&r, "output/plotly_0.json");
    assert_eq!((&figure["type"], &figure["name"]), (&json!("application/json"), &json!("plotly_0")), "{figure}");
    let figure: Value = serde_json::from_slice(&content(figure)).expect("the plotly figure is JSON");
    assert_eq!(figure["data"][0]["type"], "bar", "{figure}");
    assert_eq!(figure["data"][0]["y"], json!([1, 2]), "{figure}");
    let pngs = artifacts(&r).iter().filter(|a| a["path"] == "output/plotly_0.png").count();
    if pngs == 1 {
        assert_png(artifact(&r, "output/plotly_0.png"), "plotly_0");
    } else {
        eprintln!("no output/plotly_0.png: kaleido is not in the template");
    }

    // Files the code writes under output/ come back with their content; others without.
    let code = "import os\nimport pandas as pd\nos.makedirs('output', exist_ok=True)\ndf = pd.DataFrame({'x': [1, 2], 'y': [3, 4]})\ndf.to_csv('output/report.csv', index=False)\ndf.to_csv('scratch.csv', index=False)";
    let Some(r) = python_data(&d, code).await else { return };
    let report = artifact(&r, "output/report.csv");
    assert_eq!((&report["type"], &report["name"]), (&json!("text/csv"), &json!("report")), "{report}");
    assert_eq!(content(report), b"x,y\n1,3\n2,4\n");
    let scratch = artifact(&r, "scratch.csv");
    assert!(scratch.get("content").is_none(), "a file outside output/ came back with content: {scratch}");
    assert_eq!(scratch["size"], 12, "{scratch}");
    assert_eq!(artifacts(&r).len(), 2, "no chart was made, none may appear: {r}");
}
