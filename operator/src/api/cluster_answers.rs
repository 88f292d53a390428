//! Cluster answers built once per change. Each cluster's view is serialized when what it is
//! built from changed since the last build (its ManagedCluster, its watch caches and usage,
//! node-exporter's figures: see [`Sources`]), on the first request after the change, so a
//! burst of changes costs one build. Requests in between serve the same bytes, and their
//! compressed encodings made once (see [`super::encoded`]). A snapshot is assembled from its
//! clusters' bytes, tagged by their tags, and kept for the next caller who sees the same
//! clusters.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::Timestamp;

use super::encoded::Encoded;
use crate::collectors::snapshot::ClusterMeta;
use crate::model::ClusterView;

/// Which answer of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// In a snapshot without pods: nodes, namespace counts, usage.
    Overview,
    /// In a snapshot: with pods.
    Snapshot,
    /// `GET /api/v1/clusters/{name}`: with pods and each node's network history.
    Detail,
}

/// What a cluster's answer is built from; the answer is rebuilt when any of it changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Sources {
    /// Its ManagedCluster's (or the platform's) metadata.
    pub meta: ClusterMeta,
    /// Its collector's revision; none while it is not connected.
    pub revision: Option<u64>,
    /// The node-exporter poll's revision.
    pub figures: u64,
    /// The kubelet Summary poll's revision.
    pub kubelet: u64,
}

struct Built {
    sources: Sources,
    answer: Arc<Encoded>,
    at: Timestamp,
}

/// How many assembled snapshots are kept: one per set of visible clusters and section, for
/// the few different callers a dashboard has.
const SNAPSHOTS: usize = 8;

/// The built answers of every cluster, and the last snapshots assembled from them.
#[derive(Default)]
pub struct ClusterAnswers {
    clusters: Mutex<HashMap<(String, Part), Built>>,
    snapshots: Mutex<VecDeque<Arc<Encoded>>>,
}

impl ClusterAnswers {
    /// The answer of a cluster as `part` with when it was built: the cached one if it was
    /// built from `sources`, else `build()` serialized (read `sources` before the caches
    /// `build` reads: a change after that read bumps a revision and rebuilds next time).
    /// Concurrent requests for a changed cluster wait for one build.
    pub fn cluster(
        &self,
        part: Part,
        sources: Sources,
        build: impl FnOnce() -> ClusterView,
    ) -> (Arc<Encoded>, Timestamp) {
        let Ok(mut map) = self.clusters.lock() else {
            return (Arc::new(serialize(&build())), Timestamp::now());
        };
        let key = (sources.meta.name.clone(), part);
        if let Some(b) = map.get(&key).filter(|b| b.sources == sources) {
            return (b.answer.clone(), b.at);
        }
        let answer = Arc::new(serialize(&build()));
        let at = Timestamp::now();
        map.insert(
            key,
            Built {
                sources,
                answer: answer.clone(),
                at,
            },
        );
        (answer, at)
    }

    /// The snapshot tagged `tag`, assembled by `assemble` unless one of the last few was.
    pub fn snapshot(&self, tag: u64, assemble: impl FnOnce() -> Vec<u8>) -> Arc<Encoded> {
        if let Ok(kept) = self.snapshots.lock()
            && let Some(s) = kept.iter().find(|s| s.tag() == tag)
        {
            return s.clone();
        }
        let answer = Arc::new(Encoded::tagged(assemble(), tag));
        if let Ok(mut kept) = self.snapshots.lock() {
            if kept.len() >= SNAPSHOTS {
                kept.pop_front();
            }
            kept.push_back(answer.clone());
        }
        answer
    }

    /// Forgets the answers of clusters not in `names` (deleted ManagedClusters).
    pub fn keep_only(&self, names: &[&str]) {
        if let Ok(mut map) = self.clusters.lock() {
            map.retain(|(name, _), _| names.contains(&name.as_str()));
        }
    }
}

fn serialize(view: &ClusterView) -> Encoded {
    // A ClusterView is plain data: serializing it cannot fail.
    Encoded::new(serde_json::to_vec(view).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(revision: u64) -> Sources {
        Sources {
            meta: ClusterMeta {
                name: "dev".into(),
                ..ClusterMeta::default()
            },
            revision: Some(revision),
            figures: 0,
            kubelet: 0,
        }
    }

    fn view(pods: usize) -> ClusterView {
        ClusterView {
            name: "dev".into(),
            pods: vec![Default::default(); pods],
            ..ClusterView::default()
        }
    }

    #[test]
    fn a_cluster_is_built_once_per_change_of_its_sources() {
        let answers = ClusterAnswers::default();
        let mut builds = 0;
        let mut get = |s: Sources, part: Part| {
            answers.cluster(part, s, || {
                builds += 1;
                view(1)
            })
        };
        let (first, _) = get(sources(1), Part::Snapshot);
        let (again, _) = get(sources(1), Part::Snapshot);
        assert!(Arc::ptr_eq(&first, &again), "same sources, same bytes");
        get(sources(2), Part::Snapshot);
        get(sources(2), Part::Overview);
        let moved = Sources {
            meta: ClusterMeta {
                phase: Some("Ready".into()),
                ..sources(2).meta
            },
            ..sources(2)
        };
        get(moved.clone(), Part::Overview);
        get(
            Sources {
                figures: 1,
                ..moved
            },
            Part::Overview,
        );
        assert_eq!(
            builds, 5,
            "a new revision, another part, a phase and new figures each build once"
        );
    }

    #[test]
    fn snapshots_are_kept_by_tag_and_bounded() {
        let answers = ClusterAnswers::default();
        let first = answers.snapshot(1, || b"{}".to_vec());
        assert!(Arc::ptr_eq(
            &first,
            &answers.snapshot(1, || unreachable!("kept"))
        ));
        for tag in 2..=20 {
            answers.snapshot(tag, || b"{}".to_vec());
        }
        assert_eq!(answers.snapshots.lock().expect("lock").len(), SNAPSHOTS);
        let mut rebuilt = false;
        answers.snapshot(1, || {
            rebuilt = true;
            b"{}".to_vec()
        });
        assert!(rebuilt, "the oldest went first");
    }

    #[test]
    fn deleted_clusters_are_forgotten() {
        let answers = ClusterAnswers::default();
        answers.cluster(Part::Detail, sources(1), || view(0));
        answers.keep_only(&["prod"]);
        assert!(answers.clusters.lock().expect("lock").is_empty());
    }
}
