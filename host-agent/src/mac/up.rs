//! `tart-infra up`: preflight, SSH key, VM API, the platform cluster, the hand-off.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::agent::{self, AgentOptions};
use super::helm::{self, Release};
use super::progress::{Reporter, Status};
use super::{Ctx, MacError, MacOptions, StateDir};
use super::{argocd, bringup, cilium, handoff};
use crate::config::{self, ClusterConfig, Config};
use crate::host::{self, facts, test_override};

/// What `up` is asked to do.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The options every Mac command takes.
    pub mac: MacOptions,
    /// The URL the VMs (the operator) reach the VM API at; default the agent's own URL.
    pub agent_url: Option<String>,
    /// The helm binary (a path, or a name looked up on PATH).
    pub helm_bin: PathBuf,
    /// A directory with the upstream charts and manifests `up` installs
    /// (`cilium/chart/`, `argo-cd/install.yaml`), for hosts without internet access; without
    /// it they are downloaded at their pinned versions.
    pub upstream_dir: Option<PathBuf>,
}

/// Loads the file and checks the host and the tools; prints every problem, one line each.
pub fn preflight(options: &UpOptions, report: &Reporter) -> Result<Config, MacError> {
    let mac = &options.mac;
    let config = config::load(&mac.config)?;
    let mut facts = host::gather(&config)?;
    facts.tart_version = facts::tart_version(&mac.tart_bin);
    let test = test_override::from_env().map_err(|e| MacError::step("host", "preflight", e))?;
    if let Some(o) = test {
        report.note("host", test_override::warning());
        o.apply(&mut facts);
    }
    let mut problems = host::preflight(&facts, &config);
    let helm_version = facts::helm_version(&options.helm_bin);
    problems.extend(host::preflight::helm(
        helm_version.as_deref(),
        helm::MIN_HELM_VERSION,
    ));
    if problems.is_empty() {
        report.step("host", "preflight", Status::Done, "");
        return Ok(config);
    }
    for p in &problems {
        report.step(
            &p.subject,
            "preflight",
            Status::Failed,
            format!("{}; {}", p.problem, p.fix),
        );
    }
    Err(MacError::Preflight {
        count: problems.len(),
    })
}

