//! Encoding functions: JSON, YAML, CSV, base64 (plain, gzip, text encodings), URL encoding.

use super::*;
use crate::lang::number::Number;
use crate::lang::value::{Refinement, V};
use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A string as Go's `encoding/json` writes it (HTML characters escaped).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// cty's JSON encoding of a known value: keys in order, numbers in plain decimal.
pub fn json_encode(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, &mut out)?;
    Ok(out)
}

fn write_json(v: &Value, out: &mut String) -> Result<(), String> {
    match &v.v {
        V::Null(_) => out.push_str("null"),
        V::Unknown(..) => return Err("value is not known".into()),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Number(n) => {
            if n.is_inf() {
                return Err("cannot serialize infinity as JSON".into());
            }
            out.push_str(&n.to_text())
        }
        V::String(s) => out.push_str(&json_string(s)),
        V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out)?;
            }
            out.push(']');
        }
        V::Map(_, m) | V::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                write_json(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn jsonencode(a: &[Value]) -> FResult {
    let v = &a[0];
    if !v.is_wholly_known() {
        if !v.definitely_not_null() {
            return Ok(Value::unknown(Type::String));
        }
        let t = v.ty();
        let prefix = match &t {
            Type::String => "\"",
            Type::Object(..) | Type::Map(_) => "{",
            Type::Tuple(_) | Type::List(_) | Type::Set(_) => "[",
            _ => "",
        };
        return Ok(Value::unknown(Type::String).refine(|r: &mut Refinement| {
            r.prefix = prefix.to_string();
        }));
    }
    if v.is_null() {
        return Ok(Value::string("null"));
    }
    json_encode(v).map(Value::string).map_err(err)
}

/// A small JSON reader that keeps numbers exact (go-cty reads them at 512 bits).
struct JsonReader<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonReader<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at offset {}", self.i))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => self.fail("unexpected end of JSON input"),
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::object(m));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.fail("expected a string object key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.fail("expected ':'");
                    }
                    self.i += 1;
                    let v = self.value()?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(format!("duplicate {k:?} property in JSON object"));
                    }
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::object(m));
                        }
                        _ => return self.fail("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut xs = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::tuple(xs));
                }
                loop {
                    xs.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::tuple(xs));
                        }
                        _ => return self.fail("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => self.string().map(Value::string),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Value::null_dynamic())
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let st = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[st..self.i]).unwrap_or("");
                Number::parse(text)
                    .map(Value::number)
                    .ok_or_else(|| format!("invalid number {text:?}"))
            }
            Some(_) => self.fail("invalid character"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return self.fail("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.fail("unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = |r: &mut Self| -> Result<u32, String> {
                                let h =
                                    r.s.get(r.i..r.i + 4)
                                        .and_then(|h| std::str::from_utf8(h).ok())
                                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                                r.i += 4;
                                h.ok_or_else(|| "invalid \\u escape".to_string())
                            };
                            let mut cp = hex(self)?;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                self.i += 2;
                                let lo = hex(self)?;
                                cp = 0x10000
                                    + ((cp - 0xd800) << 10)
                                    + (lo.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => return self.fail("invalid escape"),
                    }
                }
                c if c < 0x20 => return self.fail("invalid control character in string"),
                _ => {
                    // Copy the whole UTF-8 sequence.
                    let st = self.i - 1;
                    let mut end = self.i;
                    while end < self.s.len() && (self.s[end] & 0xc0) == 0x80 {
                        end += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[st..end]).unwrap_or("\u{fffd}"));
                    self.i = end;
                }
            }
        }
    }
}

pub fn json_decode(text: &str) -> Result<Value, String> {
    let mut r = JsonReader {
        s: text.as_bytes(),
        i: 0,
    };
    let v = r.value()?;
    r.ws();
    if r.i != r.s.len() {
        return r.fail("extraneous data after JSON object");
    }
    Ok(v)
}

