//! Writes through the API: LoadTests created, listed, streamed, deleted and exported, and
//! malformed bodies refused with the field named.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use crds::LoadTest;
use futures::StreamExt;
use kube::api::Api;
use serde_json::json;

use super::lab;
use crate::support::*;

#[tokio::test]
async fn tests_are_created_listed_streamed_deleted_and_exported() -> Result<()> {
    let lab = lab().await?;
    let token = lab.token().to_owned();
    let ns = lab.platform.namespace("flow").await?;

    // Listen to the event stream before creating.
    let mut stream = lab.http.events(&token).await?;

    let body = json!({ "namespace": ns, "name": "api-made", "spec": { "cluster": "dev", "http": { "targetUrl": "http://web.demo.svc.cluster.local", "vus": 5, "duration": "10s" } } });
    let (status, created) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(
        status == 201 && created["name"] == "api-made",
        "{status} {created}"
    );
    let (status, conflict) = lab.http.post("/api/v1/tests", Some(&token), &body).await?;
    ensure!(
        status == 409 && conflict["error"]["code"] == "Conflict",
        "{status} {conflict}"
    );

    let seen = tokio::time::timeout(WAIT, async {
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk?);
            if text.contains("event: test") && text.contains("\"name\":\"api-made\"") {
                return anyhow::Ok(text);
            }
        }
        bail!("the event stream ended: {text}")
    })
    .await
    .context("no test event")??;
    ensure!(seen.contains(&format!("\"namespace\":\"{ns}\"")));

    let view = lab
        .http
        .eventually(
            &format!("/api/v1/tests/{ns}/api-made"),
            &token,
            "a runner",
            |t| !t["runner"].is_null(),
        )
        .await?;
    ensure!(
        view["cluster"] == "dev" && view["expectedDurationSeconds"] == 10,
        "{view:#}"
    );
    let (status, list) = lab
        .http
        .get(&format!("/api/v1/tests?namespace={ns}"), Some(&token))
        .await?;
    ensure!(status == 200 && list.as_array().map(Vec::len) == Some(1));

    let (status, deleting) = lab
        .http
        .call(
            "DELETE",
            &format!("/api/v1/tests/{ns}/api-made"),
            Some(&token),
            None,
        )
        .await?;
    ensure!(
        status == 202 && deleting["name"] == "api-made",
        "{status} {deleting}"
    );
    let lts: Api<LoadTest> = Api::namespaced(lab.platform.client().await?, &ns);
    wait_gone(&lts, "api-made").await?;
    // The operator's cache follows the API server's deletion shortly.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = lab
            .http
            .get(&format!("/api/v1/tests/{ns}/api-made"), Some(&token))
            .await?;
        if status == 404 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "still {status} after the deletion: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, csv) = lab
        .http
        .get("/api/v1/tests/export.csv", Some(&token))
        .await?;
    ensure!(
        status == 200
            && csv
                .as_str()
                .is_some_and(|c| c.starts_with("id,type,scenario,cluster,status,")),
        "{csv}"
    );
    let (status, presets) = lab.http.get("/api/v1/presets", None).await?;
    ensure!(status == 200 && presets.as_array().map(Vec::len) == Some(16));
    let (status, doc) = lab.http.get("/api/v1/openapi.json", None).await?;
    ensure!(status == 200 && doc["openapi"] == "3.1.0");

    // Experiments are real objects too.
    let exp = json!({ "namespace": ns, "spec": { "cluster": "dev", "load": { "preset": "scale-light" } } });
    let (status, created) = lab
        .http
        .post("/api/v1/experiments", Some(&token), &exp)
        .await?;
    ensure!(
        status == 201
            && created["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("scale-light-")),
        "{status} {created}"
    );
    Ok(())
}

