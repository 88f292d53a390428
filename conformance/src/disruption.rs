//! What a PodDisruptionBudget lets a node drain evict, computed as the disruption controller
//! does (pure): `maxUnavailable` allows that many (a percentage of the expected pods, rounded
//! up), `minAvailable` allows the expected pods minus that many (a percentage rounded up).
//! With every pod healthy, that is what the Eviction API grants before the first eviction.

use serde_json::Value;

/// How many of `expected` healthy pods `spec` (a PodDisruptionBudget's spec) lets be
/// evicted, or why that cannot be said.
pub fn disruptions_allowed(spec: &Value, expected: i32) -> Result<i32, String> {
    let scaled = |v: &Value, field: &str| -> Result<i32, String> {
        if let Some(n) = v.as_i64() {
            return i32::try_from(n).map_err(|_| format!("{field} {n} is out of range"));
        }
        let text = v
            .as_str()
            .ok_or_else(|| format!("{field} {v} is not a number or a percentage"))?;
        let percent: i64 = text
            .strip_suffix('%')
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{field} {text:?} is not a number or a percentage"))?;
        // Rounded up, as GetScaledValueFromIntOrPercent(..., true).
        let value = (percent * i64::from(expected) + 99) / 100;
        i32::try_from(value).map_err(|_| format!("{field} {text} is out of range"))
    };
    let allowed = match (spec.get("maxUnavailable"), spec.get("minAvailable")) {
        (Some(max), None) => scaled(max, "maxUnavailable")?,
        (None, Some(min)) => expected - scaled(min, "minAvailable")?,
        (None, None) => return Err("neither maxUnavailable nor minAvailable".into()),
        (Some(_), Some(_)) => return Err("both maxUnavailable and minAvailable".into()),
    };
    Ok(allowed.clamp(0, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_originals_budgets_block_a_drain_at_their_minimum_replicas() {
        // seed-inventory 5.6: minAvailable 1 on one replica (redis, postgres, rabbitmq,
        // keycloak) and 2 of nginx-web's 3 at minimum.
        assert_eq!(disruptions_allowed(&json!({"minAvailable": 1}), 1), Ok(0));
        assert_eq!(disruptions_allowed(&json!({"minAvailable": 2}), 3), Ok(1));
        assert_eq!(disruptions_allowed(&json!({"minAvailable": 1}), 2), Ok(1));
    }

    #[test]
    fn max_unavailable_and_percentages_round_up() {
        assert_eq!(disruptions_allowed(&json!({"maxUnavailable": 1}), 1), Ok(1));
        assert_eq!(
            disruptions_allowed(&json!({"maxUnavailable": "25%"}), 3),
            Ok(1)
        );
        assert_eq!(
            disruptions_allowed(&json!({"maxUnavailable": "0%"}), 3),
            Ok(0)
        );
        assert_eq!(
            disruptions_allowed(&json!({"minAvailable": "50%"}), 3),
            Ok(1)
        );
        assert_eq!(disruptions_allowed(&json!({"maxUnavailable": 5}), 2), Ok(2));
    }

    #[test]
    fn malformed_budgets_are_errors() {
        for spec in [
            json!({}),
            json!({"maxUnavailable": 1, "minAvailable": 1}),
            json!({"maxUnavailable": "x"}),
            json!({"minAvailable": true}),
        ] {
            assert!(disruptions_allowed(&spec, 3).is_err(), "{spec}");
        }
    }
}
