//! Derives embeddable relationships from foreign keys, including through views.
//!
//! Pure: takes the exposed relations, every foreign key and unique key in the database, and the
//! column lineage of views, and returns many-to-one, one-to-many, one-to-one and many-to-many
//! relationships (self references included). Knows nothing about SQL or I/O.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::schema_cache::{Cardinality, QualifiedName, Relationship, Table};

/// A foreign key as read from `pg_constraint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Referencing table.
    pub table: QualifiedName,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub foreign_table: QualifiedName,
    /// Referenced columns.
    pub foreign_columns: Vec<String>,
}

/// A function `function(table) RETURNS [SETOF] target` as read from `pg_proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedRelationship {
    /// The function.
    pub function: QualifiedName,
    /// The relation whose row it takes (the origin of the embed).
    pub table: QualifiedName,
    /// The relation whose rows it returns.
    pub target: QualifiedName,
    /// Not `SETOF`, or `ROWS 1`.
    pub to_one: bool,
}

/// For each view: `(view column, base table, base column)` lineage of its output columns.
pub type ViewLineage = HashMap<QualifiedName, Vec<(String, QualifiedName, String)>>;

/// Unique column sets (PK included) of every base table.
pub type Uniques = HashMap<QualifiedName, Vec<Vec<String>>>;

/// How many ways one view may pass a key through (a bound, not a limit met in practice).
const MAX_WAYS: usize = 16;

/// Relations exposing `base`'s `cols`: the table itself when exposed, and every exposed view
/// that passes all of them through. Returns `(relation, columns in that relation)`.
fn exposures(
    base: &QualifiedName,
    cols: &[String],
    tables: &BTreeMap<QualifiedName, Table>,
    views: &ViewLineage,
) -> Vec<(QualifiedName, Vec<String>)> {
    let mut out = Vec::new();
    if tables.contains_key(base) {
        out.push((base.clone(), cols.to_vec()));
    }
    for (view, lineage) in views {
        if !tables.contains_key(view) || view == base {
            continue;
        }
        // Every way the view passes the columns through: a view showing a key column twice
        // (`t1_id`, `t1_id2`) has a relationship through each, as PostgREST's.
        let mut ways: Vec<Vec<String>> = vec![Vec::new()];
        for c in cols {
            let names: Vec<&String> = lineage
                .iter()
                .filter(|(_, t, bc)| t == base && bc == c)
                .map(|(vc, _, _)| vc)
                .collect();
            ways = ways
                .iter()
                .flat_map(|w| {
                    names.iter().map(move |n| {
                        let mut w = w.clone();
                        w.push((*n).clone());
                        w
                    })
                })
                .take(MAX_WAYS)
                .collect();
        }
        out.extend(ways.into_iter().map(|w| (view.clone(), w)));
    }
    out.sort();
    out
}

