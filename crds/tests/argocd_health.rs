//! The ArgoCD health checks (`crds::argocd_health`) run by the real Lua 5.1 interpreter
//! (Debian's `lua5.1`, the dialect of ArgoCD's gopher-lua) with what ArgoCD gives them: the
//! object as the global `obj`, the base and table libraries, and no `string` or `math`
//! library (nor string methods). The objects are the repository's examples with statuses
//! built from the crate's types and serialized by serde, as the API server would return
//! them: every phase and every failure reason of each kind.
//!
//! Without `lua5.1` the tests skip, or fail when `CI=true`
//! (`local_control_plane::tools::met`); `scripts/install-test-deps` installs it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use crds::argocd_health::{
    APPLICATION_LUA, LOADTEST_LUA, MANAGEDCLUSTER_LUA, SCALINGEXPERIMENT_LUA, TESTSCHEDULE_LUA,
};
use crds::common::{Condition, Time};
use crds::conditions::{
    ClusterCondition as MC, ClusterConditionReason as MR, ComparisonCondition as CC,
    ComparisonReason as CR, ExperimentCondition as EC, ExperimentConditionReason as ER,
    LoadTestCondition as LC, LoadTestConditionReason as LR, ScheduleCondition as SC,
    ScheduleConditionReason as SR,
};
use crds::load_test::{
    Checks, LatencyMs, LoadTestPhase, LoadTestReason, LoadTestResults, RunnerRef, TestType,
    ThresholdResult,
};
use crds::managed_cluster::{ClusterPhase, LastOperation, NodeRole, NodeStatus};
use crds::scaling_experiment::{
    DeploymentResult, ExperimentPhase, ExperimentReason, Kpis, ReplicaEvent, Sample, SamplePhase,
};
use crds::{
    LoadTest, LoadTestStatus, ManagedCluster, ManagedClusterStatus, ScalingExperiment,
    ScalingExperimentStatus,
};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

const LUA: &str = "lua5.1";

/// Whether `lua5.1` runs; the missing-tool rule otherwise.
fn lua_available() -> bool {
    let runs = Command::new(LUA)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = if runs {
        vec![]
    } else {
        vec![format!("`{LUA}` on PATH (Debian package lua5.1)")]
    };
    local_control_plane::tools::met(
        "the ArgoCD health check tests",
        &missing,
        "run scripts/install-test-deps",
    )
}

/// JSON as a Lua 5.1 expression: objects are tables with `["key"] = value` fields, arrays
/// are tables with their items at 1, 2, ... (null is `nil`, which leaves its index empty),
/// strings are byte-exact (every byte outside printable ASCII, and `"` and `\`, as a
/// three-digit `\ddd` escape).
///
/// One difference from ArgoCD: gopher-lua's `Append` drops a nil, so there `[null, 3]`
/// becomes `{3}`; here 3 stays at index 2. The scripts read no array that can hold null
/// (only `conditions` and `results.thresholds`).
fn lua_literal(value: &Value) -> String {
    let mut out = String::new();
    write_lua(&mut out, value);
    out
}

fn write_lua(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => write!(out, "{i}").unwrap_or_default(),
            (None, Some(u), _) => write!(out, "{u}").unwrap_or_default(),
            // serde_json's numbers are finite; `{:?}` round-trips and Lua reads `1e-7`.
            (None, None, Some(f)) => write!(out, "{f:?}").unwrap_or_default(),
            (None, None, None) => out.push_str("nil"),
        },
        Value::String(s) => write_lua_string(out, s),
        Value::Array(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_lua(out, item);
            }
            out.push('}');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('[');
                write_lua_string(out, key);
                out.push_str("] = ");
                write_lua(out, item);
            }
            out.push('}');
        }
    }
}

fn write_lua_string(out: &mut String, s: &str) {
    out.push('"');
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => write!(out, "\\{b:03}").unwrap_or_default(),
            0x20..=0x7e => out.push(char::from(b)),
            _ => write!(out, "\\{b:03}").unwrap_or_default(),
        }
    }
    out.push('"');
}

/// Runs `program` with `lua5.1 -` and returns what it wrote; a failed run is an error with
/// Lua's message.
fn run_lua(program: &str) -> Result<Vec<u8>> {
    let mut child = Command::new(LUA)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {LUA}"))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(program.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{LUA} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// What a health script returned: `hs.status` and `hs.message`.
#[derive(Debug, PartialEq)]
struct Health {
    status: String,
    message: String,
}

/// Runs a health script on `object` as ArgoCD does: `obj` is the object, and only what
/// gopher-lua loads for ArgoCD is there (base and table; `os` is gone too, which is
/// stricter than ArgoCD's reduced `os`). The result must be a table with a string status
/// and a string (or no) message, as ArgoCD decodes it.
fn health(name: &str, script: &str, object: &Value) -> Result<Health> {
    let program = format!(
        r#"local write, loadstring, type, error = io.write, loadstring, type, error
local name = {name}
local chunk = assert(loadstring({script}, "=" .. name))
obj = {object}
string, math, io, debug, coroutine, os = nil, nil, nil, nil, nil, nil
getmetatable("").__index = nil
local hs = chunk()
if type(hs) ~= "table" then error(name .. " returned a " .. type(hs) .. ", not a table", 0) end
if type(hs.status) ~= "string" then error(name .. ": hs.status is a " .. type(hs.status), 0) end
if hs.message ~= nil and type(hs.message) ~= "string" then
  error(name .. ": hs.message is a " .. type(hs.message), 0)
end
write(hs.status, "\n", hs.message or "")
"#,
        name = lua_literal(&Value::String(name.to_owned())),
        script = lua_literal(&Value::String(script.to_owned())),
        object = lua_literal(object),
    );
    let out = String::from_utf8(run_lua(&program)?)?;
    let (status, message) = out.split_once('\n').context("no status line")?;
    Ok(Health {
        status: status.to_owned(),
        message: message.to_owned(),
    })
}

/// One object and the health it must get.
struct Case {
    what: String,
    object: Value,
    status: &'static str,
    message: String,
}

fn case(what: impl Into<String>, object: Value, status: &'static str, message: &str) -> Case {
    Case {
        what: what.into(),
        object,
        status,
        message: message.to_owned(),
    }
}

/// Every case the script gets wrong, described; empty when all hold.
fn mismatches(name: &str, script: &str, cases: &[Case]) -> Vec<String> {
    const STATUSES: [&str; 6] = [
        "Healthy",
        "Progressing",
        "Degraded",
        "Suspended",
        "Missing",
        "Unknown",
    ];
    let mut wrong = Vec::new();
    for c in cases {
        match health(name, script, &c.object) {
            Ok(got) if !STATUSES.contains(&got.status.as_str()) => wrong.push(format!(
                "{}: {:?} is no ArgoCD health status",
                c.what, got.status
            )),
            Ok(got) if got.status != c.status || got.message != c.message => wrong.push(format!(
                "{}: got {} {:?}, want {} {:?}",
                c.what, got.status, got.message, c.status, c.message
            )),
            Ok(_) => {}
            Err(e) => wrong.push(format!("{}: {e:#}", c.what)),
        }
    }
    wrong
}

fn check(name: &str, script: &str, cases: &[Case]) -> Result<()> {
    let wrong = mismatches(name, script, cases);
    ensure!(
        wrong.is_empty(),
        "{name}: {} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    Ok(())
}

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(1_800_000_000 + second).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: at(0),
        observed_generation: Some(1),
    }
}

