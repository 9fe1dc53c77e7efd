//! Order emails: the outbox drained, at least once, in the order's language. Every
//! couple of seconds the sender claims the messages that are due (on PostgreSQL each
//! instance claims other rows), writes each from its order (lines, discount, total,
//! shipping address, a link to the order's page; multipart text and HTML) and sends it
//! over SMTP, or without `SMTP_URL` writes it as an `.eml` file to `MAIL_DIR`. A
//! message keeps one `Message-ID` however often it is tried, so a rare duplicate is
//! recognisable. A temporary failure is retried later, backing off; a permanent one
//! (the server refuses the address) is marked failed and shown to the merchant.
//! Nothing here runs on a request's path.

use crate::config::{Config, MailSettings};
use crate::i18n::{Locale, fill};
use crate::money::{Currency, Money};
use crate::session;
use crate::state::AppState;
use crate::store::{
    DueMessage, OrderRecord, RENEWAL_FAILED, RefundStatus, SUBSCRIPTION_ENDED, SUBSCRIPTION_ON_HOLD, SUBSCRIPTION_PAUSED, StoreError,
    SubscriptionRecord, TRIAL_ENDING,
};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// The kinds of message that go to the merchant (`MERCHANT_EMAIL`) start so.
const MERCHANT: &str = "merchant.";

/// How often the sender looks for messages that are due.
const POLL: Duration = Duration::from_secs(2);
/// How long a claimed message is left to its sender before another may take it.
const LEASE_SECS: i64 = 120;
/// Messages claimed at once (a full batch is followed by the next at once).
const BATCH: i64 = 20;
/// Tries before a message is given up (with the default 30 s, the last about 2 h on).
const MAX_ATTEMPTS: i64 = 8;

/// A shopper's email address, trimmed, if the shop's emails can go to it and Stripe
/// takes it (a Customer's `email`, a PaymentIntent's `receipt_email`); `None`
/// otherwise. The rule is the HTML standard's "valid e-mail address" (what a browser's
/// `<input type="email">` accepts), with the dots of the local part where RFC 5322 puts
/// them, a domain of at least two labels (Stripe refuses `name@localhost` and
/// `name@gmail`) and at most 254 characters. Sign-up and checkout both use it, so an
/// account's address is one its payments can carry.
pub fn address(input: &str) -> Option<&str> {
    let email = input.trim();
    let (local, domain) = email.split_once('@')?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = local.len() <= 64 && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext));
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let domain_ok = domain.contains('.') && domain.split('.').all(label_ok);
    (email.len() <= 254 && local_ok && domain_ok).then_some(email)
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in this folder.
    Files(std::path::PathBuf),
}

/// What a try to send came to.
enum Sent {
    Done,
    /// Worth another try later (the server is down, busy, or said "try later").
    Later(String),
    /// It will not work (the address is refused, the message cannot be made).
    Never(String),
    /// Nothing to send, which is nothing wrong: a guest may give no address, a shop may
    /// set no `MERCHANT_EMAIL`, and what a message was to say may have stopped being
    /// true (a refund that failed after all, a renewal paid meanwhile). The merchant's
    /// order page says why no email went.
    Nowhere(&'static str),
}

/// The order a message is about and what else it tells; or what comes of the message
/// without sending it.
type About = Result<(OrderRecord, Detail), Sent>;

/// What a message tells beyond its order.
enum Detail {
    None,
    /// A refund's message: the amount refunded.
    Refunded(i64),
    /// A subscription's message (its free trial about to end, or its end): the
    /// subscription, which says what it was for, and when and what is charged.
    Subscription(Box<SubscriptionRecord>),
}

struct Mailer {
    transport: Transport,
    settings: MailSettings,
    /// Where links in messages point (`PUBLIC_URL`).
    public_url: String,
    /// The right-hand side of Message-IDs: the shop's host name.
    host: String,
    default_locale: Locale,
}

impl Mailer {
    fn new(config: &Config, public_url: &str) -> anyhow::Result<Mailer> {
        let settings = config.mail.clone();
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|error| anyhow::anyhow!("SMTP_URL cannot be used: {error}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&settings.dir)
                    .map_err(|error| anyhow::anyhow!("MAIL_DIR {} cannot be created: {error}", settings.dir.display()))?;
                Transport::Files(settings.dir.clone())
            }
        };
        let host = public_url.split("://").nth(1).unwrap_or("localhost").split(['/', ':']).next().unwrap_or("localhost").to_owned();
        Ok(Mailer { transport, settings, public_url: public_url.to_owned(), host, default_locale: config.store.default_locale })
    }

