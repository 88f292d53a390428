//! TEST DOUBLE, NOT SHIPPED. `kubeadm` inside a VM: `init --config`, `token create
//! --print-join-command`, `join`, `reset`. `init` hands the control plane to the kubelet
//! unit (so it outlives the SSH session and comes back on the next boot), then does what
//! kubeadm does against the real API server: the bootstrap token, `cluster-info`, the
//! RBAC joining nodes need, `admin.conf`. `join` really discovers the cluster: the
//! endpoint resolved through the VM's `/etc/hosts`, the CA pinned by hash, the token
//! checked by the API server; the node it registers is simulated by kwok.
//!
//! Shortcuts, on purpose: credentials are bearer tokens (the admin token of the control
//! plane; the bootstrap token in `kubelet.conf`), not client certificates; there is no
//! CSR flow and no JWS signing of `cluster-info` — an unknown token is reported with
//! kubeadm's JWS message.

pub mod config;

use serde::Deserialize as _;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::kubelet::{self, APISERVER_MANIFEST, ControlPlaneSpec};
use super::{GuestInfo, record, state_path, systemctl};

const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";
const CA_CRT: &str = "/etc/kubernetes/pki/ca.crt";
const VERSION: &str = "v1.33.0";
const BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// A failed phase, printed as kubeadm prints it.
struct PhaseError {
    phase: &'static str,
    message: String,
}

fn fail(phase: &'static str, message: impl Into<String>) -> PhaseError {
    PhaseError {
        phase,
        message: message.into(),
    }
}

fn env_secs(var: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// The `kubeadm` command line. Returns the exit code.
pub async fn main(args: &[String]) -> i32 {
    record("kubeadm", args);
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["version", "-o", "short"] | ["version", "--output=short"] | ["version", "-o=short"] => {
            println!("{VERSION}");
            return 0;
        }
        ["version", ..] => {
            println!(
                "kubeadm version: &version.Info{{Major:\"1\", Minor:\"33\", GitVersion:\"{VERSION}\"}} (tart-double)"
            );
            return 0;
        }
        ["init", rest @ ..] => init(rest).await,
        ["join", rest @ ..] => join(rest).await,
        ["token", "create", rest @ ..] => token_create(rest).await,
        ["reset", rest @ ..] => reset(rest),
        _ => {
            eprintln!(
                "kubeadm (tart-double): supported: init --config, join, token create --print-join-command, reset [-f], version"
            );
            return 1;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "error execution phase {}: {}\nTo see the stack trace of this error execute with --v=5 or higher",
                e.phase, e.message
            );
            1
        }
    }
}

/// `--flag value` or `--flag=value`.
fn flag(args: &[&str], name: &str) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == name {
            args.get(i + 1).map(|v| (*v).to_owned())
        } else {
            a.strip_prefix(name)
                .and_then(|v| v.strip_prefix('='))
                .map(str::to_owned)
        }
    })
}

fn positional<'a>(args: &[&'a str], with_values: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a.starts_with('-') {
            skip = with_values.contains(a);
        } else {
            out.push(*a);
        }
    }
    out
}

fn write(path: &str, text: &str) -> Result<(), String> {
    if let Some(parent) = Path::new(path).parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    local_control_plane::write_private(Path::new(path), text).map_err(|e| e.to_string())
}

fn random_token() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 22];
    crate::home::random_bytes(&mut bytes).map_err(|e| e.to_string())?;
    let s: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Ok(format!("{}.{}", &s[..6], &s[6..]))
}

async fn client_from(kubeconfig: &str) -> Result<Client, String> {
    let kc = Kubeconfig::from_yaml(kubeconfig).map_err(|e| e.to_string())?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Client::try_from(config).map_err(|e| e.to_string())
}

