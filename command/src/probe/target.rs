//! The probe's target, `HOST:PORT`: parsed when the command line is read (a bad one is a usage
//! error), resolved when the probe starts (an unknown host is one too).

use crate::error::{Error, Result};
use std::ffi::{CStr, CString};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

const ACCEPTS: &str =
    "HOST:PORT with a port from 1 to 65535, an IPv6 address in brackets: [2001:db8::5]:443";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(value: &std::ffi::OsStr) -> Result<Target> {
        let shown = kashim_config::escape(value.as_encoded_bytes());
        let bad =
            |why: &str| Error::usage(format!("--probe \"{shown}\" {why} (accepted: {ACCEPTS})"));
        let text = value.to_str().ok_or_else(|| bad("is not valid UTF-8"))?;
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("has no closing bracket"))?;
            let port = after.strip_prefix(':').ok_or_else(|| bad("has no port"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("has no IPv6 address in its brackets"));
            }
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("has no port"))?;
            if host.contains(':') {
                return Err(bad("is an IPv6 address without brackets"));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        if port.is_empty() {
            return Err(bad("has no port"));
        }
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("has a port that is not a number"));
        }
        match port.parse::<u32>() {
            Ok(p @ 1..=65535) => Ok(Target {
                host: host.to_string(),
                port: p as u16,
            }),
            _ => Err(bad("has a port out of range")),
        }
    }

    /// The addresses of the host, in the resolver's order. An unknown host is a usage error
    /// (the user typed it); a resolver that cannot answer now is a failure.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let host = CString::new(self.host.as_str())
            .map_err(|_| Error::usage(format!("--probe {self}: the host contains a NUL byte")))?;
        // SAFETY: a zeroed addrinfo is a valid hints value; fields set below.
        let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
        hints.ai_family = libc::AF_UNSPEC;
        hints.ai_socktype = libc::SOCK_STREAM;
        let mut list: *mut libc::addrinfo = std::ptr::null_mut();
        // SAFETY: host is NUL-terminated, hints and list are valid; list is freed below.
        let rc = unsafe { libc::getaddrinfo(host.as_ptr(), std::ptr::null(), &hints, &mut list) };
        if rc != 0 {
            // SAFETY: gai_strerror returns a static string.
            let why = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) }.to_string_lossy();
            return Err(match rc {
                libc::EAI_NONAME | libc::EAI_NODATA | libc::EAI_FAIL => Error::usage(format!(
                    "--probe {self}: unknown host \"{}\" ({why})",
                    self.host
                )),
                _ => Error::failure(format!(
                    "--probe {self}: cannot look up \"{}\": {why}",
                    self.host
                )),
            });
        }
        let mut addrs = Vec::new();
        let mut at = list;
        while !at.is_null() {
            // SAFETY: at walks the list getaddrinfo returned; each ai_addr matches its family.
            let ai = unsafe { &*at };
            let addr = match ai.ai_family {
                libc::AF_INET => {
                    let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                    Some(SocketAddr::new(
                        IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes()),
                        self.port,
                    ))
                }
                libc::AF_INET6 => {
                    let sin6 = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                    Some(SocketAddr::new(
                        IpAddr::from(sin6.sin6_addr.s6_addr),
                        self.port,
                    ))
                }
                _ => None,
            };
            if let Some(addr) = addr.filter(|a| !addrs.contains(a)) {
                addrs.push(addr);
            }
            at = ai.ai_next;
        }
        // SAFETY: list came from getaddrinfo and is freed once.
        unsafe { libc::freeaddrinfo(list) };
        if addrs.is_empty() {
            return Err(Error::usage(format!(
                "--probe {self}: \"{}\" has no IPv4 or IPv6 address",
                self.host
            )));
        }
        Ok(addrs)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::result::Result<Target, String> {
        Target::parse(std::ffi::OsStr::new(s)).map_err(|e| {
            assert_eq!(e.code, 2);
            e.lines[0].clone()
        })
    }

    #[test]
    fn names_v4_and_bracketed_v6() {
        assert_eq!(
            parse("db.example.com:5432").unwrap(),
            Target {
                host: "db.example.com".into(),
                port: 5432
            }
        );
        let v6 = parse("[2001:db8::5]:443").unwrap();
        assert_eq!(v6.host, "2001:db8::5");
        assert_eq!(v6.to_string(), "[2001:db8::5]:443");
        assert_eq!(parse("10.0.0.5:22").unwrap().to_string(), "10.0.0.5:22");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        for (input, why) in [
            ("db.example.com", "has no port"),
            ("db:", "has no port"),
            (":22", "has no host"),
            ("db:0", "out of range"),
            ("db:65536", "out of range"),
            ("db:99999999999", "out of range"),
            ("db:ssh", "not a number"),
            ("::1:22", "without brackets"),
            ("[::1]", "has no port"),
            ("[::1:22", "no closing bracket"),
            ("[db]:22", "no IPv6 address"),
        ] {
            let line = parse(input).unwrap_err();
            assert!(line.starts_with(&format!("--probe \"{input}\" ")), "{line}");
            assert!(line.contains(why), "{input}: {line}");
            assert!(line.contains("accepted: HOST:PORT"), "{line}");
        }
    }
}
