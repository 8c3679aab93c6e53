//! Terraform's machine-readable plan (`terraform show -json`, format_version 1.2), so that
//! policy and summary tools written for Terraform plans read ours. Deterministic (no
//! timestamp), sensitive values redacted (null, marked in `*_sensitive`), values known only
//! after apply left out of `after` and marked in `after_unknown`. runform's execute actions
//! are listed in the extension field `runform_executions` (and are `no-op` in
//! `resource_changes`), which Terraform tools ignore.

use super::{Action, Change, Drift, Plan};
use crate::config::address::Address;
use crate::config::Stack;
use crate::lang::{Value as LangValue, V};
use crate::model::change::path_in;
use crate::state::State;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const FORMAT_VERSION: &str = "1.2";
const PROVIDER: &str = "registry.terraform.io/hashicorp/google";

fn provider_of(ty: &str) -> &'static str {
    if ty.starts_with("google_") {
        PROVIDER
    } else {
        "runform"
    }
}

fn is_sensitive(s: &str, sens: &[String]) -> bool {
    sens.iter().any(|v| v.len() >= 3 && s.contains(v.as_str()))
}

/// Terraform's `omitUnknowns`, with sensitive values (and strings that hold secrets) nulled:
/// runform never writes a secret into plan JSON.
fn known_json(v: &LangValue, sens: &[String]) -> Option<Value> {
    if !v.is_known() {
        return None;
    }
    if v.sensitive {
        return Some(Value::Null);
    }
    Some(match &v.v {
        V::Null(_) => Value::Null,
        V::String(s) if is_sensitive(s, sens) => Value::Null,
        V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => Value::Array(
            xs.iter()
                .map(|x| known_json(x, sens).unwrap_or(Value::Null))
                .collect(),
        ),
        V::Map(_, m) | V::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, x)| known_json(x, sens).map(|j| (k.clone(), j)))
                .collect(),
        ),
        _ => v.to_json_lossy(),
    })
}

/// Terraform's `unknownAsBool`.
fn unknown_as_bool(v: &LangValue) -> Value {
    if v.is_null() {
        return Value::Bool(false);
    }
    if !v.is_known() {
        return Value::Bool(true);
    }
    match &v.v {
        V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
            Value::Array(xs.iter().map(unknown_as_bool).collect())
        }
        V::Map(_, m) | V::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), unknown_as_bool(x)))
                .filter(|(_, b)| *b != Value::Bool(false))
                .collect(),
        ),
        _ => Value::Bool(false),
    }
}

/// Terraform's `SensitiveAsBool` (strings that hold secrets count as sensitive too).
fn sensitive_as_bool(v: &LangValue, sens: &[String]) -> Value {
    if v.sensitive {
        return Value::Bool(true);
    }
    match &v.v {
        V::String(s) if is_sensitive(s, sens) => Value::Bool(true),
        V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
            Value::Array(xs.iter().map(|x| sensitive_as_bool(x, sens)).collect())
        }
        V::Map(_, m) | V::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), sensitive_as_bool(x, sens)))
                .filter(|(_, b)| *b != Value::Bool(false))
                .collect(),
        ),
        V::Unknown(t, _) if t.is_object() || matches!(t, crate::lang::Type::Map(_)) => json!({}),
        V::Unknown(t, _) if t.is_collection() || t.is_tuple() => Value::Array(Vec::new()),
        _ => Value::Bool(false),
    }
}

/// (value, unknown marks, sensitive marks) as Terraform writes them for a planned value.
fn parts(v: Option<&LangValue>, sens: &[String]) -> (Value, Value, Value) {
    match v {
        // Nothing after (a delete): Terraform's after_unknown defaults to an empty object.
        None => (Value::Null, json!({}), Value::Bool(false)),
        Some(v) if v.is_null() => (Value::Null, json!({}), Value::Bool(false)),
        Some(v) => {
            let known = known_json(v, sens).unwrap_or(Value::Null);
            let unknown = if v.is_wholly_known() {
                json!({})
            } else {
                unknown_as_bool(v)
            };
            (known, unknown, sensitive_as_bool(v, sens))
        }
    }
}

