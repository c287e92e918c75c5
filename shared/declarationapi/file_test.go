package declarationapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/testkit"
)

// Fakes of the filing's dependencies: a table with one live holder, a
// sealer that seals nothing, limits never spent, an in-memory store.

type oneHolder struct{ h dynamo.Holder }

func (o oneHolder) CodeOwner(_ context.Context, code string) (string, string, error) {
	if code == o.h.Code {
		return o.h.Key, dynamo.CodeLive, nil
	}
	return "", "", holder.ErrNoHolder
}

func (o oneHolder) Holder(_ context.Context, hk string) (dynamo.Holder, error) {
	if hk == o.h.Key {
		return o.h, nil
	}
	return dynamo.Holder{}, holder.ErrNoHolder
}

type plainSealer struct{}

func (plainSealer) Open(_, sealed string) ([]byte, error)   { return []byte(sealed), nil }
func (plainSealer) Seal(_ string, p []byte) (string, error) { return string(p), nil }

type openLimiter struct{}

func (openLimiter) Allow(context.Context, string, int, time.Duration) (bool, time.Duration, error) {
	return true, 0, nil
}

type noRecords struct{}

func (noRecords) Record(context.Context, dynamo.Check) error { return nil }
func (noRecords) CountMismatch(context.Context, string, string, time.Time) (int64, error) {
	return 1, nil
}

type memStore struct {
	Store // the methods a filing does not use
	mu    sync.Mutex
	filed []declaration.Declaration
	wants bool
}

func (m *memStore) File(_ context.Context, d declaration.Declaration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filed = append(m.filed, d)
	return nil
}

func (m *memStore) ConfirmationRequired(context.Context, string) (bool, error) { return m.wants, nil }

type notifier struct {
	calls   [][3]string // holder key, sealed phone, declaration id
	pending []bool
	err     error
}

func (n *notifier) DeclarationFiled(_ context.Context, hk, phone, id string, pending bool) error {
	n.calls = append(n.calls, [3]string{hk, phone, id})
	n.pending = append(n.pending, pending)
	return n.err
}

// A filing: the check, then the declaration, pending or accepted by the
// holder's setting; the notifier hears of each (with the phone the check
// read, and whether it waits), and its failure changes nothing but a log
// line without personal data; a
// mismatch files nothing and is the check's answer.
func TestFile(t *testing.T) {
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	hk := strings.Repeat("ab", 32)
	registered := holder.Details{EnglishName: "HONG GILDONG", KoreanName: "홍길동", Phone: "01000000001",
		Addresses: []holder.Address{{Zip: "04524", Address: "Sejong-daero 110"}}}
	table := oneHolder{dynamo.Holder{Key: hk, Code: "P247732688745", Status: string(holder.Active), ExpiresAt: now.AddDate(1, 0, 0), Sealed: registered.Fields()}}
	body := func(name string) string {
		b, _ := json.Marshal(map[string]any{"code": "P247732688745", "name": name, "phone": "010-0000-0001", "zip": "04524",
			"waybill": "CJ1234567890", "items": []map[string]any{{"description": "shoes", "quantity": 1}}, "value": 49.9, "currency": "USD"})
		return string(b)
	}
	tests := []struct {
		name        string
		wants       bool
		notifyErr   error
		body        string
		status      int
		wantStatus  declaration.Status
		wantNotices int
	}{
		{"confirmation on", true, nil, body("HONG GILDONG"), 201, declaration.Pending, 1},
		{"confirmation on, the notifier failing", true, errors.New("push service down"), body("홍길동"), 201, declaration.Pending, 1},
		{"confirmation off", false, nil, body("HONG GILDONG"), 201, declaration.Accepted, 1},
		{"a mismatch", true, nil, body("NOBODY"), 200, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testkit.Buffer{}
			log := logging.New(logs, "debug")
			c, err := clearanceapi.NewChecker(clearanceapi.Checker{Codes: table, Holders: table, Sealer: plainSealer{},
				Limiter: openLimiter{}, Records: noRecords{}, Log: log, Now: func() time.Time { return now }, PerCodePerHour: 10})
			if err != nil {
				t.Fatal(err)
			}
			store, n := &memStore{wants: tt.wants}, &notifier{err: tt.notifyErr}
			svc := &Service{Checker: c, Store: store, Policy: declaration.DefaultPolicy(), Notify: n, Log: log, Now: func() time.Time { return now }}
			caller := apikey.Record{ID: "0123456789abcdef", Owner: "ACME Express", RatePerMinute: 100}
			req := &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{Body: tt.body, Headers: map[string]string{"content-type": "application/json"}}}
			resp, err := svc.File()(context.Background(), req, caller)
			if err != nil || resp.Status != tt.status {
				t.Fatalf("File = %v, %v; want %d", resp, err, tt.status)
			}
			if tt.wantStatus == "" {
				if cr, ok := resp.Body.(clearanceapi.CheckResponse); !ok || cr.Result != "mismatch" || len(store.filed) != 0 {
					t.Errorf("a mismatch answered %#v and filed %d", resp.Body, len(store.filed))
				}
				return
			}
			v := resp.Body.(View)
			if len(store.filed) != 1 || v.Status != tt.wantStatus || v.ID != store.filed[0].ID || v.FiledBy != "ACME Express" || v.CheckID == "" {
				t.Fatalf("answered %+v, filed %+v", v, store.filed)
			}
			if d := store.filed[0]; d.HolderKey != hk || d.KeyID != caller.ID || d.Goods.Value != "49.9" {
				t.Errorf("filed %+v", d)
			}
			if len(n.calls) != tt.wantNotices || (tt.wantNotices == 1 && (n.calls[0] != [3]string{hk, "01000000001", v.ID} || n.pending[0] != (tt.wantStatus == declaration.Pending))) {
				t.Errorf("notifier heard %v (pending %v)", n.calls, n.pending)
			}
			l := logs.String()
			if tt.notifyErr != nil && !strings.Contains(l, "declaration notification failed") {
				t.Error("the notifier's failure was not logged")
			}
			for _, personal := range []string{"HONG", "홍길동", "01000000001", "0000-0001", "04524", hk} {
				if strings.Contains(l, personal) {
					t.Errorf("the logs hold %q", personal)
				}
			}
		})
	}
}