/// What the API server adds to a created object.
fn created(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, name: &str) {
    meta.name = Some(name.to_owned());
    meta.namespace = meta.namespace.take().or(Some("team-a".to_owned()));
    meta.generation = Some(1);
    meta.uid = Some("0b5e2a4e-6f0c-4c1e-9a51-2d8f6f0d9a11".to_owned());
    meta.resource_version = Some("4242".to_owned());
    meta.creation_timestamp = Some(at(-60));
}

// ---- LoadTest ----

/// Every phase: a new one makes the match below fail to compile until it is listed here and
/// given cases.
fn loadtest_health(phase: LoadTestPhase) -> &'static str {
    match phase {
        LoadTestPhase::Pending | LoadTestPhase::Starting | LoadTestPhase::Running => "Progressing",
        LoadTestPhase::Succeeded => "Healthy",
        // Completed measured nothing: no gate passes on it.
        LoadTestPhase::Failed | LoadTestPhase::Completed => "Degraded",
    }
}

fn loadtest(status: Option<LoadTestStatus>) -> Result<Value> {
    let mut lt: LoadTest = serde_yaml::from_str(include_str!(
        "../../manifests/examples/loadtest-strict-sla.yaml"
    ))?;
    created(&mut lt.metadata, "strict-sla-x7k2p");
    lt.status = status;
    Ok(serde_json::to_value(&lt)?)
}

fn runner() -> RunnerRef {
    RunnerRef {
        cluster: "dev".into(),
        namespace: "tart-loadtest".into(),
        job: "lt-team-a-strict-sla-x7k2p".into(),
    }
}

fn results(p95_passed: bool) -> LoadTestResults {
    LoadTestResults {
        requests: Some(14_873),
        rps: Some(495.7),
        latency_ms: Some(LatencyMs {
            avg: Some(41.2),
            min: Some(1.9),
            med: Some(33.0),
            p90: Some(88.1),
            p95: Some(if p95_passed { 120.4 } else { 731.5 }),
            p99: Some(990.0),
            max: Some(2210.7),
        }),
        error_rate: Some(0.004),
        checks: Some(Checks {
            passed: 14_813,
            failed: 60,
        }),
        thresholds: vec![
            ThresholdResult {
                metric: "http_req_duration".into(),
                expression: "p(95)<500".into(),
                passed: p95_passed,
            },
            ThresholdResult {
                metric: "http_req_failed".into(),
                expression: "rate<0.01".into(),
                passed: true,
            },
        ],
        ..LoadTestResults::default()
    }
}

/// A test that ran and finished with `reason` (none: passed).
fn finished(
    reason: Option<LoadTestReason>,
    message: &str,
    results: Option<LoadTestResults>,
) -> LoadTestStatus {
    let outcome = if reason.is_some() {
        LR::Failed
    } else {
        LR::Succeeded
    };
    LoadTestStatus {
        phase: Some(if reason.is_some() {
            LoadTestPhase::Failed
        } else {
            LoadTestPhase::Succeeded
        }),
        reason,
        message: Some(message.to_owned()),
        test_type: Some(TestType::Http),
        started_at: Some(at(5)),
        finished_at: Some(at(40)),
        progress_percent: reason.is_none().then_some(100),
        results,
        runner: Some(runner()),
        conditions: vec![
            condition(
                LC::Queued.as_str(),
                false,
                LR::Admitted.as_str(),
                "a slot is free",
            ),
            condition(
                LC::RunnerCreated.as_str(),
                true,
                LR::JobCreated.as_str(),
                "created Job tart-loadtest/lt-team-a-strict-sla-x7k2p in cluster dev",
            ),
            condition(LC::Complete.as_str(), true, outcome.as_str(), message),
        ],
        observed_generation: Some(1),
        comparison: None,
        node_usage: None,
    }
}

/// What the operator writes for a baseline comparison: RegressionDetected True (reason
/// Regressed), False (WithinTolerance) or Unknown (e.g. NotMeasured).
fn regression(status: &str, reason: CR, message: &str) -> Condition {
    Condition {
        status: status.to_owned(),
        ..condition(
            CC::RegressionDetected.as_str(),
            true,
            reason.as_str(),
            message,
        )
    }
}

const REGRESSED: &str = "worse than baseline LoadTest nightly-1 past tolerance: p95Ms 100 → 130 (+30.0%, tolerance +10%)";

/// What the operator writes when the runner ran on a simulated node: phase Completed, reason
/// RunnerSimulated, no results.
const SIMULATED: &str = "the runner ran on simulated node dev-worker1 in cluster dev (kwok): simulated pods do no work, so nothing was measured (no latency, RPS or bogo-ops numbers, no threshold verdict)";

fn simulated() -> LoadTestStatus {
    let mut s = finished(Some(LoadTestReason::RunnerSimulated), SIMULATED, None);
    s.phase = Some(LoadTestPhase::Completed);
    s.conditions.pop();
    s.conditions.extend([
        condition(
            LC::Measured.as_str(),
            false,
            LR::RunnerSimulated.as_str(),
            SIMULATED,
        ),
        condition(
            LC::Complete.as_str(),
            true,
            LR::NotMeasured.as_str(),
            SIMULATED,
        ),
    ]);
    s
}