/// The admin client of the local control plane (its own kubeconfig, the VM's address).
async fn local_admin() -> Result<Client, String> {
    let path = kubelet::control_plane_dir().join("kubeconfig");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    client_from(&text).await
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn wait_node_ready(client: &Client, name: &str, timeout: Duration) -> Result<(), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let last = match nodes.get_opt(name).await {
            Ok(Some(n)) if node_ready(&n) => return Ok(()),
            Ok(_) => format!("node {name} is not Ready yet"),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn init(args: &[&str]) -> Result<(), PhaseError> {
    let cfg = match flag(args, "--config") {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                fail(
                    "preflight",
                    format!("unable to read config from \"{path}\": {e}"),
                )
            })?;
            config::parse(&text).map_err(|e| fail("preflight", e))?
        }
        None => config::InitConfig::default(),
    };
    let info = super::info().map_err(|e| fail("preflight", e))?;
    println!(
        "[init] Using Kubernetes version: {}",
        cfg.kubernetes_version.as_deref().unwrap_or(VERSION)
    );
    println!("[preflight] Running pre-flight checks");
    let ignore = flag(args, "--ignore-preflight-errors")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if Path::new(APISERVER_MANIFEST).exists()
        && !ignore.contains("all")
        && !ignore.contains("fileavailable")
    {
        return Err(fail(
            "preflight",
            format!(
                "[preflight] Some fatal errors occurred:\n\t[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: {APISERVER_MANIFEST} already exists\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`"
            ),
        ));
    }
    let spec = spec_of(&cfg, &info).map_err(|e| fail("preflight", e))?;
    let json = serde_json::to_string_pretty(&spec).map_err(|e| fail("preflight", e.to_string()))?;
    write(
        &state_path("control-plane.json").display().to_string(),
        &json,
    )
    .map_err(|e| fail("control-plane", e))?;
    write(APISERVER_MANIFEST, &apiserver_manifest(&spec, &info))
        .map_err(|e| fail("control-plane", e))?;
    println!("[control-plane] Creating static Pod manifest for \"kube-apiserver\"");
    println!("[kubelet-start] Starting the kubelet");
    systemctl::enable("kubelet.service").map_err(|e| fail("kubelet-start", e))?;
    systemctl::stop("kubelet.service").map_err(|e| fail("kubelet-start", e))?;
    systemctl::start("kubelet.service").map_err(|e| fail("kubelet-start", e))?;
    println!(
        "[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory \"/etc/kubernetes/manifests\""
    );
    let began = Instant::now();
    let client = wait_control_plane(&spec, env_secs("TART_DOUBLE_INIT_TIMEOUT", 240))
        .await
        .map_err(|e| fail("wait-control-plane", e))?;
    println!(
        "[api-check] The API server is healthy after {:.3}s",
        began.elapsed().as_secs_f64()
    );
    let ca_pem = std::fs::read_to_string(kubelet::control_plane_dir().join("pki/ca.crt"))
        .map_err(|e| fail("upload-config", e.to_string()))?;
    let admin_token = admin_token().map_err(|e| fail("kubeconfig", e))?;
    let url = format!("https://{}:{}", spec.endpoint_host, spec.endpoint_port);
    write(CA_CRT, &ca_pem).map_err(|e| fail("certs", e))?;
    let admin =
        local_control_plane::kubeconfig_yaml(&spec.cluster_name, &url, &ca_pem, &admin_token, None);
    write(ADMIN_CONF, &admin).map_err(|e| fail("kubeconfig", e))?;
    println!("[kubeconfig] Writing \"admin.conf\" kubeconfig file");
    bootstrap_rbac(&client, &spec, &ca_pem)
        .await
        .map_err(|e| fail("bootstrap-token", e))?;
    let token = match cfg.tokens.first() {
        Some(t) => t.clone(),
        None => random_token().map_err(|e| fail("bootstrap-token", e))?,
    };
    create_token(&client, &token)
        .await
        .map_err(|e| fail("bootstrap-token", e))?;
    println!("[bootstrap-token] Using token: {token}");
    let hash = config::ca_cert_hash(&ca_pem).map_err(|e| fail("bootstrap-token", e))?;
    println!(
        "\nYour Kubernetes control-plane has initialized successfully!\n\nTo start using your cluster, you need to run the following as a regular user:\n\n  mkdir -p $HOME/.kube\n  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config\n  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n\nAlternatively, if you are the root user, you can run:\n\n  export KUBECONFIG=/etc/kubernetes/admin.conf\n\nThen you can join any number of worker nodes by running the following on each as root:\n\n{}",
        join_command(&spec, &token, &hash)
    );
    Ok(())
}

fn join_command(spec: &ControlPlaneSpec, token: &str, hash: &str) -> String {
    format!(
        "kubeadm join {}:{} --token {token} \\\n\t--discovery-token-ca-cert-hash {hash} ",
        spec.endpoint_host, spec.endpoint_port
    )
}

