//! Writes: POST (insert, bulk insert, upsert), PATCH, PUT and DELETE.
//!
//! Validates the payload against the schema cache, then renders one statement: the payload is
//! a single bound JSON parameter expanded with `json_populate_record`, the write runs in a
//! `pgrst_source` CTE, and the representation (select list and embeds) is built over the
//! returned rows. Pure: no I/O.

use serde_json::{Map, Value};

use crate::error::RestError;
use crate::filter::{Op, Operation};
use crate::media::Media;
use crate::plan::{Cond, Out, ReadNode};
use crate::prefer::{Preferences, Resolution, Return};
use crate::query_params::QueryParams;
use crate::render::{self, RESPONSE_GUCS};
use crate::schema_cache::{Cardinality, Table};
use crate::sql::{Ident, Sql};

/// Which write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// POST.
    Insert,
    /// PATCH.
    Update,
    /// PUT.
    Upsert,
    /// DELETE.
    Delete,
}

/// The parsed payload: the JSON bound as the write's single parameter, and what planning the
/// write needs to know of it. A JSON body is bound as it came (as PostgREST binds it): its
/// numbers keep every digit, and no tree of its values is ever built, so a large bulk insert
/// costs the data plane little more memory than its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// The JSON text bound as the single payload parameter.
    pub json: String,
    /// The keys of its objects, in order of first appearance.
    pub keys: Vec<String>,
    /// How many objects it holds.
    pub rows: usize,
    /// Whether the body was a JSON array.
    pub is_array: bool,
    /// Whether every object has the same keys. PostgREST refuses a body whose objects do not,
    /// unless `columns=` names the columns.
    pub uniform: bool,
}

fn invalid_json() -> RestError {
    RestError::InvalidBody("Empty or invalid json".into())
}

/// Parses a request body by its content type.
pub fn parse_payload(content_type: Option<&str>, body: &[u8]) -> Result<Payload, RestError> {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/json".into());
    let value = match ct.as_str() {
        "text/csv" => csv_rows(body)?,
        "application/x-www-form-urlencoded" => {
            let text = String::from_utf8_lossy(body);
            let mut m = Map::new();
            for (k, v) in crate::query_params::decode_pairs(&text) {
                m.insert(k, Value::String(v));
            }
            Value::Object(m)
        }
        "application/json" => return json_payload(body),
        // PostgREST takes no other body for a table; the payload is not guessed at.
        other => {
            return Err(RestError::InvalidBody(format!(
                "Content-Type not acceptable: {other}"
            )));
        }
    };
    // Rows built here are objects already: their keys are read off them, not parsed again.
    let (objects, is_array) = match &value {
        Value::Array(items) => (items.iter().filter_map(Value::as_object).collect(), true),
        Value::Object(m) => (vec![m], false),
        _ => (Vec::new(), false),
    };
    let mut shape = Shape {
        is_array,
        ..Shape::default()
    };
    for object in objects {
        for key in object.keys() {
            shape.key(key.into());
        }
        shape.end_object();
    }
    Ok(Payload {
        json: value.to_string(),
        keys: shape.keys,
        rows: shape.rows,
        is_array,
        uniform: !shape.mixed,
    })
}

/// A JSON body: an object or an array of objects, read for its keys only.
fn json_payload(body: &[u8]) -> Result<Payload, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid_json());
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid_json())?;
    let shape: Shape = match serde_json::from_str(text) {
        Ok(shape) => shape,
        // Valid JSON of another shape: an array holding something else than objects is
        // PostgREST's "All object keys must match"; a scalar or null counts as an empty array,
        // as PostgREST truncates it.
        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            if text.trim_start().starts_with('[') {
                return Err(RestError::InvalidBody("All object keys must match".into()));
            }
            return Ok(Payload {
                json: "[]".to_owned(),
                keys: Vec::new(),
                rows: 0,
                is_array: true,
                uniform: true,
            });
        }
        Err(_) => return Err(invalid_json()),
    };
    Ok(Payload {
        json: text.to_owned(),
        keys: shape.keys,
        rows: shape.rows,
        is_array: shape.is_array,
        uniform: !shape.mixed,
    })
}

