// Package stats names the figures the customs authority is given, per
// Korean calendar day and per hour of it: the codes' changes (issues,
// reissues by reason, suspensions and cancellations by whom, ...), the
// clearance checks, the declarations, the real-name checks and the SMS
// sent, and the shape they are read in. The counting itself is an adapter
// (dynamo.Stats) that adds to the counters in the same transaction as the
// change it counts. No figure names a person: they are counts only.
package stats

import (
	"fmt"
	"time"
)

// Kind is one counted figure. Its value is the column name of the exports:
// stable, lower case, ASCII; a kind is added, never renamed.
type Kind string

const (
	Issued   Kind = "issued"
	Reissued Kind = "reissued"
	// A reissue by the reason the holder gave; a reason outside these three
	// (or none: the authority's) is "other".
	ReissuedLeakConcern     Kind = "reissued_leak_concern"
	ReissuedLost            Kind = "reissued_lost"
	ReissuedMisuseSuspected Kind = "reissued_misuse_suspected"
	ReissuedOther           Kind = "reissued_other"
	Suspended               Kind = "suspended"
	SuspendedByHolder       Kind = "suspended_by_holder"
	SuspendedByAuthority    Kind = "suspended_by_authority"
	Resumed                 Kind = "resumed"
	Cancelled               Kind = "cancelled"
	CancelledByHolder       Kind = "cancelled_by_holder"
	// CancelledLapsed is the automatic cancellation of an expired code not
	// renewed within the window.
	CancelledLapsed      Kind = "cancelled_lapsed"
	CancelledByAuthority Kind = "cancelled_by_authority"
	Renewed              Kind = "renewed"
	Expired              Kind = "expired"
	// Updated counts changes of registered details: not asked for, but it
	// makes "counters = succeeded commands" hold for every command.
	Updated Kind = "updated"

	ChecksMatch    Kind = "checks_match"
	ChecksMismatch Kind = "checks_mismatch"

	DeclarationsFiled     Kind = "declarations_filed"
	DeclarationsConfirmed Kind = "declarations_confirmed"
	DeclarationsDenied    Kind = "declarations_denied"
	// DeclarationsExpired is counted on the day and hour of the deadline:
	// one is added when a pending declaration is filed and taken back when
	// it is decided in time, so once the deadline's hour has passed the
	// figure is exactly the declarations that lapsed (a declaration expires
	// on being read late; nothing runs at its deadline). For an hour still
	// to come it is the declarations still waiting that are due then.
	DeclarationsExpired Kind = "declarations_expired"

	// RealNameMatched and RealNameUnmatched are the credit bureau's answers
	// to real-name checks (each one a bureau call, billed).
	RealNameMatched   Kind = "realname_matched"
	RealNameUnmatched Kind = "realname_unmatched"

	SMSCodesSent        Kind = "sms_codes_sent"
	SMSCodesDroppedLate Kind = "sms_codes_dropped_late"
	SMSNoticesSent      Kind = "sms_notices_sent"
	// SMSParts is what the provider bills: one per part of every SMS sent.
	SMSParts Kind = "sms_parts"

	// The authority's campaigns: items carried out (a code changed, or a
	// notify campaign's notice queued), skipped (unknown, retired, or in a
	// state the action does not apply to) and failed. A campaign's changes
	// are counted as every change is too (suspended_by_authority, ...).
	CampaignItemsDone    Kind = "campaign_items_done"
	CampaignItemsSkipped Kind = "campaign_items_skipped"
	CampaignItemsFailed  Kind = "campaign_items_failed"
)

// Kinds lists every kind, in report (column) order.
func Kinds() []Kind {
	return []Kind{
		Issued, Reissued, ReissuedLeakConcern, ReissuedLost, ReissuedMisuseSuspected, ReissuedOther,
		Suspended, SuspendedByHolder, SuspendedByAuthority, Resumed,
		Cancelled, CancelledByHolder, CancelledLapsed, CancelledByAuthority,
		Renewed, Expired, Updated,
		ChecksMatch, ChecksMismatch,
		DeclarationsFiled, DeclarationsConfirmed, DeclarationsDenied, DeclarationsExpired,
		RealNameMatched, RealNameUnmatched,
		SMSCodesSent, SMSCodesDroppedLate, SMSNoticesSent, SMSParts,
		CampaignItemsDone, CampaignItemsSkipped, CampaignItemsFailed,
	}
}

