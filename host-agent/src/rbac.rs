//! The operator's RBAC on the platform cluster, built from the Helm chart's rules file
//! (`charts/tart-operator/files/rbac.yaml`). The chart renders its ClusterRole and Roles
//! from that file and the lab and `tart-infra up` build theirs from it here, so every way
//! of running the operator grants the same rights, with no second copy to drift and no
//! `helm` needed at run time. (`host-agent/tests/chart.rs` compares the two renderings.)

use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::api::DynamicObject;
use serde::Deserialize;
use serde_json::{Value, json};

/// The rules file, relative to the repository.
pub const RULES_PATH: &str = "charts/tart-operator/files/rbac.yaml";
const RULES_YAML: &str = include_str!("../../charts/tart-operator/files/rbac.yaml");
/// The operator's ServiceAccount, ClusterRole and Roles (the chart's names for a release
/// called `tart-operator`).
pub const OPERATOR: &str = "tart-operator";
/// ArgoCD's namespace, where the operator writes the cluster Secrets of tart clusters (the
/// operator's `--argocd-namespace` default).
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// Where Hubble Relay runs, the only namespace where the operator may port-forward.
pub const HUBBLE_NAMESPACE: &str = "kube-system";
/// The label of the runner namespaces the operator creates in target clusters.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "tart-operator");
/// The ClusterRole for reading through the operator's API.
pub const VIEWER_ROLE: &str = "tart-infra-viewer";
/// The ClusterRole that may also start and delete tests and experiments.
pub const TESTER_ROLE: &str = "tart-infra-tester";

/// The rules of [`RULES_PATH`].
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The operator's ClusterRole.
    pub cluster: Vec<PolicyRule>,
    /// Added to the ClusterRole on Kubernetes before 1.36 (plain impersonation where the
    /// constrained kind does not exist; the lab's clusters are newer).
    #[serde(rename = "impersonationBefore136")]
    pub impersonation_before_136: Vec<PolicyRule>,
    /// The operator's Role in its own namespace.
    pub namespace: Vec<PolicyRule>,
    /// Added to that Role when the operator elects a leader (the chart's default; the lab
    /// runs one operator without `--leader-elect`).
    #[serde(rename = "leaderElection")]
    pub leader_election: Vec<PolicyRule>,
    /// The operator's Role in ArgoCD's namespace.
    pub argocd: Vec<PolicyRule>,
    /// The operator's Role in [`HUBBLE_NAMESPACE`], on the platform and on target clusters.
    #[serde(rename = "hubbleRelay")]
    pub hubble_relay: Vec<PolicyRule>,
    /// The operator's ClusterRole in target clusters.
    pub target: Vec<PolicyRule>,
    /// Optional, bound by no one here: `nodes/proxy` for the kubelet Summary API (the chart
    /// adds it with `rbac.kubeletSummary`; the lab's clusters run node-exporter).
    #[serde(rename = "kubeletSummary")]
    pub kubelet_summary: Vec<PolicyRule>,
    /// The ClusterRoles of API users.
    pub users: UserRules,
}

/// The ClusterRoles of the operator API's users.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserRules {
    /// [`VIEWER_ROLE`].
    pub viewer: Vec<PolicyRule>,
    /// [`TESTER_ROLE`].
    pub tester: Vec<PolicyRule>,
}

/// The rules file does not parse, or an object built from it does not encode: a bug in
/// the file, which the unit tests catch.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// The file is not the expected YAML.
    #[error("{RULES_PATH}: {0}")]
    Rules(#[from] serde_yaml::Error),
    /// An object could not be encoded.
    #[error("building the RBAC objects from {RULES_PATH}: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The rules of [`RULES_PATH`].
pub fn rules() -> Result<Rules, RbacError> {
    Ok(serde_yaml::from_str(RULES_YAML)?)
}

fn labels() -> Value {
    json!({"app.kubernetes.io/name": OPERATOR, "app.kubernetes.io/part-of": "tart-infra"})
}

fn namespace_object(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "tart-infra"}},
    })
}

fn role(kind: &str, namespace: Option<&str>, rules: &[PolicyRule]) -> Value {
    let mut role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": OPERATOR, "labels": labels()},
        "rules": rules,
    });
    if let Some(ns) = namespace {
        role["metadata"]["namespace"] = json!(ns);
    }
    role
}

fn binding(kind: &str, namespace: Option<&str>, account_namespace: &str) -> Value {
    binding_to(
        kind,
        namespace,
        json!({"kind": "ServiceAccount", "name": OPERATOR, "namespace": account_namespace}),
    )
}

