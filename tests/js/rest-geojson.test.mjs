// `.geojson()` through supabase-js: with PostGIS installed in `extensions` (where Supabase
// keeps it), a table with a geometry column comes back as a GeoJSON FeatureCollection. Skipped
// when this PostgreSQL has no PostGIS package; the extension is dropped again afterwards, so
// the other files see a database without it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from './harness.mjs';
import { anon, service } from './rest-fixture.mjs';

const available = (await sql("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).rowCount > 0;

/** Polls until `.geojson()` on `table` answers `status`, as the schema cache reloads. */
async function waitForGeo(status, table) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await service.from(table).select('*').geojson();
    if (r.status === status) return;
    if (Date.now() > deadline) throw new Error(`geojson never answered ${status}: ${JSON.stringify(r.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('geojson', { skip: available ? false : 'PostGIS is not installed for this PostgreSQL' }, () => {
  before(async () => {
    await sql(`
      CREATE EXTENSION IF NOT EXISTS postgis SCHEMA extensions;
      CREATE TABLE public.js_geo_shops (id int PRIMARY KEY, address text NOT NULL, shop_geom extensions.geometry(Point, 4326));
      INSERT INTO public.js_geo_shops VALUES
        (1, '1369 Cambridge St', extensions.st_geomfromtext('POINT(-71.10044 42.373695)', 4326)),
        (2, '757 Massachusetts Ave', extensions.st_geomfromtext('POINT(-71.10543 42.366432)', 4326));
      GRANT SELECT ON public.js_geo_shops TO anon;
      CREATE TABLE public.js_geo_probe (id int);
    `);
    await waitForGeo(200, 'js_geo_shops');
  });

  after(async () => {
    // A table that outlives the extension tells when the schema cache has seen it go: an
    // existing table's GeoJSON is 406 without PostGIS (an unknown one would be 404 either way).
    await sql('DROP TABLE public.js_geo_shops; DROP EXTENSION postgis');
    await waitForGeo(406, 'js_geo_probe');
    await sql('DROP TABLE public.js_geo_probe');
  });

  test('a table with a geometry column is a FeatureCollection', async () => {
    const { data, error, status } = await anon
      .from('js_geo_shops')
      .select('id, address, shop_geom')
      .gt('id', 1)
      .geojson();
    assert.equal(error, null, JSON.stringify(error));
    assert.equal(status, 200);
    assert.deepEqual(data, {
      type: 'FeatureCollection',
      features: [
        {
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [-71.10543, 42.366432] },
          properties: { id: 2, address: '757 Massachusetts Ave' },
        },
      ],
    });
  });

  test('a selection without the geometry is PostGIS’s 400', async () => {
    const { error, status } = await anon.from('js_geo_shops').select('id').geojson();
    assert.equal(status, 400);
    assert.equal(error.code, '22023');
    assert.equal(error.message, 'geometry column is missing');
  });
});
