//! Optional Prometheus metrics (`[metrics] listen = "127.0.0.1:9464"`, off by default): the
//! engine's counters ([`cronhost_core::metrics::Metrics`]), the heartbeat's age and the trigger
//! in use, served as Prometheus text on a thread of their own.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cronhost_core::metrics::Metrics;

use crate::heartbeat::Heartbeat;
use crate::provider::{Core, StopFlag};

/// The Prometheus text exposition: `metrics`, and the heartbeat's age and trigger.
pub fn render(metrics: &Metrics, heartbeat: &Heartbeat) -> String {
    let mut out = String::new();
    metrics.render(&mut out);
    let beats = heartbeat.current();
    let age = beats
        .alive_age(SystemTime::now())
        .map_or(-1.0, |age| age.as_secs_f64());
    let _ = writeln!(out, "# HELP cronhost_heartbeat_age_seconds Seconds since the trigger last beat (-1: never).\n# TYPE cronhost_heartbeat_age_seconds gauge\ncronhost_heartbeat_age_seconds {age:.3}");
    let trigger: String = beats
        .trigger
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    let _ = writeln!(out, "# HELP cronhost_trigger_info The trigger driving the fires.\n# TYPE cronhost_trigger_info gauge\ncronhost_trigger_info{{trigger=\"{trigger}\"}} 1");
    out
}

/// Serve `metrics` (and the heartbeat of `core`) at `http://LISTEN/metrics` on a thread of its
/// own until `stop` is set. Fails only if the address cannot be bound.
pub fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    core: Arc<Core>,
    stop: StopFlag,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(listen)?;
    let address = listener.local_addr()?;
    // Non-blocking accepts, so the thread notices `stop` (and releases the port) promptly.
    listener.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("cronhost-metrics".into())
        .spawn(move || {
            let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            while !stop.is_set() {
                match listener.accept() {
                    // Each connection on its own short-lived thread, so idle or slow clients
                    // cannot hold up a scrape; past the cap a connection is closed at once.
                    Ok((stream, _)) => {
                        if busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= MAX_CONNECTIONS
                        {
                            busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            drop(stream);
                            continue;
                        }
                        let (metrics, core, done) =
                            (Arc::clone(&metrics), Arc::clone(&core), Arc::clone(&busy));
                        let spawned = std::thread::Builder::new()
                            .name("cronhost-metrics-conn".into())
                            .spawn(move || {
                                answer(stream, &metrics, &core.heartbeat);
                                done.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            });
                        if spawned.is_err() {
                            busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    // Nothing waiting, or an accept error (out of descriptors, say): pause.
                    Err(_) => {
                        stop.wait(Duration::from_millis(100));
                    }
                }
            }
        })?;
    Ok(address)
}

/// Most connections answered at once.
const MAX_CONNECTIONS: usize = 32;

/// How long one request may take in all: a slow client cannot hold the listener longer.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Answer one HTTP request: `GET /metrics` gets the text, anything else 404.
fn answer(mut stream: TcpStream, metrics: &Metrics, heartbeat: &Heartbeat) {
    let deadline = std::time::Instant::now() + REQUEST_DEADLINE;
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(REQUEST_DEADLINE));
    // Read the whole request head (it may arrive in pieces), at most 8 KiB, within the
    // deadline: closing with unread bytes would reset the connection under the answer.
    let mut request = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    while request.len() < 8192 && !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let (status, body) = if line.starts_with("GET /metrics ") || line.starts_with("GET /metrics?") {
        ("200 OK", render(metrics, heartbeat))
    } else {
        ("404 Not Found", "try GET /metrics\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
}
