//! Plans a read: resolves `select`, filters, orders and ranges against the schema cache into a
//! tree of [`ReadNode`]s (one per relation, embeds as children). Every name is validated here;
//! the renderer can then quote it blindly. Pure: no I/O.

use std::sync::Arc;

use crate::cursor::Field;
use crate::embed;
use crate::error::{DbError, RestError};
use crate::filter::{Filter, IsValue, LogicTree, Operation};
use crate::order::{Direction, Nulls};
use crate::query_params::QueryParams;
use crate::range::RowRange;
use crate::schema_cache::{QualifiedName, Relationship, Representation, SchemaCache, Table};
use crate::select::{Aggregate, JoinType, SelectItem};
use crate::sql::Ident;

/// A column as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColInfo {
    /// Name.
    pub name: String,
    /// Type name without modifiers (`int4`, `jsonb`, `tsvector`…).
    pub type_name: String,
    /// The representation of its domain type, if any.
    pub repr: Option<Arc<Representation>>,
}

/// One output of a node's select list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// All known columns.
    Star,
    /// A column expression.
    Col {
        /// Column and JSON path.
        field: Field,
        /// Column type name.
        type_name: String,
        /// `::type`.
        cast: Option<String>,
        /// Aggregate and its cast.
        aggregate: Option<(Aggregate, Option<String>)>,
        /// Output key.
        name: String,
        /// The function when the field is a computed field.
        computed: Option<QualifiedName>,
        /// The function that formats the column's domain as JSON (its representation).
        format: Option<QualifiedName>,
    },
    /// `count()`.
    CountAll {
        /// `::type`.
        cast: Option<String>,
        /// Output key.
        name: String,
    },
    /// The embed at this index of `embeds`.
    Embed(usize),
}

/// A validated condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A filter on a column of this node.
    Filter {
        /// Column and JSON path.
        field: Field,
        /// Column type name.
        type_name: String,
        /// `not.`.
        negate: bool,
        /// The operation.
        op: Operation,
        /// The function when the field is a computed field.
        computed: Option<QualifiedName>,
        /// The function that parses the filter's values into the column's domain.
        parse: Option<QualifiedName>,
    },
    /// `and`/`or`.
    Tree {
        /// `not.`.
        negate: bool,
        /// `and` when true.
        and: bool,
        /// Children.
        children: Vec<Cond>,
    },
    /// `rel=is.null` / `rel=not.is.null` on the embed at this index.
    EmbedNull {
        /// Index into `embeds`.
        embed: usize,
        /// Whether the embed must be absent.
        is_null: bool,
    },
}

impl Cond {
    /// The embed index of the first `rel=is.null`-style check in this condition, if any.
    pub fn embed_null(&self) -> Option<usize> {
        match self {
            Cond::EmbedNull { embed, .. } => Some(*embed),
            Cond::Tree { children, .. } => children.iter().find_map(Cond::embed_null),
            Cond::Filter { .. } => None,
        }
    }
}

/// One ordering key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderExpr {
    /// For `rel(col)`: the to-one relationship to follow.
    pub related: Option<Relationship>,
    /// Column and JSON path (in the related relation when `related` is set).
    pub field: Field,
    /// Column type name.
    pub type_name: String,
    /// Direction.
    pub direction: Option<Direction>,
    /// Nulls placement.
    pub nulls: Option<Nulls>,
    /// The function when the field is a computed field.
    pub computed: Option<QualifiedName>,
    /// For `rel(name)` naming an output of a to-one spread (a column or its alias): the
    /// spread's lateral, whose column of that name is the key.
    pub spread_lateral: Option<String>,
}

/// A relation read with its select list, conditions, order, range and embeds.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadNode {
    /// The relation (for relationships and messages).
    pub relation: QualifiedName,
    /// What goes after FROM (a table or a CTE name).
    pub from: Ident,
    /// SQL alias of this node.
    pub alias: String,
    /// Known columns (`None` for untyped records).
    pub columns: Option<Vec<ColInfo>>,
    /// Select list.
    pub select: Vec<Out>,
    /// WHERE conditions (ANDed).
    pub conds: Vec<Cond>,
    /// ORDER BY.
    pub order: Vec<OrderExpr>,
    /// LIMIT/OFFSET.
    pub range: RowRange,
    /// Children.
    pub embeds: Vec<EmbedPlan>,
}

