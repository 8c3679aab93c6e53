//! Diagnostics: collected (not thrown), located by file:line:col, sorted, rendered with the
//! source line and an underline, then a `hint:` line.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A span in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
    pub start: usize,
    pub end: usize,
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub range: Option<Range>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, range: Option<Range>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            range,
            hint: None,
        }
    }
    pub fn warning(summary: impl Into<String>, range: Option<Range>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            range,
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if !self.0.contains(&d) {
            self.0.push(d);
        }
    }
    pub fn error(&mut self, summary: impl Into<String>, range: Option<Range>) {
        self.push(Diagnostic::error(summary, range));
    }
    /// Replaces sensitive values in every message with `(sensitive value)`.
    pub fn mask(&mut self, sensitive: &[String]) {
        for d in &mut self.0 {
            for v in sensitive.iter().filter(|v| v.len() >= 3) {
                if d.summary.contains(v.as_str()) {
                    d.summary = d.summary.replace(v.as_str(), "(sensitive value)");
                }
                if let Some(h) = &mut d.hint {
                    if h.contains(v.as_str()) {
                        *h = h.replace(v.as_str(), "(sensitive value)");
                    }
                }
            }
        }
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.0 {
            self.push(d);
        }
    }
    /// Errors first, then by location, so output is stable.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.0.iter().collect();
        v.sort_by(|a, b| {
            (a.severity, &a.range, &a.summary).cmp(&(b.severity, &b.range, &b.summary))
        });
        v
    }
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

/// Source texts by file name, to show the offending line.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: BTreeMap<Arc<str>, Arc<str>>,
    /// Byte offset of every line start per file, so locating a span is a binary search
    /// (a linear scan per span made loading a 1,000-resource stack quadratic).
    line_starts: BTreeMap<Arc<str>, Vec<usize>>,
}

impl Sources {
    pub fn add(&mut self, name: &str, text: &str) -> Arc<str> {
        let key: Arc<str> = Arc::from(name);
        self.files.insert(key.clone(), Arc::from(text));
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.line_starts.insert(key.clone(), starts);
        key
    }

    /// Turns a byte range into a located [`Range`].
    pub fn range(&self, file: &Arc<str>, span: std::ops::Range<usize>) -> Range {
        let text = self.files.get(file).map(|t| t.as_ref()).unwrap_or("");
        let start = span.start.min(text.len());
        let line_start = match self.line_starts.get(file) {
            Some(starts) => {
                let idx = starts.partition_point(|&s| s <= start).max(1) - 1;
                (idx, starts[idx])
            }
            None => (0, 0),
        };
        let line = line_start.0 + 1;
        let col = text
            .get(line_start.1..start)
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        Range {
            file: file.clone(),
            line,
            col,
            start,
            end: span.end.max(start),
        }
    }

    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        let label = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", d.summary);
        if let Some(r) = &d.range {
            let _ = writeln!(out, "  --> {r}");
            if let Some(text) = self.files.get(&r.file) {
                if let Some(src_line) = text.lines().nth(r.line - 1) {
                    let gutter = r.line.to_string().len();
                    // Offsets may fall inside a multi-byte character (a parser's error at
                    // pasted smart quotes): widen to whole characters, never slice through one.
                    let start = char_floor(text, r.start);
                    let line_end = text[start..]
                        .find('\n')
                        .map(|i| start + i)
                        .unwrap_or(text.len());
                    let end = char_ceil(text, r.end.min(line_end).max(start + 1).min(text.len()));
                    let width = text[start..end.max(start)].chars().count().max(1);
                    let _ = writeln!(out, "{:gutter$} |", "");
                    let _ = writeln!(out, "{} | {}", r.line, src_line);
                    let _ = writeln!(
                        out,
                        "{:gutter$} | {}{}",
                        "",
                        " ".repeat(r.col.saturating_sub(1)),
                        "^".repeat(width)
                    );
                }
            }
        }
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "hint: {h}");
        }
        out
    }

    /// A diagnostic as Terraform's machine-readable UI gives it: severity, summary, detail
    /// (runform's hint), and the range with the source line as a snippet.
    pub fn to_json(&self, d: &Diagnostic) -> serde_json::Value {
        let mut out = serde_json::json!({
            "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
            "summary": d.summary,
            "detail": d.hint.clone().unwrap_or_default(),
        });
        let Some(r) = &d.range else {
            return out;
        };
        let text = self.files.get(&r.file).map(|t| t.as_ref()).unwrap_or("");
        let position = |byte: usize| {
            let byte = byte.min(text.len());
            let before = text.get(..byte).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            serde_json::json!({"line": line, "column": column, "byte": byte})
        };
        out["range"] = serde_json::json!({
            "filename": r.file.strip_prefix("./").unwrap_or(&r.file),
            "start": position(r.start),
            "end": position(r.end),
        });
        let line_start = text
            .get(..r.start.min(text.len()))
            .and_then(|b| b.rfind('\n'))
            .map_or(0, |i| i + 1);
        let code = text.lines().nth(r.line.saturating_sub(1)).unwrap_or("");
        out["snippet"] = serde_json::json!({
            "context": null,
            "code": code,
            "start_line": r.line,
            "highlight_start_offset": r.start.saturating_sub(line_start),
            "highlight_end_offset": r.end.saturating_sub(line_start).min(code.len()),
            "values": [],
        });
        out
    }

    pub fn render_all(&self, diags: &Diagnostics) -> String {
        let mut out = String::new();
        for d in diags.sorted() {
            out.push_str(&self.render(d));
            out.push('\n');
        }
        out
    }
}

/// The char boundary at or before byte `i` of `text` (its length when `i` is past it).
fn char_floor(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The char boundary at or after byte `i` of `text`.
fn char_ceil(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3) && *d < c.len().max(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_underline() {
        let mut s = Sources::default();
        let f = s.add("main.tf", "a = 1\ntask_count = 0\n");
        let r = s.range(&f, 19..20);
        assert_eq!((r.line, r.col), (2, 14));
        let text = s.render(&Diagnostic::error("bad", Some(r)).with_hint("fix it"));
        assert!(text.contains("--> main.tf:2:14"), "{text}");
        assert!(text.contains("2 | task_count = 0"), "{text}");
        assert!(text.contains("hint: fix it"), "{text}");
    }

    #[test]
    fn locates_first_last_and_multibyte_positions() {
        let mut s = Sources::default();
        let f = s.add("m.tf", "ab\n\nné = 1\nlast");
        let at = |o: usize| {
            let r = s.range(&f, o..o);
            (r.line, r.col)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 3));
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(4), (3, 1));
        assert_eq!(at(7), (3, 3)); // after the two-byte é: the column counts characters
        assert_eq!(at(12), (4, 1));
        assert_eq!(at(99), (4, 5)); // clamped to the end of the text
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            closest("task_cont", ["task_count", "parallelism"]),
            Some("task_count")
        );
        assert_eq!(closest("zzz", ["task_count"]), None);
    }
}
