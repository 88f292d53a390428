//! `lab.json` in the state directory: which processes a running `lab up` started, so that
//! `lab down` and `lab status` in another shell find them. A process is identified by its
//! pid *and* its start time, so a pid the system has reused for something else is never
//! signalled.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// One process the lab started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// The cluster it belongs to (empty for the operator and the lab itself).
    pub cluster: String,
    /// etcd, kube-apiserver, ..., tart-operator, lab.
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Its start time as `ps -o lstart=` prints it.
    pub started: String,
}

/// A simulated component that runs inside the `lab up` process (no process of its own),
/// such as a cluster's simulated Hubble Relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Simulated {
    /// The cluster it belongs to.
    pub cluster: String,
    /// `hubble-sim`.
    pub name: String,
    /// Where it listens (loopback).
    pub address: String,
}

impl Simulated {
    /// `cluster/name`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.cluster, self.name)
    }

    /// Whether it accepts connections (it runs inside `lab up`, so this is a loopback
    /// connect, not a pid).
    pub fn answers(&self) -> bool {
        self.address
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|addr| {
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
                    .is_ok()
            })
    }
}

/// The record of a running lab.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The `lab up` process (it owns every other one).
    pub supervisor: Option<Component>,
    /// The processes it started.
    pub components: Vec<Component>,
    /// What it simulates inside its own process.
    #[serde(default)]
    pub simulated: Vec<Simulated>,
    /// The operator's address (dashboard and API).
    pub url: String,
    /// Admin kubeconfig per cluster.
    pub kubeconfigs: Vec<(String, PathBuf)>,
}

/// Why the record cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file is not a record.
    #[error("{} is not a lab record ({source}); if no lab runs, delete it", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be read.
    #[error("reading {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("writing {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The record's path in a state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("lab.json")
}

impl Record {
    /// Reads the record; `None` when there is none.
    pub fn load(state_dir: &Path) -> Result<Option<Self>, RecordError> {
        let path = path(state_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|source| RecordError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RecordError::Read { path, source }),
        }
    }

    /// Writes the record (atomically: a reader never sees half of it).
    pub fn save(&self, state_dir: &Path) -> Result<(), RecordError> {
        let path = path(state_dir);
        let tmp = path.with_extension("json.tmp");
        // Only a path that is not UTF-8 cannot be written as JSON: a write error too.
        let text = serde_json::to_vec_pretty(self).map_err(std::io::Error::from);
        text.and_then(|text| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| RecordError::Write { path, source })
    }

    /// Removes the record.
    pub fn remove(state_dir: &Path) {
        let _ = std::fs::remove_file(path(state_dir));
    }
}

/// The start time of a running process, or `None` when no process has that pid or it has
/// exited and waits to be reaped (a zombie).
pub fn start_time(pid: u32) -> Option<String> {
    let out = Command::new("ps")
        .args(["-o", "stat=", "-o", "lstart=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (stat, started) = text.split_once(char::is_whitespace)?;
    (out.status.success() && !stat.starts_with('Z')).then(|| started.trim().to_owned())
}

impl Component {
    /// Describes a running process.
    pub fn of(cluster: &str, name: &str, pid: u32) -> Self {
        Self {
            cluster: cluster.to_owned(),
            name: name.to_owned(),
            pid,
            started: start_time(pid).unwrap_or_default(),
        }
    }

    /// Whether this very process still runs (same pid, same start time).
    pub fn alive(&self) -> bool {
        start_time(self.pid).is_some_and(|s| s == self.started)
    }

    /// Sends a signal (`TERM`, `KILL`) if this very process still runs.
    pub fn signal(&self, signal: &str) -> bool {
        self.alive()
            && Command::new("kill")
                .args([&format!("-{signal}"), &self.pid.to_string()])
                .status()
                .is_ok_and(|s| s.success())
    }

    /// `cluster/name` or `name`.
    pub fn label(&self) -> String {
        if self.cluster.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.cluster, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_its_pid_and_start_time() {
        let me = Component::of("", "test", std::process::id());
        assert!(!me.started.is_empty());
        assert!(me.alive());
        let reused = Component {
            started: "Thu Jan  1 00:00:00 1970".to_owned(),
            ..me.clone()
        };
        assert!(!reused.alive(), "a different start time is another process");
        assert!(!reused.signal("TERM"));
    }

    #[test]
    fn an_exited_process_is_not_alive_even_before_it_is_reaped() {
        let mut child = Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // The child exits at once; until `wait` it is a zombie.
        while start_time(pid).is_some() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(start_time(pid), None);
        child.wait().expect("reap");
    }

    #[test]
    fn the_record_round_trips_and_a_broken_one_says_what_to_do() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(Record::load(dir.path()).expect("none"), None);
        let record = Record {
            supervisor: Some(Component::of("", "lab", std::process::id())),
            url: "http://127.0.0.1:3000".into(),
            simulated: vec![Simulated {
                cluster: "dev".into(),
                name: "hubble-sim".into(),
                address: "127.0.0.1:40000".into(),
            }],
            ..Record::default()
        };
        record.save(dir.path()).expect("save");
        assert_eq!(Record::load(dir.path()).expect("load"), Some(record));
        std::fs::write(path(dir.path()), "{").expect("write");
        let err = Record::load(dir.path()).expect_err("broken").to_string();
        assert!(err.contains("if no lab runs, delete it"), "{err}");
        Record::remove(dir.path());
        assert_eq!(Record::load(dir.path()).expect("gone"), None);
        // A record written before simulated components were recorded still loads.
        std::fs::write(
            path(dir.path()),
            r#"{"supervisor":null,"components":[],"url":"u","kubeconfigs":[]}"#,
        )
        .expect("write");
        assert!(
            Record::load(dir.path())
                .expect("old")
                .is_some_and(|r| r.simulated.is_empty())
        );
    }

    #[test]
    fn a_simulated_component_answers_on_its_loopback_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let sim = Simulated {
            cluster: "dev".into(),
            name: "hubble-sim".into(),
            address: listener.local_addr().expect("addr").to_string(),
        };
        assert_eq!(sim.label(), "dev/hubble-sim");
        assert!(sim.answers());
        drop(listener);
        // A closed port does not answer, unless a parallel test's listener took it in
        // between: try a few freshly closed ports (a check that always answers fails).
        let silent = (0..10).any(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            !Simulated {
                address: port.to_string(),
                ..sim.clone()
            }
            .answers()
        });
        assert!(silent, "a closed port answers");
        assert!(
            !Simulated {
                address: "not an address".into(),
                ..sim
            }
            .answers()
        );
    }
}
