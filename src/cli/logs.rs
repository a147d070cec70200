//! `logs`: the last lines of each app's log files, then new lines live from the bus, with
//! pm2's prefixes (`0|api  | …`) or as `--raw`, `--json`, `--format`. Also the bus users
//! `attach` and `trigger`.

use clap::ArgMatches;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::output::{self, paint, GREEN, GREY, RED};
use super::process::{failure, not_found, selector};
use super::{Ctx, Failure, Outcome};
use crate::client;

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Prefixed,
    Raw,
    Json,
    Format,
}

const TAIL_PADDING: usize = 10;

struct Printer {
    style: Style,
    timestamp: Option<String>,
    highlight: Option<String>,
    /// Only `out` or `err` lines.
    only: Option<&'static str>,
    /// The prefix column: fixed (and cut) at 10 for the last lines, then growing to the
    /// longest `id|name` seen for live lines, as pm2's are.
    padding: usize,
    live: bool,
}

impl Printer {
    fn line(&mut self, kind: &str, id: &Value, name: &str, text: &str) {
        if self.only.is_some_and(|o| o != kind) {
            return;
        }
        let stamp = self.timestamp.as_deref().map(|f| crate::daemon::log_format::format_date(f, &chrono::Local::now()));
        let text = match &self.highlight {
            Some(h) if !h.is_empty() => text.replace(h.as_str(), &paint(anstyle::Style::new().bg_color(Some(anstyle::AnsiColor::BrightBlack.into())), h)),
            _ => text.to_string(),
        };
        let out = match self.style {
            Style::Raw => text,
            Style::Json => json!({"message": text, "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "type": kind, "process_id": id, "app_name": name}).to_string(),
            Style::Format => {
                let t = stamp.map(|s| format!("timestamp={s} ")).unwrap_or_default();
                let k = if kind == "err" { "error" } else { "out" };
                format!("{t}app={name} id={id} type={k} message={text}")
            }
            Style::Prefixed => {
                let mut label = format!("{id}|{name}");
                if self.live {
                    self.padding = self.padding.max(label.chars().count() + 1);
                } else {
                    label = label.chars().take(TAIL_PADDING).collect();
                }
                let colour = if kind == "err" { RED } else { GREEN };
                let t = stamp.map(|s| paint(GREY, format!("{s} "))).unwrap_or_default();
                format!("{t}{}{text}", paint(colour, format!("{label:<w$} | ", w = self.padding)))
            }
        };
        if self.style == Style::Raw && kind == "err" {
            anstream::eprintln!("{out}");
        } else {
            output::print(out);
        }
    }
}

/// The last `n` lines of a file (reading only its end).
fn last_lines(path: &str, n: usize) -> Vec<String> {
    let Ok(mut f) = std::fs::File::open(path) else { return vec![] };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut from = size.saturating_sub((n as u64 + 1) * 256);
    loop {
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut buf).is_err() {
            return vec![];
        }
        let text = String::from_utf8_lossy(&buf);
        let lines: Vec<&str> = text.lines().collect();
        // Past the first (maybe partial) line there must be `n` whole ones, else read more.
        if from == 0 || lines.len() > n {
            let skip = lines.len().saturating_sub(n);
            return lines[skip..].iter().map(|s| s.to_string()).collect();
        }
        from = from.saturating_sub(size.max(4096));
    }
}

fn matches(p: &Value, target: &str) -> bool {
    target == "all" || p["name"].as_str() == Some(target) || p["pm_id"].to_string() == target || p["namespace"].as_str() == Some(target)
}

/// Opens a bus connection whose events arrive on the returned channel, in order.
pub fn open_bus(ctx: &mut Ctx) -> Result<(client::Connection, mpsc::UnboundedReceiver<Value>), String> {
    ctx.connect()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: client::EventSink = Arc::new(move |batch: Option<String>| {
        let Some(batch) = batch else { return };
        if let Ok(Value::Array(events)) = serde_json::from_str(&batch) {
            for e in events {
                let _ = tx.send(e);
            }
        }
    });
    let conn = ctx.block_on(client::subscribe(&ctx.home, sink))?;
    Ok((conn, rx))
}

pub fn run(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let target = m.get_one::<String>("target").cloned().unwrap_or_else(|| "all".into());
    let lines: usize = match m.get_one::<String>("lines") {
        Some(n) => n.parse().map_err(|_| format!("--lines needs a number, got {n}"))?,
        None => 15,
    };
    let style = if m.get_flag("raw") {
        Style::Raw
    } else if m.get_flag("json") {
        Style::Json
    } else if m.get_flag("format") {
        Style::Format
    } else {
        Style::Prefixed
    };
    let only = if m.get_flag("err") { Some("err") } else if m.get_flag("out") { Some("out") } else { None };
    let mut printer = Printer { style, timestamp: m.get_one::<String>("timestamp").cloned(), highlight: m.get_one::<String>("highlight").cloned(), only, padding: TAIL_PADDING, live: false };

    let procs: Vec<Value> = ctx.list()?.into_iter().filter(|p| matches(&json!({"name": p["name"], "pm_id": p["pm_id"], "namespace": p["pm2_env"]["namespace"]}), &target)).collect();
    if procs.is_empty() && target != "all" {
        return Err(not_found(&target));
    }
    if lines > 0 && style != Style::Json {
        if style == Style::Prefixed {
            let which = if target == "all" { "[all] processes".to_string() } else { format!("[{target}] process") };
            output::say(paint(GREY, format!("[TAILING] Tailing last {lines} lines for {which} (change the value with --lines option)")));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &procs {
            for (key, kind) in [("pm_out_log_path", "out"), ("pm_err_log_path", "err")] {
                let Some(path) = p["pm2_env"][key].as_str() else { continue };
                if only.is_some_and(|o| o != kind) || path == "/dev/null" || !seen.insert(path.to_string()) {
                    continue;
                }
                let tail = last_lines(path, lines);
                if style == Style::Prefixed {
                    output::say(paint(GREY, format!("{path} last {lines} lines:")));
                }
                for l in &tail {
                    printer.line(kind, &p["pm_id"], p["name"].as_str().unwrap_or_default(), l);
                }
                if style == Style::Prefixed && !tail.is_empty() {
                    output::say("");
                }
            }
        }
    }
    if m.get_flag("nostream") {
        return Ok(());
    }
    let (_bus, mut rx) = open_bus(ctx)?;
    printer.live = true;
    printer.padding = 3;
    ctx.block_on(async {
        while let Some(e) = rx.recv().await {
            let event = e["event"].as_str().unwrap_or_default();
            let Some(kind) = event.strip_prefix("log:") else { continue };
            let d = &e["data"];
            let p = &d["process"];
            if !matches(p, &target) {
                continue;
            }
            for l in d["data"].as_str().unwrap_or_default().split('\n').filter(|l| !l.is_empty()) {
                printer.line(kind, &p["pm_id"], p["name"].as_str().unwrap_or_default(), l);
            }
            let _ = std::io::stdout().flush();
        }
    });
    // The bus ended: the daemon was stopped.
    output::say(format!("{}[[[ Target PM2 killed. ]]]", paint(anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Blue.into())), "PM2        | ")));
    Ok(())
}

