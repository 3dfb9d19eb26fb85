//! Function calls through `/rpc/{fn}`: overload resolution by argument names, argument
//! passing (named through `json_to_record`, a single unnamed json/jsonb body, variadic), and
//! the call rendered as a CTE that the read renderer or the scalar body builds on. Pure.

use serde_json::{Map, Value};

use crate::error::RestError;
use crate::schema_cache::{Function, SchemaCache};
use crate::sql::{Ident, Sql};

/// How the arguments reach the function.
#[derive(Debug, Clone, PartialEq)]
pub enum CallArgs {
    /// Named arguments from a JSON object (those present in it).
    Named(Vec<String>, Value),
    /// The whole body as the single json/jsonb argument.
    SingleJson(Value),
}

/// A resolved call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'a> {
    /// The chosen overload.
    pub function: &'a Function,
    /// Its arguments.
    pub args: CallArgs,
}

fn is_json_type(t: &str) -> bool {
    matches!(t, "json" | "jsonb")
}

/// Picks the overload for the given arguments (an object for named arguments, or any JSON for
/// a single unnamed json/jsonb parameter).
pub fn resolve<'a>(
    cache: &'a SchemaCache,
    schema: &str,
    name: &str,
    body: Value,
    single_object: bool,
) -> Result<Call<'a>, RestError> {
    let overloads = cache.function_overloads(schema, name);
    let keys: Vec<String> = match &body {
        Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let named: Vec<&Function> = if matches!(body, Value::Object(_)) {
        overloads
            .iter()
            .filter(|f| {
                f.args.iter().all(|a| !a.name.is_empty())
                    && keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
                    && f.args
                        .iter()
                        .all(|a| a.has_default || keys.contains(&a.name))
            })
            .collect()
    } else {
        Vec::new()
    };
    let single: Vec<&Function> = overloads
        .iter()
        .filter(|f| {
            f.args.len() == 1
                && is_json_type(&f.args[0].data_type)
                && (f.args[0].name.is_empty() || single_object)
        })
        .collect();
    if single_object && let [f] = single.as_slice() {
        return Ok(Call {
            function: f,
            args: CallArgs::SingleJson(body),
        });
    }
    match named.as_slice() {
        [f] => {
            return Ok(Call {
                function: f,
                args: CallArgs::Named(keys, body),
            });
        }
        [] => {}
        many => {
            return Err(RestError::AmbiguousFunction(
                many.iter().map(|f| signature(f)).collect(),
            ));
        }
    }
    let unnamed: Vec<&&Function> = single
        .iter()
        .filter(|f| f.args[0].name.is_empty())
        .collect();
    if let [f] = unnamed.as_slice() {
        return Ok(Call {
            function: f,
            args: CallArgs::SingleJson(body),
        });
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
    })
}

/// With the name found but no overload taking these arguments, PostgREST's hint is the
/// overload whose sorted parameter list reads closest to the one given: `public.f(a, b)`.
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
    crate::schema_cache::nearest(&wanted, lists.iter().map(String::as_str))
        .map(|l| format!("{schema}.{name}{l}"))
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

/// Builds the JSON object of GET arguments; repeated keys (variadic/array) become arrays.
pub fn args_from_query(
    pairs: &[(String, String)],
    f_args: &[crate::schema_cache::FuncArg],
) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        let variadic = f_args.iter().any(|a| &a.name == k && a.variadic);
        match m.get_mut(k) {
            Some(Value::Array(a)) => a.push(Value::String(v.clone())),
            Some(existing) => {
                let prev = existing.take();
                *existing = Value::Array(vec![prev, Value::String(v.clone())]);
            }
            None if variadic => {
                m.insert(k.clone(), Value::Array(vec![Value::String(v.clone())]));
            }
            None => {
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
    let mut sql = Sql::new();
    sql.push("pgrst_call AS (SELECT ");
    sql.push(if scalar {
        "pgrst_fn AS \"pgrst_scalar\""
    } else {
        "pgrst_fn.*"
    });
    sql.push(" FROM ");
    let target = Ident::qualified(&f.schema, &f.name);
    match &call.args {
        CallArgs::SingleJson(v) => {
            sql.ident(&target)
                .push("(")
                .bind(v.to_string())
                .push("::")
                .push(&f.args[0].data_type)
                .push(")");
        }
        CallArgs::Named(keys, v) => {
            let used: Vec<_> = f.args.iter().filter(|a| keys.contains(&a.name)).collect();
            if used.is_empty() {
                sql.ident(&target).push("()");
            } else {
                let defs: Vec<String> = used
                    .iter()
                    .map(|a| format!("{} {}", Ident::new(&a.name), a.data_type))
                    .collect();
                sql.push("json_to_record(")
                    .bind(v.to_string())
                    .push("::json) AS pgrst_args(")
                    .push(&defs.join(", "))
                    .push("), LATERAL ")
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
                sql.push(&passed.join(", ")).push(")");
            }
        }
    }
    sql.push(" AS pgrst_fn)");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_cache::{FuncArg, ReturnKind};

    fn func(name: &str, args: &[(&str, &str, bool)]) -> Function {
        Function {
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
        let call = resolve(&c, "public", "add", serde_json::json!({"a": 1}), false).expect("ok");
        assert_eq!(call.function.args[0].name, "a");
        let e = resolve(&c, "public", "add", serde_json::json!({"z": 1}), false).expect_err("none");
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
        let e = resolve(&c, "public", "f", serde_json::json!({"a": 1}), false).expect_err("300");
        assert_eq!(e.code(), "PGRST203");
        assert_eq!(e.status().as_u16(), 300);
    }

    #[test]
    fn single_unnamed_json_takes_the_body() {
        let c = cache(vec![func("j", &[("", "jsonb", false)])]);
        let call = resolve(&c, "public", "j", serde_json::json!([1, 2]), false).expect("ok");
        assert!(matches!(call.args, CallArgs::SingleJson(_)));
        let sql = render_call_cte(&call, true);
        assert_eq!(
            sql.text,
            "pgrst_call AS (SELECT pgrst_fn AS \"pgrst_scalar\" FROM \"public\".\"j\"($1::jsonb) AS pgrst_fn)"
        );
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
            serde_json::json!({"a": 1, "b": 2}),
            false,
        )
        .expect("ok");
        let sql = render_call_cte(&call, false);
        insta::assert_snapshot!(sql.text, @r#"pgrst_call AS (SELECT pgrst_fn.* FROM json_to_record($1::json) AS pgrst_args("a" integer, "b" integer), LATERAL "public"."add"("a" := pgrst_args."a", "b" := pgrst_args."b") AS pgrst_fn)"#);
    }
}
