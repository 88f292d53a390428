//! Tests of the planner: presets, defaults and the errors that name the field.

use super::*;
use crate::load_test::LoadTestPreset;
use crate::scaling_experiment::ExperimentLoad;

fn lt(preset: LoadTestPreset) -> LoadTestSpec {
    LoadTestSpec {
        preset: Some(preset),
        ..LoadTestSpec::on("dev".into())
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
fn parallelism_defaults_to_one_and_needs_a_virtual_user_per_runner() {
    assert_eq!(
        plan_http(&HttpLoad::default(), "spec.http").map(|p| p.parallelism),
        Ok(1)
    );
    let parallel = |vus: u32, parallelism: u32| HttpLoad {
        vus: Some(vus),
        parallelism: Some(parallelism),
        ..HttpLoad::default()
    };
    assert_eq!(
        plan_http(&parallel(3, 3), "spec.http").map(|p| p.parallelism),
        Ok(3)
    );
    for (vus, parallelism) in [(2, 3), (50, 0), (100, 21)] {
        let e = plan_http(&parallel(vus, parallelism), "spec.http").expect_err("refused");
        assert_eq!(e.field, "spec.http.parallelism", "{e}");
    }
    let staged = HttpLoad {
        stages: Some(vec![
            Stage {
                duration: "10s".into(),
                target: 4,
            },
            Stage {
                duration: "10s".into(),
                target: 0,
            },
        ]),
        parallelism: Some(4),
        ..HttpLoad::default()
    };
    assert!(
        plan_http(&staged, "spec.http").is_ok(),
        "the highest stage counts"
    );
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
        baseline: None,
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

/// An experiment's explicit load may spread over several runners: its child LoadTest gets
/// the same spec.http, parallelism included (and its cluster's policy judges it).
#[test]
fn an_experiment_load_keeps_its_parallelism() {
    let spec = experiment(ExperimentLoad {
        preset: None,
        http: Some(HttpLoad {
            vus: Some(100),
            parallelism: Some(4),
            ..HttpLoad::default()
        }),
    });
    let plan = plan_experiment(&spec).expect("plans");
    assert_eq!(plan.load.parallelism, Some(4));
    assert_eq!(plan.http.parallelism, 4);
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

/// The planned VU curve: flat for constant load, linear ramps from k6's start VUs for
/// stages (rampUp is stages too), nothing for stress tests.
#[test]
fn the_load_curve_has_a_corner_per_stage_end() {
    let c = |offset_secs, vus| LoadCorner { offset_secs, vus };
    let http = |h: HttpLoad| {
        plan_load_test(&LoadTestSpec {
            http: Some(h),
            ..LoadTestSpec::on("dev".into())
        })
        .expect("plan")
    };
    let d = |s: &str| Some(GoDuration::from(s));
    for (name, plan, corners) in [
        (
            "defaults: 50 VUs for 30 s",
            http(HttpLoad::default()),
            vec![c(0, 50), c(30, 50)],
        ),
        (
            "vus and duration",
            http(HttpLoad {
                vus: Some(7),
                duration: d("1m"),
                ..HttpLoad::default()
            }),
            vec![c(0, 7), c(60, 7)],
        ),
        (
            "rampUp: up, hold, down",
            http(HttpLoad {
                vus: Some(20),
                duration: d("30s"),
                ramp_up: d("10s"),
                ..HttpLoad::default()
            }),
            vec![c(0, 1), c(10, 20), c(40, 20), c(50, 0)],
        ),
        (
            "stages start at k6's startVUs",
            http(HttpLoad {
                stages: Some(vec![
                    Stage {
                        duration: GoDuration::from("5s"),
                        target: 10,
                    },
                    Stage {
                        duration: GoDuration::from("1m"),
                        target: 40,
                    },
                ]),
                ..HttpLoad::default()
            }),
            vec![c(0, STAGES_START_VUS), c(5, 10), c(65, 40)],
        ),
        (
            "a preset",
            plan_load_test(&lt(LoadTestPreset::LightLoad)).expect("plan"),
            vec![c(0, 10), c(15, 10)],
        ),
        (
            "stress has no VUs",
            plan_load_test(&lt(LoadTestPreset::CpuStressLight)).expect("plan"),
            vec![],
        ),
    ] {
        assert_eq!(plan.load_corners(), corners, "{name}");
        if let Some(last) = corners.last() {
            assert_eq!(last.offset_secs, plan.expected_duration_secs(), "{name}");
        }
    }
}
