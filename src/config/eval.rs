//! Evaluation of one module instance (the root, or a `module` call): declarations, the
//! dependency order of every named value, `count`/`for_each` expansion, data sources and
//! nested module calls. Every resource instance gets its full address
//! (`module.etl["a"].google_cloud_run_v2_job.this[0]`) and the set of resource addresses it
//! depends on, traced through variables, locals, outputs and module boundaries.

use super::*;
use crate::config::types::conform;

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
    pub value: Value,
    pub deps: BTreeSet<String>,
    pub range: Range,
}

/// What a module instance gives back to its caller.
#[derive(Default)]
pub(super) struct Done {
    pub outputs: Map<String, Value>,
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

/// One instance of a block with `count` or `for_each` (or the single instance of one without).
#[derive(Clone)]
pub(super) enum Key {
    One,
    Index(usize),
    Name(String, Value),
}

impl Key {
    pub fn suffix(&self) -> String {
        match self {
            Key::One => String::new(),
            Key::Index(i) => format!("[{i}]"),
            Key::Name(k, _) => format!("[{}]", Value::String(k.clone())),
        }
    }
    pub fn index(&self) -> Option<Value> {
        match self {
            Key::One => None,
            Key::Index(i) => Some(Value::from(*i)),
            Key::Name(k, _) => Some(Value::String(k.clone())),
        }
    }
}

/// How a block's instances look from expressions: an object, a list (count), or a map
/// (for_each).
fn shape(keys: &[Key], values: Vec<Value>) -> Value {
    match keys.first() {
        Some(Key::Index(_)) => Value::Array(values),
        Some(Key::Name(..)) => Value::Object(
            keys.iter()
                .zip(values)
                .map(|(k, v)| match k {
                    Key::Name(n, _) => (n.clone(), v),
                    _ => (String::new(), v),
                })
                .collect(),
        ),
        // No count/for_each: the single object. Zero instances of count/for_each: empty.
        Some(Key::One) => values.into_iter().next().unwrap_or(Value::Null),
        None => Value::Array(Vec::new()),
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
        stack.digest = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            for (name, text) in &self.sources.files {
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
                ("terraform", 0) => {}
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
                    if data_args(&ty).is_none() {
                        let names = DATA_SOURCES.iter().map(|(n, _)| *n);
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
        let var_values = match &call.inputs {
            None => self.variable_values(&call.dir, &d.variables),
            Some(inputs) => self.module_inputs(&call, inputs, &d.variables),
        };
        let var_values = self.check_variables(&call, &d.variables, var_values);
        if root {
            stack.variables = var_values.clone();
        }
        // A sensitive module variable is as secret as one at the root.
        for (name, v) in &d.variables {
            if v.sensitive {
                if let Some(val) = var_values.get(name) {
                    collect_strings(val, &mut stack.sensitive_values);
                }
            }
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
        let referenced: BTreeSet<String> =
            graph.nodes().flat_map(|n| graph.deps(n)).cloned().collect();
        let mut ctx = hcl::eval::Context::new();
        funcs::declare(&mut ctx);
        let mut env = Env::default();
        let module_path = call.dir.display().to_string();
        env.set_root("var", json_obj(var_values));
        env.set_root(
            "path",
            serde_json::json!({"module": module_path, "root": stack.dir.display().to_string(), "cwd": "."}),
        );
        env.set_root(
            "terraform",
            serde_json::json!({ "workspace": self.opts.workspace }),
        );
        if root {
            stack.provider = self.provider(&d.provider, &mut ctx, &mut env);
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
                let p = self.provider(&Some(b.clone()), &mut ctx, &mut env);
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
                if let Some(v) = self.eval(&a.expr, &a.value_range, &mut ctx, &mut env) {
                    env.set_member("local", name, v);
                }
                node_deps.insert(node.clone(), union(&node_deps, &node));
            } else if let Some(name) = node.strip_prefix("output.") {
                let b = &d.outputs[name];
                let value = match b.body.attr("value") {
                    Some(a) => self
                        .eval(&a.expr, &a.value_range, &mut ctx, &mut env)
                        .unwrap_or(Value::Null),
                    None => {
                        self.diags.error(
                            format!("output {name:?} needs a value"),
                            Some(b.range.clone()),
                        );
                        Value::Null
                    }
                };
                let sensitive = b
                    .body
                    .attr("sensitive")
                    .and_then(|a| self.eval(&a.expr, &a.value_range, &mut ctx, &mut env))
                    .is_some_and(|v| v == Value::Bool(true));
                if sensitive && !root {
                    collect_strings(&value, &mut stack.sensitive_values);
                }
                let deps = union(&node_deps, &node);
                done.output_deps.extend(deps.iter().cloned());
                node_deps.insert(node.clone(), deps);
                if root {
                    stack.outputs.push(OutputConfig {
                        name: name.to_string(),
                        value: value.clone(),
                        sensitive,
                    });
                }
                done.outputs.insert(name.to_string(), value);
            } else if node.starts_with("check.") {
                if let Some(b) = d.checks.get(&node) {
                    self.check_block(b, &mut ctx, &mut env);
                }
            } else if node.starts_with("data.") {
                let Some(b) = d.data.remove(&node) else {
                    continue;
                };
                // count/for_each: one read per instance, shaped like resource instances.
                if let Some(keys) = self.instances(&b.body, &mut ctx, &mut env) {
                    let mut values = Vec::with_capacity(keys.len());
                    for key in &keys {
                        self.bind(key, &mut env);
                        values.push(
                            self.data_source(&b, &default_provider, stack, &mut ctx, &mut env)
                                .unwrap_or(Value::Null),
                        );
                    }
                    if !matches!(keys.first(), Some(Key::One)) {
                        self.unbind(&mut env);
                    }
                    if referenced.contains(&node) {
                        env.set_data(&b.labels[0], &b.labels[1], shape(&keys, values));
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
                    self.module_call(&call, &b, extra, &node_deps, stack, &mut ctx, &mut env)
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
                let addrs = self.resource(
                    &call,
                    &default_provider,
                    b,
                    deps,
                    referenced.contains(&node),
                    stack,
                    &mut ctx,
                    &mut env,
                );
                done.resources.extend(addrs.iter().cloned());
                node_deps.insert(node.clone(), addrs);
            }
        }
        for b in d.images {
            if let Some(m) = self.image_mapping(&call.dir, &b, &mut ctx, &mut env) {
                stack.local_images.push(m);
            }
        }
        for b in d.refactors {
            self.refactor(&b, stack, &mut ctx, &mut env);
        }
        Some(done)
    }

    /// The instances of a block: one, or one per `count` index or `for_each` element.
    fn instances(
        &mut self,
        body: &RawBody,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Option<Vec<Key>> {
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
                let v = self.eval(&c.expr, &c.value_range, ctx, env)?;
                let n = match &v {
                    Value::Number(n) => n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0),
                    Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                    _ => None,
                };
                match n {
                    Some(n) => Some((0..n as usize).map(Key::Index).collect()),
                    None if contains_unknown(&v) => {
                        self.diags.push(Diagnostic::error("`count` depends on values known only after apply", Some(c.value_range.clone()))
                            .with_hint("count must be known when planning: use variables, locals or literal values"));
                        None
                    }
                    None => {
                        self.diags.error(
                            format!("`count` must be a whole number of zero or more, got {v}"),
                            Some(c.value_range.clone()),
                        );
                        None
                    }
                }
            }
            (None, Some(f)) => {
                let v = self.eval(&f.expr, &f.value_range, ctx, env)?;
                let unknown_keys = match &v {
                    Value::Object(m) => m.keys().any(|k| k.contains(UNKNOWN_START)),
                    other => contains_unknown(other),
                };
                if unknown_keys {
                    self.diags.push(Diagnostic::error("`for_each` keys depend on values known only after apply", Some(f.value_range.clone()))
                        .with_hint("for_each keys must be known when planning: key the map by names from variables or literals"));
                    return None;
                }
                match v {
                    Value::Object(m) => {
                        let mut keys: Vec<Key> =
                            m.into_iter().map(|(k, v)| Key::Name(k, v)).collect();
                        keys.sort_by(|a, b| match (a, b) {
                            (Key::Name(x, _), Key::Name(y, _)) => x.cmp(y),
                            _ => std::cmp::Ordering::Equal,
                        });
                        Some(keys)
                    }
                    Value::Array(items) => {
                        let mut keys = BTreeMap::new();
                        for it in items {
                            match it {
                                Value::String(s) => {
                                    keys.insert(s.clone(), Value::String(s));
                                }
                                other => {
                                    self.diags.push(Diagnostic::error(format!("`for_each` over a list needs strings (a set of names), got {}", kind(&other)), Some(f.value_range.clone()))
                                        .with_hint("use a map to carry other values: { for x in ... : x.name => x }"));
                                    return None;
                                }
                            }
                        }
                        Some(keys.into_iter().map(|(k, v)| Key::Name(k, v)).collect())
                    }
                    Value::Null => {
                        self.diags
                            .error("`for_each` must not be null", Some(f.value_range.clone()));
                        None
                    }
                    other => {
                        self.diags.push(
                            Diagnostic::error(
                                format!(
                                    "`for_each` needs a map or a set of strings, got {}",
                                    kind(&other)
                                ),
                                Some(f.value_range.clone()),
                            )
                            .with_hint("wrap a list of names in toset(...)"),
                        );
                        None
                    }
                }
            }
            (None, None) => Some(vec![Key::One]),
        }
    }

    fn bind(&mut self, key: &Key, env: &mut Env) {
        match key {
            Key::One => {}
            Key::Index(i) => env.set_root("count", serde_json::json!({ "index": i })),
            Key::Name(k, v) => env.set_root("each", serde_json::json!({ "key": k, "value": v })),
        }
    }

    fn unbind(&mut self, env: &mut Env) {
        env.set_root("count", Value::Null);
        env.set_root("each", Value::Null);
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
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> BTreeSet<String> {
        let ty = &b.labels[0];
        let mut addrs = BTreeSet::new();
        let Some(info) = (self.opts.types)(ty) else {
            return addrs;
        };
        let Some(keys) = self.instances(&b.body, ctx, env) else {
            return addrs;
        };
        let lifecycle = self.lifecycle(&b, ctx, env);
        let Some(provider) = self.chosen_provider(&b, default_provider, stack) else {
            return addrs;
        };
        let mut ref_values = Vec::with_capacity(if referenced { keys.len() } else { 0 });
        for key in &keys {
            self.bind(key, env);
            let addr = format!("{}{}.{}{}", call.prefix, ty, b.labels[1], key.suffix());
            let mut spans = BTreeMap::new();
            let errors_before = self.diags.error_count();
            let mut values = self.lower(&b.body, info.schema(), "", &b.range, &mut spans, ctx, env);
            info.derive(&mut values, &provider);
            self.check_conditions(&b, &addr, &values, info.computed(), stack, ctx, env);
            if referenced {
                let mut obj = values.clone();
                let known = (self.opts.known)(&addr).unwrap_or_default();
                for c in info.computed() {
                    if !obj.contains_key(*c) {
                        obj.insert(
                            c.to_string(),
                            known
                                .get(*c)
                                .cloned()
                                .unwrap_or_else(|| unknown(&format!("{addr}.{c}"))),
                        );
                    }
                }
                ref_values.push(Value::Object(obj));
            }
            let mut rc = ResourceConfig {
                addr: addr.clone(),
                ty: ty.clone(),
                name: b.labels[1].clone(),
                module: call.module_addr.clone(),
                index: key.index(),
                values: Value::Object(values),
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
            };
            // A resource whose arguments did not evaluate is not checked further (its
            // values are partial; the errors already say what to fix).
            if self.diags.error_count() == errors_before {
                let n = self.diags.0.len();
                info.validate(&rc, &mut self.diags);
                // A value known only after apply cannot be judged now (the API judges it).
                let mut k = n;
                while k < self.diags.0.len() {
                    let msg = &self.diags.0[k].summary;
                    if msg.contains(UNKNOWN_START) || msg.contains("\\u{1}") {
                        self.diags.0.remove(k);
                    } else {
                        k += 1;
                    }
                }
            }
            // Spans serve validation only; dropping them here keeps a large stack small.
            rc.spans = BTreeMap::new();
            stack.resources.push(rc);
            addrs.insert(addr);
        }
        if !matches!(keys.first(), Some(Key::One)) {
            self.unbind(env);
        }
        if referenced {
            env.set_member(ty, &b.labels[1], shape(&keys, ref_values));
        }
        addrs
    }

    /// `precondition` and `postcondition` blocks: checked while planning against the
    /// configuration and `self` (the planned values). A condition that depends on values known
    /// only after apply is not checked (a warning says so).
    #[allow(clippy::too_many_arguments)]
    fn check_conditions(
        &mut self,
        b: &RawBlock,
        addr: &str,
        values: &Map<String, Value>,
        computed: &[&str],
        stack: &mut Stack,
        ctx: &mut hcl::eval::Context,
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
        let mut me = values.clone();
        let known = (self.opts.known)(addr).unwrap_or_default();
        for c in computed {
            if !me.contains_key(*c) {
                let v = known
                    .get(*c)
                    .cloned()
                    .unwrap_or_else(|| unknown(&format!("{addr}.{c}")));
                me.insert(c.to_string(), v);
            }
        }
        env.set_root("self", Value::Object(me));
        for c in conds {
            let (Some(cond), Some(msg)) = (c.body.attr("condition"), c.body.attr("error_message"))
            else {
                self.diags.error(
                    format!("a {} needs `condition` and `error_message`", c.ty),
                    Some(c.range.clone()),
                );
                continue;
            };
            if env.touches_unknown(&cond.expr) {
                self.diags.push(Diagnostic::warning(
                    format!("{addr}: this {} depends on values known only after apply; it is checked when apply completes", c.ty),
                    Some(cond.value_range.clone()),
                ));
                stack.deferred_conditions += 1;
                continue;
            }
            match self.eval(&cond.expr, &cond.value_range, ctx, env) {
                Some(Value::Bool(true)) | None => {}
                Some(Value::Bool(false)) => {
                    let text = self
                        .eval(&msg.expr, &msg.value_range, ctx, env)
                        .and_then(|m| m.as_str().map(str::to_string))
                        .unwrap_or_else(|| "the condition is false".into());
                    let kind = if c.ty == "precondition" {
                        "precondition"
                    } else {
                        "postcondition"
                    };
                    self.diags.push(Diagnostic::error(
                        format!("{addr}: resource {kind} failed: {text}"),
                        Some(cond.value_range.clone()),
                    ));
                }
                Some(other) => self.diags.error(
                    format!("condition must be true or false, got {other}"),
                    Some(cond.value_range.clone()),
                ),
            }
        }
        env.set_root("self", Value::Null);
    }

    fn lifecycle(
        &mut self,
        b: &RawBlock,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Lifecycle {
        let mut l = Lifecycle::default();
        for blk in b.body.blocks.iter().filter(|x| x.ty == "lifecycle") {
            for a in &blk.body.attrs {
                match a.name.as_str() {
                    "prevent_destroy" | "create_before_destroy" => {
                        let v = self.eval(&a.expr, &a.value_range, ctx, env);
                        match v {
                            Some(Value::Bool(x)) if a.name == "prevent_destroy" => {
                                l.prevent_destroy = x;
                            }
                            Some(Value::Bool(true)) => {
                                self.diags.push(
                                    Diagnostic::error("create_before_destroy = true is not supported yet: runform replaces by deleting, then creating", Some(a.range.clone()))
                                        .with_hint("these resources have names unique per project and region, so a replacement with the same name cannot exist beside the old one anyway; remove the setting"),
                                );
                            }
                            Some(Value::Bool(false)) => {}
                            Some(_) => self.diags.error(
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
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Option<Value> {
        let ty = &b.labels[0];
        let allowed = data_args(ty).unwrap_or(&[]);
        let mut args = Map::new();
        for a in &b.body.attrs {
            if matches!(
                a.name.as_str(),
                "depends_on" | "provider" | "count" | "for_each"
            ) {
                continue;
            }
            if !allowed.contains(&a.name.as_str()) {
                let mut diag = Diagnostic::error(
                    format!("unsupported argument {:?} for data source {ty}", a.name),
                    Some(a.range.clone()),
                );
                if let Some(c) = closest(&a.name, allowed.iter().copied()) {
                    diag = diag.with_hint(format!("did you mean {c:?}?"));
                }
                self.diags.push(diag);
                continue;
            }
            let v = self.eval(&a.expr, &a.value_range, ctx, env)?;
            if contains_unknown(&v) {
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
            if !v.is_null() {
                args.insert(a.name.clone(), v);
            }
        }
        for blk in &b.body.blocks {
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
        if allowed.contains(&project_key) && !args.contains_key(project_key) {
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
        match (self.opts.data)(ty, &args) {
            Ok(mut m) => {
                if let Some(Value::String(t)) = m.get("access_token") {
                    if !t.is_empty() && !t.contains(UNKNOWN_START) {
                        stack.sensitive_values.push(t.clone());
                    }
                }
                for (k, v) in args {
                    m.entry(k).or_insert(v);
                }
                Some(Value::Object(m))
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
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) -> Option<(Value, BTreeSet<String>, BTreeSet<String>)> {
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
        let keys = self.instances(&b.body, ctx, env)?;
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
                let Some(v) = self.eval(&a.expr, &a.value_range, ctx, env) else {
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
            values.push(Value::Object(done.outputs));
            out_deps.extend(done.output_deps);
            all.extend(done.resources);
        }
        if !matches!(keys.first(), Some(Key::One)) {
            self.unbind(env);
        }
        Some((shape(&keys, values), out_deps, all))
    }

    /// The provider a block's `provider = google.ALIAS` meta-argument selects (else the
    /// module's default); an unknown alias is a located error.
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

    /// A module instance's variable values: its arguments, else the variable's default.
    fn module_inputs(
        &mut self,
        call: &Call,
        inputs: &BTreeMap<String, Input>,
        decls: &BTreeMap<String, Variable>,
    ) -> BTreeMap<String, Value> {
        let mut values = BTreeMap::new();
        for (k, i) in inputs {
            if !decls.contains_key(k) {
                let mut diag = Diagnostic::error(
                    format!("{} has no variable {k:?}", call.module_addr),
                    Some(i.range.clone()),
                );
                diag = match closest(k, decls.keys().map(String::as_str)) {
                    Some(c) => diag.with_hint(format!("did you mean {c:?}?")),
                    None => diag.with_hint(format!(
                        "its variables: {}",
                        decls.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                };
                self.diags.push(diag);
            }
        }
        for (n, d) in decls {
            match inputs.get(n) {
                Some(i) if !(i.value.is_null() && d.default.is_some()) => {
                    values.insert(n.clone(), i.value.clone());
                }
                _ => match &d.default {
                    Some(v) => {
                        values.insert(n.clone(), v.clone());
                    }
                    None => self.diags.push(
                        Diagnostic::error(
                            format!("{}: missing required argument {n:?}", call.module_addr),
                            call.call_range.clone(),
                        )
                        .with_hint(format!("the module's variable {n:?} has no default; add `{n} = ...` to the module block")),
                    ),
                },
            }
        }
        values
    }

    /// Converts every variable value to its declared type and runs its `validation` blocks.
    fn check_variables(
        &mut self,
        call: &Call,
        decls: &BTreeMap<String, Variable>,
        mut values: BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let place = |n: &str| {
            if call.module_addr.is_empty() {
                format!("variable {n:?}")
            } else {
                format!("{}: variable {n:?}", call.module_addr)
            }
        };
        for (n, d) in decls {
            let (Some(ty), Some(v)) = (&d.ty_expr, values.get(n)) else {
                continue;
            };
            match conform(ty, v.clone()) {
                Ok(v) => {
                    values.insert(n.clone(), v);
                }
                Err(e) => {
                    let range = call
                        .inputs
                        .as_ref()
                        .and_then(|i| i.get(n))
                        .map(|i| i.range.clone())
                        .unwrap_or_else(|| d.range.clone());
                    self.diags.error(format!("{}: {e}", place(n)), Some(range));
                }
            }
        }
        if decls.values().all(|d| d.validations.is_empty()) {
            return values;
        }
        let mut ctx = hcl::eval::Context::new();
        funcs::declare(&mut ctx);
        ctx.declare_var("var", from_json(&json_obj(values.clone())));
        for (n, d) in decls {
            if values.get(n).is_some_and(contains_unknown) {
                continue;
            }
            for v in &d.validations {
                let ok = match funcs::evaluate(&v.condition, &ctx) {
                    Ok(hcl::Value::Bool(b)) => b,
                    Ok(other) => {
                        self.diags.error(
                            format!("validation condition must be true or false, got {other}"),
                            Some(v.range.clone()),
                        );
                        continue;
                    }
                    Err(e) => {
                        self.diags.error(
                            format!("cannot evaluate validation condition: {e}"),
                            Some(v.range.clone()),
                        );
                        continue;
                    }
                };
                if !ok {
                    let msg = funcs::evaluate(&v.message, &ctx)
                        .ok()
                        .and_then(|m| m.as_str().map(str::to_string))
                        .unwrap_or_else(|| "invalid value".into());
                    let range = call
                        .inputs
                        .as_ref()
                        .and_then(|i| i.get(n))
                        .map(|i| i.range.clone())
                        .unwrap_or_else(|| v.range.clone());
                    self.diags.push(
                        Diagnostic::error(
                            format!("invalid value for {}: {msg}", place(n)),
                            Some(range),
                        )
                        .with_hint(format!("the condition is declared at {}", v.range)),
                    );
                }
            }
        }
        values
    }

    /// A `check` block: each `assert` whose condition is false is a warning, as in Terraform
    /// (one that depends on values known only after apply is not judged yet).
    fn check_block(&mut self, b: &RawBlock, ctx: &mut hcl::eval::Context, env: &mut Env) {
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
            if env.touches_unknown(&cond.expr) {
                continue;
            }
            if let Some(Value::Bool(false)) = self.eval(&cond.expr, &cond.value_range, ctx, env) {
                let text = self
                    .eval(&msg.expr, &msg.value_range, ctx, env)
                    .and_then(|m| m.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.diags.push(Diagnostic::warning(
                    format!("check {name:?} failed: {text}"),
                    Some(cond.value_range.clone()),
                ));
            }
        }
    }

    /// A `moved`, `import` or `removed` block, checked against the declared resources.
    fn refactor(
        &mut self,
        b: &RawBlock,
        stack: &mut Stack,
        ctx: &mut hcl::eval::Context,
        env: &mut Env,
    ) {
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
                let Some(id) = self.eval(&id_attr.expr, &id_attr.value_range, ctx, env) else {
                    return;
                };
                let Some(id) = id
                    .as_str()
                    .filter(|s| !s.is_empty() && !s.contains(UNKNOWN_START))
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
                        match self.eval(&a.expr, &a.value_range, ctx, env) {
                            Some(Value::Bool(x)) => destroy = x,
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

/// The graph node a reference names, given its root and first two attribute names.
pub(super) fn ref_node(root: &str, second: Option<&str>, third: Option<&str>) -> Option<String> {
    match root {
        "var" | "local" => second.map(|s| format!("{root}.{s}")),
        "module" => second.map(|s| format!("module.{s}")),
        "data" => match (second, third) {
            (Some(t), Some(n)) => Some(format!("data.{t}.{n}")),
            _ => None,
        },
        "path" | "terraform" | "each" | "count" | "self" => None,
        // `resource.TYPE.NAME` (seen in depends_on lists of Google's samples).
        "resource" => match (second, third) {
            (Some(t), Some(n)) => Some(format!("{t}.{n}")),
            _ => None,
        },
        _ => second.map(|s| format!("{root}.{s}")),
    }
}

/// Root and first two attribute names of a traversal expression.
fn traversal_parts(e: &hcl::Expression) -> Option<(String, Option<String>, Option<String>)> {
    use hcl::expr::TraversalOperator;
    match e {
        hcl::Expression::Traversal(t) => {
            let hcl::Expression::Variable(v) = &t.expr else {
                return None;
            };
            let mut names = t.operators.iter().map(|op| match op {
                TraversalOperator::GetAttr(a) => Some(a.to_string()),
                _ => None,
            });
            Some((
                v.to_string(),
                names.next().flatten(),
                names.next().flatten(),
            ))
        }
        hcl::Expression::Variable(v) => Some((v.to_string(), None, None)),
        _ => None,
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

/// The data sources runform reads, with the arguments each takes.
pub const DATA_SOURCES: &[(&str, &[&str])] = &[
    ("google_project", &["project_id"]),
    ("google_compute_default_service_account", &["project"]),
    (
        "google_storage_project_service_account",
        &["project", "user_project"],
    ),
    ("google_client_config", &[]),
];

pub fn data_args(ty: &str) -> Option<&'static [&'static str]> {
    DATA_SOURCES.iter().find(|(n, _)| *n == ty).map(|(_, a)| *a)
}
