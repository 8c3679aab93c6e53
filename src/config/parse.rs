//! Reads `.tf` / `.hcl` files with hcl-edit (keeping spans) into raw blocks and attributes
//! whose expressions are `hcl::Expression`s ready for evaluation.

use crate::diag::{Diagnostic, Diagnostics, Range, Sources};
use hcl_edit::Span;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RawAttr {
    pub name: String,
    pub expr: hcl::Expression,
    /// The whole `name = value` span.
    pub range: Range,
    /// The value's span.
    pub value_range: Range,
    /// Spans of literal object items (`limits = { cpu = "4" }` → "cpu").
    pub item_ranges: Vec<(String, Range)>,
}

#[derive(Debug, Clone)]
pub struct RawBlock {
    pub ty: String,
    pub labels: Vec<String>,
    pub body: RawBody,
    /// The block header's span (type and labels).
    pub range: Range,
}

#[derive(Debug, Clone, Default)]
pub struct RawBody {
    pub attrs: Vec<RawAttr>,
    pub blocks: Vec<RawBlock>,
}

impl RawBody {
    pub fn attr(&self, name: &str) -> Option<&RawAttr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Parses every `.tf` and `.hcl` file in `dir` (sorted by name). Files named
/// `*.tfvars`/`*.tfvars.hcl` are variable files and are not configuration.
pub fn parse_dir(dir: &Path, sources: &mut Sources, diags: &mut Diagnostics) -> Vec<RawBlock> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                p.is_file()
                    && (n.ends_with(".tf") || (n.ends_with(".hcl") && !n.ends_with(".tfvars.hcl")))
            })
            .collect(),
        Err(e) => {
            diags.error(
                format!("cannot read configuration directory {}: {e}", dir.display()),
                None,
            );
            return Vec::new();
        }
    };
    files.sort();
    if files.is_empty() {
        diags.push(
            Diagnostic::error(
                format!("no configuration files (*.tf, *.hcl) in {}", dir.display()),
                None,
            )
            .with_hint(
                "pass the directory that holds your stack, e.g. `runform plan examples/quickstart`",
            ),
        );
    }
    let mut blocks = Vec::new();
    for f in files {
        let display = f
            .strip_prefix(std::env::current_dir().unwrap_or_default())
            .unwrap_or(&f)
            .display()
            .to_string();
        match std::fs::read_to_string(&f) {
            Ok(text) => blocks.extend(parse_text(&display, &text, sources, diags)),
            Err(e) => diags.error(format!("cannot read {display}: {e}"), None),
        }
    }
    blocks
}

/// Files larger than this are split at top-level block boundaries and parsed in parallel.
const SPLIT_ABOVE: usize = 256 * 1024;

/// Parses one file's text.
pub fn parse_text(
    name: &str,
    text: &str,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Vec<RawBlock> {
    let file = sources.add(name, text);
    let sources = &*sources;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = if text.len() > SPLIT_ABOVE && threads > 1 {
        // Small pieces keep few syntax trees alive at once (hcl-edit's trees are many times
        // the size of the text).
        split_top_level(text, text.len() / (64 * 1024))
    } else {
        std::iter::once(0..text.len()).collect()
    };
    let parsed: Vec<Result<RawBody, ()>> = if chunks.len() > 1 {
        // Large generated stacks: each chunk is parsed and converted on its own, which also
        // frees each syntax tree early. Work is handed out in order, a chunk at a time.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<std::sync::Mutex<Option<Result<RawBody, ()>>>> =
            chunks.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads.min(chunks.len()) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(r) = chunks.get(i) else { break };
                    let out = hcl_edit::parser::parse_body(&text[r.clone()])
                        .map(|body| convert_body(body, r.start, &file, sources))
                        .map_err(|_| ());
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(out);
                });
            }
        });
        results
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .unwrap_or(Err(()))
            })
            .collect()
    } else {
        vec![Err(())]
    };
    let body = if !parsed.is_empty() && parsed.iter().all(Result::is_ok) {
        let mut all = RawBody::default();
        for b in parsed.into_iter().flatten() {
            all.attrs.extend(b.attrs);
            all.blocks.extend(b.blocks);
        }
        all
    } else {
        // One piece, or a split piece failed: parse the whole text so that errors are exactly
        // what the parser reports for the file.
        match hcl_edit::parser::parse_body(text) {
            Ok(body) => convert_body(body, 0, &file, sources),
            Err(e) => {
                let loc = e.location();
                let line_start: usize = text
                    .split_inclusive('\n')
                    .take(loc.line().saturating_sub(1))
                    .map(str::len)
                    .sum();
                let start = (line_start + loc.column().saturating_sub(1)).min(text.len());
                let range = sources.range(&file, start..start + 1);
                diags.push(Diagnostic::error(
                    format!("invalid HCL syntax: {}", e.message()),
                    Some(range),
                ));
                return Vec::new();
            }
        }
    };
    for a in body.attrs {
        diags.push(Diagnostic::error(
            format!(
                "unexpected attribute {:?} at the top level; only blocks are allowed here",
                a.name
            ),
            Some(a.range),
        ));
    }
    body.blocks
}

