//! The operator chart's monitoring objects against what the operator really exports: the
//! Grafana dashboard (`charts/tart-operator/files/grafana-dashboard.json`) is valid JSON whose
//! every PromQL expression parses (the real promtool) and names only metrics the operator's
//! `/metrics` exposes (its registry, every family populated, encoded as the endpoint encodes
//! it), and the dashboard shows every family; the alert rules of the chart name only exported
//! metrics too; and the chart renders them (helm): the PrometheusRule is exactly the rules
//! file, the dashboard ConfigMap carries Grafana's sidecar label, the PodDisruptionBudget
//! exists only with more than one replica.
//!
//! Without promtool or helm the tests skip, or fail when `CI=true`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use conformance::helm::{self, Release};
use operator::metrics::Metrics;
use operator::model::HpaSample;
use serde_json::{Value, json};

fn chart() -> PathBuf {
    conformance::repo().join("charts/tart-operator")
}

fn dashboard() -> Result<Value> {
    let path = chart().join("files/grafana-dashboard.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Every `expr` of the dashboard's panels (rows' nested panels too).
fn exprs(dashboard: &Value) -> Vec<String> {
    fn walk(panels: &Value, out: &mut Vec<String>) {
        for panel in panels.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    out.push(expr.to_owned());
                }
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// The metric names the operator's `/metrics` exposes (Prometheus text format, as promtool
/// and Prometheus read it), with a series in every family.
fn exported() -> Result<BTreeSet<String>> {
    let m = Metrics::new();
    m.set_leader(true);
    m.reconciled("loadtest", std::time::Duration::from_millis(12));
    m.reconcile_failed("loadtest", "kube", "transient");
    let lt: crds::LoadTest = serde_json::from_value(json!({
        "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {"cluster": "dev", "preset": "light-load"},
        "status": {"phase": "Succeeded", "results": {"rps": 41.5, "errorRate": 0.01,
            "latencyMs": {"p95": 120.0, "p99": 250.0}}},
    }))?;
    m.observe_loadtest(&lt);
    m.observe_cluster("dev", true, 2, 2);
    m.observe_hpas(
        "dev",
        &[HpaSample {
            namespace: "demo".into(),
            name: "nginx-web".into(),
            current_replicas: 3,
            desired_replicas: 4,
            ..HpaSample::default()
        }],
    );
    m.collector_error("dev", "metrics");
    let text = m.encode_text()?;
    let names: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    ensure!(names.len() > 15, "too few series: {text}");
    Ok(names)
}

/// `up`: the series Prometheus writes for every target it scrapes.
const SYNTHETIC: [&str; 1] = ["up"];

/// PromQL's grouping and matching modifiers: `by (job)` lists labels, not metrics.
const GROUPING: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// PromQL's other words that are no metric.
const KEYWORDS: [&str; 8] = [
    "offset", "bool", "and", "or", "unless", "atan2", "inf", "nan",
];

/// PromQL's aggregation operators: `sum by (x) (...)` puts the grouping between the name
/// and its parenthesis.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// The metric names a PromQL expression selects: the identifiers that are not functions
/// (followed by `(`), aggregations, keywords, label names (inside `{}` and grouping lists),
/// strings, numbers, durations or Grafana variables (`$name`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Skips a bracketed block from its opening bracket, strings inside included.
    let skip_block = |mut i: usize, open: char, close: char| -> usize {
        let mut depth = 0;
        while i < chars.len() {
            match chars[i] {
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                '"' | '\'' | '`' => {
                    let quote = chars[i];
                    i += 1;
                    while i < chars.len() && chars[i] != quote {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            while i < chars.len() && chars[i] != quote {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            i = skip_block(i, '{', '}');
        } else if c == '[' {
            i = skip_block(i, '[', ']');
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
        } else if ident_start(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            if GROUPING.contains(&word.as_str()) {
                if called {
                    i = skip_block(next, '(', ')');
                }
            } else if !called
                && !KEYWORDS.contains(&word.as_str())
                && !AGGREGATIONS.contains(&word.as_str())
            {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The names of `exprs` that the operator does not export, described.
fn unknown(exprs: &[String], exported: &BTreeSet<String>) -> Vec<String> {
    let mut gaps = Vec::new();
    for expr in exprs {
        for name in metric_names(expr) {
            if !exported.contains(&name) && !SYNTHETIC.contains(&name.as_str()) {
                gaps.push(format!("{name} (in {expr})"));
            }
        }
    }
    gaps
}

#[test]
fn the_metric_name_extractor_finds_metrics_and_only_metrics() {
    let found = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        found(
            r#"histogram_quantile(0.99, sum by (controller, le) (rate(a_bucket{job="x",le!="+Inf"}[5m])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        found("max by (namespace, job) (up{job=\"tart-operator\"}) == 0"),
        ["up"]
    );
    assert_eq!(
        found(
            r#"label_replace(max_over_time(b{state="Failed"}[30m] offset 30m), "namespace", "$1", "exported_namespace", "(.+)") unless on (namespace, name) c"#
        ),
        ["b", "c"]
    );
    assert_eq!(
        found(
            "sum(rate(d_total{job=\"$job\"}[$__rate_interval])) / ignoring(x) group_left e > 1e3"
        ),
        ["d_total", "e"]
    );
    assert_eq!(
        found("sum(f) without (instance, pod) and bool g"),
        ["f", "g"]
    );
}

#[test]
fn the_dashboard_is_json_and_every_expression_names_only_exported_metrics() -> Result<()> {
    let dashboard = dashboard()?;
    ensure!(dashboard["uid"].is_string() && dashboard["title"].is_string());
    let exprs = exprs(&dashboard);
    ensure!(exprs.len() >= 15, "{} expressions", exprs.len());
    let exported = exported()?;
    let gaps = unknown(&exprs, &exported);
    ensure!(
        gaps.is_empty(),
        "the dashboard queries metrics the operator does not export:\n{}\nexported: {exported:?}",
        gaps.join("\n")
    );
    // The check fails on a name the operator does not export.
    ensure!(
        unknown(
            &["sum(rate(tart_operator_reconcile_total[5m]))".to_owned()],
            &exported
        ) == ["tart_operator_reconcile_total (in sum(rate(tart_operator_reconcile_total[5m])))"]
    );

    // And it shows every family: a new metric gets a panel.
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    let family = |name: &str| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name)
            .to_owned()
    };
    let shown: BTreeSet<String> = used.iter().map(|n| family(n)).collect();
    let missing: Vec<String> = exported
        .iter()
        .map(|n| family(n))
        .filter(|f| !shown.contains(f))
        .collect();
    ensure!(
        missing.is_empty(),
        "families the dashboard does not show: {missing:?}"
    );
    Ok(())
}

#[test]
fn the_charts_alert_rules_name_only_exported_metrics() -> Result<()> {
    let path = chart().join("files/tart-operator-rules.yaml");
    let rules: Value = serde_yaml::from_str(&std::fs::read_to_string(&path)?)?;
    let exprs: Vec<String> = rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["expr"].as_str().map(str::to_owned))
        .collect();
    ensure!(exprs.len() >= 10, "{} rules", exprs.len());
    let gaps = unknown(&exprs, &exported()?);
    ensure!(gaps.is_empty(), "{}", gaps.join("\n"));
    Ok(())
}

/// `promtool check rules` on the expressions as recording rules, Grafana's variables
/// replaced by what Grafana puts there.
fn promtool_parses(exprs: &[String]) -> Result<std::process::Output> {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = e
                .replace("$__rate_interval", "2m")
                .replace("$job", "tart-operator");
            json!({"record": format!("dashboard:expr_{i}"), "expr": e})
        })
        .collect();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("dashboard.yaml");
    std::fs::write(
        &file,
        serde_yaml::to_string(&json!({"groups": [{"name": "dashboard", "rules": rules}]}))?,
    )?;
    Ok(Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()?)
}

#[test]
fn every_dashboard_expression_parses() -> Result<()> {
    if !support::promtool_available("the dashboard's PromQL check") {
        return Ok(());
    }
    let out = promtool_parses(&exprs(&dashboard()?))?;
    ensure!(out.status.success(), "promtool: {}", support::shown(&out));
    // The check fails on an expression that does not parse.
    let out = promtool_parses(&["sum(rate(tart_operator_leader[5m])".to_owned()])?;
    ensure!(
        !out.status.success(),
        "promtool accepted a broken expression"
    );
    Ok(())
}

/// The chart released as `tart-operator` into tart-system with `values`, as objects.
fn template(helm: &Path, values: &Value) -> Result<Vec<Value>> {
    let docs = helm::render(
        helm,
        &Release {
            name: "tart-operator",
            chart: &chart(),
            namespace: "tart-system",
            values: &values.to_string(),
            kube_version: helm::KUBE_VERSION,
        },
    )?;
    Ok(docs
        .iter()
        .map(|d| serde_json::to_value(&d.object))
        .collect::<Result<_, _>>()?)
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind)
}

#[test]
fn the_chart_renders_the_rules_file_the_dashboard_and_a_pdb_with_more_than_one_replica()
-> Result<()> {
    let Some(helm) = support::helm("the chart's monitoring objects test") else {
        return Ok(());
    };
    // Off by default (the PrometheusRule needs its CRD); the PDB is on with two replicas.
    let default = template(&helm, &json!({}))?;
    ensure!(find(&default, "PrometheusRule").is_none());
    ensure!(find(&default, "ConfigMap").is_none());
    let pdb = find(&default, "PodDisruptionBudget").context("no PDB with 2 replicas")?;
    ensure!(pdb["spec"]["maxUnavailable"] == 1, "{pdb}");
    ensure!(
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "tart-operator"
    );
    let one = template(
        &helm,
        &json!({"replicaCount": 1, "leaderElection": {"enabled": false}}),
    )?;
    ensure!(
        find(&one, "PodDisruptionBudget").is_none(),
        "a PDB on one replica blocks every drain"
    );
    let off = template(&helm, &json!({"podDisruptionBudget": {"enabled": false}}))?;
    ensure!(find(&off, "PodDisruptionBudget").is_none());

    let on = template(
        &helm,
        &json!({"monitoring": {
            "prometheusRule": {"enabled": true, "labels": {"release": "kps"}},
            "dashboard": {"enabled": true},
        }}),
    )?;
    let rule = find(&on, "PrometheusRule").context("no PrometheusRule")?;
    let file: Value = serde_yaml::from_str(&std::fs::read_to_string(
        chart().join("files/tart-operator-rules.yaml"),
    )?)?;
    ensure!(
        rule["spec"] == file,
        "the PrometheusRule is not the rules file"
    );
    ensure!(rule["metadata"]["labels"]["release"] == "kps");
    ensure!(rule["metadata"]["namespace"] == "tart-system");

    let config_map = find(&on, "ConfigMap").context("no dashboard ConfigMap")?;
    ensure!(config_map["metadata"]["labels"]["grafana_dashboard"] == "1");
    let json: Value = serde_json::from_str(
        config_map["data"]["tart-operator.json"]
            .as_str()
            .context("no tart-operator.json")?,
    )?;
    ensure!(json == dashboard()?);

    // Another release name: the rules follow its Service, the job of its series.
    let text = helm::template(
        &helm,
        &Release {
            name: "ops",
            chart: &chart(),
            namespace: "default",
            values: &json!({"monitoring": {"prometheusRule": {"enabled": true}}}).to_string(),
            kube_version: helm::KUBE_VERSION,
        },
    )?;
    ensure!(
        text.contains(r#"job="ops-tart-operator""#) && !text.contains(r#"job="tart-operator""#)
    );
    Ok(())
}
