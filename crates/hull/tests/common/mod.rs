//! Shared helpers for hull's integration tests: build a busybox bundle, run the runtime binary
//! with a private `--root`, and read what happened. Each test states only what is special about it.
//!
//! `HULL_TEST_BIN` points the tests at another runtime binary (e.g. /usr/sbin/runc), so a test's
//! expectations can be checked against runc, the reference.
#![allow(dead_code)]

pub mod rootless;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The runtime binary under test.
pub fn hull_bin() -> PathBuf {
    match std::env::var_os("HULL_TEST_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_hull")),
    }
}

/// A unique name for this test process and call: usable as a container id and directory name.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Integration tests start real containers and need root; the caller skips (and says so) otherwise.
pub fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("SKIPPED: this test starts real containers and must run as root");
        false
    }
}

/// Calls `f` every 20 ms until it returns `Some`, or gives up after `timeout`.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `timeout` for `child` to exit; kills it (and fails) if it does not.
pub fn wait_child(child: &mut Child, timeout: Duration) -> ExitStatus {
    match poll(timeout, || child.try_wait().expect("wait for child")) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child {} did not exit within {timeout:?}", child.id());
        }
    }
}

/// Whether host process `pid` is gone or a zombie (it has ended, reaped or not).
pub fn pid_ended(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state field follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])).unwrap_or(false),
        Err(_) => true,
    }
}

