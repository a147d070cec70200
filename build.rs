//! Links the functions the daemon runs first (src/bin/code-order.ld, made by
//! `scripts/order-code.js`) ahead of the rest of its code, so that an idle daemon keeps few code
//! pages resident. The script only orders sections: a linker that is not given it (macOS), or a
//! function it does not name (a renamed one), keeps the compiler's order.
//! `PM2_RS_NO_CODE_ORDER=1` leaves it out: the profiling build of `scripts/order-code.js` needs
//! the compiler's layout, as valgrind names only the functions that sit in `.text`.

fn main() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/code-order.ld");
    println!("cargo:rerun-if-changed=src/bin/code-order.ld");
    println!("cargo:rerun-if-env-changed=PM2_RS_NO_CODE_ORDER");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if linux && std::env::var_os("PM2_RS_NO_CODE_ORDER").is_none() {
        for bin in ["pm2-daemon", "pm2-runtime"] {
            println!("cargo:rustc-link-arg-bin={bin}=-T");
            println!("cargo:rustc-link-arg-bin={bin}={script}");
        }
    }
}
