//! The processes of a control plane, one function per component: how each is started (its
//! binary, flags and log file) from the control plane's [`Layout`] and [`Options`].

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::manifests;
use crate::pki::PkiFiles;
use crate::state::Ports;
use crate::{Binaries, Error, Options, Proc, write_private};

/// Where a control plane's files are and which ports it listens on: what its components'
/// flags are made of.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// The work directory (etcd data, logs, generated configuration).
    pub dir: PathBuf,
    /// The loopback ports.
    pub ports: Ports,
    /// Certificates and keys.
    pub pki: PkiFiles,
    /// The API server's static token file.
    pub tokens: PathBuf,
    /// The admin kubeconfig the other components use.
    pub kubeconfig: PathBuf,
    /// The address every listener binds (127.0.0.1 unless [`crate::OnAddress`]).
    pub address: Ipv4Addr,
}

impl Layout {
    /// The Unix socket of the egress proxy ([`crate::egress`]).
    pub fn egress_socket(&self) -> PathBuf {
        self.dir.join("egress.sock")
    }

    fn log(&self, component: &str) -> PathBuf {
        self.dir.join(format!("{component}.log"))
    }

    fn etcd_url(&self) -> String {
        format!("http://{}:{}", self.address, self.ports.etcd)
    }

    fn kubeconfig_flag(&self) -> String {
        format!("--kubeconfig={}", p(&self.kubeconfig))
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Every component `opts` asks for, in start order: etcd and kube-apiserver first (the
/// others need the API), then the controller-manager, the scheduler, kwok and
/// metrics-server.
pub(crate) fn plan(bins: &Binaries, layout: &Layout, opts: &Options) -> Result<Vec<Proc>, Error> {
    let mut procs = vec![etcd(bins, layout), kube_apiserver(bins, layout, opts)?];
    if opts.controller_manager {
        procs.push(kube_controller_manager(bins, layout, opts));
    }
    if opts.scheduler {
        procs.push(kube_scheduler(bins, layout));
    }
    if !opts.nodes.is_empty() {
        procs.push(kwok(bins, layout, opts)?);
    }
    if opts.metrics_server {
        procs.push(metrics_server(bins, layout));
    }
    Ok(procs)
}

/// A single-member etcd on loopback; fsync is off (test and lab data, not production).
fn etcd(bins: &Binaries, layout: &Layout) -> Proc {
    let client = layout.etcd_url();
    let peer = format!("http://{}:{}", layout.address, layout.ports.peer);
    Proc::new(
        "etcd",
        bins.path("etcd"),
        vec![
            "--name=default".into(),
            format!("--data-dir={}", p(&layout.dir.join("etcd"))),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=default={peer}"),
            "--unsafe-no-fsync=true".into(),
            "--listen-metrics-urls=".into(),
            "--log-level=warn".into(),
        ],
        layout.log("etcd"),
    )
}

/// kube-apiserver with RBAC, the static admin token, service-account tokens and the
/// front-proxy certificates aggregated APIs (metrics-server) need.
fn kube_apiserver(bins: &Binaries, layout: &Layout, opts: &Options) -> Result<Proc, Error> {
    let pki = &layout.pki;
    let mut args = vec![
        format!("--etcd-servers={}", layout.etcd_url()),
        format!("--bind-address={}", layout.address),
        format!("--advertise-address={}", layout.address),
        format!("--secure-port={}", layout.ports.apiserver),
        format!("--tls-cert-file={}", p(&pki.apiserver_cert)),
        format!("--tls-private-key-file={}", p(&pki.apiserver_key)),
        format!("--client-ca-file={}", p(&pki.ca_cert)),
        format!("--token-auth-file={}", p(&layout.tokens)),
        "--authorization-mode=RBAC".into(),
        format!(
            "--enable-bootstrap-token-auth={}",
            opts.on_address.is_some()
        ),
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
    ];
    if !opts.node_addresses.is_empty() {
        let config = layout.dir.join("egress-selector.yaml");
        write_private(
            &config,
            &crate::egress::config_yaml(&layout.egress_socket()),
        )?;
        args.push(format!("--egress-selector-config-file={}", p(&config)));
    }
    Ok(Proc::new(
        "kube-apiserver",
        bins.path("kube-apiserver"),
        args,
        layout.log("kube-apiserver"),
    ))
}

/// kube-controller-manager with room for bursts of Jobs, plus the extra flags in `opts`.
fn kube_controller_manager(bins: &Binaries, layout: &Layout, opts: &Options) -> Proc {
    let mut args = vec![
        layout.kubeconfig_flag(),
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        "--secure-port=0".into(),
        format!("--root-ca-file={}", p(&layout.pki.ca_cert)),
        format!(
            "--service-account-private-key-file={}",
            p(&layout.pki.sa_key)
        ),
        "--use-service-account-credentials=false".into(),
        "--kube-api-qps=500".into(),
        "--kube-api-burst=1000".into(),
        "--concurrent-job-syncs=20".into(),
        "--profiling=false".into(),
    ];
    args.extend(opts.controller_manager_args.iter().cloned());
    Proc::new(
        "kube-controller-manager",
        bins.path("kube-controller-manager"),
        args,
        layout.log("kube-controller-manager"),
    )
}

fn kube_scheduler(bins: &Binaries, layout: &Layout) -> Proc {
    Proc::new(
        "kube-scheduler",
        bins.path("kube-scheduler"),
        vec![
            layout.kubeconfig_flag(),
            "--leader-elect=false".into(),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            "--profiling=false".into(),
        ],
        layout.log("kube-scheduler"),
    )
}

/// kwok managing every node, with the stages of `opts.pods` (and the usage simulation when
/// metrics-server runs) written to `kwok.yaml`, plus the extra documents of `opts`.
fn kwok(bins: &Binaries, layout: &Layout, opts: &Options) -> Result<Proc, Error> {
    let config = layout.dir.join("kwok.yaml");
    let mut text = manifests::kwok_config(&bins.kwok_stages(), opts.pods, opts.metrics_server)?;
    for extra in &opts.kwok_config {
        text.push_str("---\n");
        text.push_str(extra);
        text.push('\n');
    }
    write_private(&config, &text)?;
    let port = layout.ports.kwok;
    Ok(Proc::new(
        "kwok",
        bins.path("kwok"),
        vec![
            layout.kubeconfig_flag(),
            format!("--config={}", p(&config)),
            // With an own address, nodes joined later are simulated too, and only those
            // carrying kwok's annotation (as a kubeadm cluster with kwok would).
            if opts.on_address.is_some() {
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into()
            } else {
                "--manage-all-nodes=true".into()
            },
            format!("--node-ip={}", layout.address),
            format!("--node-port={port}"),
            format!("--server-address={}:{port}", layout.address),
            format!("--cidr={}", opts.pod_cidr),
            "--node-lease-duration-seconds=40".into(),
        ],
        layout.log("kwok"),
    ))
}

/// metrics-server scraping kwok's kubelet endpoints.
fn metrics_server(bins: &Binaries, layout: &Layout) -> Proc {
    let kc = p(&layout.kubeconfig);
    Proc::new(
        "metrics-server",
        bins.path("metrics-server"),
        vec![
            format!("--kubeconfig={kc}"),
            format!("--authentication-kubeconfig={kc}"),
            format!("--authorization-kubeconfig={kc}"),
            format!("--bind-address={}", layout.address),
            format!("--secure-port={}", layout.ports.metrics_server),
            format!("--cert-dir={}", p(&layout.dir.join("metrics-server"))),
            // kwok serves the kubelet endpoints on the node's address and port.
            "--kubelet-preferred-address-types=InternalIP".into(),
            "--kubelet-use-node-status-port".into(),
            "--kubelet-insecure-tls".into(),
            // The smallest resolution metrics-server accepts; it must also exceed
            // the kubelet request timeout (default 10s).
            "--metric-resolution=10s".into(),
            "--kubelet-request-timeout=5s".into(),
        ],
        layout.log("metrics-server"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stand-ins for the binaries (empty executables) and kwok's stage files, and a layout.
    fn fixture(dir: &Path) -> (Binaries, Layout) {
        use std::os::unix::fs::PermissionsExt as _;
        for bin in crate::bins::ALL {
            let path = dir.join(bin);
            std::fs::write(&path, "").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let stages = dir.join("kwok-stages");
        std::fs::create_dir(&stages).expect("stages");
        for stage in [
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-ready.yaml",
            "pod-complete.yaml",
            "pod-delete.yaml",
            "metrics-resource.yaml",
            "usage-from-annotation.yaml",
        ] {
            std::fs::write(stages.join(stage), format!("kind: Stage # {stage}\n")).expect("stage");
        }
        let layout = Layout {
            dir: dir.to_path_buf(),
            ports: Ports {
                etcd: 2379,
                peer: 2380,
                apiserver: 6443,
                kwok: 10247,
                metrics_server: 4443,
            },
            pki: PkiFiles::in_dir(&dir.join("pki"), String::new()),
            tokens: dir.join("tokens.csv"),
            kubeconfig: dir.join("kubeconfig"),
            address: Ipv4Addr::LOCALHOST,
        };
        (Binaries::in_dir(dir.to_path_buf()).expect("bins"), layout)
    }

    fn names(procs: &[Proc]) -> Vec<&'static str> {
        procs.iter().map(|p| p.name).collect()
    }

    fn has(proc: &Proc, arg: &str) -> bool {
        proc.args().iter().any(|a| a == arg)
    }

    #[test]
    fn an_apiserver_tier_is_etcd_and_the_api_server_without_service_account_admission() {
        let dir = tempfile::tempdir().expect("dir");
        let (bins, layout) = fixture(dir.path());
        let procs = plan(&bins, &layout, &Options::apiserver("t")).expect("plan");
        assert_eq!(names(&procs), ["etcd", "kube-apiserver"]);
        assert!(has(&procs[0], "--listen-client-urls=http://127.0.0.1:2379"));
        let apiserver = &procs[1];
        assert!(has(apiserver, "--etcd-servers=http://127.0.0.1:2379"));
        assert!(has(apiserver, "--secure-port=6443"));
        assert!(has(apiserver, "--service-cluster-ip-range=10.96.0.0/16"));
        assert!(
            has(apiserver, "--disable-admission-plugins=ServiceAccount"),
            "nothing would create the default service accounts"
        );
        assert!(!dir.path().join("kwok.yaml").exists(), "no kwok, no config");
        assert!(has(apiserver, "--enable-bootstrap-token-auth=false"));
    }

    #[test]
    fn a_control_plane_on_an_address_binds_there_and_simulates_annotated_nodes_only() {
        let dir = tempfile::tempdir().expect("dir");
        let (bins, mut layout) = fixture(dir.path());
        layout.address = Ipv4Addr::new(127, 0, 0, 9);
        let opts = Options::cluster("t").on_address(layout.address, vec![]);
        let procs = plan(&bins, &layout, &opts).expect("plan");
        assert!(has(&procs[0], "--listen-client-urls=http://127.0.0.9:2379"));
        assert!(has(&procs[1], "--bind-address=127.0.0.9"));
        assert!(has(&procs[1], "--advertise-address=127.0.0.9"));
        assert!(has(&procs[1], "--enable-bootstrap-token-auth=true"));
        let kwok = &procs[4];
        assert!(has(
            kwok,
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake"
        ));
        assert!(!has(kwok, "--manage-all-nodes=true"));
        assert!(has(kwok, "--node-ip=127.0.0.9"));
    }

    #[test]
    fn a_cluster_with_metrics_starts_every_component_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let (bins, layout) = fixture(dir.path());
        let mut opts = Options::cluster("t").with_metrics_server();
        opts.kwok_config.push("kind: PortForward".to_owned());
        let procs = plan(&bins, &layout, &opts).expect("plan");
        assert_eq!(
            names(&procs),
            [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kwok",
                "metrics-server"
            ]
        );
        assert!(has(&procs[1], "--disable-admission-plugins="));
        assert!(
            procs[2].args().ends_with(&opts.controller_manager_args),
            "the extra controller-manager flags come last"
        );
        assert!(has(&procs[4], "--cidr=10.244.0.0/16"));
        assert!(has(&procs[4], "--server-address=127.0.0.1:10247"));
        assert!(has(&procs[5], "--secure-port=4443"));
        let kwok = std::fs::read_to_string(dir.path().join("kwok.yaml")).expect("kwok.yaml");
        for part in [
            "# pod-ready.yaml",
            "# pod-complete.yaml",
            "# usage-from-annotation.yaml",
            "---\nkind: PortForward\n",
        ] {
            assert!(kwok.contains(part), "{part:?} in {kwok}");
        }
    }

    #[test]
    fn a_missing_kwok_stage_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let (bins, layout) = fixture(dir.path());
        std::fs::remove_file(dir.path().join("kwok-stages/pod-ready.yaml")).expect("remove");
        let err = plan(&bins, &layout, &Options::cluster("t"))
            .expect_err("stage missing")
            .to_string();
        assert!(err.contains("pod-ready.yaml"), "{err}");
    }
}
