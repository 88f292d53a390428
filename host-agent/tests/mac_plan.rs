//! The pure parts of the Mac lifecycle commands on the shipped `config/clusters.yaml`: the
//! order VMs start and stop in, the VMs they become, the objects of the hand-off, the
//! preflight with the test override, and the kubeconfig merge.

use host_agent::config;
use host_agent::host::test_override;
use host_agent::host::{Arch, HostFacts, KeyState, Os, preflight};
use host_agent::mac::{handoff, kubeconfigs, status, vms};

fn shipped() -> config::Config {
    config::parse(
        include_str!("../../config/clusters.yaml"),
        "config/clusters.yaml",
    )
    .expect("the shipped file")
}

#[test]
fn the_shipped_vms_stop_workers_first_and_the_platform_last() {
    let order = vms::stop_order(&shipped());
    assert_eq!(order.len(), 10);
    assert_eq!(order.last().map(String::as_str), Some("platform-master"));
    let first_cp = order
        .iter()
        .position(|n| n.ends_with("master"))
        .expect("a control plane");
    assert!(
        order[..first_cp].iter().all(|n| n.contains("worker")),
        "{order:?}"
    );
    assert_eq!(vms::start_order(&shipped())[0], "platform-master");
}

#[test]
fn the_hand_off_has_one_tart_managed_cluster_per_other_cluster() {
    let config = shipped();
    let managed: Vec<&str> = handoff::managed(&config)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(managed, ["dev", "staging", "prod"]);
    for c in handoff::managed(&config) {
        let mc = handoff::managed_cluster(&config, c).expect("mc");
        assert_eq!(mc["spec"]["provider"], "tart");
        assert_eq!(mc["spec"]["baseImage"], config.base_image.as_str());
    }
    let platform = config
        .clusters
        .iter()
        .find(|c| c.name == "platform")
        .expect("platform");
    let secret =
        handoff::agent_secret("https://192.168.64.1:7443", "t", "pem", platform).expect("secret");
    assert_eq!(secret["metadata"]["name"], "host-agent");
    assert_eq!(secret["stringData"]["platform-vm"], "platform-master");
}

#[test]
fn the_test_override_makes_a_small_linux_host_pass_or_fail_the_preflight() {
    let config = shipped();
    let mut facts = HostFacts {
        os: Os::Linux,
        arch: Arch::X86_64,
        tart_version: Some("2.30.0".into()),
        cpus: 2,
        memory_mib: 8192,
        vm_dir: "/tmp/tart".into(),
        free_disk_gib: 50,
        ssh_key: KeyState::Missing,
    };
    let problems = preflight(&facts, &config);
    assert_eq!(problems.len(), 1, "only: not a Mac: {problems:?}");
    test_override::parse(r#"{"os":"macos","arch":"arm64"}"#)
        .expect("override")
        .apply(&mut facts);
    let subjects: Vec<String> = preflight(&facts, &config)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(subjects.len() >= 3, "CPUs, memory, disk: {subjects:?}");
    test_override::parse(r#"{"cpus":16,"memoryMiB":131072,"freeDiskGiB":1000}"#)
        .expect("override")
        .apply(&mut facts);
    assert!(preflight(&facts, &config).is_empty());
}

#[test]
fn merged_kubeconfigs_keep_each_cluster_context() {
    let kc = |name: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: tart-{name}\n  cluster: {{server: 'https://{ip}:6443'}}\nusers:\n- name: tart-{name}\n  user: {{token: x}}\ncontexts:\n- name: tart-{name}\n  context: {{cluster: tart-{name}, user: tart-{name}}}\ncurrent-context: tart-{name}\n"
        )
    };
    let merged = kubeconfigs::merge(&[
        ("platform".into(), kc("platform", "192.168.64.2")),
        ("dev".into(), kc("dev", "192.168.64.5")),
    ])
    .expect("merge");
    assert_eq!(
        kubeconfigs::contexts(&merged),
        ["tart-platform", "tart-dev"]
    );
    assert_eq!(kubeconfigs::server_ip(&merged), "192.168.64.2".parse().ok());
}

#[test]
fn status_never_prints_a_credential_only_the_command_that_reveals_it() {
    let links = status::service_links(
        &[("monitoring".into(), "grafana".into(), 30300)],
        "192.168.64.2".parse().expect("ip"),
        "tart-platform",
    );
    let text = status::render(&status::Report {
        services: links,
        ..status::Report::default()
    });
    assert!(text.contains("http://192.168.64.2:30300"), "{text}");
    assert!(text.contains("get secret grafana"), "{text}");
    assert!(!text.contains("admin/admin"), "{text}");
}