fn binding_to(kind: &str, namespace: Option<&str>, subject: Value) -> Value {
    let role_kind = if kind == "ClusterRoleBinding" {
        "ClusterRole"
    } else {
        "Role"
    };
    let mut binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": OPERATOR, "labels": labels()},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": OPERATOR},
        "subjects": [subject],
    });
    if let Some(ns) = namespace {
        binding["metadata"]["namespace"] = json!(ns);
    }
    binding
}

fn objects(values: Vec<Value>) -> Result<Vec<DynamicObject>, RbacError> {
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(RbacError::from))
        .collect()
}

/// The operator's identity in `namespace`: that Namespace, the ServiceAccount
/// [`OPERATOR`], its ClusterRole, its Role there (kubeconfig Secrets, host-key ConfigMaps)
/// and its Role in [`ARGOCD_NAMESPACE`] (created here so the Role has a home before ArgoCD
/// is installed), each with its binding. What the chart installs with
/// `--set fullnameOverride=tart-operator`, plus the two Namespaces.
pub fn operator_objects(namespace: &str) -> Result<Vec<DynamicObject>, RbacError> {
    let rules = rules()?;
    objects(vec![
        namespace_object(namespace),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": OPERATOR, "namespace": namespace, "labels": labels()},
        }),
        role("ClusterRole", None, &rules.cluster),
        binding("ClusterRoleBinding", None, namespace),
        role("Role", Some(namespace), &rules.namespace),
        binding("RoleBinding", Some(namespace), namespace),
        namespace_object(ARGOCD_NAMESPACE),
        role("Role", Some(ARGOCD_NAMESPACE), &rules.argocd),
        binding("RoleBinding", Some(ARGOCD_NAMESPACE), namespace),
        role("Role", Some(HUBBLE_NAMESPACE), &rules.hubble_relay),
        binding("RoleBinding", Some(HUBBLE_NAMESPACE), namespace),
    ])
}

/// Who the operator is in a target cluster: the identity of the kubeconfig in that
/// cluster's Secret on the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A user (a client certificate's common name, or a token file's user).
    User(String),
    /// A ServiceAccount, whose tokens authenticate as
    /// `system:serviceaccount:<namespace>:<name>`.
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

impl Subject {
    /// The user name the API server sees (what admission matches on).
    pub fn username(&self) -> String {
        match self {
            Self::User(name) => name.clone(),
            Self::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
        }
    }

    /// The subject of a RoleBinding or ClusterRoleBinding.
    fn binding_subject(&self) -> Value {
        match self {
            Self::User(name) => {
                json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
            }
            Self::ServiceAccount { namespace, name } => {
                json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
            }
        }
    }
}

/// `value` as a CEL string literal.
fn cel_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The ValidatingAdmissionPolicy that confines `user`'s writes to namespaces, ConfigMaps,
/// Secrets, Jobs and NetworkPolicies to the runner namespaces the operator created: a Namespace it creates must
/// carry [`MANAGED_BY`], one it changes or deletes must already carry it, and a ConfigMap
/// Secret or Job must be in such a namespace. So the ClusterRole's cluster-wide verbs cannot
/// relabel `kube-system` or write into an application's namespace.
fn runner_namespace_policy(user: &str) -> Vec<Value> {
    let name = "tart-operator-runner-namespaces";
    let (key, value) = MANAGED_BY;
    let labelled = |o: &str| {
        format!(
            "has({o}.metadata.labels) && {o}.metadata.labels[?'{key}'].orValue('') == '{value}'"
        )
    };
    vec![
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": labels()},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["namespaces", "configmaps", "secrets"]},
                    {"apiGroups": ["batch"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["jobs"]},
                    {"apiGroups": ["networking.k8s.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["networkpolicies"]},
                ]},
                "matchConditions": [{"name": "the-operator", "expression": format!("request.userInfo.username == {}", cel_string(user))}],
                "validations": [{
                    "expression": format!(
                        "request.resource.resource == 'namespaces' ? (request.operation == 'CREATE' ? ({}) : ({})) : ({})",
                        labelled("object"), labelled("oldObject"), labelled("namespaceObject")
                    ),
                    "message": format!("tart-operator may only write in runner namespaces it created (labelled {key}={value})"),
                    "reason": "Forbidden",
                }],
            },
        }),
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": labels()},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        }),
    ]
}

