//! A result as NVIDIA's server words it: every Python error's stderr is a traceback that
//! starts with `Traceback (most recent call last):` (it runs the code with `exec` and prints
//! `traceback.format_exc()`, so even a syntax error has the header), and a timeout says
//! `Timed out`.

use executor::{ExecutionResult, ProcessStatus};

pub const TRACEBACK_HEADER: &str = "Traceback (most recent call last):\n";
pub const TIMED_OUT: &str = "Timed out";

/// Errors raised by compiling the code, which Python prints without the traceback header.
const COMPILE_ERRORS: [&str; 3] = ["SyntaxError", "IndentationError", "TabError"];

pub fn shape_result(result: &mut ExecutionResult) {
    match result.process_status {
        ProcessStatus::Timeout if !result.stderr.contains(TIMED_OUT) => {
            if !result.stderr.is_empty() && !result.stderr.ends_with('\n') {
                result.stderr.push('\n');
            }
            result.stderr.push_str(TIMED_OUT);
            result.stderr.push('\n');
        }
        ProcessStatus::Error => {
            let compile_error = result.error.as_ref().is_some_and(|e| COMPILE_ERRORS.contains(&e.kind.as_str()));
            if compile_error && !result.stderr.starts_with(TRACEBACK_HEADER) {
                result.stderr.insert_str(0, TRACEBACK_HEADER);
            }
        }
        _ => {}
    }
}
