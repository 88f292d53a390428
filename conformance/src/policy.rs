//! A model of what the demo's network policies and mesh let through, for tests that ask "may
//! this pod reach that one on this port with this method?" about the files in the repository.
//!
//! It covers the subset of CiliumNetworkPolicy (cilium.io/v2) the repository uses, with
//! Cilium's semantics: endpoint and peer selectors (`matchLabels`, `matchExpressions`, the
//! `k8s:`/`any:` sources, namespace labels as `io.cilium.k8s.namespace.labels.*`, peers scoped
//! to the policy's namespace unless the selector names a namespace or namespace labels),
//! entities (`world`, `cluster`, `kube-apiserver`, `all`), ports, HTTP method rules, and
//! default deny (explicit `enableDefaultDeny`, else on for a direction with rules). Rules add
//! up: an L4-only rule for a peer and port lets every method through, as in Cilium. Cilium's
//! HTTP rules need plaintext: traffic between two pods that both have an Istio sidecar is mTLS
//! and fails any L7 rule. Of Istio it models STRICT PeerAuthentication (a pod with a sidecar
//! refuses clients without one) and ALLOW AuthorizationPolicies (principals, namespaces,
//! methods). Anything else in those objects is an error, so the model never silently ignores
//! a field that would change the answer.

use std::collections::BTreeMap;

use serde_json::Value;

/// The label Istio's injector puts on every pod with a sidecar.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";

const NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";

/// A policy object the model cannot read.
#[derive(Debug, thiserror::Error)]
#[error("{object}: {message}")]
pub struct ModelError {
    /// `Kind namespace/name`.
    pub object: String,
    /// What is not understood.
    pub message: String,
}

/// A pod, as policies see it.
#[derive(Clone, Debug)]
pub struct Pod {
    /// Its namespace.
    pub namespace: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its namespace's labels.
    pub namespace_labels: BTreeMap<String, String>,
    /// Its ServiceAccount (its mTLS identity when it has a sidecar).
    pub service_account: String,
    /// Whether it sends and receives mTLS (an Istio sidecar, or a gateway).
    pub meshed: bool,
}

impl Pod {
    /// A pod without a sidecar.
    pub fn new(namespace: &str, labels: &[(&str, &str)], service_account: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            namespace_labels: BTreeMap::new(),
            service_account: service_account.to_owned(),
            meshed: false,
        }
    }

    /// With these namespace labels.
    pub fn in_namespace_labelled(mut self, labels: &[(&str, &str)]) -> Self {
        self.namespace_labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self
    }

    /// With an Istio sidecar: meshed, and labelled as the injector labels it.
    pub fn with_sidecar(mut self) -> Self {
        self.meshed = true;
        self.labels
            .insert(TLS_MODE_LABEL.to_owned(), "istio".to_owned());
        self
    }

    /// Meshed without the injector's label (an Istio gateway).
    pub fn as_gateway(mut self) -> Self {
        self.meshed = true;
        self
    }

    /// The labels Cilium's identity of this pod has (without their source prefix).
    fn identity(&self) -> BTreeMap<String, String> {
        let mut out = self.labels.clone();
        out.insert(NAMESPACE_LABEL.to_owned(), self.namespace.clone());
        for (k, v) in &self.namespace_labels {
            out.insert(format!("{NAMESPACE_LABELS_PREFIX}{k}"), v.clone());
        }
        out
    }
}

/// One end of a connection.
#[derive(Clone, Debug)]
pub enum Peer {
    /// A pod in the cluster.
    Pod(Pod),
    /// Outside the cluster.
    World,
    /// The cluster's API server.
    ApiServer,
}

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// What is sent: to a port, and for HTTP with a method.
#[derive(Clone, Debug)]
pub struct Request {
    /// The destination's port (the pod's container port).
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The HTTP method, or `None` when not HTTP.
    pub method: Option<String>,
}

impl Request {
    /// HTTP over TCP.
    pub fn http(port: u16, method: &str) -> Self {
        Self {
            port,
            protocol: Protocol::Tcp,
            method: Some(method.to_owned()),
        }
    }

