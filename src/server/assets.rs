//! Static files served from memory: the wasm bundle, its JS glue and the stylesheet
//! (`/pkg/…`), and the site root's files (favicon, product images). Read once (in the
//! background, from the first request for one of them), with the brotli and gzip copies
//! the release build wrote beside them (`cargo leptos build --release --precompress`),
//! then answered from memory — the encoding the browser accepts, with an `ETag` so a
//! revalidation costs a 304. Opening a file per request caps a small image at half of
//! what memory serves. Until the copies are ready (a moment), and for anything not found
//! here, the file is served from disk, precompressed copies included.
//!
//! In production, pages address `/pkg` below the build's version (`/pkg/<version>/…`,
//! see [`version`]), and only there are its files `immutable`.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::headers::{ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch, LastModified};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The build's version, in production: a digest of the names and bytes of every file
/// in `/pkg` as the server finds them at start-up; `None` in development (the files
/// change under a running server) or without a `/pkg`.
///
/// The content-hashed names alone cannot be trusted to change with the bytes. The
/// bundle's files name each other: its JS imports the lazy islands' loader
/// (`__wasm_split.<hash>.js`), which imports the JS back, and the wasm names the loader
/// too. cargo-leptos (0.3.11) hashes the JS and the wasm before it writes the loader's
/// final name into them, and the loader's name changes from build to build (its code
/// lists the same imports in another order). Two builds then hold different bytes under
/// one name. A browser that kept all of the old build still works; but a cache evicts
/// files one by one, and one that kept the old JS and lost the rest asks the new server
/// for a loader it no longer has (a 404), or runs the old JS with wasm built for another
/// loader: the bundle does not load and no island hydrates. Below the version, an
/// address always means the same bytes.
pub fn version(options: &leptos::config::LeptosOptions) -> Option<String> {
    if options.env != leptos::config::Env::PROD {
        return None;
    }
    let dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    let mut digest = Sha256::new();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).ok()?;
        digest.update((name.len() as u64).to_le_bytes());
        digest.update(name.as_bytes());
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(&bytes);
    }
    Some(hex::encode(&digest.finalize()[..8]))
}

/// `/pkg/<version>/<file>`, or `/pkg/<file>` without a version.
fn pkg_address(options: &leptos::config::LeptosOptions, version: Option<&str>, file: &str) -> String {
    match version {
        Some(version) => format!("/{}/{version}/{file}", options.site_pkg_dir),
        None => format!("/{}/{file}", options.site_pkg_dir),
    }
}

/// The wasm bundle's JS glue and module, as pages load them: `storefront.<hash>.js` and
/// `.wasm` when built with `hash-files` (the build's hash file beside the binary says
/// which hash), plain names otherwise — as Leptos names them; and the lazy islands'
/// loader (`__wasm_split.<hash>.js`) when the build split the bundle. Below the build's
/// `version` when there is one.
pub fn bundle(options: &leptos::config::LeptosOptions, version: Option<&str>) -> crate::app::Bundle {
    let (mut js, mut wasm) = (options.output_name.to_string(), options.output_name.to_string());
    let mut split_js = None;
    match hashes(options) {
        Some(hashes) => {
            for (file, hash) in hashes {
                match file.as_str() {
                    "js" => js = format!("{js}.{hash}"),
                    "wasm" => wasm = format!("{wasm}.{hash}"),
                    "split" => split_js = Some(format!("__wasm_split.{hash}")),
                    _ => {}
                }
            }
        }
        // wasm-bindgen's own name, unless cargo-leptos named the files.
        None if option_env!("LEPTOS_OUTPUT_NAME").is_none() => wasm.push_str("_bg"),
        None => {}
    }
    let site = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let split_js = split_js
        .or_else(|| site.join("__wasm_split.______________________.js").exists().then(|| "__wasm_split.______________________".to_owned()))
        .map(|name| pkg_address(options, version, &format!("{name}.js")));
    crate::app::Bundle {
        js: pkg_address(options, version, &format!("{js}.js")),
        wasm: pkg_address(options, version, &format!("{wasm}.wasm")),
        split_js,
    }
}

/// The stylesheet's address, `storefront.<hash>.css` with `hash-files` (as Leptos'
/// `HashedStylesheet` names it, read once here rather than on every page), below the
/// build's `version` when there is one.
pub fn stylesheet(options: &leptos::config::LeptosOptions, version: Option<&str>) -> String {
    let hash = hashes(options).into_iter().flatten().find_map(|(file, hash)| (file == "css").then_some(hash));
    let name = match hash {
        Some(hash) => format!("{}.{hash}", options.output_name),
        None => options.output_name.to_string(),
    };
    pkg_address(options, version, &format!("{name}.css"))
}

/// The build's content hashes (`file: hash` lines), with `hash-files`, from the hash
/// file cargo-leptos writes beside the binary.
fn hashes(options: &leptos::config::LeptosOptions) -> Option<Vec<(String, String)>> {
    let path = std::env::current_exe().ok()?.parent()?.join(&*options.hash_file);
    let text = options.hash_files.then(|| std::fs::read_to_string(path).ok()).flatten()?;
    Some(
        text.lines().filter_map(|line| line.split_once(':')).map(|(file, hash)| (file.trim().to_owned(), hash.trim().to_owned())).collect(),
    )
}

