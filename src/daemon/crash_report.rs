//! `process:exception` without loading anything into apps, from what Node itself prints on
//! stderr: when an app dies of an uncaught exception, the error and a closing
//! `Node.js vX.Y.Z` line; for an unhandled rejection (apps run with
//! `--unhandled-rejections=warn`, so that, as under pm2, it does not kill them), an
//! `UnhandledPromiseRejectionWarning` with its stack. Both become pm2's packet data
//! (`{name, message, stack}`).

use serde_json::{json, Value};

/// How much of the end of stderr is kept to find the report.
pub const TAIL: usize = 16 * 1024;

/// Keeps the last `TAIL` bytes written.
#[derive(Default)]
pub struct Tail(Vec<u8>);

impl Tail {
    pub fn push(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
        if self.0.len() > TAIL {
            let cut = self.0.len() - TAIL;
            self.0.drain(..cut);
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

fn error_line(line: &str) -> bool {
    let head = line.split(':').next().unwrap_or("");
    line.starts_with("[UnhandledPromiseRejection")
        || (!head.is_empty() && !head.contains(' ') && (head.ends_with("Error") || head.ends_with("Exception")))
}

/// The fatal exception Node reported at the end of `stderr`, if it ends with one.
pub fn parse(stderr: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let last = lines.last()?;
    if !(last.starts_with("Node.js v") && last[9..].chars().next().is_some_and(|c| c.is_ascii_digit())) {
        return None;
    }
    let body = &lines[..lines.len() - 1];
    let start = body.iter().rposition(|l| error_line(l))?;
    // The error line may be preceded by the source excerpt; the stack is what follows it.
    let mut end = body.len();
    while end > start + 1 && body[end - 1].trim().is_empty() {
        end -= 1;
    }
    let stack = body[start..end].join("\n");
    let first = body[start];
    let (name, message) = match first.split_once(": ") {
        Some((n, m)) if !n.starts_with('[') => (n.to_string(), m.to_string()),
        _ => ("Error".to_string(), first.trim_start_matches('[').trim_end_matches(']').to_string()),
    };
    Some(json!({"name": name, "message": message, "stack": stack}))
}

/// `Error: boom` → (`Error`, `boom`); a bare reason is an `Error` with that message.
fn name_and_message(first: &str) -> (String, String) {
    match first.split_once(": ") {
        Some((n, m)) if error_line(first) && !n.starts_with('[') => (n.to_string(), m.to_string()),
        _ => ("Error".to_string(), first.to_string()),
    }
}

/// Finds `UnhandledPromiseRejectionWarning`s in stderr, line by line.
#[derive(Default)]
pub struct RejectionScanner {
    pending: Option<(String, Vec<String>)>,
}

const WARNING: &str = ") UnhandledPromiseRejectionWarning: ";

impl RejectionScanner {
    /// Feeds one line; returns a finished report when this line ends one.
    pub fn line(&mut self, line: &str) -> Option<Value> {
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = line.strip_prefix("(node:").and_then(|l| l.split_once(WARNING)).map(|(_, r)| r) {
            let done = self.finish();
            // The second warning of each pair is Node's generic advice, not the reason.
            if !rest.starts_with("Unhandled promise rejection.") {
                self.pending = Some((rest.to_string(), vec![rest.to_string()]));
            }
            return done;
        }
        if line.trim_start().starts_with("at ") {
            if let Some((_, stack)) = &mut self.pending {
                stack.push(line.to_string());
                return None;
            }
        }
        self.finish()
    }

    pub fn finish(&mut self) -> Option<Value> {
        let (first, stack) = self.pending.take()?;
        let (name, message) = name_and_message(&first);
        Some(json!({"name": name, "message": message, "stack": stack.join("\n")}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_uncaught_exception() {
        let err = "/tmp/app.js:1\nthrow new Error('boom')\n^\n\nError: boom\n    at Object.<anonymous> (/tmp/app.js:1:7)\n    at Module._compile (node:internal)\n\nNode.js v20.20.2\n";
        let e = parse(err.as_bytes()).unwrap();
        assert_eq!(e["message"], "boom");
        assert_eq!(e["name"], "Error");
        assert!(e["stack"].as_str().unwrap().starts_with("Error: boom\n    at Object.<anonymous>"));
    }

    #[test]
    fn finds_a_typed_error_and_an_unhandled_rejection() {
        let t = "TypeError: x is not a function\n    at f (/a.js:2:3)\n\nNode.js v20.1.0\n";
        assert_eq!(parse(t.as_bytes()).unwrap()["name"], "TypeError");
        let r = "node:internal/process/promises:391\n    triggerUncaughtException(err, true);\n    ^\n\n[UnhandledPromiseRejection: The promise rejected with the reason \"x\".] {\n  code: 'ERR_UNHANDLED_REJECTION'\n}\n\nNode.js v20.20.2\n";
        let e = parse(r.as_bytes()).unwrap();
        assert!(e["message"].as_str().unwrap().contains("UnhandledPromiseRejection"));
    }

    #[test]
    fn scans_rejection_warnings() {
        let mut s = RejectionScanner::default();
        let lines = [
            "(node:42) UnhandledPromiseRejectionWarning: Error: rej1",
            "    at [eval]:1:16",
            "    at runScript (node:internal/process/execution:101:62)",
            "(Use `node --trace-warnings ...` to show where the warning was created)",
            "(node:42) UnhandledPromiseRejectionWarning: Unhandled promise rejection. This error originated ... (rejection id: 1)",
            "(node:42) UnhandledPromiseRejectionWarning: plain",
            "(node:42) UnhandledPromiseRejectionWarning: Unhandled promise rejection. (rejection id: 2)",
        ];
        let found: Vec<Value> = lines.iter().filter_map(|l| s.line(l)).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0]["message"], "rej1");
        assert!(found[0]["stack"].as_str().unwrap().contains("at [eval]:1:16"));
        assert_eq!(found[1]["message"], "plain");
    }

    #[test]
    fn ordinary_output_is_not_an_exception() {
        assert!(parse(b"Error: just logging\n").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn tail_keeps_the_end() {
        let mut t = Tail::default();
        t.push(&vec![b'a'; TAIL]);
        t.push(b"end");
        assert_eq!(t.bytes().len(), TAIL);
        assert!(t.bytes().ends_with(b"end"));
    }
}
