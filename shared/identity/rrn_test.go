package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// now is 1 Dec 2026, 09:00 in Korea.
var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestParseRRN(t *testing.T) {
	tests := []struct {
		in        string
		wantErr   string // "" = valid; else the problem text
		birth     string
		sex       string
		foreigner bool
		checksum  bool
	}{
		{in: "900101-1234568", birth: "19900101", sex: "M", checksum: true},
		{in: "9001011234568", birth: "19900101", sex: "M", checksum: true},
		{in: "  900101-1234568\t", birth: "19900101", sex: "M", checksum: true},
		{in: "900101-1234567", birth: "19900101", sex: "M", checksum: false}, // checksum never rejects
		{in: "850315-2345678", birth: "19850315", sex: "F", checksum: true},
		{in: "030722-3817265", birth: "20030722", sex: "M"},
		{in: "210505-4999999", birth: "20210505", sex: "F"},
		{in: "880412-5123456", birth: "19880412", sex: "M", foreigner: true},
		{in: "010930-8294716", birth: "20010930", sex: "F", foreigner: true},
		{in: "770707-6000000", birth: "19770707", sex: "F", foreigner: true},
		{in: "150101-7000000", birth: "20150101", sex: "M", foreigner: true},
		{in: "991231-9000000", birth: "18991231", sex: "M"},
		{in: "000101-0000000", birth: "18000101", sex: "F", checksum: true},
		{in: "000229-3000000", birth: "20000229", sex: "M"}, // 2000 was a leap year
		{in: "960229-1000000", birth: "19960229", sex: "M"},
		{in: "261201-4000000", birth: "20261201", sex: "F"}, // born today
		{in: "000229-1000000", wantErr: msgRRNDate},         // 1900 was not
		{in: "970229-2000000", wantErr: msgRRNDate},
		{in: "990231-1234567", wantErr: msgRRNDate},
		{in: "900431-1234567", wantErr: msgRRNDate},
		{in: "901301-1234567", wantErr: msgRRNDate},
		{in: "900001-1234567", wantErr: msgRRNDate},
		{in: "900100-1234567", wantErr: msgRRNDate},
		{in: "900132-1234567", wantErr: msgRRNDate},
		{in: "261202-3000000", wantErr: msgRRNFuture},
		{in: "500101-3000000", wantErr: msgRRNFuture}, // 2050
		{in: "500101-7000000", wantErr: msgRRNFuture},
		{in: "", wantErr: msgRRNFormat},
		{in: "12345", wantErr: msgRRNFormat},
		{in: "900101-A234567", wantErr: msgRRNFormat},
		{in: "900101 1234568", wantErr: msgRRNFormat},
		{in: "900101--234568", wantErr: msgRRNFormat},
		{in: "9001011-234568", wantErr: msgRRNFormat},
		{in: "90010112345689", wantErr: msgRRNFormat},
		{in: "900101-12345678", wantErr: msgRRNFormat},
		{in: "９００１０１-１２３４５６８", wantErr: msgRRNFormat}, // full-width digits
		{in: "-9001011234568", wantErr: msgRRNFormat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRRNAt(tt.in, now)
			if tt.wantErr != "" {
				e := apperr.As(err)
				if err == nil || e.Code != apperr.Invalid || e.Fields["rrn"] != tt.wantErr || len(e.Fields) != 1 {
					t.Fatalf("err = %v, want rrn: %s", err, tt.wantErr)
				}
				if trimmed := strings.TrimSpace(tt.in); trimmed != "" && strings.Contains(err.Error(), trimmed) {
					t.Fatalf("error echoes the input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.BirthDate() != tt.birth || r.Sex() != tt.sex || r.Foreigner() != tt.foreigner || r.ChecksumValid() != tt.checksum {
				t.Fatalf("got %s %s foreigner=%v checksum=%v", r.BirthDate(), r.Sex(), r.Foreigner(), r.ChecksumValid())
			}
			if d := r.Digits(); len(d) != 13 || d != strings.ReplaceAll(strings.TrimSpace(tt.in), "-", "") {
				t.Fatalf("digits %q", d)
			}
			if r.Born().Format("20060102") != tt.birth || r.IsZero() {
				t.Fatal("Born")
			}
		})
	}
}

func TestParseRRNJudgesTheFutureInKoreanTime(t *testing.T) {
	// 30 Nov 2026 20:00 UTC is already 1 Dec in Korea: someone born on
	// 1 Dec 2026 may register.
	late := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC)
	if _, err := ParseRRNAt("261201-3000000", late); err != nil {
		t.Fatalf("born today in Korea: %v", err)
	}
	early := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	if _, err := ParseRRNAt("261201-3000000", early); err == nil {
		t.Fatal("born tomorrow in Korea accepted")
	}
}

func TestRRNNeverPrintsItsDigits(t *testing.T) {
	r, err := ParseRRNAt("770707-5987654", now)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Public  RRN
		private RRN
		ptr     *RRN
	}
	hv := holder{Public: r, private: r, ptr: &r}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "rrn", r, "ptr", &r, "holder", hv)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "rrn", r, "holder", hv)
	js, _ := json.Marshal(hv)
	outputs := []string{
		fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s %q", r, r, r, r, r), fmt.Sprintf("%v %+v %#v", hv, hv, hv),
		fmt.Sprintf("%v %+v", &hv, []RRN{r}), buf.String(), string(js), fmt.Sprint(apperr.As(nil)),
	}
	for _, out := range outputs {
		for _, leak := range []string{"770707", "5987654", "7707075987654"} {
			if strings.Contains(out, leak) {
				t.Fatalf("output shows the number: %s", out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(r), "redacted") {
		t.Fatal("String does not say it redacts")
	}
}

func TestZeroRRN(t *testing.T) {
	var r RRN
	if !r.IsZero() || r.Digits() != "" || r.Sex() != "" || r.BirthDate() != "" || r.Foreigner() || r.ChecksumValid() || !r.Born().IsZero() {
		t.Fatal("zero RRN")
	}
	a, _ := ParseRRNAt("900101-1234568", now)
	b, _ := ParseRRNAt("9001011234568", now)
	c, _ := ParseRRNAt("900101-1234567", now)
	if !a.Equal(b) || a.Equal(c) || a.Equal(r) {
		t.Fatal("Equal")
	}
}

func TestCheckDigit(t *testing.T) {
	// Worked by hand: 9,0,0,1,0,1,1,2,3,4,5,6 weighted sum 124; 124 mod 11
	// = 3; (11-3) mod 10 = 8.
	if got := checkDigit("900101123456"); got != '8' {
		t.Fatalf("check digit %c", got)
	}
}