/// The message the operator writes for a failure `reason`.
fn failure_message(reason: LoadTestReason) -> &'static str {
    match reason {
        LoadTestReason::ThresholdsBreached => "thresholds breached: http_req_duration p(95)<500",
        LoadTestReason::Timeout => "the runner did not finish within 330s (spec.timeoutSeconds)",
        LoadTestReason::PodFailed => {
            "the runner exited with code 107: ERRO[0031] \"GoError\": x\\y"
        }
        LoadTestReason::OomKilled => {
            "the runner ran out of memory; raise spec.resources.limits.memory or lower the load"
        }
        LoadTestReason::Unschedulable => "0/2 nodes are available: 2 Insufficient cpu.",
        LoadTestReason::ImagePullFailed => {
            "ErrImagePull: grafana/k6:0.99.0: not found\nBack-off pulling image"
        }
        LoadTestReason::ClusterUnavailable => {
            "cluster dev stayed unavailable for more than 300s: ManagedCluster dev is not connected"
        }
        LoadTestReason::NoResults => {
            "the runner exited 0 but left no readable result: expected value at line 1"
        }
        LoadTestReason::Cancelled => "the runner Job was deleted before it finished",
        LoadTestReason::InvalidSpec => "invalid spec: spec.http.vus: must be at least 1",
        LoadTestReason::RunnerRejected => {
            "cluster dev refused the runner: jobs.batch is forbidden: exceeded quota: tart-loadtest — ça coûte"
        }
        LoadTestReason::StatusRejected => {
            "the API server refused this test's status: status.results.requests: Invalid value (HTTP 422)"
        }
        LoadTestReason::PolicyViolation => {
            "cluster prod's loadTestPolicy refused the test: maxVUs: 500 VUs asked, at most 200"
        }
        LoadTestReason::HeaderSecretInvalid => {
            "header authorization: Secret team-a/token is not labelled tartinfra.dev/loadtest-header: \"true\""
        }
        LoadTestReason::RunnerSimulated => SIMULATED,
    }
}

fn loadtest_cases() -> Result<Vec<Case>> {
    let mut cases = vec![
        case(
            "just created",
            loadtest(None)?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "an empty status",
            loadtest(Some(LoadTestStatus::default()))?,
            "Progressing",
            "waiting for the operator",
        ),
    ];
    let pending = |queued: bool, message: &str| LoadTestStatus {
        phase: Some(LoadTestPhase::Pending),
        message: Some(message.to_owned()),
        test_type: Some(TestType::Http),
        conditions: if queued {
            vec![condition(
                LC::Queued.as_str(),
                true,
                LR::WaitingForSlot.as_str(),
                message,
            )]
        } else {
            vec![condition(
                LC::ClusterReachable.as_str(),
                false,
                LR::ClusterUnavailable.as_str(),
                "ManagedCluster dev is not connected; see `kubectl get managedcluster dev`",
            )]
        },
        observed_generation: Some(1),
        ..LoadTestStatus::default()
    };
    let queued = "queued: 2 test(s) running on cluster dev (at most 2 at once); position 1 in line";
    cases.push(case(
        "Pending, queued",
        loadtest(Some(pending(true, queued)))?,
        "Progressing",
        &format!("Queued: {queued}"),
    ));
    let waiting = "waiting for cluster dev: ManagedCluster dev is not connected; see `kubectl get managedcluster dev`";
    cases.push(case(
        "Pending, the cluster unavailable",
        loadtest(Some(pending(false, waiting)))?,
        "Progressing",
        &format!("Pending: {waiting}"),
    ));
    let mut starting = pending(false, "scheduled on dev-worker1; starting the runner");
    starting.phase = Some(LoadTestPhase::Starting);
    starting.runner = Some(runner());
    starting.conditions = vec![condition(
        LC::RunnerCreated.as_str(),
        true,
        LR::JobCreated.as_str(),
        "created",
    )];
    cases.push(case(
        "Starting",
        loadtest(Some(starting.clone()))?,
        "Progressing",
        "Starting: scheduled on dev-worker1; starting the runner",
    ));
    let running = LoadTestStatus {
        phase: Some(LoadTestPhase::Running),
        message: Some("running on cluster dev".into()),
        started_at: Some(at(5)),
        progress_percent: Some(45),
        ..starting
    };
    cases.push(case(
        "Running",
        loadtest(Some(running.clone()))?,
        "Progressing",
        "Running (45%): running on cluster dev",
    ));
    cases.push(case(
        "Running, no progress yet",
        loadtest(Some(LoadTestStatus {
            progress_percent: None,
            ..running
        }))?,
        "Progressing",
        "Running: running on cluster dev",
    ));
    cases.push(case(
        "Succeeded",
        loadtest(Some(finished(
            None,
            "the test finished and every threshold held",
            Some(results(true)),
        )))?,
        "Healthy",
        "Succeeded: the test finished and every threshold held",
    ));
    cases.push(case(
        "Succeeded with a threshold whose verdict is false",
        loadtest(Some(finished(
            None,
            "the test finished",
            Some(results(false)),
        )))?,
        "Degraded",
        "ThresholdsBreached: http_req_duration p(95)<500",
    ));
    cases.push(case(
        "Completed, the runner simulated: measured nothing, so not Healthy",
        loadtest(Some(simulated()))?,
        "Degraded",
        &format!("RunnerSimulated: {SIMULATED}"),
    ));
    let mut no_reason = simulated();
    no_reason.reason = None;
    cases.push(case(
        "Completed without a reason",
        loadtest(Some(no_reason))?,
        "Degraded",
        &format!("NotMeasured: {SIMULATED}"),
    ));
    for &reason in LoadTestReason::ALL {
        if reason == LoadTestReason::RunnerSimulated {
            continue; // not a failure: the Completed cases above
        }
        let message = failure_message(reason);
        let results = (reason == LoadTestReason::ThresholdsBreached).then(|| results(false));
        cases.push(case(
            format!("Failed, {}", reason.name()),
            loadtest(Some(finished(Some(reason), message, results)))?,
            "Degraded",
            &format!("{}: {message}", reason.name()),
        ));
    }
    let mut no_reason = finished(Some(LoadTestReason::PodFailed), "gone", None);
    no_reason.reason = None;
    cases.push(case(
        "Failed without a reason",
        loadtest(Some(no_reason))?,
        "Degraded",
        "Failed: gone",
    ));
    // A baseline comparison: only a regression changes the health of a pass.
    let compared = |status: &str, reason: CR, message: &str| -> Result<Value> {
        let mut s = finished(None, "all thresholds passed", Some(results(true)));
        s.conditions.push(regression(status, reason, message));
        loadtest(Some(s))
    };
    cases.push(case(
        "Succeeded, regressed against its baseline",
        compared("True", CR::Regressed, REGRESSED)?,
        "Degraded",
        &format!("RegressionDetected: {REGRESSED}"),
    ));
    for (status, reason) in [
        ("False", CR::WithinTolerance),
        ("Unknown", CR::BaselineNotFound),
    ] {
        cases.push(case(
            format!("Succeeded, RegressionDetected {status}"),
            compared(
                status,
                reason,
                "within tolerance of baseline LoadTest nightly-1",
            )?,
            "Healthy",
            "Succeeded: all thresholds passed",
        ));
    }
    Ok(cases)
}

