"""Stripe's official Python SDK, pointed at the emulator, runs the server side of the
deferred-intent flow: a second official client, with its own error classes, retry
logic and webhook verification, beside the Node SDK of the other suites.

Run by `make conformance` (with the SDK pinned in requirements.txt):
    python -m unittest discover -s stripe-emulator/conformance/python
"""

import http.server
import json
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.request

import stripe

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ.get("STRIPE_EMULATOR_BIN", os.path.join(HERE, "..", "..", "..", "target", "debug", "stripe-emulator"))
RETURN_URL = "https://shop.example/checkout/complete"


def start_emulator():
    """The emulator binary on a free port: (process, base URL)."""
    process = subprocess.Popen(
        [BINARY, "--addr", "127.0.0.1:0", "--retry-schedule", "0.05,0.05"], stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen += line
        match = re.search(r"Stripe emulator on (http://127\.0\.0\.1:\d+)", line)
        if match:
            # Keep reading its output, so that it never blocks on a full pipe.
            process.drain = threading.Thread(target=process.stdout.read, daemon=True)
            process.drain.start()
            return process, match.group(1)
        if process.poll() is not None:
            break
    process.kill()
    process.wait()
    process.stdout.close()
    raise RuntimeError(f"the emulator did not start: {seen}")


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook endpoint that records raw bodies and signature headers."""

    def __init__(self):
        self.received = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.arrived:
                    receiver.received.append((body, self.headers.get("Stripe-Signature", "")))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/webhook"

    def delivery_about(self, needle, timeout=10):
        """The first delivery whose body mentions `needle`, waiting for it."""
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: next((d for d in self.received if needle in d[0]), None), timeout=timeout
            )
        if found is None:
            raise AssertionError(f"no webhook about {needle} within {timeout} s")
        return found


class PythonSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, cls.base = start_emulator()
        cls.stripe = stripe.StripeClient(
            "sk_test_python_conformance", base_addresses={"api": cls.base}, max_network_retries=2
        )

    @classmethod
    def tearDownClass(cls):
        cls.process.kill()
        cls.process.wait()
        cls.process.drain.join()
        cls.process.stdout.close()

    def control(self, path, body):
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def token(self, payment_method):
        return self.stripe.v1.test_helpers.confirmation_tokens.create(
            params={"payment_method": payment_method, "return_url": RETURN_URL}
        ).id

    def subscribe(self, name, unit_amount, **extra):
        """A new customer subscribed monthly to a new product `name`, created
        default_incomplete with the method saved on the subscription, and `extra`."""
        customer = self.stripe.v1.customers.create(params={"email": "subscriber@example.com"})
        product = self.stripe.v1.products.create(params={"name": name})
        price = {"currency": "eur", "unit_amount": unit_amount, "product": product.id, "recurring": {"interval": "month"}}
        params = {
            "customer": customer.id,
            "items": [{"price_data": price}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            **extra,
        }
        return self.stripe.v1.subscriptions.create(params=params)

    def pay(self, payment_method, amount=2599, **extra):
        params = {
            "amount": amount,
            "currency": "eur",
            "confirm": True,
            "confirmation_token": self.token(payment_method),
            "automatic_payment_methods": {"enabled": True},
            "return_url": RETURN_URL,
            **extra,
        }
        return self.stripe.v1.payment_intents.create(params=params)

    def test_create_and_confirm_in_one_request_and_an_idempotent_replay(self):
        token = self.token("pm_card_visa")
        params = {
            "amount": 2599,
            "currency": "eur",
            "confirm": True,
            "confirmation_token": token,
            "automatic_payment_methods": {"enabled": True},
            "return_url": RETURN_URL,
            "metadata": {"order_id": "ord_1"},
            "expand": ["payment_method"],
        }
        key = f"order-{token}-attempt-1"
        intent = self.stripe.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        self.assertEqual(intent.status, "succeeded")
        self.assertEqual(intent.amount_received, 2599)
        self.assertEqual(intent.metadata["order_id"], "ord_1")
        self.assertIsInstance(intent.payment_method, stripe.PaymentMethod)
        self.assertEqual(intent.payment_method.card.last4, "4242")

        again = self.stripe.v1.payment_intents.create(params=params, options={"idempotency_key": key})
        self.assertEqual(again.id, intent.id)
        self.assertEqual(again.last_response.headers.get("Idempotent-Replayed"), "true")
        # The same key with other parameters is refused, not replayed.
        with self.assertRaises(stripe.IdempotencyError):
            self.stripe.v1.payment_intents.create(
                params={**params, "amount": 2600}, options={"idempotency_key": key}
            )
        # A ConfirmationToken is used once.
        with self.assertRaises(stripe.InvalidRequestError) as reused:
            self.stripe.v1.payment_intents.create(params=params)
        self.assertEqual(reused.exception.code, "token_already_used")

    def test_a_decline_is_a_card_error_with_its_decline_code_and_intent(self):
        with self.assertRaises(stripe.CardError) as declined:
            self.pay("pm_card_visa_chargeDeclinedInsufficientFunds", amount=1000)
        error = declined.exception
        self.assertEqual(error.http_status, 402)
        self.assertEqual(error.code, "card_declined")
        self.assertEqual(error.error.decline_code, "insufficient_funds")
        self.assertEqual(error.error.payment_intent.status, "requires_payment_method")
        self.assertRegex(error.request_id, r"^req_")

    def test_three_d_secure_needs_action_then_succeeds(self):
        intent = self.pay("pm_card_threeDSecure2Required", amount=1000)
        self.assertEqual(intent.status, "requires_action")
        self.assertEqual(intent.next_action.type, "use_stripe_sdk")
        self.control(f"/_emulator/3ds/{intent.id}", {"client_secret": intent.client_secret, "result": "complete"})
        self.assertEqual(self.stripe.v1.payment_intents.retrieve(intent.id).status, "succeeded")

    def test_invalid_requests_name_the_parameter(self):
        with self.assertRaises(stripe.InvalidRequestError) as small:
            self.stripe.v1.payment_intents.create(params={"amount": 10, "currency": "eur"})
        self.assertEqual(small.exception.param, "amount")
        # Confirming with redirect methods allowed needs a return_url: on the request, or
        # on the ConfirmationToken (as Stripe.js sets it). This token has none.
        bare = self.stripe.v1.test_helpers.confirmation_tokens.create(params={"payment_method": "pm_card_visa"})
        with self.assertRaises(stripe.InvalidRequestError):
            self.stripe.v1.payment_intents.create(
                params={"amount": 1000, "currency": "eur", "confirm": True, "confirmation_token": bare.id}
            )
        with self.assertRaises(stripe.InvalidRequestError) as missing:
            self.stripe.v1.payment_intents.retrieve("pi_does_not_exist")
        self.assertEqual((missing.exception.http_status, missing.exception.code), (404, "resource_missing"))

    def test_the_sdk_retries_a_503_and_a_dropped_connection_under_one_key(self):
        self.control("/_emulator/faults", {"path": "/v1/customers", "method": "POST", "status": 503, "should_retry": True, "count": 1})
        self.control("/_emulator/faults", {"path": "/v1/customers", "method": "POST", "drop": True, "phase": "after", "count": 1})
        before = len(self.stripe.v1.customers.list(params={"limit": 100}).data)
        customer = self.stripe.v1.customers.create(params={"email": "retry@example.com"})
        self.assertEqual(customer.email, "retry@example.com")
        self.assertEqual(len(self.stripe.v1.customers.list(params={"limit": 100}).data), before + 1)

    def test_webhooks_are_signed_so_that_construct_event_accepts_them(self):
        receiver = Receiver()
        secret = "whsec_python_conformance"
        self.control("/_emulator/webhook_endpoints", {"url": receiver.url, "secret": secret})
        try:
            intent = self.pay("pm_card_visa", metadata={"order_id": "ord_hooks"})
            body, signature = receiver.delivery_about('"payment_intent.succeeded"')
            event = stripe.Webhook.construct_event(body, signature, secret)
            self.assertEqual(event.type, "payment_intent.succeeded")
            self.assertEqual(event.data.object.id, intent.id)
            self.assertEqual(event.data.object.metadata["order_id"], "ord_hooks")
            with self.assertRaises(stripe.SignatureVerificationError):
                stripe.Webhook.construct_event(body, signature, "whsec_wrong")
            self.assertEqual(self.stripe.v1.events.retrieve(event.id).type, "payment_intent.succeeded")
        finally:
            receiver.shutdown()
            receiver.server_close()

    def test_refunds_part_then_the_rest_and_an_over_refund_refused(self):
        intent = self.pay("pm_card_visa", amount=3000)
        key = f"refund-{intent.id}-1"
        part = self.stripe.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000}, options={"idempotency_key": key})
        again = self.stripe.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000}, options={"idempotency_key": key})
        self.assertEqual(again.id, part.id)
        with self.assertRaises(stripe.InvalidRequestError) as over:
            self.stripe.v1.refunds.create(params={"payment_intent": intent.id, "amount": 2001})
        self.assertEqual(over.exception.param, "amount")
        self.stripe.v1.refunds.create(params={"payment_intent": intent.id})
        charge = self.stripe.v1.charges.retrieve(intent.latest_charge)
        self.assertEqual((charge.amount_refunded, charge.refunded), (3000, True))

    def test_a_dispute_answered_with_evidence_is_won_and_another_closed_is_lost(self):
        disputes = self.stripe.v1.disputes
        won = disputes.list(params={"payment_intent": self.pay("pm_card_createDispute").id}).data[0]
        self.assertEqual(won.status, "needs_response")
        staged = disputes.update(won.id, params={"evidence": {"product_description": "A mug"}, "submit": False})
        self.assertEqual((staged.status, staged.evidence.product_description), ("needs_response", "A mug"))
        answered = disputes.update(won.id, params={"evidence": {"uncategorized_text": "winning_evidence"}})
        self.assertEqual((answered.status, answered.evidence_details.submission_count), ("won", 1))
        with self.assertRaises(stripe.InvalidRequestError) as late:
            disputes.update(won.id, params={"evidence": {"uncategorized_text": "more"}})
        self.assertEqual(late.exception.param, "evidence")
        lost = disputes.list(params={"payment_intent": self.pay("pm_card_createDispute").id}).data[0]
        self.assertEqual(disputes.close(lost.id).status, "lost")

    def test_saved_cards_and_a_setup_intent_from_a_token(self):
        customer = self.stripe.v1.customers.create(params={"email": "saver@example.com"})
        session = self.stripe.v1.customer_sessions.create(
            params={
                "customer": customer.id,
                "components": {"payment_element": {"enabled": True, "features": {"payment_method_redisplay": "enabled"}}},
            }
        )
        self.assertTrue(session.client_secret.startswith("cuss_secret_"))
        setup = self.stripe.v1.setup_intents.create(
            params={
                "customer": customer.id,
                "confirm": True,
                "confirmation_token": self.token("pm_card_visa"),
                "automatic_payment_methods": {"enabled": True},
                "return_url": RETURN_URL,
            }
        )
        self.assertEqual(setup.status, "succeeded")
        saved = self.stripe.v1.customers.payment_methods.list(customer.id)
        self.assertEqual([m.id for m in saved.data], [setup.payment_method])
        self.assertIsNone(self.stripe.v1.payment_methods.detach(setup.payment_method).customer)

    def test_a_subscription_whose_first_invoice_is_paid_from_a_token(self):
        subscription = self.subscribe("Coffee beans, monthly", 1200, expand=["latest_invoice.payments"])
        self.assertEqual(subscription.status, "incomplete")
        invoice = subscription.latest_invoice
        self.assertIsInstance(invoice, stripe.Invoice)
        payment = invoice.payments.data[0].payment
        self.assertEqual(payment.type, "payment_intent")
        self.assertTrue(invoice.confirmation_secret.client_secret.startswith(f"{payment.payment_intent}_secret_"))
        confirmed = self.stripe.v1.payment_intents.confirm(
            payment.payment_intent, params={"confirmation_token": self.token("pm_card_visa"), "return_url": RETURN_URL}
        )
        self.assertEqual(confirmed.status, "succeeded")
        active = self.stripe.v1.subscriptions.retrieve(subscription.id)
        self.assertEqual((active.status, active.default_payment_method), ("active", confirmed.payment_method))

    def test_a_free_trial_sets_the_card_up_and_charges_when_it_ends(self):
        subscription = self.subscribe("Tea of the month", 950, trial_period_days=1, expand=["latest_invoice", "pending_setup_intent"])
        self.assertEqual(subscription.status, "trialing")
        self.assertEqual(subscription.trial_end - subscription.trial_start, 86_400)
        self.assertEqual((subscription.latest_invoice.status, subscription.latest_invoice.amount_paid), ("paid", 0))
        setup = subscription.pending_setup_intent
        self.assertIsInstance(setup, stripe.SetupIntent)
        set_up = self.stripe.v1.setup_intents.confirm(setup.id, params={"confirmation_token": self.token("pm_card_visa")})
        self.assertEqual(set_up.status, "succeeded")
        self.stripe.v1.subscriptions.update(subscription.id, params={"default_payment_method": set_up.payment_method})
        # A trial shorter than three days is told at once.
        told = self.stripe.v1.events.list(params={"type": "customer.subscription.trial_will_end"})
        self.assertIn(subscription.id, [event.data.object.id for event in told.data])

        self.control("/_emulator/clock", {"advance_seconds": 86_400})
        active = self.stripe.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
        self.assertEqual(active.status, "active")
        self.assertEqual((active.latest_invoice.billing_reason, active.latest_invoice.amount_paid), ("subscription_cycle", 950))

    def test_a_trial_ended_now_charges_its_first_period_at_once(self):
        subscription = self.subscribe("Tea of the month", 950, trial_period_days=14, expand=["pending_setup_intent"])
        set_up = self.stripe.v1.setup_intents.confirm(subscription.pending_setup_intent.id, params={"confirmation_token": self.token("pm_card_visa")})
        self.stripe.v1.subscriptions.update(subscription.id, params={"default_payment_method": set_up.payment_method})
        ended = self.stripe.v1.subscriptions.update(subscription.id, params={"trial_end": "now", "expand": ["latest_invoice"]})
        self.assertEqual(ended.status, "active")
        self.assertEqual(ended.billing_cycle_anchor, ended.trial_end)
        self.assertEqual((ended.latest_invoice.billing_reason, ended.latest_invoice.amount_paid), ("subscription_update", 950))
        told = self.stripe.v1.events.list(params={"type": "customer.subscription.trial_will_end"})
        self.assertIn(subscription.id, [event.data.object.id for event in told.data])

    def test_an_invoice_left_unpaid_is_retried_for_two_weeks_then_ends_its_subscription(self):
        subscription = self.subscribe("Tea of the month", 950, trial_period_days=14)
        # The trial ended now, with no card to charge: the invoice waits, its retry scheduled.
        ended = self.stripe.v1.subscriptions.update(subscription.id, params={"trial_end": "now", "expand": ["latest_invoice"]})
        invoice = ended.latest_invoice
        self.assertEqual((ended.status, invoice.status, invoice.attempt_count), ("past_due", "open", 1))
        self.assertEqual(invoice.next_payment_attempt, invoice.status_transitions.finalized_at + 14 * 86_400 // 8)

        self.control("/_emulator/clock", {"advance_seconds": 15 * 86_400})
        canceled = self.stripe.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
        self.assertEqual((canceled.status, canceled.cancellation_details.reason), ("canceled", "payment_failed"))
        invoice = canceled.latest_invoice
        self.assertEqual((invoice.status, invoice.attempt_count, invoice.next_payment_attempt), ("open", 9, None))
        told = self.stripe.v1.events.list(params={"type": "customer.subscription.deleted"})
        self.assertIn(subscription.id, [event.data.object.id for event in told.data])

    def test_marked_unpaid_a_subscription_bills_drafts_until_its_latest_invoice_is_finalized_and_paid(self):
        self.control("/_emulator/billing_settings", {"retries_spent": "unpaid"})
        self.addCleanup(self.control, "/_emulator/billing_settings", {"retries_spent": "cancel"})
        subscription = self.subscribe("Cocoa of the month", 1250, trial_period_days=14)
        self.stripe.v1.subscriptions.update(subscription.id, params={"trial_end": "now"})
        self.control("/_emulator/clock", {"advance_seconds": 15 * 86_400})
        unpaid = self.stripe.v1.subscriptions.retrieve(subscription.id)
        self.assertEqual(unpaid.status, "unpaid")

        self.control("/_emulator/clock", {"advance_seconds": 17 * 86_400})
        renewed = self.stripe.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
        draft = renewed.latest_invoice
        self.assertEqual((renewed.status, draft.status, draft.auto_advance), ("unpaid", "draft", False))
        finalized = self.stripe.v1.invoices.finalize_invoice(draft.id, params={"auto_advance": False})
        self.assertEqual((finalized.status, finalized.amount_due, finalized.auto_advance), ("open", 1250, False))
        with self.assertRaises(stripe.InvalidRequestError):
            self.stripe.v1.invoices.finalize_invoice(draft.id)

        card = self.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": subscription.customer})
        paid = self.stripe.v1.invoices.pay(draft.id, params={"payment_method": card.id})
        self.assertEqual((paid.status, paid.amount_paid), ("paid", 1250))
        self.assertEqual(self.stripe.v1.subscriptions.retrieve(subscription.id).status, "active")

    def test_an_invoice_marked_uncollectible_once_its_retries_are_spent_can_still_be_paid(self):
        self.control("/_emulator/billing_settings", {"retries_spent": "unpaid", "mark_invoice_uncollectible": True})
        self.addCleanup(self.control, "/_emulator/billing_settings", {"retries_spent": "cancel"})
        subscription = self.subscribe("Tea of the month", 900, trial_period_days=14)
        self.stripe.v1.subscriptions.update(subscription.id, params={"trial_end": "now"})
        self.control("/_emulator/clock", {"advance_seconds": 15 * 86_400})
        unpaid = self.stripe.v1.subscriptions.retrieve(subscription.id, params={"expand": ["latest_invoice"]})
        invoice = unpaid.latest_invoice
        self.assertEqual((unpaid.status, invoice.status, invoice.next_payment_attempt), ("unpaid", "uncollectible", None))
        self.assertIsInstance(invoice.status_transitions.marked_uncollectible_at, int)
        self.assertEqual(invoice.status_details.uncollectible.reason, "max_payment_attempts")
        told = self.stripe.v1.events.list(params={"type": "invoice.marked_uncollectible"})
        self.assertIn(invoice.id, [event.data.object.id for event in told.data])

        card = self.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": subscription.customer})
        paid = self.stripe.v1.invoices.pay(invoice.id, params={"payment_method": card.id})
        self.assertEqual((paid.status, paid.amount_paid), ("paid", 900))
        self.assertEqual(self.stripe.v1.subscriptions.retrieve(subscription.id).status, "active")

    def test_a_trial_paused_for_want_of_a_card_is_resumed_on_the_payments_attempt_and_active_once_paid(self):
        subscription = self.subscribe(
            "Tea of the month", 950, trial_period_days=14, trial_settings={"end_behavior": {"missing_payment_method": "pause"}}
        )
        paused = self.stripe.v1.subscriptions.update(subscription.id, params={"trial_end": "now"})
        self.assertEqual((paused.status, paused.status_details.paused.subscription.type), ("paused", "trial_end_without_payment_method"))
        told = self.stripe.v1.events.list(params={"type": "customer.subscription.paused"})
        self.assertIn(subscription.id, [event.data.object.id for event in told.data])
        self.control("/_emulator/clock", {"advance_seconds": 40 * 86_400})
        invoices = self.stripe.v1.invoices.list(params={"subscription": subscription.id})
        self.assertEqual([invoice.billing_reason for invoice in invoices.data], ["subscription_create"], "nothing invoiced while paused")

        # Resumed on the payment's attempt (the default): nothing is charged in the request,
        # and the subscription stays paused until its resumption invoice is paid.
        resumed = self.stripe.v1.subscriptions.resume(
            subscription.id, params={"billing_cycle_anchor": {"type": "now"}, "expand": ["latest_invoice"]}
        )
        invoice = resumed.latest_invoice
        self.assertEqual((resumed.status, invoice.billing_reason, invoice.status), ("paused", "subscription_update", "open"))
        self.assertEqual((invoice.amount_due, invoice.amount_paid, invoice.auto_advance), (950, 0, False))

        card = self.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": subscription.customer})
        paid = self.stripe.v1.invoices.pay(invoice.id, params={"payment_method": card.id})
        self.assertEqual((paid.status, paid.amount_paid), ("paid", 950))
        active = self.stripe.v1.subscriptions.retrieve(subscription.id)
        self.assertEqual(active.status, "active")
        self.assertNotIn("status_details", active, "said only while paused (optional in the SDK's types)")
        told = self.stripe.v1.events.list(params={"type": "customer.subscription.resumed"})
        self.assertIn(subscription.id, [event.data.object.id for event in told.data])


if __name__ == "__main__":
    unittest.main()
