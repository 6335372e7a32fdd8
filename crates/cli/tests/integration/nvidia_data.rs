//! Seed 004's scenarios that need the data stack: NVIDIA-dialect requests run in the
//! `python-data` template (the daemon's default NVIDIA template), built once for the suite in
//! the shared templates directory.

use crate::common;
use crate::common::Daemon;
use serde_json::{json, Value};

async fn generated(d: &Daemon, code: &str) -> Value {
    d.execute(json!({"generated_code": code, "timeout": 60, "language": "python"})).await
}

#[track_caller]
fn assert_completed(r: &Value, stdout: &str) {
    assert_eq!(r["process_status"], "completed", "{r}");
    assert_eq!(r["stdout"], stdout, "{r}");
    assert_eq!(r["stderr"], "", "{r}");
}

#[tokio::test]
async fn numpy_pandas_and_plotly_import_and_work() {
    let Some(d) = common::sandboxed().await else { return };
    let numpy = "import numpy as np\na = np.array([1, 2, 3, 4])\nprint(a.sum(), a.mean(), a.reshape(2, 2).T.tolist())";
    assert_completed(&generated(&d, numpy).await, "10 2.5 [[1, 3], [2, 4]]\n");

    let pandas = "import pandas as pd\ndf = pd.DataFrame({'name': ['ada', 'bob', 'cy'], 'score': [90, 85, 77]})\n\
                  print(df.shape, int(df.score.sum()), df.sort_values('score').name.iloc[0])";
    assert_completed(&generated(&d, pandas).await, "(3, 2) 252 cy\n");

    let plotly = "import plotly.graph_objects as go\nfig = go.Figure(data=[go.Bar(x=['a', 'b'], y=[1, 2])])\n\
                  s = fig.to_json()\nprint(len(s) > 100, s.startswith('{'))";
    assert_completed(&generated(&d, plotly).await, "True True\n");
    let plotly_len = "import plotly.express as px\nfig = px.line(x=[1, 2, 3], y=[3, 1, 2])\nprint(len(fig.to_json()))";
    let r = generated(&d, plotly_len).await;
    assert_eq!(r["process_status"], "completed", "{r}");
    let length: usize = r["stdout"].as_str().unwrap().trim().parse().unwrap_or_else(|_| panic!("{r}"));
    assert!(length > 100, "{r}");

    // The ones seed 003's python-data adds, for good measure.
    let rest = "import scipy.stats, seaborn, matplotlib\nprint(round(float(scipy.stats.norm.cdf(0)), 2), matplotlib.get_backend().lower())";
    assert_completed(&generated(&d, rest).await, "0.5 agg\n");
}

#[tokio::test]
async fn csv_and_npy_files_persist_between_requests() {
    let Some(d) = common::sandboxed().await else { return };
    let write = "import pandas as pd, numpy as np\n\
                 pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3.5, 19.0]}).to_csv('weather.csv', index=False)\n\
                 np.save('matrix.npy', np.eye(3))\nprint('saved')";
    assert_completed(&generated(&d, write).await, "saved\n");
    let read = "import pandas as pd, numpy as np\ndf = pd.read_csv('weather.csv')\n\
                print(df.city.tolist(), df.temp.max(), int(np.load('matrix.npy').trace()))";
    assert_completed(&generated(&d, read).await, "['Oslo', 'Lima'] 19.0 3\n");
}

#[tokio::test]
async fn an_import_error_is_still_an_error() {
    let Some(d) = common::sandboxed().await else { return };
    let r = generated(&d, "import tensorflow").await;
    assert_eq!(r["process_status"], "error", "{r}");
    assert!(r["stderr"].as_str().unwrap().contains("ModuleNotFoundError: No module named 'tensorflow'"), "{r}");
}
