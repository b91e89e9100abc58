//! A time-bounded fuzz run of hull's parsers on the stable toolchain, as part of `cargo test`
//! (and so of CI). Each target of `libhull::fuzz` gets the inputs found by earlier runs
//! (`fuzz/regressions/<target>/`, every file, every run), then mutations of its seeds for its
//! share of the time budget. Mutations work on bytes (bit flips, interesting numbers and
//! strings, splices, cuts) and, for JSON inputs, on the parsed tree (a node replaced by a value of
//! another type, an extreme number, a huge or hostile string, deep nesting). A panic fails the
//! test and writes the input to `$CARGO_TARGET_TMPDIR/fuzz-failures/`: fix the panic and keep
//! the input in `fuzz/regressions/<target>/`.
//!
//! The same targets run under libFuzzer's coverage guidance with cargo-fuzz (fuzz/README.md);
//! this run has no coverage feedback, so it is a floor, not a replacement.
//!
//! Environment: `HULL_FUZZ_SECONDS` (the whole run, default 30), `HULL_FUZZ_SEED` (a u64, to
//! replay a run; the seed used is printed).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// xorshift64*: small, fast, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn word(&mut self, v: &[&'static str]) -> &'static str {
        v[self.below(v.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e309",
    "-0",
    "0.5",
    "1e-7",
];

const STRINGS: &[&str] = &[
    "",
    "/",
    "..",
    "../../../../etc",
    "/proc/self/attr/exec",
    "/proc",
    "/dev/null",
    "a\u{0}b",
    "\n",
    " ",
    "\\",
    "%s%n",
    "\u{ffff}",
    "é",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_ERRNO",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_ARCH_X86_64",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "rbind",
    "bind",
    "tmpfs",
    "proc",
    "cgroup",
    "rprivate",
    "mode=1777",
    "user",
    "pid",
    "mount",
    "RLIMIT_NOFILE",
    "CAP_SYS_ADMIN",
    "memory.max",
    "kernel.shmmax",
    "net.ipv4.ip_forward",
    "exec",
    "mkdir",
];

/// A value that JSON-mutation drops into a tree.
fn random_value(r: &mut Rng, depth: usize) -> Value {
    match r.below(10) {
        0 => Value::Null,
        1 => Value::Bool(r.chance(2)),
        2 | 3 => serde_json::from_str(r.word(NUMBERS)).unwrap_or(Value::Null),
        4 => Value::String(r.word(STRINGS).to_string()),
        5 => Value::String("x".repeat([1, 64, 4096, 70_000][r.below(4)])),
        6 => Value::String(format!("/{}", "a/".repeat(r.below(2000)))),
        7 if depth < 4 => Value::Array((0..r.below(4)).map(|_| random_value(r, depth + 1)).collect()),
        8 if depth < 4 => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(4) {
                m.insert(r.word(STRINGS).to_string(), random_value(r, depth + 1));
            }
            Value::Object(m)
        }
        _ => {
            // Deep nesting: parsers must not overflow the stack.
            let mut v = Value::Null;
            for _ in 0..r.below(200) {
                v = json!([v]);
            }
            v
        }
    }
}

/// Counts the nodes of a tree.
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Calls `f` on the `n`-th node (pre-order) of a tree; false if there is none.
fn with_nth(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| with_nth(c, n, f)),
        Value::Object(o) => o.values_mut().any(|c| with_nth(c, n, f)),
        _ => false,
    }
}

/// One structural mutation of a JSON tree.
fn mutate_json(r: &mut Rng, v: &mut Value) {
    let mut i = r.below(count(v));
    with_nth(v, &mut i, &mut |node| mutate_node(r, node));
}

