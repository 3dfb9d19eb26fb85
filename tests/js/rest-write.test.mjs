// Writes through supabase-js: insert, upsert, update and delete with their options, the
// singular-response rollback, max-affected, row level security per role, and conflicts.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { anon, createFixture, mb, rest, service, signJwt, userClient } from './rest-fixture.mjs';
import { sql } from './harness.mjs';
import { createHmac } from 'node:crypto';

before(createFixture);

async function itemRows(ids) {
  const { rows } = await sql('SELECT id, sku, name, qty, note FROM js_rest_items WHERE id = ANY($1) ORDER BY id', [ids]);
  return rows;
}

describe('insert', () => {
  test('one row: 201, no body unless selected', async () => {
    const plain = await anon.from('js_rest_items').insert({ id: 100, name: 'plain' });
    assert.equal(plain.error, null, JSON.stringify(plain.error));
    assert.equal(plain.status, 201);
    assert.equal(plain.data, null);
    const rep = await anon.from('js_rest_items').insert({ id: 101, name: 'rep' }).select();
    assert.equal(rep.status, 201);
    assert.deepEqual(rep.data, [{ id: 101, sku: null, name: 'rep', qty: 7, note: 'none' }]);
    const one = await anon.from('js_rest_items').insert({ id: 102, name: 'single' }).select('id, name').single();
    assert.deepEqual(one.data, { id: 102, name: 'single' });
    assert.deepEqual(await itemRows([100]), [{ id: 100, sku: null, name: 'plain', qty: 7, note: 'none' }]);
  });

  test('bulk rows with different keys: missing ones are NULL, or DEFAULT with defaultToNull: false', async () => {
    const nulls = await anon.from('js_rest_items').insert([{ id: 110, name: 'a' }, { id: 111, name: 'b', qty: 3 }]);
    assert.equal(nulls.error, null, JSON.stringify(nulls.error));
    const defaults = await anon
      .from('js_rest_items')
      .insert([{ id: 112, name: 'c' }, { id: 113, name: 'd', qty: 3 }], { defaultToNull: false });
    assert.equal(defaults.error, null, JSON.stringify(defaults.error));
    // `note` is in no row, so it is not among the columns sent and keeps its default either way.
    const rows = await itemRows([110, 111, 112, 113]);
    assert.deepEqual(rows.map((r) => [r.id, r.qty, r.note]), [[110, null, 'none'], [111, 3, 'none'], [112, 7, 'none'], [113, 3, 'none']]);
  });

  test('count on insert', async () => {
    const { count, status, error } = await anon
      .from('js_rest_items')
      .insert([{ id: 120, name: 'x' }, { id: 121, name: 'y' }], { count: 'exact' });
    assert.equal(error, null);
    assert.equal(status, 201);
    assert.equal(count, 2);
  });

  test('a unique violation is 409 23505; a foreign key violation 409 23503', async () => {
    await anon.from('js_rest_items').insert({ id: 130, sku: 'dup', name: 'first' });
    const dup = await anon.from('js_rest_items').insert({ id: 131, sku: 'dup', name: 'second' });
    assert.equal(dup.status, 409);
    assert.equal(dup.error.code, '23505');
    assert.match(dup.error.message, /duplicate key value violates unique constraint/);
    assert.match(dup.error.details, /Key \(sku\)=\(dup\) already exists/);
    const fk = await service.from('js_rest_messages').insert({ id: 900, message: 'lost', channel_id: 999 });
    assert.equal(fk.status, 409);
    assert.equal(fk.error.code, '23503');
    assert.deepEqual(await itemRows([131]), []);
  });

  test('a NOT NULL violation is 400 23502', async () => {
    const { error, status } = await anon.from('js_rest_items').insert({ id: 140 });
    assert.equal(status, 400);
    assert.equal(error.code, '23502');
  });
});

