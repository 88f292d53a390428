//! Presets and defaults: turns a spec (a preset, or an explicit description with optional
//! fields) into a [`Plan`] with every number a runner needs. Pure functions, no client.
//!
//! The preset numbers are the original dashboard's (seed inventory §7.3). Where the original
//! was wrong they are fixed and the change is noted: scaling cooldowns now exceed the demo
//! HPAs' 120 s scale-down window, and cascade targets list only the deployments the cascade
//! traffic reaches.

use std::collections::BTreeMap;

use crate::common::{
    ByteSize, GoDuration, HttpLoad, HttpMethod, HttpUrl, InvalidDuration, Stage, Thresholds,
};
use crate::load_test::{LoadTestPreset, LoadTestSpec, StressKind, StressLoad, TestType};
use crate::scaling_experiment::{ScalingExperimentSpec, ScalingPreset, ScalingTarget};

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

/// A preset written out as the explicit spec it stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum PresetLoad {
    /// An HTTP load test.
    Http(HttpLoad),
    /// A stress test.
    Stress(StressLoad),
}

fn http(vus: u32, duration: &str) -> HttpLoad {
    HttpLoad {
        vus: Some(vus),
        duration: Some(GoDuration::from(duration)),
        ..HttpLoad::default()
    }
}

fn stress(kind: StressKind, workers: u32, timeout: &str, vm_bytes: Option<&str>) -> StressLoad {
    StressLoad {
        kind,
        workers: Some(workers),
        timeout: Some(GoDuration::from(timeout)),
        vm_bytes: vm_bytes.map(ByteSize::from),
    }
}

impl LoadTestPreset {
    /// The explicit spec this preset stands for.
    pub fn load(self) -> PresetLoad {
        use PresetLoad::{Http, Stress};
        match self {
            Self::LightLoad => Http(http(10, "15s")),
            Self::StandardLoad => Http(http(50, "30s")),
            Self::HeavyLoad => Http(http(200, "60s")),
            Self::RampUp => Http(HttpLoad {
                ramp_up: Some(GoDuration::from("10s")),
                ..http(100, "30s")
            }),
            Self::HttpbinApi => Http(HttpLoad {
                target_url: Some(HttpUrl::from(HTTPBIN_GET_URL)),
                ..http(30, "20s")
            }),
            Self::StrictSla => Http(HttpLoad {
                thresholds: Some(Thresholds {
                    p95_ms: Some(500),
                    error_rate: Some(0.01),
                }),
                ..http(50, "30s")
            }),
            Self::CpuStressLight => Stress(stress(StressKind::Cpu, 1, "30s", None)),
            Self::CpuStressHeavy => Stress(stress(StressKind::Cpu, 2, "60s", None)),
            Self::MemoryStress64m => Stress(stress(StressKind::Memory, 1, "30s", Some("64M"))),
            Self::MemoryStress128m => Stress(stress(StressKind::Memory, 2, "60s", Some("128M"))),
        }
    }

    /// A one-line description for preset lists.
    pub fn description(self) -> &'static str {
        match self {
            Self::LightLoad => "10 VUs for 15s against nginx-web",
            Self::StandardLoad => "50 VUs for 30s against nginx-web",
            Self::HeavyLoad => "200 VUs for 60s against nginx-web",
            Self::RampUp => "ramp to 100 VUs over 10s, hold 30s, ramp down",
            Self::HttpbinApi => "30 VUs for 20s against httpbin /get",
            Self::StrictSla => "50 VUs for 30s; p95 < 500 ms and errors < 1%",
            Self::CpuStressLight => "1 CPU worker for 30s",
            Self::CpuStressHeavy => "2 CPU workers for 60s",
            Self::MemoryStress64m => "1 memory worker of 64M for 30s",
            Self::MemoryStress128m => "2 memory workers of 128M for 60s",
        }
    }
}

impl ScalingPreset {
    /// The HTTP load this preset drives.
    pub fn load(self) -> HttpLoad {
        let cascade = |load: HttpLoad| HttpLoad {
            targets: Some(vec![
                HttpUrl::from(DEFAULT_TARGET_URL),
                HttpUrl::from(HTTPBIN_GET_URL),
            ]),
            ..load
        };
        let ramp = |load: HttpLoad, ramp: &str| HttpLoad {
            ramp_up: Some(GoDuration::from(ramp)),
            ..load
        };
        match self {
            Self::ScaleLight => http(30, "60s"),
            Self::ScaleHeavy => http(200, "120s"),
            Self::ScaleRamp => ramp(http(150, "60s"), "30s"),
            Self::CascadeLight => cascade(http(30, "60s")),
            Self::CascadeHeavy => cascade(http(150, "120s")),
            Self::CascadeRamp => cascade(ramp(http(100, "60s"), "20s")),
        }
    }

