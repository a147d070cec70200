//! Config files on the command line, read exactly as `require('pm2').start(file, opts)` reads
//! them: JSON and YAML here, JavaScript by Node running the module index.js uses
//! (`lib/evaluate-config.js`), then the same Rust function picks the apps out.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The loader both the API and the command use, run with `node -e`.
const EVALUATE_CONFIG_JS: &str = include_str!("../../lib/evaluate-config.js");

/// The argument that reads a config from stdin (`cat apps.json | pm2 start -`).
pub const STDIN: &str = "-";

/// Does this argument name a config file (the test index.js applies), or stdin?
pub fn is_config_file(name: &str) -> bool {
    name == STDIN || [".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs"].iter().any(|ext| name.ends_with(ext))
}

/// The `ecosystem.config.*` that `pm2 start` with no argument starts, as pm2 does.
pub fn default_in(cwd: &Path) -> Option<String> {
    ["ecosystem.config.js", "ecosystem.config.cjs", "ecosystem.config.mjs", "ecosystem.json", "ecosystem.yml", "ecosystem.yaml"]
        .into_iter()
        .find(|f| cwd.join(f).is_file())
        .map(str::to_string)
}

/// The apps of a config file and the directory they run from.
pub struct Loaded {
    pub apps: Vec<Value>,
    pub dir: PathBuf,
    /// The file's `deploy` section: `deploy.<env>.env` is the lowest layer of `--env <env>`.
    pub deploy: Option<Value>,
}

pub fn load(cwd: &Path, file: &str) -> Result<Loaded, String> {
    if file == STDIN {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| format!("Cannot read the config from stdin: {e}"))?;
        let doc = parse_json_config(&text, "pipe")?;
        let deploy = doc.get("deploy").cloned();
        let apps = crate::config::apps_of_config(doc).map_err(|e| format!("{e} (stdin)"))?;
        return Ok(Loaded { apps, dir: cwd.to_path_buf(), deploy });
    }
    let abs = cwd.join(file);
    let shown = abs.display();
    let name = abs.to_string_lossy();
    let doc = if name.ends_with(".js") || name.ends_with(".cjs") || name.ends_with(".mjs") {
        if !abs.exists() {
            return Err(format!("Config file not found: {shown}"));
        }
        evaluate_js(&abs)?
    } else {
        let text = std::fs::read_to_string(&abs).map_err(|e| format!("Cannot read config file {shown}: {e}"))?;
        if name.ends_with(".json") {
            parse_json_config(&text, &name)?
        } else {
            crate::yaml::parse(&text).map_err(|e| format!("Malformed YAML in config file {shown}: {e}"))?
        }
    };
    let deploy = doc.get("deploy").cloned();
    let mut doc = doc;
    let statics = doc.as_object_mut().and_then(|o| o.remove("static"));
    let mut apps = match crate::config::apps_of_config(doc) {
        Ok(apps) => apps,
        // A file may declare only static file servers.
        Err(_) if statics.is_some() => vec![],
        Err(e) => return Err(format!("{e} ({shown})")),
    };
    add_static_servers(&mut apps, statics).map_err(|e| format!("{e} ({shown})"))?;
    Ok(Loaded { apps, dir: abs.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.to_path_buf()), deploy })
}

/// A JSON config: strict JSON read here; anything else (comments, unquoted keys, expressions)
/// is one JavaScript expression, as pm2 reads these files, which only Node can evaluate.
fn parse_json_config(text: &str, shown: &str) -> Result<Value, String> {
    let strict_error = match serde_json::from_str(text) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    let Some(node) = node_path() else {
        return Err(format!("Malformed JSON in config file {shown}: {strict_error}"));
    };
    let script = format!("{EVALUATE_CONFIG_JS}\nmodule.exports.printExpression(process.argv[1])\n");
    let mut child = std::process::Command::new(node)
        .arg("-e")
        .arg(script)
        .arg(shown)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("Cannot run node to read {shown}: {e}"))?;
    // Written from a thread: a large config must not block on a full stdout pipe.
    let mut stdin = child.stdin.take().expect("piped");
    let text = text.to_string();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, text.as_bytes()));
    let out = child.wait_with_output().map_err(|e| format!("Cannot run node to read {shown}: {e}"))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!("Malformed config file {shown}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("Config file {shown} did not give JSON: {e}"))
}

