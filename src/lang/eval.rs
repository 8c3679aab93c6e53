//! The expression evaluator: HCL's semantics over the parsed expression tree (hcl-rs's AST),
//! with Terraform's values. Operators, function calls, index and attribute access, templates,
//! `for` expressions, splats and conditionals all give an unknown of the right type when an
//! input is unknown, except where Terraform knows the result; marks ride along.

use super::convert::{convert, unify};
use super::funcs;
use super::number::Number;
use super::types::Type;
use super::value::{equals, Value, V};
use hcl::expr::{BinaryOperator, Operation, TraversalOperator, UnaryOperator};
use hcl::Expression as E;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An evaluation error: Terraform's summary ("Invalid index") and detail.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub summary: String,
    pub detail: String,
    /// Set for references to names that do not exist: `try`/`can` do not catch these.
    pub uncatchable: bool,
}

impl EvalError {
    pub fn new(summary: impl Into<String>, detail: impl Into<String>) -> EvalError {
        EvalError {
            summary: summary.into(),
            detail: detail.into(),
            uncatchable: false,
        }
    }
    pub fn reference(summary: impl Into<String>, detail: impl Into<String>) -> EvalError {
        EvalError {
            uncatchable: true,
            ..EvalError::new(summary, detail)
        }
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.detail.is_empty() {
            f.write_str(&self.summary)
        } else {
            write!(f, "{}: {}", self.summary, self.detail)
        }
    }
}

pub type EvalResult = Result<Value, EvalError>;

/// Where references get their values.
pub trait Scope {
    /// Resolves `root.a.b...`: `attrs` are the attribute names that follow `root` in the
    /// traversal. Returns the value and how many of `attrs` it used (the evaluator applies the
    /// rest of the traversal itself).
    fn resolve(&self, root: &str, attrs: &[&str]) -> Result<(Value, usize), EvalError>;

    /// The directory relative paths in `file()` and friends start from.
    fn base_dir(&self) -> PathBuf {
        PathBuf::from(".")
    }
}

/// A scope of plain named values (the variables of `templatefile`, tests).
pub struct MapScope {
    pub vars: BTreeMap<String, Value>,
    pub base: PathBuf,
}

impl Scope for MapScope {
    fn resolve(&self, root: &str, _attrs: &[&str]) -> Result<(Value, usize), EvalError> {
        match self.vars.get(root) {
            Some(v) => Ok((v.clone(), 0)),
            None => Err(EvalError::reference(
                "Unknown variable",
                format!("There is no variable named {root:?}."),
            )),
        }
    }
    fn base_dir(&self) -> PathBuf {
        self.base.clone()
    }
}

pub struct Evaluator<'s> {
    scope: &'s dyn Scope,
    /// Names bound by enclosing `for` expressions and template `for` directives.
    locals: Vec<(String, Value)>,
    /// `terraform console`: the `type()` function is available.
    pub console: bool,
}

impl<'s> Evaluator<'s> {
    pub fn new(scope: &'s dyn Scope) -> Evaluator<'s> {
        Evaluator {
            scope,
            locals: Vec::new(),
            console: false,
        }
    }

    pub fn base_dir(&self) -> PathBuf {
        self.scope.base_dir()
    }

    fn local(&self, name: &str) -> Option<&Value> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn eval(&mut self, e: &E) -> EvalResult {
        match e {
            E::Null => Ok(Value::null_dynamic()),
            E::Bool(b) => Ok(Value::bool(*b)),
            E::Number(n) => Ok(Value::number(literal_number(n))),
            E::String(s) => Ok(Value::string(s)),
            E::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut first_err = None;
                for it in items {
                    match self.eval(it) {
                        Ok(v) => out.push(v),
                        Err(e) => {
                            first_err.get_or_insert(e);
                            out.push(Value::dynamic());
                        }
                    }
                }
                match first_err {
                    Some(e) => Err(e),
                    None => Ok(Value::tuple(out)),
                }
            }
            E::Object(m) => self.object(m),
            E::TemplateExpr(t) => self.template_expr(t),
            E::Variable(v) => self.reference(v.as_str(), &[]),
            E::Traversal(t) => self.traversal(t),
            E::FuncCall(f) => self.call(f),
            E::Parenthesis(inner) => self.eval(inner),
            E::Conditional(c) => self.conditional(&c.cond_expr, &c.true_expr, &c.false_expr),
            E::Operation(op) => match op.as_ref() {
                Operation::Unary(u) => self.unary(u.operator, &u.expr),
                Operation::Binary(b) => self.binary(b.operator, &b.lhs_expr, &b.rhs_expr),
            },
            E::ForExpr(f) => self.for_expr(f),
            _ => Err(EvalError::new(
                "Unsupported expression",
                "This kind of expression is not supported.",
            )),
        }
    }

    /// A reference with its leading attribute names: locals first, then the scope.
    fn reference(&mut self, root: &str, attrs: &[&str]) -> Result<Value, EvalError> {
        if let Some(v) = self.local(root) {
            let mut v = v.clone();
            for a in attrs {
                v = get_attr(v, a)?;
            }
            return Ok(v);
        }
        let (mut v, used) = self.scope.resolve(root, attrs)?;
        for a in &attrs[used.min(attrs.len())..] {
            v = get_attr(v, a)?;
        }
        Ok(v)
    }

    fn traversal(&mut self, t: &hcl::expr::Traversal) -> EvalResult {
        let ops = &t.operators;
        let (base, rest) = match &t.expr {
            E::Variable(v) => {
                let names: Vec<&str> = ops
                    .iter()
                    .map_while(|op| match op {
                        TraversalOperator::GetAttr(a) => Some(a.as_str()),
                        _ => None,
                    })
                    .collect();
                let n = names.len();
                (self.reference(v.as_str(), &names)?, &ops[n..])
            }
            other => (self.eval(other)?, &ops[..]),
        };
        self.apply_ops(base, rest)
    }