fn spec_of(cfg: &config::InitConfig, info: &GuestInfo) -> Result<ControlPlaneSpec, String> {
    let endpoint = cfg
        .control_plane_endpoint
        .clone()
        .unwrap_or_else(|| info.ip.to_string());
    let (host, port) = config::split_endpoint(&endpoint, cfg.bind_port)?;
    Ok(ControlPlaneSpec {
        cluster_name: cfg.cluster_name.clone(),
        endpoint_host: host,
        endpoint_port: port,
        sans: cfg.cert_sans.clone(),
        service_subnet: cfg.service_subnet.clone(),
        pod_subnet: cfg.pod_subnet.clone(),
        node_name: cfg.node_name.clone().unwrap_or_else(|| info.name.clone()),
    })
}

fn apiserver_manifest(spec: &ControlPlaneSpec, info: &GuestInfo) -> String {
    format!(
        "# Written by the kubeadm TEST DOUBLE (tart-double): the kubelet double runs a real\n# kube-apiserver from TART_INFRA_KUBE_BINS with these settings.\napiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n  annotations:\n    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: {}:6443\nspec:\n  hostNetwork: true\n  containers:\n  - name: kube-apiserver\n    command:\n    - kube-apiserver\n    - --secure-port=6443\n    - --service-cluster-ip-range={}\n",
        info.ip, spec.service_subnet
    )
}

fn admin_token() -> Result<String, String> {
    let path = kubelet::control_plane_dir().join("tokens.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .next()
        .and_then(|l| l.split(',').next())
        .map(str::to_owned)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{} has no token", path.display()))
}

async fn wait_control_plane(spec: &ControlPlaneSpec, timeout: Duration) -> Result<Client, String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(client) = local_admin().await {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match wait_node_ready(
                &client,
                &spec.node_name,
                remaining.min(Duration::from_secs(5)),
            )
            .await
            {
                Ok(()) => return Ok(client),
                Err(e) => last = e,
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let log = local_control_plane::log_tail(&state_path("log/kubelet.service.log"), 15);
    Err(format!(
        "the control plane did not come up within {} s ({last}); kubelet log:\n{log}",
        timeout.as_secs()
    ))
}

async fn bootstrap_rbac(
    client: &Client,
    spec: &ControlPlaneSpec,
    ca_pem: &str,
) -> Result<(), String> {
    let url = format!("https://{}:{}", spec.endpoint_host, spec.endpoint_port);
    let kubeconfig = cluster_info_kubeconfig(&url, ca_pem);
    let indented: String = kubeconfig.lines().map(|l| format!("    {l}\n")).collect();
    let yaml = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: kube-public
data:
  kubeconfig: |
{indented}---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: kubeadm:bootstrap-signer-clusterinfo
  namespace: kube-public
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [cluster-info]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: kubeadm:bootstrap-signer-clusterinfo
  namespace: kube-public
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: kubeadm:bootstrap-signer-clusterinfo
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: system:anonymous
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: tart-double:node-bootstrapper
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tart-double:node-bootstrapper
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: tart-double:node-bootstrapper
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: {BOOTSTRAP_GROUP}
"#
    );
    for ns in ["kube-public", "kube-system"] {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let obj = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))
            .map_err(|e| e.to_string())?;
        match namespaces.create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    local_control_plane::apply_yaml(client, &yaml, "kube-public")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn cluster_info_kubeconfig(url: &str, ca_pem: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    certificate-authority-data: {ca}\n    server: {url}\ncontexts: []\nusers: []\n"
    )
}