/// The live-reload script `cargo leptos watch` expects on every page (it sets
/// `LEPTOS_WATCH`), as Leptos' `AutoReload` writes it; none otherwise.
pub fn auto_reload(options: &leptos::config::LeptosOptions) -> Option<String> {
    use leptos::prelude::*;
    let options = options.clone();
    let html = Owner::new().with(|| view! { <leptos::prelude::AutoReload options/> }.to_html());
    // The script's text, without its tag (the page writes it with its own nonce).
    let script = html.strip_prefix("<script>")?.strip_suffix("</script>")?;
    (!script.is_empty()).then(|| script.to_owned())
}

/// How long browsers keep a site-root file (favicon, images) before revalidating.
pub const SITE_FILE_CACHING: &str = "public, max-age=3600";

/// One file in its encodings (the compressed ones when the build wrote them).
struct Asset {
    content_type: &'static str,
    etag: ETag,
    /// The file's time, for browsers that revalidate by date.
    modified: Option<std::time::SystemTime>,
    identity: axum::body::Bytes,
    gzip: Option<axum::body::Bytes>,
    brotli: Option<axum::body::Bytes>,
}

/// The in-memory copies of a directory's files (by their path below it), filled in the
/// background.
#[derive(Clone)]
pub struct Assets {
    files: Arc<OnceLock<HashMap<String, Asset>>>,
    dir: Arc<PathBuf>,
    /// Whether to keep copies at all (not in development, where the files change).
    keep: bool,
    cache_control: HeaderValue,
    /// The build's version (`/pkg/<version>/…`), for the bundle's files in production.
    version: Option<Arc<str>>,
    /// A sub-directory served by other means (the site root leaves `pkg` to its own).
    skip: Option<Arc<str>>,
    started: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Assets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assets").field("dir", &self.dir).field("ready", &self.files.get().is_some()).finish()
    }
}

impl Assets {
    /// The `/pkg` files of `dir`, in production. Below the build's `version` an
    /// address always means the same bytes: browsers keep them for good. At their plain
    /// address (which no page uses then) they revalidate each time (a 304 when
    /// unchanged).
    pub fn bundle(dir: PathBuf, version: Option<String>) -> Assets {
        Assets { version: version.map(Arc::from), ..Assets::new(dir, true, "no-cache", None) }
    }

    /// The site root's files (`dir` but its `skip` sub-directory). Their names carry no
    /// hash: browsers keep them for an hour, then revalidate.
    pub fn site_root(dir: PathBuf, skip: &str) -> Assets {
        Assets::new(dir, true, SITE_FILE_CACHING, Some(skip.into()))
    }

    /// Never kept: every request reads the file (development, where files change).
    pub fn from_disk(dir: PathBuf) -> Assets {
        Assets::new(dir, false, "no-cache", None)
    }

    fn new(dir: PathBuf, keep: bool, cache_control: &'static str, skip: Option<Arc<str>>) -> Assets {
        Assets {
            files: Arc::default(),
            dir: Arc::new(dir),
            keep,
            cache_control: HeaderValue::from_static(cache_control),
            version: None,
            skip,
            started: Arc::default(),
        }
    }

    /// Starts reading every file of the directory on a blocking thread, once.
    fn start(&self) {
        if !self.keep || self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let (cell, dir, skip) = (self.files.clone(), self.dir.as_ref().clone(), self.skip.clone());
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut files = HashMap::new();
            read_dir(&dir, "", skip.as_deref(), &mut files);
            tracing::info!(files = files.len(), elapsed_ms = started.elapsed().as_millis(), dir = %dir.display(), "static files kept in memory");
            let _ = cell.set(files);
        });
    }
}

/// Every servable file below `dir` (by its path after `prefix`), but the `skip` folder.
fn read_dir(dir: &std::path::Path, prefix: &str, skip: Option<&str>, files: &mut HashMap<String, Asset>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let path = format!("{prefix}{name}");
        match entry.file_type() {
            Ok(kind) if kind.is_dir() && skip != Some(path.as_str()) => read_dir(&entry.path(), &format!("{path}/"), skip, files),
            Ok(kind) if kind.is_file() => {
                if let (Some(content_type), Ok(bytes)) = (content_type(&name), std::fs::read(entry.path())) {
                    let modified = entry.metadata().and_then(|meta| meta.modified()).ok();
                    // The build's compressed copy, when it saves bytes (not for a PNG).
                    let compressed = |extension: &str| {
                        std::fs::read(dir.join(format!("{name}.{extension}")))
                            .ok()
                            .filter(|copy| copy.len() < bytes.len())
                            .map(axum::body::Bytes::from)
                    };
                    let (gzip, brotli) = (compressed("gz"), compressed("br"));
                    files.insert(path, keep(content_type, bytes, modified, gzip, brotli));
                }
            }
            _ => {}
        }
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit('.').next()? {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        "svg" => Some("image/svg+xml"),
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        "ico" => Some("image/x-icon"),
        "txt" => Some("text/plain; charset=utf-8"),
        _ => None,
    }
}

