//! What each `config.json` field does, seen from inside the container (or, for cgroups and
//! namespaces, from the host): hostname, user, env, cwd, umask, rlimits, capabilities,
//! noNewPrivileges, oomScoreAdj, masked and read-only paths, the read-only root, mounts, `/dev`,
//! `linux.devices`, sysctls, namespaces, annotations, hooks, cgroups, and passed file descriptors.

mod common;

use common::{pid_ended, poll, require_root, unique, Bundle, Runtime, TempDir};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Generous bound for anything that should take well under a second.
const T: Duration = Duration::from_secs(10);

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The `Key:\tvalue` lines of a /proc/<pid>/status text.
fn status_fields(status: &str) -> BTreeMap<String, String> {
    status.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect()
}

/// Capability names in kernel bit order (include/uapi/linux/capability.h).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The /proc/<pid>/status form (16 hex digits) of a set of capability names.
fn cap_mask(names: &[&str]) -> String {
    let bits =
        names.iter().fold(0u64, |m, n| m | 1 << CAPS.iter().position(|c| c == n).unwrap_or_else(|| panic!("unknown capability {n}")));
    format!("{bits:016x}")
}

fn cap_list(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().map(|c| c.as_str().expect("capability name")).collect()).unwrap_or_default()
}

/// The capability lines of /proc/self/status inside a container made from `b` (its args are
/// replaced).
fn caps_inside(b: &mut Bundle) -> BTreeMap<String, String> {
    b.config["process"]["args"] = json!(["cat", "/proc/self/status"]);
    b.save();
    let out = Runtime::new().run_ok(b);
    status_fields(&out).into_iter().filter(|(k, _)| k.starts_with("Cap")).collect()
}

fn expect_caps(got: &BTreeMap<String, String>, want: &[(&str, String)]) {
    for (k, v) in want {
        assert_eq!(got.get(*k), Some(v), "{k}: all capability lines: {got:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// process

#[test]
fn hostname_is_set_in_the_container_only() {
    if !require_root() {
        return;
    }
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut b = Bundle::sh("hostname; cat /proc/sys/kernel/hostname");
    b.config["hostname"] = json!("hull-box");
    b.save();
    assert_eq!(Runtime::new().run_ok(&b), "hull-box\nhull-box\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_before, "the host's hostname changed");
}

#[test]
fn user_uid_gid_and_additional_gids() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("id -u; id -g; grep -E '^(Uid|Gid|Groups):' /proc/self/status");
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]});
    b.save();
    let out = rt.run_ok(&b);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1000"));
    assert_eq!(lines.next(), Some("1001"));
    let f = status_fields(&out);
    assert_eq!(f["Uid"].split_whitespace().collect::<Vec<_>>(), ["1000"; 4], "real, effective, saved, fs uid");
    assert_eq!(f["Gid"].split_whitespace().collect::<Vec<_>>(), ["1001"; 4], "real, effective, saved, fs gid");
    assert_eq!(f["Groups"].split_whitespace().collect::<Vec<_>>(), ["10", "20"]);

    // Root with no additional gids has no supplementary groups: the runtime's own are dropped.
    let b = Bundle::sh("grep -E '^(Uid|Gid|Groups):' /proc/self/status");
    let f = status_fields(&rt.run_ok(&b));
    assert_eq!(f["Uid"].split_whitespace().collect::<Vec<_>>(), ["0"; 4]);
    assert_eq!(f["Gid"].split_whitespace().collect::<Vec<_>>(), ["0"; 4]);
    assert_eq!(f["Groups"], "", "supplementary groups leaked in");
}

#[test]
fn env_is_exactly_the_configs_plus_home() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["env"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY=", "MULTI=a=b"]);
    b.save();
    let rt = Runtime::new();
    let id = unique("env");
    // A variable in the runtime's environment must not reach the container.
    let out = rt.cmd().env("HULL_LEAK_CHECK", "leaked").args(["run", "--bundle", b.arg(), &id]).stdin(Stdio::null()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "run failed: {stderr}");
    let mut vars: Vec<&str> = stdout.lines().collect();
    vars.sort();
    // HOME is not in the config: it comes from /etc/passwd of the container's user (root: /root).
    // busybox env adds nothing of its own.
    assert_eq!(vars, ["EMPTY=", "FOO=bar baz", "HOME=/root", "MULTI=a=b", "PATH=/bin"]);

    // A HOME in the config wins.
    b.config["process"]["env"] = json!(["PATH=/bin", "HOME=/elsewhere"]);
    b.save();
    let out = rt.run_ok(&b);
    assert!(out.lines().any(|l| l == "HOME=/elsewhere"), "env: {out}");
    assert!(!out.contains("HOME=/root"), "env: {out}");
}

