//! Radar's early fraud warnings, as the early-fraud-warning test card makes them
//! (`4000000000005423`, `pm_card_createIssuerFraudRecord`): the charge succeeds, then the
//! issuer reports it as fraud (`radar.early_fraud_warning.created`). A warning is
//! `actionable` until its charge is refunded in full or disputed
//! (`radar.early_fraud_warning.updated`). <https://docs.stripe.com/api/radar/early_fraud_warnings>

use super::Ctx;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

const KIND: &str = "radar.early_fraud_warning";

/// The issuer reports the paid `charge` as fraud.
pub fn warn(ctx: &mut Ctx<'_>, charge: &Value) {
    let warning = json!({
        "id": new_id("issfr"),
        "object": KIND,
        "actionable": true,
        "charge": charge["id"],
        "created": ctx.now(),
        "fraud_type": "made_with_stolen_card",
        "livemode": false,
        "payment_intent": charge["payment_intent"],
    });
    ctx.account.put(warning.clone());
    ctx.emit("radar.early_fraud_warning.created", &warning, None);
}

/// The charge was refunded in full or disputed: its warnings need nothing more.
pub fn settled(ctx: &mut Ctx<'_>, charge_id: &str) {
    let open: Vec<Value> =
        ctx.account.list(KIND, |warning| warning["charge"] == charge_id && warning["actionable"] == true).into_iter().cloned().collect();
    for mut warning in open {
        warning["actionable"] = json!(false);
        ctx.account.put(warning.clone());
        ctx.emit("radar.early_fraud_warning.updated", &warning, Some(json!({ "actionable": true })));
    }
}

pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    super::filtered_list(ctx, KIND, "/v1/radar/early_fraud_warnings", &[("charge", "charge"), ("payment_intent", "payment_intent")], params)
}
