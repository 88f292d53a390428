//! The Summary fixture (`summary.json`) follows the JSON of `k8s.io/kubelet`'s
//! `pkg/apis/stats/v1alpha1` types as a kubelet serves them (no kubelet runs on this
//! machine: it needs a container runtime); the node proxy path is tested against the real
//! API server in `operator/tests/kubelet_summary.rs`.

use super::*;
use std::collections::BTreeMap;

const FIXTURE: &[u8] = include_bytes!("summary.json");

fn sample(time: f64, rx: u64, tx: u64) -> Sample {
    Sample {
        time: Some(time),
        bytes: Some((rx, tx)),
        disk: None,
    }
}

#[test]
fn a_summary_gives_the_nodefs_and_the_real_interfaces_bytes() {
    let s = parse(FIXTURE).expect("parses");
    assert_eq!(
        s,
        Sample {
            time: Some(1_796_536_810.0),
            // enp0s1 + enp0s2; cilium_host and lxc… are virtual.
            bytes: Some((10_000_000, 4_500_000)),
            disk: Some(VmDisk {
                mount: NODEFS.into(),
                used_bytes: 8_000_000_000,
                total_bytes: 20_000_000_000,
            }),
        }
    );
}

#[test]
fn partial_and_broken_summaries() {
    let cases: [(&str, Result<Sample, &str>); 6] = [
        (r#"{"node":{}}"#, Ok(Sample::default())),
        (
            // No interface list: the default interface counts.
            r#"{"node":{"network":{"time":"2026-12-06T06:00:00Z","name":"eth0","rxBytes":5,"txBytes":7}}}"#,
            Ok(sample(1_796_536_800.0, 5, 7)),
        ),
        (
            // Only virtual interfaces: nothing to count.
            r#"{"node":{"network":{"time":"2026-12-06T06:00:00Z","interfaces":[{"name":"lo","rxBytes":5,"txBytes":7}]}}}"#,
            Ok(Sample {
                time: Some(1_796_536_800.0),
                ..Sample::default()
            }),
        ),
        (
            // A file system of size 0 is no disk.
            r#"{"node":{"fs":{"capacityBytes":0,"availableBytes":0}}}"#,
            Ok(Sample::default()),
        ),
        (
            r#"{"node":{"network":{"time":"yesterday"}}}"#,
            Err("node.network.time \"yesterday\" is not a time"),
        ),
        ("<html>", Err("the kubelet's answer is not a Summary")),
    ];
    for (body, want) in cases {
        let got = parse(body.as_bytes());
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{body}"),
            (Err(got), Err(want)) => assert!(got.starts_with(want), "{body}: {got}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn rates_come_from_the_second_read_and_a_counter_going_back_gives_none() {
    let first = next(&Kept::default(), Ok(sample(100.0, 1_000, 500)), "t1");
    let f = first.figures.as_ref().expect("figures");
    assert_eq!(
        (f.network, f.network_history.len(), f.source.as_str()),
        (VmNetwork::default(), 0, SOURCE)
    );
    let second = next(&first, Ok(sample(115.0, 4_000, 2_000)), "t2");
    let f = second.figures.as_ref().expect("figures");
    assert_eq!(
        f.network,
        VmNetwork {
            rx_bytes_per_second: Some(200.0),
            tx_bytes_per_second: Some(100.0),
        }
    );
    assert_eq!(f.network_history.len(), 1);
    assert_eq!(f.collected_at, "t2");
    // A reboot: the counters start again; no rate, the history stays.
    let rebooted = next(&second, Ok(sample(130.0, 10, 10)), "t3");
    let f = rebooted.figures.as_ref().expect("figures");
    assert_eq!(
        (f.network, f.network_history.len()),
        (VmNetwork::default(), 1)
    );
    // The same time again (a cached answer): no rate either.
    let same = next(&rebooted, Ok(sample(130.0, 20, 20)), "t4");
    assert_eq!(same.figures.expect("figures").network, VmNetwork::default());
}

#[test]
fn a_failed_read_keeps_the_last_figures_and_says_why() {
    let first = next(&Kept::default(), Ok(sample(100.0, 1_000, 500)), "t1");
    let failed = next(
        &first,
        Err("the kubelet did not answer within 5 s".into()),
        "t2",
    );
    assert_eq!(failed.figures, first.figures);
    assert_eq!(failed.sample, first.sample);
    assert_eq!(
        failed.error.as_deref(),
        Some("the kubelet did not answer within 5 s")
    );
    let again = next(&failed, Ok(sample(115.0, 1_000, 500)), "t3");
    assert_eq!(again.error, None);
}

#[test]
fn the_history_keeps_thirty_minutes() {
    let mut kept = Kept::default();
    let mut time = 0.0;
    for i in 0..200u64 {
        kept = next(&kept, Ok(sample(time, i * 100, i * 10)), "t");
        time += 15.0;
    }
    let history = &kept.figures.expect("figures").network_history;
    let (first, last) = (history[0].time, history[history.len() - 1].time);
    assert!(last - first < HISTORY_SECS, "{first}..{last}");
    assert_eq!(history.len(), (HISTORY_SECS / 15) as usize);
}

#[test]
fn a_kubelet_that_keeps_failing_is_asked_ever_more_rarely() {
    let waits: Vec<u32> = [0, 1, 2, 3, 4, 5, 6, 100].map(backoff).to_vec();
    assert_eq!(waits, vec![0, 0, 1, 3, 7, 15, 15, 15]);
    let mut kept = Kept::default();
    for _ in 0..3 {
        kept = next(
            &kept,
            Err("the kubelet did not answer within 5 s".into()),
            "t",
        );
    }
    assert_eq!((kept.failures, kept.wait), (3, 3));
    let back = next(&kept, Ok(sample(1.0, 1, 1)), "t");
    assert_eq!((back.failures, back.wait, back.error), (0, 0, None));
}

#[test]
fn only_ready_nodes_with_an_address_are_read() {
    let node = |status: serde_json::Value| -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}, "status": status}))
            .expect("node")
    };
    let address = serde_json::json!([{"type": "InternalIP", "address": "192.168.64.5"}]);
    let ready = |s: &str| serde_json::json!([{"type": "Ready", "status": s}]);
    let no_address = Err("not read: the node reports no address".to_owned());
    let not_ready =
        Err("not read: the node is not Ready, so its kubelet is not expected to answer".to_owned());
    let cases = [
        (serde_json::json!({}), no_address.clone()),
        (serde_json::json!({"conditions": ready("True")}), no_address),
        (serde_json::json!({"addresses": address}), not_ready.clone()),
        (
            serde_json::json!({"addresses": address, "conditions": ready("Unknown")}),
            not_ready,
        ),
        (
            serde_json::json!({"addresses": address, "conditions": ready("True")}),
            Ok(()),
        ),
    ];
    for (status, want) in cases {
        assert_eq!(readable(&node(status.clone())), want, "{status}");
    }
}

