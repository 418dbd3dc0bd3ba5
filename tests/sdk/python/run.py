"""Drive a live caja with the unmodified official Mercado Pago Python SDK (mercadopago==3.6.0).

Only the SDK's base URL is changed. Every step checks what the SDK hands back
({"status": int, "response": body}); the first failed check exits non-zero.

    CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-... CAJA_OTHER_TOKEN=TEST-... python run.py
"""
import json
import os
import re
import secrets
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from importlib.metadata import version

import mercadopago
from mercadopago.config import RequestOptions
from mercadopago.config.config import Config


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"missing environment variable {name}")
    return value


CAJA_URL = env("CAJA_URL").rstrip("/")
TOKEN = env("CAJA_TOKEN")
OTHER_TOKEN = env("CAJA_OTHER_TOKEN")
if OTHER_TOKEN == TOKEN:
    sys.exit("CAJA_OTHER_TOKEN must belong to another account than CAJA_TOKEN")
# The one change: the SDK's hard-coded https://api.mercadopago.com (a name-mangled class attribute).
Config._Config__api_base_url = CAJA_URL

RUN = secrets.token_hex(4)
ULID = "[0-9A-HJKMNP-TV-Z]{26}"
ORDER_ID = re.compile(f"ORD{ULID}")
PAYMENT_ID = re.compile(f"PAY{ULID}")
REFUND_ID = re.compile(f"REF{ULID}")
HEX32 = re.compile("[0-9a-f]{32}")
PAYER = {"email": f"sdk-python-{RUN}@testuser.com"}

sdk = mercadopago.SDK(TOKEN)
other_sdk = mercadopago.SDK(OTHER_TOKEN)
orders = sdk.order()

# ---------------------------------------------------------------------------------------------
# Checking helpers


