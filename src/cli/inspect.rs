//! Node's `util.inspect(value, false, null, false)` of JSON data, byte for byte: what pm2
//! prints for `prettylist` and `slist`, and what users' scripts grep (`restart_time: 1`,
//! `exec_mode: 'cluster_mode'`).
//!
//! The rules are Node's (v12 and later, unchanged since): `breakLength` 80, `compact` 3,
//! `maxArrayLength` 100, `maxStringLength` 10000, unlimited depth. Lengths are counted in
//! UTF-16 units as JavaScript counts them.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

const BREAK_LENGTH: usize = 80;
const COMPACT: usize = 3;
const MAX_ARRAY_LENGTH: usize = 100;
const MAX_STRING_LENGTH: usize = 10_000;
/// Strings no longer than this are never split on their newlines.
const MIN_LINE_WIDTH: usize = 16;

/// A JSON value as `JSON.parse` builds it: numbers are doubles, and an object keeps its keys
/// in JavaScript's order (integer keys ascending, then the others as they came).
#[derive(Debug, Clone, PartialEq)]
pub enum Js {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

impl<'de> Deserialize<'de> for Js {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Js, D::Error> {
        d.deserialize_any(JsVisitor)
    }
}

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = Js;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Js, E> {
        Ok(Js::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Js, E> {
        Ok(Js::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Js, E> {
        Ok(Js::Num(n as f64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Js, E> {
        Ok(Js::Num(n as f64))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Js, E> {
        Ok(Js::Num(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Js, E> {
        Ok(Js::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Js, E> {
        Ok(Js::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Js, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Js::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Js, A::Error> {
        let mut entries: Vec<(String, Js)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Js>()? {
            // A repeated key keeps its first place and its last value, as JSON.parse does.
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        // JavaScript lists array-index keys first, in numeric order (a stable sort keeps
        // the other keys as they came).
        entries.sort_by_key(|(k, _)| index_key(k).map_or((1, 0), |i| (0, i)));
        Ok(Js::Obj(entries))
    }
}

/// The key as an array index ("0", "17"; not "01" nor 2^32 - 1), as JavaScript orders them.
fn index_key(key: &str) -> Option<u64> {
    let canonical = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
    let n: u64 = if canonical && key.len() <= 10 { key.parse().ok()? } else { return None };
    (n < u32::MAX as u64).then_some(n)
}

/// `util.inspect(JSON.parse(json), false, null, false)`.
pub fn inspect_json(json: &str) -> Result<String, serde_json::Error> {
    Ok(inspect(&serde_json::from_str::<Js>(json)?))
}

pub fn inspect(value: &Js) -> String {
    Inspector { indentation: 0, current_depth: 0 }.value(value, 0)
}

/// The two pieces of Node's inspection context that shape the layout.
struct Inspector {
    /// Spaces before the entries of the value being formatted.
    indentation: usize,
    /// Depth of the object most recently entered: Node never resets it on the way back up,
    /// so an object's layout depends on its last nested object, not its deepest.
    current_depth: usize,
}

fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

impl Inspector {
    fn value(&mut self, value: &Js, depth: usize) -> String {
        match value {
            Js::Null => "null".into(),
            Js::Bool(b) => b.to_string(),
            Js::Num(n) => js_number(*n),
            Js::Str(s) => self.string(s),
            Js::Arr(items) if items.is_empty() => "[]".into(),
            Js::Obj(entries) if entries.is_empty() => "{}".into(),
            Js::Arr(items) => {
                let depth = depth + 1;
                self.current_depth = depth;
                let shown = items.len().min(MAX_ARRAY_LENGTH);
                let mut output: Vec<String> = items[..shown].iter().map(|item| self.nested(item, depth)).collect();
                let remaining = items.len() - shown;
                if remaining > 0 {
                    output.push(format!("... {remaining} more item{}", if remaining > 1 { "s" } else { "" }));
                }
                self.reduce(output, ('[', ']'), Some(items), depth)
            }
            Js::Obj(entries) => {
                let depth = depth + 1;
                self.current_depth = depth;
                let output = entries.iter().map(|(key, item)| format!("{}: {}", property_name(key), self.nested(item, depth))).collect();
                self.reduce(output, ('{', '}'), None, depth)
            }
        }
    }

    fn nested(&mut self, value: &Js, depth: usize) -> String {
        self.indentation += 2;
        let text = self.value(value, depth);
        self.indentation -= 2;
        text
    }

    /// A string, cut after 10000 characters, and split after each newline into `' +`-joined
    /// pieces when it is too long for the line.
    fn string(&self, s: &str) -> String {
        let units: Vec<u16> = s.encode_utf16().collect();
        let (s, trailer) = if units.len() > MAX_STRING_LENGTH {
            let remaining = units.len() - MAX_STRING_LENGTH;
            let kept = String::from_utf16_lossy(&units[..MAX_STRING_LENGTH]);
            (kept, format!("... {remaining} more character{}", if remaining > 1 { "s" } else { "" }))
        } else {
            (s.to_string(), String::new())
        };
        let len = js_len(&s);
        if len > MIN_LINE_WIDTH && len + self.indentation + 4 > BREAK_LENGTH {
            let pieces: Vec<String> = s.split_inclusive('\n').map(quote).collect();
            let joiner = format!(" +\n{}", " ".repeat(self.indentation + 2));
            return pieces.join(&joiner) + &trailer;
        }
        quote(&s) + &trailer
    }

    /// Node's `reduceToSingleString`: entries on one line when the object is shallow and short
    /// enough, else one entry (or one row of grouped array items) per line.
    fn reduce(&self, mut output: Vec<String>, braces: (char, char), array: Option<&[Js]>, depth: usize) -> String {
        let entries = output.len();
        if let Some(items) = array {
            if entries > 6 {
                output = self.group_array_elements(output, items);
            }
        }
        if self.current_depth - depth < COMPACT && entries == output.len() {
            let start = output.len() + self.indentation + 1 + 10;
            if self.is_below_break_length(&output, start) {
                let joined = output.join(", ");
                if !joined.contains('\n') {
                    return format!("{} {joined} {}", braces.0, braces.1);
                }
            }
        }
        let indentation = format!("\n{}", " ".repeat(self.indentation));
        format!("{}{indentation}  {}{indentation}{}", braces.0, output.join(&format!(",{indentation}  ")), braces.1)
    }

    fn is_below_break_length(&self, output: &[String], start: usize) -> bool {
        let mut total = output.len() + start;
        if total + output.len() > BREAK_LENGTH {
            return false;
        }
        for entry in output {
            total += js_len(entry);
            if total > BREAK_LENGTH {
                return false;
            }
        }
        true
    }

    /// Node's `groupArrayElements`: many short items laid out in aligned columns.
    fn group_array_elements(&self, output: Vec<String>, items: &[Js]) -> Vec<String> {
        const SEPARATOR_SPACE: usize = 2;
        // The "... n more items" line is not part of the grid.
        let grid_len = if output.len() > MAX_ARRAY_LENGTH { output.len() - 1 } else { output.len() };
        let data_len: Vec<usize> = output[..grid_len].iter().map(|s| js_len(s)).collect();
        let total_length: usize = data_len.iter().map(|l| l + SEPARATOR_SPACE).sum();
        let max_length = data_len.iter().copied().max().unwrap_or(0);
        let actual_max = max_length + SEPARATOR_SPACE;
        if !(actual_max * 3 + self.indentation < BREAK_LENGTH && (total_length as f64 / actual_max as f64 > 5.0 || max_length <= 6)) {
            return output;
        }
        let average_bias = (actual_max as f64 - total_length as f64 / output.len() as f64).sqrt();
        let biased_max = (actual_max as f64 - 3.0 - average_bias).max(1.0);
        let columns = [
            // JavaScript's Math.round: halves go up.
            ((2.5 * biased_max * grid_len as f64).sqrt() / biased_max + 0.5).floor() as usize,
            (BREAK_LENGTH - self.indentation) / actual_max,
            COMPACT * 4,
            15,
        ]
        .into_iter()
        .min()
        .unwrap_or(1);
        if columns <= 1 {
            return output;
        }
        let max_line_length: Vec<usize> = (0..columns)
            .map(|i| data_len.iter().skip(i).step_by(columns).copied().max().unwrap_or(0) + SEPARATOR_SPACE)
            .collect();
        // Numbers align right, anything else left.
        let numbers = items.iter().take(output.len()).all(|v| matches!(v, Js::Num(_)));
        let pad = |text: String, width: usize| {
            let fill = " ".repeat(width.saturating_sub(js_len(&text)));
            if numbers {
                fill + &text
            } else {
                text + &fill
            }
        };
        let mut rows = Vec::new();
        for row_start in (0..grid_len).step_by(columns) {
            let row_end = (row_start + columns).min(grid_len);
            let mut row = String::new();
            for j in row_start..row_end - 1 {
                row += &pad(format!("{}, ", output[j]), max_line_length[j - row_start]);
            }
            let last = row_end - 1;
            if numbers {
                row += &pad(output[last].clone(), max_line_length[last - row_start] - SEPARATOR_SPACE);
            } else {
                row += &output[last];
            }
            rows.push(row);
        }
        if output.len() > grid_len {
            rows.push(output[grid_len].clone());
        }
        rows
    }
}

/// A key as Node writes it: bare when it is an identifier, else quoted.
fn property_name(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if key == "__proto__" {
        "['__proto__']".into()
    } else if identifier {
        key.into()
    } else {
        quote(key)
    }
}

/// Node's `strEscape`: single quotes unless the text holds one, then double quotes, then
/// backticks; control characters and the C1 range escaped.
fn quote(s: &str) -> String {
    let mut delimiter = '\'';
    if s.contains('\'') {
        if !s.contains('"') {
            delimiter = '"';
        } else if !s.contains('`') && !s.contains("${") {
            delimiter = '`';
        }
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push(delimiter);
    for c in s.chars() {
        match c {
            '\'' if delimiter == '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(delimiter);
    out
}

/// JavaScript's `Number.prototype.toString()`: the shortest digits that read back the same,
/// plain between 1e-7 and 1e21, exponent form outside.
pub fn js_number(n: f64) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !n.is_finite() {
        return if n.is_nan() { "NaN".into() } else if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde-7".
    let sci = format!("{:e}", n.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i64 = exponent.parse().expect("{:e} exponent is an integer");
    let k = digits.len() as i64;
    let point = exponent + 1; // digits × 10^(point - k)
    let body = if k <= point && point <= 21 {
        digits + &"0".repeat((point - k) as usize)
    } else if 0 < point && point <= 21 {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let sign = if point - 1 < 0 { '-' } else { '+' };
        let rest = if k > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{}{rest}e{sign}{}", &digits[..1], (point - 1).abs())
    };
    if n < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// What Node itself prints for each JSON text (node is this package's runtime).
    fn node_inspects(docs: &[String]) -> Vec<String> {
        let script = "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const u=require('util');\
                      process.stdout.write(JSON.stringify(JSON.parse(s).map(t=>u.inspect(JSON.parse(t),false,null,false))))})";
        let mut child = Command::new("node")
            .args(["-e", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        child.stdin.take().unwrap().write_all(serde_json::to_string(docs).unwrap().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "node failed");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn assert_like_node(docs: Vec<String>) {
        let expected = node_inspects(&docs);
        for (doc, want) in docs.iter().zip(expected) {
            let got = inspect_json(doc).unwrap();
            if got != want {
                let line = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "differs from Node at line {line} for {:.400}\n ours: {:?}\n node: {:?}",
                    doc,
                    got.lines().nth(line),
                    want.lines().nth(line)
                );
            }
        }
    }

    /// A small deterministic generator (xorshift) of JSON shapes: wide and narrow arrays,
    /// deep and shallow objects, strings near the line limits, numbers of every magnitude.
    struct Shapes(u64);

    impl Shapes {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn string(&mut self) -> String {
            const PIECES: [&str; 12] = ["a", "word ", "\n", "'", "\"", "`", "${", "\\", "\t", "é", "😀", "\u{1}"];
            let len = [0, 3, 15, 17, 40, 90, 130][self.next(7) as usize];
            (0..len).map(|_| if self.next(4) == 0 { PIECES[self.next(12) as usize] } else { "x" }).collect()
        }
        fn number(&mut self) -> serde_json::Value {
            match self.next(6) {
                0 => serde_json::json!(self.next(10)),
                1 => serde_json::json!(self.next(1 << 40)),
                2 => serde_json::json!(-(self.next(100_000) as i64)),
                3 => serde_json::json!(self.next(1000) as f64 / 7.0),
                4 => serde_json::json!(1.5e-7 * self.next(100) as f64),
                _ => serde_json::json!(3.0e21 * self.next(100) as f64),
            }
        }
        fn key(&mut self) -> String {
            ["name", "pm_id", "exec-mode", "2", "10", "01", "_x", "a b", "it's", "__proto__", "PM2_HOME", "é"][self.next(12) as usize].into()
        }
        fn value(&mut self, depth: u32) -> serde_json::Value {
            use serde_json::Value;
            let kind = if depth > 4 { self.next(4) } else { self.next(8) };
            match kind {
                0 => Value::Null,
                1 => Value::Bool(self.next(2) == 0),
                2 => self.number(),
                3 => Value::String(self.string()),
                4 | 5 => {
                    let numeric = self.next(2) == 0;
                    let len = if numeric { [0, 1, 6, 7, 12, 27, 101, 130][self.next(8) as usize] } else { self.next(9) };
                    Value::Array((0..len).map(|_| if numeric { self.number() } else { self.value(depth + 1) }).collect())
                }
                _ => {
                    let len = self.next(7);
                    let mut map = serde_json::Map::new();
                    for _ in 0..len {
                        map.insert(self.key(), self.value(depth + 1));
                    }
                    Value::Object(map)
                }
            }
        }
    }

    #[test]
    fn formats_as_node_inspects_json_of_many_shapes() {
        let mut shapes = Shapes(0x9e37_79b9_7f4a_7c15);
        assert_like_node((0..1500).map(|_| shapes.value(0).to_string()).collect());
    }

    #[test]
    fn formats_as_node_inspects_the_edge_cases() {
        let long_line = "y".repeat(200);
        let docs = [
            r#"[]"#.to_string(),
            r#"{}"#.into(),
            r#"[{}]"#.into(),
            r#"{"a":{"b":{"c":{"d":{}}}}}"#.into(),
            r#"{"a":{"b":{"c":{"d":1}}}}"#.into(),
            r#"{"a":[[[[1]]]],"b":2}"#.into(),
            // Node lays an object out by its last nested object, not its deepest one.
            r#"{"a":{"b":{"c":{"d":1}}},"e":{"f":1}}"#.into(),
            r#"{"e":{"f":1},"a":{"b":{"c":{"d":1}}}}"#.into(),
            r#"{"b":1,"a":2,"3":3,"1":4,"4294967295":5,"4294967294":6}"#.into(),
            r#"{"a":1,"a":2,"b":3}"#.into(),
            r#"[0,-0.0,1e21,1e-7,123e-20,0.000001,1.7976931348623157e308,5e-324,9007199254740993]"#.into(),
            r#"[1,2,3,4,5,6,7]"#.into(),
            r#"["a","bb","ccc","dddd","eeeee","ffffff","ggggggg"]"#.into(),
            format!(r#"{{"s":"{long_line}","t":"a\nb\n{long_line}\n"}}"#),
            format!(r#"[{}]"#, (0..150).map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
            format!(r#"["{}"]"#, "z".repeat(10_005)),
            r#""it's \"q\"""#.into(),
            r#"{"env":{"PATH":"/usr/bin:/bin","HOME":"/root","_":"/usr/bin/node","PM2_USAGE":"CLI"}}"#.into(),
            r#"[{"pid":12,"name":"api","pm2_env":{"exec_mode":"cluster_mode","restart_time":1,"axm_options":{},"args":["--port","3000"],"versioning":null,"status":"online","unstable_restarts":0},"pm_id":0,"monit":{"memory":41984000,"cpu":0.5}}]"#.into(),
        ];
        assert_like_node(docs.into());
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (n, s) in [(1.0, "1"), (0.1, "0.1"), (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (123456.789, "123456.789"), (-2.5, "-2.5"), (1e-6, "0.000001")] {
            assert_eq!(js_number(n), s);
        }
    }
}
