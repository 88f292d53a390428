//! A [`VmError`] as an HTTP answer: the status that fits it and, as the body, the error's
//! own JSON (tagged by `reason`, so the client rebuilds the same typed error) plus a
//! `message` for people reading it with curl.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vm_api::VmError;

/// The answer to a failed call.
#[derive(Debug)]
pub struct ApiError(pub VmError);

impl From<VmError> for ApiError {
    fn from(e: VmError) -> Self {
        Self(e)
    }
}

/// The status of each error.
pub fn status(error: &VmError) -> StatusCode {
    match error {
        VmError::NotFound { .. } => StatusCode::NOT_FOUND,
        VmError::Invalid { .. } => StatusCode::BAD_REQUEST,
        VmError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        VmError::NotRunning { .. }
        | VmError::Exited { .. }
        | VmError::SpecMismatch { .. }
        | VmError::CapacityExceeded { .. } => StatusCode::CONFLICT,
        VmError::NoGuestAgent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        VmError::NoIp { .. } | VmError::LimitReached { .. } => StatusCode::SERVICE_UNAVAILABLE,
        VmError::Tart { .. } | VmError::Unreachable { .. } | VmError::Protocol { .. } => {
            StatusCode::BAD_GATEWAY
        }
        VmError::TartMissing | VmError::TartTooOld { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The body: the error's JSON and its message (an `invalid` error's own `message` is
/// kept: with `field` it says everything).
pub fn body(error: &VmError) -> serde_json::Value {
    let mut value = serde_json::to_value(error).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = value.as_object_mut() {
        map.entry("message")
            .or_insert_with(|| error.to_string().into());
    }
    value
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status(&self.0);
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "VM call failed");
        }
        (status, Json(body(&self.0))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_rebuilds_the_same_error_and_says_what_to_do() {
        let errors = [
            VmError::NotFound { vm: "a".into() },
            VmError::NoIp {
                vm: "a".into(),
                waited_secs: 3,
            },
            VmError::TartTooOld {
                found: "2.1.0".into(),
                required: "2.27.0".into(),
            },
            VmError::TartMissing,
            VmError::Invalid {
                field: "cpu".into(),
                message: "0".into(),
            },
        ];
        for error in errors {
            let body = body(&error);
            if !matches!(error, VmError::Invalid { .. }) {
                assert_eq!(body["message"], error.to_string());
            }
            let back: VmError = serde_json::from_value(body).expect("same error");
            assert_eq!(back, error);
        }
        assert_eq!(
            status(&VmError::NotFound { vm: "a".into() }),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(&VmError::capacity_exceeded(
                "a",
                vm_api::Resources {
                    cpu: 1,
                    memory_mib: 1,
                    disk_gib: 1
                },
                (0, 0),
                vm_api::Resources {
                    cpu: 1,
                    memory_mib: 1,
                    disk_gib: 1
                }
            )),
            StatusCode::CONFLICT
        );
    }
}
