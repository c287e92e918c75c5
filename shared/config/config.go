// Package config reads every setting of the system from the environment into
// one struct, once, at cold start. A missing or malformed required setting
// fails start-up with a message naming it, instead of failing a request
// later. Keys are not configuration: the environment only names which key
// rings a function is given and where they are (shared/keyring); local runs
// get fresh development rings from the local runner the same way, never
// from defaults baked in here.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/keyring"
)

// Config is the whole configuration. Field comments name the variable.
type Config struct {
	Env      string // PCCC_ENV: "aws" (default) or "local"
	LogLevel string // LOG_LEVEL: debug, info (default), warn, error
	Region   string // AWS_REGION

	TableName string // TABLE_NAME, required: the single DynamoDB table

	// KeyKinds are the key rings the function is given (PCCC_KEYS, e.g.
	// "hmac,data"), KeysBucket the bucket they are in, KMS-encrypted
	// (PCCC_KEYS_BUCKET, required when any is given). No key is ever read
	// from the environment: platform fetches the rings at cold start into
	// Keys (shared/keyring), and a function that cannot get them does not
	// start.
	KeyKinds   []keyring.Kind
	KeysBucket string
	Keys       *keyring.Keys

	BureauURL      string        // BUREAU_URL, required
	BureauTimeout  time.Duration // BUREAU_TIMEOUT, default 2s per attempt
	BureauAttempts int           // BUREAU_ATTEMPTS, default 2

	VerificationTTL time.Duration // VERIFICATION_TTL, default 10m, at most 10m

	// Bounds on the real-name check (README "Limits"): checks per client
	// address in a sliding minute, counted whatever their outcome
	// (RATE_IP_PER_MINUTE, default 30); verifications opened per person in
	// a sliding hour, counted on a match (RATE_PERSON_PER_HOUR, default
	// 10); failed checks of one number from one address in a sliding hour
	// (RRN_FAILS_PER_ADDRESS_PER_HOUR, default 5) and from anywhere in a
	// Korean day (RRN_FAILS_PER_DAY, default 20, at least the former).
	RateIPPerMinute           int
	RatePersonPerHour         int
	RRNFailsPerAddressPerHour int
	RRNFailsPerDay            int

	// SessionTTL is the lifetime of holder session tokens (SESSION_TTL,
	// default 15m; their keys are the session ring);
	// SessionMaxAge caps a session refreshed by POST /v1/sessions/refresh,
	// counted from the verification (SESSION_MAX_AGE, default 1h, from
	// SESSION_TTL to 12h).
	SessionTTL    time.Duration
	SessionMaxAge time.Duration

	CarrierURL      string        // CARRIER_URL, required: the carriers' subscriber check
	CarrierTimeout  time.Duration // CARRIER_TIMEOUT, default 2s per attempt
	CarrierAttempts int           // CARRIER_ATTEMPTS, default 2

	// One-time codes (DOMAIN.md, NIST SP 800-63B).
	OTPTTL              time.Duration // OTP_TTL, default 3m, at most 10m
	OTPMaxAttempts      int           // OTP_MAX_ATTEMPTS per code, default 5
	OTPPersonLockAfter  int           // OTP_PERSON_LOCK_AFTER failures a day across verifications, default 10
	OTPResendCooldown   time.Duration // OTP_RESEND_COOLDOWN, default 60s
	OTPSendsPerPhoneDay int           // OTP_SENDS_PER_PHONE_PER_DAY, default 5, counted after the carrier check
	// Failed carrier checks: per verification (OTP_PHONE_FAILS_PER_VERIFICATION,
	// default 3), per person in a Korean day (OTP_PHONE_FAILS_PER_PERSON_PER_DAY,
	// default 10, at least the former), per client address in a sliding
	// hour (OTP_PHONE_FAILS_PER_ADDRESS_PER_HOUR, default 30).
	OTPPhoneFailsPerVerification int
	OTPPhoneFailsPerPersonDay    int
	OTPPhoneFailsPerAddressHour  int

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

	// The SMS provider and its queues (README "SMS delivery"): messages a
	// second the provider's account allows, over all senders (SMS_RATE,
	// default 10: AWS End User Messaging's default for long codes outside
	// the US); the longest a new code may wait on the code queue at that
	// rate before the SMS step answers 503 (SMS_ADMIT_MAX_WAIT, default
	// 60s); and the validity a code must still have to be sent
	// (SMS_DELIVERY_MARGIN, default 30s). The two together stay under
	// OTP_TTL, so an admitted code arrives in time.
	SMSRate           int
	SMSAdmitMaxWait   time.Duration
	SMSDeliveryMargin time.Duration
	// SMSNoticeDelay is how long a notice that found no share of the rate
	// waits on its queue before it is tried again (SMS_NOTICE_DELAY,
	// default 30s, at most 15m: SQS's longest delay).
	SMSNoticeDelay time.Duration

	// PublicSiteURL is the public page's address, which the holders'
	// notices name (PUBLIC_SITE_URL; in local runs the runner's URL by
	// default). At most 24 characters after the scheme, so every notice
	// stays one SMS part.
	PublicSiteURL string
}

