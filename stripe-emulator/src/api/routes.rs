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
    /// Accepted parameters, nested names with dots.
    #[serde(serialize_with = "flatten")]
    pub accepts: &'static [&'static [&'static str]],
}

impl Route {
    pub fn accepted(&self) -> Vec<&'static str> {
        self.accepts.iter().flat_map(|group| group.iter().copied()).collect()
    }

    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        let pattern: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        self.method == method
            && pattern.len() == segments.len()
            && pattern.iter().zip(segments).all(|(want, got)| *want == "{id}" || want == got)
    }
}

fn flatten<S: serde::Serializer>(accepts: &&'static [&'static [&'static str]], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(accepts.iter().flat_map(|group| group.iter()))
}

/// The route for `method` and path segments, if the API has one.
pub fn find(method: &str, segments: &[&str]) -> Option<&'static Route> {
    ROUTES.iter().find(|route| route.matches(method, segments))
}

const EXPAND: &[&str] = &["expand"];
const LIST: &[&str] = &["limit", "starting_after", "ending_before", "expand"];
const CREATED: &[&str] = &["created", "created.gt", "created.gte", "created.lt", "created.lte"];
const BILLING_DETAILS: &[&str] = &[
    "billing_details.address.city",
    "billing_details.address.country",
    "billing_details.address.line1",
    "billing_details.address.line2",
    "billing_details.address.postal_code",
    "billing_details.address.state",
    "billing_details.email",
    "billing_details.name",
    "billing_details.phone",
];
const SHIPPING: &[&str] = &[
    "shipping.address.city",
    "shipping.address.country",
    "shipping.address.line1",
    "shipping.address.line2",
    "shipping.address.postal_code",
    "shipping.address.state",
    "shipping.carrier",
    "shipping.name",
    "shipping.phone",
    "shipping.tracking_number",
];
/// A new PaymentMethod's details (`POST /v1/payment_methods`).
const METHOD_DATA: &[&str] = &[
    "type",
    "card.number",
    "card.exp_month",
    "card.exp_year",
    "card.cvc",
    "ideal.bank",
    "sepa_debit.iban",
    "allow_redisplay",
    "metadata.*",
];
/// The same, as `payment_method_data[…]` of a ConfirmationToken or a PaymentIntent
/// (raw card numbers only through Stripe.js, below).
const PAYMENT_METHOD_DATA: &[&str] = &[
    "payment_method_data.type",
    "payment_method_data.ideal.bank",
    "payment_method_data.sepa_debit.iban",
    "payment_method_data.allow_redisplay",
    "payment_method_data.metadata.*",
    "payment_method_data.billing_details.address.city",
    "payment_method_data.billing_details.address.country",
    "payment_method_data.billing_details.address.line1",
    "payment_method_data.billing_details.address.line2",
    "payment_method_data.billing_details.address.postal_code",
    "payment_method_data.billing_details.address.state",
    "payment_method_data.billing_details.email",
    "payment_method_data.billing_details.name",
    "payment_method_data.billing_details.phone",
];
/// What Stripe.js's card fields send with a ConfirmationToken.
const CARD_FIELDS: &[&str] = &[
    "payment_method_data.card.number",
    "payment_method_data.card.exp_month",
    "payment_method_data.card.exp_year",
    "payment_method_data.card.cvc",
    "payment_method_options.card.cvc_token",
    "payment_method_options.card.cvc",
];
/// A ConfirmationToken's `shipping`.
const TOKEN_SHIPPING: &[&str] = &[
    "shipping.address.city",
    "shipping.address.country",
    "shipping.address.line1",
    "shipping.address.line2",
    "shipping.address.postal_code",
    "shipping.address.state",
    "shipping.name",
    "shipping.phone",
];
const MANDATE_DATA: &[&str] = &[
    "mandate_data.customer_acceptance.type",
    "mandate_data.customer_acceptance.accepted_at",
    "mandate_data.customer_acceptance.online.ip_address",
    "mandate_data.customer_acceptance.online.user_agent",
];
const INTENT_CONFIRM: &[&str] = &["confirmation_token", "payment_method", "return_url", "use_stripe_sdk", "expand"];
const PAYMENT_CONFIRM: &[&str] = &[
    "off_session",
    "setup_future_usage",
    "receipt_email",
    "error_on_requires_action",
    "capture_method",
    "payment_method_options.card.require_cvc_recollection",
    "payment_method_options.card.setup_future_usage",
];
const CUSTOMER_FIELDS: &[&str] = &["email", "name", "phone", "description", "metadata.*", "preferred_locales"];
const CUSTOMER_SESSION: &[&str] = &[
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
];
const TOKEN: &[&str] = &["payment_method", "return_url", "setup_future_usage", "expand"];
const PAYMENT_INTENT_CREATE: &[&str] = &[
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
];
const PAYMENT_INTENT_UPDATE: &[&str] = &[
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
];
const SETUP_INTENT_CREATE: &[&str] = &[
    "confirm",
    "customer",
    "description",
    "metadata.*",
    "usage",
    "automatic_payment_methods.enabled",
    "automatic_payment_methods.allow_redirects",
    "allowed_payment_method_types",
];

