//! `runform fmt`: the canonical layout `terraform fmt` produces (hclwrite's rules): two-space
//! indentation by bracket nesting, single spaces between tokens except around `.`, inside
//! brackets, before `,`, after unary `-`/`!` and within templates, `=` aligned across runs of
//! single-line attributes, trailing comments aligned, interpolation-only values unwrapped
//! (`"${var.x}"` → `var.x`), legacy quoted variable types unquoted. Heredoc bodies and
//! comments are kept as written.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Newline,
    /// `# ...`, `// ...` (without the newline) or `/* ... */`.
    Comment(String),
    Ident(String),
    Number(String),
    OQuote,
    QuotedLit(String),
    /// `${` or `${~` / `%{` or `%{~`.
    TemplateOpen(String),
    /// `}` or `~}` closing a template sequence.
    TemplateClose(String),
    CQuote,
    /// A whole heredoc: the opener (`<<-EOT`) and the verbatim body through the closing marker.
    Heredoc(String, String),
    Punct(&'static str),
}

const PUNCTS: &[&str] = &[
    "...", "==", "!=", "<=", ">=", "=>", "&&", "||", "{", "}", "[", "]", "(", ")", ",", "=", "<",
    ">", "+", "-", "*", "/", "%", "!", "?", ":", ".",
];

fn bracket_change(t: &Tok) -> i32 {
    match t {
        Tok::Punct("{" | "[" | "(") | Tok::TemplateOpen(_) => 1,
        Tok::Punct("}" | "]" | ")") | Tok::TemplateClose(_) => -1,
        _ => 0,
    }
}

