//! unix-cron schedules as Cloud Scheduler reads them: five fields (minute, hour, day of month,
//! month, day of week), `*`, ranges, steps, lists, month and weekday names, 7 = Sunday, and the
//! classic rule that when both day fields are restricted a day matching either one fires.
//! Times are wall-clock times in a tz-database zone: a local time skipped by a daylight-saving
//! change does not fire; a local time that occurs twice fires once, at its first occurrence.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A parsed schedule: the allowed values of each field as bit sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Whether the day-of-month / day-of-week field was `*` (unrestricted).
    any_day: bool,
    any_weekday: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    /// Parses a five-field unix-cron string; the error says which field is wrong and why.
    pub fn parse(s: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "a schedule has 5 fields (minute hour day-of-month month day-of-week), {:?} has {}",
                s,
                fields.len()
            ));
        }
        let minutes = field(fields[0], "minute", 0, 59, &[])?;
        let hours = field(fields[1], "hour", 0, 23, &[])? as u32;
        let days = field(fields[2], "day of month", 1, 31, &[])? as u32;
        let months = field(fields[3], "month", 1, 12, &MONTHS)? as u16;
        let mut weekdays = field(fields[4], "day of week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1; // 7 is Sunday too
        }
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays: (weekdays & 0x7f) as u8,
            any_day: fields[2] == "*",
            any_weekday: fields[4] == "*",
        })
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().num_days_from_sunday()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first firing instant strictly after `after`, evaluated on the wall clock of `tz`;
    /// `None` if there is none within eight years (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let all_hours = self.hours == (1 << 24) - 1;
        let local = after.with_timezone(&tz).naive_local();
        // Wall time is not monotonic across a fall-back change, so scan from two hours back
        // and keep the earliest instant after `after`, looking two hours past the first one.
        let mut t = local.with_second(0)?.with_nanosecond(0)? - Duration::hours(2);
        let limit = local + Duration::days(366 * 8);
        let mut best: Option<DateTime<Utc>> = None;
        let mut stop: Option<NaiveDateTime> = None;
        while t <= limit && stop.is_none_or(|s| t <= s) {
            if !self.day_matches(t.date()) {
                t = NaiveDateTime::new(t.date().succ_opt()?, chrono::NaiveTime::MIN);
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)? + Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t += Duration::minutes(1);
                continue;
            }
            let instants: Vec<DateTime<Tz>> = match tz.from_local_datetime(&t) {
                chrono::LocalResult::Single(i) => vec![i],
                // Clocks went back and this wall time happens twice: a schedule that names
                // hours fires at the first occurrence only; an every-hour schedule keeps its
                // cadence through both passes.
                chrono::LocalResult::Ambiguous(first, second) if all_hours => vec![first, second],
                chrono::LocalResult::Ambiguous(first, _) => vec![first],
                // Clocks went forward: this wall time never happens.
                chrono::LocalResult::None => vec![],
            };
            for i in instants {
                let i = i.with_timezone(&Utc);
                if i > after && best.is_none_or(|b| i < b) {
                    best = Some(i);
                    stop.get_or_insert(t + Duration::hours(2));
                }
            }
            t += Duration::minutes(1);
        }
        best
    }
}

/// Parses a tz-database name (`Etc/UTC`, `America/New_York`); `UTC` is accepted as the API does.
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    let name = if name.is_empty() { "Etc/UTC" } else { name };
    name.parse::<Tz>()
        .map_err(|_| format!("{name:?} is not a time zone in the tz database (e.g. \"Etc/UTC\", \"America/New_York\")"))
}

