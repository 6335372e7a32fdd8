//! Notebook-grade results of session cells: the last expression's value and every
//! `display(...)` as MIME bundles (`results`), the interpreter's `execution_count`; a pandas
//! DataFrame as HTML, a matplotlib figure as PNG, an object's own `_repr_*_` methods, and
//! JavaScript values as text and JSON. Also streamed, cold and forked alike.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::common::{self, Daemon};
use crate::streaming::{create_session, stream};

/// Runs a cell as tenant t1, asserting a 200.
async fn cell(d: &Daemon, session: &str, language: &str, code: &str) -> Value {
    let body = json!({"session_id": session, "code": code, "language": language, "tenant_id": "t1"});
    let r = d.post("/session/execute", &body).await;
    assert_eq!(r.status, 200, "{code}: {}", r.body);
    r.body
}

fn main_result(text: &str) -> Value {
    json!([{"is_main_result": true, "data": {"text/plain": text}}])
}

#[tokio::test]
async fn a_cells_value_is_its_main_result_and_cells_are_counted() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let r = cell(&d, &id, "python", "x = 41").await;
    assert_eq!((&r["results"], &r["execution_count"]), (&json!([]), &json!(1)), "{r}");
    let r = cell(&d, &id, "python", "x + 1").await;
    assert_eq!((&r["results"], &r["execution_count"]), (&main_result("42"), &json!(2)), "{r}");
    // Today's fields stay as they were.
    assert_eq!((&r["display"], &r["return_value"]), (&json!("42"), &json!(42)), "{r}");
    // None, and a value silenced with `;`, show nothing; an error counts as a cell too.
    assert_eq!(cell(&d, &id, "python", "None").await["results"], json!([]));
    assert_eq!(cell(&d, &id, "python", "x;").await["results"], json!([]));
    let r = cell(&d, &id, "python", "1 / 0").await;
    assert_eq!((&r["error"]["type"], &r["execution_count"]), (&json!("ZeroDivisionError"), &json!(5)), "{r}");
    // A shell call keeps no interpreter: no count, no results.
    let r = cell(&d, &id, "shell", "echo hi").await;
    assert_eq!((&r["results"], &r["execution_count"]), (&json!([]), &Value::Null), "{r}");
}

#[tokio::test]
async fn display_and_repr_methods_give_mime_bundles() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let r = cell(&d, &id, "python", "display(1, 'two')\nprint('after')").await;
    let shown = json!([
        {"is_main_result": false, "data": {"text/plain": "1"}},
        {"is_main_result": false, "data": {"text/plain": "'two'"}},
    ]);
    assert_eq!((&r["results"], &r["stdout"]), (&shown, &json!("after\n")), "{r}");
    let code = "class Note:\n    def _repr_markdown_(self):\n        return '**bold**'\n    \
                def _repr_svg_(self):\n        return '<svg xmlns=\"http://www.w3.org/2000/svg\"/>'\n    \
                def _repr_json_(self):\n        return {'n': 1}\n    def __repr__(self):\n        return 'Note()'\nNote()";
    let r = cell(&d, &id, "python", code).await;
    let data = &r["results"][0]["data"];
    assert_eq!(data["text/markdown"], "**bold**", "{r}");
    assert_eq!(data["image/svg+xml"], "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "{r}");
    assert_eq!(data["application/json"], json!({"n": 1}), "{r}");
    assert_eq!(data["text/plain"], "Note()", "{r}");
    // A mime bundle wins; a failing repr method is skipped and said on stderr.
    let code = "class B:\n    def _repr_mimebundle_(self, include=None, exclude=None):\n        \
                return {'text/html': '<b>b</b>', 'text/plain': 'B!'}\n    def _repr_latex_(self):\n        \
                raise RuntimeError('no')\nB()";
    let r = cell(&d, &id, "python", code).await;
    assert_eq!(r["results"][0]["data"], json!({"text/html": "<b>b</b>", "text/plain": "B!"}), "{r}");
    assert!(r["stderr"].as_str().unwrap().contains("_repr_latex_ of B failed"), "{r}");
}

#[tokio::test]
async fn a_javascript_cell_gives_text_and_json() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let r = cell(&d, &id, "javascript", "({a: [1, 2], b: 'c'})").await;
    let bundle = json!([{"is_main_result": true, "data": {
        "text/plain": "{ a: [ 1, 2 ], b: 'c' }", "application/json": {"a": [1, 2], "b": "c"}}}]);
    assert_eq!((&r["results"], &r["execution_count"]), (&bundle, &json!(1)), "{r}");
    let r = cell(&d, &id, "javascript", "console.log('x'); Symbol('s')").await;
    assert_eq!(r["results"], main_result("Symbol(s)"), "{r}");
    assert_eq!(r["execution_count"], 2, "{r}");
}

#[tokio::test]
async fn dataframes_and_figures_from_a_python_data_session() {
    let Some(d) = common::sandboxed().await else { return };
    // The first session may start cold; the second is forked by the template's zygote.
    for round in 0..2 {
        if round == 1 {
            until_template_zygote(&d, "python-data").await;
        }
        let id = create_session(&d, "t1", "python-data").await;
        let r = cell(&d, &id, "python", "import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})").await;
        let data = &r["results"][0]["data"];
        assert!(data["text/html"].as_str().unwrap_or("").contains("<table"), "{r}");
        assert!(data["text/plain"].as_str().unwrap_or("").contains('a'), "{r}");
        let code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()";
        let body = json!({"session_id": id, "code": code});
        let (events, done) = stream(&d, "t1", "/session/execute", &body).await.rest().await;
        let figures: Vec<&Value> = events.iter().filter(|(n, _)| n == "result").map(|(_, data)| data).collect();
        assert_eq!(figures.len(), 1, "{events:?}");
        assert_eq!(json!(figures), done["results"]);
        let figure = figures[0];
        assert_eq!(figure["is_main_result"], false);
        assert_eq!(figure["data"]["text/plain"], "<Figure size 640x480 with 1 Axes>", "{figure}");
        let png = base64::engine::general_purpose::STANDARD.decode(figure["data"]["image/png"].as_str().unwrap());
        assert!(png.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        // Today's chart artifact is still there.
        let charts = done["artifacts"].as_array().unwrap().iter().filter(|a| a["type"] == "image/png").count();
        assert_eq!(charts, 1, "{done}");
        if round == 1 {
            assert_eq!(crate::warm::path_of(&done), "forked", "{done}");
        }
    }
}

/// Waits until the zygote of `template` is ready.
async fn until_template_zygote(d: &Daemon, template: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        if pools.iter().any(|p| p["template"] == template && p["ready"].as_u64() > Some(0)) {
            return;
        }
        assert!(Instant::now() < deadline, "no {template} zygote after 180 s: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
