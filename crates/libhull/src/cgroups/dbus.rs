//! A minimal D-Bus client: just what the systemd cgroup driver needs to talk to systemd over
//! the system bus, or rootless to the user's manager over the user's session bus (EXTERNAL
//! authentication, method calls, the `JobRemoved` signal).
//!
//! Why not zbus: its blocking API is a wrapper over its async one and starts an executor
//! thread (plus async-io's reactor thread) per connection, and it brings an async runtime and
//! some 60 crates into a binary whose start-up time is a design input. hull needs four method
//! calls with fixed signatures; the wire format for those is a few hundred lines, written here
//! with every read bounds-checked (the bus is a peer, not trusted to send well-formed data).
//!
//! Wire format: <https://dbus.freedesktop.org/doc/dbus-specification.html#message-protocol>.
//! Only little-endian messages are sent and accepted (what systemd and dbus-daemon send on the
//! little-endian machines hull runs on).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The well-known path of the system bus socket.
pub(crate) const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// A message larger than this is refused (the spec allows 128 MiB; systemd's replies here are
/// a few hundred bytes).
const MAX_MESSAGE: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DbusError {
    #[error("connecting to the D-Bus {bus} bus at {path}: {source}")]
    Connect { bus: &'static str, path: PathBuf, source: std::io::Error },
    #[error("D-Bus I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("D-Bus authentication refused: {0:?}")]
    Auth(String),
    #[error("malformed D-Bus message: {0}")]
    Protocol(String),
    /// An error reply: its name (`org.freedesktop.systemd1.NoSuchUnit`) and message.
    #[error("{message} ({name})")]
    Remote { name: String, message: String },
    #[error("no answer from the bus within {0:?}")]
    Timeout(Duration),
}

fn protocol(msg: impl Into<String>) -> DbusError {
    DbusError::Protocol(msg.into())
}

/// A D-Bus value, as much of the type system as the systemd calls use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    /// The element signature (needed for an empty array) and the elements.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub(crate) fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(e, _) => format!("a{e}"),
            Value::Struct(f) => format!("({})", f.iter().map(Value::signature).collect::<String>()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// A property for systemd: `(sv)`.
pub(crate) fn property(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::Str(name.into()), Value::Variant(Box::new(v))])
}

