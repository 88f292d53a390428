//! What changed in one cluster's caches, for the event stream (pure). The watch loops and
//! the metrics poll [`ChangeLog::record`] changes as they come (each bumps the cluster's
//! revision; the latest change of an object wins); [`ChangeLog::flush`] turns what came since
//! the previous flush into one [`ClusterDelta`] and keeps it in a bounded log, so a client
//! that reconnects after revision R gets the deltas after R ([`ChangeLog::since`]), or a
//! resync when R is older than the log (or from another run of the collector).
//!
//! Revisions start at the collector's start time in microseconds: a revision from an earlier
//! run is older than anything this run's log holds, so resuming with it resyncs instead of
//! silently missing what changed in between.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::model::{ClusterDelta, NamespaceCount, NodeView, ObjectKey, PodView, UsageReading};

/// How many objects (pods, nodes, deletions, usage figures) the log keeps by default: a few
/// minutes of heavy churn in a big cluster.
pub const CAPACITY: usize = 20_000;

/// One change of a cluster's cached data.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A pod is new or changed (`Some`) or gone (`None`).
    Pod(ObjectKey, Option<PodView>),
    /// A node is new or changed (`Some`) or gone (`None`).
    Node(String, Option<NodeView>),
    /// A metrics-API reading.
    Usage(UsageReading),
}

/// What a flush has to tell the clients.
#[derive(Clone, Debug, PartialEq)]
pub enum Flushed {
    /// Nothing changed.
    Nothing,
    /// These changes.
    Delta(Arc<ClusterDelta>),
    /// The caches relisted: clients refetch the cluster.
    Resync,
}

/// What a client resuming from a revision must receive.
#[derive(Clone, Debug, PartialEq)]
pub enum Resume {
    /// These deltas, oldest first (none: it is up to date).
    Deltas(Vec<Arc<ClusterDelta>>),
    /// The log does not reach back that far: refetch.
    Resync,
}

/// The bounded log of one cluster's recent deltas and the changes not flushed yet.
#[derive(Debug)]
pub struct ChangeLog {
    cluster: String,
    revision: u64,
    /// Every delta after this revision is in `log`.
    base: u64,
    /// The revision of the last flush (what clients have been sent).
    published: u64,
    pods: BTreeMap<ObjectKey, Option<PodView>>,
    nodes: BTreeMap<String, Option<NodeView>>,
    usage: Option<UsageReading>,
    last_usage: Option<UsageReading>,
    reset: bool,
    log: VecDeque<Arc<ClusterDelta>>,
    held: usize,
    capacity: usize,
}

fn size(d: &ClusterDelta) -> usize {
    let usage = d.usage.as_ref().map_or(0, |u| {
        u.nodes.len() + u.pods.values().map(BTreeMap::len).sum::<usize>()
    });
    1 + d.pods.len() + d.pods_deleted.len() + d.nodes.len() + d.nodes_deleted.len() + usage
}

impl ChangeLog {
    /// An empty log starting at revision `start`, keeping about `capacity` objects.
    pub fn new(cluster: &str, start: u64, capacity: usize) -> Self {
        Self {
            cluster: cluster.to_owned(),
            revision: start,
            base: start,
            published: start,
            pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            usage: None,
            last_usage: None,
            reset: false,
            log: VecDeque::new(),
            held: 0,
            capacity,
        }
    }

    /// The cluster's revision: bumped by every change recorded, flushed or not.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision clients have been sent (the last flush's).
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Records a change. A usage reading equal to the previous one is no change.
    pub fn record(&mut self, change: Change) {
        match change {
            Change::Pod(key, view) => {
                self.pods.insert(key, view);
            }
            Change::Node(name, view) => {
                self.nodes.insert(name, view);
            }
            Change::Usage(reading) => {
                if self.last_usage.as_ref() == Some(&reading) {
                    return;
                }
                self.last_usage = Some(reading.clone());
                self.usage = Some(reading);
            }
        }
        self.revision += 1;
    }