/// The operator's rights in a target cluster for `subject` (the identity in that cluster's
/// kubeconfig Secret): the ClusterRole `target`, the Role `hubbleRelay` in
/// [`HUBBLE_NAMESPACE`], their bindings, and the admission policy that keeps its writes in
/// its runner namespaces; first the ServiceAccount when `subject` is one (its namespace is
/// the cluster owner's to create).
pub fn target_objects(subject: &Subject) -> Result<Vec<DynamicObject>, RbacError> {
    let rules = rules()?;
    let user = subject.username();
    let mut values = Vec::new();
    if let Subject::ServiceAccount { namespace, name } = subject {
        values.push(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "labels": labels()},
        }));
    }
    let subject = subject.binding_subject();
    values.extend([
        role("ClusterRole", None, &rules.target),
        binding_to("ClusterRoleBinding", None, subject.clone()),
        role("Role", Some(HUBBLE_NAMESPACE), &rules.hubble_relay),
        binding_to("RoleBinding", Some(HUBBLE_NAMESPACE), subject),
    ]);
    values.extend(runner_namespace_policy(&user));
    objects(values)
}

/// `objects` as one YAML stream (documents separated by `---`), for `kubectl apply -f -`.
pub fn manifest(objects: &[DynamicObject]) -> Result<String, RbacError> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(object)?);
    }
    Ok(out)
}

