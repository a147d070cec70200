use super::*;
use crate::home::Home;
use serde_json::{json, Map};
use std::path::{Path, PathBuf};

fn ctx(dir: &Path) -> StartContext {
    StartContext { cwd: dir.to_path_buf(), env: Map::new(), node_path: "/usr/bin/node".into(), ..Default::default() }
}

fn tmp_with_script() -> (PathBuf, Home) {
    let dir = std::env::temp_dir().join(format!("pm2rs-config-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.js"), "").unwrap();
    (dir.clone(), Home::new(dir.join("home")))
}

#[test]
fn aliases_and_camel_case_map_to_canonical_keys() {
    let v = validate(&json!({"maxRestarts": "3", "interpreter": "node", "out": "x.log", "bogus": 1})).unwrap();
    assert_eq!(v["max_restarts"], json!(3));
    assert_eq!(v["exec_interpreter"], json!("node"));
    assert_eq!(v["out_file"], json!("x.log"));
    assert!(!v.contains_key("bogus"));
}

#[test]
fn wrong_types_are_clear_errors() {
    let e = validate(&json!({"instances": {}})).unwrap_err();
    assert!(e.contains("\"instances\"") && e.contains("an object"), "{e}");
    assert!(validate(&json!({"max_restarts": "abc"})).unwrap_err().contains("max_restarts"));
    assert!(validate(&json!({"name": 42})).unwrap_err().contains("\"name\""));
    assert!(validate(&json!({"max_memory_restart": "10X"})).is_err());
    assert!(validate(&json!({"restart_delay": -5})).is_err());
}

#[test]
fn a_nul_byte_in_any_option_is_refused_before_anything_starts() {
    for raw in [json!({"env": {"BAD": "a\0b"}}), json!({"args": ["x", "\0"]}), json!({"env_production": {"K\0": "v"}}), json!({"name": "a\0"})] {
        let e = validate(&raw).unwrap_err();
        assert!(e.contains("NUL byte"), "{raw}: {e}");
    }
    assert!(validate(&json!({"env": {"OK": "a b"}})).is_ok());
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_bytes(&json!("10M")), Some(10 * 1024 * 1024));
    assert_eq!(parse_bytes(&json!("1G")), Some(1024 * 1024 * 1024));
    assert_eq!(parse_bytes(&json!(2048)), Some(2048));
    assert_eq!(parse_duration(&json!("2s")), Some(2000));
    assert_eq!(parse_duration(&json!("5000")), Some(5000));
}

