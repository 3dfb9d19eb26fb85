//! Resolves an embed (`name!hint`) to exactly one relationship, with PostgREST's errors for
//! none (PGRST200) and several (PGRST201).

use serde_json::json;

use crate::error::RestError;
use crate::fuzzy::FuzzySet;
use crate::schema_cache::{Cardinality, QualifiedName, Relationship, SchemaCache, TableKind};

/// Finds the relationship from `origin` that `name` (with optional `hint`) designates.
pub fn resolve(
    cache: &SchemaCache,
    origin: &(String, String),
    name: &str,
    hint: Option<&str>,
) -> Result<Relationship, RestError> {
    let all = cache.relationships_from(&origin.0, &origin.1);
    // A computed relationship is named by its function and takes no hint; the others are
    // matched by target, constraint or column below.
    let (computed, rels): (Vec<&Relationship>, Vec<&Relationship>) = all
        .iter()
        .partition(|r| matches!(r.cardinality, Cardinality::Computed { .. }));
    let computed: Vec<&Relationship> = computed
        .into_iter()
        .filter(|r| matches!(&r.cardinality, Cardinality::Computed { function, .. } if function.1 == name))
        .collect();
    // PostgREST's rules (`findRel`). A relationship from a table to itself (one foreign key,
    // seen as many-to-one and one-to-many) is named by the table for its children and by the
    // FK column for its parent; with a hint, the hint is the children's FK column. Otherwise the
    // name is the target, or (when the target is not a view) a constraint or a one-column FK
    // of the origin, and a hint may be a constraint, either side's single column or a junction.
    let is_view = |r: &Relationship| {
        cache
            .table(&r.target.0, &r.target.1)
            .is_some_and(|t| matches!(t.kind, TableKind::View | TableKind::MaterializedView))
    };
    let candidates: Vec<&Relationship> = rels
        .into_iter()
        .filter(|r| {
            let to_target = r.target.1 == name;
            if r.origin == r.target {
                return match hint {
                    None => {
                        (to_target && r.cardinality == Cardinality::OneToMany)
                            || (r.cardinality == Cardinality::ManyToOne
                                && single_origin_column(r) == Some(name))
                    }
                    Some(h) => {
                        to_target
                            && r.cardinality == Cardinality::OneToMany
                            && single_target_column(r) == Some(h)
                    }
                };
            }
            match hint {
                None => {
                    to_target
                        || (!is_view(r)
                            && (constraint_of(r) == Some(name)
                                || single_origin_column(r) == Some(name)))
                }
                Some(h) => {
                    to_target
                        && (constraint_of(r) == Some(h)
                            || single_origin_column(r) == Some(h)
                            || single_target_column(r) == Some(h)
                            || matches!(&r.cardinality, Cardinality::ManyToMany { junction, .. } if junction.1 == h))
                }
            }
        })
        .collect();
    let candidates: Vec<&Relationship> = computed.into_iter().chain(candidates).collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(RestError::NoRelationship {
            parent: origin.1.clone(),
            child: name.to_string(),
            schema: origin.0.clone(),
            embed_hint: hint.map(str::to_string),
            suggestion: no_relationship_hint(cache, origin, name, all),
        }),
        many => Err(RestError::AmbiguousRelationship {
            parent: origin.1.clone(),
            child: name.to_string(),
            candidates: many
                .iter()
                .map(|r| {
                    json!({
                        "cardinality": r.cardinality_label(),
                        "embedding": format!("{} with {}", origin.1, r.target.1),
                        "relationship": relationship_label(r),
                    })
                })
                .collect(),
            suggestions: many
                .iter()
                .map(|r| format!("{}!{}", name, r.constraint))
                .collect(),
        }),
    }
}

