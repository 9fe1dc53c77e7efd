//! Per-request cost must not grow with the order history: every SQL statement the
//! shopper, webhook, subscription and merchant paths run is captured (from the store's
//! statement log) while they run for real against a store, then planned by SQLite
//! (`EXPLAIN QUERY PLAN`) and by PostgreSQL (a generic plan): none may scan a table
//! that grows with orders, sessions, accounts, subscriptions or events. Statements are found by
//! running the code, not listed by hand, so a new query is checked as soon as a path
//! runs it.
//!
//! Needs PostgreSQL: `scripts/with-postgres cargo test --features ssr --test query_plans`.
//! Backend: runs once (on SQLite, then on PostgreSQL: it reads each one's plans).

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use storefront::store::{
    AttemptOutcome, AttemptResult, AttemptStart, DisputeReport, DisputeStage, ItemTerms, Limit, NewOrder, NewSubscription, OrderFilter,
    OrderLine, OrderStatus, PaidInvoice, PaymentEvent, RefundReport, RefundStatus, SignIn, Store, SubscriptionState, SubscriptionTerms,
};

fn result(outcome: &AttemptOutcome, clear_cart: bool) -> AttemptResult<'_> {
    AttemptResult { payment_intent_id: Some("pi_1"), outcome, order_status: OrderStatus::Confirming, clear_cart, details: None }
}
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Collects every statement the store runs (its `store::sql` events): its SQL text and
/// its parameters' types.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<BTreeSet<Statement>>>);

#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Statement {
    sql: String,
    /// `int,text,…`: how the store binds `$1`, `$2`, ….
    params: String,
}

#[derive(Default)]
struct StatementVisitor(Statement);

impl Visit for StatementVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "sql" => self.0.sql = value.split_whitespace().collect::<Vec<_>>().join(" "),
            "params" => self.0.params = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "store::sql" {
            return;
        }
        let mut visitor = StatementVisitor::default();
        event.record(&mut visitor);
        self.0.lock().unwrap().insert(visitor.0);
    }
}

/// Tables whose size grows with the shop's history.
const GROWING: &[&str] = &[
    "orders",
    "order_lines",
    "payment_attempts",
    "processed_events",
    "sessions",
    "cart_lines",
    "accounts",
    "rate_limit_hits",
    "outbox",
    "subscriptions",
    "subscription_attempts",
    "subscription_claims",
];

/// The table that `name` (a table, or an alias: `FROM subscriptions s`) stands for in `sql`.
fn table_of(sql: &str, name: &str) -> String {
    let words: Vec<&str> = sql.split(|c: char| c.is_whitespace() || "(),".contains(c)).filter(|w| !w.is_empty()).collect();
    for (i, word) in words.iter().enumerate() {
        let (Some(table), Some(next)) = (words.get(i + 1), words.get(i + 2)) else { break };
        let alias = if next.eq_ignore_ascii_case("AS") { words.get(i + 3).copied() } else { Some(*next) };
        if (word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("JOIN")) && alias == Some(name) {
            return (*table).to_owned();
        }
    }
    name.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_statement_on_the_hot_paths_scans_a_growing_table() {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(statements.clone().with_filter(tracing_subscriber::filter::Targets::new().with_target("store::sql", tracing::Level::TRACE)));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("plans.db").display());
    let scans = sqlite_scans(&url, run_every_path(&url, &statements).await).await;
    assert!(scans.is_empty(), "SQLite: full scans of growing tables:\n{}", scans.join("\n"));

    assert!(support::postgres_url().is_some(), "this test needs PostgreSQL too: run it through scripts/with-postgres (make test does)");
    let url = support::postgres_schema();
    let scans = postgres_scans(&url, run_every_path(&url, &statements).await).await;
    assert!(scans.is_empty(), "PostgreSQL: full scans of growing tables:\n{}", scans.join("\n"));
}

