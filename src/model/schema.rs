//! Resource schemas as data: every argument and exported attribute of a resource type with
//! its type, whether it is required, optional and/or computed, sensitive, forces replacement,
//! its default, and nested blocks with their nesting mode and item limits. One schema drives
//! validation, the shape of values in expressions (blocks are lists or sets, so `[0]`, `[*]`,
//! `one()` and `for` work as in Terraform), what is unknown while planning, plan rendering,
//! plan JSON and `runform providers schema -json`.
//!
//! Schemas are written as text next to each resource type's code, one line per attribute or
//! block, with a dotted path through nested blocks:
//!
//! ```text
//! name                      string        R FN tf
//! template                  list{}        R min=1 max=1
//! template.task_count       number        O C
//! template.template.containers.env  set{}  O
//! ```
//!
//! Types are `string`, `number`, `bool`, `any`, `list(T)`, `set(T)`, `map(T)`; `list{}` and
//! `set{}` are nested blocks. Flags: `R` required, `O` optional, `C` computed, `FN` forces
//! replacement, `S` sensitive, `V` a computed value that changes on every update (an etag),
//! `tf` handled by runform itself rather than sent as is (names, locations,
//! `deletion_protection`), `X` an argument of the provider that runform does not implement
//! yet (refused with a located error), `min=N`/`max=N` block limits, `wire=NAME` the API's
//! field name when it is not the camelCase of the argument, `default=JSON`.
//!
//! Values exist in two shapes: Terraform's (a [`Value`] of the schema's implied type, nested
//! blocks as lists or sets) and runform's internal JSON (what resource types, state and wire
//! conversion use: a block limited to one item is an object, absent when unset; other blocks
//! are arrays; unknown values are left out and their paths listed beside).

use crate::lang::{Type, Value, V};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    List,
    Set,
}

/// How an attribute maps to the API's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// The camelCase of the Terraform name.
    Camel,
    /// A different API field name.
    Named(String),
    /// Not sent as is: the resource type's code handles it.
    TerraformOnly,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    pub ty: Type,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub force_new: bool,
    pub volatile: bool,
    pub default: Option<Json>,
    pub wire: Wire,
    /// False for an argument of the provider that runform does not implement yet.
    pub supported: bool,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    pub nesting: Nesting,
    pub min: usize,
    /// 0: no limit.
    pub max: usize,
    pub optional: bool,
    pub computed: bool,
    pub force_new: bool,
    pub wire: Wire,
    pub supported: bool,
    pub body: Schema,
}

impl Block {
    /// A block of at most one item: an object (or absent) in the internal shape.
    pub fn single(&self) -> bool {
        self.max == 1
    }
    pub fn required(&self) -> bool {
        self.min > 0
    }
}

#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub attrs: Vec<Attr>,
    pub blocks: Vec<Block>,
    /// [`Schema::implied_type`], computed once (every resource's value needs it).
    implied: std::sync::OnceLock<Type>,
}

fn parse_type(t: &str) -> Option<Type> {
    Some(match t {
        "string" => Type::String,
        "number" => Type::Number,
        "bool" => Type::Bool,
        "any" => Type::Dynamic,
        _ => {
            let (kind, inner) = t.split_once('(')?;
            let inner = parse_type(inner.strip_suffix(')')?)?;
            match kind {
                "list" => Type::list(inner),
                "set" => Type::set(inner),
                "map" => Type::map(inner),
                _ => return None,
            }
        }
    })
}

