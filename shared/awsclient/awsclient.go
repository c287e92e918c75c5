// Package awsclient builds the AWS SDK clients once, at cold start. In AWS
// the SDK's default chain supplies region, credentials and endpoints
// (including the SDK's own AWS_ENDPOINT_URL_* variables); the local runner
// and the tests pass explicit endpoints of the local stack instead.
package awsclient

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// Options override the SDK defaults; every field is optional.
type Options struct {
	Region string
	// Endpoints of a local stack. When any is set the clients use static
	// dummy credentials, and DynamoDB response CRC32 validation is off (some
	// local servers do not send the header).
	DynamoDBEndpoint string
	SQSEndpoint      string
	// S3Endpoint of a local stack: path-style addressing (bucket.127.0.0.1
	// is no host name) and checksums only where the API requires them (the
	// emulators do not understand the SDK's trailing checksums fully).
	S3Endpoint string
	// KMSEndpoint of a local stack (local-kms).
	KMSEndpoint string
	// DynamoDBAPIOptions are added to the DynamoDB client's middleware
	// (the capacity meter of make bench).
	DynamoDBAPIOptions []func(*middleware.Stack) error
	// SQSAPIOptions are added to the SQS client's middleware (make bench's
	// call timer).
	SQSAPIOptions []func(*middleware.Stack) error
}

// Clients are the SDK clients a function may use.
type Clients struct {
	AWS      aws.Config
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
	S3       *s3.Client
	KMS      *kms.Client
}

// New loads the SDK configuration and builds the clients.
func New(ctx context.Context, o Options) (*Clients, error) {
	var loaders []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		loaders = append(loaders, awsconfig.WithRegion(o.Region))
	}
	local := o.DynamoDBEndpoint != "" || o.SQSEndpoint != "" || o.S3Endpoint != "" || o.KMSEndpoint != ""
	if local {
		loaders = append(loaders, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	// One process serves every function locally, and a warm Lambda
	// instance reuses its connections: keep enough idle ones that calls do
	// not dial anew (the SDK keeps 10 per host).
	loaders = append(loaders, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 1024
		tr.MaxIdleConnsPerHost = 256
	})))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	// Small bodies go out with their headers in one write (onewrite.go);
	// wrapped once the configuration is loaded, which may still change
	// the client's transport (a custom CA bundle).
	cfg.HTTPClient = oneWrite{next: cfg.HTTPClient}
	ddb := dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
		if o.DynamoDBEndpoint != "" {
			opt.BaseEndpoint = aws.String(o.DynamoDBEndpoint)
			opt.DisableValidateResponseChecksum = true
		}
		opt.APIOptions = append(opt.APIOptions, o.DynamoDBAPIOptions...)
	})
	q := sqs.NewFromConfig(cfg, func(opt *sqs.Options) {
		if o.SQSEndpoint != "" {
			opt.BaseEndpoint = aws.String(o.SQSEndpoint)
		}
		opt.APIOptions = append(opt.APIOptions, o.SQSAPIOptions...)
	})
	b := s3.NewFromConfig(cfg, func(opt *s3.Options) {
		if o.S3Endpoint != "" {
			opt.BaseEndpoint = aws.String(o.S3Endpoint)
			opt.UsePathStyle = true
			opt.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			opt.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	k := kms.NewFromConfig(cfg, func(opt *kms.Options) {
		if o.KMSEndpoint != "" {
			opt.BaseEndpoint = aws.String(o.KMSEndpoint)
		}
	})
	return &Clients{AWS: cfg, DynamoDB: ddb, SQS: q, S3: b, KMS: k}, nil
}
