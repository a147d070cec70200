//! How the command speaks: pm2's `[PM2]` prefixes, colours that only reach a terminal
//! (anstream drops them when the output is piped, with `NO_COLOR` or `--no-color`).

use anstyle::{AnsiColor, Style};
use std::sync::atomic::{AtomicBool, Ordering};

static SILENT: AtomicBool = AtomicBool::new(false);

/// `--silent`: no `[PM2]` chatter, only what was asked for.
pub fn set_silent(silent: bool) {
    SILENT.store(silent, Ordering::Relaxed);
}

pub fn is_silent() -> bool {
    SILENT.load(Ordering::Relaxed)
}

pub fn disable_colours() {
    anstream::ColorChoice::Never.write_global();
}

/// Is stdout a terminal that takes colours (for output built outside anstream, like `monit`)?
pub fn stdout_is_tty() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

pub const fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(anstyle::Color::Ansi(c)))
}
pub const GREEN: Style = fg(AnsiColor::Green);
pub const RED: Style = fg(AnsiColor::Red);
pub const YELLOW: Style = fg(AnsiColor::Yellow);
pub const GREY: Style = fg(AnsiColor::BrightBlack);
pub const BOLD: Style = Style::new().bold();
pub const CYAN_BOLD: Style = fg(AnsiColor::Cyan).bold();
pub const INVERSE_BOLD: Style = Style::new().invert().bold();
pub const DIM_ITALIC: Style = fg(AnsiColor::White).italic();

/// `text` in `style` (plain once anstream strips it).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// `[PM2] msg` on stdout.
pub fn info(msg: impl std::fmt::Display) {
    if !SILENT.load(Ordering::Relaxed) {
        anstream::println!("{}{msg}", paint(GREEN, "[PM2] "));
    }
}

/// A plain line on stdout, unless silent.
pub fn say(msg: impl std::fmt::Display) {
    if !SILENT.load(Ordering::Relaxed) {
        anstream::println!("{msg}");
    }
}

/// `[PM2][WARN] msg` on stdout, as pm2 prints it.
pub fn warn(msg: impl std::fmt::Display) {
    if !SILENT.load(Ordering::Relaxed) {
        anstream::println!("{}{msg}", paint(YELLOW, "[PM2][WARN] "));
    }
}

/// `[PM2][ERROR] msg` on stderr.
pub fn error(msg: impl std::fmt::Display) {
    anstream::eprintln!("{}{msg}", paint(RED, "[PM2][ERROR] "));
}

/// What the command prints on stdout, whatever `--silent` says (tables, JSON, ids).
pub fn print(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = anstream::stdout().lock();
    // A closed pipe (`pm2 jlist | head`) is not an error worth a message.
    let _ = writeln!(out, "{text}");
}

/// `text` on stdout as it is, with no newline added (pm2's `process.stdout.write`).
pub fn write(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = anstream::stdout().lock();
    let _ = write!(out, "{text}");
    let _ = out.flush();
}

/// pm2's `util.inspect` of an array of numbers: `[]`, `[ 0 ]`, `[ 1, 2 ]`.
pub fn inspect_ids(ids: &[u64]) -> String {
    if ids.is_empty() {
        return "[]".into();
    }
    let inner: Vec<String> = ids.iter().map(u64::to_string).collect();
    format!("[ {} ]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_node_inspects_them() {
        assert_eq!(inspect_ids(&[]), "[]");
        assert_eq!(inspect_ids(&[0]), "[ 0 ]");
        assert_eq!(inspect_ids(&[1, 2]), "[ 1, 2 ]");
    }
}
