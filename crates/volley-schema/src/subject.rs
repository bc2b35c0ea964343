//! Subject name strategies: which registry subject a topic's schema lives under.

use crate::error::SchemaError;
use crate::serializer::Role;

/// Confluent's subject name strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
    /// `<topic>-<record full name>`.
    TopicRecordName,
}

impl SubjectStrategy {
    /// Parses a strategy by its short name or Java class name.
    pub fn parse(s: &str) -> Option<Self> {
        match s.rsplit('.').next().unwrap_or(s) {
            "TopicNameStrategy" => Some(SubjectStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectStrategy::TopicRecordName),
            _ => None,
        }
    }

    /// The subject for `topic`; `record_name` is the schema's full name (Avro) or title (JSON Schema).
    ///
    /// # Errors
    /// [`SchemaError::Config`] when a record-name strategy meets a schema without a name.
    pub fn subject(self, topic: &str, role: Role, record_name: Option<&str>) -> Result<String, SchemaError> {
        let name = || {
            record_name.ok_or_else(|| SchemaError::Config {
                key: "subject.name.strategy".into(),
                reason: "RecordNameStrategy and TopicRecordNameStrategy need a named schema (an Avro record, enum or \
                         fixed, or a JSON Schema with a title)"
                    .into(),
            })
        };
        Ok(match self {
            SubjectStrategy::TopicName => match role {
                Role::Key => format!("{topic}-key"),
                Role::Value => format!("{topic}-value"),
            },
            SubjectStrategy::RecordName => name()?.to_owned(),
            SubjectStrategy::TopicRecordName => format!("{topic}-{}", name()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        let s = SubjectStrategy::parse("io.confluent.kafka.serializers.subject.TopicRecordNameStrategy").unwrap();
        assert_eq!(s.subject("t", Role::Value, Some("a.B")).unwrap(), "t-a.B");
        assert_eq!(
            SubjectStrategy::TopicName.subject("t", Role::Key, None).unwrap(),
            "t-key"
        );
        assert_eq!(
            SubjectStrategy::RecordName
                .subject("t", Role::Value, Some("a.B"))
                .unwrap(),
            "a.B"
        );
        assert!(SubjectStrategy::RecordName.subject("t", Role::Value, None).is_err());
        assert_eq!(SubjectStrategy::parse("Nope"), None);
    }
}
