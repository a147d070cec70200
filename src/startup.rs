//! `startup()`: the boot service that brings the daemon back with the saved process list
//! (`pm2-daemon --detach --resurrect`), for systemd, upstart, System V init, OpenRC,
//! launchd and FreeBSD's rc.d. Files go under `root` (the real `/` by default, a temporary
//! folder in tests); the enabling commands run only for a real install.

use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Default)]
pub struct StartupOptions {
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// The user's home (pm2's `--hp`); `PM2_HOME` is `<hp>/.pm2` unless `pm2_home` is given.
    #[serde(default)]
    pub hp: Option<String>,
    #[serde(default)]
    pub pm2_home: Option<String>,
    #[serde(default, alias = "serviceName")]
    pub service_name: Option<String>,
    /// Where `/` is: files are written below it; commands run only when it is `/`.
    #[serde(default)]
    pub root: Option<String>,
    pub daemon_path: String,
    #[serde(default)]
    pub path_env: Option<String>,
}

#[derive(Debug)]
pub struct Plan {
    pub platform: &'static str,
    pub destination: PathBuf,
    pub template: String,
    pub enable: Vec<String>,
    pub disable: Vec<String>,
}

fn canonical(platform: &str) -> Result<&'static str, String> {
    Ok(match platform {
        "systemd" | "ubuntu" | "centos" | "arch" | "oracle" | "redhat" => "systemd",
        "upstart" | "ubuntu14" | "ubuntu12" => "upstart",
        "systemv" | "amazon" | "centos6" => "systemv",
        "openrc" | "gentoo" | "alpine" => "openrc",
        "launchd" | "darwin" | "macos" => "launchd",
        "rcd" | "freebsd" => "rcd",
        "rcd-openbsd" | "openbsd" | "smf" | "sunos" | "solaris" => {
            return Err(format!("not implemented: startup for {platform}; supported: systemd, upstart, systemv, openrc, launchd, rcd"))
        }
        other => return Err(format!("Unknown init system \"{other}\"; use one of: systemd, upstart, systemv, openrc, launchd, rcd")),
    })
}

/// The init system of this machine, found as pm2 finds it: by its tools.
fn detect() -> Result<&'static str, String> {
    let has = |cmd: &str| crate::config::which(cmd, None).is_some();
    if has("systemctl") {
        Ok("systemd")
    } else if has("rc-update") {
        Ok("openrc")
    } else if has("update-rc.d") || has("chkconfig") {
        Ok("systemv")
    } else if has("launchctl") {
        Ok("launchd")
    } else if has("sysrc") {
        Ok("rcd")
    } else {
        Err("No init system found (looked for systemctl, rc-update, update-rc.d, chkconfig, launchctl, sysrc): pass the platform, e.g. startup('systemd')".into())
    }
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .or_else(|| nix::unistd::User::from_uid(nix::unistd::geteuid()).ok().flatten().map(|u| u.name))
        .unwrap_or_else(|| "root".into())
}

fn home_of(user: &str) -> String {
    nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .map(|u| u.dir.to_string_lossy().into_owned())
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| format!("/home/{user}"))
}

