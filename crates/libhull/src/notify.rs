//! notify: a container's OOM kills and memory pressure as blocking streams, for programs that
//! embed the library (what libcontainer offers as `NotifyOOM` and `NotifyMemoryPressure`).
//!
//! No async runtime and no thread: a stream is an iterator whose `next()` blocks until the next
//! event and ends (`None`) when the container stops or its cgroup is removed. `recv_timeout`
//! waits at most a given time, for callers with their own loop.
//!
//! How the kernel tells:
//! - OOM kills: as `events` sees them (`events::OomWatcher`): cgroup v1 through an eventfd
//!   registered on `memory.oom_control`, cgroup v2 from the `oom_kill` counter of
//!   `memory.events`.
//! - Memory pressure, cgroup v1: an eventfd registered on `memory.pressure_level` with the
//!   level through `cgroup.event_control` (the kernel's memory.pressure_level API: "low" when
//!   the cgroup reclaims, "medium" when it swaps or reclaims hard, "critical" when close to OOM).
//! - Memory pressure, cgroup v2: a PSI trigger written to the cgroup's `memory.pressure` and
//!   polled for POLLPRI (the kernel's psi.rst). v2 has no levels, so each level is a stall
//!   threshold over a one-second window; see `PressureLevel::psi_trigger`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::cgroups::CgroupManager;
use crate::events::{OomWatcher, Wake};
use crate::state::{self, Status};
use crate::{Error, Runtime};

/// How often a blocked stream checks that the container still runs.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// One event of a memory notification stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryEvent {
    /// The kernel's OOM killer killed a process of the container (one or more times since the
    /// last event).
    Oom,
    /// The container's memory pressure reached the level the stream was opened for.
    Pressure(PressureLevel),
}

/// A memory pressure level, as cgroup v1's `memory.pressure_level` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PressureLevel {
    /// The cgroup reclaims memory to make room for new allocations.
    Low,
    /// The cgroup reclaims hard (swaps, evicts the working set).
    Medium,
    /// The cgroup is about to run out of memory.
    Critical,
}

impl PressureLevel {
    /// The word cgroup v1 takes.
    pub fn as_str(self) -> &'static str {
        match self {
            PressureLevel::Low => "low",
            PressureLevel::Medium => "medium",
            PressureLevel::Critical => "critical",
        }
    }

    /// The PSI trigger that stands for this level on cgroup v2 (psi.rst: `some|full STALL_US
    /// WINDOW_US`): some task stalled on memory for 5% of a two-second window (low) or 15%
    /// (medium), or every task stalled for 10% of it (critical: nothing runs, it all waits for
    /// memory). Two seconds because a caller without CAP_SYS_RESOURCE may only use windows
    /// that are multiples of 2 s (the kernel refuses a 1 s window with EINVAL then).
    pub fn psi_trigger(self) -> &'static str {
        match self {
            PressureLevel::Low => "some 100000 2000000",
            PressureLevel::Medium => "some 300000 2000000",
            PressureLevel::Critical => "full 200000 2000000",
        }
    }
}

/// A blocking stream of a container's memory events: an iterator that yields each event and
/// ends when the container stops. Made by `Runtime::oom_notifications` or
/// `Runtime::memory_pressure_notifications`.
pub struct MemoryNotifications {
    source: Source,
    /// The container's init, identified by pid and start time (a reused pid is not it).
    init: (i32, u64),
    ended: bool,
}

enum Source {
    Oom(OomWatcher),
    Pressure(PressureWatcher),
}

