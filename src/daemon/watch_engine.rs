//! The file-watching engine behind `watch`: it walks the watched trees itself and puts one
//! non-recursive watch on each directory that is not ignored, so the inotify watch count
//! follows the watched directories (an ignored `node_modules` costs nothing). New
//! directories are watched as they appear. Changes are debounced (`watch_delay`) into one
//! `Notice::Changed`. When the kernel's inotify limit is hit, this one engine switches to
//! polling and says so once (`Notice::FellBackToPolling`); other engines are untouched.
//!
//! Patterns follow chokidar/anymatch: relative to the app's cwd, `watch` entries are paths
//! or globs (`src/**/*.js`); an `ignore_watch` entry ignores what it matches and, when it
//! names a directory, everything below it. An entry without `/` (`node_modules`, `*.log`)
//! matches at any depth, as in a `.gitignore`.

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use walkdir::WalkDir;

/// What to watch, all paths absolute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchSpec {
    pub cwd: PathBuf,
    /// Paths or globs (already joined to the cwd).
    pub watch: Vec<PathBuf>,
    /// `ignore_watch` patterns as the user wrote them (relative to the cwd).
    pub ignore: Vec<String>,
    /// Files that never count as a change (the app's own logs).
    pub ignore_paths: Vec<PathBuf>,
    pub delay: Duration,
    pub follow_symlinks: bool,
    /// `usePolling`: poll at this interval instead of inotify.
    pub poll: Option<Duration>,
}

#[derive(Debug, PartialEq)]
pub enum Notice {
    /// Something watched changed (the first path seen in the debounce window).
    Changed(PathBuf),
    /// inotify ran out of watches: this engine polls from now on. The text says why.
    FellBackToPolling(String),
}

/// Polling interval when the fallback kicks in without `usePolling`'s `interval`.
const FALLBACK_POLL: Duration = Duration::from_millis(1000);

enum Msg {
    Fs(notify::Result<Event>),
    Stop,
}

/// A running engine; dropping it stops watching.
pub struct WatchEngine {
    tx: Sender<Msg>,
}

impl Drop for WatchEngine {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

impl WatchEngine {
    /// Starts watching; `on_notice` runs on the engine's own thread.
    pub fn start(spec: WatchSpec, on_notice: impl Fn(Notice) + Send + 'static) -> Result<WatchEngine, String> {
        let rules = Rules::new(&spec)?;
        let (tx, rx) = mpsc::channel();
        let mut state = State {
            backend: None,
            watched: HashSet::new(),
            rules,
            spec,
            tx: tx.clone(),
            polling: false,
            #[cfg(test)]
            inotify_budget: test_budget::take(),
        };
        state.polling = state.spec.poll.is_some();
        if let Err(e) = state.open_backend() {
            return Err(format!("cannot watch: {e}"));
        }
        if let Err(limit) = state.watch_all() {
            state.fall_back(limit, &on_notice);
        }
        std::thread::Builder::new()
            .name("pm2-watch".into())
            .spawn(move || state.run(rx, on_notice))
            .map_err(|e| format!("cannot watch: {e}"))?;
        Ok(WatchEngine { tx })
    }
}

/// What counts: which directories to watch and which changed paths matter.
struct Rules {
    roots: Vec<Root>,
    ignore: GlobSet,
    ignore_paths: HashSet<PathBuf>,
}

enum Root {
    /// A directory: everything below it.
    Dir(PathBuf),
    /// One file (its directory is watched, only the file counts).
    File(PathBuf),
    /// A glob: the directory before its first wildcard is watched, matches count.
    Glob { base: PathBuf, glob: GlobMatcher },
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// As anymatch reads a glob: `*` stays within one path segment.
fn glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern).literal_separator(true).build().map_err(|e| format!("invalid watch pattern {pattern}: {e}"))
}

