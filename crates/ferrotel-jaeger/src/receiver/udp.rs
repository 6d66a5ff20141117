//! The agent's UDP ports: one task reads packets into a bounded queue, `workers` tasks decode
//! and deliver them. A packet over `max_packet_size`, one that finds the queue full, one that
//! does not decode and one the pipeline refuses are dropped, counted and (sparsely) logged;
//! the other senders' packets go on being served. UDP has no way to say "retry".

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::config::UdpConfig;
use super::{Shared, count_drop};
use crate::thrift::Protocol;

fn bind(addr: SocketAddr, buffer: usize) -> Result<UdpSocket, String> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    if buffer > 0 {
        socket
            .set_recv_buffer_size(buffer)
            .map_err(|e| format!("cannot set socket_buffer_size {buffer}: {e}"))?;
    }
    socket
        .bind(&addr.into())
        .map_err(|e| format!("cannot listen on udp {addr}: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("udp {addr}: {e}"))?;
    UdpSocket::from_std(socket.into()).map_err(|e| format!("udp {addr}: {e}"))
}

/// Binds and starts the reader and the workers; returns the bound address and their tasks.
pub(super) fn start(
    shared: Arc<Shared>,
    addr: SocketAddr,
    protocol: Protocol,
    cfg: &UdpConfig,
) -> Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>), String> {
    let socket = bind(addr, cfg.socket_buffer_size)?;
    let bound = socket.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<Bytes>(cfg.queue_size);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut tasks = Vec::with_capacity(cfg.workers + 1);
    let max = cfg.max_packet_size;
    let reader_shared = shared.clone();
    tasks.push(tokio::spawn(async move {
        // One byte more than allowed, to tell a packet of exactly max_packet_size from a
        // longer one the kernel truncated to fit.
        let mut buf = vec![0u8; max + 1];
        loop {
            let n = match socket.recv_from(&mut buf).await {
                Ok((n, _)) => n,
                Err(e) => {
                    tracing::debug!(receiver = %reader_shared.id, "udp receive: {e}");
                    continue;
                }
            };
            if n > max {
                count_drop(
                    &reader_shared.id,
                    &reader_shared.drops.too_large,
                    &format!("over max_packet_size ({max} bytes)"),
                );
                continue;
            }
            if tx.try_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                count_drop(
                    &reader_shared.id,
                    &reader_shared.drops.queue_full,
                    "the queue (queue_size) is full",
                );
            }
        }
    }));
    for _ in 0..cfg.workers {
        let shared = shared.clone();
        let rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(packet) = rx.lock().await.recv().await else {
                    return;
                };
                match shared
                    .deliver_thrift(&packet, protocol, true, &shared.obs_udp)
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => count_drop(
                        &shared.id,
                        &shared.drops.refused,
                        &format!("the pipeline refused it: {e}"),
                    ),
                    Err(e) => count_drop(&shared.id, &shared.drops.undecodable, &e.to_string()),
                }
            }
        }));
    }
    Ok((bound, tasks))
}