describe('upsert', () => {
  test('merge on the primary key', async () => {
    await anon.from('js_rest_items').insert({ id: 200, name: 'old', qty: 1 });
    const { data, error, status } = await anon.from('js_rest_items').upsert({ id: 200, name: 'new', qty: 2 }).select();
    assert.equal(error, null, JSON.stringify(error));
    assert.ok(status === 200 || status === 201, String(status));
    assert.deepEqual(data, [{ id: 200, sku: null, name: 'new', qty: 2, note: 'none' }]);
    const inserted = await anon.from('js_rest_items').upsert({ id: 201, name: 'fresh' }).select('id');
    assert.equal(inserted.status, 201);
  });

  test('onConflict on a unique column, and ignoreDuplicates', async () => {
    await anon.from('js_rest_items').insert({ id: 210, sku: 'sku-210', name: 'orig' });
    const merged = await anon
      .from('js_rest_items')
      .upsert({ id: 210, sku: 'sku-210', name: 'merged' }, { onConflict: 'sku' })
      .select('name');
    assert.equal(merged.error, null, JSON.stringify(merged.error));
    assert.deepEqual(merged.data, [{ name: 'merged' }]);
    const ignored = await anon
      .from('js_rest_items')
      .upsert([{ id: 210, sku: 'sku-210', name: 'ignored' }, { id: 211, sku: 'sku-211', name: 'added' }], {
        onConflict: 'sku',
        ignoreDuplicates: true,
      })
      .select('id');
    assert.equal(ignored.error, null, JSON.stringify(ignored.error));
    assert.deepEqual(ignored.data, [{ id: 211 }]);
    assert.deepEqual((await itemRows([210, 211])).map((r) => r.name), ['merged', 'added']);
  });

  test('defaultToNull: false keeps defaults for missing keys in a bulk upsert', async () => {
    const { error } = await anon
      .from('js_rest_items')
      .upsert([{ id: 220, name: 'a' }, { id: 221, name: 'b', note: 'set' }], { defaultToNull: false });
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual((await itemRows([220, 221])).map((r) => r.note), ['none', 'set']);
  });

  test('count on upsert', async () => {
    const { count, error } = await anon
      .from('js_rest_items')
      .upsert([{ id: 230, name: 'a' }, { id: 231, name: 'b' }], { count: 'exact' });
    assert.equal(error, null);
    assert.equal(count, 2);
  });
});

