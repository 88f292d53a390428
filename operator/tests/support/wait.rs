//! Waits that watch the object, with a timeout, instead of sleeping.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use kube::Resource;
use kube::api::Api;
use kube::runtime::wait::await_condition;
use serde::de::DeserializeOwned;

use super::WAIT;

/// Waits until `cond` holds for the object (watching, with a timeout); on timeout the
/// error shows the object as last seen.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    cond: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static + serde::Serialize,
{
    wait_within(api, name, what, WAIT, cond).await
}

/// [`wait_for`] with another timeout.
pub async fn wait_within<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&K) -> bool,
) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static + serde::Serialize,
{
    let waited = tokio::time::timeout(
        timeout,
        await_condition(api.clone(), name, |obj: Option<&K>| obj.is_some_and(&cond)),
    )
    .await;
    match waited {
        Ok(Ok(Some(obj))) => Ok(obj),
        Ok(Ok(None)) => bail!("{name} disappeared while waiting for {what}"),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            let last = api.get_opt(name).await?;
            let status = last
                .as_ref()
                .map(serde_json::to_value)
                .transpose()?
                .map(|v| v["status"].clone());
            bail!(
                "timed out after {}s waiting for {name} to be {what}; last status: {status:#?}",
                timeout.as_secs()
            )
        }
    }
}

/// Waits until `name` no longer exists.
pub async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    tokio::time::timeout(
        WAIT,
        await_condition(api.clone(), name, |obj: Option<&K>| obj.is_none()),
    )
    .await
    .with_context(|| format!("{name} still exists after {}s", WAIT.as_secs()))??;
    Ok(())
}
