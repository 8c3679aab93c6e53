//! Type conversion and sensitivity: `tostring`, `tonumber`, `tobool`, `tolist`, `toset`,
//! `tomap`, `sensitive`, `nonsensitive`, `issensitive`, `ephemeralasnull`.

use super::*;
use crate::lang::convert::{can_convert, mismatch};
use crate::lang::value::go_quote;

fn to_ret(want: &Type, a: &[Value]) -> Result<Type, FuncError> {
    let got = a[0].ty();
    if got == *want || can_convert(&got, want, true) {
        return Ok(want.clone());
    }
    Err(arg_err(
        0,
        match (&got, want) {
            (Type::Tuple(_), Type::Tuple(_)) => format!(
                "incompatible tuple type for conversion: {}",
                mismatch(&got, want)
            ),
            (Type::Object(..), Type::Object(..)) => format!(
                "incompatible object type for conversion: {}",
                mismatch(&got, want)
            ),
            _ => format!(
                "cannot convert {} to {}",
                got.friendly(),
                want.friendly_constraint()
            ),
        },
    ))
}

fn to_impl(want: &Type, a: &[Value], ret: &Type) -> FResult {
    if !a[0].is_known() {
        return Ok(Value::unknown(ret.clone()).mark(a[0].sensitive));
    }
    convert(&a[0], ret).map_err(|_| {
        let (val, marked) = a[0].clone().unmark_deep();
        let got = val.ty();
        arg_err(
            0,
            if marked {
                format!(
                    "cannot convert this sensitive {} to {}",
                    got.friendly(),
                    want.friendly_constraint()
                )
            } else if got == Type::String && *want == Type::Bool {
                format!(
                    "cannot convert {} to bool; only the strings \"true\" or \"false\" are allowed",
                    val.as_str().map(go_quote).unwrap_or_else(|| "string".into())
                )
            } else if got == Type::String && *want == Type::Number {
                format!(
                    "cannot convert {} to number; given string must be a decimal representation of a number",
                    val.as_str().map(go_quote).unwrap_or_else(|| "string".into())
                )
            } else {
                format!(
                    "cannot convert {} to {}",
                    got.friendly(),
                    want.friendly_constraint()
                )
            },
        )
    })
}

fn all() -> Param {
    p("v", Type::Dynamic).null().marked().dynamic().unknown()
}

pub fn register(r: &mut Registry) {
    macro_rules! to_fn {
        ($name:expr, $ty:expr) => {
            r.add(
                Func::new(
                    $name,
                    vec![all()],
                    Ret::Dynamic(|a| to_ret(&$ty, a)),
                    |a, ret, _| to_impl(&$ty, a, ret),
                )
                .no_refine(),
            );
        };
    }
    to_fn!("tostring", Type::String);
    to_fn!("tonumber", Type::Number);
    to_fn!("tobool", Type::Bool);
    to_fn!("tolist", Type::list(Type::Dynamic));
    to_fn!("toset", Type::set(Type::Dynamic));
    to_fn!("tomap", Type::map(Type::Dynamic));
    let val = || {
        p("value", Type::Dynamic)
            .unknown()
            .null()
            .marked()
            .dynamic()
    };
    r.add(
        Func::new(
            "sensitive",
            vec![val()],
            Ret::Dynamic(|a| Ok(a[0].ty())),
            |a, _, _| Ok(a[0].clone().mark(true)),
        )
        .no_refine(),
    );
    r.add(
        Func::new(
            "nonsensitive",
            vec![val()],
            Ret::Dynamic(|a| Ok(a[0].ty())),
            |a, _, _| Ok(a[0].clone().unmark().0),
        )
        .no_refine(),
    );
    r.add(
        Func::new("issensitive", vec![val()], stat(Type::Bool), |a, _, _| {
            Ok(if a[0].sensitive {
                Value::bool(true)
            } else if !a[0].is_known() {
                Value::unknown(Type::Bool)
            } else {
                Value::bool(false)
            })
        })
        .no_refine(),
    );
    // runform has no ephemeral values: the value passes through.
    r.add(
        Func::new(
            "ephemeralasnull",
            vec![val()],
            Ret::Dynamic(|a| Ok(a[0].ty())),
            |a, _, _| Ok(a[0].clone()),
        )
        .no_refine(),
    );
}
