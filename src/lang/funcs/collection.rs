//! Collection functions: length, element access, keys and values, merging and concatenating,
//! flattening, set operations, ranges.

use super::*;
use crate::lang::convert::{refine_len, unify};
use crate::lang::number::Number;
use crate::lang::value::{equals, Refinement};
use unicode_segmentation::UnicodeSegmentation;

fn any() -> Type {
    Type::Dynamic
}

/// go-cty's `Value.Length` (top-level marks kept).
pub fn length_of(v: &Value) -> Value {
    let marked = v.sensitive;
    let t = v.ty();
    let out = match (&t, &v.v) {
        (Type::Tuple(ts), _) => Value::number(Number::from_usize(ts.len())),
        (Type::Object(a, _), _) => Value::number(Number::from_usize(a.len())),
        (Type::Dynamic, _) => Value::unknown(Type::Number),
        (Type::String, V::String(s)) => {
            Value::number(Number::from_usize(s.graphemes(true).count()))
        }
        (Type::String, V::Unknown(_, r)) => {
            let prefix = r.as_ref().map(|r| r.prefix.as_str()).unwrap_or("");
            let n = prefix.graphemes(true).count();
            Value::unknown(Type::Number).refine(|x: &mut Refinement| {
                x.not_null = true;
                x.min = Some((Number::from_usize(n), true));
            })
        }
        (_, V::Unknown(_, r)) => {
            let (lo, hi) = r
                .as_ref()
                .map(|r| (r.min_len, r.max_len))
                .unwrap_or((0, None));
            Value::unknown(Type::Number).refine(|x: &mut Refinement| {
                x.not_null = true;
                x.min = Some((Number::from_usize(lo), true));
                x.max = Some((
                    Number::from_u64(hi.map_or(i64::MAX as u64, |h| h as u64)),
                    true,
                ));
            })
        }
        (Type::Set(_), V::Set(_, xs)) => {
            if xs.len() == 1 || v.is_wholly_known() {
                Value::number(Number::from_usize(xs.len()))
            } else {
                Value::unknown(Type::Number).refine(|x: &mut Refinement| {
                    x.not_null = true;
                    x.min = Some((Number::from_usize(1), true));
                    x.max = Some((Number::from_usize(xs.len()), true));
                })
            }
        }
        _ => Value::number(Number::from_usize(v.len().unwrap_or(0))),
    };
    out.mark(marked)
}

fn length(a: &[Value]) -> FResult {
    let t = a[0].ty();
    if !(t == Type::String
        || t.is_collection()
        || t.is_tuple()
        || t.is_object()
        || t == Type::Dynamic)
    {
        return Err(err(
            "argument must be a string, a collection type, or a structural type",
        ));
    }
    Ok(length_of(&a[0]))
}

fn alltrue(a: &[Value]) -> FResult {
    for v in elems(&a[0]) {
        if !v.is_known() {
            return Ok(Value::unknown(Type::Bool));
        }
        match v.as_bool() {
            None | Some(false) => return Ok(Value::bool(false)),
            _ => {}
        }
    }
    Ok(Value::bool(true))
}

fn anytrue(a: &[Value]) -> FResult {
    let mut unknown = false;
    for v in elems(&a[0]) {
        if !v.is_known() {
            unknown = true;
            continue;
        }
        if v.as_bool() == Some(true) {
            return Ok(Value::bool(true));
        }
    }
    Ok(if unknown {
        Value::unknown(Type::Bool)
    } else {
        Value::bool(false)
    })
}

fn coalesce_ret(a: &[Value]) -> Result<Type, FuncError> {
    let types: Vec<Type> = a.iter().map(Value::ty).collect();
    unify(&types, true).ok_or_else(|| err("all arguments must have the same type"))
}

fn coalesce(a: &[Value], ret: &Type) -> FResult {
    for v in a {
        let v = convert(v, ret).unwrap_or_else(|_| v.clone());
        if !v.is_known() {
            return Ok(Value::unknown(ret.clone()));
        }
        if v.is_null() {
            continue;
        }
        if *ret == Type::String && v.as_str() == Some("") {
            continue;
        }
        return Ok(v);
    }
    Err(err("no non-null, non-empty-string arguments"))
}

fn coalescelist_ret(a: &[Value]) -> Result<Type, FuncError> {
    if a.is_empty() {
        return Err(err("at least one argument is required"));
    }
    let mut types = Vec::new();
    for v in a {
        if !v.is_known() {
            return Ok(Type::Dynamic);
        }
        let t = v.ty();
        if !t.is_list() && !t.is_tuple() {
            return Err(err("coalescelist arguments must be lists or tuples"));
        }
        types.push(t);
    }
    Ok(if types.iter().all(|t| *t == types[0]) {
        types[0].clone()
    } else {
        Type::Dynamic
    })
}

fn coalescelist(a: &[Value], ret: &Type) -> FResult {
    for v in a {
        if !v.is_known() {
            return Ok(Value::unknown(ret.clone()));
        }
        if v.is_null() {
            continue;
        }
        if v.len().unwrap_or(0) > 0 {
            return Ok(v.clone());
        }
    }
    Err(err("no non-null arguments"))
}

