//! String functions: case, trimming, splitting and joining, `format`/`formatlist`,
//! `replace`, regular expressions, prefixes and suffixes.

use super::*;
use crate::lang::number::{format_verb, Number};
use crate::lang::value::Refinement;
use unicode_segmentation::UnicodeSegmentation;

/// Go's per-rune case mapping (a rune whose mapping is several characters stays as it is).
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 {
                m.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Go's `strings.Title`: the first letter of each word in title case.
fn title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_sep(prev) {
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(u), None) => u,
                    _ => c,
                }
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

fn graphemes(s: &str) -> Vec<&str> {
    s.graphemes(true).collect()
}

fn substr(a: &[Value]) -> FResult {
    let text = s(&a[0]);
    let mut offset = int(&a[1], 1)?;
    let length = int(&a[2], 2)?;
    let g = graphemes(text);
    if offset < 0 {
        offset += g.len() as i64;
    } else if length == 0 {
        return Ok(Value::string(""));
    }
    let start = offset.max(0) as usize;
    if start >= g.len() {
        return Ok(Value::string(""));
    }
    let rest = &g[start..];
    let take = if length < 0 {
        rest.len()
    } else {
        (length as usize).min(rest.len())
    };
    Ok(Value::string(rest[..take].concat()))
}

fn join(a: &[Value]) -> FResult {
    let sep = s(&a[0]);
    let lists = &a[1..];
    if lists.is_empty() {
        return Err(err("at least one list is required"));
    }
    if lists.iter().any(|l| !l.is_wholly_known()) {
        return Ok(Value::unknown(Type::String));
    }
    let mut items = Vec::new();
    for (ai, l) in lists.iter().enumerate() {
        for (ei, v) in elems(l).iter().enumerate() {
            if v.is_null() {
                return Err(arg_err(
                    ai + 1,
                    if lists.len() > 1 {
                        format!(
                            "element {ei} of list {} is null; cannot concatenate null values",
                            ai + 1
                        )
                    } else {
                        format!("element {ei} is null; cannot concatenate null values")
                    },
                ));
            }
            items.push(s(v).to_string());
        }
    }
    Ok(Value::string(items.join(sep)))
}

fn sort(a: &[Value], ret: &Type) -> FResult {
    let l = &a[0];
    if !l.is_wholly_known() {
        let mut out = Value::unknown(ret.clone());
        if let Some(n) = l.len() {
            out = crate::lang::convert::refine_len(out, n, Some(n));
        } else if let Some(r) = l.refinement() {
            out = crate::lang::convert::refine_len(out, r.min_len, r.max_len);
        }
        return Ok(out);
    }
    let mut items = Vec::new();
    for (i, v) in elems(l).iter().enumerate() {
        if v.is_null() {
            return Err(err(format!(
                "given list element {i} is null; a null string cannot be sorted"
            )));
        }
        items.push(s(v).to_string());
    }
    items.sort();
    Ok(string_list(items))
}

fn replace(a: &[Value]) -> FResult {
    let (text, sub, with) = (s(&a[0]), s(&a[1]), s(&a[2]));
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = regex::Regex::new(&sub[1..sub.len() - 1]).map_err(|e| err(e.to_string()))?;
        return Ok(Value::string(re.replace_all(text, with)));
    }
    Ok(Value::string(text.replace(sub, with)))
}

fn regex_type(pattern: &str) -> Result<(regex::Regex, Type), FuncError> {
    let re = regex::Regex::new(pattern)
        .map_err(|e| arg_err(0, format!("error parsing pattern: {e}")))?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let unnamed = names.iter().filter(|n| n.is_none()).count();
    let named: Vec<&str> = names.iter().flatten().copied().collect();
    let t = match (unnamed, named.len()) {
        (0, 0) => Type::String,
        (u, n) if u > 0 && n > 0 => {
            return Err(arg_err(
                0,
                "invalid regexp pattern: cannot mix both named and unnamed capture groups",
            ))
        }
        (u, 0) => Type::Tuple(vec![Type::String; u]),
        _ => Type::object(
            named
                .iter()
                .map(|n| (n.to_string(), Type::String))
                .collect(),
        ),
    };
    Ok((re, t))
}

