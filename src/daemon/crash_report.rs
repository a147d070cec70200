//! `process:exception` without loading anything into apps: when a Node app dies of an
//! uncaught exception or an unhandled rejection, Node prints the error and a closing
//! `Node.js vX.Y.Z` line to stderr. The daemon reads that report from the end of the app's
//! stderr and turns it into pm2's packet data (`{name, message, stack}`).

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
