//! Values with Terraform's semantics: every value has a type, null is typed, unknown is a
//! variant with a type (and refinements: not-null, a string prefix, number bounds, collection
//! length bounds), and the `sensitive` mark rides on any value at any depth.

use super::number::Number;
use super::types::Type;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What is known about an unknown value (cty's refinements).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refinement {
    pub not_null: bool,
    /// Strings: a known prefix.
    pub prefix: String,
    /// Numbers: bounds and whether each is inclusive.
    pub min: Option<(Number, bool)>,
    pub max: Option<(Number, bool)>,
    /// Collections: length bounds.
    pub min_len: usize,
    pub max_len: Option<usize>,
}

impl Refinement {
    pub fn not_null() -> Refinement {
        Refinement {
            not_null: true,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug)]
pub enum V {
    Null(Type),
    /// `Unknown(Dynamic, None)` is cty's `DynamicVal`, which is never refined.
    Unknown(Type, Option<Box<Refinement>>),
    Bool(bool),
    Number(Number),
    String(String),
    /// Element type and elements.
    List(Type, Vec<Value>),
    /// Element type and elements in cty's order, without duplicates.
    Set(Type, Vec<Value>),
    Map(Type, BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

#[derive(Clone, Debug)]
pub struct Value {
    pub v: V,
    /// The `sensitive` mark on this value (marks on nested values stay with them).
    pub sensitive: bool,
}

impl From<V> for Value {
    fn from(v: V) -> Value {
        Value {
            v,
            sensitive: false,
        }
    }
}

/// Strings are NFC-normalised as they enter, so equal text is equal bytes (cty's rule).
pub fn nfc(s: &str) -> String {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s.to_string()
    } else {
        s.nfc().collect()
    }
}

impl Value {
    pub fn null(t: Type) -> Value {
        V::Null(t).into()
    }
    pub fn null_dynamic() -> Value {
        Value::null(Type::Dynamic)
    }
    /// An unknown value of type `t` with nothing else known.
    pub fn unknown(t: Type) -> Value {
        V::Unknown(t, None).into()
    }
    /// cty's `DynamicVal`.
    pub fn dynamic() -> Value {
        Value::unknown(Type::Dynamic)
    }
    pub fn unknown_not_null(t: Type) -> Value {
        Value::unknown(t).refine_not_null()
    }
    pub fn bool(b: bool) -> Value {
        V::Bool(b).into()
    }
    pub fn number(n: Number) -> Value {
        V::Number(n).into()
    }
    pub fn int(i: i64) -> Value {
        Value::number(Number::from_i64(i))
    }
    pub fn string(s: impl AsRef<str>) -> Value {
        V::String(nfc(s.as_ref())).into()
    }
    /// A string known to be NFC already.
    pub fn string_raw(s: String) -> Value {
        V::String(s).into()
    }
    pub fn list(ety: Type, items: Vec<Value>) -> Value {
        V::List(ety, items).into()
    }
    pub fn tuple(items: Vec<Value>) -> Value {
        V::Tuple(items).into()
    }
    pub fn object(attrs: BTreeMap<String, Value>) -> Value {
        V::Object(attrs).into()
    }
    pub fn empty_object() -> Value {
        Value::object(BTreeMap::new())
    }
    pub fn map(ety: Type, items: BTreeMap<String, Value>) -> Value {
        V::Map(ety, items).into()
    }

    /// A set: elements deduplicated and sorted as cty sorts them; marks on elements move to
    /// the whole set (sets cannot hold marked elements).
    pub fn set(ety: Type, items: Vec<Value>) -> Value {
        let mut sensitive = false;
        let mut elems: Vec<Value> = Vec::with_capacity(items.len());
        for it in items {
            let (it, m) = it.unmark_deep();
            sensitive |= m;
            if !elems.iter().any(|e| e.equivalent(&it)) {
                elems.push(it);
            }
        }
        elems.sort_by(set_order);
        Value {
            v: V::Set(ety, elems),
            sensitive,
        }
    }

    pub fn mark(mut self, sensitive: bool) -> Value {
        self.sensitive |= sensitive;
        self
    }