fn regex_result(re: &regex::Regex, caps: &regex::Captures, t: &Type) -> Value {
    let group = |i: usize| match caps.get(i) {
        Some(m) => Value::string(m.as_str()),
        None => Value::null(Type::String),
    };
    match t {
        Type::String => group(0),
        Type::Tuple(ts) => Value::tuple((1..=ts.len()).map(group).collect()),
        _ => Value::object(
            re.capture_names()
                .enumerate()
                .skip(1)
                .filter_map(|(i, n)| n.map(|n| (n.to_string(), group(i))))
                .collect(),
        ),
    }
}

fn regex_ret(a: &[Value]) -> Result<Type, FuncError> {
    if !a[0].is_known() {
        return Ok(Type::Dynamic);
    }
    regex_type(s(&a[0])).map(|(_, t)| t)
}

fn regex_fn(a: &[Value], ret: &Type) -> FResult {
    if *ret == Type::Dynamic {
        return Ok(Value::dynamic());
    }
    let (re, t) = regex_type(s(&a[0]))?;
    let text = s(&a[1]);
    let caps = re
        .captures(text)
        .ok_or_else(|| err("pattern did not match any part of the given string"))?;
    Ok(regex_result(&re, &caps, &t))
}

fn regexall(a: &[Value], ret: &Type) -> FResult {
    let ety = ret.element().cloned().unwrap_or(Type::Dynamic);
    if ety == Type::Dynamic {
        return Ok(Value::dynamic());
    }
    let (re, t) = regex_type(s(&a[0]))?;
    let items: Vec<Value> = re
        .captures_iter(s(&a[1]))
        .map(|c| regex_result(&re, &c, &t))
        .collect();
    Ok(Value::list(ety, items))
}

fn startswith(a: &[Value]) -> FResult {
    let prefix = s(&a[1]);
    if !a[0].is_known() {
        if prefix.is_empty() {
            return Ok(Value::bool(true));
        }
        let known = a[0].refinement().map(|r| r.prefix.as_str()).unwrap_or("");
        if !known.is_empty() {
            if known.starts_with(prefix) {
                return Ok(Value::bool(true));
            }
            if known.len() >= prefix.len() {
                return Ok(Value::bool(false));
            }
        }
        return Ok(Value::unknown(Type::Bool));
    }
    Ok(Value::bool(s(&a[0]).starts_with(prefix)))
}

// `format` and `formatlist`: go-cty's format state machine.

