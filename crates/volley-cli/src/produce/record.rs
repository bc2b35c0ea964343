//! Turning one input record into a key and a value: `--key-field`, the key separators, a
//! fixed key, and the `--key-format`/`--value-format` encoders.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use volley_schema::{
    parse_registry_settings, Format, JsonEncoder, MappingOptions, RegistryClient, RegistryOptions, Resolved, Role,
};

use volley::Header;

use super::fields::Fields;
use super::{json_key, ProduceArgs};

/// The serializers `--key-format`/`--value-format` ask for, with their schemas resolved.
pub(super) struct Encoders {
    pub(super) key: Option<(Arc<JsonEncoder>, Arc<Resolved>)>,
    pub(super) value: Option<(Arc<JsonEncoder>, Arc<Resolved>)>,
}

pub(super) fn read_schema(flag: &str, path: &Option<PathBuf>) -> Result<Option<String>, String> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("cannot read {flag} {}: {e}", p.display())))
        .transpose()
}

/// Builds the encoders and resolves their schemas for the topic (registering or looking them
/// up once), so that a registry problem stops the run before any line is read.
/// Errors are a usage error (exit 2) or, for the registry's own answers and outages, a
/// failure of the run (exit 1).
pub(super) async fn build_encoders(a: &ProduceArgs) -> Result<Encoders, (String, u8)> {
    let usage = |e: String| (e, 2u8);
    build_encoders_inner(a).await.map_err(|e| match e {
        Setup::Usage(m) => usage(m),
        Setup::Registry(m) => (m, 1),
    })
}

pub(super) enum Setup {
    Usage(String),
    Registry(String),
}

impl From<String> for Setup {
    fn from(s: String) -> Self {
        Setup::Usage(s)
    }
}

impl From<&str> for Setup {
    fn from(s: &str) -> Self {
        Setup::Usage(s.to_owned())
    }
}

pub(super) async fn build_encoders_inner(a: &ProduceArgs) -> Result<Encoders, Setup> {
    let mut settings = Vec::new();
    for s in &a.registry_settings {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| Setup::Usage(format!("invalid -S '{s}': expected key=value")))?;
        settings.push((k.to_owned(), v.to_owned()));
    }
    let value_format = a
        .value_format
        .as_deref()
        .map(|f| Format::parse("--value-format", f))
        .transpose()
        .map_err(|e| e.to_string())?;
    let key_format = match a.key_format.as_deref() {
        None | Some("string") => None,
        Some(f) => Some(Format::parse("--key-format", f).map_err(|e| e.to_string())?),
    };
    if key_format.is_some() && a.key_pointer.is_none() && a.key_split.is_none() && a.key.is_none() {
        return Err("--key-format needs a key: --key-field, --key-path, --key-separator, -K or -k".into());
    }
    if a.value_schema.is_some() && value_format.is_none() {
        return Err("--value-schema needs --value-format".into());
    }
    if a.key_schema.is_some() && key_format.is_none() {
        return Err("--key-schema needs --key-format".into());
    }
    let needs_registry =
        value_format.is_some_and(Format::uses_registry) || key_format.is_some_and(Format::uses_registry);
    let url = a.schema_registry.clone().or_else(|| {
        settings
            .iter()
            .find(|(k, _)| k == "schema.registry.url")
            .map(|(_, v)| v.clone())
    });
    if a.schema_registry.is_some() && !needs_registry {
        return Err("--schema-registry is only used by the -confluent formats".into());
    }
    if !settings.is_empty() && !needs_registry {
        return Err("-S settings are for the Schema Registry, which only the -confluent formats use".into());
    }
    let (registry, options) = match (&url, needs_registry) {
        (Some(u), true) => {
            let (cfg, mut opts) = parse_registry_settings(u, &settings).map_err(|e| e.to_string())?;
            // A dry run writes nothing anywhere: the schema is looked up, never registered.
            opts.auto_register &= !a.dry_run;
            (
                Some(Arc::new(RegistryClient::new(cfg).map_err(|e| e.to_string())?)),
                opts,
            )
        }
        (None, true) => return Err("the -confluent formats need --schema-registry URL".into()),
        _ => (None, RegistryOptions::default()),
    };
    let mapping = MappingOptions {
        bytes_base64: a.bytes_base64,
        ignore_unknown_fields: a.ignore_unknown_fields,
    };
    let mut out = Encoders { key: None, value: None };
    for (role, format, schema_flag, schema_path) in [
        (Role::Key, key_format, "--key-schema", &a.key_schema),
        (Role::Value, value_format, "--value-schema", &a.value_schema),
    ] {
        let Some(format) = format else { continue };
        let schema = read_schema(schema_flag, schema_path)?;
        let enc = JsonEncoder::new(
            format,
            role,
            schema.as_deref(),
            registry.clone(),
            options.clone(),
            mapping,
        )
        .map_err(|e| e.to_string())?;
        let resolved = enc.prepare(&a.topic).await.map_err(|e| {
            Setup::Registry(format!(
                "cannot resolve the {} schema of topic '{}': {e}",
                role_name(role),
                a.topic
            ))
        })?;
        let slot = Some((Arc::new(enc), resolved));
        match role {
            Role::Key => out.key = slot,
            Role::Value => out.value = slot,
        }
    }
    Ok(out)
}

