//! The bootstrap steps of a kubeadm node, as [`Script`]s (the bash is in `scripts/`).
//!
//! Each script starts with `set -euo pipefail`, checks whether its work is done before
//! doing it, and writes progress to stderr; stdout carries only its result. Written for
//! Ubuntu 24.04, run as root (through `sudo -n` for another login user).

use std::net::IpAddr;
use std::time::Duration;

use crate::kubeadm::API_PORT;
use crate::script::{Script, ScriptError};

/// The exit code of `join-preflight` when the VM cannot reach the API server.
pub const EXIT_API_UNREACHABLE: u32 = 75;

const COMMON: &str = include_str!("../scripts/lib/common.sh");

/// Every step's name and bash body, for checks that cover them all.
pub const BODIES: &[(&str, &str)] = &[
    ("node-prepare", include_str!("../scripts/node-prepare.sh")),
    ("kubeadm-init", include_str!("../scripts/kubeadm-init.sh")),
    ("join-command", include_str!("../scripts/join-command.sh")),
    (
        "join-preflight",
        include_str!("../scripts/join-preflight.sh"),
    ),
    ("kubeadm-join", include_str!("../scripts/kubeadm-join.sh")),
    (
        "update-endpoint",
        include_str!("../scripts/update-endpoint.sh"),
    ),
    ("kubeadm-reset", include_str!("../scripts/kubeadm-reset.sh")),
    (
        "kubeadm-version",
        include_str!("../scripts/kubeadm-version.sh"),
    ),
    (
        "control-plane-readdress",
        include_str!("../scripts/control-plane-readdress.sh"),
    ),
    (
        "image-provision",
        include_str!("../scripts/image-provision.sh"),
    ),
    (
        "platform-names",
        include_str!("../scripts/platform-names.sh"),
    ),
];

/// The lab registry's stable name (Harbor on the platform: gitops/root/values.yaml `harbor`).
pub const REGISTRY_NAME: &str = "registry.tart-infra.internal";
/// Harbor's HTTP node port on the platform (not the original's 30500, where nothing listens).
pub const REGISTRY_PORT: u16 = 30400;

/// containerd's `certs.d/<name>:<port>/hosts.toml` for the lab registry: plain HTTP, pull and
/// resolve (nodes never push).
pub fn registry_hosts_toml() -> String {
    let url = format!("http://{REGISTRY_NAME}:{REGISTRY_PORT}");
    format!(
        "# Written by tart-infra: the lab registry (Harbor on the platform), plain HTTP.\n\
         server = \"{url}\"\n\n[host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\"]"
    )
}

/// The names a node of `node_cluster` resolves to a platform node (the platform cluster is
/// `platform_cluster`): the registry's everywhere, and the platform's API name on the other
/// clusters' nodes (the Prometheus agents there remote-write to it). A platform node's own
/// API name is [`update_endpoint`]'s, pointing at its control plane.
pub fn platform_hosts_names(node_cluster: &str, platform_cluster: &str) -> Vec<String> {
    let mut names = vec![REGISTRY_NAME.to_owned()];
    if node_cluster != platform_cluster {
        names.push(crate::kubeadm::stable_name(platform_cluster));
    }
    names
}

/// Points `names` (see [`platform_hosts_names`]) at `platform_address` (any platform node
/// serves the node ports) in its own `/etc/hosts` block, and containerd at the lab registry
/// (see [`registry_hosts_toml`]). Re-run it when the platform's address changes: it rewrites
/// only its block. Prints `changed` or `unchanged`.
pub fn platform_names(platform_address: IpAddr, names: &[String]) -> Result<Script, ScriptError> {
    step("platform-names")
        .input("PLATFORM_ADDRESS", platform_address.to_string())?
        .input("PLATFORM_NAMES", names.join(" "))?
        .input("REGISTRY_HOST", format!("{REGISTRY_NAME}:{REGISTRY_PORT}"))?
        .input("HOSTS_TOML", registry_hosts_toml())
}

/// The shared functions (`log`, `fail`, `ensure_file`, `ensure_hosts_entry`,
/// `ensure_hosts_block`).
pub fn common_library() -> &'static str {
    COMMON
}

fn step(name: &'static str) -> Script {
    let body = BODIES
        .iter()
        .find(|(step, _)| *step == name)
        .map_or("", |(_, body)| body);
    Script::new(name, body).library(COMMON)
}

