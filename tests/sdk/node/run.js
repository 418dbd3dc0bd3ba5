'use strict';
// Drives a live caja with the unmodified official Mercado Pago Node SDK (mercadopago@3.6.1); only the SDK's
// base URL is changed. Every step checks what the SDK hands back; the first failed step exits non-zero.
//
//   CAJA_URL=http://127.0.0.1:8080 CAJA_TOKEN=TEST-… CAJA_OTHER_TOKEN=TEST-… node run.js
//   CAJA_URL=… CAJA_TOKEN=… node run.js retry   # caja started with --rate-limit 1: 429 + Retry-After

const assert = require('node:assert/strict');
const { randomBytes } = require('node:crypto');
const { AppConfig } = require('mercadopago/dist/utils/config');
const {
  MercadoPagoConfig, Order, CardToken, Customer, CustomerCard,
  MPBadRequestError, MPPaymentError, MPNotFoundError, MPIdempotencyError, MPRateLimitError,
} = require('mercadopago');
const { expectFields, httpStatus, expectError, step, passedSteps } = require('./check');

function env(name) {
  if (!process.env[name]) throw new Error(`missing environment variable ${name}`);
  return process.env[name];
}

const CAJA_URL = env('CAJA_URL').replace(/\/+$/, '');
const TOKEN = env('CAJA_TOKEN');
AppConfig.BASE_URL = CAJA_URL; // the one change: the SDK hard-codes https://api.mercadopago.com

const RUN = randomBytes(4).toString('hex');
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const ORDER_ID = new RegExp(`^ORD${ULID}$`);
const PAYMENT_ID = new RegExp(`^PAY${ULID}$`);
const REFUND_ID = new RegExp(`^REF${ULID}$`);
const HEX32 = /^[0-9a-f]{32}$/;
const PAYER = { email: `sdk-node-${RUN}@testuser.com` };

// A fresh config per client that passes keys: requestOptions.idempotencyKey is merged into the shared
// config, so the key would "stick" to every later call made through it.
const sdkConfig = (options = {}, accessToken = TOKEN) => new MercadoPagoConfig({ accessToken, options });

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const cardToken = new CardToken(sdkConfig());
const customers = new Customer(sdkConfig());
const customerCards = new CustomerCard(sdkConfig());
const orders = new Order(sdkConfig());

const createCardToken = (holder = 'APRO') => cardToken.create({
  body: {
    card_number: '5031433215406351', expiration_year: 2030, expiration_month: 11, security_code: '123',
    cardholder: { name: holder, identification: { type: 'CPF', number: '12345678909' } },
  },
});
const newCardToken = async (holder) => httpStatus(await createCardToken(holder), 201).id;
const cardPayment = async (amount, holder) => ({
  amount, payment_method: { id: 'master', type: 'credit_card', token: await newCardToken(holder), installments: 1 },
});
const onlineOrder = async (reference, { holder = 'APRO', amount = '100.00', ...extra } = {}) => ({
  type: 'online', external_reference: reference, total_amount: amount, payer: PAYER,
  transactions: { payments: [await cardPayment(amount, holder)] }, ...extra,
});
const manualOrder = (reference, amount = '100.00') => ({
  type: 'online', processing_mode: 'manual', external_reference: reference, total_amount: amount, payer: PAYER,
});

