//! Stand-ins for the network between the parts: a TCP forwarder that can be cut (the
//! database going away), an HTTP load balancer that deals requests round-robin, and a
//! storefront run as a real process that can be killed.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards TCP connections to `target` until cut: then every open connection is closed
/// and new ones are refused, until restored.
pub struct TcpProxy {
    pub addr: SocketAddr,
    open: watch::Sender<bool>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (open, watcher) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                let mut watcher = watcher.clone();
                if !*watcher.borrow() {
                    continue; // dropped: the connection is closed at once
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watcher.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        TcpProxy { addr, open }
    }

    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

/// An HTTP load balancer: each request goes to the next backend in turn.
pub async fn round_robin(backends: Vec<String>) -> String {
    #[derive(Clone)]
    struct Balancer {
        backends: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
        client: reqwest::Client,
    }
    async fn forward(
        axum::extract::State(lb): axum::extract::State<Balancer>,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        let backend = &lb.backends[lb.next.fetch_add(1, Ordering::Relaxed) % lb.backends.len()];
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let mut outgoing = lb.client.request(parts.method.clone(), format!("{backend}{path}")).body(body);
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST {
                outgoing = outgoing.header(name, value);
            }
        }
        match outgoing.send().await {
            Ok(reply) => {
                let mut response = axum::response::Response::builder().status(reply.status());
                for (name, value) in reply.headers() {
                    response = response.header(name, value);
                }
                response.body(axum::body::Body::from(reply.bytes().await.unwrap_or_default())).unwrap()
            }
            Err(_) => axum::response::Response::builder().status(502).body(axum::body::Body::empty()).unwrap(),
        }
    }
    let balancer = Balancer {
        backends: Arc::new(backends),
        next: Arc::new(AtomicUsize::new(0)),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
    };
    let app = axum::Router::new().fallback(forward).with_state(balancer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A loopback port for a server that a test starts later (another process, or a
/// storefront whose address must be known first), or that nobody is to listen on: free
/// when asked, and another one for each call in this process.
///
/// It is taken below the kernel's ephemeral range (Linux's `ip_local_port_range`,
/// 32768–60999 by default), from which `bind(…:0)` and outgoing connections get theirs.
/// A port from that range, let go until the server binds it, could meanwhile be handed
/// to a server or a client of another test running alongside: the server then failed
/// to start, or a test talked to another test's server.
pub fn free_port() -> u16 {
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    // Test binaries of one run start from different places (cargo runs them one at a time).
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    loop {
        let port = LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The storefront binary, run as a process of its own (from the repository root, so it
/// reads `Leptos.toml` and `catalog.toml` like a deployment).
pub struct Process {
    pub base: String,
    child: tokio::process::Child,
}

impl Process {
    /// Starts `target/…/storefront` on `port` with these variables and waits until it
    /// answers `/health`.
    pub async fn start(port: u16, vars: &[(&str, &str)]) -> Process {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storefront"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(vars.iter().copied())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let healthy = super::poll_until(
            600,
            || async { client.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status().is_success()) },
            |healthy| *healthy,
        )
        .await;
        assert!(healthy, "the storefront at {base} did not come up within 30 s");
        Process { base, child }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("a running storefront")
    }

    /// SIGKILL: no shutdown, no flushing, requests in flight abandoned.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// A Stripe emulator of the test's own, delivering every event to `webhook_url` signed
/// with `secret`, retrying failed deliveries every 250 ms for a while.
pub async fn emulator_delivering_to(webhook_url: String, secret: &str) -> stripe_emulator::Emulator {
    stripe_emulator::spawn(stripe_emulator::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        webhooks: vec![stripe_emulator::WebhookEndpoint { url: webhook_url, secret: secret.into() }],
        retry_schedule: vec![Duration::from_millis(250); 100],
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The variables that point a storefront process at `db_url` and the emulator at
/// `stripe` (test keys, the webhook secret), plus `extra`.
pub fn storefront_vars<'a>(db_url: &'a str, stripe: &'a str, secret: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("DATABASE_URL", db_url),
        ("STRIPE_SECRET_KEY", "sk_test_process"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_process"),
        ("STRIPE_API_BASE", stripe),
        ("STRIPE_WEBHOOK_SECRET", secret),
    ];
    vars.extend_from_slice(extra);
    vars
}

/// A POST to `path` announcing a body of `bytes` (`Content-Length`) and sending none:
/// the reply of a server that refuses on the header alone. See [`raw_request`].
pub async fn announce_body(base: &str, path: &str, bytes: usize) -> (u16, String) {
    let address = base.trim_start_matches("http://");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n"
    );
    raw_request(base, &head, b"").await
}

/// Sends `head` (request line and headers, through the blank line) and then `body`
/// over a raw connection, and reads the reply until the server closes it: its status
/// and its text. For requests a server refuses before reading all of them: sent with
/// no more than the server reads, the reply cannot be lost to the connection it then
/// closes (a client still writing would get a broken pipe, and bytes left unread a
/// reset, instead of the reply).
pub async fn raw_request(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await.expect("a reply within 10 s").unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, reply)
}