    pub fn ty(&self) -> Type {
        match &self.v {
            V::Null(t) | V::Unknown(t, _) => t.clone(),
            V::Bool(_) => Type::Bool,
            V::Number(_) => Type::Number,
            V::String(_) => Type::String,
            V::List(e, _) => Type::list(e.clone()),
            V::Set(e, _) => Type::set(e.clone()),
            V::Map(e, _) => Type::map(e.clone()),
            V::Tuple(items) => Type::Tuple(items.iter().map(Value::ty).collect()),
            V::Object(attrs) => {
                Type::object(attrs.iter().map(|(k, v)| (k.clone(), v.ty())).collect())
            }
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.v, V::Null(_))
    }
    pub fn is_known(&self) -> bool {
        !matches!(self.v, V::Unknown(..))
    }
    pub fn is_dynamic_unknown(&self) -> bool {
        matches!(self.v, V::Unknown(Type::Dynamic, _))
    }

    /// Known all the way down.
    pub fn is_wholly_known(&self) -> bool {
        match &self.v {
            V::Unknown(..) => false,
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => xs.iter().all(Value::is_wholly_known),
            V::Map(_, m) | V::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// Marked here or anywhere inside.
    pub fn contains_marked(&self) -> bool {
        self.sensitive
            || match &self.v {
                V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
                    xs.iter().any(Value::contains_marked)
                }
                V::Map(_, m) | V::Object(m) => m.values().any(Value::contains_marked),
                _ => false,
            }
    }

    /// The value without any marks, and whether it had one anywhere.
    pub fn unmark_deep(mut self) -> (Value, bool) {
        let mut had = std::mem::take(&mut self.sensitive);
        match &mut self.v {
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
                for x in xs.iter_mut() {
                    let (y, m) = std::mem::replace(x, Value::null_dynamic()).unmark_deep();
                    *x = y;
                    had |= m;
                }
            }
            V::Map(_, m) | V::Object(m) => {
                for x in m.values_mut() {
                    let (y, mk) = std::mem::replace(x, Value::null_dynamic()).unmark_deep();
                    *x = y;
                    had |= mk;
                }
            }
            _ => {}
        }
        (self, had)
    }

    /// The top-level mark removed.
    pub fn unmark(mut self) -> (Value, bool) {
        let m = std::mem::take(&mut self.sensitive);
        (self, m)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            V::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match &self.v {
            V::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match &self.v {
            V::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The refinement of an unknown value (`None` for known values and unrefined unknowns).
    pub fn refinement(&self) -> Option<&Refinement> {
        match &self.v {
            V::Unknown(_, r) => r.as_deref(),
            _ => None,
        }
    }

    /// Definitely not null: known non-null, or an unknown refined as not-null.
    pub fn definitely_not_null(&self) -> bool {
        match &self.v {
            V::Null(_) => false,
            V::Unknown(_, r) => r.as_ref().is_some_and(|r| r.not_null),
            _ => true,
        }
    }

    /// Refines an unknown value (a no-op on known values and on `DynamicVal`), then collapses
    /// it to a known value where the refinement says exactly what it is.
    pub fn refine(self, f: impl FnOnce(&mut Refinement)) -> Value {
        let sensitive = self.sensitive;
        let V::Unknown(t, r) = self.v else {
            return self;
        };
        if t == Type::Dynamic {
            return Value {
                v: V::Unknown(t, r),
                sensitive,
            };
        }
        let mut r = r.map(|b| *b).unwrap_or_default();
        f(&mut r);
        collapse(t, r).mark(sensitive)
    }

    pub fn refine_not_null(self) -> Value {
        self.refine(|r| r.not_null = true)
    }

    /// Elements of a list, set or tuple.
    pub fn elements(&self) -> Option<&[Value]> {
        match &self.v {
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => Some(xs),
            _ => None,
        }
    }

    /// Attributes of an object or elements of a map.
    pub fn entries(&self) -> Option<&BTreeMap<String, Value>> {
        match &self.v {
            V::Map(_, m) | V::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The number of elements of a known collection or structure.
    pub fn len(&self) -> Option<usize> {
        match &self.v {
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => Some(xs.len()),
            V::Map(_, m) | V::Object(m) => Some(m.len()),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Structural identity (types, unknowns, refinements ignored, marks included): what a
    /// test or a set needs, not `==`.
    pub fn raw_eq(&self, other: &Value) -> bool {
        if self.sensitive != other.sensitive {
            return false;
        }
        match (&self.v, &other.v) {
            (V::Null(a), V::Null(b)) => a == b,
            (V::Unknown(a, _), V::Unknown(b, _)) => a == b,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Number(a), V::Number(b)) => a == b,
            (V::String(a), V::String(b)) => a == b,
            (V::List(ta, a), V::List(tb, b)) | (V::Set(ta, a), V::Set(tb, b)) => {
                ta == tb && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.raw_eq(y))
            }
            (V::Tuple(a), V::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.raw_eq(y))
            }
            (V::Map(ta, a), V::Map(tb, b)) => {
                ta == tb
                    && a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, x), (kb, y))| ka == kb && x.raw_eq(y))
            }
            (V::Object(a), V::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, x), (kb, y))| ka == kb && x.raw_eq(y))
            }
            _ => false,
        }
    }

