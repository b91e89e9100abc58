//! events: a container's stats once (`events --stats`) or as a stream (`events`): a stats event
//! every interval and an `oom` event whenever the kernel's OOM killer acts in the container's
//! memory cgroup, until the container stops. The JSON is runc's (`types.Event`).
//!
//! OOM kills are seen the way runc sees them: on cgroup v1 through an eventfd registered on
//! `memory.oom_control` with `cgroup.event_control` (the kernel signals it on every OOM in the
//! cgroup, and once more when the cgroup is removed); on cgroup v2 from the `oom_kill` counter
//! of `memory.events`, polled.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupManager;
use crate::state::{self, Status};
use crate::stats::{self, Stats};
use crate::{Error, Runtime};

/// How often a stream checks that the container still runs (and, on v2, for OOM kills).
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// One line of `events` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// "stats" or "oom".
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

impl Event {
    pub fn stats(id: &str, s: Stats) -> Event {
        Event { kind: "stats".into(), id: id.into(), data: Some(s) }
    }

    pub fn oom(id: &str) -> Event {
        Event { kind: "oom".into(), id: id.into(), data: None }
    }
}

/// What a wait on an `OomWatcher` saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The OOM killer acted (one or more times) in the cgroup.
    Oom,
    /// Nothing within the timeout.
    Timeout,
    /// The memory cgroup is gone (the container was deleted).
    Gone,
}

/// Notices OOM kills in a container's memory cgroup.
pub struct OomWatcher {
    kind: Watch,
}

enum Watch {
    V1 {
        efd: EventFd,
        /// Kept open: the registration refers to it.
        _oom_control: File,
        event_control: PathBuf,
    },
    V2 {
        events: PathBuf,
        seen: u64,
    },
    /// No memory controller: no OOM events (runc refuses to stream then; hull still streams
    /// the stats).
    Nothing,
}

impl OomWatcher {
    /// Registers for the OOM notifications of the container's memory cgroup.
    pub fn new(cg: &CgroupManager) -> Result<OomWatcher, Error> {
        let io_err = |path: &Path, e: io::Error| Error::Other(format!("{}: {e}", path.display()));
        if cg.is_unified() {
            let Some(dir) = cg.paths.get("") else {
                return Ok(OomWatcher { kind: Watch::Nothing });
            };
            let events = dir.join("memory.events");
            if !events.exists() {
                return Ok(OomWatcher { kind: Watch::Nothing });
            }
            let seen = oom_kills(&events).map_err(|e| io_err(&events, e))?;
            return Ok(OomWatcher { kind: Watch::V2 { events, seen } });
        }
        let Some(dir) = cg.paths.get("memory") else {
            return Ok(OomWatcher { kind: Watch::Nothing });
        };
        let oom_control_path = dir.join("memory.oom_control");
        let oom_control = File::open(&oom_control_path).map_err(|e| io_err(&oom_control_path, e))?;
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(|e| Error::Other(format!("eventfd: {e}")))?;
        let event_control = dir.join("cgroup.event_control");
        // "<eventfd> <fd of the file to watch>": the kernel's v1 notification API.
        let line = format!("{} {}", efd.as_fd().as_raw_fd(), oom_control.as_raw_fd());
        fs::OpenOptions::new()
            .write(true)
            .open(&event_control)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| io_err(&event_control, e))?;
        Ok(OomWatcher { kind: Watch::V1 { efd, _oom_control: oom_control, event_control } })
    }

    /// Waits up to `timeout` for an OOM kill.
    pub fn wait(&mut self, timeout: Duration) -> Result<Wake, Error> {
        match &mut self.kind {
            Watch::Nothing => {
                std::thread::sleep(timeout);
                Ok(Wake::Timeout)
            }
            Watch::V2 { events, seen } => {
                std::thread::sleep(timeout);
                let n = match oom_kills(events) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Wake::Gone),
                    Err(e) => return Err(Error::Other(format!("{}: {e}", events.display()))),
                };
                if n > *seen {
                    *seen = n;
                    return Ok(Wake::Oom);
                }
                Ok(Wake::Timeout)
            }
            Watch::V1 { efd, event_control, .. } => {
                let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
                let mut pfd = [nix::poll::PollFd::new(efd.as_fd(), nix::poll::PollFlags::POLLIN)];
                match nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(Wake::Timeout),
                    Ok(_) => {}
                    Err(e) => return Err(Error::Other(format!("poll on the OOM eventfd: {e}"))),
                }
                match efd.read() {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EAGAIN) => return Ok(Wake::Timeout),
                    Err(e) => return Err(Error::Other(format!("reading the OOM eventfd: {e}"))),
                }
                // The kernel also signals when the cgroup is removed.
                if !event_control.exists() {
                    return Ok(Wake::Gone);
                }
                Ok(Wake::Oom)
            }
        }
    }
}