    /// Where messages go, for the start-up log.
    fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "an SMTP server (SMTP_URL)".to_owned(),
            Transport::Files(_) => format!("{} (.eml files; set SMTP_URL to send them)", self.settings.dir.display()),
        }
    }

    /// Tries every message due now (a batch of them); how many it tried.
    async fn drain_once(&self, state: &AppState) -> usize {
        let now = session::now();
        let due = match state.store.claim_messages(now, LEASE_SECS, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(error = ?error, "cannot read the outbox; trying again shortly");
                return 0;
            }
        };
        let tried = due.len();
        for message in due {
            let outcome = match self.about(state, &message).await {
                Ok(Ok((order, detail))) => self.send(&message, &order, &detail).await,
                Ok(Err(outcome)) => outcome,
                Err(error) => Sent::Later(format!("the database did not answer: {error:?}")),
            };
            let now = session::now();
            let recorded = match outcome {
                Sent::Done => state.store.message_sent(&message, now).await,
                Sent::Later(error) if message.attempts + 1 < MAX_ATTEMPTS => {
                    let wait = self.settings.retry_after.as_secs().saturating_mul(1 << message.attempts.min(7)).min(3600);
                    tracing::warn!(order = %message.order_id, kind = %message.kind, %error, retry_in_secs = wait, "an order email could not be sent; will retry");
                    state.store.message_not_sent(&message, now, Some(now + wait as i64), &error).await
                }
                Sent::Later(error) | Sent::Never(error) => {
                    tracing::error!(order = %message.order_id, kind = %message.kind, %error, "an order email cannot be sent: given up");
                    state.store.message_not_sent(&message, now, None, &error).await
                }
                Sent::Nowhere(why) => {
                    tracing::info!(order = %message.order_id, kind = %message.kind, "no email: {why}");
                    state.store.message_not_sent(&message, now, None, why).await
                }
            };
            if let Err(error) = recorded {
                // Claimed until the lease ends: then due again (at least once).
                tracing::error!(error = ?error, order = %message.order_id, "cannot record an email's delivery");
            }
        }
        tried
    }

    /// The order a message is about, and what else it tells (what was refunded, the
    /// subscription whose trial ends); or
    /// why the message is not to be sent.
    async fn about(&self, state: &AppState, message: &DueMessage) -> Result<About, StoreError> {
        let Some(order) = state.store.order_for_merchant(&message.order_id).await? else {
            return Ok(Err(Sent::Never("the order is gone".into())));
        };
        if let Some(about) = message.kind.strip_prefix(RENEWAL_FAILED) {
            // Paid meanwhile (from the account page, or Stripe's retry): nothing to say.
            // Paused meanwhile: that has a message of its own.
            let subscription = about.split('.').next().unwrap_or_default();
            return Ok(match state.store.subscription(subscription).await? {
                Some(record) if crate::subscriptions::is_overdue(&record.state.status) => {
                    Ok((order, Detail::Subscription(Box::new(record))))
                }
                _ => Err(Sent::Nowhere("the renewal was paid, or the subscription paused or ended, meanwhile")),
            });
        }
        if let Some(about) = message.kind.strip_prefix(TRIAL_ENDING) {
            // Read as it goes out: a trial ended already, or set to end with nothing
            // charged, has nothing to warn of; one whose end moved is told of its new end
            // by a message of its own. (Messages queued before the end was in the kind
            // name the subscription alone.)
            let (subscription, end) = about.split_once('.').map_or((about, None), |(id, end)| (id, end.parse::<i64>().ok()));
            return Ok(match state.store.subscription(subscription).await? {
                Some(record) if record.state.status != "trialing" || !record.state.renews() => {
                    Err(Sent::Nowhere("the trial ended, or ends with nothing charged"))
                }
                Some(record) if end.is_some() && record.state.current_period_end != end => {
                    Err(Sent::Nowhere("the trial's end moved: its new end is told instead"))
                }
                Some(record) => Ok((order, Detail::Subscription(Box::new(record)))),
                None => Err(Sent::Never("the subscription is gone".into())),
            });
        }
        // On hold (`unpaid`) or paused: resumed or ended meanwhile, nothing to say any more.
        for (prefix, status) in [(SUBSCRIPTION_ON_HOLD, "unpaid"), (SUBSCRIPTION_PAUSED, "paused")] {
            let Some(about) = message.kind.strip_prefix(prefix) else { continue };
            let subscription = about.split('.').next().unwrap_or_default();
            return Ok(match state.store.subscription(subscription).await? {
                Some(record) if record.state.status == status => Ok((order, Detail::Subscription(Box::new(record)))),
                Some(_) => Err(Sent::Nowhere("the subscription was resumed, or ended, meanwhile")),
                None => Err(Sent::Never("the subscription is gone".into())),
            });
        }
        if let Some(subscription) = message.kind.strip_prefix(SUBSCRIPTION_ENDED) {
            return Ok(match state.store.subscription(subscription).await? {
                Some(record) if record.state.status == "canceled" => Ok((order, Detail::Subscription(Box::new(record)))),
                Some(_) => Err(Sent::Nowhere("the subscription has not ended")),
                None => Err(Sent::Never("the subscription is gone".into())),
            });
        }
        let Some(refund_id) = message.kind.strip_prefix("refund.") else { return Ok(Ok((order, Detail::None))) };
        let refunds = state.store.refunds_of(&order.id).await?;
        Ok(match refunds.refunds.iter().find(|refund| refund.id == refund_id) {
            None => Err(Sent::Never("the refund is gone".into())),
            // It failed (or was canceled) before the message went out: the money is not
            // on its way, and saying so is the merchant's (the order is flagged).
            Some(refund) if refund.status != RefundStatus::Succeeded => Err(Sent::Nowhere("the refund did not go through after all")),
            Some(refund) => Ok((order, Detail::Refunded(refund.amount))),
        })
    }

    async fn send(&self, message: &DueMessage, order: &OrderRecord, detail: &Detail) -> Sent {
        let to = match message.kind.starts_with(MERCHANT) {
            true => self.settings.merchant.as_deref().ok_or("MERCHANT_EMAIL is not set"),
            false => order.email.as_deref().ok_or("the shopper gave no email address"),
        };
        let email = match to {
            Ok(email) => email,
            Err(why) => return Sent::Nowhere(why),
        };
        let email = match self.compose(message, order, detail, email) {
            Ok(email) => email,
            Err(error) => return Sent::Never(error),
        };
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(email).await {
                Ok(_) => Sent::Done,
                Err(error) if error.is_permanent() => Sent::Never(error.to_string()),
                Err(error) => Sent::Later(error.to_string()),
            },
            Transport::Files(dir) => match write_eml(dir, message, &email.formatted()).await {
                Ok(path) => {
                    tracing::info!(order = %order.id, kind = %message.kind, path = %path.display(), "order email written");
                    Sent::Done
                }
                Err(error) => Sent::Later(error.to_string()),
            },
        }
    }

    /// The message for `message` about `order` (and the amount of its refund, for a
    /// refund's message), to `to`, in the order's language.
    fn compose(&self, message: &DueMessage, order: &OrderRecord, detail: &Detail, to: &str) -> Result<Message, String> {
        let locale = match message.kind.starts_with(MERCHANT) {
            // The merchant's pages are in English.
            true => Locale::En,
            false => order.locale.as_deref().and_then(Locale::parse).unwrap_or(self.default_locale),
        };
        let t = locale.texts();
        // The order's key opens its page on any device (a guest's phone, say).
        let link = crate::orders::shopper_link(&self.public_url, order);
        let (subject, text, html) = match message.kind.as_str() {
            "order_confirmation" => {
                let invoice = crate::orders::shopper_invoice_link(&self.public_url, order);
                let (text, html) = order_summary(order, locale, &link, invoice.as_deref())?;
                (fill(t.mail_paid_subject(), &[&order.id]), text, html)
            }
            "payment_failed" => {
                let (text, html) = short_note(&fill(t.mail_failed_body(), &[&order.id]), &link, t.view_order());
                (fill(t.mail_failed_subject(), &[&order.id]), text, html)
            }
            kind if kind.starts_with("refund.") => {
                let currency = Currency::parse(&order.currency).map_err(|error| error.to_string())?;
                let Detail::Refunded(refunded) = detail else { return Err("the refund's amount is unknown".into()) };
                let amount = locale.money(Money::new(*refunded, currency));
                let (text, html) = short_note(&fill(t.mail_refund_body(), &[&amount, &order.id]), &link, t.view_order());
                (fill(t.mail_refund_subject(), &[&order.id]), text, html)
            }
            kind if kind.starts_with(RENEWAL_FAILED) => {
                let Detail::Subscription(subscription) = detail else { return Err("the subscription is unknown".into()) };
                let line = order.lines.first().ok_or("the subscription's order has no line")?;
                let what = format!("{} × {}", line.quantity, line.name);
                let account = format!("{}/account", self.public_url);
                // When Stripe tries the card again by itself, if it still will.
                let body = match subscription.state.next_retry(session::now()) {
                    Some(at) => fill(t.mail_renewal_failed_retry_body(), &[&what, &locale.date(at)]),
                    None => fill(t.mail_renewal_failed_body(), &[&what]),
                };
                let (text, html) = short_note(&body, &account, t.your_account());
                (t.mail_renewal_failed_subject().to_owned(), text, html)
            }
            kind if kind.starts_with(TRIAL_ENDING) => {
                let Detail::Subscription(subscription) = detail else { return Err("the subscription is unknown".into()) };
                let (what, ends, price) = trial_terms(subscription, order, locale)?;
                let account = format!("{}/account", self.public_url);
                // The card the shopper gave was not kept (its bank refused): none to charge.
                let body =
                    if subscription.state.renewal_card.is_some() { t.mail_trial_ending_body() } else { t.mail_trial_ending_no_card_body() };
                let (text, html) = short_note(&fill(body, &[&what, &ends, &price]), &account, t.your_account());
                (fill(t.mail_trial_ending_subject(), &[&ends]), text, html)
            }
            kind if kind.starts_with(SUBSCRIPTION_ON_HOLD) => {
                let Detail::Subscription(subscription) = detail else { return Err("the subscription is unknown".into()) };
                let account = format!("{}/account", self.public_url);
                let body = fill(t.mail_subscription_on_hold_body(), &[&subscribed_to(subscription, order)]);
                let (text, html) = short_note(&body, &account, t.your_account());
                (t.mail_subscription_on_hold_subject().to_owned(), text, html)
            }
            kind if kind.starts_with(SUBSCRIPTION_PAUSED) => {
                let Detail::Subscription(subscription) = detail else { return Err("the subscription is unknown".into()) };
                let account = format!("{}/account", self.public_url);
                // A free trial that ended with no card to charge says so; any other pause
                // (the shop's) is said as one.
                let body = match kind.rsplit('.').next() {
                    Some("trial_end_without_payment_method") => t.mail_trial_paused_body(),
                    _ => t.mail_subscription_paused_body(),
                };
                let (text, html) = short_note(&fill(body, &[&subscribed_to(subscription, order)]), &account, t.your_account());
                (t.mail_subscription_paused_subject().to_owned(), text, html)
            }
            kind if kind.starts_with(SUBSCRIPTION_ENDED) => {
                let Detail::Subscription(subscription) = detail else { return Err("the subscription is unknown".into()) };
                let shop = format!("{}/", self.public_url);
                // Stripe ended it after every retry of a renewal was declined: it says so.
                let body = match subscription.state.cancellation_reason.as_deref() {
                    Some("payment_failed") => t.mail_subscription_ended_unpaid_body(),
                    _ => t.mail_subscription_ended_body(),
                };
                let body = fill(body, &[&subscribed_to(subscription, order)]);
                let (text, html) = short_note(&body, &shop, t.back_to_shop());
                (t.mail_subscription_ended_subject().to_owned(), text, html)
            }
            // To the merchant, in the language of the merchant's pages: what happened and
            // what to do, and a link to the order's page there.
            kind if kind.starts_with(MERCHANT) => {
                let what = kind[MERCHANT.len()..].split('.').next().unwrap_or_default();
                let link = format!("{}/admin/orders/{}", self.public_url, order.id);
                let (text, html) = short_note(&message.body, &link, "See the order");
                (format!("Order {}: {}", order.id, what.replace('_', " ")), text, html)
            }
            other => return Err(format!("no message is written for `{other}`")),
        };
        let to: Mailbox = to.parse().map_err(|error| format!("the address {to} cannot be written to: {error}"))?;
        let from: Mailbox = self.settings.from.parse().map_err(|error| format!("MAIL_FROM: {error}"))?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            // The same for every try of this message: a duplicate is recognisable.
            .message_id(Some(format!("<{}.{}@{}>", message.kind, order.id, self.host)));
        if let Some(merchant) = self.settings.merchant.as_deref().filter(|_| message.kind == "order_confirmation") {
            builder = builder.bcc(merchant.parse().map_err(|error| format!("MERCHANT_EMAIL: {error}"))?);
        }
        let page = format!("<!DOCTYPE html><html lang=\"{}\"><body>{html}</body></html>", locale.tag());
        builder.multipart(MultiPart::alternative_plain_html(text, page)).map_err(|error| error.to_string())
    }
}

