//! A real Kubernetes control plane on loopback, for tests (and, later, the local lab).
//!
//! [`ControlPlane::start`] runs etcd and kube-apiserver from the binaries that
//! `scripts/build-kube-bins.sh` builds from the official Go modules, on free 127.0.0.1 ports
//! in a temporary directory, with a fresh CA, serving certificate, service-account key and
//! a static admin token. On request it adds kube-controller-manager, kube-scheduler and kwok
//! with simulated nodes, so Deployments and Jobs get pods that reach Running.
//!
//! Several control planes can run at once (a platform cluster and target clusters). Every
//! process is killed, and the directory removed, when the `ControlPlane` is dropped or when
//! the test process exits by any route, including a panic or SIGKILL (see `process`).
//!
//! Missing binaries are an error naming the build command: tests that need a control plane
//! fail, they never skip.

mod bins;
mod manifests;
mod pki;
mod process;
mod state;

use std::fmt::Write as _;

use base64::Engine as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub use bins::{BINS_ENV, Binaries};
pub use manifests::{apply_yaml, parse_yaml_documents};
pub use process::{Proc, Watchdog, log_tail};

/// Why a control plane could not start or be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Some binaries are not built.
    #[error(
        "control-plane binaries missing in {dir}: {missing}. Build them with `scripts/build-kube-bins.sh` \
         (a cold build takes 10-40 minutes; later runs reuse the cache), or set {BINS_ENV} to a directory that has them"
    )]
    MissingBinaries {
        /// Where they were looked for.
        dir: PathBuf,
        /// Which ones are missing.
        missing: String,
    },
    /// A component exited while starting or while being waited for.
    #[error("{component} exited ({status}); last lines of {log}:\n{tail}")]
    Exited {
        /// The component.
        component: &'static str,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// Something did not become ready in time.
    #[error("timed out after {secs}s waiting for {what}{detail}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        secs: u64,
        /// Last error and log lines.
        detail: String,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating certificates failed.
    #[error("generating certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// The Kubernetes client failed.
    #[error("kubernetes client: {0}")]
    Kube(#[from] kube::Error),
    /// The generated kubeconfig was rejected.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// A port the control plane needs is taken by another process.
    #[error(
        "127.0.0.1:{port} ({component} of control plane {name}) is in use by another process; \
         stop that process, or delete {state} to choose new ports"
    )]
    PortInUse {
        /// The control plane.
        name: String,
        /// The component that listens there.
        component: &'static str,
        /// The port.
        port: u16,
        /// The file that holds the ports.
        state: PathBuf,
    },
    /// Anything else during start-up.
    #[error("{0}")]
    Startup(String),
}

/// A simulated node run by kwok.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// Node name.
    pub name: String,
    /// Control-plane role: labelled and tainted `node-role.kubernetes.io/control-plane`.
    pub control_plane: bool,
    /// CPU capacity, e.g. `4`.
    pub cpu: String,
    /// Memory capacity, e.g. `8Gi`.
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
}

impl SimNode {
    /// A worker with the given CPU and memory capacity and room for 110 pods.
    pub fn worker(name: &str, cpu: &str, memory: &str) -> Self {
        Self {
            name: name.to_owned(),
            control_plane: false,
            cpu: cpu.to_owned(),
            memory: memory.to_owned(),
            pods: 110,
        }
    }

    /// A tainted control-plane node.
    pub fn control_plane(name: &str, cpu: &str, memory: &str) -> Self {
        Self {
            control_plane: true,
            ..Self::worker(name, cpu, memory)
        }
    }
}