/// An embedded child.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedPlan {
    /// Output key / filter prefix.
    pub label: String,
    /// The relationship used.
    pub rel: Relationship,
    /// `!inner`.
    pub inner: bool,
    /// `...rel(...)`.
    pub spread: bool,
    /// `rel()`: joined only for filtering.
    pub hidden: bool,
    /// Alias of the lateral subquery.
    pub lateral: String,
    /// The child read.
    pub node: ReadNode,
}

/// How an output of a to-one spread whose aggregates are moved up to its parent is read
/// there (PostgREST's `hoistSpreadAggFunctions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hoisted {
    /// The value itself (the parent groups by it).
    Plain,
    /// An embedded object or array (grouped as `jsonb`: `json` has no equality).
    Json,
    /// The aggregate over the values, and its cast.
    Aggregate(Aggregate, Option<String>),
    /// `count()`: the rows the spread matched, and its cast.
    Count(Option<String>),
}

impl EmbedPlan {
    /// A to-one spread with aggregates of its own or of its own to-one spreads: they are
    /// computed by the parent over the spread's values, not in the spread per parent row.
    pub fn hoists(&self) -> bool {
        self.spread && self.rel.is_to_one() && self.node.is_aggregated()
    }
}

impl ReadNode {
    /// Whether the select list uses aggregates, its own or those its to-one spreads hoist.
    pub fn is_aggregated(&self) -> bool {
        self.select.iter().any(|o| match o {
            Out::CountAll { .. }
            | Out::Col {
                aggregate: Some(_), ..
            } => true,
            Out::Embed(i) => self.embeds[*i].hoists(),
            _ => false,
        })
    }

    /// The outputs of a node read as a hoisting spread, each with how its parent reads it.
    pub fn hoisted_outputs(&self) -> Vec<(String, Hoisted)> {
        let mut out = Vec::new();
        for o in &self.select {
            match o {
                Out::Star => {
                    if let Some(cols) = &self.columns {
                        out.extend(cols.iter().map(|c| (c.name.clone(), Hoisted::Plain)));
                    }
                }
                Out::Col {
                    name, aggregate, ..
                } => out.push((
                    name.clone(),
                    match aggregate {
                        Some((a, cast)) => Hoisted::Aggregate(*a, cast.clone()),
                        None => Hoisted::Plain,
                    },
                )),
                Out::CountAll { name, cast } => {
                    out.push((name.clone(), Hoisted::Count(cast.clone())))
                }
                Out::Embed(i) => {
                    let e = &self.embeds[*i];
                    if e.hidden {
                        continue;
                    }
                    if e.hoists() {
                        out.extend(e.node.hoisted_outputs());
                    } else if e.spread {
                        out.extend(
                            e.node
                                .output_names()
                                .into_iter()
                                .map(|n| (n, Hoisted::Plain)),
                        );
                    } else {
                        out.push((e.label.clone(), Hoisted::Json));
                    }
                }
            }
        }
        out
    }

    /// Output keys of the select list, in order (spread embeds contribute theirs).
    pub fn output_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.select {
            match o {
                Out::Star => {
                    if let Some(cols) = &self.columns {
                        out.extend(cols.iter().map(|c| c.name.clone()));
                    }
                }
                Out::Col { name, .. } | Out::CountAll { name, .. } => out.push(name.clone()),
                Out::Embed(i) => {
                    let e = &self.embeds[*i];
                    if e.hidden {
                        continue;
                    }
                    if e.spread {
                        out.extend(e.node.output_names());
                    } else {
                        out.push(e.label.clone());
                    }
                }
            }
        }
        out
    }
}

/// Shared state while planning one request.
pub struct Planner<'a> {
    /// The cache.
    pub cache: &'a SchemaCache,
    /// The parsed query string.
    pub q: &'a QueryParams,
    /// Whether aggregates are allowed.
    pub aggregates_enabled: bool,
    /// Schemas whose computed fields are visible (the request's search path).
    search_path: Vec<String>,
    counter: usize,
    /// The embed path of every embed planned so far, as [`addresses`] takes it.
    seen: Vec<Vec<Vec<String>>>,
}

/// A name resolved to a column or a computed field of a relation.
struct Resolved {
    type_name: String,
    computed: Option<QualifiedName>,
    repr: Option<Arc<Representation>>,
}

