//! Built-in functions available in expressions (the first slice; results never change between
//! runs, so plans are reproducible).

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
fn replace(a: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(s(&a[0])?.replace(&s(&a[1])?, &s(&a[2])?)))
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
/// `format` with the verbs stacks use: %s, %d, %v, %%.
fn format(a: FuncArgs) -> Result<Value, String> {
    let spec = s(&a[0])?;
    let mut args = a.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s' | 'd' | 'v') => {
                out.push_str(&s(args.next().ok_or("format: not enough arguments")?)?)
            }
            Some(other) => return Err(format!("format: unsupported verb %{other}")),
            None => return Err("format: trailing %".into()),
        }
    }
    Ok(Value::String(out))
}

/// The names of every built-in function (for "unknown function" suggestions).
pub const NAMES: &[&str] = &[
    "upper",
    "lower",
    "trimspace",
    "tostring",
    "tonumber",
    "join",
    "split",
    "replace",
    "length",
    "concat",
    "merge",
    "lookup",
    "coalesce",
    "jsonencode",
    "base64encode",
    "format",
];

pub fn declare(ctx: &mut Context) {
    let any = || ParamType::Any;
    ctx.declare_func("upper", FuncDef::new(upper, [any()]));
    ctx.declare_func("lower", FuncDef::new(lower, [any()]));
    ctx.declare_func("trimspace", FuncDef::new(trimspace, [any()]));
    ctx.declare_func("tostring", FuncDef::new(tostring, [any()]));
    ctx.declare_func("tonumber", FuncDef::new(tonumber, [any()]));
    ctx.declare_func("join", FuncDef::new(join, [any(), any()]));
    ctx.declare_func("split", FuncDef::new(split, [any(), any()]));
    ctx.declare_func("replace", FuncDef::new(replace, [any(), any(), any()]));
    ctx.declare_func("length", FuncDef::new(length, [any()]));
    ctx.declare_func(
        "concat",
        FuncDef::builder().variadic_param(any()).build(concat),
    );
    ctx.declare_func(
        "merge",
        FuncDef::builder().variadic_param(any()).build(merge),
    );
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .param(any())
            .param(any())
            .variadic_param(any())
            .build(lookup),
    );
    ctx.declare_func(
        "coalesce",
        FuncDef::builder().variadic_param(any()).build(coalesce),
    );
    ctx.declare_func("jsonencode", FuncDef::new(jsonencode, [any()]));
    ctx.declare_func("base64encode", FuncDef::new(base64encode, [any()]));
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(any())
            .variadic_param(any())
            .build(format),
    );
}