/// Bodies that must be refused with a 4xx naming the field (or, for syntax, saying what
/// is wrong), sent to a live operator and API server.
fn malformed() -> Vec<(
    &'static str,
    &'static str,
    String,
    u16,
    Option<&'static str>,
)> {
    let spec = |s: &str| format!(r#"{{"namespace":"default","spec":{s}}}"#);
    vec![
        ("not JSON", "application/json", "{nope".into(), 400, None),
        ("an array", "application/json", "[1,2]".into(), 400, None),
        (
            "wrong media type",
            "text/plain",
            spec(r#"{"cluster":"dev","preset":"light-load"}"#),
            415,
            None,
        ),
        (
            "unknown top-level field",
            "application/json",
            r#"{"spec":{"cluster":"dev","preset":"light-load"},"priority":1}"#.into(),
            400,
            None,
        ),
        (
            "missing spec",
            "application/json",
            r#"{"namespace":"default"}"#.into(),
            400,
            None,
        ),
        (
            "missing cluster",
            "application/json",
            spec(r#"{"preset":"light-load"}"#),
            400,
            Some("spec"),
        ),
        (
            "unknown preset",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"mega-load"}"#),
            400,
            Some("spec.preset"),
        ),
        (
            "VUs as text",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":"many"}}"#),
            400,
            Some("spec.http.vus"),
        ),
        (
            "negative VUs",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":-1}}"#),
            400,
            Some("spec.http.vus"),
        ),
        (
            "too many VUs",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vus":5000}}"#),
            422,
            Some("spec.http.vus"),
        ),
        (
            "bad duration",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"duration":"10 minutes"}}"#),
            422,
            Some("spec.http.duration"),
        ),
        (
            "bad URL",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"targetUrl":"gopher://x"}}"#),
            422,
            Some("spec.http.targetUrl"),
        ),
        (
            "misspelt http field",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"vuz":5}}"#),
            400,
            Some("spec.http.vuz"),
        ),
        (
            "preset and http",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","http":{"vus":5}}"#),
            422,
            Some("spec"),
        ),
        (
            "no load at all",
            "application/json",
            spec(r#"{"cluster":"dev"}"#),
            422,
            Some("spec"),
        ),
        (
            "bad cluster name",
            "application/json",
            spec(r#"{"cluster":"Dev Cluster","preset":"light-load"}"#),
            422,
            Some("spec.cluster"),
        ),
        (
            "error rate above 1",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"thresholds":{"errorRate":2}}}"#),
            422,
            Some("spec.http.thresholds.errorRate"),
        ),
        (
            "stress kind",
            "application/json",
            spec(r#"{"cluster":"dev","stress":{"kind":"disk"}}"#),
            400,
            Some("spec.stress.kind"),
        ),
        (
            "vmBytes on CPU",
            "application/json",
            spec(r#"{"cluster":"dev","stress":{"kind":"cpu","vmBytes":"64M"}}"#),
            422,
            Some("spec.stress.vmBytes"),
        ),
        (
            "latest image",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","image":"grafana/k6:latest"}"#),
            422,
            Some("spec.image"),
        ),
        (
            "header with newline",
            "application/json",
            spec(r#"{"cluster":"dev","http":{"headers":[{"name":"x","value":"a\r\nb: c"}]}}"#),
            422,
            Some("spec.http.headers[0].value"),
        ),
        (
            "bad name",
            "application/json",
            r#"{"name":"Not_OK","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            400,
            Some("name"),
        ),
        (
            "empty namespace",
            "application/json",
            r#"{"namespace":"","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            400,
            Some("namespace"),
        ),
        (
            "missing namespace",
            "application/json",
            r#"{"namespace":"no-such-ns","spec":{"cluster":"dev","preset":"light-load"}}"#.into(),
            404,
            Some("namespace"),
        ),
        (
            "timeout too small",
            "application/json",
            spec(r#"{"cluster":"dev","preset":"light-load","timeoutSeconds":1}"#),
            422,
            Some("spec.timeoutSeconds"),
        ),
    ]
}

#[tokio::test]
async fn malformed_bodies_get_4xx_naming_the_field() -> Result<()> {
    let lab = lab().await?;
    let token = lab.token().to_owned();
    let cases = malformed();
    ensure!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (what, media, body, want_status, want_field) in &cases {
        let (status, answer) = lab
            .http
            .call(
                "POST",
                "/api/v1/tests",
                Some(&token),
                Some((media, body.as_bytes())),
            )
            .await?;
        let field = answer["error"]["field"].as_str();
        let ok = status == *want_status
            && answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
            && want_field.is_none_or(|f| {
                field.is_some_and(|got| got == f || got.starts_with(&format!("{f}.")))
            });
        if !ok {
            failures.push(format!("{what}: got {status} {answer}"));
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}
