use super::*;
use crate::model::NodeView;
use crate::prometheus::parse_matrix;

/// Answers of Debian's Prometheus 2.42 scraping Debian's prometheus-node-exporter 1.5
/// (relabelled instance=dev-worker1, cluster=dev) to `/api/v1/query_range` of these
/// queries; the last is a selector of nothing.
const SIZE: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"cluster":"dev","instance":"dev-worker1"},"values":[[1796498686,"270553174016"]]}]}}"#;
const AVAILABLE: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"cluster":"dev","instance":"dev-worker1"},"values":[[1796498684,"28510138368"],[1796498689,"28455235584"],[1796498694,"28501020672"]]}]}}"#;
const TRANSMIT: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"cluster":"dev","instance":"dev-worker1"},"values":[[1796498689,"0"],[1796498694,"0"]]}]}}"#;
const NOTHING: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;

fn series(json: &str) -> Vec<LabelledSeries> {
    parse_matrix(json.as_bytes()).expect("a real answer parses")
}

fn metric(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn queries_read_every_cluster_at_once_by_the_configured_labels() {
    let labels = SeriesLabels::default();
    assert_eq!(
        promql(Query::DiskSize, &labels),
        r#"max by (cluster, instance) (node_filesystem_size_bytes{mountpoint="/",fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|fuse\\..*"})"#
    );
    assert_eq!(
        promql(Query::Receive, &labels),
        r#"sum by (cluster, instance) (rate(node_network_receive_bytes_total{device!~"lo|veth.*|docker.*|br-.*|cni.*|flannel.*|cali.*|cilium_.*|lxc.*|vxlan.*|genev.*|tunl.*|virbr.*|kube-.*|ifb.*|tap.*|nodelocaldns"}[2m]))"#
    );
    let other = SeriesLabels {
        cluster: "k8s_cluster".into(),
        node: "node".into(),
    };
    assert!(
        promql(Query::Transmit, &other)
            .starts_with("sum by (k8s_cluster, node) (rate(node_network_transmit_bytes_total{")
    );
    assert!(promql(Query::DiskAvailable, &other).contains("node_filesystem_avail_bytes{"));
}

#[test]
fn label_names_follow_prometheus() {
    for ok in ["cluster", "instance", "_x", "k8s_cluster", "Node2"] {
        assert_eq!(label_name(ok).as_deref(), Ok(ok));
    }
    for bad in ["", "2x", "a-b", "a.b", "__name__", "clüster", "a b"] {
        let err = label_name(bad).expect_err(bad);
        assert!(err.contains("not a Prometheus label name"), "{err}");
    }
}

#[test]
fn series_map_to_cluster_and_node() {
    let labels = SeriesLabels::default();
    type Row<'a> = (&'a [(&'a str, &'a str)], Option<(&'a str, &'a str)>);
    let table: [Row; 7] = [
        (
            &[("cluster", "dev"), ("instance", "dev-worker1")],
            Some(("dev", "dev-worker1")),
        ),
        // The platform's own series carry no cluster label.
        (
            &[("instance", "platform-master")],
            Some(("platform", "platform-master")),
        ),
        (
            &[("cluster", ""), ("instance", "platform-master")],
            Some(("platform", "platform-master")),
        ),
        // Without the ServiceMonitor's relabelling the instance is host:port.
        (
            &[("cluster", "dev"), ("instance", "dev-worker1:9100")],
            Some(("dev", "dev-worker1")),
        ),
        (
            &[("cluster", "dev"), ("instance", "[::1]:x")],
            Some(("dev", "[::1]:x")),
        ),
        (&[("cluster", "dev")], None),
        (&[("cluster", "dev"), ("instance", ":9100")], None),
    ];
    for (m, want) in table {
        assert_eq!(
            node_key(&metric(m), &labels, "platform"),
            want.map(|(c, n)| (c.to_owned(), n.to_owned())),
            "{m:?}"
        );
    }
}

