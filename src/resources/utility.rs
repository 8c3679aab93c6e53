//! The small utility types of Terraform's random, time, null and built-in providers:
//! `random_id`, `random_string`, `random_pet`, `time_sleep`, `null_resource` and
//! `terraform_data`. They have no cloud object: their values are made once at create, kept
//! in state (stable across plans), and remade only when an argument that forces a new value
//! (their keepers or triggers, or any argument of the random types) changes, as in those
//! providers.

use super::{Ctx, PlanInput, ResourceType, StateEntry};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    RandomId,
    RandomString,
    RandomPet,
    TimeSleep,
    NullResource,
    TerraformData,
}

pub struct Utility(pub Kind);

pub static RANDOM_ID: Utility = Utility(Kind::RandomId);
pub static RANDOM_STRING: Utility = Utility(Kind::RandomString);
pub static RANDOM_PET: Utility = Utility(Kind::RandomPet);
pub static TIME_SLEEP: Utility = Utility(Kind::TimeSleep);
pub static NULL_RESOURCE: Utility = Utility(Kind::NullResource);
pub static TERRAFORM_DATA: Utility = Utility(Kind::TerraformData);

pub const TYPES: &[&str] = &[
    "random_id",
    "random_string",
    "random_pet",
    "time_sleep",
    "null_resource",
    "terraform_data",
];

pub fn by_name(ty: &str) -> Option<&'static Utility> {
    Some(match ty {
        "random_id" => &RANDOM_ID,
        "random_string" => &RANDOM_STRING,
        "random_pet" => &RANDOM_PET,
        "time_sleep" => &TIME_SLEEP,
        "null_resource" => &NULL_RESOURCE,
        "terraform_data" => &TERRAFORM_DATA,
        _ => return None,
    })
}

/// The schemas of the random, time, null and built-in providers' types runform implements.
const RANDOM_ID_TEXT: &str = "
id          string      C tf
byte_length number      R FN tf
prefix      string      O FN tf
keepers     map(string) O FN tf
b64_url     string      C tf
b64_std     string      C tf
hex         string      C tf
dec         string      C tf
";
const RANDOM_STRING_TEXT: &str = "
id               string      C tf
length           number      R FN tf
special          bool        O FN tf default=true
upper            bool        O FN tf default=true
lower            bool        O FN tf default=true
numeric          bool        O FN tf default=true
number           bool        O FN tf default=true
min_upper        number      O FN tf default=0
min_lower        number      O FN tf default=0
min_numeric      number      O FN tf default=0
min_special      number      O FN tf default=0
override_special string      O FN tf
keepers          map(string) O FN tf
result           string      C tf
";
const RANDOM_PET_TEXT: &str = "
id        string      C tf
length    number      O FN tf default=2
separator string      O FN tf default=\"-\"
prefix    string      O FN tf
keepers   map(string) O FN tf
";
const TIME_SLEEP_TEXT: &str = "
id               string      C tf
create_duration  string      O tf
destroy_duration string      O tf
triggers         map(string) O FN tf
";
const NULL_RESOURCE_TEXT: &str = "
id       string      C tf
triggers map(string) O FN tf
";
const TERRAFORM_DATA_TEXT: &str = "
id               string C tf
input            any    O tf
triggers_replace any    O FN tf
output           any    C V tf
";

static RANDOM_ID_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(RANDOM_ID_TEXT));
static RANDOM_STRING_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(RANDOM_STRING_TEXT));
static RANDOM_PET_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(RANDOM_PET_TEXT));
static TIME_SLEEP_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(TIME_SLEEP_TEXT));
static NULL_RESOURCE_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(NULL_RESOURCE_TEXT));
static TERRAFORM_DATA_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::parse(TERRAFORM_DATA_TEXT));

