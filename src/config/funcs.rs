//! Built-in functions available in expressions. Results never change between runs (no
//! timestamp or uuid), so plans are reproducible. `try` and `can` are evaluated lazily by
//! [`evaluate`], which rewrites them before hcl-rs sees the expression.

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::Value;

fn s(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn upper(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(s(&a[0])?.to_uppercase()))
}
fn lower(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(s(&a[0])?.to_lowercase()))
}
fn trimspace(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(s(&a[0])?.trim().to_string()))
}
fn tostring(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(s(&a[0])?))
}
fn tonumber(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Number(_) => Ok(a[0].clone()),
        Value::String(t) => t
            .parse::<f64>()
            .ok()
            .and_then(hcl::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("cannot convert {t:?} to a number")),
        other => Err(format!("cannot convert {other} to a number")),
    }
}
fn join(a: FuncArgs) -> Result<Value, String> {
    let sep = s(&a[0])?;
    let Value::Array(items) = &a[1] else {
        return Err("join expects a list".into());
    };
    Ok(Value::String(
        items
            .iter()
            .map(s)
            .collect::<Result<Vec<_>, _>>()?
            .join(&sep),
    ))
}
fn split(a: FuncArgs) -> Result<Value, String> {
    let sep = s(&a[0])?;
    let text = s(&a[1])?;
    Ok(Value::Array(
        text.split(sep.as_str())
            .map(|p| Value::String(p.into()))
            .collect(),
    ))
}
/// `replace(string, substring, replacement)`; a substring in slashes is a regular expression.
fn replace(a: FuncArgs) -> Result<Value, String> {
    let (text, pat, with) = (s(&a[0])?, s(&a[1])?, s(&a[2])?);
    if pat.len() >= 2 && pat.starts_with('/') && pat.ends_with('/') {
        let re = re(&pat[1..pat.len() - 1])?;
        // Terraform's $1 / ${name} references work as in the regex crate.
        return Ok(Value::String(
            re.replace_all(&text, with.as_str()).into_owned(),
        ));
    }
    Ok(Value::String(text.replace(&pat, &with)))
}
fn length(a: FuncArgs) -> Result<Value, String> {
    let n = match &a[0] {
        Value::Array(v) => v.len(),
        Value::Object(m) => m.len(),
        Value::String(t) => t.chars().count(),
        other => return Err(format!("length of {other} is not defined")),
    };
    Ok(Value::from(n as u64))
}
fn concat(a: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for v in a.iter() {
        match v {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => return Err(format!("concat expects lists, got {other}")),
        }
    }
    Ok(Value::Array(out))
}
fn merge(a: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for v in a.iter() {
        match v {
            Value::Object(m) => out.extend(m.clone()),
            Value::Null => {}
            other => return Err(format!("merge expects maps, got {other}")),
        }
    }
    Ok(Value::Object(out))
}
fn lookup(a: FuncArgs) -> Result<Value, String> {
    let Value::Object(m) = &a[0] else {
        return Err("lookup expects a map".into());
    };
    let k = s(&a[1])?;
    match (m.get(&k), a.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(format!("key {k:?} not found and no default given")),
    }
}
fn coalesce(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty()))
        .cloned()
        .ok_or_else(|| "coalesce: no non-null, non-empty argument".into())
}
fn jsonencode(a: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&a[0])
        .map(Value::String)
        .map_err(|e| e.to_string())
}
fn base64encode(a: FuncArgs) -> Result<Value, String> {
    use base64::Engine;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s(&a[0])?),
    ))
}
/// One verb of `format`: flags (`-`, `0`, `+`, ` `), width and precision, then `s`, `d`, `v`,
/// `q`, `t`, `f`, `e`, `x`, `X`, `o`, `b`.
fn format_one(
    flags: &str,
    width: Option<usize>,
    prec: Option<usize>,
    verb: char,
    v: &Value,
) -> Result<String, String> {
    let int = |v: &Value| -> Result<i64, String> {
        let f = num(v)?;
        if f.fract() != 0.0 {
            return Err(format!("format: %{verb} needs a whole number, got {f}"));
        }
        Ok(f as i64)
    };
    let mut body = match verb {
        's' | 'v' => {
            let t = s(v).or_else(|_| serde_json::to_string(v).map_err(|e| e.to_string()))?;
            match prec {
                Some(p) => t.chars().take(p).collect(),
                None => t,
            }
        }
        'q' => serde_json::to_string(&s(v)?).map_err(|e| e.to_string())?,
        't' => match v {
            Value::Bool(b) => b.to_string(),
            other => return Err(format!("format: %t needs a bool, got {other}")),
        },
        'd' => {
            let n = int(v)?;
            if n >= 0 && flags.contains('+') {
                format!("+{n}")
            } else if n >= 0 && flags.contains(' ') {
                format!(" {n}")
            } else {
                n.to_string()
            }
        }
        'f' => format!("{:.*}", prec.unwrap_or(6), num(v)?),
        'e' => format!("{:.*e}", prec.unwrap_or(6), num(v)?),
        'x' => format!("{:x}", int(v)?),
        'X' => format!("{:X}", int(v)?),
        'o' => format!("{:o}", int(v)?),
        'b' => format!("{:b}", int(v)?),
        other => return Err(format!("format: unsupported verb %{other}")),
    };
    if let Some(w) = width {
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                body.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && matches!(verb, 'd' | 'f' | 'e' | 'x' | 'X' | 'o' | 'b')
            {
                let (sign, digits) = match body.strip_prefix(['-', '+']) {
                    Some(rest) => (body[..1].to_string(), rest.to_string()),
                    None => (String::new(), body.clone()),
                };
                body = format!("{sign}{}{digits}", "0".repeat(pad));
            } else {
                body = format!("{}{body}", " ".repeat(pad));
            }
        }
    }
    Ok(body)
}

