//! Presets and defaults: turns a spec (a preset, or an explicit description with optional
//! fields) into a [`Plan`] with every number a runner needs. Pure functions, no client.
//!
//! The preset numbers are the original dashboard's (seed inventory §7.3). Where the original
//! was wrong they are fixed and the change is noted: scaling cooldowns now exceed the demo
//! HPAs' 120 s scale-down window, and cascade targets list only the deployments the cascade
//! traffic reaches.

use std::collections::BTreeMap;

use crate::common::{ByteSize, GoDuration, HttpLoad, HttpMethod, InvalidDuration, Stage};
use crate::load_test::{LoadTestSpec, StressKind, StressLoad, TestType};
use crate::scaling_experiment::{ScalingExperimentSpec, ScalingPreset, ScalingTarget};

mod presets;
pub use presets::PresetLoad;

/// The original default target: the demo nginx Service on the dev cluster.
pub const DEFAULT_TARGET_URL: &str = "http://nginx-web.demo.svc.cluster.local";
/// The demo httpbin Service's GET endpoint.
pub const HTTPBIN_GET_URL: &str = "http://httpbin.demo.svc.cluster.local/get";
/// Virtual users when an HTTP test gives neither vus nor stages.
pub const DEFAULT_VUS: u32 = 50;
/// Seconds of load when an HTTP test gives neither duration nor stages.
pub const DEFAULT_DURATION_SECS: u64 = 30;
/// The p95 threshold in milliseconds when none is given (the original's default).
pub const DEFAULT_P95_MS: u32 = 2000;
/// The error-rate threshold when none is given (the original's default).
pub const DEFAULT_ERROR_RATE: f64 = 0.5;
/// stress-ng workers when none are given.
pub const DEFAULT_STRESS_WORKERS: u32 = 1;
/// stress-ng run time in seconds when none is given.
pub const DEFAULT_STRESS_SECS: u64 = 30;
/// Memory per stress-ng vm worker when none is given.
pub const DEFAULT_VM_BYTES: &str = "64M";
/// Experiment cooldown when neither the spec nor the preset gives one: longer than the
/// demo HPAs' 120 s scale-down stabilization window, so scale-down is observed.
pub const DEFAULT_COOLDOWN_SECS: u32 = 180;
/// The most runner pods of one HTTP test (the schema's bound on spec.http.parallelism).
pub const MAX_PARALLELISM: u32 = 20;
/// Extra seconds on top of a test's expected duration before it times out by default.
pub const TIMEOUT_MARGIN_SECS: u64 = 300;

/// A spec field that cannot be turned into a plan. Objects from the API server always plan
/// (the schema rejects these cases); API bodies and hand-built specs may not.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlanError {
    /// The field's path, e.g. `spec.http.duration`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl PlanError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// The concrete plan of a LoadTest.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// A k6 run.
    Http(HttpPlan),
    /// A stress-ng run.
    Stress(StressPlan),
}

impl Plan {
    /// How long the load itself runs, in seconds.
    pub fn expected_duration_secs(&self) -> u64 {
        match self {
            Self::Http(h) => h.shape.total_secs(),
            Self::Stress(s) => s.timeout_secs,
        }
    }

    /// The planned virtual-user curve ([`LoadShape::corners`]); none for stress tests.
    pub fn load_corners(&self) -> Vec<LoadCorner> {
        match self {
            Self::Http(h) => h.shape.corners(),
            Self::Stress(_) => Vec::new(),
        }
    }

    /// What runs.
    pub fn test_type(&self) -> TestType {
        match self {
            Self::Http(_) => TestType::Http,
            Self::Stress(s) => match s.kind {
                StressKind::Cpu => TestType::Cpu,
                StressKind::Memory => TestType::Memory,
            },
        }
    }
}