struct Verb {
    raw: String,
    offset: usize,
    arg: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub fn format_str(spec: &str, args: &[Value]) -> Result<String, FuncError> {
    let b = spec.as_bytes();
    let mut out = String::new();
    let mut next_arg = 1usize;
    let mut highest = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let ch = spec[i..].chars().next().unwrap_or('?');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut v = Verb {
            raw: String::new(),
            offset: start,
            arg: next_arg,
            mode: ' ',
            zero: false,
            sharp: false,
            plus: false,
            minus: false,
            space: false,
            width: None,
            prec: None,
        };
        while let Some(&c) = b.get(i) {
            match c {
                b'0' => v.zero = true,
                b'#' => v.sharp = true,
                b'-' => v.minus = true,
                b'+' => v.plus = true,
                b' ' => v.space = true,
                _ => break,
            }
            i += 1;
        }
        // Go's `parsenum`: a number that grows past 10^6 before its last digit is "too
        // large", and the verb is then lost (`%!(NOVERB)`), which is what Terraform prints;
        // it also keeps a precision of 10^9 from building a gigabyte string.
        let digits = |i: &mut usize, too_large: &mut bool| {
            let mut n: usize = 0;
            let st = *i;
            while let Some(d) = b.get(*i).filter(|c| c.is_ascii_digit()) {
                *too_large |= n > 1_000_000;
                n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
                *i += 1;
            }
            (*i > st).then_some(n)
        };
        let mut too_large = false;
        if b.get(i).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            v.width = digits(&mut i, &mut too_large);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            v.prec = Some(digits(&mut i, &mut too_large).unwrap_or(0));
        }
        if b.get(i) == Some(&b'[') {
            i += 1;
            let n = digits(&mut i, &mut false).filter(|n| *n > 0);
            if b.get(i) != Some(&b']') || n.is_none() {
                return Err(err(format!(
                    "invalid format string starting at offset {start}"
                )));
            }
            i += 1;
            v.arg = n.unwrap_or(1);
        }
        match b.get(i) {
            Some(c) if c.is_ascii_alphabetic() => {
                v.mode = *c as char;
                i += 1;
            }
            Some(_) => {
                let ch = spec[i..].chars().next().unwrap_or('?');
                return Err(err(format!(
                    "unrecognized format character {:?} at offset {i}",
                    ch
                )));
            }
            None => {
                return Err(err(format!(
                    "invalid format string starting at offset {start}"
                )))
            }
        }
        v.raw = spec[start..i].to_string();
        highest = highest.max(v.arg);
        if too_large {
            out.push_str("%!(NOVERB)");
            if let Some(arg) = args.get(v.arg - 1) {
                out.push_str(&go_extra(arg, v.mode));
            }
        } else {
            format_append(&v, &mut out, args)?;
        }
        next_arg = v.arg + 1;
    }
    if highest < args.len() {
        let first_bad = highest + 1;
        return Err(arg_err(
            first_bad,
            if highest == 0 {
                "too many arguments; no verbs in format string".to_string()
            } else {
                format!("too many arguments; only {highest} used by format string")
            },
        ));
    }
    Ok(out)
}

fn pad(v: &Verb, s: String) -> String {
    let Some(w) = v.width else { return s };
    let n = s.graphemes(true).count();
    if n >= w {
        return s;
    }
    let p = if v.zero { "0" } else { " " }.repeat(w - n);
    if v.minus {
        s + &" ".repeat(w - n)
    } else {
        p + &s
    }
}

/// Go's numeric padding: zero padding goes after the sign.
fn pad_number(v: &Verb, body: String) -> String {
    let (sign, digits) = match body.strip_prefix('-') {
        Some(rest) => ("-".to_string(), rest.to_string()),
        None if v.plus => ("+".to_string(), body),
        None if v.space => (" ".to_string(), body),
        None => (String::new(), body),
    };
    let len = sign.len() + digits.len();
    match v.width {
        Some(w) if w > len => {
            let n = w - len;
            if v.minus {
                format!("{sign}{digits}{}", " ".repeat(n))
            } else if v.zero && !digits.contains("Inf") {
                format!("{sign}{}{digits}", "0".repeat(n))
            } else {
                format!("{}{sign}{digits}", " ".repeat(n))
            }
        }
        _ => format!("{sign}{digits}"),
    }
}

/// Go's `%!(EXTRA type=value)` for an argument a verb left unused: cty hands Go an integer
/// verb's number as a `*big.Int`, other numbers as a `*big.Float`.
fn go_extra(arg: &Value, mode: char) -> String {
    if let Some(n) = arg.as_number() {
        if matches!(mode, 'd' | 'x' | 'X' | 'o' | 'b' | 'c') {
            format!("%!(EXTRA *big.Int={})", format_verb(&n.floor(), 'g', None))
        } else {
            format!("%!(EXTRA *big.Float={})", format_verb(n, 'g', None))
        }
    } else if let Some(s) = arg.as_str() {
        format!("%!(EXTRA string={s})")
    } else if let Some(b) = arg.as_bool() {
        format!("%!(EXTRA bool={b})")
    } else {
        "%!(EXTRA)".to_string()
    }
}

