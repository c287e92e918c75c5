package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The SMS provider's rate as one token bucket in the table, SMSRATE#<name>
// / SMSRATE, shared by every sender instance: tokens (what is left) and at
// (epoch milliseconds of the last take). A take reads the item, refills it
// for the time since at, and writes the rest back on the condition that
// nobody wrote in between; a lost race reads again. Only the SMS sender may
// touch the SMSRATE# keys (its dynamodb:LeadingKeys grant).

// SMSBucketAPI is the part of the DynamoDB client the bucket uses.
type SMSBucketAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// SMSBucket is the shared token bucket (sms.Bucket).
type SMSBucket struct {
	db    SMSBucketAPI
	table string
	key   map[string]types.AttributeValue
	rate  float64 // tokens a second
	burst float64 // the most it holds
	now   func() time.Time
}

// NewSMSBucket returns the bucket named name on table, refilled at rate a
// second up to burst.
func NewSMSBucket(db SMSBucketAPI, table, name string, rate, burst float64, now func() time.Time) *SMSBucket {
	if now == nil {
		now = time.Now
	}
	return &SMSBucket{
		db: db, table: table, rate: rate, burst: burst, now: now,
		key: map[string]types.AttributeValue{AttrPK: s("SMSRATE#" + name), AttrSK: s("SMSRATE")},
	}
}

// Burst is the most the bucket holds.
func (b *SMSBucket) Burst() float64 { return b.burst }

// takeAttempts bounds the races one take loses before it reports a short
// wait instead: under that much contention the bucket is being spent.
const takeAttempts = 8

// Take takes up to want tokens, leaving reserve in the bucket. With none to
// take, it writes nothing and says how long until one more is there.
func (b *SMSBucket) Take(ctx context.Context, want int, reserve float64) (int, time.Duration, error) {
	for range takeAttempts {
		out, err := b.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(b.table), Key: b.key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, 0, translate("read sms bucket", err)
		}
		now := b.now().UnixMilli()
		level, at, found := b.burst, now, false
		if len(out.Item) > 0 {
			lv, ok1 := float(out.Item, "tokens")
			t, ok2 := num(out.Item, "at")
			if ok1 && ok2 {
				found, at = true, t
				// A clock behind the last writer's refills nothing.
				level = min(b.burst, lv+float64(max(0, now-at))/1000*b.rate)
			}
		}
		take := min(want, int(math.Floor(level-reserve+1e-9)))
		if take <= 0 {
			need := reserve + 1 - level
			return 0, time.Duration(need / b.rate * float64(time.Second)), nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(b.table), Key: b.key,
			UpdateExpression:         aws.String("SET tokens = :left, #at = :now"),
			ExpressionAttributeNames: map[string]string{"#at": "at"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":left": &types.AttributeValueMemberN{Value: strconv.FormatFloat(level-float64(take), 'f', 4, 64)},
				":now":  n(max(now, at)),
			},
		}
		if found {
			in.ConditionExpression = aws.String("#at = :old AND tokens = :oldTokens")
			in.ExpressionAttributeValues[":old"] = out.Item["at"]
			in.ExpressionAttributeValues[":oldTokens"] = out.Item["tokens"]
		} else {
			in.ConditionExpression = aws.String("attribute_not_exists(PK)")
		}
		_, err = b.db.UpdateItem(ctx, in)
		var cf *types.ConditionalCheckFailedException
		if errors.As(err, &cf) {
			continue // another sender took meanwhile: read again
		}
		if err != nil {
			return 0, 0, translate("take sms tokens", err)
		}
		return take, 0, nil
	}
	return 0, time.Duration(float64(time.Second) / b.rate), nil
}

// String names the bucket for logs.
func (b *SMSBucket) String() string {
	return fmt.Sprintf("sms bucket %.0f/s burst %.1f", b.rate, b.burst)
}

// float reads a number attribute that may have a fraction.
func float(item map[string]types.AttributeValue, name string) (float64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	return f, err == nil
}

// HolderLanguages reads the language a holder chose for the SMS sender
// (sms.Languages): the holder item's sealed language, and nothing else of
// it (the projection), under the sender's HOLDER# read grant.
type HolderLanguages struct {
	db    SMSBucketAPI
	table string
}

// NewHolderLanguages returns the reader on table.
func NewHolderLanguages(db SMSBucketAPI, table string) *HolderLanguages {
	return &HolderLanguages{db: db, table: table}
}

// SealedLanguage is the holder's sealed language, or "" for none.
func (l *HolderLanguages) SealedLanguage(ctx context.Context, hk string) (string, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: holderKey(hk),
		ProjectionExpression:     aws.String("#l"),
		ExpressionAttributeNames: map[string]string{"#l": "sealed_language"},
	})
	if err != nil {
		return "", translate("read holder language", err)
	}
	v, _ := str(out.Item, "sealed_language")
	return v, nil
}
