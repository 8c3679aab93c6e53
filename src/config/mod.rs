//! HCL → [`Stack`]: parse with spans, order by references, evaluate, lower through each
//! resource type's schema, and validate. Every problem becomes a located diagnostic; all of
//! them are reported at once.

pub mod address;
pub mod backend;
mod eval;
pub mod funcs;
pub mod parse;
pub mod schema;
pub mod shipped;
pub mod types;

pub use eval::{data_args, DATA_SOURCES};

use crate::api::ext::ImageMapping;
use crate::diag::{closest, Diagnostic, Diagnostics, Range, Sources};
use crate::graph::Graph;
use parse::{RawAttr, RawBlock, RawBody};
use schema::{Nesting, Schema, Ty};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Values only known after apply are carried as marker strings through evaluation, so that
/// interpolations that contain them stay recognisable.
pub const UNKNOWN_START: char = '\u{1}';
pub fn unknown(what: &str) -> Value {
    Value::String(format!("{UNKNOWN_START}unknown:{what}{UNKNOWN_START}"))
}
pub fn contains_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(UNKNOWN_START),
        Value::Array(a) => a.iter().any(contains_unknown),
        Value::Object(m) => m.values().any(contains_unknown),
        _ => false,
    }
}

/// What the config layer needs to know of a resource type (implemented under `resources/`).
pub trait TypeInfo: Sync {
    fn schema(&self) -> &'static Schema;
    /// Fills in attributes known at plan time (id, project and location defaults).
    fn derive(&self, values: &mut Map<String, Value>, provider: &Provider);
    /// Attributes only known after apply (filled from state when known).
    fn computed(&self) -> &'static [&'static str];
    /// Checks one resource before anything touches an API; `rc.spans` locates its values.
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics);
}

#[derive(Debug, Clone, Default)]
pub struct Provider {
    pub project: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
    pub range: Option<Range>,
}

