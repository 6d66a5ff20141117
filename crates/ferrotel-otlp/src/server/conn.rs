//! Listening, TLS handshakes, connection lifetimes and graceful shutdown, shared by both servers.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::TransportError;

/// A connection's byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}
pub(crate) type BoxIo = Box<dyn Io>;

/// Serves one accepted connection until it closes; must start a graceful close when the
/// receiver turns `true` (or its sender is gone). The peer's address is `None` on a Unix
/// socket.
pub(crate) type ServeFn = Arc<
    dyn Fn(BoxIo, Option<SocketAddr>, watch::Receiver<bool>) -> BoxFuture<'static, ()>
        + Send
        + Sync,
>;

/// A bound listener: TCP, or a Unix domain socket (confignet's `transport: unix`), whose file
/// is removed when the server stops.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<(BoxIo, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (tcp, peer) = l.accept().await?;
                let _ = tcp.set_nodelay(true);
                Ok((Box::new(tcp), Some(peer)))
            }
            Listener::Unix(l, _) => {
                let (unix, _) = l.accept().await?;
                Ok((Box::new(unix), None))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds a Unix domain socket at `path`. A socket file left by a process that died without
/// removing it (nothing accepts on it) is replaced; any other existing file is an error.
pub(crate) fn bind_unix(path: &Path) -> Result<Listener, TransportError> {
    let error = |source: std::io::Error| {
        TransportError::Config(format!(
            "cannot listen on unix socket {}: {source}",
            path.display()
        ))
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let stale =
            meta.file_type().is_socket() && std::os::unix::net::UnixStream::connect(path).is_err();
        if !stale {
            return Err(error(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "the path exists (in use, or not a socket)",
            )));
        }
        std::fs::remove_file(path).map_err(error)?;
    }
    let listener = UnixListener::bind(path).map_err(error)?;
    Ok(Listener::Unix(listener, path.to_path_buf()))
}

/// A running server.
///
/// Dropping the handle without [`ServerHandle::shutdown`] stops the server at once (open
/// connections are closed without waiting for in-flight requests).
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    grace: Arc<Mutex<Duration>>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets in-flight requests finish and be answered (for at most
    /// `grace`), then closes every connection.
    pub async fn shutdown(mut self, grace: Duration) {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner()) = grace;
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            let _ = self.stop.send(true);
        }
    }
}

/// Binds the Unix socket `unix` if given, else the TCP address `addr`; a conflict is an
/// error naming the address.
pub(crate) async fn bind(
    addr: SocketAddr,
    unix: Option<&Path>,
) -> Result<Listener, TransportError> {
    if let Some(path) = unix {
        return bind_unix(path);
    }
    TcpListener::bind(addr)
        .await
        .map(Listener::Tcp)
        .map_err(|source| TransportError::Bind { addr, source })
}

/// Runs the accept loop on `listener`, handing each connection (after the TLS handshake, which
/// must finish within `handshake_timeout`) to `serve`.
pub(crate) fn spawn_server(
    listener: Listener,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    serve: ServeFn,
) -> Result<ServerHandle, TransportError> {
    let local_addr = match &listener {
        Listener::Tcp(l) => l
            .local_addr()
            .map_err(|e| TransportError::Config(format!("listener address: {e}")))?,
        // A Unix socket has no IP address; 0.0.0.0:0 says so to callers that log it.
        Listener::Unix(..) => SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    let (stop_tx, mut stop) = watch::channel(false);
    let grace = Arc::new(Mutex::new(Duration::ZERO));
    let grace_in_task = grace.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                res = listener.accept() => match res {
                    Ok((stream, peer)) => {
                        let rx = stop.clone();
                        let tls = tls.clone();
                        let serve = serve.clone();
                        conns.spawn(async move {
                            let io: BoxIo = match tls {
                                None => stream,
                                Some(acceptor) => {
                                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                                        Ok(Ok(s)) => Box::new(s),
                                        Ok(Err(e)) => {
                                            tracing::debug!(?peer, error = %e, "TLS handshake failed");
                                            return;
                                        }
                                        Err(_) => {
                                            tracing::debug!(?peer, "TLS handshake timed out");
                                            return;
                                        }
                                    }
                                }
                            };
                            serve(io, peer, rx).await;
                        });
                    }
                    Err(e) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        let grace = *grace_in_task.lock().unwrap_or_else(|e| e.into_inner());
        let _ =
            tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
        conns.shutdown().await;
    });
    Ok(ServerHandle {
        local_addr,
        stop: stop_tx,
        grace,
        task: Some(task),
    })
}

/// Drives `conn` to completion, closing it gracefully when the server stops or when
/// `close_when` completes; `close_when`'s value bounds how long the graceful close may take.
#[allow(clippy::manual_async_fn)] // the explicit Send bound is the point (see `stopped`)
pub(crate) fn drive<C, W>(
    conn: C,
    stop: watch::Receiver<bool>,
    close_when: W,
) -> impl Future<Output = ()> + Send
where
    C: GracefulConnection + Send,
    W: Future<Output = Option<Duration>> + Send,
{
    async move {
        tokio::pin!(conn);
        tokio::pin!(close_when);
        let bound = tokio::select! {
            _ = conn.as_mut() => return,
            _ = stopped(stop) => None,
            g = &mut close_when => g,
        };
        conn.as_mut().graceful_shutdown();
        match bound {
            Some(g) => {
                let _ = tokio::time::timeout(g, conn).await;
            }
            None => {
                let _ = conn.await;
            }
        }
    }
}

/// Completes when the server stops (or its handle is gone).
// An explicit `Send + 'static` future: borrowing the receiver inside `drive` trips rustc's
// higher-ranked Send inference when the caller boxes the connection future.
#[allow(clippy::manual_async_fn)]
fn stopped(mut stop: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    async move {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if stop.changed().await.is_err() {
                return;
            }
        }
    }
}