/// The result of a runtime command whose stdout and stderr went to files.
pub struct Detached {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let p = std::env::temp_dir().join("hull-tests").join(unique(prefix));
        std::fs::create_dir_all(&p).expect("make temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The busybox applets linked into every test rootfs.
const APPLETS: &[&str] = &[
    "sh", "true", "false", "echo", "sleep", "cat", "ls", "id", "ps", "mount", "hostname", "env", "pwd", "stat", "touch", "mkdir", "rm",
    "grep", "head", "tail", "wc", "readlink", "ln", "test", "[", "umask", "printf", "uname", "kill", "chmod", "dd", "sed", "awk", "tr",
    "cut", "sort", "seq", "nproc", "date", "realpath",
];

/// A bundle: `rootfs/` with a static busybox, and `config.json` made by the runtime's `spec`
/// command with `terminal: false`. Edit `config` and call `save()`.
pub struct Bundle {
    pub dir: TempDir,
    pub config: serde_json::Value,
}

impl Bundle {
    /// A bundle whose process runs `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs");
        }
        std::fs::copy(busybox(), rootfs.join("bin/busybox")).expect("copy busybox");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).expect("symlink applet");
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let out = Command::new(hull_bin()).args(["spec", "--bundle"]).arg(dir.path()).output().expect("run spec");
        assert!(out.status.success(), "spec failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(dir.path().join("config.json")).expect("read config.json");
        let mut config: serde_json::Value = serde_json::from_str(&text).expect("parse config.json");
        config["process"]["terminal"] = serde_json::Value::Bool(false);
        config["process"]["args"] = serde_json::json!(args);
        let b = Bundle { dir, config };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A bundle whose process is `sh -c script`.
    pub fn sh(script: &str) -> Bundle {
        Bundle::new(&["sh", "-c", script])
    }

    /// The bundle directory as a command-line argument.
    pub fn arg(&self) -> &str {
        self.path().to_str().expect("bundle path is UTF-8")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Drops the namespace of type `ty` ("pid", "network", ...) from `linux.namespaces` (not saved).
    pub fn remove_namespace(&mut self, ty: &str) {
        if let Some(list) = self.config["linux"]["namespaces"].as_array_mut() {
            list.retain(|ns| ns["type"] != ty);
        }
    }

    /// Writes `config` to config.json.
    pub fn save(&self) {
        std::fs::write(self.path().join("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).expect("write config.json");
    }
}

/// The static busybox on the host (Debian's busybox-static).
pub fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox not found: apt-get install busybox-static");
}

/// A runtime with its own `--root`, so tests never see each other's containers.
pub struct Runtime {
    pub root: TempDir,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    pub fn new() -> Runtime {
        Runtime { root: TempDir::new("root") }
    }

    /// A command for the runtime with `--root` set; add arguments and run it.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Runs the runtime with `args`, stdin closed, capturing output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().expect("spawn runtime")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the runtime with `args`, stdin closed and stdout/stderr sent to the files `out` and `err`
    /// (created or truncated). Files, not pipes: a container started by `create` or `run --detach`
    /// inherits them, and a pipe it holds open would make a reader wait until the container ends.
    pub fn run_to_files(&self, args: &[&str], out: &Path, err: &Path) -> ExitStatus {
        let o = std::fs::File::create(out).expect("create stdout file");
        let e = std::fs::File::create(err).expect("create stderr file");
        self.cmd().args(args).stdin(Stdio::null()).stdout(o).stderr(e).status().expect("spawn runtime")
    }

    /// Like `run`, for commands that leave a container behind (`create`, `run --detach`): the
    /// output is collected through temporary files.
    pub fn run_detached(&self, args: &[&str]) -> Detached {
        let io = TempDir::new("io");
        let (out, err) = (io.path().join("stdout"), io.path().join("stderr"));
        let status = self.run_to_files(args, &out, &err);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        Detached { status, stdout: read(&out), stderr: read(&err) }
    }

    /// `create --bundle B id`, which must succeed; the container's stdio goes nowhere.
    pub fn create(&self, b: &Bundle, id: &str) {
        let bundle = b.path().to_str().expect("bundle path is UTF-8");
        let d = self.run_detached(&["create", "--bundle", bundle, id]);
        assert!(d.status.success(), "create {id} failed ({:?}):\nstdout: {}\nstderr: {}", d.status, d.stdout, d.stderr);
    }

    /// `create` then `start`: a running container (or one already ended, if its process is short).
    pub fn create_and_start(&self, b: &Bundle, id: &str) {
        self.create(b, id);
        self.ok(&["start", id]);
    }

    /// The `status` field of `state`, or `None` if `state` fails.
    pub fn status(&self, id: &str) -> Option<String> {
        let out = self.run(&["state", id]);
        if !out.status.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(str::to_owned)
    }

    /// Polls `state` until the status is `want`; false if it is not within `timeout`.
    pub fn wait_status(&self, id: &str, want: &str, timeout: Duration) -> bool {
        poll(timeout, || (self.status(id).as_deref() == Some(want)).then_some(())).is_some()
    }

    /// The host pid of a container's init, from `state`.
    pub fn pid(&self, id: &str) -> i64 {
        self.state(id)["pid"].as_i64().expect("state has a numeric pid")
    }

    /// `run --bundle B id`: the container's output and exit status, the container deleted after.
    pub fn run_bundle(&self, b: &Bundle) -> Output {
        let id = unique("run");
        let out = self.cmd().args(["run", "--bundle"]).arg(b.path()).arg(&id).stdin(Stdio::null()).output().expect("spawn run");
        let _ = self.run(&["delete", "--force", &id]);
        out
    }

    /// `run` that must succeed: returns stdout.
    pub fn run_ok(&self, b: &Bundle) -> String {
        let out = self.run_bundle(b);
        assert!(
            out.status.success(),
            "run failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `state` JSON of a container.
    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Leave nothing behind even when a test fails half-way.
        if let Ok(rd) = std::fs::read_dir(self.root.path()) {
            for e in rd.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    let _ = Command::new(hull_bin()).arg("--root").arg(self.root.path()).args(["delete", "--force", id]).output();
                }
            }
        }
    }
}

/// True unless `HULL_TEST_MESSAGES=0`. hull's error messages are a contract the tests check; set
/// the variable to 0 when pointing `HULL_TEST_BIN` at another runtime (runc) whose wording differs.
pub fn check_messages() -> bool {
    std::env::var("HULL_TEST_MESSAGES").map_or(true, |v| v != "0")
}

/// What a runtime command did. Its output went to files, not pipes, so a process the runtime left
/// behind (e.g. a container init that inherited stdout) cannot hang the test.
#[derive(Debug)]
pub struct Outcome {
    /// `None`: still running after the timeout, then killed.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// stdout and stderr together, for message checks.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// A one-paragraph account for assertion messages.
    pub fn describe(&self) -> String {
        let status = match self.status {
            Some(s) => format!("{s}"),
            None => "timed out (killed)".to_string(),
        };
        format!("{status}\nstdout: {}\nstderr: {}", self.stdout.trim_end(), self.stderr.trim_end())
    }
}

impl Runtime {
    /// Runs the runtime with `args`, stdin from /dev/null, stdout and stderr into `io/stdout` and
    /// `io/stderr` (overwritten on each call); kills it after `timeout`.
    pub fn run_logged(&self, args: &[&str], io: &Path, timeout: std::time::Duration) -> Outcome {
        let out_path = io.join("stdout");
        let err_path = io.join("stderr");
        let out = std::fs::File::create(&out_path).expect("create stdout file");
        let err = std::fs::File::create(&err_path).expect("create stderr file");
        let mut child = self.cmd().args(args).stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("spawn runtime");
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for runtime") {
                break Some(s);
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        Outcome { status, stdout: read(&out_path), stderr: read(&err_path) }
    }
}

/// The mount points of this process's mount namespace (field 5 of /proc/self/mountinfo, with its
/// octal escapes decoded), one entry per mount: a path mounted over twice is listed twice.
pub fn mount_points() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    text.lines().filter_map(|l| l.split(' ').nth(4)).map(unescape_mountinfo).collect()
}

/// Decodes the `\ooo` escapes the kernel writes for space, tab, newline and backslash.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup hierarchies under /sys/fs/cgroup: the directory itself on a pure cgroup v2 host,
/// else each v1 controller, named (`systemd`) and `unified` hierarchy below it.
pub fn cgroup_hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.procs").exists() {
        return vec![base.to_path_buf()];
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(base)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.join("cgroup.procs").exists()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// This process's cgroup inside hierarchy `h` (from /proc/self/cgroup), or "/" if not found.
/// A runtime puts a relative `cgroupsPath` (or its default) below the caller's cgroup.
pub fn own_cgroup(h: &Path) -> String {
    let name = h.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let pure_v2 = h == Path::new("/sys/fs/cgroup");
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let hit = if ctrls.is_empty() {
            pure_v2 || name == "unified"
        } else {
            // A directory may be named for several controllers ("cpu,cpuacct").
            name.split(',').all(|n| ctrls.split(',').any(|c| c == n || c.strip_prefix("name=") == Some(n)))
        };
        if hit {
            return path.to_string();
        }
    }
    "/".to_string()
}