#[test]
fn loadtest_health_follows_the_phase_and_names_the_failure() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let cases = loadtest_cases()?;
    // Every phase has a case, with the health its phase maps to.
    let mut phases = BTreeSet::new();
    for c in &cases {
        if let Some(phase) = c.object.pointer("/status/phase").and_then(Value::as_str) {
            let typed: LoadTestPhase = serde_json::from_value(json!(phase))?;
            phases.insert(phase.to_owned());
            let breached_under_succeeded = c.status == "Degraded" && phase == "Succeeded";
            ensure!(
                loadtest_health(typed) == c.status || breached_under_succeeded,
                "{}",
                c.what
            );
        }
    }
    ensure!(phases.len() == LoadTestPhase::ALL.len(), "{phases:?}");
    check("loadtest.lua", LOADTEST_LUA, &cases)
}

/// The GitOps gate example (manifests/examples/gitops): a PostSync hook re-created before
/// each sync, whose health decides the sync.
#[test]
fn the_gitops_gate_example_waits_while_running_and_fails_the_sync_on_breached_thresholds()
-> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let gate = |status: Option<LoadTestStatus>| -> Result<Value> {
        let mut lt: LoadTest = serde_yaml::from_str(include_str!(
            "../../manifests/examples/gitops/loadtest-postsync-gate.yaml"
        ))?;
        let annotations = lt.metadata.annotations.clone().unwrap_or_default();
        ensure!(
            annotations
                .get("argocd.argoproj.io/hook")
                .map(String::as_str)
                == Some("PostSync")
        );
        ensure!(
            annotations
                .get("argocd.argoproj.io/hook-delete-policy")
                .map(String::as_str)
                == Some("BeforeHookCreation")
        );
        created(&mut lt.metadata, "nginx-web-gate");
        lt.status = status;
        Ok(serde_json::to_value(&lt)?)
    };
    let running = LoadTestStatus {
        phase: Some(LoadTestPhase::Running),
        progress_percent: Some(45),
        message: Some("running on dev".into()),
        ..LoadTestStatus::default()
    };
    let breached = finished(
        Some(LoadTestReason::ThresholdsBreached),
        failure_message(LoadTestReason::ThresholdsBreached),
        Some(results(false)),
    );
    let cases = [
        case(
            "gate, just created",
            gate(None)?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "gate, running",
            gate(Some(running))?,
            "Progressing",
            "Running (45%): running on dev",
        ),
        case(
            "gate, passed",
            gate(Some(finished(
                None,
                "all thresholds passed",
                Some(results(true)),
            )))?,
            "Healthy",
            "Succeeded: all thresholds passed",
        ),
        case(
            "gate, thresholds breached",
            gate(Some(breached))?,
            "Degraded",
            "ThresholdsBreached: thresholds breached: http_req_duration p(95)<500",
        ),
        case(
            "gate, the runner simulated: nothing measured never passes",
            gate(Some(simulated()))?,
            "Degraded",
            &format!("RunnerSimulated: {SIMULATED}"),
        ),
    ];
    check("loadtest.lua", LOADTEST_LUA, &cases)
}

// ---- ScalingExperiment ----

const EXPERIMENT_PHASES: [ExperimentPhase; 6] = [
    ExperimentPhase::Pending,
    ExperimentPhase::Baseline,
    ExperimentPhase::Loading,
    ExperimentPhase::CoolingDown,
    ExperimentPhase::Completed,
    ExperimentPhase::Failed,
];

fn experiment_health(phase: ExperimentPhase) -> &'static str {
    match phase {
        ExperimentPhase::Pending
        | ExperimentPhase::Baseline
        | ExperimentPhase::Loading
        | ExperimentPhase::CoolingDown => "Progressing",
        ExperimentPhase::Completed => "Healthy",
        ExperimentPhase::Failed => "Degraded",
    }
}

fn experiment(status: Option<ScalingExperimentStatus>) -> Result<Value> {
    let mut se: ScalingExperiment = serde_yaml::from_str(include_str!(
        "../../manifests/examples/scalingexperiment-scale-light.yaml"
    ))?;
    created(&mut se.metadata, "scale-light-q2v9d");
    se.status = status;
    Ok(serde_json::to_value(&se)?)
}

fn experiment_status(phase: ExperimentPhase, message: &str) -> ScalingExperimentStatus {
    ScalingExperimentStatus {
        phase: Some(phase),
        message: Some(message.to_owned()),
        load_test: Some("scale-light-q2v9d-load".into()),
        started_at: Some(at(0)),
        deployments: vec![DeploymentResult {
            namespace: "demo".into(),
            name: "nginx-web".into(),
            hpa: Some("nginx-web".into()),
            baseline_replicas: Some(2),
            peak_replicas: Some(6),
            final_replicas: Some(2),
            baseline_cpu_percent: Some(4),
            peak_cpu_percent: Some(93),
            final_cpu_percent: None,
            scale_up_latency_seconds: Some(12.0),
        }],
        conditions: vec![
            condition(
                EC::TargetsResolved.as_str(),
                true,
                ER::Resolved.as_str(),
                "demo/nginx-web is scaled by HPA nginx-web",
            ),
            condition(
                EC::CooldownSufficient.as_str(),
                true,
                ER::ExceedsStabilizationWindow.as_str(),
                "180s exceeds the 120s scale-down window",
            ),
        ],
        observed_generation: Some(1),
        ..ScalingExperimentStatus::default()
    }
}

