//! `/rpc/{fn}`: reads the arguments (JSON body or query string), resolves the overload, runs
//! the call (read-only for GET/HEAD and non-volatile functions) and shapes scalar, composite,
//! set and void results, with select/filters/order/limit applied to set results.

use http::{Method, StatusCode};
use serde_json::Value;

use crate::error::RestError;
use crate::execute::{self, Connection, Transaction};
use crate::media::Media;
use crate::plan::{ColInfo, Planner, col_infos};
use crate::prefer::Count;
use crate::query_params::QueryParams;
use crate::read::{self, BEGIN_READ, BEGIN_WRITE, MainRow};
use crate::render::{self, RESPONSE_GUCS};
use crate::request::{Ctx, count_header};
use crate::response::RestResponse;
use crate::rpc::{self, CallArgs};
use crate::schema_cache::ReturnKind;
use crate::sql::{Ident, Sql};

/// Serves `/rpc/{name}`.
pub async fn serve(
    ctx: &mut Ctx<'_>,
    client: &dyn Connection,
    name: &str,
) -> Result<RestResponse, RestError> {
    let overloads = ctx.cache.function_overloads(&ctx.schema, name);
    let reading = matches!(ctx.req.method, Method::GET | Method::HEAD);
    let is_arg = |k: &str| overloads.iter().any(|f| f.args.iter().any(|a| a.name == k));
    let q = QueryParams::parse(ctx.req.query.as_deref(), &|k| reading && is_arg(k))?;
    let body: Value = if reading {
        let all_args: Vec<_> = overloads.iter().flat_map(|f| f.args.clone()).collect();
        rpc::args_from_query(&q.rpc_args, &all_args)
    } else if ctx.req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&ctx.req.body)
            .map_err(|_| RestError::InvalidBody("Empty or invalid json".into()))?
    };
    let single_object = ctx.prefs.single_object;
    if single_object {
        ctx.applied.push("params=single-object");
    }
    let call = rpc::resolve(ctx.cache, &ctx.schema, name, body, single_object)?;
    let f = call.function;
    if ctx.prefs.is_strict() && ctx.prefs.max_affected.is_some() && !f.returns_set {
        return Err(RestError::MaxAffectedRpc);
    }
    if let CallArgs::Named(..) = &call.args {
    } else if !matches!(call.args, CallArgs::SingleJson(_)) {
        return Err(RestError::Internal("unreachable call args".into()));
    }
    let read_only = reading || f.is_read_only();
    let count = ctx.prefs.count;
    let scalar = matches!(f.returns, ReturnKind::Scalar | ReturnKind::Void);
    let cte = rpc::render_call_cte(&call, scalar);
    let mut range = read::top_range(ctx, &q)?;
    let mut main = if scalar {
        let mut sql = Sql::new();
        let body = match (&f.returns, f.returns_set, &ctx.media) {
            (ReturnKind::Void, _, _) => "''".to_string(),
            (_, true, Media::Object { .. }) | (_, false, _) => {
                "coalesce((json_agg(\"pgrst_scalar\")->0)::text, 'null')".to_string()
            }
            (_, true, _) => "coalesce(json_agg(\"pgrst_scalar\"), '[]')::text".to_string(),
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
            .push(" FROM pgrst_page");
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
    let tx = Transaction {
        begin: if read_only { BEGIN_READ } else { BEGIN_WRITE },
        settings: ctx.settings_sql(),
        pre_request: ctx.pre_request_sql(),
        estimate: None,
        main,
        commit_now: read_only,
    };
    let out = execute::run(client, &tx)
        .await
        .map_err(|error| RestError::Db {
            error,
            anon: ctx.anon,
        })?;
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
    if !read_only {
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
        RestResponse::new(StatusCode::OK, &ctx.media.content_type(), main.body)
    };
    if f.returns_set {
        let total = if count.is_some() {
            read::total_for(ctx, main.total, None, range, main.page_total)
        } else {
            None
        };
        count_header(ctx, &mut resp, range.offset, main.page_total, total)?;
    }
    resp.apply_gucs(
        main.response_status.as_deref(),
        main.response_headers.as_deref(),
    )?;
    Ok(ctx.finish(resp))
}