#[test]
fn normalizes_name_paths_and_env() {
    let (dir, home) = tmp_with_script();
    let mut c = ctx(&dir);
    c.env.insert("INHERITED".into(), json!("yes"));
    c.env_name = Some("production".into());
    let spec = normalize(
        &json!({"script": "app.js", "env": {"A": 1, "O": {"x": 1}}, "env_production": {"NODE_ENV": "production"}}),
        &c,
        &home,
        1600,
    )
    .unwrap();
    assert_eq!(spec.name, "app");
    assert_eq!(spec.exec_path, dir.join("app.js"));
    assert_eq!(spec.interpreter, "node");
    assert_eq!(spec.interpreter_path, "/usr/bin/node");
    assert_eq!(spec.env["A"], json!("1"));
    assert_eq!(spec.env["O"], json!("{\"x\":1}"));
    assert_eq!(spec.env["NODE_ENV"], json!("production"));
    assert_eq!(spec.env["INHERITED"], json!("yes"));
    assert_eq!(spec.instance_log(&spec.out_file, 0), Some(home.logs_dir().join("app-out.log")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_script_names_the_absolute_path() {
    let (dir, home) = tmp_with_script();
    let e = normalize(&json!({"script": "nope.js"}), &ctx(&dir), &home, 1600).unwrap_err();
    assert_eq!(e, format!("Script not found: {}", dir.join("nope.js").display()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn instances_on_a_node_script_mean_cluster() {
    let (dir, home) = tmp_with_script();
    let spec = normalize(&json!({"script": "app.js", "instances": 2}), &ctx(&dir), &home, 1600).unwrap();
    assert!(spec.is_cluster());
    assert!(!spec.merge_logs);
    let spec = normalize(&json!({"script": "app.js", "instances": 2, "exec_mode": "fork"}), &ctx(&dir), &home, 1600).unwrap();
    assert!(!spec.is_cluster());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn instances_add_pm_id_suffixes() {
    let (dir, home) = tmp_with_script();
    let spec = normalize(&json!({"script": "app.js", "instances": 2, "exec_mode": "fork"}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.instances, 2);
    assert_eq!(spec.instance_log(&spec.error_file, 3), Some(home.logs_dir().join("app-error-3.log")));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cron_patterns_are_checked() {
    assert!(validate(&json!({"cron_restart": "*/5 * * * *"})).is_ok());
    assert!(validate(&json!({"cron_restart": "0 0 * * * *"})).is_ok());
    assert!(validate(&json!({"cron_restart": 0})).is_ok());
    let e = validate(&json!({"cron_restart": "not a cron"})).unwrap_err();
    assert!(e.contains("cron_restart"), "{e}");
}

#[test]
fn watch_paths_and_globs_need_not_exist_yet() {
    let (dir, home) = tmp_with_script();
    let spec = normalize(&json!({"script": "app.js", "watch": ["nope"]}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.watch, vec![dir.join("nope")]);
    let spec = normalize(&json!({"script": "app.js", "watch": true}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.watch, vec![dir.clone()]);
    let spec = normalize(&json!({"script": "app.js", "watch": ["src/**/*.js"]}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.watch, vec![dir.join("src/**/*.js")]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn config_shapes() {
    assert_eq!(apps_of_config(json!({"apps": [{"script": "a"}]})).unwrap().len(), 1);
    assert_eq!(apps_of_config(json!([{"script": "a"}, {"script": "b"}])).unwrap().len(), 2);
    assert!(apps_of_config(json!({"nothing": 1})).is_err());
    assert!(apps_of_config(json!(3)).is_err());
}

#[test]
fn node_apps_follow_source_maps_unless_disabled() {
    let (dir, home) = tmp_with_script();
    let run = |extra: serde_json::Value| {
        let mut app = json!({"script": "app.js", "node_args": ["--max-old-space-size=64"]});
        app.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        normalize(&app, &ctx(&dir), &home, 1600).unwrap()
    };
    let on = run(json!({}));
    assert_eq!(on.node_args, ["--enable-source-maps", "--max-old-space-size=64"]);
    assert_eq!(on.options["node_args"], json!(["--max-old-space-size=64"]), "the description keeps what was given");
    assert_eq!(run(json!({"disable_source_map_support": true})).node_args, ["--max-old-space-size=64"]);
    assert_eq!(run(json!({"interpreter": "/bin/sh"})).node_args, ["--max-old-space-size=64"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_apps_settings_from_module_conf_reach_its_environment() {
    let (dir, home) = tmp_with_script();
    std::fs::create_dir_all(&home.root).unwrap();
    std::fs::write(home.module_conf_file(), r#"{"api": {"level": "debug", "retries": 3}, "other": {"x": "y"}}"#).unwrap();
    let spec = normalize(&json!({"script": "app.js", "name": "api"}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.app_env["level"], json!("debug"));
    assert_eq!(spec.app_env["retries"], json!("3"));
    assert_eq!(spec.app_env["api"], json!(r#"{"level":"debug","retries":3}"#));
    assert!(!spec.app_env.contains_key("x"));
    let spec = normalize(&json!({"script": "app.js", "name": "plain"}), &ctx(&dir), &home, 1600).unwrap();
    assert_eq!(spec.app_env["plain"], json!("{}"));
    std::fs::remove_dir_all(dir).unwrap();
}
