//! Admission: at most N runners per target cluster at once; the other tests wait, first
//! come first served (by creation time, then namespace and name). [`admit`] decides (pure);
//! [`Slots`] holds the reservations of tests admitted whose runner may not show in the
//! controller's cache yet, and wakes the waiting tests when a slot frees.

use std::collections::HashSet;
use std::sync::Mutex;

use crds::LoadTest;
use crds::conditions::LoadTestCondition as C;
use crds::managed_cluster::LoadTestPolicy;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::conditions;
use crate::context::Settings;
use crate::controllers::status::key;

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

/// How many waiting tests a freed slot wakes at once, first in line first.
pub const WAKE: usize = 20;

/// The keys of the first `n` waiting tests of `entries` in line order (pure).
pub fn first_waiting(entries: &[Entry], n: usize) -> Vec<&str> {
    let mut waiting: Vec<&Entry> = entries.iter().filter(|e| !e.active).collect();
    waiting.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
    waiting
        .into_iter()
        .take(n)
        .map(|e| e.key.as_str())
        .collect()
}

/// How many tests may run at once on a cluster: the operator's setting, lowered by the
/// cluster policy's maxConcurrentTests.
pub fn slot_limit(settings: &Settings, policy: Option<&LoadTestPolicy>) -> usize {
    let cap = policy
        .and_then(|p| p.max_concurrent_tests)
        .map_or(usize::MAX, |m| m as usize);
    settings.max_tests_per_cluster.min(cap)
}

/// Whether `lt` still competes for a slot: not finished and not being deleted.
pub fn active(lt: &LoadTest) -> bool {
    let phase = lt.status.as_ref().and_then(|s| s.phase);
    !phase.is_some_and(|p| p.is_finished()) && lt.metadata.deletion_timestamp.is_none()
}

fn has_runner(lt: &LoadTest) -> bool {
    lt.status.as_ref().is_some_and(|s| s.runner.is_some())
}

/// Whether `lt`'s runner takes a slot: it has one and it is not known to have stopped,
/// whatever the test's phase (a finished test whose pod still runs, a test being deleted
/// whose runner is not gone yet).
pub fn holds_slot(lt: &LoadTest) -> bool {
    has_runner(lt)
        && !lt
            .status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, C::RunnerStopped))
}

/// `o` as an entry of its cluster's queue: competing for a slot or holding one; `reserved`
/// are the tests admitted whose runner may not show yet (pure).
pub fn entry(o: &LoadTest, reserved: &HashSet<String>) -> Option<Entry> {
    let k = key(o);
    let holding = holds_slot(o) || (active(o) && reserved.contains(&k));
    (active(o) || holding).then(|| Entry {
        created: o.metadata.creation_timestamp.as_ref().map(|t| t.0),
        active: holding,
        key: k,
    })
}

/// The slots of every cluster, read from the controller's cache of LoadTests.
pub struct Slots {
    store: Store<LoadTest>,
    /// Tests admitted whose runner may not show in the store yet.
    reserved: Mutex<HashSet<String>>,
    wake: UnboundedSender<ObjectRef<LoadTest>>,
}

impl Slots {
    /// Slots over `store`; `wake` triggers a reconcile of a waiting test.
    pub fn new(store: Store<LoadTest>, wake: UnboundedSender<ObjectRef<LoadTest>>) -> Self {
        Self {
            store,
            reserved: Mutex::default(),
            wake,
        }
    }

    /// Decides whether `lt` may create its runner now, and on [`Admission::Start`]
    /// reserves its slot at once, so two tests reconciled together cannot both take the
    /// last one.
    pub fn admit(&self, lt: &LoadTest, limit: usize) -> Admission {
        let me = key(lt);
        let Ok(mut reserved) = self.reserved.lock() else {
            return Admission::Queued {
                position: 1,
                running: 0,
            };
        };
        let state = self.store.state();
        reserved.retain(|k| {
            state
                .iter()
                .any(|o| key(o.as_ref()) == *k && active(o) && !has_runner(o))
        });
        let mut entries: Vec<Entry> = state
            .iter()
            .filter(|o| o.spec.cluster == lt.spec.cluster)
            .filter_map(|o| entry(o, &reserved))
            .collect();
        if !entries.iter().any(|e| e.key == me) {
            entries.push(Entry {
                key: me.clone(),
                created: lt.metadata.creation_timestamp.as_ref().map(|t| t.0),
                active: false,
            });
        }
        let decision = admit(&entries, &me, limit);
        if decision == Admission::Start {
            reserved.insert(me);
        }
        decision
    }

