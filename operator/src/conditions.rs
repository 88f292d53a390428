//! `metav1.Condition` lists: set a condition, keeping `lastTransitionTime` when its status
//! does not change (so the time says when it last flipped, not when it was last written).

use std::time::Duration;

use crds::common::{Condition, Time};
use crds::conditions::ConditionName;
use k8s_openapi::jiff::Timestamp;

/// The condition of `type_`, if present.
pub fn get(conditions: &[Condition], type_: impl ConditionName) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == type_.as_str())
}

/// Whether the condition of `type_` is present and True.
pub fn is_true(conditions: &[Condition], type_: impl ConditionName) -> bool {
    get(conditions, type_).is_some_and(|c| c.status == "True")
}

/// How long the condition of `type_` has had its status (zero when absent).
pub fn since(conditions: &[Condition], type_: impl ConditionName, now: Timestamp) -> Duration {
    get(conditions, type_)
        .and_then(|c| Duration::try_from(now.duration_since(c.last_transition_time.0)).ok())
        .unwrap_or_default()
}

/// When and for which generation conditions are set: one per decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamp {
    /// The object's metadata.generation.
    pub generation: Option<i64>,
    /// The decision's time.
    pub now: Timestamp,
}

impl Stamp {
    /// Sets the condition of `type_`, keeping its lastTransitionTime unless the status
    /// flips.
    pub fn set(
        self,
        conditions: &mut Vec<Condition>,
        type_: impl ConditionName,
        status: bool,
        reason: impl ConditionName,
        message: impl Into<String>,
    ) {
        self.set_status(conditions, type_, Some(status), reason, message);
    }

    /// Sets the condition of `type_` to True, False or (`None`) Unknown, as [`Self::set`].
    pub fn set_status(
        self,
        conditions: &mut Vec<Condition>,
        type_: impl ConditionName,
        status: Option<bool>,
        reason: impl ConditionName,
        message: impl Into<String>,
    ) {
        let status = match status {
            Some(true) => "True",
            Some(false) => "False",
            None => "Unknown",
        }
        .to_owned();
        let message = truncate(message.into(), 1024);
        let reason = reason.as_str().to_owned();
        match conditions.iter_mut().find(|c| c.type_ == type_.as_str()) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = Time(self.now);
                }
                c.status = status;
                c.reason = reason;
                c.message = message;
                c.observed_generation = self.generation;
            }
            None => conditions.push(Condition {
                type_: type_.as_str().to_owned(),
                status,
                reason,
                message,
                observed_generation: self.generation,
                last_transition_time: Time(self.now),
            }),
        }
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
        use crds::conditions::{ClusterCondition as C, ClusterConditionReason as R};
        let t0 = Timestamp::from_second(1_000).expect("time");
        let t1 = Timestamp::from_second(2_000).expect("time");
        let at = |generation, now| Stamp {
            generation: Some(generation),
            now,
        };
        let mut c = Vec::new();
        at(1, t0).set(&mut c, C::Reachable, false, R::Unreachable, "a");
        at(2, t1).set(&mut c, C::Reachable, false, R::Unauthorized, "b");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, Time(t0));
        assert_eq!(since(&c, C::Reachable, t1), Duration::from_secs(1_000));
        assert_eq!(
            (
                c[0].reason.as_str(),
                c[0].message.as_str(),
                c[0].observed_generation
            ),
            ("Unauthorized", "b", Some(2))
        );
        at(2, t1).set(&mut c, C::Reachable, true, R::Connected, "c");
        assert_eq!(c[0].last_transition_time, Time(t1));
        assert!(is_true(&c, C::Reachable));
        assert!(!is_true(&c, C::NodesReady));
        assert_eq!(since(&c, C::NodesReady, t1), Duration::ZERO);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let s = truncate("é".repeat(600), 1024);
        assert!(s.len() <= 1024 && s.ends_with("..."));
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