#[test]
fn env_duplicates_keep_the_last_and_empty_home_is_filled_in() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["env"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "DUP=first", "HOME=", "DUP=second"]);
    b.save();
    let out = Runtime::new().run_ok(&b);
    let mut vars: Vec<&str> = out.lines().collect();
    vars.sort();
    // runc keeps only the last of duplicate keys and treats an empty HOME as unset.
    assert_eq!(vars, ["DUP=second", "HOME=/root", "PATH=/bin"]);
}

#[test]
fn cwd_is_used_and_created_when_missing() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["pwd"]);
    b.config["process"]["cwd"] = json!("/tmp");
    b.save();
    assert_eq!(rt.run_ok(&b), "/tmp\n");

    // A cwd that the image lacks is made (even in a read-only root).
    assert_eq!(b.config["root"]["readonly"], true);
    b.config["process"]["cwd"] = json!("/work/deep/dir");
    b.save();
    assert_eq!(rt.run_ok(&b), "/work/deep/dir\n");
    assert!(b.rootfs().join("work/deep/dir").is_dir());
}

#[test]
fn umask_default_and_configured() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("umask; touch /dev/shm/f; mkdir /dev/shm/d; stat -c %a /dev/shm/f /dev/shm/d");
    // Without process.user.umask the container gets 0022, whatever the runtime's own umask is.
    let id = unique("umask");
    let mut cmd = rt.cmd();
    cmd.args(["run", "--bundle", b.arg(), &id]).stdin(Stdio::null());
    // SAFETY: umask is async-signal-safe and only changes the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::libc::umask(0o077);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "run failed: {stderr}");
    assert_eq!(stdout, "0022\n644\n755\n", "runc's default umask is 0022");

    b.config["process"]["user"]["umask"] = json!(0o077);
    b.save();
    assert_eq!(rt.run_ok(&b), "0077\n600\n700\n");
}

#[test]
fn rlimits_soft_and_hard() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc");
    // runc's example config: RLIMIT_NOFILE 1024/1024; the core limit is inherited (unlimited here
    // or whatever the host has), so only NOFILE is checked for the default.
    let default = rt.run_ok(&b);
    assert_eq!(default.lines().take(2).collect::<Vec<_>>(), ["1024", "1024"]);

    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 20000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]);
    b.save();
    assert_eq!(rt.run_ok(&b), "1000\n20000\n0\n0\n");
}

#[test]
fn capabilities_of_the_default_spec() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    let caps = b.config["process"]["capabilities"].clone();
    let got = caps_inside(&mut b);
    // The default spec has the same list for bounding, effective and permitted, and no
    // inheritable set (CVE-2022-24769): nothing may be inheritable or ambient.
    expect_caps(
        &got,
        &[
            ("CapBnd", cap_mask(&cap_list(&caps["bounding"]))),
            ("CapPrm", cap_mask(&cap_list(&caps["permitted"]))),
            ("CapEff", cap_mask(&cap_list(&caps["effective"]))),
            ("CapInh", cap_mask(&[])),
            ("CapAmb", cap_mask(&[])),
        ],
    );
    // runc's example grants exactly these three.
    assert_eq!(got["CapBnd"], cap_mask(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]));
}

