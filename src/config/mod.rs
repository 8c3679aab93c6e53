//! HCL → [`Stack`]: parse with spans, order by references, evaluate with Terraform's value
//! model ([`crate::lang`]) against each resource type's schema, lower to the shape resource
//! types use, and validate. Every problem becomes a located diagnostic; all of them are
//! reported at once.
//!
//! - [`parse`]: files → raw blocks; [`refs`]: what expressions reference;
//! - [`variables`]: declarations, values from the command line, files and environment;
//! - [`module`]: one module instance (the root or a `module` call), in dependency order;
//! - [`lower`]: a resource block → a typed value of its schema; [`scope`]: the names
//!   expressions read.

pub mod address;
pub mod backend;
mod finish;
mod lower;
mod module;
pub mod parse;
pub mod provider;
mod refs;
pub mod scope;
pub mod shipped;
mod variables;

use crate::api::ext::ImageMapping;
use crate::diag::{closest, Diagnostic, Diagnostics, Range, Sources};
use crate::lang::eval::Evaluator;
use crate::model::Schema;
use parse::RawBlock;
pub use scope::Env;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use module::fill_missing;
pub use provider::{AuthSettings, Provider};
pub use variables::Variable;

/// A callback given the root module's default provider (see [`LoadOptions::on_provider`]).
pub type OnProvider<'a> = dyn Fn(&Provider) -> Result<(), String> + Sync + 'a;

/// What the config layer needs to know of a resource type (implemented under `resources/`).
pub trait TypeInfo: Sync {
    fn schema(&self) -> &'static Schema;
    /// Fills in attributes known at plan time (id, project and location defaults); those
    /// derived from values known only after apply are unknown too.
    fn derive(&self, d: &mut Derive, provider: &Provider);
    /// Whether [`TypeInfo::derive`] needs the values last applied ([`Derive::prior`]), e.g.
    /// to keep a name the provider generated.
    fn needs_prior(&self) -> bool {
        false
    }
    /// Checks one resource before anything touches an API; `rc.spans` locates its values.
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics);
    /// The type of a computed attribute whose type depends on the configuration
    /// (`terraform_data.output` has its input's), when not the schema's.
    fn computed_type(
        &self,
        _attr: &str,
        _config: &crate::lang::Value,
    ) -> Option<crate::lang::Type> {
        None
    }
}

/// Computed attributes whose type follows the configuration (terraform_data's `output` has
/// its `input`'s type): converted to it, or an unknown of it.
pub fn with_computed_types(
    info: &dyn TypeInfo,
    v: &mut crate::lang::Value,
    config: &crate::lang::Value,
) {
    let crate::lang::V::Object(m) = &mut v.v else {
        return;
    };
    for a in info.schema().attrs.iter().filter(|a| a.computed) {
        let Some(t) = info.computed_type(&a.name, config) else {
            continue;
        };
        if let Some(cur) = m.get_mut(&a.name) {
            *cur = if cur.is_known() {
                crate::lang::convert::convert(cur, &t).unwrap_or_else(|_| cur.clone())
            } else {
                crate::lang::Value::unknown(t).mark(cur.sensitive)
            };
        }
    }
}

/// A resource's evaluated arguments (internal JSON shape) with the paths of those known
/// only after apply, for [`TypeInfo::derive`].
pub struct Derive<'a> {
    pub values: &'a mut Map<String, Value>,
    pub unknown: &'a mut Vec<String>,
    /// The values last applied (state), for types that ask ([`TypeInfo::needs_prior`]).
    pub prior: Option<&'a Map<String, Value>>,
    /// The instance's address.
    pub addr: &'a str,
}

