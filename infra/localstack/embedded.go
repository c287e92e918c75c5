package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/sirupsen/logrus"
	minidyn "github.com/truora/minidyn/server"
)

// AccountID is the account in the ARNs and queue URLs of both stacks
// (fauxqs hard-codes it; goaws is told to use it too).
const AccountID = "000000000000"

// startEmbedded serves minidyn and gofakes3 on listeners of their own and
// shares the process's one goaws (see acquireGoaws).
func (s *Stack) startEmbedded(o Options) error {
	ddb, closeDDB, err := serve(newDynamoShim(minidyn.NewServer()))
	if err != nil {
		return fmt.Errorf("dynamodb (minidyn): %w", err)
	}
	s.DynamoDBEndpoint = ddb
	s.onClose(closeDDB)

	faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	s3url, closeS3, err := serve(faker.Server())
	if err != nil {
		return fmt.Errorf("s3 (gofakes3): %w", err)
	}
	s.S3Endpoint = s3url
	s.onClose(closeS3)

	sqsURL, err := acquireGoaws(o.Region, o.Log)
	if err != nil {
		return fmt.Errorf("sqs (goaws): %w", err)
	}
	s.SQSEndpoint = sqsURL
	s.onClose(releaseGoaws)
	return nil
}

// serve runs h on a fresh loopback port and returns its base URL and a
// function that stops it.
func serve(h http.Handler) (string, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	url, stop := serveOn(ln, h)
	return url, stop, nil
}

