// Package config reads every setting of the system from the environment into
// one struct, once, at cold start. A missing or malformed required setting
// fails start-up with a message naming it, instead of failing a request
// later. Local runs get generated development secrets from the local runner,
// never from defaults baked in here.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. Field comments name the variable.
type Config struct {
	Env      string // PCCC_ENV: "aws" (default) or "local"
	LogLevel string // LOG_LEVEL: debug, info (default), warn, error
	Region   string // AWS_REGION

	TableName string // TABLE_NAME, required: the single DynamoDB table

	// HMACKey keys the hash that finds a holder by registration number
	// (PCCC_HMAC_KEY, base64, at least 32 bytes, required).
	HMACKey []byte
	// DataKeys are the AES-256 keys for personal fields at rest, by key id
	// (PCCC_DATA_KEYS: "id:base64,id2:base64", required); DataKeyID is the one
	// new values are sealed with (PCCC_DATA_KEY_ID, default: the first).
	DataKeys  map[string][]byte
	DataKeyID string

	BureauURL      string        // BUREAU_URL, required
	BureauTimeout  time.Duration // BUREAU_TIMEOUT, default 2s per attempt
	BureauAttempts int           // BUREAU_ATTEMPTS, default 2

	VerificationTTL time.Duration // VERIFICATION_TTL, default 10m, at most 10m

	// Throttles on the real-name check, fixed windows.
	RateIPPerMinute   int // RATE_IP_PER_MINUTE, default 30
	RatePersonPerHour int // RATE_PERSON_PER_HOUR, default 10

	// SessionKeys sign holder session tokens, by key id
	// (PCCC_SESSION_KEYS: "id:base64,..." of 32-byte keys, required);
	// SessionKeyID signs new tokens (PCCC_SESSION_KEY_ID, default: the
	// first); SessionTTL is their lifetime (SESSION_TTL, default 15m).
	SessionKeys  map[string][]byte
	SessionKeyID string
	SessionTTL   time.Duration

	CarrierURL      string        // CARRIER_URL, required: the carriers' subscriber check
	CarrierTimeout  time.Duration // CARRIER_TIMEOUT, default 2s per attempt
	CarrierAttempts int           // CARRIER_ATTEMPTS, default 2

	// One-time codes (DOMAIN.md, NIST SP 800-63B).
	OTPTTL              time.Duration // OTP_TTL, default 3m, at most 10m
	OTPMaxAttempts      int           // OTP_MAX_ATTEMPTS per code, default 5
	OTPPersonLockAfter  int           // OTP_PERSON_LOCK_AFTER failures a day across verifications, default 10
	OTPResendCooldown   time.Duration // OTP_RESEND_COOLDOWN, default 60s
	OTPSendsPerPhoneDay int           // OTP_SENDS_PER_PHONE_PER_DAY, default 5

	// The code's policy (DOMAIN.md; the reissue limit is unconfirmed).
	ReissuesPerYear   int // REISSUES_PER_YEAR, per Korean calendar year, default 5
	CodeValidityMonth int // CODE_VALIDITY_MONTHS, default 12
	RenewalWindowDays int // RENEWAL_WINDOW_DAYS either side of expiry, default 30

	// IdempotencyTTL is how long an Idempotency-Key's answer is replayed
	// (IDEMPOTENCY_TTL, default 24h, 1m to 7 days).
	IdempotencyTTL time.Duration

	// Admission control (shared/admission): the workers' drain rate in
	// commands a second (WORKER_RATE, default 100), the longest estimated
	// wait a new command is queued for (ADMIT_MAX_WAIT, default 30m), and
	// the accept path's average latency above which commands are shed
	// (ADMIT_MAX_LATENCY, default 2s; 0 turns it off), and the most
	// commands taken a second over all instances (ADMIT_MAX_RATE, default
	// 0: no rate bound; template.yaml sizes it to the table).
	WorkerRate      int
	AdmitMaxWait    time.Duration
	AdmitMaxLatency time.Duration
	AdmitMaxRate    int
}

