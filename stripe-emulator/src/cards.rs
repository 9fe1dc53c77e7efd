//! Stripe's test cards and test PaymentMethod ids, and how each behaves when charged
//! (Stripe's "Testing" documentation).

/// Why a charge is declined, as Stripe reports it on the error and on
/// `last_payment_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub decline_code: &'static str,
    pub message: &'static str,
}

const GENERIC: Decline = Decline { code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." };
const INSUFFICIENT_FUNDS: Decline =
    Decline { code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." };
const LOST_CARD: Decline = Decline { code: "card_declined", decline_code: "lost_card", message: "Your card was declined." };
const STOLEN_CARD: Decline = Decline { code: "card_declined", decline_code: "stolen_card", message: "Your card was declined." };
const EXPIRED: Decline = Decline { code: "expired_card", decline_code: "expired_card", message: "Your card has expired." };
const INCORRECT_CVC: Decline =
    Decline { code: "incorrect_cvc", decline_code: "incorrect_cvc", message: "Your card's security code is incorrect." };
const PROCESSING: Decline = Decline {
    code: "processing_error",
    decline_code: "processing_error",
    message: "An error occurred while processing your card. Try again in a little bit.",
};
const FRAUDULENT: Decline = Decline { code: "card_declined", decline_code: "fraudulent", message: "Your card was declined." };

/// What happens when the card is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeeds,
    /// 3-D Secure is asked for; `when_saved` says whether it is still asked for an
    /// off-session charge of a saved card; after authentication, `then` decides.
    Authenticate {
        when_saved: bool,
        then: Option<Decline>,
    },
    Declines(Decline),
    /// Attaching to a customer works; charging declines.
    AttachesThenDeclines(Decline),
    /// The charge succeeds, then the cardholder disputes it for `reason`
    /// (`charge.dispute.created`).
    SucceedsThenDisputed {
        reason: &'static str,
    },
    /// The charge succeeds, then the issuer opens an inquiry about it: a dispute in
    /// `warning_needs_response`, no funds withdrawn.
    SucceedsThenInquiry,
    /// The charge succeeds, then the issuer reports it as fraud: an early fraud warning
    /// (`radar.early_fraud_warning.created`).
    SucceedsThenEarlyFraudWarning,
    /// The charge succeeds; a refund of it is `pending` until the processing delay has
    /// passed, then `succeeded`.
    SucceedsRefundPending,
    /// The charge succeeds; a refund of it is `succeeded` at first, then fails
    /// (`refund.failed`) once the processing delay has passed.
    SucceedsRefundFails,
}

/// A test card: what Stripe shows of it and how it behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub brand: &'static str,
    pub funding: &'static str,
    pub country: &'static str,
    /// Radar's risk level for a charge of the card: `normal`, `elevated` or `highest`
    /// (Radar's default rules block `highest`).
    pub risk_level: &'static str,
    pub behaviour: Behaviour,
}

/// A card as a PaymentMethod records it: the test card's traits and its last four
/// digits (any Luhn-valid number can be typed, not only the listed ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub brand: &'static str,
    pub funding: &'static str,
    pub country: &'static str,
    pub last4: String,
    pub risk_level: &'static str,
    pub behaviour: Behaviour,
}

impl Card {
    /// Four digits for American Express, three otherwise.
    pub fn cvc_length(&self) -> usize {
        if self.brand == "amex" { 4 } else { 3 }
    }
}

impl From<&TestCard> for Card {
    fn from(card: &TestCard) -> Self {
        Card {
            brand: card.brand,
            funding: card.funding,
            country: card.country,
            last4: card.number[card.number.len() - 4..].to_owned(),
            risk_level: card.risk_level,
            behaviour: card.behaviour,
        }
    }
}

const fn card(number: &'static str, brand: &'static str, behaviour: Behaviour) -> TestCard {
    TestCard { number, brand, funding: "credit", country: "US", risk_level: "normal", behaviour }
}

/// A card Radar scores at `risk_level`.
const fn risky(number: &'static str, risk_level: &'static str, behaviour: Behaviour) -> TestCard {
    TestCard { risk_level, ..card(number, "visa", behaviour) }
}

