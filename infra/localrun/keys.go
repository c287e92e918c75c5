package localrun

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pccc/pccc/shared/keyring"
)

// devKeys are a run's key rings: fresh random keys each start, so nothing
// sealed in one local run opens in another and no key is ever committed.
// They are written as AWS holds them, KMS ciphertext under a key of the
// local KMS in the bucket the functions' PCCC_KEYS_BUCKET names, and the
// functions fetch them from there with the real clients at their cold
// start (platform.LoadKeys). The origin ring's active value stands in for
// the edge's key value store (OriginHeaderFunction's twin sends it).
type devKeys struct {
	mu      sync.Mutex
	kmsKey  string
	rings   map[keyring.Kind]keyring.Ring
	written map[string]bool // buckets holding the rings
	serial  int
}

func (r *Runner) keyStore(bucket string) *keyring.Store {
	c := r.functionClients()
	return &keyring.Store{S3: c.S3, KMS: c.KMS, Bucket: bucket, KeyID: r.keys.kmsKey}
}

// ensureKeys writes the run's rings to bucket once, making the local KMS
// key and the rings on first use.
func (r *Runner) ensureKeys(ctx context.Context, bucket string) error {
	r.keys.mu.Lock()
	defer r.keys.mu.Unlock()
	if r.keys.written[bucket] {
		return nil
	}
	if r.keys.kmsKey == "" {
		if r.clients.KMS == nil {
			return fmt.Errorf("keys: the local stack has no KMS")
		}
		out, err := r.clients.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("pccc local key rings")})
		if err != nil {
			return fmt.Errorf("keys: create the local KMS key: %w", err)
		}
		r.keys.kmsKey = *out.KeyMetadata.Arn
		r.keys.rings = map[keyring.Kind]keyring.Ring{}
		for _, k := range keyring.Kinds {
			r.keys.rings[k] = keyring.NewRing("dev1")
			if given, ok := r.opts.KeyRings[k]; ok {
				r.keys.rings[k] = given
			}
		}
		r.keys.written = map[string]bool{}
		r.keys.serial = 1
	}
	st := r.keyStore(bucket)
	for _, k := range keyring.Kinds {
		if err := st.Put(ctx, k, r.keys.rings[k]); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	r.keys.written[bucket] = true
	return nil
}

// RotateKey adds a new key to a kind's ring, makes it active and writes
// the ring to every keys bucket, as the operator's rotation does in AWS:
// running functions pick it up when they meet its id. It returns the new
// key's id. For the origin ring the edge sends the new value at once.
func (r *Runner) RotateKey(ctx context.Context, kind keyring.Kind) (string, error) {
	r.keys.mu.Lock()
	defer r.keys.mu.Unlock()
	if r.keys.rings == nil {
		return "", fmt.Errorf("keys: no function was given keys")
	}
	r.keys.serial++
	id := "dev" + strconv.Itoa(r.keys.serial)
	old := r.keys.rings[kind]
	next := keyring.Ring{Active: id, Keys: map[string][]byte{id: keyring.NewKey()}}
	for kid, k := range old.Keys {
		next.Keys[kid] = k
	}
	for bucket := range r.keys.written {
		if err := r.keyStore(bucket).Put(ctx, kind, next); err != nil {
			return "", err
		}
	}
	r.keys.rings[kind] = next
	return id, nil
}

// originValue is the origin ring's active value, what the edge's key
// value store holds in AWS; "" before any function was given keys.
func (r *Runner) originValue() string {
	r.keys.mu.Lock()
	defer r.keys.mu.Unlock()
	ring, ok := r.keys.rings[keyring.Origin]
	if !ok {
		return ""
	}
	return keyring.OriginValue(ring.Keys[ring.Active])
}

// KeyRing is the run's current ring of a kind (what RotateKey last
// wrote), for tests that sign or seal with it.
func (r *Runner) KeyRing(kind keyring.Kind) (keyring.Ring, bool) {
	r.keys.mu.Lock()
	defer r.keys.mu.Unlock()
	ring, ok := r.keys.rings[kind]
	return ring, ok
}