fn jsondecode_ret(a: &[Value]) -> Result<Type, FuncError> {
    if !a[0].is_known() {
        let prefix = a[0]
            .refinement()
            .map(|r| r.prefix.trim().to_string())
            .unwrap_or_default();
        return Ok(match prefix.chars().next() {
            Some('"') => Type::String,
            Some('t' | 'f') => Type::Bool,
            Some('-' | '0'..='9' | '.') => Type::Number,
            Some('{' | '[' | 'n') | None => Type::Dynamic,
            Some(c) => {
                return Err(arg_err(
                    0,
                    format!("a JSON document cannot begin with the character {c:?}"),
                ))
            }
        });
    }
    json_decode(s(&a[0]))
        .map(|v| v.ty())
        .map_err(|e| arg_err(0, e))
}

/// YAML as go-yaml emits it for `yamlencode`: double-quoted strings and keys, block style,
/// literal blocks for multi-line strings.
fn yaml_encode(v: &Value) -> Result<String, String> {
    fn scalar(v: &Value) -> Option<String> {
        Some(match &v.v {
            V::Null(_) => "null".into(),
            V::Bool(b) => b.to_string(),
            V::Number(n) => n.to_text(),
            V::String(t) if !t.contains('\n') => json_like(t),
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) if xs.is_empty() => "[]".into(),
            V::Map(_, m) | V::Object(m) if m.is_empty() => "{}".into(),
            _ => return None,
        })
    }
    fn json_like(t: &str) -> String {
        let mut out = String::from("\"");
        for c in t.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    fn block(t: &str, indent: usize) -> String {
        let chomp =
            if t.ends_with("\n\n") || (t.ends_with('\n') && t.trim_end_matches('\n').is_empty()) {
                "+"
            } else if t.ends_with('\n') {
                ""
            } else {
                "-"
            };
        let body = t.strip_suffix('\n').unwrap_or(t);
        let pad = " ".repeat(indent);
        let mut out = format!("|{chomp}\n");
        for line in body.split('\n') {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&pad);
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
    fn go(v: &Value, indent: usize, out: &mut String) -> Result<(), String> {
        let pad = " ".repeat(indent);
        if !v.is_known() {
            return Err("value is not known".into());
        }
        match &v.v {
            V::Map(_, m) | V::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    out.push_str(&pad);
                    out.push_str(&json_like(k));
                    out.push(':');
                    item(x, indent, out, true)?;
                }
            }
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) if !xs.is_empty() => {
                for x in xs {
                    out.push_str(&pad);
                    out.push('-');
                    item(x, indent, out, false)?;
                }
            }
            _ => {
                out.push_str(&pad);
                match (&v.v, scalar(v)) {
                    (V::String(t), None) => out.push_str(&block(t, indent + 2)),
                    (_, Some(sc)) => {
                        out.push_str(&sc);
                        out.push('\n');
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
    /// The value after `key:` or `-`.
    fn item(x: &Value, indent: usize, out: &mut String, in_map: bool) -> Result<(), String> {
        if let Some(sc) = scalar(x) {
            out.push(' ');
            out.push_str(&sc);
            out.push('\n');
            return Ok(());
        }
        if let V::String(t) = &x.v {
            out.push(' ');
            out.push_str(&block(t, indent + 2));
            return Ok(());
        }
        let is_seq = matches!(x.v, V::List(..) | V::Set(..) | V::Tuple(_));
        if in_map {
            out.push('\n');
            go(x, if is_seq { indent } else { indent + 2 }, out)
        } else {
            let mut sub = String::new();
            go(x, indent + 2, &mut sub)?;
            out.push(' ');
            out.push_str(sub.trim_start());
            Ok(())
        }
    }
    let mut out = String::new();
    go(v, 0, &mut out)?;
    if matches!(v.v, V::Null(_) | V::Bool(_) | V::Number(_)) {
        out.push_str("...\n");
    }
    Ok(out)
}

fn yaml_to_value(y: &yaml_rust2::Yaml) -> Result<Value, String> {
    use yaml_rust2::Yaml as Y;
    Ok(match y {
        Y::Real(r) => Value::number(
            Number::parse(r)
                .or_else(|| r.parse::<f64>().ok().and_then(Number::from_f64))
                .ok_or_else(|| format!("invalid number {r:?}"))?,
        ),
        Y::Integer(i) => Value::int(*i),
        Y::String(t) => Value::string(t),
        Y::Boolean(b) => Value::bool(*b),
        Y::Array(xs) => Value::tuple(xs.iter().map(yaml_to_value).collect::<Result<_, _>>()?),
        Y::Hash(h) => {
            let mut m = BTreeMap::new();
            for (k, v) in h {
                let key = match k {
                    Y::String(t) => t.clone(),
                    Y::Integer(i) => i.to_string(),
                    Y::Real(r) => r.clone(),
                    Y::Boolean(b) => b.to_string(),
                    Y::Null => "null".into(),
                    _ => return Err("only scalar mapping keys are supported".into()),
                };
                m.insert(key, yaml_to_value(v)?);
            }
            Value::object(m)
        }
        Y::Null => Value::null_dynamic(),
        Y::BadValue => return Err("invalid YAML value".into()),
        Y::Alias(_) => return Err("YAML aliases are not supported".into()),
    })
}

/// YAML 1.1 booleans (go-yaml v2 reads `yes`, `no`, `on`, `off` as bools).
fn yaml_fix_bools(y: yaml_rust2::Yaml) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml as Y;
    match y {
        Y::String(t) => match t.as_str() {
            "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Y::Boolean(true),
            "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Y::Boolean(false),
            _ => Y::String(t),
        },
        Y::Array(xs) => Y::Array(xs.into_iter().map(yaml_fix_bools).collect()),
        Y::Hash(h) => Y::Hash(h.into_iter().map(|(k, v)| (k, yaml_fix_bools(v))).collect()),
        other => other,
    }
}

fn yaml_decode(text: &str) -> Result<Value, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.len() {
        0 => Ok(Value::null_dynamic()),
        1 => yaml_to_value(&yaml_fix_bools(
            docs.into_iter().next().unwrap_or(yaml_rust2::Yaml::Null),
        )),
        _ => Err("input contains more than one YAML document".into()),
    }
}

/// `csvdecode`: RFC 4180 with a header row; a list of objects of strings.
fn csv_decode(text: &str) -> Result<Value, String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => {
                return Err(format!(
                    "bare \" in non-quoted field in row {}",
                    rows.len() + 1
                ))
            }
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err("extraneous or missing \" in quoted-field".into());
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    let Some(header) = rows.first().cloned() else {
        return Err("missing header line".into());
    };
    let t = Type::object(header.iter().map(|h| (h.clone(), Type::String)).collect());
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        if r.len() != header.len() {
            return Err(format!("record on line {}: wrong number of fields", i + 1));
        }
        out.push(Value::object(
            header
                .iter()
                .cloned()
                .zip(r.iter().map(Value::string))
                .collect(),
        ));
    }
    Ok(Value::list(t, out))
}

