//! The query string, decoded and sorted into select, filters, logic trees, orders, ranges and
//! the write/RPC parameters (`columns`, `on_conflict`, function arguments).
//!
//! Decoding follows form semantics (`+` is a space, then percent-decoding). Nothing here looks
//! at the schema; the planner validates names.

use std::collections::BTreeMap;

use crate::cursor::{Cursor, Field};
use crate::error::RestError;
use crate::filter::{self, Filter, LogicTree};
use crate::order::{self, OrderTerm};
use crate::range::{self, RowRange};
use crate::select::{self, SelectItem};

/// Everything the query string says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryParams {
    /// `select=`; `None` means `*`.
    pub select: Option<Vec<SelectItem>>,
    /// `columns=`.
    pub columns: Option<Vec<String>>,
    /// `on_conflict=`.
    pub on_conflict: Option<Vec<String>>,
    /// Filters (with their embed path).
    pub filters: Vec<Filter>,
    /// `or=`/`and=` trees by embed path.
    pub logic: Vec<(Vec<String>, LogicTree)>,
    /// `order=` by embed path (empty path = top level).
    pub order: BTreeMap<Vec<String>, Vec<OrderTerm>>,
    /// `limit`/`offset` by embed path.
    pub ranges: BTreeMap<Vec<String>, RowRange>,
    /// Parameters taken as RPC arguments (GET /rpc), in order, repeats kept.
    pub rpc_args: Vec<(String, String)>,
    /// Whether `limit` or `offset` appeared at the top level.
    pub has_top_range: bool,
}

/// Splits a raw query string into decoded `(key, value)` pairs.
pub fn decode_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// `+` → space, then percent-decoding (invalid UTF-8 is replaced, never trusted).
pub fn form_decode(s: &str) -> String {
    if !s.bytes().any(|b| b == b'+' || b == b'%') {
        return s.to_owned();
    }
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

/// PostgREST's canonical form of a query string, used in `Content-Location`: the decoded
/// parameters sorted by name (stably), names and values percent-encoded again (all but ASCII
/// letters, digits and `-_.~`, upper-case hex), a repeated name's values joined by commas;
/// appended to `out`.
pub fn push_canonical(out: &mut String, raw: &str) {
    const ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let mut pairs = decode_pairs(raw);
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 && pairs[i - 1].0 == *key {
            out.push(',');
        } else {
            if i > 0 {
                out.push('&');
            }
            out.extend(percent_encoding::utf8_percent_encode(key, ENCODE));
            out.push('=');
        }
        out.extend(percent_encoding::utf8_percent_encode(value, ENCODE));
    }
}

/// Splits a key like `rel.sub.col->x` into the embed path and the field.
fn key_path(key: &str) -> Result<(Vec<String>, Field), RestError> {
    let mut c = Cursor::new("filter key", key);
    let mut names = vec![c.field()?];
    while c.eat(".") {
        names.push(c.field()?);
    }
    if !c.at_end() {
        return Err(c.error("\".\" or end of input"));
    }
    let field = names.pop().ok_or_else(|| c.error("field"))?;
    if names.iter().any(|n| !n.json_path.is_empty()) {
        return Err(RestError::parse(
            format!("filter key ({key})"),
            "json paths are only allowed on the last field",
        ));
    }
    Ok((names.into_iter().map(|f| f.name).collect(), field))
}

/// Splits `rel.sub.limit` into (`["rel","sub"]`, `limit`) when the last segment is reserved.
fn reserved_suffix(key: &str) -> Option<(Vec<String>, &'static str)> {
    for word in ["order", "limit", "offset", "or", "and"] {
        if key == word {
            return Some((Vec::new(), word));
        }
        if let Some(prefix) = key.strip_suffix(word).and_then(|p| p.strip_suffix('.')) {
            let path: Vec<String> = prefix.split('.').map(str::to_string).collect();
            if path.iter().all(|p| !p.is_empty()) {
                return Some((path, word));
            }
        }
    }
    None
}

/// Parses a comma-separated column list (`columns=`, `on_conflict=`), names optionally quoted.
pub fn parse_column_list(what: &str, v: &str) -> Result<Vec<String>, RestError> {
    let mut c = Cursor::new(what, v);
    let mut out = Vec::new();
    loop {
        c.skip_ws();
        out.push(c.name()?);
        c.skip_ws();
        if c.at_end() {
            return Ok(out);
        }
        c.expect(',')?;
    }
}

