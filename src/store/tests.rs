//! The store's transactions, on every backend.

use super::*;

use testing::Scratch;

/// The request an attempt would send (any text will do for the store).
fn recorded_body(attempt: &Attempt) -> Option<String> {
    Some(format!("metadata[order_id]={}", attempt.order_id))
}

fn result<'a>(
    payment_intent_id: Option<&'a str>,
    outcome: &'a AttemptOutcome,
    order_status: &'a str,
    clear_cart: bool,
) -> AttemptResult<'a> {
    AttemptResult { payment_intent_id, outcome, order_status: OrderStatus::parse(order_status).unwrap(), clear_cart, details: None }
}

/// One store per backend, with plenty of mugs in stock.
async fn stores() -> Vec<(Store, Scratch)> {
    let stores = testing::stores().await;
    for (store, _) in &stores {
        store.seed_inventory([("mug", 1_000_000)]).await.unwrap();
    }
    stores
}

#[tokio::test]
async fn adding_past_the_cap_changes_nothing() {
    for (store, _scratch) in stores().await {
        store.create_session("s", 0).await.unwrap();
        assert_eq!(store.add_to_cart("s", "mug", 60, 99, 0).await.unwrap(), CartAdd::Added(60));
        assert_eq!(store.add_to_cart("s", "mug", 40, 99, 0).await.unwrap(), CartAdd::OverCap);
        assert_eq!(store.add_to_cart("s", "mug", 39, 99, 0).await.unwrap(), CartAdd::Added(99));
        assert_eq!(store.cart("s").await.unwrap().0, vec![("mug".to_owned(), 99)]);
    }
}