    /// Applies traversal operators; a splat applies what follows it to every element.
    fn apply_ops(&mut self, mut v: Value, ops: &[TraversalOperator]) -> EvalResult {
        let mut i = 0;
        while i < ops.len() {
            match &ops[i] {
                TraversalOperator::GetAttr(a) => v = get_attr(v, a.as_str())?,
                TraversalOperator::LegacyIndex(n) => {
                    v = index(v, Value::number(Number::from_u64(*n)))?
                }
                TraversalOperator::Index(e) => {
                    let k = self.eval(e)?;
                    v = index(v, k)?;
                }
                TraversalOperator::FullSplat => return self.splat(v, &ops[i + 1..]),
                TraversalOperator::AttrSplat => {
                    // The attribute-only splat takes the attribute steps that follow it.
                    let n = ops[i + 1..]
                        .iter()
                        .take_while(|o| {
                            matches!(
                                o,
                                TraversalOperator::GetAttr(_) | TraversalOperator::LegacyIndex(_)
                            )
                        })
                        .count();
                    v = self.splat(v, &ops[i + 1..i + 1 + n])?;
                    i += n;
                }
            }
            i += 1;
        }
        Ok(v)
    }

    fn splat(&mut self, source: Value, each: &[TraversalOperator]) -> EvalResult {
        let ty = source.ty();
        let auto_upgrade = !(ty.is_tuple() || ty.is_list() || ty.is_set());
        if source.is_null() {
            if auto_upgrade {
                return Ok(Value::tuple(Vec::new()).mark(source.sensitive));
            }
            return Err(EvalError::new(
                "Splat of null value",
                "Splat expressions (with the * symbol) cannot be applied to null sequences.",
            ));
        }
        if ty == Type::Dynamic {
            return Ok(Value::dynamic().mark(source.sensitive));
        }
        let mut upgraded_unknown = false;
        let source = if auto_upgrade {
            if !source.is_known() && !source.definitely_not_null() {
                upgraded_unknown = true;
            }
            let m = source.sensitive;
            Value::tuple(vec![source]).mark(m)
        } else {
            source
        };
        let sty = source.ty();
        if !source.is_known() {
            let rt = self.splat_type(&sty, each);
            let mut ret = Value::unknown(rt.clone());
            if rt != Type::Dynamic {
                ret = ret.refine_not_null();
            }
            if rt.is_list() && sty.is_collection() {
                let r = source.refinement().cloned().unwrap_or_default();
                ret = super::convert::refine_len(ret, r.min_len, r.max_len);
            }
            return Ok(ret.mark(source.sensitive));
        }
        let (source, marked) = source.unmark();
        let elems = source.elements().map(<[Value]>::to_vec).unwrap_or_default();
        let mut vals = Vec::with_capacity(elems.len());
        let mut first_err = None;
        for x in elems {
            match self.apply_ops(x, each) {
                Ok(v) => vals.push(v),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if upgraded_unknown {
            return Ok(Value::dynamic().mark(marked));
        }
        Ok(match sty {
            Type::List(_) | Type::Set(_) => {
                if vals.is_empty() {
                    let rt = self.splat_type(&sty, each);
                    Value::list(rt.element().cloned().unwrap_or(Type::Dynamic), Vec::new())
                } else {
                    let et = vals[0].ty();
                    if vals.iter().all(|v| v.ty() == et) {
                        Value::list(et, vals)
                    } else {
                        Value::tuple(vals)
                    }
                }
            }
            _ => Value::tuple(vals),
        }
        .mark(marked))
    }

    /// The type a splat would give, found by traversing unknowns of the element types.
    fn splat_type(&mut self, sty: &Type, each: &[TraversalOperator]) -> Type {
        let mut one = |t: &Type| {
            self.apply_ops(Value::unknown(t.clone()), each)
                .map(|v| v.ty())
                .unwrap_or(Type::Dynamic)
        };
        match sty {
            Type::List(e) | Type::Set(e) => Type::list(one(e)),
            Type::Tuple(ts) => Type::Tuple(ts.iter().map(&mut one).collect()),
            _ => Type::Dynamic,
        }
    }

    fn object(&mut self, m: &hcl::Object<hcl::ObjectKey, E>) -> EvalResult {
        let mut out = BTreeMap::new();
        let mut marked = false;
        let mut unknown_key = false;
        let mut first_err = None;
        for (k, x) in m {
            let key = match k {
                hcl::ObjectKey::Identifier(i) => Value::string(i.as_str()),
                hcl::ObjectKey::Expression(E::Variable(v)) => Value::string(v.as_str()),
                hcl::ObjectKey::Expression(e) => match self.eval(e) {
                    Ok(k) => k,
                    Err(e) => {
                        first_err.get_or_insert(e);
                        continue;
                    }
                },
                _ => continue,
            };
            if key.is_null() {
                first_err.get_or_insert(EvalError::new(
                    "Null value as key",
                    "Can't use a null value as a key.",
                ));
                continue;
            }
            let (key, km) = key.unmark_deep();
            marked |= km;
            if !key.is_known() {
                unknown_key = true;
            }
            let val = match self.eval(x) {
                Ok(v) => v,
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            if unknown_key {
                continue;
            }
            match convert(&key, &Type::String) {
                Ok(k) => {
                    out.insert(k.as_str().unwrap_or_default().to_string(), val);
                }
                Err(e) => {
                    first_err.get_or_insert(EvalError::new(
                        "Incorrect key type",
                        format!("Can't use this value as a key: {e}."),
                    ));
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if unknown_key {
            return Ok(Value::dynamic().mark(marked));
        }
        Ok(Value::object(out).mark(marked))
    }

    fn conditional(&mut self, cond: &E, t: &E, f: &E) -> EvalResult {
        let tr = self.eval(t);
        let fr = self.eval(f);
        let tv = tr.as_ref().cloned().unwrap_or_else(|_| Value::dynamic());
        let fv = fr.as_ref().cloned().unwrap_or_else(|_| Value::dynamic());
        let null_dyn = |v: &Value| matches!(v.v, V::Null(Type::Dynamic));
        let (tt, ft) = (tv.ty(), fv.ty());
        let result_ty = if null_dyn(&tv) {
            Some(ft.clone())
        } else if null_dyn(&fv) {
            Some(tt.clone())
        } else if tt == Type::Dynamic || ft == Type::Dynamic {
            Some(Type::Dynamic)
        } else {
            unify(&[tt.clone(), ft.clone()], true)
        };
        let Some(result_ty) = result_ty else {
            return Err(EvalError::new(
                "Inconsistent conditional result types",
                format!(
                    "The true and false result expressions must have consistent types. {}.",
                    describe_mismatch(&tt, &ft)
                ),
            ));
        };
        let c = self.eval(cond)?;
        if c.is_null() {
            return Err(EvalError::new(
                "Null condition",
                "The condition value is null. Conditions must either be true or false.",
            ));
        }
        let (c, cm) = c.unmark();
        let (tv, tm) = tv.unmark();
        let (fv, fm) = fv.unmark();
        let marks = cm || tm || fm;
        if !c.is_known() {
            return Ok(unknown_conditional(&tv, &fv, result_ty).mark(marks));
        }
        let c = convert(&c, &Type::Bool).map_err(|_| {
            EvalError::new(
                "Incorrect condition type",
                "The condition expression must be of type bool.",
            )
        })?;
        let (taken, result) = if c.as_bool() == Some(true) {
            (tv, tr)
        } else {
            (fv, fr)
        };
        result?;
        let out = if result_ty != Type::Dynamic && taken.ty() != result_ty {
            convert(&taken, &result_ty).map_err(|e| {
                EvalError::new(
                    "Inconsistent conditional result types",
                    format!("The result value has the wrong type: {e}."),
                )
            })?
        } else {
            taken
        };
        Ok(out.mark(marks))
    }

    fn unary(&mut self, op: UnaryOperator, e: &E) -> EvalResult {
        let v = self.eval(e)?;
        match op {
            UnaryOperator::Neg => {
                let v = convert(&v, &Type::Number).map_err(|e| operand("unary", e))?;
                funcs::call_op("negate", vec![v])
            }
            UnaryOperator::Not => {
                let v = convert(&v, &Type::Bool).map_err(|e| operand("unary", e))?;
                funcs::call_op("not", vec![v])
            }
        }
    }

    fn binary(&mut self, op: BinaryOperator, l: &E, r: &E) -> EvalResult {
        let lv = self.eval(l);
        let rv = self.eval(r);
        let (lv, rv) = (lv?, rv?);
        use BinaryOperator as B;
        let (name, ty) = match op {
            B::Eq => ("equal", Type::Dynamic),
            B::NotEq => ("notequal", Type::Dynamic),
            B::And => ("and", Type::Bool),
            B::Or => ("or", Type::Bool),
            B::Less => ("lessthan", Type::Number),
            B::LessEq => ("lessthanorequal", Type::Number),
            B::Greater => ("greaterthan", Type::Number),
            B::GreaterEq => ("greaterthanorequal", Type::Number),
            B::Plus => ("add", Type::Number),
            B::Minus => ("subtract", Type::Number),
            B::Mul => ("multiply", Type::Number),
            B::Div => ("divide", Type::Number),
            B::Mod => ("modulo", Type::Number),
        };
        let lc = convert(&lv, &ty).map_err(|e| operand("left", e));
        let rc = convert(&rv, &ty).map_err(|e| operand("right", e));
        let (lc, rc) = (lc?, rc?);
        funcs::call_op(name, vec![lc, rc])
    }

    fn for_expr(&mut self, f: &hcl::expr::ForExpr) -> EvalResult {
        let coll = self.eval(&f.collection_expr)?;
        if coll.is_null() {
            return Err(EvalError::new(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
            ));
        }
        if coll.ty() == Type::Dynamic {
            return Ok(Value::dynamic());
        }
        let (coll, mut marked) = coll.unmark();
        let cty_ = coll.ty();
        if !(cty_.is_collection() || cty_.is_tuple() || cty_.is_object()) {
            return Err(EvalError::new(
                "Iteration over non-iterable value",
                format!(
                    "A value of type {} cannot be used as the collection in a 'for' expression.",
                    cty_.friendly()
                ),
            ));
        }
        let key_var = f.key_var.as_ref().map(|k| k.to_string());
        let val_var = f.value_var.to_string();
        if let Some(c) = &f.cond_expr {
            // The condition is checked once with unknown iteration values for its type.
            let n = self.locals.len();
            if let Some(k) = &key_var {
                self.locals.push((k.clone(), Value::dynamic()));
            }
            self.locals.push((val_var.clone(), Value::dynamic()));
            let r = self.eval(c);
            self.locals.truncate(n);
            let r = r?;
            if r.is_null() {
                return Err(EvalError::new(
                    "Condition is null",
                    "The value of the 'if' clause must not be null.",
                ));
            }
            marked |= r.sensitive;
            convert(&r, &Type::Bool).map_err(|e| {
                EvalError::new(
                    "Invalid 'for' condition",
                    format!("The 'if' clause value is invalid: {e}."),
                )
            })?;
        }
        if !coll.is_known() {
            return Ok(Value::dynamic().mark(marked));
        }
        let items = iterate(&coll);
        let mut known = true;
        let mut tuple = Vec::new();
        let mut obj: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (k, v) in items {
            let n = self.locals.len();
            if let Some(kv) = &key_var {
                self.locals.push((kv.clone(), k));
            }
            self.locals.push((val_var.clone(), v));
            let step = self.for_step(f, &mut known, &mut marked);
            self.locals.truncate(n);
            match step? {
                None => {}
                Some((None, v)) => tuple.push(v),
                Some((Some(key), v)) => {
                    if f.grouping {
                        groups.entry(key).or_default().push(v);
                    } else {
                        match obj.entry(key) {
                            std::collections::btree_map::Entry::Occupied(e) => {
                                return Err(EvalError::new(
                                    "Duplicate object key",
                                    format!("Two different items produced the key {:?} in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.", e.key()),
                                ));
                            }
                            std::collections::btree_map::Entry::Vacant(e) => {
                                e.insert(v);
                            }
                        }
                    }
                }
            }
        }
        if !known {
            return Ok(Value::dynamic().mark(marked));
        }
        Ok(if f.key_expr.is_some() {
            if f.grouping {
                obj = groups
                    .into_iter()
                    .map(|(k, vs)| (k, Value::tuple(vs)))
                    .collect();
            }
            Value::object(obj)
        } else {
            Value::tuple(tuple)
        }
        .mark(marked))
    }

    /// One element of a `for`: `None` when filtered out (or unknown), else the key (object
    /// form) and value.
    #[allow(clippy::type_complexity)]
    fn for_step(
        &mut self,
        f: &hcl::expr::ForExpr,
        known: &mut bool,
        marked: &mut bool,
    ) -> Result<Option<(Option<String>, Value)>, EvalError> {
        if let Some(c) = &f.cond_expr {
            let inc = self.eval(c)?;
            if inc.is_null() {
                return Err(EvalError::new(
                    "Invalid 'for' condition",
                    "The value of the 'if' clause must not be null.",
                ));
            }
            *marked |= inc.sensitive;
            if !inc.is_known() {
                *known = false;
                return Ok(None);
            }
            let inc = convert(&inc, &Type::Bool).map_err(|e| {
                EvalError::new(
                    "Invalid 'for' condition",
                    format!("The 'if' clause value is invalid: {e}."),
                )
            })?;
            if inc.as_bool() == Some(false) {
                return Ok(None);
            }
        }
        let key = match &f.key_expr {
            None => None,
            Some(ke) => {
                let k = self.eval(ke)?;
                if k.is_null() {
                    return Err(EvalError::new(
                        "Invalid object key",
                        "Key expression in 'for' expression must not produce a null value.",
                    ));
                }
                *marked |= k.sensitive;
                if !k.is_known() {
                    *known = false;
                    return Ok(None);
                }
                let k = convert(&k, &Type::String).map_err(|e| {
                    EvalError::new(
                        "Invalid object key",
                        format!("The key expression produced an invalid result: {e}."),
                    )
                })?;
                Some(k.as_str().unwrap_or_default().to_string())
            }
        };
        let v = self.eval(&f.value_expr)?;
        Ok(Some((key, v)))
    }

    fn template_expr(&mut self, t: &hcl::expr::TemplateExpr) -> EvalResult {
        let tpl = hcl::Template::from_expr(t)
            .map_err(|e| EvalError::new("Invalid template", e.to_string()))?;
        // `"${x}"` alone is x itself, whatever its type.
        if let hcl::expr::TemplateExpr::QuotedString(_) = t {
            if let [hcl::template::Element::Interpolation(i)] = tpl.elements() {
                return self.eval(&i.expr);
            }
        }
        self.template(&tpl)
    }

    /// Renders a template: an unknown part makes an unknown string with the known prefix.
    pub fn template(&mut self, tpl: &hcl::Template) -> EvalResult {
        let mut acc = TemplateAcc::default();
        self.template_parts(tpl, Strip::default(), Strip::default(), &mut acc)?;
        Ok(acc.finish())
    }

    fn template_parts(
        &mut self,
        tpl: &hcl::Template,
        prev: Strip,
        next: Strip,
        acc: &mut TemplateAcc,
    ) -> Result<(), EvalError> {
        use hcl::template::{Directive, Element};
        let elems = tpl.elements();
        let len = elems.len();
        for (i, el) in elems.iter().enumerate() {
            let p = if i == 0 {
                prev
            } else {
                strip_of(&elems[i - 1])
            };
            let n = if i + 1 == len {
                next
            } else {
                strip_of(&elems[i + 1])
            };
            match el {
                Element::Literal(s) => acc.push_literal(strip_literal(s, p, n)),
                Element::Interpolation(it) => {
                    let v = self.eval(&it.expr)?;
                    acc.push_value(v)?;
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        let c = self.eval(&d.cond_expr)?;
                        if c.is_null() {
                            return Err(EvalError::new(
                                "Null condition",
                                "The condition value is null. Conditions must either be true or false.",
                            ));
                        }
                        acc.marked |= c.sensitive;
                        if !c.is_known() {
                            acc.unknown_seen = true;
                            continue;
                        }
                        let c = convert(&c, &Type::Bool).map_err(|_| {
                            EvalError::new(
                                "Incorrect condition type",
                                "The condition expression must be of type bool.",
                            )
                        })?;
                        if c.as_bool() == Some(true) {
                            let ns = if d.false_template.is_some() {
                                d.else_strip
                            } else {
                                d.endif_strip
                            };
                            self.template_parts(&d.true_template, d.if_strip, ns, acc)?;
                        } else if let Some(ft) = &d.false_template {
                            self.template_parts(ft, d.else_strip, d.endif_strip, acc)?;
                        }
                    }
                    Directive::For(d) => {
                        let coll = self.eval(&d.collection_expr)?;
                        if coll.is_null() {
                            return Err(EvalError::new(
                                "Iteration over null value",
                                "A null value cannot be used as the collection in a 'for' expression.",
                            ));
                        }
                        acc.marked |= coll.sensitive;
                        if !coll.is_known() {
                            acc.unknown_seen = true;
                            continue;
                        }
                        let key_var = d.key_var.as_ref().map(|k| k.to_string());
                        for (k, v) in iterate(&coll) {
                            let n = self.locals.len();
                            if let Some(kv) = &key_var {
                                self.locals.push((kv.clone(), k));
                            }
                            self.locals.push((d.value_var.to_string(), v));
                            let r =
                                self.template_parts(&d.template, d.for_strip, d.endfor_strip, acc);
                            self.locals.truncate(n);
                            r?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    fn call(&mut self, f: &hcl::expr::FuncCall) -> EvalResult {
        let name = if f.name.namespace.is_empty() {
            f.name.name.to_string()
        } else {
            format!(
                "{}::{}",
                f.name
                    .namespace
                    .iter()
                    .map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join("::"),
                f.name.name
            )
        };
        let name = name.strip_prefix("core::").unwrap_or(&name).to_string();
        match name.as_str() {
            "try" => return self.try_fn(&f.args),
            "can" => return self.can_fn(&f.args),
            "type" if self.console => {
                let [arg] = f.args.as_slice() else {
                    return Err(EvalError::new(
                        "Invalid function argument",
                        "type() takes one argument",
                    ));
                };
                let v = self.eval(arg)?;
                return Ok(TypeValue::wrap(v.ty()));
            }
            "templatefile" => return self.templatefile(&f.args),
            _ => {}
        }
        if let Some(why) = funcs::unsupported(&name) {
            return Err(EvalError::reference(
                "Unsupported function",
                format!("{name}() is not supported by runform: {why}"),
            ));
        }
        let Some(func) = funcs::lookup(&name) else {
            let mut names: Vec<&str> = funcs::names().collect();
            names.extend(["try", "can", "templatefile"]);
            let hint = crate::diag::closest(&name, names.iter().copied())
                .map(|c| format!(" Did you mean {c:?}?"))
                .unwrap_or_default();
            return Err(EvalError::reference(
                "Call to unknown function",
                format!("There is no function named {name:?}.{hint}"),
            ));
        };
        let mut args: Vec<Value> = Vec::with_capacity(f.args.len());
        let mut first_err = None;
        let n = f.args.len();
        for (i, a) in f.args.iter().enumerate() {
            match self.eval(a) {
                Ok(v) if f.expand_final && i + 1 == n => match expand(v) {
                    Ok(Some(xs)) => args.extend(xs),
                    Ok(None) => return Ok(Value::dynamic()),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                },
                Ok(v) => args.push(v),
                Err(e) => {
                    first_err.get_or_insert(e);
                    args.push(Value::dynamic());
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        funcs::call_with_ctx(func, args, &self.base_dir())
    }

    /// `try(a, b, ...)`: the first argument that evaluates without errors; unknown while the
    /// winner is not wholly known. References to undeclared names are not caught.
    fn try_fn(&mut self, args: &[E]) -> EvalResult {
        if args.is_empty() {
            return Err(EvalError::new(
                "Not enough function arguments",
                "Function \"try\" expects at least 1 argument(s).",
            ));
        }
        let mut last = None;
        for a in args {
            match self.eval(a) {
                Ok(v) => {
                    if !v.is_wholly_known() {
                        return Ok(Value::dynamic().mark(v.sensitive));
                    }
                    return Ok(v);
                }
                Err(e) if e.uncatchable => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(EvalError::new(
            "Error in function call",
            format!(
                "Call to function \"try\" failed: no expression succeeded:\n- {}",
                last.map(|e| e.to_string()).unwrap_or_default()
            ),
        ))
    }

    fn can_fn(&mut self, args: &[E]) -> EvalResult {
        let [a] = args else {
            return Err(EvalError::new(
                "Invalid function argument",
                "Function \"can\" expects 1 argument.",
            ));
        };
        match self.eval(a) {
            Ok(v) if !v.is_wholly_known() => Ok(Value::unknown(Type::Bool).refine_not_null()),
            Ok(_) => Ok(Value::bool(true)),
            Err(e) if e.uncatchable => Err(e),
            Err(_) => Ok(Value::bool(false)),
        }
    }

    /// `templatefile(path, vars)`: the file read relative to the module, rendered with only
    /// `vars` in scope.
    fn templatefile(&mut self, args: &[E]) -> EvalResult {
        let [p, vars] = args else {
            return Err(EvalError::new(
                "Invalid function argument",
                "Function \"templatefile\" expects 2 arguments: a path and a map of variables.",
            ));
        };
        let p = self.eval(p)?;
        let vars = self.eval(vars)?;
        let (p, pm) = p.unmark_deep();
        let (vars, vm) = vars.unmark_deep();
        let marked = pm || vm;
        // Unknown values inside `vars` are rendered as unknowns; only an unknown path or
        // `vars` as a whole leave the result's type unknown.
        if !p.is_known() || !vars.is_known() {
            return Ok(Value::dynamic().mark(marked));
        }
        let p = convert(&p, &Type::String)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| {
                EvalError::new(
                    "Invalid function argument",
                    "Invalid value for \"path\" parameter: string required.",
                )
            })?;
        let base = self.base_dir();
        let path = if Path::new(&p).is_absolute() {
            PathBuf::from(&p)
        } else {
            base.join(&p)
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            EvalError::new(
                "Invalid function argument",
                format!("Invalid value for \"path\" parameter: no file exists at {p:?}: {e}."),
            )
        })?;
        let entries = match (&vars.v, vars.is_null()) {
            (_, true) => BTreeMap::new(),
            (V::Map(_, m) | V::Object(m), _) => m.clone(),
            _ => {
                return Err(EvalError::new(
                    "Invalid function argument",
                    "Invalid value for \"vars\" parameter: a map or object is required.",
                ))
            }
        };
        let tpl: hcl::Template = text.parse().map_err(|e: hcl::Error| {
            EvalError::new(
                "Error in function call",
                format!("Call to function \"templatefile\" failed: {p}: {e}."),
            )
        })?;
        let scope = MapScope {
            vars: entries,
            base: path.parent().map(Path::to_path_buf).unwrap_or(base),
        };
        let mut inner = Evaluator::new(&scope);
        // A template that is only one interpolation gives that value, typed.
        let out = if let [hcl::template::Element::Interpolation(i)] = tpl.elements() {
            inner.eval(&i.expr)
        } else {
            inner.template(&tpl)
        };
        out.map(|v| v.mark(marked)).map_err(|e| {
            EvalError::new(
                "Error in function call",
                format!("Call to function \"templatefile\" failed: {p}: {e}."),
            )
        })
    }
}

/// The console's `type()` result: a value carrying a type, recognised by `console`.
pub struct TypeValue;

impl TypeValue {
    const MARKER: &'static str = "\u{0}runform-type\u{0}";

    fn wrap(t: Type) -> Value {
        Value::object(
            [
                (Self::MARKER.to_string(), Value::bool(true)),
                ("t".to_string(), Value::string(t.to_json().to_string())),
            ]
            .into(),
        )
    }

    /// The type a `type()` call returned, if `v` is one.
    pub fn unwrap(v: &Value) -> Option<Type> {
        let m = v.entries()?;
        m.get(Self::MARKER)?;
        let j: serde_json::Value = serde_json::from_str(m.get("t")?.as_str()?).ok()?;
        Type::from_json(&j)
    }
}

fn describe_mismatch(t: &Type, f: &Type) -> String {
    if t.is_primitive() && f.is_primitive() {
        return format!(
            "The 'true' value is {}, but the 'false' value is {}",
            t.friendly(),
            f.friendly()
        );
    }
    match (t, f) {
        (Type::Object(..), Type::Tuple(_)) | (Type::Tuple(_), Type::Object(..)) => {
            "The 'true' and 'false' values have different structural types".into()
        }
        _ => format!(
            "The 'true' value is {}, but the 'false' value is {}",
            t.friendly(),
            f.friendly()
        ),
    }
}

fn operand(which: &str, e: String) -> EvalError {
    EvalError::new(
        "Invalid operand",
        format!("Unsuitable value for {which} operand: {e}."),
    )
}

/// The result of a conditional whose condition is unknown.
fn unknown_conditional(tv: &Value, fv: &Value, result_ty: Type) -> Value {
    if tv.is_null() && fv.is_null() {
        return Value::null(result_ty);
    }
    let not_null = tv.definitely_not_null() && fv.definitely_not_null();
    if tv.ty() == Type::Number && fv.ty() == Type::Number {
        let (tlo, thi) = number_bounds(tv);
        let (flo, fhi) = number_bounds(fv);
        let lo = match (tlo, flo) {
            (Some((a, ai)), Some((b, bi))) => Some(match a.cmp(&b) {
                std::cmp::Ordering::Less => (a, ai),
                std::cmp::Ordering::Equal => (a, ai || bi),
                std::cmp::Ordering::Greater => (b, bi),
            }),
            _ => None,
        };
        let hi = match (thi, fhi) {
            (Some((a, ai)), Some((b, bi))) => Some(match a.cmp(&b) {
                std::cmp::Ordering::Greater => (a, ai),
                std::cmp::Ordering::Equal => (a, ai || bi),
                std::cmp::Ordering::Less => (b, bi),
            }),
            _ => None,
        };
        return Value::unknown(Type::Number).refine(|r| {
            r.not_null = not_null;
            r.min = lo;
            r.max = hi;
        });
    }
    let (tt, ft) = (tv.ty(), fv.ty());
    if tt.is_collection() && tt == ft {
        let (tl, th) = len_bounds(tv);
        let (fl, fh) = len_bounds(fv);
        let hi = match (th, fh) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        return Value::unknown(result_ty).refine(|r| {
            r.not_null = not_null;
            r.min_len = tl.min(fl);
            r.max_len = hi;
        });
    }
    let ret = Value::unknown(result_ty);
    if not_null {
        ret.refine_not_null()
    } else {
        ret
    }
}

/// Known bounds of a number value (a known number is its own bounds).
#[allow(clippy::type_complexity)]
pub fn number_bounds(v: &Value) -> (Option<(Number, bool)>, Option<(Number, bool)>) {
    match &v.v {
        V::Number(n) => (Some((n.clone(), true)), Some((n.clone(), true))),
        V::Unknown(_, Some(r)) => (r.min.clone(), r.max.clone()),
        _ => (None, None),
    }
}

fn len_bounds(v: &Value) -> (usize, Option<usize>) {
    match &v.v {
        V::Unknown(_, Some(r)) => (r.min_len, r.max_len),
        V::Unknown(..) => (0, None),
        _ => {
            let n = v.len().unwrap_or(0);
            (n, Some(n))
        }
    }
}

/// The elements of a `...` expanded argument, `None` when unknown.
fn expand(v: Value) -> Result<Option<Vec<Value>>, EvalError> {
    let t = v.ty();
    if v.is_null() {
        return Err(EvalError::new(
            "Invalid expanding argument value",
            "The expanding argument (indicated by ...) must not be null.",
        ));
    }
    if t == Type::Dynamic {
        return Ok(None);
    }
    if !(t.is_tuple() || t.is_list() || t.is_set()) {
        return Err(EvalError::new(
            "Invalid expanding argument value",
            "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
        ));
    }
    if !v.is_known() {
        return Ok(None);
    }
    let (v, m) = v.unmark();
    Ok(Some(
        v.elements()
            .unwrap_or_default()
            .iter()
            .map(|x| x.clone().mark(m))
            .collect(),
    ))
}

/// The (key, value) pairs a `for` iterates: indexes for sequences, keys for maps and
/// objects, the element itself for sets.
pub fn iterate(coll: &Value) -> Vec<(Value, Value)> {
    match &coll.v {
        V::List(_, xs) | V::Tuple(xs) => xs
            .iter()
            .enumerate()
            .map(|(i, x)| (Value::number(Number::from_usize(i)), x.clone()))
            .collect(),
        V::Set(_, xs) => xs.iter().map(|x| (x.clone(), x.clone())).collect(),
        V::Map(_, m) | V::Object(m) => m
            .iter()
            .map(|(k, x)| (Value::string(k), x.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A number literal as Terraform reads it: the literal's digits at 512 bits.
fn literal_number(n: &hcl::Number) -> Number {
    if let Some(i) = n.as_i64() {
        return Number::parse(&i.to_string()).unwrap_or_else(Number::zero);
    }
    if let Some(u) = n.as_u64() {
        return Number::parse(&u.to_string()).unwrap_or_else(Number::zero);
    }
    // Rust prints an f64 with the fewest digits that read back the same, which are the
    // literal's digits for any literal of up to 17 significant digits.
    let f = n.as_f64().unwrap_or(0.0);
    Number::parse(&format!("{f:?}").replace("inf", "Inf")).unwrap_or_else(Number::zero)
}

/// `x.name` with HCL's rules (`hcl.GetAttr`).
pub fn get_attr(obj: Value, name: &str) -> EvalResult {
    if obj.is_null() {
        return Err(EvalError::new(
            "Attempt to get attribute from null value",
            "This value is null, so it does not have any attributes.",
        ));
    }
    let (obj, marked) = obj.unmark();
    let ty = obj.ty();
    let out = match &ty {
        Type::Object(attrs, _) => {
            let Some(at) = attrs.get(name) else {
                return Err(EvalError::new(
                    "Unsupported attribute",
                    format!("This object does not have an attribute named {name:?}."),
                ));
            };
            match obj.v {
                V::Object(mut m) => m.remove(name).unwrap_or_else(|| Value::null(at.clone())),
                _ => Value::unknown(at.clone()),
            }
        }
        Type::Map(e) => match obj.v {
            V::Map(_, mut m) => match m.remove(name) {
                Some(v) => v,
                None => {
                    return Err(EvalError::new(
                        "Missing map element",
                        format!("This map does not have an element with the key {name:?}."),
                    ))
                }
            },
            _ => Value::unknown((**e).clone()),
        },
        Type::Dynamic => Value::dynamic(),
        Type::List(e) if e.is_object() => {
            let has = e.attrs().is_some_and(|a| a.contains_key(name));
            return Err(EvalError::new(
                "Unsupported attribute",
                if has {
                    format!("Can't access attributes on a list of objects. Did you mean to access attribute {name:?} for a specific element of the list, or across all elements of the list?")
                } else {
                    "Can't access attributes on a list of objects. Did you mean to access an attribute for a specific element of the list, or across all elements of the list?".into()
                },
            ));
        }
        Type::Set(e) if e.is_object() => {
            return Err(EvalError::new(
                "Unsupported attribute",
                "Can't access attributes on a set of objects. Did you mean to access an attribute across all elements of the set?",
            ))
        }
        t if t.is_primitive() => {
            return Err(EvalError::new(
                "Unsupported attribute",
                format!(
                    "Can't access attributes on a primitive-typed value ({}).",
                    t.friendly()
                ),
            ))
        }
        _ => {
            return Err(EvalError::new(
                "Unsupported attribute",
                "This value does not have any attributes.",
            ))
        }
    };
    Ok(out.mark(marked))
}

/// `x[key]` with HCL's rules (`hcl.Index`).
pub fn index(coll: Value, key: Value) -> EvalResult {
    const INVALID: &str = "Invalid index";
    if coll.is_null() {
        return Err(EvalError::new(
            "Attempt to index null value",
            "This value is null, so it does not have any indices.",
        ));
    }
    if key.is_null() {
        return Err(EvalError::new(
            INVALID,
            "Can't use a null value as an indexing key.",
        ));
    }
    let (coll, cm) = coll.unmark();
    let (key, km) = key.unmark_deep();
    let marks = cm || km;
    let ty = coll.ty();
    if key.ty() == Type::Dynamic || ty == Type::Dynamic {
        return Ok(Value::dynamic().mark(cm));
    }
    let not_found = |extra: &str| {
        EvalError::new(
            INVALID,
            format!("The given key does not identify an element in this collection value{extra}"),
        )
    };
    match &ty {
        Type::List(_) | Type::Tuple(_) | Type::Map(_) => {
            let want = if ty.is_map() { Type::String } else { Type::Number };
            let key = convert(&key, &want).map_err(|e| not_found(&format!(": {e}.")))?;
            // A tuple's length is in its type: a known index into an unknown tuple is an
            // unknown of that element's type.
            if let (Type::Tuple(ts), false, true) = (&ty, coll.is_known(), key.is_known()) {
                let n = key.as_number().cloned().unwrap_or_else(Number::zero);
                if let Some(t) = n.to_i64().filter(|i| *i >= 0).and_then(|i| ts.get(i as usize)) {
                    return Ok(Value::unknown(t.clone()).mark(marks));
                }
            }
            if !coll.is_known() || !key.is_known() {
                return Ok(if ty.is_tuple() {
                    Value::dynamic()
                } else {
                    Value::unknown(ty.element().cloned().unwrap_or(Type::Dynamic))
                }
                .mark(cm));
            }
            match &coll.v {
                V::Map(_, m) => {
                    let k = key.as_str().unwrap_or_default();
                    m.get(k)
                        .cloned()
                        .map(|v| v.mark(marks))
                        .ok_or_else(|| not_found("."))
                }
                V::List(_, xs) | V::Tuple(xs) => {
                    let n = key.as_number().cloned().unwrap_or_else(Number::zero);
                    if !n.is_int() {
                        return Err(not_found(": indexing a sequence requires a whole number, but the given index has a fractional part."));
                    }
                    if n.is_negative() {
                        return Err(not_found(
                            ": a negative number is not a valid index for a sequence.",
                        ));
                    }
                    match n.to_i64().and_then(|i| xs.get(i as usize)) {
                        Some(v) => Ok(v.clone().mark(marks)),
                        None if xs.is_empty() => {
                            Err(not_found(": the collection has no elements."))
                        }
                        None => Err(not_found(": the given index is greater than or equal to the length of the collection.")),
                    }
                }
                _ => Err(not_found(".")),
            }
        }
        Type::Object(attrs, _) => {
            let was_number = key.ty() == Type::Number;
            let key = convert(&key, &Type::String).map_err(|e| not_found(&format!(": {e}.")))?;
            if !coll.is_known() || !key.is_known() {
                return Ok(Value::dynamic().mark(cm));
            }
            let k = key.as_str().unwrap_or_default();
            if !attrs.contains_key(k) {
                return Err(not_found(if was_number {
                    ". An object only supports looking up attributes by name, not by numeric index."
                } else {
                    "."
                }));
            }
            Ok(get_attr(coll, k)?.mark(marks))
        }
        Type::Set(_) => Err(EvalError::new(
            INVALID,
            "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.",
        )),
        _ => Err(EvalError::new(INVALID, "This value does not have any indices.")),
    }
}

/// Collects a template's parts: known text until the first unknown part, then only marks.
#[derive(Default)]
struct TemplateAcc {
    buf: String,
    unknown_seen: bool,
    marked: bool,
}

impl TemplateAcc {
    fn push_literal(&mut self, s: &str) {
        if !self.unknown_seen {
            self.buf.push_str(s);
        }
    }

    fn push_value(&mut self, v: Value) -> Result<(), EvalError> {
        if v.is_null() {
            return Err(EvalError::new(
                "Invalid template interpolation value",
                "The expression result is null. Cannot include a null value in a string template.",
            ));
        }
        let (v, m) = v.unmark();
        self.marked |= m;
        if !v.is_known() {
            self.unknown_seen = true;
            return Ok(());
        }
        let s = convert(&v, &Type::String).map_err(|e| {
            EvalError::new(
                "Invalid template interpolation value",
                format!("Cannot include the given value in a string template: {e}."),
            )
        })?;
        if !self.unknown_seen {
            self.buf.push_str(s.as_str().unwrap_or_default());
        }
        Ok(())
    }

    fn finish(self) -> Value {
        let v = if self.unknown_seen {
            let prefix = safe_prefix(&self.buf);
            Value::unknown(Type::String).refine(|r| {
                r.not_null = true;
                r.prefix = prefix;
            })
        } else {
            Value::string(&self.buf)
        };
        v.mark(self.marked)
    }
}

/// The known prefix of a string that stops at an unknown part: at most 128 bytes, without the
/// last character, which a combining character could still change (cty's `SafeKnownPrefix`).
fn safe_prefix(s: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let mut cut = s.len().min(128);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let s = &s[..cut];
    match s.grapheme_indices(true).next_back() {
        Some((i, _)) => s[..i].to_string(),
        None => String::new(),
    }
}

type Strip = hcl::template::Strip;

fn strip_of(el: &hcl::template::Element) -> Strip {
    use hcl::template::{Directive, Element};
    match el {
        Element::Literal(_) => Strip::None,
        Element::Interpolation(i) => i.strip,
        Element::Directive(d) => {
            let (s, e) = match d.as_ref() {
                Directive::If(d) => (d.if_strip, d.endif_strip),
                Directive::For(d) => (d.for_strip, d.endfor_strip),
            };
            Strip::from((s.strip_start(), e.strip_end()))
        }
    }
}

/// HCL trims all whitespace beside a `~` strip marker.
fn strip_literal(mut s: &str, prev: Strip, next: Strip) -> &str {
    if prev.strip_end() {
        s = s.trim_start();
    }
    if next.strip_start() {
        s = s.trim_end();
    }
    s
}

/// Evaluates one expression against a scope.
pub fn eval(e: &E, scope: &dyn Scope) -> EvalResult {
    Evaluator::new(scope).eval(e)
}

/// `==` as an operator would compute it (for callers outside expressions).
pub fn value_equals(a: &Value, b: &Value) -> Value {
    equals(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::value::format_console;

    fn scope() -> MapScope {
        let u = Value::unknown_not_null(Type::String);
        let mut vars = BTreeMap::new();
        vars.insert("u".into(), u.clone());
        vars.insert("s".into(), Value::string("secret").mark(true));
        vars.insert(
            "o".into(),
            Value::object(
                [(
                    "a".to_string(),
                    Value::list(Type::String, vec![Value::string("x")]),
                )]
                .into(),
            ),
        );
        MapScope {
            vars,
            base: PathBuf::from("."),
        }
    }

    fn run(src: &str) -> Result<String, String> {
        let body: hcl::Body = hcl::from_str(&format!("x = {src}")).map_err(|e| e.to_string())?;
        let e = body.attributes().next().unwrap().expr.clone();
        let sc = scope();
        eval(&e, &sc)
            .map(|v| format_console(&v, 0))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn literals_templates_and_conditionals() {
        assert_eq!(run("\"${true}\"").unwrap(), "true");
        assert_eq!(run("\"a-${1 + 2}\"").unwrap(), "\"a-3\"");
        assert_eq!(run("true ? 1 : \"b\"").unwrap(), "\"1\"");
        assert!(run("true ? 1 : false").is_err());
        assert_eq!(run("true ? \"a\" : tonumber(\"x\")").unwrap(), "\"a\"");
        assert_eq!(run("u == \"x\" ? 3 : 3").unwrap(), "3");
        assert_eq!(run("\"abc${u}\"").unwrap(), "(known after apply)");
        assert_eq!(run("true ? \"a\" : s").unwrap(), "(sensitive value)");
        assert_eq!(
            run("[for x in [1, 2] : x * 2]").unwrap(),
            "[\n  2,\n  4,\n]"
        );
        assert_eq!(
            run("{for k, v in {a = 1} : v => k}").unwrap(),
            "{\n  \"1\" = \"a\"\n}"
        );
        assert_eq!(run("o.a[0]").unwrap(), "\"x\"");
        assert!(run("o.a.b")
            .unwrap_err()
            .contains("does not have any attributes"));
        assert_eq!(run("null[*]").unwrap(), "[]");
        assert_eq!(run("[{a = 1}, {a = 2}][*].a").unwrap(), "[\n  1,\n  2,\n]");
        assert_eq!(run("5 % 0").unwrap(), "5");
        assert_eq!(
            run("\"%{ if true ~}  yes  %{~ endif }\"").unwrap(),
            "\"yes\""
        );
        assert!(run("nope").unwrap_err().contains("no variable"));
    }
}
