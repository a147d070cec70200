//! `monit`: a live terminal view. The process list with CPU and memory on the left, the
//! selected app's log lines (from the bus) and details on the right. Up/Down (or k/j) select
//! an app, q / Esc / Ctrl-C quit.

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;

use super::table::{bytes, since};
use super::{logs, Ctx, Outcome};

/// Log lines kept per app.
const KEPT_LINES: usize = 200;

struct View {
    procs: Vec<Value>,
    selected: ListState,
    lines: HashMap<u64, VecDeque<(bool, String)>>,
}

fn status_colour(status: &str) -> Color {
    match status {
        "online" => Color::Green,
        "stopped" => Color::DarkGray,
        "errored" => Color::Red,
        _ => Color::Yellow,
    }
}

impl View {
    fn current(&self) -> Option<&Value> {
        self.selected.selected().and_then(|i| self.procs.get(i))
    }

    fn draw(&mut self, f: &mut ratatui::Frame) {
        let [main, help] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(f.area());
        let [left, right] = Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(main);
        let [logs_area, meta_area] = Layout::vertical([Constraint::Min(3), Constraint::Length(9)]).areas(right);

        let items: Vec<ListItem> = self
            .procs
            .iter()
            .map(|p| {
                let status = p["pm2_env"]["status"].as_str().unwrap_or_default();
                let cpu = p["monit"]["cpu"].as_f64().unwrap_or(0.0);
                let mem = bytes(p["monit"]["memory"].as_f64().unwrap_or(0.0));
                ListItem::new(Line::from(vec![
                    Span::styled("● ", Style::new().fg(status_colour(status))),
                    Span::raw(format!("[{}] {}", p["pm_id"], p["name"].as_str().unwrap_or_default())),
                    Span::styled(format!("  {cpu}%  {mem}"), Style::new().fg(Color::Cyan)),
                ]))
            })
            .collect();
        let list = List::new(items)
            .block(Block::bordered().title(" Process List "))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .highlight_symbol("> ");
        f.render_stateful_widget(list, left, &mut self.selected);

        let (title, lines) = match self.current() {
            Some(p) => {
                let id = p["pm_id"].as_u64().unwrap_or(0);
                let height = logs_area.height.saturating_sub(2) as usize;
                let kept = self.lines.get(&id);
                let shown: Vec<Line> = kept
                    .map(|l| {
                        let skip = l.len().saturating_sub(height);
                        l.iter().skip(skip).map(|(err, t)| Line::styled(t.clone(), Style::new().fg(if *err { Color::Red } else { Color::Reset }))).collect()
                    })
                    .unwrap_or_default();
                (format!(" {} Logs ", p["name"].as_str().unwrap_or_default()), shown)
            }
            None => (" Logs ".to_string(), vec![Line::raw("No process is running: start one with `pm2 start app.js`")]),
        };
        f.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), logs_area);

        let meta: Vec<Line> = match self.current() {
            Some(p) => {
                let env = &p["pm2_env"];
                let status = env["status"].as_str().unwrap_or_default();
                let uptime = match env["pm_uptime"].as_f64() {
                    Some(t) if status == "online" => since(t),
                    _ => "0".into(),
                };
                let field = |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<14}"), Style::new().add_modifier(Modifier::BOLD)), Span::raw(v)]);
                vec![
                    field("Status", status.to_string()),
                    field("PID", p["pid"].to_string()),
                    field("Uptime", uptime),
                    field("Restarts", env["restart_time"].to_string()),
                    field("Exec mode", env["exec_mode"].as_str().unwrap_or_default().to_string()),
                    field("Script", env["pm_exec_path"].as_str().unwrap_or_default().to_string()),
                    field("Namespace", env["namespace"].as_str().unwrap_or_default().to_string()),
                ]
            }
            None => vec![],
        };
        f.render_widget(Paragraph::new(meta).block(Block::bordered().title(" Metadata ")), meta_area);
        f.render_widget(Paragraph::new(" ↑/↓ select app   q quit").style(Style::new().fg(Color::DarkGray)), help);
    }

    fn set_procs(&mut self, procs: Vec<Value>) {
        let keep = self.current().and_then(|p| p["pm_id"].as_u64());
        self.procs = procs;
        let index = keep.and_then(|id| self.procs.iter().position(|p| p["pm_id"].as_u64() == Some(id)));
        self.selected.select(if self.procs.is_empty() { None } else { Some(index.unwrap_or(0)) });
    }

    fn add_log(&mut self, e: &Value) {
        let Some(kind) = e["event"].as_str().and_then(|ev| ev.strip_prefix("log:")) else { return };
        let Some(id) = e["data"]["process"]["pm_id"].as_u64() else { return };
        let kept = self.lines.entry(id).or_default();
        for l in e["data"]["data"].as_str().unwrap_or_default().split('\n').filter(|l| !l.is_empty()) {
            kept.push_back((kind == "err", l.to_string()));
            if kept.len() > KEPT_LINES {
                kept.pop_front();
            }
        }
    }

    fn step(&mut self, by: isize) {
        if self.procs.is_empty() {
            return;
        }
        let n = self.procs.len() as isize;
        let i = self.selected.selected().unwrap_or(0) as isize;
        self.selected.select(Some((i + by).rem_euclid(n) as usize));
    }
}

enum Input {
    Quit,
    Move(isize),
    Redraw,
}

fn read_keys(tx: mpsc::UnboundedSender<Input>) {
    loop {
        let input = match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Char('q') | KeyCode::Esc => Input::Quit,
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Input::Quit,
                KeyCode::Up | KeyCode::Char('k') => Input::Move(-1),
                KeyCode::Down | KeyCode::Char('j') => Input::Move(1),
                _ => continue,
            },
            Ok(Event::Resize(..)) => Input::Redraw,
            Ok(_) => continue,
            Err(_) => Input::Quit,
        };
        let quit = matches!(input, Input::Quit);
        if tx.send(input).is_err() || quit {
            return;
        }
    }
}

pub fn run(ctx: &mut Ctx) -> Outcome {
    if !super::output::stdout_is_tty() {
        return Err("monit needs a terminal".into());
    }
    let procs = ctx.list()?;
    let (_bus, mut events) = logs::open_bus(ctx)?;
    let (key_tx, mut keys) = mpsc::unbounded_channel();
    std::thread::spawn(move || read_keys(key_tx));

    let mut view = View { procs: vec![], selected: ListState::default(), lines: HashMap::new() };
    view.set_procs(procs);
    let mut tick = ctx.block_on(async { tokio::time::interval(Duration::from_secs(1)) });
    let mut terminal = ratatui::init();
    let result = loop {
        if let Err(e) = terminal.draw(|f| view.draw(f)) {
            break Err(format!("Cannot draw: {e}"));
        }
        enum Next {
            Key(Option<Input>),
            Bus(Option<Value>),
            Tick,
        }
        let next = ctx.block_on(async {
            tokio::select! {
                k = keys.recv() => Next::Key(k),
                e = events.recv() => Next::Bus(e),
                _ = tick.tick() => Next::Tick,
            }
        });
        match next {
            Next::Key(None | Some(Input::Quit)) => break Ok(()),
            Next::Key(Some(Input::Move(by))) => view.step(by),
            Next::Key(Some(Input::Redraw)) => {}
            Next::Bus(Some(e)) => view.add_log(&e),
            Next::Bus(None) => break Err("The PM2 daemon stopped".to_string()),
            Next::Tick => match ctx.list() {
                Ok(p) => view.set_procs(p),
                Err(e) => break Err(e),
            },
        }
    };
    ratatui::restore();
    result.map_err(Into::into)
}
