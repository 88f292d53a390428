//! Storage, secrets, backup and the registry (gitops/root local-path.yaml, sealed-secrets.yaml,
//! velero.yaml, harbor.yaml, gitops/addons/etcd-snapshot):
//! - each upstream chart, as scripts/fetch-upstream.sh downloaded it at the version its
//!   ApplicationSet pins, rendered with that ApplicationSet's values and dry-run server-side
//!   (strict) against a real API server with Velero's, Sealed Secrets' and
//!   prometheus-operator's CRDs; every key of our values exists in the chart's defaults (a
//!   misspelt key would be silently ignored by helm); and what the values are for shows in
//!   the rendered objects (default StorageClass, Harbor's node port, externalURL and Secrets,
//!   the backup location, pinned images);
//! - the etcd snapshot CronJob's three steps, as written in its YAML, run against a real etcd
//!   with TLS client authentication: the snapshot restores and holds what was written;
//! - the backup store's credentials script writes one key pair into both formats.

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use conformance::documents::{self, Document};
use conformance::helm::{self, Release};
use conformance::{Applier, Verdict, repo};
use local_control_plane::tools;
use serde_json::Value;
use support::{ESTABLISHED, find, listed};

/// The chart source of ApplicationSet `set` (its `source`, or the first of its `sources`).
fn chart_source(root: &[Document], set: &str) -> Result<Value> {
    let doc = helm::application_set(root, set)?;
    let spec = &doc.object.data["spec"]["template"]["spec"];
    let source = if spec["source"].is_object() {
        &spec["source"]
    } else {
        &spec["sources"][0]
    };
    ensure!(
        source["helm"]["valuesObject"].is_object(),
        "{set}: no helm.valuesObject"
    );
    Ok(source.clone())
}

/// Every key path of `ours` that neither the chart's default values have nor its templates
/// read (`.Values<path>`: some charts document optional keys only in comments). A key below
/// a default that is null, an empty map or a list is free-form (the chart passes it through).
fn unknown_keys(
    ours: &Value,
    defaults: &Value,
    templates: &str,
    path: &str,
    out: &mut Vec<String>,
) {
    let Some(map) = ours.as_object() else { return };
    for (key, value) in map {
        let here = format!("{path}.{key}");
        match defaults.get(key) {
            None if templates.contains(&format!(".Values{here}")) => {}
            None => out.push(here),
            Some(d) if d.is_object() && !d.as_object().is_some_and(|m| m.is_empty()) => {
                unknown_keys(value, d, templates, &here, out);
            }
            Some(_) => {}
        }
    }
}