impl Resolved {
    /// The representation function `pick` chooses, for a field without a JSON path: PostgREST
    /// applies representations to whole columns only.
    fn repr_fn(
        &self,
        field: &Field,
        pick: impl Fn(&Representation) -> &Option<QualifiedName>,
    ) -> Option<QualifiedName> {
        if !field.json_path.is_empty() {
            return None;
        }
        self.repr.as_deref().and_then(|r| pick(r).clone())
    }
}

/// Columns of a table as [`ColInfo`].
pub fn col_infos(t: &Table) -> Vec<ColInfo> {
    t.columns
        .iter()
        .map(|c| ColInfo {
            name: c.name.clone(),
            type_name: c.type_name.clone(),
            repr: c.repr.clone(),
        })
        .collect()
}

/// PostgreSQL's hint for an unknown column `name` of `relation` (PostgREST passes it on): the
/// columns at the smallest edit distance, if it is at most 3 and at most half the name's
/// length in bytes, named when there are one or two of them (three or more name none).
pub fn column_hint<'a>(
    relation: &str,
    name: &str,
    columns: impl Iterator<Item = &'a str>,
) -> Option<String> {
    const MAX_DISTANCE: usize = 3;
    let mut best = MAX_DISTANCE + 1;
    let mut found: (Option<&str>, Option<&str>) = (None, None);
    for c in columns {
        let d = crate::fuzzy::levenshtein(c, name);
        if d > name.len() / 2 {
            continue;
        }
        if d < best {
            best = d;
            found = (Some(c), None);
        } else if d == best {
            // A third at the same distance: that distance names nothing; only a closer
            // column will.
            found = match found {
                (Some(_), Some(_)) => (None, None),
                (Some(first), None) => (Some(first), Some(c)),
                none => none,
            };
        }
    }
    match found {
        (Some(a), None) => Some(format!(
            "Perhaps you meant to reference the column \"{relation}.{a}\"."
        )),
        (Some(a), Some(b)) => Some(format!(
            "Perhaps you meant to reference the column \"{relation}.{a}\" or the column \"{relation}.{b}\"."
        )),
        _ => None,
    }
}

/// PostgreSQL's own error for an unknown column, with its "perhaps you meant" hint.
pub fn unknown_column(relation: &str, name: &str, cols: Option<&[ColInfo]>) -> RestError {
    let hint =
        cols.and_then(|cols| column_hint(relation, name, cols.iter().map(|c| c.name.as_str())));
    RestError::Db {
        error: DbError {
            code: "42703".into(),
            message: format!("column {relation}.{name} does not exist"),
            details: None,
            hint,
        },
        anon: false,
    }
}

/// Caps every to-many embed of `node`, at any depth, at `max_rows`: PostgREST's `max-rows`
/// bounds each level of a response, not only the top one.
pub fn cap_embeds(node: &mut ReadNode, max_rows: Option<i64>) {
    if max_rows.is_none() {
        return;
    }
    for e in &mut node.embeds {
        if !e.rel.is_to_one() {
            e.node.range = e.node.range.cap(max_rows);
        }
        cap_embeds(&mut e.node, max_rows);
    }
}

impl<'a> Planner<'a> {
    /// A planner for one request.
    pub fn new(cache: &'a SchemaCache, q: &'a QueryParams, aggregates_enabled: bool) -> Self {
        Planner {
            cache,
            q,
            aggregates_enabled,
            search_path: Vec::new(),
            counter: 0,
            seen: Vec::new(),
        }
    }

    /// Makes the computed fields of these schemas usable (in search path order).
    pub fn with_search_path(mut self, search_path: Vec<String>) -> Self {
        self.search_path = search_path;
        self
    }

    /// Plans the top-level node and checks that every filter/order/limit path names an embed.
    pub fn plan_root(
        &mut self,
        relation: QualifiedName,
        from: Ident,
        columns: Option<Vec<ColInfo>>,
    ) -> Result<ReadNode, RestError> {
        let default_items = vec![SelectItem::Star];
        let items = self.q.select.clone().unwrap_or(default_items);
        let alias = relation.1.clone();
        let node = self.plan_node(relation, from, alias, columns, &items, &[])?;
        self.check_paths()?;
        Ok(node)
    }