/// What [`json_payload`] reads of a body: its objects' keys, their number, and whether they
/// came in an array. Values are skipped without being kept.
#[derive(Default)]
struct Shape {
    keys: Vec<String>,
    /// Each key's index in `keys`.
    seen: std::collections::HashMap<String, usize>,
    rows: usize,
    is_array: bool,
    /// The distinct keys (indices in `keys`) of the object being read.
    current: Vec<usize>,
    /// The first object's number of keys: they are `keys[..first]`.
    first: Option<usize>,
    /// Whether some object's keys differ from the first's.
    mixed: bool,
}

impl Shape {
    fn key(&mut self, key: std::borrow::Cow<'_, str>) {
        let index = match self.seen.get(key.as_ref()) {
            Some(&i) => i,
            None => {
                let i = self.keys.len();
                self.seen.insert(key.to_string(), i);
                self.keys.push(key.into_owned());
                i
            }
        };
        // A key repeated within an object counts once (the last value wins, as in PostgREST).
        if !self.current.contains(&index) {
            self.current.push(index);
        }
    }

    /// Ends an object: its keys are the first's when it has as many distinct ones, all among
    /// the first's.
    fn end_object(&mut self) {
        match self.first {
            None => self.first = Some(self.current.len()),
            Some(n) => {
                self.mixed |= self.current.len() != n || self.current.iter().any(|&i| i >= n);
            }
        }
        self.current.clear();
        self.rows += 1;
    }

    /// One object's keys, its values skipped.
    fn object<'de, A: serde::de::MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            self.key(key);
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        self.end_object();
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Top;
        impl<'de> serde::de::Visitor<'de> for Top {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Shape, A::Error> {
                let mut shape = Shape::default();
                shape.object(map)?;
                Ok(shape)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Shape, A::Error> {
                let mut shape = Shape {
                    is_array: true,
                    ..Shape::default()
                };
                while seq.next_element_seed(Row(&mut shape))?.is_some() {}
                Ok(shape)
            }
        }
        /// One element of the array, which must be an object.
        struct Row<'s>(&'s mut Shape);
        impl<'de> serde::de::DeserializeSeed<'de> for Row<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for Row<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
                self.0.object(map)
            }
        }
        d.deserialize_any(Top)
    }
}

/// CSV with a header row; the unquoted value `NULL` is SQL NULL.
pub fn csv_rows(body: &[u8]) -> Result<Value, RestError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| RestError::InvalidBody("Invalid CSV: not UTF-8".into()))?;
    let mut records = parse_csv(text);
    if records.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let header: Vec<String> = records.remove(0).into_iter().map(|(v, _)| v).collect();
    let mut rows = Vec::new();
    for rec in records {
        if rec.len() == 1 && rec[0].0.is_empty() && !rec[0].1 {
            continue;
        }
        if rec.len() != header.len() {
            return Err(RestError::InvalidBody(
                "All lines must have same number of fields".into(),
            ));
        }
        let mut m = Map::new();
        for (h, (v, quoted)) in header.iter().zip(rec) {
            let val = if !quoted && v == "NULL" {
                Value::Null
            } else {
                Value::String(v)
            };
            m.insert(h.clone(), val);
        }
        rows.push(Value::Object(m));
    }
    Ok(Value::Array(rows))
}

/// RFC 4180 records; each field carries whether it was quoted.
fn parse_csv(text: &str) -> Vec<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                quoted = true;
            }
            ',' => rec.push((
                std::mem::take(&mut field),
                std::mem::replace(&mut quoted, false),
            )),
            '\r' => {}
            '\n' => {
                rec.push((
                    std::mem::take(&mut field),
                    std::mem::replace(&mut quoted, false),
                ));
                out.push(std::mem::take(&mut rec));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || quoted || !rec.is_empty() {
        rec.push((field, quoted));
        out.push(rec);
    }
    out
}

