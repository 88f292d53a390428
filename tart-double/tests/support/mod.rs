//! TEST DOUBLE, NOT SHIPPED: helpers of the tart-double tests. Each test gets its own
//! `TART_HOME` and `TART_DOUBLE_SUBNET`; every VM it starts is stopped when the [`Lab`]
//! is dropped (also on panic).

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TART: &str = env!("CARGO_BIN_EXE_tart");

/// What the tests need from the machine (see `tart_double::prerequisites`).
pub fn prerequisites(kube: bool) -> bool {
    use tart_double::prerequisites::{met, missing};
    met("the tart-double tests", &missing(kube))
}

/// One test's TART_HOME with the VMs it runs.
pub struct Lab {
    pub home: tempfile::TempDir,
    pub subnet: String,
    env: Vec<(String, String)>,
    runs: Mutex<Vec<(String, Child)>>,
    pub key: PathBuf,
    known_hosts: PathBuf,
}

impl Lab {
    /// A lab on `127.<octet>.<p>.N`, `p` from the test process's id, so the same tests run
    /// by two checkouts at once do not share addresses.
    pub fn new(octet: u8) -> Self {
        let home = tempfile::Builder::new()
            .prefix("tart-double-")
            .tempdir()
            .expect("home");
        let key = home.path().join("id_ed25519");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .expect("ssh-keygen");
        assert!(out.status.success(), "{out:?}");
        let known_hosts = home.path().join("known_hosts");
        Self {
            subnet: format!("127.{octet}.{}", std::process::id() % 250),
            home,
            env: Vec::new(),
            runs: Mutex::new(Vec::new()),
            key,
            known_hosts,
        }
    }

    /// Sets an environment variable for every later `tart` call.
    pub fn env(&mut self, k: &str, v: &str) {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_owned(), v.to_owned()));
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(TART);
        c.args(args)
            .env("TART_HOME", self.home.path())
            .env("TART_DOUBLE_SUBNET", &self.subnet);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs `tart args...`.
    pub fn tart(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("tart")
    }

    /// Runs `tart args...` and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.tart(args);
        assert!(
            out.status.success(),
            "tart {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tart run <name> --no-graphics <extra>` as a supervised child, then `tart ip --wait`.
    pub fn run(&self, name: &str, extra: &[&str]) -> Ipv4Addr {
        let mut args = vec!["run", name, "--no-graphics"];
        args.extend(extra);
        let log =
            std::fs::File::create(self.home.path().join(format!("run-{name}.log"))).expect("log");
        let child = self
            .command(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("tart run");
        self.runs
            .lock()
            .expect("runs")
            .push((name.to_owned(), child));
        let ip = self.tart(&["ip", name, "--wait", "60"]);
        assert!(
            ip.status.success(),
            "tart ip {name}: {}; run log: {}",
            String::from_utf8_lossy(&ip.stderr),
            std::fs::read_to_string(self.home.path().join(format!("run-{name}.log")))
                .unwrap_or_default()
        );
        String::from_utf8_lossy(&ip.stdout)
            .trim()
            .parse()
            .expect("an IPv4 address")
    }

    /// `tart stop` and reaps the `tart run` child.
    pub fn stop(&self, name: &str) {
        self.ok(&["stop", name, "--timeout", "20"]);
        let mut runs = self.runs.lock().expect("runs");
        for (_, child) in runs.iter_mut().filter(|(n, _)| n == name) {
            let _ = child.wait();
        }
        runs.retain(|(n, _)| n != name);
    }

    /// Authorises the lab's key through `tart exec` and pins the VM's host key.
    pub fn authorize(&self, name: &str, ip: Ipv4Addr) {
        let public = std::fs::read_to_string(self.key.with_extension("pub")).expect("pub");
        let mut child = self
            .command(&[
                "exec",
                "-i",
                name,
                "sh",
                "-c",
                "cat >> /root/.ssh/authorized_keys",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("exec");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(public.as_bytes())
            .expect("write");
        assert!(child.wait().expect("wait").success());
        let host_key = self.ok(&["exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
        let mut fields = host_key.split_whitespace();
        let line = format!(
            "{ip} {} {}\n",
            fields.next().expect("type"),
            fields.next().expect("key")
        );
        let mut known = std::fs::read_to_string(&self.known_hosts).unwrap_or_default();
        known.push_str(&line);
        std::fs::write(&self.known_hosts, known).expect("known_hosts");
    }

    /// Runs `script` over SSH as root on `ip` (the real `ssh` client, host key pinned).
    pub fn ssh(&self, ip: Ipv4Addr, script: &str) -> Output {
        Command::new("ssh")
            .arg("-i")
            .arg(&self.key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("root@{ip}"))
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .expect("ssh")
    }

    /// Like [`Lab::ssh`], expecting success; returns stdout.
    pub fn ssh_ok(&self, ip: Ipv4Addr, script: &str) -> String {
        let out = self.ssh(ip, script);
        assert!(
            out.status.success(),
            "ssh {ip} {script:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The run state the double keeps for a VM.
    pub fn run_state(&self, name: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.home.path().join("vms").join(name).join("run.json"))
                .expect("run.json");
        serde_json::from_str(&text).expect("json")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut runs = self
            .runs
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for (name, child) in runs.iter_mut() {
            let _ = self.command(&["stop", name, "--timeout", "10"]).output();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `f` until it returns `Some`, for up to `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether a TCP connection to `ip:port` succeeds from the host.
pub fn reachable(ip: Ipv4Addr, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)).is_ok()
}
