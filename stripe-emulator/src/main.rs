//! `stripe-emulator`: run the emulator as its own process.

use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_emulator::{Config, WebhookEndpoint};

/// An offline, stateful stand-in for the Stripe API, Stripe.js and webhooks.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "STRIPE_EMULATOR_ADDR", default_value = "127.0.0.1:12111")]
    addr: SocketAddr,
    /// Where to deliver events (repeat for several endpoints).
    #[arg(long, env = "STRIPE_EMULATOR_WEBHOOK_URL", value_delimiter = ',')]
    webhook_url: Vec<String>,
    /// Secret that signs deliveries (`whsec_…`); generated and printed when absent.
    #[arg(long, env = "STRIPE_EMULATOR_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
    /// Seconds to wait before each retry of a failed delivery, comma-separated.
    #[arg(long, env = "STRIPE_EMULATOR_RETRY_SCHEDULE", value_delimiter = ',')]
    retry_schedule: Vec<f64>,
    /// Seconds a delayed payment method stays `processing`.
    #[arg(long, env = "STRIPE_EMULATOR_PROCESSING_DELAY", default_value_t = 3.0)]
    processing_delay: f64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    let generated = args.webhook_secret.is_none();
    let secret = args.webhook_secret.unwrap_or_else(stripe_emulator::webhooks::new_secret);
    if !secret.starts_with("whsec_") {
        eprintln!("--webhook-secret must start with whsec_");
        return std::process::ExitCode::from(2);
    }
    let mut config = Config {
        addr: args.addr,
        webhooks: args.webhook_url.iter().map(|url| WebhookEndpoint { url: url.clone(), secret: secret.clone() }).collect(),
        processing_delay: Duration::from_secs_f64(args.processing_delay.max(0.0)),
        ..Config::default()
    };
    if !args.retry_schedule.is_empty() {
        config.retry_schedule = args.retry_schedule.iter().map(|s| Duration::from_secs_f64(s.max(0.0))).collect();
    }
    let emulator = match stripe_emulator::spawn(config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.addr);
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!("Stripe emulator on {} (API /v1, Stripe.js /v3/, control /_emulator)", emulator.base_url());
    if !args.webhook_url.is_empty() {
        // Like `stripe listen`, show a generated test secret so it can be configured;
        // a secret that was given is never printed.
        let shown = if generated { secret.as_str() } else { "the given secret" };
        tracing::info!("delivering events to {} signed with {shown}", args.webhook_url.join(", "));
    }
    tokio::select! {
        () = emulator.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    std::process::ExitCode::SUCCESS
}
