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

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH[:]MM]` to epoch milliseconds; a date-time
/// without an offset is UTC. `None` if malformed or before 1970.
pub(super) fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    let mut i = 10;
    if i < b.len() {
        if !matches!(b[i], b'T' | b't' | b' ') {
            return None;
        }
        let (h, mi) = (num(i + 1, 2)?, num(i + 4, 2)?);
        if b.get(i + 3) != Some(&b':') || h > 23 || mi > 59 {
            return None;
        }
        ms += (h * 3600 + mi * 60) * 1000;
        i += 6;
        if b.get(i) == Some(&b':') {
            let sec = num(i + 1, 2)?;
            if sec > 60 {
                return None;
            }
            ms += sec * 1000;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let frac = &s[start..end.min(start + 3)];
                let scale = [100, 10, 1];
                for (k, c) in frac.bytes().enumerate() {
                    ms += i64::from(c - b'0') * scale[k];
                }
                i = end;
            }
        }
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') if i + 1 == b.len() => {}
            Some(sign @ (b'+' | b'-')) => {
                let oh = num(i + 1, 2)?;
                let om = match b.get(i + 3) {
                    Some(b':') => num(i + 4, 2)?,
                    Some(_) => num(i + 3, 2)?,
                    None => 0,
                };
                let end = i
                    + 3
                    + match b.get(i + 3) {
                        Some(b':') => 3,
                        Some(_) => 2,
                        None => 0,
                    };
                if end != b.len() || oh > 23 || om > 59 {
                    return None;
                }
                let offset = (oh * 60 + om) * 60_000;
                ms += if *sign == b'+' { -offset } else { offset };
            }
            Some(_) => return None,
        }
    }
    (ms >= 0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("1970-01-01"), Some(0));
        assert_eq!(parse_iso8601("2026-12-05T22:22:15.123Z"), Some(1_796_509_335_123));
        assert_eq!(parse_iso8601("2026-12-05T23:22:15.1239+01:00"), Some(1_796_509_335_123));
        assert_eq!(parse_iso8601("2026-12-05 22:22:15"), Some(1_796_509_335_000));
        assert_eq!(parse_iso8601("2026-12-05T17:22:15-0500"), Some(1_796_509_335_000));
        assert_eq!(parse_iso8601("2000-02-29T00:00Z"), Some(951_782_400_000));
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
