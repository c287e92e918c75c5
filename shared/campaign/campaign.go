// Package campaign owns the customs authority's bulk actions on a list of
// codes: what a campaign is (an action, a reason, a list, a rate cap, a
// dry run), the states it goes through (as AWS's own bulk jobs have them:
// created, preparing, awaiting confirmation, active, paused, complete,
// cancelled, failed), how a list's lines are checked, the totals and what
// follows from them (the failure share, the estimated end, the SMS bill),
// and the report's rows.
//
// It decides; it does not store or send. The table (dynamo.CampaignStore),
// the reader and the workers (shared/campaignapi) do that.
package campaign

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/holder"
)

// Action is what a campaign does to each code of its list.
type Action string

const (
	Suspend Action = "suspend"
	Reissue Action = "reissue"
	Resume  Action = "resume"
	// Notify only tells the holder (an SMS); the code is not changed.
	Notify Action = "notify"
)

// Actions lists the actions.
func Actions() []Action { return []Action{Suspend, Reissue, Resume, Notify} }

// Kind is the holder command an action carries out ("" for notify).
func (a Action) Kind() holder.Kind {
	switch a {
	case Suspend:
		return holder.Suspend
	case Reissue:
		return holder.Reissue
	case Resume:
		return holder.Resume
	}
	return ""
}

// Reasons the authority gives for a campaign. A fixed list: the reason is
// counted in the statistics and never sent as free text.
var Reasons = []string{"leak_concern", "misuse_suspected", "other"}

// State is where a campaign stands.
type State string

const (
	// Created: waiting for its list (an upload), or about to be read.
	Created State = "created"
	// Preparing: the list is being read, counted and checked.
	Preparing State = "preparing"
	// AwaitingConfirmation: counted; nothing runs until the authority
	// confirms.
	AwaitingConfirmation State = "awaiting_confirmation"
	Active               State = "active"
	Paused               State = "paused"
	Complete             State = "complete"
	Cancelled            State = "cancelled"
	Failed               State = "failed"
)

// Final reports whether a campaign in s is over.
func (s State) Final() bool { return s == Complete || s == Cancelled || s == Failed }

// Limits.
const (
	// MaxBodyCodes is the longest list sent in the request body.
	MaxBodyCodes = 1000
	// MaxLines is the longest list uploaded as a CSV.
	MaxLines = 1_000_000
	// MaxLineBytes bounds one line of a list (a code and some spaces).
	MaxLineBytes = 64
	// PreviewCodes is how many of the first codes the preview shows.
	PreviewCodes = 10
	// FailureFloor is how many items must be done before the failure
	// share is judged.
	FailureFloor = 1000
)

// Spec is a campaign as asked for.
type Spec struct {
	Action        Action
	Reason        string
	RatePerSecond int
	DryRun        bool
	// Codes is the list sent in the body; nil when the list is uploaded.
	Codes []string
}

// CreateBody is the body of POST /v1/authority/campaigns.
type CreateBody struct {
	Action        *string   `json:"action"`
	Reason        *string   `json:"reason"`
	RatePerSecond *float64  `json:"ratePerSecond"`
	DryRun        *bool     `json:"dryRun"`
	Codes         *[]string `json:"codes"`
	// List "upload" asks for a presigned URL to upload the list to.
	List *string `json:"list"`
}

