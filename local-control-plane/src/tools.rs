//! The tools tests use besides the control plane, made by scripts into the cache outside the
//! repository: helm (`scripts/build-helm.sh`) and the upstream charts and CRDs
//! (`scripts/fetch-upstream.sh`). `scripts/test` exports where they are; without the
//! variables the scripts' `--print` answers, as for the control-plane binaries.
//!
//! And [`met`], the one rule for a test whose prerequisites are missing: it fails when
//! `CI=true` and skips with a `SKIPPED` line elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// Names the helm binary; overrides `scripts/build-helm.sh --print`.
pub const HELM_ENV: &str = "TART_INFRA_HELM";

/// Names the directory `scripts/fetch-upstream.sh` fills; overrides its `--print`.
pub const UPSTREAM_ENV: &str = "TART_INFRA_UPSTREAM";

/// Names Gatekeeper's gator binary; overrides `scripts/build-gator.sh --print`.
pub const GATOR_ENV: &str = "TART_INFRA_GATOR";

/// The helm binary: `$TART_INFRA_HELM`, else where `scripts/build-helm.sh` puts it. An error
/// says how to build it when it is not there.
pub fn helm() -> Result<PathBuf, Error> {
    helm_at(located(HELM_ENV, "build-helm.sh")?)
}

fn helm_at(path: PathBuf) -> Result<PathBuf, Error> {
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::MissingTool {
            what: "helm",
            path,
            fix: "build it with `scripts/build-helm.sh` (about 2 minutes once, then reused)",
            env: HELM_ENV,
            wanted: "a helm binary",
        })
    }
}

/// The upstream charts and CRDs: `$TART_INFRA_UPSTREAM`, else where
/// `scripts/fetch-upstream.sh` puts them; only a directory the script completed counts.
pub fn upstream() -> Result<PathBuf, Error> {
    upstream_at(located(UPSTREAM_ENV, "fetch-upstream.sh")?)
}

fn upstream_at(dir: PathBuf) -> Result<PathBuf, Error> {
    if dir.join(".complete").is_file() {
        Ok(dir)
    } else {
        Err(Error::MissingTool {
            what: "the upstream charts and CRDs",
            path: dir,
            fix: "fetch them with `scripts/fetch-upstream.sh` (under a minute once, then reused)",
            env: UPSTREAM_ENV,
            wanted: "a directory that script made",
        })
    }
}

/// Names the directory holding etcdctl and etcdutl; overrides `scripts/build-etcd-tools.sh --print`.
pub const ETCD_TOOLS_ENV: &str = "TART_INFRA_ETCD_TOOLS";

/// The directory with etcdctl and etcdutl: `$TART_INFRA_ETCD_TOOLS`, else where
/// `scripts/build-etcd-tools.sh` puts them.
pub fn etcd_tools() -> Result<PathBuf, Error> {
    let dir = located(ETCD_TOOLS_ENV, "build-etcd-tools.sh")?;
    if ["etcdctl", "etcdutl"]
        .iter()
        .all(|b| is_executable(&dir.join(b)))
    {
        Ok(dir)
    } else {
        Err(Error::MissingTool {
            what: "etcdctl and etcdutl",
            path: dir,
            fix: "build them with `scripts/build-etcd-tools.sh` (about a minute once, then reused)",
            env: ETCD_TOOLS_ENV,
            wanted: "a directory that script made",
        })
    }
}

/// Gatekeeper's gator CLI: `$TART_INFRA_GATOR`, else where `scripts/build-gator.sh` puts it.
/// An error says how to build it when it is not there.
pub fn gator() -> Result<PathBuf, Error> {
    gator_at(located(GATOR_ENV, "build-gator.sh")?)
}

fn gator_at(path: PathBuf) -> Result<PathBuf, Error> {
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::MissingTool {
            what: "gator",
            path,
            fix: "build it with `scripts/build-gator.sh` (5 to 10 minutes once, then reused)",
            env: GATOR_ENV,
            wanted: "a gator binary",
        })
    }
}

/// Whether `who` (e.g. "the manifest dry-run test") can run: `true` when nothing is missing;
/// otherwise a panic naming what is missing and `fix` when `CI=true`, else a `SKIPPED` line
/// and `false`.
pub fn met(who: &str, missing: &[String], fix: &str) -> bool {
    if missing.is_empty() {
        return true;
    }
    let message = format!("{who} needs: {}; {fix}", missing.join("; "));
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPED (not CI): {message}");
    false
}

/// `$env` when set, else where `scripts/<script>` puts its output.
pub(crate) fn located(env: &'static str, script: &str) -> Result<PathBuf, Error> {
    match std::env::var_os(env) {
        Some(path) => Ok(PathBuf::from(path)),
        None => printed_by(script, env),
    }
}

/// The last line `scripts/<script> --print` writes: where the script puts its output
/// (`--print` never builds or downloads anything).
fn printed_by(script: &str, env: &'static str) -> Result<PathBuf, Error> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(script);
    let out = Command::new("bash")
        .arg(&script)
        .arg("--print")
        .output()
        .map_err(|source| Error::Io {
            context: format!("running {} --print", script.display()),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last() {
        Some(line) if out.status.success() && !line.trim().is_empty() => {
            Ok(PathBuf::from(line.trim()))
        }
        _ => Err(Error::BuildScript {
            script,
            env,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        }),
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_is_an_error_that_names_its_script_and_variable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let helm = dir.path().join("helm");
        let msg = helm_at(helm.clone()).expect_err("no helm").to_string();
        assert!(msg.contains("`scripts/build-helm.sh`"), "{msg}");
        assert!(
            msg.ends_with("or set TART_INFRA_HELM to a helm binary"),
            "{msg}"
        );
        let msg = gator_at(dir.path().join("gator"))
            .expect_err("no gator")
            .to_string();
        assert!(msg.contains("`scripts/build-gator.sh`"), "{msg}");
        assert!(msg.contains("TART_INFRA_GATOR"), "{msg}");
        // Present but not executable is missing too.
        std::fs::write(&helm, "").expect("write");
        assert!(helm_at(helm).is_err());

        // A directory the script did not complete is not the upstream directory.
        let msg = upstream_at(dir.path().to_path_buf())
            .expect_err("incomplete")
            .to_string();
        assert!(msg.contains("`scripts/fetch-upstream.sh`"), "{msg}");
        assert!(msg.contains("TART_INFRA_UPSTREAM"), "{msg}");
        std::fs::write(dir.path().join(".complete"), "").expect("write");
        assert!(upstream_at(dir.path().to_path_buf()).is_ok());
    }

    #[test]
    fn the_scripts_print_where_the_tools_go() {
        let helm = printed_by("build-helm.sh", HELM_ENV).expect("--print works");
        assert!(helm.ends_with("helm"), "{}", helm.display());
        let parent = helm.parent().and_then(Path::file_name).unwrap_or_default();
        assert!(
            parent.to_string_lossy().starts_with("helm-v4."),
            "{}",
            helm.display()
        );
        let gator = printed_by("build-gator.sh", GATOR_ENV).expect("--print works");
        let parent = gator.parent().and_then(Path::file_name).unwrap_or_default();
        assert!(
            gator.ends_with("gator") && parent.to_string_lossy().starts_with("gator-v3."),
            "{}",
            gator.display()
        );
        let upstream = printed_by("fetch-upstream.sh", UPSTREAM_ENV).expect("--print works");
        let name = upstream.file_name().unwrap_or_default().to_string_lossy();
        assert!(name.starts_with("upstream-"), "{}", upstream.display());
    }
}
