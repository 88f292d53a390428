//! Admission: at most N runners per target cluster at once; the other tests wait, first
//! come first served (by creation time, then namespace and name).

use k8s_openapi::jiff::Timestamp;

/// A test that wants to run, or runs, on one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `namespace/name`.
    pub key: String,
    /// When it was created.
    pub created: Option<Timestamp>,
    /// Its runner exists (or is being created).
    pub active: bool,
}

/// Whether a test may create its runner now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Create the runner.
    Start,
    /// Wait: `position` in line (1 = next), behind `running` active tests.
    Queued {
        /// Place in line, from 1.
        position: usize,
        /// Active runners on the cluster.
        running: usize,
    },
}

/// Decides for `me` given every unfinished test of the same cluster (pure).
pub fn admit(entries: &[Entry], me: &str, limit: usize) -> Admission {
    let running = entries.iter().filter(|e| e.active && e.key != me).count();
    let mut waiting: Vec<&Entry> = entries
        .iter()
        .filter(|e| !e.active || e.key == me)
        .collect();
    waiting.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
    let index = waiting
        .iter()
        .position(|e| e.key == me)
        .unwrap_or(waiting.len());
    let slots = limit.saturating_sub(running);
    if index < slots {
        Admission::Start
    } else {
        Admission::Queued {
            position: index - slots + 1,
            running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(key: &str, created: i64, active: bool) -> Entry {
        Entry {
            key: key.into(),
            created: Timestamp::from_second(created).ok(),
            active,
        }
    }

    #[test]
    fn the_first_test_starts_and_the_next_ones_queue_in_creation_order() {
        let entries = vec![
            e("ns/c", 30, false),
            e("ns/a", 10, false),
            e("ns/b", 20, false),
        ];
        assert_eq!(admit(&entries, "ns/a", 1), Admission::Start);
        assert_eq!(
            admit(&entries, "ns/b", 1),
            Admission::Queued {
                position: 1,
                running: 0
            }
        );
        assert_eq!(
            admit(&entries, "ns/c", 1),
            Admission::Queued {
                position: 2,
                running: 0
            }
        );
    }

    #[test]
    fn running_tests_take_their_slots() {
        let entries = vec![
            e("ns/a", 10, true),
            e("ns/b", 20, false),
            e("ns/c", 30, false),
        ];
        assert_eq!(
            admit(&entries, "ns/b", 1),
            Admission::Queued {
                position: 1,
                running: 1
            }
        );
        assert_eq!(admit(&entries, "ns/b", 2), Admission::Start);
        assert_eq!(
            admit(&entries, "ns/c", 2),
            Admission::Queued {
                position: 1,
                running: 1
            }
        );
    }

    #[test]
    fn ties_break_by_name_and_a_zero_limit_never_starts() {
        let entries = vec![e("ns/b", 10, false), e("ns/a", 10, false)];
        assert_eq!(admit(&entries, "ns/a", 1), Admission::Start);
        assert_eq!(
            admit(&entries, "ns/a", 0),
            Admission::Queued {
                position: 1,
                running: 0
            }
        );
    }
}
