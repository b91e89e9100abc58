//! `hull exec`: runc's flags turned into an OCI process, then the library's exec; in the
//! foreground hull stays with the process (signals, terminal) and exits with its status.

use std::path::PathBuf;

use clap::Args;
use libhull::{ExecOptions, Runtime};
use oci_spec::runtime::{Capability, Process};

use crate::log::Logger;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Unix socket that receives the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable)
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    tty: bool,
    /// UID (and optionally GID) as uid[:gid], numbers only
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Additional gids (repeatable)
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<String>,
    /// Path to a process.json (an OCI process) to run instead
    #[arg(short = 'p', long)]
    process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short = 'd', long)]
    detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// SELinux label for the process
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// AppArmor profile for the process
    #[arg(long)]
    apparmor: Option<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Add a capability (repeatable)
    #[arg(short = 'c', long = "cap")]
    cap: Vec<String>,
    /// Pass N more fds to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Run in a sub-cgroup of the container: [controller[,controller]:]path (repeatable)
    #[arg(long = "cgroup")]
    cgroup: Vec<String>,
    /// Allow exec into a paused container
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// The container id, then the command and its arguments (options end at the id)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "ID COMMAND")]
    rest: Vec<String>,
}

/// `-u uid[:gid]`: numbers only (a number is never looked up as a name, CVE-2016-3697);
/// a missing gid is 0.
pub fn parse_user(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("--user {s:?}: must be uid[:gid] with numeric ids");
    let num = |x: &str| -> Result<u32, String> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse::<u32>().map_err(|_| bad())
    };
    match s.split_once(':') {
        None => Ok((num(s)?, 0)),
        Some((u, g)) => Ok((num(u)?, num(g)?)),
    }
}

fn build_process(rt: &Runtime, id: &str, a: &ExecArgs, args: &[String]) -> Result<Process, String> {
    if let Some(path) = &a.process {
        let data = std::fs::read(path).map_err(|e| format!("--process {}: {e}", path.display()))?;
        let de = &mut serde_json::Deserializer::from_slice(&data);
        return serde_path_to_error::deserialize::<_, Process>(de)
            .map_err(|e| format!("--process {}: invalid JSON at {}: {}", path.display(), e.path(), e.inner()));
    }
    if args.is_empty() {
        return Err("exec: args must not be empty".into());
    }
    let (_, st, _) = rt.load(id).map_err(|e| e.to_string())?;
    let mut p = st.config.process().clone().unwrap_or_default();
    p.set_args(Some(args.to_vec()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        user.set_uid(uid);
        user.set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        let gids = a
            .additional_gids
            .iter()
            .map(|g| g.parse::<u32>().map_err(|_| format!("--additional-gids {g:?}: not a number")))
            .collect::<Result<Vec<_>, _>>()?;
        user.set_additional_gids(Some(gids));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for c in &a.cap {
            let name = c.to_ascii_uppercase();
            let cap: Capability =
                name.strip_prefix("CAP_").unwrap_or(&name).parse().map_err(|_| format!("--cap {c:?}: unknown capability"))?;
            // Bounding, effective and permitted only: never inheritable (CVE-2022-29162).
            for set in [caps.bounding().clone(), caps.effective().clone(), caps.permitted().clone()].iter_mut().enumerate() {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(l) = &a.apparmor {
        p.set_apparmor_profile(Some(l.clone()));
    }
    if let Some(l) = &a.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    Ok(p)
}

pub fn exec(rt: &Runtime, a: ExecArgs, logger: &Logger) -> Result<u8, String> {
    let id = a.rest[0].clone();
    let args = a.rest[1..].to_vec();
    let process = build_process(rt, &id, &a, &args)?;
    let opts = ExecOptions {
        console_socket: a.console_socket.clone(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        keep_console: !a.detach,
        sub_cgroups: a.cgroup.clone(),
        stdio: None,
    };
    if !a.detach {
        // As in `run`: blocked before the process exists, so no early signal is lost.
        crate::run::block_signals()?;
    }
    let execed = rt.exec(&id, &process, &opts).map_err(|e| e.to_string())?;
    if a.detach {
        return Ok(0);
    }
    crate::run::supervise(execed.pid, execed.console, logger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_parsing_is_numeric_only() {
        assert_eq!(parse_user("1"), Ok((1, 0)));
        assert_eq!(parse_user("1:2"), Ok((1, 2)));
        assert_eq!(parse_user("0"), Ok((0, 0)));
        for bad in [":1", "a", "1:", "-1", "4294967296", "1:a", "+1", ""] {
            assert!(parse_user(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
