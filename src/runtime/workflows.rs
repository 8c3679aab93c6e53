//! A Workflows interpreter for the subset the "event → Cloud Run job" pattern needs
//! (`shared/reference/gcp-api-more.md` §6.3-6.4): subworkflows with `params` (and defaults),
//! steps with `assign`, `call` + `args` + `result`, `switch` (conditions with `next`, `steps`,
//! `assign` or `return`), `next` (a step, `end`), `return`, `raise`, nested `steps`; `${...}`
//! expressions with variables, member and index access, `+ - * / % //`, comparisons, `and or
//! not in`, and the builtins `sys.get_env`, `default`, `len`, `keys`, `map.get`, `int`,
//! `double`, `string`, `json.encode_to_string`, `json.decode`, `text.*`. Calls other than
//! subworkflows (`http.*`, the Cloud Run connectors, `sys.log`) go to a [`Host`], which the
//! runtime implements (identity, IAM, waiting for the job). `for`, `parallel` (branches and
//! iterations run one after another) and `try`/`retry`/`except` run too. A step key outside
//! this set is an error naming the step, never silently skipped.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A raised error: the map Workflows code would catch (`{message, tags, ...}`), and the step.
#[derive(Debug, Clone, PartialEq)]
pub struct WfError {
    pub payload: Value,
    pub step: String,
}

impl WfError {
    fn new(tag: &str, message: impl Into<String>) -> WfError {
        WfError {
            payload: serde_json::json!({"message": message.into(), "tags": [tag]}),
            step: String::new(),
        }
    }
    pub fn message(&self) -> String {
        self.payload
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.payload.to_string())
    }
}

type WfResult<T> = Result<T, WfError>;

/// What a workflow reaches outside itself.
pub trait Host: Send + Sync {
    /// `sys.get_env` for the built-in `GOOGLE_CLOUD_*` keys and the workflow's user env vars.
    fn env(&self, key: &str) -> Option<String>;
    /// A call step to anything but a subworkflow (`http.get`, a connector, `sys.log`...).
    fn call<'a>(
        &'a self,
        function: &'a str,
        args: Value,
    ) -> Pin<Box<dyn Future<Output = WfResult<Value>> + Send + 'a>>;
}

#[derive(Debug, Clone)]
struct Sub {
    params: Vec<(String, Option<Value>)>,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Step {
    name: String,
    body: Map<String, Value>,
}

/// A parsed workflow definition.
#[derive(Debug, Clone)]
pub struct Program {
    subs: BTreeMap<String, Sub>,
}

const STEP_KEYS: &[&str] = &[
    "assign", "call", "args", "result", "switch", "return", "raise", "next", "steps", "for",
    "parallel", "try", "except", "retry",
];

impl Program {
    /// Parses YAML or JSON source. Every step is checked now, so an unsupported construct is
    /// reported before anything runs.
    pub fn parse(source: &str) -> Result<Program, String> {
        let docs = yaml_rust2::YamlLoader::load_from_str(source)
            .map_err(|e| format!("the workflow source is not valid YAML or JSON: {e}"))?;
        let root = docs.first().map(yaml_to_json).unwrap_or(Value::Null);
        let mut subs = BTreeMap::new();
        match root {
            Value::Array(steps) => {
                subs.insert(
                    "main".to_string(),
                    Sub {
                        params: vec![],
                        steps: parse_steps(&steps, "main")?,
                    },
                );
            }
            Value::Object(m) => {
                for (name, def) in m {
                    let def = def.as_object().ok_or(format!(
                        "subworkflow {name:?} must be a map with params and steps"
                    ))?;
                    let steps = def
                        .get("steps")
                        .and_then(Value::as_array)
                        .ok_or(format!("subworkflow {name:?} has no steps list"))?;
                    let mut params = vec![];
                    for p in def
                        .get("params")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        match p {
                            Value::String(s) => params.push((s.clone(), None)),
                            Value::Object(pm) if pm.len() == 1 => {
                                let (k, v) = pm.iter().next().expect("one entry");
                                params.push((k.clone(), Some(v.clone())));
                            }
                            other => {
                                return Err(format!("subworkflow {name:?}: bad param {other}"))
                            }
                        }
                    }
                    subs.insert(
                        name.clone(),
                        Sub {
                            params,
                            steps: parse_steps(steps, &name)?,
                        },
                    );
                }
            }
            _ => {
                return Err(
                    "a workflow is a list of steps or a map of subworkflows with main".into(),
                )
            }
        }
        if !subs.contains_key("main") {
            return Err("the workflow has no main subworkflow".into());
        }
        Ok(Program { subs })
    }

    /// Runs `main` with `argument` (bound to its single param, if any) to its result.
    pub async fn run(&self, argument: Value, host: &dyn Host) -> WfResult<Value> {
        let main = &self.subs["main"];
        let mut vars = BTreeMap::new();
        if let Some((p, _)) = main.params.first() {
            vars.insert(p.clone(), argument);
        }
        self.run_sub(main, vars, host).await
    }

