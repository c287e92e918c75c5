package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Store keeps the rings in the keys bucket, each the KMS ciphertext of its
// JSON under the stack's key: the Source of every function, in AWS and on
// the local stacks (local S3 and local KMS) alike.
type Store struct {
	S3     *s3.Client
	KMS    *kms.Client
	Bucket string
	// KeyID is the KMS key rings are encrypted with (Put only; Decrypt
	// reads it from the ciphertext).
	KeyID string
}

func encryptionContext(k Kind) map[string]string { return map[string]string{ContextKey: string(k)} }

// Where implements Source.
func (s *Store) Where(k Kind) string {
	return fmt.Sprintf("s3://%s/%s, decrypted with KMS", s.Bucket, ObjectKey(k))
}

// Fetch implements Source: the object, then kms:Decrypt with the kind as
// encryption context.
func (s *Store) Fetch(ctx context.Context, k Kind) (Ring, error) {
	if s.Bucket == "" {
		return Ring{}, fmt.Errorf("no keys bucket (%s is not set)", EnvBucket)
	}
	out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(ObjectKey(k))})
	if err != nil {
		return Ring{}, fmt.Errorf("read the ring: %w", err)
	}
	blob, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	_ = out.Body.Close()
	if err != nil {
		return Ring{}, fmt.Errorf("read the ring: %w", err)
	}
	dec, err := s.KMS.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: encryptionContext(k)})
	if err != nil {
		return Ring{}, fmt.Errorf("decrypt the ring: %w", err)
	}
	return Parse(dec.Plaintext)
}

// Put encrypts a ring under KeyID and writes it (the operator's rotation,
// and the local runner's development rings).
func (s *Store) Put(ctx context.Context, k Kind, r Ring) error {
	if s.KeyID == "" {
		return errors.New("keyring: no KMS key to encrypt the ring with")
	}
	plain, err := r.Marshal()
	if err != nil {
		return err
	}
	enc, err := s.KMS.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(s.KeyID), Plaintext: plain, EncryptionContext: encryptionContext(k)})
	if err != nil {
		return fmt.Errorf("keyring: encrypt the %s ring: %w", k, err)
	}
	_, err = s.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(ObjectKey(k)),
		Body: bytes.NewReader(enc.CiphertextBlob), ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		return fmt.Errorf("keyring: write the %s ring: %w", k, err)
	}
	return nil
}
