//! The tart TEST DOUBLE (`tart-double/`) for host-agent's tests: what it needs from the
//! machine, and a `tart` wrapper that gives every call (those of `TartCli`, also inside
//! `tart-infra serve`) the test's own `TART_HOME` and subnet, records the call, and reads
//! the double's knobs from files the test writes, since TartCli's children inherit the
//! environment of a process the test cannot change:
//!
//! | file in the knobs directory | the double's variable |
//! |---|---|
//! | `version` | `TART_DOUBLE_VERSION` (`tart --version`) |
//! | `max_running` | `TART_DOUBLE_MAX_RUNNING` (Virtualization.framework's VM limit) |
//! | `delays` | `TART_DOUBLE_DELAYS` (e.g. `boot=30`: running, no address yet) |
//! | `dhcp` | `TART_DOUBLE_DHCP` (`rotate`: a new address every boot) |
//!
//! Every call's arguments are appended to `calls` in the knobs directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

/// The double's `tart` binary when the machine has what the double needs (root,
/// openssh-server, util-linux, iptables, and with `kube` the Kubernetes binaries);
/// otherwise `None` after saying why, or a panic when `CI=true`.
pub fn prerequisites(kube: bool) -> Option<PathBuf> {
    let mut missing = tart_double::prerequisites::missing(kube);
    let tart = tart_double::binary().map_err(|e| missing.push(e)).ok();
    if let Some(tart) = &tart
        && let Some(stale) = stale(tart)
    {
        missing.push(stale);
    }
    tart_double::prerequisites::met("these tests of the tart double", &missing)
        .then_some(tart)
        .flatten()
}

/// Why the double's binary is older than its sources, if it is: `cargo test -p host-agent`
/// does not rebuild another package's binary, and a stale double tests yesterday's
/// behaviour.
fn stale(tart: &Path) -> Option<String> {
    fn newest(dir: &Path) -> Option<std::time::SystemTime> {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                if meta.is_dir() {
                    newest(&e.path())
                } else {
                    meta.modified().ok()
                }
            })
            .max()
    }
    if std::env::var_os("TART_DOUBLE_BIN").is_some() {
        return None;
    }
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tart-double/src");
    let built = std::fs::metadata(tart).and_then(|m| m.modified()).ok()?;
    (newest(&sources)? > built).then(|| {
        format!(
            "{} is older than tart-double/src (rebuild it: cargo build -p tart-double)",
            tart.display()
        )
    })
}

/// A `/24` of 127.0.0.0/8 of its own for each home of this test process (homes sharing a
/// subnet would hand out the same addresses).
pub fn subnet() -> String {
    static NEXT: AtomicU8 = AtomicU8::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("127.{}.{}", 100 + n % 100, std::process::id() % 250)
}

/// Writes the wrapper at `path` (mode 0755) running `tart` with `home`, `subnet` and the
/// knobs in `knobs`.
pub fn write_wrapper(path: &Path, tart: &Path, home: &Path, subnet: &str, knobs: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let k = knobs.display();
    let wrapper = format!(
        r#"#!/bin/sh
# tart-infra's tests: the tart TEST DOUBLE with this test's home, subnet and knobs.
export TART_HOME='{home}' TART_DOUBLE_SUBNET='{subnet}'
knob() {{ if [ -f '{k}/'"$1" ]; then export "$2=$(cat '{k}/'"$1")"; fi; }}
knob version TART_DOUBLE_VERSION
knob max_running TART_DOUBLE_MAX_RUNNING
knob delays TART_DOUBLE_DELAYS
knob dhcp TART_DOUBLE_DHCP
printf '%s\n' "$*" >> '{k}/calls'
exec '{tart}' "$@"
"#,
        home = home.display(),
        tart = tart.display(),
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("wrapper directory");
    }
    std::fs::create_dir_all(home).expect("TART_HOME");
    std::fs::write(path, wrapper).expect("wrapper");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Stops every VM of the wrapper's home (VMs outlive TartCli and the agent by design).
pub fn stop_all(wrapper: &Path) {
    let Ok(out) = Command::new(wrapper)
        .args(["list", "-q", "--source", "local"])
        .output()
    else {
        return;
    };
    for vm in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = Command::new(wrapper)
            .args(["stop", vm, "--timeout", "10"])
            .output();
    }
}
