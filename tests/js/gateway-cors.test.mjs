// MADBASE_CORS_ALLOWED_ORIGINS: only listed origins get CORS headers, so a browser on another
// origin is refused the answer. Runs its own `madbase dev` with a list set.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDev } from './harness.mjs';

let dev;

before(async () => {
  dev = await startDev({
    env: { MADBASE_CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000' },
  });
});

after(async () => {
  await dev?.stop();
});

const call = (origin, init = {}) =>
  fetch(`${dev.url}/rest/v1/`, {
    ...init,
    headers: { apikey: dev.anonKey, ...(origin ? { origin } : {}), ...init.headers },
  });

test('a listed origin gets its CORS headers, for requests and preflights', async () => {
  for (const origin of ['https://app.example.com', 'http://localhost:3000']) {
    const res = await call(origin);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('access-control-expose-headers'), /Content-Range/);
    assert.match(res.headers.get('vary'), /Origin/);
  }
  const pre = await call('https://app.example.com', {
    method: 'OPTIONS',
    headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey, content-type' },
  });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
});

test('another origin, or none, gets no CORS headers', async () => {
  for (const origin of ['https://evil.example', 'http://localhost:3001', null]) {
    const res = await call(origin);
    // The request itself is served; the browser withholds the answer from the page.
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null, String(origin));
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  }
  const pre = await call('https://evil.example', {
    method: 'OPTIONS',
    headers: { 'access-control-request-method': 'DELETE' },
  });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  assert.equal(pre.headers.get('access-control-allow-methods'), null);
});
