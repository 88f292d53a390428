//! Start-up checks: the cluster runs Kubernetes 1.33 or newer and the tartinfra.dev CRDs
//! are installed and Established. Each failure says what to do. An API server that cannot
//! answer yet (down, restarting, busy) is waited for, with backoff, instead of exiting into
//! a CrashLoopBackOff whose delays grow to five minutes.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};

/// The oldest supported Kubernetes minor version (1.x).
pub const MIN_MINOR: u32 = 33;

/// What the preflight learned.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// The API server's gitVersion, e.g. `v1.33.4`.
    pub server_version: String,
}

/// Why the operator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The API server could not be reached or refused a request.
    #[error("cannot read {what} from the API server: {source}")]
    Api {
        /// What was being read.
        what: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The cluster is older than 1.33.
    #[error("Kubernetes 1.{MIN_MINOR} or newer is required, the API server runs {0}")]
    TooOld(String),
    /// Some CRDs are missing.
    #[error(
        "the tartinfra.dev CRDs are not installed: {0}; install them with `kubectl apply -f charts/tart-operator/crds/` \
         (or the Helm chart), then restart the operator"
    )]
    MissingCrds(String),
    /// A CRD exists but the API server does not serve it yet.
    #[error("CRD {0} is not Established yet; check `kubectl describe crd {0}`")]
    NotEstablished(String),
}

/// The minor version from a `/version` answer (`"33"`, `"33+"`), or from its gitVersion.
pub fn minor_version(minor: &str, git_version: &str) -> Option<u32> {
    let digits: String = minor.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().or_else(|| {
        git_version
            .trim_start_matches('v')
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
    })
}

/// Checks the CRDs the operator found (None: not installed) for `names`.
pub fn check_crds(
    found: &[(&str, Option<CustomResourceDefinition>)],
) -> Result<(), PreflightError> {
    let missing: Vec<&str> = found
        .iter()
        .filter(|(_, crd)| crd.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(PreflightError::MissingCrds(missing.join(", ")));
    }
    for (name, crd) in found {
        let established = crd
            .as_ref()
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if !established {
            return Err(PreflightError::NotEstablished((*name).to_owned()));
        }
    }
    Ok(())
}

/// The longest pause between two attempts while the API server cannot answer.
pub const RETRY_CAP: Duration = Duration::from_secs(30);

/// Whether the failure may pass by itself: the API server is unreachable, restarting, busy
/// (5xx, 429) or has not Established a CRD yet. Missing CRDs, an old cluster and a refused
/// request (401, 403 and other 4xx) need someone to act.
pub fn transient(e: &PreflightError) -> bool {
    match e {
        PreflightError::Api { source, .. } => match source {
            kube::Error::Api(s) => s.code == 429 || s.code >= 500,
            _ => true,
        },
        PreflightError::NotEstablished(_) => true,
        PreflightError::TooOld(_) | PreflightError::MissingCrds(_) => false,
    }
}

/// [`run`] until it passes or fails for good, waiting out transient failures (doubling
/// pauses from 1 s to [`RETRY_CAP`], each one logged).
pub async fn run_when_reachable(client: &Client) -> Result<ServerInfo, PreflightError> {
    let mut pause = Duration::from_secs(1);
    loop {
        match run(client).await {
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, retry_in_seconds = pause.as_secs(), "the API server cannot be used yet; waiting for it");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_CAP);
            }
            done => return done,
        }
    }
}

/// Runs every check against the cluster (needs `get` on the CRDs of `crds::all()` only).
pub async fn run(client: &Client) -> Result<ServerInfo, PreflightError> {
    let version = client
        .apiserver_version()
        .await
        .map_err(|source| PreflightError::Api {
            what: "/version".into(),
            source,
        })?;
    match minor_version(&version.minor, &version.git_version) {
        Some(minor) if version.major == "1" && minor >= MIN_MINOR => {}
        _ => return Err(PreflightError::TooOld(version.git_version)),
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut found = Vec::new();
    let names: Vec<String> = crds::all()
        .into_iter()
        .map(|(_, crd)| crd.metadata.name.unwrap_or_default())
        .collect();
    for name in &names {
        let crd = api
            .get_opt(name)
            .await
            .map_err(|source| PreflightError::Api {
                what: format!("CRD {name}"),
                source,
            })?;
        found.push((name.as_str(), crd));
    }
    check_crds(&found)?;
    Ok(ServerInfo {
        server_version: version.git_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_versions_parse_from_either_field() {
        assert_eq!(minor_version("33", "v1.33.4"), Some(33));
        assert_eq!(minor_version("34+", "v1.34.1-eks-1"), Some(34));
        assert_eq!(minor_version("", "v1.36.3"), Some(36));
        assert_eq!(minor_version("", "garbage"), None);
    }

    #[test]
    fn missing_crds_are_listed_with_the_install_command() {
        let err = check_crds(&[("a.tartinfra.dev", None), ("b.tartinfra.dev", None)])
            .expect_err("missing CRDs must fail");
        let msg = err.to_string();
        assert!(msg.contains("a.tartinfra.dev, b.tartinfra.dev"), "{msg}");
        assert!(
            msg.contains("kubectl apply -f charts/tart-operator/crds/"),
            "{msg}"
        );
    }

    #[test]
    fn only_failures_that_pass_by_themselves_are_waited_out() {
        let api = |code: u16| PreflightError::Api {
            what: "/version".into(),
            source: kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..kube::core::Status::default()
            })),
        };
        let connect = PreflightError::Api {
            what: "/version".into(),
            source: kube::Error::TlsRequired,
        };
        assert!(transient(&connect));
        assert!(transient(&api(503)) && transient(&api(429)));
        assert!(!transient(&api(401)) && !transient(&api(403)) && !transient(&api(404)));
        assert!(transient(&PreflightError::NotEstablished("a".into())));
        assert!(!transient(&PreflightError::MissingCrds("a".into())));
        assert!(!transient(&PreflightError::TooOld("v1.30.0".into())));
    }

    #[test]
    fn a_crd_without_the_established_condition_fails() {
        let crd = CustomResourceDefinition::default();
        let err = check_crds(&[("a.tartinfra.dev", Some(crd))]).expect_err("not established");
        assert!(matches!(err, PreflightError::NotEstablished(n) if n == "a.tartinfra.dev"));
    }
}
