//! How a run of each language starts inside the sandbox: the interpreter's command line and
//! the files the run needs under /sandbox (the driver, the user's code, the event, the context).

use crate::config::RuntimePaths;
use crate::driver::{SANDBOX_DIR, SESSION_FD, WARM_FD, ZYGOTE_LIB};
use crate::templates::Environment;
use crate::{ExecutorConfig, Language};

const PYTHON_DRIVER: &str = include_str!("../../../runtimes/python/driver.py");
const NODE_DRIVER: &str = include_str!("../../../runtimes/node/driver.js");
/// What the Node driver and session interpreter both load (`require('./exact_json.js')`).
const NODE_EXACT_JSON: &str = include_str!("../../../runtimes/node/exact_json.js");

const PYTHON_SESSION: &str = include_str!("../../../runtimes/python/session.py");
/// What the Python session interpreter makes its results' MIME bundles with.
const PYTHON_RICH: &str = include_str!("../../../runtimes/python/rich.py");
const NODE_SESSION: &str = include_str!("../../../runtimes/node/session.js");

/// The interpreters a run uses: the template's Python when it has one.
pub(crate) fn runtimes_for(config: &ExecutorConfig, environment: Option<&Environment>) -> RuntimePaths {
    let mut runtimes = config.runtimes.clone();
    if let Some(python) = environment.and_then(Environment::python) {
        runtimes.python = python;
    }
    runtimes
}

/// The command line and the files of one run.
pub struct Launch {
    pub argv: Vec<String>,
    /// (path inside the sandbox, contents)
    pub files: Vec<(String, String)>,
    /// Whether the driver reports on [`crate::driver::CHANNEL_FD`].
    pub has_channel: bool,
    /// Where the program finds the socket handed to it: a session's interpreter serves
    /// requests on [`SESSION_FD`], a pre-started driver waits for its run on [`WARM_FD`].
    pub handoff_fd: Option<i32>,
}

/// A session's long-lived interpreter for `language` (Python or JavaScript): it reads one
/// request per line on [`SESSION_FD`] and answers each with one line.
pub fn session_launch(language: Language, runtimes: &RuntimePaths) -> Option<Launch> {
    let at = |name: &str| format!("{SANDBOX_DIR}/{name}");
    match language {
        Language::Python => Some(Launch {
            argv: vec![runtimes.python.display().to_string(), "-u".into(), "-B".into(), at("session.py")],
            // The one-shot driver's chart saving is reused: session.py imports it.
            files: vec![
                (at("session.py"), PYTHON_SESSION.into()),
                (at("driver.py"), PYTHON_DRIVER.into()),
                (at("rich.py"), PYTHON_RICH.into()),
            ],
            has_channel: false,
            handoff_fd: Some(SESSION_FD),
        }),
        Language::Javascript => Some(Launch {
            argv: vec![runtimes.node.display().to_string(), at("session.js")],
            files: vec![(at("session.js"), NODE_SESSION.into()), (at("exact_json.js"), NODE_EXACT_JSON.into())],
            has_channel: false,
            handoff_fd: Some(SESSION_FD),
        }),
        Language::Shell => None,
    }
}

/// A Python zygote: the one-shot driver imports `preload`, then forks a run for each request
/// on [`WARM_FD`]; each fork reads its run from the files of [`launch`] and [`crate::driver::FORKED_ENVIRON`].
pub fn zygote_launch(runtimes: &RuntimePaths, preload: &[String]) -> Launch {
    let at = |name: &str| format!("{SANDBOX_DIR}/{name}");
    let argv = [&runtimes.python.display().to_string(), "-u", "-B", &at("driver.py"), "--zygote", ZYGOTE_LIB]
        .into_iter()
        .map(String::from)
        .chain(preload.iter().cloned())
        .collect();
    Launch { argv, files: vec![(at("driver.py"), PYTHON_DRIVER.into())], has_channel: true, handoff_fd: Some(WARM_FD) }
}

