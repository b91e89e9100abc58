//! net: the container's network devices, through rtnetlink. Two jobs: bring the loopback up in
//! a new network namespace (as runc does), and move the host interfaces of `linux.netDevices`
//! into the container's network namespace under their new names.
//!
//! hull speaks the few rtnetlink messages it needs itself (RTM_NEWLINK, RTM_GETLINK,
//! RTM_GETADDR, RTM_NEWADDR: a header, one fixed struct and a few attributes each) instead of
//! pulling in netlink-packet-route and its dependency tree: about 200 lines of plain byte
//! building, no unsafe code (the socket calls go through nix), and nothing to load when a
//! config asks for neither.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::socket::{recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};

use crate::procfs::ProcFs;
use crate::spec::{invalid, SpecError};
use crate::sys;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFF_UP: u32 = 1;
/// The loopback device is ifindex 1 in every network namespace.
const LOOPBACK_IFINDEX: i32 = 1;
/// IFNAMSIZ, with its NUL: a name has at most 15 bytes.
const IFNAMSIZ: usize = 16;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One request under construction: header, fixed struct, attributes.
struct Request {
    buf: Vec<u8>,
}

impl Request {
    fn new(typ: u16, flags: u16) -> Request {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&typ.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        Request { buf }
    }

    /// struct ifinfomsg.
    fn ifinfo(mut self, index: i32, flags: u32, change: u32) -> Request {
        self.buf.extend_from_slice(&[0, 0, 0, 0]); // family AF_UNSPEC, pad, type
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
        self
    }

    /// struct ifaddrmsg.
    fn ifaddr(mut self, family: u8, prefixlen: u8, scope: u8, index: u32) -> Request {
        self.buf.extend_from_slice(&[family, prefixlen, 0, scope]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self
    }

    fn attr(mut self, typ: u16, data: &[u8]) -> Request {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&typ.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn attr_str(self, typ: u16, s: &str) -> Request {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(typ, &d)
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// A NETLINK_ROUTE socket, in the network namespace of the thread that made it.
pub struct Rtnl {
    fd: OwnedFd,
}

/// One message of a reply: type and payload.
struct Reply {
    typ: u16,
    payload: Vec<u8>,
}

impl Rtnl {
    /// A socket in our current network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
        // The kernel answers at once; a reply that never comes is an error, not a hang.
        let tv = nix::sys::time::TimeVal::new(10, 0);
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimeout, &tv)?;
        Ok(Rtnl { fd })
    }

    /// A socket in the network namespace `netns` (an nsfs fd). The socket stays in that
    /// namespace for its life; we switch there only to make it, then back to `own`.
    pub fn open_in(netns: BorrowedFd<'_>, own: BorrowedFd<'_>) -> io::Result<Rtnl> {
        sys::setns(netns, libc::CLONE_NEWNET)?;
        let s = Rtnl::open();
        sys::setns(own, libc::CLONE_NEWNET).map_err(|e| io::Error::other(format!("returning to hull's network namespace: {e}")))?;
        s
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        send(self.fd.as_raw_fd(), msg, MsgFlags::empty())?;
        Ok(())
    }

    /// Reads replies until the ack (or NLMSG_DONE of a dump); an error reply becomes its errno.
    /// Every request hull sends asks for an ack or is a dump, so this always ends.
    fn replies(&self) -> io::Result<Vec<Reply>> {
        let mut out = Vec::new();
        loop {
            // Sized to the datagram, peeked first (most replies are a 36-byte ack).
            let mut buf = vec![0u8; sys::next_packet_len(self.fd.as_raw_fd())?.max(NLMSG_HDRLEN)];
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or_default()) as usize;
                let typ = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().unwrap_or_default());
                if len < NLMSG_HDRLEN || off + len > n {
                    return Err(io::Error::other("malformed netlink reply"));
                }
                let payload = &buf[off + NLMSG_HDRLEN..off + len];
                match typ {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = payload.get(0..4).map(|b| i32::from_ne_bytes(b.try_into().unwrap_or_default())).unwrap_or(0);
                        if errno == 0 {
                            return Ok(out);
                        }
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                    _ => out.push(Reply { typ, payload: payload.to_vec() }),
                }
                off += align4(len);
            }
        }
    }

    fn request(&self, msg: Request) -> io::Result<Vec<Reply>> {
        self.send(&msg.finish())?;
        self.replies()
    }

    /// Sets a link up.
    pub fn link_up(&self, index: i32) -> io::Result<()> {
        self.request(Request::new(RTM_NEWLINK, NLM_F_ACK).ifinfo(index, IFF_UP, IFF_UP)).map(drop)
    }

    /// Sets a link down.
    fn link_down(&self, index: i32) -> io::Result<()> {
        self.request(Request::new(RTM_NEWLINK, NLM_F_ACK).ifinfo(index, 0, IFF_UP)).map(drop)
    }

    /// The ifindex of the link called `name` in this socket's namespace.
    fn link_index(&self, name: &str) -> io::Result<i32> {
        // NLM_F_ACK: a plain GET is answered by one message and no end marker; the ack is one.
        let replies = self.request(Request::new(RTM_GETLINK, NLM_F_ACK).ifinfo(0, 0, 0).attr_str(IFLA_IFNAME, name))?;
        replies
            .iter()
            .find(|r| r.typ == RTM_NEWLINK && r.payload.len() >= 16)
            .map(|r| i32::from_ne_bytes(r.payload[4..8].try_into().unwrap_or_default()))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
    }

    /// Moves link `index` into the network namespace `netns`, named `name` there (a name with
    /// `%d` lets the kernel pick the number). One message, so the move and the rename are one
    /// step: the name never clashes on the way.
    fn link_move(&self, index: i32, netns: BorrowedFd<'_>, name: &str) -> io::Result<()> {
        let fd = netns.as_raw_fd() as u32;
        self.request(
            Request::new(RTM_NEWLINK, NLM_F_ACK).ifinfo(index, 0, 0).attr(IFLA_NET_NS_FD, &fd.to_ne_bytes()).attr_str(IFLA_IFNAME, name),
        )
        .map(drop)
    }

    /// The addresses of link `index` that are permanent and of global scope (the ones the
    /// runtime spec says a moved device keeps).
    fn kept_addresses(&self, index: i32) -> io::Result<Vec<Address>> {
        let replies = self.request(Request::new(RTM_GETADDR, NLM_F_DUMP).ifaddr(0, 0, 0, 0))?;
        let mut out = Vec::new();
        for r in replies.iter().filter(|r| r.typ == RTM_NEWADDR && r.payload.len() >= 8) {
            let p = &r.payload;
            let (family, prefixlen, flags8, scope) = (p[0], p[1], p[2], p[3]);
            let ifindex = u32::from_ne_bytes(p[4..8].try_into().unwrap_or_default());
            if ifindex as i32 != index {
                continue;
            }
            let mut flags = flags8 as u32;
            let mut attrs = BTreeMap::new();
            let mut off = 8;
            while off + 4 <= p.len() {
                let len = u16::from_ne_bytes([p[off], p[off + 1]]) as usize;
                let typ = u16::from_ne_bytes([p[off + 2], p[off + 3]]);
                if len < 4 || off + len > p.len() {
                    break;
                }
                let data = &p[off + 4..off + len];
                if typ == IFA_FLAGS && data.len() == 4 {
                    flags = u32::from_ne_bytes(data.try_into().unwrap_or_default());
                } else if matches!(typ, IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST) {
                    attrs.insert(typ, data.to_vec());
                }
                off += align4(len);
            }
            if flags & IFA_F_PERMANENT != 0 && scope == RT_SCOPE_UNIVERSE {
                out.push(Address { family, prefixlen, attrs });
            }
        }
        Ok(out)
    }

    fn add_address(&self, index: i32, a: &Address) -> io::Result<()> {
        let mut req =
            Request::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL).ifaddr(a.family, a.prefixlen, RT_SCOPE_UNIVERSE, index as u32);
        for (typ, data) in &a.attrs {
            req = req.attr(*typ, data);
        }
        self.request(req).map(drop)
    }
}

