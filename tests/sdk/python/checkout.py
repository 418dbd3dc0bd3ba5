"""Drive caja's Checkout Pro API with the unmodified official Mercado Pago Python SDK (mercadopago==3.6.0).

Covers preference() and merchant_order() (create, get, update, search, search_auto_paging_iter), and a payment made
on caja's hosted checkout form (plain HTTP, as a browser would), seen through merchant_order(), payment() and
refund(). Only the SDK's base URL is changed, exactly as in run.py, whose checking helpers this script reuses. The
first failed check exits non-zero.

    CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-... CAJA_OTHER_TOKEN=TEST-... python checkout.py
"""
import itertools
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from importlib.metadata import version

import mercadopago

# Importing run.py sets the base URL (Config._Config__api_base_url = CAJA_URL) and checks the environment;
# no __pycache__ is left in the source tree.
sys.dont_write_bytecode = True
import run  # noqa: E402
from run import CAJA_URL, OTHER_TOKEN, TOKEN, classic_error, expect_fields, ok, step  # noqa: E402

RUN = secrets.token_hex(4)
REF = f"sdk-python-co-{RUN}"
USER_ID = int(TOKEN.rsplit("-", 1)[1])
DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}")
PREFERENCE_ID = re.compile(rf"{USER_ID}-[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}")
BACK_URLS = {"success": "https://shop.test/ok", "pending": "https://shop.test/wait", "failure": "https://shop.test/ko"}
HOOK = f"http://127.0.0.1:9/sdk-python-{RUN}"  # discard port: a notification fails at once, off the test path

sdk = mercadopago.SDK(TOKEN)
other_sdk = mercadopago.SDK(OTHER_TOKEN)
preferences = sdk.preference()
merchant_orders = sdk.merchant_order()

ITEMS = [
    {"id": "sku-1", "title": "Caneca", "description": "Caneca azul", "category_id": "home", "currency_id": "BRL",
     "picture_url": "https://shop.test/caneca.jpg", "quantity": 2, "unit_price": 10.5},
    {"id": "sku-2", "title": "Camiseta", "quantity": 1, "unit_price": 30},
]
TOTAL = 51

# ---------------------------------------------------------------------------------------------
# Fixtures and small checks


def expect_types(obj, types, what):
    for key, kind in types.items():
        assert isinstance(obj.get(key), kind) and not (kind is int and isinstance(obj.get(key), bool)), \
            f"{what}.{key} should be a {kind.__name__}, got {obj.get(key)!r}"


def bad_request(result, what):
    """A classic 400 bad_request with a cause."""
    try:
        return classic_error(result, 400, "bad_request")
    except AssertionError as error:
        raise AssertionError(f"{what}: {error}") from None


def all_pages(search_iter, bound):
    """Drain an auto-pager, failing (instead of hanging) if it yields more than `bound` items."""
    items = list(itertools.islice(search_iter, bound + 1))
    assert len(items) <= bound, f"the auto-pager did not stop after {bound} items: {[i.get('id') for i in items]}"
    return items


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx then surfaces as an HTTPError carrying the Location


def pay_on_checkout(preference_id, holder="APRO"):
    """Pay on caja's hosted checkout form (no SDK has it); return the redirect's target and query."""
    # The form's key is the one the page issues, as a browser would post it.
    page_url = f"{CAJA_URL}/checkout/v1/redirect?pref_id={urllib.parse.quote(preference_id)}"
    with urllib.request.urlopen(page_url, timeout=10) as page:
        found = re.search(r'name="nonce" value="([^"]+)"', page.read().decode())
    assert found, "the checkout page has a form key"
    form = urllib.parse.urlencode({
        "pref_id": preference_id, "nonce": found.group(1), "method": "card", "card_number": "5031433215406351",
        "expiration": "11/30", "security_code": "123", "cardholder_name": holder,
        "identification_number": "12345678909", "email": "test@testuser.com", "installments": "1",
    }).encode()
    request = urllib.request.Request(f"{CAJA_URL}/checkout/v1/pay", data=form, method="POST")
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=10) as response:
            raise AssertionError(f"checkout pay: HTTP {response.status}, expected 303: {response.read()[:300]!r}")
    except urllib.error.HTTPError as error:
        location = error.headers.get("Location")
        assert error.code == 303, f"checkout pay: HTTP {error.code} {location} {error.read()[:300]!r}"
    url = urllib.parse.urlsplit(location)
    return f"{url.scheme}://{url.netloc}{url.path}", dict(urllib.parse.parse_qsl(url.query))