/// The text of every template of the chart in `dir`.
fn templates(dir: &Path) -> Result<String> {
    let mut text = String::new();
    let mut stack = vec![dir.join("templates")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                text.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    Ok(text)
}

struct Chart {
    set: &'static str,
    dir: &'static str,
    namespace: &'static str,
}

const CHARTS: [Chart; 4] = [
    Chart {
        set: "local-path",
        dir: "local-path/chart",
        namespace: "local-path-storage",
    },
    Chart {
        set: "sealed-secrets",
        dir: "sealed-secrets/chart",
        namespace: "kube-system",
    },
    Chart {
        set: "velero-platform",
        dir: "velero/chart",
        namespace: "velero",
    },
    Chart {
        set: "harbor",
        dir: "harbor/chart",
        namespace: "harbor",
    },
];

/// Every container image of the rendered objects.
fn images(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "image"
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_owned());
                }
                images(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| images(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_storage_backup_and_registry_charts_render_with_our_values_and_pass_a_dry_run()
-> Result<()> {
    let Some((helm, upstream)) = support::helm_and_upstream("the storage chart test") else {
        return Ok(());
    };
    let root = helm::gitops_root(&helm)?;
    let cp = local_control_plane::shared_apiserver().await?;
    let client = cp.client().await?;
    let version = client.apiserver_version().await?.git_version;
    let mut applier = Applier::new(client.clone());
    let mut crds = Vec::new();
    for dir in [
        "velero/crds",
        "sealed-secrets/crds",
        "prometheus-operator/crds",
    ] {
        crds.extend(documents::read_tree(&upstream.join(dir), &upstream)?);
    }
    applier.install_crds(&crds, ESTABLISHED).await?;

    let mut rendered: BTreeMap<&str, Vec<Document>> = BTreeMap::new();
    let mut failures = Vec::new();
    for chart in &CHARTS {
        let source = chart_source(&root, chart.set)?;
        let dir = upstream.join(chart.dir);
        let chart_yaml: Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("Chart.yaml"))?)?;
        let pinned = source["targetRevision"].as_str().unwrap_or_default();
        ensure!(
            chart_yaml["version"].as_str() == Some(pinned.trim_start_matches('v')),
            "{}: the ApplicationSet pins {pinned}, {} is chart {}",
            chart.set,
            dir.display(),
            chart_yaml["version"]
        );
        let values = &source["helm"]["valuesObject"];
        let defaults: Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("values.yaml"))?)?;
        let mut unknown = Vec::new();
        unknown_keys(values, &defaults, &templates(&dir)?, "", &mut unknown);
        ensure!(
            unknown.is_empty(),
            "{}: values the chart does not have (helm would ignore them): {unknown:?}",
            chart.set
        );
        let docs = helm::render(
            &helm,
            &Release {
                name: source["helm"]["releaseName"].as_str().unwrap_or(chart.set),
                chart: &dir,
                namespace: chart.namespace,
                values: &values.to_string(),
                kube_version: &version,
            },
        )?;
        ensure!(
            !docs.iter().any(|d| d.text.contains("Harbor12345")),
            "{}: the default admin password rendered",
            chart.set
        );
        ensure!(
            docs.len() > 2,
            "{} rendered {} objects",
            chart.set,
            docs.len()
        );
        let mut all = Vec::new();
        for doc in &docs {
            images(&doc.object.data, &mut all);
        }
        for image in &all {
            let tag = image.rsplit('/').next().unwrap_or(image);
            ensure!(
                (tag.contains(':') || tag.contains('@')) && !tag.ends_with(":latest"),
                "{}: image {image} is not pinned",
                chart.set
            );
        }
        applier.create_namespaces(&docs, chart.namespace).await?;
        let verdicts = applier.dry_run_all(&docs, chart.namespace).await;
        for v in &verdicts {
            eprintln!("{v}");
        }
        failures.extend(
            verdicts
                .into_iter()
                .filter(|v: &Verdict| v.rejected.is_some()),
        );
        rendered.insert(chart.set, docs);
    }
    ensure!(
        failures.is_empty(),
        "rejected by the API server:\n{}",
        listed(&failures)
    );

    // local-path: the default StorageClass.
    let class = find(&rendered["local-path"], "StorageClass", "local-path")?;
    ensure!(
        class
            .object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            .map(String::as_str)
            == Some("true"),
        "local-path is not the default class: {:?}",
        class.object.metadata.annotations
    );
    // Sealed Secrets: where kubeseal looks by default.
    find(
        &rendered["sealed-secrets"],
        "Deployment",
        "sealed-secrets-controller",
    )?;
    // Velero: the backup location points at the shipped store with the generated credentials.
    let bsl = find(
        &rendered["velero-platform"],
        "BackupStorageLocation",
        "default",
    )?;
    let spec = &bsl.object.data["spec"];
    ensure!(
        spec["config"]["s3Url"] == "http://seaweedfs-s3.velero.svc:8333",
        "{spec}"
    );
    ensure!(
        spec["credential"]["name"] == "backup-s3-credentials",
        "{spec}"
    );
    ensure!(spec["objectStorage"]["bucket"] == "velero", "{spec}");
    let store =
        std::fs::read_to_string(repo().join("gitops/addons/backup/storage/seaweedfs.yaml"))?;
    ensure!(
        store.contains("name: seaweedfs-s3") && store.contains("s3.bucket.create -name velero")
    );
    // Harbor: node port 30400, the stable external URL, the generated Secrets.
    let harbor = &rendered["harbor"];
    let svc = find(harbor, "Service", "harbor")?;
    ensure!(svc.object.data["spec"]["type"] == "NodePort");
    ensure!(
        svc.object.data["spec"]["ports"][0]["nodePort"] == 30400,
        "{}",
        svc.object.data["spec"]["ports"]
    );
    let core_cm = find(harbor, "ConfigMap", "harbor-core")?;
    ensure!(
        core_cm.object.data["data"]["EXT_ENDPOINT"] == "http://registry.tart-infra.internal:30400",
        "{}",
        core_cm.object.data["data"]["EXT_ENDPOINT"]
    );
    let core = find(harbor, "Deployment", "harbor-core")?;
    let text = core.object.data.to_string();
    ensure!(
        text.contains(r#""name":"harbor-admin""#),
        "harbor-core does not read harbor-admin"
    );
    ensure!(
        text.contains(r#""secretName":"harbor-secret-key""#),
        "harbor-core does not read harbor-secret-key"
    );
    let credentials =
        std::fs::read_to_string(repo().join("gitops/addons/harbor/credentials.yaml"))?;
    ensure!(credentials.contains("ensure harbor-admin HARBOR_ADMIN_PASSWORD=random"));
    ensure!(credentials.contains("ensure harbor-secret-key secretKey=random16"));
    Ok(())
}

#[test]
fn unknown_value_keys_are_found() {
    let defaults: Value = serde_json::json!({"a": {"b": 1, "free": {}}, "list": []});
    let ours = serde_json::json!({"a": {"b": 2, "c": 3, "free": {"x": 1}}, "list": [1], "d": 0});
    let mut out = Vec::new();
    unknown_keys(&ours, &defaults, "{{ .Values.d }}", "", &mut out);
    assert_eq!(out, [".a.c"]);
    out.clear();
    unknown_keys(&ours, &defaults, "", "", &mut out);
    assert_eq!(out, [".a.c", ".d"]);
}

// ---------------------------------------------------------------------------------------
// The etcd snapshot CronJob, run for real.

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// kubeadm's etcd PKI files that the CronJob mounts (and a server certificate for etcd).
fn etcd_pki(dir: &Path) -> Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "etcd-ca");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    std::fs::write(dir.join("ca.crt"), ca.pem())?;
    for (name, usage) in [
        ("server", ExtendedKeyUsagePurpose::ServerAuth),
        ("healthcheck-client", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem())?;
        local_control_plane::write_private(&dir.join(format!("{name}.key")), &key.serialize_pem())?;
    }
    Ok(())
}