fn keep(
    content_type: &'static str,
    bytes: Vec<u8>,
    modified: Option<std::time::SystemTime>,
    gzip: Option<axum::body::Bytes>,
    brotli: Option<axum::body::Bytes>,
) -> Asset {
    let digest = Sha256::digest(&bytes);
    // Twelve bytes of a SHA-256, in hex: always a valid entity tag.
    let etag = format!("\"{}\"", hex::encode(&digest[..12])).parse().expect("a quoted hex string is an entity tag");
    Asset { content_type, etag, modified, identity: bytes.into(), gzip, brotli }
}

/// How long browsers keep a file addressed below the build's version: for good.
const FOR_GOOD: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");

/// `GET /pkg/{file}`: from memory when ready, otherwise (and for unknown files) from
/// disk.
pub async fn serve(State(assets): State<Assets>, Path(file): Path<String>, headers: HeaderMap, request: Request) -> Response {
    let cache_control = assets.cache_control.clone();
    serve_file(&assets, &file, &headers, request, cache_control).await
}

/// `GET /pkg/{version}/{file}`: as [`serve`], kept for good, when `version` is this
/// build's; a 404 for any other (that build's files are not here).
pub async fn serve_versioned(
    State(assets): State<Assets>,
    Path((version, file)): Path<(String, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    if assets.version.as_deref() != Some(version.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve_file(&assets, &file, &headers, request, FOR_GOOD).await
}

async fn serve_file(assets: &Assets, file: &str, headers: &HeaderMap, request: Request, cache_control: HeaderValue) -> Response {
    assets.start();
    match assets.files.get().and_then(|files| files.get(file)) {
        Some(asset) => reply(asset, headers, cache_control),
        None if file.starts_with('.') || file.contains(['/', '\\']) || !may_name_a_file(file) => StatusCode::NOT_FOUND.into_response(),
        None => {
            // Not read (yet): from disk.
            use tower::ServiceExt;
            let from_disk = tower_http::services::ServeFile::new(assets.dir.join(file)).precompressed_br().precompressed_gzip();
            let Ok(mut response) = from_disk.oneshot(request).await;
            if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
                response.headers_mut().insert(header::CACHE_CONTROL, cache_control);
            }
            response.map(Body::new)
        }
    }
}

/// Whether an address's path (percent-encoded, as in the request) could name a file:
/// none of its parts, decoded, longer than file systems allow (255 bytes). A longer
/// one names no file, and the file system refuses to look it up (ENAMETOOLONG), which
/// the static file service would answer with an error, not a 404.
pub fn may_name_a_file(path: &str) -> bool {
    const NAME_MAX: usize = 255;
    path.split('/').all(|part| percent_encoding::percent_decode_str(part).nth(NAME_MAX).is_none())
}

/// A file of the site root from memory; `None` when it is not there (yet), and the
/// caller serves it from disk or says it does not exist.
pub fn site_file(assets: &Assets, request: &Request) -> Option<Response> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    assets.start();
    let asset = assets.files.get()?.get(request.uri().path().strip_prefix('/')?)?;
    let mut response = reply(asset, request.headers(), assets.cache_control.clone());
    if request.method() == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    Some(response)
}

/// Whether the browser's copy is current: its `ETag`, or else its date (RFC 9110 §13.2.2).
/// `If-None-Match` may list several tags, weak ones (`W/`), or `*`.
fn current(asset: &Asset, headers: &HeaderMap) -> bool {
    match headers.typed_get::<IfNoneMatch>() {
        Some(tags) => !tags.precondition_passes(&asset.etag),
        None => match (headers.typed_get::<IfModifiedSince>(), asset.modified) {
            (Some(since), Some(modified)) => !since.is_modified(modified),
            _ => false,
        },
    }
}

/// The reply for `asset`: a 304 when the browser's copy is current, else the encoding
/// it accepts best.
fn reply(asset: &Asset, headers: &HeaderMap, cache_control: HeaderValue) -> Response {
    let mut response = if current(asset, headers) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepts = |coding: &str| {
            headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')).any(
                |item| {
                    let mut parts = item.trim().split(';');
                    parts.next() == Some(coding) && !parts.any(|q| q.trim() == "q=0")
                },
            )
        };
        let (body, encoding) = match (&asset.brotli, &asset.gzip) {
            (Some(brotli), _) if accepts("br") => (brotli.clone(), Some("br")),
            (_, Some(gzip)) if accepts("gzip") => (gzip.clone(), Some("gzip")),
            _ => (asset.identity.clone(), None),
        };
        let mut response = Response::new(Body::from(body));
        if let Some(encoding) = encoding {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    headers.typed_insert(asset.etag.clone());
    if let Some(modified) = asset.modified {
        headers.typed_insert(LastModified::from(modified));
    }
    if asset.gzip.is_some() || asset.brotli.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.insert(header::CACHE_CONTROL, cache_control);
    response
}
