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
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("pm2.pid")
    }
    pub fn log_file(&self) -> PathBuf {
        self.root.join("pm2.log")
    }
    pub fn spawn_lock(&self) -> PathBuf {
        self.root.join("spawn.lock")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn pids_dir(&self) -> PathBuf {
        self.root.join("pids")
    }
    pub fn dump_file(&self) -> PathBuf {
        self.root.join("dump.pm2")
    }
    /// The script cluster workers preload so that a reload can drain them (`.cjs`: it is
    /// CommonJS even if `PM2_HOME` lies inside an ES module package).
    pub fn cluster_drain_script(&self) -> PathBuf {
        self.root.join("cluster-drain.cjs")
    }

    /// Creates `PM2_HOME` (0700), `logs/` and `pids/`.
    pub fn ensure(&self) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(&self.root)?;
        b.create(self.logs_dir())?;
        b.create(self.pids_dir())?;
        Ok(())
    }
}