impl MemoryNotifications {
    /// Waits at most `timeout` for the next event. `Ok(None)`: nothing within the timeout, or
    /// the stream has ended (see `ended`).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<MemoryEvent>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.ended {
                return Ok(None);
            }
            let slice = deadline.saturating_duration_since(Instant::now()).min(CHECK_EVERY);
            let got = match &mut self.source {
                Source::Oom(w) => match w.wait(slice)? {
                    Wake::Oom => Some(MemoryEvent::Oom),
                    Wake::Gone => {
                        self.ended = true;
                        None
                    }
                    Wake::Timeout => None,
                },
                Source::Pressure(w) => match w.wait(slice)? {
                    PressureWake::Event(level) => Some(MemoryEvent::Pressure(level)),
                    PressureWake::Gone => {
                        self.ended = true;
                        None
                    }
                    PressureWake::Timeout => None,
                },
            };
            if got.is_some() {
                return Ok(got);
            }
            // An event that came with the end is delivered above; after that, the end.
            if !state::process_alive(self.init.0, self.init.1) {
                self.ended = true;
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// True once the container has stopped (or its cgroup is gone): no more events come.
    pub fn ended(&self) -> bool {
        self.ended
    }
}

impl Iterator for MemoryNotifications {
    type Item = Result<MemoryEvent, Error>;

    /// Blocks until the next event; `None` when the container has stopped.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.recv_timeout(Duration::from_secs(3600)) {
                Ok(Some(ev)) => return Some(Ok(ev)),
                Ok(None) if self.ended => return None,
                Ok(None) => {}
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// What a wait on a pressure watcher saw.
enum PressureWake {
    Event(PressureLevel),
    Timeout,
    Gone,
}

/// Notices a memory pressure level in a container's memory cgroup.
struct PressureWatcher {
    level: PressureLevel,
    kind: PressureKind,
}

enum PressureKind {
    V1 {
        efd: EventFd,
        /// Kept open: the registration refers to it.
        _pressure_level: File,
        event_control: PathBuf,
    },
    V2 {
        /// `memory.pressure` with the trigger written to it; the trigger lives as long as the
        /// file is open.
        trigger: File,
    },
}

fn io_err(path: &Path, e: io::Error) -> Error {
    Error::Other(format!("{}: {e}", path.display()))
}

impl PressureWatcher {
    fn new(cg: &CgroupManager, level: PressureLevel) -> Result<PressureWatcher, Error> {
        if cg.is_unified() {
            let dir = cg.paths.get("").ok_or_else(|| Error::Other("the container has no cgroup v2 directory".into()))?;
            let path = dir.join("memory.pressure");
            if !path.exists() {
                return Err(Error::Other(format!(
                    "{} does not exist: the kernel has no pressure stall information (PSI; boot with psi=1)",
                    path.display()
                )));
            }
            let mut trigger = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| io_err(&path, e))?;
            // psi.rst: the trigger is the whole write, NUL included.
            let mut text = level.psi_trigger().as_bytes().to_vec();
            text.push(0);
            trigger.write_all(&text).map_err(|e| io_err(&path, e))?;
            return Ok(PressureWatcher { level, kind: PressureKind::V2 { trigger } });
        }
        let dir = cg
            .paths
            .get("memory")
            .ok_or_else(|| Error::Other("the container has no memory cgroup (the v1 memory controller is not mounted)".into()))?;
        let path = dir.join("memory.pressure_level");
        let pressure_level = File::open(&path).map_err(|e| io_err(&path, e))?;
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(|e| Error::Other(format!("eventfd: {e}")))?;
        let event_control = dir.join("cgroup.event_control");
        // "<eventfd> <fd of memory.pressure_level> <level>": the kernel's v1 notification API.
        let line = format!("{} {} {}", efd.as_fd().as_raw_fd(), pressure_level.as_raw_fd(), level.as_str());
        OpenOptions::new()
            .write(true)
            .open(&event_control)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| io_err(&event_control, e))?;
        Ok(PressureWatcher { level, kind: PressureKind::V1 { efd, _pressure_level: pressure_level, event_control } })
    }

    fn wait(&mut self, timeout: Duration) -> Result<PressureWake, Error> {
        let ms = PollTimeout::from(u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX));
        match &mut self.kind {
            PressureKind::V1 { efd, event_control, .. } => {
                let mut pfd = [PollFd::new(efd.as_fd(), PollFlags::POLLIN)];
                match nix::poll::poll(&mut pfd, ms) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(PressureWake::Timeout),
                    Ok(_) => {}
                    Err(e) => return Err(Error::Other(format!("poll on the memory pressure eventfd: {e}"))),
                }
                match efd.read() {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EAGAIN) => return Ok(PressureWake::Timeout),
                    Err(e) => return Err(Error::Other(format!("reading the memory pressure eventfd: {e}"))),
                }
                // The kernel also signals when the cgroup is removed.
                if !event_control.exists() {
                    return Ok(PressureWake::Gone);
                }
                Ok(PressureWake::Event(self.level))
            }
            PressureKind::V2 { trigger } => {
                let mut pfd = [PollFd::new(trigger.as_fd(), PollFlags::POLLPRI)];
                match nix::poll::poll(&mut pfd, ms) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(PressureWake::Timeout),
                    Ok(_) => {
                        let got = pfd[0].revents().unwrap_or(PollFlags::empty());
                        // POLLERR: the cgroup was removed under the open file.
                        if got.contains(PollFlags::POLLERR) {
                            Ok(PressureWake::Gone)
                        } else if got.contains(PollFlags::POLLPRI) {
                            Ok(PressureWake::Event(self.level))
                        } else {
                            Ok(PressureWake::Timeout)
                        }
                    }
                    Err(e) => Err(Error::Other(format!("poll on memory.pressure: {e}"))),
                }
            }
        }
    }
}

