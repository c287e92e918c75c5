// Package smsapi builds the SMS sender function (SmsSenderFunction): the
// sms.Sender behind the code queue and the notice queue, with its provider
// (SNS, or an HTTP gateway), the outboxes it puts notices back on, and the
// stores and counters of shared/dynamo it keeps its state in. The sending
// and its rules are shared/sms's; this is the wiring.
package smsapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/smsprovider"
	"github.com/pccc/pccc/shared/sqsbatch"
	"github.com/pccc/pccc/shared/sqsqueue"
)

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
	var provider sms.Provider
	kind := d.Getenv("SMS_PROVIDER")
	switch {
	case kind == sms.ProviderGateway && d.Getenv("SMS_HTTP_URL") != "":
		provider = &smsprovider.HTTP{URL: d.Getenv("SMS_HTTP_URL"), HTTP: d.HTTP, Timeout: 5 * time.Second}
	case cfg.Local():
		base := strings.TrimRight(d.Getenv("PCCC_LOCAL_URL"), "/")
		if base == "" {
			return nil, errors.New("PCCC_LOCAL_URL is required in local runs")
		}
		// Counted as a Korean gateway: the stricter of the two.
		provider, kind = &smsprovider.HTTP{URL: base + "/_local/sms", HTTP: d.HTTP, Timeout: 2 * time.Second}, sms.ProviderGateway
	case kind == sms.ProviderGateway:
		return nil, errors.New("SMS_PROVIDER http needs SMS_HTTP_URL")
	case kind == "" || kind == sms.ProviderAWS:
		provider, kind = &smsprovider.SNS{SNS: sns.NewFromConfig(d.AWS.AWS), SenderID: d.Getenv("SMS_SENDER_ID")}, sms.ProviderAWS
	default:
		return nil, fmt.Errorf("SMS_PROVIDER %q: want sns or http", kind)
	}
	// A failed code comes back within seconds, not after the queue's
	// visibility timeout (minutes): its code is valid three.
	var retry *sqsbatch.Retry
	if codeQueue := d.Getenv("CODE_QUEUE_URL"); codeQueue != "" {
		retry = &sqsbatch.Retry{SQS: d.AWS.SQS, QueueURLs: []string{codeQueue}, Backoff: sms.CodeBackoff}
	}
	rate := float64(cfg.SMSRate)
	s := &sms.Sender{
		Provider:       provider,
		ProviderKind:   kind,
		Opener:         seal,
		Deliveries:     dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		Notices:        dynamo.NewNoticeStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		MaxReceives:    maxReceives,
		Log:            d.Log,
		Rate:           dynamo.NewSMSBucket(d.AWS.DynamoDB, cfg.TableName, sms.BucketName, rate, sms.Burst(rate), d.Now),
		CodeTTL:        cfg.OTPTTL,
		DeliveryMargin: cfg.SMSDeliveryMargin,
		NoticeWait:     5 * time.Second,
		NoticeDelay:    cfg.SMSNoticeDelay,
		NoticeQueue:    &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: noticeQueue}},
		BulkQueue:      bulkQueue(d),
		Languages:      dynamo.NewHolderLanguages(d.AWS.DynamoDB, cfg.TableName),
		Retry:          retry,
		Now:            d.Now,
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	s.Facts = &sms.Counts{Counter: dynamo.NewStatsCounter(d.AWS.DynamoDB, cfg.TableName), Now: now, Log: d.Log}
	return s.Handle, nil
}

// bulkQueue is BULK_NOTICE_QUEUE_URL's outbox, where a campaign's notice
// goes back for later (nil when unset: back on the notice queue).
func bulkQueue(d platform.Deps) *sms.Outbox {
	if u := d.Getenv("BULK_NOTICE_QUEUE_URL"); u != "" {
		return &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: u}, Bulk: true}
	}
	return nil
}