/// The columns a write sets: `columns=` (`named`) or the union of payload keys, all validated.
pub fn write_columns(
    table: &Table,
    named: Option<&Vec<String>>,
    payload: &Payload,
) -> Result<Vec<String>, RestError> {
    let cols: Vec<String> = match named {
        Some(c) => c.clone(),
        None if !payload.uniform => {
            return Err(RestError::InvalidBody("All object keys must match".into()));
        }
        None => payload.keys.clone(),
    };
    for c in &cols {
        if table.column(c).is_none() {
            return Err(RestError::ColumnNotFound {
                table: table.name.clone(),
                column: c.clone(),
            });
        }
    }
    Ok(cols)
}

/// Checks PUT's rules on the URL: no range, and filters that are exactly the key's columns with
/// `eq`. The rows are checked against the key by the statement, as PostgREST's: only rows with
/// the URL's key values are offered ([`render_write`]), and a PUT writing no row is PGRST115.
pub fn check_put(table: &Table, q: &QueryParams) -> Result<(), RestError> {
    if q.has_top_range {
        return Err(RestError::PutLimit);
    }
    let top: Vec<_> = q.filters.iter().filter(|f| f.path.is_empty()).collect();
    for pk in &table.pk {
        let f = top
            .iter()
            .find(|f| &f.field.name == pk && f.field.json_path.is_empty() && !f.negate);
        if !matches!(f.map(|f| &f.op), Some(Operation::Binary(Op::Eq, None, _))) {
            return Err(RestError::PutFilters);
        }
    }
    if table.pk.is_empty() || top.len() != table.pk.len() || !q.logic.is_empty() {
        return Err(RestError::PutFilters);
    }
    Ok(())
}

/// PUT compares the URL's key values with the payload's: a key column the payload lacks (all
/// of them for `[]`, `{}` or a scalar) is PostgreSQL's 42703 on PostgREST's statement, which
/// reads the rows as `pgrst_body` with the payload's columns in name order. The first such
/// column, in the URL's order.
pub fn put_key_columns(q: &QueryParams, columns: &[String], anon: bool) -> Result<(), RestError> {
    let Some(f) = q
        .filters
        .iter()
        .find(|f| f.path.is_empty() && !columns.contains(&f.field.name))
    else {
        return Ok(());
    };
    let mut body_columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    body_columns.sort_unstable();
    Err(RestError::Db {
        error: crate::error::DbError {
            code: "42703".into(),
            message: format!("column pgrst_body.{} does not exist", f.field.name),
            details: None,
            hint: crate::plan::column_hint("pgrst_body", &f.field.name, body_columns.into_iter()),
        },
        anon,
    })
}

/// Everything needed to render a write.
pub struct WritePlan<'a> {
    /// Which write.
    pub kind: WriteKind,
    /// The target.
    pub table: &'a Table,
    /// Columns set by the payload.
    pub columns: Vec<String>,
    /// Keys of the payload that `columns=` leaves out: never read.
    pub ignored_keys: Vec<String>,
    /// The payload JSON (none for DELETE).
    pub payload: Option<String>,
    /// Conditions for PATCH/DELETE (from the root node).
    pub conds: Vec<Cond>,
    /// The representation node over `pgrst_source` (conditions removed).
    pub node: ReadNode,
    /// Whether a body is wanted, and in which representation.
    pub representation: Option<Media>,
    /// Upsert resolution.
    pub resolution: Option<Resolution>,
    /// `on_conflict=` columns.
    pub on_conflict: Option<Vec<String>>,
    /// `missing=default`.
    pub missing_default: bool,
}

