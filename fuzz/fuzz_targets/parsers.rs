//! The small parsers behind start options: cron patterns, sizes, durations, signal names and
//! log date formats. The first byte picks the parser; the rest is its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pm2_rs::config::{parse_bytes, parse_cron, parse_duration, signal_named};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match which % 5 {
        0 => {
            if let Ok(cron) = parse_cron(&text) {
                let _ = cron.find_next_occurrence(&chrono::Local::now(), false);
            }
        }
        1 => drop(parse_bytes(&Value::String(text.into_owned()))),
        2 => drop(parse_duration(&Value::String(text.into_owned()))),
        3 => drop(signal_named(&text)),
        _ => drop(pm2_rs::daemon::log_format::format_date(&text, &chrono::Local::now())),
    }
});