const isoNow = (offsetMs) => new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
const searchWindow = () => ({ begin_date: isoNow(-3600e3), end_date: isoNow(3600e3) });
const randomUlid = () => '01' + Array.from(randomBytes(24), (b) => '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[b % 32]).join('');

// ---------------------------------------------------------------------------------------------------------------
// Main mode: every SDK method whose path caja serves

async function cardTokensAndCustomers(otherToken) {
  const email = `sdk-node-${RUN}@example.com`;
  let tokenId, customerId, cardId, secondCardId;

  await step('CardToken.create returns an active token', async () => {
    tokenId = expectFields(await createCardToken(), {
      id: HEX32, first_six_digits: '503143', last_four_digits: '6351', expiration_month: 11, expiration_year: 2030,
      status: 'active', cardholder: { name: 'APRO', identification: { type: 'CPF', number: '12345678909' } },
      api_response: { status: 201 },
    }).id;
  });
  await step('CardToken.get returns the token', async () => {
    expectFields(await cardToken.get({ id: tokenId }),
      { id: tokenId, status: 'active', last_four_digits: '6351', api_response: { status: 200 } });
  });
  await step('Customer.create', async () => {
    const customer = await customers.create({
      body: { email, first_name: 'Ana', last_name: 'Lima', identification: { type: 'CPF', number: '12345678909' } },
    });
    expectFields(customer, { email, first_name: 'Ana', last_name: 'Lima', cards: [], api_response: { status: 201 } });
    assert.ok(typeof customer.id === 'string' && customer.id.length > 0, `customer.id: ${customer.id}`);
    customerId = customer.id;
  });
  await step('Customer.create with a taken email is MPBadRequestError with the body fields', async () => {
    const error = await expectError(customers.create({ body: { email } }), MPBadRequestError, 400);
    expectFields(error, { error: 'bad_request', causes: [{ code: '101' }] }, 'error');
  });
  await step('Customer.get', async () => {
    expectFields(await customers.get({ customerId }), { id: customerId, email, api_response: { status: 200 } });
  });
  await step('Customer.update', async () => {
    expectFields(await customers.update({ customerId, body: { first_name: 'Bea', description: 'sdk harness' } }),
      { id: customerId, first_name: 'Bea', last_name: 'Lima', description: 'sdk harness' });
  });
  await step('Customer.search by email', async () => {
    expectFields(await customers.search({ options: { email } }),
      { paging: { total: 1 }, results: [{ id: customerId, email, first_name: 'Bea' }] });
  });
  await step('Customer.searchAll iterates the matches', async () => {
    const found = [];
    for await (const customer of customers.searchAll({ options: { email } })) found.push(customer.id);
    assert.deepEqual(found, [customerId]);
  });
  await step('CustomerCard.create saves a card from a token', async () => {
    const card = await customerCards.create({ customerId, body: { token: tokenId } });
    expectFields(card, {
      customer_id: customerId, first_six_digits: '503143', last_four_digits: '6351',
      expiration_month: 11, expiration_year: 2030, payment_method: { id: 'master', payment_type_id: 'credit_card' },
      security_code: { length: 3 }, cardholder: { name: 'APRO' }, api_response: { status: 201 },
    });
    assert.equal(typeof card.issuer.id, 'number', `issuer.id should be a number: ${JSON.stringify(card.issuer)}`);
    cardId = card.id;
  });
  await step('a card token is single-use (Customer.createCard with it again is 400)', async () => {
    await expectError(customers.createCard({ customerId, body: { token: tokenId } }), MPBadRequestError, 400);
  });
  await step('Customer.createCard saves a second card', async () => {
    const card = await customers.createCard({ customerId, body: { token: await newCardToken() } });
    secondCardId = expectFields(card, { customer_id: customerId, api_response: { status: 201 } }).id;
    assert.notEqual(secondCardId, cardId);
  });
  await step('CustomerCard.get and Customer.getCard', async () => {
    expectFields(await customerCards.get({ customerId, cardId }), { id: cardId, customer_id: customerId });
    expectFields(await customers.getCard({ customerId, cardId: secondCardId }), { id: secondCardId });
  });
  await step('CustomerCard.list and Customer.listCards return both cards', async () => {
    for (const list of [await customerCards.list({ customerId }), await customers.listCards({ customerId })]) {
      assert.ok(Array.isArray(list), `expected an array, got ${JSON.stringify(list)}`);
      assert.deepEqual(list.map((card) => card.id).sort(), [cardId, secondCardId].sort());
    }
  });
  await step('CustomerCard.update', async () => {
    expectFields(await customerCards.update({ customerId, cardId, body: { expiration_month: 12 } }),
      { id: cardId, expiration_month: 12, expiration_year: 2030 });
  });
  await step('CustomerCard.remove and Customer.removeCard return the removed card', async () => {
    expectFields(await customerCards.remove({ customerId, cardId }), { id: cardId, api_response: { status: 200 } });
    expectFields(await customers.removeCard({ customerId, cardId: secondCardId }), { id: secondCardId });
    assert.deepEqual([...await customerCards.list({ customerId })], []);
  });
  await step('another account cannot read the customer (404)', async () => {
    await expectError(new Customer(sdkConfig({}, otherToken)).get({ customerId }), MPNotFoundError, 404);
  });
  await step('Customer.remove deactivates the customer', async () => {
    expectFields(await customers.remove({ customerId }),
      { id: customerId, status: 'deactive', api_response: { status: 200 } });
    const error = await expectError(customers.get({ customerId }), MPNotFoundError, 404);
    expectFields(error, { error: 'not_found' }, 'error');
  });
}

async function onlineOrders(otherToken) {
  const ref = `sdk-node-${RUN}`;
  let paid, paymentId;

  await step('Order.create (automatic, APRO) is processed/accredited', async () => {
    paid = expectFields(await orders.create({ body: await onlineOrder(ref) }), {
      id: ORDER_ID, type: 'online', processing_mode: 'automatic', external_reference: ref,
      status: 'processed', status_detail: 'accredited', total_amount: '100.00', total_paid_amount: '100.00',
      transactions: { payments: [{
        id: PAYMENT_ID, amount: '100.00', status: 'processed', status_detail: 'accredited',
        payment_method: { id: 'master', type: 'credit_card', installments: 1 },
      }] },
      api_response: { status: 201 },
    });
    paymentId = paid.transactions.payments[0].id;
  });
  await step('Order.get returns it', async () => {
    expectFields(await orders.get({ id: paid.id }), {
      id: paid.id, status: 'processed', status_detail: 'accredited',
      transactions: { payments: [{ id: paymentId, status: 'processed' }] }, api_response: { status: 200 },
    });
  });
  await step('Order.create with an OTHE card is MPPaymentError (402) and the failed order is kept', async () => {
    const body = await onlineOrder(`${ref}-othe`, { holder: 'OTHE' });
    await expectError(orders.create({ body }), MPPaymentError, 402);
    const found = await orders.search({ options: { ...searchWindow(), external_reference: `${ref}-othe` } });
    expectFields(found, { paging: { total: '1' }, data: [{
      status: 'failed', status_detail: 'failed',
      transactions: { payments: [{ status: 'failed', status_detail: 'rejected_by_issuer' }] },
    }] });
  });
  await step('Order.create with a CONT card is processing/in_process', async () => {
    expectFields(await orders.create({ body: await onlineOrder(`${ref}-cont`, { holder: 'CONT' }) }),
      { status: 'processing', status_detail: 'in_process', api_response: { status: 201 } });
  });
  await step('Order.create with a non-@testuser.com payer is MPBadRequestError (sandbox rule)', async () => {
    const body = await onlineOrder(ref, { payer: { email: 'buyer@example.com' } });
    await expectError(orders.create({ body }), MPBadRequestError, 400);
  });
  await step('capture_mode manual: Order.create waits for capture, Order.capture processes it', async () => {
    const order = await orders.create({ body: await onlineOrder(ref, { capture_mode: 'manual' }) });
    expectFields(order, {
      capture_mode: 'manual', status: 'action_required', status_detail: 'waiting_capture',
      transactions: { payments: [{ status: 'action_required', status_detail: 'waiting_capture' }] },
    });
    expectFields(await orders.capture({ id: order.id }), {
      id: order.id, status: 'processed', status_detail: 'accredited', api_response: { status: 200 },
      transactions: { payments: [{ id: order.transactions.payments[0].id, status: 'processed' }] },
    });
    await expectError(orders.capture({ id: order.id }), MPIdempotencyError, 409);
  });
  await step('processing_mode manual: create, add/update/delete/add a transaction, then process', async () => {
    const order = await orders.create({ body: manualOrder(ref) });
    expectFields(order, { id: ORDER_ID, status: 'created', status_detail: 'created', api_response: { status: 201 } });
    const payment = {
      id: PAYMENT_ID, amount: '100.00', status: 'created', payment_method: { id: 'master', installments: 1 },
    };
    const added = await orders.createTransaction({ id: order.id, body: { payments: [await cardPayment('100.00')] } });
    expectFields(added, { payments: [payment], api_response: { status: 201 } });
    const transactionId = added.payments[0].id;
    const update = { id: order.id, transactionId, body: { payment_method: { installments: 3 } } };
    expectFields(await orders.updateTransaction(update),
      { payment_method: { id: 'master', installments: 3 }, api_response: { status: 200 } });
    httpStatus(await orders.deleteTransaction({ id: order.id, transactionId }), 204);
    expectFields(await orders.get({ id: order.id }), { status: 'created', transactions: { payments: [] } });
    const again = await orders.createTransaction({ id: order.id, body: { payments: [await cardPayment('100.00')] } });
    expectFields(await orders.process({ id: order.id }), {
      id: order.id, status: 'processed', status_detail: 'accredited', total_paid_amount: '100.00',
      transactions: { payments: [{ id: again.payments[0].id, status: 'processed', status_detail: 'accredited' }] },
      api_response: { status: 200 },
    });
  });
  await step('Order.cancel of a created order cancels its payment; a second cancel is 409', async () => {
    const order = await orders.create({ body: await onlineOrder(ref, { processing_mode: 'manual' }) });
    expectFields(order, { status: 'created', transactions: { payments: [{ status: 'created' }] } });
    expectFields(await orders.cancel({ id: order.id }), {
      id: order.id, status: 'canceled', status_detail: 'canceled', api_response: { status: 200 },
      transactions: { payments: [{ status: 'canceled', status_detail: 'canceled_transaction' }] },
    });
    await expectError(orders.cancel({ id: order.id }), MPIdempotencyError, 409);
  });
  await step('Order.refund partial, then total; a third refund is 409', async () => {
    const partial = { transactions: [{ id: paymentId, amount: '25.00' }] };
    expectFields(await orders.refund({ id: paid.id, body: partial }), {
      id: paid.id, status: 'processed', status_detail: 'partially_refunded', api_response: { status: 201 },
      transactions: { refunds: [{ id: REFUND_ID, transaction_id: paymentId, amount: '25.00', status: 'processed' }] },
    });
    const total = await orders.refund({ id: paid.id });
    expectFields(total, { id: paid.id, status: 'refunded', status_detail: 'refunded', api_response: { status: 201 } });
    const { refunds } = total.transactions;
    assert.ok(refunds.some((r) => r.amount === '75.00' && r.transaction_id === paymentId && r.status === 'processed'),
      `expected a 75.00 refund of ${paymentId}: ${JSON.stringify(refunds)}`);
    expectFields(await orders.get({ id: paid.id }),
      { status: 'refunded', transactions: { payments: [{ status: 'refunded' }] } });
    await expectError(orders.refund({ id: paid.id }), MPIdempotencyError, 409);
  });
  await step("Order.search pages through this run's orders", async () => {
    // paid, capture, manual-process, cancel (the sandbox-rule one was rejected; OTHE and CONT use other refs)
    const options = { ...searchWindow(), external_reference: ref, page: 1, page_size: 2 };
    const first = await orders.search({ options });
    expectFields(first, { paging: { total: '4', total_pages: '2', offset: '0', limit: '2' } });
    assert.equal(first.data.length, 2);
    const second = expectFields(await orders.search({ options: { ...options, page: 2 } }), { paging: { offset: '2' } });
    const ids = [...first.data, ...second.data].map((o) => o.id);
    assert.ok(new Set(ids).size === 4 && ids.includes(paid.id), `expected 4 distinct orders, got ${ids}`);
  });
  await step('Order.search without dates is MPBadRequestError', async () => {
    await expectError(orders.search({ options: { external_reference: ref } }), MPBadRequestError, 400);
  });
  await step('Order.get of an unknown id, and of an order of another account, is MPNotFoundError', async () => {
    await expectError(orders.get({ id: `ORD${randomUlid()}` }), MPNotFoundError, 404);
    await expectError(new Order(sdkConfig({}, otherToken)).get({ id: paid.id }), MPNotFoundError, 404);
  });
  await step('requestOptions.idempotencyKey replays the first answer; another body with it is 409', async () => {
    const idempotencyKey = `sdk-node-${RUN}-idem`;
    const create = (body) => new Order(sdkConfig()).create({ body, requestOptions: { idempotencyKey } });
    const first = await create(manualOrder(`${ref}-idem`, '10.00'));
    expectFields(await create(manualOrder(`${ref}-idem`, '10.00')),
      { id: first.id, status: 'created', api_response: { status: 201 } });
    await expectError(create(manualOrder(`${ref}-idem`, '11.00')), MPIdempotencyError, 409);
  });
}

async function pointOrders() {
  // A terminal of its own per run: a test account owns the terminals it first uses, and one order waits per terminal.
  const terminal = `NEWLAND_N950__SBX${String(randomBytes(4).readUInt32BE() % 1e7).padStart(7, '0')}`;
  const body = (ref) => ({
    type: 'point', external_reference: `sdk-node-${RUN}-${ref}`,
    transactions: { payments: [{ amount: '50.00' }] }, config: { point: { terminal_id: terminal } },
  });
  let order;

  await step('Point Order.create queues the order on the terminal', async () => {
    order = expectFields(await orders.create({ body: body('point') }), {
      id: ORDER_ID, type: 'point', status: 'created', status_detail: 'created', expiration_time: 'PT15M',
      config: { point: { terminal_id: terminal, print_on_terminal: 'seller_ticket' } },
      transactions: { payments: [{ id: PAYMENT_ID, amount: '50.00', status: 'created' }] },
      api_response: { status: 201 },
    });
  });
  await step('a second order for the same terminal is 409', async () => {
    await expectError(orders.create({ body: body('point2') }), MPIdempotencyError, 409);
  });
  await step('the terminal simulator processes the order (plain POST /v1/orders/{id}/events)', async () => {
    const response = await fetch(`${CAJA_URL}/v1/orders/${order.id}/events`, {
      method: 'POST', body: JSON.stringify({ status: 'processed' }),
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    });
    assert.equal(response.status, 204, `events: HTTP ${response.status} ${await response.text()}`);
    expectFields(await orders.get({ id: order.id }), {
      status: 'processed', status_detail: 'accredited', total_paid_amount: '50.00',
      transactions: { payments: [{ id: order.transactions.payments[0].id, status: 'processed' }] },
    });
  });
  await step('Point Order.cancel of a processed order is 409', async () => {
    await expectError(orders.cancel({ id: order.id }), MPIdempotencyError, 409);
  });
  await step('Point Order.refund (total) refunds it', async () => {
    expectFields(await orders.refund({ id: order.id }), {
      id: order.id, status: 'refunded', status_detail: 'refunded', api_response: { status: 201 },
      transactions: { refunds: [{ id: REFUND_ID, amount: '50.00', status: 'processed' }] },
    });
  });
  await step('the terminal is free again; Point Order.cancel of a created order cancels it', async () => {
    const next = await orders.create({ body: body('point3') });
    expectFields(await orders.cancel({ id: next.id }), {
      id: next.id, status: 'canceled', status_detail: 'canceled', api_response: { status: 200 },
      transactions: { payments: [{ status: 'canceled', status_detail: 'canceled_by_api' }] },
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Retry mode: caja runs with --rate-limit 1, and the SDK must ride out its 429s (Retry-After)

async function retryMode() {
  const ref = `sdk-node-${RUN}-retry`;
  const burst = 3;
  const retried = [];
  const onRetry = (attempt, error) => {
    retried.push(error.status);
    console.log(`  (SDK retry #${attempt} after ${error.name}, HTTP ${error.status})`);
  };
  const search = (options) => new Order(sdkConfig(options))
    .search({ options: { ...searchWindow(), external_reference: ref } });
  const started = Date.now();

  await step('without retries, a 429 surfaces as MPRateLimitError carrying Retry-After', async () => {
    const outcomes = await Promise.allSettled([search({ maxRetries: 0 }), search({ maxRetries: 0 })]);
    const limited = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
    assert.ok(limited.length > 0, 'two back-to-back searches both passed: is caja running with --rate-limit 1?');
    for (const error of limited) {
      assert.ok(error instanceof MPRateLimitError, `expected MPRateLimitError, got ${error.name} (${error.status})`);
      assert.ok(Number.isInteger(error.retryAfter) && error.retryAfter >= 1, `Retry-After read as ${error.retryAfter}`);
    }
  });
  await step(`a burst of ${burst} Order.create calls all end in 201 after 429 retries`, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // let the 1 request/s bucket refill
    // One call gets through per second, so the last one needs burst - 1 retries; the default of 3 leaves little
    // slack if the retries of two calls collide, hence 5.
    const create = (i) => new Order(sdkConfig({ onRetry, maxRetries: 5 }))
      .create({ body: manualOrder(ref, `${10 + i}.00`), requestOptions: { idempotencyKey: `${ref}-${i}` } });
    const created = await Promise.all(Array.from({ length: burst }, (_, i) => create(i)));
    created.forEach((order, i) => expectFields(order,
      { id: ORDER_ID, status: 'created', total_amount: `${10 + i}.00`, api_response: { status: 201 } }, `order[${i}]`));
    assert.equal(new Set(created.map((o) => o.id)).size, burst, 'the burst created duplicate ids');
    assert.ok(retried.includes(429), 'no 429 was seen: is caja running with --rate-limit 1?');
    assert.ok(retried.every((status) => status === 429), `unexpected retried statuses: ${retried}`);
  });
  await step('Order.search finds exactly that many orders (no duplicates from retries)', async () => {
    const found = expectFields(await search({ onRetry }), { paging: { total: String(burst) } });
    assert.equal(found.data.length, burst);
  });
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < 10, `retry mode took ${seconds}s`);
}

async function main() {
  const mode = process.argv[2] || 'main';
  const started = Date.now();
  console.log(`caja SDK harness: node mercadopago ${AppConfig.SDK_VERSION}, ${CAJA_URL}, ${mode} mode, run ${RUN}`);
  if (mode === 'retry') {
    await retryMode();
  } else if (mode === 'main') {
    const otherToken = env('CAJA_OTHER_TOKEN');
    assert.notEqual(otherToken, TOKEN, 'CAJA_OTHER_TOKEN must belong to another account than CAJA_TOKEN');
    await cardTokensAndCustomers(otherToken);
    await onlineOrders(otherToken);
    await pointOrders();
  } else {
    throw new Error(`unknown mode ${mode} (expected: main or retry)`);
  }
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
