package keyring

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/session"
)

// refreshTimeout bounds a refresh made in the middle of a request.
const refreshTimeout = 3 * time.Second

func (k *Keys) refresher(kind Kind) func() (map[string][]byte, string, bool) {
	return func() (map[string][]byte, string, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		r, fresh, err := k.Refresh(ctx, kind)
		if err != nil {
			return nil, "", false
		}
		return r.Keys, r.Active, fresh
	}
}

// Sealer is a sealer of the data keys that fetches the ring again on a
// value sealed under a key id it does not know.
func (k *Keys) Sealer() (*sealer.Sealer, error) {
	r, err := k.Ring(Data)
	if err != nil {
		return nil, err
	}
	s, err := sealer.New(r.Keys, r.Active)
	if err != nil {
		return nil, fmt.Errorf("keys: the data keys: %w", err)
	}
	s.SetRefresh(k.refresher(Data))
	return s, nil
}

// Session is a session issuer of the session keys that fetches the ring
// again on a token signed under a kid it does not know.
func (k *Keys) Session(ttl time.Duration, now func() time.Time) (*session.Issuer, error) {
	r, err := k.Ring(Session)
	if err != nil {
		return nil, err
	}
	iss, err := session.New(r.Keys, r.Active, ttl, now)
	if err != nil {
		return nil, fmt.Errorf("keys: the session keys: %w", err)
	}
	iss.SetRefresh(k.refresher(Session))
	return iss, nil
}

// Hasher is the keyed hash under the HMAC ring's active key.
func (k *Keys) Hasher() (*keyhash.Hasher, error) {
	r, err := k.Ring(HMAC)
	if err != nil {
		return nil, err
	}
	h, err := keyhash.New(r.Keys[r.Active])
	if err != nil {
		return nil, fmt.Errorf("keys: the hmac key: %w", err)
	}
	return h, nil
}

// OriginValue is the header value of an origin key: its base64 text, as
// the operator writes it to the edge's key value store.
func OriginValue(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// OriginValues are the origin header values the API accepts now (every key
// of the origin ring), and refresh fetches the ring again (at most once
// every MinRefresh) and says whether it found anything new.
func (k *Keys) OriginValues() (values []string, refresh func() ([]string, bool), err error) {
	r, err := k.Ring(Origin)
	if err != nil {
		return nil, nil, err
	}
	list := func(r Ring) []string {
		var out []string
		for _, id := range r.IDs() {
			out = append(out, OriginValue(r.Keys[id]))
		}
		return out
	}
	f := k.refresher(Origin)
	return list(r), func() ([]string, bool) {
		keys, active, fresh := f()
		if !fresh {
			return nil, false
		}
		return list(Ring{Active: active, Keys: keys}), true
	}, nil
}