impl Rules {
    fn new(spec: &WatchSpec) -> Result<Rules, String> {
        let mut roots = Vec::new();
        for path in &spec.watch {
            // (`cwd/.` as `cwd`, so that paths compare and match as the kernel reports them)
            let path: &PathBuf = &path.components().filter(|c| *c != Component::CurDir).collect();
            if path.is_dir() {
                roots.push(Root::Dir(path.clone()));
                continue;
            }
            // What exists is taken literally (an app's cwd may well contain `[` or `*`); a
            // glob can only be in the rest.
            let base: PathBuf = path.ancestors().skip(1).find(|a| a.is_dir()).unwrap_or(Path::new("/")).to_path_buf();
            let rest = path.strip_prefix(&base).unwrap_or(path).to_string_lossy();
            if is_glob(&rest) {
                let pattern = format!("{}/{rest}", globset::escape(base.to_string_lossy().trim_end_matches('/')));
                roots.push(Root::Glob { base, glob: glob(&pattern)?.compile_matcher() });
            } else if !path.exists() {
                // Not there yet: it counts once it appears, as a file or a directory.
                let exact = globset::escape(&path.to_string_lossy());
                roots.push(Root::Glob { base: base.clone(), glob: glob(&exact)?.compile_matcher() });
                roots.push(Root::Glob { base, glob: glob(&format!("{exact}/**"))?.compile_matcher() });
            } else {
                roots.push(Root::File(path.clone()));
            }
        }
        let mut ignore = GlobSetBuilder::new();
        let cwd = globset::escape(spec.cwd.to_string_lossy().trim_end_matches('/'));
        for pattern in &spec.ignore {
            let p = pattern.trim_start_matches("./").trim_end_matches('/');
            if p.is_empty() {
                continue;
            }
            let anchored = if Path::new(p).is_absolute() { p.to_string() } else { format!("{cwd}/{p}") };
            let mut add = |g: String| glob(&g).map(|g| {
                ignore.add(g);
            });
            add(anchored.clone())?;
            add(format!("{anchored}/**"))?;
            if !p.contains('/') {
                add(format!("{cwd}/**/{p}"))?;
                add(format!("{cwd}/**/{p}/**"))?;
            }
        }
        Ok(Rules {
            roots,
            ignore: ignore.build().map_err(|e| format!("invalid ignore_watch: {e}"))?,
            ignore_paths: spec.ignore_paths.iter().cloned().collect(),
        })
    }

    fn ignored(&self, path: &Path) -> bool {
        self.ignore_paths.contains(path) || self.ignore.is_match(path)
    }

    /// Directories to walk from.
    fn bases(&self) -> impl Iterator<Item = &Path> {
        self.roots.iter().map(|r| match r {
            Root::Dir(d) => d.as_path(),
            Root::File(f) => f.parent().unwrap_or(f),
            Root::Glob { base, .. } => base.as_path(),
        })
    }

    /// Whether a directory (found by a walk or created later) gets a watch.
    fn wants_dir(&self, dir: &Path) -> bool {
        !self.ignored(dir)
            && self.roots.iter().any(|r| match r {
                Root::Dir(d) => dir.starts_with(d),
                Root::File(f) => f.parent() == Some(dir),
                Root::Glob { base, .. } => dir.starts_with(base),
            })
    }

    /// Whether a change to `path` should restart the app.
    fn counts(&self, path: &Path) -> bool {
        !self.ignored(path)
            && self.roots.iter().any(|r| match r {
                Root::Dir(d) => path.starts_with(d),
                Root::File(f) => path == f,
                Root::Glob { glob, .. } => glob.is_match(path),
            })
    }
}

/// Adding a watch failed because the kernel's inotify limit was reached.
struct LimitReached;

struct State {
    backend: Option<Box<dyn Watcher + Send>>,
    watched: HashSet<PathBuf>,
    rules: Rules,
    spec: WatchSpec,
    tx: Sender<Msg>,
    polling: bool,
    /// Tests stand in for the kernel limit with a small budget of watches.
    #[cfg(test)]
    inotify_budget: Option<usize>,
}

