//! Runs the operator against a throw-away local control plane (real etcd + kube-apiserver
//! from the harness, with the CRDs installed), for trying it out on a machine without a
//! cluster. Ctrl-C stops the operator and removes the control plane.
//!
//!   cargo run -p operator --example local
//!
//! Set TART_OPERATOR_HTTP_ADDR to serve elsewhere than 127.0.0.1:8080. The local lab
//! (`tart-infra lab up`) replaces this once it lands.

use controlplane::{ControlPlane, Options, apply_yaml};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    eprintln!("starting etcd and kube-apiserver on loopback...");
    let cp = ControlPlane::start(Options::apiserver("local")).await?;
    // After the start-up: the harness's readiness polls are expected to fail a few times.
    operator::telemetry::init(operator::telemetry::LogFormat::Text);
    let client = cp.client().await?;
    for (file, _) in crds::all() {
        let path = format!("{}/../manifests/crds/{file}", env!("CARGO_MANIFEST_DIR"));
        apply_yaml(&client, &std::fs::read_to_string(&path)?, "default").await?;
    }
    let kubeconfig = cp.kubeconfig_path().display();
    let http_addr = std::env::var("TART_OPERATOR_HTTP_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()?;
    eprintln!(
        "control plane ready at {} (Kubernetes {}); CRDs installed.\n\
         try, in another shell:\n  \
         export KUBECONFIG={kubeconfig}\n  \
         curl -s http://{http_addr}/readyz; curl -s http://{http_addr}/metrics\n\
         (kubectl users: kubectl create -f manifests/examples/loadtest-light-load.yaml; kubectl get lt)\n\
         Ctrl-C stops everything.",
        cp.url(),
        client.apiserver_version().await?.git_version,
    );
    let config = operator::Config {
        http_addr,
        secrets_namespace: "tart-system".into(),
        settings: operator::context::Settings::default(),
        api: operator::api::ApiConfig {
            platform_name: "platform".into(),
            anonymous_read: true,
            platform_version: None,
            collectors: Default::default(),
        },
    };
    operator::run(config, client).await?;
    Ok(())
}
