//! Server entry point: load the configuration, then serve until stopped.

/// mimalloc: per-thread free lists suit a server that allocates per request on
/// several threads (glibc's malloc showed up as 15% of a page render's profile).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    storefront::server::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The wasm bundle starts in `storefront::hydrate`; this binary is the server.
}
