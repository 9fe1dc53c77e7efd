//! The account page (`/account`): sign in or create an account; once signed in, the
//! saved cards (with remove), "add a card" (Elements in `setup` mode, a SetupIntent
//! confirmed on the server) and the shopper's orders.

use super::{
    AccountSummary, CardSetupView, RemovePaymentMethod, SavedMethod, SignIn, SignOut, SignUp, confirm_card_setup, saved_payment_methods,
};
use crate::cart::MAX_QUANTITY;
use crate::error::AppError;
use crate::stripe_js::Stripe;
use crate::stripe_js::{ConfirmationTokenParams, ElementsOptions, PaymentMethodData};
use crate::subscriptions::{
    AccountSubscription, CancelSubscription, EndSubscription, OverduePayment, PayOverdueSubscription, ResumeSubscription, SetRenewalCard,
    SetSubscriptionQuantity, awaits_payment, pay_overdue_subscription, refresh_subscription,
};
use crate::ui::{ActionError, MountedPaymentElement, failure, mount_payment_element};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The signed-in shopper's saved cards and the "add a card" form's settings, as read
/// for the page (each error already in the shopper's words), and, when Stripe sent the
/// shopper back from a card setup's redirect, what became of it (`Ok`: the result line's
/// message, `Err`: the error line's).
#[derive(Clone, Debug)]
pub struct CardsData {
    pub cards: Result<Vec<SavedMethod>, String>,
    pub setup: Result<CardSetupView, String>,
    pub returned: Option<Result<String, String>>,
}

/// Sign in or create an account; signed in (`cards` then read too), the account.
#[component]
pub fn AccountPage(
    account: Result<Option<AccountSummary>, AppError>,
    cards: Option<CardsData>,
    /// The email of a refused sign-in or sign-up, as typed: the forms show it again.
    typed_email: Option<String>,
) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let body = match account {
        Ok(Some(summary)) => view! { <SignedIn summary cards/> }.into_any(),
        Ok(None) => view! { <SignInForms email=typed_email.unwrap_or_default()/> }.into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    };
    view! {
        <h1>{t.your_account()}</h1>
        {body}
    }
}

#[component]
fn SignInForms(email: String) -> impl IntoView {
    // Plain forms: the server sends the browser back to this page, signed in (the guest
    // cart comes along) or with the refusal in the address, which the action reads, and
    // the email as typed in a cookie (`account::typed_email`).
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let t = crate::i18n::use_locale().texts();
    // The email of a refused attempt, in both forms (the refusal is beside its own).
    let sign_up_email = email.clone();
    view! {
        <div class="account-forms">
            <section aria-labelledby="sign-in-title">
                <h2 id="sign-in-title">{t.sign_in()}</h2>
                <ActionForm action=sign_in attr:class="stacked" attr:data-testid="sign-in-form">
                    <label for="sign-in-email">{t.email()}</label>
                    <input id="sign-in-email" name="email" type="email" autocomplete="username" required maxlength="254" value=email/>
                    <label for="sign-in-password">{t.password()}</label>
                    <input id="sign-in-password" name="password" type="password" autocomplete="current-password" required maxlength="128"/>
                    <button type="submit" class="primary" data-testid="sign-in-button" disabled=move || sign_in.pending().get()>
                        {move || if sign_in.pending().get() { t.signing_in() } else { t.sign_in() }}
                    </button>
                </ActionForm>
                <ActionError action=sign_in/>
            </section>
            <section aria-labelledby="sign-up-title">
                <h2 id="sign-up-title">{t.new_here()}</h2>
                <p class="hint">{t.account_pitch()}</p>
                <ActionForm action=sign_up attr:class="stacked" attr:data-testid="sign-up-form">
                    <label for="sign-up-email">{t.email()}</label>
                    <input id="sign-up-email" name="email" type="email" autocomplete="email" required maxlength="254" value=sign_up_email/>
                    <label for="sign-up-password">{t.password_rule()}</label>
                    <input id="sign-up-password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128"/>
                    <button type="submit" class="primary" data-testid="sign-up-button" disabled=move || sign_up.pending().get()>
                        {move || if sign_up.pending().get() { t.creating_account() } else { t.create_account() }}
                    </button>
                </ActionForm>
                <ActionError action=sign_up/>
            </section>
        </div>
    }
}

