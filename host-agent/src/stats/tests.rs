//! The parsers on real output captured on a Linux machine (`tests/fixtures/stats/`), and
//! on cut and garbled output, which must give an error naming the section, never a panic.

use std::time::Duration;

use super::figures::figures;
use super::parse::{self, ParseError};
use super::{COMMAND, backoff};

const REAL: &str = include_str!("../../tests/fixtures/stats/command-output.txt");
const REAL_LATER: &str = include_str!("../../tests/fixtures/stats/command-output-later.txt");

#[test]
fn real_output_reads_into_a_sample() {
    let sample = parse::sample(REAL).expect("real output");
    assert_eq!(
        sample.cpu.0,
        [
            5_478_866, 90_274, 1_000_903, 4_685_042, 38_242, 0, 27_850, 8_916
        ]
    );
    assert!(sample.memory.total_bytes > sample.memory.used_bytes);
    assert!(sample.memory.used_bytes > 0);
    assert_eq!(sample.disk.mount, "/");
    assert!(sample.disk.total_bytes >= sample.disk.used_bytes);
    assert!(sample.network.rx_bytes > 0 && sample.network.tx_bytes > 0);
    assert!(
        sample
            .listening
            .iter()
            .any(|p| p.port == 22 && p.protocol == "tcp" && p.process.as_deref() == Some("sshd")),
        "{:?}",
        sample.listening
    );
}

#[test]
fn each_real_section_reads_exactly() {
    let stat = include_str!("../../tests/fixtures/stats/proc-stat.txt");
    // cpu  5340539 90274 983661 4685025 38241 0 27738 8686 0 0
    let cpu = parse::proc_stat(stat).expect("stat");
    assert_eq!(
        cpu.0,
        [
            5_340_539, 90_274, 983_661, 4_685_025, 38_241, 0, 27_738, 8_686
        ]
    );
    // A kernel before 2.6.33 prints fewer times; the missing ones are zero.
    assert_eq!(
        parse::proc_stat("cpu  1 2 3 4 5\n").expect("old").0,
        [1, 2, 3, 4, 5, 0, 0, 0]
    );

    let df = include_str!("../../tests/fixtures/stats/df.txt");
    let disk = parse::df(df).expect("df");
    assert_eq!(
        (disk.total_bytes, disk.used_bytes, disk.mount.as_str()),
        (270_553_174_016, 69_289_365_504, "/")
    );

    let net = include_str!("../../tests/fixtures/stats/proc-net-dev.txt");
    let counters = parse::net_dev(net).expect("net/dev");
    // eth0 only: lo is left out, the ifb devices count nothing.
    assert_eq!(
        (counters.rx_bytes, counters.tx_bytes),
        (8_101_650_718, 29_171_351)
    );

    let ss = include_str!("../../tests/fixtures/stats/ss.txt");
    let ports = parse::ss(ss).expect("ss");
    let seen: Vec<(u16, &str, Option<&str>)> = ports
        .iter()
        .map(|p| (p.port, p.address.as_str(), p.process.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (22, "127.0.0.1", Some("sshd")),
            (2024, "0.0.0.0", None),
            (18765, "127.0.0.1", Some("python3")),
        ]
    );

    let meminfo = include_str!("../../tests/fixtures/stats/meminfo.txt");
    let memory = parse::meminfo(meminfo).expect("meminfo");
    assert_eq!(memory.total_bytes % 1024, 0);
    assert!(memory.used_bytes < memory.total_bytes);
}

#[test]
fn ipv6_and_wildcard_listeners_keep_their_address() {
    // The shapes ss prints for IPv6 and dual-stack sockets.
    let ports = parse::ss(
        "LISTEN 0 4096 [::]:6443 [::]:* users:((\"kube-apiserver\",pid=812,fd=3))\n\
         LISTEN 0 128 *:22 *:*\n\
         LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:((\"systemd-resolve\",pid=5,fd=14))\n",
    )
    .expect("ss");
    let seen: Vec<(u16, &str, Option<&str>)> = ports
        .iter()
        .map(|p| (p.port, p.address.as_str(), p.process.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (22, "*", None),
            (53, "127.0.0.53%lo", Some("systemd-resolve")),
            (6443, "::", Some("kube-apiserver")),
        ]
    );
}

fn fails(output: &str) -> ParseError {
    match parse::sample(output) {
        Err(e) => e,
        Ok(s) => panic!("read {s:?} from {output:?}"),
    }
}

#[test]
fn cut_or_garbled_output_is_an_error_naming_the_section() {
    // Cut anywhere before the last section's marker: a section is missing.
    let last = REAL.rfind(parse::MARKER).expect("marker");
    for cut in [0, 10, REAL.len() / 3, REAL.len() / 2, last] {
        let cut = (0..=cut)
            .rev()
            .find(|c| REAL.is_char_boundary(*c))
            .unwrap_or(0);
        let e = fails(&REAL[..cut]);
        assert_eq!(e.section, "command", "cut at {cut}: {e}");
    }
    let e = fails("");
    assert!(e.to_string().contains("no section markers"), "{e}");

    let swap = |from: &str, to: &str| REAL.replacen(from, to, 1);
    let cases = [
        (swap("cpu ", "cpx "), "/proc/stat"),
        (swap("MemAvailable:", "MemFree2:"), "/proc/meminfo"),
        (swap("MemTotal:", "MemTotal: lots\nX:"), "/proc/meminfo"),
        (swap("  eth0:", "  eth0: 12"), "/proc/net/dev"),
        (swap("    lo:", "    lo"), "/proc/net/dev"),
        (swap("Filesystem", "Dateisystem"), "df"),
        (swap(" 0.0.0.0:2024", " 0.0.0.0:99999"), "ss"),
        (swap(" 0.0.0.0:2024", " nowhere"), "ss"),
    ];
    for (text, section) in cases {
        let e = fails(&text);
        assert_eq!(e.section, section, "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("the VM's {section} output")),
            "{e}"
        );
    }
    let e = fails(&format!("{REAL}{}ss\n", parse::MARKER));
    assert!(e.to_string().contains("section ss twice"), "{e}");
}