#[tokio::test]
async fn seeding_inventory_never_overwrites_known_stock() {
    for (store, _scratch) in testing::stores().await {
        store.seed_inventory([("mug", 5)]).await.unwrap();
        store.seed_inventory([("mug", 50), ("tote", 3)]).await.unwrap();
        assert_eq!(store.stock_of("mug").await.unwrap(), 5);
        assert_eq!(store.stock_of("tote").await.unwrap(), 3);
        assert_eq!(store.stock_of("unknown").await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_after_a_duplicate_event_or_a_replayed_token_still_go_through() {
    // Both return early from a write transaction; the single writer connection must
    // come back clean (a transaction left open made every later write fail).
    for (store, _scratch) in stores().await {
        store.create_session("s", 0).await.unwrap();
        store.add_to_cart("s", "mug", 1, 99, 0).await.unwrap();
        let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
            panic!()
        };
        for round in 0..20 {
            let replay = store.start_attempt("s", &order("ord_x"), "ctoken_a", None, 0, recorded_body).await.unwrap();
            assert!(matches!(replay, AttemptStart::Replay(_) | AttemptStart::Unresolved(_)), "{replay:?}");
            let event = PaymentEvent {
                event_id: "evt_1",
                event_type: "payment_intent.processing",
                order_id: "ord_1",
                payment_intent_id: "pi_1",
                amount: 3600,
                amount_received: 3600,
                currency: "eur",
            };
            let effect = store.apply_payment_event(&event, round).await.unwrap();
            assert_eq!(effect, if round == 0 { EventEffect::StatusUpdated } else { EventEffect::Duplicate });
            store.create_session(&format!("after-{round}"), round).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_duplicate_events_leave_the_writer_usable() {
    for (store, _scratch) in stores().await {
        store.create_session("s", 0).await.unwrap();
        store.add_to_cart("s", "mug", 1, 99, 0).await.unwrap();
        let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
            panic!()
        };
        let tasks: Vec<_> = (0..400)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let event = PaymentEvent {
                        event_id: if n % 2 == 0 { "evt_same" } else { "evt_other" },
                        event_type: "payment_intent.processing",
                        order_id: "ord_1",
                        payment_intent_id: "pi_1",
                        amount: 3600,
                        amount_received: 3600,
                        currency: "eur",
                    };
                    store.apply_payment_event(&event, 1).await
                })
            })
            .collect();
        let mut applied = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() != EventEffect::Duplicate {
                applied += 1;
            }
        }
        assert_eq!(applied, 2, "each event applied once");
        store.create_session("after", 2).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_cancelled_at_any_point_leave_the_writer_usable() {
    // What a load generator does at the end of a run: hang up on requests in flight,
    // dropping their futures wherever they are (waiting for the writer, inside a
    // transaction, waiting for COMMIT).
    for (store, _scratch) in stores().await {
        let mut tasks = Vec::new();
        for n in 0..64_u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..150_u64 {
                    let session = format!("s{n}-{round}");
                    let work = async {
                        store.create_session(&session, 0).await?;
                        store.add_to_cart(&session, "mug", 1, 99, 0).await?;
                        let order = NewOrder { id: format!("ord_{n}_{round}"), ..order("") };
                        if let AttemptStart::New(attempt) =
                            store.start_attempt(&session, &order, &format!("ctoken_{n}_{round}"), None, 0, recorded_body).await?
                        {
                            store
                                .finish_attempt(
                                    &attempt,
                                    result(Some(&format!("pi_{n}_{round}")), &AttemptOutcome::Succeeded, "confirming", true),
                                    1,
                                )
                                .await?;
                        }
                        Ok::<_, StoreError>(())
                    };
                    let _ = tokio::time::timeout(std::time::Duration::from_micros((n * 37 + round * 101) % 20_000), work).await;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        store.create_session("after", 2).await.unwrap();
        store.add_to_cart("after", "mug", 1, 99, 0).await.unwrap();
        let started = store.start_attempt("after", &order("ord_after"), "ctoken_after", None, 3, recorded_body).await.unwrap();
        assert!(matches!(started, AttemptStart::New(_)), "{started:?}");
    }
}

#[tokio::test]
async fn a_cart_line_needs_a_real_session() {
    for (store, _scratch) in stores().await {
        assert!(store.add_to_cart("nobody", "mug", 1, 99, 0).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_rolls_back_alone_when_it_shares_a_commit() {
    // Writes queued together share one transaction on SQLite (group commit), each under
    // a savepoint: the ones that fail (a cart line for a session that does not exist; a
    // unit that wrote a row and then failed) must keep nothing of their own and take
    // nothing of the others with them, and each must hear its own result.
    for (store, _scratch) in stores().await {
        for n in 0..100 {
            store.create_session(&format!("s{n}"), 0).await.unwrap();
        }
        let tasks: Vec<_> = (0..600)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let result = match n % 3 {
                        0 => store.add_to_cart(&format!("s{}", n / 6), "mug", 1, 99, 0).await.map(drop),
                        1 => store.add_to_cart(&format!("nobody{n}"), "mug", 1, 99, 0).await.map(drop),
                        _ => {
                            store
                                .write(move |tx| {
                                    tx.execute(
                                        "INSERT INTO sessions (id, created_at, last_seen_at) VALUES ($1, 0, 0)",
                                        &[&format!("ghost{n}")],
                                    )?;
                                    Err::<(), _>(StoreError::Column("a unit that fails after writing".into()))
                                })
                                .await
                        }
                    };
                    (n, result)
                })
            })
            .collect();
        for task in tasks {
            let (n, result) = task.await.unwrap();
            assert_eq!(result.is_ok(), n % 3 == 0, "write {n}: {result:?}");
        }
        let ghosts = store.read(|tx| tx.one::<i64>("SELECT COUNT(*) FROM sessions WHERE id LIKE 'ghost%'", &[])).await.unwrap();
        assert_eq!(ghosts, 0, "what a failed unit wrote was rolled back");
        for n in 0..100 {
            // Two additions of one mug each reached every real session.
            assert_eq!(store.cart(&format!("s{n}")).await.unwrap().0, vec![("mug".to_owned(), 2)], "session s{n}");
        }
    }
}

/// Session `s` with two mugs in its cart, and the first attempt to pay for them
/// (order `ord_1`, token `ctoken_a`).
async fn first_attempt(store: &Store) -> Attempt {
    store.create_session("s", 0).await.unwrap();
    store.add_to_cart("s", "mug", 2, 99, 0).await.unwrap();
    match store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() {
        AttemptStart::New(attempt) => attempt,
        other => panic!("expected a new attempt, got {other:?}"),
    }
}

fn order(id: &str) -> NewOrder {
    NewOrder {
        email: None,
        locale: "en".into(),
        id: id.into(),
        amount: 3600,
        discount_amount: 0,
        discount_code: None,
        currency: "eur".into(),
        lines: vec![OrderLine { product_id: "mug".into(), name: "Mug".into(), unit_amount: 1800, quantity: 2 }],
    }
}

#[tokio::test]
async fn the_same_token_replays_its_attempt_and_a_second_token_waits_for_an_unknown_outcome() {
    for (store, _scratch) in stores().await {
        let first = first_attempt(&store).await;
        assert_eq!(first.idempotency_key, "ord_1-attempt-1");
        let replay = store.start_attempt("s", &order("ord_2"), "ctoken_a", None, 0, recorded_body).await.unwrap();
        assert_eq!(replay, AttemptStart::Replay(first.clone()));
        let waiting = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 0, recorded_body).await.unwrap();
        assert_eq!(waiting, AttemptStart::Unresolved(first.clone()));

        store.finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("card_declined"), "failed", false), 1).await.unwrap();
        let AttemptStart::New(second) = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 2, recorded_body).await.unwrap() else {
            panic!("expected a second attempt on the same order")
        };
        assert_eq!((second.order_id.as_str(), second.number), ("ord_1", 2));
    }
}

#[tokio::test]
async fn another_session_cannot_use_a_token_or_see_an_order() {
    for (store, _scratch) in stores().await {
        store.create_session("alice", 0).await.unwrap();
        store.create_session("bob", 0).await.unwrap();
        store.add_to_cart("alice", "mug", 2, 99, 0).await.unwrap();
        store.start_attempt("alice", &order("ord_a"), "ctoken_a", None, 0, recorded_body).await.unwrap();
        let stolen = store.start_attempt("bob", &order("ord_b"), "ctoken_a", None, 0, recorded_body).await.unwrap();
        assert_eq!(stolen, AttemptStart::TokenUsedElsewhere);
        assert!(store.order_of_session("ord_a", "bob").await.unwrap().is_none());
        assert_eq!(store.order_of_session("ord_a", "alice").await.unwrap().unwrap().lines.len(), 1);
    }
}

