//! GET/HEAD on a table or view: plan, render, run read-only in one round trip, and answer with
//! the body, `Content-Range` and 200/206/406/416 as PostgREST does. Also shared helpers for
//! reading the main statement's row and for `EXPLAIN` responses.

use bytes::Bytes;
use http::StatusCode;

use crate::error::RestError;
use crate::execute::Connection;
use crate::media::{Media, PlanOptions};
use crate::plan::{Planner, col_infos};
use crate::prefer::Count;
use crate::query_params::QueryParams;
use crate::range::{self, RowRange};
use crate::render;
use crate::request::{Ctx, count_header};
use crate::response::RestResponse;
use crate::sql::{Ident, Sql};
use crate::wire::Row;

/// The columns of the main statement's single row.
pub struct MainRow {
    /// Exact total, when counted.
    pub total: Option<i64>,
    /// Rows in this page (or affected).
    pub page_total: i64,
    /// The body text (UTF-8), shared with the row.
    pub body: Bytes,
    /// `response.headers`.
    pub response_headers: Option<String>,
    /// `response.status`.
    pub response_status: Option<String>,
}

impl MainRow {
    /// Reads the row by column name.
    pub fn from_row(row: &Row) -> Result<MainRow, RestError> {
        let text = |name: &str| row.text_named(name).map_err(RestError::Internal);
        let int = |name: &str| -> Result<Option<i64>, RestError> {
            text(name)?
                .map(|t| {
                    t.parse::<i64>()
                        .map_err(|_| RestError::Internal(format!("{name} is not an integer: {t}")))
                })
                .transpose()
        };
        Ok(MainRow {
            total: int("total_result_set")?,
            page_total: int("page_total")?.unwrap_or(0),
            body: row
                .bytes_named("body")
                .map_err(RestError::Internal)?
                .unwrap_or_default(),
            response_headers: text("response_headers")?.map(str::to_owned),
            response_status: text("response_status")?.map(str::to_owned),
        })
    }
}

/// Wraps a statement in `EXPLAIN` with the requested options (an allow-list).
pub fn explain(main: Sql, opts: &PlanOptions) -> Sql {
    let mut sql = Sql::new();
    let mut parts = vec![
        if opts.json {
            "FORMAT JSON"
        } else {
            "FORMAT TEXT"
        }
        .to_string(),
    ];
    for o in &opts.options {
        let o = o.to_ascii_lowercase();
        if matches!(
            o.as_str(),
            "analyze" | "verbose" | "settings" | "buffers" | "wal"
        ) {
            parts.push(o.to_ascii_uppercase());
        }
    }
    sql.push("EXPLAIN (").push(&parts.join(", ")).push(") ");
    sql.append(main);
    sql
}

