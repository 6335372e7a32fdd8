//! The service driven in-process through a launcher of its own: every step of a run but the
//! sandbox itself (admission, workspace, files in, the lifecycle, artifacts, the result, the
//! record, tenancy, the queue and the shutdown) is the real one.

use std::sync::Arc;
use std::time::Duration;

use super::{ExecutionService, ServiceOptions};
use crate::recorder::ExecutionState;
use crate::test_support::{config_under, FakeLauncher, MemoryRecorder};
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, ExecutionStatus, InputFile, Language, LaunchPath,
    TerminationReason, WorkspaceChoice,
};

struct Harness {
    service: Arc<ExecutionService>,
    recorded: Arc<MemoryRecorder>,
    _dir: tempfile::TempDir,
}

async fn harness(max_running: usize, max_queued: usize) -> Harness {
    harness_with(max_running, max_queued, Default::default()).await
}

async fn harness_with(max_running: usize, max_queued: usize, warm: crate::WarmConfig) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config_under(dir.path());
    let recorded = Arc::new(MemoryRecorder::default());
    let options = ServiceOptions {
        recorder: Some(recorded.clone()),
        max_running,
        max_queued,
        warm,
        launcher: Some(Arc::new(FakeLauncher::default())),
        ..Default::default()
    };
    let service = ExecutionService::new(config, options).await.expect("service");
    Harness { service, recorded, _dir: dir }
}

fn request(id: &str, tenant: &str, code: &str) -> ExecutionRequest {
    ExecutionRequest {
        execution_id: id.into(),
        language: Language::Shell,
        code: code.into(),
        timeout_ms: 5_000,
        workspace: WorkspaceChoice::Fresh,
        event: None,
        stdin: String::new(),
        env_vars: Default::default(),
        files: Vec::new(),
        limits: Default::default(),
        template: None,
        tenant_id: tenant.into(),
        scope: None,
        warm: false,
        home_alias: false,
        cancel: None,
        egress: None,
    }
}

#[tokio::test]
async fn the_self_test_runs_through_the_launcher_and_the_service_is_healthy() {
    let h = harness(4, 4).await;
    assert_eq!(h.service.health(), Ok(()));
    let layers = h.service.info().isolation.layers;
    assert!(layers.iter().any(|l| l.name == "uid_map" && l.active), "{layers:?}");
    // The self-test is not an execution of anybody's.
    assert!(h.recorded.is_empty());
}

#[tokio::test]
async fn a_run_succeeds_with_its_output_layers_and_path() {
    let h = harness(4, 4).await;
    let mut req = request("ok-1", "acme", "cat\nexit 0");
    req.stdin = "hello from stdin".into();
    let result = h.service.execute(req).await.expect("run");
    assert_eq!((result.status, result.exit_code), (ExecutionStatus::Success, 0));
    assert_eq!(result.stdout, "hello from stdin");
    assert_eq!(result.metrics.path, LaunchPath::Cold);
    assert!(result.isolation.iter().any(|l| l == "uid_map"), "{:?}", result.isolation);
    assert_eq!(h.service.stats().executions_succeeded, 1);
}

#[tokio::test]
async fn a_failing_run_is_a_failed_result_with_its_exit_code() {
    let h = harness(4, 4).await;
    let result = h.service.execute(request("fail-1", "acme", "exit 3")).await.expect("run");
    assert_eq!((result.status, result.exit_code), (ExecutionStatus::Failed, 3));
    assert_eq!(h.service.stats().executions_failed, 1);
}

#[tokio::test]
async fn a_run_past_its_wall_time_times_out() {
    let h = harness(4, 4).await;
    let mut req = request("slow-1", "acme", "hang");
    req.timeout_ms = 100;
    let result = h.service.execute(req).await.expect("run");
    assert_eq!(result.status, ExecutionStatus::Timeout);
    assert_eq!(result.termination_reason, Some(TerminationReason::Timeout));
    assert_eq!(h.service.stats().executions_timed_out, 1);
}

#[tokio::test]
async fn a_sandbox_that_cannot_start_is_a_sandbox_error_and_recorded_as_not_run() {
    let h = harness(4, 4).await;
    let err = h.service.execute(request("broken-1", "acme", "unstartable")).await.unwrap_err();
    assert!(matches!(&err, ExecuteError::Sandbox { stage, .. } if stage == "mount /proc"), "{err:?}");
    assert_eq!(err.kind(), "SandboxError");
    let recorded = h.recorded.result_of("broken-1").expect("recorded");
    assert!(recorded.stderr.contains("Operation not permitted"), "{}", recorded.stderr);
}

#[tokio::test]
async fn files_go_in_and_new_files_come_out_as_artifacts() {
    let h = harness(4, 4).await;
    let mut req = request("files-1", "acme", "cat input.txt\nwrite report.txt done\nexit 0");
    req.files = vec![InputFile { path: "input.txt".into(), content: b"given".to_vec() }];
    let result = h.service.execute(req).await.expect("run");
    assert_eq!(result.stdout, "given");
    let names: Vec<&str> = result.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(names, ["report.txt"], "the input file is not an artifact, the new one is");
}

#[tokio::test]
async fn an_execution_is_recorded_and_only_its_tenant_finds_it() {
    let h = harness(4, 4).await;
    let result = h.service.execute(request("rec-1", "acme", "exit 0")).await.expect("run");
    let record = h.service.lookup("rec-1", "acme").expect("found by its tenant");
    assert_eq!((record.state, record.tenant_id.as_str()), (ExecutionState::Finished, "acme"));
    let kept: ExecutionResult = serde_json::from_str(record.result.expect("its result").get()).unwrap();
    assert_eq!((kept.execution_id, kept.status), (result.execution_id, ExecutionStatus::Success));
    assert!(matches!(h.service.lookup("rec-1", "other"), Err(ExecuteError::NotFound(_))));
    assert!(matches!(h.service.lookup("never-ran", "acme"), Err(ExecuteError::NotFound(_))));
}