/// True on a pure cgroup v2 host (one hierarchy at /sys/fs/cgroup).
pub fn cgroup_v2_only() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.procs").exists()
}

/// The host directory of the cgroup at the absolute `linux.cgroupsPath` `cgroups_path`, in the
/// hierarchy of v1 `controller` ("memory", "pids", ...); on a pure v2 host the one directory.
pub fn cgroup_dir(controller: &str, cgroups_path: &str) -> PathBuf {
    let base = if cgroup_v2_only() { PathBuf::from("/sys/fs/cgroup") } else { Path::new("/sys/fs/cgroup").join(controller) };
    base.join(cgroups_path.trim_start_matches('/'))
}

/// A cgroup file's content, trimmed; panics naming the file if it cannot be read.
pub fn read_cgroup_file(dir: &Path, file: &str) -> String {
    let p = dir.join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
}

/// The pids in a cgroup directory (its cgroup.procs).
pub fn cgroup_procs(dir: &Path) -> Vec<i64> {
    let mut pids: Vec<i64> = read_cgroup_file(dir, "cgroup.procs").lines().filter_map(|l| l.trim().parse().ok()).collect();
    pids.sort_unstable();
    pids
}

impl Bundle {
    /// Links more busybox applets (beyond the default set) into the rootfs's /bin.
    pub fn add_applets(&self, applets: &[&str]) {
        for a in applets {
            let link = self.rootfs().join("bin").join(a);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink("busybox", &link).expect("symlink applet");
            }
        }
    }
}