// serveOn serves h on ln until the returned function is called.
func serveOn(ln net.Listener, h http.Handler) (string, func() error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() error {
		// Give in-flight requests a moment; an SQS long poll can hold a
		// connection for 20 s, which a Close should not wait for.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	}
	return "http://" + ln.Addr().String(), stop
}

// goaws keeps its queues and settings in package globals
// (models.CurrentEnvironment, models.SyncQueues, logrus's standard logger),
// so one process can hold one goaws only. Embedded stacks in one process
// therefore SHARE it, reference counted: the first Start serves it, later
// Starts get the same endpoint (and see the same queues, so concurrent users
// should use distinct queue names), and the last Close stops it and forgets
// every queue. A second stack asking for another region fails, since the
// region is global too; goaws's log lines go to the first stack's
// Options.Log.
var goaws struct {
	mu       sync.Mutex
	refs     int
	region   string
	endpoint string
	stop     func() error
	quit     chan bool
}

// goawsTick is how often goaws's housekeeping runs. Expired visibility
// timeouts (and so redrive to the DLQ) only take effect on a tick, so it is
// well below the 1 s granularity of VisibilityTimeout (goaws's own main uses
// 1 s, which would make a 1 s timeout last up to 2 s).
const goawsTick = 100 * time.Millisecond

func acquireGoaws(region string, log io.Writer) (string, error) {
	goaws.mu.Lock()
	defer goaws.mu.Unlock()
	if goaws.refs > 0 {
		if region != goaws.region {
			return "", fmt.Errorf("the process's one embedded SQS already runs in region %s, not %s (goaws keeps global state)", goaws.region, region)
		}
		goaws.refs++
		return goaws.endpoint, nil
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	// goaws logs every empty receive as a warning; only errors are worth
	// showing, and only where the caller sends emulator output.
	logrus.SetOutput(&childOutput{name: "goaws", log: &sharedLog{w: log}})
	logrus.SetLevel(logrus.ErrorLevel)

	models.ResetResources()
	models.CurrentEnvironment = models.Environment{
		Host:      "127.0.0.1",
		Port:      port,
		Region:    region,
		AccountID: AccountID,
		QueueAttributeDefaults: models.EnvQueueAttributes{
			// AWS's defaults; goaws's conf package would set the same from
			// a YAML file we do not have.
			VisibilityTimeout:      30,
			MaximumMessageSize:     262144,
			MessageRetentionPeriod: 345600,
		},
	}

	endpoint, stop := serveOn(ln, fixQueueURLs(router.New(), port))
	quit := make(chan bool)
	go gosqs.PeriodicTasks(goawsTick, quit)

	goaws.refs = 1
	goaws.region = region
	goaws.endpoint = endpoint
	goaws.quit = quit
	goaws.stop = stop
	return goaws.endpoint, nil
}

func releaseGoaws() error {
	goaws.mu.Lock()
	defer goaws.mu.Unlock()
	if goaws.refs == 0 {
		return errors.New("embedded SQS released more often than acquired")
	}
	goaws.refs--
	if goaws.refs > 0 {
		return nil
	}
	err := goaws.stop()
	close(goaws.quit)
	models.ResetResources()
	goaws.stop, goaws.quit, goaws.endpoint, goaws.region = nil, nil, "", ""
	return err
}

// fixQueueURLs repairs the queue URLs goaws returns. With a region set, goaws
// builds them as http://<region>.<host>:<port>/..., and
// "ap-northeast-2.127.0.0.1" resolves nowhere; without a region its ARNs
// lose theirs ("arn:aws:sqs::acct:name"). So goaws keeps the region (correct
// ARNs, which redrive policies name) and this rewrites the URLs in every
// response. goaws finds queues by the last path segment of a URL, so the
// repaired URLs work in requests as well.
func fixQueueURLs(next http.Handler, port string) http.Handler {
	fix := queueURLFixer(port)
	counts := &receiveCounts{n: map[string]int{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		if target == "AmazonSQS.DeleteMessage" || target == "AmazonSQS.DeleteMessageBatch" {
			// A deleted message is received no more: forget its count, so
			// a long make run does not keep one per message ever sent.
			in, err := io.ReadAll(r.Body)
			if err == nil {
				counts.forget(in)
			}
			r.Body = io.NopCloser(bytes.NewReader(in))
		}
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := fix(rec.body.Bytes())
		switch target {
		case "AmazonSQS.ReceiveMessage":
			if rec.status == http.StatusOK {
				body = counts.fix(body)
			}
		case "AmazonSQS.GetQueueAttributes":
			if rec.status == http.StatusOK {
				body = fixVisibleCount(body)
			}
		case "AmazonSQS.SendMessageBatch":
			if rec.status == http.StatusOK {
				body = fixBatchResult(body)
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// receiveCounts corrects goaws's ApproximateReceiveCount, which is always
// 1 (v0.5.4 never increments the count it reports, though it counts
// redeliveries for its redrive). Consumers that act on the last receive
// before the dead-letter queue (the SMS sender, the command worker) need
// the real count: each time a message id is received, its count goes up.
type receiveCounts struct {
	mu sync.Mutex
	n  map[string]int
}

// forget drops the counts of the messages a delete request names. goaws's
// receipt handles are "<message id>#<random>".
func (c *receiveCounts) forget(req []byte) {
	var in struct {
		ReceiptHandle string
		Entries       []struct{ ReceiptHandle string }
	}
	if json.Unmarshal(req, &in) != nil {
		return
	}
	handles := []string{in.ReceiptHandle}
	for _, e := range in.Entries {
		handles = append(handles, e.ReceiptHandle)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range handles {
		if id, _, ok := strings.Cut(h, "#"); ok {
			delete(c.n, id)
		}
	}
}

func (c *receiveCounts) fix(body []byte) []byte {
	var out map[string]json.RawMessage
	if json.Unmarshal(body, &out) != nil {
		return body
	}
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(out["Messages"], &msgs) != nil || len(msgs) == 0 {
		return body
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		var id string
		var attrs map[string]string
		_ = json.Unmarshal(m["MessageId"], &id)
		_ = json.Unmarshal(m["Attributes"], &attrs)
		if id == "" || attrs == nil {
			continue
		}
		c.n[id]++
		attrs["ApproximateReceiveCount"] = strconv.Itoa(c.n[id])
		m["Attributes"], _ = json.Marshal(attrs)
	}
	out["Messages"], _ = json.Marshal(msgs)
	fixed, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return fixed
}

// fixVisibleCount corrects goaws's ApproximateNumberOfMessages, which
// counts the messages in flight too (SQS counts only the visible ones, and
// reports the others as ApproximateNumberOfMessagesNotVisible). When both
// are asked for, the in-flight ones are taken out.
func fixVisibleCount(body []byte) []byte {
	var out struct {
		Attributes map[string]string `json:"Attributes"`
	}
	if json.Unmarshal(body, &out) != nil || out.Attributes == nil {
		return body
	}
	all, err1 := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	hidden, err2 := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	if err1 != nil || err2 != nil {
		return body
	}
	out.Attributes["ApproximateNumberOfMessages"] = strconv.Itoa(max(0, all-hidden))
	fixed, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return fixed
}

// fixBatchResult renames goaws's SendMessageBatch answer in the JSON
// protocol: it answers the Query protocol's element names
// (SendMessageBatchResultEntry, BatchResultErrorEntry), where SQS's JSON
// protocol has Successful and Failed, so the SDK would see no entry taken.
func fixBatchResult(body []byte) []byte {
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) != nil {
		return body
	}
	if inner, ok := raw["SendMessageBatchResult"]; ok {
		if json.Unmarshal(inner, &raw) != nil {
			return body
		}
	}
	if _, ok := raw["Successful"]; ok {
		return body
	}
	out := map[string]json.RawMessage{"Successful": json.RawMessage("[]"), "Failed": json.RawMessage("[]")}
	if v, ok := raw["SendMessageBatchResultEntry"]; ok && string(v) != "null" {
		out["Successful"] = v
	}
	if v, ok := raw["BatchResultErrorEntry"]; ok && string(v) != "null" {
		out["Failed"] = v
	}
	fixed, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return fixed
}

// queueURLFixer returns a function that points every http URL on the given
// port at 127.0.0.1, whatever host name the emulator put in front of it
// (goaws: <region>.127.0.0.1, fauxqs: sqs.<region>.localhost; neither
// resolves).
func queueURLFixer(port string) func([]byte) []byte {
	re := regexp.MustCompile(`http://[A-Za-z0-9.-]+:` + regexp.QuoteMeta(port) + `/`)
	good := []byte("http://127.0.0.1:" + port + "/")
	return func(b []byte) []byte { return re.ReplaceAllLiteral(b, good) }
}

// recorder buffers a whole response so it can be rewritten.
type recorder struct {
	header      http.Header
	body        bytes.Buffer
	status      int
	wroteHeader bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	return r.body.Write(p)
}
