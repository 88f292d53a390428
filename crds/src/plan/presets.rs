//! The presets: the original dashboard's numbers, written out as the explicit specs they
//! stand for.

use super::{DEFAULT_COOLDOWN_SECS, DEFAULT_TARGET_URL, HTTPBIN_GET_URL};
use crate::common::{ByteSize, GoDuration, HttpLoad, HttpUrl, Thresholds};
use crate::load_test::{LoadTestPreset, StressKind, StressLoad};
use crate::scaling_experiment::{ScalingPreset, ScalingTarget};

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
