//! Who may read and write what through the API: tokens bound to the operator's audience,
//! cluster data checked per cluster name (resourceName-scoped rules work), the event
//! stream filtered by what the token may read, and writes made as the caller.

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use kube::Client;
use local_control_plane::apply_yaml;
use serde_json::{Value, json};

use super::lab;
use crate::support::*;

/// `rules` as a ClusterRole `name`, bound to ServiceAccount `namespace/name` cluster-wide.
async fn cluster_role(p: &Client, name: &str, namespace: &str, rules: &str) -> Result<()> {
    apply_yaml(
        p,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {name}}}\nrules:\n{rules}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {name}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {name}}}\n\
             subjects: [{{kind: ServiceAccount, name: {name}, namespace: {namespace}}}]\n"
        ),
        "default",
    )
    .await?;
    Ok(())
}

/// `rules` as a Role `name` in `namespace`, bound to ServiceAccount `sa_namespace/name`.
async fn role(
    p: &Client,
    name: &str,
    namespace: &str,
    sa_namespace: &str,
    rules: &str,
) -> Result<()> {
    apply_yaml(
        p,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {name}, namespace: {namespace}}}\nrules:\n{rules}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {name}}}\n\
             subjects: [{{kind: ServiceAccount, name: {name}, namespace: {sa_namespace}}}]\n"
        ),
        namespace,
    )
    .await?;
    Ok(())
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn tokens_must_be_meant_for_the_operator() -> Result<()> {
    let lab = lab().await?;
    let ns = lab.platform.namespace("aud").await?;
    role(
        &lab.p,
        "reader",
        &ns,
        &ns,
        "- {apiGroups: [tartinfra.dev], resources: [loadtests], verbs: [list]}",
    )
    .await?;
    let path = format!("/api/v1/tests?namespace={ns}");

    let bound = sa_token(&lab.p, &ns, "reader", Some(API_AUDIENCE)).await?;
    let (status, answer) = lab.http.get(&path, Some(&bound)).await?;
    ensure!(
        status == 200,
        "a token for tart-operator: {status} {answer}"
    );

    // `kubectl create token reader` without --audience: a token for the API server itself.
    let apiserver = sa_token(&lab.p, &ns, "reader", None).await?;
    let (status, answer) = lab.http.get(&path, Some(&apiserver)).await?;
    ensure!(
        status == 401
            && message(&answer)
                .contains("kubectl create token <serviceaccount> --audience tart-operator"),
        "a token for the API server's audience: {status} {answer}"
    );
    let other = sa_token(&lab.p, &ns, "reader", Some("vault")).await?;
    let (status, answer) = lab.http.get(&path, Some(&other)).await?;
    ensure!(
        status == 401,
        "a token for another audience: {status} {answer}"
    );

    // A static token (--token-auth-file) has no audience; the API server's TokenReview with
    // spec.audiences [tart-operator] says it is not authenticated for it.
    let (status, answer) = lab
        .http
        .get(&path, Some(lab.platform.admin_token()))
        .await?;
    ensure!(status == 401, "the static admin token: {status} {answer}");
    Ok(())
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|c| c[key].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cluster_data_follows_rules_on_cluster_names() -> Result<()> {
    let lab = lab().await?;
    // prod: a second name for dev's API server, as far as the operator can tell.
    register_kubeconfig(&lab.p, "prod", lab.dev.kubeconfig()).await?;
    wait_ready(&lab.p, "prod").await?;
    let ns = lab.platform.namespace("devonly").await?;
    let hidden = lab.platform.namespace("hidden").await?;
    cluster_role(
        &lab.p,
        "devonly",
        &ns,
        "- {apiGroups: [tartinfra.dev], resources: [managedclusters], resourceNames: [dev], verbs: [get]}",
    )
    .await?;
    role(
        &lab.p,
        "devonly",
        &ns,
        &ns,
        "- {apiGroups: [tartinfra.dev], resources: [loadtests], verbs: [get, list]}",
    )
    .await?;
    let token = sa_token(&lab.p, &ns, "devonly", Some(API_AUDIENCE)).await?;

    for what in ["", "/pods", "/services", "/scaling", "/traffic"] {
        let (status, answer) = lab
            .http
            .get(&format!("/api/v1/clusters/dev{what}"), Some(&token))
            .await?;
        ensure!(status == 200, "dev{what}: {status} {answer}");
        let (status, answer) = lab
            .http
            .get(&format!("/api/v1/clusters/prod{what}"), Some(&token))
            .await?;
        ensure!(
            status == 403 && message(&answer).contains("managedclusters.tartinfra.dev \"prod\""),
            "prod{what}: {status} {answer}"
        );
    }
    // Lists of every cluster keep the ones the caller may get.
    let (status, snapshot) = lab.http.get("/api/v1/snapshot", Some(&token)).await?;
    ensure!(
        status == 200 && names(&snapshot["clusters"], "name") == ["dev"],
        "{status} {snapshot:#}"
    );
    let (status, clusters) = lab.http.get("/api/v1/clusters", Some(&token)).await?;
    ensure!(
        status == 200 && names(&clusters, "name") == ["dev"],
        "{status} {clusters}"
    );
    let (status, traffic) = lab.http.get("/api/v1/traffic", Some(&token)).await?;
    ensure!(
        status == 200 && names(&traffic, "cluster") == ["dev"],
        "{status} {traffic}"
    );
    let admin = lab.token().to_owned();
    let (_, all) = lab.http.get("/api/v1/clusters", Some(&admin)).await?;
    ensure!(names(&all, "name") == ["platform", "dev", "prod"], "{all}");

    // The event stream carries only what the token may read.
    let mut stream = lab.http.events(&token).await?;
    let test = |ns: &str, name: &str| json!({ "namespace": ns, "name": name, "spec": { "cluster": "dev", "preset": "light-load" } });
    // What it may not see first, then what it may: once the latter arrives, the former
    // would have too.
    let (status, _) = lab
        .http
        .post("/api/v1/tests", Some(&admin), &test(&hidden, "secret-test"))
        .await?;
    ensure!(status == 201);
    let touch = |name: &'static str| {
        let p = lab.p.clone();
        async move {
            let mcs: kube::Api<crds::ManagedCluster> = kube::Api::all(p);
            mcs.patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(
                    json!({ "metadata": { "annotations": { "touched": "yes" } } }),
                ),
            )
            .await
        }
    };
    touch("prod").await?;
    touch("dev").await?;
    let (status, _) = lab
        .http
        .post("/api/v1/tests", Some(&admin), &test(&ns, "visible-test"))
        .await?;
    ensure!(status == 201);
    let seen = tokio::time::timeout(WAIT, async {
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk?);
            if text.contains("\"name\":\"visible-test\"")
                && text.contains("event: cluster")
                && text.contains("\"cluster\":\"dev\"")
            {
                return anyhow::Ok(text);
            }
        }
        bail!("the event stream ended: {text}")
    })
    .await
    .context("the allowed events never came")??;
    ensure!(
        !seen.contains("prod") && !seen.contains("secret-test") && !seen.contains(&hidden),
        "events the token may not read: {seen}"
    );
    Ok(())
}

