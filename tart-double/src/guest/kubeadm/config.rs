//! TEST DOUBLE, NOT SHIPPED. The parts of kubeadm's `InitConfiguration` and
//! `ClusterConfiguration` (v1beta3/v1beta4) the double acts on, and the pure helpers of
//! discovery: endpoint splitting, `/etc/hosts` lookup, token syntax, CA pin hashing.

use std::net::Ipv4Addr;

use serde::Deserialize;

/// What `kubeadm init --config` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitConfig {
    pub cluster_name: String,
    /// `controlPlaneEndpoint`, `host[:port]`.
    pub control_plane_endpoint: Option<String>,
    pub cert_sans: Vec<String>,
    pub pod_subnet: String,
    pub service_subnet: String,
    pub advertise_address: Option<String>,
    pub bind_port: u16,
    pub node_name: Option<String>,
    pub tokens: Vec<String>,
    pub kubernetes_version: Option<String>,
}

impl Default for InitConfig {
    fn default() -> Self {
        Self {
            cluster_name: "kubernetes".to_owned(),
            control_plane_endpoint: None,
            cert_sans: Vec::new(),
            pod_subnet: "10.244.0.0/16".to_owned(),
            service_subnet: "10.96.0.0/12".to_owned(),
            advertise_address: None,
            bind_port: 6443,
            node_name: None,
            tokens: Vec::new(),
            kubernetes_version: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Doc {
    api_version: String,
    kind: String,
    // InitConfiguration
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: Option<Endpoint>,
    node_registration: Option<NodeRegistration>,
    bootstrap_tokens: Vec<Token>,
    // ClusterConfiguration
    cluster_name: Option<String>,
    control_plane_endpoint: Option<String>,
    kubernetes_version: Option<String>,
    api_server: Option<ApiServer>,
    networking: Option<Networking>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Endpoint {
    advertise_address: Option<String>,
    bind_port: Option<u16>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeRegistration {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Token {
    token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ApiServer {
    #[serde(rename = "certSANs")]
    cert_sans: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Networking {
    pod_subnet: Option<String>,
    service_subnet: Option<String>,
}

/// Parses a kubeadm config file (several YAML documents). Other kinds kubeadm accepts
/// (JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration, ...) are skipped.
pub fn parse(text: &str) -> Result<InitConfig, String> {
    let mut cfg = InitConfig::default();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| format!("couldn't parse kubeadm config: {e}"))?;
        if value.is_null() {
            continue;
        }
        let doc: Doc = serde_yaml::from_value(value)
            .map_err(|e| format!("couldn't parse kubeadm config: {e}"))?;
        let kubeadm = doc.api_version.starts_with("kubeadm.k8s.io/");
        match doc.kind.as_str() {
            "InitConfiguration" | "ClusterConfiguration" if !kubeadm => {
                return Err(format!(
                    "no kind \"{}\" is registered for version \"{}\"",
                    doc.kind, doc.api_version
                ));
            }
            "InitConfiguration" => {
                if let Some(ep) = doc.local_api_endpoint {
                    cfg.advertise_address = ep.advertise_address.or(cfg.advertise_address);
                    cfg.bind_port = ep.bind_port.unwrap_or(cfg.bind_port);
                }
                if let Some(name) = doc.node_registration.and_then(|n| n.name) {
                    cfg.node_name = Some(name);
                }
                cfg.tokens
                    .extend(doc.bootstrap_tokens.into_iter().filter_map(|t| t.token));
            }
            "ClusterConfiguration" => {
                cfg.cluster_name = doc.cluster_name.unwrap_or(cfg.cluster_name);
                cfg.control_plane_endpoint = doc.control_plane_endpoint.filter(|e| !e.is_empty());
                cfg.kubernetes_version = doc.kubernetes_version;
                if let Some(api) = doc.api_server {
                    cfg.cert_sans = api.cert_sans;
                }
                if let Some(net) = doc.networking {
                    cfg.pod_subnet = net.pod_subnet.unwrap_or(cfg.pod_subnet);
                    cfg.service_subnet = net.service_subnet.unwrap_or(cfg.service_subnet);
                }
            }
            "" => return Err("couldn't parse kubeadm config: a document has no kind".to_owned()),
            _ => {}
        }
    }
    for t in &cfg.tokens {
        if !valid_token(t) {
            return Err(format!(
                "the bootstrap token \"{t}\" was not of the form \"[a-z0-9]{{6}}.[a-z0-9]{{16}}\""
            ));
        }
    }
    Ok(cfg)
}

/// A `JoinConfiguration` (v1beta3/v1beta4) as the `kubeadm join` flags it stands for:
/// `<apiServerEndpoint> --token T --discovery-token-ca-cert-hash H... [--node-name N]
/// [--discovery-token-unsafe-skip-ca-verification]`.
pub fn join_args(text: &str) -> Result<Vec<String>, String> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct JoinDoc {
        api_version: String,
        kind: String,
        discovery: Discovery,
        node_registration: NodeRegistration,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Discovery {
        bootstrap_token: Option<BootstrapToken>,
        tls_bootstrap_token: Option<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct BootstrapToken {
        api_server_endpoint: String,
        token: String,
        ca_cert_hashes: Vec<String>,
        unsafe_skip_ca_verification: bool,
    }
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|e| format!("couldn't parse kubeadm config: {e}"))?;
        let doc: JoinDoc = serde_yaml::from_value(value)
            .map_err(|e| format!("couldn't parse kubeadm config: {e}"))?;
        if doc.kind != "JoinConfiguration" {
            continue;
        }
        if !doc.api_version.starts_with("kubeadm.k8s.io/") {
            return Err(format!(
                "no kind \"JoinConfiguration\" is registered for version \"{}\"",
                doc.api_version
            ));
        }
        let bt = doc
            .discovery
            .bootstrap_token
            .ok_or("discovery: Invalid value: \"\": bootstrapToken or file must be set")?;
        let token = doc.discovery.tls_bootstrap_token.unwrap_or(bt.token);
        let mut args = vec![bt.api_server_endpoint, "--token".to_owned(), token];
        for hash in bt.ca_cert_hashes {
            args.extend(["--discovery-token-ca-cert-hash".to_owned(), hash]);
        }
        if bt.unsafe_skip_ca_verification {
            args.push("--discovery-token-unsafe-skip-ca-verification".to_owned());
        }
        if let Some(name) = doc.node_registration.name {
            args.extend(["--node-name".to_owned(), name]);
        }
        return Ok(args);
    }
    Err("couldn't parse kubeadm config: no JoinConfiguration in it".to_owned())
}

/// `host[:port]` → host and port (`default_port` when none).
pub fn split_endpoint(endpoint: &str, default_port: u16) -> Result<(String, u16), String> {
    let endpoint = endpoint.trim().trim_start_matches("https://");
    match endpoint.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => port
            .parse()
            .map(|p| (host.to_owned(), p))
            .map_err(|_| format!("invalid port {port:?} in endpoint {endpoint:?}")),
        Some(_) => Err(format!("invalid endpoint {endpoint:?}")),
        None if endpoint.is_empty() => Err("the endpoint is empty".to_owned()),
        None => Ok((endpoint.to_owned(), default_port)),
    }
}

/// Looks `name` up in an `/etc/hosts` text (an IPv4 literal is itself).
pub fn hosts_lookup(hosts: &str, name: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = name.parse() {
        return Some(ip);
    }
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let ip: Ipv4Addr = words.next()?.parse().ok()?;
        words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
    })
}

/// Whether `t` is a bootstrap token: `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn valid_token(t: &str) -> bool {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    matches!(t.split_once('.'), Some((id, secret)) if ok(id, 6) && ok(secret, 16))
}

/// The DER of the first certificate in a PEM text.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err("no certificate in the PEM text".to_owned());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| format!("bad PEM: {e}"))
}