#[tokio::test]
async fn a_cart_that_became_an_order_cannot_start_another_one() {
    for (store, _scratch) in stores().await {
        let first = first_attempt(&store).await;
        store.finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("succeeded"), "confirming", true), 1).await.unwrap();
        // A request that priced the cart before it was emptied arrives now.
        let late = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 2, recorded_body).await.unwrap();
        assert_eq!(late, AttemptStart::CartEmpty);
        assert!(store.cart("s").await.unwrap().0.is_empty());
    }
}

#[tokio::test]
async fn a_late_failure_of_an_earlier_attempt_does_not_undo_a_later_one() {
    for (store, _scratch) in stores().await {
        let first = first_attempt(&store).await;
        store.finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("card_declined"), "failed", false), 1).await.unwrap();
        let AttemptStart::New(second) = store.start_attempt("s", &order("ord_1"), "ctoken_b", None, 2, recorded_body).await.unwrap() else {
            panic!()
        };
        store.finish_attempt(&second, result(Some("pi_2"), &AttemptOutcome::parse("processing"), "confirming", true), 3).await.unwrap();
        let late = PaymentEvent {
            event_id: "evt_late",
            event_type: "payment_intent.payment_failed",
            order_id: "ord_1",
            payment_intent_id: "pi_1",
            amount: 3600,
            amount_received: 3600,
            currency: "eur",
        };
        store.apply_payment_event(&late, 4).await.unwrap();
        assert_eq!(store.order_of_session("ord_1", "s").await.unwrap().unwrap().status, OrderStatus::Confirming);
    }
}

/// Only a payment waiting for the shopper's authentication, and only once its order has
/// not moved since the cutoff, is theirs to abandon: not one waiting for a bank (a
/// SEPA debit processing) or for days (a voucher), nor one paid since.
#[tokio::test]
async fn a_payment_is_abandoned_only_while_it_waits_for_the_shopper_since_the_cutoff() {
    for (store, _scratch) in stores().await {
        let first = first_attempt(&store).await;
        store.finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::Authenticating, "confirming", false), 10).await.unwrap();
        for (session, order_id, token, outcome) in
            [("t", "ord_2", "ctoken_c", AttemptOutcome::Processing), ("u", "ord_3", "ctoken_d", AttemptOutcome::RequiresAction)]
        {
            store.create_session(session, 0).await.unwrap();
            store.add_to_cart(session, "mug", 1, 99, 0).await.unwrap();
            let AttemptStart::New(waiting) = store.start_attempt(session, &order(order_id), token, None, 0, recorded_body).await.unwrap()
            else {
                panic!()
            };
            store.finish_attempt(&waiting, result(Some(order_id), &outcome, "confirming", false), 5).await.unwrap();
        }
        let abandoned = |cutoff| {
            let store = store.clone();
            async move {
                let attempts = store.abandoned_authentications(cutoff).await.unwrap();
                attempts.into_iter().map(|a| (a.order_id, a.payment_intent_id, a.idempotency_key)).collect::<Vec<_>>()
            }
        };
        assert_eq!(abandoned(9).await, vec![], "waiting since 10");
        let waiting = ("ord_1".to_owned(), Some("pi_1".to_owned()), "ord_1-attempt-1".to_owned());
        assert_eq!(abandoned(10).await, vec![waiting]);
        store.apply_payment_event(&paid("evt_paid"), 11).await.unwrap();
        assert_eq!(abandoned(100).await, vec![], "authenticated and paid since");
    }
}

#[tokio::test]
async fn a_paid_order_never_moves_back() {
    for (store, _scratch) in stores().await {
        let attempt = first_attempt(&store).await;
        store.write(|tx| tx.execute("UPDATE orders SET status = 'paid'", &[])).await.unwrap();
        store
            .finish_attempt(&attempt, result(Some("pi_1"), &AttemptOutcome::parse("requires_payment_method"), "failed", false), 1)
            .await
            .unwrap();
        assert_eq!(store.order_of_session("ord_1", "s").await.unwrap().unwrap().status, OrderStatus::Paid);
    }
}

