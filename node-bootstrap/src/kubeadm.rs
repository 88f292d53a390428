//! The kubeadm configuration of a cluster (v1beta4), rendered from a few typed inputs, and
//! the parsing of `kubeadm token create --print-join-command`.
//!
//! The control plane is addressed by a stable name, never by its DHCP address:
//! `controlPlaneEndpoint` is `api.<cluster>.tart-infra.internal:6443`, the name is in the
//! API server certificate's SANs, and every node resolves it through `/etc/hosts`, so an
//! address change after a reboot only needs the `update-endpoint` script.

use std::net::IpAddr;

use serde::Serialize;

/// The API server's port.
pub const API_PORT: u16 = 6443;

/// The containerd socket kubeadm and the kubelet talk to.
const CRI_SOCKET: &str = "unix:///run/containerd/containerd.sock";

/// The stable DNS name of `cluster`'s API server: `api.<cluster>.tart-infra.internal`.
pub fn stable_name(cluster: &str) -> String {
    format!("api.{cluster}.tart-infra.internal")
}

/// `host:port` of `cluster`'s API server through its stable name.
pub fn stable_endpoint(cluster: &str) -> String {
    format!("{}:{API_PORT}", stable_name(cluster))
}

/// Why a kubeadm configuration could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KubeadmError {
    /// An input has a value kubeadm would reject or misread.
    #[error("{field}: `{value}` {problem}")]
    Invalid {
        field: &'static str,
        value: String,
        problem: &'static str,
    },
    /// The join command printed by the control plane is not understood.
    #[error(
        "`kubeadm token create --print-join-command` printed something unexpected ({problem}); run it on the control plane by hand to see why"
    )]
    JoinCommand { problem: &'static str },
    /// The VM's kubeadm is not the version the cluster asks for.
    #[error(
        "the VM has kubeadm {installed}, the cluster asks for Kubernetes {wanted}; build the golden image for {wanted} (`tart-infra image build`) and use it as baseImage"
    )]
    VersionMismatch { wanted: String, installed: String },
    /// serde_yaml could not serialize the configuration (a bug, not an input problem).
    #[error("cannot serialize the kubeadm configuration: {0}")]
    Serialize(String),
}

/// What the control plane's kubeadm configuration is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterParams {
    /// The cluster name (a DNS label): the kubeadm `clusterName` and part of the stable name.
    pub cluster: String,
    /// The Kubernetes version, e.g. `v1.31.14` or `1.31.14`.
    pub kubernetes_version: String,
    /// The pod network, e.g. `10.20.0.0/16`.
    pub pod_cidr: String,
    /// The service network, e.g. `10.97.0.0/16`.
    pub service_cidr: String,
    /// The control-plane node's name (a DNS label; also its VM name and hostname).
    pub node_name: String,
    /// The control-plane node's current address, which the API server advertises.
    pub advertise_address: IpAddr,
}

/// InitConfiguration + ClusterConfiguration for `kubeadm init --config`, as one YAML stream.
pub fn render_init_config(params: &ClusterParams) -> Result<String, KubeadmError> {
    let cluster = dns_label("cluster", &params.cluster)?;
    let node_name = dns_label("nodeName", &params.node_name)?;
    let version = kubernetes_version(&params.kubernetes_version)?;
    let pod_cidr = cidr("podSubnet", &params.pod_cidr)?;
    let service_cidr = cidr("serviceSubnet", &params.service_cidr)?;
    let init = InitConfiguration {
        api_version: API_VERSION,
        kind: "InitConfiguration",
        local_api_endpoint: ApiEndpoint {
            advertise_address: params.advertise_address.to_string(),
            bind_port: API_PORT,
        },
        node_registration: NodeRegistration {
            name: node_name.to_owned(),
            cri_socket: CRI_SOCKET,
        },
        // Cilium replaces kube-proxy; without the skip, kubeadm installs it anyway.
        skip_phases: vec!["addon/kube-proxy"],
    };
    let cluster_config = ClusterConfiguration {
        api_version: API_VERSION,
        kind: "ClusterConfiguration",
        cluster_name: cluster.to_owned(),
        kubernetes_version: version,
        control_plane_endpoint: stable_endpoint(cluster),
        networking: Networking {
            pod_subnet: pod_cidr.to_owned(),
            service_subnet: service_cidr.to_owned(),
        },
        api_server: ApiServer {
            cert_sans: vec![stable_name(cluster)],
        },
        proxy: Proxy { disabled: true },
    };
    Ok(format!(
        "{}---\n{}",
        to_yaml(&init)?,
        to_yaml(&cluster_config)?
    ))
}

