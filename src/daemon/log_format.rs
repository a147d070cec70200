//! How app output lines are written: as they are, prefixed with a date (`log_date_format`,
//! `time`, with pm2's dayjs-style tokens), or as one JSON object per line (`log_type: 'json'`).

use chrono::{DateTime, Datelike, Local, Timelike};
use serde_json::json;

/// Formats `t` with dayjs tokens (`YYYY-MM-DD HH:mm:ss.SSS Z`, `[literal]`, ...).
pub fn format_date(fmt: &str, t: &DateTime<Local>) -> String {
    const TOKENS: &[&str] = &["YYYY", "SSS", "MM", "DD", "HH", "hh", "mm", "ss", "YY", "ZZ", "M", "D", "H", "h", "m", "s", "Z", "A", "a", "X", "x"];
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut rest = fmt;
    while !rest.is_empty() {
        if let Some(stripped) = rest.strip_prefix('[') {
            if let Some(end) = stripped.find(']') {
                out.push_str(&stripped[..end]);
                rest = &stripped[end + 1..];
                continue;
            }
        }
        let Some(token) = TOKENS.iter().find(|tok| rest.starts_with(**tok)) else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let h12 = if t.hour() % 12 == 0 { 12 } else { t.hour() % 12 };
        let offset = t.offset().local_minus_utc();
        let (sign, off) = if offset < 0 { ('-', -offset) } else { ('+', offset) };
        let piece = match *token {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year() % 100),
            "MM" => format!("{:02}", t.month()),
            "M" => t.month().to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "HH" => format!("{:02}", t.hour()),
            "H" => t.hour().to_string(),
            "hh" => format!("{h12:02}"),
            "h" => h12.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "SSS" => format!("{:03}", t.timestamp_subsec_millis()),
            "Z" => format!("{sign}{:02}:{:02}", off / 3600, off % 3600 / 60),
            "ZZ" => format!("{sign}{:02}{:02}", off / 3600, off % 3600 / 60),
            "A" => (if t.hour() < 12 { "AM" } else { "PM" }).to_string(),
            "a" => (if t.hour() < 12 { "am" } else { "pm" }).to_string(),
            "X" => t.timestamp().to_string(),
            _ => t.timestamp_millis().to_string(),
        };
        out.push_str(&piece);
        rest = &rest[token.len()..];
    }
    out
}

/// Per-line rewriting of one stream's output.
#[derive(Debug, Clone)]
pub enum LineFormat {
    Prefix { date_format: String },
    Json { date_format: Option<String>, kind: &'static str, pm_id: u32, app_name: String },
}

impl LineFormat {
    /// Formats one complete line (with its `\n`, if it has one).
    pub fn line(&self, line: &[u8], out: &mut Vec<u8>) {
        let now = Local::now();
        match self {
            LineFormat::Prefix { date_format } => {
                out.extend_from_slice(format_date(date_format, &now).as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(line);
            }
            LineFormat::Json { date_format, kind, pm_id, app_name } => {
                let text = String::from_utf8_lossy(line);
                let timestamp = match date_format {
                    Some(f) => format_date(f, &now),
                    None => now.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                };
                let record = json!({
                    "message": text.trim_end_matches('\n'),
                    "timestamp": timestamp,
                    "type": kind,
                    "process_id": pm_id,
                    "app_name": app_name,
                });
                out.extend_from_slice(record.to_string().as_bytes());
                out.push(b'\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dayjs_tokens() {
        let t = Local.with_ymd_and_hms(2024, 3, 7, 14, 5, 9).unwrap();
        assert_eq!(format_date("YYYY-MM-DD HH:mm:ss", &t), "2024-03-07 14:05:09");
        assert_eq!(format_date("YYYY-MM-DDTHH:mm:ss", &t), "2024-03-07T14:05:09");
        assert_eq!(format_date("D/M/YY h:mm A [at] SSS", &t), "7/3/24 2:05 PM at 000");
    }

    #[test]
    fn json_lines() {
        let f = LineFormat::Json { date_format: None, kind: "out", pm_id: 3, app_name: "api".into() };
        let mut out = Vec::new();
        f.line(b"hello\n", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["message"], "hello");
        assert_eq!(v["type"], "out");
        assert_eq!(v["process_id"], 3);
        assert_eq!(v["app_name"], "api");
    }
}
