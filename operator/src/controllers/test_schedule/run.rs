//! A schedule's run: its name, and the LoadTest or ScalingExperiment built from the
//! template (pure).

use std::collections::BTreeMap;

use crds::comparison::{ExperimentBaseline, LabelMatch, LoadTestBaseline};
use crds::test_schedule::{RunKind, SCHEDULE_LABEL, TemplateMetadata};
use crds::{LoadTest, ScalingExperiment, TestSchedule};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Resource as _, ResourceExt as _};

/// A run to create.
#[derive(Clone, Debug, PartialEq)]
pub enum NewRun {
    LoadTest(Box<LoadTest>),
    ScalingExperiment(Box<ScalingExperiment>),
}

impl NewRun {
    /// The run's name.
    pub fn name(&self) -> String {
        match self {
            Self::LoadTest(lt) => lt.name_any(),
            Self::ScalingExperiment(se) => se.name_any(),
        }
    }
}

/// The kind of the schedule's runs (None only for a spec the API server refuses).
pub fn kind(ts: &TestSchedule) -> Option<RunKind> {
    match (&ts.spec.load_test, &ts.spec.scaling_experiment) {
        (Some(_), _) => Some(RunKind::LoadTest),
        (None, Some(_)) => Some(RunKind::ScalingExperiment),
        (None, None) => None,
    }
}

/// The run due at `due`: `<schedule>-<unix minutes>`, the same name for every attempt, so
/// a retry finds it created.
pub fn run_name(schedule: &str, due: Timestamp) -> String {
    format!("{schedule}-{}", due.as_second().div_euclid(60))
}

/// The run due at `due`, owned by the schedule (None when the schedule has no uid yet or
/// no template). Without a baseline in the template, it is compared with the newest
/// finished run of the schedule.
pub fn build(ts: &TestSchedule, due: Timestamp) -> Option<NewRun> {
    let owner = ts.controller_owner_ref(&())?;
    let name = ts.name_any();
    let schedule_only = BTreeMap::from([(SCHEDULE_LABEL.to_owned(), name.clone())]);
    let meta = |template: &TemplateMetadata| {
        let mut labels = template.labels.clone();
        labels.extend(schedule_only.clone());
        ObjectMeta {
            name: Some(run_name(&name, due)),
            namespace: ts.namespace(),
            labels: Some(labels),
            annotations: (!template.annotations.is_empty()).then(|| template.annotations.clone()),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        }
    };
    let previous = || LabelMatch {
        match_labels: schedule_only.clone(),
    };
    if let Some(t) = &ts.spec.load_test {
        let mut spec = t.spec.clone();
        spec.baseline.get_or_insert_with(|| LoadTestBaseline {
            name: None,
            latest_with_labels: Some(previous()),
            tolerance: Default::default(),
        });
        return Some(NewRun::LoadTest(Box::new(LoadTest {
            metadata: meta(&t.metadata),
            spec,
            status: None,
        })));
    }
    let t = ts.spec.scaling_experiment.as_ref()?;
    let mut spec = t.spec.clone();
    spec.baseline.get_or_insert_with(|| ExperimentBaseline {
        name: None,
        latest_with_labels: Some(previous()),
        tolerance: Default::default(),
    });
    Some(NewRun::ScalingExperiment(Box::new(ScalingExperiment {
        metadata: meta(&t.metadata),
        spec,
        status: None,
    })))
}