fn completed(kpis: Option<Kpis>, message: &str) -> ScalingExperimentStatus {
    let mut s = experiment_status(ExperimentPhase::Completed, message);
    s.load_started_at = Some(at(30));
    s.load_ended_at = Some(at(90));
    s.finished_at = Some(at(270));
    s.kpis = kpis;
    s.events = vec![ReplicaEvent {
        time: at(65),
        phase: SamplePhase::Load,
        namespace: "demo".into(),
        deployment: "nginx-web".into(),
        from_replicas: 2,
        to_replicas: 6,
        cpu_percent: Some(93),
    }];
    // Samples with no data (null) in their series, as status holds them.
    s.samples = (0..4)
        .map(|i| Sample {
            time: at(i * 30),
            phase: if i == 0 {
                SamplePhase::Baseline
            } else {
                SamplePhase::Load
            },
            replicas: vec![(i != 1).then_some(2 + i as i32)],
            cpu_percent: vec![None],
        })
        .collect();
    s.conditions.push(condition(
        EC::Complete.as_str(),
        true,
        ER::Completed.as_str(),
        message,
    ));
    s
}

fn experiment_failure_message(reason: ExperimentReason) -> &'static str {
    match reason {
        ExperimentReason::LoadTestFailed => {
            "the load never ran: ImagePullFailed: ErrImagePull: grafana/k6:0.99.0: not found"
        }
        ExperimentReason::ClusterUnavailable => {
            "cluster dev stayed unavailable for more than 300s: connection refused"
        }
        ExperimentReason::NoHpa => "no HPA scales demo/nginx-web",
        ExperimentReason::Cancelled => "the child LoadTest was deleted before the load finished",
        ExperimentReason::InvalidSpec => "invalid spec: load.http.url: \"ftp://x\" is not http(s)",
    }
}

fn experiment_cases() -> Result<Vec<Case>> {
    let mut cases = vec![
        case(
            "just created",
            experiment(None)?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "an empty status",
            experiment(Some(ScalingExperimentStatus::default()))?,
            "Progressing",
            "waiting for the operator",
        ),
    ];
    for (phase, message) in [
        (
            ExperimentPhase::Pending,
            "waiting for cluster dev: ManagedCluster dev is not connected",
        ),
        (
            ExperimentPhase::Baseline,
            "sampling 1 target(s) every 5s for a baseline",
        ),
        (
            ExperimentPhase::Loading,
            "load running since 2027-01-15T08:00:30Z (LoadTest scale-light-q2v9d-load)",
        ),
        (
            ExperimentPhase::CoolingDown,
            "load ended (the LoadTest failed: thresholds breached: http_req_duration p(95)<500); sampling for up to 180s of cooldown",
        ),
    ] {
        let name = serde_json::to_value(phase)?;
        let name = name.as_str().unwrap_or_default();
        cases.push(case(
            name,
            experiment(Some(experiment_status(phase, message)))?,
            "Progressing",
            &format!("{name}: {message}"),
        ));
    }
    cases.push(case(
        "Completed",
        experiment(Some(completed(
            Some(Kpis {
                scale_up_latency_seconds: Some(35.4),
                peak_replicas: Some(6),
                scale_down_start_seconds: Some(125.0),
                time_to_baseline_seconds: None,
                avg_rps_per_pod: Some(61.25),
            }),
            "cooldown of 180s over",
        )))?,
        "Healthy",
        "Completed (peak 6 replicas, first scale-up after 35s): cooldown of 180s over",
    ));
    cases.push(case(
        "Completed without KPIs",
        experiment(Some(completed(None, "the load's end time is unknown")))?,
        "Healthy",
        "Completed: the load's end time is unknown",
    ));
    cases.push(case(
        "Completed without a scale-up",
        experiment(Some(completed(
            Some(Kpis {
                peak_replicas: Some(2),
                ..Kpis::default()
            }),
            "every target is back at its baseline (endCooldownWhenBaselineRestored)",
        )))?,
        "Healthy",
        "Completed (peak 2 replicas): every target is back at its baseline (endCooldownWhenBaselineRestored)",
    ));
    for &reason in ExperimentReason::ALL {
        let message = experiment_failure_message(reason);
        let mut s = experiment_status(ExperimentPhase::Failed, message);
        s.reason = Some(reason);
        s.finished_at = Some(at(20));
        s.conditions.push(condition(
            EC::Complete.as_str(),
            true,
            reason.name(),
            message,
        ));
        cases.push(case(
            format!("Failed, {}", reason.name()),
            experiment(Some(s))?,
            "Degraded",
            &format!("{}: {message}", reason.name()),
        ));
    }
    let slower = "worse than baseline ScalingExperiment scale-1 past tolerance: scaleUpLatencySeconds 20 → 35.4 (+77.0%, tolerance +20%)";
    for (status, reason, health, says) in [
        (
            "True",
            CR::Regressed,
            "Degraded",
            format!("RegressionDetected: {slower}"),
        ),
        (
            "False",
            CR::WithinTolerance,
            "Healthy",
            "Completed: cooldown of 180s over".to_owned(),
        ),
    ] {
        let mut s = completed(None, "cooldown of 180s over");
        s.conditions.push(regression(status, reason, slower));
        cases.push(case(
            format!("Completed, RegressionDetected {status}"),
            experiment(Some(s))?,
            health,
            &says,
        ));
    }
    Ok(cases)
}

#[test]
fn scalingexperiment_health_follows_the_phase_and_names_the_failure() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let cases = experiment_cases()?;
    let mut phases = BTreeSet::new();
    for c in &cases {
        if let Some(phase) = c.object.pointer("/status/phase").and_then(Value::as_str) {
            let typed: ExperimentPhase = serde_json::from_value(json!(phase))?;
            phases.insert(phase.to_owned());
            let regressed = c.what.ends_with("RegressionDetected True");
            ensure!(
                experiment_health(typed) == c.status || regressed,
                "{}",
                c.what
            );
        }
    }
    ensure!(phases.len() == EXPERIMENT_PHASES.len(), "{phases:?}");
    check("scalingexperiment.lua", SCALINGEXPERIMENT_LUA, &cases)
}

// ---- TestSchedule ----

/// The example schedule with `status` (and `suspend`), as the API server returns it.
fn schedule(suspend: bool, status: Option<crds::TestScheduleStatus>) -> Result<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../manifests/examples/testschedule-nightly-standard-load.yaml"
    ))?;
    let mut ts: crds::TestSchedule = serde_yaml::from_str(&text)?;
    created(&mut ts.metadata, "nightly-standard-load");
    ts.spec.suspend = suspend;
    ts.status = status;
    Ok(serde_json::to_value(ts)?)
}

fn schedule_status(ready: bool, reason: SR, message: &str) -> crds::TestScheduleStatus {
    crds::TestScheduleStatus {
        next_schedule_time: Some(at(3600)),
        conditions: vec![condition(
            SC::Ready.as_str(),
            ready,
            reason.as_str(),
            message,
        )],
        observed_generation: Some(1),
        ..Default::default()
    }
}

