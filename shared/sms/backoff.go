package sms

import (
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"

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