/// pm2's static file servers in a config file: each `static` entry (`path`, `port`, `spa`,
/// `basic_auth: {username, password}`, `name`) is a `pm2 serve` app, and an app whose script
/// is `serve` runs that same server.
fn add_static_servers(apps: &mut Vec<Value>, statics: Option<Value>) -> Result<(), String> {
    for s in statics.iter().flat_map(|s| s.as_array().cloned().unwrap_or_else(|| vec![s.clone()])) {
        let auth = s.get("basic_auth");
        let env: serde_json::Map<String, Value> = [
            ("PM2_SERVE_PORT", s.get("port").cloned()),
            ("PM2_SERVE_HOST", s.get("host").cloned()),
            ("PM2_SERVE_PATH", s.get("path").cloned()),
            ("PM2_SERVE_SPA", s.get("spa").cloned()),
            ("PM2_SERVE_BASIC_AUTH", Some(json!(auth.is_some()))),
            ("PM2_SERVE_BASIC_AUTH_USERNAME", auth.and_then(|a| a.get("username")).cloned()),
            ("PM2_SERVE_BASIC_AUTH_PASSWORD", auth.and_then(|a| a.get("password")).cloned()),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.filter(|v| !v.is_null())?)))
        .collect();
        let name = s.get("name").cloned().unwrap_or_else(|| json!(format!("static-page-server-{}", s.get("port").map(|p| p.to_string().trim_matches('"').to_string()).unwrap_or_default())));
        apps.push(json!({"name": name, "script": "serve", "env": env}));
    }
    for app in apps.iter_mut().filter(|a| a.get("script").and_then(Value::as_str) == Some("serve")) {
        let server = super::node_api::package_root().map(|r| r.join("lib").join("serve.js")).filter(|f| f.is_file());
        app["script"] = json!(server.ok_or("Cannot find this pm2 package's lib/serve.js next to the pm2 executable")?);
    }
    Ok(())
}

fn evaluate_js(abs: &Path) -> Result<Value, String> {
    let node = node_path().ok_or("A JavaScript config file needs Node.js: `node` is not on the PATH")?;
    let script = format!("{EVALUATE_CONFIG_JS}\nmodule.exports.printConfig(process.argv[1])\n");
    let out = std::process::Command::new(node)
        .arg("-e")
        .arg(script)
        .arg(abs)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("Cannot run node to read {}: {e}", abs.display()))?;
    if !out.status.success() {
        return Err(format!("Cannot load config file {}: {}", abs.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("Config file {} did not give JSON: {e}", abs.display()))
}

/// The `node` on the PATH, which runs Node apps as it would from this shell.
pub fn node_path() -> Option<PathBuf> {
    crate::config::which("node", std::env::var("PATH").ok().as_deref())
}

/// What the caller is: its directory, environment and `node`, as index.js sends it.
pub fn context(cwd: &Path, env_name: Option<&str>) -> Value {
    let env: serde_json::Map<String, Value> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, Value::String(v.into_string().ok()?))))
        .collect();
    json!({
        "cwd": cwd,
        "env": env,
        "node_path": node_path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
        "env_name": env_name,
    })
}

/// How a config file's apps are started: which ones, in which namespace, with which env.
#[derive(Default)]
pub struct Selection<'a> {
    pub env: Option<&'a str>,
    pub only: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub force: bool,
    pub cwd: Option<&'a str>,
}

