//! Function calls through `/rpc/{fn}`: overload resolution by argument names, argument
//! passing (named through `json_to_record`, a single unnamed json/jsonb body, variadic), and
//! the call rendered as a CTE that the read renderer or the scalar body builds on. Pure.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::error::RestError;
use crate::schema_cache::{Function, ReturnKind, SchemaCache};
use crate::sql::{Ident, Sql};

/// How the arguments were sent: PostgREST resolves overloads and words its errors by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource {
    /// GET/HEAD query parameters.
    Query,
    /// A JSON body (also with no `Content-Type`).
    Json,
    /// An `application/x-www-form-urlencoded` body: named arguments as text.
    Form,
    /// A `text/csv` body: a header row of argument names.
    Csv,
    /// A `text/plain` body for a single `text` parameter.
    Text,
    /// A `text/xml` body for a single `xml` parameter.
    Xml,
    /// An `application/octet-stream` body for a single `bytea` parameter.
    Bytea,
}

impl ArgSource {
    /// Whether the body is passed whole to a single parameter and never names arguments.
    pub fn is_raw(self) -> bool {
        matches!(self, ArgSource::Text | ArgSource::Xml | ArgSource::Bytea)
    }

    /// Types a single parameter may have to take the whole body.
    fn single_param_types(self) -> &'static [&'static str] {
        match self {
            ArgSource::Json => &["json", "jsonb"],
            ArgSource::Text => &["text"],
            ArgSource::Xml => &["xml"],
            ArgSource::Bytea => &["bytea"],
            ArgSource::Query | ArgSource::Form | ArgSource::Csv => &[],
        }
    }
}

/// The arguments of a call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// How they were sent.
    pub source: ArgSource,
    /// Named arguments: an object, or an array of objects (one call per element); for a JSON
    /// body, any JSON value.
    pub value: Value,
    /// The body as bound to a single parameter: the text as sent, or `\x…` hex for bytea.
    pub raw: Option<String>,
}

/// How the arguments reach the function.
#[derive(Debug, Clone, PartialEq)]
pub enum CallArgs {
    /// Named arguments from a JSON object or array of objects (those keys present in it).
    Named(Vec<String>, Value),
    /// The whole body, bound as text and cast to the single parameter's type.
    Single(String),
}

/// A resolved call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'a> {
    /// The chosen overload.
    pub function: &'a Function,
    /// Its arguments.
    pub args: CallArgs,
}