/// Every card number the emulator knows.
pub const CARDS: &[TestCard] = &[
    card("4242424242424242", "visa", Behaviour::Succeeds),
    TestCard { funding: "debit", country: "US", ..card("4000056655665556", "visa", Behaviour::Succeeds) },
    card("5555555555554444", "mastercard", Behaviour::Succeeds),
    TestCard { funding: "debit", country: "US", ..card("5200828282828210", "mastercard", Behaviour::Succeeds) },
    TestCard { funding: "prepaid", country: "US", ..card("5105105105105100", "mastercard", Behaviour::Succeeds) },
    card("378282246310005", "amex", Behaviour::Succeeds),
    // "Bypass pending balance" in Stripe's list: a plain credit card here.
    card("4000000000000077", "visa", Behaviour::Succeeds),
    TestCard { funding: "credit", country: "FR", ..card("4000002500000003", "visa", Behaviour::Succeeds) },
    card("4000002500003155", "visa", Behaviour::Authenticate { when_saved: false, then: None }),
    card("4000000000003220", "visa", Behaviour::Authenticate { when_saved: true, then: None }),
    card("4000002760003184", "visa", Behaviour::Authenticate { when_saved: true, then: None }),
    card("4000008400001629", "visa", Behaviour::Authenticate { when_saved: true, then: Some(GENERIC) }),
    card("4000000000000002", "visa", Behaviour::Declines(GENERIC)),
    card("4000000000009995", "visa", Behaviour::Declines(INSUFFICIENT_FUNDS)),
    card("4000000000009987", "visa", Behaviour::Declines(LOST_CARD)),
    card("4000000000009979", "visa", Behaviour::Declines(STOLEN_CARD)),
    card("4000000000000069", "visa", Behaviour::Declines(EXPIRED)),
    card("4000000000000127", "visa", Behaviour::Declines(INCORRECT_CVC)),
    card("4000000000000119", "visa", Behaviour::Declines(PROCESSING)),
    card("4000000000000341", "visa", Behaviour::AttachesThenDeclines(GENERIC)),
    card("4000000000000259", "visa", Behaviour::SucceedsThenDisputed { reason: "fraudulent" }),
    card("4000000000002685", "visa", Behaviour::SucceedsThenDisputed { reason: "product_not_received" }),
    card("4000000000001976", "visa", Behaviour::SucceedsThenInquiry),
    card("4000000000005423", "visa", Behaviour::SucceedsThenEarlyFraudWarning),
    card("4000000000007726", "visa", Behaviour::SucceedsRefundPending),
    card("4000000000005126", "visa", Behaviour::SucceedsRefundFails),
    // Radar (Stripe's testing page, "Fraud prevention"): always blocked, highest risk
    // (blocked by the default rules), elevated risk (goes through).
    risky("4100000000000019", "highest", Behaviour::Declines(FRAUDULENT)),
    risky("4000000000004954", "highest", Behaviour::Declines(FRAUDULENT)),
    risky("4000000000009235", "elevated", Behaviour::Succeeds),
];

/// Stripe's test PaymentMethod ids usable server-side, and the card each stands for.
pub const TEST_PAYMENT_METHODS: &[(&str, &str)] = &[
    ("pm_card_visa", "4242424242424242"),
    ("pm_card_visa_debit", "4000056655665556"),
    ("pm_card_mastercard", "5555555555554444"),
    ("pm_card_mastercard_debit", "5200828282828210"),
    ("pm_card_mastercard_prepaid", "5105105105105100"),
    ("pm_card_amex", "378282246310005"),
    ("pm_card_visa_chargeDeclined", "4000000000000002"),
    ("pm_card_chargeDeclined", "4000000000000002"),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "4000000000009995"),
    ("pm_card_chargeDeclinedInsufficientFunds", "4000000000009995"),
    ("pm_card_chargeDeclinedLostCard", "4000000000009987"),
    ("pm_card_chargeDeclinedExpiredCard", "4000000000000069"),
    ("pm_card_chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("pm_card_chargeDeclinedProcessingError", "4000000000000119"),
    ("pm_card_chargeDeclinedFraudulent", "4100000000000019"),
    ("pm_card_radarBlock", "4100000000000019"),
    ("pm_card_riskLevelHighest", "4000000000004954"),
    ("pm_card_riskLevelElevated", "4000000000009235"),
    ("pm_card_chargeCustomerFail", "4000000000000341"),
    ("pm_card_createDispute", "4000000000000259"),
    ("pm_card_createDisputeProductNotReceived", "4000000000002685"),
    ("pm_card_createDisputeInquiry", "4000000000001976"),
    ("pm_card_createIssuerFraudRecord", "4000000000005423"),
    ("pm_card_pendingRefund", "4000000000007726"),
    ("pm_card_refundFail", "4000000000005126"),
    ("pm_card_threeDSecureRequired", "4000000000003220"),
    ("pm_card_threeDSecure2Required", "4000000000003220"),
    ("pm_card_authenticationRequiredOnSetup", "4000002500003155"),
    ("pm_card_authenticationRequired", "4000002760003184"),
];

