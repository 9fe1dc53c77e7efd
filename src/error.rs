//! `AppError`: the one error type that crosses the wire from server functions to the
//! browser. Its messages are written for shoppers; causes stay in the server log.

use leptos::server_fn::codec::Post;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{Deserialize, Serialize};

/// What a shopper is told when a server function fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// The request was understood but its input is not acceptable; the message says
    /// what to change. Nothing was modified.
    Invalid(String),
    /// The thing asked for does not exist (or is not this shopper's).
    NotFound(String),
    /// The cart is no longer what the checkout showed (it changed in another tab, or a
    /// price or discount changed since): nothing was charged. The message says what
    /// the cart comes to now; the page reads it again before the shopper pays.
    CartChanged(String),
    /// The card was declined or could not be authenticated: Stripe's message for the
    /// shopper, and its decline code. Nothing was charged; another card may work.
    Declined { message: String, decline_code: Option<String> },
    /// Too many attempts (signing in): try again after this many seconds. The reply
    /// carries `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// The payment service did not answer a request that changes nothing (a read), or
    /// refused one before acting on it (rate limited).
    PaymentUnavailable,
    /// A payment was sent to Stripe and no answer came back, so whether it went through
    /// is not known yet. Confirming again with the same details asks Stripe under the
    /// attempt's idempotency key (it cannot charge twice); reconciliation resolves it
    /// too. `order_id` names the order whose page will show the outcome.
    PaymentUnknown { order_id: String },
    /// Stripe refused the request as the shop made it (a parameter, the currency, the
    /// account's settings): nothing was charged, and only the merchant can fix it.
    PaymentSetupFault,
    /// The database could not be reached (a restart, a network fault). The request
    /// changed nothing and charged nothing; trying again shortly works.
    StoreUnavailable,
    /// A fault on our side. The cause is in the server log under the request id.
    Internal,
    /// The request never reached the server function, or its reply could not be read
    /// (network, serialization): raised by the server-function plumbing.
    Transport(String),
}

impl AppError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// What the shopper reads, in their language. Refusals carry the text the server
    /// wrote in the request's language; the fixed messages come from the catalogue.
    pub fn message(&self, locale: crate::i18n::Locale) -> String {
        let t = locale.texts();
        match self {
            Self::Invalid(message) | Self::NotFound(message) | Self::CartChanged(message) | Self::Declined { message, .. } => {
                message.clone()
            }
            Self::RateLimited { retry_after_secs } => {
                let wait = match retry_after_secs {
                    0..=60 => t.a_minute().to_owned(),
                    seconds => crate::i18n::fill(t.minutes(), &[&seconds.div_ceil(60)]),
                };
                crate::i18n::fill(t.error_rate_limited(), &[&wait])
            }
            Self::PaymentUnavailable => t.error_payment_unavailable().to_owned(),
            Self::PaymentUnknown { .. } => t.error_payment_unknown().to_owned(),
            Self::PaymentSetupFault => t.error_payment_setup().to_owned(),
            Self::StoreUnavailable => t.error_store_unavailable().to_owned(),
            Self::Internal => t.error_internal().to_owned(),
            Self::Transport(_) => t.error_transport().to_owned(),
        }
    }

    /// The HTTP status the server replies with for this error (set when it is encoded
    /// for the wire, see `ser`).
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Invalid(_) | Self::Transport(_) => 400,
            Self::NotFound(_) => 404,
            Self::CartChanged(_) => 409,
            Self::Declined { .. } => 402,
            Self::RateLimited { .. } => 429,
            Self::PaymentUnavailable | Self::StoreUnavailable => 503,
            // The gateway (Stripe) gave no usable answer in time.
            Self::PaymentUnknown { .. } => 504,
            Self::Internal | Self::PaymentSetupFault => 500,
        }
    }
}

/// A database fault, as the shopper hears it: "unavailable, try again" when the
/// database could not be reached, a generic fault otherwise. The cause goes to the log
/// with the place the `?` was.
#[cfg(feature = "ssr")]
impl From<crate::store::StoreError> for AppError {
    #[track_caller]
    fn from(error: crate::store::StoreError) -> Self {
        let at = std::panic::Location::caller();
        if error.is_unavailable() {
            tracing::warn!(error = ?error, %at, "the database is unreachable");
            AppError::StoreUnavailable
        } else {
            tracing::error!(error = ?error, %at, "a store operation failed");
            AppError::Internal
        }
    }
}

/// A Stripe call that failed for a reason other than the shopper's card, as the
/// shopper hears it: "unavailable" when Stripe did not answer (a warning in the log),
/// an internal error otherwise (an error in the log). Paths that can tell more (a
/// payment whose outcome is unknown, a decline) match on the error before this.
#[cfg(feature = "ssr")]
impl From<crate::stripe::Error> for AppError {
    #[track_caller]
    fn from(error: crate::stripe::Error) -> Self {
        let at = std::panic::Location::caller();
        if error.is_unavailable() {
            tracing::warn!(%error, %at, "Stripe is unavailable");
            AppError::PaymentUnavailable
        } else {
            tracing::error!(%error, %at, "unexpected reply from Stripe");
            AppError::Internal
        }
    }
}

/// In English (logs, tests); shoppers read [`AppError::message`] in their language.
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(crate::i18n::Locale::En))
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad or missing arguments are the caller's fault: say so plainly.
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                Self::Invalid(crate::i18n::fill(crate::i18n::tr().malformed(), &[&detail]))
            }
            other => Self::Transport(other.to_string()),
        }
    }

    /// Encoded for the wire once per failed server function, on the server inside its
    /// request: the reply gets the status this error calls for (the framework answers
    /// 500 otherwise), arguments that failed to decode included. A plain form post (no
    /// JavaScript) keeps the framework's redirect back to its page.
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        self.set_reply_status();
        <JsonText as Encodes<Self>>::encode(self).unwrap_or_default()
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    fn set_reply_status(&self) {
        use leptos::prelude::use_context;
        let Some(reply) = use_context::<leptos_axum::ResponseOptions>() else { return };
        let plain_form_post = use_context::<http::request::Parts>().is_some_and(|head| {
            head.headers
                .get(http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
        });
        if !plain_form_post {
            reply.set_status(http::StatusCode::from_u16(self.status_code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
    }
}

/// How every server function replies: JSON, as with Leptos' `Json`, but decoded in the
/// browser from text. An island's props are JSON decoded from text too, so the wasm
/// bundle holds one decoder per type instead of one for props and one for replies
/// (`serde_json` instantiates each per input kind).
pub type JsonReply = Post<JsonText>;

/// The JSON encoding of [`JsonReply`] and of `AppError`.
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = leptos::serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        leptos::serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> Decodes<T> for JsonText {
    type Error = leptos::serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        leptos::serde_json::from_str(text)
    }
}