/// The argument names a value carries: an object's keys, or those of an array's first object.
fn arg_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(items) => match items.first() {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// PostgREST's test of an overload against the argument names: every required parameter
/// given, nothing unknown; a function without parameters takes no arguments (and no raw body).
fn matches_params(f: &Function, keys: &[String], source: ArgSource) -> bool {
    if f.args.is_empty() {
        return keys.is_empty() && !source.is_raw();
    }
    f.args.iter().all(|a| !a.name.is_empty())
        && keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
        && f.args
            .iter()
            .all(|a| a.has_default || keys.contains(&a.name))
}

/// Picks the overload for the arguments. Named matches win; otherwise a function with a single
/// unnamed parameter of the body's type (json/jsonb, text, xml, bytea) takes the whole body, as
/// PostgREST's fallback does for a POST. With `params=single-object` (PostgREST 12), a single
/// json/jsonb parameter takes it whatever its name.
pub fn resolve<'a>(
    cache: &'a SchemaCache,
    schema: &str,
    name: &str,
    args: Args,
    single_object: bool,
) -> Result<Call<'a>, RestError> {
    let overloads = cache.function_overloads(schema, name);
    let keys = if args.source.is_raw() {
        Vec::new()
    } else {
        arg_keys(&args.value)
    };
    let whole_body = || match &args.raw {
        Some(raw) => raw.clone(),
        None => args.value.to_string(),
    };
    let types = args.source.single_param_types();
    let takes_body =
        |f: &&Function| f.args.len() == 1 && types.contains(&f.args[0].data_type.as_str());
    if single_object
        && args.source == ArgSource::Json
        && let [f] = overloads
            .iter()
            .filter(takes_body)
            .collect::<Vec<_>>()
            .as_slice()
    {
        return Ok(Call {
            function: f,
            args: CallArgs::Single(whole_body()),
        });
    }
    let named: Vec<&Function> =
        if matches!(args.value, Value::Object(_) | Value::Array(_)) || args.source.is_raw() {
            overloads
                .iter()
                .filter(|f| matches_params(f, &keys, args.source))
                .collect()
        } else {
            Vec::new()
        };
    match named.as_slice() {
        [f] => {
            return Ok(Call {
                function: f,
                args: CallArgs::Named(keys, args.value),
            });
        }
        [] => {}
        many => {
            return Err(ambiguous(many));
        }
    }
    // Only a parameter without a name takes the whole body (PostgREST 14.2 on).
    let single: Vec<&Function> = overloads
        .iter()
        .filter(takes_body)
        .filter(|f| f.args[0].name.is_empty())
        .collect();
    match single.as_slice() {
        [f] => {
            return Ok(Call {
                function: f,
                args: CallArgs::Single(whole_body()),
            });
        }
        [] => {}
        many => {
            return Err(ambiguous(many));
        }
    }
    let mut sorted = keys;
    sorted.sort();
    let suggestion = if overloads.is_empty() {
        cache.suggest_function(schema, name)
    } else {
        overload_hint(schema, name, &sorted, overloads)
    };
    Err(RestError::FunctionNotFound {
        qualified: format!("{schema}.{name}"),
        args: sorted,
        suggestion,
        sent_as: args.source,
    })
}

/// `\x…`: bytes as bytea's text input, so binary bodies travel as a text parameter.
pub fn bytea_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// With the name found but no overload taking these arguments, PostgREST's hint is the
/// fuzzy match for the sorted argument names among the overloads' sorted parameter names,
/// each list written `(a, b)`: `public.f(a, b)`.
fn overload_hint(
    schema: &str,
    name: &str,
    given: &[String],
    overloads: &[Function],
) -> Option<String> {
    let list = |names: &mut Vec<&str>| {
        names.sort_unstable();
        format!("({})", names.join(", "))
    };
    let wanted = list(&mut given.iter().map(String::as_str).collect());
    let lists: Vec<String> = overloads
        .iter()
        .map(|f| list(&mut f.args.iter().map(|a| a.name.as_str()).collect()))
        .collect();
    crate::fuzzy::FuzzySet::new(lists.iter().map(String::as_str))
        .get_one(&wanted)
        .map(|l| format!("{schema}.{name}{l}"))
}

/// PGRST203 naming the candidates in PostgREST's order of overloads.
fn ambiguous(candidates: &[&Function]) -> RestError {
    let mut candidates = candidates.to_vec();
    candidates.sort_by(|a, b| a.overload_order(b));
    RestError::AmbiguousFunction(candidates.into_iter().map(signature).collect())
}

