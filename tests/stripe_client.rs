//! The storefront's Stripe client against the emulator: every endpoint it has, with
//! the shapes it reads.
//!
//! Backend: runs once: it needs no database.

use std::time::Duration;
use storefront::config::Secret;
use storefront::stripe::ids::ConfirmationTokenId;
use storefront::stripe::types::*;
use storefront::stripe::{Client, FormBody};

mod support;

async fn stripe() -> (Client, stripe_emulator::Emulator) {
    let emulator =
        stripe_emulator::spawn(stripe_emulator::Config { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await.unwrap();
    let client = Client::new(emulator.base_url(), Secret::new("sk_test_client"), Duration::from_secs(5)).unwrap();
    (client, emulator)
}

async fn token(emulator: &stripe_emulator::Emulator, payment_method: &str) -> ConfirmationTokenId {
    ConfirmationTokenId::parse(&support::test_token(&support::client(), emulator.base_url(), payment_method).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_sessions_setup_intents_and_saved_cards() {
    let (stripe, emulator) = stripe().await;
    let params =
        CreateCustomer { email: Some("ada@example.com"), preferred_locales: ["fr"], metadata: [("account", "7")].into_iter().collect() };
    let customer = stripe.create_customer(&params, "cus-7").await.unwrap();
    assert_eq!(customer.email.as_deref(), Some("ada@example.com"));
    let at_stripe = support::stripe_call(
        &support::client(),
        reqwest::Method::GET,
        format!("{}/v1/customers/{}", emulator.base_url(), customer.id),
        "sk_test_client",
        &[],
    )
    .await;
    assert_eq!(at_stripe["preferred_locales"], serde_json::json!(["fr"]), "Stripe writes its receipts in the shopper's language");
    let again = stripe.create_customer(&params, "cus-7").await.unwrap();
    assert_eq!(again.id, customer.id, "the idempotency key makes one customer");

    let features = PaymentElementFeatures {
        payment_method_save: "enabled",
        payment_method_redisplay: "enabled",
        payment_method_remove: "enabled",
        payment_method_save_usage: Some("off_session"),
        payment_method_redisplay_limit: Some(3),
    };
    let session = stripe
        .create_customer_session(&CreateCustomerSession {
            customer: &customer.id,
            components: CustomerSessionComponents { payment_element: PaymentElementComponent { enabled: true, features } },
        })
        .await
        .unwrap();
    assert!(session.client_secret.starts_with("cuss_secret_"));

    let setup = stripe
        .create_and_confirm_setup_intent(
            &CreateAndConfirmSetupIntent {
                confirm: true,
                confirmation_token: &token(&emulator, "pm_card_visa").await,
                customer: &customer.id,
                automatic_payment_methods: AutomaticPaymentMethods { enabled: true },
                return_url: "http://127.0.0.1:3000/account",
                usage: Some("off_session"),
            },
            "setup-1",
        )
        .await
        .unwrap();
    assert_eq!(setup.status, SetupIntentStatus::Succeeded);

    let saved = stripe.list_customer_payment_methods(&customer.id).await.unwrap();
    assert_eq!(saved.data.len(), 1);
    assert_eq!(saved.data[0].card.as_ref().and_then(|c| c.last4.as_deref()), Some("4242"));
    let detached = stripe.detach_payment_method(&saved.data[0].id).await.unwrap();
    assert!(detached.customer.is_none());
    assert!(stripe.list_customer_payment_methods(&customer.id).await.unwrap().data.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_intents_are_created_retrieved_captured_and_canceled() {
    let (stripe, emulator) = stripe().await;
    let confirm = |token| {
        FormBody::encode(&CreateAndConfirmPaymentIntent {
            amount: 2500,
            currency: "eur",
            confirm: true,
            paid_with: PaidWith::ConfirmationToken { confirmation_token: token },
            methods: PaymentMethodChoice::Dashboard { automatic_payment_methods: AutomaticPaymentMethods { enabled: true } },
            return_url: "http://127.0.0.1:3000/checkout/complete",
            metadata: [("order_id", "ord_x")].into_iter().collect(),
            customer: None,
            capture_method: None,
            setup_future_usage: None,
            payment_method_options: None,
            shipping: None,
            receipt_email: None,
            expand: ["payment_method"],
        })
        .unwrap()
    };
    let token_a = token(&emulator, "pm_card_threeDSecure2Required").await;
    let waiting = stripe.create_and_confirm_payment_intent(&confirm(&token_a), "pi-a").await.unwrap();
    assert_eq!(waiting.status, PaymentIntentStatus::RequiresAction);
    assert_eq!(waiting.next_action.as_ref().map(|a| a.kind.as_str()), Some("use_stripe_sdk"));
    let canceled = stripe.cancel_payment_intent(&waiting.id, Some("abandoned"), "cancel-a").await.unwrap();
    assert_eq!(canceled.status, PaymentIntentStatus::Canceled);

    let token_b = token(&emulator, "pm_card_visa").await;
    let paid = stripe.create_and_confirm_payment_intent(&confirm(&token_b), "pi-b").await.unwrap();
    let read = stripe.retrieve_payment_intent(&paid.id).await.unwrap();
    assert_eq!((&read.status, read.amount, read.metadata["order_id"].as_str()), (&PaymentIntentStatus::Succeeded, 2500, "ord_x"));
    // What paid comes back expanded, on create and on retrieve.
    for intent in [&paid, &read] {
        let Some(Expandable::Object(method)) = &intent.payment_method else { panic!("{:?}", intent.payment_method) };
        assert_eq!((method.kind.as_str(), method.card.as_ref().and_then(|c| c.last4.as_deref())), ("card", Some("4242")));
    }
    let error = stripe.capture_payment_intent(&paid.id, None, "capture-b").await.unwrap_err();
    match error {
        storefront::stripe::Error::Api(api) => assert_eq!(api.code.as_deref(), Some("payment_intent_unexpected_state")),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_stripe_is_reported_as_unavailable_after_retries() {
    let client = Client::new("http://127.0.0.1:9", Secret::new("sk_test_x"), Duration::from_secs(1)).unwrap();
    let id = storefront::stripe::ids::PaymentIntentId::parse("pi_123").unwrap();
    let error = client.retrieve_payment_intent(&id).await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
}