/// Follows views over views: a column a view takes from another view is traced to the base
/// table column that one passes through, so relationships reach views of any depth.
pub fn resolve_nested_views(lineage: &mut ViewLineage) {
    // Each round traces one more level; views nest only so deep.
    for _ in 0..16 {
        let snapshot = lineage.clone();
        let mut changed = false;
        for entries in lineage.values_mut() {
            // An entry still naming a view after this is a column that view computes: it leads
            // to no base column and is left as it is (no foreign key names a view).
            for entry in entries.iter_mut() {
                let Some(inner) = snapshot.get(&entry.1) else {
                    continue;
                };
                if let Some((_, base, base_col)) = inner.iter().find(|(vc, _, _)| *vc == entry.2) {
                    *entry = (entry.0.clone(), base.clone(), base_col.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

fn is_unique(uniques: &Uniques, table: &QualifiedName, cols: &[String]) -> bool {
    uniques.get(table).is_some_and(|us| {
        us.iter()
            .any(|u| u.len() == cols.len() && u.iter().all(|c| cols.contains(c)))
    })
}

fn covered_by_key(uniques: &Uniques, table: &QualifiedName, cols: &[String]) -> bool {
    uniques
        .get(table)
        .is_some_and(|us| us.iter().any(|u| cols.iter().all(|c| u.contains(c))))
}

/// Derives all relationships, keyed by origin.
pub fn derive(
    tables: &BTreeMap<QualifiedName, Table>,
    fks: &[ForeignKey],
    uniques: &Uniques,
    views: &ViewLineage,
) -> HashMap<QualifiedName, Vec<Relationship>> {
    let mut rels: HashMap<QualifiedName, Vec<Relationship>> = HashMap::new();
    let mut add = |r: Relationship| {
        let list = rels.entry(r.origin.clone()).or_default();
        if !list.contains(&r) {
            list.push(r);
        }
    };
    for fk in fks {
        let one_to_one = is_unique(uniques, &fk.table, &fk.columns);
        let sources = exposures(&fk.table, &fk.columns, tables, views);
        let targets = exposures(&fk.foreign_table, &fk.foreign_columns, tables, views);
        for (src, src_cols) in &sources {
            for (tgt, tgt_cols) in &targets {
                let forward: Vec<(String, String)> = src_cols
                    .iter()
                    .cloned()
                    .zip(tgt_cols.iter().cloned())
                    .collect();
                let backward: Vec<(String, String)> = forward
                    .iter()
                    .map(|(a, b)| (b.clone(), a.clone()))
                    .collect();
                let (fwd, bwd) = if one_to_one {
                    (
                        Cardinality::OneToOne {
                            origin_holds_fk: true,
                        },
                        Cardinality::OneToOne {
                            origin_holds_fk: false,
                        },
                    )
                } else {
                    (Cardinality::ManyToOne, Cardinality::OneToMany)
                };
                add(Relationship {
                    origin: src.clone(),
                    target: tgt.clone(),
                    cardinality: fwd,
                    constraint: fk.name.clone(),
                    columns: forward,
                });
                add(Relationship {
                    origin: tgt.clone(),
                    target: src.clone(),
                    cardinality: bwd,
                    constraint: fk.name.clone(),
                    columns: backward,
                });
            }
        }
    }
    // The junction is one the API exposes, as PostgREST's: the table itself, or a view passing
    // both keys' columns through (a junction kept in a private schema behind a view).
    for (junction, a, b) in junction_pairs(fks, uniques) {
        let both: Vec<String> = a.columns.iter().chain(&b.columns).cloned().collect();
        for (jrel, jcols) in exposures(junction, &both, tables, views) {
            let (ja, jb) = jcols.split_at(a.columns.len());
            for (src, src_cols) in exposures(&a.foreign_table, &a.foreign_columns, tables, views) {
                for (tgt, tgt_cols) in
                    exposures(&b.foreign_table, &b.foreign_columns, tables, views)
                {
                    add(Relationship {
                        origin: src.clone(),
                        target: tgt.clone(),
                        cardinality: Cardinality::ManyToMany {
                            junction: jrel.clone(),
                            origin_constraint: a.name.clone(),
                            target_constraint: b.name.clone(),
                            origin_cols: src_cols.iter().cloned().zip(ja.to_vec()).collect(),
                            target_cols: tgt_cols.iter().cloned().zip(jb.to_vec()).collect(),
                        },
                        constraint: jrel.1.clone(),
                        columns: Vec::new(),
                    });
                }
            }
        }
    }
    rels
}

/// Many-to-many candidates: a junction and two of its foreign keys (in both orders), each
/// covered by one of its keys.
fn junction_pairs<'a>(
    fks: &'a [ForeignKey],
    uniques: &Uniques,
) -> Vec<(&'a QualifiedName, &'a ForeignKey, &'a ForeignKey)> {
    let mut by_table: BTreeMap<&QualifiedName, Vec<&ForeignKey>> = BTreeMap::new();
    for fk in fks {
        by_table.entry(&fk.table).or_default().push(fk);
    }
    let mut out = Vec::new();
    for (junction, jfks) in by_table {
        for (i, a) in jfks.iter().enumerate() {
            for (j, b) in jfks.iter().enumerate() {
                if i != j
                    && covered_by_key(uniques, junction, &a.columns)
                    && covered_by_key(uniques, junction, &b.columns)
                {
                    out.push((junction, *a, *b));
                }
            }
        }
    }
    out
}

/// `(origin, target's schema)` of the many-to-many relationships through a junction the API
/// does not expose. PostgREST finds them too and then hides them, but it still counts the
/// origin as having relationships into that schema, which decides its PGRST200 hint.
pub fn hidden_junction_origins(
    tables: &BTreeMap<QualifiedName, Table>,
    fks: &[ForeignKey],
    uniques: &Uniques,
    views: &ViewLineage,
) -> HashSet<(QualifiedName, String)> {
    let mut out = HashSet::new();
    for (junction, a, b) in junction_pairs(fks, uniques) {
        if tables.contains_key(junction) {
            continue;
        }
        let targets = exposures(&b.foreign_table, &b.foreign_columns, tables, views);
        for (src, _) in exposures(&a.foreign_table, &a.foreign_columns, tables, views) {
            for (tgt, _) in &targets {
                out.insert((src.clone(), tgt.0.clone()));
            }
        }
    }
    out
}

/// Adds computed relationships between exposed relations. As in PostgREST, a function named
/// like a table of its own schema replaces the foreign-key relationships from its argument's
/// relation to that table, so a function can override an ambiguous or unwanted embed.
pub fn add_computed(
    rels: &mut HashMap<QualifiedName, Vec<Relationship>>,
    tables: &BTreeMap<QualifiedName, Table>,
    computed: &[ComputedRelationship],
) {
    for c in computed {
        if !tables.contains_key(&c.table) || !tables.contains_key(&c.target) {
            continue;
        }
        let list = rels.entry(c.table.clone()).or_default();
        list.retain(|r| {
            matches!(r.cardinality, Cardinality::Computed { .. }) || r.target != c.function
        });
        let rel = Relationship {
            origin: c.table.clone(),
            target: c.target.clone(),
            cardinality: Cardinality::Computed {
                function: c.function.clone(),
                to_one: c.to_one,
            },
            constraint: c.function.1.clone(),
            columns: Vec::new(),
        };
        if !list.contains(&rel) {
            list.push(rel);
        }
    }
}

/// Extracts `(output column, base table oid, base column number)` from a view's `_RETURN` rule
/// text (`pg_rewrite.ev_action::text`), reading only the top-level query's target list.
pub fn view_lineage_from_rule(rule: &str) -> Vec<(String, u32, i16)> {
    // Find ":targetList" at brace depth 1 (the top-level QUERY node).
    let bytes = rule.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    let mut start = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b':' if depth == 1 && rule[i..].starts_with(":targetList ") => {
                start = Some(i + ":targetList ".len());
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(start) = start else {
        return Vec::new();
    };
    // The list runs until its closing parenthesis at the same nesting.
    let mut out = Vec::new();
    let mut level = 0i32;
    let mut entry_start = None;
    let mut k = start;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 1,
            b'(' => level += 1,
            b')' => {
                level -= 1;
                if level <= 0 {
                    break;
                }
            }
            b'{' => {
                if level == 1 && entry_start.is_none() && rule[k..].starts_with("{TARGETENTRY") {
                    entry_start = Some(k);
                }
                level += 1;
            }
            b'}' => {
                level -= 1;
                if level == 1
                    && let Some(s) = entry_start.take()
                    && let Some(e) = parse_target_entry(&rule[s..=k])
                {
                    out.push(e);
                }
            }
            _ => {}
        }
        k += 1;
    }
    out
}

fn field<'a>(entry: &'a str, name: &str) -> Option<&'a str> {
    // The last occurrence is the entry's own field (nested expressions come first).
    let pos = entry.rfind(name)?;
    entry[pos + name.len()..].split_whitespace().next()
}

fn parse_target_entry(entry: &str) -> Option<(String, u32, i16)> {
    let resname = field(entry, " :resname ")?;
    let tbl: u32 = field(entry, " :resorigtbl ")?.parse().ok()?;
    let col: i16 = field(entry, " :resorigcol ")?
        .trim_end_matches('}')
        .parse()
        .ok()?;
    if tbl == 0 || resname == "<>" {
        return None;
    }
    Some((resname.replace('\\', ""), tbl, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_reads_top_level_target_list() {
        let rule = "({QUERY :commandType 1 :rtable ({RTE :subquery {QUERY :targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1 :resname inner :resorigtbl 99 :resorigcol 9 :resjunk false})}}) :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 1 :resname id :ressortgroupref 0 :resorigtbl 16384 :resorigcol 1 :resjunk false} {TARGETENTRY :expr {FUNCEXPR :args ({VAR})} :resno 2 :resname computed :ressortgroupref 0 :resorigtbl 0 :resorigcol 0 :resjunk false} {TARGETENTRY :expr {VAR} :resno 3 :resname owner_id :ressortgroupref 0 :resorigtbl 16384 :resorigcol 3 :resjunk false}) :override 0})";
        assert_eq!(
            view_lineage_from_rule(rule),
            vec![("id".into(), 16384, 1), ("owner_id".into(), 16384, 3)]
        );
    }
}