    /// The caches relisted (after a restart or a broken watch): what changed in between is
    /// unknown, so the log starts over and clients resync.
    pub fn reset(&mut self) {
        self.revision += 1;
        self.base = self.revision;
        self.published = self.revision;
        self.pods.clear();
        self.nodes.clear();
        self.usage = None;
        self.log.clear();
        self.held = 0;
        self.reset = true;
    }

    /// The namespaces whose pods changed since the last flush.
    pub fn touched_namespaces(&self) -> BTreeSet<String> {
        self.pods.keys().map(|k| k.namespace.clone()).collect()
    }

    /// Turns the changes since the last flush into one delta and logs it; `namespaces` are
    /// the counts of [`Self::touched_namespaces`] now (a namespace missing from them has no
    /// pods left), `node_pods` the pods bound to each node now (sent when pods changed).
    pub fn flush(
        &mut self,
        namespaces: Vec<NamespaceCount>,
        node_pods: BTreeMap<String, usize>,
    ) -> Flushed {
        if std::mem::take(&mut self.reset) {
            return Flushed::Resync;
        }
        if self.revision == self.published {
            return Flushed::Nothing;
        }
        let mut counts: BTreeMap<String, NamespaceCount> = self
            .touched_namespaces()
            .into_iter()
            .map(|ns| {
                let zero = NamespaceCount {
                    namespace: ns.clone(),
                    ..NamespaceCount::default()
                };
                (ns, zero)
            })
            .collect();
        for c in namespaces {
            if let Some(slot) = counts.get_mut(&c.namespace) {
                *slot = c;
            }
        }
        let mut delta = ClusterDelta {
            cluster: self.cluster.clone(),
            revision: self.revision,
            since: self.published,
            namespaces: counts.into_values().collect(),
            node_pods: if self.pods.is_empty() {
                BTreeMap::new()
            } else {
                node_pods
            },
            usage: self.usage.take(),
            ..ClusterDelta::default()
        };
        for (key, view) in std::mem::take(&mut self.pods) {
            match view {
                Some(v) => delta.pods.push(v),
                None => delta.pods_deleted.push(key),
            }
        }
        for (name, view) in std::mem::take(&mut self.nodes) {
            match view {
                Some(v) => delta.nodes.push(v),
                None => delta.nodes_deleted.push(name),
            }
        }
        self.published = self.revision;
        let delta = Arc::new(delta);
        self.held += size(&delta);
        self.log.push_back(delta.clone());
        // The newest delta always stays, however big.
        while self.held > self.capacity && self.log.len() > 1 {
            if let Some(old) = self.log.pop_front() {
                self.held -= size(&old);
                self.base = old.revision;
            }
        }
        Flushed::Delta(delta)
    }

