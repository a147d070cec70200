//! One line an app writes on its IPC channel: parsed or dropped, never a panic, and a
//! message that is accepted is within the nesting limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pm2_rs::daemon::ipc::{encode, parse_line};

fuzz_target!(|line: &[u8]| {
    if let Some(msg) = parse_line(line) {
        let text = encode(&msg);
        assert!(pm2_rs::limits::json_shape(text.as_bytes(), pm2_rs::limits::MAX_JSON_DEPTH, usize::MAX).is_ok());
    }
});