    fn check_paths(&self) -> Result<(), RestError> {
        let q = self.q;
        let paths = q
            .filters
            .iter()
            .map(|f| &f.path)
            .chain(q.logic.iter().map(|(p, _)| p))
            .chain(q.order.keys())
            .chain(q.ranges.keys());
        for p in paths {
            // As PostgREST, name the first segment that is not an embed at its level.
            let embedded = |prefix: &[String]| self.seen.iter().any(|l| addresses(l, prefix));
            if let Some(k) = (0..p.len()).find(|k| !embedded(&p[..=*k])) {
                return Err(RestError::NotEmbedded(p[k].clone()));
            }
        }
        Ok(())
    }

    /// A column of `relation`, else one of its computed fields (a column wins, as with
    /// PostgreSQL's `row.name` notation). Untyped records accept any name.
    fn column(
        &self,
        relation: &QualifiedName,
        columns: &Option<Vec<ColInfo>>,
        name: &str,
    ) -> Result<Resolved, RestError> {
        let Some(cols) = columns else {
            return Ok(Resolved {
                type_name: String::new(),
                computed: None,
                repr: None,
            });
        };
        if let Some(c) = cols.iter().find(|c| c.name == name) {
            return Ok(Resolved {
                type_name: c.type_name.clone(),
                computed: None,
                repr: c.repr.clone(),
            });
        }
        match self.cache.computed_field(relation, name, &self.search_path) {
            Some(f) => Ok(Resolved {
                type_name: f.type_name.clone(),
                computed: Some((f.schema.clone(), f.name.clone())),
                repr: None,
            }),
            None => Err(unknown_column(&relation.1, name, Some(cols))),
        }
    }