/// A k6 run with every default applied.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpPlan {
    /// URLs requested in order in each iteration (at least one).
    pub urls: Vec<String>,
    /// The method of every request.
    pub method: HttpMethod,
    /// Extra request headers with literal values, by name.
    pub headers: BTreeMap<String, String>,
    /// Extra request headers whose values come from Secrets of the test's namespace, by
    /// name.
    pub secret_headers: BTreeMap<String, crate::common::HeaderSecretKeyRef>,
    /// How many virtual users, when.
    pub shape: LoadShape,
    /// The p95 threshold in milliseconds.
    pub p95_ms: u32,
    /// The error-rate threshold (0 to 1).
    pub error_rate: f64,
    /// Runner pods sharing the load through k6 execution segments (1: one runner).
    pub parallelism: u32,
}

/// The virtual-user profile of a k6 run.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadShape {
    /// `vus` virtual users for `duration_secs`.
    Constant {
        /// Virtual users.
        vus: u32,
        /// Seconds.
        duration_secs: u64,
    },
    /// Linear ramps between stage targets.
    Stages(Vec<StagePlan>),
}

/// One k6 stage in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagePlan {
    /// Seconds.
    pub duration_secs: u64,
    /// Virtual users at the end of the stage.
    pub target: u32,
}

impl LoadShape {
    /// Seconds the whole profile lasts.
    pub fn total_secs(&self) -> u64 {
        match self {
            Self::Constant { duration_secs, .. } => *duration_secs,
            Self::Stages(stages) => stages.iter().map(|s| s.duration_secs).sum(),
        }
    }

    /// The most virtual users at any time.
    pub fn max_vus(&self) -> u32 {
        match self {
            Self::Constant { vus, .. } => *vus,
            Self::Stages(stages) => stages.iter().map(|s| s.target).max().unwrap_or(0),
        }
    }
}

/// One corner of the planned virtual-user curve: the curve is piecewise linear between
/// corners, from the start of the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadCorner {
    /// Seconds after the start of the load.
    pub offset_secs: u64,
    /// Virtual users then.
    pub vus: u32,
}

/// The virtual users k6 starts stages with when `vus` is not given (the ramping-vus
/// executor's `startVUs` default; the runner passes only the stages).
pub const STAGES_START_VUS: u32 = 1;

impl LoadShape {
    /// The planned virtual users over time, as the corners of a piecewise-linear curve:
    /// constant load is flat from 0 to its duration; stages ramp linearly from k6's start
    /// ([`STAGES_START_VUS`]) to each stage's target at the stage's end.
    pub fn corners(&self) -> Vec<LoadCorner> {
        let corner = |offset_secs, vus| LoadCorner { offset_secs, vus };
        match self {
            Self::Constant { vus, duration_secs } => {
                vec![corner(0, *vus), corner(*duration_secs, *vus)]
            }
            Self::Stages(stages) => {
                let mut at = 0;
                std::iter::once(corner(0, STAGES_START_VUS))
                    .chain(stages.iter().map(|s| {
                        at += s.duration_secs;
                        corner(at, s.target)
                    }))
                    .collect()
            }
        }
    }
}

/// A stress-ng run with every default applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StressPlan {
    /// CPU or memory.
    pub kind: StressKind,
    /// Worker count.
    pub workers: u32,
    /// Seconds stress-ng runs.
    pub timeout_secs: u64,
    /// Memory per worker (memory only), e.g. `64M`.
    pub vm_bytes: Option<String>,
}

fn secs(field: &str, d: &GoDuration) -> Result<u64, PlanError> {
    d.seconds()
        .map_err(|InvalidDuration(v)| PlanError::new(field, format!("invalid duration {v:?}: use hours, minutes and seconds such as 30s, 5m or 1h30m")))
        .and_then(|s| {
            if s == 0 {
                Err(PlanError::new(field, "must be at least 1s"))
            } else {
                Ok(s)
            }
        })
}

