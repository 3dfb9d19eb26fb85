//! The `select=` grammar: columns, aliases, casts, JSON paths, aggregates and embeds.
//!
//! Parses into [`SelectItem`]s without consulting the schema; names are validated later by
//! the planner. Casts are restricted to a safe character set because type names are rendered
//! unquoted.

use crate::cursor::{Cursor, Field};
use crate::error::RestError;

/// An aggregate function applicable to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `sum()`.
    Sum,
    /// `avg()`.
    Avg,
    /// `count()`.
    Count,
    /// `max()`.
    Max,
    /// `min()`.
    Min,
}

impl Aggregate {
    /// SQL function name.
    pub fn sql(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Count => "count",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
        }
    }
}

/// Join type requested for an embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    /// `!inner`.
    Inner,
    /// `!left` (the default).
    Left,
}

/// One item of a `select=` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`.
    Star,
    /// A column, possibly aliased, cast, with a JSON path and an aggregate.
    Field {
        /// `alias:`.
        alias: Option<String>,
        /// Column and JSON path.
        field: Field,
        /// `::type` on the value.
        cast: Option<String>,
        /// `.agg()` and its `::type`.
        aggregate: Option<(Aggregate, Option<String>)>,
    },
    /// `count()` over the rows.
    Count {
        /// `alias:`.
        alias: Option<String>,
        /// `::type`.
        cast: Option<String>,
    },
    /// An embedded resource.
    Embed(Embed),
}

/// An embedded resource in `select=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embed {
    /// `alias:` (not allowed with spread).
    pub alias: Option<String>,
    /// The relation (or FK column/constraint) name.
    pub name: String,
    /// `!hint`.
    pub hint: Option<String>,
    /// `!inner` / `!left`.
    pub join: Option<JoinType>,
    /// `...name(...)`.
    pub spread: bool,
    /// Nested items; empty for `name()`.
    pub items: Vec<SelectItem>,
}

impl Embed {
    /// The name the embed is referred to by in filters and output.
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// Parses a `select=` value.
pub fn parse_select(source: &str) -> Result<Vec<SelectItem>, RestError> {
    let mut c = Cursor::new("select parameter", source);
    let items = items(&mut c)?;
    if !c.at_end() {
        return Err(c.error("\",\" or end of input"));
    }
    Ok(items)
}

fn items(c: &mut Cursor) -> Result<Vec<SelectItem>, RestError> {
    c.nested(items_here)
}

fn items_here(c: &mut Cursor) -> Result<Vec<SelectItem>, RestError> {
    let mut out = Vec::new();
    loop {
        c.skip_ws();
        if matches!(c.peek(), None | Some(')')) && out.is_empty() {
            return Ok(out);
        }
        out.push(item(c)?);
        c.skip_ws();
        if !c.eat(",") {
            return Ok(out);
        }
    }
}

fn cast(c: &mut Cursor) -> Result<Option<String>, RestError> {
    if !c.eat("::") {
        return Ok(None);
    }
    let mut t = String::new();
    while let Some(ch) = c.peek().filter(|ch| {
        ch.is_ascii_alphanumeric() || *ch == '_' || *ch == ' ' || *ch == '[' || *ch == ']'
    }) {
        t.push(ch);
        c.pos += 1;
    }
    let t = t.trim().to_string();
    if t.is_empty() || t.starts_with('[') {
        return Err(c.error("cast type name"));
    }
    Ok(Some(t))
}

fn aggregate_name(s: &str) -> Option<Aggregate> {
    Some(match s {
        "sum" => Aggregate::Sum,
        "avg" => Aggregate::Avg,
        "count" => Aggregate::Count,
        "max" => Aggregate::Max,
        "min" => Aggregate::Min,
        _ => return None,
    })
}

fn embed_params(c: &mut Cursor) -> Result<(Option<String>, Option<JoinType>), RestError> {
    let mut hint = None;
    let mut join = None;
    while c.eat("!") {
        let word = c.name()?;
        match word.as_str() {
            "inner" if join.is_none() => join = Some(JoinType::Inner),
            "left" if join.is_none() => join = Some(JoinType::Left),
            _ if hint.is_none() => hint = Some(word),
            _ => return Err(c.error("\"(\"")),
        }
    }
    Ok((hint, join))
}

fn item(c: &mut Cursor) -> Result<SelectItem, RestError> {
    if c.eat("*") {
        return Ok(SelectItem::Star);
    }
    if c.eat("...") {
        let name = c.name()?;
        let (hint, join) = embed_params(c)?;
        c.expect('(')?;
        let nested = items(c)?;
        c.expect(')')?;
        return Ok(SelectItem::Embed(Embed {
            alias: None,
            name,
            hint,
            join,
            spread: true,
            items: nested,
        }));
    }
    let start = c.pos;
    let first = c.name()?;
    let alias = if c.peek() == Some(':') && c.peek_at(1) != Some(':') {
        c.pos += 1;
        Some(first)
    } else {
        c.pos = start;
        None
    };
    if c.eat("count()") {
        let cast = cast(c)?;
        return Ok(SelectItem::Count { alias, cast });
    }
    let name = c.name()?;
    if matches!(c.peek(), Some('!') | Some('(')) {
        let (hint, join) = embed_params(c)?;
        c.expect('(')?;
        let nested = items(c)?;
        c.expect(')')?;
        return Ok(SelectItem::Embed(Embed {
            alias,
            name,
            hint,
            join,
            spread: false,
            items: nested,
        }));
    }
    let json_path = c.json_path()?;
    let field = Field { name, json_path };
    let value_cast = cast(c)?;
    let mut aggregate = None;
    if c.peek() == Some('.') {
        c.pos += 1;
        let agg_start = c.pos;
        let word = c.until(&['(']);
        let Some(agg) = aggregate_name(&word) else {
            c.pos = agg_start;
            return Err(c.error("aggregate (sum, avg, count, max, min)"));
        };
        if !c.eat("()") {
            return Err(c.error("\"()\""));
        }
        aggregate = Some((agg, cast(c)?));
    }
    Ok(SelectItem::Field {
        alias,
        field,
        cast: value_cast,
        aggregate,
    })
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