#[test]
fn real_answers_become_disk_and_network_figures() {
    let labels = SeriesLabels::default();
    let end = 1_796_498_694;
    let figures = assemble(
        &[
            (Query::DiskSize, series(SIZE)),
            (Query::DiskAvailable, series(AVAILABLE)),
            (Query::Receive, series(NOTHING)),
            (Query::Transmit, series(TRANSMIT)),
        ],
        &labels,
        "platform",
        "node-exporter via Prometheus at http://p:9090",
        "2026-12-05T19:38:14Z",
        end,
    );
    let node = &figures["dev"]["dev-worker1"];
    assert_eq!(node.source, "node-exporter via Prometheus at http://p:9090");
    assert_eq!(node.collected_at, "2026-12-05T19:38:14Z");
    assert_eq!(
        node.disk,
        Some(VmDisk {
            mount: "/".into(),
            used_bytes: 270_553_174_016 - 28_501_020_672,
            total_bytes: 270_553_174_016,
        })
    );
    // No receive series: unknown, not zero; a measured zero is a zero.
    assert_eq!(node.network.rx_bytes_per_second, None);
    assert_eq!(node.network.tx_bytes_per_second, Some(0.0));
    assert_eq!(
        node.network_history,
        vec![
            NetworkPoint {
                time: 1_796_498_689,
                rx_bytes_per_second: None,
                tx_bytes_per_second: Some(0.0)
            },
            NetworkPoint {
                time: 1_796_498_694,
                rx_bytes_per_second: None,
                tx_bytes_per_second: Some(0.0)
            },
        ]
    );
}

#[test]
fn a_rate_that_stopped_has_history_but_no_current_value() {
    let labels = SeriesLabels::default();
    let m = metric(&[("instance", "platform-master")]);
    let figures = assemble(
        &[
            (
                Query::Receive,
                vec![(m.clone(), vec![(1000.0, 5.0), (1030.0, 7.0)])],
            ),
            (Query::Transmit, vec![(m, vec![(1000.0, 1.0)])]),
        ],
        &labels,
        "platform",
        "s",
        "t",
        1060,
    );
    let node = &figures["platform"]["platform-master"];
    assert_eq!(
        node.network.rx_bytes_per_second,
        Some(7.0),
        "30 s old: current"
    );
    assert_eq!(node.network.tx_bytes_per_second, None, "60 s old: stopped");
    assert_eq!(node.network_history.len(), 2);
    assert_eq!(node.disk, None, "no disk series: no disk, never a zero one");
}

fn cluster(name: &str, nodes: &[&str]) -> ClusterView {
    ClusterView {
        name: name.into(),
        nodes: nodes
            .iter()
            .map(|n| NodeView {
                name: (*n).into(),
                ..NodeView::default()
            })
            .collect(),
        ..ClusterView::default()
    }
}

