//! `lab up`: the start-up steps after the checks ([`super::preflight`]): the control planes,
//! the platform's CRDs, RBAC and ManagedClusters, the demo workloads, the load simulator and
//! the simulated relays, the operator; then waiting until the operator reports every cluster
//! Ready, and running until Ctrl-C, `lab down` or a component's exit.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crds::managed_cluster::{NodeRole, Tier};
use futures::StreamExt as _;
use local_control_plane::{
    ControlPlane, Options, PodLifecycle, Proc, ServingFiles, SimNode, Watchdog,
};

use super::preflight::{self, Checked};
use super::record::{Component, Record};
use super::running::Lab;
use super::summary::Summary;
use super::{Error, Progress, https, hubble, platform, say, simulator};
use crate::config::ClusterConfig;

/// How the HPA controller runs in lab clusters: a sync every 5 s (the default is 15 s) so
/// experiments react quickly; the demo HPAs' own behaviour (120 s scale-down window) applies.
const HPA_SYNC: &str = "--horizontal-pod-autoscaler-sync-period=5s";
const SIMULATOR_EVERY: Duration = Duration::from_secs(2);
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// What `lab up` starts.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The clusters file.
    pub config: PathBuf,
    /// Clusters to start (empty: all); platform is always started.
    pub clusters: Vec<String>,
    /// Where certificates, etcd data, kubeconfigs and logs live between runs.
    pub state_dir: PathBuf,
    /// The operator's address (dashboard and API).
    pub http_addr: SocketAddr,
    /// Print one JSON object when ready instead of text.
    pub json: bool,
    /// The tart-operator binary (default: next to this one).
    pub operator_bin: Option<PathBuf>,
    /// The built dashboard the operator serves at `/` (none: the API only).
    pub dashboard_dir: Option<PathBuf>,
}

/// `lab up`: starts everything, prints how to use it, runs until Ctrl-C, SIGTERM (`lab
/// down`) or a component's exit, then stops everything it started.
pub async fn up(opts: UpOptions) -> Result<(), Error> {
    let progress = Progress::new();
    let checked = preflight::check(&opts, &progress)?;
    let mut record = Record {
        supervisor: Some(Component::of("", "lab", std::process::id())),
        url: format!("https://{}", opts.http_addr),
        ..Record::default()
    };
    record.save(&opts.state_dir)?;
    let result = run(&opts, checked, &progress, &mut record).await;
    Record::remove(&opts.state_dir);
    match &result {
        Ok(()) => progress.step("lab stopped"),
        Err(_) => progress.step("lab stopped after an error; every process it started is gone"),
    }
    result
}

/// The steps, each recorded in `lab.json` as soon as it has started processes.
async fn run(
    opts: &UpOptions,
    checked: Checked,
    progress: &Progress,
    record: &mut Record,
) -> Result<(), Error> {
    let Checked {
        config,
        selected,
        operator_bin,
        bins,
    } = checked;
    let names: Vec<&str> = selected.iter().map(|c| c.name.as_str()).collect();
    progress.step(&format!(
        "starting {} (binaries in {})",
        names.join(", "),
        bins.dir().display()
    ));
    let mut lab = Lab::default();
    start_clusters(&mut lab, &selected, &opts.state_dir, progress).await?;
    record.components = lab.components();
    record.kubeconfigs = lab.kubeconfigs();
    record.save(&opts.state_dir)?;

    let access = set_up_platform(&lab, &config, &opts.state_dir, progress).await?;
    start_simulation(&mut lab, progress).await?;
    record.simulated = lab.simulated();
    let tls = https::write_certificate(&opts.state_dir, opts.http_addr)?;
    start_operator(&mut lab, opts, &access, &tls, operator_bin)?;
    record.components = lab.components();
    record.save(&opts.state_dir)?;

    let api = OperatorApi {
        base: record.url.clone(),
        token: access.user_token.clone(),
        http: https::Client::trusting(&tls.ca_cert)?,
    };
    wait_ready(&mut lab, &api, &names, progress).await?;
    let summary = Summary {
        url: &api.base,
        token: &access.user_token,
        token_file: &access.token_file,
        ca_file: &tls.ca_cert,
        state_dir: &opts.state_dir,
        kubeconfigs: &record.kubeconfigs,
        simulated: &record.simulated,
        ready_after: progress.start.elapsed().as_secs_f64(),
        dashboard: opts.dashboard_dir.is_some(),
    };
    if opts.json {
        say(format_args!("{}", summary.json()));
    } else {
        eprintln!("{}", summary.text());
    }

    let outcome = wait_for_stop(&mut lab).await;
    progress.step("stopping every process the lab started");
    lab.shutdown();
    outcome
}