fn text_encoding(name: &str) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(name.as_bytes())
}

fn textencodebase64(a: &[Value]) -> FResult {
    let (text, enc) = (s(&a[0]), s(&a[1]));
    let upper = enc.to_ascii_uppercase();
    let bytes: Vec<u8> = match upper.as_str() {
        "UTF-16LE" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "UTF-16BE" => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        "UTF-16" => {
            let mut b = vec![0xfe, 0xff];
            b.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
            b
        }
        _ => {
            let e = text_encoding(enc).ok_or_else(|| {
                arg_err(1, format!("{enc:?} is not a supported IANA encoding name or alias in this Terraform version"))
            })?;
            let (b, _, bad) = e.encode(text);
            if bad {
                return Err(arg_err(
                    0,
                    format!(
                        "the given string contains characters that cannot be represented in {}",
                        e.name()
                    ),
                ));
            }
            b.into_owned()
        }
    };
    Ok(Value::string(B64.encode(bytes)))
}

fn textdecodebase64(a: &[Value]) -> FResult {
    let (src, enc) = (s(&a[0]), s(&a[1]));
    let bytes = B64
        .decode(src)
        .map_err(|_| arg_err(0, "the given value is has an invalid base64 symbol"))?;
    let upper = enc.to_ascii_uppercase();
    let text = match upper.as_str() {
        "UTF-16LE" | "UTF-16BE" | "UTF-16" => {
            let (be, body) = match (upper.as_str(), bytes.get(..2)) {
                ("UTF-16", Some([0xff, 0xfe])) => (false, &bytes[2..]),
                ("UTF-16", Some([0xfe, 0xff])) => (true, &bytes[2..]),
                ("UTF-16LE", _) => (false, &bytes[..]),
                _ => (true, &bytes[..]),
            };
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| {
                    if be {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => {
            let e = text_encoding(enc).ok_or_else(|| {
                arg_err(1, format!("{enc:?} is not a supported IANA encoding name or alias in this Terraform version"))
            })?;
            e.decode(&bytes).0.into_owned()
        }
    };
    Ok(Value::string(text))
}

/// Go's `url.QueryEscape`.
fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

pub fn register(r: &mut Registry) {
    let st = || Type::String;
    r.add(Func::new(
        "jsonencode",
        vec![p("val", Type::Dynamic).unknown().dynamic().null()],
        stat(st()),
        |a, _, _| jsonencode(a),
    ));
    r.add(
        Func::new(
            "jsondecode",
            vec![p("str", st())],
            Ret::Dynamic(jsondecode_ret),
            |a, _, _| json_decode(s(&a[0])).map_err(|e| arg_err(0, e)),
        )
        .no_refine(),
    );
    r.add(Func::new(
        "yamlencode",
        vec![p("value", Type::Dynamic).dynamic().null()],
        stat(st()),
        |a, _, _| yaml_encode(&a[0]).map(Value::string).map_err(err),
    ));
    r.add(
        Func::new(
            "yamldecode",
            vec![p("src", st())],
            Ret::Dynamic(|a| {
                if !a[0].is_known() {
                    return Ok(Type::Dynamic);
                }
                yaml_decode(s(&a[0]))
                    .map(|v| v.ty())
                    .map_err(|e| arg_err(0, e))
            }),
            |a, _, _| yaml_decode(s(&a[0])).map_err(|e| arg_err(0, e)),
        )
        .no_refine(),
    );
    r.add(Func::new(
        "csvdecode",
        vec![p("str", st())],
        Ret::Dynamic(|a| {
            if !a[0].is_known() {
                return Ok(Type::Dynamic);
            }
            csv_decode(s(&a[0])).map(|v| v.ty()).map_err(err)
        }),
        |a, _, _| csv_decode(s(&a[0])).map_err(err),
    ));
    str_fn(r, "base64encode", "str", |a, _, _| {
        Ok(Value::string(B64.encode(s(&a[0]))))
    });
    r.add(Func::new(
        "base64decode",
        vec![p("str", st()).marked().unknown()],
        stat(st()),
        |a, _, _| {
            let (v, m) = a[0].clone().unmark();
            if !v.is_known() {
                return Ok(Value::unknown(Type::String).mark(m));
            }
            let bytes = B64.decode(s(&v)).map_err(|_| {
                err(format!(
                    "failed to decode base64 data {}",
                    if m {
                        "(sensitive value)".to_string()
                    } else {
                        format!("{:?}", s(&v))
                    }
                ))
            })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                err("the result of decoding the provided string is not valid UTF-8")
            })?;
            Ok(Value::string(text).mark(m))
        },
    ));
    str_fn(r, "base64gzip", "str", |a, _, _| {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(s(&a[0]).as_bytes())
            .map_err(|e| err(e.to_string()))?;
        let bytes = enc.finish().map_err(|e| err(e.to_string()))?;
        Ok(Value::string(B64.encode(bytes)))
    });
    r.add(Func::new(
        "textencodebase64",
        vec![p("string", st()), p("encoding", st())],
        stat(st()),
        |a, _, _| textencodebase64(a),
    ));
    r.add(Func::new(
        "textdecodebase64",
        vec![p("source", st()), p("encoding", st())],
        stat(st()),
        |a, _, _| textdecodebase64(a),
    ));
    str_fn(r, "urlencode", "str", |a, _, _| {
        Ok(Value::string(query_escape(s(&a[0]))))
    });
}
