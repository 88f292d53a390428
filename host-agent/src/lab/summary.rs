//! What `lab up` prints once the lab is ready: how to reach the dashboard and API, the
//! user's token, the kubeconfigs and the simulated relays; as text for a person or as one
//! JSON object for scripts (`--json`, read by the e2e tests).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::record::Simulated;

/// The ready lab, as `lab up` reports it.
pub(super) struct Summary<'a> {
    /// The operator's dashboard and API.
    pub url: &'a str,
    /// The lab user's token.
    pub token: &'a str,
    /// The file that holds it.
    pub token_file: &'a Path,
    /// The CA that signs the operator's certificate.
    pub ca_file: &'a Path,
    /// The state directory.
    pub state_dir: &'a Path,
    /// Admin kubeconfig per cluster, platform first.
    pub kubeconfigs: &'a [(String, PathBuf)],
    /// The simulated relays.
    pub simulated: &'a [Simulated],
    /// Seconds from start to ready.
    pub ready_after: f64,
    /// Whether the operator serves the dashboard.
    pub dashboard: bool,
}

impl Summary<'_> {
    /// One JSON object (`url`, `token`, `tokenFile`, `caFile`, `stateDir`, `readyAfterSeconds`,
    /// `dashboard`, `kubeconfigs`, `simulatedHubbleRelays`).
    pub fn json(&self) -> serde_json::Value {
        json!({
            "url": self.url,
            "token": self.token,
            "tokenFile": self.token_file,
            "caFile": self.ca_file,
            "stateDir": self.state_dir,
            "readyAfterSeconds": (self.ready_after * 10.0).round() / 10.0,
            "dashboard": self.dashboard,
            "kubeconfigs": self.kubeconfigs.iter().map(|(n, p)| (n.clone(), json!(p))).collect::<serde_json::Map<_, _>>(),
            "simulatedHubbleRelays": self.simulated.iter().map(|s| (s.cluster.clone(), json!(s.address))).collect::<serde_json::Map<_, _>>(),
        })
    }

    /// The text for a terminal: addresses, token, kubeconfigs and commands to try.
    pub fn text(&self) -> String {
        let mut s = format!(
            "\nlab ready in {:.1} s\n  {}  {}\n  CA certificate     {}\n                     (signs the operator's certificate; trust it in your browser or pass it to curl --cacert)\n  access token       {}\n                     (also in {}, valid 7 days; the tart-infra-tester role)\n  kubeconfigs\n",
            self.ready_after,
            if self.dashboard {
                "dashboard and API"
            } else {
                "API (no dashboard)"
            },
            self.url,
            self.ca_file.display(),
            self.token,
            self.token_file.display()
        );
        for (name, path) in self.kubeconfigs {
            let _ = writeln!(s, "    {name:<10} {}", path.display());
        }
        if !self.simulated.is_empty() {
            s.push_str(
                "  simulated traffic  Hubble Relays inside this process (hubble-sim): the Traffic page's\n                     flows are generated from kubelet probes and the simulated load, not observed\n",
            );
            for sim in self.simulated {
                let _ = writeln!(s, "    {:<10} {}", sim.cluster, sim.address);
            }
        }
        let platform = self
            .kubeconfigs
            .first()
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default();
        let _ = write!(
            s,
            "\ntry, in another shell:\n  export KUBECONFIG={platform}\n  kubectl get managedclusters\n  \
             kubectl create -f manifests/examples/scalingexperiment-scale-light.yaml && kubectl get se -w\n  \
             curl --cacert {} -H \"Authorization: Bearer $(cat {})\" {}/api/v1/clusters\n\n\
             Ctrl-C here, or `tart-infra lab down` from another shell, stops everything.\n",
            self.ca_file.display(),
            self.token_file.display(),
            self.url
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary<'a>(
        kubeconfigs: &'a [(String, PathBuf)],
        simulated: &'a [Simulated],
    ) -> Summary<'a> {
        Summary {
            url: "https://127.0.0.1:3000",
            token: "t0k3n",
            token_file: Path::new("/state/user-token"),
            ca_file: Path::new("/state/operator-tls/ca.crt"),
            state_dir: Path::new("/state"),
            kubeconfigs,
            simulated,
            ready_after: 6.64,
            dashboard: false,
        }
    }

    #[test]
    fn the_json_has_every_field_scripts_read() {
        let kubeconfigs = [
            (
                "platform".to_owned(),
                PathBuf::from("/state/clusters/platform/kubeconfig"),
            ),
            (
                "dev".to_owned(),
                PathBuf::from("/state/clusters/dev/kubeconfig"),
            ),
        ];
        let simulated = [Simulated {
            cluster: "dev".into(),
            name: "hubble-sim".into(),
            address: "127.0.0.1:40000".into(),
        }];
        assert_eq!(
            summary(&kubeconfigs, &simulated).json(),
            json!({
                "url": "https://127.0.0.1:3000",
                "token": "t0k3n",
                "tokenFile": "/state/user-token",
                "caFile": "/state/operator-tls/ca.crt",
                "stateDir": "/state",
                "readyAfterSeconds": 6.6,
                "dashboard": false,
                "kubeconfigs": {
                    "platform": "/state/clusters/platform/kubeconfig",
                    "dev": "/state/clusters/dev/kubeconfig",
                },
                "simulatedHubbleRelays": { "dev": "127.0.0.1:40000" },
            })
        );
    }

    #[test]
    fn the_text_points_at_the_platform_kubeconfig_and_marks_simulated_flows() {
        let kubeconfigs = [(
            "platform".to_owned(),
            PathBuf::from("/state/clusters/platform/kubeconfig"),
        )];
        let text = summary(&kubeconfigs, &[]).text();
        assert!(text.contains("lab ready in 6.6 s"), "{text}");
        assert!(
            text.contains("API (no dashboard)  https://127.0.0.1:3000"),
            "{text}"
        );
        assert!(
            text.contains("curl --cacert /state/operator-tls/ca.crt -H"),
            "{text}"
        );
        assert!(
            text.contains("export KUBECONFIG=/state/clusters/platform/kubeconfig"),
            "{text}"
        );
        assert!(
            !text.contains("simulated traffic"),
            "no relay, no note: {text}"
        );
        let simulated = [Simulated {
            cluster: "dev".into(),
            name: "hubble-sim".into(),
            address: "127.0.0.1:40000".into(),
        }];
        let text = summary(&kubeconfigs, &simulated).text();
        assert!(
            text.contains("not observed") && text.contains("dev        127.0.0.1:40000"),
            "{text}"
        );
    }
}