/// `format`: Go-style verbs as Terraform has them (`%s`, `%d`, `%05.2f`, `%-10s`, `%q`...).
fn format(a: FuncArgs) -> Result<Value, String> {
    format_str(&s(&a[0])?, &a[1..]).map(Value::String)
}

fn format_str(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut args = args.iter();
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut flags = String::new();
        while let Some(f) = chars
            .peek()
            .filter(|f| matches!(f, '-' | '0' | '+' | ' ' | '#'))
        {
            flags.push(*f);
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut d = String::new();
            while let Some(x) = chars.peek().filter(|x| x.is_ascii_digit()) {
                d.push(*x);
                chars.next();
            }
            d.parse::<usize>().ok()
        };
        let width = digits(&mut chars);
        let prec = if chars.peek() == Some(&'.') {
            chars.next();
            Some(digits(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let verb = chars.next().ok_or("format: trailing %")?;
        let v = args.next().ok_or("format: not enough arguments")?;
        out.push_str(&format_one(&flags, width, prec, verb, v)?);
    }
    Ok(out)
}

fn formatlist(a: FuncArgs) -> Result<Value, String> {
    let spec = s(&a[0])?;
    let rest = &a[1..];
    let n = rest
        .iter()
        .filter_map(|v| {
            if let Value::Array(x) = v {
                Some(x.len())
            } else {
                None
            }
        })
        .max()
        .unwrap_or(1);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let row: Vec<Value> = rest
            .iter()
            .map(|v| match v {
                Value::Array(x) => x
                    .get(i)
                    .cloned()
                    .ok_or_else(|| "formatlist: the lists differ in length".to_string()),
                other => Ok(other.clone()),
            })
            .collect::<Result<_, _>>()?;
        out.push(Value::String(format_str(&spec, &row)?));
    }
    Ok(Value::Array(out))
}
fn index_fn(a: FuncArgs) -> Result<Value, String> {
    list(&a[0], "index")?
        .iter()
        .position(|x| *x == a[1])
        .map(|i| Value::from(i as u64))
        .ok_or_else(|| "index: the value is not in the list".into())
}
fn set_op(
    a: &FuncArgs,
    f: &str,
    keep: impl Fn(&Value, &[Vec<Value>]) -> bool,
) -> Result<Value, String> {
    let sets: Vec<Vec<Value>> = a.iter().map(|x| list(x, f)).collect::<Result<_, _>>()?;
    let mut out: Vec<Value> = Vec::new();
    for x in sets.iter().flatten() {
        if !out.contains(x) && keep(x, &sets) {
            out.push(x.clone());
        }
    }
    if out.iter().all(|x| matches!(x, Value::String(_))) {
        out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    }
    Ok(Value::Array(out))
}
fn setunion(a: FuncArgs) -> Result<Value, String> {
    set_op(&a, "setunion", |_, _| true)
}
fn setintersection(a: FuncArgs) -> Result<Value, String> {
    set_op(&a, "setintersection", |x, sets| {
        sets.iter().all(|s| s.contains(x))
    })
}
fn setsubtract(a: FuncArgs) -> Result<Value, String> {
    let (left, right) = (list(&a[0], "setsubtract")?, list(&a[1], "setsubtract")?);
    let mut out: Vec<Value> = Vec::new();
    for x in left {
        if !right.contains(&x) && !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::Array(out))
}
fn coalescelist(a: FuncArgs) -> Result<Value, String> {
    a.iter()
        .find(|v| matches!(v, Value::Array(x) if !x.is_empty()))
        .cloned()
        .ok_or_else(|| "coalescelist: no non-empty list".into())
}
fn regexall(a: FuncArgs) -> Result<Value, String> {
    let r = re(&s(&a[0])?)?;
    let text = s(&a[1])?;
    Ok(Value::Array(
        r.captures_iter(&text)
            .map(|c| {
                if r.captures_len() == 1 {
                    string(&c[0])
                } else {
                    Value::Array(
                        (1..r.captures_len())
                            .map(|i| c.get(i).map_or(Value::Null, |m| string(m.as_str())))
                            .collect(),
                    )
                }
            })
            .collect(),
    ))
}
fn chomp(a: FuncArgs) -> Result<Value, String> {
    Ok(string(s(&a[0])?.trim_end_matches(['\n', '\r'])))
}
fn indent(a: FuncArgs) -> Result<Value, String> {
    let pad = " ".repeat(num(&a[0])? as usize);
    let text = s(&a[1])?;
    Ok(string(
        text.split('\n')
            .enumerate()
            .map(|(i, l)| {
                if i == 0 || l.is_empty() {
                    l.to_string()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}
fn urlencode(a: FuncArgs) -> Result<Value, String> {
    Ok(string(
        percent_encoding::utf8_percent_encode(&s(&a[0])?, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .replace("%2D", "-")
            .replace("%2E", ".")
            .replace("%5F", "_")
            .replace("%7E", "~"),
    ))
}
fn strcontains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a[0])?.contains(&s(&a[1])?)))
}
fn strrev(a: FuncArgs) -> Result<Value, String> {
    Ok(string(s(&a[0])?.chars().rev().collect::<String>()))
}
/// `sensitive(x)` / `nonsensitive(x)`: the value itself (marking is by variable here).
fn passthrough(a: FuncArgs) -> Result<Value, String> {
    Ok(a[0].clone())
}
fn chunklist(a: FuncArgs) -> Result<Value, String> {
    let items = list(&a[0], "chunklist")?;
    let n = num(&a[1])? as usize;
    if n == 0 {
        return Ok(Value::Array(vec![Value::Array(items)]));
    }
    Ok(Value::Array(
        items.chunks(n).map(|c| Value::Array(c.to_vec())).collect(),
    ))
}

fn re(p: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(p).map_err(|e| format!("invalid regular expression {p:?}: {e}"))
}
fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{t:?} is not a number")),
        other => Err(format!("expected a number, got {other}")),
    }
}
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        Value::from(f as i64)
    } else {
        hcl::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}
