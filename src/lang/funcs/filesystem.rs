//! File and path functions. Relative paths start at the stack's root directory (the directory
//! Terraform would run in); `path.module` gives a module's own directory.

use super::*;
use base64::Engine;
use std::path::PathBuf;

fn expand_home(p: &str) -> String {
    match (
        p.strip_prefix("~/").or((p == "~").then_some("")),
        std::env::var("HOME"),
    ) {
        (Some(rest), Ok(home)) => {
            if rest.is_empty() {
                home
            } else {
                format!("{home}/{rest}")
            }
        }
        _ => p.to_string(),
    }
}

fn resolve(ctx: &Ctx, p: &str) -> PathBuf {
    let p = expand_home(p);
    let path = Path::new(&p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        ctx.base_dir.join(path)
    }
}

fn read(ctx: &Ctx, p: &str, marked: bool) -> Result<Vec<u8>, FuncError> {
    std::fs::read(resolve(ctx, p)).map_err(|e| {
        let shown = if marked { "(sensitive value)".to_string() } else { p.to_string() };
        if e.kind() == std::io::ErrorKind::NotFound {
            err(format!("no file exists at {shown}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource"))
        } else {
            err(format!("failed to read {shown}: {e}"))
        }
    })
}

/// A function of a file's bytes; the path may be marked (and the result then is).
fn file_fn(r: &mut Registry, name: &'static str, imp: fn(&[u8], &str) -> FResult) {
    r.add(Func {
        name,
        params: vec![p("path", Type::String).marked()],
        var_param: None,
        ret: stat(Type::String),
        imp: match name {
            "file" => |a, _, c| file_apply(a, c, |b, p| {
                String::from_utf8(b.to_vec()).map(Value::string).map_err(|_| {
                    err(format!("contents of {p} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"))
                })
            }),
            "filebase64" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(base64::engine::general_purpose::STANDARD.encode(b)))),
            "filemd5" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("md5", b, false)))),
            "filesha1" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("sha1", b, false)))),
            "filesha256" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("sha256", b, false)))),
            "filesha512" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("sha512", b, false)))),
            "filebase64sha256" => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("sha256", b, true)))),
            _ => |a, _, c| file_apply(a, c, |b, _| Ok(Value::string(super::crypto::digest("sha512", b, true)))),
        },
        refine: Refine::NotNull,
    });
    let _ = imp;
}

fn file_apply(a: &[Value], ctx: &Ctx, f: fn(&[u8], &str) -> FResult) -> FResult {
    let (v, m) = a[0].clone().unmark();
    let bytes = read(ctx, s(&v), m)?;
    Ok(f(&bytes, s(&v))?.mark(m))
}

/// A glob pattern with `*`, `?`, `[...]`, `{a,b}` and `**` (any number of directories).
fn glob_match(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            glob_match(&pattern[1..], path) || (!path.is_empty() && glob_match(pattern, &path[1..]))
        }
        (Some(p), Some(x)) => segment_match(p, x) && glob_match(&pattern[1..], &path[1..]),
        _ => false,
    }
}

fn segment_match(p: &str, x: &str) -> bool {
    let re = glob_regex(p);
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(x))
}

fn glob_regex(p: &str) -> String {
    let mut out = String::from("^");
    let mut chars = p.chars().peekable();
    let mut in_alt = false;
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                out.push('[');
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(d);
                    }
                }
                out.push(']');
            }
            '{' => {
                in_alt = true;
                out.push_str("(?:");
            }
            '}' if in_alt => {
                in_alt = false;
                out.push(')');
            }
            ',' if in_alt => out.push('|'),
            '\\' => {
                if let Some(d) = chars.next() {
                    out.push_str(&regex::escape(&d.to_string()));
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let path = e.path();
        if path.is_dir() {
            walk(&path, &r, out);
        } else if path.is_file() {
            out.push(r);
        }
    }
}

fn fileset(a: &[Value], ret: &Type, ctx: &Ctx) -> FResult {
    let (dir, dm) = a[0].clone().unmark();
    let (pat, pm) = a[1].clone().unmark();
    let marked = dm || pm;
    if !dir.is_known() || !pat.is_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let base = resolve(ctx, s(&dir));
    let mut files = Vec::new();
    walk(&base, "", &mut files);
    let pattern: Vec<&str> = s(&pat)
        .split('/')
        .filter(|x| !x.is_empty() && *x != ".")
        .collect();
    let hits: Vec<Value> = files
        .iter()
        .filter(|f| glob_match(&pattern, &f.split('/').collect::<Vec<_>>()))
        .map(Value::string)
        .collect();
    Ok(Value::set(Type::String, hits).mark(marked))
}

pub fn register(r: &mut Registry) {
    for name in [
        "file",
        "filebase64",
        "filemd5",
        "filesha1",
        "filesha256",
        "filesha512",
        "filebase64sha256",
        "filebase64sha512",
    ] {
        file_fn(r, name, |_, _| Ok(Value::null_dynamic()));
    }
    r.add(Func::new(
        "fileexists",
        vec![p("path", Type::String).marked()],
        stat(Type::Bool),
        |a, _, c| {
            let (v, m) = a[0].clone().unmark();
            let path = resolve(c, s(&v));
            match std::fs::metadata(&path) {
                Ok(md) if md.is_file() => Ok(Value::bool(true).mark(m)),
                Ok(_) => Err(err(format!(
                    "{} is not a regular file, but {:?}",
                    if m { "(sensitive value)" } else { s(&v) },
                    "directory"
                ))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Ok(Value::bool(false).mark(m))
                }
                Err(e) => Err(err(format!("failed to stat {}: {e}", s(&v)))),
            }
        },
    ));
    r.add(Func::new(
        "fileset",
        vec![
            p("path", Type::String).marked().unknown(),
            p("pattern", Type::String).marked().unknown(),
        ],
        stat(Type::set(Type::String)),
        fileset,
    ));
    str_fn(r, "abspath", "path", |a, _, c| {
        let p = Path::new(s(&a[0]));
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .unwrap_or_else(|_| c.base_dir.to_path_buf())
                .join(p)
        };
        Ok(Value::string(clean(&abs)))
    });
    str_fn(r, "dirname", "path", |a, _, _| {
        let t = s(&a[0]);
        Ok(Value::string(go_dir(t)))
    });
    str_fn(r, "basename", "path", |a, _, _| {
        Ok(Value::string(go_base(s(&a[0]))))
    });
    str_fn(r, "pathexpand", "path", |a, _, _| {
        Ok(Value::string(expand_home(s(&a[0]))))
    });
}

/// Go's `filepath.Clean` (Unix).
fn clean(p: &Path) -> String {
    let text = p.to_string_lossy();
    let abs = text.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|x| *x != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        _ => joined,
    }
}

/// Go's `filepath.Dir`.
fn go_dir(p: &str) -> String {
    let i = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(Path::new(&p[..i]))
}

/// Go's `filepath.Base`.
fn go_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}