fn under(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

/// The user and service name go into shell commands and scripts: only the characters
/// user and unit names are made of are accepted.
fn shell_safe(what: &str, value: String) -> Result<String, String> {
    let ok = !value.is_empty() && !value.starts_with('-') && value.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if ok {
        Ok(value)
    } else {
        Err(format!("Invalid {what} {value:?}: use only letters, digits, '.', '_', '@' and '-'"))
    }
}

pub fn plan(o: &StartupOptions) -> Result<Plan, String> {
    let platform = match &o.platform {
        Some(p) if !p.is_empty() => canonical(p)?,
        _ => detect()?,
    };
    let user = shell_safe("user", o.user.clone().unwrap_or_else(current_user))?;
    let hp = o.hp.clone().unwrap_or_else(|| home_of(&user));
    let pm2_home = o.pm2_home.clone().unwrap_or_else(|| format!("{}/.pm2", hp.trim_end_matches('/')));
    let service = shell_safe("service name", o.service_name.clone().unwrap_or_else(|| format!("pm2-{user}")))?;
    let root = PathBuf::from(o.root.clone().unwrap_or_else(|| "/".into()));
    let daemon = &o.daemon_path;
    let path_env = o.path_env.clone().or_else(|| std::env::var("PATH").ok()).unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let start = format!("{daemon} --home {pm2_home} --detach --resurrect");

    let (destination, template, enable, disable) = match platform {
        "systemd" => (
            under(&root, &format!("/etc/systemd/system/{service}.service")),
            format!(
                "[Unit]\nDescription=PM2 process manager (Rust daemon)\nDocumentation=https://pm2.keymetrics.io/\nAfter=network.target\n\n\
                 [Service]\nType=forking\nUser={user}\nLimitNOFILE=infinity\nLimitNPROC=infinity\nLimitCORE=infinity\n\
                 Environment=PATH={path_env}\nEnvironment=PM2_HOME={pm2_home}\nPIDFile={pm2_home}/pm2.pid\nRestart=on-failure\n\n\
                 ExecStart={start}\nExecReload=/bin/kill -USR2 $MAINPID\nExecStop=/bin/kill -TERM $MAINPID\n\n\
                 [Install]\nWantedBy=multi-user.target\n"
            ),
            vec![format!("systemctl enable {service}")],
            vec![format!("systemctl disable {service}")],
        ),
        "upstart" | "systemv" | "openrc" => {
            let script = init_script(platform, &user, &pm2_home, &path_env, &start);
            let (on, off) = match platform {
                "openrc" => (format!("rc-update add {service} default"), format!("rc-update delete {service} default")),
                "upstart" => (format!("update-rc.d {service} defaults"), format!("update-rc.d -f {service} remove")),
                _ => (
                    format!("update-rc.d {service} defaults || chkconfig {service} on"),
                    format!("update-rc.d -f {service} remove || chkconfig {service} off"),
                ),
            };
            (under(&root, &format!("/etc/init.d/{service}")), script, vec![on], vec![off])
        }
        "launchd" => {
            let label = format!("pm2.{user}");
            (
                under(&root, &format!("{hp}/Library/LaunchAgents/{label}.plist")),
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
                     <plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>{label}</string>\n  <key>UserName</key><string>{user}</string>\n\
                     <key>RunAtLoad</key><true/>\n  <key>ProgramArguments</key>\n  <array>\n    <string>{daemon}</string>\n    <string>--home</string>\n    <string>{pm2_home}</string>\n    <string>--resurrect</string>\n  </array>\n\
                     <key>EnvironmentVariables</key>\n  <dict>\n    <key>PATH</key><string>{path_env}</string>\n    <key>PM2_HOME</key><string>{pm2_home}</string>\n  </dict>\n</dict>\n</plist>\n"
                ),
                vec![format!("launchctl load -w {hp}/Library/LaunchAgents/{label}.plist")],
                vec![format!("launchctl unload -w {hp}/Library/LaunchAgents/{label}.plist")],
            )
        }
        _ => (
            under(&root, &format!("/usr/local/etc/rc.d/{service}")),
            format!(
                "#!/bin/sh\n# PROVIDE: {service}\n# REQUIRE: LOGIN\n# KEYWORD: shutdown\n\n. /etc/rc.subr\n\nname=\"{service}\"\nrcvar=\"{rcvar}_enable\"\n\
                 pidfile=\"{pm2_home}/pm2.pid\"\ncommand=\"/usr/bin/su\"\ncommand_args=\"-m {user} -c 'PM2_HOME={pm2_home} PATH={path_env} {start}'\"\n\n\
                 load_rc_config $name\nrun_rc_command \"$1\"\n",
                rcvar = service.replace('-', "_")
            ),
            vec![format!("sysrc {}_enable=YES", service.replace('-', "_"))],
            vec![format!("sysrc -x {}_enable", service.replace('-', "_"))],
        ),
    };
    Ok(Plan { platform, destination, template, enable, disable })
}

/// A shell init script (System V style; OpenRC and upstart run it through their compat layers).
fn init_script(platform: &str, user: &str, pm2_home: &str, path_env: &str, start: &str) -> String {
    let shebang = if platform == "openrc" { "#!/sbin/openrc-run" } else { "#!/bin/sh" };
    let body = format!(
        "USER={user}\nexport PM2_HOME={pm2_home}\nexport PATH={path_env}\nPIDFILE=\"$PM2_HOME/pm2.pid\"\n\n\
         do_start() {{ su -s /bin/sh \"$USER\" -c \"PM2_HOME=$PM2_HOME PATH=$PATH {start}\"; }}\n\
         do_stop() {{ [ -f \"$PIDFILE\" ] && kill -TERM \"$(cat \"$PIDFILE\")\"; }}\n\
         do_reload() {{ [ -f \"$PIDFILE\" ] && kill -USR2 \"$(cat \"$PIDFILE\")\"; }}\n"
    );
    if platform == "openrc" {
        format!("{shebang}\n# Generated by pm2 startup\ndescription=\"PM2 process manager\"\n{body}\ndepend() {{ need net localmount; }}\nstart() {{ ebegin \"Starting PM2\"; do_start; eend $?; }}\nstop() {{ ebegin \"Stopping PM2\"; do_stop; eend $?; }}\n")
    } else {
        format!(
            "{shebang}\n### BEGIN INIT INFO\n# Provides:          pm2\n# Required-Start:    $local_fs $remote_fs $network\n# Required-Stop:     $local_fs $remote_fs $network\n\
             # Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n# Short-Description: PM2 process manager\n### END INIT INFO\n\n{body}\n\
             case \"$1\" in\n  start) do_start ;;\n  stop) do_stop ;;\n  restart) do_stop; sleep 1; do_start ;;\n  reload) do_reload ;;\n  status) [ -f \"$PIDFILE\" ] && kill -0 \"$(cat \"$PIDFILE\")\" ;;\n  *) echo \"Usage: $0 {{start|stop|restart|reload|status}}\"; exit 2 ;;\nesac\n"
        )
    }
}

