//! Horizontal filters: `col=[not.]op[(any|all)].value` and the `or=(…)`/`and=(…)` logic trees.
//!
//! Parses PostgREST's operator grammar, including its quoting rules for list values
//! (`in.(1,"a,b")`, `\"` and `\\` escapes) and full-text-search languages. Values stay
//! strings: they are bound as parameters later, never spliced into SQL.

use crate::cursor::{Cursor, Field};
use crate::error::RestError;

/// Binary operators taking one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq` `=`.
    Eq,
    /// `neq` `<>`.
    Neq,
    /// `gt` `>`.
    Gt,
    /// `gte` `>=`.
    Gte,
    /// `lt` `<`.
    Lt,
    /// `lte` `<=`.
    Lte,
    /// `like` (`*` means `%`).
    Like,
    /// `ilike`.
    Ilike,
    /// `match` `~`.
    Match,
    /// `imatch` `~*`.
    Imatch,
    /// `isdistinct`.
    IsDistinct,
    /// `cs` `@>`.
    Contains,
    /// `cd` `<@`.
    ContainedIn,
    /// `ov` `&&`.
    Overlap,
    /// `sl` `<<`.
    StrictlyLeft,
    /// `sr` `>>`.
    StrictlyRight,
    /// `nxr` `&<`.
    NotExtendRight,
    /// `nxl` `&>`.
    NotExtendLeft,
    /// `adj` `-|-`.
    Adjacent,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "like" => Op::Like,
            "ilike" => Op::Ilike,
            "match" => Op::Match,
            "imatch" => Op::Imatch,
            "isdistinct" => Op::IsDistinct,
            "cs" => Op::Contains,
            "cd" => Op::ContainedIn,
            "ov" => Op::Overlap,
            "sl" => Op::StrictlyLeft,
            "sr" => Op::StrictlyRight,
            "nxr" => Op::NotExtendRight,
            "nxl" => Op::NotExtendLeft,
            "adj" => Op::Adjacent,
            _ => return None,
        })
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "<>",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Like => "LIKE",
            Op::Ilike => "ILIKE",
            Op::Match => "~",
            Op::Imatch => "~*",
            Op::IsDistinct => "IS DISTINCT FROM",
            Op::Contains => "@>",
            Op::ContainedIn => "<@",
            Op::Overlap => "&&",
            Op::StrictlyLeft => "<<",
            Op::StrictlyRight => ">>",
            Op::NotExtendRight => "&<",
            Op::NotExtendLeft => "&>",
            Op::Adjacent => "-|-",
        }
    }

    fn quantifiable(self) -> bool {
        matches!(
            self,
            Op::Eq
                | Op::Gt
                | Op::Gte
                | Op::Lt
                | Op::Lte
                | Op::Like
                | Op::Ilike
                | Op::Match
                | Op::Imatch
        )
    }
}

/// `any` / `all` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `(any)`.
    Any,
    /// `(all)`.
    All,
}

/// Right-hand side of `is`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    /// `null`.
    Null,
    /// `not_null`.
    NotNull,
    /// `true`.
    True,
    /// `false`.
    False,
    /// `unknown`.
    Unknown,
}

/// Full-text search flavours.
#[allow(clippy::enum_variant_names)] // `Fts::Fts` is PostgREST's own `fts` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fts {
    /// `fts` → `to_tsquery`.
    Fts,
    /// `plfts` → `plainto_tsquery`.
    Plain,
    /// `phfts` → `phraseto_tsquery`.
    Phrase,
    /// `wfts` → `websearch_to_tsquery`.
    Websearch,
}

impl Fts {
    /// The tsquery constructor.
    pub fn function(self) -> &'static str {
        match self {
            Fts::Fts => "to_tsquery",
            Fts::Plain => "plainto_tsquery",
            Fts::Phrase => "phraseto_tsquery",
            Fts::Websearch => "websearch_to_tsquery",
        }
    }
}

/// An operation applied to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// `op.value`, optionally quantified (`op(any).{a,b}`; the value is then an array literal).
    Binary(Op, Option<Quantifier>, String),
    /// `in.(a,b)`.
    In(Vec<String>),
    /// `is.x`.
    Is(IsValue),
    /// `fts(lang).query`.
    Fts(Fts, Option<String>, String),
}

