//! POST/PATCH/PUT/DELETE on a table or view: validates the payload and filters, runs the write
//! in one statement, then commits or rolls back (singular mismatch, max-affected, `tx=rollback`)
//! and answers with PostgREST's statuses and headers (`Location`, `Content-Range`).

use http::{Method, StatusCode};
use serde_json::Value;

use crate::error::{DbError, RestError};
use crate::execute::{self, Connection};
use crate::media::Media;
use crate::mutation::{self, WriteKind, WritePlan};
use crate::plan::{Cond, Planner, col_infos};
use crate::prefer::{Resolution, Return};
use crate::query_params::{QueryParams, form_decode};
use crate::read::{self, MainRow};
use crate::request::Ctx;
use crate::response::RestResponse;
use crate::sql::Ident;

/// Serves a write on `/name`.
pub async fn serve(
    ctx: &mut Ctx<'_>,
    client: &dyn Connection,
    name: &str,
) -> Result<RestResponse, RestError> {
    let kind = match ctx.req.method {
        Method::POST => WriteKind::Insert,
        Method::PATCH => WriteKind::Update,
        Method::PUT => WriteKind::Upsert,
        _ => WriteKind::Delete,
    };
    let q = QueryParams::parse(ctx.req.query.as_deref(), &|_| false)?;
    let content_type = ctx
        .req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = match kind {
        WriteKind::Delete => None,
        _ => Some(mutation::parse_payload(content_type, &ctx.req.body)?),
    };
    // The query string and body are parsed before the table is looked up, as PostgREST does.
    let table = ctx.cache.find_table(&ctx.schema, name)?;
    ctx.parsed();
    if kind == WriteKind::Upsert {
        mutation::check_put(table, &q)?;
    }
    // `limit` and `offset` on PATCH and DELETE are ignored, as in PostgREST since limited
    // updates and deletes were dropped: the write touches every matching row. `order` orders
    // the rows returned (supabase-js's `.update().select().order()`), as PostgREST's.
    let columns = match &payload {
        // A PATCH whose body holds no row sets nothing (columns= or not), as in PostgREST.
        Some(p) if kind == WriteKind::Update && p.rows == 0 => Vec::new(),
        // PUT writes the payload's keys: PostgREST reads `columns=` for POST and PATCH only.
        Some(p) if kind == WriteKind::Upsert => mutation::write_columns(table, None, p)?,
        Some(p) => mutation::write_columns(table, q.columns.as_ref(), p)?,
        None => Vec::new(),
    };
    if kind == WriteKind::Upsert {
        mutation::put_key_columns(&q, &columns, ctx.anon)?;
    }
    let mut planner = Planner::new(ctx.cache, &q, ctx.settings.aggregates_enabled)
        .with_search_path(ctx.search_path());
    let mut node = planner.plan_root(
        (table.schema.clone(), table.name.clone()),
        Ident::new("pgrst_source"),
        Some(col_infos(table)),
    )?;
    let conds: Vec<Cond> = std::mem::take(&mut node.conds);
    // The written rows are filtered before any embed exists: null checks on embeds, also
    // inside logic trees, cannot apply to them.
    if let Some(i) = conds.iter().find_map(Cond::embed_null) {
        return Err(RestError::EmbedFilter(node.embeds[i].label.clone()));
    }
    // Planned: now the preferences or media type refused earlier answer.
    if let Some(e) = ctx.refused.take() {
        return Err(e);
    }
    // Supabase loads pg-safeupdate for the API's login: an UPDATE or DELETE without a WHERE
    // clause is refused, so a forgotten filter cannot rewrite or empty a table.
    // (A PATCH setting no column runs no UPDATE, so it passes.)
    let writes = match kind {
        WriteKind::Update => !columns.is_empty(),
        WriteKind::Delete => true,
        _ => false,
    };
    if conds.is_empty() && writes {
        let verb = if kind == WriteKind::Update {
            "UPDATE"
        } else {
            "DELETE"
        };
        return Err(RestError::Db {
            error: DbError {
                code: "21000".into(),
                message: format!("{verb} requires a WHERE clause"),
                details: None,
                hint: None,
            },
            anon: ctx.anon,
        });
    }
    let ret = ctx.prefs.return_;
    if let Some(r) = ret {
        ctx.applied.push(r.as_str());
    }
    let representation = (ret == Some(Return::Representation)).then(|| ctx.media.clone());
    // Without conflict columns (no key, no `on_conflict`) an upsert is a plain insert, and the
    // resolution is not applied.
    let has_conflict_columns = q.on_conflict.is_some() || !table.pk.is_empty();
    let resolution = if kind == WriteKind::Insert && has_conflict_columns {
        ctx.prefs.resolution
    } else {
        None
    };
    if let Some(r) = resolution {
        ctx.applied.push(r.as_str());
    }
    let missing_default = ctx.prefs.missing_default == Some(true);
    if missing_default {
        ctx.applied.push("missing=default");
    }
    // Keys `columns=` leaves out are not read at all, so their values need not be valid.
    let ignored_keys: Vec<String> = payload
        .as_ref()
        .map(|p| {
            p.keys
                .iter()
                .filter(|k| !columns.contains(k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut plan = WritePlan {
        kind,
        table,
        columns,
        ignored_keys,
        payload: payload.map(|p| p.json),
        conds,
        node,
        representation,
        resolution,
        on_conflict: q.on_conflict.clone(),
        missing_default,
    };
    let mut main = mutation::render_write(&mut plan, &ctx.prefs)?;
    let explaining = if let Media::Plan(p) = &ctx.media {
        main = read::explain(main, p);
        true
    } else {
        false
    };
    let out = ctx.run(client, false, main, None).await?;
    if explaining {
        execute::finish(client, false)
            .await
            .map_err(|error| RestError::Db {
                error,
                anon: ctx.anon,
            })?;
        return Ok(read::plan_response(ctx, &out.rows));
    }
    let row = out
        .rows
        .first()
        .ok_or_else(|| RestError::Internal("write returned no row".into()));
    let checked = row.and_then(|row| {
        let main = MainRow::from_row(row)?;
        let inserted: i64 = row
            .text_named("inserted")
            .ok()
            .flatten()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let location: Option<String> = row.text_named("location").ok().flatten().map(str::to_owned);
        // PUT offers only the rows with the URL's key (several fail on the conflict): none
        // written is PostgREST's PGRST115, rolled back.
        if kind == WriteKind::Upsert && main.page_total != 1 {
            return Err(RestError::PutMismatch);
        }
        if ctx.media.is_singular() && main.page_total != 1 {
            return Err(RestError::Singular(main.page_total));
        }
        if ctx.prefs.is_strict()
            && let Some(max) = ctx.prefs.max_affected
            && matches!(kind, WriteKind::Update | WriteKind::Delete)
        {
            if main.page_total > max {
                return Err(RestError::MaxAffected(main.page_total));
            }
            ctx.applied.push(format!("max-affected={max}"));
        }
        Ok((main, inserted, location))
    });
    let (main, inserted, location) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = execute::finish(client, false).await;
            return Err(e);
        }
    };
    let rollback = ctx.rollback_requested();
    execute::finish(client, !rollback)
        .await
        .map_err(|error| RestError::Db {
            error,
            anon: ctx.anon,
        })?;

    let with_body = ret == Some(Return::Representation);
    let status = match kind {
        WriteKind::Insert => {
            if resolution == Some(Resolution::Merge) && inserted == 0 {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            }
        }
        WriteKind::Upsert if with_body => {
            if inserted > 0 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            }
        }
        _ if with_body => StatusCode::OK,
        _ => StatusCode::NO_CONTENT,
    };
    let mut resp = if with_body {
        RestResponse::new(
            status,
            &ctx.media.content_type(),
            ctx.media.body(main.body)?,
        )
    } else {
        let mut r = RestResponse::new(status, "", "");
        r.headers.remove(http::header::CONTENT_TYPE);
        r
    };
    let total = ctx.prefs.count.map(|c| {
        ctx.applied.push(c.as_str());
        main.page_total
    });
    let total_s = total.map_or("*".to_string(), |t| t.to_string());
    // As PostgREST: inserts and deletes `*/total`, updates the rows' range, PUT none.
    let range = match kind {
        WriteKind::Insert | WriteKind::Delete => Some(format!("*/{total_s}")),
        WriteKind::Upsert => None,
        _ if main.page_total == 0 => Some(format!("*/{total_s}")),
        _ => Some(format!("0-{}/{total_s}", main.page_total - 1)),
    };
    if let Some(range) = range {
        resp.header("content-range", &range);
    }
    // `Location` names the one row inserted, never one of several.
    if kind == WriteKind::Insert
        && ret == Some(Return::HeadersOnly)
        && main.page_total == 1
        && let Some(loc) = location.and_then(|l| location_header(name, &table.pk, &l))
    {
        resp.header("location", &loc);
    }
    resp.apply_gucs(
        main.response_status.as_deref(),
        main.response_headers.as_deref(),
    )?;
    Ok(ctx.finish(resp))
}

/// `/table?pk=eq.value&…` from the JSON array of the first row's key values.
fn location_header(table: &str, pk: &[String], json: &str) -> Option<String> {
    let Value::Array(values) = serde_json::from_str(json).ok()? else {
        return None;
    };
    // As PostgREST's `renderSimpleQuery True`: keys and values percent-encoded except for the
    // unreserved characters; the table name is written as it is.
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
    let parts: Vec<String> = pk
        .iter()
        .zip(values)
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                // A key column may be NULL (a view's, a unique key's): PostgREST's `is.null`.
                Value::Null => return format!("{}=is.null", enc(k)),
                other => other.to_string(),
            };
            format!("{}=eq.{}", enc(k), enc(&v))
        })
        .collect();
    let _ = form_decode;
    Some(format!("/{table}?{}", parts.join("&")))
}

#[cfg(test)]
mod tests {
    use super::location_header;

    #[test]
    fn location_encodes_values_but_not_the_table_or_unreserved_characters() {
        let pk = vec!["id".to_string(), "slug".to_string()];
        assert_eq!(
            location_header("js_items", &pk, r#"[7, "a b/c_d.e~f"]"#).as_deref(),
            Some("/js_items?id=eq.7&slug=eq.a%20b%2Fc_d.e~f")
        );
        assert_eq!(
            location_header("js_items", &pk, r#"[7, null]"#).as_deref(),
            Some("/js_items?id=eq.7&slug=is.null")
        );
    }
}
