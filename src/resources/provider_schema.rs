//! `runform providers schema -json`: the schemas of every resource type and data source
//! runform accepts, in Terraform's format (what editors, linters and `tfschema`-style tools
//! read), grouped by the provider each type belongs to.

use crate::model::{Nesting, Schema};
use serde_json::{json, Map, Value};

pub const GOOGLE: &str = "registry.terraform.io/hashicorp/google";

/// The provider a resource type belongs to, as Terraform names it in plan JSON and schemas.
pub fn source_of(ty: &str) -> &'static str {
    match ty {
        t if t.starts_with("google_") => GOOGLE,
        t if t.starts_with("random_") => "registry.terraform.io/hashicorp/random",
        t if t.starts_with("time_") => "registry.terraform.io/hashicorp/time",
        "null_resource" => "registry.terraform.io/hashicorp/null",
        "terraform_data" => "terraform.io/builtin/terraform",
        _ => "runform.dev/builtin/runform",
    }
}

/// The `provider "google"` arguments runform reads.
/// The `provider "google"` block: the provider's arguments (credentials and access tokens
/// sensitive), its custom endpoints, and the nested `batching` block.
fn google_provider_schema() -> Schema {
    use crate::config::provider::{arg_names, ArgKind, ARGS};
    let mut text = String::new();
    for (name, kind) in ARGS.iter().filter(|(n, _)| *n != "alias") {
        let ty = match kind {
            ArgKind::String => "string",
            ArgKind::Bool => "bool",
            ArgKind::StringList => "list(string)",
            ArgKind::StringMap => "map(string)",
            ArgKind::IgnoredBlock | ArgKind::UnsupportedBlock(_) => continue,
        };
        let sensitive = if matches!(*name, "credentials" | "access_token") {
            " S"
        } else {
            ""
        };
        text.push_str(&format!("{name} {ty} O{sensitive}\n"));
    }
    for name in arg_names().filter(|n| n.ends_with("_custom_endpoint")) {
        text.push_str(&format!("{name} string O\n"));
    }
    text.push_str(
        "batching list{} O max=1\nbatching.send_after string O\nbatching.enable_batching bool O\n",
    );
    Schema::parse(&text)
}

/// Terraform's `providers schema -json` document.
pub fn document() -> Value {
    let mut providers: Map<String, Value> = Map::new();
    for ty in super::TYPE_NAMES {
        let Some(info) = super::type_info(ty) else {
            continue;
        };
        insert(
            &mut providers,
            source_of(ty),
            "resource_schemas",
            ty,
            info.schema(),
        );
    }
    for ty in super::data_sources::names() {
        if let Some(s) = super::data_sources::schema(ty) {
            insert(&mut providers, source_of(ty), "data_source_schemas", ty, s);
        }
    }
    if let Some(Value::Object(g)) = providers.get_mut(GOOGLE) {
        g.insert(
            "provider".into(),
            json!({ "version": 0, "block": block(&google_provider_schema()) }),
        );
    }
    json!({ "format_version": "1.0", "provider_schemas": providers })
}

fn insert(providers: &mut Map<String, Value>, source: &str, kind: &str, ty: &str, s: &Schema) {
    let p = providers.entry(source.to_string()).or_insert_with(|| {
        json!({ "provider": { "version": 0 }, "resource_schemas": {}, "data_source_schemas": {} })
    });
    if let Some(Value::Object(m)) = p.get_mut(kind) {
        m.insert(ty.to_string(), json!({ "version": 0, "block": block(s) }));
    }
}

/// One block: arguments runform implements (those it rejects are left out, so an editor
/// flags them), nested blocks with their nesting and limits. Computed-only nested blocks
/// are attributes of list (or set) of object type, as the provider's SDK declares them.
fn block(s: &Schema) -> Value {
    let mut attrs = Map::new();
    for a in s.attrs.iter().filter(|a| a.supported) {
        let mut o = Map::new();
        o.insert("type".into(), a.ty.to_json());
        o.insert("description_kind".into(), "plain".into());
        for (flag, on) in [
            ("required", a.required),
            ("optional", a.optional),
            ("computed", a.computed),
            ("sensitive", a.sensitive),
        ] {
            if on {
                o.insert(flag.into(), true.into());
            }
        }
        attrs.insert(a.name.clone(), Value::Object(o));
    }
    let mut blocks = Map::new();
    for b in s.blocks.iter().filter(|b| b.supported) {
        if b.computed && !b.optional && !b.required() {
            let object = b.body.implied_type();
            let ty = match b.nesting {
                Nesting::List => crate::lang::Type::list(object),
                Nesting::Set => crate::lang::Type::set(object),
            };
            attrs.insert(
                b.name.clone(),
                json!({ "type": ty.to_json(), "description_kind": "plain", "computed": true }),
            );
            continue;
        }
        let mut o = Map::new();
        let mode = match b.nesting {
            Nesting::List => "list",
            Nesting::Set => "set",
        };
        o.insert("nesting_mode".into(), mode.into());
        o.insert("block".into(), block(&b.body));
        if b.min > 0 {
            o.insert("min_items".into(), b.min.into());
        }
        if b.max > 0 {
            o.insert("max_items".into(), b.max.into());
        }
        blocks.insert(b.name.clone(), Value::Object(o));
    }
    let mut out = Map::new();
    if !attrs.is_empty() {
        out.insert("attributes".into(), Value::Object(attrs));
    }
    if !blocks.is_empty() {
        out.insert("block_types".into(), Value::Object(blocks));
    }
    out.insert("description_kind".into(), "plain".into());
    Value::Object(out)
}