pub(super) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Key => "key",
        Role::Value => "value",
    }
}

/// Encodes one side of a record with its encoder; the error names the field that does not fit.
pub(super) fn encode_side(
    side: &str,
    enc: &(Arc<JsonEncoder>, Arc<Resolved>),
    json: Option<&serde_json::Value>,
    raw: &[u8],
) -> Result<Vec<u8>, String> {
    let parsed;
    let value = match json {
        Some(v) => v,
        None => {
            parsed = serde_json::from_slice::<serde_json::Value>(raw)
                .map_err(|e| format!("{side} is not valid JSON: {e}"))?;
            &parsed
        }
    };
    let mut out = Vec::with_capacity(raw.len() + 5);
    enc.0
        .encode(&enc.1, value, raw, &mut out)
        .map_err(|e| format!("{side} does not fit its schema: {e}"))?;
    Ok(out)
}

/// A record's key and value, borrowed from the input line where they are its bytes.
pub(super) type KeyValue<'a> = (Option<Cow<'a, [u8]>>, Cow<'a, [u8]>);

/// What one input record becomes.
pub(super) struct Parts<'a> {
    pub(super) key: Option<Cow<'a, [u8]>>,
    /// `None`: a null value (a tombstone).
    pub(super) value: Option<Cow<'a, [u8]>>,
    pub(super) timestamp: Option<i64>,
    pub(super) headers: Cow<'a, [Header]>,
}

/// Key, value, timestamp and headers of one record: the value is null when it is empty and
/// `-Z` is given, or equal to `--null-marker` (it is then not encoded); the timestamp and
/// the `--header-path` headers come from the value's JSON, after the `-H` headers.
pub(super) fn record_parts<'a>(
    a: &'a ProduceArgs,
    enc: &Encoders,
    fields: &Fields,
    headers: &'a [Header],
    line: &'a [u8],
) -> Result<Parts<'a>, String> {
    let needs_raw = a.null_empty || a.null_marker.is_some() || fields.any();
    // The value is always the tail of the line (nothing is unescaped in it).
    let value_len = if needs_raw { split_record(a, line)?.1.len() } else { 0 };
    let raw_value = &line[line.len() - value_len..];
    let null = needs_raw
        && ((a.null_empty && raw_value.is_empty())
            || a.null_marker.as_deref().is_some_and(|m| m.as_bytes() == raw_value));
    let (timestamp, extra) = if fields.any() && !null {
        fields.extract(raw_value)?
    } else {
        (None, Vec::new())
    };
    let (key, value) = make_record(a, enc, line, null)?;
    let headers = if extra.is_empty() {
        Cow::Borrowed(headers)
    } else {
        let mut all = headers.to_vec();
        all.extend(extra);
        Cow::Owned(all)
    };
    Ok(Parts {
        key,
        value: (!null).then_some(value),
        timestamp,
        headers,
    })
}

