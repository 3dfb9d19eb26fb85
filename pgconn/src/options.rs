//! Taking libpq's TLS options out of a connection string, in either of libpq's forms, so the
//! rest can go to `tokio-postgres` (which knows only `sslmode=disable|prefer|require` and
//! rejects the others).

use percent_encoding::percent_decode_str;

use crate::UrlError;

/// The options this crate handles itself.
pub(crate) const OURS: [&str; 7] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslsni",
    "sslcrl",
    "sslcrldir",
];

/// libpq's environment variables for [`OURS`], in the same order.
pub(crate) const ENV: [&str; 7] = [
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLSNI",
    "PGSSLCRL",
    "PGSSLCRLDIR",
];

/// The connection string without [`OURS`], and their values in order of appearance.
pub(crate) type Split = (String, Vec<(&'static str, String)>);

/// Splits `text` into [`Split`].
pub(crate) fn split(text: &str) -> Result<Split, UrlError> {
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        split_url(text)
    } else {
        split_key_value(text)
    }
}

fn ours(key: &str) -> Option<&'static str> {
    OURS.iter().copied().find(|k| *k == key)
}

/// `postgres://…?a=b&c=d`: the options are the query's pairs, percent-encoded.
fn split_url(text: &str) -> Result<Split, UrlError> {
    let Some((base, query)) = text.split_once('?') else {
        return Ok((text.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        match ours(&key) {
            Some(k) => taken.push((k, decode(value)?)),
            None => kept.push(pair),
        }
    }
    let rest = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((rest, taken))
}

fn decode(text: &str) -> Result<String, UrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UrlError::Invalid("a query parameter is not valid UTF-8".into()))
}

/// `host=h port=5432 sslrootcert='/a b/ca.pem'`: whitespace-separated `key = value` pairs,
/// a value either single-quoted or bare, `\` escaping the next character in both.
fn split_key_value(text: &str) -> Result<Split, UrlError> {
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            return Err(UrlError::Invalid(format!(
                "missing \"=\" after \"{key}\" in the connection string"
            )));
        };
        let (value, after) = value(after.trim_start())?;
        let pair = &start[..start.len() - after.len()];
        match ours(key) {
            Some(k) => taken.push((k, value)),
            None => kept.push(pair),
        }
        rest = after.trim_start();
    }
    Ok((kept.join(" "), taken))
}

/// One value at the start of `text`, and what follows it.
fn value(text: &str) -> Result<(String, &str), UrlError> {
    let mut out = String::new();
    let quoted = text.starts_with('\'');
    let mut chars = text.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, next)) => out.push(next),
                None => break,
            },
            '\'' if quoted => return Ok((out, &text[i + 1..])),
            c if c.is_whitespace() && !quoted => return Ok((out, &text[i..])),
            c => out.push(c),
        }
    }
    match quoted {
        true => Err(UrlError::Invalid(
            "unterminated quoted value in the connection string".into(),
        )),
        false => Ok((out, "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(text: &str) -> Split {
        split(text).expect("splits")
    }

    #[test]
    fn url_options_are_taken_out_and_decoded() {
        let (rest, ours) = taken(
            "postgres://u:p%40ss@db.example.com:6543/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca%20b.pem",
        );
        assert_eq!(
            rest,
            "postgres://u:p%40ss@db.example.com:6543/app?application_name=x"
        );
        assert_eq!(
            ours,
            vec![
                ("sslmode", "verify-full".to_owned()),
                ("sslrootcert", "/etc/ca b.pem".to_owned())
            ]
        );
        let (rest, ours) = taken("postgresql://h/db?sslmode=require");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(ours, vec![("sslmode", "require".to_owned())]);
        let (rest, ours) = taken("postgresql://h/db");
        assert_eq!((rest.as_str(), ours.len()), ("postgresql://h/db", 0));
    }

    #[test]
    fn key_value_options_are_taken_out_with_quotes_and_escapes() {
        let (rest, ours) = taken(
            "host=localhost  sslmode = verify-ca password='it\\'s' sslrootcert='/tmp/a b\\'c.pem' sslkey=/k\\ x dbname=app",
        );
        // The others are passed on as written.
        assert_eq!(rest, "host=localhost password='it\\'s' dbname=app");
        assert_eq!(
            ours,
            vec![
                ("sslmode", "verify-ca".to_owned()),
                ("sslrootcert", "/tmp/a b'c.pem".to_owned()),
                ("sslkey", "/k x".to_owned()),
            ]
        );
    }

    #[test]
    fn malformed_key_value_strings_are_refused() {
        for bad in ["host", "host=a sslmode", "sslrootcert='/never/closed"] {
            let err = split(bad).expect_err(bad);
            assert!(matches!(err, UrlError::Invalid(_)), "{bad}: {err}");
        }
        assert!(split("postgres://h/db?sslrootcert=%FF").is_err());
    }
}