/// A resource's values (runform's internal shape, with unknown and sensitive paths) in
/// Terraform's shape, through its type's schema.
fn tf_value(ty: &str, values: &Value, unknown: &[String], sensitive: &[String]) -> LangValue {
    let Some(info) = crate::resources::type_info(ty) else {
        return LangValue::from_json(values);
    };
    let is_sensitive = |p: &str| path_in(p, sensitive);
    let mut values = crate::model::schema::with_unknown_keys(values, unknown);
    let mut unknown = unknown.to_vec();
    info.schema().derive_label_attrs(&mut values, &mut unknown);
    let is_unknown = |p: &str| path_in(p, &unknown);
    let mut v = info
        .schema()
        .from_internal_marked(&values, &is_unknown, &is_sensitive);
    let config = v.clone();
    crate::config::with_computed_types(info, &mut v, &config);
    v
}

fn actions(a: Action) -> Vec<&'static str> {
    match a {
        Action::Create => vec!["create"],
        Action::Update | Action::StateOnly => vec!["update"],
        Action::Replace => vec!["delete", "create"],
        Action::Delete => vec!["delete"],
        Action::Forget => vec!["forget"],
        Action::NoOp | Action::Execute | Action::Adopt => vec!["no-op"],
    }
}

/// What the configuration declares, for `action_reason`: each block (module path with keys,
/// type, name) and each module instance.
struct Declared {
    blocks: std::collections::BTreeSet<(String, String, String)>,
    modules: std::collections::BTreeSet<String>,
}

impl Declared {
    fn of(stack: &Stack) -> Declared {
        let mut d = Declared {
            blocks: Default::default(),
            modules: Default::default(),
        };
        for r in &stack.resources {
            if let Some(a) = Address::parse(&r.addr) {
                d.blocks.insert((a.module.clone(), a.ty, a.name));
                d.modules.insert(a.module);
            }
        }
        d
    }
}

/// Terraform's `action_reason` for a deletion or replacement.
fn reason(c: &Change, declared: &Declared) -> Option<&'static str> {
    match c.action {
        Action::Replace if c.reason.as_deref() == Some("--replace asked for it") => {
            Some("replace_by_request")
        }
        Action::Replace => Some("replace_because_cannot_update"),
        Action::Delete => {
            let a = Address::parse(&c.addr)?;
            if declared
                .blocks
                .contains(&(a.module.clone(), a.ty.clone(), a.name.clone()))
            {
                return Some(match a.index {
                    Some(Value::String(_)) => "delete_because_each_key",
                    Some(_) => "delete_because_count_index",
                    None => "delete_because_no_resource_config",
                });
            }
            let module_gone = !a.module.is_empty() && !declared.modules.contains(&a.module);
            Some(if module_gone {
                "delete_because_no_module"
            } else {
                "delete_because_no_resource_config"
            })
        }
        _ => None,
    }
}

fn base(addr: &str, ty: &str) -> Map<String, Value> {
    let a = Address::parse(addr);
    let mut m = Map::new();
    m.insert("address".into(), json!(addr));
    if let Some(a) = &a {
        if !a.module.is_empty() {
            m.insert("module_address".into(), json!(a.module));
        }
    }
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(ty));
    m.insert(
        "name".into(),
        json!(a.as_ref().map(|a| a.name.as_str()).unwrap_or("")),
    );
    if let Some(i) = a.as_ref().and_then(|a| a.index.clone()) {
        m.insert("index".into(), i);
    }
    m.insert("provider_name".into(), json!(provider_of(ty)));
    m
}

/// Prior (state) and desired (configuration) values by address, for changes that do not
/// carry them (no-ops).
struct Known<'a> {
    config: BTreeMap<&'a str, &'a crate::config::ResourceConfig>,
    state: BTreeMap<&'a str, Value>,
    /// New address → old, for `moved` renames.
    moved_from: BTreeMap<&'a str, &'a str>,
}

impl Known<'_> {
    fn before(&self, c: &Change) -> Option<LangValue> {
        match c.action {
            Action::Create => None,
            _ => c
                .before
                .clone()
                .or_else(|| self.state.get(c.addr.as_str()).cloned())
                .map(|v| tf_value(&c.ty, &v, &[], &c.sensitive)),
        }
    }
    fn after(&self, c: &Change) -> Option<LangValue> {
        match c.action {
            Action::Delete | Action::Forget => None,
            _ => {
                if let Some(v) = &c.after {
                    let unknown: Vec<String> =
                        c.unknown.iter().chain(c.computed.iter()).cloned().collect();
                    let mut v = v.clone();
                    if !matches!(c.action, Action::Create | Action::Replace) {
                        // An update keeps what the object has (its id, computed values).
                        if let Some(st) = self.state.get(c.addr.as_str()) {
                            crate::config::fill_missing(&mut v, st);
                        }
                    }
                    return Some(tf_value(&c.ty, &v, &unknown, &c.sensitive));
                }
                let rc = self.config.get(c.addr.as_str())?;
                let mut v = rc.values.clone();
                if let Some(st) = self.state.get(c.addr.as_str()) {
                    crate::config::fill_missing(&mut v, st);
                }
                Some(tf_value(&c.ty, &v, &rc.unknown, &rc.sensitive))
            }
        }
    }
}

