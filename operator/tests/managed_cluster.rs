//! The ManagedCluster controller against real control planes: an external cluster becomes
//! Ready with its nodes; a missing Secret, a refused kubeconfig, bad credentials and an
//! unreachable API server each give their reason; a changed Secret reconnects; a tart
//! cluster without the host agent's Secret says what to do (tart_cluster.rs builds one).

mod support;

use anyhow::{Context, Result, ensure};
use crds::ManagedCluster;
use crds::managed_cluster::{ClusterPhase, NodeRole};
use kube::api::{Api, DeleteParams};
use support::*;

fn reachable(mc: &ManagedCluster) -> Option<(String, String)> {
    mc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Reachable")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn reason_is(reason: &'static str) -> impl Fn(&ManagedCluster) -> bool {
    move |mc| reachable(mc).is_some_and(|(s, r)| s == "False" && r == reason)
}

#[tokio::test]
async fn an_external_cluster_reports_nodes_and_follows_its_secret() -> Result<()> {
    let (env, other) = tokio::join!(Env::start(fast_settings()), target("other"));
    let (env, other) = (env?, other?);
    let (p, dev) = (&env.p, &env.dev);
    let mcs: Api<ManagedCluster> = Api::all(p.clone());

    let mc = mcs.get("dev").await?;
    let s = mc.status.clone().context("status")?;
    ensure!(s.phase == Some(ClusterPhase::Ready));
    ensure!(
        s.ready_nodes.as_deref() == Some("2/2"),
        "{:?}",
        s.ready_nodes
    );
    ensure!(
        s.api_server_endpoint.as_deref() == Some(dev.url()),
        "{:?}",
        s.api_server_endpoint
    );
    ensure!(
        s.kubernetes_version
            .as_deref()
            .is_some_and(|v| v.starts_with("v1.3"))
    );
    let master = s
        .nodes
        .iter()
        .find(|n| n.name == "dev-master")
        .context("dev-master")?;
    ensure!(
        master.role == Some(NodeRole::ControlPlane)
            && master.ready
            && master.ip.as_deref() == Some("127.0.0.1")
    );
    ensure!(reachable(&mc) == Some(("True".into(), "Connected".into())));

    // The Secret now names another cluster: the client is rebuilt at once (Secret watch).
    register_kubeconfig(p, "dev", other.kubeconfig()).await?;
    let mc = wait_for(&mcs, "dev", "connected to the other cluster", |mc| {
        mc.status
            .as_ref()
            .is_some_and(|s| s.nodes.iter().any(|n| n.name == "other-worker1"))
    })
    .await?;
    ensure!(mc.status.and_then(|s| s.api_server_endpoint).as_deref() == Some(other.url()));

    // Unreachable, then back.
    other.stop_apiserver()?;
    let mc = wait_for(&mcs, "dev", "Unreachable", reason_is("Unreachable")).await?;
    let s = mc.status.context("status")?;
    ensure!(
        s.phase == Some(ClusterPhase::Degraded) && s.nodes.is_empty(),
        "stale nodes must not be reported"
    );
    other.start_apiserver().await?;
    wait_for(&mcs, "dev", "Ready again", |mc| {
        mc.status.as_ref().and_then(|s| s.phase) == Some(ClusterPhase::Ready)
    })
    .await?;
    env.operator.stop().await
}

