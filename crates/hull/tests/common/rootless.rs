//! Rootless test helpers shared by the test binaries that run hull as an unprivileged user
//! (rootless.rs, guest_rootless_systemd.rs): the test users (`hullrootless` with subordinate id
//! ranges, `hullrootless2` without), made once and kept (idempotent, under a lock file, so test
//! processes running in parallel do not race); hull run as a user (`UserHull`, its own
//! XDG_RUNTIME_DIR, 0700); bundles written by `hull spec --rootless` as the user.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{hull_bin, poll, unique, Bundle, Outcome, TempDir};
use serde_json::json;

/// Generous bound for anything that should take well under a second.
pub const T: Duration = Duration::from_secs(10);
/// The longest a single hull command may take before the test kills it and fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// The unprivileged user the containers run as, and the range it gets if it has none.
pub const MAIN_USER: &str = "hullrootless";
pub const SUB_START: u32 = 300000;
pub const SUB_COUNT: u32 = 65536;
/// Another unprivileged user, who must not be able to touch the first one's containers.
pub const OTHER_USER: &str = "hullrootless2";

// ---------------------------------------------------------------------------------------------
// The users (made once)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub struct Users {
    pub main: TestUser,
    pub other: TestUser,
    /// The main user's first subordinate ranges: (start, count).
    pub subuid: (u32, u32),
    pub subgid: (u32, u32),
}

pub static USERS: OnceLock<Result<Users, String>> = OnceLock::new();

/// The test users, made (once per test process, under a lock file across processes) if missing.
pub fn users() -> &'static Users {
    match USERS.get_or_init(setup_users) {
        Ok(u) => u,
        Err(e) => panic!("rootless test setup: {e}"),
    }
}

pub fn setup_users() -> Result<Users, String> {
    let lock_path = std::env::temp_dir().join("hull-rootless-setup.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let _lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("flock {}: {e}", lock_path.display()))?;

    for helper in ["newuidmap", "newgidmap"] {
        if find_in_path(helper).is_none() {
            return Err(format!(
                "{helper} not found: the rootless tests need Debian's uidmap package (apt-get install uidmap, or bash scripts/install-deps.sh)"
            ));
        }
    }
    let main = ensure_user(MAIN_USER)?;
    let other = ensure_user(OTHER_USER)?;
    let subuid = ensure_range(Path::new("/etc/subuid"), MAIN_USER)?;
    let subgid = ensure_range(Path::new("/etc/subgid"), MAIN_USER)?;

    // The hull binary must be reachable by the users (a target directory under a 0700 home is not).
    let out = user_command(&main, &hull_bin(), Path::new("/")).arg("--version").stdin(Stdio::null()).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("{} cannot run {}: {}", main.name, hull_bin().display(), String::from_utf8_lossy(&o.stderr))),
        Err(e) => {
            return Err(format!(
                "{} cannot run {}: {e} (every directory above the binary must be searchable by others)",
                main.name,
                hull_bin().display()
            ))
        }
    }
    Ok(Users { main, other, subuid, subgid })
}

pub fn find_in_path(prog: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path.split(':').chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"]).map(|d| Path::new(d).join(prog)).find(|p| p.exists());
    found
}

pub fn lookup_user(name: &str) -> Option<TestUser> {
    let u = nix::unistd::User::from_name(name).ok()??;
    Some(TestUser { name: name.to_string(), uid: u.uid.as_raw(), gid: u.gid.as_raw() })
}