    /// Seconds of cooldown after the load. The original used 60-90 s, shorter than the demo
    /// HPAs' 120 s scale-down window, so scale-down was rarely seen; these exceed it.
    pub fn cooldown_seconds(self) -> u32 {
        match self {
            Self::ScaleHeavy | Self::CascadeHeavy => 240,
            _ => DEFAULT_COOLDOWN_SECS,
        }
    }

    /// The deployments the preset's traffic reaches (namespace demo). The original cascade
    /// presets also listed redis and postgres, which no cascade request reaches.
    pub fn targets(self) -> Vec<ScalingTarget> {
        let target = |d: &str| ScalingTarget {
            namespace: "demo".into(),
            deployment: d.into(),
        };
        match self {
            Self::ScaleLight | Self::ScaleHeavy | Self::ScaleRamp => vec![target("nginx-web")],
            Self::CascadeLight | Self::CascadeHeavy | Self::CascadeRamp => {
                vec![target("nginx-web"), target("httpbin")]
            }
        }
    }

    /// A one-line description for preset lists.
    pub fn description(self) -> &'static str {
        match self {
            Self::ScaleLight => "30 VUs for 60s against nginx-web, 180s cooldown",
            Self::ScaleHeavy => "200 VUs for 120s against nginx-web, 240s cooldown",
            Self::ScaleRamp => "ramp to 150 VUs over 30s, hold 60s, ramp down; 180s cooldown",
            Self::CascadeLight => "30 VUs for 60s through nginx-web and httpbin, 180s cooldown",
            Self::CascadeHeavy => "150 VUs for 120s through nginx-web and httpbin, 240s cooldown",
            Self::CascadeRamp => "ramp to 100 VUs over 20s, hold 60s through nginx-web and httpbin",
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
    /// Extra request headers, by name.
    pub headers: BTreeMap<String, String>,
    /// How many virtual users, when.
    pub shape: LoadShape,
    /// The p95 threshold in milliseconds.
    pub p95_ms: u32,
    /// The error-rate threshold (0 to 1).
    pub error_rate: f64,
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
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
        shape,
        p95_ms: thresholds.p95_ms.unwrap_or(DEFAULT_P95_MS),
        error_rate,
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
mod tests {
    use super::*;
    use crate::scaling_experiment::ExperimentLoad;

    fn lt(preset: LoadTestPreset) -> LoadTestSpec {
        LoadTestSpec {
            cluster: "dev".into(),
            preset: Some(preset),
            http: None,
            stress: None,
            runner_namespace: None,
            resources: None,
            image: None,
            timeout_seconds: None,
            ttl_seconds_after_finished: None,
        }
    }

    fn http_plan(preset: LoadTestPreset) -> HttpPlan {
        match plan_load_test(&lt(preset)) {
            Ok(Plan::Http(h)) => h,
            other => panic!("{preset:?} should plan as http, got {other:?}"),
        }
    }

    fn stress_plan(preset: LoadTestPreset) -> StressPlan {
        match plan_load_test(&lt(preset)) {
            Ok(Plan::Stress(s)) => s,
            other => panic!("{preset:?} should plan as stress, got {other:?}"),
        }
    }

    #[test]
    fn http_presets_keep_the_original_numbers() {
        let constant = |vus, duration_secs| LoadShape::Constant { vus, duration_secs };
        assert_eq!(http_plan(LoadTestPreset::LightLoad).shape, constant(10, 15));
        assert_eq!(
            http_plan(LoadTestPreset::StandardLoad).shape,
            constant(50, 30)
        );
        assert_eq!(
            http_plan(LoadTestPreset::HeavyLoad).shape,
            constant(200, 60)
        );
        assert_eq!(
            http_plan(LoadTestPreset::HttpbinApi).shape,
            constant(30, 20)
        );
        assert_eq!(
            http_plan(LoadTestPreset::HttpbinApi).urls,
            vec![HTTPBIN_GET_URL]
        );
        assert_eq!(
            http_plan(LoadTestPreset::LightLoad).urls,
            vec![DEFAULT_TARGET_URL]
        );
    }

    #[test]
    fn ramp_up_is_ramp_sustain_ramp_down() {
        let plan = http_plan(LoadTestPreset::RampUp);
        let stage = |duration_secs, target| StagePlan {
            duration_secs,
            target,
        };
        assert_eq!(
            plan.shape,
            LoadShape::Stages(vec![stage(10, 100), stage(30, 100), stage(10, 0)])
        );
        assert_eq!(plan.shape.total_secs(), 50);
        assert_eq!(plan.shape.max_vus(), 100);
    }

    #[test]
    fn strict_sla_tightens_the_thresholds_and_others_keep_the_defaults() {
        let strict = http_plan(LoadTestPreset::StrictSla);
        assert_eq!((strict.p95_ms, strict.error_rate), (500, 0.01));
        let standard = http_plan(LoadTestPreset::StandardLoad);
        assert_eq!(
            (standard.p95_ms, standard.error_rate),
            (DEFAULT_P95_MS, DEFAULT_ERROR_RATE)
        );
        assert_eq!(standard.method, HttpMethod::Get);
    }

    #[test]
    fn stress_presets_keep_the_original_numbers() {
        let p = |kind, workers, timeout_secs, vm: Option<&str>| StressPlan {
            kind,
            workers,
            timeout_secs,
            vm_bytes: vm.map(str::to_owned),
        };
        assert_eq!(
            stress_plan(LoadTestPreset::CpuStressLight),
            p(StressKind::Cpu, 1, 30, None)
        );
        assert_eq!(
            stress_plan(LoadTestPreset::CpuStressHeavy),
            p(StressKind::Cpu, 2, 60, None)
        );
        assert_eq!(
            stress_plan(LoadTestPreset::MemoryStress64m),
            p(StressKind::Memory, 1, 30, Some("64M"))
        );
        assert_eq!(
            stress_plan(LoadTestPreset::MemoryStress128m),
            p(StressKind::Memory, 2, 60, Some("128M"))
        );
    }

    #[test]
    fn every_preset_plans_and_has_a_description() {
        for p in LoadTestPreset::ALL {
            assert!(plan_load_test(&lt(p)).is_ok(), "{p:?}");
            assert!(!p.description().is_empty());
            let json = serde_json::to_value(p).unwrap_or_default();
            assert_eq!(json, p.name(), "serialized name of {p:?}");
        }
        for p in ScalingPreset::ALL {
            assert!(plan_http(&p.load(), "x").is_ok(), "{p:?}");
            assert_eq!(serde_json::to_value(p).unwrap_or_default(), p.name());
        }
    }

    #[test]
    fn an_empty_http_spec_gets_the_original_defaults() {
        let plan = plan_http(&HttpLoad::default(), "spec.http");
        let plan = plan.expect("defaults plan");
        assert_eq!(plan.urls, vec![DEFAULT_TARGET_URL]);
        assert_eq!(
            plan.shape,
            LoadShape::Constant {
                vus: DEFAULT_VUS,
                duration_secs: 30
            }
        );
        assert!(plan.headers.is_empty());
    }

    #[test]
    fn explicit_stages_and_several_targets_pass_through() {
        let load = HttpLoad {
            targets: Some(vec![
                "http://a.example".into(),
                "https://b.example/x".into(),
            ]),
            stages: Some(vec![
                Stage {
                    duration: "1m".into(),
                    target: 20,
                },
                Stage {
                    duration: "30s".into(),
                    target: 0,
                },
            ]),
            method: Some(HttpMethod::Post),
            ..HttpLoad::default()
        };
        let plan = plan_http(&load, "spec.http").expect("plans");
        assert_eq!(plan.urls.len(), 2);
        assert_eq!(plan.shape.total_secs(), 90);
        assert_eq!(plan.method, HttpMethod::Post);
    }

    #[test]
    fn contradictions_name_the_field() {
        let both = HttpLoad {
            target_url: Some("http://a".into()),
            targets: Some(vec!["http://b".into()]),
            ..HttpLoad::default()
        };
        assert_eq!(
            plan_http(&both, "spec.http").map_err(|e| e.field),
            Err("spec.http".into())
        );
        let stages_and_vus = HttpLoad {
            vus: Some(3),
            stages: Some(vec![Stage {
                duration: "5s".into(),
                target: 1,
            }]),
            ..HttpLoad::default()
        };
        assert!(plan_http(&stages_and_vus, "spec.http").is_err());
        let bad_duration = HttpLoad {
            duration: Some("ten".into()),
            ..HttpLoad::default()
        };
        assert_eq!(
            plan_http(&bad_duration, "spec.http").map_err(|e| e.field),
            Err("spec.http.duration".into())
        );
        let zero = HttpLoad {
            duration: Some("0s".into()),
            ..HttpLoad::default()
        };
        assert!(plan_http(&zero, "spec.http").is_err());
        let cpu_bytes = StressLoad {
            kind: StressKind::Cpu,
            workers: None,
            timeout: None,
            vm_bytes: Some("64M".into()),
        };
        assert_eq!(
            plan_stress(&cpu_bytes, "spec.stress").map_err(|e| e.field),
            Err("spec.stress.vmBytes".into())
        );
        let mut none = lt(LoadTestPreset::LightLoad);
        none.preset = None;
        assert_eq!(
            plan_load_test(&none).map_err(|e| e.field),
            Err("spec".into())
        );
    }

    #[test]
    fn the_default_timeout_adds_a_margin_to_the_expected_duration() {
        let spec = lt(LoadTestPreset::HeavyLoad);
        let plan = plan_load_test(&spec).expect("plans");
        assert_eq!(timeout_secs(&spec, &plan), 60 + TIMEOUT_MARGIN_SECS);
        let spec = LoadTestSpec {
            timeout_seconds: Some(42),
            ..spec
        };
        assert_eq!(timeout_secs(&spec, &plan), 42);
    }

    fn experiment(load: ExperimentLoad) -> ScalingExperimentSpec {
        ScalingExperimentSpec {
            cluster: "dev".into(),
            load,
            target_namespace: "demo".into(),
            targets: vec![],
            sample_interval_seconds: 5,
            cooldown_seconds: None,
            end_cooldown_when_baseline_restored: false,
        }
    }

    #[test]
    fn scaling_presets_fix_the_cooldown_and_cascade_targets() {
        for p in ScalingPreset::ALL {
            assert!(
                p.cooldown_seconds() > 120,
                "{p:?} cooldown must exceed the 120 s window"
            );
        }
        let spec = experiment(ExperimentLoad {
            preset: Some(ScalingPreset::CascadeHeavy),
            http: None,
        });
        let plan = plan_experiment(&spec).expect("plans");
        assert_eq!(plan.cooldown_secs, 240);
        assert_eq!(plan.http.urls, vec![DEFAULT_TARGET_URL, HTTPBIN_GET_URL]);
        assert_eq!(
            plan.http.shape,
            LoadShape::Constant {
                vus: 150,
                duration_secs: 120
            }
        );
        let names: Vec<_> = match &plan.targets {
            TargetSelection::Listed(t) => t.iter().map(|t| t.deployment.0.clone()).collect(),
            other => panic!("expected listed targets, got {other:?}"),
        };
        assert_eq!(names, ["nginx-web", "httpbin"]);

        let ramp = plan_experiment(&experiment(ExperimentLoad {
            preset: Some(ScalingPreset::ScaleRamp),
            http: None,
        }))
        .expect("plans");
        assert_eq!(ramp.http.shape.max_vus(), 150);
        assert_eq!(ramp.http.shape.total_secs(), 30 + 60 + 30);
    }

    #[test]
    fn experiment_spec_values_override_the_preset() {
        let mut spec = experiment(ExperimentLoad {
            preset: Some(ScalingPreset::ScaleLight),
            http: None,
        });
        spec.cooldown_seconds = Some(30);
        spec.targets = vec![ScalingTarget {
            namespace: "shop".into(),
            deployment: "cart".into(),
        }];
        let plan = plan_experiment(&spec).expect("plans");
        assert_eq!(plan.cooldown_secs, 30);
        assert_eq!(plan.targets, TargetSelection::Listed(spec.targets.clone()));
    }

    #[test]
    fn an_http_experiment_without_targets_samples_the_whole_namespace() {
        let spec = experiment(ExperimentLoad {
            preset: None,
            http: Some(HttpLoad::default()),
        });
        let plan = plan_experiment(&spec).expect("plans");
        assert_eq!(plan.targets, TargetSelection::AllHpasIn("demo".into()));
        assert_eq!(plan.cooldown_secs, DEFAULT_COOLDOWN_SECS);
        let neither = experiment(ExperimentLoad {
            preset: None,
            http: None,
        });
        assert_eq!(
            plan_experiment(&neither).map_err(|e| e.field),
            Err("spec.load".into())
        );
    }
}
