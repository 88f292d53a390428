//! Authentication with TokenReview and authorization with SubjectAccessReview: the same
//! identities and RBAC rules as kubectl. A token must be meant for the operator: the
//! TokenReview asks for the audience `tart-operator` (`--token-audience`), so a token made
//! for the API server itself, or for anything else, is refused. Answers, refusals included,
//! are cached briefly and in bounded number (see [`AnswerCache`]); tokens are cached by
//! their SHA-256, never in clear. With `--anonymous-read`, reads without a token are
//! allowed.

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
use super::answer_cache::AnswerCache;
use super::error::ApiError;

/// How long an authentication or authorization answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// At most this many answers of each kind are kept.
pub const CACHE_MAX: usize = 4096;
/// The audience tokens must be meant for, unless `--token-audience` says otherwise.
pub const DEFAULT_AUDIENCE: &str = "tart-operator";

/// A resource of the tartinfra.dev API group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// managedclusters (cluster data: snapshot, nodes, pods, services, scaling, traffic).
    ManagedClusters,
    /// loadtests.
    LoadTests,
    /// scalingexperiments.
    ScalingExperiments,
    /// testschedules.
    TestSchedules,
}

impl Resource {
    /// The plural name RBAC rules use.
    pub fn name(self) -> &'static str {
        match self {
            Self::ManagedClusters => "managedclusters",
            Self::LoadTests => "loadtests",
            Self::ScalingExperiments => "scalingexperiments",
            Self::TestSchedules => "testschedules",
        }
    }
}

/// Who called.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    /// No token, allowed by `--anonymous-read`.
    Anonymous,
    /// An authenticated user, as the API server's TokenReview describes them.
    User(Box<UserInfo>),
}

impl Caller {
    /// The user's name, for messages.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::User(u) => u.username.as_deref().unwrap_or_default(),
        }
    }
}

/// A user (by the SHA-256 of their whole identity), verb, resource, namespace, name.
type DecisionKey = ([u8; 32], Verb, Resource, String, String);

/// Authenticates and authorizes API callers.
pub struct Authenticator {
    client: Client,
    anonymous_read: bool,
    audience: String,
    users: Mutex<AnswerCache<[u8; 32], Option<UserInfo>>>,
    decisions: Mutex<AnswerCache<DecisionKey, bool>>,
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

/// The user a TokenReview's answer vouches for: authenticated, and for `audience`.
fn reviewed_user(
    status: k8s_openapi::api::authentication::v1::TokenReviewStatus,
    audience: &str,
) -> Option<UserInfo> {
    let for_us = status
        .audiences
        .as_ref()
        .is_some_and(|a| a.iter().any(|a| a == audience));
    (status.authenticated == Some(true) && for_us)
        .then_some(status.user)
        .flatten()
}

fn fingerprint(user: &UserInfo) -> [u8; 32] {
    let json = serde_json::to_vec(user).unwrap_or_default();
    Sha256::digest(json).into()
}

fn cached<K: std::hash::Hash + Eq + Clone, V: Clone>(
    cache: &Mutex<AnswerCache<K, V>>,
    key: &K,
) -> Option<V> {
    cache.lock().ok()?.get(key, Instant::now())
}

fn remember<K: std::hash::Hash + Eq + Clone, V: Clone>(
    cache: &Mutex<AnswerCache<K, V>>,
    key: K,
    value: V,
) {
    if let Ok(mut c) = cache.lock() {
        c.insert(key, value, Instant::now());
    }
}

impl Authenticator {
    /// Uses `client` (the operator's identity, which needs `create` on tokenreviews and
    /// subjectaccessreviews) to check callers, whose tokens must be for `audience`.
    pub fn new(client: Client, anonymous_read: bool, audience: &str) -> Self {
        Self {
            client,
            anonymous_read,
            audience: audience.to_owned(),
            users: Mutex::new(AnswerCache::new(CACHE_TTL, CACHE_MAX)),
            decisions: Mutex::new(AnswerCache::new(CACHE_TTL, CACHE_MAX)),
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
                audiences: Some(vec![self.audience.clone()]),
            },
            ..TokenReview::default()
        };
        let status = self
            .review(&review, "the token")
            .await?
            .status
            .unwrap_or_default();
        let user = reviewed_user(status, &self.audience);
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