/// The control plane of one configured cluster: its nodes (name, CPU and memory from the
/// file, the control-plane node tainted), networks and metrics-server, pods kept Running
/// for the load simulator to end, and a directory of its own in the state directory.
fn options(c: &ClusterConfig, state_dir: &Path) -> Options {
    let nodes = c
        .nodes
        .iter()
        .map(|n| {
            let (cpu, memory) = (n.cpu.to_string(), format!("{}Mi", n.memory_mib));
            match n.role {
                NodeRole::ControlPlane => SimNode::control_plane(n.name.as_str(), &cpu, &memory),
                NodeRole::Worker => SimNode::worker(n.name.as_str(), &cpu, &memory),
            }
        })
        .collect();
    Options {
        controller_manager_args: vec![HPA_SYNC.to_owned()],
        pods: PodLifecycle::Ready,
        service_cidr: c.network.service_cidr.clone(),
        pod_cidr: c.network.pod_cidr.clone(),
        metrics_server: c.addons.metrics_server,
        state_dir: Some(state_dir.join("clusters").join(c.name.as_str())),
        ..Options::cluster(c.name.as_str()).with_nodes(nodes)
    }
}

/// Starts every selected cluster at once; the first failure is the error (after all have
/// finished starting, so none is left half-started).
async fn start_clusters(
    lab: &mut Lab,
    selected: &[ClusterConfig],
    state_dir: &Path,
    progress: &Progress,
) -> Result<(), Error> {
    let mut starting: futures::stream::FuturesUnordered<_> = selected
        .iter()
        .map(|c| {
            let opts = options(c, state_dir);
            let c = c.clone();
            async move { (ControlPlane::start(opts).await, c) }
        })
        .collect();
    let mut failed = None;
    while let Some((result, c)) = starting.next().await {
        match result {
            Ok(cp) => {
                progress.step(&format!(
                    "cluster {}: API server {} ready, {} simulated node(s){}",
                    c.name,
                    cp.url(),
                    c.nodes.len(),
                    if c.addons.metrics_server {
                        ", metrics-server"
                    } else {
                        ""
                    }
                ));
                lab.clusters.push((c, cp));
            }
            Err(source) => {
                failed.get_or_insert(Error::Cluster {
                    cluster: c.name.clone(),
                    source,
                });
            }
        }
    }
    drop(starting);
    if let Some(e) = failed {
        return Err(e);
    }
    lab.clusters
        .sort_by_key(|(c, _)| selected.iter().position(|s| s.name == c.name));
    Ok(())
}

/// How the operator and the user reach platform.
struct Access {
    /// The platform cluster's name.
    platform: String,
    /// The operator's kubeconfig (its own ServiceAccount's token).
    operator_kubeconfig: PathBuf,
    /// The lab user's token, and the file that holds it.
    user_token: String,
    token_file: PathBuf,
}

/// Installs the CRDs and RBAC on platform, registers the other clusters, applies the demo
/// workloads, and writes the operator's kubeconfig and the user's token.
async fn set_up_platform(
    lab: &Lab,
    config: &crate::config::Config,
    state_dir: &Path,
    progress: &Progress,
) -> Result<Access, Error> {
    let (platform_config, platform) = lab
        .clusters
        .iter()
        .find(|(c, _)| c.tier == Tier::Platform)
        .ok_or(Error::NoPlatform)?;
    let admin = platform.client().await?;
    platform::install_crds(&admin).await?;
    platform::install_loadtest_policy(&admin).await?;
    platform::install_rbac(&admin).await?;
    let operator_token = platform::token(&admin, "tart-operator", None).await?;
    let user_token = platform::token(
        &admin,
        platform::USER_ACCOUNT,
        Some(platform::OPERATOR_AUDIENCE),
    )
    .await?;
    let operator_dir = state_dir.join("operator");
    std::fs::create_dir_all(&operator_dir)
        .map_err(Error::io(format!("creating {}", operator_dir.display())))?;
    let operator_kubeconfig = operator_dir.join("kubeconfig");
    local_control_plane::write_private(
        &operator_kubeconfig,
        &platform::kubeconfig(platform, "tart-operator", &operator_token),
    )?;
    let token_file = state_dir.join("user-token");
    local_control_plane::write_private(&token_file, &user_token)?;
    let targets: Vec<(&ClusterConfig, &ControlPlane)> = lab
        .clusters
        .iter()
        .filter(|(c, _)| c.name != platform_config.name)
        .map(|(c, cp)| (c, cp))
        .collect();
    platform::register(&admin, config, &targets).await?;
    progress.step(&format!(
        "platform: CRDs, operator RBAC and {} ManagedCluster(s) installed",
        targets.len()
    ));
    for (c, cp) in &lab.clusters {
        if c.addons.demo_apps {
            platform::install_demo(&cp.client().await?).await?;
            progress.step(&format!(
                "cluster {}: demo workloads applied (namespace demo)",
                c.name
            ));
        }
    }
    Ok(Access {
        platform: platform_config.name.clone(),
        operator_kubeconfig,
        user_token,
        token_file,
    })
}