async fn create_token(client: &Client, token: &str) -> Result<(), String> {
    let (id, secret) = token.split_once('.').ok_or("bad token")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let obj: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("bootstrap-token-{id}"), "namespace": "kube-system" },
        "type": "bootstrap.kubernetes.io/token",
        "stringData": {
            "token-id": id,
            "token-secret": secret,
            "expiration": crate::format::iso8601(now + 86_400),
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": BOOTSTRAP_GROUP,
            "description": "created by the kubeadm test double",
        },
    }))
    .map_err(|e| e.to_string())?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    match secrets.create(&PostParams::default(), &obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn token_create(args: &[&str]) -> Result<(), PhaseError> {
    let text = std::fs::read_to_string(state_path("control-plane.json")).map_err(|_| {
        fail(
            "token",
            "this node is not a control-plane node initialised by kubeadm init",
        )
    })?;
    let spec: ControlPlaneSpec =
        serde_json::from_str(&text).map_err(|e| fail("token", e.to_string()))?;
    let client = local_admin().await.map_err(|e| fail("token", e))?;
    let token = match positional(
        args,
        &[
            "--ttl",
            "--description",
            "--usages",
            "--groups",
            "--config",
            "--kubeconfig",
        ],
    )
    .first()
    {
        Some(t) if config::valid_token(t) => (*t).to_owned(),
        Some(t) => {
            return Err(fail(
                "token",
                format!(
                    "the bootstrap token \"{t}\" was not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\""
                ),
            ));
        }
        None => random_token().map_err(|e| fail("token", e))?,
    };
    create_token(&client, &token).await.map_err(|e| {
        fail(
            "token",
            format!(
                "failed to create or update bootstrap token with name bootstrap-token-{}: {e}",
                &token[..6]
            ),
        )
    })?;
    if args.contains(&"--print-join-command") {
        let ca =
            std::fs::read_to_string(CA_CRT).map_err(|e| fail("token", format!("{CA_CRT}: {e}")))?;
        let hash = config::ca_cert_hash(&ca).map_err(|e| fail("token", e))?;
        println!(
            "{}",
            join_command(&spec, &token, &hash).replace(" \\\n\t", " ")
        );
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `kubeadm join --config <file>`: the JoinConfiguration's discovery and node name as the
/// equivalent flags (kubeadm's own precedence: the file replaces the flags).
fn join_config_args(path: &str) -> Result<Vec<String>, PhaseError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            "preflight",
            format!("unable to read config from \"{path}\": {e}"),
        )
    })?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| fail("preflight", format!("{path}: {e}")))?;
        if value.get("kind").and_then(serde_yaml::Value::as_str) != Some("JoinConfiguration") {
            continue;
        }
        let bt = &value["discovery"]["bootstrapToken"];
        if let Some(endpoint) = bt["apiServerEndpoint"].as_str() {
            out.push(endpoint.to_owned());
        }
        if let Some(token) = bt["token"].as_str() {
            out.extend(["--token".to_owned(), token.to_owned()]);
        }
        for hash in bt["caCertHashes"].as_sequence().into_iter().flatten() {
            if let Some(h) = hash.as_str() {
                out.extend(["--discovery-token-ca-cert-hash".to_owned(), h.to_owned()]);
            }
        }
        if bt["unsafeSkipCAVerification"].as_bool() == Some(true) {
            out.push("--discovery-token-unsafe-skip-ca-verification".to_owned());
        }
        if let Some(name) = value["nodeRegistration"]["name"].as_str() {
            out.extend(["--node-name".to_owned(), name.to_owned()]);
        }
    }
    Ok(out)
}

async fn join(args: &[&str]) -> Result<(), PhaseError> {
    if let Some(path) = flag(args, "--config") {
        let from_file = join_config_args(&path)?;
        let words: Vec<&str> = from_file.iter().map(String::as_str).collect();
        return join_flags(&words).await;
    }
    join_flags(args).await
}

