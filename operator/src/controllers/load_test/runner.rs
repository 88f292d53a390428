//! The runner objects of a LoadTest in its target cluster, as pure functions of the
//! LoadTest and its plan: the runner namespace, the ConfigMap with the fixed k6 script and
//! the test's parameters as JSON, the Secret with the values of `valueFrom` headers (the
//! script reads them from the environment, so they appear in neither the ConfigMap nor the
//! Job), and the Job.

use std::collections::BTreeMap;

use crds::LoadTest;
use crds::common::HttpMethod;
use crds::load_test::{DEFAULT_RUNNER_NAMESPACE, StressKind};
use crds::plan::{HttpPlan, LoadShape, Plan, StressPlan};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ResourceRequirements, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::parallel;
use crate::clusters::remote::OWNER_ANNOTATION;
use crate::context::Images;

/// The k6 script, shipped unchanged with every HTTP test.
pub const K6_SCRIPT: &str = include_str!("../../../assets/k6/loadtest.js");
/// The summary module the script imports.
pub const K6_SUMMARY: &str = include_str!("../../../assets/k6/summary.js");
/// The module that gives a parallel runner its k6 execution segment.
pub const K6_SEGMENTS: &str = include_str!("../../../assets/k6/segments.js");
/// Where the ConfigMap is mounted in the runner.
pub const SCRIPT_DIR: &str = "/etc/tart-loadtest";
/// The container's name.
pub const CONTAINER: &str = "runner";
/// The label that ties runner objects to their LoadTest's uid.
pub const UID_LABEL: &str = "tartinfra.dev/loadtest-uid";
/// The k6 image's user.
pub(super) const K6_UID: i64 = 12345;
/// `nobody`, for stress-ng.
const STRESS_UID: i64 = 65534;
/// The pause between iterations of each virtual user (the original's `sleep(0.1)`).
const ITERATION_SLEEP_SECONDS: f64 = 0.1;

/// Where a LoadTest's runner lives in the target cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerNames {
    /// The runner namespace.
    pub namespace: String,
    /// The Job's name (also the ConfigMap's, and a parallel test's NetworkPolicy's).
    pub job: String,
    /// Several runners (`spec.http.parallelism` above 1): the test also has a starter Job
    /// and a NetworkPolicy.
    pub parallel: bool,
}

