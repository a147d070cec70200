//! pm2's process table (`ls`), its mini list (`ls -m`) and `describe`, drawn from process
//! descriptions as the daemon sends them.

use super::output::{paint, BOLD, CYAN_BOLD, GREEN, GREY, INVERSE_BOLD, RED, YELLOW};
use anstyle::{AnsiColor, Style};
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

fn env<'a>(p: &'a Value, key: &str) -> &'a Value {
    p.get("pm2_env").and_then(|e| e.get(key)).unwrap_or(&Value::Null)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn or_na(v: &Value) -> String {
    match v {
        Value::Null => "N/A".into(),
        Value::String(s) if s.is_empty() => "N/A".into(),
        other => text(other),
    }
}

fn now_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
}

/// pm2's "time since": the largest unit that fits more than once (`45s`, `3m`, `2h`, `5D`).
pub fn since(started_ms: f64) -> String {
    let secs = ((now_ms() - started_ms) / 1000.0).floor().max(0.0);
    for (unit, size) in [("Y", 31_536_000.0), ("M", 2_592_000.0), ("D", 86_400.0), ("h", 3_600.0), ("m", 60.0)] {
        let n = (secs / size).floor();
        if n > 1.0 {
            return format!("{n}{unit}");
        }
    }
    format!("{secs}s")
}

/// pm2's byte sizes: `0b`, `20.6mb`, `1.2gb`.
pub fn bytes(n: f64) -> String {
    if n <= 0.0 {
        return "0b".into();
    }
    let units = ["b", "kb", "mb", "gb", "tb"];
    let i = ((n.ln() / 1024f64.ln()).floor() as usize).min(units.len() - 1);
    format!("{:.1}{}", n / 1024f64.powi(i as i32), units[i])
}

pub fn status_style(status: &str) -> Style {
    match status {
        "online" => GREEN.bold(),
        "stopped" => GREY.bold(),
        "errored" => RED.bold(),
        _ => YELLOW.bold(),
    }
}

fn mode(p: &Value) -> String {
    text(env(p, "exec_mode")).trim_end_matches("_mode").to_string()
}

fn is_online(p: &Value) -> bool {
    env(p, "status").as_str() == Some("online")
}

fn uptime(p: &Value) -> String {
    match env(p, "pm_uptime").as_f64() {
        Some(t) if is_online(p) => since(t),
        _ => "0".into(),
    }
}

fn monit(p: &Value, key: &str) -> f64 {
    p.get("monit").and_then(|m| m.get(key)).and_then(Value::as_f64).unwrap_or(0.0)
}

fn watching(p: &Value) -> bool {
    match env(p, "watch") {
        Value::Bool(b) => *b,
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => false,
    }
}

/// pm2's box: `│` between cells, a rule under the header, none between rows.
const PM2_BOX: &str = "││──├─┼┤│    ┬┴┌┐└┘";

fn table_of<R: Into<comfy_table::Row>>(header: Option<[&str; 13]>, rows: impl IntoIterator<Item = R>) -> String {
    let mut t = Table::new();
    t.load_preset(PM2_BOX).set_content_arrangement(ContentArrangement::Disabled);
    if let Some(h) = header {
        t.set_header(h);
    }
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

/// Sorts by `field[:asc|desc]` as `pm2 ls --sort` does (name, id, pid, memory, cpu, status,
/// restarts, uptime).
pub fn sort(procs: &mut [Value], spec: &str) -> Result<(), String> {
    let (field, order) = spec.split_once(':').unwrap_or((spec, "asc"));
    let key = |p: &Value| -> (f64, String) {
        match field {
            "name" => (0.0, text(&p["name"])),
            "id" => (p["pm_id"].as_f64().unwrap_or(0.0), String::new()),
            "pid" => (p["pid"].as_f64().unwrap_or(0.0), String::new()),
            "memory" => (monit(p, "memory"), String::new()),
            "cpu" => (monit(p, "cpu"), String::new()),
            "status" => (0.0, text(env(p, "status"))),
            "restarts" => (env(p, "restart_time").as_f64().unwrap_or(0.0), String::new()),
            "uptime" => (env(p, "pm_uptime").as_f64().unwrap_or(0.0), String::new()),
            _ => (0.0, String::new()),
        }
    };
    if !["name", "id", "pid", "memory", "cpu", "status", "restarts", "uptime"].contains(&field) {
        return Err(format!("Cannot sort by {field}: use name, id, pid, memory, cpu, status, restarts or uptime"));
    }
    procs.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal));
    if order == "desc" {
        procs.reverse();
    }
    Ok(())
}

/// The table `pm2 ls` prints.
pub fn list(procs: &[Value]) -> String {
    let header = ["id", "name", "namespace", "version", "mode", "pid", "uptime", "↺", "status", "cpu", "mem", "user", "watching"];
    let rows = procs.iter().map(|p| {
        let status = text(env(p, "status"));
        let m = mode(p);
        let mode_style = if m == "cluster" { Style::new().fg_color(Some(AnsiColor::Blue.into())).bold() } else { INVERSE_BOLD };
        vec![
            paint(CYAN_BOLD, text(&p["pm_id"])),
            text(&p["name"]),
            or_na(env(p, "namespace")),
            or_na(env(p, "version")),
            paint(mode_style, m),
            text(&p["pid"]),
            uptime(p),
            text(env(p, "restart_time")),
            paint(status_style(&status), &status),
            format!("{}%", monit(p, "cpu")),
            bytes(monit(p, "memory")),
            paint(BOLD, text(env(p, "username"))),
            if watching(p) { paint(GREEN, "enabled") } else { paint(GREY, "disabled") },
        ]
    });
    table_of(Some(header), rows)
}