async fn join_flags(args: &[&str]) -> Result<(), PhaseError> {
    let with_values = [
        "--token",
        "--discovery-token",
        "--discovery-token-ca-cert-hash",
        "--node-name",
        "--cri-socket",
        "--ignore-preflight-errors",
        "--config",
        "--v",
    ];
    let endpoint = positional(args, &with_values)
        .first()
        .map(|s| (*s).to_owned())
        .ok_or_else(|| {
            fail(
                "preflight",
                "discovery: Invalid value: \"\": bootstrapToken or file must be set",
            )
        })?;
    if args.contains(&"--control-plane") {
        return Err(fail(
            "preflight",
            "the kubeadm test double joins worker nodes only (no --control-plane)",
        ));
    }
    let token = flag(args, "--token").or_else(|| flag(args, "--discovery-token")).ok_or_else(|| fail("preflight", "discovery: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"))?;
    if !config::valid_token(&token) {
        return Err(fail(
            "preflight",
            format!(
                "the bootstrap token \"{token}\" was not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\""
            ),
        ));
    }
    let pins: Vec<String> = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            if *a == "--discovery-token-ca-cert-hash" {
                args.get(i + 1).map(|v| (*v).to_owned())
            } else {
                a.strip_prefix("--discovery-token-ca-cert-hash=")
                    .map(str::to_owned)
            }
        })
        .collect();
    let skip_ca = args.contains(&"--discovery-token-unsafe-skip-ca-verification");
    if pins.is_empty() && !skip_ca {
        return Err(fail(
            "preflight",
            "discovery: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue",
        ));
    }
    let info = super::info().map_err(|e| fail("preflight", e))?;
    let node_name = flag(args, "--node-name").unwrap_or_else(|| info.name.clone());
    println!("[preflight] Running pre-flight checks");
    for (path, check) in [
        (KUBELET_CONF, "FileAvailable--etc-kubernetes-kubelet.conf"),
        (CA_CRT, "FileAvailable--etc-kubernetes-pki-ca.crt"),
    ] {
        if Path::new(path).exists() {
            return Err(fail(
                "preflight",
                format!(
                    "[preflight] Some fatal errors occurred:\n\t[ERROR {check}]: {path} already exists\n[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`"
                ),
            ));
        }
    }
    let (host, port) = config::split_endpoint(&endpoint, 6443).map_err(|e| fail("preflight", e))?;
    let discovery_url = format!(
        "https://{host}:{port}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s"
    );
    let id = fail_discovery(&discovery_url);
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let ip = config::hosts_lookup(&hosts, &host)
        .ok_or_else(|| id(format!("dial tcp: lookup {host}: no such host")))?;
    let url = format!("https://{ip}:{port}");
    // Discovery: cluster-info, read without trusting the server yet.
    let mut insecure = Config::new(url.parse().map_err(|e| id(format!("{e}")))?);
    insecure.accept_invalid_certs = true;
    insecure.connect_timeout = Some(Duration::from_secs(5));
    let anonymous = Client::try_from(insecure).map_err(|e| id(e.to_string()))?;
    let timeout = env_secs("TART_DOUBLE_JOIN_TIMEOUT", 20);
    let deadline = Instant::now() + timeout;
    let cm = loop {
        match Api::<ConfigMap>::namespaced(anonymous.clone(), "kube-public")
            .get("cluster-info")
            .await
        {
            Ok(cm) => break cm,
            Err(e) if Instant::now() > deadline => {
                return Err(id(format!("dial tcp {ip}:{port}: {e}")));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    let kubeconfig = cm
        .data
        .as_ref()
        .and_then(|d| d.get("kubeconfig"))
        .ok_or_else(|| id("the cluster-info ConfigMap has no kubeconfig".to_owned()))?;
    let ca_pem = ca_of(kubeconfig).map_err(&id)?;
    let actual = config::ca_cert_hash(&ca_pem).map_err(&id)?;
    if !skip_ca && !pins.iter().any(|p| p.eq_ignore_ascii_case(&actual)) {
        return Err(id(format!(
            "cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"{actual}\" are pinned"
        )));
    }
    // Now the CA is trusted: the token must be one the API server accepts.
    let client = client_from(&local_control_plane::kubeconfig_yaml(
        "join",
        &url,
        &ca_pem,
        &token,
        Some(&host),
    ))
    .await
    .map_err(&id)?;
    let nodes: Api<Node> = Api::all(client.clone());
    let existing = match nodes.get_opt(&node_name).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 401 => {
            return Err(id(format!(
                "could not find a JWS signature in the cluster-info ConfigMap for token ID \"{}\"",
                &token[..6]
            )));
        }
        Err(e) => return Err(id(e.to_string())),
    };
    if let Some(n) = existing {
        let status = if node_ready(&n) { "Ready" } else { "NotReady" };
        return Err(fail(
            "kubelet-start",
            format!(
                "a Node with name \"{node_name}\" and status \"{status}\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node"
            ),
        ));
    }
    println!(
        "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\""
    );
    write("/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n# tart-double: kwok on the control plane simulates this node\n").map_err(|e| fail("kubelet-start", e))?;
    let spec = local_control_plane::SimNode::worker(
        &node_name,
        &info.cpu.to_string(),
        &format!("{}Mi", info.memory_mib),
    );
    let node = local_control_plane::node_object(&spec)
        .map_err(|e| fail("kubelet-start", e.to_string()))?;
    nodes
        .create(&PostParams::default(), &node)
        .await
        .map_err(|e| fail("kubelet-start", e.to_string()))?;
    println!("[kubelet-start] Starting the kubelet");
    let _ = systemctl::enable("kubelet.service");
    let _ = systemctl::start("kubelet.service");
    println!("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap");
    wait_node_ready(&client, &node_name, Duration::from_secs(60))
        .await
        .map_err(|e| fail("kubelet-wait-bootstrap", e))?;
    write(CA_CRT, &ca_pem).map_err(|e| fail("kubelet-start", e))?;
    let kubelet_conf = local_control_plane::kubeconfig_yaml(
        "kubernetes",
        &format!("https://{host}:{port}"),
        &ca_pem,
        &token,
        None,
    );
    write(KUBELET_CONF, &kubelet_conf).map_err(|e| fail("kubelet-start", e))?;
    println!(
        "\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun 'kubectl get nodes' on the control-plane to see this node join the cluster.\n"
    );
    Ok(())
}

fn fail_discovery(url: &str) -> impl Fn(String) -> PhaseError {
    let url = url.to_owned();
    move |detail| {
        fail(
            "preflight",
            format!("couldn't validate the identity of the API Server: Get \"{url}\": {detail}"),
        )
    }
}

fn ca_of(kubeconfig: &str) -> Result<String, String> {
    use base64::Engine as _;
    let kc = Kubeconfig::from_yaml(kubeconfig).map_err(|e| e.to_string())?;
    let data = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.certificate_authority_data.clone())
        .ok_or("the cluster-info kubeconfig has no certificate-authority-data")?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| e.to_string())?;
    String::from_utf8(pem).map_err(|e| e.to_string())
}

