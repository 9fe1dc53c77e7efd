//! The wasm bundle, its JS glue and the stylesheet (`/pkg/…`), compressed once (in the
//! background, from the first request for one of them) and then served from memory: brotli or gzip as the browser accepts,
//! with an `ETag` so a repeat visit costs a 304. Compressing a 1 MB wasm file on every
//! request would cost more CPU than rendering the page; compressing it once costs
//! nothing per request. Until the compressed copies are ready (a second or so), and for
//! anything not found here, the file is served from disk.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// One file in its three encodings.
struct Asset {
    content_type: &'static str,
    etag: HeaderValue,
    identity: axum::body::Bytes,
    gzip: axum::body::Bytes,
    brotli: axum::body::Bytes,
}

/// The compressed copies of `site-root/pkg`, filled in the background.
#[derive(Clone)]
pub struct Assets {
    files: Arc<OnceLock<HashMap<String, Asset>>>,
    dir: Arc<PathBuf>,
    /// Whether to compress at all (not in development, where the files change).
    compress: bool,
    /// The names carry a hash of the content (cargo-leptos `hash-files`): a name always
    /// means the same bytes, so browsers may keep them for good.
    immutable: bool,
    started: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Assets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assets").field("dir", &self.dir).field("ready", &self.files.get().is_some()).finish()
    }
}

impl Assets {
    /// Files of `dir`, compressed once when first asked for; `hashed`: their names
    /// carry a hash of their content.
    pub fn compressed(dir: PathBuf, hashed: bool) -> Assets {
        Assets { files: Arc::default(), dir: Arc::new(dir), compress: true, immutable: hashed, started: Arc::default() }
    }

    /// Never compressed: every request reads the file (development).
    pub fn from_disk(dir: PathBuf) -> Assets {
        Assets { files: Arc::default(), dir: Arc::new(dir), compress: false, immutable: false, started: Arc::default() }
    }

    fn cache_control(&self) -> HeaderValue {
        HeaderValue::from_static(if self.immutable {
            // Another content gets another name: never ask again.
            "public, max-age=31536000, immutable"
        } else {
            // Names without a hash: revalidate each time (a 304 when unchanged).
            "no-cache"
        })
    }

    /// Starts compressing every file of the directory on a blocking thread, once.
    fn start(&self) {
        if !self.compress || self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let (cell, dir) = (self.files.clone(), self.dir.as_ref().clone());
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let files = compress_dir(&dir);
            tracing::info!(files = files.len(), elapsed_ms = started.elapsed().as_millis(), dir = %dir.display(), "static assets compressed");
            let _ = cell.set(files);
        });
    }
}

fn compress_dir(dir: &std::path::Path) -> HashMap<String, Asset> {
    let Ok(entries) = std::fs::read_dir(dir) else { return HashMap::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let content_type = content_type(&name)?;
            let bytes = std::fs::read(entry.path()).ok()?;
            Some((name, compress(content_type, bytes)))
        })
        .collect()
}

fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit('.').next()? {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        _ => None,
    }
}

fn compress(content_type: &'static str, bytes: Vec<u8>) -> Asset {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = gzip.write_all(&bytes);
    let gzip = gzip.finish().unwrap_or_default();
    let mut brotli = Vec::new();
    {
        // Quality 10 of 11: nearly the smallest output in a fraction of the time.
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 64 * 1024, 10, 22);
        let _ = writer.write_all(&bytes);
    }
    let digest = Sha256::digest(&bytes);
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    Asset {
        content_type,
        etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        identity: bytes.into(),
        gzip: gzip.into(),
        brotli: brotli.into(),
    }
}

/// `GET /pkg/{file}`: from memory when ready, otherwise (and for unknown files) the
/// static file handler.
pub async fn serve(State(assets): State<Assets>, Path(file): Path<String>, headers: HeaderMap, request: Request) -> Response {
    assets.start();
    let Some(asset) = assets.files.get().and_then(|files| files.get(&file)) else {
        // Not compressed (yet): the file as it is, from disk.
        if file.starts_with('.') || file.contains(['/', '\\']) {
            return StatusCode::NOT_FOUND.into_response();
        }
        use tower::ServiceExt;
        let Ok(mut response) = tower_http::services::ServeFile::new(assets.dir.join(&file)).oneshot(request).await;
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            response.headers_mut().insert(header::CACHE_CONTROL, assets.cache_control());
        }
        return response.map(Body::new);
    };
    let mut response = if headers.get(header::IF_NONE_MATCH).is_some_and(|tag| tag == asset.etag) {
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
        let (body, encoding) = if accepts("br") {
            (asset.brotli.clone(), Some("br"))
        } else if accepts("gzip") {
            (asset.gzip.clone(), Some("gzip"))
        } else {
            (asset.identity.clone(), None)
        };
        let mut response = Response::new(Body::from(body));
        if let Some(encoding) = encoding {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CACHE_CONTROL, assets.cache_control());
    response
}