fn compact(a: &[Value], ret: &Type) -> FResult {
    if !a[0].is_wholly_known() {
        return Ok(Value::unknown(ret.clone()));
    }
    let items: Vec<Value> = elems(&a[0])
        .iter()
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .collect();
    Ok(Value::list(Type::String, items))
}

fn contains(a: &[Value]) -> FResult {
    let t = a[0].ty();
    if !t.is_list() && !t.is_tuple() && !t.is_set() {
        return Err(err("argument must be list, tuple, or set"));
    }
    if a[0].is_empty() {
        return Ok(Value::bool(false));
    }
    if !a[0].is_known() || !a[1].is_known() {
        return Ok(Value::unknown(Type::Bool));
    }
    let mut unknown = false;
    for v in elems(&a[0]) {
        let e = equals(&a[1], v);
        match e.as_bool() {
            Some(true) => return Ok(Value::bool(true)),
            Some(false) => {}
            None => unknown = true,
        }
    }
    Ok(if unknown {
        Value::unknown(Type::Bool)
    } else {
        Value::bool(false)
    })
}

fn distinct(a: &[Value], ret: &Type) -> FResult {
    if !a[0].is_wholly_known() {
        return Ok(Value::unknown(ret.clone()));
    }
    let mut out: Vec<Value> = Vec::new();
    for v in elems(&a[0]) {
        if !out.iter().any(|o| equals(o, v).as_bool() == Some(true)) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(
        ret.element().cloned().unwrap_or(Type::Dynamic),
        out,
    ))
}

fn element_ret(a: &[Value]) -> Result<Type, FuncError> {
    let t = a[0].ty();
    match &t {
        Type::List(e) => Ok((**e).clone()),
        Type::Tuple(ts) => {
            if !a[1].is_known() {
                return Ok(Type::Dynamic);
            }
            let i = int(&a[1], 1).map_err(|e| err(format!("invalid index: {}", e.msg)))?;
            if ts.is_empty() {
                return Err(err("cannot use element function with an empty list"));
            }
            // Go's % keeps the sign: a negative index fails here in 1.11.
            let r = i % ts.len() as i64;
            if r < 0 {
                return Err(err(
                    "invalid index: a negative index is not supported for a tuple",
                ));
            }
            Ok(ts[r as usize].clone())
        }
        other => Err(err(format!(
            "cannot read elements from {}",
            other.friendly()
        ))),
    }
}

fn element(a: &[Value], ret: &Type) -> FResult {
    let i = int(&a[1], 1).map_err(|e| err(format!("invalid index: {}", e.msg)))?;
    let (input, marked) = a[0].clone().unmark();
    if !input.is_known() {
        return Ok(Value::unknown(ret.clone()));
    }
    let xs = elems(&input);
    if xs.is_empty() {
        return Err(err("cannot use element function with an empty list"));
    }
    let l = xs.len() as i64;
    let mut idx = i % l;
    if idx < 0 {
        idx += l;
    }
    Ok(xs[idx as usize].clone().mark(marked))
}

/// go-cty's flattener: the leaves of nested sequences, whether all were known, and the marks
/// met on the way.
fn flattener(v: &Value, marked: &mut bool) -> Option<Vec<Value>> {
    let (v, m) = v.clone().unmark();
    *marked |= m;
    if !v.is_known() {
        return None;
    }
    let mut out = Vec::new();
    let mut known = true;
    for x in elems(&v) {
        if x.is_dynamic_unknown() {
            known = false;
        }
        let t = x.ty();
        if !x.is_null() && (t.is_list() || t.is_set() || t.is_tuple()) {
            if !x.is_known() {
                known = false;
                *marked |= x.sensitive;
                continue;
            }
            match flattener(x, marked) {
                Some(inner) => out.extend(inner),
                None => known = false,
            }
        } else {
            out.push(x.clone());
        }
    }
    known.then_some(out)
}

fn flatten_ret(a: &[Value]) -> Result<Type, FuncError> {
    if !a[0].is_wholly_known() {
        return Ok(Type::Dynamic);
    }
    let t = a[0].ty();
    if !t.is_list() && !t.is_set() && !t.is_tuple() {
        return Err(err("can only flatten lists, sets and tuples"));
    }
    let mut m = false;
    Ok(match flattener(&a[0], &mut m) {
        Some(xs) => Type::Tuple(xs.iter().map(Value::ty).collect()),
        None => Type::Dynamic,
    })
}

fn flatten(a: &[Value], ret: &Type) -> FResult {
    let (inner, m0) = a[0].clone().unmark();
    if inner.is_empty() {
        return Ok(Value::tuple(Vec::new()).mark(m0));
    }
    let mut marked = false;
    match flattener(&a[0], &mut marked) {
        Some(xs) => Ok(Value::tuple(xs).mark(marked)),
        None => Ok(Value::unknown(ret.clone()).mark(marked)),
    }
}

fn index_fn(a: &[Value]) -> FResult {
    let t = a[0].ty();
    if !(t.is_list() || t.is_tuple()) {
        return Err(err("argument must be a list or tuple"));
    }
    if !a[0].is_known() {
        return Ok(Value::unknown(Type::Number));
    }
    let xs = elems(&a[0]);
    if xs.is_empty() {
        return Err(err("cannot search an empty list"));
    }
    for (i, v) in xs.iter().enumerate() {
        let e = equals(v, &a[1]);
        match e.as_bool() {
            None => return Ok(Value::unknown(Type::Number)),
            Some(true) => return Ok(Value::number(Number::from_usize(i))),
            Some(false) => {}
        }
    }
    Err(err("item not found"))
}

