//! DESIGN.md's layering, enforced: a module imports only from lower layers. Code lines of
//! each module's files are searched for `crate::NAME` paths (comments are skipped).

use std::path::{Path, PathBuf};

/// (module, the modules below it that it may import; its own is always allowed). What a
/// module may import, rather than what it may not: a new module is forbidden until placed.
const RULES: &[(&str, &[&str])] = &[
    ("lang", &["diag"]),
    ("api", &[]),
    ("model", &["diag", "lang", "api"]),
    ("config", &["diag", "lang", "api", "graph", "model"]),
    ("runtime", &["diag", "api"]),
    (
        "resources",
        &["diag", "lang", "api", "model", "config", "cloud", "state"],
    ),
    (
        "plan",
        &[
            "diag",
            "lang",
            "api",
            "model",
            "config",
            "resources",
            "state",
        ],
    ),
    ("apply", &["diag", "model", "resources", "state", "plan"]),
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::NAME` modules a line of code names.
fn imports(code: &str) -> impl Iterator<Item = String> + '_ {
    code.match_indices("crate::").map(move |(i, m)| {
        code[i + m.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    })
}

#[test]
fn modules_import_only_from_lower_layers() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, allowed) in RULES {
        let mut fs = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            files(&dir, &mut fs);
        } else {
            fs.push(src.join(format!("{module}.rs")));
        }
        for f in fs {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for other in imports(code) {
                    if other != *module && !allowed.contains(&other.as_str()) {
                        problems.push(format!(
                            "{}:{}: {module} imports {other}: {}",
                            f.display(),
                            n + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
