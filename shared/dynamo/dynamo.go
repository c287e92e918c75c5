// Package dynamo holds the DynamoDB adapters of the domain interfaces.
//
// Everything lives in one table (template.yaml's table): string keys PK and
// SK, a general index GSI1 (GSI1PK, GSI1SK; today the expiry index,
// EXPIRY#<day> / HOLDER#<key>) and a TTL attribute "ttl" in epoch seconds. TTL only cleans up,
// sometimes days late, so the code checks expiry itself. No item holds a
// name or registration number in clear: holders are keyed hashes and
// personal fields are sealed before they reach this package.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/pccc/pccc/shared/apperr"
)

// Attribute names of the table's schema.
const (
	AttrPK     = "PK"
	AttrSK     = "SK"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	AttrTTL    = "ttl"
	IndexGSI1  = "GSI1"
)

// TableSchema is the table as template.yaml declares it, for tests and the
// local stack; TTL on AttrTTL is configured separately (UpdateTimeToLive).
func TableSchema(name string) *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK)},
		KeySchema:            []types.KeySchemaElement{key(AttrPK, types.KeyTypeHash), key(AttrSK, types.KeyTypeRange)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(IndexGSI1),
			KeySchema:  []types.KeySchemaElement{key(AttrGSI1PK, types.KeyTypeHash), key(AttrGSI1SK, types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func str(item map[string]types.AttributeValue, name string) (string, bool) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

// tsOf reads a time written by ts; the zero time when absent or unreadable.
func tsOf(item map[string]types.AttributeValue, name string) time.Time {
	v, ok := str(item, name)
	if !ok {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// QueryAPI is the part of the DynamoDB client an index read uses.
type QueryAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// byGSI1 reads the items under one GSI1 partition key, page by page, in
// sort key order (newest first when newestFirst: the index sorts by time),
// handing each to each; limit, when above 0, stops after that many. op
// names the read in errors.
func byGSI1(ctx context.Context, db QueryAPI, table, pk string, newestFirst bool, limit int, op string, each func(map[string]types.AttributeValue) error) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
		ScanIndexForward:          aws.Bool(!newestFirst),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 100)))
	}
	read := 0
	for p := dynamodb.NewQueryPaginator(db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translate(op, err)
		}
		for _, item := range page.Items {
			if limit > 0 && read == limit {
				return nil
			}
			read++
			if err := each(item); err != nil {
				return err
			}
		}
		if limit > 0 && read == limit {
			return nil
		}
	}
	return nil
}

func num(item map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(v.Value, 10, 64)
	return i, err == nil
}

// retryAfterThrottled is the hint sent to clients when DynamoDB itself is
// throttling us (the surge): a short wait, not an error page.
const retryAfterThrottled = 2 * time.Second

// translate maps DynamoDB's capacity errors to OVERLOADED with a
// Retry-After, as CONVENTIONS.md asks adapters to; anything else is wrapped
// for the logs and becomes INTERNAL.
func translate(op string, err error) error {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict":
				return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Overloaded,
					"The service is busy. Please try again shortly.").WithRetryAfter(retryAfterThrottled)
			}
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
			return apperr.Wrap(fmt.Errorf("%s: %w", op, err), apperr.Overloaded,
				"The service is busy. Please try again shortly.").WithRetryAfter(retryAfterThrottled)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