    fn run_sub<'a>(
        &'a self,
        sub: &'a Sub,
        vars: BTreeMap<String, Value>,
        host: &'a dyn Host,
    ) -> Pin<Box<dyn Future<Output = WfResult<Value>> + Send + 'a>> {
        Box::pin(async move {
            let mut vars = vars;
            for (p, default) in &sub.params {
                if !vars.contains_key(p) {
                    vars.insert(p.clone(), default.clone().unwrap_or(Value::Null));
                }
            }
            match self.run_steps(&sub.steps, &mut vars, host).await? {
                Flow::Return(v) => Ok(v),
                _ => Ok(Value::Null),
            }
        })
    }

    fn run_steps<'a>(
        &'a self,
        steps: &'a [Step],
        vars: &'a mut BTreeMap<String, Value>,
        host: &'a dyn Host,
    ) -> Pin<Box<dyn Future<Output = WfResult<Flow>> + Send + 'a>> {
        Box::pin(async move {
            let mut i = 0;
            while i < steps.len() {
                let step = &steps[i];
                let flow = self.run_step(step, vars, host).await.map_err(|mut e| {
                    if e.step.is_empty() {
                        e.step = step.name.clone();
                    }
                    e
                })?;
                match flow {
                    Flow::Continue => i += 1,
                    Flow::Next(target) if target == "end" => return Ok(Flow::End),
                    Flow::Next(target) => match steps.iter().position(|s| s.name == target) {
                        Some(j) => i = j,
                        // Not at this level: let the enclosing list look for it.
                        None => return Ok(Flow::Next(target)),
                    },
                    other => return Ok(other),
                }
            }
            Ok(Flow::Continue)
        })
    }

    async fn run_step(
        &self,
        step: &Step,
        vars: &mut BTreeMap<String, Value>,
        host: &dyn Host,
    ) -> WfResult<Flow> {
        let b = &step.body;
        // Compound steps: for, parallel, try (each may be followed by `next`).
        let compound = if let Some(t) = b.get("try") {
            Some(self.run_try(step, t, vars, host).await?)
        } else if let Some(f) = b.get("for") {
            Some(self.run_for(f, vars, host).await?)
        } else if let Some(p) = b.get("parallel") {
            Some(self.run_parallel(p, vars, host).await?)
        } else {
            None
        };
        if let Some(flow) = compound {
            return Ok(match (flow, b.get("next").and_then(Value::as_str)) {
                (Flow::Continue, Some(n)) => Flow::Next(n.to_string()),
                (flow, _) => flow,
            });
        }
        if let Some(a) = b.get("assign") {
            assign(a, vars, host)?;
        }
        if let Some(f) = b.get("call").and_then(Value::as_str) {
            let args = eval_value(b.get("args").unwrap_or(&Value::Null), vars, host)?;
            let out = match self.subs.get(f) {
                Some(sub) => {
                    let args: BTreeMap<String, Value> = match args {
                        Value::Object(m) => m.into_iter().collect(),
                        Value::Null => BTreeMap::new(),
                        _ => {
                            return Err(WfError::new(
                                "TypeError",
                                format!("args of a call to {f} must be a map"),
                            ))
                        }
                    };
                    if let Some(unknown) = args
                        .keys()
                        .find(|k| !sub.params.iter().any(|(p, _)| p == *k))
                    {
                        return Err(WfError::new(
                            "TypeError",
                            format!("{f} has no parameter {unknown:?}"),
                        ));
                    }
                    self.run_sub(sub, args, host).await?
                }
                None => host.call(f, args).await?,
            };
            if let Some(r) = b.get("result").and_then(Value::as_str) {
                vars.insert(r.to_string(), out);
            }
        }
        if let Some(sw) = b.get("switch").and_then(Value::as_array) {
            for c in sw {
                let c = c
                    .as_object()
                    .ok_or_else(|| WfError::new("TypeError", "switch entries are maps"))?;
                let cond = eval_value(
                    c.get("condition").unwrap_or(&Value::Bool(false)),
                    vars,
                    host,
                )?;
                let Value::Bool(hit) = cond else {
                    return Err(WfError::new(
                        "TypeError",
                        format!("a switch condition must be a boolean, got {cond}"),
                    ));
                };
                if !hit {
                    continue;
                }
                if let Some(a) = c.get("assign") {
                    assign(a, vars, host)?;
                }
                if let Some(steps) = c.get("steps").and_then(Value::as_array) {
                    let steps = parse_steps(steps, &step.name)
                        .map_err(|e| WfError::new("ValueError", e))?;
                    match self.run_steps(&steps, vars, host).await? {
                        Flow::Continue => {}
                        other => return Ok(other),
                    }
                }
                if let Some(r) = c.get("raise") {
                    let payload = eval_value(r, vars, host)?;
                    return Err(WfError {
                        payload,
                        step: step.name.clone(),
                    });
                }
                if let Some(r) = c.get("return") {
                    return Ok(Flow::Return(eval_value(r, vars, host)?));
                }
                if let Some(n) = c.get("next").and_then(Value::as_str) {
                    return Ok(Flow::Next(n.to_string()));
                }
                break;
            }
        }
        if let Some(steps) = b.get("steps").and_then(Value::as_array) {
            let steps =
                parse_steps(steps, &step.name).map_err(|e| WfError::new("ValueError", e))?;
            match self.run_steps(&steps, vars, host).await? {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
        if let Some(r) = b.get("raise") {
            let payload = eval_value(r, vars, host)?;
            return Err(WfError {
                payload,
                step: step.name.clone(),
            });
        }
        if let Some(r) = b.get("return") {
            return Ok(Flow::Return(eval_value(r, vars, host)?));
        }
        if let Some(n) = b.get("next").and_then(Value::as_str) {
            return Ok(Flow::Next(n.to_string()));
        }
        Ok(Flow::Continue)
    }
}

enum Flow {
    Continue,
    Next(String),
    End,
    Return(Value),
}

fn parse_nested(v: &Value, name: &str) -> WfResult<Vec<Step>> {
    let steps = v
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| WfError::new("ValueError", format!("step {name:?}: `steps` missing")))?;
    parse_steps(steps, name).map_err(|e| WfError::new("ValueError", e))
}

