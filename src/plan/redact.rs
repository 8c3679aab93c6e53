//! Saved plans hold no secrets. Every sensitive value in a plan file is written as a token
//! naming a salted SHA-256 of it; apply gets the values back from where they came from (the
//! configuration's variables, the state, the live objects) and refuses, naming the place,
//! when one is no longer the value that was planned.
//!
//! Tokens replace whole strings equal to a secret, every occurrence of a secret of
//! [`MIN_SUBSTRING`] characters or more inside a longer string (an interpolation such as
//! `postgres://u:${var.pw}@h`), object keys alike, and numbers whose text is such a secret.

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const OPEN: &str = "{{runform-sensitive:";
const OPEN_NUMBER: &str = "{{runform-sensitive-number:";
const CLOSE: &str = "}}";

/// Secrets shorter than this are replaced only where they are a whole string: a one-letter
/// secret would otherwise turn every word of the plan into tokens.
pub const MIN_SUBSTRING: usize = 3;

/// A fresh random salt: the same secret hashes differently in every plan file.
pub fn new_salt() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn digest(salt: &str, s: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(s.as_bytes());
    hex::encode(h.finalize())
}

/// Whether a JSON text still holds a token (a plan file as saved).
pub fn has_tokens(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(OPEN) || s.contains(OPEN_NUMBER),
        Value::Array(xs) => xs.iter().any(has_tokens),
        Value::Object(m) => m.iter().any(|(k, x)| k.contains(OPEN) || has_tokens(x)),
        _ => false,
    }
}

/// Replaces secrets by tokens.
pub struct Redactor {
    salt: String,
    /// Numbers are replaced only inside these keys' values (planned values), so that a
    /// secret `600` does not turn the plan's own counters into tokens.
    number_roots: &'static [&'static str],
    /// Longest first, so that the longest secret at a position wins.
    secrets: Vec<String>,
}

