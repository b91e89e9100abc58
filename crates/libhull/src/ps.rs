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
        let (_, st, _) = self.load(id)?;
        Ok(st.cgroup.pids()?)
    }
}

/// Sends `sig` to every process in the cgroup.
///
/// The cgroup is frozen while its pids are read and signalled, so that no process forks a
/// child the walk would miss (runc does the same). It is thawed again afterwards, unless it
/// was paused before; a paused container is thawed too when `sig` is SIGKILL, since a
/// process frozen by the v1 freezer does not die before it is thawed. A failed freeze
/// (e.g. processes forking too fast) does not stop the signals.
pub(crate) fn signal_all(cg: &CgroupManager, sig: i32) -> Result<(), Error> {
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
