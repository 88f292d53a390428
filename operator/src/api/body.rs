//! Typed request bodies: JSON only, size-limited (by the router), unknown top-level fields
//! rejected, and errors that name the field. A route declares its body type in its
//! [`Operation`](super::openapi::Operation); the route's guard checks the body (and the
//! names in it) before anything else and hands the parsed body on to the handler.

use std::future::Future;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Whether `s` is a DNS label (namespace names): lowercase letters, digits and '-',
/// starting and ending with a letter or digit, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS subdomain (most object names): DNS labels joined by dots, at most
/// 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Checks a namespace and an object name from a path or a body.
pub fn check_names(namespace: &str, name: Option<&str>) -> Result<(), ApiError> {
    if !is_dns_label(namespace) {
        return Err(ApiError::bad_request(format!(
            "{namespace:?} is not a namespace name: use lowercase letters, digits and '-' (at most 63)"
        ))
        .with_field("namespace"));
    }
    if let Some(name) = name
        && !is_dns_subdomain(name)
    {
        return Err(ApiError::bad_request(format!(
            "{name:?} is not an object name: use lowercase letters, digits, '-' and '.' (at most 253)"
        ))
        .with_field("name"));
    }
    Ok(())
}

/// The largest body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body as a typed value and as the raw JSON it came from.
#[derive(Clone, Debug)]
pub struct JsonBody<T> {
    /// The typed value.
    pub value: T,
    /// The raw JSON.
    pub raw: serde_json::Value,
}

/// Parses a body; errors name the JSON path at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<JsonBody<T>, ApiError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !raw.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let value = serde_path_to_error::deserialize(&raw).map_err(|e| {
        let path = e.path().to_string();
        let err = ApiError::bad_request(format!("{path}: {}", e.inner()));
        if path == "." {
            err
        } else {
            err.with_field(path)
        }
    })?;
    Ok(JsonBody { value, raw })
}

/// The namespace and name of the object a body is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Namespace.
    pub namespace: String,
    /// Name, when the body gives one.
    pub name: Option<String>,
}

/// A request body a route can declare: typed, documented, and naming its object.
pub trait RequestBody: DeserializeOwned + JsonSchema + Clone + Send + Sync + 'static {
    /// The object it is about (authorized in that namespace).
    fn target(&self) -> Target;
}

/// A body the guard has checked, waiting in the request's extensions for the handler.
#[derive(Clone)]
struct Checked<T>(JsonBody<T>);

/// The request (its body now in its extensions) and the body's object, or why not.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(Request, Target), ApiError>> + Send>>;

/// Checks a request's body of one type: parses it, checks the names in it, and keeps the
/// parsed body for the handler's [`JsonBody`].
pub type BodyCheck = fn(Request) -> CheckFuture;

/// The [`BodyCheck`] of `T`.
pub fn check_body<T: RequestBody>(req: Request) -> CheckFuture {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let parsed =
            JsonBody::<T>::from_request(Request::from_parts(parts.clone(), body), &()).await?;
        let target = parsed.value.target();
        check_names(&target.namespace, target.name.as_deref())?;
        let mut req = Request::from_parts(parts, Body::empty());
        req.extensions_mut().insert(Checked(parsed));
        Ok((req, target))
    })
}

impl<S: Send + Sync, T: DeserializeOwned + Clone + Send + Sync + 'static> FromRequest<S>
    for JsonBody<T>
{
    type Rejection = ApiError;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(checked) = req.extensions_mut().remove::<Checked<T>>() {
            return Ok(checked.0);
        }
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(ApiError {
                status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "UnsupportedMediaType",
                message: "send the body as Content-Type: application/json".into(),
                field: None,
            });
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError {
                status: e.status(),
                code: if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    "PayloadTooLarge"
                } else {
                    "BadRequest"
                },
                message: format!("cannot read the body (at most {MAX_BODY_BYTES} bytes): {e}"),
                field: None,
            })?;
        parse(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        vus: u32,
    }

    #[test]
    fn names_are_checked_like_kubernetes_does() {
        assert!(
            is_dns_label("team-a")
                && !is_dns_label("Team")
                && !is_dns_label("-a")
                && !is_dns_label("")
        );
        assert!(
            is_dns_subdomain("web.v2")
                && !is_dns_subdomain("web..v2")
                && !is_dns_subdomain("\u{17}x")
        );
        assert_eq!(check_names("ns", Some("ok")), Ok(()));
        assert_eq!(
            check_names("n s", None).map_err(|e| e.field),
            Err(Some("namespace".into()))
        );
        assert_eq!(
            check_names("ns", Some("")).map_err(|e| e.field),
            Err(Some("name".into()))
        );
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = parse::<Body>(br#"{"name": "a", "inner": {"vus": "many"}}"#).expect_err("error");
        assert_eq!(e.field.as_deref(), Some("inner.vus"));
        let e =
            parse::<Body>(br#"{"name": "a", "inner": {"vus": 1}, "extra": 1}"#).expect_err("error");
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse::<Body>(b"{nope").expect_err("error");
        assert!(e.message.contains("not valid JSON"));
        assert!(parse::<Body>(b"[1]").is_err());
    }
}
