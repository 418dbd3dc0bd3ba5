'use strict';
// Drives caja's classic Payments API (/v1/payments, refunds, payment methods, users/me) with the unmodified
// official Mercado Pago Node SDK (mercadopago@3.6.1); only the SDK's base URL is changed, as in run.js.
// Every step checks what the SDK hands back; the first failed step exits non-zero.
//
//   CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-… CAJA_OTHER_TOKEN=TEST-… node payments.js

const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { AppConfig } = require('mercadopago/dist/utils/config');
const {
  MercadoPagoConfig, Payment, PaymentRefund, PaymentMethod, User, CardToken, MPBadRequestError, MPNotFoundError,
  MPIdempotencyError,
} = require('mercadopago');
const { expectFields, httpStatus, expectError, step, passedSteps } = require('./check');

function env(name) {
  if (!process.env[name]) throw new Error(`missing environment variable ${name}`);
  return process.env[name];
}

const CAJA_URL = env('CAJA_URL').replace(/\/+$/, '');
const TOKEN = env('CAJA_TOKEN');
const OTHER_TOKEN = env('CAJA_OTHER_TOKEN');
AppConfig.BASE_URL = CAJA_URL; // the one change: the SDK hard-codes https://api.mercadopago.com

const RUN = randomBytes(4).toString('hex');
const REF = `sdk-node-pay-${RUN}`;
const PAYER = { email: `sdk-node-${RUN}@testuser.com` };
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/;
const HOUR = 3600e3;

const sdkConfig = (accessToken = TOKEN) => new MercadoPagoConfig({ accessToken });
const payments = new Payment(sdkConfig());
const refunds = new PaymentRefund(sdkConfig());
const cardToken = new CardToken(sdkConfig());

// ---------------------------------------------------------------------------------------------------------------
// Fixtures and small checks

const newCardToken = async (holder = 'APRO') => httpStatus(await cardToken.create({
  body: {
    card_number: '5031433215406351', expiration_month: 11, expiration_year: 2030, security_code: '123',
    cardholder: { name: holder, identification: { type: 'CPF', number: '12345678909' } },
  },
}), 201).id;

// No payment_method_id: caja takes the card's brand (master), as the live e2e capture test relies on.
const cardPayment = async (amount, { holder = 'APRO', ref = REF, ...extra } = {}) => payments.create({
  body: {
    transaction_amount: amount, installments: 1, token: await newCardToken(holder), payer: PAYER,
    external_reference: ref, ...extra,
  },
});
const pendingPayment = (method, amount = 100, ref = REF) => payments.create({
  body: { transaction_amount: amount, installments: 1, payment_method_id: method, payer: PAYER, external_reference: ref },
});