    /// Whether `caller` may `verb` the `resource` in `namespace` ("" for every namespace,
    /// or for cluster-scoped resources), and only the object `name` when given. Anonymous
    /// callers exist only with `--anonymous-read`, and may read everything.
    pub async fn may(
        &self,
        caller: &Caller,
        verb: Verb,
        resource: Resource,
        namespace: &str,
        name: Option<&str>,
    ) -> Result<bool, ApiError> {
        let user = match caller {
            Caller::Anonymous => return Ok(self.anonymous_read && verb.reads()),
            Caller::User(user) => user,
        };
        let key = (
            fingerprint(user),
            verb,
            resource,
            namespace.to_owned(),
            name.unwrap_or_default().to_owned(),
        );
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
                    name: name.map(str::to_owned),
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

    /// Who sent `headers`: an authenticated user, or anonymous when `--anonymous-read`
    /// allows it and `verb` only reads.
    pub async fn authenticate(&self, headers: &HeaderMap, verb: Verb) -> Result<Caller, ApiError> {
        let audience = &self.audience;
        let Some(token) = bearer(headers)? else {
            if self.anonymous_read && verb.reads() {
                return Ok(Caller::Anonymous);
            }
            return Err(ApiError::unauthorized(format!(
                "missing bearer token: send Authorization: Bearer <token>, e.g. from `kubectl create token <serviceaccount> --audience {audience}`"
            )));
        };
        match self.user(&token).await? {
            Some(user) => Ok(Caller::User(Box::new(user))),
            None => Err(ApiError::unauthorized(format!(
                "the token is not valid here: expired, revoked, from another cluster, or not meant for this API (audience {audience}); make one with `kubectl create token <serviceaccount> --audience {audience}`"
            ))),
        }
    }

    /// Checks that the caller may `verb` the `resource` in `namespace` ("" for every
    /// namespace, or for cluster-scoped resources), and the object `name` when given.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        verb: Verb,
        resource: Resource,
        namespace: &str,
        name: Option<&str>,
    ) -> Result<Caller, ApiError> {
        let caller = self.authenticate(headers, verb).await?;
        if self.may(&caller, verb, resource, namespace, name).await? {
            return Ok(caller);
        }
        let what = match name {
            Some(name) => format!("{}.{} {name:?}", resource.name(), crds::GROUP),
            None => format!("{}.{}", resource.name(), crds::GROUP),
        };
        let scope = if namespace.is_empty() {
            "at cluster scope".to_owned()
        } else {
            format!("in namespace {namespace}")
        };
        Err(ApiError::forbidden(format!(
            "{} may not {} {what} {scope}",
            caller.name(),
            verb.as_str(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use k8s_openapi::api::authentication::v1::TokenReviewStatus;

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

    fn status(authenticated: bool, audiences: Option<&[&str]>) -> TokenReviewStatus {
        TokenReviewStatus {
            authenticated: Some(authenticated),
            audiences: audiences.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            user: Some(UserInfo {
                username: Some("alice".into()),
                ..UserInfo::default()
            }),
            ..TokenReviewStatus::default()
        }
    }

    #[test]
    fn only_tokens_for_the_audience_are_users() {
        let aud = DEFAULT_AUDIENCE;
        assert!(reviewed_user(status(true, Some(&[aud])), aud).is_some());
        assert!(reviewed_user(status(true, Some(&["x", aud])), aud).is_some());
        assert!(
            reviewed_user(status(true, Some(&["https://kubernetes.default.svc"])), aud).is_none()
        );
        assert!(
            reviewed_user(status(true, None), aud).is_none(),
            "an answer that does not name the audience is not for it"
        );
        assert!(reviewed_user(status(false, Some(&[aud])), aud).is_none());
    }

    #[test]
    fn decisions_are_per_identity_not_per_name() {
        let alice = UserInfo {
            username: Some("alice".into()),
            ..UserInfo::default()
        };
        let admin_alice = UserInfo {
            groups: Some(vec!["admins".into()]),
            ..alice.clone()
        };
        assert_ne!(fingerprint(&alice), fingerprint(&admin_alice));
    }
}
