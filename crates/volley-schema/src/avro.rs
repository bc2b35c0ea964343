//! JSON to Avro binary, walking the schema and the JSON value together.
//!
//! The schema is parsed by the `apache-avro` crate; the encoding of JSON documents is written
//! here because the mapping rules (which JSON a union, a logical type or `bytes` accepts) are
//! Volley's, because an error must name the field that did not fit, and because building an
//! intermediate `apache_avro::types::Value` tree per record would cost an allocation per
//! field. The output is plain Avro binary (the "datum"): no container file, no framing.
//!
//! Mapping (as confluent-kafka's Python serializer reads the equivalent dict):
//! records are objects, fields missing from the object take the schema's default; a union
//! takes a plain value when exactly one branch fits it, or Avro's JSON encoding
//! `{"type": value}` to pick a branch; enums are strings; bytes and fixed are strings with one
//! code point per byte (or base64 with [`MappingOptions::bytes_base64`]); decimal is a string
//! or a number; date is an ISO date or a day count; time-millis/micros a count or `HH:MM:SS`;
//! timestamps an ISO-8601 instant or a number; uuid a string.

use std::collections::HashMap;

use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, RecordSchema, UnionSchema, UuidSchema};
use apache_avro::Schema;
use serde_json::Value as Json;

use crate::error::{FieldError, SchemaError};

mod values;

/// An ISO-8601 date (`2026-12-05`, midnight UTC) or date-time (`2026-12-05T22:22:15.123Z`,
/// `+01:00` offsets; without an offset, UTC) in milliseconds since the epoch, parsed as the
/// Avro mapping reads `timestamp-millis` strings; `None` if malformed or finer than a
/// millisecond.
#[must_use]
pub fn iso8601_millis(s: &str) -> Option<i64> {
    if let Some(days) = values::parse_date(s) {
        return Some(days * 86_400_000);
    }
    values::parse_instant(s, 1000, false).or_else(|| values::parse_instant(s, 1000, true))
}
use values::{
    decimal_unscaled, float, int32, int64, parse_date, parse_instant, parse_time, parse_uuid, twos_complement,
};

/// How JSON input is read where the mapping has a choice.
#[derive(Debug, Clone, Copy, Default)]
pub struct MappingOptions {
    /// `bytes` and `fixed` values are base64 strings instead of one code point per byte.
    pub bytes_base64: bool,
    /// Object members the record schema does not know are skipped instead of rejected.
    pub ignore_unknown_fields: bool,
}

/// A parsed Avro schema with its named types, ready to encode JSON documents.
#[derive(Debug, Clone)]
pub struct AvroSchema {
    schema: Schema,
    names: HashMap<String, Schema>,
    text: String,
}

impl AvroSchema {
    /// Parses a schema from its JSON text.
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] when the text is not a valid Avro schema.
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        let schema = Schema::parse_str(text).map_err(|e| SchemaError::InvalidSchema(e.to_string()))?;
        Self::from_schema(schema, text.to_owned())
    }

    /// Wraps a schema built elsewhere (derived for a Rust type, say); `text` is what a registry
    /// is sent.
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] when a named reference cannot be resolved.
    pub fn from_schema(schema: Schema, text: String) -> Result<Self, SchemaError> {
        let names = {
            let resolved = apache_avro::schema::ResolvedSchema::try_from(&schema)
                .map_err(|e| SchemaError::InvalidSchema(e.to_string()))?;
            resolved
                .get_names()
                .iter()
                .map(|(n, s)| (n.fullname(None), (*s).clone()))
                .collect()
        };
        Ok(AvroSchema { schema, names, text })
    }

    /// The parsed schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The schema's JSON text, as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The full name of the top-level type, for the RecordName subject strategies.
    pub fn full_name(&self) -> Option<String> {
        match &self.schema {
            Schema::Record(RecordSchema { name, .. }) => Some(name.fullname(None)),
            Schema::Enum(e) => Some(e.name.fullname(None)),
            Schema::Fixed(f) => Some(f.name.fullname(None)),
            _ => None,
        }
    }

    /// Appends the Avro binary encoding of `value` to `out`. On error `out` is left as it was.
    ///
    /// # Errors
    /// [`SchemaError::Value`] naming the field that does not fit and why.
    pub fn encode_json(&self, value: &Json, opts: MappingOptions, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        let mark = out.len();
        let enc = Encoder {
            names: &self.names,
            opts,
        };
        enc.encode(&self.schema, value, Mode::Value, out).map_err(|e| {
            out.truncate(mark);
            SchemaError::Value(e)
        })
    }
}

