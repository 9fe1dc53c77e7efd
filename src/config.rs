//! Typed configuration, validated once at start-up. Sources, strongest first: the
//! process environment (including `.env`), then `Leptos.toml`, then the defaults of
//! the README's configuration table. Secrets come only from the environment.

use crate::money::Currency;
use leptos::config::LeptosOptions;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A configuration problem, naming the setting and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration setting `{setting}`: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

fn bad(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_owned(), problem: problem.into() }
}

pub use crate::secret::Secret;

/// How the Payment Element lays out payment methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentElementLayout {
    Accordion,
    Tabs,
}

/// How the browser hands the payment details to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentMethodCreation {
    /// `stripe.createConfirmationToken` (the flow this project is about).
    ConfirmationToken,
    /// Legacy: `paymentMethodCreation: 'manual'` + `stripe.createPaymentMethod`, confirmed
    /// with `payment_method`, `use_stripe_sdk` and `mandate_data`. For adopters
    /// migrating from it; saved payment methods are not offered on this path.
    Manual,
}

/// When a card payment is taken: at once, or authorised now and captured later by the
/// merchant (`capture_method` on Elements and the intent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMethod {
    Automatic,
    Manual,
}

/// Saved payment methods for signed-in shoppers (a CustomerSession on `/checkout`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedMethodsSettings {
    pub enabled: bool,
    /// `payment_method_save_usage` (`off_session` or `on_session`): what a ticked save
    /// box means. `None` when the store sets `setup-future-usage` instead (Stripe
    /// refuses both on one CustomerSession since API version 2026-03-25.dahlia).
    pub save_usage: Option<String>,
    /// `payment_method_redisplay_limit`: how many saved methods are shown (1–10).
    pub redisplay_limit: u8,
    /// Ask for the CVC again when paying with a saved card (Elements and the intent).
    pub require_cvc_recollection: bool,
}

/// How order emails leave (`crate::mail`).
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://user:password@host:587` (STARTTLS) or `smtps://…:465` (TLS); `None`:
    /// messages are written as `.eml` files to `dir`.
    pub smtp_url: Option<Secret>,
    pub dir: PathBuf,
    /// The sender, like `Lumen & Loam <orders@example.com>`.
    pub from: String,
    /// Gets a copy of every order confirmation (Bcc).
    pub merchant: Option<String>,
    /// The first retry of a message that could not be sent waits this long; each next
    /// one twice as long (at most an hour).
    pub retry_after: std::time::Duration,
}

/// Whether Stripe keys are for test mode or live mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripeMode {
    Test,
    Live,
}

/// The store's own settings (`[store]` in `Leptos.toml`).
#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub name: String,
    pub currency: Currency,
    /// The language of a visitor whose browser asks for none the shop has, and of what
    /// nobody reads in a language of their own (reconciliation's messages).
    pub default_locale: crate::i18n::Locale,
    pub payment_element_layout: PaymentElementLayout,
    pub catalog_file: PathBuf,
    /// Business rule checked on the ConfirmationToken before charging.
    pub refuse_prepaid_cards: bool,
    /// Card-issuing countries (ISO codes) the shop refuses.
    pub blocked_card_countries: Vec<String>,
    pub payment_method_creation: PaymentMethodCreation,
    pub saved_methods: SavedMethodsSettings,
    /// `manual`: payments are authorised at checkout and captured from the order view.
    pub capture_method: CaptureMethod,
    /// `on_session` / `off_session`: every card a signed-in shopper pays with is kept for
    /// later (`setupFutureUsage` on Elements, `setup_future_usage` on the intent).
    pub setup_future_usage: Option<String>,
    /// An explicit list of payment method types (`allowedPaymentMethodTypes` on Elements,
    /// `allowed_payment_method_types` on the intent); `None`: the methods enabled in the
    /// Dashboard (`automatic_payment_methods`).
    pub payment_method_types: Option<Vec<String>>,
}