/// Creates the state directory (0700).
pub fn ensure_state_dir(dir: &Path) -> Result<(), MacError> {
    let io = |source| MacError::Io {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// The shared context: state directory, SSH key, VM API.
pub async fn context(mac: &MacOptions, config: Config, report: Reporter) -> Result<Ctx, MacError> {
    let state = StateDir::new(&mac.state_dir);
    ensure_state_dir(state.root())?;
    let key_path = host::expand_home_path(&config.ssh.private_key_path);
    let key =
        node_bootstrap::keys::ensure_key(&key_path).map_err(|e| MacError::step("ssh", "key", e))?;
    report.step("ssh", "key", Status::Done, key_path.display().to_string());
    let agent = agent::ensure(
        &state,
        &AgentOptions {
            tart_bin: mac.tart_bin.clone(),
            listen: mac.listen,
            stats_user: config.ssh.user.clone(),
        },
    )
    .await?;
    report.step(
        "serve",
        if agent.started { "start" } else { "reuse" },
        Status::Done,
        agent.record.url.clone(),
    );
    let known_hosts = super::known_hosts(&config);
    Ok(Ctx {
        config,
        state,
        client: agent.client,
        key,
        known_hosts,
        report,
    })
}

/// Runs `up`. `Ok(true)` when everything in scope was done.
pub async fn up(options: UpOptions) -> Result<bool, MacError> {
    let report = Reporter::new(options.mac.json);
    let config = match preflight(&options, &report) {
        Ok(c) => c,
        Err(e) => {
            report.summary("up", false, json!({}));
            return Err(e);
        }
    };
    run(&options, config, report).await
}

async fn run(options: &UpOptions, config: Config, report: Reporter) -> Result<bool, MacError> {
    let ctx = context(&options.mac, config, report).await?;
    match build(&ctx, options).await {
        Ok(()) => {
            ctx.report.summary(
                "up",
                true,
                json!({
                    "kubeconfig": ctx.state.merged_kubeconfig(),
                    "context": node_bootstrap::kubeconfig::context_name(&platform_name(&ctx.config)),
                }),
            );
            if !ctx.report.json() {
                eprintln!(
                    "export KUBECONFIG={}",
                    ctx.state.merged_kubeconfig().display()
                );
            }
            Ok(true)
        }
        Err(e) => {
            let e = with_rerun_hint(e);
            if let MacError::Step {
                subject,
                step,
                message,
            } = &e
            {
                ctx.report
                    .step(subject, step, Status::Failed, message.clone());
            }
            ctx.report.summary("up", false, json!({}));
            Err(e)
        }
    }
}

/// A failed step's error, ending with what to do once its cause is fixed.
fn with_rerun_hint(e: MacError) -> MacError {
    match e {
        MacError::Step {
            subject,
            step,
            message,
        } => MacError::Step {
            subject,
            step,
            message: format!(
                "{}; once fixed, run `tart-infra up` again: it continues where it stopped",
                message.trim_end()
            ),
        },
        other => other,
    }
}

fn platform_name(config: &Config) -> String {
    config
        .clusters
        .iter()
        .find(|c| c.tier == crds::managed_cluster::Tier::Platform)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "platform".to_owned())
}

async fn build(ctx: &Ctx, options: &UpOptions) -> Result<(), MacError> {
    let platform = ctx
        .config
        .clusters
        .iter()
        .find(|c| c.tier == crds::managed_cluster::Tier::Platform)
        .ok_or_else(|| MacError::step("config", "platform", "the file has no platform cluster"))?;
    let kubeconfig = bringup::bring_up(ctx, platform).await?;
    let client = handoff::client(&kubeconfig, &platform.name).await?;
    // Cilium first: the nodes become Ready, and pods (ArgoCD's) can run, only with a CNI.
    install_cilium(ctx, options, platform, &client).await?;
    hand_off_to_operator(ctx, options, &client).await?;
    hand_off_to_gitops(ctx, options, platform, &client).await
}

/// Cilium with helm, then every node Ready.
async fn install_cilium(
    ctx: &Ctx,
    options: &UpOptions,
    platform: &ClusterConfig,
    client: &kube::Client,
) -> Result<(), MacError> {
    let r = &ctx.report;
    let kubeconfig_file = ctx.state.cluster_kubeconfig(&platform.name);
    let upstream = options.upstream_dir.as_deref();
    let chart = cilium::chart(upstream)?;
    let values = cilium::values(platform);
    let release = Release {
        name: "cilium",
        namespace: "kube-system",
        chart: &chart,
        values: &values,
        kubeconfig: &kubeconfig_file,
    };
    r.step(
        &platform.name,
        "cilium",
        Status::Started,
        "helm upgrade --install",
    );
    helm::upgrade_install(&options.helm_bin, &release, &platform.name).await?;
    r.step(
        &platform.name,
        "cilium",
        Status::Done,
        format!(
            "{}; kube-proxy replaced; API at {}:6443",
            match &chart {
                helm::Chart::Repo { version, .. } => format!("chart {version}"),
                helm::Chart::Dir(dir) => format!("chart {}", dir.display()),
            },
            node_bootstrap::kubeadm::stable_name(&platform.name)
        ),
    );
    let ready = cilium::wait_nodes_ready(client, &platform.name, NODES_READY_TIMEOUT).await?;
    r.step(
        &platform.name,
        "nodes-ready",
        Status::Done,
        format!("{ready} nodes"),
    );
    Ok(())
}

/// The CRDs, the operator's RBAC and Secrets, one ManagedCluster per other cluster.
async fn hand_off_to_operator(
    ctx: &Ctx,
    options: &UpOptions,
    client: &kube::Client,
) -> Result<(), MacError> {
    let r = &ctx.report;
    let platform = platform_name(&ctx.config);
    handoff::install_base(client).await?;
    r.step(&platform, "crds+rbac", Status::Done, "");

    let record =
        crate::serve::ServeRecord::load(&ctx.state.serve_dir()).ok_or_else(|| MacError::Agent {
            message: "serve.json disappeared; run `tart-infra up` again".to_owned(),
        })?;
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| MacError::Io {
            path: path.to_owned(),
            source,
        })
    };
    let token = read(&record.token_file)?;
    let ca = read(&record.cert_file)?;
    let url = options.agent_url.clone().unwrap_or(record.url.clone());
    let platform_cluster = ctx
        .config
        .clusters
        .iter()
        .find(|c| c.tier == crds::managed_cluster::Tier::Platform)
        .ok_or_else(|| MacError::step("config", "platform", "the file has no platform cluster"))?;
    let secret = handoff::agent_secret(&url, token.trim(), &ca, platform_cluster)?;
    handoff::apply_secret(client, &secret).await?;
    r.step(&platform, "secret host-agent", Status::Done, url);

    let operator_key = ctx.state.operator_key();
    node_bootstrap::keys::ensure_key(&operator_key)
        .map_err(|e| MacError::step("operator", "ssh-key", e))?;
    let key_text = read(&operator_key)?;
    handoff::apply_secret(client, &handoff::ssh_secret(&key_text)).await?;
    r.step(&platform, "secret tart-operator-ssh", Status::Done, "");

    for cluster in handoff::managed(&ctx.config) {
        let body = handoff::managed_cluster(&ctx.config, cluster)?;
        handoff::apply_managed_cluster(client, &body).await?;
        r.step(
            &cluster.name,
            "managed-cluster",
            Status::Done,
            "provider tart",
        );
    }
    Ok(())
}