// Validate checks a create body; maxRate is the campaigns' rate cap (the
// template's CampaignMaxRate). Every bad field is named in one 400. A code
// in the body is checked later, line by line, as an uploaded list's are:
// a bad one is counted invalid, not refused.
func Validate(in CreateBody, maxRate int) (Spec, error) {
	bad := map[string]string{}
	var sp Spec
	switch {
	case in.Action == nil:
		bad["action"] = "is required; must be one of suspend, reissue, resume, notify"
	default:
		sp.Action = Action(*in.Action)
		if sp.Action.Kind() == "" && sp.Action != Notify {
			bad["action"] = "must be one of suspend, reissue, resume, notify"
		}
	}
	switch {
	case in.Reason == nil:
		bad["reason"] = "is required; must be one of " + strings.Join(Reasons, ", ")
	default:
		ok := false
		for _, r := range Reasons {
			ok = ok || *in.Reason == r
		}
		if !ok {
			bad["reason"] = "must be one of " + strings.Join(Reasons, ", ")
		}
		sp.Reason = *in.Reason
	}
	switch {
	case in.RatePerSecond == nil:
		bad["ratePerSecond"] = fmt.Sprintf("is required; a whole number from 1 to %d", maxRate)
	case *in.RatePerSecond != math.Trunc(*in.RatePerSecond) || *in.RatePerSecond < 1 || *in.RatePerSecond > float64(maxRate):
		bad["ratePerSecond"] = fmt.Sprintf("must be a whole number from 1 to %d", maxRate)
	default:
		sp.RatePerSecond = int(*in.RatePerSecond)
	}
	if in.DryRun != nil {
		sp.DryRun = *in.DryRun
	}
	switch {
	case in.Codes != nil && in.List != nil:
		bad["list"] = "give either codes (at most 1000) or list \"upload\", not both"
	case in.Codes == nil && in.List == nil:
		bad["codes"] = "is required unless list is \"upload\""
	case in.List != nil && *in.List != "upload":
		bad["list"] = "must be \"upload\""
	case in.Codes != nil && len(*in.Codes) == 0:
		bad["codes"] = "must hold at least one code"
	case in.Codes != nil && len(*in.Codes) > MaxBodyCodes:
		bad["codes"] = fmt.Sprintf("must hold at most %d codes; upload a longer list (list \"upload\")", MaxBodyCodes)
	case in.Codes != nil:
		for _, c := range *in.Codes {
			if len(c) > MaxLineBytes || strings.ContainsAny(c, "\r\n") {
				bad["codes"] = fmt.Sprintf("each must be one line of at most %d bytes", MaxLineBytes)
				break
			}
		}
		sp.Codes = *in.Codes
	}
	if len(bad) > 0 {
		return Spec{}, apperr.InvalidFields(bad)
	}
	return sp, nil
}

// ParseCreate decodes and validates a create body held as JSON.
func ParseCreate(b []byte, maxRate int) (Spec, error) {
	var in CreateBody
	if err := json.Unmarshal(b, &in); err != nil {
		return Spec{}, apperr.InvalidField("body", "must be a JSON object")
	}
	return Validate(in, maxRate)
}

// Line is what the check makes of one line of a list.
type Line int

const (
	LineBlank   Line = iota // an empty line: not counted
	LineValid               // a code, shaped right, its check digit right
	LineInvalid             // anything else
)

// CheckLine reads one line of a list: surrounding spaces, a trailing
// comma (a one-column CSV) and quotes are forgiven, a lower case "p" too.
func CheckLine(raw string) (string, Line) {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(raw), ","))
	s = strings.TrimSpace(strings.Trim(s, `"`))
	if s == "" {
		return "", LineBlank
	}
	if len(s) > MaxLineBytes {
		return "", LineInvalid
	}
	if s[0] == 'p' {
		s = "P" + s[1:]
	}
	if !codes.Valid(s) {
		if codes.Format(s) {
			return s, LineInvalid // a code's shape: safe to name in the report
		}
		return "", LineInvalid
	}
	return s, LineValid
}

// Key is a valid code as a number, for the set of codes seen.
func Key(code string) uint64 {
	var k uint64
	for i := 1; i < len(code); i++ {
		k = k*10 + uint64(code[i]-'0')
	}
	return k
}

// Outcomes of an item, as the report and the totals name them.
const (
	OutcomeDone      = "done"
	OutcomeSkipped   = "skipped"
	OutcomeFailed    = "failed"
	OutcomeInvalid   = "invalid"
	OutcomeDuplicate = "duplicate"
	// OutcomeNotRun is a listed code a cancelled or failed campaign never
	// reached.
	OutcomeNotRun = "not_run"
)

// Reasons an item was skipped.
const (
	SkipUnknown    = "unknown_code"
	SkipRetired    = "already_retired"
	SkipWrongState = "wrong_state"
)