#[test]
fn capabilities_reduced_set_for_root() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "permitted": ["CAP_CHOWN", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN"],
    });
    let got = caps_inside(&mut b);
    // For uid 0 execve() raises the effective set to the permitted one, and no_new_privs keeps
    // permitted from growing past what the runtime left (so CAP_KILL, only in bounding, stays out).
    expect_caps(
        &got,
        &[
            ("CapBnd", cap_mask(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"])),
            ("CapPrm", cap_mask(&["CAP_CHOWN", "CAP_NET_RAW"])),
            ("CapEff", cap_mask(&["CAP_CHOWN", "CAP_NET_RAW"])),
            ("CapInh", cap_mask(&[])),
            ("CapAmb", cap_mask(&[])),
        ],
    );
}

#[test]
fn capabilities_ambient_reach_a_non_root_process() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    let set = json!(["CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.config["process"]["capabilities"] = json!({"bounding": set, "permitted": set, "effective": set, "inheritable": set, "ambient": set});
    let got = caps_inside(&mut b);
    // A non-root process keeps across execve() only what is ambient.
    let mask = cap_mask(&["CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]);
    expect_caps(
        &got,
        &[("CapBnd", mask.clone()), ("CapPrm", mask.clone()), ("CapEff", mask.clone()), ("CapInh", mask.clone()), ("CapAmb", mask)],
    );

    // Without ambient, the same non-root process ends with no capabilities at all.
    b.config["process"]["capabilities"] = json!({"bounding": set, "permitted": set, "effective": set});
    let got = caps_inside(&mut b);
    let none = cap_mask(&[]);
    expect_caps(&got, &[("CapPrm", none.clone()), ("CapEff", none.clone()), ("CapInh", none.clone()), ("CapAmb", none)]);
}

#[test]
fn no_new_privileges() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("grep NoNewPrivs: /proc/self/status");
    assert_eq!(b.config["process"]["noNewPrivileges"], true, "runc's example sets noNewPrivileges");
    assert_eq!(rt.run_ok(&b), "NoNewPrivs:\t1\n");
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.save();
    assert_eq!(rt.run_ok(&b), "NoNewPrivs:\t0\n");
}

#[test]
fn oom_score_adj() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
    let inherited = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_eq!(rt.run_ok(&b), inherited, "without oomScoreAdj the value is inherited");
    // Only raised: lowering it needs CAP_SYS_RESOURCE, which this machine's root lacks.
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.save();
    assert_eq!(rt.run_ok(&b), "500\n");
}

// ---------------------------------------------------------------------------------------------
// filesystem

#[test]
fn masked_paths_read_empty() {
    if !require_root() {
        return;
    }
    // /proc/kcore does not exist on this kernel; these two do and are not empty on the host.
    for p in ["/proc/timer_list", "/proc/keys"] {
        assert!(!std::fs::read(p).unwrap().is_empty(), "{p} is empty on the host: pick another");
    }
    let mut b = Bundle::sh(
        "wc -c < /proc/timer_list; wc -c < /proc/keys; cat /etc/secret.txt; ls -A /secretdir; stat -c %F /proc/timer_list; echo end",
    );
    std::fs::write(b.rootfs().join("etc/secret.txt"), "do not read\n").unwrap();
    std::fs::create_dir(b.rootfs().join("secretdir")).unwrap();
    std::fs::write(b.rootfs().join("secretdir/inner"), "hidden\n").unwrap();
    let masked = b.config["linux"]["maskedPaths"].as_array_mut().expect("spec has maskedPaths");
    assert!(masked.iter().any(|p| p == "/proc/timer_list") && masked.iter().any(|p| p == "/proc/keys"));
    masked.push(json!("/etc/secret.txt"));
    masked.push(json!("/secretdir"));
    b.save();
    let out = Runtime::new().run_ok(&b);
    // Masked files are /dev/null (a character device, empty); masked directories are empty.
    assert_eq!(out, "0\n0\ncharacter special file\nend\n");
}

#[test]
fn readonly_paths_refuse_writes() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh(
        r#"
        grep -E ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6 | tr , '\n' | grep -x ro
        echo x > /proc/sys/kernel/domainname && echo proc-sys-writable
        touch /data/new && echo data-writable
        touch /outside && echo root-writable
        cat /data/old
    "#,
    );
    b.config["root"]["readonly"] = json!(false);
    std::fs::create_dir(b.rootfs().join("data")).unwrap();
    std::fs::write(b.rootfs().join("data/old"), "kept\n").unwrap();
    b.config["linux"]["readonlyPaths"].as_array_mut().expect("spec has readonlyPaths").push(json!("/data"));
    assert!(b.config["linux"]["readonlyPaths"].as_array().unwrap().iter().any(|p| p == "/proc/sys"));
    b.save();
    let out = Runtime::new().run_bundle(&b);
    let (stdout, stderr) = text(&out);
    // The domainname write is harmless even if it went through: the container has a uts namespace.
    assert_eq!(stdout, "ro\nroot-writable\nkept\n", "stderr: {stderr}");
    assert!(!b.rootfs().join("data/new").exists());
    assert!(b.rootfs().join("outside").exists());
}

#[test]
fn readonly_root() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::sh("touch /x && echo wrote; touch /dev/shm/y && echo tmpfs-ok");
    assert_eq!(b.config["root"]["readonly"], true);
    assert_eq!(rt.run_bundle(&b).stdout, b"tmpfs-ok\n");
    assert!(!b.rootfs().join("x").exists());

    b.config["root"]["readonly"] = json!(false);
    b.save();
    assert_eq!(rt.run_ok(&b), "wrote\ntmpfs-ok\n");
    assert!(b.rootfs().join("x").exists());
}

