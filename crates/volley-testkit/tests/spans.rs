//! Spans of the sender (issue 13), in a test binary of their own: tracing caches each
//! callsite's interest process-wide, and a test on another thread hitting the same callsites
//! while this one installs its thread-local subscriber could leave one uncounted.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::producer;
use volley::ProducerRecord;
use volley_protocol::ErrorCode;
use volley_testkit::fake::{Action, FakeCluster};

const PRODUCE: i16 = 0;

/// Spans: one `produce_request` per Produce request (broker, correlation id, partitions,
/// records, bytes, outcome), and a `batch_retry` span around a retry.
#[tokio::test]
async fn each_produce_request_has_a_span() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    /// Span id → (name, fields).
    type Seen = HashMap<u64, (String, HashMap<String, String>)>;
    #[derive(Default, Clone)]
    struct Spans(Arc<Mutex<Seen>>);
    struct Fields<'a>(&'a mut HashMap<String, String>);
    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
            self.0.insert(f.name().to_owned(), format!("{v:?}"));
        }
    }
    impl<S: tracing::Subscriber> Layer<S> for Spans {
        fn on_new_span(&self, a: &tracing::span::Attributes<'_>, id: &tracing::span::Id, _: Context<'_, S>) {
            let mut m = HashMap::new();
            a.record(&mut Fields(&mut m));
            self.0
                .lock()
                .expect("spans")
                .insert(id.into_u64(), (a.metadata().name().to_owned(), m));
        }
        fn on_record(&self, id: &tracing::span::Id, v: &tracing::span::Record<'_>, _: Context<'_, S>) {
            if let Some((_, m)) = self.0.lock().expect("spans").get_mut(&id.into_u64()) {
                v.record(&mut Fields(m));
            }
        }
    }
    let spans = Spans::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(
            spans
                .clone()
                .with_filter(tracing_subscriber::filter::LevelFilter::DEBUG),
        ),
    );
    let c = FakeCluster::start(1).await;
    c.create_topic("s", 1);
    let first = Arc::new(AtomicU32::new(0));
    let n = Arc::clone(&first);
    c.set_hook(move |r| {
        if r.api_key == PRODUCE && n.fetch_add(1, Ordering::SeqCst) == 0 {
            Action::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        } else {
            Action::Respond
        }
    });
    let p = producer(&c, &[("linger.ms", "0")]);
    p.send(ProducerRecord::new("s", "v").key("k"))
        .await
        .expect("send")
        .await
        .expect("delivered after a retry");
    p.close(Duration::from_secs(2)).await;
    let all = spans.0.lock().expect("spans").clone();
    let produce: Vec<_> = all.values().filter(|(n, _)| n == "produce_request").collect();
    assert_eq!(produce.len(), 2, "the refused request and its retry: {all:?}");
    for (_, f) in &produce {
        for k in ["broker", "correlation_id", "partitions", "records", "bytes"] {
            assert!(f.contains_key(k), "{k} in {f:?}");
        }
        assert_eq!(f.get("records").map(String::as_str), Some("1"));
        assert_eq!(f.get("outcome").map(String::as_str), Some("\"answered\""), "{f:?}");
    }
    assert!(
        all.values()
            .any(|(n, f)| n == "batch_retry" && f.get("partition").map(String::as_str) == Some("0")),
        "{all:?}"
    );
}
