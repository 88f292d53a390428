//! Writes through the API are made as the caller: each write request to the API server
//! carries the caller's identity from its TokenReview in impersonation headers
//! (`Impersonate-User`, `-Uid`, `-Group`, `-Extra-*`), so the API server's RBAC, admission
//! (ValidatingAdmissionPolicy's `request.userInfo`) and audit log see the real user, not
//! the operator. The operator's own SubjectAccessReview before the write is only an early,
//! clearer answer; the API server decides.
//!
//! The headers go on the request sent through the operator's one shared client (so its
//! connection pool and credentials are reused), rather than building a client per caller.
//! A ServiceAccount (or node) caller is sent by name alone: the API server derives its
//! groups, and constrained impersonation (Kubernetes 1.36) refuses any other field for
//! them.

use axum::http::{HeaderName, HeaderValue, Request};

use super::auth::Caller;
use super::error::ApiError;

/// Characters an `Impersonate-Extra-` key may carry as they are; the API server
/// percent-decodes the rest (and upper-case letters, which header names would lose).
fn plain(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~!#$&'*+^`|".contains(&b)
}

/// An extra's key as a header name suffix: percent-encoded where a header name could not
/// carry it.
pub fn extra_key(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if plain(b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn value(what: &str, v: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(v).map_err(|_| {
        ApiError::internal(format!(
            "the caller's {what} cannot be sent as an impersonation header"
        ))
    })
}

/// Adds the headers that make `req` act as `caller`. Writes need an authenticated caller.
pub fn impersonate<B>(req: &mut Request<B>, caller: &Caller) -> Result<(), ApiError> {
    let Caller::User(user) = caller else {
        return Err(ApiError::unauthorized(
            "writes need a bearer token: they are made as its user",
        ));
    };
    let Some(name) = user.username.as_deref().filter(|n| !n.is_empty()) else {
        return Err(ApiError::unauthorized(
            "the token's user has no name, so the API cannot act as them",
        ));
    };
    let headers = req.headers_mut();
    headers.insert("impersonate-user", value("name", name)?);
    if name.starts_with("system:serviceaccount:") || name.starts_with("system:node:") {
        return Ok(());
    }
    if let Some(uid) = user.uid.as_deref().filter(|u| !u.is_empty()) {
        headers.insert("impersonate-uid", value("uid", uid)?);
    }
    for group in user.groups.iter().flatten() {
        headers.append("impersonate-group", value("group", group)?);
    }
    for (key, values) in user.extra.iter().flatten() {
        let header =
            HeaderName::from_bytes(format!("impersonate-extra-{}", extra_key(key)).as_bytes())
                .map_err(|_| {
                    ApiError::internal("an extra of the caller cannot be sent as a header")
                })?;
        for v in values {
            headers.append(header.clone(), value("extra", v)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::authentication::v1::UserInfo;
    use std::collections::BTreeMap;

    fn all<'a>(req: &'a Request<()>, name: &str) -> Vec<&'a str> {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    #[test]
    fn a_service_account_goes_by_name_alone() {
        let user = UserInfo {
            username: Some("system:serviceaccount:team-a:ci".into()),
            uid: Some("5f1e".into()),
            groups: Some(vec!["system:serviceaccounts".into()]),
            extra: Some(BTreeMap::from([(
                "authentication.kubernetes.io/pod-name".into(),
                vec!["ci-0".into()],
            )])),
        };
        let mut req = Request::new(());
        impersonate(&mut req, &Caller::User(Box::new(user))).expect("headers");
        assert_eq!(
            all(&req, "impersonate-user"),
            ["system:serviceaccount:team-a:ci"]
        );
        assert_eq!(req.headers().len(), 1, "{:?}", req.headers());
    }

    #[test]
    fn the_whole_identity_goes_along() {
        let user = UserInfo {
            username: Some("jane@example.com".into()),
            uid: Some("5f1e".into()),
            groups: Some(vec!["developers".into(), "system:authenticated".into()]),
            extra: Some(BTreeMap::from([(
                "example.com/team".into(),
                vec!["a".into()],
            )])),
        };
        let mut req = Request::new(());
        impersonate(&mut req, &Caller::User(Box::new(user))).expect("headers");
        assert_eq!(all(&req, "impersonate-user"), ["jane@example.com"]);
        assert_eq!(all(&req, "impersonate-uid"), ["5f1e"]);
        assert_eq!(
            all(&req, "impersonate-group"),
            ["developers", "system:authenticated"]
        );
        assert_eq!(all(&req, "impersonate-extra-example.com%2Fteam"), ["a"]);
    }

    #[test]
    fn extra_keys_are_percent_encoded_where_headers_cannot_carry_them() {
        assert_eq!(extra_key("scopes"), "scopes");
        assert_eq!(extra_key("acme.com/project"), "acme.com%2Fproject");
        assert_eq!(
            extra_key("Dn"),
            "%44n",
            "upper case would be lost in a header"
        );
        assert_eq!(extra_key("50%"), "50%25");
    }

    #[test]
    fn anonymous_or_nameless_callers_cannot_write() {
        let mut req = Request::new(());
        assert!(impersonate(&mut req, &Caller::Anonymous).is_err());
        let nameless = Caller::User(Box::default());
        assert!(impersonate(&mut req, &nameless).is_err());
        assert!(req.headers().is_empty());
    }
}