impl StoreSettings {
    /// `capture_method` for Elements and the intent: `manual`, or nothing (Stripe's
    /// default, captured at once).
    pub fn capture_method_param(&self) -> Option<&'static str> {
        (self.capture_method == CaptureMethod::Manual).then_some("manual")
    }

    /// `setup_future_usage` for Elements and the intent: the store's, for a shopper with
    /// a Customer to keep the card on; guests keep nothing.
    pub fn setup_future_usage_for(&self, has_customer: bool) -> Option<&str> {
        self.setup_future_usage.as_deref().filter(|_| has_customer)
    }

    /// The usage a card saved on the account page is set up for.
    pub fn card_setup_usage(&self) -> &str {
        self.setup_future_usage.as_deref().or(self.saved_methods.save_usage.as_deref()).unwrap_or("off_session")
    }
}

/// Where Stripe is and the keys to talk to it.
#[derive(Clone, Debug)]
pub struct StripeSettings {
    /// `None`: no account configured, the embedded emulator stands in for Stripe.
    pub secret_key: Option<Secret>,
    pub publishable_key: Option<String>,
    /// Every secret accepted on incoming webhooks (several while one is being rolled).
    pub webhook_secrets: Vec<Secret>,
    pub api_base: Option<String>,
    pub js_url: Option<String>,
    pub emulator_addr: SocketAddr,
    /// How long one request to Stripe may take (retries come on top).
    pub timeout: std::time::Duration,
    /// Largest accepted age of a webhook signature, in seconds.
    pub webhook_tolerance: i64,
}

impl StripeSettings {
    pub fn mode(&self) -> Option<StripeMode> {
        self.secret_key.as_ref().map(|key| if key.expose().contains("_live_") { StripeMode::Live } else { StripeMode::Test })
    }
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Leptos' own site options (output name, site root, address, …).
    pub site: LeptosOptions,
    pub store: StoreSettings,
    pub stripe: StripeSettings,
    pub database_url: String,
    /// The merchant's credential for `/admin/orders` (disabled when `None`).
    pub admin_token: Option<Secret>,
    /// Orders still settling after this long are checked against Stripe.
    pub reconcile_after: std::time::Duration,
    /// How often reconciliation runs (it also runs at start-up).
    pub reconcile_every: std::time::Duration,
    /// A payment still waiting for 3-D Secure or a redirect this long after its order
    /// last moved is abandoned: reconciliation cancels it at Stripe, and the order's
    /// stock goes back on sale.
    pub abandon_after: std::time::Duration,
    /// The address shoppers use, for absolute URLs (`return_url`) and cookie security;
    /// `None`: `http://` and the address the server is bound to.
    pub public_url: Option<String>,
    /// Take the client's address from the last `X-Forwarded-For` entry (set this only
    /// behind a proxy that writes it); otherwise the TCP peer's address is used.
    pub trust_forwarded_for: bool,
    pub mail: MailSettings,
}