/// A system user without a home directory or a login shell, with a group of its own.
pub fn ensure_user(name: &str) -> Result<TestUser, String> {
    if let Some(u) = lookup_user(name) {
        return Ok(u);
    }
    let out = Command::new("useradd")
        .args(["--system", "--no-create-home", "--user-group", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name])
        .output()
        .map_err(|e| format!("useradd: {e}"))?;
    // Another process may have made it meanwhile: look again before failing.
    lookup_user(name).ok_or_else(|| format!("useradd {name} failed: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The first `user:start:count` range of `user` in `file` (/etc/subuid or /etc/subgid); appends
/// `user:SUB_START:SUB_COUNT` when the user has none.
pub fn ensure_range(file: &Path, user: &str) -> Result<(u32, u32), String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() == 3 && f[0] == user {
            if let (Ok(s), Ok(c)) = (f[1].parse(), f[2].parse()) {
                return Ok((s, c));
            }
        }
    }
    let mut line = format!("{user}:{SUB_START}:{SUB_COUNT}\n");
    if !text.is_empty() && !text.ends_with('\n') {
        line.insert(0, '\n');
    }
    let mut f =
        std::fs::OpenOptions::new().create(true).append(true).mode(0o644).open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    f.write_all(line.as_bytes()).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((SUB_START, SUB_COUNT))
}

/// A command for `prog` run as `user`: its uid and gid, no supplementary groups (std drops them
/// when root sets a uid), and a clean environment whose XDG_RUNTIME_DIR and HOME are `xdg`.
pub fn user_command(user: &TestUser, prog: &Path, xdg: &Path) -> Command {
    let mut c = Command::new(prog);
    c.uid(user.uid)
        .gid(user.gid)
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .env("HOME", xdg)
        .env("XDG_RUNTIME_DIR", xdg)
        .current_dir("/");
    c
}

/// The runtime's name, which names its default root below XDG_RUNTIME_DIR: `hull` (`runc` when
/// HULL_TEST_BIN points at runc).
pub fn runtime_name() -> String {
    hull_bin().file_name().and_then(|n| n.to_str()).unwrap_or("hull").to_string()
}

/// A directory for XDG_RUNTIME_DIR: the user's, mode 0700.
pub fn user_xdg(user: &TestUser) -> TempDir {
    let xdg = TempDir::new("xdg");
    chown_tree(xdg.path(), user.uid, user.gid);
    std::fs::set_permissions(xdg.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    xdg
}

/// Changes the owner of `path` and everything below it (symlinks themselves, not their targets).
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// hull as a user
// ---------------------------------------------------------------------------------------------

/// hull run as `user`, with an XDG_RUNTIME_DIR of its own (mode 0700, owned by the user);
/// `--root` is left to its default unless `root` is set. Dropping it deletes (as the user, then
/// as root if that fails) every container left under the root, then removes the directory.
pub struct UserHull {
    pub user: TestUser,
    pub xdg: TempDir,
    pub root: Option<PathBuf>,
    /// The user's real runtime directory (`/run/user/UID`, with its session bus) as
    /// XDG_RUNTIME_DIR instead of `xdg`; see `in_user_session`.
    pub runtime_dir: Option<PathBuf>,
}

impl UserHull {
    pub fn new(user: &TestUser) -> UserHull {
        UserHull { user: user.clone(), xdg: user_xdg(user), root: None, runtime_dir: None }
    }

    /// hull as `user` inside the user's systemd session: XDG_RUNTIME_DIR is `/run/user/UID`
    /// (where the session bus is); the state stays in a root of its own below `xdg`.
    pub fn in_user_session(user: &TestUser) -> UserHull {
        let mut h = UserHull::new(user);
        h.root = Some(h.xdg.path().join("root"));
        h.runtime_dir = Some(PathBuf::from(format!("/run/user/{}", user.uid)));
        h
    }

    pub fn main() -> UserHull {
        UserHull::new(&users().main)
    }

    /// Where hull keeps state by default for this user: `$XDG_RUNTIME_DIR/hull`.
    pub fn state_root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| self.xdg.path().join(runtime_name()))
    }

    /// hull as the user; add arguments.
    pub fn cmd(&self) -> Command {
        let mut c = user_command(&self.user, &hull_bin(), self.xdg.path());
        if let Some(d) = &self.runtime_dir {
            c.env("XDG_RUNTIME_DIR", d);
        }
        if let Some(r) = &self.root {
            c.arg("--root").arg(r);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Outcome {
        let mut c = self.cmd();
        c.args(args);
        run_command(c)
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.success(), "hull {args:?} as {} failed: {}", self.user.name, o.describe());
        o.stdout
    }

    /// A command that starts a container (`create`, `run`, `run -d`), retried on the known id-map
    /// race (see the module comment).
    pub fn start_cmd(&self, args: &[&str]) -> Outcome {
        self.run(args)
    }

    /// `create --bundle B id`, which must succeed.
    pub fn create(&self, b: &Bundle, id: &str) {
        let o = self.start_cmd(&["create", "--bundle", b.arg(), id]);
        assert!(o.success(), "create {id} as {} failed: {}", self.user.name, o.describe());
    }

    /// `run -d --bundle B id`, which must succeed: a running container.
    pub fn run_detached(&self, b: &Bundle, id: &str) {
        let o = self.start_cmd(&["run", "-d", "--bundle", b.arg(), id]);
        assert!(o.success(), "run -d {id} as {} failed: {}", self.user.name, o.describe());
    }

    /// `run --bundle B <new id>`: the container's output; the container is deleted after.
    pub fn run_bundle(&self, b: &Bundle) -> Outcome {
        let id = unique("rl-run");
        let o = self.start_cmd(&["run", "--bundle", b.arg(), &id]);
        let _ = self.run(&["delete", "--force", &id]);
        o
    }

    /// `run` that must succeed: its stdout.
    pub fn run_ok(&self, b: &Bundle) -> String {
        let o = self.run_bundle(b);
        assert!(o.success(), "run as {} failed: {}", self.user.name, o.describe());
        o.stdout
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state JSON")
    }

    pub fn status(&self, id: &str) -> Option<String> {
        let o = self.run(&["state", id]);
        if !o.success() {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&o.stdout).ok()?;
        v["status"].as_str().map(str::to_owned)
    }

    pub fn wait_status(&self, id: &str, want: &str) -> bool {
        poll(T, || (self.status(id).as_deref() == Some(want)).then_some(())).is_some()
    }

    pub fn pid(&self, id: &str) -> i64 {
        self.state(id)["pid"].as_i64().expect("state has a numeric pid")
    }

    /// The container ids under the state root (hull's state directories).
    pub fn ids_on_disk(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.state_root())
            .map(|rd| rd.flatten().filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// Asserts that a refused command left nothing: no state directory, nothing in `list`, no
    /// process (a clone of hull, whose command line names the id).
    pub fn assert_nothing_left(&self, id: &str) {
        assert!(self.ids_on_disk().is_empty(), "left under {}: {:?}", self.state_root().display(), self.ids_on_disk());
        let list = self.ok(&["list", "-q"]);
        assert!(list.trim().is_empty(), "list after a refused create: {list}");
        let left = poll(T, || {
            let p = processes_naming(id);
            p.is_empty().then_some(())
        });
        assert!(left.is_some(), "processes left for {id}: {:?}", processes_naming(id));
    }
}

impl Drop for UserHull {
    fn drop(&mut self) {
        for id in self.ids_on_disk() {
            if !self.run(&["delete", "--force", &id]).success() {
                let _ = Command::new(hull_bin()).arg("--root").arg(self.state_root()).args(["delete", "--force", &id]).output();
            }
        }
    }
}

/// Runs `c` with stdin from /dev/null and stdout/stderr into files (a container started by
/// `create` or `run -d` keeps them; a pipe would keep a reader waiting); kills it after
/// CMD_TIMEOUT.
pub fn run_command(mut c: Command) -> Outcome {
    let io = TempDir::new("rl-io");
    let (out_path, err_path) = (io.path().join("stdout"), io.path().join("stderr"));
    let out = std::fs::File::create(&out_path).expect("create stdout file");
    let err = std::fs::File::create(&err_path).expect("create stderr file");
    let mut child = c.stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("spawn hull");
    let deadline = Instant::now() + CMD_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for hull") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Outcome { status, stdout: read(&out_path), stderr: read(&err_path) }
}

/// The failure of the known race: the parent could not write the init's id maps because the
/// init had already made itself non-dumpable (its /proc files then belong to root).
/// Host processes with `needle` as one of their arguments (a container init is a clone of hull:
/// until it execs, its command line is the hull command that made it, which names the id).
pub fn processes_naming(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&p| p != me)
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            cmdline.split(|&c| c == 0).any(|arg| arg == needle.as_bytes())
        })
        .collect()
}

