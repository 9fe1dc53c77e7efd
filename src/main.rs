//! Server entry point: load the configuration, then serve until stopped.

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    storefront::server::main()
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The wasm bundle starts in `storefront::hydrate`; this binary is the server.
}
