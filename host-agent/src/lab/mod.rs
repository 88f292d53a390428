//! The local lab: the whole multi-cluster system on one machine without Tart. Every cluster
//! of `config/clusters.yaml` becomes a simulated control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok nodes and, where the addons ask, metrics-server)
//! from the cached binaries; the operator runs as a child process against platform. Inside
//! this process the lab plays what simulated pods cannot: the load of k6 runners
//! ([`simulator`]) and, for clusters whose addons ask for Hubble, a simulated Hubble Relay
//! ([`hubble`]) the operator reads flows from.
//!
//! `lab up` runs in the foreground and owns every process it starts (a watchdog kills them
//! if it dies by any route); `lab down` signals it from another shell by the pid in
//! `lab.json`; `lab status` reads the same record.

mod hubble;
pub mod load_model;
mod platform;
mod record;
mod simulator;
mod traffic_model;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use crds::managed_cluster::NodeRole;
use futures::StreamExt as _;
use local_control_plane::{Binaries, ControlPlane, Options, PodLifecycle, Proc, SimNode, Watchdog};
use serde_json::json;

use crate::config::{self, ClusterConfig};
use record::{Component, Record, Simulated};

/// How the HPA controller runs in lab clusters: a sync every 5 s (the default is 15 s) so
/// experiments react quickly; the demo HPAs' own behaviour (120 s scale-down window) applies.
const HPA_SYNC: &str = "--horizontal-pod-autoscaler-sync-period=5s";
const SIMULATOR_EVERY: Duration = Duration::from_secs(2);
const GRACE: Duration = Duration::from_secs(5);
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

/// The default state directory: `$XDG_STATE_HOME/tart-infra/lab`, else
/// `~/.local/state/tart-infra/lab`.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("tart-infra/lab")
}

/// Prints a line on stdout; a closed stdout (`| head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

struct Progress {
    start: Instant,
}

impl Progress {
    fn step(&self, what: &str) {
        eprintln!("[{:>5.1}s] {what}", self.start.elapsed().as_secs_f64());
    }
}

fn operator_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .context("locating tart-infra's own binary")?
            .with_file_name("tart-operator"),
    };
    if !path.is_file() {
        bail!(
            "the operator binary {} is missing; build it with `cargo build --release -p operator` (scripts/lab does), or pass --operator-bin",
            path.display()
        );
    }
    Ok(path)
}

fn workspace_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-kube-bins.sh")
}

