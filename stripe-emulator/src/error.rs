//! Stripe's error replies: `{"error": {type, code, decline_code, message, param, …}}`
//! with the HTTP status Stripe uses for each kind.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

/// An error as Stripe reports it. Boxed: every handler returns `Result<_, ApiError>`,
/// and the error path should not make every `Ok` as large as the error's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(Box<ErrorDetails>);

/// What an [`ApiError`] says; its fields read through the error itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDetails {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    /// Objects Stripe attaches to the error (`payment_intent`, `setup_intent`,
    /// `payment_method`), already rendered.
    pub attached: Map<String, Value>,
    /// Refused before the endpoint ran (see [`ApiError::is_validation`]).
    pub before_execution: bool,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorDetails {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            attached: Map::new(),
            before_execution: false,
        }))
    }

    /// Marks an error found before the endpoint ran.
    pub fn before_execution(mut self) -> Self {
        self.before_execution = true;
        self
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub fn attach(mut self, name: &str, object: Value) -> Self {
        self.attached.insert(name.to_owned(), object);
        self
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::invalid(message).with_param(param)
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}.")).with_code("parameter_missing").with_param(param)
    }

    pub fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}")).with_code("parameter_unknown").with_param(param)
    }

    /// 404 for a missing object in the URL path.
    pub fn no_such(kind: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", format!("No such {kind}: '{id}'")).with_code("resource_missing")
    }

    /// 400 for a missing object named by a parameter.
    pub fn no_such_param(kind: &str, id: &str, param: &str) -> Self {
        Self::invalid(format!("No such {kind}: '{id}'")).with_code("resource_missing").with_param(param)
    }

    /// 401: no key, or not a key this emulator accepts.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    /// 402 `card_error`.
    pub fn card(code: &str, decline_code: Option<&str>, message: &str) -> Self {
        let mut error = Self::new(StatusCode::PAYMENT_REQUIRED, "card_error", message).with_code(code);
        error.decline_code = decline_code.map(str::to_owned);
        error
    }

    pub fn idempotency(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "idempotency_error", message)
    }

    /// A Stripe-side fault (used by fault injection).
    pub fn api(status: StatusCode) -> Self {
        Self::new(status, "api_error", "An unknown error occurred while processing your request (emulated fault).")
    }

    pub fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "invalid_request_error", "Too many requests hit the API too quickly (emulated fault).")
            .with_code("rate_limit")
    }

    pub fn not_found_route(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Unrecognized request URL ({method}: {path}). The Stripe emulator does not implement this route; see its README."),
        )
    }

    /// Refused by parameter validation, before the endpoint started executing (so no
    /// idempotent result is saved for it).
    pub fn is_validation(&self) -> bool {
        self.before_execution
            || self.status == StatusCode::BAD_REQUEST
                && self.code.as_deref().is_some_and(|code| code.starts_with("parameter") || code == "url_invalid")
    }

    /// The body Stripe sends.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
            error.insert("doc_url".into(), json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))));
        }
        if let Some(decline_code) = &self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        for (name, object) in &self.attached {
            error.insert(name.clone(), object.clone());
        }
        json!({ "error": error })
    }
}

/// The reply Stripe sends for the error: its status and `{"error": …}`.
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