#[test]
fn testschedule_health_is_whether_it_schedules() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let next = "the next run is due at 2027-01-15T09:00:00Z";
    let zone = "spec.timeZone \"Mars/Olympus\" is not a known IANA time zone";
    let cases = vec![
        case(
            "new",
            schedule(false, None)?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "Ready",
            schedule(false, Some(schedule_status(true, SR::Scheduled, next)))?,
            "Healthy",
            &format!("Scheduled: {next}"),
        ),
        case(
            "suspended before the operator looked",
            schedule(true, None)?,
            "Suspended",
            "spec.suspend is true: no runs are created",
        ),
        case(
            "suspended",
            schedule(
                true,
                Some(schedule_status(
                    false,
                    SR::Suspended,
                    "spec.suspend is true",
                )),
            )?,
            "Suspended",
            "spec.suspend is true: no runs are created",
        ),
        case(
            "an invalid time zone",
            schedule(
                false,
                Some(schedule_status(false, SR::TimeZoneInvalid, zone)),
            )?,
            "Degraded",
            &format!("TimeZoneInvalid: {zone}"),
        ),
        case(
            "an invalid schedule",
            schedule(
                false,
                Some(schedule_status(false, SR::ScheduleInvalid, "spec.schedule")),
            )?,
            "Degraded",
            "ScheduleInvalid: spec.schedule",
        ),
    ];
    check("testschedule.lua", TESTSCHEDULE_LUA, &cases)
}

// ---- ManagedCluster ----

const CLUSTER_PHASES: [ClusterPhase; 9] = [
    ClusterPhase::Pending,
    ClusterPhase::ProvisioningVms,
    ClusterPhase::Bootstrapping,
    ClusterPhase::Joining,
    ClusterPhase::InstallingAddons,
    ClusterPhase::Ready,
    ClusterPhase::Degraded,
    ClusterPhase::Deleting,
    ClusterPhase::Failed,
];

fn cluster_health(phase: ClusterPhase) -> &'static str {
    match phase {
        ClusterPhase::Ready => "Healthy",
        ClusterPhase::Degraded | ClusterPhase::Failed => "Degraded",
        ClusterPhase::Pending
        | ClusterPhase::ProvisioningVms
        | ClusterPhase::Bootstrapping
        | ClusterPhase::Joining
        | ClusterPhase::InstallingAddons
        | ClusterPhase::Deleting => "Progressing",
    }
}

fn cluster(paused: bool, generation: i64, status: Option<ManagedClusterStatus>) -> Result<Value> {
    let mut mc: ManagedCluster = serde_yaml::from_str(include_str!(
        "../../manifests/examples/managedcluster-prod-tart.yaml"
    ))?;
    created(&mut mc.metadata, "prod");
    // Cluster-scoped.
    mc.metadata.namespace = None;
    mc.metadata.generation = Some(generation);
    mc.spec.paused = paused;
    mc.status = status;
    Ok(serde_json::to_value(&mc)?)
}

fn node(name: &str, role: NodeRole, ready: bool) -> NodeStatus {
    NodeStatus {
        name: name.into(),
        role: Some(role),
        ip: Some("192.168.64.12".into()),
        vm_state: Some("running".into()),
        ready,
        kubelet_version: Some("v1.33.4".into()),
        stage: None,
    }
}

/// A tart cluster's status in `phase` with `conditions` (type, True?, reason, message).
fn cluster_status(
    phase: ClusterPhase,
    conditions: &[(MC, bool, MR, &str)],
) -> ManagedClusterStatus {
    ManagedClusterStatus {
        phase: Some(phase),
        conditions: conditions
            .iter()
            .map(|(t, ok, r, m)| condition(t.as_str(), *ok, r.as_str(), m))
            .collect(),
        observed_generation: Some(1),
        ..ManagedClusterStatus::default()
    }
}

fn ready_status() -> ManagedClusterStatus {
    let mut s = cluster_status(
        ClusterPhase::Ready,
        &[
            (MC::Provisioned, true, MR::VmsRunning, "3 VMs running"),
            (
                MC::Bootstrapped,
                true,
                MR::Initialized,
                "kubeadm init ran on prod-master",
            ),
            (MC::Joined, true, MR::AllJoined, "2 workers joined"),
            (
                MC::Reachable,
                true,
                MR::Connected,
                "API server https://192.168.64.12:6443 answered (v1.33.4)",
            ),
            (
                MC::NodesReady,
                true,
                MR::AllNodesReady,
                "3 of 3 nodes are Ready",
            ),
            (
                MC::AddonsReady,
                true,
                MR::AddonsInstalled,
                "cilium, hubble, metrics-server are Ready",
            ),
        ],
    );
    s.nodes = vec![
        node("prod-master", NodeRole::ControlPlane, true),
        node("prod-worker1", NodeRole::Worker, true),
        node("prod-worker2", NodeRole::Worker, true),
    ];
    s.ready_nodes = Some("3/3".into());
    s.kubernetes_version = Some("v1.33.4".into());
    s.api_server_endpoint = Some("https://192.168.64.12:6443".into());
    s
}