struct Etcd(std::process::Child);
impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// etcd `bins` serving `client` (with client certificates under `tls`, when given) from the
/// data directory `dir/<name>`, logging to `dir/<name>.log`, its peer URL on a free port.
fn start_etcd(
    bins: &local_control_plane::Binaries,
    dir: &Path,
    name: &str,
    client: &str,
    tls: Option<&Path>,
) -> Result<Etcd> {
    let data = dir.join(name);
    let log = dir.join(format!("{name}.log"));
    let peer_port = free_port()?;
    let mut cmd = Command::new(bins.path("etcd"));
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
        ))
        .arg(format!(
            "--initial-cluster=default=http://127.0.0.1:{peer_port}"
        ))
        .arg("--listen-metrics-urls=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?);
    if let Some(pki) = tls {
        cmd.arg("--client-cert-auth")
            .arg(format!(
                "--trusted-ca-file={}",
                pki.join("ca.crt").display()
            ))
            .arg(format!("--cert-file={}", pki.join("server.crt").display()))
            .arg(format!("--key-file={}", pki.join("server.key").display()));
    }
    Ok(Etcd(cmd.spawn()?))
}

/// Runs `program args` until it succeeds or `within` passes; returns its stdout.
fn run_until(program: &Path, args: &[String], within: Duration) -> Result<String> {
    let start = Instant::now();
    loop {
        let out = Command::new(program).args(args).output()?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        if start.elapsed() > within {
            bail!(
                "{} {args:?}: {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A container of the CronJob as a command line on this machine: `$(VAR)` expanded from
/// `env`, the mount paths `/pki/` and `/snapshots` moved to `pki` and `snapshots`, the
/// etcd endpoint's port to `port`.
fn command_line(
    container: &Value,
    env: &BTreeMap<&str, String>,
    pki: &Path,
    snapshots: &Path,
    port: u16,
) -> Vec<String> {
    container["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(container["args"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(|arg| {
            let mut arg = arg.replace("/pki/", &format!("{}/", pki.display()));
            arg = arg.replace("/snapshots", &snapshots.display().to_string());
            arg = arg.replace(
                "https://127.0.0.1:2379",
                &format!("https://127.0.0.1:{port}"),
            );
            for (k, v) in env {
                arg = arg.replace(&format!("$({k})"), v);
            }
            arg
        })
        .collect()
}

#[test]
fn the_etcd_snapshot_cronjob_saves_a_snapshot_that_restores_and_keeps_the_newest() -> Result<()> {
    let bins = local_control_plane::Binaries::locate();
    let etcd_tools = tools::etcd_tools();
    let missing: Vec<String> = [
        bins.as_ref().err().map(ToString::to_string),
        etcd_tools.as_ref().err().map(ToString::to_string),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !tools::met(
        "the etcd snapshot test",
        &missing,
        "run scripts/build-kube-bins.sh and scripts/build-etcd-tools.sh",
    ) {
        return Ok(());
    }
    let (bins, etcd_tools) = (bins?, etcd_tools?);
    let etcdctl = etcd_tools.join("etcdctl");
    let etcdutl = etcd_tools.join("etcdutl");

    let text = std::fs::read_to_string(repo().join("gitops/addons/etcd-snapshot/cronjob.yaml"))?;
    let cronjob = documents::parse("etcd-snapshot", &text)?
        .remove(0)
        .object
        .data;
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    // Where it runs and what it may touch.
    ensure!(pod["hostNetwork"] == true);
    ensure!(pod["nodeSelector"]["node-role.kubernetes.io/control-plane"] == "");
    ensure!(pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane");
    let host_paths: Vec<&str> = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["hostPath"]["path"].as_str())
        .collect();
    ensure!(
        host_paths
            == [
                "/etc/kubernetes/pki/etcd/ca.crt",
                "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
                "/etc/kubernetes/pki/etcd/healthcheck-client.key",
                "/var/lib/etcd-snapshots"
            ],
        "{host_paths:?}"
    );
    let steps: Vec<&Value> = pod["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(pod["containers"].as_array().into_iter().flatten())
        .collect();
    ensure!(steps.len() == 3, "save, verify, prune");
    for step in &steps {
        for mount in step["volumeMounts"].as_array().into_iter().flatten() {
            if mount["mountPath"]
                .as_str()
                .is_some_and(|p| p.starts_with("/pki/"))
            {
                ensure!(mount["readOnly"] == true, "{mount}");
            }
        }
        let image = step["image"].as_str().unwrap_or_default();
        ensure!(
            image.starts_with("registry.k8s.io/etcd:3.") || image == "busybox:1.37.0-musl",
            "{image}"
        );
    }

    let dir = tempfile::tempdir()?;
    let (pki, snapshots) = (dir.path().join("pki"), dir.path().join("snapshots"));
    for d in [&pki, &snapshots] {
        std::fs::create_dir(d)?;
    }
    etcd_pki(&pki)?;
    let port = free_port()?;
    let endpoint = format!("https://127.0.0.1:{port}");
    let _etcd = start_etcd(&bins, dir.path(), "etcd", &endpoint, Some(&pki))?;
    let tls = |args: &[&str]| -> Vec<String> {
        [
            format!("--endpoints={endpoint}"),
            format!("--cacert={}", pki.join("ca.crt").display()),
            format!("--cert={}", pki.join("healthcheck-client.crt").display()),
            format!("--key={}", pki.join("healthcheck-client.key").display()),
        ]
        .into_iter()
        .chain(args.iter().map(|s| (*s).to_owned()))
        .collect()
    };
    run_until(
        &etcdctl,
        &tls(&["put", "/registry/tart-infra/marker", "before-the-snapshot"]),
        Duration::from_secs(30),
    )
    .with_context(|| std::fs::read_to_string(dir.path().join("etcd.log")).unwrap_or_default())?;

    // Seven older snapshots and a leftover of a failed run: prune keeps the newest seven.
    for i in 0..8 {
        let old = snapshots.join(format!("etcd-snapshot-{}-old.db", 29_000_000 + i));
        std::fs::write(&old, b"old")?;
        let age = std::time::SystemTime::now() - Duration::from_secs(86_400 * (10 - i));
        std::fs::File::options()
            .write(true)
            .open(&old)?
            .set_modified(age)?;
    }
    std::fs::write(snapshots.join("etcd-snapshot-1-x.db.part"), b"partial")?;

    let pod_name = "etcd-snapshot-29500000-abcde".to_owned();
    let mut env = BTreeMap::from([("POD_NAME", pod_name.clone())]);
    for step in &steps {
        for var in step["env"].as_array().into_iter().flatten() {
            if let (Some(name), Some(value)) = (var["name"].as_str(), var["value"].as_str()) {
                env.insert(name, value.to_owned());
            }
        }
        let line = command_line(step, &env, &pki, &snapshots, port);
        let program = match line[0].as_str() {
            "etcdctl" => etcdctl.clone(),
            "etcdutl" => etcdutl.clone(),
            "/bin/sh" => PathBuf::from("sh"),
            other => bail!("a step runs {other}, which the test does not know"),
        };
        let out = Command::new(&program)
            .args(&line[1..])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()?;
        ensure!(
            out.status.success(),
            "step {} ({line:?}) failed: {}{}",
            step["name"],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "step {}: {}",
            step["name"],
            String::from_utf8_lossy(&out.stdout)
        );
    }

    let snapshot = snapshots.join(format!("{pod_name}.db"));
    let mut kept: Vec<String> = std::fs::read_dir(&snapshots)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    ensure!(kept.len() == 7, "{kept:?}");
    ensure!(kept.contains(&format!("{pod_name}.db")), "{kept:?}");
    ensure!(
        !kept
            .iter()
            .any(|f| f.ends_with(".part") || f.contains("29000000-") || f.contains("29000001-")),
        "{kept:?}"
    );

    // The snapshot is valid and holds the key: restore it and read it back from a new etcd.
    let status: Value = serde_json::from_str(&run_until(
        &etcdutl,
        &[
            "snapshot".into(),
            "status".into(),
            snapshot.display().to_string(),
            "--write-out=json".into(),
        ],
        Duration::ZERO,
    )?)?;
    ensure!(status["totalKey"].as_u64().unwrap_or(0) >= 1, "{status}");
    let restored = dir.path().join("restored");
    run_until(
        &etcdutl,
        &[
            "snapshot".into(),
            "restore".into(),
            snapshot.display().to_string(),
            format!("--data-dir={}", restored.display()),
        ],
        Duration::ZERO,
    )?;
    let port2 = free_port()?;
    let plain = format!("http://127.0.0.1:{port2}");
    let _restored = start_etcd(&bins, dir.path(), "restored", &plain, None)?;
    let got = run_until(
        &etcdctl,
        &[
            format!("--endpoints={plain}"),
            "get".into(),
            "/registry/tart-infra/marker".into(),
            "--print-value-only".into(),
        ],
        Duration::from_secs(30),
    )?;
    ensure!(got.trim() == "before-the-snapshot", "{got:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------

/// The backup store's credentials Job script, run by `sh` with a kubectl double that keeps
/// the files it is given: Velero's `cloud` and SeaweedFS's `s3.json` hold the same pair.
#[test]
fn the_backup_credentials_job_writes_one_key_pair_in_both_formats() -> Result<()> {
    let text =
        std::fs::read_to_string(repo().join("gitops/addons/backup/storage/credentials.yaml"))?;
    let docs = documents::parse("credentials", &text)?;
    let job = docs.iter().find(|d| d.kind() == "Job").context("no Job")?;
    let container = &job.object.data["spec"]["template"]["spec"]["containers"][0];
    let script = container["args"][0].as_str().context("no script")?;
    let dir = tempfile::tempdir()?;
    let (bin, work, kept) = (
        dir.path().join("bin"),
        dir.path().join("work"),
        dir.path().join("kept"),
    );
    std::fs::create_dir_all(&bin)?;
    std::fs::create_dir_all(&work)?;
    let double = bin.join("kubectl");
    std::fs::write(
        &double,
        format!(
            "#!/bin/sh\nfor a; do case $a in --from-file=*) cp -r \"${{a#--from-file=}}\" '{}' ;; esac; done\necho secret/created\n",
            kept.display()
        ),
    )?;
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&double)?.permissions(),
        0o755,
    );
    Command::new("chmod").arg("755").arg(&double).status()?;
    let out = Command::new("sh")
        .args(["-c", script])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("WORK", &work)
        .env("NAMESPACE", "velero")
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cloud = std::fs::read_to_string(kept.join("cloud"))?;
    let s3: Value = serde_json::from_str(&std::fs::read_to_string(kept.join("s3.json"))?)?;
    let field = |key: &str| {
        cloud
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let (access, secret) = (field("aws_access_key_id"), field("aws_secret_access_key"));
    ensure!(cloud.starts_with("[default]\n"), "{cloud}");
    ensure!(access.len() == 20 && secret.len() == 32, "{cloud}");
    let creds = &s3["identities"][0]["credentials"][0];
    ensure!(
        creds["accessKey"] == access.as_str() && creds["secretKey"] == secret.as_str(),
        "{s3}"
    );
    ensure!(
        !s3["identities"][0]["actions"].to_string().contains("Admin"),
        "{s3}"
    );
    ensure!(
        std::fs::read_dir(&work)?.next().is_none(),
        "the script left the keys in {}",
        work.display()
    );
    Ok(())
}
