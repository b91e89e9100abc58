//! hooks: run the config's hooks with the container state on stdin and their timeout.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;
use serde::Serialize;

/// The OCI state a hook receives on stdin.
#[derive(Debug, Clone, Serialize)]
pub struct HookState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub status: String,
    pub pid: i32,
    pub bundle: String,
    #[serde(skip_serializing_if = "std::collections::HashMap::is_empty")]
    pub annotations: std::collections::HashMap<String, String>,
}

/// A hook that failed; `field` is e.g. `hooks.prestart[0]`.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {path}: {reason}")]
pub struct HookError {
    pub field: String,
    pub path: String,
    pub reason: String,
}

/// Runs every hook of a list in order; the first failure stops the list.
pub fn run_hooks(kind: &str, hooks: Option<&Vec<Hook>>, state: &HookState) -> Result<(), HookError> {
    let Some(hooks) = hooks else { return Ok(()) };
    let input = serde_json::to_vec(state).unwrap_or_default();
    for (i, h) in hooks.iter().enumerate() {
        run_hook(h, &input).map_err(|reason| HookError {
            field: format!("hooks.{kind}[{i}]"),
            path: h.path().display().to_string(),
            reason,
        })?;
    }
    Ok(())
}

fn run_hook(h: &Hook, input: &[u8]) -> Result<(), String> {
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args() {
        if let Some(a0) = args.first() {
            cmd.arg0(a0);
        }
        cmd.args(args.iter().skip(1));
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(input);
    }
    let deadline = h.timeout().map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                let out = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string()).unwrap_or_default();
                return Err(format!("{status}{}", if out.is_empty() { String::new() } else { format!(": {out}") }));
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s and was killed", h.timeout().unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