describe('update and delete', () => {
  test('update: 204 by default, rows with select, count', async () => {
    await anon.from('js_rest_items').insert([{ id: 300, name: 'u1' }, { id: 301, name: 'u2' }, { id: 302, name: 'u3' }]);
    const quiet = await anon.from('js_rest_items').update({ qty: 1 }).eq('id', 300);
    assert.equal(quiet.error, null);
    assert.equal(quiet.status, 204);
    assert.equal(quiet.data, null);
    const rep = await anon.from('js_rest_items').update({ qty: 2 }).in('id', [301, 302]).select('id, qty').order('id');
    assert.equal(rep.status, 200);
    assert.deepEqual(rep.data, [{ id: 301, qty: 2 }, { id: 302, qty: 2 }]);
    const counted = await anon.from('js_rest_items').update({ note: 'n' }, { count: 'exact' }).gte('id', 300).lte('id', 302);
    assert.equal(counted.count, 3);
    const none = await anon.from('js_rest_items').update({ qty: 9 }).eq('id', -1).select();
    assert.deepEqual(none.data, []);
  });

  test('delete: 204 by default, rows with select, count', async () => {
    await anon.from('js_rest_items').insert([{ id: 310, name: 'd1' }, { id: 311, name: 'd2' }, { id: 312, name: 'd3' }]);
    const quiet = await anon.from('js_rest_items').delete().eq('id', 310);
    assert.equal(quiet.status, 204);
    const rep = await anon.from('js_rest_items').delete().eq('id', 311).select('name');
    assert.equal(rep.status, 200);
    assert.deepEqual(rep.data, [{ name: 'd2' }]);
    const counted = await anon.from('js_rest_items').delete({ count: 'exact' }).eq('id', 312);
    assert.equal(counted.count, 1);
    assert.deepEqual(await itemRows([310, 311, 312]), []);
  });

  test('.single() on a write touching other than one row is 406 PGRST116 and rolls back', async () => {
    await anon.from('js_rest_items').insert([{ id: 320, name: 's1' }, { id: 321, name: 's2' }]);
    const upd = await anon.from('js_rest_items').update({ name: 'changed' }).in('id', [320, 321]).select().single();
    assert.equal(upd.status, 406);
    assert.equal(upd.error.code, 'PGRST116');
    assert.equal(upd.error.details, 'The result contains 2 rows');
    assert.deepEqual((await itemRows([320, 321])).map((r) => r.name), ['s1', 's2']);

    const ins = await anon.from('js_rest_items').insert([{ id: 322, name: 'a' }, { id: 323, name: 'b' }]).select().single();
    assert.equal(ins.status, 406);
    assert.deepEqual(await itemRows([322, 323]), []);

    const del = await anon.from('js_rest_items').delete().in('id', [320, 321]).select().single();
    assert.equal(del.status, 406);
    assert.equal((await itemRows([320, 321])).length, 2);

    const zero = await anon.from('js_rest_items').delete().eq('id', -5).select().single();
    assert.equal(zero.status, 406);
    assert.equal(zero.error.details, 'The result contains 0 rows');
    const check = await service.from('js_rest_items').select('id').in('id', [320, 321]);
    assert.equal(check.data.length, 2);
  });

  test('maxAffected: exceeding it is 400 PGRST124 and rolls back', async () => {
    await anon.from('js_rest_items').insert([{ id: 330, name: 'm' }, { id: 331, name: 'm' }, { id: 332, name: 'm' }]);
    const over = await anon.from('js_rest_items').update({ name: 'over' }).eq('name', 'm').maxAffected(2);
    assert.equal(over.status, 400);
    assert.equal(over.error.code, 'PGRST124');
    assert.equal(over.error.details, 'The query affects 3 rows');
    assert.deepEqual((await itemRows([330, 331, 332])).map((r) => r.name), ['m', 'm', 'm']);
    const within = await anon.from('js_rest_items').delete().eq('id', 330).maxAffected(1);
    assert.equal(within.error, null, JSON.stringify(within.error));
  });

  test('rollback() is ignored while db-tx-end does not allow overrides', async () => {
    const res = await rest('/js_rest_items', {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'tx=rollback' },
      body: JSON.stringify({ id: 340, name: 'kept' }),
    });
    assert.equal(res.status, 201);
    assert.doesNotMatch(res.headers.get('preference-applied') ?? '', /tx=/);
    assert.equal((await itemRows([340])).length, 1);
    const viaClient = await anon.from('js_rest_items').insert({ id: 341, name: 'kept' }).rollback();
    assert.equal(viaClient.error, null);
    assert.equal((await itemRows([341])).length, 1);
  });
});