    /// Frees the slot of `lt` and wakes the first [`WAKE`] tests waiting on its cluster (the
    /// others look again at their own pace: waking a whole long line on every release made
    /// every test in it reconcile once per test ahead of it).
    pub fn release(&self, lt: &LoadTest) {
        let reserved = match self.reserved.lock() {
            Ok(mut r) => {
                r.remove(&key(lt));
                r.clone()
            }
            Err(_) => HashSet::new(),
        };
        let state = self.store.state();
        let entries: Vec<Entry> = state
            .iter()
            .filter(|o| o.spec.cluster == lt.spec.cluster && !has_runner(o))
            .filter_map(|o| entry(o, &reserved))
            .collect();
        let first = first_waiting(&entries, WAKE);
        for o in &state {
            if first.contains(&key(o.as_ref()).as_str()) {
                let _ = self.wake.unbounded_send(ObjectRef::from_obj(o.as_ref()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn e(key: &str, created: i64, active: bool) -> Entry {
        Entry {
            key: key.into(),
            created: Timestamp::from_second(created).ok(),
            active,
        }
    }

    #[test]
    fn a_freed_slot_wakes_the_first_waiting_tests_in_line() {
        let entries = vec![
            e("ns/d", 40, false),
            e("ns/run", 5, true),
            e("ns/b", 20, false),
            e("ns/c", 20, false),
            e("ns/a", 10, false),
        ];
        assert_eq!(first_waiting(&entries, 2), vec!["ns/a", "ns/b"]);
        assert_eq!(
            first_waiting(&entries, 10),
            vec!["ns/a", "ns/b", "ns/c", "ns/d"]
        );
        assert!(first_waiting(&entries, 0).is_empty());
        assert!(first_waiting(&[e("ns/run", 5, true)], 3).is_empty());
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

    fn lt(status: serde_json::Value, deleting: bool) -> LoadTest {
        serde_json::from_value(json!({
            "apiVersion": "tartinfra.dev/v1alpha1", "kind": "LoadTest",
            "metadata": { "name": "a", "namespace": "ns", "deletionTimestamp": deleting.then_some("2027-01-01T00:00:00Z") },
            "spec": { "cluster": "dev", "preset": "light-load" },
            "status": status,
        }))
        .expect("loadtest")
    }

    #[test]
    fn runners_hold_their_slot_until_they_are_known_to_have_stopped() {
        let runner = json!({ "cluster": "dev", "namespace": "tart-loadtest", "job": "j" });
        let stopped = json!([{ "type": "RunnerStopped", "status": "True", "reason": "PodsStopped", "message": "", "lastTransitionTime": "2027-01-01T00:00:00Z" }]);
        let still = json!([{ "type": "RunnerStopped", "status": "False", "reason": "PodsRunning", "message": "", "lastTransitionTime": "2027-01-01T00:00:00Z" }]);
        let none = HashSet::new();
        let holding = |status, deleting| entry(&lt(status, deleting), &none).map(|e| e.active);
        assert_eq!(
            holding(json!({ "phase": "Running", "runner": runner }), false),
            Some(true)
        );
        assert_eq!(
            holding(
                json!({ "phase": "Failed", "runner": runner, "conditions": still }),
                false
            ),
            Some(true),
            "a finished test whose pod still runs"
        );
        assert_eq!(
            holding(json!({ "phase": "Succeeded", "runner": runner }), false),
            Some(true),
            "a finished test not yet seen stopped"
        );
        assert_eq!(
            holding(json!({ "phase": "Running", "runner": runner }), true),
            Some(true),
            "a test being deleted whose runner is alive"
        );
        assert_eq!(
            holding(
                json!({ "phase": "Succeeded", "runner": runner, "conditions": stopped }),
                false
            ),
            None
        );
        assert_eq!(
            holding(json!({ "phase": "Failed" }), false),
            None,
            "never had a runner"
        );
        assert_eq!(
            holding(json!({ "phase": "Pending" }), false),
            Some(false),
            "waiting"
        );
        assert_eq!(
            holding(json!({ "phase": "Pending" }), true),
            None,
            "deleted before it ran"
        );
    }

    #[test]
    fn a_cluster_policy_lowers_the_operator_limit_and_never_raises_it() {
        let settings = Settings {
            max_tests_per_cluster: 3,
            ..Settings::default()
        };
        let with = |m| LoadTestPolicy {
            max_concurrent_tests: m,
            ..LoadTestPolicy::default()
        };
        assert_eq!(slot_limit(&settings, None), 3);
        assert_eq!(slot_limit(&settings, Some(&with(None))), 3);
        assert_eq!(slot_limit(&settings, Some(&with(Some(1)))), 1);
        assert_eq!(slot_limit(&settings, Some(&with(Some(10)))), 3);
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
