package sim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"

	"github.com/pccc/pccc/shared/carrier"
)

// registerCarrier mounts the carrier gateway (shared/carrier protocol):
//
//	POST /carrier/v1/subscriber
func (s *Sim) registerCarrier(mux *http.ServeMux) {
	mux.HandleFunc("POST /carrier"+carrier.SubscriberPath, s.subscriber)
}

// subscriber answers whether a phone is subscribed, with the named carrier,
// by the person described: every one of carrier, phone, name key, birth
// date and sex must agree with one resident.
//
// It compares the request with every resident, in constant time per field,
// instead of looking the phone up: an unknown phone then costs exactly the
// work of a wrong name, so the simulator models the behaviour we demand of
// the real gateway (DOMAIN.md, ASVS 5.0 6.3.8), and the residents stay
// indexed by registration number only. A local run holds a few thousand
// residents at most, so the scan is cheap.
func (s *Sim) subscriber(w http.ResponseWriter, r *http.Request) {
	var req carrier.SubscriberRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Carrier == "" || req.Phone == "" || req.Name == "" ||
		len(req.BirthDate) != 8 || req.Sex == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request"})
		return
	}
	name := sha256.Sum256([]byte(req.Name))
	match := 0
	for _, k := range s.byRRN {
		same := subtle.ConstantTimeCompare(k.nameKey[:], name[:]) &
			ctEqual(k.Carrier, req.Carrier) & ctEqual(k.Phone, req.Phone) &
			ctEqual(k.BirthDate, req.BirthDate) & ctEqual(k.Sex, req.Sex)
		match |= same
	}
	writeJSON(w, http.StatusOK, carrier.SubscriberResponse{Match: match == 1})
}

// ctEqual is 1 when a and b are equal, compared in time that depends on
// their lengths only.
func ctEqual(a, b string) int { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) }
