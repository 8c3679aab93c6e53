//! The differential suite: every expression of tests/conformance/cases.txt evaluated by
//! runform must give what Terraform 1.11.4 gave (recorded in terraform.json by record.py):
//! the same value as the console prints it, the same type, the same sensitivity, or an error
//! where Terraform has one. Known divergences are listed (with their reasons) in
//! `DIVERGENCES` and in the README.

use runform::lang::eval::{EvalError, Evaluator, Scope, TypeValue};
use runform::lang::value::format_console;
use runform::lang::{Type, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Expressions where runform knowingly differs from Terraform 1.11.4, with the reason.
const DIVERGENCES: &[(&str, &str)] = &[
    (
        "123456789012345678901234567890",
        "number literals beyond 2^64 (and beyond ±1.8e308) are a syntax error from the HCL parser runform uses; tonumber(\"...\") reads them exactly",
    ),
    (
        "base64gzip(\"hello\")",
        "the gzip stream is compressed by zlib, not by Go's compress/flate: the bytes differ, what they decompress to does not",
    ),
];

#[derive(serde::Deserialize)]
struct Recorded {
    expr: String,
    value: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    sensitive: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct Recording {
    cases: Vec<Recorded>,
}

/// The fixture's `locals` and `terraform_data` resources, evaluated as `terraform console
/// -plan` sees them (nothing applied).
struct Fixture {
    locals: BTreeMap<String, hcl::Expression>,
    inputs: BTreeMap<String, hcl::Expression>,
    cache: RefCell<BTreeMap<String, Value>>,
}

impl Fixture {
    fn load() -> Fixture {
        let text = std::fs::read_to_string(dir().join("main.tf")).unwrap();
        let body: hcl::Body = hcl::from_str(&text).unwrap();
        let mut locals = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        for b in body.blocks() {
            match b.identifier() {
                "locals" => {
                    for a in b.body().attributes() {
                        locals.insert(a.key().to_string(), a.expr().clone());
                    }
                }
                "resource" => {
                    let name = b.labels()[1].as_str().to_string();
                    let input = b.body().attributes().find(|a| a.key() == "input").unwrap();
                    inputs.insert(name, input.expr().clone());
                }
                _ => {}
            }
        }
        Fixture {
            locals,
            inputs,
            cache: RefCell::new(BTreeMap::new()),
        }
    }
}

impl Scope for Fixture {
    fn resolve(&self, root: &str, attrs: &[&str]) -> Result<(Value, usize), EvalError> {
        match (root, attrs) {
            ("local", [name, ..]) => {
                if let Some(v) = self.cache.borrow().get(*name) {
                    return Ok((v.clone(), 1));
                }
                let e = self.locals.get(*name).ok_or_else(|| {
                    EvalError::reference("Reference to undeclared local value", *name)
                })?;
                let v = Evaluator::new(self).eval(e)?;
                self.cache.borrow_mut().insert(name.to_string(), v.clone());
                Ok((v, 1))
            }
            ("terraform_data", [name, attr, ..]) => {
                let input = Evaluator::new(self).eval(&self.inputs[*name])?;
                let v = match *attr {
                    "id" => Value::unknown_not_null(Type::String),
                    "output" => Value::unknown(input.ty()),
                    "input" => input,
                    _ => return Err(EvalError::new("Unsupported attribute", *attr)),
                };
                Ok((v, 2))
            }
            _ => Err(EvalError::reference(
                "Invalid reference",
                format!("A reference to a resource type must be followed by at least one attribute access ({root})."),
            )),
        }
    }

    fn base_dir(&self) -> PathBuf {
        dir()
    }
}

struct Answer {
    value: Option<String>,
    ty: Option<String>,
    sensitive: Option<String>,
    error: Option<String>,
}

fn ask(fx: &Fixture, expr: &str) -> Answer {
    let eval = |src: &str| -> Result<Value, String> {
        let body: hcl::Body =
            hcl::from_str(&format!("x = {src}\n")).map_err(|e| format!("parse: {e}"))?;
        let e = body
            .attributes()
            .next()
            .ok_or("no expression")?
            .expr()
            .clone();
        let mut ev = Evaluator::new(fx);
        ev.console = true;
        ev.eval(&e).map_err(|e| e.summary)
    };
    match eval(expr) {
        Err(e) => Answer {
            value: None,
            ty: None,
            sensitive: None,
            error: Some(e),
        },
        Ok(v) => {
            let ty = eval(&format!("type({expr})"))
                .ok()
                .and_then(|t| TypeValue::unwrap(&t))
                .map(|t: Type| t.type_string());
            let sens = eval(&format!("issensitive({expr})"))
                .ok()
                .map(|s| format_console(&s, 0));
            Answer {
                value: Some(format_console(&v, 0)),
                ty,
                sensitive: sens,
                error: None,
            }
        }
    }
}

#[test]
fn runform_evaluates_every_case_as_terraform_does() {
    let rec: Recording =
        serde_json::from_str(&std::fs::read_to_string(dir().join("terraform.json")).unwrap())
            .unwrap();
    let fx = Fixture::load();
    let mut failures = Vec::new();
    let mut diverged_ok = 0;
    for c in &rec.cases {
        let a = ask(&fx, &c.expr);
        let same = match (&c.error, &a.error) {
            (Some(_), Some(_)) => true,
            (None, None) => a.value == c.value && a.ty == c.ty && a.sensitive == c.sensitive,
            _ => false,
        };
        if same {
            continue;
        }
        if DIVERGENCES.iter().any(|(e, _)| *e == c.expr) {
            diverged_ok += 1;
            continue;
        }
        failures.push(format!(
            "{}\n  terraform: value={:?} type={:?} sensitive={:?} error={:?}\n  runform:   value={:?} type={:?} sensitive={:?} error={:?}",
            c.expr, c.value, c.ty, c.sensitive, c.error, a.value, a.ty, a.sensitive, a.error
        ));
    }
    let total = rec.cases.len();
    let agree = total - failures.len() - diverged_ok;
    eprintln!("conformance: {agree}/{total} agree, {diverged_ok} listed divergences");
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from Terraform:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 400, "the suite must have at least 400 cases");
    assert!(
        agree * 100 >= total * 99,
        "agreement below 99%: {agree}/{total}"
    );
}