fn col_list(cols: &[String]) -> String {
    cols.iter()
        .map(|c| Ident::new(c).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The written columns whose domain reads JSON through its representation (a `json -> domain`
/// cast function), with that function.
fn json_parsers<'c>(t: &Table, columns: &'c [String]) -> Vec<(&'c str, Ident)> {
    columns
        .iter()
        .filter_map(|c| {
            let f = t.column(c)?.repr.as_deref()?.from_json.as_ref()?;
            Some((c.as_str(), Ident::qualified(&f.0, &f.1)))
        })
        .collect()
}

/// `source` (a JSON object) as `json_populate_record` should read it: without the keys the
/// representation functions in `parsed` read, whose values need not be valid for the domain's
/// base type, nor the `ignored` ones `columns=` leaves out.
fn populate_source(source: &str, parsed: &[(&str, Ident)], ignored: &[String]) -> String {
    if parsed.is_empty() && ignored.is_empty() {
        return source.to_string();
    }
    let keys: Vec<String> = parsed
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(ignored.iter().cloned())
        .collect();
    format!(
        "({source}::jsonb - {}::text[])::json",
        crate::sql::literal(&crate::render::array_literal(&keys))
    )
}

/// The value of column `c` from the JSON object `source`: through the column's representation
/// when it has one, else `populated."c"` (the record `json_populate_record` built).
fn column_value(c: &str, source: &str, populated: &str, parsed: &[(&str, Ident)]) -> String {
    match parsed.iter().find(|(name, _)| *name == c) {
        // A JSON null is SQL NULL to the function, as `json_to_record` gives it.
        Some((_, f)) => {
            let v = format!("{source} -> {}", crate::sql::literal(c));
            format!("{f}(CASE WHEN json_typeof({v}) = 'null' THEN NULL ELSE {v} END)")
        }
        None => format!("{populated}.{}", Ident::new(c)),
    }
}

/// Renders the write statement.
pub fn render_write(p: &mut WritePlan, prefs: &Preferences) -> Result<Sql, RestError> {
    let t = p.table;
    let target = Ident::qualified(&t.schema, &t.name);
    let alias = Ident::new(&p.node.alias);
    let mut sql = Sql::new();
    sql.push("WITH ");
    if let Some(json) = p.payload.take() {
        sql.push("pgrst_payload AS (SELECT ")
            .bind(json)
            .push("::json AS json_data), pgrst_body AS (SELECT CASE WHEN json_typeof(json_data) = 'array' THEN json_data ELSE json_build_array(json_data) END AS val FROM pgrst_payload), ");
    }
    // What the statement hands back. Only a representation needs the rows, and `Location` the
    // key: otherwise `RETURNING 1`, as PostgREST, so a role that may write but not read (an
    // insert-only table, column grants) can write. Returning columns would take SELECT on them
    // and RLS's SELECT policies.
    let headers_only_insert =
        prefs.return_ == Some(Return::HeadersOnly) && matches!(p.kind, WriteKind::Insert);
    // Whether the rows handed back carry the key, for `Location`.
    let returns_key = !t.pk.is_empty() && (p.representation.is_some() || headers_only_insert);
    let returning = if p.representation.is_some() {
        match representation_columns(&p.node, &t.pk) {
            // Nothing to read (only `count()`, no key): a row each is enough.
            Some(cols) if cols.is_empty() => "1".to_string(),
            Some(cols) => cols
                .iter()
                .map(|c| format!("{alias}.{}", Ident::new(c)))
                .collect::<Vec<_>>()
                .join(", "),
            None => format!("{alias}.*"),
        }
    } else if returns_key {
        let pks: Vec<String> =
            t.pk.iter()
                .map(|c| format!("{alias}.{}", Ident::new(c)))
                .collect();
        pks.join(", ")
    } else {
        "1".to_string()
    };
    // Rows inserted by an upsert, counted as PostgREST counts them: every row offered adds one,
    // every conflicting row updated takes one away. Works through views too.
    let mut counts_inserted = false;
    sql.push("pgrst_source AS (");
    match p.kind {
        WriteKind::Insert | WriteKind::Upsert => {
            sql.push("INSERT INTO ")
                .ident(&target)
                .push(" AS ")
                .ident(&alias);
            if !p.columns.is_empty() {
                sql.push(" (").push(&col_list(&p.columns)).push(")");
            }
            let parsed = json_parsers(t, &p.columns);
            let exprs: Vec<String> = p
                .columns
                .iter()
                .map(|c| {
                    let v = column_value(c, "pgrst_j.v", "pgrst_r", &parsed);
                    match t.column(c).and_then(|col| col.default.as_ref()) {
                        Some(d) if p.missing_default => format!(
                            "CASE WHEN pgrst_j.v -> {} IS NULL THEN {d} ELSE {v} END",
                            crate::sql::literal(c)
                        ),
                        _ => v,
                    }
                })
                .collect();
            sql.push(" SELECT ")
                .push(&exprs.join(", "))
                .push(" FROM json_array_elements((SELECT val FROM pgrst_body)) AS pgrst_j(v), LATERAL json_populate_record(NULL::")
                .ident(&target)
                .push(", ")
                .push(&populate_source("pgrst_j.v", &parsed, &p.ignored_keys))
                .push(") AS pgrst_r");
            let resolution = if p.kind == WriteKind::Upsert {
                Some(Resolution::Merge)
            } else {
                p.resolution
            };
            // The planner gives a resolution only with conflict columns (`on_conflict`, else the
            // key; a PUT always has a key): without them an upsert is a plain insert.
            if let Some(res) = resolution {
                let conflict = match &p.on_conflict {
                    Some(c) => {
                        if let Some(col) = c.iter().find(|col| t.column(col).is_none()) {
                            return Err(unknown_conflict_column(t, col));
                        }
                        c
                    }
                    None => &t.pk,
                };
                let merging = res == Resolution::Merge;
                if merging {
                    sql.push(" WHERE ");
                    // PUT: only the rows with the URL's key values, compared as the column's
                    // type compares them (PostgREST's conditions on `pgrst_body`). Several
                    // such rows make PostgreSQL refuse the statement (21000).
                    if p.kind == WriteKind::Upsert {
                        for c in &p.conds {
                            if let Cond::Filter { field, .. } = c {
                                let lhs =
                                    column_value(&field.name, "pgrst_j.v", "pgrst_r", &parsed);
                                render::render_filter_on(&mut sql, &lhs, c);
                                sql.push(" AND ");
                            }
                        }
                    }
                    sql.push(&inserted_step("+", "0"));
                    counts_inserted = true;
                }
                sql.push(" ON CONFLICT (")
                    .push(&col_list(conflict))
                    .push(")");
                let sets: Vec<String> = p
                    .columns
                    .iter()
                    .map(|c| format!("{0} = EXCLUDED.{0}", Ident::new(c)))
                    .collect();
                if !merging || sets.is_empty() {
                    sql.push(" DO NOTHING");
                } else {
                    sql.push(" DO UPDATE SET ")
                        .push(&sets.join(", "))
                        .push(" WHERE ")
                        .push(&inserted_step("-", "-1"));
                }
            }
            sql.push(" RETURNING ").push(&returning);
        }
        WriteKind::Update => {
            if p.columns.is_empty() {
                sql.push("SELECT ")
                    .push(&returning)
                    .push(" FROM ")
                    .ident(&target)
                    .push(" AS ")
                    .ident(&alias)
                    .push(" WHERE FALSE");
            } else {
                let parsed = json_parsers(t, &p.columns);
                let row = "((SELECT val FROM pgrst_body)->0)";
                let sets: Vec<String> = p
                    .columns
                    .iter()
                    .map(|c| {
                        let v = column_value(c, row, "pgrst_r", &parsed);
                        // `missing=default`: a key the body leaves out takes the default.
                        match t.column(c).and_then(|col| col.default.as_ref()) {
                            Some(d) if p.missing_default => format!(
                                "{} = CASE WHEN {row} -> {} IS NULL THEN {d} ELSE {v} END",
                                Ident::new(c),
                                crate::sql::literal(c)
                            ),
                            _ => format!("{} = {v}", Ident::new(c)),
                        }
                    })
                    .collect();
                sql.push("UPDATE ")
                    .ident(&target)
                    .push(" AS ")
                    .ident(&alias)
                    .push(" SET ")
                    .push(&sets.join(", "))
                    .push(" FROM (SELECT * FROM json_populate_record(NULL::")
                    .ident(&target)
                    .push(", ")
                    .push(&populate_source(row, &parsed, &p.ignored_keys))
                    .push(")) AS pgrst_r");
                render_where(&mut sql, p);
                sql.push(" RETURNING ").push(&returning);
            }
        }
        WriteKind::Delete => {
            sql.push("DELETE FROM ")
                .ident(&target)
                .push(" AS ")
                .ident(&alias);
            render_where(&mut sql, p);
            sql.push(" RETURNING ").push(&returning);
        }
    }
    sql.push(") SELECT NULL::int8 AS total_result_set, (SELECT count(*) FROM pgrst_source)::int8 AS page_total, ");
    match &p.representation {
        Some(media) => {
            sql.push("(WITH pgrst_rep AS (");
            render::render_node_body(&mut sql, &p.node, None, "", None, false);
            sql.push(") SELECT ")
                .push(&render::body_expr(media, "pgrst_rep"))
                .push(" FROM (SELECT * FROM pgrst_rep) _postgrest_t)");
        }
        None => {
            sql.push("''");
        }
    }
    sql.push(" AS body, ").push(RESPONSE_GUCS).push(", ");
    if counts_inserted {
        // Read once every row is written: the count forces the whole statement first.
        sql.push(
            "(SELECT coalesce(nullif(current_setting('pgrst.inserted', true), '')::int8, 0) FROM (SELECT count(*) FROM pgrst_source) AS pgrst_done)",
        );
    } else {
        sql.push("(SELECT count(*) FROM pgrst_source)::int8");
    }
    sql.push(" AS inserted, ");
    if !returns_key {
        sql.push("NULL::text");
    } else {
        let pks: Vec<String> = t.pk.iter().map(|c| Ident::new(c).to_string()).collect();
        sql.push("(SELECT json_build_array(")
            .push(&pks.join(", "))
            .push(")::text FROM pgrst_source LIMIT 1)");
    }
    sql.push(" AS location");
    Ok(sql)
}

/// The columns a representation reads from the written rows, as PostgREST's: those selected,
/// the ones its embeds join on, and the key; `None` when it needs the whole row (`*`, a
/// computed field or relationship, conditions or order on the rows themselves).
fn representation_columns(node: &ReadNode, pk: &[String]) -> Option<Vec<String>> {
    if !node.conds.is_empty() || !node.order.is_empty() {
        return None;
    }
    let mut cols: Vec<String> = Vec::new();
    let mut add = |c: &str| {
        if !cols.iter().any(|have| have == c) {
            cols.push(c.to_string());
        }
    };
    for out in &node.select {
        match out {
            Out::Star
            | Out::Col {
                computed: Some(_), ..
            } => return None,
            Out::Col { field, .. } => add(&field.name),
            Out::CountAll { .. } | Out::Embed(_) => {}
        }
    }
    for embed in &node.embeds {
        match &embed.rel.cardinality {
            Cardinality::Computed { .. } => return None,
            Cardinality::ManyToMany { origin_cols, .. } => {
                origin_cols.iter().for_each(|(c, _)| add(c));
            }
            _ => embed.rel.columns.iter().for_each(|(c, _)| add(c)),
        }
    }
    pk.iter().for_each(|c| add(c));
    Some(cols)
}

/// PostgreSQL's error for an `on_conflict` column the table lacks, as PostgREST passes it on
/// (it leaves the check to PostgreSQL): 400 `42703`, with a close column as the hint.
fn unknown_conflict_column(t: &Table, col: &str) -> RestError {
    let hint = crate::plan::column_hint(&t.name, col, t.columns.iter().map(|c| c.name.as_str()));
    RestError::Db {
        error: crate::error::DbError {
            code: "42703".into(),
            message: format!("column \"{col}\" does not exist"),
            details: None,
            hint,
        },
        anon: false,
    }
}

/// Steps the count of inserted rows (`pgrst.inserted`, local to the transaction) by one and
/// is true: `+` where a row is offered for insertion, `-` where a conflict updates one instead.
fn inserted_step(sign: &str, never: &str) -> String {
    format!(
        "set_config('pgrst.inserted', (coalesce(nullif(current_setting('pgrst.inserted', true), '')::int, 0) {sign} 1)::text, true) <> '{never}'"
    )
}

fn render_where(sql: &mut Sql, p: &WritePlan) {
    for (i, c) in p.conds.iter().enumerate() {
        sql.push(if i == 0 { " WHERE " } else { " AND " });
        render::render_cond(sql, &p.node, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_forms() {
        let p = parse_payload(None, br#"[{"a":1},{"b":2,"a":{"x":[1]}}]"#).expect("array");
        assert!(p.is_array);
        assert_eq!(p.rows, 2);
        assert_eq!(p.keys, ["a", "b"]);
        // Bound as it came: every digit of a number kept.
        let exact = br#"{"n": 12345678901234567890.123456789012345}"#;
        let p = parse_payload(None, exact).expect("object");
        assert_eq!(p.json.as_bytes(), exact);
        assert!(!p.is_array);
        assert_eq!(
            (p.rows, p.keys.as_slice()),
            (1, ["n".to_owned()].as_slice())
        );
        for empty in [&b"[]"[..], b"[ ]"] {
            let p = parse_payload(None, empty).expect("empty array");
            assert_eq!((p.rows, p.keys.len(), p.is_array), (0, 0, true));
        }
        assert!(!p_mixed().uniform, "objects with other keys");
        for same in [&br#"[{"a":1,"b":2},{"b":3,"a":4}]"#[..], br#"{"a":1}"#] {
            assert!(parse_payload(None, same).expect("uniform").uniform);
        }
        assert!(
            !parse_payload(None, br#"[{"a":1,"b":2},{"a":3}]"#)
                .expect("fewer")
                .uniform
        );
        // A scalar or null is an empty array, as PostgREST truncates it.
        for scalar in [&b"1"[..], b"null", b" \"x\" "] {
            let p = parse_payload(None, scalar).expect("scalar");
            assert_eq!((p.json.as_str(), p.rows, p.is_array), ("[]", 0, true));
        }
        let e = parse_payload(None, br#"[{"a":1},"b"]"#).expect_err("not all objects");
        assert_eq!(e.message(), "All object keys must match");
        let e = parse_payload(None, br#"[{"a":1},"#).expect_err("cut off");
        assert_eq!(e.message(), "Empty or invalid json");
        let e = parse_payload(None, b"\xff\xfe").expect_err("not UTF-8");
        assert_eq!(e.code(), "PGRST102");
        let e = parse_payload(None, b"").expect_err("empty");
        assert_eq!(e.code(), "PGRST102");
        let e = parse_payload(None, b"{bad").expect_err("malformed");
        assert_eq!(e.code(), "PGRST102");
        let e = parse_payload(None, b"[1,2]").expect_err("scalars");
        assert_eq!(e.code(), "PGRST102");
    }

    fn p_mixed() -> Payload {
        parse_payload(None, br#"[{"a":1},{"b":2,"a":{"x":[1]}}]"#).expect("array")
    }

    #[test]
    fn csv_payload_with_null_and_quotes() {
        let p = parse_payload(Some("text/csv"), b"name,note\n\"a, b\",NULL\nc,\"NULL\"\n")
            .expect("csv");
        assert_eq!(p.rows, 2);
        assert_eq!(p.keys, ["name", "note"]);
        assert_eq!(
            p.json,
            r#"[{"name":"a, b","note":null},{"name":"c","note":"NULL"}]"#
        );
    }

    #[test]
    fn form_payload() {
        let p = parse_payload(Some("application/x-www-form-urlencoded"), b"name=a+b&x=%2C")
            .expect("form");
        assert_eq!(p.json, r#"{"name":"a b","x":","}"#);
    }

    #[test]
    fn a_body_of_another_content_type_is_refused() {
        let e = parse_payload(Some("application/xml"), br#"{"a":1}"#).expect_err("xml");
        assert_eq!(e.code(), "PGRST102");
        assert_eq!(e.message(), "Content-Type not acceptable: application/xml");
        let ok = parse_payload(Some("application/json; charset=utf-8"), br#"{"a":1}"#);
        assert!(ok.is_ok());
    }
}
