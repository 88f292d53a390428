//! A running control plane: started component by component ([`crate::components`]), waited
//! for until usable, then handed out as clients; stopped in reverse order on shutdown or drop.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::components::{self, Layout};
use crate::files::kubeconfig_yaml;
use crate::{
    Binaries, Error, Options, Proc, SimNode, Watchdog, apply_yaml, manifests, pki, process, state,
    write_private,
};

/// How long each start-up step may take.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running control plane.
#[derive(Debug)]
pub struct ControlPlane {
    name: String,
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    url: String,
    token: String,
    kubeconfig: String,
    operator_kubeconfig: String,
    kubeconfig_path: PathBuf,
    ca_pem: String,
    procs: Mutex<Vec<Proc>>,
    watchdog: Watchdog,
    ready_after: Duration,
    namespaces: AtomicU32,
    _egress: Option<crate::egress::ConnectProxy>,
}

/// The work directory: `opts.state_dir`, kept, or a fresh temporary one removed on drop.
fn work_dir(opts: &Options) -> Result<(PathBuf, Option<tempfile::TempDir>), Error> {
    if let Some(dir) = &opts.state_dir {
        return Ok((dir.clone(), None));
    }
    let tempdir = tempfile::Builder::new()
        .prefix(&format!("tart-cp-{}-", opts.name))
        .tempdir()
        .map_err(|source| Error::Io {
            context: "creating a temporary directory".to_owned(),
            source,
        })?;
    Ok((tempdir.path().to_path_buf(), Some(tempdir)))
}

/// Loads or creates what the components need in `dir`: token, ports (checked free),
/// certificates, the token file and the admin kubeconfig. Returns the layout and the
/// tokens.
fn prepare(dir: &Path, opts: &Options) -> Result<(Layout, state::State), Error> {
    let pki_dir = dir.join("pki");
    std::fs::create_dir_all(&pki_dir).map_err(|source| Error::Io {
        context: format!("creating {}", pki_dir.display()),
        source,
    })?;
    let (address, fixed, sans) = match &opts.on_address {
        Some(on) => {
            let mut sans = vec![on.address.to_string()];
            sans.extend(on.sans.iter().cloned());
            (on.address, Some(state::Ports::KUBEADM), sans)
        }
        None => (Ipv4Addr::LOCALHOST, None, Vec::new()),
    };
    let mut state = state::State::load_or_create(dir, fixed)?;
    state.ensure_ports_free(&opts.name, address)?;
    let pki = pki::load_or_write(&pki_dir, &sans)?;
    let tokens = dir.join("tokens.csv");
    write_private(
        &tokens,
        &format!(
            "{},admin,admin,system:masters\n{},{user},{user}\n",
            state.token,
            state.operator_token,
            user = crate::OPERATOR_USER
        ),
    )?;
    let layout = Layout {
        dir: dir.to_path_buf(),
        ports: state.ports,
        pki,
        tokens,
        kubeconfig: dir.join("kubeconfig"),
        address,
    };
    Ok((layout, state))
}

impl ControlPlane {
    /// Starts the components `opts` asks for and waits until they are usable: the API server
    /// ready, simulated nodes Ready, the metrics API Available, the controller-manager
    /// creating service accounts.
    pub async fn start(opts: Options) -> Result<Self, Error> {
        let began = Instant::now();
        let bins = Binaries::locate()?;
        let (dir, tempdir) = work_dir(&opts)?;
        let (layout, state) = prepare(&dir, &opts)?;
        let token = state.token;
        let url = format!("https://{}:{}", layout.address, layout.ports.apiserver);
        // On an own address the certificate was made for the address of the first start;
        // `localhost` is in it whatever the address is now.
        let server_name = opts.on_address.as_ref().map(|_| "localhost");
        let kubeconfig = kubeconfig_yaml(&opts.name, &url, &layout.pki.ca_pem, &token, server_name);
        let operator_kubeconfig = kubeconfig_yaml(
            &opts.name,
            &url,
            &layout.pki.ca_pem,
            &state.operator_token,
            server_name,
        );
        write_private(&layout.kubeconfig, &kubeconfig)?;
        let procs = components::plan(&bins, &layout, &opts)?;
        // Only a temporary directory is removed by the watchdog.
        let watchdog = Watchdog::start(tempdir.as_ref().map(|_| dir.as_path()))?;
        let egress = (!opts.node_addresses.is_empty())
            .then(|| {
                crate::egress::ConnectProxy::start(
                    layout.egress_socket(),
                    opts.node_addresses.clone(),
                )
            })
            .transpose()?;
        let mut cp = Self {
            name: opts.name.clone(),
            dir,
            _tempdir: tempdir,
            url,
            token,
            kubeconfig,
            operator_kubeconfig,
            kubeconfig_path: layout.kubeconfig.clone(),
            ca_pem: layout.pki.ca_pem.clone(),
            procs: Mutex::new(Vec::new()),
            watchdog,
            ready_after: Duration::ZERO,
            namespaces: AtomicU32::new(0),
            _egress: egress,
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
            // A reused state directory already has its nodes.
            let reused = opts.state_dir.is_some();
            cp.register_nodes(&client, &opts.nodes, reused).await?;
        }
        if opts.metrics_server {
            cp.register_metrics_api(&client, layout.ports.metrics_server)
                .await?;
        }
        if opts.controller_manager {
            cp.wait_default_service_account(&client).await?;
        }
        Ok(cp)
    }

