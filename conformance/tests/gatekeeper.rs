//! OPA Gatekeeper on dev (`gitops/root/templates/gatekeeper.yaml`, `gitops/addons/gatekeeper`):
//! - the rego of the four ConstraintTemplates, run by Gatekeeper's own `gator verify` on the
//!   suites in `gitops/addons/gatekeeper/tests` (objects each constraint must let through and
//!   objects it must flag), and the suites catch the original's bug (rego that read only a
//!   Pod's `spec.containers`) when it is put back;
//! - `gator test` finds no violation in the demo apps and the operator's runner Jobs, and
//!   does find the one bad object mixed in with them;
//! - the pinned chart rendered with the ApplicationSet's values, the templates, and the
//!   constraints pass a server-side dry run against a real API server with Gatekeeper's CRDs
//!   and the constraint CRDs Gatekeeper would generate from the templates (so the
//!   constraints' parameters are validated); a misspelt parameter is rejected;
//! - the constraints keep the original's enforcement actions and namespace scope, and come
//!   after the templates, which come after the chart (sync waves).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, ensure};
use conformance::documents::{self, Document};
use conformance::gatekeeper;
use conformance::helm::{self, Release};
use conformance::{Applier, Verdict, repo};
use crds::LoadTestSpec;
use crds::load_test::LoadTestPreset;
use local_control_plane::tools;
use serde_json::Value;
use support::{ESTABLISHED, listed};

fn addon() -> PathBuf {
    repo().join("gitops/addons/gatekeeper")
}

