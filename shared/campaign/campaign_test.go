package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/codes"
)

func code(n string) string { return "P" + n + string(codes.CheckDigit(n)) }

func TestValidateNamesEveryBadField(t *testing.T) {
	_, err := ParseCreate([]byte(`{"action":"delete","reason":"x","ratePerSecond":1.5}`), 50)
	e := apperr.As(err)
	for _, f := range []string{"action", "reason", "ratePerSecond", "codes"} {
		if e.Code != apperr.Invalid || e.Fields[f] == "" {
			t.Errorf("%s not named: %v", f, e.Fields)
		}
	}
	if _, err := ParseCreate([]byte(`{"action":"suspend","reason":"other","ratePerSecond":51,"codes":["P1"]}`), 50); apperr.As(err).Fields["ratePerSecond"] == "" {
		t.Errorf("a rate above the cap: %v", err)
	}
	if _, err := ParseCreate([]byte(`{"action":"suspend","reason":"other","ratePerSecond":5,"codes":["P1"],"list":"upload"}`), 50); apperr.As(err).Fields["list"] == "" {
		t.Errorf("codes and an upload: %v", err)
	}
	many := `"` + strings.Repeat(`P1","`, MaxBodyCodes) + `P1"`
	if _, err := ParseCreate([]byte(`{"action":"suspend","reason":"other","ratePerSecond":5,"codes":[`+many+`]}`), 50); apperr.As(err).Fields["codes"] == "" {
		t.Errorf("1001 codes: %v", err)
	}
	sp, err := ParseCreate([]byte(`{"action":"notify","reason":"leak_concern","ratePerSecond":5,"dryRun":true,"list":"upload"}`), 50)
	if err != nil || sp.Action != Notify || !sp.DryRun || sp.Codes != nil || sp.RatePerSecond != 5 {
		t.Errorf("an upload: %+v %v", sp, err)
	}
}

func TestCheckLine(t *testing.T) {
	good := code("12345678901")
	for _, c := range []struct {
		in   string
		want Line
		code string
	}{
		{good, LineValid, good}, {"  " + strings.ToLower(good) + " ,", LineValid, good}, {`"` + good + `"`, LineValid, good},
		{"", LineBlank, ""}, {"   ", LineBlank, ""}, {"P12345", LineInvalid, ""},
		{good[:12] + string('0'+(good[12]-'0'+1)%10), LineInvalid, good[:12] + string('0'+(good[12]-'0'+1)%10)},
		{"Kim Minsu 900101-1234567", LineInvalid, ""},
	} {
		got, kind := CheckLine(c.in)
		if kind != c.want || got != c.code {
			t.Errorf("%q: %q %v, want %q %v", c.in, got, kind, c.code, c.want)
		}
	}
}

func TestTotals(t *testing.T) {
	tt := Totals{Valid: 5000, Done: 400, SkippedUnknown: 600}
	if !tt.ShouldFail(0.5) || tt.Finished() {
		t.Errorf("600 of 1000 unknown: %+v", tt)
	}
	tt = Totals{Valid: 5000, Done: 300, SkippedUnknown: 600}
	if tt.ShouldFail(0.5) {
		t.Error("judged before the first 1,000")
	}
	tt = Totals{Valid: 10, SkippedUnknown: 6, Done: 4}
	if !tt.ShouldFail(0.5) || !tt.Finished() {
		t.Error("a short list all processed is judged")
	}
	tt = Totals{Valid: 100, Done: 50, SkippedRetired: 10}
	p := tt.Estimate(time.Unix(0, 0), time.Unix(10, 0))
	if p.PerSecond != 6 || !p.ETA.Equal(time.Unix(10, 0).Add(40*time.Second/6)) {
		t.Errorf("estimate %+v", p)
	}
	if e := EstimateSMS(1000, 1, 0.02); e.Parts != 1000 || e.Price != 20 {
		t.Errorf("sms %+v", e)
	}
}

func TestRequestIDs(t *testing.T) {
	a, b := RequestID("c1", code("12345678901")), RequestID("c2", code("12345678901"))
	if a == b || a != RequestID("c1", code("12345678901")) || len(a) != 22 {
		t.Errorf("%s %s", a, b)
	}
}

func FuzzParseCreate(f *testing.F) {
	f.Add([]byte(`{"action":"suspend","reason":"other","ratePerSecond":5,"codes":["P1"]}`))
	f.Add([]byte(`{"action":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sp, err := ParseCreate(b, 50)
		if err != nil {
			if apperr.As(err).Code != apperr.Invalid {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if sp.RatePerSecond < 1 || sp.RatePerSecond > 50 || len(sp.Codes) > MaxBodyCodes {
			t.Fatalf("accepted %+v", sp)
		}
	})
}

func FuzzCheckLine(f *testing.F) {
	f.Add(code("12345678901"))
	f.Add("p000000000000 ,")
	f.Fuzz(func(t *testing.T, s string) {
		c, kind := CheckLine(s)
		switch kind {
		case LineValid:
			if !codes.Valid(c) {
				t.Fatalf("%q valid as %q", s, c)
			}
		case LineInvalid:
			if c != "" && !codes.Format(c) {
				t.Fatalf("%q names %q", s, c)
			}
		}
	})
}
