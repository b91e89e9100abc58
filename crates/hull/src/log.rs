//! Logging as runc does it: `--log FILE` (default stderr), `--log-format text|json` (one JSON
//! object a line: level, msg, time), `--debug` for debug lines. Errors also go to stderr when
//! the log is a file, as callers read either.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

pub struct Logger {
    file: Option<File>,
    json: bool,
    debug: bool,
}

impl Logger {
    pub fn new(path: &str, format: &str, debug: bool) -> Result<Logger, String> {
        let json = match format {
            "text" => false,
            "json" => true,
            f => return Err(format!("invalid log-format: {f}")),
        };
        let file = if path.is_empty() {
            None
        } else {
            Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o644)
                    .custom_flags(libc::O_SYNC | libc::O_CLOEXEC)
                    .open(path)
                    .map_err(|e| format!("--log {path}: {e}"))?,
            )
        };
        Ok(Logger { file, json, debug })
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        if self.json {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        } else {
            format!("time={time:?} level={level} msg={msg:?}\n")
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let line = self.line(level, msg);
        match &self.file {
            Some(f) => {
                let _ = (&*f).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        if self.file.is_some() {
            eprintln!("{msg}");
        }
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    /// Routes the library's `log` records (debug notes, warnings) to the same output.
    pub fn install_for_library(&self) {
        let copy = Logger { file: self.file.as_ref().and_then(|f| f.try_clone().ok()), json: self.json, debug: self.debug };
        let level = if self.debug { log::LevelFilter::Debug } else { log::LevelFilter::Warn };
        if log::set_boxed_logger(Box::new(copy)).is_ok() {
            log::set_max_level(level);
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn || self.debug
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = match r.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warning",
            log::Level::Info => "info",
            _ => "debug",
        };
        self.write(level, &r.args().to_string());
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_level_msg_time() {
        let l = Logger { file: None, json: true, debug: false };
        let v: serde_json::Value = serde_json::from_str(l.line("error", "boom \"x\"").trim()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn bad_format_is_refused() {
        assert!(Logger::new("", "xml", false).is_err());
    }
}