describe('row level security', () => {
  test('anon: a denied insert is 401 42501', async () => {
    const { error, status } = await anon.from('js_rest_notes').insert({ body: 'hi', owner: '00000000-0000-0000-0000-000000000001' });
    assert.equal(status, 401);
    assert.equal(error.code, '42501');
    assert.equal(error.message, 'new row violates row-level security policy for table "js_rest_notes"');
  });

  test('a signed-in user: a denied insert is 403 42501; own rows are visible only to the owner', async () => {
    const alice = userClient();
    const bob = userClient();
    const denied = await alice.client.from('js_rest_notes').insert({ body: 'forged', owner: bob.sub });
    assert.equal(denied.status, 403);
    assert.equal(denied.error.code, '42501');

    const mine = await alice.client.from('js_rest_notes').insert({ body: 'mine' }).select('body, owner').single();
    assert.equal(mine.error, null, JSON.stringify(mine.error));
    assert.deepEqual(mine.data, { body: 'mine', owner: alice.sub });

    const aliceSees = await alice.client.from('js_rest_notes').select('body');
    assert.deepEqual(aliceSees.data, [{ body: 'mine' }]);
    const bobSees = await bob.client.from('js_rest_notes').select('body');
    assert.deepEqual(bobSees.data, []);
    const anonSees = await anon.from('js_rest_notes').select('body');
    assert.deepEqual(anonSees.data, []);
    // Bob's update and delete match no rows; Alice's note is untouched.
    const bobUpd = await bob.client.from('js_rest_notes').update({ body: 'hacked' }).eq('owner', alice.sub).select();
    assert.deepEqual(bobUpd.data, []);
    const { rows } = await sql('SELECT body FROM js_rest_notes WHERE owner = $1', [alice.sub]);
    assert.deepEqual(rows, [{ body: 'mine' }]);
    // The service role bypasses row level security.
    const all = await service.from('js_rest_notes').select('body', { count: 'exact', head: true });
    assert.equal(all.count, 1);
  });

  test('a role without the table privilege: 401 for anon, 403 for a user', async () => {
    await sql('REVOKE ALL ON js_rest_orders FROM anon, authenticated');
    try {
      const a = await anon.from('js_rest_orders').select('*');
      assert.equal(a.status, 401);
      assert.equal(a.error.code, '42501');
      assert.match(a.error.message, /permission denied for table js_rest_orders/);
      const u = await userClient().client.from('js_rest_orders').select('*');
      assert.equal(u.status, 403);
      assert.equal(u.error.code, '42501');
    } finally {
      await sql('GRANT SELECT ON js_rest_orders TO anon, authenticated');
    }
  });

  test('a token may only name a role authenticator can switch to, as PostgREST logs in as it', async () => {
    // A signed token naming a role outside authenticator's memberships is refused by
    // PostgreSQL.
    const now = Math.floor(Date.now() / 1000);
    const as = (role) => rest('/js_rest_vault', { headers: { authorization: `Bearer ${signJwt({ role, exp: now + 60 }, mb.jwtSecret)}` } });
    for (const role of ['postgres', 'authenticator_owner_probe']) {
      const res = await as(role);
      const body = await res.json();
      if (role === 'postgres') {
        assert.equal(res.status, 403);
        assert.deepEqual(body, { code: '42501', details: null, hint: null, message: 'permission denied to set role "postgres"' });
      } else {
        assert.equal(res.status, 401);
        assert.equal(body.code, '22023');
        assert.equal(body.message, `role "${role}" does not exist`);
      }
    }
    // Logged in as authenticator, PostgreSQL itself decides, as for PostgREST: a role created
    // or granted a moment ago counts at once, with no schema cache reload.
    await sql('DROP ROLE IF EXISTS js_rest_auditor; CREATE ROLE js_rest_auditor NOLOGIN; GRANT SELECT ON js_rest_vault TO js_rest_auditor');
    try {
      const refused = await as('js_rest_auditor');
      assert.equal(refused.status, 403);
      assert.equal((await refused.json()).message, 'permission denied to set role "js_rest_auditor"');
      await sql('GRANT js_rest_auditor TO authenticator');
      assert.equal((await as('js_rest_auditor')).status, 200, 'granted: no reload needed');
      // service_role still reads it, and nothing else changed for the API roles.
      assert.equal((await as('service_role')).status, 200);
      assert.equal((await as('authenticated')).status, 403);
    } finally {
      await sql('REVOKE js_rest_auditor FROM authenticator; DROP OWNED BY js_rest_auditor; DROP ROLE js_rest_auditor');
      await sql(`NOTIFY pgrst, 'reload schema'`);
    }
  });

  test('the data API logs in as authenticator: SQL cannot switch to the superuser either', async () => {
    const logins = await sql(`SELECT DISTINCT usename::text AS login FROM pg_stat_activity WHERE application_name = 'madbase rest'`);
    assert.deepEqual(logins.rows.map((r) => r.login), ['authenticator']);
    await sql(`CREATE OR REPLACE FUNCTION js_rest_escalate() RETURNS text LANGUAGE plpgsql AS $$
      BEGIN SET LOCAL ROLE postgres; RETURN current_user; END $$;
      GRANT EXECUTE ON FUNCTION js_rest_escalate() TO anon, service_role`);
    try {
      await sql(`NOTIFY pgrst, 'reload schema'`);
      for (const client of [anon, service]) {
        let res;
        for (const deadline = Date.now() + 20_000; ; ) {
          res = await client.rpc('js_rest_escalate');
          if (res.error?.code !== 'PGRST202' || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(res.data, null);
        assert.equal(res.error?.code, '42501');
        assert.equal(res.error?.message, 'permission denied to set role "postgres"');
      }
    } finally {
      await sql('DROP FUNCTION js_rest_escalate()');
    }
  });

  test('a JWT signed with another secret is 401 PGRST301; an expired one 401 PGRST303', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = signJwt({ role: 'service_role', exp: now + 60 }, 'not-the-secret-not-the-secret-123');
    const bad = await rest('/js_rest_countries', { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(bad.status, 401);
    // PostgREST 13's words.
    assert.deepEqual(await bad.json(), {
      code: 'PGRST301',
      message: 'No suitable key or wrong key type',
      details: 'None of the keys was able to decode the JWT',
      hint: null,
    });
    const cut = await rest('/js_rest_countries', { headers: { authorization: 'Bearer abc.def' } });
    assert.equal(cut.status, 401);
    assert.equal((await cut.json()).message, 'Expected 3 parts in JWT; got 2');
    const expired = signJwt({ role: 'authenticated', exp: now - 60 }, mb.jwtSecret);
    const old = await rest('/js_rest_countries', { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(old.status, 401);
    const body = await old.json();
    assert.equal(body.code, 'PGRST303');
    assert.equal(body.message, 'JWT expired');
    assert.match(old.headers.get('www-authenticate'), /Bearer error="invalid_token"/);
  });

  test('broken and odd tokens get PostgREST 13\'s errors; a time claim must be a whole number', async () => {
    const now = Math.floor(Date.now() / 1000);
    const message = async (token) => {
      const res = await rest('/js_rest_countries', { headers: { authorization: `Bearer ${token}` } });
      const body = await res.json();
      return [res.status, body.code, body.message];
    };
    assert.deepEqual(await message('quifquirndsjagnrgniur.fonvoienqhhdj.iuqvnvhojah'), [401, 'PGRST301', 'JWT cryptographic operation failed']);
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsecured = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ role: 'service_role' })}.`;
    assert.deepEqual(await message(unsecured), [401, 'PGRST301', 'Wrong or unsupported encoding algorithm']);
    // Signed, but claims that are not an object.
    const head = b64({ alg: 'HS256', typ: 'JWT' });
    const body = b64([1, 2]);
    const sig = createHmac('sha256', mb.jwtSecret).update(`${head}.${body}`).digest('base64url');
    assert.deepEqual(await message(`${head}.${body}.${sig}`), [401, 'PGRST303', 'Parsing claims failed']);
    // `exp: null` is not a number; a fraction or a huge number counts as 0 (expired), as PostgREST.
    assert.deepEqual(await message(signJwt({ role: 'anon', exp: null })), [401, 'PGRST303', "The JWT 'exp' claim must be a number"]);
    assert.deepEqual(await message(signJwt({ role: 'anon', exp: now + 3600.5 })), [401, 'PGRST303', 'JWT expired']);
    assert.deepEqual(await message(signJwt({ role: 'anon', exp: 1e30 })), [401, 'PGRST303', 'JWT expired']);
    const ok = await rest('/js_rest_countries?select=code&id=eq.1', {
      headers: { authorization: `Bearer ${signJwt({ role: 'anon', exp: now + 3600 })}` },
    });
    assert.equal(ok.status, 200);
  });
});
