//! Conversions between types and type unification, as go-cty's `convert` package does them
//! (Terraform converts with unsafe conversions allowed: strings to numbers and bools, lists
//! to sets, maps to objects).

use super::number::Number;
use super::types::{Defaults, Type};
use super::value::{Refinement, Value, V};
use std::collections::BTreeMap;

/// Converts `v` to `want` (cty's `Convert`, unsafe conversions allowed). Optional attributes
/// of `want` missing from an object become null.
pub fn convert(v: &Value, want: &Type) -> Result<Value, String> {
    // What most arguments are: already of the primitive type wanted, or wanted as `any`.
    match (&v.v, want) {
        (_, Type::Dynamic)
        | (V::String(_), Type::String)
        | (V::Number(_), Type::Number)
        | (V::Bool(_), Type::Bool) => return Ok(v.clone()),
        _ => {}
    }
    let ty = v.ty();
    if ty == want.without_optional() {
        return Ok(v.clone());
    }
    if !can_convert(&ty, want, true) {
        return Err(mismatch(&ty, want));
    }
    conv(v.clone(), want, true, &Path::Root)
}

/// Converts and applies a constraint's `optional(T, default)` defaults (defaults first, as
/// Terraform does for variables).
pub fn convert_with_defaults(
    v: &Value,
    want: &Type,
    defaults: Option<&Defaults>,
) -> Result<Value, String> {
    let converted = convert(v, want)?;
    Ok(match defaults {
        Some(d) => apply_defaults(converted, d),
        None => converted,
    })
}

/// Fills null optional attributes with their defaults, recursively (Terraform's
/// `Defaults.Apply`).
pub fn apply_defaults(v: Value, d: &Defaults) -> Value {
    if v.is_null() || !v.is_known() {
        return v;
    }
    let sensitive = v.sensitive;
    let out = match v.v {
        V::Object(mut attrs) => {
            for (k, dv) in &d.values {
                if let Some(cur) = attrs.get_mut(k) {
                    if cur.is_null() {
                        *cur = convert(dv, &cur.ty()).unwrap_or_else(|_| dv.clone());
                    }
                }
            }
            for (k, child) in &d.children {
                if let Some(cur) = attrs.remove(k) {
                    attrs.insert(k.clone(), apply_defaults(cur, child));
                }
            }
            Value::object(attrs)
        }
        V::List(t, xs) => match d.children.get("") {
            Some(c) => Value::list(t, xs.into_iter().map(|x| apply_defaults(x, c)).collect()),
            None => Value::list(t, xs),
        },
        V::Set(t, xs) => match d.children.get("") {
            Some(c) => Value::set(t, xs.into_iter().map(|x| apply_defaults(x, c)).collect()),
            None => Value::set(t, xs),
        },
        V::Map(t, m) => match d.children.get("") {
            Some(c) => Value::map(
                t,
                m.into_iter()
                    .map(|(k, x)| (k, apply_defaults(x, c)))
                    .collect(),
            ),
            None => Value::map(t, m),
        },
        V::Tuple(xs) => Value::tuple(
            xs.into_iter()
                .enumerate()
                .map(|(i, x)| match d.children.get(&i.to_string()) {
                    Some(c) => apply_defaults(x, c),
                    None => x,
                })
                .collect(),
        ),
        other => other.into(),
    };
    out.mark(sensitive)
}

