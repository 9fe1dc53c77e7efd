//! The shop in English and French: which language a request gets, every fixed string of
//! the interface in both (a typed catalogue: a string missing in one language does not
//! compile), and money and dates written the way each language writes them.
//!
//! The language is the shopper's choice when they made one (the `sf_locale` cookie, set
//! by the switch in the header), else the best match of the browser's `Accept-Language`,
//! else the store's `default-locale`. The server renders `<html lang>` with it; the
//! browser reads it back from there when it hydrates, so both render the same text.

use crate::money::Money;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Display;

/// The languages the shop speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    Fr,
}

/// The cookie that remembers the shopper's choice.
pub const COOKIE: &str = "sf_locale";

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    /// `en`, `en-GB`, `fr`, `fr-CA`… (any region), case-insensitive.
    pub fn parse(tag: &str) -> Option<Locale> {
        let language = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match language.as_str() {
            "en" => Some(Locale::En),
            "fr" => Some(Locale::Fr),
            _ => None,
        }
    }

    /// The BCP 47 tag (also Stripe Elements' `locale`).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Fr => "Français",
        }
    }

    /// The best language of an `Accept-Language` header (highest `q` first, then order).
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut ranked: Vec<(u16, usize, Locale)> = header
            .split(',')
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let locale = Locale::parse(parts.next()?)?;
                let quality =
                    parts.filter_map(|param| param.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
                // Thousandths, as the header allows three decimals.
                let quality = (quality.clamp(0.0, 1.0) * 1000.0).round() as u16;
                (quality > 0).then_some((quality, position, locale))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|(_, _, locale)| *locale)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Locale::En => &EN,
            Locale::Fr => &FR,
        }
    }

    /// An amount as the language writes it: `€1,299.00` / `1 299,00 €` (non-breaking
    /// spaces in French); currencies without a well-known symbol by their code.
    pub fn money(self, money: Money) -> String {
        money.written(match self {
            Locale::En => crate::money::Writing::ENGLISH,
            Locale::Fr => crate::money::Writing::FRENCH,
        })
    }

    /// A date (unix seconds, UTC): `26 November 2026` / `26 novembre 2026`.
    pub fn date(self, unix: i64) -> String {
        let date = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH).date();
        const EN_MONTHS: [&str; 12] =
            ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
        const FR_MONTHS: [&str; 12] =
            ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
        let (year, month, day) = (date.year(), usize::from(u8::from(date.month())) - 1, date.day());
        match self {
            Locale::En => format!("{day} {} {year}", EN_MONTHS[month]),
            Locale::Fr => format!("{}{} {} {year}", day, if day == 1 { "er" } else { "" }, FR_MONTHS[month]),
        }
    }
}

/// Replaces `{0}`, `{1}`, … in a catalogue string.
pub fn fill(template: &str, args: &[&dyn Display]) -> String {
    let mut text = template.to_owned();
    for (n, arg) in args.iter().enumerate() {
        text = text.replace(&format!("{{{n}}}"), &arg.to_string());
    }
    text
}

/// The language of the page or reply being made: on the server the request's (put in
/// the context by `crate::request::provide`), in an island hydrating in the browser the
/// page's (`<html lang>`). For views and the server-function plumbing; services are
/// given the request's locale instead.
pub fn use_locale() -> Locale {
    match use_context::<Locale>() {
        Some(locale) => locale,
        // An island hydrating in the browser: the page's language, from `<html lang>`.
        #[cfg(feature = "hydrate")]
        None => document_locale(),
        #[cfg(not(feature = "hydrate"))]
        None => Locale::default(),
    }
}

/// The catalogue of [`use_locale`].
pub fn tr() -> &'static Texts {
    use_locale().texts()
}

/// The language a request asks for (see the module's documentation).
#[cfg(feature = "ssr")]
pub fn locale_of(headers: &http::HeaderMap, default: Locale) -> Locale {
    let chosen = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Locale::parse(value));
    chosen
        .or_else(|| headers.get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Locale::from_accept_language))
        .unwrap_or(default)
}

/// In the browser: the language the server rendered (`<html lang>`).
#[cfg(feature = "hydrate")]
pub fn document_locale() -> Locale {
    leptos::prelude::document()
        .document_element()
        .and_then(|html| html.get_attribute("lang"))
        .and_then(|tag| Locale::parse(&tag))
        .unwrap_or_default()
}

impl Texts {
    /// How a subscription's status (Stripe's) reads.
    pub fn subscription_status(&self, status: &str) -> &'static str {
        match status {
            "active" => self.subscription_active(),
            "trialing" => self.subscription_trialing(),
            "past_due" => self.subscription_past_due(),
            "incomplete" => self.subscription_incomplete(),
            "canceled" => self.subscription_canceled(),
            "incomplete_expired" => self.subscription_expired(),
            "paused" => self.subscription_paused(),
            _ => self.subscription_unpaid(),
        }
    }

    /// How an order's status (as `OrderView` and `AccountOrder` carry it) reads.
    pub fn order_status(&self, status: &str) -> &'static str {
        match status {
            "paid" => self.status_paid(),
            "confirming" => self.status_confirming(),
            "failed" => self.status_failed(),
            "canceled" => self.status_canceled(),
            "authorized" => self.status_authorized(),
            "partially_refunded" => self.status_partially_refunded(),
            "refunded" => self.status_refunded(),
            _ => self.status_pending(),
        }
    }
}

