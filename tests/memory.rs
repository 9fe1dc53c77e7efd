//! The server process runs without transparent huge pages (`src/main.rs`). Its allocator
//! asks the kernel for them, and each thread's heap would then hold whole 2 MiB pages:
//! `make bench` measured 54 MB resident after ten checkout loads with them, 26 MB without.

mod support;

use support::net::{Process, free_port, storefront_vars};

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/memory.db?mode=rwc", dir.path().display());
    // A Stripe account that cannot be reached: nothing here calls Stripe.
    let vars = storefront_vars(&db_url, "http://127.0.0.1:9", "whsec_memory", &[("LEPTOS_HASH_FILES", "false")]);
    let server = Process::start(free_port(), &vars).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    // The kernel's view of the process's `prctl(PR_SET_THP_DISABLE)`.
    assert!(status.lines().any(|line| line == "THP_enabled:\t0"), "transparent huge pages are on:\n{status}");
    server.kill().await;
}
