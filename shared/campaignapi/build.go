package campaignapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/s3store"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// S3Lists is the campaign bucket (Lists).
type S3Lists struct {
	S3     *s3.Client
	Bucket string
}

// Open implements Lists.
func (l *S3Lists) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	out, err := l.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(l.Bucket), Key: aws.String(key)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound") {
			return nil, 0, ErrNoList
		}
		return nil, 0, fmt.Errorf("get s3://%s/%s: %w", l.Bucket, key, err)
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

// Put implements Lists.
func (l *S3Lists) Put(ctx context.Context, key string, body []byte, contentType string) error {
	return (&s3store.Bucket{S3: l.S3, Name: l.Bucket}).Put(ctx, key, body, contentType)
}

// S3Presigner presigns the bucket's URLs (Presigner).
type S3Presigner struct {
	P      *s3.PresignClient
	Bucket string
}

// PutURL implements Presigner.
func (p *S3Presigner) PutURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	r, err := p.P.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(key), ContentType: aws.String("text/csv")},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign upload: %w", err)
	}
	return r.URL, nil
}

// GetURL implements Presigner.
func (p *S3Presigner) GetURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	r, err := p.P.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Bucket), Key: aws.String(key)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign download: %w", err)
	}
	return r.URL, nil
}

// SQSAPI is the part of the SQS client the senders use.
type SQSAPI interface {
	sqsqueue.BatchAPI
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSSender sends with SendMessageBatch, retrying failed entries only; a
// delayed message goes alone (SendMessage with DelaySeconds), which every
// emulator honours.
type SQSSender struct {
	SQS      SQSAPI
	QueueURL string
}

// Send implements Sender.
func (q *SQSSender) Send(ctx context.Context, bodies []string, delay time.Duration) error {
	if delay <= 0 {
		return sqsqueue.SendBatch(ctx, q.SQS, q.QueueURL, bodies, 0)
	}
	for _, b := range bodies {
		_, err := q.SQS.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(q.QueueURL), MessageBody: aws.String(b),
			DelaySeconds: int32(min(delay, 15*time.Minute) / time.Second),
		})
		if err != nil {
			return fmt.Errorf("send delayed: %w", err)
		}
	}
	return nil
}

// settings are the campaigns' settings from the environment.
type settings struct {
	bucket, control, items string
	maxRate                int
	partPrice, share       float64
}

func readSettings(d platform.Deps, needItems bool) (settings, error) {
	s := settings{bucket: d.Getenv("CAMPAIGN_BUCKET"), control: d.Getenv("CAMPAIGN_CONTROL_QUEUE_URL"), items: d.Getenv("CAMPAIGN_QUEUE_URL"), maxRate: 50, share: 0.5}
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil || d.AWS.SQS == nil || d.AWS.S3 == nil {
		return s, errors.New("campaigns: logger, DynamoDB, SQS and S3 clients are required")
	}
	if s.bucket == "" || s.control == "" || needItems && s.items == "" {
		return s, errors.New("campaigns: CAMPAIGN_BUCKET, CAMPAIGN_CONTROL_QUEUE_URL and CAMPAIGN_QUEUE_URL are required")
	}
	if v := d.Getenv("CAMPAIGN_MAX_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, errors.New("campaigns: CAMPAIGN_MAX_RATE must be a whole number above 0")
		}
		s.maxRate = n
	}
	if v := d.Getenv("SMS_PART_PRICE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return s, errors.New("campaigns: SMS_PART_PRICE must be a price of one SMS part, 0 or more")
		}
		s.partPrice = f
	}
	if v := d.Getenv("CAMPAIGN_FAILURE_SHARE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return s, errors.New("campaigns: CAMPAIGN_FAILURE_SHARE must be a share above 0, at most 1")
		}
		s.share = f
	}
	return s, nil
}

func nowOf(d platform.Deps) func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// BuildAPI builds the authority's campaign routes (authority keys only).
func BuildAPI(ctx context.Context, d platform.Deps) (any, error) {
	s, err := readSettings(d, false)
	if err != nil {
		return nil, err
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	a := &API{
		Store:   dynamo.NewCampaignStore(db, table),
		Lists:   &S3Lists{S3: d.AWS.S3, Bucket: s.bucket},
		Presign: &S3Presigner{P: s3.NewPresignClient(d.AWS.S3), Bucket: s.bucket},
		Control: &SQSSender{SQS: d.AWS.SQS, QueueURL: s.control},
		MaxRate: s.maxRate, PartPrice: s.partPrice, Now: nowOf(d),
	}
	keys := dynamo.NewAPIKeyStore(db, table)
	auth := func(ep apikey.CallerEndpoint) httpapi.Endpoint { return apikey.RequireRole(keys, apikey.Authority, ep) }
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteCreate:  auth(a.Create),
		RouteGet:     auth(a.Get),
		RouteConfirm: auth(a.Confirm()),
		RoutePause:   auth(a.Pause()),
		RouteResume:  auth(a.Resume()),
		RouteCancel:  auth(a.Cancel()),
	}), nil
}

// BuildReader builds the list reader behind the control queue.
func BuildReader(ctx context.Context, d platform.Deps) (any, error) {
	r, err := NewReader(d)
	if err != nil {
		return nil, err
	}
	return r.Handle, nil
}