impl Schema {
    /// Parses schema text (see the module documentation). Panics on malformed text: schemas
    /// are part of the program, and a test parses every one.
    pub fn parse(text: &str) -> Schema {
        let mut root = Schema::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(path), Some(ty)) = (words.next(), words.next()) else {
                panic!("schema line {}: {line:?}: needs a path and a type", n + 1);
            };
            let flags: Vec<&str> = words.collect();
            let has = |f: &str| flags.contains(&f);
            let val = |k: &str| {
                flags
                    .iter()
                    .find_map(|f| f.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            };
            let (parent_path, name) = match path.rsplit_once('.') {
                Some((p, n)) => (Some(p), n),
                None => (None, path),
            };
            let parent = match parent_path {
                None => &mut root,
                Some(p) => root
                    .block_path_mut(p)
                    .unwrap_or_else(|| panic!("schema line {}: no block {p:?}", n + 1)),
            };
            let required = has("R");
            let computed = has("C");
            let optional = has("O") || (!required && !computed);
            let wire = if has("tf") {
                Wire::TerraformOnly
            } else if let Some(w) = val("wire") {
                Wire::Named(w.to_string())
            } else {
                Wire::Camel
            };
            if ty == "list{}" || ty == "set{}" {
                let min = val("min")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(usize::from(required));
                parent.blocks.push(Block {
                    name: name.to_string(),
                    nesting: if ty == "set{}" {
                        Nesting::Set
                    } else {
                        Nesting::List
                    },
                    min,
                    max: val("max").and_then(|v| v.parse().ok()).unwrap_or(0),
                    optional,
                    computed,
                    force_new: has("FN"),
                    wire,
                    supported: !has("X"),
                    body: Schema::default(),
                });
            } else {
                let t = parse_type(ty)
                    .unwrap_or_else(|| panic!("schema line {}: bad type {ty:?}", n + 1));
                parent.attrs.push(Attr {
                    name: name.to_string(),
                    ty: t,
                    required,
                    optional: optional && !required,
                    computed,
                    sensitive: has("S"),
                    force_new: has("FN"),
                    volatile: has("V"),
                    default: val("default").map(|d| {
                        serde_json::from_str(d).unwrap_or_else(|_| Json::String(d.to_string()))
                    }),
                    wire,
                    supported: !has("X"),
                });
            }
        }
        root
    }

    fn block_path_mut(&mut self, path: &str) -> Option<&mut Schema> {
        let mut cur = self;
        for seg in path.split('.') {
            cur = &mut cur.blocks.iter_mut().find(|b| b.name == seg)?.body;
        }
        Some(cur)
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// Names of what a configuration may set here (for "did you mean").
    pub fn settable_names(&self) -> impl Iterator<Item = &str> {
        self.attrs
            .iter()
            .filter(|a| a.required || a.optional)
            .map(|a| a.name.as_str())
            .chain(
                self.blocks
                    .iter()
                    .filter(|b| b.required() || b.optional)
                    .map(|b| b.name.as_str()),
            )
    }

    /// The schema of a nested block by internal path (`template.template.containers`).
    pub fn at(&self, path: &str) -> Option<&Schema> {
        let mut cur = self;
        for seg in path.split('.').filter(|s| !s.is_empty()) {
            let name = seg.split('[').next().unwrap_or(seg);
            cur = &cur.block(name)?.body;
        }
        Some(cur)
    }

    /// The attribute at an internal path (`template.task_count`, `labels`).
    pub fn attr_at(&self, path: &str) -> Option<&Attr> {
        let (parent, name) = match path.rsplit_once('.') {
            Some((p, n)) => (self.at(p)?, n),
            None => (self, path),
        };
        parent.attr(name.split('[').next().unwrap_or(name))
    }

    /// The google provider's label bookkeeping (5.x and later), for types that have it:
    /// `terraform_labels` and `effective_labels` are the configured labels (runform adds no
    /// provider-level default labels), `effective_annotations` the configured annotations.
    /// Derived where values are read (planned values, state, plan JSON) rather than kept in
    /// every resource's configuration: 10,000 resources would carry three more maps each.
    pub fn derive_label_attrs(&self, values: &mut Json, unknown: &mut Vec<String>) {
        let Json::Object(m) = values else { return };
        // A new object's effective labels are its terraform labels (defaults included).
        let effective_from = if m.contains_key("terraform_labels") {
            "terraform_labels"
        } else {
            "labels"
        };
        for (attr, from) in [
            ("terraform_labels", "labels"),
            ("effective_labels", effective_from),
            ("effective_annotations", "annotations"),
        ] {
            if self.attr(attr).is_none() || m.contains_key(attr) {
                continue;
            }
            if unknown.iter().any(|u| super::change::path_within(u, from)) {
                if !unknown.iter().any(|u| u == attr) {
                    unknown.push(attr.to_string());
                }
                continue;
            }
            let v = m
                .get(from)
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or_else(|| Json::Object(Map::new()));
            m.insert(attr.to_string(), v);
        }
    }

    /// Whether any attribute, at any depth, is sensitive.
    pub fn has_sensitive(&self) -> bool {
        self.attrs.iter().any(|a| a.sensitive) || self.blocks.iter().any(|b| b.body.has_sensitive())
    }

    /// The type of a value of this schema in expressions.
    pub fn implied_type(&self) -> Type {
        self.implied
            .get_or_init(|| self.compute_implied_type())
            .clone()
    }

    fn compute_implied_type(&self) -> Type {
        let mut attrs = BTreeMap::new();
        for a in &self.attrs {
            attrs.insert(a.name.clone(), a.ty.clone());
        }
        for b in &self.blocks {
            let inner = b.body.implied_type();
            attrs.insert(
                b.name.clone(),
                match b.nesting {
                    Nesting::List => Type::list(inner),
                    Nesting::Set => Type::set(inner),
                },
            );
        }
        Type::object(attrs)
    }

    /// A Terraform-shaped value (of this schema's implied type) in the internal JSON shape,
    /// with the paths of its unknown and of its sensitive values.
    pub fn to_internal(&self, v: &Value) -> Internal {
        let mut out = Internal::default();
        if let Json::Object(m) = self.internal_obj(v, "", &mut out) {
            out.json = Json::Object(m);
        } else {
            out.json = Json::Object(Map::new());
        }
        out
    }

    fn internal_obj(&self, v: &Value, path: &str, out: &mut Internal) -> Json {
        let Some(m) = v.entries() else {
            return Json::Null;
        };
        let mut obj = Map::new();
        for (k, x) in m {
            let p = || join(path, k);
            if let Some(b) = self.block(k) {
                let p = p();
                if x.sensitive {
                    out.sensitive.push(p.clone());
                }
                if !x.is_known() {
                    out.unknown.push(p);
                    continue;
                }
                let items = x.elements().unwrap_or_default();
                if items.is_empty() {
                    // An absent block is left out: smaller values, and an optional-computed
                    // one stays the server's to fill.
                    continue;
                }
                if b.single() {
                    if let Some(first) = items.first() {
                        if !first.is_known() {
                            out.unknown.push(p);
                            continue;
                        }
                        obj.insert(k.clone(), b.body.internal_obj(first, &p, out));
                    }
                } else {
                    let arr = items
                        .iter()
                        .enumerate()
                        .map(|(i, it)| {
                            let ip = format!("{p}[{i}]");
                            if !it.is_known() {
                                out.unknown.push(ip);
                                Json::Null
                            } else {
                                b.body.internal_obj(it, &ip, out)
                            }
                        })
                        .collect();
                    obj.insert(k.clone(), Json::Array(arr));
                }
            } else if x.is_wholly_known() && !x.contains_marked() {
                // Nothing to record by path: the plain JSON (most arguments).
                if !x.is_null() {
                    if let Some(j) = x.to_json() {
                        obj.insert(k.clone(), j);
                    }
                }
            } else {
                if let Some(j) = plain_json(x, &p(), out) {
                    obj.insert(k.clone(), j);
                }
            }
        }
        Json::Object(obj)
    }

    /// Internal JSON (state, or what a resource type computed) as a Terraform-shaped value of
    /// this schema's type: unset attributes are null, absent blocks empty; the paths in
    /// `unknown` become unknowns.
    pub fn from_internal(&self, j: &Json, unknown: &dyn Fn(&str) -> bool) -> Value {
        self.value_of(j, "", unknown, &|_| false)
    }

    /// As [`from_internal`], with values at `sensitive` paths marked.
    pub fn from_internal_marked(
        &self,
        j: &Json,
        unknown: &dyn Fn(&str) -> bool,
        sensitive: &dyn Fn(&str) -> bool,
    ) -> Value {
        self.value_of(j, "", unknown, sensitive)
    }

    fn value_of(
        &self,
        j: &Json,
        path: &str,
        unknown: &dyn Fn(&str) -> bool,
        sensitive: &dyn Fn(&str) -> bool,
    ) -> Value {
        let empty = Map::new();
        let m = j.as_object().unwrap_or(&empty);
        let mut attrs = BTreeMap::new();
        for a in &self.attrs {
            let p = join(path, &a.name);
            let v = if unknown(&p) && p == "id" {
                // An object always has an id: unknown, but not null (as terraform_data plans it).
                Value::unknown_not_null(a.ty.clone())
            } else if unknown(&p) {
                Value::unknown(a.ty.clone())
            } else {
                match m.get(&a.name) {
                    None | Some(Json::Null) => Value::null(a.ty.clone()),
                    Some(x) => marked_value(x, &a.ty, &p, unknown, sensitive),
                }
            };
            attrs.insert(a.name.clone(), v.mark(a.sensitive || sensitive(&p)));
        }
        for b in &self.blocks {
            let p = join(path, &b.name);
            let ety = b.body.implied_type();
            let coll_ty = match b.nesting {
                Nesting::List => Type::list(ety.clone()),
                Nesting::Set => Type::set(ety.clone()),
            };
            let v = if unknown(&p) {
                Value::unknown(coll_ty)
            } else {
                let items: Vec<Value> = match m.get(&b.name) {
                    Some(Json::Array(xs)) => xs
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            let ip = format!("{p}[{i}]");
                            if unknown(&ip) {
                                Value::unknown(ety.clone())
                            } else {
                                b.body.value_of(x, &ip, unknown, sensitive)
                            }
                        })
                        .collect(),
                    Some(x @ Json::Object(_)) => vec![b.body.value_of(x, &p, unknown, sensitive)],
                    _ => Vec::new(),
                };
                match b.nesting {
                    Nesting::List => Value::list(ety, items),
                    Nesting::Set => Value::set(ety, items),
                }
            };
            attrs.insert(b.name.clone(), v.mark(sensitive(&p)));
        }
        Value::object(attrs)
    }

    /// Internal JSON → the API's wire JSON: camelCase names (or the schema's wire names),
    /// map keys kept, Terraform-only and computed-only attributes left out.
    pub fn to_wire(&self, v: &Json) -> Json {
        let Json::Object(m) = v else {
            return v.clone();
        };
        let mut out = Map::new();
        for (k, val) in m {
            if val.is_null() {
                continue;
            }
            if let Some(a) = self.attr(k) {
                if a.required || a.optional {
                    if let Some(w) = wire_name(&a.wire, k) {
                        out.insert(w, val.clone());
                    }
                }
            } else if let Some(b) = self.block(k) {
                let Some(w) = wire_name(&b.wire, k) else {
                    continue;
                };
                if !(b.required() || b.optional) {
                    continue;
                }
                let conv = match val {
                    Json::Array(items) => {
                        Json::Array(items.iter().map(|i| b.body.to_wire(i)).collect())
                    }
                    other => b.body.to_wire(other),
                };
                out.insert(w, conv);
            }
        }
        Json::Object(out)
    }

    /// Wire JSON → internal JSON for this schema (fields the schema does not know are
    /// dropped; computed ones are kept).
    pub fn from_wire(&self, v: &Json) -> Json {
        let Json::Object(m) = v else {
            return v.clone();
        };
        let mut out = Map::new();
        for a in &self.attrs {
            let Some(w) = wire_name(&a.wire, &a.name) else {
                continue;
            };
            if let Some(x) = m.get(&w) {
                out.insert(a.name.clone(), x.clone());
            }
        }
        for b in &self.blocks {
            let Some(w) = wire_name(&b.wire, &b.name) else {
                continue;
            };
            let Some(x) = m.get(&w) else { continue };
            let conv = match (x, b.single()) {
                (Json::Array(items), true) => match items.first() {
                    Some(first) => b.body.from_wire(first),
                    None => continue,
                },
                (Json::Array(items), false) => {
                    Json::Array(items.iter().map(|i| b.body.from_wire(i)).collect())
                }
                (other, true) => b.body.from_wire(other),
                (other, false) => Json::Array(vec![b.body.from_wire(other)]),
            };
            out.insert(b.name.clone(), conv);
        }
        Json::Object(out)
    }

    /// Paths of every computed attribute not set in `values` (internal shape), for plans of
    /// new objects: their values are known only after apply. Computed blocks that are absent
    /// count as one path.
    pub fn unset_computed(&self, values: &Json, out: &mut Vec<String>) {
        self.unset_computed_at(values, "", out);
    }

    fn unset_computed_at(&self, values: &Json, path: &str, out: &mut Vec<String>) {
        let m = values.as_object();
        let get = |k: &str| m.and_then(|m| m.get(k)).filter(|v| !v.is_null());
        for a in &self.attrs {
            if a.computed && a.supported && a.default.is_none() && get(&a.name).is_none() {
                out.push(join(path, &a.name));
            }
        }
        for b in &self.blocks {
            let p = join(path, &b.name);
            match get(&b.name) {
                None if b.computed && b.supported => out.push(p),
                None => {}
                Some(Json::Array(items)) => {
                    for (i, it) in items.iter().enumerate() {
                        b.body.unset_computed_at(it, &format!("{p}[{i}]"), out);
                    }
                }
                Some(obj) => b.body.unset_computed_at(obj, &p, out),
            }
        }
    }

    /// Takes what the server computed into applied values (both internal shape): computed-only
    /// attributes from the server always (an etag or update time changes with every write);
    /// optional-and-computed ones where the configuration left them unset; nested blocks
    /// element by element. What apply records is then what a read shows, so references to
    /// computed attributes (`uid`, `terminal_condition[0].state`) read real values.
    pub fn fill_computed(&self, values: &mut Json, server: &Json) {
        let (Json::Object(m), Json::Object(srv)) = (values, server) else {
            return;
        };
        for a in self.attrs.iter().filter(|a| a.computed) {
            let from_server = srv.get(&a.name).filter(|v| !v.is_null());
            let unset = m.get(&a.name).is_none_or(Json::is_null);
            match from_server {
                Some(v) if !a.optional || unset => {
                    m.insert(a.name.clone(), coerce(v, &a.ty));
                }
                // The API leaves out fields at their zero value (proto3 JSON): the provider
                // records `reconciling = false`, `execution_count = 0`. What the plan already
                // knows (`id`, Terraform-only values) stays as planned.
                None if !a.optional && unset && a.wire != Wire::TerraformOnly => {
                    if let Some(zero) = zero_value(&a.ty) {
                        m.insert(a.name.clone(), zero);
                    }
                }
                _ => {}
            }
        }
        for b in &self.blocks {
            let from_server = srv.get(&b.name).filter(|v| !v.is_null());
            let unset = m.get(&b.name).is_none_or(Json::is_null);
            if b.computed && (!b.optional || unset) {
                if let Some(v) = from_server {
                    m.insert(b.name.clone(), v.clone());
                }
                continue;
            }
            match (m.get_mut(&b.name), from_server) {
                (Some(Json::Array(mine)), Some(Json::Array(theirs)))
                    if mine.len() == theirs.len() =>
                {
                    for (x, y) in mine.iter_mut().zip(theirs) {
                        b.body.fill_computed(x, y);
                    }
                }
                (Some(mine @ Json::Object(_)), Some(theirs)) => b.body.fill_computed(mine, theirs),
                _ => {}
            }
        }
    }

    /// Fills provider defaults of unset optional attributes (internal shape).
    pub fn fill_defaults(&self, values: &mut Json) {
        let Json::Object(m) = values else { return };
        for a in &self.attrs {
            if let Some(d) = &a.default {
                if m.get(&a.name).is_none_or(Json::is_null) {
                    m.insert(a.name.clone(), d.clone());
                }
            }
        }
        for b in &self.blocks {
            match m.get_mut(&b.name) {
                Some(Json::Array(items)) => items.iter_mut().for_each(|i| b.body.fill_defaults(i)),
                Some(obj @ Json::Object(_)) => b.body.fill_defaults(obj),
                _ => {}
            }
        }
    }
}

