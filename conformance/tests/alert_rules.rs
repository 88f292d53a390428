//! The alert rules, checked by the real promtool (Debian's prometheus package): the
//! PrometheusRules under `gitops/addons/monitoring/rules/` (their `spec`, the rule groups
//! promtool reads) and the operator chart's `files/tart-operator-rules.yaml` (the groups its
//! PrometheusRule ships, already in promtool's format) pass `promtool check rules`, and
//! `promtool test rules` passes the unit tests under `rules/tests/` and the chart's `tests/`,
//! in which every alert has a case that fires it and one that does not. The
//! original lab's expressions fail those tests where this repository fixed them, which shows
//! the tests can fail. (A real API server checks the PrometheusRule objects themselves:
//! `dry_run.rs`.)
//!
//! Without promtool the tests skip, or fail when `CI=true` (`local_control_plane::tools::met`).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use support::shown;

fn rules_dir() -> PathBuf {
    conformance::repo().join("gitops/addons/monitoring/rules")
}

/// The operator chart, whose `files/` holds its rule groups and `tests/` their unit tests.
fn chart_dir() -> PathBuf {
    conformance::repo().join("charts/tart-operator")
}

/// The directories of promtool unit tests.
fn test_dirs() -> [PathBuf; 2] {
    [rules_dir().join("tests"), chart_dir().join("tests")]
}

/// Whether promtool runs; the missing-tool rule otherwise.
fn promtool_available() -> bool {
    support::promtool_available("the alert rule tests")
}

/// One file of rules: its name, the rule groups (`spec`) and, for a PrometheusRule
/// manifest, the object.
struct RuleFile {
    name: String,
    spec: Value,
    object: Option<Value>,
}

impl RuleFile {
    fn spec(&self) -> &Value {
        &self.spec
    }

    /// Every rule of the spec.
    fn rules(&self) -> impl Iterator<Item = &Value> {
        self.spec()["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
    }

    fn alerts(&self) -> BTreeSet<String> {
        self.rules()
            .filter_map(|r| r["alert"].as_str())
            .map(str::to_owned)
            .collect()
    }
}

fn yaml_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The PrometheusRule files (`rules/*.yaml`).
fn rule_files() -> Result<Vec<RuleFile>> {
    let mut files = Vec::new();
    for path in yaml_in(&rules_dir())? {
        let text = std::fs::read_to_string(&path)?;
        let object: Value = serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not YAML", path.display()))?;
        ensure!(
            object["kind"] == "PrometheusRule"
                && object["apiVersion"] == "monitoring.coreos.com/v1",
            "{} is not one monitoring.coreos.com/v1 PrometheusRule",
            path.display()
        );
        files.push(RuleFile {
            name: file_name(&path),
            spec: object["spec"].clone(),
            object: Some(object),
        });
    }
    ensure!(
        !files.is_empty(),
        "no PrometheusRules in {}",
        rules_dir().display()
    );
    // The chart's rule groups (its PrometheusRule's spec).
    let path = chart_dir().join("files/tart-operator-rules.yaml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let spec: Value =
        serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    ensure!(
        spec["groups"].is_array(),
        "{} has no rule groups",
        path.display()
    );
    files.push(RuleFile {
        name: file_name(&path),
        spec,
        object: None,
    });
    Ok(files)
}

/// The promtool unit test files (`rules/tests/*.yaml` and the chart's `tests/*.yaml`).
fn test_paths() -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for dir in test_dirs() {
        paths.extend(yaml_in(&dir)?);
    }
    Ok(paths)
}

fn test_files() -> Result<Vec<(String, Value)>> {
    test_paths()?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            Ok((file_name(&path), serde_yaml::from_str(&text)?))
        })
        .collect()
}

/// A directory promtool runs in: each file's rule groups under the file's own name (the
/// name the test files' `rule_files` give) and the test files beside them. `edit` may change
/// a spec first.
fn workdir(edit: impl Fn(&str, &mut Value)) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    for file in rule_files()? {
        let mut spec = file.spec().clone();
        edit(&file.name, &mut spec);
        std::fs::write(dir.path().join(&file.name), serde_yaml::to_string(&spec)?)?;
    }
    for path in test_paths()? {
        std::fs::copy(&path, dir.path().join(file_name(&path)))?;
    }
    Ok(dir)
}

fn promtool(dir: &Path, args: &[&str]) -> Result<Output> {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running promtool")
}

/// `promtool test rules` on every test file in `dir`.
fn unit_tests(dir: &Path) -> Result<Output> {
    let tests: Vec<String> = test_files()?.into_iter().map(|(name, _)| name).collect();
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    promtool(dir, &args)
}

#[test]
fn every_rule_file_passes_promtool_check_and_its_unit_tests() -> Result<()> {
    if !promtool_available() {
        return Ok(());
    }
    let dir = workdir(|_, _| {})?;
    for file in rule_files()? {
        let out = promtool(dir.path(), &["check", "rules", &file.name])?;
        ensure!(
            out.status.success(),
            "promtool check rules {}:\n{}",
            file.name,
            shown(&out)
        );
    }
    let out = unit_tests(dir.path())?;
    ensure!(
        out.status.success(),
        "promtool test rules:\n{}",
        shown(&out)
    );
    Ok(())
}