/// Whether cty has a conversion from `from` to `to` (type-level; values may still fail).
pub fn can_convert(from: &Type, to: &Type, unsafe_ok: bool) -> bool {
    match (from, to) {
        (_, Type::Dynamic) => true,
        (Type::Dynamic, _) => unsafe_ok,
        (a, b) if a.is_primitive() && b.is_primitive() => {
            a == b || *b == Type::String || (unsafe_ok && *a == Type::String)
        }
        (Type::Object(fa, _), Type::Object(ta, topt)) => ta.iter().all(|(k, t)| match fa.get(k) {
            Some(f) => f == &t.without_optional() || can_convert(f, t, unsafe_ok),
            None => topt.contains(k),
        }),
        (Type::Tuple(fa), Type::Tuple(ta)) => {
            fa.len() == ta.len()
                && fa
                    .iter()
                    .zip(ta)
                    .all(|(f, t)| f == t || can_convert(f, t, unsafe_ok))
        }
        (Type::List(f) | Type::Set(f), Type::List(t)) => f == t || can_convert(f, t, unsafe_ok),
        (Type::List(f), Type::Set(t)) => unsafe_ok && (f == t || can_convert(f, t, unsafe_ok)),
        (Type::Set(f), Type::Set(t)) => f == t || can_convert(f, t, unsafe_ok),
        (Type::Map(f), Type::Map(t)) => can_convert(f, t, unsafe_ok),
        (Type::Tuple(es), Type::List(t) | Type::Set(t)) => {
            tuple_to_seq_elem(es, t, unsafe_ok).is_some()
        }
        (Type::Object(attrs, _), Type::Map(t)) => {
            if attrs.is_empty() {
                return true;
            }
            let ety = if **t == Type::Dynamic {
                match unify(&attrs.values().cloned().collect::<Vec<_>>(), unsafe_ok) {
                    Some(u) => u,
                    None => return false,
                }
            } else {
                (**t).clone()
            };
            attrs
                .values()
                .all(|a| *a == ety || can_convert(a, &ety, unsafe_ok))
        }
        (Type::Map(e), Type::Object(attrs, opt)) => {
            unsafe_ok
                && attrs.iter().all(|(k, t)| {
                    **e == t.without_optional() || can_convert(e, t, unsafe_ok) || opt.contains(k)
                })
        }
        _ => false,
    }
}

/// The element type a tuple converts to as a list or set (unified when the target element
/// is dynamic), if it can.
fn tuple_to_seq_elem(es: &[Type], t: &Type, unsafe_ok: bool) -> Option<Type> {
    if es.is_empty() {
        return Some(t.clone());
    }
    let ety = if *t == Type::Dynamic {
        let u = unify(es, unsafe_ok)?;
        if u == Type::Dynamic && es.iter().any(|e| *e != Type::Dynamic) {
            return None;
        }
        u
    } else {
        t.clone()
    };
    es.iter()
        .all(|e| *e == ety || can_convert(e, &ety, unsafe_ok))
        .then_some(ety)
}

/// Where in a value a conversion is, for its error message (`a.b[0]["k"]`); built only
/// when an error needs it (most conversions succeed, and formatting a path per element of
/// every argument was measurable on large stacks).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Attr(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Attr(Path::Root, k) => write!(f, "{k}"),
            Path::Attr(p, k) => write!(f, "{p}.{k}"),
            Path::Index(p, i) => write!(f, "{p}[{i}]"),
            Path::Key(p, k) => write!(f, "{p}[{}]", super::value::go_quote(k)),
        }
    }
}

fn at(path: &Path, msg: impl std::fmt::Display) -> String {
    match path {
        Path::Root => msg.to_string(),
        p => format!("{p}: {msg}"),
    }
}

/// Converts a value whose type `can_convert`s to `out`.
fn conv(v: Value, out: &Type, unsafe_ok: bool, path: &Path) -> Result<Value, String> {
    let (v, marked) = v.unmark();
    let r = conv_unmarked(v, out, unsafe_ok, path)?;
    Ok(r.mark(marked))
}