/// What a worker needs to join, as printed by `kubeadm token create --print-join-command`.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCommand {
    /// `host:port` of the API server as the control plane printed it.
    pub api_server_endpoint: String,
    /// The bootstrap token (a secret).
    pub token: String,
    /// `sha256:<hex>` pins of the cluster CA.
    pub ca_cert_hashes: Vec<String>,
}

impl std::fmt::Debug for JoinCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinCommand")
            .field("api_server_endpoint", &self.api_server_endpoint)
            .field("token", &"<secret>")
            .field("ca_cert_hashes", &self.ca_cert_hashes)
            .finish()
    }
}

/// Parses the last `kubeadm join ...` line of `output`.
pub fn parse_join_command(output: &str) -> Result<JoinCommand, KubeadmError> {
    let line = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with("kubeadm join "))
        .ok_or(KubeadmError::JoinCommand {
            problem: "no line starts with `kubeadm join`",
        })?;
    let mut words = line.split_whitespace().skip(2);
    let mut endpoint = None;
    let mut token = None;
    let mut hashes = Vec::new();
    while let Some(word) = words.next() {
        match word {
            "--token" => token = words.next(),
            "--discovery-token-ca-cert-hash" => hashes.extend(words.next()),
            flag if flag.starts_with("--") => {}
            positional => endpoint = Some(positional),
        }
    }
    let endpoint = endpoint.ok_or(KubeadmError::JoinCommand {
        problem: "no API server endpoint",
    })?;
    let token =
        token
            .filter(|token| is_bootstrap_token(token))
            .ok_or(KubeadmError::JoinCommand {
                problem: "no token of the form [a-z0-9]{6}.[a-z0-9]{16}",
            })?;
    if hashes.is_empty() || !hashes.iter().all(|hash| is_ca_hash(hash)) {
        return Err(KubeadmError::JoinCommand {
            problem: "no --discovery-token-ca-cert-hash sha256:<64 hex digits>",
        });
    }
    Ok(JoinCommand {
        api_server_endpoint: endpoint.to_owned(),
        token: token.to_owned(),
        ca_cert_hashes: hashes.into_iter().map(str::to_owned).collect(),
    })
}

/// JoinConfiguration for `kubeadm join --config`: the worker `node_name` joins `cluster`
/// through its stable name, whatever endpoint the join command printed.
pub fn render_join_config(
    cluster: &str,
    node_name: &str,
    join: &JoinCommand,
) -> Result<String, KubeadmError> {
    let cluster = dns_label("cluster", cluster)?;
    let node_name = dns_label("nodeName", node_name)?;
    let config = JoinConfiguration {
        api_version: API_VERSION,
        kind: "JoinConfiguration",
        discovery: Discovery {
            bootstrap_token: BootstrapTokenDiscovery {
                api_server_endpoint: stable_endpoint(cluster),
                token: join.token.clone(),
                ca_cert_hashes: join.ca_cert_hashes.clone(),
            },
        },
        node_registration: NodeRegistration {
            name: node_name.to_owned(),
            cri_socket: CRI_SOCKET,
        },
    };
    to_yaml(&config)
}

