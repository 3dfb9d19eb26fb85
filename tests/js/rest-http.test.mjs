// The data API's HTTP contract as seen on the wire: Content-Range and the 200/206/416 statuses,
// counts on HEAD, Preference-Applied, singular and CSV media types, `+` decoding, OPTIONS,
// the Proxy-Status on errors, and request targets sent unencoded.

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { anon, createFixture, mb, rest } from './rest-fixture.mjs';

before(createFixture);

test('Content-Range without a count: 0-4/* and 200', async () => {
  const res = await rest('/js_rest_users?select=id&order=id');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), '0-4/*');
  assert.match(res.headers.get('content-type'), /^application\/json; charset=utf-8/);
  assert.equal((await res.json()).length, 5);
});

test('Content-Range with an exact count: 206 for a partial page, 200 for all of it', async () => {
  const partial = await rest('/js_rest_users?select=id&order=id&offset=1&limit=2', { headers: { prefer: 'count=exact' } });
  assert.equal(partial.status, 206);
  assert.equal(partial.headers.get('content-range'), '1-2/5');
  assert.match(partial.headers.get('preference-applied') ?? '', /count=exact/);
  const full = await rest('/js_rest_users?select=id', { headers: { prefer: 'count=exact' } });
  assert.equal(full.status, 200);
  assert.equal(full.headers.get('content-range'), '0-4/5');
});

test('Content-Range for no rows: */0 with a count, */* without', async () => {
  const counted = await rest('/js_rest_users?id=eq.99', { headers: { prefer: 'count=exact' } });
  assert.equal(counted.status, 200);
  assert.equal(counted.headers.get('content-range'), '*/0');
  assert.deepEqual(await counted.json(), []);
  const bare = await rest('/js_rest_users?id=eq.99');
  assert.equal(bare.headers.get('content-range'), '*/*');
});

test('an offset past the end is 416 PGRST103 with a count', async () => {
  const res = await rest('/js_rest_users?offset=10', { headers: { prefer: 'count=exact' } });
  assert.equal(res.status, 416);
  const body = await res.json();
  assert.equal(body.code, 'PGRST103');
  assert.equal(body.message, 'Requested range not satisfiable');
  assert.equal(body.details, 'An offset of 10 was requested, but there are only 5 rows.');
});

test('the Range header works like limit and offset', async () => {
  const res = await rest('/js_rest_users?select=id&order=id', { headers: { range: '1-3', 'range-unit': 'items', prefer: 'count=exact' } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), '1-3/5');
  assert.deepEqual(await res.json(), [{ id: 2 }, { id: 3 }, { id: 4 }]);
});

test('the widest Range is every row', async () => {
  const res = await rest('/js_rest_users?select=id&order=id', { headers: { range: '0-9223372036854775807' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), '0-4/*');
  assert.equal((await res.json()).length, 5);
});

test('the key as an `apikey` URL parameter is the gateway\'s, not a filter', async () => {
  const res = await fetch(`${mb.url}/rest/v1/js_rest_users?select=id&apikey=${mb.anonKey}&order=id&limit=2`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), [{ id: 1 }, { id: 2 }]);
  const wrong = await fetch(`${mb.url}/rest/v1/js_rest_users?apikey=not-a-key`);
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).message, 'Invalid API key');
});

test('HEAD returns the headers and no body', async () => {
  const res = await rest('/js_rest_users?select=id', { method: 'HEAD', headers: { prefer: 'count=exact' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-range'), '0-4/5');
  // Like PostgREST, no Content-Length: 0 would not be the length of the GET's body.
  assert.equal(res.headers.get('content-length'), null);
  assert.equal(await res.text(), '');
});

test('Preference-Applied echoes what was honoured on writes', async () => {
  const res = await rest('/js_rest_items?columns=id,name', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      prefer: 'return=representation, count=exact, missing=default, resolution=merge-duplicates',
    },
    body: JSON.stringify([{ id: 600, name: 'pa' }]),
  });
  assert.equal(res.status, 201);
  const applied = (res.headers.get('preference-applied') ?? '').split(',').map((s) => s.trim());
  for (const p of ['return=representation', 'count=exact', 'missing=default', 'resolution=merge-duplicates']) {
    assert.ok(applied.includes(p), `${p} not in ${applied}`);
  }
  assert.equal(res.headers.get('content-range'), '*/1');
  assert.deepEqual(await res.json(), [{ id: 600, sku: null, name: 'pa', qty: 7, note: 'none' }]);
  const minimal = await rest('/js_rest_items', {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'return=minimal' },
    body: JSON.stringify({ id: 601, name: 'pa' }),
  });
  assert.equal(minimal.status, 201);
  assert.equal(await minimal.text(), '');
  const headersOnly = await rest('/js_rest_items', {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'return=headers-only' },
    body: JSON.stringify({ id: 602, name: 'pa' }),
  });
  assert.equal(headersOnly.status, 201);
  assert.equal(headersOnly.headers.get('location'), '/js_rest_items?id=eq.602');
});

