//! Watchers on the runner Jobs and Pods of one managed cluster. Every change to a runner
//! wakes the LoadTest that owns it, so status follows the pod without polling; the watched
//! objects are kept ([`Runners`]), so a reconcile reads its runner without a request.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crds::LoadTest;
use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

/// The label selector of every runner object.
pub const RUNNER_SELECTOR: &str =
    "app.kubernetes.io/managed-by=tart-operator,app.kubernetes.io/component=loadtest-runner";
/// The annotation naming the LoadTest (`namespace/name`) a runner object belongs to.
pub const OWNER_ANNOTATION: &str = "tartinfra.dev/loadtest";

/// Watcher tasks, aborted when dropped.
pub struct Watchers(Vec<JoinHandle<()>>);

/// What the watchers of one cluster keep: its runner Jobs and Pods, and the runner
/// namespaces the operator has seen it owns (so a test does not read its namespace again).
#[derive(Clone)]
pub struct Runners {
    /// Runner Jobs, as last watched.
    pub jobs: Store<Job>,
    /// Runner pods, as last watched.
    pub pods: Store<Pod>,
    /// Each watch's last answer was not an error (Jobs, Pods).
    answering: [Arc<AtomicBool>; 2],
    owned_namespaces: Arc<Mutex<HashSet<String>>>,
}

impl Runners {
    /// Whether both watches answer, so the stores follow the cluster: while one fails (the
    /// API server is down, say) a reconcile reads from the API server and sees that.
    pub fn watching(&self) -> bool {
        self.answering.iter().all(|a| a.load(Ordering::Relaxed))
    }

    /// Whether namespace `name` was last seen (or created) as the operator's own.
    pub fn owns_namespace(&self, name: &str) -> bool {
        self.owned_namespaces
            .lock()
            .is_ok_and(|set| set.contains(name))
    }

    /// Records what is known of namespace `name`: the operator's own, or not (any more).
    pub fn set_namespace_owned(&self, name: &str, owned: bool) {
        if let Ok(mut set) = self.owned_namespaces.lock() {
            if owned {
                set.insert(name.to_owned());
            } else {
                set.remove(name);
            }
        }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The LoadTest an object's owner annotation names.
pub fn owner(
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) -> Option<ObjectRef<LoadTest>> {
    let value = annotations?.get(OWNER_ANNOTATION)?;
    let (namespace, name) = value.split_once('/')?;
    (!namespace.is_empty() && !name.is_empty()).then(|| ObjectRef::new(name).within(namespace))
}

fn watch<K>(
    cluster: &str,
    client: Client,
    tx: UnboundedSender<ObjectRef<LoadTest>>,
) -> (Store<K>, Arc<AtomicBool>, JoinHandle<()>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let cluster = cluster.to_owned();
    let (store, writer) = reflector::store();
    let answering = Arc::new(AtomicBool::new(false));
    let flag = answering.clone();
    let task = tokio::spawn(async move {
        let api: Api<K> = Api::all(client);
        let config = watcher::Config::default().labels(RUNNER_SELECTOR);
        // The store is written before the LoadTest is woken, so its reconcile sees the change.
        let mut events = watcher(api, config)
            .default_backoff()
            .reflect(writer)
            .boxed();
        while let Some(event) = events.next().await {
            // During a (re)list the store still holds the previous list, or nothing yet: it
            // follows the cluster again once the list is done.
            if !matches!(
                event,
                Ok(watcher::Event::Init | watcher::Event::InitApply(_))
            ) {
                flag.store(event.is_ok(), Ordering::Relaxed);
            }
            let obj = match event {
                Ok(
                    watcher::Event::Apply(obj)
                    | watcher::Event::Delete(obj)
                    | watcher::Event::InitApply(obj),
                ) => obj,
                Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
                Err(e) => {
                    tracing::debug!(cluster, kind = K::kind(&()).as_ref(), error = %e, "runner watch interrupted");
                    continue;
                }
            };
            if let Some(lt) = owner(obj.meta().annotations.as_ref())
                && tx.unbounded_send(lt).is_err()
            {
                return;
            }
        }
    });
    (store, answering, task)
}

/// Starts the Job and Pod watchers of one cluster.
pub fn spawn(
    cluster: &str,
    client: Client,
    tx: UnboundedSender<ObjectRef<LoadTest>>,
) -> (Runners, Watchers) {
    let (jobs, jobs_answering, job_task) = watch::<Job>(cluster, client.clone(), tx.clone());
    let (pods, pods_answering, pod_task) = watch::<Pod>(cluster, client, tx);
    let runners = Runners {
        jobs,
        pods,
        answering: [jobs_answering, pods_answering],
        owned_namespaces: Arc::default(),
    };
    (runners, Watchers(vec![job_task, pod_task]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_annotation_names_the_loadtest() {
        let mut a = std::collections::BTreeMap::new();
        a.insert(OWNER_ANNOTATION.to_owned(), "team-a/checkout-1".to_owned());
        assert_eq!(
            owner(Some(&a)),
            Some(ObjectRef::new("checkout-1").within("team-a"))
        );
        a.insert(OWNER_ANNOTATION.to_owned(), "no-slash".to_owned());
        assert_eq!(owner(Some(&a)), None);
        a.insert(OWNER_ANNOTATION.to_owned(), "/x".to_owned());
        assert_eq!(owner(Some(&a)), None);
        assert_eq!(owner(None), None);
    }
}