#[test]
fn nodes_get_their_figures_or_say_why_not() {
    let labels = SeriesLabels::default();
    let facts = Facts {
        prometheus: Some("http://p:9090"),
        labels: &labels,
        platform: "platform",
        history: true,
        kubelet: None,
    };
    let figures = assemble(
        &[
            (Query::DiskSize, series(SIZE)),
            (Query::DiskAvailable, series(AVAILABLE)),
        ],
        &labels,
        "platform",
        "s",
        "t",
        0,
    );
    let polled = Polled {
        last: Some(Arc::new(figures)),
        error: None,
    };
    let simulated = |n: &str| n.starts_with("kwok-");
    let reasons = |view: &ClusterView| -> Vec<Option<String>> {
        view.nodes
            .iter()
            .map(|n| n.figures_missing.clone())
            .collect()
    };

    let mut dev = cluster("dev", &["dev-worker1", "dev-worker2", "kwok-1"]);
    apply(&mut dev, &polled, &facts, simulated);
    assert!(
        dev.nodes[0]
            .figures
            .as_ref()
            .is_some_and(|f| f.disk.is_some())
    );
    assert_eq!(
        reasons(&dev),
        vec![
            None,
            Some(r#"no node-exporter series for node dev-worker2 of cluster dev in Prometheus at http://p:9090 (looked for instance="dev-worker2")"#.into()),
            Some("simulated node (kwok): it has no kubelet and no node-exporter, so there is no disk or network to measure".into()),
        ]
    );

    let mut staging = cluster("staging", &["staging-master"]);
    apply(&mut staging, &polled, &facts, simulated);
    assert_eq!(
        reasons(&staging),
        vec![Some(r#"no node-exporter series for cluster staging in Prometheus at http://p:9090 (looked for cluster="staging")"#.into())]
    );
    let mut platform = cluster("platform", &["platform-master"]);
    apply(&mut platform, &polled, &facts, simulated);
    assert_eq!(
        reasons(&platform),
        vec![Some(r#"no node-exporter series for cluster platform in Prometheus at http://p:9090 (looked for cluster="platform" or no cluster label)"#.into())]
    );

    // A failing Prometheus keeps the last figures; before any, it says why.
    let failing = Polled {
        last: None,
        error: Some((
            "Prometheus at http://p:9090 is unreachable: refused".into(),
            "t".into(),
        )),
    };
    apply(&mut dev, &failing, &facts, simulated);
    assert_eq!(
        dev.nodes[0].figures_missing.as_deref(),
        Some("not collected: Prometheus at http://p:9090 is unreachable: refused")
    );
    apply(&mut dev, &Polled::default(), &facts, simulated);
    assert!(
        dev.nodes[0]
            .figures_missing
            .as_deref()
            .is_some_and(|m| m.starts_with("not read yet"))
    );
    let none = Facts {
        prometheus: None,
        ..facts
    };
    apply(&mut dev, &polled, &none, simulated);
    assert!(
        dev.nodes[1]
            .figures_missing
            .as_deref()
            .is_some_and(|m| m.contains("--prometheus-url"))
    );
    assert!(
        dev.nodes[0].figures.is_some(),
        "figures are figures, whatever the facts"
    );
}

#[test]
fn nodes_without_node_exporter_figures_get_the_kubelets_or_both_reasons() {
    use crate::collectors::kubelet_summary::{self, ByCluster, Kept, Sample};
    let labels = SeriesLabels::default();
    let read = |rx: u64| {
        Ok(Sample {
            time: Some(rx as f64),
            bytes: Some((rx, rx)),
            disk: None,
        })
    };
    let twice = kubelet_summary::next(
        &kubelet_summary::next(&Kept::default(), read(10), "t1"),
        read(20),
        "t2",
    );
    let kubelet: ByCluster = BTreeMap::from([(
        "dev".to_owned(),
        BTreeMap::from([
            ("dev-worker1".to_owned(), twice.clone()),
            (
                "dev-worker2".to_owned(),
                Kept {
                    error: Some("forbidden: no nodes/proxy".into()),
                    ..Kept::default()
                },
            ),
        ]),
    )]);
    let facts = Facts {
        prometheus: None,
        labels: &labels,
        platform: "platform",
        history: false,
        kubelet: Some(&kubelet),
    };
    let mut dev = cluster(
        "dev",
        &["dev-worker1", "dev-worker2", "dev-worker3", "kwok-1"],
    );
    apply(&mut dev, &Polled::default(), &facts, |n| {
        n.starts_with("kwok-")
    });
    let worker1 = dev.nodes[0]
        .figures
        .as_ref()
        .expect("the kubelet's figures");
    assert_eq!(worker1.source, kubelet_summary::SOURCE);
    assert_eq!(worker1.network.rx_bytes_per_second, Some(1.0));
    assert!(
        worker1.network_history.is_empty(),
        "no history in the snapshot"
    );
    let no_prometheus = "not collected: no Prometheus configured (--prometheus-url); node disk and network come from node-exporter's series there";
    assert_eq!(
        dev.nodes.iter().map(|n| n.figures_missing.clone()).collect::<Vec<_>>(),
        vec![
            None,
            Some(format!("{no_prometheus}; kubelet Summary API: forbidden: no nodes/proxy")),
            Some(format!("{no_prometheus}; kubelet Summary API: not read yet")),
            Some("simulated node (kwok): it has no kubelet and no node-exporter, so there is no disk or network to measure".into()),
        ]
    );
    // The cluster's own answer has the history.
    apply(
        &mut dev,
        &Polled::default(),
        &Facts {
            history: true,
            ..facts
        },
        |_| false,
    );
    assert_eq!(
        dev.nodes[0]
            .figures
            .as_ref()
            .map(|f| f.network_history.len()),
        Some(1)
    );
}

#[test]
fn virtual_interfaces_are_left_out_alike_in_promql_and_summaries() {
    for (name, virtual_) in [
        ("lo", true),
        ("lo0", false),
        ("eth0", false),
        ("enp0s1", false),
        ("veth12ab", true),
        ("cilium_host", true),
        ("lxc_health", true),
        ("nodelocaldns", true),
    ] {
        assert_eq!(is_virtual_nic(name), virtual_, "{name}");
    }
    assert!(
        promql(Query::Receive, &SeriesLabels::default())
            .contains(r#"device!~"lo|veth.*|docker.*|"#)
    );
}

#[test]
fn the_contract_names_every_field_in_camel_case() {
    let labels = SeriesLabels::default();
    let figures = assemble(
        &[
            (Query::DiskSize, series(SIZE)),
            (Query::DiskAvailable, series(AVAILABLE)),
            (Query::Transmit, series(TRANSMIT)),
        ],
        &labels,
        "platform",
        "s",
        "t",
        1_796_498_694,
    );
    let json = serde_json::to_value(&figures["dev"]["dev-worker1"]).expect("json");
    assert_eq!(json["disk"]["totalBytes"], 270_553_174_016_u64);
    assert_eq!(json["network"]["txBytesPerSecond"], 0.0);
    assert!(json["network"]["rxBytesPerSecond"].is_null());
    assert_eq!(json["networkHistory"][0]["time"], 1_796_498_689);
    assert_eq!(json["collectedAt"], "t");
}
