//! pm2-rs: the Rust side of the pm2 drop-in.
//!
//! `protocol` is the client ⇄ daemon wire format, `home` the files under `PM2_HOME`,
//! `config` the validation and normalisation of pm2 start options, `client` the connection a
//! script holds, `daemon` the long-lived supervisor, `runtime` the foreground `pm2-runtime`, `takeover` the move from a running original pm2
//! daemon.
//! The Node addon that exposes the client is its own crate, in `node/`.

pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod home;
pub mod limits;
pub mod platform;
pub mod protocol;
pub mod runtime;
pub mod startup;
pub mod takeover;
pub mod yaml;