/// The cached control-plane binaries; on a fresh machine, builds them first through the
/// same script the tests use (its progress goes to stderr).
fn binaries(progress: &Progress) -> anyhow::Result<Binaries> {
    match Binaries::locate() {
        Ok(b) => Ok(b),
        Err(local_control_plane::Error::MissingBinaries { .. }) if workspace_script().is_file() => {
            progress.step(
                "building the Kubernetes binaries from their Go modules (first run only, about 7 minutes)",
            );
            let out = std::process::Command::new("bash")
                .arg(workspace_script())
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running scripts/build-kube-bins.sh")?;
            if !out.status.success() {
                bail!(
                    "scripts/build-kube-bins.sh failed ({}); see the lines above",
                    out.status
                );
            }
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            Ok(Binaries::in_dir(PathBuf::from(dir))?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The control plane of one configured cluster.
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

fn ensure_free(addr: SocketAddr) -> anyhow::Result<()> {
    TcpListener::bind(addr).map(drop).map_err(|e| {
        anyhow::anyhow!(
            "{addr} is in use by another process ({e}); stop it or choose another address with --http-addr"
        )
    })
}

/// A running lab, owned by `lab up`. Dropping it kills everything.
struct Lab {
    clusters: Vec<(ClusterConfig, ControlPlane)>,
    operator: Option<(Proc, Watchdog)>,
    simulator: Option<tokio::task::JoinHandle<()>>,
    relays: Vec<hubble::Relay>,
}

impl Lab {
    fn components(&self) -> Vec<Component> {
        let mut all: Vec<Component> = self
            .clusters
            .iter()
            .flat_map(|(c, cp)| {
                cp.pids()
                    .into_iter()
                    .map(|(name, pid)| Component::of(c.name.as_str(), name, pid))
            })
            .collect();
        if let Some(pid) = self.operator.as_ref().and_then(|(p, _)| p.pid()) {
            all.push(Component::of("", "tart-operator", pid));
        }
        all
    }

    fn simulated(&self) -> Vec<Simulated> {
        self.relays
            .iter()
            .map(|r| Simulated {
                cluster: r.cluster.clone(),
                name: hubble::COMPONENT.to_owned(),
                address: r.addr.to_string(),
            })
            .collect()
    }

    /// Why the lab cannot go on: a component has exited.
    fn failure(&mut self) -> Option<String> {
        if let Some((proc, _)) = self.operator.as_mut()
            && let Some(status) = proc.exited()
        {
            return Some(format!(
                "tart-operator exited ({status}); last lines of {}:\n{}",
                proc.log.display(),
                proc.log_tail(20)
            ));
        }
        if let Some(relay) = self.relays.iter().find(|r| r.stopped()) {
            return Some(format!(
                "cluster {}: the simulated Hubble Relay ({}) on {} stopped",
                relay.cluster,
                hubble::COMPONENT,
                relay.addr
            ));
        }
        self.clusters.iter().find_map(|(c, cp)| {
            cp.check_alive()
                .err()
                .map(|e| format!("cluster {}: {e}", c.name))
        })
    }

    fn shutdown(&mut self) {
        if let Some(task) = self.simulator.take() {
            task.abort();
        }
        self.relays.clear();
        if let Some((mut proc, watchdog)) = self.operator.take() {
            proc.terminate(&watchdog, GRACE);
            watchdog.fire();
        }
        for (_, cp) in self.clusters.iter().rev() {
            cp.shutdown(GRACE);
        }
    }
}

/// `lab up`: starts everything, prints how to use it, runs until Ctrl-C, SIGTERM (`lab
/// down`) or a component's exit, then stops everything it started.
pub async fn up(opts: UpOptions) -> anyhow::Result<()> {
    let progress = Progress {
        start: Instant::now(),
    };
    let config = config::load(&opts.config)?;
    let selected: Vec<ClusterConfig> = config
        .select(&opts.clusters)?
        .into_iter()
        .cloned()
        .collect();
    std::fs::create_dir_all(&opts.state_dir)
        .with_context(|| format!("creating the state directory {}", opts.state_dir.display()))?;
    if let Some(running) = Record::load(&opts.state_dir)?
        && let Some(sup) = running.supervisor.filter(Component::alive)
    {
        bail!(
            "a lab is already running from {} (pid {}); stop it with `tart-infra lab down`",
            opts.state_dir.display(),
            sup.pid
        );
    }
    ensure_free(opts.http_addr)?;
    let operator_bin = operator_binary(opts.operator_bin.as_deref())?;
    let bins = binaries(&progress)?;
    let mut record = Record {
        supervisor: Some(Component::of("", "lab", std::process::id())),
        url: format!("http://{}", opts.http_addr),
        ..Record::default()
    };
    record.save(&opts.state_dir)?;
    let result = run(
        &opts,
        &config,
        selected,
        bins,
        operator_bin,
        &progress,
        &mut record,
    )
    .await;
    Record::remove(&opts.state_dir);
    match &result {
        Ok(()) => progress.step("lab stopped"),
        Err(_) => progress.step("lab stopped after an error; every process it started is gone"),
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    opts: &UpOptions,
    config: &config::Config,
    selected: Vec<ClusterConfig>,
    bins: Binaries,
    operator_bin: PathBuf,
    progress: &Progress,
    record: &mut Record,
) -> anyhow::Result<()> {
    let names: Vec<&str> = selected.iter().map(|c| c.name.as_str()).collect();
    progress.step(&format!(
        "starting {} (binaries in {})",
        names.join(", "),
        bins.dir().display()
    ));
    let mut lab = Lab {
        clusters: Vec::new(),
        operator: None,
        simulator: None,
        relays: Vec::new(),
    };
    let mut starting: futures::stream::FuturesUnordered<_> = selected
        .iter()
        .map(|c| {
            let opts = options(c, &opts.state_dir);
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
            Err(e) => {
                failed.get_or_insert(format!("cluster {}: {e}", c.name));
            }
        }
    }
    drop(starting);
    if let Some(e) = failed {
        bail!(e);
    }
    lab.clusters
        .sort_by_key(|(c, _)| names.iter().position(|n| *n == c.name.as_str()));
    record.components = lab.components();
    record.kubeconfigs = lab
        .clusters
        .iter()
        .map(|(c, cp)| (c.name.to_string(), cp.kubeconfig_path().to_path_buf()))
        .collect();
    record.save(&opts.state_dir)?;

    let (platform_config, platform) = lab
        .clusters
        .iter()
        .find(|(c, _)| c.tier == crds::managed_cluster::Tier::Platform)
        .context("the configuration has no platform cluster")?;
    let admin = platform.client().await?;
    platform::install_crds(&admin).await?;
    platform::install_rbac(&admin).await?;
    let operator_token = platform::token(&admin, "tart-operator").await?;
    let user_token = platform::token(&admin, platform::USER_ACCOUNT).await?;
    let operator_dir = opts.state_dir.join("operator");
    std::fs::create_dir_all(&operator_dir)?;
    let operator_kubeconfig = operator_dir.join("kubeconfig");
    local_control_plane::write_private(
        &operator_kubeconfig,
        &platform::kubeconfig(platform, "tart-operator", &operator_token),
    )?;
    let token_file = opts.state_dir.join("user-token");
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

    // The load simulator and, where the addons ask for Hubble, a simulated relay fed by it;
    // the relays listen before the operator starts, which is pointed at them.
    let mut simulators = Vec::new();
    for (c, cp) in &lab.clusters {
        let sim = simulator::Simulator::default();
        if c.addons.cilium.hubble {
            let relay = hubble::Relay::start(c.name.as_str(), sim.subscribe())
                .await
                .with_context(|| format!("starting the simulated Hubble Relay of {}", c.name))?;
            progress.step(&format!(
                "cluster {}: simulated Hubble Relay ({}) on {}: flows generated from probes and simulated load, not observed",
                c.name,
                hubble::COMPONENT,
                relay.addr
            ));
            lab.relays.push(relay);
        }
        simulators.push((c.name.to_string(), cp.client().await?, sim));
    }
    lab.simulator = Some(tokio::spawn(simulator::run(
        simulators,
        SIMULATOR_EVERY,
        |cluster, e| eprintln!("lab: load simulation in cluster {cluster}: {e}"),
    )));
    record.simulated = lab.simulated();

    let watchdog = Watchdog::start(None)?;
    let mut operator = Proc::new(
        "tart-operator",
        operator_bin,
        vec![
            format!("--http-addr={}", opts.http_addr),
            format!("--secrets-namespace={}", platform::SYSTEM_NAMESPACE),
            format!("--platform-name={}", platform_config.name),
            "--log-format=json".to_owned(),
        ]
        .into_iter()
        .chain(
            opts.dashboard_dir
                .iter()
                .map(|d| format!("--dashboard-dir={}", d.display())),
        )
        .chain(
            lab.relays
                .iter()
                .map(|r| format!("--hubble-relay-address={}={}", r.cluster, r.addr)),
        )
        .collect(),
        opts.state_dir.join("operator.log"),
    )
    .with_env("KUBECONFIG", &operator_kubeconfig.display().to_string());
    operator.start(&watchdog)?;
    lab.operator = Some((operator, watchdog));
    record.components = lab.components();
    record.save(&opts.state_dir)?;

    let api = Api {
        base: format!("http://{}", opts.http_addr),
        token: user_token.clone(),
        http: reqwest::Client::new(),
    };
    wait_ready(&mut lab, &api, &names, progress).await?;
    let ready_after = progress.start.elapsed().as_secs_f64();
    let summary = Summary {
        url: &api.base,
        token: &user_token,
        token_file: &token_file,
        state_dir: &opts.state_dir,
        kubeconfigs: &record.kubeconfigs,
        simulated: &record.simulated,
        ready_after,
        dashboard: opts.dashboard_dir.is_some(),
    };
    if opts.json {
        say!("{}", summary.json());
    } else {
        eprintln!("{}", summary.text());
    }

    let outcome = wait_for_stop(&mut lab).await;
    progress.step("stopping every process the lab started");
    lab.shutdown();
    outcome
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    }
}

/// Waits until the operator answers and reports every cluster Ready.
async fn wait_ready(
    lab: &mut Lab,
    api: &Api,
    names: &[&str],
    progress: &Progress,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut shown = BTreeMap::new();
    loop {
        if let Some(failure) = lab.failure() {
            bail!(failure);
        }
        let last = match api.get("/api/v1/clusters").await {
            Ok(clusters) => {
                let phases: BTreeMap<String, String> = clusters
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        Some((
                            c["name"].as_str()?.to_owned(),
                            c["phase"].as_str().unwrap_or("Unknown").to_owned(),
                        ))
                    })
                    .collect();
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
            Err(e) => e,
        };
        if Instant::now() > deadline {
            bail!(
                "the clusters were not all Ready after {} s ({last}); see {}",
                READY_TIMEOUT.as_secs(),
                "operator.log in the state directory"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_for_stop(lab: &mut Lab) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = check.tick() => {
                if let Some(failure) = lab.failure() {
                    bail!(failure);
                }
            }
        }
    }
}

struct Summary<'a> {
    url: &'a str,
    token: &'a str,
    token_file: &'a Path,
    state_dir: &'a Path,
    kubeconfigs: &'a [(String, PathBuf)],
    simulated: &'a [Simulated],
    ready_after: f64,
    dashboard: bool,
}

impl Summary<'_> {
    fn json(&self) -> serde_json::Value {
        json!({
            "url": self.url,
            "token": self.token,
            "tokenFile": self.token_file,
            "stateDir": self.state_dir,
            "readyAfterSeconds": (self.ready_after * 10.0).round() / 10.0,
            "dashboard": self.dashboard,
            "kubeconfigs": self.kubeconfigs.iter().map(|(n, p)| (n.clone(), json!(p))).collect::<serde_json::Map<_, _>>(),
            "simulatedHubbleRelays": self.simulated.iter().map(|s| (s.cluster.clone(), json!(s.address))).collect::<serde_json::Map<_, _>>(),
        })
    }

    fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "\nlab ready in {:.1} s\n  {}  {}\n  access token       {}\n                     (also in {}, valid 7 days; the tart-infra-tester role)\n  kubeconfigs\n",
            self.ready_after,
            if self.dashboard {
                "dashboard and API"
            } else {
                "API (no dashboard)"
            },
            self.url,
            self.token,
            self.token_file.display()
        );
        for (name, path) in self.kubeconfigs {
            let _ = writeln!(s, "    {name:<10} {}", path.display());
        }
        if !self.simulated.is_empty() {
            s.push_str(
                "  simulated traffic  Hubble Relays inside this process (hubble-sim): the Traffic page's\n                     flows are generated from kubelet probes and the simulated load, not observed\n",
            );
            for sim in self.simulated {
                let _ = writeln!(s, "    {:<10} {}", sim.cluster, sim.address);
            }
        }
        let platform = self
            .kubeconfigs
            .first()
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default();
        let _ = write!(
            s,
            "\ntry, in another shell:\n  export KUBECONFIG={platform}\n  kubectl get managedclusters\n  \
             kubectl create -f manifests/examples/scalingexperiment-scale-light.yaml && kubectl get se -w\n  \
             curl -H \"Authorization: Bearer $(cat {})\" {}/api/v1/clusters\n\n\
             Ctrl-C here, or `tart-infra lab down` from another shell, stops everything.\n",
            self.token_file.display(),
            self.url
        );
        s
    }
}