// CommandKinds are the kinds one succeeded holder command adds to (one
// each): what "the counters equal the succeeded commands" is about.
func CommandKinds() []Kind {
	return []Kind{Issued, Reissued, Suspended, Resumed, Cancelled, Renewed, Expired, Updated}
}

// Parts lists the kinds that split a command kind: each parent equals the
// sum of its parts.
func Parts() map[Kind][]Kind {
	return map[Kind][]Kind{
		Reissued:  {ReissuedLeakConcern, ReissuedLost, ReissuedMisuseSuspected, ReissuedOther},
		Suspended: {SuspendedByHolder, SuspendedByAuthority},
		Cancelled: {CancelledByHolder, CancelledLapsed, CancelledByAuthority},
	}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Korean is the column header in Korean (the Excel rendition).
func (k Kind) Korean() string { return korean[k] }

var korean = map[Kind]string{
	Issued: "발급", Reissued: "재발급",
	ReissuedLeakConcern: "재발급(유출 우려)", ReissuedLost: "재발급(분실)",
	ReissuedMisuseSuspected: "재발급(도용 의심)", ReissuedOther: "재발급(기타)",
	Suspended: "정지", SuspendedByHolder: "정지(본인)", SuspendedByAuthority: "정지(관세청)",
	Resumed:   "정지 해제",
	Cancelled: "해지", CancelledByHolder: "해지(본인)", CancelledLapsed: "해지(자동)", CancelledByAuthority: "해지(관세청)",
	Renewed: "갱신", Expired: "만료", Updated: "정보 변경",
	ChecksMatch: "통관 확인(일치)", ChecksMismatch: "통관 확인(불일치)",
	DeclarationsFiled: "신고 접수", DeclarationsConfirmed: "신고 확인", DeclarationsDenied: "신고 거부", DeclarationsExpired: "신고 기한 경과",
	RealNameMatched: "실명 확인(일치)", RealNameUnmatched: "실명 확인(불일치)",
	SMSCodesSent: "SMS 인증번호 발송", SMSCodesDroppedLate: "SMS 인증번호 폐기(지연)", SMSNoticesSent: "SMS 알림 발송", SMSParts: "SMS 건수(과금)",
	CampaignItemsDone: "일괄 처리(완료)", CampaignItemsSkipped: "일괄 처리(건너뜀)", CampaignItemsFailed: "일괄 처리(실패)",
}

// Korea is the time zone days are counted in: a "day" in a report is a
// Korean calendar day, an "hour" an hour of it (Korea keeps no summer
// time, so a day always has 24).
var Korea = time.FixedZone("KST", 9*60*60)

// Day returns the Korean calendar day of t as YYYY-MM-DD.
func Day(t time.Time) string { return t.In(Korea).Format("2006-01-02") }

// Hour returns the hour (0-23) of t's Korean day.
func Hour(t time.Time) int { return t.In(Korea).Hour() }

// Figures are counts by kind; a kind not in the map is zero.
type Figures map[Kind]int64

// Add is n added to a kind's counter at a time (n may be negative: a
// provisional count taken back). The counters (dynamo.Stats) make the
// additions; what adds what is the domain's (sms.Adds, ...).
type Add struct {
	At   time.Time
	Kind Kind
	N    int64
}

// Daily is one day's counts, and the same counts hour by hour (Korean
// hours; each kind's hours add up to its day).
type Daily struct {
	Day    string
	Counts Figures
	Hours  [24]Figures
}

// MaxRange is the longest range read at once, in days: a year, leap
// years included.
const MaxRange = 366

// ParseDay reads a YYYY-MM-DD day.
func ParseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02", s, Korea)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a YYYY-MM-DD day", s)
	}
	return t, nil
}

// Days lists the days from first to last inclusive (YYYY-MM-DD), at most
// maxDays of them.
func Days(first, last string, maxDays int) ([]string, error) {
	a, err1 := time.ParseInLocation("2006-01-02", first, Korea)
	b, err2 := time.ParseInLocation("2006-01-02", last, Korea)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("days must be YYYY-MM-DD")
	}
	if b.Before(a) {
		return nil, fmt.Errorf("the last day is before the first")
	}
	var out []string
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		if len(out) == maxDays {
			return nil, fmt.Errorf("at most %d days at a time", maxDays)
		}
		out = append(out, d.Format("2006-01-02"))
	}
	return out, nil
}