fn cluster_cases() -> Result<Vec<Case>> {
    let healthy = ready_status();
    let kubeadm = "kubeadm init failed: [ERROR NumCPU]: the number of available CPUs 1 is less than the required 2\n\t\"preflight\" failed \\ see kubeadm's log ✗";
    let mut failed = cluster_status(
        ClusterPhase::Failed,
        &[
            (MC::Provisioned, true, MR::VmsRunning, "1 VM running"),
            (MC::Bootstrapped, false, MR::KubeadmFailed, kubeadm),
        ],
    );
    failed.nodes = vec![node("prod-master", NodeRole::ControlPlane, false)];
    let mut unreachable = ready_status();
    unreachable.phase = Some(ClusterPhase::Degraded);
    unreachable.nodes.clear();
    unreachable.ready_nodes = None;
    unreachable.conditions[3] = condition(
        MC::Reachable.as_str(),
        false,
        MR::Unreachable.as_str(),
        "https://192.168.64.12:6443: connection refused",
    );
    unreachable.conditions[4] = condition(
        MC::NodesReady.as_str(),
        false,
        MR::Unknown.as_str(),
        "the cluster cannot be reached",
    );
    let mut nodes_not_ready = ready_status();
    nodes_not_ready.phase = Some(ClusterPhase::Degraded);
    nodes_not_ready.nodes[2].ready = false;
    nodes_not_ready.ready_nodes = Some("2/3".into());
    nodes_not_ready.conditions[4] = condition(
        MC::NodesReady.as_str(),
        false,
        MR::NodesNotReady.as_str(),
        "not Ready: prod-worker2",
    );
    let mut paused = ready_status();
    paused.conditions.push(condition(
        MC::Paused.as_str(),
        true,
        MR::Paused.as_str(),
        "spec.paused is true: the operator does not touch this cluster",
    ));
    let mut resumed = ready_status();
    resumed.conditions.push(condition(
        MC::Paused.as_str(),
        false,
        MR::Resumed.as_str(),
        "spec.paused is false",
    ));
    let mut deleting = ready_status();
    deleting.phase = Some(ClusterPhase::Deleting);
    let mut deleting_with_op = deleting.clone();
    deleting_with_op.last_operation = Some(LastOperation {
        type_: "Teardown".into(),
        description: "draining prod-worker1".into(),
        progress_percent: 40,
        last_update_time: Some(at(10)),
    });
    let mut installing = ready_status();
    installing.phase = Some(ClusterPhase::InstallingAddons);
    installing.conditions[5] = condition(
        MC::AddonsReady.as_str(),
        false,
        MR::AddonsNotReady.as_str(),
        "waiting for kube-system/hubble-relay to be Ready",
    );
    Ok(vec![
        case(
            "just created",
            cluster(false, 1, None)?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "an empty status",
            cluster(false, 1, Some(ManagedClusterStatus::default()))?,
            "Progressing",
            "waiting for the operator",
        ),
        case(
            "Pending, the host agent unreachable",
            cluster(
                false,
                1,
                Some(cluster_status(
                    ClusterPhase::Pending,
                    &[(
                        MC::Provisioned,
                        false,
                        MR::HostAgentUnreachable,
                        "connection refused",
                    )],
                )),
            )?,
            "Progressing",
            "Pending: HostAgentUnreachable: connection refused",
        ),
        case(
            "ProvisioningVMs",
            cluster(
                false,
                1,
                Some(cluster_status(
                    ClusterPhase::ProvisioningVms,
                    &[(
                        MC::Provisioned,
                        false,
                        MR::CreatingVms,
                        "creating VMs prod-master, prod-worker1",
                    )],
                )),
            )?,
            "Progressing",
            "ProvisioningVMs: CreatingVms: creating VMs prod-master, prod-worker1",
        ),
        case(
            "Bootstrapping",
            cluster(
                false,
                1,
                Some(cluster_status(
                    ClusterPhase::Bootstrapping,
                    &[
                        (MC::Provisioned, true, MR::VmsRunning, "3 VMs running"),
                        (
                            MC::Bootstrapped,
                            false,
                            MR::Initializing,
                            "setting up SSH access to prod-worker1",
                        ),
                    ],
                )),
            )?,
            "Progressing",
            "Bootstrapping: Initializing: setting up SSH access to prod-worker1",
        ),
        case(
            "Joining",
            cluster(
                false,
                1,
                Some(cluster_status(
                    ClusterPhase::Joining,
                    &[
                        (MC::Provisioned, true, MR::VmsRunning, "3 VMs running"),
                        (MC::Bootstrapped, true, MR::Initialized, "kubeadm init ran"),
                        (
                            MC::Joined,
                            false,
                            MR::Joining,
                            "joining prod-worker1, prod-worker2",
                        ),
                    ],
                )),
            )?,
            "Progressing",
            "Joining: Joining: joining prod-worker1, prod-worker2",
        ),
        case(
            "InstallingAddons",
            cluster(false, 1, Some(installing))?,
            "Progressing",
            "InstallingAddons: AddonsNotReady: waiting for kube-system/hubble-relay to be Ready",
        ),
        case(
            "Ready",
            cluster(false, 1, Some(healthy.clone()))?,
            "Healthy",
            "Ready: 3/3 nodes Ready (v1.33.4)",
        ),
        case(
            "Ready after a resume",
            cluster(false, 1, Some(resumed))?,
            "Healthy",
            "Ready: 3/3 nodes Ready (v1.33.4)",
        ),
        case(
            "Degraded, unreachable",
            cluster(false, 1, Some(unreachable))?,
            "Degraded",
            "Unreachable: https://192.168.64.12:6443: connection refused",
        ),
        case(
            "Degraded, a node not Ready",
            cluster(false, 1, Some(nodes_not_ready))?,
            "Degraded",
            "NodesNotReady: not Ready: prod-worker2",
        ),
        case(
            "Failed, kubeadm init",
            cluster(false, 1, Some(failed))?,
            "Degraded",
            &format!("KubeadmFailed: {kubeadm}"),
        ),
        case(
            "Deleting",
            cluster(false, 1, Some(deleting))?,
            "Progressing",
            "Deleting",
        ),
        case(
            "Deleting, with the operation",
            cluster(false, 1, Some(deleting_with_op))?,
            "Progressing",
            "Deleting (40%): draining prod-worker1",
        ),
        case(
            "paused",
            cluster(true, 1, Some(paused))?,
            "Suspended",
            "Paused: spec.paused is true: the operator does not touch this cluster",
        ),
        case(
            "paused before the operator saw it",
            cluster(true, 2, Some(healthy.clone()))?,
            "Suspended",
            "Paused: spec.paused is true",
        ),
        case(
            "a spec change not observed yet",
            cluster(false, 3, Some(healthy))?,
            "Progressing",
            "waiting for the operator to observe generation 3 (status is of generation 1)",
        ),
    ])
}

#[test]
fn managedcluster_health_follows_the_phase_and_names_the_condition() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let cases = cluster_cases()?;
    let mut phases = BTreeSet::new();
    for c in &cases {
        let paused = c.object.pointer("/spec/paused") == Some(&json!(true));
        let stale = c.object.pointer("/metadata/generation")
            != c.object.pointer("/status/observedGeneration");
        if let Some(phase) = c.object.pointer("/status/phase").and_then(Value::as_str) {
            let typed: ClusterPhase = serde_json::from_value(json!(phase))?;
            phases.insert(phase.to_owned());
            if !paused && !stale {
                ensure!(cluster_health(typed) == c.status, "{}", c.what);
            }
        }
    }
    ensure!(phases.len() == CLUSTER_PHASES.len(), "{phases:?}");
    check("managedcluster.lua", MANAGEDCLUSTER_LUA, &cases)
}

