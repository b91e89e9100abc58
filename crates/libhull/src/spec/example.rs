//! The config that `hull spec` writes: runc's example config.
//!
//! runc's integration tests (and many users' scripts) start from `runc spec` and patch the result
//! with `jq` or `sed`, so the text matches what runc main writes: the same fields, the same key
//! order (Go's struct order), tab indentation and no trailing newline.

/// The text of the example `config.json`, tab-indented as runc writes it.
///
/// With `rootless`, the config is adjusted for a container started by an unprivileged user: a new
/// user namespace mapping the caller's euid/egid (read now) to root, no network namespace, `/sys`
/// bind-mounted from the host, no `uid=`/`gid=` mount options and no cgroup resources.
pub fn example_config(rootless: bool) -> String {
    let mut ex = Example::base(cgroup2_unified());
    if rootless {
        ex.make_rootless(nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    }
    ex.to_json().render("\t")
}

/// The parts of the example that differ between the normal and rootless variants; the rest is
/// constant and written directly in `to_json`.
struct Example {
    mounts: Vec<Mount>,
    namespaces: Vec<&'static str>,
    /// (uid, gid) mapped to root in the container; `None` = no user namespace mappings.
    id_mappings: Option<(u32, u32)>,
    /// The device cgroup "deny all" rule; rootless containers cannot rely on cgroups.
    device_rules: bool,
}

struct Mount {
    destination: &'static str,
    fstype: &'static str,
    source: &'static str,
    options: Vec<&'static str>,
}

fn mount(destination: &'static str, fstype: &'static str, source: &'static str, options: &[&'static str]) -> Mount {
    Mount { destination, fstype, source, options: options.to_vec() }
}

