//! The files under `PM2_HOME`, laid out as pm2 lays them out.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
    }

    /// `$PM2_HOME`, else `~/.pm2`, as pm2 resolves it.
    pub fn default_root() -> PathBuf {
        if let Some(h) = std::env::var_os("PM2_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(h);
        }
        match std::env::var_os("HOME").or_else(|| std::env::var_os("HOMEPATH")) {
            Some(h) => Path::new(&h).join(".pm2"),
            None => PathBuf::from("/etc/.pm2"),
        }
    }

    pub fn rpc_socket(&self) -> PathBuf {
        self.root.join("rpc.sock")
    }
    /// pm2 has a second socket for its bus; ours multiplexes events on the RPC socket.
    pub fn pub_socket(&self) -> PathBuf {
        self.root.join("pub.sock")
    }
    /// A file under `PM2_HOME`, unless the environment moves it elsewhere, as pm2 allows
    /// (`PM2_PID_FILE_PATH=/run/pm2.pid`).
    fn movable(&self, var: &str, default: &str) -> PathBuf {
        match std::env::var_os(var).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => self.root.join(default),
        }
    }

    pub fn pid_file(&self) -> PathBuf {
        self.movable("PM2_PID_FILE_PATH", "pm2.pid")
    }
    pub fn log_file(&self) -> PathBuf {
        self.movable("PM2_LOG_FILE_PATH", "pm2.log")
    }
    pub fn spawn_lock(&self) -> PathBuf {
        self.root.join("spawn.lock")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.movable("PM2_DEFAULT_LOG_PATH", "logs")
    }
    pub fn pids_dir(&self) -> PathBuf {
        self.movable("PM2_DEFAULT_PID_PATH", "pids")
    }
    /// Module settings (`pm2 set module:key value`), pm2-logrotate's among them.
    pub fn module_conf_file(&self) -> PathBuf {
        self.movable("PM2_MODULE_CONF_FILE", "module_conf.json")
    }
    pub fn dump_file(&self) -> PathBuf {
        self.movable("PM2_DUMP_FILE_PATH", "dump.pm2")
    }
    /// The script cluster workers preload so that a reload can drain them (`.cjs`: it is
    /// CommonJS even if `PM2_HOME` lies inside an ES module package).
    pub fn cluster_drain_script(&self) -> PathBuf {
        self.root.join("cluster-drain.cjs")
    }

    /// Creates `PM2_HOME`, `logs/` and `pids/`, and makes `PM2_HOME` private (0700) even if
    /// it already existed (pm2 leaves it 0755): app environments and logs hold secrets.
    pub fn ensure(&self) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(&self.root)?;
        let meta = std::fs::metadata(&self.root)?;
        if meta.mode() & 0o077 != 0 && meta.uid() == nix::unistd::geteuid().as_raw() {
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))?;
        }
        b.create(self.logs_dir())?;
        b.create(self.pids_dir())?;
        Ok(())
    }
}

/// Opens a file the daemon writes (pid files, logs, dumps): created 0600, never through a
/// symlink (another user's link in a shared directory must not aim a root daemon at
/// `/etc/shadow`), for appending or else truncated.
pub fn open_private(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).mode(0o600).custom_flags(libc::O_NOFOLLOW);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    o.open(path)
}

/// Replaces the content of a small private file (a pid file).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    open_private(path, false)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_0600_and_never_written_through_a_symlink() {
        let dir = std::env::temp_dir().join(format!("pm2rs-home-{}", uuid::Uuid::new_v4()));
        let home = Home::new(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        home.ensure().unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        write_private(&home.pid_file(), "42").unwrap();
        assert_eq!(std::fs::metadata(home.pid_file()).unwrap().permissions().mode() & 0o777, 0o600);
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("link")).unwrap();
        assert!(write_private(&dir.join("link"), "x").is_err());
        assert!(open_private(&dir.join("link"), true).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
