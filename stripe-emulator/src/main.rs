//! `stripe-emulator`: run the emulator as its own process.

use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;
use stripe_emulator::{Config, DeliveryMode, WebhookEndpoint};

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
    /// Retries of a failed delivery: `sandbox` (default: three over a few hours, as in a
    /// Stripe sandbox), `live` (three days), or seconds before each, comma-separated.
    #[arg(long, env = "STRIPE_EMULATOR_RETRY_SCHEDULE", value_delimiter = ',')]
    retry_schedule: Vec<String>,
    /// Deliver every event twice (exercises a receiver's dedupe).
    #[arg(long, env = "STRIPE_EMULATOR_DUPLICATE_DELIVERIES")]
    duplicate_deliveries: bool,
    /// Deliver the events of each request in random order (exercises a receiver's ordering).
    #[arg(long, env = "STRIPE_EMULATOR_SHUFFLE_DELIVERIES")]
    shuffle_deliveries: bool,
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
    config.delivery = DeliveryMode { duplicate: args.duplicate_deliveries, shuffle: args.shuffle_deliveries };
    match args.retry_schedule.as_slice() {
        [] => {}
        [name] if Config::retries(name).is_some() => config.retry_schedule = Config::retries(name).unwrap_or_default(),
        seconds => match seconds.iter().map(|s| s.trim().parse::<f64>()).collect::<Result<Vec<f64>, _>>() {
            Ok(seconds) => config.retry_schedule = seconds.into_iter().map(|s| Duration::from_secs_f64(s.max(0.0))).collect(),
            Err(_) => {
                eprintln!("--retry-schedule is sandbox, live, or seconds separated by commas");
                return std::process::ExitCode::from(2);
            }
        },
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
