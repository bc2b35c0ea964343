// The Java producer (kafka-clients, the version scripts/install fetched) through the workload
// of `volley perf`, printing the same JSON object so bench/run can put it beside Volley.
// Record i has key key-(i mod keys) and payload line (i mod lines) of --payload-file (or one
// buffer of random uppercase letters of --record-size); every record's send-to-acknowledgement
// latency is kept. CPU is the process's CPU time from before the producer is built to after
// close (the JVM's own start is left out; the producer's JIT warm-up is in), peak RSS the
// process's high-water mark (VmHWM).
//
// Build and run (bench/run does this):
//   javac -cp '.volley/kafka/lib/*' -d .volley/java-bench bench/java/VolleyJavaPerf.java
//   java -cp '.volley/java-bench:.volley/kafka/lib/*' VolleyJavaPerf --bootstrap-servers B --topic T ...

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class VolleyJavaPerf {
    private static void cannot(String why) {
        System.err.println("cannot: " + why);
        System.exit(3);
    }

    private static List<byte[]> payloads(String file, int size) throws Exception {
        List<byte[]> out = new ArrayList<>();
        if (file == null) {
            Random r = new Random(0);
            byte[] b = new byte[size];
            for (int i = 0; i < size; i++) {
                b[i] = (byte) ('A' + r.nextInt(26));
            }
            out.add(b);
            return out;
        }
        for (String line : Files.readAllLines(Path.of(file), StandardCharsets.UTF_8)) {
            if (!line.isEmpty()) {
                out.add(line.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (out.isEmpty()) {
            cannot("the payload file has no lines");
        }
        return out;
    }

    private static long peakRss() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }

    private static double cpuSeconds() {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        return os.getProcessCpuTime() / 1e9;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = null, topic = null, file = null;
        long n = 0;
        int size = 0, keys = 0;
        // Transactions: --transactional-id, and a commit every --transaction-records records
        // or --transaction-duration-ms, whichever comes first (Kafka's perf tool has the
        // duration only).
        String txnId = null;
        long txnRecords = 0, txnMs = 0;
        Properties props = new Properties();
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--bootstrap-servers" -> bootstrap = v;
                case "--topic" -> topic = v;
                case "--num-records" -> n = Long.parseLong(v);
                case "--record-size" -> size = Integer.parseInt(v);
                case "--payload-file" -> file = v;
                case "--keys" -> keys = Integer.parseInt(v);
                case "--transactional-id" -> txnId = v;
                case "--transaction-records" -> txnRecords = Long.parseLong(v);
                case "--transaction-duration-ms" -> txnMs = Long.parseLong(v);
                case "--throughput" -> {
                    if (Long.parseLong(v) > 0) {
                        cannot("--throughput is not built in this driver");
                    }
                }
                case "-X" -> {
                    int eq = v.indexOf('=');
                    props.put(v.substring(0, eq), v.substring(eq + 1));
                }
                default -> cannot("unknown flag " + args[i]);
            }
        }
        List<byte[]> values = payloads(file, size);
        byte[][] keyBytes = new byte[keys][];
        for (int k = 0; k < keys; k++) {
            keyBytes[k] = ("key-" + k).getBytes(StandardCharsets.UTF_8);
        }
        props.put("bootstrap.servers", bootstrap);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        if (txnId != null) {
            props.put("transactional.id", txnId);
        }
        double cpu0 = cpuSeconds();
        long[] lat = new long[(int) n];
        AtomicLong failed = new AtomicLong();
        AtomicReference<String> first = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch((int) n);
        long bytes = 0;
        long start = System.nanoTime();
        String[] topics = topic.split(",");
        long commits = 0;
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(props)) {
            if (txnId != null) {
                p.initTransactions();
            }
            long inTxn = 0, txnStart = 0;
            for (int i = 0; i < n; i++) {
                if (txnId != null && inTxn == 0) {
                    p.beginTransaction();
                    txnStart = System.nanoTime();
                }
                byte[] value = values.get(i % values.size());
                byte[] key = keys > 0 ? keyBytes[i % keys] : null;
                bytes += value.length;
                final int idx = i;
                final long sent = System.nanoTime();
                p.send(new ProducerRecord<>(topics[i % topics.length], key, value), (meta, e) -> {
                    lat[idx] = System.nanoTime() - sent;
                    if (e != null) {
                        failed.incrementAndGet();
                        first.compareAndSet(null, e.toString());
                    }
                    done.countDown();
                });
                if (txnId != null) {
                    inTxn++;
                    boolean full = txnRecords > 0 && inTxn >= txnRecords;
                    boolean old = txnMs > 0 && System.nanoTime() - txnStart >= txnMs * 1_000_000L;
                    if (full || old || i == n - 1) {
                        p.commitTransaction();
                        commits++;
                        inTxn = 0;
                    }
                }
            }
            done.await();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        double cpu = cpuSeconds() - cpu0;
        Arrays.sort(lat);
        long ok = n - failed.get();
        java.util.function.DoubleUnaryOperator pct = q -> lat.length == 0 ? 0 : lat[(int) (q * (lat.length - 1))] / 1e6;
        StringBuilder out = new StringBuilder();
        out.append("{\"client\":\"java\",\"records\":").append(ok)
            .append(",\"failed\":").append(failed.get())
            .append(",\"transactions\":").append(commits)
            .append(",\"seconds\":").append(elapsed)
            .append(",\"records_per_sec\":").append(ok / elapsed)
            .append(",\"mb_per_sec\":").append(bytes / elapsed / 1048576.0)
            .append(",\"cpu_seconds_per_million\":").append(cpu / Math.max(ok, 1) * 1e6)
            .append(",\"peak_rss_bytes\":").append(peakRss())
            .append(",\"latency_ms\":{\"p50\":").append(pct.applyAsDouble(0.5))
            .append(",\"p99\":").append(pct.applyAsDouble(0.99))
            .append(",\"p999\":").append(pct.applyAsDouble(0.999))
            .append(",\"max\":").append(pct.applyAsDouble(1.0)).append("}");
        if (first.get() != null) {
            out.append(",\"first_error\":\"").append(first.get().replace("\\", "\\\\").replace("\"", "'")).append("\"");
        }
        System.out.println(out.append("}"));
    }
}
