//! Status writes as JSON merge patches that also clear what the new status dropped: a field
//! the new status leaves out (serde skips `None` and empty lists) is sent as `null`, since a
//! merge patch would otherwise keep the old value.

use serde::Serialize;
use serde_json::Value;

/// The `{"status": …}` merge patch turning `old` into `new`.
pub fn merge_patch<T: Serialize>(old: &T, new: &T) -> Result<Value, serde_json::Error> {
    let old = serde_json::to_value(old)?;
    let mut new = serde_json::to_value(new)?;
    null_removed(&old, &mut new);
    Ok(serde_json::json!({ "status": new }))
}

fn null_removed(old: &Value, new: &mut Value) {
    if let (Value::Object(old), Value::Object(new)) = (old, new) {
        for (key, old_value) in old {
            match new.get_mut(key) {
                Some(new_value) => null_removed(old_value, new_value),
                None => {
                    new.insert(key.clone(), Value::Null);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dropped_fields_become_nulls_at_every_level() {
        let old = json!({ "phase": "Ready", "nodes": [{ "name": "a" }], "last": { "type": "x", "progress": 5 } });
        let new = json!({ "phase": "Degraded", "last": { "type": "x" } });
        assert_eq!(
            merge_patch(&old, &new).expect("patch"),
            json!({ "status": { "phase": "Degraded", "nodes": null, "last": { "type": "x", "progress": null } } })
        );
    }

    #[test]
    fn lists_are_replaced_whole() {
        let old = json!({ "conditions": [{ "type": "A" }, { "type": "B" }] });
        let new = json!({ "conditions": [{ "type": "A" }] });
        assert_eq!(
            merge_patch(&old, &new).expect("patch"),
            json!({ "status": { "conditions": [{ "type": "A" }] } })
        );
    }
}
