package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/session"
)

// The functions' keys come from the keys bucket through the local KMS, as
// in AWS: the system starts with them; a function that cannot get them
// does not start and says which it lacked; a key rotated in while it runs
// is taken without a restart, for the session ring and the origin ring.
func TestKeysFromTheLocalKMS(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		t.Run("no keys, no start", func(t *testing.T) {
			stack, err := localstack.Start(context.Background(), kind, localstack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer stack.Close()
			// The rings were never written to the keys bucket: the first
			// function's cold start fails, naming the rings it lacked and
			// where it looked; nothing falls back to a key of its own.
			_, err = localrun.New(context.Background(), localrun.Options{
				TemplatePath: filepath.Join(repoRoot(t), "template.yaml"), Addr: "127.0.0.1:0", Stack: stack,
				NoKeyRings: true, Getenv: func(string) string { return "" },
			})
			if err == nil {
				t.Fatal("the system started without its keys")
			}
			for _, want := range []string{"keys: cannot get the ", " keys (s3://pccc-local-keysbucket/keys/", "decrypted with KMS): read the ring"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("start error %q does not say %q", err, want)
				}
			}
		})

		s := start(t, kind, nil)
		old := keyring.MinRefresh
		keyring.MinRefresh = 0 // every unknown id is fetched at once
		t.Cleanup(func() { keyring.MinRefresh = old })

		// Started with the rings from the bucket: the test's session key
		// (t1) signs a token the lookup takes (no code yet: 404, not 401).
		lookup := func(token string) reply {
			return s.send(t, http.MethodGet, "/v1/codes/me", map[string]string{"Authorization": "Bearer " + token}, "")
		}
		if r := lookup(mint(t, "holder-keys-test")); r.status != 404 {
			t.Fatalf("lookup with the started key: %d %s", r.status, r.raw)
		}

		// A new session key, written to the bucket while the system runs:
		// a token under its id opens at once, no restart.
		id, err := s.run.RotateKey(context.Background(), keyring.Session)
		if err != nil {
			t.Fatal(err)
		}
		ring, _ := s.run.KeyRing(keyring.Session)
		iss, err := session.New(map[string][]byte{id: ring.Keys[id]}, id, 15*time.Minute, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Issue("holder-keys-test", "test-verification")
		if err != nil {
			t.Fatal(err)
		}
		if r := lookup(tok); r.status != 404 {
			t.Errorf("lookup with the rotated-in key %s: %d %s", id, r.status, r.raw)
		}
		// The old key stays in the ring: its tokens still open.
		if r := lookup(mint(t, "holder-keys-test")); r.status != 404 {
			t.Errorf("lookup with the old key after the rotation: %d", r.status)
		}
		// A key id nobody wrote is still refused.
		forged, _ := session.New(map[string][]byte{"nope": make([]byte, 32)}, "nope", 15*time.Minute, time.Now)
		ftok, _, _ := forged.Issue("holder-keys-test", "v")
		if r := lookup(ftok); r.status != 401 {
			t.Errorf("a token under an unknown key: %d", r.status)
		}

		// The origin: the edge sends the rotated-in value at once (as the
		// key value store would) and the running functions accept it.
		if _, err := s.run.RotateKey(context.Background(), keyring.Origin); err != nil {
			t.Fatal(err)
		}
		if r := lookup(tok); r.status != 404 {
			t.Errorf("through the edge after the origin's rotation: %d %s", r.status, r.raw)
		}
		// A viewer's own origin header is replaced by the edge's: the
		// request gets as far as the session check (401), not a 403.
		if r := s.send(t, http.MethodGet, "/v1/codes/me", map[string]string{httpapi.OriginHeader: "a guess"}, ""); r.status != 401 {
			t.Errorf("a viewer's origin header through the edge: %d %s", r.status, r.raw)
		}
	})
}