impl Utility {
    fn ty(&self) -> &'static str {
        match self.0 {
            Kind::RandomId => "random_id",
            Kind::RandomString => "random_string",
            Kind::RandomPet => "random_pet",
            Kind::TimeSleep => "time_sleep",
            Kind::NullResource => "null_resource",
            Kind::TerraformData => "terraform_data",
        }
    }

    /// Arguments whose change makes a new value (replace); others update in place.
    fn forces_new(&self, arg: &str) -> bool {
        match self.0 {
            Kind::RandomId | Kind::RandomString | Kind::RandomPet | Kind::NullResource => true,
            Kind::TimeSleep => arg == "triggers",
            Kind::TerraformData => arg == "triggers_replace",
        }
    }

    /// The values a create makes.
    fn generate(&self, cfg: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        use base64::Engine;
        use rand::Rng;
        let mut rng = rand::rng();
        let num = |k: &str, d: u64| {
            cfg.get(k)
                .and_then(Value::as_f64)
                .map(|f| f as u64)
                .unwrap_or(d)
        };
        let flag = |k: &str, d: bool| cfg.get(k).and_then(Value::as_bool).unwrap_or(d);
        let text = |k: &str| cfg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut out = Map::new();
        match self.0 {
            Kind::RandomId => {
                let n = num("byte_length", 0) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                let prefix = text("prefix");
                let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
                let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
                let hex = hex::encode(&bytes);
                let digits = bytes
                    .iter()
                    .fold(vec![0u32], |acc, b| mul_add_dec(&acc, 256, *b as u32));
                let dec: String = digits
                    .iter()
                    .rev()
                    .map(|d| char::from(b'0' + *d as u8))
                    .collect();
                out.insert("id".into(), json!(url));
                out.insert("b64_url".into(), json!(format!("{prefix}{url}")));
                out.insert("b64_std".into(), json!(format!("{prefix}{std}")));
                out.insert("hex".into(), json!(format!("{prefix}{hex}")));
                out.insert("dec".into(), json!(format!("{prefix}{dec}")));
            }
            Kind::RandomString => {
                let length = num("length", 0) as usize;
                let special = if cfg.contains_key("override_special") {
                    text("override_special")
                } else {
                    "!@#$%&*()-_=+[]{}<>:?".to_string()
                };
                let mut classes: Vec<(Vec<char>, usize)> = Vec::new();
                if flag("upper", true) {
                    classes.push((('A'..='Z').collect(), num("min_upper", 0) as usize));
                }
                if flag("lower", true) {
                    classes.push((('a'..='z').collect(), num("min_lower", 0) as usize));
                }
                if flag("numeric", flag("number", true)) {
                    classes.push((('0'..='9').collect(), num("min_numeric", 0) as usize));
                }
                if flag("special", true) && !special.is_empty() {
                    classes.push((special.chars().collect(), num("min_special", 0) as usize));
                }
                let all: Vec<char> = classes.iter().flat_map(|(c, _)| c.clone()).collect();
                if all.is_empty() {
                    return Err("random_string: every character class is turned off".into());
                }
                let mut chars: Vec<char> = Vec::with_capacity(length);
                for (class, min) in &classes {
                    for _ in 0..*min {
                        chars.push(class[rng.random_range(0..class.len())]);
                    }
                }
                while chars.len() < length {
                    chars.push(all[rng.random_range(0..all.len())]);
                }
                // Shuffle so the minimums are not always first.
                for i in (1..chars.len()).rev() {
                    let j = rng.random_range(0..=i);
                    chars.swap(i, j);
                }
                let result: String = chars.into_iter().collect();
                out.insert("result".into(), json!(result));
                out.insert("id".into(), json!(result));
            }
            Kind::RandomPet => {
                const ADJ: &[&str] = &[
                    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind",
                    "lively", "proud", "quick", "sunny", "tidy", "vast", "witty", "zesty",
                ];
                const NOUN: &[&str] = &[
                    "otter", "falcon", "badger", "heron", "lynx", "marmot", "panda", "quokka",
                    "raven", "salmon", "tapir", "walrus", "yak", "zebra", "koala", "gecko",
                ];
                let length = num("length", 2).max(1) as usize;
                let sep = cfg
                    .get("separator")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_string();
                let mut words: Vec<&str> = (1..length)
                    .map(|_| ADJ[rng.random_range(0..ADJ.len())])
                    .collect();
                words.push(NOUN[rng.random_range(0..NOUN.len())]);
                let mut id = words.join(&sep);
                let prefix = text("prefix");
                if !prefix.is_empty() {
                    id = format!("{prefix}{sep}{id}");
                }
                out.insert("id".into(), json!(id));
            }
            Kind::TimeSleep => {
                out.insert(
                    "id".into(),
                    json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                );
            }
            Kind::NullResource => {
                let n: u64 = rng.random_range(1_000_000_000_000_000_000..u64::MAX);
                out.insert("id".into(), json!(n.to_string()));
            }
            Kind::TerraformData => {
                out.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
                out.insert(
                    "output".into(),
                    cfg.get("input").cloned().unwrap_or(Value::Null),
                );
            }
        }
        Ok(out)
    }

    fn computed_attrs(&self) -> &'static [&'static str] {
        match self.0 {
            Kind::RandomId => &["id", "b64_url", "b64_std", "hex", "dec"],
            Kind::RandomString => &["id", "result"],
            Kind::RandomPet | Kind::TimeSleep | Kind::NullResource => &["id"],
            Kind::TerraformData => &["id", "output"],
        }
    }
}