test('handling=strict rejects unknown preferences with 400 PGRST122', async () => {
  const res = await rest('/js_rest_users', { headers: { prefer: 'handling=strict, foo=bar' } });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.code, 'PGRST122');
  assert.equal(body.details, 'Invalid preferences: foo=bar');
  const lenient = await rest('/js_rest_users?select=id&limit=1', { headers: { prefer: 'foo=bar' } });
  assert.equal(lenient.status, 200);
});

test('`+` in a query value is a space; %2B is a plus', async () => {
  const plus = await rest('/js_rest_users?select=id&username=eq.eve+smith');
  assert.deepEqual(await plus.json(), [{ id: 5 }]);
  const pct = await rest('/js_rest_users?select=id&username=eq.eve%20smith');
  assert.deepEqual(await pct.json(), [{ id: 5 }]);
  // A text argument by GET: the function raises with what it received.
  const spaced = await rest('/rpc/js_rest_fail?msg=a+b');
  assert.equal((await spaced.json()).message, 'a b');
  const literal = await rest('/rpc/js_rest_fail?msg=a%2Bb');
  assert.equal((await literal.json()).message, 'a+b');
});

test('the singular media type gives an object, 406 otherwise', async () => {
  const one = await rest('/js_rest_countries?id=eq.1&select=code', { headers: { accept: 'application/vnd.pgrst.object+json' } });
  assert.equal(one.status, 200);
  assert.match(one.headers.get('content-type'), /application\/vnd\.pgrst\.object\+json/);
  assert.deepEqual(await one.json(), { code: 'FR' });
  const many = await rest('/js_rest_countries', { headers: { accept: 'application/vnd.pgrst.object+json' } });
  assert.equal(many.status, 406);
  assert.equal((await many.json()).code, 'PGRST116');
});

test('CSV out and CSV in', async () => {
  const out = await rest('/js_rest_countries?select=id,name&order=id', { headers: { accept: 'text/csv' } });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('content-type'), /^text\/csv/);
  assert.equal((await out.text()).trimEnd(), 'id,name\n1,France\n2,Japan\n3,Chile');
  const ins = await rest('/js_rest_items', {
    method: 'POST',
    headers: { 'content-type': 'text/csv', prefer: 'return=representation' },
    body: 'id,name,note\n610,from csv,NULL\n611,"quoted, comma",x',
  });
  assert.equal(ins.status, 201, await ins.clone().text());
  assert.deepEqual(
    (await ins.json()).map((r) => [r.id, r.name, r.note]),
    [[610, 'from csv', null], [611, 'quoted, comma', 'x']],
  );
});

test('OPTIONS lists the allowed methods', async () => {
  const table = await rest('/js_rest_items', { method: 'OPTIONS' });
  assert.equal(table.status, 200);
  assert.equal(table.headers.get('allow'), 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE');
});

test('PUT upserts one row addressed by its whole primary key', async () => {
  const put = await rest('/js_rest_items?id=eq.620', {
    method: 'PUT',
    headers: { 'content-type': 'application/json', prefer: 'return=representation' },
    body: JSON.stringify({ id: 620, name: 'put', qty: 1, note: 'n', sku: null }),
  });
  assert.ok(put.status === 200 || put.status === 201, String(put.status));
  assert.deepEqual(await put.json(), [{ id: 620, sku: null, name: 'put', qty: 1, note: 'n' }]);
  const noPk = await rest('/js_rest_items?name=eq.put', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 620, name: 'put' }),
  });
  assert.equal(noPk.status, 405);
  assert.equal((await noPk.json()).code, 'PGRST105');
  const mismatch = await rest('/js_rest_items?id=eq.620', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 621, name: 'put' }),
  });
  assert.equal(mismatch.status, 400);
  assert.equal((await mismatch.json()).code, 'PGRST115');
});

test('error responses carry Proxy-Status and the PostgREST body', async () => {
  const res = await rest('/js_rest_nothing');
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('proxy-status'), 'PostgREST; error=PGRST205');
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ['code', 'details', 'hint', 'message']);
});

test('the OpenAPI document lists the fixture', async () => {
  const res = await fetch(`${mb.url}/rest/v1/`, { headers: { apikey: mb.anonKey } });
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.swagger, '2.0');
  assert.ok(doc.paths['/js_rest_users'], 'table path missing');
  assert.ok(doc.paths['/rpc/js_rest_add'], 'function path missing');
  assert.ok(doc.definitions.js_rest_users.properties.username);
  // Where the API is (the project's external URL), so a client generated from the document
  // calls the data API rather than the site root.
  assert.equal(doc.basePath, '/rest/v1');
  assert.equal(doc.schemes.length, 1);
  assert.ok(doc.host, 'host missing');
});

test('reads carry Content-Location with the canonical (sorted, re-encoded) query', async () => {
  const res = await rest('/js_rest_users?select=id,username&username=eq.eve+smith&id=gt.1&id=lt.9');
  assert.equal(res.status, 200);
  assert.equal(
    res.headers.get('content-location'),
    '/js_rest_users?id=gt.1,lt.9&select=id%2Cusername&username=eq.eve%20smith',
  );
  const bare = await rest('/js_rest_users', { method: 'HEAD' });
  assert.equal(bare.headers.get('content-location'), '/js_rest_users');
});

