// Reads through supabase-js: every filter method, the transforms, and embedding over each
// relationship shape (many-to-one, one-to-many, many-to-many, self-reference, composite keys).

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { anon, createFixture, service } from './rest-fixture.mjs';

before(createFixture);

/** The ids of `from('js_rest_users')` after `build` adds its filters, in id order. */
async function ids(build, table = 'js_rest_users') {
  const { data, error, status } = await build(anon.from(table).select('id')).order('id');
  assert.equal(error, null, JSON.stringify(error));
  assert.equal(status, 200);
  return data.map((r) => r.id);
}

describe('filters', () => {
  test('comparison operators', async () => {
    assert.deepEqual(await ids((q) => q.eq('status', 'away')), [2, 5]);
    assert.deepEqual(await ids((q) => q.neq('status', 'away')), [1, 3, 4]);
    assert.deepEqual(await ids((q) => q.gt('age', 36)), [2, 5]);
    assert.deepEqual(await ids((q) => q.gte('age', 36)), [1, 2, 5]);
    assert.deepEqual(await ids((q) => q.lt('age', 36)), [4]);
    assert.deepEqual(await ids((q) => q.lte('age', 36)), [1, 4]);
    assert.deepEqual(await ids((q) => q.isDistinct('age', 36)), [2, 3, 4, 5]);
  });

  test('pattern operators, with % and the * alias', async () => {
    assert.deepEqual(await ids((q) => q.like('username', '%i%')), [2, 4, 5]);
    assert.deepEqual(await ids((q) => q.like('username', '*i*')), [2, 4, 5]);
    assert.deepEqual(await ids((q) => q.likeAllOf('username', ['%i%', '%r%'])), [2, 4]);
    assert.deepEqual(await ids((q) => q.likeAnyOf('username', ['a%', 'c%'])), [1, 3]);
    assert.deepEqual(await ids((q) => q.ilike('username', 'ADA')), [1]);
    assert.deepEqual(await ids((q) => q.ilikeAllOf('username', ['%E%', '%S%'])), [5]);
    assert.deepEqual(await ids((q) => q.ilikeAnyOf('username', ['B%', '%SMITH'])), [2, 5]);
    assert.deepEqual(await ids((q) => q.regexMatch('username', '^[a-c]')), [1, 2, 3]);
    assert.deepEqual(await ids((q) => q.regexIMatch('username', '^A')), [1]);
  });

  test('is, in and notIn', async () => {
    assert.deepEqual(await ids((q) => q.is('age', null)), [3]);
    assert.deepEqual(await ids((q) => q.is('profile', null)), [3]);
    assert.deepEqual(await ids((q) => q.not('age', 'is', null)), [1, 2, 4, 5]);
    assert.deepEqual(await ids((q) => q.in('id', [1, 3, 5])), [1, 3, 5]);
    assert.deepEqual(await ids((q) => q.in('status', ['online', 'offline'])), [1, 3, 4]);
    // A value with a space travels as `+`; one with a comma is quoted by the client.
    assert.deepEqual(await ids((q) => q.in('username', ['eve smith', 'ada'])), [1, 5]);
    assert.deepEqual(await ids((q) => q.in('bio', ['Night shift', 'a,b', 'x(y)'])), [2]);
    assert.deepEqual(await ids((q) => q.notIn('id', [1, 2])), [3, 4, 5]);
    assert.deepEqual(await ids((q) => q.in('id', [])), []);
  });

  test('a space sent as + is decoded to a space', async () => {
    assert.deepEqual(await ids((q) => q.eq('username', 'eve smith')), [5]);
    assert.deepEqual(await ids((q) => q.eq('bio', 'Two words')), [5]);
  });

  test('array, JSON and range containment and overlap', async () => {
    assert.deepEqual(await ids((q) => q.contains('tags', ['dev'])), [1, 2, 4]);
    assert.deepEqual(await ids((q) => q.contains('tags', '{ops,dev}')), [4]);
    assert.deepEqual(await ids((q) => q.contains('profile', { lang: 'fr' })), [1, 5]);
    assert.deepEqual(await ids((q) => q.containedBy('tags', ['dev', 'ops'])), [2, 3, 4, 5]);
    assert.deepEqual(await ids((q) => q.containedBy('shift', '[0,20)')), [1, 4, 5]);
    assert.deepEqual(await ids((q) => q.overlaps('tags', ['admin', 'ops'])), [1, 4, 5]);
    assert.deepEqual(await ids((q) => q.overlaps('shift', '[8,10)')), [1, 4]);
  });

  test('range operators', async () => {
    assert.deepEqual(await ids((q) => q.rangeGt('shift', '[0,10)')), [2, 5]);
    assert.deepEqual(await ids((q) => q.rangeGte('shift', '[5,10)')), [1, 2, 5]);
    assert.deepEqual(await ids((q) => q.rangeLt('shift', '[15,20)')), [4, 5]);
    assert.deepEqual(await ids((q) => q.rangeLte('shift', '[0,14)')), [4, 5]);
    assert.deepEqual(await ids((q) => q.rangeAdjacent('shift', '[23,24)')), [2]);
  });

  test('full-text search: to_tsquery, plain, phrase, websearch, with a config', async () => {
    const docs = (build) => ids(build, 'js_rest_docs');
    assert.deepEqual(await docs((q) => q.textSearch('tsv', 'fox & dog')), [1]);
    assert.deepEqual(await docs((q) => q.textSearch('tsv', "'fat' & 'cat'", { config: 'english' })), [2]);
    assert.deepEqual(await docs((q) => q.textSearch('tsv', 'fat cat', { type: 'plain' })), [2]);
    assert.deepEqual(await docs((q) => q.textSearch('tsv', 'fat cat', { type: 'phrase' })), [2]);
    assert.deepEqual(await docs((q) => q.textSearch('tsv', 'cat fat', { type: 'phrase' })), []);
    assert.deepEqual(await docs((q) => q.textSearch('tsv', '"lazy dog" or cats', { type: 'websearch' })), [1, 2, 3]);
    assert.deepEqual(
      await docs((q) => q.textSearch('tsv', 'jumping', { type: 'websearch', config: 'english' })),
      [1, 4],
    );
    // A text column is turned into a tsvector with the given configuration.
    assert.deepEqual(await docs((q) => q.textSearch('body', 'jumping', { type: 'plain', config: 'english' })), [1, 4]);
  });

  test('match, not, or (nested, negated) and filter', async () => {
    assert.deepEqual(await ids((q) => q.match({ status: 'online', city_id: 1 })), [1]);
    assert.deepEqual(await ids((q) => q.not('status', 'eq', 'online')), [2, 3, 5]);
    assert.deepEqual(await ids((q) => q.not('id', 'in', '(1,2)')), [3, 4, 5]);
    assert.deepEqual(await ids((q) => q.or('age.gt.40,username.eq.ada')), [1, 2, 5]);
    assert.deepEqual(await ids((q) => q.or('and(status.eq.online,age.lt.30),id.eq.3')), [3, 4]);
    assert.deepEqual(await ids((q) => q.or('username.eq."eve smith",tags.cs.{admin}')), [1, 5]);
    assert.deepEqual(await ids((q) => q.or('age.gt.40,age.is.null').eq('status', 'away')), [2, 5]);
    assert.deepEqual(await ids((q) => q.filter('username', 'eq', 'ada')), [1]);
    assert.deepEqual(await ids((q) => q.filter('tags', 'cs', '{ops}')), [4, 5]);
    assert.deepEqual(await ids((q) => q.filter('id', 'in', '(2,4)')), [2, 4]);
    assert.deepEqual(await ids((q) => q.filter('age', 'not.is', 'null').lt('age', 40)), [1, 4]);
  });

  test('filters on JSON paths and enums', async () => {
    assert.deepEqual(await ids((q) => q.eq('profile->>lang', 'fr')), [1, 5]);
    assert.deepEqual(await ids((q) => q.eq('profile->pets->>0', 'cat')), [1]);
    assert.deepEqual(await ids((q) => q.gt('status', 'online')), [2, 3, 5]);
  });
});