/// Line `mountinfo` of the mount at `dest`: (mount options, fs type, super options).
fn mountinfo_entry(mountinfo: &str, dest: &str) -> Option<(String, String, String)> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let f: Vec<&str> = pre.split(' ').collect();
        let p: Vec<&str> = post.split(' ').collect();
        (f.get(4) == Some(&dest)).then(|| (f[5].to_owned(), p[0].to_owned(), p.get(2).copied().unwrap_or("").to_owned()))
    })
}

fn has_opt(opts: &str, o: &str) -> bool {
    opts.split(',').any(|x| x == o)
}

#[test]
fn tmpfs_mount_with_size_and_mode() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh("cat /proc/self/mountinfo; echo ---; stat -c %a /mnt/t; touch /mnt/t/f && echo written");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m", "mode=700"]}));
    b.save();
    let out = Runtime::new().run_ok(&b);
    let (mountinfo, rest) = out.split_once("---\n").unwrap();
    let (opts, fstype, sopts) = mountinfo_entry(mountinfo, "/mnt/t").unwrap_or_else(|| panic!("no /mnt/t in {mountinfo}"));
    assert_eq!(fstype, "tmpfs");
    assert!(has_opt(&opts, "nosuid") && has_opt(&opts, "nodev"), "mount options {opts}");
    assert!(has_opt(&sopts, "size=1024k") && has_opt(&sopts, "mode=700"), "tmpfs options {sopts}");
    assert_eq!(rest, "700\nwritten\n");
}

/// A tmpfs mounted on the host, unmounted on drop.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).unwrap();
        nix::mount::mount(Some("tmpfs"), at, Some("tmpfs"), nix::mount::MsFlags::empty(), Some("size=1m"))
            .expect("mount a tmpfs on the host");
        HostMount(at.to_owned())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn bind_mounts_rw_ro_and_recursive() {
    if !require_root() {
        return;
    }
    let host = TempDir::new("bindsrc");
    std::fs::write(host.path().join("file"), "from the host\n").unwrap();
    let sub = HostMount::tmpfs(&host.path().join("sub"));
    std::fs::write(sub.0.join("inner"), "in a submount\n").unwrap();
    let src = host.path().to_str().unwrap();

    let mut b = Bundle::sh(
        r#"
        cat /mnt/rw/file
        echo from-container > /mnt/rw/written && echo rw-ok
        touch /mnt/ro/x && echo ro-writable
        cat /mnt/ro/file
        cat /mnt/rbind/sub/inner
        test -e /mnt/bind/sub/inner && echo bind-is-recursive
        grep -E ' /mnt/ro ' /proc/self/mountinfo | cut -d' ' -f6 | tr , '\n' | grep -x ro
        echo end
    "#,
    );
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/mnt/rw", "type": "bind", "source": src, "options": ["bind"]}));
    mounts.push(json!({"destination": "/mnt/ro", "type": "bind", "source": src, "options": ["bind", "ro"]}));
    mounts.push(json!({"destination": "/mnt/rbind", "type": "bind", "source": src, "options": ["rbind"]}));
    mounts.push(json!({"destination": "/mnt/bind", "type": "bind", "source": src, "options": ["bind"]}));
    b.save();
    let out = Runtime::new().run_bundle(&b);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "from the host\nrw-ok\nfrom the host\nin a submount\nro\nend\n", "stderr: {stderr}");
    assert_eq!(std::fs::read_to_string(host.path().join("written")).unwrap(), "from-container\n");
    assert!(!host.path().join("x").exists());
    drop(sub);
}

