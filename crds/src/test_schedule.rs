//! `TestSchedule`: runs a LoadTest or ScalingExperiment on a cron schedule, as a CronJob
//! runs Jobs, and compares each run with the previous one (through the run's
//! `spec.baseline.latestWithLabels`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray,
};
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::common::{Condition, Time, conditions_list_type};
use crate::load_test::LoadTestSpec;
use crate::scaling_experiment::ScalingExperimentSpec;

/// The label every run of a schedule carries, with the schedule's name as value; also the
/// label its runs' baselines select on.
pub const SCHEDULE_LABEL: &str = "tartinfra.dev/schedule";

/// The longest schedule name: its runs are named `<schedule>-<unix minutes>` and labelled
/// with it, and a label value holds at most 63 characters (CronJob's limit is 52 for a
/// like reason).
pub const MAX_NAME_LEN: usize = 52;

/// The desired schedule.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "tartinfra.dev",
    version = "v1alpha1",
    kind = "TestSchedule",
    namespaced,
    shortname = "tsched",
    category = "tartinfra",
    status = "TestScheduleStatus",
    derive = "PartialEq",
    doc = "Creates a LoadTest or ScalingExperiment from a template on a cron schedule (as a CronJob creates Jobs) and compares each run with the previous one.",
    validation = kube::core::Rule::new("size(self.metadata.name) <= 52")
        .message("metadata.name must be at most 52 characters: runs are named <schedule>-<unix minutes> and labelled tartinfra.dev/schedule=<schedule>"),
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(
        name = "TimeZone",
        type_ = "string",
        json_path = ".spec.timeZone",
        priority = 1
    ),
    printcolumn(name = "Suspend", type_ = "boolean", json_path = ".spec.suspend"),
    printcolumn(
        name = "Active",
        type_ = "integer",
        json_path = ".status.activeCount",
        description = "Runs not finished yet"
    ),
    printcolumn(
        name = "Last",
        type_ = "date",
        json_path = ".status.lastScheduleTime",
        description = "When a run was last created"
    ),
    printcolumn(
        name = "Next",
        type_ = "string",
        json_path = ".status.nextScheduleTime",
        description = "When the next run is due"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.loadTest) != has(self.scalingExperiment)")
    .message("set exactly one of loadTest or scalingExperiment: the template of each run"))]
pub struct TestScheduleSpec {
    /// When to run, in cron's five fields (minute hour day-of-month month day-of-week,
    /// e.g. `0 2 * * *` for 02:00 every day, `*/15 * * * *` every 15 minutes) or one of
    /// @yearly, @monthly, @weekly, @daily, @hourly. As in a CronJob, when both
    /// day-of-month and day-of-week are restricted a day matching either runs.
    pub schedule: CronSchedule,
    /// The IANA time zone the schedule is read in, e.g. `Europe/Berlin`. Default UTC. A
    /// wall-clock time skipped by a daylight-saving change runs at the first minute after
    /// the gap; a time repeated by one runs once, at its first occurrence.
    #[serde(default = "utc")]
    pub time_zone: TimeZoneName,
    /// What to do when a run is due while an earlier one has not finished: Allow (run
    /// both), Forbid (skip the new run) or Replace (delete the running one first).
    /// Default Forbid.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run more than this many seconds late (the operator was down, or the schedule was
    /// suspended) is skipped and recorded as missed (1 to 86400). Unset: a late run is
    /// still created, but only the most recent missed one, never a burst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub starting_deadline_seconds: Option<u32>,
    /// How many finished successful runs to keep (0 to 100); older ones are deleted.
    /// Default 3.
    #[serde(default = "three")]
    #[schemars(range(min = 0, max = 100))]
    pub successful_runs_history_limit: u32,
    /// How many finished failed runs to keep (0 to 100). Default 1.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 100))]
    pub failed_runs_history_limit: u32,
    /// Create no runs while true (runs already created go on).
    #[serde(default)]
    pub suspend: bool,
    /// The template of each run, when the runs are LoadTests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_test: Option<LoadTestTemplate>,
    /// The template of each run, when the runs are ScalingExperiments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_experiment: Option<ScalingExperimentTemplate>,
}

fn utc() -> TimeZoneName {
    TimeZoneName("UTC".to_owned())
}
fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}

validated_string!(
    /// A cron schedule: five fields or an @-macro.
    CronSchedule,
    max = 128,
    rule = "self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*/,?#-]+( +[0-9A-Za-z*/,?#-]+){4})$')",
    message = "spec.schedule must be a cron schedule of five fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *' or '*/15 * * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly"
);

