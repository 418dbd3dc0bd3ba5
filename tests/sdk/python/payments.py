"""Drive caja's classic Payments API with the unmodified official Mercado Pago Python SDK (mercadopago==3.6.0).

Covers payment() (create, get, search, search_auto_paging_iter, update, capture), refund() (create, get,
list_all), payment_methods().list_all() and user().get(). Only the SDK's base URL is changed, exactly as in
run.py, whose checking helpers this script reuses. The first failed check exits non-zero.

    CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-... CAJA_OTHER_TOKEN=TEST-... python payments.py
"""
import base64
import json
import re
import secrets
import sys
import time
import urllib.request
from datetime import datetime
from importlib.metadata import version

import mercadopago
from mercadopago.config import RequestOptions

# Importing run.py sets the base URL (Config._Config__api_base_url = CAJA_URL) and checks the environment;
# no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
import run  # noqa: E402
from run import CAJA_URL, OTHER_TOKEN, TOKEN, classic_error, expect_fields, ok, step  # noqa: E402

RUN = secrets.token_hex(4)
REF = f"sdk-python-pay-{RUN}"
PAYER = {"email": f"sdk-python-{RUN}@testuser.com"}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}")

sdk = mercadopago.SDK(TOKEN)
other_sdk = mercadopago.SDK(OTHER_TOKEN)
payments = sdk.payment()
refunds = sdk.refund()

# ---------------------------------------------------------------------------------------------
# Fixtures and small checks


def new_card_token(holder="APRO"):
    return ok(sdk.card_token().create({
        "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030, "security_code": "123",
        "cardholder": {"name": holder, "identification": {"type": "CPF", "number": "12345678909"}},
    }), 201)["id"]


def card_payment(amount, holder="APRO", ref=REF, **extra):
    """No payment_method_id: caja takes the card's brand (master)."""
    return payments.create({"transaction_amount": amount, "installments": 1, "token": new_card_token(holder),
                            "payer": PAYER, "external_reference": ref, **extra})


def pending_payment(method, amount=100, ref=REF):
    return payments.create({"transaction_amount": amount, "installments": 1, "payment_method_id": method,
                            "payer": PAYER, "external_reference": ref})


def expect_id(value, what):
    assert type(value) is int and value > 0, f"{what} should be a positive integer, got {value!r}"
    return value


def expect_cause(result, status, error, code):
    """A classic error ({"message", "error", "status", "cause"}) whose cause[0].code is `code`."""
    body = classic_error(result, status, error)
    expect_fields(body, {"cause": [{"code": code}]})
    assert body["message"] == body["cause"][0]["description"], f"message differs from the cause: {body}"
    return body


