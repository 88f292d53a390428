//! What `lab up` refuses before it starts anything: a broken config, an unknown cluster, a
//! port in use and a missing operator binary each give one clear line and start nothing.
//!
//! "Nothing" is checked, not assumed: every program `lab up` could start (the Kubernetes
//! binaries, found through `TART_INFRA_KUBE_BINS`, and the operator) is a tripwire that
//! writes its name to a file when run, and the state directory must hold nothing. The last
//! test shows the tripwires fire when the input is good. Needs no Kubernetes binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{cli, repo_file, tart_infra};

mod support;

/// Stand-ins for every program `lab up` may start; each records that it ran.
struct Tripwires {
    _dir: tempfile::TempDir,
    /// Holds the stand-ins for the Kubernetes binaries.
    bins: PathBuf,
    /// The stand-in for tart-operator.
    operator: PathBuf,
    /// One line per program run.
    started: PathBuf,
}

impl Tripwires {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("dir");
        let bins = dir.path().join("bins");
        std::fs::create_dir(&bins).expect("bins");
        let started = dir.path().join("started");
        let operator = dir.path().join("tart-operator");
        let programs = [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "metrics-server",
        ]
        .map(|name| bins.join(name));
        for program in programs.iter().chain([&operator]) {
            std::fs::write(
                program,
                format!(
                    "#!/bin/sh\nbasename \"$0\" >> '{}'\nexit 1\n",
                    started.display()
                ),
            )
            .expect("write");
            std::fs::set_permissions(program, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        // kwok's stage files, which the control plane reads before it starts anything.
        let stages = bins.join("kwok-stages");
        std::fs::create_dir(&stages).expect("stages");
        for stage in [
            "node-initialize.yaml",
            "node-heartbeat-with-lease.yaml",
            "pod-ready.yaml",
            "pod-delete.yaml",
            "metrics-resource.yaml",
            "usage-from-annotation.yaml",
        ] {
            std::fs::write(stages.join(stage), "kind: Stage\n").expect("stage");
        }
        Self {
            _dir: dir,
            bins,
            operator,
            started,
        }
    }

    /// The programs that ran, in order.
    fn fired(&self) -> Vec<String> {
        std::fs::read_to_string(&self.started)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `tart-infra lab up <args> --state-dir <state>` with the tripwires as its programs.
    fn lab_up(&self, state: &Path, args: &[&str]) -> Output {
        Command::new(tart_infra())
            .args(["lab", "up"])
            .args(args)
            .arg("--state-dir")
            .arg(state)
            .env("TART_INFRA_KUBE_BINS", &self.bins)
            .output()
            .expect("run tart-infra")
    }
}

/// The files `lab up` left in its state directory (none when it does not exist).
fn left_in(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// `lab up` failed with one line containing `words`, ran no program and left no file.
fn assert_refused(out: &Output, words: &[&str], state: &Path, tripwires: &Tripwires) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(
        tripwires.fired(),
        Vec::<String>::new(),
        "lab up started programs: {err}"
    );
    assert_eq!(left_in(state), Vec::<PathBuf>::new(), "nothing recorded");
    for word in words {
        assert!(err.contains(word), "{word:?} in {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bad_input_is_one_clear_line_and_starts_nothing() {
    let tripwires = Tripwires::new();
    let operator = tripwires.operator.to_str().expect("path");
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("lab");
    let broken = dir.path().join("clusters.yaml");
    let shipped = std::fs::read_to_string(repo_file("config/clusters.yaml")).expect("config");
    std::fs::write(
        &broken,
        shipped.replacen("podCidr: 10.20.0.0/16", "podCidr: 10.10.0.0/16", 1),
    )
    .expect("write");
    let broken = broken.to_str().expect("path");
    let out = tripwires.lab_up(&state, &["--config", broken, "--operator-bin", operator]);
    assert_refused(&out, &["overlap"], &state, &tripwires);

    let config = repo_file("config/clusters.yaml");
    let config = config.to_str().expect("path");
    let out = tripwires.lab_up(
        &state,
        &[
            "--config",
            config,
            "--clusters",
            "qa",
            "--operator-bin",
            operator,
        ],
    );
    assert_refused(&out, &["qa", "dev"], &state, &tripwires);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = tripwires.lab_up(
        &state,
        &[
            "--config",
            config,
            "--http-addr",
            &addr,
            "--operator-bin",
            operator,
        ],
    );
    assert_refused(&out, &[&addr, "in use"], &state, &tripwires);
    assert!(!state.join("lab.json").exists(), "nothing recorded");

    let out = tripwires.lab_up(
        &state,
        &[
            "--config",
            config,
            "--operator-bin",
            "/nonexistent/tart-operator",
        ],
    );
    assert_refused(
        &out,
        &[
            "/nonexistent/tart-operator",
            "cargo build --release -p operator",
        ],
        &state,
        &tripwires,
    );

    let out = cli(&["down"], &state);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no lab is running"),
        "{out:?}"
    );
}

/// The control for the test above: with good input the same tripwires fire (etcd and the
/// API server "exit" at once), so a `lab up` that started anything would be caught.
#[test]
fn the_tripwires_fire_when_the_input_is_good() {
    let tripwires = Tripwires::new();
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("lab");
    let config = repo_file("config/clusters.yaml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = tripwires.lab_up(
        &state,
        &[
            "--config",
            config.to_str().expect("path"),
            "--clusters",
            "platform",
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--operator-bin",
            tripwires.operator.to_str().expect("path"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("cluster platform: ") && err.contains(" exited"),
        "{err}"
    );
    assert!(!tripwires.fired().is_empty(), "{err}");
    assert!(
        !state.join("lab.json").exists(),
        "the record goes with the lab: {err}"
    );
}
