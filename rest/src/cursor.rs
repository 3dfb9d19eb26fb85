//! A character cursor shared by the query-string grammars (select, filter, order, logic).
//!
//! Provides PostgREST's lexical rules: field names (quoted or `ident(-ident)*`), JSON paths,
//! and position-aware error construction. It must not know what the names mean.

use crate::error::RestError;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonStep {
    /// `->key` / `->0`.
    Arrow(JsonKey),
    /// `->>key` / `->>0`.
    DoubleArrow(JsonKey),
}

/// A JSON path key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonKey {
    /// Object key.
    Key(String),
    /// Array index (may be negative).
    Index(i64),
}

/// A column reference with an optional JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// JSON path steps.
    pub json_path: Vec<JsonStep>,
}

impl Field {
    /// The key this field gets in JSON output: the path's last key, or, when the path ends in
    /// an array index, the last object key before it or else the column name (PostgREST's).
    pub fn output_name(&self) -> String {
        match self.json_path.last() {
            None => self.name.clone(),
            Some(JsonStep::Arrow(JsonKey::Key(k)) | JsonStep::DoubleArrow(JsonKey::Key(k))) => {
                k.clone()
            }
            Some(_) => {
                self.json_path
                    .iter()
                    .rev()
                    .find_map(|step| match step {
                        JsonStep::Arrow(JsonKey::Key(k))
                        | JsonStep::DoubleArrow(JsonKey::Key(k)) => Some(k.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| self.name.clone())
            }
        }
    }
}

/// How many levels of `(…)` may nest inside one parameter (embeds in `select`, `and`/`or`
/// within a logic tree):
/// far more than any real query needs, and far less than would exhaust a worker's stack in the
/// recursive parsing, planning and rendering of the tree.
pub const MAX_NESTING: usize = 64;

/// Cursor over the characters of one parameter.
pub struct Cursor<'a> {
    chars: Vec<char>,
    /// Current position (in chars).
    pub pos: usize,
    what: &'a str,
    source: &'a str,
    offset: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    /// Starts at the beginning of `source`; `what` names the parameter in errors (`select`, `filter`…).
    pub fn new(what: &'a str, source: &'a str) -> Self {
        Cursor {
            chars: source.chars().collect(),
            pos: 0,
            what,
            source,
            offset: 0,
            depth: 0,
        }
    }

    /// Runs `inner` one level of `(…)` deeper; past [`MAX_NESTING`] levels that is a PGRST100
    /// error instead of a stack overflow.
    pub fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, RestError>,
    ) -> Result<T, RestError> {
        // The parameter's own level is not nesting.
        if self.depth > MAX_NESTING {
            return Err(RestError::parse_at(
                format!("{} ({})", self.what, self.source),
                self.pos + 1 + self.offset,
                format!("more than {MAX_NESTING} levels of nesting"),
            ));
        }
        self.depth += 1;
        let out = inner(self);
        self.depth -= 1;
        out
    }

    /// Like [`Cursor::new`], with error columns shifted by `offset`: PostgREST parses a logic
    /// tree as `or(…)`, so its columns count the operator in front of the value.
    pub fn with_offset(what: &'a str, source: &'a str, offset: usize) -> Self {
        Cursor {
            offset,
            ..Cursor::new(what, source)
        }
    }

