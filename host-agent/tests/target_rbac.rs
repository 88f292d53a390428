//! The operator's rights in a target cluster (`rbac::target_objects`, from the chart's
//! rules file) against a real API server: bound to the token user the lab's target
//! kubeconfigs carry, it can do what the operator does there (runner namespaces,
//! ConfigMaps and Jobs in them, the watch caches, the Hubble port-forward) and nothing
//! else: no Secrets, no RBAC, no writes in namespaces it did not create such as
//! `kube-system`. `tart-infra target-rbac` prints the same objects for a ServiceAccount,
//! checked the same way with that account's own token. The lab end to end (`lab.rs`) runs an experiment with only these rights.

use host_agent::rbac;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use local_control_plane::{
    ControlPlane, OPERATOR_USER, Options, apply_objects, apply_yaml, kubeconfig_yaml,
};
use serde_json::json;

async fn client_of(kubeconfig: &str) -> Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn forbidden<T: std::fmt::Debug>(what: &str, r: Result<T, kube::Error>) -> String {
    match r {
        Err(kube::Error::Api(s)) if s.code == 403 => s.message,
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object")
}

#[tokio::test]
async fn the_target_role_runs_runners_and_cannot_read_secrets_or_touch_kube_system() {
    let cp = ControlPlane::start(Options::apiserver("rbac-target"))
        .await
        .expect("control plane");
    let admin = cp.client().await.expect("admin");
    let op = client_of(cp.operator_kubeconfig()).await;

    // Before the binding the user can do nothing.
    forbidden(
        "list pods unbound",
        Api::<Pod>::all(op.clone())
            .list(&ListParams::default())
            .await,
    );
    apply_objects(
        &admin,
        rbac::target_objects(&rbac::Subject::User(OPERATOR_USER.to_owned())).expect("objects"),
        "default",
    )
    .await
    .expect("apply");
    rights_hold(admin, op).await;
}

/// What `tart-infra target-rbac --service-account` prints, applied with the admin's rights:
/// the ServiceAccount's own token (a TokenRequest, as `kubectl create token` makes) then has
/// exactly the operator's rights.
#[tokio::test]
async fn the_target_rbac_command_binds_a_service_account() {
    let cp = ControlPlane::start(Options::apiserver("rbac-target-sa"))
        .await
        .expect("control plane");
    let admin = cp.client().await.expect("admin");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tart-infra"))
        .args([
            "target-rbac",
            "--service-account",
            "tart-system/tart-operator",
        ])
        .output()
        .expect("run tart-infra");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        output.status.success(),
        "target-rbac failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with("# tart-operator's rights in a target cluster, for system:serviceaccount:tart-system:tart-operator."),
        "{stdout}"
    );
    let system: Namespace = object(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tart-system"},
    }));
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &system)
        .await
        .expect("the ServiceAccount's namespace");
    let applied = apply_yaml(&admin, &stdout, "default")
        .await
        .expect("apply the output");
    assert_eq!(applied.len(), 7, "{applied:?}");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), "tart-system")
        .create_token_request("tart-operator", &PostParams::default(), &request)
        .await
        .expect("a token")
        .status
        .expect("token status")
        .token;
    let op = client_of(&kubeconfig_yaml(
        "target",
        cp.url(),
        cp.ca_pem(),
        &token,
        None,
    ))
    .await;
    rights_hold(admin, op).await;

    // Bad flags say what to give, and print nothing.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tart-infra"))
        .args(["target-rbac", "--service-account", "tart-operator"])
        .output()
        .expect("run tart-infra");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && output.stdout.is_empty());
    assert!(stderr.contains("give NAMESPACE/NAME"), "{stderr}");
}

