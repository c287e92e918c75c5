package clearanceapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// DefaultPerCodePerHour is CLEARANCE_CHECKS_PER_CODE_PER_HOUR's default: a
// parcel's code is checked a few times (shop, courier, broker), a guessing
// run hundreds.
const DefaultPerCodePerHour = 10

// BuildCheck builds the clearance check function. Besides the common
// settings it reads CLEARANCE_CHECKS_PER_CODE_PER_HOUR (1-10000),
// CLEARANCE_MISMATCH_NOTIFY_AT (1-10000, default 3: the day's mismatches
// on one code that warn the holder and flag the code) and
// NOTICE_QUEUE_URL (the SMS notice queue the warning goes through).
func BuildCheck(ctx context.Context, d platform.Deps) (any, error) {
	c, keys, err := CheckerFor(d)
	if err != nil {
		return nil, err
	}
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteCheck: apikey.Require(keys, Endpoint(c)),
	}), nil
}

// CheckerFor builds the checker and the key store from a function's
// settings, as the check function has them: a declaration's filing
// (shared/declarationapi) runs the very same check, counted and throttled
// in the same windows.
func CheckerFor(d platform.Deps) (*Checker, *dynamo.APIKeyStore, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, nil, errors.New("clearance: logger and DynamoDB client are required")
	}
	perCode := DefaultPerCodePerHour
	if v := d.Getenv("CLEARANCE_CHECKS_PER_CODE_PER_HOUR"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			return nil, nil, errors.New("clearance: CLEARANCE_CHECKS_PER_CODE_PER_HOUR must be 1-10000")
		}
		perCode = n
	}
	notifyAt := DefaultNotifyAt
	if v := d.Getenv("CLEARANCE_MISMATCH_NOTIFY_AT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10_000 {
			return nil, nil, errors.New("clearance: CLEARANCE_MISMATCH_NOTIFY_AT must be 1-10000")
		}
		notifyAt = n
	}
	outbox := d.Getenv("NOTICE_QUEUE_URL")
	if outbox == "" || d.AWS.SQS == nil {
		return nil, nil, errors.New("clearance: NOTICE_QUEUE_URL (the SMS notice queue, for the holder's warnings) and an SQS client are required")
	}
	seal, err := d.Config.Keys.Sealer()
	if err != nil {
		return nil, nil, fmt.Errorf("clearance: %w", err)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	store := dynamo.NewCodeStore(db, table, nil)
	checks := dynamo.NewCheckStore(db, table)
	watch := &RepeatWatcher{
		Threshold: int64(notifyAt), Flags: checks, Now: now,
		Notify: &notify.Notifier{Outbox: &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: outbox}}, Site: d.Config.PublicSiteURL},
	}
	c, err := NewChecker(Checker{
		Codes: store, Holders: store, Sealer: seal, Watch: watch,
		Limiter: dynamo.NewLimiter(db, table, now), Records: checks,
		Log: d.Log, Now: now, PerCodePerHour: perCode,
	})
	if err != nil {
		return nil, nil, err
	}
	return c, dynamo.NewAPIKeyStore(db, table), nil
}