/// Whether a JSON value is input or a schema default (defaults use Avro's own JSON encoding:
/// a union's default belongs to its first branch, bytes are code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Value,
    Default,
}

struct Encoder<'a> {
    names: &'a HashMap<String, Schema>,
    opts: MappingOptions,
}

type R = Result<(), FieldError>;

fn describe(v: &Json) -> String {
    let s = match v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Json::Array(_) => "an array".to_owned(),
        Json::Object(_) => "an object".to_owned(),
    };
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

fn mismatch(expected: &str, got: &Json) -> FieldError {
    FieldError::new(format!("expected {expected}, got {}", describe(got)))
}

/// Appends a zigzag varint (Avro `int` and `long`).
pub(crate) fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// The branch name Avro's JSON encoding uses for a union member.
fn branch_name(s: &Schema) -> Option<String> {
    Some(match s {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Uuid(UuidSchema::String) => "string".into(),
        Schema::Uuid(UuidSchema::Bytes) => "bytes".into(),
        Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Bytes,
            ..
        }) => "bytes".into(),
        Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(f),
            ..
        }) => f.name.fullname(None),
        Schema::Uuid(UuidSchema::Fixed(f)) | Schema::Fixed(f) | Schema::Duration(f) => f.name.fullname(None),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Ref { name } => name.fullname(None),
        Schema::Union(_) => return None,
    })
}

/// Whether a JSON value's kind could fit a schema at all (a cheap filter before trying).
fn kind_fits(s: &Schema, v: &Json) -> bool {
    match (s, v) {
        (Schema::Null, Json::Null) => true,
        (Schema::Boolean, Json::Bool(_)) => true,
        (
            Schema::Int
            | Schema::Long
            | Schema::Float
            | Schema::Double
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::Decimal(_)
            | Schema::BigDecimal,
            Json::Number(_),
        ) => true,
        (Schema::Float | Schema::Double, Json::String(s)) => matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity"),
        (Schema::Float | Schema::Double, Json::Object(_)) => values::nonfinite(v).is_some(),
        (
            Schema::String
            | Schema::Bytes
            | Schema::Fixed(_)
            | Schema::Duration(_)
            | Schema::Enum(_)
            | Schema::Uuid(_)
            | Schema::Decimal(_)
            | Schema::BigDecimal
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos,
            Json::String(_),
        ) => true,
        (Schema::Array(_), Json::Array(_)) => true,
        (Schema::Map(_) | Schema::Record(_), Json::Object(_)) => true,
        (Schema::Ref { .. }, _) => true,
        _ => false,
    }
}