/// The host pid of the process in `init`'s PID namespace (other than `init`) whose command line
/// is `argv`, waiting until it has exec'd; panics if there is none within T.
pub fn container_process(init: i64, argv: &[&str]) -> i64 {
    container_process_within(init, argv, T)
}

/// `container_process`, waiting up to `timeout` (the emulated guest is slower).
pub fn container_process_within(init: i64, argv: &[&str], timeout: Duration) -> i64 {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("init's pid namespace");
    let found = poll(timeout, || {
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()))
            .filter(|&p| p != init)
            .find(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want)
                    && std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns)
            })
    });
    found.unwrap_or_else(|| panic!("no process {argv:?} in the PID namespace of {init}"))
}

/// The real, effective, saved and fs uid (or gid, with `key` "Gid:") of a host process.
pub fn status_ids(pid: i64, key: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let line = text.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} line in /proc/{pid}/status"));
    line[key.len()..].split_whitespace().map(|f| f.parse().unwrap()).collect()
}

/// The user namespace of a host process, as `user:[inode]`.
pub fn user_ns(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap_or_else(|e| panic!("/proc/{pid}/ns/user: {e}")).display().to_string()
}

/// The lines of an id map file (`/proc/*/uid_map`), each as its three numbers.
pub fn map_lines(text: &str) -> Vec<Vec<u64>> {
    text.lines()
        .map(|l| l.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(u64::MAX)).collect::<Vec<_>>())
        .filter(|f| f.len() == 3)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------------------------

/// A busybox bundle owned by `user`, whose config is the one `hull spec --rootless` writes when
/// run as `user`, with `terminal: false` and `args`.
pub fn user_bundle(user: &TestUser, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    std::fs::remove_file(b.path().join("config.json")).expect("remove root's config.json");
    chown_tree(b.path(), user.uid, user.gid);
    let spec_xdg = user_xdg(user);
    let mut c = user_command(user, &hull_bin(), spec_xdg.path());
    c.args(["spec", "--rootless", "--bundle", b.arg()]).current_dir(b.path());
    let o = run_command(c);
    assert!(o.success(), "spec --rootless as {} failed: {}", user.name, o.describe());
    let text = std::fs::read_to_string(b.path().join("config.json")).expect("read config.json");
    b.config = serde_json::from_str(&text).expect("parse config.json");
    b.config["process"]["terminal"] = json!(false);
    b.config["process"]["args"] = json!(args);
    b.save();
    b
}

/// `user_bundle` for `sh -c script`.
pub fn user_sh(user: &TestUser, script: &str) -> Bundle {
    user_bundle(user, &["sh", "-c", script])
}

/// Adds capabilities to the bounding, effective and permitted sets (not saved).
pub fn add_caps(b: &mut Bundle, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let list = b.config["process"]["capabilities"][set].as_array_mut().expect("capability set");
        for c in caps {
            list.push(json!(c));
        }
    }
}
