//! Issue 16's prototype, kept to measure the store against it: one webhook's unit of
//! work — a `payment_intent.succeeded` that fulfils its order (the event recorded once,
//! the order read and marked paid, its lines read, the confirmation queued, the lines
//! taken out of the cart) — on three SQLite data paths, in one process, on copies of one
//! database:
//!
//! 1. `store`: the store as built, `Store::apply_payment_event` (`src/store/db.rs`: the
//!    writer thread with group commit, the statements written once for both backends);
//! 2. `thread`: the first prototype, a dedicated thread owning a `rusqlite` connection
//!    runs each transaction as one closure (one hand-off per unit of work);
//! 3. `group`: the second, the same thread taking every unit of work queued meanwhile
//!    into one transaction (group commit), each under a savepoint.
//!
//! Before the store moved to (3), its row here was sqlx's `Any` driver with one writer
//! connection, every statement a round trip to that connection's thread: 1,031–1,234
//! events/s at 0.70–0.81 ms of CPU each (README, "The data path").
//!
//! `cargo run --release --example datapath --features ssr -- [events] [concurrency]`
//! prints events per second and the process's CPU time per event for each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use storefront::store::{AttemptResult, AttemptStart, NewOrder, OrderLine, PaymentEvent, Store};

type Work = Box<dyn FnOnce(&rusqlite::Connection) -> rusqlite::Result<()> + Send>;
type Reply = tokio::sync::oneshot::Sender<Result<(), String>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(32);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let seeded = dir.path().join("seeded.db");
    seed(&seeded, events).await;
    println!("{events} payment_intent.succeeded events, {concurrency} at a time, each fulfilling its own order (2 lines)");

    for path in ["store", "thread", "group"] {
        let db = dir.path().join(format!("{path}.db"));
        std::fs::copy(&seeded, &db).expect("a copy of the seeded database");
        let (elapsed, cpu) = match path {
            "store" => {
                let store = Store::connect(&format!("sqlite://{}", db.display())).await.expect("the store");
                timed(events, concurrency, move |n| {
                    let store = store.clone();
                    async move {
                        let (event_id, order_id, intent) = (format!("evt_{n}"), format!("ord_{n}"), format!("pi_{n}"));
                        let event = succeeded(&event_id, &order_id, &intent);
                        store.apply_payment_event(&event, 1).await.map(drop).map_err(|e| format!("{e:?}"))
                    }
                })
                .await
            }
            _ => {
                let writer = Writer::start(&db, path == "group");
                timed(events, concurrency, move |n| {
                    let writer = writer.clone();
                    async move { writer.run(Box::new(move |db| fulfil(db, n))).await }
                })
                .await
            }
        };
        check(&db, events);
        println!("{path:>7}: {:>7.0} events/s, {:.3} ms CPU per event", events as f64 / elapsed, cpu * 1000.0 / events as f64);
    }
}

/// `events` orders waiting for their payment, each with two lines still in its cart.
async fn seed(path: &std::path::Path, events: usize) {
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("the store");
    store.seed_inventory([("mug", 100_000_000), ("tote", 100_000_000)]).await.expect("stock");
    for n in 0..events {
        let (session, order_id) = (format!("s{n}"), format!("ord_{n}"));
        store.create_session(&session, 0).await.expect("a session");
        store.add_to_cart(&session, "mug", 2, 99, 0).await.expect("a mug");
        store.add_to_cart(&session, "tote", 1, 99, 0).await.expect("a tote");
        let line = |product_id: &str, unit_amount, quantity| OrderLine {
            product_id: product_id.to_owned(),
            name: product_id.to_owned(),
            unit_amount,
            quantity,
        };
        let order = NewOrder {
            id: order_id.clone(),
            amount: 5_000,
            discount_amount: 0,
            discount_code: None,
            currency: "eur".to_owned(),
            lines: vec![line("mug", 1_800, 2), line("tote", 1_400, 1)],
            email: None,
            locale: "en".to_owned(),
        };
        let AttemptStart::New(attempt) =
            store.start_attempt(&session, &order, &format!("ctoken_{n}"), None, 0, |_| None).await.expect("an attempt")
        else {
            panic!("order {n} was not created");
        };
        let intent = format!("pi_{n}");
        let result = AttemptResult {
            payment_intent_id: Some(&intent),
            outcome: &storefront::store::AttemptOutcome::Processing,
            order_status: storefront::store::OrderStatus::Confirming,
            clear_cart: false,
            details: None,
        };
        store.finish_attempt(&attempt, result, 0).await.expect("the attempt's result");
    }
    sqlx::query(&format!("VACUUM INTO '{}.tmp'", path.display())).execute(&sqlx_pool(path).await).await.expect("a checkpointed copy");
    std::fs::rename(format!("{}.tmp", path.display()), path).expect("the seeded database");
}

async fn sqlx_pool(path: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.expect("a pool")
}

fn succeeded<'a>(event_id: &'a str, order_id: &'a str, payment_intent_id: &'a str) -> PaymentEvent<'a> {
    PaymentEvent {
        event_id,
        event_type: "payment_intent.succeeded",
        order_id,
        payment_intent_id,
        amount: 5_000,
        amount_received: 5_000,
        currency: "eur",
    }
}