fn list(v: &Value, f: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        other => Err(format!("{f} expects a list, got {other}")),
    }
}
fn map(v: &Value, f: &str) -> Result<hcl::Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        other => Err(format!("{f} expects a map, got {other}")),
    }
}
fn string(t: impl Into<String>) -> Value {
    Value::String(t.into())
}

fn trim(a: FuncArgs) -> Result<Value, String> {
    let cut = s(&a[1])?;
    Ok(string(s(&a[0])?.trim_matches(|c| cut.contains(c))))
}
fn trimprefix(a: FuncArgs) -> Result<Value, String> {
    let (t, p) = (s(&a[0])?, s(&a[1])?);
    Ok(string(t.strip_prefix(p.as_str()).unwrap_or(&t)))
}
fn trimsuffix(a: FuncArgs) -> Result<Value, String> {
    let (t, p) = (s(&a[0])?, s(&a[1])?);
    Ok(string(t.strip_suffix(p.as_str()).unwrap_or(&t)))
}
fn startswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a[0])?.starts_with(&s(&a[1])?)))
}
fn endswith(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(s(&a[0])?.ends_with(&s(&a[1])?)))
}
fn title(a: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    let mut start = true;
    for c in s(&a[0])?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(string(out))
}
/// `substr(string, offset, length)`: in characters; a negative offset counts from the end,
/// length -1 means "to the end".
fn substr(a: FuncArgs) -> Result<Value, String> {
    let chars: Vec<char> = s(&a[0])?.chars().collect();
    let n = chars.len() as i64;
    let mut off = num(&a[1])? as i64;
    let len = num(&a[2])? as i64;
    if off < 0 {
        off += n;
    }
    if off < 0 || off > n {
        return Err(format!(
            "substr: offset {} is outside the string",
            num(&a[1])?
        ));
    }
    let end = if len < 0 { n } else { (off + len).min(n) };
    Ok(string(
        chars[off as usize..end as usize].iter().collect::<String>(),
    ))
}
fn regex_fn(a: FuncArgs) -> Result<Value, String> {
    let r = re(&s(&a[0])?)?;
    let text = s(&a[1])?;
    let caps = r
        .captures(&text)
        .ok_or_else(|| format!("pattern {:?} did not match {text:?}", r.as_str()))?;
    if r.captures_len() == 1 {
        return Ok(string(&caps[0]));
    }
    let named: Vec<&str> = r.capture_names().flatten().collect();
    if !named.is_empty() {
        let mut m = hcl::Map::new();
        for n in named {
            m.insert(
                n.to_string(),
                caps.name(n).map_or(Value::Null, |x| string(x.as_str())),
            );
        }
        return Ok(Value::Object(m));
    }
    Ok(Value::Array(
        (1..r.captures_len())
            .map(|i| caps.get(i).map_or(Value::Null, |x| string(x.as_str())))
            .collect(),
    ))
}
fn keys(a: FuncArgs) -> Result<Value, String> {
    let mut ks: Vec<String> = map(&a[0], "keys")?.keys().cloned().collect();
    ks.sort();
    Ok(Value::Array(ks.into_iter().map(Value::String).collect()))
}
fn values(a: FuncArgs) -> Result<Value, String> {
    let m = map(&a[0], "values")?;
    let mut ks: Vec<&String> = m.keys().collect();
    ks.sort();
    Ok(Value::Array(ks.into_iter().map(|k| m[k].clone()).collect()))
}
fn contains(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list(&a[0], "contains")?.contains(&a[1])))
}
fn tobool(a: FuncArgs) -> Result<Value, String> {
    match &a[0] {
        Value::Bool(_) | Value::Null => Ok(a[0].clone()),
        Value::String(t) if t == "true" || t == "false" => Ok(Value::Bool(t == "true")),
        other => Err(format!("cannot convert {other} to a bool")),
    }
}
/// Sets of strings are kept sorted (as Terraform shows them), without duplicates.
fn toset(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for x in list(&a[0], "toset")? {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    if out.iter().all(|x| matches!(x, Value::String(_))) {
        out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
    }
    Ok(Value::Array(out))
}
fn tolist(a: FuncArgs) -> Result<Value, String> {
    list(&a[0], "tolist").map(Value::Array)
}
fn tomap(a: FuncArgs) -> Result<Value, String> {
    map(&a[0], "tomap").map(Value::Object)
}
fn distinct(a: FuncArgs) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for x in list(&a[0], "distinct")? {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    Ok(Value::Array(out))
}
fn flatten(a: FuncArgs) -> Result<Value, String> {
    fn go(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|x| go(x, out)),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    go(&a[0], &mut out);
    Ok(Value::Array(out))
}
fn compact(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        list(&a[0], "compact")?
            .into_iter()
            .filter(|x| !matches!(x, Value::Null) && !matches!(x, Value::String(t) if t.is_empty()))
            .collect(),
    ))
}
fn element(a: FuncArgs) -> Result<Value, String> {
    let items = list(&a[0], "element")?;
    if items.is_empty() {
        return Err("element: the list is empty".into());
    }
    let i = num(&a[1])? as usize;
    Ok(items[i % items.len()].clone())
}
fn zipmap(a: FuncArgs) -> Result<Value, String> {
    let (ks, vs) = (list(&a[0], "zipmap")?, list(&a[1], "zipmap")?);
    if ks.len() != vs.len() {
        return Err("zipmap: the lists differ in length".into());
    }
    let mut m = hcl::Map::new();
    for (k, v) in ks.iter().zip(vs) {
        m.insert(s(k)?, v);
    }
    Ok(Value::Object(m))
}
fn sort(a: FuncArgs) -> Result<Value, String> {
    let mut out = list(&a[0], "sort")?
        .iter()
        .map(s)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(Value::Array(out.into_iter().map(Value::String).collect()))
}
fn min(a: FuncArgs) -> Result<Value, String> {
    let xs = a.iter().map(num).collect::<Result<Vec<_>, _>>()?;
    xs.into_iter()
        .reduce(f64::min)
        .map(number)
        .ok_or_else(|| "min needs arguments".into())
}
fn max(a: FuncArgs) -> Result<Value, String> {
    let xs = a.iter().map(num).collect::<Result<Vec<_>, _>>()?;
    xs.into_iter()
        .reduce(f64::max)
        .map(number)
        .ok_or_else(|| "max needs arguments".into())
}
fn abs(a: FuncArgs) -> Result<Value, String> {
    Ok(number(num(&a[0])?.abs()))
}
fn ceil(a: FuncArgs) -> Result<Value, String> {
    Ok(number(num(&a[0])?.ceil()))
}
fn floor(a: FuncArgs) -> Result<Value, String> {
    Ok(number(num(&a[0])?.floor()))
}
fn jsondecode(a: FuncArgs) -> Result<Value, String> {
    let v: serde_json::Value =
        serde_json::from_str(&s(&a[0])?).map_err(|e| format!("jsondecode: {e}"))?;
    hcl::to_value(v).map_err(|e| e.to_string())
}
fn base64decode(a: FuncArgs) -> Result<Value, String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s(&a[0])?.trim())
        .map_err(|e| format!("base64decode: {e}"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "base64decode: the result is not UTF-8".into())
}
fn sha256(a: FuncArgs) -> Result<Value, String> {
    use sha2::{Digest, Sha256};
    Ok(string(hex::encode(Sha256::digest(s(&a[0])?.as_bytes()))))
}
fn file(a: FuncArgs) -> Result<Value, String> {
    let p = s(&a[0])?;
    std::fs::read_to_string(&p)
        .map(Value::String)
        .map_err(|e| format!("file({p:?}): {e}"))
}
fn templatefile(a: FuncArgs) -> Result<Value, String> {
    use std::str::FromStr;
    let p = s(&a[0])?;
    let text = std::fs::read_to_string(&p).map_err(|e| format!("templatefile({p:?}): {e}"))?;
    let tpl = hcl::Template::from_str(&text).map_err(|e| format!("templatefile({p:?}): {e}"))?;
    let mut ctx = Context::new();
    declare(&mut ctx);
    for (k, v) in map(&a[1], "templatefile")? {
        ctx.declare_var(k.as_str(), v);
    }
    hcl::eval::Evaluate::evaluate(&tpl, &ctx)
        .map(Value::String)
        .map_err(|e| format!("templatefile({p:?}): {e}"))
}
fn abspath(a: FuncArgs) -> Result<Value, String> {
    let p = std::path::PathBuf::from(s(&a[0])?);
    let abs = if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map_err(|e| e.to_string())?.join(p)
    };
    Ok(string(abs.display().to_string()))
}
fn basename(a: FuncArgs) -> Result<Value, String> {
    let p = s(&a[0])?;
    Ok(string(
        p.trim_end_matches('/').rsplit('/').next().unwrap_or(""),
    ))
}
fn dirname(a: FuncArgs) -> Result<Value, String> {
    let p = s(&a[0])?;
    Ok(string(match p.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/",
        Some((d, _)) => d,
        None => ".",
    }))
}
/// Reached only where [`evaluate`] could not rewrite the call (inside `for` bodies): the
/// arguments evaluated, so the first non-null one is the answer.
fn try_fn(a: FuncArgs) -> Result<Value, String> {
    Ok(a.iter()
        .find(|v| !matches!(v, Value::Null))
        .cloned()
        .unwrap_or(Value::Null))
}
fn can_fn(_: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(true))
}

