//! Resolves an embed (`name!hint`) to exactly one relationship, with PostgREST's errors for
//! none (PGRST200) and several (PGRST201).

use serde_json::json;

use crate::error::RestError;
use crate::schema_cache::{Cardinality, Relationship, SchemaCache};

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
    let single = |cols: Vec<&String>, h: &str| cols.len() == 1 && cols[0] == h;
    // The name may be the target table, an FK column of the origin, or a constraint name.
    let by_name: Vec<&Relationship> = {
        let tables: Vec<&Relationship> = rels
            .iter()
            .copied()
            .filter(|r| r.target.1 == name)
            .collect();
        if !tables.is_empty() {
            tables
        } else {
            rels.iter()
                .copied()
                .filter(|r| {
                    (r.is_to_one() && r.constraint == name)
                        || (matches!(
                            r.cardinality,
                            Cardinality::ManyToOne
                                | Cardinality::OneToOne {
                                    origin_holds_fk: true
                                }
                        ) && single(r.columns.iter().map(|c| &c.0).collect(), name))
                })
                .collect()
        }
    };
    let candidates: Vec<&Relationship> = match hint {
        None => by_name,
        Some(h) => {
            let by_origin: Vec<&Relationship> = by_name
                .iter()
                .copied()
                .filter(|r| {
                    r.constraint == h
                        || single(r.columns.iter().map(|c| &c.0).collect(), h)
                        || match &r.cardinality {
                            Cardinality::ManyToMany { junction, .. } => junction.1 == h,
                            _ => false,
                        }
                })
                .collect();
            // For self references the constraint matches both directions; the FK column
            // picks the many-to-one side, the referenced column the one-to-many side.
            let narrowed: Vec<&Relationship> = by_origin
                .iter()
                .copied()
                .filter(|r| single(r.columns.iter().map(|c| &c.0).collect(), h))
                .collect();
            if narrowed.len() == 1 {
                narrowed
            } else if !by_origin.is_empty() {
                by_origin
            } else {
                by_name
                    .iter()
                    .copied()
                    .filter(|r| single(r.columns.iter().map(|c| &c.1).collect(), h))
                    .collect()
            }
        }
    };
    let candidates: Vec<&Relationship> = computed.into_iter().chain(candidates).collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(RestError::NoRelationship {
            parent: origin.1.clone(),
            child: name.to_string(),
            schema: origin.0.clone(),
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

fn relationship_label(r: &Relationship) -> String {
    match &r.cardinality {
        Cardinality::Computed { function, .. } => format!(
            "{}.{}({}) returning {}",
            function.0, function.1, r.origin.1, r.target.1
        ),
        Cardinality::ManyToMany {
            junction,
            origin_cols,
            target_cols,
            ..
        } => format!(
            "{} using {}({}) and {}({})",
            junction.1,
            r.origin.1,
            origin_cols
                .iter()
                .map(|c| c.0.clone())
                .collect::<Vec<_>>()
                .join(", "),
            r.target.1,
            target_cols
                .iter()
                .map(|c| c.0.clone())
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
