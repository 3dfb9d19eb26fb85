//! Input checks with GoTrue's errors: email addresses, phone numbers (E.164, stored without
//! `+`) and `redirect_to` targets against the site URL and the allow-list. Pure functions.

use super::error::{AuthError, AuthResult};

/// A normalised email address (trimmed, lower-case), or GoTrue's `validation_failed`.
pub fn email(raw: &str) -> AuthResult<String> {
    let e = raw.trim().to_lowercase();
    let bad = || AuthError::validation("Unable to validate email address: invalid format");
    if e.is_empty() || e.len() > 255 {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(e)
    } else {
        Err(bad())
    }
}

/// A phone number as GoTrue stores it: digits only, no `+`, 5 to 15 digits, not starting with 0.
pub fn phone(raw: &str) -> AuthResult<String> {
    let digits: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+'))
        .collect();
    let ok = (5..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(digits)
    } else {
        Err(AuthError::validation(
            "Invalid phone number format (E.164 required)",
        ))
    }
}

/// Matches `url` against a pattern with `*` (within a path segment or host label) and `**`
/// (anything), as GoTrue's allow-list globs.
pub fn glob_match(pattern: &str, url: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => (0..=s.len()).any(|i| go(&p[2..], &s[i..])),
            Some(b'*') => {
                let mut i = 0;
                loop {
                    if go(&p[1..], &s[i..]) {
                        return true;
                    }
                    if i >= s.len() || s[i] == b'/' || s[i] == b'.' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), url.as_bytes())
}

/// Where a flow may send the user: `redirect_to` when it is the site URL (or below it) or
/// matches the allow-list, else the site URL — as GoTrue does, never an error.
pub fn redirect(site_url: &str, allow: &[String], requested: Option<&str>) -> String {
    let Some(r) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return site_url.to_owned();
    };
    let origin = |u: &str| -> Option<String> {
        let (scheme, rest) = u.split_once("://")?;
        let host = rest.split(['/', '?', '#']).next()?;
        Some(format!("{scheme}://{host}"))
    };
    let same_site = origin(r).is_some() && origin(r) == origin(site_url);
    let allowed = allow
        .iter()
        .any(|p| glob_match(p, r) || (!p.contains('*') && r.starts_with(p.trim_end_matches('/'))));
    if same_site || allowed {
        r.to_owned()
    } else {
        site_url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email(" Alice@Example.COM ").expect("ok"),
            "alice@example.com"
        );
        for bad in [
            "",
            "plain",
            "@x.com",
            "a@",
            "a@b",
            "a b@c.de",
            "a@-b.com",
            "a..b@c.de",
            "a@b..c",
            "<script>@x.io",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email(&format!("{}@x.io", "a".repeat(300))).is_err());
    }

    #[test]
    fn phones() {
        assert_eq!(phone("+1 (555) 123-4567").expect("ok"), "15551234567");
        for bad in ["", "+", "12", "abc12345", "0123456789", "+1234567890123456"] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_follow_site_url_and_allow_list() {
        let site = "http://localhost:3000";
        let allow = vec![
            "https://*.example.com/**".to_owned(),
            "myapp://callback".to_owned(),
        ];
        let r = |u: &str| redirect(site, &allow, Some(u));
        assert_eq!(
            r("http://localhost:3000/welcome"),
            "http://localhost:3000/welcome"
        );
        assert_eq!(
            r("https://app.example.com/a/b"),
            "https://app.example.com/a/b"
        );
        assert_eq!(r("myapp://callback?x=1"), "myapp://callback?x=1");
        assert_eq!(r("https://evil.test/"), site);
        assert_eq!(r("https://a.b.example.com/"), site);
        assert_eq!(redirect(site, &allow, None), site);
        assert!(glob_match("http://x.test/*", "http://x.test/abc"));
        assert!(!glob_match("http://x.test/*", "http://x.test/a/b"));
    }
}