fn format_append(v: &Verb, out: &mut String, args: &[Value]) -> Result<(), FuncError> {
    let Some(arg) = args.get(v.arg - 1) else {
        return Err(err(format!(
            "not enough arguments for {:?} at {}: need index {} but have {} total",
            v.raw,
            v.offset,
            v.arg,
            args.len()
        )));
    };
    if v.mode != 'v' && arg.is_null() {
        return Err(err(format!(
            "unsupported value for {:?} at {}: null value cannot be formatted",
            v.raw, v.offset
        )));
    }
    let bad = |e: String| {
        err(format!(
            "unsupported value for {:?} at {}: {e}",
            v.raw, v.offset
        ))
    };
    match v.mode {
        'v' => {
            if !v.sharp && !arg.is_null() {
                if let Some(t) = arg.as_str() {
                    out.push_str(&pad(v, t.to_string()));
                    return Ok(());
                }
                if let Some(n) = arg.as_number() {
                    out.push_str(&pad(v, format_verb(n, 'g', None)));
                    return Ok(());
                }
            }
            let j = crate::lang::funcs::encoding::json_encode(arg).map_err(bad)?;
            out.push_str(&pad(v, j));
        }
        't' => {
            let b = convert(arg, &Type::Bool).map_err(bad)?;
            out.push_str(if b.as_bool() == Some(true) {
                "true"
            } else {
                "false"
            });
        }
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = convert(arg, &Type::Number).map_err(bad)?;
            let n = n.as_number().cloned().unwrap_or_else(Number::zero);
            let body = if matches!(v.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                if !n.is_int() {
                    return Err(bad("an integer is required".into()));
                }
                let i = n.trunc_bigint().unwrap_or_default();
                let (neg, mag) = (i.sign() == num_bigint::Sign::Minus, i.magnitude());
                let digits = match v.mode {
                    'b' => mag.to_str_radix(2),
                    'o' => mag.to_str_radix(8),
                    'x' => mag.to_str_radix(16),
                    'X' => mag.to_str_radix(16).to_uppercase(),
                    _ => mag.to_str_radix(10),
                };
                let digits = match v.prec {
                    Some(p) if digits.len() < p => {
                        format!("{}{digits}", "0".repeat(p - digits.len()))
                    }
                    _ => digits,
                };
                let digits = if v.sharp {
                    match v.mode {
                        'b' => format!("0b{digits}"),
                        'o' => format!("0{digits}"),
                        'x' => format!("0x{digits}"),
                        'X' => format!("0X{digits}"),
                        _ => digits,
                    }
                } else {
                    digits
                };
                if neg {
                    format!("-{digits}")
                } else {
                    digits
                }
            } else {
                format_verb(&n, v.mode, v.prec)
            };
            out.push_str(&pad_number(v, body));
        }
        's' | 'q' => {
            let st = convert(arg, &Type::String).map_err(bad)?;
            let mut t = st.as_str().unwrap_or_default().to_string();
            if let Some(p) = v.prec.filter(|p| *p > 0) {
                t = t.graphemes(true).take(p).collect();
            }
            if v.mode == 'q' {
                t = crate::lang::funcs::encoding::json_string(&t);
            }
            out.push_str(&pad(v, t));
        }
        other => {
            return Err(err(format!(
                "unsupported format verb {:?} in {:?} at offset {}",
                other, v.raw, v.offset
            )))
        }
    }
    Ok(())
}

fn format(a: &[Value]) -> FResult {
    let spec = s(&a[0]);
    if a[1..].iter().any(|x| !x.is_wholly_known()) {
        if let Some(idx) = spec.find('%').filter(|i| *i > 0) {
            let prefix = spec[..idx].to_string();
            return Ok(Value::unknown(Type::String).refine(|r: &mut Refinement| {
                r.prefix = prefix;
            }));
        }
        return Ok(Value::unknown(Type::String));
    }
    Ok(Value::string(format_str(spec, &a[1..])?))
}

