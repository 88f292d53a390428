//! Server-side apply of documents, as a dry run or for real, with one [`Verdict`] per
//! document: accepted or rejected with the server's message, and the server's warnings.
//!
//! Requests go through [`Client::send`] rather than [`kube::Api`] for two reasons: the API
//! server's warnings travel in `Warning` response headers, which `Api` does not return, and
//! the body is the document's own YAML rather than our re-encoding of it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::client::Body;
use kube::core::{GroupVersionKind, Resource};
use kube::discovery::{self, Scope};
use kube::runtime::wait::{await_condition, conditions};

use crate::{Document, Error};

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "conformance";

/// What the API server said about one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The document: file, position, kind and name ([`Document`]'s `Display`).
    pub document: String,
    /// Why it was rejected (the server's message, or why it could not be sent); `None` when
    /// accepted.
    pub rejected: Option<String>,
    /// The server's `Warning` headers, in order.
    pub warnings: Vec<String>,
}

impl fmt::Display for Verdict {
    /// `FILE#N KIND NAME: rejected: MESSAGE`, then one `FILE#N KIND NAME: warning: TEXT`
    /// line per warning; `FILE#N KIND NAME: accepted` when there is neither.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        if let Some(message) = &self.rejected {
            lines.push(format!("{}: rejected: {message}", self.document));
        }
        for warning in &self.warnings {
            lines.push(format!("{}: warning: {warning}", self.document));
        }
        if lines.is_empty() {
            lines.push(format!("{}: accepted", self.document));
        }
        f.write_str(&lines.join("\n"))
    }
}

/// Applies documents to one API server, remembering what discovery said about each kind.
pub struct Applier {
    client: Client,
    kinds: HashMap<GroupVersionKind, (ApiResource, Scope)>,
}