const fn route(method: &'static str, path: &'static str, sdk_params: &'static str, accepts: &'static [&'static [&'static str]]) -> Route {
    Route { method, path, sdk_params: Some(sdk_params), accepts }
}

/// Every route of `/v1`.
pub const ROUTES: &[Route] = &[
    route("POST", "customers", "CustomerCreateParams", &[CUSTOMER_FIELDS, &["payment_method", "expand"]]),
    route("GET", "customers", "CustomerListParams", &[&["email"], CREATED, LIST]),
    route("GET", "customers/{id}", "CustomerRetrieveParams", &[EXPAND]),
    route("POST", "customers/{id}", "CustomerUpdateParams", &[CUSTOMER_FIELDS, &["expand"]]),
    route("DELETE", "customers/{id}", "CustomerDeleteParams", &[]),
    route("GET", "customers/{id}/payment_methods", "CustomerListPaymentMethodsParams", &[&["type", "allow_redisplay"], LIST]),
    route("POST", "customer_sessions", "CustomerSessionCreateParams", &[CUSTOMER_SESSION, EXPAND]),
    // Stripe.js's own route (publishable key): not in the server SDK.
    Route {
        method: "POST",
        path: "confirmation_tokens",
        sdk_params: None,
        accepts: &[TOKEN, PAYMENT_METHOD_DATA, CARD_FIELDS, TOKEN_SHIPPING, MANDATE_DATA, &["customer_session_client_secret"]],
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
        &[METHOD_DATA, BILLING_DETAILS, &["customer", "payment_method", "expand"]],
    ),
    route("GET", "payment_methods", "PaymentMethodListParams", &[&["customer", "type", "allow_redisplay"], LIST]),
    route("GET", "payment_methods/{id}", "PaymentMethodRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "payment_methods/{id}",
        "PaymentMethodUpdateParams",
        &[&["allow_redisplay", "metadata.*", "card.exp_month", "card.exp_year", "expand"], BILLING_DETAILS],
    ),
    route("POST", "payment_methods/{id}/attach", "PaymentMethodAttachParams", &[&["customer", "expand"]]),
    route("POST", "payment_methods/{id}/detach", "PaymentMethodDetachParams", &[EXPAND]),
    route(
        "POST",
        "payment_intents",
        "PaymentIntentCreateParams",
        &[PAYMENT_INTENT_CREATE, INTENT_CONFIRM, PAYMENT_CONFIRM, PAYMENT_METHOD_DATA, SHIPPING, MANDATE_DATA],
    ),
    route("GET", "payment_intents", "PaymentIntentListParams", &[&["customer"], CREATED, LIST]),
    route("GET", "payment_intents/{id}", "PaymentIntentRetrieveParams", &[&["client_secret", "expand"]]),
    route("POST", "payment_intents/{id}", "PaymentIntentUpdateParams", &[PAYMENT_INTENT_UPDATE, SHIPPING]),
    route(
        "POST",
        "payment_intents/{id}/confirm",
        "PaymentIntentConfirmParams",
        &[INTENT_CONFIRM, PAYMENT_CONFIRM, PAYMENT_METHOD_DATA, SHIPPING, MANDATE_DATA],
    ),
    route("POST", "payment_intents/{id}/cancel", "PaymentIntentCancelParams", &[&["cancellation_reason", "expand"]]),
    route("POST", "payment_intents/{id}/capture", "PaymentIntentCaptureParams", &[&["amount_to_capture", "metadata.*", "expand"]]),
    route("POST", "setup_intents", "SetupIntentCreateParams", &[SETUP_INTENT_CREATE, INTENT_CONFIRM, MANDATE_DATA]),
    route("GET", "setup_intents/{id}", "SetupIntentRetrieveParams", &[&["client_secret", "expand"]]),
    route("POST", "setup_intents/{id}", "SetupIntentUpdateParams", &[&["description", "metadata.*", "customer", "expand"]]),
    route("POST", "setup_intents/{id}/confirm", "SetupIntentConfirmParams", &[INTENT_CONFIRM, MANDATE_DATA]),
    route("POST", "setup_intents/{id}/cancel", "SetupIntentCancelParams", &[&["cancellation_reason", "expand"]]),
    route("GET", "charges", "ChargeListParams", &[&["payment_intent", "customer"], CREATED, LIST]),
    route("GET", "charges/{id}", "ChargeRetrieveParams", &[EXPAND]),
    route("GET", "disputes", "DisputeListParams", &[&["charge", "payment_intent"], CREATED, LIST]),
    route("GET", "disputes/{id}", "DisputeRetrieveParams", &[EXPAND]),
    route("POST", "refunds", "RefundCreateParams", &[&["charge", "payment_intent", "amount", "reason", "metadata.*", "expand"]]),
    route("GET", "refunds", "RefundListParams", &[&["charge", "payment_intent"], CREATED, LIST]),
    route("GET", "refunds/{id}", "RefundRetrieveParams", &[EXPAND]),
    route("POST", "refunds/{id}", "RefundUpdateParams", &[&["metadata.*", "expand"]]),
    route("GET", "events", "EventListParams", &[&["type", "types"], CREATED, LIST]),
    route("GET", "events/{id}", "EventRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "webhook_endpoints",
        "WebhookEndpointCreateParams",
        &[&["url", "enabled_events", "description", "metadata.*", "api_version", "expand"]],
    ),
    route("GET", "webhook_endpoints", "WebhookEndpointListParams", &[LIST]),
    route("GET", "webhook_endpoints/{id}", "WebhookEndpointRetrieveParams", &[EXPAND]),
    route(
        "POST",
        "webhook_endpoints/{id}",
        "WebhookEndpointUpdateParams",
        &[&["url", "enabled_events", "description", "metadata.*", "disabled", "expand"]],
    ),
    route("DELETE", "webhook_endpoints/{id}", "WebhookEndpointDeleteParams", &[]),
    // What the Payment Element asks for a CustomerSession (Stripe.js's private routes).
    Route { method: "GET", path: "elements/sessions", sdk_params: None, accepts: &[&["customer_session_client_secret"]] },
    Route {
        method: "POST",
        path: "elements/payment_methods/{id}/detach",
        sdk_params: None,
        accepts: &[&["customer_session_client_secret"]],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_ids_and_nothing_else() {
        assert_eq!(find("POST", &["payment_intents", "pi_1", "confirm"]).unwrap().sdk_params, Some("PaymentIntentConfirmParams"));
        assert_eq!(find("GET", &["payment_intents"]).unwrap().sdk_params, Some("PaymentIntentListParams"));
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
