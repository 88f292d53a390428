//! `lab down` and `lab status`, run from another shell: both read the record a running
//! `lab up` keeps (`lab.json`) and touch only the processes it lists, each checked by pid
//! and start time.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use super::record::{Component, Record};
use super::{Error, say};

/// How long `lab down` waits for `lab up` to stop everything.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// `lab down`: stops the lab recorded in `state_dir` (its `lab up` process, which stops
/// the rest; then any recorded process that is still there). Only those processes.
pub fn down(state_dir: &Path) -> Result<(), Error> {
    let Some(record) = Record::load(state_dir)? else {
        eprintln!("no lab is running from {}", state_dir.display());
        return Ok(());
    };
    let mut stopped = 0;
    if let Some(sup) = &record.supervisor
        && sup.signal("TERM")
    {
        eprintln!("asked lab up (pid {}) to stop", sup.pid);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while sup.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        stopped += 1;
    }
    for c in &record.components {
        if c.signal("TERM") {
            std::thread::sleep(Duration::from_millis(500));
            c.signal("KILL");
            eprintln!("stopped {} (pid {})", c.label(), c.pid);
            stopped += 1;
        }
    }
    if let Some(sup) = record.supervisor.as_ref().filter(|s| s.alive()) {
        return Err(Error::StillRunning { pid: sup.pid });
    }
    Record::remove(state_dir);
    if stopped == 0 {
        eprintln!("no lab process was running; removed the stale record");
    } else {
        eprintln!("lab stopped");
    }
    Ok(())
}

/// Where a row of `lab status` runs.
#[derive(Debug, PartialEq)]
enum At {
    /// A process of its own.
    Pid(u32),
    /// A simulated component inside `lab up`, listening here.
    Address(String),
}

/// One line of `lab status`.
#[derive(Debug, PartialEq)]
struct Row {
    label: String,
    at: At,
    running: bool,
}

/// `lab status`: each recorded process and whether the operator answers. True when all
/// run.
pub async fn status(state_dir: &Path, as_json: bool) -> Result<bool, Error> {
    let Some(record) = Record::load(state_dir)? else {
        if as_json {
            say(format_args!(
                "{}",
                json!({ "running": false, "components": [] })
            ));
        } else {
            eprintln!("no lab is running from {}", state_dir.display());
        }
        return Ok(false);
    };
    let rows = rows(&record);
    let ready = match super::https::Client::trusting(&super::https::ca_file(state_dir)) {
        Ok(http) => http
            .send(
                http::Method::GET,
                &format!("{}/readyz", record.url),
                None,
                None,
                Duration::from_secs(3),
            )
            .await
            .is_ok_and(|(status, _)| status == 200),
        Err(_) => false,
    };
    let all = rows.iter().all(|r| r.running) && ready;
    if as_json {
        say(format_args!(
            "{}",
            status_json(&record.url, &rows, ready, all)
        ));
        return Ok(all);
    }
    for row in &rows {
        let state = if row.running { "running" } else { "stopped" };
        match &row.at {
            At::Pid(pid) => say(format_args!("{:<34} pid {pid:<8} {state}", row.label)),
            At::Address(address) => say(format_args!(
                "{:<34} {address:<21} {state} (simulated flows, inside lab up)",
                row.label
            )),
        }
    }
    say(format_args!(
        "{:<34} {:<12} {}",
        "operator API",
        record.url,
        if ready { "ready" } else { "not answering" }
    ));
    Ok(all)
}

/// The recorded processes (the supervisor first), then the simulated components, which run
/// only while `lab up` does.
fn rows(record: &Record) -> Vec<Row> {
    let mut rows: Vec<Row> = record
        .supervisor
        .iter()
        .chain(&record.components)
        .map(|c| Row {
            label: c.label(),
            at: At::Pid(c.pid),
            running: c.alive(),
        })
        .collect();
    let supervisor_alive = record.supervisor.as_ref().is_some_and(Component::alive);
    rows.extend(record.simulated.iter().map(|s| Row {
        label: s.label(),
        at: At::Address(s.address.clone()),
        running: supervisor_alive && s.answers(),
    }));
    rows
}

/// `lab status --json`: processes under `components`, simulated ones under `simulated`.
fn status_json(url: &str, rows: &[Row], ready: bool, all: bool) -> serde_json::Value {
    let (mut components, mut simulated) = (Vec::new(), Vec::new());
    for row in rows {
        match &row.at {
            At::Pid(pid) => components.push(
                json!({ "name": row.label, "pid": pid, "running": row.running }),
            ),
            At::Address(address) => simulated.push(
                json!({ "name": row.label, "address": address, "running": row.running, "simulated": true }),
            ),
        }
    }
    json!({ "running": all, "url": url, "operatorReady": ready, "components": components, "simulated": simulated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::record::Simulated;

    #[test]
    fn a_record_whose_processes_are_gone_shows_every_row_stopped() {
        let me = Component::of("", "lab", std::process::id());
        let gone = Component {
            started: "Thu Jan  1 00:00:00 1970".to_owned(),
            ..Component::of("dev", "etcd", std::process::id())
        };
        let record = Record {
            supervisor: Some(me),
            components: vec![gone],
            simulated: vec![Simulated {
                cluster: "dev".into(),
                name: "hubble-sim".into(),
                address: "127.0.0.1:1".into(),
            }],
            url: "http://127.0.0.1:3000".into(),
            ..Record::default()
        };
        let rows = rows(&record);
        let pid = std::process::id();
        assert_eq!(
            rows,
            [
                Row {
                    label: "lab".into(),
                    at: At::Pid(pid),
                    running: true
                },
                Row {
                    label: "dev/etcd".into(),
                    at: At::Pid(pid),
                    running: false
                },
                Row {
                    label: "dev/hubble-sim".into(),
                    at: At::Address("127.0.0.1:1".into()),
                    running: false
                },
            ]
        );
        assert_eq!(
            status_json(&record.url, &rows, false, false),
            json!({
                "running": false,
                "url": "http://127.0.0.1:3000",
                "operatorReady": false,
                "components": [
                    { "name": "lab", "pid": pid, "running": true },
                    { "name": "dev/etcd", "pid": pid, "running": false },
                ],
                "simulated": [
                    { "name": "dev/hubble-sim", "address": "127.0.0.1:1", "running": false, "simulated": true },
                ],
            })
        );
    }

    #[test]
    fn down_and_status_without_a_record_touch_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        down(dir.path()).expect("down");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "nothing written"
        );
    }
}
