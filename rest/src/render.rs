//! Renders planned reads to SQL: select lists, lateral joins for embeds, conditions, order and
//! ranges, and the outer statement that builds the JSON/CSV body inside PostgreSQL.
//!
//! Identifiers come only from the validated plan and are quoted with [`Ident`]; every filter
//! value is a bind parameter. Pure: no I/O.

use crate::cursor::{Field, JsonKey, JsonStep};
use crate::filter::{IsValue, Op, Operation, Quantifier};
use crate::media::Media;
use crate::order::{Direction, Nulls};
use crate::plan::{ColInfo, Cond, EmbedPlan, Hoisted, OrderExpr, Out, ReadNode};
use crate::schema_cache::{Cardinality, QualifiedName};
use crate::sql::{Ident, Sql};

/// Renders a JSON path key as a literal, safe under any `standard_conforming_strings`.
fn key_literal(k: &JsonKey) -> String {
    match k {
        JsonKey::Index(i) => i.to_string(),
        JsonKey::Key(s) => {
            let s = s.replace('\0', "");
            if s.contains('\\') {
                format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
    }
}

/// `"alias"."col"` with its JSON path; non-JSON columns go through `to_jsonb` first.
pub fn field_expr(alias: &str, field: &Field, type_name: &str) -> String {
    path_expr(
        format!("{}.{}", Ident::new(alias), Ident::new(&field.name)),
        field,
        type_name,
    )
}

/// The row of `node` (aliased `alias`) as a value of its relation's type, the argument of
/// computed fields and relationships. A node reading its relation directly passes the
/// whole-row reference (so an index on `f(tbl)` applies); one reading a CTE (RPC results,
/// written rows) rebuilds the row from the relation's columns.
pub fn row_expr(node: &ReadNode, alias: &str) -> String {
    let relation = Ident::qualified(&node.relation.0, &node.relation.1);
    if node.from == relation {
        return Ident::new(alias).to_string();
    }
    let a = Ident::new(alias);
    let cols: Vec<String> = node
        .columns
        .iter()
        .flatten()
        .map(|c| format!("{a}.{}", Ident::new(&c.name)))
        .collect();
    format!("ROW({})::{relation}", cols.join(", "))
}

/// `"schema"."function"(row)`.
fn call_expr(function: &QualifiedName, row: &str) -> String {
    format!("{}({row})", Ident::qualified(&function.0, &function.1))
}

/// A field of `node`: a column, or a computed field called with the node's row.
fn value_expr(
    node: &ReadNode,
    field: &Field,
    type_name: &str,
    computed: Option<&QualifiedName>,
) -> String {
    match computed {
        None => field_expr(&node.alias, field, type_name),
        Some(f) => path_expr(call_expr(f, &row_expr(node, &node.alias)), field, type_name),
    }
}

fn path_expr(base: String, field: &Field, type_name: &str) -> String {
    if field.json_path.is_empty() {
        return base;
    }
    let mut s = if matches!(type_name, "json" | "jsonb") {
        base
    } else {
        format!("to_jsonb({base})")
    };
    for step in &field.json_path {
        match step {
            JsonStep::Arrow(k) => {
                s.push_str("->");
                s.push_str(&key_literal(k));
            }
            JsonStep::DoubleArrow(k) => {
                s.push_str("->>");
                s.push_str(&key_literal(k));
            }
        }
    }
    s
}

/// `lhs op value`, negated with `not.`.
fn render_filter(
    sql: &mut Sql,
    lhs: &str,
    negate: bool,
    type_name: &str,
    plain: bool,
    parse: Option<&QualifiedName>,
    op: &Operation,
) {
    if negate {
        sql.push("NOT ");
    }
    sql.push("(");
    let parse = parse.map(|f| Ident::qualified(&f.0, &f.1));
    render_op(sql, lhs, type_name, plain, parse.as_ref(), op);
    sql.push(")");
}

/// A column filter applied to `lhs` in place of the node's column: PUT's key filters on the
/// rows offered. Other conditions render nothing.
pub fn render_filter_on(sql: &mut Sql, lhs: &str, cond: &Cond) {
    if let Cond::Filter {
        field,
        type_name,
        negate,
        op,
        computed: None,
        parse,
    } = cond
    {
        let plain = field.json_path.is_empty();
        render_filter(sql, lhs, *negate, type_name, plain, parse.as_ref(), op);
    }
}

/// Renders one condition of a node aliased `alias`.
pub fn render_cond(sql: &mut Sql, node: &ReadNode, cond: &Cond) {
    match cond {
        Cond::Filter {
            field,
            type_name,
            negate,
            op,
            computed,
            parse,
        } => {
            let lhs = value_expr(node, field, type_name, computed.as_ref());
            let plain = field.json_path.is_empty();
            render_filter(sql, &lhs, *negate, type_name, plain, parse.as_ref(), op);
        }
        Cond::Tree {
            negate,
            and,
            children,
        } => render_tree(sql, *negate, *and, children, |sql, c| {
            render_cond(sql, node, c)
        }),
        Cond::EmbedNull { embed, is_null } => {
            let e = &node.embeds[*embed];
            let lat = Ident::new(&e.lateral);
            let not = if *is_null { "" } else { "NOT " };
            // A spread has no body of its own: its lateral says whether rows matched.
            sql.push(&match (e.spread, e.rel.is_to_one()) {
                (false, _) => format!("({lat}.\"pgrst_body\" IS {not}NULL)"),
                (true, true) => format!("({lat}.\"pgrst_hit\" IS {not}NULL)"),
                (true, false) => format!(
                    "({lat}.\"pgrst_rows\" {} 0)",
                    if *is_null { "=" } else { ">" }
                ),
            });
        }
    }
}

/// Binds a list of values as one array literal (one placeholder for any length); through
/// `parse`, a domain's text representation, each element is parsed into the domain.
fn bind_list(sql: &mut Sql, literal: String, parse: Option<&Ident>) {
    match parse {
        None => {
            sql.bind(literal);
        }
        Some(f) => {
            sql.push("ARRAY(SELECT ")
                .push(&f.to_string())
                .push("(pgrst_v) FROM unnest(");
            sql.bind(literal).push("::text[]) AS pgrst_v)");
        }
    }
}

/// `lhs <op> value`, the value a bind parameter; `parse` (a domain's text representation)
/// turns the query string's text into the column's domain.
fn render_op(
    sql: &mut Sql,
    lhs: &str,
    type_name: &str,
    plain: bool,
    parse: Option<&Ident>,
    op: &Operation,
) {
    match op {
        Operation::Binary(o, quant, value) => {
            let value = if matches!(o, Op::Like | Op::Ilike) {
                value.replace('*', "%")
            } else {
                value.clone()
            };
            // Patterns and `isdistinct` take the text as it is, not through the column's
            // representation, as in PostgREST (an untyped literal).
            let parse = parse.filter(|_| !matches!(o, Op::Like | Op::Ilike | Op::IsDistinct));
            sql.push(lhs).push(" ").push(o.sql()).push(" ");
            match (quant, parse) {
                (None, None) => {
                    sql.bind(value);
                }
                (None, Some(f)) => {
                    sql.push(&f.to_string()).push("(");
                    sql.bind(value).push("::text)");
                }
                (Some(q), _) => {
                    sql.push(match q {
                        Quantifier::Any => "ANY(",
                        Quantifier::All => "ALL(",
                    });
                    bind_list(sql, value, parse);
                    sql.push(")");
                }
            }
        }
        Operation::In(values) => {
            if values.is_empty() {
                sql.push("FALSE");
                return;
            }
            sql.push(lhs).push(" = ANY(");
            bind_list(sql, array_literal(values), parse);
            sql.push(")");
        }
        Operation::Is(v) => {
            sql.push(lhs).push(match v {
                IsValue::Null => " IS NULL",
                IsValue::NotNull => " IS NOT NULL",
                IsValue::True => " IS TRUE",
                IsValue::False => " IS FALSE",
                IsValue::Unknown => " IS UNKNOWN",
            });
        }
        Operation::Fts(kind, lang, value) => {
            if plain && type_name == "tsvector" {
                sql.push(lhs);
            } else {
                sql.push("to_tsvector(");
                if let Some(l) = lang {
                    sql.bind(l.clone()).push("::regconfig, ");
                }
                sql.push(lhs).push(")");
            }
            sql.push(" @@ ").push(kind.function()).push("(");
            if let Some(l) = lang {
                sql.bind(l.clone()).push("::regconfig, ");
            }
            sql.bind(value.clone()).push(")");
        }
    }
}

/// `{a,"b,c"}` with PostgreSQL array quoting.
pub fn array_literal(values: &[String]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", items.join(","))
}

/// The select-list expressions of one output. `raw` renders a to-one spread whose aggregates
/// its parent computes: the values themselves, `1` for `count()`.
fn select_expr(node: &ReadNode, out: &Out, grouped: bool, raw: bool) -> Vec<String> {
    let a = Ident::new(&node.alias);
    match out {
        Out::Star => match &node.columns {
            Some(cols) => cols
                .iter()
                .map(|c| match star_format(c) {
                    Some(f) => format!("{f}({a}.{0}) AS {0}", Ident::new(&c.name)),
                    None => format!("{a}.{}", Ident::new(&c.name)),
                })
                .collect(),
            None => vec![format!("{a}.*")],
        },
        Out::Col {
            field,
            type_name,
            cast,
            aggregate,
            name,
            computed,
            format,
        } => {
            let mut e = formatted(
                value_expr(node, field, type_name, computed.as_ref()),
                format,
            );
            if let Some(c) = cast {
                e = format!("CAST({e} AS {c})");
            }
            if let Some((agg, agg_cast)) = aggregate.as_ref().filter(|_| !raw) {
                e = format!("{}({e})", agg.sql());
                if let Some(c) = agg_cast {
                    e = format!("CAST({e} AS {c})");
                }
            }
            vec![format!("{e} AS {}", Ident::new(name))]
        }
        Out::CountAll { name, .. } if raw => vec![format!("1 AS {}", Ident::new(name))],
        Out::CountAll { cast, name } => {
            let e = match cast {
                Some(c) => format!("CAST(count(*) AS {c})"),
                None => "count(*)".into(),
            };
            vec![format!("{e} AS {}", Ident::new(name))]
        }
        Out::Embed(i) => {
            let e = &node.embeds[*i];
            if e.hidden {
                return Vec::new();
            }
            let lat = Ident::new(&e.lateral);
            if e.hoists() && !raw {
                // The spread's aggregates, computed here over its values.
                return e
                    .node
                    .hoisted_outputs()
                    .iter()
                    .map(|(n, how)| {
                        let col = format!("{lat}.{}", Ident::new(n));
                        let (e, cast) = match how {
                            Hoisted::Plain => (col, None),
                            Hoisted::Json => (format!("({col})::jsonb"), None),
                            Hoisted::Aggregate(a, cast) => {
                                (format!("{}({col})", a.sql()), cast.as_ref())
                            }
                            Hoisted::Count(cast) => (format!("count({col})"), cast.as_ref()),
                        };
                        match cast {
                            Some(c) => format!("CAST({e} AS {c}) AS {}", Ident::new(n)),
                            None => format!("{e} AS {}", Ident::new(n)),
                        }
                    })
                    .collect();
            }
            if e.spread {
                return e
                    .node
                    .output_names()
                    .iter()
                    .map(|n| {
                        let col = format!("{lat}.{}", Ident::new(n));
                        if e.rel.is_to_one() {
                            format!("{col} AS {}", Ident::new(n))
                        } else {
                            format!("COALESCE({col}, '[]') AS {}", Ident::new(n))
                        }
                    })
                    .collect();
            }
            let body = if e.rel.is_to_one() {
                format!("{lat}.\"pgrst_body\"")
            } else {
                format!("COALESCE({lat}.\"pgrst_body\", '[]')")
            };
            let body = if grouped {
                format!("({body})::jsonb")
            } else {
                body
            };
            vec![format!("{body} AS {}", Ident::new(&e.label))]
        }
    }
}

/// The function formatting a column read by `*`, when its domain has a JSON representation.
fn star_format(c: &ColInfo) -> Option<Ident> {
    let f = c.repr.as_deref()?.to_json.as_ref()?;
    Some(Ident::qualified(&f.0, &f.1))
}

/// `e` through the representation function `format`, when there is one.
fn formatted(e: String, format: &Option<QualifiedName>) -> String {
    match format {
        Some(f) => format!("{}({e})", Ident::qualified(&f.0, &f.1)),
        None => e,
    }
}

/// Expressions to GROUP BY when the node aggregates.
fn group_exprs(node: &ReadNode) -> Vec<String> {
    let mut out = Vec::new();
    let a = Ident::new(&node.alias);
    for o in &node.select {
        match o {
            Out::Col {
                aggregate: None,
                field,
                type_name,
                cast,
                computed,
                format,
                ..
            } => {
                let mut e = value_expr(node, field, type_name, computed.as_ref());
                // A represented column groups by its own value (`json` has no equality); the
                // formatted output depends on it alone.
                if let (Some(c), None) = (cast, format) {
                    e = format!("CAST({e} AS {c})");
                }
                out.push(e);
            }
            Out::Star => out.extend(
                node.columns
                    .iter()
                    .flatten()
                    .map(|c| format!("{a}.{}", Ident::new(&c.name))),
            ),
            Out::Embed(i) => {
                let e = &node.embeds[*i];
                if !e.hidden {
                    let lat = Ident::new(&e.lateral);
                    if e.hoists() {
                        // Grouped by the spread's plain values; its aggregates are computed.
                        for (n, how) in e.node.hoisted_outputs() {
                            match how {
                                Hoisted::Plain => out.push(format!("{lat}.{}", Ident::new(&n))),
                                Hoisted::Json => {
                                    out.push(format!("({lat}.{})::jsonb", Ident::new(&n)))
                                }
                                _ => {}
                            }
                        }
                    } else if e.spread {
                        for n in e.node.output_names() {
                            out.push(format!("{lat}.{}", Ident::new(&n)));
                        }
                    } else if e.rel.is_to_one() {
                        out.push(format!("({lat}.\"pgrst_body\")::jsonb"));
                    } else {
                        out.push(format!("(COALESCE({lat}.\"pgrst_body\", '[]'))::jsonb"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The join condition tying a child node to its parent.
fn join_cond(parent_alias: &str, e: &EmbedPlan) -> (String, String) {
    let p = Ident::new(parent_alias);
    let c = Ident::new(&e.node.alias);
    match &e.rel.cardinality {
        Cardinality::ManyToMany {
            junction,
            origin_cols,
            target_cols,
            ..
        } => {
            let j = Ident::new(&format!("{}_jt", e.node.alias));
            let join = format!(
                " INNER JOIN {} AS {j} ON {}",
                Ident::qualified(&junction.0, &junction.1),
                target_cols
                    .iter()
                    .map(|(tc, jc)| format!("{j}.{} = {c}.{}", Ident::new(jc), Ident::new(tc)))
                    .collect::<Vec<_>>()
                    .join(" AND ")
            );
            let cond = origin_cols
                .iter()
                .map(|(oc, jc)| format!("{j}.{} = {p}.{}", Ident::new(jc), Ident::new(oc)))
                .collect::<Vec<_>>()
                .join(" AND ");
            (join, cond)
        }
        _ => (
            String::new(),
            e.rel
                .columns
                .iter()
                .map(|(oc, tc)| format!("{c}.{} = {p}.{}", Ident::new(tc), Ident::new(oc)))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

fn render_lateral(sql: &mut Sql, parent: &ReadNode, index: usize, e: &EmbedPlan) {
    let (junction_join, cond) = join_cond(&parent.alias, e);
    // A computed relationship reads the function's rows for the parent row.
    let from = match &e.rel.cardinality {
        Cardinality::Computed { function, .. } => {
            Some(call_expr(function, &row_expr(parent, &parent.alias)))
        }
        _ => None,
    };
    let mut inner = Sql::new();
    render_node_body_as(
        &mut inner,
        &e.node,
        from.as_deref(),
        &junction_join,
        Some(&cond),
        true,
        e.hoists(),
    );
    let lat = Ident::new(&e.lateral);
    let to_one = e.rel.is_to_one();
    sql.push(if e.inner {
        " INNER JOIN LATERAL ("
    } else {
        " LEFT JOIN LATERAL ("
    });
    let tested = parent.conds.iter().any(|c| cond_uses_embed(c, index));
    if e.spread && to_one && tested {
        // Marks a row found, for `is.null` on the spread.
        sql.push("SELECT \"pgrst_e\".*, TRUE AS \"pgrst_hit\" FROM (")
            .append(inner)
            .push(") AS \"pgrst_e\"");
    } else if e.spread && to_one {
        sql.append(inner);
    } else if e.spread {
        // The rows' count decides `!inner` and `is.null` on a to-many spread.
        let mut cols: Vec<String> = e
            .node
            .output_names()
            .iter()
            .map(|n| format!("json_agg(\"pgrst_e\".{0}) AS {0}", Ident::new(n)))
            .collect();
        cols.push("count(*) AS \"pgrst_rows\"".to_string());
        sql.push("SELECT ")
            .push(&cols.join(", "))
            .push(" FROM (")
            .append(inner)
            .push(") AS \"pgrst_e\"");
    } else if to_one {
        sql.push("SELECT row_to_json(\"pgrst_e\") AS \"pgrst_body\" FROM (")
            .append(inner)
            .push(") AS \"pgrst_e\"");
    } else {
        sql.push("SELECT json_agg(\"pgrst_e\") AS \"pgrst_body\" FROM (")
            .append(inner)
            .push(") AS \"pgrst_e\"");
    }
    sql.push(") AS ").ident(&lat);
    if e.inner && !to_one {
        if e.spread {
            sql.push(&format!(" ON {lat}.\"pgrst_rows\" > 0"));
        } else {
            sql.push(&format!(" ON {lat}.\"pgrst_body\" IS NOT NULL"));
        }
    } else {
        sql.push(" ON TRUE");
    }
}

fn render_order(sql: &mut Sql, node: &ReadNode, order: &[OrderExpr]) {
    if order.is_empty() {
        return;
    }
    sql.push(" ORDER BY ");
    for (i, o) in order.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        match (&o.related, &o.spread_lateral) {
            (None, Some(lat)) => {
                sql.push(&format!(
                    "{}.{}",
                    Ident::new(lat),
                    Ident::new(&o.field.name)
                ));
            }
            (None, None) => {
                sql.push(&value_expr(
                    node,
                    &o.field,
                    &o.type_name,
                    o.computed.as_ref(),
                ));
            }
            (Some(rel), _) => {
                // A correlated lookup of the to-one row keeps the parent's row count intact.
                let alias = format!("{}_o{i}", node.alias);
                let a = Ident::new(&alias);
                let p = Ident::new(&node.alias);
                let value = match &o.computed {
                    None => field_expr(&alias, &o.field, &o.type_name),
                    Some(f) => path_expr(call_expr(f, a.as_str()), &o.field, &o.type_name),
                };
                let (from, conds) = match &rel.cardinality {
                    Cardinality::Computed { function, .. } => (
                        call_expr(function, &row_expr(node, &node.alias)),
                        String::new(),
                    ),
                    _ => (
                        Ident::qualified(&rel.target.0, &rel.target.1).to_string(),
                        format!(
                            " WHERE {}",
                            rel.columns
                                .iter()
                                .map(|(oc, tc)| format!(
                                    "{a}.{} = {p}.{}",
                                    Ident::new(tc),
                                    Ident::new(oc)
                                ))
                                .collect::<Vec<_>>()
                                .join(" AND ")
                        ),
                    ),
                };
                sql.push(&format!(
                    "(SELECT {value} FROM {from} AS {a}{conds} LIMIT 1)"
                ));
            }
        }
        match o.direction {
            Some(Direction::Asc) => {
                sql.push(" ASC");
            }
            Some(Direction::Desc) => {
                sql.push(" DESC");
            }
            None => {}
        }
        match o.nulls {
            Some(Nulls::First) => {
                sql.push(" NULLS FIRST");
            }
            Some(Nulls::Last) => {
                sql.push(" NULLS LAST");
            }
            None => {}
        }
    }
}

/// `SELECT <list> FROM <from> AS alias <joins> WHERE … [GROUP BY] [ORDER BY] [LIMIT/OFFSET]`.
/// `from` replaces the node's relation (a computed relationship's call); `extra_join` and
/// `join_cond` tie an embedded node to its parent.
pub fn render_node_body(
    sql: &mut Sql,
    node: &ReadNode,
    from: Option<&str>,
    extra_join: &str,
    join_cond: Option<&str>,
    with_range: bool,
) {
    render_node_body_as(sql, node, from, extra_join, join_cond, with_range, false);
}

/// [`render_node_body`]; `raw` for a to-one spread whose parent computes its aggregates.
fn render_node_body_as(
    sql: &mut Sql,
    node: &ReadNode,
    from: Option<&str>,
    extra_join: &str,
    join_cond: Option<&str>,
    with_range: bool,
    raw: bool,
) {
    let grouped = node.is_aggregated() && !raw;
    sql.push("SELECT ");
    let mut empty = true;
    // Before each item: a comma unless it is the first.
    let mut next_item = |sql: &mut Sql| {
        if !std::mem::replace(&mut empty, false) {
            sql.push(", ");
        }
    };
    for o in &node.select {
        match (o, &node.columns) {
            // The common `*` (and plain column lists) written straight into the statement,
            // without a string per column.
            (Out::Star, Some(cols)) => {
                for c in cols {
                    next_item(sql);
                    let format = star_format(c);
                    if let Some(f) = &format {
                        sql.push(&f.to_string()).push("(");
                    }
                    crate::sql::push_quoted(&mut sql.text, &node.alias);
                    sql.text.push('.');
                    crate::sql::push_quoted(&mut sql.text, &c.name);
                    if format.is_some() {
                        sql.push(") AS ");
                        crate::sql::push_quoted(&mut sql.text, &c.name);
                    }
                }
            }
            _ => {
                for e in select_expr(node, o, grouped, raw) {
                    next_item(sql);
                    sql.push(&e);
                }
            }
        }
    }
    // A relation without columns has rows without columns (`{}`); anything else that selects
    // nothing (an embed only filtering) a placeholder.
    if empty && !matches!(&node.columns, Some(c) if c.is_empty()) {
        sql.push("NULL");
    }
    render_from_where(sql, node, from, extra_join, join_cond);
    if grouped {
        let g = group_exprs(node);
        if !g.is_empty() {
            sql.push(" GROUP BY ").push(&g.join(", "));
        }
    }
    render_order(sql, node, &node.order);
    if with_range {
        render_range(sql, node);
    }
}

/// LIMIT/OFFSET of a node (bound).
pub fn render_range(sql: &mut Sql, node: &ReadNode) {
    if let Some(l) = node.range.limit {
        sql.push(" LIMIT ").bind(l.to_string());
    }
    if node.range.offset > 0 {
        sql.push(" OFFSET ").bind(node.range.offset.to_string());
    }
}

/// ` FROM <relation or from> AS alias<extra_join>`.
fn render_from(sql: &mut Sql, node: &ReadNode, from: Option<&str>, extra_join: &str) {
    sql.push(" FROM ");
    match from {
        Some(f) => sql.push(f),
        None => sql.ident(&node.from),
    };
    sql.push(" AS ")
        .ident(&Ident::new(&node.alias))
        .push(extra_join);
}

/// `FROM … AS alias <laterals> WHERE …`, every embed joined.
pub fn render_from_where(
    sql: &mut Sql,
    node: &ReadNode,
    from: Option<&str>,
    extra_join: &str,
    join_cond: Option<&str>,
) {
    render_from(sql, node, from, extra_join);
    for (i, e) in node.embeds.iter().enumerate() {
        render_lateral(sql, node, i, e);
    }
    let mut wrote = false;
    let mut and = |sql: &mut Sql| {
        sql.push(if wrote { " AND " } else { " WHERE " });
        wrote = true;
    };
    if let Some(j) = join_cond.filter(|j| !j.is_empty()) {
        and(sql);
        sql.push(j);
    }
    for c in &node.conds {
        and(sql);
        render_cond(sql, node, c);
    }
}

/// `FROM … AS alias WHERE …` of a count, as PostgREST's: no joins, each embed that filters
/// the rows tested by `EXISTS` of its own count (`!inner`, `not.is.null`; `NOT EXISTS` for
/// `is.null`). Both the exact total and the planner's estimate come from it.
fn render_count_from_where(
    sql: &mut Sql,
    node: &ReadNode,
    from: Option<&str>,
    extra_join: &str,
    join_cond: Option<&str>,
) {
    render_from(sql, node, from, extra_join);
    let mut wrote = false;
    let mut and = |sql: &mut Sql| {
        sql.push(if wrote { " AND " } else { " WHERE " });
        wrote = true;
    };
    for c in &node.conds {
        and(sql);
        render_count_cond(sql, node, c);
    }
    if let Some(j) = join_cond.filter(|j| !j.is_empty()) {
        and(sql);
        sql.push(j);
    }
    for e in node.embeds.iter().filter(|e| e.inner) {
        and(sql);
        render_exists(sql, node, e, false);
    }
}

/// `[NOT] (a AND b …)` or `(a OR b …)`, each child rendered by `each`; an empty `and` is
/// `TRUE`, an empty `or` `FALSE`.
fn render_tree(
    sql: &mut Sql,
    negate: bool,
    and: bool,
    children: &[Cond],
    mut each: impl FnMut(&mut Sql, &Cond),
) {
    if negate {
        sql.push("NOT ");
    }
    sql.push("(");
    for (i, c) in children.iter().enumerate() {
        if i > 0 {
            sql.push(if and { " AND " } else { " OR " });
        }
        each(sql, c);
    }
    if children.is_empty() {
        sql.push(if and { "TRUE" } else { "FALSE" });
    }
    sql.push(")");
}

/// [`render_cond`] in a count: a null test on an embed is an `EXISTS` of the embed's count.
fn render_count_cond(sql: &mut Sql, node: &ReadNode, cond: &Cond) {
    match cond {
        Cond::Tree {
            negate,
            and,
            children,
        } => render_tree(sql, *negate, *and, children, |sql, c| {
            render_count_cond(sql, node, c)
        }),
        Cond::EmbedNull { embed, is_null } => {
            render_exists(sql, node, &node.embeds[*embed], *is_null);
        }
        _ => render_cond(sql, node, cond),
    }
}

/// `[NOT] EXISTS (SELECT 1 FROM child WHERE …)` for an embed of `parent`.
fn render_exists(sql: &mut Sql, parent: &ReadNode, e: &EmbedPlan, negate: bool) {
    let (junction_join, cond) = join_cond(&parent.alias, e);
    let from = match &e.rel.cardinality {
        Cardinality::Computed { function, .. } => {
            Some(call_expr(function, &row_expr(parent, &parent.alias)))
        }
        _ => None,
    };
    sql.push(if negate {
        "NOT EXISTS (SELECT 1"
    } else {
        "EXISTS (SELECT 1"
    });
    render_count_from_where(sql, &e.node, from.as_deref(), &junction_join, Some(&cond));
    sql.push(")");
}

fn cond_uses_embed(c: &Cond, i: usize) -> bool {
    match c {
        Cond::EmbedNull { embed, .. } => *embed == i,
        Cond::Tree { children, .. } => children.iter().any(|c| cond_uses_embed(c, i)),
        Cond::Filter { .. } => false,
    }
}

/// The body expression over the aggregated rows `_postgrest_t`.
pub fn body_expr(media: &Media, source: &str) -> String {
    match media {
        Media::Plan(p) => body_expr(p.target(), source),
        Media::Json { strip_nulls: false } | Media::OpenApi => {
            "coalesce(json_agg(_postgrest_t), '[]')::text".into()
        }
        Media::Json { strip_nulls: true } => {
            "coalesce(json_agg(json_strip_nulls(row_to_json(_postgrest_t))), '[]')::text".into()
        }
        Media::Object { strip_nulls: false } => {
            "coalesce((json_agg(_postgrest_t)->0)::text, '')".into()
        }
        Media::Object { strip_nulls: true } => {
            "coalesce(json_strip_nulls(json_agg(_postgrest_t)->0)::text, '')".into()
        }
        Media::GeoJson(postgis) => format!(
            "json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg({postgis}.st_asgeojson(_postgrest_t)::json), '[]'))::text"
        ),
        Media::Csv => format!(
            "(SELECT coalesce(string_agg(pg_catalog.quote_ident(k), ','), '') FROM (SELECT json_object_keys(r) AS k FROM (SELECT row_to_json(hh) AS r FROM {source} AS hh LIMIT 1) s) a) || chr(10) || coalesce(string_agg(substring(_postgrest_t::text, 2, length(_postgrest_t::text) - 2), chr(10)), '')"
        ),
        Media::Custom(h) => Media::custom_body(h, "_postgrest_t", false),
    }
}

/// Response GUCs read at the end of the main statement.
pub const RESPONSE_GUCS: &str = "nullif(current_setting('response.headers', true), '') AS response_headers, nullif(current_setting('response.status', true), '') AS response_status";

/// The complete read statement: rows, page count, optional exact total, body and GUCs.
/// `ctes` are extra common table expressions placed before `pgrst_source` (RPC calls).
pub fn render_read(node: &ReadNode, media: &Media, exact_count: bool, ctes: Option<Sql>) -> Sql {
    render_read_as(
        node,
        &body_expr(media, "pgrst_source"),
        exact_count,
        None,
        ctes,
    )
}

/// [`render_read`] of a set of scalars (an RPC returning `SETOF` a base type): the rows have
/// the one column `pgrst_scalar`, and the body is an array of its values, as PostgREST.
pub fn render_scalar_read(
    node: &ReadNode,
    media: &Media,
    exact_count: bool,
    ctes: Option<Sql>,
) -> Sql {
    let media = match media {
        Media::Plan(p) => p.target(),
        m => m,
    };
    let body = match media {
        Media::Object { .. } => {
            "coalesce((json_agg(_postgrest_t.pgrst_scalar)->0)::text, 'null')".to_string()
        }
        Media::Csv | Media::GeoJson(_) => body_expr(media, "pgrst_source"),
        Media::Custom(h) => Media::custom_body(h, "_postgrest_t.pgrst_scalar", true),
        _ => "coalesce(json_agg(_postgrest_t.pgrst_scalar), '[]')::text".to_string(),
    };
    render_read_as(node, &body, exact_count, None, ctes)
}

/// A read for `count=estimated`: the rows counted exactly, but no further than one past `cap`
/// (`max-rows`), as PostgREST counts them before it turns to the planner's estimate.
pub fn render_read_estimated(node: &ReadNode, media: &Media, cap: Option<i64>) -> Sql {
    render_read_as(node, &body_expr(media, "pgrst_source"), true, cap, None)
}

fn render_read_as(
    node: &ReadNode,
    body: &str,
    exact_count: bool,
    cap: Option<i64>,
    ctes: Option<Sql>,
) -> Sql {
    let mut sql = Sql::new();
    // Room for a typical read without regrowing the text (under glibc's large-chunk size,
    // whose requests make malloc consolidate its free lists).
    sql.text.reserve(768);
    sql.push("WITH ");
    if let Some(c) = ctes {
        sql.append(c).push(", ");
    }
    sql.push("pgrst_source AS (");
    render_node_body(&mut sql, node, None, "", None, true);
    sql.push(") SELECT ");
    if exact_count {
        sql.push("(SELECT count(*) FROM (SELECT 1");
        // Groups by embedded values too when aggregated, so those embeds are joined.
        if node.is_aggregated() {
            render_from_where(&mut sql, node, None, "", None);
            let g = group_exprs(node);
            if !g.is_empty() {
                sql.push(" GROUP BY ").push(&g.join(", "));
            }
        } else {
            render_count_from_where(&mut sql, node, None, "", None);
        }
        if let Some(cap) = cap {
            sql.push(" LIMIT ").bind(cap.saturating_add(1).to_string());
        }
        sql.push(") AS pgrst_c)::int8");
    } else {
        sql.push("NULL::int8");
    }
    sql.push(" AS total_result_set, count(*)::int8 AS page_total, ")
        .push(body)
        .push(" AS body, ")
        .push(RESPONSE_GUCS)
        .push(" FROM (SELECT * FROM pgrst_source) _postgrest_t");
    sql
}

/// The statement whose plan estimates the total (for `count=planned|estimated`).
pub fn render_count_source(node: &ReadNode) -> Sql {
    let mut sql = Sql::new();
    sql.push("SELECT 1");
    render_count_from_where(&mut sql, node, None, "", None);
    sql
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
