//! How the execution service's refusals and failures reach the caller.

use executor::ExecuteError;

use super::{ApiError, ErrorCode};

impl From<ExecuteError> for ApiError {
    fn from(err: ExecuteError) -> Self {
        let detail = err.to_string();
        match err {
            ExecuteError::Invalid { field, .. } => ApiError::validation(detail, solution_for_field(&field)),
            ExecuteError::TooLarge { what, limit, .. } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                "Part of the request is over a size limit.",
                detail,
                format!(
                    "Send at most {limit} bytes for {what}; split the work or send less data. \
                     GET /info lists the limits."
                ),
            ),
            ExecuteError::AlreadyRunning(id) => ApiError::new(
                ErrorCode::Conflict,
                "An execution with this id is still running.",
                detail,
                format!(
                    "Wait for execution {id} to finish, or send another execution_id \
                     (or none, and one is generated)."
                ),
            ),
            // Said the same whatever the other tenant's execution is doing: nothing of it leaks.
            ExecuteError::IdTaken(_) => ID_TAKEN.with(detail),
            ExecuteError::Sandbox { .. } => SANDBOX.with(detail),
            ExecuteError::QueueFull { retry_after_secs, .. } => ApiError::new(
                ErrorCode::QueueFull,
                "The executor is running and queueing as many executions as it takes.",
                detail,
                format!("Retry after {retry_after_secs} s (the Retry-After header), or run fewer executions at once."),
            )
            .with_retry_after(retry_after_secs),
            ExecuteError::TransfersFull { retry_after_secs, .. } => ApiError::new(
                ErrorCode::QueueFull,
                "The executor is serving as many file downloads at once as it takes.",
                detail,
                format!("Retry after {retry_after_secs} s (the Retry-After header), or download fewer files at once."),
            )
            .with_retry_after(retry_after_secs),
            ExecuteError::ShuttingDown => SHUTTING_DOWN.with(detail).with_retry_after(5),
            ExecuteError::SessionEnding(_) => SESSION_ENDING.with(detail).with_retry_after(5),
            ExecuteError::NotFound(_) => NO_EXECUTION.with(detail),
            ExecuteError::UnknownTemplate(_) => NO_TEMPLATE.with(detail),
            ExecuteError::TemplateBuild { template, log_tail, .. } => {
                super::from_template::build_failed(&template, detail, &log_tail)
            }
            ExecuteError::SessionNotFound(_) => NO_SESSION.with(detail),
            ExecuteError::SessionLimit(_) => SESSION_LIMIT.with(detail).with_retry_after(5),
            ExecuteError::FileNotFound(_) => NO_FILE.with(detail),
            ExecuteError::FileConflict(_) => FILE_CONFLICT.with(detail),
            ExecuteError::WorkspaceFull { limit, .. } => ApiError::new(
                ErrorCode::PayloadTooLarge,
                "The workspace is full.",
                detail,
                format!(
                    "Remove files from the workspace or upload less: its cap is {limit} bytes. GET /info lists the limits."
                ),
            ),
            ExecuteError::ResourcesExhausted(_) => RESOURCES_EXHAUSTED.with(detail).with_retry_after(1),
            ExecuteError::PortClosed { .. } => PORT_CLOSED.with(detail),
            ExecuteError::Internal(_) => ApiError::internal(detail),
        }
    }
}

/// The answer to an error whose description and solution do not depend on its fields.
struct Answer {
    code: ErrorCode,
    description: &'static str,
    solution: &'static str,
}

impl Answer {
    fn with(&self, detail: String) -> ApiError {
        ApiError::new(self.code, self.description, detail, self.solution)
    }
}

const ID_TAKEN: Answer = Answer {
    code: ErrorCode::Conflict,
    description: "This execution_id is taken.",
    solution: "Send another execution_id (or none, and one is generated); ids are unique across tenants.",
};

const SANDBOX: Answer = Answer {
    code: ErrorCode::Sandbox,
    description: "The sandbox could not start, so the code did not run.",
    solution: "This is a host problem, not a problem with the code: GET /health and GET /info \
               show which isolation layer is missing; check the daemon's log.",
};

const RESOURCES_EXHAUSTED: Answer = Answer {
    code: ErrorCode::ResourcesExhausted,
    description: "The executor is out of open descriptors for the moment, so the request did not run.",
    solution: "Retry after the Retry-After header's seconds. GET /info shows the daemon's descriptor limit \
               (daemon_open_files); its operator can raise it (LimitNOFILE) or lower the egress connection limits.",
};

const SHUTTING_DOWN: Answer = Answer {
    code: ErrorCode::ShuttingDown,
    description: "The executor is shutting down and takes no new executions.",
    solution: "Send the request to another executor, or again once this one has restarted.",
};

const SESSION_ENDING: Answer = Answer {
    code: ErrorCode::ShuttingDown,
    description: "The executor is shutting down and the session ends with it: its interpreters stop and its \
                  workspace is removed once the calls in flight are over.",
    solution: "Download the files you need now (GET /session/{id}/files), then create a new session: \
               another executor behind the same address takes it.",
};

