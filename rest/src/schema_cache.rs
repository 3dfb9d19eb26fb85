//! The schema cache: what the exposed schemas contain, loaded once from the catalog.
//!
//! Owns the in-memory model (tables, views, columns, keys, relationships, functions) and the
//! lookups the planner needs, including fuzzy "perhaps you meant" suggestions. Loading lives in
//! `introspect`, relationship derivation in `relationships`; nothing here runs on the request
//! hot path except map lookups.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::error::RestError;
use crate::fuzzy::FuzzySet;

pub use crate::introspect::LoadError;

/// `(schema, name)`.
pub type QualifiedName = (String, String);

/// What kind of relation a [`Table`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Ordinary or partitioned table.
    Table,
    /// View.
    View,
    /// Materialized view.
    MaterializedView,
    /// Foreign table.
    Foreign,
}

/// A column of a table or view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Type as `format_type` prints it, e.g. `character varying(20)`, `integer[]`.
    pub data_type: String,
    /// Type name without modifiers, e.g. `varchar`, `int4`, `_int4`.
    pub type_name: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The default expression, if any.
    pub default: Option<String>,
    /// Maximum length for character types.
    pub max_len: Option<i32>,
    /// Enum labels when the type is an enum (or a domain over one).
    pub enum_values: Vec<String>,
    /// Column comment.
    pub description: Option<String>,
    /// The representation of the column's domain type, when it has one.
    pub repr: Option<Arc<Representation>>,
}

/// How a domain is shown and read through the API (PostgREST's domain representations): the
/// functions of the domain's implicit function casts to `json` and from `text` and `json`.
/// PostgreSQL itself ignores casts on domains; the data API calls these functions explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Representation {
    /// `domain -> json`: formats the column in responses.
    pub to_json: Option<QualifiedName>,
    /// `text -> domain`: parses filter values from the query string.
    pub from_text: Option<QualifiedName>,
    /// `json -> domain`: parses the column's values in request bodies.
    pub from_json: Option<QualifiedName>,
}

/// A table, view, materialized view or foreign table in an exposed schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Relation kind.
    pub kind: TableKind,
    /// Columns in attribute order.
    pub columns: Vec<Column>,
    /// Primary key columns (for views: the base table's PK when the view exposes all of it).
    pub pk: Vec<String>,
    /// Unique constraints and unique indexes (each a column list), PK included.
    pub uniques: Vec<Vec<String>>,
    /// Whether INSERT is possible.
    pub insertable: bool,
    /// Whether UPDATE is possible.
    pub updatable: bool,
    /// Whether DELETE is possible.
    pub deletable: bool,
    /// Table comment.
    pub description: Option<String>,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// How two relations relate, seen from the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cardinality {
    /// Origin holds the FK: each origin row has at most one target row.
    ManyToOne,
    /// Target holds the FK.
    OneToMany,
    /// FK columns are unique: at most one on each side. `origin_holds_fk` tells the direction.
    OneToOne {
        /// Whether the FK is on the origin.
        origin_holds_fk: bool,
    },
    /// Through a junction table with FKs to both sides.
    ManyToMany {
        /// The junction table.
        junction: QualifiedName,
        /// FK constraint from junction to origin.
        origin_constraint: String,
        /// FK constraint from junction to target.
        target_constraint: String,
        /// `(origin column, junction column)` pairs.
        origin_cols: Vec<(String, String)>,
        /// `(target column, junction column)` pairs.
        target_cols: Vec<(String, String)>,
    },
    /// A computed relationship: `function(origin) RETURNS [SETOF] target`, joined by calling
    /// the function with the origin row rather than by key columns.
    Computed {
        /// The function, `(schema, name)`; its name is what `select=` embeds.
        function: QualifiedName,
        /// Not `SETOF`, or `SETOF … ROWS 1`: at most one target row per origin row.
        to_one: bool,
    },
}

/// A relationship usable for embedding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    /// The relation embedding from.
    pub origin: QualifiedName,
    /// The relation being embedded.
    pub target: QualifiedName,
    /// Kind and direction.
    pub cardinality: Cardinality,
    /// The FK constraint name (for M2M the junction name is also a valid hint).
    pub constraint: String,
    /// `(origin column, target column)` pairs; empty for M2M (see the cardinality).
    pub columns: Vec<(String, String)>,
}