fn real_install(o: &StartupOptions) -> bool {
    o.root.as_deref().map_or(true, |r| Path::new(r) == Path::new("/"))
}

fn must_be_root(o: &StartupOptions, what: &str) -> Result<(), String> {
    if real_install(o) && !nix::unistd::geteuid().is_root() {
        let platform = o.platform.clone().unwrap_or_default();
        return Err(format!(
            "{what} needs root to write the boot service. Run: sudo env PATH=\"$PATH\" PM2_HOME=\"{}\" node -e \"require('pm2').{}('{platform}', {{user: '{}'}}, (e, r) => {{ if (e) {{ console.error(e.message); process.exit(1) }} console.log(r) }})\"",
            o.pm2_home.clone().unwrap_or_default(),
            if what == "startup" { "startup" } else { "uninstallStartup" },
            o.user.clone().unwrap_or_else(current_user),
        ));
    }
    Ok(())
}

fn run(commands: &[String]) -> Result<(), String> {
    for c in commands {
        let status = std::process::Command::new("sh").arg("-c").arg(c).status().map_err(|e| format!("{c}: {e}"))?;
        if !status.success() {
            return Err(format!("`{c}` failed ({status})"));
        }
    }
    Ok(())
}

/// Writes the boot service and enables it: `{destination, template, platform, commands}`.
pub fn install(o: &StartupOptions) -> Result<Value, String> {
    let plan = plan(o)?;
    must_be_root(o, "startup")?;
    if let Some(dir) = plan.destination.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("Cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&plan.destination, &plan.template).map_err(|e| format!("Cannot write {}: {e}", plan.destination.display()))?;
    if plan.template.starts_with("#!") {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&plan.destination, std::fs::Permissions::from_mode(0o755));
    }
    if real_install(o) {
        run(&plan.enable)?;
    }
    Ok(json!({"destination": plan.destination, "template": plan.template, "platform": plan.platform, "commands": plan.enable}))
}

/// Disables and removes the boot service: `{commands, platform, destination}`.
pub fn uninstall(o: &StartupOptions) -> Result<Value, String> {
    let plan = plan(o)?;
    must_be_root(o, "uninstallStartup")?;
    if real_install(o) {
        run(&plan.disable)?;
    }
    if plan.destination.exists() {
        std::fs::remove_file(&plan.destination).map_err(|e| format!("Cannot remove {}: {e}", plan.destination.display()))?;
    }
    Ok(json!({"commands": plan.disable, "platform": plan.platform, "destination": plan.destination}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(platform: &str, root: &Path) -> StartupOptions {
        StartupOptions {
            platform: Some(platform.into()),
            user: Some("alice".into()),
            hp: Some("/home/alice".into()),
            root: Some(root.to_string_lossy().into_owned()),
            daemon_path: "/opt/pm2/pm2-daemon".into(),
            ..Default::default()
        }
    }

    #[test]
    fn systemd_unit_into_a_temporary_root() {
        let root = std::env::temp_dir().join(format!("pm2rs-startup-{}", uuid::Uuid::new_v4()));
        let r = install(&opts("ubuntu", &root)).unwrap();
        let dest = root.join("etc/systemd/system/pm2-alice.service");
        assert_eq!(r["destination"], json!(dest));
        let unit = std::fs::read_to_string(&dest).unwrap();
        assert!(unit.contains("ExecStart=/opt/pm2/pm2-daemon --home /home/alice/.pm2 --detach --resurrect"));
        assert!(unit.contains("PIDFile=/home/alice/.pm2/pm2.pid"));
        uninstall(&opts("systemd", &root)).unwrap();
        assert!(!dest.exists());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn every_platform_has_a_template() {
        let root = std::env::temp_dir().join(format!("pm2rs-startup-{}", uuid::Uuid::new_v4()));
        for p in ["upstart", "systemv", "openrc", "launchd", "rcd"] {
            let r = install(&opts(p, &root)).unwrap();
            assert!(Path::new(r["destination"].as_str().unwrap()).exists(), "{p}");
        }
        assert!(plan(&opts("smf", &root)).unwrap_err().starts_with("not implemented"));
        assert!(plan(&opts("windows", &root)).is_err());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_service_name_or_user_that_would_run_shell_code_is_refused() {
        let root = std::env::temp_dir().join(format!("pm2rs-startup-{}", uuid::Uuid::new_v4()));
        let mut o = opts("systemd", &root);
        o.service_name = Some("pm2; touch /tmp/pwned".into());
        assert!(plan(&o).unwrap_err().starts_with("Invalid service name"));
        let mut o = opts("systemd", &root);
        o.user = Some("alice$(id)".into());
        assert!(plan(&o).unwrap_err().starts_with("Invalid user"));
        let mut o = opts("systemd", &root);
        o.service_name = Some("pm2-alice@web.1".into());
        assert!(plan(&o).is_ok());
        assert!(!root.exists(), "nothing was written");
    }
}
