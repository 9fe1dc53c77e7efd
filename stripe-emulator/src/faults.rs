//! Fault injection: rules that make chosen API routes fail, drop the connection or
//! answer slowly, a given number of times, before or after the request is processed
//! ("after" means Stripe did the work but the reply was lost).

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// What a rule does to a matching request.
/// In JSON: `{"status": 503, "should_retry": true}`, `{"drop": true}` or
/// `{"delay_ms": 2000}`, beside the rule's other fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Action {
    /// Reply with this status and Stripe's error body for it; `should_retry` sets the
    /// `Stripe-Should-Retry` header.
    Status {
        status: u16,
        #[serde(default)]
        should_retry: Option<bool>,
    },
    /// Close the connection without a complete reply.
    Drop { drop: bool },
    /// Wait this long, then behave normally.
    Delay { delay_ms: u64 },
}

/// When a rule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Before,
    After,
}

/// A rule as the control API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default)]
    pub id: String,
    /// `GET`, `POST`, …; any method when absent.
    pub method: Option<String>,
    /// The rule matches paths starting with this (e.g. `/v1/payment_intents`).
    pub path: String,
    #[serde(flatten)]
    pub action: Action,
    #[serde(default)]
    pub phase: Phase,
    /// How many more requests it applies to.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
}

impl Faults {
    pub fn add(&self, mut rule: Rule) -> Rule {
        rule.id = crate::state::new_id("fault");
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).push(rule.clone());
        rule
    }

    pub fn list(&self) -> Vec<Rule> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The first live rule for this request and phase, counted as used.
    pub fn take(&self, method: &str, path: &str, phase: Phase) -> Option<Action> {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let index = rules.iter().position(|rule| {
            rule.phase == phase
                && rule.count > 0
                && path.starts_with(&rule.path)
                && rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        rules[index].count -= 1;
        let action = rules[index].action.clone();
        if rules[index].count == 0 {
            rules.remove(index);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_applies_as_many_times_as_its_count() {
        let faults = Faults::default();
        faults.add(Rule {
            id: String::new(),
            method: Some("POST".into()),
            path: "/v1/payment_intents".into(),
            action: Action::Status { status: 500, should_retry: None },
            phase: Phase::Before,
            count: 2,
        });
        assert!(faults.take("GET", "/v1/payment_intents", Phase::Before).is_none());
        assert!(faults.take("POST", "/v1/payment_intents/pi_1/confirm", Phase::After).is_none());
        assert!(faults.take("POST", "/v1/payment_intents", Phase::Before).is_some());
        assert!(faults.take("post", "/v1/payment_intents/pi_1", Phase::Before).is_some());
        assert!(faults.take("POST", "/v1/payment_intents", Phase::Before).is_none());
    }

    #[test]
    fn rules_read_from_json_as_the_control_api_takes_them() {
        let rule: Rule = serde_json::from_str(r#"{"path":"/v1/","status":503,"should_retry":true,"count":3}"#).unwrap();
        assert_eq!(rule.action, Action::Status { status: 503, should_retry: Some(true) });
        let rule: Rule = serde_json::from_str(r#"{"path":"/v1/","drop":true,"phase":"after"}"#).unwrap();
        assert_eq!((rule.action, rule.phase, rule.count), (Action::Drop { drop: true }, Phase::After, 1));
        let rule: Rule = serde_json::from_str(r#"{"path":"/v1/","delay_ms":1500}"#).unwrap();
        assert_eq!(rule.action, Action::Delay { delay_ms: 1500 });
    }
}