macro_rules! catalogue {
    ($($name:ident: $en:expr, $fr:expr;)*) => {
        /// Every fixed string of the interface, in one language. `{0}`, `{1}`: see [`fill`].
        /// One method per string rather than a field: the wasm bundle then holds only
        /// the strings its islands use, not the whole catalogue twice.
        pub struct Texts(Locale);
        pub static EN: Texts = Texts(Locale::En);
        pub static FR: Texts = Texts(Locale::Fr);
        impl Texts {
            $(pub fn $name(&self) -> &'static str {
                match self.0 {
                    Locale::En => $en,
                    Locale::Fr => $fr,
                }
            })*
        }
        /// Every string's method, for the tests that check the two catalogues agree.
        #[cfg(test)]
        const EVERY_TEXT: &[fn(&Texts) -> &'static str] = &[$(Texts::$name,)*];
    };
}

catalogue! {
    // Chrome
    shop: "Shop", "Boutique";
    nav_main: "Main", "Principal";
    account: "Account", "Compte";
    cart: "Cart", "Panier";
    language: "Language", "Langue";
    skip_to_content: "Skip to content", "Aller au contenu";
    not_found_title: "Page not found", "Page introuvable";
    back_to_shop: "Back to the shop", "Retour à la boutique";
    back_to_cart: "Back to your cart", "Retour à votre panier";
    browse_shop: "Browse the shop", "Parcourir la boutique";
    // Catalog
    loading_catalog: "Loading the catalog…", "Chargement du catalogue…";
    catalog_pages: "Catalog pages", "Pages du catalogue";
    previous: "Previous", "Précédent";
    next: "Next", "Suivant";
    page_of: "Page {0} of {1}", "Page {0} sur {1}";
    sold_out: "Sold out", "Épuisé";
    only_left: "Only {0} left", "Plus que {0}";
    in_stock: "In stock", "En stock";
    add_to_cart: "Add to cart", "Ajouter au panier";
    add_named_to_cart: "Add to cart: {0}", "Ajouter au panier : {0}";
    // Cart
    your_cart: "Your cart", "Votre panier";
    loading_cart: "Loading your cart…", "Chargement de votre panier…";
    cart_empty: "Your cart is empty.", "Votre panier est vide.";
    go_to_checkout: "Go to checkout", "Passer la commande";
    subtotal: "Subtotal", "Sous-total";
    total: "Total", "Total";
    discount_code: "Discount code", "Code de réduction";
    apply: "Apply", "Appliquer";
    discount_applied: "{0} applied.", "{0} appliqué.";
    discount_removed: "Discount removed.", "Réduction retirée.";
    one_fewer: "One fewer {0}", "Un {0} de moins";
    one_more: "One more {0}", "Un {0} de plus";
    quantity_of: "Quantity of {0}", "Quantité de {0}";
    remove: "Remove", "Retirer";
    remove_from_cart: "Remove {0} from the cart", "Retirer {0} du panier";
    // Checkout
    checkout: "Checkout", "Paiement";
    needs_javascript: "Paying needs JavaScript: card details are entered in Stripe's secure payment form. Your cart and discount code work without it.",
        "Le paiement nécessite JavaScript : les données de carte sont saisies dans le formulaire sécurisé de Stripe. Votre panier et votre code de réduction fonctionnent sans.";
    loading_order: "Loading your order…", "Chargement de votre commande…";
    your_order: "Your order", "Votre commande";
    shipping_address: "Shipping address", "Adresse de livraison";
    payment: "Payment", "Paiement";
    form_loading: "The payment form is still loading; please wait a moment.", "Le formulaire de paiement se charge encore ; patientez un instant.";
    form_unavailable: "The payment form could not be loaded. Check your connection and reload the page.",
        "Le formulaire de paiement n'a pas pu se charger. Vérifiez votre connexion et rechargez la page.";
    page_unfinished: "This page could not finish loading. Check your connection and reload the page.",
        "Cette page n'a pas pu finir de se charger. Vérifiez votre connexion et rechargez la page.";
    processing: "Processing…", "Traitement…";
    pay_amount: "Pay {0}", "Payer {0}";
    paying_with_saved: "Paying with your saved {0} (expires {1}).", "Paiement avec votre {0} enregistrée (expire {1}).";
    paying_with_saved_method: "Paying with a saved payment method.", "Paiement avec un moyen de paiement enregistré.";
    checking_payment: "Checking your payment…", "Vérification de votre paiement…";
    checking_unknown_outcome: "No answer about your payment yet. Checking whether it went through…",
        "Pas encore de réponse pour votre paiement. Nous vérifions s'il est passé…";
    no_payment: "There is no payment to show.", "Aucun paiement à afficher.";
    paid_thanks: "Thank you! Your payment was received.", "Merci ! Votre paiement a bien été reçu.";
    payment_processing: "Your payment is processing; your order page will show when it completes.",
        "Votre paiement est en cours de traitement ; la page de votre commande indiquera quand il sera terminé.";
    payment_authorised: "Your payment is authorised. You are charged when your order ships.",
        "Votre paiement est autorisé. Vous serez débité à l'expédition de votre commande.";
    mail_paid_subject: "Your order {0} is confirmed", "Votre commande {0} est confirmée";
    mail_paid_body: "Thank you! Your payment for order {0} was received.", "Merci ! Votre paiement pour la commande {0} a bien été reçu.";
    mail_failed_subject: "Your payment for order {0} did not go through", "Votre paiement pour la commande {0} n'a pas abouti";
    mail_failed_body: "Your bank did not accept the payment for order {0}. Nothing was charged: you can pay again from the shop.",
        "Votre banque n'a pas accepté le paiement de la commande {0}. Rien n'a été débité : vous pouvez payer à nouveau depuis la boutique.";
    mail_refund_subject: "A refund for your order {0}", "Un remboursement pour votre commande {0}";
    mail_refund_body: "We refunded {0} for order {1}. Your bank shows it within 5 to 10 days.",
        "Nous avons remboursé {0} pour la commande {1}. Votre banque l'affiche sous 5 à 10 jours.";
    mail_trial_ending_subject: "Your free trial ends on {0}", "Votre essai gratuit se termine le {0}";
    mail_trial_ending_body: "Your free trial of {0} ends on {1}. From then, {2} is charged to your card until you cancel. To pay nothing, cancel it from your account before then.",
        "Votre essai gratuit de {0} se termine le {1}. Ensuite, {2} seront débités sur votre carte jusqu'à résiliation. Pour ne rien payer, résiliez-le depuis votre compte avant cette date.";
    mail_trial_ending_no_card_body: "Your free trial of {0} ends on {1}. From then, {2} is due, and we have no card to charge it to: your account page will ask you to pay it with a card. To pay nothing, cancel it from your account before then.",
        "Votre essai gratuit de {0} se termine le {1}. Ensuite, {2} seront dus, et nous n'avons pas de carte à débiter : la page de votre compte vous demandera de payer avec une carte. Pour ne rien payer, résiliez-le depuis votre compte avant cette date.";
    mail_subscription_ended_subject: "Your subscription has ended", "Votre abonnement a pris fin";
    mail_subscription_ended_body: "Your subscription ({0}) has ended: nothing more will be charged for it. To have it again, subscribe from the shop.",
        "Votre abonnement ({0}) a pris fin : plus rien ne sera débité à ce titre. Pour le retrouver, abonnez-vous à nouveau depuis la boutique.";
    mail_subscription_ended_unpaid_body: "Your subscription ({0}) has ended because its renewal could not be charged: nothing more will be charged for it. To have it again, subscribe from the shop.",
        "Votre abonnement ({0}) a pris fin, car son renouvellement n'a pas pu être débité : plus rien ne sera débité à ce titre. Pour le retrouver, abonnez-vous à nouveau depuis la boutique.";
    mail_subscription_on_hold_subject: "Your subscription is on hold", "Votre abonnement est en attente";
    mail_subscription_on_hold_body: "Your subscription ({0}) is on hold: its renewal could not be charged, so it will not be charged or renewed until that renewal is paid. To resume it, pay the renewal from your account, with a card your bank accepts.",
        "Votre abonnement ({0}) est en attente : son renouvellement n'a pas pu être débité, il ne sera donc ni débité ni renouvelé tant que ce renouvellement n'est pas payé. Pour le reprendre, payez le renouvellement depuis votre compte, avec une carte que votre banque accepte.";
    mail_subscription_paused_subject: "Your subscription is paused", "Votre abonnement est suspendu";
    mail_trial_paused_body: "Your free trial ({0}) has ended, and there was no card to charge, so your subscription is paused: nothing is charged or sent. To go on, resume it from your account with a card; or end it there.",
        "Votre essai gratuit ({0}) est terminé, sans carte à débiter : votre abonnement est donc suspendu, rien n'est débité ni envoyé. Pour continuer, reprenez-le depuis votre compte avec une carte ; ou mettez-y fin.";
    mail_subscription_paused_body: "Your subscription ({0}) is paused: nothing is charged or sent until it resumes. You can resume it from your account with a card, or end it there.",
        "Votre abonnement ({0}) est suspendu : rien n'est débité ni envoyé tant qu'il n'a pas repris. Vous pouvez le reprendre depuis votre compte avec une carte, ou y mettre fin.";
    mail_renewal_failed_subject: "Your subscription could not be renewed", "Votre abonnement n'a pas pu être renouvelé";
    mail_renewal_failed_body: "Your bank did not accept the payment for the renewal of your subscription ({0}). Nothing was charged: pay it from your account, where your bank can ask you to confirm it, or with another card.",
        "Votre banque n'a pas accepté le paiement du renouvellement de votre abonnement ({0}). Rien n'a été débité : payez-le depuis votre compte, où votre banque peut vous demander de le confirmer, ou avec une autre carte.";
    mail_renewal_failed_retry_body: "Your bank did not accept the payment for the renewal of your subscription ({0}). Nothing was charged. Your card will be tried again on {1}; to pay it now, go to your account, where your bank can ask you to confirm it, or use another card.",
        "Votre banque n'a pas accepté le paiement du renouvellement de votre abonnement ({0}). Rien n'a été débité. Votre carte sera de nouveau présentée le {1} ; pour le payer dès maintenant, rendez-vous sur votre compte, où votre banque peut vous demander de le confirmer, ou utilisez une autre carte.";
    email_for_receipt: "Email for your receipt", "E-mail pour votre reçu";
    email_hint: "We send the order confirmation here.", "Nous y envoyons la confirmation de commande.";
    method_not_accepted: "This shop does not accept that payment method for this order. Choose another one and pay again.",
        "Cette boutique n'accepte pas ce moyen de paiement pour cette commande. Choisissez-en un autre et payez à nouveau.";
    capture_notice: "Your card is authorised now and charged when your order ships.",
        "Votre carte est autorisée maintenant et débitée à l'expédition de votre commande.";
    card_kept_on_session: "Your card will be saved to your account, so that you can pay with it next time.",
        "Votre carte sera enregistrée dans votre compte pour que vous puissiez payer avec la prochaine fois.";
    card_kept_off_session: "By providing your card information, you allow this shop to charge your card for future payments in accordance with its terms. Your card will be saved to your account.",
        "En fournissant les informations de votre carte, vous autorisez cette boutique à débiter votre carte pour de futurs paiements conformément à ses conditions. Votre carte sera enregistrée dans votre compte.";
    payment_needs_action: "Your payment still needs your bank's confirmation.", "Votre paiement attend encore la confirmation de votre banque.";
    payment_failed: "The payment did not go through. Nothing was charged.", "Le paiement n'a pas abouti. Rien n'a été débité.";
    payment_failed_because: "The payment did not go through: {0} Nothing was charged.", "Le paiement n'a pas abouti : {0} Rien n'a été débité.";
    try_again: "Try again", "Réessayer";
    view_order: "View your order", "Voir votre commande";
    paid_in_another_browser: "This payment was started in another browser: go back to it for your cart and your order.", "Ce paiement a été commencé dans un autre navigateur : revenez-y pour votre panier et votre commande.";
    // Orders
    order_title: "Order {0}", "Commande {0}";
    order_not_found: "Order not found", "Commande introuvable";
    // Opens Stripe's receipt page for the order's payment.
    view_receipt: "View your receipt", "Voir votre reçu";
    view_invoice: "View your invoice", "Voir votre facture";
    status: "Status", "Statut";
    // Before a colon: French puts a (no-break) space there.
    colon: ":", "\u{a0}:";
    status_paid: "Paid", "Payée";
    status_confirming: "Payment submitted — awaiting Stripe's confirmation", "Paiement envoyé — en attente de la confirmation de Stripe";
    status_failed: "Payment failed — you can pay again from checkout", "Paiement refusé — vous pouvez payer à nouveau depuis la page de paiement";
    status_canceled: "Canceled", "Annulée";
    status_pending: "Awaiting payment", "En attente de paiement";
    status_authorized: "Payment authorised — you are charged when the order ships",
        "Paiement autorisé — vous serez débité à l'expédition de la commande";
    status_partially_refunded: "Paid — partly refunded", "Payée — remboursée en partie";
    status_refunded: "Refunded", "Remboursée";
    charged: "Charged", "Débité";
    placed_on: "Placed on {0}", "Passée le {0}";
    discount_with_code: "Discount ({0})", "Réduction ({0})";
    paid_from_credit: "Paid from your credit", "Payé par votre avoir";
    ship_to: "Shipping to", "Livraison à";
    refunds: "Refunds", "Remboursements";
    refund_done: "Refunded", "Remboursé";
    refund_pending: "Refund on its way", "Remboursement en cours";
    refunded_total: "Refunded in total", "Total remboursé";
    order_refreshing: "This page updates itself until your bank answers.", "Cette page se met à jour jusqu'à la réponse de votre banque.";
    order_still_waiting: "This is taking longer than usual. We keep checking with the payment service: reload this page later to see where your order stands. You will not be charged twice.",
        "Cela prend plus de temps que d'habitude. Nous continuons de vérifier auprès du service de paiement : rechargez cette page plus tard pour voir où en est votre commande. Vous ne serez pas débité deux fois.";
    // Account
    your_account: "Your account", "Votre compte";
    loading_account: "Loading your account…", "Chargement de votre compte…";
    sign_in: "Sign in", "Se connecter";
    signing_in: "Signing in…", "Connexion…";
    email: "Email", "E-mail";
    password: "Password", "Mot de passe";
    new_here: "New here? Create an account", "Nouveau ? Créez un compte";
    account_pitch: "Save your cards for next time and find your orders from any device.",
        "Enregistrez vos cartes pour la prochaine fois et retrouvez vos commandes depuis n'importe quel appareil.";
    password_rule: "Password (at least 8 characters)", "Mot de passe (8 caractères minimum)";
    creating_account: "Creating your account…", "Création de votre compte…";
    create_account: "Create account", "Créer le compte";
    signed_in_as: "Signed in as {0}", "Connecté en tant que {0}";
    sign_out: "Sign out", "Se déconnecter";
    your_orders: "Your orders", "Vos commandes";
    no_orders: "No orders yet.", "Aucune commande pour l'instant.";
    older_orders: "Older orders", "Commandes plus anciennes";
    newest_orders: "Newest orders", "Commandes les plus récentes";
    saved_cards: "Saved cards", "Cartes enregistrées";
    loading_cards: "Loading your cards…", "Chargement de vos cartes…";
    no_saved_cards: "No saved cards. Tick “save” when you pay, or add one below.",
        "Aucune carte enregistrée. Cochez «\u{a0}enregistrer\u{a0}» lors d'un paiement, ou ajoutez-en une ci-dessous.";
    expires: "Expires {0}", "Expire {0}";
    remove_named: "Remove {0}", "Retirer {0}";
    add_a_card: "Add a card", "Ajouter une carte";
    card_saved: "Your card was saved.", "Votre carte a été enregistrée.";
    card_form_loading: "The card form is still loading; please wait a moment.", "Le formulaire de carte se charge encore ; patientez un instant.";
    card_being_checked: "Your card is being checked; it will appear here shortly.", "Votre carte est en cours de vérification ; elle apparaîtra ici sous peu.";
    card_checking: "No answer about your card yet. Checking whether it was saved…",
        "Pas encore de réponse pour votre carte. Nous vérifions si elle a été enregistrée…";
    card_unknown: "We could not find out yet whether your card was saved. Reload this page in a moment: your saved cards show it if it was.",
        "Nous ne savons pas encore si votre carte a été enregistrée. Rechargez cette page dans un instant : vos cartes enregistrées l'afficheront si c'est le cas.";
    card_not_saved: "Your card could not be saved. Please try another card.", "Votre carte n'a pas pu être enregistrée. Essayez une autre carte.";
    saving: "Saving…", "Enregistrement…";
    save_card: "Save card", "Enregistrer la carte";
    // Errors the server or the network cause (the shopper's own mistakes are
    // explained by the server, in the request's language)
    error_payment_unavailable: "The payment service is not answering right now. Please try again in a moment.",
        "Le service de paiement ne répond pas pour le moment. Réessayez dans un instant.";
    error_payment_unknown: "We could not find out yet whether your payment went through. You will not be charged twice: we keep checking, and your order page shows the result as soon as we know.",
        "Nous ne savons pas encore si votre paiement est passé. Vous ne serez pas débité deux fois : nous continuons de vérifier, et la page de votre commande affichera le résultat dès que nous le saurons.";
    error_payment_setup: "This shop cannot take this payment because of a problem on our side. Nothing was charged, and we have been told. Please try again later.",
        "Cette boutique ne peut pas accepter ce paiement à cause d'un problème de notre côté. Rien n'a été débité et nous avons été prévenus. Réessayez plus tard.";
    error_store_unavailable: "Our order system is unavailable for a moment. Nothing was charged or changed; please try again shortly.",
        "Notre système de commande est momentanément indisponible. Rien n'a été débité ni modifié ; réessayez dans un instant.";
    error_internal: "Something went wrong on our side. Please try again in a moment.",
        "Un problème est survenu de notre côté. Veuillez réessayer dans un instant.";
    error_transport: "The shop could not be reached. Check your connection and try again.",
        "La boutique est injoignable. Vérifiez votre connexion et réessayez.";
    error_rate_limited: "Too many attempts. Please wait {0} and try again.", "Trop de tentatives. Patientez {0} puis réessayez.";
    a_minute: "a minute", "une minute";
    minutes: "{0} minutes", "{0} minutes";
    // What the server says when it refuses (made in the request's language)
    not_in_catalog: "That product is not in our catalog.", "Ce produit n'est pas dans notre catalogue.";
    quantity_range: "Choose a quantity from 1 to {0}.", "Choisissez une quantité de 1 à {0}.";
    product_sold_out: "Sorry, that product is sold out.", "Désolé, ce produit est épuisé.";
    cart_cannot_hold_more: "Only {0} in stock: your cart cannot hold more.", "Seulement {0} en stock : votre panier ne peut pas en contenir plus.";
    at_most_per_product: "You can have at most {0} of one product.", "Vous pouvez prendre au plus {0} exemplaires d'un produit.";
    only_in_stock: "Only {0} in stock.", "Seulement {0} en stock.";
    discount_unknown: "That discount code is not valid.", "Ce code de réduction n'est pas valable.";
    discount_expired: "That discount code expired on {0}.", "Ce code de réduction a expiré le {0}.";
    discount_minimum: "That discount code needs an order of at least {0}.", "Ce code de réduction demande une commande d'au moins {0}.";
    discount_needs_cart: "Add something to your cart before applying a discount code.", "Ajoutez un article à votre panier avant d'appliquer un code de réduction.";
    cart_empty_pay: "Your cart is empty: add something before paying.", "Votre panier est vide : ajoutez un article avant de payer.";
    stock_short: "Only {0} × {1} left in stock: please update your cart.", "Plus que {0} × {1} en stock : mettez à jour votre panier.";
    minimum_charge: "The smallest order we can charge is {0}.", "La plus petite commande que nous pouvons débiter est de {0}.";
    maximum_charge: "We cannot charge more than {0} in one payment: please take something out of your cart.",
        "Nous ne pouvons pas débiter plus de {0} en un seul paiement : retirez un article de votre panier.";
    maximum_charge_renewal: "We cannot charge more than {0} in one payment: please choose a smaller quantity.",
        "Nous ne pouvons pas débiter plus de {0} en un seul paiement : choisissez une quantité plus petite.";
    cart_changed: "Your cart changed since this page was shown, so nothing was charged. It now comes to {0}: check your order, then pay again.",
        "Votre panier a changé depuis l'affichage de cette page : rien n'a été débité. Il s'élève maintenant à {0} : vérifiez votre commande, puis payez à nouveau.";
    cart_changed_shown_again: "Your cart changed since the page was shown, so nothing was charged. Here it is as it is now: check it, then pay again.",
        "Votre panier a changé depuis l'affichage de la page : rien n'a été débité. Le voici tel qu'il est maintenant : vérifiez-le, puis payez à nouveau.";
    details_used: "These payment details were already used. Please enter them again.", "Ces données de paiement ont déjà été utilisées. Saisissez-les à nouveau.";
    customer_renewed: "Your details at Stripe had to be set up again: nothing was charged or saved. Please try again.", "Vos informations chez Stripe ont dû être recréées : rien n'a été débité ni enregistré. Veuillez réessayer.";
    details_unusable: "These payment details could not be used. Please enter them again.", "Ces données de paiement n'ont pas pu être utilisées. Saisissez-les à nouveau.";
    details_expired: "Your payment details could not be used (they may have expired). Please enter them again.",
        "Vos données de paiement n'ont pas pu être utilisées (elles ont peut-être expiré). Saisissez-les à nouveau.";
    details_not_found: "Your payment details could not be found (they may have expired). Please enter them again.",
        "Vos données de paiement sont introuvables (elles ont peut-être expiré). Saisissez-les à nouveau.";
    details_garbled: "The payment details were not received correctly. Please enter them again.", "Les données de paiement n'ont pas été reçues correctement. Saisissez-les à nouveau.";
    card_details_garbled: "The card details were not received correctly. Please enter them again.", "Les données de carte n'ont pas été reçues correctement. Saisissez-les à nouveau.";
    card_details_expired: "Your card details could not be used (they may have expired). Please enter them again.",
        "Les données de votre carte n'ont pas pu être utilisées (elles ont peut-être expiré). Saisissez-les à nouveau.";
    no_such_payment: "There is no such payment.", "Ce paiement n'existe pas.";
    no_such_order: "There is no order with this number for you.", "Vous n'avez pas de commande avec ce numéro.";
    no_receipt: "This order has no receipt: it gets one once it is paid by card.", "Cette commande n'a pas de reçu : elle en a un une fois payée par carte.";
    no_invoice: "This order has no invoice: only a subscription's orders have one.", "Cette commande n'a pas de facture : seules les commandes d'un abonnement en ont une.";
    no_such_card: "There is no such saved card.", "Cette carte enregistrée n'existe pas.";
    sign_in_for_cards: "Sign in to see your saved cards.", "Connectez-vous pour voir vos cartes enregistrées.";
    prepaid_refused: "This shop does not accept prepaid cards. Please use another card.", "Cette boutique n'accepte pas les cartes prépayées. Utilisez une autre carte.";
    card_refused_by_shop: "This shop does not accept this card (prepaid cards and cards from some countries are refused). Please use another card.",
        "Cette boutique n'accepte pas cette carte (les cartes prépayées et celles de certains pays sont refusées). Utilisez une autre carte.";
    password_too_short: "Choose a password of at least {0} characters.", "Choisissez un mot de passe d'au moins {0} caractères.";
    password_too_long: "Choose a password of at most {0} characters.", "Choisissez un mot de passe d'au plus {0} caractères.";
    account_exists: "An account with this email already exists: sign in instead.", "Un compte existe déjà avec cet e-mail : connectez-vous.";
    wrong_credentials: "The email or password is not right. Check both and try again.", "L'e-mail ou le mot de passe est incorrect. Vérifiez-les et réessayez.";
    email_format: "Enter an email address like name@example.com.", "Saisissez une adresse e-mail comme nom@exemple.fr.";
    payment_not_through: "The payment did not go through. Please try another card.", "Le paiement n'a pas abouti. Essayez une autre carte.";
    wrong_path_legacy: "This shop confirms payments with a PaymentMethod (legacy path); reload the page.",
        "Cette boutique confirme les paiements avec un PaymentMethod (ancienne méthode) ; rechargez la page.";
    wrong_path_token: "This shop confirms payments with a ConfirmationToken; reload the page.",
        "Cette boutique confirme les paiements avec un ConfirmationToken ; rechargez la page.";
    malformed: "The request was malformed ({0}).", "La requête est mal formée ({0}).";
    request_cross_site: "Cross-site requests are refused: use the shop's own pages.",
        "Les requêtes venant d'un autre site sont refusées : utilisez les pages de la boutique.";
    request_too_large: "The request is too large.", "La requête est trop volumineuse.";
    request_unreadable: "The request's body could not be read: send it again.", "Le corps de la requête n'a pas pu être lu : envoyez-la à nouveau.";
    request_too_slow: "The request's body took too long to arrive: send it again.",
        "Le corps de la requête a mis trop de temps à arriver : envoyez-la à nouveau.";
    how_to_call: "Call a server function with POST, its arguments form-encoded (application/x-www-form-urlencoded); it replies in JSON.",
        "Appelez une fonction serveur avec POST, ses arguments encodés comme un formulaire (application/x-www-form-urlencoded) ; elle répond en JSON.";
    no_such_server_function: "There is no such server function (the README's API table lists them).",
        "Cette fonction serveur n'existe pas (le tableau de l'API du README les donne toutes).";
    address_incomplete: "Please complete the shipping address: name, street, city and country.",
        "Complétez l'adresse de livraison : nom, rue, ville et pays.";
    percent_off: "{0} ({1}% off)", "{0} (−{1}\u{a0}%)";
    amount_off: "{0} ({1} off)", "{0} (−{1})";
    // Subscriptions
    subscription_alone: "A subscription is bought on its own: pay for what is in your cart first, or remove it.",
        "Un abonnement s'achète seul : réglez d'abord le contenu de votre panier, ou retirez-le.";
    discount_not_for_subscriptions: "Discount codes apply to one-off purchases, not to subscriptions.",
        "Les codes de réduction s'appliquent aux achats ponctuels, pas aux abonnements.";
    subscribe_needs_account: "A subscription belongs to an account, where you can cancel it at any time. Sign in or create an account, then come back here to subscribe.",
        "Un abonnement est rattaché à un compte, où vous pouvez le résilier à tout moment. Connectez-vous ou créez un compte, puis revenez ici pour vous abonner.";
    sign_in_to_subscribe: "Sign in to subscribe", "Se connecter pour s'abonner";
    subscription_terms: "{0} × {1}: {2}, charged today and then every {3} until you cancel. Your card is kept to pay each renewal.",
        "{0} × {1} : {2}, débité aujourd'hui puis tous les {3} jusqu'à résiliation. Votre carte est conservée pour régler chaque renouvellement.";
    subscription_terms_trial: "{0} × {1}: the first {2} days are free, then {3}, charged every {4} until you cancel. Nothing is charged today: your card is kept to pay each renewal.",
        "{0} × {1} : les {2} premiers jours sont offerts, puis {3}, débité tous les {4} jusqu'à résiliation. Rien n'est débité aujourd'hui : votre carte est conservée pour régler chaque renouvellement.";
    free_trial: "First {0} days free", "{0} premiers jours offerts";
    trial_offer: "First {0} days free for new subscribers", "{0} premiers jours offerts aux nouveaux abonnés";
    subscribe_amount: "Subscribe — {0}", "S'abonner — {0}";
    subscribed_thanks: "Thank you: your subscription is active.", "Merci : votre abonnement est actif.";
    manage_subscriptions: "Manage your subscriptions", "Gérer vos abonnements";
    your_subscriptions: "Your subscriptions", "Vos abonnements";
    no_subscriptions: "No subscriptions.", "Aucun abonnement.";
    renews_on: "Renews on {0}", "Renouvellement le {0}";
    ends_on: "Ends on {0}", "Prend fin le {0}";
    payments_paused: "Payments paused", "Paiements suspendus";
    subscribed_without_charge:
        "You are subscribed: your credit with us paid this period, so nothing was charged, and your card was not kept for the renewals. When the next one is due, your account page will ask you to pay it with a card.",
        "Votre abonnement est actif : votre avoir chez nous a payé cette période, rien n'a donc été débité, et votre carte n'a pas été gardée pour les renouvellements. Au prochain, la page de votre compte vous demandera de le payer avec une carte.";
    trial_started_without_card:
        "You are subscribed: your free trial has begun, and your card was not kept for the renewals. When the trial ends, your account page will ask you to pay with a card.",
        "Votre abonnement a commencé par son essai gratuit, mais votre carte n'a pas été gardée pour les renouvellements. À la fin de l'essai, la page de votre compte vous demandera de payer avec une carte.";
    first_charge_on: "First charge on {0}", "Premier prélèvement le {0}";
    payments_paused_until: "Payments paused until {0}", "Paiements suspendus jusqu'au {0}";
    cancel_at_period_end: "Cancel at the end of the period", "Résilier à la fin de la période";
    cancel_named_subscription: "Cancel at the end of the period: {0}", "Résilier à la fin de la période : {0}";
    keep_subscription: "Keep my subscription", "Conserver mon abonnement";
    end_now: "End it now", "Y mettre fin maintenant";
    end_named_subscription: "End it now: {0}", "Y mettre fin maintenant : {0}";
    end_only_on_hold: "Only a subscription on hold can be ended at once: cancel it at the end of its period instead.",
        "Seul un abonnement en attente peut être résilié immédiatement : résiliez-le plutôt à la fin de sa période.";
    keep_named_subscription: "Keep my subscription: {0}", "Conserver mon abonnement : {0}";
    subscription_quantity: "Quantity", "Quantité";
    change_named_quantity: "Change the quantity: {0}", "Modifier la quantité : {0}";
    change_quantity: "Change", "Modifier";
    quantity_from_next_renewal: "A new quantity applies from the next renewal: nothing more is charged for this period.",
        "Une nouvelle quantité s'applique dès le prochain renouvellement : rien de plus n'est débité pour cette période.";
    renewals_charged_to: "Renewals are charged to", "Les renouvellements sont débités sur";
    choose_renewal_card: "Choose a card", "Choisissez une carte";
    use_for_renewals: "Use this card", "Utiliser cette carte";
    use_named_for_renewals: "Use this card for the renewals: {0}", "Utiliser cette carte pour les renouvellements : {0}";
    renewal_card_hint: "The card you choose is charged from the next renewal on.", "La carte choisie est débitée dès le prochain renouvellement.";
    card_pays_renewals: "This card pays the renewals of “{0}”. To remove it, first choose another card for them on this page (add one if you need to), or cancel the subscription.",
        "Cette carte paie les renouvellements de «\u{a0}{0}\u{a0}». Pour la retirer, choisissez d'abord une autre carte pour eux sur cette page (ajoutez-en une au besoin), ou résiliez l'abonnement.";
    subscription_active: "Active", "Actif";
    subscription_trialing: "Free trial", "Essai gratuit";
    subscription_past_due: "Payment due: the last renewal could not be charged", "Paiement en retard : le dernier renouvellement n'a pas pu être débité";
    subscription_incomplete: "Waiting for the first payment", "En attente du premier paiement";
    subscription_canceled: "Canceled", "Résilié";
    subscription_ended_unpaid: "Ended: its renewal could not be charged", "Résilié : son renouvellement n'a pas pu être débité";
    next_payment_attempt_on: "Next payment attempt on {0}", "Prochaine tentative de paiement le {0}";
    subscription_expired: "Expired", "Expiré";
    subscription_unpaid: "On hold: its renewal could not be charged. Pay it to resume the subscription", "En attente : son renouvellement n'a pas pu être débité. Payez-le pour reprendre l'abonnement";
    subscription_paused: "Paused: nothing is charged until it resumes", "Suspendu : rien n'est débité tant qu'il n'a pas repris";
    no_such_subscription: "There is no such subscription in your account.", "Cet abonnement n'existe pas dans votre compte.";
    subscription_ended: "This subscription has ended: it can no longer be changed.", "Cet abonnement a pris fin : il ne peut plus être modifié.";
    subscription_in_progress: "This subscription is being paid in another window: check your account in a moment.", "Cet abonnement est en cours de paiement dans une autre fenêtre : consultez votre compte dans un instant.";
    already_subscribed: "You already subscribe to “{0}”. Change its quantity or cancel it from your account.",
        "Vous êtes déjà abonné à «\u{a0}{0}\u{a0}». Modifiez sa quantité ou résiliez l'abonnement depuis votre compte.";
    already_subscribed_paused: "You already subscribe to “{0}”, and it is paused: resume it, or end it, from your account.",
        "Vous êtes déjà abonné à «\u{a0}{0}\u{a0}», et il est suspendu : reprenez-le, ou mettez-y fin, depuis votre compte.";
    already_subscribed_overdue: "You already subscribe to “{0}”, and its renewal is overdue: pay it from your account to resume it.",
        "Vous êtes déjà abonné à «\u{a0}{0}\u{a0}», et son renouvellement est en retard : payez-le depuis votre compte pour le reprendre.";
    first_payment_processing: "Your first payment for “{0}” is still being processed (a bank debit takes a few days): see it in your account.",
        "Votre premier paiement pour «\u{a0}{0}\u{a0}» est encore en cours de traitement (un prélèvement prend quelques jours) : retrouvez-le dans votre compte.";
    subscription_paid_meanwhile: "Your earlier try to subscribe to this has just been paid: see it in your account.", "Votre tentative précédente d'abonnement à cet article vient d'être payée : retrouvez-la dans votre compte.";
    pay_overdue_with: "Pay the overdue renewal, and the next ones, with", "Payer le renouvellement en retard, et les suivants, avec";
    pay_overdue_now: "Pay now", "Payer maintenant";
    paying_overdue: "Paying…", "Paiement…";
    add_card_to_pay_overdue: "Add a card below, then pay the overdue renewal with it here.", "Ajoutez une carte ci-dessous, puis payez ici le renouvellement en retard avec elle.";
    resume_with: "Resume it now, charging this period and the next ones to", "Le reprendre maintenant, en débitant cette période et les suivantes sur";
    resume_now: "Resume and pay", "Reprendre et payer";
    resuming: "Resuming…", "Reprise…";
    add_card_to_resume: "Add a card below, then resume it here with that card.", "Ajoutez une carte ci-dessous, puis reprenez-le ici avec elle.";
    nothing_overdue: "This subscription has nothing left to pay.", "Cet abonnement n'a plus rien à payer.";
    pay_form_expired: "This form has expired: reload the page and pay again.", "Ce formulaire a expiré : rechargez la page et payez à nouveau.";
    overdue_needs_authentication: "Your bank wants you to confirm this payment, which needs JavaScript: turn it on and pay again, or choose another card.", "Votre banque veut que vous confirmiez ce paiement, ce qui demande JavaScript : activez-le et payez à nouveau, ou choisissez une autre carte.";
    overdue_not_authenticated: "Your bank did not confirm the payment, so nothing was charged. Pay again, or choose another card.", "Votre banque n'a pas confirmé le paiement, rien n'a donc été débité. Payez à nouveau, ou choisissez une autre carte.";
}