impl Redactor {
    /// `number_roots`: see [`Redactor::number_roots`]; `&[]` replaces no numbers, unless the
    /// value given to [`Redactor::redact`] is itself a number.
    pub fn new(
        salt: &str,
        secrets: impl IntoIterator<Item = String>,
        number_roots: &'static [&'static str],
    ) -> Redactor {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Redactor {
            salt: salt.to_string(),
            number_roots,
            secrets,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn token(&self, s: &str) -> String {
        format!("{OPEN}{}{CLOSE}", digest(&self.salt, s))
    }

    /// One token for all of `s` (a value kept out whole).
    pub fn whole_token(&self, s: &str) -> String {
        self.token(s)
    }

    /// `s` with its secrets replaced, scanning once so that a token is never searched again.
    pub fn redact_str(&self, s: &str) -> String {
        if self.secrets.iter().any(|x| x == s) {
            return self.token(s);
        }
        let long: Vec<&String> = self
            .secrets
            .iter()
            .filter(|x| x.len() >= MIN_SUBSTRING)
            .collect();
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            match long.iter().find(|x| rest.starts_with(x.as_str())) {
                Some(x) => {
                    out.push_str(&self.token(x));
                    rest = &rest[x.len()..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }

    pub fn redact(&self, v: &mut Value) {
        self.redact_in(
            v,
            !matches!(v, Value::Object(_) | Value::Array(_)) || self.number_roots.is_empty(),
        )
    }

    fn redact_in(&self, v: &mut Value, numbers: bool) {
        match v {
            Value::String(s) => *s = self.redact_str(s),
            Value::Number(n) if numbers => {
                let text = n.to_string();
                if text.len() >= MIN_SUBSTRING && self.secrets.contains(&text) {
                    *v =
                        Value::String(format!("{OPEN_NUMBER}{}{CLOSE}", digest(&self.salt, &text)));
                }
            }
            Value::Array(xs) => xs.iter_mut().for_each(|x| self.redact_in(x, numbers)),
            Value::Object(m) => {
                let old = std::mem::take(m);
                for (k, mut x) in old {
                    let numbers = numbers
                        || self.number_roots.is_empty()
                        || self.number_roots.contains(&k.as_str());
                    self.redact_in(&mut x, numbers);
                    m.insert(self.redact_str(&k), x);
                }
            }
            _ => {}
        }
    }
}

/// Puts secrets back in place of tokens, from candidate values.
pub struct Restorer {
    by_digest: HashMap<String, String>,
}

/// A token no candidate matches: where it is (a JSON path into the plan file).
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved(pub String);

impl Restorer {
    pub fn new<'a>(salt: &str, candidates: impl IntoIterator<Item = &'a str>) -> Restorer {
        Restorer {
            by_digest: candidates
                .into_iter()
                .map(|c| (digest(salt, c), c.to_string()))
                .collect(),
        }
    }

    fn restore_str(&self, s: &str) -> Option<String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find(OPEN) {
            out.push_str(&rest[..at]);
            let after = &rest[at + OPEN.len()..];
            let end = after.find(CLOSE)?;
            out.push_str(self.by_digest.get(&after[..end])?);
            rest = &after[end + CLOSE.len()..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// Restores every token in `v`; `path` names `v` for the error.
    pub fn restore(&self, v: &mut Value, path: &str) -> Result<(), Unresolved> {
        match v {
            Value::String(s) => {
                if let Some(d) = s
                    .strip_prefix(OPEN_NUMBER)
                    .and_then(|r| r.strip_suffix(CLOSE))
                {
                    let n = self
                        .by_digest
                        .get(d)
                        .and_then(|t| t.parse::<Number>().ok())
                        .ok_or_else(|| Unresolved(path.to_string()))?;
                    *v = Value::Number(n);
                } else if s.contains(OPEN) {
                    *s = self
                        .restore_str(s)
                        .ok_or_else(|| Unresolved(path.to_string()))?;
                }
                Ok(())
            }
            Value::Array(xs) => xs
                .iter_mut()
                .enumerate()
                .try_for_each(|(i, x)| self.restore(x, &format!("{path}[{i}]"))),
            Value::Object(m) => {
                let old = std::mem::take(m);
                let mut new = Map::new();
                for (k, mut x) in old {
                    let key = if k.contains(OPEN) {
                        self.restore_str(&k)
                            .ok_or_else(|| Unresolved(format!("{path}.(key)")))?
                    } else {
                        k
                    };
                    self.restore(&mut x, &format!("{path}.{key}"))?;
                    new.insert(key, x);
                }
                *m = new;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Every string, and the text of every number, inside `v` (candidates for restoring, or
/// values under a sensitive path).
pub fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(xs) => xs.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            leaves(x, out)
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_become_tokens_and_come_back() {
        let r = Redactor::new(
            "s",
            ["hunter22".to_string(), "5432".to_string(), "x".into()],
            &[],
        );
        let original = json!({
            "pw": "hunter22",
            "url": "postgres://u:hunter22@h:5432/db",
            "port": 5432,
            "short": "x",
            "word": "xylophone",
            "hunter22": 1,
            "list": ["a", "hunter22"],
        });
        let mut v = original.clone();
        r.redact(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter22") && !text.contains("5432"),
            "{text}"
        );
        // A short secret is replaced only where it is the whole value.
        assert_eq!(v["word"], "xylophone");
        assert!(has_tokens(&v));
        let back = Restorer::new("s", ["hunter22", "5432", "x"]);
        back.restore(&mut v, "plan").unwrap();
        assert_eq!(v, original);
    }

    #[test]
    fn numbers_are_replaced_only_under_their_roots() {
        let r = Redactor::new("s", ["600".to_string()], &["after"]);
        let mut v = json!({"serial": 600, "after": {"port": 600, "n": [600]}});
        r.redact(&mut v);
        assert_eq!(v["serial"], 600);
        assert!(v["after"]["port"].is_string() && v["after"]["n"][0].is_string());
    }

    #[test]
    fn a_changed_secret_names_where_it_was() {
        let r = Redactor::new("s", ["old-secret".to_string()], &[]);
        let mut v = json!({"changes": [{"body": {"env": "old-secret"}}]});
        r.redact(&mut v);
        let back = Restorer::new("s", ["new-secret"]);
        assert_eq!(
            back.restore(&mut v, "plan"),
            Err(Unresolved("plan.changes[0].body.env".into()))
        );
    }

    #[test]
    fn a_token_is_never_matched_by_a_shorter_secret() {
        // "run" occurs inside the token text itself ("runform-sensitive").
        let r = Redactor::new("s", ["secret-run".to_string(), "run".to_string()], &[]);
        let mut v = json!("a secret-run and a run");
        r.redact(&mut v);
        assert!(!v.as_str().unwrap().contains("secret-run"));
        Restorer::new("s", ["secret-run", "run"])
            .restore(&mut v, "x")
            .unwrap();
        assert_eq!(v, "a secret-run and a run");
    }

    #[test]
    fn another_salt_does_not_restore() {
        let r = Redactor::new("a", ["topsecret".to_string()], &[]);
        let mut v = json!("topsecret");
        r.redact(&mut v);
        assert!(Restorer::new("b", ["topsecret"])
            .restore(&mut v, "x")
            .is_err());
    }
}