/// The runner's names: deterministic in the LoadTest's namespace, name and uid, so a
/// restarted operator finds the Job it created and never creates a second one.
pub fn names(lt: &LoadTest) -> RunnerNames {
    let ns = lt.namespace().unwrap_or_default();
    let name = lt.name_any();
    let uid = lt.uid().unwrap_or_default();
    let digest = Sha256::digest(format!("{ns}/{name}/{uid}").as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    // lt-<name, cut to fit>-<hash>: at most 63 characters (the job-name pod label).
    let mut prefix: String = name.chars().take(63 - 3 - 1 - hash.len()).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    RunnerNames {
        namespace: lt
            .spec
            .runner_namespace
            .as_ref()
            .map_or(DEFAULT_RUNNER_NAMESPACE, |n| n.as_str())
            .to_owned(),
        job: format!("lt-{}-{hash}", prefix.replace('.', "-")),
        parallel: parallel(lt),
    }
}

/// A test of several runner pods.
pub fn parallel(lt: &LoadTest) -> bool {
    lt.spec
        .http
        .as_ref()
        .and_then(|h| h.parallelism)
        .is_some_and(|n| n > 1)
}

/// The `testid` tag of a test's k6 metrics (k6-operator's convention): the Job's name,
/// unique per LoadTest namespace, name and uid, so a recreated test has new series.
pub fn test_id(lt: &LoadTest) -> String {
    names(lt).job
}

/// The environment variable with the runner pod's name, for its `instance_id` tag.
const POD_NAME_ENV: &str = "TART_RUNNER_POD";

/// k6's Prometheus remote-write output on an HTTP runner `job`: every
/// [`crate::prometheus::PUSH_INTERVAL_SECS`] the runner writes its metrics to `url` (the
/// platform Prometheus's `/api/v1/write`), trends as native histograms (so percentiles of
/// several runners can be merged), tagged `testid` ([`test_id`]) and `instance_id` (the
/// pod's name, so each runner of a parallel test writes its own series; k6-operator's tag
/// names). Stress jobs are left as they are.
pub fn write_to_prometheus(job: &mut Job, plan: &Plan, lt: &LoadTest, url: &str) {
    use k8s_openapi::api::core::v1::EnvVar;
    if !matches!(plan, Plan::Http(_)) {
        return;
    }
    let Some(container) = job
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|s| s.containers.first_mut())
    else {
        return;
    };
    let args = container.args.get_or_insert_with(Vec::new);
    // Before the script, which k6 takes last.
    let at = args.len().saturating_sub(1);
    args.splice(
        at..at,
        [
            "--out".to_owned(),
            "experimental-prometheus-rw".to_owned(),
            "--tag".to_owned(),
            format!("{}={}", crate::prometheus::TEST_ID_LABEL, test_id(lt)),
            "--tag".to_owned(),
            // Kubernetes expands $(VAR) in args from the container's environment.
            format!("instance_id=$({POD_NAME_ENV})"),
        ],
    );
    let env = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        value_from: None,
    };
    let pod_name = EnvVar {
        name: POD_NAME_ENV.to_owned(),
        value: None,
        value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
            field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                field_path: "metadata.name".to_owned(),
                api_version: None,
            }),
            ..Default::default()
        }),
    };
    container.env.get_or_insert_with(Vec::new).extend([
        pod_name,
        env("K6_PROMETHEUS_RW_SERVER_URL", url.to_owned()),
        env(
            "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM",
            "true".to_owned(),
        ),
        env(
            "K6_PROMETHEUS_RW_PUSH_INTERVAL",
            format!("{}s", crate::prometheus::PUSH_INTERVAL_SECS),
        ),
    ]);
}

/// The label that marks a namespace as the operator's own: it created it, so it may run
/// runners there. A namespace without it is never used and never relabelled.
pub const OWNER_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "tart-operator");

/// Whether the operator created namespace `ns` (it carries [`OWNER_LABEL`]).
pub fn owns_namespace(ns: &Namespace) -> bool {
    ns.labels().get(OWNER_LABEL.0).map(String::as_str) == Some(OWNER_LABEL.1)
}

/// The environment variables that carry `valueFrom` headers: `TART_HEADER_<i>`.
pub const HEADER_ENV_PREFIX: &str = "TART_HEADER_";

/// The values of a test's `valueFrom` headers, by header name, as read from the platform.
/// Never printed: `Debug` shows the header names only.
#[derive(Clone, Default, PartialEq)]
pub struct HeaderValues(pub BTreeMap<String, String>);

impl std::fmt::Debug for HeaderValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Everything a runner needs in its target cluster, created in this order.
#[derive(Clone, PartialEq)]
pub struct RunnerObjects {
    /// The runner namespace, when it must be created (never applied over an existing one).
    pub namespace: Option<Namespace>,
    /// The k6 script and parameters (applied; HTTP tests only).
    pub config_map: Option<ConfigMap>,
    /// The values of `valueFrom` headers (applied; only when the test has some).
    pub secret: Option<Secret>,
    /// What may reach a parallel test's k6 REST API (applied; parallel tests only).
    pub network_policy: Option<NetworkPolicy>,
    /// The Job (created).
    pub job: Job,
}

impl std::fmt::Debug for RunnerObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerObjects")
            .field(
                "namespace",
                &self.namespace.as_ref().map(|n| &n.metadata.name),
            )
            .field(
                "config_map",
                &self.config_map.as_ref().map(|c| &c.metadata.name),
            )
            .field("secret", &self.secret.as_ref().map(|s| &s.metadata.name))
            .field(
                "network_policy",
                &self.network_policy.as_ref().map(|p| &p.metadata.name),
            )
            .field("job", &self.job.metadata.name)
            .finish()
    }
}

