//! How app output lines are written: as they are, prefixed with a date (`log_date_format`,
//! `time`, with dayjs's format tokens), or as one JSON object per line (`log_type: 'json'`).

use chrono::{DateTime, Datelike, Local, Offset, TimeZone, Timelike};
use std::fmt::Write;

const MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// How many repeats of a token letter dayjs reads as one token (its format regex:
/// `Y{1,4} M{1,4} D{1,2} d{1,4} H{1,2} h{1,2} m{1,2} s{1,2} Z{1,2} SSS a A`), plus
/// `X`/`x` (unix seconds / milliseconds, as dayjs's advancedFormat plugin reads them).
fn token_len(c: char, run: usize) -> Option<usize> {
    let max = match c {
        'Y' | 'M' | 'd' => 4,
        'D' | 'H' | 'h' | 'm' | 's' | 'Z' => 2,
        'a' | 'A' | 'X' | 'x' => 1,
        'S' if run >= 3 => return Some(3),
        _ => return None,
    };
    Some(run.min(max))
}

/// Formats `t` as dayjs's `format()` does in its default (English) locale.
pub fn format_date<Tz: TimeZone>(fmt: &str, t: &DateTime<Tz>) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut rest = fmt;
    while let Some(c) = rest.chars().next() {
        // `[text]` is copied as it is (dayjs needs at least one character inside).
        if c == '[' {
            if let Some(end) = rest[1..].find(']').filter(|&end| end > 0) {
                out.push_str(&rest[1..=end]);
                rest = &rest[end + 2..];
                continue;
            }
        }
        let run = rest.chars().take_while(|&d| d == c).count();
        let Some(len) = token_len(c, run) else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        write_token(&mut out, &rest[..len], t);
        rest = &rest[len..];
    }
    out
}

fn write_token<Tz: TimeZone>(out: &mut String, token: &str, t: &DateTime<Tz>) {
    let h12 = if t.hour() % 12 == 0 { 12 } else { t.hour() % 12 };
    let offset = t.offset().fix().local_minus_utc() / 60;
    let (sign, off) = if offset < 0 { ('-', -offset) } else { ('+', offset) };
    let month = MONTHS[t.month0() as usize];
    let weekday = WEEKDAYS[t.weekday().num_days_from_sunday() as usize];
    let _ = match token {
        "YYYY" => write!(out, "{:04}", t.year()),
        "YY" => write!(out, "{:02}", t.year().rem_euclid(100)),
        "MMMM" => write!(out, "{month}"),
        "MMM" => write!(out, "{}", &month[..3]),
        "MM" => write!(out, "{:02}", t.month()),
        "M" => write!(out, "{}", t.month()),
        "DD" => write!(out, "{:02}", t.day()),
        "D" => write!(out, "{}", t.day()),
        "dddd" => write!(out, "{weekday}"),
        "ddd" => write!(out, "{}", &weekday[..3]),
        "dd" => write!(out, "{}", &weekday[..2]),
        "d" => write!(out, "{}", t.weekday().num_days_from_sunday()),
        "HH" => write!(out, "{:02}", t.hour()),
        "H" => write!(out, "{}", t.hour()),
        "hh" => write!(out, "{h12:02}"),
        "h" => write!(out, "{h12}"),
        "mm" => write!(out, "{:02}", t.minute()),
        "m" => write!(out, "{}", t.minute()),
        "ss" => write!(out, "{:02}", t.second()),
        "s" => write!(out, "{}", t.second()),
        "SSS" => write!(out, "{:03}", t.timestamp_subsec_millis().min(999)),
        "A" => write!(out, "{}", if t.hour() < 12 { "AM" } else { "PM" }),
        "a" => write!(out, "{}", if t.hour() < 12 { "am" } else { "pm" }),
        "X" => write!(out, "{}", t.timestamp()),
        "x" => write!(out, "{}", t.timestamp_millis()),
        "Z" => write!(out, "{sign}{:02}:{:02}", off / 60, off % 60),
        // `ZZ`, and what dayjs leaves unmatched (`Y`, `YYY`), are the offset without colon.
        _ => write!(out, "{sign}{:02}{:02}", off / 60, off % 60),
    };
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
                let timestamp = match date_format {
                    Some(f) => format_date(f, &now),
                    None => now.to_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                };
                // pm2's field order, and its message as written (line end included).
                let text = serde_json::Value::from(String::from_utf8_lossy(line));
                let record = format!(
                    r#"{{"message":{text},"timestamp":{},"type":"{kind}","process_id":{pm_id},"app_name":{}}}"#,
                    serde_json::Value::from(timestamp),
                    serde_json::Value::from(app_name.as_str()),
                );
                out.extend_from_slice(record.as_bytes());
                out.push(b'\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use std::process::Command;

    const EVERY_TOKEN: &str = "YYYY YY M MM MMM MMMM D DD d dd ddd dddd H HH h hh m mm s ss SSS Z ZZ A a [at] [YYYY] Y YYY S SS";

    #[test]
    fn tokens_by_hand() {
        let t = FixedOffset::east_opt(3600).unwrap().with_ymd_and_hms(2024, 3, 7, 14, 5, 9).unwrap();
        assert_eq!(format_date("YYYY-MM-DDTHH:mm:ss", &t), "2024-03-07T14:05:09");
        assert_eq!(format_date("DD MMM YYYY HH:mm:ss", &t), "07 Mar 2024 14:05:09");
        assert_eq!(format_date("D/M/YY h:mm A [at] SSS", &t), "7/3/24 2:05 PM at 000");
        assert_eq!(format_date("dddd ddd dd d MMMM Z ZZ X", &t), "Thursday Thu Th 4 March +01:00 +0100 1709816709");
        assert_eq!(format_date("[] [open", &t), "[] [open");
    }

    /// dayjs formats the same instants in two fixed time zones (no daylight saving, one
    /// with a negative half-hour offset); every token must agree with it.
    #[test]
    fn tokens_agree_with_dayjs() {
        let dayjs = concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/dayjs");
        // Instants from 1971 to 2099, spread over every hour, weekday and month.
        let instants: Vec<i64> = (0..400i64).map(|i| 31_536_000_000 + i * 10_007_171_003 + (i * 37) % 1000).collect();
        let script = format!(
            "const d=require({dayjs:?});const fmt=process.argv[1];\
             console.log(JSON.stringify(process.argv[2].split(',').map(x=>d(Number(x)).format(fmt))))"
        );
        let list = instants.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        for (tz, seconds) in [("Asia/Kolkata", 19800), ("Pacific/Marquesas", -34200)] {
            let output = Command::new("node").args(["-e", &script, EVERY_TOKEN, &list]).env("TZ", tz).output().expect("node runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let expected: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
            let zone = FixedOffset::east_opt(seconds).unwrap();
            for (ms, want) in instants.iter().zip(expected) {
                let t = zone.timestamp_millis_opt(*ms).unwrap();
                assert_eq!(format_date(EVERY_TOKEN, &t), want, "{ms} in {tz}");
            }
        }
    }

    #[test]
    fn json_lines_are_pm2s() {
        let f = LineFormat::Json { date_format: Some("[fixed]".into()), kind: "out", pm_id: 3, app_name: "api".into() };
        let mut out = Vec::new();
        f.line(b"hello \"you\"\n", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"message\":\"hello \\\"you\\\"\\n\",\"timestamp\":\"fixed\",\"type\":\"out\",\"process_id\":3,\"app_name\":\"api\"}\n"
        );
    }
}