impl Provider {
    /// Fills the provider's `project` (and its region under `region_key`, e.g. `location` or
    /// `region`) into values that do not set them.
    pub fn fill_defaults(&self, v: &mut Map<String, Value>, region_key: Option<&str>) {
        let pairs = [("project", &self.project)]
            .into_iter()
            .chain(region_key.map(|k| (k, &self.region)));
        for (k, d) in pairs {
            if let (false, Some(d)) = (v.contains_key(k), d) {
                v.insert(k.to_string(), Value::String(d.clone()));
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub addr: String,
    pub ty: String,
    pub name: String,
    /// Terraform-shaped values (snake_case, single blocks as objects, list blocks as arrays).
    pub values: Value,
    /// Source span of every value path (`template.template.containers[0].image`).
    pub spans: BTreeMap<String, Range>,
    pub range: Range,
    /// Addresses this resource depends on (references and `depends_on`).
    pub depends_on: Vec<String>,
    /// The module instance it belongs to (`module.etl`; empty at the root).
    pub module: String,
    /// Its `count` index or `for_each` key, if it has one.
    pub index: Option<Value>,
    pub lifecycle: Lifecycle,
}

/// A resource's `lifecycle` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    /// `ignore_changes`: attribute paths (`labels`, `template.template.containers[0].image`),
    /// or `all`.
    pub ignore_changes: Vec<String>,
    pub ignore_all: bool,
    /// `replace_triggered_by`: full addresses of resources whose change replaces this one.
    pub replace_triggered_by: Vec<String>,
}

impl ResourceConfig {
    /// The span for a value path, or the closest enclosing one, or the block header.
    pub fn span(&self, path: &str) -> Range {
        let mut p = path.to_string();
        loop {
            if let Some(r) = self.spans.get(&p) {
                return r.clone();
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return self.range.clone(),
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub name: String,
    pub value: Value,
    pub sensitive: bool,
}

/// The evaluated desired configuration of one directory.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub dir: PathBuf,
    pub provider: Provider,
    /// Aliased provider configurations by `google.ALIAS` (also `google-beta.ALIAS`).
    pub provider_aliases: BTreeMap<String, Provider>,
    /// Resources in dependency order.
    pub resources: Vec<ResourceConfig>,
    pub outputs: Vec<OutputConfig>,
    pub local_images: Vec<ImageMapping>,
    /// Values of sensitive variables: masked wherever output could show them.
    pub sensitive_values: Vec<String>,
    /// Digest of the configuration files (for saved plans).
    pub digest: String,
    /// Module calls by configuration path (`module.etl.module.inner`, no instance keys) →
    /// their `source`.
    pub module_sources: BTreeMap<String, String>,
    /// The root module's variable values (for plan JSON; sensitive ones are redacted there).
    pub variables: BTreeMap<String, Value>,
    /// `moved { from, to }` blocks (root module): (from, to).
    pub moves: Vec<(String, String)>,
    /// `import { to, id }` blocks: (address, id).
    pub imports: Vec<(String, String)>,
    /// `removed { from, lifecycle { destroy } }` blocks: (address, destroy).
    pub removed: Vec<(String, bool)>,
    /// Preconditions and postconditions that read values known only after apply (checked
    /// again when apply completes).
    pub deferred_conditions: usize,
}

impl Stack {
    pub fn resource(&self, addr: &str) -> Option<&ResourceConfig> {
        self.resources.iter().find(|r| r.addr == addr)
    }
}

pub struct LoadOptions<'a> {
    /// `--var k=v`, in order.
    pub vars: Vec<(String, String)>,
    /// `--var-file`, in order.
    pub var_files: Vec<PathBuf>,
    /// The environment (for `RUNFORM_VAR_*` and provider defaults).
    pub env: BTreeMap<String, String>,
    pub types: &'a dyn Fn(&str) -> Option<&'static dyn TypeInfo>,
    pub type_names: &'a [&'static str],
    /// Attributes already known from state, by address.
    pub known: &'a dyn Fn(&str) -> Option<Map<String, Value>>,
    /// Reads a data source (type, arguments with the provider's project filled in).
    pub data: &'a DataReader<'a>,
    /// The selected workspace (`terraform.workspace`).
    pub workspace: String,
}

pub type DataReader<'a> =
    dyn Fn(&str, &Map<String, Value>) -> Result<Map<String, Value>, String> + 'a;

struct Variable {
    range: Range,
    /// The type's name (`string`, `list`, `object`...) and its full expression.
    ty: Option<String>,
    ty_expr: Option<hcl::Expression>,
    default: Option<Value>,
    sensitive: bool,
    validations: Vec<Validation>,
}

struct Validation {
    condition: hcl::Expression,
    message: hcl::Expression,
    range: Range,
}

struct Loader<'a> {
    opts: &'a LoadOptions<'a>,
    sources: Sources,
    diags: Diagnostics,
    /// Parsed module directories (a module called many times is read once).
    module_cache: BTreeMap<PathBuf, Vec<RawBlock>>,
}

/// Loads and evaluates the stack in `dir`. Returns the stack (if no errors), the
/// diagnostics (errors and warnings), and the sources for rendering them.
pub fn load(dir: &Path, opts: &LoadOptions) -> (Option<Stack>, Diagnostics, Sources) {
    let mut l = Loader {
        opts,
        sources: Sources::default(),
        diags: Diagnostics::default(),
        module_cache: BTreeMap::new(),
    };
    let blocks = parse::parse_dir(dir, &mut l.sources, &mut l.diags);
    let stack = l.build(dir, blocks);
    if let Some(s) = &stack {
        l.diags.mask(&s.sensitive_values);
    }
    let ok = !l.diags.has_errors();
    (stack.filter(|_| ok), l.diags, l.sources)
}

const META_ARGS: &[&str] = &["depends_on", "provider", "lifecycle", "count", "for_each"];

impl Loader<'_> {
    fn variable_decl(&mut self, b: &RawBlock) -> Variable {
        let mut v = Variable {
            range: b.range.clone(),
            ty: None,
            ty_expr: None,
            default: None,
            sensitive: false,
            validations: Vec::new(),
        };
        let empty = hcl::eval::Context::new();
        for a in &b.body.attrs {
            match a.name.as_str() {
                "type" => {
                    v.ty = Some(type_name(&a.expr));
                    if let Err(e) = types::check_type_expr(&a.expr) {
                        self.diags.error(e, Some(a.value_range.clone()));
                    }
                    v.ty_expr = Some(a.expr.clone());
                }
                "default" => match hcl::eval::Evaluate::evaluate(&a.expr, &empty) {
                    Ok(val) => v.default = Some(to_json(&val)),
                    Err(e) => self.diags.error(
                        format!("variable default must be a constant: {e}"),
                        Some(a.value_range.clone()),
                    ),
                },
                "sensitive" => v.sensitive = matches!(a.expr, hcl::Expression::Bool(true)),
                "description" | "nullable" => {}
                other => {
                    let mut d = Diagnostic::error(
                        format!("unknown argument {other:?} in variable block"),
                        Some(a.range.clone()),
                    );
                    if let Some(c) = closest(
                        other,
                        ["type", "default", "description", "sensitive", "nullable"],
                    ) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        for blk in &b.body.blocks {
            if blk.ty != "validation" {
                self.diags.push(Diagnostic::error(
                    format!("unexpected block `{}` in a variable (only `validation` blocks belong here)", blk.ty),
                    Some(blk.range.clone()),
                ));
                continue;
            }
            match (blk.body.attr("condition"), blk.body.attr("error_message")) {
                (Some(c), Some(m)) => v.validations.push(Validation {
                    condition: c.expr.clone(),
                    message: m.expr.clone(),
                    range: c.value_range.clone(),
                }),
                _ => self.diags.error(
                    "a validation block needs `condition` and `error_message`",
                    Some(blk.range.clone()),
                ),
            }
        }
        v
    }

    /// Variable values by precedence: default < RUNFORM_VAR_* < terraform.tfvars <
    /// *.auto.tfvars < --var-file and --var (in the order given).
    fn variable_values(
        &mut self,
        dir: &Path,
        decls: &BTreeMap<String, Variable>,
    ) -> BTreeMap<String, Value> {
        let mut values: BTreeMap<String, Value> = BTreeMap::new();
        for (n, v) in decls {
            if let Some(d) = &v.default {
                values.insert(n.clone(), d.clone());
            }
        }
        for (k, raw) in &self.opts.env {
            if let Some(n) = k
                .strip_prefix("RUNFORM_VAR_")
                .or_else(|| k.strip_prefix("TF_VAR_"))
            {
                if let Some(d) = decls.get(n) {
                    match convert_cli_var(raw, d.ty.as_deref()) {
                        Ok(v) => {
                            values.insert(n.to_string(), v);
                        }
                        Err(e) => self
                            .diags
                            .error(format!("environment variable {k}: {e}"), None),
                    }
                }
            }
        }
        let mut files: Vec<PathBuf> = Vec::new();
        let tfvars = dir.join("terraform.tfvars");
        if tfvars.is_file() {
            files.push(tfvars);
        }
        let mut autos: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.ends_with(".auto.tfvars"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        autos.sort();
        files.extend(autos);
        for f in files {
            self.read_var_file(&f, decls, &mut values, false);
        }
        for f in &self.opts.var_files.clone() {
            self.read_var_file(f, decls, &mut values, true);
        }
        for (k, raw) in &self.opts.vars {
            match decls.get(k) {
                Some(d) => match convert_cli_var(raw, d.ty.as_deref()) {
                    Ok(v) => {
                        values.insert(k.clone(), v);
                    }
                    Err(e) => self.diags.error(format!("--var {k}: {e}"), None),
                },
                None => {
                    let mut d = Diagnostic::error(
                        format!("--var {k}: no variable {k:?} is declared"),
                        None,
                    );
                    if let Some(c) = closest(k, decls.keys().map(String::as_str)) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        for (n, d) in decls {
            if !values.contains_key(n) {
                self.diags.push(
                    Diagnostic::error(format!("variable {n:?} has no value"), Some(d.range.clone()))
                        .with_hint(format!("give it a default, or pass --var {n}=..., a .tfvars file, or RUNFORM_VAR_{n}")),
                );
            }
        }
        values
    }

    fn read_var_file(
        &mut self,
        path: &Path,
        decls: &BTreeMap<String, Variable>,
        values: &mut BTreeMap<String, Value>,
        explicit: bool,
    ) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.diags.error(
                    format!("cannot read variable file {}: {e}", path.display()),
                    None,
                );
                return;
            }
        };
        let name = path.display().to_string();
        let file = self.sources.add(&name, &text);
        let body = match hcl_edit::parser::parse_body(&text) {
            Ok(b) => b,
            Err(e) => {
                self.diags.error(
                    format!(
                        "invalid HCL in {name}:{}:{}: {}",
                        e.location().line(),
                        e.location().column(),
                        e.message()
                    ),
                    None,
                );
                return;
            }
        };
        let empty = hcl::eval::Context::new();
        for s in body.iter() {
            if let hcl_edit::structure::Structure::Attribute(a) = s {
                use hcl_edit::Span;
                let range = self.sources.range(&file, a.span().unwrap_or(0..0));
                let k = a.key.as_str();
                if !decls.contains_key(k) {
                    if explicit {
                        self.diags.error(
                            format!("{name} sets {k:?}, which is not a declared variable"),
                            Some(range),
                        );
                    }
                    continue;
                }
                let expr = hcl::Expression::from(a.value.clone());
                match hcl::eval::Evaluate::evaluate(&expr, &empty) {
                    Ok(v) => {
                        values.insert(k.to_string(), to_json(&v));
                    }
                    Err(e) => self.diags.error(
                        format!("variable files hold constants only: {e}"),
                        Some(range),
                    ),
                }
            }
        }
    }

    fn provider(
        &mut self,
        b: &Option<RawBlock>,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Provider {
        let mut p = Provider::default();
        if let Some(b) = b {
            p.range = Some(b.range.clone());
            for a in &b.body.attrs {
                match a.name.as_str() {
                    "project" | "region" | "zone" => {
                        let v = self.eval(&a.expr, &a.value_range, ctx, env);
                        let s = v.and_then(|v| v.as_str().map(str::to_string));
                        match a.name.as_str() {
                            "project" => p.project = s,
                            "region" => p.region = s,
                            _ => p.zone = s,
                        }
                    }
                    _ => {}
                }
            }
        }
        let env_first = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| self.opts.env.get(*k).filter(|v| !v.is_empty()).cloned())
        };
        // The environment variables the google provider reads, in its order.
        if p.project.is_none() {
            p.project = env_first(&[
                "GOOGLE_PROJECT",
                "GOOGLE_CLOUD_PROJECT",
                "GCLOUD_PROJECT",
                "CLOUDSDK_CORE_PROJECT",
            ]);
        }
        if p.region.is_none() {
            p.region = env_first(&["GOOGLE_REGION", "GCLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"]);
        }
        if p.zone.is_none() {
            p.zone = env_first(&["GOOGLE_ZONE", "GCLOUD_ZONE", "CLOUDSDK_COMPUTE_ZONE"]);
        }
        // A zone names its region (us-central1-a → us-central1).
        if p.region.is_none() {
            p.region = p
                .zone
                .as_ref()
                .and_then(|z| z.rsplit_once('-'))
                .map(|(r, _)| r.to_string());
        }
        p
    }

    fn image_mapping(
        &mut self,
        dir: &Path,
        b: &RawBlock,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Option<ImageMapping> {
        let mut m = ImageMapping {
            image: b.labels[0].clone(),
            ..Default::default()
        };
        for a in &b.body.attrs {
            let v = self.eval(&a.expr, &a.value_range, ctx, env)?;
            match a.name.as_str() {
                "command" | "args" => {
                    let list = v.as_array().map(|xs| xs.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect());
                    let Some(list) = list else {
                        self.diags.error(format!("{} must be a list of strings", a.name), Some(a.value_range.clone()));
                        return None;
                    };
                    if a.name == "command" {
                        m.command = list;
                    } else {
                        m.args = list;
                    }
                }
                "working_dir" => {
                    let wd = v.as_str().unwrap_or(".");
                    let p = dir.join(wd);
                    m.working_dir = Some(std::fs::canonicalize(&p).unwrap_or(p).display().to_string());
                }
                other => self.diags.error(format!("unknown argument {other:?} in local_image (expected command, args, working_dir)"), Some(a.range.clone())),
            }
        }
        if m.command.is_empty() {
            self.diags.error(
                format!("local_image {:?} needs a command", m.image),
                Some(b.range.clone()),
            );
            return None;
        }
        // A relative program path is relative to the stack.
        if m.command[0].starts_with("./") || m.command[0].starts_with("../") {
            let p = dir.join(&m.command[0]);
            m.command[0] = std::fs::canonicalize(&p).unwrap_or(p).display().to_string();
        }
        Some(m)
    }

    fn eval(
        &mut self,
        expr: &hcl::Expression,
        range: &Range,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Option<Value> {
        env.sync(expr, ctx);
        match funcs::evaluate(expr, ctx) {
            Ok(v) => Some(to_json(&v)),
            Err(e) => {
                let msg = e.to_string();
                let mut d = Diagnostic::error(
                    format!("cannot evaluate expression: {msg}"),
                    Some(range.clone()),
                );
                if let hcl::eval::ErrorKind::UndefinedFunc(f) = e.kind() {
                    let name = f.to_string();
                    d = Diagnostic::error(
                        format!("unknown function {name:?}"),
                        Some(range.clone()),
                    );
                    if let Some(c) = closest(&name, funcs::NAMES.iter().copied()) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// A body's blocks with `dynamic` blocks expanded: one generated block per element of
    /// their `for_each`, each with its iterator's name and `{ key, value }`.
    fn expand_dynamic<'b>(
        &mut self,
        body: &'b RawBody,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Vec<Expanded<'b>> {
        use std::borrow::Cow;
        let mut out = Vec::with_capacity(body.blocks.len());
        for b in &body.blocks {
            if b.ty != "dynamic" {
                out.push((Cow::Borrowed(b), None));
                continue;
            }
            let Some(label) = b.labels.first() else {
                self.diags.push(
                    Diagnostic::error("a dynamic block needs a label: the block type to generate", Some(b.range.clone()))
                        .with_hint("e.g. dynamic \"env\" { for_each = var.env; content { name = env.key; value = env.value } }"),
                );
                continue;
            };
            let it = dynamic_iterator(b);
            let content = b.body.blocks.iter().find(|x| x.ty == "content");
            let (Some(fe), Some(content)) = (b.body.attr("for_each"), content) else {
                self.diags.error(
                    format!("dynamic {label:?} needs `for_each` and a `content` block"),
                    Some(b.range.clone()),
                );
                continue;
            };
            for a in &b.body.attrs {
                if !matches!(a.name.as_str(), "for_each" | "iterator" | "labels") {
                    self.diags.error(
                        format!("unexpected argument {:?} in a dynamic block (for_each, iterator and content belong here)", a.name),
                        Some(a.range.clone()),
                    );
                }
            }
            let Some(v) = self.eval(&fe.expr, &fe.value_range, ctx, env) else {
                continue;
            };
            let items: Vec<(Value, Value)> = match v {
                Value::Array(xs) => xs
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| (Value::from(i), x))
                    .collect(),
                // Maps iterate in key order, as in Terraform.
                Value::Object(m) => {
                    let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                    kv.sort_by(|a, b| a.0.cmp(&b.0));
                    kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                }
                Value::Null => Vec::new(),
                other => {
                    let msg = if contains_unknown(&other) {
                        format!(
                            "dynamic {label:?}: for_each depends on values known only after apply"
                        )
                    } else {
                        format!(
                            "dynamic {label:?}: for_each needs a list, set or map, got {}",
                            kind(&other)
                        )
                    };
                    self.diags.error(msg, Some(fe.value_range.clone()));
                    continue;
                }
            };
            for (k, x) in items {
                let blk = RawBlock {
                    ty: label.clone(),
                    labels: Vec::new(),
                    body: content.body.clone(),
                    range: content.range.clone(),
                };
                out.push((
                    Cow::Owned(blk),
                    Some((it.clone(), serde_json::json!({ "key": k, "value": x }))),
                ));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn lower(
        &mut self,
        body: &RawBody,
        schema: &Schema,
        path: &str,
        block_range: &Range,
        spans: &mut BTreeMap<String, Range>,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Map<String, Value> {
        let mut out = Map::with_capacity(body.attrs.len() + body.blocks.len());
        let join = |p: &str, n: &str| {
            if p.is_empty() {
                n.to_string()
            } else {
                format!("{p}.{n}")
            }
        };
        for a in &body.attrs {
            if path.is_empty() && META_ARGS.contains(&a.name.as_str()) {
                continue;
            }
            let Some(attr) = schema.attr(&a.name) else {
                let mut d = if schema.block(&a.name).is_some() {
                    Diagnostic::error(
                        format!("{:?} is a block, not an argument", a.name),
                        Some(a.range.clone()),
                    )
                    .with_hint(format!("write it as `{} {{ ... }}`", a.name))
                } else {
                    Diagnostic::error(
                        format!("unsupported argument {:?}", a.name),
                        Some(a.range.clone()),
                    )
                };
                if d.hint.is_none() {
                    if let Some(c) = closest(&a.name, schema.names()) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                }
                self.diags.push(d);
                continue;
            };
            let p = join(path, &a.name);
            spans.insert(p.clone(), a.value_range.clone());
            for (k, r) in &a.item_ranges {
                spans.insert(format!("{p}.{k}"), r.clone());
            }
            let Some(v) = self.eval(&a.expr, &a.value_range, ctx, env) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            match convert(&v, attr.ty) {
                Ok(v) => {
                    out.insert(a.name.clone(), v);
                }
                Err(e) => self
                    .diags
                    .error(format!("{}: {e}", a.name), Some(a.value_range.clone())),
            }
        }
        let mut lists: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        let expanded = self.expand_dynamic(body, ctx, env);
        for (b, iter) in expanded.iter() {
            if path.is_empty() && b.ty == "lifecycle" {
                continue;
            }
            if path.is_empty() && matches!(b.ty.as_str(), "provisioner" | "connection") {
                self.diags.push(
                    Diagnostic::error(format!("`{}` blocks are not supported: runform does not run commands on your machine or over SSH during apply", b.ty), Some(b.range.clone()))
                        .with_hint("run the command in your pipeline before or after `runform apply`; to run work in the cloud, use a runform_job_execution"),
                );
                continue;
            }
            // Inside a `dynamic` block's content, its iterator is bound.
            if let Some((name, v)) = iter {
                env.set_root(name, v.clone());
            }
            let Some(bs) = schema.block(&b.ty) else {
                let mut d = if schema.attr(&b.ty).is_some() {
                    Diagnostic::error(
                        format!("{:?} is an argument, not a block", b.ty),
                        Some(b.range.clone()),
                    )
                    .with_hint(format!("write it as `{} = ...`", b.ty))
                } else {
                    Diagnostic::error(
                        format!("unsupported block {:?}", b.ty),
                        Some(b.range.clone()),
                    )
                };
                if d.hint.is_none() {
                    if let Some(c) = closest(&b.ty, schema.names()) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                }
                self.diags.push(d);
                continue;
            };
            if !b.labels.is_empty() {
                self.diags.error(
                    format!("block {:?} takes no labels", b.ty),
                    Some(b.range.clone()),
                );
            }
            match bs.nesting {
                Nesting::Single => {
                    if out.contains_key(bs.name) {
                        self.diags.error(
                            format!("only one {:?} block is allowed here", b.ty),
                            Some(b.range.clone()),
                        );
                        continue;
                    }
                    let p = join(path, bs.name);
                    spans.insert(p.clone(), b.range.clone());
                    let v = self.lower(&b.body, bs.body, &p, &b.range, spans, ctx, env);
                    out.insert(bs.name.to_string(), Value::Object(v));
                }
                Nesting::List => {
                    let items = lists.entry(bs.name).or_default();
                    let p = format!("{}[{}]", join(path, bs.name), items.len());
                    spans.insert(p.clone(), b.range.clone());
                    let v = self.lower(&b.body, bs.body, &p, &b.range, spans, ctx, env);
                    items.push(Value::Object(v));
                }
            }
        }
        for (k, v) in lists {
            out.insert(k.to_string(), Value::Array(v));
        }
        for a in schema.attrs.iter().filter(|a| a.required) {
            if !out.contains_key(a.name) && body.attr(a.name).is_none() {
                self.diags.push(
                    Diagnostic::error(
                        format!("missing required argument {:?}", a.name),
                        Some(block_range.clone()),
                    )
                    .with_hint(format!("add `{} = ...` to this block", a.name)),
                );
            }
        }
        for b in schema.blocks.iter().filter(|b| b.required) {
            if !out.contains_key(b.name) {
                self.diags.push(
                    Diagnostic::error(
                        format!("missing required block {:?}", b.name),
                        Some(block_range.clone()),
                    )
                    .with_hint(format!("add `{} {{ ... }}`", b.name)),
                );
            }
        }
        out
    }

    fn refs_of_attr(
        &mut self,
        a: &RawAttr,
        k: &KnownRoots,
        bound: &mut Vec<String>,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut bad = Vec::new();
        collect_refs(
            &a.expr,
            bound,
            &mut |root, second, third| match k.resolve(root, second, third) {
                Ok(Some(n)) => {
                    out.insert(n);
                }
                Ok(None) => {}
                Err(e) => bad.push(e),
            },
        );
        for e in bad {
            self.diags.push(e.at(a.value_range.clone()));
        }
        out
    }

    fn refs_of_body(
        &mut self,
        body: &RawBody,
        k: &KnownRoots,
        out: &mut BTreeSet<String>,
        bound: &mut Vec<String>,
    ) {
        for a in &body.attrs {
            // Meta-arguments that name things rather than read values.
            if matches!(a.name.as_str(), "depends_on" | "provider" | "providers") {
                continue;
            }
            out.extend(self.refs_of_attr(a, k, bound));
        }
        for b in &body.blocks {
            if b.ty == "lifecycle" {
                // ignore_changes names attributes, not values.
                for a in b.body.attrs.iter().filter(|a| a.name != "ignore_changes") {
                    out.extend(self.refs_of_attr(a, k, bound));
                }
                for inner in &b.body.blocks {
                    self.refs_of_body(&inner.body, k, out, bound);
                }
                continue;
            }
            if b.ty == "dynamic" {
                // The iterator (the block's label, or `iterator = x`) is bound in `content`.
                let it = dynamic_iterator(b);
                let n = bound.len();
                for a in &b.body.attrs {
                    if a.name != "iterator" {
                        out.extend(self.refs_of_attr(a, k, bound));
                    }
                }
                bound.push(it);
                for inner in &b.body.blocks {
                    self.refs_of_body(&inner.body, k, out, bound);
                }
                bound.truncate(n);
            } else {
                self.refs_of_body(&b.body, k, out, bound);
            }
        }
    }
}

/// A block after `dynamic` expansion, with the iterator bound in its content.
type Expanded<'b> = (std::borrow::Cow<'b, RawBlock>, Option<(String, Value)>);

/// Receives (root, first attribute, second attribute) of each reference.
type RefSink<'f> = dyn FnMut(&str, Option<&str>, Option<&str>) + 'f;

/// The iterator name of a `dynamic` block.
fn dynamic_iterator(b: &RawBlock) -> String {
    match b.body.attr("iterator").map(|a| &a.expr) {
        Some(hcl::Expression::Variable(v)) => v.to_string(),
        _ => b.labels.first().cloned().unwrap_or_default(),
    }
}

struct KnownRoots<'a> {
    variables: &'a BTreeMap<String, Variable>,
    locals: &'a BTreeMap<String, RawAttr>,
    resources: &'a BTreeMap<String, RawBlock>,
    data: &'a BTreeMap<String, RawBlock>,
    modules: &'a BTreeMap<String, RawBlock>,
    types: &'a [&'static str],
}

struct RefError {
    msg: String,
    hint: Option<String>,
}

impl RefError {
    fn at(self, r: Range) -> Diagnostic {
        let d = Diagnostic::error(self.msg, Some(r));
        match self.hint {
            Some(h) => d.with_hint(h),
            None => d,
        }
    }
}

impl KnownRoots<'_> {
    fn declared(&self, node: &str) -> bool {
        self.resources.contains_key(node)
            || self.data.contains_key(node)
            || self.modules.contains_key(node)
    }

    /// Maps a reference root (and its first attributes) to a graph node, or explains why it
    /// is not a valid reference.
    fn resolve(
        &self,
        root: &str,
        second: Option<&str>,
        third: Option<&str>,
    ) -> Result<Option<String>, RefError> {
        let n = second.unwrap_or("");
        let undeclared = |what: &str, prefix: &str, names: Vec<&str>| RefError {
            msg: format!("reference to undeclared {what} {prefix}{n}"),
            hint: closest(n, names).map(|c| format!("did you mean {prefix}{c}?")),
        };
        match root {
            "var" if self.variables.contains_key(n) => Ok(Some(format!("var.{n}"))),
            "var" => Err(undeclared(
                "variable",
                "var.",
                self.variables.keys().map(String::as_str).collect(),
            )),
            "local" if self.locals.contains_key(n) => Ok(Some(format!("local.{n}"))),
            "local" => Err(undeclared(
                "local value",
                "local.",
                self.locals.keys().map(String::as_str).collect(),
            )),
            "module" if self.modules.contains_key(&format!("module.{n}")) => {
                Ok(Some(format!("module.{n}")))
            }
            "module" => Err(undeclared(
                "module",
                "module.",
                self.modules
                    .keys()
                    .filter_map(|k| k.strip_prefix("module."))
                    .collect(),
            )),
            "data" => {
                let node = format!("data.{n}.{}", third.unwrap_or(""));
                if self.data.contains_key(&node) {
                    Ok(Some(node))
                } else {
                    Err(RefError {
                        msg: format!("reference to undeclared data source {node}"),
                        hint: closest(&node, self.data.keys().map(String::as_str))
                            .map(|c| format!("did you mean {c}?")),
                    })
                }
            }
            "path" | "terraform" | "each" | "count" | "self" => Ok(None),
            "resource" => {
                let node = format!("{n}.{}", third.unwrap_or(""));
                Ok(self.resources.contains_key(&node).then_some(node))
            }
            _ => {
                let addr = format!("{root}.{n}");
                if self.resources.contains_key(&addr) {
                    Ok(Some(addr))
                } else if self.types.contains(&root) {
                    let names: Vec<&str> = self
                        .resources
                        .keys()
                        .filter_map(|k| k.strip_prefix(&format!("{root}.")))
                        .collect();
                    Err(RefError {
                        msg: format!("reference to undeclared resource {addr}"),
                        hint: closest(n, names).map(|c| format!("did you mean {root}.{c}?")),
                    })
                } else {
                    Err(RefError {
                        msg: format!("unknown reference {root:?}"),
                        hint: Some("references start with var., local., data., module., or a resource type such as google_cloud_run_v2_job.".into()),
                    })
                }
            }
        }
    }
}

/// Calls `f(root, first_attr, second_attr)` for every variable reference in `expr`, skipping
/// names bound by enclosing `for` expressions.
fn collect_refs(expr: &hcl::Expression, bound: &mut Vec<String>, f: &mut RefSink) {
    use hcl::expr::{Operation, TraversalOperator};
    use hcl::Expression as E;
    match expr {
        E::Variable(v) if !bound.iter().any(|b| b == v.as_str()) => f(v.as_str(), None, None),
        E::Variable(_) => {}
        E::Traversal(t) => {
            if let E::Variable(v) = &t.expr {
                if !bound.iter().any(|b| b == v.as_str()) {
                    let attr = |i: usize| match t.operators.get(i) {
                        Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
                        _ => None,
                    };
                    let second = attr(0);
                    f(v.as_str(), second, second.and(attr(1)));
                }
            } else {
                collect_refs(&t.expr, bound, f);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    collect_refs(i, bound, f);
                }
            }
        }
        E::Array(items) => items.iter().for_each(|i| collect_refs(i, bound, f)),
        E::Object(m) => {
            for (k, v) in m {
                if let hcl::ObjectKey::Expression(e) = k {
                    collect_refs(e, bound, f);
                }
                collect_refs(v, bound, f);
            }
        }
        E::TemplateExpr(t) => {
            if let Ok(tpl) = hcl::Template::from_expr(t) {
                collect_template_refs(tpl.elements(), bound, f);
            }
        }
        E::FuncCall(fc) => fc.args.iter().for_each(|a| collect_refs(a, bound, f)),
        E::Parenthesis(e) => collect_refs(e, bound, f),
        E::Conditional(c) => {
            collect_refs(&c.cond_expr, bound, f);
            collect_refs(&c.true_expr, bound, f);
            collect_refs(&c.false_expr, bound, f);
        }
        E::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => collect_refs(&u.expr, bound, f),
            Operation::Binary(b) => {
                collect_refs(&b.lhs_expr, bound, f);
                collect_refs(&b.rhs_expr, bound, f);
            }
        },
        E::ForExpr(fe) => {
            collect_refs(&fe.collection_expr, bound, f);
            let n = bound.len();
            bound.push(fe.value_var.to_string());
            if let Some(k) = &fe.key_var {
                bound.push(k.to_string());
            }
            if let Some(k) = &fe.key_expr {
                collect_refs(k, bound, f);
            }
            collect_refs(&fe.value_expr, bound, f);
            if let Some(c) = &fe.cond_expr {
                collect_refs(c, bound, f);
            }
            bound.truncate(n);
        }
        _ => {}
    }
}

fn collect_template_refs(
    elements: &[hcl::template::Element],
    bound: &mut Vec<String>,
    f: &mut RefSink,
) {
    use hcl::template::{Directive, Element};
    for el in elements {
        match el {
            Element::Interpolation(i) => collect_refs(&i.expr, bound, f),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(i) => {
                    collect_refs(&i.cond_expr, bound, f);
                    collect_template_refs(i.true_template.elements(), bound, f);
                    if let Some(t) = &i.false_template {
                        collect_template_refs(t.elements(), bound, f);
                    }
                }
                Directive::For(fd) => {
                    collect_refs(&fd.collection_expr, bound, f);
                    let n = bound.len();
                    bound.push(fd.value_var.to_string());
                    if let Some(k) = &fd.key_var {
                        bound.push(k.to_string());
                    }
                    collect_template_refs(fd.template.elements(), bound, f);
                    bound.truncate(n);
                }
            },
            Element::Literal(_) => {}
        }
    }
}

/// The evaluation environment: root objects (var, local, one per resource type), declared
/// into the hcl context lazily, only when an expression uses a root that changed.
#[derive(Default)]
struct Env {
    roots: BTreeMap<String, Value>,
    dirty: BTreeSet<String>,
}

impl Env {
    /// Whether an expression reads a value known only after apply.
    fn touches_unknown(&self, expr: &hcl::Expression) -> bool {
        let mut hit = false;
        collect_refs(expr, &mut Vec::new(), &mut |root, second, third| {
            let mut v = self.roots.get(root);
            for k in [second, third].into_iter().flatten() {
                v = v.and_then(|x| x.get(k));
            }
            if v.is_some_and(contains_unknown) {
                hit = true;
            }
        });
        hit
    }

    fn set_root(&mut self, root: &str, v: Value) {
        self.roots.insert(root.to_string(), v);
        self.dirty.insert(root.to_string());
    }

    /// `data.TYPE.NAME`.
    fn set_data(&mut self, ty: &str, name: &str, v: Value) {
        let data = self
            .roots
            .entry("data".to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = data {
            if let Value::Object(t) = m
                .entry(ty.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
            {
                t.insert(name.to_string(), v);
            }
        }
        self.dirty.insert("data".to_string());
    }

    fn set_member(&mut self, root: &str, name: &str, v: Value) {
        let obj = self
            .roots
            .entry(root.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = obj {
            m.insert(name.to_string(), v);
        }
        self.dirty.insert(root.to_string());
    }

    fn sync(&mut self, expr: &hcl::Expression, ctx: &mut hcl::eval::Context) {
        if self.dirty.is_empty() {
            return;
        }
        let mut used = BTreeSet::new();
        collect_refs(expr, &mut Vec::new(), &mut |root, _, _| {
            used.insert(root.to_string());
        });
        for r in used {
            if self.dirty.remove(&r) {
                if let Some(v) = self.roots.get(&r) {
                    ctx.declare_var(r.as_str(), from_json(v));
                }
            }
        }
    }
}

fn json_obj(m: BTreeMap<String, Value>) -> Value {
    Value::Object(m.into_iter().collect())
}

pub fn to_json(v: &hcl::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn from_json(v: &Value) -> hcl::Value {
    hcl::to_value(v).unwrap_or(hcl::Value::Null)
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// Converts a value to an argument's type, as Terraform does for primitives.
fn convert(v: &Value, ty: Ty) -> Result<Value, String> {
    let scalar_str = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {}", kind(other))),
    };
    match ty {
        Ty::String => scalar_str(v).map(Value::String),
        Ty::Number => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) if s.contains(UNKNOWN_START) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(|f| serde_json::json!(f))
                .map_err(|_| format!("expected a number, got {s:?}")),
            other => Err(format!("expected a number, got {}", kind(other))),
        },
        Ty::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            other => Err(format!("expected true or false, got {}", kind(other))),
        },
        Ty::ListString => match v {
            Value::Array(items) => items
                .iter()
                .map(scalar_str)
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Value::Array(v.into_iter().map(Value::String).collect())),
            other => Err(format!("expected a list of strings, got {}", kind(other))),
        },
        Ty::Any => Ok(v.clone()),
        Ty::MapString => match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, x)| scalar_str(x).map(|s| (k.clone(), Value::String(s))))
                .collect::<Result<Map<_, _>, _>>()
                .map(Value::Object),
            other => Err(format!("expected a map of strings, got {}", kind(other))),
        },
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn type_name(e: &hcl::Expression) -> String {
    match e {
        hcl::Expression::Variable(v) => v.as_str().to_string(),
        hcl::Expression::FuncCall(f) => f.name.to_string(),
        _ => "any".into(),
    }
}

/// Converts a `--var` string to the declared type (complex types are parsed as HCL).
fn convert_cli_var(raw: &str, ty: Option<&str>) -> Result<Value, String> {
    match ty {
        Some("number") => raw
            .trim()
            .parse::<f64>()
            .map(|f| serde_json::json!(f))
            .map_err(|_| format!("{raw:?} is not a number")),
        Some("bool") => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{raw:?} is not true or false")),
        },
        Some("list" | "set" | "tuple" | "map" | "object") => {
            let body: hcl::Body = hcl::from_str(&format!("v = {raw}"))
                .map_err(|e| format!("cannot parse {raw:?}: {e}"))?;
            let expr = body
                .attributes()
                .next()
                .map(|a| a.expr.clone())
                .ok_or("empty value")?;
            hcl::eval::Evaluate::evaluate(&expr, &hcl::eval::Context::new())
                .map(|v| to_json(&v))
                .map_err(|e| e.to_string())
        }
        _ => Ok(Value::String(raw.to_string())),
    }
}

fn schema_problem_name(n: &str) -> Option<&'static str> {
    let ok = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then_some("must start with a letter or underscore and hold only letters, digits, underscores and hyphens")
}
