//! The JSON-to-Avro value parsers for numbers and logical types (dates, times, instants,
//! UUIDs, decimals), split from `avro.rs` by concern: the schema walk there, the text and
//! number forms here.

use serde_json::Value as Json;

use crate::error::FieldError;

use super::{describe, mismatch};

pub(super) fn int32(v: &Json) -> Result<i32, FieldError> {
    let n = v.as_i64().ok_or_else(|| mismatch("an int", v))?;
    i32::try_from(n).map_err(|_| FieldError::new(format!("{n} does not fit an int (32 bits)")))
}

pub(super) fn int64(v: &Json, what: &str) -> Result<i64, FieldError> {
    v.as_i64().ok_or_else(|| mismatch(what, v))
}

/// The key of `{"$volley_nonfinite": "NaN" | "Infinity" | "-Infinity"}`: how the Python
/// serializers pass a float JSON cannot spell. `$` is not allowed in an Avro name, so no
/// record field is called that; only a float or double takes it (the bare strings would
/// also fit a string field).
pub(super) const NONFINITE_KEY: &str = "$volley_nonfinite";

/// The value of a `{NONFINITE_KEY: ...}` object, if `v` is one.
pub(super) fn nonfinite(v: &Json) -> Option<f64> {
    let Json::Object(obj) = v else { return None };
    if obj.len() != 1 {
        return None;
    }
    match obj.get(NONFINITE_KEY)?.as_str()? {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

pub(super) fn float(v: &Json, what: &str) -> Result<f64, FieldError> {
    match v {
        Json::Object(_) => nonfinite(v).ok_or_else(|| mismatch(what, v)),
        Json::Number(n) => n.as_f64().ok_or_else(|| mismatch(what, v)),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(mismatch(what, v)),
        },
        _ => Err(mismatch(what, v)),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(super) fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (digits(it.next()?)?, digits(it.next()?)?, digits(it.next()?)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `HH:MM:SS[.fraction]` in units of 1/`per_second` seconds.
pub(super) fn parse_time(s: &str, per_second: i64) -> Option<i64> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut it = hms.splitn(3, ':');
    let (h, m, sec) = (digits(it.next()?)?, digits(it.next()?)?, digits(it.next()?)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut units = ((h * 60 + m) * 60 + sec) * per_second;
    if let Some(f) = frac {
        units += fraction(f, per_second)?;
    }
    Some(units)
}

/// A decimal fraction's digits in units of 1/`per_second`; more precision than that is an error.
pub(super) fn fraction(f: &str, per_second: i64) -> Option<i64> {
    let places = per_second.ilog10() as usize;
    if f.len() > places || digits(f).is_none() {
        return None;
    }
    let mut v = digits(f)?;
    for _ in f.len()..places {
        v *= 10;
    }
    Some(v)
}

/// An ISO-8601 date-time in units of 1/`per_second` since the epoch: `Z` or `±HH:MM` required
/// for instants, absent for local timestamps.
pub(super) fn parse_instant(s: &str, per_second: i64, local: bool) -> Option<i64> {
    let (date, rest) = s.split_once(['T', ' '])?;
    let days = parse_date(date)?;
    let (time, offset_secs) = if local {
        (rest, 0)
    } else if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        (t, 0)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let (oh, om) = (digits(oh)?, digits(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        (t, sign * (oh * 3600 + om * 60))
    };
    let in_day = parse_time(time, per_second)?;
    Some((days * 86_400 - offset_secs) * per_second + in_day)
}

pub(super) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair.get(1).copied()? as char).to_digit(16)?;
        *out.get_mut(i)? = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// A decimal (JSON string or number) as its unscaled integer at `scale`, checked against
/// `precision`.
pub(super) fn decimal_unscaled(v: &Json, precision: usize, scale: usize) -> Result<i128, FieldError> {
    let text = match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        _ => return Err(mismatch("a decimal (string or number)", v)),
    };
    let bad = || mismatch("a decimal such as \"12.34\"", v);
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > scale {
        return Err(FieldError::new(format!(
            "{} has {} decimal places, but the schema's scale is {scale}",
            describe(v),
            frac_trimmed.len()
        )));
    }
    let mut digits_all = String::with_capacity(int_part.len() + scale);
    digits_all.push_str(int_part.trim_start_matches('0'));
    digits_all.push_str(frac_trimmed);
    for _ in frac_trimmed.len()..scale {
        digits_all.push('0');
    }
    let significant = digits_all.trim_start_matches('0');
    if significant.len() > precision {
        return Err(FieldError::new(format!(
            "{} needs {} digits, but the schema's precision is {precision}",
            describe(v),
            significant.len()
        )));
    }
    if significant.len() > 38 {
        return Err(FieldError::new("decimals of more than 38 digits are not supported yet"));
    }
    let mut n: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| bad())?
    };
    if neg {
        n = -n;
    }
    Ok(n)
}

/// Big-endian two's complement, minimal length, or sign-extended to `size` bytes.
pub(super) fn twos_complement(n: i128, size: Option<usize>) -> Result<Vec<u8>, FieldError> {
    let full = n.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (full[start], full[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    let minimal = &full[start..];
    match size {
        None => Ok(minimal.to_vec()),
        Some(size) if minimal.len() <= size => {
            let fill = if n < 0 { 0xFF } else { 0 };
            let mut v = vec![fill; size - minimal.len()];
            v.extend_from_slice(minimal);
            Ok(v)
        }
        Some(size) => Err(FieldError::new(format!("the decimal does not fit in {size} bytes"))),
    }
}