    /// Plans one node: `items` against `relation`, with the query parts addressed to it:
    /// `levels` is its embed path, at each level the names that address the embed there (see
    /// [`embed_spellings`] and [`addresses`]).
    pub fn plan_node(
        &mut self,
        relation: QualifiedName,
        from: Ident,
        alias: String,
        columns: Option<Vec<ColInfo>>,
        items: &[SelectItem],
        levels: &[Vec<String>],
    ) -> Result<ReadNode, RestError> {
        let mut select = Vec::new();
        let mut embeds: Vec<EmbedPlan> = Vec::new();
        let spellings = embed_spellings(items);
        let mut spellings = spellings.into_iter();
        // Relationships are checked before columns, as PostgREST plans them: a missing one is
        // reported (PGRST200) even when a column named beside it is missing too.
        let resolved = items
            .iter()
            .filter_map(|item| match item {
                SelectItem::Embed(e) => Some(embed::resolve(
                    self.cache,
                    &relation,
                    &e.name,
                    e.hint.as_deref(),
                )),
                _ => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut resolved = resolved.into_iter();
        for item in items {
            match item {
                SelectItem::Star => select.push(Out::Star),
                SelectItem::Count { alias: a, cast } => {
                    if !self.aggregates_enabled {
                        return Err(RestError::AggregatesDisabled);
                    }
                    select.push(Out::CountAll {
                        cast: cast.clone(),
                        name: a.clone().unwrap_or_else(|| "count".into()),
                    });
                }
                SelectItem::Field {
                    alias: a,
                    field,
                    cast,
                    aggregate,
                } => {
                    if aggregate.is_some() && !self.aggregates_enabled {
                        return Err(RestError::AggregatesDisabled);
                    }
                    // `count` naming no column nor computed field is PostgREST's older count
                    // (`projects(count)`): PostgreSQL reads its `row.count` as `count(row)`,
                    // so it counts the rows whether aggregates are enabled or not.
                    if aggregate.is_none()
                        && field.name == "count"
                        && field.json_path.is_empty()
                        && self.column(&relation, &columns, "count").is_err()
                    {
                        select.push(Out::CountAll {
                            cast: cast.clone(),
                            name: a.clone().unwrap_or_else(|| "count".into()),
                        });
                        continue;
                    }
                    let col = self.column(&relation, &columns, &field.name)?;
                    let name = match (a, aggregate) {
                        (Some(a), _) => a.clone(),
                        (None, Some((agg, _))) => agg.sql().to_string(),
                        (None, None) => field.output_name(),
                    };
                    select.push(Out::Col {
                        field: field.clone(),
                        format: col.repr_fn(field, |r| &r.to_json),
                        type_name: col.type_name,
                        cast: cast.clone(),
                        aggregate: aggregate.clone(),
                        name,
                        computed: col.computed,
                    });
                }
                SelectItem::Embed(e) => {
                    let rel = resolved
                        .next()
                        .ok_or_else(|| RestError::Internal("embed not resolved".into()))?;
                    let target = self
                        .cache
                        .table(&rel.target.0, &rel.target.1)
                        .ok_or_else(|| RestError::Internal("relationship target missing".into()))?;
                    let label = e.label().to_string();
                    let names = spellings.next().unwrap_or_default();
                    // The spellings of each level, not every path they make: those double
                    // with each aliased level.
                    let mut child_levels = levels.to_vec();
                    child_levels.push(names);
                    self.seen.push(child_levels.clone());
                    self.counter += 1;
                    let child_alias = format!("{}_{}", rel.target.1, self.counter);
                    let child_items = if e.items.is_empty() {
                        Vec::new()
                    } else {
                        e.items.clone()
                    };
                    let node = self.plan_node(
                        rel.target.clone(),
                        Ident::qualified(&rel.target.0, &rel.target.1),
                        child_alias.clone(),
                        Some(col_infos(target)),
                        &child_items,
                        &child_levels,
                    )?;
                    if e.spread && !rel.is_to_one() && node.is_aggregated() {
                        return Err(RestError::NotImplemented(
                            "Aggregates are not implemented for one-to-many or many-to-many spreads."
                                .into(),
                        ));
                    }
                    // An embed selecting nothing but embeds that select nothing (`tasks(projects())`)
                    // only filters, as PostgREST's `rsEmptyEmbed`: it is not in the output.
                    let hidden = node.select.iter().all(|o| matches!(o, Out::Embed(_)))
                        && node.embeds.iter().all(|c| c.hidden);
                    select.push(Out::Embed(embeds.len()));
                    embeds.push(EmbedPlan {
                        label,
                        rel,
                        inner: e.join == Some(JoinType::Inner),
                        spread: e.spread,
                        hidden,
                        lateral: format!("{child_alias}_j"),
                        node,
                    });
                }
            }
        }

        let mut conds = Vec::new();
        for f in self.q.filters.iter().filter(|f| addresses(levels, &f.path)) {
            conds.push(self.plan_filter(&relation, &columns, &embeds, f)?);
        }
        for (_, tree) in self.q.logic.iter().filter(|(p, _)| addresses(levels, p)) {
            conds.push(self.plan_tree(&relation, &columns, &embeds, tree)?);
        }
        let mut order = Vec::new();
        if let Some(terms) = first_addressing(levels, &self.q.order) {
            for t in terms {
                match &t.relation {
                    None => {
                        let col = self.column(&relation, &columns, &t.field.name)?;
                        order.push(OrderExpr {
                            related: None,
                            field: t.field.clone(),
                            type_name: col.type_name,
                            direction: t.direction,
                            nulls: t.nulls,
                            computed: col.computed,
                            spread_lateral: None,
                        });
                    }
                    Some(rel_name) => {
                        let Some(e) = embeds.iter().find(|e| &e.label == rel_name) else {
                            return Err(RestError::NotEmbedded(rel_name.clone()));
                        };
                        if !e.rel.is_to_one() {
                            return Err(RestError::RelatedOrder {
                                origin: relation.1.clone(),
                                target: rel_name.clone(),
                            });
                        }
                        // An output of a to-one spread (an alias too) orders by the spread's
                        // own value, which a grouped read has at hand.
                        if e.spread
                            && t.field.json_path.is_empty()
                            && e.node.output_names().contains(&t.field.name)
                        {
                            order.push(OrderExpr {
                                related: None,
                                field: t.field.clone(),
                                type_name: String::new(),
                                direction: t.direction,
                                nulls: t.nulls,
                                computed: None,
                                spread_lateral: Some(e.lateral.clone()),
                            });
                            continue;
                        }
                        let col = self.column(&e.rel.target, &e.node.columns, &t.field.name)?;
                        order.push(OrderExpr {
                            spread_lateral: None,
                            related: Some(e.rel.clone()),
                            field: t.field.clone(),
                            type_name: col.type_name,
                            direction: t.direction,
                            nulls: t.nulls,
                            computed: col.computed,
                        });
                    }
                }
            }
        }
        let range = first_addressing(levels, &self.q.ranges)
            .copied()
            .unwrap_or_default();
        Ok(ReadNode {
            relation,
            from,
            alias,
            columns,
            select,
            conds,
            order,
            range,
            embeds,
        })
    }

    fn plan_filter(
        &self,
        relation: &QualifiedName,
        columns: &Option<Vec<ColInfo>>,
        embeds: &[EmbedPlan],
        f: &Filter,
    ) -> Result<Cond, RestError> {
        // `rel=is.null` / `rel=not.is.null` on an embedded resource (by its alias when it has
        // one) tests whether the parent has a related row. Any other operator on that name is
        // a filter on the column of that name, as in PostgREST (an embed is often named after
        // its foreign key column); with no such column it is PGRST120.
        if f.field.json_path.is_empty()
            && let Some(i) = embeds.iter().position(|e| e.label == f.field.name)
        {
            let is_null = match f.op {
                Operation::Is(IsValue::Null) => Some(!f.negate),
                Operation::Is(IsValue::NotNull) => Some(f.negate),
                _ => None,
            };
            match is_null {
                Some(is_null) => return Ok(Cond::EmbedNull { embed: i, is_null }),
                None if columns
                    .as_ref()
                    .is_some_and(|cols| cols.iter().any(|c| c.name == f.field.name)) => {}
                None => return Err(RestError::EmbedFilter(f.field.name.clone())),
            }
        }
        let col = self.column(relation, columns, &f.field.name)?;
        Ok(Cond::Filter {
            field: f.field.clone(),
            parse: col.repr_fn(&f.field, |r| &r.from_text),
            type_name: col.type_name,
            negate: f.negate,
            op: f.op.clone(),
            computed: col.computed,
        })
    }

    fn plan_tree(
        &self,
        relation: &QualifiedName,
        columns: &Option<Vec<ColInfo>>,
        embeds: &[EmbedPlan],
        tree: &LogicTree,
    ) -> Result<Cond, RestError> {
        match tree {
            LogicTree::Expr {
                negate,
                and,
                children,
            } => Ok(Cond::Tree {
                negate: *negate,
                and: *and,
                children: children
                    .iter()
                    .map(|c| self.plan_tree(relation, columns, embeds, c))
                    .collect::<Result<_, _>>()?,
            }),
            // The grammar keeps a leaf on the tree's own resource; only `embed.is.null` and
            // `embed.not.is.null` reach an embed from inside a tree.
            LogicTree::Leaf(f) => self.plan_filter(relation, columns, embeds, f),
        }
    }
}

/// Whether `path` (the key of a filter, `order` or `limit`) addresses the node whose embed path
/// is `levels`: as long, and at each level one of the names that address the embed there.
fn addresses(levels: &[Vec<String>], path: &[String]) -> bool {
    levels.len() == path.len() && levels.iter().zip(path).all(|(names, p)| names.contains(p))
}

/// The value under the key of `map` that addresses the node at `levels`; when several do
/// (`rel.order` and `alias.order`), the one that prefers labels, level by level.
fn first_addressing<'m, T>(
    levels: &[Vec<String>],
    map: &'m std::collections::BTreeMap<Vec<String>, T>,
) -> Option<&'m T> {
    let rank = |path: &[String]| -> Vec<usize> {
        levels
            .iter()
            .zip(path)
            .map(|(names, p)| names.iter().position(|n| n == p).unwrap_or(usize::MAX))
            .collect()
    };
    map.iter()
        .filter(|(path, _)| addresses(levels, path))
        .min_by_key(|(path, _)| rank(path))
        .map(|(_, value)| value)
}

/// For each embed of `items` in order, the names that address it in filter, order and limit
/// keys: its label (the alias, else the name) and, for an aliased embed, its relation name as
/// PostgREST still accepts by default (`url-use-legacy-target-names`), unless another embed at
/// the same level is labelled so or an earlier one already took it.
pub fn embed_spellings(items: &[SelectItem]) -> Vec<Vec<String>> {
    let embeds: Vec<&crate::select::Embed> = items
        .iter()
        .filter_map(|i| match i {
            SelectItem::Embed(e) => Some(e),
            _ => None,
        })
        .collect();
    let labels: Vec<&str> = embeds.iter().map(|e| e.label()).collect();
    let mut taken: Vec<&str> = Vec::new();
    embeds
        .iter()
        .map(|e| {
            let mut names = vec![e.label().to_string()];
            if e.alias.is_some()
                && !labels.contains(&e.name.as_str())
                && !taken.contains(&e.name.as_str())
            {
                taken.push(&e.name);
                names.push(e.name.clone());
            }
            names
        })
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(crate) mod tests;