#[component]
fn SignedIn(summary: AccountSummary, cards: Option<CardsData>) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let (before, after) = t.signed_in_as().split_once("{0}").unwrap_or((t.signed_in_as(), ""));
    // The saved cards an overdue renewal can be paid with; a card added while one is
    // overdue loads the page again, so that it can be picked.
    let saved = cards.as_ref().and_then(|data| data.cards.as_ref().ok()).cloned().unwrap_or_default();
    let publishable_key = cards.as_ref().and_then(|data| data.setup.as_ref().ok()).map(|setup| setup.publishable_key.clone());
    let overdue = summary.subscriptions.iter().any(|subscription| subscription.pay_attempt.is_some());
    view! {
        <p data-testid="signed-in-as">{before} <strong>{summary.email.clone()}</strong>{after}</p>
        <ActionForm action=sign_out>
            <button type="submit" data-testid="sign-out-button" disabled=move || sign_out.pending().get()>{t.sign_out()}</button>
        </ActionForm>
        // What the shopper comes back for first: their subscriptions (an overdue renewal
        // to pay among them), then their orders; the cards, with the long add-card form,
        // last.
        <Subscriptions subscriptions=summary.subscriptions saved publishable_key/>
        <section aria-labelledby="orders-title">
            <h2 id="orders-title">{t.your_orders()}</h2>
            {if summary.orders.is_empty() {
                view! { <p class="empty">{t.no_orders()}</p> }.into_any()
            } else {
                view! {
                    <ul class="account-orders">
                        {summary.orders.into_iter().map(|order| {
                            let (testid, href) = (format!("account-order-{}", order.id), format!("/orders/{}", order.id));
                            view! {
                            <li data-testid=testid>
                                <span class="placed">{locale.date(order.placed_at)}</span>
                                <a href=href>{order.id.clone()}</a>
                                <span>{locale.money(order.total)}</span>
                                <span class="status" data-status=order.status.clone()>{t.order_status(&order.status)}</span>
                            </li>
                        }}).collect_view()}
                    </ul>
                }
                .into_any()
            }}
            {(summary.older_page || summary.older_orders.is_some()).then(|| view! {
                <p class="pages">
                    {summary.older_page.then(|| view! {
                        <a href="/account" data-testid="account-newest-orders">{t.newest_orders()}</a>
                    })}
                    {summary.older_orders.map(|after| view! {
                        <a href=format!("/account?orders_after={after}") rel="next" data-testid="account-older-orders">{t.older_orders()}</a>
                    })}
                </p>
            })}
        </section>
        {cards.map(|CardsData { cards, setup, returned }| view! { <CardsPanel cards setup returned overdue/> })}
    }
}

