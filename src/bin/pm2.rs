//! `pm2`: the command line, a native client of the same daemon the Node API talks to.

fn main() {
    std::process::exit(pm2_rs::cli::main(std::env::args_os().collect()));
}