impl Program {
    /// `for: { value, index, in | range, steps }`. Variables first assigned inside the loop are
    /// local to it; `next: break` / `next: continue` work as in Workflows.
    fn run_for<'a>(
        &'a self,
        f: &'a Value,
        vars: &'a mut BTreeMap<String, Value>,
        host: &'a dyn Host,
    ) -> Pin<Box<dyn Future<Output = WfResult<Flow>> + Send + 'a>> {
        Box::pin(async move {
            let value = f["value"].as_str().unwrap_or("value").to_string();
            let index = f.get("index").and_then(Value::as_str).map(str::to_string);
            let items: Vec<Value> = if let Some(r) = f.get("range") {
                let r = eval_value(r, vars, host)?;
                let (a, b) = match r.as_array().map(|x| x.as_slice()) {
                    Some([a, b]) => (num(a)?, num(b)?),
                    _ => return Err(WfError::new("TypeError", "range takes [start, end]")),
                };
                let (a, b) = (a as i64, b as i64);
                (a..=b).map(Value::from).collect()
            } else {
                match eval_value(&f["in"], vars, host)? {
                    Value::Array(xs) => xs,
                    Value::Object(m) => m.keys().map(|k| Value::String(k.clone())).collect(),
                    other => {
                        return Err(WfError::new(
                            "TypeError",
                            format!(
                                "for ... in needs a list or a map, got {}",
                                type_name(&other)
                            ),
                        ))
                    }
                }
            };
            let steps = parse_nested(f, "for")?;
            let outer: std::collections::BTreeSet<String> = vars.keys().cloned().collect();
            let mut result = Flow::Continue;
            for (i, item) in items.into_iter().enumerate() {
                vars.insert(value.clone(), item);
                if let Some(ix) = &index {
                    vars.insert(ix.clone(), Value::from(i));
                }
                let flow = self.run_steps(&steps, vars, host).await;
                vars.retain(|k, _| outer.contains(k));
                match flow? {
                    Flow::Continue => {}
                    Flow::Next(t) if t == "continue" => {}
                    Flow::Next(t) if t == "break" => break,
                    other => {
                        result = other;
                        break;
                    }
                }
            }
            Ok(result)
        })
    }

    /// `parallel: { shared, branches | for }`: branches and iterations run one after another
    /// (a valid order of a parallel run; their effects on shared variables are kept).
    fn run_parallel<'a>(
        &'a self,
        p: &'a Value,
        vars: &'a mut BTreeMap<String, Value>,
        host: &'a dyn Host,
    ) -> Pin<Box<dyn Future<Output = WfResult<Flow>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(f) = p.get("for") {
                return self.run_for(f, vars, host).await;
            }
            let outer: std::collections::BTreeSet<String> = vars.keys().cloned().collect();
            for br in p
                .get("branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for (name, body) in br.as_object().into_iter().flatten() {
                    let steps = parse_nested(body, name)?;
                    let flow = self.run_steps(&steps, vars, host).await;
                    vars.retain(|k, _| outer.contains(k));
                    match flow? {
                        Flow::Continue | Flow::End => {}
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Next(t) => {
                            return Err(WfError::new(
                                "ValueError",
                                format!("branch {name:?}: next: {t} leaves the parallel step"),
                            ))
                        }
                    }
                }
            }
            Ok(Flow::Continue)
        })
    }

    /// `try` (a call or `steps`), `retry` (`max_retries`, `backoff { initial_delay, max_delay,
    /// multiplier }`; every error is retried) and `except { as, steps }`.
    fn run_try<'a>(
        &'a self,
        step: &'a Step,
        t: &'a Value,
        vars: &'a mut BTreeMap<String, Value>,
        host: &'a dyn Host,
    ) -> Pin<Box<dyn Future<Output = WfResult<Flow>> + Send + 'a>> {
        Box::pin(async move {
            let body = if t.get("steps").is_some() {
                parse_nested(t, &step.name)?
            } else {
                parse_steps(&[serde_json::json!({ step.name.clone(): t })], &step.name)
                    .map_err(|e| WfError::new("ValueError", e))?
            };
            let retry = match step.body.get("retry") {
                Some(r) => eval_value(r, vars, host)?,
                None => Value::Null,
            };
            let max_retries = retry
                .get("max_retries")
                .and_then(Value::as_f64)
                .unwrap_or(0.0) as u32;
            let backoff = retry.get("backoff").cloned().unwrap_or(Value::Null);
            let mut delay = backoff
                .get("initial_delay")
                .and_then(Value::as_f64)
                .unwrap_or(1.0);
            let max_delay = backoff
                .get("max_delay")
                .and_then(Value::as_f64)
                .unwrap_or(60.0);
            let multiplier = backoff
                .get("multiplier")
                .and_then(Value::as_f64)
                .unwrap_or(2.0);
            let mut attempt = 0;
            loop {
                match self.run_steps(&body, vars, host).await {
                    Ok(flow) => return Ok(flow),
                    Err(_) if attempt < max_retries => {
                        attempt += 1;
                        if delay > 0.0 {
                            tokio::time::sleep(crate::api::common::clamp_secs(delay)).await;
                        }
                        delay = (delay * multiplier).min(max_delay);
                    }
                    Err(e) => {
                        let Some(x) = step.body.get("except") else {
                            return Err(e);
                        };
                        if let Some(name) = x.get("as").and_then(Value::as_str) {
                            vars.insert(name.to_string(), e.payload.clone());
                        }
                        let steps = parse_nested(x, &step.name)?;
                        return self.run_steps(&steps, vars, host).await;
                    }
                }
            }
        })
    }
}

/// `http.default_retry` and friends: the retry policies Workflows predefines.
fn predefined(root: &str, key: &str) -> Option<Value> {
    let policy = |n: u32| serde_json::json!({"max_retries": n, "backoff": {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}});
    match (root, key) {
        ("http", "default_retry") | ("retry", "default_backoff") => Some(policy(5)),
        ("http", "default_retry_non_idempotent") => Some(policy(5)),
        _ => None,
    }
}

fn parse_steps(steps: &[Value], sub: &str) -> Result<Vec<Step>, String> {
    let mut out = vec![];
    for s in steps {
        let m = s
            .as_object()
            .filter(|m| m.len() == 1)
            .ok_or(format!("{sub}: each step is a map with one key, its name"))?;
        let (name, body) = m.iter().next().expect("one entry");
        let body = body
            .as_object()
            .ok_or(format!("step {name:?}: its body must be a map"))?
            .clone();
        for k in body.keys() {
            if !STEP_KEYS.contains(&k.as_str()) {
                return Err(format!(
                    "step {name:?}: `{k}` is not supported by the local Workflows interpreter (supported: {})",
                    STEP_KEYS.join(", ")
                ));
            }
        }
        if let Some(steps) = body.get("steps").and_then(Value::as_array) {
            parse_steps(steps, sub)?;
        }
        // Nested step lists of for, parallel, try and except are checked now, not mid-run.
        let nested = |v: Option<&Value>| -> Result<(), String> {
            if let Some(steps) = v.and_then(|x| x.get("steps")).and_then(Value::as_array) {
                parse_steps(steps, sub)?;
            }
            Ok(())
        };
        if let Some(f) = body.get("for") {
            if f.get("value").and_then(Value::as_str).is_none()
                || (f.get("in").is_none() && f.get("range").is_none())
                || f.get("steps").and_then(Value::as_array).is_none()
            {
                return Err(format!(
                    "step {name:?}: a for loop needs `value`, `in` (or `range`) and `steps`"
                ));
            }
            nested(Some(f))?;
        }
        if let Some(p) = body.get("parallel") {
            nested(p.get("for"))?;
            for br in p
                .get("branches")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for (_, b) in br.as_object().into_iter().flatten() {
                    nested(Some(b))?;
                }
            }
        }
        if let Some(t) = body.get("try") {
            if t.get("steps").is_some() {
                nested(Some(t))?;
            } else {
                parse_steps(&[serde_json::json!({ name.clone(): t })], sub)?;
            }
        }
        nested(body.get("except"))?;
        for c in body
            .get("switch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let keys = c
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            if !keys.iter().any(|k| k == "condition") {
                return Err(format!(
                    "step {name:?}: every switch entry needs a condition"
                ));
            }
            if let Some(k) = keys.iter().find(|k| {
                !["condition", "next", "steps", "assign", "return", "raise"].contains(&k.as_str())
            }) {
                return Err(format!(
                    "step {name:?}: `{k}` is not supported in a switch entry"
                ));
            }
            if let Some(steps) = c.get("steps").and_then(Value::as_array) {
                parse_steps(steps, sub)?;
            }
        }
        out.push(Step {
            name: name.clone(),
            body,
        });
    }
    Ok(out)
}

