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
        while c.eat(".") {
            let word = c.until(&['.', ',']);
            match word.as_str() {
                "asc" if term.direction.is_none() && term.nulls.is_none() => {
                    term.direction = Some(Direction::Asc)
                }
                "desc" if term.direction.is_none() && term.nulls.is_none() => {
                    term.direction = Some(Direction::Desc)
                }
                "nullsfirst" if term.nulls.is_none() => term.nulls = Some(Nulls::First),
                "nullslast" if term.nulls.is_none() => term.nulls = Some(Nulls::Last),
                _ => {
                    c.pos -= word.chars().count();
                    return Err(c.error("\"asc\", \"desc\", \"nullsfirst\" or \"nullslast\""));
                }
            }
        }
        out.push(term);
        if c.at_end() {
            return Ok(out);
        }
        c.expect(',')?;
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
