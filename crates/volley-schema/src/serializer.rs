//! Serializers: JSON and Avro, plain or in Confluent's framing, with the schema resolved once
//! per topic through the registry and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value as Json;
use volley::security::Secret;

use crate::avro::{AvroSchema, MappingOptions};
use crate::error::SchemaError;
use crate::registry::{RegistryClient, RegistryConfig, SchemaType};
use crate::subject::SubjectStrategy;
use crate::{frame_into, MAGIC_BYTE};

/// The formats `volley produce --value-format` / `--key-format` offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON text as it is (checked to be JSON).
    Json,
    /// JSON in Confluent's JSON Schema framing: magic byte, schema id, JSON text.
    JsonConfluent,
    /// Plain Avro binary, no framing.
    Avro,
    /// Avro in Confluent's framing: magic byte, schema id, Avro binary.
    AvroConfluent,
}

impl Format {
    /// Parses a format name.
    ///
    /// # Errors
    /// [`SchemaError::NotSupported`] for protobuf, [`SchemaError::Config`] for anything unknown.
    pub fn parse(flag: &str, s: &str) -> Result<Self, SchemaError> {
        match s {
            "json" => Ok(Format::Json),
            "json-confluent" => Ok(Format::JsonConfluent),
            "avro" => Ok(Format::Avro),
            "avro-confluent" => Ok(Format::AvroConfluent),
            "protobuf" | "protobuf-confluent" => Err(SchemaError::NotSupported {
                what: format!("{flag} {s}"),
                detail: "formats are json, json-confluent, avro and avro-confluent".into(),
            }),
            other => Err(SchemaError::Config {
                key: flag.into(),
                reason: format!("'{other}': one of json, json-confluent, avro, avro-confluent"),
            }),
        }
    }

    /// Whether the format needs a Schema Registry.
    pub fn uses_registry(self) -> bool {
        matches!(self, Format::JsonConfluent | Format::AvroConfluent)
    }
}

/// Whether a serializer writes record keys or values (subjects end in `-key` or `-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Record keys.
    Key,
    /// Record values.
    Value,
}

/// Which registered schema a Confluent serializer writes with, and how it finds it.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `auto.register.schemas` (default true): register the schema on first use.
    pub auto_register: bool,
    /// `use.latest.version` (default false): write with the subject's latest schema.
    pub use_latest_version: bool,
    /// `use.schema.id`: write with this schema id.
    pub use_schema_id: Option<u32>,
    /// `use.schema.version` (Volley's name): write with this version of the subject.
    pub use_schema_version: Option<i32>,
    /// `subject.name.strategy` (default TopicNameStrategy).
    pub subject_strategy: SubjectStrategy,
    /// `normalize.schemas` (default false): ask the registry to normalize on register/lookup.
    pub normalize: bool,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            auto_register: true,
            use_latest_version: false,
            use_schema_id: None,
            use_schema_version: None,
            subject_strategy: SubjectStrategy::TopicName,
            normalize: false,
        }
    }
}