/// `lab down`: stops the lab recorded in `state_dir` (its `lab up` process, which stops
/// the rest; then any recorded process that is still there). Only those processes.
pub fn down(state_dir: &Path) -> anyhow::Result<()> {
    let Some(record) = Record::load(state_dir)? else {
        eprintln!("no lab is running from {}", state_dir.display());
        return Ok(());
    };
    let mut stopped = 0;
    if let Some(sup) = &record.supervisor
        && sup.signal("TERM")
    {
        eprintln!("asked lab up (pid {}) to stop", sup.pid);
        let deadline = Instant::now() + Duration::from_secs(60);
        while sup.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        stopped += 1;
    }
    for c in &record.components {
        if c.signal("TERM") {
            std::thread::sleep(Duration::from_millis(500));
            c.signal("KILL");
            eprintln!("stopped {} (pid {})", c.label(), c.pid);
            stopped += 1;
        }
    }
    if record.supervisor.as_ref().is_some_and(Component::alive) {
        bail!("lab up did not stop within 60 s");
    }
    Record::remove(state_dir);
    if stopped == 0 {
        eprintln!("no lab process was running; removed the stale record");
    } else {
        eprintln!("lab stopped");
    }
    Ok(())
}

/// `lab status`: each recorded process and whether the operator answers. True when all
/// run.
pub async fn status(state_dir: &Path, as_json: bool) -> anyhow::Result<bool> {
    let Some(record) = Record::load(state_dir)? else {
        if as_json {
            say!("{}", json!({ "running": false, "components": [] }));
        } else {
            eprintln!("no lab is running from {}", state_dir.display());
        }
        return Ok(false);
    };
    let mut rows = Vec::new();
    for c in record.supervisor.iter().chain(&record.components) {
        rows.push((c.label(), c.pid, c.alive()));
    }
    let supervisor_alive = record.supervisor.as_ref().is_some_and(Component::alive);
    let simulated: Vec<(String, &str, bool)> = record
        .simulated
        .iter()
        .map(|s| {
            (
                s.label(),
                s.address.as_str(),
                supervisor_alive && s.answers(),
            )
        })
        .collect();
    let ready = reqwest::Client::new()
        .get(format!("{}/readyz", record.url))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    let all = rows.iter().all(|r| r.2) && simulated.iter().all(|s| s.2) && ready;
    if as_json {
        let components: Vec<_> = rows
            .iter()
            .map(|(label, pid, alive)| json!({ "name": label, "pid": pid, "running": alive }))
            .collect();
        let simulated: Vec<_> = simulated
            .iter()
            .map(|(label, address, answers)| {
                json!({ "name": label, "address": address, "running": answers, "simulated": true })
            })
            .collect();
        say!(
            "{}",
            json!({ "running": all, "url": record.url, "operatorReady": ready, "components": components, "simulated": simulated })
        );
    } else {
        for (label, pid, alive) in &rows {
            say!(
                "{label:<34} pid {pid:<8} {}",
                if *alive { "running" } else { "stopped" }
            );
        }
        for (label, address, answers) in &simulated {
            say!(
                "{label:<34} {address:<21} {} (simulated flows, inside lab up)",
                if *answers { "running" } else { "stopped" }
            );
        }
        say!(
            "{:<34} {:<12} {}",
            "operator API",
            record.url,
            if ready { "ready" } else { "not answering" }
        );
    }
    Ok(all)
}