/// A filter on one field, possibly under an embed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Embed path (`rel.sub.col` → `["rel","sub"]`).
    pub path: Vec<String>,
    /// Column and JSON path.
    pub field: Field,
    /// `not.`.
    pub negate: bool,
    /// The operation.
    pub op: Operation,
}

/// An `and`/`or` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicTree {
    /// `[not.]and(…)` / `[not.]or(…)`.
    Expr {
        /// `not.`.
        negate: bool,
        /// `and` (true) or `or`.
        and: bool,
        /// Children.
        children: Vec<LogicTree>,
    },
    /// A leaf filter; its `path` may name an embed (e.g. `rel.not.is.null`).
    Leaf(Filter),
}

/// Parses the value side of `col=value` (`[not.]op.value`).
pub fn parse_filter(path: Vec<String>, field: Field, value: &str) -> Result<Filter, RestError> {
    let source = value.to_string();
    let mut c = Cursor::new("filter", &source);
    let (negate, op) = operation(&mut c, false)?;
    Ok(Filter {
        path,
        field,
        negate,
        op,
    })
}

fn op_word(c: &mut Cursor) -> String {
    let mut s = String::new();
    while let Some(ch) = c.peek().filter(|ch| ch.is_ascii_alphabetic() || *ch == '_') {
        s.push(ch);
        c.pos += 1;
    }
    s
}

const EXPECTING_OP: &str = "\"not\" or operator (eq, gt, ...)";

/// `[not.]op[modifier].value`; in a logic tree the value stops at `,` or `)` unless quoted.
fn operation(c: &mut Cursor, in_tree: bool) -> Result<(bool, Operation), RestError> {
    let mut negate = false;
    let start = c.pos;
    let mut word = op_word(c);
    if word == "not" && c.peek() == Some('.') {
        c.pos += 1;
        negate = true;
        word = op_word(c);
    }
    let op = match word.as_str() {
        "in" => {
            c.expect('.')?;
            c.expect('(')?;
            let values = list_values(c)?;
            Operation::In(values)
        }
        "is" => {
            c.expect('.')?;
            let v = op_word(c);
            let is = match v.to_ascii_lowercase().as_str() {
                "null" => IsValue::Null,
                "not_null" => IsValue::NotNull,
                "true" => IsValue::True,
                "false" => IsValue::False,
                "unknown" => IsValue::Unknown,
                _ => return Err(c.error("null or trilean value (unknown, true, false)")),
            };
            Operation::Is(is)
        }
        "fts" | "plfts" | "phfts" | "wfts" => {
            let kind = match word.as_str() {
                "fts" => Fts::Fts,
                "plfts" => Fts::Plain,
                "phfts" => Fts::Phrase,
                _ => Fts::Websearch,
            };
            let lang = if c.eat("(") {
                let l = c.until(&[')']);
                c.expect(')')?;
                Some(l)
            } else {
                None
            };
            c.expect('.')?;
            Operation::Fts(kind, lang, value(c, in_tree)?)
        }
        w => {
            let Some(op) = Op::parse(w) else {
                c.pos = start;
                return Err(c.error(EXPECTING_OP));
            };
            let quant = if c.eat("(any)") {
                Some(Quantifier::Any)
            } else if c.eat("(all)") {
                Some(Quantifier::All)
            } else {
                None
            };
            if quant.is_some() && !op.quantifiable() {
                return Err(c.error("\".\""));
            }
            c.expect('.')?;
            Operation::Binary(op, quant, value(c, in_tree)?)
        }
    };
    if !in_tree && !c.at_end() {
        return Err(c.error("end of input"));
    }
    Ok((negate, op))
}

/// A value: the rest of the input, or in a logic tree a quoted string, a `{…}` literal, or
/// characters up to `,`/`)`.
fn value(c: &mut Cursor, in_tree: bool) -> Result<String, RestError> {
    if !in_tree {
        let v = c.rest();
        c.pos += v.chars().count();
        return Ok(v);
    }
    match c.peek() {
        Some('"') => c.quoted(),
        Some('{') => {
            let mut s = String::new();
            let mut depth = 0;
            while let Some(ch) = c.bump() {
                s.push(ch);
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(s);
                        }
                    }
                    _ => {}
                }
            }
            Err(c.error("\"}\""))
        }
        _ => {
            // Parentheses are allowed when balanced, e.g. `fts.(a|b)` or a range `[1,5)` is
            // not: ranges inside trees must be quoted, as in PostgREST.
            let mut s = String::new();
            let mut depth = 0;
            while let Some(ch) = c.peek() {
                match ch {
                    ',' if depth == 0 => break,
                    ')' if depth == 0 => break,
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                s.push(ch);
                c.pos += 1;
            }
            Ok(s)
        }
    }
}