describe('select', () => {
  test('columns, aliases, casts and JSON paths', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('id, name:username, age::text, lang:profile->>lang, first_pet:profile->pets->0')
      .eq('id', 1);
    assert.equal(error, null);
    assert.deepEqual(data, [{ id: 1, name: 'ada', age: '36', lang: 'fr', first_pet: 'cat' }]);
  });

  test('enums, arrays, ranges and jsonb come back as JSON', async () => {
    const { data } = await anon.from('js_rest_users').select('status, tags, shift, profile').eq('id', 4).single();
    assert.deepEqual(data, { status: 'online', tags: ['ops', 'dev'], shift: '[0,9)', profile: { lang: 'es', pets: [] } });
  });

  test('a view reads like a table', async () => {
    const { data, error } = await anon.from('js_rest_user_cities').select('*').eq('id', 2);
    assert.equal(error, null);
    assert.deepEqual(data, [{ id: 2, username: 'brian', city: 'Tokyo' }]);
  });

  test('returns() and overrideTypes() only change the static type', async () => {
    const { data } = await anon.from('js_rest_countries').select('code').eq('id', 2).returns();
    assert.deepEqual(data, [{ code: 'JP' }]);
    const over = await anon.from('js_rest_countries').select('code').eq('id', 2).overrideTypes();
    assert.deepEqual(over.data, [{ code: 'JP' }]);
    const single = await anon.from('js_rest_countries').select('code').eq('id', 2).single().overrideTypes();
    assert.deepEqual(single.data, { code: 'JP' });
  });

  test('stripNulls drops null members', async () => {
    const { data } = await anon.from('js_rest_users').select('id, age, bio').eq('id', 3).stripNulls();
    assert.deepEqual(data, [{ id: 3 }]);
  });
});

