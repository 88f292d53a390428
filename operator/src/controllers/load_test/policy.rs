//! Whether a LoadTest keeps to its cluster's `spec.loadTestPolicy` (pure). The controller
//! checks every rule before the test takes a slot; the chart's ValidatingAdmissionPolicy
//! checks at create the rules the spec states, with the same meaning.

use crds::LoadTest;
use crds::managed_cluster::LoadTestPolicy;
use crds::plan::{Plan, TIMEOUT_MARGIN_SECS};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use super::runner::{self, default_resources};
use crate::collectors::views::parse_quantity;

/// A broken rule: the policy field and what was asked against what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The policy field, e.g. `maxVUs`.
    pub rule: &'static str,
    /// What the test asked, the limit, and the fix.
    pub message: String,
}

impl Violation {
    fn new(rule: &'static str, message: String) -> Self {
        Self { rule, message }
    }
}

/// Checks `lt` (planned as `plan`) against `policy`; the first broken rule wins (pure).
pub fn check(policy: &LoadTestPolicy, lt: &LoadTest, plan: &Plan) -> Result<(), Violation> {
    let ns = lt.namespace().unwrap_or_default();
    if !policy.allowed_namespaces.iter().any(|e| e.allows(&ns)) {
        return Err(Violation::new(
            "allowedNamespaces",
            format!(
                "LoadTests from namespace {ns} may not target this cluster (allowed: {})",
                list(&policy.allowed_namespaces)
            ),
        ));
    }
    if let Some(image) = &lt.spec.image
        && !policy
            .allowed_images
            .iter()
            .any(|e| e.allows(image.as_str()))
    {
        let allowed = if policy.allowed_images.is_empty() {
            "none: leave spec.image unset to use the operator's runner images".to_owned()
        } else {
            list(&policy.allowed_images)
        };
        return Err(Violation::new(
            "allowedImages",
            format!("spec.image {image} is not allowed (allowed: {allowed})"),
        ));
    }
    let runner_ns = runner::names(lt).namespace;
    if !policy
        .runner_namespaces
        .iter()
        .any(|n| n.as_str() == runner_ns)
    {
        return Err(Violation::new(
            "runnerNamespaces",
            format!(
                "runner namespace {runner_ns} is not allowed (allowed: {}); set spec.runnerNamespace to one of them",
                list(&policy.runner_namespaces)
            ),
        ));
    }
    match plan {
        Plan::Http(http) => {
            let vus = http.shape.max_vus();
            if vus > policy.max_vus {
                return Err(Violation::new(
                    "maxVUs",
                    format!("{vus} VUs asked, at most {}", policy.max_vus),
                ));
            }
            if http.parallelism > policy.max_parallelism {
                return Err(Violation::new(
                    "maxParallelism",
                    format!(
                        "spec.http.parallelism {} asked, at most {} runner pods",
                        http.parallelism, policy.max_parallelism
                    ),
                ));
            }
        }
        Plan::Stress(stress) => {
            if stress.workers > policy.max_workers {
                return Err(Violation::new(
                    "maxWorkers",
                    format!(
                        "{} stress workers asked, at most {}",
                        stress.workers, policy.max_workers
                    ),
                ));
            }
        }
    }
    let max_secs = policy.max_duration.seconds().unwrap_or(0);
    let secs = plan.expected_duration_secs();
    if secs > max_secs {
        return Err(Violation::new(
            "maxDuration",
            format!(
                "a load of {secs}s asked, at most {max_secs}s ({})",
                policy.max_duration
            ),
        ));
    }
    // A runner's timeout is its load plus a margin by default; a longer one holds the
    // cluster's slot longer than the policy's duration allows.
    if let Some(timeout) = lt.spec.timeout_seconds
        && u64::from(timeout) > max_secs + TIMEOUT_MARGIN_SECS
    {
        return Err(Violation::new(
            "maxDuration",
            format!(
                "spec.timeoutSeconds {timeout} is more than maxDuration + {TIMEOUT_MARGIN_SECS}s ({}s)",
                max_secs + TIMEOUT_MARGIN_SECS
            ),
        ));
    }
    let resources = lt.spec.resources.clone().unwrap_or_else(default_resources);
    within(&resources, "memory", &policy.max_memory_per_runner)
        .map_err(|m| Violation::new("maxMemoryPerRunner", m))?;
    within(&resources, "cpu", &policy.max_cpu_per_runner)
        .map_err(|m| Violation::new("maxCpuPerRunner", m))
}

