//! Formatting a node's storage (`StorageTool format`), with the features a test asks for.

use std::path::Path;

use super::{cluster_id, io, KafkaError, KafkaInstall, Role};

/// Formats a node's log dir. A controller (or combined node) goes through
/// `StorageTool format --standalone` (it writes the bootstrap metadata and the voter set); a
/// broker-only node needs only the `meta.properties` that the same tool writes for it in
/// 4.x, written here to save a JVM per broker.
pub(super) fn format_storage(
    install: &KafkaInstall,
    cid: &str,
    id: i32,
    role: Role,
    dir: &Path,
    features: &[(String, i16)],
) -> Result<(), KafkaError> {
    if role == Role::Broker {
        let dir_id = cluster_id();
        let meta = format!("#\nnode.id={id}\ndirectory.id={dir_id}\nversion=1\ncluster.id={cid}\n");
        let path = dir.join("data/meta.properties");
        return std::fs::write(&path, meta).map_err(io(format!("writing {}", path.display())));
    }
    let mut tool = install.java("kafka.tools.StorageTool");
    tool.args(["format", "--standalone", "-t", cid, "-c"])
        .arg(dir.join("server.properties"));
    for (name, level) in features {
        // e.g. transaction.version=1: the pre-KIP-890 transaction protocol.
        tool.arg("--feature").arg(format!("{name}={level}"));
    }
    let out = tool.output().map_err(io("running java (is Java 17+ on PATH?)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(KafkaError::Tool {
            what: format!("StorageTool format of node {id}"),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}
