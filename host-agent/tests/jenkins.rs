//! Jenkins on the platform (gitops/root's jenkins ApplicationSet) and what its demo pipeline
//! needs. The jenkins chart is in a chart repository, not a Go module, so the CI cannot
//! render it: its values are checked here instead. Every key we set must be one of
//! [`CHECKED_KEYS`], the paths checked by hand against chart 5.9.53's values.yaml
//! (jenkinsci/helm-charts, charts/jenkins at commit 22055414e808, no values.schema.json); the
//! chart rendered with these values passed a server-side dry run once, by hand. Then the
//! invariants: pinned plugins, no password, the original's port, sizes and resources, the
//! JCasC job on the Jenkinsfile, and the names the Jenkinsfile expects.

mod support;

use serde_json::Value;
use support::gitops::{self, REPO};

/// The value paths checked against jenkins chart 5.9.53's values.yaml. A key added to
/// gitops/root's jenkins values must be checked there and added here.
const CHECKED_KEYS: [&str; 19] = [
    "controller.admin.createSecret",
    "controller.admin.existingSecret",
    "controller.serviceType",
    "controller.nodePort",
    "controller.resources.requests.cpu",
    "controller.resources.requests.memory",
    "controller.resources.limits.memory",
    "controller.installPlugins",
    "controller.installLatestPlugins",
    "controller.installLatestSpecifiedPlugins",
    "controller.JCasC.configScripts.demo-pipeline",
    "agent.resources.requests.cpu",
    "agent.resources.requests.memory",
    "agent.resources.limits.cpu",
    "agent.resources.limits.memory",
    "persistence.size",
    "rbac.readSecrets",
    // Not set today, kept for the check's own test below.
    "controller.admin.username",
    "persistence.storageClass",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(support::repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn leaves(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

fn unchecked(values: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    leaves("", values, &mut paths);
    paths
        .into_iter()
        .filter(|p| !CHECKED_KEYS.contains(&p.as_str()))
        .collect()
}

/// The jenkins ApplicationSet of gitops/root rendered by helm.
fn application_set() -> Option<Value> {
    let docs = gitops::rendered("the Jenkins values test")?;
    Some(gitops::application_set(&docs, "jenkins").clone())
}

#[test]
fn an_unchecked_key_is_refused() {
    let values = serde_json::json!({"controller": {"adminPassword": "admin", "nodePort": 30900}});
    assert_eq!(unchecked(&values), ["controller.adminPassword"]);
}

#[test]
fn jenkins_values_are_checked_keys_pinned_and_passwordless_and_the_pipeline_finds_its_parts() {
    let Some(set) = application_set() else { return };
    assert_eq!(
        set["spec"]["generators"][0]["clusters"]["selector"]["matchLabels"]["tartinfra.dev/tier"],
        "platform"
    );
    let source = &set["spec"]["template"]["spec"]["source"];
    assert_eq!(source["repoURL"], "https://charts.jenkins.io");
    assert_eq!(source["chart"], "jenkins");
    assert_eq!(
        source["targetRevision"], "5.9.53",
        "the version CHECKED_KEYS was checked against"
    );
    let values = &source["helm"]["valuesObject"];
    assert_eq!(
        unchecked(values),
        Vec::<String>::new(),
        "keys not checked against 5.9.53"
    );

    let c = &values["controller"];
    // No password: the Secret the Job of admin-credentials.yaml creates.
    assert_eq!(c["admin"]["createSecret"], false);
    assert_eq!(c["admin"]["existingSecret"], "jenkins-admin");
    let admin = read("gitops/addons/jenkins/admin-credentials.yaml");
    assert!(admin.contains("kubectl create secret generic jenkins-admin --namespace jenkins"));
    assert!(admin.contains("jenkins-admin-password") && admin.contains("jenkins-admin-user"));
    // The original's port, size and resources (seed-inventory 5.4).
    assert_eq!(c["serviceType"], "NodePort");
    assert_eq!(c["nodePort"], 30900);
    assert_eq!(values["persistence"]["size"], "5Gi");
    assert_eq!(
        c["resources"]["requests"],
        serde_json::json!({"cpu": "200m", "memory": "512Mi"})
    );
    assert_eq!(c["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(
        values["agent"]["resources"]["requests"],
        serde_json::json!({"cpu": "100m", "memory": "256Mi"})
    );
    assert_eq!(values["agent"]["resources"]["limits"]["memory"], "512Mi");
    // Every plugin pinned, dependencies at their minimum versions.
    assert_eq!(c["installLatestPlugins"], false);
    assert_eq!(c["installLatestSpecifiedPlugins"], false);
    let plugins: Vec<&str> = c["installPlugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for p in &plugins {
        let (name, version) = p.split_once(':').unwrap_or((p, ""));
        assert!(
            !version.is_empty()
                && version != "latest"
                && version.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{name} is not pinned: {p}"
        );
    }
    let names: Vec<&str> = plugins.iter().filter_map(|p| p.split(':').next()).collect();
    for needed in [
        // the original's
        "kubernetes",
        "workflow-aggregator",
        "git",
        "configuration-as-code",
        "pipeline-stage-view",
        "blueocean",
        // the job from JCasC, and the credential from a Secret
        "job-dsl",
        "kubernetes-credentials-provider",
    ] {
        assert!(names.contains(&needed), "{needed} missing from {names:?}");
    }
    assert_eq!(
        values["rbac"]["readSecrets"], true,
        "the credential is a Secret"
    );

    // The job: the Jenkinsfile of this repository at the root's revision.
    let casc: Value = serde_yaml::from_str(
        c["JCasC"]["configScripts"]["demo-pipeline"]
            .as_str()
            .expect("the demo-pipeline JCasC script"),
    )
    .expect("JCasC YAML");
    let script = casc["jobs"][0]["script"]
        .as_str()
        .expect("a job-dsl script");
    assert!(script.contains("pipelineJob('demo-pipeline')"), "{script}");
    assert!(script.contains(&format!("url('{REPO}')")), "{script}");
    assert!(script.contains("branch('main')"), "{script}");
    let jenkinsfile_path = "gitops/addons/jenkins/Jenkinsfile";
    assert!(
        script.contains(&format!("scriptPath('{jenkinsfile_path}')")),
        "{script}"
    );
    let jenkinsfile = read(jenkinsfile_path);

    // The names the Jenkinsfile's parameters default to exist.
    let default = |param: &str| -> String {
        let at = jenkinsfile
            .find(&format!("name: '{param}'"))
            .unwrap_or_else(|| panic!("{param}"));
        let rest = &jenkinsfile[at..];
        let start = rest.find("defaultValue: '").expect("defaultValue") + "defaultValue: '".len();
        rest[start..start + rest[start..].find('\'').expect("quote")].to_owned()
    };
    let credential = default("DEV_KUBECONFIG_CREDENTIAL");
    let minter = read("gitops/addons/jenkins/dev-kubeconfig.yaml");
    assert!(
        minter.contains(&format!("name: {credential}\\n  namespace: jenkins"))
            && minter.contains("jenkins.io/credentials-type: secretFile"),
        "the CronJob writes the credential {credential} as a secret file"
    );
    assert!(minter.contains("-n tart-ci create token jenkins-demo-pipeline"));
    let access = read("gitops/addons/ci-access/jenkins-demo-pipeline.yaml");
    assert!(access.contains("name: jenkins-demo-pipeline\n  namespace: tart-ci"));
    let agent_sa = default("AGENT_SERVICE_ACCOUNT");
    let agent = read("gitops/addons/jenkins/pipeline-agent.yaml");
    assert!(agent.contains(&format!(
        "kind: ServiceAccount\nmetadata:\n  name: {agent_sa}\n  namespace: jenkins"
    )));
    assert_eq!(default("ARGOCD_NAMESPACE"), "argocd");
    // The Applications it syncs are named as the ApplicationSets name them for dev.
    assert_eq!(
        default("ARGOCD_APPLICATIONS"),
        "network-policies-dev demo-apps-dev istio-dev"
    );
}