    /// Creates kwok's Node objects and waits until kwok reports them Ready.
    async fn register_nodes(
        &self,
        client: &Client,
        specs: &[SimNode],
        reused: bool,
    ) -> Result<(), Error> {
        let nodes: Api<Node> = Api::all(client.clone());
        for spec in specs {
            match nodes
                .create(&PostParams::default(), &manifests::node(spec)?)
                .await
            {
                Err(kube::Error::Api(e)) if e.code == 409 && reused => {}
                other => {
                    other?;
                }
            }
        }
        let names: Vec<String> = specs.iter().map(|n| n.name.clone()).collect();
        self.wait_for("simulated nodes to be Ready", || {
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
        .await
    }

    /// Registers metrics-server with the aggregator and waits until its APIService is
    /// Available.
    async fn register_metrics_api(&self, client: &Client, port: u16) -> Result<(), Error> {
        apply_yaml(client, &manifests::metrics_api(port), "kube-system").await?;
        let services: Api<APIService> = Api::all(client.clone());
        self.wait_for("the metrics API (metrics-server) to be Available", || {
            let services = services.clone();
            async move {
                let s = services.get(manifests::METRICS_API_SERVICE).await?;
                Ok(s.status.and_then(|s| s.conditions).is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Available" && c.status == "True")
                }))
            }
        })
        .await
    }

    /// Waits until the controller-manager works: it has created `default/default`.
    async fn wait_default_service_account(&self, client: &Client) -> Result<(), Error> {
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        self.wait_for(
            "kube-controller-manager to create the default service account",
            || {
                let sas = sas.clone();
                async move { Ok(sas.get_opt("default").await?.is_some()) }
            },
        )
        .await
    }

    fn procs(&self) -> Result<MutexGuard<'_, Vec<Proc>>, Error> {
        self.procs.lock().map_err(|_| Error::Poisoned {
            name: self.name.clone(),
        })
    }

    fn launch(&self, mut proc: Proc) -> Result<(), Error> {
        proc.start(&self.watchdog)?;
        self.procs()?.push(proc);
        Ok(())
    }

    /// Fails when a component has exited, naming it with the end of its log.
    pub fn check_alive(&self) -> Result<(), Error> {
        for proc in self.procs()?.iter_mut() {
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
        let kubeconfig = Kubeconfig::from_yaml(&self.kubeconfig)?;
        Ok(Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// Creates a fresh namespace named `<prefix>-<n>` and returns its name.
    pub async fn namespace(&self, prefix: &str) -> Result<String, Error> {
        let n = self.namespaces.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{n}");
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": { "tartinfra.dev/test": "true" } }
        }))
        .map_err(|source| Error::Encode {
            what: format!("namespace {name}"),
            source,
        })?;
        Api::<Namespace>::all(self.client().await?)
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(name)
    }

    /// Kills the API server (etcd keeps the data), e.g. to test an unreachable cluster.
    pub fn stop_apiserver(&self) -> Result<(), Error> {
        if let Some(p) = self
            .procs()?
            .iter_mut()
            .find(|p| p.name == "kube-apiserver")
        {
            p.stop(&self.watchdog);
        }
        Ok(())
    }

    /// Starts the API server again on the same port and waits until it is ready.
    pub async fn start_apiserver(&self) -> Result<(), Error> {
        {
            let mut procs = self.procs()?;
            if let Some(p) = procs.iter_mut().find(|p| p.name == "kube-apiserver")
                && p.pid().is_none()
            {
                p.start(&self.watchdog)?;
            }
        }
        self.wait_apiserver_ready().await
    }

    /// The API server URL (`https://127.0.0.1:<port>`, or `https://<address>:6443`).
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

    /// A kubeconfig of [`crate::OPERATOR_USER`], who is in no group: it can do only what
    /// RBAC grants it (nothing until the lab binds the operator's roles).
    pub fn operator_kubeconfig(&self) -> &str {
        &self.operator_kubeconfig
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
