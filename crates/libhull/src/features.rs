//! `hull features`: the runtime-spec features document (`features.md` of runtime-spec 1.3.0).
//!
//! Engines read it to learn what the runtime supports, so it states what hull does today, not
//! what runc does: `false` means hull does not implement the feature (yet).
//! Keys are written in the order of runtime-spec's Go `features.Features` type, as runc does.

use crate::spec::example::{obj, s, strs, Json, OCI_VERSION};

/// The hook kinds hull runs, in runtime-spec order.
const HOOKS: [&str; 6] = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// Every mount option hull's mount parser (`spec::mounts`) recognizes as a flag rather than passing
/// it to the filesystem. Kept in step with `attr_option`, its `r`-prefixed recursive forms,
/// `propagation_flag` and `ignored_option`; the tests check each one against the parser.
const MOUNT_FLAGS: [&str; 18] = [
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "noatime",
    "atime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "nodiratime",
    "diratime",
    "nosymfollow",
    "symfollow",
];
const PROPAGATION: [&str; 8] = ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"];
/// Accepted but not flags of their own: `bind`/`rbind` choose the mount kind, the others have no
/// effect. Listed because a config using them is not refused.
const IGNORED: [&str; 10] = ["defaults", "async", "loud", "nomand", "bind", "rbind", "remount", "tmpcopyup", "nolazytime", "noiversion"];

/// All namespace kinds hull can create or join, sorted by name as runc lists them.
const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"];

/// Annotations whose values a runtime might act on, so engines should not pass them through from
/// untrusted images. runc's list, kept so engines filter the same keys whichever runtime runs.
const UNSAFE_ANNOTATIONS: [&str; 3] = ["bundle", "org.systemd.property.", "org.criu.config"];

/// The features JSON, 4-space indented as runc prints it, with a trailing newline.
pub fn features_json() -> String {
    let enabled = |on: bool| obj(vec![("enabled", Json::Bool(on))]);
    let linux = obj(vec![
        ("namespaces", strs(&NAMESPACES)),
        ("capabilities", str_list(capability_names())),
        (
            "cgroup",
            obj(vec![
                ("v1", Json::Bool(true)),
                ("v2", Json::Bool(true)),
                ("systemd", Json::Bool(true)),
                ("systemdUser", Json::Bool(true)),
                ("rdma", Json::Bool(true)),
            ]),
        ),
        ("seccomp", crate::seccomp::features()),
        // As runc: "enabled" says the runtime supports the LSM, not that this host runs it.
        ("apparmor", enabled(true)),
        ("selinux", enabled(true)),
        ("intelRdt", enabled(crate::rdt::is_resctrl(std::path::Path::new(crate::rdt::RESCTRL_ROOT)))),
        ("mountExtensions", obj(vec![("idmap", enabled(true))])),
        ("netDevices", enabled(true)),
    ]);
    let doc = obj(vec![
        ("ociVersionMin", s("1.0.0")),
        ("ociVersionMax", s(OCI_VERSION)),
        ("hooks", strs(&HOOKS)),
        ("mountOptions", str_list(mount_options())),
        ("linux", linux),
        // Only hull's own key: runc's `org.opencontainers.runc.*` keys describe runc.
        ("annotations", obj(vec![("io.github.hull.version", s(env!("CARGO_PKG_VERSION")))])),
        ("potentiallyUnsafeConfigAnnotations", strs(&UNSAFE_ANNOTATIONS)),
    ]);
    // Go's json.Encoder ends every value with a newline.
    doc.render("    ") + "\n"
}

/// The recognized mount options, sorted bytewise as runc sorts them.
fn mount_options() -> Vec<String> {
    let recursive = MOUNT_FLAGS.iter().map(|f| format!("r{f}"));
    let plain = MOUNT_FLAGS.iter().chain(&PROPAGATION).chain(&IGNORED).map(|o| o.to_string());
    let mut all: Vec<String> = plain.chain(recursive).collect();
    all.sort_unstable();
    all
}

fn str_list(items: Vec<String>) -> Json {
    Json::Arr(items.into_iter().map(Json::Str).collect())
}

