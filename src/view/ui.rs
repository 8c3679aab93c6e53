//! Settings of the command line's output that every command shares (`-no-color`,
//! `--quiet`, `-input=false`), set once from the flags before the command runs.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Colors where the output is a terminal (`-no-color` turns them off).
    pub color: bool,
    /// Task log lines are not streamed while executions run (`--quiet`).
    pub quiet: bool,
    /// Questions may be asked on a terminal (`-input=false` forbids them).
    pub input: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            color: true,
            quiet: false,
            input: true,
        }
    }
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Sets the settings for this process (the first call wins).
pub fn set_ui(u: Ui) {
    let _ = UI.set(u);
}

/// This process's settings (the defaults in a library caller that set none).
pub fn ui() -> Ui {
    UI.get().copied().unwrap_or_default()
}
