//! A client of the operator's HTTP API. The API has no watch, so waits poll it with a
//! deadline.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use super::WAIT;

/// A client of the operator's API.
pub struct Http {
    pub base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(port: u16) -> Self {
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method.parse()?, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header("content-type", content_type)
                .body(bytes.to_vec());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Opens the event stream as `token` (fails unless it answers 200): its chunks as text.
    pub async fn events(
        &self,
        token: &str,
    ) -> Result<impl futures::Stream<Item = reqwest::Result<String>> + Unpin + use<>> {
        self.events_from(token, None).await
    }

    /// Opens the event stream as `token`, resuming after `last_event_id` when given.
    pub async fn events_from(
        &self,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<impl futures::Stream<Item = reqwest::Result<String>> + Unpin + use<>> {
        use futures::StreamExt;
        let mut req = self
            .client
            .get(format!("{}/api/v1/events", self.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await?;
        if res.status() != 200 {
            bail!("events: {}", res.status());
        }
        Ok(res
            .bytes_stream()
            .map(|chunk| chunk.map(|b| String::from_utf8_lossy(&b).into_owned())))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, Value)> {
        self.call("GET", path, token, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value)> {
        self.call(
            "POST",
            path,
            token,
            Some(("application/json", body.to_string().as_bytes())),
        )
        .await
    }

    /// Polls `path` until `check` accepts the answer.
    pub async fn eventually(
        &self,
        path: &str,
        token: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(path, Some(token)).await?;
            if status == 200 && check(&body) {
                return Ok(body);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} at {path}; last answer {status}: {body:#}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The lines of the operator's `/metrics` (on its metrics listener, `metrics_port`) that
/// start with `series` and contain `with`.
pub async fn metric_lines(metrics_port: u16, series: &str, with: &str) -> Result<Vec<String>> {
    let (status, body) = Http::new(metrics_port).get("/metrics", None).await?;
    if status != 200 {
        bail!("/metrics answered {status}");
    }
    Ok(body
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(series) && l.contains(with))
        .map(str::to_owned)
        .collect())
}

/// One server-sent event: its name, its id (none when it has no `id:` line) and its data.
#[derive(Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads a server-sent event stream event by event.
pub struct SseReader<S> {
    stream: S,
    buffer: String,
}

impl<S> SseReader<S>
where
    S: futures::Stream<Item = reqwest::Result<String>> + Unpin,
{
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            buffer: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped), failing after [`WAIT`].
    pub async fn next(&mut self) -> Result<SseEvent> {
        self.next_by(tokio::time::Instant::now() + WAIT).await
    }

    async fn next_by(&mut self, deadline: tokio::time::Instant) -> Result<SseEvent> {
        use anyhow::Context;
        use futures::StreamExt;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(str::to_owned)
                };
                let (Some(event), Some(data)) = (field("event: "), field("data: ")) else {
                    continue;
                };
                return Ok(SseEvent {
                    event,
                    id: field("id: "),
                    data: serde_json::from_str(&data)?,
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .context("no event in time")?
                .context("the event stream ended")??;
            self.buffer.push_str(&chunk);
        }
    }

    /// Reads events until one passes `check` (failing after [`WAIT`]); the events read on
    /// the way are returned too.
    pub async fn until(
        &mut self,
        what: &str,
        check: impl Fn(&SseEvent) -> bool,
    ) -> Result<(SseEvent, Vec<SseEvent>)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let e = self
                .next_by(deadline)
                .await
                .map_err(|e| e.context(format!("waiting for {what}; seen {seen:?}")))?;
            if check(&e) {
                return Ok((e, seen));
            }
            seen.push(e);
        }
    }
}

/// Node `name` of a cluster's view in an API answer.
pub fn node<'a>(cluster: &'a Value, name: &str) -> Option<&'a Value> {
    cluster["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["name"] == name)
}

/// Cluster `name` of a snapshot.
pub fn cluster<'a>(snapshot: &'a Value, name: &str) -> Option<&'a Value> {
    snapshot["clusters"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}
