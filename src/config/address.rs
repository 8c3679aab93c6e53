//! Resource addresses: `module.etl["a"].google_cloud_run_v2_job.this[0]`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// `module.etl["a"]` (empty at the root).
    pub module: String,
    pub mode_data: bool,
    pub ty: String,
    pub name: String,
    /// The `count` index or `for_each` key.
    pub index: Option<Value>,
}

/// Splits at dots outside brackets and quoted strings.
fn segments(addr: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in addr.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&addr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return None;
    }
    out.push(&addr[start..]);
    Some(out)
}

/// `name[idx]` → (name, idx).
fn name_index(seg: &str) -> Option<(&str, Option<Value>)> {
    match seg.find('[') {
        None => Some((seg, None)),
        Some(i) => {
            let inner = seg[i..].strip_prefix('[')?.strip_suffix(']')?;
            let idx = if inner.starts_with('"') {
                serde_json::from_str::<String>(inner)
                    .ok()
                    .map(Value::String)?
            } else {
                Value::from(inner.parse::<u64>().ok()?)
            };
            Some((&seg[..i], Some(idx)))
        }
    }
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Address {
    pub fn parse(addr: &str) -> Option<Address> {
        let segs = segments(addr)?;
        let mut i = 0;
        let mut module = Vec::new();
        while segs.get(i) == Some(&"module") {
            let m = segs.get(i + 1)?;
            let (n, _) = name_index(m)?;
            if !ident_ok(n) {
                return None;
            }
            module.push(format!("module.{m}"));
            i += 2;
        }
        let mode_data = segs.get(i) == Some(&"data");
        if mode_data {
            i += 1;
        }
        if segs.len() != i + 2 {
            return None;
        }
        let ty = segs[i];
        let (name, index) = name_index(segs[i + 1])?;
        if !ident_ok(ty) || !ident_ok(name) {
            return None;
        }
        Some(Address {
            module: module.join("."),
            mode_data,
            ty: ty.to_string(),
            name: name.to_string(),
            index,
        })
    }
}

/// Whether `addr` is selected by a `--target`/`--replace` address: itself, one of its
/// instances (`x` selects `x[0]`), or anything inside a module (`module.m`).
pub fn addr_matches(addr: &str, target: &str) -> bool {
    addr == target
        || addr
            .strip_prefix(target)
            .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_module_paths_indexes_and_keys() {
        let a =
            Address::parse(r#"module.etl["a.b"].module.x[0].google_cloud_run_v2_job.this["k"]"#)
                .unwrap();
        assert_eq!(a.module, r#"module.etl["a.b"].module.x[0]"#);
        assert_eq!(
            (a.ty.as_str(), a.name.as_str()),
            ("google_cloud_run_v2_job", "this")
        );
        assert_eq!(a.index, Some(json!("k")));
        let b = Address::parse("google_cloud_run_v2_job.extra[2]").unwrap();
        assert_eq!((b.module.as_str(), b.index), ("", Some(json!(2))));
        assert!(Address::parse("data.google_project.p").unwrap().mode_data);
        for bad in [
            "google_cloud_run_v2_job",
            "a.b.c",
            "module.x",
            r#"t.n["x]"#,
            "t.n[x]",
            "module..t.n",
        ] {
            assert!(Address::parse(bad).is_none(), "{bad}");
        }
    }
}