impl Derive<'_> {
    /// Whether `k`, or anything inside it (`labels.team`), is known only after apply.
    pub fn is_unknown(&self, k: &str) -> bool {
        self.unknown.iter().any(|u| path_within(u, k))
    }

    /// A string argument ("" when unset or unknown).
    pub fn str(&self, k: &str) -> String {
        self.values
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// Sets `k` to a default unless the configuration set it (or will, after apply).
    pub fn default(&mut self, k: &str, v: Option<Value>) {
        if let Some(v) = v {
            if !self.values.contains_key(k) && !self.is_unknown(k) {
                self.values.insert(k.to_string(), v);
            }
        }
    }

    /// Sets `k` to what `f` computes from the arguments `inputs`; if any of them is known
    /// only after apply, so is `k`.
    pub fn set(&mut self, k: &str, inputs: &[&str], f: impl FnOnce(&Self) -> Value) {
        if inputs.iter().any(|i| self.is_unknown(i)) {
            self.values.remove(k);
            if !self.is_unknown(k) {
                self.unknown.push(k.to_string());
            }
            return;
        }
        let v = f(self);
        self.values.insert(k.to_string(), v);
    }
}

/// The project id in a `project` argument: `P` for both `P` and `projects/P`.
pub fn project_id(p: &str) -> &str {
    match p.strip_prefix("projects/") {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => rest,
        _ => p,
    }
}

impl Provider {
    /// `terraform_labels` (the provider's `default_labels` under the resource's `labels`, and
    /// the attribution label); unknown while `labels` is. `effective_labels` follows from it
    /// where it is read (the plan knows the live object's labels).
    pub fn fill_labels(&self, d: &mut Derive) {
        d.set("terraform_labels", &["labels"], |d| {
            let mut m: Map<String, Value> = self
                .default_labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            if let Some(Value::Object(l)) = d.values.get("labels") {
                m.extend(l.clone());
            }
            if self.attribution != provider::Attribution::Off {
                let (k, v) = provider::ATTRIBUTION_LABEL;
                m.entry(k).or_insert_with(|| Value::String(v.into()));
            }
            Value::Object(m)
        });
    }

