//! Cross-API wire pieces: enums that accept names or integers, int64-as-string, long-running
//! operations, `google.rpc.Status`, error bodies and IAM policies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;

/// The name table of one proto enum, indexed by its integer value.
pub trait EnumTable {
    const NAMES: &'static [&'static str];
}

/// A proto enum on the wire. Always holds the canonical name; deserialises from the name or
/// from its integer value.
pub struct Enum<T> {
    name: String,
    _t: PhantomData<T>,
}

impl<T: EnumTable> Enum<T> {
    pub fn new(name: &str) -> Self {
        Enum {
            name: name.to_string(),
            _t: PhantomData,
        }
    }
    pub fn as_str(&self) -> &str {
        &self.name
    }
    /// The zero value (`*_UNSPECIFIED`) is the proto default and is omitted on output.
    pub fn is_default(&self) -> bool {
        self.name.is_empty() || T::NAMES.first().is_some_and(|n| *n == self.name)
    }
    pub fn is_known(&self) -> bool {
        T::NAMES.contains(&self.name.as_str())
    }
}

impl<T> Clone for Enum<T> {
    fn clone(&self) -> Self {
        Enum {
            name: self.name.clone(),
            _t: PhantomData,
        }
    }
}
impl<T> PartialEq for Enum<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl<T> fmt::Debug for Enum<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}
impl<T: EnumTable> Default for Enum<T> {
    fn default() -> Self {
        Enum::new(T::NAMES.first().copied().unwrap_or(""))
    }
}
impl<T> Serialize for Enum<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}
impl<'de, T: EnumTable> Deserialize<'de> for Enum<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Enum::new(&s)),
            Value::Number(n) => {
                let i = n
                    .as_u64()
                    .ok_or_else(|| serde::de::Error::custom("negative enum value"))?;
                let name = T::NAMES
                    .get(i as usize)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown enum value {i}")))?;
                Ok(Enum::new(name))
            }
            Value::Null => Ok(Enum::default()),
            other => Err(serde::de::Error::custom(format!(
                "enum must be a name or number, got {other}"
            ))),
        }
    }
}

macro_rules! enum_table {
    ($name:ident, [$($v:literal),* $(,)?]) => {
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name;
        impl EnumTable for $name {
            const NAMES: &'static [&'static str] = &[$($v),*];
        }
    };
}
pub(crate) use enum_table;

/// int64 fields travel as JSON strings; numbers are accepted too.
pub mod i64str {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => s.parse().map_err(serde::de::Error::custom),
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| serde::de::Error::custom("not an int64")),
            Value::Null => Ok(0),
            other => Err(serde::de::Error::custom(format!(
                "expected int64, got {other}"
            ))),
        }
    }
}

pub fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
pub fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
pub fn is_false(v: &bool) -> bool {
    !*v
}

/// `google.rpc.Status` (inside operations and task attempt results: `code` is the gRPC number).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub code: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

/// `google.longrunning.Operation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "is_false")]
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// The canonical gRPC codes, by number, with their HTTP mapping (AIP-193).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl Code {
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];
    /// The code whose name (`NOT_FOUND`) this is.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.name() == name)
    }
    pub fn http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Cancelled => 499,
            Code::Unknown | Code::Internal | Code::DataLoss => 500,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::Unauthenticated => 401,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

/// The HTTP error body `{"error": {code, message, status, details}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub code: u16,
    pub message: String,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Value>,
}

impl ErrorBody {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.http_status(),
                message: message.into(),
                status: code.name().to_string(),
                details: Vec::new(),
            },
        }
    }
    /// INVALID_ARGUMENT with a `google.rpc.BadRequest` naming the offending fields.
    pub fn bad_request(violations: &[(String, String)]) -> Self {
        let message = violations
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut body = ErrorBody::new(Code::InvalidArgument, message);
        body.error.details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations.iter().map(|(f, d)| serde_json::json!({"field": f, "description": d})).collect::<Vec<_>>()
        }));
        body
    }
}

/// `google.iam.v1.Policy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Policy {
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub version: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<Binding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audit_configs: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Binding {
    pub role: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// `task_count` → `taskCount`.
/// `taskCount` → `task_count`.
pub fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `task_count` → `taskCount`.
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest duration runform waits or sleeps (100 years): longer ones are clamped, so a
/// huge value in a configuration or a request is a long wait, never an overflow.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// `secs` seconds as a Duration, if it is a finite, non-negative number within
/// [`MAX_DURATION`].
pub fn duration_from_secs(secs: f64) -> Option<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_DURATION)
}

/// `secs` seconds, clamped to zero (negative, NaN) or [`MAX_DURATION`] (too long, infinite).
pub fn clamp_secs(secs: f64) -> std::time::Duration {
    if secs.is_nan() || secs <= 0.0 {
        return std::time::Duration::ZERO;
    }
    duration_from_secs(secs).unwrap_or(MAX_DURATION)
}

/// A Go duration (`30s`, `1m30s`, `1.5h`, `500ms`, `250us`, `0`), as Go's
/// `time.ParseDuration` reads it: Terraform's time provider, `timeouts {}`, the provider's
/// `request_timeout` and `--lock-timeout` take it. Longer than [`MAX_DURATION`] is an error.
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let invalid = || format!("invalid duration {s:?} (e.g. 30s, 1m30s, 500ms)");
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if t.is_empty() {
        return Err(invalid());
    }
    let mut rest = t;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(invalid());
        }
        let value: f64 = rest[..n].parse().map_err(|_| invalid())?;
        rest = &rest[n..];
        if rest.is_empty() {
            return Err(format!(
                "invalid duration {s:?}: a number needs a unit (s, m, h, ms)"
            ));
        }
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += value
            * match &rest[..u] {
                "ns" => 1e-9,
                "us" | "µs" | "μs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                unit => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
            };
        rest = &rest[u..];
    }
    duration_from_secs(total)
        .ok_or_else(|| format!("duration {s:?} is too long (at most 100 years)"))
}

/// Is `s` a Secret Manager id (a secret's or a version's: letters, digits, `_` and `-`)?
pub fn secret_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    enum_table!(
        Egress,
        [
            "VPC_EGRESS_UNSPECIFIED",
            "ALL_TRAFFIC",
            "PRIVATE_RANGES_ONLY"
        ]
    );

    #[test]
    fn enum_accepts_names_and_integers() {
        let a: Enum<Egress> = serde_json::from_str("2").unwrap();
        let b: Enum<Egress> = serde_json::from_str("\"PRIVATE_RANGES_ONLY\"").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"PRIVATE_RANGES_ONLY\""
        );
        assert!(serde_json::from_str::<Enum<Egress>>("7").is_err());
        assert!(Enum::<Egress>::default().is_default());
    }

    #[test]
    fn error_body_maps_grpc_code_to_http() {
        let e = ErrorBody::new(Code::FailedPrecondition, "x");
        assert_eq!(e.error.code, 400);
        assert_eq!(e.error.status, "FAILED_PRECONDITION");
        assert_eq!(ErrorBody::new(Code::Aborted, "x").error.code, 409);
    }
}

/// A duration as a person writes it: `45s`, `5m`, `1h30m`, `250ms`.
pub fn format_duration_short(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod duration_text_tests {
    #[test]
    fn durations_read_as_written() {
        use super::format_duration_short as f;
        use std::time::Duration;
        assert_eq!(f(Duration::from_secs(300)), "5m");
        assert_eq!(f(Duration::from_secs(5400)), "1h30m");
        assert_eq!(f(Duration::from_secs(45)), "45s");
        assert_eq!(f(Duration::from_millis(250)), "250ms");
    }
}
