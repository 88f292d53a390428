//! What each route requires of its caller, and the layer that enforces it.
//!
//! Every [`Route`](super::Route) declares a [`Permission`]; [`guarded`] turns it into a
//! route layer, so the router checks what the table (and the OpenAPI document built from
//! it) declares and no handler authorizes by hand. The layer keeps the order callers rely
//! on: the request body (415, 413, 400) and the object's names (400) first, then the token
//! (401), then RBAC (403).

use std::fmt;
use std::sync::Arc;

use axum::RequestExt;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde::Deserialize;

use super::ApiState;
use super::auth::Resource;
use super::body::{BodyCheck, check_names};
use super::error::ApiError;

/// A verb of the Kubernetes authorization API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read many.
    List,
    /// Create.
    Create,
    /// Delete.
    Delete,
}

impl Verb {
    /// As RBAC spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Create => "create",
            Self::Delete => "delete",
        }
    }

    /// Whether it only reads (what `--anonymous-read` allows without a token).
    pub fn reads(self) -> bool {
        matches!(self, Self::Get | Self::List)
    }
}

/// Where the namespace of an RBAC check comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Cluster scope: every namespace, or a cluster-scoped resource.
    Cluster,
    /// The `{namespace}` and `{name}` path parameters, checked as names first.
    Path,
    /// The optional `?namespace=` query parameter; without it, every namespace.
    Query,
    /// The request body's namespace and name (see [`Target`](super::body::Target)), checked
    /// as names first.
    Body,
    /// The `{name}` path parameter names the (cluster-scoped) object, so rules limited to
    /// some `resourceNames` apply.
    Named,
}

/// An RBAC rule on the tartinfra.dev API group: `verb` on every one of `resources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The verb.
    pub verb: Verb,
    /// The resources, each checked in turn.
    pub resources: Vec<Resource>,
    /// Where the namespace comes from.
    pub scope: Scope,
}

impl fmt::Display for Rule {
    /// `list loadtests`, `list loadtests and scalingexperiments`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.resources.iter().map(|r| r.name()).collect();
        write!(f, "{} {}", self.verb.as_str(), names.join(" and "))
    }
}

/// What a route requires of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Nothing: anyone may call it.
    Public,
    /// A bearer token whose identity the rule allows (TokenReview, SubjectAccessReview).
    Rbac(Rule),
    /// A valid bearer token (or none, with `--anonymous-read`); the handler returns only
    /// what the caller may read, asking with [`Authenticator::may`](super::auth::Authenticator::may).
    Filtered,
}

impl Permission {
    /// `verb` on `resource` at cluster scope; narrow it with [`Self::scoped`].
    pub fn rbac(verb: Verb, resource: Resource) -> Self {
        Self::Rbac(Rule {
            verb,
            resources: vec![resource],
            scope: Scope::Cluster,
        })
    }

    /// The same rule, with the namespace taken from `scope`.
    pub fn scoped(self, scope: Scope) -> Self {
        match self {
            Self::Rbac(rule) => Self::Rbac(Rule { scope, ..rule }),
            other => other,
        }
    }

    /// The same rule on `resource` too.
    pub fn and(self, resource: Resource) -> Self {
        match self {
            Self::Rbac(mut rule) => {
                rule.resources.push(resource);
                Self::Rbac(rule)
            }
            other => other,
        }
    }
}

/// The `?namespace=` filter of list routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceQuery {
    /// Only this namespace.
    pub namespace: Option<String>,
}

