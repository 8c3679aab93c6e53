//! Labels as the google provider ≥ 5 manages them: `labels` names only the keys this
//! configuration manages; `terraform_labels` is the provider's `default_labels` under them,
//! plus the attribution label when the provider's settings ask for it; `effective_labels` is
//! every label on the object. What is sent is the live object's labels with the keys this
//! configuration stopped managing removed and `terraform_labels` set on top, so a label
//! someone else set is never a diff and never removed.

use crate::config::provider::{Attribution, ATTRIBUTION_LABEL};
use crate::state::StateEntry;
use serde_json::{Map, Value};

/// A string map (an API struct's labels) as JSON.
pub fn json_map(m: &std::collections::BTreeMap<String, String>) -> Map<String, Value> {
    m.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// A JSON object of strings as a string map (for an API struct's labels).
pub fn string_map(m: &Map<String, Value>) -> std::collections::BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

pub fn map_of(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The effective labels to send: `live`, minus the keys `old_tf` managed that `new_tf` no
/// longer does, plus `new_tf`.
pub fn effective(
    new_tf: &Map<String, Value>,
    old_tf: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = live.clone();
    out.retain(|k, _| new_tf.contains_key(k) || !old_tf.contains_key(k));
    for (k, v) in new_tf {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// `terraform_labels` and `effective_labels` as a plan makes them.
pub struct Planned {
    pub terraform: Map<String, Value>,
    pub effective: Map<String, Value>,
}

impl Planned {
    /// `values` with these labels (what the plan shows and the state records).
    pub fn apply_to(&self, values: &Value) -> Value {
        let mut v = values.clone();
        if let Value::Object(m) = &mut v {
            m.insert(
                "terraform_labels".into(),
                Value::Object(self.terraform.clone()),
            );
            m.insert(
                "effective_labels".into(),
                Value::Object(self.effective.clone()),
            );
        }
        v
    }
}

/// A resource's values with `terraform_labels` and `effective_labels` as this plan makes
/// them, given the state's entry and the live object's labels (`None`: it is created).
/// Under the CREATE_ONLY strategy an existing object gets the attribution label only if it
/// already has it.
pub fn planned(
    values: &Value,
    state: Option<&StateEntry>,
    live: Option<&Map<String, Value>>,
    attribution: Attribution,
) -> Value {
    let old_tf = map_of(
        state
            .and_then(|s| s.values.get("terraform_labels"))
            .as_ref(),
    );
    plan(values, &old_tf, live, attribution).apply_to(values)
}

/// The labels of [`planned`] from the state's `terraform_labels` (`old_tf`), without copying
/// the values (a no-op plan needs only these).
pub fn plan(
    values: &Value,
    old_tf: &Map<String, Value>,
    live: Option<&Map<String, Value>>,
    attribution: Attribution,
) -> Planned {
    let empty = Map::new();
    let m = values.as_object().unwrap_or(&empty);
    let mut new_tf = match m.get("terraform_labels") {
        Some(Value::Object(t)) => t.clone(),
        _ => map_of(m.get("labels")),
    };
    if let Some(live) = live {
        let key = ATTRIBUTION_LABEL.0;
        let keep = attribution == Attribution::Proactive
            || old_tf.contains_key(key)
            || live.contains_key(key)
            || m.get("labels").and_then(|l| l.get(key)).is_some();
        if !keep {
            new_tf.remove(key);
        }
    }
    let effective = match live {
        Some(live) => effective(&new_tf, old_tf, live),
        None => new_tf.clone(),
    };
    Planned {
        terraform: new_tf,
        effective,
    }
}

/// The labels of a live object (wire JSON), when it is the object this plan updates.
pub fn of_live(live: Option<&Value>) -> Option<Map<String, Value>> {
    live.map(|l| map_of(l.get("labels")))
}

/// The labels to send, from values [`planned`] made (the configured ones when it did not).
pub fn to_send(values: &Value) -> Value {
    values
        .get("effective_labels")
        .or_else(|| values.get("labels"))
        .filter(|l| !l.is_null())
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn someone_elses_label_stays_and_a_dropped_one_goes() {
        let live = m(json!({"team": "a", "owner": "ops", "old": "x"}));
        let old_tf = m(json!({"team": "a", "old": "x"}));
        let new_tf = m(json!({"team": "b"}));
        assert_eq!(
            effective(&new_tf, &old_tf, &live),
            m(json!({"team": "b", "owner": "ops"}))
        );
    }
}