/// The registry settings `volley produce -S key=value` accepts (Confluent's names), parsed.
///
/// # Errors
/// [`SchemaError::Config`] for a bad value or an unknown key, [`SchemaError::NotSupported`] for
/// settings of features Volley does not have yet.
pub fn parse_registry_settings(
    url: &str,
    settings: &[(String, String)],
) -> Result<(RegistryConfig, RegistryOptions), SchemaError> {
    let mut cfg = RegistryConfig::new(url);
    let mut opts = RegistryOptions::default();
    let bad = |k: &str, reason: &str| SchemaError::Config {
        key: k.to_owned(),
        reason: reason.to_owned(),
    };
    let boolean = |k: &str, v: &str| match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(k, "true or false")),
    };
    let ms = |k: &str, v: &str| {
        v.parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| bad(k, "a number of milliseconds"))
    };
    for (k, v) in settings {
        let (k, v) = (k.as_str(), v.as_str());
        match k {
            "schema.registry.url" => {
                cfg = RegistryConfig {
                    urls: RegistryConfig::new(v).urls,
                    ..cfg
                }
            }
            "basic.auth.user.info" => {
                let (u, p) = v.split_once(':').ok_or_else(|| bad(k, "user:password"))?;
                cfg.basic_auth = Some((u.to_owned(), Secret::new(p)));
            }
            "basic.auth.credentials.source" if v == "USER_INFO" => {}
            "basic.auth.credentials.source" => {
                return Err(SchemaError::NotSupported {
                    what: format!("{k}={v}"),
                    detail: "only USER_INFO (with basic.auth.user.info)".into(),
                })
            }
            "schema.registry.ssl.ca.location" => cfg.ca_location = Some(v.into()),
            "schema.registry.ssl.certificate.location" => cfg.certificate_location = Some(v.into()),
            "schema.registry.ssl.key.location" => cfg.key_location = Some(v.into()),
            "schema.registry.ssl.key.password" => cfg.key_password = Some(Secret::new(v)),
            "schema.registry.ssl.endpoint.identification.algorithm" => {
                cfg.verify_hostname = match v.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    _ => return Err(bad(k, "https, or none (or empty) to turn hostname verification off")),
                }
            }
            "schema.registry.ssl.truststore.location"
            | "schema.registry.ssl.truststore.password"
            | "schema.registry.ssl.truststore.type"
            | "schema.registry.ssl.keystore.location"
            | "schema.registry.ssl.keystore.password"
            | "schema.registry.ssl.keystore.type" => {
                let java = k.trim_start_matches("schema.registry.");
                cfg.stores.push((java.to_owned(), Secret::new(v)));
            }
            "schema.registry.request.timeout.ms" => cfg.timeout = ms(k, v)?,
            "max.retries" => cfg.max_retries = v.parse().map_err(|_| bad(k, "a count"))?,
            "retries.wait.ms" => cfg.retry_wait = ms(k, v)?,
            "retries.max.wait.ms" => cfg.retry_max_wait = ms(k, v)?,
            "auto.register.schemas" => opts.auto_register = boolean(k, v)?,
            "use.latest.version" => opts.use_latest_version = boolean(k, v)?,
            "use.schema.id" => {
                let id: i64 = v.parse().map_err(|_| bad(k, "a schema id"))?;
                opts.use_schema_id = u32::try_from(id).ok();
            }
            "use.schema.version" => opts.use_schema_version = Some(v.parse().map_err(|_| bad(k, "a version number"))?),
            "normalize.schemas" => opts.normalize = boolean(k, v)?,
            "subject.name.strategy" | "key.subject.name.strategy" | "value.subject.name.strategy" => {
                opts.subject_strategy = SubjectStrategy::parse(v)
                    .ok_or_else(|| bad(k, "TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy"))?;
            }
            other => {
                return Err(SchemaError::Config {
                    key: other.into(),
                    reason: "unknown schema registry setting (known: schema.registry.url, basic.auth.user.info, \
                             basic.auth.credentials.source, schema.registry.ssl.ca.location, \
                             schema.registry.ssl.certificate.location, schema.registry.ssl.key.location, \
                             schema.registry.ssl.key.password, schema.registry.ssl.endpoint.identification.algorithm, \
                             schema.registry.request.timeout.ms, max.retries, retries.wait.ms, retries.max.wait.ms, \
                             auto.register.schemas, use.latest.version, use.schema.id, use.schema.version, \
                             normalize.schemas, subject.name.strategy)"
                        .into(),
                })
            }
        }
    }
    let chosen = [
        opts.use_latest_version,
        opts.use_schema_id.is_some(),
        opts.use_schema_version.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if chosen > 1 {
        return Err(bad(
            "use.latest.version",
            "use.latest.version, use.schema.id and use.schema.version exclude each other",
        ));
    }
    if chosen == 1 && opts.auto_register {
        return Err(bad(
            "auto.register.schemas",
            "must be false when use.latest.version, use.schema.id or use.schema.version is set (as in Confluent's serializers)",
        ));
    }
    Ok((cfg, opts))
}

/// Registers the schema (`auto.register.schemas`) or finds it among the subject's versions.
async fn register_or_lookup(
    reg: &RegistryClient,
    subject: &str,
    text: &str,
    schema_type: SchemaType,
    o: &RegistryOptions,
) -> Result<crate::RegisteredSchema, SchemaError> {
    if o.auto_register {
        reg.register(subject, text, schema_type, o.normalize).await
    } else {
        reg.lookup(subject, text, schema_type, o.normalize).await
    }
}

/// What a topic's serializer writes with, once resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The schema id for the framing (Confluent formats only).
    pub id: Option<u32>,
    /// The Avro schema values are encoded with (Avro formats only).
    pub avro: Option<Arc<AvroSchema>>,
}

