package config

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validEnv() map[string]string {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	return map[string]string{
		"TABLE_NAME":        "pccc",
		"PCCC_HMAC_KEY":     k,
		"PCCC_DATA_KEYS":    "k1:" + k + ",k2:" + k,
		"BUREAU_URL":        "http://127.0.0.1:1/bureau",
		"BUREAU_TIMEOUT":    "500ms",
		"VERIFICATION_TTL":  "5m",
		"PCCC_SESSION_KEYS": "s1:" + k,
		"CARRIER_URL":       "http://127.0.0.1:1/carrier",
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load(env(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "aws" || c.DataKeyID != "k1" || len(c.DataKeys) != 2 || c.BureauTimeout != 500*time.Millisecond ||
		c.VerificationTTL != 5*time.Minute || c.RateIPPerMinute != 30 || c.Local() {
		t.Fatalf("unexpected config %+v", c)
	}
}

func TestLoadNamesEveryProblemWithoutEchoingSecrets(t *testing.T) {
	m := validEnv()
	delete(m, "TABLE_NAME")
	m["PCCC_HMAC_KEY"] = "c2VjcmV0LXRvby1zaG9ydA==" // "secret-too-short"
	m["VERIFICATION_TTL"] = "11m"
	m["RATE_IP_PER_MINUTE"] = "lots"
	_, err := Load(env(m))
	if err == nil {
		t.Fatal("want error")
	}
	for _, name := range []string{"TABLE_NAME", "PCCC_HMAC_KEY", "VERIFICATION_TTL", "RATE_IP_PER_MINUTE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("error echoes the secret: %q", err)
	}
}

func TestLoadRejectsUnknownActiveKey(t *testing.T) {
	m := validEnv()
	m["PCCC_DATA_KEY_ID"] = "k9"
	if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "PCCC_DATA_KEY_ID") {
		t.Fatalf("err = %v", err)
	}
}
