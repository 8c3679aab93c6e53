//! Hash functions: `md5`, `sha1`, `sha256`, `sha512`, `base64sha256`, `base64sha512`, and
//! `uuidv5`. (`bcrypt` and `uuid` are left out: their results change on every run, so plans
//! would never be stable.)

use super::*;
use base64::Engine;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A digest of bytes as hex or base64.
pub fn digest(algo: &str, bytes: &[u8], base64_out: bool) -> String {
    let raw: Vec<u8> = match algo {
        "md5" => Md5::digest(bytes).to_vec(),
        "sha1" => Sha1::digest(bytes).to_vec(),
        "sha512" => Sha512::digest(bytes).to_vec(),
        _ => Sha256::digest(bytes).to_vec(),
    };
    if base64_out {
        base64::engine::general_purpose::STANDARD.encode(raw)
    } else {
        hex::encode(raw)
    }
}

pub fn register(r: &mut Registry) {
    str_fn(r, "md5", "str", |a, _, _| {
        Ok(Value::string(digest("md5", s(&a[0]).as_bytes(), false)))
    });
    str_fn(r, "sha1", "str", |a, _, _| {
        Ok(Value::string(digest("sha1", s(&a[0]).as_bytes(), false)))
    });
    str_fn(r, "sha256", "str", |a, _, _| {
        Ok(Value::string(digest("sha256", s(&a[0]).as_bytes(), false)))
    });
    str_fn(r, "sha512", "str", |a, _, _| {
        Ok(Value::string(digest("sha512", s(&a[0]).as_bytes(), false)))
    });
    str_fn(r, "base64sha256", "str", |a, _, _| {
        Ok(Value::string(digest("sha256", s(&a[0]).as_bytes(), true)))
    });
    str_fn(r, "base64sha512", "str", |a, _, _| {
        Ok(Value::string(digest("sha512", s(&a[0]).as_bytes(), true)))
    });
    r.add(Func::new(
        "uuidv5",
        vec![p("namespace", Type::String), p("name", Type::String)],
        stat(Type::String),
        |a, _, _| {
            let ns = match s(&a[0]) {
                "dns" => uuid::Uuid::NAMESPACE_DNS,
                "url" => uuid::Uuid::NAMESPACE_URL,
                "oid" => uuid::Uuid::NAMESPACE_OID,
                "x500" => uuid::Uuid::NAMESPACE_X500,
                other => uuid::Uuid::parse_str(other).map_err(|e| {
                    err(format!("uuidv5() doesn't support namespace {other} ({e})"))
                })?,
            };
            Ok(Value::string(
                uuid::Uuid::new_v5(&ns, s(&a[1]).as_bytes()).to_string(),
            ))
        },
    ));
}
