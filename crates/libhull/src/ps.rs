//! ps: a container's processes as its cgroup sees them: listing them (`ps`) and signalling
//! every one of them (`kill --all`, `delete --force`).

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroups::CgroupManager;
use crate::{Error, Runtime};

impl Runtime {
    /// The host pids of every process in the container's cgroup (and its child cgroups),
    /// sorted. A stopped container has none, except stragglers of one without its own PID
    /// namespace.
    pub fn processes(&self, id: &str) -> Result<Vec<i32>, Error> {
        let (_, st, status) = self.load(id)?;
        if st.cgroup.paths.is_empty() {
            // A rootless container without a delegated cgroup: its processes are those in the
            // init's PID namespace (or the init alone, without one).
            if status == crate::Status::Stopped {
                return Ok(Vec::new());
            }
            return Ok(same_pid_namespace(st.init_process_pid));
        }
        Ok(st.cgroup.pids()?)
    }
}

/// The pids (host view) of every process in the PID namespace of `init`, sorted; just `init`
/// when it shares the caller's PID namespace.
fn same_pid_namespace(init: i32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ns = |pid: &str| std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok().map(|m| (m.dev(), m.ino()));
    let target = ns(&init.to_string());
    if target.is_none() || target == ns("self") {
        return vec![init];
    }
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|p| ns(&p.to_string()) == target)
        .collect();
    out.sort_unstable();
    out
}

/// Sends `sig` to every process in the cgroup.
///
/// SIGKILL on cgroup v2 is one write to `cgroup.kill` (see `CgroupManager::kill_all`), as runc
/// does. Otherwise the cgroup is frozen while its pids are read and signalled, so that no process forks a
/// child the walk would miss (runc does the same). It is thawed again afterwards, unless it
/// was paused before; a paused container is thawed too when `sig` is SIGKILL, since a
/// process frozen by the v1 freezer does not die before it is thawed. A failed freeze
/// (e.g. processes forking too fast) does not stop the signals.
pub(crate) fn signal_all(cg: &CgroupManager, sig: i32) -> Result<(), Error> {
    if sig == libc::SIGKILL && cg.kill_all()? {
        return Ok(());
    }
    // An empty cgroup (the usual case at delete: the init was alone in its PID namespace) has
    // nothing to signal, and freezing it costs a v1 freezer the kernel's static-key switch
    // (text patching with an IPI to every CPU) on the way in and out.
    if cg.pids().is_ok_and(|p| p.is_empty()) {
        return Ok(());
    }
    let was_frozen = cg.is_frozen().unwrap_or(false);
    let froze = !was_frozen && cg.freeze().is_ok();
    let signal = Signal::try_from(sig).ok();
    let pids = cg.pids();
    if let Ok(pids) = &pids {
        for &pid in pids {
            // A process that exited meanwhile (ESRCH) is fine.
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
    if froze || (was_frozen && sig == libc::SIGKILL) {
        let _ = cg.thaw();
    }
    pids.map(|_| ()).map_err(Error::from)
}