// Local reports whether this is a local run.
func (c Config) Local() bool { return c.Env == "local" }

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). It reports every problem at once.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	dataKeys, firstDataKey := r.keyring("PCCC_DATA_KEYS")
	sessionKeys, firstSessionKey := r.keyring("PCCC_SESSION_KEYS")
	c := Config{
		Env:      r.str("PCCC_ENV", "aws"),
		LogLevel: r.str("LOG_LEVEL", "info"),
		Region:   r.str("AWS_REGION", "ap-northeast-2"),

		TableName: r.required("TABLE_NAME"),
		HMACKey:   r.key("PCCC_HMAC_KEY"),
		DataKeys:  dataKeys,
		DataKeyID: r.str("PCCC_DATA_KEY_ID", ""),

		BureauURL:      r.required("BUREAU_URL"),
		BureauTimeout:  r.duration("BUREAU_TIMEOUT", 2*time.Second),
		BureauAttempts: r.integer("BUREAU_ATTEMPTS", 2, 1, 5),

		VerificationTTL: r.duration("VERIFICATION_TTL", 10*time.Minute),

		RateIPPerMinute:   r.integer("RATE_IP_PER_MINUTE", 30, 1, 1_000_000),
		RatePersonPerHour: r.integer("RATE_PERSON_PER_HOUR", 10, 1, 1_000_000),

		SessionKeys:  sessionKeys,
		SessionKeyID: r.str("PCCC_SESSION_KEY_ID", ""),
		SessionTTL:   r.duration("SESSION_TTL", 15*time.Minute),

		CarrierURL:      r.required("CARRIER_URL"),
		CarrierTimeout:  r.duration("CARRIER_TIMEOUT", 2*time.Second),
		CarrierAttempts: r.integer("CARRIER_ATTEMPTS", 2, 1, 5),

		OTPTTL:              r.duration("OTP_TTL", 3*time.Minute),
		OTPMaxAttempts:      r.integer("OTP_MAX_ATTEMPTS", 5, 1, 10),
		OTPPersonLockAfter:  r.integer("OTP_PERSON_LOCK_AFTER", 10, 1, 100),
		OTPResendCooldown:   r.duration("OTP_RESEND_COOLDOWN", 60*time.Second),
		OTPSendsPerPhoneDay: r.integer("OTP_SENDS_PER_PHONE_PER_DAY", 5, 1, 100),

		ReissuesPerYear:   r.integer("REISSUES_PER_YEAR", 5, 0, 366),
		CodeValidityMonth: r.integer("CODE_VALIDITY_MONTHS", 12, 1, 120),
		RenewalWindowDays: r.integer("RENEWAL_WINDOW_DAYS", 30, 1, 180),
		IdempotencyTTL:    r.duration("IDEMPOTENCY_TTL", 24*time.Hour),

		WorkerRate:      r.integer("WORKER_RATE", 100, 1, 1_000_000),
		AdmitMaxWait:    r.duration("ADMIT_MAX_WAIT", 30*time.Minute),
		AdmitMaxLatency: r.duration("ADMIT_MAX_LATENCY", 2*time.Second),
		AdmitMaxRate:    r.integer("ADMIT_MAX_RATE", 0, 0, 1_000_000),
	}
	if c.IdempotencyTTL < time.Minute || c.IdempotencyTTL > 7*24*time.Hour {
		r.fail("IDEMPOTENCY_TTL", "must be from 1m to 168h")
	}
	if len(c.SessionKeys) > 0 {
		if c.SessionKeyID == "" {
			c.SessionKeyID = firstSessionKey
		}
		if _, ok := c.SessionKeys[c.SessionKeyID]; !ok {
			r.fail("PCCC_SESSION_KEY_ID", "names no key in PCCC_SESSION_KEYS")
		}
	}
	if c.OTPTTL <= 0 || c.OTPTTL > 10*time.Minute {
		r.fail("OTP_TTL", "must be more than 0 and at most 10m")
	}
	if c.SessionTTL < time.Second || c.SessionTTL > time.Hour {
		r.fail("SESSION_TTL", "must be from 1s to 1h")
	}
	if c.Env != "aws" && c.Env != "local" {
		r.fail("PCCC_ENV", `must be "aws" or "local"`)
	}
	if c.VerificationTTL > 10*time.Minute || c.VerificationTTL <= 0 {
		r.fail("VERIFICATION_TTL", "must be more than 0 and at most 10m")
	}
	if len(c.DataKeys) > 0 {
		if c.DataKeyID == "" {
			c.DataKeyID = firstDataKey
		}
		if _, ok := c.DataKeys[c.DataKeyID]; !ok {
			r.fail("PCCC_DATA_KEY_ID", "names no key in PCCC_DATA_KEYS")
		}
	}
	if len(r.problems) > 0 {
		sort.Strings(r.problems)
		return Config{}, errors.New("configuration: " + strings.Join(r.problems, "; "))
	}
	return c, nil
}

type reader struct {
	getenv   func(string) string
	problems []string
}

func (r *reader) fail(name, problem string) {
	r.problems = append(r.problems, name+" "+problem)
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) required(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.fail(name, "is required")
	}
	return v
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, "must be a duration such as 2s or 10m")
		return def
	}
	return d
}

func (r *reader) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

// key decodes a required base64 secret of at least 32 bytes. The value is
// never echoed in the error.
func (r *reader) key(name string) []byte {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.fail(name, "is required (base64, at least 32 bytes)")
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) < 32 {
		r.fail(name, "must be base64 of at least 32 bytes")
		return nil
	}
	return b
}

// keyring decodes "id:base64,id:base64" of 32-byte keys and returns them
// with the first id.
func (r *reader) keyring(name string) (keys map[string][]byte, first string) {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.fail(name, `is required ("keyid:base64-of-32-bytes", comma-separated)`)
		return nil, ""
	}
	keys = map[string][]byte{}
	for i, part := range strings.Split(v, ",") {
		id, enc, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			r.fail(name, "entries must be keyid:base64")
			return nil, ""
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(b) != 32 {
			r.fail(name, "key "+id+" must be base64 of exactly 32 bytes")
			return nil, ""
		}
		if i == 0 {
			first = id
		}
		keys[id] = b
	}
	return keys, first
}