    /// What a client that has everything up to `revision` must receive.
    pub fn since(&self, revision: u64) -> Resume {
        if revision < self.base || revision > self.published {
            return Resume::Resync;
        }
        Resume::Deltas(
            self.log
                .iter()
                .filter(|d| d.revision > revision)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> ObjectKey {
        ObjectKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn pod(ns: &str, name: &str, status: &str) -> Change {
        Change::Pod(
            key(ns, name),
            Some(PodView {
                namespace: ns.into(),
                name: name.into(),
                status: status.into(),
                ..PodView::default()
            }),
        )
    }

    fn count(ns: &str, total: usize) -> NamespaceCount {
        NamespaceCount {
            namespace: ns.into(),
            total,
            running: total,
            ..NamespaceCount::default()
        }
    }

    fn delta(f: Flushed) -> Arc<ClusterDelta> {
        match f {
            Flushed::Delta(d) => d,
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    /// Changes between flushes coalesce into one delta: the latest change of an object
    /// wins, deletions are keys, and only the namespaces touched are counted (a namespace
    /// without pods now counts zero).
    #[test]
    fn a_flush_coalesces_to_the_latest_change_of_each_object() {
        let mut log = ChangeLog::new("dev", 100, CAPACITY);
        log.record(pod("a", "p", "Pending"));
        log.record(pod("a", "p", "Running"));
        log.record(pod("b", "q", "Running"));
        log.record(Change::Pod(key("b", "q"), None));
        log.record(Change::Node("n1".into(), None));
        assert_eq!(log.revision(), 105);
        assert_eq!(log.published(), 100);
        assert_eq!(
            log.touched_namespaces(),
            BTreeSet::from(["a".to_owned(), "b".to_owned()])
        );
        let d = delta(log.flush(
            vec![count("a", 1), count("unrelated", 9)],
            BTreeMap::from([("n1".to_owned(), 3)]),
        ));
        assert_eq!((d.cluster.as_str(), d.since, d.revision), ("dev", 100, 105));
        assert_eq!(d.pods.len(), 1);
        assert_eq!(d.pods[0].status, "Running");
        assert_eq!(d.pods_deleted, [key("b", "q")]);
        assert_eq!(d.nodes_deleted, ["n1"]);
        assert_eq!(d.namespaces, [count("a", 1), count("b", 0)]);
        assert_eq!(d.node_pods, BTreeMap::from([("n1".to_owned(), 3)]));
        assert_eq!(log.published(), 105);
        assert_eq!(log.flush(Vec::new(), BTreeMap::new()), Flushed::Nothing);
    }

    /// A usage reading is sent once; the same reading again is no change.
    #[test]
    fn an_unchanged_usage_reading_is_no_change() {
        let mut log = ChangeLog::new("dev", 0, CAPACITY);
        let reading = UsageReading {
            metrics_available: true,
            nodes: BTreeMap::from([("n1".to_owned(), [250, 1 << 30])]),
            ..UsageReading::default()
        };
        log.record(Change::Usage(reading.clone()));
        let d = delta(log.flush(Vec::new(), BTreeMap::from([("n1".to_owned(), 3)])));
        assert_eq!(d.usage, Some(reading.clone()));
        assert!(d.node_pods.is_empty(), "no pod changed: {d:?}");
        log.record(Change::Usage(reading));
        assert_eq!(log.revision(), 1);
        assert_eq!(log.flush(Vec::new(), BTreeMap::new()), Flushed::Nothing);
    }

    /// Resuming: the deltas after the client's revision; nothing when it is up to date;
    /// resync when the revision is older than the log, from the future, or from before a
    /// relist.
    #[test]
    fn a_resume_gets_what_it_missed_or_a_resync() {
        let mut log = ChangeLog::new("dev", 1_000, 4);
        for i in 0..3 {
            log.record(pod("a", &format!("p{i}"), "Running"));
            log.flush(Vec::new(), BTreeMap::new());
        }
        // Deltas at 1001, 1002, 1003, two objects each (the pod and the delta itself).
        let revisions = |r: Resume| match r {
            Resume::Deltas(d) => d.iter().map(|d| d.revision).collect::<Vec<_>>(),
            Resume::Resync => vec![0],
        };
        let cases: [(u64, Vec<u64>); 5] = [
            (1_003, vec![]),
            (1_002, vec![1_003]),
            (1_001, vec![1_002, 1_003]),
            (1_000, vec![0]),
            (1_004, vec![0]),
        ];
        for (from, expected) in cases {
            assert_eq!(revisions(log.since(from)), expected, "resuming from {from}");
        }
        // An older run's revisions are all older than this run's log.
        assert_eq!(log.since(7), Resume::Resync);
        log.record(pod("a", "p9", "Running"));
        log.reset();
        assert_eq!(log.flush(Vec::new(), BTreeMap::new()), Flushed::Resync);
        assert_eq!(log.flush(Vec::new(), BTreeMap::new()), Flushed::Nothing);
        assert_eq!(log.since(1_003), Resume::Resync);
        assert_eq!(log.since(log.published()), Resume::Deltas(Vec::new()));
    }

    /// The newest delta is kept even when it alone exceeds the capacity.
    #[test]
    fn the_newest_delta_stays_however_big() {
        let mut log = ChangeLog::new("dev", 0, 2);
        for i in 0..5 {
            log.record(pod("a", &format!("p{i}"), "Running"));
        }
        let d = delta(log.flush(Vec::new(), BTreeMap::new()));
        assert_eq!(log.since(0), Resume::Deltas(vec![d]));
    }
}