fn formatlist(a: &[Value], ret: &Type) -> FResult {
    let spec = s(&a[0]);
    let args = &a[1..];
    if args.is_empty() {
        return Ok(string_list(vec![format_str(spec, &[])?]));
    }
    let mut iter_len: Option<(usize, usize)> = None;
    let mut unknown = false;
    for (i, arg) in args.iter().enumerate() {
        let t = arg.ty();
        if (t.is_list() || t.is_set() || t.is_tuple()) && !arg.is_null() {
            if !t.is_tuple() && !arg.is_known() {
                unknown = true;
                continue;
            }
            let n = arg.len().unwrap_or(match &t {
                Type::Tuple(ts) => ts.len(),
                _ => 0,
            });
            match iter_len {
                None => iter_len = Some((n, i)),
                Some((m, j)) if m != n => {
                    return Err(arg_err(
                        i + 1,
                        format!(
                            "argument {} has length {n}, which is inconsistent with argument {} of length {m}",
                            i + 1,
                            j + 1
                        ),
                    ))
                }
                _ => {}
            }
            if !arg.is_known() {
                unknown = true;
            }
        } else if arg.is_dynamic_unknown() {
            unknown = true;
        }
    }
    if unknown {
        return Ok(Value::unknown(ret.clone()));
    }
    let n = iter_len.map(|x| x.0).unwrap_or(1);
    if n == 0 {
        return Ok(Value::list(Type::String, Vec::new()));
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let row: Vec<Value> = args
            .iter()
            .map(|arg| {
                let t = arg.ty();
                if (t.is_list() || t.is_set() || t.is_tuple()) && !arg.is_null() {
                    elems(arg)
                        .get(k)
                        .cloned()
                        .unwrap_or_else(Value::null_dynamic)
                } else {
                    arg.clone()
                }
            })
            .collect();
        if row.iter().any(|x| !x.is_wholly_known()) {
            out.push(Value::unknown_not_null(Type::String));
            continue;
        }
        let line = format_str(spec, &row)
            .map_err(|e| err(format!("error on format iteration {k}: {}", e.msg)))?;
        out.push(Value::string(line));
    }
    Ok(Value::list(Type::String, out))
}