fn resource_change(c: &Change, declared: &Declared, known: &Known, sens: &[String]) -> Value {
    let mut m = base(&c.addr, &c.ty);
    if let Some(prev) = known.moved_from.get(c.addr.as_str()) {
        m.insert("previous_address".into(), json!(prev));
    }
    let before = known.before(c);
    let after = known.after(c);
    let (b, _, bs) = parts(before.as_ref(), sens);
    let (a, au, as_) = parts(after.as_ref(), sens);
    let mut ch = Map::new();
    ch.insert("actions".into(), json!(actions(c.action)));
    ch.insert("before".into(), b);
    ch.insert("after".into(), a);
    ch.insert("after_unknown".into(), au);
    ch.insert("before_sensitive".into(), bs);
    ch.insert("after_sensitive".into(), as_);
    if let Some(id) = &c.import_id {
        ch.insert("importing".into(), json!({ "id": id }));
    }
    if c.action == Action::Replace {
        let paths: Vec<Value> = c
            .attrs
            .iter()
            .map(|x| json!(x.path.split('.').collect::<Vec<_>>()))
            .collect();
        ch.insert("replace_paths".into(), Value::Array(paths));
    }
    m.insert("change".into(), Value::Object(ch));
    if let Some(r) = reason(c, declared) {
        m.insert("action_reason".into(), json!(r));
    }
    Value::Object(m)
}

/// Sets `a.b[0].c` in a value (best effort: paths through missing parts are skipped).
fn set_path(v: &mut Value, path: &str, new: Option<&Value>) {
    let mut cur = v;
    let segs: Vec<&str> = path.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let (key, idx) = match seg.find('[') {
            Some(p) => (
                &seg[..p],
                seg[p + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (*seg, None),
        };
        let last = i + 1 == segs.len();
        let Value::Object(m) = cur else { return };
        if last && idx.is_none() {
            match new {
                Some(n) => {
                    m.insert(key.to_string(), n.clone());
                }
                None => {
                    m.remove(key);
                }
            }
            return;
        }
        let Some(next) = m.get_mut(key) else { return };
        cur = next;
        if let Some(i) = idx {
            let Some(x) = cur.as_array_mut().and_then(|a| a.get_mut(i)) else {
                return;
            };
            if last {
                if let Some(n) = new {
                    *x = n.clone();
                }
                return;
            }
            cur = x;
        }
    }
}

fn drift_change(d: &Drift, state: &State, sens: &[String]) -> Value {
    let mut m = base(&d.addr, &d.ty);
    let before = state.resources.get(&d.addr).map(|e| e.values.to_value());
    let after = if d.deleted {
        None
    } else {
        before.clone().map(|mut v| {
            for a in &d.attrs {
                set_path(&mut v, &a.path, a.new.as_ref());
            }
            v
        })
    };
    // Values sensitive when last applied stay masked on both sides.
    let marked: &[String] = state
        .resources
        .get(&d.addr)
        .map_or(&[], |e| e.sensitive.as_slice());
    let before = before.map(|v| tf_value(&d.ty, &v, &[], marked));
    let after = after.map(|v| tf_value(&d.ty, &v, &[], marked));
    let (b, _, bs) = parts(before.as_ref(), sens);
    let (a, au, as_) = parts(after.as_ref(), sens);
    m.insert(
        "change".into(),
        json!({
            "actions": [if d.deleted { "delete" } else { "update" }],
            "before": b, "after": a, "after_unknown": au,
            "before_sensitive": bs, "after_sensitive": as_,
        }),
    );
    Value::Object(m)
}

/// Groups resource values into Terraform's module tree.
fn module_tree(resources: Vec<(String, Value)>) -> Value {
    let mut by_module: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (module, r) in resources {
        by_module.entry(module).or_default().push(r);
    }
    fn build(addr: &str, by_module: &BTreeMap<String, Vec<Value>>) -> Value {
        let mut m = Map::new();
        m.insert(
            "resources".into(),
            Value::Array(by_module.get(addr).cloned().unwrap_or_default()),
        );
        // Direct children: modules whose address extends this one by one `module.x[..]`.
        let children: Vec<&String> = by_module
            .keys()
            .filter(|k| {
                let rest = if addr.is_empty() {
                    Some(k.as_str())
                } else {
                    k.strip_prefix(addr).and_then(|r| r.strip_prefix('.'))
                };
                rest.is_some_and(|r| {
                    !r.is_empty()
                        && Address::parse(&format!("{r}.t.n"))
                            .is_some_and(|a| !a.module.contains(".module."))
                })
            })
            .collect();
        // Intermediate modules with no resources of their own still appear.
        let mut all: Vec<String> = children.iter().map(|s| s.to_string()).collect();
        for k in by_module.keys() {
            let rest = if addr.is_empty() {
                Some(k.as_str())
            } else {
                k.strip_prefix(addr).and_then(|r| r.strip_prefix('.'))
            };
            if let Some(r) = rest.filter(|r| !r.is_empty()) {
                if let Some(a) = Address::parse(&format!("{r}.t.n")) {
                    let first = first_module(&a.module);
                    let full = if addr.is_empty() {
                        first
                    } else {
                        format!("{addr}.{first}")
                    };
                    if !all.contains(&full) {
                        all.push(full);
                    }
                }
            }
        }
        all.sort();
        all.dedup();
        if !addr.is_empty() {
            m.insert("address".into(), json!(addr));
        }
        if !all.is_empty() {
            m.insert(
                "child_modules".into(),
                Value::Array(all.iter().map(|c| build(c, by_module)).collect()),
            );
        }
        Value::Object(m)
    }
    build("", &by_module)
}

/// `module.a["k"]` of `module.a["k"].module.b`.
fn first_module(module: &str) -> String {
    let probe = format!("{module}.t.n");
    let mut depth = 0;
    let mut quoted = false;
    let mut dots = 0;
    for (i, c) in probe.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            '.' if !quoted && depth == 0 => {
                dots += 1;
                if dots == 2 {
                    return probe[..i].to_string();
                }
            }
            _ => {}
        }
    }
    module.to_string()
}