/// The `CAP_*` names of every capability the running kernel knows, by capability number.
fn capability_names() -> Vec<String> {
    // Probing with PR_CAPBSET_READ needs no /proc; if it is unavailable (empty result), list every
    // capability hull knows rather than claim none.
    let mut known = caps::runtime::thread_all_supported();
    if known.is_empty() {
        known = caps::all();
    }
    let mut list: Vec<caps::Capability> = known.into_iter().collect();
    list.sort_by_key(|c| c.index());
    list.iter().map(|c| c.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn doc() -> serde_json::Value {
        serde_json::from_str(&features_json()).unwrap()
    }

    #[test]
    fn document_has_the_schema_fields() {
        let text = features_json();
        assert!(text.starts_with(
            "{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": \"1.3.0\",\n    \"hooks\": [\n        \"prestart\","
        ));
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
        let d = doc();
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        for k in ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations", "potentiallyUnsafeConfigAnnotations"] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert_eq!(d["hooks"].as_array().unwrap().len(), 6);
        let l = &d["linux"];
        assert_eq!(l["namespaces"], serde_json::json!(NAMESPACES));
        assert_eq!(l["cgroup"], serde_json::json!({"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true}));
        for k in ["apparmor", "selinux"] {
            assert_eq!(l[k], serde_json::json!({"enabled": true}), "{k}");
        }
        // intelRdt is what the host has: resctrl mounted or not.
        let rdt = crate::rdt::is_resctrl(std::path::Path::new(crate::rdt::RESCTRL_ROOT));
        assert_eq!(l["intelRdt"], serde_json::json!({"enabled": rdt}));
        assert_eq!(l["netDevices"], serde_json::json!({"enabled": true}));
        assert_eq!(l["mountExtensions"], serde_json::json!({"idmap": {"enabled": true}}));
        assert_eq!(d["annotations"]["io.github.hull.version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(d["potentiallyUnsafeConfigAnnotations"], serde_json::json!(UNSAFE_ANNOTATIONS));
        // Every namespace listed is one hull's spec module knows.
        assert_eq!(crate::spec::NAMESPACE_ORDER.len(), NAMESPACES.len());
    }

    #[test]
    fn oci_spec_parses_it() {
        let f: oci_spec::runtime::Features = serde_json::from_str(&features_json()).unwrap();
        assert_eq!(f.oci_version_max(), "1.3.0");
        assert_eq!(f.linux().as_ref().unwrap().namespaces().as_ref().unwrap().len(), 8);
    }

    #[test]
    fn capabilities_are_sorted_by_number() {
        let d = doc();
        let names: Vec<&str> = d["linux"]["capabilities"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(&names[..3], ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"]);
        let nums: Vec<u8> = names.iter().map(|n| n.parse::<caps::Capability>().unwrap().index()).collect();
        assert!(nums.windows(2).all(|w| w[0] < w[1]));
        assert!(names.contains(&"CAP_SYS_ADMIN"));
    }

    #[test]
    fn every_listed_mount_option_is_recognized_by_the_parser() {
        let d = doc();
        let opts: Vec<String> = d["mountOptions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(opts.len(), 18 * 2 + 8 + 10);
        assert!(opts.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
        // One tmpfs mount per option: accepted, and taken as a mount flag, not handed to tmpfs.
        let mounts: Vec<serde_json::Value> = opts
            .iter()
            .enumerate()
            .map(|(i, o)| serde_json::json!({"destination": format!("/m{i}"), "type": "tmpfs", "source": "/tmp", "options": [o]}))
            .collect();
        let spec: oci_spec::runtime::Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.3.0", "mounts": mounts})).unwrap();
        let plans = crate::spec::mounts::plan_mounts(&spec, Path::new("/")).unwrap();
        for (p, o) in plans.iter().zip(&opts) {
            assert!(p.data.is_empty(), "{o} was passed to the filesystem as data");
        }
        // A bind mount refuses anything that is not a mount flag, so this checks the same thing
        // the other way round.
        for o in &opts {
            let spec: oci_spec::runtime::Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.3.0", "mounts": [
                {"destination": "/m", "type": "bind", "source": "/tmp", "options": ["rbind", o]}
            ]}))
            .unwrap();
            assert!(crate::spec::mounts::plan_mounts(&spec, Path::new("/")).is_ok(), "{o}");
        }
    }
}
