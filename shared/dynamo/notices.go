package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Holder notices in the table: NOTICE#<noticeId> / NOTICE, one per
// (holder, event), claimed by the SMS sender before it sends and marked
// sent after, so a notice queued twice (a redelivered command, two checks
// crossing the threshold at once, SQS's own duplicates) reaches the phone
// once. No personal data: the id is a hash, the item holds only states
// and times.

// NoticeRetention is how long a notice's marker is kept: longer than any
// event it deduplicates can be redelivered (requests are kept 7 days).
const NoticeRetention = 30 * 24 * time.Hour

// noticeLease is how long a claim holds before another delivery may take
// the notice over: a sender that died between its claim and its send.
// Below the outbox queue's visibility timeout (180 s).
const noticeLease = 60 * time.Second

// Notice states.
const (
	noticeSending  = "sending"
	noticeSent     = "sent"
	noticeReleased = "released"
)

// NoticeAPI is the part of the DynamoDB client the notice store uses.
type NoticeAPI interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// NoticeStore deduplicates holder notices.
type NoticeStore struct {
	db    NoticeAPI
	table string
	now   func() time.Time
}

// NewNoticeStore returns the notice store on table.
func NewNoticeStore(db NoticeAPI, table string, now func() time.Time) *NoticeStore {
	if now == nil {
		now = time.Now
	}
	return &NoticeStore{db: db, table: table, now: now}
}

func noticeKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("NOTICE#" + id), AttrSK: s("NOTICE")}
}

// Claim takes the notice for sending. false: it was sent already, or
// another delivery is sending it now.
func (st *NoticeStore) Claim(ctx context.Context, id string) (bool, error) {
	now := st.now()
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: noticeKey(id),
		UpdateExpression:    aws.String("SET #state = :sending, claimUntil = :until, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(PK) OR #state = :released OR (#state = :sending AND claimUntil < :now)"),
		ExpressionAttributeNames: map[string]string{
			"#state": "state", "#ttl": AttrTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sending": s(noticeSending), ":released": s(noticeReleased),
			":until": n(now.Add(noticeLease).UnixMilli()), ":now": n(now.UnixMilli()),
			":ttl": n(now.Add(NoticeRetention).Unix()),
		},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, translate("claim notice", err)
	}
	return true, nil
}

// Sent marks a claimed notice delivered: no later delivery sends it.
func (st *NoticeStore) Sent(ctx context.Context, id string) error {
	return st.set(ctx, id, noticeSent, "notice sent")
}

// Release gives a claimed notice back after a failed send, so the queue's
// next delivery sends it.
func (st *NoticeStore) Release(ctx context.Context, id string) error {
	return st.set(ctx, id, noticeReleased, "release notice")
}

func (st *NoticeStore) set(ctx context.Context, id, state, op string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: noticeKey(id),
		UpdateExpression:          aws.String("SET #state = :state, #at = :at"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#at": state + "At"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":state": s(state), ":at": ts(st.now())},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate(op, err)
	}
	return nil
}
