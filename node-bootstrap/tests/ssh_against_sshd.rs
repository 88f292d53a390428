//! The SSH client against a real OpenSSH server that each test starts itself.

mod support;

use std::process::Command;
use std::time::Duration;

use node_bootstrap::script::Script;
use node_bootstrap::ssh::{SshError, TAIL_LINES};
use node_bootstrap::steps;
use support::{Sshd, client_in, free_port, read_host_key};

/// Starts sshd authorising a fresh client key, pins the server's key for `vm`, returns
/// both. `None` when sshd is missing outside CI.
fn pinned_setup(vm: &str) -> Option<(Sshd, tempfile::TempDir, node_bootstrap::ssh::SshClient)> {
    let client_dir = tempfile::tempdir().expect("tempdir");
    let (client, key, known_hosts) = client_in(client_dir.path());
    let sshd = Sshd::start(&[key.public_key_line()])?;
    known_hosts
        .pin(vm, std::slice::from_ref(&sshd.host_key))
        .expect("pin");
    Some((sshd, client_dir, client))
}

#[tokio::test]
async fn runs_a_script_and_returns_exit_code_stdout_and_stderr() {
    let Some((sshd, _dir, client)) = pinned_setup("dev-master") else {
        return;
    };
    let session = client
        .connect(&sshd.target("dev-master"))
        .await
        .unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", sshd.log()));
    let hostile = "it's $(echo pwned) `id` \"q\" \\ \n second line";
    let script = Script::new(
        "echo",
        "set -euo pipefail\nprintf '%s' \"$VALUE\"\necho to-stderr >&2\nexit 3\n",
    )
    .input("VALUE", hostile)
    .expect("valid");
    let output = session.run(&script).await.expect("ran");
    assert_eq!(output.exit_code, Some(3));
    assert_eq!(output.stdout, hostile);
    assert_eq!(output.stderr, "to-stderr\n");
    assert!(!output.success());

    // The session stays usable for the next script.
    let whoami = session
        .run(&Script::new("whoami", "set -euo pipefail\nid -un\n"))
        .await
        .expect("ran");
    assert_eq!(
        (whoami.exit_code, whoami.stdout.as_str()),
        (Some(0), "root\n")
    );
    session.close().await.expect("closed");
}

#[tokio::test]
async fn a_failing_script_is_an_error_with_the_tail_of_its_stderr() {
    let Some((sshd, _dir, client)) = pinned_setup("dev-worker1") else {
        return;
    };
    let session = client
        .connect(&sshd.target("dev-worker1"))
        .await
        .expect("connected");
    let script = Script::new(
        "noisy-failure",
        "set -euo pipefail\nfor i in $(seq 1 50); do echo \"stderr line $i\" >&2; done\nfalse\necho unreachable\n",
    );
    let err = session.run_checked(&script).await.expect_err("fails");
    let SshError::CommandFailed {
        vm,
        script,
        exit_code,
        stderr_tail,
        ..
    } = &err
    else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(
        (vm.as_str(), script.as_str(), *exit_code),
        ("dev-worker1", "noisy-failure", Some(1))
    );
    let lines: Vec<&str> = stderr_tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES);
    assert_eq!(lines.first(), Some(&"stderr line 31"));
    assert_eq!(lines.last(), Some(&"stderr line 50"));
    assert!(err.to_string().starts_with(
        "script `noisy-failure` failed on VM `dev-worker1` (exit code 1). Last lines of its stderr:\nstderr line 31\n"
    ));
}

