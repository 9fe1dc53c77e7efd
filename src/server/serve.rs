//! Accepting connections and serving HTTP on them: what `axum::serve` does, plus a
//! deadline for each request's headers, which `axum::serve` cannot be given.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client has to send a request's headers, and an idle keep-alive
/// connection to start its next request, before the connection is closed. Without a
/// deadline a client that sends its headers a byte at a time ("slowloris") holds a
/// connection and a file descriptor for as long as it likes, and enough of them shut
/// the shop. (Node's HTTP server allows 60 s.)
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `stop` completes, then stops accepting and
/// waits for the requests in flight. Each request carries its peer's address
/// (`ConnectInfo`).
///
/// HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front of the
/// shop terminates, and hyper's protocol detection for cleartext HTTP/2 waits for a
/// connection's first bytes with no deadline at all.
pub async fn serve(listener: TcpListener, router: Router, header_read_timeout: Duration, stop: impl Future<Output = ()> + Send) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    refused(error).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Every reply goes out as soon as it is written. Without TCP_NODELAY, a reply
        // written in two parts (headers, then a file's body) waits for the client's
        // delayed ACK of the first part: 40 ms per static file on a reused connection.
        if let Err(error) = socket.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY on a connection");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(socket), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A failed `accept`. The client's own failure (it reset or gave up) costs nothing;
/// anything else (out of file descriptors) would fail again at once, so wait a little.
async fn refused(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::error!(%error, "cannot accept a connection");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    struct Running {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        served: tokio::task::JoinHandle<()>,
    }

    async fn start(router: Router, header_read_timeout: Duration) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(serve(listener, router, header_read_timeout, async move {
            let _ = stopped.await;
        }));
        Running { addr, stop, served }
    }

    /// Reads until the server closes the connection; what it sent.
    async fn until_closed(socket: &mut tokio::net::TcpStream) -> String {
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut reply)).await;
        assert!(read.is_ok(), "the server kept the connection open");
        String::from_utf8_lossy(&reply).into_owned()
    }

    #[tokio::test]
    async fn headers_sent_too_slowly_close_the_connection_and_others_are_served() {
        let hello = axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("hello {}", peer.ip()) });
        let running = start(Router::new().route("/", hello), Duration::from_secs(1)).await;
        // A request whose headers never end, and a connection that never starts one.
        let mut slow = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n").await.unwrap();
        let mut silent = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        // Meanwhile a whole request is answered, with its peer's address.
        let mut prompt = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        prompt.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n").await.unwrap();
        let answered = until_closed(&mut prompt).await;
        assert!(answered.starts_with("HTTP/1.1 200") && answered.ends_with("hello 127.0.0.1"), "{answered}");

        let cut = until_closed(&mut slow).await;
        assert!(cut.is_empty() || cut.starts_with("HTTP/1.1 408"), "{cut}");
        assert!(until_closed(&mut silent).await.is_empty());
        running.stop.send(()).unwrap();
        running.served.await.unwrap();
    }

    #[tokio::test]
    async fn stopping_finishes_the_request_in_flight_and_accepts_no_more() {
        // A handler that says when it has started, then waits to be let go.
        let (started, has_started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let gates = Arc::new(Mutex::new(Some((started, released))));
        let slow = axum::routing::get(move || async move {
            let (started, released) = gates.lock().unwrap().take().unwrap();
            started.send(()).unwrap();
            released.await.unwrap();
            "done"
        });
        let running = start(Router::new().route("/", slow), HEADER_READ_TIMEOUT).await;
        let mut client = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\n\r\n").await.unwrap();
        has_started.await.unwrap();
        running.stop.send(()).unwrap();
        // Stopped: no new connection is accepted, while the request in flight goes on.
        let refused = async {
            while tokio::net::TcpStream::connect(running.addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), refused).await.expect("still accepting after the stop");
        release.send(()).unwrap();
        let answered = until_closed(&mut client).await;
        assert!(answered.starts_with("HTTP/1.1 200") && answered.ends_with("done"), "{answered}");
        running.served.await.unwrap();
    }
}
