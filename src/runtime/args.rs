//! `pm2-runtime`'s command line (`pm2-runtime [start] <script|config>`): the start flags
//! pm2-runtime takes, defined once with `pm2 start`'s, and its own.

use serde_json::{Map, Value};

use crate::cli::start_flags;

/// The start flags pm2-runtime takes (pm2's own pm2-runtime takes these).
const START_FLAGS: &[&str] = &[
    "instances", "name", "node-args", "interpreter", "max-memory-restart", "cron-restart", "watch",
    "no-autorestart", "no-autostart", "stop-exit-codes", "output", "error",
];

/// What to run and how to show it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// A script or a config file (`.json`, `.yml`, `.config.js`, ...).
    pub target: String,
    /// Arguments after `--`, for the script.
    pub script_args: Vec<String>,
    /// The start options the start flags set (`name`, `instances`, `out_file`, ...).
    pub app: Map<String, Value>,
    pub no_auto_exit: bool,
    pub only: Option<String>,
    /// `--env name`: the config's `env_<name>` on top of `env`.
    pub env: Option<String>,
    pub format: Format,
    /// `--web [port]`: the HTTP endpoints' address (`9615` unless given).
    pub web: Option<String>,
}

/// How app output is written.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub enum Format {
    /// The lines as the app wrote them (pm2-runtime's default).
    #[default]
    Raw,
    /// `id|name | line` (`--formatted`).
    Prefixed,
    /// One JSON object per line (`--json`).
    Json,
    /// `key=value` pairs (`--format`).
    KeyValue,
}

#[derive(Debug)]
pub enum Parsed {
    Run(Options),
    Help,
    Version,
}

/// `pm2-runtime --help`.
pub fn usage() -> String {
    format!(
        "Usage: pm2-runtime [start] <app.js|config file> [options] [-- app arguments]

Runs the apps in the foreground, their output on stdout/stderr, as a container's entry point.

{}  --no-auto-exit                    keep running when every app has stopped
  --only <names>                    only these apps of a config file (comma separated)
  --env <name>                      the config's env_<name> on top of env
  --raw                             app output as written (the default)
  --formatted                       app output prefixed with id|name
  --json                            app output as JSON lines
  --format                          app output as key=value lines
  --web [port|host:port]            serve /healthz, /readyz, /metrics, / and /dashboard (default 9615, on 127.0.0.1)
  -v, --version                     print the version
  -h, --help                        print this help",
        start_flags::help(START_FLAGS)
    )
}

/// Flags of pm2-runtime that have no effect here (monitoring services, tracing): accepted.
const IGNORED_WITH_VALUE: [&str; 4] = ["--secret", "--public", "--machine-name", "--delay"];
const IGNORED: [&str; 3] = ["--trace", "--v8", "--deep-monitoring"];

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut target = None;
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> { inline.clone().or_else(|| args.next()).ok_or_else(|| format!("option {flag} needs a value")) };
        if let Some(start_flag) = start_flags::find(&flag, START_FLAGS) {
            let given = if start_flag.takes_value() { Some(value()?) } else { inline };
            o.app.insert(start_flag.key.to_string(), start_flag.value(given.as_deref()));
            continue;
        }
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "-V" | "--version" => return Ok(Parsed::Version),
            "--only" => o.only = Some(value()?),
            "--no-auto-exit" => o.no_auto_exit = true,
            "--auto-exit" => {}
            "--raw" => o.format = Format::Raw,
            "--formatted" => o.format = Format::Prefixed,
            "--json" => o.format = Format::Json,
            "--format" => o.format = Format::KeyValue,
            // Optional values: taken only when the next word is one.
            "--env" => o.env = inline.or_else(|| args.next_if(|a| !a.starts_with('-') && !looks_like_target(a))),
            "--web" => {
                let port = inline.or_else(|| args.next_if(|a| crate::daemon::http::address(a).is_ok()));
                o.web = Some(port.unwrap_or_else(|| crate::daemon::http::DEFAULT_PORT.to_string()));
            }
            "--" => {
                o.script_args.extend(args.by_ref());
            }
            f if IGNORED_WITH_VALUE.contains(&f) => {
                if inline.is_none() {
                    args.next_if(|a| !a.starts_with('-'));
                }
            }
            f if IGNORED.contains(&f) => {}
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option {f} (see pm2-runtime --help)")),
            "start" if target.is_none() && o.target.is_empty() && args.peek().is_some() => {}
            _ if target.is_none() => target = Some(arg),
            _ => o.script_args.push(arg),
        }
    }
    o.target = target.ok_or("no script or config file given (see pm2-runtime --help)")?;
    Ok(Parsed::Run(o))
}

/// `--env production app.js` vs `--env app.js`: a word with an extension is the target.
fn looks_like_target(word: &str) -> bool {
    word.contains('.') || word.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Parsed::Run(o) => o,
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn start_is_optional_and_flags_go_anywhere() {
        let o = run(&["start", "app.js", "-i", "2", "--web", "--no-auto-exit"]);
        assert_eq!((o.target.as_str(), &o.app["instances"], o.web.as_deref(), o.no_auto_exit), ("app.js", &serde_json::json!("2"), Some("9615"), true));
        let o = run(&["--web", "0.0.0.0:8080", "--json", "app.js", "--", "a", "-b"]);
        assert_eq!((o.target.as_str(), o.web.as_deref(), o.format, o.script_args.clone()), ("app.js", Some("0.0.0.0:8080"), Format::Json, vec!["a".into(), "-b".into()]));
        assert_eq!(run(&["start"]).target, "start");
    }

    #[test]
    fn start_flags_set_the_options_pm2_start_sets() {
        use serde_json::json;
        let o = run(&["-n", "api", "--cron", "0 * * * *", "--watch", "--no-autorestart", "--stop-exit-codes", "0,3", "-o", "out.log", "app.js"]);
        assert_eq!(
            Value::Object(o.app),
            json!({"name": "api", "cron_restart": "0 * * * *", "watch": true, "autorestart": false, "stop_exit_codes": [0, 3], "out_file": "out.log"})
        );
        assert_eq!(o.target, "app.js", "--watch takes no value here");
        assert!(parse(["--max-restarts".to_string(), "3".into(), "app.js".into()]).unwrap_err().contains("--max-restarts"), "a start flag pm2-runtime does not take");
    }

    #[test]
    fn optional_values_do_not_swallow_the_target() {
        let o = run(&["--web", "app.js"]);
        assert_eq!((o.target.as_str(), o.web.as_deref()), ("app.js", Some("9615")));
        let o = run(&["--env", "production", "ecosystem.config.js"]);
        assert_eq!((o.target.as_str(), o.env.as_deref()), ("ecosystem.config.js", Some("production")));
        assert_eq!(run(&["--env=staging", "app.json"]).env.as_deref(), Some("staging"));
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(parse(["--bogus".to_string(), "app.js".into()]).unwrap_err().contains("--bogus"));
        assert!(parse(["-i".to_string()]).unwrap_err().contains("-i"));
        assert!(parse(Vec::<String>::new()).unwrap_err().contains("no script"));
    }
}
