//! Upgrading a database that already holds orders: the migrations after the one a shop
//! last ran keep every row. SQLite rebuilds `orders` to widen its status CHECK, and
//! again to let an invoice's order be 0 (`migrations/sqlite/`), and dropping the old
//! table would cascade to the order lines if they were not kept aside.
//! Backend: runs once (on SQLite, the backend whose migration rebuilds a table).

use sqlx::Row;
use storefront::store::{OrderFilter, Store};

/// The last migration before the status CHECK gained `authorized`.
const BEFORE_REBUILD: i64 = 20261201000012;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_keeps_every_order_its_lines_attempts_messages_and_refunds() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    sqlx::any::install_default_drivers();
    {
        // The database as the previous release left it, with a paid and refunded order
        // and a failed one.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|connection, _| {
                Box::pin(async move { sqlx::Executor::execute(connection, "PRAGMA foreign_keys = ON").await.map(|_| ()) })
            })
            .connect(&url)
            .await
            .unwrap();
        let shared = sqlx::migrate!("./migrations");
        let earlier: Vec<_> = shared.iter().filter(|m| m.version <= BEFORE_REBUILD).cloned().collect();
        let migrator = sqlx::migrate::Migrator { migrations: earlier.into(), ..sqlx::migrate::Migrator::DEFAULT };
        migrator.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO sessions (id, created_at, last_seen_at) VALUES ('s1', 1, 1)",
            "INSERT INTO orders (id, session_id, status, amount, currency, created_at, updated_at, amount_refunded, flag)
             VALUES ('ord_1', 's1', 'paid', 3600, 'eur', 1, 1, 1000, 'dispute_lost'), ('ord_2', 's1', 'failed', 1800, 'eur', 2, 2, 0, 'amount_mismatch'),
                    ('ord_3', 's1', 'paid', 1800, 'eur', 3, 3, 0, NULL), ('ord_4', 's1', 'paid', 1800, 'eur', 4, 4, 0, NULL)",
            "INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity)
             VALUES ('ord_1', 'mug', 'Mug', 1800, 2), ('ord_2', 'tote', 'Tote', 1800, 1)",
            "INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount, currency, created_at)
             VALUES ('ord_1', 1, 'ctoken_1', 'ord_1-attempt-1', 3600, 'eur', 1)",
            // Payments left waiting for the shopper: by card (3-D Secure) and by voucher.
            "INSERT INTO orders (id, session_id, status, amount, currency, created_at, updated_at, amount_refunded, payment_method_type)
             VALUES ('ord_5', 's1', 'confirming', 1800, 'eur', 5, 5, 0, 'card'), ('ord_6', 's1', 'confirming', 1800, 'eur', 6, 6, 0, 'multibanco'),
                    ('ord_7', 's1', 'failed', 1800, 'eur', 7, 7, 0, 'card')",
            "INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount, currency, payment_intent_id, outcome, created_at)
             VALUES ('ord_5', 1, 'ctoken_5', 'ord_5-attempt-1', 1800, 'eur', 'pi_5', 'requires_action', 5),
                    ('ord_6', 1, 'ctoken_6', 'ord_6-attempt-1', 1800, 'eur', 'pi_6', 'requires_action', 6),
                    ('ord_7', 1, 'ctoken_7', 'ord_7-attempt-1', 1800, 'eur', 'pi_7', 'requires_action', 7)",
            "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ('ord_1', 'order_confirmation', 'Thank you', 1)",
            "INSERT INTO refunds (id, order_id, amount, currency, status, counted, created_at, updated_at)
             VALUES ('re_1', 'ord_1', 1000, 'eur', 'succeeded', 1, 1, 1), ('re_3', 'ord_3', 1800, 'eur', 'failed', 0, 3, 3)",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }

    // The new release starts: the remaining migrations run.
    let store = Store::connect(&url).await.unwrap();
    let order = store.order_for_merchant("ord_1").await.unwrap().unwrap();
    assert_eq!((order.status.as_str(), order.lines.len(), order.refunded), ("paid", 1, 1000));
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(store.order_for_merchant("ord_2").await.unwrap().unwrap().lines.len(), 1);
    assert_eq!(store.attempts("ord_1").await.unwrap().len(), 1);
    assert_eq!(store.outbox_for("ord_1").await.unwrap().len(), 1);
    assert_eq!(store.refunds_of("ord_1").await.unwrap().refunds.len(), 1);
    assert_eq!(store.order_flags("ord_1").await.unwrap().flags, ["dispute_lost"]);
    assert_eq!(store.order_flags("ord_2").await.unwrap().flags, ["amount_mismatch"]);
    // A card's payment still waiting is now one for 3-D Secure, which reconciliation
    // gives up once its shopper has left it; the voucher still waits for its customer.
    let abandoned = store.abandoned_authentications(i64::MAX).await.unwrap();
    assert_eq!(abandoned.iter().map(|attempt| attempt.order_id.as_str()).collect::<Vec<_>>(), ["ord_5"]);
    // The merchant's flagged orders include those flagged before the filter existed.
    let flagged = store.orders_page(OrderFilter::Flagged, None, 10).await.unwrap();
    assert_eq!(flagged.iter().map(|order| order.id.as_str()).collect::<Vec<_>>(), ["ord_3", "ord_2", "ord_1"]);

    // The new status is accepted, the old references still hold.
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    sqlx::query("UPDATE orders SET status = 'authorized' WHERE id = 'ord_2'").execute(&pool).await.unwrap();
    // An invoice's order may be 0 (the customer's credit or a coupon paid it); an order
    // the checkout charges may not.
    assert!(sqlx::query("UPDATE orders SET amount = 0 WHERE id = 'ord_3'").execute(&pool).await.is_err());
    sqlx::query("UPDATE orders SET amount = 0, invoice_id = 'in_4' WHERE id = 'ord_4'").execute(&pool).await.unwrap();
    // A dispute's flag moved to its own column, beside the order's own flag (which a
    // later dispute would otherwise have replaced).
    let flags: Vec<(String, Option<String>, Option<String>)> = sqlx::query("SELECT id, flag, dispute FROM orders ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get("id").unwrap(), row.try_get("flag").unwrap(), row.try_get("dispute").unwrap()))
        .collect();
    let expected =
        [("ord_1", None, Some("dispute_lost")), ("ord_2", Some("amount_mismatch"), None), ("ord_3", None, None), ("ord_4", None, None)]
            .into_iter()
            .chain(["ord_5", "ord_6", "ord_7"].map(|id| (id, None, None)))
            .map(|(id, flag, dispute): (&str, Option<&str>, Option<&str>)| {
                (id.to_owned(), flag.map(str::to_owned), dispute.map(str::to_owned))
            })
            .collect::<Vec<_>>();
    assert_eq!(flags, expected);
    let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&pool).await.unwrap();
    assert!(broken.is_empty(), "{} rows point at no order", broken.len());
    let indexes: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("name").unwrap())
            .collect();
    for index in [
        "orders_by_session",
        "orders_by_status",
        "orders_by_account",
        "orders_by_created",
        "orders_by_invoice",
        "orders_flagged",
        "orders_by_subscription",
    ] {
        assert!(indexes.iter().any(|name| name == index), "the orders' index {index} is back: {indexes:?}");
    }
}