/// The chart's operator RBAC (`charts/tart-operator/files/rbac.yaml`) for ServiceAccount
/// `tart-system/tart-operator`, and a client with its identity.
async fn operator_with_chart_rbac(p: &Client, admin: kube::Config) -> Result<Client> {
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/tart-operator/files/rbac.yaml"
    ))?;
    let rules: Value = serde_yaml::from_str(&file)?;
    let objects = [
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": { "name": "tart-operator" }, "rules": rules["cluster"] }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": { "name": "tart-operator" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tart-operator" },
                "subjects": [{ "kind": "ServiceAccount", "name": "tart-operator", "namespace": SECRETS_NS }] }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": { "name": "tart-operator", "namespace": SECRETS_NS }, "rules": rules["namespace"] }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": { "name": "tart-operator", "namespace": SECRETS_NS },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tart-operator" },
                "subjects": [{ "kind": "ServiceAccount", "name": "tart-operator", "namespace": SECRETS_NS }] }),
    ];
    for o in objects {
        apply_yaml(p, &o.to_string(), SECRETS_NS).await?;
    }
    let token = sa_token(p, SECRETS_NS, "tart-operator", None).await?;
    let mut config = admin;
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..kube::config::AuthInfo::default()
    };
    Ok(Client::try_from(config)?)
}

/// The identity the API server gives `token`, as the operator's TokenReview sees it.
async fn user_of(p: &Client, token: &str) -> Result<operator::api::auth::Caller> {
    use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            audiences: Some(vec![API_AUDIENCE.into()]),
        },
        ..TokenReview::default()
    };
    let answer = kube::Api::<TokenReview>::all(p.clone())
        .create(&kube::api::PostParams::default(), &review)
        .await?;
    let user = answer.status.and_then(|s| s.user).context("no user")?;
    Ok(operator::api::auth::Caller::User(Box::new(user)))
}

