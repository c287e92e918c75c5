// Package s3store is the S3 adapter of the buckets the functions write
// (the statistics export): put an object, ask whether one is there.
package s3store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// API is the part of the S3 client a bucket uses.
type API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ API = (*s3.Client)(nil)

// Bucket is one bucket.
type Bucket struct {
	S3   API
	Name string
}

// Put writes an object whole (S3 never shows a reader half of one),
// encrypted at rest with the bucket's key (SSE-S3, as the bucket's default
// says too).
func (b *Bucket) Put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := b.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.Name), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(contentType),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.Name, key, err)
	}
	return nil
}

// Exists says whether key is in the bucket. It lists the key as a
// prefix rather than reading the object: the grant is then s3:ListBucket
// narrowed by s3:prefix, no read of any object (and HeadObject without
// ListBucket answers a missing key 403, not 404).
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	out, err := b.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Name), Prefix: aws.String(key), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("list s3://%s/%s: %w", b.Name, key, err)
	}
	return len(out.Contents) > 0 && aws.ToString(out.Contents[0].Key) == key, nil
}
