//! TEST DOUBLE, NOT SHIPPED. Optional per-step delays, so a bring-up benchmark can run
//! against the double with a Mac's timings: `TART_DOUBLE_DELAYS="pull=60,clone=20,boot=30"`
//! (seconds, fractions allowed). Steps: `pull` (first use of an OCI image), `clone`, `set`,
//! `boot` (from `tart run` until the VM has an address and sshd answers), `stop`, and inside
//! the VM (the delays of its `tart run`) `init` (`kubeadm init`) and `join` (`kubeadm join`).

use std::time::Duration;

/// The steps that can be delayed.
pub const STEPS: [&str; 7] = ["pull", "clone", "set", "boot", "stop", "init", "join"];

/// Parsed delays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delays(Vec<(String, Duration)>);

impl Delays {
    /// Parses `step=seconds` pairs separated by commas.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((step, secs)) = part.split_once('=') else {
                return Err(format!(
                    "TART_DOUBLE_DELAYS: {part:?} is not `step=seconds`"
                ));
            };
            let step = step.trim();
            if !STEPS.contains(&step) {
                return Err(format!(
                    "TART_DOUBLE_DELAYS: unknown step {step:?}; steps are {}",
                    STEPS.join(", ")
                ));
            }
            let secs: f64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                .ok_or_else(|| {
                    format!(
                        "TART_DOUBLE_DELAYS: {part:?}: seconds must be a number from 0 to 86400"
                    )
                })?;
            out.push((step.to_owned(), Duration::from_secs_f64(secs)));
        }
        Ok(Self(out))
    }

    /// From the environment (empty when unset).
    pub fn from_env() -> Result<Self, String> {
        Self::parse(&std::env::var("TART_DOUBLE_DELAYS").unwrap_or_default())
    }

    /// The delay of `step` (zero when not set).
    pub fn of(&self, step: &str) -> Duration {
        self.0
            .iter()
            .rev()
            .find(|(s, _)| s == step)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    /// Sleeps for `step`'s delay.
    pub fn wait(&self, step: &str) {
        let d = self.of(step);
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_and_rejects_the_rest() {
        let d = Delays::parse("clone=20, boot=0.5").expect("ok");
        assert_eq!(d.of("clone"), Duration::from_secs(20));
        assert_eq!(d.of("boot"), Duration::from_millis(500));
        assert_eq!(d.of("pull"), Duration::ZERO);
        assert_eq!(Delays::parse("").expect("empty"), Delays::default());
        assert!(Delays::parse("boot").is_err());
        assert!(
            Delays::parse("reboot=1")
                .expect_err("step")
                .contains("unknown step")
        );
        assert!(Delays::parse("boot=-1").is_err());
        assert!(Delays::parse("boot=NaN").is_err());
        assert!(Delays::parse("boot=x").is_err());
    }
}