const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitConfiguration {
    api_version: &'static str,
    kind: &'static str,
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: ApiEndpoint,
    node_registration: NodeRegistration,
    skip_phases: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiEndpoint {
    advertise_address: String,
    bind_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRegistration {
    name: String,
    cri_socket: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfiguration {
    api_version: &'static str,
    kind: &'static str,
    cluster_name: String,
    kubernetes_version: String,
    control_plane_endpoint: String,
    networking: Networking,
    api_server: ApiServer,
    proxy: Proxy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    pod_subnet: String,
    service_subnet: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiServer {
    #[serde(rename = "certSANs")]
    cert_sans: Vec<String>,
}

#[derive(Serialize)]
struct Proxy {
    disabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinConfiguration {
    api_version: &'static str,
    kind: &'static str,
    discovery: Discovery,
    node_registration: NodeRegistration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Discovery {
    bootstrap_token: BootstrapTokenDiscovery,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BootstrapTokenDiscovery {
    api_server_endpoint: String,
    token: String,
    ca_cert_hashes: Vec<String>,
}

fn to_yaml(value: &impl Serialize) -> Result<String, KubeadmError> {
    serde_yaml::to_string(value).map_err(|e| KubeadmError::Serialize(e.to_string()))
}

/// `value` if it is an RFC 1123 label (what a node name and our DNS names need).
fn dns_label<'a>(field: &'static str, value: &'a str) -> Result<&'a str, KubeadmError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value)
    } else {
        Err(KubeadmError::Invalid {
            field,
            value: value.to_owned(),
            problem: "is not a DNS label (lower-case letters, digits and `-`, at most 63, not starting or ending with `-`)",
        })
    }
}

/// The version to initialise: the installed kubeadm's (`kubeadm version -o short`), which
/// must be the one `wanted` names (`1.33` or `1.33.4`, with or without `v`).
pub fn resolve_version(wanted: &str, installed: &str) -> Result<String, KubeadmError> {
    let installed = kubernetes_version(installed.trim())?;
    let bare = |v: &str| v.trim().trim_start_matches('v').to_owned();
    let (wanted_bare, installed_bare) = (bare(wanted), bare(&installed));
    let matches =
        installed_bare == wanted_bare || installed_bare.starts_with(&format!("{wanted_bare}."));
    if matches {
        Ok(installed)
    } else {
        Err(KubeadmError::VersionMismatch {
            wanted: wanted.to_owned(),
            installed,
        })
    }
}

/// `v<major>.<minor>.<patch>`, accepting the version with or without its `v`.
fn kubernetes_version(value: &str) -> Result<String, KubeadmError> {
    let bare = value.strip_prefix('v').unwrap_or(value);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3 && parts.iter().all(numeric) {
        Ok(format!("v{bare}"))
    } else {
        Err(KubeadmError::Invalid {
            field: "kubernetesVersion",
            value: value.to_owned(),
            problem: "is not a full Kubernetes version such as v1.31.14 (kubeadm would look a partial one up on the internet)",
        })
    }
}

/// `value` if it is `address/prefix` with the host bits clear.
fn cidr<'a>(field: &'static str, value: &'a str) -> Result<&'a str, KubeadmError> {
    let invalid = |problem| KubeadmError::Invalid {
        field,
        value: value.to_owned(),
        problem,
    };
    let (address, prefix) = value
        .split_once('/')
        .ok_or_else(|| invalid("is not a CIDR such as 10.20.0.0/16"))?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| invalid("does not start with an IP address"))?;
    let prefix: u32 = prefix
        .parse()
        .map_err(|_| invalid("has no number after the `/`"))?;
    let (bits, width) = match address {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    if prefix > width {
        return Err(invalid("has a prefix longer than the address"));
    }
    let host_bits = width - prefix;
    let host_mask = if host_bits == 0 {
        0
    } else {
        u128::MAX >> (128 - host_bits)
    };
    if bits & host_mask != 0 {
        return Err(invalid("has host bits set; use the network address"));
    }
    Ok(value)
}

fn is_bootstrap_token(token: &str) -> bool {
    let lower_alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    token.split_once('.').is_some_and(|(id, secret)| {
        id.len() == 6 && secret.len() == 16 && lower_alnum(id) && lower_alnum(secret)
    })
}

fn is_ca_hash(hash: &str) -> bool {
    hash.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml::Value;

    fn params() -> ClusterParams {
        ClusterParams {
            cluster: "dev".into(),
            kubernetes_version: "1.31.14".into(),
            pod_cidr: "10.20.0.0/16".into(),
            service_cidr: "10.97.0.0/16".into(),
            node_name: "dev-master".into(),
            advertise_address: "192.168.64.5".parse().expect("ip"),
        }
    }

    fn documents(yaml: &str) -> Vec<Value> {
        yaml.split("\n---\n")
            .map(|doc| serde_yaml::from_str(doc).expect("valid YAML"))
            .collect()
    }

    fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
        path.iter().fold(value, |v, key| &v[*key])
    }

    #[test]
    fn stable_name_is_under_tart_infra_internal() {
        assert_eq!(stable_name("dev"), "api.dev.tart-infra.internal");
        assert_eq!(stable_endpoint("prod"), "api.prod.tart-infra.internal:6443");
    }

    #[test]
    fn init_config_uses_the_stable_name_and_skips_kube_proxy() {
        let yaml = render_init_config(&params()).expect("renders");
        let docs = documents(&yaml);
        assert_eq!(docs.len(), 2);
        let (init, cluster) = (&docs[0], &docs[1]);
        assert_eq!(init["apiVersion"], "kubeadm.k8s.io/v1beta4");
        assert_eq!(init["kind"], "InitConfiguration");
        assert_eq!(
            at(init, &["localAPIEndpoint", "advertiseAddress"]),
            "192.168.64.5"
        );
        assert_eq!(at(init, &["localAPIEndpoint", "bindPort"]), 6443);
        assert_eq!(at(init, &["nodeRegistration", "name"]), "dev-master");
        assert_eq!(init["skipPhases"][0], "addon/kube-proxy");

        assert_eq!(cluster["apiVersion"], "kubeadm.k8s.io/v1beta4");
        assert_eq!(cluster["kind"], "ClusterConfiguration");
        assert_eq!(cluster["clusterName"], "dev");
        assert_eq!(cluster["kubernetesVersion"], "v1.31.14");
        assert_eq!(
            cluster["controlPlaneEndpoint"],
            "api.dev.tart-infra.internal:6443"
        );
        assert_eq!(at(cluster, &["networking", "podSubnet"]), "10.20.0.0/16");
        assert_eq!(
            at(cluster, &["networking", "serviceSubnet"]),
            "10.97.0.0/16"
        );
        assert_eq!(
            at(cluster, &["apiServer", "certSANs"])[0],
            "api.dev.tart-infra.internal"
        );
        assert_eq!(at(cluster, &["proxy", "disabled"]).as_bool(), Some(true));
    }

    #[test]
    fn ipv6_advertise_address_and_v_prefixed_version() {
        let mut p = params();
        p.advertise_address = "fd00::5".parse().expect("ip");
        p.kubernetes_version = "v1.33.0".into();
        let docs = documents(&render_init_config(&p).expect("renders"));
        assert_eq!(
            at(&docs[0], &["localAPIEndpoint", "advertiseAddress"]),
            "fd00::5"
        );
        assert_eq!(docs[1]["kubernetesVersion"], "v1.33.0");
    }

    #[test]
    fn invalid_inputs_name_the_field() {
        type Case = (fn(&mut ClusterParams), &'static str);
        let cases: Vec<Case> = vec![
            (|p| p.cluster = "Dev".into(), "cluster"),
            (|p| p.cluster = "dev\nkind: Evil".into(), "cluster"),
            (|p| p.cluster = String::new(), "cluster"),
            (|p| p.node_name = "-x".into(), "nodeName"),
            (
                |p| p.kubernetes_version = "1.31".into(),
                "kubernetesVersion",
            ),
            (
                |p| p.kubernetes_version = "stable-1".into(),
                "kubernetesVersion",
            ),
            (|p| p.pod_cidr = "10.20.0.0".into(), "podSubnet"),
            (|p| p.pod_cidr = "10.20.0.1/16".into(), "podSubnet"),
            (|p| p.pod_cidr = "10.20.0.0/33".into(), "podSubnet"),
            (|p| p.service_cidr = "x/16".into(), "serviceSubnet"),
        ];
        for (break_it, field) in cases {
            let mut p = params();
            break_it(&mut p);
            match render_init_config(&p) {
                Err(KubeadmError::Invalid { field: got, .. }) => assert_eq!(got, field, "{p:?}"),
                other => panic!("{p:?} gave {other:?}"),
            }
        }
    }

    const JOIN_OUTPUT: &str = "kubeadm join api.dev.tart-infra.internal:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:1c5e5bd6b0b6ad4b70c7c4c01d9f5d4c56f7f1b1a8b19e3d8d2d7f1e5a0b9c3d \n";

    #[test]
    fn join_command_is_parsed_from_kubeadm_output() {
        let join = parse_join_command(JOIN_OUTPUT).expect("parses");
        assert_eq!(join.api_server_endpoint, "api.dev.tart-infra.internal:6443");
        assert_eq!(join.token, "abcdef.0123456789abcdef");
        assert_eq!(join.ca_cert_hashes.len(), 1);
        assert!(!format!("{join:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn malformed_join_output_is_an_error_not_a_panic() {
        for bad in [
            "",
            "kubeadm join",
            "kubeadm join host:6443 --token",
            "kubeadm join host:6443 --token abc --discovery-token-ca-cert-hash sha256:00",
            "kubeadm join host:6443 --token abcdef.0123456789abcdef",
            "kubeadm join host:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash md5:00",
            "error: something",
        ] {
            assert!(parse_join_command(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn join_config_points_at_the_stable_name() {
        let join = parse_join_command(JOIN_OUTPUT).expect("parses");
        let yaml = render_join_config("dev", "dev-worker1", &join).expect("renders");
        let doc: Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert_eq!(doc["kind"], "JoinConfiguration");
        let discovery = at(&doc, &["discovery", "bootstrapToken"]);
        assert_eq!(
            discovery["apiServerEndpoint"],
            "api.dev.tart-infra.internal:6443"
        );
        assert_eq!(discovery["token"], "abcdef.0123456789abcdef");
        assert_eq!(
            discovery["caCertHashes"][0],
            join.ca_cert_hashes[0].as_str()
        );
        assert_eq!(at(&doc, &["nodeRegistration", "name"]), "dev-worker1");
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn the_installed_kubeadm_must_be_the_asked_version() {
        assert_eq!(resolve_version("1.33", "v1.33.4\n"), Ok("v1.33.4".into()));
        assert_eq!(resolve_version("1.33.4", "v1.33.4"), Ok("v1.33.4".into()));
        assert_eq!(resolve_version("v1.33", "1.33.0"), Ok("v1.33.0".into()));
        let err = resolve_version("1.33", "v1.32.9").expect_err("older");
        assert_eq!(
            err.to_string(),
            "the VM has kubeadm v1.32.9, the cluster asks for Kubernetes 1.33; build the golden image for 1.33 (`tart-infra image build`) and use it as baseImage"
        );
        assert!(
            resolve_version("1.3", "v1.33.1").is_err(),
            "1.3 is not 1.33"
        );
        assert!(resolve_version("1.33", "kubeadm: command not found").is_err());
    }
}
