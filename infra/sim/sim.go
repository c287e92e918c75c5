package sim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pccc/pccc/shared/bureau"
	"github.com/pccc/pccc/shared/identity"
)

// Sim answers for the outside services over their wire protocols. It is
// safe for concurrent use.
type Sim struct {
	byRRN map[string]known // by 13 digits
	// bureauDown makes the bureau answer 503, to try the outage path locally.
	bureauDown atomic.Bool
}

type known struct {
	Resident
	nameKey [sha256.Size]byte // SHA-256 of the NameKey of the name
}

// New returns a simulator knowing residents; on a repeated number the later
// entry wins, so a residents file can override a built-in resident.
// Residents should come from BuiltIn or LoadResidents (validated).
func New(residents []Resident) *Sim {
	s := &Sim{byRRN: map[string]known{}}
	for _, r := range residents {
		digits := strings.ReplaceAll(strings.TrimSpace(r.RRN), "-", "")
		name, err := identity.NormalizeName(r.Name)
		if err != nil {
			continue // unvalidated garbage never matches
		}
		s.byRRN[digits] = known{Resident: r, nameKey: sha256.Sum256([]byte(identity.NameKey(name)))}
	}
	return s
}

// Lookup returns the resident with a registration number (13 digits), for
// the other simulators.
func (s *Sim) Lookup(digits string) (Resident, bool) {
	k, ok := s.byRRN[digits]
	return k.Resident, ok
}

// SetBureauDown makes the bureau answer 503 until called with false.
func (s *Sim) SetBureauDown(down bool) { s.bureauDown.Store(down) }

// Handler serves the simulated services under paths the caller mounts with
// http.StripPrefix:
//
//	POST /bureau/v1/realname   the credit bureau (shared/bureau protocol)
//
// The carriers will live beside it under /carrier/.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /bureau"+bureau.RealNamePath, s.realName)
	s.registerCarrier(mux) // POST /carrier/v1/subscriber, in carrier.go
	return mux
}

// unknownKey is what an unknown number's name is compared with, so that an
// unknown number costs the same work as a wrong name.
var unknownKey = sha256.Sum256([]byte("\x00no such resident"))

// realName looks the number up and compares names in constant time: the
// hashes are of equal length whatever the names, and an unknown number is
// compared against a dummy.
func (s *Sim) realName(w http.ResponseWriter, r *http.Request) {
	if s.bureauDown.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
		return
	}
	var req bureau.RealNameRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.RRN) != 13 || req.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request"})
		return
	}
	want, found := unknownKey, 0
	if k, ok := s.byRRN[req.RRN]; ok {
		want, found = k.nameKey, 1
	}
	got := sha256.Sum256([]byte(req.Name))
	same := subtle.ConstantTimeCompare(want[:], got[:])
	writeJSON(w, http.StatusOK, bureau.RealNameResponse{Match: same&found == 1})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Message is an SMS the system would have sent.
type Message struct {
	To     string    `json:"to"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sentAt"`
}

// maxOutbox bounds the outbox of a long local run; the oldest go first.
const maxOutbox = 10_000

// Outbox keeps the SMS messages of a local run. The zero value is ready to
// use and safe for concurrent use.
type Outbox struct {
	mu   sync.Mutex
	msgs []Message
}

// Add records a message to a phone number (dashes are ignored).
func (o *Outbox) Add(to, text string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.msgs) >= maxOutbox {
		o.msgs = append(o.msgs[:0], o.msgs[len(o.msgs)-maxOutbox+1:]...)
	}
	o.msgs = append(o.msgs, Message{To: strings.ReplaceAll(to, "-", ""), Text: text, SentAt: at.UTC()})
}

// List returns the messages sent to phone, in the order they were sent.
func (o *Outbox) List(phone string) []Message {
	phone = strings.ReplaceAll(phone, "-", "")
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []Message{}
	for _, m := range o.msgs {
		if m.To == phone {
			out = append(out, m)
		}
	}
	return out
}

// OutboxHandler serves GET /_local/sms?phone=01012345678 ->
// {"messages": [{"to", "text", "sentAt"}]}; a missing or malformed phone is
// a 400 naming it, in the API's error shape.
func (o *Outbox) OutboxHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_local/sms", func(w http.ResponseWriter, r *http.Request) {
		phone := strings.ReplaceAll(r.URL.Query().Get("phone"), "-", "")
		if !phonePattern.MatchString(phone) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
				"code": "INVALID_ARGUMENT", "message": "The request has invalid fields.",
				"fields": map[string]string{"phone": "must be a mobile number of 10-11 digits"},
			}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": o.List(phone)})
	})
	return mux
}
