//! TEST DOUBLE, NOT SHIPPED. The `tart` verbs that only touch files: clone, set, list,
//! get, delete (run, ip, stop and exec are in [`crate::vm`]).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::delays::Delays;
use crate::errors::TartError;
use crate::format::{self, Obj, Val};
use crate::home::{self, Home, VmConfig};

fn delays() -> Result<Delays, TartError> {
    Delays::from_env().map_err(TartError::Double)
}

/// "Pulls" a remote image into the cache (instantly, or after the `pull` delay).
fn pull(home: &Home, name: &str) -> Result<std::path::PathBuf, TartError> {
    let dir = home.oci_dir(name);
    if dir.join("config.json").is_file() {
        return Ok(dir);
    }
    delays()?.wait("pull");
    std::fs::create_dir_all(&dir).map_err(TartError::io("creating", &dir))?;
    Home::save_config(&dir, &VmConfig::image_default(home::random_mac()?))?;
    home::resize_disk(&dir, 20)?;
    Ok(dir)
}

/// `tart clone <source> <new-name>`.
pub fn clone(home: &Home, source: &str, name: &str) -> Result<(), TartError> {
    if !home::valid_local_name(name) {
        return Err(TartError::Validation(
            "<new-name> should be a local name".into(),
        ));
    }
    // Under the home's lock, pull included: concurrent clones of one image pull it once
    // (Tart locks its OCI cache likewise).
    let _lock = home.lock()?;
    let src = if home::is_remote(source) {
        pull(home, source)?
    } else {
        home.require(source)?
    };
    let dst = home.vm_dir(name);
    if dst.exists() {
        return Err(TartError::AlreadyExists(name.to_owned()));
    }
    delays()?.wait("clone");
    let tmp = home.root().join(format!("vms/.clone-{name}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(TartError::io("creating", &tmp))?;
    let mut config = Home::config(&src)?;
    // Tart gives a clone a new MAC when another local VM already has this one.
    let taken = home
        .local_names()?
        .iter()
        .any(|n| Home::config(&home.vm_dir(n)).is_ok_and(|c| c.mac_address == config.mac_address));
    if taken {
        config.mac_address = home::random_mac()?;
    }
    Home::save_config(&tmp, &config)?;
    home::resize_disk(&tmp, home::disk_gb(&src))?;
    if src.join("root").is_dir() {
        let out = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(src.join("root"))
            .arg(tmp.join("root"))
            .output()
            .map_err(TartError::io_doing("running cp"))?;
        if !out.status.success() {
            return Err(TartError::Double(format!(
                "copying the guest files: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // Host keys and leases belong to the source VM's first boot, not to the clone.
        let _ = std::fs::remove_file(tmp.join("root/var/lib/tart-double/vm.json"));
    }
    std::fs::rename(&tmp, &dst).map_err(TartError::io("renaming", &tmp))
}

/// What `tart set` changes.
#[derive(Clone, Debug, Default)]
pub struct SetArgs {
    pub cpu: Option<u32>,
    pub memory: Option<u64>,
    pub disk_size: Option<u64>,
    pub random_mac: bool,
}

/// `tart set <name> ...`.
pub fn set(home: &Home, name: &str, args: &SetArgs) -> Result<(), TartError> {
    let dir = home.require(name)?;
    delays()?.wait("set");
    let mut config = Home::config(&dir)?;
    if let Some(cpu) = args.cpu {
        if cpu < config.cpu_count_min {
            return Err(TartError::Double(format!(
                "VM should have {} CPU cores at minimum (requested {cpu})",
                config.cpu_count_min
            )));
        }
        config.cpu_count = cpu;
    }
    if let Some(mb) = args.memory {
        config.memory_size = mb * 1024 * 1024;
    }
    if args.random_mac {
        config.mac_address = home::random_mac()?;
    }
    Home::save_config(&dir, &config)?;
    if let Some(gb) = args.disk_size {
        home::resize_disk(&dir, gb)?;
    }
    Ok(())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn accessed(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join("config.json"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn state(home: &Home, name: Option<&str>) -> (bool, &'static str) {
    match name.and_then(|n| home.running(n)) {
        Some(_) => (true, "running"),
        None => (false, "stopped"),
    }
}

fn list_obj(
    source: &str,
    name: &str,
    dir: &std::path::Path,
    running: (bool, &'static str),
    json: bool,
) -> Obj {
    let when = accessed(dir);
    let accessed = if json {
        format::iso8601(when)
    } else {
        format::relative(now().saturating_sub(when))
    };
    vec![
        ("Source", Val::Str(source.to_owned())),
        ("Name", Val::Str(name.to_owned())),
        ("Disk", Val::Int(home::disk_gb(dir) as i64)),
        (
            "Size",
            Val::Int((home::allocated_bytes(dir) / 1_000_000_000) as i64),
        ),
        ("Accessed", Val::Str(accessed)),
        ("Running", Val::Bool(running.0)),
        ("State", Val::Str(running.1.to_owned())),
    ]
}

/// `tart list [--source local|oci] [--format text|json] [-q]`.
pub fn list(
    home: &Home,
    source: Option<&str>,
    json: bool,
    quiet: bool,
) -> Result<String, TartError> {
    if let Some(s) = source
        && s != "local"
        && s != "oci"
    {
        return Err(TartError::Validation(format!(
            "'{s}' is not a valid <source>"
        )));
    }
    let mut objs = Vec::new();
    if source != Some("oci") {
        for name in home.local_names()? {
            objs.push(list_obj(
                "local",
                &name,
                &home.vm_dir(&name),
                state(home, Some(&name)),
                json,
            ));
        }
    }
    if source != Some("local") {
        for name in home.oci_names()? {
            objs.push(list_obj(
                "OCI",
                &name,
                &home.oci_dir(&name),
                state(home, None),
                json,
            ));
        }
    }
    if quiet {
        return Ok(objs
            .iter()
            .filter_map(|o| {
                o.iter().find(|(k, _)| *k == "Name").map(|(_, v)| match v {
                    Val::Str(s) => s.clone(),
                    _ => String::new(),
                })
            })
            .collect::<Vec<_>>()
            .join("\n"));
    }
    Ok(if json {
        format::json_list(&objs)
    } else {
        format::text_table(&objs)
    })
}

/// `tart get <name> [--format text|json]`.
pub fn get(home: &Home, name: &str, json: bool) -> Result<String, TartError> {
    let dir = home.require(name)?;
    let config = Home::config(&dir)?;
    let (running, state) = state(home, Some(name));
    let obj: Obj = vec![
        ("OS", Val::Str(config.os.clone())),
        ("CPU", Val::Int(config.cpu_count as i64)),
        ("Memory", Val::Int(config.memory_mb() as i64)),
        ("Disk", Val::Int(home::disk_gb(&dir) as i64)),
        ("DiskFormat", Val::Str(config.disk_format.clone())),
        (
            "Size",
            Val::Str(format!("{:.3}", home::allocated_bytes(&dir) as f64 / 1e9)),
        ),
        (
            "Display",
            Val::Str(format!(
                "{}x{}",
                config.display.width, config.display.height
            )),
        ),
        ("Running", Val::Bool(running)),
        ("State", Val::Str(state.to_owned())),
    ];
    Ok(if json {
        format::json_single(&obj)
    } else {
        format::text_table(&[obj])
    })
}

/// `tart delete <name>...`: stops a running VM first.
pub fn delete(home: &Home, names: &[String]) -> Result<(), TartError> {
    for name in names {
        let dir = if home::is_remote(name) {
            let d = home.oci_dir(name);
            if !d.is_dir() {
                return Err(TartError::VmDoesNotExist(name.clone()));
            }
            d
        } else {
            home.require(name)?
        };
        if !home::is_remote(name) && home.running(name).is_some() {
            crate::vm::stop(home, name, std::time::Duration::from_secs(5))?;
        }
        let _lock = home.lock()?;
        if !home::is_remote(name) {
            keep_record(home, name, &dir);
        }
        std::fs::remove_dir_all(&dir).map_err(TartError::io("deleting", &dir))?;
    }
    Ok(())
}

/// Keeps a deleted VM's record of tool calls as `$TART_HOME/deleted/<vm>.record.log`, so a
/// test can check what ran on a VM before it was deleted (a double-only file: Tart keeps
/// nothing of a deleted VM).
fn keep_record(home: &Home, name: &str, dir: &std::path::Path) {
    let record = dir.join("root/var/lib/tart-double/record.log");
    let kept = home.root().join("deleted");
    if record.is_file() && std::fs::create_dir_all(&kept).is_ok() {
        let _ = std::fs::copy(&record, kept.join(format!("{name}.record.log")));
    }
}
