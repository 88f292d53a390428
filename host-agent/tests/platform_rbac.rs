//! The operator's rights on the platform (`rbac::operator_objects`, from the chart's rules
//! file) against a real API server, acting as its ServiceAccount: it reads no Secret outside
//! its own namespace, so a LoadTest header's `valueFrom.secretKeyRef` works only once the
//! team grants `get` on that one Secret, with the Role and RoleBinding the README gives
//! (`kubectl create role --verb=get --resource=secrets --resource-name=…`).

use host_agent::rbac;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Config};
use local_control_plane::{ControlPlane, Options, apply_objects};
use serde_json::json;

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object")
}

fn code<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("not an API answer: {e}"),
    }
}

#[tokio::test]
async fn a_header_secret_is_readable_only_once_its_team_grants_get_on_it() {
    let cp = ControlPlane::start(Options::apiserver("rbac-platform"))
        .await
        .expect("control plane");
    let admin = cp.client().await.expect("admin");
    apply_objects(
        &admin,
        rbac::operator_objects("tart-system").expect("objects"),
        "default",
    )
    .await
    .expect("apply");
    let posted = PostParams::default();
    Api::<Namespace>::all(admin.clone())
        .create(
            &posted,
            &object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})),
        )
        .await
        .expect("namespace");
    let secrets = Api::<Secret>::namespaced(admin.clone(), "team");
    for name in ["api-token", "db-password"] {
        secrets
            .create(
                &posted,
                &object(json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name, "labels": {"tartinfra.dev/loadtest-header": "true"}},
                    "stringData": {"token": "x"},
                })),
            )
            .await
            .expect("secret");
    }

    // The operator, as the API server sees its ServiceAccount's token.
    let mut config: Config = cp.config().await.expect("config");
    config.auth_info.impersonate = Some(format!(
        "system:serviceaccount:tart-system:{}",
        rbac::OPERATOR
    ));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        "system:serviceaccounts:tart-system".into(),
    ]);
    let operator = Client::try_from(config).expect("client");
    let team_secrets = Api::<Secret>::namespaced(operator.clone(), "team");
    // Its own namespace's Secrets are readable (kubeconfigs): the impersonation works.
    let mut ready = false;
    for _ in 0..100 {
        let own = Api::<Secret>::namespaced(operator.clone(), "tart-system")
            .list(&ListParams::default())
            .await;
        if own.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "the operator's Role in tart-system never took effect"
    );
    assert_eq!(code(team_secrets.get("api-token").await), 403);

    // What the README tells the team to run.
    let role: Role = object(json!({
        "metadata": {"name": "tart-operator-header", "namespace": "team"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["api-token"], "verbs": ["get"]}],
    }));
    let binding: RoleBinding = object(json!({
        "metadata": {"name": "tart-operator-header", "namespace": "team"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tart-operator-header"},
        "subjects": [{"kind": "ServiceAccount", "name": rbac::OPERATOR, "namespace": "tart-system"}],
    }));
    Api::<Role>::namespaced(admin.clone(), "team")
        .create(&posted, &role)
        .await
        .expect("role");
    Api::<RoleBinding>::namespaced(admin.clone(), "team")
        .create(&posted, &binding)
        .await
        .expect("binding");
    let mut granted = 0;
    for _ in 0..100 {
        granted = code(team_secrets.get("api-token").await);
        if granted == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(granted, 200, "the team's grant never took effect");
    // That one Secret only: no other, no list.
    assert_eq!(code(team_secrets.get("db-password").await), 403);
    assert_eq!(code(team_secrets.list(&ListParams::default()).await), 403);
}
