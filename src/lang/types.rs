//! Terraform's types (cty's): primitives, collections (list, set, map), structural types
//! (object, tuple) and `dynamic`; type constraints written in configuration
//! (`object({ a = optional(string, "x") })`) with their defaults.

use super::value::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// `any` in a constraint; the type of `null` and of a value whose type is not known yet.
    Dynamic,
    String,
    Number,
    Bool,
    // Shared (`Arc`): every value carries its type, and cloning one must not copy a whole
    // resource schema's object type.
    List(Arc<Type>),
    Set(Arc<Type>),
    Map(Arc<Type>),
    Tuple(Vec<Type>),
    /// Attribute types, and (in type constraints only) the attributes that are `optional`.
    Object(Arc<BTreeMap<String, Type>>, Arc<BTreeSet<String>>),
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Arc::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Arc::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Arc::new(t))
    }
    pub fn object(attrs: BTreeMap<String, Type>) -> Type {
        Type::Object(Arc::new(attrs), Arc::default())
    }
    /// An object type constraint whose `optional` attributes may be left out.
    pub fn object_with_optional(attrs: BTreeMap<String, Type>, optional: BTreeSet<String>) -> Type {
        Type::Object(Arc::new(attrs), Arc::new(optional))
    }
    pub fn empty_object() -> Type {
        Type::object(BTreeMap::new())
    }

    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::String | Type::Number | Type::Bool)
    }
    pub fn is_collection(&self) -> bool {
        matches!(self, Type::List(_) | Type::Set(_) | Type::Map(_))
    }
    pub fn is_list(&self) -> bool {
        matches!(self, Type::List(_))
    }
    pub fn is_set(&self) -> bool {
        matches!(self, Type::Set(_))
    }
    pub fn is_map(&self) -> bool {
        matches!(self, Type::Map(_))
    }
    pub fn is_tuple(&self) -> bool {
        matches!(self, Type::Tuple(_))
    }
    pub fn is_object(&self) -> bool {
        matches!(self, Type::Object(..))
    }

    /// The element type of a collection.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::List(e) | Type::Set(e) | Type::Map(e) => Some(e),
            _ => None,
        }
    }

    pub fn attrs(&self) -> Option<&BTreeMap<String, Type>> {
        match self {
            Type::Object(a, _) => Some(a),
            _ => None,
        }
    }

    /// Whether `dynamic` appears anywhere in the type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_dynamic(),
            Type::Tuple(ts) => ts.iter().any(Type::has_dynamic),
            Type::Object(a, _) => a.values().any(Type::has_dynamic),
            _ => false,
        }
    }

    /// The same type with `optional` markers dropped (the type of converted values).
    pub fn without_optional(&self) -> Type {
        if !self.has_optional() {
            return self.clone();
        }
        match self {
            Type::List(e) => Type::list(e.without_optional()),
            Type::Set(e) => Type::set(e.without_optional()),
            Type::Map(e) => Type::map(e.without_optional()),
            Type::Tuple(ts) => Type::Tuple(ts.iter().map(Type::without_optional).collect()),
            Type::Object(a, _) => Type::object(
                a.iter()
                    .map(|(k, t)| (k.clone(), t.without_optional()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Whether an object type inside marks `optional` attributes (type constraints only).
    pub fn has_optional(&self) -> bool {
        match self {
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_optional(),
            Type::Tuple(ts) => ts.iter().any(Type::has_optional),
            Type::Object(a, o) => !o.is_empty() || a.values().any(Type::has_optional),
            _ => false,
        }
    }

    /// Whether a value of type `self` fits `constraint` exactly, `dynamic` matching anything
    /// (cty's `TestConformance`).
    pub fn conforms(&self, constraint: &Type) -> bool {
        match (self, constraint) {
            (_, Type::Dynamic) => true,
            (Type::Dynamic, _) => true,
            (Type::List(a), Type::List(b))
            | (Type::Set(a), Type::Set(b))
            | (Type::Map(a), Type::Map(b)) => a.conforms(b),
            (Type::Tuple(a), Type::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.conforms(y))
            }
            (Type::Object(a, _), Type::Object(b, _)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, t)| b.get(k).is_some_and(|u| t.conforms(u)))
            }
            (a, b) => a == b,
        }
    }

    /// cty's `FriendlyName`: `string`, `list of number`, `object`...
    pub fn friendly(&self) -> String {
        self.friendly_mode(false)
    }

    /// cty's `FriendlyNameForConstraint`: `any single type` for a dynamic element.
    pub fn friendly_constraint(&self) -> String {
        self.friendly_mode(true)
    }

    fn friendly_mode(&self, constraint: bool) -> String {
        let elem = |e: &Type| {
            if constraint && *e == Type::Dynamic {
                "any single type".to_string()
            } else {
                e.friendly_mode(constraint)
            }
        };
        match self {
            Type::Dynamic => {
                if constraint {
                    "any type".into()
                } else {
                    "dynamic".into()
                }
            }
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(e) => format!("list of {}", elem(e)),
            Type::Set(e) => format!("set of {}", elem(e)),
            Type::Map(e) => format!("map of {}", elem(e)),
            Type::Tuple(_) => "tuple".into(),
            Type::Object(..) => "object".into(),
        }
    }

    /// The console's `type()` rendering: one element per line, 4-space indents, sorted
    /// attributes, trailing commas.
    pub fn type_string(&self) -> String {
        let mut out = String::new();
        self.write_type(&mut out, 0);
        out
    }

    fn write_type(&self, b: &mut String, indent: usize) {
        let pad = |n: usize| "    ".repeat(n);
        match self {
            Type::Object(attrs, _) => {
                if attrs.is_empty() {
                    b.push_str("object({})");
                    return;
                }
                b.push_str("object({\n");
                for (k, t) in attrs.iter() {
                    b.push_str(&pad(indent + 1));
                    b.push_str(k);
                    b.push_str(": ");
                    t.write_type(b, indent + 1);
                    b.push_str(",\n");
                }
                b.push_str(&pad(indent));
                b.push_str("})");
            }
            Type::Tuple(ts) => {
                if ts.is_empty() {
                    b.push_str("tuple([])");
                    return;
                }
                b.push_str("tuple([\n");
                for t in ts {
                    b.push_str(&pad(indent + 1));
                    t.write_type(b, indent + 1);
                    b.push_str(",\n");
                }
                b.push_str(&pad(indent));
                b.push_str("])");
            }
            Type::List(e) | Type::Set(e) | Type::Map(e) => {
                b.push_str(match self {
                    Type::List(_) => "list(",
                    Type::Set(_) => "set(",
                    _ => "map(",
                });
                let complex = e.is_object() || e.is_tuple();
                if complex {
                    b.push('\n');
                    b.push_str(&pad(indent + 1));
                    e.write_type(b, indent + 1);
                    b.push_str(",\n");
                    b.push_str(&pad(indent));
                } else {
                    e.write_type(b, indent);
                }
                b.push(')');
            }
            other => b.push_str(&other.friendly()),
        }
    }

    /// The type as a constraint expression on one line (`list(string)`,
    /// `object({name=string})`), for messages and `providers schema -json`-like output.
    pub fn expr_string(&self) -> String {
        match self {
            Type::Dynamic => "any".into(),
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(e) => format!("list({})", e.expr_string()),
            Type::Set(e) => format!("set({})", e.expr_string()),
            Type::Map(e) => format!("map({})", e.expr_string()),
            Type::Tuple(ts) => format!(
                "tuple([{}])",
                ts.iter()
                    .map(Type::expr_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Object(a, _) => format!(
                "object({{{}}})",
                a.iter()
                    .map(|(k, t)| format!("{k}={}", t.expr_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The type in Terraform's JSON type notation (`"string"`, `["list","string"]`,
    /// `["object",{"a":"number"}]`), as plan JSON and `providers schema -json` write it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Dynamic => json!("dynamic"),
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
            Type::Object(a, opt) => {
                let attrs: serde_json::Map<String, serde_json::Value> =
                    a.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                if opt.is_empty() {
                    json!(["object", attrs])
                } else {
                    json!(["object", attrs, opt.iter().collect::<Vec<_>>()])
                }
            }
        }
    }

    /// Reads Terraform's JSON type notation.
    pub fn from_json(v: &serde_json::Value) -> Option<Type> {
        use serde_json::Value as J;
        match v {
            J::String(s) => Some(match s.as_str() {
                "string" => Type::String,
                "number" => Type::Number,
                "bool" => Type::Bool,
                "dynamic" => Type::Dynamic,
                _ => return None,
            }),
            J::Array(a) => match (a.first()?.as_str()?, a.get(1)?) {
                ("list", e) => Some(Type::list(Type::from_json(e)?)),
                ("set", e) => Some(Type::set(Type::from_json(e)?)),
                ("map", e) => Some(Type::map(Type::from_json(e)?)),
                ("tuple", J::Array(ts)) => Some(Type::Tuple(
                    ts.iter().map(Type::from_json).collect::<Option<_>>()?,
                )),
                ("object", J::Object(m)) => Some(Type::object(
                    m.iter()
                        .map(|(k, t)| Some((k.clone(), Type::from_json(t)?)))
                        .collect::<Option<_>>()?,
                )),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Default values of `optional(T, default)` attributes in a type constraint, by path
/// (Terraform's `typeexpr.Defaults`): `children` are keyed by attribute name, by `""` for the
/// elements of a collection, or by index for a tuple.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    pub values: BTreeMap<String, Value>,
    pub children: BTreeMap<String, Defaults>,
}

impl Defaults {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.children.is_empty()
    }
}

/// A parsed `type = ...` constraint.
#[derive(Clone, Debug)]
pub struct Constraint {
    pub ty: Type,
    pub defaults: Option<Defaults>,
}

impl Constraint {
    pub fn any() -> Constraint {
        Constraint {
            ty: Type::Dynamic,
            defaults: None,
        }
    }
}

/// Parses a type constraint expression. `eval_default` evaluates the default of an
/// `optional(T, default)` (a constant expression) to a value.
pub fn parse_constraint(
    e: &hcl::Expression,
    eval_default: &dyn Fn(&hcl::Expression) -> Result<Value, String>,
) -> Result<Constraint, String> {
    let mut defaults = Defaults::default();
    let ty = parse_type(e, eval_default, &mut defaults, false)?;
    Ok(Constraint {
        ty,
        defaults: (!defaults.is_empty()).then_some(defaults),
    })
}

const TYPE_HINT: &str =
    "expected string, number, bool, any, list(...), set(...), map(...), object({...}) or tuple([...])";

fn keyword(e: &hcl::Expression) -> Option<&str> {
    match e {
        hcl::Expression::Variable(v) => Some(v.as_str()),
        _ => None,
    }
}

fn parse_type(
    e: &hcl::Expression,
    eval_default: &dyn Fn(&hcl::Expression) -> Result<Value, String>,
    defaults: &mut Defaults,
    in_object: bool,
) -> Result<Type, String> {
    use hcl::Expression as E;
    if let Some(k) = keyword(e) {
        return match k {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Dynamic),
            "list" | "set" | "map" => Err(format!(
                "the {k} type constraint needs an element type: write {k}(string), {k}(any)..."
            )),
            other => Err(format!("unknown type {other:?} ({TYPE_HINT})")),
        };
    }
    let E::FuncCall(f) = e else {
        return Err(format!("invalid type constraint ({TYPE_HINT})"));
    };
    let name = f.name.name.as_str();
    let arg = |i: usize| f.args.get(i);
    let one_arg = || -> Result<&E, String> {
        if f.args.len() != 1 {
            return Err(format!("{name}(...) takes exactly one argument"));
        }
        Ok(&f.args[0])
    };
    match name {
        "list" | "set" | "map" => {
            let mut child = Defaults::default();
            let inner = parse_type(one_arg()?, eval_default, &mut child, false)?;
            if !child.is_empty() {
                defaults.children.insert(String::new(), child);
            }
            Ok(match name {
                "list" => Type::list(inner),
                "set" => Type::set(inner),
                _ => Type::map(inner),
            })
        }
        "tuple" => {
            let E::Array(items) = one_arg()? else {
                return Err(
                    "tuple(...) takes a list of element types: tuple([string, number])".into(),
                );
            };
            let mut types = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let mut child = Defaults::default();
                types.push(parse_type(it, eval_default, &mut child, false)?);
                if !child.is_empty() {
                    defaults.children.insert(i.to_string(), child);
                }
            }
            Ok(Type::Tuple(types))
        }
        "object" => {
            let E::Object(m) = one_arg()? else {
                return Err("object(...) takes attribute types: object({ name = string })".into());
            };
            let mut attrs = BTreeMap::new();
            let mut optional = BTreeSet::new();
            for (k, v) in m {
                let key = match k {
                    hcl::ObjectKey::Identifier(i) => i.to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    hcl::ObjectKey::Expression(E::Variable(v)) => v.to_string(),
                    _ => return Err("object attribute names must be identifiers".into()),
                };
                let mut child = Defaults::default();
                let (t, is_opt) = match v {
                    E::FuncCall(g) if g.name.name.as_str() == "optional" => {
                        if g.args.is_empty() || g.args.len() > 2 {
                            return Err(
                                "optional(...) takes a type and an optional default: optional(string, \"x\")"
                                    .into(),
                            );
                        }
                        let t = parse_type(&g.args[0], eval_default, &mut child, true)?;
                        if let Some(d) = g.args.get(1) {
                            let dv = eval_default(d)
                                .map_err(|e| format!("default of attribute {key:?}: {e}"))?;
                            let dv = super::convert::convert(&dv, &t)
                                .map_err(|e| format!("default of attribute {key:?}: {e}"))?;
                            defaults.values.insert(key.clone(), dv);
                        }
                        (t, true)
                    }
                    other => (parse_type(other, eval_default, &mut child, true)?, false),
                };
                if !child.is_empty() {
                    defaults.children.insert(key.clone(), child);
                }
                if is_opt {
                    optional.insert(key.clone());
                }
                attrs.insert(key, t);
            }
            Ok(Type::object_with_optional(attrs, optional))
        }
        "optional" if !in_object => {
            Err("optional(...) is only allowed for attributes of an object type".into())
        }
        "optional" => match arg(0) {
            Some(t) => parse_type(t, eval_default, defaults, true),
            None => Err("optional(...) needs a type".into()),
        },
        other => Err(format!(
            "invalid type constraint {other}(...) ({TYPE_HINT})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Constraint, String> {
        let body: hcl::Body = hcl::from_str(&format!("t = {src}")).unwrap();
        let e = body.attributes().next().unwrap().expr.clone();
        parse_constraint(&e, &|_| Ok(Value::string("d")))
    }

    #[test]
    fn constraints_parse_with_optional_attributes_and_defaults() {
        let c = parse(
            "object({ name = string, tags = optional(map(string)), n = optional(string, \"x\") })",
        )
        .unwrap();
        let Type::Object(attrs, opt) = &c.ty else {
            panic!()
        };
        assert_eq!(attrs.len(), 3);
        assert!(opt.contains("tags") && opt.contains("n") && !opt.contains("name"));
        assert!(c.defaults.unwrap().values.contains_key("n"));
        assert!(parse("strin").is_err());
        assert!(parse("list").is_err());
        assert!(parse("optional(string)").is_err());
        assert_eq!(parse("list(any)").unwrap().ty, Type::list(Type::Dynamic));
    }

    #[test]
    fn type_strings_match_the_console() {
        let t = Type::object(
            [
                ("a".to_string(), Type::Number),
                (
                    "b".to_string(),
                    Type::Tuple(vec![Type::Number, Type::String]),
                ),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            t.type_string(),
            "object({\n    a: number,\n    b: tuple([\n        number,\n        string,\n    ]),\n})"
        );
        assert_eq!(Type::list(Type::String).type_string(), "list(string)");
        assert_eq!(
            Type::list(Type::list(Type::String)).friendly(),
            "list of list of string"
        );
    }
}