// ---- the harness itself ----

#[test]
fn a_wrong_script_fails_the_check() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let cases = loadtest_cases()?;
    // A check that calls every finished test Healthy.
    let lenient = LOADTEST_LUA.replace(r#"hs.status = "Degraded""#, r#"hs.status = "Healthy""#);
    ensure!(lenient != LOADTEST_LUA, "the mutation changed nothing");
    let wrong = mismatches("lenient.lua", &lenient, &cases);
    // Every failure reason but RunnerSimulated (not a failure), a breach under Succeeded, a
    // failure without a reason, the two runs that measured nothing, and a regression against
    // the baseline.
    ensure!(
        wrong.len() == LoadTestReason::ALL.len() + 4,
        "{}",
        wrong.join("\n")
    );
    ensure!(
        wrong
            .iter()
            .any(|w| w.starts_with("Failed, ThresholdsBreached: got Healthy")),
        "{wrong:?}"
    );
    ensure!(
        wrong.iter().any(|w| w.starts_with(
            "Completed, the runner simulated: measured nothing, so not Healthy: got Healthy"
        )),
        "{wrong:?}"
    );
    ensure!(
        wrong
            .iter()
            .any(|w| w.starts_with("Succeeded, regressed against its baseline: got Healthy")),
        "{wrong:?}"
    );
    // A status ArgoCD does not know is caught too.
    let invented = LOADTEST_LUA.replace(r#""Progressing""#, r#""Waiting""#);
    let wrong = mismatches("invented.lua", &invented, &cases);
    ensure!(
        wrong
            .iter()
            .any(|w| w.contains("\"Waiting\" is no ArgoCD health status")),
        "{wrong:?}"
    );
    Ok(())
}

#[test]
fn the_sandbox_has_what_gopher_lua_gives_argocd_and_no_more() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let object = json!({"status": {"phase": "Running"}});
    let ok = health(
        "ok.lua",
        "local t = {} table.insert(t, tostring(obj.status.phase)) return {status = 'Progressing', message = table.concat(t, ',') .. #t}",
        &object,
    )?;
    ensure!(
        ok == Health {
            status: "Progressing".into(),
            message: "Running1".into()
        },
        "{ok:?}"
    );
    for (name, script) in [
        (
            "string.lua",
            "return {status = string.format('%s', 'Healthy')}",
        ),
        ("method.lua", "return {status = ('healthy'):upper()}"),
        (
            "math.lua",
            "return {status = 'Healthy', message = tostring(math.floor(1.5))}",
        ),
        ("nothing.lua", "hs = {status = 'Healthy'}"),
        ("number.lua", "return {status = 'Healthy', message = 3}"),
    ] {
        let err = health(name, script, &object).expect_err(name).to_string();
        ensure!(err.contains(name), "{name}: {err}");
    }
    Ok(())
}

#[test]
fn json_becomes_a_lua_literal() {
    let value = json!({
        "a": [1, null, 2.5, -7, 1e-7],
        "b": {"": true, "q\"uote": "back\\slash"},
        "c": "line\nbreak\ttab é",
        "d": [],
        "e": {},
        "f": null,
        "g": 18446744073709551615u64,
    });
    assert_eq!(
        lua_literal(&value),
        r#"{["a"] = {1, nil, 2.5, -7, 1e-7}, ["b"] = {[""] = true, ["q\034uote"] = "back\092slash"}, ["c"] = "line\010break\009tab \195\169", ["d"] = {}, ["e"] = {}, ["f"] = nil, ["g"] = 18446744073709551615}"#
    );
}

#[test]
fn lua_reads_the_literal_back_byte_for_byte() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let tricky =
        "\"quoted\" \\ back\\slash ]] ]=] \n\r\t\0 NUL, digits after escapes: \n123 é ✗ 😀";
    let value = json!({
        "s": tricky,
        tricky: "as a key",
        "list": [null, 3, null, "x"],
        "nested": {"deep": [[1, 2], {"k": false}]},
        "float": 35.4,
    });
    let program = format!(
        r#"local t = {}
local list = t.list
assert(list[1] == nil and list[2] == 3 and list[3] == nil and list[4] == "x")
assert(t.nested.deep[1][2] == 2 and t.nested.deep[2].k == false)
assert(t.float - t.float % 1 == 35)
io.write(t.s, "\0", t[t.s])"#,
        lua_literal(&value)
    );
    let out = run_lua(&program)?;
    let want = format!("{tricky}\0as a key");
    ensure!(
        out == want.as_bytes(),
        "{:?} != {want:?}",
        String::from_utf8_lossy(&out)
    );
    Ok(())
}

// ---- Application (argoproj.io) ----

/// An ArgoCD Application as the API server returns it, with `health` in its status (or no
/// status at all).
fn application(health: Option<Value>) -> Value {
    let mut app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "istio-istiod-dev", "namespace": "argocd"},
        "spec": {"project": "default"},
    });
    if let Some(health) = health {
        app["status"] = json!({"sync": {"status": "Synced"}, "health": health});
    }
    app
}

#[test]
fn application_health_is_the_health_argocd_found_so_waves_wait_for_it() -> Result<()> {
    if !lua_available() {
        return Ok(());
    }
    let cases = vec![
        case(
            "just created, not assessed",
            application(None),
            "Progressing",
            "waiting for ArgoCD to assess the Application",
        ),
        case(
            "status without health",
            json!({"kind": "Application", "status": {"sync": {"status": "OutOfSync"}}}),
            "Progressing",
            "waiting for ArgoCD to assess the Application",
        ),
        case(
            "healthy",
            application(Some(json!({"status": "Healthy"}))),
            "Healthy",
            "",
        ),
        case(
            "rolling out",
            application(Some(json!({
                "status": "Progressing",
                "message": "Waiting for rollout to finish: 0 of 1 updated replicas are available..."
            }))),
            "Progressing",
            "Waiting for rollout to finish: 0 of 1 updated replicas are available...",
        ),
        case(
            "degraded",
            application(Some(
                json!({"status": "Degraded", "message": "Back-off pulling image"}),
            )),
            "Degraded",
            "Back-off pulling image",
        ),
        case(
            "missing",
            application(Some(json!({"status": "Missing"}))),
            "Missing",
            "",
        ),
        case(
            "suspended",
            application(Some(json!({"status": "Suspended"}))),
            "Suspended",
            "",
        ),
    ];
    check("application.lua", APPLICATION_LUA, &cases)
}