test('OPTIONS answers per relation and function', async () => {
  const view = await rest('/js_rest_user_cities', { method: 'OPTIONS' });
  assert.equal(view.status, 200);
  assert.equal(view.headers.get('allow'), 'OPTIONS,GET,HEAD');
  const volatile = await rest('/rpc/js_rest_noop', { method: 'OPTIONS' });
  assert.equal(volatile.headers.get('allow'), 'OPTIONS,POST');
  const stable = await rest('/rpc/js_rest_add', { method: 'OPTIONS' });
  assert.equal(stable.headers.get('allow'), 'OPTIONS,GET,HEAD,POST');
  const missing = await rest('/js_rest_nope', { method: 'OPTIONS' });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, 'PGRST205');
});

test('the OpenAPI document follows the privileges of the role', async () => {
  const paths = async (key) => {
    const res = await rest('/', { headers: { apikey: key, authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/openapi\+json/);
    return Object.keys((await res.json()).paths);
  };
  const anonPaths = await paths(mb.anonKey);
  assert.ok(anonPaths.includes('/js_rest_users'));
  assert.ok(anonPaths.includes('/rpc/js_rest_add'));
  assert.ok(!anonPaths.includes('/js_rest_vault'));
  assert.ok(!anonPaths.includes('/rpc/js_rest_admin'));
  const servicePaths = await paths(mb.serviceKey);
  assert.ok(servicePaths.includes('/js_rest_vault'));
  assert.ok(servicePaths.includes('/rpc/js_rest_admin'));
});

test('getOpenApiSpec() reads the description of the exposed schema; an unknown schema is PGRST106', async () => {
  const { data, error, status } = await anon.getOpenApiSpec();
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(status, 200);
  assert.equal(data.swagger, '2.0');
  assert.ok('/js_rest_users' in data.paths);
  assert.ok(!('/js_rest_vault' in data.paths));
  const other = await anon.schema('js_rest_nowhere').getOpenApiSpec();
  assert.equal(other.status, 406);
  assert.equal(other.data, null);
  assert.equal(other.error.code, 'PGRST106');
  assert.match(other.error.message, /Invalid schema: js_rest_nowhere/);
});

/// Sends `raw` on one connection and returns what came back once `responses` answers arrived
/// (each ends with its JSON body, whose length Content-Length gives).
function exchange(raw, responses) {
  const { hostname, port } = new URL(mb.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      const answers = [...text.matchAll(/content-length: (\d+)\r\n[\s\S]*?\r\n\r\n/gi)];
      const complete = answers.length >= responses
        && text.length >= answers[responses - 1].index + answers[responses - 1][0].length + Number(answers[responses - 1][1]);
      if (complete) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
    setTimeout(() => { socket.destroy(); reject(new Error(`no answer: ${text}`)); }, 10_000);
  });
}

test('raw ", <, > and ` in a request target work as PostgREST takes them (curl sends ->> as it is)', async () => {
  const key = `apikey: ${mb.anonKey}\r\nauthorization: Bearer ${mb.anonKey}`;
  const body = '{"username":"GET /rest/v1/x?a=<b> HTTP/1.1"}';
  const text = await exchange(
    `GET /rest/v1/js_rest_users?select=id,lang:profile->>lang&profile->>lang=eq.fr&order=id HTTP/1.1\r\nhost: x\r\n${key}\r\n\r\n`
      // A body with a request line in it is a body; the request after it is read as one.
      + `POST /rest/v1/rpc/js_rest_echo HTTP/1.1\r\nhost: x\r\n${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length + 12}\r\n\r\n{"payload":${body}}`
      + `GET /rest/v1/js_rest_users?select=id&username=in.("ada","eve%20smith")&bio=not.like.*<*&order=id HTTP/1.1\r\nhost: x\r\n${key}\r\n\r\n`,
    3,
  );
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200, 200], text);
  assert.ok(text.includes('[{"id":1,"lang":"fr"}, \n {"id":5,"lang":"fr"}]'), text);
  assert.ok(text.includes('{"got": {"username": "GET /rest/v1/x?a=<b> HTTP/1.1"}}'), text);
  assert.ok(text.includes('[{"id":1}, \n {"id":5}]'), text);
});

test('a bearer without a token is refused, not taken for anonymous', async () => {
  for (const authorization of ['Bearer ', 'Bearer']) {
    const res = await rest('/js_rest_users?select=id', { headers: { apikey: mb.anonKey, authorization } });
    assert.equal(res.status, 401, authorization);
    const body = await res.json();
    assert.equal(body.code, 'PGRST301');
    assert.equal(body.message, 'Empty JWT is sent in Authorization header');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
  }
});

test('madbase dev caps reads at 1000 rows, as a Supabase project does', async () => {
  const res = await rest('/rpc/js_rest_series?n=1500');
  assert.equal(res.status, 200);
  assert.equal((await res.json()).length, 1000);
  const few = await rest('/rpc/js_rest_series?n=3');
  assert.deepEqual(await few.json(), [1, 2, 3]);
});
