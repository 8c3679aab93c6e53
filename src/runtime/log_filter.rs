//! The subset of Cloud Logging's query language that gcloud, the console and runform send:
//! `AND`/`OR`/`NOT` (and `-`), juxtaposition as `AND`, parentheses, comparisons `=`, `!=`,
//! `:` (has, case-insensitive), `=~`/`!~` (regular expressions), `<`, `<=`, `>`, `>=`
//! (timestamps as instants, severities by level, numbers by value), on field paths with
//! quoted segments (`labels."run.googleapis.com/execution_name"`), and bare words (an entry
//! holding them anywhere).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All,
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: Vec<String>,
        op: Op,
        value: String,
    },
    /// A bare word or string: anywhere in the entry.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Has,
    Re,
    NotRe,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
    Minus,
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("a quoted string is not closed".into()),
                        Some('"') => break,
                        Some('\\') => {
                            // `\"` and `\\` are escapes; any other backslash stays (a regular
                            // expression's `\d`).
                            let c = *chars.get(i + 1).ok_or("a quoted string is not closed")?;
                            if c != '"' && c != '\\' {
                                text.push('\\');
                            }
                            text.push(c);
                            i += 2;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Quoted(text));
                i += 1;
            }
            '=' if next == Some('~') => {
                out.push(Token::Op(Op::Re));
                i += 2;
            }
            '!' if next == Some('~') => {
                out.push(Token::Op(Op::NotRe));
                i += 2;
            }
            '!' if next == Some('=') => {
                out.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' if next == Some('=') => {
                out.push(Token::Op(if c == '<' { Op::Le } else { Op::Ge }));
                i += 2;
            }
            '<' => {
                out.push(Token::Op(Op::Lt));
                i += 1;
            }
            '>' => {
                out.push(Token::Op(Op::Gt));
                i += 1;
            }
            '=' => {
                out.push(Token::Op(Op::Eq));
                i += 1;
            }
            ':' => {
                out.push(Token::Op(Op::Has));
                i += 1;
            }
            '-' if out.last().is_none_or(|t| {
                matches!(
                    t,
                    Token::Open | Token::Word(_) | Token::Quoted(_) | Token::Close
                )
            }) =>
            {
                out.push(Token::Minus);
                i += 1;
            }
            _ => {
                // A word runs to whitespace, a parenthesis, an operator or a quote (a quoted
                // path segment continues the word: `labels."a/b"`).
                let mut word = String::new();
                while let Some(&c) = chars.get(i) {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '=' | '!' | '<' | '>' | ':') {
                        break;
                    }
                    if c == '"' {
                        if !word.ends_with('.') {
                            break;
                        }
                        let close = chars[i + 1..]
                            .iter()
                            .position(|&c| c == '"')
                            .ok_or("a quoted string is not closed")?;
                        word.push('"');
                        word.extend(&chars[i + 1..i + 1 + close]);
                        word.push('"');
                        i += close + 2;
                        continue;
                    }
                    word.push(c);
                    i += 1;
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

/// A field path: dotted segments, each bare or quoted.
fn path_of(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in word.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.is_word("OR") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.not()?;
        loop {
            if self.is_word("AND") {
                self.at += 1;
            } else if self.peek().is_none()
                || self.is_word("OR")
                || matches!(self.peek(), Some(Token::Close))
            {
                return Ok(left);
            }
            let right = self.not()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn not(&mut self) -> Result<Filter, String> {
        if self.is_word("NOT") || matches!(self.peek(), Some(Token::Minus)) {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("a parenthesis is not closed".into()),
                }
            }
            Some(Token::Word(w)) => {
                if let Some(Token::Op(op)) = self.peek().cloned() {
                    self.at += 1;
                    let value = match self.next() {
                        Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                        other => return Err(format!("a value must follow {w} (found {other:?})")),
                    };
                    return Ok(Filter::Compare {
                        path: path_of(&w),
                        op,
                        value,
                    });
                }
                Ok(Filter::Text(w))
            }
            Some(Token::Quoted(q)) => Ok(Filter::Text(q)),
            other => Err(format!("unexpected {other:?} in the filter")),
        }
    }
}

/// Parses a filter (an empty one matches everything).
pub fn parse(s: &str) -> Result<Filter, String> {
    let tokens = tokenize(s)?;
    if tokens.is_empty() {
        return Ok(Filter::All);
    }
    let mut p = Parser { tokens, at: 0 };
    let f = p.or()?;
    if p.at < p.tokens.len() {
        return Err(format!("unexpected {:?} in the filter", p.tokens[p.at]));
    }
    Ok(f)
}

const SEVERITIES: &[(&str, i32)] = &[
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

fn severity_level(s: &str) -> Option<i32> {
    SEVERITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, l)| *l)
}

