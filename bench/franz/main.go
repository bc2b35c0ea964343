// Command volley-franz drives franz-go (kgo) through the workload of `volley perf` and prints
// the same JSON object, so bench/run can put it beside Volley: records i uses key
// key-(i mod keys) and payload line (i mod lines) of --payload-file (or one buffer of random
// uppercase letters of --record-size), every record's send-to-acknowledgement latency is
// kept, and CPU time and peak RSS are the process's own (getrusage).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type props map[string]string

func (p props) String() string { return fmt.Sprint(map[string]string(p)) }
func (p props) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("property %q is not key=value", kv)
	}
	p[k] = v
	return nil
}

func cannot(msg string) {
	fmt.Fprintln(os.Stderr, "cannot: "+msg)
	os.Exit(3)
}

func payloads(file string, size int) [][]byte {
	if file == "" {
		r := rand.New(rand.NewSource(0))
		b := make([]byte, size)
		for i := range b {
			b[i] = byte('A' + r.Intn(26))
		}
		return [][]byte{b}
	}
	f, err := os.Open(file)
	if err != nil {
		cannot(err.Error())
	}
	defer f.Close()
	var out [][]byte
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<24)
	for s.Scan() {
		if len(s.Bytes()) > 0 {
			out = append(out, append([]byte(nil), s.Bytes()...))
		}
	}
	if len(out) == 0 {
		cannot("the payload file has no lines")
	}
	return out
}

func main() {
	p := props{}
	bootstrap := flag.String("bootstrap-servers", "", "")
	topic := flag.String("topic", "", "")
	n := flag.Int("num-records", 0, "")
	size := flag.Int("record-size", 0, "")
	file := flag.String("payload-file", "", "")
	keys := flag.Int("keys", 0, "")
	throughput := flag.Int("throughput", -1, "")
	flag.Var(p, "X", "property key=value (Java names)")
	flag.Parse()
	if *throughput > 0 {
		cannot("--throughput is not built in this driver")
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(*bootstrap, ",")...),
		kgo.MaxBufferedRecords(1 << 20),
	}
	for k, v := range p {
		switch k {
		case "acks":
			switch v {
			case "all", "-1":
				opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
			case "1":
				opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
			case "0":
				opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
			default:
				cannot("acks=" + v)
			}
		case "enable.idempotence":
			if v == "false" {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
		case "compression.type":
			c := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
				"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}
			codec, ok := c[v]
			if !ok {
				cannot("compression.type=" + v)
			}
			opts = append(opts, kgo.ProducerBatchCompression(codec))
		case "batch.size":
			b, err := strconv.Atoi(v)
			if err != nil {
				cannot("batch.size=" + v)
			}
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(b)))
		case "linger.ms":
			ms, err := strconv.Atoi(v)
			if err != nil {
				cannot("linger.ms=" + v)
			}
			opts = append(opts, kgo.ProducerLinger(time.Duration(ms)*time.Millisecond))
		default:
			cannot("property " + k + " is not mapped for franz-go")
		}
	}
	values := payloads(*file, *size)
	keyNames := make([][]byte, *keys)
	for i := range keyNames {
		keyNames[i] = []byte("key-" + strconv.Itoa(i))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		cannot(err.Error())
	}
	lat := make([]int64, *n)
	var failed atomic.Int64
	var firstErr sync.Once
	var firstMsg string
	var bytes int64
	var wg sync.WaitGroup
	wg.Add(*n)
	topics := strings.Split(*topic, ",")
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < *n; i++ {
		r := &kgo.Record{Topic: topics[i%len(topics)], Value: values[i%len(values)]}
		if *keys > 0 {
			r.Key = keyNames[i%*keys]
		}
		bytes += int64(len(r.Value))
		sent := time.Now()
		idx := i
		client.Produce(ctx, r, func(_ *kgo.Record, err error) {
			lat[idx] = int64(time.Since(sent))
			if err != nil {
				failed.Add(1)
				firstErr.Do(func() { firstMsg = err.Error() })
			}
			wg.Done()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	client.Close()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(q * float64(len(lat)-1))
		return float64(lat[i]) / 1e6
	}
	ok := int64(*n) - failed.Load()
	out := map[string]any{
		"client":                  "franz-go",
		"records":                 ok,
		"failed":                  failed.Load(),
		"seconds":                 elapsed,
		"records_per_sec":         float64(ok) / elapsed,
		"mb_per_sec":              float64(bytes) / elapsed / 1048576,
		"cpu_seconds_per_million": cpu / float64(max(ok, 1)) * 1e6,
		"peak_rss_bytes":          ru.Maxrss * 1024,
		"latency_ms":              map[string]float64{"p50": pct(0.5), "p99": pct(0.99), "p999": pct(0.999), "max": pct(1)},
	}
	if firstMsg != "" {
		out["first_error"] = firstMsg
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
