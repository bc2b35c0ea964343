//! Keys taken from JSON lines (`--key-field`, `--key-path`): a string is unescaped, any other
//! value is its JSON text exactly as written in the input (`1.50` stays `1.50`).

use std::collections::HashMap;

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

/// The key at `tokens` in the JSON object `line`: the key's bytes and its JSON text as written,
/// or `None` when the member is missing or `null`.
///
/// # Errors
/// The line is not JSON or not an object.
pub(super) fn key_at<'a>(line: &'a [u8], tokens: &[String]) -> Result<Option<(Vec<u8>, &'a str)>, String> {
    let mut cur: &RawValue = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
    if !cur.get().starts_with('{') {
        return Err("not a JSON object (--key-field and --key-path need one)".into());
    }
    for token in tokens {
        let text = cur.get();
        let next = if text.starts_with('{') {
            let members: HashMap<String, &RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            members.get(token).copied()
        } else if text.starts_with('[') {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            // RFC 6901: an index is "0" or digits without a leading zero.
            let index = (token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit())))
                .then(|| token.parse::<usize>().ok())
                .flatten();
            index.and_then(|i| items.get(i).copied())
        } else {
            None
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(None),
        }
    }
    let text = cur.get();
    if text == "null" {
        return Ok(None);
    }
    let bytes = if text.starts_with('"') {
        serde_json::from_str::<String>(text)
            .map_err(|e| e.to_string())?
            .into_bytes()
    } else {
        text.as_bytes().to_vec()
    };
    Ok(Some((bytes, text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str, pointer: &str) -> Option<String> {
        let tokens = parse_pointer(pointer).unwrap();
        key_at(line.as_bytes(), &tokens)
            .unwrap()
            .map(|(k, _)| String::from_utf8(k).unwrap())
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
}
