//! The VM API end to end: `AgentClient` → HTTPS → `tart-infra serve` (the real binary) →
//! `TartCli` → a `tart` on PATH.
//!
//! That `tart` is the tart TEST DOUBLE (`tart-double/`, Tart's CLI contract with Tart's
//! formats and error texts; its VMs are real sshd servers on 127.x.y.N) behind a wrapper
//! (`support/double.rs`) that gives it this test's home and subnet, records every call in
//! `calls`, and reads the double's knobs (version, VM limit, boot delay) from files. Every
//! case runs on the double; none needs a stand-in.

#[path = "support/double.rs"]
mod double;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_agent::vm::{TartCli, TartOptions};
use vm_api::{
    AgentClient, Fingerprint, Networking, Resources, VmBackend, VmError, VmSpec, VmState,
};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk7cE1xdFhO0oZb2iHfTw1F7q3m6vQ5cZ0zZ0zZ0zZ0 tart-infra";

/// A temporary directory with the double's wrapper as `bin/tart`, Tart's home in `tart/`,
/// and the wrapper's knobs and `calls` at the top.
struct Sandbox {
    dir: tempfile::TempDir,
    subnet: String,
}

impl Sandbox {
    /// `None` when the machine cannot run the double (a panic with `CI=true`).
    fn new(version: &str) -> Option<Self> {
        let tart = double::prerequisites(false)?;
        let dir = tempfile::Builder::new()
            .prefix("vm-api-")
            .tempdir()
            .expect("dir");
        let subnet = double::subnet();
        let sandbox = Self { dir, subnet };
        double::write_wrapper(
            &sandbox.bin().join("tart"),
            &tart,
            &sandbox.home(),
            &sandbox.subnet,
            sandbox.dir.path(),
        );
        sandbox.knob("version", version);
        Some(sandbox)
    }

    /// Sets one of the double's knobs (`support/double.rs`).
    fn knob(&self, name: &str, value: &str) {
        std::fs::write(self.dir.path().join(name), value).expect("knob");
    }

    fn clear_knob(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("knob");
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("tart")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn vm_file(&self, vm: &str, file: &str) -> PathBuf {
        self.home().join("vms").join(vm).join(file)
    }

    fn read(&self, vm: &str, file: &str) -> String {
        std::fs::read_to_string(self.vm_file(vm, file)).unwrap_or_default()
    }

    /// What the double keeps about a running VM (`run.json`).
    fn run_state(&self, vm: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(vm, "run.json")).expect("run.json")
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }

