//! Variable type constraints (`string`, `list(string)`, `map(number)`,
//! `object({ name = string, tasks = optional(number, 1) })`, `set(...)`, `tuple([...])`, `any`)
//! and the conversions Terraform applies to a value given for them.

use super::{contains_unknown, UNKNOWN_START};
use hcl::Expression as E;
use serde_json::{Map, Value};

fn func(e: &E) -> Option<(&str, &[E])> {
    match e {
        E::FuncCall(f) => Some((f.name.name.as_str(), f.args.as_slice())),
        _ => None,
    }
}

/// Checks that a `type = ...` expression is a type constraint.
pub fn check_type_expr(e: &E) -> Result<(), String> {
    match e {
        E::Variable(v) => match v.as_str() {
            "string" | "number" | "bool" | "any" | "list" | "map" | "set" => Ok(()),
            other => Err(format!(
                "unknown type {other:?} (expected string, number, bool, any, list(...), set(...), map(...), object({{...}}) or tuple([...]))"
            )),
        },
        _ => match func(e) {
            Some(("list" | "set" | "map", [inner])) => check_type_expr(inner),
            Some(("optional", [inner, ..])) => check_type_expr(inner),
            Some(("object", [E::Object(m)])) => {
                m.values().try_for_each(check_type_expr)
            }
            Some(("tuple", [E::Array(items)])) => items.iter().try_for_each(check_type_expr),
            Some((name, _)) => Err(format!("invalid type constraint {name}(...)")),
            None => Err("invalid type constraint".into()),
        },
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn is_unknown(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.starts_with(UNKNOWN_START) && s.ends_with(UNKNOWN_START))
}

/// Converts `v` to the type `ty` describes, as Terraform does (numbers and bools to strings
/// and back, optional object attributes filled with their defaults or null, extra object
/// attributes dropped, sets deduplicated). Null conforms to every type; a value known only
/// after apply passes through.
pub fn conform(ty: &E, v: Value) -> Result<Value, String> {
    conform_at(ty, v, "")
}

fn conform_at(ty: &E, v: Value, at: &str) -> Result<Value, String> {
    let here = |msg: String| {
        if at.is_empty() {
            msg
        } else {
            format!("{at}: {msg}")
        }
    };
    if v.is_null() || is_unknown(&v) {
        return Ok(v);
    }
    let name = match ty {
        E::Variable(n) => n.as_str(),
        _ => func(ty).map(|(n, _)| n).unwrap_or("any"),
    };
    let args = func(ty).map(|(_, a)| a).unwrap_or(&[]);
    match name {
        "any" => Ok(v),
        "string" => match v {
            Value::String(_) => Ok(v),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(here(format!("expected a string, got {}", kind(&other)))),
        },
        "number" => match v {
            Value::Number(_) => Ok(v),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| {
                    if f.fract() == 0.0 && f.abs() < 9e15 {
                        Some(Value::from(f as i64))
                    } else {
                        serde_json::Number::from_f64(f).map(Value::Number)
                    }
                })
                .ok_or_else(|| here(format!("expected a number, got {s:?}"))),
            other => Err(here(format!("expected a number, got {}", kind(&other)))),
        },
        "bool" => match v {
            Value::Bool(_) => Ok(v),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            other => Err(here(format!("expected a bool, got {}", kind(&other)))),
        },
        "optional" => match args.first() {
            Some(inner) => conform_at(inner, v, at),
            None => Ok(v),
        },
        "list" | "set" => {
            let items = match v {
                Value::Array(items) => items,
                other => return Err(here(format!("expected a {name}, got {}", kind(&other)))),
            };
            let any = E::Variable(hcl::Identifier::unchecked("any").into());
            let inner = args.first().unwrap_or(&any);
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.into_iter().enumerate() {
                let x = conform_at(inner, x, &format!("{at}[{i}]"))?;
                if name == "set" && out.contains(&x) {
                    continue;
                }
                out.push(x);
            }
            Ok(Value::Array(out))
        }
        "map" => {
            let m = match v {
                Value::Object(m) => m,
                other => return Err(here(format!("expected a map, got {}", kind(&other)))),
            };
            let any = E::Variable(hcl::Identifier::unchecked("any").into());
            let inner = args.first().unwrap_or(&any);
            let mut out = Map::new();
            for (k, x) in m {
                let x = conform_at(inner, x, &format!("{at}[{k:?}]"))?;
                out.insert(k, x);
            }
            Ok(Value::Object(out))
        }
        "object" => {
            let mut m = match v {
                Value::Object(m) => m,
                other => return Err(here(format!("expected an object, got {}", kind(&other)))),
            };
            let Some(E::Object(attrs)) = args.first() else {
                return Ok(Value::Object(m));
            };
            let mut out = Map::new();
            for (k, t) in attrs {
                let key = match k {
                    hcl::ObjectKey::Identifier(i) => i.to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    hcl::ObjectKey::Expression(e) => e.to_string(),
                    _ => continue,
                };
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match (m.remove(&key), func(t)) {
                    (Some(x), _) if !x.is_null() => {
                        out.insert(key, conform_at(t, x, &path)?);
                    }
                    (_, Some(("optional", opt))) => {
                        let d = match opt.get(1) {
                            Some(d) => hcl::eval::Evaluate::evaluate(d, &hcl::eval::Context::new())
                                .map(|v| super::to_json(&v))
                                .map_err(|e| here(format!("default of {key}: {e}")))?,
                            None => Value::Null,
                        };
                        out.insert(key, conform_at(&opt[0], d, &path)?);
                    }
                    (Some(Value::Null), _) => {
                        out.insert(key, Value::Null);
                    }
                    _ => return Err(here(format!("attribute {key:?} is required"))),
                }
            }
            Ok(Value::Object(out))
        }
        "tuple" => {
            let items = match v {
                Value::Array(items) => items,
                other => return Err(here(format!("expected a tuple, got {}", kind(&other)))),
            };
            let Some(E::Array(types)) = args.first() else {
                return Ok(Value::Array(items));
            };
            if types.len() != items.len() {
                return Err(here(format!(
                    "expected a tuple of {} elements, got {}",
                    types.len(),
                    items.len()
                )));
            }
            types
                .iter()
                .zip(items)
                .enumerate()
                .map(|(i, (t, x))| conform_at(t, x, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ if contains_unknown(&v) => Ok(v),
        _ => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(src: &str) -> E {
        let body: hcl::Body = hcl::from_str(&format!("t = {src}")).unwrap();
        body.attributes().next().unwrap().expr.clone()
    }

    #[test]
    fn optional_attributes_get_their_defaults_and_extras_are_dropped() {
        let t = ty(
            "object({ name = string, tasks = optional(number, 1), tags = optional(map(string)) })",
        );
        check_type_expr(&t).unwrap();
        let v = conform(&t, json!({"name": "etl", "extra": true})).unwrap();
        assert_eq!(v, json!({"name": "etl", "tasks": 1, "tags": null}));
        let v = conform(&t, json!({"name": 5, "tasks": "3"})).unwrap();
        assert_eq!(v, json!({"name": "5", "tasks": 3, "tags": null}));
        let e = conform(&t, json!({"tasks": 2})).unwrap_err();
        assert!(e.contains("\"name\" is required"), "{e}");
    }

    #[test]
    fn collections_convert_elements_and_name_the_bad_one() {
        let t = ty("map(object({ schedule = string, tasks = number }))");
        let e = conform(&t, json!({"a": {"schedule": "x", "tasks": "many"}})).unwrap_err();
        assert!(e.starts_with("[\"a\"].tasks: expected a number"), "{e}");
        assert_eq!(
            conform(&ty("set(string)"), json!(["b", "a", "b", 1])).unwrap(),
            json!(["b", "a", "1"])
        );
        assert!(conform(&ty("list(string)"), json!("x")).is_err());
        assert!(check_type_expr(&ty("strin")).is_err());
        assert!(check_type_expr(&ty("list(strng)")).is_err());
    }
}
