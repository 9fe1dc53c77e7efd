//! The server: start-up, router and middleware. Composition only; the logic lives in
//! the feature folders.

pub mod assets;
mod form_errors;
mod health;
mod middleware;
mod pages;
mod payments;
mod serve;

pub use form_errors::FormErrors;

use crate::app::Document;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::state::AppState;
use crate::store::Store;
use anyhow::Context;
use axum::Router;
use axum::routing::get;
use leptos::prelude::provide_context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The process entry point: configuration, logging, runtime, serve. `built` runs once
/// the application is built, on the thread that built it, before it serves.
pub fn main(built: fn()) -> ExitCode {
    init_tracing();
    let mut config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::from(2);
        }
    };
    if config.site.hash_files && !hash_file_beside_binary(&config.site.hash_file) {
        // Leptos would panic rendering the first page; plain names may still be there.
        tracing::warn!(
            "hash-files is on but {} is not beside the binary (the build writes it there): serving /pkg under plain names",
            config.site.hash_file
        );
        config.site.hash_files = false;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let app = Application::build(config).await?;
        built();
        tracing::info!("storefront listening on http://{}", app.addr());
        app.run_until_stopped().await.context("the server stopped with an error")
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the build's list of content-hashed `/pkg` names is where Leptos reads it.
fn hash_file_beside_binary(name: &str) -> bool {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(name))).is_some_and(|path| path.is_file())
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colours only for a terminal: a log file or a collector gets plain text.
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init();
}

/// A storefront bound to its address, ready to serve. `main` and the integration tests
/// build it the same way (tests with port 0 and a temporary database).
pub struct Application {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    /// The embedded Stripe emulator, when no Stripe account is configured.
    emulator: Option<payments::Emulator>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let catalog = Catalog::load(&config.store.catalog_file, config.store.currency)
            .context("the catalog file (store.catalog-file) cannot be used")?;
        let store = Store::connect(&config.database_url)
            .await
            .with_context(|| format!("cannot open the database at DATABASE_URL={}", config.database_url))?;
        store.seed_inventory(catalog.initial_stock()).await.context("cannot record the catalog's stock")?;

        let listener = TcpListener::bind(config.site.site_addr)
            .await
            .with_context(|| format!("cannot listen on {} (LEPTOS_SITE_ADDR)", config.site.site_addr))?;
        let addr = listener.local_addr()?;
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let (payments, emulator) = payments::connect(&config, &public_url).await?;
        let site_root = std::path::PathBuf::from(&*config.site.site_root);
        let pkg_dir = site_root.join(&*config.site.site_pkg_dir);
        // In development cargo-leptos rewrites the files under a running server: read
        // them from disk each time there.
        let production = config.site.env == leptos::config::Env::PROD;
        let version = assets::version(&config.site);
        let document = Document {
            stripe_js_url: payments.js_url.clone(),
            csp: middleware::content_security_policy(&payments.js_url, &config.site),
            stylesheet: assets::stylesheet(&config.site, version.as_deref()),
            bundle: assets::bundle(&config.site, version.as_deref()),
            auto_reload: assets::auto_reload(&config.site),
            shop_name: config.store.name.clone(),
        };
        let stripe_secret_key = config.stripe.secret_key.as_ref().map(crate::secret::Secret::expose);
        let (form_errors, devices) = (FormErrors::new(stripe_secret_key), crate::account::DeviceCookies::new(stripe_secret_key));
        let state = AppState {
            assets: if production { assets::Assets::bundle(pkg_dir, version) } else { assets::Assets::from_disk(pkg_dir) },
            site_files: if production {
                assets::Assets::site_root(site_root, &config.site.site_pkg_dir)
            } else {
                assets::Assets::from_disk(site_root)
            },
            leptos_options: config.site.clone(),
            config: Arc::new(config),
            store,
            catalog: Arc::new(catalog),
            payments: Arc::new(payments),
            public_url: public_url.into(),
            document: Arc::new(document),
            form_errors,
            devices,
        };
        crate::orders::reconcile::spawn(state.clone());
        crate::mail::spawn(state.clone())?;
        Ok(Application { router: router(state), listener, addr, emulator })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes (tests stop a server this way).
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        serve::serve(self.listener, self.router, serve::HEADER_READ_TIMEOUT, stop).await;
        if let Some(emulator) = self.emulator {
            emulator.stop().await;
        }
        Ok(())
    }

    /// The embedded emulator's base URL, when there is one (tests use its control API).
    pub fn emulator_url(&self) -> Option<&str> {
        self.emulator.as_ref().map(payments::Emulator::base_url)
    }
}

