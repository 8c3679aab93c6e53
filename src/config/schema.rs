//! A small schema language for resource arguments and nested blocks, mirroring the Terraform
//! provider's: it drives lowering (HCL → JSON), type conversion, "did you mean" errors, and
//! the mapping from Terraform argument names to the API's camelCase wire names.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    String,
    Number,
    Bool,
    ListString,
    /// Map of strings: keys are kept verbatim on the wire.
    MapString,
    /// Any value, kept as given (`terraform_data.input`).
    Any,
}

#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// Terraform-only arguments (name, location, deletion_protection...) are not sent in the body.
    pub wire: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nesting {
    /// At most one block: lowered to an object.
    Single,
    /// Any number of blocks: lowered to an array of objects.
    List,
}

#[derive(Debug)]
pub struct BlockSchema {
    pub name: &'static str,
    pub nesting: Nesting,
    pub required: bool,
    pub body: &'static Schema,
}

#[derive(Debug)]
pub struct Schema {
    pub attrs: &'static [Attr],
    pub blocks: &'static [BlockSchema],
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
    pub fn block(&self, name: &str) -> Option<&BlockSchema> {
        self.blocks.iter().find(|b| b.name == name)
    }
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attrs
            .iter()
            .map(|a| a.name)
            .chain(self.blocks.iter().map(|b| b.name))
    }
}

pub const fn opt(name: &'static str, ty: Ty) -> Attr {
    Attr {
        name,
        ty,
        required: false,
        wire: true,
    }
}
pub const fn req(name: &'static str, ty: Ty) -> Attr {
    Attr {
        name,
        ty,
        required: true,
        wire: true,
    }
}
/// A Terraform-side argument that is not part of the API body.
pub const fn meta(name: &'static str, ty: Ty, required: bool) -> Attr {
    Attr {
        name,
        ty,
        required,
        wire: false,
    }
}
pub const fn single(name: &'static str, body: &'static Schema) -> BlockSchema {
    BlockSchema {
        name,
        nesting: Nesting::Single,
        required: false,
        body,
    }
}
pub const fn single_req(name: &'static str, body: &'static Schema) -> BlockSchema {
    BlockSchema {
        name,
        nesting: Nesting::Single,
        required: true,
        body,
    }
}
pub const fn list(name: &'static str, body: &'static Schema) -> BlockSchema {
    BlockSchema {
        name,
        nesting: Nesting::List,
        required: false,
        body,
    }
}

pub use crate::api::common::camel;

/// `taskCount` → `task_count`.
pub fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Converts Terraform-shaped JSON (snake_case) to the API's wire JSON (camelCase), leaving map
/// keys alone and dropping Terraform-only arguments.
pub fn to_wire(v: &serde_json::Value, schema: &Schema) -> serde_json::Value {
    use serde_json::Value;
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, val) in m {
        if val.is_null() {
            continue;
        }
        if let Some(a) = schema.attr(k) {
            if a.wire {
                out.insert(camel(k), val.clone());
            }
        } else if let Some(b) = schema.block(k) {
            let conv = match (b.nesting, val) {
                (Nesting::List, Value::Array(items)) => {
                    Value::Array(items.iter().map(|i| to_wire(i, b.body)).collect())
                }
                _ => to_wire(val, b.body),
            };
            out.insert(camel(k), conv);
        }
    }
    Value::Object(out)
}

/// Converts wire JSON back to Terraform shape for the given schema (unknown fields dropped).
pub fn from_wire(v: &serde_json::Value, schema: &Schema) -> serde_json::Value {
    use serde_json::Value;
    let Value::Object(m) = v else {
        return v.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, val) in m {
        let sk = snake(k);
        if schema.attr(&sk).is_some_and(|a| a.wire) {
            out.insert(sk, val.clone());
        } else if let Some(b) = schema.block(&sk) {
            let conv = match (b.nesting, val) {
                (Nesting::List, Value::Array(items)) => {
                    Value::Array(items.iter().map(|i| from_wire(i, b.body)).collect())
                }
                _ => from_wire(val, b.body),
            };
            out.insert(sk, conv);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversion_round_trips() {
        assert_eq!(camel("task_count"), "taskCount");
        assert_eq!(snake("taskCount"), "task_count");
        assert_eq!(snake(&camel("value_source")), "value_source");
    }

    static INNER: Schema = Schema {
        attrs: &[opt("limits", Ty::MapString)],
        blocks: &[],
    };
    static OUTER: Schema = Schema {
        attrs: &[
            opt("task_count", Ty::Number),
            meta("name", Ty::String, true),
        ],
        blocks: &[single("resources", &INNER)],
    };

    #[test]
    fn wire_conversion_keeps_map_keys_and_drops_meta() {
        let tf = serde_json::json!({"name": "x", "task_count": 2, "resources": {"limits": {"nvidia.com/gpu": "1", "cpu_x": "2"}}});
        let w = to_wire(&tf, &OUTER);
        assert_eq!(
            w,
            serde_json::json!({"taskCount": 2, "resources": {"limits": {"nvidia.com/gpu": "1", "cpu_x": "2"}}})
        );
        let back = from_wire(&w, &OUTER);
        assert_eq!(back["task_count"], 2);
        assert_eq!(back["resources"]["limits"]["cpu_x"], "2");
    }
}