impl Runtime {
    /// A stream of the OOM kills in container `id` (libcontainer's `NotifyOOM`): each time the
    /// kernel's OOM killer acts in the container's memory cgroup, the stream yields
    /// `MemoryEvent::Oom`. Kills before this call are not reported. The container must be
    /// running (or created, or paused) and have a memory cgroup.
    pub fn oom_notifications(&self, id: &str) -> Result<MemoryNotifications, Error> {
        let (st, init) = self.live_cgroup(id)?;
        let has_memory = if st.is_unified() {
            st.paths.get("").is_some_and(|d| d.join("memory.events").exists())
        } else {
            st.paths.contains_key("memory")
        };
        if !has_memory {
            return Err(Error::Other(format!("container {id} has no memory cgroup: no OOM notifications")));
        }
        Ok(MemoryNotifications { source: Source::Oom(OomWatcher::new(&st)?), init, ended: false })
    }

    /// A stream of memory pressure events of container `id` at `level` or above
    /// (libcontainer's `NotifyMemoryPressure`). On cgroup v1 through `memory.pressure_level`, on
    /// cgroup v2 through a PSI trigger on `memory.pressure` (see `PressureLevel::psi_trigger`;
    /// an error when the kernel has no PSI).
    pub fn memory_pressure_notifications(&self, id: &str, level: PressureLevel) -> Result<MemoryNotifications, Error> {
        let (st, init) = self.live_cgroup(id)?;
        Ok(MemoryNotifications { source: Source::Pressure(PressureWatcher::new(&st, level)?), init, ended: false })
    }