/// Starts a run that waits until it is killed (or its 30 s pass), and waits until it runs.
async fn hanging(
    h: &Harness,
    id: &str,
    tenant: &str,
) -> tokio::task::JoinHandle<Result<ExecutionResult, ExecuteError>> {
    let mut req = request(id, tenant, "hang");
    req.timeout_ms = 30_000;
    let service = h.service.clone();
    let run = tokio::spawn(async move { service.execute(req).await });
    while h.service.active_executions() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run
}

#[tokio::test]
async fn a_running_id_is_refused_to_another_tenant_and_to_its_own() {
    let h = harness(4, 4).await;
    let run = hanging(&h, "shared-id", "acme").await;
    let other = h.service.execute(request("shared-id", "intruder", "exit 0")).await;
    assert!(matches!(other, Err(ExecuteError::IdTaken(_))), "{other:?}");
    let again = h.service.execute(request("shared-id", "acme", "exit 0")).await;
    assert!(matches!(again, Err(ExecuteError::AlreadyRunning(_))), "{again:?}");
    h.service.shutdown(Duration::ZERO).await;
    run.await.unwrap().expect("killed, with a result");
}

#[tokio::test]
async fn past_the_queue_runs_are_refused() {
    let h = harness(1, 0).await;
    let run = hanging(&h, "first", "acme").await;
    let refused = h.service.execute(request("second", "acme", "exit 0")).await;
    assert!(matches!(refused, Err(ExecuteError::QueueFull { running: 1, queued: 0, .. })), "{refused:?}");
    h.service.shutdown(Duration::ZERO).await;
    run.await.unwrap().expect("killed, with a result");
}

#[tokio::test]
async fn shutdown_kills_what_outlives_the_grace_and_refuses_new_work() {
    let h = harness(4, 4).await;
    let run = hanging(&h, "long", "acme").await;
    h.service.shutdown(Duration::from_millis(50)).await;
    let killed = run.await.unwrap().expect("a result");
    assert_eq!(killed.status, ExecutionStatus::Killed);
    assert_eq!(killed.termination_reason, Some(TerminationReason::Shutdown));
    assert_eq!(h.recorded.result_of("long").expect("recorded").status, ExecutionStatus::Killed);
    let late = h.service.execute(request("late", "acme", "exit 0")).await;
    assert!(matches!(late, Err(ExecuteError::ShuttingDown)), "{late:?}");
    assert!(matches!(h.service.submit(request("late-async", "acme", "exit 0")), Err(ExecuteError::ShuttingDown)));
}

/// A service whose Python runs are served by pre-started sandboxes, once one is ready.
async fn warm_harness() -> Harness {
    let warm = crate::WarmConfig { per_key: 1, ..Default::default() };
    let h = harness_with(4, 4, warm).await;
    h.service.start_warm();
    let ready = || h.service.info().warm.pools.iter().any(|p| p.language == Language::Python && p.ready > 0);
    for _ in 0..500 {
        if ready() {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pre-started Python sandbox: {:?}", h.service.info().warm);
}

fn python(id: &str, code: &str) -> ExecutionRequest {
    ExecutionRequest { language: Language::Python, warm: true, ..request(id, "acme", code) }
}

#[tokio::test]
async fn a_pre_started_sandbox_takes_the_run_with_its_files_and_artifacts() {
    let h = warm_harness().await;
    let mut req = python("warm-1", "cat input.txt\nwrite out.txt made\nexit 0");
    req.files = vec![InputFile { path: "input.txt".into(), content: b"warm input".to_vec() }];
    let result = h.service.execute(req).await.expect("run");
    assert_eq!(result.metrics.path, LaunchPath::Warm);
    assert_eq!((result.status, result.stdout.as_str()), (ExecutionStatus::Success, "warm input"));
    assert_eq!(result.artifacts.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(), ["out.txt"]);
    // The run's clock starts at the claim, not when the sandbox started.
    assert_ne!(result.metrics.duration_ms, 12.0);
    h.service.shutdown(Duration::ZERO).await;
}

#[tokio::test]
async fn a_pre_started_run_past_its_timeout_is_killed_and_timed_out() {
    let h = warm_harness().await;
    let mut req = python("warm-slow", "hang");
    req.timeout_ms = 100;
    let result = h.service.execute(req).await.expect("run");
    assert_eq!(result.metrics.path, LaunchPath::Warm);
    assert_eq!(result.status, ExecutionStatus::Timeout);
    assert_eq!(result.termination_reason, Some(TerminationReason::Timeout));
    assert!(result.metrics.duration_ms >= 100.0, "{}", result.metrics.duration_ms);
    h.service.shutdown(Duration::ZERO).await;
}

#[tokio::test]
async fn a_run_a_pre_started_sandbox_does_not_take_goes_cold() {
    let h = warm_harness().await;
    let result = h.service.execute(python("refused", "refuse-warm\nexit 4")).await.expect("run");
    assert_eq!(result.metrics.path, LaunchPath::Cold);
    assert_eq!((result.status, result.exit_code), (ExecutionStatus::Failed, 4));
    h.service.shutdown(Duration::ZERO).await;
}