/// `digits` (decimal, least significant first) × `mul` + `add` (for `random_id.dec`).
fn mul_add_dec(digits: &[u32], mul: u32, add: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(digits.len() + 3);
    let mut carry = add as u64;
    for d in digits {
        let v = *d as u64 * mul as u64 + carry;
        out.push((v % 10) as u32);
        carry = v / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u32);
        carry /= 10;
    }
    while out.len() > 1 && out.last() == Some(&0) {
        out.pop();
    }
    out
}

impl TypeInfo for Utility {
    fn schema(&self) -> &'static Schema {
        match self.0 {
            Kind::RandomId => &RANDOM_ID_SCHEMA,
            Kind::RandomString => &RANDOM_STRING_SCHEMA,
            Kind::RandomPet => &RANDOM_PET_SCHEMA,
            Kind::TimeSleep => &TIME_SLEEP_SCHEMA,
            Kind::NullResource => &NULL_RESOURCE_SCHEMA,
            Kind::TerraformData => &TERRAFORM_DATA_SCHEMA,
        }
    }
    fn derive(&self, _: &mut Derive, _: &Provider) {}
    fn computed_type(&self, attr: &str, config: &crate::lang::Value) -> Option<crate::lang::Type> {
        // terraform_data's output has the type of its input.
        (self.0 == Kind::TerraformData && attr == "output")
            .then(|| {
                config
                    .entries()
                    .and_then(|m| m.get("input"))
                    .map(|v| v.ty())
            })
            .flatten()
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        let n = |k: &str| v.get(k).and_then(Value::as_f64);
        match self.0 {
            Kind::RandomId if n("byte_length").is_some_and(|b| b < 1.0 || b.fract() != 0.0) => {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: byte_length must be a whole number of at least 1",
                        rc.addr
                    ),
                    Some(rc.span("byte_length")),
                ));
            }
            Kind::RandomString => {
                let len = n("length").unwrap_or(0.0);
                let mins: f64 = ["min_upper", "min_lower", "min_numeric", "min_special"]
                    .iter()
                    .filter_map(|k| n(k))
                    .sum();
                if len < 1.0 || len.fract() != 0.0 {
                    diags.push(Diagnostic::error(
                        format!("{}: length must be a whole number of at least 1", rc.addr),
                        Some(rc.span("length")),
                    ));
                } else if mins > len {
                    diags.push(Diagnostic::error(
                        format!(
                            "{}: the min_* counts add up to more than length ({len})",
                            rc.addr
                        ),
                        Some(rc.range.clone()),
                    ));
                }
            }
            Kind::TimeSleep => {
                for k in ["create_duration", "destroy_duration"] {
                    if let Some(s) = v.get(k).and_then(Value::as_str) {
                        if let Err(e) = crate::api::common::parse_go_duration(s) {
                            diags.push(Diagnostic::error(
                                format!("{}: {k}: {e}", rc.addr),
                                Some(rc.span(k)),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

impl ResourceType for Utility {
    fn name(&self) -> &'static str {
        self.ty()
    }
    fn family(&self, _: &Value) -> Option<(String, String)> {
        None
    }
    fn family_of_id(&self, _: &str) -> Option<(String, String)> {
        None
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let mut c = Change::new(input.addr, self.ty());
        let Some(rc) = input.config else {
            let st = input.state.ok_or("nothing to plan")?;
            c.action = Action::Delete;
            c.prior_id = Some(st.id.clone());
            c.before = Some(st.values.to_value());
            c.reason = Some("it is no longer in the configuration".into());
            return Ok(c);
        };
        let Some(st) = input.state else {
            c.action = Action::Create;
            c.after = Some(rc.values.clone());
            return Ok(c);
        };
        let before = st.values.to_value();
        let args = self
            .schema()
            .attrs
            .iter()
            .filter(|a| !a.computed)
            .map(|a| a.name.as_str());
        let mut new_value = false;
        for a in args {
            let old = before.get(a).filter(|x| !x.is_null()).cloned();
            let new = rc.values.get(a).filter(|x| !x.is_null()).cloned();
            if old != new {
                new_value |= self.forces_new(a);
                c.attrs.push(AttrChange::new(a, old, new));
            }
        }
        c.prior_id = Some(st.id.clone());
        c.before = Some(before);
        if c.attrs.is_empty() {
            return Ok(c);
        }
        c.after = Some(rc.values.clone());
        if new_value {
            c.action = Action::Replace;
            c.reason = Some(format!(
                "{} changed",
                c.attrs
                    .iter()
                    .filter(|a| self.forces_new(&a.path))
                    .map(|a| a.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            // terraform_data's `output` follows `input`: it is volatile (unknown until the
            // update is applied, for this change and for what reads it).
            c.action = Action::Update;
        }
        Ok(c)
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let sleep = |v: &Value, k: &str| -> Result<std::time::Duration, String> {
                match v.get(k).and_then(Value::as_str) {
                    Some(s) => crate::api::common::parse_go_duration(s),
                    None => Ok(std::time::Duration::ZERO),
                }
            };
            // The local runtime has no propagation delays to wait out.
            let wait = |d: std::time::Duration| async move {
                if !d.is_zero() && !ctx.client.is_local() {
                    tokio::time::sleep(d).await;
                }
            };
            if matches!(change.action, Action::Delete | Action::Replace)
                && self.0 == Kind::TimeSleep
            {
                if let Some(before) = &change.before {
                    wait(sleep(before, "destroy_duration")?).await;
                }
            }
            if matches!(change.action, Action::Delete | Action::Forget) {
                return Ok(None);
            }
            let cfg = change.after.clone().unwrap_or(Value::Null);
            let Value::Object(cfg) = cfg else {
                return Err("no desired values".into());
            };
            let mut values = cfg.clone();
            match change.action {
                Action::Create | Action::Replace => {
                    if self.0 == Kind::TimeSleep {
                        wait(sleep(&Value::Object(cfg.clone()), "create_duration")?).await;
                    }
                    values.extend(self.generate(&cfg)?);
                }
                _ => {
                    // In place: the generated values stay; terraform_data's output follows input.
                    let before = change.before.clone().unwrap_or(Value::Null);
                    for k in self.computed_attrs() {
                        if let Some(v) = before.get(*k) {
                            values.insert(k.to_string(), v.clone());
                        }
                    }
                    if self.0 == Kind::TerraformData {
                        values.insert(
                            "output".into(),
                            cfg.get("input").cloned().unwrap_or(Value::Null),
                        );
                    }
                }
            }
            let id = values
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok(Some(StateEntry {
                ty: self.ty().into(),
                id,
                values: (&Value::Object(values)).into(),
                deps: change.depends_on.clone(),
                extra: Value::Null,
                sensitive: Vec::new(),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_id_encodings_agree() {
        let mut cfg = Map::new();
        cfg.insert("byte_length".into(), json!(8));
        cfg.insert("prefix".into(), json!("p-"));
        let v = RANDOM_ID.generate(&cfg).unwrap();
        let hex = v["hex"].as_str().unwrap().strip_prefix("p-").unwrap();
        assert_eq!(hex.len(), 16);
        let n = u64::from_str_radix(hex, 16).unwrap();
        assert_eq!(v["dec"].as_str().unwrap(), format!("p-{n}"));
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(hex::encode(bytes), hex);
    }

    #[test]
    fn random_string_honours_classes_and_minimums() {
        let mut cfg = Map::new();
        cfg.insert("length".into(), json!(12));
        cfg.insert("special".into(), json!(false));
        cfg.insert("upper".into(), json!(false));
        cfg.insert("min_numeric".into(), json!(4));
        let r = RANDOM_STRING.generate(&cfg).unwrap()["result"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(r.len(), 12);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{r}"
        );
        assert!(r.chars().filter(char::is_ascii_digit).count() >= 4, "{r}");
        assert_eq!(
            crate::api::common::parse_go_duration("1m30s")
                .unwrap()
                .as_secs(),
            90
        );
        assert!(crate::api::common::parse_go_duration("30").is_err());
    }
}
