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
        use futures::StreamExt;
        let res = self
            .client
            .get(format!("{}/api/v1/events", self.base))
            .bearer_auth(token)
            .send()
            .await?;
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