fn align_of(c: u8) -> usize {
    match c {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1,
    }
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I32(i) => {
                self.pad(4);
                self.buf.extend_from_slice(&i.to_le_bytes())
            }
            Value::U32(u) => self.u32(*u),
            Value::I64(i) => {
                self.pad(8);
                self.buf.extend_from_slice(&i.to_le_bytes())
            }
            Value::U64(u) => {
                self.pad(8);
                self.buf.extend_from_slice(&u.to_le_bytes())
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                self.pad(align_of(elem.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for i in items {
                    self.value(i);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.value(&Value::Sig(inner.signature()));
                self.value(inner);
            }
        }
    }
}

/// The first complete type of signature `sig` and the rest.
fn split_type(sig: &str) -> Result<(&str, &str), DbusError> {
    let b = sig.as_bytes();
    let end = match b.first() {
        None => return Err(protocol("empty signature")),
        Some(b'a') => 1 + split_type(&sig[1..])?.0.len(),
        Some(&open @ (b'(' | b'{')) => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut depth = 0usize;
            let mut end = None;
            for (i, &c) in b.iter().enumerate() {
                if c == b'(' || c == b'{' {
                    depth += 1;
                } else if c == b')' || c == b'}' {
                    depth -= 1;
                    if depth == 0 {
                        if c != close {
                            return Err(protocol(format!("unbalanced signature {sig:?}")));
                        }
                        end = Some(i + 1);
                        break;
                    }
                }
            }
            end.ok_or_else(|| protocol(format!("unbalanced signature {sig:?}")))?
        }
        Some(_) => 1,
    };
    Ok(sig.split_at(end))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Nesting depth, bounded so a hostile message cannot exhaust the stack.
    depth: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DbusError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| protocol("truncated message"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn align(&mut self, n: usize) -> Result<(), DbusError> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }
    fn u32(&mut self) -> Result<u32, DbusError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DbusError> {
        self.align(8)?;
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, DbusError> {
        let n = self.u32()? as usize;
        let s = self.take(n)?;
        self.take(1)?;
        String::from_utf8(s.to_vec()).map_err(|_| protocol("a string is not UTF-8"))
    }
    fn sig(&mut self) -> Result<String, DbusError> {
        let n = self.take(1)?[0] as usize;
        let s = self.take(n)?;
        self.take(1)?;
        String::from_utf8(s.to_vec()).map_err(|_| protocol("a signature is not UTF-8"))
    }
    /// One value of the complete type `sig`.
    fn value(&mut self, sig: &str) -> Result<Value, DbusError> {
        self.depth += 1;
        if self.depth > 32 {
            return Err(protocol("values nested too deeply"));
        }
        let b = sig.as_bytes();
        let v = match b.first().copied().unwrap_or(0) {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'n' | b'q' => {
                self.align(2)?;
                let x = self.take(2)?;
                Value::U32(u32::from(u16::from_le_bytes([x[0], x[1]])))
            }
            b'i' => Value::I32(self.u32()? as i32),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(self.u64()? as i64),
            b't' | b'd' => Value::U64(self.u64()?),
            b's' => Value::Str(self.string()?),
            b'o' => Value::Path(self.string()?),
            b'g' => Value::Sig(self.sig()?),
            b'v' => {
                let inner = self.sig()?;
                let (t, rest) = split_type(&inner)?;
                if !rest.is_empty() {
                    return Err(protocol("a variant holds more than one type"));
                }
                Value::Variant(Box::new(self.value(t)?))
            }
            b'a' => {
                let elem = &sig[1..];
                let n = self.u32()? as usize;
                self.align(align_of(elem.as_bytes().first().copied().unwrap_or(b'y')))?;
                let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| protocol("truncated array"))?;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                if self.pos != end {
                    return Err(protocol("array length does not match its elements"));
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                let mut inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                while !inner.is_empty() {
                    let (t, rest) = split_type(inner)?;
                    fields.push(self.value(t)?);
                    inner = rest;
                }
                Value::Struct(fields)
            }
            c => return Err(protocol(format!("unsupported type {:?}", c as char))),
        };
        self.depth -= 1;
        Ok(v)
    }
}

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A message received.
#[derive(Debug)]
pub(crate) struct Message {
    kind: u8,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    member: Option<String>,
    interface: Option<String>,
    pub(crate) body: Vec<Value>,
}

/// One message: header, fields and body, as bytes.
fn encode(serial: u32, dest: &str, path: &str, iface: &str, member: &str, body: &[Value]) -> Vec<u8> {
    let mut b = Writer { buf: Vec::new() };
    for v in body {
        b.value(v);
    }
    let sig: String = body.iter().map(Value::signature).collect();
    let mut fields = vec![
        Value::Struct(vec![Value::Byte(1), Value::Variant(Box::new(Value::Path(path.into())))]),
        Value::Struct(vec![Value::Byte(2), Value::Variant(Box::new(Value::Str(iface.into())))]),
        Value::Struct(vec![Value::Byte(3), Value::Variant(Box::new(Value::Str(member.into())))]),
        Value::Struct(vec![Value::Byte(6), Value::Variant(Box::new(Value::Str(dest.into())))]),
    ];
    if !sig.is_empty() {
        fields.push(Value::Struct(vec![Value::Byte(8), Value::Variant(Box::new(Value::Sig(sig)))]));
    }
    let mut m = Writer { buf: vec![b'l', METHOD_CALL, 0, 1] };
    m.u32(b.buf.len() as u32);
    m.u32(serial);
    m.value(&Value::Array("(yv)".into(), fields));
    m.pad(8);
    m.buf.extend_from_slice(&b.buf);
    m.buf
}

fn decode(buf: &[u8]) -> Result<Message, DbusError> {
    let mut r = Reader { buf, pos: 12, depth: 0 };
    let Value::Array(_, fields) = r.value("a(yv)")? else {
        return Err(protocol("no header fields"));
    };
    let mut msg = Message { kind: buf[1], reply_serial: None, error_name: None, member: None, interface: None, body: Vec::new() };
    let mut sig = String::new();
    for f in fields {
        let Value::Struct(f) = f else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else { continue };
        match (code, v.as_ref()) {
            (2, Value::Str(s)) => msg.interface = Some(s.clone()),
            (3, Value::Str(s)) => msg.member = Some(s.clone()),
            (4, Value::Str(s)) => msg.error_name = Some(s.clone()),
            (5, Value::U32(s)) => msg.reply_serial = Some(*s),
            (8, Value::Sig(s)) => sig = s.clone(),
            _ => {}
        }
    }
    r.align(8)?;
    // The body's alignment is relative to the message start, which is where it begins here
    // after the padding to 8.
    let mut rest = sig.as_str();
    while !rest.is_empty() {
        let (t, more) = split_type(rest)?;
        msg.body.push(r.value(t)?);
        rest = more;
    }
    Ok(msg)
}

/// The socket of the first `unix:path=` entry of a D-Bus address (`unix:path=/run/user/1000/bus`,
/// entries separated by `;`, keys by `,`, values %-escaped); None when there is none (an
/// abstract socket, tcp: not what systemd's buses use).
pub(crate) fn unix_path(address: &str) -> Option<PathBuf> {
    let value =
        address.split(';').filter_map(|a| a.strip_prefix("unix:")).flat_map(|kv| kv.split(',')).find_map(|kv| kv.strip_prefix("path="))?;
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt as _;
    (!out.is_empty()).then(|| PathBuf::from(std::ffi::OsString::from_vec(out)))
}

/// The id `id` of this user namespace is in the parent's, from a uid_map's lines
/// (`inside outside count`); None when unmapped.
fn outer_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let f: Vec<u64> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        let [inside, outside, count] = f[..] else { return None };
        let id = u64::from(id);
        (id >= inside && id - inside < count).then(|| u32::try_from(outside + (id - inside)).ok()).flatten()
    })
}