/// PostgREST's hint for PGRST200. Its relationships are looked up by origin and by the schema
/// of their target (a computed relationship's: its function's). When the origin has some into
/// its own schema, the fuzzy match for `child` among their targets, unless `child` matches one
/// exactly (ignoring case: then the embed hint is what failed); else the fuzzy match for the
/// origin among all origins of relationships into that schema. Relationships it hides (through
/// a junction outside the exposed schemas) count here, as they do in PostgREST.
fn no_relationship_hint(
    cache: &SchemaCache,
    origin: &(String, String),
    child: &str,
    from_origin: &[Relationship],
) -> Option<String> {
    let schema = origin.0.as_str();
    let into = |r: &Relationship| match &r.cardinality {
        Cardinality::Computed { function, .. } => function.0 == schema,
        _ => r.target.0 == schema,
    };
    let from_parent: Vec<&Relationship> = from_origin.iter().filter(|r| into(r)).collect();
    // Hidden relationships count as some: then only the visible ones' targets are candidates.
    let hidden = |o: &QualifiedName| {
        cache
            .hidden_relationships
            .contains(&(o.clone(), schema.to_string()))
    };
    if !from_parent.is_empty() || hidden(origin) {
        let targets = FuzzySet::new(from_parent.iter().map(|r| r.target.1.as_str()));
        return targets
            .get(child)
            .into_iter()
            .find(|(score, _)| *score < 1.0)
            .map(|(_, t)| format!("Perhaps you meant '{t}' instead of '{child}'."));
    }
    let parents = FuzzySet::new(
        cache
            .relationships
            .values()
            .flatten()
            .filter(|r| into(r))
            .map(|r| r.origin.1.as_str())
            .chain(
                cache
                    .hidden_relationships
                    .iter()
                    .filter(|(_, s)| s == schema)
                    .map(|(o, _)| o.1.as_str()),
            ),
    );
    parents
        .get_one(&origin.1)
        .map(|p| format!("Perhaps you meant '{p}' instead of '{}'.", origin.1))
}

/// The foreign key's name, for a relationship through one (not many-to-many or computed).
fn constraint_of(r: &Relationship) -> Option<&str> {
    through_one_key(r).then_some(r.constraint.as_str())
}

/// The origin's column, for a relationship through a one-column foreign key.
fn single_origin_column(r: &Relationship) -> Option<&str> {
    match r.columns.as_slice() {
        [(origin, _)] if through_one_key(r) => Some(origin.as_str()),
        _ => None,
    }
}

/// The target's column, for a relationship through a one-column foreign key.
fn single_target_column(r: &Relationship) -> Option<&str> {
    match r.columns.as_slice() {
        [(_, target)] if through_one_key(r) => Some(target.as_str()),
        _ => None,
    }
}

fn through_one_key(r: &Relationship) -> bool {
    matches!(
        r.cardinality,
        Cardinality::ManyToOne | Cardinality::OneToMany | Cardinality::OneToOne { .. }
    )
}

fn relationship_label(r: &Relationship) -> String {
    match &r.cardinality {
        Cardinality::Computed { function, .. } => format!(
            "{}.{}({}) returning {}",
            function.0, function.1, r.origin.1, r.target.1
        ),
        // As PostgREST: the junction's two foreign keys and their columns in the junction.
        Cardinality::ManyToMany {
            junction,
            origin_constraint,
            target_constraint,
            origin_cols,
            target_cols,
        } => format!(
            "{} using {}({}) and {}({})",
            junction.1,
            origin_constraint,
            origin_cols
                .iter()
                .map(|c| c.1.clone())
                .collect::<Vec<_>>()
                .join(", "),
            target_constraint,
            target_cols
                .iter()
                .map(|c| c.1.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!(
            "{} using {}({}) and {}({})",
            r.constraint,
            r.origin.1,
            r.columns
                .iter()
                .map(|c| c.0.clone())
                .collect::<Vec<_>>()
                .join(", "),
            r.target.1,
            r.columns
                .iter()
                .map(|c| c.1.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
