//! `tart-infra destroy` (asks on a terminal; `--yes` otherwise) and `tart-infra ssh forget`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use serde_json::json;
use vm_api::VmBackend as _;

use super::progress::{Reporter, Status};
use super::{MacError, MacOptions, StateDir, agent, lifecycle, up};
use crate::config::{self, Config};

/// The VM names of the file (pure).
pub fn vm_names(config: &Config) -> Vec<String> {
    config
        .clusters
        .iter()
        .flat_map(|c| c.nodes.iter().map(|n| n.name.as_str().to_owned()))
        .collect()
}

fn confirm(names: &[String], yes: bool) -> Result<(), MacError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(MacError::Refused(
            "destroy deletes every VM of the file and the state; not on a terminal, so pass --yes to confirm".to_owned(),
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "This deletes the VMs {} and the kubeconfigs, token and pins of the state directory. Type `yes` to go on: ",
        names.join(", ")
    );
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(MacError::Refused(
            "not confirmed; nothing was deleted".to_owned(),
        ))
    }
}

/// `tart-infra destroy`.
pub async fn destroy(mac: &MacOptions, yes: bool) -> Result<bool, MacError> {
    let config = config::load(&mac.config)?;
    let names = vm_names(&config);
    confirm(&names, yes)?;
    let ctx = up::context(mac, config, Reporter::new(mac.json)).await?;
    let result = destroy_steps(&ctx, &names).await;
    super::finish(&ctx, "destroy", result, json!({}))
}

async fn destroy_steps(ctx: &super::Ctx, names: &[String]) -> Result<(), MacError> {
    let r = &ctx.report;
    for name in names {
        match ctx.client.get(name).await {
            Ok(None) => r.step(name, "delete", Status::Skipped, "does not exist"),
            Ok(Some(_)) => match ctx.client.delete(name).await {
                Ok(()) => r.step(name, "delete", Status::Done, ""),
                Err(e) if lifecycle::already_gone(&e) => {
                    r.step(name, "delete", Status::Skipped, "does not exist");
                }
                Err(e) => return Err(MacError::step(name, "delete", e)),
            },
            Err(e) => return Err(MacError::step(name, "delete", e)),
        }
        ctx.known_hosts
            .forget(name)
            .map_err(|e| MacError::step(name, "forget", e))?;
    }
    let stopped = agent::stop(&ctx.state).await?;
    r.step(
        "serve",
        "stop",
        if stopped {
            Status::Done
        } else {
            Status::Skipped
        },
        "",
    );
    clean(&ctx.state)?;
    r.step(
        "state",
        "clean",
        Status::Done,
        ctx.state.root().display().to_string(),
    );
    Ok(())
}

/// Removes the kubeconfigs, the agent's token, certificate and records, and the operator key.
pub fn clean(state: &StateDir) -> Result<(), MacError> {
    let remove_dir = |p: std::path::PathBuf| match std::fs::remove_dir_all(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(MacError::Io { path: p, source: e })
        }
        _ => Ok(()),
    };
    let remove_file = |p: std::path::PathBuf| match std::fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(MacError::Io { path: p, source: e })
        }
        _ => Ok(()),
    };
    remove_dir(state.kubeconfigs_dir())?;
    remove_dir(state.serve_dir())?;
    remove_file(state.merged_kubeconfig())?;
    remove_file(state.serve_log())?;
    remove_file(state.operator_key())?;
    remove_file(state.operator_key().with_extension("pub"))?;
    Ok(())
}

/// `tart-infra ssh forget <vm>`.
pub fn forget(mac: &MacOptions, vm: &str) -> Result<bool, MacError> {
    let config = config::load(&mac.config)?;
    let file = super::known_hosts(&config);
    let forgotten = file
        .forget(vm)
        .map_err(|e| MacError::step(vm, "forget", e))?;
    if forgotten {
        eprintln!("{vm}: host keys forgotten; the next `tart-infra up` pins the VM's current keys");
    } else {
        eprintln!("{vm}: no pinned host keys in {}", file.path().display());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_removes_the_state_files_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("dir");
        let s = StateDir::new(dir.path());
        std::fs::create_dir_all(s.kubeconfigs_dir()).expect("mkdir");
        std::fs::create_dir_all(s.serve_dir()).expect("mkdir");
        std::fs::write(s.cluster_kubeconfig("p"), "x").expect("w");
        std::fs::write(s.merged_kubeconfig(), "x").expect("w");
        std::fs::write(s.serve_dir().join("token"), "x").expect("w");
        clean(&s).expect("clean");
        clean(&s).expect("again");
        assert!(!s.kubeconfigs_dir().exists() && !s.serve_dir().exists());
        assert!(!s.merged_kubeconfig().exists());
    }
}