fn resource_values(
    addr: &str,
    ty: &str,
    values: Option<&LangValue>,
    sens: &[String],
) -> (String, Value) {
    let mut m = base(addr, ty);
    m.remove("module_address");
    m.insert("schema_version".into(), json!(0));
    let (v, _, s) = parts(values, sens);
    m.insert("values".into(), if v.is_null() { json!({}) } else { v });
    m.insert(
        "sensitive_values".into(),
        if s.is_boolean() { json!({}) } else { s },
    );
    let module = Address::parse(addr).map(|a| a.module).unwrap_or_default();
    (module, Value::Object(m))
}

/// Terraform's type notation for a JSON value (`"string"`, `["object", {...}]`).
pub fn type_of(v: &Value) -> Value {
    match v {
        Value::Null => json!("dynamic"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(a) => json!(["tuple", a.iter().map(type_of).collect::<Vec<_>>()]),
        Value::Object(m) => json!([
            "object",
            m.iter()
                .map(|(k, x)| (k.clone(), type_of(x)))
                .collect::<Map<_, _>>()
        ]),
    }
}

/// The plan JSON.
pub fn plan_json(plan: &Plan, stack: &Stack, state: &State) -> String {
    let sens = &plan.sensitive_values;
    let version = format!("runform {}", env!("CARGO_PKG_VERSION"));
    let mut root = Map::new();
    root.insert("format_version".into(), json!(FORMAT_VERSION));
    root.insert("terraform_version".into(), json!(version));

    // Root variables (sensitive ones redacted).
    let vars: Map<String, Value> = stack
        .variables
        .iter()
        .map(|(k, v)| {
            let (val, _, _) = parts(Some(v), sens);
            (k.clone(), json!({ "value": val }))
        })
        .collect();
    root.insert("variables".into(), Value::Object(vars));

    let declared = Declared::of(stack);
    let known = Known {
        config: stack
            .resources
            .iter()
            .map(|r| (r.addr.as_str(), r))
            .collect(),
        state: state
            .resources
            .iter()
            .map(|(a, e)| (a.as_str(), e.values.to_value()))
            .collect(),
        moved_from: plan
            .moves
            .iter()
            .map(|(f, t)| (t.as_str(), f.as_str()))
            .collect(),
    };
    // planned_values: what exists after the plan.
    let planned: Vec<(String, Value)> = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.action, Action::Delete | Action::Forget))
        .map(|c| resource_values(&c.addr, &c.ty, known.after(c).as_ref(), sens))
        .collect();
    let mut outputs_planned = Map::new();
    for o in &stack.outputs {
        let (v, _, _) = parts(Some(&o.value), sens);
        let mut entry = json!({ "sensitive": o.sensitive });
        // An output known only after apply has no value in planned_values (as Terraform).
        if o.value.is_wholly_known() {
            entry["value"] = if o.sensitive { Value::Null } else { v };
            entry["type"] = o.value.ty().to_json();
        }
        outputs_planned.insert(o.name.clone(), entry);
    }
    root.insert(
        "planned_values".into(),
        json!({ "outputs": outputs_planned, "root_module": module_tree(planned) }),
    );

    root.insert(
        "resource_drift".into(),
        Value::Array(
            plan.drift
                .iter()
                .map(|d| drift_change(d, state, sens))
                .collect(),
        ),
    );
    root.insert(
        "resource_changes".into(),
        Value::Array(
            plan.changes
                .iter()
                .map(|c| resource_change(c, &declared, &known, sens))
                .collect(),
        ),
    );

    // output_changes, as Terraform's MarshalOutputChanges: `after` left out while unknown,
    // outputs no longer declared deleted, sensitivity one flag for both sides.
    let mut oc = Map::new();
    for o in &stack.outputs {
        let before = state.outputs.get(&o.name);
        let sensitive = o.sensitive || state.sensitive_outputs.contains(&o.name);
        let after_json = o.value.is_wholly_known().then(|| o.value.to_json_lossy());
        let act = match before {
            None => "create",
            Some(b) if Some(b) == after_json.as_ref() => "no-op",
            Some(_) => "update",
        };
        let hide = |v: Value| if sensitive { Value::Null } else { v };
        let mut m = Map::new();
        m.insert("actions".into(), json!([act]));
        m.insert(
            "before".into(),
            hide(before.cloned().unwrap_or(Value::Null)),
        );
        if o.value.is_wholly_known() {
            let (a, _, _) = parts(Some(&o.value), sens);
            m.insert("after".into(), hide(a));
            m.insert("after_unknown".into(), json!(false));
        } else {
            if o.value.is_known() {
                let (a, _, _) = parts(Some(&o.value), sens);
                m.insert("after".into(), hide(a));
            }
            m.insert("after_unknown".into(), unknown_as_bool(&o.value));
        }
        m.insert("before_sensitive".into(), json!(sensitive));
        m.insert("after_sensitive".into(), json!(sensitive));
        oc.insert(o.name.clone(), Value::Object(m));
    }
    let declared: std::collections::BTreeSet<&str> =
        stack.outputs.iter().map(|o| o.name.as_str()).collect();
    for (name, before) in state
        .outputs
        .iter()
        .filter(|(k, _)| !declared.contains(k.as_str()))
    {
        let sensitive = state.sensitive_outputs.contains(name);
        oc.insert(
            name.clone(),
            json!({
                "actions": ["delete"],
                "before": if sensitive { Value::Null } else { before.clone() },
                "after": null,
                "after_unknown": false,
                "before_sensitive": sensitive,
                "after_sensitive": sensitive,
            }),
        );
    }
    root.insert("output_changes".into(), Value::Object(oc));

    // prior_state
    let prior: Vec<(String, Value)> = state
        .resources
        .iter()
        .map(|(addr, e)| {
            let v = tf_value(&e.ty, &e.values.to_value(), &[], &e.sensitive);
            resource_values(addr, &e.ty, Some(&v), sens)
        })
        .collect();
    let prior_outputs: Map<String, Value> = state
        .outputs
        .iter()
        .map(|(k, v)| {
            let s = state.sensitive_outputs.contains(k);
            (
                k.clone(),
                json!({ "sensitive": s, "type": type_of(v), "value": if s { Value::Null } else { v.clone() } }),
            )
        })
        .collect();
    root.insert(
        "prior_state".into(),
        json!({
            "format_version": "1.0",
            "terraform_version": version,
            "values": { "outputs": prior_outputs, "root_module": module_tree(prior) },
        }),
    );

    root.insert("configuration".into(), configuration(stack));
    root.insert("relevant_attributes".into(), json!([]));
    root.insert(
        "runform_executions".into(),
        Value::Array(
            plan.changes
                .iter()
                .filter(|c| c.action == Action::Execute)
                .map(|c| json!({ "address": c.addr, "type": c.ty, "reason": c.reason }))
                .collect(),
        ),
    );
    root.insert(
        "applyable".into(),
        json!(plan.blocked.is_empty() && plan.has_work()),
    );
    root.insert("complete".into(), json!(!plan.targeted));
    root.insert("errored".into(), json!(false));
    serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default()
}

