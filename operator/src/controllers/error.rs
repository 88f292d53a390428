//! Why a reconcile failed and what to do about it. Transient failures (a connection, a busy
//! or restarting API server, a conflict, a finalizer patch against a stale cache) are
//! retried with exponential backoff; permanent ones (forbidden, invalid) need a change to
//! succeed, so they are retried at the slowest pace and, where a decision can, end in a
//! terminal status with a reason instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::finalizer;

/// The first retry's delay.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// The longest delay between retries.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A platform API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A step that will succeed later, e.g. a runner still being removed.
    #[error("{0}")]
    Retry(String),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

/// Whether retrying can help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Retry with backoff: it may pass by itself.
    Transient,
    /// It fails the same way until someone changes something (RBAC, the object, a quota).
    Permanent,
}

impl Class {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
        }
    }
}

/// Classifies a failed API call.
pub fn classify(e: &kube::Error) -> Class {
    match e {
        kube::Error::Api(s) => match s.code {
            // Bad request, forbidden, method not allowed, too large, unsupported media
            // type, invalid: the same request fails again.
            400 | 403 | 405 | 413 | 415 | 422 => Class::Permanent,
            // 401 (a rotated token), 404 (a stale cache), 409 (a conflict), 429, 5xx and
            // anything unknown: worth another try.
            _ => Class::Transient,
        },
        kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) => Class::Permanent,
        _ => Class::Transient,
    }
}

impl Error {
    /// The metrics label of the kind of error.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Retry(_) => "retry",
            Self::Finalizer(_) => "finalizer",
        }
    }

    /// Whether retrying can help.
    pub fn class(&self) -> Class {
        match self {
            Self::Kube(e) => classify(e),
            Self::Retry(_) => Class::Transient,
            Self::Finalizer(e) => match e.as_ref() {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e.class(),
                // The helper's JSON patch tests the finalizer list it read: a stale cache
                // makes the test fail with 422, and the next attempt reads a fresh object.
                finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => match e
                {
                    kube::Error::Api(s) if s.code == 422 => Class::Transient,
                    other => classify(other),
                },
                finalizer::Error::UnnamedObject | finalizer::Error::InvalidFinalizer => {
                    Class::Permanent
                }
            },
        }
    }
}

/// An effect that failed, as the decision that follows it sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Whether retrying can help.
    pub class: Class,
    /// What failed, for status and events.
    pub message: String,
}

impl Failure {
    /// The failure of an API call: the API server's own message for API errors.
    pub fn of(e: &kube::Error) -> Self {
        Self {
            class: classify(e),
            message: match e {
                kube::Error::Api(s) => format!("{} (HTTP {})", s.message, s.code),
                other => other.to_string(),
            },
        }
    }
}

/// The delay before retry number `failures` (1 for the first): doubling from
/// [`BACKOFF_BASE`], at most [`BACKOFF_CAP`] (pure).
pub fn backoff_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

/// Consecutive failures per object, for the backoff.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Counts a failure of `key` and says when to retry: transient failures back off
    /// exponentially, permanent ones wait the longest delay.
    pub fn retry(&self, key: &str, class: Class) -> Action {
        let failures = self.failures.lock().map_or(1, |mut f| {
            let n = f.entry(key.to_owned()).or_default();
            *n = n.saturating_add(1);
            *n
        });
        Action::requeue(match class {
            Class::Transient => backoff_delay(failures),
            Class::Permanent => BACKOFF_CAP,
        })
    }

    /// Forgets the failures of `key` after a successful run.
    pub fn reset(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: format!("status {code}"),
            ..kube::core::Status::default()
        }))
    }

    #[test]
    fn api_errors_are_classified_by_status_code() {
        for code in [400, 403, 405, 413, 415, 422] {
            assert_eq!(classify(&api(code)), Class::Permanent, "{code}");
        }
        for code in [401, 404, 409, 429, 500, 502, 503, 504] {
            assert_eq!(classify(&api(code)), Class::Transient, "{code}");
        }
        let unreadable = serde_json::from_str::<u8>("x").expect_err("not a number");
        assert_eq!(
            classify(&kube::Error::SerdeError(unreadable)),
            Class::Permanent
        );
        assert_eq!(
            classify(&kube::Error::LinesCodecMaxLineLengthExceeded),
            Class::Transient
        );
    }

    #[test]
    fn a_finalizer_patch_against_a_stale_cache_is_transient() {
        let stale = Error::Finalizer(Box::new(finalizer::Error::AddFinalizer(api(422))));
        assert_eq!(stale.class(), Class::Transient);
        let forbidden = Error::Finalizer(Box::new(finalizer::Error::RemoveFinalizer(api(403))));
        assert_eq!(forbidden.class(), Class::Permanent);
        let inner = Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(Error::Kube(api(
            422,
        )))));
        assert_eq!(
            inner.class(),
            Class::Permanent,
            "a 422 from the reconcile itself is a validation error"
        );
        assert_eq!(Error::Retry("later".into()).class(), Class::Transient);
        assert_eq!(
            (stale.label(), Error::Kube(api(500)).label()),
            ("finalizer", "kube")
        );
    }

    #[test]
    fn transient_retries_double_up_to_the_cap_and_reset_on_success() {
        assert_eq!(backoff_delay(1), Duration::from_secs(5));
        assert_eq!(backoff_delay(2), Duration::from_secs(10));
        assert_eq!(backoff_delay(4), Duration::from_secs(40));
        assert_eq!(backoff_delay(7), BACKOFF_CAP);
        assert_eq!(backoff_delay(u32::MAX), BACKOFF_CAP);
        let b = Backoff::default();
        assert_eq!(
            b.retry("ns/a", Class::Transient),
            Action::requeue(Duration::from_secs(5))
        );
        assert_eq!(
            b.retry("ns/a", Class::Transient),
            Action::requeue(Duration::from_secs(10))
        );
        assert_eq!(
            b.retry("ns/b", Class::Transient),
            Action::requeue(Duration::from_secs(5)),
            "per object"
        );
        b.reset("ns/a");
        assert_eq!(
            b.retry("ns/a", Class::Transient),
            Action::requeue(Duration::from_secs(5))
        );
        assert_eq!(
            b.retry("ns/c", Class::Permanent),
            Action::requeue(BACKOFF_CAP)
        );
    }
}