/// The load simulator and, where the addons ask for Hubble, a simulated relay fed by it;
/// the relays listen before the operator starts, which is pointed at them.
async fn start_simulation(lab: &mut Lab, progress: &Progress) -> Result<(), Error> {
    let mut simulators = Vec::new();
    for (c, cp) in &lab.clusters {
        let sim = simulator::Simulator::default();
        if c.addons.cilium.hubble {
            let relay = hubble::Relay::start(c.name.as_str(), sim.subscribe())
                .await
                .map_err(|source| Error::Relay {
                    cluster: c.name.clone(),
                    source,
                })?;
            progress.step(&format!(
                "cluster {}: simulated Hubble Relay ({}) on {}: flows generated from probes and simulated load, not observed",
                c.name,
                hubble::COMPONENT,
                relay.addr
            ));
            lab.relays.push(relay);
        }
        simulators.push((c.name.clone(), cp.client().await?, sim));
    }
    lab.simulator = Some(tokio::spawn(simulator::run(
        simulators,
        SIMULATOR_EVERY,
        |cluster, e| eprintln!("lab: load simulation in cluster {cluster}: {e}"),
    )));
    Ok(())
}

/// The operator's command line: its address and certificate, where its Secrets are, the
/// platform's name, the dashboard and the simulated relays.
fn operator_args(
    opts: &UpOptions,
    tls: &ServingFiles,
    platform: &str,
    relays: &[hubble::Relay],
) -> Vec<String> {
    [
        format!("--http-addr={}", opts.http_addr),
        format!("--tls-cert-file={}", tls.cert.display()),
        format!("--tls-key-file={}", tls.key.display()),
        format!("--secrets-namespace={}", platform::SYSTEM_NAMESPACE),
        format!("--platform-name={platform}"),
        "--log-format=json".to_owned(),
    ]
    .into_iter()
    .chain(
        opts.dashboard_dir
            .iter()
            .map(|d| format!("--dashboard-dir={}", d.display())),
    )
    .chain(
        relays
            .iter()
            .map(|r| format!("--hubble-relay-address={}={}", r.cluster, r.addr)),
    )
    .collect()
}

/// Starts the operator as a child process, with a watchdog of its own.
fn start_operator(
    lab: &mut Lab,
    opts: &UpOptions,
    access: &Access,
    tls: &ServingFiles,
    operator_bin: PathBuf,
) -> Result<(), Error> {
    let watchdog = Watchdog::start(None)?;
    let mut operator = Proc::new(
        "tart-operator",
        operator_bin,
        operator_args(opts, tls, &access.platform, &lab.relays),
        opts.state_dir.join("operator.log"),
    )
    .with_env(
        "KUBECONFIG",
        &access.operator_kubeconfig.display().to_string(),
    );
    operator.start(&watchdog)?;
    lab.operator = Some((operator, watchdog));
    Ok(())
}

/// The operator's API, as the lab user.
struct OperatorApi {
    base: String,
    token: String,
    http: https::Client,
}

/// Why a request to the operator's API did not give an answer.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// No answer.
    #[error("{0}")]
    Request(String),
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An answer other than success.
    #[error("{status}: {body}")]
    Status {
        status: u16,
        body: serde_json::Value,
    },
}

impl OperatorApi {
    async fn get(&self, path: &str) -> Result<serde_json::Value, ApiError> {
        let (status, body) = self
            .http
            .send(
                http::Method::GET,
                &format!("{}{path}", self.base),
                Some(&self.token),
                None,
                Duration::from_secs(5),
            )
            .await
            .map_err(ApiError::Request)?;
        let body: serde_json::Value = serde_json::from_slice(&body)?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ApiError::Status { status, body })
        }
    }
}