/// Plans an explicit HTTP load; `field` is the path of `http` in its object for errors.
pub fn plan_http(http: &HttpLoad, field: &str) -> Result<HttpPlan, PlanError> {
    let f = |name: &str| format!("{field}.{name}");
    let urls = match (&http.target_url, &http.targets) {
        (Some(_), Some(_)) => {
            return Err(PlanError::new(
                field,
                "set targetUrl for one URL or targets for several URLs per iteration, not both",
            ));
        }
        (Some(url), None) => vec![url.0.clone()],
        (None, Some(list)) if list.is_empty() => {
            return Err(PlanError::new(&f("targets"), "must list at least one URL"));
        }
        (None, Some(list)) => list.iter().map(|u| u.0.clone()).collect(),
        (None, None) => vec![DEFAULT_TARGET_URL.to_owned()],
    };
    let shape = match &http.stages {
        Some(_) if http.vus.is_some() || http.duration.is_some() || http.ramp_up.is_some() => {
            return Err(PlanError::new(
                field,
                "stages replace vus, duration and rampUp: set either stages, or vus and duration (with an optional rampUp)",
            ));
        }
        Some(stages) if stages.is_empty() => {
            return Err(PlanError::new(&f("stages"), "must list at least one stage"));
        }
        Some(stages) => LoadShape::Stages(
            stages
                .iter()
                .enumerate()
                .map(|(i, Stage { duration, target })| {
                    Ok(StagePlan {
                        duration_secs: secs(&f(&format!("stages[{i}].duration")), duration)?,
                        target: *target,
                    })
                })
                .collect::<Result<_, PlanError>>()?,
        ),
        None => {
            let vus = http.vus.unwrap_or(DEFAULT_VUS);
            if vus == 0 {
                return Err(PlanError::new(&f("vus"), "must be at least 1"));
            }
            let duration_secs = match &http.duration {
                Some(d) => secs(&f("duration"), d)?,
                None => DEFAULT_DURATION_SECS,
            };
            match &http.ramp_up {
                None => LoadShape::Constant { vus, duration_secs },
                Some(r) => {
                    let ramp = secs(&f("rampUp"), r)?;
                    LoadShape::Stages(vec![
                        StagePlan {
                            duration_secs: ramp,
                            target: vus,
                        },
                        StagePlan {
                            duration_secs,
                            target: vus,
                        },
                        StagePlan {
                            duration_secs: ramp,
                            target: 0,
                        },
                    ])
                }
            }
        }
    };
    let parallelism = http.parallelism.unwrap_or(1);
    if parallelism == 0 || parallelism > MAX_PARALLELISM {
        return Err(PlanError::new(
            &f("parallelism"),
            format!("must be between 1 and {MAX_PARALLELISM}"),
        ));
    }
    if parallelism > shape.max_vus() {
        return Err(PlanError::new(
            &f("parallelism"),
            format!(
                "{parallelism} runners for at most {} virtual users: every runner needs at least one; lower parallelism or raise the virtual users",
                shape.max_vus()
            ),
        ));
    }
    let thresholds = http.thresholds.clone().unwrap_or_default();
    let error_rate = thresholds.error_rate.unwrap_or(DEFAULT_ERROR_RATE);
    if !(0.0..=1.0).contains(&error_rate) {
        return Err(PlanError::new(
            &f("thresholds.errorRate"),
            "must be between 0 and 1",
        ));
    }
    Ok(HttpPlan {
        urls,
        method: http.method.unwrap_or_default(),
        headers: http
            .headers
            .iter()
            .flatten()
            .filter_map(|h| Some((h.name.clone(), h.value.clone()?)))
            .collect(),
        secret_headers: http
            .headers
            .iter()
            .flatten()
            .filter_map(|h| Some((h.name.clone(), h.value_from.clone()?.secret_key_ref)))
            .collect(),
        shape,
        p95_ms: thresholds.p95_ms.unwrap_or(DEFAULT_P95_MS),
        error_rate,
        parallelism,
    })
}

