//! Offline Stripe stand-in (see issue 3); empty until then.
