//! `/rpc/{fn}`: reads the arguments (JSON body or query string), resolves the overload, runs
//! the call (read-only for GET/HEAD and non-volatile functions) and shapes scalar, composite,
//! set and void results, with select/filters/order/limit applied to set results.

use http::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::error::RestError;
use crate::execute::{self, Connection};
use crate::media::Media;
use crate::mutation;
use crate::plan::{ColInfo, Planner, col_infos};
use crate::prefer::Count;
use crate::query_params::QueryParams;
use crate::query_params::decode_pairs;
use crate::read::{self, MainRow};
use crate::render::{self, RESPONSE_GUCS};
use crate::request::{Ctx, count_header};
use crate::response::RestResponse;
use crate::rpc::{self, ArgSource, Args};
use crate::schema_cache::{FuncArg, HandlerKind, ReturnKind};
use crate::sql::{Ident, Sql};

/// The arguments of a POST by its `Content-Type`, as PostgREST reads them: JSON (the
/// default), a form or CSV naming arguments, or a `text/plain`, `text/xml` or
/// `application/octet-stream` body for a single text, xml or bytea parameter. Any other type
/// is PGRST102.
fn body_args(ctx: &Ctx, all_args: &[FuncArg]) -> Result<Args, RestError> {
    let header = ctx
        .req
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mime = header
        .as_deref()
        .and_then(|h| h.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let body = &ctx.req.body;
    let text = || {
        std::str::from_utf8(body)
            .map(str::to_string)
            .map_err(|_| RestError::InvalidBody("The request body is not valid UTF-8".into()))
    };
    let (source, value, raw) = match mime.as_deref() {
        None | Some("application/json") => {
            if body.iter().all(u8::is_ascii_whitespace) {
                (ArgSource::Json, Value::Object(Map::new()), None)
            } else {
                let value = serde_json::from_slice(body)
                    .map_err(|_| RestError::InvalidBody("Empty or invalid json".into()))?;
                // A single json parameter gets the body as sent, not re-serialised.
                (ArgSource::Json, value, Some(text()?))
            }
        }
        Some("application/x-www-form-urlencoded") => {
            let pairs = decode_pairs(&String::from_utf8_lossy(body));
            (
                ArgSource::Form,
                rpc::args_from_pairs(&pairs, all_args),
                None,
            )
        }
        Some("text/csv") => (ArgSource::Csv, mutation::csv_rows(body)?, None),
        Some("text/plain") => (ArgSource::Text, Value::Null, Some(text()?)),
        Some("text/xml") => (ArgSource::Xml, Value::Null, Some(text()?)),
        Some("application/octet-stream") => {
            (ArgSource::Bytea, Value::Null, Some(rpc::bytea_hex(body)))
        }
        Some(_) => {
            return Err(RestError::InvalidBody(format!(
                "Content-Type not acceptable: {}",
                header.unwrap_or_default()
            )));
        }
    };
    Ok(Args { source, value, raw })
}

/// Serves `/rpc/{name}`.
pub async fn serve(
    ctx: &mut Ctx<'_>,
    client: &dyn Connection,
    name: &str,
) -> Result<RestResponse, RestError> {
    let overloads = ctx.cache.function_overloads(&ctx.schema, name);
    let reading = matches!(ctx.req.method, Method::GET | Method::HEAD);
    let is_arg = |k: &str| overloads.iter().any(|f| f.args.iter().any(|a| a.name == k));
    let q = if reading {
        QueryParams::parse_rpc_read(ctx.req.query.as_deref(), &is_arg)?
    } else {
        QueryParams::parse(ctx.req.query.as_deref(), &|_| false)?
    };
    let all_args: Vec<_> = overloads.iter().flat_map(|f| f.args.clone()).collect();
    let args = if reading {
        Args {
            source: ArgSource::Query,
            value: rpc::args_from_pairs(&q.rpc_args, &all_args),
            raw: None,
        }
    } else {
        let mut args = body_args(ctx, &all_args)?;
        // `columns=` names the arguments taken from the body; other keys are not arguments.
        if let Some(cols) = &q.columns {
            let keep = |o: &mut Map<String, Value>| o.retain(|k, _| cols.contains(k));
            match &mut args.value {
                Value::Object(o) => keep(o),
                Value::Array(rows) => rows
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(keep),
                _ => {}
            }
        }
        args
    };
    ctx.parsed();
    let single_object = ctx.prefs.single_object;
    if single_object {
        ctx.applied.push("params=single-object");
    }
    let call = rpc::resolve(ctx.cache, &ctx.schema, name, args, single_object)?;
    let f = call.function;
    ctx.function = Some(f);
    if let Some(e) = ctx.refused.take() {
        return Err(e);
    }
    if ctx.prefs.is_strict() && ctx.prefs.max_affected.is_some() && !f.returns_set {
        return Err(RestError::MaxAffectedRpc);
    }
    let read_only = reading || f.is_read_only();
    let count = ctx.prefs.count;
    let scalar = matches!(f.returns, ReturnKind::Scalar | ReturnKind::Void);
    // A function's own handler (it returns the media type's domain) serves no other overload.
    if let Media::Custom(h) = &ctx.media
        && h.kind == HandlerKind::Function
        && (f.returns != ReturnKind::Scalar || f.returns_set)
    {
        return Err(RestError::NotAcceptable(
            crate::request::header(&ctx.req.headers, "accept")
                .unwrap_or("*/*")
                .to_string(),
        ));
    }
    let cte = rpc::render_call_cte(&call, scalar);
    let mut range = read::top_range(ctx, &q)?;
    let mut main = if f.returns_set && f.returns == ReturnKind::Scalar {
        // Rows of one column, `pgrst_scalar`, which filters and `order` may name (with JSON
        // paths into a `json` result); `select` is ignored, as PostgREST does.
        let q = QueryParams { select: None, ..q };
        let column = ColInfo {
            name: "pgrst_scalar".into(),
            type_name: f.return_type.clone(),
            repr: None,
        };
        let mut planner = Planner::new(ctx.cache, &q, ctx.settings.aggregates_enabled)
            .with_search_path(ctx.search_path());
        let mut node = planner.plan_root(
            (f.schema.clone(), f.name.clone()),
            Ident::new("pgrst_call"),
            Some(vec![column]),
        )?;
        node.alias = f.name.clone();
        node.range = range;
        render::render_scalar_read(&node, &ctx.media, count == Some(Count::Exact), Some(cte))
    } else if scalar {
        let mut sql = Sql::new();
        // A plan explains the statement of the representation it is for.
        let media = match &ctx.media {
            Media::Plan(p) => p.target(),
            m => m,
        };
        let body = match (&f.returns, media) {
            (ReturnKind::Void, _) => "''".to_string(),
            // A geometry value becomes a feature of its own, without properties.
            (_, Media::GeoJson(_)) => render::body_expr(media, "pgrst_page"),
            (_, Media::Custom(h)) => Media::custom_body(h, "\"pgrst_scalar\"", true),
            // One value (sets of values are read above).
            _ => "coalesce((json_agg(\"pgrst_scalar\")->0)::text, 'null')".to_string(),
        };
        sql.push("WITH ")
            .append(cte)
            .push(", pgrst_page AS (SELECT * FROM pgrst_call");
        if f.returns_set {
            if let Some(l) = range.limit {
                sql.push(" LIMIT ").bind(l.to_string());
            }
            if range.offset > 0 {
                sql.push(" OFFSET ").bind(range.offset.to_string());
            }
        }
        sql.push(") SELECT ");
        if count == Some(Count::Exact) {
            sql.push("(SELECT count(*) FROM pgrst_call)::int8");
        } else {
            sql.push("NULL::int8");
        }
        sql.push(" AS total_result_set, count(*)::int8 AS page_total, ")
            .push(&body)
            .push(" AS body, ")
            .push(RESPONSE_GUCS)
            .push(" FROM pgrst_page _postgrest_t");
        sql
    } else {
        let (relation, columns): ((String, String), Option<Vec<ColInfo>>) = match &f.returns {
            ReturnKind::Composite(Some(t)) => {
                let cols = ctx.cache.table(&t.0, &t.1).map(col_infos);
                (t.clone(), cols)
            }
            ReturnKind::Record(out) if !out.is_empty() => (
                (f.schema.clone(), f.name.clone()),
                Some(
                    out.iter()
                        .map(|(n, t)| ColInfo {
                            name: n.clone(),
                            type_name: t.clone(),
                            repr: None,
                        })
                        .collect(),
                ),
            ),
            _ => ((f.schema.clone(), f.name.clone()), None),
        };
        let mut planner = Planner::new(ctx.cache, &q, ctx.settings.aggregates_enabled)
            .with_search_path(ctx.search_path());
        let mut node = planner.plan_root(relation, Ident::new("pgrst_call"), columns)?;
        node.alias = f.name.clone();
        if !f.returns_set {
            range = Default::default();
        }
        node.range = range;
        crate::plan::cap_embeds(&mut node, ctx.settings.max_rows);
        let media = match (&ctx.media, f.returns_set) {
            (Media::Json { strip_nulls }, false) => Media::Object {
                strip_nulls: *strip_nulls,
            },
            (m, _) => m.clone(),
        };
        render::render_read(&node, &media, count == Some(Count::Exact), Some(cte))
    };
    let explaining = if let Media::Plan(p) = &ctx.media {
        main = read::explain(main, p);
        true
    } else {
        false
    };
    let out = ctx.run(client, read_only, main, None).await?;
    if explaining {
        if !read_only {
            let _ = execute::finish(client, false).await;
        }
        return Ok(read::plan_response(ctx, &out.rows));
    }
    let checked = out
        .rows
        .first()
        .ok_or_else(|| RestError::Internal("call returned no row".into()))
        .and_then(MainRow::from_row)
        .and_then(|main| {
            if f.returns_set && ctx.media.is_singular() && main.page_total != 1 {
                return Err(RestError::Singular(main.page_total));
            }
            if ctx.prefs.is_strict()
                && let Some(max) = ctx.prefs.max_affected
            {
                if main.page_total > max {
                    return Err(RestError::MaxAffected(main.page_total));
                }
                ctx.applied.push(format!("max-affected={max}"));
            }
            Ok(main)
        });
    let main = match checked {
        Ok(m) => m,
        Err(e) => {
            if !read_only {
                let _ = execute::finish(client, false).await;
            }
            return Err(e);
        }
    };
    if read_only {
        // Nothing to end; the applied preference is still named, as PostgREST names it.
        ctx.rollback_requested();
    } else {
        let rollback = ctx.rollback_requested();
        execute::finish(client, !rollback)
            .await
            .map_err(|error| RestError::Db {
                error,
                anon: ctx.anon,
            })?;
    }
    let mut resp = if matches!(f.returns, ReturnKind::Void) {
        let mut r = RestResponse::new(StatusCode::NO_CONTENT, "", "");
        r.headers.remove(http::header::CONTENT_TYPE);
        r
    } else {
        RestResponse::new(
            StatusCode::OK,
            &ctx.media.content_type(),
            ctx.media.body(main.body)?,
        )
    };
    // PostgREST sends Content-Range for every call, `0-0/*` for a single value (void too).
    let total = if count.is_some() {
        read::total_for(ctx, main.total, None, range, main.page_total)
    } else {
        None
    };
    count_header(ctx, &mut resp, range.offset, main.page_total, total)?;
    resp.apply_gucs(
        main.response_status.as_deref(),
        main.response_headers.as_deref(),
    )?;
    Ok(ctx.finish(resp))
}