#[tokio::test]
async fn a_poll_reads_no_node_that_waits_or_cannot_be_read() {
    // Nothing listens at this address: a read would fail and change the error.
    let client = kube::Client::try_from(kube::Config::new(
        "http://127.0.0.1:1".parse().expect("url"),
    ))
    .expect("client");
    let waiting = Kept {
        error: Some("the kubelet did not answer within 5 s".into()),
        failures: 3,
        wait: 2,
        ..next(&Kept::default(), Ok(sample(1.0, 1, 1)), "t")
    };
    let before: ByCluster = BTreeMap::from([(
        "dev".to_owned(),
        BTreeMap::from([
            ("waiting".to_owned(), waiting.clone()),
            ("gone".to_owned(), Kept::default()),
        ]),
    )]);
    let targets = vec![Target {
        cluster: "dev".into(),
        client,
        nodes: vec![
            ("waiting".into(), Ok(())),
            ("down".into(), Err("not read: the node is not Ready".into())),
        ],
    }];
    let after = poll_once(targets, &before).await;
    let dev = &after["dev"];
    assert_eq!(dev["waiting"], Kept { wait: 1, ..waiting });
    assert_eq!(
        dev["down"].error.as_deref(),
        Some("not read: the node is not Ready")
    );
    assert!(
        !dev.contains_key("gone"),
        "nodes no longer named are forgotten"
    );
}
