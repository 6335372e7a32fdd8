//! The templates every daemon has, with seed 003's limits. They cannot be redefined.

use super::definition::{Origin, Template, TemplateLimits};
use crate::Language;

/// The data-science stack of seed 003's `python-data`.
pub const PYTHON_DATA_PACKAGES: [&str; 6] = ["numpy", "pandas", "matplotlib", "seaborn", "scipy", "plotly"];

pub fn builtins() -> Vec<Template> {
    let template = |name: &str, description: &str, language, packages: &[&str], memory_mb, timeout_secs| Template {
        name: name.into(),
        description: description.into(),
        language,
        packages: packages.iter().map(|p| p.to_string()).collect(),
        limits: TemplateLimits { memory_mb, timeout_secs },
        origin: Origin::Builtin,
        egress: None,
    };
    vec![
        template("default", "Python with its standard library", Language::Python, &[], 512, 30),
        template(
            "python-data",
            "Python with numpy, pandas, matplotlib, seaborn, scipy and plotly",
            Language::Python,
            &PYTHON_DATA_PACKAGES,
            1024,
            60,
        ),
        template("node-basic", "Node.js with its built-in modules", Language::Javascript, &[], 512, 30),
        template("minimal", "Python with its standard library and less memory", Language::Python, &[], 256, 30),
    ]
}
