//! What `volley produce` takes from a JSON record besides its key: `--timestamp-path`
//! (epoch milliseconds or an ISO-8601 / RFC 3339 date) and `--header-path NAME=POINTER`.

use bytes::Bytes;
use volley::Header;

use super::json_key;

/// The pointers of `--timestamp-path` and `--header-path`, parsed once.
#[derive(Debug, Default)]
pub(super) struct Fields {
    timestamp: Option<Vec<String>>,
    headers: Vec<(String, Vec<String>)>,
}

impl Fields {
    /// Parses the flags' pointers.
    pub(super) fn parse(timestamp: Option<&str>, headers: &[String]) -> Result<Self, String> {
        let timestamp = timestamp
            .map(|p| json_key::parse_pointer(p).map_err(|e| format!("--timestamp-path: {e}")))
            .transpose()?;
        let mut hs = Vec::new();
        for h in headers {
            let Some((name, pointer)) = h.split_once('=') else {
                return Err(format!("invalid --header-path '{h}': expected NAME=POINTER"));
            };
            let tokens = json_key::parse_pointer(pointer).map_err(|e| format!("--header-path {name}: {e}"))?;
            hs.push((name.to_owned(), tokens));
        }
        Ok(Self { timestamp, headers: hs })
    }

    /// Whether any field is asked for.
    pub(super) fn any(&self) -> bool {
        self.timestamp.is_some() || !self.headers.is_empty()
    }

    /// The record's timestamp and extra headers, from the JSON `value`. A member that is
    /// missing or null gives no timestamp (the producer's clock) and no header.
    pub(super) fn extract(&self, value: &[u8]) -> Result<(Option<i64>, Vec<Header>), String> {
        let timestamp = match &self.timestamp {
            None => None,
            Some(tokens) => json_key::key_at(value, tokens)?
                .map(|(bytes, text)| timestamp_of(&bytes, text))
                .transpose()?,
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, tokens) in &self.headers {
            if let Some((bytes, _)) = json_key::key_at(value, tokens)? {
                headers.push(Header::new(name.as_str(), Bytes::copy_from_slice(&bytes)));
            }
        }
        Ok((timestamp, headers))
    }
}

/// A timestamp member: a JSON integer (epoch milliseconds) or a string holding digits
/// (milliseconds) or an ISO-8601 date-time.
fn timestamp_of(bytes: &[u8], text: &str) -> Result<i64, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "the timestamp is not text".to_owned())?;
    if !text.starts_with('"') || s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().filter(|ms| *ms >= 0).ok_or_else(|| {
            format!("timestamp {text} is not epoch milliseconds (a non-negative integer) or an ISO-8601 string")
        });
    }
    parse_iso8601(s).ok_or_else(|| {
        format!("timestamp {text} is not ISO-8601 (2026-12-05T22:22:15.123Z, +01:00 offsets) or epoch milliseconds")
    })
}

/// An ISO-8601 date or date-time in epoch milliseconds, `None` if malformed or before 1970.
/// The Avro mapping's parser reads it after two relaxations common producers of JSON need:
/// a time without seconds (`22:22Z`) and a fraction finer than a millisecond (Python's
/// `isoformat()`, Java's `Instant`, Go's `RFC3339Nano`), truncated to the millisecond.
pub(super) fn parse_iso8601(s: &str) -> Option<i64> {
    let mut t = String::with_capacity(s.len() + 3);
    let b = s.as_bytes();
    let no_seconds = b.len() >= 16
        && s.is_char_boundary(16)
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b.get(16) != Some(&b':');
    if no_seconds {
        t.push_str(&s[..16]);
        t.push_str(":00");
        t.push_str(&s[16..]);
    } else {
        t.push_str(s);
    }
    if let Some(dot) = t.find('.') {
        let digits = t[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 3 {
            t.replace_range(dot + 4..dot + 1 + digits, "");
        }
    }
    volley_schema::iso8601_millis(&t).filter(|ms| *ms >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("1970-01-01"), Some(0));
        assert_eq!(parse_iso8601("2026-12-05T22:22:15.123Z"), Some(1_796_509_335_123));
        assert_eq!(parse_iso8601("2026-12-05T23:22:15.123+01:00"), Some(1_796_509_335_123));
        assert_eq!(parse_iso8601("2026-12-05 22:22:15"), Some(1_796_509_335_000));
        assert_eq!(parse_iso8601("2026-12-05T17:22:15-05:00"), Some(1_796_509_335_000));
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        // Finer than a millisecond is truncated; seconds may be left out.
        assert_eq!(
            parse_iso8601("2026-12-05T22:22:15.123456+00:00"),
            Some(1_796_509_335_123)
        );
        assert_eq!(parse_iso8601("2026-12-05T22:22:15.123456789Z"), Some(1_796_509_335_123));
        assert_eq!(parse_iso8601("2026-12-05T22:22Z"), Some(1_796_509_320_000));
        assert_eq!(parse_iso8601("2026-12-05T22:22"), Some(1_796_509_320_000));
        assert_eq!(parse_iso8601("2026-12-05T22:2\u{e9}Z"), None);
        assert_eq!(parse_iso8601("2026-12-05T23:22+01:00"), Some(1_796_509_320_000));
        for bad in [
            "2026-13-01",
            "2026-12-05T25:00:00Z",
            "2026-12-05T22:22:15Zx",
            "yesterday",
            "1969-12-31T23:59:59Z",
            "2026-12-05T22:22:15.",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_and_headers_from_json() {
        let f = Fields::parse(Some("/ts"), &["user=/meta/user".to_owned(), "n=/n".to_owned()]).unwrap();
        let (ts, hs) = f
            .extract(br#"{"ts": 1700000000000, "meta": {"user": "al\u00e9"}, "n": 1.50}"#)
            .unwrap();
        assert_eq!(ts, Some(1_700_000_000_000));
        assert_eq!(hs.len(), 2);
        assert_eq!(hs[0].value.as_deref(), Some("alé".as_bytes()));
        assert_eq!(hs[1].value.as_deref(), Some(&b"1.50"[..]));
        let (ts, hs) = f.extract(br#"{"ts": "1970-01-01T00:00:01Z"}"#).unwrap();
        assert_eq!((ts, hs.len()), (Some(1000), 0));
        let (ts, _) = f.extract(br#"{"ts": "42"}"#).unwrap();
        assert_eq!(ts, Some(42));
        let (ts, _) = f.extract(br#"{"ts": null}"#).unwrap();
        assert_eq!(ts, None);
        assert!(f.extract(br#"{"ts": -5}"#).unwrap_err().contains("epoch milliseconds"));
        assert!(f.extract(br#"{"ts": "soon"}"#).unwrap_err().contains("ISO-8601"));
        assert!(f.extract(b"not json").is_err());
        assert!(Fields::parse(None, &["nopointer".to_owned()]).is_err());
    }
}
