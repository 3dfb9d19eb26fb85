// Bad input over raw HTTP: malformed query strings, unknown names, broken bodies, wrong content
// types and SQL injection in every position. Each must be a 4xx with PostgREST's error body,
// and the database must be exactly as it was.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createFixture, rest } from './rest-fixture.mjs';
import { sql } from './harness.mjs';

/** A fingerprint of everything the injections aim at: row counts, contents, the tables that exist. */
async function fingerprint() {
  const { rows } = await sql(`
    SELECT
      (SELECT count(*) FROM js_rest_items) AS items,
      (SELECT string_agg(id || ':' || name || ':' || coalesce(qty::text, '-'), ',' ORDER BY id) FROM js_rest_items) AS item_rows,
      (SELECT string_agg(id || ':' || username || ':' || status, ',' ORDER BY id) FROM js_rest_users) AS users,
      (SELECT count(*) FROM js_rest_notes) AS notes,
      (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 'js_rest_%' AND relkind IN ('r', 'v')) AS relations,
      (SELECT count(*) FROM pg_roles) AS roles`);
  return rows[0];
}

let before_;
before(async () => {
  await createFixture();
  await sql("INSERT INTO js_rest_items (id, name, qty) VALUES (1, 'canary', 1), (2, 'canary', 2)");
  before_ = await fingerprint();
});

after(async () => {
  assert.deepEqual(await fingerprint(), before_, 'a bad request changed the database');
});

/** Asserts a PostgREST error response and returns its body. */
async function expectError(res, status, code) {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = JSON.parse(text);
  for (const k of ['code', 'message', 'details', 'hint']) assert.ok(k in body, `${k} missing from ${text}`);
  if (code) assert.equal(body.code, code, text);
  return body;
}