/// Runs `events` units of work, `concurrency` at a time, and returns the seconds they
/// took and the process's CPU seconds meanwhile.
async fn timed<F, Fut>(events: usize, concurrency: usize, work: F) -> (f64, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, work) = (next.clone(), work.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= events {
                        break;
                    }
                    work(n).await.expect("the unit of work");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a worker");
    }
    (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

/// The process's user and system CPU time so far (`/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Every order paid once, every event recorded once, every cart emptied.
fn check(path: &std::path::Path, events: usize) {
    let db = rusqlite::Connection::open(path).expect("the database");
    let count = |sql: &str| db.query_row(sql, [], |row| row.get::<_, i64>(0)).expect(sql);
    assert_eq!(count("SELECT count(*) FROM orders WHERE status = 'paid'"), events as i64);
    assert_eq!(count("SELECT count(*) FROM processed_events"), events as i64);
    assert_eq!(count("SELECT count(*) FROM outbox WHERE kind = 'order_confirmation'"), events as i64);
    assert_eq!(count("SELECT count(*) FROM cart_lines"), 0);
}

/// A thread that owns the one write connection and runs units of work sent to it.
#[derive(Clone)]
struct Writer(std::sync::mpsc::Sender<(Work, Reply)>);

impl Writer {
    fn start(path: &std::path::Path, group: bool) -> Writer {
        let db = rusqlite::Connection::open(path).expect("the database");
        db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .expect("pragmas");
        let (send, queue) = std::sync::mpsc::channel::<(Work, Reply)>();
        std::thread::spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut batch = vec![first];
                if group {
                    batch.extend(queue.try_iter().take(255));
                }
                run_batch(&db, batch);
            }
        });
        Writer(send)
    }

    async fn run(&self, work: Work) -> Result<(), String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.0.send((work, reply)).map_err(|_| "the writer stopped".to_owned())?;
        answer.await.map_err(|_| "the writer stopped".to_owned())?
    }
}

/// One transaction for the whole batch, a savepoint for each unit of work in it: a unit
/// that fails is rolled back alone. Replies go out once the batch is committed.
fn run_batch(db: &rusqlite::Connection, batch: Vec<(Work, Reply)>) {
    let began = db.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string());
    let mut replies = Vec::with_capacity(batch.len());
    for (work, reply) in batch {
        let result = began.clone().and_then(|()| {
            let unit = || -> rusqlite::Result<()> {
                db.execute_batch("SAVEPOINT unit")?;
                match work(db) {
                    Ok(()) => db.execute_batch("RELEASE unit"),
                    Err(error) => {
                        db.execute_batch("ROLLBACK TO unit; RELEASE unit")?;
                        Err(error)
                    }
                }
            };
            unit().map_err(|e| e.to_string())
        });
        replies.push((reply, result));
    }
    let committed = began.and_then(|()| db.execute_batch("COMMIT").map_err(|e| e.to_string()));
    for (reply, result) in replies {
        let _ = reply.send(committed.clone().and(result));
    }
}

/// The statements `Store::apply_payment_event` runs for a `payment_intent.succeeded`
/// that fulfils a reserved order, as one closure on the writer's thread.
fn fulfil(db: &rusqlite::Connection, n: usize) -> rusqlite::Result<()> {
    let (event_id, order_id, intent) = (format!("evt_{n}"), format!("ord_{n}"), format!("pi_{n}"));
    let inserted = db
        .prepare_cached(
            "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES (?1, 'payment_intent.succeeded', 1, ?2)
             ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute((&event_id, &order_id))?;
    if inserted == 0 {
        return Ok(());
    }
    let (status, amount): (String, i64) = db
        .prepare_cached("SELECT status, amount FROM orders WHERE id = ?1")?
        .query_row([&order_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    if status == "paid" || amount != 5_000 {
        return Ok(());
    }
    let _reserved: i64 = db.prepare_cached("SELECT stock_reserved FROM orders WHERE id = ?1")?.query_row([&order_id], |row| row.get(0))?;
    db.prepare_cached(
        "UPDATE orders SET status = 'paid', payment_intent_id = ?2, updated_at = 1, stock_reserved = 1, amount_received = 5000 WHERE id = ?1",
    )?
    .execute((&order_id, &intent))?;
    let lines: Vec<(String, String, i64)> = db
        .prepare_cached("SELECT product_id, name, quantity FROM order_lines WHERE order_id = ?1 ORDER BY product_id")?
        .query_map([&order_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let summary: Vec<String> = lines.iter().map(|(_, name, quantity)| format!("{quantity} × {name}")).collect();
    let body = format!("Thank you for your order {order_id}: {}. It is paid and on its way.", summary.join(", "));
    db.prepare_cached(
        "INSERT INTO outbox (order_id, kind, body, created_at) VALUES (?1, 'order_confirmation', ?2, 1) ON CONFLICT DO NOTHING",
    )?
    .execute((&order_id, &body))?;
    let session: Option<String> = db
        .prepare_cached("UPDATE orders SET cart_cleared = 1 WHERE id = ?1 AND cart_cleared = 0 RETURNING session_id")?
        .query_row([&order_id], |row| row.get(0))
        .ok();
    if let Some(session) = session {
        for (product_id, _, quantity) in &lines {
            db.prepare_cached("DELETE FROM cart_lines WHERE session_id = ?1 AND product_id = ?2 AND quantity <= ?3")?
                .execute((&session, product_id, quantity))?;
            db.prepare_cached("UPDATE cart_lines SET quantity = quantity - ?1 WHERE session_id = ?2 AND product_id = ?3")?
                .execute((quantity, &session, product_id))?;
        }
    }
    Ok(())
}
