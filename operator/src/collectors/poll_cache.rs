//! The last answer of a source a background task polls (the host agent, Prometheus), and why
//! the latest poll failed, shared by the poller and the API: an API call reads it and never
//! waits on the source.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use k8s_openapi::jiff::Timestamp;

/// What the polls of a source gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Polled<T> {
    /// The answer of the last poll that worked (`T::default()` before the first).
    pub last: T,
    /// Why the latest poll failed, and since when (RFC 3339): the first failure of the run of
    /// failures, so the page can say how long the source has been failing.
    pub error: Option<(String, String)>,
}

/// The last [`Polled`], shared by the poller and the API, and a count of the polls stored.
#[derive(Clone, Debug, Default)]
pub struct PollCache<T>(Arc<(RwLock<Polled<T>>, AtomicU64)>);

impl<T: Clone + Default> PollCache<T> {
    /// A copy of the last poll.
    pub fn polled(&self) -> Polled<T> {
        self.0.0.read().map(|p| p.clone()).unwrap_or_default()
    }

    /// How many polls have been stored: an answer built from [`Self::polled`] after
    /// reading `n` holds at least the `n`th.
    pub fn revision(&self) -> u64 {
        self.0.1.load(Ordering::Acquire)
    }

    fn stored(&self) {
        self.0.1.fetch_add(1, Ordering::Release);
    }

    /// A poll worked: its answer, and no error.
    pub fn set(&self, last: T) {
        if let Ok(mut slot) = self.0.0.write() {
            *slot = Polled { last, error: None };
        }
        self.stored();
    }

    /// A poll failed: the last answer stays, with why and since when.
    pub fn fail(&self, message: String) {
        if let Ok(mut slot) = self.0.0.write() {
            let since = match &slot.error {
                Some((_, since)) => since.clone(),
                None => Timestamp::now().to_string(),
            };
            slot.error = Some((message, since));
        }
        self.stored();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_poll_keeps_the_last_answer_and_its_first_time() {
        let cache = PollCache::<Vec<u8>>::default();
        cache.set(vec![1]);
        cache.fail("unreachable".into());
        let since = cache.polled().error.expect("error").1;
        cache.fail("still unreachable".into());
        assert_eq!(
            cache.polled(),
            Polled {
                last: vec![1],
                error: Some(("still unreachable".into(), since)),
            }
        );
        cache.set(vec![2]);
        assert_eq!(
            cache.polled(),
            Polled {
                last: vec![2],
                error: None
            }
        );
    }
}