fn router(state: AppState) -> Router {
    // Server functions get the shop's state and the request, read once, in their context.
    let context = {
        let state = state.clone();
        let reading = crate::request::Reading::of(&state);
        move || {
            provide_context(state.clone());
            crate::request::provide(reading);
        }
    };
    // Files of the site root (the favicon, product images): from memory once read
    // (assets.rs); until then, by the static file service as HTTP says, conditional
    // requests included (a 304 for an unchanged file). A path with no file gets the
    // 404 page.
    let not_found = axum::handler::Handler::with_state(pages::not_found, state.clone());
    let no_file = not_found.clone();
    let static_files = tower::ServiceBuilder::new().layer(axum::middleware::map_response(middleware::static_file_caching)).service(
        tower_http::services::ServeDir::new(&*state.leptos_options.site_root)
            .precompressed_br()
            .precompressed_gzip()
            .append_index_html_on_directories(false)
            .not_found_service(not_found),
    );
    let mut pages = Router::new()
        .route("/health", get(health::health))
        .route("/pkg/{file}", get(assets::serve))
        .route("/pkg/{version}/{file}", get(assets::serve_versioned))
        .route("/admin/orders", get(crate::orders::admin::list))
        .route("/admin/subscriptions", get(crate::orders::admin::subscriptions))
        .route("/admin/orders/{id}", get(crate::orders::admin::detail))
        .route("/admin/orders/{id}/refunds", axum::routing::post(crate::orders::admin::refund))
        .route("/admin/orders/{id}/capture", axum::routing::post(crate::orders::admin::capture))
        .route("/admin/orders/{id}/cancel", axum::routing::post(crate::orders::admin::cancel))
        .route("/admin/orders/{id}/handled", axum::routing::post(crate::orders::admin::handled))
        .route("/", get(pages::catalog))
        .route("/cart", get(pages::cart))
        .route("/checkout", get(pages::checkout))
        .route("/checkout/complete", get(pages::checkout_complete))
        .route("/orders/{id}", get(pages::order))
        .route("/orders/{id}/receipt", get(pages::receipt))
        .route("/orders/{id}/invoice", get(pages::invoice))
        .route("/account", get(pages::account))
        .fallback(move |axum::extract::State(state): axum::extract::State<AppState>, request: axum::extract::Request| async move {
            use tower::ServiceExt;
            match assets::site_file(&state.site_files, &request) {
                Some(response) => response,
                None if !assets::may_name_a_file(request.uri().path()) => {
                    let Ok(response) = no_file.oneshot(request).await;
                    response
                }
                None => {
                    let Ok(response) = static_files.oneshot(request).await;
                    axum::response::IntoResponse::into_response(response)
                }
            }
        });
    let default_locale = crate::request::Reading::of(&state).default_locale;
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let context = context.clone();
        let form_errors = state.form_errors.clone();
        let handler = move |request: axum::extract::Request| async move {
            if !middleware::form_encoded(&request) {
                let refuse = middleware::Refusal::of(request.headers(), request.uri(), default_locale);
                return refuse.reply(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, crate::i18n::Texts::how_to_call);
            }
            let response = leptos_axum::handle_server_fns_with_context(context, request).await;
            form_errors.seal_redirect(axum::response::IntoResponse::into_response(response))
        };
        // Another method: said in JSON too, with the one it takes.
        let allow = http::HeaderValue::from_str(method.as_str()).expect("a method is a header value");
        let other_method = move |request: axum::extract::Request| async move {
            let mut reply = middleware::Refusal::of(request.headers(), request.uri(), default_locale)
                .reply(http::StatusCode::METHOD_NOT_ALLOWED, crate::i18n::Texts::how_to_call);
            reply.headers_mut().insert(http::header::ALLOW, allow);
            reply
        };
        let filter = axum::routing::MethodFilter::try_from(method.clone()).expect("a server function's method");
        pages = pages.route(path, axum::routing::on(filter, handler).fallback(other_method));
    }
    // Any other address under `/api/` names no server function: said in JSON, as its
    // caller reads every reply (not the 404 page).
    let pages = pages.route(
        "/api/{*call}",
        axum::routing::any(move |request: axum::extract::Request| async move {
            middleware::Refusal::of(request.headers(), request.uri(), default_locale)
                .reply(http::StatusCode::NOT_FOUND, crate::i18n::Texts::no_such_server_function)
        }),
    );
    let origin = public_origin(&state.public_url);
    let pages = pages.layer(axum::middleware::from_fn_with_state(
        middleware::Writes::new(origin.clone(), middleware::MAX_BODY_BYTES, default_locale),
        middleware::writes,
    ));
    // Stripe's events can be larger than any form; they get a limit of their own.
    let webhook_writes = middleware::Writes::new(origin, middleware::MAX_WEBHOOK_BYTES, default_locale);
    let webhook = Router::new()
        .route("/webhook", axum::routing::post(crate::orders::webhook::receive))
        .layer(axum::middleware::from_fn_with_state(webhook_writes, middleware::writes));
    middleware::apply(pages.merge(webhook).with_state(state))
}

/// `scheme://host[:port]` of the shop's public URL.
fn public_origin(public_url: &str) -> Arc<str> {
    match public_url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()).into(),
        None => public_url.into(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