fn paid(event_id: &'static str) -> PaymentEvent<'static> {
    PaymentEvent {
        event_id,
        event_type: "payment_intent.succeeded",
        order_id: "ord_1",
        payment_intent_id: "pi_1",
        amount: 3600,
        amount_received: 3600,
        currency: "eur",
    }
}

#[tokio::test]
async fn a_success_reported_after_a_failure_and_after_the_stock_went_is_oversold_and_the_merchant_is_told() {
    for (store, _scratch) in stores().await {
        first_attempt(&store).await;
        let failed = PaymentEvent { event_type: "payment_intent.payment_failed", ..paid("evt_0") };
        assert_eq!(store.apply_payment_event(&failed, 1).await.unwrap(), EventEffect::StatusUpdated);
        // The released mugs sell to others but one; then Stripe says it was paid after all.
        store.write(|tx| tx.execute("UPDATE inventory SET on_hand = 1 WHERE product_id = 'mug'", &[])).await.unwrap();
        assert_eq!(store.apply_payment_event(&paid("evt_1"), 2).await.unwrap(), EventEffect::Fulfilled { oversold: true });
        assert_eq!(store.stock_of("mug").await.unwrap(), 0);
        assert_eq!(store.order_flags("ord_1").await.unwrap().flags, ["oversold"]);
        let mut kinds: Vec<String> = store.outbox_for("ord_1").await.unwrap().into_iter().map(|m| m.kind).collect();
        kinds.sort();
        assert_eq!(kinds, ["merchant.oversold", "order_confirmation"]);
        let flagged = store.orders_page(OrderFilter::Flagged, None, 10).await.unwrap();
        assert_eq!(flagged.iter().map(|order| order.id.as_str()).collect::<Vec<_>>(), ["ord_1"], "the merchant's flagged orders");
        assert!(flagged[0].waiting);
        assert_eq!((store.waiting_orders(10).await.unwrap(), store.waiting_orders(0).await.unwrap()), (1, 0), "counted up to the cap");
        // Marked handled (the page showed its one message to the merchant): none waits.
        assert_eq!(store.mark_handled("ord_1", 1, 3).await.unwrap(), Handled::Done);
        assert_eq!(store.waiting_orders(10).await.unwrap(), 0);
        let flags = store.order_flags("ord_1").await.unwrap();
        assert_eq!((flags.flagged_at, flags.handled_at), (None, Some(3)));
        assert!(!store.list_orders(None, 10).await.unwrap()[0].waiting);
    }
}

/// The merchant marks an order handled while a new message about it is being queued:
/// whichever commits first, a message the merchant's page did not count leaves the
/// order flagged (on PostgreSQL both run at once, 200 times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_queued_while_the_merchant_marks_an_order_handled_keeps_it_flagged() {
    for (store, _scratch) in stores().await {
        first_attempt(&store).await;
        for round in 0..200_i64 {
            store.write(|tx| tx.execute("UPDATE orders SET flagged_at = 1 WHERE id = 'ord_1'", &[])).await.unwrap();
            let seen = store.outbox_for("ord_1").await.unwrap().len() as i64;
            let news = store.write(move |tx| super::outbox::alert_merchant(tx, "ord_1", &format!("news_{round}"), "news", 2));
            let (handled, news) = tokio::join!(store.mark_handled("ord_1", seen, 3), news);
            news.unwrap();
            let handled = handled.unwrap();
            let flags = store.order_flags("ord_1").await.unwrap();
            assert!(flags.flagged_at.is_some(), "round {round}: the news went unseen ({handled:?})");
        }
    }
}

#[tokio::test]
async fn an_old_result_page_or_a_late_webhook_keeps_the_next_cart() {
    for (store, _scratch) in stores().await {
        store.seed_inventory([("tote", 100)]).await.unwrap();
        let attempt = first_attempt(&store).await;
        store.finish_attempt(&attempt, result(Some("pi_1"), &AttemptOutcome::parse("succeeded"), "confirming", true), 1).await.unwrap();
        assert!(store.cart("s").await.unwrap().0.is_empty(), "the paid lines left the cart");

        // The shopper fills a new cart, then the old result page is reloaded and the
        // webhook arrives late (twice).
        store.add_to_cart("s", "mug", 1, 99, 2).await.unwrap();
        store.add_to_cart("s", "tote", 1, 99, 2).await.unwrap();
        store.finish_attempt(&attempt, result(Some("pi_1"), &AttemptOutcome::parse("succeeded"), "confirming", true), 3).await.unwrap();
        assert_eq!(store.apply_payment_event(&paid("evt_1"), 4).await.unwrap(), EventEffect::Fulfilled { oversold: false });
        store.apply_payment_event(&paid("evt_2"), 5).await.unwrap();
        assert_eq!(store.cart("s").await.unwrap().0, vec![("mug".to_owned(), 1), ("tote".to_owned(), 1)]);
    }
}

#[tokio::test]
async fn a_payment_that_succeeds_late_takes_only_what_the_order_bought() {
    for (store, _scratch) in stores().await {
        store.seed_inventory([("tote", 100)]).await.unwrap();
        store.create_session("s", 0).await.unwrap();
        store.add_to_cart("s", "mug", 2, 99, 0).await.unwrap();
        let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
            panic!()
        };
        // Stripe's answer was lost; meanwhile the shopper adds a mug and a tote, and
        // then the webhook says the order was paid.
        store.add_to_cart("s", "mug", 1, 99, 1).await.unwrap();
        store.add_to_cart("s", "tote", 1, 99, 1).await.unwrap();
        assert_eq!(store.apply_payment_event(&paid("evt_1"), 2).await.unwrap(), EventEffect::Fulfilled { oversold: false });
        assert_eq!(store.cart("s").await.unwrap().0, vec![("mug".to_owned(), 1), ("tote".to_owned(), 1)]);
    }
}

