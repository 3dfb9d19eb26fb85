//! Loads the [`SchemaCache`] from the PostgreSQL catalog.
//!
//! A handful of catalog queries run once per (re)load, never per request. Everything read
//! here is turned into plain data; relationship derivation is delegated to `relationships`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::relationships::{self, ComputedRelationship, ForeignKey, Uniques, ViewLineage};
use crate::schema_cache::{
    Column, ComputedField, FuncArg, Function, HandlerKind, Isolation, MediaHandler, QualifiedName,
    Representation, ReturnKind, RoleSettings, SchemaCache, Table, TableKind,
};

/// Why the schema cache could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("could not load the schema cache: {0}")]
pub struct LoadError(#[from] tokio_postgres::Error);

const RELATIONS_SQL: &str = r#"
SELECT n.nspname::text, c.relname::text, c.relkind::text, obj_description(c.oid, 'pg_class'),
       pg_relation_is_updatable(c.oid::regclass, true),
       a.attname::text,
       -- As PostgREST describes a column: a domain over a built-in type as that type.
       CASE WHEN t.typtype = 'd'
              AND COALESCE(bt3.typnamespace, bt2.typnamespace, bt.typnamespace) = 'pg_catalog'::regnamespace
            THEN format_type(COALESCE(bt3.oid, bt2.oid, bt.oid), NULL)
            ELSE format_type(a.atttypid, a.atttypmod) END,
       COALESCE(bt3.typname, bt2.typname, bt.typname, t.typname)::text,
       NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)),
       CASE WHEN t.typtype = 'd' AND d.adbin IS NULL THEN pg_get_expr(t.typdefaultbin, 0)
            WHEN a.attidentity = 'd' THEN
              (SELECT format('nextval(%L)', dep.objid::regclass) FROM pg_depend dep
                WHERE dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum
                  AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'i' LIMIT 1)
            WHEN a.attgenerated = 's' THEN NULL
            ELSE pg_get_expr(d.adbin, d.adrelid) END,
       CASE WHEN COALESCE(bt.typname, t.typname) IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END,
       (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
         WHERE e.enumtypid = COALESCE(NULLIF(t.typbasetype, 0), t.oid)),
       col_description(c.oid, a.attnum),
       rep.to_json, rep.from_text, rep.from_json
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
-- Domains over domains: the type beneath them all decides (a tsvector's text search).
LEFT JOIN pg_type bt2 ON bt.typtype = 'd' AND bt2.oid = bt.typbasetype
LEFT JOIN pg_type bt3 ON bt2.typtype = 'd' AND bt3.oid = bt2.typbasetype
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN LATERAL (
  SELECT max(ARRAY[fn.nspname::text, p.proname::text]) FILTER (WHERE k.castsource = t.oid AND k.casttarget = 'json'::regtype) AS to_json,
         max(ARRAY[fn.nspname::text, p.proname::text]) FILTER (WHERE k.castsource = 'text'::regtype AND k.casttarget = t.oid) AS from_text,
         max(ARRAY[fn.nspname::text, p.proname::text]) FILTER (WHERE k.castsource = 'json'::regtype AND k.casttarget = t.oid) AS from_json
  FROM pg_cast k
  JOIN pg_proc p ON p.oid = k.castfunc
  JOIN pg_namespace fn ON fn.oid = p.pronamespace
  WHERE t.typtype = 'd' AND k.castcontext = 'i' AND k.castmethod = 'f'
    AND (k.castsource = t.oid OR k.casttarget = t.oid)
    AND has_function_privilege(k.castfunc, 'execute')
) rep ON TRUE
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition AND n.nspname = ANY($1)
ORDER BY n.nspname, c.relname, a.attnum
"#;

const KEYS_SQL: &str = r#"
SELECT c.conname::text, c.contype::text, ns.nspname::text, cl.relname::text, cl.oid::int8,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
       fns.nspname::text, fcl.relname::text, fcl.oid::int8,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
FROM pg_constraint c
JOIN pg_class cl ON cl.oid = c.conrelid
JOIN pg_namespace ns ON ns.oid = cl.relnamespace
LEFT JOIN pg_class fcl ON fcl.oid = c.confrelid
LEFT JOIN pg_namespace fns ON fns.oid = fcl.relnamespace
WHERE c.contype IN ('p', 'u', 'f') AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.conparentid = 0
UNION ALL
SELECT ic.relname::text, 'u', ns.nspname::text, cl.relname::text, cl.oid::int8,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n),
       NULL, NULL, NULL, NULL
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class cl ON cl.oid = i.indrelid
JOIN pg_namespace ns ON ns.oid = cl.relnamespace
WHERE i.indisunique AND i.indpred IS NULL AND NOT (0 = ANY(i.indkey::int2[]))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid)
  AND ns.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