/// `attach <id>`: the app's output here, and each line typed goes to its stdin.
pub fn attach(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let id = m.get_one::<String>("id").expect("required").clone();
    let separator = m.get_one::<String>("separator").cloned().unwrap_or_else(|| "\n".into());
    let procs = ctx.call("describe", selector(ctx, &id)?).map_err(|e| failure(e, &id))?;
    if procs.as_array().is_none_or(Vec::is_empty) {
        return Err(not_found(&id));
    }
    let (_bus, mut rx) = open_bus(ctx)?;
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printer = Printer { style: Style::Raw, timestamp: None, highlight: None, only: None, padding: 3, live: true };
    loop {
        let next = ctx.block_on(async {
            tokio::select! {
                e = rx.recv() => e.map(Ok),
                l = line_rx.recv() => l.map(Err),
            }
        });
        match next {
            None => return Ok(()),
            Some(Ok(e)) => {
                let Some(kind) = e["event"].as_str().and_then(|ev| ev.strip_prefix("log:")) else { continue };
                let p = &e["data"]["process"];
                if p["pm_id"].to_string() == id || p["name"].as_str() == Some(id.as_str()) {
                    printer.line(kind, &p["pm_id"], "", e["data"]["data"].as_str().unwrap_or_default().trim_end_matches('\n'));
                }
            }
            Some(Err(line)) => {
                let mut params = selector(ctx, &id)?;
                params["line"] = json!(line);
                params["separator"] = json!(separator);
                ctx.call("sendLineToStdin", params).map_err(|e| failure(e, &id))?;
            }
        }
    }
}

/// `trigger`: runs an action in every matching instance; answers their `axm:reply` packets.
pub fn trigger(ctx: &mut Ctx, target: &str, action: &str, params: Option<String>) -> Result<Vec<Value>, Failure> {
    let sel = selector(ctx, target)?;
    let (_bus, mut rx) = open_bus(ctx)?;
    let mut req = sel;
    req["msg"] = json!(action);
    req["opts"] = params.map_or(Value::Null, |p| json!(p));
    let answer = ctx.call("msgProcess", req).map_err(|e| failure(e, target))?;
    let expected = answer["process_count"].as_u64().unwrap_or(0) as usize;
    let mut replies = Vec::new();
    ctx.block_on(async {
        while replies.len() < expected {
            let Some(e) = rx.recv().await else { break };
            if e["event"].as_str() == Some("axm:reply") && matches(&e["data"]["process"], target) {
                replies.push(e["data"].clone());
            }
        }
    });
    Ok(replies)
}