def simulate(payment_id, status):
    """POST /v1/payments/{id}/events: caja's test-only simulator, which no SDK has."""
    request = urllib.request.Request(
        f"{CAJA_URL}/v1/payments/{payment_id}/events", method="POST", data=json.dumps({"status": status}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, f"events {status}: HTTP {response.status}"
        return json.load(response)


def millis(date):
    return datetime.fromisoformat(date).timestamp() * 1000


# ---------------------------------------------------------------------------------------------
# Steps


def account_and_methods():
    user_id = int(TOKEN.rsplit("-", 1)[1])
    with step("user().get returns the account behind the token"):
        user = ok(sdk.user().get(), 200, {"id": user_id, "site_id": "MLB"})
        for key in ("email", "nickname"):
            assert isinstance(user.get(key), str), f"user.{key}: {user.get(key)!r}"
    with step("payment_methods().list_all returns a bare list with the MLB methods"):
        methods = ok(sdk.payment_methods().list_all(), 200)
        assert isinstance(methods, list), f"expected a list, got {methods!r}"
        types = {m["id"]: m["payment_type_id"] for m in methods}
        expect_fields(types, {"master": "credit_card", "visa": "credit_card", "pix": "bank_transfer",
                              "bolbradesco": "ticket"}, "payment_type_id by id")
        assert all(isinstance(m.get("name"), str) for m in methods), "a method without a name"
    return user_id


def card_payments(user_id):
    with step("payment().create (APRO token, no payment_method_id) is approved/accredited"):
        approved = ok(card_payment(110.5, metadata={"order": RUN, "step": 1}), 201, {
            "status": "approved", "status_detail": "accredited", "captured": True, "transaction_amount": 110.5,
            "transaction_amount_refunded": 0, "installments": 1, "payment_method_id": "master",
            "payment_type_id": "credit_card", "collector_id": user_id, "external_reference": REF, "currency_id": "BRL",
            "live_mode": False, "date_created": DATE, "date_approved": DATE, "date_last_updated": DATE,
            "card": {"first_six_digits": "503143", "last_four_digits": "6351", "cardholder": {"name": "APRO"}},
            "payer": {"email": PAYER["email"]}, "metadata": {"order": RUN, "step": 1}, "refunds": [],
        })
        expect_id(approved["id"], "payment.id")
    with step("payment().get returns the same payment"):
        ok(payments.get(approved["id"]), 200, {
            "id": approved["id"], "status": "approved", "status_detail": "accredited", "transaction_amount": 110.5,
            "date_created": approved["date_created"], "date_approved": approved["date_approved"],
            "card": {"last_four_digits": "6351"},
        })
    with step("a used card token is 400 cause 3003; an unknown one is 400 cause 2006"):
        token = new_card_token()
        body = {"transaction_amount": 5, "installments": 1, "token": token, "payer": PAYER}
        ok(payments.create(body), 201)
        expect_cause(payments.create(body), 400, "bad_request", 3003)
        expect_cause(payments.create({**body, "token": secrets.token_hex(16)}), 400, "bad_request", 2006)
    with step("a repeated x-idempotency-key replays the payment; another body with it is 409"):
        key = RequestOptions(custom_headers={"x-idempotency-key": f"{REF}-idem"})
        body = {"transaction_amount": 7, "installments": 1, "token": new_card_token(), "payer": PAYER}
        first = ok(payments.create(body, request_options=key), 201)
        ok(payments.create(body, request_options=key), 201, {"id": first["id"], "status": "approved",
                                                              "transaction_amount": 7})
        ok(payments.create({**body, "transaction_amount": 8}, request_options=key), 409)
    with step("OTHE and FUND are still 201, rejected with their status_detail"):
        for holder, detail in (("OTHE", "cc_rejected_other_reason"), ("FUND", "cc_rejected_insufficient_amount")):
            ok(card_payment(20, holder, f"{REF}-rejected"), 201, {
                "status": "rejected", "status_detail": detail, "date_approved": None,
                "card": {"cardholder": {"name": holder}},
            })
    with step("CONT is in_process/pending_contingency; update status cancelled makes it cancelled/by_collector"):
        pending = ok(card_payment(30, "CONT", f"{REF}-cont"), 201,
                     {"status": "in_process", "status_detail": "pending_contingency", "date_approved": None})
        ok(payments.update(pending["id"], {"status": "cancelled"}), 200,
           {"id": pending["id"], "status": "cancelled", "status_detail": "by_collector"})
    return approved


def capture_cancel_update(approved):
    with step("capture:false is authorized/pending_capture; payment().capture(id, 40) approves 40"):
        reserved = ok(card_payment(110, capture=False), 201, {
            "status": "authorized", "status_detail": "pending_capture", "captured": False, "transaction_amount": 110,
        })
        captured = ok(payments.capture(reserved["id"], 40), 200, {
            "id": reserved["id"], "status": "approved", "status_detail": "accredited", "captured": True,
            "transaction_amount": 40, "date_approved": DATE,
        })
    with step("payment().capture again is 400 cause 2079"):
        expect_cause(payments.capture(captured["id"]), 400, "bad_request", 2079)
    with step("payment().capture without an amount captures the whole reserve"):
        reserved = ok(card_payment(75.25, capture=False), 201)
        ok(payments.capture(reserved["id"]), 200,
           {"id": reserved["id"], "status": "approved", "captured": True, "transaction_amount": 75.25})
    with step("cancelling an authorized payment is cancelled/by_collector, captured False"):
        reserved = ok(card_payment(15, capture=False), 201)
        ok(payments.update(reserved["id"], {"status": "cancelled"}), 200,
           {"id": reserved["id"], "status": "cancelled", "status_detail": "by_collector", "captured": False})
    with step("cancelling an approved payment is 400 cause 2018"):
        expect_cause(payments.update(approved["id"], {"status": "cancelled"}), 400, "bad_request", 2018)
        ok(payments.get(approved["id"]), 200, {"status": "approved"})
    with step("payment().update replaces the metadata"):
        updated = ok(payments.update(approved["id"], {"metadata": {"note": "updated"}}), 200,
                     {"id": approved["id"], "status": "approved"})
        assert updated["metadata"] == {"note": "updated"}, f"metadata was not replaced: {updated['metadata']}"
        ok(payments.get(approved["id"]), 200, {"metadata": {"note": "updated"}})
    return captured


def pix_and_boleto():
    with step("Pix is pending/pending_waiting_transfer with a QR code, a PNG and a 24 h expiry"):
        pix = ok(pending_payment("pix"), 201, {
            "status": "pending", "status_detail": "pending_waiting_transfer", "payment_method_id": "pix",
            "payment_type_id": "bank_transfer", "transaction_amount": 100, "date_approved": None,
            "date_of_expiration": DATE,
            "point_of_interaction": {"type": "PIX", "transaction_data": {
                "qr_code": re.compile(r"000201.*"), "ticket_url": re.compile(r"https?://.+")}},
        })
        png = base64.b64decode(pix["point_of_interaction"]["transaction_data"]["qr_code_base64"], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n", f"qr_code_base64 is not a PNG: {png[:8]!r}"
        ttl = millis(pix["date_of_expiration"]) - millis(pix["date_created"])
        assert abs(ttl - 24 * 3600e3) < 60e3, f"date_of_expiration is {ttl / 3600e3} h after date_created"
    with step("events approved: the Pix is approved/accredited, and payment().get agrees"):
        expect_fields(simulate(pix["id"], "approved"),
                      {"id": pix["id"], "status": "approved", "status_detail": "accredited"})
        ok(payments.get(pix["id"]), 200,
           {"id": pix["id"], "status": "approved", "status_detail": "accredited", "date_approved": DATE})
    with step("events charged_back on the approved Pix is charged_back/settled"):
        expect_fields(simulate(pix["id"], "charged_back"), {"status": "charged_back", "status_detail": "settled"})
        ok(payments.get(pix["id"]), 200, {"status": "charged_back", "status_detail": "settled"})
    with step("a Pix rejected through events is rejected; cancelling a pending Pix is by_collector"):
        rejected = ok(pending_payment("pix", 12, f"{REF}-pix2"), 201)
        expect_fields(simulate(rejected["id"], "rejected"), {"status": "rejected", "date_approved": None})
        pending = ok(pending_payment("pix", 13, f"{REF}-pix2"), 201)
        ok(payments.update(pending["id"], {"status": "cancelled"}), 200,
           {"status": "cancelled", "status_detail": "by_collector"})
    with step("Boleto is pending/pending_waiting_payment with a 44-digit barcode; events expired cancels it"):
        boleto = ok(pending_payment("bolbradesco", 100, f"{REF}-boleto"), 201, {
            "status": "pending", "status_detail": "pending_waiting_payment", "payment_method_id": "bolbradesco",
            "payment_type_id": "ticket", "barcode": {"content": re.compile(r"\d{44}")},
        })
        expect_fields(simulate(boleto["id"], "expired"), {"status": "cancelled", "status_detail": "expired"})
        ok(payments.get(boleto["id"]), 200, {"status": "cancelled", "status_detail": "expired"})
    return pix


def refund_steps(approved, captured):
    pid = approved["id"]
    with step("refund().create(id, {amount: 10}) is a partial refund"):
        partial = ok(refunds.create(pid, {"amount": 10}), 201, {
            "payment_id": pid, "amount": 10, "amount_refunded_to_payer": 10, "status": "approved",
            "date_created": DATE, "source": {"type": "collector"},
        })
        expect_id(partial["id"], "refund.id")
        assert all(isinstance(partial["source"].get(k), str) for k in ("id", "name", "type")), partial["source"]
        ok(payments.get(pid), 200, {"status": "approved", "status_detail": "partially_refunded",
                                    "transaction_amount_refunded": 10, "refunds": [{"id": partial["id"], "amount": 10}]})
    with step("refund().create(id) without a body refunds the rest (refunded/refunded)"):
        rest = ok(refunds.create(pid), 201,
                  {"payment_id": pid, "amount": 100.5, "amount_refunded_to_payer": 100.5, "status": "approved"})
        assert rest["id"] != partial["id"], "the second refund reused the first id"
        ok(payments.get(pid), 200,
           {"status": "refunded", "status_detail": "refunded", "transaction_amount_refunded": 100.5 + 10})
    with step("another refund of a refunded payment is 400 cause 2063"):
        expect_cause(refunds.create(pid), 400, "bad_request", 2063)
    with step("refund().list_all returns both refunds in creation order (GET .../refunds)"):
        ok(refunds.list_all(pid), 200, [{"id": partial["id"], "amount": 10}, {"id": rest["id"], "amount": 100.5}])
    with step("refund().get returns one refund; an unknown refund id is 404 cause 2032"):
        ok(refunds.get(pid, partial["id"]), 200, {"id": partial["id"], "payment_id": pid, "amount": 10,
                                                   "status": "approved", "date_created": partial["date_created"]})
        expect_cause(refunds.get(pid, partial["id"] + 1), 404, "not_found", 2032)
    with step("refund().create(id) of the captured payment refunds its 40"):
        ok(refunds.create(captured["id"]), 201, {"payment_id": captured["id"], "amount": 40, "status": "approved"})
        ok(payments.get(captured["id"]), 200, {"status": "refunded", "transaction_amount_refunded": 40})


def search_steps(approved, pix):
    with step("payment().search by external_reference: paging numbers, default limit 30, newest first"):
        # REF: approved, capture 40, capture whole, cancelled reserve, Pix (the 3003 check has no reference)
        found = ok(payments.search({"external_reference": REF}), 200, {"paging": {"total": 5, "limit": 30, "offset": 0}})
        created = [millis(p["date_created"]) for p in found["results"]]
        assert len(created) == 5 and created == sorted(created, reverse=True), f"not newest first: {created}"
        assert found["results"][-1]["id"] == approved["id"] and found["results"][0]["id"] == pix["id"], \
            f"unexpected order: {[p['id'] for p in found['results']]}"
    with step("payment().search filters: status, payment_method_id, limit/offset"):
        ok(payments.search({"external_reference": REF, "status": "refunded"}), 200,
           {"paging": {"total": 2}, "results": [{"status": "refunded"}, {"status": "refunded"}]})
        ok(payments.search({"external_reference": REF, "payment_method_id": "pix"}), 200,
           {"paging": {"total": 1}, "results": [{"id": pix["id"]}]})
        ok(payments.search({"external_reference": f"{REF}-rejected", "status": "rejected"}), 200,
           {"paging": {"total": 2}})
        ok(payments.search({"external_reference": REF, "limit": 2, "offset": 4}), 200,
           {"paging": {"total": 5, "limit": 2, "offset": 4}, "results": [{"id": approved["id"]}]})
    with step("payment().search with sort, criteria, range, begin_date and end_date"):
        found = ok(payments.search({"sort": "date_created", "criteria": "asc", "range": "date_created",
                                    "begin_date": "NOW-1DAYS", "end_date": "NOW", "external_reference": REF}), 200,
                   {"paging": {"total": 5}})
        assert found["results"][0]["id"] == approved["id"], "criteria=asc should put the oldest first"
        ok(payments.search({"external_reference": REF, "range": "date_created", "begin_date": "NOW-3DAYS",
                            "end_date": "NOW-2DAYS"}), 200, {"paging": {"total": 0}, "results": []})
    with step("payment().search with an unknown parameter is 400 cause 8"):
        expect_cause(payments.search({"colour": "blue"}), 400, "bad_request", 8)
    with step("payment().search_auto_paging_iter pages through every match (limit 2: three pages)"):
        ids = [p["id"] for p in payments.search_auto_paging_iter({"external_reference": REF}, limit=2)]
        assert len(ids) == 5 and len(set(ids)) == 5, f"auto-paging found {ids}"
        assert ids[0] == pix["id"] and ids[-1] == approved["id"], f"auto-paging order: {ids}"


def other_account(approved):
    with step("another account: payment().get and refund().list_all are 404 cause 2000; search is empty"):
        expect_cause(other_sdk.payment().get(approved["id"]), 404, "not_found", 2000)
        expect_cause(other_sdk.refund().list_all(approved["id"]), 404, "not_found", 2000)
        ok(other_sdk.payment().search({"external_reference": REF}), 200, {"paging": {"total": 0}, "results": []})
    with step("an unknown payment id is 404 cause 2000"):
        expect_cause(payments.get(1000), 404, "not_found", 2000)


def main():
    started = time.monotonic()
    print(f"caja SDK payments harness (python, mercadopago {version('mercadopago')}) against {CAJA_URL}, "
          f"run {RUN}", flush=True)
    user_id = account_and_methods()
    approved = card_payments(user_id)
    captured = capture_cancel_update(approved)
    pix = pix_and_boleto()
    refund_steps(approved, captured)
    search_steps(approved, pix)
    other_account(approved)
    print(f"all {run.passed} steps passed in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"assertion failed: {error}", file=sys.stderr)
        sys.exit(1)
