//! Row ranges: `limit`/`offset` parameters, the `Range`/`Range-Unit` request headers, the
//! `max_rows` cap, and the `Content-Range` response header with its 200/206/416 rules.

use http::{HeaderMap, StatusCode};

use crate::error::RestError;

/// The rows asked for: `offset` and an optional `limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowRange {
    /// First row (0-based).
    pub offset: i64,
    /// How many rows at most.
    pub limit: Option<i64>,
}

impl RowRange {
    /// Intersects with another range (e.g. query params with the Range header).
    pub fn restrict(self, other: RowRange) -> RowRange {
        let offset = self.offset.max(other.offset);
        let end = |r: RowRange| r.limit.map(|l| r.offset.saturating_add(l));
        let limit = match (end(self), end(other)) {
            (Some(a), Some(b)) => Some((a.min(b) - offset).max(0)),
            (Some(a), None) | (None, Some(a)) => Some((a - offset).max(0)),
            (None, None) => None,
        };
        RowRange { offset, limit }
    }

    /// Applies the `max_rows` cap.
    pub fn cap(self, max_rows: Option<i64>) -> RowRange {
        match max_rows {
            Some(m) => RowRange {
                offset: self.offset,
                limit: Some(self.limit.map_or(m, |l| l.min(m))),
            },
            None => self,
        }
    }
}

/// Parses `limit=`: `None` when the value is not an integer: PostgREST ignores it.
pub fn parse_limit(v: &str) -> Result<Option<i64>, RestError> {
    let Ok(n) = v.trim().parse::<i64>() else {
        return Ok(None);
    };
    if n < 0 {
        return Err(RestError::InvalidRange(
            "Limit should be greater than or equal to zero.".into(),
        ));
    }
    Ok(Some(n))
}

/// Parses `offset=`: `None` when the value is not an integer (ignored, as in PostgREST); a
/// negative offset is no offset.
pub fn parse_offset(v: &str) -> Option<i64> {
    v.trim().parse::<i64>().ok().map(|n| n.max(0))
}

/// Reads a `Range: a-b` / `a-` header (with `Range-Unit: items` or none); other units and
/// unparsable values are ignored, as PostgREST does.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<RowRange>, RestError> {
    if let Some(unit) = headers.get("range-unit").and_then(|v| v.to_str().ok())
        && !unit.eq_ignore_ascii_case("items")
    {
        return Ok(None);
    }
    let Some(v) = headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let v = v.trim().strip_prefix("items=").unwrap_or(v.trim());
    let Some((a, b)) = v.split_once('-') else {
        return Ok(None);
    };
    let Ok(from) = a.trim().parse::<i64>() else {
        return Ok(None);
    };
    if b.trim().is_empty() {
        return Ok(Some(RowRange {
            offset: from,
            limit: None,
        }));
    }
    let Ok(to) = b.trim().parse::<i64>() else {
        return Ok(None);
    };
    if to < from {
        return Err(RestError::InvalidRange(
            "The lower boundary must be lower than or equal to the upper boundary in the Range header."
                .into(),
        ));
    }
    Ok(Some(RowRange {
        offset: from,
        // `0-9223372036854775807` is every row, not an overflow.
        limit: Some(to.saturating_sub(from).saturating_add(1)),
    }))
}

/// `Content-Range` value and status for a read of `rows` rows at `offset` out of `total`.
pub fn content_range(
    offset: i64,
    rows: i64,
    total: Option<i64>,
) -> Result<(String, StatusCode), RestError> {
    let total_s = total.map_or("*".to_string(), |t| t.to_string());
    if let Some(t) = total
        && offset > t
    {
        return Err(RestError::OffsetOutOfRange { offset, total: t });
    }
    let range = if rows == 0 || total == Some(0) {
        format!("*/{total_s}")
    } else {
        format!("{}-{}/{total_s}", offset, offset.saturating_add(rows - 1))
    };
    let status = match total {
        Some(t) if rows < t => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    Ok((range, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use rstest::rstest;

    #[rstest]
    #[case(0, 10, None, "0-9/*", 200)]
    #[case(0, 10, Some(120), "0-9/120", 206)]
    #[case(0, 0, Some(0), "*/0", 200)]
    #[case(0, 0, None, "*/*", 200)]
    #[case(0, 5, Some(5), "0-4/5", 200)]
    #[case(110, 10, Some(120), "110-119/120", 206)]
    fn content_range_cases(
        #[case] offset: i64,
        #[case] rows: i64,
        #[case] total: Option<i64>,
        #[case] range: &str,
        #[case] status: u16,
    ) {
        let (r, s) = content_range(offset, rows, total).expect("satisfiable");
        assert_eq!(r, range);
        assert_eq!(s.as_u16(), status);
    }

    #[test]
    fn offset_beyond_total_is_416() {
        let e = content_range(200, 0, Some(120)).expect_err("416");
        assert_eq!(e.status().as_u16(), 416);
        assert_eq!(
            e.details(),
            serde_json::json!("An offset of 200 was requested, but there are only 120 rows.")
        );
    }

    #[test]
    fn range_header_forms() {
        let mut h = HeaderMap::new();
        h.insert("range", HeaderValue::from_static("10-19"));
        assert_eq!(
            from_headers(&h).expect("ok"),
            Some(RowRange {
                offset: 10,
                limit: Some(10)
            })
        );
        h.insert("range", HeaderValue::from_static("5-"));
        assert_eq!(
            from_headers(&h).expect("ok"),
            Some(RowRange {
                offset: 5,
                limit: None
            })
        );
        h.insert("range", HeaderValue::from_static("9-3"));
        assert_eq!(from_headers(&h).expect_err("bad").code(), "PGRST103");
    }

    #[test]
    fn restrict_and_cap() {
        let q = RowRange {
            offset: 2,
            limit: Some(10),
        };
        let h = RowRange {
            offset: 0,
            limit: Some(5),
        };
        assert_eq!(
            q.restrict(h),
            RowRange {
                offset: 2,
                limit: Some(3)
            }
        );
        assert_eq!(RowRange::default().cap(Some(100)).limit, Some(100));
        assert_eq!(parse_limit("-1").expect_err("neg").status().as_u16(), 416);
    }

    #[test]
    fn the_largest_ranges_do_not_overflow() {
        let mut h = HeaderMap::new();
        h.insert("range", HeaderValue::from_static("0-9223372036854775807"));
        let all = from_headers(&h).expect("range").expect("some");
        assert_eq!(all.limit, Some(i64::MAX));
        let q = RowRange {
            offset: 5,
            limit: Some(i64::MAX),
        };
        assert_eq!(
            q.restrict(all),
            RowRange {
                offset: 5,
                limit: Some(i64::MAX - 5)
            }
        );
        h.insert("range", HeaderValue::from_static("-9223372036854775807-0"));
        assert_eq!(from_headers(&h).expect("ignored"), None);
    }
}