describe('embedding', () => {
  test('many-to-one, nested two levels', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('username, js_rest_cities(name, js_rest_countries(code))')
      .eq('id', 1)
      .single();
    assert.equal(error, null);
    assert.deepEqual(data, { username: 'ada', js_rest_cities: { name: 'Paris', js_rest_countries: { code: 'FR' } } });
    const orphan = await anon.from('js_rest_users').select('id, js_rest_cities(name)').eq('id', 5).single();
    assert.deepEqual(orphan.data, { id: 5, js_rest_cities: null });
  });

  test("counting the children with Supabase's documented select('*, rel(count)')", async () => {
    const { data, error } = await anon.from('js_rest_countries').select('code, js_rest_cities(count)').order('id');
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, [
      { code: 'FR', js_rest_cities: [{ count: 2 }] },
      { code: 'JP', js_rest_cities: [{ count: 2 }] },
      { code: 'CL', js_rest_cities: [{ count: 1 }] },
    ]);
  });

  test('one-to-many, with order and limit on the children', async () => {
    const { data, error } = await anon
      .from('js_rest_countries')
      .select('name, js_rest_cities(name)')
      .order('id')
      .order('name', { referencedTable: 'js_rest_cities', ascending: false })
      .limit(1, { referencedTable: 'js_rest_cities' });
    assert.equal(error, null);
    assert.deepEqual(data, [
      { name: 'France', js_rest_cities: [{ name: 'Paris' }] },
      { name: 'Japan', js_rest_cities: [{ name: 'Tokyo' }] },
      { name: 'Chile', js_rest_cities: [{ name: 'Santiago' }] },
    ]);
  });

  test('many-to-many through a junction table', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('username, js_rest_channels(slug)')
      .eq('id', 1)
      .order('slug', { referencedTable: 'js_rest_channels' })
      .single();
    assert.equal(error, null);
    assert.deepEqual(data, { username: 'ada', js_rest_channels: [{ slug: 'general' }, { slug: 'random' }] });
  });

  test('a self-reference: the FK column names the parent, the table with that hint the children', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('username, manager:manager_id(username)')
      .in('id', [1, 4])
      .order('id');
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, [
      { username: 'ada', manager: null },
      { username: 'dmitri', manager: { username: 'brian' } },
    ]);
    const reports = await anon
      .from('js_rest_users')
      .select('username, reports:js_rest_users!manager_id(username)')
      .eq('username', 'brian')
      .order('id', { referencedTable: 'reports' });
    assert.equal(reports.error, null, JSON.stringify(reports.error));
    assert.deepEqual(reports.data, [
      { username: 'brian', reports: [{ username: 'dmitri' }, { username: 'eve smith' }] },
    ]);
  });

  test('a composite foreign key, both directions', async () => {
    const one = await anon.from('js_rest_shipments').select('carrier, js_rest_orders(total)').eq('id', 1).single();
    assert.equal(one.error, null, JSON.stringify(one.error));
    assert.deepEqual(one.data, { carrier: 'dhl', js_rest_orders: { total: 10.5 } });
    const many = await anon
      .from('js_rest_orders')
      .select('region, num, js_rest_shipments(carrier)')
      .match({ region: 'eu', num: 1 })
      .order('carrier', { referencedTable: 'js_rest_shipments' })
      .single();
    assert.deepEqual(many.data, { region: 'eu', num: 1, js_rest_shipments: [{ carrier: 'dhl' }, { carrier: 'ups' }] });
  });

  test('!inner filters the parents; filters on the embed', async () => {
    const { data } = await anon.from('js_rest_channels').select('slug, js_rest_messages!inner(id)').order('id');
    assert.deepEqual(data.map((c) => c.slug), ['general', 'random']);
    const paris = await anon
      .from('js_rest_users')
      .select('username, js_rest_cities!inner(name)')
      .eq('js_rest_cities.name', 'Paris');
    assert.deepEqual(paris.data, [{ username: 'ada', js_rest_cities: { name: 'Paris' } }]);
  });

  test('or() on a referenced table filters the children only', async () => {
    const { data, error } = await anon
      .from('js_rest_countries')
      .select('name, js_rest_cities(name)')
      .or('name.eq.Paris,name.eq.Tokyo', { referencedTable: 'js_rest_cities' })
      .eq('id', 1)
      .single();
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, { name: 'France', js_rest_cities: [{ name: 'Paris' }] });
  });

  test('or() across embeds tests filtered empty embeds for presence', async () => {
    // Users who wrote in #random, or who live in Japan.
    const { data, error, count } = await anon
      .from('js_rest_users')
      .select('id, msg:js_rest_messages(), city:js_rest_cities()', { count: 'exact' })
      .eq('msg.channel_id', 2)
      .eq('city.country_id', 2)
      .or('msg.not.is.null,city.not.is.null')
      .order('id');
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, [{ id: 2 }, { id: 3 }]);
    assert.equal(count, 2);
  });

  test('a nested, negated tree on a referenced table can test its own embeds', async () => {
    // Channels whose messages are kept when they have no author or do not mention "night".
    const { data, error } = await anon
      .from('js_rest_channels')
      .select('slug, js_rest_messages(id, js_rest_users())')
      .or('js_rest_users.is.null,not.and(message.ilike.*night*,id.gt.0)', { referencedTable: 'js_rest_messages' })
      .order('id', { referencedTable: 'js_rest_messages' })
      .order('id')
      .limit(2);
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, [
      { slug: 'general', js_rest_messages: [{ id: 1 }, { id: 2 }] },
      { slug: 'random', js_rest_messages: [{ id: 3 }, { id: 5 }] },
    ]);
  });

  test('or() on a referenced table that is not selected is 400 PGRST108', async () => {
    const { error, status } = await anon
      .from('js_rest_countries')
      .select('name')
      .or('name.eq.Paris', { referencedTable: 'js_rest_cities' });
    assert.equal(status, 400);
    assert.equal(error.code, 'PGRST108');
    assert.equal(error.message, "'js_rest_cities' is not an embedded resource in this request");
    assert.equal(error.hint, "Verify that 'js_rest_cities' is included in the 'select' query parameter.");
  });

  test('a column of an embed inside or() is a parse error, as in PostgREST', async () => {
    const { error, status } = await anon
      .from('js_rest_countries')
      .select('name, js_rest_cities(name)')
      .or('js_rest_cities.name.eq.Paris,id.eq.2');
    assert.equal(status, 400);
    assert.equal(error.code, 'PGRST100');
    assert.match(error.details, /expecting "not" or operator/);
  });

  test('spread of a to-one embed lifts its columns', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('username, ...js_rest_cities(city:name)')
      .eq('id', 2)
      .single();
    assert.equal(error, null, JSON.stringify(error));
    assert.deepEqual(data, { username: 'brian', city: 'Tokyo' });
  });

  test('order by a column of a to-one embed', async () => {
    const { data, error } = await anon
      .from('js_rest_users')
      .select('id, js_rest_cities(name)')
      .not('city_id', 'is', null)
      .order('js_rest_cities(name)');
    assert.equal(error, null, JSON.stringify(error));
    // Lyon, Paris, Santiago, Tokyo
    assert.deepEqual(data.map((u) => u.id), [3, 1, 4, 2]);
  });

  test('an ambiguous embed is 300 PGRST201; a missing relationship 400 PGRST200', async () => {
    const amb = await anon.from('js_rest_reviews').select('js_rest_users(*)');
    assert.equal(amb.status, 300);
    assert.equal(amb.error.code, 'PGRST201');
    assert.ok(Array.isArray(amb.error.details) && amb.error.details.length >= 2);
    assert.match(amb.error.hint, /Try changing 'js_rest_users' to one of the following/);
    const byColumn = await anon.from('js_rest_reviews').select('id, reviewer_id(username)');
    assert.equal(byColumn.error, null, JSON.stringify(byColumn.error));
    const none = await anon.from('js_rest_docs').select('id, js_rest_users(*)');
    assert.equal(none.status, 400);
    assert.equal(none.error.code, 'PGRST200');
    assert.match(none.error.message, /Could not find a relationship between 'js_rest_docs' and 'js_rest_users' in the schema cache/);
  });
});