impl Locale {
    /// A card decline as the shopper reads it. In English, Stripe's own message (written
    /// for shoppers); in French, the same meaning for each of Stripe's decline codes.
    pub fn decline(self, decline_code: Option<&str>, code: Option<&str>, stripe_message: &str) -> String {
        if self == Locale::En {
            return stripe_message.to_owned();
        }
        match decline_code.or(code).unwrap_or_default() {
            "insufficient_funds" => "Votre carte n'est pas suffisamment approvisionnée.",
            "expired_card" => "Votre carte a expiré.",
            "incorrect_cvc" | "invalid_cvc" => "Le code de sécurité de votre carte est incorrect.",
            "incorrect_number" | "invalid_number" => "Le numéro de votre carte est incorrect.",
            "processing_error" => "Une erreur s'est produite lors du traitement de votre carte. Réessayez dans un instant.",
            "lost_card"
            | "stolen_card"
            | "fraudulent"
            | "pickup_card"
            | "restricted_card"
            | "security_violation"
            | "generic_decline"
            | "do_not_honor"
            | "card_declined"
            | "card_not_supported"
            | "transaction_not_allowed" => "Votre carte a été refusée.",
            "authentication_required" | "payment_intent_authentication_failure" => {
                "Nous n'avons pas pu authentifier votre moyen de paiement. Choisissez un autre moyen de paiement et réessayez."
            }
            "card_velocity_exceeded" | "withdrawal_count_limit_exceeded" => "Votre carte a dépassé sa limite. Essayez une autre carte.",
            _ => "Votre paiement a été refusé. Essayez une autre carte.",
        }
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Locale::from_accept_language("fr-CA,fr;q=0.9,en;q=0.8"), Some(Locale::Fr));
        assert_eq!(Locale::from_accept_language("de-DE,de;q=0.9,en;q=0.5,fr;q=0.4"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language("en;q=0.2, fr;q=0.7"), Some(Locale::Fr));
        assert_eq!(Locale::from_accept_language("de, es"), None);
        assert_eq!(Locale::from_accept_language("fr;q=0, en;q=0.1"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language(""), None);
    }

    #[test]
    fn money_is_written_as_each_language_writes_it() {
        let eur = |amount| Money::new(amount, Currency::EUR);
        assert_eq!(Locale::En.money(eur(1099)), "€10.99");
        assert_eq!(Locale::Fr.money(eur(1099)), "10,99\u{a0}€");
        assert_eq!(Locale::En.money(eur(129_900)), "€1,299.00");
        assert_eq!(Locale::Fr.money(eur(123_456_789)), "1\u{202f}234\u{202f}567,89\u{a0}€");
        assert_eq!(Locale::Fr.money(eur(-250)), "-2,50\u{a0}€");
        assert_eq!(Locale::En.money(Money::new(500, Currency::parse("jpy").unwrap())), "¥500");
        assert_eq!(Locale::Fr.money(Money::new(12_345, Currency::parse("kwd").unwrap())), "12,345\u{a0}KWD");
    }

    #[test]
    fn dates_are_written_in_words() {
        assert_eq!(Locale::En.date(1_795_651_200), "26 November 2026");
        assert_eq!(Locale::Fr.date(1_795_651_200), "26 novembre 2026");
        assert_eq!(Locale::Fr.date(1_793_491_200), "1er novembre 2026");
        assert_eq!(Locale::En.date(0), "1 January 1970");
    }

    #[test]
    fn declines_read_in_the_shoppers_language() {
        let stripe = "Your card has insufficient funds.";
        assert_eq!(Locale::En.decline(Some("insufficient_funds"), Some("card_declined"), stripe), stripe);
        assert_eq!(
            Locale::Fr.decline(Some("insufficient_funds"), Some("card_declined"), stripe),
            "Votre carte n'est pas suffisamment approvisionnée."
        );
        assert_eq!(Locale::Fr.decline(None, Some("expired_card"), "Your card has expired."), "Votre carte a expiré.");
        assert_eq!(Locale::Fr.decline(Some("something_new"), None, "?"), "Votre paiement a été refusé. Essayez une autre carte.");
    }

    #[test]
    fn placeholders_are_filled_in_order() {
        assert_eq!(fill(FR.page_of(), &[&2, &5]), "Page 2 sur 5");
        assert_eq!(fill(EN.pay_amount(), &[&Locale::En.money(Money::new(4250, Currency::EUR))]), "Pay €42.50");
    }

    #[test]
    fn both_catalogues_use_the_same_placeholders() {
        // A French string that forgot `{1}` would silently drop a value (every string).
        let fields = |texts: &Texts| -> Vec<&'static str> { EVERY_TEXT.iter().map(|text| text(texts)).collect() };
        for (en, fr) in fields(&EN).into_iter().zip(fields(&FR)) {
            for n in 0..3 {
                let placeholder = format!("{{{n}}}");
                assert_eq!(en.contains(&placeholder), fr.contains(&placeholder), "{en} / {fr}");
            }
        }
    }
}
