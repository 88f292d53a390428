//! `metav1.Condition` lists: set a condition, keeping `lastTransitionTime` when its status
//! does not change (so the time says when it last flipped, not when it was last written).

use crds::common::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The condition of `type_`, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is present and True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Sets the condition of `type_`.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let message = truncate(message.into(), 1024);
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Time(now);
            }
            c.status = status;
            c.reason = reason.to_owned();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Cuts a message to at most `max` bytes on a character boundary.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_changes_only_with_the_status() {
        let t0 = Timestamp::from_second(1_000).expect("time");
        let t1 = Timestamp::from_second(2_000).expect("time");
        let mut c = Vec::new();
        set(&mut c, "Ready", false, "Starting", "a", Some(1), t0);
        set(&mut c, "Ready", false, "StillStarting", "b", Some(2), t1);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, Time(t0));
        assert_eq!(
            (c[0].reason.as_str(), c[0].message.as_str()),
            ("StillStarting", "b")
        );
        set(&mut c, "Ready", true, "Done", "c", Some(2), t1);
        assert_eq!(c[0].last_transition_time, Time(t1));
        assert!(is_true(&c, "Ready"));
        assert!(!is_true(&c, "Other"));
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let s = truncate("é".repeat(600), 1024);
        assert!(s.len() <= 1024 && s.ends_with("..."));
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