const json = (method, body, headers = {}) => ({
  method,
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('malformed query strings are 400 PGRST100', () => {
  const cases = [
    ['unknown operator', '/js_rest_users?id=noop.1'],
    ['operator without a value separator', '/js_rest_users?id=eq'],
    ['missing operator', '/js_rest_users?id=1'],
    ['unclosed logic tree', '/js_rest_users?or=(id.eq.1'],
    ['logic tree without parentheses', '/js_rest_users?or=id.eq.1'],
    ['bad condition in a logic tree', '/js_rest_users?or=(id.zz.1,id.eq.2)'],
    ['unclosed in list', '/js_rest_users?id=in.(1,2'],
    ['unbalanced select', '/js_rest_users?select=id,js_rest_cities(name'],
    ['select with a dangling comma and parenthesis', '/js_rest_users?select=id,)'],
    ['bad order direction', '/js_rest_users?order=id.sideways'],
    ['bad order nulls', '/js_rest_users?order=id.asc.nullsmiddle'],
    ['bad quantifier', '/js_rest_users?id=eq(some).{1,2}'],
    ['is with an unknown value', '/js_rest_users?age=is.maybe'],
    ['fts config with no closing parenthesis', '/js_rest_docs?tsv=fts(english.fox'],
  ];
  for (const [name, path] of cases) {
    test(name, async () => {
      const body = await expectError(await rest(path), 400);
      assert.ok(['PGRST100', 'PGRST103'].includes(body.code), `${path}: ${JSON.stringify(body)}`);
    });
  }

  test('a limit or offset that is not an integer is ignored, as PostgREST ignores it', async () => {
    for (const query of ['limit=abc', 'offset=-x', 'limit=1.5&offset=', 'offset=-1']) {
      const res = await rest(`/js_rest_users?select=id&order=id&${query}`);
      assert.equal(res.status, 200, query);
      assert.equal((await res.json()).length, 5, query);
    }
  });

  test('the message names the failing parameter', async () => {
    const body = await expectError(await rest('/js_rest_users?id=noop.1'), 400, 'PGRST100');
    assert.match(body.message, /failed to parse filter \(noop\.1\)/);
  });
});

describe('unknown names', () => {
  test('an unknown table is 404 PGRST205 with a hint', async () => {
    const body = await expectError(await rest('/js_rest_user'), 404, 'PGRST205');
    assert.equal(body.message, "Could not find the table 'public.js_rest_user' in the schema cache");
    assert.match(body.hint, /Perhaps you meant the table 'public\.js_rest_users'/);
    // A name that is not close (under PostgREST 14's score of 0.75) reveals nothing.
    const far = await expectError(await rest('/js_re'), 404, 'PGRST205');
    assert.equal(far.hint, null);
  });

  test('an unknown function is 404 PGRST202 with a hint', async () => {
    const body = await expectError(await rest('/rpc/js_rest_ad', json('POST', { a: 1, b: 2 })), 404, 'PGRST202');
    assert.equal(body.message, 'Could not find the function public.js_rest_ad(a, b) in the schema cache');
    assert.match(body.hint, /Perhaps you meant to call the function public\.js_rest_add/);
  });

  test('an unknown column in columns= or the body is 400 PGRST204', async () => {
    const viaColumns = await expectError(
      await rest('/js_rest_items?columns=id,nope', json('POST', [{ id: 9, nope: 1 }])),
      400,
      'PGRST204',
    );
    assert.equal(viaColumns.message, "Could not find the 'nope' column of 'js_rest_items' in the schema cache");
    await expectError(await rest('/js_rest_items', json('POST', { id: 9, name: 'x', nope: 1 })), 400, 'PGRST204');
    await expectError(await rest('/js_rest_items?id=eq.1', json('PATCH', { nope: 1 })), 400, 'PGRST204');
  });

  test('unknown columns in select, filters and order are 400 42703', async () => {
    for (const path of ['/js_rest_users?select=nope', '/js_rest_users?nope=eq.1', '/js_rest_users?order=nope']) {
      await expectError(await rest(path), 400, '42703');
    }
  });

  test('a filter on an embed that is not selected is 400 PGRST108', async () => {
    await expectError(await rest('/js_rest_users?select=id&js_rest_cities.name=eq.Paris'), 400, 'PGRST108');
  });

  test('an operator other than is.null on an embed is 400 PGRST120', async () => {
    await expectError(await rest('/js_rest_users?select=id,js_rest_cities(name)&js_rest_cities=eq.1'), 400, 'PGRST120');
  });

  test('a nested path is 404 PGRST125; an unsupported verb on RPC 405 PGRST101', async () => {
    await expectError(await rest('/js_rest_users/1'), 404, 'PGRST125');
    await expectError(await rest('/rpc/js_rest_add', { method: 'PATCH' }), 405, 'PGRST101');
  });

  test('an unknown Accept is 406 PGRST107', async () => {
    const body = await expectError(await rest('/js_rest_users', { headers: { accept: 'unknown/unknown' } }), 406, 'PGRST107');
    assert.equal(body.message, 'None of these media types are available: unknown/unknown');
  });
});

describe('bodies', () => {
  test('invalid JSON is 400 PGRST102', async () => {
    for (const bad of ['{', '{"id": 1,}', 'nope', '[1, 2']) {
      const body = await expectError(await rest('/js_rest_items', json('POST', bad)), 400, 'PGRST102');
      assert.equal(body.message, 'Empty or invalid json', bad);
    }
  });

  test('a JSON scalar is no rows, as PostgREST truncates it', async () => {
    for (const scalar of ['"just a string"', '42', 'null']) {
      const res = await rest('/js_rest_items', json('POST', scalar, { prefer: 'return=representation' }));
      assert.equal(res.status, 201, scalar);
      assert.deepEqual(await res.json(), [], scalar);
    }
  });

  test('objects with other keys need columns=', async () => {
    const mixed = [{ id: 9301, name: 'a' }, { id: 9302 }];
    const body = await expectError(await rest('/js_rest_items', json('POST', mixed)), 400, 'PGRST102');
    assert.equal(body.message, 'All object keys must match');
  });

  test('an empty body on insert or update is 400 PGRST102', async () => {
    await expectError(await rest('/js_rest_items', json('POST', '')), 400, 'PGRST102');
    await expectError(await rest('/js_rest_items?id=eq.1', json('PATCH', '')), 400, 'PGRST102');
  });

  test('an array of non-objects is 400 PGRST102', async () => {
    await expectError(await rest('/js_rest_items', json('POST', '[1, 2]')), 400, 'PGRST102');
  });

  test('a content type the endpoint does not take is 400 PGRST102', async () => {
    const res = await rest('/js_rest_items', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '{"id": 3, "name": "xml"}',
    });
    const body = await expectError(res, 400, 'PGRST102');
    assert.equal(body.message, 'Content-Type not acceptable: application/xml');
  });

  test('ragged CSV is 400 PGRST102', async () => {
    const res = await rest('/js_rest_items', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'id,name\n3,a,extra',
    });
    await expectError(res, 400, 'PGRST102');
  });

  test('a body over the size limit is 413 with a JSON error', async () => {
    const big = Buffer.alloc(51 * 1024 * 1024, 0x20);
    const res = await rest('/js_rest_items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    assert.equal(res.status, 413);
    const body = JSON.parse(await res.text());
    assert.ok(body.message, JSON.stringify(body));
    assert.ok('code' in body);
  });

  test('wrong value types are 400 with the PostgreSQL code', async () => {
    await expectError(await rest('/js_rest_items', json('POST', { id: 'seven', name: 'x' })), 400, '22P02');
    await expectError(await rest('/rpc/js_rest_add', json('POST', { a: 'x', b: 1 })), 400, '22P02');
  });
});

describe('SQL injection is inert in every position', () => {
  const payloads = [
    "1; DROP TABLE js_rest_items; --",
    "1' OR '1'='1",
    "1) OR (1=1",
    '1"; DELETE FROM js_rest_items; --',
    "$$; DELETE FROM js_rest_items; $$",
    "1 UNION SELECT usename FROM pg_user --",
  ];
  const enc = encodeURIComponent;

  test('filter values', async () => {
    for (const p of payloads) {
      const res = await rest(`/js_rest_items?id=eq.${enc(p)}`);
      assert.ok(res.status === 400 || res.status === 200, `${p}: ${res.status}`);
      if (res.status === 200) assert.deepEqual(await res.json(), []);
      else await expectError(res, 400);
      const byName = await rest(`/js_rest_items?name=eq.${enc(p)}`);
      assert.equal(byName.status, 200);
      assert.deepEqual(await byName.json(), []);
      const inList = await rest(`/js_rest_items?name=in.(${enc(`"${p.replaceAll('"', '\\"')}"`)})`);
      assert.equal(inList.status, 200, p);
      assert.deepEqual(await inList.json(), []);
      const likes = await rest(`/js_rest_items?name=like.${enc(p)}`);
      assert.deepEqual(await likes.json(), []);
    }
  });

  test('column names in filters, select, order and columns=', async () => {
    const idents = ['id;DROP TABLE js_rest_items', 'id"--', 'name) OR (1=1', '"id" OR 1=1', 'pg_sleep(1)'];
    for (const ident of idents) {
      for (const path of [
        `/js_rest_items?${enc(ident)}=eq.1`,
        `/js_rest_items?select=${enc(ident)}`,
        `/js_rest_items?order=${enc(ident)}`,
        `/js_rest_items?select=id&order=${enc(ident)}.desc`,
      ]) {
        const res = await rest(path);
        assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
        await expectError(res, res.status);
      }
      const cols = await rest(`/js_rest_items?columns=${enc(ident)}`, json('POST', [{ id: 5, name: 'x' }]));
      assert.ok(cols.status >= 400 && cols.status < 500, `${ident}: ${cols.status}`);
    }
  });

  test('table and function names', async () => {
    for (const name of ['js_rest_items;DROP TABLE js_rest_users', 'js_rest_items"--', "pg_catalog.pg_roles", '../js_rest_items']) {
      const table = await rest(`/${enc(name)}`);
      assert.ok([404, 400].includes(table.status), `${name}: ${table.status}`);
      await expectError(table, table.status);
      const fn = await rest(`/rpc/${enc(name)}`, json('POST', {}));
      assert.ok([404, 400].includes(fn.status), `${name}: ${fn.status}`);
    }
  });

  test('JSON paths and casts', async () => {
    for (const path of [
      `/js_rest_users?select=profile->>${enc("lang'; DROP TABLE js_rest_items; --")}`,
      `/js_rest_users?profile->>${enc("x') OR 1=1 --")}=eq.fr`,
      `/js_rest_users?order=profile->>${enc("lang'); DELETE FROM js_rest_items; --")}`,
      `/js_rest_users?select=id::${enc('text); DROP TABLE js_rest_items; --')}`,
      `/js_rest_users?select=id::${enc('int4 FROM js_rest_items; --')}`,
    ]) {
      const res = await rest(path);
      if (res.status === 200) {
        // A JSON key that does not exist is simply null, as in PostgREST.
        const rows = await res.json();
        assert.ok(Array.isArray(rows));
      } else {
        assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
        await expectError(res, res.status);
      }
    }
  });

  test('body keys and values, RPC arguments, and headers', async () => {
    const keyed = await rest('/js_rest_items', json('POST', { 'name"); DROP TABLE js_rest_items; --': 'x', id: 7 }));
    await expectError(keyed, 400, 'PGRST204');
    const valued = await rest('/js_rest_items?id=eq.1', json('PATCH', { name: "canary'; DROP TABLE js_rest_items; --" }));
    assert.equal(valued.status, 204);
    await sql("UPDATE js_rest_items SET name = 'canary' WHERE id = 1");
    const arg = await rest('/rpc/js_rest_echo', json('POST', { payload: "'); DROP TABLE js_rest_items; --" }));
    assert.equal(arg.status, 200);
    assert.deepEqual(await arg.json(), { got: "'); DROP TABLE js_rest_items; --" });
    const badArgName = await rest('/rpc/js_rest_add', json('POST', { 'a := 1); DROP TABLE js_rest_items; --': 1, b: 2 }));
    await expectError(badArgName, 404, 'PGRST202');
    const profile = await rest('/js_rest_items', { headers: { 'accept-profile': 'public; DROP TABLE js_rest_items' } });
    await expectError(profile, 406, 'PGRST106');
    // A time zone PostgreSQL does not name is ignored, as PostgREST ignores it.
    const tz = await rest('/js_rest_items', { headers: { prefer: "timezone=UTC'; DROP TABLE js_rest_items; --" } });
    assert.equal(tz.status, 200);
    assert.equal(tz.headers.get('preference-applied'), null);
    const strictTz = await rest('/js_rest_items', { headers: { prefer: 'handling=strict, timezone=Bad/Zone' } });
    const strictBody = await expectError(strictTz, 400, 'PGRST122');
    assert.equal(strictBody.details, 'Invalid preferences: timezone=Bad/Zone');
    const knownTz = await rest('/js_rest_items', { headers: { prefer: 'timezone=America/Los_Angeles' } });
    assert.equal(knownTz.status, 200);
    assert.equal(knownTz.headers.get('preference-applied'), 'timezone=America/Los_Angeles');
    const onConflict = await rest(`/js_rest_items?on_conflict=${enc('id) DO NOTHING; DROP TABLE js_rest_items; --')}`, json('POST', { id: 1, name: 'canary' }, { prefer: 'resolution=merge-duplicates' }));
    assert.ok(onConflict.status >= 400 && onConflict.status < 500, String(onConflict.status));
  });
});