fn conv_unmarked(v: Value, out: &Type, unsafe_ok: bool, path: &Path) -> Result<Value, String> {
    if *out == Type::Dynamic {
        return Ok(v);
    }
    if let (V::String(_), Type::String) | (V::Number(_), Type::Number) | (V::Bool(_), Type::Bool) =
        (&v.v, out)
    {
        return Ok(v);
    }
    let out_plain = out.without_optional();
    let in_ty = v.ty();
    if in_ty == out_plain {
        return Ok(v);
    }
    if !v.is_known() {
        return Ok(unknown_result(&v, &dynamic_replace(&in_ty, &out_plain)));
    }
    if v.is_null() {
        return Ok(Value::null(dynamic_replace(&in_ty, &out_plain)));
    }
    if in_ty == Type::Dynamic {
        return convert(&v, out).map_err(|e| at(path, e));
    }
    match (v.v, out) {
        (V::Number(n), Type::String) => Ok(Value::string(n.to_text())),
        (V::Bool(b), Type::String) => Ok(Value::string(if b { "true" } else { "false" })),
        (V::String(s), Type::Number) => match Number::parse(&s) {
            Some(n) => Ok(Value::number(n)),
            None => Err(at(path, "a number is required")),
        },
        (V::String(s), Type::Bool) => match s.as_str() {
            "true" | "1" => Ok(Value::bool(true)),
            "false" | "0" => Ok(Value::bool(false)),
            other => Err(at(
                path,
                match other.to_lowercase().as_str() {
                    "true" => "a bool is required; to convert from string, use lowercase \"true\"",
                    "false" => {
                        "a bool is required; to convert from string, use lowercase \"false\""
                    }
                    _ => "a bool is required",
                },
            )),
        },
        (V::Object(attrs), Type::Object(want, opt)) => {
            let mut outm = BTreeMap::new();
            for (k, x) in attrs {
                let Some(t) = want.get(&k) else {
                    continue; // extra attributes are dropped
                };
                let p = Path::Attr(path, &k);
                let x = conv(x, t, unsafe_ok, &p)?;
                let x = if x.is_null() {
                    Value::null(x.ty().without_optional()).mark(x.sensitive)
                } else {
                    x
                };
                outm.insert(k, x);
            }
            for k in opt.iter() {
                if !outm.contains_key(k) {
                    outm.insert(k.clone(), Value::null(want[k].without_optional()));
                }
            }
            Ok(Value::object(outm))
        }
        (V::Tuple(xs), Type::Tuple(ts)) => Ok(Value::tuple(
            xs.into_iter()
                .zip(ts)
                .enumerate()
                .map(|(i, (x, t))| conv(x, t, unsafe_ok, &Path::Index(path, i)))
                .collect::<Result<_, _>>()?,
        )),
        (V::List(_, xs) | V::Set(_, xs), Type::List(t)) => {
            let items = convert_elems(xs, t, unsafe_ok, path)?;
            seq(items, t, false, path)
        }
        (V::List(_, xs) | V::Set(_, xs), Type::Set(t)) => {
            let items = convert_elems(xs, t, unsafe_ok, path)?;
            seq(items, t, true, path)
        }
        (V::Map(_, m), Type::Map(t)) => {
            let mut outm = BTreeMap::new();
            for (k, x) in m {
                let x = conv(x, t, unsafe_ok, &Path::Key(path, &k))?;
                outm.insert(k, x);
            }
            mapping(outm, t, unsafe_ok, path)
        }
        (V::Tuple(xs), Type::List(t) | Type::Set(t)) => {
            let es: Vec<Type> = xs.iter().map(Value::ty).collect();
            let is_set = out.is_set();
            if es.is_empty() {
                return seq(Vec::new(), &t.without_optional(), is_set, path);
            }
            let ety = tuple_to_seq_elem(&es, t, unsafe_ok).unwrap_or_else(|| (**t).clone());
            let items = convert_elems(xs, &ety, unsafe_ok, path)?;
            let items = if is_set {
                items
            } else {
                unify_elems(items, unsafe_ok, path)?
            };
            seq(items, &ety, is_set, path)
        }
        (V::Object(attrs), Type::Map(t)) => {
            if attrs.is_empty() {
                return Ok(Value::map(t.without_optional(), BTreeMap::new()));
            }
            let ety = if **t == Type::Dynamic {
                unify(
                    &attrs.values().map(Value::ty).collect::<Vec<_>>(),
                    unsafe_ok,
                )
                .unwrap_or(Type::Dynamic)
            } else {
                (**t).clone()
            };
            let mut outm = BTreeMap::new();
            for (k, x) in attrs {
                let x = conv(x, &ety, unsafe_ok, &Path::Key(path, &k))?;
                outm.insert(k, x);
            }
            mapping(outm, &ety, unsafe_ok, path)
        }
        (V::Map(_, m), Type::Object(want, opt)) => {
            let mut outm = BTreeMap::new();
            for (k, x) in m {
                let Some(t) = want.get(&k) else {
                    continue;
                };
                let p = Path::Attr(path, &k);
                if x.ty() != t.without_optional() && !can_convert(&x.ty(), t, unsafe_ok) {
                    return Err(at(
                        path,
                        format!(
                            "map element type is incompatible with attribute {}: {}",
                            super::value::go_quote(&k),
                            mismatch(&x.ty(), t)
                        ),
                    ));
                }
                let x = conv(x, t, unsafe_ok, &p)?;
                outm.insert(k, x);
            }
            for (k, t) in want.iter() {
                if !outm.contains_key(k) {
                    if opt.contains(k) {
                        outm.insert(k.clone(), Value::null(t.without_optional()));
                    } else {
                        return Err(at(
                            path,
                            format!(
                                "map has no element for required attribute {}",
                                super::value::go_quote(k)
                            ),
                        ));
                    }
                }
            }
            Ok(Value::object(outm))
        }
        (v, _) => Err(at(path, mismatch(&Value::from(v).ty(), out))),
    }
}

