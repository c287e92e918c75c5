package sms

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// BucketName is the provider's token bucket in the table (SMSRATE#sms).
const BucketName = "sms"

// A failed code's retry: after CodeRetryBase, doubling with each receive,
// at most CodeRetryMax; the five receives of the template's redrive policy
// are spent within a minute, well inside the code's three.
const (
	CodeRetryBase = 2 * time.Second
	CodeRetryMax  = 30 * time.Second
)

var doubling = sqsbatch.Doubling(CodeRetryBase, CodeRetryMax)

// CodeBackoff is a failed code's wait before its retry; an unreadable
// message, which no retry mends, keeps the queue's visibility timeout.
func CodeBackoff(m events.SQSMessage, err error) time.Duration {
	if errors.Is(err, errPoison) {
		return 0
	}
	return doubling(m, err)
}

// BuildSender builds the SQS-triggered sender, behind the code queue and
// the notice queue. SMS_MAX_RECEIVES is the queues' maxReceiveCount;
// NOTICE_QUEUE_URL the notice queue, where a notice that finds no share of
// the rate goes back, delayed; CODE_QUEUE_URL the code queue, whose failed
// sends are brought back after a short backoff (ChangeMessageVisibility);
// SMS_RATE the provider's rate (config).
// SMS_PROVIDER is "sns" (default in AWS) or "http" with SMS_HTTP_URL (a
// Korean gateway, or the bench's simulator); local runs post to the
// runner's /_local/sms unless SMS_PROVIDER=http names another.
func BuildSender(ctx context.Context, d platform.Deps) (any, error) {
	cfg := d.Config
	seal, err := cfg.Keys.Sealer()
	if err != nil {
		return nil, err
	}
	maxReceives, err := strconv.Atoi(d.Getenv("SMS_MAX_RECEIVES"))
	if err != nil || maxReceives < 1 {
		return nil, errors.New("SMS_MAX_RECEIVES must be the SMS queues' maxReceiveCount")
	}
	noticeQueue := d.Getenv("NOTICE_QUEUE_URL")
	if noticeQueue == "" || d.AWS.SQS == nil {
		return nil, errors.New("NOTICE_QUEUE_URL (where notices wait for their share of the rate) and an SQS client are required")
	}
	var provider Provider
	kind := d.Getenv("SMS_PROVIDER")
	switch {
	case kind == ProviderGateway && d.Getenv("SMS_HTTP_URL") != "":
		provider = &HTTPProvider{URL: d.Getenv("SMS_HTTP_URL"), HTTP: d.HTTP, Timeout: 5 * time.Second}
	case cfg.Local():
		base := strings.TrimRight(d.Getenv("PCCC_LOCAL_URL"), "/")
		if base == "" {
			return nil, errors.New("PCCC_LOCAL_URL is required in local runs")
		}
		// Counted as a Korean gateway: the stricter of the two.
		provider, kind = &HTTPProvider{URL: base + "/_local/sms", HTTP: d.HTTP, Timeout: 2 * time.Second}, ProviderGateway
	case kind == ProviderGateway:
		return nil, errors.New("SMS_PROVIDER http needs SMS_HTTP_URL")
	case kind == "" || kind == ProviderAWS:
		provider, kind = &SNSProvider{SNS: sns.NewFromConfig(d.AWS.AWS), SenderID: d.Getenv("SMS_SENDER_ID")}, ProviderAWS
	default:
		return nil, fmt.Errorf("SMS_PROVIDER %q: want sns or http", kind)
	}
	// A failed code comes back within seconds, not after the queue's
	// visibility timeout (minutes): its code is valid three.
	var retry *sqsbatch.Retry
	if codeQueue := d.Getenv("CODE_QUEUE_URL"); codeQueue != "" {
		retry = &sqsbatch.Retry{SQS: d.AWS.SQS, QueueURLs: []string{codeQueue}, Backoff: CodeBackoff}
	}
	rate := float64(cfg.SMSRate)
	s := &Sender{
		Provider:       provider,
		ProviderKind:   kind,
		Opener:         seal,
		Deliveries:     dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		Notices:        dynamo.NewNoticeStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		MaxReceives:    maxReceives,
		Log:            d.Log,
		Rate:           dynamo.NewSMSBucket(d.AWS.DynamoDB, cfg.TableName, BucketName, rate, Burst(rate), d.Now),
		CodeTTL:        cfg.OTPTTL,
		DeliveryMargin: cfg.SMSDeliveryMargin,
		NoticeWait:     5 * time.Second,
		NoticeDelay:    cfg.SMSNoticeDelay,
		NoticeQueue:    &Outbox{SQS: d.AWS.SQS, QueueURL: noticeQueue},
		BulkQueue:      bulkQueue(d),
		Languages:      dynamo.NewHolderLanguages(d.AWS.DynamoDB, cfg.TableName),
		Retry:          retry,
		Now:            d.Now,
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s.Facts = &Counts{Stats: dynamo.NewStats(nil, cfg.TableName), DB: d.AWS.DynamoDB, Now: now, Log: d.Log}
	return s.Handle, nil
}

// bulkQueue is BULK_NOTICE_QUEUE_URL's outbox, where a campaign's notice
// goes back for later (nil when unset: back on the notice queue).
func bulkQueue(d platform.Deps) *Outbox {
	if u := d.Getenv("BULK_NOTICE_QUEUE_URL"); u != "" {
		return &Outbox{SQS: d.AWS.SQS, QueueURL: u, Bulk: true}
	}
	return nil
}
