//! `pm2-runtime`'s command line: pm2-runtime's flags (`pm2-runtime [start] <script|config>`).

/// What to run and how to show it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// A script or a config file (`.json`, `.yml`, `.config.js`, ...).
    pub target: String,
    /// Arguments after `--`, for the script.
    pub script_args: Vec<String>,
    pub instances: Option<String>,
    pub name: Option<String>,
    pub node_args: Option<String>,
    pub max_memory_restart: Option<String>,
    pub interpreter: Option<String>,
    pub cron: Option<String>,
    pub watch: bool,
    pub no_autorestart: bool,
    pub no_auto_exit: bool,
    pub only: Option<String>,
    /// `--env name`: the config's `env_<name>` on top of `env`.
    pub env: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
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

pub const USAGE: &str = "Usage: pm2-runtime [start] <app.js|config file> [options] [-- app arguments]

Runs the apps in the foreground, their output on stdout/stderr, as a container's entry point.

  -i, --instances <n>         instances (cluster mode for Node apps; 'max' for one per core)
  -n, --name <name>           the app's name
  --node-args <args>          arguments for node
  --interpreter <program>     the program that runs the script
  --max-memory-restart <mem>  restart past this memory (e.g. 300M)
  -c, --cron <pattern>        restart on this schedule
  --watch                     restart on file change
  --no-autorestart            do not restart apps that exit
  --no-auto-exit              keep running when every app has stopped
  --only <names>              only these apps of a config file (comma separated)
  --env <name>                the config's env_<name> on top of env
  --output <path>             also write app stdout to this file
  --error <path>              also write app stderr to this file
  --raw                       app output as written (the default)
  --formatted                 app output prefixed with id|name
  --json                      app output as JSON lines
  --format                    app output as key=value lines
  --web [port|host:port]      serve /healthz, /readyz, /metrics and / (default 9615, on 127.0.0.1)
  -v, --version               print the version
  -h, --help                  print this help";

/// Flags of pm2-runtime that have no effect here (monitoring services, tracing): accepted.
const IGNORED_WITH_VALUE: [&str; 4] = ["--secret", "--public", "--machine-name", "--delay"];
const IGNORED: [&str; 4] = ["--trace", "--v8", "--deep-monitoring", "--no-autostart"];

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut target = None;
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("option {flag} needs {what}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-v" | "-V" | "--version" => return Ok(Parsed::Version),
            "-i" | "--instances" => o.instances = Some(value("a number")?),
            "-n" | "--name" => o.name = Some(value("a name")?),
            "--node-args" | "--node_args" => o.node_args = Some(value("arguments")?),
            "--interpreter" => o.interpreter = Some(value("a program")?),
            "--max-memory-restart" => o.max_memory_restart = Some(value("a size")?),
            "-c" | "--cron" | "--cron-restart" => o.cron = Some(value("a cron pattern")?),
            "--only" => o.only = Some(value("app names")?),
            "--output" | "-o" => o.output = Some(value("a path")?),
            "--error" | "-e" => o.error = Some(value("a path")?),
            "--watch" => o.watch = true,
            "--no-autorestart" => o.no_autorestart = true,
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
        assert_eq!((o.target.as_str(), o.instances.as_deref(), o.web.as_deref(), o.no_auto_exit), ("app.js", Some("2"), Some("9615"), true));
        let o = run(&["--web", "0.0.0.0:8080", "--json", "app.js", "--", "a", "-b"]);
        assert_eq!((o.target.as_str(), o.web.as_deref(), o.format, o.script_args.clone()), ("app.js", Some("0.0.0.0:8080"), Format::Json, vec!["a".into(), "-b".into()]));
        assert_eq!(run(&["start"]).target, "start");
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