/// Hostname, the stable API name in `/etc/hosts`, kernel modules, sysctls, swap off, the
/// conntrack tool, containerd's systemd cgroup driver, containerd and kubelet enabled.
/// Prints `changed` or `unchanged`.
pub fn node_prepare(
    node_name: &str,
    api_name: &str,
    api_address: IpAddr,
) -> Result<Script, ScriptError> {
    step("node-prepare")
        .input("NODE_NAME", node_name)?
        .input("API_NAME", api_name)?
        .input("API_ADDRESS", api_address.to_string())
}

/// `kubeadm init --config` with `kubeadm_config` (see [`crate::kubeadm::render_init_config`])
/// unless the control plane is initialised; prints `/etc/kubernetes/admin.conf` (a
/// cluster-admin credential: keep it out of logs).
pub fn kubeadm_init(kubeadm_config: &str) -> Result<Script, ScriptError> {
    Ok(step("kubeadm-init")
        .input("KUBEADM_CONFIG", kubeadm_config)?
        .timeout(Duration::from_secs(20 * 60)))
}

/// On the control plane: prints a `kubeadm join` command with a fresh one-hour token (a
/// secret; parse it with [`crate::kubeadm::parse_join_command`]).
pub fn join_command() -> Script {
    step("join-command")
}

/// On a worker: a TCP connection to `api_name:6443` within `timeout`; exits
/// [`EXIT_API_UNREACHABLE`] with one line naming the VM and the address when it fails.
pub fn join_preflight(
    node_name: &str,
    api_name: &str,
    timeout: Duration,
) -> Result<Script, ScriptError> {
    step("join-preflight")
        .input("NODE_NAME", node_name)?
        .input("API_NAME", api_name)?
        .input("API_PORT", API_PORT.to_string())?
        .input("TIMEOUT_SECS", timeout.as_secs().max(1).to_string())
}

/// `kubeadm join --config` with `join_config` (see [`crate::kubeadm::render_join_config`];
/// it holds the bootstrap token) unless the node has joined.
pub fn kubeadm_join(join_config: &str) -> Result<Script, ScriptError> {
    Ok(step("kubeadm-join")
        .secret_input("KUBEADM_JOIN_CONFIG", join_config)?
        .timeout(Duration::from_secs(10 * 60)))
}

/// Points `api_name` at `api_address` in the node's `/etc/hosts` (at boot, when the control
/// plane may have a new address). Prints `changed` or `unchanged`.
pub fn update_endpoint(api_name: &str, api_address: IpAddr) -> Result<Script, ScriptError> {
    step("update-endpoint")
        .input("API_NAME", api_name)?
        .input("API_ADDRESS", api_address.to_string())
}

/// Prints the installed kubeadm's version (`v1.33.4`).
pub fn kubeadm_version() -> Script {
    step("kubeadm-version")
}

/// On a control plane: moves kubeadm's static pods to `api_address` when the node's address
/// changed, and restarts the kubelet. Prints `changed` or `unchanged`.
pub fn control_plane_readdress(api_address: IpAddr) -> Result<Script, ScriptError> {
    step("control-plane-readdress").input("API_ADDRESS", api_address.to_string())
}

/// What the golden image pins: the inputs of [`image_provision`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageProvision {
    /// The minor version, e.g. `1.33`: the pkgs.k8s.io repository.
    pub kubernetes_minor: String,
    /// The patch version, e.g. `1.33.4`: the control-plane images.
    pub kubernetes_version: String,
    /// The Debian version of kubelet, kubeadm and kubectl, e.g. `1.33.4-1.1`.
    pub kube_deb_version: String,
    /// The Debian version of cri-tools, e.g. `1.33.0-1.1`.
    pub cri_tools_deb_version: String,
    /// An Ubuntu version of containerd, or `None` for the archive's current one (held
    /// either way).
    pub containerd_version: Option<String>,
    /// More images to pre-pull (Cilium's), as full references.
    pub extra_images: Vec<String>,
}

/// How long provisioning may take: package downloads and image pulls on a slow network.
pub const IMAGE_PROVISION_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// Makes a running VM the golden image of one Kubernetes version: the Kubernetes apt
/// repository and pinned, held packages (kubelet, kubeadm, kubectl, cri-tools, containerd,
/// conntrack), kernel modules and sysctls, swap out of fstab, `dhcp-identifier: mac`,
/// containerd's systemd cgroup driver, the control-plane and extra images pulled, then
/// no SSH host keys (a unit regenerates them in each clone) and an empty machine id.
/// Prints `changed` or `unchanged`.
pub fn image_provision(inputs: &ImageProvision) -> Result<Script, ScriptError> {
    Ok(step("image-provision")
        .input("K8S_MINOR", inputs.kubernetes_minor.as_str())?
        .input("K8S_VERSION", inputs.kubernetes_version.as_str())?
        .input("KUBE_DEB_VERSION", inputs.kube_deb_version.as_str())?
        .input(
            "CRI_TOOLS_DEB_VERSION",
            inputs.cri_tools_deb_version.as_str(),
        )?
        .input(
            "CONTAINERD_VERSION",
            inputs.containerd_version.clone().unwrap_or_default(),
        )?
        .input("EXTRA_IMAGES", inputs.extra_images.join("\n"))?
        .timeout(IMAGE_PROVISION_TIMEOUT))
}

