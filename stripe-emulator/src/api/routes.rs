//! Every route of the API and the parameters it accepts, in one table. Dispatch refuses
//! any other parameter with `parameter_unknown` before a handler runs, so a parameter is
//! either listed here (and implemented by the handler) or refused. `metadata.*` is the
//! only wildcard: metadata keys are the caller's own.
//!
//! `sdk_params` names the official Node SDK's type for the route's parameters; those
//! types are generated from Stripe's OpenAPI spec for the pinned version, and
//! `conformance/parameters.test.js` checks that every parameter here exists there, at
//! every depth, and that every enum value the emulator accepts is Stripe's. The table is
//! served at `GET /_emulator/routes` for that test.

use serde::Serialize;

/// One API route.
#[derive(Debug, Serialize)]
pub struct Route {
    pub method: &'static str,
    /// Below `/v1`, with `{id}` for an object id.
    pub path: &'static str,
    /// The SDK's parameter type (`PaymentIntentCreateParams`); `None` for the private
    /// routes only Stripe.js calls.
    pub sdk_params: Option<&'static str>,
    /// Accepted parameters, nested names with dots, in groups that share a prefix.
    #[serde(serialize_with = "flatten")]
    pub accepts: &'static [&'static [Group]],
}

/// Parameter names under one prefix: `under("shipping.", ADDRESS)` is
/// `shipping.address.city`, … (`top` for no prefix).
#[derive(Debug, Clone, Copy)]
pub struct Group {
    prefix: &'static str,
    names: &'static [&'static str],
}

const fn top(names: &'static [&'static str]) -> Group {
    Group { prefix: "", names }
}

const fn under(prefix: &'static str, names: &'static [&'static str]) -> Group {
    Group { prefix, names }
}

impl Route {
    /// Every accepted parameter, spelled out.
    pub fn accepted(&self) -> Vec<String> {
        self.accepts
            .iter()
            .flat_map(|groups| groups.iter())
            .flat_map(|g| g.names.iter().map(|name| format!("{}{name}", g.prefix)))
            .collect()
    }

    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        let pattern: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        self.method == method
            && pattern.len() == segments.len()
            // (`/v1/customers/search` is Stripe's search, which the emulator lacks: no id.)
            && pattern.iter().zip(segments).all(|(want, got)| (*want == "{id}" && *got != "search") || want == got)
    }
}

fn flatten<S: serde::Serializer>(accepts: &&'static [&'static [Group]], serializer: S) -> Result<S::Ok, S::Error> {
    let route = Route { method: "", path: "", sdk_params: None, accepts };
    serializer.collect_seq(route.accepted())
}

/// Each route's accepted parameters, spelled out once (the table is static).
static ACCEPTED: std::sync::LazyLock<Vec<Vec<&'static str>>> = std::sync::LazyLock::new(|| {
    ROUTES.iter().map(|route| route.accepted().into_iter().map(|name| &*Box::leak(name.into_boxed_str())).collect()).collect()
});

