'use strict';
// Drives caja's Checkout Pro API (/checkout/preferences, /merchant_orders) with the unmodified official Mercado Pago
// Node SDK (mercadopago@3.6.1); only the SDK's base URL is changed, as in run.js. A payment is made on caja's hosted
// checkout form (plain HTTP, as a browser would). Every step checks what the SDK hands back; the first failed step
// exits non-zero.
//
//   CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-… CAJA_OTHER_TOKEN=TEST-… node checkout.js

const assert = require('node:assert/strict');
const { randomBytes, randomUUID } = require('node:crypto');
const { AppConfig } = require('mercadopago/dist/utils/config');
const {
  MercadoPagoConfig, Preference, MerchantOrder, Payment, PaymentRefund, MPBadRequestError, MPNotFoundError,
} = require('mercadopago');
const { expectFields, expectError, step, passedSteps } = require('./check');

function env(name) {
  if (!process.env[name]) throw new Error(`missing environment variable ${name}`);
  return process.env[name];
}

const CAJA_URL = env('CAJA_URL').replace(/\/+$/, '');
const TOKEN = env('CAJA_TOKEN');
const OTHER_TOKEN = env('CAJA_OTHER_TOKEN');
AppConfig.BASE_URL = CAJA_URL; // the one change: the SDK hard-codes https://api.mercadopago.com

const RUN = randomBytes(4).toString('hex');
const REF = `sdk-node-co-${RUN}`;
const USER_ID = Number(TOKEN.split('-').pop());
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/;
const PREFERENCE_ID = new RegExp(`^${USER_ID}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`);
const BACK_URLS = { success: 'https://shop.test/ok', pending: 'https://shop.test/wait', failure: 'https://shop.test/ko' };
const HOOK = `http://127.0.0.1:9/sdk-node-${RUN}`; // discard port: a notification fails at once, off the test path

const sdkConfig = (accessToken = TOKEN) => new MercadoPagoConfig({ accessToken });
const preferences = new Preference(sdkConfig());
const merchantOrders = new MerchantOrder(sdkConfig());

// ---------------------------------------------------------------------------------------------------------------
// Fixtures and small checks

const ITEMS = [
  { id: 'sku-1', title: 'Caneca', description: 'Caneca azul', category_id: 'home', currency_id: 'BRL',
    picture_url: 'https://shop.test/caneca.jpg', quantity: 2, unit_price: 10.5 },
  { id: 'sku-2', title: 'Camiseta', quantity: 1, unit_price: 30 },
];
const TOTAL = 51;

function expectTypes(object, types, what) {
  for (const [key, type] of Object.entries(types)) {
    const value = object[key];
    const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    assert.equal(actual, type, `${what}.${key} should be a ${type}, got ${JSON.stringify(value)}`);
  }
}

const sortedKeys = (object) => Object.keys(object).filter((k) => k !== 'api_response').sort();

/** An SDK call that must be refused with 400 bad_request and a cause. */
async function expectBadRequest(promise, what) {
  const error = await expectError(promise, MPBadRequestError, 400);
  expectFields(error, { error: 'bad_request' }, `error (${what})`);
  assert.ok(Array.isArray(error.causes) && error.causes.length > 0, `${what}: no cause in ${JSON.stringify(error)}`);
  return error;
}

