//! pm2 start options: validation, aliases, defaults and normalisation into an [`AppSpec`].
//!
//! Every entry point (an options object, a script path, a config file) ends up here, once,
//! in the daemon. Keys follow pm2's schema (`lib/API/schema.json`): each key also accepts its
//! camelCase form and pm2's aliases; unknown keys are dropped as pm2 drops them, except
//! `env_<name>` blocks. A value of the wrong type is an error naming the key, never a silent
//! default.
//!
//! `schema`: the keys, their aliases and kinds; `validate`: checking values; `normalize`:
//! raw options into an [`AppSpec`] (`spec`); `paths`: where scripts and log files are;
//! `watch`: what `watch` watches; `files`: the shapes of config files.

mod files;
mod normalize;
mod paths;
mod schema;
mod spec;
mod validate;
mod watch;

pub use files::{apps_of_config, declared_name, only_apps};
pub use normalize::normalize;
pub use paths::{lexically_normal, which};
pub use schema::is_option_key;
pub use spec::{AppSpec, StartContext};
pub use validate::{parse_bytes, parse_cron, parse_duration, signal_named, validate};

#[cfg(test)]
mod tests;