/// ArgoCD, the platform as an ArgoCD cluster, the root Application.
async fn hand_off_to_gitops(
    ctx: &Ctx,
    options: &UpOptions,
    platform: &ClusterConfig,
    client: &kube::Client,
) -> Result<(), MacError> {
    let r = &ctx.report;
    let upstream = options.upstream_dir.as_deref();
    r.step(
        &platform.name,
        "argocd",
        Status::Started,
        format!("v{}", argocd::VERSION),
    );
    // Each part with the field manager that owns it (see argocd.rs).
    let parts = [
        (
            argocd::install_manifest(upstream, ctx.state.root())?,
            handoff::FIELD_MANAGER,
        ),
        (
            argocd::server_node_ports().to_string(),
            argocd::NODE_PORTS_MANAGER,
        ),
        (argocd::health_checks().to_string(), argocd::HEALTH_MANAGER),
        (
            argocd::platform_secret(platform).to_string(),
            handoff::FIELD_MANAGER,
        ),
    ];
    for (yaml, manager) in &parts {
        handoff::apply_manifest(client, yaml, argocd::NAMESPACE, "argocd", manager).await?;
    }
    r.step(
        &platform.name,
        "argocd",
        Status::Done,
        format!(
            "v{}, UI on node port {}, health checks of the tartinfra.dev kinds, the platform's cluster Secret",
            argocd::VERSION,
            argocd::NODE_PORTS.0
        ),
    );
    match &ctx.config.gitops {
        Some(gitops) => {
            let root = argocd::root_application(gitops).to_string();
            handoff::apply_manifest(
                client,
                &root,
                argocd::NAMESPACE,
                "root-application",
                handoff::FIELD_MANAGER,
            )
                .await?;
            r.step(
                &platform.name,
                "root-application",
                Status::Done,
                format!(
                    "{}@{} {}: ArgoCD installs the operator and the addons from there",
                    gitops.repo_url,
                    gitops.target_revision,
                    argocd::ROOT_PATH
                ),
            );
        }
        None => r.step(
            &platform.name,
            "root-application",
            Status::Skipped,
            "the cluster file has no gitops.repoURL: set it to your fork of this repository to let ArgoCD install the operator and the addons",
        ),
    }
    Ok(())
}

/// How long the platform's nodes may take to become Ready once Cilium is installed (image
/// pulls are done by the golden image; without it they take longer).
const NODES_READY_TIMEOUT: Duration = Duration::from_secs(600);
