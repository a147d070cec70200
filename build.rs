fn main() {
    // Only the Node addon needs napi's link arguments; the daemon binary is plain Rust.
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
