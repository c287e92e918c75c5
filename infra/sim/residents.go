// Package sim holds the local stand-ins for the outside world, never
// deployed: the credit bureau (and, later, the carriers) over the same wire
// protocol as the real adapters, loaded with synthetic residents, and the SMS
// outbox that `/_local/sms` shows. Every resident here is made up.
package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/pccc/pccc/shared/identity"
)

// Resident is a synthetic person known to the bureau and a carrier.
type Resident struct {
	Name      string `json:"name"`
	RRN       string `json:"rrn"`
	Carrier   string `json:"carrier"`
	Phone     string `json:"phone"`
	BirthDate string `json:"birthDate"`
	Sex       string `json:"sex"`
}

// BuiltIn returns the built-in synthetic residents: Koreans with old-style
// numbers (valid checksum) and a post-2020 number (no checksum), and
// foreigners with alien registration numbers.
func BuiltIn() []Resident {
	return []Resident{
		{Name: "HONG GILDONG", RRN: "900101-1234568", Carrier: "SKT", Phone: "01000000001", BirthDate: "19900101", Sex: "M"},
		{Name: "김민지", RRN: "850315-2345675", Carrier: "KT", Phone: "01000000002", BirthDate: "19850315", Sex: "F"},
		{Name: "이서준", RRN: "030722-3817264", Carrier: "LGU", Phone: "01000000003", BirthDate: "20030722", Sex: "M"},
		{Name: "SMITH JOHN", RRN: "880412-5123457", Carrier: "SKT_MVNO", Phone: "01000000004", BirthDate: "19880412", Sex: "M"},
		{Name: "NGUYEN THI LAN", RRN: "010930-8294716", Carrier: "KT_MVNO", Phone: "01000000005", BirthDate: "20010930", Sex: "F"},
	}
}

// LoadResidents reads a JSON array of residents (PCCC_LOCAL_RESIDENTS).
// Errors name the entry and field, never the data.
func LoadResidents(path string) ([]Resident, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("residents file: %w", err)
	}
	var rs []Resident
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("residents file %s: must be a JSON array of residents", path)
	}
	for i, r := range rs {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("residents file %s: entry %d: %w", path, i, err)
		}
	}
	return rs, nil
}

func (r Resident) validate() error {
	if _, err := identity.NormalizeName(r.Name); err != nil {
		return fmt.Errorf("name is not a valid name")
	}
	rrn, err := identity.ParseRRN(r.RRN, time.Now())
	if err != nil {
		return fmt.Errorf("rrn is not a valid registration number")
	}
	if r.BirthDate != "" && r.BirthDate != rrn.BirthDate() {
		return fmt.Errorf("birthDate does not agree with rrn")
	}
	if r.Sex != "" && r.Sex != rrn.Sex() {
		return fmt.Errorf("sex does not agree with rrn")
	}
	return nil
}