impl Config {
    /// Loads `.env`, then `Leptos.toml` (or the file named by `STOREFRONT_CONFIG`), then
    /// applies the environment.
    pub fn load() -> Result<Config, ConfigError> {
        // A missing .env is normal; a malformed one is not.
        if let Err(error) = dotenvy::dotenv()
            && !error.not_found()
        {
            return Err(bad(".env", error.to_string()));
        }
        let env = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
        let (path, explicit) = match env("STOREFRONT_CONFIG") {
            Some(path) => (path, true),
            None => ("Leptos.toml".to_owned(), false),
        };
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit => String::new(),
            Err(error) => return Err(bad("STOREFRONT_CONFIG", format!("cannot read {path}: {error}"))),
        };
        Self::from_sources(&file, &env)
    }

    /// Builds the configuration from the text of `Leptos.toml` and an environment
    /// lookup; pure, so tests can give both.
    pub fn from_sources(file: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(file).map_err(|error| bad("Leptos.toml", error.message().to_owned()))?;

        let mut site = file.site.unwrap_or_else(|| LeptosOptions::builder().output_name("storefront").build());
        // cargo-leptos passes the site options of Cargo.toml through these variables.
        if let Some(value) = env("LEPTOS_OUTPUT_NAME") {
            site.output_name = value.into();
        }
        if let Some(value) = env("LEPTOS_SITE_ROOT") {
            site.site_root = value.into();
        }
        if let Some(value) = env("LEPTOS_SITE_PKG_DIR") {
            site.site_pkg_dir = value.into();
        }
        if let Some(value) = env("LEPTOS_SITE_ADDR") {
            site.site_addr =
                value.parse().map_err(|_| bad("LEPTOS_SITE_ADDR", format!("`{value}` is not an address like 127.0.0.1:3000")))?;
        }
        if let Some(value) = env("LEPTOS_RELOAD_PORT") {
            site.reload_port = value.parse().map_err(|_| bad("LEPTOS_RELOAD_PORT", format!("`{value}` is not a port")))?;
        }
        if let Some(value) = env("LEPTOS_ENV") {
            site.env = value.parse().map_err(|_| bad("LEPTOS_ENV", format!("`{value}` is neither DEV nor PROD")))?;
        }
        if let Some(value) = env("LEPTOS_HASH_FILES") {
            site.hash_files = value == "true";
        }
        if let Some(value) = env("LEPTOS_HASH_FILE_NAME") {
            site.hash_file = value.into();
        }

        let store_file = file.store.unwrap_or_default();
        let currency_text = env("STORE_CURRENCY").or(store_file.currency).unwrap_or_else(|| "eur".into());
        let layout_text = env("STORE_PAYMENT_ELEMENT_LAYOUT").or(store_file.payment_element_layout).unwrap_or_else(|| "accordion".into());
        // From the environment it overrides the file's save-usage, the weaker source;
        // both in the file is a contradiction to fix.
        let sfu_in_file = store_file.setup_future_usage.is_some();
        let setup_future_usage = match env("STORE_SETUP_FUTURE_USAGE").or(store_file.setup_future_usage) {
            None => None,
            Some(usage) if usage == "on_session" || usage == "off_session" => Some(usage),
            Some(other) => return Err(bad("store.setup-future-usage", format!("`{other}` is neither `on_session` nor `off_session`"))),
        };
        let store = StoreSettings {
            name: env("STORE_NAME").or(store_file.name).unwrap_or_else(|| "Storefront".into()),
            currency: Currency::parse(&currency_text).map_err(|error| bad("store.currency", error.to_string()))?,
            default_locale: match env("STORE_DEFAULT_LOCALE").or(store_file.default_locale) {
                None => crate::i18n::Locale::default(),
                Some(tag) => crate::i18n::Locale::parse(&tag)
                    .ok_or_else(|| bad("store.default-locale", format!("`{tag}` is not a language the shop has: `en` or `fr`")))?,
            },
            payment_element_layout: match layout_text.as_str() {
                "accordion" => PaymentElementLayout::Accordion,
                "tabs" => PaymentElementLayout::Tabs,
                other => {
                    return Err(bad("store.payment-element-layout", format!("`{other}` is neither `accordion` nor `tabs`")));
                }
            },
            catalog_file: env("STORE_CATALOG_FILE").or(store_file.catalog_file).unwrap_or_else(|| "catalog.toml".into()).into(),
            refuse_prepaid_cards: store_file.refuse_prepaid_cards.unwrap_or(false),
            blocked_card_countries: store_file.blocked_card_countries.unwrap_or_default(),
            payment_method_creation: match env("STORE_PAYMENT_METHOD_CREATION")
                .or(store_file.payment_method_creation)
                .as_deref()
                .unwrap_or("confirmation-token")
            {
                "confirmation-token" => PaymentMethodCreation::ConfirmationToken,
                "manual" => PaymentMethodCreation::Manual,
                other => {
                    return Err(bad(
                        "store.payment-method-creation",
                        format!("`{other}` is neither `confirmation-token` nor `manual` (legacy)"),
                    ));
                }
            },
            capture_method: match env("STORE_CAPTURE_METHOD").or(store_file.capture_method).as_deref().unwrap_or("automatic") {
                "automatic" => CaptureMethod::Automatic,
                "manual" => CaptureMethod::Manual,
                other => return Err(bad("store.capture-method", format!("`{other}` is neither `automatic` nor `manual`"))),
            },
            saved_methods: saved_methods(
                store_file.saved_payment_methods.unwrap_or_default(),
                setup_future_usage.is_some().then_some(sfu_in_file),
                env,
            )?,
            setup_future_usage,
            payment_method_types: payment_method_types(
                env("STORE_PAYMENT_METHOD_TYPES").map(|list| list.split(',').map(|kind| kind.trim().to_owned()).collect()),
                store_file.payment_method_types,
            )?,
        };

        let stripe = stripe_settings(env)?;
        let public_url = env("PUBLIC_URL").map(|url| parse_base_url("PUBLIC_URL", &url)).transpose()?;
        if stripe.mode() == Some(StripeMode::Live) && !public_url.as_deref().is_some_and(|url| url.starts_with("https://")) {
            return Err(bad("PUBLIC_URL", "a live Stripe key needs an https:// public URL; use an sk_test_ key for local work"));
        }

        let seconds = |name: &str, default: u64| -> Result<std::time::Duration, ConfigError> {
            match env(name) {
                None => Ok(std::time::Duration::from_secs(default)),
                Some(text) => text
                    .parse::<u64>()
                    .map(std::time::Duration::from_secs)
                    .map_err(|_| bad(name, format!("`{text}` is not a whole number of seconds"))),
            }
        };
        let mail = MailSettings {
            smtp_url: env("SMTP_URL")
                .map(|url| {
                    if url.starts_with("smtp://") || url.starts_with("smtps://") {
                        Ok(Secret::new(url))
                    } else {
                        Err(bad("SMTP_URL", "expected smtp://user:password@host:587?tls=required (STARTTLS), smtps://…:465 (TLS) or smtp://host:port (a local catcher, unencrypted)"))
                    }
                })
                .transpose()?,
            dir: env("MAIL_DIR").unwrap_or_else(|| "target/mail".into()).into(),
            from: env("MAIL_FROM").unwrap_or_else(|| format!("{} <orders@localhost>", store_name_for_mail(&store.name))),
            merchant: env("MERCHANT_EMAIL"),
            retry_after: seconds("MAIL_RETRY_SECS", 30)?,
        };
        if mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(bad("MAIL_FROM", format!("`{}` is not a sender like `Shop <orders@example.com>`", mail.from)));
        }
        if let Some(merchant) = mail.merchant.as_deref().filter(|m| m.parse::<lettre::message::Mailbox>().is_err()) {
            return Err(bad("MERCHANT_EMAIL", format!("`{merchant}` is not an email address")));
        }
        Ok(Config {
            site,
            store,
            stripe,
            admin_token: env("ADMIN_TOKEN")
                .map(|token| {
                    if token.len() >= 16 {
                        Ok(Secret::new(token))
                    } else {
                        Err(bad("ADMIN_TOKEN", "use at least 16 characters (e.g. `openssl rand -hex 16`)"))
                    }
                })
                .transpose()?,
            reconcile_after: seconds("RECONCILE_AFTER_SECS", 600)?,
            reconcile_every: seconds("RECONCILE_EVERY_SECS", 300)?,
            abandon_after: seconds("ABANDON_AFTER_SECS", 3600)?,
            database_url: env("DATABASE_URL").unwrap_or_else(|| "sqlite://storefront.db".into()),
            public_url,
            trust_forwarded_for: flag("TRUST_X_FORWARDED_FOR", env("TRUST_X_FORWARDED_FOR"), false)?,
            mail,
        })
    }
}

