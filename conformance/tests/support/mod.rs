//! What the conformance tests share: the tools they need (the missing-tool rule of
//! `local_control_plane::tools::met`), and how they look up and report documents.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};
use conformance::Document;
use local_control_plane::tools;

/// How long CRDs may take to become Established.
pub const ESTABLISHED: Duration = Duration::from_secs(60);

/// helm and the upstream directory, or `None` (`who` skips) outside CI when missing.
pub fn helm_and_upstream(who: &str) -> Option<(PathBuf, PathBuf)> {
    let (helm, upstream) = (tools::helm(), tools::upstream());
    let missing: Vec<String> = [helm.as_ref().err(), upstream.as_ref().err()]
        .into_iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    if !tools::met(
        who,
        &missing,
        "run scripts/build-helm.sh and scripts/fetch-upstream.sh (scripts/test runs both)",
    ) {
        return None;
    }
    Some((helm.ok()?, upstream.ok()?))
}

/// helm, or `None` (`who` skips) outside CI when missing.
pub fn helm(who: &str) -> Option<PathBuf> {
    let helm = tools::helm();
    let missing: Vec<String> = helm
        .as_ref()
        .err()
        .map(ToString::to_string)
        .into_iter()
        .collect();
    if !tools::met(who, &missing, "run scripts/build-helm.sh") {
        return None;
    }
    helm.ok()
}

/// Whether promtool runs; the missing-tool rule for `who` otherwise.
pub fn promtool_available(who: &str) -> bool {
    let runs = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = if runs {
        vec![]
    } else {
        vec!["promtool on PATH (Debian package prometheus)".to_owned()]
    };
    tools::met(who, &missing, "run scripts/install-test-deps")
}

/// The document of `kind` named `name`.
pub fn find<'a>(docs: &'a [Document], kind: &str, name: &str) -> Result<&'a Document> {
    docs.iter()
        .find(|d| d.kind() == kind && d.name() == name)
        .with_context(|| format!("no {kind} {name} rendered"))
}

/// The verdicts (or anything else shown), one a line.
pub fn listed<T: std::fmt::Display>(verdicts: impl IntoIterator<Item = T>) -> String {
    verdicts
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a program printed: its stdout, then its stderr.
pub fn shown(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The names and objects the operator's own code builds for a LoadTest `name` in namespace team-a with
/// `spec` (uid ending in `uid`), with test images.
pub fn runner_objects(
    name: &str,
    spec: crds::LoadTestSpec,
    uid: usize,
) -> Result<(
    operator::controllers::load_test::runner::RunnerNames,
    operator::controllers::load_test::runner::RunnerObjects,
)> {
    use operator::controllers::load_test::runner;
    let mut lt = crds::LoadTest::new(name, spec);
    lt.metadata.namespace = Some("team-a".into());
    lt.metadata.uid = Some(format!("6a1f0c3e-0000-4000-8000-{uid:012}"));
    let plan = crds::plan::plan_load_test(&lt.spec)?;
    let names = runner::names(&lt);
    let images = operator::context::Images {
        k6: "grafana/k6:1.7.1".into(),
        stress_ng: "stress:1".into(),
    };
    let objects = runner::objects(&lt, &plan, &names, &images, 300, true, &Default::default());
    Ok((names, objects))
}