#[tokio::test]
async fn an_answer_about_an_earlier_attempt_does_not_move_the_order() {
    for (store, _scratch) in stores().await {
        let first = first_attempt(&store).await;
        store
            .finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("requires_action"), "confirming", false), 1)
            .await
            .unwrap();
        store.finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("canceled"), "failed", false), 2).await.unwrap();
        let AttemptStart::New(second) = store.start_attempt("s", &order("ord_1"), "ctoken_b", None, 3, recorded_body).await.unwrap() else {
            panic!()
        };
        store
            .finish_attempt(&second, result(Some("pi_2"), &AttemptOutcome::parse("requires_action"), "confirming", false), 4)
            .await
            .unwrap();
        // The first attempt's result page is opened again.
        store
            .finish_attempt(&first, result(Some("pi_1"), &AttemptOutcome::parse("requires_payment_method"), "failed", false), 5)
            .await
            .unwrap();
        let order = store.order_of_session("ord_1", "s").await.unwrap().unwrap();
        assert_eq!((order.status, order.payment_intent_id.as_deref()), (OrderStatus::Confirming, Some("pi_2")));
    }
}

#[tokio::test]
async fn an_attempt_keeps_the_request_it_sent_and_the_order_what_paid() {
    for (store, _scratch) in stores().await {
        let attempt = first_attempt(&store).await;
        assert_eq!(attempt.request_body.as_deref(), Some("metadata[order_id]=ord_1"));
        let replay = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 9, |_| Some("something else".into())).await.unwrap();
        assert_eq!(replay, AttemptStart::Replay(attempt.clone()), "a replay sends the first body again");

        let details = PaymentDetails {
            shipping: Some(r#"{"name":"Jenny Rosen"}"#.into()),
            payment_method_id: Some("pm_1".into()),
            payment_method_type: Some("card".into()),
            card_brand: Some("visa".into()),
            last4: Some("4242".into()),
        };
        let with = AttemptResult { details: Some(&details), ..result(Some("pi_1"), &AttemptOutcome::RequiresAction, "confirming", false) };
        store.finish_attempt(&attempt, with, 1).await.unwrap();
        // A later answer without details keeps them.
        store.finish_attempt(&attempt, result(Some("pi_1"), &AttemptOutcome::parse("succeeded"), "confirming", true), 2).await.unwrap();
        let order = store.order_for_merchant("ord_1").await.unwrap().unwrap();
        assert_eq!(order.details, details);
        assert_eq!((order.discount_amount, order.discount_code.as_deref()), (0, None));
    }
}

#[tokio::test]
async fn idle_sessions_expire_unless_a_payment_is_in_flight() {
    for (store, _scratch) in stores().await {
        for id in ["idle", "active", "paying", "ordered", "subscribing"] {
            store.create_session(id, 0).await.unwrap();
            store.add_to_cart(id, "mug", 2, 99, 0).await.unwrap();
        }
        // One started a subscription whose first payment never went through: no order.
        store.create_account("acct_s", "s@example.com", "s@example.com", "hash", 0).await.unwrap();
        store.insert_subscription(new_subscription("sub_s", "acct_s", "subscribing"), 0, 0).await.unwrap();
        store.touch_session("active", 100).await.unwrap();
        // One session has an attempt in flight, one a finished (failed) order.
        store.start_attempt("paying", &order("ord_p"), "ctoken_p", None, 0, recorded_body).await.unwrap();
        let AttemptStart::New(done) = store.start_attempt("ordered", &order("ord_o"), "ctoken_o", None, 0, recorded_body).await.unwrap()
        else {
            panic!()
        };
        store.finish_attempt(&done, result(Some("pi_o"), &AttemptOutcome::parse("card_declined"), "failed", false), 1).await.unwrap();

        store.expire_sessions(50, 200).await.unwrap();
        let rows = |id: &'static str| store.read(move |tx| tx.one::<i64>("SELECT COUNT(*) FROM sessions WHERE id = $1", &[&id]));
        assert_eq!(rows("idle").await.unwrap(), 0, "an idle session without orders is deleted");
        assert!(store.live_session("active", 50).await.unwrap().is_some());
        assert_eq!(store.cart("active").await.unwrap().0.len(), 1);
        assert!(store.live_session("paying", i64::MIN).await.unwrap().is_some(), "a payment in flight keeps its session");
        assert_eq!(store.cart("paying").await.unwrap().0.len(), 1);
        assert_eq!(rows("ordered").await.unwrap(), 1, "a session with orders stays for them");
        assert!(store.live_session("ordered", 50).await.unwrap().is_none());
        assert!(store.cart("ordered").await.unwrap().0.is_empty());
        assert_eq!(rows("subscribing").await.unwrap(), 1, "a session a subscription names stays for it");
        assert!(store.live_session("subscribing", 50).await.unwrap().is_none());
    }
}

fn new_subscription(id: &str, account: &str, session: &str) -> NewSubscription {
    NewSubscription {
        id: id.into(),
        account_id: account.into(),
        session_id: session.into(),
        terms: SubscriptionTerms {
            product_id: "coffee-beans".into(),
            name: "Coffee beans".into(),
            quantity: 2,
            unit_amount: 1200,
            currency: "eur".into(),
            interval: "month".into(),
            interval_count: 1,
        },
        first_invoice_id: "in_first".into(),
        first_payment_intent_id: Some("pi_first".into()),
        email: Some("s@example.com".into()),
        locale: "fr".into(),
        state: SubscriptionState {
            status: "incomplete".into(),
            current_period_end: Some(1_000),
            cancel_at_period_end: false,
            cancel_at: None,
            collection_paused: false,
            collection_resumes_at: None,
            renewal_card: None,
            cancellation_reason: None,
            next_payment_attempt: None,
        },
    }
}