#[test]
fn dev_has_the_default_devices_links_and_mounts() {
    if !require_root() {
        return;
    }
    let b = Bundle::sh(
        r#"
        for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done
        for l in fd stdin stdout stderr ptmx; do echo "/dev/$l -> $(readlink /dev/$l)"; done
        echo ---
        cat /proc/self/mountinfo
    "#,
    );
    let out = Runtime::new().run_ok(&b);
    let (devs, mountinfo) = out.split_once("---\n").unwrap();
    assert_eq!(
        devs,
        "/dev/null character special file 1:3 666\n\
         /dev/zero character special file 1:5 666\n\
         /dev/full character special file 1:7 666\n\
         /dev/random character special file 1:8 666\n\
         /dev/urandom character special file 1:9 666\n\
         /dev/tty character special file 5:0 666\n\
         /dev/fd -> /proc/self/fd\n\
         /dev/stdin -> /proc/self/fd/0\n\
         /dev/stdout -> /proc/self/fd/1\n\
         /dev/stderr -> /proc/self/fd/2\n\
         /dev/ptmx -> pts/ptmx\n"
    );
    for (dest, fstype) in [("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"), ("/dev/mqueue", "mqueue")] {
        let (_, t, _) = mountinfo_entry(mountinfo, dest).unwrap_or_else(|| panic!("{dest} not mounted: {mountinfo}"));
        assert_eq!(t, fstype, "{dest}");
    }
    let (_, _, pts) = mountinfo_entry(mountinfo, "/dev/pts").unwrap();
    assert!(has_opt(&pts, "ptmxmode=666") && has_opt(&pts, "mode=620"), "devpts options {pts}");
}

#[test]
fn linux_devices_are_created() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::sh("stat -c '%F %t:%T %a %u:%g' /dev/mynull; echo data > /dev/mynull && echo written; wc -c < /dev/mynull");
    b.config["linux"]["devices"] =
        json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 0, "gid": 8}]);
    b.save();
    assert_eq!(Runtime::new().run_ok(&b), "character special file 1:3 620 0:8\nwritten\n0\n");
}

// ---------------------------------------------------------------------------------------------
// kernel settings and namespaces

#[test]
fn sysctls_are_set_in_the_containers_namespaces() {
    if !require_root() {
        return;
    }
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let mut b = Bundle::sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax");
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": want_fwd, "kernel.shmmax": "123456789"});
    b.save();
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), format!("{want_fwd}\n123456789\n"));
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_fwd);
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shm);

    // A net.* sysctl without a network namespace would change the host: refused. (The value is
    // the host's own, so a runtime that wrongly applies it changes nothing.)
    b.remove_namespace("network");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": host_fwd.trim()});
    b.save();
    let out = rt.run_bundle(&b);
    assert!(!out.status.success(), "a network sysctl in the host's network namespace was accepted");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_fwd);
}

/// The /proc/<pid>/ns names of the spec's namespace types.
fn ns_file(ty: &str) -> &'static str {
    match ty {
        "pid" => "pid",
        "network" => "net",
        "ipc" => "ipc",
        "uts" => "uts",
        "mount" => "mnt",
        "cgroup" => "cgroup",
        "user" => "user",
        "time" => "time",
        other => panic!("unknown namespace type {other}"),
    }
}

const ALL_NS: &[&str] = &["pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"];

#[test]
fn namespaces_are_new_exactly_for_the_spec_types() {
    if !require_root() {
        return;
    }
    let script: String = ALL_NS.iter().map(|t| format!("echo {t} $(readlink /proc/self/ns/{});", ns_file(t))).collect();
    let b = Bundle::sh(&script);
    let in_spec: Vec<String> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap().to_owned()).collect();
    for t in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(in_spec.iter().any(|s| s == t), "runc's example has a {t} namespace");
    }
    let out = Runtime::new().run_ok(&b);
    for line in out.lines() {
        let (t, inside) = line.split_once(' ').unwrap();
        let host = std::fs::read_link(format!("/proc/self/ns/{}", ns_file(t))).unwrap();
        let host = host.to_str().unwrap();
        assert!(inside.starts_with(ns_file(t)), "{line}");
        if in_spec.iter().any(|s| s == t) {
            assert_ne!(inside, host, "{t} namespace is the host's");
        } else {
            assert_eq!(inside, host, "{t} namespace was unshared though not in the spec");
        }
    }
    assert_eq!(out.lines().count(), ALL_NS.len());
}