const NO_EXECUTION: Answer = Answer {
    code: ErrorCode::NotFound,
    description: "No such execution.",
    solution: "Check the execution_id; records of finished executions are kept for a limited time.",
};

const NO_TEMPLATE: Answer = Answer {
    code: ErrorCode::NotFound,
    description: "No such template.",
    solution: "Name a template that GET /templates lists (POST /templates creates one), or leave `template` out.",
};

const NO_SESSION: Answer = Answer {
    code: ErrorCode::NotFound,
    description: "No such session.",
    solution: "Create a session with POST /session/create and use its session_id with the same tenant \
               (tenant_id or X-Tenant-ID); sessions expire after their ttl of idle time.",
};

const SESSION_LIMIT: Answer = Answer {
    code: ErrorCode::SessionLimit,
    description: "Too many sessions are alive.",
    solution: "Destroy sessions you no longer need (POST /session/destroy) or wait for idle ones to expire, \
               then create the session again.",
};

const PORT_CLOSED: Answer = Answer {
    code: ErrorCode::PortUnavailable,
    description: "Nothing listens on this port in the session.",
    solution: "Start a server in the session that listens on this port (on 127.0.0.1 or 0.0.0.0), wait until it \
               is up, then send the request again.",
};

const NO_FILE: Answer = Answer {
    code: ErrorCode::NotFound,
    description: "No such file.",
    solution: "GET /session/{id}/files lists the session's files.",
};

const FILE_CONFLICT: Answer = Answer {
    code: ErrorCode::Conflict,
    description: "The workspace changed at this path while the upload was being written; nothing was written.",
    solution: "Send the upload again, when the session's code (or another upload) is not changing the same path.",
};

/// A concrete hint per field: the caller should not have to read the source to fix a request.
fn solution_for_field(field: &str) -> String {
    let hint = match field {
        "code" | "generated_code" => "Send the program as a non-empty string in `code` (or `generated_code`).",
        "timeout" => "Send `timeout` as a number of seconds; GET /info lists the allowed range.",
        "language" => "Send `language` as python, javascript or shell, or leave it out for python.",
        "path" => {
            "Use a relative path made of A-Z a-z 0-9 _ . @ + = - and spaces, without '..', '.' or empty \
                   components, that names a regular file (not a symlink, not a file with several hard links)."
        }
        "ttl" => "Send `ttl` as a whole number of idle seconds within the range in error_detail, or leave it out.",
        "tenant_id" => "Use 1 to 128 characters of A-Z a-z 0-9 . _ -, the same in the body and the X-Tenant-ID header.",
        "execution_id" | "session_id" => "Use 1 to 128 characters of A-Z a-z 0-9 . _ -, or leave the field out.",
        "template" => {
            "Name a template that GET /templates lists, for the request's language (or leave \
             `language` out to take the template's), or leave `template` out."
        }
        _ if field.starts_with("limits.") => {
            "Ask for a value between 1 and the cap in error_detail, or leave it out for the \
             default; GET /info lists the limits."
        }
        _ if field.starts_with("files") => {
            "Use relative paths made of A-Z a-z 0-9 _ . @ + = - and spaces, without '..', '.' or \
             empty components, each path once; GET /info lists the file limits."
        }
        _ if field.starts_with("env_vars") => {
            "Use names of A-Z a-z 0-9 _ not starting with a digit and values without NUL, \
             at most 256 variables and 128 KiB in all."
        }
        _ => "Correct the field named in error_detail and send the request again.",
    };
    hint.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_error_has_its_code() {
        let cases = [
            (ExecuteError::invalid("timeout", "bad"), ErrorCode::Validation),
            (ExecuteError::TooLarge { what: "code".into(), actual: 2, limit: 1 }, ErrorCode::PayloadTooLarge),
            (ExecuteError::AlreadyRunning("x".into()), ErrorCode::Conflict),
            (ExecuteError::IdTaken("x".into()), ErrorCode::Conflict),
            (ExecuteError::Sandbox { stage: "mount".into(), message: "EPERM".into() }, ErrorCode::Sandbox),
            (ExecuteError::Internal("oops".into()), ErrorCode::Internal),
            (
                ExecuteError::TemplateBuild {
                    template: "t".into(),
                    message: "pip failed".into(),
                    log_tail: "E".into(),
                },
                ErrorCode::TemplateBuild,
            ),
        ];
        for (err, code) in cases {
            let detail = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.code(), code);
            assert!(api.detail().starts_with(&detail), "{} / {detail}", api.detail());
        }
    }

    #[test]
    fn field_hints_are_specific() {
        assert!(solution_for_field("limits.memory_mb").contains("GET /info"));
        assert!(solution_for_field("files[\"a\"]").contains("relative paths"));
        assert!(solution_for_field("env_vars.X").contains("NUL"));
        assert!(solution_for_field("language").contains("javascript"));
    }
}