/// `op` can do what the operator does in a target cluster and nothing more, once the
/// objects are applied (they take effect a moment later).
async fn rights_hold(admin: Client, op: Client) {
    // RBAC and the admission policy take effect a moment after their creation: wait until
    // the user may list pods and a namespace that is not labelled as the operator's is
    // refused (a dry run, so nothing is created meanwhile).
    let foreign: Namespace = object(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "not-mine"},
    }));
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut effective = false;
    let mut last = String::new();
    for _ in 0..100 {
        let pods = Api::<Pod>::all(op.clone())
            .list(&ListParams::default())
            .await;
        let foreign_ns = Api::<Namespace>::all(op.clone())
            .create(&dry_run, &foreign)
            .await;
        if pods.is_ok() && matches!(foreign_ns, Err(kube::Error::Api(ref s)) if s.code == 403) {
            effective = true;
            break;
        }
        last = format!(
            "pods: {:?}; foreign namespace: {foreign_ns:?}",
            pods.map(|_| ())
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        effective,
        "the ClusterRole and the admission policy never took effect: {last}"
    );

    // What the operator does: watch caches, a runner namespace it labels as its own, the
    // script ConfigMap and the Job there, and reading and deleting them.
    let apply = PatchParams::apply("tart-operator").force();
    let runners: Namespace = object(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "tart-loadtest", "labels": {"app.kubernetes.io/managed-by": "tart-operator"}},
    }));
    Api::<Namespace>::all(op.clone())
        .create(&PostParams::default(), &runners)
        .await
        .expect("the runner namespace");
    let cm: ConfigMap = object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "lt-1", "namespace": "tart-loadtest"}, "data": {"script.js": "x"},
    }));
    Api::<ConfigMap>::namespaced(op.clone(), "tart-loadtest")
        .patch("lt-1", &apply, &Patch::Apply(&cm))
        .await
        .expect("runner ConfigMap");
    let job: Job = object(json!({
        "metadata": {"name": "lt-1", "namespace": "tart-loadtest"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "k6", "image": "grafana/k6:0.54.0"}]}}},
    }));
    // The runner pod is dry-run first (quota, LimitRange and Pod Security answer at once).
    let probe: Pod = object(json!({
        "metadata": {"name": "lt-1-probe", "namespace": "tart-loadtest"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "k6", "image": "grafana/k6:0.54.0"}]},
    }));
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    Api::<Pod>::namespaced(op.clone(), "tart-loadtest")
        .create(&dry_run, &probe)
        .await
        .expect("the runner pod's dry run");
    let jobs = Api::<Job>::namespaced(op.clone(), "tart-loadtest");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("runner Job");
    jobs.get("lt-1").await.expect("read the Job");
    jobs.delete("lt-1", &Default::default())
        .await
        .expect("delete the Job");

    // The runner's header Secret may be written there, but no Secret read, anywhere.
    let header_secret: Secret = object(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "lt-1", "namespace": "tart-loadtest"}, "stringData": {"TART_HEADER_0": "x"},
    }));
    Api::<Secret>::namespaced(op.clone(), "tart-loadtest")
        .patch("lt-1", &apply, &Patch::Apply(&header_secret))
        .await
        .expect("the runner's header Secret");
    let system_secret: Secret = object(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "lt-1", "namespace": "kube-system"}, "stringData": {"TART_HEADER_0": "x"},
    }));
    forbidden(
        "write a Secret into kube-system",
        Api::<Secret>::namespaced(op.clone(), "kube-system")
            .patch("lt-1", &apply, &Patch::Apply(&system_secret))
            .await,
    );
    forbidden(
        "list secrets",
        Api::<Secret>::all(op.clone())
            .list(&ListParams::default())
            .await,
    );
    forbidden(
        "get a secret",
        Api::<Secret>::namespaced(op.clone(), "tart-loadtest")
            .get("anything")
            .await,
    );
    // No RBAC of its own making.
    let crb: ClusterRoleBinding = object(json!({
        "metadata": {"name": "escalate"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
    }));
    forbidden(
        "bind cluster-admin",
        Api::<ClusterRoleBinding>::all(op.clone())
            .create(&PostParams::default(), &crb)
            .await,
    );
    // kube-system cannot be relabelled (the bug) nor written into, and a namespace
    // that is not the operator's cannot be created either.
    let relabel: Namespace = object(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "kube-system", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
    }));
    // Namespaces are created, never patched: RBAC refuses the relabelling outright.
    forbidden(
        "relabel kube-system",
        Api::<Namespace>::all(op.clone())
            .patch("kube-system", &apply, &Patch::Apply(&relabel))
            .await,
    );
    let system_cm: ConfigMap = object(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"},
    }));
    let message = forbidden(
        "write into kube-system",
        Api::<ConfigMap>::namespaced(op.clone(), "kube-system")
            .patch("x", &apply, &Patch::Apply(&system_cm))
            .await,
    );
    assert!(
        message.contains("runner namespaces it created"),
        "the admission policy refuses it: {message}"
    );
    forbidden(
        "create an unlabelled namespace",
        Api::<Namespace>::all(op.clone())
            .create(&PostParams::default(), &foreign)
            .await,
    );
    let labels = Api::<Namespace>::all(admin)
        .get("kube-system")
        .await
        .expect("kube-system")
        .metadata
        .labels
        .unwrap_or_default();
    assert!(
        !labels.contains_key("pod-security.kubernetes.io/enforce"),
        "{labels:?}"
    );
}