/// The ClusterRoles [`VIEWER_ROLE`] and [`TESTER_ROLE`] for people and tools that use the
/// operator's API (which checks each request with a SubjectAccessReview).
pub fn user_role_objects() -> Result<Vec<DynamicObject>, RbacError> {
    let rules = rules()?;
    let role = |name: &str, rules: &[PolicyRule]| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "tart-infra"}},
            "rules": rules,
        })
    };
    objects(vec![
        role(VIEWER_ROLE, &rules.users.viewer),
        role(TESTER_ROLE, &rules.users.tester),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(objects: &[DynamicObject]) -> Vec<String> {
        objects
            .iter()
            .map(|o| {
                format!(
                    "{} {}/{}",
                    o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("?"),
                    o.metadata.namespace.as_deref().unwrap_or("-"),
                    o.metadata.name.as_deref().unwrap_or("?"),
                )
            })
            .collect()
    }

    #[test]
    fn the_rules_file_parses_and_grants_what_the_operator_needs() {
        let rules = rules().expect("rules");
        let grants = |rules: &[PolicyRule], group: &str, resource: &str, verb: &str| {
            rules.iter().any(|r| {
                r.api_groups.iter().flatten().any(|g| g == group)
                    && r.resources.iter().flatten().any(|x| x == resource)
                    && r.verbs.iter().any(|v| v == verb)
            })
        };
        assert!(grants(
            &rules.cluster,
            "tartinfra.dev",
            "loadtests",
            "watch"
        ));
        assert!(grants(
            &rules.cluster,
            "authentication.k8s.io",
            "tokenreviews",
            "create"
        ));
        // Schedules: watched; their runs created and pruned.
        assert!(grants(
            &rules.cluster,
            "tartinfra.dev",
            "testschedules",
            "watch"
        ));
        assert!(grants(
            &rules.cluster,
            "tartinfra.dev",
            "scalingexperiments",
            "delete"
        ));
        assert!(!grants(
            &rules.cluster,
            "tartinfra.dev",
            "testschedules",
            "create"
        ));
        assert!(grants(&rules.namespace, "", "secrets", "create"));
        assert!(grants(&rules.argocd, "", "secrets", "patch"));
        assert!(grants(
            &rules.leader_election,
            "coordination.k8s.io",
            "leases",
            "update"
        ));
        // Port-forward only in Hubble Relay's namespace.
        for r in [&rules.cluster, &rules.target] {
            assert!(!grants(r, "", "pods/portforward", "create"));
        }
        assert!(grants(
            &rules.hubble_relay,
            "",
            "pods/portforward",
            "create"
        ));
        // In target clusters: runners, never reading Secrets, never RBAC.
        assert!(grants(&rules.target, "batch", "jobs", "create"));
        for verb in ["get", "list", "watch"] {
            assert!(!grants(&rules.target, "", "secrets", verb));
        }
        assert!(!rules.target.iter().any(|r| {
            r.api_groups
                .iter()
                .flatten()
                .any(|g| g == "rbac.authorization.k8s.io" || g == "*")
                || r.resources.iter().flatten().any(|x| x == "*")
        }));
        // Secrets only in the two namespaces, never cluster-wide.
        assert!(!rules.cluster.iter().any(|r| {
            r.resources
                .iter()
                .flatten()
                .any(|x| x == "secrets" || x == "*")
        }));
        assert!(!grants(
            &rules.users.viewer,
            "tartinfra.dev",
            "loadtests",
            "create"
        ));
        assert!(grants(
            &rules.users.tester,
            "tartinfra.dev",
            "loadtests",
            "create"
        ));
    }

    #[test]
    fn the_operator_objects_bind_its_account_in_its_namespace() {
        let objects = operator_objects("tart-system").expect("objects");
        assert_eq!(
            summary(&objects),
            [
                "Namespace -/tart-system",
                "ServiceAccount tart-system/tart-operator",
                "ClusterRole -/tart-operator",
                "ClusterRoleBinding -/tart-operator",
                "Role tart-system/tart-operator",
                "RoleBinding tart-system/tart-operator",
                "Namespace -/argocd",
                "Role argocd/tart-operator",
                "RoleBinding argocd/tart-operator",
                "Role kube-system/tart-operator",
                "RoleBinding kube-system/tart-operator",
            ]
        );
        let rules = rules().expect("rules");
        let rules_of = |i: usize| -> Vec<PolicyRule> {
            serde_json::from_value(objects[i].data["rules"].clone()).expect("rules")
        };
        assert_eq!(rules_of(2), rules.cluster);
        assert_eq!(rules_of(4), rules.namespace);
        assert_eq!(rules_of(7), rules.argocd);
        assert_eq!(rules_of(9), rules.hubble_relay);
        for i in [3, 5, 8, 10] {
            assert_eq!(
                objects[i].data["subjects"],
                json!([{"kind": "ServiceAccount", "name": "tart-operator", "namespace": "tart-system"}])
            );
        }
    }

    #[test]
    fn the_user_roles_are_the_viewer_and_the_tester() {
        assert_eq!(
            summary(&user_role_objects().expect("objects")),
            [
                "ClusterRole -/tart-infra-viewer",
                "ClusterRole -/tart-infra-tester"
            ]
        );
    }

    #[test]
    fn the_target_objects_bind_the_user_and_confine_its_writes() {
        let objects = target_objects(&Subject::User("tart-operator".into())).expect("objects");
        assert_eq!(
            summary(&objects),
            [
                "ClusterRole -/tart-operator",
                "ClusterRoleBinding -/tart-operator",
                "Role kube-system/tart-operator",
                "RoleBinding kube-system/tart-operator",
                "ValidatingAdmissionPolicy -/tart-operator-runner-namespaces",
                "ValidatingAdmissionPolicyBinding -/tart-operator-runner-namespaces",
            ]
        );
        assert_eq!(
            objects[1].data["subjects"],
            json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "tart-operator"}])
        );
        assert_eq!(
            objects[4].data["spec"]["matchConditions"][0]["expression"],
            "request.userInfo.username == 'tart-operator'"
        );
    }

    #[test]
    fn a_service_account_is_bound_as_one_and_matched_by_its_user_name() {
        let sa = Subject::ServiceAccount {
            namespace: "tart-system".into(),
            name: "tart-operator".into(),
        };
        assert_eq!(
            sa.username(),
            "system:serviceaccount:tart-system:tart-operator"
        );
        let objects = target_objects(&sa).expect("objects");
        assert_eq!(
            summary(&objects[..2]),
            [
                "ServiceAccount tart-system/tart-operator",
                "ClusterRole -/tart-operator"
            ]
        );
        let subject = json!([{"kind": "ServiceAccount", "name": "tart-operator", "namespace": "tart-system"}]);
        assert_eq!(objects[2].data["subjects"], subject);
        assert_eq!(objects[4].data["subjects"], subject);
        assert_eq!(
            objects[5].data["spec"]["matchConditions"][0]["expression"],
            "request.userInfo.username == 'system:serviceaccount:tart-system:tart-operator'"
        );
    }

    #[test]
    fn a_user_name_cannot_break_out_of_the_cel_string() {
        assert_eq!(cel_string("o'brien"), "'o\\'brien'");
        assert_eq!(cel_string("a\\' || true || '"), "'a\\\\\\' || true || \\''");
    }

    #[test]
    fn the_manifest_is_one_yaml_document_per_object() {
        let objects = target_objects(&Subject::User("u".into())).expect("objects");
        let text = manifest(&objects).expect("yaml");
        let docs: Vec<DynamicObject> = serde_yaml::Deserializer::from_str(&text)
            .map(|d| DynamicObject::deserialize(d).expect("document"))
            .collect();
        assert_eq!(summary(&docs), summary(&objects));
        assert!(
            text.contains("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"),
            "{text}"
        );
    }
}