"#;

const VIEWS_SQL: &str = r#"
SELECT n.nspname::text, c.relname::text, r.ev_action::text,
       (SELECT array_agg(a.attrelid::text || ':' || a.attnum::text || ':' || a.attname::text)
          FROM pg_depend dp JOIN pg_attribute a ON a.attrelid = dp.refobjid AND a.attnum = dp.refobjsubid
         WHERE dp.objid = r.oid AND dp.refobjsubid > 0),
       c.oid::int8
FROM pg_rewrite r
JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND r.rulename = '_RETURN'
  AND n.nspname = ANY($1)
"#;

/// A view's key as PostgREST derives it: for each table the view reads whose whole primary key
/// it shows (no part of one), that key's columns in the key's order, each as the first view
/// column showing it; the tables in the order PostgreSQL groups them, by schema then name
/// (byte order, as `name` sorts).
fn view_key(
    lineage: &[(String, QualifiedName, String)],
    pks: &HashMap<QualifiedName, Vec<String>>,
) -> Vec<String> {
    let mut bases: Vec<&QualifiedName> = lineage.iter().map(|(_, base, _)| base).collect();
    bases.sort();
    bases.dedup();
    let shown = |base: &QualifiedName, col: &String| {
        lineage
            .iter()
            .find(|(_, t, c)| t == base && c == col)
            .map(|(vc, _, _)| vc.clone())
    };
    bases
        .into_iter()
        .filter_map(|base| pks.get(base).map(|pk| (base, pk)))
        .filter_map(|(base, pk)| {
            pk.iter()
                .map(|c| shown(base, c))
                .collect::<Option<Vec<_>>>()
        })
        .flatten()
        .collect()
}