impl Relationship {
    /// Whether each origin row relates to at most one target row.
    pub fn is_to_one(&self) -> bool {
        matches!(
            self.cardinality,
            Cardinality::ManyToOne
                | Cardinality::OneToOne { .. }
                | Cardinality::Computed { to_one: true, .. }
        )
    }

    /// PostgREST's cardinality label for error details.
    pub fn cardinality_label(&self) -> &'static str {
        match self.cardinality {
            Cardinality::ManyToOne => "many-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::OneToOne { .. } => "one-to-one",
            Cardinality::ManyToMany { .. } => "many-to-many",
            Cardinality::Computed { to_one: true, .. } => "many-to-one",
            Cardinality::Computed { to_one: false, .. } => "one-to-many",
        }
    }
}

/// One argument of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncArg {
    /// Name (empty for unnamed arguments).
    pub name: String,
    /// Type as `format_type` prints it.
    pub data_type: String,
    /// Whether it has a default and may be omitted.
    pub has_default: bool,
    /// Whether it is the VARIADIC argument.
    pub variadic: bool,
}

impl FuncArg {
    /// The type an argument's value is read as: `character` and `bit` (whose length an
    /// argument's type never carries, so they would mean length 1) as their varying forms, as
    /// PostgREST reads them; the function's own type then applies when it is called.
    pub fn value_type(&self) -> &str {
        match self.data_type.as_str() {
            "character" => "character varying",
            "character[]" => "character varying[]",
            "bit" => "bit varying",
            "bit[]" => "bit varying[]",
            t => t,
        }
    }
}

/// What a function returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnKind {
    /// `void`.
    Void,
    /// A scalar (base, domain, enum, array, range) type.
    Scalar,
    /// A composite type; `Some` when it is a table/view in the cache.
    Composite(Option<QualifiedName>),
    /// `record` or `TABLE(...)`; the OUT columns when known.
    Record(Vec<(String, String)>),
}

/// A function callable through `/rpc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// IN / INOUT / VARIADIC arguments in order.
    pub args: Vec<FuncArg>,
    /// Return type as `format_type` prints it.
    pub return_type: String,
    /// What the return type is.
    pub returns: ReturnKind,
    /// `RETURNS SETOF` / `TABLE`.
    pub returns_set: bool,
    /// `i`, `s` or `v`.
    pub volatility: char,
    /// Function comment.
    pub description: Option<String>,
    /// The isolation level its `SET default_transaction_isolation` names: a call to it runs
    /// at that level.
    pub isolation: Option<Isolation>,
    /// Its own settings (`SET key = value` on the function), in order.
    pub config: Vec<(String, String)>,
}

impl Function {
    /// Whether the function may run in a read-only transaction (GET allowed).
    pub fn is_read_only(&self) -> bool {
        self.volatility != 'v'
    }

    /// PostgREST's order among the overloads of one function, in which it lists them (a
    /// PGRST203's candidates) and the last of which it describes in OpenAPI: by the number of
    /// arguments, then by comment (none first), then by the arguments (name, type, whether
    /// required, whether variadic). Two overloads never have equal arguments.
    pub fn overload_order(&self, other: &Function) -> std::cmp::Ordering {
        fn args(f: &Function) -> impl Iterator<Item = (&str, &str, bool, bool)> {
            f.args.iter().map(|a| {
                (
                    a.name.as_str(),
                    a.data_type.as_str(),
                    !a.has_default,
                    a.variadic,
                )
            })
        }
        self.args
            .len()
            .cmp(&other.args.len())
            .then_with(|| self.description.cmp(&other.description))
            .then_with(|| args(self).cmp(args(other)))
    }
}

/// A computed field: `function(table) RETURNS scalar`, selectable, filterable and orderable as
/// if it were a column of `table` (never part of `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedField {
    /// Schema of the function; it must be on the request's search path to be used, as
    /// PostgreSQL's `row.function` notation requires.
    pub schema: String,
    /// Function name, which is the field name.
    pub name: String,
    /// Return type name without modifiers (`text`, `jsonb`, `tsvector`…).
    pub type_name: String,
}