/// Splits HCL source into tokens; `Err` names the line of an unterminated construct.
fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // For each open `${`: the brace depth inside it; a quote resumes when it closes.
    let mut interp_depth: Vec<usize> = Vec::new();
    let line_of = |i: usize| {
        chars[..i.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count()
            + 1
    };
    let peek = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    // Lexes a quoted template's literal parts until `"` or an interpolation opens.
    let quoted = |i: &mut usize, out: &mut Vec<Tok>| -> Result<bool, String> {
        let start = *i;
        let mut lit = String::new();
        while *i < chars.len() {
            let c = chars[*i];
            if c == '\\' {
                lit.push(c);
                if let Some(n) = chars.get(*i + 1) {
                    lit.push(*n);
                }
                *i += 2;
                continue;
            }
            if (c == '$' || c == '%') && chars.get(*i + 1) == Some(&'{') {
                // `$${` and `%%{` are escapes.
                if lit.ends_with(c) && (*i == 0 || chars[*i - 1] == c) {
                    let count = lit.chars().rev().take_while(|x| *x == c).count();
                    if count % 2 == 1 {
                        lit.push(c);
                        lit.push('{');
                        *i += 2;
                        continue;
                    }
                }
                if !lit.is_empty() {
                    out.push(Tok::QuotedLit(std::mem::take(&mut lit)));
                }
                let tilde = chars.get(*i + 2) == Some(&'~');
                out.push(Tok::TemplateOpen(format!(
                    "{c}{{{}",
                    if tilde { "~" } else { "" }
                )));
                *i += if tilde { 3 } else { 2 };
                return Ok(true);
            }
            if c == '"' {
                if !lit.is_empty() {
                    out.push(Tok::QuotedLit(lit));
                }
                out.push(Tok::CQuote);
                *i += 1;
                return Ok(false);
            }
            if c == '\n' {
                return Err(format!("line {}: unterminated string", line_of(start)));
            }
            lit.push(c);
            *i += 1;
        }
        Err(format!("line {}: unterminated string", line_of(start)))
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\r' && chars.get(i + 1) == Some(&'\n') {
            i += 1;
            continue;
        }
        if c == '\n' {
            out.push(Tok::Newline);
            i += 1;
            continue;
        }
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if c == '#' || peek(i, "//") {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Comment(text.trim_end().to_string()));
            continue;
        }
        if peek(i, "/*") {
            let start = i;
            i += 2;
            while i < chars.len() && !peek(i, "*/") {
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("line {}: unterminated comment", line_of(start)));
            }
            i += 2;
            out.push(Tok::Comment(chars[start..i].iter().collect()));
            continue;
        }
        if c == '"' {
            out.push(Tok::OQuote);
            i += 1;
            if quoted(&mut i, &mut out)? {
                interp_depth.push(0);
            }
            continue;
        }
        if peek(i, "<<")
            && chars
                .get(i + 2)
                .is_some_and(|c| *c == '-' || c.is_alphabetic() || *c == '_')
        {
            let start = i;
            let mut j = i + 2;
            let dash = chars.get(j) == Some(&'-');
            if dash {
                j += 1;
            }
            let ms = j;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let marker: String = chars[ms..j].iter().collect();
            if marker.is_empty() || chars.get(j) != Some(&'\n') {
                return Err(format!("line {}: invalid heredoc opener", line_of(start)));
            }
            let opener: String = chars[start..j].iter().collect();
            // The body runs to a line that is (after leading spaces) exactly the marker.
            let mut k = j + 1;
            let body_start = k;
            loop {
                if k >= chars.len() {
                    return Err(format!(
                        "line {}: heredoc {marker} is never closed",
                        line_of(start)
                    ));
                }
                let ls = k;
                while k < chars.len() && chars[k] != '\n' {
                    k += 1;
                }
                let line: String = chars[ls..k].iter().collect();
                if line.trim_start().trim_end_matches('\r') == marker {
                    let body: String = chars[body_start..k].iter().collect();
                    out.push(Tok::Heredoc(
                        opener,
                        format_heredoc_templates(body.trim_end_matches('\r')),
                    ));
                    i = k;
                    break;
                }
                k += 1;
            }
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            {
                i += 1;
            }
            out.push(Tok::Number(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        // Inside an interpolation, braces nest; the closing one returns to the quote.
        if let Some(depth) = interp_depth.last_mut() {
            if c == '{' {
                *depth += 1;
            } else if c == '}' || (c == '~' && chars.get(i + 1) == Some(&'}')) {
                if *depth == 0 {
                    let tilde = c == '~';
                    out.push(Tok::TemplateClose(if tilde {
                        "~}".into()
                    } else {
                        "}".into()
                    }));
                    i += if tilde { 2 } else { 1 };
                    interp_depth.pop();
                    if !quoted(&mut i, &mut out)? {
                        continue;
                    }
                    interp_depth.push(0);
                    continue;
                }
                *depth -= 1;
            }
        }
        match PUNCTS.iter().find(|p| peek(i, p)) {
            Some(p) => {
                out.push(Tok::Punct(p));
                i += p.chars().count();
            }
            None => return Err(format!("line {}: unexpected character {c:?}", line_of(i))),
        }
    }
    Ok(out)
}

/// A heredoc body as `terraform fmt` leaves it: the text as written, with each template
/// sequence's expression (`${ var.a }`, `%{ for x in l }`) spaced as in a quoted string.
/// A sequence that spans lines or does not lex is kept as written.
fn format_heredoc_templates(body: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = (c == '$' || c == '%') && chars.get(i + 1) == Some(&'{');
        if !opens {
            out.push(c);
            i += 1;
            continue;
        }
        // `$${` and `%%{` are escapes: the text `${` / `%{`.
        if i > 0 && chars[i - 1] == c {
            let run = chars[..i].iter().rev().take_while(|x| **x == c).count();
            if run % 2 == 1 {
                out.push(c);
                i += 1;
                continue;
            }
        }
        match template_sequence(&chars, i) {
            Some((formatted, end)) => {
                out.push_str(&formatted);
                i = end;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The template sequence opening at `start` (`${` or `%{`), formatted, and the index after
/// its closing brace; `None` when it does not close on its line or does not lex.
fn template_sequence(chars: &[char], start: usize) -> Option<(String, usize)> {
    let open_tilde = chars.get(start + 2) == Some(&'~');
    let inner_start = start + if open_tilde { 3 } else { 2 };
    let mut depth = 0usize;
    let mut quote = false;
    let mut k = inner_start;
    while k < chars.len() {
        let c = chars[k];
        match c {
            '\n' => return None,
            '\\' if quote => k += 1,
            '"' => quote = !quote,
            '{' if !quote => depth += 1,
            '}' if !quote && depth > 0 => depth -= 1,
            '}' if !quote => break,
            _ => {}
        }
        k += 1;
    }
    if k >= chars.len() {
        return None;
    }
    let close_tilde = k > inner_start && chars[k - 1] == '~';
    let inner_end = if close_tilde { k - 1 } else { k };
    let inner: String = chars[inner_start..inner_end].iter().collect();
    let toks = lex(&inner).ok()?;
    if toks.contains(&Tok::Newline) {
        return None;
    }
    let mut text = String::new();
    for (n, tok) in toks.iter().enumerate() {
        if n > 0 && space_after(&toks[n - 1], n.checked_sub(2).map(|b| &toks[b]), tok) {
            text.push(' ');
        }
        text.push_str(&render(tok));
    }
    let formatted = format!(
        "{}{{{}{text}{}}}",
        chars[start],
        if open_tilde { "~" } else { "" },
        if close_tilde { "~" } else { "" }
    );
    Some((formatted, k + 1))
}

fn render(t: &Tok) -> String {
    match t {
        Tok::Newline => "\n".into(),
        Tok::Comment(s) | Tok::Ident(s) | Tok::Number(s) | Tok::QuotedLit(s) => s.clone(),
        Tok::TemplateOpen(s) | Tok::TemplateClose(s) => s.clone(),
        Tok::OQuote | Tok::CQuote => "\"".into(),
        Tok::Heredoc(open, body) => format!("{open}\n{body}"),
        Tok::Punct(p) => p.to_string(),
    }
}

/// Whether a space goes between `subject` and `after` (`before` precedes `subject`).
fn space_after(subject: &Tok, before: Option<&Tok>, after: &Tok) -> bool {
    use Tok::*;
    let is_op = |t: Option<&Tok>, ops: &[&str]| matches!(t, Some(Punct(p)) if ops.contains(p));
    match (subject, after) {
        (Ident(_), Punct("(")) => false,
        (Punct("."), _) | (_, Punct(".")) => false,
        (_, Punct("," | "...")) => false,
        (Punct(","), _) => true,
        (OQuote | QuotedLit(_), _) | (_, QuotedLit(_) | CQuote) => false,
        // Adjacent template sequences (`"${a}${b}"`, `%{if x}${y}%{endif}`) are string
        // contents: a space between them would change the string.
        (TemplateClose(_), TemplateOpen(_)) => false,
        (Heredoc(..), _) => true,
        (Ident(k), _) if k == "in" && matches!(before, Some(Ident(_))) => true,
        (Ident(_) | Number(_), Punct("[")) => false,
        (s, Punct("[")) if bracket_change(s) < 0 || *s == CQuote => false,
        (Punct("-"), _) => {
            // Negation (no space) unless what precedes ends an expression.
            match before {
                None => false,
                Some(Punct(_))
                    if is_op(
                        before,
                        &[
                            "(", "{", "[", "=", ":", ",", "?", "+", "*", "/", "%", "-", "==", "!=",
                            ">", ">=", "<", "<=", "&&", "||", "!",
                        ],
                    ) =>
                {
                    false
                }
                Some(TemplateOpen(_)) => false,
                _ => true,
            }
        }
        (Punct("{"), Punct("}")) => false,
        (Punct("{"), _) | (_, Punct("}")) => true,
        (TemplateOpen(_), Punct("{")) => true,
        (Punct("}"), TemplateClose(_)) => true,
        (s, _) if bracket_change(s) > 0 => false,
        (_, a) if bracket_change(a) < 0 => false,
        (Punct("!"), _) => false,
        _ => true,
    }
}

struct Line {
    toks: Vec<Tok>,
    /// Index of the `=` that starts the assign cell, if this is a single-line attribute.
    assign: Option<usize>,
    comment: bool,
    indent: usize,
}

fn width(toks: &[Tok], prev: Option<&Tok>) -> usize {
    let mut w = 0;
    let mut before = prev;
    for (k, t) in toks.iter().enumerate() {
        if k > 0 && space_after(&toks[k - 1], before, t) {
            w += 1;
        }
        if k > 0 {
            before = Some(&toks[k - 1]);
        }
        w += render(t).chars().count();
    }
    w
}

/// `"${ expr }"` as a whole attribute value → `expr` (what `terraform fmt` does).
fn unwrap_interpolation(toks: &mut Vec<Tok>) {
    let Some(eq) = toks.iter().position(|t| *t == Tok::Punct("=")) else {
        return;
    };
    if eq == 0 || toks.len() < eq + 5 {
        return;
    }
    let v = &toks[eq + 1..];
    let ends_ok = v.first() == Some(&Tok::OQuote)
        && matches!(v.get(1), Some(Tok::TemplateOpen(o)) if o == "${")
        && v.last() == Some(&Tok::CQuote)
        && matches!(v.get(v.len() - 2), Some(Tok::TemplateClose(c)) if c == "}");
    if !ends_ok {
        return;
    }
    // Only when the sequence opened at the start closes at the end.
    let inner = &v[2..v.len() - 2];
    let mut depth = 0;
    for t in inner {
        depth += bracket_change(t);
        if depth < 0 {
            return;
        }
    }
    if depth != 0 || inner.is_empty() {
        return;
    }
    let inner = inner.to_vec();
    toks.truncate(eq + 1);
    toks.extend(inner);
}

/// Formats HCL source the way `terraform fmt` does.
pub fn format(src: &str) -> Result<String, String> {
    let toks = lex(src)?;
    let mut lines: Vec<Line> = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    for t in toks {
        if t == Tok::Newline {
            lines.push(Line {
                toks: std::mem::take(&mut cur),
                assign: None,
                comment: false,
                indent: 0,
            });
        } else {
            cur.push(t);
        }
    }
    let trailing_newline = src.ends_with('\n');
    if !cur.is_empty() || !trailing_newline {
        lines.push(Line {
            toks: cur,
            assign: None,
            comment: false,
            indent: 0,
        });
    }
    // Cells: the assign cell of single-line attributes, and trailing comments.
    let mut in_type_of_variable = false;
    for line in lines.iter_mut() {
        if matches!(line.toks.first(), Some(Tok::Ident(k)) if k == "variable") {
            in_type_of_variable = true;
        }
        // Legacy quoted type constraints: type = "string" → type = string.
        if in_type_of_variable
            && matches!(line.toks.as_slice(), [Tok::Ident(k), Tok::Punct("="), Tok::OQuote, Tok::QuotedLit(_), Tok::CQuote] if k == "type")
        {
            if let Tok::QuotedLit(t) = line.toks[3].clone() {
                if ["string", "number", "bool", "list", "map", "set", "any"].contains(&t.as_str()) {
                    let legacy = match t.as_str() {
                        "list" => "list(string)".to_string(),
                        "map" => "map(string)".to_string(),
                        other => other.to_string(),
                    };
                    line.toks.truncate(2);
                    line.toks.push(Tok::Ident(legacy));
                }
            }
        }
        if matches!(line.toks.first(), Some(Tok::Ident(_))) {
            unwrap_interpolation(&mut line.toks);
        }
        line.comment = line.toks.len() > 1 && matches!(line.toks.last(), Some(Tok::Comment(_)));
        for (k, t) in line.toks.iter().enumerate() {
            if k > 0 && *t == Tok::Punct("=") {
                let mut net = 0;
                for x in &line.toks[k..] {
                    net += bracket_change(x);
                    if matches!(x, Tok::Heredoc(..)) {
                        break;
                    }
                }
                if net == 0 {
                    line.assign = Some(k);
                }
                break;
            }
        }
    }
    // Indentation by bracket nesting (hclwrite's indent stack).
    let mut indents: Vec<i32> = Vec::new();
    for line in lines.iter_mut() {
        if line.toks.is_empty() {
            continue;
        }
        let mut net = 0;
        for t in &line.toks {
            net += bracket_change(t);
        }
        if net > 0 {
            line.indent = 2 * indents.len();
            indents.push(net);
        } else if net < 0 {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = indents.last_mut() else { break };
                if closed > *top {
                    closed -= *top;
                    indents.pop();
                } else if closed < *top {
                    *top -= closed;
                    closed = 0;
                } else {
                    indents.pop();
                    closed = 0;
                }
            }
            line.indent = 2 * indents.len();
        } else {
            line.indent = 2 * indents.len();
        }
    }
    // Align `=` across runs of assign lines, then trailing comments across runs.
    let n = lines.len();
    let mut eq_pad = vec![1usize; n];
    let mut i = 0;
    while i < n {
        if lines[i].assign.is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && lines[i].assign.is_some() {
            i += 1;
        }
        let lead_w = |l: &Line| l.indent + width(&l.toks[..l.assign.unwrap_or(0)], None);
        let max = (start..i).map(|k| lead_w(&lines[k])).max().unwrap_or(0);
        for (k, pad) in eq_pad.iter_mut().enumerate().take(i).skip(start) {
            *pad = max - lead_w(&lines[k]) + 1;
        }
    }
    let render_line = |l: &Line, pad: usize, comment_pad: Option<usize>| -> String {
        let mut s = " ".repeat(l.indent);
        let body_end = if l.comment {
            l.toks.len() - 1
        } else {
            l.toks.len()
        };
        for k in 0..body_end {
            let t = &l.toks[k];
            if k > 0 {
                if Some(k) == l.assign {
                    s.push_str(&" ".repeat(pad));
                } else if space_after(
                    &l.toks[k - 1],
                    if k > 1 { Some(&l.toks[k - 2]) } else { None },
                    t,
                ) {
                    s.push(' ');
                }
            }
            s.push_str(&render(t));
        }
        if l.comment {
            s.push_str(&" ".repeat(comment_pad.unwrap_or(1)));
            s.push_str(&render(&l.toks[body_end]));
        }
        s
    };
    let mut comment_pad = vec![None; n];
    let mut i = 0;
    while i < n {
        if !lines[i].comment {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && lines[i].comment {
            i += 1;
        }
        let body_w = |k: usize| {
            let l = &lines[k];
            let mut copy = Line {
                toks: l.toks[..l.toks.len() - 1].to_vec(),
                assign: l.assign,
                comment: false,
                indent: l.indent,
            };
            if copy.assign.is_some_and(|a| a >= copy.toks.len()) {
                copy.assign = None;
            }
            render_line(&copy, eq_pad[k], None).chars().count()
        };
        let max = (start..i).map(body_w).max().unwrap_or(0);
        for (k, pad) in comment_pad.iter_mut().enumerate().take(i).skip(start) {
            *pad = Some(max - body_w(k) + 1);
        }
    }
    let mut out = String::with_capacity(src.len());
    for (k, l) in lines.iter().enumerate() {
        out.push_str(render_line(l, eq_pad[k], comment_pad[k]).trim_end_matches(' '));
        if k + 1 < n || trailing_newline {
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn spacing_indentation_and_alignment_follow_terraform_fmt() {
        let input = r#"resource "google_cloud_run_v2_job" "etl" {
name="etl"
    location = "us-central1" # where
  deletion_protection=false  // no
labels = {team="data",
"example.com/owner"="infra"}
  template {
 task_count=var.n*2
   parallelism = -1
    template{
containers {
image=local.images["etl"]
args = ["a","b",  "c"]
command = concat(["/bin/sh"],["-c"])
env {
name = "X"
value = "${var.x}"
}
}
}
  }
}
"#;
        let want = r#"resource "google_cloud_run_v2_job" "etl" {
  name                = "etl"
  location            = "us-central1" # where
  deletion_protection = false         // no
  labels = { team = "data",
  "example.com/owner" = "infra" }
  template {
    task_count  = var.n * 2
    parallelism = -1
    template {
      containers {
        image   = local.images["etl"]
        args    = ["a", "b", "c"]
        command = concat(["/bin/sh"], ["-c"])
        env {
          name  = "X"
          value = var.x
        }
      }
    }
  }
}
"#;
        assert_eq!(format(input).unwrap(), want);
        // Formatting is idempotent.
        assert_eq!(format(want).unwrap(), want);
    }

    #[test]
    fn templates_heredocs_for_expressions_and_types() {
        let input = r#"variable "v" {
  type = "string"
  default = "a-${upper( var.x )}-b"
}
locals {
  m = {for k,v in var.m: k=>v if v!=""}
  l = [for x in var.l: x...]
  s = "$${literal} and ${a.b[0]}"
  c = var.a ? 1 : -2
  neg = !var.b
  splat = var.l[*].name
  o = {}
}
output "doc" {
  value = <<-EOT
      keep   this
    ${var.x}
  EOT
}
"#;
        let want = r#"variable "v" {
  type    = string
  default = "a-${upper(var.x)}-b"
}
locals {
  m     = { for k, v in var.m : k => v if v != "" }
  l     = [for x in var.l : x...]
  s     = "$${literal} and ${a.b[0]}"
  c     = var.a ? 1 : -2
  neg   = !var.b
  splat = var.l[*].name
  o     = {}
}
output "doc" {
  value = <<-EOT
      keep   this
    ${var.x}
  EOT
}
"#;
        assert_eq!(format(input).unwrap(), want);
        assert_eq!(format(want).unwrap(), want);
    }

    #[test]
    fn unterminated_input_is_an_error_with_a_line() {
        assert!(format("a = \"x\n").unwrap_err().contains("line 1"));
        assert!(format("a = <<EOT\nno end\n")
            .unwrap_err()
            .contains("never closed"));
    }
}