const FUNCTIONS_SQL: &str = r#"
SELECT n.nspname::text, p.proname::text, p.proargnames::text[], p.proargmodes::text[],
       ARRAY(SELECT format_type(t.oid_, NULL) FROM unnest(COALESCE(p.proallargtypes, p.proargtypes::oid[]))
               WITH ORDINALITY t(oid_, ord) ORDER BY t.ord),
       p.pronargdefaults::int4, p.provariadic <> 0, format_type(p.prorettype, NULL), p.proretset,
       COALESCE(rtb.typtype, rt.typtype)::text, rn.nspname::text, rc.relname::text, p.provolatile::text,
       obj_description(p.oid, 'pg_proc'), p.prorettype = 'void'::regtype,
       p.prorettype = 'record'::regtype, p.proconfig
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
-- A domain over a row type returns rows as that type does.
LEFT JOIN pg_type rtb ON rt.typtype = 'd' AND rtb.oid = rt.typbasetype AND rtb.typtype = 'c'
LEFT JOIN pg_class rc ON rc.oid = COALESCE(rtb.typrelid, rt.typrelid)
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE n.nspname = ANY($1) AND p.prokind = 'f'
  -- Trigger functions are not callable, so not endpoints (PostgREST's schema cache).
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
ORDER BY n.nspname, p.proname
"#;

/// Functions of one argument taking a relation's row type: computed fields (scalar result) and
/// computed relationships (a relation's row type, `SETOF` or not). Read from every schema:
/// computed relationships are called qualified, and computed fields are picked by the request's
/// search path.
const COMPUTED_SQL: &str = r#"
SELECT pn.nspname::text, p.proname::text, an.nspname::text, ac.relname::text,
       COALESCE(rbt.typname, rt.typname)::text, rn.nspname::text, rc.relname::text,
       p.proretset, p.prorows::float8
FROM pg_proc p
JOIN pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_class ac ON ac.reltype = p.proargtypes[0] AND ac.relkind IN ('r', 'v', 'm', 'f', 'p')
JOIN pg_namespace an ON an.oid = ac.relnamespace
JOIN pg_type rt ON rt.oid = p.prorettype
LEFT JOIN pg_type rbt ON rt.typtype = 'd' AND rbt.oid = rt.typbasetype
LEFT JOIN pg_class rc ON rc.reltype = p.prorettype AND rc.relkind IN ('r', 'v', 'm', 'f', 'p')
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE p.pronargs = 1 AND p.prokind = 'f' AND an.nspname = ANY($1)
  AND pn.nspname NOT IN ('pg_catalog', 'information_schema')
  AND p.prorettype <> 'void'::regtype
ORDER BY pn.nspname, p.proname
"#;

/// The schema of PostGIS 3 or newer (whose `ST_AsGeoJSON(record)` builds features), quoted. A
/// version that does not start with a number matches nothing rather than failing the load.
const POSTGIS_SQL: &str = r#"
SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'postgis' AND substring(e.extversion FROM '^[0-9]+')::int >= 3"#;

/// Every role, and whether `authenticator` is a member of it (itself included): whether it
/// could `SET ROLE` to it. No rows when `authenticator` does not exist.
const SWITCHABLE_ROLES_SQL: &str = r#"
SELECT r.rolname::text, pg_has_role(a.oid, r.oid, 'MEMBER')
FROM pg_roles a
CROSS JOIN pg_roles r
WHERE a.rolname = 'authenticator'
"#;

/// Settings of the roles this connection can switch to (not its own, which the session already
/// has): per-database ones after the all-database ones so they win, restricted to settings a
/// plain user may change (and superuser ones when connected as a superuser).
const ROLE_SETTINGS_SQL: &str = r#"
WITH role_setting AS (
  SELECT r.rolname::text AS role, s.setdatabase <> 0 AS this_db, c.n AS pos,
         split_part(c.setting, '=', 1) AS key,
         substr(c.setting, strpos(c.setting, '=') + 1) AS value
  FROM pg_db_role_setting s
  JOIN pg_roles r ON r.oid = s.setrole
  CROSS JOIN LATERAL unnest(s.setconfig) WITH ORDINALITY AS c(setting, n)
  WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
    AND r.rolname <> current_user
    AND pg_has_role(current_user, r.oid, 'MEMBER')
)
SELECT rs.role, rs.key, rs.value
FROM role_setting rs
JOIN pg_settings ps ON ps.name = rs.key
WHERE ps.context = 'user'
   OR (ps.context = 'superuser' AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
ORDER BY rs.role, rs.this_db, rs.pos
"#;

/// A column's [`Representation`] from its three cast functions (`[schema, name]` each), if it
/// has any.
fn representation(
    to_json: Option<Vec<String>>,
    from_text: Option<Vec<String>>,
    from_json: Option<Vec<String>>,
) -> Option<Arc<Representation>> {
    let name = |v: Option<Vec<String>>| match v.as_deref() {
        Some([schema, name]) => Some((schema.clone(), name.clone())),
        _ => None,
    };
    let r = Representation {
        to_json: name(to_json),
        from_text: name(from_text),
        from_json: name(from_json),
    };
    (r != Representation::default()).then(|| Arc::new(r))
}

/// The comments of the exposed schemas.
const SCHEMA_COMMENTS_SQL: &str = "\
SELECT n.nspname, d.description FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_description d
  ON d.objoid = n.oid AND d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objsubid = 0
WHERE n.nspname = ANY($1)";

/// Media type handlers (see [`MediaHandler`]): domains named like a media type (or `*/*`),
/// returned by one-argument aggregates over a relation's row type or `anyelement`, or by
/// functions that return one value. Both only in the exposed schemas.
const MEDIA_HANDLERS_SQL: &str = r#"
WITH media_types AS (
  SELECT t.oid, lower(t.typname) AS media_type,
         CASE WHEN t.typname = '*/*' THEN 'application/octet-stream' ELSE t.typname::text END AS content_type,
         COALESCE(bt.typname, b.typname) = 'bytea' AS is_bytea,
         COALESCE(bt.typname, b.typname) = 'xml' AS is_xml
  FROM pg_type t
  JOIN pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_type bt ON bt.oid = b.typbasetype
  WHERE t.typtype = 'd'
    AND (t.typname ~* '^[a-z0-9.-]+/[a-z0-9.+-]+$' OR t.typname = '*/*')
)
SELECT pn.nspname::text, p.proname::text, rn.nspname::text, rc.relname::text, m.media_type,
       m.content_type, m.is_bytea, m.is_xml
FROM media_types m
JOIN pg_proc p ON p.prorettype = m.oid AND p.prokind = 'a' AND p.pronargs = 1
JOIN pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_type arg ON arg.oid = p.proargtypes[0]
LEFT JOIN pg_class rc ON rc.reltype = arg.oid AND rc.relkind IN ('r', 'v', 'm', 'f', 'p')
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE pn.nspname = ANY($1) AND (rc.oid IS NOT NULL OR arg.typname = 'anyelement')
UNION ALL
SELECT NULL, NULL, pn.nspname::text, p.proname::text, m.media_type, m.content_type, m.is_bytea,
       m.is_xml
FROM media_types m
JOIN pg_proc p ON p.prorettype = m.oid AND p.prokind = 'f' AND NOT p.proretset
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE pn.nspname = ANY($1)
"#;

/// The rows of [`MEDIA_HANDLERS_SQL`] by what they serve and media type.
fn media_handlers(
    rows: &[tokio_postgres::Row],
) -> HashMap<(Option<QualifiedName>, String), Arc<MediaHandler>> {
    let mut out = HashMap::new();
    for r in rows {
        let function = match (r.get::<_, Option<String>>(0), r.get::<_, Option<String>>(1)) {
            (Some(s), Some(n)) => Some((s, n)),
            _ => None,
        };
        let target = match (r.get::<_, Option<String>>(2), r.get::<_, Option<String>>(3)) {
            (Some(s), Some(n)) => Some((s, n)),
            _ => None,
        };
        let kind = match function {
            Some(function) => HandlerKind::Aggregate {
                function,
                target: target.clone(),
            },
            None => HandlerKind::Function,
        };
        let handler = MediaHandler {
            kind,
            content_type: r.get(5),
            bytea: r.get(6),
            xml: r.get(7),
        };
        out.insert((target, r.get(4)), Arc::new(handler));
    }
    out
}

/// Runs the catalog queries and assembles the cache.
pub async fn load(
    client: &Client,
    schemas: &[String],
    extra_search_path: &[String],
) -> Result<SchemaCache, LoadError> {
    let schemas_vec: Vec<String> = schemas.to_vec();
    let view_schemas: Vec<String> = schemas.iter().chain(extra_search_path).cloned().collect();
    // Unnamed statements, each parsed, bound and run in one round trip: nothing is left
    // prepared on the server, so the load works behind a pooler in transaction mode too.
    let by_schema: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)] =
        &[(&schemas_vec, Type::TEXT_ARRAY)];
    // An empty search_path makes format_type and pg_get_expr schema-qualify every
    // non-catalog name, so the texts stay valid whatever search_path a request sets.
    client
        .batch_execute("BEGIN READ ONLY; SET LOCAL search_path = ''")
        .await?;
    let loaded = futures_util::future::try_join3(
        futures_util::future::try_join5(
            client.query_typed(RELATIONS_SQL, by_schema),
            client.query_typed(KEYS_SQL, &[]),
            client.query_typed(VIEWS_SQL, &[(&view_schemas, Type::TEXT_ARRAY)]),
            client.query_typed(FUNCTIONS_SQL, by_schema),
            client.query_typed(COMPUTED_SQL, by_schema),
        ),
        futures_util::future::try_join5(
            client.query_typed(ROLE_SETTINGS_SQL, &[]),
            client.query_typed(POSTGIS_SQL, &[]),
            client.query_typed(MEDIA_HANDLERS_SQL, by_schema),
            client.query_typed(SCHEMA_COMMENTS_SQL, by_schema),
            client.query_typed(SWITCHABLE_ROLES_SQL, &[]),
        ),
        client.query_typed("SELECT name FROM pg_catalog.pg_timezone_names", &[]),
    )
    .await;
    let finish = if loaded.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(finish).await?;
    let (
        (rel_rows, key_rows, view_rows, fn_rows, computed_rows),
        (role_rows, postgis_rows, handler_rows, comment_rows, switchable_rows),
        timezone_rows,
    ) = loaded?;
    let switchable_roles = (!switchable_rows.is_empty()).then(|| {
        switchable_rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
            .collect()
    });
    let postgis = postgis_rows.first().map(|r| r.get::<_, String>(0));
    let role_settings = role_settings(&role_rows);

    let mut tables: BTreeMap<QualifiedName, Table> = BTreeMap::new();
    for r in &rel_rows {
        let key: QualifiedName = (r.get(0), r.get(1));
        let kind: String = r.get(2);
        let upd: i32 = r.get(4);
        let table = tables.entry(key.clone()).or_insert_with(|| Table {
            schema: key.0.clone(),
            name: key.1.clone(),
            kind: match kind.as_str() {
                "v" => TableKind::View,
                "m" => TableKind::MaterializedView,
                "f" => TableKind::Foreign,
                _ => TableKind::Table,
            },
            columns: Vec::new(),
            pk: Vec::new(),
            uniques: Vec::new(),
            // pg_relation_is_updatable bits: 1<<CMD_UPDATE(2), 1<<CMD_INSERT(3), 1<<CMD_DELETE(4).
            insertable: upd & 8 != 0,
            updatable: upd & 4 != 0,
            deletable: upd & 16 != 0,
            description: r.get(3),
        });
        // A relation without columns (`CREATE TABLE t ()`) comes as one row without one.
        let Some(name) = r.get::<_, Option<String>>(5) else {
            continue;
        };
        table.columns.push(Column {
            name,
            data_type: r.get(6),
            type_name: r.get(7),
            nullable: r.get(8),
            default: r.get(9),
            max_len: r.get(10),
            enum_values: r.get::<_, Option<Vec<String>>>(11).unwrap_or_default(),
            description: r.get(12),
            repr: representation(r.get(13), r.get(14), r.get(15)),
        });
    }

    let mut oids: HashMap<u32, QualifiedName> = HashMap::new();
    let mut fks = Vec::new();
    let mut uniques: Uniques = HashMap::new();
    let mut pks: HashMap<QualifiedName, Vec<String>> = HashMap::new();
    for r in &key_rows {
        let name: String = r.get(0);
        let kind: String = r.get(1);
        let table: QualifiedName = (r.get(2), r.get(3));
        let oid: i64 = r.get(4);
        oids.insert(u32::try_from(oid).unwrap_or(0), table.clone());
        let cols: Vec<String> = r.get::<_, Option<Vec<String>>>(5).unwrap_or_default();
        match kind.as_str() {
            "f" => {
                let (Some(fs), Some(ft), Some(foid)) = (
                    r.get::<_, Option<String>>(6),
                    r.get::<_, Option<String>>(7),
                    r.get::<_, Option<i64>>(8),
                ) else {
                    continue;
                };
                oids.insert(u32::try_from(foid).unwrap_or(0), (fs.clone(), ft.clone()));
                fks.push(ForeignKey {
                    name,
                    table,
                    columns: cols,
                    foreign_table: (fs, ft),
                    foreign_columns: r.get::<_, Option<Vec<String>>>(9).unwrap_or_default(),
                });
            }
            k => {
                if k == "p" {
                    pks.insert(table.clone(), cols.clone());
                }
                uniques.entry(table).or_default().push(cols);
            }
        }
    }

    // View lineage: map each view column to the base column it passes through, through views
    // over views too, as long as each view is in an exposed schema or the extra search path
    // (PostgREST follows no others).
    for r in &view_rows {
        let oid: i64 = r.get(4);
        oids.insert(u32::try_from(oid).unwrap_or(0), (r.get(0), r.get(1)));
    }
    let mut lineage: ViewLineage = HashMap::new();
    for r in &view_rows {
        let view: QualifiedName = (r.get(0), r.get(1));
        let rule: String = r.get(2);
        let deps: Vec<Vec<String>> = r
            .get::<_, Option<Vec<String>>>(3)
            .unwrap_or_default()
            .iter()
            .map(|d| d.splitn(3, ':').map(str::to_string).collect())
            .collect();
        let mut entries = Vec::new();
        for (col, tbl_oid, attnum) in relationships::view_lineage_from_rule(&rule) {
            let dep = deps.iter().find(|d| {
                d.first().and_then(|o| o.parse::<u32>().ok()) == Some(tbl_oid)
                    && d.get(1).and_then(|n| n.parse::<i16>().ok()) == Some(attnum)
            });
            if let (Some(base), Some(dep)) = (oids.get(&tbl_oid), dep)
                && let Some(base_col) = dep.get(2)
            {
                entries.push((col, base.clone(), base_col.clone()));
            }
        }
        lineage.insert(view, entries);
    }
    relationships::resolve_nested_views(&mut lineage);

    for (key, table) in tables.iter_mut() {
        if let Some(pk) = pks.get(key) {
            table.pk = pk.clone();
        }
        if let Some(us) = uniques.get(key) {
            table.uniques = us.clone();
        }
        if table.pk.is_empty()
            && let Some(lin) = lineage.get(key)
        {
            table.pk = view_key(lin, &pks);
        }
    }
    // Views inherit the base uniques they expose, for one-to-one detection.
    for (view, lin) in &lineage {
        for (base, base_uniques) in uniques.clone() {
            for u in base_uniques {
                let mapped: Option<Vec<String>> = u
                    .iter()
                    .map(|c| {
                        lin.iter()
                            .find(|(_, t, bc)| *t == base && bc == c)
                            .map(|(vc, _, _)| vc.clone())
                    })
                    .collect();
                if let Some(m) = mapped {
                    uniques.entry(view.clone()).or_default().push(m);
                }
            }
        }
    }

    let mut relationships = relationships::derive(&tables, &fks, &uniques, &lineage);
    let hidden_relationships =
        relationships::hidden_junction_origins(&tables, &fks, &uniques, &lineage);
    let mut computed_fields: HashMap<QualifiedName, Vec<ComputedField>> = HashMap::new();
    let mut computed_rels = Vec::new();
    for r in &computed_rows {
        let function: QualifiedName = (r.get(0), r.get(1));
        let table: QualifiedName = (r.get(2), r.get(3));
        if !tables.contains_key(&table) {
            continue;
        }
        match (r.get::<_, Option<String>>(5), r.get::<_, Option<String>>(6)) {
            (Some(ts), Some(tn)) => {
                let returns_set: bool = r.get(7);
                let rows: f64 = r.get(8);
                computed_rels.push(ComputedRelationship {
                    function,
                    table,
                    target: (ts, tn),
                    to_one: !returns_set || rows == 1.0,
                });
            }
            _ => computed_fields
                .entry(table)
                .or_default()
                .push(ComputedField {
                    schema: function.0,
                    name: function.1,
                    type_name: r.get(4),
                }),
        }
    }
    relationships::add_computed(&mut relationships, &tables, &computed_rels);

    let mut functions: BTreeMap<QualifiedName, Vec<Function>> = BTreeMap::new();
    for r in &fn_rows {
        let key: QualifiedName = (r.get(0), r.get(1));
        let names: Vec<String> = r.get::<_, Option<Vec<String>>>(2).unwrap_or_default();
        let modes: Option<Vec<String>> = r.get(3);
        let types: Vec<String> = r.get(4);
        let n_defaults = usize::try_from(r.get::<_, i32>(5)).unwrap_or(0);
        let variadic: bool = r.get(6);
        let mut args = Vec::new();
        let mut out_cols = Vec::new();
        for (i, ty) in types.iter().enumerate() {
            let mode = modes
                .as_ref()
                .and_then(|m| m.get(i).cloned())
                .unwrap_or_else(|| "i".into());
            let name = names.get(i).cloned().unwrap_or_default();
            if matches!(mode.as_str(), "i" | "b" | "v") {
                args.push(FuncArg {
                    name: name.clone(),
                    data_type: ty.clone(),
                    has_default: false,
                    variadic: mode == "v" || (variadic && modes.is_none() && i + 1 == types.len()),
                });
            }
            if matches!(mode.as_str(), "o" | "b" | "t") {
                out_cols.push((name, ty.clone()));
            }
        }
        // As PostgREST's schema cache: a function is callable with named arguments only, or
        // with one unnamed argument that takes a whole body (`bytea`, `json`, `jsonb`, `text`,
        // `xml`); others (computed fields, which take a row) are no endpoint.
        let unnamed: Vec<&FuncArg> = args.iter().filter(|a| a.name.is_empty()).collect();
        let callable = match unnamed.as_slice() {
            [] => true,
            [a] => matches!(
                a.data_type.as_str(),
                "bytea" | "json" | "jsonb" | "text" | "xml"
            ),
            _ => false,
        };
        if !callable {
            continue;
        }
        let n = args.len();
        for a in args.iter_mut().skip(n.saturating_sub(n_defaults)) {
            a.has_default = true;
        }
        let typtype: String = r.get(9);
        let is_void: bool = r.get(14);
        let is_record: bool = r.get(15);
        let returns = if is_void {
            ReturnKind::Void
        } else if is_record && out_cols.is_empty() {
            // A bare `record`: its columns are known only at run time, so it is called and
            // encoded as one value, as PostgREST does.
            ReturnKind::Scalar
        } else if is_record || !out_cols.is_empty() {
            // OUT, INOUT or TABLE columns make rows with named columns, even a single one
            // (whose type PostgreSQL gives as the return type), as PostgREST treats them.
            ReturnKind::Record(out_cols)
        } else if typtype == "c" {
            let rel = match (
                r.get::<_, Option<String>>(10),
                r.get::<_, Option<String>>(11),
            ) {
                (Some(s), Some(t)) if tables.contains_key(&(s.clone(), t.clone())) => Some((s, t)),
                _ => None,
            };
            ReturnKind::Composite(rel)
        } else {
            ReturnKind::Scalar
        };
        let volatility: String = r.get(12);
        let mut config: Vec<(String, String)> = r
            .get::<_, Option<Vec<String>>>(16)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            })
            .collect();
        let isolation = config
            .iter()
            .find(|(k, _)| k == "default_transaction_isolation")
            .and_then(|(_, v)| Isolation::parse(v));
        config.retain(|(k, _)| k != "default_transaction_isolation");
        functions.entry(key.clone()).or_default().push(Function {
            schema: key.0,
            name: key.1,
            args,
            return_type: r.get(7),
            returns,
            returns_set: r.get(8),
            volatility: volatility.chars().next().unwrap_or('v'),
            description: r.get(13),
            isolation,
            config,
        });
    }

    let media_handlers = media_handlers(&handler_rows);
    Ok(SchemaCache {
        schemas: schemas.to_vec(),
        tables,
        relationships,
        hidden_relationships,
        functions,
        computed_fields,
        role_settings,
        switchable_roles,
        postgis,
        media_handlers,
        schema_descriptions: comment_rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        timezones: timezone_rows.iter().map(|r| r.get(0)).collect(),
    })
}

/// Groups `(role, key, value)` rows; a later row for the same key (a per-database setting)
/// replaces an earlier one.
fn role_settings(rows: &[tokio_postgres::Row]) -> HashMap<String, RoleSettings> {
    let mut out: HashMap<String, RoleSettings> = HashMap::new();
    for r in rows {
        let (role, key, value): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let entry = out.entry(role).or_default();
        if key == "default_transaction_isolation" {
            entry.isolation = Isolation::parse(&value);
            continue;
        }
        match entry.settings.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => entry.settings.push((key, value)),
        }
    }
    out
}