#[tokio::test]
async fn writes_are_made_as_the_caller() -> Result<()> {
    let platform = platform().await?;
    let p = platform.client().await?;
    let operator_client = operator_with_chart_rbac(&p, platform.config().await?).await?;
    let port = free_port()?;
    let operator = Operator::start_as(
        operator_client.clone(),
        fast_settings(),
        port,
        Default::default(),
    )
    .await?;
    let http = Http::new(port);
    let team_a = platform.namespace("team-a").await?;
    let team_b = platform.namespace("team-b").await?;
    let rules = "- {apiGroups: [tartinfra.dev], resources: [loadtests], verbs: [get, list, create, delete]}";
    role(&p, "alice", &team_a, &team_a, rules).await?;
    role(&p, "mallory", &team_a, &team_a, rules).await?;
    // Admission refuses mallory: only the API server's view of the request's user can
    // tell her from alice, so her requests show whose identity reached it.
    apply_yaml(
        &p,
        &format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: no-mallory}}\nspec:\n  \
             failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - {{apiGroups: [tartinfra.dev], apiVersions: ['*'], operations: [CREATE, DELETE], resources: [loadtests]}}\n  \
             validations:\n  - expression: \"request.userInfo.username != 'system:serviceaccount:{team_a}:mallory'\"\n    \
             messageExpression: \"'admission saw ' + request.userInfo.username\"\n    reason: Forbidden\n---\n\
             apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: no-mallory}}\nspec:\n  \
             policyName: no-mallory\n  validationActions: [Deny]\n  matchResources:\n    namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {team_a}}}}}\n"
        ),
        "default",
    )
    .await?;
    let alice = sa_token(&p, &team_a, "alice", Some(API_AUDIENCE)).await?;
    let mallory = sa_token(&p, &team_a, "mallory", Some(API_AUDIENCE)).await?;
    let body = |ns: &str, name: &str| json!({ "namespace": ns, "name": name, "spec": { "cluster": "dev", "preset": "light-load" } });

    // Alice writes in her namespace: the chart's RBAC lets the operator act as her.
    let deadline = std::time::Instant::now() + WAIT;
    while !matches!(http.get("/readyz", None).await, Ok((200, _))) {
        ensure!(
            std::time::Instant::now() < deadline,
            "the operator never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, answer) = http
        .post("/api/v1/tests", Some(&alice), &body(&team_a, "alices"))
        .await?;
    ensure!(status == 201, "alice in her namespace: {status} {answer}");

    // Mallory has the same RBAC, but admission sees her, not the operator.
    let deadline = std::time::Instant::now() + WAIT;
    let (status, answer) = loop {
        let answer = http
            .post("/api/v1/tests", Some(&mallory), &body(&team_a, "mallorys"))
            .await?;
        if answer.0 != 201 || std::time::Instant::now() > deadline {
            break answer;
        }
        // The policy was not enforced yet: clean up and try again.
        kube::Api::<crds::LoadTest>::namespaced(p.clone(), &team_a)
            .delete("mallorys", &Default::default())
            .await?;
        wait_gone(
            &kube::Api::<crds::LoadTest>::namespaced(p.clone(), &team_a),
            "mallorys",
        )
        .await?;
    };
    ensure!(
        status == 403
            && message(&answer).contains(&format!(
                "admission saw system:serviceaccount:{team_a}:mallory"
            )),
        "mallory's create: {status} {answer}"
    );
    let (status, answer) = http
        .call(
            "DELETE",
            &format!("/api/v1/tests/{team_a}/alices"),
            Some(&mallory),
            None,
        )
        .await?;
    ensure!(
        status == 403 && message(&answer).contains("admission saw system:serviceaccount"),
        "mallory's delete: {status} {answer}"
    );
    let (status, answer) = http
        .call(
            "DELETE",
            &format!("/api/v1/tests/{team_a}/alices"),
            Some(&alice),
            None,
        )
        .await?;
    ensure!(status == 202, "alice's delete: {status} {answer}");

    // Alice may not write in team-b. The operator's SubjectAccessReview says so first; the
    // write itself, made as she is, would be refused by the API server anyway.
    let (status, answer) = http
        .post("/api/v1/tests", Some(&alice), &body(&team_b, "x"))
        .await?;
    ensure!(status == 403, "alice in team-b: {status} {answer}");
    let object = json!({ "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
        "metadata": { "name": "x", "namespace": team_b },
        "spec": { "cluster": "dev", "preset": "light-load" } });
    let write_as = |caller: operator::api::auth::Caller| {
        let (client, object, team_b) = (operator_client.clone(), object.clone(), team_b.clone());
        async move {
            let mut req = http::Request::post(format!(
                "/apis/tartinfra.dev/v1alpha1/namespaces/{team_b}/loadtests"
            ))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&object)?)?;
            operator::api::impersonation::impersonate(&mut req, &caller)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            match client.request::<crds::LoadTest>(req).await {
                Err(kube::Error::Api(e)) if e.code == 403 => Ok(e.message),
                other => bail!("the API server should refuse this write in team-b: {other:?}"),
            }
        }
    };
    let refused = write_as(user_of(&p, &alice).await?).await?;
    ensure!(
        refused.contains(&format!(
            "User \"system:serviceaccount:{team_a}:alice\" cannot create"
        )),
        "{refused}"
    );
    // Any other user (not a ServiceAccount) goes with their groups; RBAC, not the
    // impersonation rules, refuses them.
    let jane = k8s_openapi::api::authentication::v1::UserInfo {
        username: Some("jane@example.com".into()),
        uid: Some("jane-1".into()),
        groups: Some(vec!["developers".into(), "system:authenticated".into()]),
        extra: None,
    };
    let refused = write_as(operator::api::auth::Caller::User(Box::new(jane))).await?;
    ensure!(
        refused.contains("User \"jane@example.com\" cannot create"),
        "{refused}"
    );
    operator.stop().await?;
    Ok(())
}
