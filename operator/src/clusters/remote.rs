//! Watchers on the runner Jobs and Pods of one managed cluster. Every change to a runner
//! wakes the LoadTest that owns it, so status follows the pod without polling.

use std::fmt::Debug;

use crds::LoadTest;
use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
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
) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let cluster = cluster.to_owned();
    tokio::spawn(async move {
        let api: Api<K> = Api::all(client);
        let config = watcher::Config::default().labels(RUNNER_SELECTOR);
        let mut events = watcher(api, config)
            .default_backoff()
            .touched_objects()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(obj) => {
                    if let Some(lt) = owner(obj.meta().annotations.as_ref())
                        && tx.unbounded_send(lt).is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(cluster, kind = K::kind(&()).as_ref(), error = %e, "runner watch interrupted")
                }
            }
        }
    })
}

/// Starts the Job and Pod watchers of one cluster.
pub fn spawn(cluster: &str, client: Client, tx: UnboundedSender<ObjectRef<LoadTest>>) -> Watchers {
    Watchers(vec![
        watch::<Job>(cluster, client.clone(), tx.clone()),
        watch::<Pod>(cluster, client, tx),
    ])
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