    /// Set membership: equal and known (two unknowns are never the same element).
    fn equivalent(&self, other: &Value) -> bool {
        matches!(equals(self, other).v, V::Bool(true))
    }

    /// The value as plain JSON when it is wholly known (marks ignored); `None` otherwise.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match &self.v {
            V::Null(_) => J::Null,
            V::Unknown(..) => return None,
            V::Bool(b) => J::Bool(*b),
            V::Number(n) => number_to_json(n),
            V::String(s) => J::String(s.clone()),
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
                J::Array(xs.iter().map(Value::to_json).collect::<Option<Vec<_>>>()?)
            }
            V::Map(_, m) | V::Object(m) => J::Object(
                m.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
        })
    }

    /// JSON with unknowns as null (for `after` in plan JSON, with `after_unknown` beside it).
    pub fn to_json_lossy(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            V::Null(_) | V::Unknown(..) => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Number(n) => number_to_json(n),
            V::String(s) => J::String(s.clone()),
            V::List(_, xs) | V::Set(_, xs) | V::Tuple(xs) => {
                J::Array(xs.iter().map(Value::to_json_lossy).collect())
            }
            V::Map(_, m) | V::Object(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json_lossy()))
                    .collect(),
            ),
        }
    }

    /// A value of the type JSON implies (objects, tuples, numbers, strings, bools, null):
    /// what `jsondecode` gives.
    pub fn from_json(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::null_dynamic(),
            J::Bool(b) => Value::bool(*b),
            J::Number(n) => {
                Value::number(Number::parse(&n.to_string()).unwrap_or_else(Number::zero))
            }
            J::String(s) => Value::string(s),
            J::Array(a) => Value::tuple(a.iter().map(Value::from_json).collect()),
            J::Object(m) => Value::object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// A value of type `t` from JSON (state and API values): numbers from Go ints keep 64 bits
    /// when whole; a mismatch is an error naming the path.
    pub fn from_json_typed(j: &serde_json::Value, t: &Type) -> Result<Value, String> {
        from_json_typed(j, t, "")
    }
}

fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.to_i64() {
        return serde_json::Value::from(i);
    }
    // Numbers beyond i64 keep their exact text (serde_json's arbitrary precision is not on):
    // an f64 that prints the same, else the text as a string would change the type, so the
    // f64 approximation it is.
    serde_json::Number::from_f64(n.to_f64())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