fn mutate_node(r: &mut Rng, node: &mut Value) {
    match r.below(8) {
        0..=2 => *node = random_value(r, 0),
        3 => {
            if let Value::Object(o) = node {
                if !o.is_empty() {
                    let k = o.keys().nth(r.below(o.len())).cloned().unwrap_or_default();
                    o.remove(&k);
                }
            }
        }
        4 => {
            if let Value::Array(a) = node {
                if !a.is_empty() {
                    let c = a[r.below(a.len())].clone();
                    for _ in 0..1 + r.below(3) {
                        a.push(c.clone());
                    }
                }
            }
        }
        5 => {
            if let Value::Object(o) = node {
                o.insert(r.word(STRINGS).to_string(), random_value(r, 1));
            }
        }
        6 => {
            if let Value::String(s) = node {
                s.push_str(r.word(STRINGS));
            }
        }
        _ => {
            if let Value::Number(_) = node {
                *node = serde_json::from_str(r.word(NUMBERS)).unwrap_or(Value::Null);
            }
        }
    }
}

/// One byte-level mutation.
fn mutate_bytes(r: &mut Rng, b: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let at = |r: &mut Rng, b: &Vec<u8>| r.below(b.len() + 1);
    match r.below(7) {
        0 if !b.is_empty() => {
            let i = r.below(b.len());
            b[i] ^= 1 << r.below(8);
        }
        1 if !b.is_empty() => {
            let i = r.below(b.len());
            b[i] = *r.pick(&[0u8, 0xff, b'\n', b'\\', b'"', b' ', b'-', b'0', b'9', 0x80]);
        }
        2 => {
            let i = at(r, b);
            let s = if r.chance(2) { r.word(NUMBERS).as_bytes() } else { r.word(STRINGS).as_bytes() };
            b.splice(i..i, s.iter().copied());
        }
        3 if !b.is_empty() => {
            let i = r.below(b.len());
            let n = r.below((b.len() - i).min(64) + 1);
            b.drain(i..i + n);
        }
        4 if !b.is_empty() => {
            let i = r.below(b.len());
            let n = r.below((b.len() - i).min(256) + 1);
            let piece: Vec<u8> = b[i..i + n].to_vec();
            let j = at(r, b);
            b.splice(j..j, piece);
        }
        5 => {
            let other = r.pick(seeds);
            if !other.is_empty() {
                let i = r.below(other.len());
                let n = r.below(other.len() - i + 1);
                let j = at(r, b);
                b.splice(j..j, other[i..i + n].iter().copied());
            }
        }
        _ => {
            let i = at(r, b);
            b.truncate(i);
        }
    }
}

type Run<'a> = Box<dyn Fn(&[u8]) + 'a>;

/// A fuzz target: its name, whether its input is JSON, its seeds, and the call.
struct Target<'a> {
    name: &'static str,
    json: bool,
    seeds: Vec<Vec<u8>>,
    run: Run<'a>,
}

fn regressions(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(name);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok().map(|d| (e.path(), d)))
        .collect();
    out.sort();
    out
}

/// Runs `input` through the target; the panic message if it panicked.
fn call(t: &Target<'_>, input: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| (t.run)(input)))
        .err()
        .map(|p| p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default())
}

