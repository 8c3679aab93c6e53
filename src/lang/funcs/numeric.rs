//! Numeric functions: `abs`, `ceil`, `floor`, `log`, `pow`, `min`, `max`, `signum`,
//! `parseint`.

use super::*;
use crate::lang::number::Number;
use num_bigint::BigInt;

fn num(v: &Value) -> &Number {
    v.as_number().expect("converted to a number")
}

fn float_result(f: f64) -> FResult {
    Number::from_f64(f)
        .map(Value::number)
        .ok_or_else(|| err("the result is not a number (NaN)"))
}

/// Go's `big.Int.SetString(s, base)`: an optional sign and digits of the base (letters are
/// case-insensitive up to base 36; from 37, `a`-`z` are 10-35 and `A`-`Z` 36-61).
fn parse_int(s: &str, base: u32) -> Option<BigInt> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n = BigInt::from(0);
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => return None,
        };
        if d >= base {
            return None;
        }
        n = n * base + d;
    }
    Some(if neg { -n } else { n })
}

fn extreme(a: &[Value], pick_less: bool) -> FResult {
    if a.is_empty() {
        return Err(err("must pass at least one number"));
    }
    let mut best = Number::infinity(!pick_less);
    for v in a {
        let n = num(v);
        let better = if pick_less {
            n.cmp(&best).is_lt()
        } else {
            n.cmp(&best).is_gt()
        };
        if better {
            best = n.clone();
        }
    }
    Ok(Value::number(best))
}

pub fn register(r: &mut Registry) {
    let n = || Type::Number;
    r.add(Func::new(
        "abs",
        vec![p("num", n()).dynamic().marked()],
        stat(n()),
        |a, _, _| Ok(Value::number(num(&a[0]).abs()).mark(a[0].sensitive)),
    ));
    r.add(Func::new(
        "ceil",
        vec![p("num", n())],
        stat(n()),
        |a, _, _| Ok(Value::number(num(&a[0]).ceil())),
    ));
    r.add(Func::new(
        "floor",
        vec![p("num", n())],
        stat(n()),
        |a, _, _| Ok(Value::number(num(&a[0]).floor())),
    ));
    r.add(Func::new(
        "log",
        vec![p("num", n()), p("base", n())],
        stat(n()),
        |a, _, _| float_result(num(&a[0]).to_f64().ln() / num(&a[1]).to_f64().ln()),
    ));
    r.add(Func::new(
        "pow",
        vec![p("num", n()), p("power", n())],
        stat(n()),
        |a, _, _| float_result(num(&a[0]).to_f64().powf(num(&a[1]).to_f64())),
    ));
    r.add(Func::new(
        "signum",
        vec![p("num", n())],
        stat(n()),
        |a, _, _| {
            let i = int(&a[0], 0)?;
            Ok(Value::int(i.signum()))
        },
    ));
    r.add(
        Func::new("min", vec![], stat(n()), |a, _, _| extreme(a, true))
            .var(p("numbers", n()).dynamic()),
    );
    r.add(
        Func::new("max", vec![], stat(n()), |a, _, _| extreme(a, false))
            .var(p("numbers", n()).dynamic()),
    );
    r.add(Func::new(
        "parseint",
        vec![p("number", Type::Dynamic), p("base", n())],
        Ret::Dynamic(|a| {
            if a[0].ty() != Type::String {
                return Err(arg_err(
                    0,
                    format!(
                        "first argument must be a string, not {}",
                        a[0].ty().friendly()
                    ),
                ));
            }
            Ok(Type::Number)
        }),
        |a, _, _| {
            let base = int(&a[1], 1)?;
            if !(2..=62).contains(&base) {
                return Err(arg_err(
                    1,
                    "base must be a whole number between 2 and 62 inclusive",
                ));
            }
            let text = s(&a[0]);
            let v = parse_int(text, base as u32).ok_or_else(|| {
                arg_err(0, format!("cannot parse {text:?} as a base {base} integer"))
            })?;
            Ok(Value::number(Number::from_bigint(&v)))
        },
    ));
}
