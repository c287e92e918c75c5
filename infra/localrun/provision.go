package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
)

// names gives the physical names of the template's resources in the local
// stack and remembers what the stack handed out (queue URLs and ARNs).
type names struct {
	prefix string
	region string
	tpl    *samtemplate.Template
	queues map[string]queueInfo // by logical id, filled by createQueues
}

type queueInfo struct{ name, url, arn string }

func (n names) table(id string) string    { return n.prefix + id }
func (n names) function(id string) string { return n.prefix + id }

// bucket is lower case: S3 refuses capitals in bucket names.
func (n names) bucket(id string) string { return strings.ToLower(n.prefix + id) }

func (n names) queue(q samtemplate.Queue) string {
	if q.FIFO {
		return n.prefix + q.LogicalID + ".fifo"
	}
	return n.prefix + q.LogicalID
}

func (n names) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + n.region + ":" + localstack.AccountID + ":" + resource
}

// createTables creates every table of the template as the template defines
// it. Billing is always on demand: the local stacks ignore capacity anyway.
func (r *Runner) createTables(ctx context.Context) error {
	db := r.clients.DynamoDB
	for _, t := range r.tpl.Tables {
		name := r.names.table(t.LogicalID)
		in := &dynamodb.CreateTableInput{
			TableName:   aws.String(name),
			BillingMode: ddbtypes.BillingModePayPerRequest,
			KeySchema:   keySchema(t.KeySchema),
		}
		for _, a := range t.AttributeDefinitions {
			in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
				AttributeName: aws.String(a.Name), AttributeType: ddbtypes.ScalarAttributeType(a.Type),
			})
		}
		for _, g := range t.GSIs {
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
				IndexName: aws.String(g.Name), KeySchema: keySchema(g.KeySchema), Projection: projection(g),
			})
		}
		for _, l := range t.LSIs {
			in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
				IndexName: aws.String(l.Name), KeySchema: keySchema(l.KeySchema), Projection: projection(l),
			})
		}
		if _, err := db.CreateTable(ctx, in); err != nil {
			// A table left from an earlier run on a persistent stack is
			// fine; its definition is checked by Inventory's callers.
			if _, exists := errors.AsType[*ddbtypes.ResourceInUseException](err); !exists {
				return fmt.Errorf("create table %s: %w", t.LogicalID, err)
			}
		}
		// No waiting for ACTIVE: both local stacks create tables at once.
		if t.TTLAttribute != "" {
			_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: aws.String(name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
					AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true),
				},
			})
			if err != nil && strings.Contains(err.Error(), "already enabled") {
				// A second runner on the same table (make bench's worker
				// process) finds it set.
				err = nil
			}
			if err != nil {
				// TTL only cleans up (expiry is checked in code), so a stack
				// without it is still good enough to run on.
				r.log.Warn("table TTL not set", "table", t.LogicalID, "err", err.Error())
			}
		}
	}
	return nil
}

func keySchema(ks []samtemplate.KeyElement) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, len(ks))
	for i, k := range ks {
		out[i] = ddbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: ddbtypes.KeyType(k.KeyType)}
	}
	return out
}

func projection(i samtemplate.Index) *ddbtypes.Projection {
	p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(i.ProjectionType)}
	if p.ProjectionType == "" {
		p.ProjectionType = ddbtypes.ProjectionTypeAll
	}
	if len(i.NonKeyAttributes) > 0 {
		p.NonKeyAttributes = i.NonKeyAttributes
	}
	return p
}

// createQueues creates every queue, dead-letter queues before the queues
// that name them (a RedrivePolicy needs the DLQ's ARN).
func (r *Runner) createQueues(ctx context.Context) error {
	r.names.queues = map[string]queueInfo{}
	pending := append([]samtemplate.Queue(nil), r.tpl.Queues...)
	for len(pending) > 0 {
		var next []samtemplate.Queue
		for _, q := range pending {
			if _, ready := r.names.queues[q.DLQ]; q.DLQ != "" && !ready {
				next = append(next, q)
				continue
			}
			if err := r.createQueue(ctx, q); err != nil {
				return err
			}
		}
		if len(next) == len(pending) {
			return fmt.Errorf("queues %v name each other as dead-letter queues in a cycle", queueIDs(next))
		}
		pending = next
	}
	return nil
}

func queueIDs(qs []samtemplate.Queue) []string {
	ids := make([]string, len(qs))
	for i, q := range qs {
		ids[i] = q.LogicalID
	}
	return ids
}

func (r *Runner) createQueue(ctx context.Context, q samtemplate.Queue) error {
	c := r.clients.SQS
	name := r.names.queue(q)
	attrs := map[string]string{
		"VisibilityTimeout":      strconv.Itoa(q.VisibilityTimeout),
		"MessageRetentionPeriod": strconv.Itoa(q.MessageRetention),
	}
	if q.DelaySeconds > 0 {
		attrs["DelaySeconds"] = strconv.Itoa(q.DelaySeconds)
	}
	if q.FIFO {
		attrs["FifoQueue"] = "true"
		if q.ContentBasedDeduplication {
			attrs["ContentBasedDeduplication"] = "true"
		}
	}
	if q.DLQ != "" {
		b, _ := json.Marshal(map[string]string{
			"deadLetterTargetArn": r.names.queues[q.DLQ].arn,
			// A string, as the SQS console writes it; both emulators and
			// SQS accept it.
			"maxReceiveCount": strconv.Itoa(q.MaxReceiveCount),
		})
		attrs["RedrivePolicy"] = string(b)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", q.LogicalID, err)
	}
	got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("queue %s ARN: %w", q.LogicalID, err)
	}
	arn := got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if arn == "" {
		arn = r.names.arn("sqs", name)
	}
	r.names.queues[q.LogicalID] = queueInfo{name: name, url: aws.ToString(out.QueueUrl), arn: arn}
	return nil
}

func (r *Runner) createBuckets(ctx context.Context) error {
	for _, id := range r.tpl.Buckets {
		_, err := r.s3.CreateBucket(ctx, &s3.CreateBucketInput{
			Bucket: aws.String(r.names.bucket(id)),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
				LocationConstraint: s3types.BucketLocationConstraint(r.stack.Region),
			},
		})
		if err != nil {
			_, mine := errors.AsType[*s3types.BucketAlreadyOwnedByYou](err)
			_, exists := errors.AsType[*s3types.BucketAlreadyExists](err)
			if !mine && !exists {
				return fmt.Errorf("create bucket %s: %w", id, err)
			}
		}
	}
	return nil
}
