//! Evaluation of one module instance (the root, or a `module` call): declarations, the
//! dependency order of every named value, `count`/`for_each` expansion, data sources and
//! nested module calls. Every resource instance gets its full address
//! (`module.etl["a"].google_cloud_run_v2_job.this[0]`) and the set of resource addresses it
//! depends on, traced through variables, locals, outputs and module boundaries.

use super::finish::{self, Checks, Work};
use super::parse::{RawAttr, RawBlock, RawBody};
use super::refs::{collect_refs, dynamic_iterator, ref_node, traversal_parts, KnownRoots};
use super::scope::{count_object, key_value, kind_of, Env};
use super::*;
use crate::graph::Graph;
use crate::lang::{Type, Value as Val, V};

/// What a caller hands one module instance.
pub(super) struct Call {
    /// Address prefix of everything inside (`module.etl.`; empty at the root).
    pub prefix: String,
    /// The module instance's address (`module.etl`; empty at the root).
    pub module_addr: String,
    /// The module's path in the configuration, without instance keys (`module.etl`).
    pub config_path: String,
    pub dir: PathBuf,
    /// Argument values given by the `module` block (`None` at the root: variables come from
    /// the command line, files and environment).
    pub inputs: Option<BTreeMap<String, Input>>,
    pub call_range: Option<Range>,
    /// Addresses every resource inside depends on (the call's `depends_on`).
    pub extra_deps: BTreeSet<String>,
    pub depth: usize,
    /// The default provider inside (`providers = { google = google.west }` on the call;
    /// `None` at the root, which reads its own provider block).
    pub provider: Option<Provider>,
}

pub(super) struct Input {
    pub value: Val,
    pub deps: BTreeSet<String>,
    pub range: Range,
}

/// What a module instance gives back to its caller.
#[derive(Default)]
pub(super) struct Done {
    pub outputs: BTreeMap<String, Val>,
    /// Resources the outputs derive from.
    pub output_deps: BTreeSet<String>,
    /// Every resource inside (for `depends_on = [module.x]`).
    pub resources: BTreeSet<String>,
}

#[derive(Default)]
struct Decls {
    variables: BTreeMap<String, Variable>,
    locals: BTreeMap<String, RawAttr>,
    outputs: BTreeMap<String, RawBlock>,
    resources: BTreeMap<String, RawBlock>,
    /// Keyed `data.TYPE.NAME`.
    data: BTreeMap<String, RawBlock>,
    /// Keyed `module.NAME`.
    modules: BTreeMap<String, RawBlock>,
    provider: Option<RawBlock>,
    /// Provider blocks with an `alias`.
    aliases: Vec<RawBlock>,
    images: Vec<RawBlock>,
    /// `moved`, `import` and `removed` blocks.
    refactors: Vec<RawBlock>,
    /// `check` blocks, keyed `check.NAME`.
    checks: BTreeMap<String, RawBlock>,
}

enum Cond {
    True,
    False,
    Unknown,
}

/// One instance of a block with `count` or `for_each` (or the single instance of one without).
#[derive(Clone)]
pub(super) enum Key {
    One,
    Index(usize),
    Name(String, Val),
    /// While validating: an instance of a `count` (false) or `for_each` (true) whose keys
    /// are known only after apply.
    Unknown(bool),
}

impl Key {
    pub fn suffix(&self) -> String {
        match self {
            Key::One => String::new(),
            Key::Index(i) => format!("[{i}]"),
            Key::Name(k, _) => format!("[{}]", Value::String(k.clone())),
            Key::Unknown(_) => "[*]".to_string(),
        }
    }
    pub fn index(&self) -> Option<Value> {
        match self {
            Key::One => None,
            Key::Index(i) => Some(Value::from(*i)),
            Key::Name(k, _) => Some(Value::String(k.clone())),
            Key::Unknown(_) => None,
        }
    }
}

/// How a block's instances look from expressions: the object, a tuple (count) or an object
/// keyed by instance key (for_each), as in Terraform.
fn shape(keys: &[Key], values: Vec<Val>, for_each: bool) -> Val {
    match keys.first() {
        Some(Key::One) => values.into_iter().next().unwrap_or_else(Val::null_dynamic),
        Some(Key::Name(..)) => Val::object(
            keys.iter()
                .zip(values)
                .map(|(k, v)| match k {
                    Key::Name(n, _) => (n.clone(), v),
                    _ => (String::new(), v),
                })
                .collect(),
        ),
        Some(Key::Index(_)) => Val::tuple(values),
        Some(Key::Unknown(_)) => Val::dynamic(),
        // Zero instances.
        None if for_each => Val::empty_object(),
        None => Val::tuple(Vec::new()),
    }
}

const MODULE_META: &[&str] = &[
    "source",
    "version",
    "count",
    "for_each",
    "depends_on",
    "providers",
];
const MAX_MODULE_DEPTH: usize = 16;

