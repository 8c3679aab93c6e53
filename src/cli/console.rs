//! `runform console`: evaluate expressions against the configuration and state.

use super::args::{is_local, TargetArgs};
use crate::ops::{self, LoadArgs};
use std::io::IsTerminal;
use std::path::Path;

/// `runform console`: reads expressions from stdin (an expression may span lines) and prints
/// each one's value. Without a terminal, the first error ends it with exit code 1.
pub(super) async fn console_cmd(
    dir: &Path,
    mut args: LoadArgs,
    target: &TargetArgs,
    plan: bool,
) -> anyhow::Result<i32> {
    use std::io::BufRead;
    let target = &super::target::day2(dir, target);
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    let r = async {
        let state = t.state_file.load()?;
        args.console = Some(if plan {
            crate::config::ConsoleMode::Plan
        } else {
            crate::config::ConsoleMode::State
        });
        let (stack, diags, sources) = ops::load_stack(dir, &args, Some(&state), Some(&t.client));
        eprint!("{}", sources.render_all(&diags));
        let Some(stack) = stack else {
            return Ok(1);
        };
        let session = crate::console::Session::new(stack.console_scope.unwrap_or_default());
        let interactive = std::io::stdin().is_terminal();
        let prompt = |more: bool| {
            if interactive {
                eprint!("{}", if more { "  " } else { "> " });
            }
        };
        let mut buf = String::new();
        prompt(false);
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if buf.is_empty() && line.trim() == "exit" {
                break;
            }
            buf.push_str(&line);
            buf.push('\n');
            if !crate::console::is_complete(&buf) {
                prompt(true);
                continue;
            }
            let src = std::mem::take(&mut buf);
            if !src.trim().is_empty() {
                match session.eval(&src) {
                    Ok(shown) => println!("{shown}"),
                    Err(e) => {
                        let mut text = e.to_string();
                        for v in stack.sensitive_values.iter().filter(|v| v.len() >= 3) {
                            text = text.replace(v.as_str(), "(sensitive value)");
                        }
                        eprintln!("{text}");
                        if !interactive {
                            return Ok(1);
                        }
                    }
                }
            }
            prompt(false);
        }
        if !buf.trim().is_empty() {
            eprintln!("error: missing expression: the input ended inside an unfinished expression");
            return Ok(1);
        }
        Ok(0)
    }
    .await;
    t.stop().await;
    r
}