#[test]
fn namespace_joined_by_path() {
    if !require_root() {
        return;
    }
    let rt = Runtime::new();
    // A first container holds the namespaces.
    let mut a = Bundle::new(&["sleep", "1000"]);
    a.config["hostname"] = json!("holder");
    a.save();
    let holder = unique("holder");
    rt.create_and_start(&a, &holder);
    let pid = rt.pid(&holder);
    let ns = |t: &str| std::fs::read_link(format!("/proc/{pid}/ns/{t}")).unwrap().to_str().unwrap().to_owned();

    let mut b = Bundle::sh("for n in net uts ipc; do readlink /proc/self/ns/$n; done; hostname");
    b.config.as_object_mut().unwrap().remove("hostname");
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        match n["type"].as_str().unwrap() {
            "network" => n["path"] = json!(format!("/proc/{pid}/ns/net")),
            "uts" => n["path"] = json!(format!("/proc/{pid}/ns/uts")),
            _ => {}
        }
    }
    b.save();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], ns("net"), "net namespace not joined");
    assert_eq!(lines[1], ns("uts"), "uts namespace not joined");
    assert_ne!(lines[2], ns("ipc"), "ipc namespace joined though not asked");
    assert_eq!(lines[3], "holder", "the joined uts namespace's hostname");
    assert_ne!(lines[0], std::fs::read_link("/proc/self/ns/net").unwrap().to_str().unwrap());
}

#[test]
fn the_process_is_pid_1_of_its_pid_namespace() {
    if !require_root() {
        return;
    }
    // echo is a shell builtin: the shell is the only process, so /proc shows only pid 1.
    let b = Bundle::sh("echo $$; echo /proc/[0-9]*");
    assert_eq!(Runtime::new().run_ok(&b), "1\n/proc/1\n");
}

#[test]
fn annotations_appear_in_state() {
    if !require_root() {
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    let ann = json!({"org.hull.test": "yes", "com.example.two": "a b=c"});
    b.config["annotations"] = ann.clone();
    b.save();
    let rt = Runtime::new();
    let id = unique("ann");
    rt.create(&b, &id);
    assert_eq!(rt.state(&id)["annotations"], ann);
    let list: Value = serde_json::from_str(&rt.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["annotations"], ann, "list: {list}");
}

// ---------------------------------------------------------------------------------------------
// hooks

const HOOK_KINDS: &[&str] = &["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// A hook that saves the state it gets on stdin to `<dir>/<name>.json` and appends its name to
/// `<dir>/order`. It runs as `/bin/sh` with a PATH: startContainer hooks run inside the container,
/// where busybox provides both, and `dir` is bind-mounted at the same path there.
fn marker_hook(dir: &Path, name: &str) -> Value {
    let d = dir.to_str().unwrap();
    let script = format!("cat > {d}/{name}.json; echo {name} >> {d}/order");
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]})
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    if !require_root() {
        return;
    }
    let markers = TempDir::new("hooks");
    let d = markers.path();
    let mut b = Bundle::sh("echo process-ran");
    let hooks: serde_json::Map<String, Value> = HOOK_KINDS.iter().map(|k| (k.to_string(), json!([marker_hook(d, k)]))).collect();
    b.config["hooks"] = Value::Object(hooks);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": d.to_str().unwrap(), "type": "bind", "source": d.to_str().unwrap(), "options": ["bind"]}));
    b.config["annotations"] = json!({"hook.test": "1"});
    b.save();
    let rt = Runtime::new();
    let id = unique("hooks");
    let io = TempDir::new("io");
    let (out, err) = (io.path().join("out"), io.path().join("err"));
    let status = rt.run_to_files(&["create", "--bundle", b.arg(), &id], &out, &err);
    assert!(status.success(), "create failed: {}", std::fs::read_to_string(&err).unwrap());
    let order = || std::fs::read_to_string(d.join("order")).unwrap_or_default();
    let after_create = order();
    let pid = rt.pid(&id);
    rt.ok(&["start", &id]);
    let after_start = order();
    assert!(rt.wait_status(&id, "stopped", T));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "process-ran\n");
    rt.ok(&["delete", &id]);
    let after_delete = order();

    let bundle = std::fs::canonicalize(b.path()).unwrap();
    for (kind, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("startContainer", "created"),
        ("poststop", "stopped"),
        // Last: runc before 1.5 ran poststart during create, with the status "created".
        ("poststart", "running"),
    ] {
        let text = std::fs::read_to_string(d.join(format!("{kind}.json"))).unwrap();
        let st: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind} got no state JSON on stdin ({e}): {text:?}"));
        assert_eq!(st["id"], id.as_str(), "{kind}: {st}");
        assert_eq!(st["status"], status, "{kind}: {st}");
        assert_eq!(Path::new(st["bundle"].as_str().unwrap_or_default()), bundle, "{kind}: {st}");
        assert!(st["ociVersion"].is_string(), "{kind}: {st}");
        assert_eq!(st["annotations"], json!({"hook.test": "1"}), "{kind}: {st}");
        match kind {
            // Run inside the container's pid namespace, they see its init as pid 1 (runc does so).
            "createContainer" | "startContainer" => assert_eq!(st["pid"], 1, "{kind}: {st}"),
            "poststop" => {}
            _ => assert_eq!(st["pid"], pid, "{kind}: the container's init pid: {st}"),
        }
    }

    // The lifecycle's order (runtime-spec, "Lifecycle"): create runs prestart, createRuntime and
    // createContainer; start runs startContainer, then the process, then poststart, and returns
    // after poststart; delete runs poststop.
    assert_eq!(after_create, "prestart\ncreateRuntime\ncreateContainer\n", "hooks run by create");
    assert_eq!(after_start, "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\n", "hooks run by start");
    assert_eq!(after_delete, HOOK_KINDS.iter().map(|k| format!("{k}\n")).collect::<String>(), "poststop runs at delete");
}