/// The `oom_kill` counter of a cgroup v2 `memory.events`.
fn oom_kills(events: &Path) -> io::Result<u64> {
    let text = fs::read_to_string(events)?;
    Ok(text.lines().filter_map(|l| l.strip_prefix("oom_kill ")).find_map(|v| v.trim().parse().ok()).unwrap_or(0))
}

impl Runtime {
    /// The container's resource usage now (`events --stats`).
    pub fn stats(&self, id: &str) -> Result<Stats, Error> {
        let (_, st, status) = self.load(id)?;
        if status == Status::Stopped {
            return Err(Error::Other(format!("container with id {id} is not running")));
        }
        stats::collect(&st.cgroup).map_err(|e| Error::Other(format!("unable to get container cgroup stats: {e}")))
    }

    /// Streams the container's events to `emit` (`events`): stats every `interval`, OOM kills
    /// as they happen. Returns when the container has stopped or was deleted, or with the
    /// first error of `emit`.
    pub fn events(&self, id: &str, interval: Duration, emit: &mut dyn FnMut(&Event) -> Result<(), Error>) -> Result<(), Error> {
        if interval.is_zero() {
            return Err(Error::Other("duration interval must be greater than 0".into()));
        }
        let (_, st, status) = self.load(id)?;
        if status == Status::Stopped {
            return Err(Error::Other(format!("container with id {id} is not running")));
        }
        let alive = || state::process_alive(st.init_process_pid, st.init_process_start);
        let mut oom = OomWatcher::new(&st.cgroup)?;
        let mut next = Instant::now() + interval;
        loop {
            if !alive() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= next {
                match stats::collect(&st.cgroup) {
                    Ok(s) => emit(&Event::stats(id, s))?,
                    // The cgroup went away with the container.
                    Err(_) if !alive() => return Ok(()),
                    Err(e) => return Err(Error::Other(format!("unable to get container cgroup stats: {e}"))),
                }
                next += interval;
                // A slow reader does not get a burst of stale ticks.
                if next <= now {
                    next = now + interval;
                }
            }
            let wait = next.saturating_duration_since(Instant::now()).min(CHECK_EVERY);
            match oom.wait(wait)? {
                Wake::Oom => emit(&Event::oom(id))?,
                Wake::Gone => return Ok(()),
                Wake::Timeout => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_like_runc() {
        let oom = serde_json::to_string(&Event::oom("c1")).unwrap();
        assert_eq!(oom, r#"{"type":"oom","id":"c1"}"#);
        let st = serde_json::to_value(Event::stats("c1", Stats::default())).unwrap();
        assert_eq!(st["type"], "stats");
        assert_eq!(st["id"], "c1");
        assert!(st["data"]["cpu"].is_object());
    }

    /// cgroup v2: a rise of memory.events' oom_kill is one OOM event; the file going away
    /// (the cgroup removed) ends the watch. A fake directory stands in for the cgroup.
    #[test]
    fn v2_watcher_sees_oom_kills() {
        let dir = std::env::temp_dir().join(format!("hull-oom-v2-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        let cg = CgroupManager { paths: [(String::new(), dir.clone())].into_iter().collect(), ..Default::default() };
        let mut w = OomWatcher::new(&cg).unwrap();
        let t = Duration::from_millis(1);
        // Kills before the watch started are not reported.
        assert_eq!(w.wait(t).unwrap(), Wake::Timeout);
        fs::write(dir.join("memory.events"), "oom 3\noom_kill 3\n").unwrap();
        assert_eq!(w.wait(t).unwrap(), Wake::Oom);
        assert_eq!(w.wait(t).unwrap(), Wake::Timeout);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(w.wait(t).unwrap(), Wake::Gone);
    }

    #[test]
    fn oom_kill_counter() {
        let p = std::env::temp_dir().join(format!("hull-memory-events-{}", std::process::id()));
        fs::write(&p, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n").unwrap();
        assert_eq!(oom_kills(&p).unwrap(), 2);
        fs::write(&p, "low 0\n").unwrap();
        assert_eq!(oom_kills(&p).unwrap(), 0);
        fs::remove_file(&p).unwrap();
    }
}