/// A pre-started one-shot driver for `language` (Python or JavaScript): it imports `preload`
/// (Python modules), then waits for its run on [`WARM_FD`] and runs it as [`launch`]'s would.
pub fn warm_launch(language: Language, runtimes: &RuntimePaths, preload: &[String]) -> Option<Launch> {
    let at = |name: &str| format!("{SANDBOX_DIR}/{name}");
    let (argv, files) = match language {
        Language::Python => {
            let argv = [&runtimes.python.display().to_string(), "-u", "-B", &at("driver.py"), "--warm"]
                .into_iter()
                .map(String::from)
                .chain(preload.iter().cloned())
                .collect();
            (argv, vec![(at("driver.py"), PYTHON_DRIVER.to_string())])
        }
        Language::Javascript => (
            vec![runtimes.node.display().to_string(), at("driver.js"), "--warm".into()],
            vec![(at("driver.js"), NODE_DRIVER.to_string()), (at("exact_json.js"), NODE_EXACT_JSON.to_string())],
        ),
        Language::Shell => return None,
    };
    Some(Launch { argv, files, has_channel: true, handoff_fd: Some(WARM_FD) })
}

pub fn launch(language: Language, runtimes: &RuntimePaths, code: &str, event: &str, context: &str) -> Launch {
    let at = |name: &str| format!("{SANDBOX_DIR}/{name}");
    let data = |code_file: &str| {
        vec![
            (at(code_file), code.to_string()),
            (at("event.json"), event.to_string()),
            (at("context.json"), context.to_string()),
        ]
    };
    match language {
        Language::Python => {
            let mut files = data("user.py");
            files.push((at("driver.py"), PYTHON_DRIVER.to_string()));
            let argv = [&runtimes.python.display().to_string(), "-u", "-B", &at("driver.py"), &at("user.py")]
                .into_iter()
                .map(String::from)
                .chain([at("event.json"), at("context.json")])
                .collect();
            Launch { argv, files, has_channel: true, handoff_fd: None }
        }
        Language::Javascript => {
            let code_file = if is_es_module(code) { "user.mjs" } else { "user.cjs" };
            let mut files = data(code_file);
            files.push((at("driver.js"), NODE_DRIVER.to_string()));
            files.push((at("exact_json.js"), NODE_EXACT_JSON.to_string()));
            let argv = vec![
                runtimes.node.display().to_string(),
                at("driver.js"),
                at(code_file),
                at("event.json"),
                at("context.json"),
            ];
            Launch { argv, files, has_channel: true, handoff_fd: None }
        }
        Language::Shell => Launch {
            argv: vec![runtimes.bash.display().to_string(), at("user.sh")],
            files: vec![(at("user.sh"), code.to_string())],
            has_channel: false,
            handoff_fd: None,
        },
    }
}

/// Whether JavaScript code is an ES module: it has a top-level `import` or `export` statement
/// (a dynamic `import(...)` call is fine in CommonJS).
pub fn is_es_module(code: &str) -> bool {
    code.lines().map(str::trim_start).any(|line| {
        line.starts_with("export ")
            || line.starts_with("export{")
            || line.starts_with("export default")
            || (line.starts_with("import ") && !line.starts_with("import ("))
            || line.starts_with("import{")
            || line.starts_with("import\"")
            || line.starts_with("import'")
    })
}

#[cfg(test)]
mod tests {
    use super::is_es_module;

    #[test]
    fn detects_module_syntax_and_leaves_commonjs_alone() {
        assert!(is_es_module("export const handler = async (e) => e;"));
        assert!(is_es_module("import fs from 'fs';\nconsole.log(1)"));
        assert!(is_es_module("  export default function (e) { return e }"));
        assert!(!is_es_module("module.exports.handler = (e) => e;"));
        assert!(!is_es_module("const m = await import ('fs');"));
        assert!(!is_es_module("// exports.handler\nconsole.log('important')"));
    }
}
