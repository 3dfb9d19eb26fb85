//! `application/geo+json`: with PostGIS 3 installed (here in a schema of its own, as Supabase
//! keeps it in `extensions`), reads, embeds, RPC results and written rows come back as a
//! GeoJSON `FeatureCollection` built by `ST_AsGeoJSON(record)`, as PostgREST does.

mod data_plane;
mod postgres;

use data_plane::*;
use madbase_rest::RestSettings;
use serde_json::json;

const SCHEMA: &str = r#"
CREATE SCHEMA gis;
CREATE EXTENSION postgis SCHEMA gis;
CREATE SCHEMA geo;
GRANT USAGE ON SCHEMA geo, gis TO anon, authenticated, service_role;
CREATE TABLE geo.shops (id int PRIMARY KEY, address text NOT NULL, shop_geom gis.geometry(Point, 4326));
INSERT INTO geo.shops VALUES
  (1, '1369 Cambridge St', gis.st_geomfromtext('POINT(-71.10044 42.373695)', 4326)),
  (2, '757 Massachusetts Ave', gis.st_geomfromtext('POINT(-71.10543 42.366432)', 4326));
CREATE TABLE geo.beacons (id int PRIMARY KEY, shop_id int NOT NULL REFERENCES geo.shops, name text NOT NULL);
INSERT INTO geo.beacons VALUES (1, 1, 'Beacon-1');
CREATE TABLE geo.plain (id int PRIMARY KEY);
INSERT INTO geo.plain VALUES (1);
CREATE FUNCTION geo.get_shop(id int) RETURNS SETOF geo.shops LANGUAGE sql STABLE AS $$ SELECT * FROM geo.shops WHERE shops.id = get_shop.id $$;
CREATE FUNCTION geo.shop_point(id int) RETURNS gis.geometry LANGUAGE sql STABLE AS $$ SELECT shop_geom FROM geo.shops WHERE shops.id = shop_point.id $$;
GRANT ALL ON ALL TABLES IN SCHEMA geo TO anon, authenticated, service_role;
"#;

const GEO: &str = "application/geo+json";

#[tokio::test]
async fn geojson_feature_collections_with_postgis() {
    let admin = postgres::admin().await;
    let available = admin
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'",
            &[],
        )
        .await
        .expect("catalog");
    if available.is_none() {
        eprintln!(
            "PostGIS is not installed for this PostgreSQL: skipping (apt-get install postgresql-<major>-postgis-3)"
        );
        return;
    }
    admin.batch_execute(SCHEMA).await.expect("PostGIS schema");
    let api = Api::with(RestSettings {
        schemas: vec!["geo".into()],
        ..settings()
    })
    .await;
    let feature = |id: i64, address: &str, x: f64, y: f64| {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
               "properties": {"id": id, "address": address}})
    };

    let r = api.get_h("/shops?order=id", &[("accept", GEO)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/geo+json; charset=utf-8")
    );
    assert_eq!(
        r.json(),
        json!({"type": "FeatureCollection", "features": [
            feature(1, "1369 Cambridge St", -71.10044, 42.373695),
            feature(2, "757 Massachusetts Ave", -71.10543, 42.366432),
        ]})
    );

    // The selected columns other than the geometry are the properties.
    let r = api
        .get_h("/shops?select=id,shop_geom&id=eq.1", &[("accept", GEO)])
        .await;
    assert_eq!(
        r.json()["features"][0]["properties"],
        json!({"id": 1}),
        "{}",
        r.body
    );
    let r = api.get_h("/shops?id=gt.9", &[("accept", GEO)]).await;
    assert_eq!(
        r.json(),
        json!({"type": "FeatureCollection", "features": []})
    );
    // Embeds are properties.
    let r = api
        .get_h(
            "/shops?select=id,shop_geom,beacons(name)&id=eq.1",
            &[("accept", GEO)],
        )
        .await;
    assert_eq!(
        r.json()["features"][0]["properties"],
        json!({"id": 1, "beacons": [{"name": "Beacon-1"}]}),
        "{}",
        r.body
    );
    // No geometry to build features from: PostGIS's own error, a 400.
    let r = api.get_h("/plain", &[("accept", GEO)]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"code": "22023", "message": "geometry column is missing", "details": null, "hint": null})
    );

    let r = api.get_h("/rpc/get_shop?id=2", &[("accept", GEO)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"type": "FeatureCollection", "features": [feature(2, "757 Massachusetts Ave", -71.10543, 42.366432)]})
    );

    // A function returning one geometry: a feature without properties.
    let r = api.get_h("/rpc/shop_point?id=1", &[("accept", GEO)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-71.10044, 42.373695]}, "properties": {}}]})
    );
    assert_eq!(api.get("/rpc/shop_point?id=9").await.body, "null");

    let r = api
        .send(
            "POST",
            "/shops",
            &[
                ("accept", GEO),
                ("prefer", "return=representation, tx=rollback"),
                ("content-type", "application/json"),
            ],
            r#"{"id": 3, "address": "605 W Kendall St", "shop_geom": "SRID=4326;POINT(-71.081924 42.36437)"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/geo+json; charset=utf-8")
    );
    assert_eq!(
        r.json(),
        json!({"type": "FeatureCollection", "features": [feature(3, "605 W Kendall St", -71.081924, 42.36437)]})
    );
}

#[tokio::test]
async fn geojson_is_not_acceptable_without_postgis() {
    // The shared fixture has no PostGIS.
    let api = Api::new().await;
    let r = api.get_h("/tasks", &[("accept", GEO)]).await;
    assert_eq!(r.status, 406, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"code": "PGRST107", "message": "None of these media types are available: application/geo+json", "details": null, "hint": null})
    );
}
