package otp

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSubscriberNeverPrintsItsFields(t *testing.T) {
	s := Subscriber{Carrier: "SKT", Phone: "01000000001", Name: "HONGGILDONG", BirthDate: "19900101", Sex: "M"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("check", "subscriber", s)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprintf("%v", struct{ S Subscriber }{s}), logged.String(),
	} {
		for _, v := range []string{s.Phone, s.Name, s.BirthDate} {
			if strings.Contains(out, v) {
				t.Fatalf("output shows personal data: %s", out)
			}
		}
	}
}