/// The runner's limit of `resource` is set, and it and the request are at most `max`.
fn within(r: &ResourceRequirements, resource: &str, max: &Quantity) -> Result<(), String> {
    let get = |m: &Option<std::collections::BTreeMap<String, Quantity>>| {
        m.as_ref().and_then(|m| m.get(resource)).cloned()
    };
    let Some(limit) = get(&r.limits) else {
        return Err(format!(
            "spec.resources.limits.{resource} must be set (at most {})",
            max.0
        ));
    };
    let cap = parse_quantity(&max.0).unwrap_or(0.0);
    for (what, q) in [("limits", Some(limit)), ("requests", get(&r.requests))] {
        if let Some(q) = q
            && parse_quantity(&q.0).is_none_or(|v| v > cap)
        {
            return Err(format!(
                "spec.resources.{what}.{resource} {} asked, at most {}",
                q.0, max.0
            ));
        }
    }
    Ok(())
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crds::LoadTestSpec;
    use crds::common::{GoDuration, HttpLoad, Stage};
    use crds::load_test::{LoadTestPreset, StressKind, StressLoad};
    use crds::managed_cluster::policy::{DnsLabelOrAny, ImagePattern};
    use crds::plan::plan_load_test;
    use crds::scaling_experiment::ScalingPreset;

    use super::*;

    fn lt(spec: LoadTestSpec) -> LoadTest {
        let mut lt = LoadTest::new("t", spec);
        lt.metadata.namespace = Some("team-a".into());
        lt
    }

    fn on_dev() -> LoadTestSpec {
        LoadTestSpec::on("dev".into())
    }

    fn rule(policy: &LoadTestPolicy, spec: LoadTestSpec) -> Option<&'static str> {
        let lt = lt(spec);
        let plan = plan_load_test(&lt.spec).expect("plan");
        check(policy, &lt, &plan).err().map(|v| v.rule)
    }

    fn http(vus: u32, duration: &str) -> LoadTestSpec {
        LoadTestSpec {
            http: Some(HttpLoad {
                vus: Some(vus),
                duration: Some(duration.into()),
                ..HttpLoad::default()
            }),
            ..on_dev()
        }
    }

    fn resources(cpu: &str, memory: &str) -> ResourceRequirements {
        let q = |s: &str| Quantity(s.into());
        ResourceRequirements {
            limits: Some(BTreeMap::from([
                ("cpu".into(), q(cpu)),
                ("memory".into(), q(memory)),
            ])),
            ..ResourceRequirements::default()
        }
    }

    #[test]
    fn every_preset_and_every_experiment_load_passes_the_default_policy() {
        let p = LoadTestPolicy::default();
        for preset in LoadTestPreset::ALL {
            let spec = LoadTestSpec {
                preset: Some(preset),
                ..on_dev()
            };
            assert_eq!(rule(&p, spec), None, "{preset:?}");
        }
        for preset in ScalingPreset::ALL {
            let spec = LoadTestSpec {
                http: Some(preset.load()),
                ..on_dev()
            };
            assert_eq!(rule(&p, spec), None, "{preset:?}");
        }
    }

    #[test]
    fn namespaces_outside_the_allow_list_are_refused() {
        let p = LoadTestPolicy {
            allowed_namespaces: vec![DnsLabelOrAny::from("team-b")],
            ..LoadTestPolicy::default()
        };
        assert_eq!(rule(&p, http(10, "10s")), Some("allowedNamespaces"));
        let p = LoadTestPolicy {
            allowed_namespaces: vec![DnsLabelOrAny::from("team-a")],
            ..LoadTestPolicy::default()
        };
        assert_eq!(rule(&p, http(10, "10s")), None);
    }

    #[test]
    fn images_need_an_allow_list_entry_and_none_by_default() {
        let custom = || LoadTestSpec {
            image: Some("registry.local/k6:1.0".into()),
            ..http(10, "10s")
        };
        let default = LoadTestPolicy::default();
        let lt = lt(custom());
        let plan = plan_load_test(&lt.spec).expect("plan");
        let v = check(&default, &lt, &plan).expect_err("refused");
        assert_eq!(v.rule, "allowedImages");
        assert!(
            v.message.contains("leave spec.image unset"),
            "{}",
            v.message
        );
        let p = LoadTestPolicy {
            allowed_images: vec![ImagePattern::from("registry.local/")],
            ..default
        };
        assert_eq!(rule(&p, custom()), None);
    }

    #[test]
    fn runner_namespaces_outside_the_list_are_refused() {
        let spec = LoadTestSpec {
            runner_namespace: Some("kube-system".into()),
            ..http(10, "10s")
        };
        assert_eq!(
            rule(&LoadTestPolicy::default(), spec),
            Some("runnerNamespaces")
        );
    }

    #[test]
    fn vus_count_the_highest_stage() {
        let p = LoadTestPolicy::default();
        assert_eq!(rule(&p, http(201, "10s")), Some("maxVUs"));
        assert_eq!(rule(&p, http(200, "10s")), None);
        let stages = LoadTestSpec {
            http: Some(HttpLoad {
                stages: Some(vec![
                    Stage {
                        duration: GoDuration::from("10s"),
                        target: 50,
                    },
                    Stage {
                        duration: GoDuration::from("10s"),
                        target: 300,
                    },
                ]),
                ..HttpLoad::default()
            }),
            ..on_dev()
        };
        assert_eq!(rule(&p, stages), Some("maxVUs"));
    }

    #[test]
    fn parallelism_is_capped_and_vus_count_across_the_runners() {
        let parallel = |vus: u32, parallelism: u32| LoadTestSpec {
            http: Some(HttpLoad {
                vus: Some(vus),
                parallelism: Some(parallelism),
                ..HttpLoad::default()
            }),
            ..on_dev()
        };
        let p = LoadTestPolicy::default();
        assert_eq!(rule(&p, parallel(100, 4)), None);
        assert_eq!(rule(&p, parallel(100, 5)), Some("maxParallelism"));
        assert_eq!(
            rule(&p, parallel(201, 4)),
            Some("maxVUs"),
            "maxVUs is the total of all runners"
        );
        let wide = LoadTestPolicy {
            max_parallelism: 10,
            ..LoadTestPolicy::default()
        };
        assert_eq!(rule(&wide, parallel(100, 10)), None);
        let lt = lt(parallel(100, 5));
        let plan = plan_load_test(&lt.spec).expect("plan");
        let v = check(&p, &lt, &plan).expect_err("refused");
        assert_eq!(
            v.message,
            "spec.http.parallelism 5 asked, at most 4 runner pods"
        );
    }

    #[test]
    fn the_whole_load_and_the_timeout_count_against_max_duration() {
        let p = LoadTestPolicy::default();
        assert_eq!(rule(&p, http(10, "11m")), Some("maxDuration"));
        assert_eq!(rule(&p, http(10, "10m")), None);
        let ramped = LoadTestSpec {
            http: Some(HttpLoad {
                vus: Some(10),
                duration: Some("9m".into()),
                ramp_up: Some("1m".into()),
                ..HttpLoad::default()
            }),
            ..on_dev()
        };
        assert_eq!(rule(&p, ramped), Some("maxDuration"), "ramps count");
        let long_timeout = LoadTestSpec {
            timeout_seconds: Some(90_000),
            ..http(10, "10s")
        };
        assert_eq!(rule(&p, long_timeout), Some("maxDuration"));
    }

    #[test]
    fn stress_workers_are_capped() {
        let stress = |workers| LoadTestSpec {
            stress: Some(StressLoad {
                kind: StressKind::Cpu,
                workers: Some(workers),
                timeout: None,
                vm_bytes: None,
            }),
            ..on_dev()
        };
        let p = LoadTestPolicy::default();
        assert_eq!(rule(&p, stress(5)), Some("maxWorkers"));
        assert_eq!(rule(&p, stress(4)), None);
    }

    #[test]
    fn runner_cpu_and_memory_are_capped_and_a_limit_is_required() {
        let p = LoadTestPolicy::default();
        let with = |r: ResourceRequirements| LoadTestSpec {
            resources: Some(r),
            ..http(10, "10s")
        };
        assert_eq!(rule(&p, with(resources("1", "1Gi"))), None);
        assert_eq!(
            rule(&p, with(resources("1", "1536Mi"))),
            Some("maxMemoryPerRunner")
        );
        assert_eq!(
            rule(&p, with(resources("1500m", "512Mi"))),
            Some("maxCpuPerRunner")
        );
        let unbounded = ResourceRequirements {
            requests: resources("100m", "64Mi").limits,
            ..ResourceRequirements::default()
        };
        assert_eq!(rule(&p, with(unbounded)), Some("maxMemoryPerRunner"));
        let big_request = ResourceRequirements {
            requests: resources("4", "64Mi").limits,
            ..resources("1", "512Mi")
        };
        assert_eq!(rule(&p, with(big_request)), Some("maxCpuPerRunner"));
    }
}