fn keys_ret(a: &[Value]) -> Result<Type, FuncError> {
    match a[0].ty() {
        Type::Map(_) => Ok(Type::list(Type::String)),
        Type::Object(attrs, _) => Ok(Type::Tuple(vec![Type::String; attrs.len()])),
        _ => Err(arg_err(0, "must have map or object type")),
    }
}

fn keys(a: &[Value], ret: &Type) -> FResult {
    let (m, marked) = a[0].clone().unmark();
    let out = match &m.ty() {
        Type::Object(attrs, _) => Value::tuple(attrs.keys().map(Value::string).collect()),
        _ => {
            if !m.is_known() {
                Value::unknown(ret.clone())
            } else {
                string_list(
                    m.entries()
                        .map(|e| e.keys().cloned().collect())
                        .unwrap_or_default(),
                )
            }
        }
    };
    Ok(out.mark(marked))
}

fn lookup_ret(a: &[Value]) -> Result<Type, FuncError> {
    if a.len() > 3 {
        return Err(err(format!(
            "lookup() takes two or three arguments, got {}",
            a.len()
        )));
    }
    match a[0].ty() {
        Type::Object(attrs, _) => {
            if !a[1].is_known() {
                return Ok(Type::Dynamic);
            }
            let k = s(&a[1]);
            match attrs.get(k) {
                Some(t) => Ok(t.clone()),
                None if a.len() == 3 => Ok(a[2].ty()),
                None => Err(arg_err(
                    0,
                    format!("the given object has no attribute {k:?}"),
                )),
            }
        }
        Type::Map(e) => {
            if a.len() == 3 && convert(&a[2], &e).is_err() {
                return Err(arg_err(
                    2,
                    "the default value must have the same type as the map elements",
                ));
            }
            Ok((*e).clone())
        }
        _ => Err(arg_err(0, "lookup() requires a map as the first argument")),
    }
}

