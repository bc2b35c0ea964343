//! Keys taken from JSON lines (`--key-field`, `--key-path`): a string is unescaped, any other
//! value is its JSON text exactly as written in the input (`1.50` stays `1.50`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::value::RawValue;

/// Splits an RFC 6901 JSON Pointer into its reference tokens (`~1` is `/`, `~0` is `~`).
///
/// # Errors
/// A pointer that is neither empty nor starts with `/`, or a `~` not followed by 0 or 1.
pub(super) fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| {
        format!("invalid --key-path '{pointer}': a JSON Pointer starts with '/' (e.g. /meta/user_id)")
    })?;
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(format!(
                                "invalid --key-path '{pointer}': '~' must be followed by 0 or 1"
                            ))
                        }
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

/// The pointer `--key-field NAME` stands for (one top-level member).
pub(super) fn field_pointer(name: &str) -> Vec<String> {
    vec![name.to_owned()]
}

/// A key found in a line: its bytes (borrowed unless unescaped) and its JSON text.
pub(super) type FoundKey<'a> = (Cow<'a, [u8]>, &'a str);

/// The key at `tokens` in the JSON object `line`: the key's bytes and its JSON text as written,
/// or `None` when the member is missing or `null`.
///
/// One pass over the line, which validates it whole, without building a tree or a map: each
/// step skips the members it does not want and borrows the one it does (issue 18: a map of
/// every member per line was most of `volley produce`'s own cost). A string key without
/// escapes is borrowed from the line; duplicate members resolve to the last, as before.
///
/// # Errors
/// The line is not JSON or not an object.
pub(super) fn key_at<'a>(line: &'a [u8], tokens: &[String]) -> Result<Option<FoundKey<'a>>, String> {
    // UTF-8 checked once for the whole line (a fast pass), so that the parser borrows
    // strings without checking each again.
    let text = std::str::from_utf8(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let first = Step {
        token: tokens.first().map(String::as_str),
        object_only: true,
    };
    let found = de.deserialize_any(first).map_err(|e| {
        // A line that is not an object may also not be JSON at all: say which.
        if e.classify() != Category::Data {
            return format!("not valid JSON: {e}");
        }
        match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => "not a JSON object (--key-field and --key-path need one)".to_owned(),
            Err(syntax) => format!("not valid JSON: {syntax}"),
        }
    })?;
    de.end().map_err(|e| format!("not valid JSON: {e}"))?;
    let mut cur = match (found, tokens.is_empty()) {
        (Found::Whole, _) => text.trim(),
        (Found::Member(v), false) => v.get(),
        (Found::Missing, _) | (Found::Member(_), true) => return Ok(None),
    };
    for token in &tokens[1.min(tokens.len())..] {
        let step = Step {
            token: Some(token),
            object_only: false,
        };
        let mut de = serde_json::Deserializer::from_str(cur);
        match de.deserialize_any(step).map_err(|e| e.to_string())? {
            Found::Member(v) => cur = v.get(),
            Found::Missing | Found::Whole => return Ok(None),
        }
    }
    if cur == "null" {
        return Ok(None);
    }
    let bytes = match cur.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner.as_bytes()),
        Some(_) => Cow::Owned(
            serde_json::from_str::<String>(cur)
                .map_err(|e| e.to_string())?
                .into_bytes(),
        ),
        None => Cow::Borrowed(cur.as_bytes()),
    };
    Ok(Some((bytes, cur)))
}

/// What one step of a pointer found.
enum Found<'de> {
    /// The member or element named.
    Member(&'de RawValue),
    /// Not there (or the value is neither an object nor an array).
    Missing,
    /// No token: the whole value (an object) is the key.
    Whole,
}

/// One step of a pointer: the member `token` of an object, or the element it indexes in an
/// array (RFC 6901: "0" or digits without a leading zero). Other members are skipped.
struct Step<'t> {
    token: Option<&'t str>,
    /// The line itself must be an object; values inside may be arrays or scalars.
    object_only: bool,
}