/// Splits HCL text into about `pieces` byte ranges that each hold whole top-level blocks. A
/// small lexer skips comments, quoted strings (with `${...}` templates) and heredocs, so braces
/// inside them do not count. Returns one range when it cannot split safely.
pub fn split_top_level(text: &str, pieces: usize) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let target = (b.len() / pieces.max(1)).max(1);
    let mut cuts = vec![0];
    // Modes: code inside braces (depth), or inside a string; a template `${` in a string
    // pushes a code frame.
    enum Frame {
        Code(usize),
        Str,
    }
    let mut stack: Vec<Frame> = vec![Frame::Code(0)];
    let mut i = 0;
    let whole: Vec<std::ops::Range<usize>> = std::iter::once(0..b.len()).collect();
    while i < b.len() {
        let c = b[i];
        match stack.last_mut() {
            Some(Frame::Str) => match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    stack.push(Frame::Code(1));
                    i += 1;
                }
                b'$' | b'%' if b.get(i + 1) == Some(&c) && b.get(i + 2) == Some(&b'{') => {
                    i += 2; // `$${` / `%%{`: a literal
                }
                b'\n' => return whole, // strings do not span lines
                _ => {}
            },
            Some(Frame::Code(depth)) => match c {
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if b.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                    Some(end) => i += 2 + end + 1,
                    None => return whole,
                },
                b'"' => stack.push(Frame::Str),
                b'<' if b.get(i + 1) == Some(&b'<') => {
                    // Heredoc: <<MARK or <<-MARK, body until a line that is MARK.
                    let mut j = i + 2;
                    if b.get(j) == Some(&b'-') {
                        j += 1;
                    }
                    let start = j;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    if j == start {
                        return whole;
                    }
                    let marker = &text[start..j];
                    let Some(nl) = text[j..].find('\n') else {
                        return whole;
                    };
                    let mut pos = j + nl + 1;
                    loop {
                        let line_end = text[pos..].find('\n').map_or(b.len(), |k| pos + k);
                        if text[pos..line_end].trim() == marker {
                            i = line_end - 1;
                            break;
                        }
                        if line_end >= b.len() {
                            return whole;
                        }
                        pos = line_end + 1;
                    }
                }
                b'{' => *depth += 1,
                b'}' => {
                    if *depth == 0 {
                        return whole;
                    }
                    *depth -= 1;
                    if *depth == 0 {
                        if stack.len() > 1 {
                            stack.pop(); // end of a template interpolation
                        } else if i + 1 - cuts[cuts.len() - 1] >= target {
                            // End of a top-level block: cut after this line.
                            let end = text[i..].find('\n').map_or(b.len(), |k| i + k + 1);
                            if end < b.len() {
                                cuts.push(end);
                            }
                            i = end;
                            continue;
                        }
                    }
                }
                _ => {}
            },
            None => return whole,
        }
        i += 1;
    }
    if stack.len() != 1 || !matches!(stack[0], Frame::Code(0)) {
        return whole;
    }
    cuts.push(b.len());
    cuts.windows(2)
        .map(|w| w[0]..w[1])
        .filter(|r| !r.is_empty())
        .collect()
}

