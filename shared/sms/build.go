package sms

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
	"github.com/pccc/pccc/shared/sealer"
)

// BuildSender builds the SQS-triggered sender. SMS_MAX_RECEIVES is the
// outbox queue's maxReceiveCount; SMS_PROVIDER is "sns" (default in AWS) or
// "http" with SMS_HTTP_URL; local runs post to the runner's /_local/sms.
func BuildSender(ctx context.Context, d platform.Deps) (any, error) {
	cfg := d.Config
	seal, err := sealer.New(cfg.DataKeys, cfg.DataKeyID)
	if err != nil {
		return nil, err
	}
	maxReceives, err := strconv.Atoi(d.Getenv("SMS_MAX_RECEIVES"))
	if err != nil || maxReceives < 1 {
		return nil, errors.New("SMS_MAX_RECEIVES must be the outbox queue's maxReceiveCount")
	}
	var provider Provider
	switch kind := d.Getenv("SMS_PROVIDER"); {
	case cfg.Local():
		base := strings.TrimRight(d.Getenv("PCCC_LOCAL_URL"), "/")
		if base == "" {
			return nil, errors.New("PCCC_LOCAL_URL is required in local runs")
		}
		provider = &HTTPProvider{URL: base + "/_local/sms", HTTP: d.HTTP, Timeout: 2 * time.Second}
	case kind == "http":
		provider = &HTTPProvider{URL: d.Getenv("SMS_HTTP_URL"), HTTP: d.HTTP, Timeout: 5 * time.Second}
	case kind == "" || kind == "sns":
		provider = &SNSProvider{SNS: sns.NewFromConfig(d.AWS.AWS), SenderID: d.Getenv("SMS_SENDER_ID")}
	default:
		return nil, fmt.Errorf("SMS_PROVIDER %q: want sns or http", kind)
	}
	s := &Sender{
		Provider:    provider,
		Opener:      seal,
		Deliveries:  dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		Notices:     dynamo.NewNoticeStore(d.AWS.DynamoDB, cfg.TableName, d.Now),
		MaxReceives: maxReceives,
		Log:         d.Log,
	}
	return s.Handle, nil
}
