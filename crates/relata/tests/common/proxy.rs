//! A TCP proxy in front of a test server that can stop answering on command, as a frozen or
//! cut-off server would: `freeze` stops forwarding (the sockets stay open, so the client sees
//! silence, not an error), `freeze_on` freezes when the client sends some bytes (a `COMMIT`),
//! `cut` closes every connection, and `Proxy::silent` accepts connections and never answers.
//! Shared by relata's and registrar's tests (registrar includes this file by path); std only.
#![allow(dead_code)] // each test crate uses a different part of this module

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// `host:port` of a server URL (`postgres://u@127.0.0.1:5432/db?x` gives `127.0.0.1:5432`).
pub fn host_port(url: &str) -> String {
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    authority[authority.rfind('@').map_or(0, |i| i + 1)..].to_owned()
}

/// What every forwarding thread of one proxy reads.
#[derive(Default)]
struct Switches {
    frozen: AtomicBool,
    cut: AtomicBool,
    /// Freeze as soon as the client sends these bytes (not forwarding them).
    freeze_on: Mutex<Option<Vec<u8>>>,
    /// Connections accepted so far.
    accepted: AtomicUsize,
    stopped: AtomicBool,
}

/// A proxy on 127.0.0.1 forwarding to one server; stopped (every connection closed) on drop.
pub struct Proxy {
    addr: SocketAddr,
    switches: Arc<Switches>,
}

impl Proxy {
    /// Forwards every connection to `upstream` (`host:port`).
    pub fn to(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .parse()
            .unwrap_or_else(|e| panic!("{upstream} is not host:port ({e})"));
        Proxy::start(Some(upstream))
    }

    /// Accepts connections and never sends a byte: a server that hangs before it greets.
    pub fn silent() -> Proxy {
        Proxy::start(None)
    }

    fn start(upstream: Option<SocketAddr>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let switches = Arc::new(Switches::default());
        let s = switches.clone();
        thread::spawn(move || {
            let mut held = Vec::new();
            while !s.stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        s.accepted.fetch_add(1, Ordering::SeqCst);
                        client.set_nonblocking(false).unwrap();
                        match upstream {
                            None => held.push(client),
                            Some(up) => {
                                let Ok(server) = TcpStream::connect(up) else {
                                    continue;
                                };
                                pump(
                                    client.try_clone().unwrap(),
                                    server.try_clone().unwrap(),
                                    s.clone(),
                                    true,
                                );
                                pump(server, client, s.clone(), false);
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        Proxy { addr, switches }
    }

    /// `host:port` of the proxy.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url(&self, url: &str) -> String {
        let start = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[start..];
        let host_start = rest[..rest.find('/').unwrap_or(rest.len())]
            .rfind('@')
            .map_or(0, |i| i + 1);
        let host_end = rest[host_start..]
            .find(['/', '?'])
            .map_or(rest.len(), |i| host_start + i);
        format!(
            "{}{}{}",
            &url[..start + host_start],
            self.addr,
            &rest[host_end..]
        )
    }

    /// Stops forwarding in both directions; the connections stay open.
    pub fn freeze(&self) {
        self.switches.frozen.store(true, Ordering::SeqCst);
    }

    /// Forwards again.
    pub fn thaw(&self) {
        self.switches.frozen.store(false, Ordering::SeqCst);
    }

    /// Freezes as soon as a client sends `bytes` (which are then not forwarded).
    pub fn freeze_on(&self, bytes: &[u8]) {
        *self.switches.freeze_on.lock().unwrap() = Some(bytes.to_vec());
    }

    /// Whether the proxy is frozen.
    pub fn is_frozen(&self) -> bool {
        self.switches.frozen.load(Ordering::SeqCst)
    }

    /// Closes every connection (both sides), as a network failure or a server restart would;
    /// new connections are forwarded again.
    pub fn cut(&self) {
        self.switches.cut.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(100));
        self.switches.cut.store(false, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.switches.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        self.switches.cut.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes, the proxy is cut or
/// stopped; while frozen it reads nothing, so the data waits in the kernel as it would for a
/// stopped server.
fn pump(mut from: TcpStream, mut to: TcpStream, s: Arc<Switches>, from_client: bool) {
    thread::spawn(move || {
        from.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if s.cut.load(Ordering::SeqCst) || s.stopped.load(Ordering::SeqCst) {
                break;
            }
            if s.frozen.load(Ordering::SeqCst) {
                // Nothing is forwarded, but a side that hangs up is still noticed, so the
                // other side sees the connection close (a server then rolls back).
                match from.peek(&mut buf[..1]) {
                    Ok(0) => break,
                    Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break
                    }
                    _ => thread::sleep(Duration::from_millis(10)),
                }
                continue;
            }
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if from_client {
                        let trigger = s.freeze_on.lock().unwrap().clone();
                        if let Some(t) = trigger {
                            if buf[..n].windows(t.len()).any(|w| w == t.as_slice()) {
                                *s.freeze_on.lock().unwrap() = None;
                                s.frozen.store(true, Ordering::SeqCst);
                                continue;
                            }
                        }
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