/// `configuration`: the declared resources per module path, and the module calls with
/// their sources. Expressions are not kept after evaluation, so `expressions` is empty.
fn configuration(stack: &Stack) -> Value {
    let mut per_path: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &stack.resources {
        let Some(a) = Address::parse(&r.addr) else {
            continue;
        };
        let path = strip_keys(&a.module);
        if !seen.insert((path.clone(), a.ty.clone(), a.name.clone())) {
            continue;
        }
        per_path.entry(path).or_default().push(json!({
            "address": format!("{}.{}", a.ty, a.name),
            "mode": "managed",
            "type": a.ty,
            "name": a.name,
            "provider_config_key": if a.ty.starts_with("google_") { "google" } else { "runform" },
            "expressions": {},
            "schema_version": 0,
        }));
    }
    fn build(path: &str, stack: &Stack, per_path: &BTreeMap<String, Vec<Value>>) -> Value {
        let mut calls = Map::new();
        for (p, src) in &stack.module_sources {
            let rest = if path.is_empty() {
                Some(p.as_str())
            } else {
                p.strip_prefix(path).and_then(|r| r.strip_prefix('.'))
            };
            if let Some(name) = rest
                .and_then(|r| r.strip_prefix("module."))
                .filter(|n| !n.contains('.'))
            {
                calls.insert(
                    name.to_string(),
                    json!({ "source": src, "module": build(p, stack, per_path) }),
                );
            }
        }
        json!({
            "resources": per_path.get(path).cloned().unwrap_or_default(),
            "module_calls": calls,
        })
    }
    let mut provider = Map::new();
    let mut exprs = Map::new();
    if let Some(p) = &stack.provider.project {
        exprs.insert("project".into(), json!({ "constant_value": p }));
    }
    if let Some(r) = &stack.provider.region {
        exprs.insert("region".into(), json!({ "constant_value": r }));
    }
    provider.insert(
        "google".into(),
        json!({ "name": "google", "full_name": PROVIDER, "expressions": exprs }),
    );
    json!({ "provider_config": provider, "root_module": build("", stack, &per_path) })
}