# ---------------------------------------------------------------------------------------------
# Steps


def preference_steps():
    with step("preference().create (POST /checkout/preferences) returns the preference and its init_point"):
        full = ok(preferences.create({"items": ITEMS, "back_urls": BACK_URLS, "auto_return": "approved",
                                      "external_reference": REF}), 201, {
            "id": PREFERENCE_ID, "client_id": str(USER_ID), "collector_id": USER_ID, "site_id": "MLB",
            "date_created": DATE, "back_urls": BACK_URLS, "auto_return": "approved", "external_reference": REF,
            "items": [ITEMS[0], {"id": "sku-2", "title": "Camiseta", "description": "", "category_id": "",
                                 "currency_id": "BRL", "quantity": 1, "unit_price": 30}],
        })
        init_point = f"{CAJA_URL}/checkout/v1/redirect?pref_id={full['id']}"
        expect_fields(full, {"init_point": init_point, "sandbox_init_point": init_point})
    with step("preference().get of a preference made with only id/title/quantity/unit_price fills the defaults"):
        minimal = ok(preferences.create({"items": [{"id": "sku-3", "title": "Boné", "quantity": 3, "unit_price": 12.25}],
                                         "external_reference": REF}), 201)
        ok(preferences.get(minimal["id"]), 200, {
            "id": minimal["id"], "external_reference": REF, "date_created": minimal["date_created"],
            "items": [{"id": "sku-3", "title": "Boné", "category_id": "", "currency_id": "BRL", "description": "",
                       "quantity": 3, "unit_price": 12.25}],
        })
        assert minimal["id"] != full["id"], "two preferences share an id"
    with step("preference().create refusals are 400 bad_request"):
        item = {"id": "x", "title": "X", "quantity": 1, "unit_price": 1}
        bad_request(preferences.create({"external_reference": REF}), "no items")
        bad_request(preferences.create({"items": []}), "items: []")
        bad_request(preferences.create({"items": [item], "auto_return": "approved"}),
                    "auto_return without back_urls.success")
        bad_request(preferences.create({"items": [{**item, "currency_id": "USD"}]}), "USD")
        bad_request(preferences.create({"items": [item], "colour": "blue"}), "unknown field")
    with step("preference().update replaces the fields sent, keeps the id, the rest and the key set"):
        updated = ok(preferences.update(minimal["id"], {
            "items": [{"id": "sku-4", "title": "Boné novo", "quantity": 1, "unit_price": 15}]}), 200, {
            "id": minimal["id"], "external_reference": REF, "date_created": minimal["date_created"],
            "last_updated": DATE,
            "items": [{"id": "sku-4", "title": "Boné novo", "quantity": 1, "unit_price": 15, "currency_id": "BRL"}],
        })
        assert sorted(updated) == sorted(minimal), f"update changed the key set: {sorted(updated)}"
        ok(preferences.get(minimal["id"]), 200, {"items": [{"title": "Boné novo", "unit_price": 15}]})
        bad_request(preferences.update(minimal["id"], {"colour": "red"}), "unknown field on update")
    with step("preference().search by external_reference returns summaries, newest first"):
        found = ok(preferences.search({"external_reference": REF}), 200, {"total": 2, "next_offset": 2, "elements": [
            {"id": minimal["id"], "items": ["Boné novo"], "external_reference": REF},
            {"id": full["id"], "items": ["Caneca", "Camiseta"], "external_reference": REF},
        ]})
        for element in found["elements"]:
            expect_fields(element, {"client_id": str(USER_ID), "collector_id": USER_ID, "site_id": "MLB",
                                    "date_created": DATE}, "element")
            expect_types(element, {"id": str, "client_id": str, "collector_id": int, "date_created": str,
                                   "expires": bool, "live_mode": bool, "marketplace": str, "operation_type": str,
                                   "site_id": str, "sponsor_id": int, "shipping_mode": str, "items": list}, "element")
    with step("preference().search pages with limit/offset; offset >= total gives no elements"):
        def page(offset):
            return preferences.search({"external_reference": REF, "limit": 1, "offset": offset})
        ok(page(0), 200, {"elements": [{"id": minimal["id"]}], "next_offset": 1, "total": 2})
        ok(page(1), 200, {"elements": [{"id": full["id"]}], "next_offset": 2, "total": 2})
        ok(page(2), 200, {"elements": [], "total": 2})
    with step("preference().search_auto_paging_iter stops and returns every element (limit 1 and 100)"):
        for limit in (1, 100):
            found = all_pages(preferences.search_auto_paging_iter({"external_reference": REF}, limit=limit), 2)
            assert [p["id"] for p in found] == [minimal["id"], full["id"]], f"limit {limit}: {found}"
    with step("another account: preference().get is 404 not_found; its search finds nothing"):
        classic_error(other_sdk.preference().get(full["id"]), 404, "not_found")
        ok(other_sdk.preference().search({"external_reference": REF}), 200, {"elements": [], "total": 0})
    return full, minimal