/// The inside of `in.(…)`; the cursor is past `(` and ends past `)`. As PostgREST's, spaces
/// after `(` are skipped, and a quoted value counts as quoted only when a `,` or `)` follows
/// its closing quote (`in.(")` is the value `"`).
fn list_values(c: &mut Cursor) -> Result<Vec<String>, RestError> {
    let mut out = Vec::new();
    c.skip_ws();
    if c.eat(")") {
        return Ok(out);
    }
    loop {
        let start = c.pos;
        let quoted = if c.peek() == Some('"') {
            c.quoted()
                .ok()
                .filter(|_| matches!(c.peek(), Some(',' | ')')))
        } else {
            None
        };
        let v = match quoted {
            Some(v) => v,
            None => {
                c.pos = start;
                c.until(&[',', ')'])
            }
        };
        out.push(v);
        match c.bump() {
            Some(',') => continue,
            Some(')') => return Ok(out),
            _ => return Err(c.error("\",\" or \")\"")),
        }
    }
}

/// Parses the value of `or=`/`and=` (`(a.eq.1,b.gt.2)`), with `key_negate` from `not.or`.
pub fn parse_logic(path: Vec<String>, and: bool, value: &str) -> Result<LogicTree, RestError> {
    let source = value.to_string();
    let mut c = Cursor::with_offset("logic tree", &source, if and { 3 } else { 2 });
    let mut negate = false;
    if c.eat("not.") {
        negate = true;
    }
    // Unlike PostgREST, whose parser stops at the tree's closing parenthesis, anything after
    // it is refused: text appended to a filter is a mistake or an attack, and says so.
    let children = logic_children(&mut c, &path)?;
    if !c.at_end() {
        return Err(c.error("end of input"));
    }
    Ok(LogicTree::Expr {
        negate,
        and,
        children,
    })
}

fn logic_children(c: &mut Cursor, path: &[String]) -> Result<Vec<LogicTree>, RestError> {
    c.nested(|c| logic_children_here(c, path))
}

/// `( term , term … )`, with spaces allowed around the parentheses and commas, as PostgREST's.
fn logic_children_here(c: &mut Cursor, path: &[String]) -> Result<Vec<LogicTree>, RestError> {
    c.skip_ws();
    c.expect('(')?;
    let mut out = Vec::new();
    loop {
        out.push(logic_term(c, path)?);
        c.skip_ws();
        match c.bump() {
            Some(',') => continue,
            Some(')') => {
                c.skip_ws();
                return Ok(out);
            }
            _ => {
                c.pos = c.pos.saturating_sub(1);
                return Err(c.error("\",\" or \")\""));
            }
        }
    }
}

fn logic_term(c: &mut Cursor, path: &[String]) -> Result<LogicTree, RestError> {
    c.skip_ws();
    let start = c.pos;
    let negate = c.eat("not.");
    for (kw, and) in [("and", true), ("or", false)] {
        // The operator, then its group, maybe after spaces (`and (a.eq.1,b.eq.2)`).
        if c.rest_starts_with(kw) {
            let here = c.pos;
            c.pos += kw.len();
            c.skip_ws();
            let group = c.peek() == Some('(');
            c.pos = here;
            if !group {
                continue;
            }
            c.pos += kw.len();
            let children = logic_children(c, path)?;
            return Ok(LogicTree::Expr {
                negate,
                and,
                children,
            });
        }
    }
    c.pos = start;
    // `field.[not.]op.value`, as PostgREST's grammar has it: a leaf names one field of the
    // tree's own resource (an embed only for `embed.is.null`); `rel.col.eq.1` is a parse
    // error, and filters on an embed's columns go in `rel.or=(…)`.
    // Nothing of a term: PostgREST's grammar expects any of its three starts here.
    if !negate
        && !c
            .peek()
            .is_some_and(|ch| ch == '"' || crate::cursor::is_ident_char(ch))
    {
        return Err(c.error(
            "field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)",
        ));
    }
    let field = c.field()?;
    c.expect('.')?;
    let (negate, op) = operation(c, true)?;
    Ok(LogicTree::Leaf(Filter {
        path: path.to_vec(),
        field,
        negate,
        op,
    }))
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