/// Runs what the shop does for a shopper, for Stripe and for the merchant, end to end,
/// through a store on `url`; returns every statement it ran (the migrations' aside).
async fn run_every_path(url: &str, statements: &Statements) -> Vec<Statement> {
    let store = Store::connect(url).await.unwrap();
    statements.0.lock().unwrap().clear(); // the migrations
    store.seed_inventory([("mug", 50_u32), ("tote", 50)]).await.unwrap();
    store.stock_of_products(&["mug", "tote"]).await.unwrap();
    store.create_session("s", 0).await.unwrap();
    store.live_session("s", -1).await.unwrap();
    store.visit(Some("s"), -1, vec!["mug".into(), "tote".into()]).await.unwrap();
    store.touch_session("s", 1).await.unwrap();
    store.add_to_cart("s", "mug", 1, 99, 0).await.unwrap();
    store.set_cart_quantity("s", "tote", 2, 0).await.unwrap();
    store.set_session_discount("s", Some("WELCOME10")).await.unwrap();
    store.add_to_cart("s", "tote", 1, 99, 0).await.unwrap();
    store.remove_cart_line("s", "tote").await.unwrap();
    store.set_cart_quantity("s", "tote", 2, 0).await.unwrap();
    store.cart("s").await.unwrap();
    store.stock_of("mug").await.unwrap();
    let order = NewOrder {
        id: "ord_1".into(),
        amount: 5400,
        discount_amount: 0,
        discount_code: None,
        currency: "eur".into(),
        lines: vec![OrderLine { product_id: "mug".into(), name: "Mug".into(), unit_amount: 1800, quantity: 3 }],
        email: Some("jenny@example.com".into()),
        locale: "en".into(),
    };
    store.payment_basis("s", "ctoken_1").await.unwrap();
    let AttemptStart::New(attempt) =
        store.start_attempt("s", &order, "ctoken_1", Some("cus_1"), 1, |_| Some("amount=5400".into())).await.unwrap()
    else {
        panic!()
    };
    store.finish_attempt(&attempt, result(&AttemptOutcome::parse("requires_action"), false), 2).await.unwrap();
    let AttemptStart::Replay(_) = store.start_attempt("s", &order, "ctoken_1", None, 3, |_| None).await.unwrap() else { panic!() };
    // Succeeded, with where to ship (kept on the order, and remembered by the session).
    let shipping = storefront::store::PaymentDetails { shipping: Some(r#"{"name":"Jenny"}"#.into()), ..Default::default() };
    let succeeded = AttemptOutcome::parse("succeeded");
    store.finish_attempt(&attempt, AttemptResult { details: Some(&shipping), ..result(&succeeded, true) }, 4).await.unwrap();
    store.unresolved_attempts(4).await.unwrap();
    store.order_id_for_payment_intent("pi_1", "s").await.unwrap();
    store.order_of_session("ord_1", "s").await.unwrap();
    store.attempts("ord_1").await.unwrap();
    for (id, kind) in [
        ("evt_1", "payment_intent.processing"),
        ("evt_2", "payment_intent.succeeded"),
        ("evt_2", "payment_intent.succeeded"),
        ("evt_3", "payment_intent.payment_failed"),
    ] {
        let event = PaymentEvent {
            event_id: id,
            event_type: kind,
            order_id: "ord_1",
            payment_intent_id: "pi_1",
            amount: 5400,
            amount_received: 5400,
            currency: "eur",
        };
        store.apply_payment_event(&event, 5).await.unwrap();
    }
    // The merchant refunds it (and Stripe reports a refund made in the Dashboard); then
    // a dispute, from inquiry to outcome.
    for (id, order_id) in [("re_1", Some("ord_1")), ("re_2", None)] {
        let report = RefundReport {
            id,
            order_id,
            payment_intent_id: "pi_1",
            amount: 100,
            currency: "eur",
            reason: None,
            status: RefundStatus::Succeeded,
            failure_reason: None,
            restock: order_id.is_some(),
        };
        store.record_refund(&report, 6).await.unwrap();
    }
    store.refunds_of("ord_1").await.unwrap();
    for (id, kind, stage) in [
        ("evt_d1", "charge.dispute.created", DisputeStage::Inquiry),
        ("evt_d2", "charge.dispute.created", DisputeStage::Opened),
        ("evt_d3", "charge.dispute.closed", DisputeStage::Lost),
    ] {
        let report = DisputeReport { stage, due_by: Some(100), reason: Some("fraudulent") };
        store.flag_dispute(id, kind, "pi_1", &report, 6).await.unwrap();
    }
    store.orders_to_reconcile(10, 0).await.unwrap();
    store.abandoned_authentications(10).await.unwrap();
    store.expire_sessions(-1, 10).await.unwrap();
    assert!(store.create_account("acct_1", "a@example.com", "a@example.com", "hash", 6).await.unwrap());
    store.account_by_email("a@example.com").await.unwrap();
    let per = Limit { max: 5, window_secs: 900 };
    let scopes = [("sign_in:email:a@example.com".to_owned(), per), ("sign_in:ip:127.0.0.1".to_owned(), per)];
    assert_eq!(store.take_rate_slot(&scopes, Some("signin_1"), 7).await.unwrap(), None);
    store.forgive("signin_1", "sign_in:email:a@example.com").await.unwrap();
    store.sign_in(SignIn { account_id: "acct_1", previous_session: Some("s"), new_session: "s2", now: 8 }).await.unwrap();
    store.account_of_session("s2").await.unwrap();
    store.set_stripe_customer("acct_1", "cus_1", "en").await.unwrap();
    store.forget_stripe_customer("cus_1").await.unwrap();
    store.set_stripe_customer("acct_1", "cus_2", "en").await.unwrap();
    store.account_history("acct_1", 20, None).await.unwrap();
    store.account_history("acct_1", 20, Some((8, "ord_1".into()))).await.unwrap();
    store.account_for_checkout("acct_1", Some("beans")).await.unwrap();
    // A subscription: bought, its first invoice paid, renewed, listed.
    let state = SubscriptionState {
        status: "active".into(),
        current_period_end: Some(100),
        cancel_at_period_end: false,
        cancel_at: None,
        collection_paused: false,
        collection_resumes_at: None,
        renewal_card: None,
        cancellation_reason: None,
        next_payment_attempt: None,
    };
    let terms = SubscriptionTerms {
        product_id: "beans".into(),
        name: "Beans".into(),
        quantity: 1,
        unit_amount: 1200,
        currency: "eur".into(),
        interval: "month".into(),
        interval_count: 1,
    };
    store.open_subscription("acct_1", "beans").await.unwrap();
    let subscription = NewSubscription {
        id: "sub_1".into(),
        account_id: "acct_1".into(),
        session_id: "s2".into(),
        terms,
        first_invoice_id: "in_1".into(),
        first_payment_intent_id: Some("pi_s1".into()),
        email: None,
        locale: "en".into(),
        state: state.clone(),
    };
    store.insert_subscription(subscription, 8, 8).await.unwrap();
    store.token_subscribed("ctoken_s1").await.unwrap();
    store.record_subscription_attempt("ctoken_s1", "sub_1", "pi_s1", 8).await.unwrap();
    store.subscription_attempt("ctoken_s1", "acct_1").await.unwrap();
    store.subscription_setup("seti_s1").await.unwrap();
    assert!(store.claim_subscription("acct_1", "beans", "ctoken_s2", 8, 100).await.unwrap());
    store.release_subscription_claim("acct_1", "beans", "ctoken_s2").await.unwrap();
    store.subscription_for_payment_intent("pi_s1", "acct_1").await.unwrap();
    store.live_subscriptions_with_a_card("acct_1").await.unwrap();
    store.sync_subscription("sub_1", state, ItemTerms { quantity: Some(2), unit_amount: Some(1_500) }, 9, 9).await.unwrap();
    for invoice in ["in_1", "in_2", "in_2"] {
        let paid = PaidInvoice {
            invoice_id: invoice.into(),
            subscription_id: "sub_1".into(),
            payment_intent_id: Some(format!("pi_{invoice}")),
            amount: 1200,
            total: 1200,
            currency: "eur".into(),
            quantity: Some(1),
        };
        store.record_paid_invoice(paid, 9).await.unwrap();
    }
    store.order_for_invoice("in_2").await.unwrap();
    assert!(store.subscribed_before("acct_1", "beans").await.unwrap());
    store.queue_renewal_failed("sub_1", "in_3", 9).await.unwrap();
    store.queue_trial_ending("sub_1", 1_000, 9).await.unwrap();
    store.subscription("sub_1").await.unwrap();
    store.subscriptions_page(None, 50).await.unwrap();
    store.subscriptions_page(Some((8, "sub_1".into())), 50).await.unwrap();
    store.account_history("acct_1", 20, None).await.unwrap();
    store.end_session("s2", 9).await.unwrap();
    let limit = storefront::store::Limit { max: 5, window_secs: 600 };
    store.take_rate_slot(&[("confirm:session:s".to_owned(), limit), ("confirm:ip:127.0.0.1".to_owned(), limit)], None, 10).await.unwrap();
    // The merchant's view.
    store.list_orders(None, 50).await.unwrap();
    store.list_orders(Some(OrderStatus::Paid), 50).await.unwrap();
    store.orders_page(OrderFilter::All, Some((5, "ord_1".into())), 50).await.unwrap();
    store.orders_page(OrderFilter::Status(OrderStatus::Paid), Some((5, "ord_1".into())), 50).await.unwrap();
    store.orders_page(OrderFilter::Flagged, None, 50).await.unwrap();
    store.orders_page(OrderFilter::Subscription("sub_1".into()), None, 50).await.unwrap();
    store.orders_page(OrderFilter::Subscription("sub_1".into()), Some((5, "ord_1".into())), 50).await.unwrap();
    store.orders_page(OrderFilter::Flagged, Some((5, "ord_1".into())), 50).await.unwrap();
    store.order_for_merchant("ord_1").await.unwrap();
    store.order_events("ord_1").await.unwrap();
    store.outbox_for("ord_1").await.unwrap();
    store.order_flags("ord_1").await.unwrap();
    store.mark_handled("ord_1", 0, 33).await.unwrap();
    store.waiting_orders(101).await.unwrap();
    // The mail sender.
    for message in store.claim_messages(20, 120, 20).await.unwrap() {
        store.message_not_sent(&message, 30, Some(60), "down").await.unwrap();
        store.message_not_sent(&message, 31, None, "refused").await.unwrap();
        store.message_sent(&message, 32).await.unwrap();
    }
    store.order_events("ord_1").await.unwrap();
    store.outbox_for("ord_1").await.unwrap();

    let captured: Vec<Statement> = statements.0.lock().unwrap().iter().cloned().collect();
    assert!(captured.len() >= 30, "only {} statements were captured", captured.len());
    captured
        .into_iter()
        .filter(|statement| {
            let upper = statement.sql.to_uppercase();
            !["BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "CREATE", "ALTER", "SAVEPOINT", "RELEASE", "SET "]
                .iter()
                .any(|k| upper.starts_with(k))
                && !upper.contains("_SQLX_MIGRATIONS")
        })
        .collect()
}

/// SQLite's plans (`EXPLAIN QUERY PLAN`) of `statements` that read a growing table whole.
async fn sqlite_scans(url: &str, statements: Vec<Statement>) -> Vec<String> {
    let inspector = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut scans = Vec::new();
    for Statement { sql, .. } in &statements {
        let upper = sql.to_uppercase();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&inspector).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        // Walking an index in order under a LIMIT reads only that many rows, unless the
        // rows are sorted afterwards: then every one is read first.
        let sorted = plan.iter().any(|(_, _, _, detail)| detail.starts_with("USE TEMP B-TREE FOR ORDER BY"));
        for (_, _, _, detail) in &plan {
            let scanned = detail.strip_prefix("SCAN ").map(|rest| rest.split_whitespace().next().unwrap_or_default());
            let bounded = detail.contains(" USING ") && detail.contains("INDEX") && upper.contains(" LIMIT ") && !sorted;
            if let Some(table) = scanned.filter(|_| !bounded).map(|name| table_of(sql, name))
                && GROWING.contains(&table.as_str())
            {
                scans.push(format!("{detail}  ←  {sql}"));
            }
        }
    }
    scans
}

/// PostgreSQL's generic plans (the plan for any parameters, as a prepared statement gets
/// once it is reused) of `statements` that read a growing table whole. Sequential scans
/// are priced out (`enable_seqscan = off`), so one is planned only where no index can
/// serve: the tables here are nearly empty, and cost alone would pick a scan of each.
async fn postgres_scans(url: &str, statements: Vec<Statement>) -> Vec<String> {
    use sqlx::{Connection, Executor, Row};
    let mut inspector = sqlx::PgConnection::connect(url).await.unwrap();
    inspector.execute("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan").await.unwrap();
    let mut scans = Vec::new();
    for Statement { sql, params } in &statements {
        // Typed as the store binds them (sqlx sends their types), not as PostgreSQL would
        // guess them from the text.
        let types: Vec<&str> =
            params.split(',').filter(|kind| !kind.is_empty()).map(|kind| if kind == "int" { "bigint" } else { "text" }).collect();
        let prepare = match types.is_empty() {
            true => format!("PREPARE planned AS {sql}"),
            false => format!("PREPARE planned ({}) AS {sql}", types.join(", ")),
        };
        inspector.execute(prepare.as_str()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let explain = match types.is_empty() {
            true => "EXPLAIN EXECUTE planned".to_owned(),
            false => format!("EXPLAIN EXECUTE planned({})", vec!["NULL"; types.len()].join(", ")),
        };
        let plan: Vec<String> =
            inspector.fetch_all(explain.as_str()).await.unwrap_or_else(|e| panic!("{sql}: {e}")).iter().map(|row| row.get(0)).collect();
        inspector.execute("DEALLOCATE planned").await.unwrap();
        // A scan node reads a growing table whole unless an index condition bounds it, or
        // it walks an index in order under a LIMIT with nothing sorted after it.
        let node = |line: &str| line.trim_start().trim_start_matches("->").trim_start().to_owned();
        let walk_bounded = plan.iter().any(|line| node(line).starts_with("Limit"))
            && !plan.iter().any(|line| line.contains("Sort  (") || line.contains("Sort Key:"));
        for (n, line) in plan.iter().enumerate() {
            let node = node(line);
            let (table, is_index) = match node.split_once(" on ") {
                Some((kind, rest)) if kind.starts_with("Seq Scan") => (rest, false),
                Some((kind, rest)) if kind.starts_with("Index Scan") || kind.starts_with("Index Only Scan") => (rest, true),
                _ => continue,
            };
            let table = table.split_whitespace().next().unwrap_or_default().to_owned();
            // The node's own properties: the lines after it, up to the next node.
            let conditioned = plan[n + 1..].iter().take_while(|line| !line.contains("->")).any(|line| line.contains("Index Cond:"));
            if GROWING.contains(&table.as_str()) && !(is_index && (conditioned || walk_bounded)) {
                scans.push(format!("{}  ←  {sql}", plan.join(" / ")));
            }
        }
    }
    scans
}
