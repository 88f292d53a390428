//! TestSchedules against real control planes (the operator in-process, dev's runners
//! driven through their pod's status as a kubelet would write it). The due-time rules
//! (missed runs, deadlines, Replace, time zones and DST) are the decide table's, with the
//! time passed in; here one real minute boundary is crossed once, and every schedule that
//! must act on it is set up before it.
//!
//! No garbage collector runs in these control planes, so "deleting a schedule deletes its
//! runs" is checked as the run's controller ownerReference to the schedule (what the
//! garbage collector follows), not by deleting.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use crds::load_test::LoadTestPhase;
use crds::test_schedule::SCHEDULE_LABEL;
use crds::{LoadTest, TestSchedule};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use support::*;

/// A schedule `name` with `cron` and `extra` spec lines (YAML flow entries), whose runs
/// are light-load LoadTests on dev labelled suite=nightly.
fn schedule(name: &str, cron: &str, extra: &str) -> Result<TestSchedule> {
    Ok(serde_yaml::from_str(&format!(
        "apiVersion: tartinfra.dev/v1alpha1\nkind: TestSchedule\nmetadata: {{name: {name}}}\nspec: {{schedule: '{cron}', {extra} loadTest: {{metadata: {{labels: {{suite: nightly}}}}, spec: {{cluster: dev, preset: light-load}}}}}}\n"
    ))?)
}

/// A LoadTest `name` owned by `ts` and labelled as its run, made by hand.
fn owned_run(ts: &TestSchedule, name: &str) -> Result<LoadTest> {
    let mut lt: LoadTest = serde_yaml::from_str(&preset_loadtest(name, "dev", "light-load"))?;
    lt.metadata.labels = Some([(SCHEDULE_LABEL.to_owned(), ts.name_any())].into());
    lt.metadata.owner_references = Some(vec![
        ts.controller_owner_ref(&())
            .context("the schedule has a uid")?,
    ]);
    Ok(lt)
}