fn assign(list: &Value, vars: &mut BTreeMap<String, Value>, host: &dyn Host) -> WfResult<()> {
    let items = list
        .as_array()
        .ok_or_else(|| WfError::new("TypeError", "assign takes a list of single-key maps"))?;
    for item in items {
        let m = item
            .as_object()
            .filter(|m| m.len() == 1)
            .ok_or_else(|| WfError::new("TypeError", "assign takes a list of single-key maps"))?;
        let (target, v) = m.iter().next().expect("one entry");
        let v = eval_value(v, vars, host)?;
        set_path(vars, target, v)?;
    }
    Ok(())
}

/// `x`, `m.key`, `m["key"]`, `l[0]` as assignment targets.
fn set_path(vars: &mut BTreeMap<String, Value>, target: &str, v: Value) -> WfResult<()> {
    let expr = Parser::new(target)?.parse_all()?;
    fn path_of(e: &Expr, out: &mut Vec<Expr>) -> WfResult<String> {
        match e {
            Expr::Var(n) => Ok(n.clone()),
            Expr::Member(b, k) => {
                let root = path_of(b, out)?;
                out.push(Expr::Lit(Value::String(k.clone())));
                Ok(root)
            }
            Expr::Index(b, i) => {
                let root = path_of(b, out)?;
                out.push((**i).clone());
                Ok(root)
            }
            _ => Err(WfError::new("SyntaxError", "cannot assign to this")),
        }
    }
    let mut keys = vec![];
    let root = path_of(&expr, &mut keys)?;
    if keys.is_empty() {
        vars.insert(root, v);
        return Ok(());
    }
    let keys: Vec<Value> = {
        let snapshot = vars.clone();
        keys.iter()
            .map(|k| eval(k, &snapshot, &NoHost))
            .collect::<WfResult<_>>()?
    };
    let mut cur = vars
        .get_mut(&root)
        .ok_or_else(|| WfError::new("KeyError", format!("variable {root} is not defined")))?;
    for (i, k) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        cur = match (cur, k) {
            (Value::Object(m), Value::String(k)) => {
                if last {
                    m.insert(k.clone(), v);
                    return Ok(());
                }
                m.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            (Value::Array(a), Value::Number(n)) => {
                let idx = n
                    .as_u64()
                    .map(|x| x as usize)
                    .filter(|x| *x < a.len())
                    .ok_or_else(|| {
                        WfError::new("IndexError", format!("index {n} is out of range"))
                    })?;
                if last {
                    a[idx] = v;
                    return Ok(());
                }
                &mut a[idx]
            }
            _ => {
                return Err(WfError::new(
                    "TypeError",
                    format!("cannot assign into {target}"),
                ))
            }
        };
    }
    Ok(())
}

struct NoHost;
impl Host for NoHost {
    fn env(&self, _: &str) -> Option<String> {
        None
    }
    fn call<'a>(
        &'a self,
        f: &'a str,
        _: Value,
    ) -> Pin<Box<dyn Future<Output = WfResult<Value>> + Send + 'a>> {
        Box::pin(async move {
            Err(WfError::new(
                "TypeError",
                format!("{f} cannot be called here"),
            ))
        })
    }
}

/// Evaluates `${...}` strings anywhere inside a value (maps and lists recursively).
pub fn eval_value(v: &Value, vars: &BTreeMap<String, Value>, host: &dyn Host) -> WfResult<Value> {
    match v {
        Value::String(s) => match s
            .trim()
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
        {
            Some(src) => eval(&Parser::new(src)?.parse_all()?, vars, host),
            None => Ok(v.clone()),
        },
        Value::Array(a) => a
            .iter()
            .map(|x| eval_value(x, vars, host))
            .collect::<WfResult<Vec<_>>>()
            .map(Value::Array),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), eval_value(x, vars, host)?);
            }
            Ok(Value::Object(out))
        }
        _ => Ok(v.clone()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Value),
    Var(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Value),
    Str(String),
    Id(String),
    Op(&'static str),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const OPS: &[&str] = &[
    "==", "!=", "<=", ">=", "//", "+", "-", "*", "/", "%", "<", ">", "(", ")", "[", "]", "{", "}",
    ",", ".", ":",
];