// NewReader is the reader BuildReader hands to the runtime, for a caller
// that changes a part of it first (the fault runs kill it mid-list).
func NewReader(d platform.Deps) (*Reader, error) {
	s, err := readSettings(d, true)
	if err != nil {
		return nil, err
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	st := dynamo.NewCampaignStore(db, table)
	r := &Reader{
		Campaigns: st, Cursors: st,
		Lists:   &S3Lists{S3: d.AWS.S3, Bucket: s.bucket},
		Items:   &SQSSender{SQS: d.AWS.SQS, QueueURL: s.items},
		Control: &SQSSender{SQS: d.AWS.SQS, QueueURL: s.control},
		Site:    d.Config.PublicSiteURL, PartPrice: s.partPrice, FailureShare: s.share,
		Now: nowOf(d), Log: d.Log,
	}
	return r, nil
}

// BuildWorker builds the campaign workers behind the campaign queue.
// CAMPAIGN_MAX_RECEIVES is the queue's maxReceiveCount; COMMAND_QUEUE_URL
// the public command queue, whose backlog past CAMPAIGN_YIELD_BACKLOG
// holds the campaigns back, as people's commands taken faster than
// CAMPAIGN_YIELD_RATE a second (the admission gate's rate counter) do; BULK_NOTICE_QUEUE_URL the notices' queue
// behind the codes' and the holders' own; CAMPAIGN_WAIT how long items
// put back wait (default 5s).
func BuildWorker(ctx context.Context, d platform.Deps) (any, error) {
	s, err := readSettings(d, true)
	if err != nil {
		return nil, err
	}
	maxReceives, err := strconv.Atoi(d.Getenv("CAMPAIGN_MAX_RECEIVES"))
	if err != nil || maxReceives < 1 {
		return nil, errors.New("campaigns: CAMPAIGN_MAX_RECEIVES must be the campaign queue's maxReceiveCount")
	}
	bulk, cmdq := d.Getenv("BULK_NOTICE_QUEUE_URL"), d.Getenv("COMMAND_QUEUE_URL")
	if bulk == "" || cmdq == "" {
		return nil, errors.New("campaigns: BULK_NOTICE_QUEUE_URL and COMMAND_QUEUE_URL are required")
	}
	yield := 0
	if v := d.Getenv("CAMPAIGN_YIELD_BACKLOG"); v != "" {
		if yield, err = strconv.Atoi(v); err != nil || yield < 0 {
			return nil, errors.New("campaigns: CAMPAIGN_YIELD_BACKLOG must be a whole number, 0 for no bound")
		}
	}
	yieldRate := 0
	if v := d.Getenv("CAMPAIGN_YIELD_RATE"); v != "" {
		if yieldRate, err = strconv.Atoi(v); err != nil || yieldRate < 0 {
			return nil, errors.New("campaigns: CAMPAIGN_YIELD_RATE must be a whole number of commands a second, 0 for no bound")
		}
	}
	wait := 5 * time.Second
	if v := d.Getenv("CAMPAIGN_WAIT"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < time.Second || wait > 15*time.Minute {
			return nil, errors.New("campaigns: CAMPAIGN_WAIT must be a duration from 1s to 15m")
		}
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	now := nowOf(d)
	w := &Worker{
		Campaigns: dynamo.NewCampaignStore(db, table),
		Codes:     dynamo.NewCodeStore(db, table, dynamo.NewStats(db, table)),
		Notices:   &notify.Notifier{Outbox: &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: bulk}, Bulk: true}, Site: d.Config.PublicSiteURL},
		Items:     &SQSSender{SQS: d.AWS.SQS, QueueURL: s.items},
		Control:   &SQSSender{SQS: d.AWS.SQS, QueueURL: s.control},
		Rate: func(c dynamo.Campaign) Bucket {
			r := float64(max(1, c.RatePerSecond))
			return dynamo.NewSMSBucket(db, table, "campaign-"+c.ID, r, max(1, r), now)
		},
		Backlog: &sqsqueue.Depth{SQS: d.AWS.SQS, QueueURL: cmdq}, YieldBacklog: yield,
		Arrivals: PublicRate{Limiter: dynamo.NewLimiter(db, table, now)}, YieldRate: float64(yieldRate),
		Wait: wait, FailureShare: s.share,
		Policy: codeapi.Policy(d), NewCode: func() (string, error) { return codes.New(nil) },
		MaxReceives: maxReceives, Now: now, Log: d.Log,
	}
	return w.Handle, nil
}

// PublicRate reads the admission gate's rate counter: the commands all
// API instances took in the last whole window, a second's worth.
type PublicRate struct {
	Limiter *dynamo.Limiter
}

// PerSecond is the rate people's commands were taken at a moment ago.
func (p PublicRate) PerSecond(ctx context.Context) (float64, error) {
	n, err := p.Limiter.Leased(ctx, admission.DefaultRateKey, admission.DefaultRateWindow)
	if err != nil {
		return 0, err
	}
	return float64(n) / admission.DefaultRateWindow.Seconds(), nil
}

var _ SQSAPI = (*sqs.Client)(nil)