fn condition(ts: &TestSchedule, type_: &str) -> Option<(String, String, String)> {
    let c = ts
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn runs_of(lts: &Api<LoadTest>, schedule: &str) -> Result<Vec<LoadTest>> {
    Ok(lts
        .list(&ListParams::default().labels(&format!("{SCHEDULE_LABEL}={schedule}")))
        .await?
        .items)
}

/// Runs `lt` to a clean exit with a k6 report, as its runner's kubelet would.
async fn finish(env: &Env, lts: &Api<LoadTest>, name: &str) -> Result<()> {
    let job = runner_job(lts, name, &env.d).await?.name_any();
    let pod = scheduled_pod(&env.d, RUNNERS_NS, &job).await?;
    kubelet_running(&env.d, &pod).await?;
    let report = r#"{"version":1,"requests":1000,"rps":50,"latencyMs":{"avg":50,"p95":100,"p99":150},"errorRate":0,"checks":{"passed":1000,"failed":0},"thresholds":[]}"#;
    kubelet_terminated(&env.d, &pod, 0, "Completed", report).await?;
    wait_phase(lts, name, LoadTestPhase::Succeeded).await?;
    Ok(())
}

#[tokio::test]
async fn schedules_create_owned_runs_skip_under_forbid_prune_history_and_stay_suspended()
-> Result<()> {
    let env = Env::start(fast_settings()).await?;
    let (ns, lts) = env.loadtests("schedules").await?;
    let schedules: Api<TestSchedule> = Api::namespaced(env.p.clone(), &ns);
    let pp = PostParams::default();

    // History: a yearly schedule (no run due during the test) that keeps one success; three
    // finished runs of it, the oldest two are deleted as they pass the limit.
    let yearly = schedules
        .create(
            &pp,
            &schedule("yearly", "0 0 1 1 *", "successfulRunsHistoryLimit: 1,")?,
        )
        .await?;
    for name in ["yearly-1", "yearly-2", "yearly-3"] {
        lts.create(&pp, &owned_run(&yearly, name)?).await?;
        finish(&env, &lts, name).await?;
    }
    wait_gone(&lts, "yearly-1").await?;
    wait_gone(&lts, "yearly-2").await?;
    let yearly = wait_for(&schedules, "yearly", "with a last success", |ts| {
        ts.status
            .as_ref()
            .is_some_and(|s| s.last_successful_time.is_some())
    })
    .await?;
    let kept: Vec<String> = runs_of(&lts, "yearly")
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    ensure!(kept == ["yearly-3"], "kept {kept:?}");
    ensure!(
        yearly
            .status
            .as_ref()
            .and_then(|s| s.next_schedule_time.as_ref())
            .is_some(),
        "{:?}",
        yearly.status
    );

    // The three every-minute schedules must all be set up before the same minute boundary:
    // start far enough from the next one (a wait for the clock, not for a condition).
    let second = jiff::Timestamp::now().as_second().rem_euclid(60);
    if second > 45 {
        tokio::time::sleep(Duration::from_secs((61 - second).unsigned_abs())).await;
    }
    // Forbid with a run still active (it waits for a runner that never starts).
    let forbid = schedules
        .create(&pp, &schedule("forbid", "* * * * *", "")?)
        .await?;
    lts.create(&pp, &owned_run(&forbid, "forbid-by-hand")?)
        .await?;
    schedules
        .create(&pp, &schedule("every-minute", "* * * * *", "")?)
        .await?;
    schedules
        .create(&pp, &schedule("suspended", "* * * * *", "suspend: true,")?)
        .await?;

    let every = wait_within(
        &schedules,
        "every-minute",
        "with an active run",
        Duration::from_secs(90),
        |ts| ts.status.as_ref().is_some_and(|s| !s.active.is_empty()),
    )
    .await?;
    let status = every.status.clone().unwrap_or_default();
    let due = status
        .last_schedule_time
        .clone()
        .context("lastScheduleTime")?
        .0;
    ensure!(due.as_second() % 60 == 0, "due on a minute: {due}");
    let name = format!("every-minute-{}", due.as_second() / 60);
    ensure!(status.active == [name.clone()], "{status:?}");
    ensure!(
        condition(&every, "Ready").is_some_and(|(s, r, _)| s == "True" && r == "Scheduled"),
        "{status:?}"
    );
    let run = lts.get(&name).await?;
    let labels = run.labels();
    ensure!(
        labels.get(SCHEDULE_LABEL).map(String::as_str) == Some("every-minute")
            && labels.get("suite").map(String::as_str) == Some("nightly"),
        "{labels:?}"
    );
    // What the garbage collector follows to delete the run with its schedule.
    let owner = run.owner_references().first().context("an owner")?;
    ensure!(
        owner.kind == "TestSchedule"
            && Some(&owner.uid) == every.uid().as_ref()
            && owner.controller == Some(true),
        "{owner:?}"
    );
    let baseline = run.spec.baseline.clone().context("a baseline")?;
    ensure!(
        baseline.latest_with_labels.map(|m| m.match_labels)
            == Some([(SCHEDULE_LABEL.to_owned(), "every-minute".to_owned())].into()),
        "compared with the schedule's previous run"
    );

    // Forbid skipped the same due time, and said so.
    let forbid = wait_for(&schedules, "forbid", "with a skipped run", |ts| {
        condition(ts, "RunSkipped").is_some_and(|(s, _, _)| s == "True")
    })
    .await?;
    let (_, reason, message) = condition(&forbid, "RunSkipped").context("RunSkipped")?;
    ensure!(
        reason == "ConcurrencyForbidden" && message.contains("forbid-by-hand is still active"),
        "{reason}: {message}"
    );
    let forbid_runs: Vec<String> = runs_of(&lts, "forbid")
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    ensure!(forbid_runs == ["forbid-by-hand"], "{forbid_runs:?}");
    let events: Api<Event> = Api::namespaced(env.p.clone(), &ns);
    let skipped = events
        .list(&ListParams::default().fields("involvedObject.name=forbid"))
        .await?
        .items
        .into_iter()
        .any(|e| e.reason.as_deref() == Some("RunSkipped"));
    ensure!(skipped, "a RunSkipped event about forbid");

    // The suspended schedule passed the same minute without a run.
    let suspended = schedules.get("suspended").await?;
    ensure!(
        condition(&suspended, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Suspended"),
        "{:?}",
        suspended.status
    );
    ensure!(runs_of(&lts, "suspended").await?.is_empty());

    // The API lists each schedule with its runs' history (read from its caches).
    let http = Http::new(env.port);
    let listed = http
        .eventually(
            &format!("/api/v1/schedules?namespace={ns}"),
            &env.api_token,
            "every-minute with its run",
            |v| {
                v.as_array().is_some_and(|a| {
                    a.iter().any(|s| {
                        s["name"] == "every-minute" && s["runs"][0]["name"] == name.as_str()
                    })
                })
            },
        )
        .await?;
    let listed = listed.as_array().context("a list")?;
    let names: Vec<&str> = listed.iter().filter_map(|s| s["name"].as_str()).collect();
    ensure!(
        names == ["every-minute", "forbid", "suspended", "yearly"],
        "{names:?}"
    );
    let yearly = &listed[3];
    ensure!(
        yearly["runs"][0]["name"] == "yearly-3"
            && yearly["runs"][0]["outcome"] == "passed"
            && yearly["runs"][0]["p95Ms"] == 100.0,
        "{yearly}"
    );
    env.operator.stop().await
}
