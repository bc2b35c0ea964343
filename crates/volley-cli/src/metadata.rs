//! `volley metadata`: brokers, controller, topics, partitions, leaders, replicas and ISR
//! (like `kcat -L`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use volley::describe::ClusterDescription;

/// Arguments of `volley metadata`.
#[derive(Debug, clap::Args)]
pub(crate) struct MetadataArgs {
    /// Brokers to bootstrap from: HOST[:PORT][,HOST[:PORT]...] (no port: 9092); may come from
    /// bootstrap.servers in --producer-config or -X instead.
    #[arg(short = 'b', long)]
    bootstrap_servers: Option<String>,
    /// Only this topic (repeatable; default: every topic).
    #[arg(short = 't', long)]
    topic: Vec<String>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// One client property, key=value (repeatable): security settings, timeouts.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// Read client properties from a Java .properties file.
    #[arg(long, value_name = "FILE")]
    producer_config: Option<PathBuf>,
}

fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The text form, close to `kcat -L`.
fn text(d: &ClusterDescription) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let controller = d.controller_id.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    let _ = writeln!(s, "Metadata from {} (controller: {controller}):", d.answered_by);
    let _ = writeln!(s, " {} brokers:", d.brokers.len());
    for b in &d.brokers {
        let tag = if d.controller_id == Some(b.id) {
            " (controller)"
        } else {
            ""
        };
        let _ = writeln!(s, "  broker {} at {}:{}{tag}", b.id, b.host, b.port);
    }
    let _ = writeln!(s, " {} topics:", d.topics.len());
    for t in &d.topics {
        let err = t.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        let _ = writeln!(s, "  topic \"{}\" with {} partitions{err}", t.name, t.partitions.len());
        for p in &t.partitions {
            let leader = p.leader.map_or_else(|| "none".to_owned(), |l| l.to_string());
            let err = p.error.as_deref().map(|e| format!(", error {e}")).unwrap_or_default();
            let _ = writeln!(
                s,
                "    partition {}, leader {leader}, replicas: {}, isrs: {}{err}",
                p.partition,
                ids(&p.replicas),
                ids(&p.isr)
            );
        }
    }
    s
}

/// The JSON form.
fn to_json(d: &ClusterDescription) -> serde_json::Value {
    json!({
        "answered_by": d.answered_by,
        "controller_id": d.controller_id,
        "brokers": d.brokers.iter().map(|b| json!({"id": b.id, "host": b.host, "port": b.port})).collect::<Vec<_>>(),
        "topics": d.topics.iter().map(|t| json!({
            "name": t.name,
            "error": t.error,
            "partitions": t.partitions.iter().map(|p| json!({
                "partition": p.partition,
                "leader": p.leader,
                "leader_epoch": p.leader_epoch,
                "replicas": p.replicas,
                "isr": p.isr,
                "offline_replicas": p.offline_replicas,
                "error": p.error,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// Runs `volley metadata`: exit 0, 1 when the cluster cannot be reached or a topic asked
/// for has an error, 2 for a usage error.
pub(crate) async fn run(a: MetadataArgs) -> ExitCode {
    let extra: Vec<(String, String)> = a
        .bootstrap_servers
        .iter()
        .map(|b| ("bootstrap.servers".to_owned(), b.clone()))
        .collect();
    let config = match crate::produce::config_from(a.producer_config.as_ref(), &a.properties, extra) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let topics = (!a.topic.is_empty()).then_some(&a.topic[..]);
    let d = match volley::describe_cluster(&config, topics).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let out = if a.json { format!("{}\n", to_json(&d)) } else { text(&d) };
    let written = crate::write_stdout(out.as_bytes());
    if written != ExitCode::SUCCESS || d.topics.iter().any(|t| t.error.is_some()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