impl Applier {
    /// An applier for the server `client` talks to.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            kinds: HashMap::new(),
        }
    }

    /// Server-side apply (create, for a `generateName` document) with `dryRun=All` and
    /// `fieldValidation=Strict`: nothing is stored and unknown or duplicate fields are
    /// errors. Namespaced objects without a namespace go to `default_namespace`.
    pub async fn dry_run(&mut self, doc: &Document, default_namespace: &str) -> Verdict {
        self.send(doc, default_namespace, true).await
    }

    /// [`Applier::dry_run`] of every document, in order.
    pub async fn dry_run_all(
        &mut self,
        docs: &[Document],
        default_namespace: &str,
    ) -> Vec<Verdict> {
        let mut verdicts = Vec::with_capacity(docs.len());
        for doc in docs {
            verdicts.push(self.dry_run(doc, default_namespace).await);
        }
        verdicts
    }

    /// Server-side apply for real (strict field validation too), for what the dry runs need
    /// to exist: CRDs and namespaces.
    pub async fn apply(&mut self, doc: &Document, default_namespace: &str) -> Verdict {
        self.send(doc, default_namespace, false).await
    }

    /// Applies the CRDs in `docs` for real and waits until each is Established (served), so
    /// objects of their kinds can be checked. Every rejection is listed in the error.
    pub async fn install_crds(
        &mut self,
        docs: &[Document],
        timeout: Duration,
    ) -> Result<(), Error> {
        let mut rejected = Vec::new();
        for doc in docs {
            let verdict = self.apply(doc, "default").await;
            if verdict.rejected.is_some() {
                rejected.push(verdict.to_string());
            } else if doc.kind() != "CustomResourceDefinition" {
                rejected.push(format!("{doc}: not a CustomResourceDefinition"));
            }
        }
        if !rejected.is_empty() {
            return Err(Error::Setup(rejected.join("\n")));
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for doc in docs {
            let name = doc.name();
            let established = await_condition(crds.clone(), name, conditions::is_crd_established());
            match tokio::time::timeout(timeout, established).await {
                Ok(Ok(_)) => {}
                outcome => {
                    return Err(Error::NotEstablished {
                        name: name.to_owned(),
                        secs: timeout.as_secs(),
                        detail: match outcome {
                            Ok(Err(e)) => e.to_string(),
                            _ => "timed out".to_owned(),
                        },
                    });
                }
            }
        }
        Ok(())
    }

    /// Creates, for real, every namespace the namespaced documents go to: from the
    /// document when `docs` holds the Namespace itself (so its labels, e.g. Pod Security
    /// levels, take part in the dry runs), else a bare one. A dry run cannot create a
    /// namespace for the objects after it.
    pub async fn create_namespaces(
        &mut self,
        docs: &[Document],
        default_namespace: &str,
    ) -> Result<(), Error> {
        let mut wanted = BTreeSet::new();
        for doc in docs {
            if let Ok((_, Some(ns))) = self.target(doc, default_namespace).await {
                wanted.insert(ns);
            }
        }
        let mut rejected = Vec::new();
        for doc in docs.iter().filter(|d| is_namespace(d)) {
            if wanted.remove(doc.name()) {
                let verdict = self.apply(doc, default_namespace).await;
                if verdict.rejected.is_some() {
                    rejected.push(verdict.to_string());
                }
            }
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        for name in wanted {
            if api.get_opt(&name).await?.is_none() {
                let mut ns = Namespace::default();
                ns.metadata.name = Some(name);
                api.create(&PostParams::default(), &ns).await?;
            }
        }
        if rejected.is_empty() {
            Ok(())
        } else {
            Err(Error::Setup(rejected.join("\n")))
        }
    }

    /// The document's resource (through discovery, once per kind) and namespace (`None`
    /// for cluster-scoped kinds).
    async fn target(
        &mut self,
        doc: &Document,
        default_namespace: &str,
    ) -> Result<(ApiResource, Option<String>), String> {
        let types = doc.object.types.as_ref().ok_or("no apiVersion and kind")?;
        let gvk = GroupVersionKind::try_from(types).map_err(|e| e.to_string())?;
        let (resource, scope) = match self.kinds.get(&gvk) {
            Some(known) => known.clone(),
            None => {
                let (resource, caps) =
                    discovery::pinned_kind(&self.client, &gvk)
                        .await
                        .map_err(|e| {
                            format!("the API server does not serve {}: {e}", types.api_version)
                        })?;
                self.kinds
                    .insert(gvk, (resource.clone(), caps.scope.clone()));
                (resource, caps.scope)
            }
        };
        let namespace = match scope {
            Scope::Namespaced => Some(
                doc.object
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_owned()),
            ),
            Scope::Cluster => None,
        };
        Ok((resource, namespace))
    }

    async fn send(&mut self, doc: &Document, default_namespace: &str, dry_run: bool) -> Verdict {
        let mut verdict = Verdict {
            document: doc.to_string(),
            rejected: None,
            warnings: Vec::new(),
        };
        match self.request(doc, default_namespace, dry_run).await {
            Ok((warnings, rejected)) => {
                verdict.warnings = warnings;
                verdict.rejected = rejected;
            }
            Err(message) => verdict.rejected = Some(message),
        }
        verdict
    }

    /// The response's warnings and, when it is an error, the server's message; `Err` when
    /// no request could be made or no response came.
    ///
    /// The body is the document's own YAML, so the server reads it as kubectl would. A
    /// document with only `metadata.generateName` is meant for `kubectl create`, so it is
    /// created (POST); every other one is applied server-side (PATCH, forced: ownership of
    /// fields is not what is checked).
    async fn request(
        &mut self,
        doc: &Document,
        default_namespace: &str,
        dry_run: bool,
    ) -> Result<(Vec<String>, Option<String>), String> {
        let (resource, namespace) = self.target(doc, default_namespace).await?;
        let url = DynamicObject::url_path(&resource, namespace.as_deref());
        let dry_run = if dry_run { "dryRun=All&" } else { "" };
        let query = format!("{dry_run}fieldManager={FIELD_MANAGER}&fieldValidation=Strict");
        let generated =
            doc.object.metadata.name.is_none() && doc.object.metadata.generate_name.is_some();
        let request = if generated {
            http::Request::post(format!("{url}?{query}"))
                .header(http::header::CONTENT_TYPE, "application/yaml")
        } else {
            http::Request::patch(format!("{url}/{}?{query}&force=true", doc.name()))
                .header(http::header::CONTENT_TYPE, "application/apply-patch+yaml")
        }
        .header(http::header::ACCEPT, "application/json")
        .body(Body::from(doc.text.clone().into_bytes()))
        .map_err(|e| format!("building the request: {e}"))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        let warnings = response
            .headers()
            .get_all(http::header::WARNING)
            .iter()
            .map(|v| warning_text(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response: {e}"))?
            .to_bytes();
        let rejected = (!status.is_success()).then(|| server_message(status, &body));
        Ok((warnings, rejected))
    }
}

fn is_namespace(doc: &Document) -> bool {
    doc.object
        .types
        .as_ref()
        .is_some_and(|t| t.api_version == "v1" && t.kind == "Namespace")
}

/// The text of a `Warning` header (`299 - "text"`), unquoted; the header as it is when it
/// does not have that shape.
fn warning_text(header: &str) -> String {
    let Some((_, quoted)) = header.split_once('"') else {
        return header.to_owned();
    };
    let quoted = quoted.strip_suffix('"').unwrap_or(quoted);
    quoted.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The `message` of the `Status` an error response carries, with its HTTP status; the raw
/// body when it is not a `Status`.
fn server_message(status: http::StatusCode, body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
    {
        Some(message) => format!("{message} (HTTP {})", status.as_u16()),
        None => format!(
            "HTTP {}: {}",
            status.as_u16(),
            String::from_utf8_lossy(body).trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers_are_unquoted() {
        assert_eq!(
            warning_text(r#"299 - "would violate PodSecurity \"restricted:latest\": privileged""#),
            r#"would violate PodSecurity "restricted:latest": privileged"#
        );
        assert_eq!(warning_text("no quotes"), "no quotes");
    }

    #[test]
    fn error_responses_give_the_servers_message() {
        let body = br#"{"kind":"Status","status":"Failure","message":"Deployment.apps \"x\" is invalid: spec.replicas: Invalid value: -1","code":422}"#;
        assert_eq!(
            server_message(http::StatusCode::UNPROCESSABLE_ENTITY, body),
            "Deployment.apps \"x\" is invalid: spec.replicas: Invalid value: -1 (HTTP 422)"
        );
        assert_eq!(
            server_message(http::StatusCode::NOT_FOUND, b"404 page not found\n"),
            "HTTP 404: 404 page not found"
        );
    }

    #[test]
    fn a_verdict_lists_its_rejection_and_each_warning() {
        let mut verdict = Verdict {
            document: "manifests/a.yaml#1 ConfigMap default/a".to_owned(),
            rejected: None,
            warnings: Vec::new(),
        };
        assert_eq!(
            verdict.to_string(),
            "manifests/a.yaml#1 ConfigMap default/a: accepted"
        );
        verdict.rejected = Some("no".to_owned());
        verdict.warnings = vec!["w1".to_owned(), "w2".to_owned()];
        assert_eq!(
            verdict.to_string(),
            "manifests/a.yaml#1 ConfigMap default/a: rejected: no\n\
             manifests/a.yaml#1 ConfigMap default/a: warning: w1\n\
             manifests/a.yaml#1 ConfigMap default/a: warning: w2"
        );
    }
}