/// The card for a number (spaces ignored): a listed test card, or for any other
/// number that passes the Luhn check a plain succeeding card of the brand its prefix
/// says.
pub fn by_number(number: &str) -> Option<Card> {
    let digits: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(card) = CARDS.iter().find(|card| card.number == digits) {
        return Some(card.into());
    }
    if !(12..=19).contains(&digits.len()) || !luhn(&digits) {
        return None;
    }
    Some(Card {
        brand: brand_of(&digits),
        funding: "credit",
        country: "US",
        risk_level: "normal",
        last4: digits[digits.len() - 4..].to_owned(),
        behaviour: Behaviour::Succeeds,
    })
}

/// The card behind a test PaymentMethod id such as `pm_card_visa`.
pub fn by_test_payment_method(id: &str) -> Option<Card> {
    TEST_PAYMENT_METHODS
        .iter()
        .find(|(name, _)| *name == id)
        .and_then(|(_, number)| CARDS.iter().find(|card| card.number == *number))
        .map(Card::from)
}

/// The brand Stripe would detect from the first digits.
pub fn brand_of(digits: &str) -> &'static str {
    match digits.as_bytes() {
        [b'4', ..] => "visa",
        [b'3', b'4' | b'7', ..] => "amex",
        [b'5', b'1'..=b'5', ..] | [b'2', b'2'..=b'7', ..] => "mastercard",
        [b'6', b'0', b'1', b'1', ..] | [b'6', b'5', ..] => "discover",
        _ => "unknown",
    }
}

/// The Luhn checksum every real card number passes.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else { return false };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_card_passes_luhn() {
        for card in CARDS {
            assert!(luhn(card.number), "{}", card.number);
        }
    }

    #[test]
    fn the_documented_cards_behave_as_documented() {
        assert_eq!(by_number("4242 4242 4242 4242").unwrap().behaviour, Behaviour::Succeeds);
        let Behaviour::Declines(decline) = by_number("4000000000009995").unwrap().behaviour else { panic!() };
        assert_eq!(decline.decline_code, "insufficient_funds");
        let Behaviour::Declines(decline) = by_number("4100000000000019").unwrap().behaviour else { panic!() };
        assert_eq!((decline.code, decline.decline_code), ("card_declined", "fraudulent"));
        assert!(matches!(by_number("4000002500003155").unwrap().behaviour, Behaviour::Authenticate { when_saved: false, .. }));
        assert_eq!(by_number("378282246310005").unwrap().cvc_length(), 4);
    }

    #[test]
    fn test_payment_method_ids_map_to_cards() {
        assert_eq!(by_test_payment_method("pm_card_visa").unwrap().last4, "4242");
        assert!(matches!(
            by_test_payment_method("pm_card_visa_chargeDeclinedInsufficientFunds").unwrap().behaviour,
            Behaviour::Declines(d) if d.decline_code == "insufficient_funds"
        ));
        assert!(by_test_payment_method("pm_card_nonsense").is_none());
    }

    #[test]
    fn numbers_failing_luhn_are_not_cards() {
        assert!(by_number("4242424242424241").is_none());
        assert!(by_number("1234").is_none());
    }

    #[test]
    fn other_valid_numbers_succeed_with_their_brand() {
        let card = by_number("2223003122003222").unwrap();
        assert_eq!((card.brand, card.behaviour), ("mastercard", Behaviour::Succeeds));
    }

    #[test]
    fn funding_is_as_stripes_testing_page_lists_it() {
        // docs.stripe.com/testing, "Cards by brand".
        for (number, pm, brand, funding) in [
            ("4242424242424242", "pm_card_visa", "visa", "credit"),
            ("4000056655665556", "pm_card_visa_debit", "visa", "debit"),
            ("5555555555554444", "pm_card_mastercard", "mastercard", "credit"),
            ("5200828282828210", "pm_card_mastercard_debit", "mastercard", "debit"),
            ("5105105105105100", "pm_card_mastercard_prepaid", "mastercard", "prepaid"),
        ] {
            let card = by_number(number).unwrap();
            assert_eq!((card.brand, card.funding), (brand, funding), "{number}");
            assert_eq!(by_test_payment_method(pm).unwrap().last4, number[number.len() - 4..], "{pm}");
        }
        assert_eq!(by_number("4000000000000077").unwrap().funding, "credit", "Stripe lists it for bypassing the pending balance");
        assert!(by_test_payment_method("pm_card_prepaid").is_none(), "not one of Stripe's ids");
    }
}