fn convert_elems(
    xs: Vec<Value>,
    t: &Type,
    unsafe_ok: bool,
    path: &Path,
) -> Result<Vec<Value>, String> {
    xs.into_iter()
        .enumerate()
        .map(|(i, x)| {
            let x = conv(x, t, unsafe_ok, &Path::Index(path, i))?;
            Ok(if x.is_null() {
                Value::null(x.ty().without_optional()).mark(x.sensitive)
            } else {
                x
            })
        })
        .collect()
}

/// A list or set from converted elements, whose types must then agree.
fn seq(items: Vec<Value>, ety: &Type, is_set: bool, path: &Path) -> Result<Value, String> {
    let ety = match items.first() {
        None => ety.without_optional(),
        Some(first) => {
            let t = first.ty();
            if items.iter().any(|x| x.ty() != t) {
                let kind = if is_set { "set" } else { "list" };
                return Err(at(
                    path,
                    format!("element types must all match for conversion to {kind}"),
                ));
            }
            t
        }
    };
    Ok(if is_set {
        Value::set(ety, items)
    } else {
        Value::list(ety, items)
    })
}

fn mapping(
    m: BTreeMap<String, Value>,
    ety: &Type,
    unsafe_ok: bool,
    path: &Path,
) -> Result<Value, String> {
    if m.is_empty() {
        return Ok(Value::map(ety.without_optional(), m));
    }
    let m = if ety.is_collection() || ety.is_object() || *ety == Type::Dynamic {
        let types: Vec<Type> = m.values().map(Value::ty).collect();
        let Some(u) = unify(&types, unsafe_ok) else {
            return Err(at(path, "cannot find a common base type for all elements"));
        };
        m.into_iter()
            .map(|(k, x)| {
                if x.ty() == u {
                    Ok((k, x))
                } else {
                    conv(x, &u, unsafe_ok, path).map(|x| (k, x))
                }
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?
    } else {
        m
    };
    let t = m.values().next().map(Value::ty).unwrap_or(Type::Dynamic);
    if m.values().any(|x| x.ty() != t) {
        return Err(at(
            path,
            "element types must all match for conversion to map",
        ));
    }
    Ok(Value::map(t, m))
}

fn unify_elems(items: Vec<Value>, unsafe_ok: bool, path: &Path) -> Result<Vec<Value>, String> {
    let types: Vec<Type> = items.iter().map(Value::ty).collect();
    let Some(u) = unify(&types, unsafe_ok) else {
        return Err(at(path, "cannot find a common base type for all elements"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            if x.ty() == u {
                Ok(x)
            } else {
                conv(x, &u, unsafe_ok, &Path::Index(path, i))
            }
        })
        .collect()
}

/// The unknown result of converting an unknown (cty's `prepareUnknownResult`): not-null is
/// kept, and length bounds follow from the source.
fn unknown_result(src: &Value, target: &Type) -> Value {
    let src_ty = src.ty();
    let not_null = src.definitely_not_null();
    let r = src.refinement().cloned().unwrap_or_default();
    let ret = Value::unknown(target.clone());
    let ret = if not_null { ret.refine_not_null() } else { ret };
    match (&src_ty, target) {
        (Type::Object(a, _), Type::Map(_)) => ret.refine(|x| {
            x.min_len = a.len();
            x.max_len = Some(a.len());
        }),
        (Type::Tuple(ts), Type::List(_)) => ret.refine(|x| {
            x.min_len = ts.len();
            x.max_len = Some(ts.len());
        }),
        (Type::Tuple(ts), Type::Set(_)) => ret.refine(|x| match ts.len() {
            l @ (0 | 1) => {
                x.min_len = l;
                x.max_len = Some(l);
            }
            l => {
                x.min_len = 1;
                x.max_len = Some(l);
            }
        }),
        (s, t) if s.is_collection() && t.is_collection() => ret.refine(|x| {
            if t.is_set() {
                if r.min_len > 0 {
                    x.min_len = 1;
                }
            } else {
                x.min_len = r.min_len;
            }
            x.max_len = r.max_len;
        }),
        _ => ret,
    }
}

/// cty's `dynamicReplace`: the target type with its `dynamic` parts taken from the source.
fn dynamic_replace(src: &Type, out: &Type) -> Type {
    if *src == Type::Dynamic {
        return out.clone();
    }
    match out {
        Type::Dynamic => src.clone(),
        t if t.is_primitive() => t.clone(),
        Type::Map(oe) => match src {
            Type::Map(se) => Type::map(dynamic_replace(se, oe)),
            Type::Object(a, _) => {
                let u =
                    unify(&a.values().cloned().collect::<Vec<_>>(), true).unwrap_or(Type::Dynamic);
                Type::map(dynamic_replace(&u, oe))
            }
            _ => out.clone(),
        },
        Type::Object(oa, _) => {
            let mut m = BTreeMap::new();
            match src {
                Type::Map(se) => {
                    for (k, t) in oa.iter() {
                        m.insert(k.clone(), dynamic_replace(se, t));
                    }
                }
                Type::Object(sa, _) => {
                    for (k, t) in oa.iter() {
                        m.insert(
                            k.clone(),
                            match sa.get(k) {
                                Some(s) => dynamic_replace(s, t),
                                None => t.clone(),
                            },
                        );
                    }
                }
                _ => {}
            }
            Type::object(m)
        }
        Type::Set(oe) | Type::List(oe) => {
            let inner = match src {
                Type::Set(se) | Type::List(se) => dynamic_replace(se, oe),
                Type::Tuple(ts) => {
                    let u = unify(ts, true).unwrap_or(Type::Dynamic);
                    dynamic_replace(&u, oe)
                }
                _ => return out.clone(),
            };
            if out.is_set() {
                Type::set(inner)
            } else {
                Type::list(inner)
            }
        }
        Type::Tuple(ots) => Type::Tuple(
            ots.iter()
                .enumerate()
                .map(|(i, t)| match src {
                    Type::Tuple(sts) => sts.get(i).map_or(t.clone(), |s| dynamic_replace(s, t)),
                    _ => t.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// cty's `unify`: the type all of `types` convert to, preferring the most general, if any.
pub fn unify(types: &[Type], unsafe_ok: bool) -> Option<Type> {
    if types.is_empty() {
        return None;
    }
    let count = |f: fn(&Type) -> bool| types.iter().filter(|t| f(t)).count();
    let maps = count(Type::is_map);
    let lists = count(Type::is_list);
    let sets = count(Type::is_set);
    let objects = count(Type::is_object);
    let tuples = count(Type::is_tuple);
    let dynamic = count(|t| *t == Type::Dynamic);
    let n = types.len();
    if maps > 0 && maps + dynamic == n {
        return unify_collections(types, unsafe_ok, dynamic > 0, Type::map);
    }
    if maps > 0 && maps + objects + dynamic == n {
        if let Some(t) = unify_objects_as_maps(types, unsafe_ok) {
            return Some(t);
        }
    } else if lists > 0 && lists + dynamic == n {
        return unify_collections(types, unsafe_ok, dynamic > 0, Type::list);
    } else if lists > 0 && lists + tuples + dynamic == n {
        if let Some(t) = unify_tuples_as_list(types, unsafe_ok) {
            return Some(t);
        }
    } else if sets > 0 && sets + dynamic == n {
        return unify_collections(types, unsafe_ok, dynamic > 0, Type::set);
    } else if objects > 0 && objects + dynamic == n {
        return unify_objects(types, unsafe_ok, dynamic > 0);
    } else if tuples > 0 && tuples + dynamic == n {
        return unify_tuples(types, unsafe_ok, dynamic > 0);
    } else if objects > 0 && tuples > 0 {
        return None;
    }
    'pref: for want in sort_types(types) {
        let w = &types[want];
        for (i, t) in types.iter().enumerate() {
            if i == want || t == w {
                continue;
            }
            if !can_convert(t, w, unsafe_ok) {
                continue 'pref;
            }
        }
        return Some(w.clone());
    }
    None
}

fn unify_collections(
    types: &[Type],
    unsafe_ok: bool,
    has_dynamic: bool,
    make: fn(Type) -> Type,
) -> Option<Type> {
    if has_dynamic {
        return Some(Type::Dynamic);
    }
    let elems: Vec<Type> = types.iter().filter_map(|t| t.element().cloned()).collect();
    let e = unify(&elems, unsafe_ok)?;
    let ret = make(e);
    types
        .iter()
        .all(|t| *t == ret || can_convert(t, &ret, unsafe_ok))
        .then_some(ret)
}

fn unify_objects(types: &[Type], unsafe_ok: bool, has_dynamic: bool) -> Option<Type> {
    if has_dynamic {
        return Some(Type::Dynamic);
    }
    let first = types[0].attrs()?;
    let same_names = types.iter().all(|t| {
        t.attrs()
            .is_some_and(|a| a.len() == first.len() && a.keys().all(|k| first.contains_key(k)))
    });
    if !same_names {
        return unify_objects_to_map(types, unsafe_ok);
    }
    let mut attrs = BTreeMap::new();
    for k in first.keys() {
        let across: Vec<Type> = types
            .iter()
            .filter_map(|t| t.attrs().and_then(|a| a.get(k)).cloned())
            .collect();
        attrs.insert(k.clone(), unify(&across, unsafe_ok)?);
    }
    let ret = Type::object(attrs);
    if types
        .iter()
        .all(|t| *t == ret || can_convert(t, &ret, unsafe_ok))
    {
        Some(ret)
    } else {
        unify_objects_to_map(types, unsafe_ok)
    }
}

fn unify_objects_to_map(types: &[Type], unsafe_ok: bool) -> Option<Type> {
    let atys: Vec<Type> = types
        .iter()
        .flat_map(|t| t.attrs().into_iter().flat_map(|a| a.values().cloned()))
        .collect();
    let e = unify(&atys, unsafe_ok)?;
    let ret = Type::map(e);
    types
        .iter()
        .all(|t| *t == ret || can_convert(t, &ret, unsafe_ok))
        .then_some(ret)
}

fn unify_objects_as_maps(types: &[Type], unsafe_ok: bool) -> Option<Type> {
    let objs: Vec<Type> = types.iter().filter(|t| t.is_object()).cloned().collect();
    let m = unify_objects_to_map(&objs, unsafe_ok)?;
    let mapped: Vec<Type> = types
        .iter()
        .map(|t| if t.is_object() { m.clone() } else { t.clone() })
        .collect();
    let u = unify(&mapped, unsafe_ok)?;
    u.is_map().then_some(u)
}

fn unify_tuples(types: &[Type], unsafe_ok: bool, has_dynamic: bool) -> Option<Type> {
    if has_dynamic {
        return Some(Type::Dynamic);
    }
    let Type::Tuple(first) = &types[0] else {
        return None;
    };
    let same_len = types
        .iter()
        .all(|t| matches!(t, Type::Tuple(x) if x.len() == first.len()));
    if !same_len {
        return unify_tuples_to_list(types, unsafe_ok);
    }
    let mut elems = Vec::with_capacity(first.len());
    for i in 0..first.len() {
        let across: Vec<Type> = types
            .iter()
            .filter_map(|t| match t {
                Type::Tuple(x) => x.get(i).cloned(),
                _ => None,
            })
            .collect();
        elems.push(unify(&across, unsafe_ok)?);
    }
    let ret = Type::Tuple(elems);
    if types
        .iter()
        .all(|t| *t == ret || can_convert(t, &ret, unsafe_ok))
    {
        Some(ret)
    } else {
        unify_tuples_to_list(types, unsafe_ok)
    }
}

fn unify_tuples_to_list(types: &[Type], unsafe_ok: bool) -> Option<Type> {
    let etys: Vec<Type> = types
        .iter()
        .flat_map(|t| match t {
            Type::Tuple(x) => x.clone(),
            _ => Vec::new(),
        })
        .collect();
    let e = unify(&etys, unsafe_ok)?;
    let ret = Type::list(e);
    types
        .iter()
        .all(|t| *t == ret || can_convert(t, &ret, unsafe_ok))
        .then_some(ret)
}

fn unify_tuples_as_list(types: &[Type], unsafe_ok: bool) -> Option<Type> {
    let tuples: Vec<Type> = types.iter().filter(|t| t.is_tuple()).cloned().collect();
    let l = unify_tuples_to_list(&tuples, unsafe_ok)?;
    let listed: Vec<Type> = types
        .iter()
        .map(|t| if t.is_tuple() { l.clone() } else { t.clone() })
        .collect();
    let u = unify(&listed, unsafe_ok)?;
    u.is_list().then_some(u)
}

/// cty's `compareTypes`: negative when `a` is more general than `b`.
fn compare_types(a: &Type, b: &Type) -> i32 {
    if *a == Type::Dynamic || *b == Type::Dynamic {
        return match (*a == Type::Dynamic, *b == Type::Dynamic) {
            (false, true) => -1,
            (true, false) => 1,
            _ => 0,
        };
    }
    if a.is_primitive() && b.is_primitive() && (*a == Type::String || *b == Type::String) {
        return match (*a == Type::String, *b == Type::String) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
    }
    match (a, b) {
        (Type::List(x), Type::List(y))
        | (Type::Set(x), Type::Set(y))
        | (Type::Map(x), Type::Map(y)) => return compare_types(x, y),
        _ => {}
    }
    let (a, b, swap) = match (a, b) {
        (Type::Tuple(_), Type::List(_))
        | (Type::Object(..), Type::Map(_))
        | (Type::Set(_), Type::Tuple(_))
        | (Type::Set(_), Type::List(_)) => (b, a, -1),
        _ => (a, b, 1),
    };
    if b.is_set() && (a.is_tuple() || a.is_list()) {
        return -swap;
    }
    if a.is_list() && b.is_tuple() {
        return -swap;
    }
    if a.is_map() && b.is_object() {
        return -swap;
    }
    let fold = |pairs: Vec<(&Type, &Type)>| {
        let (mut sa, mut sb) = (false, false);
        for (x, y) in pairs {
            match compare_types(x, y) {
                c if c < 0 => sa = true,
                c if c > 0 => sb = true,
                _ => {}
            }
        }
        match (sa, sb) {
            (true, true) => 0,
            (true, false) => -swap,
            (false, true) => swap,
            _ => 0,
        }
    };
    match (a, b) {
        (Type::Object(x, _), Type::Object(y, _)) => {
            if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                return 0;
            }
            fold(x.iter().map(|(k, t)| (t, &y[k])).collect())
        }
        (Type::Tuple(x), Type::Tuple(y)) => {
            if x.len() != y.len() {
                return 0;
            }
            fold(x.iter().zip(y).collect())
        }
        _ => 0,
    }
}

/// Indexes of `types`, most general first (a topological order of `compare_types`).
fn sort_types(types: &[Type]) -> Vec<usize> {
    let n = types.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n.saturating_sub(1) {
        for j in i + 1..n {
            match compare_types(&types[i], &types[j]) {
                c if c < 0 => edges[i].push(j),
                c if c > 0 => edges[j].push(i),
                _ => {}
            }
        }
    }
    let mut indeg = vec![0usize; n];
    for outs in &edges {
        for &j in outs {
            indeg[j] += 1;
        }
    }
    let mut queue: std::collections::VecDeque<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = queue.pop_front() {
        out.push(i);
        for &j in &edges[i] {
            indeg[j] -= 1;
            if indeg[j] == 0 {
                queue.push_back(j);
            }
        }
    }
    out
}

/// cty's `MismatchMessage`: why a value of type `got` does not fit `want`.
pub fn mismatch(got: &Type, want: &Type) -> String {
    let q = super::value::go_quote;
    match (got, want) {
        (Type::Object(ga, _), Type::Object(wa, opt)) => {
            let mut missing: Vec<&String> = wa
                .keys()
                .filter(|k| !ga.contains_key(*k) && !opt.contains(*k))
                .collect();
            missing.sort();
            match missing.len() {
                0 => {}
                1 => return format!("attribute {} is required", q(missing[0])),
                2 => {
                    return format!(
                        "attributes {} and {} are required",
                        q(missing[0]),
                        q(missing[1])
                    )
                }
                _ => {
                    let (last, rest) = missing.split_last().unwrap_or((&missing[0], &[]));
                    let rest: Vec<String> = rest.iter().map(|k| q(k)).collect();
                    return format!(
                        "attributes {}, and {} are required",
                        rest.join(", "),
                        q(last)
                    );
                }
            }
            for (k, w) in wa.iter() {
                if let Some(g) = ga.get(k) {
                    if g != w && !can_convert(g, w, true) {
                        return format!("attribute {}: {}", q(k), mismatch(g, w));
                    }
                }
            }
            "incorrect object attributes".into()
        }
        (Type::Tuple(_), Type::List(e)) if **e == Type::Dynamic => {
            "all list elements must have the same type".into()
        }
        (Type::Tuple(_), Type::Set(e)) if **e == Type::Dynamic => {
            "all set elements must have the same type".into()
        }
        (Type::Object(..), Type::Map(e)) if **e == Type::Dynamic => {
            "all map elements must have the same type".into()
        }
        (Type::Tuple(es), Type::List(w) | Type::Set(w)) => {
            for (i, e) in es.iter().enumerate() {
                if e != &**w && !can_convert(e, w, true) {
                    return format!("element {i}: {}", mismatch(e, w));
                }
            }
            format!("all elements must be {}", w.friendly_constraint())
        }
        (Type::Object(a, _), Type::Map(w)) => {
            for (k, e) in a.iter() {
                if e != &**w && !can_convert(e, w, true) {
                    return format!("element {}: {}", q(k), mismatch(e, w));
                }
            }
            format!("all elements must be {}", w.friendly_constraint())
        }
        (g, w) if g.is_collection() && w.is_collection() => {
            let ok_shape = match w {
                Type::List(_) | Type::Set(_) => g.is_list() || g.is_set(),
                _ => g.is_map(),
            };
            if !ok_shape {
                return format!("{} required", w.friendly_constraint());
            }
            let noun = match w {
                Type::List(_) => "list element type",
                Type::Set(_) => "set element type",
                _ => "map element type",
            };
            format!(
                "incorrect {noun}: {}",
                mismatch(
                    g.element().unwrap_or(&Type::Dynamic),
                    w.element().unwrap_or(&Type::Dynamic)
                )
            )
        }
        (_, w) => format!("{} required", w.friendly_constraint()),
    }
}

/// Refinement helpers for functions and operators that know something about their result.
pub fn refine_len(v: Value, min: usize, max: Option<usize>) -> Value {
    v.refine(|r: &mut Refinement| {
        r.min_len = r.min_len.max(min);
        r.max_len = match (r.max_len, max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn primitive_conversions() {
        assert_eq!(
            convert(&Value::int(1), &Type::String).unwrap().as_str(),
            Some("1")
        );
        assert_eq!(convert(&s("1"), &Type::Bool).unwrap().as_bool(), Some(true));
        assert!(convert(&s("True"), &Type::Bool)
            .unwrap_err()
            .contains("lowercase"));
        assert!(convert(&Value::bool(true), &Type::Number).is_err());
        assert!(convert(&s(" 1"), &Type::Number).is_err());
    }

    #[test]
    fn unification_as_cty() {
        assert_eq!(
            unify(&[Type::Number, Type::String], true),
            Some(Type::String)
        );
        assert_eq!(unify(&[Type::Number, Type::Bool], true), None);
        let t1 = Type::Tuple(vec![Type::Number]);
        let t2 = Type::Tuple(vec![Type::Number, Type::Number]);
        assert_eq!(unify(&[t1, t2], true), Some(Type::list(Type::Number)));
        let o1 = Type::object([("a".to_string(), Type::Number)].into());
        let o2 = Type::object([("b".to_string(), Type::Number)].into());
        assert_eq!(unify(&[o1, o2], true), Some(Type::map(Type::Number)));
    }

    #[test]
    fn collections_convert() {
        let t = Value::tuple(vec![Value::int(1), s("a"), Value::bool(true)]);
        let l = convert(&t, &Type::list(Type::Dynamic)).unwrap();
        assert_eq!(l.ty(), Type::list(Type::String));
        let bad = Value::tuple(vec![Value::int(1), Value::bool(true)]);
        assert!(convert(&bad, &Type::list(Type::Dynamic)).is_err());
        let set = convert(
            &Value::tuple(vec![Value::int(1), s("1")]),
            &Type::set(Type::Dynamic),
        )
        .unwrap();
        assert_eq!(set.len(), Some(1));
        let obj = Value::object(
            [
                ("a".to_string(), Value::int(1)),
                ("z".to_string(), Value::int(2)),
            ]
            .into(),
        );
        let want = Type::object_with_optional(
            [
                ("a".to_string(), Type::String),
                ("b".to_string(), Type::Number),
            ]
            .into(),
            ["b".to_string()].into(),
        );
        let got = convert(&obj, &want).unwrap();
        let m = got.entries().unwrap();
        assert_eq!(m["a"].as_str(), Some("1"));
        assert!(m["b"].is_null() && !m.contains_key("z"));
    }
}
