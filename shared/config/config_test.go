package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/keyring"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validEnv() map[string]string {
	return map[string]string{
		"TABLE_NAME":       "pccc",
		"PCCC_KEYS":        "hmac, data,session",
		"PCCC_KEYS_BUCKET": "pccc-keys",
		"BUREAU_URL":       "http://127.0.0.1:1/bureau",
		"BUREAU_TIMEOUT":   "500ms",
		"VERIFICATION_TTL": "5m",
		"CARRIER_URL":      "http://127.0.0.1:1/carrier",
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "aws" || c.KeysBucket != "pccc-keys" || !reflect.DeepEqual(c.KeyKinds, []keyring.Kind{keyring.HMAC, keyring.Data, keyring.Session}) ||
		c.Keys != nil || c.BureauTimeout != 500*time.Millisecond ||
		c.VerificationTTL != 5*time.Minute || c.RateIPPerMinute != 30 || c.Local() {
		t.Fatalf("unexpected config %+v", c)
	}
}

func TestLoadNamesEveryProblem(t *testing.T) {
	m := validEnv()
	delete(m, "TABLE_NAME")
	m["VERIFICATION_TTL"] = "11m"
	m["RATE_IP_PER_MINUTE"] = "lots"
	_, err := Load(env(m))
	if err == nil {
		t.Fatal("want error")
	}
	for _, name := range []string{"TABLE_NAME", "VERIFICATION_TTL", "RATE_IP_PER_MINUTE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// No key is configuration: the variables keys were once given in are
// refused, without echoing what they held, and so are unknown rings or
// rings without a bucket.
func TestLoadRefusesKeysInTheEnvironment(t *testing.T) {
	for _, name := range []string{"PCCC_HMAC_KEY", "PCCC_DATA_KEYS", "PCCC_SESSION_KEYS", "PCCC_ORIGIN_SECRET"} {
		m := validEnv()
		m[name] = "c2VjcmV0LXZhbHVlLW9mLWEta2V5LWluLXRoZS1jbGVhcg=="
		_, err := Load(env(m))
		if err == nil || !strings.Contains(err.Error(), name+" is set: keys are never read from the environment") {
			t.Errorf("%s: err = %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("the error echoes the value: %v", err)
		}
	}
	m := validEnv()
	m["PCCC_KEYS"] = "hmac,pepper"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), `unknown kind "pepper"`) {
		t.Errorf("unknown kind: %v", err)
	}
	m = validEnv()
	delete(m, "PCCC_KEYS_BUCKET")
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "PCCC_KEYS_BUCKET is required") {
		t.Errorf("no bucket: %v", err)
	}
}

func TestLoadBounds(t *testing.T) {
	c, err := Load(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.RRNFailsPerAddressPerHour != 5 || c.RRNFailsPerDay != 20 || c.OTPPhoneFailsPerVerification != 3 ||
		c.OTPPhoneFailsPerPersonDay != 10 || c.OTPPhoneFailsPerAddressHour != 30 {
		t.Fatalf("defaults %+v", c)
	}
	for _, tt := range []struct{ set, value, named string }{
		{"RRN_FAILS_PER_DAY", "4", "RRN_FAILS_PER_DAY"}, // below the 5 per address
		{"RRN_FAILS_PER_ADDRESS_PER_HOUR", "0", "RRN_FAILS_PER_ADDRESS_PER_HOUR"},
		{"OTP_PHONE_FAILS_PER_VERIFICATION", "11", "OTP_PHONE_FAILS_PER_VERIFICATION"},
		{"OTP_PHONE_FAILS_PER_PERSON_PER_DAY", "2", "OTP_PHONE_FAILS_PER_PERSON_PER_DAY"}, // below the 3 per verification
		{"OTP_PHONE_FAILS_PER_ADDRESS_PER_HOUR", "x", "OTP_PHONE_FAILS_PER_ADDRESS_PER_HOUR"},
	} {
		m := validEnv()
		m[tt.set] = tt.value
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), tt.named) {
			t.Errorf("%s=%s: err = %v", tt.set, tt.value, err)
		}
	}
}

func TestLoadSessionMaxAge(t *testing.T) {
	c, err := Load(env(validEnv()))
	if err != nil || c.SessionMaxAge != time.Hour {
		t.Fatalf("default: %v %s", err, c.SessionMaxAge)
	}
	for _, tc := range []struct{ ttl, max string }{{"15m", "10m"}, {"15m", "13h"}, {"15m", "soon"}} {
		m := validEnv()
		m["SESSION_TTL"], m["SESSION_MAX_AGE"] = tc.ttl, tc.max
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "SESSION_MAX_AGE") {
			t.Errorf("SESSION_MAX_AGE=%s with SESSION_TTL=%s: err = %v", tc.max, tc.ttl, err)
		}
	}
	m := validEnv()
	m["SESSION_TTL"], m["SESSION_MAX_AGE"] = "2s", "3s"
	if c, err := Load(env(m)); err != nil || c.SessionMaxAge != 3*time.Second {
		t.Fatalf("short: %v %s", err, c.SessionMaxAge)
	}
}
