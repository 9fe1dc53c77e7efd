//! The real bindings (browser build). Raw `extern` declarations stay private.

use super::{AddressElementOptions, ChangeEvent, ConfirmationTokenParams, ElementsOptions, PaymentElementOptions, StripeJsError};
use js_sys::{Function, Promise, Reflect};
use leptos::web_sys::Element;
use std::future::Future;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    type JsStripe;
    /// <https://docs.stripe.com/js/initializing>
    #[wasm_bindgen(catch, js_name = Stripe)]
    fn init_stripe(publishable_key: &str) -> Result<JsStripe, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn elements(this: &JsStripe, options: &JsValue) -> Result<JsElements, JsValue>;
    #[wasm_bindgen(method, js_name = createConfirmationToken)]
    fn create_confirmation_token(this: &JsStripe, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = createPaymentMethod)]
    fn create_payment_method(this: &JsStripe, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = handleNextAction)]
    fn handle_next_action(this: &JsStripe, options: &JsValue) -> Promise;

    #[derive(Clone)]
    type JsElements;
    #[wasm_bindgen(method, catch)]
    fn create(this: &JsElements, kind: &str, options: &JsValue) -> Result<JsElement, JsValue>;
    #[wasm_bindgen(method)]
    fn update(this: &JsElements, options: &JsValue);
    #[wasm_bindgen(method)]
    fn submit(this: &JsElements) -> Promise;
    #[wasm_bindgen(method, js_name = getElement)]
    fn get_element(this: &JsElements, kind: &str) -> Option<JsElement>;

    #[derive(Clone)]
    type JsElement;
    #[wasm_bindgen(method, catch)]
    fn mount(this: &JsElement, target: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn on(this: &JsElement, event: &str, handler: &Function);
    #[wasm_bindgen(method)]
    fn off(this: &JsElement, event: &str, handler: &Function);
    #[wasm_bindgen(method)]
    fn destroy(this: &JsElement);
    #[wasm_bindgen(method)]
    fn clear(this: &JsElement);
    #[wasm_bindgen(method, js_name = getValue)]
    fn get_value(this: &JsElement) -> Promise;
}

/// `value` as a JavaScript object: its JSON, parsed by the browser (one call across,
/// where building the object from wasm takes one per field).
fn to_js<T: serde::Serialize>(value: &T) -> JsValue {
    serde_json::to_string(value).ok().and_then(|json| js_sys::JSON::parse(&json).ok()).unwrap_or(JsValue::UNDEFINED)
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(object: &JsValue, key: &str) -> Option<String> {
    get(object, key).as_string()
}

/// A thrown exception or a rejected promise, as an error.
fn thrown(value: JsValue) -> StripeJsError {
    let message = value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "Stripe.js failed".to_owned());
    StripeJsError::new("integration_error", message)
}

/// Reads `{error: {type, code, message}}` from a Stripe.js result.
fn result_error(result: &JsValue) -> Option<StripeJsError> {
    let error = get(result, "error");
    if error.is_undefined() || error.is_null() {
        return None;
    }
    Some(StripeJsError {
        kind: get_string(&error, "type").unwrap_or_else(|| "api_error".into()),
        code: get_string(&error, "code"),
        message: get_string(&error, "message").unwrap_or_else(|| "The payment could not be completed.".into()),
    })
}

async fn settle(promise: Promise) -> Result<JsValue, StripeJsError> {
    let result = JsFuture::from(promise).await.map_err(thrown)?;
    match result_error(&result) {
        Some(error) => Err(error),
        None => Ok(result),
    }
}

/// `Stripe(publishableKey)`.
#[derive(Clone)]
pub struct Stripe {
    js: JsStripe,
}

impl Stripe {
    /// Fails when Stripe.js did not load (blocked, offline) or the key is refused.
    pub fn new(publishable_key: &str) -> Result<Stripe, StripeJsError> {
        if !Reflect::has(&js_sys::global(), &"Stripe".into()).unwrap_or(false) {
            let code = Some(StripeJsError::UNAVAILABLE.to_owned());
            return Err(StripeJsError { kind: "api_connection_error".into(), code, message: "Stripe.js did not load".into() });
        }
        init_stripe(publishable_key).map(|js| Stripe { js }).map_err(thrown)
    }