/// An address to carry over to the moved device.
#[derive(Debug)]
struct Address {
    family: u8,
    prefixlen: u8,
    /// IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST as the host had them.
    attrs: BTreeMap<u16, Vec<u8>>,
}

/// Brings `lo` up in our (new) network namespace. Runs in the container's init.
pub fn loopback_up() -> io::Result<()> {
    Rtnl::open()?.link_up(LOOPBACK_IFINDEX)
}

/// Checks a network device name as the kernel's dev_valid_name() does: 1 to 15 bytes, not
/// `.` or `..`, no `/`, `:` or whitespace. `template` allows one `%d` (the kernel numbers it).
pub fn check_dev_name(field: &str, name: &str, template: bool) -> Result<(), SpecError> {
    if name.is_empty() || name.len() >= IFNAMSIZ {
        return Err(invalid(field, format!("{name:?} must be 1 to {} bytes long", IFNAMSIZ - 1)));
    }
    if name == "." || name == ".." || name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0') {
        return Err(invalid(field, format!("{name:?} is not a valid network device name (no '/', ':', whitespace, '.' or '..')")));
    }
    let percents = name.matches('%').count();
    if percents > 0 && !(template && percents == 1 && name.contains("%d")) {
        return Err(invalid(field, format!("{name:?}: only one \"%d\" template is allowed in a network device name")));
    }
    Ok(())
}

