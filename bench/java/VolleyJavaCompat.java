// The Java producer's side of Volley's side-by-side comparison (crates/volley/tests/java_compat.rs).
//
// Usage: java -cp 'KAFKA_LIB/*:CLASSES' VolleyJavaCompat KEYS CONFIGS OUT
//
// KEYS: first line "counts N1 N2 ...", then one key per line: "b HEX" (bytes) or "s HEX"
// (bytes that are UTF-8 text). CONFIGS: one producer configuration per line, a name, then
// tab-separated HEX(key)=HEX(value) pairs. Hex keeps every byte and character intact.
//
// OUT receives JSON lines (a file, not stdout, so that whatever logging binding is on the
// class path cannot mix into the answers):
//   {"key":I,"murmur2":H,"partitions":[P1,P2,...]}            for every key, in order
//       (partitions from BuiltInPartitioner.partitionForKey, the default partitioner's
//       keyed path; for "s" keys also "string_partitions", through StringSerializer)
//   {"config":NAME,"verdict":"accept"|"reject","exception":CLASS,"message":MSG,"idempotence":B}
//       (construct KafkaProducer with ByteArraySerializers, then close it; "idempotence" is
//       enable.idempotence as ProducerConfig resolved it, for accepted configurations)

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;

public final class VolleyJavaCompat {
    private VolleyJavaCompat() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: VolleyJavaCompat KEYS CONFIGS OUT");
            System.exit(2);
        }
        try (BufferedWriter out = Files.newBufferedWriter(Paths.get(args[2]), StandardCharsets.UTF_8)) {
            keys(args[0], out);
            configs(args[1], out);
        }
    }

    private static void keys(String path, BufferedWriter out) throws IOException {
        StringSerializer strings = new StringSerializer();
        try (BufferedReader in = Files.newBufferedReader(Paths.get(path), StandardCharsets.UTF_8)) {
            String[] head = in.readLine().split(" ");
            int[] counts = new int[head.length - 1];
            for (int i = 1; i < head.length; i++) {
                counts[i - 1] = Integer.parseInt(head[i]);
            }
            StringBuilder line = new StringBuilder();
            int index = 0;
            for (String l; (l = in.readLine()) != null; index++) {
                byte[] key = unhex(l.substring(2));
                line.setLength(0);
                line.append("{\"key\":").append(index).append(",\"murmur2\":").append(Utils.murmur2(key));
                partitions(line, "partitions", key, counts);
                if (l.charAt(0) == 's') {
                    String text = new String(key, StandardCharsets.UTF_8);
                    partitions(line, "string_partitions", strings.serialize("t", text), counts);
                }
                out.write(line.append("}\n").toString());
            }
        }
    }

    private static void partitions(StringBuilder line, String name, byte[] key, int[] counts) {
        line.append(",\"").append(name).append("\":[");
        for (int i = 0; i < counts.length; i++) {
            if (i > 0) {
                line.append(',');
            }
            line.append(BuiltInPartitioner.partitionForKey(key, counts[i]));
        }
        line.append(']');
    }

    private static void configs(String path, BufferedWriter out) throws IOException {
        for (String l : Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8)) {
            String[] fields = l.split("\t", -1);
            Properties props = new Properties();
            for (int i = 1; i < fields.length; i++) {
                String[] kv = fields[i].split("=", 2);
                props.setProperty(text(kv[0]), text(kv[1]));
            }
            StringBuilder line = new StringBuilder("{\"config\":").append(json(fields[0]));
            try {
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())
                    .close(Duration.ZERO);
                Properties resolved = new Properties();
                resolved.putAll(props);
                resolved.setProperty("key.serializer", ByteArraySerializer.class.getName());
                resolved.setProperty("value.serializer", ByteArraySerializer.class.getName());
                boolean idempotence = new ProducerConfig(resolved).getBoolean("enable.idempotence");
                line.append(",\"verdict\":\"accept\",\"idempotence\":").append(idempotence);
            } catch (Exception e) {
                // KafkaProducer wraps what fails after ProducerConfig (bootstrap addresses,
                // delivery timeout, security set-up) in a KafkaException: report the
                // ConfigException inside, or else the innermost cause.
                Throwable cause = e;
                for (Throwable t = e; t != null; t = t.getCause()) {
                    cause = t;
                    if (t instanceof ConfigException) {
                        break;
                    }
                }
                line.append(",\"verdict\":\"reject\",\"exception\":").append(json(cause.getClass().getSimpleName()))
                    .append(",\"message\":").append(json(String.valueOf(cause.getMessage())));
            }
            out.write(line.append("}\n").toString());
        }
    }

    private static String text(String hex) {
        return new String(unhex(hex), StandardCharsets.UTF_8);
    }

    private static byte[] unhex(String hex) {
        byte[] b = new byte[hex.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    private static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