/// The runner objects of a test (pure); `headers` are the values of its `valueFrom`
/// headers.
pub fn objects(
    lt: &LoadTest,
    plan: &Plan,
    names: &RunnerNames,
    images: &Images,
    timeout_secs: u64,
    create_namespace: bool,
    headers: &HeaderValues,
) -> RunnerObjects {
    let (config_map, secret, network_policy) = match plan {
        Plan::Http(http) => (
            Some(config_map(lt, http, names)),
            (!http.secret_headers.is_empty()).then(|| header_secret(lt, http, names, headers)),
            (http.parallelism > 1).then(|| parallel::api_policy(lt, names)),
        ),
        Plan::Stress(_) => (None, None, None),
    };
    RunnerObjects {
        namespace: create_namespace.then(|| namespace(names)),
        config_map,
        secret,
        network_policy,
        job: job(lt, plan, names, images, timeout_secs),
    }
}

/// Each `valueFrom` header with the environment variable that carries its value.
pub fn header_env(plan: &HttpPlan) -> Vec<(&str, String)> {
    plan.secret_headers
        .keys()
        .enumerate()
        .map(|(i, name)| (name.as_str(), format!("{HEADER_ENV_PREFIX}{i}")))
        .collect()
}

/// The Secret (named as the Job) holding the `valueFrom` header values under their
/// environment variable names. A header without a value (not read) gets none, and the
/// runner fails rather than send an empty header.
pub fn header_secret(
    lt: &LoadTest,
    plan: &HttpPlan,
    names: &RunnerNames,
    values: &HeaderValues,
) -> Secret {
    let data: BTreeMap<String, ByteString> = header_env(plan)
        .into_iter()
        .filter_map(|(header, env)| {
            let value = values.0.get(header)?;
            Some((env, ByteString(value.as_bytes().to_vec())))
        })
        .collect();
    Secret {
        metadata: metadata(lt, names),
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Default::default()
    }
}

/// Whether a runner Job found in the target cluster was created for `lt`.
pub fn belongs_to(job: &Job, lt: &LoadTest) -> bool {
    job.labels().get(UID_LABEL).cloned() == lt.uid()
}

/// The metadata of a runner object named like the Job: its name, namespace, labels and
/// annotations.
pub fn metadata(lt: &LoadTest, names: &RunnerNames) -> kube::core::ObjectMeta {
    kube::core::ObjectMeta {
        name: Some(names.job.clone()),
        namespace: Some(names.namespace.clone()),
        labels: Some(labels(lt)),
        annotations: Some(annotations(lt)),
        ..Default::default()
    }
}

/// Labels of every runner object.
pub fn labels(lt: &LoadTest) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "tart-loadtest".to_owned(),
        ),
        (
            "app.kubernetes.io/component".to_owned(),
            "loadtest-runner".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "tart-operator".to_owned(),
        ),
        (UID_LABEL.to_owned(), lt.uid().unwrap_or_default()),
    ])
}

/// Annotations of every runner object: the LoadTest it belongs to.
pub(super) fn annotations(lt: &LoadTest) -> BTreeMap<String, String> {
    BTreeMap::from([(
        OWNER_ANNOTATION.to_owned(),
        format!("{}/{}", lt.namespace().unwrap_or_default(), lt.name_any()),
    )])
}

/// The runner namespace, labelled as the operator's own ([`OWNER_LABEL`]) and held to the
/// restricted Pod Security Standard (the runner pods comply).
pub fn namespace(names: &RunnerNames) -> Namespace {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": names.namespace,
            "labels": {
                OWNER_LABEL.0: OWNER_LABEL.1,
                "app.kubernetes.io/component": "loadtest-runners",
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    }))
    .unwrap_or_default()
}

/// The pod the runner Job will create, for a dry-run create that runs the namespace's pod
/// admission (quota, LimitRange, Pod Security) before the Job exists.
pub fn admission_probe(job: &Job) -> Pod {
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut metadata = template.metadata.unwrap_or_default();
    metadata.name = job.metadata.name.clone();
    metadata.namespace = job.metadata.namespace.clone();
    Pod {
        metadata,
        spec: template.spec,
        ..Pod::default()
    }
}

fn method(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
    }
}