fn lookup(a: &[Value], ret: &Type) -> FResult {
    let (m, mm) = a[0].clone().unmark();
    let (k, km) = a[1].clone().unmark();
    let marked = mm || km;
    if !(m.is_known() && k.is_known()) {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let key = s(&k);
    if let Some(v) = m.entries().and_then(|e| e.get(key)) {
        return Ok(v.clone().mark(marked));
    }
    if let Some(d) = a.get(2) {
        let d = convert(d, ret).map_err(err)?;
        return Ok(d.mark(marked));
    }
    Err(err(format!(
        "lookup failed to find key {}",
        if km {
            "(sensitive value)".to_string()
        } else {
            format!("{key:?}")
        }
    )))
}

fn matchkeys(a: &[Value], ret: &Type) -> FResult {
    let ety = ret.element().cloned().unwrap_or(Type::Dynamic);
    if !a[0].is_known() {
        return Ok(Value::unknown(Type::list(ety)));
    }
    if a[0].len() != a[1].len() {
        return Err(err("length of keys and values should be equal"));
    }
    let t = unify(&[a[1].ty(), a[2].ty()], true).unwrap_or(Type::Dynamic);
    let keys = convert(&a[1], &t).unwrap_or_else(|_| a[1].clone());
    let search = convert(&a[2], &t).unwrap_or_else(|_| a[2].clone());
    if search.is_empty() {
        return Ok(Value::list(ety, Vec::new()));
    }
    if !a[0].is_wholly_known() || !keys.is_wholly_known() {
        return Ok(Value::unknown(ret.clone()));
    }
    let mut out = Vec::new();
    for (i, k) in elems(&keys).iter().enumerate() {
        for sv in elems(&search) {
            match equals(k, sv).as_bool() {
                None => return Ok(Value::list(ety, Vec::new())),
                Some(true) => {
                    if let Some(v) = elems(&a[0]).get(i) {
                        out.push(v.clone());
                    }
                    break;
                }
                Some(false) => {}
            }
        }
    }
    Ok(Value::list(ety, out))
}

fn merge_ret(a: &[Value]) -> Result<Type, FuncError> {
    if a.is_empty() {
        return Ok(Type::empty_object());
    }
    let mut attrs = BTreeMap::new();
    let mut first = None;
    let mut matching = true;
    let mut attrs_known = true;
    for (i, arg) in a.iter().enumerate() {
        let t = arg.ty();
        if t == Type::Dynamic {
            return Ok(Type::Dynamic);
        }
        if !t.is_map() && !t.is_object() {
            return Err(err(format!(
                "arguments must be maps or objects, got {:?}",
                t.friendly()
            )));
        }
        match (&t, arg.is_null()) {
            (Type::Object(at, _), false) => {
                for (k, ty) in at.iter() {
                    attrs.insert(k.clone(), ty.clone());
                }
            }
            (Type::Map(e), false) => {
                if arg.is_known() {
                    for k in arg.entries().map(|m| m.keys()).into_iter().flatten() {
                        attrs.insert(k.clone(), (**e).clone());
                    }
                } else {
                    attrs_known = false;
                }
            }
            _ => {}
        }
        if i == 0 {
            first = Some(t);
            continue;
        }
        if Some(&t) != first.as_ref() {
            matching = false;
        }
    }
    if matching {
        return Ok(first.unwrap_or_else(Type::empty_object));
    }
    if !attrs_known {
        return Ok(Type::Dynamic);
    }
    Ok(Type::object(attrs))
}

fn merge(a: &[Value], ret: &Type) -> FResult {
    let mut out = BTreeMap::new();
    let mut marked = false;
    for arg in a {
        if arg.is_null() {
            continue;
        }
        let (arg, m) = arg.clone().unmark();
        marked |= m;
        if let Some(e) = arg.entries() {
            for (k, v) in e {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(match ret {
        Type::Map(e) => Value::map((**e).clone(), out),
        _ => Value::object(out),
    }
    .mark(marked))
}

fn one_ret(a: &[Value]) -> Result<Type, FuncError> {
    match a[0].ty() {
        Type::List(e) | Type::Set(e) => Ok((*e).clone()),
        Type::Tuple(ts) if ts.is_empty() => Ok(Type::Dynamic),
        Type::Tuple(ts) if ts.len() == 1 => Ok(ts[0].clone()),
        _ => Err(arg_err(
            0,
            "must be a list, set, or tuple value with either zero or one elements",
        )),
    }
}

fn one(a: &[Value], ret: &Type) -> FResult {
    let v = &a[0];
    let t = v.ty();
    if (t.is_list() || t.is_set()) && !v.is_known() {
        let r = v.refinement().cloned().unwrap_or_default();
        if r.max_len.is_none() || r.min_len != r.max_len.unwrap_or(0) {
            return Ok(Value::unknown(ret.clone()));
        }
    }
    if t.is_set() && !v.is_wholly_known() && v.len().is_some_and(|n| n > 1) {
        return Ok(Value::unknown(ret.clone()));
    }
    match v.len() {
        Some(0) => Ok(Value::null(ret.clone())),
        Some(1) => Ok(elems(v)[0].clone()),
        _ => Err(arg_err(
            0,
            "must be a list, set, or tuple value with either zero or one elements",
        )),
    }
}

fn range(a: &[Value]) -> FResult {
    let n = |v: &Value| v.as_number().cloned().unwrap_or_else(Number::zero);
    let zero = Number::zero();
    let (start, end, step) = match a.len() {
        1 => {
            let e = n(&a[0]);
            let step = if e.cmp(&zero).is_lt() { -1 } else { 1 };
            (zero.clone(), e, Number::from_i64(step))
        }
        2 => {
            let (s0, e) = (n(&a[0]), n(&a[1]));
            let step = if e.cmp(&s0).is_lt() { -1 } else { 1 };
            (s0, e, Number::from_i64(step))
        }
        3 => (n(&a[0]), n(&a[1]), n(&a[2])),
        _ => return Err(err("must have one, two, or three arguments")),
    };
    let down = step.cmp(&zero).is_lt();
    if down && end.cmp(&start).is_gt() {
        return Err(arg_err(
            1,
            "end must be less than start when step is negative",
        ));
    }
    if !down && end.cmp(&start).is_lt() {
        return Err(arg_err(
            1,
            "end must be greater than start when step is positive",
        ));
    }
    let mut out = Vec::new();
    let mut cur = start;
    loop {
        let stop = if down {
            cur.cmp(&end).is_le()
        } else {
            cur.cmp(&end).is_ge()
        };
        if stop {
            break;
        }
        if out.len() >= 1024 {
            return Err(err("more than 1024 values were generated; either decrease the difference between start and end or use a smaller step"));
        }
        out.push(Value::number(cur.clone()));
        cur = cur.add(&step).map_err(|e| err(e.to_string()))?;
    }
    Ok(Value::list(Type::Number, out))
}

fn reverse_ret(a: &[Value]) -> Result<Type, FuncError> {
    match a[0].ty() {
        Type::Tuple(mut ts) => {
            ts.reverse();
            Ok(Type::Tuple(ts))
        }
        Type::List(e) | Type::Set(e) => Ok(Type::list((*e).clone())),
        other => Err(arg_err(
            0,
            format!(
                "can only reverse list or tuple values, not {}",
                other.friendly()
            ),
        )),
    }
}

fn reverse(a: &[Value], ret: &Type) -> FResult {
    let (v, marked) = a[0].clone().unmark();
    let mut xs = elems(&v).to_vec();
    xs.reverse();
    Ok(match ret {
        Type::Tuple(_) => Value::tuple(xs),
        _ => Value::list(ret.element().cloned().unwrap_or(Type::Dynamic), xs),
    }
    .mark(marked))
}

fn set_ret(a: &[Value]) -> Result<Type, FuncError> {
    let etys: Vec<Type> = a
        .iter()
        .filter(|v| !(v.is_known() && v.is_empty() && v.ty().element() == Some(&Type::Dynamic)))
        .filter_map(|v| v.ty().element().cloned())
        .collect();
    if etys.is_empty() {
        return Ok(Type::set(Type::Dynamic));
    }
    unify(&etys, true)
        .map(Type::set)
        .ok_or_else(|| err("given sets must all have compatible element types"))
}

fn set_op(
    a: &[Value],
    ret: &Type,
    op: fn(Vec<Value>, &[Value]) -> Vec<Value>,
    allow_unknown: bool,
) -> FResult {
    let ety = ret.element().cloned().unwrap_or(Type::Dynamic);
    let mut cur: Option<Vec<Value>> = None;
    for (i, arg) in a.iter().enumerate() {
        let v = convert(arg, ret).map_err(|e| arg_err(i, e))?;
        if !allow_unknown && !v.is_wholly_known() {
            return Ok(Value::unknown(ret.clone()));
        }
        let xs = elems(&v).to_vec();
        cur = Some(match cur {
            None => xs,
            Some(c) => op(c, &xs),
        });
    }
    Ok(Value::set(ety, cur.unwrap_or_default()))
}

fn member(xs: &[Value], v: &Value) -> bool {
    xs.iter().any(|x| equals(x, v).as_bool() == Some(true))
}

fn setproduct_ret(a: &[Value]) -> Result<Type, FuncError> {
    if a.len() < 2 {
        return Err(err("at least two arguments are required"));
    }
    let mut lists = 0;
    let mut etys = Vec::with_capacity(a.len());
    for (i, v) in a.iter().enumerate() {
        match v.ty() {
            Type::Set(e) => etys.push((*e).clone()),
            Type::List(e) => {
                etys.push((*e).clone());
                lists += 1;
            }
            Type::Tuple(ts) => {
                lists += 1;
                if ts.is_empty() {
                    etys.push(Type::Dynamic);
                } else {
                    etys.push(
                        unify(&ts, true)
                            .ok_or_else(|| arg_err(i, "all elements must be of the same type"))?,
                    );
                }
            }
            _ => return Err(arg_err(i, "a set or a list is required")),
        }
    }
    let t = Type::Tuple(etys);
    Ok(if lists == a.len() {
        Type::list(t)
    } else {
        Type::set(t)
    })
}

fn setproduct(a: &[Value], ret: &Type) -> FResult {
    let ety = ret.element().cloned().unwrap_or(Type::Dynamic);
    let Type::Tuple(sub) = &ety else {
        return Ok(Value::unknown(ret.clone()));
    };
    let mut marked = false;
    let mut args = Vec::with_capacity(a.len());
    let mut unknown_len = false;
    for v in a {
        let (v, m) = v.clone().unmark();
        marked |= m;
        if !v.is_known() {
            unknown_len = true;
        }
        args.push(v);
    }
    if unknown_len {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let lists: Vec<Vec<Value>> = args.iter().map(|v| elems(v).to_vec()).collect();
    let total: usize = lists.iter().map(Vec::len).product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; lists.len()];
    for _ in 0..total {
        let row: Vec<Value> = idx
            .iter()
            .enumerate()
            .map(|(j, &n)| {
                let v = lists[j][n].clone();
                convert(&v, &sub[j]).unwrap_or(v)
            })
            .collect();
        out.push(Value::tuple(row));
        for j in (0..idx.len()).rev() {
            idx[j] += 1;
            if idx[j] < lists[j].len() {
                break;
            }
            idx[j] = 0;
        }
    }
    Ok(if ret.is_list() {
        Value::list(ety, out)
    } else {
        Value::set(ety, out)
    }
    .mark(marked))
}

fn slice_indexes(a: &[Value]) -> Result<(usize, usize, bool), FuncError> {
    let (list, _) = a[0].clone().unmark();
    let len = match list.ty() {
        Type::Tuple(ts) => Some(ts.len()),
        _ => list.len(),
    };
    let mut start = None;
    let mut end = None;
    if a[1].is_known() {
        let s0 =
            int(&a[1], 1).map_err(|e| arg_err(1, format!("invalid start index: {}", e.msg)))?;
        if s0 < 0 {
            return Err(arg_err(1, "start index must not be less than zero"));
        }
        if len.is_some_and(|l| s0 as usize > l) {
            return Err(arg_err(
                1,
                "start index must not be greater than the length of the list",
            ));
        }
        start = Some(s0 as usize);
    }
    if a[2].is_known() {
        let e0 = int(&a[2], 2).map_err(|e| arg_err(2, format!("invalid end index: {}", e.msg)))?;
        if e0 < 0 {
            return Err(arg_err(2, "end index must not be less than zero"));
        }
        if len.is_some_and(|l| e0 as usize > l) {
            return Err(arg_err(
                2,
                "end index must not be greater than the length of the list",
            ));
        }
        end = Some(e0 as usize);
    }
    if let (Some(s0), Some(e0)) = (start, end) {
        if s0 > e0 {
            return Err(arg_err(1, "start index must not be greater than end index"));
        }
    }
    Ok((
        start.unwrap_or(0),
        end.unwrap_or(0),
        start.is_some() && end.is_some(),
    ))
}

fn slice_ret(a: &[Value]) -> Result<Type, FuncError> {
    let t = a[0].ty();
    if t.is_set() {
        return Err(arg_err(0, "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important"));
    }
    if !t.is_list() && !t.is_tuple() {
        return Err(arg_err(0, "must be a list or tuple value"));
    }
    let (s0, e0, known) = slice_indexes(a)?;
    match t {
        Type::Tuple(ts) if known => Ok(Type::Tuple(ts[s0..e0].to_vec())),
        Type::Tuple(_) => Ok(Type::Dynamic),
        other => Ok(other),
    }
}

fn slice(a: &[Value], ret: &Type) -> FResult {
    let (list, marked) = a[0].clone().unmark();
    if *ret == Type::Dynamic {
        return Ok(Value::dynamic().mark(marked));
    }
    if !list.is_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let (s0, e0, _) = slice_indexes(a)?;
    let xs = elems(&list)[s0..e0].to_vec();
    Ok(match ret {
        Type::Tuple(_) => Value::tuple(xs),
        _ => Value::list(ret.element().cloned().unwrap_or(Type::Dynamic), xs),
    }
    .mark(marked))
}

fn sum(a: &[Value]) -> FResult {
    let t = a[0].ty();
    if !(t.is_collection() || t.is_tuple() || t.is_object()) {
        return Err(arg_err(0, "cannot sum noniterable"));
    }
    if a[0].is_empty() {
        return Err(arg_err(0, "cannot sum an empty list"));
    }
    if !t.is_list() && !t.is_set() && !t.is_tuple() {
        return Err(arg_err(
            0,
            format!(
                "argument must be list, set, or tuple. Received {}",
                t.friendly()
            ),
        ));
    }
    if !a[0].is_wholly_known() {
        return Ok(Value::unknown(Type::Number));
    }
    let bad = || arg_err(0, "argument must be list, set, or tuple of number values");
    let mut total: Option<Number> = None;
    for v in elems(&a[0]) {
        if v.is_null() {
            return Err(bad());
        }
        let n = convert(v, &Type::Number).map_err(|_| bad())?;
        let n = n.as_number().cloned().unwrap_or_else(Number::zero);
        total = Some(match total {
            None => n,
            Some(t) => t
                .add(&n)
                .map_err(|_| err("can't compute sum of opposing infinities"))?,
        });
    }
    Ok(Value::number(total.unwrap_or_else(Number::zero)))
}

fn transpose(a: &[Value], ret: &Type) -> FResult {
    if !a[0].is_wholly_known() {
        return Ok(Value::unknown(ret.clone()));
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, list) in a[0].entries().into_iter().flatten() {
        if list.is_null() {
            return Err(err("input must not contain null list"));
        }
        for v in elems(list) {
            if v.is_null() {
                return Err(err("input list must not contain null string"));
            }
            let e = out.entry(s(v).to_string()).or_default();
            e.push(k.clone());
            e.sort();
        }
    }
    Ok(Value::map(
        Type::list(Type::String),
        out.into_iter().map(|(k, v)| (k, string_list(v))).collect(),
    ))
}

fn values_ret(a: &[Value]) -> Result<Type, FuncError> {
    match a[0].ty() {
        Type::Map(e) => Ok(Type::list((*e).clone())),
        Type::Object(attrs, _) => Ok(Type::Tuple(attrs.values().cloned().collect())),
        _ => Err(err("values() requires a map as the first argument")),
    }
}

fn values(a: &[Value], ret: &Type) -> FResult {
    let (m, marked) = a[0].clone().unmark();
    if !m.is_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let xs: Vec<Value> = m
        .entries()
        .map(|e| e.values().cloned().collect())
        .unwrap_or_default();
    Ok(match ret {
        Type::Tuple(_) => Value::tuple(xs),
        _ => Value::list(ret.element().cloned().unwrap_or(Type::Dynamic), xs),
    }
    .mark(marked))
}

fn zipmap_ret(a: &[Value]) -> Result<Type, FuncError> {
    let vt = a[1].ty();
    match &vt {
        Type::List(e) => Ok(Type::map((**e).clone())),
        Type::Tuple(ts) => {
            if !a[0].is_wholly_known() {
                return Ok(Type::Dynamic);
            }
            let keys = elems(&a[0]);
            if keys.len() != ts.len() {
                return Err(err(format!(
                    "number of keys ({}) does not match number of values ({})",
                    keys.len(),
                    ts.len()
                )));
            }
            let mut attrs = BTreeMap::new();
            for (i, k) in keys.iter().enumerate() {
                if k.is_null() {
                    return Err(err(format!("keys list has null value at index {i}")));
                }
                attrs.insert(s(k).to_string(), ts[i].clone());
            }
            Ok(Type::object(attrs))
        }
        _ => Err(err("values argument must be a list or tuple value")),
    }
}

fn zipmap(a: &[Value], ret: &Type) -> FResult {
    let (keys, km) = a[0].clone().unmark();
    let (vals, vm) = a[1].clone().unmark();
    let mut marked = km || vm;
    if !keys.is_wholly_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    if !vals.is_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let (ks, vs) = (elems(&keys), elems(&vals));
    if ks.len() != vs.len() {
        return Err(err(format!(
            "number of keys ({}) does not match number of values ({})",
            ks.len(),
            vs.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in ks.iter().zip(vs) {
        let (k, m) = k.clone().unmark();
        marked |= m;
        out.insert(s(&k).to_string(), v.clone());
    }
    Ok(match ret {
        Type::Map(e) => Value::map((**e).clone(), out),
        _ => Value::object(out),
    }
    .mark(marked))
}

fn chunklist(a: &[Value], ret: &Type) -> FResult {
    let (list, lm) = a[0].clone().unmark();
    let (size, sm) = a[1].clone().unmark();
    let marked = lm || sm;
    let n = int(&size, 1).map_err(|e| err(format!("invalid size: {}", e.msg)))?;
    if n < 0 {
        return Err(err("the size argument must be positive"));
    }
    let inner = ret.element().cloned().unwrap_or(Type::Dynamic);
    if !list.is_known() {
        return Ok(Value::unknown(ret.clone()).mark(marked));
    }
    let xs = elems(&list);
    if xs.is_empty() {
        return Ok(Value::list(inner, Vec::new()).mark(marked));
    }
    let ety = inner.element().cloned().unwrap_or(Type::Dynamic);
    let chunks: Vec<Value> = if n == 0 {
        vec![list.clone()]
    } else {
        xs.chunks(n as usize)
            .map(|c| Value::list(ety.clone(), c.to_vec()))
            .collect()
    };
    Ok(Value::list(inner, chunks).mark(marked))
}

fn concat_ret(a: &[Value]) -> Result<Type, FuncError> {
    if a.is_empty() {
        return Err(err("at least one argument is required"));
    }
    if a.iter().all(|v| v.ty().is_list()) {
        if let Some(t) = unify(&a.iter().map(Value::ty).collect::<Vec<_>>(), true) {
            return Ok(t);
        }
    }
    let mut etys = Vec::new();
    for (i, v) in a.iter().enumerate() {
        match v.ty() {
            Type::Tuple(ts) => etys.extend(ts),
            Type::List(e) => {
                if !v.is_known() {
                    return Ok(Type::Dynamic);
                }
                etys.extend(std::iter::repeat_n((*e).clone(), v.len().unwrap_or(0)));
            }
            other => {
                return Err(arg_err(
                    i,
                    format!(
                        "all arguments must be lists or tuples; got {}",
                        other.friendly()
                    ),
                ))
            }
        }
    }
    Ok(Type::Tuple(etys))
}

fn concat(a: &[Value], ret: &Type) -> FResult {
    let mut out = Vec::new();
    let mut marked = false;
    for (i, v) in a.iter().enumerate() {
        let v = if ret.is_list() {
            convert(v, ret).map_err(|e| arg_err(i, e))?
        } else {
            v.clone()
        };
        let (v, m) = v.unmark();
        marked |= m;
        if !v.is_known() {
            return Ok(Value::unknown(ret.clone()).mark(marked));
        }
        out.extend(elems(&v).iter().cloned());
    }
    Ok(match ret {
        Type::List(e) => Value::list((**e).clone(), out),
        _ => Value::tuple(out),
    }
    .mark(marked))
}

pub fn register(r: &mut Registry) {
    r.add(Func::new(
        "length",
        vec![p("value", any()).dynamic().unknown().marked()],
        stat(Type::Number),
        |a, _, _| length(a),
    ));
    r.add(Func::new(
        "alltrue",
        vec![p("list", Type::list(Type::Bool))],
        stat(Type::Bool),
        |a, _, _| alltrue(a),
    ));
    r.add(Func::new(
        "anytrue",
        vec![p("list", Type::list(Type::Bool))],
        stat(Type::Bool),
        |a, _, _| anytrue(a),
    ));
    r.add(
        Func::new(
            "coalesce",
            vec![],
            Ret::Dynamic(coalesce_ret),
            |a, ret, _| coalesce(a, ret),
        )
        .var(p("vals", any()).unknown().dynamic().null()),
    );
    r.add(
        Func::new(
            "coalescelist",
            vec![],
            Ret::Dynamic(coalescelist_ret),
            |a, ret, _| coalescelist(a, ret),
        )
        .var(p("vals", any()).unknown().dynamic().null()),
    );
    r.add(Func::new(
        "compact",
        vec![p("list", Type::list(Type::String))],
        stat(Type::list(Type::String)),
        |a, ret, _| compact(a, ret),
    ));
    r.add(Func::new(
        "contains",
        vec![p("list", any()), p("value", any())],
        stat(Type::Bool),
        |a, _, _| contains(a),
    ));
    r.add(Func::new(
        "distinct",
        vec![p("list", Type::list(any()))],
        Ret::Dynamic(|a| Ok(a[0].ty())),
        |a, ret, _| distinct(a, ret),
    ));
    r.add(
        Func::new(
            "element",
            vec![p("list", any()).marked(), p("index", Type::Number)],
            Ret::Dynamic(element_ret),
            |a, ret, _| element(a, ret),
        )
        .no_refine(),
    );
    r.add(Func::new(
        "flatten",
        vec![p("list", any()).marked()],
        Ret::Dynamic(flatten_ret),
        |a, ret, _| flatten(a, ret),
    ));
    r.add(Func::new(
        "index",
        vec![p("list", any()), p("value", any())],
        stat(Type::Number),
        |a, _, _| index_fn(a),
    ));
    r.add(Func::new(
        "keys",
        vec![p("inputMap", any()).unknown().marked()],
        Ret::Dynamic(keys_ret),
        |a, ret, _| keys(a, ret),
    ));
    r.add(
        Func::new(
            "lookup",
            vec![
                p("inputMap", any()).marked().unknown(),
                p("key", Type::String).marked().unknown(),
            ],
            Ret::Dynamic(lookup_ret),
            |a, ret, _| lookup(a, ret),
        )
        .var(p("default", any()).unknown().dynamic().null().marked())
        .no_refine(),
    );
    r.add(Func::new(
        "matchkeys",
        vec![
            p("values", Type::list(any())),
            p("keys", Type::list(any())),
            p("searchset", Type::list(any())),
        ],
        Ret::Dynamic(|a| {
            unify(&[a[1].ty(), a[2].ty()], true)
                .ok_or_else(|| err("keys and searchset must be of the same type"))?;
            Ok(a[0].ty())
        }),
        |a, ret, _| matchkeys(a, ret),
    ));
    r.add(
        Func::new("merge", vec![], Ret::Dynamic(merge_ret), |a, ret, _| {
            merge(a, ret)
        })
        .var(p("maps", any()).dynamic().null().marked()),
    );
    r.add(
        Func::new(
            "one",
            vec![p("list", any())],
            Ret::Dynamic(one_ret),
            |a, ret, _| one(a, ret),
        )
        .no_refine(),
    );
    r.add(
        Func::new(
            "range",
            vec![],
            stat(Type::list(Type::Number)),
            |a, _, _| range(a),
        )
        .var(p("params", Type::Number)),
    );
    r.add(Func::new(
        "reverse",
        vec![p("list", any()).marked()],
        Ret::Dynamic(reverse_ret),
        |a, ret, _| reverse(a, ret),
    ));
    r.add(
        Func::new(
            "setunion",
            vec![p("first_set", Type::set(any())).dynamic()],
            Ret::Dynamic(set_ret),
            |a, ret, _| {
                set_op(
                    a,
                    ret,
                    |mut x, y| {
                        x.extend(y.iter().cloned());
                        x
                    },
                    true,
                )
            },
        )
        .var(p("other_sets", Type::set(any())).dynamic()),
    );
    r.add(
        Func::new(
            "setintersection",
            vec![p("first_set", Type::set(any())).dynamic()],
            Ret::Dynamic(set_ret),
            |a, ret, _| {
                set_op(
                    a,
                    ret,
                    |x, y| x.into_iter().filter(|v| member(y, v)).collect(),
                    false,
                )
            },
        )
        .var(p("other_sets", Type::set(any())).dynamic()),
    );
    r.add(Func::new(
        "setsubtract",
        vec![
            p("a", Type::set(any())).dynamic(),
            p("b", Type::set(any())).dynamic(),
        ],
        Ret::Dynamic(set_ret),
        |a, ret, _| {
            set_op(
                a,
                ret,
                |x, y| x.into_iter().filter(|v| !member(y, v)).collect(),
                false,
            )
        },
    ));
    r.add(
        Func::new(
            "setproduct",
            vec![],
            Ret::Dynamic(setproduct_ret),
            |a, ret, _| setproduct(a, ret),
        )
        .var(p("sets", any()).marked().unknown()),
    );
    r.add(Func::new(
        "slice",
        vec![
            p("list", any()).marked(),
            p("start_index", Type::Number),
            p("end_index", Type::Number),
        ],
        Ret::Dynamic(slice_ret),
        |a, ret, _| slice(a, ret),
    ));
    r.add(Func::new(
        "sum",
        vec![p("list", any())],
        stat(Type::Number),
        |a, _, _| sum(a),
    ));
    r.add(Func::new(
        "transpose",
        vec![p("values", Type::map(Type::list(Type::String)))],
        stat(Type::map(Type::list(Type::String))),
        |a, ret, _| transpose(a, ret),
    ));
    r.add(Func::new(
        "values",
        vec![p("mapping", any()).marked()],
        Ret::Dynamic(values_ret),
        |a, ret, _| values(a, ret),
    ));
    r.add(Func::new(
        "zipmap",
        vec![
            p("keys", Type::list(Type::String)).marked(),
            p("values", any()).marked(),
        ],
        Ret::Dynamic(zipmap_ret),
        |a, ret, _| zipmap(a, ret),
    ));
    r.add(Func::new(
        "chunklist",
        vec![
            p("list", Type::list(any())).marked(),
            p("size", Type::Number).marked(),
        ],
        Ret::Dynamic(|a| Ok(Type::list(a[0].ty()))),
        |a, ret, _| chunklist(a, ret),
    ));
    r.add(
        Func::new("concat", vec![], Ret::Dynamic(concat_ret), |a, ret, _| {
            concat(a, ret)
        })
        .var(p("seqs", any()).marked()),
    );
    for name in ["list", "map"] {
        r.add(
            Func::new(
                name,
                vec![],
                Ret::Dynamic(if name == "list" {
                    |_| Err(err("the \"list\" function was deprecated in Terraform v0.12 and is no longer available; use tolist([ ... ]) syntax to write a literal list"))
                } else {
                    |_| Err(err("the \"map\" function was deprecated in Terraform v0.12 and is no longer available; use tomap({ ... }) syntax to write a literal map"))
                }),
                |_, _, _| Ok(Value::dynamic()),
            )
            .var(p("vals", any()).unknown().dynamic().null()),
        );
    }
    let _ = refine_len;
}