#[tokio::test]
async fn unusable_clusters_say_why() -> Result<()> {
    let platform = platform().await?;
    let dev = target("dev").await?;
    let p = platform.client().await?;
    let operator = Operator::start(&platform, fast_settings()).await?;
    let mcs: Api<ManagedCluster> = Api::all(p.clone());

    // No Secret yet: SecretMissing, with the command to create it. Then the Secret
    // appears and the cluster becomes Ready without touching the ManagedCluster.
    local_control_plane::apply_yaml(
        &p,
        &format!(
            "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {{name: late}}\nspec:\n  tier: staging\n  provider: external\n  \
             kubeconfigSecretRef: {{namespace: {SECRETS_NS}, name: late-kubeconfig}}\n"
        ),
        "default",
    )
    .await?;
    let mc = wait_for(&mcs, "late", "SecretMissing", reason_is("SecretMissing")).await?;
    let message = mc
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Reachable"))
        .map(|c| c.message.clone());
    ensure!(
        message.as_deref().is_some_and(
            |m| m.contains("kubectl -n tart-system create secret generic late-kubeconfig")
        ),
        "{message:?}"
    );
    ensure!(mc.status.as_ref().and_then(|s| s.phase) == Some(ClusterPhase::Degraded));
    register_kubeconfig(&p, "late", dev.kubeconfig()).await?;
    wait_for(&mcs, "late", "Ready", |mc| {
        mc.status.as_ref().and_then(|s| s.phase) == Some(ClusterPhase::Ready)
    })
    .await?;

    // A kubeconfig that would run a program is refused.
    let exec = dev.kubeconfig().replace(
        &format!("    token: {}\n", dev.admin_token()),
        "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: ['-c', 'echo pwned']}\n",
    );
    register_kubeconfig(&p, "exec", &exec).await?;
    let mc = wait_for(
        &mcs,
        "exec",
        "KubeconfigInvalid",
        reason_is("KubeconfigInvalid"),
    )
    .await?;
    ensure!(format!("{:?}", mc.status).contains("self-contained"));

    // A wrong token.
    let bad = dev.kubeconfig().replace(dev.admin_token(), "not-the-token");
    register_kubeconfig(&p, "badtoken", &bad).await?;
    wait_for(&mcs, "badtoken", "Unauthorized", reason_is("Unauthorized")).await?;

    // A tart cluster needs the host agent; without its Secret the condition says what to do.
    local_control_plane::apply_yaml(
        &p,
        "apiVersion: tartinfra.dev/v1alpha1\nkind: ManagedCluster\nmetadata: {name: prod}\nspec:\n  tier: prod\n  provider: tart\n  \
         network: {podCidr: 10.40.0.0/16, serviceCidr: 10.99.0.0/16}\n  nodes: [{name: prod-master, role: controlPlane, cpu: 2, memoryMiB: 4096}]\n",
        "default",
    )
    .await?;
    let mc = wait_for(&mcs, "prod", "HostAgentMissing", |mc| {
        mc.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Provisioned" && c.reason == "HostAgentMissing")
        })
    })
    .await?;
    let s = mc.status.context("status")?;
    ensure!(s.phase == Some(ClusterPhase::Pending));
    let message = &s
        .conditions
        .iter()
        .find(|c| c.type_ == "Provisioned")
        .context("condition")?
        .message;
    ensure!(
        message.contains("Secret tart-system/host-agent does not exist")
            && message.contains("tart-infra up"),
        "{message}"
    );

    // Deleting a ManagedCluster goes through (the finalizer only forgets the client).
    mcs.delete("late", &DeleteParams::default()).await?;
    wait_gone(&mcs, "late").await?;
    operator.stop().await
}

/// A series' value (summed over matching lines) from the operator's `/metrics`.
async fn metric(metrics_port: u16, series: &str) -> Result<f64> {
    Ok(metric_lines(metrics_port, series, "")
        .await?
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

#[tokio::test]
async fn relabelling_the_secret_keeps_the_connection_and_unsafe_kubeconfigs_need_consent()
-> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (p, dev, port) = (&env.p, &env.dev, env.operator.metrics_port);
    let mcs: Api<ManagedCluster> = Api::all(p.clone());
    let connections = r#"tart_operator_cluster_connections_total{cluster="dev"}"#;
    let probes = r#"tart_operator_reconciliations_total{controller="managedcluster"}"#;
    ensure!(metric(port, connections).await? == 1.0);

    // Only the Secret's metadata changes: the Secret watch wakes the controller, which
    // probes through the same client.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(p.clone(), SECRETS_NS);
    let before = metric(port, probes).await?;
    secrets
        .patch(
            "dev-kubeconfig",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({
                "metadata": { "labels": { "team": "a" }, "annotations": { "owner": "b" } }
            })),
        )
        .await?;
    let deadline = std::time::Instant::now() + WAIT;
    while metric(port, probes).await? < before + 3.0 {
        ensure!(
            std::time::Instant::now() < deadline,
            "no probe after the relabel"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let after = metric(port, connections).await?;
    ensure!(
        after == 1.0,
        "relabelling the Secret reconnected: {after} connections"
    );

    // insecure-skip-tls-verify is refused with a condition naming the field and the fix...
    let insecure = dev.kubeconfig().replace(
        "    certificate-authority-data:",
        "    insecure-skip-tls-verify: true\n    x-ca:",
    );
    register_kubeconfig(p, "insecure", &insecure).await?;
    let mc = wait_for(
        &mcs,
        "insecure",
        "InsecureKubeconfig",
        reason_is("InsecureKubeconfig"),
    )
    .await?;
    let text = format!("{:?}", mc.status);
    ensure!(
        text.contains("insecure-skip-tls-verify")
            && text.contains("spec.connection.allowInsecureSkipTLSVerify"),
        "{text}"
    );
    ensure!(
        metric(
            port,
            r#"tart_operator_cluster_connections_total{cluster="insecure"}"#
        )
        .await?
            == 0.0
    );
    // ...until the ManagedCluster allows it.
    mcs.patch(
        "insecure",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({
            "spec": { "connection": { "allowInsecureSkipTLSVerify": true } }
        })),
    )
    .await?;
    wait_ready(p, "insecure").await?;

    // A proxy-url likewise.
    let proxied = dev.kubeconfig().replace(
        "    server:",
        "    proxy-url: http://127.0.0.1:9\n    server:",
    );
    register_kubeconfig(p, "proxied", &proxied).await?;
    let mc = wait_for(
        &mcs,
        "proxied",
        "ProxyNotAllowed",
        reason_is("ProxyNotAllowed"),
    )
    .await?;
    ensure!(
        format!("{:?}", mc.status).contains("spec.connection.allowProxyURL"),
        "{:?}",
        mc.status
    );
    env.operator.stop().await
}
