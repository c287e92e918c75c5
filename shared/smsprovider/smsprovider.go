// Package smsprovider is the adapter of sms.Provider: the providers a
// text message leaves the system through, Amazon SNS's direct SMS
// publishing (SNS) or a gateway speaking JSON over HTTP (HTTP: a domestic
// aggregator, the local runner's outbox, the bench's simulator).
package smsprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// HTTP posts {"to","text"} to a gateway: the local runner's outbox
// (/_local/sms) or a domestic SMS aggregator speaking the same JSON.
type HTTP struct {
	URL     string
	HTTP    *http.Client
	Timeout time.Duration
}

// Send posts one message; any non-2xx answer is a failure to retry.
func (p *HTTP) Send(ctx context.Context, to, text string) error {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"to": to, "text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sms gateway answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// PublishAPI is the part of the SNS client SNS uses.
type PublishAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS sends through Amazon SNS's direct SMS publishing, as a
// transactional message.
type SNS struct {
	SNS      PublishAPI
	SenderID string // optional; where the destination supports it
}

// Send publishes one SMS to a Korean mobile number (E.164 +82).
func (p *SNS) Send(ctx context.Context, to, text string) error {
	attrs := map[string]snsAttr{"AWS.SNS.SMS.SMSType": {"String", "Transactional"}}
	if p.SenderID != "" {
		attrs["AWS.SNS.SMS.SenderID"] = snsAttr{"String", p.SenderID}
	}
	in := &sns.PublishInput{PhoneNumber: aws.String("+82" + strings.TrimPrefix(to, "0")), Message: aws.String(text)}
	in.MessageAttributes = toSNS(attrs)
	if _, err := p.SNS.Publish(ctx, in); err != nil {
		return fmt.Errorf("sns publish: %w", err)
	}
	return nil
}