impl Loader<'_> {
    pub(super) fn build(&mut self, dir: &Path, blocks: Vec<RawBlock>) -> Option<Stack> {
        let mut stack = Stack {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        let call = Call {
            prefix: String::new(),
            module_addr: String::new(),
            config_path: String::new(),
            dir: dir.to_path_buf(),
            inputs: None,
            call_range: None,
            extra_deps: BTreeSet::new(),
            depth: 0,
            provider: None,
        };
        // The stack is returned even when evaluation stopped, so that its sensitive values can
        // be masked in the errors (`load` drops it when there are errors).
        let _ = self.eval_module(call, blocks, &mut stack);
        self.flush(&mut stack);
        stack.digest = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            // Files by their real path: a plan made with `.` and applied from the saved plan's
            // absolute directory names the same files differently.
            let mut files: Vec<(String, &str)> = self
                .sources
                .files
                .iter()
                .map(|(name, text)| {
                    let real = std::fs::canonicalize(name.as_ref())
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| name.to_string());
                    (real, text.as_ref())
                })
                .collect();
            files.sort();
            for (name, text) in files {
                h.update(name.as_bytes());
                h.update(text.as_bytes());
            }
            hex::encode(h.finalize())
        };
        Some(stack)
    }

    fn declarations(&mut self, blocks: Vec<RawBlock>, root: bool) -> Decls {
        let mut d = Decls::default();
        for b in blocks {
            match (b.ty.as_str(), b.labels.len()) {
                ("terraform", 0) => {
                    if root {
                        self.required_providers(&b);
                    }
                }
                ("provider", 1) if b.labels[0] == "google" || b.labels[0] == "google-beta" => {
                    // Child modules inherit the root's provider configuration.
                    if root && b.body.attr("alias").is_some() {
                        d.aliases.push(b);
                    } else if root && (b.labels[0] == "google" || d.provider.is_none()) {
                        d.provider = Some(b);
                    }
                }
                // The utility providers take no configuration here.
                ("provider", 1) if ["random", "time", "null"].contains(&b.labels[0].as_str()) => {}
                ("provider", 1) => self.diags.push(
                    Diagnostic::error(format!("provider {:?} is not supported; runform manages Google Cloud resources", b.labels[0]), Some(b.range.clone())),
                ),
                ("variable", 1) => {
                    let v = self.variable_decl(&b);
                    if d.variables.insert(b.labels[0].clone(), v).is_some() {
                        self.diags.error(format!("variable {:?} is declared twice", b.labels[0]), Some(b.range.clone()));
                    }
                }
                ("locals", 0) => {
                    for a in b.body.attrs {
                        if d.locals.contains_key(&a.name) {
                            self.diags.error(format!("local {:?} is declared twice", a.name), Some(a.range.clone()));
                        }
                        d.locals.insert(a.name.clone(), a);
                    }
                }
                ("output", 1) => {
                    if d.outputs.insert(b.labels[0].clone(), b.clone()).is_some() {
                        self.diags.error(format!("output {:?} is declared twice", b.labels[0]), Some(b.range.clone()));
                    }
                }
                ("resource", 2) => {
                    let ty = b.labels[0].clone();
                    if (self.opts.types)(&ty).is_none() {
                        let mut diag = Diagnostic::error(format!("resource type {ty:?} is not supported"), Some(b.range.clone()));
                        diag = match closest(&ty, self.opts.type_names.iter().copied()) {
                            Some(c) => diag.with_hint(format!("did you mean {c:?}?")),
                            None => diag.with_hint(format!("supported types: {}", self.opts.type_names.join(", "))),
                        };
                        self.diags.push(diag);
                        continue;
                    }
                    let addr = format!("{}.{}", b.labels[0], b.labels[1]);
                    if let Some(p) = schema_problem_name(&b.labels[1]) {
                        self.diags.error(format!("resource name {:?} {p}", b.labels[1]), Some(b.range.clone()));
                    }
                    if d.resources.contains_key(&addr) {
                        self.diags.error(format!("resource {addr} is declared twice"), Some(b.range.clone()));
                        continue;
                    }
                    d.resources.insert(addr, b);
                }
                ("data", 2) => {
                    let ty = b.labels[0].clone();
                    if (self.opts.data_schema)(&ty).is_none() {
                        let names = self.opts.data_names.iter().copied();
                        let mut diag = Diagnostic::error(format!("data source {ty:?} is not supported"), Some(b.range.clone()));
                        diag = match closest(&ty, names.clone()) {
                            Some(c) => diag.with_hint(format!("did you mean {c:?}?")),
                            None => diag.with_hint(format!("supported data sources: {}", names.collect::<Vec<_>>().join(", "))),
                        };
                        self.diags.push(diag);
                        continue;
                    }
                    let key = format!("data.{}.{}", b.labels[0], b.labels[1]);
                    if d.data.contains_key(&key) {
                        self.diags.error(format!("{key} is declared twice"), Some(b.range.clone()));
                        continue;
                    }
                    d.data.insert(key, b);
                }
                ("module", 1) => {
                    let key = format!("module.{}", b.labels[0]);
                    if d.modules.contains_key(&key) {
                        self.diags.error(format!("{key} is declared twice"), Some(b.range.clone()));
                        continue;
                    }
                    d.modules.insert(key, b);
                }
                ("local_image", 1) => d.images.push(b),
                ("moved" | "import" | "removed", 0) if root => d.refactors.push(b),
                ("moved" | "import" | "removed", 0) => self.diags.push(
                    Diagnostic::error(format!("`{}` blocks belong in the root module", b.ty), Some(b.range.clone()))
                        .with_hint("write addresses inside modules from the root, e.g. module.etl.google_cloud_run_v2_job.this"),
                ),
                ("check", 1) => {
                    let key = format!("check.{}", b.labels[0]);
                    if d.checks.insert(key.clone(), b.clone()).is_some() {
                        self.diags.error(format!("{key} is declared twice"), Some(b.range.clone()));
                    }
                }
                (ty, n) => {
                    let known = ["terraform", "provider", "variable", "locals", "output", "resource", "data", "module", "local_image"];
                    let mut diag = Diagnostic::error(format!("unexpected block `{ty}` with {n} label(s)"), Some(b.range.clone()));
                    if let Some(c) = closest(ty, known) {
                        diag = diag.with_hint(format!("did you mean `{c}`?"));
                    }
                    self.diags.push(diag);
                }
            }
        }
        d
    }

    pub(super) fn eval_module(
        &mut self,
        call: Call,
        blocks: Vec<RawBlock>,
        stack: &mut Stack,
    ) -> Option<Done> {
        let root = call.inputs.is_none();
        let mut d = self.declarations(blocks, root);
        let given = match &call.inputs {
            None => self.variable_values(&call.dir, &d.variables),
            Some(inputs) => self.module_inputs(
                &call.module_addr,
                call.call_range.as_ref(),
                inputs,
                &d.variables,
            ),
        };
        let var_values = self.check_variables(&call.module_addr, &d.variables, given, &stack.dir);
        if root {
            stack.variables = var_values.clone();
        }

        // Dependency graph over every named value of this module instance.
        let mut graph = Graph::default();
        let mut node_range: BTreeMap<String, Range> = BTreeMap::new();
        for (n, v) in &d.variables {
            graph.add_node(&format!("var.{n}"));
            node_range.insert(format!("var.{n}"), v.range.clone());
        }
        let known_roots = KnownRoots {
            variables: &d.variables,
            locals: &d.locals,
            resources: &d.resources,
            data: &d.data,
            modules: &d.modules,
            types: self.opts.type_names,
        };
        for (n, a) in &d.locals {
            let node = format!("local.{n}");
            graph.add_node(&node);
            node_range.insert(node.clone(), a.range.clone());
            for dep in self.refs_of_attr(a, &known_roots, &mut Vec::new()) {
                graph.add_edge(&node, &dep);
            }
        }
        let mut explicit: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let blocks_with_nodes = d
            .resources
            .iter()
            .chain(d.data.iter())
            .chain(d.modules.iter());
        for (node, b) in blocks_with_nodes {
            graph.add_node(node);
            node_range.insert(node.clone(), b.range.clone());
            let mut deps = BTreeSet::new();
            self.refs_of_body(&b.body, &known_roots, &mut deps, &mut Vec::new());
            if let Some(a) = b.body.attr("depends_on") {
                let listed = self.depends_on_list(a, &known_roots);
                deps.extend(listed.iter().cloned());
                explicit.insert(node.clone(), listed);
            }
            for dep in &deps {
                graph.add_edge(node, dep);
            }
        }
        for (node, b) in &d.checks {
            graph.add_node(node);
            node_range.insert(node.clone(), b.range.clone());
            let mut deps = BTreeSet::new();
            self.refs_of_body(&b.body, &known_roots, &mut deps, &mut Vec::new());
            for dep in deps {
                graph.add_edge(node, &dep);
            }
        }
        for (n, b) in &d.outputs {
            let node = format!("output.{n}");
            graph.add_node(&node);
            node_range.insert(node.clone(), b.range.clone());
            let mut deps = BTreeSet::new();
            self.refs_of_body(&b.body, &known_roots, &mut deps, &mut Vec::new());
            for dep in deps {
                graph.add_edge(&node, &dep);
            }
        }
        let order = match graph.toposort() {
            Ok(o) => o,
            Err(cycles) => {
                for c in cycles {
                    let range = node_range.get(&c[0]).cloned();
                    self.diags.push(
                        Diagnostic::error(format!("dependency cycle between {}", c.join(", ")), range)
                            .with_hint("break the cycle by removing one of the references (or depends_on) between these"),
                    );
                }
                return None;
            }
        };
        // Other errors do not stop evaluation: every problem is reported at once.

        // Only values something refers to go into the evaluation context.
        let console = self.opts.console.filter(|_| root);
        let referenced: BTreeSet<String> = if console.is_some() {
            // The console may ask for anything.
            graph.nodes().cloned().collect()
        } else {
            graph.nodes().flat_map(|n| graph.deps(n)).cloned().collect()
        };
        let mut env = Env {
            base: stack.dir.clone(),
            ..Default::default()
        };
        let module_path = call.dir.display().to_string();
        env.set_root("var", Val::object(var_values));
        let s = |x: &str| Val::string(x);
        env.set_root(
            "path",
            Val::object(
                [
                    ("module".to_string(), s(&module_path)),
                    ("root".to_string(), s(&stack.dir.display().to_string())),
                    ("cwd".to_string(), s(".")),
                ]
                .into(),
            ),
        );
        env.set_root(
            "terraform",
            Val::object([("workspace".to_string(), s(&self.opts.workspace))].into()),
        );
        if root {
            stack.provider = self.provider(&d.provider, &env);
            if let Some(configure) = self.opts.on_provider {
                if let Err(e) = configure(&stack.provider) {
                    self.diags.error(e, stack.provider.range.clone());
                }
            }
            for b in &d.aliases {
                let alias = match b.body.attr("alias").map(|a| &a.expr) {
                    Some(hcl::Expression::String(s)) => s.clone(),
                    _ => {
                        self.diags.error(
                            "a provider alias must be a literal string",
                            Some(b.range.clone()),
                        );
                        continue;
                    }
                };
                let p = self.provider(&Some(b.clone()), &env);
                // `google.west` and `google-beta.west` name the same configuration here.
                for label in ["google", "google-beta"] {
                    stack
                        .provider_aliases
                        .insert(format!("{label}.{alias}"), p.clone());
                }
            }
        }
        let default_provider = call
            .provider
            .clone()
            .unwrap_or_else(|| stack.provider.clone());

        // Resource addresses each node's value derives from.
        let mut node_deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for n in d.variables.keys() {
            let deps = call
                .inputs
                .as_ref()
                .and_then(|i| i.get(n))
                .map(|i| i.deps.clone())
                .unwrap_or_default();
            node_deps.insert(format!("var.{n}"), deps);
        }
        // For `depends_on = [module.x]`: every resource inside.
        let mut module_all: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut done = Done::default();
        let union = |node_deps: &BTreeMap<String, BTreeSet<String>>, node: &str| {
            let mut s = BTreeSet::new();
            for dep in graph.deps(node) {
                if let Some(x) = node_deps.get(dep) {
                    s.extend(x.iter().cloned());
                }
            }
            s
        };

        for node in order {
            if let Some(name) = node.strip_prefix("local.") {
                let a = &d.locals[name];
                let v = self
                    .eval(&a.expr, &a.value_range, &env)
                    .unwrap_or_else(Val::dynamic);
                env.set_member("local", name, v);
                node_deps.insert(node.clone(), union(&node_deps, &node));
            } else if let Some(name) = node.strip_prefix("output.") {
                let b = &d.outputs[name];
                let value = self.output_value(name, b, root, &env);
                let deps = union(&node_deps, &node);
                done.output_deps.extend(deps.iter().cloned());
                node_deps.insert(node.clone(), deps);
                if root {
                    stack.outputs.push(OutputConfig {
                        name: name.to_string(),
                        sensitive: value.sensitive,
                        value: value.clone(),
                    });
                }
                done.outputs.insert(name.to_string(), value);
            } else if node.starts_with("check.") {
                if let Some(b) = d.checks.get(&node) {
                    self.check_block(b, &env);
                }
            } else if node.starts_with("data.") {
                let Some(b) = d.data.remove(&node) else {
                    continue;
                };
                // count/for_each: one read per instance, shaped like resource instances.
                let for_each = b.body.attr("for_each").is_some();
                if let Some(keys) = self.instances(&b.body, &env) {
                    let mut values = Vec::with_capacity(keys.len());
                    for key in &keys {
                        self.bind(key, &mut env);
                        values.push(
                            self.data_source(&b, &default_provider, stack, &env)
                                .unwrap_or_else(Val::dynamic),
                        );
                    }
                    self.unbind(&mut env);
                    if referenced.contains(&node) {
                        env.set_data(&b.labels[0], &b.labels[1], shape(&keys, values, for_each));
                    }
                }
                node_deps.insert(node.clone(), union(&node_deps, &node));
            } else if node.starts_with("module.") {
                let Some(b) = d.modules.remove(&node) else {
                    continue;
                };
                let mut extra = call.extra_deps.clone();
                for dep in explicit.remove(&node).unwrap_or_default() {
                    extra.extend(dep_targets(&dep, &node_deps, &module_all));
                }
                let Some((value, out_deps, all)) =
                    self.module_call(&call, &b, extra, &node_deps, stack, &mut env)
                else {
                    continue;
                };
                env.set_member("module", &b.labels[0], value);
                done.resources.extend(all.iter().cloned());
                module_all.insert(node.clone(), all);
                node_deps.insert(node.clone(), out_deps);
            } else if let Some(b) = d.resources.remove(&node) {
                // Taken out (and dropped after lowering) so that parsed blocks do not pile
                // up beside their evaluated values.
                let mut deps = union(&node_deps, &node);
                for dep in explicit.remove(&node).unwrap_or_default() {
                    deps.extend(dep_targets(&dep, &node_deps, &module_all));
                }
                deps.extend(call.extra_deps.iter().cloned());
                let is_referenced = referenced.contains(&node);
                let addrs = self.resource(
                    &call,
                    &default_provider,
                    b,
                    deps,
                    is_referenced,
                    stack,
                    &mut env,
                );
                if is_referenced {
                    stack.referenced.extend(addrs.iter().cloned());
                }
                done.resources.extend(addrs.iter().cloned());
                node_deps.insert(node.clone(), addrs);
            }
        }
        for b in d.images {
            if let Some(m) = self.image_mapping(&call.dir, &b, &env) {
                stack.local_images.push(m);
            }
        }
        if !d.refactors.is_empty() {
            // `moved` checks what the stack holds.
            self.flush(stack);
        }
        for b in d.refactors {
            self.refactor(&b, stack, &env);
        }
        if console.is_some() {
            stack.console_scope = Some(env);
        }
        Some(done)
    }

    /// The instances of a block: one, or one per `count` index or `for_each` element. While
    /// validating, a `count` or `for_each` known only after apply gives one instance whose
    /// key is unknown (as `terraform validate` checks such blocks).
    fn instances(&mut self, body: &RawBody, env: &Env) -> Option<Vec<Key>> {
        let count = body.attr("count");
        let for_each = body.attr("for_each");
        match (count, for_each) {
            (Some(c), Some(_)) => {
                self.diags.error(
                    "`count` and `for_each` cannot both be set on one block",
                    Some(c.range.clone()),
                );
                None
            }
            (Some(c), None) => {
                let v = self.eval(&c.expr, &c.value_range, env)?;
                if v.contains_marked() {
                    self.diags.error(
                        "`count` must not be sensitive: sensitive values cannot decide how many instances exist",
                        Some(c.value_range.clone()),
                    );
                    return None;
                }
                if !v.is_known() {
                    if self.opts.validate_only {
                        return Some(vec![Key::Unknown(false)]);
                    }
                    self.diags.push(Diagnostic::error("`count` depends on values known only after apply", Some(c.value_range.clone()))
                        .with_hint("count must be known when planning: use variables, locals or literal values"));
                    return None;
                }
                let n = crate::lang::convert::convert(&v, &Type::Number)
                    .ok()
                    .and_then(|n| n.as_number().and_then(|n| n.to_i64()))
                    .filter(|n| *n >= 0);
                match n {
                    Some(n) => Some((0..n as usize).map(Key::Index).collect()),
                    None => {
                        self.diags.error(
                            format!(
                                "`count` must be a whole number of zero or more, got {}",
                                crate::lang::value::format_console(&v, 0)
                            ),
                            Some(c.value_range.clone()),
                        );
                        None
                    }
                }
            }
            (None, Some(f)) => {
                let v = self.eval(&f.expr, &f.value_range, env)?;
                self.for_each_keys(v, &f.value_range)
            }
            (None, None) => Some(vec![Key::One]),
        }
    }

    fn for_each_keys(&mut self, v: Val, range: &Range) -> Option<Vec<Key>> {
        if v.contains_marked() {
            self.diags.push(
                Diagnostic::error("`for_each` must not be sensitive: instance keys are shown in plans and addresses", Some(range.clone()))
                    .with_hint("use nonsensitive(...) on a value whose keys are not secret, or key the map by names that are not sensitive"),
            );
            return None;
        }
        if v.is_null() {
            self.diags
                .error("`for_each` must not be null", Some(range.clone()));
            return None;
        }
        let t = v.ty();
        let keys_unknown = !v.is_known()
            || ((t.is_set() || t.is_list() || t.is_tuple())
                && v.elements()
                    .is_some_and(|xs| xs.iter().any(|x| !x.is_known())));
        if keys_unknown {
            if self.opts.validate_only {
                return Some(vec![Key::Unknown(true)]);
            }
            self.diags.push(Diagnostic::error("`for_each` keys depend on values known only after apply", Some(range.clone()))
                .with_hint("for_each keys must be known when planning: key the map by names from variables or literals"));
            return None;
        }
        match &v.v {
            V::Map(_, m) | V::Object(m) => Some(
                m.iter()
                    .map(|(k, x)| Key::Name(k.clone(), x.clone()))
                    .collect(),
            ),
            V::Set(..) | V::List(..) | V::Tuple(_) => {
                let mut keys = BTreeMap::new();
                for it in v.elements().unwrap_or_default() {
                    match it.as_str() {
                        Some(s) => {
                            keys.insert(s.to_string(), it.clone());
                        }
                        None => {
                            self.diags.push(Diagnostic::error(format!("`for_each` over a set needs strings (names), got {}", kind_of(it)), Some(range.clone()))
                                .with_hint("use a map to carry other values: { for x in ... : x.name => x }"));
                            return None;
                        }
                    }
                }
                Some(keys.into_iter().map(|(k, x)| Key::Name(k, x)).collect())
            }
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        format!(
                            "`for_each` needs a map or a set of strings, got {}",
                            kind_of(&v)
                        ),
                        Some(range.clone()),
                    )
                    .with_hint("wrap a list of names in toset(...)"),
                );
                None
            }
        }
    }

    fn bind(&mut self, key: &Key, env: &mut Env) {
        match key {
            Key::One => {}
            Key::Index(i) => env.set_root("count", count_object(*i)),
            Key::Name(k, v) => env.set_root("each", key_value(Val::string(k), v.clone())),
            Key::Unknown(false) => env.set_root(
                "count",
                Val::object([("index".to_string(), Val::unknown_not_null(Type::Number))].into()),
            ),
            Key::Unknown(true) => env.set_root(
                "each",
                key_value(Val::unknown_not_null(Type::String), Val::dynamic()),
            ),
        }
    }

    fn unbind(&mut self, env: &mut Env) {
        env.remove_root("count");
        env.remove_root("each");
    }

    #[allow(clippy::too_many_arguments)]
    fn resource(
        &mut self,
        call: &Call,
        default_provider: &Provider,
        b: RawBlock,
        deps: BTreeSet<String>,
        referenced: bool,
        stack: &mut Stack,
        env: &mut Env,
    ) -> BTreeSet<String> {
        let ty = &b.labels[0];
        let mut addrs = BTreeSet::new();
        let Some(info) = (self.opts.types)(ty) else {
            return addrs;
        };
        let for_each = b.body.attr("for_each").is_some();
        let Some(keys) = self.instances(&b.body, env) else {
            return addrs;
        };
        let lifecycle = self.lifecycle(&b, env);
        let Some(provider) = self.chosen_provider(&b, default_provider, stack) else {
            return addrs;
        };
        let schema = info.schema();
        let has_conditions = b.body.blocks.iter().any(|l| {
            l.ty == "lifecycle"
                && l.body
                    .blocks
                    .iter()
                    .any(|c| matches!(c.ty.as_str(), "precondition" | "postcondition"))
        });
        let schema_marks = schema.has_sensitive();
        let mut ref_values = Vec::with_capacity(if referenced { keys.len() } else { 0 });
        for key in &keys {
            self.bind(key, env);
            let addr = format!("{}{}.{}{}", call.prefix, ty, b.labels[1], key.suffix());
            let mut spans = BTreeMap::new();
            let errors_before = self.diags.error_count();
            let config = self.lower(&b.body, schema, "", &b.range, &mut spans, env, false);
            let mut rc = ResourceConfig {
                addr: addr.clone(),
                ty: ty.clone(),
                name: b.labels[1].clone(),
                module: call.module_addr.clone(),
                index: key.index(),
                values: Value::Null,
                unknown: Vec::new(),
                sensitive: Vec::new(),
                spans,
                range: b.range.clone(),
                depends_on: deps.iter().cloned().collect(),
                lifecycle: Lifecycle {
                    replace_triggered_by: lifecycle
                        .replace_triggered_by
                        .iter()
                        .map(|t| format!("{}{t}", call.prefix))
                        .collect(),
                    ..lifecycle.clone()
                },
                attribution: provider.attribution,
                timeouts: self.timeouts(ty, &b.body, env),
            };
            let keep = !matches!(key, Key::Unknown(_));
            if keep {
                addrs.insert(addr.clone());
            }
            // The planned value (state and defaults filled in) is what expressions and
            // conditions read; a large stack's many other instances skip building it and
            // are finished on the finisher's thread.
            let needs_planned =
                referenced || has_conditions || schema_marks || config.contains_marked();
            if !needs_planned {
                // A resource whose arguments did not evaluate is not checked further (its
                // values are partial; the errors already say what to fix).
                let checks = Checks {
                    validate: self.diags.error_count() == errors_before,
                    keep,
                };
                let provider = Box::new(provider.clone());
                let prior = info
                    .needs_prior()
                    .then(|| (self.opts.known)(&addr).map(Box::new))
                    .flatten();
                self.finish(
                    Work::Lowered {
                        rc: Box::new(rc),
                        config,
                        info,
                        provider,
                        prior,
                        checks,
                    },
                    stack,
                );
                continue;
            }
            let prior = info
                .needs_prior()
                .then(|| (self.opts.known)(&addr))
                .flatten();
            let (values, unknown, sensitive) =
                finish::internal_values(info, &config, &provider, prior.as_ref(), &addr);
            let planned = self.planned_value(info, &addr, &values, &unknown, &sensitive, &config);
            if planned.contains_marked() {
                super::scope::sensitive_strings(&planned, false, &mut self.secrets);
            }
            self.check_conditions(&b, &addr, &planned, stack, env);
            if referenced {
                let unapplied = self.opts.console == Some(super::ConsoleMode::State)
                    && (self.opts.known)(&addr).is_none();
                ref_values.push(if unapplied {
                    // `terraform console` without -plan: only the state is known.
                    Val::unknown(planned.ty())
                } else {
                    planned
                });
            }
            rc.values = values;
            rc.unknown = unknown;
            rc.sensitive = sensitive;
            let checks = Checks {
                validate: self.diags.error_count() == errors_before,
                keep,
            };
            self.finish(
                Work::Ready {
                    rc: Box::new(rc),
                    info,
                    checks,
                },
                stack,
            );
        }
        self.unbind(env);
        if referenced {
            env.set_member(ty, &b.labels[1], shape(&keys, ref_values, for_each));
        }
        addrs
    }

    /// Hands an instance to the finisher (or finishes it here when there is none).
    fn finish(&mut self, w: Work, stack: &mut Stack) {
        match &self.finisher {
            Some(f) => f.send(w),
            None => {
                let (rc, diags) = finish::finish(w);
                self.diags.0.extend(diags.0);
                stack.resources.extend(rc.map(|rc| *rc));
            }
        }
    }

    /// Waits for the finisher: every instance evaluated so far is in the stack.
    pub(super) fn flush(&mut self, stack: &mut Stack) {
        let Some(f) = &self.finisher else { return };
        let Some(done) = f.flush() else {
            // Never plan with instances missing: that would delete them.
            self.diags.error(
                "internal error: resources could not be finished (a bug in runform; nothing was contacted)",
                None,
            );
            return;
        };
        for (rc, diags) in done {
            self.diags.0.extend(diags.0);
            stack.resources.extend(rc.map(|rc| *rc));
        }
    }

    /// A resource instance as other expressions see it: its configuration, with what the
    /// provider computes taken from state (`known`), or unknown when the plan creates or
    /// replaces the object (and, when it updates it, the values every update changes).
    /// Defaults of unset arguments are filled in.
    fn planned_value(
        &self,
        info: &dyn TypeInfo,
        addr: &str,
        values: &Value,
        unknown: &[String],
        sensitive: &[String],
        config: &Val,
    ) -> Val {
        let schema = info.schema();
        let mut merged = values.clone();
        let known = (self.opts.known)(addr);
        let mut unknown: Vec<String> = unknown.to_vec();
        schema.derive_label_attrs(&mut merged, &mut unknown);
        match &known {
            Some(state) => {
                fill_missing(&mut merged, &Value::Object(state.clone()));
                if (self.opts.updated)(addr) {
                    for a in schema.attrs.iter().filter(|a| a.volatile) {
                        unknown.push(a.name.clone());
                    }
                    for b in schema.blocks.iter().filter(|b| b.computed && !b.optional) {
                        unknown.push(b.name.clone());
                    }
                }
            }
            None => schema.unset_computed(&merged, &mut unknown),
        }
        schema.fill_defaults(&mut merged);
        let is_unknown = |p: &str| unknown.iter().any(|u| super::path_within(p, u));
        let is_sensitive = |p: &str| sensitive.iter().any(|u| u == p);
        let mut v = schema.from_internal_marked(&merged, &is_unknown, &is_sensitive);
        if let (V::Object(m), Some(cfg)) = (&mut v.v, config.entries()) {
            // Arguments of type `any` keep the configuration's exact value (a set stays a
            // set, an unknown inside stays where it is); JSON would lose that.
            for a in schema
                .attrs
                .iter()
                .filter(|a| a.ty == crate::lang::Type::Dynamic)
            {
                if let Some(c) = cfg.get(&a.name).filter(|c| !c.is_null()) {
                    m.insert(a.name.clone(), c.clone());
                }
            }
        }
        super::with_computed_types(info, &mut v, config);
        v
    }

    /// `precondition` and `postcondition` blocks: checked while planning against the
    /// configuration and `self` (the planned values). A condition that depends on values known
    /// only after apply is not judged yet (a warning says so; it is checked when apply
    /// completes).
    fn check_conditions(
        &mut self,
        b: &RawBlock,
        addr: &str,
        planned: &Val,
        stack: &mut Stack,
        env: &mut Env,
    ) {
        let conds: Vec<&RawBlock> = b
            .body
            .blocks
            .iter()
            .filter(|x| x.ty == "lifecycle")
            .flat_map(|l| l.body.blocks.iter())
            .filter(|x| matches!(x.ty.as_str(), "precondition" | "postcondition"))
            .collect();
        if conds.is_empty() {
            return;
        }
        env.set_root("self", planned.clone());
        for c in conds {
            let (Some(cond), Some(msg)) = (c.body.attr("condition"), c.body.attr("error_message"))
            else {
                self.diags.error(
                    format!("a {} needs `condition` and `error_message`", c.ty),
                    Some(c.range.clone()),
                );
                continue;
            };
            match self.condition(&cond.expr, &cond.value_range, env) {
                Some(Cond::Unknown) => {
                    self.diags.push(Diagnostic::warning(
                        format!("{addr}: this {} depends on values known only after apply; it is checked when apply completes", c.ty),
                        Some(cond.value_range.clone()),
                    ));
                    stack.deferred_conditions += 1;
                }
                Some(Cond::False) => {
                    let text = self.condition_message(&msg.expr, &msg.value_range, env);
                    self.diags.push(Diagnostic::error(
                        format!("{addr}: resource {} failed: {text}", c.ty),
                        Some(cond.value_range.clone()),
                    ));
                }
                Some(Cond::True) | None => {}
            }
        }
        env.remove_root("self");
    }

    /// A condition's value: true, false or not known yet (`None` after an error).
    fn condition(&mut self, expr: &hcl::Expression, range: &Range, env: &Env) -> Option<Cond> {
        let v = self.eval(expr, range, env)?;
        if !v.is_known() {
            return Some(Cond::Unknown);
        }
        match crate::lang::convert::convert(&v, &Type::Bool)
            .ok()
            .and_then(|b| b.as_bool())
        {
            Some(true) => Some(Cond::True),
            Some(false) => Some(Cond::False),
            None => {
                self.diags.error(
                    format!("a condition must be true or false, got {}", kind_of(&v)),
                    Some(range.clone()),
                );
                None
            }
        }
    }

    /// An `error_message`: never shown when it holds a sensitive value.
    fn condition_message(&mut self, expr: &hcl::Expression, range: &Range, env: &Env) -> String {
        match self.eval(expr, range, env) {
            Some(m) if m.contains_marked() => {
                "the error message included a sensitive value, so it is not displayed".into()
            }
            Some(m) => m
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| "the condition is false".into()),
            None => "the condition is false".into(),
        }
    }

    fn lifecycle(&mut self, b: &RawBlock, env: &Env) -> Lifecycle {
        let mut l = Lifecycle::default();
        for blk in b.body.blocks.iter().filter(|x| x.ty == "lifecycle") {
            for a in &blk.body.attrs {
                match a.name.as_str() {
                    "prevent_destroy" | "create_before_destroy" => {
                        let v = self
                            .eval(&a.expr, &a.value_range, env)
                            .map(|v| v.as_bool().ok_or(()));
                        match v {
                            Some(Ok(x)) if a.name == "prevent_destroy" => {
                                l.prevent_destroy = x;
                            }
                            Some(Ok(true)) => {
                                self.diags.push(
                                    Diagnostic::error("create_before_destroy = true is not supported yet: runform replaces by deleting, then creating", Some(a.range.clone()))
                                        .with_hint("these resources have names unique per project and region, so a replacement with the same name cannot exist beside the old one anyway; remove the setting"),
                                );
                            }
                            Some(Ok(false)) => {}
                            Some(Err(())) => self.diags.error(
                                format!("{} must be true or false", a.name),
                                Some(a.value_range.clone()),
                            ),
                            None => {}
                        }
                    }
                    "ignore_changes" => match &a.expr {
                        hcl::Expression::Variable(v) if v.as_str() == "all" => l.ignore_all = true,
                        hcl::Expression::Array(items) => {
                            for it in items {
                                let path = match it {
                                    hcl::Expression::String(s) => s.clone(),
                                    other => other.to_string().replace(' ', ""),
                                };
                                l.ignore_changes.push(path);
                            }
                        }
                        _ => self.diags.push(
                            Diagnostic::error("ignore_changes must be a list of attribute names, or all", Some(a.value_range.clone()))
                                .with_hint("e.g. ignore_changes = [labels, template[0].template[0].containers[0].image]"),
                        ),
                    },
                    "replace_triggered_by" => match &a.expr {
                        hcl::Expression::Array(items) => {
                            for it in items {
                                let text = it.to_string().replace(' ', "");
                                // `google_x.y.attr` → the resource `google_x.y`.
                                let mut t = text.as_str();
                                let addr = loop {
                                    if crate::config::address::Address::parse(t).is_some_and(|x| x.module.is_empty() && !x.mode_data) {
                                        break Some(t.to_string());
                                    }
                                    match t.rfind('.') {
                                        Some(i) => t = &t[..i],
                                        None => break None,
                                    }
                                };
                                match addr {
                                    Some(x) => l.replace_triggered_by.push(x),
                                    None => self.diags.error(
                                        format!("replace_triggered_by entries must be resource references, got {text}"),
                                        Some(a.value_range.clone()),
                                    ),
                                }
                            }
                        }
                        _ => self.diags.error(
                            "replace_triggered_by must be a list of resource references",
                            Some(a.value_range.clone()),
                        ),
                    },
                    other => {
                        let mut diag = Diagnostic::error(
                            format!("unknown lifecycle argument {other:?}"),
                            Some(a.range.clone()),
                        );
                        if let Some(c) = closest(
                            other,
                            [
                                "prevent_destroy",
                                "create_before_destroy",
                                "ignore_changes",
                                "replace_triggered_by",
                            ],
                        ) {
                            diag = diag.with_hint(format!("did you mean {c:?}?"));
                        }
                        self.diags.push(diag);
                    }
                }
            }
            for inner in &blk.body.blocks {
                if !matches!(inner.ty.as_str(), "precondition" | "postcondition") {
                    self.diags.error(
                        format!("unexpected block `{}` in lifecycle (precondition and postcondition belong here)", inner.ty),
                        Some(inner.range.clone()),
                    );
                }
            }
        }
        l
    }

    fn data_source(
        &mut self,
        b: &RawBlock,
        default_provider: &Provider,
        stack: &mut Stack,
        env: &Env,
    ) -> Option<Val> {
        let ty = &b.labels[0];
        let schema = (self.opts.data_schema)(ty)?;
        let mut args = Map::new();
        let mut unknown_args = false;
        if !schema.blocks.is_empty() {
            // Nested blocks (data "google_iam_policy"'s `binding`): lowered as a resource's.
            let mut spans = BTreeMap::new();
            let mut env = env.clone();
            let errors = self.diags.error_count();
            let config = self.lower(&b.body, schema, "", &b.range, &mut spans, &mut env, false);
            if self.diags.error_count() > errors {
                return None;
            }
            if !config.is_wholly_known() {
                if self.opts.validate_only {
                    return Some(Val::unknown(schema.implied_type()));
                }
                self.diags.push(
                    Diagnostic::error(
                        format!(
                            "data.{ty}.{}: its arguments depend on values known only after apply",
                            b.labels[1]
                        ),
                        Some(b.range.clone()),
                    )
                    .with_hint("data sources are read while planning; give them values known then"),
                );
                return None;
            }
            if let Value::Object(m) = schema.to_internal(&config).json {
                args = m;
            }
        }
        for a in b.body.attrs.iter().filter(|_| schema.blocks.is_empty()) {
            if matches!(
                a.name.as_str(),
                "depends_on" | "provider" | "count" | "for_each"
            ) {
                continue;
            }
            let Some(attr) = schema.attr(&a.name).filter(|x| x.required || x.optional) else {
                let mut diag = Diagnostic::error(
                    format!("unsupported argument {:?} for data source {ty}", a.name),
                    Some(a.range.clone()),
                );
                if let Some(c) = closest(&a.name, schema.settable_names()) {
                    diag = diag.with_hint(format!("did you mean {c:?}?"));
                }
                self.diags.push(diag);
                continue;
            };
            let v = self.eval(&a.expr, &a.value_range, env)?;
            let v = match crate::lang::convert::convert(&v, &attr.ty) {
                Ok(v) => v,
                Err(e) => {
                    self.diags
                        .error(format!("{}: {e}", a.name), Some(a.value_range.clone()));
                    return None;
                }
            };
            if !v.is_wholly_known() {
                if self.opts.validate_only {
                    unknown_args = true;
                    continue;
                }
                self.diags.push(
                    Diagnostic::error(
                        format!(
                            "data.{ty}.{}: {} depends on values known only after apply",
                            b.labels[1], a.name
                        ),
                        Some(a.value_range.clone()),
                    )
                    .with_hint("data sources are read while planning; give them values known then"),
                );
                return None;
            }
            if let Some(j) = v.to_json().filter(|j| !j.is_null()) {
                args.insert(a.name.clone(), j);
            }
        }
        for blk in b.body.blocks.iter().filter(|_| schema.blocks.is_empty()) {
            self.diags.error(
                format!("unsupported block {:?} in data source {ty}", blk.ty),
                Some(blk.range.clone()),
            );
        }
        // The project argument defaults to the provider's, as in the google provider.
        let project_key = if ty == "google_project" {
            "project_id"
        } else {
            "project"
        };
        if schema.attr(project_key).is_some_and(|a| a.optional) && !args.contains_key(project_key) {
            let provider = self.chosen_provider(b, default_provider, stack)?;
            if let Some(p) = &provider.project {
                args.insert(project_key.into(), Value::String(p.clone()));
            }
        }
        if ty == "google_client_config" {
            for (k, v) in [
                ("project", &default_provider.project),
                ("region", &default_provider.region),
                ("zone", &default_provider.zone),
            ] {
                if let Some(v) = v {
                    args.insert(k.into(), Value::String(v.clone()));
                }
            }
        }
        let offline = self.opts.data_offline;
        if unknown_args {
            return Some(Val::unknown(schema.implied_type()));
        }
        match (self.opts.data)(ty, &args) {
            Ok(mut m) => {
                for (k, v) in args {
                    m.entry(k).or_insert(v);
                }
                let json = Value::Object(m);
                let missing = |p: &str| offline && json.get(p).is_none_or(Value::is_null);
                let v = schema.from_internal(&json, &missing);
                if v.contains_marked() {
                    super::scope::sensitive_strings(&v, false, &mut self.secrets);
                }
                Some(v)
            }
            Err(e) => {
                self.diags.error(
                    format!("data.{ty}.{}: {e}", b.labels[1]),
                    Some(b.range.clone()),
                );
                None
            }
        }
    }

    /// Evaluates a `module` block: every instance's arguments, then the module itself.
    /// Returns the value `module.NAME` has in expressions, the resources its outputs derive
    /// from, and every resource inside.
    #[allow(clippy::too_many_arguments)]
    fn module_call(
        &mut self,
        call: &Call,
        b: &RawBlock,
        extra_deps: BTreeSet<String>,
        node_deps: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Stack,
        env: &mut Env,
    ) -> Option<(Val, BTreeSet<String>, BTreeSet<String>)> {
        let name = &b.labels[0];
        if call.depth >= MAX_MODULE_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    format!("modules nest more than {MAX_MODULE_DEPTH} deep at module.{name}"),
                    Some(b.range.clone()),
                )
                .with_hint("does a module call itself?"),
            );
            return None;
        }
        let (dir, blocks) = self.module_source(b, &call.dir)?;
        let config_path = if call.config_path.is_empty() {
            format!("module.{name}")
        } else {
            format!("{}.module.{name}", call.config_path)
        };
        if let Some(hcl::Expression::String(src)) = b.body.attr("source").map(|a| &a.expr) {
            stack
                .module_sources
                .insert(config_path.clone(), src.clone());
        }
        let for_each = b.body.attr("for_each").is_some();
        let keys = self.instances(&b.body, env)?;
        let mut values = Vec::with_capacity(keys.len());
        let mut out_deps = BTreeSet::new();
        let mut all = BTreeSet::new();
        for key in &keys {
            self.bind(key, env);
            let mut inputs = BTreeMap::new();
            for a in &b.body.attrs {
                if MODULE_META.contains(&a.name.as_str()) {
                    continue;
                }
                let Some(v) = self.eval(&a.expr, &a.value_range, env) else {
                    continue;
                };
                // The resources this argument derives from.
                let mut deps = BTreeSet::new();
                let mut roots = Vec::new();
                collect_refs(&a.expr, &mut Vec::new(), &mut |r, s, t| {
                    roots.push(ref_node(r, s, t));
                });
                for n in roots.into_iter().flatten() {
                    if let Some(x) = node_deps.get(&n) {
                        deps.extend(x.iter().cloned());
                    }
                }
                inputs.insert(
                    a.name.clone(),
                    Input {
                        value: v,
                        deps,
                        range: a.range.clone(),
                    },
                );
            }
            let module_addr = format!("{}module.{name}{}", call.prefix, key.suffix());
            let child_provider = self.module_provider(b, call, stack);
            let child = Call {
                prefix: format!("{module_addr}."),
                module_addr,
                config_path: config_path.clone(),
                dir: dir.clone(),
                inputs: Some(inputs),
                call_range: Some(b.range.clone()),
                extra_deps: extra_deps.clone(),
                depth: call.depth + 1,
                provider: child_provider,
            };
            let done = self.eval_module(child, blocks.clone(), stack)?;
            values.push(Val::object(done.outputs));
            out_deps.extend(done.output_deps);
            all.extend(done.resources);
        }
        self.unbind(env);
        Some((shape(&keys, values, for_each), out_deps, all))
    }

    /// The provider a block's `provider = google.ALIAS` meta-argument selects (else the
    /// module's default); an unknown alias is a located error.
    /// A resource's `timeouts {}` block, checked against the operations its type has (the
    /// provider's) and read as Go durations: operation → seconds.
    fn timeouts(&mut self, ty: &str, body: &RawBody, env: &Env) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for b in body.blocks.iter().filter(|b| b.ty == "timeouts") {
            let Some(ops) = super::provider::timeouts_of(ty) else {
                self.diags.error(
                    format!("{ty} has no timeouts block (the provider gives it none)"),
                    Some(b.range.clone()),
                );
                continue;
            };
            for a in &b.body.attrs {
                if !ops.contains(&a.name.as_str()) {
                    self.diags.error(
                        format!("timeouts of {ty} take {}, not {:?}", ops.join(", "), a.name),
                        Some(a.range.clone()),
                    );
                    continue;
                }
                let Some(v) = self.eval(&a.expr, &a.value_range, env) else {
                    continue;
                };
                let text = v.as_str().unwrap_or_default().to_string();
                match super::provider::parse_go_duration(&text) {
                    Some(d) => {
                        out.insert(a.name.clone(), d.as_secs().max(1));
                    }
                    None => self.diags.error(
                        format!(
                            "timeouts.{}: {text:?} is not a duration like \"30m\" or \"1h\"",
                            a.name
                        ),
                        Some(a.value_range.clone()),
                    ),
                }
            }
        }
        out
    }

    /// `terraform { required_providers { google = { version = "..." } } }`: the provider
    /// major version whose defaults apply; a constraint no implemented version meets is an
    /// error at it.
    fn required_providers(&mut self, b: &RawBlock) {
        for rp in b
            .body
            .blocks
            .iter()
            .filter(|x| x.ty == "required_providers")
        {
            for a in rp
                .body
                .attrs
                .iter()
                .filter(|a| a.name == "google" || a.name == "google-beta")
            {
                let version = match &a.expr {
                    hcl::Expression::Object(o) => o.iter().find_map(|(k, v)| {
                        let key = match k {
                            hcl::ObjectKey::Identifier(i) => i.to_string(),
                            hcl::ObjectKey::Expression(hcl::Expression::String(s)) => s.clone(),
                            _ => return None,
                        };
                        (key == "version").then_some(v)
                    }),
                    // The pre-0.13 shorthand: `google = "~> 6.0"`.
                    e @ hcl::Expression::String(_) => Some(e),
                    _ => None,
                };
                let Some(version) = version else { continue };
                let hcl::Expression::String(constraint) = version else {
                    self.diags.error(
                        "a provider version constraint must be a literal string",
                        Some(a.value_range.clone()),
                    );
                    continue;
                };
                match super::provider::major_for(constraint) {
                    Ok(major) => self.google_major = major,
                    Err(e) => self.diags.push(
                        Diagnostic::error(e, Some(a.value_range.clone())).with_hint(
                            "runform follows the defaults of google provider 5.x, 6.x and 7.x; allow one of them",
                        ),
                    ),
                }
            }
        }
    }

    fn chosen_provider(
        &mut self,
        b: &RawBlock,
        default: &Provider,
        stack: &Stack,
    ) -> Option<Provider> {
        let Some(a) = b.body.attr("provider") else {
            return Some(default.clone());
        };
        let text = a.expr.to_string().replace(' ', "");
        if text == "google" || text == "google-beta" {
            return Some(default.clone());
        }
        match stack.provider_aliases.get(&text) {
            Some(p) => Some(p.clone()),
            None => {
                let mut d = Diagnostic::error(
                    format!("no provider configuration {text}"),
                    Some(a.value_range.clone()),
                );
                d = match closest(&text, stack.provider_aliases.keys().map(String::as_str)) {
                    Some(c) => d.with_hint(format!("did you mean {c}?")),
                    None => d.with_hint("declare it: provider \"google\" { alias = \"NAME\" ... }"),
                };
                self.diags.push(d);
                None
            }
        }
    }

    /// The default provider of a module call: `providers = { google = google.ALIAS }`, else
    /// the caller's.
    fn module_provider(&mut self, b: &RawBlock, call: &Call, stack: &Stack) -> Option<Provider> {
        let inherited = call.provider.clone();
        let Some(a) = b.body.attr("providers") else {
            return inherited;
        };
        let hcl::Expression::Object(m) = &a.expr else {
            self.diags.error(
                "providers must be a map like { google = google.west }",
                Some(a.value_range.clone()),
            );
            return inherited;
        };
        for (k, v) in m {
            let key = k.to_string().replace(['"', ' '], "");
            if key != "google" && key != "google-beta" {
                continue;
            }
            let text = v.to_string().replace(' ', "");
            if text == "google" || text == "google-beta" {
                continue;
            }
            match stack.provider_aliases.get(&text) {
                Some(p) => return Some(p.clone()),
                None => self.diags.error(
                    format!("no provider configuration {text}"),
                    Some(a.value_range.clone()),
                ),
            }
        }
        inherited
    }

    /// Finds and parses a module's files: a local path (`./x`, `../x`, relative to the calling
    /// module) or a module runform ships (`runform/NAME`).
    fn module_source(&mut self, b: &RawBlock, from: &Path) -> Option<(PathBuf, Vec<RawBlock>)> {
        let name = &b.labels[0];
        let Some(a) = b.body.attr("source") else {
            self.diags.push(
                Diagnostic::error(
                    format!("module.{name} needs a source"),
                    Some(b.range.clone()),
                )
                .with_hint("e.g. source = \"./modules/etl\" or source = \"runform/scheduled-job\""),
            );
            return None;
        };
        let src = match &a.expr {
            hcl::Expression::String(s) => s.clone(),
            _ => {
                self.diags.error(
                    "module source must be a literal string",
                    Some(a.value_range.clone()),
                );
                return None;
            }
        };
        if let Some(shipped) = src.strip_prefix("runform/") {
            let Some(files) = super::shipped::files(shipped) else {
                let mut diag = Diagnostic::error(
                    format!("runform ships no module {shipped:?}"),
                    Some(a.value_range.clone()),
                );
                diag = match closest(shipped, super::shipped::NAMES.iter().copied()) {
                    Some(c) => diag.with_hint(format!("did you mean \"runform/{c}\"?")),
                    None => diag.with_hint(format!(
                        "shipped modules: {}",
                        super::shipped::NAMES.join(", ")
                    )),
                };
                self.diags.push(diag);
                return None;
            };
            let dir = PathBuf::from(format!("modules/{shipped}"));
            if let Some(blocks) = self.module_cache.get(&dir) {
                return Some((dir, blocks.clone()));
            }
            let mut blocks = Vec::new();
            for (file, text) in files {
                blocks.extend(parse::parse_text(
                    &format!("runform/{shipped}/{file}"),
                    text,
                    &mut self.sources,
                    &mut self.diags,
                ));
            }
            self.module_cache.insert(dir.clone(), blocks.clone());
            return Some((dir, blocks));
        }
        if !(src.starts_with("./") || src.starts_with("../") || src == "." || src == "..") {
            self.diags.push(
                Diagnostic::error(format!("module source {src:?} is not supported"), Some(a.value_range.clone()))
                    .with_hint(format!(
                        "runform reads local paths (\"./modules/x\", \"../x\") and the modules it ships (\"runform/NAME\": {}); registry, git and archive sources are not fetched",
                        super::shipped::NAMES.join(", ")
                    )),
            );
            return None;
        }
        let dir = normalize(&from.join(&src));
        if !dir.is_dir() {
            self.diags.error(
                format!("module directory {} does not exist", dir.display()),
                Some(a.value_range.clone()),
            );
            return None;
        }
        if let Some(blocks) = self.module_cache.get(&dir) {
            return Some((dir, blocks.clone()));
        }
        let blocks = parse::parse_dir(&dir, &mut self.sources, &mut self.diags);
        self.module_cache.insert(dir.clone(), blocks.clone());
        Some((dir, blocks))
    }

    /// An `output` block's value. A root module output that holds sensitive values must say
    /// `sensitive = true` (as Terraform requires); a sensitive output is marked.
    fn output_value(&mut self, name: &str, b: &RawBlock, root: bool, env: &Env) -> Val {
        let value = match b.body.attr("value") {
            Some(a) => self
                .eval(&a.expr, &a.value_range, env)
                .unwrap_or_else(Val::dynamic),
            None => {
                self.diags.error(
                    format!("output {name:?} needs a value"),
                    Some(b.range.clone()),
                );
                Val::null_dynamic()
            }
        };
        let sensitive = b
            .body
            .attr("sensitive")
            .and_then(|a| self.eval(&a.expr, &a.value_range, env))
            .and_then(|v| v.as_bool())
            == Some(true);
        if root && !sensitive && value.contains_marked() {
            self.diags.push(
                Diagnostic::error(
                    format!("output {name:?} refers to sensitive values"),
                    b.body.attr("value").map(|a| a.value_range.clone()),
                )
                .with_hint("add `sensitive = true` to the output block (or use nonsensitive(...) on a value that is not secret)"),
            );
        }
        value.mark(sensitive)
    }

    /// A `check` block: each `assert` whose condition is false is a warning, as in Terraform
    /// (one that depends on values known only after apply is not judged yet).
    fn check_block(&mut self, b: &RawBlock, env: &Env) {
        let name = &b.labels[0];
        for blk in &b.body.blocks {
            if blk.ty != "assert" {
                self.diags.error(
                    format!(
                        "`{}` blocks inside check blocks are not supported (assert is)",
                        blk.ty
                    ),
                    Some(blk.range.clone()),
                );
                continue;
            }
            let (Some(cond), Some(msg)) =
                (blk.body.attr("condition"), blk.body.attr("error_message"))
            else {
                self.diags.error(
                    "an assert needs `condition` and `error_message`",
                    Some(blk.range.clone()),
                );
                continue;
            };
            if let Some(Cond::False) = self.condition(&cond.expr, &cond.value_range, env) {
                let text = self.condition_message(&msg.expr, &msg.value_range, env);
                self.diags.push(Diagnostic::warning(
                    format!("check {name:?} failed: {text}"),
                    Some(cond.value_range.clone()),
                ));
            }
        }
    }

    /// A `moved`, `import` or `removed` block, checked against the declared resources.
    fn refactor(&mut self, b: &RawBlock, stack: &mut Stack, env: &Env) {
        let addr_of = |this: &mut Self, name: &str| -> Option<(String, Range)> {
            let Some(a) = b.body.attr(name) else {
                this.diags.error(
                    format!("a {} block needs `{name}`", b.ty),
                    Some(b.range.clone()),
                );
                return None;
            };
            let text = a.expr.to_string().replace(' ', "");
            let ok = crate::config::address::Address::parse(&text).is_some()
                || crate::config::address::Address::parse(&format!("{text}.t.n"))
                    .is_some_and(|x| !x.module.is_empty() && x.index.is_none());
            if !ok {
                this.diags.push(
                    Diagnostic::error(format!("`{name}` must be a resource or module address, got {text}"), Some(a.value_range.clone()))
                        .with_hint("e.g. google_cloud_run_v2_job.etl, google_cloud_run_v2_job.etl[\"a\"] or module.etl"),
                );
                return None;
            }
            Some((text, a.value_range.clone()))
        };
        let declared = |stack: &Stack, addr: &str| {
            stack
                .resources
                .iter()
                .any(|r| crate::config::address::addr_matches(&r.addr, addr))
        };
        match b.ty.as_str() {
            "moved" => {
                let (Some((from, _)), Some((to, to_range))) =
                    (addr_of(self, "from"), addr_of(self, "to"))
                else {
                    return;
                };
                if from == to {
                    self.diags
                        .error("`from` and `to` are the same address", Some(to_range));
                    return;
                }
                if declared(stack, &from) {
                    self.diags.push(
                        Diagnostic::error(format!("moved: {from} is still declared"), Some(b.range.clone()))
                            .with_hint("a moved block records a rename: the configuration declares only the new address"),
                    );
                    return;
                }
                if !declared(stack, &to) {
                    self.diags.error(
                        format!("moved: {to} is not declared in the configuration"),
                        Some(to_range),
                    );
                    return;
                }
                stack.moves.push((from, to));
            }
            "import" => {
                let Some((to, to_range)) = addr_of(self, "to") else {
                    return;
                };
                let Some(id_attr) = b.body.attr("id") else {
                    self.diags
                        .error("an import block needs `id`", Some(b.range.clone()));
                    return;
                };
                let Some(id) = self.eval(&id_attr.expr, &id_attr.value_range, env) else {
                    return;
                };
                let Some(id) = id
                    .as_str()
                    .filter(|s| !s.is_empty() && id.is_known())
                    .map(str::to_string)
                else {
                    self.diags.error(
                        "import id must be a string known when planning",
                        Some(id_attr.value_range.clone()),
                    );
                    return;
                };
                if !stack.resources.iter().any(|r| r.addr == to) {
                    self.diags.push(
                        Diagnostic::error(format!("import: {to} is not a resource instance declared in the configuration"), Some(to_range))
                            .with_hint("declare the resource first; import adopts an existing object into it"),
                    );
                    return;
                }
                stack.imports.push((to, id));
            }
            _ => {
                let Some((from, from_range)) = addr_of(self, "from") else {
                    return;
                };
                let mut destroy = true;
                for l in b.body.blocks.iter().filter(|x| x.ty == "lifecycle") {
                    if let Some(a) = l.body.attr("destroy") {
                        match self.eval(&a.expr, &a.value_range, env).map(|v| v.as_bool()) {
                            Some(Some(x)) => destroy = x,
                            Some(_) => self.diags.error(
                                "destroy must be true or false",
                                Some(a.value_range.clone()),
                            ),
                            None => {}
                        }
                    }
                }
                if declared(stack, &from) {
                    self.diags.push(
                        Diagnostic::error(format!("removed: {from} is still declared"), Some(from_range))
                            .with_hint("remove the resource block; the removed block says what happens to the object"),
                    );
                    return;
                }
                stack.removed.push((from, destroy));
            }
        }
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

    /// The graph nodes a `depends_on` list names.
    fn depends_on_list(&mut self, a: &RawAttr, k: &KnownRoots) -> Vec<String> {
        let mut listed = Vec::new();
        match &a.expr {
            hcl::Expression::Array(items) => {
                for it in items {
                    let node = traversal_parts(it)
                        .and_then(|(r, s, t)| ref_node(&r, s.as_deref(), t.as_deref()));
                    match node {
                        Some(n) if k.declared(&n) => listed.push(n),
                        Some(n) => self.diags.error(format!("depends_on names {n}, which is not declared"), Some(a.value_range.clone())),
                        None => self.diags.error("depends_on entries must be references like google_cloud_run_v2_job.etl or module.etl", Some(a.value_range.clone())),
                    }
                }
            }
            _ => self.diags.error(
                "depends_on must be a list of resource references",
                Some(a.value_range.clone()),
            ),
        }
        listed
    }
}

/// The resource addresses a `depends_on` entry stands for.
fn dep_targets(
    node: &str,
    node_deps: &BTreeMap<String, BTreeSet<String>>,
    module_all: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    if node.starts_with("module.") {
        module_all.get(node).cloned().unwrap_or_default()
    } else {
        node_deps.get(node).cloned().unwrap_or_default()
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Adds what `from` has and `into` lacks, recursively (objects by key, arrays of equal length
/// element by element): state values under configuration values.
pub fn fill_missing(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                    Some(cur) => fill_missing(cur, v),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (x, y) in a.iter_mut().zip(b) {
                fill_missing(x, y);
            }
        }
        _ => {}
    }
}