/// The parameters the k6 script reads (`params.json`): data only, never code.
pub fn k6_params(plan: &HttpPlan) -> serde_json::Value {
    let mut params = json!({
        "version": 1,
        "urls": plan.urls,
        "method": method(plan.method),
        "headers": plan.headers,
        "secretHeaders": header_env(plan).into_iter().collect::<BTreeMap<_, _>>(),
        "thresholds": { "p95Ms": plan.p95_ms, "errorRate": plan.error_rate },
        "sleepSeconds": ITERATION_SLEEP_SECONDS,
        "parallelism": plan.parallelism,
    });
    match &plan.shape {
        LoadShape::Constant { vus, duration_secs } => {
            params["vus"] = json!(vus);
            params["durationSeconds"] = json!(duration_secs);
        }
        LoadShape::Stages(stages) => {
            params["stages"] = stages
                .iter()
                .map(|s| json!({ "durationSeconds": s.duration_secs, "target": s.target }))
                .collect();
        }
    }
    params
}

/// The ConfigMap of an HTTP test: the fixed script, its summary module and the parameters.
pub fn config_map(lt: &LoadTest, plan: &HttpPlan, names: &RunnerNames) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(lt, names),
        "data": {
            "loadtest.js": K6_SCRIPT,
            "summary.js": K6_SUMMARY,
            "segments.js": K6_SEGMENTS,
            "params.json": k6_params(plan).to_string(),
        },
    }))
    .unwrap_or_default()
}

/// stress-ng's argument list (never a shell line). Metrics go to the termination message
/// as YAML.
pub fn stress_args(plan: &StressPlan) -> Vec<String> {
    let mut args = match plan.kind {
        StressKind::Cpu => vec!["--cpu".to_owned(), plan.workers.to_string()],
        StressKind::Memory => vec![
            "--vm".to_owned(),
            plan.workers.to_string(),
            "--vm-bytes".to_owned(),
            plan.vm_bytes
                .clone()
                .unwrap_or_else(|| crds::plan::DEFAULT_VM_BYTES.to_owned()),
        ],
    };
    args.extend([
        "--timeout".to_owned(),
        format!("{}s", plan.timeout_secs),
        "--metrics".to_owned(),
        "--yaml".to_owned(),
        "/dev/termination-log".to_owned(),
    ]);
    args
}

/// Requests and limits that fit the LimitRanges of the lab's dev (min 50m/64Mi, max
/// 2/2Gi), staging (max 1/1Gi) and prod (min 100m/128Mi, max 2/2Gi) namespaces.
pub fn default_resources() -> ResourceRequirements {
    let q = |s: &str| Quantity(s.to_owned());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), q("250m")),
            ("memory".to_owned(), q("256Mi")),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_owned(), q("1")),
            ("memory".to_owned(), q("512Mi")),
        ])),
        ..ResourceRequirements::default()
    }
}