    /// The cgroups and the init (pid, start time) of a container that has not stopped.
    fn live_cgroup(&self, id: &str) -> Result<(CgroupManager, (i32, u64)), Error> {
        let (_, st, status) = self.load(id)?;
        if status == Status::Stopped {
            return Err(Error::Other(format!("container with id {id} is not running")));
        }
        Ok((st.cgroup, (st.init_process_pid, st.init_process_start)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_triggers() {
        assert_eq!(PressureLevel::Medium.as_str(), "medium");
        assert!(PressureLevel::Low < PressureLevel::Critical);
        for l in [PressureLevel::Low, PressureLevel::Medium, PressureLevel::Critical] {
            let t: Vec<&str> = l.psi_trigger().split(' ').collect();
            assert!(t[0] == "some" || t[0] == "full");
            let (stall, window): (u64, u64) = (t[1].parse().unwrap(), t[2].parse().unwrap());
            // psi.rst: the window is 500 ms to 10 s (a multiple of 2 s without
            // CAP_SYS_RESOURCE) and the stall fits in it.
            assert!((500_000..=10_000_000).contains(&window) && window % 2_000_000 == 0 && stall < window, "{l:?}");
        }
    }

    /// A fake v2 cgroup without memory.pressure: a clear error, not a stream that never fires.
    #[test]
    fn v2_without_psi_is_an_error() {
        let dir = std::env::temp_dir().join(format!("hull-psi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cg = CgroupManager { paths: [(String::new(), dir.clone())].into_iter().collect(), created: Vec::new(), systemd: None };
        let err = PressureWatcher::new(&cg, PressureLevel::Low).err().expect("refused").to_string();
        assert!(err.contains("memory.pressure") && err.contains("PSI"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// cgroup v2 on the real kernel: the PSI trigger is accepted, fires while a process of
    /// the cgroup thrashes its page cache under a 16 MiB limit, and the stream sees the cgroup
    /// go. On a hybrid host the v2 directory is in /sys/fs/cgroup/unified (PSI counts there)
    /// and the limit is the v1 memory controller's.
    #[test]
    fn v2_psi_trigger_fires_under_reclaim() {
        use std::path::Path;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: needs root (cgroups)");
            return;
        }
        let tag = format!("hull-notify-test-{}", std::process::id());
        let hybrid = Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists();
        let v2_root = if hybrid { Path::new("/sys/fs/cgroup/unified") } else { Path::new("/sys/fs/cgroup") };
        assert!(v2_root.join("cgroup.procs").exists(), "no cgroup v2 hierarchy at {}", v2_root.display());
        let dir = v2_root.join(&tag);
        std::fs::create_dir(&dir).unwrap();
        let v1_memory = Path::new("/sys/fs/cgroup/memory").join(&tag);
        let limit = (16u64 << 20).to_string();
        if hybrid {
            std::fs::create_dir(&v1_memory).unwrap();
            std::fs::write(v1_memory.join("memory.limit_in_bytes"), &limit).unwrap();
        } else {
            std::fs::write(dir.join("memory.max"), &limit).expect("memory.max (the memory controller enabled at the root)");
        }
        let cg = CgroupManager { paths: [(String::new(), dir.clone())].into_iter().collect(), created: Vec::new(), systemd: None };
        let mut w = PressureWatcher::new(&cg, PressureLevel::Low).expect("the PSI trigger is accepted");
        assert!(matches!(w.wait(Duration::from_millis(10)).unwrap(), PressureWake::Timeout));

        let file = std::env::temp_dir().join(format!("{tag}.data"));
        let mut join = format!("echo $$ > {}/cgroup.procs", dir.display());
        if hybrid {
            join += &format!("; echo $$ > {}/cgroup.procs", v1_memory.display());
        }
        let script =
            format!("{join}; for i in 1 2 3 4 5 6 7 8; do dd if=/dev/zero of={} bs=1M count=128 2>/dev/null; sync; done", file.display());
        let mut child = std::process::Command::new("sh").args(["-c", &script]).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = None;
        while seen.is_none() && Instant::now() < deadline {
            if let PressureWake::Event(l) = w.wait(Duration::from_millis(200)).unwrap() {
                seen = Some(l);
            }
        }
        // Every process of the cgroup (the shell and its dd), then the directories.
        std::fs::write(dir.join("cgroup.kill"), "1").unwrap();
        let _ = child.wait();
        for _ in 0..250 {
            if std::fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty()) && std::fs::remove_dir(&dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&file);
        if hybrid {
            let _ = std::fs::remove_dir(&v1_memory);
        }
        assert_eq!(seen, Some(PressureLevel::Low), "no PSI event within 60 s of page-cache thrashing under a 16 MiB limit");
        assert!(!dir.exists(), "{} left behind", dir.display());
        assert!(matches!(w.wait(Duration::from_millis(100)).unwrap(), PressureWake::Gone), "the removed cgroup ends the watch");
    }
}
