//! Create-and-confirm throughput of the emulator (a benchmark, not a test).
//!
//! `cargo run --release -p stripe-emulator --example throughput [seconds] [connections]`
//!
//! Each request pair is what a storefront's checkout costs the emulator: a test-helper
//! ConfirmationToken, then `POST /v1/payment_intents` with `confirm=true` and an
//! idempotency key. The load generator shares the machine with the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let connections: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(32);
    let config = stripe_emulator::Config { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let emulator = stripe_emulator::spawn(config).await.expect("start the emulator");
    let base = emulator.base_url().to_owned();
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (client, base, done, failed) = (client.clone(), base.clone(), Arc::clone(&done), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let token: serde_json::Value = match client
                    .post(format!("{base}/v1/test_helpers/confirmation_tokens"))
                    .bearer_auth("sk_test_bench")
                    .form(&[("payment_method", "pm_card_visa")])
                    .send()
                    .await
                {
                    Ok(response) => response.json().await.unwrap_or_default(),
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let token = token["id"].as_str().unwrap_or_default().to_owned();
                let reply = client
                    .post(format!("{base}/v1/payment_intents"))
                    .bearer_auth("sk_test_bench")
                    .header("Idempotency-Key", format!("bench-{worker}-{n}"))
                    .form(&[
                        ("amount", "1099"),
                        ("currency", "eur"),
                        ("confirm", "true"),
                        ("confirmation_token", token.as_str()),
                        ("return_url", "https://shop.example/done"),
                    ])
                    .send()
                    .await;
                match reply {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let checkouts = done.load(Ordering::Relaxed);
    println!(
        "{checkouts} create+confirm checkouts in {elapsed:.1} s with {connections} connections: {:.0} checkouts/s ({:.0} requests/s), {} failed",
        checkouts as f64 / elapsed,
        2.0 * checkouts as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    emulator.stop().await;
}