fn wire_name(w: &Wire, name: &str) -> Option<String> {
    match w {
        Wire::Camel => Some(crate::api::common::camel(name)),
        Wire::Named(n) => Some(n.clone()),
        Wire::TerraformOnly => None,
    }
}

pub fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The steps of an internal path: `a.b[0].c` → (a, None), (b, Some(0)), (c, None).
fn steps(path: &str) -> Vec<(&str, Option<usize>)> {
    path.split('.')
        .map(|seg| match seg.find('[') {
            Some(i) => (
                &seg[..i],
                seg[i + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (seg, None),
        })
        .collect()
}

/// The JSON at an internal path.
pub fn json_get<'a>(v: &'a Json, path: &str) -> Option<&'a Json> {
    let mut cur = v;
    for (name, idx) in steps(path) {
        cur = cur.get(name)?;
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

/// Sets the JSON at an internal path (objects on the way are created; array elements must
/// exist).
pub fn json_set(v: &mut Json, path: &str, new: Json) {
    let st = steps(path);
    let mut cur = v;
    for (n, (name, idx)) in st.iter().enumerate() {
        let last = n + 1 == st.len();
        let Json::Object(m) = cur else { return };
        if last && idx.is_none() {
            m.insert(name.to_string(), new);
            return;
        }
        cur = m
            .entry(name.to_string())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Some(i) = idx {
            let Some(x) = cur.get_mut(*i) else { return };
            if last {
                *x = new;
                return;
            }
            cur = x;
        }
    }
}

/// Internal JSON with a null at every unknown path whose object lacks the key: the
/// placeholders that let an object rebuilt from JSON keep its unknown attributes
/// (`{ upper = (known after apply) }` inside a `terraform_data` input).
pub fn with_unknown_keys(values: &Json, unknown: &[String]) -> Json {
    let mut out = values.clone();
    for p in unknown {
        let Some((parent, key)) = p.rsplit_once('.') else {
            continue;
        };
        if key.contains('[') || json_get(&out, p).is_some() {
            continue;
        }
        if let Some(Json::Object(_)) = json_get(&out, parent) {
            json_set(&mut out, p, Json::Null);
        }
    }
    out
}

/// A value in internal JSON, with unknown and sensitive paths.
#[derive(Debug, Clone, Default)]
pub struct Internal {
    pub json: Json,
    pub unknown: Vec<String>,
    pub sensitive: Vec<String>,
}

/// A non-block value as JSON: null and unknown left out (unknown paths recorded), marks
/// recorded by path (the JSON keeps the real value: it is what the API is sent).
fn plain_json(v: &Value, path: &str, out: &mut Internal) -> Option<Json> {
    if v.sensitive {
        out.sensitive.push(path.to_string());
    }
    Some(match &v.v {
        V::Null(_) => return None,
        V::Unknown(..) => {
            out.unknown.push(path.to_string());
            return None;
        }
        V::Bool(b) => Json::Bool(*b),
        V::Number(n) => number_json(n),
        V::String(s) => Json::String(s.clone()),
        V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => Json::Array(
            xs.iter()
                .enumerate()
                .map(|(i, x)| plain_json(x, &format!("{path}[{i}]"), out).unwrap_or(Json::Null))
                .collect(),
        ),
        // Inside a value a null stays (`{ none = null }`); an unknown is left out (its path
        // says it is unknown; see `with_unknown_keys`).
        V::Map(_, m) | V::Object(m) => Json::Object(
            m.iter()
                .filter_map(|(k, x)| {
                    let j = plain_json(x, &format!("{path}.{k}"), out);
                    let j = j.or_else(|| x.is_null().then_some(Json::Null));
                    j.map(|j| (k.clone(), j))
                })
                .collect(),
        ),
    })
}

/// JSON at `path` as a value of type `t`, with the unknown and sensitive values inside it
/// (a `terraform_data` input may hold some anywhere).
fn marked_value(
    j: &Json,
    t: &Type,
    path: &str,
    unknown: &dyn Fn(&str) -> bool,
    sensitive: &dyn Fn(&str) -> bool,
) -> Value {
    if unknown(path) {
        return Value::unknown(t.clone());
    }
    let elem = |i: usize| match t {
        Type::List(e) | Type::Set(e) | Type::Map(e) => (**e).clone(),
        Type::Tuple(ts) => ts.get(i).cloned().unwrap_or(Type::Dynamic),
        _ => Type::Dynamic,
    };
    let v = match j {
        Json::Array(xs) if !matches!(t, Type::String | Type::Number | Type::Bool) => {
            let items: Vec<Value> = xs
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    marked_value(x, &elem(i), &format!("{path}[{i}]"), unknown, sensitive)
                })
                .collect();
            match t {
                Type::List(e) => Value::list((**e).clone(), items),
                Type::Set(e) => Value::set((**e).clone(), items),
                _ => Value::tuple(items),
            }
        }
        Json::Object(m) if !matches!(t, Type::String | Type::Number | Type::Bool) => {
            let attr_ty = |k: &str| match t {
                Type::Object(attrs, _) => attrs.get(k).cloned().unwrap_or(Type::Dynamic),
                _ => elem(0),
            };
            let mut entries: BTreeMap<String, Value> = m
                .iter()
                .map(|(k, x)| {
                    let v =
                        marked_value(x, &attr_ty(k), &format!("{path}.{k}"), unknown, sensitive);
                    (k.clone(), v)
                })
                .collect();
            if let Type::Object(attrs, _) = t {
                for (k, at) in attrs.iter() {
                    entries
                        .entry(k.clone())
                        .or_insert_with(|| Value::null(at.clone()));
                }
            }
            match t {
                Type::Map(e) => Value::map((**e).clone(), entries),
                _ => Value::object(entries),
            }
        }
        Json::Null => Value::null(t.clone()),
        x => typed_json(x, t),
    };
    v.mark(sensitive(path))
}