/// One field: a comma list of `*`, `N`, `A-B`, each optionally `/STEP`; names allowed.
fn field(s: &str, what: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let value = |v: &str| -> Result<u32, String> {
        let up = v.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == up) {
            return Ok(i as u32 + if what == "month" { 1 } else { 0 });
        }
        let n: u32 = v
            .parse()
            .map_err(|_| format!("{what} field: {v:?} is not a number"))?;
        if n < lo || n > hi {
            return Err(format!("{what} field: {n} is outside {lo}-{hi}"));
        }
        Ok(n)
    };
    let mut bits = 0u64;
    for part in s.split(',') {
        if part.is_empty() {
            return Err(format!("{what} field: empty list item in {s:?}"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => {
                let st: u32 = st
                    .parse()
                    .map_err(|_| format!("{what} field: step {st:?} is not a number"))?;
                if st == 0 {
                    return Err(format!("{what} field: a step must be at least 1"));
                }
                (r, st)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, if what == "day of week" { 6 } else { hi })
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("{what} field: range {range:?} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `N/STEP` means from N to the end, as in cron.
            (a, if step > 1 { hi } else { a })
        };
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(c: &str, after: &str, tz: &str) -> String {
        Cron::parse(c)
            .unwrap()
            .next_after(at(after), parse_tz(tz).unwrap())
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn every_minute_and_simple_fields() {
        assert_eq!(
            next("* * * * *", "2026-01-01T00:00:30Z", "UTC"),
            "2026-01-01T00:01:00+00:00"
        );
        assert_eq!(
            next("* * * * *", "2026-01-01T00:01:00Z", "UTC"),
            "2026-01-01T00:02:00+00:00"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-01-01T00:16:00Z", "UTC"),
            "2026-01-01T00:30:00+00:00"
        );
        assert_eq!(
            next("45 23 * * 6", "2026-01-01T00:00:00Z", "UTC"),
            "2026-01-03T23:45:00+00:00"
        );
        assert_eq!(
            next("0 9 * * MON-FRI", "2026-01-02T10:00:00Z", "UTC"),
            "2026-01-05T09:00:00+00:00"
        );
        assert_eq!(
            next("0 0 1 JAN *", "2026-01-01T00:00:00Z", "Etc/UTC"),
            "2027-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 * * 7", "2026-01-01T00:00:00Z", "UTC"),
            "2026-01-04T00:00:00+00:00"
        );
        // Both day fields restricted: either matches (1st of the month, or a Monday).
        assert_eq!(
            next("0 0 1 * 1", "2026-01-01T00:00:00Z", "UTC"),
            "2026-01-05T00:00:00+00:00"
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        // 02:00 New York is 07:00 UTC in winter, 06:00 in summer.
        assert_eq!(
            next("0 2 * * *", "2026-01-10T12:00:00Z", "America/New_York"),
            "2026-01-11T07:00:00+00:00"
        );
        assert_eq!(
            next("0 2 * * *", "2026-07-10T12:00:00Z", "America/New_York"),
            "2026-07-11T06:00:00+00:00"
        );
        // 2026-03-08: 02:00-02:59 does not exist in New York; 02:30 is skipped that day.
        assert_eq!(
            next("30 2 * * *", "2026-03-07T12:00:00Z", "America/New_York"),
            "2026-03-09T06:30:00+00:00"
        );
        // 2026-11-01: 01:30 happens twice; it fires once, at the first (EDT, 05:30 UTC).
        assert_eq!(
            next("30 1 * * *", "2026-10-31T12:00:00Z", "America/New_York"),
            "2026-11-01T05:30:00+00:00"
        );
        assert_eq!(
            next("30 1 * * *", "2026-11-01T05:30:00Z", "America/New_York"),
            "2026-11-02T06:30:00+00:00"
        );
        // Hourly across the spring-forward gap: 01:00 EST then 03:00 EDT, one hour apart.
        assert_eq!(
            next("0 * * * *", "2026-03-08T06:00:00Z", "America/New_York"),
            "2026-03-08T07:00:00+00:00"
        );
        // Every minute across fall-back: both passes of 01:xx fire, in real-time order.
        assert_eq!(
            next("* * * * *", "2026-11-01T05:59:00Z", "America/New_York"),
            "2026-11-01T06:00:00+00:00"
        );
        assert_eq!(
            next("*/30 * * * *", "2026-11-01T05:40:00Z", "America/New_York"),
            "2026-11-01T06:00:00+00:00"
        );
        let mut t = at("2026-11-01T04:00:00Z");
        let c = Cron::parse("0 * * * *").unwrap();
        let tz = parse_tz("America/New_York").unwrap();
        let mut fired = vec![];
        for _ in 0..4 {
            t = c.next_after(t, tz).unwrap();
            fired.push(t.format("%H:%M").to_string());
        }
        // 01:00 EDT (05:00Z), 01:00 EST (06:00Z), 02:00 EST (07:00Z): one hour apart.
        assert_eq!(fired, ["05:00", "06:00", "07:00", "08:00"]);
    }

    #[test]
    fn errors_name_the_field() {
        for (bad, want) in [
            ("* * * *", "5 fields"),
            ("60 * * * *", "minute field: 60 is outside 0-59"),
            ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day of month field"),
            ("* * * 13 *", "month field"),
            ("* * * * 8", "day of week field"),
            ("*/0 * * * *", "step must be at least 1"),
            ("5-1 * * * *", "runs backwards"),
            ("x * * * *", "not a number"),
        ] {
            let e = Cron::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert!(parse_tz("Mars/Olympus")
            .unwrap_err()
            .contains("tz database"));
        assert_eq!(parse_tz("UTC").unwrap(), Tz::UTC);
        assert!(Cron::parse("0 0 30 2 *")
            .unwrap()
            .next_after(at("2026-01-01T00:00:00Z"), Tz::UTC)
            .is_none());
    }
}