/// What the unit tests say about each alert: (alerts with a case that fires them, alerts
/// with a case where they must not fire).
fn tested(tests: &[(String, Value)]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut fires, mut silent) = (BTreeSet::new(), BTreeSet::new());
    let cases = tests
        .iter()
        .flat_map(|(_, t)| t["tests"].as_array().into_iter().flatten())
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten());
    for case in cases {
        let Some(name) = case["alertname"].as_str() else {
            continue;
        };
        let expected = case["exp_alerts"].as_array().map_or(0, Vec::len);
        if expected > 0 {
            fires.insert(name.to_owned());
        } else {
            silent.insert(name.to_owned());
        }
    }
    (fires, silent)
}

/// The alerts of `alerts` that lack a firing or a silent case, described.
fn untested(
    alerts: &BTreeSet<String>,
    (fires, silent): &(BTreeSet<String>, BTreeSet<String>),
) -> Vec<String> {
    let mut gaps = Vec::new();
    for alert in alerts {
        if !fires.contains(alert) {
            gaps.push(format!("{alert} has no case that fires it"));
        }
        if !silent.contains(alert) {
            gaps.push(format!("{alert} has no case where it must not fire"));
        }
    }
    for name in fires.union(silent) {
        if !alerts.contains(name) {
            gaps.push(format!("the tests name {name}, which no rule defines"));
        }
    }
    gaps
}

#[test]
fn every_alert_has_a_case_that_fires_it_and_one_that_does_not() -> Result<()> {
    let files = rule_files()?;
    let alerts: BTreeSet<String> = files.iter().flat_map(RuleFile::alerts).collect();
    ensure!(alerts.len() == 18, "{alerts:?}");
    let tests = test_files()?;
    // Each test file reads the PrometheusRule file of its name.
    for (name, test) in &tests {
        let wanted = name.replace(".test.yaml", ".yaml");
        ensure!(
            test["rule_files"] == serde_json::json!([wanted]),
            "{name}: rule_files should be [{wanted}]"
        );
    }
    let gaps = untested(&alerts, &tested(&tests));
    ensure!(gaps.is_empty(), "{}", gaps.join("\n"));

    // The check finds a gap.
    let mut more = alerts.clone();
    more.insert("UntestedAlert".to_owned());
    ensure!(
        untested(&more, &tested(&tests))
            == [
                "UntestedAlert has no case that fires it",
                "UntestedAlert has no case where it must not fire"
            ],
        "the coverage check missed an untested alert"
    );
    Ok(())
}

#[test]
fn the_rules_are_found_by_kube_prometheus_stack_and_say_what_is_wrong() -> Result<()> {
    for file in rule_files()? {
        // The chart's PrometheusRule is checked where the chart is rendered
        // (operator_monitoring.rs); its rules are checked below like the others.
        let meta = file
            .object
            .as_ref()
            .map_or(&Value::Null, |o| &o["metadata"]);
        if file.object.is_some() {
            ensure!(meta["namespace"] == "monitoring", "{}", file.name);
            // kube-prometheus-stack's ruleSelector: its release label.
            ensure!(
                meta["labels"]["release"] == "kube-prometheus-stack",
                "{}",
                file.name
            );
        }
        for rule in file.rules() {
            let alert = rule["alert"].as_str().context("a recording rule")?;
            let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
            ensure!(
                ["warning", "critical"].contains(&severity),
                "{alert}: severity {severity:?}"
            );
            for annotation in ["summary", "description"] {
                ensure!(
                    rule["annotations"][annotation].is_string(),
                    "{alert} has no {annotation}"
                );
            }
        }
    }
    Ok(())
}

/// The original lab's expressions of the rules this repository fixed (seed inventory 5.3).
const ORIGINAL_EXPRS: [(&str, &str); 4] = [
    (
        "HighCpuUsage",
        r#"100 - (avg by (instance) (irate(node_cpu_seconds_total{mode="idle"}[5m])) * 100) > 80"#,
    ),
    (
        "PodCrashLooping",
        "rate(kube_pod_container_status_restarts_total[15m]) * 60 * 15 > 5",
    ),
    (
        "PodOOMKilled",
        r#"kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1"#,
    ),
    (
        "PodNotReady",
        r#"kube_pod_status_ready{condition="true"} == 0"#,
    ),
];

#[test]
fn the_originals_defects_fail_the_tests_that_lock_their_fixes() -> Result<()> {
    if !promtool_available() {
        return Ok(());
    }
    let dir = workdir(|file, spec| {
        if file != "tart-infra-rules.yaml" {
            return;
        }
        let rules = spec["groups"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array_mut().into_iter().flatten());
        for rule in rules {
            if let Some((_, expr)) = ORIGINAL_EXPRS.iter().find(|(a, _)| rule["alert"] == *a) {
                rule["expr"] = Value::from(*expr);
            }
        }
    })?;
    let out = unit_tests(dir.path())?;
    let text = shown(&out);
    if out.status.success() {
        bail!("the tests pass with the original expressions:\n{text}");
    }
    for (alert, _) in ORIGINAL_EXPRS {
        ensure!(
            text.contains(&format!("alertname: {alert},")),
            "no test failed for the original {alert}:\n{text}"
        );
    }
    // The operator's rules were untouched: their file still passes.
    ensure!(
        text.contains("tart-operator-rules.test.yaml\n  SUCCESS"),
        "{text}"
    );
    Ok(())
}