/// Checks `linux.netDevices` against the host, before anything is changed: names valid, each
/// host device present, target names distinct, and a network namespace of the container's own.
pub fn validate(spec: &oci_spec::runtime::Spec, rootless: bool, has_netns: bool, host_netns: bool) -> Result<(), SpecError> {
    let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else { return Ok(()) };
    if devs.is_empty() {
        return Ok(());
    }
    if !has_netns || host_netns {
        return Err(invalid("linux.netDevices", "moving network devices needs a network namespace of the container's own"));
    }
    if rootless {
        return Err(invalid("linux.netDevices", "moving host network devices needs CAP_NET_ADMIN on the host (not rootless)"));
    }
    let mut targets = std::collections::HashSet::new();
    for (host, dev) in devs {
        let field = format!("linux.netDevices[{host:?}]");
        check_dev_name(&field, host, false)?;
        if host == "lo" {
            return Err(invalid(field, "the loopback device belongs to its namespace and cannot be moved"));
        }
        let target = dev.name().as_deref().filter(|n| !n.is_empty()).unwrap_or(host);
        check_dev_name(&format!("{field}.name"), target, true)?;
        if !target.contains('%') && !targets.insert(target.to_string()) {
            return Err(invalid(format!("{field}.name"), format!("{target:?} is the name of another moved device too")));
        }
        if target == "lo" {
            return Err(invalid(format!("{field}.name"), "\"lo\" exists in every network namespace"));
        }
        if let Err(e) = sys::if_nametoindex(host) {
            return Err(invalid(field, format!("no network device {host:?} on the host: {e}")));
        }
    }
    Ok(())
}

/// Moves every `linux.netDevices` entry into the network namespace of `pid`, keeps its
/// permanent global addresses and sets it up (runtime-spec config-linux.md, Network Devices).
/// Runs in hull, which holds CAP_NET_ADMIN over both namespaces. Nothing is undone on a later
/// failure: when the container's namespace goes, the kernel returns physical devices to the
/// host and destroys virtual ones, as the spec describes.
pub fn move_devices(spec: &oci_spec::runtime::Spec, procfs: &ProcFs, pid: i32) -> Result<(), String> {
    let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else { return Ok(()) };
    if devs.is_empty() {
        return Ok(());
    }
    let theirs = procfs.open_ns(Some(pid), "net").map_err(|e| format!("linux.netDevices: /proc/{pid}/ns/net: {e}"))?;
    let ours = procfs.open_ns(None, "net").map_err(|e| format!("linux.netDevices: /proc/self/ns/net: {e}"))?;
    let host = Rtnl::open().map_err(|e| format!("linux.netDevices: netlink: {e}"))?;
    let inside = Rtnl::open_in(theirs.as_fd(), ours.as_fd()).map_err(|e| format!("linux.netDevices: netlink in the container: {e}"))?;
    // A stable order, so a failure is reproducible.
    let mut names: Vec<&String> = devs.keys().collect();
    names.sort();
    for name in names {
        let field = format!("linux.netDevices[{name:?}]");
        let target = devs[name].name().as_deref().filter(|n| !n.is_empty()).unwrap_or(name);
        let index = sys::if_nametoindex(name).map_err(|e| format!("{field}: no network device {name:?} on the host: {e}"))?;
        let addrs = host.kept_addresses(index).map_err(|e| format!("{field}: reading its addresses: {e}"))?;
        // Down first, as runc: nothing on the host keeps using it half-way.
        host.link_down(index).map_err(|e| format!("{field}: setting it down: {e}"))?;
        host.link_move(index, theirs.as_fd(), target).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::EEXIST) { " (the container already has a device of that name)" } else { "" };
            format!("{field}: moving it into the container as {target:?}: {e}{hint}")
        })?;
        // With a "%d" template the kernel picked the name; the ifindex is kept unless taken.
        let new_index = if target.contains('%') { Ok(index) } else { inside.link_index(target) };
        let new_index = new_index.map_err(|e| format!("{field}: finding {target:?} in the container: {e}"))?;
        for a in &addrs {
            inside.add_address(new_index, a).map_err(|e| format!("{field}: restoring an address in the container: {e}"))?;
        }
        inside.link_up(new_index).map_err(|e| format!("{field}: setting it up in the container: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["eth0", "a", "container_eth0x", "x%d"] {
            assert!(check_dev_name("f", good, true).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "sixteen-bytes-xx", "x%d%d", "x%s"] {
            assert!(check_dev_name("f", bad, true).is_err(), "{bad:?}");
        }
        assert!(check_dev_name("f", "x%d", false).is_err());
    }

    #[test]
    fn request_layout() {
        let m = Request::new(RTM_NEWLINK, NLM_F_ACK).ifinfo(7, IFF_UP, IFF_UP).attr_str(IFLA_IFNAME, "abc").finish();
        // header 16 + ifinfomsg 16 + attr 4 + "abc\0" 4
        assert_eq!(m.len(), 40);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 40);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(u16::from_ne_bytes(m[32..34].try_into().unwrap()), 8);
        assert_eq!(&m[36..40], b"abc\0");
    }
}
