//! pause: freezing every process of a container (`pause`) and thawing it again (`resume`)
//! with the cgroup freezer. The `paused` status is not recorded anywhere: `derive_status`
//! reads it from the freezer, so a container frozen or thawed behind hull's back shows as it
//! really is.

use crate::state::Status;
use crate::{Error, Runtime};

impl Runtime {
    /// Freezes a running (or created) container; anything else is "container not running",
    /// as in runc.
    pub fn pause(&self, id: &str) -> Result<(), Error> {
        let sd = self.dir(id)?;
        let _lock = crate::container::lock_existing(&sd)?;
        let (_, st, status) = self.load(id)?;
        match status {
            Status::Running | Status::Created => Ok(st.cgroup.freeze()?),
            _ => Err(Error::Other("container not running".into())),
        }
    }

    /// Thaws a paused container; anything else is "container not paused", as in runc.
    pub fn resume(&self, id: &str) -> Result<(), Error> {
        let sd = self.dir(id)?;
        let _lock = crate::container::lock_existing(&sd)?;
        let (_, st, status) = self.load(id)?;
        if status != Status::Paused {
            return Err(Error::Other("container not paused".into()));
        }
        Ok(st.cgroup.thaw()?)
    }
}
