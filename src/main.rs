//! Server entry point: load the configuration, then serve until stopped.

/// mimalloc: per-thread free lists suit a server that allocates per request on
/// several threads (glibc's malloc showed up as 15% of a page render's profile).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // No transparent huge pages for this process. mimalloc asks the kernel for them on its
    // arena (`madvise`), and each thread's heap then holds whole 2 MiB pages: 54 MB resident
    // after ten checkout loads, against 26 MB without, and no measurable speed for it (README,
    // "Memory"). From here on the kernel faults in ordinary pages only.
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("transparent huge pages stay on: {error}");
    }
    storefront::server::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The wasm bundle starts in `storefront::hydrate`; this binary is the server.
}