/// Everything the planner knows about the exposed schemas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaCache {
    /// Exposed schemas in configuration order.
    pub schemas: Vec<String>,
    /// Tables and views by `(schema, name)`.
    pub tables: BTreeMap<QualifiedName, Table>,
    /// Relationships by origin.
    pub relationships: HashMap<QualifiedName, Vec<Relationship>>,
    /// `(origin, target's schema)` of many-to-many relationships through a junction outside
    /// the exposed schemas: never embedded, but they shape PGRST200's hint as in PostgREST.
    pub hidden_relationships: std::collections::HashSet<(QualifiedName, String)>,
    /// Functions (all overloads) by `(schema, name)`.
    pub functions: BTreeMap<QualifiedName, Vec<Function>>,
    /// Computed fields by the table whose row they take.
    pub computed_fields: HashMap<QualifiedName, Vec<ComputedField>>,
    /// Settings of the roles requests can switch to (`ALTER ROLE … SET`), by role.
    pub role_settings: HashMap<String, RoleSettings>,
    /// Every role, and whether `authenticator` may `SET ROLE` to it (it is a member of it,
    /// itself included): a request's role must be one, as when PostgREST logs in as
    /// `authenticator`. `None` when the database has no such role (no Supabase layout), and
    /// then any role may be used.
    pub switchable_roles: Option<HashMap<String, bool>>,
    /// The schema of the PostGIS extension (3.0 or newer), quoted; `application/geo+json`
    /// is offered only with it.
    pub postgis: Option<String>,
    /// Media type handlers by what they serve (a relation or function; `None`: any relation)
    /// and media type (lower case, `*/*` for the any handler).
    pub media_handlers: HashMap<(Option<QualifiedName>, String), Arc<MediaHandler>>,
    /// `COMMENT ON SCHEMA` of the exposed schemas that have one: the OpenAPI description's
    /// title (first line) and description (the rest).
    pub schema_descriptions: HashMap<String, String>,
    /// The time zone names PostgreSQL knows (`pg_timezone_names`), which `Prefer: timezone`
    /// may name, as in PostgREST. Empty: not loaded, nothing checked.
    pub timezones: std::collections::HashSet<String>,
}

/// A media type handler, as PostgREST 12 has them: a domain named like a media type
/// (`CREATE DOMAIN "application/vnd.twkb" AS bytea`, or `"*/*"` for any) returned by an
/// aggregate over a relation's rows or by a function. A request that accepts the media type
/// gets the handler's value as the body, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHandler {
    /// What computes the body.
    pub kind: HandlerKind,
    /// The `Content-Type` sent (`application/octet-stream` for `*/*`).
    pub content_type: String,
    /// Whether the domain is over `bytea` (the body is its bytes), else its text.
    pub bytea: bool,
    /// Whether the domain is over `xml`: its text is what `xml`'s output function makes of it.
    pub xml: bool,
}

/// How a [`MediaHandler`] computes the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerKind {
    /// An aggregate over the rows: of this relation's type, or of any (`anyelement`).
    Aggregate {
        /// The aggregate.
        function: QualifiedName,
        /// The relation whose row type it takes; `None` for `anyelement`.
        target: Option<QualifiedName>,
    },
    /// A function returning the domain: its value is the body.
    Function,
}

/// What `ALTER ROLE r SET …` (for all databases or this one) gives a role that requests switch
/// to: applied as transaction-scoped settings right after the role switch, as PostgREST does
/// for impersonated roles. Only settings a plain user may change are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSettings {
    /// `default_transaction_isolation`, which decides the request's `BEGIN`.
    pub isolation: Option<Isolation>,
    /// Every other setting, name and value.
    pub settings: Vec<(String, String)>,
}