fn alltrue(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list(&a[0], "alltrue")?.iter().all(|x| {
        matches!(x, Value::Bool(true)) || matches!(x, Value::String(t) if t == "true")
    })))
}
fn anytrue(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(list(&a[0], "anytrue")?.iter().any(|x| {
        matches!(x, Value::Bool(true)) || matches!(x, Value::String(t) if t == "true")
    })))
}
fn sum(a: FuncArgs) -> Result<Value, String> {
    let xs = list(&a[0], "sum")?
        .iter()
        .map(num)
        .collect::<Result<Vec<_>, _>>()?;
    if xs.is_empty() {
        return Err("sum: the list is empty".into());
    }
    Ok(number(xs.into_iter().sum()))
}
fn range(a: FuncArgs) -> Result<Value, String> {
    let xs = a.iter().map(num).collect::<Result<Vec<_>, _>>()?;
    let (start, end, step) = match xs.as_slice() {
        [e] => (0.0, *e, 1.0),
        [s, e] => (*s, *e, if e >= s { 1.0 } else { -1.0 }),
        [s, e, st] => (*s, *e, *st),
        _ => return Err("range takes 1 to 3 numbers".into()),
    };
    if step == 0.0 {
        return Err("range: step must not be zero".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        out.push(number(x));
        if out.len() > 1024 {
            return Err("range: more than 1024 elements".into());
        }
        x += step;
    }
    Ok(Value::Array(out))
}
fn slice(a: FuncArgs) -> Result<Value, String> {
    let items = list(&a[0], "slice")?;
    let (from, to) = (num(&a[1])? as usize, num(&a[2])? as usize);
    if from > to || to > items.len() {
        return Err(format!(
            "slice: indexes {from}..{to} are outside a list of {}",
            items.len()
        ));
    }
    Ok(Value::Array(items[from..to].to_vec()))
}
fn reverse(a: FuncArgs) -> Result<Value, String> {
    let mut items = list(&a[0], "reverse")?;
    items.reverse();
    Ok(Value::Array(items))
}
fn one(a: FuncArgs) -> Result<Value, String> {
    let items = list(&a[0], "one")?;
    match items.len() {
        0 => Ok(Value::Null),
        1 => Ok(items[0].clone()),
        n => Err(format!("one: the list has {n} elements")),
    }
}

/// `yamlencode` in Terraform's style: block style, strings double-quoted.
fn yamlencode(a: FuncArgs) -> Result<Value, String> {
    fn scalar(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(t) => serde_json::to_string(t).unwrap_or_default(),
            Value::Array(a) if a.is_empty() => "[]".into(),
            Value::Object(m) if m.is_empty() => "{}".into(),
            _ => String::new(),
        }
    }
    fn nested(v: &Value) -> bool {
        matches!(v, Value::Array(a) if !a.is_empty())
            || matches!(v, Value::Object(m) if !m.is_empty())
    }
    fn go(v: &Value, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    out.push_str(&format!(
                        "{pad}{}:",
                        serde_json::to_string(k).unwrap_or_default()
                    ));
                    if nested(x) {
                        out.push('\n');
                        let inner = if matches!(x, Value::Array(_)) {
                            indent
                        } else {
                            indent + 2
                        };
                        go(x, inner, out);
                    } else {
                        out.push_str(&format!(" {}\n", scalar(x)));
                    }
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for x in items {
                    if nested(x) {
                        out.push_str(&format!("{pad}-"));
                        let mut sub = String::new();
                        go(x, indent + 2, &mut sub);
                        out.push(' ');
                        out.push_str(sub.trim_start());
                    } else {
                        out.push_str(&format!("{pad}- {}\n", scalar(x)));
                    }
                }
            }
            other => out.push_str(&format!("{pad}{}\n", scalar(other))),
        }
    }
    let mut out = String::new();
    go(&a[0], 0, &mut out);
    Ok(string(out))
}

