//! The engine both HTTP faces call: a piece of work runs on the account under its lock,
//! then the events it emitted are delivered and what it left `processing` is settled
//! later, whoever asked (`/v1` with a key, or the control API standing in for the bank
//! or for time passing).

use crate::api::{self, Caller, Ctx};
use crate::config::Config;
use crate::state::{Account, RequestInfo};
use crate::webhooks::Webhooks;
use crate::{faults, idempotency, requests};
use std::sync::{Arc, Mutex};

/// Everything the handlers share.
pub(crate) struct Shared {
    pub account: Arc<Mutex<Account>>,
    pub idempotency: idempotency::Store,
    pub requests: requests::RequestLog,
    pub faults: faults::Faults,
    pub webhooks: Arc<Webhooks>,
    pub config: Config,
    pub base_url: String,
}

impl Shared {
    pub fn new(config: Config, base_url: String) -> Shared {
        let account = Arc::new(Mutex::new(Account::default()));
        let webhooks = Arc::new(Webhooks::new(
            Arc::clone(&account),
            config.webhooks.clone(),
            config.delivery,
            config.retry_schedule.clone(),
            config.attempt_timeout,
        ));
        Shared {
            account,
            idempotency: idempotency::Store::default(),
            requests: requests::RequestLog::default(),
            faults: faults::Faults::default(),
            webhooks,
            config,
            base_url,
        }
    }

    /// Runs `work` on the account as `caller`, in `request`; then delivers the events
    /// it emitted and schedules the settling of what it left processing.
    pub fn run<T>(self: &Arc<Self>, caller: Caller, request: RequestInfo, work: impl FnOnce(&mut Ctx<'_>) -> T) -> T {
        let (result, emitted, to_settle) = {
            let mut account = self.account.lock().unwrap_or_else(|e| e.into_inner());
            let mut ctx = Ctx {
                account: &mut account,
                webhooks: &self.webhooks,
                caller,
                request,
                base_url: &self.base_url,
                emitted: Vec::new(),
                to_settle: Vec::new(),
                reading: false,
            };
            let result = work(&mut ctx);
            (result, ctx.emitted, ctx.to_settle)
        };
        self.webhooks.deliver(emitted, None);
        for intent in to_settle {
            let shared = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(shared.config.processing_delay).await;
                shared.settle(&intent);
            });
        }
        result
    }

    /// Runs `work` as the platform itself would (secret key, no API request).
    pub fn run_as_platform<T>(self: &Arc<Self>, work: impl FnOnce(&mut Ctx<'_>) -> T) -> T {
        self.run(Caller::Secret, RequestInfo::default(), work)
    }

    /// A delayed payment (or refund, `re_…`) clears.
    pub fn settle(self: &Arc<Self>, id: &str) {
        let settled = self.run_as_platform(|ctx| match id.starts_with("re_") {
            true => api::settle_refund(ctx, id),
            false => api::settle_processing(ctx, id, api::Settlement::AsTheAccountSays),
        });
        if let Err(error) = settled {
            tracing::warn!(id, message = %error.message, "settling a processing payment or refund failed");
        }
    }

    /// Forgets everything: objects, events, idempotency keys, the request log, faults
    /// and deliveries.
    pub fn reset(&self) {
        *self.account.lock().unwrap_or_else(|e| e.into_inner()) = Account::default();
        self.idempotency.clear();
        self.requests.clear();
        self.faults.clear();
        self.webhooks.clear();
    }
}