#[test]
fn a_hanging_hook_is_killed_at_its_timeout_and_create_fails() {
    if !require_root() {
        return;
    }
    let markers = TempDir::new("hooktimeout");
    let pid_file = markers.path().join("hook.pid");
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 600", pid_file.display())],
        "timeout": 1,
    }]});
    b.save();
    let rt = Runtime::new();
    let id = unique("hookto");
    let _reaper = KillPidFromFile(pid_file.clone());
    let io = TempDir::new("io");
    let err = io.path().join("err");
    let started = Instant::now();
    let mut child = rt
        .cmd()
        .args(["create", "--bundle", b.arg(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    // The hook would sleep for 10 minutes: a runtime that ignores its timeout fails here.
    let status = common::wait_child(&mut child, Duration::from_secs(60));
    let took = started.elapsed();
    assert!(!status.success(), "create succeeded though its hook hung");
    assert!(took >= Duration::from_secs(1), "create failed before the hook's timeout: {}", std::fs::read_to_string(&err).unwrap());
    let hook_pid: i64 = std::fs::read_to_string(&pid_file).expect("the hook ran").trim().parse().unwrap();
    assert!(poll(T, || pid_ended(hook_pid).then_some(())).is_some(), "the timed-out hook {hook_pid} still runs");
    // The failed create leaves no container behind.
    assert_eq!(rt.status(&id), None);
    assert!(!rt.root.path().join(&id).exists(), "failed create left its state directory");
}

/// On drop, SIGKILLs the process whose pid is in the file if it still runs `sleep` (a hook left
/// behind by a failing runtime).
struct KillPidFromFile(PathBuf);

impl Drop for KillPidFromFile {
    fn drop(&mut self) {
        let Some(pid) = std::fs::read_to_string(&self.0).ok().and_then(|t| t.trim().parse::<i32>().ok()) else {
            return;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.starts_with(b"sleep\0") {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// cgroups (v1 on this host)

/// The v1 controllers mounted on this host.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"];

/// On drop, removes the (empty) cgroup directories at `path` that a failing runtime left behind.
struct CgroupCleanup(String);

impl Drop for CgroupCleanup {
    fn drop(&mut self) {
        for ctrl in V1_CONTROLLERS {
            let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}{}", self.0));
        }
    }
}

#[test]
fn cgroup_v1_limits_are_applied_on_the_host() {
    if !require_root() {
        return;
    }
    if !Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() {
        panic!("this test expects the cgroup v1 memory controller at /sys/fs/cgroup/memory");
    }
    let cg = format!("/{}", unique("hull-test-cg"));
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["cgroupsPath"] = json!(cg);
    // Dropped after the runtime (declared before it), so after the container is deleted.
    let _cleanup = CgroupCleanup(cg.clone());
    b.config["linux"]["resources"]["memory"] = json!({"limit": 64 * 1024 * 1024});
    b.config["linux"]["resources"]["pids"] = json!({"limit": 20});
    b.config["linux"]["resources"]["cpu"] = json!({"shares": 512});
    b.save();
    let rt = Runtime::new();
    let id = unique("cg");
    rt.create_and_start(&b, &id);
    let pid = rt.pid(&id);
    let read = |ctrl: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{cg}/{file}")).unwrap_or_else(|e| panic!("{ctrl}{cg}/{file}: {e}"))
    };
    assert_eq!(read("memory", "memory.limit_in_bytes").trim(), "67108864");
    assert_eq!(read("pids", "pids.max").trim(), "20");
    assert_eq!(read("cpu", "cpu.shares").trim(), "512");
    for ctrl in ["memory", "pids", "cpu", "devices", "freezer"] {
        assert!(read(ctrl, "cgroup.procs").lines().any(|l| l == pid.to_string()), "init {pid} not in {ctrl}{cg}");
    }
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l.ends_with(&format!(":memory:{cg}"))), "/proc/{pid}/cgroup: {own}");

    rt.ok(&["delete", "--force", &id]);
    for ctrl in ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio"] {
        let dir = format!("/sys/fs/cgroup/{ctrl}{cg}");
        assert!(poll(T, || (!Path::new(&dir).exists()).then_some(())).is_some(), "{dir} left after delete");
    }
}

// ---------------------------------------------------------------------------------------------
// file descriptors

/// A file holding `content`, opened for reading.
fn content_file(dir: &TempDir, content: &str) -> std::fs::File {
    let p = dir.path().join("passed");
    std::fs::write(&p, content).unwrap();
    std::fs::File::open(&p).unwrap()
}

/// Makes `fd` the child's fd 3 (without close-on-exec) before it execs.
fn with_fd3(cmd: &mut Command, fd: &std::fs::File) {
    let raw = fd.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe and only touch the child's descriptor table.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::dup2(raw, 3) < 0 || nix::libc::fcntl(3, nix::libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The descriptors `ls` lists in `ls -l /proc/self/fd` output, without the one `ls` opened
/// to read the directory (its target is `/proc/<pid>/fd`).
fn listed_fds(ls: &str) -> Vec<String> {
    ls.lines()
        .filter_map(|l| {
            l.split_once(" -> ").map(|(left, target)| (left.split_whitespace().last().unwrap_or("").to_owned(), target.to_owned()))
        })
        .filter(|(_, target)| !(target.starts_with("/proc/") && target.ends_with("/fd")))
        .map(|(fd, _)| fd)
        .collect()
}

#[test]
fn preserve_fds_passes_extra_descriptors() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("fds");
    let file = content_file(&dir, "through fd 3\n");
    let rt = Runtime::new();
    let b = Bundle::sh("cat /proc/self/fd/3; ls -l /proc/self/fd");
    let id = unique("pfd");
    let mut cmd = rt.cmd();
    cmd.args(["run", "--preserve-fds", "1", "--bundle", b.arg(), &id]).stdin(Stdio::null());
    with_fd3(&mut cmd, &file);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "run --preserve-fds failed: {stderr}");
    let (first, ls) = stdout.split_once('\n').unwrap();
    assert_eq!(first, "through fd 3");
    assert_eq!(listed_fds(ls), ["0", "1", "2", "3"], "ls: {ls}");
}