/// The route for `method` and path segments, if the API has one, with the parameters
/// it accepts.
pub fn find(method: &str, segments: &[&str]) -> Option<(&'static Route, &'static [&'static str])> {
    let index = ROUTES.iter().position(|route| route.matches(method, segments))?;
    Some((&ROUTES[index], ACCEPTED[index].as_slice()))
}

const EXPAND: &[Group] = &[top(&["expand"])];
const LIST: &[Group] = &[top(&["limit", "starting_after", "ending_before", "expand"])];
const CREATED: &[Group] = &[top(&["created", "created.gt", "created.gte", "created.lt", "created.lte"])];
const ADDRESS: &[&str] = &["address.city", "address.country", "address.line1", "address.line2", "address.postal_code", "address.state"];
const CONTACT: &[&str] = &["email", "name", "phone"];
const BILLING_DETAILS: &[Group] = &[under("billing_details.", ADDRESS), under("billing_details.", CONTACT)];
/// An intent's `shipping`.
const SHIPPING: &[Group] = &[under("shipping.", ADDRESS), under("shipping.", &["carrier", "name", "phone", "tracking_number"])];
/// A ConfirmationToken's `shipping` (no carrier or tracking number).
const TOKEN_SHIPPING: &[Group] = &[under("shipping.", ADDRESS), under("shipping.", &["name", "phone"])];
/// A new PaymentMethod's details, cards aside.
const METHOD_FIELDS: &[&str] = &["type", "ideal.bank", "sepa_debit.iban", "allow_redisplay", "metadata.*"];
const CARD: &[&str] = &["card.number", "card.exp_month", "card.exp_year", "card.cvc"];
/// `POST /v1/payment_methods`.
const METHOD_DATA: &[Group] = &[top(METHOD_FIELDS), top(CARD)];
/// The same as `payment_method_data[…]` of a ConfirmationToken or a PaymentIntent
/// (raw card numbers only through Stripe.js, below).
const PAYMENT_METHOD_DATA: &[Group] = &[
    under("payment_method_data.", METHOD_FIELDS),
    under("payment_method_data.billing_details.", ADDRESS),
    under("payment_method_data.billing_details.", CONTACT),
];
const MANDATE_DATA: &[Group] =
    &[under("mandate_data.customer_acceptance.", &["type", "accepted_at", "online.ip_address", "online.user_agent"])];
/// What Stripe.js's card fields send with a ConfirmationToken.
const CARD_FIELDS: &[Group] = &[under("payment_method_data.", CARD), under("payment_method_options.card.", &["cvc_token", "cvc"])];
const INTENT_CONFIRM: &[Group] = &[top(&["confirmation_token", "payment_method", "return_url", "use_stripe_sdk", "expand"])];
const PAYMENT_CONFIRM: &[Group] = &[top(&[
    "off_session",
    "setup_future_usage",
    "receipt_email",
    "error_on_requires_action",
    "capture_method",
    "payment_method_options.card.require_cvc_recollection",
    "payment_method_options.card.setup_future_usage",
])];
const CUSTOMER_FIELDS: &[Group] = &[top(&["email", "name", "phone", "description", "metadata.*", "preferred_locales", "balance"])];
const CUSTOMER_SESSION: &[Group] = &[top(&[
    "customer",
    "components.payment_element.enabled",
    "components.payment_element.features.payment_method_save",
    "components.payment_element.features.payment_method_redisplay",
    "components.payment_element.features.payment_method_remove",
    "components.payment_element.features.payment_method_save_usage",
    "components.payment_element.features.payment_method_allow_redisplay_filters",
    "components.payment_element.features.payment_method_redisplay_limit",
    "components.buy_button.enabled",
    "components.pricing_table.enabled",
    "components.customer_sheet.enabled",
    "components.mobile_payment_element.enabled",
])];
const TOKEN: &[Group] = &[top(&["payment_method", "return_url", "setup_future_usage", "expand"])];
const PAYMENT_INTENT_CREATE: &[Group] = &[top(&[
    "amount",
    "currency",
    "confirm",
    "customer",
    "description",
    "metadata.*",
    "automatic_payment_methods.enabled",
    "automatic_payment_methods.allow_redirects",
    "allowed_payment_method_types",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "confirmation_method",
    "transfer_group",
])];
const PAYMENT_INTENT_UPDATE: &[Group] = &[top(&[
    "amount",
    "currency",
    "customer",
    "description",
    "metadata.*",
    "receipt_email",
    "setup_future_usage",
    "payment_method",
    "capture_method",
    "payment_method_options.card.require_cvc_recollection",
    "payment_method_options.card.setup_future_usage",
    "expand",
])];
const SETUP_INTENT_CREATE: &[Group] = &[top(&[
    "confirm",
    "customer",
    "description",
    "metadata.*",
    "usage",
    "automatic_payment_methods.enabled",
    "automatic_payment_methods.allow_redirects",
    "allowed_payment_method_types",
])];

const PRICE_FIELDS: &[&str] = &["currency", "unit_amount", "product", "recurring.interval", "recurring.interval_count"];
const SUBSCRIPTION_CREATE: &[Group] = &[
    top(&[
        "customer",
        "description",
        "metadata.*",
        "payment_behavior",
        "payment_settings.save_default_payment_method",
        "trial_end",
        "trial_period_days",
        "trial_settings.end_behavior.missing_payment_method",
        "billing_mode.type",
        "billing_mode.flexible.proration_discounts",
        "expand",
    ]),
    under("items.#.", &["price", "quantity", "metadata.*"]),
    under("items.#.price_data.", PRICE_FIELDS),
];
const SUBSCRIPTION_LIST: &[Group] = &[top(&["customer", "status"])];

const fn route(method: &'static str, path: &'static str, sdk_params: &'static str, accepts: &'static [&'static [Group]]) -> Route {
    Route { method, path, sdk_params: Some(sdk_params), accepts }
}

/// Every route of `/v1`.
pub const ROUTES: &[Route] = &[
    route("POST", "customers", "CustomerCreateParams", &[CUSTOMER_FIELDS, &[top(&["payment_method", "expand"])]]),
    route("GET", "customers", "CustomerListParams", &[&[top(&["email"])], CREATED, LIST]),
    route("GET", "customers/{id}", "CustomerRetrieveParams", &[EXPAND]),
    route("POST", "customers/{id}", "CustomerUpdateParams", &[CUSTOMER_FIELDS, &[top(&["expand"])]]),
    route("DELETE", "customers/{id}", "CustomerDeleteParams", &[]),
    route("GET", "customers/{id}/payment_methods", "CustomerListPaymentMethodsParams", &[&[top(&["type", "allow_redisplay"])], LIST]),
    route("POST", "customer_sessions", "CustomerSessionCreateParams", &[CUSTOMER_SESSION, EXPAND]),
    // Stripe.js's own route (publishable key): not in the server SDK.
    Route {
        method: "POST",
        path: "confirmation_tokens",
        sdk_params: None,
        accepts: &[TOKEN, PAYMENT_METHOD_DATA, CARD_FIELDS, TOKEN_SHIPPING, MANDATE_DATA, &[top(&["customer_session_client_secret"])]],
    },
    route("GET", "confirmation_tokens/{id}", "ConfirmationTokenRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "test_helpers/confirmation_tokens",
        "TestHelpers.ConfirmationTokenCreateParams",
        &[TOKEN, PAYMENT_METHOD_DATA, TOKEN_SHIPPING],
    ),
    route(
        "POST",
        "payment_methods",
        "PaymentMethodCreateParams",
        &[METHOD_DATA, BILLING_DETAILS, &[top(&["customer", "payment_method", "expand"])]],
    ),
    route("GET", "payment_methods", "PaymentMethodListParams", &[&[top(&["customer", "type", "allow_redisplay"])], LIST]),
    route("GET", "payment_methods/{id}", "PaymentMethodRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "payment_methods/{id}",
        "PaymentMethodUpdateParams",
        &[&[top(&["allow_redisplay", "metadata.*", "card.exp_month", "card.exp_year", "expand"])], BILLING_DETAILS],
    ),
    route("POST", "payment_methods/{id}/attach", "PaymentMethodAttachParams", &[&[top(&["customer", "expand"])]]),
    route("POST", "payment_methods/{id}/detach", "PaymentMethodDetachParams", &[EXPAND]),
    route(
        "POST",
        "payment_intents",
        "PaymentIntentCreateParams",
        &[PAYMENT_INTENT_CREATE, INTENT_CONFIRM, PAYMENT_CONFIRM, PAYMENT_METHOD_DATA, SHIPPING, MANDATE_DATA],
    ),
    route("GET", "payment_intents", "PaymentIntentListParams", &[&[top(&["customer"])], CREATED, LIST]),
    route("GET", "payment_intents/{id}", "PaymentIntentRetrieveParams", &[&[top(&["client_secret", "expand"])]]),
    route("POST", "payment_intents/{id}", "PaymentIntentUpdateParams", &[PAYMENT_INTENT_UPDATE, SHIPPING]),
    route(
        "POST",
        "payment_intents/{id}/confirm",
        "PaymentIntentConfirmParams",
        &[INTENT_CONFIRM, PAYMENT_CONFIRM, PAYMENT_METHOD_DATA, SHIPPING, MANDATE_DATA],
    ),
    route("POST", "payment_intents/{id}/cancel", "PaymentIntentCancelParams", &[&[top(&["cancellation_reason", "expand"])]]),
    route("POST", "payment_intents/{id}/capture", "PaymentIntentCaptureParams", &[&[top(&["amount_to_capture", "metadata.*", "expand"])]]),
    route("POST", "setup_intents", "SetupIntentCreateParams", &[SETUP_INTENT_CREATE, INTENT_CONFIRM, MANDATE_DATA]),
    route("GET", "setup_intents/{id}", "SetupIntentRetrieveParams", &[&[top(&["client_secret", "expand"])]]),
    route("POST", "setup_intents/{id}", "SetupIntentUpdateParams", &[&[top(&["description", "metadata.*", "customer", "expand"])]]),
    route("POST", "setup_intents/{id}/confirm", "SetupIntentConfirmParams", &[INTENT_CONFIRM, MANDATE_DATA]),
    route("POST", "setup_intents/{id}/cancel", "SetupIntentCancelParams", &[&[top(&["cancellation_reason", "expand"])]]),
    route("GET", "charges", "ChargeListParams", &[&[top(&["payment_intent", "customer"])], CREATED, LIST]),
    route("GET", "charges/{id}", "ChargeRetrieveParams", &[EXPAND]),
    route("GET", "disputes", "DisputeListParams", &[&[top(&["charge", "payment_intent"])], CREATED, LIST]),
    route("GET", "disputes/{id}", "DisputeRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "disputes/{id}",
        "DisputeUpdateParams",
        &[&[top(&["metadata.*", "submit", "expand"])], &[under("evidence.", &super::disputes::TEXT_EVIDENCE)]],
    ),
    route("POST", "disputes/{id}/close", "DisputeCloseParams", &[EXPAND]),
    route(
        "GET",
        "radar/early_fraud_warnings",
        "Radar.EarlyFraudWarningListParams",
        &[&[top(&["charge", "payment_intent"])], CREATED, LIST],
    ),
    route("GET", "radar/early_fraud_warnings/{id}", "Radar.EarlyFraudWarningRetrieveParams", &[EXPAND]),
    route("POST", "refunds", "RefundCreateParams", &[&[top(&["charge", "payment_intent", "amount", "reason", "metadata.*", "expand"])]]),
    route("GET", "refunds", "RefundListParams", &[&[top(&["charge", "payment_intent"])], CREATED, LIST]),
    route("GET", "refunds/{id}", "RefundRetrieveParams", &[EXPAND]),
    route("POST", "refunds/{id}", "RefundUpdateParams", &[&[top(&["metadata.*", "expand"])]]),
    route("POST", "products", "ProductCreateParams", &[&[top(&["id", "name", "active", "description", "metadata.*", "expand"])]]),
    route("GET", "products/{id}", "ProductRetrieveParams", &[EXPAND]),
    route("POST", "prices", "PriceCreateParams", &[&[top(PRICE_FIELDS), top(&["lookup_key", "nickname", "metadata.*", "expand"])]]),
    route("GET", "prices/{id}", "PriceRetrieveParams", &[EXPAND]),
    route("POST", "subscriptions", "SubscriptionCreateParams", &[SUBSCRIPTION_CREATE]),
    route("GET", "subscriptions", "SubscriptionListParams", &[SUBSCRIPTION_LIST, CREATED, LIST]),
    route("GET", "subscriptions/{id}", "SubscriptionRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "subscriptions/{id}",
        "SubscriptionUpdateParams",
        &[&[
            top(&[
                "cancel_at",
                "cancel_at_period_end",
                "default_payment_method",
                "description",
                "metadata.*",
                "pause_collection",
                "proration_behavior",
                "trial_end",
                "trial_settings.end_behavior.missing_payment_method",
                "expand",
            ]),
            under("items.#.", &["id", "price", "quantity"]),
            under("pause_collection.", &["behavior", "resumes_at"]),
        ]],
    ),
    route(
        "POST",
        "subscriptions/{id}/pause",
        "SubscriptionPauseParams",
        &[&[top(&["bill_for.outstanding_usage_through.type", "bill_for.unused_time_from.type", "invoicing_behavior", "type", "expand"])]],
    ),
    route(
        "POST",
        "subscriptions/{id}/resume",
        "SubscriptionResumeParams",
        &[&[top(&["billing_cycle_anchor.type", "payment_behavior", "proration_behavior", "proration_date", "expand"])]],
    ),
    route("DELETE", "subscriptions/{id}", "SubscriptionCancelParams", &[&[top(&["cancellation_details.comment", "expand"])]]),
    route("GET", "invoices", "InvoiceListParams", &[&[top(&["customer", "subscription", "status"])], CREATED, LIST]),
    route("GET", "invoices/{id}", "InvoiceRetrieveParams", &[EXPAND]),
    route("POST", "invoices/{id}/finalize", "InvoiceFinalizeInvoiceParams", &[&[top(&["auto_advance", "expand"])]]),
    route("POST", "invoices/{id}/pay", "InvoicePayParams", &[&[top(&["payment_method", "off_session", "expand"])]]),
    route("POST", "invoices/{id}/void", "InvoiceVoidInvoiceParams", &[EXPAND]),
    route("POST", "invoices/{id}/mark_uncollectible", "InvoiceMarkUncollectibleParams", &[EXPAND]),
    route("GET", "events", "EventListParams", &[&[top(&["type", "types"])], CREATED, LIST]),
    route("GET", "events/{id}", "EventRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "webhook_endpoints",
        "WebhookEndpointCreateParams",
        &[&[top(&["url", "enabled_events", "description", "metadata.*", "api_version", "expand"])]],
    ),
    route("GET", "webhook_endpoints", "WebhookEndpointListParams", &[LIST]),
    route("GET", "webhook_endpoints/{id}", "WebhookEndpointRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "webhook_endpoints/{id}",
        "WebhookEndpointUpdateParams",
        &[&[top(&["url", "enabled_events", "description", "metadata.*", "disabled", "expand"])]],
    ),
    route("DELETE", "webhook_endpoints/{id}", "WebhookEndpointDeleteParams", &[]),
    // What the Payment Element asks for a CustomerSession (Stripe.js's private routes).
    Route { method: "GET", path: "elements/sessions", sdk_params: None, accepts: &[&[top(&["customer_session_client_secret"])]] },
    Route {
        method: "POST",
        path: "elements/payment_methods/{id}/detach",
        sdk_params: None,
        accepts: &[&[top(&["customer_session_client_secret"])]],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_ids_and_nothing_else() {
        assert_eq!(find("POST", &["payment_intents", "pi_1", "confirm"]).unwrap().0.sdk_params, Some("PaymentIntentConfirmParams"));
        assert_eq!(find("GET", &["payment_intents"]).unwrap().0.sdk_params, Some("PaymentIntentListParams"));
        let (_, accepted) = find("POST", &["payment_intents"]).unwrap();
        assert!(accepted.contains(&"shipping.address.postal_code") && accepted.contains(&"payment_method_data.billing_details.email"));
        assert!(find("PUT", &["payment_intents"]).is_none());
        assert!(find("POST", &["payment_intents", "pi_1", "refund"]).is_none());
    }

    #[test]
    fn only_metadata_is_a_wildcard() {
        for route in ROUTES {
            for param in route.accepted() {
                assert!(!param.ends_with(".*") || param.ends_with("metadata.*"), "{} {}: {param}", route.method, route.path);
            }
        }
    }
}
