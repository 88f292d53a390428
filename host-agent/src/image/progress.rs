//! Progress of an image build: one line per step with the time since the start, or with
//! `--json` one JSON object per line (`event`, `step`, `image`, `elapsedSecs`, `message`).
//! The formatting is pure; [`Reporter`] writes the lines.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A step starts.
    Step,
    /// The image exists and nothing was done.
    Exists,
    /// The image was built.
    Built,
    /// The build failed (the error follows on stderr).
    Failed,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Exists => "exists",
            Self::Built => "built",
            Self::Failed => "failed",
        }
    }
}

/// One progress line, without its newline.
pub fn line(
    json: bool,
    event: Event,
    image: &str,
    step: &str,
    elapsed: Duration,
    message: &str,
) -> String {
    let secs = (elapsed.as_secs_f64() * 10.0).round() / 10.0;
    if json {
        json!({
            "event": event.name(),
            "image": image,
            "step": step,
            "elapsedSecs": secs,
            "message": message,
        })
        .to_string()
    } else {
        format!("[{secs:>6.1}s] {image}: {step}: {message}")
    }
}

/// Writes progress lines to stdout as the build goes.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    image: String,
    started: Instant,
}

impl Reporter {
    /// Progress of building `image`, in JSON or for people.
    pub fn new(json: bool, image: &str) -> Self {
        Self {
            json,
            image: image.to_owned(),
            started: Instant::now(),
        }
    }

    /// Prints one line.
    pub fn emit(&self, event: Event, step: &str, message: &str) {
        let text = line(
            self.json,
            event,
            &self.image,
            step,
            self.started.elapsed(),
            message,
        );
        let mut out = std::io::stdout().lock();
        // Progress is best effort: a closed stdout must not fail the build.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A step starts.
    pub fn step(&self, step: &str, message: &str) {
        self.emit(Event::Step, step, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_for_people_has_the_elapsed_time_image_and_step() {
        assert_eq!(
            line(
                false,
                Event::Step,
                "tart-infra-k8s-1.33",
                "clone",
                Duration::from_millis(3_260),
                "from ghcr.io/cirruslabs/ubuntu:24.04"
            ),
            "[   3.3s] tart-infra-k8s-1.33: clone: from ghcr.io/cirruslabs/ubuntu:24.04"
        );
    }

    #[test]
    fn a_json_line_is_one_object_with_camel_case_keys() {
        let text = line(
            true,
            Event::Exists,
            "tart-infra-k8s-1.33",
            "check",
            Duration::from_millis(120),
            "exists",
        );
        assert!(!text.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["event"], "exists");
        assert_eq!(value["image"], "tart-infra-k8s-1.33");
        assert_eq!(value["step"], "check");
        assert_eq!(value["elapsedSecs"], 0.1);
    }
}
