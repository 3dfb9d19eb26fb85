//! SQL text primitives: quoted identifiers and a fragment builder whose values are always binds.
//!
//! Dynamic SQL is only ever assembled through [`Sql`]: identifiers go through [`Ident`] (double
//! quoted, embedded quotes doubled) and values through [`Sql::bind`], which the connection sends as
//! text parameters of type `unknown` so PostgreSQL infers their type, exactly like PostgREST does.
//! This module must not know about HTTP or the schema cache.

use std::fmt::Write;

/// A quoted SQL identifier. Construct only from names validated against the schema cache
/// (or from names this crate generates itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// Quotes `name` as an identifier.
    pub fn new(name: &str) -> Self {
        let mut s = String::with_capacity(name.len() + 2);
        push_quoted(&mut s, name);
        Ident(s)
    }

    /// `"schema"."name"`.
    pub fn qualified(schema: &str, name: &str) -> Self {
        let mut s = String::with_capacity(schema.len() + name.len() + 5);
        push_quoted(&mut s, schema);
        s.push('.');
        push_quoted(&mut s, name);
        Ident(s)
    }

    /// The quoted text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `name` as a quoted SQL identifier, embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_quoted(&mut out, name);
    out
}

/// Appends `name` double-quoted, embedded quotes doubled.
pub(crate) fn push_quoted(out: &mut String, name: &str) {
    out.push('"');
    // Names are short and almost never hold a quote: a plain scan beats setting up a split.
    if !name.bytes().any(|b| b == b'"') {
        out.push_str(name);
        out.push('"');
        return;
    }
    let mut parts = name.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        out.push_str("\"\"");
        out.push_str(part);
    }
    out.push('"');
}

/// Quotes a string as a SQL literal (only for text this crate controls, e.g. JSON keys that
/// were validated as identifiers; user values are always bound).
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL statement under construction: text plus its bound values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    /// The statement text with `$n` placeholders.
    pub text: String,
    /// The values, in placeholder order.
    pub params: Vec<Option<String>>,
}

impl Sql {
    /// An empty statement.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends raw SQL text (never user input).
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a quoted identifier.
    pub fn ident(&mut self, i: &Ident) -> &mut Self {
        self.text.push_str(i.as_str());
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<String>) -> &mut Self {
        self.params.push(Some(value.into()));
        self.text.push('$');
        self.text
            .push_str(itoa::Buffer::new().format(self.params.len()));
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        let offset = self.params.len();
        self.text.push_str(&renumber(&other.text, offset));
        self.params.extend(other.params);
        self
    }
}

/// Shifts `$n` placeholders by `offset`, skipping quoted identifiers and literals.
fn renumber(text: &str, offset: usize) -> String {
    if offset == 0 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                let v: usize = n.parse().unwrap_or(0);
                let _ = write!(out, "${}", v + offset);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_doubles_quotes() {
        assert_eq!(Ident::new("a\"b").as_str(), "\"a\"\"b\"");
        assert_eq!(Ident::qualified("s", "t;drop").as_str(), "\"s\".\"t;drop\"");
    }

    #[test]
    fn append_renumbers_outside_quotes() {
        let mut a = Sql::new();
        a.push("x = ").bind("1");
        let mut b = Sql::new();
        b.push("\"$1\" = ").bind("2").push(" and '$1' = ").bind("3");
        a.push(" and ").append(b);
        assert_eq!(a.text, "x = $1 and \"$1\" = $2 and '$1' = $3");
        assert_eq!(a.params.len(), 3);
    }

    #[test]
    fn literal_escapes() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}