fn save_failure(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let p = dir.join(format!("{name}-{h:016x}"));
    std::fs::write(&p, input).unwrap();
    p
}

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hull/tests/fixtures").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn fuzz_parsers_for_a_bounded_time() {
    let budget = Duration::from_secs(std::env::var("HULL_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30));
    let seed = std::env::var("HULL_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
    });
    println!("fuzz: seed {seed} (HULL_FUZZ_SEED={seed} replays), {}s in all", budget.as_secs());
    // Panics are caught and reported below; keep libtest's output readable meanwhile.
    std::panic::set_hook(Box::new(|_| {}));

    let bundle = std::env::temp_dir().join(format!("hull-fuzz-bundle-{}", std::process::id()));
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let config = libhull::spec::example::example_config(false).into_bytes();
    let rootless = libhull::spec::example::example_config(true).into_bytes();
    let mut full: Value = serde_json::from_slice(&config).unwrap();
    full["linux"]["seccomp"] = serde_json::from_slice(&fixture("docker-seccomp.json")).unwrap();
    full["linux"]["sysctl"] = json!({"kernel.shmmax": "1", "net.ipv4.ip_forward": "1"});
    full["linux"]["resources"] = json!({"memory": {"limit": 1_000_000, "swap": 2_000_000}, "pids": {"limit": 10},
        "cpu": {"shares": 512, "quota": 1000, "period": 100000, "cpus": "0-1"}, "devices": [{"allow": false, "access": "rwm"}]});
    full["hooks"] = json!({"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 1}]});
    full["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]);
    full["process"]["apparmorProfile"] = json!("p");
    let mountinfo = std::fs::read("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read("/proc/self/cgroup").unwrap_or_default();
    let mi_seed = |mi: &[u8], own: &[u8], path: &str| [mi, b"\0", own, b"\0", path.as_bytes()].concat();
    let unified = b"30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n".to_vec();
    let hybrid = b"30 1 0:26 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n31 1 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n32 1 0:28 /a\\040b /mnt/x\\134y rw - tmpfs t rw\n".to_vec();

    let targets = [
        Target {
            name: "config",
            json: true,
            seeds: vec![config.clone(), rootless, serde_json::to_vec(&full).unwrap()],
            run: Box::new(|d| libhull::fuzz::config(d, &bundle)),
        },
        Target {
            name: "seccomp",
            json: true,
            seeds: vec![
                fixture("docker-seccomp.json"),
                fixture("podman-seccomp.json"),
                serde_json::to_vec(&json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}, {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                    "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]}))
                .unwrap(),
            ],
            run: Box::new(libhull::fuzz::seccomp),
        },
        Target {
            name: "mountinfo",
            json: false,
            seeds: vec![
                mi_seed(&mountinfo, &own, "/a/b"),
                mi_seed(&unified, b"0::/user.slice/x\n", "rel/c"),
                mi_seed(&hybrid, b"4:memory:/a\n0::/b\n", ""),
            ],
            run: Box::new(libhull::fuzz::mountinfo),
        },
        Target {
            name: "id_map",
            json: false,
            seeds: vec![
                b"         0          0 4294967295\n".to_vec(),
                b"0 1000 1\n1 100000 65536\n".to_vec(),
                serde_json::to_vec(&json!([{"containerID": 0, "hostID": 1000, "size": 1}])).unwrap(),
            ],
            run: Box::new(libhull::fuzz::id_map),
        },
        Target {
            name: "sync_msg",
            json: true,
            seeds: vec![
                br#""Continue""#.to_vec(),
                br#"{"InitPid":42}"#.to_vec(),
                br#"{"Error":"linux.sysctl: x"}"#.to_vec(),
                br#""SeccompFd""#.to_vec(),
            ],
            run: Box::new(libhull::fuzz::sync_msg),
        },
    ];

    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    // Shares of the budget: the config and the seccomp compiler are the deep ones.
    let shares = [35, 30, 15, 10, 10];
    for (t, share) in targets.iter().zip(shares) {
        for (p, input) in regressions(t.name) {
            if let Some(msg) = call(t, &input) {
                failures.push(format!("{}: regression input {} panics again: {msg}", t.name, p.display()));
            }
        }
        let until = Instant::now() + budget * share / 100;
        let (mut runs, mut found) = (0u64, 0);
        while Instant::now() < until && found < 3 {
            let mut input = rng.pick(&t.seeds).clone();
            for _ in 0..1 + rng.below(4) {
                if t.json && rng.chance(2) {
                    if let Ok(mut v) = serde_json::from_slice::<Value>(&input) {
                        mutate_json(&mut rng, &mut v);
                        input = serde_json::to_vec(&v).unwrap_or(input);
                        continue;
                    }
                }
                mutate_bytes(&mut rng, &mut input, &t.seeds);
            }
            runs += 1;
            if let Some(msg) = call(t, &input) {
                found += 1;
                let p = save_failure(t.name, &input);
                failures.push(format!("{}: panic: {msg}\n  input ({} bytes) saved to {}", t.name, input.len(), p.display()));
            }
        }
        println!("fuzz: {}: {runs} inputs, {found} panics", t.name);
    }
    let _ = std::panic::take_hook();
    let _ = std::fs::remove_dir_all(&bundle);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