/// Who moves pods through their lifecycle (no kubelet runs here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodLifecycle {
    /// kwok: pods become Running and Ready, Job pods complete with exit code 0.
    Simulated,
    /// The test writes pod status itself, as a kubelet would (running, terminated with an
    /// exit code and a termination message); kwok only removes deleted pods.
    Manual,
    /// kwok: every pod becomes Running and Ready and stays so, Job pods included; the test
    /// ends Job pods itself by writing their status as a kubelet would.
    Ready,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// A short name, used in directory and log names.
    pub name: String,
    /// Run kube-controller-manager (Deployments, ReplicaSets, Jobs, HPAs, GC, namespaces).
    pub controller_manager: bool,
    /// Extra kube-controller-manager flags, e.g. shorter HPA periods.
    pub controller_manager_args: Vec<String>,
    /// Run kube-scheduler.
    pub scheduler: bool,
    /// Simulated nodes; kwok runs when this is not empty.
    pub nodes: Vec<SimNode>,
    /// Who moves pods on the simulated nodes through their lifecycle.
    pub pods: PodLifecycle,
    /// More kwok configuration documents (YAML), e.g. a `PortForward` that connects
    /// `kubectl port-forward` to a pod with a local server.
    pub kwok_config: Vec<String>,
    /// The service network (the API server's --service-cluster-ip-range).
    pub service_cidr: String,
    /// The pod network kwok assigns pod IPs from. These addresses are never dialled.
    pub pod_cidr: String,
    /// Run metrics-server (registered as `v1beta1.metrics.k8s.io`), scraping the CPU and
    /// memory usage kwok simulates for each pod: 1m CPU and 1Mi memory unless the pod's
    /// `kwok.x-k8s.io/usage-cpu` / `kwok.x-k8s.io/usage-memory` annotations say otherwise.
    pub metrics_server: bool,
    /// Keep everything in this directory and reuse it on the next start (certificates,
    /// token, ports, etcd data), as the local lab does; nothing is removed when the control
    /// plane stops. `None` (tests): a temporary directory, removed on drop.
    pub state_dir: Option<PathBuf>,
}

impl Options {
    /// etcd and kube-apiserver only: CRUD, watches, CRDs, RBAC, admission.
    pub fn apiserver(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            controller_manager: false,
            controller_manager_args: Vec::new(),
            scheduler: false,
            nodes: Vec::new(),
            pods: PodLifecycle::Simulated,
            kwok_config: Vec::new(),
            service_cidr: "10.96.0.0/16".to_owned(),
            pod_cidr: "10.244.0.0/16".to_owned(),
            metrics_server: false,
            state_dir: None,
        }
    }

    /// A working cluster: controller-manager, scheduler and one simulated worker node
    /// (4 CPU, 8Gi), so workloads get pods that run (and Job pods that complete).
    pub fn cluster(name: &str) -> Self {
        Self {
            controller_manager: true,
            scheduler: true,
            nodes: vec![SimNode::worker(&format!("{name}-worker"), "4", "8Gi")],
            ..Self::apiserver(name)
        }
    }

    /// Sets who moves pods through their lifecycle.
    pub fn with_pods(mut self, pods: PodLifecycle) -> Self {
        self.pods = pods;
        self
    }

    /// Adds metrics-server, so HPAs see the pods' simulated CPU usage. The HPA controller
    /// runs with test-speed periods: sync every 2 s, new pods' CPU counted after 1 s.
    pub fn with_metrics_server(mut self) -> Self {
        self.metrics_server = true;
        self.controller_manager_args.extend([
            "--horizontal-pod-autoscaler-sync-period=2s".to_owned(),
            "--horizontal-pod-autoscaler-cpu-initialization-period=1s".to_owned(),
            "--horizontal-pod-autoscaler-initial-readiness-delay=1s".to_owned(),
        ]);
        self
    }

    /// Replaces the simulated nodes.
    pub fn with_nodes(mut self, nodes: Vec<SimNode>) -> Self {
        self.nodes = nodes;
        self
    }
}

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    name: String,
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    url: String,
    token: String,
    kubeconfig: String,
    kubeconfig_path: PathBuf,
    ca_pem: String,
    procs: Mutex<Vec<Proc>>,
    watchdog: Watchdog,
    ready_after: Duration,
    namespaces: AtomicU32,
}

const READY_TIMEOUT: Duration = Duration::from_secs(90);

fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    // Hold every listener until all ports are chosen so they are distinct.
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Io {
            context: "choosing free loopback ports".to_owned(),
            source,
        })?;
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|source| Error::Io {
                context: "reading a loopback port".to_owned(),
                source,
            })?
            .port();
    }
    Ok(ports)
}