/// Plans an explicit stress test; `field` is the path of `stress` for errors.
pub fn plan_stress(stress: &StressLoad, field: &str) -> Result<StressPlan, PlanError> {
    let vm_bytes = match (stress.kind, &stress.vm_bytes) {
        (StressKind::Cpu, Some(_)) => {
            return Err(PlanError::new(
                &format!("{field}.vmBytes"),
                "applies to kind memory only",
            ));
        }
        (StressKind::Cpu, None) => None,
        (StressKind::Memory, v) => Some(
            v.as_ref()
                .map_or(DEFAULT_VM_BYTES, ByteSize::as_str)
                .to_owned(),
        ),
    };
    Ok(StressPlan {
        kind: stress.kind,
        workers: stress.workers.unwrap_or(DEFAULT_STRESS_WORKERS).max(1),
        timeout_secs: match &stress.timeout {
            Some(t) => secs(&format!("{field}.timeout"), t)?,
            None => DEFAULT_STRESS_SECS,
        },
        vm_bytes,
    })
}

/// Plans a LoadTest: its preset or explicit description, with every default applied.
pub fn plan_load_test(spec: &LoadTestSpec) -> Result<Plan, PlanError> {
    match (&spec.preset, &spec.http, &spec.stress) {
        (Some(preset), None, None) => match preset.load() {
            PresetLoad::Http(h) => plan_http(&h, "spec.preset").map(Plan::Http),
            PresetLoad::Stress(s) => plan_stress(&s, "spec.preset").map(Plan::Stress),
        },
        (None, Some(h), None) => plan_http(h, "spec.http").map(Plan::Http),
        (None, None, Some(s)) => plan_stress(s, "spec.stress").map(Plan::Stress),
        _ => Err(PlanError::new(
            "spec",
            "set exactly one of preset, http or stress",
        )),
    }
}

/// The timeout of a test: the spec's, else its expected duration plus a margin.
pub fn timeout_secs(spec: &LoadTestSpec, plan: &Plan) -> u64 {
    spec.timeout_seconds.map_or(
        plan.expected_duration_secs() + TIMEOUT_MARGIN_SECS,
        u64::from,
    )
}

/// Which HPAs an experiment samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSelection {
    /// These deployments, each through its HPA.
    Listed(Vec<ScalingTarget>),
    /// Every HPA in this namespace.
    AllHpasIn(String),
}

/// The concrete plan of a ScalingExperiment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentPlan {
    /// The load the child LoadTest runs.
    pub load: HttpLoad,
    /// The same load with every default applied.
    pub http: HttpPlan,
    /// Seconds of cooldown after the load.
    pub cooldown_secs: u32,
    /// Seconds between samples.
    pub sample_interval_secs: u32,
    /// Which HPAs are sampled.
    pub targets: TargetSelection,
}

/// Plans a ScalingExperiment: spec values first, then the preset's, then defaults.
pub fn plan_experiment(spec: &ScalingExperimentSpec) -> Result<ExperimentPlan, PlanError> {
    let (load, preset) = match (&spec.load.preset, &spec.load.http) {
        (Some(p), None) => (p.load(), Some(*p)),
        (None, Some(h)) => (h.clone(), None),
        _ => {
            return Err(PlanError::new(
                "spec.load",
                "set exactly one of load.preset or load.http",
            ));
        }
    };
    let field = if preset.is_some() {
        "spec.load.preset"
    } else {
        "spec.load.http"
    };
    let http = plan_http(&load, field)?;
    if spec.sample_interval_seconds == 0 {
        return Err(PlanError::new(
            "spec.sampleIntervalSeconds",
            "must be at least 1",
        ));
    }
    let targets = if !spec.targets.is_empty() {
        TargetSelection::Listed(spec.targets.clone())
    } else if let Some(p) = preset {
        TargetSelection::Listed(p.targets())
    } else {
        TargetSelection::AllHpasIn(spec.target_namespace.0.clone())
    };
    Ok(ExperimentPlan {
        load,
        http,
        cooldown_secs: spec
            .cooldown_seconds
            .or(preset.map(ScalingPreset::cooldown_seconds))
            .unwrap_or(DEFAULT_COOLDOWN_SECS),
        sample_interval_secs: spec.sample_interval_seconds,
        targets,
    })
}

#[cfg(test)]
mod tests;