fn signature(f: &Function) -> String {
    format!(
        "{}.{}({})",
        f.schema,
        f.name,
        f.args
            .iter()
            .map(|a| format!("{} => {}", a.name, a.data_type))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Builds the JSON object of text arguments (GET query, form body): a variadic parameter
/// collects its repeated values into an array; for any other, the last value wins, as in
/// PostgREST.
pub fn args_from_pairs(
    pairs: &[(String, String)],
    f_args: &[crate::schema_cache::FuncArg],
) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        let variadic = f_args.iter().any(|a| &a.name == k && a.variadic);
        match m.get_mut(k) {
            Some(Value::Array(a)) if variadic => a.push(Value::String(v.clone())),
            _ if variadic => {
                m.insert(k.clone(), Value::Array(vec![Value::String(v.clone())]));
            }
            _ => {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    Value::Object(m)
}

/// `pgrst_call AS (SELECT pgrst_fn[.*] AS … FROM [args,] LATERAL fn(…) AS pgrst_fn)`.
/// `scalar` selects the value as `pgrst_scalar`; otherwise the row's columns.
pub fn render_call_cte(call: &Call, scalar: bool) -> Sql {
    let f = call.function;
    // A bare `record` has no columns to name in FROM (PostgreSQL would want a column
    // definition list): it is called in a select list instead, one value per row, as PostgREST.
    let bare_record = f.return_type == "record" && matches!(f.returns, ReturnKind::Scalar);
    let mut sql = Sql::new();
    sql.push("pgrst_call AS (SELECT ");
    sql.push(match (scalar, bare_record) {
        (true, true) => "pgrst_fn.pgrst_v AS \"pgrst_scalar\"",
        (true, false) => "pgrst_fn AS \"pgrst_scalar\"",
        _ => "pgrst_fn.*",
    });
    sql.push(" FROM ");
    let target = Ident::qualified(&f.schema, &f.name);
    let open = if bare_record { "(SELECT " } else { "" };
    let close = if bare_record { " AS pgrst_v)" } else { "" };
    match &call.args {
        CallArgs::Single(v) => {
            sql.push(open)
                .ident(&target)
                .push("(")
                .bind(v.clone())
                .push("::")
                .push(f.args[0].value_type())
                .push(")")
                .push(close);
        }
        CallArgs::Named(keys, v) => {
            let used: Vec<_> = f.args.iter().filter(|a| keys.contains(&a.name)).collect();
            if used.is_empty() {
                sql.push(open).ident(&target).push("()").push(close);
            } else {
                let defs: Vec<String> = used
                    .iter()
                    .map(|a| format!("{} {}", Ident::new(&a.name), a.value_type()))
                    .collect();
                // An array of objects calls the function once per element.
                sql.push(if v.is_array() {
                    "json_to_recordset("
                } else {
                    "json_to_record("
                })
                .bind(v.to_string())
                .push("::json) AS pgrst_args(")
                .push(&defs.join(", "))
                .push("), LATERAL ")
                .push(open)
                .ident(&target)
                .push("(");
                let passed: Vec<String> = used
                    .iter()
                    .map(|a| {
                        format!(
                            "{}{} := pgrst_args.{}",
                            if a.variadic { "VARIADIC " } else { "" },
                            Ident::new(&a.name),
                            Ident::new(&a.name)
                        )
                    })
                    .collect();
                sql.push(&passed.join(", ")).push(")").push(close);
            }
        }
    }
    sql.push(" AS pgrst_fn)");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_cache::FuncArg;

    fn func(name: &str, args: &[(&str, &str, bool)]) -> Function {
        Function {
            isolation: None,
            config: Vec::new(),
            schema: "public".into(),
            name: name.into(),
            args: args
                .iter()
                .map(|(n, t, d)| FuncArg {
                    name: n.to_string(),
                    data_type: t.to_string(),
                    has_default: *d,
                    variadic: false,
                })
                .collect(),
            return_type: "integer".into(),
            returns: ReturnKind::Scalar,
            returns_set: false,
            volatility: 'v',
            description: None,
        }
    }

    fn json(value: Value) -> Args {
        Args {
            source: ArgSource::Json,
            value,
            raw: None,
        }
    }

    fn raw(source: ArgSource, text: &str) -> Args {
        Args {
            source,
            value: Value::Object(Map::new()),
            raw: Some(text.into()),
        }
    }

    fn cache(fs: Vec<Function>) -> SchemaCache {
        let mut c = SchemaCache::default();
        for f in fs {
            c.functions
                .entry((f.schema.clone(), f.name.clone()))
                .or_default()
                .push(f);
        }
        c
    }

    #[test]
    fn resolves_by_argument_names_with_defaults() {
        let c = cache(vec![
            func("add", &[("a", "integer", false), ("b", "integer", true)]),
            func("add", &[("x", "text", false)]),
        ]);
        let call = resolve(
            &c,
            "public",
            "add",
            json(serde_json::json!({"a": 1})),
            false,
        )
        .expect("ok");
        assert_eq!(call.function.args[0].name, "a");
        let e = resolve(
            &c,
            "public",
            "add",
            json(serde_json::json!({"z": 1})),
            false,
        )
        .expect_err("none");
        assert_eq!(e.code(), "PGRST202");
        assert_eq!(
            e.message(),
            "Could not find the function public.add(z) in the schema cache"
        );
    }

    #[test]
    fn ambiguous_overloads_are_300() {
        let c = cache(vec![
            func("f", &[("a", "integer", false)]),
            func("f", &[("a", "text", false)]),
        ]);
        let e =
            resolve(&c, "public", "f", json(serde_json::json!({"a": 1})), false).expect_err("300");
        assert_eq!(e.code(), "PGRST203");
        assert_eq!(e.status().as_u16(), 300);
    }

    #[test]
    fn ambiguous_candidates_in_postgrest_order() {
        // Fewer arguments first, then by comment (none first), then by the arguments' names
        // and types; whatever order the database listed them in.
        let mut commented = func("g", &[("arg", "bytea", false)]);
        commented.description = Some("comment".into());
        let c = cache(vec![
            func("g", &[("arg", "text", false), ("num", "integer", true)]),
            commented,
            func("g", &[("arg", "xml", false)]),
            func("g", &[("arg", "integer", false)]),
            func("j", &[("", "jsonb", false)]),
            func("j", &[("", "json", false)]),
        ]);
        let e = resolve(
            &c,
            "public",
            "g",
            json(serde_json::json!({"arg": 1})),
            false,
        )
        .expect_err("300");
        assert_eq!(
            e.message(),
            "Could not choose the best candidate function between: public.g(arg => integer), \
             public.g(arg => xml), public.g(arg => bytea), public.g(arg => text, num => integer)"
        );
        let e =
            resolve(&c, "public", "j", json(serde_json::json!({"a": 1})), false).expect_err("300");
        assert_eq!(
            e.message(),
            "Could not choose the best candidate function between: public.j( => json), \
             public.j( => jsonb)"
        );
    }

    #[test]
    fn single_unnamed_json_takes_the_body() {
        let c = cache(vec![func("j", &[("", "jsonb", false)])]);
        let call = resolve(&c, "public", "j", json(serde_json::json!([1, 2])), false).expect("ok");
        assert!(matches!(call.args, CallArgs::Single(_)));
        let sql = render_call_cte(&call, true);
        assert_eq!(
            sql.text,
            "pgrst_call AS (SELECT pgrst_fn AS \"pgrst_scalar\" FROM \"public\".\"j\"($1::jsonb) AS pgrst_fn)"
        );
    }

    #[test]
    fn a_named_single_parameter_does_not_take_the_body() {
        let c = cache(vec![func("j", &[("data", "json", false)])]);
        // Named by the body, it is called.
        let call = resolve(
            &c,
            "public",
            "j",
            json(serde_json::json!({"data": 1})),
            false,
        )
        .expect("named");
        assert!(matches!(call.args, CallArgs::Named(..)));
        // Other keys do not fall back to it: PGRST202.
        let err = resolve(
            &c,
            "public",
            "j",
            json(serde_json::json!({"a": 1, "b": 2})),
            false,
        )
        .expect_err("not found");
        assert!(matches!(err, RestError::FunctionNotFound { .. }), "{err:?}");
        // `params=single-object` still passes the body whole.
        let call = resolve(&c, "public", "j", json(serde_json::json!({"a": 1})), true)
            .expect("single object");
        assert!(matches!(call.args, CallArgs::Single(_)));
    }

    #[test]
    fn named_call_goes_through_json_to_record() {
        let c = cache(vec![func(
            "add",
            &[("a", "integer", false), ("b", "integer", true)],
        )]);
        let call = resolve(
            &c,
            "public",
            "add",
            json(serde_json::json!({"a": 1, "b": 2})),
            false,
        )
        .expect("ok");
        let sql = render_call_cte(&call, false);
        insta::assert_snapshot!(sql.text, @r#"pgrst_call AS (SELECT pgrst_fn.* FROM json_to_record($1::json) AS pgrst_args("a" integer, "b" integer), LATERAL "public"."add"("a" := pgrst_args."a", "b" := pgrst_args."b") AS pgrst_fn)"#);
        // An array of objects calls once per element.
        let call = resolve(
            &c,
            "public",
            "add",
            json(serde_json::json!([{"a": 1}, {"a": 2}])),
            false,
        )
        .expect("ok");
        assert!(
            render_call_cte(&call, false)
                .text
                .contains("json_to_recordset($1::json)")
        );
    }

    #[test]
    fn a_raw_body_goes_to_the_single_parameter_of_its_type() {
        let c = cache(vec![
            func("f", &[("", "text", false)]),
            func("f", &[("", "bytea", false)]),
            func("f", &[("", "jsonb", false)]),
            func("f", &[("x", "integer", false), ("y", "integer", false)]),
            func("f", &[]),
        ]);
        let call = resolve(&c, "public", "f", raw(ArgSource::Text, "hello"), false).expect("text");
        assert_eq!(call.function.args[0].data_type, "text");
        assert_eq!(call.args, CallArgs::Single("hello".into()));
        let sql = render_call_cte(&call, true);
        assert!(
            sql.text.contains(r#""public"."f"($1::text)"#),
            "{}",
            sql.text
        );
        let call =
            resolve(&c, "public", "f", raw(ArgSource::Bytea, "\\x00ff"), false).expect("bytea");
        assert_eq!(call.function.args[0].data_type, "bytea");
        // No xml overload: not found, worded for the content type.
        let e = resolve(&c, "public", "f", raw(ArgSource::Xml, "<a/>"), false).expect_err("xml");
        assert_eq!(e.code(), "PGRST202");
        assert_eq!(
            e.message(),
            "Could not find the function public.f in the schema cache"
        );
        // Named arguments still pick their overload; `{}` picks the one without parameters.
        let call = resolve(
            &c,
            "public",
            "f",
            json(serde_json::json!({"x": 1, "y": 2})),
            false,
        )
        .expect("named");
        assert_eq!(call.function.args.len(), 2);
        let call =
            resolve(&c, "public", "f", json(serde_json::json!({})), false).expect("no params");
        assert!(call.function.args.is_empty());
        // A JSON body naming nothing known falls back to the json overload.
        let call =
            resolve(&c, "public", "f", json(serde_json::json!({"z": 1})), false).expect("fallback");
        assert_eq!(call.function.args[0].data_type, "jsonb");
        // A form never falls back to a single parameter.
        let form = Args {
            source: ArgSource::Form,
            value: serde_json::json!({"z": "1"}),
            raw: None,
        };
        let e = resolve(&c, "public", "f", form, false).expect_err("form");
        assert_eq!(
            e.details(),
            serde_json::json!(
                "Searched for the function public.f with parameter z, but no matches were found in the schema cache."
            )
        );
    }

    #[test]
    fn two_single_parameter_fallbacks_are_ambiguous() {
        let c = cache(vec![
            func("j", &[("", "json", false)]),
            func("j", &[("", "jsonb", false)]),
        ]);
        let e =
            resolve(&c, "public", "j", json(serde_json::json!({"a": 1})), false).expect_err("300");
        assert_eq!(e.code(), "PGRST203");
    }

    #[test]
    fn repeated_text_arguments_keep_the_last_unless_variadic() {
        let args = vec![
            FuncArg {
                name: "name".into(),
                data_type: "text".into(),
                has_default: false,
                variadic: false,
            },
            FuncArg {
                name: "v".into(),
                data_type: "text[]".into(),
                has_default: true,
                variadic: true,
            },
        ];
        let pairs: Vec<(String, String)> = [("name", "a"), ("name", "b"), ("v", "x"), ("v", "y")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            args_from_pairs(&pairs, &args),
            serde_json::json!({"name": "b", "v": ["x", "y"]})
        );
        assert_eq!(bytea_hex(&[0, 255, 16]), "\\x00ff10");
    }
}