/// Writes a message as `{order}.{kind}.eml` in `dir`, whole or not at all: to a hidden
/// temporary file first, then renamed, so that whoever reads the folder (a mail viewer,
/// a test) never opens a file half written. A retry of the same message writes the same
/// file again.
async fn write_eml(dir: &std::path::Path, message: &DueMessage, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    let name = format!("{}.{}.eml", message.order_id, message.kind);
    let (path, partial) = (dir.join(&name), dir.join(format!(".{name}.partial")));
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

/// An order confirmation's body, as text and as HTML.
fn order_summary(order: &OrderRecord, locale: Locale, link: &str, invoice: Option<&str>) -> Result<(String, String), String> {
    let t = locale.texts();
    let currency = Currency::parse(&order.currency).map_err(|error| error.to_string())?;
    let money = |amount: i64| locale.money(Money::new(amount, currency));
    let lines: Vec<(String, String)> = order
        .lines
        .iter()
        .map(|line| (format!("{} × {}", line.quantity, line.name), money(line.unit_amount.saturating_mul(i64::from(line.quantity)))))
        .collect();
    let discount = order
        .discount_code
        .as_deref()
        .filter(|_| order.discount_amount > 0)
        .map(|code| (fill(t.discount_with_code(), &[&code]), format!("−{}", money(order.discount_amount))))
        .into_iter()
        .chain((order.credit_amount > 0).then(|| (t.paid_from_credit().to_owned(), format!("−{}", money(order.credit_amount)))))
        .collect::<Vec<_>>();
    let total = (t.total().to_owned(), money(order.amount));
    let ship_to = order.details.shipping.as_deref().map(|json| crate::address::lines(json, locale)).unwrap_or_default();
    let intro = fill(t.mail_paid_body(), &[&order.id]);

    let mut text = format!("{intro}\n\n");
    for (what, amount) in lines.iter().chain(&discount).chain(std::iter::once(&total)) {
        text.push_str(&format!("{what}{colon} {amount}\n", colon = t.colon()));
    }
    if !ship_to.is_empty() {
        text.push_str(&format!("\n{}{}\n{}\n", t.ship_to(), t.colon(), ship_to.join("\n")));
    }
    text.push_str(&format!("\n{}{} {link}\n", t.view_order(), t.colon()));
    // A subscription's order: Stripe's invoice for it too, which a business keeps.
    let invoice_link = match invoice {
        Some(invoice) => {
            text.push_str(&format!("{}{} {invoice}\n", t.view_invoice(), t.colon()));
            format!("<p><a href=\"{}\">{}</a></p>", escape(invoice), escape(t.view_invoice()))
        }
        None => String::new(),
    };

    let rows: String = lines
        .iter()
        .chain(&discount)
        .map(|(what, amount)| format!("<tr><td>{}</td><td align=\"right\">{}</td></tr>", escape(what), escape(amount)))
        .collect();
    let address = if ship_to.is_empty() {
        String::new()
    } else {
        format!("<h2>{}</h2><p>{}</p>", escape(t.ship_to()), ship_to.iter().map(|line| escape(line)).collect::<Vec<_>>().join("<br>"))
    };
    let html = format!(
        "<p>{}</p><table>{rows}<tr><th align=\"left\">{}</th><th align=\"right\">{}</th></tr></table>{address}<p><a href=\"{}\">{}</a></p>{invoice_link}",
        escape(&intro),
        escape(&total.0),
        escape(&total.1),
        escape(link),
        escape(t.view_order())
    );
    Ok((text, html))
}

/// What a subscription whose free trial ends is (`1 × Tea of the month`, named as its
/// order has it), when its trial ends, and what is charged from then (`€9.50 / month`),
/// in `locale`.
fn trial_terms(subscription: &SubscriptionRecord, order: &OrderRecord, locale: Locale) -> Result<(String, String, String), String> {
    let terms = &subscription.terms;
    let ends = subscription.state.current_period_end.ok_or("the trial's end is unknown")?;
    let currency = Currency::parse(&terms.currency).map_err(|error| error.to_string())?;
    let interval = crate::catalog::Interval::parse(&terms.interval).ok_or("the subscription's interval is unknown")?;
    let count = u32::try_from(terms.interval_count).map_err(|error| error.to_string())?;
    let price = Money::new(terms.unit_amount.saturating_mul(terms.quantity), currency);
    let price = crate::catalog::price_label(price, Some(crate::catalog::Recurring { interval, count }), locale);
    Ok((subscribed_to(subscription, order), locale.date(ends), price))
}

/// What `subscription` is for ("1 × Tea of the month"): its quantity now, and the name
/// its first order (`order`) gave the product, in the order's language.
fn subscribed_to(subscription: &SubscriptionRecord, order: &OrderRecord) -> String {
    let name = order.lines.first().map_or(subscription.terms.name.as_str(), |line| line.name.as_str());
    format!("{} × {name}", subscription.terms.quantity)
}
/// A message of one sentence and the link to the order, as text and as HTML.
fn short_note(line: &str, link: &str, link_text: &str) -> (String, String) {
    let text = format!("{line}\n\n{link_text}: {link}\n");
    let html = format!("<p>{}</p><p><a href=\"{}\">{}</a></p>", escape(line), escape(link), escape(link_text));
    (text, html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Drains the outbox for the life of the process.
pub fn spawn(state: AppState) -> anyhow::Result<()> {
    let mailer = Mailer::new(&state.config, &state.public_url)?;
    tracing::info!(to = %mailer.describe(), "order emails go to");
    tokio::spawn(async move {
        loop {
            // A full batch: more may be waiting (a backlog after an outage).
            if mailer.drain_once(&state).await < BATCH as usize {
                tokio::time::sleep(POLL).await;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_those_a_browser_email_field_takes_with_a_dotted_domain() {
        for good in ["jenny@example.com", "  Jenny.Rosen+shop@Example.co.uk ", "o'brien@mail-1.example.fr", "a!#$%&*/=?^_`{|}~-@x.io"] {
            let email = address(good).unwrap_or_else(|| panic!("{good:?} was refused"));
            assert_eq!(email, good.trim());
            assert!(email.parse::<lettre::Address>().is_ok(), "lettre cannot send to {email:?}");
        }
        let long_label = format!("jenny@{}.com", "a".repeat(64));
        let too_long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "jenny",
            "@example.com",
            "jenny@",
            "jenny@example",
            "jenny@localhost",
            "jen ny@example.com",
            "a@b@c.com",
            "jenny@.com",
            "jenny@example..com",
            "jenny@example.com.",
            "jenny@-example.com",
            ".jenny@example.com",
            "jen..ny@example.com",
            "\"jen ny\"@example.com",
            "jenny@[127.0.0.1]",
            "jenny@exämple.com",
            "jenny＠example.com",
            "jenny@exa_mple.com",
            "<jenny@example.com>",
            &long_label,
            &too_long,
        ] {
            assert_eq!(address(bad), None, "{bad:?} was accepted");
        }
    }

    /// A reader of the folder, racing the writes, only ever finds whole messages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_eml_file_is_never_seen_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let body = vec![b'x'; 4 << 20];
        let writes = {
            let (dir, body) = (dir.path().to_owned(), body.clone());
            tokio::spawn(async move {
                for n in 0..12 {
                    let message =
                        DueMessage { order_id: format!("ord_{n}"), kind: "order_confirmation".into(), body: String::new(), attempts: 0 };
                    write_eml(&dir, &message, &body).await.unwrap();
                }
            })
        };
        let mut seen = 0;
        while seen < 12 {
            let emls: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
                .collect();
            for path in &emls {
                assert_eq!(std::fs::metadata(path).unwrap().len(), body.len() as u64, "{path:?} seen half written");
            }
            seen = emls.len();
            tokio::task::yield_now().await;
        }
        writes.await.unwrap();
        assert!(dir.path().join("ord_11.order_confirmation.eml").exists());
    }
}