    /// Fills the provider's `project` (and its region under `region_key`, e.g. `location` or
    /// `region`) into values that do not set them.
    /// A `project` given as `projects/P` (what `data.google_project.x.id` gives) means `P`, as
    /// everywhere the provider takes a project.
    pub fn fill_defaults(&self, d: &mut Derive, region_key: Option<&str>) {
        d.default("project", self.project.clone().map(Value::String));
        if let Some(Value::String(p)) = d.values.get_mut("project") {
            *p = project_id(p).to_string();
        }
        if let Some(k) = region_key {
            d.default(k, self.region.clone().map(Value::String));
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub addr: String,
    pub ty: String,
    pub name: String,
    /// The evaluated arguments in runform's internal shape (snake_case names, a block
    /// limited to one item as an object, other blocks as arrays). Values known only after
    /// apply are left out; their paths are in `unknown`.
    pub values: Value,
    /// Paths of values known only after apply (`template.template.containers[0].image`).
    pub unknown: Vec<String>,
    /// Paths of sensitive values.
    pub sensitive: Vec<String>,
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
    /// When its provider adds the attribution label.
    pub attribution: provider::Attribution,
    /// Its `timeouts {}`: operation → seconds.
    pub timeouts: BTreeMap<String, u64>,
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

pub use crate::model::change::path_within;

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

    /// Whether a top-level string argument is unset or empty (and not merely unknown yet):
    /// what "no project" checks ask.
    pub fn missing(&self, k: &str) -> bool {
        !self.is_unknown(k)
            && self
                .values
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
    }

    /// Whether the value at `path` (or what contains it) is known only after apply.
    pub fn is_unknown(&self, path: &str) -> bool {
        self.unknown.iter().any(|u| path_within(path, u))
    }

    /// Whether anything at or inside `path` is known only after apply.
    pub fn has_unknown_in(&self, path: &str) -> bool {
        self.unknown
            .iter()
            .any(|u| path_within(u, path) || path_within(path, u))
    }
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub name: String,
    /// The value with Terraform's types, unknowns and marks.
    pub value: crate::lang::Value,
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
    /// Every string a sensitive value holds: masked wherever output could show it.
    pub sensitive_values: Vec<String>,
    /// Digest of the configuration files (for saved plans).
    pub digest: String,
    /// Module calls by configuration path (`module.etl.module.inner`, no instance keys) →
    /// their `source`.
    pub module_sources: BTreeMap<String, String>,
    /// The root module's variable values (for plan JSON; sensitive ones are redacted there).
    pub variables: BTreeMap<String, crate::lang::Value>,
    /// `moved { from, to }` blocks (root module): (from, to).
    pub moves: Vec<(String, String)>,
    /// `import { to, id }` blocks: (address, id).
    pub imports: Vec<(String, String)>,
    /// `removed { from, lifecycle { destroy } }` blocks: (address, destroy).
    pub removed: Vec<(String, bool)>,
    /// Preconditions and postconditions that read values known only after apply (checked
    /// again when apply completes).
    pub deferred_conditions: usize,
    /// Resources whose values other expressions read (their changes can change those).
    pub referenced: BTreeSet<String>,
    /// With [`LoadOptions::console`]: every name the root module's expressions can read.
    pub console_scope: Option<Env>,
}

impl Stack {
    pub fn resource(&self, addr: &str) -> Option<&ResourceConfig> {
        self.resources.iter().find(|r| r.addr == addr)
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
/// How a command asks for the configuration to be read: its variables and target, and
/// what the plan being made replaces or updates. Saved in plan files, so that apply reads
/// the configuration again as the plan did.
pub struct LoadArgs {
    pub vars: Vec<(String, String)>,
    pub var_files: Vec<PathBuf>,
    pub local: bool,
    /// Addresses the plan replaces: their computed values (ids, etags, random results) are
    /// unknown until apply, whatever the state says.
    pub fresh: BTreeSet<String>,
    /// Addresses the plan updates in place: their computed values that change on every
    /// update (etags, generations, update times) are unknown until apply.
    pub updated: BTreeSet<String>,
    /// `validate`: variables are unknowns of their types and nothing is read from an API.
    pub validate_only: bool,
    /// `console`: keep the root module's scope.
    #[serde(skip)]
    pub console: Option<ConsoleMode>,
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
    /// Attributes already known from state, by address (`None`: none known, as for an
    /// object the plan creates or replaces).
    pub known: &'a dyn Fn(&str) -> Option<Map<String, Value>>,
    /// Whether the plan updates the object at this address in place: its computed values
    /// that change on every update (etags, generations) are unknown until apply.
    pub updated: &'a dyn Fn(&str) -> bool,
    /// Reads a data source (type, arguments with the provider's project filled in).
    pub data: &'a DataReader<'a>,
    /// `data` reads nothing from an API (validate, or no client): what it does not return is
    /// unknown, not null.
    pub data_offline: bool,
    /// The schema of a data source type, if runform reads it.
    pub data_schema: &'a dyn Fn(&str) -> Option<&'static Schema>,
    /// The data source types runform reads (for "did you mean").
    pub data_names: Vec<&'static str>,
    /// The selected workspace (`terraform.workspace`).
    pub workspace: String,
    /// `validate`: root variables are unknowns of their declared types, nothing is read.
    pub validate_only: bool,
    /// `console`: keep the root module's scope in [`Stack::console_scope`].
    pub console: Option<ConsoleMode>,
    /// Called with the root module's default provider as soon as it is evaluated, before any
    /// data source is read (the client takes its credentials and endpoints from it); an
    /// error is reported at the provider block.
    pub on_provider: Option<&'a OnProvider<'a>>,
}

/// What `runform console` shows of resources the state does not hold yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleMode {
    /// As `terraform console`: only what the state holds; other resources are unknown.
    State,
    /// As `terraform console -plan`: the planned values (arguments known from the
    /// configuration, computed attributes unknown).
    Plan,
}

pub type DataReader<'a> =
    dyn Fn(&str, &Map<String, Value>) -> Result<Map<String, Value>, String> + 'a;

struct Loader<'a> {
    opts: &'a LoadOptions<'a>,
    sources: Sources,
    diags: Diagnostics,
    /// Parsed module directories (a module called many times is read once).
    module_cache: BTreeMap<PathBuf, Vec<RawBlock>>,
    /// Strings of every sensitive value met (to mask in diagnostics).
    secrets: Vec<String>,
    /// Finishes resource instances on a second thread (see [`finish`]).
    finisher: Option<finish::Finisher>,
    /// The google provider major version `required_providers` selects (7 without one).
    google_major: u32,
}

/// Loads and evaluates the stack in `dir`. Returns the stack (if no errors), the
/// diagnostics (errors and warnings), and the sources for rendering them.
pub fn load(dir: &Path, opts: &LoadOptions) -> (Option<Stack>, Diagnostics, Sources) {
    let mut l = Loader {
        opts,
        sources: Sources::default(),
        diags: Diagnostics::default(),
        module_cache: BTreeMap::new(),
        secrets: Vec::new(),
        finisher: None,
        google_major: 7,
    };
    if !dir.is_dir() {
        l.diags.push(
            Diagnostic::error(
                format!("{} does not exist or is not a directory", dir.display()),
                None,
            )
            .with_hint("pass the directory that holds your stack's .tf files"),
        );
        return (None, l.diags, l.sources);
    }
    let blocks = parse::parse_dir(dir, &mut l.sources, &mut l.diags);
    let mut stack = std::thread::scope(|scope| {
        l.finisher = Some(finish::Finisher::start(scope));
        let stack = l.build(dir, blocks);
        // Dropping the finisher ends its thread (build flushed it).
        l.finisher = None;
        stack
    });
    if let Some(s) = &mut stack {
        s.sensitive_values.append(&mut l.secrets);
        s.sensitive_values.sort();
        s.sensitive_values.dedup();
        l.diags.mask(&s.sensitive_values);
    }
    let ok = !l.diags.has_errors();
    (stack.filter(|_| ok), l.diags, l.sources)
}

const META_ARGS: &[&str] = &["depends_on", "provider", "lifecycle", "count", "for_each"];

impl Loader<'_> {
    /// Evaluates an expression; an error becomes a diagnostic at `range`. Strings of
    /// sensitive results are remembered for masking.
    fn eval(
        &mut self,
        expr: &hcl::Expression,
        range: &Range,
        env: &Env,
    ) -> Option<crate::lang::Value> {
        match Evaluator::new(env).eval(expr) {
            Ok(v) => {
                if v.contains_marked() {
                    scope::sensitive_strings(&v, false, &mut self.secrets);
                }
                Some(v)
            }
            Err(e) => {
                let mut d = Diagnostic::error(e.to_string(), Some(range.clone()));
                if e.summary == "Call to unknown function" {
                    d = Diagnostic::error(e.detail.clone(), Some(range.clone()));
                }
                self.diags.push(d);
                None
            }
        }
    }

    /// Evaluates a provider argument to a value of `ty` known while planning.
    fn eval_known(
        &mut self,
        a: &parse::RawAttr,
        env: &Env,
        ty: &crate::lang::Type,
    ) -> Option<crate::lang::Value> {
        let v = self.eval(&a.expr, &a.value_range, env)?;
        if v.is_null() {
            return None;
        }
        if !v.is_wholly_known() {
            self.diags.error(
                format!("provider argument {} must be known when planning", a.name),
                Some(a.value_range.clone()),
            );
            return None;
        }
        match crate::lang::convert::convert(&v, ty) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags
                    .error(format!("{}: {e}", a.name), Some(a.value_range.clone()));
                None
            }
        }
    }

    /// A `provider "google"` block (or none): its arguments validated against the provider's
    /// schema and evaluated, then what it leaves unset taken from the environment variables
    /// the provider reads.
    fn provider(&mut self, b: &Option<RawBlock>, env: &Env) -> Provider {
        use crate::lang::Type;
        use provider::ArgKind;
        let mut p = Provider {
            major: self.google_major,
            ..Provider::default()
        };
        let mut set: BTreeMap<String, crate::lang::Value> = BTreeMap::new();
        let mut ranges: BTreeMap<String, Range> = BTreeMap::new();
        if let Some(b) = b {
            p.range = Some(b.range.clone());
            for a in &b.body.attrs {
                let ty = match provider::arg_kind(&a.name) {
                    Some(ArgKind::String) => Type::String,
                    Some(ArgKind::Bool) => Type::Bool,
                    Some(ArgKind::StringList) => Type::list(Type::String),
                    Some(ArgKind::StringMap) => Type::map(Type::String),
                    Some(_) => {
                        self.diags.error(
                            format!(
                                "provider \"google\": {} is a block, not an argument",
                                a.name
                            ),
                            Some(a.range.clone()),
                        );
                        continue;
                    }
                    None => {
                        let names: Vec<String> = provider::arg_names().collect();
                        let mut d = Diagnostic::error(
                            format!("provider \"google\": unsupported argument: an argument named {:?} is not expected here", a.name),
                            Some(a.range.clone()),
                        );
                        if let Some(c) = closest(&a.name, names.iter().map(String::as_str)) {
                            d = d.with_hint(format!("did you mean {c:?}?"));
                        }
                        self.diags.push(d);
                        continue;
                    }
                };
                ranges.insert(a.name.clone(), a.value_range.clone());
                if let Some(v) = self.eval_known(a, env, &ty) {
                    set.insert(a.name.clone(), v);
                }
            }
            for blk in &b.body.blocks {
                match provider::arg_kind(&blk.ty) {
                    Some(ArgKind::IgnoredBlock) => {}
                    Some(ArgKind::UnsupportedBlock(why)) => {
                        self.diags.error(why, Some(blk.range.clone()));
                    }
                    _ => {
                        self.diags.error(
                            format!("provider \"google\": unsupported block type {:?}: blocks of this type are not expected here", blk.ty),
                            Some(blk.range.clone()),
                        );
                    }
                }
            }
        }
        let text = |k: &str| set.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let env_first = |keys: &[String]| {
            keys.iter()
                .find_map(|k| self.opts.env.get(k).filter(|v| !v.is_empty()).cloned())
        };
        // Config beats the environment, per argument.
        let setting = |k: &str| text(k).or_else(|| env_first(&provider::env_keys(k)));
        p.project = setting("project");
        p.region = setting("region");
        p.zone = setting("zone");
        // A zone names its region (us-central1-a → us-central1).
        if p.region.is_none() {
            p.region = p
                .zone
                .as_ref()
                .and_then(|z| z.rsplit_once('-'))
                .map(|(r, _)| r.to_string());
        }
        self.provider_auth(&mut p, &set, &ranges, &setting);
        p.billing_project = setting("billing_project");
        p.user_project_override = match set.get("user_project_override") {
            Some(v) => v.as_bool().unwrap_or(false),
            None => setting("user_project_override").is_some_and(|v| v == "true" || v == "1"),
        };
        p.request_reason = setting("request_reason");
        if let Some(t) = text("request_timeout") {
            match provider::parse_go_duration(&t) {
                Some(d) => p.request_timeout = Some(d),
                None => self.diags.error(
                    format!("could not parse request_timeout value {t:?}: a duration like \"60s\" or \"2m\" is expected"),
                    ranges.get("request_timeout").cloned(),
                ),
            }
        }
        if let Some(Value::Object(m)) = set.get("default_labels").and_then(|v| v.to_json()) {
            p.default_labels = m
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect();
        }
        // Default true since provider 6.0.
        let attribution_on = set
            .get("add_terraform_attribution_label")
            .map(|v| v.as_bool().unwrap_or(true))
            .unwrap_or(p.major >= 6);
        match text("terraform_attribution_label_addition_strategy").as_deref() {
            None | Some("CREATE_ONLY") => {}
            Some("PROACTIVE") => p.attribution = provider::Attribution::Proactive,
            Some(other) => self.diags.error(
                format!("unrecognized terraform_attribution_label_addition_strategy {other:?} (CREATE_ONLY or PROACTIVE)"),
                ranges.get("terraform_attribution_label_addition_strategy").cloned(),
            ),
        }
        if !attribution_on {
            p.attribution = provider::Attribution::Off;
        }
        for (service, api, version) in provider::ROUTED_ENDPOINTS {
            let k = format!("{service}_custom_endpoint");
            if let Some(v) = setting(&k) {
                match provider::endpoint_base(&v, version) {
                    Ok(base) => {
                        p.endpoints.insert(*api, base);
                    }
                    Err(e) => self
                        .diags
                        .error(format!("{k}: {e}"), ranges.get(&k).cloned()),
                }
            }
        }
        p
    }

    /// Who the provider calls as: `credentials` (key JSON or a path to it) or `access_token`
    /// (they conflict), then `impersonate_service_account` (+ delegates) on top.
    fn provider_auth(
        &mut self,
        p: &mut Provider,
        set: &BTreeMap<String, crate::lang::Value>,
        ranges: &BTreeMap<String, Range>,
        setting: &dyn Fn(&str) -> Option<String>,
    ) {
        let text = |k: &str| set.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let list = |k: &str| -> Vec<String> {
            set.get(k)
                .and_then(|v| v.to_json())
                .and_then(|j| serde_json::from_value(j).ok())
                .unwrap_or_default()
        };
        let (cred, token) = (text("credentials"), text("access_token"));
        if cred.is_some() && token.is_some() {
            self.diags.error(
                "provider \"google\": \"credentials\" conflicts with \"access_token\": set one of them",
                ranges.get("access_token").cloned(),
            );
        }
        // The environment is read only when the block names no credentials at all.
        let (cred, token) = if cred.is_none() && token.is_none() {
            (setting("credentials"), setting("access_token"))
        } else {
            (cred, token)
        };
        if let Some(c) = &cred {
            let is_json = c.trim_start().starts_with('{');
            let problem = if is_json {
                serde_json::from_str::<Value>(c)
                    .err()
                    .map(|e| format!("the JSON credentials are not valid: {e}"))
            } else if !Path::new(c).exists() {
                Some("credentials is neither the path of a file that exists nor JSON key text (its value is not shown: it may be a secret)".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                self.diags.error(
                    problem,
                    ranges.get("credentials").cloned().or(p.range.clone()),
                );
            }
        }
        for k in [
            "access_token",
            "impersonate_service_account",
            "project",
            "region",
            "zone",
            "billing_project",
        ] {
            if text(k).is_some_and(|v| v.is_empty()) {
                self.diags.error(
                    format!("provider \"google\": {k} must not be an empty string"),
                    ranges.get(k).cloned(),
                );
            }
        }
        p.auth = AuthSettings {
            credentials: cred,
            access_token: token,
            impersonate_service_account: setting("impersonate_service_account"),
            delegates: list("impersonate_service_account_delegates"),
            scopes: list("scopes"),
        };
    }

    fn image_mapping(&mut self, dir: &Path, b: &RawBlock, env: &Env) -> Option<ImageMapping> {
        let mut m = ImageMapping {
            image: b.labels[0].clone(),
            ..Default::default()
        };
        for a in &b.body.attrs {
            let v = self.eval(&a.expr, &a.value_range, env)?;
            match a.name.as_str() {
                "command" | "args" => {
                    let list = crate::lang::convert::convert(&v, &crate::lang::Type::list(crate::lang::Type::String))
                        .ok()
                        .and_then(|l| l.elements().map(|xs| xs.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>()));
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
                    let wd = v.as_str().unwrap_or(".").to_string();
                    let p = dir.join(&wd);
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
}

fn schema_problem_name(n: &str) -> Option<&'static str> {
    let ok = n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then_some("must start with a letter or underscore and hold only letters, digits, underscores and hyphens")
}
