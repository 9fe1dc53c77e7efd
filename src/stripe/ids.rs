//! Stripe object ids as types: each parses once, from its prefix, so that a customer id
//! can never be passed where a PaymentMethod id is expected.

use serde::{Deserialize, Serialize};

/// An id that is not of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {kind} id (expected `{prefix}…`)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Accepts `prefix` followed by 1–255 ASCII letters, digits or `_`.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let rest = value.strip_prefix($prefix).unwrap_or_default();
                let valid = !rest.is_empty()
                    && value.len() <= 255
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if valid {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, prefix: $prefix, value: value.chars().take(64).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

stripe_id!(/// `pi_…`
    PaymentIntentId, "pi_", "PaymentIntent");
stripe_id!(/// `seti_…`
    SetupIntentId, "seti_", "SetupIntent");
stripe_id!(/// `ctoken_…`
    ConfirmationTokenId, "ctoken_", "ConfirmationToken");
stripe_id!(/// `cus_…`
    CustomerId, "cus_", "Customer");
stripe_id!(/// `pm_…`
    PaymentMethodId, "pm_", "PaymentMethod");
stripe_id!(/// `sub_…`
    SubscriptionId, "sub_", "Subscription");
stripe_id!(/// `si_…`
    SubscriptionItemId, "si_", "SubscriptionItem");
stripe_id!(/// `in_…`
    InvoiceId, "in_", "Invoice");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_with_their_prefix() {
        assert!(ConfirmationTokenId::parse("ctoken_1Pgc73B7WZ01zgkW").is_ok());
        assert!(ConfirmationTokenId::parse("pm_1Pgc73B7WZ01zgkW").is_err());
        assert!(ConfirmationTokenId::parse("ctoken_").is_err());
        assert!(ConfirmationTokenId::parse("ctoken_abc/../x").is_err());
        assert!(PaymentIntentId::parse(&format!("pi_{}", "a".repeat(300))).is_err());
    }

    #[test]
    fn ids_deserialize_through_parse() {
        assert!(serde_json::from_str::<CustomerId>(r#""cus_123""#).is_ok());
        assert!(serde_json::from_str::<CustomerId>(r#""pi_123""#).is_err());
    }
}
