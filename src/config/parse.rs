//! Reads `.tf` / `.hcl` files with hcl-edit (keeping spans) into raw blocks and attributes
//! whose expressions are `hcl::Expression`s ready for evaluation.

use crate::diag::{Diagnostic, Diagnostics, Range, Sources};
use hcl_edit::Span;
use std::collections::BTreeMap;
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
    pub item_ranges: BTreeMap<String, Range>,
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

/// Parses one file's text.
pub fn parse_text(
    name: &str,
    text: &str,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Vec<RawBlock> {
    let file = sources.add(name, text);
    match hcl_edit::parser::parse_body(text) {
        Ok(body) => {
            let raw = convert_body(&body, &file, sources);
            for a in raw.attrs {
                diags.push(Diagnostic::error(
                    format!(
                        "unexpected attribute {:?} at the top level; only blocks are allowed here",
                        a.name
                    ),
                    Some(a.range),
                ));
            }
            raw.blocks
        }
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
            Vec::new()
        }
    }
}

fn span_of(sources: &Sources, file: &Arc<str>, s: Option<std::ops::Range<usize>>) -> Range {
    sources.range(file, s.unwrap_or(0..0))
}

fn convert_body(body: &hcl_edit::structure::Body, file: &Arc<str>, sources: &Sources) -> RawBody {
    let mut out = RawBody::default();
    for s in body.iter() {
        match s {
            hcl_edit::structure::Structure::Attribute(a) => {
                let mut item_ranges = BTreeMap::new();
                if let hcl_edit::expr::Expression::Object(obj) = &a.value {
                    for (k, v) in obj.iter() {
                        let key = match k {
                            hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_string(),
                            hcl_edit::expr::ObjectKey::Expression(
                                hcl_edit::expr::Expression::String(s),
                            ) => s.as_str().to_string(),
                            _ => continue,
                        };
                        item_ranges.insert(key, span_of(sources, file, v.expr().span()));
                    }
                }
                out.attrs.push(RawAttr {
                    name: a.key.as_str().to_string(),
                    expr: hcl::Expression::from(a.value.clone()),
                    range: span_of(sources, file, a.span()),
                    value_range: span_of(sources, file, a.value.span()),
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
                    body: convert_body(&b.body, file, sources),
                    range: sources.range(file, start..end),
                });
            }
        }
    }
    out
}