fn reset(args: &[&str]) -> Result<(), PhaseError> {
    if !args.iter().any(|a| *a == "-f" || *a == "--force") {
        use std::io::BufRead as _;
        print!("[reset] Are you sure you want to proceed? [y/N]: ");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if !line.trim().eq_ignore_ascii_case("y") {
            return Err(fail(
                "preflight",
                "won't proceed; the user didn't answer (Y|y) in order to continue",
            ));
        }
    }
    println!("[preflight] Running pre-flight checks");
    println!("[reset] Stopping the kubelet service");
    let _ = systemctl::stop("kubelet.service");
    println!(
        "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]"
    );
    for dir in [
        "/etc/kubernetes/manifests",
        "/etc/kubernetes/pki",
        "/var/lib/kubelet",
        "/var/lib/etcd",
    ] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    for f in [ADMIN_CONF, KUBELET_CONF, "/etc/kubernetes/super-admin.conf"] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(kubelet::control_plane_dir());
    let _ = std::fs::remove_file(state_path("control-plane.json"));
    println!("[reset] Deleting files: [{ADMIN_CONF} {KUBELET_CONF}]");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_configuration_becomes_the_join_flags() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("join.yaml");
        // What node_bootstrap::kubeadm::render_join_config writes.
        std::fs::write(
            &path,
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    apiServerEndpoint: api.dev.tart-infra.internal:6443\n    token: abcdef.0123456789abcdef\n    caCertHashes:\n    - sha256:aa\nnodeRegistration:\n  name: dev-worker1\n  criSocket: unix:///var/run/containerd/containerd.sock\n",
        )
        .expect("write");
        let Ok(args) = join_config_args(path.to_str().expect("utf-8")) else {
            panic!("the JoinConfiguration does not parse");
        };
        assert_eq!(
            args,
            [
                "api.dev.tart-infra.internal:6443",
                "--token",
                "abcdef.0123456789abcdef",
                "--discovery-token-ca-cert-hash",
                "sha256:aa",
                "--node-name",
                "dev-worker1"
            ]
        );
        assert!(join_config_args("/nonexistent/join.yaml").is_err());
    }

    #[test]
    fn flags_and_positionals() {
        let args = [
            "api.x:6443",
            "--token",
            "t",
            "--node-name=n",
            "--discovery-token-ca-cert-hash",
            "sha256:a",
        ];
        assert_eq!(flag(&args, "--token").as_deref(), Some("t"));
        assert_eq!(flag(&args, "--node-name").as_deref(), Some("n"));
        assert_eq!(flag(&args, "--config"), None);
        assert_eq!(
            positional(&args, &["--token", "--discovery-token-ca-cert-hash"]),
            ["api.x:6443"]
        );
    }

    #[test]
    fn tokens_and_join_commands() {
        let t = random_token().expect("token");
        assert!(config::valid_token(&t), "{t}");
        let spec = ControlPlaneSpec {
            cluster_name: "dev".into(),
            endpoint_host: "api.dev".into(),
            endpoint_port: 6443,
            sans: vec![],
            service_subnet: "10.96.0.0/12".into(),
            pod_subnet: "10.244.0.0/16".into(),
            node_name: "cp".into(),
        };
        assert_eq!(
            join_command(&spec, "abcdef.0123456789abcdef", "sha256:00"),
            "kubeadm join api.dev:6443 --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash sha256:00 "
        );
    }
}