impl Example {
    fn base(cgroup_ns: bool) -> Example {
        let mut namespaces = vec!["pid", "network", "ipc", "uts", "mount"];
        // As runc: only on a cgroup v2 host, where the namespace makes /sys/fs/cgroup show the
        // container's own cgroup as its root.
        if cgroup_ns {
            namespaces.push("cgroup");
        }
        Example {
            mounts: vec![
                mount("/proc", "proc", "proc", &[]),
                mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
                mount("/dev/pts", "devpts", "devpts", &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
                mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"]),
                mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            namespaces,
            id_mappings: None,
            device_rules: true,
        }
    }

    /// runc's `ToRootless`.
    fn make_rootless(&mut self, euid: u32, egid: u32) {
        // An unprivileged user cannot create a network namespace with working networking, and the
        // user namespace goes last, as runc puts it.
        self.namespaces.retain(|ns| *ns != "network" && *ns != "user");
        self.namespaces.push("user");
        self.id_mappings = Some((euid, egid));
        for m in &mut self.mounts {
            if m.destination == "/sys" {
                // sysfs cannot be mounted fresh without owning the network namespace: bind the
                // host's instead.
                *m = mount("/sys", "none", "/sys", &["rbind", "nosuid", "noexec", "nodev", "ro"]);
            } else {
                // Only one id is mapped, so ids such as devpts' gid=5 do not exist in the container.
                m.options.retain(|o| !o.starts_with("uid=") && !o.starts_with("gid="));
            }
        }
        self.device_rules = false;
    }

    fn to_json(&self) -> Json {
        let caps = || strs(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        let process = obj(vec![
            ("terminal", Json::Bool(true)),
            ("user", obj(vec![("uid", Json::Num(0)), ("gid", Json::Num(0))])),
            ("args", strs(&["sh"])),
            ("env", strs(&["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"])),
            ("cwd", s("/")),
            ("capabilities", obj(vec![("bounding", caps()), ("effective", caps()), ("permitted", caps())])),
            ("rlimits", Json::Arr(vec![obj(vec![("type", s("RLIMIT_NOFILE")), ("hard", Json::Num(1024)), ("soft", Json::Num(1024))])])),
            ("noNewPrivileges", Json::Bool(true)),
        ]);
        let mounts = self
            .mounts
            .iter()
            .map(|m| {
                let mut fields = vec![("destination", s(m.destination)), ("type", s(m.fstype)), ("source", s(m.source))];
                // Go omits an empty options list.
                if !m.options.is_empty() {
                    fields.push(("options", strs(&m.options)));
                }
                obj(fields)
            })
            .collect();

        let mut linux = Vec::new();
        if let Some((uid, gid)) = self.id_mappings {
            let map = |host: u32| {
                Json::Arr(vec![obj(vec![("containerID", Json::Num(0)), ("hostID", Json::Num(host.into())), ("size", Json::Num(1))])])
            };
            linux.push(("uidMappings", map(uid)));
            linux.push(("gidMappings", map(gid)));
        }
        if self.device_rules {
            let deny_all = obj(vec![("allow", Json::Bool(false)), ("access", s("rwm"))]);
            linux.push(("resources", obj(vec![("devices", Json::Arr(vec![deny_all]))])));
        }
        linux.push(("namespaces", Json::Arr(self.namespaces.iter().map(|ns| obj(vec![("type", s(ns))])).collect())));
        linux.push((
            "maskedPaths",
            strs(&[
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi",
            ]),
        ));
        linux.push(("readonlyPaths", strs(&["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])));

        obj(vec![
            ("ociVersion", s(OCI_VERSION)),
            ("process", process),
            ("root", obj(vec![("path", s("rootfs")), ("readonly", Json::Bool(true))])),
            ("hostname", s("runc")),
            ("mounts", Json::Arr(mounts)),
            ("linux", obj(linux)),
        ])
    }
}

/// The runtime-spec version hull implements.
pub const OCI_VERSION: &str = "1.3.0";

/// True when /sys/fs/cgroup is the cgroup v2 unified hierarchy.
fn cgroup2_unified() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup").is_ok_and(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// A JSON value whose objects keep their key order. serde_json's own map sorts keys (hull does
/// not enable `preserve_order`), but runc's output follows Go's struct field order, and callers
/// diff or patch it as text. Rendering cannot fail, unlike serde serialization.
#[derive(Debug, Clone)]
pub(crate) enum Json {
    Bool(bool),
    Num(u64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

pub(crate) fn s(v: &str) -> Json {
    Json::Str(v.to_string())
}

pub(crate) fn strs(v: &[&str]) -> Json {
    Json::Arr(v.iter().map(|x| s(x)).collect())
}

pub(crate) fn obj(fields: Vec<(&'static str, Json)>) -> Json {
    Json::Obj(fields)
}

impl Json {
    /// Pretty-prints as Go's `json.MarshalIndent(v, "", indent)` does (no trailing newline).
    pub(crate) fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        self.write(&mut out, indent, 0);
        out
    }

    fn write(&self, out: &mut String, indent: &str, depth: usize) {
        let newline = |out: &mut String, depth: usize| {
            out.push('\n');
            out.push_str(&indent.repeat(depth));
        };
        match self {
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(&n.to_string()),
            Json::Str(v) => write_str(out, v),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Obj(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    item.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, depth + 1);
                    write_str(out, key);
                    out.push_str(": ");
                    value.write(out, indent, depth + 1);
                }
                newline(out, depth);
                out.push('}');
            }
        }
    }
}

/// A JSON string literal, escaped as Go's encoding/json does by default (HTML-safe: `<`, `>`, `&`
/// and the JavaScript line separators become `\u` escapes), so output matches runc's.
fn write_str(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxNamespaceType, Spec};

    fn parse(text: &str) -> Spec {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn example_is_a_valid_spec_with_runc_defaults() {
        let text = example_config(false);
        assert!(text.starts_with("{\n\t\"ociVersion\": \"1.3.0\",\n\t\"process\": {\n\t\t\"terminal\": true,"));
        assert!(text.ends_with("\n}"));
        let spec = parse(&text);
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.terminal(), Some(true));
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.capabilities().as_ref().unwrap().ambient(), &None, "runc main sets no ambient capabilities");
        let l = spec.linux().as_ref().unwrap();
        let masked: Vec<&str> = l.masked_paths().as_ref().unwrap().iter().map(String::as_str).collect();
        assert_eq!(
            masked,
            [
                "/proc/acpi",
                "/proc/asound",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/sys/firmware",
                "/proc/scsi"
            ]
        );
        let ro: Vec<&str> = l.readonly_paths().as_ref().unwrap().iter().map(String::as_str).collect();
        assert_eq!(ro, ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]);
        let ns: Vec<LinuxNamespaceType> = l.namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect();
        assert!(ns.contains(&LinuxNamespaceType::Network));
        assert!(!ns.contains(&LinuxNamespaceType::User));
        assert_eq!(ns.contains(&LinuxNamespaceType::Cgroup), cgroup2_unified());
        assert!(l.uid_mappings().is_none());
        let devices = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
        assert_eq!(devices.len(), 1);
        assert!(!devices[0].allow());
        let devpts = spec.mounts().as_ref().unwrap().iter().find(|m| m.destination().to_str() == Some("/dev/pts")).unwrap();
        assert!(devpts.options().as_ref().unwrap().contains(&"gid=5".to_string()));
    }

    #[test]
    fn rootless_maps_the_caller_and_drops_network() {
        let spec = parse(&example_config(true));
        let l = spec.linux().as_ref().unwrap();
        let ns: Vec<LinuxNamespaceType> = l.namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect();
        assert!(!ns.contains(&LinuxNamespaceType::Network));
        assert_eq!(ns.last(), Some(&LinuxNamespaceType::User));
        let uid = &l.uid_mappings().as_ref().unwrap()[..];
        assert_eq!((uid.len(), uid[0].container_id(), uid[0].host_id(), uid[0].size()), (1, 0, nix::unistd::geteuid().as_raw(), 1));
        let gid = &l.gid_mappings().as_ref().unwrap()[..];
        assert_eq!((gid.len(), gid[0].container_id(), gid[0].host_id(), gid[0].size()), (1, 0, nix::unistd::getegid().as_raw(), 1));
        assert!(l.resources().is_none());
        let mounts = spec.mounts().as_ref().unwrap();
        let sys = mounts.iter().find(|m| m.destination().to_str() == Some("/sys")).unwrap();
        assert_eq!(sys.typ().as_deref(), Some("none"));
        assert_eq!(sys.source().as_ref().and_then(|p| p.to_str()), Some("/sys"));
        assert_eq!(sys.options().as_deref().unwrap(), ["rbind", "nosuid", "noexec", "nodev", "ro"]);
        for m in mounts {
            assert!(m.options().iter().flatten().all(|o| !o.starts_with("uid=") && !o.starts_with("gid=")));
        }
    }

    #[test]
    fn rootless_ids_come_from_the_arguments() {
        let mut ex = Example::base(true);
        ex.make_rootless(1000, 1001);
        let text = ex.to_json().render("\t");
        assert!(text.contains("\"uidMappings\": [\n\t\t\t{\n\t\t\t\t\"containerID\": 0,\n\t\t\t\t\"hostID\": 1000,\n\t\t\t\t\"size\": 1\n"));
        assert!(text.contains("\"hostID\": 1001"));
        // The cgroup namespace stays; only network goes and user is appended.
        let spec = parse(&text);
        let ns: Vec<LinuxNamespaceType> = spec.linux().as_ref().unwrap().namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect();
        use LinuxNamespaceType::*;
        assert_eq!(ns, [Pid, Ipc, Uts, Mount, Cgroup, User]);
    }

    #[test]
    fn example_passes_hulls_own_checks() {
        let bundle = std::env::temp_dir().join(format!("hull-example-test-{}", std::process::id()));
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        for rootless in [false, true] {
            let plan = crate::spec::Plan::from_spec(parse(&example_config(rootless)), &bundle);
            assert!(plan.is_ok(), "rootless={rootless}: {:?}", plan.err());
        }
        std::fs::remove_dir_all(&bundle).unwrap();
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let j = obj(vec![("k", s("a\"b\\c\n<&>\u{1}")), ("e", Json::Arr(vec![])), ("o", obj(vec![]))]);
        assert_eq!(j.render("  "), "{\n  \"k\": \"a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001\",\n  \"e\": [],\n  \"o\": {}\n}");
    }
}
