//! The API's one error type, rendered as `{"error": {"code", "message", "field"}}`.
//! Server errors hide their details from the caller (they are logged instead).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An error answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A machine-readable code: BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    /// Invalid, PayloadTooLarge, UnsupportedMediaType, NotImplemented, Unavailable, Internal.
    pub code: String,
    /// For humans: what is wrong and what to do.
    pub message: String,
    /// The request field at fault (a JSON path such as `spec.http.vus`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An API error.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The code.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The field at fault.
    pub field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    /// 422.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
    }

    /// 429.
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", message)
    }

    /// 500; the detail is logged, not returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            "internal error; see the operator's log",
        )
    }

    /// Maps a platform API error: validation and conflicts keep their message and field,
    /// anything else is internal.
    pub fn from_kube(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => {
                let field = s
                    .details
                    .as_ref()
                    .and_then(|d| {
                        d.causes
                            .iter()
                            .find_map(|c| (!c.field.is_empty()).then(|| c.field.clone()))
                    })
                    .or_else(|| strict_decoding_field(&s.message));
                let err = match s.code {
                    400 => Self::bad_request(s.message.clone()),
                    403 => Self::forbidden(s.message.clone()),
                    404 => Self::not_found(s.message.clone()),
                    409 => Self::conflict(s.message.clone()),
                    422 => Self::invalid(s.message.clone()),
                    _ => return Self::internal(s.message),
                };
                Self { field, ..err }
            }
            other => Self::internal(other),
        }
    }
}

/// The field of a strict-decoding error (`unknown field "spec.http.vuz"`).
fn strict_decoding_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field \"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_validation_keeps_the_field() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "code": 422,
            "message": "LoadTest.tartinfra.dev \"x\" is invalid: spec.http.vus: Invalid value: 0",
            "details": { "causes": [{ "reason": "FieldValueInvalid", "message": "Invalid value: 0", "field": "spec.http.vus" }] },
        }))
        .expect("status");
        let e = ApiError::from_kube(kube::Error::Api(Box::new(status)));
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("spec.http.vus"))
        );
        let strict = kube::core::Status {
            code: 400,
            message: "LoadTest in version \"v1alpha1\" cannot be handled as a LoadTest: strict decoding error: unknown field \"spec.http.vuz\"".into(),
            ..Default::default()
        };
        let e = ApiError::from_kube(kube::Error::Api(Box::new(strict)));
        assert_eq!(
            (e.status, e.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("spec.http.vuz"))
        );
    }

    #[test]
    fn server_errors_hide_their_details() {
        let e = ApiError::from_kube(kube::Error::Api(Box::new(kube::core::Status {
            code: 500,
            message: "etcd leader lost".into(),
            ..Default::default()
        })));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("etcd"));
    }
}