#[test]
fn any_input_gives_a_sample_or_an_error() {
    use proptest::prelude::*;
    proptest!(|(noise in "(@@tart-infra-stats (stat|meminfo|netdev|df|ss)\n|[ -~\n]{0,40}){0,12}")| {
        let _ = parse::sample(&noise);
    });
    proptest!(|(cut in 0usize..REAL.len(), junk in "[ -~\n]{0,8}")| {
        let cut = (0..=cut).rev().find(|c| REAL.is_char_boundary(*c)).unwrap_or(0);
        let _ = parse::sample(&format!("{}{junk}{}", &REAL[..cut], &REAL[cut..]));
    });
}

#[test]
fn two_reads_give_cpu_percent_and_rates() {
    let first = parse::sample(REAL).expect("first");
    let second = parse::sample(REAL_LATER).expect("second");
    let alone = figures(None, &first, "t0".into());
    assert_eq!(
        alone.cpu_percent, None,
        "nothing to compare on the first read"
    );
    assert_eq!(alone.network.rx_bytes_per_second, None);
    assert_eq!(alone.memory, first.memory);

    let stats = figures(Some((&first, Duration::from_secs(5))), &second, "t1".into());
    let cpu = stats.cpu_percent.expect("a percent");
    // user 894, system 111, idle 1, softirq 1, steal 4 ticks: 1010 of 1011 busy.
    let want = 100.0 * 1010.0 / 1011.0;
    assert!((cpu - want).abs() < 1e-9, "{cpu}");
    let rx = stats.network.rx_bytes_per_second.expect("rx");
    let tx = stats.network.tx_bytes_per_second.expect("tx");
    // eth0: 8425090310 - 8422512861 received, 30363519 - 30353034 sent, over 5 s.
    assert!((rx - 2_577_449.0 / 5.0).abs() < 1e-6, "{rx}");
    assert!((tx - 10_485.0 / 5.0).abs() < 1e-6, "{tx}");
    assert_eq!(stats.collected_at, "t1");
}

#[test]
fn counters_that_went_back_give_no_figure_rather_than_a_wrong_one() {
    // The real pair in reverse order, as across a reboot: every counter went back.
    let [after, before] = [REAL, REAL_LATER].map(|t| parse::sample(t).expect("real output"));
    let stats = figures(Some((&before, Duration::from_secs(5))), &after, "t".into());
    assert_eq!(stats.cpu_percent, None, "every CPU time went back");
    assert_eq!(stats.network.rx_bytes_per_second, None);
    assert_eq!(stats.network.tx_bytes_per_second, None);
    assert_eq!(
        stats.memory, after.memory,
        "what needs no comparison is there"
    );

    // One field back and the others forward: the field counts as unchanged.
    let mut later = before.clone();
    later.cpu.0[0] -= 10; // user
    later.cpu.0[2] += 30; // system
    later.cpu.0[3] += 10; // idle
    let stats = figures(Some((&before, Duration::from_secs(1))), &later, "t".into());
    assert_eq!(stats.cpu_percent, Some(75.0));
    // A reboot: everything small again.
    let mut rebooted = later;
    rebooted.cpu = parse::CpuTimes([5, 0, 3, 40, 0, 0, 0, 0]);
    let stats = figures(
        Some((&before, Duration::from_secs(1))),
        &rebooted,
        "t".into(),
    );
    assert_eq!(stats.cpu_percent, None);
    // No time between the reads: no rate.
    let stats = figures(Some((&before, Duration::ZERO)), &before, "t".into());
    assert_eq!(stats.network.rx_bytes_per_second, None);
    assert_eq!(stats.cpu_percent, None, "no tick passed");
}

#[test]
fn the_command_prints_every_section_in_order() {
    let markers: Vec<&str> = COMMAND
        .lines()
        .filter_map(|l| l.split('\'').nth(1))
        .filter_map(|m| m.strip_prefix(parse::MARKER))
        .collect();
    assert_eq!(markers, parse::SECTIONS);
}

#[test]
fn reconnects_back_off_up_to_a_minute() {
    let five = Duration::from_secs(5);
    let waits: Vec<u64> = (1..=6).map(|f| backoff(five, f).as_secs()).collect();
    assert_eq!(waits, vec![5, 10, 20, 40, 60, 60]);
    assert_eq!(backoff(five, u32::MAX), Duration::from_secs(60));
    assert_eq!(
        backoff(Duration::from_secs(300), 3),
        Duration::from_secs(300)
    );
}
