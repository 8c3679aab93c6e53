//! DESIGN.md's layering, enforced: a module imports only from lower layers. Code lines of
//! each module's files are searched for `crate::NAME` paths it must not use (comments are
//! skipped).

use std::path::{Path, PathBuf};

/// (module, modules it must not import).
const RULES: &[(&str, &[&str])] = &[
    (
        "lang",
        &[
            "api",
            "model",
            "config",
            "resources",
            "state",
            "plan",
            "apply",
            "ops",
            "view",
            "cli",
            "runtime",
            "cloud",
        ],
    ),
    (
        "api",
        &[
            "lang",
            "model",
            "config",
            "resources",
            "state",
            "plan",
            "apply",
            "ops",
            "view",
            "cli",
            "runtime",
            "cloud",
        ],
    ),
    (
        "model",
        &[
            "config",
            "resources",
            "state",
            "plan",
            "apply",
            "ops",
            "view",
            "cli",
            "runtime",
            "cloud",
        ],
    ),
    (
        "config",
        &[
            "resources",
            "state",
            "plan",
            "apply",
            "ops",
            "view",
            "cli",
            "runtime",
            "cloud",
        ],
    ),
    (
        "runtime",
        &[
            "model",
            "config",
            "resources",
            "state",
            "plan",
            "apply",
            "ops",
            "view",
            "cli",
        ],
    ),
    (
        "resources",
        &["plan", "apply", "ops", "view", "cli", "runtime"],
    ),
    ("plan", &["apply", "ops", "view", "cli", "runtime"]),
    ("apply", &["ops", "view", "cli", "runtime"]),
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

#[test]
fn modules_import_only_from_lower_layers() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, forbidden) in RULES {
        let mut fs = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            files(&dir, &mut fs);
        } else {
            fs.push(src.join(format!("{module}.rs")));
        }
        assert!(!fs.is_empty(), "no files for {module}");
        for f in fs {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for other in *forbidden {
                    if code.contains(&format!("crate::{other}::"))
                        || code.contains(&format!("crate::{other};"))
                    {
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