/// `module.a["k"].module.b[0]` → `module.a.module.b`.
fn strip_keys(module: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in module.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_sensitive_values_are_marked_not_shown() {
        let sens = vec!["hunter2".to_string()];
        let j = json!({"a": "x", "tok": "Bearer hunter2",
                       "env": [{"name": "A", "value": "hunter2"}, {"name": "B", "value": "1"}]});
        let mut v = LangValue::from_json(&j);
        if let V::Object(m) = &mut v.v {
            m.insert("id".into(), LangValue::unknown(crate::lang::Type::String));
        }
        let (val, u, s) = parts(Some(&v), &sens);
        assert_eq!(
            val,
            json!({"a": "x", "tok": null, "env": [{"name": "A", "value": null}, {"name": "B", "value": "1"}]})
        );
        // As Terraform's unknownAsBool: known collections keep their shape, known leaves drop.
        assert_eq!(u, json!({"id": true, "env": [{}, {}]}));
        assert_eq!(s, json!({"tok": true, "env": [{"value": true}, {}]}));
        assert!(!val.to_string().contains("hunter2"));
    }

    #[test]
    fn module_paths_lose_their_keys_and_nest() {
        assert_eq!(
            strip_keys(r#"module.a["k.x"].module.b[0]"#),
            "module.a.module.b"
        );
        assert_eq!(
            first_module(r#"module.a["k.x"].module.b[0]"#),
            r#"module.a["k.x"]"#
        );
        let tree = module_tree(vec![
            (String::new(), json!("r0")),
            ("module.a.module.b".into(), json!("r2")),
        ]);
        assert_eq!(
            tree,
            json!({"resources": ["r0"], "child_modules": [{"resources": [], "address": "module.a",
                   "child_modules": [{"resources": ["r2"], "address": "module.a.module.b"}]}]})
        );
    }
}
