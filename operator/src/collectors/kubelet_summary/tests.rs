//! The Summary fixture (`summary.json`) follows the JSON of `k8s.io/kubelet`'s
//! `pkg/apis/stats/v1alpha1` types as a kubelet serves them (no kubelet runs on this
//! machine: it needs a container runtime); the node proxy path is tested against the real
//! API server in `operator/tests/kubelet_summary.rs`.

use super::*;

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