/// The store's name as an email display name (no characters that need quoting).
fn store_name_for_mail(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '&' | '-' | '.' | '\'')).collect()
}

fn flag(setting: &str, text: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match text.as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(bad(setting, format!("`{other}` is neither true nor false"))),
    }
}

/// The explicit payment method types, from the environment (comma-separated) or the
/// file: Stripe's type names, at least one, no repeats.
fn payment_method_types(from_env: Option<Vec<String>>, from_file: Option<Vec<String>>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(types) = from_env.or(from_file) else { return Ok(None) };
    let setting = "store.payment-method-types";
    if types.is_empty() || types.iter().any(String::is_empty) {
        return Err(bad(setting, "list at least one payment method type, like [\"card\"], or leave it out to use the Dashboard's"));
    }
    if let Some(kind) = types.iter().find(|kind| !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')) {
        return Err(bad(setting, format!("`{kind}` is not a Stripe payment method type (like card, ideal, sepa_debit)")));
    }
    if let Some(kind) = types.iter().enumerate().find_map(|(i, kind)| types[..i].contains(kind).then_some(kind)) {
        return Err(bad(setting, format!("`{kind}` is listed twice")));
    }
    Ok(Some(types))
}

/// `setup_future_usage`: `None` when the store does not set it, `Some(in_file)` when it
/// does (in the file, or in the environment).
fn saved_methods(
    file: SavedMethodsFile,
    setup_future_usage: Option<bool>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SavedMethodsSettings, ConfigError> {
    let enabled = match env("STORE_SAVED_PAYMENT_METHODS") {
        Some(text) => flag("STORE_SAVED_PAYMENT_METHODS", Some(text), true)?,
        None => file.enabled.unwrap_or(true),
    };
    let require_cvc_recollection = match env("STORE_REQUIRE_CVC_RECOLLECTION") {
        Some(text) => flag("STORE_REQUIRE_CVC_RECOLLECTION", Some(text), false)?,
        None => file.require_cvc_recollection.unwrap_or(false),
    };
    let save_usage = match (file.save_usage, setup_future_usage) {
        (Some(usage), _) if usage != "off_session" && usage != "on_session" => {
            return Err(bad("store.saved-payment-methods.save-usage", format!("`{usage}` is neither `off_session` nor `on_session`")));
        }
        (Some(_), Some(true)) => {
            return Err(bad(
                "store.saved-payment-methods.save-usage",
                "leave it out when store.setup-future-usage is set: Stripe refuses both on one checkout, and setup-future-usage already says how cards are kept",
            ));
        }
        (usage, None) => Some(usage.unwrap_or_else(|| "off_session".to_owned())),
        (None, Some(_)) | (Some(_), Some(false)) => None,
    };
    let redisplay_limit = file.redisplay_limit.unwrap_or(3);
    if !(1..=10).contains(&redisplay_limit) {
        return Err(bad("store.saved-payment-methods.redisplay-limit", "Stripe shows between 1 and 10 saved payment methods"));
    }
    Ok(SavedMethodsSettings { enabled, save_usage, redisplay_limit, require_cvc_recollection })
}

fn stripe_settings(env: &dyn Fn(&str) -> Option<String>) -> Result<StripeSettings, ConfigError> {
    let secret_key = env("STRIPE_SECRET_KEY")
        .map(|key| {
            let known = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"];
            if known.iter().any(|prefix| key.starts_with(prefix)) {
                Ok(Secret::new(key))
            } else {
                Err(bad("STRIPE_SECRET_KEY", "expected a key starting with sk_test_ or sk_live_ (or rk_ for restricted keys)"))
            }
        })
        .transpose()?;
    let publishable_key = env("STRIPE_PUBLISHABLE_KEY")
        .map(|key| {
            if key.starts_with("pk_test_") || key.starts_with("pk_live_") {
                Ok(key)
            } else {
                Err(bad("STRIPE_PUBLISHABLE_KEY", "expected a key starting with pk_test_ or pk_live_"))
            }
        })
        .transpose()?;
    if let (Some(secret), Some(publishable)) = (&secret_key, &publishable_key)
        && secret.expose().contains("_live_") != publishable.starts_with("pk_live_")
    {
        return Err(bad("STRIPE_PUBLISHABLE_KEY", "test and live keys are mixed: use both from the same mode"));
    }
    if secret_key.is_some() && publishable_key.is_none() {
        return Err(bad("STRIPE_PUBLISHABLE_KEY", "required when STRIPE_SECRET_KEY is set (Dashboard → Developers → API keys)"));
    }
    let webhook_secrets = env("STRIPE_WEBHOOK_SECRET")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .map(|secret| {
                    if secret.starts_with("whsec_") {
                        Ok(Secret::new(secret.to_owned()))
                    } else {
                        Err(bad("STRIPE_WEBHOOK_SECRET", "expected whsec_… values, separated by commas while rolling"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let api_base = env("STRIPE_API_BASE").map(|url| parse_base_url("STRIPE_API_BASE", &url)).transpose()?;
    let js_url = env("STRIPE_JS_URL").map(|url| parse_base_url("STRIPE_JS_URL", &url)).transpose()?;
    let emulator_addr = env("STRIPE_EMULATOR_ADDR").unwrap_or_else(|| "127.0.0.1:12111".into());
    let emulator_addr = emulator_addr
        .parse()
        .map_err(|_| bad("STRIPE_EMULATOR_ADDR", format!("`{emulator_addr}` is not an address like 127.0.0.1:12111")))?;
    let timeout = match env("STRIPE_TIMEOUT_SECS") {
        None => std::time::Duration::from_secs(20),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|secs| *secs > 0.0 && *secs <= 600.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| bad("STRIPE_TIMEOUT_SECS", format!("`{text}` is not a number of seconds between 0 and 600")))?,
    };
    let webhook_tolerance = match env("STRIPE_WEBHOOK_TOLERANCE_SECS") {
        None => crate::stripe::webhook::DEFAULT_TOLERANCE_SECS,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|secs| *secs > 0)
            .ok_or_else(|| bad("STRIPE_WEBHOOK_TOLERANCE_SECS", format!("`{text}` is not a positive number of seconds")))?,
    };
    Ok(StripeSettings { secret_key, publishable_key, webhook_secrets, api_base, js_url, emulator_addr, timeout, webhook_tolerance })
}

/// Accepts an absolute http(s) URL and returns it without a trailing slash.
fn parse_base_url(setting: &str, url: &str) -> Result<String, ConfigError> {
    let uri: http::Uri = url.parse().map_err(|_| bad(setting, format!("`{url}` is not a URL")))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(url.trim_end_matches('/').to_owned()),
        _ => Err(bad(setting, format!("`{url}` must be an absolute http:// or https:// URL"))),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    site: Option<LeptosOptions>,
    store: Option<StoreFile>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct StoreFile {
    name: Option<String>,
    currency: Option<String>,
    default_locale: Option<String>,
    payment_element_layout: Option<String>,
    catalog_file: Option<String>,
    refuse_prepaid_cards: Option<bool>,
    blocked_card_countries: Option<Vec<String>>,
    payment_method_creation: Option<String>,
    saved_payment_methods: Option<SavedMethodsFile>,
    capture_method: Option<String>,
    setup_future_usage: Option<String>,
    payment_method_types: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SavedMethodsFile {
    enabled: Option<bool>,
    save_usage: Option<String>,
    redisplay_limit: Option<u8>,
    require_cvc_recollection: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(file: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_sources(file, &|key| vars.get(key).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.site.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, "sqlite://storefront.db");
        assert_eq!(config.stripe.emulator_addr.to_string(), "127.0.0.1:12111");
        assert!(config.stripe.secret_key.is_none());
        assert_eq!(config.public_url, None);
        assert_eq!(config.store.currency, Currency::EUR);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let file = "[store]\nname = \"From file\"\ncurrency = \"usd\"\n";
        let config = load(file, &[("STORE_NAME", "From env"), ("LEPTOS_SITE_ADDR", "127.0.0.1:4000")]).unwrap();
        assert_eq!(config.store.name, "From env");
        assert_eq!(config.store.currency, Currency::USD);
        assert_eq!(config.site.site_addr.port(), 4000);
    }

    #[test]
    fn errors_name_the_bad_setting() {
        let error = load("", &[("STORE_CURRENCY", "EURO")]).unwrap_err();
        assert_eq!(error.setting, "store.currency");
        let error = load("", &[("STRIPE_SECRET_KEY", "pk_test_123")]).unwrap_err();
        assert_eq!(error.setting, "STRIPE_SECRET_KEY");
        let error = load("[store]\ncolour = \"red\"\n", &[]).unwrap_err();
        assert_eq!(error.setting, "Leptos.toml");
        assert!(error.problem.contains("colour"), "{}", error.problem);
        let error = load("", &[("LEPTOS_SITE_ADDR", "localhost")]).unwrap_err();
        assert_eq!(error.setting, "LEPTOS_SITE_ADDR");
        // A language the shop does not have is refused, not quietly taken for English.
        let error = load("", &[("STORE_DEFAULT_LOCALE", "de")]).unwrap_err();
        assert_eq!(error.setting, "store.default-locale");
        assert!(error.problem.contains("`de`"), "{}", error.problem);
        let error = load("[store]\ndefault-locale = \"fre\"\n", &[]).unwrap_err();
        assert_eq!(error.setting, "store.default-locale");
    }

    #[test]
    fn the_default_language_is_a_tag_the_shop_has() {
        assert_eq!(load("", &[]).unwrap().store.default_locale, crate::i18n::Locale::En);
        assert_eq!(load("", &[("STORE_DEFAULT_LOCALE", "fr-CA")]).unwrap().store.default_locale, crate::i18n::Locale::Fr);
        assert_eq!(load("[store]\ndefault-locale = \"fr\"\n", &[]).unwrap().store.default_locale, crate::i18n::Locale::Fr);
    }

    #[test]
    fn a_live_key_refuses_a_plain_http_public_url() {
        let live = [("STRIPE_SECRET_KEY", "sk_live_abc"), ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")];
        let error = load("", &live).unwrap_err();
        assert_eq!(error.setting, "PUBLIC_URL");
        let mut with_https = live.to_vec();
        with_https.push(("PUBLIC_URL", "https://shop.example"));
        assert!(load("", &with_https).is_ok());
    }

    #[test]
    fn test_and_live_keys_cannot_be_mixed() {
        let error = load("", &[("STRIPE_SECRET_KEY", "sk_test_abc"), ("STRIPE_PUBLISHABLE_KEY", "pk_live_abc")]).unwrap_err();
        assert_eq!(error.setting, "STRIPE_PUBLISHABLE_KEY");
    }

    #[test]
    fn several_webhook_secrets_can_be_active_while_rolling() {
        let config = load("", &[("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")]).unwrap();
        let secrets: Vec<_> = config.stripe.webhook_secrets.iter().map(Secret::expose).collect();
        assert_eq!(secrets, ["whsec_old", "whsec_new"]);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let config = load("", &[("STRIPE_SECRET_KEY", "sk_test_supersecret"), ("STRIPE_PUBLISHABLE_KEY", "pk_test_x")]).unwrap();
        assert!(!format!("{config:?}").contains("supersecret"));
    }

    #[test]
    fn saved_methods_and_the_legacy_path_are_configurable() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.store.payment_method_creation, PaymentMethodCreation::ConfirmationToken);
        assert!(config.store.saved_methods.enabled && !config.store.saved_methods.require_cvc_recollection);
        let file = "[store]\npayment-method-creation = \"manual\"\n[store.saved-payment-methods]\nsave-usage = \"on_session\"\nredisplay-limit = 5\n";
        let config = load(file, &[("STORE_REQUIRE_CVC_RECOLLECTION", "true")]).unwrap();
        assert_eq!(config.store.payment_method_creation, PaymentMethodCreation::Manual);
        assert_eq!(config.store.saved_methods.save_usage.as_deref(), Some("on_session"));
        assert_eq!(config.store.saved_methods.redisplay_limit, 5);
        assert!(config.store.saved_methods.require_cvc_recollection);
        let error = load("[store.saved-payment-methods]\nredisplay-limit = 11\n", &[]).unwrap_err();
        assert_eq!(error.setting, "store.saved-payment-methods.redisplay-limit");
        let error = load("", &[("STORE_PAYMENT_METHOD_CREATION", "tokens")]).unwrap_err();
        assert_eq!(error.setting, "store.payment-method-creation");
    }

    #[test]
    fn capture_future_usage_and_method_types_are_configurable() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.store.capture_method, CaptureMethod::Automatic);
        assert_eq!((config.store.setup_future_usage, config.store.payment_method_types), (None, None));
        let file = "[store]\ncapture-method = \"manual\"\nsetup-future-usage = \"on_session\"\npayment-method-types = [\"card\", \"sepa_debit\"]\n";
        let config = load(file, &[]).unwrap();
        assert_eq!(config.store.capture_method, CaptureMethod::Manual);
        assert_eq!(config.store.setup_future_usage.as_deref(), Some("on_session"));
        assert_eq!(config.store.payment_method_types, Some(vec!["card".to_owned(), "sepa_debit".to_owned()]));
        // setup-future-usage takes the place of the CustomerSession's save usage.
        assert_eq!(config.store.saved_methods.save_usage, None);
        assert_eq!(config.store.card_setup_usage(), "on_session");
        let config = load("", &[("STORE_PAYMENT_METHOD_TYPES", "card, ideal"), ("STORE_CAPTURE_METHOD", "manual")]).unwrap();
        assert_eq!(config.store.payment_method_types, Some(vec!["card".to_owned(), "ideal".to_owned()]));
        assert_eq!(config.store.capture_method, CaptureMethod::Manual);

        for (vars, setting) in [
            (vec![("STORE_CAPTURE_METHOD", "later")], "store.capture-method"),
            (vec![("STORE_SETUP_FUTURE_USAGE", "always")], "store.setup-future-usage"),
            (vec![("STORE_PAYMENT_METHOD_TYPES", "card,Visa")], "store.payment-method-types"),
            (vec![("STORE_PAYMENT_METHOD_TYPES", "card,card")], "store.payment-method-types"),
            (vec![("STORE_PAYMENT_METHOD_TYPES", "card,")], "store.payment-method-types"),
        ] {
            assert_eq!(load("", &vars).unwrap_err().setting, setting, "{vars:?}");
        }
        let error = load("[store]\npayment-method-types = []\n", &[]).unwrap_err();
        assert_eq!(error.setting, "store.payment-method-types");
        // Stripe refuses payment_method_save_usage and setup_future_usage together.
        let both = "[store]\nsetup-future-usage = \"off_session\"\n[store.saved-payment-methods]\nsave-usage = \"off_session\"\n";
        assert_eq!(load(both, &[]).unwrap_err().setting, "store.saved-payment-methods.save-usage");
        // From the environment, setup-future-usage overrides the file's save usage.
        let file = "[store.saved-payment-methods]\nsave-usage = \"on_session\"\n";
        let config = load(file, &[("STORE_SETUP_FUTURE_USAGE", "off_session")]).unwrap();
        assert_eq!((config.store.setup_future_usage.as_deref(), config.store.saved_methods.save_usage), (Some("off_session"), None));
    }

    #[test]
    fn the_repository_leptos_toml_is_valid() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml")).unwrap();
        let config = load(&text, &[]).unwrap();
        assert_eq!(&*config.site.output_name, "storefront");
    }
}