fn random_token() -> Result<String, Error> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| Error::Io {
            context: "reading /dev/urandom".to_owned(),
            source,
        })?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// Writes a file readable by the owner only (keys, tokens, kubeconfigs).
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| Error::Io {
            context: format!("writing {}", path.display()),
            source,
        })
}

fn kubeconfig_yaml(name: &str, url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n\
         users:\n- name: {name}-admin\n  user:\n    token: {token}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n\
         current-context: {name}\n"
    )
}

impl ControlPlane {
    /// Starts the components `opts` asks for and waits until they are usable: the API server
    /// ready, simulated nodes Ready, the controller-manager creating service accounts.
    pub async fn start(opts: Options) -> Result<Self, Error> {
        let began = Instant::now();
        let bins = Binaries::locate()?;
        let (dir, tempdir) = match &opts.state_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let tempdir = tempfile::Builder::new()
                    .prefix(&format!("tart-cp-{}-", opts.name))
                    .tempdir()
                    .map_err(|source| Error::Io {
                        context: "creating a temporary directory".to_owned(),
                        source,
                    })?;
                (tempdir.path().to_path_buf(), Some(tempdir))
            }
        };
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&pki_dir).map_err(|source| Error::Io {
            context: format!("creating {}", pki_dir.display()),
            source,
        })?;
        let persistent = opts.state_dir.is_some();
        let state = state::State::load_or_create(&dir)?;
        state.check_ports_free(&opts.name)?;
        let pki = pki::load_or_write(&pki_dir)?;
        let token = state.token.clone();
        let tokens = dir.join("tokens.csv");
        write_private(&tokens, &format!("{token},admin,admin,system:masters\n"))?;
        let state::Ports {
            etcd: etcd_port,
            peer: peer_port,
            apiserver: api_port,
            kwok: kwok_port,
            metrics_server: metrics_port,
        } = state.ports;
        // Only a temporary directory is removed by the watchdog.
        let watchdog = Watchdog::start(tempdir.as_ref().map(|_| dir.as_path()))?;
        let url = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = kubeconfig_yaml(&opts.name, &url, &pki.ca_pem, &token);
        let kubeconfig_path = dir.join("kubeconfig");
        write_private(&kubeconfig_path, &kubeconfig)?;

        let p = |s: &Path| s.display().to_string();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut procs = vec![
            Proc::new(
                "etcd",
                bins.path("etcd"),
                vec![
                    "--name=default".into(),
                    format!("--data-dir={}", p(&dir.join("etcd"))),
                    format!("--listen-client-urls={etcd_url}"),
                    format!("--advertise-client-urls={etcd_url}"),
                    format!("--listen-peer-urls={peer_url}"),
                    format!("--initial-advertise-peer-urls={peer_url}"),
                    format!("--initial-cluster=default={peer_url}"),
                    "--unsafe-no-fsync=true".into(),
                    "--listen-metrics-urls=".into(),
                    "--log-level=warn".into(),
                ],
                dir.join("etcd.log"),
            ),
            Proc::new(
                "kube-apiserver",
                bins.path("kube-apiserver"),
                vec![
                    format!("--etcd-servers={etcd_url}"),
                    "--bind-address=127.0.0.1".into(),
                    "--advertise-address=127.0.0.1".into(),
                    format!("--secure-port={api_port}"),
                    format!("--tls-cert-file={}", p(&pki.apiserver_cert)),
                    format!("--tls-private-key-file={}", p(&pki.apiserver_key)),
                    format!("--client-ca-file={}", p(&pki.ca_cert)),
                    format!("--token-auth-file={}", p(&tokens)),
                    "--authorization-mode=RBAC".into(),
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                    format!("--service-account-key-file={}", p(&pki.sa_pub)),
                    format!("--service-account-signing-key-file={}", p(&pki.sa_key)),
                    format!("--service-cluster-ip-range={}", opts.service_cidr),
                    "--allow-privileged=true".into(),
                    "--endpoint-reconciler-type=none".into(),
                    // Without a controller-manager nothing creates the default service
                    // accounts that the ServiceAccount admission plugin requires.
                    if opts.controller_manager {
                        "--disable-admission-plugins=".into()
                    } else {
                        "--disable-admission-plugins=ServiceAccount".into()
                    },
                    format!("--proxy-client-cert-file={}", p(&pki.front_proxy_cert)),
                    format!("--proxy-client-key-file={}", p(&pki.front_proxy_key)),
                    format!("--requestheader-client-ca-file={}", p(&pki.front_proxy_ca)),
                    "--requestheader-allowed-names=front-proxy-client".into(),
                    "--requestheader-username-headers=X-Remote-User".into(),
                    "--requestheader-group-headers=X-Remote-Group".into(),
                    "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
                    "--enable-priority-and-fairness=false".into(),
                    "--profiling=false".into(),
                ],
                dir.join("kube-apiserver.log"),
            ),
        ];
        let kc = p(&kubeconfig_path);
        if opts.controller_manager {
            let mut args = vec![
                format!("--kubeconfig={kc}"),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                "--secure-port=0".into(),
                format!("--root-ca-file={}", p(&pki.ca_cert)),
                format!("--service-account-private-key-file={}", p(&pki.sa_key)),
                "--use-service-account-credentials=false".into(),
                "--kube-api-qps=500".into(),
                "--kube-api-burst=1000".into(),
                "--concurrent-job-syncs=20".into(),
                "--profiling=false".into(),
            ];
            args.extend(opts.controller_manager_args.iter().cloned());
            procs.push(Proc::new(
                "kube-controller-manager",
                bins.path("kube-controller-manager"),
                args,
                dir.join("kube-controller-manager.log"),
            ));
        }
        if opts.scheduler {
            procs.push(Proc::new(
                "kube-scheduler",
                bins.path("kube-scheduler"),
                vec![
                    format!("--kubeconfig={kc}"),
                    "--leader-elect=false".into(),
                    "--bind-address=127.0.0.1".into(),
                    "--secure-port=0".into(),
                    "--profiling=false".into(),
                ],
                dir.join("kube-scheduler.log"),
            ));
        }
        if !opts.nodes.is_empty() {
            let config = dir.join("kwok.yaml");
            let mut text =
                manifests::kwok_config(&bins.kwok_stages(), opts.pods, opts.metrics_server)?;
            for extra in &opts.kwok_config {
                text.push_str("---\n");
                text.push_str(extra);
                text.push('\n');
            }
            write_private(&config, &text)?;
            procs.push(Proc::new(
                "kwok",
                bins.path("kwok"),
                vec![
                    format!("--kubeconfig={kc}"),
                    format!("--config={}", p(&config)),
                    "--manage-all-nodes=true".into(),
                    "--node-ip=127.0.0.1".into(),
                    format!("--node-port={kwok_port}"),
                    format!("--server-address=127.0.0.1:{kwok_port}"),
                    format!("--cidr={}", opts.pod_cidr),
                    "--node-lease-duration-seconds=40".into(),
                ],
                dir.join("kwok.log"),
            ));
        }
        if opts.metrics_server {
            procs.push(Proc::new(
                "metrics-server",
                bins.path("metrics-server"),
                vec![
                    format!("--kubeconfig={kc}"),
                    format!("--authentication-kubeconfig={kc}"),
                    format!("--authorization-kubeconfig={kc}"),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={metrics_port}"),
                    format!("--cert-dir={}", p(&dir.join("metrics-server"))),
                    // kwok serves the kubelet endpoints on the node's address and port.
                    "--kubelet-preferred-address-types=InternalIP".into(),
                    "--kubelet-use-node-status-port".into(),
                    "--kubelet-insecure-tls".into(),
                    // The smallest resolution metrics-server accepts; it must also exceed
                    // the kubelet request timeout (default 10s).
                    "--metric-resolution=10s".into(),
                    "--kubelet-request-timeout=5s".into(),
                ],
                dir.join("metrics-server.log"),
            ));
        }

        let mut cp = Self {
            name: opts.name.clone(),
            dir,
            _tempdir: tempdir,
            url,
            token,
            kubeconfig,
            kubeconfig_path,
            ca_pem: pki.ca_pem,
            procs: Mutex::new(Vec::new()),
            watchdog,
            ready_after: Duration::ZERO,
            namespaces: AtomicU32::new(0),
        };
        let mut procs = procs.into_iter();
        // etcd and the API server first; the others need the API.
        for proc in procs.by_ref().take(2) {
            cp.launch(proc)?;
        }
        cp.wait_apiserver_ready().await?;
        cp.ready_after = began.elapsed();
        for proc in procs {
            cp.launch(proc)?;
        }
        let client = cp.client().await?;
        if !opts.nodes.is_empty() {
            let nodes: Api<Node> = Api::all(client.clone());
            for node in &opts.nodes {
                match nodes
                    .create(&PostParams::default(), &manifests::node(node)?)
                    .await
                {
                    // A reused state directory already has its nodes.
                    Err(kube::Error::Api(e)) if e.code == 409 && persistent => {}
                    other => {
                        other?;
                    }
                }
            }
            let names: Vec<String> = opts.nodes.iter().map(|n| n.name.clone()).collect();
            cp.wait_for("simulated nodes to be Ready", || {
                let nodes = nodes.clone();
                let names = names.clone();
                async move {
                    let list = nodes.list(&ListParams::default()).await?;
                    let ready = list.items.iter().filter(|n| {
                        n.metadata
                            .name
                            .as_ref()
                            .is_some_and(|name| names.contains(name))
                            && node_ready(n)
                    });
                    Ok(ready.count() == names.len())
                }
            })
            .await?;
        }
        if opts.metrics_server {
            apply_yaml(
                &client,
                &manifests::metrics_api(metrics_port),
                "kube-system",
            )
            .await?;
            let services: Api<APIService> = Api::all(client.clone());
            cp.wait_for("the metrics API (metrics-server) to be Available", || {
                let services = services.clone();
                async move {
                    let s = services.get(manifests::METRICS_API_SERVICE).await?;
                    Ok(s.status.and_then(|s| s.conditions).is_some_and(|c| {
                        c.iter()
                            .any(|c| c.type_ == "Available" && c.status == "True")
                    }))
                }
            })
            .await?;
        }
        if opts.controller_manager {
            let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
            cp.wait_for(
                "kube-controller-manager to create the default service account",
                || {
                    let sas = sas.clone();
                    async move { Ok(sas.get_opt("default").await?.is_some()) }
                },
            )
            .await?;
        }
        Ok(cp)
    }

    fn launch(&self, mut proc: Proc) -> Result<(), Error> {
        proc.start(&self.watchdog)?;
        self.procs
            .lock()
            .map_err(|_| Error::Startup("process table poisoned".into()))?
            .push(proc);
        Ok(())
    }

    /// Fails when a component has exited, naming it with the end of its log.
    pub fn check_alive(&self) -> Result<(), Error> {
        let mut procs = self
            .procs
            .lock()
            .map_err(|_| Error::Startup("process table poisoned".into()))?;
        for proc in procs.iter_mut() {
            if let Some(status) = proc.exited() {
                return Err(Error::Exited {
                    component: proc.name,
                    status,
                    log: proc.log.clone(),
                    tail: proc.log_tail(30),
                });
            }
        }
        Ok(())
    }

    /// Polls `check` until it returns true, failing early if a component exits.
    async fn wait_for<F, Fut>(&self, what: &str, mut check: F) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool, kube::Error>>,
    {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::new();
        loop {
            self.check_alive()?;
            match check().await {
                Ok(true) => return Ok(()),
                Ok(false) => last.clear(),
                Err(e) => last = format!("; last error: {e}"),
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    secs: READY_TIMEOUT.as_secs(),
                    detail: last,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_apiserver_ready(&self) -> Result<(), Error> {
        let client = self.client().await?;
        self.wait_for("kube-apiserver /readyz", || {
            let client = client.clone();
            async move {
                let req = http::Request::get("/readyz")
                    .body(Vec::new())
                    .map_err(kube::Error::HttpError)?;
                Ok(client.request_text(req).await? == "ok")
            }
        })
        .await
        .map_err(|e| match e {
            Error::Timeout { what, secs, detail } => Error::Timeout {
                what,
                secs,
                detail: format!(
                    "{detail}\nlast lines of kube-apiserver.log:\n{}",
                    process::log_tail(&self.dir.join("kube-apiserver.log"), 20)
                ),
            },
            other => other,
        })
    }

    /// A new client with the admin token. Create one per test (per tokio runtime).
    pub async fn client(&self) -> Result<Client, Error> {
        let config = self.config().await?;
        Ok(Client::try_from(config)?)
    }

    /// The admin client configuration.
    pub async fn config(&self) -> Result<Config, Error> {
        let kubeconfig = Kubeconfig::from_yaml(&self.kubeconfig)
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Kubeconfig(e.to_string()))
    }

    /// Creates a fresh namespace named `<prefix>-<n>` and returns its name.
    pub async fn namespace(&self, prefix: &str) -> Result<String, Error> {
        let n = self.namespaces.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{n}");
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": { "tartinfra.dev/test": "true" } }
        }))
        .map_err(|e| Error::Startup(e.to_string()))?;
        Api::<Namespace>::all(self.client().await?)
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(name)
    }

    /// Kills the API server (etcd keeps the data), e.g. to test an unreachable cluster.
    pub fn stop_apiserver(&self) -> Result<(), Error> {
        let mut procs = self
            .procs
            .lock()
            .map_err(|_| Error::Startup("process table poisoned".into()))?;
        if let Some(p) = procs.iter_mut().find(|p| p.name == "kube-apiserver") {
            p.stop(&self.watchdog);
        }
        Ok(())
    }

    /// Starts the API server again on the same port and waits until it is ready.
    pub async fn start_apiserver(&self) -> Result<(), Error> {
        {
            let mut procs = self
                .procs
                .lock()
                .map_err(|_| Error::Startup("process table poisoned".into()))?;
            if let Some(p) = procs.iter_mut().find(|p| p.name == "kube-apiserver")
                && p.pid().is_none()
            {
                p.start(&self.watchdog)?;
            }
        }
        self.wait_apiserver_ready().await
    }

    /// The API server URL (`https://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin bearer token (member of system:masters).
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// The cluster CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// An admin kubeconfig, as YAML text.
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The work directory (certificates, logs, etcd data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name given in [`Options`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Time from [`ControlPlane::start`] until the API server answered ready.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Process ids of the running components, by name.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.procs
            .lock()
            .map(|procs| {
                procs
                    .iter()
                    .filter_map(|p| Some((p.name, p.pid()?)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl ControlPlane {
    /// Stops every component, newest first, each with SIGTERM and up to `grace` before
    /// SIGKILL (etcd flushes its data). Dropping afterwards does nothing more.
    pub fn shutdown(&self, grace: Duration) {
        if let Ok(mut procs) = self.procs.lock() {
            for proc in procs.iter_mut().rev() {
                proc.terminate(&self.watchdog, grace);
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Ok(mut procs) = self.procs.lock() {
            for proc in procs.iter_mut().rev() {
                proc.stop(&self.watchdog);
            }
        }
        self.watchdog.fire();
    }
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

static SHARED_APISERVER: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();
static SHARED_CLUSTER: tokio::sync::OnceCell<ControlPlane> = tokio::sync::OnceCell::const_new();

/// The etcd + kube-apiserver control plane shared by the tests of one test binary. Give
/// each test its own namespace ([`ControlPlane::namespace`]) and its own client.
pub async fn shared_apiserver() -> Result<&'static ControlPlane, Error> {
    SHARED_APISERVER
        .get_or_try_init(|| ControlPlane::start(Options::apiserver("shared")))
        .await
}

/// A working cluster (controller-manager, scheduler, one simulated worker) shared by the
/// tests of one test binary.
pub async fn shared_cluster() -> Result<&'static ControlPlane, Error> {
    SHARED_CLUSTER
        .get_or_try_init(|| ControlPlane::start(Options::cluster("shared-cluster")))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports::<8>().expect("ports");
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
        assert!(ports.iter().all(|p| *p > 0));
    }
}
