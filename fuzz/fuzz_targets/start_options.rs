//! Start options from arbitrary JSON, validated and normalised as for `start()`: a clear
//! error or an app spec, never a panic; instances stay within the limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pm2_rs::config::{normalize, validate, StartContext};
use pm2_rs::home::Home;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(mut raw) = serde_json::from_slice::<Value>(data) else { return };
    let _ = validate(&raw);
    let _ = pm2_rs::config::apps_of_config(raw.clone());
    // With a script that exists, normalisation goes all the way.
    if let Value::Object(m) = &mut raw {
        m.insert("script".into(), Value::String(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml"));
        m.remove("watch");
    }
    let ctx = StartContext { cwd: std::env::temp_dir(), env: Default::default(), node_path: "node".into(), env_name: Some("production".into()) };
    if let Ok(spec) = normalize(&raw, &ctx, &Home::new(std::env::temp_dir().join("pm2-fuzz-home")), 1600) {
        assert!(u64::from(spec.instances) <= pm2_rs::limits::MAX_INSTANCES);
    }
});