pub fn register(r: &mut Registry) {
    let st = || Type::String;
    for (name, up) in [("upper", true), ("lower", false)] {
        r.add(Func::new(
            name,
            vec![p("str", st()).dynamic()],
            stat(st()),
            if up {
                |a, _, _| Ok(Value::string(map_case(s(&a[0]), true)))
            } else {
                |a, _, _| Ok(Value::string(map_case(s(&a[0]), false)))
            },
        ));
    }
    r.add(Func::new(
        "strrev",
        vec![p("str", st()).dynamic()],
        stat(st()),
        |a, _, _| {
            Ok(Value::string(
                graphemes(s(&a[0])).into_iter().rev().collect::<String>(),
            ))
        },
    ));
    r.add(Func::new(
        "substr",
        vec![
            p("str", st()).dynamic(),
            p("offset", Type::Number).dynamic(),
            p("length", Type::Number).dynamic(),
        ],
        stat(st()),
        |a, _, _| substr(a),
    ));
    r.add(
        Func::new("join", vec![p("separator", st())], stat(st()), |a, _, _| {
            join(a)
        })
        .var(p("lists", Type::list(st()))),
    );
    r.add(Func::new(
        "sort",
        vec![p("list", Type::list(st())).unknown()],
        stat(Type::list(st())),
        |a, ret, _| sort(a, ret),
    ));
    r.add(Func::new(
        "split",
        vec![p("separator", st()), p("str", st())],
        stat(Type::list(st())),
        |a, _, _| {
            let (sep, text) = (s(&a[0]), s(&a[1]));
            let parts: Vec<String> = if sep.is_empty() {
                text.chars().map(String::from).collect()
            } else {
                text.split(sep).map(str::to_string).collect()
            };
            Ok(string_list(parts))
        },
    ));
    str_fn(r, "chomp", "str", |a, _, _| {
        let t = s(&a[0]);
        let trimmed = t.trim_end_matches(['\n', '\r']);
        Ok(Value::string(trimmed))
    });
    r.add(Func::new(
        "indent",
        vec![p("spaces", Type::Number), p("str", st())],
        stat(st()),
        |a, _, _| {
            let n = int(&a[0], 0)?.max(0) as usize;
            Ok(Value::string(
                s(&a[1]).replace('\n', &format!("\n{}", " ".repeat(n))),
            ))
        },
    ));
    str_fn(r, "title", "str", |a, _, _| {
        Ok(Value::string(title(s(&a[0]))))
    });
    str_fn(r, "trimspace", "str", |a, _, _| {
        Ok(Value::string(
            s(&a[0]).trim_matches(|c: char| c.is_whitespace()),
        ))
    });
    r.add(Func::new(
        "trim",
        vec![p("str", st()), p("cutset", st())],
        stat(st()),
        |a, _, _| {
            let cut: Vec<char> = s(&a[1]).chars().collect();
            Ok(Value::string(s(&a[0]).trim_matches(|c| cut.contains(&c))))
        },
    ));
    r.add(Func::new(
        "trimprefix",
        vec![p("str", st()), p("prefix", st())],
        stat(st()),
        |a, _, _| {
            let t = s(&a[0]);
            Ok(Value::string(t.strip_prefix(s(&a[1])).unwrap_or(t)))
        },
    ));
    r.add(Func::new(
        "trimsuffix",
        vec![p("str", st()), p("suffix", st())],
        stat(st()),
        |a, _, _| {
            let t = s(&a[0]);
            Ok(Value::string(t.strip_suffix(s(&a[1])).unwrap_or(t)))
        },
    ));
    let fmt_args = || p("args", Type::Dynamic).null().unknown();
    r.add(
        Func::new("format", vec![p("format", st())], stat(st()), |a, _, _| {
            format(a)
        })
        .var(fmt_args()),
    );
    r.add(
        Func::new(
            "formatlist",
            vec![p("format", st())],
            stat(Type::list(st())),
            |a, ret, _| formatlist(a, ret),
        )
        .var(fmt_args()),
    );
    r.add(Func::new(
        "replace",
        vec![p("str", st()), p("substr", st()), p("replace", st())],
        stat(st()),
        |a, _, _| replace(a),
    ));
    r.add(Func::new(
        "regex",
        vec![p("pattern", st()), p("string", st())],
        Ret::Dynamic(regex_ret),
        |a, ret, _| regex_fn(a, ret),
    ));
    r.add(Func::new(
        "regexall",
        vec![p("pattern", st()), p("string", st())],
        Ret::Dynamic(|a| Ok(Type::list(regex_ret(a)?))),
        |a, ret, _| regexall(a, ret),
    ));
    r.add(Func::new(
        "startswith",
        vec![p("str", st()).unknown(), p("prefix", st())],
        stat(Type::Bool),
        |a, _, _| startswith(a),
    ));
    r.add(Func::new(
        "endswith",
        vec![p("str", st()), p("suffix", st())],
        stat(Type::Bool),
        |a, _, _| Ok(Value::bool(s(&a[0]).ends_with(s(&a[1])))),
    ));
    r.add(
        Func::new(
            "strcontains",
            vec![p("str", st()), p("substr", st())],
            stat(Type::Bool),
            |a, _, _| Ok(Value::bool(s(&a[0]).contains(s(&a[1])))),
        )
        .no_refine(),
    );
}