/// The account's subscriptions: price, status, next renewal (or end), and cancel at the
/// period's end or its undoing. Plain forms: the server changes the subscription at
/// Stripe and sends the browser back here, where the new state shows. An overdue
/// renewal is paid with a saved card ([`PayOverdue`]).
#[component]
fn Subscriptions(subscriptions: Vec<AccountSubscription>, saved: Vec<SavedMethod>, publishable_key: Option<String>) -> impl IntoView {
    let cancel = ServerAction::<CancelSubscription>::new();
    let resume = ServerAction::<ResumeSubscription>::new();
    let end_now = ServerAction::<EndSubscription>::new();
    let pay = ServerAction::<PayOverdueSubscription>::new();
    let set_quantity = ServerAction::<SetSubscriptionQuantity>::new();
    let set_card = ServerAction::<SetRenewalCard>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let rows: Vec<_> = subscriptions
        .into_iter()
        .map(|subscription| {
            let testid = format!("subscription-{}", subscription.id);
            let label = format!("{} × {}", subscription.quantity, subscription.name);
            let (changeable, renews) = (subscription.changeable(), subscription.renews);
            let (card_subscription, current_card) = ((subscription.id.clone(), subscription.name.clone()), subscription.renewal_card.clone());
            // The next renewal, if one is to come (or that none is charged while the
            // merchant has paused payments), and the end, if one is set (the merchant may
            // have chosen a date after a renewal or two).
            let renewal = match (subscription.payments_paused, subscription.payments_resume_on) {
                (true, Some(at)) => Some(crate::i18n::fill(t.payments_paused_until(), &[&locale.date(at)])),
                (true, None) => Some(t.payments_paused().to_owned()),
                // A free trial's period ends with the first charge.
                (false, _) => subscription.period_end.filter(|_| renews).map(|at| {
                    let next = if subscription.status == "trialing" { t.first_charge_on() } else { t.renews_on() };
                    crate::i18n::fill(next, &[&locale.date(at)])
                }),
            };
            let end = subscription.ends_on.map(|at| crate::i18n::fill(t.ends_on(), &[&locale.date(at)]));
            // An overdue renewal Stripe will try to charge again by itself.
            let retry = subscription.next_payment_attempt.map(|at| crate::i18n::fill(t.next_payment_attempt_on(), &[&locale.date(at)]));
            let period: Vec<String> = [retry, renewal, end].into_iter().flatten().collect();
            let period = (changeable && !period.is_empty()).then(|| period.join(" · "));
            // An overdue renewal to pay, or a paused subscription to resume by paying
            // a new period.
            let paused = subscription.status == "paused";
            let overdue = subscription.pay_attempt.clone().map(|attempt| {
                if saved.is_empty() {
                    let hint = if paused { t.add_card_to_resume() } else { t.add_card_to_pay_overdue() };
                    return view! { <p class="hint" data-testid="pay-overdue-add-card">{hint}</p> }.into_any();
                }
                view! { <PayOverdue subscription=subscription.id.clone() attempt resume=paused cards=saved.clone() publishable_key=publishable_key.clone()/> }
                    .into_any()
            });
            // How many each renewal brings, while it renews.
            let quantity = (changeable && renews).then(|| {
                let (id, hint) = (subscription.id.clone(), format!("quantity-hint-{}", subscription.id));
                view! {
                    <ActionForm action=set_quantity>
                        <input type="hidden" name="subscription" value=id/>
                        <label>
                            {t.subscription_quantity()} " "
                            <input type="number" name="quantity" min="1" max=MAX_QUANTITY.to_string() value=subscription.quantity.to_string()
                                required inputmode="numeric" data-testid="subscription-quantity" aria-describedby=hint.clone()/>
                        </label>
                        " "
                        <button type="submit" data-testid="change-subscription-quantity"
                            aria-label=crate::i18n::fill(t.change_named_quantity(), &[&subscription.name])>{t.change_quantity()}</button>
                        <p class="hint" id=hint>{t.quantity_from_next_renewal()}</p>
                    </ActionForm>
                }
            });
            // Which saved card the renewals are charged to, and another instead (an
            // overdue one is paid with a card above, which then takes them too).
            let renewal_card = (changeable && renews && subscription.pay_attempt.is_none() && !saved.is_empty()).then(|| {
                let (id, name) = card_subscription;
                let hint = format!("renewal-card-hint-{id}");
                let current = current_card.filter(|card| saved.iter().any(|saved| &saved.id == card));
                let options = saved
                    .iter()
                    .map(|card| {
                        let selected = current.as_deref() == Some(card.id.as_str());
                        view! { <option value=card.id.clone() selected=selected>{format!("{} · {}", card.label(), card.expiry())}</option> }
                    })
                    .collect_view();
                view! {
                    <ActionForm action=set_card>
                        <input type="hidden" name="subscription" value=id/>
                        <label>
                            {t.renewals_charged_to()} " "
                            <select name="payment_method" required data-testid="renewal-card" aria-describedby=hint.clone()>
                                {current.is_none().then(|| view! { <option value="" selected disabled>{t.choose_renewal_card()}</option> })}
                                {options}
                            </select>
                        </label>
                        " "
                        <button type="submit" data-testid="change-renewal-card"
                            aria-label=crate::i18n::fill(t.use_named_for_renewals(), &[&name])>{t.use_for_renewals()}</button>
                        <p class="hint" id=hint>{t.renewal_card_hint()}</p>
                    </ActionForm>
                }
            });
            // On hold (`unpaid`: pay its renewal above to resume it; `paused`: resume it
            // above by paying a new period): or end it now.
            let end_form = matches!(subscription.status.as_str(), "unpaid" | "paused").then(|| {
                let (id, named) = (subscription.id.clone(), crate::i18n::fill(t.end_named_subscription(), &[&label]));
                view! {
                    <ActionForm action=end_now>
                        <SubscriptionButton id testid="end-subscription" named text=t.end_now() pending=end_now.pending()/>
                    </ActionForm>
                }
            });
            // Undo the shopper's own end, or set one at the period's end while renewals
            // are to come (an end the merchant chose within the period is theirs).
            let form = (changeable && (subscription.cancel_at_period_end || renews)).then(|| {
                let id = subscription.id.clone();
                if subscription.cancel_at_period_end {
                    let named = crate::i18n::fill(t.keep_named_subscription(), &[&label]);
                    view! {
                        <ActionForm action=resume>
                            <SubscriptionButton id testid="resume-subscription" named text=t.keep_subscription() pending=resume.pending()/>
                        </ActionForm>
                    }
                    .into_any()
                } else {
                    let named = crate::i18n::fill(t.cancel_named_subscription(), &[&label]);
                    view! {
                        <ActionForm action=cancel>
                            <SubscriptionButton id testid="cancel-subscription" named text=t.cancel_at_period_end() pending=cancel.pending()/>
                        </ActionForm>
                    }
                    .into_any()
                }
            });
            view! {
                <li data-testid=testid data-status=subscription.status.clone() data-cancel-at-period-end=subscription.cancel_at_period_end.to_string()>
                    <span class="name">{label.clone()}</span>
                    " "
                    <span class="price">{subscription.price.clone()}</span>
                    " "
                    <span class="status" data-testid="subscription-status" data-status=subscription.status.clone()>
                        {match (subscription.status.as_str(), subscription.cancellation_reason.as_deref()) {
                            ("canceled", Some("payment_failed")) => t.subscription_ended_unpaid(),
                            (status, _) => t.subscription_status(status),
                        }}
                    </span>
                    " "
                    {period.map(|text| view! { <span class="period" data-testid="subscription-period">{text}</span> })}
                    {overdue}
                    {end_form}
                    {quantity}
                    {renewal_card}
                    {form}
                </li>
            }
        })
        .collect();
    (!rows.is_empty()).then(|| {
        view! {
            <section aria-labelledby="subscriptions-title" data-testid="subscriptions">
                <h2 id="subscriptions-title">{t.your_subscriptions()}</h2>
                <p class="error action-error" role="alert" aria-live="assertive">
                    {move || {
                        failure(cancel, locale)
                            .or_else(|| failure(resume, locale))
                            .or_else(|| failure(end_now, locale))
                            .or_else(|| failure(pay, locale))
                            .or_else(|| failure(set_quantity, locale))
                            .or_else(|| failure(set_card, locale))
                            .unwrap_or_default()
                    }}
                </p>
                <ul class="account-subscriptions">{rows}</ul>
            </section>
        }
    })
}

