//! The resource schemas against the google provider's own (7.45.0, read from its source:
//! tests/conformance/google-v7.45.0.tsv) and Terraform's `providers schema -json`.

use runform::model::Schema;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance")
            .join(name),
    )
    .unwrap()
}

/// What the schema says about a path: (required, optional, computed, forces replacement,
/// sensitive), for an argument or a block.
fn flags(s: &Schema, path: &str) -> Option<(bool, bool, bool, bool, bool)> {
    let (parent, name) = match path.rsplit_once('.') {
        Some((p, n)) => (s.at(p)?, n),
        None => (s, path),
    };
    if let Some(a) = parent.attr(name) {
        return Some((a.required, a.optional, a.computed, a.force_new, a.sensitive));
    }
    let b = parent.block(name)?;
    Some((b.required(), b.optional, b.computed, b.force_new, false))
}

/// Where runform's schema knowingly differs from the provider's, and why (also in the README).
const DIVERGENCES: &[(&str, &str, &str)] = &[];

#[test]
fn every_provider_argument_and_attribute_is_in_the_schema_with_its_flags() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for line in fixture("google-v7.45.0.tsv").lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (ty, path, fl) = (cols[0], cols[1], cols.get(3).copied().unwrap_or(""));
        let Some(info) = runform::resources::type_info(ty) else {
            continue; // the IAM rows describe families, checked through their types' tests
        };
        if DIVERGENCES.iter().any(|(t, p, _)| *t == ty && *p == path) {
            continue;
        }
        checked += 1;
        let want: Vec<&str> = fl.split(',').collect();
        let Some((r, o, c, f, s)) = flags(info.schema(), path) else {
            problems.push(format!("{ty} {path}: missing"));
            continue;
        };
        if !cols[2].starts_with("Type") {
            continue; // a shared schema entry (its flags are not in the row): present is enough
        }
        let has = |x: &str| want.contains(&x);
        let got = (r, o, c, f, s);
        let expected = (has("R"), has("O"), has("C"), has("FN"), has("S"));
        if got != expected {
            problems.push(format!(
                "{ty} {path}: provider (R,O,C,FN,S) = {expected:?}, runform {got:?}"
            ));
        }
    }
    assert!(checked > 300, "only {checked} rows checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