/// Turns JSON documents into record bytes in one [`Format`]; used by `volley produce`.
///
/// [`prepare`](Self::prepare) resolves a topic's schema (HTTP at most once per topic and
/// subject); [`encode`](Self::encode) is then synchronous and never touches the network.
#[derive(Debug)]
pub struct JsonEncoder {
    format: Format,
    role: Role,
    avro: Option<Arc<AvroSchema>>,
    json_schema: Option<String>,
    registry: Option<Arc<RegistryClient>>,
    options: RegistryOptions,
    mapping: MappingOptions,
    topics: Mutex<HashMap<String, Arc<Resolved>>>,
}

impl JsonEncoder {
    /// An encoder. `schema` is the schema text (`--value-schema`/`--key-schema`): required for
    /// avro and json-confluent unless the registry supplies it (`use.latest.version`,
    /// `use.schema.id`, `use.schema.version`).
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] for a schema that does not parse, [`SchemaError::Config`]
    /// when a schema or a registry is missing.
    pub fn new(
        format: Format,
        role: Role,
        schema: Option<&str>,
        registry: Option<Arc<RegistryClient>>,
        options: RegistryOptions,
        mapping: MappingOptions,
    ) -> Result<Self, SchemaError> {
        let from_registry =
            options.use_latest_version || options.use_schema_id.is_some() || options.use_schema_version.is_some();
        let flag = match role {
            Role::Key => "--key-schema",
            Role::Value => "--value-schema",
        };
        if format.uses_registry() && registry.is_none() {
            return Err(SchemaError::Config {
                key: "--schema-registry".into(),
                reason: "the confluent formats need a Schema Registry URL".into(),
            });
        }
        let needs_schema = match format {
            Format::Json => false,
            Format::Avro => true,
            Format::AvroConfluent | Format::JsonConfluent => !from_registry,
        };
        if needs_schema && schema.is_none() {
            return Err(SchemaError::Config {
                key: flag.into(),
                reason: "this format needs a schema file".into(),
            });
        }
        let (avro, json_schema) = match (format, schema) {
            (Format::Avro | Format::AvroConfluent, Some(text)) => (Some(Arc::new(AvroSchema::parse(text)?)), None),
            (Format::JsonConfluent, Some(text)) => {
                serde_json::from_str::<Json>(text).map_err(|e| SchemaError::InvalidSchema(format!("not JSON: {e}")))?;
                (None, Some(text.to_owned()))
            }
            _ => (None, None),
        };
        Ok(JsonEncoder {
            format,
            role,
            avro,
            json_schema,
            registry,
            options,
            mapping,
            topics: Mutex::new(HashMap::new()),
        })
    }

    /// The encoder's format.
    pub fn format(&self) -> Format {
        self.format
    }

    fn subject(&self, topic: &str) -> Result<String, SchemaError> {
        let record_name = match (&self.avro, &self.json_schema) {
            (Some(a), _) => a.full_name(),
            (None, Some(j)) => serde_json::from_str::<Json>(j)
                .ok()
                .and_then(|v| v.get("title").and_then(Json::as_str).map(str::to_owned)),
            _ => None,
        };
        self.options
            .subject_strategy
            .subject(topic, self.role, record_name.as_deref())
    }

    /// Resolves (and caches) what `topic` is written with: registers or looks up the schema.
    ///
    /// # Errors
    /// The registry's errors ([`SchemaError::Registry`], [`SchemaError::Unreachable`]), or
    /// [`SchemaError::InvalidSchema`] for a registry schema that does not parse.
    pub async fn prepare(&self, topic: &str) -> Result<Arc<Resolved>, SchemaError> {
        if let Some(r) = self
            .topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
        {
            return Ok(Arc::clone(r));
        }
        let resolved = match (&self.registry, self.format.uses_registry()) {
            (Some(reg), true) => {
                let schema_type = match self.format {
                    Format::JsonConfluent => SchemaType::Json,
                    _ => SchemaType::Avro,
                };
                let o = &self.options;
                let got = if let Some(id) = o.use_schema_id {
                    reg.schema_by_id(id).await?
                } else {
                    let subject = self.subject(topic)?;
                    if o.use_latest_version {
                        reg.latest(&subject).await?
                    } else if let Some(v) = o.use_schema_version {
                        reg.version(&subject, v).await?
                    } else {
                        let text = match (&self.avro, &self.json_schema) {
                            (Some(a), _) => a.text().to_owned(),
                            (None, Some(j)) => j.clone(),
                            _ => return Err(SchemaError::NotPrepared(topic.to_owned())),
                        };
                        register_or_lookup(reg, &subject, &text, schema_type, o).await?
                    }
                };
                if got.schema_type != schema_type {
                    return Err(SchemaError::InvalidSchema(format!(
                        "schema id {} is a {:?} schema, not {:?}",
                        got.id, got.schema_type, schema_type
                    )));
                }
                let avro = match (self.format, &self.avro) {
                    (Format::AvroConfluent, Some(local)) if local.text() == got.schema => Some(Arc::clone(local)),
                    (Format::AvroConfluent, _) => Some(Arc::new(AvroSchema::parse(&got.schema)?)),
                    _ => None,
                };
                Resolved { id: Some(got.id), avro }
            }
            _ => Resolved {
                id: None,
                avro: self.avro.clone(),
            },
        };
        let r = Arc::new(resolved);
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned(), Arc::clone(&r));
        Ok(r)
    }

    /// Encodes one JSON document (`raw` is its text, `value` the parsed form) for a resolved
    /// topic, appending to `out`. On error `out` is unchanged.
    ///
    /// # Errors
    /// [`SchemaError::Value`] naming the field that does not fit the schema.
    pub fn encode(&self, r: &Resolved, value: &Json, raw: &[u8], out: &mut Vec<u8>) -> Result<(), SchemaError> {
        let mark = out.len();
        if let Some(id) = r.id {
            frame_into(id, out);
        }
        let res = match (self.format, &r.avro) {
            (Format::Avro | Format::AvroConfluent, Some(a)) => a.encode_json(value, self.mapping, out),
            (Format::Avro | Format::AvroConfluent, None) => Err(SchemaError::InvalidSchema("no Avro schema".into())),
            (Format::Json | Format::JsonConfluent, _) => {
                out.extend_from_slice(raw);
                Ok(())
            }
        };
        if res.is_err() {
            out.truncate(mark);
        }
        res
    }
}