impl State {
    fn open_backend(&mut self) -> notify::Result<()> {
        let tx = self.tx.clone();
        let handler = move |res| {
            let _ = tx.send(Msg::Fs(res));
        };
        let config = notify::Config::default().with_follow_symlinks(self.spec.follow_symlinks);
        self.backend = Some(if self.polling {
            let interval = self.spec.poll.unwrap_or(FALLBACK_POLL);
            Box::new(notify::PollWatcher::new(handler, config.with_poll_interval(interval))?)
        } else {
            crate::platform::native_watcher(handler, config)?
        });
        Ok(())
    }

    fn watch_all(&mut self) -> Result<(), LimitReached> {
        let bases: Vec<PathBuf> = self.rules.bases().map(Path::to_path_buf).collect();
        for base in bases {
            self.watch_tree(&base)?;
        }
        Ok(())
    }

    /// Watches `dir` and every wanted directory below it; ignored ones are not entered.
    fn watch_tree(&mut self, dir: &Path) -> Result<(), LimitReached> {
        let walk = WalkDir::new(dir).follow_links(self.spec.follow_symlinks).into_iter();
        let rules = &self.rules;
        let dirs: Vec<PathBuf> = walk
            .filter_entry(|e| e.file_type().is_dir() && rules.wants_dir(e.path()))
            .filter_map(Result::ok)
            .map(walkdir::DirEntry::into_path)
            .collect();
        for d in dirs {
            self.watch_dir(d)?;
        }
        Ok(())
    }

    fn watch_dir(&mut self, dir: PathBuf) -> Result<(), LimitReached> {
        if self.watched.contains(&dir) {
            return Ok(());
        }
        #[cfg(test)]
        if !self.polling && self.inotify_budget.is_some_and(|b| self.watched.len() >= b) {
            return Err(LimitReached);
        }
        let Some(backend) = self.backend.as_mut() else { return Ok(()) };
        match backend.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir);
                Ok(())
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => Err(LimitReached),
            // Gone already, or unreadable: nothing to watch there.
            Err(_) => Ok(()),
        }
    }

    /// Drops the inotify watcher and watches the same directories by polling.
    fn fall_back(&mut self, _: LimitReached, on_notice: &impl Fn(Notice)) {
        self.backend = None;
        self.watched.clear();
        self.polling = true;
        let interval = self.spec.poll.unwrap_or(FALLBACK_POLL);
        let why = format!(
            "the inotify watch limit (fs.inotify.max_user_watches) is reached: watching {} by polling every {} ms \
             from now on (raise it with `sysctl fs.inotify.max_user_watches=<more>`)",
            self.spec.cwd.display(),
            interval.as_millis()
        );
        if let Err(e) = self.open_backend() {
            on_notice(Notice::FellBackToPolling(format!("{why}; polling failed too: {e}")));
            return;
        }
        let _ = self.watch_all();
        on_notice(Notice::FellBackToPolling(why));
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>, on_notice: impl Fn(Notice)) {
        // The first path changed in the current debounce window, and when the window ends.
        let mut pending: Option<(PathBuf, Instant)> = None;
        loop {
            let msg = match &pending {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some((_, until)) => rx.recv_timeout(until.saturating_duration_since(Instant::now())),
            };
            match msg {
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some((path, _)) = pending.take() {
                        on_notice(Notice::Changed(path));
                    }
                }
                Ok(Msg::Fs(Err(e))) => {
                    if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) && !self.polling {
                        self.fall_back(LimitReached, &on_notice);
                    }
                }
                Ok(Msg::Fs(Ok(event))) => {
                    if let Some(path) = self.handle(event) {
                        pending.get_or_insert((path, Instant::now() + self.spec.delay));
                    }
                }
            }
        }
    }

    /// Keeps the watches in step with the tree; returns the path when the event counts.
    fn handle(&mut self, event: Event) -> Option<PathBuf> {
        let rescan = event.need_rescan();
        if !rescan
            && !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_))
        {
            return None;
        }
        let mut counted = None;
        for path in &event.paths {
            if path.is_dir() {
                if self.rules.wants_dir(path) && !self.watched.contains(path) {
                    if self.watch_tree(path).is_err() {
                        self.polling_after_limit();
                    }
                }
            } else if matches!(event.kind, EventKind::Remove(_)) || !path.exists() {
                self.watched.remove(path);
            }
            if counted.is_none() && self.rules.counts(path) {
                counted = Some(path.clone());
            }
        }
        if rescan && counted.is_none() {
            counted = Some(self.spec.cwd.clone());
        }
        counted
    }

    /// A limit hit while following the tree: hand it to the run loop as an error event.
    fn polling_after_limit(&self) {
        let _ = self.tx.send(Msg::Fs(Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))));
    }
}