/// A connection to the system bus or a session bus.
pub(crate) struct Bus {
    stream: UnixStream,
    serial: u32,
    /// Signals that arrived while waiting for a reply.
    signals: Vec<Message>,
}

impl Bus {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS` if it names a `unix:path=`,
    /// else the well-known socket) and says Hello. Does not start any thread.
    pub(crate) fn system() -> Result<Bus, DbusError> {
        let path = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok().and_then(|a| unix_path(&a)).unwrap_or_else(|| SYSTEM_BUS.into());
        Bus::open("system", &path, nix::unistd::geteuid().as_raw())
    }

    /// Connects to a user's session bus at `path` (a socket the caller found) and says Hello.
    /// The uid it authenticates as is the caller's uid as the bus sees it: outside any user
    /// namespace hull runs in (as root in rootless podman's namespace, the user's own uid).
    pub(crate) fn session(path: &std::path::Path) -> Result<Bus, DbusError> {
        let euid = nix::unistd::geteuid().as_raw();
        let uid = std::fs::read_to_string("/proc/self/uid_map").ok().and_then(|m| outer_id(&m, euid)).unwrap_or(euid);
        Bus::open("session", path, uid)
    }

    fn open(kind: &'static str, path: &std::path::Path, uid: u32) -> Result<Bus, DbusError> {
        let stream = UnixStream::connect(path).map_err(|source| DbusError::Connect { bus: kind, path: path.to_path_buf(), source })?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let mut bus = Bus { stream, serial: 0, signals: Vec::new() };
        bus.auth(uid)?;
        bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", &[], Duration::from_secs(30))?;
        Ok(bus)
    }

    fn auth(&mut self, uid: u32) -> Result<(), DbusError> {
        let uid = uid.to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.stream.write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        self.stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        // Byte by byte: nothing after the line may be consumed.
        let mut line = Vec::new();
        let mut c = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 4096 {
                return Err(DbusError::Auth("an overlong line".into()));
            }
            if self.stream.read(&mut c)? == 0 {
                return Err(DbusError::Auth("the bus closed the connection".into()));
            }
            line.push(c[0]);
        }
        let line = String::from_utf8_lossy(&line).trim().to_string();
        if !line.starts_with("OK ") {
            return Err(DbusError::Auth(line));
        }
        self.stream.write_all(b"BEGIN\r\n")?;
        Ok(())
    }

    fn read_message(&mut self, deadline: Instant, limit: Duration) -> Result<Message, DbusError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DbusError::Timeout(limit));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut head = [0u8; 16];
        let timeout = |e: std::io::Error| {
            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
                DbusError::Timeout(limit)
            } else {
                DbusError::Io(e)
            }
        };
        self.stream.read_exact(&mut head).map_err(timeout)?;
        if head[0] != b'l' {
            return Err(protocol("a big-endian message (not supported)"));
        }
        let body_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let fields_len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
        let fields_end = 16usize.saturating_add(fields_len);
        let total = fields_end.saturating_add((8 - fields_end % 8) % 8).saturating_add(body_len);
        if total > MAX_MESSAGE {
            return Err(protocol(format!("a message of {total} bytes")));
        }
        let mut buf = head.to_vec();
        buf.resize(total, 0);
        self.stream.read_exact(&mut buf[16..]).map_err(timeout)?;
        decode(&buf)
    }

    /// Calls a method and waits up to `limit` for its reply; an error reply is `Remote`.
    pub(crate) fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        body: &[Value],
        limit: Duration,
    ) -> Result<Vec<Value>, DbusError> {
        self.serial += 1;
        let serial = self.serial;
        self.stream.write_all(&encode(serial, dest, path, iface, member, body))?;
        let deadline = Instant::now() + limit;
        loop {
            let m = self.read_message(deadline, limit)?;
            match m.kind {
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m.body),
                ERROR if m.reply_serial == Some(serial) => {
                    let message = m.body.first().and_then(Value::as_str).unwrap_or("").to_string();
                    return Err(DbusError::Remote { name: m.error_name.unwrap_or_default(), message });
                }
                // A bounded backlog: only the newest signals can matter to a caller.
                SIGNAL if self.signals.len() < 1024 => self.signals.push(m),
                _ => {}
            }
        }
    }

    /// Waits for systemd's `JobRemoved` signal of job `job` (an object path) and returns its
    /// result ("done", "failed", "timeout", "canceled", "dependency", "skipped").
    pub(crate) fn wait_job(&mut self, job: &str, limit: Duration) -> Result<String, DbusError> {
        let is_ours = |m: &Message| -> Option<String> {
            if m.member.as_deref() != Some("JobRemoved") || m.interface.as_deref() != Some("org.freedesktop.systemd1.Manager") {
                return None;
            }
            // JobRemoved(u id, o job, s unit, s result)
            match (m.body.get(1), m.body.get(3)) {
                (Some(Value::Path(p)), Some(Value::Str(result))) if p == job => Some(result.clone()),
                _ => None,
            }
        };
        if let Some(r) = self.signals.iter().find_map(is_ours) {
            self.signals.clear();
            return Ok(r);
        }
        self.signals.clear();
        let deadline = Instant::now() + limit;
        loop {
            let m = self.read_message(deadline, limit)?;
            if let Some(r) = is_ours(&m) {
                return Ok(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marshalling_round_trips_the_start_transient_unit_call() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                property("Delegate", Value::Bool(true)),
                property("PIDs", Value::Array("u".into(), vec![Value::U32(42)])),
                property("MemoryMax", Value::U64(1 << 26)),
                property("AllowedCPUs", Value::Array("y".into(), vec![Value::Byte(3)])),
            ],
        );
        let aux = Value::Array("(sa(sv))".into(), vec![]);
        let body = [Value::Str("hull-x.scope".into()), Value::Str("fail".into()), props, aux];
        let bytes = encode(
            7,
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            &body,
        );
        assert_eq!(bytes.len() % 8, 0, "the body of this call ends on an 8-byte boundary");
        let m = decode(&bytes).unwrap();
        assert_eq!(m.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(m.body, body);
        assert_eq!(body.iter().map(Value::signature).collect::<String>(), "ssa(sv)a(sa(sv))");
    }

    #[test]
    fn bus_addresses_and_id_maps() {
        assert_eq!(unix_path("unix:path=/run/user/1000/bus"), Some(PathBuf::from("/run/user/1000/bus")));
        assert_eq!(unix_path("unix:abstract=/tmp/x;unix:guid=1,path=/a%20b/bus"), Some(PathBuf::from("/a b/bus")));
        assert_eq!(unix_path("unix:abstract=/tmp/x"), None);
        assert_eq!(unix_path("tcp:host=x,port=1"), None);
        assert_eq!(unix_path("unix:path=/a%2"), None);
        assert_eq!(outer_id("         0       1000          1\n         1     100000      65536\n", 0), Some(1000));
        assert_eq!(outer_id("0 1000 1\n1 100000 65536\n", 5), Some(100004));
        assert_eq!(outer_id("0 0 4294967295\n", 1000), Some(1000));
        assert_eq!(outer_id("0 1000 1\n", 1), None);
    }

    #[test]
    fn truncated_or_hostile_input_is_an_error() {
        let body = [Value::Str("x".into())];
        let bytes = encode(1, "d", "/p", "i.f", "M", &body);
        for n in [13, 20, bytes.len() - 1] {
            assert!(decode(&bytes[..n]).is_err(), "{n} bytes decoded");
        }
        assert!(split_type("(ss").is_err());
        assert!(split_type("a{sv)").is_err());
        let deep = format!("{}y", "a".repeat(64));
        let mut r = Reader { buf: &[0u8; 64], pos: 0, depth: 0 };
        // An empty array of arrays decodes; the depth bound only matters for nested content.
        assert!(r.value(&deep).is_ok());
    }
}