/// A number as JSON: an integer when whole and in range, else the nearest f64.
pub fn number_json(n: &crate::lang::Number) -> Json {
    if let Some(i) = n.to_i64() {
        return Json::from(i);
    }
    serde_json::Number::from_f64(n.to_f64())
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

/// The value a proto3 JSON field has when the API leaves it out.
fn zero_value(t: &Type) -> Option<Json> {
    Some(match t {
        Type::String => Json::String(String::new()),
        Type::Number => Json::from(0),
        Type::Bool => Json::Bool(false),
        Type::List(_) | Type::Set(_) => Json::Array(Vec::new()),
        Type::Map(_) => Json::Object(Map::new()),
        _ => return None,
    })
}

/// Server JSON in the attribute's type where the API spells it differently (int64 fields
/// are JSON strings, Terraform's `generation` is a string of a number).
fn coerce(v: &Json, t: &Type) -> Json {
    match (t, v) {
        (Type::String, Json::Number(n)) => Json::String(n.to_string()),
        (Type::String, Json::Bool(b)) => Json::String(b.to_string()),
        (Type::Number, Json::String(s)) => s
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| s.parse::<f64>().map(Json::from))
            .unwrap_or_else(|_| v.clone()),
        _ => v.clone(),
    }
}

/// JSON as a value of type `t`, converting where Terraform would (numbers and bools in
/// strings); what does not fit becomes a value of the JSON's own type.
pub fn typed_json(j: &Json, t: &Type) -> Value {
    Value::from_json_typed(j, t).unwrap_or_else(|_| Value::from_json(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "
        name                 string R FN tf
        labels               map(string) O
        uid                  string C V
        template             list{} R min=1 max=1
        template.task_count  number O C
        template.env         set{} O
        template.env.name    string R
        template.env.value   string O
    ";

    #[test]
    fn parses_and_converts_between_shapes() {
        let s = Schema::parse(TEXT);
        assert!(s.attr("name").unwrap().force_new);
        let t = s.block("template").unwrap();
        assert!(t.single() && t.required());
        assert_eq!(t.body.block("env").unwrap().nesting, Nesting::Set);
        let internal = serde_json::json!({
            "name": "j", "labels": {"a.b/c": "x"},
            "template": {"task_count": 2, "env": [{"name": "A", "value": "1"}]}
        });
        let v = s.from_internal(&internal, &|p| p == "uid");
        assert!(!v.entries().unwrap()["uid"].is_known());
        let back = s.to_internal(&v);
        assert_eq!(back.json, internal);
        assert_eq!(back.unknown, vec!["uid".to_string()]);
        let wire = s.to_wire(&internal);
        assert_eq!(
            wire,
            serde_json::json!({"labels": {"a.b/c": "x"}, "template": {"taskCount": 2, "env": [{"name": "A", "value": "1"}]}})
        );
        assert_eq!(s.from_wire(&wire)["template"]["task_count"], 2);
        let mut unset = Vec::new();
        s.unset_computed(&serde_json::json!({"template": {}}), &mut unset);
        assert_eq!(
            unset,
            vec!["uid".to_string(), "template.task_count".to_string()]
        );
    }
}
