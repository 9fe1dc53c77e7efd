//! Connecting to Stripe at start-up: the configured account, or — with no secret key —
//! an embedded Stripe emulator, said loudly in the log.

use crate::config::Config;
#[cfg(feature = "emulator")]
use crate::secret::Secret;
use crate::state::Payments;
use anyhow::Context;

/// Stripe's API, and the Stripe.js of `stripe::API_VERSION`'s release (`endive`, as
/// `@stripe/stripe-js` 10 loads it): its Elements options and the intents the server
/// makes are of one version.
const STRIPE_API: &str = "https://api.stripe.com";
const STRIPE_JS: &str = "https://js.stripe.com/endive/stripe.js";

/// The embedded Stripe emulator (feature `emulator`).
#[cfg(feature = "emulator")]
pub use stripe_emulator::Emulator;

/// A build without the emulator: no value of this type exists.
#[cfg(not(feature = "emulator"))]
pub enum Emulator {}

#[cfg(not(feature = "emulator"))]
impl Emulator {
    pub fn base_url(&self) -> &str {
        match *self {}
    }

    pub async fn stop(self) {
        match self {}
    }
}

/// Connects to Stripe; the emulator, when one is started, must be kept alive as long as
/// the server runs.
pub async fn connect(config: &Config, public_url: &str) -> anyhow::Result<(Payments, Option<Emulator>)> {
    let timeout = config.stripe.timeout;
    if let (Some(secret), Some(publishable)) = (&config.stripe.secret_key, &config.stripe.publishable_key) {
        let api_base = config.stripe.api_base.as_deref().unwrap_or(STRIPE_API);
        let stripe = crate::stripe::Client::new(api_base, secret.clone(), timeout).context("cannot build the HTTP client for Stripe")?;
        tracing::info!(api = api_base, mode = ?config.stripe.mode(), "using the Stripe account of STRIPE_SECRET_KEY");
        let js_url = config.stripe.js_url.clone().unwrap_or_else(|| STRIPE_JS.to_owned());
        if config.stripe.webhook_secrets.is_empty() {
            tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: every webhook delivery will be refused, so orders are never marked paid");
        }
        let webhook_secrets = config.stripe.webhook_secrets.clone();
        return Ok((Payments { stripe, publishable_key: publishable.clone(), js_url, webhook_secrets }, None));
    }
    embedded(config, public_url).await
}

#[cfg(not(feature = "emulator"))]
async fn embedded(_config: &Config, _public_url: &str) -> anyhow::Result<(Payments, Option<Emulator>)> {
    anyhow::bail!(
        "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are not set, and this build has no embedded Stripe emulator \
         (it was built without the `emulator` feature): set your Stripe keys"
    )
}

/// No Stripe account: the embedded emulator, which delivers its events to this server
/// signed with the configured secret or one made for this run.
#[cfg(feature = "emulator")]
async fn embedded(config: &Config, public_url: &str) -> anyhow::Result<(Payments, Option<Emulator>)> {
    let timeout = config.stripe.timeout;
    let secret = config.stripe.webhook_secrets.first().map_or_else(stripe_emulator::webhooks::new_secret, |s| s.expose().to_owned());
    let emulator = stripe_emulator::spawn(stripe_emulator::Config {
        addr: config.stripe.emulator_addr,
        webhooks: vec![stripe_emulator::WebhookEndpoint { url: format!("{public_url}/webhook"), secret: secret.clone() }],
        retry_schedule: [1, 5, 30, 120, 600, 3600].into_iter().map(std::time::Duration::from_secs).collect(),
        ..Default::default()
    })
    .await
    .with_context(|| {
        format!(
            "no STRIPE_SECRET_KEY, so the embedded Stripe emulator should listen on {} (STRIPE_EMULATOR_ADDR), but it cannot",
            config.stripe.emulator_addr
        )
    })?;
    let base = emulator.base_url().to_owned();
    tracing::warn!(
        "no STRIPE_SECRET_KEY: payments go to the embedded Stripe emulator at {base} (offline test mode; \
         set STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY to use your Stripe account)"
    );
    let stripe = crate::stripe::Client::new(&base, Secret::new("sk_test_embedded_emulator"), timeout)
        .context("cannot build the HTTP client for the emulator")?;
    let payments = Payments {
        stripe,
        publishable_key: "pk_test_embedded_emulator".into(),
        js_url: format!("{base}/v3/"),
        webhook_secrets: vec![Secret::new(secret)],
    };
    Ok((payments, Some(emulator)))
}

#[cfg(test)]
mod tests {
    /// Stripe.js comes in releases named as the API's (`2026-10-28.endive`: `endive`).
    /// The one loaded by default is the pinned version's, so that Elements' options and
    /// the intents the server makes are of one version.
    #[test]
    fn stripe_js_is_the_pinned_api_versions_release() {
        let (_, release) = crate::stripe::API_VERSION.split_once('.').expect("a named release");
        assert_eq!(super::STRIPE_JS, format!("https://js.stripe.com/{release}/stripe.js"));
    }
}