/// Turns `EXPLAIN` rows into the plan response.
pub fn plan_response(ctx: &Ctx, rows: &[Row]) -> RestResponse {
    let body = if matches!(&ctx.media, Media::Plan(p) if p.json) {
        rows.first()
            .and_then(|r| r.text(0))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .map(|v| v.to_string())
            .unwrap_or_default()
    } else {
        rows.iter()
            .filter_map(|r| r.text(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    ctx.finish(RestResponse::new(
        StatusCode::OK,
        &ctx.media.content_type(),
        body,
    ))
}

/// The top-level range: query params, then the Range header, capped by `max_rows`. As
/// PostgREST (and RFC 9110), the Range header counts on GET only.
pub fn top_range(ctx: &Ctx, q: &QueryParams) -> Result<RowRange, RestError> {
    let mut r = q.ranges.get(&Vec::new()).copied().unwrap_or_default();
    if ctx.req.method == http::Method::GET
        && let Some(h) = range::from_headers(&ctx.req.headers)?
    {
        r = r.restrict(h);
    }
    Ok(r.cap(ctx.settings.max_rows))
}

/// Decides the total for `Content-Range` from the count preference.
pub fn total_for(
    ctx: &mut Ctx,
    exact: Option<i64>,
    estimate: Option<i64>,
    range: RowRange,
    page: i64,
) -> Option<i64> {
    let count = ctx.prefs.count?;
    ctx.applied.push(count.as_str());
    match count {
        Count::Exact => exact,
        Count::Planned => estimate,
        // Counted exactly up to one past `max-rows`: within it, that count; past it (or with
        // no `max-rows`), the larger of it and the planner's estimate, as PostgREST.
        Count::Estimated if exact.is_some() => exact.map(|n| {
            if ctx.settings.max_rows.is_some_and(|m| n <= m) {
                n
            } else {
                estimate.map_or(n, |e| e.max(n))
            }
        }),
        Count::Estimated => {
            let truncated = range.limit.is_some_and(|l| page >= l);
            if truncated {
                estimate.map(|e| e.max(range.offset + page))
            } else if page > 0 || range.offset == 0 {
                Some(range.offset + page)
            } else {
                estimate
            }
        }
    }
}

/// `Content-Location: /name?<canonical query>` on reads, as PostgREST sends it.
fn content_location(resp: &mut RestResponse, name: &str, query: Option<&str>) {
    let query = query.unwrap_or("");
    let mut location = String::with_capacity(name.len() + query.len() + 24);
    location.push('/');
    location.push_str(name);
    location.push('?');
    crate::query_params::push_canonical(&mut location, query);
    if location.ends_with('?') {
        location.pop();
    }
    // The header takes the text as it is, without a copy.
    if let Ok(v) = http::HeaderValue::from_maybe_shared(bytes::Bytes::from(location)) {
        resp.headers.insert(http::header::CONTENT_LOCATION, v);
    }
}

/// GET/HEAD on `/name`.
pub async fn serve(
    ctx: &mut Ctx<'_>,
    client: &dyn Connection,
    name: &str,
) -> Result<RestResponse, RestError> {
    // The query string is parsed before the table is looked up, as PostgREST parses it.
    let q = QueryParams::parse(ctx.req.query.as_deref(), &|_| false)?;
    let table = ctx.cache.find_table(&ctx.schema, name)?;
    ctx.parsed();
    let mut planner = Planner::new(ctx.cache, &q, ctx.settings.aggregates_enabled)
        .with_search_path(ctx.search_path());
    let mut node = planner.plan_root(
        (table.schema.clone(), table.name.clone()),
        Ident::qualified(&table.schema, &table.name),
        Some(col_infos(table)),
    )?;
    let range = top_range(ctx, &q)?;
    node.range = range;
    // Planned: now the media type or preferences refused earlier answer.
    if let Some(e) = ctx.refused.take() {
        return Err(e);
    }
    crate::plan::cap_embeds(&mut node, ctx.settings.max_rows);
    let count = ctx.prefs.count;
    let exact = matches!(count, Some(Count::Exact));
    let estimate = matches!(count, Some(Count::Planned | Count::Estimated)).then(|| {
        let mut e = Sql::new();
        e.push("EXPLAIN (FORMAT JSON) ")
            .append(render::render_count_source(&node));
        e
    });
    let mut main = if count == Some(Count::Estimated) {
        render::render_read_estimated(&node, &ctx.media, ctx.settings.max_rows)
    } else {
        render::render_read(&node, &ctx.media, exact, None)
    };
    let plan = if let Media::Plan(p) = &ctx.media {
        main = explain(main, p);
        true
    } else {
        false
    };
    let out = ctx.run(client, true, main, estimate).await?;
    if plan {
        return Ok(plan_response(ctx, &out.rows));
    }
    let row = out
        .rows
        .first()
        .ok_or_else(|| RestError::Internal("main statement returned no row".into()))?;
    let main = MainRow::from_row(row)?;
    if ctx.media.is_singular() && main.page_total != 1 {
        return Err(RestError::Singular(main.page_total));
    }
    let total = total_for(ctx, main.total, out.estimate, range, main.page_total);
    // A read-only transaction changes nothing either way, but, as PostgREST, a read says
    // which end it was given.
    ctx.rollback_requested();
    let mut resp = RestResponse::new(
        StatusCode::OK,
        &ctx.media.content_type(),
        ctx.media.body(main.body)?,
    );
    count_header(ctx, &mut resp, range.offset, main.page_total, total)?;
    content_location(&mut resp, name, ctx.req.query.as_deref());
    resp.apply_gucs(
        main.response_status.as_deref(),
        main.response_headers.as_deref(),
    )?;
    Ok(ctx.finish(resp))
}
