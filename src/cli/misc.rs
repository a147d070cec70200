//! Scaffolding (`ecosystem`, `examples`) and pm2's commands this package does not offer,
//! which say so and exit 1 instead of pretending.

use clap::ArgMatches;

use super::output;
use super::{Ctx, Failure, Outcome};

/// pm2 commands that are not here, and why.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    ("link", "PM2 Plus is not supported"),
    ("unlink", "PM2 Plus is not supported"),
    ("plus", "PM2 Plus is not supported"),
    ("login", "PM2 Plus is not supported"),
    ("logout", "PM2 Plus is not supported"),
    ("register", "PM2 Plus is not supported"),
    ("open", "PM2 Plus is not supported"),
    ("monitor", "PM2 Plus is not supported"),
    ("unmonitor", "PM2 Plus is not supported"),
    ("dashboard", "the PM2 Plus dashboard is not supported: use `pm2 monit`"),
    ("dash", "the PM2 Plus dashboard is not supported: use `pm2 monit`"),
    ("imonit", "use `pm2 monit`"),
    ("pull", "deploy is not supported"),
    ("forward", "deploy is not supported"),
    ("backward", "deploy is not supported"),
    ("module:update", "pm2 modules are not supported"),
    ("module:generate", "pm2 modules are not supported"),
    ("package", "pm2 modules are not supported"),
    ("publish", "pm2 modules are not supported"),
    ("profile:mem", "profiling is not supported"),
    ("profile:cpu", "profiling is not supported"),
    ("inspect", "inspect is not supported: start the app with --node-args=\"--inspect\""),
    ("sysmonit", "system monitoring is not supported"),
    ("slist", "system monitoring is not supported"),
    ("sysinfos", "system monitoring is not supported"),
    ("deepUpdate", "update the package with npm, then run `pm2 update`"),
    ("autoinstall", "pm2 modules are not supported"),
];

pub fn unsupported(name: &str) -> Outcome {
    let why = UNSUPPORTED.iter().find(|(n, _)| *n == name).map_or("not supported", |(_, w)| w);
    Err(Failure::from(format!("`pm2 {name}`: {why} by this pm2")))
}

const SIMPLE: &str = "module.exports = {\n  apps: [{ name: 'app', script: './index.js' }],\n}\n";

const FULL: &str = r#"// The apps pm2 runs: `pm2 start ecosystem.config.js [--env production]`
module.exports = {
  apps: [
    {
      name: 'app',
      script: './index.js',
      instances: 1,
      watch: false,
      max_memory_restart: '500M',
      env: { NODE_ENV: 'development' },
      env_production: { NODE_ENV: 'production' },
    },
  ],
}
"#;

/// Writes `ecosystem.config.js` in the current directory (`simple`: one app, no deploy).
pub fn ecosystem(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let file = ctx.cwd.join("ecosystem.config.js");
    let text = if m.get_one::<String>("mode").map(String::as_str) == Some("simple") { SIMPLE } else { FULL };
    std::fs::write(&file, text).map_err(|e| format!("Cannot write {}: {e}", file.display()))?;
    output::info(format!("File {} generated", file.display()));
    Ok(())
}

pub fn examples() -> Outcome {
    output::print(
        "
    - Start and add a process to the pm2 process list:
    $ pm2 start app.js --name app

    - Show the process list:
    $ pm2 ls

    - Stop and delete a process from the pm2 process list:
    $ pm2 delete app

    - Stop, start and restart a process from the process list:
    $ pm2 stop app
    $ pm2 start app
    $ pm2 restart app

    - Clusterize an app to all CPU cores available:
    $ pm2 start -i max

    - Update pm2 and its apps' environment:
    $ pm2 restart app --update-env

    - Start the apps of a config file in an environment:
    $ pm2 start ecosystem.config.js --env production

    - Follow the logs of every app, or of one:
    $ pm2 logs
    $ pm2 logs app --lines 100

    - Save the list, and bring it back at boot:
    $ pm2 save
    $ pm2 startup
",
    );
    Ok(())
}
