//! Typed request bodies: JSON only, size-limited (by the router), unknown top-level fields
//! rejected, and errors that name the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
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

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        let e = parse::<Body>(br#"{"name": "a", "inner": {"vus": "many"}}"#)
            .err()
            .expect("error");
        assert_eq!(e.field.as_deref(), Some("inner.vus"));
        let e = parse::<Body>(br#"{"name": "a", "inner": {"vus": 1}, "extra": 1}"#)
            .err()
            .expect("error");
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse::<Body>(b"{nope").err().expect("error");
        assert!(e.message.contains("not valid JSON"));
        assert!(parse::<Body>(b"[1]").is_err());
    }
}
