'use strict';
// Checking helpers for run.js: partial deep matching with readable failure messages, SDK error checks, and
// numbered steps.

const assert = require('node:assert/strict');

function match(actual, expected, path) {
  const got = JSON.stringify(actual);
  if (expected instanceof RegExp) {
    assert.ok(typeof actual === 'string' && expected.test(actual), `${path}: expected ${expected}, got ${got}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${got}`);
    assert.equal(actual.length, expected.length, `${path}: expected ${expected.length} items, got ${got}`);
    expected.forEach((item, i) => match(actual[i], item, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${got}`);
    for (const [key, value] of Object.entries(expected)) match(actual[key], value, `${path}.${key}`);
  } else {
    assert.equal(actual, expected, `${path}: expected ${JSON.stringify(expected)}, got ${got}`);
  }
}

/** Checks that `actual` contains `expected` (recursively; RegExp values must match strings); returns `actual`. */
function expectFields(actual, expected, path = 'response') {
  try {
    match(actual, expected, path);
  } catch (error) {
    const { api_response: apiResponse, ...body } = actual || {};
    const status = apiResponse ? ` (HTTP ${apiResponse.status})` : '';
    throw new assert.AssertionError({ message: `${error.message}\n  in ${path}${status} = ${JSON.stringify(body)}` });
  }
  return actual;
}

const httpStatus = (response, status) => expectFields(response, { api_response: { status } });

/** Awaits a call that must fail, and checks the SDK's error class and HTTP status. */
async function expectError(promise, ErrorClass, status) {
  const wanted = `${ErrorClass.name} (HTTP ${status})`;
  const error = await promise.then((response) => assert.fail(`expected ${wanted}, got ${JSON.stringify(response)}`),
    (e) => e);
  assert.ok(error instanceof ErrorClass && error.status === status,
    `expected ${wanted}, got ${error.name} (HTTP ${error.status}): ${error.message}`);
  return error;
}

let passed = 0;
/** Runs one named check, printing `ok N - name`, or `FAIL: name` before rethrowing. */
async function step(name, fn) {
  await fn().catch((error) => {
    console.error(`FAIL: ${name}`);
    throw error;
  });
  console.log(`ok ${++passed} - ${name}`);
}

const passedSteps = () => passed;

module.exports = { expectFields, httpStatus, expectError, step, passedSteps };