/// The mountinfo line (of `text`, a /proc/<pid>/mountinfo) for the mount at `/` that a process
/// sees as its root: the last one listed with mount point `/` (a later mount on top hides the
/// earlier ones).
pub fn root_mount_line(text: &str) -> Option<String> {
    text.lines().rfind(|l| l.split(' ').nth(4) == Some("/")).map(str::to_owned)
}

/// The optional propagation fields of a mountinfo line (`shared:N`, `master:N`, ...), in order.
pub fn propagation_fields(line: &str) -> Vec<String> {
    line.split(' ').skip(6).take_while(|f| *f != "-").map(str::to_owned).collect()
}

// Leak checking: what a runtime command left behind on the host (moved from bad_input.rs so the
// bad-input tests share it).

/// Everything one row may touch, to look for leftovers.
pub struct Scene {
    /// In every name the row makes: container ids and cgroup paths contain it.
    pub tag: String,
    pub root: PathBuf,
    /// Bundle directories and the directory holding the runtime's stdout/stderr files.
    pub dirs: Vec<PathBuf>,
    /// The `linux.cgroupsPath` values the row's configs set.
    pub cgroup_paths: Vec<String>,
    /// Paths that must not appear (e.g. `<root>/<bad id>`).
    pub watched: Vec<PathBuf>,
}

/// What the host looks like, as far as one row is concerned.
pub struct Snapshot {
    /// Mount point -> number of mounts on it.
    pub mounts: BTreeMap<String, usize>,
    /// Existing cgroup directories named by the row's cgroupsPath or containing its tag.
    pub cgroups: BTreeSet<PathBuf>,
    pub root_entries: BTreeSet<String>,
    pub fifos: BTreeSet<PathBuf>,
    pub watched: BTreeSet<PathBuf>,
    /// (pid, start time) -> why the process belongs to the row.
    pub procs: BTreeMap<(i32, u64), String>,
}

impl Snapshot {
    pub fn take(s: &Scene) -> Snapshot {
        let mut mounts = BTreeMap::new();
        for m in mount_points() {
            *mounts.entry(m).or_insert(0) += 1;
        }
        let mut root_entries = BTreeSet::new();
        if let Ok(rd) = std::fs::read_dir(&s.root) {
            // `.cache` holds compiled seccomp programs, kept across containers on purpose.
            root_entries.extend(rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != ".cache"));
        }
        let mut fifos = BTreeSet::new();
        find_named(&s.root, "exec.fifo", 0, &mut fifos);
        Snapshot {
            mounts,
            cgroups: cgroups_of(s),
            root_entries,
            fifos,
            watched: s.watched.iter().filter(|p| p.symlink_metadata().is_ok()).cloned().collect(),
            procs: processes_of(s),
        }
    }

    /// What is in `self` and was not in `before`.
    pub fn leftovers(&self, before: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (m, n) in &self.mounts {
            if *n > before.mounts.get(m).copied().unwrap_or(0) {
                out.push(format!("new mount on the host: {m}"));
            }
        }
        out.extend(self.cgroups.difference(&before.cgroups).map(|c| format!("cgroup left: {}", c.display())));
        out.extend(self.root_entries.difference(&before.root_entries).map(|e| format!("left in --root: {e}")));
        out.extend(self.fifos.difference(&before.fifos).map(|f| format!("exec.fifo left: {}", f.display())));
        out.extend(self.watched.difference(&before.watched).map(|p| format!("created: {}", p.display())));
        for (k, why) in &self.procs {
            if !before.procs.contains_key(k) {
                out.push(format!("process left: {why}"));
            }
        }
        out
    }
}

