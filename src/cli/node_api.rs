//! Commands whose work the API does in JavaScript (module configuration and `install` /
//! `uninstall` of pm2-logrotate, `serve`, `deploy`):
//! Node runs this package's API for them, so the command and `require('pm2')` do the same.
//! Only these commands pay for a Node start.

use clap::ArgMatches;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use super::config_file::node_path;
use super::output;
use super::{Ctx, Failure, Outcome};

/// Calls `method(...args, cb)` on a `new pm2.custom({pm2_home, cwd})` and prints the result as
/// JSON (or the error's message, exit 1).
const CALL_JS: &str = r#"
const [root, home, cwd, method, args] = process.argv.slice(1)
const pm2 = new (require(root).custom)({ pm2_home: home, cwd })
pm2[method](...JSON.parse(args), (err, res) => {
  if (err) {
    process.stderr.write(String((err && err.message) || err))
    process.exitCode = 1
  } else process.stdout.write(JSON.stringify(res === undefined ? null : res))
  pm2.disconnect(() => {})
})
"#;

/// The package this executable ships with: `<root>/npm/<triple>/pm2` in a clone,
/// `<root>/node_modules/pm2-<triple>/pm2` nested, `<x>/pm2-<triple>/pm2` next to `<x>/pm2`.
pub(super) fn package_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let up = exe.parent()?.parent()?;
    [up.parent().map(Path::to_path_buf), Some(up.join("pm2"))]
        .into_iter()
        .flatten()
        .find(|root| root.join("index.js").is_file() && root.join("lib").is_dir())
}

fn call(ctx: &Ctx, method: &str, args: Value) -> Result<Value, Failure> {
    let root = package_root().ok_or("Cannot find this pm2 package's index.js next to the pm2 executable")?;
    let node = node_path().ok_or(format!("`pm2 {method}` needs Node.js: `node` is not on the PATH"))?;
    let out = std::process::Command::new(node)
        .arg("-e")
        .arg(CALL_JS)
        .arg(&root)
        .arg(&ctx.home.root)
        .arg(&ctx.cwd)
        .arg(method)
        .arg(args.to_string())
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| format!("Cannot run node: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string().into());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| Failure::from(format!("Unexpected answer from {method}(): {e}")))
}

fn arg<'a>(m: &'a ArgMatches, name: &str) -> Option<&'a str> {
    m.get_one::<String>(name).map(String::as_str)
}

fn show(v: &Value) {
    match v {
        Value::String(s) => output::print(s),
        Value::Object(o) if o.len() == 1 && o.get("success") == Some(&json!(true)) => {}
        other => output::print(serde_json::to_string_pretty(other).unwrap_or_default()),
    }
}

pub fn run(ctx: &mut Ctx, name: &str, m: &ArgMatches) -> Outcome {
    match name {
        "set" => {
            let (key, value) = (arg(m, "key").unwrap_or_default(), arg(m, "value").unwrap_or_default());
            call(ctx, "set", json!([key, value]))?;
            output::info(format!("Module conf {key} set to {value}"));
        }
        "unset" => {
            let key = arg(m, "key").unwrap_or_default();
            call(ctx, "unset", json!([key]))?;
            output::info(format!("Module conf {key} unset"));
        }
        "multiset" => {
            call(ctx, "multiset", json!([arg(m, "value").unwrap_or_default()]))?;
        }
        "install" => {
            let answer = call(ctx, "install", json!([arg(m, "module").unwrap_or_default()]))?;
            output::info(answer["message"].as_str().unwrap_or("Installed"));
        }
        "uninstall" => {
            let module = arg(m, "module").unwrap_or_default();
            call(ctx, "uninstall", json!([module]))?;
            output::info(format!("Module {module} uninstalled"));
        }
        "get" => show(&call(ctx, "get", json!([arg(m, "key")]))?),
        "conf" => show(&call(ctx, "conf", json!([arg(m, "key"), arg(m, "value")]))?),
        "serve" => {
            let port = arg(m, "port").or(arg(m, "port-flag")).map(|p| p.parse::<u16>().map_err(|_| format!("Invalid port {p}"))).transpose()?;
            let mut opts = json!({});
            if m.get_flag("spa") {
                opts["spa"] = json!(true);
            }
            for (flag, key) in [("basic-auth-username", "basicAuthUsername"), ("basic-auth-password", "basicAuthPassword"), ("name", "name")] {
                if let Some(v) = arg(m, flag) {
                    opts[key] = json!(v);
                }
            }
            call(ctx, "serve", json!([arg(m, "path").unwrap_or("."), port, opts, {}]))?;
            output::info(format!("Serving {} on port {}", ctx.cwd.join(arg(m, "path").unwrap_or(".")).display(), port.unwrap_or(8080)));
        }
        "deploy" => {
            let rest: Vec<&str> = m.get_many::<String>("args").into_iter().flatten().map(String::as_str).collect();
            let file = rest.first().copied().unwrap_or("help");
            let raw: Vec<&str> = std::iter::once("deploy").chain(rest.iter().copied()).collect();
            show(&call(ctx, "deploy", json!([file, { "rawArgs": raw }]))?);
        }
        _ => unreachable!("not a JavaScript command: {name}"),
    }
    Ok(())
}