impl Encoder<'_> {
    fn resolve<'s>(&'s self, s: &'s Schema) -> Result<&'s Schema, FieldError> {
        match s {
            Schema::Ref { name } => {
                let full = name.fullname(None);
                self.names
                    .get(&full)
                    .ok_or_else(|| FieldError::new(format!("the schema refers to unknown type {full}")))
            }
            other => Ok(other),
        }
    }

    fn encode(&self, schema: &Schema, v: &Json, mode: Mode, out: &mut Vec<u8>) -> R {
        let schema = self.resolve(schema)?;
        match schema {
            Schema::Null => match v {
                Json::Null => Ok(()),
                _ => Err(mismatch("null", v)),
            },
            Schema::Boolean => match v {
                Json::Bool(b) => {
                    out.push(u8::from(*b));
                    Ok(())
                }
                _ => Err(mismatch("a boolean", v)),
            },
            Schema::Int => {
                put_long(out, int32(v)?.into());
                Ok(())
            }
            Schema::Long => {
                put_long(out, int64(v, "a long")?);
                Ok(())
            }
            Schema::Float => {
                out.extend_from_slice(&(float(v, "a float")? as f32).to_le_bytes());
                Ok(())
            }
            Schema::Double => {
                out.extend_from_slice(&float(v, "a double")?.to_le_bytes());
                Ok(())
            }
            Schema::String => match v {
                Json::String(s) => {
                    put_bytes(out, s.as_bytes());
                    Ok(())
                }
                _ => Err(mismatch("a string", v)),
            },
            Schema::Bytes => {
                let b = self.bytes(v, mode)?;
                put_bytes(out, &b);
                Ok(())
            }
            Schema::Fixed(f) | Schema::Duration(f) => {
                let b = self.bytes(v, mode)?;
                if b.len() != f.size {
                    return Err(FieldError::new(format!(
                        "fixed {} takes exactly {} bytes, got {}",
                        f.name.fullname(None),
                        f.size,
                        b.len()
                    )));
                }
                out.extend_from_slice(&b);
                Ok(())
            }
            Schema::Enum(e) => match v {
                Json::String(s) => match e.symbols.iter().position(|x| x == s) {
                    Some(i) => {
                        put_long(out, i as i64);
                        Ok(())
                    }
                    None => Err(FieldError::new(format!(
                        "{} is not a symbol of enum {} ({})",
                        describe(v),
                        e.name.fullname(None),
                        e.symbols.join(", ")
                    ))),
                },
                _ => Err(mismatch("an enum symbol (string)", v)),
            },
            Schema::Array(a) => match v {
                Json::Array(items) => {
                    if !items.is_empty() {
                        put_long(out, items.len() as i64);
                        for (i, item) in items.iter().enumerate() {
                            self.encode(&a.items, item, mode, out).map_err(|e| e.at_index(i))?;
                        }
                    }
                    out.push(0);
                    Ok(())
                }
                _ => Err(mismatch("an array", v)),
            },
            Schema::Map(m) => match v {
                Json::Object(obj) => {
                    if !obj.is_empty() {
                        put_long(out, obj.len() as i64);
                        for (k, item) in obj {
                            put_bytes(out, k.as_bytes());
                            self.encode(&m.types, item, mode, out).map_err(|e| e.at_field(k))?;
                        }
                    }
                    out.push(0);
                    Ok(())
                }
                _ => Err(mismatch("an object (map)", v)),
            },
            Schema::Record(r) => self.record(r, v, mode, out),
            Schema::Union(u) => self.union(u, v, mode, out),
            Schema::Date => {
                let days = match v {
                    Json::String(s) => {
                        parse_date(s).ok_or_else(|| mismatch("a date (YYYY-MM-DD) or a day count", v))?
                    }
                    _ => i64::from(int32(v)?),
                };
                let days = i32::try_from(days).map_err(|_| FieldError::new("date out of range"))?;
                put_long(out, days.into());
                Ok(())
            }
            Schema::TimeMillis => {
                let ms = match v {
                    Json::String(s) => parse_time(s, 1_000).ok_or_else(|| mismatch("a time (HH:MM:SS[.fff])", v))?,
                    _ => int64(v, "a time in milliseconds")?,
                };
                let ms = i32::try_from(ms).map_err(|_| FieldError::new("time-millis out of range"))?;
                put_long(out, ms.into());
                Ok(())
            }
            Schema::TimeMicros => {
                let us = match v {
                    Json::String(s) => {
                        parse_time(s, 1_000_000).ok_or_else(|| mismatch("a time (HH:MM:SS[.ffffff])", v))?
                    }
                    _ => int64(v, "a time in microseconds")?,
                };
                put_long(out, us);
                Ok(())
            }
            Schema::TimestampMillis | Schema::LocalTimestampMillis => self.timestamp(v, 1_000, schema, out),
            Schema::TimestampMicros | Schema::LocalTimestampMicros => self.timestamp(v, 1_000_000, schema, out),
            Schema::TimestampNanos | Schema::LocalTimestampNanos => self.timestamp(v, 1_000_000_000, schema, out),
            Schema::Uuid(kind) => {
                let Json::String(s) = v else {
                    return Err(mismatch("a UUID string", v));
                };
                let raw = parse_uuid(s).ok_or_else(|| mismatch("a UUID (8-4-4-4-12 hex digits)", v))?;
                match kind {
                    UuidSchema::String => put_bytes(out, s.as_bytes()),
                    UuidSchema::Bytes => put_bytes(out, &raw),
                    UuidSchema::Fixed(_) => out.extend_from_slice(&raw),
                }
                Ok(())
            }
            Schema::Decimal(d) => {
                let unscaled = decimal_unscaled(v, d.precision, d.scale)?;
                match &d.inner {
                    InnerDecimalSchema::Bytes => put_bytes(out, &twos_complement(unscaled, None)?),
                    InnerDecimalSchema::Fixed(f) => out.extend_from_slice(&twos_complement(unscaled, Some(f.size))?),
                }
                Ok(())
            }
            Schema::BigDecimal => Err(FieldError::new("big-decimal is not supported yet")),
            Schema::Ref { .. } => Err(FieldError::new("unresolved reference")),
        }
    }

    fn bytes(&self, v: &Json, mode: Mode) -> Result<Vec<u8>, FieldError> {
        let Json::String(s) = v else {
            return Err(mismatch("a string of bytes", v));
        };
        if self.opts.bytes_base64 && mode == Mode::Value {
            use base64::Engine;
            return base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| FieldError::new(format!("not valid base64: {e}")));
        }
        s.chars()
            .map(|c| {
                u8::try_from(u32::from(c)).map_err(|_| {
                    FieldError::new(format!(
                        "bytes are written one code point per byte (U+0000..U+00FF), but the string holds U+{:04X}; \
                         use --bytes-base64 for base64",
                        u32::from(c)
                    ))
                })
            })
            .collect()
    }

    fn record(&self, r: &RecordSchema, v: &Json, mode: Mode, out: &mut Vec<u8>) -> R {
        let Json::Object(obj) = v else {
            return Err(mismatch(&format!("an object (record {})", r.name.fullname(None)), v));
        };
        if !self.opts.ignore_unknown_fields && mode == Mode::Value {
            if let Some(k) = obj.keys().find(|k| !r.lookup.contains_key(k.as_str())) {
                return Err(FieldError::new(format!(
                    "unknown field (record {} has no field of that name; --ignore-unknown-fields skips such fields)",
                    r.name.fullname(None)
                ))
                .at_field(k));
            }
        }
        for f in &r.fields {
            match obj.get(&f.name) {
                Some(x) => self.encode(&f.schema, x, mode, out).map_err(|e| e.at_field(&f.name))?,
                None => match &f.default {
                    Some(d) => self.encode(&f.schema, d, Mode::Default, out).map_err(|e| {
                        FieldError::new(format!("the schema's default does not fit: {}", e.reason)).at_field(&f.name)
                    })?,
                    None => return Err(FieldError::new("missing, and the schema gives no default").at_field(&f.name)),
                },
            }
        }
        Ok(())
    }

    fn union(&self, u: &UnionSchema, v: &Json, mode: Mode, out: &mut Vec<u8>) -> R {
        let branches = u.variants();
        if mode == Mode::Default {
            // A union's default belongs to its first branch.
            let first = branches.first().ok_or_else(|| FieldError::new("empty union"))?;
            put_long(out, 0);
            return self.encode(first, v, mode, out);
        }
        // Avro's JSON encoding: {"branch": value} picks a branch.
        if let Json::Object(obj) = v {
            if obj.len() == 1 {
                if let Some((tag, inner)) = obj.iter().next() {
                    let found = branches.iter().enumerate().find(|(_, b)| {
                        branch_name(b).is_some_and(|n| n == *tag || n.rsplit('.').next() == Some(tag.as_str()))
                    });
                    if let Some((i, b)) = found {
                        put_long(out, i as i64);
                        return self.encode(b, inner, mode, out);
                    }
                }
            }
        }
        // A plain value: exactly one branch may fit it. Usually only one branch has the
        // value's JSON kind (null, or the one string branch): encode it directly.
        let mut kinds = branches
            .iter()
            .enumerate()
            .filter(|(_, b)| self.resolve(b).is_ok_and(|b| kind_fits(b, v)));
        if let (Some((i, only)), None) = (kinds.next(), kinds.next()) {
            put_long(out, i as i64);
            return self.encode(only, v, mode, out);
        }
        let mut fit: Option<(usize, Vec<u8>)> = None;
        let mut fitting: Vec<String> = Vec::new();
        let mut last_err: Option<FieldError> = None;
        for (i, b) in branches.iter().enumerate() {
            let b = self.resolve(b)?;
            if !kind_fits(b, v) {
                continue;
            }
            let mut scratch = Vec::new();
            match self.encode(b, v, mode, &mut scratch) {
                Ok(()) => {
                    fitting.push(branch_name(b).unwrap_or_default());
                    if fit.is_none() {
                        fit = Some((i, scratch));
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        match (fit, fitting.len()) {
            (Some((i, bytes)), 1) => {
                put_long(out, i as i64);
                out.extend_from_slice(&bytes);
                Ok(())
            }
            (Some(_), _) => Err(FieldError::new(format!(
                "{} fits more than one branch of the union ({}); write {{\"{}\": value}} to pick one",
                describe(v),
                fitting.join(", "),
                fitting[0]
            ))),
            (None, _) => {
                let names: Vec<String> = branches.iter().filter_map(branch_name).collect();
                Err(match last_err {
                    Some(e) if names.len() <= 2 => e,
                    _ => FieldError::new(format!(
                        "{} fits no branch of the union ({})",
                        describe(v),
                        names.join(", ")
                    )),
                })
            }
        }
    }

    fn timestamp(&self, v: &Json, per_second: i64, schema: &Schema, out: &mut Vec<u8>) -> R {
        let local = matches!(
            schema,
            Schema::LocalTimestampMillis | Schema::LocalTimestampMicros | Schema::LocalTimestampNanos
        );
        let t = match v {
            Json::String(s) => parse_instant(s, per_second, local)
                .ok_or_else(|| mismatch("an ISO-8601 timestamp (2024-05-01T12:00:00Z) or a number", v))?,
            _ => int64(v, "a timestamp")?,
        };
        put_long(out, t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(schema: &str, v: Json) -> Result<Vec<u8>, SchemaError> {
        let s = AvroSchema::parse(schema)?;
        let mut out = Vec::new();
        s.encode_json(&v, MappingOptions::default(), &mut out)?;
        Ok(out)
    }

    /// Decodes with apache-avro, the reference for the binary encoding.
    fn roundtrip(schema: &str, v: Json) -> apache_avro::types::Value {
        let bytes = enc(schema, v).unwrap();
        let s = Schema::parse_str(schema).unwrap();
        apache_avro::reader::datum::GenericDatumReader::builder(&s)
            .build()
            .unwrap()
            .read_value(&mut &bytes[..])
            .unwrap()
    }

    /// NaN and the infinities from the Python serializers: `{"$volley_nonfinite": ...}`
    /// fits a float or double only (not a string field, where the bare "NaN" would fit),
    /// and picks the double branch of a union that also has a string.
    #[test]
    fn nonfinite_floats_fit_float_and_double_only() {
        use apache_avro::types::Value as V;
        let nan = json!({"$volley_nonfinite": "NaN"});
        assert!(matches!(roundtrip(r#""double""#, nan.clone()), V::Double(d) if d.is_nan()));
        assert_eq!(
            roundtrip(r#""float""#, json!({"$volley_nonfinite": "-Infinity"})),
            V::Float(f32::NEG_INFINITY)
        );
        assert!(enc(r#""string""#, nan.clone()).is_err());
        assert!(enc(r#""double""#, json!({"$volley_nonfinite": "nan"})).is_err());
        assert_eq!(
            roundtrip(
                r#"["null", "string", "double"]"#,
                json!({"$volley_nonfinite": "Infinity"})
            ),
            V::Union(2, Box::new(V::Double(f64::INFINITY)))
        );
    }

    #[test]
    fn primitives_match_apache_avro() {
        use apache_avro::types::Value as V;
        assert_eq!(roundtrip(r#""int""#, json!(-7)), V::Int(-7));
        assert_eq!(roundtrip(r#""long""#, json!(1i64 << 40)), V::Long(1 << 40));
        assert_eq!(roundtrip(r#""double""#, json!(1.5)), V::Double(1.5));
        assert_eq!(roundtrip(r#""float""#, json!(0.25)), V::Float(0.25));
        assert_eq!(roundtrip(r#""string""#, json!("héllo")), V::String("héllo".into()));
        assert_eq!(
            roundtrip(r#""bytes""#, json!("\u{00ff}\u{0001}")),
            V::Bytes(vec![255, 1])
        );
        assert_eq!(roundtrip(r#""boolean""#, json!(true)), V::Boolean(true));
    }

    #[test]
    fn logical_types() {
        use apache_avro::types::Value as V;
        assert_eq!(
            roundtrip(r#"{"type":"int","logicalType":"date"}"#, json!("1970-01-02")),
            V::Date(1)
        );
        assert_eq!(
            roundtrip(r#"{"type":"int","logicalType":"date"}"#, json!("2024-02-29")),
            V::Date(19782)
        );
        assert_eq!(
            roundtrip(
                r#"{"type":"long","logicalType":"timestamp-millis"}"#,
                json!("2024-05-01T12:00:00.5+02:00")
            ),
            V::TimestampMillis(1_714_557_600_500)
        );
        assert_eq!(
            roundtrip(r#"{"type":"long","logicalType":"timestamp-micros"}"#, json!(5)),
            V::TimestampMicros(5)
        );
        assert_eq!(
            roundtrip(r#"{"type":"int","logicalType":"time-millis"}"#, json!("01:00:00.001")),
            V::TimeMillis(3_600_001)
        );
        let dec = r#"{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}"#;
        assert_eq!(
            roundtrip(dec, json!("-12.5")),
            V::Decimal(apache_avro::Decimal::from((-1250i32).to_be_bytes()[2..].to_vec()))
        );
        assert!(enc(dec, json!("1.234")).is_err());
        assert!(enc(dec, json!("12345.6")).is_err());
        let uuid = r#"{"type":"string","logicalType":"uuid"}"#;
        assert!(enc(uuid, json!("550e8400-e29b-41d4-a716-446655440000")).is_ok());
        assert!(enc(uuid, json!("nope")).is_err());
    }

    #[test]
    fn records_defaults_and_unions() {
        let schema = r#"{"type":"record","name":"R","namespace":"n","fields":[
            {"name":"a","type":"int"},
            {"name":"b","type":["null","string"],"default":null},
            {"name":"c","type":["int","long"],"default":1},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]},"default":"Y"}]}"#;
        let v = roundtrip(schema, json!({"a": 1, "c": {"long": 9}}));
        assert_eq!(
            format!("{v:?}"),
            format!(
                "{:?}",
                apache_avro::types::Value::Record(vec![
                    ("a".into(), apache_avro::types::Value::Int(1)),
                    (
                        "b".into(),
                        apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null))
                    ),
                    (
                        "c".into(),
                        apache_avro::types::Value::Union(1, Box::new(apache_avro::types::Value::Long(9)))
                    ),
                    ("e".into(), apache_avro::types::Value::Enum(1, "Y".into())),
                ])
            )
        );
        let err = enc(schema, json!({"a": 1, "c": 5})).unwrap_err().to_string();
        assert!(
            err.contains("field 'c'") && err.contains("more than one branch"),
            "{err}"
        );
        let err = enc(schema, json!({"a": "x"})).unwrap_err().to_string();
        assert_eq!(err, "field 'a': expected an int, got \"x\"");
        let err = enc(schema, json!({"a": 1, "zz": 1})).unwrap_err().to_string();
        assert!(err.starts_with("field 'zz': unknown field"), "{err}");
        let err = enc(schema, json!({})).unwrap_err().to_string();
        assert_eq!(err, "field 'a': missing, and the schema gives no default");
    }

    #[test]
    fn nested_error_paths() {
        let schema = r#"{"type":"record","name":"R","fields":[
            {"name":"items","type":{"type":"array","items":{"type":"record","name":"I","fields":[{"name":"q","type":"int"}]}}}]}"#;
        let err = enc(schema, json!({"items": [{"q": 1}, {"q": 2.5}]}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "field 'items[1].q': expected an int, got 2.5");
    }

    #[test]
    fn errors_leave_the_buffer_unchanged() {
        let s = AvroSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}"#,
        )
        .unwrap();
        let mut out = vec![9];
        assert!(s
            .encode_json(&json!({"a":"x","b":"y"}), MappingOptions::default(), &mut out)
            .is_err());
        assert_eq!(out, vec![9]);
    }

    #[test]
    fn twos_complement_is_minimal() {
        assert_eq!(twos_complement(0, None).unwrap(), vec![0]);
        assert_eq!(twos_complement(127, None).unwrap(), vec![0x7F]);
        assert_eq!(twos_complement(128, None).unwrap(), vec![0x00, 0x80]);
        assert_eq!(twos_complement(-1, None).unwrap(), vec![0xFF]);
        assert_eq!(twos_complement(-129, None).unwrap(), vec![0xFF, 0x7F]);
        assert_eq!(twos_complement(-1, Some(3)).unwrap(), vec![0xFF; 3]);
    }
}
