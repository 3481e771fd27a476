//! systemd readiness notification (`Type=notify`): a datagram to `$NOTIFY_SOCKET`, when set.

/// Tell systemd (or any supervisor speaking sd_notify) `state`, e.g. `READY=1`. Does nothing
/// without `NOTIFY_SOCKET`; a failure is logged, never fatal.
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    #[cfg(unix)]
    {
        use std::os::unix::net::UnixDatagram;
        let sent = UnixDatagram::unbound().and_then(|datagram| {
            let path = std::path::PathBuf::from(&socket);
            if let Some(abstract_name) = path.to_str().and_then(|p| p.strip_prefix('@')) {
                #[cfg(target_os = "linux")]
                {
                    use std::os::linux::net::SocketAddrExt;
                    let address =
                        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
                    return datagram.send_to_addr(state.as_bytes(), &address);
                }
                #[cfg(not(target_os = "linux"))]
                return Err(std::io::Error::other(format!(
                    "abstract socket {abstract_name}"
                )));
            }
            datagram.send_to(state.as_bytes(), &path)
        });
        if let Err(e) = sent {
            log::warn!("cannot notify {} of {state}: {e}", socket.to_string_lossy());
        }
    }
}