    /// The next character.
    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// The character `n` ahead.
    pub fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    /// Whether the input is consumed.
    pub fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Consumes and returns the next character.
    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Consumes `s` if it comes next.
    pub fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.rest_starts_with(s) {
            self.pos += n;
            true
        } else {
            false
        }
    }

    /// Whether the remaining input starts with `s`.
    pub fn rest_starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    /// The remaining input.
    pub fn rest(&self) -> String {
        self.chars[self.pos.min(self.chars.len())..]
            .iter()
            .collect()
    }

    /// A PGRST100 error at the current position.
    pub fn error(&self, expecting: &str) -> RestError {
        let unexpected = match self.peek() {
            Some(c) => format!("\"{c}\""),
            None => "end of input".to_string(),
        };
        self.error_with(&unexpected, expecting)
    }

    /// A parse error here, naming what was found (`"x"`, `'x'`, `end of input`) as given.
    pub fn error_with(&self, unexpected: &str, expecting: &str) -> RestError {
        RestError::parse_at(
            format!("{} ({})", self.what, self.source),
            self.pos + 1 + self.offset,
            format!("unexpected {unexpected} expecting {expecting}"),
        )
    }

    /// Consumes `c` or fails.
    pub fn expect(&mut self, c: char) -> Result<(), RestError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("\"{c}\"")))
        }
    }

    /// A double-quoted string with `\"` and `\\` escapes; the cursor is on the opening quote.
    pub fn quoted(&mut self) -> Result<String, RestError> {
        self.expect('"')?;
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("closing quote")),
                Some('\\') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(self.error("escaped character")),
                },
                Some('"') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// A field name: `"quoted"` or identifier characters joined by single dashes (not `->`).
    pub fn name(&mut self) -> Result<String, RestError> {
        if self.peek() == Some('"') {
            return self.quoted();
        }
        let mut s = String::new();
        loop {
            match self.peek() {
                Some(c) if is_ident_char(c) => {
                    s.push(c);
                    self.pos += 1;
                }
                Some('-')
                    if !s.is_empty()
                        && self.peek_at(1).is_some_and(is_ident_char)
                        && self.peek_at(1) != Some('>') =>
                {
                    s.push('-');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(self.error("field name (* or [a..z0..9_$])"));
        }
        Ok(trimmed.to_string())
    }

    /// A field: name followed by `->`/`->>` steps.
    pub fn field(&mut self) -> Result<Field, RestError> {
        let name = self.name()?;
        let json_path = self.json_path()?;
        Ok(Field { name, json_path })
    }

    /// Zero or more `->`/`->>` steps.
    pub fn json_path(&mut self) -> Result<Vec<JsonStep>, RestError> {
        let mut path = Vec::new();
        loop {
            let double = if self.eat("->>") {
                true
            } else if self.eat("->") {
                false
            } else {
                break;
            };
            let key = self.json_key()?;
            path.push(if double {
                JsonStep::DoubleArrow(key)
            } else {
                JsonStep::Arrow(key)
            });
        }
        Ok(path)
    }

    fn json_key(&mut self) -> Result<JsonKey, RestError> {
        if self.peek() == Some('"') {
            return Ok(JsonKey::Key(self.quoted()?));
        }
        let start = self.pos;
        // Only a negative index starts with a dash: `-` and digits, up to the step's end.
        if self.peek() == Some('-') {
            self.pos += 1;
            let digits = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if self.pos == digits
                || (self.peek().is_some_and(|c| is_ident_char(c) || c == '-')
                    && !self.rest_starts_with("->"))
            {
                return Err(self.error("digit"));
            }
            let s: String = self.chars[start..self.pos].iter().collect();
            return s
                .parse::<i64>()
                .map(JsonKey::Index)
                .map_err(|_| self.error("digit"));
        }
        // A key is any text but PostgREST's reserved `(`, `)`, `:`, `.`, `,` and `>`, with `-`
        // only between parts (`->` starts the next step); spaces around it are dropped.
        let mut s = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| !matches!(c, '(' | ')' | ':' | '.' | ',' | '>'))
        {
            if c == '-' && self.peek_at(1) == Some('>') {
                break;
            }
            s.push(c);
            self.pos += 1;
        }
        let s = s.trim().to_string();
        if s.is_empty() {
            // PostgREST's expectation: an index (`-`, digits) or a key.
            return Err(
                self.error("\"-\", digit or any non reserved character different from: .,>()")
            );
        }
        Ok(match s.parse::<i64>() {
            Ok(i) => JsonKey::Index(i),
            Err(_) => JsonKey::Key(s),
        })
    }

    /// Characters up to (not including) any of `stops`, or the end.
    pub fn until(&mut self, stops: &[char]) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| !stops.contains(c)) {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    /// Skips whitespace.
    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
}

/// Characters PostgREST accepts unquoted in names.
pub fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == ' '
}