/// The names of every built-in function (for "unknown function" suggestions).
pub const NAMES: &[&str] = &[
    "chomp",
    "chunklist",
    "coalescelist",
    "formatlist",
    "indent",
    "index",
    "nonsensitive",
    "regexall",
    "sensitive",
    "setintersection",
    "setsubtract",
    "setunion",
    "strcontains",
    "strrev",
    "urlencode",
    "alltrue",
    "anytrue",
    "one",
    "range",
    "reverse",
    "slice",
    "sum",
    "abs",
    "abspath",
    "base64decode",
    "base64encode",
    "basename",
    "can",
    "ceil",
    "coalesce",
    "compact",
    "concat",
    "contains",
    "dirname",
    "distinct",
    "element",
    "endswith",
    "file",
    "flatten",
    "floor",
    "format",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "regex",
    "replace",
    "sha256",
    "sort",
    "split",
    "startswith",
    "substr",
    "templatefile",
    "title",
    "tobool",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "values",
    "yamlencode",
    "zipmap",
];

type F = fn(FuncArgs) -> Result<Value, String>;

pub fn declare(ctx: &mut Context) {
    let any = || ParamType::Any;
    let fixed: &[(&str, F, usize)] = &[
        ("upper", upper, 1),
        ("lower", lower, 1),
        ("title", title, 1),
        ("trimspace", trimspace, 1),
        ("trim", trim, 2),
        ("trimprefix", trimprefix, 2),
        ("trimsuffix", trimsuffix, 2),
        ("startswith", startswith, 2),
        ("endswith", endswith, 2),
        ("substr", substr, 3),
        ("regex", regex_fn, 2),
        ("tostring", tostring, 1),
        ("tonumber", tonumber, 1),
        ("tobool", tobool, 1),
        ("toset", toset, 1),
        ("tolist", tolist, 1),
        ("tomap", tomap, 1),
        ("join", join, 2),
        ("split", split, 2),
        ("replace", replace, 3),
        ("length", length, 1),
        ("keys", keys, 1),
        ("values", values, 1),
        ("contains", contains, 2),
        ("distinct", distinct, 1),
        ("flatten", flatten, 1),
        ("compact", compact, 1),
        ("element", element, 2),
        ("zipmap", zipmap, 2),
        ("sort", sort, 1),
        ("abs", abs, 1),
        ("ceil", ceil, 1),
        ("floor", floor, 1),
        ("jsonencode", jsonencode, 1),
        ("jsondecode", jsondecode, 1),
        ("yamlencode", yamlencode, 1),
        ("base64encode", base64encode, 1),
        ("base64decode", base64decode, 1),
        ("sha256", sha256, 1),
        ("file", file, 1),
        ("templatefile", templatefile, 2),
        ("abspath", abspath, 1),
        ("basename", basename, 1),
        ("dirname", dirname, 1),
        ("alltrue", alltrue, 1),
        ("anytrue", anytrue, 1),
        ("sum", sum, 1),
        ("slice", slice, 3),
        ("reverse", reverse, 1),
        ("one", one, 1),
        ("index", index_fn, 2),
        ("setsubtract", setsubtract, 2),
        ("regexall", regexall, 2),
        ("chomp", chomp, 1),
        ("indent", indent, 2),
        ("urlencode", urlencode, 1),
        ("strcontains", strcontains, 2),
        ("strrev", strrev, 1),
        ("sensitive", passthrough, 1),
        ("nonsensitive", passthrough, 1),
        ("chunklist", chunklist, 2),
    ];
    for (name, f, n) in fixed {
        ctx.declare_func(*name, FuncDef::new(*f, (0..*n).map(|_| any())));
    }
    let variadic: &[(&str, F, usize)] = &[
        ("concat", concat, 0),
        ("merge", merge, 0),
        ("coalesce", coalesce, 0),
        ("min", min, 0),
        ("max", max, 0),
        ("lookup", lookup, 2),
        ("format", format, 1),
        ("try", try_fn, 0),
        ("range", range, 1),
        ("formatlist", formatlist, 1),
        ("setunion", setunion, 0),
        ("setintersection", setintersection, 0),
        ("coalescelist", coalescelist, 0),
        ("can", can_fn, 1),
    ];
    for (name, f, n) in variadic {
        let mut b = FuncDef::builder();
        for _ in 0..*n {
            b = b.param(any());
        }
        ctx.declare_func(*name, b.variadic_param(any()).build(*f));
    }
}

