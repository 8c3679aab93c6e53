//! The operators, as go-cty's stdlib defines them (HCL calls these for `+`, `==`, `&&`...).

use super::*;
use crate::lang::number::Number;
use crate::lang::value::equals;

fn num(v: &Value) -> &Number {
    v.as_number().expect("operands are converted to numbers")
}

fn arith(r: &mut Registry, name: &'static str, op: Impl) {
    r.add(Func::new(
        name,
        vec![
            p("a", Type::Number).dynamic(),
            p("b", Type::Number).dynamic(),
        ],
        stat(Type::Number),
        op,
    ));
}

fn compare(r: &mut Registry, name: &'static str, op: Impl) {
    r.add(Func::new(
        name,
        vec![
            p("a", Type::Number).unknown().dynamic().marked(),
            p("b", Type::Number).unknown().dynamic().marked(),
        ],
        stat(Type::Bool),
        op,
    ));
}

fn logic(r: &mut Registry, name: &'static str, op: Impl) {
    r.add(Func::new(
        name,
        vec![
            p("a", Type::Bool).dynamic().marked(),
            p("b", Type::Bool).dynamic().marked(),
        ],
        stat(Type::Bool),
        op,
    ));
}

fn nan(e: crate::lang::number::NumError) -> FuncError {
    err(e.to_string())
}

/// `<` with go-cty's rules for unknowns: known when the bounds settle it (all bounds treated
/// as exclusive).
pub fn less_than(a: &Value, b: &Value) -> Value {
    let marked = a.sensitive || b.sensitive;
    let (a, _) = a.clone().unmark();
    let (b, _) = b.clone().unmark();
    if a.is_known() && b.is_known() {
        return Value::bool(num(&a).cmp(num(&b)) == std::cmp::Ordering::Less).mark(marked);
    }
    let (alo, ahi) = crate::lang::eval::number_bounds(&a);
    let (blo, bhi) = crate::lang::eval::number_bounds(&b);
    let inf = |neg| Number::infinity(neg);
    let amax = ahi.map(|x| x.0).unwrap_or_else(|| inf(false));
    let bmin = blo.map(|x| x.0).unwrap_or_else(|| inf(true));
    if amax.cmp(&bmin) == std::cmp::Ordering::Less {
        return Value::bool(true).mark(marked);
    }
    let amin = alo.map(|x| x.0).unwrap_or_else(|| inf(true));
    let bmax = bhi.map(|x| x.0).unwrap_or_else(|| inf(false));
    if amin.cmp(&bmax) == std::cmp::Ordering::Greater {
        return Value::bool(false).mark(marked);
    }
    Value::unknown(Type::Bool).refine_not_null().mark(marked)
}

/// `a || b` on bools (unknown if either is unknown, as in go-cty 1.16).
fn or(a: &Value, b: &Value) -> Value {
    let marked = a.sensitive || b.sensitive;
    match (a.as_bool(), b.as_bool()) {
        (Some(x), Some(y)) => Value::bool(x || y),
        _ => Value::unknown(Type::Bool).refine_not_null(),
    }
    .mark(marked)
}

fn and(a: &Value, b: &Value) -> Value {
    let marked = a.sensitive || b.sensitive;
    match (a.as_bool(), b.as_bool()) {
        (Some(x), Some(y)) => Value::bool(x && y),
        _ => Value::unknown(Type::Bool).refine_not_null(),
    }
    .mark(marked)
}

pub fn register(r: &mut Registry) {
    let any = || p("a", Type::Dynamic).unknown().dynamic().null().marked();
    r.add(Func::new(
        "equal",
        vec![any(), Param { name: "b", ..any() }],
        stat(Type::Bool),
        |a, _, _| Ok(equals(&a[0], &a[1])),
    ));
    r.add(Func::new(
        "notequal",
        vec![any(), Param { name: "b", ..any() }],
        stat(Type::Bool),
        |a, _, _| {
            let e = equals(&a[0], &a[1]);
            Ok(match e.as_bool() {
                Some(b) => Value::bool(!b).mark(e.sensitive),
                None => e,
            })
        },
    ));
    logic(r, "and", |a, _, _| Ok(and(&a[0], &a[1])));
    logic(r, "or", |a, _, _| Ok(or(&a[0], &a[1])));
    r.add(Func::new(
        "not",
        vec![p("val", Type::Bool).dynamic().marked()],
        stat(Type::Bool),
        |a, _, _| Ok(Value::bool(!a[0].as_bool().unwrap_or(false)).mark(a[0].sensitive)),
    ));
    compare(r, "lessthan", |a, _, _| Ok(less_than(&a[0], &a[1])));
    compare(r, "greaterthan", |a, _, _| Ok(less_than(&a[1], &a[0])));
    compare(r, "lessthanorequal", |a, _, _| {
        Ok(or(&less_than(&a[0], &a[1]), &equals(&a[0], &a[1])))
    });
    compare(r, "greaterthanorequal", |a, _, _| {
        Ok(or(&less_than(&a[1], &a[0]), &equals(&a[0], &a[1])))
    });
    arith(r, "add", |a, _, _| {
        Ok(Value::number(num(&a[0]).add(num(&a[1])).map_err(nan)?))
    });
    arith(r, "subtract", |a, _, _| {
        Ok(Value::number(num(&a[0]).sub(num(&a[1])).map_err(nan)?))
    });
    arith(r, "multiply", |a, _, _| {
        Ok(Value::number(num(&a[0]).mul(num(&a[1])).map_err(nan)?))
    });
    arith(r, "divide", |a, _, _| {
        Ok(Value::number(num(&a[0]).div(num(&a[1])).map_err(nan)?))
    });
    arith(r, "modulo", |a, _, _| {
        Ok(Value::number(num(&a[0]).rem(num(&a[1])).map_err(nan)?))
    });
    r.add(Func::new(
        "negate",
        vec![p("num", Type::Number).dynamic().marked()],
        stat(Type::Number),
        |a, _, _| Ok(Value::number(num(&a[0]).neg()).mark(a[0].sensitive)),
    ));
}
