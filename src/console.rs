//! `runform console`: expressions evaluated against a stack's configuration and state, and
//! printed as `terraform console` prints them (`(known after apply)`, `(sensitive value)`,
//! `tolist([...])`, heredocs).

use crate::config::Env;
use crate::lang::eval::{EvalError, Evaluator};
use crate::lang::value::format_console;

/// The root module's scope of one loaded stack.
pub struct Session {
    scope: Env,
}

/// Why an expression gave no value, as the console reports it.
#[derive(Debug)]
pub struct ConsoleError {
    pub summary: String,
    pub detail: String,
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.is_empty() {
            write!(f, "error: {}", self.summary)
        } else {
            write!(f, "error: {}\n\n{}", self.summary, self.detail)
        }
    }
}

impl From<EvalError> for ConsoleError {
    fn from(e: EvalError) -> ConsoleError {
        ConsoleError {
            summary: e.summary,
            detail: e.detail,
        }
    }
}

impl Session {
    pub fn new(scope: Env) -> Session {
        Session { scope }
    }

    /// The value of one expression.
    pub fn value(&self, src: &str) -> Result<crate::lang::Value, ConsoleError> {
        let expr = parse_expression(src)?;
        let mut ev = Evaluator::new(&self.scope);
        ev.console = true;
        Ok(ev.eval(&expr)?)
    }

    /// One expression's value as the console prints it.
    pub fn eval(&self, src: &str) -> Result<String, ConsoleError> {
        self.value(src).map(|v| format_console(&v, 0))
    }
}

/// Parses one expression (which may span lines).
fn parse_expression(src: &str) -> Result<hcl::Expression, ConsoleError> {
    let src = src.trim();
    if src.is_empty() {
        return Err(ConsoleError {
            summary: "Missing expression".into(),
            detail: "Expected the start of an expression, but found the end of the file.".into(),
        });
    }
    let body: hcl::Body =
        hcl::from_str(&format!("console_input = {src}\n")).map_err(|e| ConsoleError {
            summary: "Invalid expression".into(),
            detail: e.to_string().replace("console_input = ", ""),
        })?;
    let mut attrs = body.attributes();
    match (attrs.next(), attrs.next(), body.blocks().next()) {
        (Some(a), None, None) => Ok(a.expr().clone()),
        _ => Err(ConsoleError {
            summary: "Extra characters after expression".into(),
            detail:
                "An expression was successfully parsed, but extra characters were found after it."
                    .into(),
        }),
    }
}

/// Whether `buf` holds a whole expression: every bracket closed, no heredoc or string left
/// open (the console then reads more lines before evaluating, as Terraform's does).
pub fn is_complete(buf: &str) -> bool {
    let mut depth: i64 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut heredoc: Option<String> = None;
    for line in buf.lines() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '<' if chars.peek() == Some(&'<') => {
                    chars.next();
                    let rest: String = chars.clone().collect();
                    let marker = rest.trim_start_matches('-').trim();
                    if !marker.is_empty() && marker.chars().all(|c| c.is_alphanumeric() || c == '_')
                    {
                        heredoc = Some(marker.to_string());
                        break;
                    }
                }
                '#' => break,
                '/' if chars.peek() == Some(&'/') => break,
                _ => {}
            }
        }
    }
    depth <= 0 && !in_string && heredoc.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_spanning_lines_are_read_whole() {
        assert!(is_complete("1 + 1"));
        assert!(!is_complete("[\n  1,"));
        assert!(is_complete("[\n  1,\n]"));
        assert!(!is_complete("\"a"));
        assert!(is_complete("\"(\""));
        assert!(!is_complete("<<EOT\nhello"));
        assert!(is_complete("<<EOT\nhello\nEOT"));
        assert!(is_complete("{ a = \"}\" }"));
    }

    #[test]
    fn values_print_as_the_terraform_console_prints_them() {
        let s = Session::new(Env::default());
        assert_eq!(s.eval("tolist([\"a\"])").unwrap(), "tolist([\n  \"a\",\n])");
        assert_eq!(s.eval("sensitive(1)").unwrap(), "(sensitive value)");
        assert_eq!(s.eval("\"a\\nb\"").unwrap(), "<<EOT\na\nb\nEOT");
        let e = s.eval("nope(1)").unwrap_err();
        assert!(
            e.to_string()
                .contains("There is no function named \"nope\""),
            "{e}"
        );
        assert!(s
            .eval("")
            .unwrap_err()
            .summary
            .contains("Missing expression"));
        assert!(s.eval("1 2").is_err());
    }
}