/// Evaluates an expression, with `try(...)` and `can(...)` evaluated lazily: each argument
/// on its own, so that an error in one is caught rather than failing the whole expression.
pub fn evaluate(expr: &hcl::Expression, ctx: &Context) -> Result<Value, hcl::eval::Error> {
    if has_lazy(expr) {
        let rewritten = rewrite_lazy(expr, ctx)?;
        return hcl::eval::Evaluate::evaluate(&rewritten, ctx);
    }
    hcl::eval::Evaluate::evaluate(expr, ctx)
}

fn is_lazy(f: &hcl::expr::FuncCall) -> bool {
    f.name.namespace.is_empty() && matches!(f.name.name.as_str(), "try" | "can")
}

fn has_lazy(e: &hcl::Expression) -> bool {
    use hcl::expr::Operation;
    use hcl::Expression as E;
    match e {
        E::FuncCall(f) => is_lazy(f) || f.args.iter().any(has_lazy),
        E::Array(items) => items.iter().any(has_lazy),
        E::Object(m) => m.values().any(has_lazy),
        E::Parenthesis(x) => has_lazy(x),
        E::Conditional(c) => {
            has_lazy(&c.cond_expr) || has_lazy(&c.true_expr) || has_lazy(&c.false_expr)
        }
        E::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => has_lazy(&u.expr),
            Operation::Binary(b) => has_lazy(&b.lhs_expr) || has_lazy(&b.rhs_expr),
        },
        E::TemplateExpr(t) => t.to_string().contains("try(") || t.to_string().contains("can("),
        _ => false,
    }
}

