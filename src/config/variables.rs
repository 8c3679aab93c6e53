//! Input variables: declarations (type constraints with optional attributes and defaults,
//! `sensitive`, `nullable`, `validation`), their values by Terraform's precedence, and the
//! checks that run on them.

use super::parse::RawBlock;
use super::scope::Env;
use super::Loader;
use crate::diag::{closest, Diagnostic, Range};
use crate::lang::convert::convert_with_defaults;
use crate::lang::eval::{Evaluator, MapScope};
use crate::lang::types::{parse_constraint, Constraint};
use crate::lang::{Type, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Variable {
    pub range: Range,
    pub constraint: Constraint,
    /// Whether a `type` was declared (without one, any value is taken as given).
    pub typed: bool,
    pub default: Option<Value>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
}

pub struct Validation {
    pub condition: hcl::Expression,
    pub message: hcl::Expression,
    pub range: Range,
}

/// Evaluates a constant expression (no references): variable defaults, `.tfvars` values.
fn constant(e: &hcl::Expression) -> Result<Value, String> {
    let scope = MapScope {
        vars: BTreeMap::new(),
        base: PathBuf::from("."),
    };
    Evaluator::new(&scope).eval(e).map_err(|e| {
        if e.summary.contains("undeclared") || e.summary == "Unknown variable" {
            "variables may not be used here: the value must be a constant".to_string()
        } else {
            e.to_string()
        }
    })
}

/// Parses a `--var`/environment value: a primitive (or untyped) variable takes the text as
/// it is; a collection or structure is an HCL expression.
fn parse_cli_value(raw: &str, v: &Variable) -> Result<Value, String> {
    let literal = !v.typed || v.constraint.ty.is_primitive();
    if literal {
        return Ok(Value::string(raw));
    }
    let body: hcl::Body =
        hcl::from_str(&format!("v = {raw}\n")).map_err(|e| format!("cannot parse {raw:?}: {e}"))?;
    let expr = body
        .attributes()
        .next()
        .map(|a| a.expr.clone())
        .ok_or("empty value")?;
    constant(&expr)
}

impl Loader<'_> {
    pub(super) fn variable_decl(&mut self, b: &RawBlock) -> Variable {
        let mut v = Variable {
            range: b.range.clone(),
            constraint: Constraint::any(),
            typed: false,
            default: None,
            sensitive: false,
            nullable: true,
            validations: Vec::new(),
        };
        let mut default = None;
        for a in &b.body.attrs {
            match a.name.as_str() {
                "type" => match parse_constraint(&a.expr, &constant) {
                    Ok(c) => {
                        v.constraint = c;
                        v.typed = true;
                    }
                    Err(e) => self.diags.error(e, Some(a.value_range.clone())),
                },
                "default" => match constant(&a.expr) {
                    Ok(val) => default = Some((val, a.value_range.clone())),
                    Err(e) => self.diags.error(
                        format!("variable default must be a constant: {e}"),
                        Some(a.value_range.clone()),
                    ),
                },
                "sensitive" | "nullable" => {
                    match constant(&a.expr).ok().and_then(|x| x.as_bool()) {
                        Some(flag) if a.name == "sensitive" => v.sensitive = flag,
                        Some(flag) => v.nullable = flag,
                        None => self.diags.error(
                            format!("{} must be true or false", a.name),
                            Some(a.value_range.clone()),
                        ),
                    }
                }
                "description" | "ephemeral" => {}
                other => {
                    let mut d = Diagnostic::error(
                        format!("unknown argument {other:?} in variable block"),
                        Some(a.range.clone()),
                    );
                    if let Some(c) = closest(
                        other,
                        [
                            "type",
                            "default",
                            "description",
                            "sensitive",
                            "nullable",
                            "validation",
                        ],
                    ) {
                        d = d.with_hint(format!("did you mean {c:?}?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        if let Some((d, range)) = default {
            // The default must fit the type (Terraform checks this even when it is unused).
            match self.conform(&v, &d) {
                Ok(val) => v.default = Some(val),
                Err(e) => {
                    self.diags.error(
                        format!("invalid default value for variable {:?}: {e}", b.labels[0]),
                        Some(range),
                    );
                    // Reported once: the variable is not also "without a value".
                    v.default = Some(Value::unknown(v.constraint.ty.without_optional()));
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

    /// Converts a value to a variable's type, with its optional attributes' defaults.
    pub(super) fn conform(&self, v: &Variable, val: &Value) -> Result<Value, String> {
        if !v.typed {
            return Ok(val.clone());
        }
        convert_with_defaults(val, &v.constraint.ty, v.constraint.defaults.as_ref())
    }

    /// Root variable values by precedence: default < RUNFORM_VAR_*/TF_VAR_* <
    /// terraform.tfvars < *.auto.tfvars < --var-file and --var (in the order given).
    /// `validate` gives every variable an unknown value of its type instead.
    pub(super) fn variable_values(
        &mut self,
        dir: &Path,
        decls: &BTreeMap<String, Variable>,
    ) -> BTreeMap<String, (Value, Option<Range>)> {
        let mut values: BTreeMap<String, (Value, Option<Range>)> = BTreeMap::new();
        if self.opts.validate_only {
            for (n, d) in decls {
                // As `terraform validate`: every variable is an unknown of its type (not null:
                // a caller must give one or a default applies).
                let t = d.constraint.ty.without_optional();
                let v = Value::unknown(t);
                let v = if d.nullable && d.default.as_ref().is_none_or(Value::is_null) {
                    v
                } else {
                    v.refine_not_null()
                };
                values.insert(n.clone(), (v.mark(d.sensitive), None));
            }
            return values;
        }
        for (n, v) in decls {
            if let Some(d) = &v.default {
                values.insert(n.clone(), (d.clone(), None));
            }
        }
        for (k, raw) in &self.opts.env {
            if let Some(n) = k
                .strip_prefix("RUNFORM_VAR_")
                .or_else(|| k.strip_prefix("TF_VAR_"))
            {
                if let Some(d) = decls.get(n) {
                    match parse_cli_value(raw, d) {
                        Ok(v) => {
                            values.insert(n.to_string(), (v, None));
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
                Some(d) => match parse_cli_value(raw, d) {
                    Ok(v) => {
                        values.insert(k.clone(), (v, None));
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
        values: &mut BTreeMap<String, (Value, Option<Range>)>,
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
                match constant(&expr) {
                    Ok(v) => {
                        values.insert(k.to_string(), (v, Some(range)));
                    }
                    Err(e) => self.diags.error(
                        format!("variable files hold constants only: {e}"),
                        Some(range),
                    ),
                }
            }
        }
    }

    /// A module instance's variable values: its arguments, else the variable's default.
    pub(super) fn module_inputs(
        &mut self,
        module_addr: &str,
        call_range: Option<&Range>,
        inputs: &BTreeMap<String, super::module::Input>,
        decls: &BTreeMap<String, Variable>,
    ) -> BTreeMap<String, (Value, Option<Range>)> {
        let mut values = BTreeMap::new();
        for (k, i) in inputs {
            if !decls.contains_key(k) {
                let mut diag = Diagnostic::error(
                    format!("{module_addr} has no variable {k:?}"),
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
                    values.insert(n.clone(), (i.value.clone(), Some(i.range.clone())));
                }
                _ => match &d.default {
                    Some(v) => {
                        values.insert(n.clone(), (v.clone(), None));
                    }
                    None if self.opts.validate_only => {
                        values.insert(
                            n.clone(),
                            (Value::unknown(d.constraint.ty.without_optional()), None),
                        );
                    }
                    None => self.diags.push(
                        Diagnostic::error(
                            format!("{module_addr}: missing required argument {n:?}"),
                            call_range.cloned(),
                        )
                        .with_hint(format!("the module's variable {n:?} has no default; add `{n} = ...` to the module block")),
                    ),
                },
            }
        }
        values
    }

    /// Converts every variable value to its declared type (null swapped for the default when
    /// `nullable = false`), marks sensitive ones, and runs the `validation` blocks.
    pub(super) fn check_variables(
        &mut self,
        module_addr: &str,
        decls: &BTreeMap<String, Variable>,
        given: BTreeMap<String, (Value, Option<Range>)>,
        base: &Path,
    ) -> BTreeMap<String, Value> {
        let place = |n: &str| {
            if module_addr.is_empty() {
                format!("variable {n:?}")
            } else {
                format!("{module_addr}: variable {n:?}")
            }
        };
        let mut values = BTreeMap::new();
        let mut ranges = BTreeMap::new();
        for (n, (v, range)) in given {
            let Some(d) = decls.get(&n) else { continue };
            let v = if v.is_null() && !d.nullable {
                match &d.default {
                    Some(def) => def.clone(),
                    None => {
                        self.diags.error(
                            format!("{}: the value must not be null", place(&n)),
                            range.clone().or(Some(d.range.clone())),
                        );
                        continue;
                    }
                }
            } else {
                v
            };
            match self.conform(d, &v) {
                Ok(v) => {
                    values.insert(n.clone(), v.mark(d.sensitive));
                }
                Err(e) => {
                    self.diags.error(
                        format!("{}: {e}", place(&n)),
                        range.clone().or(Some(d.range.clone())),
                    );
                    values.insert(
                        n.clone(),
                        Value::unknown(d.constraint.ty.without_optional()),
                    );
                }
            }
            ranges.insert(n, range);
        }
        for v in values.values().filter(|v| v.contains_marked()) {
            super::scope::sensitive_strings(v, false, &mut self.secrets);
        }
        if decls.values().all(|d| d.validations.is_empty()) {
            return values;
        }
        let mut env = Env {
            base: base.to_path_buf(),
            ..Default::default()
        };
        env.set_root("var", Value::object(values.clone()));
        for (n, d) in decls {
            let Some(val) = values.get(n) else { continue };
            if !val.is_wholly_known() {
                continue;
            }
            for v in &d.validations {
                let ok = match Evaluator::new(&env).eval(&v.condition) {
                    Ok(r) if !r.is_known() => continue,
                    Ok(r) => match crate::lang::convert::convert(&r, &Type::Bool)
                        .ok()
                        .and_then(|b| b.as_bool())
                    {
                        Some(b) => b,
                        None => {
                            self.diags.error(
                                "validation condition must be true or false".to_string(),
                                Some(v.range.clone()),
                            );
                            continue;
                        }
                    },
                    Err(e) => {
                        self.diags.error(
                            format!("cannot evaluate validation condition: {e}"),
                            Some(v.range.clone()),
                        );
                        continue;
                    }
                };
                if ok {
                    continue;
                }
                let msg = match Evaluator::new(&env).eval(&v.message) {
                    Ok(m) if m.contains_marked() => {
                        "the error message included a sensitive value, so it is not displayed"
                            .to_string()
                    }
                    Ok(m) => m
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| "invalid value".into()),
                    Err(_) => "invalid value".into(),
                };
                let range = ranges
                    .get(n)
                    .cloned()
                    .flatten()
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
        values
    }
}