/// `kubeadm reset -f` and the state it leaves behind; nothing on a node without any.
pub fn kubeadm_reset() -> Script {
    step("kubeadm-reset")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn run_bash(program: &str) -> std::process::Output {
        let mut child = Command::new("bash")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(program.as_bytes())
            .expect("write");
        child.wait_with_output().expect("bash finishes")
    }

    #[test]
    fn every_script_starts_with_strict_mode_and_parses() {
        for (name, body) in BODIES {
            assert!(
                body.starts_with("set -euo pipefail\n"),
                "{name} does not start with set -euo pipefail"
            );
            let check = Command::new("bash")
                .args(["-n", "-c", body])
                .output()
                .expect("bash runs");
            assert!(
                check.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let check = Command::new("bash")
            .args(["-n", "-c", COMMON])
            .output()
            .expect("bash runs");
        assert!(check.status.success());
    }

    #[test]
    fn the_registry_hosts_toml_is_plain_http_on_harbors_node_port() {
        let toml = registry_hosts_toml();
        assert_eq!(
            toml,
            "# Written by tart-infra: the lab registry (Harbor on the platform), plain HTTP.\n\
             server = \"http://registry.tart-infra.internal:30400\"\n\n\
             [host.\"http://registry.tart-infra.internal:30400\"]\n  capabilities = [\"pull\", \"resolve\"]"
        );
        assert!(!toml.contains("30500") && !toml.contains("skip_verify"));
    }

    /// Runs `script` with containerd's config and the hosts file in `dir`; its stdout.
    fn run_in(dir: &std::path::Path, script: &Script) -> String {
        let out = run_bash(&format!(
            "export CONTAINERD_CONFIG={} HOSTS_FILE={}\n{}",
            dir.join("config.toml").display(),
            dir.join("hosts").display(),
            script.render()
        ));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn a_platform_node_maps_only_the_registry_the_others_the_platform_api_too() {
        assert_eq!(
            platform_hosts_names("platform", "platform"),
            ["registry.tart-infra.internal"]
        );
        assert_eq!(
            platform_hosts_names("dev", "platform"),
            [
                "registry.tart-infra.internal",
                "api.platform.tart-infra.internal"
            ]
        );
        assert_eq!(
            platform_hosts_names("prod", "hub"),
            [
                "registry.tart-infra.internal",
                "api.hub.tart-infra.internal"
            ]
        );
    }

    /// The script on a containerd 1.7 default config and a dev node's hosts file (a stale
    /// line for the registry, the API name's block) in a temporary directory: config_path
    /// set, hosts.toml written, both platform names in their own block, the stale line gone;
    /// a second run changes nothing; a new platform address rewrites only the block, in
    /// place; update-endpoint and this step keep each other's blocks and, run in turns,
    /// change nothing.
    #[test]
    fn the_platform_names_step_is_idempotent_and_follows_the_platform() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(
            d.join("config.toml"),
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n      config_path = \"\"\n",
        )
        .expect("write");
        std::fs::write(
            d.join("hosts"),
            "127.0.0.1 localhost\n# the registry: registry.tart-infra.internal\n10.1.1.1 registry.tart-infra.internal\n\
             # BEGIN tart-infra (managed by tart-infra: the cluster API name)\n192.168.64.2 api.dev.tart-infra.internal\n# END tart-infra\n",
        )
        .expect("write");
        let names = platform_hosts_names("dev", "platform");
        let at = |ip: &str| platform_names(ip.parse().expect("ip"), &names).expect("valid");
        assert_eq!(run_in(d, &at("192.168.64.7")), "changed");
        assert_eq!(run_in(d, &at("192.168.64.7")), "unchanged");
        let written = std::fs::read_to_string(
            d.join("certs.d/registry.tart-infra.internal:30400/hosts.toml"),
        )
        .expect("hosts.toml");
        assert_eq!(written.trim_end(), registry_hosts_toml());
        let config = std::fs::read_to_string(d.join("config.toml")).expect("config");
        assert!(
            config.contains(&format!("config_path = \"{}/certs.d\"", d.display())),
            "{config}"
        );
        let hosts = std::fs::read_to_string(d.join("hosts")).expect("hosts");
        assert_eq!(
            hosts,
            "127.0.0.1 localhost\n# the registry: registry.tart-infra.internal\n\
             # BEGIN tart-infra (managed by tart-infra: the cluster API name)\n192.168.64.2 api.dev.tart-infra.internal\n# END tart-infra\n\
             # BEGIN tart-infra-platform\n192.168.64.7 registry.tart-infra.internal api.platform.tart-infra.internal\n# END tart-infra-platform\n"
        );

        // The platform came back on another address: only the block's line changes.
        assert_eq!(run_in(d, &at("192.168.64.8")), "changed");
        let moved = std::fs::read_to_string(d.join("hosts")).expect("hosts");
        assert_eq!(moved, hosts.replace("192.168.64.7", "192.168.64.8"));

        // The node's own API name moves too: each step keeps the other's block where it is.
        let update = |ip: &str| {
            update_endpoint("api.dev.tart-infra.internal", ip.parse().expect("ip")).expect("valid")
        };
        assert_eq!(run_in(d, &update("192.168.64.9")), "changed");
        let both = std::fs::read_to_string(d.join("hosts")).expect("hosts");
        assert_eq!(both, moved.replace("192.168.64.2", "192.168.64.9"));
        for _ in 0..2 {
            assert_eq!(run_in(d, &at("192.168.64.8")), "unchanged");
            assert_eq!(run_in(d, &update("192.168.64.9")), "unchanged");
        }
        assert_eq!(
            std::fs::read_to_string(d.join("hosts")).expect("hosts"),
            both
        );
    }

    /// On a platform node the step maps only the registry and leaves the platform's own API
    /// name (update-endpoint's block) alone.
    #[test]
    fn on_a_platform_node_the_api_name_stays_update_endpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(
            d.join("config.toml"),
            "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"\"\n",
        )
        .expect("write");
        std::fs::write(
            d.join("hosts"),
            "127.0.0.1 localhost\n# BEGIN tart-infra (managed by tart-infra: the cluster API name)\n192.168.64.3 api.platform.tart-infra.internal\n# END tart-infra\n",
        )
        .expect("write");
        let names = platform_hosts_names("platform", "platform");
        let script = platform_names("192.168.64.3".parse().expect("ip"), &names).expect("valid");
        assert_eq!(run_in(d, &script), "changed");
        assert_eq!(
            std::fs::read_to_string(d.join("hosts")).expect("hosts"),
            "127.0.0.1 localhost\n# BEGIN tart-infra (managed by tart-infra: the cluster API name)\n192.168.64.3 api.platform.tart-infra.internal\n# END tart-infra\n\
             # BEGIN tart-infra-platform\n192.168.64.3 registry.tart-infra.internal\n# END tart-infra-platform\n"
        );
        // A config without an empty config_path to set is refused with the fix.
        std::fs::write(d.join("config.toml"), "version = 2\n").expect("write");
        let out = run_bash(&format!(
            "export CONTAINERD_CONFIG={} HOSTS_FILE={}\n{}",
            d.join("config.toml").display(),
            d.join("hosts").display(),
            script.render()
        ));
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("set config_path ="),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn every_step_gets_its_body() {
        let scripts = [
            node_prepare("n", "api", "10.0.0.1".parse().expect("ip")).expect("valid"),
            kubeadm_init("kind: x").expect("valid"),
            join_command(),
            join_preflight("n", "api", Duration::from_secs(5)).expect("valid"),
            kubeadm_join("kind: x").expect("valid"),
            update_endpoint("api", "10.0.0.1".parse().expect("ip")).expect("valid"),
            platform_names("10.0.0.1".parse().expect("ip"), &["r".to_owned()]).expect("valid"),
            kubeadm_reset(),
            image_provision(&ImageProvision {
                kubernetes_minor: "1.33".into(),
                kubernetes_version: "1.33.4".into(),
                kube_deb_version: "1.33.4-1.1".into(),
                cri_tools_deb_version: "1.33.0-1.1".into(),
                containerd_version: None,
                extra_images: vec!["quay.io/cilium/cilium:v1.18.1".into()],
            })
            .expect("valid"),
        ];
        for script in scripts {
            assert!(
                script.render().contains("set -euo pipefail\n"),
                "{} has no body",
                script.name()
            );
        }
    }

    /// shellcheck, when installed, finds no warning in any script (with the library in front,
    /// as the scripts run).
    #[test]
    fn every_script_passes_shellcheck_when_it_is_installed() {
        let Ok(version) = Command::new("shellcheck").arg("--version").output() else {
            eprintln!("SKIPPED: shellcheck is not installed (apt-get install shellcheck)");
            return;
        };
        assert!(version.status.success());
        for (name, body) in BODIES {
            let program = format!("{COMMON}\n{body}");
            let mut child = Command::new("shellcheck")
                .args(["-s", "bash", "-S", "warning", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("shellcheck runs");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(program.as_bytes())
                .expect("write");
            let out = child.wait_with_output().expect("shellcheck finishes");
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    #[test]
    fn image_provision_gets_every_pinned_version_and_the_images_one_a_line() {
        let script = image_provision(&ImageProvision {
            kubernetes_minor: "1.33".into(),
            kubernetes_version: "1.33.4".into(),
            kube_deb_version: "1.33.4-1.1".into(),
            cri_tools_deb_version: "1.33.0-1.1".into(),
            containerd_version: Some("1.7.28-0ubuntu1~24.04.1".into()),
            extra_images: vec!["quay.io/a:v1".into(), "quay.io/b:v1".into()],
        })
        .expect("valid");
        let text = script.render();
        for line in [
            "export K8S_MINOR='1.33'\n",
            "export K8S_VERSION='1.33.4'\n",
            "export KUBE_DEB_VERSION='1.33.4-1.1'\n",
            "export CRI_TOOLS_DEB_VERSION='1.33.0-1.1'\n",
            "export CONTAINERD_VERSION='1.7.28-0ubuntu1~24.04.1'\n",
            "export EXTRA_IMAGES='quay.io/a:v1\nquay.io/b:v1'\n",
        ] {
            assert!(text.contains(line), "{line:?} missing");
        }
        assert_eq!(script.timeout_override(), Some(IMAGE_PROVISION_TIMEOUT));
    }

    #[test]
    fn join_config_is_a_secret_input() {
        let script = kubeadm_join("token: abcdef.0123456789abcdef").expect("valid");
        assert!(!format!("{script:?}").contains("0123456789abcdef"));
    }

    /// update-endpoint on a copy of a hosts file (HOSTS_FILE is how the tests point the
    /// script at a file of their own): the first run writes the block and drops the stale
    /// line, the second changes nothing, a new address rewrites only the block.
    #[test]
    fn update_endpoint_rewrites_only_its_block_and_only_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            "127.0.0.1 localhost\n# a comment naming api.dev.tart-infra.internal\n10.9.9.9 api.dev.tart-infra.internal\n",
        )
        .expect("write");
        let run = |address: &str| {
            let script =
                update_endpoint("api.dev.tart-infra.internal", address.parse().expect("ip"))
                    .and_then(|s| s.input("HOSTS_FILE", hosts.display().to_string()))
                    .expect("valid");
            let out = run_bash(&script.render());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        assert_eq!(run("192.168.64.5"), "changed");
        let first = std::fs::read_to_string(&hosts).expect("read");
        assert_eq!(
            first,
            "127.0.0.1 localhost\n# a comment naming api.dev.tart-infra.internal\n\
             # BEGIN tart-infra (managed by tart-infra: the cluster API name)\n\
             192.168.64.5 api.dev.tart-infra.internal\n# END tart-infra\n"
        );
        assert_eq!(run("192.168.64.5"), "unchanged");
        assert_eq!(std::fs::read_to_string(&hosts).expect("read"), first);
        assert_eq!(run("192.168.64.9"), "changed");
        let moved = std::fs::read_to_string(&hosts).expect("read");
        assert!(
            moved.contains("\n192.168.64.9 api.dev.tart-infra.internal\n"),
            "{moved}"
        );
        assert_eq!(moved.matches("BEGIN tart-infra").count(), 1, "{moved}");
    }

    #[test]
    fn join_preflight_passes_on_an_open_port_and_names_vm_and_address_on_a_closed_one() {
        let preflight = |port: u16| {
            let script = step("join-preflight")
                .input("NODE_NAME", "dev-worker1")
                .and_then(|s| s.input("API_NAME", "127.0.0.1"))
                .and_then(|s| s.input("API_PORT", port.to_string()))
                .and_then(|s| s.input("TIMEOUT_SECS", "2"))
                .expect("valid");
            run_bash(&script.render())
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = preflight(port);
        assert!(
            open.status.success(),
            "{}",
            String::from_utf8_lossy(&open.stderr)
        );

        drop(listener);
        let closed = preflight(port);
        assert_eq!(closed.status.code(), Some(EXIT_API_UNREACHABLE as i32));
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "VM dev-worker1 cannot reach the API server at 127.0.0.1:{port}"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("--net-softnet-allow=0.0.0.0/0"), "{stderr}");
    }
}
