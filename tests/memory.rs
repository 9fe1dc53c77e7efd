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

/// Each password hash holds 19 MiB while it runs. A burst of sign-ins from many
/// addresses (each within its own limit) hashes one password per core at a time, the
/// rest waiting their turn: without that, every request took a thread of its own, and
/// sixty at once held over a gigabyte.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sign_ins_hashes_one_password_per_core_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/memory.db?mode=rwc", dir.path().display());
    let extra = [("LEPTOS_HASH_FILES", "false"), ("TRUST_X_FORWARDED_FOR", "true")];
    let vars = storefront_vars(&db_url, "http://127.0.0.1:9", "whsec_memory", &extra);
    let server = Process::start(free_port(), &vars).await;
    let peak_kib = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap().to_owned();
        line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap()
    };
    let cores = std::thread::available_parallelism().unwrap().get();
    let burst = (cores * 8).max(60);
    let before = peak_kib();
    let client = reqwest::Client::new();
    let sign_ins = (0..burst).map(|n| {
        let request = client
            .post(format!("{}/api/account/sign-in", server.base))
            .header("x-forwarded-for", format!("2001:db8:{n:x}::1"))
            .form(&[("email", format!("nobody{n}@example.com")), ("password", "a-wrong-password".to_owned())]);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(sign_ins).await;
    assert!(statuses.iter().all(|status| *status == 400), "{statuses:?}");
    let grown_mib = (peak_kib() - before) / 1024;
    assert!(grown_mib < (cores + 4) * 20, "the peak grew by {grown_mib} MiB for {burst} sign-ins on {cores} cores");
    server.kill().await;
}
