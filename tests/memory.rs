//! What the server process holds. It runs without transparent huge pages
//! (`src/main.rs`): each thread's heap would then hold whole 2 MiB pages (`make bench`
//! measured 54 MB resident after ten checkout loads with them, 26 MB without). It gives
//! back what start-up freed. A burst of sign-ins holds one password hash per core.

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

/// Start-up frees most of what it allocates: reading a catalog of 10,000 products takes
/// tens of MB for a moment. The allocator keeps freed pages for the thread that freed
/// them until it allocates again, which the main thread hardly does once the server
/// runs; the server gives them back once it is built. Before, it sat at 62 MB with
/// such a catalog, 40 more than with the demo's, for as long as it ran.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_gives_back_what_its_start_up_freed() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("catalog-10k.toml");
    let products = (1..=10_000).map(|n| {
        format!(
            "[[products]]\nid = \"item-{n:05}\"\nname = \"Item {n}\"\ndescription = \"Catalog entry {n}.\"\nunit_amount = {}\ncurrency = \"eur\"\nimage = \"/images/notebook.svg\"\nstock = 1000\n\n",
            100 + n % 5000
        )
    });
    std::fs::write(&big, products.collect::<String>()).unwrap();
    let kib = |pid: u32, field: &str| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|line| line.starts_with(field)).unwrap().to_owned();
        line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap()
    };
    // (resident, peak) in KiB once the server answers, with the demo's catalog or the big one.
    let started_with = async |catalog: &str, name: &str| {
        let db_url = format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display());
        let extra = [("LEPTOS_HASH_FILES", "false"), ("STORE_CATALOG_FILE", catalog)];
        let server = Process::start(free_port(), &storefront_vars(&db_url, "http://127.0.0.1:9", "whsec_memory", &extra)).await;
        let sizes = (kib(server.pid(), "VmRSS:"), kib(server.pid(), "VmHWM:"));
        server.kill().await;
        sizes
    };
    let (demo, _) = started_with("catalog.toml", "demo").await;
    let (resident, peak) = started_with(big.to_str().unwrap(), "big").await;
    assert!(
        resident < demo + 16 * 1024,
        "with 10,000 products the server holds {resident} KiB once started (its peak: {peak} KiB), with the demo's catalog {demo} KiB"
    );
    // And start-up did allocate and free that much: the test means something.
    assert!(peak - resident > 16 * 1024, "start-up peaked at {peak} KiB and holds {resident} KiB");
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