/// gator, or `None` (the test skips) outside CI when it is missing.
fn gator() -> Option<PathBuf> {
    let gator = tools::gator();
    let missing: Vec<String> = gator
        .as_ref()
        .err()
        .map(ToString::to_string)
        .into_iter()
        .collect();
    if !tools::met(
        "the Gatekeeper policy test",
        &missing,
        "run scripts/build-gator.sh (scripts/test runs it)",
    ) {
        return None;
    }
    gator.ok()
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Result<Output> {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {}", program.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn suite_cases() -> Result<Vec<(String, Vec<String>)>> {
    let suite: Value =
        serde_yaml::from_str(&std::fs::read_to_string(addon().join("tests/suite.yaml"))?)?;
    Ok(suite["tests"]
        .as_array()
        .context("suite.yaml has no tests")?
        .iter()
        .map(|t| {
            let cases = t["cases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect();
            (t["name"].as_str().unwrap_or_default().to_owned(), cases)
        })
        .collect())
}

#[test]
fn gator_verify_passes_the_suites_and_they_catch_the_originals_bug() -> Result<()> {
    let Some(gator) = gator() else { return Ok(()) };
    // Every template and every constraint has its test in the suite.
    let tests = suite_cases()?;
    let names: Vec<&str> = tests.iter().map(|(n, _)| n.as_str()).collect();
    for file in documents::yaml_files(&addon().join("constraints"))? {
        let stem = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        ensure!(
            names.contains(&stem.as_str()),
            "suite.yaml has no test for {stem}: {names:?}"
        );
    }
    ensure!(names.len() == 4, "{names:?}");
    for (name, cases) in &tests {
        ensure!(cases.len() >= 3, "{name} has only {} cases", cases.len());
    }

    let out = run(&gator, &["verify", "-v", "tests"], &addon())?;
    let shown = support::shown(&out);
    eprintln!("{shown}");
    ensure!(out.status.success(), "gator verify failed:\n{shown}");
    // -v lists every case it ran; all of them ran and passed.
    for (_, cases) in &tests {
        for case in cases {
            ensure!(
                shown.contains(case.as_str()),
                "gator did not report case {case:?}"
            );
        }
    }
    ensure!(!shown.contains("FAIL"), "{shown}");

    // Put the original's bug back (the pod spec read from `spec` for every kind, i.e. only a
    // Pod's containers are checked): the suite must fail on the workload cases.
    let dir = tempfile::tempdir()?;
    copy_dir(&addon(), dir.path())?;
    for template in ["k8sdisallowprivileged.yaml", "k8scontainerlimits.yaml"] {
        let path = dir.path().join("templates").join(template);
        let rego = std::fs::read_to_string(&path)?;
        let buggy = rego.replace("spec := obj.spec.template.spec", "spec := obj.spec");
        ensure!(buggy != rego, "{template}: the mutation did not apply");
        std::fs::write(&path, buggy)?;
    }
    let out = run(&gator, &["verify", "-v", "tests"], dir.path())?;
    let shown = support::shown(&out);
    ensure!(
        !out.status.success(),
        "the suite passed with the original's bug:\n{shown}"
    );
    for case in [
        "a Deployment's pod template is checked",
        "a Deployment's privileged pod template is denied",
    ] {
        ensure!(
            shown
                .lines()
                .any(|l| l.contains(case) && l.contains("FAIL")),
            "with the original's bug, case {case:?} did not fail:\n{shown}"
        );
    }
    Ok(())
}

/// The operator's runner Job for `preset` as its own code builds it (dev's runner namespace).
fn runner_job(preset: LoadTestPreset) -> Result<Value> {
    let (_, objects) = support::runner_objects(
        "gatekeeper-check",
        LoadTestSpec {
            preset: Some(preset),
            ..LoadTestSpec::on("dev".into())
        },
        2,
    )?;
    Ok(serde_json::to_value(objects.job)?)
}

#[test]
fn gator_test_finds_no_violation_in_the_demo_apps_and_the_runners_and_finds_a_bad_object()
-> Result<()> {
    let Some(gator) = gator() else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let objects = dir.path().join("objects");
    copy_dir(&repo().join("gitops/addons/demo-apps"), &objects)?;
    for (i, preset) in [LoadTestPreset::LightLoad, LoadTestPreset::CpuStressHeavy]
        .into_iter()
        .enumerate()
    {
        let job = runner_job(preset)?;
        std::fs::write(
            objects.join(format!("runner-{i}.yaml")),
            serde_yaml::to_string(&job)?,
        )?;
    }
    // The one object that must be reported: a privileged Deployment in demo.
    std::fs::copy(
        addon().join("tests/cases/deployment-privileged.yaml"),
        objects.join("zz-bad.yaml"),
    )?;
    let args = [
        "test",
        "-o",
        "json",
        "-f",
        "templates",
        "-f",
        "constraints",
        "-f",
    ];
    let mut args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    args.push(objects.display().to_string());
    let out = Command::new(&gator)
        .args(&args)
        .current_dir(addon())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", support::shown(&out));
    let results: Value = serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "gator test -o json printed no JSON:\n{}",
            support::shown(&out)
        )
    })?;
    let results = results.as_array().cloned().unwrap_or_default();
    let flagged: BTreeMap<String, String> = results
        .iter()
        .map(|r| {
            (
                r["violatingObject"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
                r["msg"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    ensure!(
        flagged.keys().collect::<Vec<_>>() == ["deployment-privileged"],
        "expected only the planted privileged Deployment to be flagged, got {flagged:#?}"
    );
    // deny: gator exits non-zero because of it.
    ensure!(
        !out.status.success(),
        "gator test exited 0 despite a deny violation"
    );
    Ok(())
}

#[test]
fn the_constraints_keep_the_originals_actions_and_scope_and_come_after_their_templates()
-> Result<()> {
    let constraints = documents::addon("gatekeeper/constraints")?;
    let templates = documents::addon("gatekeeper/templates")?;
    let kinds: Vec<String> = templates
        .iter()
        .map(|t| {
            t.object.data["spec"]["crd"]["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ensure!(templates.len() == 4 && constraints.len() == 4);
    let annotation = |d: &Document, key: &str| {
        d.object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key).cloned())
            .unwrap_or_default()
    };
    for t in &templates {
        ensure!(annotation(t, "argocd.argoproj.io/sync-wave") == "1", "{t}");
        ensure!(
            t.name()
                == t.object.data["spec"]["crd"]["spec"]["names"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase(),
            "{t}: Gatekeeper needs the name to be the lowercase kind"
        );
    }
    let mut seen = BTreeMap::new();
    for c in &constraints {
        ensure!(
            kinds.iter().any(|k| k == c.kind()),
            "{c}: no template for {}",
            c.kind()
        );
        ensure!(annotation(c, "argocd.argoproj.io/sync-wave") == "2", "{c}");
        ensure!(
            annotation(c, "argocd.argoproj.io/sync-options") == "SkipDryRunOnMissingResource=true",
            "{c}"
        );
        let spec = &c.object.data["spec"];
        seen.insert(
            c.name().to_owned(),
            (
                spec["enforcementAction"]
                    .as_str()
                    .unwrap_or("deny")
                    .to_owned(),
                spec["match"]["namespaces"].clone(),
                spec["match"]["excludedNamespaces"].clone(),
            ),
        );
    }
    let demo = serde_json::json!(["demo"]);
    let expected = BTreeMap::from([
        (
            "block-nodeport-services".to_owned(),
            ("warn".to_owned(), demo.clone(), Value::Null),
        ),
        (
            "container-must-have-limits".to_owned(),
            ("warn".to_owned(), demo.clone(), Value::Null),
        ),
        (
            "disallow-privileged-containers".to_owned(),
            (
                "deny".to_owned(),
                Value::Null,
                serde_json::json!([
                    "kube-system",
                    "monitoring",
                    "gatekeeper-system",
                    "sealed-secrets",
                    "istio-system",
                    "cilium"
                ]),
            ),
        ),
        (
            "require-app-label".to_owned(),
            ("warn".to_owned(), demo, Value::Null),
        ),
    ]);
    ensure!(seen == expected, "{seen:#?}");
    // The demo's own NodePorts carry the allow label, so the warn does not fire on them.
    let apps = documents::addon("demo-apps")?;
    let node_ports: Vec<&Document> = apps
        .iter()
        .filter(|d| d.kind() == "Service" && d.object.data["spec"]["type"] == "NodePort")
        .collect();
    ensure!(
        node_ports.len() == 2,
        "{} NodePort Services",
        node_ports.len()
    );
    for svc in node_ports {
        let labels = svc.object.metadata.labels.clone().unwrap_or_default();
        ensure!(
            labels.get("allow-nodeport").map(String::as_str) == Some("true"),
            "{svc}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_chart_templates_and_constraints_pass_a_server_side_dry_run() -> Result<()> {
    let Some((helm, upstream)) = support::helm_and_upstream("the Gatekeeper dry-run test") else {
        return Ok(());
    };
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let mut applier = Applier::new(client.clone());

    // The ApplicationSet: on dev, the pinned chart first, then the two directories.
    let root = helm::gitops_root(&helm)?;
    let set = helm::application_set(&root, "gatekeeper")?;
    ensure!(
        set.object.data["spec"]["generators"][0]["clusters"]["selector"]
            == serde_json::json!({"matchLabels": {"tartinfra.dev/tier": "dev"}}),
        "Gatekeeper goes to dev by tier"
    );
    let sources = set.object.data["spec"]["template"]["spec"]["sources"]
        .as_array()
        .context("sources")?;
    let paths: Vec<&str> = sources.iter().filter_map(|s| s["path"].as_str()).collect();
    ensure!(
        paths
            == [
                "gitops/addons/gatekeeper/templates",
                "gitops/addons/gatekeeper/constraints"
            ],
        "{paths:?}"
    );
    let chart_source = &sources[0];
    let chart = upstream.join("gatekeeper/chart");
    let pinned = chart_source["targetRevision"].as_str().unwrap_or_default();
    let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml"))?;
    ensure!(
        chart_yaml
            .lines()
            .any(|l| l.trim() == format!("version: {pinned}")),
        "the ApplicationSet pins chart {pinned}, and {} is another version",
        chart.display()
    );
    let gator_mod = std::fs::read_to_string(repo().join("tools/gator/go.mod"))?;
    ensure!(
        gator_mod.contains(&format!(
            "github.com/open-policy-agent/gatekeeper/v3 v{pinned} "
        )),
        "tools/gator/go.mod builds another gator than the chart's release {pinned}"
    );

    let version = client.apiserver_version().await?.git_version;
    let chart_docs = helm::render(
        &helm,
        &Release {
            name: "gatekeeper",
            chart: &chart,
            namespace: "gatekeeper-system",
            values: &chart_source["helm"]["valuesObject"].to_string(),
            kube_version: &version,
        },
    )?;
    let kinds: Vec<&str> = chart_docs.iter().map(Document::kind).collect();
    ensure!(
        kinds.contains(&"ValidatingWebhookConfiguration"),
        "{kinds:?}"
    );
    // The values turned off the hook Jobs (the CRDs come from the chart's crds/).
    ensure!(!kinds.contains(&"Job"), "hook Jobs rendered: {kinds:?}");
    // Every image pinned.
    for image in chart_docs
        .iter()
        .flat_map(|d| d.text.lines())
        .filter_map(|l| l.trim().strip_prefix("image: "))
    {
        let image = image.trim_matches(['"', '\'']);
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
        ensure!(
            !tag.is_empty() && tag != "latest" && !tag.contains('/'),
            "unpinned image {image}"
        );
    }
    // One replica, and a PDB that lets dev's one worker drain.
    let pdb = chart_docs
        .iter()
        .find(|d| d.kind() == "PodDisruptionBudget")
        .context("no PDB")?;
    ensure!(pdb.object.data["spec"]["minAvailable"] == 0, "{pdb}");

    // Gatekeeper's CRDs, then the CRDs it would generate from our templates.
    let mut crds = documents::read_tree(&upstream.join("gatekeeper/crds"), &upstream)?;
    let templates = documents::addon("gatekeeper/templates")?;
    let match_schema = gatekeeper::match_schema(&std::fs::read_to_string(
        upstream.join("gatekeeper/match/matchcrd_constant.go"),
    )?)?;
    let generated = gatekeeper::constraint_crds(&templates, &match_schema)?;
    ensure!(generated.len() == 4, "{} generated CRDs", generated.len());
    applier.install_crds(&crds, ESTABLISHED).await?;
    applier.install_crds(&generated, ESTABLISHED).await?;
    crds.extend(generated);

    let constraints = documents::addon("gatekeeper/constraints")?;
    applier
        .create_namespaces(&chart_docs, "gatekeeper-system")
        .await?;
    let mut verdicts = applier.dry_run_all(&chart_docs, "gatekeeper-system").await;
    let ours_from = verdicts.len();
    verdicts.extend(applier.dry_run_all(&templates, "gatekeeper-system").await);
    verdicts.extend(applier.dry_run_all(&constraints, "gatekeeper-system").await);
    for v in &verdicts {
        eprintln!("{v}");
    }
    let failures: Vec<&Verdict> = verdicts
        .iter()
        .enumerate()
        .filter(|(i, v)| v.rejected.is_some() || (*i >= ours_from && !v.warnings.is_empty()))
        .map(|(_, v)| v)
        .collect();
    ensure!(
        failures.is_empty(),
        "{} of {} documents failed the dry run:\n{}",
        failures.len(),
        verdicts.len(),
        listed(&failures)
    );

    // The generated CRDs validate parameters: a misspelt one and a wrongly typed one are
    // rejected, as Gatekeeper's would be.
    for (what, from, to) in [
        ("misspelt parameter", "memory: 2Gi", "memroy: 2Gi"),
        ("number for a string", "cpu: \"2\"", "cpu: [2]"),
    ] {
        let file = addon().join("constraints/container-must-have-limits.yaml");
        let bad = std::fs::read_to_string(&file)?.replace(from, to);
        let docs = documents::parse(&format!("{} ({what})", file.display()), &bad)?;
        let verdict = applier.dry_run(&docs[0], "default").await;
        ensure!(verdict.rejected.is_some(), "{what} accepted: {verdict}");
    }
    let file = addon().join("constraints/require-app-label.yaml");
    let bad = std::fs::read_to_string(&file)?.replace("labels: [app]", "labels: []");
    let docs = documents::parse("require-app-label (no labels)", &bad)?;
    let verdict = applier.dry_run(&docs[0], "default").await;
    ensure!(
        verdict.rejected.is_some(),
        "an empty label list accepted: {verdict}"
    );
    Ok(())
}

#[test]
fn a_constraint_crd_is_generated_like_gatekeepers() -> Result<()> {
    let go = "package target\n\nconst matchYAML = `\nspec:\n  versions:\n  - name: match\n    schema:\n      openAPIV3Schema:\n        properties:\n          embeddedMatch:\n            description: use `+\"`\"+`kinds`+\"`\"+`\n            type: object\n            properties:\n              kinds: {type: array}\n`\n";
    let schema = gatekeeper::match_schema(go)?;
    ensure!(schema["properties"]["kinds"]["type"] == "array", "{schema}");
    ensure!(schema["description"] == "use `kinds`", "{schema}");
    ensure!(gatekeeper::match_schema("package target").is_err());
    let template = documents::parse(
        "t.yaml",
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: k8sx}\nspec:\n  crd:\n    spec:\n      names: {kind: K8sX}\n      validation:\n        openAPIV3Schema:\n          type: object\n          properties: {n: {type: integer}}\n",
    )?;
    let crd = gatekeeper::constraint_crd(&template[0], &schema)?;
    ensure!(crd.name() == "k8sx.constraints.gatekeeper.sh", "{crd}");
    let spec = &crd.object.data["spec"];
    ensure!(spec["scope"] == "Cluster" && spec["names"]["kind"] == "K8sX");
    let props =
        &spec["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    ensure!(
        props["parameters"]["properties"]["n"]["type"] == "integer",
        "{props}"
    );
    ensure!(
        props["match"]["properties"]["kinds"]["type"] == "array",
        "{props}"
    );
    // Not a template: an error naming the file.
    let other = documents::parse(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
    )?;
    match gatekeeper::constraint_crd(&other[0], &schema) {
        Err(e) => ensure!(e.to_string().contains("svc.yaml"), "{e}"),
        Ok(crd) => anyhow::bail!("a CRD from a Service: {crd}"),
    }
    Ok(())
}