/** Pays a preference on caja's hosted checkout form (no SDK has it) and returns the redirect's query. */
async function payOnCheckout(preferenceId, holder = 'APRO') {
  // The form's key is the one the page issues, as a browser would post it.
  const page = await (await fetch(`${CAJA_URL}/checkout/v1/redirect?pref_id=${encodeURIComponent(preferenceId)}`)).text();
  const nonce = (page.match(/name="nonce" value="([^"]+)"/) || [])[1];
  assert.ok(nonce, `the checkout page has a form key: ${page.slice(0, 300)}`);
  const response = await fetch(`${CAJA_URL}/checkout/v1/pay`, {
    method: 'POST', redirect: 'manual',
    body: new URLSearchParams({
      pref_id: preferenceId, nonce, method: 'card', card_number: '5031433215406351', expiration: '11/30',
      security_code: '123', cardholder_name: holder, identification_number: '12345678909',
      email: 'test@testuser.com', installments: '1',
    }),
  });
  const location = response.headers.get('location');
  assert.equal(response.status, 303, `checkout pay: HTTP ${response.status} ${location} ${await response.text()}`);
  const url = new URL(location);
  return { target: `${url.origin}${url.pathname}`, query: Object.fromEntries(url.searchParams) };
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

async function preferenceSteps() {
  let full, minimal;
  await step('Preference.create (POST /checkout/preferences/) returns the preference and its init_point', async () => {
    full = expectFields(await preferences.create({
      body: { items: ITEMS, back_urls: BACK_URLS, auto_return: 'approved', external_reference: REF },
    }), {
      id: PREFERENCE_ID, client_id: String(USER_ID), collector_id: USER_ID, site_id: 'MLB', date_created: DATE,
      back_urls: BACK_URLS, auto_return: 'approved', external_reference: REF, api_response: { status: 201 },
      items: [
        ITEMS[0],
        { id: 'sku-2', title: 'Camiseta', description: '', category_id: '', currency_id: 'BRL', quantity: 1,
          unit_price: 30 },
      ],
    });
    const initPoint = `${CAJA_URL}/checkout/v1/redirect?pref_id=${full.id}`;
    expectFields(full, { init_point: initPoint, sandbox_init_point: initPoint });
  });
  await step('Preference.get of a preference made with only id/title/quantity/unit_price fills the defaults', async () => {
    minimal = await preferences.create({
      body: { items: [{ id: 'sku-3', title: 'Boné', quantity: 3, unit_price: 12.25 }], external_reference: REF },
    });
    expectFields(await preferences.get({ preferenceId: minimal.id }), {
      id: minimal.id, external_reference: REF, date_created: minimal.date_created, api_response: { status: 200 },
      items: [{ id: 'sku-3', title: 'Boné', category_id: '', currency_id: 'BRL', description: '', quantity: 3,
        unit_price: 12.25 }],
    });
    assert.notEqual(minimal.id, full.id);
  });
  await step('Preference.create refusals are MPBadRequestError bad_request', async () => {
    const item = { id: 'x', title: 'X', quantity: 1, unit_price: 1 };
    await expectBadRequest(preferences.create({ body: { external_reference: REF } }), 'no items');
    await expectBadRequest(preferences.create({ body: { items: [] } }), 'items: []');
    await expectBadRequest(preferences.create({ body: { items: [item], auto_return: 'approved' } }),
      'auto_return without back_urls.success');
    await expectBadRequest(preferences.create({ body: { items: [{ ...item, currency_id: 'USD' }] } }), 'USD');
    await expectBadRequest(preferences.create({ body: { items: [item], colour: 'blue' } }), 'unknown field');
  });
  await step('Preference.update replaces the fields sent, keeps the id, the rest and the key set', async () => {
    const updated = await preferences.update({
      id: minimal.id,
      updatePreferenceRequest: { items: [{ id: 'sku-4', title: 'Boné novo', quantity: 1, unit_price: 15 }] },
    });
    expectFields(updated, {
      id: minimal.id, external_reference: REF, date_created: minimal.date_created, last_updated: DATE,
      api_response: { status: 200 },
      items: [{ id: 'sku-4', title: 'Boné novo', quantity: 1, unit_price: 15, currency_id: 'BRL' }],
    });
    assert.deepEqual(sortedKeys(updated), sortedKeys(minimal), 'update changed the key set');
    expectFields(await preferences.get({ preferenceId: minimal.id }),
      { id: minimal.id, items: [{ title: 'Boné novo', unit_price: 15 }] });
    await expectBadRequest(preferences.update({ id: minimal.id, updatePreferenceRequest: { colour: 'red' } }),
      'unknown field on update');
  });
  await step('Preference.search by external_reference returns summaries, newest first', async () => {
    const found = expectFields(await preferences.search({ options: { external_reference: REF } }),
      { total: 2, next_offset: 2, api_response: { status: 200 } });
    expectFields(found.elements, [
      { id: minimal.id, items: ['Boné novo'], external_reference: REF },
      { id: full.id, items: ['Caneca', 'Camiseta'], external_reference: REF },
    ], 'elements');
    for (const element of found.elements) {
      expectFields(element, { client_id: String(USER_ID), collector_id: USER_ID, site_id: 'MLB', date_created: DATE });
      expectTypes(element, {
        id: 'string', client_id: 'string', collector_id: 'number', date_created: 'string', expires: 'boolean',
        live_mode: 'boolean', marketplace: 'string', operation_type: 'string', site_id: 'string', sponsor_id: 'number',
        shipping_mode: 'string', items: 'array',
      }, 'element');
    }
  });
  await step('Preference.search pages with limit/offset; offset >= total gives no elements', async () => {
    const page = (offset) => preferences.search({ options: { external_reference: REF, limit: 1, offset } });
    expectFields(await page(0), { elements: [{ id: minimal.id }], next_offset: 1, total: 2 });
    expectFields(await page(1), { elements: [{ id: full.id }], next_offset: 2, total: 2 });
    expectFields(await page(2), { elements: [], total: 2 });
  });
  await step('another account: Preference.get is MPNotFoundError; its search finds nothing', async () => {
    await expectError(new Preference(sdkConfig(OTHER_TOKEN)).get({ preferenceId: full.id }), MPNotFoundError, 404);
    expectFields(await new Preference(sdkConfig(OTHER_TOKEN)).search({ options: { external_reference: REF } }),
      { elements: [], total: 0 });
  });
  return { full, minimal };
}

async function merchantOrderSteps({ full, minimal }) {
  let order, paymentId;
  await step('MerchantOrder.create {preference_id} is opened/payment_required with the preference items', async () => {
    order = expectFields(await merchantOrders.create({ body: { preference_id: full.id } }), {
      preference_id: full.id, status: 'opened', order_status: 'payment_required', site_id: 'MLB',
      external_reference: REF, total_amount: TOTAL, paid_amount: 0, refunded_amount: 0, shipping_cost: 0,
      cancelled: false, is_test: true, collector: { id: USER_ID }, payments: [], date_created: DATE, last_updated: DATE,
      items: [{ id: 'sku-1', title: 'Caneca', quantity: 2, unit_price: 10.5, currency_id: 'BRL' },
        { id: 'sku-2', title: 'Camiseta', quantity: 1, unit_price: 30 }],
      api_response: { status: 201 },
    });
    assert.ok(Number.isSafeInteger(order.id) && order.id > 0, `merchant order id: ${JSON.stringify(order.id)}`);
  });
  await step('a second MerchantOrder.create for the same preference is MPBadRequestError', async () => {
    await expectBadRequest(merchantOrders.create({ body: { preference_id: full.id } }), 'second merchant order');
  });
  await step('MerchantOrder.get returns the merchant order', async () => {
    const got = expectFields(await merchantOrders.get({ merchantOrderId: order.id }), {
      id: order.id, preference_id: full.id, status: 'opened', total_amount: TOTAL, date_created: order.date_created,
      api_response: { status: 200 },
    });
    assert.deepEqual(sortedKeys(got), sortedKeys(order), 'get and create differ in keys');
  });
  await step('MerchantOrder.update echoes notification_url and additional_info and keeps preference_id', async () => {
    const body = { notification_url: HOOK, additional_info: 'Info 2' };
    expectFields(await merchantOrders.update({ merchantOrderId: order.id, body }),
      { id: order.id, preference_id: full.id, status: 'opened', ...body, api_response: { status: 200 } });
    expectFields(await merchantOrders.get({ merchantOrderId: order.id }), { preference_id: full.id, ...body });
  });
  await step('MerchantOrder.search by preference_id finds it, with the same keys as get', async () => {
    const found = expectFields(await merchantOrders.search({ options: { preference_id: full.id } }), {
      total: 1, next_offset: 1, elements: [{ id: order.id, preference_id: full.id, additional_info: 'Info 2' }],
      api_response: { status: 200 },
    });
    assert.deepEqual(sortedKeys(found.elements[0]), sortedKeys(order), 'search element and create differ in keys');
  });
  await step('paying on the hosted checkout (plain POST /checkout/v1/pay) answers 303 to back_urls.success', async () => {
    const { target, query } = await payOnCheckout(full.id);
    assert.equal(target, BACK_URLS.success);
    expectFields(query, {
      collection_id: /^\d+$/, collection_status: 'approved', status: 'approved', external_reference: REF,
      payment_type: 'credit_card', merchant_order_id: String(order.id), preference_id: full.id, site_id: 'MLB',
    }, 'redirect query');
    assert.equal(query.payment_id, query.collection_id);
    paymentId = Number(query.payment_id);
  });
  await step('MerchantOrder.get shows the payment: closed/paid, paid_amount = total', async () => {
    expectFields(await merchantOrders.get({ merchantOrderId: order.id }), {
      id: order.id, status: 'closed', order_status: 'paid', total_amount: TOTAL, paid_amount: TOTAL,
      refunded_amount: 0, payments: [{ id: paymentId, transaction_amount: TOTAL, status: 'approved',
        status_details: 'accredited', currency_id: 'BRL', amount_refunded: 0, date_approved: DATE }],
    });
  });
  await step('Payment.get of the checkout payment names its merchant order', async () => {
    expectFields(await new Payment(sdkConfig()).get({ id: paymentId }), {
      id: paymentId, status: 'approved', status_detail: 'accredited', transaction_amount: TOTAL,
      external_reference: REF, payment_method_id: 'master', collector_id: USER_ID,
      order: { type: 'mercadopago', id: String(order.id) },
    });
  });
  await step('a full PaymentRefund.create makes the merchant order reverted', async () => {
    expectFields(await new PaymentRefund(sdkConfig()).create({ payment_id: paymentId }),
      { payment_id: paymentId, amount: TOTAL, api_response: { status: 201 } });
    expectFields(await merchantOrders.get({ merchantOrderId: order.id }), {
      order_status: 'reverted', refunded_amount: TOTAL, payments: [{ id: paymentId, status: 'refunded',
        amount_refunded: TOTAL }],
    });
  });
  await step('MerchantOrder.search by external_reference pages; the status filter narrows it', async () => {
    const second = expectFields(await merchantOrders.create({ body: { preference_id: minimal.id } }),
      { status: 'opened', total_amount: 15, api_response: { status: 201 } });
    const page = (offset) => merchantOrders.search({ options: { external_reference: REF, limit: 1, offset } });
    expectFields(await page(0), { elements: [{ id: second.id }], next_offset: 1, total: 2 });
    expectFields(await page(1), { elements: [{ id: order.id }], next_offset: 2, total: 2 });
    expectFields(await page(2), { elements: [], total: 2 });
    expectFields(await merchantOrders.search({ options: { external_reference: REF, status: 'opened' } }),
      { elements: [{ id: second.id }], total: 1 });
  });
  await step('another account: MerchantOrder.get is MPNotFoundError; create on the preference is refused', async () => {
    const other = new MerchantOrder(sdkConfig(OTHER_TOKEN));
    await expectError(other.get({ merchantOrderId: order.id }), MPNotFoundError, 404);
    await expectBadRequest(other.create({ body: { preference_id: minimal.id } }), "another account's preference");
    await expectError(merchantOrders.get({ merchantOrderId: 1 }), MPNotFoundError, 404);
  });
}

async function main() {
  const started = Date.now();
  console.log(`caja SDK checkout harness: node mercadopago ${AppConfig.SDK_VERSION}, ${CAJA_URL}, run ${RUN}`);
  assert.notEqual(OTHER_TOKEN, TOKEN, 'CAJA_OTHER_TOKEN must belong to another account than CAJA_TOKEN');
  await merchantOrderSteps(await preferenceSteps());
  console.log(`all ${passedSteps()} steps passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  if (error instanceof Error && 'causes' in error) {
    const fields = JSON.stringify({ status: error.status, error: error.error, causes: error.causes });
    console.error(`(SDK ${error.name}: ${fields})`);
  }
  process.exit(1);
});