#[tokio::test]
async fn a_changed_host_key_is_refused_naming_the_vm_and_the_forget_command() {
    let Some((sshd, dir, client)) = pinned_setup("dev-master") else {
        return;
    };
    // Pin another key for the VM, as if the VM had been replaced behind our back.
    let other = dir.path().join("other_host_key");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen");
    assert!(keygen.success());
    let other_key = read_host_key(&dir.path().join("other_host_key.pub")).expect("key");
    node_bootstrap::ssh::KnownHostsFile::new(dir.path().join("client/known_hosts"))
        .pin("dev-master", std::slice::from_ref(&other_key))
        .expect("pin");

    let err = client
        .connect(&sshd.target("dev-master"))
        .await
        .expect_err("refused");
    let SshError::HostKeyChanged {
        vm,
        expected,
        presented,
        ..
    } = &err
    else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(vm, "dev-master");
    assert!(expected.starts_with("SHA256:"), "{expected}");
    assert!(presented.starts_with("ssh-ed25519 SHA256:"), "{presented}");
    assert_ne!(expected, presented.trim_start_matches("ssh-ed25519 "));
    let message = err.to_string();
    assert!(message.contains("VM `dev-master`"), "{message}");
    assert!(
        message.contains("`tart-infra ssh forget dev-master`"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unpinned_vm_is_refused_before_any_connection() {
    let Some((sshd, _dir, client)) = pinned_setup("dev-master") else {
        return;
    };
    // The same server under another VM name: its key is pinned, but not for this name,
    // so no connection is even tried (sshd logs none).
    let err = client
        .connect(&sshd.target("dev-worker1"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, SshError::NotPinned { vm, .. } if vm == "dev-worker1"),
        "{err}"
    );
    assert!(
        err.to_string().contains("never trusts a key on first use"),
        "{err}"
    );
    assert!(!sshd.log().contains("Connection from"), "{}", sshd.log());
}

#[tokio::test]
async fn a_key_the_vm_does_not_authorise_is_an_auth_error_naming_key_and_user() {
    let client_dir = tempfile::tempdir().expect("tempdir");
    let (client, key, known_hosts) = support::client_in(client_dir.path());
    let stranger_dir = tempfile::tempdir().expect("tempdir");
    let (_, stranger, _) = support::client_in(stranger_dir.path());
    let Some(sshd) = Sshd::start(&[stranger.public_key_line()]) else {
        return;
    };
    known_hosts
        .pin("dev-master", std::slice::from_ref(&sshd.host_key))
        .expect("pin");
    let err = client
        .connect(&sshd.target("dev-master"))
        .await
        .expect_err("refused");
    let SshError::AuthRefused {
        vm,
        user,
        key: key_origin,
        fingerprint,
    } = &err
    else {
        panic!("unexpected error: {err}\nsshd log:\n{}", sshd.log());
    };
    assert_eq!((vm.as_str(), user.as_str()), ("dev-master", "root"));
    assert_eq!(key_origin, key.origin());
    assert_eq!(fingerprint, key.fingerprint());
    let message = err.to_string();
    assert!(
        message.contains(key.origin()) && message.contains("for user `root`"),
        "{message}"
    );
}

#[tokio::test]
async fn connection_refused_names_the_address() {
    let client_dir = tempfile::tempdir().expect("tempdir");
    let (client, _key, known_hosts) = support::client_in(client_dir.path());
    known_hosts
        .pin(
            "dev-master",
            &[vm_api::HostKey {
                algorithm: "ssh-ed25519".into(),
                key: "AAAAC3NzaC1lZDI1NTE5AAAAIFSNFr2Wh1g+EtEGXfjKeyaujk0qM6Vuya6MkC3JcSEC".into(),
            }],
        )
        .expect("pin");
    let port = free_port().expect("port");
    let target = node_bootstrap::ssh::SshTarget::new("dev-master", [127, 0, 0, 1].into(), "root")
        .with_port(port);
    let err = client.connect(&target).await.expect_err("refused");
    assert!(matches!(err, SshError::ConnectionRefused { .. }), "{err}");
    assert!(err.is_transient());
    assert!(
        err.to_string().starts_with(&format!(
            "cannot connect to VM `dev-master` at 127.0.0.1:{port}: connection refused"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_speaks_ssh_is_a_connect_timeout() {
    let client_dir = tempfile::tempdir().expect("tempdir");
    let (client, _key, known_hosts) = support::client_in(client_dir.path());
    known_hosts
        .pin(
            "dev-master",
            &[vm_api::HostKey {
                algorithm: "ssh-ed25519".into(),
                key: "AAAAC3NzaC1lZDI1NTE5AAAAIFSNFr2Wh1g+EtEGXfjKeyaujk0qM6Vuya6MkC3JcSEC".into(),
            }],
        )
        .expect("pin");
    // Accepts the TCP connection and then says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let _accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let client = client.with_config(node_bootstrap::ssh::ClientConfig {
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(5),
    });
    let target = node_bootstrap::ssh::SshTarget::new("dev-master", [127, 0, 0, 1].into(), "root")
        .with_port(port);
    let err = client.connect(&target).await.expect_err("times out");
    assert!(
        matches!(&err, SshError::ConnectTimeout { address, secs: 1, .. } if *address == format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_script_past_its_timeout_is_stopped_with_what_it_printed() {
    let Some((sshd, _dir, client)) = pinned_setup("dev-master") else {
        return;
    };
    let session = client
        .connect(&sshd.target("dev-master"))
        .await
        .expect("connected");
    let script = Script::new("slow", "set -euo pipefail\necho waiting >&2\nsleep 30\n")
        .timeout(Duration::from_secs(4));
    let err = session.run(&script).await.expect_err("times out");
    assert!(
        matches!(&err, SshError::CommandTimeout { script, secs: 4, stderr_tail, .. } if script == "slow" && stderr_tail == "waiting"),
        "{err}"
    );
    // The connection is still good for the next script.
    let again = session
        .run(&Script::new("true", "set -euo pipefail\ntrue\n"))
        .await
        .expect("ran");
    assert!(again.success());
}

/// The check-before-act contract, on scripts that are harmless to run here: the real
/// update-endpoint step on a hosts file of the test's own, and a node-prepare-like script
/// whose "system change" is a file in the temporary directory.
#[tokio::test]
async fn steps_run_twice_change_things_once() {
    let Some((sshd, _dir, client)) = pinned_setup("dev-worker1") else {
        return;
    };
    let session = client
        .connect(&sshd.target("dev-worker1"))
        .await
        .expect("connected");

    let hosts = sshd.path("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").expect("write");
    let update = steps::update_endpoint("api.dev.tart-infra.internal", [192, 168, 64, 5].into())
        .and_then(|s| s.input("HOSTS_FILE", hosts.display().to_string()))
        .expect("valid");
    let first = session.run_checked(&update).await.expect("first run");
    let after_first = std::fs::read_to_string(&hosts).expect("read");
    let second = session.run_checked(&update).await.expect("second run");
    assert_eq!(
        (first.stdout.as_str(), second.stdout.as_str()),
        ("changed\n", "unchanged\n")
    );
    assert_eq!(std::fs::read_to_string(&hosts).expect("read"), after_first);
    assert!(
        after_first.contains("\n192.168.64.5 api.dev.tart-infra.internal\n"),
        "{after_first}"
    );

    let state = sshd.path("node-state");
    let prepare_like = Script::new(
        "prepare-like",
        "set -euo pipefail\nCHANGED=0\n\
         ensure_file \"$STATE/modules.conf\" $'overlay\\nbr_netfilter' 0644\n\
         if [[ ! -f $STATE/counter ]]; then echo 1 >\"$STATE/counter\"; CHANGED=1; fi\n\
         if ((CHANGED)); then echo changed; else echo unchanged; fi\n",
    )
    .library(steps::common_library())
    .input("STATE", state.display().to_string())
    .expect("valid");
    std::fs::create_dir_all(&state).expect("mkdir");
    let runs: Vec<String> = [
        session
            .run_checked(&prepare_like)
            .await
            .expect("run 1")
            .stdout,
        session
            .run_checked(&prepare_like)
            .await
            .expect("run 2")
            .stdout,
    ]
    .into();
    assert_eq!(runs, ["changed\n", "unchanged\n"]);
    assert_eq!(
        std::fs::read_to_string(state.join("modules.conf")).expect("read"),
        "overlay\nbr_netfilter\n"
    );
}

#[test]
fn a_generated_key_is_read_by_ssh_keygen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("id_ed25519");
    let key = node_bootstrap::keys::ensure_key(&path).expect("generated");
    let Ok(derived) = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
    else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "ssh-keygen is missing; install openssh-server (scripts/install-test-deps does)"
        );
        eprintln!("SKIPPED: ssh-keygen is missing");
        return;
    };
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let derived = String::from_utf8_lossy(&derived.stdout);
    let mut ours = key.public_key_line().split_whitespace();
    let mut theirs = derived.split_whitespace();
    assert_eq!((ours.next(), ours.next()), (theirs.next(), theirs.next()));
}