impl QueryParams {
    /// Parses a raw query string; `is_rpc_arg` says which keys are function arguments.
    pub fn parse(raw: Option<&str>, is_rpc_arg: &dyn Fn(&str) -> bool) -> Result<Self, RestError> {
        Self::parse_with(raw, is_rpc_arg, false)
    }

    /// Parses the query string of a function called by GET or HEAD, as PostgREST does: a value
    /// that reads as a filter (`gt.2`) is one, any other (`5`, `{a,b}`, a misspelt name's) is
    /// an argument. Arguments named like a reserved word (`limit`) stay arguments.
    pub fn parse_rpc_read(
        raw: Option<&str>,
        is_rpc_arg: &dyn Fn(&str) -> bool,
    ) -> Result<Self, RestError> {
        Self::parse_with(raw, is_rpc_arg, true)
    }

    fn parse_with(
        raw: Option<&str>,
        is_rpc_arg: &dyn Fn(&str) -> bool,
        rpc_read: bool,
    ) -> Result<Self, RestError> {
        let mut q = QueryParams::default();
        let mut seen_select = false;
        for (key, value) in decode_pairs(raw.unwrap_or("")) {
            match key.as_str() {
                // The first `select`, `columns` and `on_conflict` count, as in PostgREST; an
                // empty `select=` is all columns.
                "select" => {
                    if !seen_select {
                        seen_select = true;
                        let items = select::parse_select(&value)?;
                        q.select = (!items.is_empty()).then_some(items);
                    }
                    continue;
                }
                "columns" if q.columns.is_some() => continue,
                "on_conflict" if q.on_conflict.is_some() => continue,
                "columns" => {
                    q.columns = Some(parse_column_list("columns parameter", &value)?);
                    continue;
                }
                "on_conflict" => {
                    q.on_conflict = Some(parse_column_list("on_conflict parameter", &value)?);
                    continue;
                }
                _ => {}
            }
            if is_rpc_arg(&key) && (!rpc_read || reserved_suffix(&key).is_some()) {
                q.rpc_args.push((key, value));
                continue;
            }
            if let Some((path, word)) = reserved_suffix(&key) {
                match word {
                    "order" => {
                        q.order.insert(path, order::parse_order(&value)?);
                    }
                    // A value that is not an integer is ignored, as in PostgREST.
                    "limit" => {
                        let Some(limit) = range::parse_limit(&value)? else {
                            continue;
                        };
                        if path.is_empty() {
                            q.has_top_range = true;
                        }
                        q.ranges.entry(path).or_default().limit = Some(limit);
                    }
                    "offset" => {
                        let Some(offset) = range::parse_offset(&value) else {
                            continue;
                        };
                        if path.is_empty() {
                            q.has_top_range = true;
                        }
                        q.ranges.entry(path).or_default().offset = offset;
                    }
                    "or" | "and" => {
                        // `not.or=(…)` negates the tree; `rel.not.or` does so on an embed.
                        let mut path = path;
                        let negate = path.last().is_some_and(|p| p == "not");
                        if negate {
                            path.pop();
                        }
                        let mut tree = filter::parse_logic(path.clone(), word == "and", &value)?;
                        if negate && let LogicTree::Expr { negate: n, .. } = &mut tree {
                            *n = !*n;
                        }
                        q.logic.push((path, tree));
                    }
                    _ => {}
                }
                continue;
            }
            let (path, field) = key_path(&key)?;
            match filter::parse_filter(path, field, &value) {
                Ok(f) => q.filters.push(f),
                // Not a filter from its first character (no operator: `5`, `{a,b}`, `eq`):
                // an argument. One whose operator was read and whose rest is malformed
                // (`in.(1,2`) stays the filter's error, as PostgREST's parser decides.
                Err(RestError::Parse { column, .. })
                    if rpc_read && (column == Some(1) || !value.contains('.')) =>
                {
                    q.rpc_args.push((key, value))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{Op, Operation};

    fn parse(q: &str) -> Result<QueryParams, RestError> {
        QueryParams::parse(Some(q), &|_| false)
    }

    fn canonical(raw: &str) -> String {
        let mut out = String::new();
        push_canonical(&mut out, raw);
        out
    }

    #[test]
    fn plus_decodes_to_space_and_percent_decoding_applies() {
        let q = parse("name=eq.hello+world&title=eq.a%2Bb%20c").expect("ok");
        assert_eq!(
            q.filters[0].op,
            Operation::Binary(Op::Eq, None, "hello world".into())
        );
        assert_eq!(
            q.filters[1].op,
            Operation::Binary(Op::Eq, None, "a+b c".into())
        );
    }

    #[test]
    fn sorts_reserved_keys_by_embed_path() {
        let q = parse(
            "select=id,tasks(id)&tasks.order=id.desc&tasks.limit=2&limit=5&offset=1&or=(a.eq.1,b.eq.2)&tasks.or=(id.gt.1)&tasks.done=is.true",
        )
        .expect("ok");
        assert_eq!(q.order[&vec!["tasks".to_string()]].len(), 1);
        assert_eq!(q.ranges[&vec!["tasks".to_string()]].limit, Some(2));
        assert_eq!(
            q.ranges[&Vec::<String>::new()],
            RowRange {
                offset: 1,
                limit: Some(5)
            }
        );
        assert_eq!(q.logic.len(), 2);
        assert_eq!(q.filters[0].path, vec!["tasks".to_string()]);
    }

    #[test]
    fn canonical_query_is_sorted_reencoded_and_merges_repeats() {
        assert_eq!(canonical("b=eq.1&a=eq.1"), "a=eq.1&b=eq.1");
        assert_eq!(canonical("a=1&c=3&b=2&d"), "a=1&b=2&c=3&d=");
        assert_eq!(
            canonical("select=id,name&name=eq.a+b&or=(x.eq.1,y.eq.%C3%A9)"),
            "name=eq.a%20b&or=%28x.eq.1%2Cy.eq.%C3%A9%29&select=id%2Cname"
        );
        assert_eq!(canonical("id=gt.1&id=lt.5"), "id=gt.1,lt.5");
        assert_eq!(canonical(""), "");
    }

    #[test]
    fn columns_and_on_conflict_lists() {
        let q = parse("columns=%22a%22,%22b%20c%22&on_conflict=x,y").expect("ok");
        assert_eq!(q.columns, Some(vec!["a".into(), "b c".into()]));
        assert_eq!(q.on_conflict, Some(vec!["x".into(), "y".into()]));
    }

    #[test]
    fn a_function_read_takes_filters_by_their_values() {
        let q =
            QueryParams::parse_rpc_read(Some("id=5&id=gt.2&name=like&tags={a,b}&limit=3"), &|k| {
                k == "limit"
            })
            .expect("ok");
        let args: Vec<&str> = q.rpc_args.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(args, ["5", "like", "{a,b}", "3"]);
        assert_eq!(q.filters.len(), 1);
        // An operator read and the rest malformed: the filter's own error.
        let e = QueryParams::parse_rpc_read(Some("id=in.(1,2"), &|_| false).expect_err("bad");
        assert_eq!(e.code(), "PGRST100");
    }

    #[test]
    fn rpc_args_are_set_aside() {
        let q = QueryParams::parse(Some("a=1&a=2&id=eq.3"), &|k| k == "a").expect("ok");
        assert_eq!(q.rpc_args.len(), 2);
        assert_eq!(q.filters.len(), 1);
    }

    #[test]
    fn malformed_keys_are_400() {
        for bad in ["a;b=eq.1", "a..b=eq.1", "=eq.1", "x=nope.1"] {
            let e = parse(bad).expect_err(bad);
            assert_eq!(e.status().as_u16(), 400, "{bad}");
        }
    }

    #[test]
    fn limits_and_offsets_that_are_not_integers_are_ignored_as_in_postgrest() {
        for ignored in ["limit=abc", "limit=1.5", "limit=", "offset=x", "offset=1.5"] {
            let q = parse(ignored).expect(ignored);
            assert!(q.ranges.is_empty() && !q.has_top_range, "{ignored}");
        }
        let q = parse("offset=-1").expect("a negative offset");
        assert_eq!(q.ranges[&Vec::<String>::new()].offset, 0);
        assert_eq!(parse("limit=-1").expect_err("416").status().as_u16(), 416);
    }

    #[test]
    fn the_first_select_counts_and_an_empty_one_is_every_column() {
        let q = parse("select=id&select=name").expect("ok");
        assert_eq!(q.select.as_ref().map(Vec::len), Some(1));
        assert!(
            parse("select=id&select=(").is_ok(),
            "a later select is not read"
        );
        assert!(parse("select=").expect("empty").select.is_none());
    }
}