fn from_json_typed(j: &serde_json::Value, t: &Type, at: &str) -> Result<Value, String> {
    use serde_json::Value as J;
    let here = |m: &str| {
        if at.is_empty() {
            m.to_string()
        } else {
            format!("{at}: {m}")
        }
    };
    if j.is_null() {
        return Ok(Value::null(t.clone()));
    }
    Ok(match t {
        Type::Dynamic => Value::from_json(j),
        Type::String => match j {
            J::String(s) => Value::string(s),
            J::Number(n) => Value::string(n.to_string()),
            J::Bool(b) => Value::string(b.to_string()),
            _ => return Err(here("a string is required")),
        },
        Type::Number => match j {
            J::Number(n) => Value::number(
                n.as_i64()
                    .map(Number::from_i64)
                    .or_else(|| Number::parse(&n.to_string()))
                    .unwrap_or_else(Number::zero),
            ),
            J::String(s) => {
                Value::number(Number::parse(s).ok_or_else(|| here("a number is required"))?)
            }
            _ => return Err(here("a number is required")),
        },
        Type::Bool => match j {
            J::Bool(b) => Value::bool(*b),
            J::String(s) if s == "true" || s == "false" => Value::bool(s == "true"),
            _ => return Err(here("a bool is required")),
        },
        Type::List(e) | Type::Set(e) => {
            let J::Array(a) = j else {
                return Err(here("a list is required"));
            };
            let items = a
                .iter()
                .enumerate()
                .map(|(i, x)| from_json_typed(x, e, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            if t.is_set() {
                Value::set((**e).clone(), items)
            } else {
                Value::list((**e).clone(), items)
            }
        }
        Type::Map(e) => {
            let J::Object(m) = j else {
                return Err(here("a map is required"));
            };
            Value::map(
                (**e).clone(),
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), from_json_typed(x, e, &format!("{at}[{k:?}]"))?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        Type::Tuple(ts) => {
            let J::Array(a) = j else {
                return Err(here("a tuple is required"));
            };
            if a.len() != ts.len() {
                return Err(here(&format!(
                    "a tuple of {} elements is required",
                    ts.len()
                )));
            }
            Value::tuple(
                a.iter()
                    .zip(ts)
                    .enumerate()
                    .map(|(i, (x, t))| from_json_typed(x, t, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Object(attrs, _) => {
            let J::Object(m) = j else {
                return Err(here("an object is required"));
            };
            let mut out = BTreeMap::new();
            for (k, at_ty) in attrs.iter() {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                out.insert(
                    k.clone(),
                    match m.get(k) {
                        Some(x) => from_json_typed(x, at_ty, &p)?,
                        None => Value::null(at_ty.clone()),
                    },
                );
            }
            Value::object(out)
        }
    })
}

/// Builds the unknown a refinement describes, or the known value it pins down (cty's
/// `NewValue`): equal inclusive number bounds are that number; an exact length 0 is the empty
/// collection; an exact list length is a list of unknowns; a set of exactly one.
fn collapse(t: Type, r: Refinement) -> Value {
    if r.not_null {
        if let (Some((lo, true)), Some((hi, true))) = (&r.min, &r.max) {
            if lo == hi && t == Type::Number {
                return Value::number(lo.clone());
            }
        }
        if t.is_collection() && Some(r.min_len) == r.max_len {
            let n = r.min_len;
            let ety = t.element().cloned().unwrap_or(Type::Dynamic);
            match (&t, n) {
                (Type::List(_), _) => {
                    return Value::list(ety.clone(), vec![Value::unknown(ety); n]);
                }
                (Type::Set(_), 0) => return Value::set(ety, Vec::new()),
                (Type::Set(_), 1) => return Value::set(ety.clone(), vec![Value::unknown(ety)]),
                (Type::Map(_), 0) => return Value::map(ety, BTreeMap::new()),
                _ => {}
            }
        }
    }
    let trivial = r == Refinement::default();
    V::Unknown(t, (!trivial).then(|| Box::new(r))).into()
}

/// cty's set order: known before unknown before null; strings bytewise, numbers by value,
/// false before true; anything else by its hash string.
pub fn set_order(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (false, true) => return Ordering::Less,
        (true, false) => return Ordering::Greater,
        _ => {}
    }
    match (a.is_known(), b.is_known()) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => return Ordering::Equal,
        _ => {}
    }
    match (&a.v, &b.v) {
        (V::String(x), V::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (V::Number(x), V::Number(y)) => x.cmp(y),
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        _ => hash_string(a).cmp(&hash_string(b)),
    }
}

/// cty's set hash string: `[e;e;]` lists and sets, `<v;v;>` tuples and objects (attributes by
/// name), `{k:v;}` maps, Go-quoted strings, `%.10g` numbers, `?` unknown, `~` null.
pub fn hash_string(v: &Value) -> String {
    let mut out = String::new();
    write_hash(v, &mut out);
    out
}

fn write_hash(v: &Value, out: &mut String) {
    match &v.v {
        V::Unknown(..) => out.push('?'),
        V::Null(_) => out.push('~'),
        V::Number(n) => out.push_str(&format_g10(n)),
        V::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        V::String(s) => out.push_str(&go_quote(s)),
        V::Map(_, m) => {
            out.push('{');
            for (k, x) in m {
                out.push_str(&go_quote(k));
                out.push(':');
                write_hash(x, out);
                out.push(';');
            }
            out.push('}');
        }
        V::List(_, xs) | V::Set(_, xs) => {
            out.push('[');
            for x in xs {
                write_hash(x, out);
                out.push(';');
            }
            out.push(']');
        }
        V::Object(m) => {
            out.push('<');
            for x in m.values() {
                write_hash(x, out);
                out.push(';');
            }
            out.push('>');
        }
        V::Tuple(xs) => {
            out.push('<');
            for x in xs {
                write_hash(x, out);
                out.push(';');
            }
            out.push('>');
        }
    }
}

/// Go's `%.10g` of a number (enough for ordering sets of structures).
fn format_g10(n: &Number) -> String {
    if n.is_inf() {
        return n.to_text();
    }
    let f = n.to_f64();
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    if !(-4..10).contains(&exp) {
        let s = format!("{:.9e}", f);
        // Rust: 1.000000000e21 → Go: 1e+21
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (9 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, f);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Go's `strconv.Quote`: `\a \b \f \n \r \t \v \\ \"` escaped, other control and
/// non-printable characters as `\x`/`\u`/`\U`, printable Unicode kept.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters (Cf), private use, surrogates, noncharacters.
    !matches!(u,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x200b..=0x200f | 0x202a..=0x202e
        | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff
        | 0xfdd0..=0xfdef | 0xfffe | 0xffff | 0xf0000..=0x10ffff)
}

/// `==` with cty's rules: type-exact, unknown where it cannot be decided, marks carried to the
/// result.
pub fn equals(a: &Value, b: &Value) -> Value {
    if a.contains_marked() || b.contains_marked() {
        let (a, ma) = a.clone().unmark_deep();
        let (b, mb) = b.clone().unmark_deep();
        return equals(&a, &b).mark(ma || mb);
    }
    let unknown = || Value::unknown(Type::Bool).refine_not_null();
    if (a.is_null() && b.definitely_not_null()) || (b.is_null() && a.definitely_not_null()) {
        return Value::bool(false);
    }
    match (a.is_known(), b.is_known()) {
        (true, false) | (false, true) => {
            let (k, u) = if a.is_known() { (a, b) } else { (b, a) };
            if !range_includes(u, k) {
                return Value::bool(false);
            }
            let uty = u.ty();
            if k.is_null() || uty.has_dynamic() {
                return unknown();
            }
            if k.ty() != uty {
                return Value::bool(false);
            }
            return unknown();
        }
        (false, false) => return unknown(),
        _ => {}
    }
    match (a.is_null(), b.is_null()) {
        (true, true) => return Value::bool(true),
        (true, false) | (false, true) => return Value::bool(false),
        _ => {}
    }
    let (ta, tb) = (a.ty(), b.ty());
    if ta.has_dynamic() || tb.has_dynamic() {
        if !ta.conforms(&tb) && !tb.conforms(&ta) {
            return Value::bool(false);
        }
        return unknown();
    }
    if ta != tb {
        return Value::bool(false);
    }
    let all = |pairs: &mut dyn Iterator<Item = (&Value, &Value)>| -> Value {
        for (x, y) in pairs {
            match equals(x, y).v {
                V::Bool(true) => {}
                V::Bool(false) => return Value::bool(false),
                _ => return unknown(),
            }
        }
        Value::bool(true)
    };
    match (&a.v, &b.v) {
        (V::Bool(x), V::Bool(y)) => Value::bool(x == y),
        (V::Number(x), V::Number(y)) => Value::bool(x == y),
        (V::String(x), V::String(y)) => Value::bool(x == y),
        (V::List(_, x), V::List(_, y)) | (V::Tuple(x), V::Tuple(y)) => {
            if x.len() != y.len() {
                return Value::bool(false);
            }
            all(&mut x.iter().zip(y.iter()))
        }
        (V::Set(_, x), V::Set(_, y)) => {
            if x.iter().chain(y.iter()).any(|e| !e.is_known()) {
                return unknown();
            }
            let has = |s: &[Value], e: &Value| s.iter().any(|o| o.equivalent(e));
            Value::bool(x.iter().all(|e| has(y, e)) && y.iter().all(|e| has(x, e)))
        }
        (V::Map(_, x), V::Map(_, y)) | (V::Object(x), V::Object(y)) => {
            if x.len() != y.len() || x.keys().zip(y.keys()).any(|(p, q)| p != q) {
                return Value::bool(false);
            }
            all(&mut x.values().zip(y.values()))
        }
        _ => Value::bool(false),
    }
}

/// Whether the unknown `u`'s range could include the known `k` (false only when it
/// certainly cannot).
fn range_includes(u: &Value, k: &Value) -> bool {
    let Some(r) = u.refinement() else {
        return true;
    };
    if k.is_null() {
        return !r.not_null;
    }
    let uty = u.ty();
    if !k.ty().conforms(&uty) {
        return false;
    }
    match (&uty, &k.v) {
        (Type::String, V::String(s)) => s.starts_with(&r.prefix),
        (Type::Number, V::Number(n)) => {
            let lo_ok = match &r.min {
                Some((m, true)) => n.cmp(m) != Ordering::Less,
                Some((m, false)) => n.cmp(m) == Ordering::Greater,
                None => true,
            };
            let hi_ok = match &r.max {
                Some((m, true)) => n.cmp(m) != Ordering::Greater,
                Some((m, false)) => n.cmp(m) == Ordering::Less,
                None => true,
            };
            lo_ok && hi_ok
        }
        (t, _) if t.is_collection() => {
            let n = k.len().unwrap_or(0);
            n >= r.min_len && r.max_len.is_none_or(|m| n <= m)
        }
        _ => true,
    }
}

/// Renders a value as `terraform console` does.
pub fn format_console(v: &Value, indent: usize) -> String {
    if !v.is_known() {
        return "(known after apply)".into();
    }
    if v.sensitive {
        return "(sensitive value)".into();
    }
    if let V::Null(t) = &v.v {
        return match t {
            Type::Dynamic => "null".into(),
            Type::String => "tostring(null)".into(),
            Type::Number => "tonumber(null)".into(),
            Type::Bool => "tobool(null)".into(),
            Type::List(e) => format!("tolist(null) /* of {} */", e.friendly()),
            Type::Set(e) => format!("toset(null) /* of {} */", e.friendly()),
            Type::Map(e) => format!("tomap(null) /* of {} */", e.friendly()),
            other => format!("null /* {} */", other.friendly()),
        };
    }
    match &v.v {
        V::String(s) => match format_multiline(s, indent) {
            Some(h) => h,
            None => go_quote(s),
        },
        V::Number(n) => n.to_text(),
        V::Bool(b) => b.to_string(),
        V::Object(m) => format_mapping(m.iter().map(|(k, x)| (k.as_str(), x)), indent),
        V::Tuple(xs) => format_sequence(xs, indent),
        V::List(_, xs) => format!("tolist({})", format_sequence(xs, indent)),
        V::Set(_, xs) => format!("toset({})", format_sequence(xs, indent)),
        V::Map(_, m) => format!(
            "tomap({})",
            format_mapping(m.iter().map(|(k, x)| (k.as_str(), x)), indent)
        ),
        V::Null(_) | V::Unknown(..) => unreachable!("handled above"),
    }
}

fn format_multiline(s: &str, indent: usize) -> Option<String> {
    let lines: Vec<&str> = s.split('\n').collect();
    if lines.len() < 2 {
        return None;
    }
    let op = if indent > 0 { "<<-" } else { "<<" };
    let mut delim = "EOT".to_string();
    while lines.iter().any(|l| l.trim() == delim) {
        delim.push('_');
    }
    let mut out = format!("{op}{delim}");
    for l in &lines {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        out.push_str(l);
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push_str(&delim);
    Some(out)
}

fn format_mapping<'a>(items: impl Iterator<Item = (&'a str, &'a Value)>, indent: usize) -> String {
    let mut out = String::from("{");
    let mut count = 0;
    for (k, x) in items {
        count += 1;
        out.push('\n');
        out.push_str(&" ".repeat(indent + 2));
        out.push_str(&go_quote(k));
        out.push_str(" = ");
        out.push_str(&format_console(x, indent + 2));
    }
    if count > 0 {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push('}');
    out
}

fn format_sequence(xs: &[Value], indent: usize) -> String {
    let mut out = String::from("[");
    for x in xs {
        out.push('\n');
        out.push_str(&" ".repeat(indent + 2));
        out.push_str(&format_console(x, indent + 2));
        out.push(',');
    }
    if !xs.is_empty() {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn sets_sort_and_dedupe_as_cty() {
        let v = Value::set(Type::String, vec![s("10"), s("9"), s("a"), s("B"), s("a")]);
        let got: Vec<&str> = v
            .elements()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(got, ["10", "9", "B", "a"]);
        let u = Value::unknown_not_null(Type::String);
        let v = Value::set(
            Type::String,
            vec![u.clone(), Value::null(Type::String), s("b"), s("a"), u],
        );
        assert_eq!(
            format_console(&v, 0),
            "toset([\n  \"a\",\n  \"b\",\n  (known after apply),\n  (known after apply),\n  tostring(null),\n])"
        );
        // Marks on elements move to the set.
        let v = Value::set(Type::String, vec![s("x").mark(true)]);
        assert!(v.sensitive && !v.elements().unwrap()[0].sensitive);
    }

    #[test]
    fn equality_is_type_exact_and_knows_refinements() {
        let one = Value::int(1);
        let l = Value::list(Type::Number, vec![one.clone()]);
        let t = Value::tuple(vec![one.clone()]);
        assert!(matches!(equals(&l, &t).v, V::Bool(false)));
        assert!(matches!(equals(&s("1"), &one).v, V::Bool(false)));
        let u = Value::unknown_not_null(Type::String);
        assert!(matches!(
            equals(&u, &Value::null_dynamic()).v,
            V::Bool(false)
        ));
        assert!(matches!(equals(&u, &one).v, V::Bool(false)));
        assert!(!equals(&u, &s("x")).is_known());
        let pre = Value::unknown(Type::String).refine(|r| {
            r.not_null = true;
            r.prefix = "ab".into()
        });
        assert!(matches!(equals(&pre, &s("xy")).v, V::Bool(false)));
        let m = equals(&s("a").mark(true), &s("a"));
        assert!(m.sensitive && m.as_bool() == Some(true));
        assert_eq!(format_console(&s("é"), 0), "\"é\"");
        assert!(matches!(
            equals(&s("e\u{301}"), &s("\u{e9}")).v,
            V::Bool(true)
        ));
    }

    #[test]
    fn refinements_collapse_to_known_values() {
        let n = Value::unknown(Type::Number).refine(|r| {
            r.not_null = true;
            r.min = Some((Number::from_i64(3), true));
            r.max = Some((Number::from_i64(3), true));
        });
        assert_eq!(n.as_number().map(Number::to_text).as_deref(), Some("3"));
        let l = Value::unknown(Type::list(Type::String)).refine(|r| {
            r.not_null = true;
            r.min_len = 2;
            r.max_len = Some(2);
        });
        assert_eq!(l.len(), Some(2));
        assert!(Value::dynamic().refine_not_null().refinement().is_none());
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\x01\"");
        assert_eq!(go_quote("\u{200b}"), "\"\\u200b\"");
    }
}