/// The schema ids one serializer writes with, per topic: registered or looked up once.
#[derive(Debug)]
struct TopicIds {
    registry: Arc<RegistryClient>,
    options: RegistryOptions,
    role: Role,
    schema_text: String,
    schema_type: SchemaType,
    record_name: Option<String>,
    ids: Mutex<HashMap<String, u32>>,
}

impl TopicIds {
    async fn prepare(&self, topic: &str) -> Result<u32, SchemaError> {
        if let Some(id) = self.get(topic) {
            return Ok(id);
        }
        let subject = self
            .options
            .subject_strategy
            .subject(topic, self.role, self.record_name.as_deref())?;
        let got = register_or_lookup(
            &self.registry,
            &subject,
            &self.schema_text,
            self.schema_type,
            &self.options,
        )
        .await?;
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned(), got.id);
        Ok(got.id)
    }

    fn get(&self, topic: &str) -> Option<u32> {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(topic)
            .copied()
    }

    /// The framing for `topic`, which must have been prepared.
    fn frame(&self, topic: &str, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        let id = self
            .get(topic)
            .ok_or_else(|| SchemaError::NotPrepared(topic.to_owned()))?;
        frame_into(id, out);
        Ok(())
    }
}

/// An Avro serializer for Rust values (`serde::Serialize`), plain or in Confluent framing, for
/// use as a [`volley::Producer`] serializer.
///
/// The Avro schema comes from a string or file, or is derived for the type
/// (`apache_avro::AvroSchema`). For the framed form call [`prepare`](Self::prepare) once per
/// topic before sending (it registers or looks the schema up);
/// [`volley::Serializer::serialize`] then needs no network.
#[derive(Debug)]
pub struct AvroSerializer {
    schema: Arc<AvroSchema>,
    framing: Option<TopicIds>,
}

impl AvroSerializer {
    /// Plain Avro binary (no registry, no framing).
    pub fn plain(schema: AvroSchema) -> Self {
        AvroSerializer {
            schema: Arc::new(schema),
            framing: None,
        }
    }

    /// Confluent framing with a schema id from `registry`.
    pub fn confluent(schema: AvroSchema, registry: Arc<RegistryClient>, options: RegistryOptions, role: Role) -> Self {
        let framing = TopicIds {
            registry,
            options,
            role,
            schema_text: schema.text().to_owned(),
            schema_type: SchemaType::Avro,
            record_name: schema.full_name(),
            ids: Mutex::new(HashMap::new()),
        };
        AvroSerializer {
            schema: Arc::new(schema),
            framing: Some(framing),
        }
    }

