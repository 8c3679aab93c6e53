//! The differential suite: every expression of tests/conformance/cases.txt evaluated by
//! runform must give what Terraform 1.11.4 gave (recorded in terraform.json by record.py):
//! the same value as the console prints it, the same type, the same sensitivity, or an error
//! where Terraform has one. Known divergences are listed (with their reasons) in
//! `DIVERGENCES` and in the README.

use runform::config::ConsoleMode;
use runform::console::Session;
use runform::lang::eval::TypeValue;
use runform::lang::value::format_console;
use runform::lang::Type;
use runform::ops::{load_stack, LoadArgs};
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

/// The fixture as `runform console --plan` sees it: the configuration loaded by runform's
/// own loader, nothing applied (as `terraform console -plan` sees it when recording).
fn session() -> Session {
    let args = LoadArgs {
        local: true,
        console: Some(ConsoleMode::Plan),
        ..Default::default()
    };
    let (stack, diags, sources) = load_stack(&dir(), &args, None, None);
    let stack = stack.unwrap_or_else(|| panic!("{}", sources.render_all(&diags)));
    Session::new(
        stack
            .console_scope
            .expect("the console keeps the root scope"),
    )
}

struct Answer {
    value: Option<String>,
    ty: Option<String>,
    sensitive: Option<String>,
    error: Option<String>,
}

fn ask(session: &Session, expr: &str) -> Answer {
    let eval = |src: &str| session.value(src).map_err(|e| e.summary);
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
    let session = session();
    let mut failures = Vec::new();
    let mut diverged_ok = 0;
    for c in &rec.cases {
        let a = ask(&session, &c.expr);
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