// Totals are a campaign's figures.
type Totals struct {
	// From the list: lines with something on them, invalid lines,
	// repeated codes, and the codes left to carry out (Valid).
	Listed, Invalid, Duplicate, Valid int64
	// Queued is how many of Valid the reader has put on the queue.
	Queued int64
	// From the work.
	Done, SkippedUnknown, SkippedRetired, SkippedWrongState, Failed int64
}

// Processed is how many items are carried out or given up on.
func (t Totals) Processed() int64 {
	return t.Done + t.SkippedUnknown + t.SkippedRetired + t.SkippedWrongState + t.Failed
}

// Failures are the items that count against the list: codes nobody has
// and items that could not be carried out.
func (t Totals) Failures() int64 { return t.SkippedUnknown + t.Failed }

// ShouldFail says whether the failure share is passed: more than share of
// the items processed failed, once FailureFloor of them are (or all of a
// shorter list).
func (t Totals) ShouldFail(share float64) bool {
	p := t.Processed()
	if p == 0 || p < min(FailureFloor, t.Valid) {
		return false
	}
	return float64(t.Failures()) > share*float64(p)
}

// Finished says whether every valid code is processed.
func (t Totals) Finished() bool { return t.Processed() >= t.Valid }

// Progress is the rate so far and the estimated end.
type Progress struct {
	PerSecond float64
	ETA       time.Time // zero when unknown
}

// Estimate the rate since started and the end at that rate.
func (t Totals) Estimate(started, now time.Time) Progress {
	el := now.Sub(started).Seconds()
	p := t.Processed()
	if started.IsZero() || el <= 0 || p == 0 {
		return Progress{}
	}
	rate := float64(p) / el
	left := float64(t.Valid - p)
	if left < 0 {
		left = 0
	}
	return Progress{PerSecond: rate, ETA: now.Add(time.Duration(left / rate * float64(time.Second)))}
}

// SMSEstimate is what a campaign's notices cost at most: one notice per
// code carried out, each of PartsEach parts, at PartPrice a part.
type SMSEstimate struct {
	Notices   int64
	PartsEach int
	Parts     int64
	Price     float64
}

// EstimateSMS prices the notices of n codes of parts each.
func EstimateSMS(n int64, parts int, partPrice float64) SMSEstimate {
	return SMSEstimate{Notices: n, PartsEach: parts, Parts: n * int64(parts), Price: math.Round(float64(n*int64(parts))*partPrice*100) / 100}
}

// NewID returns a campaign id: 16 random bytes, URL-safe.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("campaign id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidID accepts what NewID makes.
func ValidID(id string) bool {
	if len(id) != 22 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RequestID is the request id of a campaign's change to one code: the
// same campaign and code always name the same request, so the change's
// own transaction carries it out once.
func RequestID(campaignID, code string) string {
	sum := sha256.Sum256([]byte("pccc-campaign\x00" + campaignID + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// MessageVersion is the item message format.
const MessageVersion = 1

// Item is one code of a campaign on the campaign queue.
type Item struct {
	V        int    `json:"v"`
	Campaign string `json:"c"`
	Code     string `json:"code"`
}

// ParseItem reads an item message.
func ParseItem(body string) (Item, error) {
	var it Item
	if err := json.Unmarshal([]byte(body), &it); err != nil {
		return Item{}, fmt.Errorf("campaign item: %w", err)
	}
	if it.V != MessageVersion || !ValidID(it.Campaign) || !codes.Valid(it.Code) {
		return Item{}, fmt.Errorf("campaign item: version %d, or a bad campaign or code", it.V)
	}
	return it, nil
}

// Control ops: what a message on the control queue asks the reader for.
const (
	OpPrepare = "prepare"
	OpFanOut  = "fanout"
	OpReport  = "report"
)

// Control is a message on the control queue.
type Control struct {
	Op       string `json:"op"`
	Campaign string `json:"c"`
}

// ParseControl reads a control message.
func ParseControl(body string) (Control, error) {
	var c Control
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return Control{}, fmt.Errorf("campaign control: %w", err)
	}
	switch c.Op {
	case OpPrepare, OpFanOut, OpReport:
	default:
		return Control{}, fmt.Errorf("campaign control: op %q", c.Op)
	}
	if !ValidID(c.Campaign) {
		return Control{}, fmt.Errorf("campaign control: bad campaign id")
	}
	return c, nil
}