/// What a subscription's one-button form sends: the subscription's id, and the button,
/// `named` with the subscription for screen readers (its visible `text` included) and
/// disabled while its action runs.
#[component]
fn SubscriptionButton(
    id: String,
    testid: &'static str,
    named: String,
    text: &'static str,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <input type="hidden" name="subscription" value=id/>
        <button type="submit" data-testid=testid aria-label=named disabled=move || pending.get()>{text}</button>
    }
}

/// An overdue subscription's "pay the overdue renewal with [card]" form, or a paused
/// one's "resume it, charging [card]" (`resume`) ([`awaits_payment`]). A plain form
/// (`attempt` is its nonce): without JavaScript the server pays off session, as a
/// renewal is. Hydrated, the island sends it itself, saying that the browser can
/// authenticate: a bank that wants 3-D Secure for the payment gets it
/// (`handleNextAction` on the invoice's PaymentIntent), the server reads the outcome
/// from Stripe, and the page loads again with the subscription as it now is. A reply that
/// does not arrive, or "nothing left to pay", is checked with Stripe the same way.
#[cfg_attr(feature = "split-islands", island(lazy))]
#[cfg_attr(not(feature = "split-islands"), island)]
fn PayOverdue(
    subscription: String,
    attempt: String,
    resume: bool,
    cards: Vec<SavedMethod>,
    publishable_key: Option<String>,
) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(String::new());
    let card = NodeRef::<leptos::html::Select>::new();
    let tries = StoredValue::new(0_u32);
    let form = (subscription.clone(), attempt.clone());
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        // Without Stripe's key (the page could not read it), the plain form goes.
        let Some(key) = publishable_key.clone() else { return };
        event.prevent_default();
        let Some(select) = card.get_untracked() else { return };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(String::new());
        // A new key for each try from this page: one whose authentication failed is
        // tried again, not answered from Stripe's idempotency cache.
        tries.update_value(|n| *n += 1);
        let attempt = match tries.get_value() {
            1 => attempt.clone(),
            n => format!("{attempt}_{n}"),
        };
        let (subscription, payment_method) = (subscription.clone(), select.value());
        leptos::task::spawn_local(async move {
            let paid = async {
                let reply = match pay_overdue_subscription(subscription.clone(), payment_method, attempt, Some("1".into())).await {
                    Ok(reply) => reply,
                    Err(AppError::Declined { message, .. }) => return Err(message),
                    // The reply lost on its way, Stripe's lost on its way to the shop, or
                    // "nothing left to pay" (another tab paid): paid all the same if
                    // Stripe now says so, and the page loads again to show it.
                    Err(failure) => {
                        return match refresh_subscription(subscription).await {
                            Ok(status) if !awaits_payment(&status) => Ok(()),
                            _ => Err(failure.message(locale)),
                        };
                    }
                };
                let OverduePayment::Authenticate { client_secret } = reply else { return Ok(()) };
                let js = Stripe::new(&key).map_err(|e| e.message_in(locale))?;
                let authenticated = js.handle_next_action(&client_secret).await;
                // What Stripe says became of it, which the page shows once loaded again
                // (unknown if the server cannot tell now: the page then asks again).
                let status = refresh_subscription(subscription).await.ok();
                match authenticated {
                    Ok(done) if done == "succeeded" || done == "processing" => Ok(()),
                    _ if status.as_deref().is_some_and(|status| !awaits_payment(status)) => Ok(()),
                    Ok(_) => Err(t.overdue_not_authenticated().to_owned()),
                    Err(failure) => Err(failure.message),
                }
            };
            match paid.await {
                Ok(()) => drop(window().location().reload()),
                Err(message) => {
                    error.set(message);
                    busy.set(false);
                }
            }
        });
    };
    let options = cards
        .iter()
        .map(|card| view! { <option value=card.id.clone()>{format!("{} · {}", card.label(), card.expiry())}</option> })
        .collect_view();
    view! {
        <form class="pay-overdue" data-testid="pay-overdue-form" action=PayOverdueSubscription::url() method="post" on:submit=on_submit>
            <input type="hidden" name="subscription" value=form.0/>
            <input type="hidden" name="attempt" value=form.1/>
            <label>
                {if resume { t.resume_with() } else { t.pay_overdue_with() }} " "
                <select name="payment_method" data-testid="pay-overdue-card" node_ref=card>{options}</select>
            </label>
            " "
            <button type="submit" class="primary" data-testid="pay-overdue" disabled=move || busy.get() aria-busy=move || busy.get().to_string()>
                {move || busy.get().then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                {move || match (busy.get(), resume) {
                    (true, true) => t.resuming(),
                    (true, false) => t.paying_overdue(),
                    (false, true) => t.resume_now(),
                    (false, false) => t.pay_overdue_now(),
                }}
            </button>
            <p class="error" role="alert" aria-live="assertive">{move || error.get()}</p>
        </form>
    }
}

