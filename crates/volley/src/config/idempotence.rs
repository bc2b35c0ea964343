//! Whether the producer is idempotent and transactional, as the Java producer decides it:
//! idempotence is on by default and quietly off when `acks` or `retries` conflict with it
//! (unless it was asked for), and a `transactional.id` needs it.

use super::{invalid, ms, parse_bool, parse_int, Acks, ConfigError, ProducerConfig};

/// Applies `enable.idempotence`, `transactional.id` and `transaction.timeout.ms` to `c`,
/// whose other settings are read already.
pub(super) fn decide<'a>(c: &mut ProducerConfig, get: &dyn Fn(&str) -> Option<&'a str>) -> Result<(), ConfigError> {
    if let Some(v) = get("transactional.id") {
        // Java's NonEmptyString validator.
        if v.trim().is_empty() {
            return Err(invalid("transactional.id", v, "a non-empty transactional id"));
        }
        c.transactional_id = Some(v.to_owned());
    }
    if let Some(v) = get("transaction.timeout.ms") {
        // An INT without bounds in Java; the broker bounds it (transaction.max.timeout.ms)
        // and answers INVALID_TRANSACTION_TIMEOUT to InitProducerId when it is out of range.
        // A negative one is refused here (DESIGN.md: deliberate differences).
        c.transaction_timeout = ms(parse_int("transaction.timeout.ms", v, 0, i64::from(i32::MAX))?);
    }
    let explicit = get("enable.idempotence")
        .map(|v| parse_bool("enable.idempotence", v))
        .transpose()?;
    let mut conflicts = Vec::new();
    if c.acks != Acks::All {
        conflicts.push(format!("acks={}", c.acks));
    }
    if c.retries == 0 {
        conflicts.push("retries=0".to_owned());
    }
    if c.max_in_flight > 5 {
        conflicts.push(format!("max.in.flight.requests.per.connection={}", c.max_in_flight));
    }
    c.enable_idempotence = match explicit {
        Some(true) if !conflicts.is_empty() => {
            return Err(ConfigError::Conflict(format!(
                "enable.idempotence=true requires acks=all, retries > 0 and max.in.flight.requests.per.connection <= 5, but {} was set",
                conflicts.join(" and ")
            )))
        }
        Some(on) => on,
        None if c.max_in_flight > 5 => {
            // Kafka 4.x quietly turns idempotence off for acks and retries, never for this.
            return Err(ConfigError::Conflict(format!(
                "max.in.flight.requests.per.connection={} is over 5, the most the idempotent producer (on by default) allows; set enable.idempotence=false to use it",
                c.max_in_flight
            )));
        }
        None => {
            if !conflicts.is_empty() {
                tracing::info!(
                    "idempotence is off because {} was set (set enable.idempotence=true to make this an error)",
                    conflicts.join(" and ")
                );
            }
            conflicts.is_empty()
        }
    };
    if let Some(id) = &c.transactional_id {
        if !c.enable_idempotence {
            return Err(ConfigError::Conflict(format!(
                "transactional.id={id} needs idempotence, but {}",
                if get("enable.idempotence").is_some() {
                    "enable.idempotence=false was set".to_owned()
                } else {
                    format!("{} turned it off", conflicts.join(" and "))
                }
            )));
        }
    }
    Ok(())
}