/// kubeadm's CA pin: `sha256:` + hex SHA-256 of the certificate's SubjectPublicKeyInfo.
pub fn ca_cert_hash(pem: &str) -> Result<String, String> {
    use sha2::Digest as _;
    let der = pem_to_der(pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| format!("bad CA certificate: {e}"))?;
    let digest = sha2::Sha256::digest(cert.tbs_certificate.subject_pki.raw);
    Ok(format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
localAPIEndpoint:
  advertiseAddress: 192.168.64.5
  bindPort: 6443
nodeRegistration:
  name: dev-cp-0
  criSocket: unix:///run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: dev
kubernetesVersion: v1.33.2
controlPlaneEndpoint: api.dev.tart-infra.internal:6443
apiServer:
  certSANs: [api.dev.tart-infra.internal, 192.168.64.5]
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
"#;

    #[test]
    fn parses_what_the_bootstrap_scripts_write() {
        let c = parse(CONFIG).expect("parse");
        assert_eq!(c.cluster_name, "dev");
        assert_eq!(
            c.control_plane_endpoint.as_deref(),
            Some("api.dev.tart-infra.internal:6443")
        );
        assert_eq!(c.cert_sans, ["api.dev.tart-infra.internal", "192.168.64.5"]);
        assert_eq!(c.pod_subnet, "10.244.0.0/16");
        assert_eq!(c.advertise_address.as_deref(), Some("192.168.64.5"));
        assert_eq!(c.node_name.as_deref(), Some("dev-cp-0"));
        assert_eq!(c.tokens, ["abcdef.0123456789abcdef"]);
        assert_eq!(parse("").expect("empty"), InitConfig::default());
    }

    /// What node-bootstrap's `render_join_config` writes (kubeadm v1beta4).
    #[test]
    fn a_join_configuration_is_the_flags_it_stands_for() {
        let text = "apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: api.dev.tart-infra.internal:6443
    token: abcdef.0123456789abcdef
    caCertHashes:
    - sha256:00ff
nodeRegistration:
  name: dev-worker1
  criSocket: unix:///run/containerd/containerd.sock
";
        assert_eq!(
            join_args(text).expect("parses"),
            [
                "api.dev.tart-infra.internal:6443",
                "--token",
                "abcdef.0123456789abcdef",
                "--discovery-token-ca-cert-hash",
                "sha256:00ff",
                "--node-name",
                "dev-worker1"
            ]
        );
        assert!(join_args("apiVersion: v1\nkind: JoinConfiguration\n").is_err());
        assert!(
            join_args("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n").is_err()
        );
        assert!(join_args("kind: InitConfiguration\n").is_err());
    }

    #[test]
    fn bad_configs_are_errors() {
        assert!(parse("kind: [").is_err());
        assert!(parse("apiVersion: v1\nkind: InitConfiguration\n").is_err());
        assert!(parse("apiVersion: kubeadm.k8s.io/v1beta4\n").is_err());
        let bad_token = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nbootstrapTokens: [{token: short}]\n";
        assert!(parse(bad_token).expect_err("token").contains("[a-z0-9]{6}"));
        assert!(
            parse(
                "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: 3\n"
            )
            .is_err()
        );
    }

    #[test]
    fn endpoints_hosts_and_tokens() {
        assert_eq!(split_endpoint("api.x:6443", 1), Ok(("api.x".into(), 6443)));
        assert_eq!(split_endpoint("api.x", 6443), Ok(("api.x".into(), 6443)));
        assert!(split_endpoint("api.x:port", 1).is_err());
        assert!(split_endpoint(":1", 1).is_err());
        let hosts = "127.0.0.1 localhost\n# 127.0.0.9 api.x\n127.0.0.5\tapi.dev.tart-infra.internal  other # c\n";
        assert_eq!(
            hosts_lookup(hosts, "API.dev.tart-infra.internal"),
            Some(Ipv4Addr::new(127, 0, 0, 5))
        );
        assert_eq!(hosts_lookup(hosts, "api.x"), None);
        assert_eq!(
            hosts_lookup(hosts, "127.0.0.8"),
            Some(Ipv4Addr::new(127, 0, 0, 8))
        );
        assert!(valid_token("abcdef.0123456789abcdef"));
        assert!(!valid_token("ABCDEF.0123456789abcdef") && !valid_token("abcdef0123456789abcdef"));
    }

    #[test]
    fn the_ca_hash_is_over_the_public_key() {
        use sha2::Digest as _;
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("cert");
        let want = sha2::Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key));
        let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            ca_cert_hash(&cert.pem()).expect("hash"),
            format!("sha256:{want}")
        );
        assert!(ca_cert_hash("not pem").is_err());
        assert!(
            ca_cert_hash("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}
