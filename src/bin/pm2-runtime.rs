//! `pm2-runtime` (and `pm2-docker`): apps in the foreground, for containers.

fn main() {
    pm2_rs::runtime::main()
}
