//! `volley`: produce records to Kafka from the command line, and find where keys land.

mod metadata;
mod perf;
mod produce;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};
use volley::{BuiltinPartitioner, Partitioner, PartitionerKind};

/// Volley: a fast, reliable Kafka producer.
#[derive(Debug, Parser)]
#[command(name = "volley", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Produce one record per input line.
    Produce(Box<produce::ProduceArgs>),
    /// Print the partition each key lands on.
    PartitionOf(PartitionOfArgs),
    /// Measure throughput and latency (like kafka-producer-perf-test).
    Perf(Box<perf::PerfArgs>),
    /// Print brokers, controller, topics, partitions, leaders, replicas and ISR (kcat -L).
    Metadata(metadata::MetadataArgs),
    /// Print a shell completion script: volley completions bash > /etc/bash_completion.d/volley
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), made from the same definitions as --help: volley man > volley.1
    Man,
}

/// Arguments of `volley partition-of`.
#[derive(Debug, clap::Args)]
struct PartitionOfArgs {
    /// Topic name (custom partitioners may use it).
    #[arg(long)]
    topic: String,
    /// Number of partitions of the topic.
    #[arg(long)]
    partitions: u32,
    /// Partitioner: default, murmur2_random, murmur2, consistent_random, consistent,
    /// fnv1a_random, fnv1a, random, round_robin.
    #[arg(long, default_value = "default")]
    partitioner: String,
    /// Keys (as UTF-8 text).
    #[arg(required = true)]
    keys: Vec<String>,
}

fn partition_of(a: &PartitionOfArgs) -> ExitCode {
    let Some(kind) = PartitionerKind::parse(&a.partitioner) else {
        eprintln!(
            "error: invalid value '{}' for '--partitioner': {}",
            a.partitioner,
            PartitionerKind::NAMES
        );
        return ExitCode::from(2);
    };
    if a.partitions == 0 {
        eprintln!("error: invalid value '0' for '--partitions': at least 1");
        return ExitCode::from(2);
    }
    let p = BuiltinPartitioner::new(kind, false);
    let mut out = String::new();
    for k in &a.keys {
        match p.partition(&a.topic, Some(k.as_bytes()), a.partitions) {
            Some(n) => out.push_str(&format!("{k}\t{n}\n")),
            None => out.push_str(&format!("{k}\tsticky (this partitioner treats the key as no key)\n")),
        }
    }
    write_stdout(out.as_bytes())
}

/// Writes `bytes` to standard output: exit 1 with a message if it cannot be written (a full
/// disk), 0 if the reader went away (`| head`), never a panic.
pub(crate) fn write_stdout(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(1)
        }
    }
}

/// The man page: `volley(1)` with a section per subcommand.
fn man_page(out: &mut Vec<u8>) -> std::io::Result<()> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("volley-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).bin_name(name);
        clap_mangen::Man::new(sub).render(out)?;
    }
    Ok(())
}

/// Runs an async command on a two-thread runtime. The runtime is not waited for at the
/// end: a blocking thread may still sit in a read of standard input.
fn run_async(fut: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(fut);
            rt.shutdown_background();
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(2)
        }
    }
}

/// The log filter: `VOLLEY_LOG`, else `RUST_LOG`, else WARN (the config's warnings are
/// printed by the commands as "warning: ..." lines, so the library's log of the same lines is
/// kept quiet by default). A filter that does not parse is reported and skipped.
fn log_filter() -> EnvFilter {
    for var in ["VOLLEY_LOG", "RUST_LOG"] {
        let Ok(v) = std::env::var(var) else { continue };
        if v.trim().is_empty() {
            continue;
        }
        match EnvFilter::try_new(&v) {
            Ok(f) => return f,
            Err(e) => eprintln!("warning: {var} is not a valid log filter ({e}); it is ignored"),
        }
    }
    EnvFilter::new("warn,volley::config=error")
}

/// Replaces the log filter once the config is read: its `debug` contexts (librdkafka's
/// `debug`) turn on the modules' log, unless `VOLLEY_LOG` or `RUST_LOG` chose a filter.
static LOG_RELOAD: std::sync::OnceLock<reload::Handle<EnvFilter, Registry>> = std::sync::OnceLock::new();

/// Applies the config's `debug` contexts to the log filter (see [`LOG_RELOAD`]).
pub(crate) fn apply_debug_contexts(config: &volley::ProducerConfig) {
    let Some(directives) = config.debug_log_filter() else {
        return;
    };
    let chosen = ["VOLLEY_LOG", "RUST_LOG"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    if chosen {
        return;
    }
    if let (Some(handle), Ok(filter)) = (
        LOG_RELOAD.get(),
        EnvFilter::try_new(format!("warn,volley::config=error,{directives}")),
    ) {
        let _ = handle.reload(filter);
    }
}

fn main() -> ExitCode {
    // Colours only on a terminal; a log line first erases `volley produce`'s live progress
    // line, if one is shown.
    let (filter, handle) = reload::Layer::new(log_filter());
    let _ = LOG_RELOAD.set(handle);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(produce::progress::clear_live_line),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::PartitionOf(a) => partition_of(&a),
        Command::Perf(a) => run_async(perf::run(*a)),
        Command::Produce(a) => run_async(produce::run(*a)),
        Command::Metadata(a) => run_async(metadata::run(a)),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "volley", &mut out);
            write_stdout(&out)
        }
        Command::Man => {
            let mut out = Vec::new();
            match man_page(&mut out) {
                Ok(()) => write_stdout(&out),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