describe('transforms', () => {
  test('order: ascending, descending, nulls first and last, several columns', async () => {
    const order = async (build) => (await build(anon.from('js_rest_users').select('id'))).data.map((r) => r.id);
    assert.deepEqual(await order((q) => q.order('age', { ascending: false })), [3, 5, 2, 1, 4]);
    assert.deepEqual(await order((q) => q.order('age', { ascending: false, nullsFirst: false })), [5, 2, 1, 4, 3]);
    assert.deepEqual(await order((q) => q.order('age', { ascending: true, nullsFirst: true })), [3, 4, 1, 2, 5]);
    assert.deepEqual(await order((q) => q.order('age')), [4, 1, 2, 5, 3]);
    assert.deepEqual(await order((q) => q.order('status').order('id', { ascending: false })), [4, 1, 5, 2, 3]);
    assert.deepEqual(await order((q) => q.order('profile->>lang').order('id')), [4, 1, 5, 2, 3]);
  });

  test('limit and range', async () => {
    const lim = await anon.from('js_rest_users').select('id').order('id').limit(2);
    assert.deepEqual(lim.data, [{ id: 1 }, { id: 2 }]);
    const rng = await anon.from('js_rest_users').select('id').order('id').range(1, 2);
    assert.deepEqual(rng.data, [{ id: 2 }, { id: 3 }]);
    const past = await anon.from('js_rest_users').select('id').order('id').range(10, 12);
    assert.equal(past.error, null);
    assert.deepEqual(past.data, []);
  });

  test('single returns an object; zero or many rows are 406 PGRST116', async () => {
    const one = await anon.from('js_rest_countries').select('code').eq('id', 3).single();
    assert.equal(one.status, 200);
    assert.deepEqual(one.data, { code: 'CL' });
    const none = await anon.from('js_rest_countries').select('code').eq('id', 99).single();
    assert.equal(none.status, 406);
    assert.deepEqual(none.error, {
      code: 'PGRST116',
      message: 'Cannot coerce the result to a single JSON object',
      details: 'The result contains 0 rows',
      hint: null,
    });
    const many = await anon.from('js_rest_countries').select('code').single();
    assert.equal(many.status, 406);
    assert.equal(many.error.details, 'The result contains 3 rows');
  });

  test('maybeSingle returns null for no rows and an error for several', async () => {
    const none = await anon.from('js_rest_countries').select('code').eq('id', 99).maybeSingle();
    assert.equal(none.error, null);
    assert.equal(none.data, null);
    const one = await anon.from('js_rest_countries').select('code').eq('id', 1).maybeSingle();
    assert.deepEqual(one.data, { code: 'FR' });
    const many = await anon.from('js_rest_countries').select('code').maybeSingle();
    assert.equal(many.error.code, 'PGRST116');
  });

  test('csv', async () => {
    const { data, error } = await anon.from('js_rest_users').select('id, username, age').order('id').csv();
    assert.equal(error, null);
    assert.equal(typeof data, 'string');
    const lines = data.trimEnd().split('\n');
    // Values are written as PostgreSQL writes a row: quoted when they hold a space or a comma.
    assert.deepEqual(lines, ['id,username,age', '1,ada,36', '2,brian,41', '3,chloe,', '4,dmitri,29', '5,"eve smith",52']);
  });

  test('geojson without PostGIS is refused with 406', async () => {
    const { error, status } = await anon.from('js_rest_users').select('id').geojson();
    assert.equal(status, 406);
    assert.equal(error.code, 'PGRST107');
    assert.match(error.message, /application\/geo\+json/);
  });

  test('explain is refused with 406 while plans are disabled', async () => {
    const { error, status } = await anon.from('js_rest_users').select('id').explain({ analyze: true });
    assert.equal(status, 406);
    assert.equal(error.code, 'PGRST107');
    assert.match(error.message, /None of these media types are available/);
  });

  test('counts: exact, planned, estimated, and head', async () => {
    const exact = await anon.from('js_rest_users').select('id', { count: 'exact' }).limit(2);
    assert.equal(exact.count, 5);
    assert.equal(exact.data.length, 2);
    const planned = await anon.from('js_rest_users').select('id', { count: 'planned' });
    assert.equal(typeof planned.count, 'number');
    assert.ok(planned.count >= 0);
    const estimated = await anon.from('js_rest_users').select('id', { count: 'estimated' });
    assert.equal(typeof estimated.count, 'number');
    const head = await anon.from('js_rest_users').select('*', { count: 'exact', head: true }).eq('status', 'away');
    assert.equal(head.error, null);
    assert.equal(head.data, null);
    assert.equal(head.count, 2);
    assert.equal(head.status, 200);
  });

  test('abortSignal cancels the request', async () => {
    const ac = new AbortController();
    ac.abort();
    const { error, status, data } = await anon.from('js_rest_users').select('id').abortSignal(ac.signal);
    assert.equal(status, 0);
    assert.equal(data, null);
    assert.match(error.message, /AbortError/);
  });

  test('throwOnError rejects with the PostgREST error', async () => {
    await assert.rejects(async () => await anon.from('js_rest_nope').select('*').throwOnError(), (e) => {
      assert.equal(e.code, 'PGRST205');
      return true;
    });
    const ok = await anon.from('js_rest_countries').select('id').eq('id', 1).throwOnError();
    assert.deepEqual(ok.data, [{ id: 1 }]);
  });

  test('setHeader reaches the server', async () => {
    const { data } = await service
      .rpc('js_rest_whoami')
      .setHeader('x-trace', 'abc');
    assert.equal(data.role, 'service_role');
    assert.equal(data.trace, 'abc');
  });
});

describe('errors', () => {
  test('an unknown table is 404 PGRST205 with a hint', async () => {
    const { error, status, data } = await anon.from('js_rest_note').select('*');
    assert.equal(status, 404);
    assert.equal(data, null);
    assert.equal(error.code, 'PGRST205');
    assert.equal(error.message, "Could not find the table 'public.js_rest_note' in the schema cache");
    assert.equal(error.details, null);
    assert.equal(error.hint, "Perhaps you meant the table 'public.js_rest_notes'");
  });

  test('an unknown column is 400 42703 from PostgreSQL', async () => {
    const { error, status } = await anon.from('js_rest_users').select('nope');
    assert.equal(status, 400);
    assert.equal(error.code, '42703');
    assert.match(error.message, /nope/);
    assert.ok('details' in error && 'hint' in error);
  });

  test('a bad value for the type is 400 22P02', async () => {
    const { error, status } = await anon.from('js_rest_users').select('id').eq('id', 'abc');
    assert.equal(status, 400);
    assert.equal(error.code, '22P02');
  });
});