/// One request at a time buys a subscription for an account: another token waits for
/// the claim's release or its end; the same token again (a retried request) takes it over.
#[tokio::test]
async fn a_subscription_is_claimed_by_one_request_at_a_time() {
    for (store, _scratch) in stores().await {
        store.create_session("s", 0).await.unwrap();
        store.create_account("acct", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
        let claim = |token: &'static str, now: i64| {
            let store = store.clone();
            async move { store.claim_subscription("acct", "beans", token, now, now + 120).await.unwrap() }
        };
        assert!(claim("ctoken_a", 0).await);
        assert!(!claim("ctoken_b", 1).await, "held by another window");
        assert!(store.claim_subscription("acct", "tea", "ctoken_b", 1, 121).await.unwrap(), "another product is another claim");
        assert!(claim("ctoken_a", 2).await, "the same token again");
        store.release_subscription_claim("acct", "beans", "ctoken_b").await.unwrap();
        assert!(!claim("ctoken_b", 3).await, "only its holder releases a claim");
        store.release_subscription_claim("acct", "beans", "ctoken_a").await.unwrap();
        assert!(claim("ctoken_b", 4).await);
        assert!(claim("ctoken_c", 124).await, "a claim whose server stopped lapses");
    }
}

/// The account's open subscription to a product: a live one before any newer one still
/// waiting for its first payment; none once they have ended.
#[tokio::test]
async fn an_accounts_open_subscription_is_its_live_one_first() {
    for (store, _scratch) in stores().await {
        store.create_session("sess", 0).await.unwrap();
        store.create_account("acct", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
        let open = || async { store.open_subscription("acct", "coffee-beans").await.unwrap().map(|record| record.id) };
        let status = |status: &str| SubscriptionState {
            status: status.into(),
            current_period_end: Some(1_000),
            cancel_at_period_end: false,
            cancel_at: None,
            collection_paused: false,
            collection_resumes_at: None,
            renewal_card: None,
            cancellation_reason: None,
            next_payment_attempt: None,
        };
        assert_eq!(open().await, None);
        store.insert_subscription(new_subscription("sub_waiting", "acct", "sess"), 10, 1).await.unwrap();
        assert_eq!(open().await.as_deref(), Some("sub_waiting"));
        store.insert_subscription(new_subscription("sub_live", "acct", "sess"), 10, 0).await.unwrap();
        for (read_at, live) in (20..).zip(["active", "past_due", "trialing"]) {
            assert!(store.sync_subscription("sub_live", status(live), ItemTerms::default(), read_at, 2).await.unwrap());
            assert_eq!(store.subscription("sub_live").await.unwrap().unwrap().state.status, live);
            assert_eq!(open().await.as_deref(), Some("sub_live"), "{live}, though older than the waiting one");
        }
        store.sync_subscription("sub_live", status("canceled"), ItemTerms::default(), 30, 3).await.unwrap();
        assert_eq!(open().await.as_deref(), Some("sub_waiting"));
        store.sync_subscription("sub_waiting", status("incomplete_expired"), ItemTerms::default(), 30, 3).await.unwrap();
        assert_eq!(open().await, None);
        assert_eq!(store.open_subscription("acct", "tea").await.unwrap(), None, "another product");
    }
}

#[tokio::test]
async fn the_newest_read_of_a_subscription_wins_and_each_paid_invoice_is_one_order() {
    for (store, _scratch) in stores().await {
        store.create_session("sess", 0).await.unwrap();
        store.add_to_cart("sess", "coffee-beans", 2, 99, 0).await.unwrap();
        store.create_account("acct", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
        store.insert_subscription(new_subscription("sub_1", "acct", "sess"), 10, 0).await.unwrap();
        let state = |status: &str, end: i64| SubscriptionState {
            status: status.into(),
            current_period_end: Some(end),
            cancel_at_period_end: false,
            cancel_at: None,
            collection_paused: false,
            collection_resumes_at: None,
            renewal_card: None,
            cancellation_reason: None,
            next_payment_attempt: None,
        };
        let item = |quantity, unit_amount| ItemTerms { quantity, unit_amount };
        // A read sent at 30 is answered before one sent at 20: the one sent at 30 stays.
        // So does what its item bills; a read that does not say keeps what was kept.
        // (Overdue, with Stripe's next retry of it.)
        let overdue = SubscriptionState { next_payment_attempt: Some(3_100), ..state("past_due", 3_000) };
        assert!(store.sync_subscription("sub_1", overdue.clone(), item(Some(3), Some(1_500)), 30, 1).await.unwrap());
        assert!(store.sync_subscription("sub_1", state("active", 2_000), item(Some(5), Some(900)), 20, 2).await.unwrap());
        let kept = store.subscription("sub_1").await.unwrap().unwrap();
        assert_eq!((kept.state, kept.terms.quantity, kept.terms.unit_amount), (overdue, 3, 1_500));
        assert!(store.sync_subscription("sub_1", state("past_due", 3_000), ItemTerms::default(), 31, 3).await.unwrap());
        let kept = store.subscription("sub_1").await.unwrap().unwrap();
        assert_eq!((kept.terms.quantity, kept.terms.unit_amount), (3, 1_500));
        assert!(store.sync_subscription("sub_1", state("past_due", 3_000), item(Some(2), None), 32, 3).await.unwrap());
        let kept = store.subscription("sub_1").await.unwrap().unwrap();
        assert_eq!((kept.terms.quantity, kept.terms.unit_amount), (2, 1_500));
        assert!(!store.sync_subscription("sub_unknown", state("active", 1), ItemTerms::default(), 40, 3).await.unwrap());
        // An end date set in the Dashboard is kept, and so is its clearing.
        let dated = SubscriptionState { cancel_at: Some(2_500), ..state("active", 3_000) };
        assert!(store.sync_subscription("sub_1", dated.clone(), ItemTerms::default(), 33, 3).await.unwrap());
        assert_eq!(store.subscription("sub_1").await.unwrap().unwrap().state, dated);
        assert!(store.sync_subscription("sub_1", state("active", 3_000), ItemTerms::default(), 34, 3).await.unwrap());
        assert_eq!(store.subscription("sub_1").await.unwrap().unwrap().state.cancel_at, None);
        // So is a pause of its payments, with or without the date they resume, and its end.
        for (paused, resumes_at, synced_at) in [(true, Some(4_000), 35), (true, None, 36), (false, None, 37)] {
            let pause = SubscriptionState { collection_paused: paused, collection_resumes_at: resumes_at, ..state("active", 3_000) };
            assert!(store.sync_subscription("sub_1", pause.clone(), ItemTerms::default(), synced_at, 3).await.unwrap());
            assert_eq!(store.subscription("sub_1").await.unwrap().unwrap().state, pause);
        }
        // And the card its renewals go to, found by its account and card while live.
        let with_card = SubscriptionState { renewal_card: Some("pm_renewals".into()), ..state("active", 3_000) };
        assert!(store.sync_subscription("sub_1", with_card.clone(), ItemTerms::default(), 38, 3).await.unwrap());
        assert_eq!(store.subscription("sub_1").await.unwrap().unwrap().state, with_card);
        let live_with = || {
            let store = store.clone();
            async move {
                let live = store.live_subscriptions_with_a_card("acct").await.unwrap();
                live.into_iter().map(|s| (s.id, s.state.renewal_card.unwrap_or_default())).collect::<Vec<_>>()
            }
        };
        assert_eq!(live_with().await, [("sub_1".to_owned(), "pm_renewals".to_owned())]);
        // Stripe's next retry of an overdue renewal is told while it is to come, with a card.
        let overdue = SubscriptionState { next_payment_attempt: Some(3_100), ..with_card.clone() };
        assert_eq!((overdue.next_retry(3_099), overdue.next_retry(3_100)), (Some(3_100), None));
        assert_eq!(SubscriptionState { renewal_card: None, ..overdue }.next_retry(3_000), None, "no card to try");
        // A renewal is to come unless it ends by the end of its period.
        assert!(with_card.renews());
        assert!(!SubscriptionState { cancel_at_period_end: true, ..with_card.clone() }.renews());
        assert!(!SubscriptionState { cancel_at: Some(3_000), ..with_card.clone() }.renews());
        assert!(SubscriptionState { cancel_at: Some(3_001), ..with_card.clone() }.renews(), "an end after the renewal");
        assert!(!SubscriptionState { status: "canceled".into(), ..with_card.clone() }.renews());
        let ended = SubscriptionState { status: "canceled".into(), cancellation_reason: Some("payment_failed".into()), ..with_card };
        assert!(store.sync_subscription("sub_1", ended.clone(), ItemTerms::default(), 39, 3).await.unwrap());
        assert!(live_with().await.is_empty(), "an ended subscription's card is free");
        assert_eq!(store.subscription("sub_1").await.unwrap().unwrap().state, ended, "why it ended is kept");

        // The first invoice, reported many times at once (the reply, the result page, webhooks).
        let first = || PaidInvoice {
            invoice_id: "in_first".into(),
            subscription_id: "sub_1".into(),
            payment_intent_id: Some("pi_first".into()),
            amount: 2400,
            total: 2400,
            currency: "eur".into(),
            quantity: None,
        };
        let reports: Vec<_> = (0..10)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.record_paid_invoice(first(), 5).await })
            })
            .collect();
        let mut orders = Vec::new();
        for report in reports {
            orders.push(match report.await.unwrap().unwrap() {
                InvoiceEffect::Fulfilled { order_id } | InvoiceEffect::AlreadyFulfilled { order_id } => order_id,
                InvoiceEffect::UnknownSubscription => panic!("unknown"),
            });
        }
        assert!(orders.iter().all(|order| *order == orders[0]), "{orders:?}");
        let order = store.order_for_merchant(&orders[0]).await.unwrap().unwrap();
        assert_eq!((order.status, order.amount, order.lines[0].quantity, order.lines[0].unit_amount), (OrderStatus::Paid, 2400, 2, 1200));
        assert_eq!(store.outbox_for(&orders[0]).await.unwrap().len(), 1, "one confirmation");
        assert!(store.cart("sess").await.unwrap().0.is_empty(), "the subscription left the cart");

        // A renewal is an order of its own and leaves the next cart alone.
        store.add_to_cart("sess", "coffee-beans", 1, 99, 6).await.unwrap();
        let renewal = PaidInvoice { invoice_id: "in_second".into(), payment_intent_id: Some("pi_second".into()), ..first() };
        let InvoiceEffect::Fulfilled { order_id } = store.record_paid_invoice(renewal, 7).await.unwrap() else { panic!() };
        assert_ne!(order_id, orders[0]);
        assert_eq!(store.cart("sess").await.unwrap().0.len(), 1, "a renewal touches no cart");
        let stranger = PaidInvoice { subscription_id: "sub_other".into(), invoice_id: "in_other".into(), ..first() };
        assert_eq!(store.record_paid_invoice(stranger, 8).await.unwrap(), InvoiceEffect::UnknownSubscription);
    }
}