fn convert_body(
    body: hcl_edit::structure::Body,
    off: usize,
    file: &Arc<str>,
    sources: &Sources,
) -> RawBody {
    let span_of = |_: &Sources, _: &Arc<str>, s: Option<std::ops::Range<usize>>| {
        let r = s.unwrap_or(0..0);
        sources.range(file, r.start + off..r.end + off)
    };
    let mut out = RawBody::default();
    for s in body.into_iter() {
        match s {
            hcl_edit::structure::Structure::Attribute(a) => {
                let mut item_ranges = Vec::new();
                if let hcl_edit::expr::Expression::Object(obj) = &a.value {
                    for (k, v) in obj.iter() {
                        let key = match k {
                            hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_string(),
                            hcl_edit::expr::ObjectKey::Expression(
                                hcl_edit::expr::Expression::String(s),
                            ) => s.as_str().to_string(),
                            _ => continue,
                        };
                        item_ranges.push((key, span_of(sources, file, v.expr().span())));
                    }
                }
                let range = span_of(sources, file, a.span());
                let value_range = span_of(sources, file, a.value.span());
                out.attrs.push(RawAttr {
                    name: a.key.as_str().to_string(),
                    expr: hcl::Expression::from(a.value),
                    range,
                    value_range,
                    item_ranges,
                });
            }
            hcl_edit::structure::Structure::Block(b) => {
                let labels = b
                    .labels
                    .iter()
                    .map(|l| match l {
                        hcl_edit::structure::BlockLabel::Ident(i) => i.as_str().to_string(),
                        hcl_edit::structure::BlockLabel::String(s) => s.as_str().to_string(),
                    })
                    .collect();
                let start = b.ident.span().map(|r| r.start).unwrap_or(0);
                let end = b
                    .labels
                    .last()
                    .and_then(|l| l.span())
                    .map(|r| r.end)
                    .or(b.ident.span().map(|r| r.end))
                    .unwrap_or(start);
                out.blocks.push(RawBlock {
                    ty: b.ident.as_str().to_string(),
                    labels,
                    range: sources.range(file, start + off..end + off),
                    body: convert_body(b.body, off, file, sources),
                });
            }
        }
    }
    // A 10,000-resource stack holds ~200,000 of these: no spare capacity.
    out.attrs.shrink_to_fit();
    out.blocks.shrink_to_fit();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRICKY: &str = r#"# a } comment
resource "x" "a" {
  s = "}${jsonencode({ k = "}" })}{"
  t = "$${not a template}"
  // another } comment
  /* block } comment */
  h = <<-EOT
    } not a brace
    EOT
}
resource "x" "b" {
  nested {
    v = 1
  }
}
resource "x" "c" { v = "%{ if true }}%{ endif }" }
"#;

    #[test]
    fn splits_only_between_top_level_blocks() {
        let pieces = split_top_level(TRICKY, 100);
        let texts: Vec<&str> = pieces.iter().map(|r| &TRICKY[r.clone()]).collect();
        assert_eq!(texts.len(), 3, "{texts:#?}");
        assert!(texts[0].starts_with("# a } comment") && texts[0].ends_with("}\n"));
        assert!(texts[1].starts_with("resource \"x\" \"b\""));
        assert!(texts[2].starts_with("resource \"x\" \"c\""));
        for t in texts {
            hcl_edit::parser::parse_body(t).expect("each piece parses on its own");
        }
    }

    #[test]
    fn unbalanced_or_odd_text_is_not_split() {
        assert_eq!(split_top_level("a {\n", 4), vec![0..4]);
        assert_eq!(split_top_level("}\nb {}\n", 4), vec![0..7]);
        assert_eq!(split_top_level("a { s = \"open\n}\nb {}\n", 4).len(), 1);
        assert_eq!(split_top_level("a { h = <<EOT\nno end\n}\n", 4).len(), 1);
    }

    #[test]
    fn split_parsing_gives_the_same_blocks_and_locations_as_whole_parsing() {
        let mut text = String::new();
        while text.len() <= SPLIT_ABOVE {
            text.push_str(TRICKY);
        }
        let parse = |split: bool| {
            let mut sources = Sources::default();
            let mut diags = Diagnostics::default();
            let blocks = if split {
                parse_text("m.tf", &text, &mut sources, &mut diags)
            } else {
                let file = sources.add("m.tf", &text);
                let body = hcl_edit::parser::parse_body(&text).unwrap();
                convert_body(body, 0, &file, &sources).blocks
            };
            assert!(!diags.has_errors());
            blocks
                .iter()
                .map(|b| {
                    let a = b.body.attrs.first();
                    (
                        b.labels.clone(),
                        (b.range.line, b.range.col, b.range.start),
                        a.map(|a| (a.value_range.line, a.value_range.col, a.expr.clone())),
                    )
                })
                .collect::<Vec<_>>()
        };
        let whole = parse(false);
        assert!(whole.len() > 1000);
        assert_eq!(parse(true), whole);
    }

    #[test]
    fn a_syntax_error_in_a_large_file_is_located_in_the_whole_file() {
        let mut text = String::new();
        while text.len() <= SPLIT_ABOVE {
            text.push_str(TRICKY);
        }
        let lines = text.lines().count();
        text.push_str("resource \"x\" \"bad\" {\n  v = = 1\n}\n");
        let mut sources = Sources::default();
        let mut diags = Diagnostics::default();
        parse_text("m.tf", &text, &mut sources, &mut diags);
        let d = diags.sorted();
        assert_eq!(d.len(), 1);
        let r = d[0].range.as_ref().unwrap();
        assert_eq!(r.line, lines + 2, "{}", d[0].summary);
    }
}
