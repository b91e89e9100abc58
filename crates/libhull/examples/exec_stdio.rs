//! Processes with their own stdio: a container whose output is read from a pipe, and
//! processes run in a running container (`exec`) with their stdin and stdout on pipes.
//!
//! ```sh
//! sudo cargo run -p libhull --example exec_stdio
//! ```

mod common;

use std::io::Write as _;

use common::{check, dev_null, pipe, read_all, wait_exit, Result, Scratch};
use libhull::{CreateOptions, ExecOptions, Stdio};

fn main() -> Result {
    let s = Scratch::new("exec")?;
    let rt = &s.runtime;

    // The container's own process writes to a pipe this program reads.
    let id = s.id("echo");
    let bundle = s.bundle("echo", &["sh", "-c", "echo hello from the init"], |_| {})?;
    let (out_r, out_w) = pipe()?;
    let opts = CreateOptions { stdio: Some(Stdio::new(dev_null()?, out_w, dev_null()?)), ..Default::default() };
    let created = rt.create(&id, &bundle, &opts)?;
    // The container holds the write end now; ours goes, so the read sees EOF when it exits.
    drop(opts);
    rt.start(&id)?;
    let out = read_all(out_r)?;
    check(wait_exit(created.pid)? == 0, "the init exited 0")?;
    check(out == "hello from the init\n", format!("the init's stdout came through the pipe: {out:?}"))?;
    rt.delete(&id, false)?;

    // exec: `cat` in a running container, fed through a pipe, its output read from another.
    let id = s.id("sleeper");
    let bundle = s.bundle("sleeper", &["sleep", "1000"], |_| {})?;
    rt.create(&id, &bundle, &CreateOptions::default())?;
    rt.start(&id)?;
    let config: oci_spec::runtime::Spec = serde_json::from_slice(&std::fs::read(bundle.join("config.json"))?)?;
    let mut process = config.process().clone().ok_or("the bundle has a process")?;
    process.set_args(Some(vec!["sh".into(), "-c".into(), "cat; echo exit=$?; ps -o pid,comm | grep -c sleep".into()]));
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let opts = ExecOptions { stdio: Some(Stdio::new(in_r, out_w, dev_null()?)), ..Default::default() };
    let execed = rt.exec(&id, &process, &opts)?;
    drop(opts);
    std::fs::File::from(in_w).write_all(b"ping\n")?;
    let out = read_all(out_r)?;
    check(wait_exit(execed.pid)? == 0, "the exec'd process exited 0")?;
    check(out == "ping\nexit=0\n1\n", format!("stdin reached it, its stdout came back, and it saw the init's sleep: {out:?}"))?;
    check(rt.processes(&id)?.len() == 1, "the exec'd process is gone from the container")?;
    Ok(())
}