/// Files named `name` anywhere under `dir` (not following symlinks).
pub fn find_named(dir: &Path, name: &str, depth: usize, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if e.file_name() == name {
            out.insert(p.clone());
        }
        if depth < 8 && e.file_type().is_ok_and(|t| t.is_dir()) {
            find_named(&p, name, depth + 1, out);
        }
    }
}

/// For each hierarchy: `<h>/<cgroupsPath>` (absolute paths) and `<h>/<own cgroup>/<cgroupsPath>`
/// (relative ones), and any child of `<h>` or `<h>/<own cgroup>` whose name contains the tag (a
/// runtime's default cgroup is named after the container id).
pub fn cgroups_of(s: &Scene) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for h in cgroup_hierarchies() {
        let own = h.join(own_cgroup(&h).trim_start_matches('/'));
        for cg in &s.cgroup_paths {
            for p in [h.join(cg.trim_start_matches('/')), own.join(cg.trim_start_matches('/'))] {
                if p.is_dir() {
                    out.insert(p);
                }
            }
        }
        for parent in [&h, &own] {
            if let Ok(rd) = std::fs::read_dir(parent) {
                for e in rd.flatten() {
                    if mentions(&e.file_name().to_string_lossy(), &s.tag) && e.path().is_dir() {
                        out.insert(e.path());
                    }
                }
            }
        }
    }
    out
}

/// True when `text` names `needle` and not merely a longer sibling: unique names end in a counter,
/// so `…-2` must not match `…-28`.
pub fn mentions(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(i, _)| !text[i + needle.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

/// One line of /proc/<pid>/stat.
pub struct Stat {
    pub ppid: i32,
    pub start: u64,
    pub state: char,
    pub comm: String,
}

pub fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After the command name: state (field 3), ppid (4), ..., starttime (22).
    Some(Stat {
        comm: text[open + 1..close].to_string(),
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        start: rest.get(19)?.parse().ok()?,
    })
}

/// Processes that belong to the row: descendants of this test process (orphans of the runtime
/// are not, so also:) processes whose command line, environment, cwd, root or open files name the
/// row's directories or tag, and processes in a cgroup named with the tag.
pub fn processes_of(s: &Scene) -> BTreeMap<(i32, u64), String> {
    let me = std::process::id() as i32;
    let mut stats = HashMap::new();
    for e in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) {
            if let Some(st) = read_stat(pid) {
                stats.insert(pid, st);
            }
        }
    }
    let mut needles: Vec<String> = s.dirs.iter().map(|d| d.to_string_lossy().into_owned()).collect();
    needles.push(s.root.to_string_lossy().into_owned());
    needles.push(s.tag.clone());
    let names = |text: &str| needles.iter().find(|n| mentions(text, n)).cloned();

    let mut out = BTreeMap::new();
    for (&pid, st) in &stats {
        if pid == me || st.ppid == 2 || pid == 2 || st.state == 'Z' || st.state == 'X' {
            continue; // this test, kernel threads, and the dead (pid 1 here is slow to reap orphans)
        }
        let mut why = None;
        let mut p = st.ppid;
        for _ in 0..64 {
            if p == me {
                why = Some("a descendant of the test process".to_string());
                break;
            }
            match stats.get(&p) {
                Some(parent) if p > 1 => p = parent.ppid,
                _ => break,
            }
        }
        let read =
            |f: &str| std::fs::read(format!("/proc/{pid}/{f}")).map(|b| String::from_utf8_lossy(&b).replace('\0', " ")).unwrap_or_default();
        let link = |f: &str| std::fs::read_link(format!("/proc/{pid}/{f}")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        if why.is_none() {
            why = names(&read("cmdline")).map(|n| format!("its command line names {n}"));
        }
        if why.is_none() {
            why = names(&read("environ")).map(|n| format!("its environment names {n}"));
        }
        if why.is_none() {
            why = names(&link("cwd")).or_else(|| names(&link("root"))).map(|n| format!("its cwd or root is under {n}"));
        }
        if why.is_none() && mentions(&read("cgroup"), &s.tag) {
            why = Some(format!("it is in a cgroup named with {}", s.tag));
        }
        if why.is_none() {
            if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
                for fd in rd.flatten() {
                    let target = std::fs::read_link(fd.path()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    if let Some(n) = names(&target) {
                        why = Some(format!("fd {} is open on {target} (under {n})", fd.file_name().to_string_lossy()));
                        break;
                    }
                }
            }
        }
        if let Some(why) = why {
            let cmd = read("cmdline");
            out.insert((pid, st.start), format!("pid {pid} ({}, state {}, `{}`): {why}", st.comm, st.state, cmd.trim()));
        }
    }
    out
}