/// The `start` request for a config file, the one index.js sends for `start(file, opts)`.
pub fn start_params(cwd: &Path, file: &str, sel: &Selection) -> Result<Value, String> {
    let Loaded { apps, dir, deploy } = load(cwd, file)?;
    let mut apps = crate::config::only_apps(apps, sel.only, file)?;
    // `--env production` lays `deploy.production.env` over each app's `env` (and under its
    // `env_production`), as pm2 does.
    let deploy_env = sel.env.and_then(|name| deploy.as_ref()?.get(name)?.get("env")?.as_object().cloned());
    for app in apps.iter_mut() {
        if let Value::Object(a) = app {
            if let Some(deployed) = &deploy_env {
                let mut env = a.get("env").and_then(Value::as_object).cloned().unwrap_or_default();
                env.extend(deployed.clone());
                a.insert("env".into(), Value::Object(env));
            }
            if let Some(ns) = sel.namespace {
                a.insert("namespace".into(), json!(ns));
            }
            if sel.force {
                a.insert("force".into(), json!(true));
            }
        }
    }
    let mut context = context(cwd, sel.env);
    context["cwd"] = json!(match sel.cwd {
        Some(c) => cwd.join(c),
        None => dir,
    });
    Ok(json!({ "apps": apps, "mode": "json", "context": context }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_are_recognised_by_their_ending() {
        for f in ["a.json", "ecosystem.config.js", "x.config.cjs", "x.config.mjs", "a.yml", "a.yaml"] {
            assert!(is_config_file(f), "{f}");
        }
        for f in ["app.js", "server.mjs", "api"] {
            assert!(!is_config_file(f), "{f}");
        }
    }

    #[test]
    fn json_config_selects_only_and_overrides_namespace() {
        let dir = std::env::temp_dir().join(format!("pm2-cli-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("eco.json"), r#"{"apps":[{"name":"a","script":"a.js"},{"script":"lib/b.js"}]}"#).unwrap();
        let sel = Selection { only: Some("b"), namespace: Some("ns"), env: Some("production"), ..Default::default() };
        let p = start_params(&dir, "eco.json", &sel).unwrap();
        assert_eq!(p["apps"], json!([{"script": "lib/b.js", "namespace": "ns"}]));
        assert_eq!(p["context"]["env_name"], "production");
        assert_eq!(p["context"]["cwd"], json!(dir));
        assert!(start_params(&dir, "eco.json", &Selection { only: Some("zzz"), ..Default::default() }).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_name_lays_the_deploy_env_over_the_apps_env() {
        let dir = std::env::temp_dir().join(format!("pm2-cli-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let doc = json!({
            "apps": [{"name": "a", "script": "a.js", "env": {"OWN": "app", "BOTH": "app"}}],
            "deploy": {"production": {"env": {"BOTH": "deploy", "DEPLOY": "deploy"}}}
        });
        std::fs::write(dir.join("eco.json"), doc.to_string()).unwrap();
        let p = start_params(&dir, "eco.json", &Selection { env: Some("production"), ..Default::default() }).unwrap();
        assert_eq!(p["apps"][0]["env"], json!({"OWN": "app", "BOTH": "deploy", "DEPLOY": "deploy"}));
        let p = start_params(&dir, "eco.json", &Selection::default()).unwrap();
        assert_eq!(p["apps"][0]["env"], json!({"OWN": "app", "BOTH": "app"}));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_json_config_that_is_a_javascript_expression_is_read_as_pm2_reads_it() {
        let text = "// comment\n[{ name: 'a', script: ['a', 'js'].join('.'), instances: '4' }]";
        assert_eq!(parse_json_config(text, "apps.json").unwrap(), json!([{"name": "a", "script": "a.js", "instances": "4"}]));
        let e = parse_json_config("[{ name: ", "bad.json").unwrap_err();
        assert!(e.starts_with("Malformed config file bad.json"), "{e}");
    }

    #[test]
    fn static_entries_become_file_server_apps() {
        let mut apps = vec![];
        add_static_servers(&mut apps, Some(json!([{"path": "www", "port": 8081, "spa": true, "basic_auth": {"username": "u", "password": "p"}}, {"port": 9000, "name": "site"}]))).ok();
        assert_eq!(apps[0]["name"], "static-page-server-8081");
        assert_eq!(apps[0]["env"], json!({"PM2_SERVE_PORT": 8081, "PM2_SERVE_PATH": "www", "PM2_SERVE_SPA": true, "PM2_SERVE_BASIC_AUTH": true, "PM2_SERVE_BASIC_AUTH_USERNAME": "u", "PM2_SERVE_BASIC_AUTH_PASSWORD": "p"}));
        assert_eq!(apps[1]["name"], "site");
        assert_eq!(apps[1]["env"], json!({"PM2_SERVE_PORT": 9000, "PM2_SERVE_BASIC_AUTH": false}));
    }
}
