//! Server entry point: load the configuration, then serve until stopped.

/// mimalloc: per-thread free lists suit a server that allocates per request on
/// several threads (glibc's malloc showed up as 15% of a page render's profile).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // No transparent huge pages for this process: each thread's heap would hold whole
    // 2 MiB pages (54 MB resident after ten checkout loads, against 26 MB without, and no
    // measurable speed for it; README, "Memory"). mimalloc is built not to ask for them
    // (`no_thp`), which covers what it allocates before `main`; this covers a kernel
    // that gives them unasked (THP `always`).
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("transparent huge pages stay on: {error}");
    }
    storefront::server::main(give_back_start_up_memory)
}

/// Start-up (reading the catalog, above all) frees most of what it allocates, and
/// mimalloc keeps freed pages for the thread that freed them until that thread
/// allocates again: the main thread hardly does once the server runs. With a catalog
/// of 10,000 products the server sat at 62 MB, where its live data is 27 (README,
/// "Memory").
#[cfg(feature = "ssr")]
fn give_back_start_up_memory() {
    // SAFETY: `mi_collect` has no preconditions; it only returns memory no one holds.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The wasm bundle starts in `storefront::hydrate`; this binary is the server.
}