    /// `tart-infra serve` with the wrapper first on PATH and no reserve.
    fn serve(&self, extra: &[&str]) -> Command {
        let path = format!(
            "{}:{}",
            self.bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(env!("CARGO_BIN_EXE_tart-infra"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--reserve-cpu", "0"])
            .args(["--reserve-memory-mib", "0", "--state-dir"])
            .arg(self.state())
            .args(extra)
            .env("PATH", path)
            .env("TART_HOME", self.home())
            .env_remove("TART_INFRA_SERVE_DIR")
            .env_remove("TART_INFRA_TART_BIN")
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Sandbox {
    /// VMs outlive the agent by design: stop this test's.
    fn drop(&mut self) {
        double::stop_all(&self.bin().join("tart"));
    }
}

/// A running agent and a client of it.
struct Agent {
    child: Child,
    client: AgentClient,
    url: String,
    token: String,
    fingerprint: Fingerprint,
    sandbox: Sandbox,
}

impl Agent {
    /// `None` when the machine cannot run the double (a panic with `CI=true`). The stats
    /// collector ticks once at the start and then every 300 s: its own `tart` calls (list,
    /// ip, exec) stay out of the `calls` these tests count.
    fn start() -> Option<Self> {
        Self::start_with(&["--stats-interval", "300"])
    }

    /// [`Agent::start`] with more flags for `tart-infra serve`.
    fn start_with(flags: &[&str]) -> Option<Self> {
        let sandbox = Sandbox::new("2.32.1")?;
        let log = std::fs::File::create(sandbox.dir.path().join("serve.log")).expect("log");
        let mut child = sandbox
            .serve(flags)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tart-infra serve");
        let record = sandbox.state().join("serve.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        let record: serde_json::Value = loop {
            if let Some(value) = std::fs::read(&record)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                break value;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited with {status}: {}",
                    std::fs::read_to_string(sandbox.dir.path().join("serve.log"))
                        .unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "no serve.json after 60 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        let url = record["url"].as_str().expect("url").to_owned();
        let fingerprint: Fingerprint = record["fingerprint"]
            .as_str()
            .expect("fingerprint")
            .parse()
            .expect("a fingerprint");
        assert_eq!(record["pid"].as_u64(), Some(u64::from(child.id())));
        let token = std::fs::read_to_string(sandbox.state().join("token")).expect("token");
        let client = AgentClient::new(&url, &token, fingerprint).expect("client");
        Some(Self {
            child,
            client,
            url,
            token,
            fingerprint,
            sandbox,
        })
    }

    /// SIGTERM, and how it ended.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

fn spec(name: &str, cpu: u32, memory_mib: u64) -> VmSpec {
    VmSpec {
        name: name.to_owned(),
        image: "ghcr.io/cirruslabs/ubuntu:latest".to_owned(),
        resources: Resources {
            cpu,
            memory_mib,
            disk_gib: 30,
        },
        networking: Networking::Softnet,
    }
}

#[tokio::test]
async fn a_vm_goes_through_its_life_over_the_api() {
    let Some(mut agent) = Agent::start() else {
        return;
    };
    let api = &agent.client;
    let sandbox = &agent.sandbox;
    assert_eq!(
        api.list().await.expect("list"),
        vec![],
        "the OCI image is not a VM"
    );

    let created = api
        .create(&spec("dev-cp-0", 1, 1024))
        .await
        .expect("create");
    assert_eq!(created.state, VmState::Stopped);
    assert_eq!(
        created.resources,
        Resources {
            cpu: 1,
            memory_mib: 1024,
            disk_gib: 30
        }
    );
    let calls = sandbox.calls();
    assert!(
        calls.contains("clone ghcr.io/cirruslabs/ubuntu:latest dev-cp-0")
            && calls.contains("set dev-cp-0 --cpu 1 --memory 1024 --disk-size 30 --random-mac"),
        "{calls}"
    );
    assert_eq!(
        api.create(&spec("dev-cp-0", 1, 1024)).await.expect("again"),
        created
    );
    match api.create(&spec("dev-cp-0", 1, 2048)).await {
        Err(VmError::SpecMismatch {
            have_memory_mib: 1024,
            want_memory_mib: 2048,
            ..
        }) => {}
        other => panic!("not a mismatch: {other:?}"),
    }
    assert_eq!(
        api.get("dev-cp-0").await.expect("get"),
        Some(created.clone())
    );
    assert_eq!(api.get("nope").await.expect("get"), None);

    api.start("dev-cp-0").await.expect("start");
    assert!(
        sandbox
            .calls()
            .lines()
            .any(|l| l == "run --no-graphics --net-softnet --net-softnet-allow=0.0.0.0/0 dev-cp-0"),
        "{}",
        sandbox.calls()
    );
    assert!(
        sandbox.state().join("vms/dev-cp-0.log").is_file(),
        "run's output goes to its log"
    );
    api.start("dev-cp-0")
        .await
        .expect("starting a running VM does nothing");
    let listed = api.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, VmState::Running);

    let ip = api
        .ip("dev-cp-0", Duration::from_secs(5))
        .await
        .expect("ip");
    assert!(
        ip.to_string().starts_with(&format!("{}.", sandbox.subnet)),
        "{ip} is not in {}",
        sandbox.subnet
    );
    assert_eq!(sandbox.run_state("dev-cp-0")["ip"], ip.to_string());
    assert!(
        sandbox
            .calls()
            .lines()
            .any(|l| l.starts_with("ip ") && l.ends_with(" --resolver dhcp dev-cp-0")),
        "{}",
        sandbox.calls()
    );

    // root: the double's VMs log in as root (a Cirrus Labs image's `admin` would need a
    // home directory on the host).
    let keys = api
        .authorize_ssh("dev-cp-0", "root", KEY)
        .await
        .expect("authorize");
    // The VM's own host key, the one its sshd presents.
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].algorithm, "ssh-ed25519");
    let host_key = sandbox.read("dev-cp-0", "root/etc/ssh/ssh_host_ed25519_key.pub");
    assert_eq!(
        host_key.split_whitespace().nth(1),
        Some(keys[0].key.as_str())
    );
    api.authorize_ssh("dev-cp-0", "root", KEY)
        .await
        .expect("again");
    assert_eq!(
        sandbox.read("dev-cp-0", "root/root/.ssh/authorized_keys"),
        format!("{KEY}\n"),
        "once"
    );

    let capacity = api.capacity().await.expect("capacity");
    assert_eq!(capacity.allocated.cpu, 1);
    assert_eq!(capacity.allocated.memory_mib, 1024);
    assert_eq!(
        (capacity.running.cpu, capacity.running.memory_mib),
        (1, 1024)
    );
    assert!(capacity.host.cpu >= 1);

    api.stop("dev-cp-0", Duration::from_secs(5))
        .await
        .expect("stop");
    assert_eq!(
        api.get("dev-cp-0")
            .await
            .expect("get")
            .map(|v| (v.state, v.failure)),
        Some((VmState::Stopped, None)),
        "a stop asked for is no failure"
    );
    api.stop("dev-cp-0", Duration::from_secs(5))
        .await
        .expect("stopping a stopped VM does nothing");
    assert!(matches!(
        api.ip("dev-cp-0", Duration::ZERO).await,
        Err(VmError::NotRunning { .. })
    ));
    assert!(matches!(
        api.authorize_ssh("dev-cp-0", "root", KEY).await,
        Err(VmError::NotRunning { .. })
    ));

    api.delete("dev-cp-0").await.expect("delete");
    assert_eq!(api.get("dev-cp-0").await.expect("get"), None);
    api.delete("dev-cp-0")
        .await
        .expect("deleting a missing VM does nothing");
    assert!(matches!(
        api.start("dev-cp-0").await,
        Err(VmError::NotFound { .. })
    ));

    // Shutdown leaves VMs running and removes serve.json.
    api.create(&spec("dev-w-0", 1, 1024)).await.expect("create");
    api.start("dev-w-0").await.expect("start");
    let pid = sandbox.run_state("dev-w-0")["pid"].to_string();
    let status = agent.terminate();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status}");
    assert!(!agent.sandbox.state().join("serve.json").exists());
    let alive = Command::new("kill")
        .args(["-0", pid.trim()])
        .status()
        .expect("kill -0");
    assert!(
        alive.success(),
        "the VM keeps running after the agent stops"
    );
}

#[tokio::test]
async fn only_the_token_and_the_pinned_certificate_are_trusted() {
    let Some(agent) = Agent::start() else {
        return;
    };
    let wrong = AgentClient::new(&agent.url, "not-the-token", agent.fingerprint).expect("client");
    assert!(matches!(
        wrong.list().await,
        Err(VmError::Unauthorized { .. })
    ));
    let almost = &agent.token[..agent.token.len() - 1];
    let almost = AgentClient::new(&agent.url, almost, agent.fingerprint).expect("client");
    assert!(matches!(
        almost.capacity().await,
        Err(VmError::Unauthorized { .. })
    ));

    // Without a token (curl, not the client, which always sends one): 401, but /healthz answers.
    let code = |path: &str| {
        let out = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}{path}", agent.url))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(code("/v1/vms"), "401");
    assert_eq!(code("/v1/capacity"), "401");
    assert_eq!(code("/healthz"), "200");

    // Another certificate is refused, whatever the token.
    let other = Fingerprint::of_der(b"another certificate");
    let pinned_elsewhere = AgentClient::new(&agent.url, &agent.token, other).expect("client");
    match pinned_elsewhere.list().await {
        Err(VmError::Unreachable { detail, .. }) => {
            assert!(detail.contains("not the pinned"), "{detail}")
        }
        other => panic!("not refused: {other:?}"),
    }
    let pem = std::fs::read_to_string(agent.sandbox.state().join("serve-cert.pem")).expect("pem");
    let by_pem = AgentClient::with_certificate_pem(&agent.url, &agent.token, &pem).expect("client");
    by_pem
        .list()
        .await
        .expect("the PEM pins the same certificate");
}

#[tokio::test]
async fn a_vm_that_would_overcommit_the_host_is_refused_with_the_numbers() {
    let Some(agent) = Agent::start() else {
        return;
    };
    let api = &agent.client;
    let host = api.capacity().await.expect("capacity").host;

    match api.create(&spec("too-big", host.cpu + 1, 1024)).await {
        Err(VmError::CapacityExceeded {
            vm,
            need_cpu,
            free_cpu,
            host_cpu,
            ..
        }) => {
            assert_eq!((vm.as_str(), need_cpu), ("too-big", host.cpu + 1));
            assert_eq!((free_cpu, host_cpu), (host.cpu, host.cpu));
        }
        other => panic!("not refused: {other:?}"),
    }
    assert_eq!(
        api.get("too-big").await.expect("get"),
        None,
        "nothing was created"
    );

    // Both fit while nothing runs; once the first runs, the second no longer does.
    api.create(&spec("big", host.cpu, 1024))
        .await
        .expect("create big");
    api.create(&spec("small", 1, 1024))
        .await
        .expect("create small");
    api.start("big").await.expect("start big");
    match api.start("small").await {
        Err(VmError::CapacityExceeded {
            need_cpu: 1,
            free_cpu: 0,
            ..
        }) => {}
        other => panic!("not refused: {other:?}"),
    }
    let memory = api.create(&spec("hungry", 1, host.memory_mib + 1)).await;
    assert!(
        matches!(memory, Err(VmError::CapacityExceeded { .. })),
        "{memory:?}"
    );
}

#[tokio::test]
async fn tarts_failures_come_back_as_typed_errors() {
    let Some(agent) = Agent::start() else {
        return;
    };
    let api = &agent.client;
    let sandbox = &agent.sandbox;
    api.create(&spec("a", 1, 1024)).await.expect("create");

    // The VM limit of Virtualization.framework, from `tart run`'s own output.
    api.create(&spec("z", 1, 1024)).await.expect("create");
    api.start("z").await.expect("start");
    sandbox.knob("max_running", "1");
    match api.start("a").await {
        Err(VmError::LimitReached { vm, detail }) => {
            assert_eq!(vm, "a");
            assert!(detail.contains("other running VMs: z"), "{detail}");
        }
        other => panic!("not the limit: {other:?}"),
    }
    sandbox.clear_knob("max_running");
    api.stop("z", Duration::from_secs(5)).await.expect("stop");

    // Running but still booting: Tart has no address for it yet.
    sandbox.knob("delays", "boot=60");
    api.start("a").await.expect("start");
    assert_eq!(
        api.ip("a", Duration::from_secs(1)).await,
        Err(VmError::NoIp {
            vm: "a".into(),
            waited_secs: 1
        })
    );
    api.stop("a", Duration::from_secs(5)).await.expect("stop");
    sandbox.clear_knob("delays");

    // A `tart run` that ends on its own (the guest died: the double's is its sshd) is
    // the VM's failure, with the end of its log.
    api.start("a").await.expect("start");
    api.ip("a", Duration::from_secs(60)).await.expect("booted");
    let guest = sandbox.run_state("a")["initPid"].to_string();
    let killed = Command::new("kill")
        .args(["-KILL", &guest])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let failure = loop {
        let vm = api.get("a").await.expect("get").expect("exists");
        if let Some(failure) = vm.failure {
            assert_eq!(vm.state, VmState::Stopped);
            break failure;
        }
        assert!(Instant::now() < deadline, "the exit was not noticed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        failure.contains("VM exited unexpectedly") && failure.contains("VM a exited unexpectedly"),
        "{failure}"
    );
    match api.ip("a", Duration::ZERO).await {
        Err(VmError::Exited { vm, detail }) => {
            assert_eq!(vm, "a");
            assert!(detail.contains("VM a exited unexpectedly"), "{detail}");
        }
        other => panic!("not Exited: {other:?}"),
    }
    // Starting again clears the failure.
    api.start("a").await.expect("start again");
    assert_eq!(
        api.get("a").await.expect("get").and_then(|v| v.failure),
        None
    );

    // An image Tart cannot find is a bad image, not a missing VM.
    let mut missing = spec("c", 1, 1024);
    missing.image = "missing-image".into();
    match api.create(&missing).await {
        Err(VmError::Invalid { field, message }) => {
            assert_eq!(field, "image");
            assert!(message.contains("missing-image"), "{message}");
        }
        other => panic!("not a bad image: {other:?}"),
    }

    // Bad input is refused before tart is called, naming the field.
    let mut bad = spec("b", 0, 1024);
    bad.image = "--net-host".into();
    let calls = sandbox.calls().lines().count();
    for (result, field) in [
        (api.create(&spec("b", 1, 100)).await.err(), "memoryMiB"),
        (api.authorize_ssh("a", "root; rm", KEY).await.err(), "user"),
    ] {
        match result {
            Some(VmError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(
        sandbox.calls().lines().count(),
        calls,
        "tart was not called"
    );
}

#[tokio::test]
async fn a_missing_or_old_tart_is_refused_at_start() {
    let Some(old) = Sandbox::new("2.20.0") else {
        return;
    };
    let mut options = TartOptions::new(old.state());
    options.bin = old.bin().join("tart");
    assert_eq!(
        TartCli::new(options.clone()).await.err(),
        Some(VmError::TartTooOld {
            found: "2.20.0".into(),
            required: "2.27.0".into()
        })
    );
    options.bin = old.bin().join("missing");
    assert_eq!(
        TartCli::new(options).await.err(),
        Some(VmError::TartMissing)
    );

    // The agent does not start without a usable tart, and says why.
    let out = old.serve(&[]).output().expect("serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tart 2.20.0 is too old") && stderr.contains("2.27.0"),
        "{stderr}"
    );
    let out = old
        .serve(&["--tart-bin", "/nonexistent/tart"])
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not installed"), "{stderr}");
    assert!(!old.state().join("serve.json").exists());
    assert!(
        Path::new(&old.state()).join("token").exists(),
        "the token is made first"
    );
}

/// A running VM's figures through `AgentClient`: the agent opens one SSH session to the VM
/// (its own key authorized and the host key pinned through `tart exec`) and runs one
/// command per tick. The double stands in for macOS and Tart: its VM is a real sshd in its
/// own mount namespace on 127.x.y.N, so the figures are this machine's own /proc, `df` and
/// `ss` as seen inside the VM's namespaces, not a guest kernel's; the test checks that
/// they are real readings (memory and disk totals, the VM's sshd listening on port 22,
/// a CPU percent once two reads are compared), not their values.
#[tokio::test]
async fn a_running_vms_figures_come_through_the_api() {
    let Some(agent) = Agent::start_with(&["--stats-interval", "1", "--stats-user", "root"]) else {
        return;
    };
    let api = &agent.client;
    assert!(matches!(
        api.vm_stats("nope").await,
        Err(VmError::NotFound { .. })
    ));
    api.create(&spec("dev-master", 1, 1024))
        .await
        .expect("create");
    let stopped = api
        .vm_stats("dev-master")
        .await
        .expect("stats of a stopped VM");
    assert_eq!((stopped.stats, stopped.error), (None, None));
    api.start("dev-master").await.expect("start");
    let ip = api
        .ip("dev-master", Duration::from_secs(30))
        .await
        .expect("ip");

    let deadline = Instant::now() + Duration::from_secs(90);
    let answer = loop {
        let answer = api.vm_stats("dev-master").await.expect("stats");
        if answer
            .stats
            .as_ref()
            .is_some_and(|s| s.cpu_percent.is_some())
        {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "no CPU percent after 90 s: {answer:?}\n{}",
            std::fs::read_to_string(agent.sandbox.dir.path().join("serve.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer.ip, Some(ip));
    assert_eq!(answer.error, None);
    let stats = answer.stats.expect("figures");
    let cpu = stats.cpu_percent.expect("after two ticks");
    assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    assert!(stats.memory.total_bytes > 0);
    assert!(stats.memory.used_bytes > 0 && stats.memory.used_bytes <= stats.memory.total_bytes);
    assert_eq!(stats.disk.mount, "/");
    assert!(stats.disk.total_bytes > 0 && stats.disk.used_bytes <= stats.disk.total_bytes);
    assert!(
        stats
            .network
            .rx_bytes_per_second
            .zip(stats.network.tx_bytes_per_second)
            .is_some_and(|(rx, tx)| rx >= 0.0 && tx >= 0.0),
        "{:?}",
        stats.network
    );
    assert!(
        stats.listening.iter().any(|p| p.port == 22
            && p.protocol == "tcp"
            && p.address == ip.to_string()
            && p.process.as_deref() == Some("sshd")),
        "the VM's sshd on {ip}:22: {:?}",
        stats.listening
    );
    assert!(
        stats
            .collected_at
            .parse::<k8s_openapi::jiff::Timestamp>()
            .is_ok(),
        "{}",
        stats.collected_at
    );
    let all = api.stats().await.expect("all");
    assert_eq!(
        all.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        vec!["dev-master"]
    );
    assert!(
        agent.sandbox.state().join("stats_ed25519").is_file(),
        "the agent's own key"
    );
    let pins =
        std::fs::read_to_string(agent.sandbox.state().join("stats_known_hosts")).expect("pins");
    let host_key = agent
        .sandbox
        .read("dev-master", "root/etc/ssh/ssh_host_ed25519_key.pub");
    assert!(
        host_key
            .split_whitespace()
            .nth(1)
            .is_some_and(|k| pins.contains(k)),
        "the VM's host key is pinned: {pins}"
    );

    // A stopped VM is no longer followed.
    api.stop("dev-master", Duration::from_secs(5))
        .await
        .expect("stop");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !api.stats().await.expect("all").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the stopped VM is still followed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A VM the agent cannot log in to: its figures stay empty and the error says why.
#[tokio::test]
async fn a_vm_the_agent_cannot_reach_reports_why() {
    // `admin`, the Cirrus Labs images' user, has no home in the double's VMs.
    let Some(agent) = Agent::start_with(&["--stats-interval", "1"]) else {
        return;
    };
    let api = &agent.client;
    api.create(&spec("dev-w-0", 1, 1024)).await.expect("create");
    api.start("dev-w-0").await.expect("start");
    // While it boots the error is its missing address; then the login's.
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let answer = api.vm_stats("dev-w-0").await.expect("stats");
        assert_eq!(answer.stats, None, "no figures without a login");
        if let Some(error) = answer.error.filter(|e| !e.contains("no IP address")) {
            break error;
        }
        assert!(Instant::now() < deadline, "no login error after 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        error.contains("dev-w-0") && error.contains("no user admin in the VM"),
        "{error}"
    );
}