def merchant_order_steps(full, minimal):
    with step("merchant_order().create {preference_id} is opened/payment_required with the preference items"):
        order = ok(merchant_orders.create({"preference_id": full["id"]}), 201, {
            "preference_id": full["id"], "status": "opened", "order_status": "payment_required", "site_id": "MLB",
            "external_reference": REF, "total_amount": TOTAL, "paid_amount": 0, "refunded_amount": 0,
            "shipping_cost": 0, "cancelled": False, "is_test": True, "collector": {"id": USER_ID}, "payments": [],
            "date_created": DATE, "last_updated": DATE,
            "items": [{"id": "sku-1", "title": "Caneca", "quantity": 2, "unit_price": 10.5, "currency_id": "BRL"},
                      {"id": "sku-2", "title": "Camiseta", "quantity": 1, "unit_price": 30}],
        })
        assert type(order["id"]) is int and 0 < order["id"] < 2**53, f"merchant order id: {order['id']!r}"
    with step("a second merchant_order().create for the same preference is 400 bad_request"):
        bad_request(merchant_orders.create({"preference_id": full["id"]}), "second merchant order")
    with step("merchant_order().get returns the merchant order"):
        got = ok(merchant_orders.get(order["id"]), 200, {"id": order["id"], "preference_id": full["id"],
                                                         "status": "opened", "date_created": order["date_created"]})
        assert sorted(got) == sorted(order), "get and create differ in keys"
    with step("merchant_order().update echoes notification_url and additional_info and keeps preference_id"):
        body = {"notification_url": HOOK, "additional_info": "Info 2"}
        ok(merchant_orders.update(order["id"], body), 200,
           {"id": order["id"], "preference_id": full["id"], "status": "opened", **body})
        ok(merchant_orders.get(order["id"]), 200, {"preference_id": full["id"], **body})
    with step("merchant_order().search by preference_id finds it, with the same keys as get"):
        found = ok(merchant_orders.search({"preference_id": full["id"]}), 200, {
            "total": 1, "next_offset": 1,
            "elements": [{"id": order["id"], "preference_id": full["id"], "additional_info": "Info 2"}]})
        assert sorted(found["elements"][0]) == sorted(order), "search element and create differ in keys"
    with step("merchant_order().create with its own items, no preference (the old live test's body)"):
        own = ok(merchant_orders.create({
            "site_id": "MLB", "notification_url": HOOK, "additional_info": "Info 1", "external_reference": f"{REF}-own",
            "marketplace": "NONE", "items": [{"id": "sku-5", "title": "Meia", "quantity": 4, "unit_price": 2.5,
                                              "currency_id": "BRL"}],
        }), 201, {"preference_id": None, "status": "opened", "total_amount": 10, "marketplace": "NONE",
                  "items": [{"id": "sku-5", "title": "Meia", "quantity": 4, "unit_price": 2.5}]})
        ok(merchant_orders.update(own["id"], {"additional_info": "Info 2"}), 200)
        ok(merchant_orders.get(own["id"]), 200, {"id": own["id"], "additional_info": "Info 2",
                                                 "external_reference": f"{REF}-own"})
    with step("paying on the hosted checkout (plain POST /checkout/v1/pay) answers 303 to back_urls.success"):
        target, query = pay_on_checkout(full["id"])
        assert target == BACK_URLS["success"], f"redirected to {target}"
        expect_fields(query, {
            "collection_id": re.compile(r"\d+"), "collection_status": "approved", "status": "approved",
            "external_reference": REF, "payment_type": "credit_card", "merchant_order_id": str(order["id"]),
            "preference_id": full["id"], "site_id": "MLB",
        }, "redirect query")
        assert query["payment_id"] == query["collection_id"], query
        payment_id = int(query["payment_id"])
    with step("merchant_order().get shows the payment: closed/paid, paid_amount = total"):
        ok(merchant_orders.get(order["id"]), 200, {
            "id": order["id"], "status": "closed", "order_status": "paid", "total_amount": TOTAL,
            "paid_amount": TOTAL, "refunded_amount": 0,
            "payments": [{"id": payment_id, "transaction_amount": TOTAL, "status": "approved",
                          "status_details": "accredited", "currency_id": "BRL", "amount_refunded": 0,
                          "date_approved": DATE}],
        })
    with step("payment().get of the checkout payment names its merchant order"):
        ok(sdk.payment().get(payment_id), 200, {
            "id": payment_id, "status": "approved", "status_detail": "accredited", "transaction_amount": TOTAL,
            "external_reference": REF, "payment_method_id": "master", "collector_id": USER_ID,
            "order": {"type": "mercadopago", "id": str(order["id"])},
        })
    with step("a full refund().create(payment_id) makes the merchant order reverted"):
        ok(sdk.refund().create(payment_id), 201, {"payment_id": payment_id, "amount": TOTAL})
        ok(merchant_orders.get(order["id"]), 200, {
            "order_status": "reverted", "refunded_amount": TOTAL,
            "payments": [{"id": payment_id, "status": "refunded", "amount_refunded": TOTAL}],
        })
    with step("merchant_order().search by external_reference pages; the status filter narrows it"):
        second = ok(merchant_orders.create({"preference_id": minimal["id"]}), 201,
                    {"status": "opened", "total_amount": 15})

        def page(offset):
            return merchant_orders.search({"external_reference": REF, "limit": 1, "offset": offset})
        ok(page(0), 200, {"elements": [{"id": second["id"]}], "next_offset": 1, "total": 2})
        ok(page(1), 200, {"elements": [{"id": order["id"]}], "next_offset": 2, "total": 2})
        ok(page(2), 200, {"elements": [], "total": 2})
        ok(merchant_orders.search({"external_reference": REF, "status": "opened"}), 200,
           {"elements": [{"id": second["id"]}], "total": 1})
    with step("merchant_order().search_auto_paging_iter stops and returns every element (limit 1 and 100)"):
        for limit in (1, 100):
            found = all_pages(merchant_orders.search_auto_paging_iter({"external_reference": REF}, limit=limit), 2)
            assert [o["id"] for o in found] == [second["id"], order["id"]], f"limit {limit}: {found}"
    with step("another account: merchant_order().get is 404; create on the preference is 400"):
        classic_error(other_sdk.merchant_order().get(order["id"]), 404, "not_found")
        bad_request(other_sdk.merchant_order().create({"preference_id": minimal["id"]}), "another account's preference")
        classic_error(merchant_orders.get(1), 404, "not_found")


def main():
    started = time.monotonic()
    print(f"caja SDK checkout harness (python, mercadopago {version('mercadopago')}) against {CAJA_URL}, "
          f"run {RUN}", flush=True)
    merchant_order_steps(*preference_steps())
    print(f"all {run.passed} steps passed in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"assertion failed: {error}", file=sys.stderr)
        sys.exit(1)