// MaxSiteURL is the most PUBLIC_SITE_URL may be, scheme left out.
const MaxSiteURL = 24

// Local reports whether this is a local run.
func (c Config) Local() bool { return c.Env == "local" }

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). It reports every problem at once.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	kinds, err := keyring.ParseKinds(getenv(keyring.EnvKinds))
	if err != nil {
		r.problems = append(r.problems, err.Error())
	}
	// Keys were once given in these; now any of them set is a mistake
	// (a key in plain configuration), refused rather than ignored.
	for _, old := range []string{"PCCC_HMAC_KEY", "PCCC_DATA_KEYS", "PCCC_DATA_KEY_ID", "PCCC_SESSION_KEYS", "PCCC_SESSION_KEY_ID", "PCCC_ORIGIN_SECRET"} {
		if strings.TrimSpace(getenv(old)) != "" {
			r.fail(old, "is set: keys are never read from the environment (they come from the keys bucket, "+keyring.EnvKinds+")")
		}
	}
	c := Config{
		Env:      r.str("PCCC_ENV", "aws"),
		LogLevel: r.str("LOG_LEVEL", "info"),
		Region:   r.str("AWS_REGION", "ap-northeast-2"),

		TableName:  r.required("TABLE_NAME"),
		KeyKinds:   kinds,
		KeysBucket: r.str(keyring.EnvBucket, ""),

		BureauURL:      r.required("BUREAU_URL"),
		BureauTimeout:  r.duration("BUREAU_TIMEOUT", 2*time.Second),
		BureauAttempts: r.integer("BUREAU_ATTEMPTS", 2, 1, 5),

		VerificationTTL: r.duration("VERIFICATION_TTL", 10*time.Minute),

		RateIPPerMinute:           r.integer("RATE_IP_PER_MINUTE", 30, 1, 1_000_000),
		RatePersonPerHour:         r.integer("RATE_PERSON_PER_HOUR", 10, 1, 1_000_000),
		RRNFailsPerAddressPerHour: r.integer("RRN_FAILS_PER_ADDRESS_PER_HOUR", 5, 1, 99),
		RRNFailsPerDay:            r.integer("RRN_FAILS_PER_DAY", 20, 1, 99),

		SessionTTL:    r.duration("SESSION_TTL", 15*time.Minute),
		SessionMaxAge: r.duration("SESSION_MAX_AGE", time.Hour),

		CarrierURL:      r.required("CARRIER_URL"),
		CarrierTimeout:  r.duration("CARRIER_TIMEOUT", 2*time.Second),
		CarrierAttempts: r.integer("CARRIER_ATTEMPTS", 2, 1, 5),

		OTPTTL:                       r.duration("OTP_TTL", 3*time.Minute),
		OTPMaxAttempts:               r.integer("OTP_MAX_ATTEMPTS", 5, 1, 10),
		OTPPersonLockAfter:           r.integer("OTP_PERSON_LOCK_AFTER", 10, 1, 100),
		OTPResendCooldown:            r.duration("OTP_RESEND_COOLDOWN", 60*time.Second),
		OTPSendsPerPhoneDay:          r.integer("OTP_SENDS_PER_PHONE_PER_DAY", 5, 1, 100),
		OTPPhoneFailsPerVerification: r.integer("OTP_PHONE_FAILS_PER_VERIFICATION", 3, 1, 10),
		OTPPhoneFailsPerPersonDay:    r.integer("OTP_PHONE_FAILS_PER_PERSON_PER_DAY", 10, 1, 99),
		OTPPhoneFailsPerAddressHour:  r.integer("OTP_PHONE_FAILS_PER_ADDRESS_PER_HOUR", 30, 1, 1_000_000),

		ReissuesPerYear:   r.integer("REISSUES_PER_YEAR", 5, 0, 366),
		CodeValidityMonth: r.integer("CODE_VALIDITY_MONTHS", 12, 1, 120),
		RenewalWindowDays: r.integer("RENEWAL_WINDOW_DAYS", 30, 1, 180),
		IdempotencyTTL:    r.duration("IDEMPOTENCY_TTL", 24*time.Hour),

		WorkerRate:      r.integer("WORKER_RATE", 100, 1, 1_000_000),
		AdmitMaxWait:    r.duration("ADMIT_MAX_WAIT", 30*time.Minute),
		AdmitMaxLatency: r.duration("ADMIT_MAX_LATENCY", 2*time.Second),
		AdmitMaxRate:    r.integer("ADMIT_MAX_RATE", 0, 0, 1_000_000),

		SMSRate:           r.integer("SMS_RATE", 10, 1, 10_000),
		SMSAdmitMaxWait:   r.duration("SMS_ADMIT_MAX_WAIT", 60*time.Second),
		SMSDeliveryMargin: r.duration("SMS_DELIVERY_MARGIN", 30*time.Second),
		SMSNoticeDelay:    r.duration("SMS_NOTICE_DELAY", 30*time.Second),
		PublicSiteURL:     r.str("PUBLIC_SITE_URL", ""),
	}
	if c.PublicSiteURL == "" {
		c.PublicSiteURL = r.str("PCCC_LOCAL_URL", "")
	}
	if c.PublicSiteURL != "" {
		host := strings.TrimPrefix(strings.TrimPrefix(c.PublicSiteURL, "https://"), "http://")
		if host == c.PublicSiteURL || len(host) < 3 || len(host) > MaxSiteURL || strings.ContainsAny(host, " \t\n") {
			r.fail("PUBLIC_SITE_URL", fmt.Sprintf("must be http(s):// and at most %d characters after it", MaxSiteURL))
		}
	}
	if c.SMSNoticeDelay < time.Second || c.SMSNoticeDelay > 15*time.Minute {
		r.fail("SMS_NOTICE_DELAY", "must be from 1s to 15m")
	}
	if c.SMSAdmitMaxWait <= 0 || c.SMSDeliveryMargin < 0 || c.SMSAdmitMaxWait+c.SMSDeliveryMargin >= c.OTPTTL {
		r.fail("SMS_ADMIT_MAX_WAIT", "must be above 0, and with SMS_DELIVERY_MARGIN below OTP_TTL")
	}
	if c.RRNFailsPerDay < c.RRNFailsPerAddressPerHour {
		r.fail("RRN_FAILS_PER_DAY", "must be at least RRN_FAILS_PER_ADDRESS_PER_HOUR (the bound per number is the looser)")
	}
	if c.OTPPhoneFailsPerPersonDay < c.OTPPhoneFailsPerVerification {
		r.fail("OTP_PHONE_FAILS_PER_PERSON_PER_DAY", "must be at least OTP_PHONE_FAILS_PER_VERIFICATION")
	}
	if c.IdempotencyTTL < time.Minute || c.IdempotencyTTL > 7*24*time.Hour {
		r.fail("IDEMPOTENCY_TTL", "must be from 1m to 168h")
	}
	if len(c.KeyKinds) > 0 && c.KeysBucket == "" {
		r.fail(keyring.EnvBucket, "is required when "+keyring.EnvKinds+" names key rings")
	}
	if c.OTPTTL <= 0 || c.OTPTTL > 10*time.Minute {
		r.fail("OTP_TTL", "must be more than 0 and at most 10m")
	}
	if c.SessionTTL < time.Second || c.SessionTTL > time.Hour {
		r.fail("SESSION_TTL", "must be from 1s to 1h")
	}
	if c.SessionMaxAge < c.SessionTTL || c.SessionMaxAge > 12*time.Hour {
		r.fail("SESSION_MAX_AGE", "must be from SESSION_TTL to 12h")
	}
	if c.Env != "aws" && c.Env != "local" {
		r.fail("PCCC_ENV", `must be "aws" or "local"`)
	}
	if c.VerificationTTL > 10*time.Minute || c.VerificationTTL <= 0 {
		r.fail("VERIFICATION_TTL", "must be more than 0 and at most 10m")
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