/// A transaction isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// `READ COMMITTED` (also what `READ UNCOMMITTED` means in PostgreSQL).
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl Isolation {
    /// Parses a `default_transaction_isolation` value.
    pub fn parse(value: &str) -> Option<Isolation> {
        match value.trim().to_ascii_lowercase().as_str() {
            "read committed" | "read uncommitted" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    /// The `BEGIN` statement for this level.
    pub fn begin(self, read_only: bool) -> &'static str {
        match (self, read_only) {
            (Isolation::ReadCommitted, true) => "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY",
            (Isolation::ReadCommitted, false) => "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
            (Isolation::RepeatableRead, true) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            (Isolation::RepeatableRead, false) => {
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE"
            }
            (Isolation::Serializable, true) => "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
            (Isolation::Serializable, false) => "BEGIN ISOLATION LEVEL SERIALIZABLE READ WRITE",
        }
    }
}

impl SchemaCache {
    /// Reads the catalog for `schemas` with a few queries. Views in `schemas` and in
    /// `extra_search_path` pass the keys of the relations under them on, as PostgREST's do.
    pub async fn load(
        client: &tokio_postgres::Client,
        schemas: &[String],
        extra_search_path: &[String],
    ) -> Result<SchemaCache, LoadError> {
        crate::introspect::load(client, schemas, extra_search_path).await
    }

    /// Why a request may not run as `role`, as PostgreSQL would say it to PostgREST's
    /// connection, logged in as `authenticator`: the role does not exist (22023), or exists
    /// but `authenticator` is not a member of it (42501). `None` when it may.
    pub fn role_refusal(&self, role: &str) -> Option<crate::error::DbError> {
        let refusal = |code: &str, message: String| crate::error::DbError {
            code: code.into(),
            message,
            details: None,
            hint: None,
        };
        match self.switchable_roles.as_ref()?.get(role) {
            Some(true) => None,
            Some(false) => Some(refusal(
                "42501",
                format!("permission denied to set role \"{role}\""),
            )),
            None => Some(refusal("22023", format!("role \"{role}\" does not exist"))),
        }
    }

    /// The table or view `schema.name`.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.get(&(schema.to_string(), name.to_string()))
    }

    /// Relationships whose origin is `schema.name`.
    pub fn relationships_from(&self, schema: &str, name: &str) -> &[Relationship] {
        self.relationships
            .get(&(schema.to_string(), name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The computed field `name` of `table`, from the first schema of `search_path` that has
    /// one (the function PostgreSQL would pick for `row.name`).
    pub fn computed_field(
        &self,
        table: &QualifiedName,
        name: &str,
        search_path: &[String],
    ) -> Option<&ComputedField> {
        let fields = self.computed_fields.get(table)?;
        search_path
            .iter()
            .find_map(|s| fields.iter().find(|f| &f.schema == s && f.name == name))
    }

    /// Overloads of `schema.name`.
    pub fn function_overloads(&self, schema: &str, name: &str) -> &[Function] {
        self.functions
            .get(&(schema.to_string(), name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The table or view `schema.name`, or PostgREST's 404 PGRST205 naming the closest one.
    pub fn find_table(&self, schema: &str, name: &str) -> Result<&Table, RestError> {
        self.table(schema, name)
            .ok_or_else(|| RestError::TableNotFound {
                qualified: format!("{schema}.{name}"),
                suggestion: self.suggest_table(schema, name),
            })
    }

    /// PostgREST's suggestion for an unknown table: the fuzzy match for `name` among the
    /// tables and views of `schema`, close enough not to reveal unrelated names.
    pub fn suggest_table(&self, schema: &str, name: &str) -> Option<String> {
        FuzzySet::new(
            self.tables
                .keys()
                .filter(|(s, _)| s == schema)
                .map(|(_, n)| n.as_str()),
        )
        .get_one_with_min_score(name, crate::fuzzy::NAME_MIN_SCORE)
        .map(|n| format!("{schema}.{n}"))
    }

    /// PostgREST's suggestion for an unknown function: the fuzzy match for `name` among the
    /// functions of `schema`, close enough not to reveal unrelated names.
    pub fn suggest_function(&self, schema: &str, name: &str) -> Option<String> {
        FuzzySet::new(
            self.functions
                .keys()
                .filter(|(s, _)| s == schema)
                .map(|(_, n)| n.as_str()),
        )
        .get_one_with_min_score(name, crate::fuzzy::NAME_MIN_SCORE)
        .map(|n| format!("{schema}.{n}"))
    }
}