    /// Plain TCP.
    pub fn tcp(port: u16) -> Self {
        Self {
            port,
            protocol: Protocol::Tcp,
            method: None,
        }
    }

    /// Plain UDP.
    pub fn udp(port: u16) -> Self {
        Self {
            port,
            protocol: Protocol::Udp,
            method: None,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// A label selector (keys without their `k8s:`/`any:` source).
#[derive(Clone, Debug, Default)]
struct Selector {
    requirements: Vec<(String, Op)>,
}

impl Selector {
    fn parse(value: &Value, bad: &dyn Fn(String) -> ModelError) -> Result<Self, ModelError> {
        let Some(map) = value.as_object() else {
            return Err(bad(format!("selector {value} is not an object")));
        };
        let mut requirements = Vec::new();
        for (field, v) in map {
            match field.as_str() {
                "matchLabels" => {
                    for (k, val) in v.as_object().into_iter().flatten() {
                        let val = val
                            .as_str()
                            .ok_or_else(|| bad(format!("matchLabels {k} is not a string")))?;
                        requirements.push((strip_source(k), Op::In(vec![val.to_owned()])));
                    }
                }
                "matchExpressions" => {
                    for e in v.as_array().into_iter().flatten() {
                        let key = strip_source(e["key"].as_str().unwrap_or_default());
                        let values = e["values"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect();
                        let op = match e["operator"].as_str() {
                            Some("In") => Op::In(values),
                            Some("NotIn") => Op::NotIn(values),
                            Some("Exists") => Op::Exists,
                            Some("DoesNotExist") => Op::DoesNotExist,
                            other => return Err(bad(format!("operator {other:?}"))),
                        };
                        requirements.push((key, op));
                    }
                }
                other => return Err(bad(format!("selector field {other} is not modelled"))),
            }
        }
        Ok(Self { requirements })
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = labels.get(key);
            match op {
                Op::In(values) => value.is_some_and(|v| values.contains(v)),
                Op::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }

    /// Whether the selector says which namespace (by name or by namespace labels).
    fn names_namespace(&self) -> bool {
        self.requirements
            .iter()
            .any(|(k, _)| k == NAMESPACE_LABEL || k.starts_with(NAMESPACE_LABELS_PREFIX))
    }

    /// Requires `key` to be absent (true) or present (false), if the selector says so.
    fn requires_absent(&self, key: &str) -> Option<bool> {
        self.requirements
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, op)| match op {
                Op::DoesNotExist => Some(true),
                Op::Exists | Op::In(_) => Some(false),
                Op::NotIn(_) => None,
            })
    }
}

fn strip_source(key: &str) -> String {
    key.strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key)
        .to_owned()
}

#[derive(Clone, Debug)]
enum PeerSelector {
    Endpoints(Selector),
    Entity(String),
}

#[derive(Clone, Debug)]
struct PortRule {
    ports: Vec<(u16, Option<Protocol>)>,
    /// HTTP methods (Cilium's method rules are regular expressions; ours are plain names).
    http: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
struct Rule {
    peers: Vec<PeerSelector>,
    /// Empty: every port.
    ports: Vec<PortRule>,
}

/// One CiliumNetworkPolicy.
#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    /// Its name.
    pub name: String,
    namespace: String,
    selector: Selector,
    ingress: Vec<Rule>,
    egress: Vec<Rule>,
    default_deny_ingress: Option<bool>,
    default_deny_egress: Option<bool>,
}

/// One Istio ALLOW AuthorizationPolicy.
#[derive(Clone, Debug)]
struct Authorization {
    namespace: String,
    selector: Option<Selector>,
    rules: Vec<AuthorizationRule>,
}

/// A rule: any of its sources (none: any source) and any of its methods (none: any).
#[derive(Clone, Debug)]
struct AuthorizationRule {
    sources: Vec<Source>,
    methods: Vec<String>,
}

/// A source: all of its lists that are not empty must match.
#[derive(Clone, Debug)]
struct Source {
    principals: Vec<String>,
    namespaces: Vec<String>,
}

/// The policies of a cluster: CiliumNetworkPolicies, STRICT namespaces, AuthorizationPolicies.
#[derive(Clone, Debug, Default)]
pub struct Policies {
    /// The CiliumNetworkPolicies.
    pub network: Vec<NetworkPolicy>,
    strict_namespaces: Vec<String>,
    authorization: Vec<Authorization>,
}

/// Why a connection is refused, or that it is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything on the way lets it through.
    Allowed,
    /// Refused, and by what.
    Denied(String),
}

impl Policies {
    /// Reads the objects of `docs` it models (others are ignored; an unmodelled field of a
    /// modelled kind is an error). Each is `(kind, object)`.
    pub fn from_objects<'a>(
        docs: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Self, ModelError> {
        let mut out = Self::default();
        for (kind, obj) in docs {
            let name = obj["metadata"]["name"].as_str().unwrap_or("?").to_owned();
            let namespace = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let object = format!("{kind} {namespace}/{name}");
            let bad = |message: String| ModelError {
                object: object.clone(),
                message,
            };
            match kind {
                "CiliumNetworkPolicy" => {
                    out.network
                        .push(network_policy(name, namespace, &obj["spec"], &bad)?);
                }
                "PeerAuthentication" => {
                    let spec = &obj["spec"];
                    if spec.get("selector").is_some() || spec.get("portLevelMtls").is_some() {
                        return Err(bad("only namespace-wide mTLS modes are modelled".into()));
                    }
                    match spec["mtls"]["mode"].as_str() {
                        Some("STRICT") => out.strict_namespaces.push(namespace),
                        Some("PERMISSIVE") | Some("UNSET") | None => {}
                        other => return Err(bad(format!("mtls mode {other:?}"))),
                    }
                }
                "AuthorizationPolicy" => {
                    out.authorization
                        .push(authorization(namespace, &obj["spec"], &bad)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether `source` may send `request` to `destination`, with the first thing that
    /// refuses it. Cilium checks the sender's egress and the receiver's ingress; Istio
    /// checks mTLS and authorization where the receiver has a sidecar.
    pub fn check(&self, source: &Peer, destination: &Peer, request: &Request) -> Verdict {
        let encrypted =
            matches!((source, destination), (Peer::Pod(s), Peer::Pod(d)) if s.meshed && d.meshed);
        if let Peer::Pod(src) = source
            && !self.allows(src, destination, request, encrypted, Direction::Egress)
        {
            return Verdict::Denied(format!("Cilium: egress of {}", describe(source)));
        }
        if let Peer::Pod(dst) = destination {
            if !self.allows(dst, source, request, encrypted, Direction::Ingress) {
                return Verdict::Denied(format!("Cilium: ingress of {}", describe(destination)));
            }
            if dst.meshed && dst.labels.contains_key(TLS_MODE_LABEL) {
                let plaintext_source = !matches!(source, Peer::Pod(s) if s.meshed);
                if plaintext_source && self.strict_namespaces.contains(&dst.namespace) {
                    return Verdict::Denied("Istio: STRICT mTLS refuses plaintext".into());
                }
                if !self.authorized(dst, source, request) {
                    return Verdict::Denied("Istio: AuthorizationPolicy".into());
                }
            }
        }
        Verdict::Allowed
    }

    fn allows(
        &self,
        subject: &Pod,
        peer: &Peer,
        request: &Request,
        encrypted: bool,
        direction: Direction,
    ) -> bool {
        let selecting: Vec<&NetworkPolicy> = self
            .network
            .iter()
            .filter(|p| p.namespace == subject.namespace && p.selector.matches(&subject.identity()))
            .collect();
        let enforced = selecting.iter().any(|p| match direction {
            Direction::Ingress => p.default_deny_ingress.unwrap_or(!p.ingress.is_empty()),
            Direction::Egress => p.default_deny_egress.unwrap_or(!p.egress.is_empty()),
        });
        if !enforced {
            return true;
        }
        selecting.iter().any(|p| {
            let rules = match direction {
                Direction::Ingress => &p.ingress,
                Direction::Egress => &p.egress,
            };
            rules
                .iter()
                .any(|r| rule_allows(r, &p.namespace, peer, request, encrypted))
        })
    }

    fn authorized(&self, destination: &Pod, source: &Peer, request: &Request) -> bool {
        let policies: Vec<&Authorization> = self
            .authorization
            .iter()
            .filter(|a| {
                a.namespace == destination.namespace
                    && a.selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&destination.labels))
            })
            .collect();
        if policies.is_empty() {
            return true;
        }
        let identity = match source {
            Peer::Pod(p) if p.meshed => Some((
                format!("cluster.local/ns/{}/sa/{}", p.namespace, p.service_account),
                p.namespace.clone(),
            )),
            _ => None,
        };
        policies.iter().any(|a| {
            a.rules.iter().any(|rule| {
                let from = rule.sources.is_empty()
                    || rule.sources.iter().any(|source| {
                        identity.as_ref().is_some_and(|(principal, ns)| {
                            (source.principals.is_empty() || source.principals.contains(principal))
                                && (source.namespaces.is_empty() || source.namespaces.contains(ns))
                        })
                    });
                let to = rule.methods.is_empty()
                    || request
                        .method
                        .as_ref()
                        .is_some_and(|m| rule.methods.contains(m));
                from && to
            })
        })
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

fn describe(peer: &Peer) -> String {
    match peer {
        Peer::Pod(p) => format!(
            "{}/{}",
            p.namespace,
            p.labels
                .get("app")
                .or_else(|| p.labels.get("app.kubernetes.io/name"))
                .cloned()
                .unwrap_or_else(|| "pod".into())
        ),
        Peer::World => "world".into(),
        Peer::ApiServer => "kube-apiserver".into(),
    }
}

fn rule_allows(
    rule: &Rule,
    policy_namespace: &str,
    peer: &Peer,
    request: &Request,
    encrypted: bool,
) -> bool {
    let peer_ok = rule.peers.iter().any(|sel| match (sel, peer) {
        (PeerSelector::Endpoints(s), Peer::Pod(p)) => {
            s.matches(&p.identity()) && (s.names_namespace() || p.namespace == policy_namespace)
        }
        (PeerSelector::Endpoints(_), _) => false,
        (PeerSelector::Entity(e), peer) => matches!(
            (e.as_str(), peer),
            ("all", _)
                | ("world", Peer::World)
                | ("cluster", Peer::Pod(_))
                | ("cluster", Peer::ApiServer)
                | ("kube-apiserver", Peer::ApiServer)
        ),
    });
    if !peer_ok {
        return false;
    }
    if rule.ports.is_empty() {
        return true;
    }
    rule.ports.iter().any(|pr| {
        let port_ok = pr.ports.iter().any(|(port, proto)| {
            *port == request.port && proto.is_none_or(|p| p == request.protocol)
        });
        port_ok
            && match &pr.http {
                None => true,
                // Cilium's proxy must parse the request: no HTTP inside mTLS.
                Some(methods) => {
                    !encrypted
                        && request
                            .method
                            .as_ref()
                            .is_some_and(|m| methods.is_empty() || methods.contains(m))
                }
            }
    })
}

fn network_policy(
    name: String,
    namespace: String,
    spec: &Value,
    bad: &dyn Fn(String) -> ModelError,
) -> Result<NetworkPolicy, ModelError> {
    let mut policy = NetworkPolicy {
        name,
        namespace,
        selector: Selector::default(),
        ingress: Vec::new(),
        egress: Vec::new(),
        default_deny_ingress: None,
        default_deny_egress: None,
    };
    for (field, v) in spec.as_object().into_iter().flatten() {
        match field.as_str() {
            "description" => {}
            "endpointSelector" => policy.selector = Selector::parse(v, bad)?,
            "ingress" => policy.ingress = rules(v, "from", bad)?,
            "egress" => policy.egress = rules(v, "to", bad)?,
            "enableDefaultDeny" => {
                policy.default_deny_ingress = v["ingress"].as_bool();
                policy.default_deny_egress = v["egress"].as_bool();
            }
            other => return Err(bad(format!("spec.{other} is not modelled"))),
        }
    }
    Ok(policy)
}

fn rules(
    value: &Value,
    prefix: &str,
    bad: &dyn Fn(String) -> ModelError,
) -> Result<Vec<Rule>, ModelError> {
    let mut out = Vec::new();
    for r in value.as_array().into_iter().flatten() {
        let mut rule = Rule {
            peers: Vec::new(),
            ports: Vec::new(),
        };
        for (field, v) in r.as_object().into_iter().flatten() {
            if field == &format!("{prefix}Endpoints") {
                for s in v.as_array().into_iter().flatten() {
                    rule.peers
                        .push(PeerSelector::Endpoints(Selector::parse(s, bad)?));
                }
            } else if field == &format!("{prefix}Entities") {
                for e in v.as_array().into_iter().flatten() {
                    rule.peers
                        .push(PeerSelector::Entity(e.as_str().unwrap_or_default().into()));
                }
            } else if field == "toPorts" {
                for p in v.as_array().into_iter().flatten() {
                    rule.ports.push(port_rule(p, bad)?);
                }
            } else {
                return Err(bad(format!("rule field {field} is not modelled")));
            }
        }
        out.push(rule);
    }
    Ok(out)
}

fn port_rule(value: &Value, bad: &dyn Fn(String) -> ModelError) -> Result<PortRule, ModelError> {
    let mut ports = Vec::new();
    for p in value["ports"].as_array().into_iter().flatten() {
        let port = p["port"]
            .as_str()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad(format!("port {} is not a number", p["port"])))?;
        let protocol = match p["protocol"].as_str() {
            Some("TCP") => Some(Protocol::Tcp),
            Some("UDP") => Some(Protocol::Udp),
            Some("ANY") | None => None,
            other => return Err(bad(format!("protocol {other:?}"))),
        };
        ports.push((port, protocol));
    }
    let mut http = None;
    for (field, v) in value["rules"].as_object().into_iter().flatten() {
        if field != "http" {
            return Err(bad(format!("L7 rules {field} are not modelled")));
        }
        let mut methods = Vec::new();
        for h in v.as_array().into_iter().flatten() {
            for (k, m) in h.as_object().into_iter().flatten() {
                if k != "method" {
                    return Err(bad(format!("HTTP rule field {k} is not modelled")));
                }
                methods.push(m.as_str().unwrap_or_default().to_owned());
            }
        }
        http = Some(methods);
    }
    for field in value.as_object().into_iter().flatten().map(|(k, _)| k) {
        if field != "ports" && field != "rules" {
            return Err(bad(format!("toPorts field {field} is not modelled")));
        }
    }
    Ok(PortRule { ports, http })
}

fn authorization(
    namespace: String,
    spec: &Value,
    bad: &dyn Fn(String) -> ModelError,
) -> Result<Authorization, ModelError> {
    if spec["action"].as_str().is_some_and(|a| a != "ALLOW") {
        return Err(bad("only ALLOW is modelled".into()));
    }
    let selector = match spec.get("selector") {
        Some(s) => Some(Selector::parse(s, bad)?),
        None => None,
    };
    let mut rules = Vec::new();
    for r in spec["rules"].as_array().into_iter().flatten() {
        let mut sources = Vec::new();
        for f in r["from"].as_array().into_iter().flatten() {
            let strings = |field: &str| -> Vec<String> {
                f["source"][field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            for field in f["source"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if field != "principals" && field != "namespaces" {
                    return Err(bad(format!("source field {field} is not modelled")));
                }
            }
            sources.push(Source {
                principals: strings("principals"),
                namespaces: strings("namespaces"),
            });
        }
        let mut methods = Vec::new();
        for t in r["to"].as_array().into_iter().flatten() {
            for (field, v) in t["operation"].as_object().into_iter().flatten() {
                if field != "methods" {
                    return Err(bad(format!("operation field {field} is not modelled")));
                }
                methods.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m.as_str().map(str::to_owned)),
                );
            }
        }
        if r.get("when").is_some() {
            return Err(bad("conditions are not modelled".into()));
        }
        rules.push(AuthorizationRule { sources, methods });
    }
    Ok(Authorization {
        namespace,
        selector,
        rules,
    })
}

impl NetworkPolicy {
    /// Whether the policy has an HTTP rule (ingress or egress).
    pub fn has_http_rules(&self) -> bool {
        self.ingress
            .iter()
            .chain(&self.egress)
            .any(|r| r.ports.iter().any(|p| p.http.is_some()))
    }

    /// Whether its endpoint selector requires the pod to have no Istio sidecar.
    pub fn only_without_sidecar(&self) -> bool {
        self.selector.requires_absent(TLS_MODE_LABEL) == Some(true)
    }

    /// Whether it selects `pod`.
    pub fn selects(&self, pod: &Pod) -> bool {
        self.namespace == pod.namespace && self.selector.matches(&pod.identity())
    }

    /// Whether it has ingress rules.
    pub fn has_ingress(&self) -> bool {
        !self.ingress.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policies(objects: &[Value]) -> Policies {
        Policies::from_objects(
            objects
                .iter()
                .map(|o| (o["kind"].as_str().unwrap_or(""), o)),
        )
        .expect("modelled")
    }

    fn cnp(name: &str, spec: Value) -> Value {
        json!({"kind": "CiliumNetworkPolicy", "metadata": {"name": name, "namespace": "demo"}, "spec": spec})
    }

    fn web() -> Pod {
        Pod::new("demo", &[("app", "web")], "web")
    }

    fn api() -> Pod {
        Pod::new("demo", &[("app", "api")], "api")
    }

    #[test]
    fn an_empty_ingress_list_does_not_deny_but_enable_default_deny_does() {
        let empty = policies(&[cnp("d", json!({"endpointSelector": {}, "ingress": []}))]);
        let r = Request::tcp(80);
        assert_eq!(
            empty.check(&Peer::World, &Peer::Pod(api()), &r),
            Verdict::Allowed
        );
        let explicit = policies(&[cnp(
            "d",
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": true, "egress": true}}),
        )]);
        assert!(matches!(
            explicit.check(&Peer::World, &Peer::Pod(api()), &r),
            Verdict::Denied(_)
        ));
    }

    #[test]
    fn both_the_senders_egress_and_the_receivers_ingress_must_allow() {
        let base =
            json!({"endpointSelector": {}, "enableDefaultDeny": {"ingress": true, "egress": true}});
        let ingress = cnp(
            "in",
            json!({"endpointSelector": {"matchLabels": {"app": "api"}},
                   "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}],
                                "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
        );
        let only_ingress = policies(&[cnp("d", base.clone()), ingress.clone()]);
        let r = Request::tcp(8080);
        assert_eq!(
            only_ingress.check(&Peer::Pod(web()), &Peer::Pod(api()), &r),
            Verdict::Denied("Cilium: egress of demo/web".into())
        );
        let egress = cnp(
            "out",
            json!({"endpointSelector": {"matchLabels": {"app": "web"}},
                   "egress": [{"toEndpoints": [{"matchLabels": {"app": "api"}}],
                               "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
        );
        let both = policies(&[cnp("d", base), ingress, egress]);
        assert_eq!(
            both.check(&Peer::Pod(web()), &Peer::Pod(api()), &r),
            Verdict::Allowed
        );
        assert!(matches!(
            both.check(&Peer::Pod(web()), &Peer::Pod(api()), &Request::tcp(9090)),
            Verdict::Denied(_)
        ));
    }

    #[test]
    fn peers_stay_in_the_policys_namespace_unless_the_selector_names_one() {
        let p = policies(&[cnp(
            "in",
            json!({"endpointSelector": {"matchLabels": {"app": "api"}},
                   "ingress": [{"fromEndpoints": [
                       {"matchLabels": {"app": "web"}},
                       {"matchLabels": {"k8s:io.cilium.k8s.namespace.labels.team": "a", "k8s:role": "client"}}]}]}),
        )]);
        let r = Request::tcp(1);
        let other_web = Pod::new("other", &[("app", "web")], "web");
        assert!(matches!(
            p.check(&Peer::Pod(other_web), &Peer::Pod(api()), &r),
            Verdict::Denied(_)
        ));
        let team =
            Pod::new("team-ns", &[("role", "client")], "c").in_namespace_labelled(&[("team", "a")]);
        assert_eq!(
            p.check(&Peer::Pod(team.clone()), &Peer::Pod(api()), &r),
            Verdict::Allowed
        );
        let unlabelled = Pod::new("team-ns", &[("role", "client")], "c");
        assert!(matches!(
            p.check(&Peer::Pod(unlabelled), &Peer::Pod(api()), &r),
            Verdict::Denied(_)
        ));
    }

    #[test]
    fn an_l4_rule_lets_every_method_through_and_an_l7_rule_fails_under_mtls() {
        let l7 = cnp(
            "l7",
            json!({"endpointSelector": {"matchLabels": {"app": "api"}},
                   "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}],
                                "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                                             "rules": {"http": [{"method": "GET"}]}}]}]}),
        );
        let p = policies(std::slice::from_ref(&l7));
        let (get, post) = (Request::http(8080, "GET"), Request::http(8080, "POST"));
        assert_eq!(
            p.check(&Peer::Pod(web()), &Peer::Pod(api()), &get),
            Verdict::Allowed
        );
        assert!(matches!(
            p.check(&Peer::Pod(web()), &Peer::Pod(api()), &post),
            Verdict::Denied(_)
        ));
        assert!(matches!(
            p.check(
                &Peer::Pod(web().with_sidecar()),
                &Peer::Pod(api().with_sidecar()),
                &get
            ),
            Verdict::Denied(_)
        ));
        let l4 = cnp(
            "l4",
            json!({"endpointSelector": {"matchLabels": {"app": "api"}},
                   "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}],
                                "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}]}),
        );
        let both = policies(&[l7, l4]);
        assert_eq!(
            both.check(&Peer::Pod(web()), &Peer::Pod(api()), &post),
            Verdict::Allowed
        );
    }

    #[test]
    fn istio_strict_mtls_and_authorization() {
        let objects = [
            json!({"kind": "PeerAuthentication", "metadata": {"name": "s", "namespace": "demo"},
                   "spec": {"mtls": {"mode": "STRICT"}}}),
            json!({"kind": "AuthorizationPolicy", "metadata": {"name": "a", "namespace": "demo"},
                   "spec": {"selector": {"matchLabels": {"app": "api"}}, "action": "ALLOW",
                            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/demo/sa/web"]}}],
                                       "to": [{"operation": {"methods": ["GET"]}}]}]}}),
        ];
        let p = policies(&objects);
        let (get, post) = (Request::http(8080, "GET"), Request::http(8080, "POST"));
        let (w, a) = (
            Peer::Pod(web().with_sidecar()),
            Peer::Pod(api().with_sidecar()),
        );
        assert_eq!(p.check(&w, &a, &get), Verdict::Allowed);
        assert_eq!(
            p.check(&w, &a, &post),
            Verdict::Denied("Istio: AuthorizationPolicy".into())
        );
        assert_eq!(
            p.check(&Peer::Pod(web()), &a, &get),
            Verdict::Denied("Istio: STRICT mTLS refuses plaintext".into())
        );
        let other = Peer::Pod(Pod::new("demo", &[("app", "x")], "x").with_sidecar());
        assert_eq!(
            p.check(&other, &a, &get),
            Verdict::Denied("Istio: AuthorizationPolicy".into())
        );
    }

    #[test]
    fn unmodelled_fields_are_errors_not_ignored() {
        let objects = [cnp(
            "x",
            json!({"endpointSelector": {}, "ingress": [{"fromCIDR": ["10.0.0.0/8"]}]}),
        )];
        let e = Policies::from_objects(objects.iter().map(|o| ("CiliumNetworkPolicy", o)))
            .expect_err("fromCIDR");
        assert_eq!(
            e.to_string(),
            "CiliumNetworkPolicy demo/x: rule field fromCIDR is not modelled"
        );
    }
}
