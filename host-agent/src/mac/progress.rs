//! Progress of the Mac commands: one event per step of a VM or cluster, with the time since
//! the command started. Plain lines on stderr for people; with `--json`, one JSON object per
//! line on stdout per event and a final summary object. Formatting is pure; nothing secret
//! is ever passed in (SSH output and tokens stay out of events).

use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Where a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Begun.
    Started,
    /// Done (or found done already).
    Done,
    /// Not done on purpose, with the reason in the message.
    Skipped,
    /// Failed, with the reason and the fix in the message.
    Failed,
    /// Something to know.
    Info,
}

/// One progress event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Always `step`.
    pub event: &'static str,
    /// The VM, cluster or resource the step is about.
    pub subject: String,
    /// The step, e.g. `create`, `kubeadm-init`.
    pub step: String,
    /// Where it is.
    pub status: Status,
    /// Milliseconds since the command started.
    pub elapsed_ms: u64,
    /// Details, when there are any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A plain progress line: `[  12.3s] platform-master      kubeadm-init  done  (message)`.
pub fn line(e: &Event) -> String {
    let secs = Duration::from_millis(e.elapsed_ms).as_secs_f64();
    let status = match e.status {
        Status::Started => "…",
        Status::Done => "done",
        Status::Skipped => "skipped",
        Status::Failed => "FAILED",
        Status::Info => "",
    };
    let mut out = format!("[{secs:>6.1}s] {:<20} {:<24} {status}", e.subject, e.step);
    if !e.message.is_empty() {
        if !status.is_empty() {
            out.push_str(": ");
        }
        // One line per event: a script's stderr tail is joined with ` | `.
        let one_line: Vec<&str> = e.message.lines().map(str::trim_end).collect();
        out.push_str(&one_line.join(" | "));
    }
    out.trim_end().to_owned()
}

/// Reports events as lines or JSON.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    start: Instant,
    failures: Mutex<Vec<String>>,
}

impl Reporter {
    /// A reporter; `json` for one JSON object per line on stdout.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            start: Instant::now(),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Whether output is JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Reports one event.
    pub fn step(&self, subject: &str, step: &str, status: Status, message: impl Into<String>) {
        let event = Event {
            event: "step",
            subject: subject.to_owned(),
            step: step.to_owned(),
            status,
            elapsed_ms: u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            message: message.into(),
        };
        if status == Status::Failed
            && let Ok(mut f) = self.failures.lock()
        {
            f.push(format!("{subject} {step}: {}", event.message));
        }
        if self.json {
            if let Ok(text) = serde_json::to_string(&event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", line(&event));
        }
    }

    /// A line for people (stderr) that is not a step; in JSON mode an `info` event.
    pub fn note(&self, subject: &str, message: impl Into<String>) {
        self.step(subject, "note", Status::Info, message);
    }

    /// The failures reported so far.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// The final summary: in JSON mode an object `{"event":"summary", "ok", "elapsedMs",
    /// "failures", ...extra}`; otherwise one line.
    pub fn summary(&self, command: &str, ok: bool, extra: serde_json::Value) {
        let elapsed = self.start.elapsed();
        if self.json {
            let mut obj = serde_json::json!({
                "event": "summary",
                "command": command,
                "ok": ok,
                "elapsedMs": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                "failures": self.failures(),
            });
            if let (Some(o), serde_json::Value::Object(extra)) = (obj.as_object_mut(), extra) {
                o.extend(extra);
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{obj}");
        } else {
            let verdict = if ok { "done" } else { "FAILED" };
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{command}: {verdict} in {:.1}s", elapsed.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: Status, message: &str) -> Event {
        Event {
            event: "step",
            subject: "platform-master".into(),
            step: "kubeadm-init".into(),
            status,
            elapsed_ms: 12_345,
            message: message.into(),
        }
    }

    #[test]
    fn a_line_shows_the_elapsed_time_the_subject_the_step_and_the_status() {
        let l = line(&event(Status::Done, ""));
        assert!(l.starts_with("[  12.3s] platform-master"), "{l}");
        assert!(l.ends_with("kubeadm-init             done"), "{l}");
        let l = line(&event(Status::Failed, "exit 1; fix it"));
        assert!(l.ends_with("FAILED: exit 1; fix it"), "{l}");
        let l = line(&event(
            Status::Failed,
            "script failed. Last lines:\nerror one\nerror two\n",
        ));
        assert!(
            l.ends_with("FAILED: script failed. Last lines: | error one | error two"),
            "{l}"
        );
        let l = line(&event(Status::Info, "hello"));
        assert!(l.ends_with("kubeadm-init             hello"), "{l}");
    }

    #[test]
    fn an_event_is_one_json_object_in_camel_case() {
        let json = serde_json::to_value(event(Status::Started, "")).expect("json");
        assert_eq!(json["status"], "started");
        assert_eq!(json["elapsedMs"], 12_345);
        assert!(json.get("message").is_none());
    }
}