    pub fn elements(&self, options: &ElementsOptions) -> Result<Elements, StripeJsError> {
        self.js.elements(&to_js(options)).map(|js| Elements { js }).map_err(thrown)
    }

    /// Turns the details in `elements` into a ConfirmationToken; returns its id.
    pub async fn create_confirmation_token(&self, elements: &Elements, params: &ConfirmationTokenParams) -> Result<String, StripeJsError> {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"elements".into(), elements.js.as_ref());
        let _ = Reflect::set(&options, &"params".into(), &to_js(params));
        let result = settle(self.js.create_confirmation_token(&options)).await?;
        get_string(&get(&result, "confirmationToken"), "id")
            .ok_or_else(|| StripeJsError::new("api_error", "Stripe.js returned no ConfirmationToken."))
    }

    /// Legacy path: turns the details in `elements` (created with
    /// `paymentMethodCreation: 'manual'`) into a PaymentMethod; returns its id.
    pub async fn create_payment_method(&self, elements: &Elements) -> Result<String, StripeJsError> {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"elements".into(), elements.js.as_ref());
        let result = settle(self.js.create_payment_method(&options)).await?;
        get_string(&get(&result, "paymentMethod"), "id")
            .ok_or_else(|| StripeJsError::new("api_error", "Stripe.js returned no PaymentMethod."))
    }

    /// Runs the intent's next action (3-D Secure, redirect); resolves with the intent's
    /// status once it is done.
    pub async fn handle_next_action(&self, client_secret: &str) -> Result<String, StripeJsError> {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"clientSecret".into(), &client_secret.into());
        let result = settle(self.js.handle_next_action(&options)).await?;
        let intent = [get(&result, "paymentIntent"), get(&result, "setupIntent")].into_iter().find(|v| v.is_object());
        Ok(intent.and_then(|intent| get_string(&intent, "status")).unwrap_or_default())
    }
}

/// `stripe.elements(…)`.
#[derive(Clone)]
pub struct Elements {
    js: JsElements,
}

impl Elements {
    pub fn create_payment_element(&self, options: &PaymentElementOptions) -> Result<PaymentElement, StripeJsError> {
        self.js.create("payment", &to_js(options)).map(|js| PaymentElement { js }).map_err(thrown)
    }

    /// The Address Element, mounted in `target`.
    pub fn create_address_element(&self, options: &AddressElementOptions, target: &Element) -> Result<AddressElement, StripeJsError> {
        let js_options = to_js(options);
        if let Some(defaults) = options.default_values.as_deref().and_then(|json| js_sys::JSON::parse(json).ok()) {
            let _ = Reflect::set(&js_options, &"defaultValues".into(), &defaults);
        }
        let js = self.js.create("address", &js_options).map_err(thrown)?;
        js.mount(target.as_ref()).map_err(thrown)?;
        Ok(AddressElement { js })
    }

    /// Tells Elements the new total (wallets and BNPL show it); display only.
    pub fn update_amount(&self, amount: i64) {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"amount".into(), &JsValue::from_f64(amount as f64));
        self.js.update(&options);
    }

    /// Gives every Element a new look (`elements.update({appearance})`).
    pub fn update_appearance(&self, appearance: &crate::stripe_js::Appearance) {
        let options = js_sys::Object::new();
        let _ = Reflect::set(&options, &"appearance".into(), &to_js(appearance));
        self.js.update(&options);
    }

    /// Validates the form. Stripe.js must receive this call synchronously in the click
    /// handler: the call is made here, when `submit` is called, not when awaited.
    pub fn submit(&self) -> impl Future<Output = Result<(), StripeJsError>> + use<> {
        let promise = self.js.submit();
        async move { settle(promise).await.map(|_| ()) }
    }

    /// Empties the Payment Element's fields once what was typed in them has been used
    /// (`getElement('payment').clear()`).
    pub fn clear_payment_element(&self) {
        if let Some(element) = self.js.get_element("payment") {
            element.clear();
        }
    }
}

/// The Address Element.
pub struct AddressElement {
    js: JsElement,
}