/// Splits a line into key and value and applies the encoders (not the value's when it is
/// `null`).
fn make_record<'a>(a: &'a ProduceArgs, enc: &Encoders, line: &'a [u8], null: bool) -> Result<KeyValue<'a>, String> {
    if enc.key.is_none() && (enc.value.is_none() || null) {
        return split_record(a, line);
    }
    type Sides<'a> = (
        Option<Cow<'a, [u8]>>,
        Option<serde_json::Value>,
        &'a [u8],
        Option<serde_json::Value>,
    );
    let (key_raw, key_json, value_raw, value_json): Sides<'a> = if let Some(tokens) = &a.key_pointer {
        let found = json_key::key_at(line, tokens)?;
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
        let k = found
            .as_ref()
            .map(|(_, text)| serde_json::from_str(text).map_err(|e| e.to_string()))
            .transpose()?;
        (found.map(|(b, _)| b), k, line, Some(v))
    } else {
        let (k, v) = split_record(a, line)?;
        let vlen = v.len();
        (k, None, &line[line.len() - vlen..], None)
    };
    let key = match (&enc.key, key_raw) {
        (Some(e), Some(raw)) => {
            // A JSON key's text is re-written; a separated key is JSON text.
            let text = key_json.as_ref().map(serde_json::Value::to_string);
            let raw_bytes: &[u8] = text.as_deref().map_or(&raw[..], str::as_bytes);
            Some(Cow::Owned(encode_side("the key", e, key_json.as_ref(), raw_bytes)?))
        }
        (_, raw) => raw,
    };
    let value = match &enc.value {
        Some(e) if !null => Cow::Owned(encode_side("the value", e, value_json.as_ref(), value_raw)?),
        _ => Cow::Borrowed(value_raw),
    };
    Ok((key, value))
}

/// Key and value as slices of the line (the key unescaped if it is a JSON string with
/// escapes): nothing is copied per line.
pub(super) fn split_record<'a>(a: &'a ProduceArgs, line: &'a [u8]) -> Result<KeyValue<'a>, String> {
    if let Some(tokens) = &a.key_pointer {
        let key = json_key::key_at(line, tokens)?.map(|(b, _)| b);
        return Ok((key, Cow::Borrowed(line)));
    }
    if let Some(sep) = &a.key_split {
        if sep.is_empty() {
            return Err("the key separator is empty".into());
        }
        let pos = line
            .windows(sep.len())
            .position(|w| w == &sep[..])
            .ok_or("no key separator found")?;
        return Ok((
            Some(Cow::Borrowed(&line[..pos])),
            Cow::Borrowed(&line[pos + sep.len()..]),
        ));
    }
    if let Some(k) = &a.key {
        return Ok((Some(Cow::Borrowed(k.as_bytes())), Cow::Borrowed(line)));
    }
    Ok((None, Cow::Borrowed(line)))
}

/// kcat's escapes in `-K`/`-D`: `\n`, `\t`, `\0`, `\r`, `\xNN` and `\\`; other text as is.
pub(super) fn unescape(flag: &str, s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(b'r') => b'\r',
            Some(b'\\') => b'\\',
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                std::str::from_utf8(&hex)
                    .ok()
                    .filter(|h| h.len() == 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("invalid {flag} '{s}': \\x needs two hex digits"))?
            }
            other => {
                let shown = other.map_or(String::new(), |c| char::from(c).to_string());
                return Err(format!(
                    "invalid {flag} '{s}': unknown escape '\\{shown}' (\\n, \\t, \\0, \\r, \\xNN, \\\\)"
                ));
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn kcat_escapes() {
        assert_eq!(unescape("-K", ":").unwrap(), b":");
        assert_eq!(unescape("-K", r"\t").unwrap(), b"\t");
        assert_eq!(unescape("-D", r"a\n\r\0\x1e\\b").unwrap(), b"a\n\r\0\x1e\\b");
        assert_eq!(unescape("-D", "é").unwrap(), "é".as_bytes());
        assert!(unescape("-D", r"\x1").unwrap_err().contains("two hex digits"));
        assert!(unescape("-D", r"\xZZ").is_err());
        assert!(unescape("-K", r"\q").unwrap_err().contains("unknown escape '\\q'"));
        assert!(unescape("-K", "\\").is_err());
    }
}
