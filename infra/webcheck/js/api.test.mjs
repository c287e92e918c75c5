// The fetch module's rules, run with node --test (TestFetchModuleRules
// starts it): which answers are sent again, after how long, with which key,
// and how a reload carries on with the request the server already has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, retryPlan, retryAfterSeconds, fieldErrors, fieldId, MAX_AUTO_WAIT_SECONDS, pollDelay } from '../../../web/js/api.js';

function answer(status, body, headers = {}) {
  return { status, body, headers };
}

// server replays the answers given, one per request, and records each
// request's method, path, headers and body.
function server(answers) {
  const seen = [];
  const fetch = async (path, init) => {
    seen.push({ path, method: init.method, headers: { ...init.headers }, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const a = answers.shift();
    if (!a) throw new Error('no answer left for ' + init.method + ' ' + path);
    if (a === 'network') throw new TypeError('Failed to fetch');
    const h = new Map(Object.entries(a.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    return {
      status: a.status,
      ok: a.status >= 200 && a.status < 300,
      headers: { get: (k) => (h.has(k.toLowerCase()) ? h.get(k.toLowerCase()) : null) },
      text: async () => (a.body === undefined ? '' : JSON.stringify(a.body)),
    };
  };
  return { fetch, seen, answers };
}

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), map: m };
}

function api(srv, extra = {}) {
  const slept = [];
  const a = new Api({ fetch: srv.fetch, sleep: async (ms) => { slept.push(ms); }, now: () => 1_000_000, getToken: () => 'tok', ...extra });
  return { a, slept };
}

const err = (code, extra = {}) => ({ error: { code, message: 'm', ...extra }, requestId: 'r1' });

test('503 and a curable 429 are sent again after Retry-After, with the same key', async () => {
  const srv = server([
    answer(503, err('OVERLOADED'), { 'Retry-After': '3' }),
    answer(429, err('RATE_LIMITED'), { 'Retry-After': '7' }),
    answer(202, { requestId: 'q1', status: 'queued', statusUrl: '/v1/requests/q1' }),
  ]);
  const { a, slept } = api(srv);
  const waits = [];
  const res = await a.request('POST', '/v1/codes/me/reissue', { body: { reason: 'lost' }, key: 'k-1', onWait: (w) => waits.push(w) });
  assert.equal(res.status, 202);
  assert.equal(srv.seen.length, 3);
  for (const r of srv.seen) {
    assert.equal(r.headers['Idempotency-Key'], 'k-1');
    assert.deepEqual(r.body, { reason: 'lost' });
    assert.equal(r.headers.Authorization, 'Bearer tok');
  }
  assert.deepEqual(slept, [3000, 7000]);
  assert.deepEqual(waits.map((w) => [w.seconds, w.reason, w.attempt, w.until]), [[3, 'busy', 0, 1_003_000], [7, 'busy', 1, 1_007_000]]);
});

test('a wait passes on what the server said, such as a place in line', async () => {
  const srv = server([answer(503, err('OVERLOADED', { position: 120 }), { 'Retry-After': '4' }), answer(202, { sentTo: '010-****-0001' })]);
  const { a } = api(srv);
  const waits = [];
  await a.request('POST', '/v1/verifications/v/sms', { body: { phone: 'x' }, onWait: (w) => waits.push(w) });
  assert.equal(waits.length, 1);
  assert.equal(waits[0].error.position, 120);
  assert.equal(waits[0].seconds, 4);
  assert.equal(srv.seen.length, 2);
  assert.deepEqual(srv.seen[1].body, { phone: 'x' });
});

test('a lost connection is retried with growing waits and the same key', async () => {
  const srv = server(['network', 'network', answer(202, { requestId: 'q', status: 'queued', statusUrl: '/v1/requests/q' })]);
  const { a, slept } = api(srv);
  const res = await a.request('POST', '/v1/codes', { body: {}, key: 'k-2' });
  assert.equal(res.status, 202);
  assert.deepEqual(slept, [2000, 4000]);
  assert.deepEqual(srv.seen.map((r) => r.headers['Idempotency-Key']), ['k-2', 'k-2', 'k-2']);
});

test('a 503 without Retry-After backs off', async () => {
  const srv = server([answer(503, err('OVERLOADED')), answer(503, err('OVERLOADED')), answer(200, { ok: true })]);
  const { a, slept } = api(srv);
  await a.request('GET', '/v1/codes/me');
  assert.deepEqual(slept, [2000, 4000]);
});

test('answers a wait does not cure are returned at once', async () => {
  for (const [status, body, headers, reason] of [
    [429, err('TOO_MANY_ATTEMPTS'), { 'Retry-After': '30' }, 'locked'],
    [429, err('RATE_LIMITED'), { 'Retry-After': String(MAX_AUTO_WAIT_SECONDS + 1) }, 'later'],
    [400, err('INVALID_ARGUMENT', { fields: { 'addresses[1].zip': 'must be 5 digits' } }), {}, ''],
    [422, err('VERIFICATION_FAILED', { attemptsLeft: 3 }), {}, ''],
    [409, err('CONFLICT'), {}, ''],
    [403, err('POLICY_DENIED'), {}, ''],
    [500, err('INTERNAL'), {}, ''],
  ]) {
    const srv = server([answer(status, body, headers)]);
    const { a, slept } = api(srv);
    const res = await a.request('POST', '/x', { body: {}, key: 'k' });
    assert.equal(res.status, status);
    assert.equal(srv.seen.length, 1, `${status} ${body.error.code} sent once`);
    assert.deepEqual(slept, []);
    assert.equal(res.plan.reason, reason);
    assert.equal(res.error.code, body.error.code);
    assert.equal(res.requestId, 'r1');
  }
});

test('a 409 whose first request is still running is waited for', async () => {
  const srv = server([answer(409, err('CONFLICT'), { 'Retry-After': '1' }), answer(202, { requestId: 'q', status: 'queued', statusUrl: '/v1/requests/q' })]);
  const { a, slept } = api(srv);
  const res = await a.request('POST', '/v1/codes/me/suspend', { key: 'k' });
  assert.equal(res.status, 202);
  assert.deepEqual(slept, [1000]);
});

test('the error envelope and field errors are read once', () => {
  const res = { error: { code: 'INVALID_ARGUMENT', fields: { rrn: 'bad', 'addresses[2].zip': 'bad', 'addresses[0].address': 'bad' } } };
  assert.deepEqual(fieldErrors(res).map((f) => f.id), ['rrn', 'addresses-2-zip', 'addresses-0-address']);
  assert.equal(fieldId('englishName'), 'englishName');
  assert.equal(retryAfterSeconds('12'), 12);
  assert.equal(retryAfterSeconds(new Date(1_010_000).toUTCString(), 1_000_000), 10);
  assert.equal(retryAfterSeconds('soon'), 0);
  assert.equal(retryPlan({ status: 504, retryAfter: 0 }, 9).seconds, 30);
});

test('a command keeps its key before sending, follows its status and clears when done', async () => {
  const srv = server([
    answer(503, err('OVERLOADED'), { 'Retry-After': '2' }),
    answer(202, { requestId: 'q9', status: 'queued', statusUrl: '/v1/requests/q9' }),
    answer(200, { requestId: 'q9', kind: 'reissue', status: 'queued', position: 40, estimatedWaitSeconds: 12 }),
    answer(503, err('OVERLOADED'), { 'Retry-After': '1' }),
    answer(200, { requestId: 'q9', kind: 'reissue', status: 'processing' }),
    answer(200, { requestId: 'q9', kind: 'reissue', status: 'succeeded', code: 'P123456789012' }),
  ]);
  const storage = memoryStorage();
  const { a, slept } = api(srv, { storage });
  const cmd = a.startCommand('reissue', 'POST', '/v1/codes/me/reissue', { reason: 'lost' });
  const kept = a.pending();
  assert.equal(kept.key, cmd.key);
  assert.deepEqual(kept.body, { reason: 'lost' });
  const progress = [];
  const out = await a.runCommand(cmd, { onProgress: (r) => progress.push(r.status + (r.position ? '@' + r.position : '')) });
  assert.equal(out.done, true);
  assert.equal(out.request.code, 'P123456789012');
  assert.deepEqual(progress, ['queued@40', 'processing', 'succeeded']);
  assert.equal(srv.seen[0].headers['Idempotency-Key'], cmd.key);
  assert.equal(srv.seen[1].headers['Idempotency-Key'], cmd.key);
  assert.equal(srv.seen[2].path, '/v1/requests/q9');
  assert.equal(srv.seen[2].headers['Idempotency-Key'], undefined);
  assert.deepEqual(slept, [2000, 4000, 1000, 1000]);
  assert.equal(a.pending(), null);
});

test('a reload during the wait carries on with the same key, or with the request the server has', async () => {
  const storage = memoryStorage();
  // First page: the command is sent and the server is overloaded; the tab
  // is reloaded during the wait (the sleep never returns).
  const first = server([answer(503, err('OVERLOADED'), { 'Retry-After': '5' })]);
  const reload = new Error('reloaded');
  const a1 = new Api({ fetch: first.fetch, storage, now: () => 0, getToken: () => 't', sleep: async () => { throw reload; } });
  const cmd = a1.startCommand('suspend', 'POST', '/v1/codes/me/suspend', undefined);
  await assert.rejects(a1.runCommand(cmd), reload);
  // Second page: the kept command is sent again with its key.
  const second = server([
    answer(202, { requestId: 'q2', status: 'queued', statusUrl: '/v1/requests/q2' }),
    answer(200, { requestId: 'q2', kind: 'suspend', status: 'queued', position: 3, estimatedWaitSeconds: 2 }),
  ]);
  const a2 = new Api({ fetch: second.fetch, storage, now: () => 0, getToken: () => 't', sleep: async () => { throw reload; } });
  const kept = a2.pending();
  assert.equal(kept.key, cmd.key);
  await assert.rejects(a2.runCommand(kept), reload);
  assert.equal(second.seen[0].headers['Idempotency-Key'], cmd.key);
  assert.equal(a2.pending().requestId, 'q2');
  // Third page: the server has it; only its status is read, nothing sent.
  const third = server([answer(200, { requestId: 'q2', kind: 'suspend', status: 'succeeded', code: 'P000000000001' })]);
  const a3 = new Api({ fetch: third.fetch, storage, now: () => 0, getToken: () => 't' });
  const out = await a3.runCommand(a3.pending());
  assert.equal(out.done, true);
  assert.deepEqual(third.seen.map((r) => r.method + ' ' + r.path), ['GET /v1/requests/q2']);
  assert.equal(a3.pending(), null);
});

test('a personal body is never kept; after a reload the page asks again', async () => {
  const storage = memoryStorage();
  const { a } = api(server([]), { storage });
  a.startCommand('issue', 'POST', '/v1/codes', { englishName: 'HONG GILDONG', phone: '01000000001' }, { personal: true });
  const raw = [...storage.map.values()].join('');
  assert.ok(!raw.includes('HONG') && !raw.includes('0100'), 'no personal data in storage: ' + raw);
  const out = await a.runCommand({ ...a.pending(), needsBody: true });
  assert.equal(out.lost, true);
});

test('a 401 tells the page the session ended', async () => {
  let ended = 0;
  const srv = server([answer(401, err('UNAUTHENTICATED'))]);
  const { a } = api(srv, { onUnauthenticated: () => { ended++; } });
  const res = await a.request('GET', '/v1/codes/me');
  assert.equal(res.status, 401);
  assert.equal(ended, 1);
});

test('polls follow the estimated wait, between 1 and 5 seconds', () => {
  assert.equal(pollDelay({ status: 'queued', estimatedWaitSeconds: 60 }), 5);
  assert.equal(pollDelay({ status: 'queued', estimatedWaitSeconds: 6 }), 2);
  assert.equal(pollDelay({ status: 'queued' }), 1);
  assert.equal(pollDelay({ status: 'processing' }), 1);
});

test('refreshSession posts the holder token and hands back the new one', async () => {
  const srv = server([answer(200, { sessionToken: 'tok2', expiresAt: '2026-12-03T10:15:00Z' })]);
  const { a } = api(srv);
  const next = await a.refreshSession();
  assert.deepEqual(next, { sessionToken: 'tok2', expiresAt: '2026-12-03T10:15:00Z' });
  assert.equal(srv.seen.length, 1);
  assert.equal(srv.seen[0].method, 'POST');
  assert.equal(srv.seen[0].path, '/v1/sessions/refresh');
  assert.equal(srv.seen[0].headers.Authorization, 'Bearer tok');
  assert.equal(srv.seen[0].body, undefined);
});

test('a refused refresh yields null, and a 401 ends the session', async () => {
  let ended = 0;
  const srv = server([answer(503, err('OVERLOADED'), { 'Retry-After': '2' }), answer(401, err('UNAUTHENTICATED'))]);
  const { a } = api(srv, { onUnauthenticated: () => { ended++; } });
  assert.equal(await a.refreshSession(), null);
  assert.equal(ended, 0);
  assert.equal(await a.refreshSession(), null);
  assert.equal(ended, 1);
});