fn literal(v: Value) -> hcl::Expression {
    hcl::Expression::from(v)
}

/// Replaces `try`/`can` calls (outside `for` bodies, whose variables are not in `ctx`) by
/// their values; a `try` whose every argument fails reports the last one's error.
fn rewrite_lazy(e: &hcl::Expression, ctx: &Context) -> Result<hcl::Expression, hcl::eval::Error> {
    use hcl::expr::Operation;
    use hcl::Expression as E;
    let all = |xs: &[E]| {
        xs.iter()
            .map(|a| rewrite_lazy(a, ctx))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match e {
        E::FuncCall(f) if is_lazy(f) => {
            if f.name.name.as_str() == "can" {
                let ok = f.args.first().is_some_and(|a| evaluate(a, ctx).is_ok());
                return Ok(literal(Value::Bool(ok)));
            }
            let mut last = None;
            for a in &f.args {
                match evaluate(a, ctx) {
                    Ok(v) => return Ok(literal(v)),
                    Err(err) => last = Some(err),
                }
            }
            return match last {
                Some(err) => Err(err),
                None => Ok(literal(Value::Null)),
            };
        }
        E::FuncCall(f) => {
            let mut f = f.clone();
            f.args = all(&f.args)?;
            E::FuncCall(f)
        }
        E::Array(items) => E::Array(all(items)?),
        E::Object(m) => E::Object(
            m.iter()
                .map(|(k, v)| rewrite_lazy(v, ctx).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        E::Parenthesis(x) => E::Parenthesis(Box::new(rewrite_lazy(x, ctx)?)),
        E::Conditional(c) => {
            let mut c = c.clone();
            c.cond_expr = rewrite_lazy(&c.cond_expr, ctx)?;
            c.true_expr = rewrite_lazy(&c.true_expr, ctx)?;
            c.false_expr = rewrite_lazy(&c.false_expr, ctx)?;
            E::Conditional(c)
        }
        E::Operation(op) => {
            let mut op = op.clone();
            match op.as_mut() {
                Operation::Unary(u) => u.expr = rewrite_lazy(&u.expr, ctx)?,
                Operation::Binary(b) => {
                    b.lhs_expr = rewrite_lazy(&b.lhs_expr, ctx)?;
                    b.rhs_expr = rewrite_lazy(&b.rhs_expr, ctx)?;
                }
            }
            E::Operation(op)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(src: &str) -> serde_json::Value {
        let body: hcl::Body = hcl::from_str(&format!("v = {src}")).unwrap();
        let mut ctx = Context::new();
        declare(&mut ctx);
        let e = body.attributes().next().unwrap().expr.clone();
        serde_json::to_value(evaluate(&e, &ctx).unwrap_or_else(|e| panic!("{src}: {e}"))).unwrap()
    }

    #[test]
    fn functions_behave_as_in_terraform() {
        let cases = [
            (r#"format("%02d-%s", 7, "x")"#, json!("07-x")),
            (
                r#"format("%-5s|%5s|%.2f|%q|%t|%x", "a", "b", 3.14159, "q", true, 255)"#,
                json!("a    |    b|3.14|\"q\"|true|ff"),
            ),
            (
                r#"formatlist("%s=%s", ["a", "b"], ["1", "2"])"#,
                json!(["a=1", "b=2"]),
            ),
            (
                r#"formatlist("job-%s", ["a", "b"])"#,
                json!(["job-a", "job-b"]),
            ),
            (r#"index(["a", "b"], "b")"#, json!(1)),
            (r#"setunion(["b"], ["a", "b"])"#, json!(["a", "b"])),
            (r#"setintersection(["a", "b"], ["b", "c"])"#, json!(["b"])),
            (r#"setsubtract(["a", "b"], ["b"])"#, json!(["a"])),
            (r#"coalescelist([], ["x"])"#, json!(["x"])),
            (r#"regexall("[0-9]+", "a1b22")"#, json!(["1", "22"])),
            (r#"chomp("x\n")"#, json!("x")),
            (r#"indent(2, "a\nb")"#, json!("a\n  b")),
            (r#"urlencode("a b/c")"#, json!("a%20b%2Fc")),
            (r#"strcontains("hello", "ell")"#, json!(true)),
            (
                r#"chunklist(["a", "b", "c"], 2)"#,
                json!([["a", "b"], ["c"]]),
            ),
            (r#"nonsensitive(sensitive("x"))"#, json!("x")),
            (r#"try(tonumber("x"), 5)"#, json!(5)),
            (r#"can(regex("^a", "b"))"#, json!(false)),
            (r#"substr("hello", -3, -1)"#, json!("llo")),
            (r#"toset(["b", "a", "b"])"#, json!(["a", "b"])),
            (r#"jsondecode("{\"a\": [1]}")"#, json!({"a": [1]})),
            (r#"base64decode(base64encode("hi"))"#, json!("hi")),
            (r#"dirname("/a/b/c")"#, json!("/a/b")),
            (r#"lookup({a = 1}, "b", 2)"#, json!(2)),
            (r#"keys({b = 1, a = 2})"#, json!(["a", "b"])),
            (r#"values({b = 1, a = 2})"#, json!([2, 1])),
            (r#"flatten([[1], [2, [3]]])"#, json!([1, 2, 3])),
            (r#"max(1, 5, 3)"#, json!(5)),
        ];
        for (src, want) in cases {
            assert_eq!(call(src), want, "{src}");
        }
    }
}