impl Parser {
    fn new(src: &str) -> WfResult<Parser> {
        let syntax = |m: String| WfError::new("SyntaxError", m);
        let mut toks = vec![];
        let cs: Vec<char> = src.chars().collect();
        let mut i = 0;
        while i < cs.len() {
            let c = cs[i];
            if c.is_whitespace() {
                i += 1;
            } else if c.is_ascii_digit() {
                let start = i;
                while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                    i += 1;
                }
                let t: String = cs[start..i].iter().collect();
                let n: Value =
                    serde_json::from_str(&t).map_err(|_| syntax(format!("bad number {t}")))?;
                toks.push(Tok::Num(n));
            } else if c == '"' || c == '\'' {
                let mut s = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err(syntax(format!("unterminated string in {src}"))),
                        Some(&q) if q == c => break,
                        Some('\\') => {
                            i += 1;
                            s.push(match cs.get(i) {
                                Some('n') => '\n',
                                Some('t') => '\t',
                                Some(&x) => x,
                                None => return Err(syntax("bad escape".into())),
                            });
                        }
                        Some(&x) => s.push(x),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Str(s));
            } else if c.is_alphabetic() || c == '_' {
                let start = i;
                while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Id(cs[start..i].iter().collect()));
            } else {
                let rest: String = cs[i..cs.len().min(i + 2)].iter().collect();
                let op = OPS
                    .iter()
                    .find(|o| rest.starts_with(**o))
                    .ok_or_else(|| syntax(format!("unexpected {c:?} in {src}")))?;
                toks.push(Tok::Op(op));
                i += op.len();
            }
        }
        Ok(Parser { toks, pos: 0 })
    }

    fn parse_all(&mut self) -> WfResult<Expr> {
        let e = self.expr(0)?;
        if self.pos != self.toks.len() {
            return Err(WfError::new(
                "SyntaxError",
                format!("unexpected {:?}", self.toks[self.pos]),
            ));
        }
        Ok(e)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> WfResult<()> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(WfError::new("SyntaxError", format!("expected {op:?}")))
        }
    }

    /// Binding powers: or < and < not < comparisons/in < + - < * / % //.
    fn infix(&self) -> Option<(&'static str, u8)> {
        match self.peek()? {
            Tok::Id(k) if k == "or" => Some(("or", 1)),
            Tok::Id(k) if k == "and" => Some(("and", 2)),
            Tok::Id(k) if k == "in" => Some(("in", 4)),
            Tok::Op(o) => match *o {
                "==" | "!=" | "<" | "<=" | ">" | ">=" => Some((o, 4)),
                "+" | "-" => Some((o, 5)),
                "*" | "/" | "%" | "//" => Some((o, 6)),
                _ => None,
            },
            _ => None,
        }
    }

    fn expr(&mut self, min: u8) -> WfResult<Expr> {
        let mut lhs = self.prefix()?;
        // Left-associative: an operator binds only if it is tighter than the caller's.
        while let Some((op, bp)) = self.infix() {
            if bp <= min {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(bp)?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> WfResult<Expr> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| WfError::new("SyntaxError", "unexpected end of expression"))?;
        self.pos += 1;
        let mut e = match t {
            Tok::Num(n) => Expr::Lit(n),
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Id(k) if k == "not" => return Ok(Expr::Not(Box::new(self.expr(3)?))),
            Tok::Id(k) if k == "true" || k == "True" => Expr::Lit(Value::Bool(true)),
            Tok::Id(k) if k == "false" || k == "False" => Expr::Lit(Value::Bool(false)),
            Tok::Id(k) if k == "null" || k == "None" => Expr::Lit(Value::Null),
            Tok::Id(k) => Expr::Var(k),
            Tok::Op("-") => return Ok(Expr::Neg(Box::new(self.expr(6)?))),
            Tok::Op("(") => {
                let e = self.expr(0)?;
                self.expect(")")?;
                e
            }
            Tok::Op("[") => {
                let mut items = vec![];
                if !self.eat("]") {
                    loop {
                        items.push(self.expr(0)?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Expr::List(items)
            }
            Tok::Op("{") => {
                let mut items = vec![];
                if !self.eat("}") {
                    loop {
                        let k = match self.toks.get(self.pos).cloned() {
                            Some(Tok::Str(s)) | Some(Tok::Id(s)) => s,
                            _ => return Err(WfError::new("SyntaxError", "map keys are strings")),
                        };
                        self.pos += 1;
                        self.expect(":")?;
                        items.push((k, self.expr(0)?));
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Expr::Map(items)
            }
            other => return Err(WfError::new("SyntaxError", format!("unexpected {other:?}"))),
        };
        // Postfix: member access, indexing, calls of dotted names.
        loop {
            if self.eat(".") {
                match self.toks.get(self.pos).cloned() {
                    Some(Tok::Id(k)) => {
                        self.pos += 1;
                        e = Expr::Member(Box::new(e), k);
                    }
                    _ => return Err(WfError::new("SyntaxError", "expected a name after '.'")),
                }
            } else if self.eat("[") {
                let i = self.expr(0)?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
            } else if matches!(self.peek(), Some(Tok::Op("("))) {
                let name = dotted(&e).ok_or_else(|| {
                    WfError::new("SyntaxError", "only named functions can be called")
                })?;
                self.pos += 1;
                let mut args = vec![];
                if !self.eat(")") {
                    loop {
                        args.push(self.expr(0)?);
                        if self.eat(")") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                e = Expr::Call(name, args);
            } else {
                return Ok(e);
            }
        }
    }
}

fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Var(n) => Some(n.clone()),
        Expr::Member(b, k) => Some(format!("{}.{k}", dotted(b)?)),
        _ => None,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "double",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn num(v: &Value) -> WfResult<f64> {
    v.as_f64().ok_or_else(|| {
        WfError::new(
            "TypeError",
            format!("expected a number, got {}", type_name(v)),
        )
    })
}

fn number(x: f64, ints: bool) -> Value {
    if ints && x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn eval(e: &Expr, vars: &BTreeMap<String, Value>, host: &dyn Host) -> WfResult<Value> {
    let te = |m: String| WfError::new("TypeError", m);
    match e {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Var(n) => vars
            .get(n)
            .cloned()
            .ok_or_else(|| WfError::new("KeyError", format!("variable {n} is not defined"))),
        Expr::Member(b, k) => match eval(b, vars, host).or_else(|e| match &**b {
            // `http.default_retry`: no variable `http`, a predefined policy.
            Expr::Var(r) if !vars.contains_key(r) => predefined(r, k)
                .map(|p| serde_json::json!({ k.as_str(): p }))
                .ok_or(e),
            _ => Err(e),
        })? {
            Value::Object(m) => m
                .get(k)
                .cloned()
                .ok_or_else(|| WfError::new("KeyError", format!("key not found: {k}"))),
            other => Err(te(format!("cannot read .{k} of a {}", type_name(&other)))),
        },
        Expr::Index(b, i) => match (eval(b, vars, host)?, eval(i, vars, host)?) {
            (Value::Object(m), Value::String(k)) => m
                .get(&k)
                .cloned()
                .ok_or_else(|| WfError::new("KeyError", format!("key not found: {k}"))),
            (Value::Array(a), Value::Number(n)) => n
                .as_i64()
                .and_then(|i| {
                    a.get(if i < 0 {
                        (a.len() as i64 + i) as usize
                    } else {
                        i as usize
                    })
                })
                .cloned()
                .ok_or_else(|| WfError::new("IndexError", format!("list index {n} out of range"))),
            (c, i) => Err(te(format!(
                "cannot index a {} with a {}",
                type_name(&c),
                type_name(&i)
            ))),
        },
        Expr::Not(x) => match eval(x, vars, host)? {
            Value::Bool(b) => Ok(Value::Bool(!b)),
            other => Err(te(format!(
                "not takes a boolean, got {}",
                type_name(&other)
            ))),
        },
        Expr::Neg(x) => {
            let v = eval(x, vars, host)?;
            Ok(number(-num(&v)?, v.is_i64()))
        }
        Expr::List(items) => items
            .iter()
            .map(|x| eval(x, vars, host))
            .collect::<WfResult<Vec<_>>>()
            .map(Value::Array),
        Expr::Map(items) => {
            let mut m = Map::new();
            for (k, x) in items {
                m.insert(k.clone(), eval(x, vars, host)?);
            }
            Ok(Value::Object(m))
        }
        Expr::Bin(op, a, b) => {
            // and/or short-circuit.
            if *op == "and" || *op == "or" {
                let l = eval(a, vars, host)?;
                let Value::Bool(l) = l else {
                    return Err(te(format!("{op} takes booleans, got {}", type_name(&l))));
                };
                if (*op == "and" && !l) || (*op == "or" && l) {
                    return Ok(Value::Bool(l));
                }
                let r = eval(b, vars, host)?;
                return match r {
                    Value::Bool(_) => Ok(r),
                    other => Err(te(format!(
                        "{op} takes booleans, got {}",
                        type_name(&other)
                    ))),
                };
            }
            let (l, r) = (eval(a, vars, host)?, eval(b, vars, host)?);
            binary(op, l, r)
        }
        Expr::Call(f, args) => {
            let args: Vec<Value> = args
                .iter()
                .map(|x| eval(x, vars, host))
                .collect::<WfResult<_>>()?;
            builtin(f, args, host)
        }
    }
}

fn binary(op: &str, l: Value, r: Value) -> WfResult<Value> {
    let te = |m: String| WfError::new("TypeError", m);
    match op {
        "==" => Ok(Value::Bool(loose_eq(&l, &r))),
        "!=" => Ok(Value::Bool(!loose_eq(&l, &r))),
        "in" => match &r {
            Value::Array(a) => Ok(Value::Bool(a.iter().any(|x| loose_eq(x, &l)))),
            Value::Object(m) => Ok(Value::Bool(l.as_str().is_some_and(|k| m.contains_key(k)))),
            other => Err(te(format!(
                "in needs a list or map, got {}",
                type_name(other)
            ))),
        },
        "<" | "<=" | ">" | ">=" => {
            let ord = match (&l, &r) {
                (Value::String(a), Value::String(b)) => a.cmp(b),
                _ => num(&l)?
                    .partial_cmp(&num(&r)?)
                    .ok_or_else(|| te("cannot compare".into()))?,
            };
            Ok(Value::Bool(match op {
                "<" => ord.is_lt(),
                "<=" => ord.is_le(),
                ">" => ord.is_gt(),
                _ => ord.is_ge(),
            }))
        }
        "+" => match (&l, &r) {
            (Value::String(a), Value::String(b)) => Ok(Value::String(format!("{a}{b}"))),
            (Value::Array(a), Value::Array(b)) => {
                Ok(Value::Array(a.iter().chain(b).cloned().collect()))
            }
            (Value::Number(_), Value::Number(_)) => {
                Ok(number(num(&l)? + num(&r)?, l.is_i64() && r.is_i64()))
            }
            _ => Err(te(format!(
                "cannot add a {} and a {} (+ joins strings only; convert numbers with string())",
                type_name(&l),
                type_name(&r)
            ))),
        },
        "-" | "*" | "/" | "%" | "//" => {
            let (a, b) = (num(&l)?, num(&r)?);
            let ints = l.is_i64() && r.is_i64();
            if b == 0.0 && op != "-" && op != "*" {
                return Err(WfError::new("ZeroDivisionError", "division by zero"));
            }
            Ok(match op {
                "-" => number(a - b, ints),
                "*" => number(a * b, ints),
                "/" => number(a / b, false),
                "%" => number(a % b, ints),
                _ => number((a / b).floor(), true),
            })
        }
        _ => Err(te(format!("unknown operator {op}"))),
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn builtin(f: &str, args: Vec<Value>, host: &dyn Host) -> WfResult<Value> {
    let te = |m: String| WfError::new("TypeError", m);
    let arity = |n: usize| -> WfResult<()> {
        if args.len() < n {
            Err(te(format!("{f} needs {n} argument(s), got {}", args.len())))
        } else {
            Ok(())
        }
    };
    let s = |i: usize| -> WfResult<&str> {
        args.get(i)
            .and_then(Value::as_str)
            .ok_or_else(|| te(format!("argument {} of {f} must be a string", i + 1)))
    };
    match f {
        "sys.get_env" => {
            arity(1)?;
            Ok(host
                .env(s(0)?)
                .map(Value::String)
                .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::Null)))
        }
        "sys.now" => Ok(number(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            false,
        )),
        "default" => {
            arity(2)?;
            Ok(if args[0].is_null() {
                args[1].clone()
            } else {
                args[0].clone()
            })
        }
        "len" => {
            arity(1)?;
            Ok(Value::from(match &args[0] {
                Value::String(x) => x.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => return Err(te(format!("len of a {}", type_name(other)))),
            }))
        }
        "keys" => match args.first() {
            Some(Value::Object(m)) => {
                Ok(Value::Array(m.keys().cloned().map(Value::String).collect()))
            }
            _ => Err(te("keys takes a map".into())),
        },
        "map.get" => {
            arity(2)?;
            Ok(match (&args[0], &args[1]) {
                (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
                (Value::Object(m), Value::Array(path)) => {
                    let mut cur = Some(&Value::Object(m.clone()));
                    let mut out = None;
                    for k in path {
                        cur = cur.and_then(|c| c.get(k.as_str().unwrap_or("")));
                        out = cur.cloned();
                    }
                    out.unwrap_or(Value::Null)
                }
                (Value::Null, _) => Value::Null,
                _ => return Err(te("map.get takes a map and a key".into())),
            })
        }
        "string" => {
            arity(1)?;
            Ok(Value::String(to_text(&args[0])))
        }
        "int" => {
            arity(1)?;
            match &args[0] {
                Value::String(x) => x
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| WfError::new("ValueError", format!("int({x:?})"))),
                v => Ok(Value::from(num(v)?.trunc() as i64)),
            }
        }
        "double" => {
            arity(1)?;
            match &args[0] {
                Value::String(x) => x
                    .trim()
                    .parse::<f64>()
                    .map(|d| number(d, false))
                    .map_err(|_| WfError::new("ValueError", format!("double({x:?})"))),
                v => Ok(number(num(v)?, false)),
            }
        }
        "json.encode_to_string" => {
            arity(1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "json.decode" => {
            arity(1)?;
            serde_json::from_str(s(0)?)
                .map_err(|e| WfError::new("ValueError", format!("json.decode: {e}")))
        }
        "text.to_lower" => Ok(Value::String(s(0)?.to_lowercase())),
        "text.to_upper" => Ok(Value::String(s(0)?.to_uppercase())),
        "text.replace_all" => {
            arity(3)?;
            Ok(Value::String(s(0)?.replace(s(1)?, s(2)?)))
        }
        "text.split" => {
            arity(2)?;
            Ok(Value::Array(
                s(0)?
                    .split(s(1)?)
                    .map(|x| Value::String(x.into()))
                    .collect(),
            ))
        }
        "text.substring" => {
            arity(3)?;
            let chars: Vec<char> = s(0)?.chars().collect();
            let (a, b) = (num(&args[1])? as usize, num(&args[2])? as usize);
            Ok(Value::String(
                chars[a.min(chars.len())..b.min(chars.len()).max(a.min(chars.len()))]
                    .iter()
                    .collect(),
            ))
        }
        "text.match_regex" | "text.find_all_regex" | "text.replace_all_regex" => {
            let re = |p: &str| {
                regex::Regex::new(p).map_err(|e| {
                    WfError::new(
                        "ValueError",
                        format!("{f}: invalid regular expression {p:?}: {e}"),
                    )
                })
            };
            match f {
                "text.match_regex" => {
                    arity(2)?;
                    Ok(Value::Bool(re(s(1)?)?.is_match(s(0)?)))
                }
                "text.find_all_regex" => {
                    arity(2)?;
                    let hay = s(0)?;
                    Ok(Value::Array(
                        re(s(1)?)?
                            .find_iter(hay)
                            .map(|m| serde_json::json!({"index": hay[..m.start()].chars().count(), "match": m.as_str()}))
                            .collect(),
                    ))
                }
                _ => {
                    arity(3)?;
                    Ok(Value::String(
                        re(s(1)?)?.replace_all(s(0)?, s(2)?).into_owned(),
                    ))
                }
            }
        }
        "text.find_all" => {
            arity(2)?;
            let (hay, needle) = (s(0)?, s(1)?);
            Ok(Value::Array(
                hay.match_indices(needle)
                    .map(
                        |(i, m)| serde_json::json!({"index": hay[..i].chars().count(), "match": m}),
                    )
                    .collect(),
            ))
        }
        _ => Err(WfError::new(
            "TypeError",
            format!(
                "function {f} is not supported by the local Workflows interpreter in expressions"
            ),
        )),
    }
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records calls; answers connectors with a fake execution.
    struct Fake {
        calls: Mutex<Vec<(String, Value)>>,
    }
    impl Host for Fake {
        fn env(&self, key: &str) -> Option<String> {
            (key == "GOOGLE_CLOUD_PROJECT_ID").then(|| "proj".to_string())
        }
        fn call<'a>(
            &'a self,
            f: &'a str,
            args: Value,
        ) -> Pin<Box<dyn Future<Output = WfResult<Value>> + Send + 'a>> {
            Box::pin(async move {
                self.calls
                    .lock()
                    .unwrap()
                    .push((f.to_string(), args.clone()));
                match f {
                    "googleapis.run.v1.namespaces.jobs.run" => {
                        Ok(serde_json::json!({"metadata": {"name": "job-abc"}}))
                    }
                    "sys.log" => Ok(Value::Null),
                    // Fails twice, then answers how many calls it took.
                    "flaky" => {
                        let n = self
                            .calls
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|c| c.0 == "flaky")
                            .count();
                        if n < 3 {
                            Err(WfError::new("HttpError", format!("attempt {n} failed")))
                        } else {
                            Ok(Value::from(n))
                        }
                    }
                    _ => Err(WfError::new("HttpError", format!("no {f}"))),
                }
            })
        }
    }

    #[test]
    fn for_parallel_and_try_with_retry_and_except() {
        let src = r#"
main:
  steps:
    - init:
        assign:
          - total: 0
          - names: []
    - sum:
        for:
          value: x
          index: i
          in: [1, 2, 3, 4]
          steps:
            - skip_three:
                switch:
                  - condition: ${x == 3}
                    next: continue
            - add:
                assign:
                  - total: ${total + x * 10 + i}
                  - scratch: ${x}
    - keys:
        for:
          value: k
          in: {"b": 1, "a": 2}
          steps:
            - collect:
                assign:
                  - names: ${names + [k]}
    - fan:
        parallel:
          shared: [total]
          branches:
            - one:
                steps:
                  - a:
                      assign:
                        - total: ${total + 1000}
            - two:
                steps:
                  - b:
                      assign:
                        - total: ${total + 2000}
    - flaky:
        try:
          call: flaky
          result: attempts
        retry:
          max_retries: 5
          backoff:
            initial_delay: 0
            max_delay: 0
            multiplier: 2
    - doomed:
        try:
          steps:
            - fail:
                call: nowhere
        except:
          as: e
          steps:
            - note:
                assign:
                  - caught: ${e.message}
    - done:
        return:
          total: ${total}
          names: ${names}
          attempts: ${attempts}
          caught: ${caught}
"#;
        let (r, calls) = run(src, Value::Null);
        let r = r.unwrap();
        // 10+0 + 20+1 + 40+3 (3 skipped) = 74, + 3000 from the branches.
        assert_eq!(r["total"], 3074);
        assert_eq!(r["names"], serde_json::json!(["b", "a"]));
        assert_eq!(r["attempts"], 3);
        assert_eq!(r["caught"], "no nowhere");
        assert_eq!(calls.iter().filter(|c| c.0 == "flaky").count(), 3);
        // Workflows' predefined retry policies.
        let (r, _) = run(
            "- r:\n    return: ${http.default_retry.max_retries}\n",
            Value::Null,
        );
        assert_eq!(r.unwrap(), 5);
        // Without a retry policy the error goes up with its step.
        let (r, _) = run("- once:\n    try:\n      call: nowhere\n", Value::Null);
        assert_eq!(r.unwrap_err().step, "once");
        // A variable first assigned in a loop does not outlive it.
        let (r, _) = run("- l:\n    for:\n      value: x\n      in: [1]\n      steps:\n        - s:\n            assign:\n              - inner: 1\n- r:\n    return: ${inner}\n", Value::Null);
        assert!(r.unwrap_err().message().contains("inner"));
    }

    /// Google's published sample (one copy, shared with the integration tests).
    const SAMPLE: &str = include_str!("../../tests/fixtures/storage-event-sample.yaml");

    fn run(src: &str, arg: Value) -> (WfResult<Value>, Vec<(String, Value)>) {
        let host = Fake {
            calls: Mutex::new(vec![]),
        };
        let p = Program::parse(src).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let r = rt.block_on(p.run(arg, &host));
        (r, host.calls.into_inner().unwrap())
    }

    #[test]
    fn googles_sample_runs_the_job_for_its_bucket_only() {
        let ev =
            |bucket: &str| serde_json::json!({"data": {"bucket": bucket, "name": "photo.jpg"}});
        let (r, calls) = run(SAMPLE, ev("input-proj"));
        assert_eq!(
            r.unwrap(),
            serde_json::json!({"metadata": {"name": "job-abc"}})
        );
        assert_eq!(calls.len(), 1);
        let (f, args) = &calls[0];
        assert_eq!(f, "googleapis.run.v1.namespaces.jobs.run");
        assert_eq!(args["name"], "namespaces/proj/jobs/parallel-job");
        assert_eq!(args["location"], "us-central1");
        assert_eq!(
            args["body"]["overrides"]["containerOverrides"]["env"][1]["value"],
            "photo.jpg"
        );
        let (r, calls) = run(SAMPLE, ev("other"));
        assert_eq!(r.unwrap(), Value::Null, "next: end finishes with no result");
        assert!(calls.is_empty());
    }

    #[test]
    fn expressions() {
        let vars: BTreeMap<String, Value> = [
            (
                "m".to_string(),
                serde_json::json!({"a": {"b": [10, 20, 30]}, "k-x": 1}),
            ),
            ("s".to_string(), serde_json::json!("abc")),
        ]
        .into_iter()
        .collect();
        let e = |src: &str| eval_value(&Value::String(format!("${{{src}}}")), &vars, &NoHost);
        assert_eq!(e("1 + 2 * 3").unwrap(), 7);
        assert_eq!(e("(1 + 2) * 3").unwrap(), 9);
        assert_eq!(e("7 // 2").unwrap(), 3);
        assert_eq!(e("7 % 4").unwrap(), 3);
        assert_eq!(e("7 / 2").unwrap(), 3.5);
        assert_eq!(e("m.a.b[1] + m[\"k-x\"]").unwrap(), 21);
        assert_eq!(e("m.a.b[-1]").unwrap(), 30);
        assert_eq!(e("s + \"-\" + string(len(m.a.b))").unwrap(), "abc-3");
        assert_eq!(e("2 in m.a.b or \"a\" in m").unwrap(), true);
        assert_eq!(e("not (1 < 2) and true").unwrap(), false);
        assert_eq!(
            e("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2").unwrap(),
            true
        );
        assert_eq!(e("default(map.get(m, \"zz\"), \"none\")").unwrap(), "none");
        assert_eq!(
            e("map.get(m, [\"a\", \"b\"])").unwrap(),
            serde_json::json!([10, 20, 30])
        );
        assert_eq!(e("int(\"42\") + 1").unwrap(), 43);
        assert_eq!(
            e("text.replace_all(\"a.b.c\", \".\", \"/\")").unwrap(),
            "a/b/c"
        );
        assert_eq!(e("json.decode(\"{\\\"x\\\": 1}\").x").unwrap(), 1);
        assert_eq!(e("{\"k\": [1, 2]}.k[0]").unwrap(), 1);
        // Literal text around ${} is not interpolated.
        assert_eq!(
            eval_value(&Value::String("x${s}".into()), &vars, &NoHost).unwrap(),
            "x${s}"
        );
        let err = |src: &str| {
            e(src).unwrap_err().payload["tags"][0]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(err("s + 1"), "TypeError");
        assert_eq!(err("m.nope"), "KeyError");
        assert_eq!(err("nope"), "KeyError");
        assert_eq!(err("m.a.b[9]"), "IndexError");
        assert_eq!(err("1 / 0"), "ZeroDivisionError");
        assert_eq!(err("1 +"), "SyntaxError");
    }

    #[test]
    fn subworkflows_assign_paths_raise_and_unsupported_steps() {
        let src = r#"
main:
  params: [args]
  steps:
    - setup:
        assign:
          - out: {}
          - out.total: 0
          - list: [1, 2, 3]
          - list[0]: 5
    - add:
        call: sum
        args:
          xs: ${list}
        result: s
    - check:
        switch:
          - condition: ${s > 100}
            raise:
              message: too big
          - condition: ${s > 5}
            assign:
              - out.total: ${s}
            next: done
    - never:
        assign:
          - out.never: true
    - raises:
        switch:
          - condition: true
            raise: not reached
    - done:
        return: ${out}
sum:
  params: [xs, scale: 1]
  steps:
    - only:
        return: ${(xs[0] + xs[1] + xs[2]) * scale}
"#;
        let (r, _) = run(src, Value::Null);
        assert_eq!(r.unwrap(), serde_json::json!({"total": 10}));
        // A switch entry may raise.
        let (r, _) = run(&src.replace("${s > 100}", "${s > 1}"), Value::Null);
        assert_eq!(
            r.unwrap_err().payload,
            serde_json::json!({"message": "too big"})
        );
        assert!(
            Program::parse("- s:\n    switch:\n      - condition: true\n        goto: x\n")
                .unwrap_err()
                .contains("`goto` is not supported")
        );
        let bad =
            "main:\n  steps:\n    - loop:\n        for:\n          in: [1]\n          steps: []\n";
        let e = Program::parse(bad).unwrap_err();
        assert!(
            e.contains("step \"loop\"") && e.contains("needs `value`"),
            "{e}"
        );
        let raising = "- boom:\n    raise: ${\"bad \" + \"thing\"}\n";
        let (r, _) = run(raising, Value::Null);
        let err = r.unwrap_err();
        assert_eq!(err.payload, "bad thing");
        assert_eq!(err.step, "boom");
        // Connector errors surface with the step that made the call.
        let failing = "- call_it:\n    call: http.get\n    args:\n      url: http://127.0.0.1:9/\n";
        let (r, calls) = run(failing, Value::Null);
        assert_eq!(r.unwrap_err().step, "call_it");
        assert_eq!(calls[0].0, "http.get");
    }
}
