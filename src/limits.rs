//! Every limit the daemon puts on what apps and clients send it, in one place (README,
//! "Limits"). Each one turns what would be an abort, a wrap-around or unbounded memory into a
//! clear error.

/// Instances of one app (`instances`, `scale`): a few thousand processes is already more than
/// one machine runs well; far more would only exhaust memory or pids.
pub const MAX_INSTANCES: u64 = 4096;
/// One IPC message from an app (`process.send`), in bytes of its JSON line.
pub const MAX_IPC_MESSAGE: usize = 32 * 1024 * 1024;
/// App messages read from all channels and not yet handled: past this, channels wait unread
/// (the apps' own `process.send` queues hold the rest), so a message flood neither grows the
/// daemon's memory nor delays a request by more than this many messages.
pub const APP_MESSAGES_WAITING: usize = 256;
/// Nesting of a JSON document from an app or a client.
pub const MAX_JSON_DEPTH: usize = 64;
/// JSON values in one client request: a 64 MiB frame of `[[],[],…]` must not become
/// gigabytes of parsed values.
pub const MAX_REQUEST_VALUES: usize = 1 << 20;
/// An app's output line without its end is written out in pieces of this size.
pub const MAX_LINE: usize = 1024 * 1024;
/// Client connections served at once (`PM2_MAX_CONNECTIONS`): each holds a descriptor and
/// a task, and descriptors are what apps need too. Past it a new client is refused with a
/// message saying so; those connected are served as before.
pub const MAX_CONNECTIONS: usize = 512;
/// The daemon's own log (`pm2.log`) is rotated to `pm2.log.1` past this size.
pub const MAX_DAEMON_LOG: u64 = 16 * 1024 * 1024;
/// One argument of an answer from an original pm2 daemon (its process list, on `pm2 update`).
pub const MAX_ORIGINAL_ANSWER: usize = 256 * 1024 * 1024;

/// Checks a requested number of instances.
pub fn instances(n: f64) -> Result<(), String> {
    if n > MAX_INSTANCES as f64 {
        return Err(format!("Option \"instances\" must be at most {MAX_INSTANCES}, got {n}"));
    }
    Ok(())
}

/// Checks the shape of a JSON text before it is parsed, in one linear pass: nesting at most
/// `max_depth`, and at most `max_values` arrays, objects and elements. Says what is wrong.
pub fn json_shape(text: &[u8], max_depth: usize, max_values: usize) -> Result<(), String> {
    let (mut depth, mut values) = (0usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                values += 1;
                if depth > max_depth {
                    return Err(format!("nested deeper than {max_depth} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => continue,
        }
        if values > max_values {
            return Err(format!("with more than {max_values} values"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_past_the_limit_are_refused() {
        assert!(instances(4096.0).is_ok());
        assert!(instances(-3.0).is_ok());
        assert!(instances(1e9).unwrap_err().contains("at most 4096"));
        assert!(instances(4294967297.0).is_err());
    }

    #[test]
    fn json_shape_counts_depth_and_values_outside_strings() {
        assert!(json_shape(br#"{"a":[1,2,{"b":"[[[[[,,,,"}]}"#, 3, 10).is_ok());
        assert!(json_shape(br#"{"a":"\"[[[["}"#, 1, 10).is_ok());
        assert_eq!(json_shape(b"[[[[1]]]]", 3, 10).unwrap_err(), "nested deeper than 3 levels");
        assert_eq!(json_shape(b"[1,2,3,4]", 10, 3).unwrap_err(), "with more than 3 values");
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(json_shape(deep.as_bytes(), MAX_JSON_DEPTH, MAX_REQUEST_VALUES).is_err());
    }
}