/// Stripe says a trial of three days or less ends soon at once, before the shop has
/// recorded its first order: that order queues the reminder itself, once; a longer
/// trial's waits for Stripe's word three days before its end.
#[tokio::test]
async fn a_short_free_trials_first_order_queues_its_reminder() {
    for (store, _scratch) in stores().await {
        store.create_session("sess", 0).await.unwrap();
        store.create_account("acct", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
        let now = 1_000_000;
        let mut kinds = Vec::new();
        for (id, days) in [("sub_short", 3), ("sub_long", 14)] {
            let mut trial = new_subscription(id, "acct", "sess");
            trial.first_invoice_id = format!("in_{id}");
            trial.state.status = "trialing".into();
            trial.state.current_period_end = Some(now + days * 86_400 - 1);
            store.insert_subscription(trial, 10, now).await.unwrap();
            let paid = PaidInvoice {
                invoice_id: format!("in_{id}"),
                subscription_id: id.into(),
                payment_intent_id: None,
                amount: 0,
                total: 0,
                currency: "eur".into(),
                quantity: None,
            };
            let InvoiceEffect::Fulfilled { order_id } = store.record_paid_invoice(paid, now).await.unwrap() else { panic!() };
            let queued = || async {
                let mut kinds: Vec<String> = store.outbox_for(&order_id).await.unwrap().into_iter().map(|m| m.kind).collect();
                kinds.sort();
                kinds
            };
            let with_the_order = queued().await;
            // Stripe's word, when it comes after the order, queues it once.
            let told = store.queue_trial_ending(id, now + days * 86_400 - 1, now + 1).await.unwrap();
            assert_eq!(told, days > 3, "queued by Stripe's word unless the order did");
            kinds.push((with_the_order, queued().await));
        }
        let (short, long) = (&kinds[0], &kinds[1]);
        assert_eq!(short.0, ["order_confirmation".to_owned(), format!("trial_ending.sub_short.{}", now + 3 * 86_400 - 1)]);
        assert_eq!(short.1, short.0, "queued once");
        assert_eq!(long.0, ["order_confirmation"]);
        assert_eq!(long.1, ["order_confirmation".to_owned(), format!("trial_ending.sub_long.{}", now + 14 * 86_400 - 1)]);
    }
}

#[tokio::test]
async fn a_non_sqlite_url_is_refused_with_a_clear_error() {
    let error = Store::connect("mysql://localhost/shop").await.unwrap_err();
    assert!(error.to_string().contains("DATABASE_URL"));
}

#[tokio::test]
async fn the_merchants_order_pages_show_every_order_once_newest_first() {
    for (store, _scratch) in stores().await {
        // 25 orders, three to a second, so that pages break inside a second.
        for n in 0..25 {
            let session = format!("s{n}");
            store.create_session(&session, 0).await.unwrap();
            store.add_to_cart(&session, "mug", 2, 99, 0).await.unwrap();
            let (new_order, token) = (order(&format!("ord_{n:02}")), format!("ctoken_{n}"));
            let started = store.start_attempt(&session, &new_order, &token, None, n / 3, recorded_body).await.unwrap();
            assert!(matches!(started, AttemptStart::New(_)));
        }
        let started = store.list_orders(None, 1).await.unwrap()[0].status;
        for status in [None, Some(started)] {
            let (mut seen, mut after) = (Vec::new(), None);
            loop {
                let page = store.orders_page(status.map_or(OrderFilter::All, OrderFilter::Status), after.clone(), 4).await.unwrap();
                seen.extend(page.iter().map(|order| (order.created_at, order.id.clone())));
                match page.last() {
                    Some(last) if page.len() == 4 => after = Some((last.created_at, last.id.clone())),
                    _ => break,
                }
            }
            let mut expected: Vec<(i64, String)> = (0..25).map(|n| (n / 3, format!("ord_{n:02}"))).collect();
            expected.reverse();
            assert_eq!(seen, expected, "{status:?}");
        }
        assert!(store.orders_page(OrderFilter::Status(OrderStatus::Paid), None, 4).await.unwrap().is_empty());
    }
}
