//! The google provider's functions (`provider::google::NAME`): parts of resource ids, self
//! links and full resource names, as the provider's `functions/` package reads them.

use super::*;

fn st() -> Type {
    Type::String
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The path segment after `key/` in an id, self link or full resource name.
fn segment_after<'a>(id: &'a str, key: &str) -> Option<&'a str> {
    let segs: Vec<&str> = id.split('/').collect();
    segs.windows(2)
        .find(|w| w[0] == key && !w[1].is_empty())
        .map(|w| w[1])
}

fn part(id: &str, key: &str, what: &str, func: &str) -> FResult {
    match segment_after(id, key) {
        Some(x) => Ok(Value::string(x)),
        None => Err(err(format!(
            "provider::google::{func}: unable to identify the {what} from the provided value {id:?} (no \"{key}/{{{what}}}\" in it)"
        ))),
    }
}

pub fn register(r: &mut Registry) {
    r.add(Func::new(
        "provider::google::name_from_id",
        vec![p("id", st())],
        stat(st()),
        |a, _, _| {
            let id = s(&a[0]).trim_end_matches('/');
            match id.rsplit('/').next().filter(|n| !n.is_empty() && id.contains('/')) {
                Some(n) => Ok(Value::string(n)),
                None => Err(err(format!(
                    "provider::google::name_from_id: unable to identify the resource name from the provided value {:?}",
                    s(&a[0])
                ))),
            }
        },
    ));
    r.add(Func::new(
        "provider::google::project_from_id",
        vec![p("id", st())],
        stat(st()),
        |a, _, _| part(s(&a[0]), "projects", "project", "project_from_id"),
    ));
    r.add(Func::new(
        "provider::google::location_from_id",
        vec![p("id", st())],
        stat(st()),
        |a, _, _| part(s(&a[0]), "locations", "location", "location_from_id"),
    ));
    r.add(Func::new(
        "provider::google::region_from_id",
        vec![p("id", st())],
        stat(st()),
        |a, _, _| part(s(&a[0]), "regions", "region", "region_from_id"),
    ));
    r.add(Func::new(
        "provider::google::zone_from_id",
        vec![p("id", st())],
        stat(st()),
        |a, _, _| part(s(&a[0]), "zones", "zone", "zone_from_id"),
    ));
    r.add(Func::new(
        "provider::google::region_from_zone",
        vec![p("zone", st())],
        stat(st()),
        |a, _, _| {
            let zone = s(&a[0]);
            let shaped = zone.matches('-').count() == 2
                && !zone.ends_with('-')
                && zone.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            match zone.rsplit_once('-').filter(|_| shaped) {
                Some((region, _)) => Ok(Value::string(region)),
                None => Err(err(format!(
                    "provider::google::region_from_zone: {zone:?} is not a zone (like \"us-central1-a\")"
                ))),
            }
        },
    ));
}