impl AddressElement {
    /// The address entered (`None` while incomplete).
    /// <https://docs.stripe.com/js/elements_object/get_value_address_element>
    pub fn value(&self) -> impl Future<Output = Result<Option<super::AddressValue>, StripeJsError>> + use<> {
        let promise = self.js.get_value();
        async move {
            let result = settle(promise).await?;
            if get(&result, "complete").as_bool() != Some(true) {
                return Ok(None);
            }
            js_sys::JSON::stringify(&get(&result, "value"))
                .ok()
                .and_then(|json| json.as_string())
                .ok_or_else(|| "not JSON".to_owned())
                .and_then(|json| serde_json::from_str(&json).map_err(|error| error.to_string()))
                .map(Some)
                .map_err(|error| StripeJsError::new("api_error", format!("Stripe.js returned an unreadable address: {error}")))
        }
    }
}

impl Drop for AddressElement {
    fn drop(&mut self) {
        self.js.destroy();
    }
}

/// The Payment Element.
pub struct PaymentElement {
    js: JsElement,
}

impl PaymentElement {
    /// Mounts the element in `target`, which need not be in the document yet (a view
    /// rendered off-document during client-side navigation): its iframe loads once the
    /// view is attached.
    pub fn mount(&self, target: &Element) -> Result<(), StripeJsError> {
        self.js.mount(target.as_ref()).map_err(thrown)
    }

    fn listen(&self, event: &'static str, mut handler: impl FnMut(JsValue) + 'static) -> Listener {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |value: JsValue| handler(value));
        self.js.on(event, closure.as_ref().unchecked_ref());
        Listener { element: self.js.clone(), event, closure }
    }

    /// <https://docs.stripe.com/js/element/events/on_ready>
    pub fn on_ready(&self, mut handler: impl FnMut() + 'static) -> Listener {
        self.listen("ready", move |_| handler())
    }

    /// <https://docs.stripe.com/js/element/events/on_change?type=paymentElement>
    pub fn on_change(&self, mut handler: impl FnMut(ChangeEvent) + 'static) -> Listener {
        self.listen("change", move |event| {
            let value = get(&event, "value");
            let saved = get(&value, "payment_method");
            handler(ChangeEvent {
                complete: get(&event, "complete").as_bool().unwrap_or(false),
                empty: get(&event, "empty").as_bool().unwrap_or(true),
                value_type: get_string(&value, "type"),
                saved_payment_method: if saved.is_object() { get_string(&saved, "id") } else { None },
            })
        })
    }

    /// <https://docs.stripe.com/js/element/events/on_loaderror>
    pub fn on_load_error(&self, mut handler: impl FnMut(StripeJsError) + 'static) -> Listener {
        self.listen("loaderror", move |event| {
            handler(result_error(&event).unwrap_or_else(|| StripeJsError::new("api_error", "The payment form failed to load.")))
        })
    }
}

/// An event listener; removed from the element when dropped.
#[must_use = "dropping a Listener removes it at once"]
pub struct Listener {
    element: JsElement,
    event: &'static str,
    closure: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.element.off(self.event, self.closure.as_ref().unchecked_ref());
    }
}

/// The page's element whose `id` this is, if there is one.
pub fn element_by_id(id: &str) -> Option<Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// The `value` of the page's form field whose `id` this is (what the shopper typed).
pub fn input_value(id: &str) -> Option<String> {
    let field = element_by_id(id)?;
    Reflect::get(&field, &JsValue::from_str("value")).ok()?.as_string()
}

/// Resolves after `ms` milliseconds (`setTimeout`): the page waits between two
/// questions to the server.
pub async fn wait(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Whether the browser prefers the dark colour scheme (`prefers-color-scheme`, the media
/// query `style/main.css` switches on). Asks the media query, not the page's computed
/// style: computing that before the page's first layout is a style pass on the way to
/// a usable Pay button.
pub fn prefers_dark_scheme() -> bool {
    dark_scheme_query().is_some_and(|query| query.matches())
}

fn dark_scheme_query() -> Option<web_sys::MediaQueryList> {
    web_sys::window().and_then(|window| window.match_media("(prefers-color-scheme: dark)").ok().flatten())
}

/// Calls `changed` each time the browser's preferred colour scheme changes (a system
/// that turns dark at sunset, while the page is open), for as long as the page lives.
pub fn on_color_scheme_change(changed: impl Fn() + 'static) {
    let Some(query) = dark_scheme_query() else { return };
    let closure = Closure::<dyn Fn()>::new(changed);
    let _ = query.add_event_listener_with_callback("change", closure.as_ref().unchecked_ref());
    closure.forget();
}