#[cfg(test)]
pub(crate) mod test_budget {
    //! A per-thread stand-in for `fs.inotify.max_user_watches`, taken by the next engine.
    use std::cell::Cell;
    thread_local!(static BUDGET: Cell<Option<usize>> = const { Cell::new(None) });
    pub fn set(n: usize) {
        BUDGET.with(|b| b.set(Some(n)));
    }
    pub fn take() -> Option<usize> {
        BUDGET.with(Cell::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::mpsc::Receiver;

    const WAIT: Duration = Duration::from_secs(10);

    fn spec(dir: &Path, watch: &[&str], ignore: &[&str]) -> WatchSpec {
        WatchSpec {
            cwd: dir.to_path_buf(),
            watch: watch.iter().map(|w| dir.join(w)).collect(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            ignore_paths: vec![],
            delay: Duration::from_millis(50),
            follow_symlinks: true,
            poll: None,
        }
    }

    fn start(spec: WatchSpec) -> (WatchEngine, Receiver<Notice>) {
        let (tx, rx) = mpsc::channel();
        let engine = WatchEngine::start(spec, move |n| {
            let _ = tx.send(n);
        })
        .unwrap();
        (engine, rx)
    }

    fn changed(rx: &Receiver<Notice>) -> PathBuf {
        loop {
            match rx.recv_timeout(WAIT).expect("no change reported") {
                Notice::Changed(p) => return p,
                Notice::FellBackToPolling(_) => continue,
            }
        }
    }

    fn quiet(rx: &Receiver<Notice>) {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(400)) {
            panic!("unexpected {n:?}");
        }
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pm2-watch-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }

    #[test]
    fn glob_characters_in_the_cwd_are_taken_literally() {
        let dir = tempdir().join("app[1]*");
        fs::create_dir_all(dir.join("node_modules")).unwrap();
        let rules = Rules::new(&spec(&dir, &["*.js"], &["node_modules"])).unwrap();
        let Root::Glob { glob, .. } = &rules.roots[0] else { panic!("*.js is a glob") };
        assert!(glob.is_match(dir.join("server.js")));
        assert!(!glob.is_match(dir.with_file_name("app1x").join("server.js")));
        assert!(rules.ignored(&dir.join("node_modules/x.js")));
        assert!(!rules.ignored(&dir.join("lib/x.js")));
    }

    #[test]
    fn ignored_directories_get_no_watch_and_changes_there_do_not_count() {
        let dir = tempdir();
        for i in 0..200 {
            fs::create_dir_all(dir.join(format!("node_modules/p{i}/lib"))).unwrap();
        }
        fs::create_dir_all(dir.join("src")).unwrap();
        let rules = Rules::new(&spec(&dir, &["."], &["node_modules"])).unwrap();
        assert!(!rules.wants_dir(&dir.join("node_modules")));
        assert!(!rules.wants_dir(&dir.join("node_modules/p1/lib")));
        assert!(rules.wants_dir(&dir.join("src")));

        let (engine, rx) = start(spec(&dir, &["."], &["node_modules"]));
        fs::write(dir.join("node_modules/p3/lib/x.js"), "x").unwrap();
        quiet(&rx);
        fs::write(dir.join("src/a.js"), "a").unwrap();
        assert_eq!(changed(&rx), dir.join("src/a.js"));
        drop(engine);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn new_directories_are_watched_and_a_rename_into_place_counts() {
        let dir = tempdir();
        let (_engine, rx) = start(spec(&dir, &["."], &[]));
        fs::create_dir_all(dir.join("fresh/deeper")).unwrap();
        changed(&rx);
        std::thread::sleep(Duration::from_millis(200));
        fs::write(dir.join("fresh/deeper/f.js"), "f").unwrap();
        assert_eq!(changed(&rx), dir.join("fresh/deeper/f.js"));

        fs::write(dir.join("app.js.tmp~"), "new").unwrap();
        changed(&rx);
        fs::rename(dir.join("app.js.tmp~"), dir.join("app.js")).unwrap();
        let p = changed(&rx);
        assert!(p.starts_with(&dir), "{p:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn globs_select_files_and_ignore_globs_apply_at_any_depth() {
        let dir = tempdir();
        fs::create_dir_all(dir.join("src/lib/tmp/t")).unwrap();
        let (_engine, rx) = start(spec(&dir, &["src/**/*.js"], &["*.log", "**/tmp/**"]));
        fs::write(dir.join("src/lib/readme.txt"), "t").unwrap();
        fs::write(dir.join("src/lib/out.log"), "l").unwrap();
        fs::write(dir.join("src/lib/tmp/t/x.js"), "x").unwrap();
        fs::write(dir.join("top.js"), "x").unwrap();
        quiet(&rx);
        fs::write(dir.join("src/lib/a.js"), "a").unwrap();
        assert_eq!(changed(&rx), dir.join("src/lib/a.js"));
        let rules = Rules::new(&spec(&dir, &["src/**/*.js"], &["**/tmp/**"])).unwrap();
        assert!(!rules.wants_dir(&dir.join("src/lib/tmp/t")));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_burst_of_changes_within_the_delay_is_one_notice() {
        let dir = tempdir();
        let mut s = spec(&dir, &["."], &[]);
        s.delay = Duration::from_millis(600);
        let (_engine, rx) = start(s);
        for i in 0..10 {
            fs::write(dir.join(format!("f{i}.js")), "x").unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        changed(&rx);
        quiet(&rx);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn polling_sees_changes() {
        let dir = tempdir();
        fs::create_dir_all(dir.join("sub")).unwrap();
        let mut s = spec(&dir, &["."], &[]);
        s.poll = Some(Duration::from_millis(100));
        let (_engine, rx) = start(s);
        std::thread::sleep(Duration::from_millis(300));
        fs::write(dir.join("sub/a.js"), "a").unwrap();
        // (a poll may see the directory's change first)
        assert!(changed(&rx).starts_with(dir.join("sub")));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn hitting_the_inotify_limit_is_reported_once_and_polling_takes_over() {
        let dir = tempdir();
        for i in 0..5 {
            fs::create_dir_all(dir.join(format!("d{i}"))).unwrap();
        }
        test_budget::set(2);
        let mut s = spec(&dir, &["."], &[]);
        s.poll = None;
        let (tx, rx) = mpsc::channel();
        let _engine = WatchEngine::start(s, move |n| {
            let _ = tx.send(n);
        })
        .unwrap();
        match rx.recv_timeout(WAIT).unwrap() {
            Notice::FellBackToPolling(why) => assert!(why.contains("fs.inotify.max_user_watches"), "{why}"),
            n => panic!("expected the fallback notice, got {n:?}"),
        }
        std::thread::sleep(Duration::from_millis(1200));
        fs::write(dir.join("d4/a.js"), "a").unwrap();
        assert!(changed(&rx).starts_with(dir.join("d4")));
        fs::create_dir_all(dir.join("d9")).unwrap();
        // (no second report)
        while let Ok(n) = rx.recv_timeout(Duration::from_millis(1500)) {
            assert!(matches!(n, Notice::Changed(_)), "{n:?}");
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