    /// A schema derived for `T` by `apache_avro`'s `AvroSchema` derive.
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] if the derived schema has unresolved names.
    pub fn schema_for<T: apache_avro::AvroSchema>() -> Result<AvroSchema, SchemaError> {
        let s = T::get_schema();
        let text = s.canonical_form();
        AvroSchema::from_schema(s, text)
    }

    /// Registers or looks up the schema for `topic` (no-op for plain Avro).
    ///
    /// # Errors
    /// The registry's errors.
    pub async fn prepare(&self, topic: &str) -> Result<(), SchemaError> {
        match &self.framing {
            Some(f) => f.prepare(topic).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// Serializes one value.
    ///
    /// # Errors
    /// [`SchemaError::Value`] when the value does not fit the schema, [`SchemaError::NotPrepared`]
    /// for a Confluent serializer used on a topic it has not prepared.
    pub fn to_bytes<T: serde::Serialize>(&self, topic: &str, value: &T) -> Result<Bytes, SchemaError> {
        let value_error = |e: apache_avro::Error| SchemaError::Value(crate::FieldError::new(e.to_string()));
        let writer = apache_avro::writer::datum::GenericDatumWriter::builder(self.schema.schema())
            .build()
            .map_err(value_error)?;
        let datum = writer.write_ser_to_vec(value).map_err(value_error)?;
        let Some(f) = &self.framing else {
            return Ok(Bytes::from(datum));
        };
        let mut out = Vec::with_capacity(5 + datum.len());
        f.frame(topic, &mut out)?;
        out.extend_from_slice(&datum);
        Ok(Bytes::from(out))
    }
}

impl<T: serde::Serialize> volley::Serializer<T> for AvroSerializer {
    fn serialize(&self, topic: &str, value: &T) -> Result<Bytes, volley::Error> {
        self.to_bytes(topic, value).map_err(Into::into)
    }
}

/// JSON for Rust values (`serde::Serialize`, `serde_json::Value`) in Confluent's JSON Schema
/// framing; plain JSON is [`volley::JsonSerializer`]. Call [`prepare`](Self::prepare) once
/// per topic before sending. Values are not validated against the JSON Schema.
#[derive(Debug)]
pub struct JsonSchemaSerializer {
    framing: TopicIds,
}

impl JsonSchemaSerializer {
    /// A serializer registering (or looking up) `json_schema` in `registry`.
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] when the schema is not JSON.
    pub fn new(
        json_schema: &str,
        registry: Arc<RegistryClient>,
        options: RegistryOptions,
        role: Role,
    ) -> Result<Self, SchemaError> {
        let parsed: Json =
            serde_json::from_str(json_schema).map_err(|e| SchemaError::InvalidSchema(format!("not JSON: {e}")))?;
        Ok(JsonSchemaSerializer {
            framing: TopicIds {
                registry,
                options,
                role,
                schema_text: json_schema.to_owned(),
                schema_type: SchemaType::Json,
                record_name: parsed.get("title").and_then(Json::as_str).map(str::to_owned),
                ids: Mutex::new(HashMap::new()),
            },
        })
    }

    /// Registers or looks up the schema for `topic`.
    ///
    /// # Errors
    /// The registry's errors.
    pub async fn prepare(&self, topic: &str) -> Result<(), SchemaError> {
        self.framing.prepare(topic).await.map(|_| ())
    }
}

impl<T: serde::Serialize + ?Sized> volley::Serializer<T> for JsonSchemaSerializer {
    fn serialize(&self, topic: &str, value: &T) -> Result<Bytes, volley::Error> {
        let mut out = Vec::with_capacity(64);
        self.framing.frame(topic, &mut out)?;
        serde_json::to_writer(&mut out, value).map_err(|e| volley::Error::Serialization(e.to_string()))?;
        Ok(Bytes::from(out))
    }
}

/// The magic byte check of a Confluent-framed payload: its schema id and body.
///
/// # Errors
/// [`SchemaError::BadAnswer`] for a payload too short or without the magic byte.
pub fn unframe(payload: &[u8]) -> Result<(u32, &[u8]), SchemaError> {
    match payload {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => Err(SchemaError::BadAnswer(
            "not in Confluent framing (magic byte 0 and a 4-byte id)".into(),
        )),
    }
}
