// Package sim holds the local stand-ins for the outside world, never
// deployed: the credit bureau (and, from issue 3, the carriers) over the
// same wire protocols as the real adapters, loaded with synthetic residents,
// and the SMS outbox that GET /_local/sms shows. Every resident here is
// made up; the phone numbers are all 010-0000-xxxx.
package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/pccc/pccc/shared/identity"
)

// Resident is a synthetic person known to the bureau and a carrier. The
// JSON form is the one PCCC_LOCAL_RESIDENTS files use (API.md).
type Resident struct {
	Name      string `json:"name"`
	RRN       string `json:"rrn"`
	Carrier   string `json:"carrier"`
	Phone     string `json:"phone"`     // digits, 01012345678
	BirthDate string `json:"birthDate"` // YYYYMMDD; derived from rrn when empty
	Sex       string `json:"sex"`       // M or F; derived from rrn when empty
}

// String redacts, like everything holding personal data (synthetic data
// must not teach code to log the real kind).
func (Resident) String() string { return "Resident(redacted)" }

// GoString redacts, for %#v.
func (Resident) GoString() string { return "Resident(redacted)" }

// Carriers are the mobile carriers of API.md step 2.
var Carriers = []string{"SKT", "KT", "LGU", "SKT_MVNO", "KT_MVNO", "LGU_MVNO"}

// BuiltIn returns the built-in synthetic residents. The first two are the
// documented ones (README, `make run` prints them); the rest cover the
// other kinds of number:
//
//	0 HONG GILDONG   900101-1234568  Korean, 1990, M, old number, checksum valid
//	1 이영희          850315-2345678  Korean, 1985, F, old number, checksum valid
//	2 김철수          030722-3817265  Korean, 2003, M, post-2020 number, checksum fails
//	3 SMITH JOHN     880412-5123456  foreigner, 1988, M, checksum fails
//	4 NGUYEN THI LAN 010930-8294716  foreigner, 2001, F, checksum fails
func BuiltIn() []Resident {
	return []Resident{
		{Name: "HONG GILDONG", RRN: "900101-1234568", Carrier: "SKT", Phone: "01000000001", BirthDate: "19900101", Sex: "M"},
		{Name: "이영희", RRN: "850315-2345678", Carrier: "KT", Phone: "01000000002", BirthDate: "19850315", Sex: "F"},
		{Name: "김철수", RRN: "030722-3817265", Carrier: "LGU", Phone: "01000000003", BirthDate: "20030722", Sex: "M"},
		{Name: "SMITH JOHN", RRN: "880412-5123456", Carrier: "SKT_MVNO", Phone: "01000000004", BirthDate: "19880412", Sex: "M"},
		{Name: "NGUYEN THI LAN", RRN: "010930-8294716", Carrier: "KT_MVNO", Phone: "01000000005", BirthDate: "20010930", Sex: "F"},
	}
}

// maxResidentsFile bounds what LoadResidents reads.
const maxResidentsFile = 8 << 20

// LoadResidents reads a JSON array of residents (PCCC_LOCAL_RESIDENTS),
// validates each and fills in birth date and sex from the number when
// omitted. Errors name the entry by index and the field, never its data.
func LoadResidents(path string) ([]Resident, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("residents file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("residents file: %w", err)
	}
	if info.Size() > maxResidentsFile {
		return nil, errors.New("residents file: larger than 8 MiB")
	}
	var rs []Resident
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		// The decoder's message may quote the file's content: say only where.
		return nil, errors.New("residents file: must be a JSON array of objects with name, rrn, carrier, phone, birthDate, sex")
	}
	seen := map[string]int{}
	for i := range rs {
		if err := rs[i].normalize(); err != nil {
			return nil, fmt.Errorf("residents file: entry %d: %w", i, err)
		}
		if j, dup := seen[rs[i].RRN]; dup {
			return nil, fmt.Errorf("residents file: entry %d: rrn repeats entry %d", i, j)
		}
		seen[rs[i].RRN] = i
	}
	return rs, nil
}

var phonePattern = regexp.MustCompile(`^01[016789][0-9]{7,8}$`)

// normalize validates r and puts it in canonical form: rrn with the dash,
// phone as digits, birth date and sex filled in.
func (r *Resident) normalize() error {
	if _, err := identity.NormalizeName(r.Name); err != nil {
		return errors.New("name is not a valid name")
	}
	rrn, err := identity.ParseRRN(r.RRN)
	if err != nil {
		return errors.New("rrn is not a valid registration number")
	}
	d := rrn.Digits()
	r.RRN = d[:6] + "-" + d[6:]
	if !isCarrier(r.Carrier) {
		return errors.New("carrier must be one of " + strings.Join(Carriers, ", "))
	}
	r.Phone = strings.ReplaceAll(r.Phone, "-", "")
	if !phonePattern.MatchString(r.Phone) {
		return errors.New("phone must be a mobile number of 10-11 digits")
	}
	switch r.BirthDate {
	case "":
		r.BirthDate = rrn.BirthDate()
	case rrn.BirthDate():
	default:
		return errors.New("birthDate does not agree with rrn")
	}
	switch r.Sex {
	case "":
		r.Sex = rrn.Sex()
	case rrn.Sex():
	default:
		return errors.New("sex does not agree with rrn")
	}
	return nil
}

func isCarrier(c string) bool {
	for _, k := range Carriers {
		if c == k {
			return true
		}
	}
	return false
}
