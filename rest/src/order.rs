//! The `order=` grammar: `col[->path][.asc|.desc][.nullsfirst|.nullslast]`, comma separated,
//! plus `rel(col)` terms that order by a to-one embed's column.

use crate::cursor::{Cursor, Field};
use crate::error::RestError;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `.asc`.
    Asc,
    /// `.desc`.
    Desc,
}

/// NULL placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `.nullsfirst`.
    First,
    /// `.nullslast`.
    Last,
}

/// One ordering key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// `rel(col)`: the to-one embed to order by.
    pub relation: Option<String>,
    /// Column and JSON path.
    pub field: Field,
    /// Direction, if given.
    pub direction: Option<Direction>,
    /// Nulls placement, if given.
    pub nulls: Option<Nulls>,
}

/// Parses an `order=` value.
pub fn parse_order(source: &str) -> Result<Vec<OrderTerm>, RestError> {
    let mut c = Cursor::new("order", source);
    let mut out = Vec::new();
    loop {
        c.skip_ws();
        let first = c.field()?;
        let (relation, field) = if first.json_path.is_empty() && c.eat("(") {
            let f = c.field()?;
            c.expect(')')?;
            (Some(first.name), f)
        } else {
            (None, first)
        };
        let mut term = OrderTerm {
            relation,
            field,
            direction: None,
            nulls: None,
        };
        // `.asc`/`.desc`, then `.nullsfirst`/`.nullslast`, each optional; a keyword ends the
        // term, as in PostgREST's grammar.
        if c.eat(".") {
            match keyword(&mut c, &["asc", "desc", "nullsfirst", "nullslast"])? {
                0 => term.direction = Some(Direction::Asc),
                1 => term.direction = Some(Direction::Desc),
                2 => term.nulls = Some(Nulls::First),
                _ => term.nulls = Some(Nulls::Last),
            }
            if term.direction.is_some() && c.eat(".") {
                term.nulls = Some(match keyword(&mut c, &["nullsfirst", "nullslast"])? {
                    0 => Nulls::First,
                    _ => Nulls::Last,
                });
            }
            term_end(
                &c,
                if term.nulls.is_none() {
                    "delimiter (.), \",\" or end of input"
                } else {
                    "\",\" or end of input"
                },
            )?;
        }
        out.push(term);
        if c.at_end() {
            return Ok(out);
        }
        c.expect(',')?;
    }
}

/// One of `words` (their index), or PostgREST's error for none: at the word, naming the
/// first character that differs from the first of them.
fn keyword(c: &mut Cursor, words: &[&str]) -> Result<usize, RestError> {
    if let Some(i) = words.iter().position(|w| c.rest_starts_with(w)) {
        c.pos += words[i].chars().count();
        return Ok(i);
    }
    let rest = c.rest();
    let differs = words[0]
        .chars()
        .zip(rest.chars())
        .position(|(a, b)| a != b)
        .unwrap_or(words[0].chars().count());
    let unexpected = match rest.chars().nth(differs) {
        Some(ch) => format!("\"{ch}\""),
        None => "end of input".to_string(),
    };
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    let expecting = match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
        None => String::new(),
    };
    Err(c.error_with(&unexpected, &expecting))
}

/// After a term's last keyword: the next term or the end.
fn term_end(c: &Cursor, expecting: &str) -> Result<(), RestError> {
    match c.peek() {
        None | Some(',') => Ok(()),
        Some(ch) => Err(c.error_with(&format!("'{ch}'"), expecting)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_directions_and_nulls() {
        let t = parse_order("a.desc.nullslast,b,c->x->>y.asc,rel(col).desc").expect("parses");
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].direction, Some(Direction::Desc));
        assert_eq!(t[0].nulls, Some(Nulls::Last));
        assert_eq!(t[1].direction, None);
        assert_eq!(t[2].field.json_path.len(), 2);
        assert_eq!(t[3].relation.as_deref(), Some("rel"));
        assert_eq!(t[3].field.name, "col");
    }

    #[test]
    fn errors_name_what_postgrest_names() {
        for (bad, column, details) in [
            (
                "id.asc.nullslasttt",
                17,
                "unexpected 't' expecting \",\" or end of input",
            ),
            (
                "id.descc",
                8,
                "unexpected 'c' expecting delimiter (.), \",\" or end of input",
            ),
            (
                "id.ac",
                4,
                "unexpected \"c\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"",
            ),
            (
                "id.nulsfist",
                4,
                "unexpected \"n\" expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"",
            ),
            (
                "id.asc.nlsfst",
                8,
                "unexpected \"l\" expecting \"nullsfirst\" or \"nullslast\"",
            ),
            (
                "id.as",
                4,
                "unexpected end of input expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\"",
            ),
        ] {
            let e = parse_order(bad).expect_err(bad);
            let body = e.body();
            assert_eq!(body["details"], details, "{bad}");
            assert_eq!(
                body["message"],
                format!("\"failed to parse order ({bad})\" (line 1, column {column})"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_unknown_modifiers_and_injection() {
        for bad in [
            "a.sideways",
            "a.desc.asc",
            "a;drop table x",
            "a.desc nulls first",
            "",
            "a,",
        ] {
            let e = parse_order(bad).expect_err(bad);
            assert_eq!(e.code(), "PGRST100", "{bad}");
        }
    }
}