/// Each cluster's phase in a `/api/v1/clusters` answer.
fn phases(clusters: &serde_json::Value) -> BTreeMap<String, String> {
    clusters
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["name"].as_str()?.to_owned(),
                c["phase"].as_str().unwrap_or("Unknown").to_owned(),
            ))
        })
        .collect()
}

/// Waits until the operator answers and reports every cluster Ready.
async fn wait_ready(
    lab: &mut Lab,
    api: &OperatorApi,
    names: &[&str],
    progress: &Progress,
) -> Result<(), Error> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut shown = BTreeMap::new();
    loop {
        if let Some(failure) = lab.failure() {
            return Err(failure);
        }
        let last = match api.get("/api/v1/clusters").await {
            Ok(clusters) => {
                let phases = phases(&clusters);
                for (name, phase) in &phases {
                    if shown.get(name) != Some(phase) && names.contains(&name.as_str()) {
                        progress.step(&format!("operator: cluster {name} is {phase}"));
                        shown.insert(name.clone(), phase.clone());
                    }
                }
                if names
                    .iter()
                    .all(|n| phases.get(*n).is_some_and(|p| p == "Ready"))
                {
                    return Ok(());
                }
                format!("cluster phases: {phases:?}")
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(Error::NotReady {
                secs: READY_TIMEOUT.as_secs(),
                last,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs until Ctrl-C or SIGTERM (`lab down`): Ok; or until a component exits: its error.
async fn wait_for_stop(lab: &mut Lab) -> Result<(), Error> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(Error::Signal)?;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = check.tick() => {
                if let Some(failure) = lab.failure() {
                    return Err(failure);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> ClusterConfig {
        let text = include_str!("../../../config/clusters.yaml");
        let config = crate::config::parse(text, "config/clusters.yaml").expect("shipped file");
        config.cluster("dev").expect("dev").clone()
    }

    #[test]
    fn a_configured_cluster_becomes_a_control_plane_with_its_nodes_and_addons() {
        let opts = options(&dev(), Path::new("/state"));
        assert_eq!(opts.name, "dev");
        let nodes: Vec<(&str, bool, &str, &str)> = opts
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.control_plane,
                    n.cpu.as_str(),
                    n.memory.as_str(),
                )
            })
            .collect();
        assert_eq!(
            nodes,
            [
                ("dev-master", true, "2", "4096Mi"),
                ("dev-worker1", false, "2", "8192Mi")
            ]
        );
        assert_eq!(
            (opts.pod_cidr.as_str(), opts.service_cidr.as_str()),
            ("10.20.0.0/16", "10.97.0.0/16")
        );
        assert!(opts.metrics_server && opts.controller_manager && opts.scheduler);
        assert_eq!(opts.pods, PodLifecycle::Ready, "the simulator ends runners");
        assert_eq!(opts.controller_manager_args, [HPA_SYNC]);
        assert_eq!(opts.state_dir, Some(PathBuf::from("/state/clusters/dev")));
    }

    #[test]
    fn the_operator_is_pointed_at_platform_the_dashboard_and_the_relays() {
        let opts = UpOptions {
            config: PathBuf::from("config/clusters.yaml"),
            clusters: Vec::new(),
            state_dir: PathBuf::from("/state"),
            http_addr: "127.0.0.1:3000".parse().expect("addr"),
            json: false,
            operator_bin: None,
            dashboard_dir: Some(PathBuf::from("/repo/dashboard/dist")),
        };
        let tls = ServingFiles {
            ca_cert: PathBuf::from("/state/operator-tls/ca.crt"),
            cert: PathBuf::from("/state/operator-tls/tls.crt"),
            key: PathBuf::from("/state/operator-tls/tls.key"),
        };
        assert_eq!(
            operator_args(&opts, &tls, "platform", &[]),
            [
                "--http-addr=127.0.0.1:3000",
                "--tls-cert-file=/state/operator-tls/tls.crt",
                "--tls-key-file=/state/operator-tls/tls.key",
                "--secrets-namespace=tart-system",
                "--platform-name=platform",
                "--log-format=json",
                "--dashboard-dir=/repo/dashboard/dist",
            ]
        );
    }

    #[test]
    fn phases_are_read_from_the_clusters_answer() {
        let answer = serde_json::json!([
            { "name": "platform", "phase": "Ready" },
            { "name": "dev" },
            { "phase": "Ready" },
        ]);
        assert_eq!(
            phases(&answer),
            BTreeMap::from([
                ("dev".to_owned(), "Unknown".to_owned()),
                ("platform".to_owned(), "Ready".to_owned()),
            ])
        );
        assert!(phases(&serde_json::json!({ "error": {} })).is_empty());
    }
}
