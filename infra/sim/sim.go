package sim

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pccc/pccc/shared/bureau"
	"github.com/pccc/pccc/shared/identity"
)

// Sim answers for the outside services over their wire protocols.
type Sim struct {
	byRRN map[string]Resident // by 13 digits
}

// New returns a simulator knowing residents (later entries win on the same
// number).
func New(residents []Resident) *Sim {
	s := &Sim{byRRN: map[string]Resident{}}
	for _, r := range residents {
		s.byRRN[strings.ReplaceAll(strings.TrimSpace(r.RRN), "-", "")] = r
	}
	return s
}

// Handler serves POST /bureau/v1/realname (mount it under a prefix with
// http.StripPrefix).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bureau"+bureau.RealNamePath, s.realName)
	return mux
}

// realName looks the number up and compares names in constant time. An
// unknown number is compared against a dummy, so it costs the same as a
// wrong name.
func (s *Sim) realName(w http.ResponseWriter, r *http.Request) {
	var req bureau.RealNameRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	want := "\x00unknown"
	known := 0
	if res, ok := s.byRRN[req.RRN]; ok {
		if n, err := identity.NormalizeName(res.Name); err == nil {
			want = identity.NameKey(n)
			known = 1
		}
	}
	same := subtle.ConstantTimeCompare([]byte(want), []byte(req.Name))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(bureau.RealNameResponse{Match: same&known == 1})
}

// Message is an SMS the system would have sent.
type Message struct {
	To     string    `json:"to"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sentAt"`
}

// Outbox keeps the SMS messages of a local run, newest last.
type Outbox struct {
	mu   sync.Mutex
	msgs []Message
}

// Add records a message.
func (o *Outbox) Add(to, text string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, Message{To: to, Text: text, SentAt: at.UTC()})
}

// List returns the messages sent to phone, oldest first.
func (o *Outbox) List(phone string) []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []Message{}
	for _, m := range o.msgs {
		if m.To == phone {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SentAt.Before(out[j].SentAt) })
	return out
}

var phonePattern = regexp.MustCompile(`^01[0-9]{8,9}$`)

// OutboxHandler serves GET /_local/sms?phone=01012345678.
func (o *Outbox) OutboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		phone := r.URL.Query().Get("phone")
		if !phonePattern.MatchString(phone) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":"INVALID_ARGUMENT","message":"The request has invalid fields.","fields":{"phone":"must be 10-11 digits starting with 01"}}}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": o.List(phone)})
	})
}