function expectId(value, what) {
  assert.ok(Number.isSafeInteger(value) && value > 0, `${what} should be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

/** An SDK call that must fail with `ErrorClass`/`status` and a classic body whose cause[0].code is `code`. */
async function expectCause(promise, ErrorClass, status, code) {
  const error = await expectError(promise, ErrorClass, status);
  expectFields(error, { status, causes: [{ code }] }, 'error');
  assert.ok(typeof error.message === 'string' && error.message.length > 0, 'error without a message');
  return error;
}

/** caja's test-only simulator (POST /v1/payments/{id}/events), which no SDK has. */
async function simulate(id, status) {
  const response = await fetch(`${CAJA_URL}/v1/payments/${id}/events`, {
    method: 'POST', body: JSON.stringify({ status }),
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
  });
  const text = await response.text();
  assert.equal(response.status, 200, `events ${status}: HTTP ${response.status} ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------------------------
// Steps

async function accountAndMethods() {
  const userId = Number(TOKEN.split('-').pop());
  await step('User.get returns the account behind the token', async () => {
    const user = expectFields(await new User(sdkConfig()).get(),
      { id: userId, site_id: 'MLB', api_response: { status: 200 } });
    expectId(user.id, 'user.id');
    for (const key of ['email', 'nickname']) assert.equal(typeof user[key], 'string', `user.${key}: ${user[key]}`);
  });
  await step('PaymentMethod.get returns a bare array with the MLB methods', async () => {
    const methods = await new PaymentMethod(sdkConfig()).get();
    assert.ok(Array.isArray(methods), `expected an array, got ${JSON.stringify(methods)}`);
    httpStatus(methods, 200);
    const types = Object.fromEntries(methods.map((m) => [m.id, m.payment_type_id]));
    expectFields(types, { master: 'credit_card', visa: 'credit_card', pix: 'bank_transfer', bolbradesco: 'ticket' },
      'payment_type_id by id');
    for (const m of methods) assert.equal(typeof m.name, 'string', `method ${m.id} has no name`);
  });
  return userId;
}

async function cardPayments(userId) {
  let approved;
  await step('Payment.create (APRO token, no payment_method_id) is approved/accredited', async () => {
    approved = expectFields(await cardPayment(110.5, { metadata: { order: RUN, step: 1 } }), {
      status: 'approved', status_detail: 'accredited', captured: true, transaction_amount: 110.5,
      transaction_amount_refunded: 0, installments: 1, payment_method_id: 'master', payment_type_id: 'credit_card',
      collector_id: userId, external_reference: REF, currency_id: 'BRL', live_mode: false,
      date_created: DATE, date_approved: DATE, date_last_updated: DATE,
      card: { first_six_digits: '503143', last_four_digits: '6351', cardholder: { name: 'APRO' } },
      payer: { email: PAYER.email }, metadata: { order: RUN, step: 1 }, refunds: [], api_response: { status: 201 },
    });
    expectId(approved.id, 'payment.id');
  });
  await step('Payment.get returns the same payment', async () => {
    expectFields(await payments.get({ id: approved.id }), {
      id: approved.id, status: 'approved', status_detail: 'accredited', transaction_amount: 110.5,
      date_created: approved.date_created, date_approved: approved.date_approved,
      card: { last_four_digits: '6351' }, api_response: { status: 200 },
    });
  });
  await step('a used card token is MPBadRequestError cause 3003; an unknown one cause 2006', async () => {
    const token = await newCardToken();
    httpStatus(await payments.create({ body: { transaction_amount: 5, installments: 1, token, payer: PAYER } }), 201);
    await expectCause(payments.create({ body: { transaction_amount: 5, installments: 1, token, payer: PAYER } }),
      MPBadRequestError, 400, 3003);
    await expectCause(payments.create({
      body: { transaction_amount: 5, installments: 1, token: randomBytes(16).toString('hex'), payer: PAYER },
    }), MPBadRequestError, 400, 2006);
  });
  await step('a repeated idempotencyKey replays the payment; another body with it is 409', async () => {
    // A config of its own: requestOptions.idempotencyKey sticks to the config it is passed through.
    const keyed = new Payment(sdkConfig());
    const requestOptions = { idempotencyKey: `${REF}-idem` };
    const body = { transaction_amount: 7, installments: 1, token: await newCardToken(), payer: PAYER };
    const first = httpStatus(await keyed.create({ body, requestOptions }), 201);
    expectFields(await keyed.create({ body, requestOptions }), { id: first.id, status: 'approved', transaction_amount: 7 });
    await expectError(keyed.create({ body: { ...body, transaction_amount: 8 }, requestOptions }),
      MPIdempotencyError, 409);
  });
  await step('OTHE and FUND are still 201, rejected with their status_detail', async () => {
    for (const [holder, detail] of [['OTHE', 'cc_rejected_other_reason'], ['FUND', 'cc_rejected_insufficient_amount']]) {
      expectFields(await cardPayment(20, { holder, ref: `${REF}-rejected` }), {
        status: 'rejected', status_detail: detail, date_approved: null, card: { cardholder: { name: holder } },
        api_response: { status: 201 },
      }, holder);
    }
  });
  await step('CONT is in_process/pending_contingency; Payment.cancel makes it cancelled/by_collector', async () => {
    const pending = expectFields(await cardPayment(30, { holder: 'CONT', ref: `${REF}-cont` }),
      { status: 'in_process', status_detail: 'pending_contingency', date_approved: null, api_response: { status: 201 } });
    expectFields(await payments.cancel({ id: pending.id }),
      { id: pending.id, status: 'cancelled', status_detail: 'by_collector', api_response: { status: 200 } });
  });
  return approved;
}

async function captureCancelUpdate(approved) {
  let captured;
  await step('capture:false is authorized/pending_capture; Payment.capture of 40 approves 40', async () => {
    const reserved = expectFields(await cardPayment(110, { capture: false }), {
      status: 'authorized', status_detail: 'pending_capture', captured: false, transaction_amount: 110,
      api_response: { status: 201 },
    });
    captured = expectFields(await payments.capture({ id: reserved.id, transaction_amount: 40 }), {
      id: reserved.id, status: 'approved', status_detail: 'accredited', captured: true, transaction_amount: 40,
      date_approved: DATE, api_response: { status: 200 },
    });
  });
  await step('Payment.capture again is MPBadRequestError cause 2079', async () => {
    await expectCause(payments.capture({ id: captured.id }), MPBadRequestError, 400, 2079);
  });
  await step('Payment.capture without an amount captures the whole reserve', async () => {
    const reserved = await cardPayment(75.25, { capture: false });
    expectFields(await payments.capture({ id: reserved.id }),
      { id: reserved.id, status: 'approved', captured: true, transaction_amount: 75.25 });
  });
  await step('Payment.cancel of an authorized payment is cancelled/by_collector, captured:false', async () => {
    const reserved = await cardPayment(15, { capture: false });
    expectFields(await payments.cancel({ id: reserved.id }),
      { id: reserved.id, status: 'cancelled', status_detail: 'by_collector', captured: false });
  });
  await step('Payment.cancel of an approved payment is MPBadRequestError cause 2018', async () => {
    await expectCause(payments.cancel({ id: approved.id }), MPBadRequestError, 400, 2018);
    expectFields(await payments.get({ id: approved.id }), { status: 'approved' });
  });
  await step('Payment.update replaces the metadata', async () => {
    const updated = expectFields(await payments.update({ id: approved.id, body: { metadata: { note: 'updated' } } }),
      { id: approved.id, status: 'approved', metadata: { note: 'updated' }, api_response: { status: 200 } });
    assert.deepEqual(updated.metadata, { note: 'updated' }, 'metadata was merged, not replaced');
    expectFields(await payments.get({ id: approved.id }), { metadata: { note: 'updated' } });
  });
  return captured;
}

async function pixAndBoleto() {
  let pix;
  await step('Pix is pending/pending_waiting_transfer with a QR code, a PNG and a 24 h expiry', async () => {
    pix = expectFields(await pendingPayment('pix'), {
      status: 'pending', status_detail: 'pending_waiting_transfer', payment_method_id: 'pix',
      payment_type_id: 'bank_transfer', transaction_amount: 100, date_approved: null, date_of_expiration: DATE,
      point_of_interaction: { type: 'PIX', transaction_data: { qr_code: /^000201/, ticket_url: /^https?:\/\// } },
      api_response: { status: 201 },
    });
    const png = Buffer.from(pix.point_of_interaction.transaction_data.qr_code_base64, 'base64');
    assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'qr_code_base64 is not a PNG');
    const ttl = Date.parse(pix.date_of_expiration) - Date.parse(pix.date_created);
    assert.ok(Math.abs(ttl - 24 * HOUR) < 60e3, `date_of_expiration is ${ttl / HOUR} h after date_created`);
  });
  await step('events approved: the Pix is approved/accredited, and Payment.get agrees', async () => {
    expectFields(await simulate(pix.id, 'approved'), { id: pix.id, status: 'approved', status_detail: 'accredited' });
    expectFields(await payments.get({ id: pix.id }),
      { id: pix.id, status: 'approved', status_detail: 'accredited', date_approved: DATE });
  });
  await step('events charged_back on the approved Pix is charged_back/settled', async () => {
    expectFields(await simulate(pix.id, 'charged_back'), { status: 'charged_back', status_detail: 'settled' });
    expectFields(await payments.get({ id: pix.id }), { status: 'charged_back', status_detail: 'settled' });
  });
  await step('a Pix rejected through events is rejected; Payment.cancel of a pending Pix is by_collector', async () => {
    const rejected = await pendingPayment('pix', 12, `${REF}-pix2`);
    expectFields(await simulate(rejected.id, 'rejected'), { status: 'rejected', date_approved: null });
    const pending = await pendingPayment('pix', 13, `${REF}-pix2`);
    expectFields(await payments.cancel({ id: pending.id }), { status: 'cancelled', status_detail: 'by_collector' });
  });
  await step('Boleto is pending/pending_waiting_payment with a 44-digit barcode; events expired cancels it', async () => {
    const boleto = expectFields(await pendingPayment('bolbradesco', 100, `${REF}-boleto`), {
      status: 'pending', status_detail: 'pending_waiting_payment', payment_method_id: 'bolbradesco',
      payment_type_id: 'ticket', barcode: { content: /^\d{44}$/ }, api_response: { status: 201 },
    });
    expectFields(await simulate(boleto.id, 'expired'), { status: 'cancelled', status_detail: 'expired' });
    expectFields(await payments.get({ id: boleto.id }), { status: 'cancelled', status_detail: 'expired' });
  });
  return pix;
}

async function refundSteps(approved, captured) {
  let partial, rest;
  await step('PaymentRefund.create with an amount is a partial refund', async () => {
    partial = expectFields(await refunds.create({ payment_id: approved.id, body: { amount: 10 } }), {
      payment_id: approved.id, amount: 10, amount_refunded_to_payer: 10, status: 'approved', date_created: DATE,
      source: { type: 'collector' }, api_response: { status: 201 },
    });
    expectId(partial.id, 'refund.id');
    for (const key of ['id', 'name', 'type']) assert.equal(typeof partial.source[key], 'string', `source.${key}`);
    expectFields(await payments.get({ id: approved.id }), {
      status: 'approved', status_detail: 'partially_refunded', transaction_amount_refunded: 10,
      refunds: [{ id: partial.id, amount: 10 }],
    });
  });
  await step('PaymentRefund.create without a body refunds the rest (refunded/refunded)', async () => {
    rest = expectFields(await refunds.create({ payment_id: approved.id }), {
      payment_id: approved.id, amount: 100.5, amount_refunded_to_payer: 100.5, status: 'approved',
      api_response: { status: 201 },
    });
    assert.notEqual(rest.id, partial.id);
    expectFields(await payments.get({ id: approved.id }),
      { status: 'refunded', status_detail: 'refunded', transaction_amount_refunded: 110.5 });
  });
  await step('PaymentRefund.total of a refunded payment is MPBadRequestError cause 2063', async () => {
    await expectCause(refunds.total({ payment_id: approved.id }), MPBadRequestError, 400, 2063);
  });
  await step('PaymentRefund.list returns both refunds in creation order (GET .../refunds/)', async () => {
    const list = await refunds.list({ payment_id: approved.id });
    assert.ok(Array.isArray(list), `expected an array, got ${JSON.stringify(list)}`);
    expectFields([...list], [{ id: partial.id, amount: 10 }, { id: rest.id, amount: 100.5 }], 'refunds');
  });
  await step('PaymentRefund.get returns one refund; an unknown refund id is MPNotFoundError cause 2032', async () => {
    expectFields(await refunds.get({ payment_id: approved.id, refund_id: partial.id }), {
      id: partial.id, payment_id: approved.id, amount: 10, status: 'approved', date_created: partial.date_created,
      api_response: { status: 200 },
    });
    await expectCause(refunds.get({ payment_id: approved.id, refund_id: partial.id + 1 }), MPNotFoundError, 404, 2032);
  });
  await step('PaymentRefund.total of the captured payment refunds its 40', async () => {
    expectFields(await refunds.total({ payment_id: captured.id }),
      { payment_id: captured.id, amount: 40, status: 'approved', api_response: { status: 201 } });
    expectFields(await payments.get({ id: captured.id }), { status: 'refunded', transaction_amount_refunded: 40 });
  });
}

async function searchSteps(approved, pix) {
  await step('Payment.search by external_reference: paging numbers, default limit 30, newest first', async () => {
    // REF: approved, the 3003 check is unreferenced, capture 40, capture whole, cancel authorized, Pix
    const found = expectFields(await payments.search({ options: { external_reference: REF } }),
      { paging: { total: 5, limit: 30, offset: 0 }, api_response: { status: 200 } });
    assert.equal(found.results.length, 5);
    const created = found.results.map((p) => Date.parse(p.date_created));
    assert.deepEqual(created, [...created].sort((a, b) => b - a), 'results are not newest first');
    assert.equal(found.results.at(-1).id, approved.id, 'the oldest result should be the first payment');
    assert.equal(found.results[0].id, pix.id, 'the newest result should be the Pix');
  });
  await step('Payment.search filters: status, payment_method_id, limit/offset', async () => {
    expectFields(await payments.search({ options: { external_reference: REF, status: 'refunded' } }),
      { paging: { total: 2 }, results: [{ status: 'refunded' }, { status: 'refunded' }] });
    expectFields(await payments.search({ options: { external_reference: REF, payment_method_id: 'pix' } }),
      { paging: { total: 1 }, results: [{ id: pix.id }] });
    expectFields(await payments.search({ options: { external_reference: `${REF}-rejected`, status: 'rejected' } }),
      { paging: { total: 2 } });
    const page = expectFields(await payments.search({ options: { external_reference: REF, limit: 2, offset: 4 } }),
      { paging: { total: 5, limit: 2, offset: 4 }, results: [{ id: approved.id }] });
    assert.equal(page.results.length, 1);
  });
  await step('Payment.search with sort, criteria, range, begin_date and end_date', async () => {
    const found = await payments.search({ options: {
      sort: 'date_created', criteria: 'asc', range: 'date_created', begin_date: 'NOW-1DAYS', end_date: 'NOW',
      external_reference: REF,
    } });
    expectFields(found, { paging: { total: 5 } });
    assert.equal(found.results[0].id, approved.id, 'criteria=asc should put the oldest first');
    expectFields(await payments.search({ options: {
      external_reference: REF, range: 'date_created', begin_date: 'NOW-3DAYS', end_date: 'NOW-2DAYS',
    } }), { paging: { total: 0 }, results: [] });
  });
  await step('Payment.search with an unknown parameter is MPBadRequestError cause 8', async () => {
    await expectCause(payments.search({ options: { colour: 'blue' } }), MPBadRequestError, 400, 8);
  });
  await step('Payment.searchAll iterates every match', async () => {
    const found = [];
    for await (const payment of payments.searchAll({ options: { external_reference: REF } })) found.push(payment.id);
    assert.equal(found.length, 5, `searchAll found ${found}`);
    assert.ok(found.includes(approved.id) && found.includes(pix.id) && new Set(found).size === 5, `searchAll: ${found}`);
  });
}

async function otherAccount(approved) {
  await step('another account: Payment.get, PaymentRefund.list and search see nothing (404 cause 2000)', async () => {
    const config = sdkConfig(OTHER_TOKEN);
    await expectCause(new Payment(config).get({ id: approved.id }), MPNotFoundError, 404, 2000);
    await expectCause(new PaymentRefund(config).list({ payment_id: approved.id }), MPNotFoundError, 404, 2000);
    expectFields(await new Payment(config).search({ options: { external_reference: REF } }),
      { paging: { total: 0 }, results: [] });
  });
  await step('an unknown payment id is MPNotFoundError cause 2000', async () => {
    await expectCause(payments.get({ id: 1000 }), MPNotFoundError, 404, 2000);
  });
}

async function main() {
  const started = Date.now();
  console.log(`caja SDK payments harness: node mercadopago ${AppConfig.SDK_VERSION}, ${CAJA_URL}, run ${RUN}`);
  assert.notEqual(OTHER_TOKEN, TOKEN, 'CAJA_OTHER_TOKEN must belong to another account than CAJA_TOKEN');
  const userId = await accountAndMethods();
  const approved = await cardPayments(userId);
  const captured = await captureCancelUpdate(approved);
  const pix = await pixAndBoleto();
  await refundSteps(approved, captured);
  await searchSteps(approved, pix);
  await otherAccount(approved);
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
