//! Authentication with TokenReview and authorization with SubjectAccessReview: the same
//! identities and RBAC rules as kubectl. Answers are cached briefly (tokens by their
//! SHA-256, never in clear). With `--anonymous-read`, reads without a token are allowed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

use super::access::Verb;
use super::error::ApiError;

/// How long an authentication or authorization answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 4096;

/// A resource of the tartinfra.dev API group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// managedclusters (cluster data: snapshot, nodes, pods, services, scaling, traffic).
    ManagedClusters,
    /// loadtests.
    LoadTests,
    /// scalingexperiments.
    ScalingExperiments,
}

impl Resource {
    /// The plural name RBAC rules use.
    pub fn name(self) -> &'static str {
        match self {
            Self::ManagedClusters => "managedclusters",
            Self::LoadTests => "loadtests",
            Self::ScalingExperiments => "scalingexperiments",
        }
    }
}

/// Who called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token, allowed by `--anonymous-read`.
    Anonymous,
    /// An authenticated user.
    User(String),
}

/// A cache of answers with the time they were given.
type Cache<K, V> = Mutex<HashMap<K, (V, Instant)>>;
/// Who, which verb, which resource, which namespace.
type DecisionKey = (String, Verb, Resource, String);

/// Authenticates and authorizes API callers.
pub struct Authenticator {
    client: Client,
    anonymous_read: bool,
    users: Cache<[u8; 32], Option<UserInfo>>,
    decisions: Cache<DecisionKey, bool>,
}

fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(ApiError::unauthorized("use Authorization: Bearer <token>")),
    }
}

fn cached<K: std::hash::Hash + Eq + Clone, V: Clone>(map: &Cache<K, V>, key: &K) -> Option<V> {
    let map = map.lock().ok()?;
    map.get(key)
        .filter(|(_, at)| at.elapsed() < CACHE_TTL)
        .map(|(v, _)| v.clone())
}

fn remember<K: std::hash::Hash + Eq, V>(map: &Cache<K, V>, key: K, value: V) {
    if let Ok(mut map) = map.lock() {
        if map.len() >= CACHE_MAX {
            map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        if map.len() < CACHE_MAX {
            map.insert(key, (value, Instant::now()));
        }
    }
}

impl Authenticator {
    /// Uses `client` (the operator's identity, which needs `create` on tokenreviews and
    /// subjectaccessreviews) to check callers.
    pub fn new(client: Client, anonymous_read: bool) -> Self {
        Self {
            client,
            anonymous_read,
            users: Mutex::default(),
            decisions: Mutex::default(),
        }
    }

    async fn user(&self, token: &str) -> Result<Option<UserInfo>, ApiError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(user) = cached(&self.users, &key) {
            return Ok(user);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let status = self
            .review(&review, "the token")
            .await?
            .status
            .unwrap_or_default();
        let user = if status.authenticated == Some(true) {
            status.user
        } else {
            None
        };
        remember(&self.users, key, user.clone());
        Ok(user)
    }

    /// Creates a review and returns the API server's answer.
    async fn review<K>(&self, review: &K, what: &str) -> Result<K, ApiError>
    where
        K: kube::Resource<Scope = kube::core::ClusterResourceScope, DynamicType = ()>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::<K>::all(self.client.clone())
            .create(&PostParams::default(), review)
            .await
            .map_err(|e| {
                ApiError::unavailable(format!("cannot check {what} with the API server: {e}"))
            })
    }

    async fn allowed(
        &self,
        user: &UserInfo,
        verb: Verb,
        resource: Resource,
        namespace: &str,
    ) -> Result<bool, ApiError> {
        let name = user.username.clone().unwrap_or_default();
        let key = (name.clone(), verb, resource, namespace.to_owned());
        if let Some(allowed) = cached(&self.decisions, &key) {
            return Ok(allowed);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                uid: user.uid.clone(),
                groups: user.groups.clone(),
                extra: user.extra.clone(),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(crds::GROUP.to_owned()),
                    resource: Some(resource.name().to_owned()),
                    verb: Some(verb.as_str().to_owned()),
                    namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let allowed = self
            .review(&review, "permissions")
            .await?
            .status
            .is_some_and(|s| s.allowed);
        remember(&self.decisions, key, allowed);
        Ok(allowed)
    }

    /// Checks that the caller may `verb` the `resource` in `namespace` ("" for every
    /// namespace, or for cluster-scoped resources).
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        verb: Verb,
        resource: Resource,
        namespace: &str,
    ) -> Result<Caller, ApiError> {
        let Some(token) = bearer(headers)? else {
            if self.anonymous_read && verb.reads() {
                return Ok(Caller::Anonymous);
            }
            return Err(ApiError::unauthorized(
                "missing bearer token: send Authorization: Bearer <token> (e.g. from `kubectl create token <serviceaccount>`)",
            ));
        };
        let Some(user) = self.user(&token).await? else {
            return Err(ApiError::unauthorized(
                "the token is not valid (expired, revoked or from another cluster)",
            ));
        };
        let name = user.username.clone().unwrap_or_default();
        if self.allowed(&user, verb, resource, namespace).await? {
            Ok(Caller::User(name))
        } else {
            let scope = if namespace.is_empty() {
                "at cluster scope".to_owned()
            } else {
                format!("in namespace {namespace}")
            };
            Err(ApiError::forbidden(format!(
                "{name} may not {} {}.{} {scope}",
                verb.as_str(),
                resource.name(),
                crds::GROUP
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_bearer_tokens_are_accepted() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), Ok(None));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc.def"));
        assert_eq!(bearer(&h), Ok(Some("abc.def".into())));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46YWRtaW4="),
        );
        assert!(bearer(&h).is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer(&h).is_err());
    }

    #[test]
    fn cached_answers_expire() {
        let map: Cache<u8, bool> = Mutex::default();
        remember(&map, 1, true);
        assert_eq!(cached(&map, &1), Some(true));
        if let Ok(mut m) = map.lock() {
            m.insert(
                2,
                (true, Instant::now() - CACHE_TTL - Duration::from_secs(1)),
            );
        }
        assert_eq!(cached(&map, &2), None);
    }
}