/// `pm2 ls -m`: one block per process.
pub fn mini(procs: &[Value]) -> String {
    let mut out = String::new();
    for p in procs {
        let fields = [
            ("namespace", or_na(env(p, "namespace"))),
            ("version", or_na(env(p, "version"))),
            ("pid", text(&p["pid"])),
            ("pm2 id", text(&p["pm_id"])),
            ("status", text(env(p, "status"))),
            ("mode", mode(p)),
            ("restarted", text(env(p, "restart_time"))),
            ("uptime", uptime(p)),
            ("memory usage", bytes(monit(p, "memory"))),
            ("error log", text(env(p, "pm_err_log_path"))),
            ("watching", if watching(p) { "yes".into() } else { "no".into() }),
            ("PID file", text(env(p, "pm_pid_path"))),
        ];
        out.push_str(&format!("+--- {}\n", text(&p["name"])));
        for (k, v) in fields {
            out.push_str(&format!("{k} : {v}\n"));
        }
        out.push('\n');
    }
    out.trim_end_matches('\n').to_string()
}

/// `pm2 describe`: the process's details as a two-column table under a title.
pub fn describe(p: &Value) -> String {
    let status = text(env(p, "status"));
    let interpreter_args = env(p, "node_args");
    let args = env(p, "args");
    let list_or_na = |v: &Value| match v {
        Value::Array(a) if !a.is_empty() => a.iter().map(text).collect::<Vec<_>>().join(" "),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => "N/A".into(),
    };
    let created = env(p, "created_at").as_i64().and_then(chrono::DateTime::from_timestamp_millis);
    let rows: Vec<(&str, String)> = vec![
        ("status", paint(status_style(&status), &status)),
        ("name", text(&p["name"])),
        ("namespace", or_na(env(p, "namespace"))),
        ("version", or_na(env(p, "version"))),
        ("restarts", text(env(p, "restart_time"))),
        ("uptime", uptime(p)),
        ("script path", text(env(p, "pm_exec_path"))),
        ("script args", list_or_na(args)),
        ("error log path", text(env(p, "pm_err_log_path"))),
        ("out log path", text(env(p, "pm_out_log_path"))),
        ("pid path", text(env(p, "pm_pid_path"))),
        ("interpreter", text(env(p, "exec_interpreter"))),
        ("interpreter args", list_or_na(interpreter_args)),
        ("script id", text(&p["pm_id"])),
        ("exec cwd", text(env(p, "pm_cwd"))),
        ("exec mode", text(env(p, "exec_mode"))),
        ("node.js version", or_na(env(p, "node_version"))),
        ("node env", or_na(env(p, "node_env"))),
        ("watch & reload", if watching(p) { paint(GREEN, "✔") } else { paint(RED, "✘") }),
        ("unstable restarts", text(env(p, "unstable_restarts"))),
        ("created at", created.map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_else(|| "N/A".into())),
    ];
    let title = paint(INVERSE_BOLD, format!(" Describing process with id {} - name {} ", text(&p["pm_id"]), text(&p["name"])));
    let body: Vec<Vec<String>> = rows.into_iter().map(|(k, v)| vec![k.to_string(), v]).collect();
    let name = text(&p["name"]);
    let hints = [
        format!(" Use `pm2 logs {name} [--lines 1000]` to display logs"),
        format!(" Use `pm2 env {}` to display environment variables", text(&p["pm_id"])),
        " Use `pm2 monit` to monitor CPU and Memory usage".to_string(),
    ];
    let hints: Vec<String> = hints.iter().map(|h| paint(super::output::DIM_ITALIC, h)).collect();
    format!("{title}\n{}\n{}", table_of(None, body), hints.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_read_like_pm2s() {
        assert_eq!(bytes(0.0), "0b");
        assert_eq!(bytes(21_600_000.0), "20.6mb");
        assert_eq!(bytes(2048.0), "2.0kb");
    }

    #[test]
    fn uptime_uses_the_largest_unit_that_fits_twice() {
        let now = now_ms();
        assert_eq!(since(now - 5_000.0), "5s");
        assert_eq!(since(now - 90_000.0), "90s");
        assert_eq!(since(now - 180_000.0), "3m");
        assert_eq!(since(now - 3.0 * 86_400_000.0), "3D");
    }

    #[test]
    fn table_has_pm2s_columns_and_aligns_coloured_cells() {
        let p = json!({"pm_id": 0, "name": "api", "pid": 42, "monit": {"cpu": 1, "memory": 2048},
            "pm2_env": {"status": "online", "exec_mode": "fork_mode", "namespace": "default", "restart_time": 0,
                        "username": "me", "pm_uptime": now_ms()}});
        let t = list(&[p]);
        let plain = anstream::adapter::strip_str(&t).to_string();
        assert!(plain.contains("│ id │ name │ namespace │ version │ mode │ pid │ uptime │ ↺ │ status │ cpu │ mem   │ user │ watching │"), "{plain}");
        assert!(plain.contains("│ 0  │ api  │ default   │ N/A     │ fork │ 42  │ 0s     │ 0 │ online │ 1%  │ 2.0kb │ me   │ disabled │"), "{plain}");
    }
}