/// Removes what a failing runtime left behind, so one bad row does not leave the machine dirty
/// for the next: kills the row's processes (pid and start time checked again), detaches mounts
/// below the row's own directories (never any other), and removes the row's cgroups.
pub fn scrub(after: &Snapshot, initial: &Snapshot, s: &Scene) {
    for &(pid, start) in after.procs.keys() {
        if !initial.procs.contains_key(&(pid, start)) && read_stat(pid).is_some_and(|st| st.start == start) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let ours = |m: &str| s.dirs.iter().chain([&s.root]).any(|d| Path::new(m).starts_with(d));
    for (m, n) in after.mounts.iter().rev() {
        for _ in initial.mounts.get(m).copied().unwrap_or(0)..*n {
            if ours(m) {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
    for c in after.cgroups.difference(&initial.cgroups) {
        remove_cgroup(c);
    }
}

/// rmdir of a cgroup and the cgroups below it, deepest first (a cgroup's files go with it).
pub fn remove_cgroup(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

// ---------------------------------------------------------------------------------------------
// console sockets (`--console-socket`): one receiver for every test that needs a pty master

/// Waits up to `timeout` for a connection on `listener` and receives the one descriptor sent
/// with SCM_RIGHTS (the pty master), and the data that came with it.
pub fn try_receive_fd(
    listener: &std::os::unix::net::UnixListener,
    timeout: std::time::Duration,
) -> Result<(std::os::fd::OwnedFd, Vec<u8>), String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + timeout;
    let (stream, _) = loop {
        match listener.accept() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => return Err(format!("no connection on the console socket: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut data = vec![0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let msg =
        recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC).map_err(|e| format!("recvmsg: {e}"))?;
    let n = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(list) = c {
            fds.extend(list);
        }
    }
    let fd = match fds[..] {
        // SAFETY: the kernel just installed this descriptor in our table; nothing else owns it.
        [fd] => unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
        _ => return Err(format!("expected exactly one descriptor over the console socket, got {fds:?}")),
    };
    data.truncate(n);
    Ok((fd, data))
}

/// `try_receive_fd` that fails the test on error.
pub fn receive_fd(listener: &std::os::unix::net::UnixListener, timeout: std::time::Duration) -> (std::os::fd::OwnedFd, Vec<u8>) {
    try_receive_fd(listener, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads a pty master until the other side is closed (EIO once the process has ended and the
/// buffer is drained) or `timeout`.
pub fn read_pty(master: &std::os::fd::OwnedFd, timeout: std::time::Duration) -> String {
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [nix::poll::PollFd::new(master.as_fd(), nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, u16::try_from(left.as_millis()).unwrap_or(u16::MAX)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("poll on the pty master: {e}"),
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
            Err(e) => panic!("read from the pty master: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Terminal output as lines, without the `\r` the pty adds, the echo of the NUL that `script`
/// sends for the end of its (empty) input (`^@`, or the raw byte), and empty lines.
pub fn pty_lines(s: &str) -> Vec<String> {
    s.split('\n')
        .map(|l| l.trim_end_matches('\r').trim_start_matches('\0').trim_start_matches("^@").to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}