/// The `{namespace}/{name}` of routes about one object.
#[derive(Debug, Deserialize)]
pub struct ObjectPath {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// What the layer of one route checks.
struct Guard {
    state: Arc<ApiState>,
    permission: Permission,
    body: Option<BodyCheck>,
}

impl Guard {
    /// Checks the request; the caller's identity goes into its extensions.
    async fn admit(&self, req: Request) -> Result<Request, Response> {
        let (mut req, target) = match self.body {
            Some(check) => {
                let (req, target) = check(req).await.map_err(IntoResponse::into_response)?;
                (req, Some(target))
            }
            None => (req, None),
        };
        let rule = match &self.permission {
            Permission::Public => return Ok(req),
            Permission::Filtered => {
                let caller = self
                    .state
                    .auth
                    .authenticate(req.headers(), Verb::Get)
                    .await
                    .map_err(IntoResponse::into_response)?;
                req.extensions_mut().insert(caller);
                return Ok(req);
            }
            Permission::Rbac(rule) => rule,
        };
        let (namespace, name) = match rule.scope {
            Scope::Cluster => (String::new(), None),
            Scope::Path => {
                let path = req
                    .extract_parts::<Path<ObjectPath>>()
                    .await
                    .map_err(IntoResponse::into_response)?;
                check_names(&path.namespace, Some(&path.name))
                    .map_err(IntoResponse::into_response)?;
                (path.0.namespace, Some(path.0.name))
            }
            Scope::Named => {
                let Path(name) = req
                    .extract_parts::<Path<String>>()
                    .await
                    .map_err(IntoResponse::into_response)?;
                (String::new(), Some(name))
            }
            Scope::Query => (
                Query::<NamespaceQuery>::try_from_uri(req.uri())
                    .map_err(IntoResponse::into_response)?
                    .0
                    .namespace
                    .unwrap_or_default(),
                None,
            ),
            Scope::Body => match target {
                Some(t) => (t.namespace, None),
                None => {
                    return Err(ApiError::internal(
                        "a route whose permission takes the body's namespace declares no body",
                    )
                    .into_response());
                }
            },
        };
        for resource in &rule.resources {
            let caller = self
                .state
                .auth
                .authorize(
                    req.headers(),
                    rule.verb,
                    *resource,
                    &namespace,
                    name.as_deref(),
                )
                .await
                .map_err(IntoResponse::into_response)?;
            req.extensions_mut().insert(caller);
        }
        Ok(req)
    }
}

async fn enforce(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    match guard.admit(req).await {
        Ok(req) => next.run(req).await,
        Err(refused) => refused,
    }
}

/// `handler` behind a layer that enforces `permission`, checking the declared request
/// `body` first.
pub fn guarded(
    handler: MethodRouter<Arc<ApiState>>,
    state: Arc<ApiState>,
    permission: Permission,
    body: Option<BodyCheck>,
) -> MethodRouter<Arc<ApiState>> {
    let guard = Arc::new(Guard {
        state,
        permission,
        body,
    });
    handler.route_layer(middleware::from_fn_with_state(guard, enforce))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::routes;
    use crate::api::tests::state_with;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    #[test]
    fn rules_read_as_rbac_spells_them() {
        let both = Permission::rbac(Verb::List, Resource::LoadTests)
            .and(Resource::ScalingExperiments)
            .scoped(Scope::Query);
        let Permission::Rbac(rule) = both else {
            panic!("an RBAC rule");
        };
        assert_eq!(rule.to_string(), "list loadtests and scalingexperiments");
        assert_eq!(rule.scope, Scope::Query);
        assert_eq!(
            Permission::Public.and(Resource::LoadTests),
            Permission::Public
        );
        assert!(Verb::Get.reads() && Verb::List.reads());
        assert!(!Verb::Create.reads() && !Verb::Delete.reads());
    }

    /// Every scope finds its namespace where the route has it.
    #[test]
    fn every_rule_has_its_namespace() {
        for route in routes() {
            let Permission::Rbac(rule) = &route.permission else {
                continue;
            };
            let what = format!("{} {}", route.method, route.path);
            match rule.scope {
                Scope::Cluster => assert!(!route.path.contains("{namespace}"), "{what}"),
                // The object itself, or a view of it (`.../{namespace}/{name}/series`).
                Scope::Path => assert!(route.path.contains("/{namespace}/{name}"), "{what}"),
                Scope::Query => assert_eq!(route.method, "GET", "{what}"),
                Scope::Body => assert!(route.doc.body_check().is_some(), "{what}"),
                Scope::Named => assert!(
                    route.path.contains("/{name}") && !route.path.contains("{namespace}"),
                    "{what}"
                ),
            }
        }
    }

    /// A request every route accepts up to authentication.
    fn request(route: &crate::api::Route, auth: Option<&str>) -> axum::http::Request<Body> {
        let path = route
            .path
            .replace("{namespace}", "team")
            .replace("{name}", "x");
        let body = match route.path {
            "/api/v1/tests" => r#"{"spec":{"cluster":"dev","preset":"light-load"}}"#,
            "/api/v1/experiments" => {
                r#"{"spec":{"cluster":"dev","load":{"preset":"scale-light"}}}"#
            }
            _ => "",
        };
        let mut req = axum::http::Request::builder()
            .method(route.method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.body(Body::from(body)).expect("request")
    }

    async fn status(state: &Arc<ApiState>, req: axum::http::Request<Body>) -> StatusCode {
        crate::api::router(state.clone())
            .oneshot(req)
            .await
            .expect("infallible")
            .status()
    }

    /// The router, not the handlers, enforces what the table declares: without a token every
    /// RBAC route answers 401, with one every RBAC route asks the API server (which cannot
    /// be reached here: 503), and public routes ask nothing.
    #[tokio::test]
    async fn the_router_enforces_every_declared_permission() {
        let (state, _tasks) = state_with(false);
        for route in routes() {
            let what = format!("{} {}", route.method, route.path);
            let anonymous = status(&state, request(&route, None)).await;
            let token = status(&state, request(&route, Some("Bearer t"))).await;
            match route.permission {
                Permission::Rbac(_) | Permission::Filtered => {
                    assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(token, StatusCode::SERVICE_UNAVAILABLE, "{what}");
                }
                Permission::Public => {
                    assert_eq!(
                        (anonymous, token),
                        (StatusCode::OK, StatusCode::OK),
                        "{what}"
                    )
                }
            }
        }
    }

    /// `--anonymous-read` lets reads through without a token, never writes.
    #[tokio::test]
    async fn anonymous_reads_pass_and_writes_do_not() {
        let (state, _tasks) = state_with(true);
        for route in routes() {
            let reads = match &route.permission {
                Permission::Rbac(rule) => rule.verb.reads(),
                Permission::Filtered => true,
                Permission::Public => continue,
            };
            let what = format!("{} {}", route.method, route.path);
            let got = status(&state, request(&route, None)).await;
            if reads {
                assert_ne!(got, StatusCode::UNAUTHORIZED, "{what}");
            } else {
                assert_eq!(got, StatusCode::UNAUTHORIZED, "{what}");
            }
        }
    }
}
