//! Read-after-write: the controller's cache shows a LoadTest as it was before the
//! controller's own last write (its finalizer or status) until that write's watch event
//! arrives. A reconcile of that old copy would decide again from the old status and write
//! it again (or add the finalizer again, which fails). So a reconcile whose object still has
//! the resourceVersion a write was made from waits for the event instead, for a short
//! while at most (a write the API server found to change nothing brings no event). One pass
//! may write twice (the finalizer, then status from the copy the first write returned):
//! both versions count as old until a newer one is seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a written-from version counts as stale: past this the reconcile goes ahead.
pub const AT_MOST: Duration = Duration::from_secs(2);

/// The versions objects were last written from, by object key, with the last write's time.
#[derive(Default)]
pub struct Written(Mutex<HashMap<String, (Vec<String>, Instant)>>);

impl Written {
    /// Records that `key` was written from `version` at `now` (with the versions written
    /// from in the last [`AT_MOST`]).
    pub fn record(&self, key: &str, version: &str, now: Instant) {
        if let Ok(mut m) = self.0.lock() {
            let (versions, at) = m.entry(key.to_owned()).or_insert((Vec::new(), now));
            if now.duration_since(*at) >= AT_MOST {
                versions.clear();
            }
            if !versions.iter().any(|v| v == version) {
                versions.push(version.to_owned());
            }
            *at = now;
        }
    }

    /// Whether the cached copy of `key` at `version` is older than the controller's own
    /// last write (so the write's event is still to come); forgets the write once it is not.
    pub fn stale(&self, key: &str, version: &str, now: Instant) -> bool {
        let Ok(mut m) = self.0.lock() else {
            return false;
        };
        let stale = m.get(key).is_some_and(|(vs, at)| {
            vs.iter().any(|v| v == version) && now.duration_since(*at) < AT_MOST
        });
        if !stale {
            m.remove(key);
        }
        stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_from_before_the_last_write_waits_briefly() {
        let t0 = Instant::now();
        let later = |ms| t0 + Duration::from_millis(ms);
        let cases = [
            ("never written", None, "5", 0, false),
            ("the version written from", Some("5"), "5", 100, true),
            ("a newer version", Some("5"), "6", 100, false),
            ("the write brought no event", Some("5"), "5", 2_500, false),
        ];
        for (case, written_from, seen, after_ms, want) in cases {
            let w = Written::default();
            if let Some(v) = written_from {
                w.record("ns/a", v, t0);
            }
            assert_eq!(w.stale("ns/a", seen, later(after_ms)), want, "{case}");
            assert!(
                !w.stale("ns/b", seen, later(after_ms)),
                "{case}: another object"
            );
        }
        // A pass that wrote twice: both copies are old.
        let w = Written::default();
        w.record("ns/a", "5", t0);
        w.record("ns/a", "6", later(30));
        assert!(w.stale("ns/a", "5", later(40)));
        assert!(w.stale("ns/a", "6", later(40)));
        assert!(!w.stale("ns/a", "7", later(50)));
        assert!(
            !w.stale("ns/a", "6", later(60)),
            "forgotten once a newer copy was seen"
        );
        // A write long after the last starts a new record.
        let w = Written::default();
        w.record("ns/a", "5", t0);
        w.record("ns/a", "9", later(3_000));
        assert!(w.stale("ns/a", "9", later(3_010)));
        assert!(
            !w.stale("ns/a", "5", later(3_020)),
            "the earlier write is not kept"
        );
        // Once seen newer, the record is gone: the old version does not block again.
        let w = Written::default();
        w.record("ns/a", "5", t0);
        assert!(!w.stale("ns/a", "6", later(10)));
        assert!(!w.stale("ns/a", "5", later(20)));
    }
}