def _match(actual, expected, path):
    if isinstance(expected, re.Pattern):
        assert isinstance(actual, str) and expected.fullmatch(actual), \
            f"{path}: expected a string matching {expected.pattern}, got {actual!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: expected {len(expected)} items, got {actual!r}"
        for i, item in enumerate(expected):
            _match(actual[i], item, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            _match(actual.get(key), value, f"{path}.{key}")
    else:
        assert type(actual) is type(expected) and actual == expected, \
            f"{path}: expected {expected!r}, got {actual!r}"


def expect_fields(actual, expected, path="response"):
    """Check that `actual` contains `expected`: recursively, compiled patterns must fullmatch strings."""
    try:
        _match(actual, expected, path)
    except AssertionError as error:
        raise AssertionError(f"{error}\n  in {path} = {json.dumps(actual)}") from None
    return actual


def ok(result, status, expected=None):
    """Check the HTTP status (and optionally fields) of an SDK result; return its body."""
    assert result["status"] == status, \
        f"expected HTTP {status}, got {result['status']}: {json.dumps(result['response'])}"
    if expected is not None:
        expect_fields(result["response"], expected)
    return result["response"]


def orders_error(result, status, code):
    """Check an Orders API error: {"errors": [{"code", "message", "details"?}]}."""
    body = ok(result, status)
    expect_fields(body, {"errors": [{"code": code}]})
    assert body["errors"][0].get("message"), f"error without a message: {body}"
    return body


def classic_error(result, status, error):
    """Check a classic API error: {"message", "error", "status", "cause": [...]}."""
    body = ok(result, status, {"error": error, "status": status})
    assert body.get("message") and isinstance(body.get("cause"), list), f"not a classic error body: {body}"
    return body


passed = 0


@contextmanager
def step(name):
    global passed
    try:
        yield
    except Exception:
        print(f"FAIL: {name}", file=sys.stderr)
        raise
    passed += 1
    print(f"ok {passed} - {name}", flush=True)


# ---------------------------------------------------------------------------------------------
# Fixtures


def create_card_token(holder="APRO"):
    return sdk.card_token().create({
        "card_number": "5031433215406351", "expiration_year": 2030, "expiration_month": 11,
        "security_code": "123",
        "cardholder": {"name": holder, "identification": {"type": "CPF", "number": "12345678909"}},
    })


def new_card_token(holder="APRO"):
    return ok(create_card_token(holder), 201)["id"]


def card_payment(amount, holder="APRO"):
    return {"amount": amount, "payment_method": {
        "id": "master", "type": "credit_card", "token": new_card_token(holder), "installments": 1}}


def online_order(reference, holder="APRO", amount="100.00", **extra):
    return {"type": "online", "external_reference": reference, "total_amount": amount, "payer": PAYER,
            "transactions": {"payments": [card_payment(amount, holder)]}, **extra}


def search_window():
    now = datetime.now(timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    hour = timedelta(hours=1)
    return {"begin_date": (now - hour).strftime(fmt), "end_date": (now + hour).strftime(fmt)}


def random_ulid():
    return "01" + "".join(secrets.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(24))


# ---------------------------------------------------------------------------------------------
# Card tokens, customers and their cards


def card_tokens_and_customers():
    email = f"sdk-python-{RUN}@example.com"
    customers, cards = sdk.customer(), sdk.card()

    with step("card_token().create returns an active token"):
        token = ok(create_card_token(), 201, {
            "id": HEX32, "first_six_digits": "503143", "last_four_digits": "6351", "expiration_month": 11,
            "expiration_year": 2030, "status": "active",
            "cardholder": {"name": "APRO", "identification": {"type": "CPF", "number": "12345678909"}},
        })
        token_id = token["id"]
    with step("card_token().get returns the token"):
        ok(sdk.card_token().get(token_id), 200, {"id": token_id, "status": "active", "last_four_digits": "6351"})
    with step("customer().create"):
        customer = ok(customers.create({
            "email": email, "first_name": "Ana", "last_name": "Lima",
            "identification": {"type": "CPF", "number": "12345678909"},
        }), 201, {"email": email, "first_name": "Ana", "last_name": "Lima", "cards": []})
        customer_id = customer["id"]
        assert isinstance(customer_id, str) and customer_id, f"customer id: {customer_id!r}"
    with step("customer().create with a taken email is a 400 with cause 101"):
        body = classic_error(customers.create({"email": email}), 400, "bad_request")
        expect_fields(body["cause"][0], {"code": "101"}, "cause[0]")
    with step("customer().get"):
        ok(customers.get(customer_id), 200, {"id": customer_id, "email": email, "first_name": "Ana"})
    with step("customer().update"):
        ok(customers.update(customer_id, {"first_name": "Bea", "description": "sdk harness"}), 200,
           {"id": customer_id, "first_name": "Bea", "last_name": "Lima", "description": "sdk harness"})
    with step("customer().search by email"):
        ok(customers.search({"email": email}), 200,
           {"paging": {"total": 1}, "results": [{"id": customer_id, "email": email, "first_name": "Bea"}]})
    with step("customer().search_auto_paging_iter iterates the matches"):
        found = [c["id"] for c in customers.search_auto_paging_iter({"email": email})]
        assert found == [customer_id], f"auto-paging found {found}"
    with step("card().create saves a card from a token (POST .../cards/, trailing slash)"):
        card = ok(cards.create(customer_id, {"token": token_id}), 201, {
            "customer_id": customer_id, "first_six_digits": "503143", "last_four_digits": "6351",
            "expiration_month": 11, "expiration_year": 2030, "security_code": {"length": 3},
            "payment_method": {"id": "master", "payment_type_id": "credit_card"}, "cardholder": {"name": "APRO"},
        })
        assert isinstance(card["issuer"]["id"], int), f"issuer.id should be a number: {card['issuer']}"
        card_id = card["id"]
    with step("a card token is single-use (card().create with it again is 400)"):
        classic_error(cards.create(customer_id, {"token": token_id}), 400, "bad_request")
    with step("card().get and card().list_all"):
        ok(cards.get(customer_id, card_id), 200, {"id": card_id, "customer_id": customer_id})
        ok(cards.list_all(customer_id), 200, [{"id": card_id, "last_four_digits": "6351"}])
    with step("card().update"):
        ok(cards.update(customer_id, card_id, {"expiration_month": 12}), 200,
           {"id": card_id, "expiration_month": 12, "expiration_year": 2030})
        ok(customers.get(customer_id), 200, {"cards": [{"id": card_id, "expiration_month": 12}]})
    with step("card().delete returns the removed card"):
        ok(cards.delete(customer_id, card_id), 200, {"id": card_id})
        ok(cards.list_all(customer_id), 200, [])
    with step("another account cannot read the customer (404)"):
        classic_error(other_sdk.customer().get(customer_id), 404, "not_found")
    with step("customer().delete deactivates the customer"):
        ok(customers.delete(customer_id), 200, {"id": customer_id, "status": "deactive"})
        classic_error(customers.get(customer_id), 404, "not_found")


# ---------------------------------------------------------------------------------------------
# Online orders


def online_orders():
    ref = f"sdk-python-{RUN}"

    with step("order().create (automatic, APRO) is processed/accredited"):
        paid = ok(orders.create(online_order(ref)), 201, {
            "id": ORDER_ID, "type": "online", "processing_mode": "automatic", "external_reference": ref,
            "status": "processed", "status_detail": "accredited", "total_amount": "100.00",
            "total_paid_amount": "100.00",
            "transactions": {"payments": [{
                "id": PAYMENT_ID, "amount": "100.00", "status": "processed", "status_detail": "accredited",
                "payment_method": {"id": "master", "type": "credit_card", "installments": 1},
            }]},
        })
        payment_id = paid["transactions"]["payments"][0]["id"]
    with step("order().get returns it"):
        ok(orders.get(paid["id"]), 200, {"id": paid["id"], "status": "processed", "status_detail": "accredited",
                                         "transactions": {"payments": [{"id": payment_id, "status": "processed"}]}})
    with step("order().create with an OTHE card is a 402 carrying the failed order"):
        body = orders_error(orders.create(online_order(f"{ref}-othe", holder="OTHE")), 402, "failed")
        failed = expect_fields(body["data"], {
            "id": ORDER_ID, "status": "failed", "status_detail": "failed",
            "transactions": {"payments": [{"id": PAYMENT_ID, "status": "failed",
                                           "status_detail": "rejected_by_issuer"}]},
        }, "data")
        expect_fields(body["errors"][0], {
            "message": "The following transactions failed",
            "details": [f"{failed['transactions']['payments'][0]['id']}: rejected_by_issuer"],
        }, "errors[0]")
        ok(orders.get(failed["id"]), 200, {"status": "failed", "status_detail": "failed"})
    with step("order().create with a CONT card is processing/in_process"):
        ok(orders.create(online_order(f"{ref}-cont", holder="CONT")), 201, {
            "status": "processing", "status_detail": "in_process",
            "transactions": {"payments": [{"status": "processing", "status_detail": "in_process"}]},
        })
    with step("order().create with a non-@testuser.com payer is 400 invalid_email_for_sandbox"):
        body = online_order(ref, payer={"email": "buyer@example.com"})
        orders_error(orders.create(body), 400, "invalid_email_for_sandbox")
    with step("capture_mode manual: create waits for capture, capture() processes it, again is 409"):
        order = ok(orders.create(online_order(ref, capture_mode="manual")), 201, {
            "capture_mode": "manual", "status": "action_required", "status_detail": "waiting_capture",
            "transactions": {"payments": [{"status": "action_required", "status_detail": "waiting_capture"}]},
        })
        ok(orders.capture(order["id"]), 200, {
            "id": order["id"], "status": "processed", "status_detail": "accredited",
            "transactions": {"payments": [{"id": order["transactions"]["payments"][0]["id"],
                                           "status": "processed", "status_detail": "accredited"}]},
        })
        orders_error(orders.capture(order["id"]), 409, "cannot_capture_order")
    with step("processing_mode manual: create, add/update/delete/add a transaction, then process"):
        order = ok(orders.create({"type": "online", "processing_mode": "manual", "external_reference": ref,
                                  "total_amount": "100.00", "payer": PAYER}), 201,
                   {"id": ORDER_ID, "processing_mode": "manual", "status": "created", "status_detail": "created"})
        order_id = order["id"]
        added = ok(orders.create_transaction(order_id, {"payments": [card_payment("90.00")]}), 201, {"payments": [{
            "id": PAYMENT_ID, "amount": "90.00", "status": "created",
            "payment_method": {"id": "master", "type": "credit_card", "installments": 1},
        }]})
        transaction_id = added["payments"][0]["id"]
        orders_error(orders.process(order_id), 400, "invalid_total_amount")
        ok(orders.update_transaction(order_id, transaction_id, {"payment_method": {"installments": 3}}), 200,
           {"payment_method": {"id": "master", "installments": 3}})
        result = orders.delete_transaction(order_id, transaction_id)
        assert result == {"status": 204, "response": None}, f"delete_transaction: {result}"
        ok(orders.get(order_id), 200, {"status": "created", "transactions": {"payments": []}})
        again = ok(orders.create_transaction(order_id, {"payments": [card_payment("100.00")]}), 201)
        ok(orders.process(order_id), 200, {
            "id": order_id, "status": "processed", "status_detail": "accredited", "total_paid_amount": "100.00",
            "transactions": {"payments": [{"id": again["payments"][0]["id"], "status": "processed",
                                           "status_detail": "accredited"}]},
        })
    with step("order().cancel of a created order cancels its payment; again is 409 order_already_canceled"):
        order = ok(orders.create(online_order(ref, processing_mode="manual")), 201,
                   {"status": "created", "transactions": {"payments": [{"status": "created"}]}})
        ok(orders.cancel(order["id"]), 200, {
            "id": order["id"], "status": "canceled", "status_detail": "canceled",
            "transactions": {"payments": [{"status": "canceled", "status_detail": "canceled_transaction"}]},
        })
        orders_error(orders.cancel(order["id"]), 409, "order_already_canceled")
    with step("order().refund partial, then refund_transaction total; again is 409 order_already_refunded"):
        ok(orders.refund(paid["id"], {"transactions": [{"id": payment_id, "amount": "25.00"}]}), 201, {
            "id": paid["id"], "status": "processed", "status_detail": "partially_refunded",
            "transactions": {"refunds": [{"id": REFUND_ID, "transaction_id": payment_id, "amount": "25.00",
                                          "status": "processed"}]},
        })
        total = ok(orders.refund_transaction(paid["id"]), 201,
                   {"id": paid["id"], "status": "refunded", "status_detail": "refunded"})
        refunds = total["transactions"]["refunds"]
        assert any(r["amount"] == "75.00" and r["transaction_id"] == payment_id for r in refunds), \
            f"expected a 75.00 refund of {payment_id}: {refunds}"
        ok(orders.get(paid["id"]), 200, {"status": "refunded", "transactions": {"payments": [{"status": "refunded"}]}})
        orders_error(orders.refund(paid["id"]), 409, "order_already_refunded")
    with step("order().search pages through this run's orders (page/page_size and auto-paging limit/offset)"):
        filters = {**search_window(), "external_reference": ref}
        # paid, capture, manual-process, cancel (the sandbox-rule one was rejected)
        first = ok(orders.search({**filters, "page": 1, "page_size": 3}), 200,
                   {"paging": {"total": "4", "total_pages": "2", "offset": "0", "limit": "3"}})
        assert len(first["data"]) == 3, f"page 1 has {len(first['data'])} orders"
        ids = [o["id"] for o in orders.search_auto_paging_iter(filters, limit=3)]
        assert len(ids) == 4 and len(set(ids)) == 4 and paid["id"] in ids, f"auto-paging found {ids}"
        assert ids[:3] == [o["id"] for o in first["data"]], "auto-paging and page 1 disagree on the order"
    with step("order().search without dates is 400 required_search_params"):
        orders_error(orders.search({"external_reference": ref}), 400, "required_search_params")
    with step("order().get of an unknown id, and of an order of another account, is 404 order_not_found"):
        orders_error(orders.get(f"ORD{random_ulid()}"), 404, "order_not_found")
        orders_error(other_sdk.order().get(paid["id"]), 404, "order_not_found")
    with step("a repeated x-idempotency-key replays the first answer; another body with it is 409"):
        key = RequestOptions(custom_headers={"x-idempotency-key": f"sdk-python-{RUN}-idem"})
        body = {"type": "online", "processing_mode": "manual", "external_reference": f"{ref}-idem",
                "total_amount": "10.00", "payer": PAYER}
        first = ok(orders.create(body, request_options=key), 201)
        ok(orders.create(body, request_options=key), 201, {"id": first["id"], "status": "created"})
        orders_error(orders.create({**body, "total_amount": "11.00"}, request_options=key), 409,
                     "idempotency_key_already_used")


# ---------------------------------------------------------------------------------------------
# Point orders


def simulate_terminal(order_id, status):
    """POST /v1/orders/{id}/events: the sandbox terminal simulator, not part of the SDK."""
    request = urllib.request.Request(
        f"{CAJA_URL}/v1/orders/{order_id}/events", method="POST", data=json.dumps({"status": status}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def point_orders():
    # A terminal of its own per run: a test account owns the terminals it first uses, and one
    # order may wait per terminal.
    terminal = f"NEWLAND_N950__SBX{secrets.randbelow(10**7):07d}"

    def body(ref):
        return {"type": "point", "external_reference": ref, "transactions": {"payments": [{"amount": "50.00"}]},
                "config": {"point": {"terminal_id": terminal}}}

    with step("point order().create queues the order on the terminal"):
        order = ok(orders.create(body(f"sdk-python-{RUN}-point")), 201, {
            "id": ORDER_ID, "type": "point", "status": "created", "status_detail": "created",
            "expiration_time": "PT15M",
            "config": {"point": {"terminal_id": terminal, "print_on_terminal": "seller_ticket"}},
            "transactions": {"payments": [{"id": PAYMENT_ID, "amount": "50.00", "status": "created"}]},
        })
        payment_id = order["transactions"]["payments"][0]["id"]
    with step("a second order for the same terminal is 409 already_queued_order_for_terminal"):
        orders_error(orders.create(body(f"sdk-python-{RUN}-point2")), 409, "already_queued_order_for_terminal")
    with step("the terminal simulator processes the order (plain POST /v1/orders/{id}/events)"):
        assert simulate_terminal(order["id"], "processed") == 204
        ok(orders.get(order["id"]), 200, {
            "status": "processed", "status_detail": "accredited", "total_paid_amount": "50.00",
            "transactions": {"payments": [{"id": payment_id, "status": "processed", "status_detail": "accredited"}]},
        })
    with step("point order().cancel of a processed order is 409 cannot_cancel_order"):
        orders_error(orders.cancel(order["id"]), 409, "cannot_cancel_order")
    with step("point order().refund (total) refunds it"):
        ok(orders.refund(order["id"]), 201, {
            "id": order["id"], "status": "refunded", "status_detail": "refunded",
            "transactions": {"refunds": [{"id": REFUND_ID, "transaction_id": payment_id, "amount": "50.00",
                                          "status": "processed"}]},
        })
    with step("the terminal is free again; point order().cancel of a created order cancels it"):
        queued = ok(orders.create(body(f"sdk-python-{RUN}-point3")), 201)
        ok(orders.cancel(queued["id"]), 200, {
            "id": queued["id"], "status": "canceled", "status_detail": "canceled",
            "transactions": {"payments": [{"status": "canceled", "status_detail": "canceled_by_api"}]},
        })


def main():
    started = time.monotonic()
    print(f"caja SDK harness (python, mercadopago {version('mercadopago')}) against {CAJA_URL}, run {RUN}", flush=True)
    card_tokens_and_customers()
    online_orders()
    point_orders()
    print(f"all {passed} steps passed in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"assertion failed: {error}", file=sys.stderr)
        sys.exit(1)