/// A member name, borrowed from the input when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for Step<'_> {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.object_only {
            "a JSON object"
        } else {
            "a JSON value"
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let Some(token) = self.token else {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Found::Whole);
        };
        let mut found = Found::Missing;
        while let Some(Name(name)) = m.next_key::<Name<'de>>()? {
            if name == token {
                found = Found::Member(m.next_value::<&'de RawValue>()?);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        if self.object_only {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let index = self
            .token
            .filter(|t| *t == "0" || (!t.starts_with('0') && !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())))
            .and_then(|t| t.parse::<usize>().ok());
        let mut found = Found::Missing;
        let mut i = 0usize;
        loop {
            if Some(i) == index {
                match s.next_element::<&'de RawValue>()? {
                    Some(v) => found = Found::Member(v),
                    None => break,
                }
            } else if s.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Str(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.scalar(de::Unexpected::Unit)
    }
}

impl Step<'_> {
    /// A scalar has no members: an error for the line itself, nothing found inside it.
    fn scalar<'de, E: de::Error>(&self, what: de::Unexpected<'_>) -> Result<Found<'de>, E> {
        if self.object_only {
            Err(E::invalid_type(what, self))
        } else {
            Ok(Found::Missing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str, pointer: &str) -> Option<String> {
        let tokens = parse_pointer(pointer).unwrap();
        key_at(line.as_bytes(), &tokens)
            .unwrap()
            .map(|(k, _)| String::from_utf8(k.into_owned()).unwrap())
    }

    #[test]
    fn pointers_find_nested_keys_as_written() {
        let line = r#"{"meta": {"user_id": 1.50, "a/b": "x", "m~n": true}, "items": [{"sku": "s\u00e9"}, {"sku": [1, 2]}], "n": null}"#;
        assert_eq!(key(line, "/meta/user_id").as_deref(), Some("1.50"));
        assert_eq!(key(line, "/meta/a~1b").as_deref(), Some("x"));
        assert_eq!(key(line, "/meta/m~0n").as_deref(), Some("true"));
        assert_eq!(key(line, "/items/0/sku").as_deref(), Some("sé"));
        assert_eq!(key(line, "/items/1/sku").as_deref(), Some("[1, 2]"));
        assert_eq!(key(line, "/items/01/sku"), None);
        assert_eq!(key(line, "/items/2"), None);
        assert_eq!(key(line, "/n"), None);
        assert_eq!(key(line, "/missing/deeper"), None);
        let tokens = field_pointer("meta");
        let (_, text) = key_at(line.as_bytes(), &tokens).unwrap().unwrap();
        assert!(text.starts_with(r#"{"user_id": 1.50"#), "{text}");
        assert!(parse_pointer("meta").is_err());
        assert!(parse_pointer("/a~2").is_err());
        assert!(key_at(b"[1]", &[]).is_err());
        assert!(key_at(b"nope", &[]).is_err());
    }

    /// Issue 18's one-pass scan keeps the old answers: the last of duplicate members wins,
    /// escapes in names and keys are resolved, a key without escapes is borrowed from the
    /// line, and the whole line is still validated (errors name JSON or the object).
    #[test]
    fn the_scan_validates_the_line_and_borrows_plain_keys() {
        assert_eq!(key(r#"{"k": 1, "k": 2}"#, "/k").as_deref(), Some("2"));
        assert_eq!(key(r#"{"\u006b": "a\"b"}"#, "/k").as_deref(), Some("a\"b"));
        let tokens = field_pointer("user");
        let line = br#"{"user": "u-1", "v": [1, {"x": null}]}"#;
        let (k, text) = key_at(line, &tokens).unwrap().unwrap();
        assert!(matches!(k, Cow::Borrowed(b"u-1")), "{k:?}");
        assert_eq!(text, r#""u-1""#);
        for bad in [
            &br#"{"user": "u-1"} trailing"#[..],
            br#"{"user": "u-1""#,
            br#"{"v": [1,}"#,
        ] {
            let e = key_at(bad, &tokens).unwrap_err();
            assert!(e.starts_with("not valid JSON"), "{e}");
        }
        for not_object in [&b"[1, 2]"[..], b"\"s\"", b"12", b"null"] {
            let e = key_at(not_object, &tokens).unwrap_err();
            assert!(e.starts_with("not a JSON object"), "{e}");
        }
        // Review of issue 18: malformed lines that are not objects either are called malformed.
        for neither in [&b"[1, 2"[..], b"123abc", b"\"open"] {
            let e = key_at(neither, &tokens).unwrap_err();
            assert!(e.starts_with("not valid JSON"), "{e}");
        }
        assert_eq!(key(r#"{"a": 5}"#, "/a/b"), None, "a scalar has no members");
    }
}