/// The runner Job: one pod, no retries, bounded by the test's timeout, non-root and
/// read-only, outside any service mesh, reporting through its termination message.
pub fn job(
    lt: &LoadTest,
    plan: &Plan,
    names: &RunnerNames,
    images: &Images,
    timeout_secs: u64,
) -> Job {
    let (image, uid, args, volumes, mounts) = match plan {
        Plan::Http(_) => (
            images.k6.clone(),
            K6_UID,
            json!([
                "run",
                "--no-usage-report",
                format!("{SCRIPT_DIR}/loadtest.js")
            ]),
            json!([
                { "name": "script", "configMap": { "name": names.job } },
                { "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } },
            ]),
            json!([
                { "name": "script", "mountPath": SCRIPT_DIR, "readOnly": true },
                { "name": "tmp", "mountPath": "/tmp" },
            ]),
        ),
        Plan::Stress(s) => (
            images.stress_ng.clone(),
            STRESS_UID,
            json!(stress_args(s)),
            json!([{ "name": "tmp", "emptyDir": { "sizeLimit": "64Mi" } }]),
            json!([{ "name": "tmp", "mountPath": "/tmp" }]),
        ),
    };
    let image = lt.spec.image.as_ref().map_or(image, |i| i.0.clone());
    let command = match plan {
        Plan::Http(_) => json!(null),
        Plan::Stress(_) => json!(["stress-ng"]),
    };
    let resources = lt.spec.resources.clone().unwrap_or_else(default_resources);
    let mut pod_annotations = annotations(lt);
    pod_annotations.insert("sidecar.istio.io/inject".to_owned(), "false".to_owned());
    let mut container = json!({
        "name": CONTAINER,
        "image": image,
        "args": args,
        "workingDir": "/tmp",
        "resources": resources,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
        },
    });
    if !command.is_null() {
        container["command"] = command;
    }
    if let Plan::Http(http) = plan
        && !http.secret_headers.is_empty()
    {
        container["env"] = header_env(http)
            .into_iter()
            .map(|(_, env)| {
                json!({ "name": env, "valueFrom": { "secretKeyRef": { "name": names.job, "key": env } } })
            })
            .collect();
    }
    let mut job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(lt, names),
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": timeout_secs,
            "template": {
                "metadata": { "labels": labels(lt), "annotations": pod_annotations },
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": uid,
                        "runAsGroup": uid,
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    });
    if let Plan::Http(http) = plan
        && http.parallelism > 1
    {
        parallel::spread_runners(&mut job, &lt.uid().unwrap_or_default(), http.parallelism);
    }
    serde_json::from_value(job).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::LoadTestSpec;
    use crds::load_test::LoadTestPreset;
    use crds::plan::plan_load_test;

    fn lt(name: &str, preset: LoadTestPreset) -> LoadTest {
        let mut lt = LoadTest::new(
            name,
            LoadTestSpec {
                preset: Some(preset),
                ..LoadTestSpec::on("dev".into())
            },
        );
        lt.metadata.namespace = Some("team-a".into());
        lt.metadata.uid = Some("6a1f0c3e-0000-4000-8000-000000000001".into());
        lt
    }

    fn images() -> Images {
        Images {
            k6: "grafana/k6:1.7.1".into(),
            stress_ng: "stress:1".into(),
        }
    }

    #[test]
    fn names_are_deterministic_short_and_unique_per_uid() {
        let a = lt("checkout", LoadTestPreset::LightLoad);
        assert_eq!(names(&a), names(&a.clone()));
        assert_eq!(names(&a).namespace, "tart-loadtest");
        assert!(names(&a).job.starts_with("lt-checkout-"));
        let mut b = a.clone();
        b.metadata.uid = Some("other".into());
        assert_ne!(
            names(&a).job,
            names(&b).job,
            "a recreated LoadTest gets a new Job"
        );
        let long = lt(
            &format!("{}.x-", "a".repeat(250)),
            LoadTestPreset::LightLoad,
        );
        let n = names(&long).job;
        assert!(n.len() <= 63 && !n.contains('.'), "{n}");
    }

    #[test]
    fn an_http_job_runs_the_fixed_script_as_a_restricted_pod() {
        let lt = lt("checkout", LoadTestPreset::StrictSla);
        let plan = plan_load_test(&lt.spec).expect("plan");
        let n = names(&lt);
        let job = serde_json::to_value(job(&lt, &plan, &n, &images(), 330)).expect("json");
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 0);
        assert_eq!(spec["activeDeadlineSeconds"], 330);
        let pod = &spec["template"];
        assert_eq!(
            pod["metadata"]["annotations"]["sidecar.istio.io/inject"],
            "false"
        );
        assert_eq!(
            pod["metadata"]["annotations"][OWNER_ANNOTATION],
            "team-a/checkout"
        );
        assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
        assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["image"], "grafana/k6:1.7.1");
        assert_eq!(
            c["args"],
            json!(["run", "--no-usage-report", "/etc/tart-loadtest/loadtest.js"])
        );
        assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(c["resources"]["requests"]["memory"], "256Mi");
        assert_eq!(
            job["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "tart-operator"
        );
    }

    #[test]
    fn user_strings_reach_k6_only_as_json_data() {
        let mut t = lt("inject", LoadTestPreset::LightLoad);
        t.spec.preset = None;
        t.spec.http = Some(crds::common::HttpLoad {
            target_url: Some("http://x.example/'); import exec from 'k6/x'; //".into()),
            headers: Some(vec![crds::common::Header {
                name: "x-a".into(),
                value: Some("`${1}`".into()),
                value_from: None,
            }]),
            ..Default::default()
        });
        let Plan::Http(plan) = plan_load_test(&t.spec).expect("plan") else {
            panic!("http")
        };
        let cm = config_map(&t, &plan, &names(&t));
        let data = cm.data.unwrap_or_default();
        assert_eq!(
            data.get("loadtest.js").map(String::as_str),
            Some(K6_SCRIPT),
            "the script is never templated"
        );
        let params: serde_json::Value = serde_json::from_str(&data["params.json"]).expect("json");
        assert_eq!(
            params["urls"][0],
            "http://x.example/'); import exec from 'k6/x'; //"
        );
        assert_eq!(params["headers"]["x-a"], "`${1}`");
        assert_eq!(params["vus"], 50);
        assert_eq!(
            params["thresholds"],
            json!({ "p95Ms": 2000, "errorRate": 0.5 })
        );
    }

    #[test]
    fn secret_headers_reach_k6_through_the_environment_only() {
        use crds::common::{Header, HeaderSecretKeyRef, HeaderValueFrom, HttpLoad};
        let mut t = lt("secret", LoadTestPreset::LightLoad);
        t.spec.preset = None;
        t.spec.http = Some(HttpLoad {
            target_url: Some("http://x.example".into()),
            headers: Some(vec![
                Header {
                    name: "x-plain".into(),
                    value: Some("1".into()),
                    value_from: None,
                },
                Header {
                    name: "authorization".into(),
                    value: None,
                    value_from: Some(HeaderValueFrom {
                        secret_key_ref: HeaderSecretKeyRef {
                            name: "api-token".into(),
                            key: "bearer".into(),
                        },
                    }),
                },
            ]),
            ..Default::default()
        });
        let plan = plan_load_test(&t.spec).expect("plan");
        let values = HeaderValues(BTreeMap::from([(
            "authorization".to_owned(),
            "Bearer s3cr3t".to_owned(),
        )]));
        let n = names(&t);
        let o = objects(&t, &plan, &n, &images(), 60, true, &values);
        let cm = serde_json::to_string(&o.config_map).expect("json");
        let job = serde_json::to_value(&o.job).expect("json");
        assert!(!cm.contains("s3cr3t") && !job.to_string().contains("s3cr3t"));
        let params: serde_json::Value = serde_json::from_str(
            &o.config_map
                .as_ref()
                .expect("cm")
                .data
                .as_ref()
                .expect("data")["params.json"],
        )
        .expect("params");
        assert_eq!(params["headers"], json!({ "x-plain": "1" }));
        assert_eq!(
            params["secretHeaders"],
            json!({ "authorization": "TART_HEADER_0" })
        );
        assert_eq!(
            job["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{ "name": "TART_HEADER_0", "valueFrom": { "secretKeyRef": { "name": n.job, "key": "TART_HEADER_0" } } }])
        );
        let secret = o.secret.as_ref().expect("secret");
        assert_eq!(secret.metadata.name.as_deref(), Some(n.job.as_str()));
        assert_eq!(
            secret.metadata.namespace.as_deref(),
            Some(n.namespace.as_str())
        );
        assert_eq!(
            secret.data.as_ref().expect("data")["TART_HEADER_0"].0,
            b"Bearer s3cr3t"
        );
        // Neither the objects nor the values print the value.
        assert!(!format!("{o:?} {values:?}").contains("s3cr3t"));
        // A test without valueFrom headers has no Secret and no env.
        let plain = objects(
            &lt("p", LoadTestPreset::LightLoad),
            &plan_load_test(&lt("p", LoadTestPreset::LightLoad).spec).expect("plan"),
            &n,
            &images(),
            60,
            true,
            &HeaderValues::default(),
        );
        assert!(plain.secret.is_none());
        assert!(serde_json::to_value(&plain.job).expect("json")["spec"]["template"]["spec"]["containers"][0]["env"].is_null());
    }

    #[test]
    fn ramps_become_stages_in_the_params() {
        let t = lt("ramp", LoadTestPreset::RampUp);
        let Plan::Http(plan) = plan_load_test(&t.spec).expect("plan") else {
            panic!("http")
        };
        assert_eq!(
            k6_params(&plan)["stages"],
            json!([{ "durationSeconds": 10, "target": 100 }, { "durationSeconds": 30, "target": 100 }, { "durationSeconds": 10, "target": 0 }])
        );
    }

    #[test]
    fn with_a_remote_write_url_k6_writes_native_histograms_tagged_with_the_test() {
        let t = lt("checkout", LoadTestPreset::LightLoad);
        let plan = plan_load_test(&t.spec).expect("plan");
        let mut j = job(&t, &plan, &names(&t), &images(), 60);
        let before = serde_json::to_value(&j).expect("json");
        assert!(
            before["spec"]["template"]["spec"]["containers"][0]["env"].is_null(),
            "nothing is written without a URL"
        );
        write_to_prometheus(
            &mut j,
            &plan,
            &t,
            "http://prometheus.monitoring:9090/api/v1/write",
        );
        let c = serde_json::to_value(&j).expect("json")["spec"]["template"]["spec"]["containers"]
            [0]
        .clone();
        let id = test_id(&t);
        assert_eq!(id, names(&t).job);
        assert_eq!(
            c["args"],
            json!([
                "run",
                "--no-usage-report",
                "--out",
                "experimental-prometheus-rw",
                "--tag",
                format!("testid={id}"),
                "--tag",
                "instance_id=$(TART_RUNNER_POD)",
                "/etc/tart-loadtest/loadtest.js"
            ])
        );
        assert_eq!(
            c["env"],
            json!([
                { "name": "TART_RUNNER_POD", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                { "name": "K6_PROMETHEUS_RW_SERVER_URL", "value": "http://prometheus.monitoring:9090/api/v1/write" },
                { "name": "K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM", "value": "true" },
                { "name": "K6_PROMETHEUS_RW_PUSH_INTERVAL", "value": "5s" },
            ])
        );
        // A stress job has no k6 to configure.
        let s = lt("cpu", LoadTestPreset::CpuStressLight);
        let plan = plan_load_test(&s.spec).expect("plan");
        let mut j = job(&s, &plan, &names(&s), &images(), 60);
        let before = serde_json::to_value(&j).expect("json");
        write_to_prometheus(&mut j, &plan, &s, "http://p/api/v1/write");
        assert_eq!(serde_json::to_value(&j).expect("json"), before);
    }

    #[test]
    fn stress_jobs_pass_arguments_as_a_list() {
        let t = lt("mem", LoadTestPreset::MemoryStress128m);
        let plan = plan_load_test(&t.spec).expect("plan");
        let Plan::Stress(s) = &plan else {
            panic!("stress")
        };
        assert_eq!(
            stress_args(s),
            [
                "--vm",
                "2",
                "--vm-bytes",
                "128M",
                "--timeout",
                "60s",
                "--metrics",
                "--yaml",
                "/dev/termination-log"
            ]
        );
        let job = serde_json::to_value(job(&t, &plan, &names(&t), &images(), 360)).expect("json");
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["command"], json!(["stress-ng"]));
        assert_eq!(c["image"], "stress:1");
        assert_eq!(
            job["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
            65534
        );
    }

    #[test]
    fn the_spec_image_and_resources_override_the_defaults() {
        let mut t = lt("custom", LoadTestPreset::LightLoad);
        t.spec.image = Some("registry.local/k6:1.0.0".into());
        t.spec.resources = Some(ResourceRequirements {
            limits: Some(BTreeMap::from([("cpu".to_owned(), Quantity("2".into()))])),
            ..ResourceRequirements::default()
        });
        let plan = plan_load_test(&t.spec).expect("plan");
        let job = serde_json::to_value(job(&t, &plan, &names(&t), &images(), 60)).expect("json");
        let c = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "registry.local/k6:1.0.0");
        assert_eq!(c["resources"], json!({ "limits": { "cpu": "2" } }));
    }
}
