//! YAML config files (`ecosystem.yml`) as JSON values. serde_norway is the maintained
//! continuation of serde_yaml; it refuses documents whose aliases expand past a fixed
//! limit, so an alias bomb is an error instead of gigabytes of memory.

use serde_json::Value;

pub fn parse(text: &str) -> Result<Value, String> {
    serde_norway::from_str::<Value>(text).map_err(|e| format!("Invalid YAML: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecosystem_file_parses() {
        let v = parse("apps:\n  - name: api\n    script: app.js\n    instances: 2\n    env:\n      A: \"1\"\n").unwrap();
        assert_eq!(v["apps"][0]["name"], "api");
        assert_eq!(v["apps"][0]["instances"], 2);
        assert_eq!(v["apps"][0]["env"]["A"], "1");
    }

    #[test]
    fn an_alias_bomb_is_rejected() {
        // Nine levels of nine aliases each: 9^9 (~387 million) strings once expanded.
        let mut doc = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let (prev, cur) = (w[0], w[1]);
            doc.push_str(&format!("{cur}: &{cur} [{}]\n", vec![format!("*{prev}"); 9].join(",")));
        }
        let err = parse(&doc).unwrap_err();
        assert!(err.contains("Invalid YAML"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        assert!(parse("apps: [unclosed").unwrap_err().starts_with("Invalid YAML"));
    }
}