#[test]
fn without_preserve_fds_only_stdio_is_passed() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("fds");
    let file = content_file(&dir, "must not leak\n");
    let rt = Runtime::new();
    let b = Bundle::new(&["ls", "-l", "/proc/self/fd"]);
    let id = unique("nofd");
    let mut cmd = rt.cmd();
    cmd.args(["run", "--bundle", b.arg(), &id]).stdin(Stdio::null());
    with_fd3(&mut cmd, &file);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "run failed: {stderr}");
    assert_eq!(listed_fds(&stdout), ["0", "1", "2"], "ls: {stdout}");
    assert!(!stdout.contains("passed"), "the runtime's fd 3 leaked in: {stdout}");
}

#[test]
fn listen_fds_are_passed_with_socket_activation_env() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("fds");
    let file = content_file(&dir, "activated\n");
    let rt = Runtime::new();
    let mut b = Bundle::sh("cat /proc/self/fd/3; echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; ls -l /proc/self/fd");
    b.config["process"]["env"] = json!(["PATH=/bin"]);
    b.save();
    let id = unique("lfd");
    // LISTEN_PID must be the runtime's own pid: a shell sets it to $$ and execs the runtime.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\""])
        .arg(common::hull_bin())
        .arg("--root")
        .arg(rt.root.path())
        .args(["run", "--bundle", b.arg(), &id])
        .stdin(Stdio::null());
    with_fd3(&mut cmd, &file);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "run with LISTEN_FDS failed: {stderr}");
    let lines: Vec<&str> = stdout.splitn(3, '\n').collect();
    assert_eq!(lines[0], "activated");
    // The container sees itself as the activated process: pid 1.
    assert_eq!(lines[1], "LISTEN_FDS=1 LISTEN_PID=1");
    assert_eq!(listed_fds(lines[2]), ["0", "1", "2", "3"], "ls: {}", lines[2]);
}