validated_string!(
    /// An IANA time zone name such as `UTC` or `Europe/Berlin`.
    TimeZoneName,
    max = 64,
    rule = "self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$')",
    message = "spec.timeZone must be an IANA time zone name, e.g. UTC, Europe/Berlin or America/New_York"
);

/// What a schedule does with a due run while an earlier one has not finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Create the run anyway.
    Allow,
    /// Skip the run (recorded in status and an event).
    #[default]
    Forbid,
    /// Delete the running runs, then create the new one.
    Replace,
}

/// Labels and annotations a run gets (besides `tartinfra.dev/schedule`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    /// Labels of each run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of each run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A LoadTest to create at each due time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadTestTemplate {
    /// The run's labels and annotations.
    #[serde(default)]
    pub metadata: TemplateMetadata,
    /// The run's spec. Without a spec.baseline, each run is compared with the newest
    /// finished run of this schedule (latestWithLabels tartinfra.dev/schedule).
    pub spec: LoadTestSpec,
}

/// A ScalingExperiment to create at each due time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingExperimentTemplate {
    /// The run's labels and annotations.
    #[serde(default)]
    pub metadata: TemplateMetadata,
    /// The run's spec. Without a spec.baseline, each run is compared with the newest
    /// finished run of this schedule.
    pub spec: ScalingExperimentSpec,
}

/// The kind of a schedule's runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RunKind {
    LoadTest,
    ScalingExperiment,
}

/// The observed state of a TestSchedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestScheduleStatus {
    /// The runs not finished yet, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub active: Vec<String>,
    /// How many runs are active (for the printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_count: Option<u32>,
    /// The due time of the newest run created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the newest successful run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// When the next run is due (unset while suspended or invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// The due time of the newest run skipped (Forbid while one was active, or missed
    /// past startingDeadlineSeconds); the Ready condition's message says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped_time: Option<Time>,
    /// Conditions: Ready (reason Scheduled, Suspended, ScheduleInvalid, TimeZoneInvalid)
    /// and RunSkipped (True after a due run was skipped, until the next run is created).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = conditions_list_type())]
    pub conditions: Vec<Condition>,
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Removes the transition rules (`oldSelf`) that the run templates inherit from the run
/// kinds: a LoadTest's spec is immutable, a schedule's template of it is not.
pub fn drop_transition_rules(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            drop_rules(schema);
        }
    }
}

fn drop_rules(schema: &mut JSONSchemaProps) {
    if let Some(rules) = schema.x_kubernetes_validations.as_mut() {
        rules.retain(|r| !r.rule.contains("oldSelf"));
        if rules.is_empty() {
            schema.x_kubernetes_validations = None;
        }
    }
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        drop_rules(child);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(s)) => drop_rules(s),
        Some(JSONSchemaPropsOrArray::Schemas(list)) => list.iter_mut().for_each(drop_rules),
        None => {}
    }
    for list in [
        schema.all_of.as_mut(),
        schema.any_of.as_mut(),
        schema.one_of.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        list.iter_mut().for_each(drop_rules);
    }
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt as _;

    use super::*;

    #[test]
    fn templates_lose_the_run_kinds_immutability_and_keep_their_other_rules() {
        let mut crd = TestSchedule::crd();
        let before = serde_json::to_string(&crd).expect("serializes");
        assert!(
            before.contains("oldSelf"),
            "the run kinds' rule is inherited"
        );
        drop_transition_rules(&mut crd);
        let after = serde_json::to_string(&crd).expect("serializes");
        assert!(!after.contains("oldSelf"));
        assert!(after.contains("set exactly one of preset, http or stress"));
        assert!(after.contains("set exactly one of loadTest or scalingExperiment"));
    }

    #[test]
    fn defaults_are_cronjobs() {
        let spec: TestScheduleSpec = serde_json::from_value(serde_json::json!({
            "schedule": "*/5 * * * *",
            "loadTest": {"spec": {"cluster": "dev", "preset": "light-load"}},
        }))
        .expect("parses");
        assert_eq!(spec.time_zone.as_str(), "UTC");
        assert_eq!(spec.concurrency_policy, ConcurrencyPolicy::Forbid);
        assert_eq!(
            (
                spec.successful_runs_history_limit,
                spec.failed_runs_history_limit
            ),
            (3, 1)
        );
        assert!(!spec.suspend);
    }
}