/// The account page's island: the saved cards, each with a remove button (the card is
/// detached from the Customer), and "add a card": the Payment Element in `setup` mode,
/// whose ConfirmationToken the server turns into a confirmed SetupIntent (3-D Secure by
/// `handleNextAction`). The list follows what is added and removed, in place.
#[cfg_attr(feature = "split-islands", island(lazy))]
#[cfg_attr(not(feature = "split-islands"), island)]
fn CardsPanel(
    cards: Result<Vec<SavedMethod>, String>,
    setup: Result<CardSetupView, String>,
    returned: Option<Result<String, String>>,
    overdue: bool,
) -> impl IntoView {
    let remove = ServerAction::<RemovePaymentMethod>::new();
    let added = RwSignal::new(0_u32);
    let cards = RwSignal::new(cards);
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    // After an addition or a removal (not on the first run: the server's list is current).
    Effect::new(move |first: Option<()>| {
        added.track();
        remove.version().track();
        if first.is_some() {
            leptos::task::spawn_local(async move { cards.set(saved_payment_methods().await.map_err(|error| error.message(locale))) });
        }
    });
    view! {
        <section aria-labelledby="cards-title">
            <h2 id="cards-title">{t.saved_cards()}</h2>
            <ActionError action=remove/>
            {move || match cards.get() {
                Ok(cards) if cards.is_empty() => view! {
                    <p class="empty" data-testid="no-saved-cards">{t.no_saved_cards()}</p>
                }
                .into_any(),
                Ok(cards) => view! {
                    <ul class="saved-cards">
                        {cards.into_iter().map(|card| view! { <SavedCardRow card remove/> }).collect_view()}
                    </ul>
                }
                .into_any(),
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            }}
        </section>
        <section aria-labelledby="add-card-title">
            <h2 id="add-card-title">{t.add_a_card()}</h2>
            {match setup {
                Ok(setup) => view! { <AddCardForm setup added returned overdue/> }.into_any(),
                Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn SavedCardRow(card: SavedMethod, remove: ServerAction<RemovePaymentMethod>) -> impl IntoView {
    let label = card.label();
    let testid = format!("saved-method-{}", card.last4);
    let remove_testid = format!("remove-method-{}", card.last4);
    let t = crate::i18n::use_locale().texts();
    let payment_method = card.id.clone();
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        remove.dispatch(RemovePaymentMethod { payment_method: payment_method.clone() });
    };
    view! {
        <li data-testid=testid>
            <span class="card-label">{label.clone()}</span>
            <span class="card-expiry">{crate::i18n::fill(t.expires(), &[&card.expiry()])}</span>
            // A plain form (it works before the island hydrates); the island sends it
            // itself and updates the list in place.
            <form action=RemovePaymentMethod::url() method="post" on:submit=on_submit>
                <input type="hidden" name="payment_method" value=card.id.clone()/>
                <button type="submit" data-testid=remove_testid aria-label=crate::i18n::fill(t.remove_named(), &[&label])
                    disabled=move || remove.pending().get()>{t.remove()}</button>
            </form>
        </li>
    }
}

#[component]
fn AddCardForm(setup: CardSetupView, added: RwSignal<u32>, returned: Option<Result<String, String>>, overdue: bool) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let (result, error) = match returned {
        Some(Ok(message)) => (message, String::new()),
        Some(Err(message)) => (String::new(), message),
        None => (String::new(), String::new()),
    };
    let (result, error) = (RwSignal::new(result), RwSignal::new(error));
    let busy = RwSignal::new(false);
    // No answer yet about the card's setup: the island asks again (`ask_until_known`).
    let checking = RwSignal::new(false);
    let CardSetupView { publishable_key, currency, return_url } = setup;
    let target = NodeRef::<leptos::html::Div>::new();
    let options = move || ElementsOptions {
        mode: "setup".into(),
        amount: None,
        currency: currency.clone(),
        appearance: crate::ui::appearance(),
        locale: locale.tag().into(),
        customer_session_client_secret: None,
        payment_method_options: None,
        payment_method_creation: None,
        capture_method: None,
        setup_future_usage: None,
        allowed_payment_method_types: None,
    };
    let MountedPaymentElement { stripe, ready } =
        mount_payment_element(publishable_key, options, "tabs".into(), move || target.get().map(Into::into), error, |_, _| Ok(vec![]));

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some((js, elements)) = stripe.get_value() else {
            error.set(t.card_form_loading().into());
            return;
        };
        busy.set(true);
        error.set(String::new());
        result.set(String::new());
        // Synchronously in the handler, before any other await (Stripe.js requires it).
        let submitted = elements.submit();
        let return_url = return_url.clone();
        leptos::task::spawn_local(async move {
            let saved = async {
                submitted.await.map_err(|e| e.message)?;
                // Setup mode has no save box: the shopper asked to save, so it may be shown again.
                let params = ConfirmationTokenParams {
                    return_url,
                    payment_method_data: Some(PaymentMethodData { allow_redisplay: "always".into() }),
                };
                let token = js.create_confirmation_token(&elements, &params).await.map_err(|e| e.message)?;
                let reply = crate::ui::ask_until_known(|| confirm_card_setup(token.clone()), checking).await.map_err(|e| match e {
                    AppError::PaymentUnknown { .. } => t.card_unknown().to_owned(),
                    e => e.message(locale),
                })?;
                let status = if reply.status == "requires_action" {
                    js.handle_next_action(&reply.client_secret).await.map_err(|e| e.message)?
                } else {
                    reply.status
                };
                match status.as_str() {
                    "succeeded" => Ok(t.card_saved().to_owned()),
                    "processing" => Ok(t.card_being_checked().to_owned()),
                    _ => Err(t.card_not_saved().to_owned()),
                }
            };
            match saved.await {
                // The page again: the overdue renewal's form offers the new card.
                Ok(_) if overdue => drop(window().location().reload()),
                Ok(message) => {
                    // The card is saved: the form is ready for another, and a second
                    // click cannot save this one twice.
                    elements.clear_payment_element();
                    result.set(message);
                    added.update(|n| *n += 1);
                }
                Err(message) => error.set(message),
            }
            busy.set(false);
        });
    };

    view! {
        <form class="payment" on:submit=on_submit>
            <div id="setup-element" data-testid="payment-element" node_ref=target></div>
            <p class="error" data-testid="setup-error" role="alert" aria-live="assertive">{move || error.get()}</p>
            <p data-testid="setup-result" role="status" aria-live="polite">
                {move || if checking.get() { t.card_checking().to_owned() } else { result.get() }}
            </p>
            <button type="submit" class="primary" data-testid="add-card-button" disabled=move || busy.get() || !ready.get()
                aria-busy=move || busy.get().to_string()>
                {move || busy.get().then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                {move || if busy.get() { t.saving() } else { t.save_card() }}
            </button>
        </form>
    }
}