fn lookup<'a>(entry: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = entry;
    for seg in path {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn ordering(path: &[String], have: &str, want: &str) -> Option<std::cmp::Ordering> {
    if path.len() == 1 && path[0] == "severity" {
        let h = severity_level(have).unwrap_or(0);
        return Some(h.cmp(&severity_level(want)?));
    }
    if let (Ok(h), Ok(w)) = (
        chrono::DateTime::parse_from_rfc3339(have),
        chrono::DateTime::parse_from_rfc3339(want),
    ) {
        return Some(h.cmp(&w));
    }
    if let (Ok(h), Ok(w)) = (have.parse::<f64>(), want.parse::<f64>()) {
        return h.partial_cmp(&w);
    }
    Some(have.cmp(want))
}

fn compare(entry: &Value, path: &[String], op: Op, want: &str) -> bool {
    use std::cmp::Ordering::*;
    // An entry without a severity has DEFAULT.
    let found = lookup(entry, path)
        .map(text_of)
        .or_else(|| (path.len() == 1 && path[0] == "severity").then(|| "DEFAULT".to_string()));
    let Some(have) = found else {
        return matches!(op, Op::Ne | Op::NotRe);
    };
    match op {
        Op::Eq => ordering(path, &have, want) == Some(Equal),
        Op::Ne => ordering(path, &have, want) != Some(Equal),
        Op::Has => have.to_lowercase().contains(&want.to_lowercase()),
        Op::Re | Op::NotRe => {
            let hit = regex::Regex::new(want).is_ok_and(|r| r.is_match(&have));
            hit == (op == Op::Re)
        }
        Op::Lt => ordering(path, &have, want) == Some(Less),
        Op::Le => matches!(ordering(path, &have, want), Some(Less | Equal)),
        Op::Gt => ordering(path, &have, want) == Some(Greater),
        Op::Ge => matches!(ordering(path, &have, want), Some(Greater | Equal)),
    }
}

impl Filter {
    /// The value `path` must equal for any entry to match (an `=` joined by `AND` at the
    /// top), so a caller can skip what cannot match without reading it.
    pub fn required(&self, path: &[&str]) -> Option<&str> {
        match self {
            Filter::And(a, b) => a.required(path).or_else(|| b.required(path)),
            Filter::Compare {
                path: p,
                op: Op::Eq,
                value,
            } if p.iter().map(String::as_str).eq(path.iter().copied()) => Some(value),
            _ => None,
        }
    }

    pub fn matches(&self, entry: &Value) -> bool {
        match self {
            Filter::All => true,
            Filter::And(a, b) => a.matches(entry) && b.matches(entry),
            Filter::Or(a, b) => a.matches(entry) || b.matches(entry),
            Filter::Not(a) => !a.matches(entry),
            Filter::Compare { path, op, value } => compare(entry, path, *op, value),
            Filter::Text(t) => entry.to_string().to_lowercase().contains(&t.to_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> Value {
        json!({
            "textPayload": "Processing File 7",
            "severity": "WARNING",
            "timestamp": "2026-12-01T10:00:00.5Z",
            "resource": {"type": "cloud_run_job", "labels": {"job_name": "etl", "location": "us-central1"}},
            "labels": {"run.googleapis.com/execution_name": "etl-abc", "run.googleapis.com/task_index": "2"},
        })
    }

    #[test]
    fn what_gcloud_sends_matches() {
        let e = entry();
        for (f, want) in [
            (r#"resource.type="cloud_run_job""#, true),
            (
                r#"resource.type = "cloud_run_job" AND resource.labels.job_name="etl""#,
                true,
            ),
            (r#"resource.labels.job_name="other""#, false),
            (
                r#"labels."run.googleapis.com/execution_name"="etl-abc""#,
                true,
            ),
            (r#"labels."run.googleapis.com/task_index"="3""#, false),
            ("severity>=WARNING", true),
            ("severity>=ERROR", false),
            ("severity=warning", true),
            (
                r#"timestamp>="2026-12-01T09:00:00Z" timestamp<"2026-12-01T11:00:00+00:00""#,
                true,
            ),
            (r#"timestamp>="2026-12-02T00:00:00Z""#, false),
            ("textPayload:file", true),
            (r#"textPayload=~"File \d""#, true),
            ("NOT textPayload:file", false),
            ("-textPayload:file", false),
            (
                "(severity=ERROR OR severity=WARNING) AND resource.type=cloud_run_job",
                true,
            ),
            ("processing", true),
            (r#"jsonPayload.message="x""#, false),
            (r#"jsonPayload.message!="x""#, true),
            ("", true),
        ] {
            let parsed = parse(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(parsed.matches(&e), want, "{f}: {parsed:?}");
        }
    }

    #[test]
    fn what_an_entry_must_equal_is_known_before_reading_it() {
        let f = parse(r#"severity>=INFO AND (resource.labels.job_name="etl" labels."run.googleapis.com/execution_name"="etl-abc")"#).unwrap();
        assert_eq!(
            f.required(&["labels", "run.googleapis.com/execution_name"]),
            Some("etl-abc")
        );
        assert_eq!(f.required(&["resource", "labels", "job_name"]), Some("etl"));
        let f = parse(r#"resource.labels.job_name="a" OR resource.labels.job_name="b""#).unwrap();
        assert_eq!(f.required(&["resource", "labels", "job_name"]), None);
    }

    #[test]
    fn broken_filters_are_errors() {
        for f in [
            "(severity=ERROR",
            "severity=",
            r#"textPayload:"open"#,
            "a = )",
        ] {
            assert!(parse(f).is_err(), "{f}");
        }
    }
}
