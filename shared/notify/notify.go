// Package notify owns the notices a holder gets: one for every change to
// their code (whoever made it: the holder, the authority, the daily job),
// one when their code is checked with wrong details repeatedly in a day,
// one when their registration number fails the real-name check too often
// in a day, and one for every declaration filed in their name.
//
// A notice tells the holder what happened and what to do if it was not
// them; it names no one and carries nothing the holder does not already
// know: no name, phone, address or e-mail, no broker's data, at most the
// last four digits of the code. It goes out as an SMS through the outbox
// (shared/sms) to the phone registered in the holder item, copied there
// still sealed: only the sender opens it. The holder item has no field for
// another channel yet, so SMS is the only one.
//
// Each notice has an id derived from (holder, event): the request id of a
// change, the code and day of repeated mismatches, the day of failed
// real-name checks, the declaration's id.
// The sender sends an id once, so queueing a notice again (a redelivered
// command, a retried check) never reaches the phone twice.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pccc/pccc/shared/holder"
)

// Prefix starts every Korean text, as the one-time code's does;
// PrefixEn every English one.
const (
	Prefix   = "[개인통관고유부호] "
	PrefixEn = "[PCCC] "
)

// Languages a holder may choose at issue (and change with their details):
// Korean unless they chose English. A notice goes in the one language, so
// that it fits one SMS part.
const (
	Korean  = "ko"
	English = "en"
)

// Text is one notice in both languages; the sender sends the holder's.
type Text struct{ Ko, En string }

// In is the text in lang (Korean for anything but English).
func (t Text) In(lang string) string {
	if lang == English && t.En != "" {
		return t.En
	}
	return t.Ko
}

// Site is how a text names the public page: its address without
// "https://" (a phone links it all the same), at most config.MaxSiteURL
// characters, so every notice stays one part.
func Site(url string) string { return strings.TrimPrefix(url, "https://") }

// changeTexts are the code-change notices, Korean and English, with %s
// for the page's address.
var changeTexts = map[holder.Kind]Text{
	holder.Issue:   {"발급되었습니다. 본인이 아니면 정지하세요: %s", "Your code was issued. Not you? Suspend it at %s"},
	holder.Reissue: {"재발급되어 이전 부호는 무효입니다. 확인: %s", "Your code was reissued; the old one is void. See %s"},
	holder.Suspend: {"정지되었습니다. 본인이 아니면 확인하세요: %s", "Your code was suspended. Not you? See %s"},
	holder.Resume:  {"정지가 해제되었습니다. 본인이 아니면 정지: %s", "Your code was resumed. Not you? Suspend it at %s"},
	holder.Cancel:  {"해지되었습니다. 본인이 아니면 새로 신청: %s", "Your code was cancelled. Not you? Apply again at %s"},
	holder.Renew:   {"갱신되었습니다. 본인이 아니면 확인하세요: %s", "Your code was renewed. Not you? See %s"},
	holder.Update:  {"정보가 변경되었습니다. 본인이 아니면 정지: %s", "Your details were changed. Not you? Suspend it at %s"},
	holder.Expire:  {"유효기간이 끝났습니다. 30일 안에 갱신: %s", "Your code expired. Renew it within 30 days at %s"},
	holder.Lapse:   {"갱신되지 않아 해지되었습니다. 새로 신청: %s", "Your code was cancelled, not renewed. Apply at %s"},
}

// ChangeText is the notice for a change of kind k; site is the page's
// address (PUBLIC_SITE_URL).
func ChangeText(k holder.Kind, site string) (Text, bool) {
	t, ok := changeTexts[k]
	if !ok {
		return Text{}, false
	}
	return Text{Prefix + fmt.Sprintf(t.Ko, Site(site)), PrefixEn + fmt.Sprintf(t.En, Site(site))}, true
}

// MismatchText is the notice of repeated mismatches on the code ending in
// last4 (the holder's own code; "" leaves the digits out).
func MismatchText(last4, site string) Text {
	ko, en := "부호", "code"
	if last4 != "" {
		ko, en = "부호(끝 "+last4+")", "code ("+last4+")"
	}
	return Text{
		Prefix + ko + " 조회가 여러 번 불일치. 확인: " + Site(site),
		PrefixEn + "Checks on your " + en + " failed often today. See " + Site(site),
	}
}

// NumberFailuresText is the notice that the holder's registration number
// failed the real-name check too often today (someone tried names for
// it): checks with it rest until midnight in Seoul.
func NumberFailuresText(site string) Text {
	return Text{
		Prefix + "본인확인 실패가 잦아 자정까지 제한. 확인: " + Site(site),
		PrefixEn + "ID checks failed often; paused until midnight. See " + Site(site),
	}
}

// DeclarationText is the notice of a declaration filed in the holder's
// name that waits for their answer: nothing of the declaration itself.
func DeclarationText(site string) Text {
	return Text{
		Prefix + "수입신고가 접수되었습니다. 확인 또는 거부: " + Site(site),
		PrefixEn + "An import declaration names you. Confirm or deny at " + Site(site),
	}
}

// DeclarationAcceptedText is the notice of a declaration filed in the
// holder's name and accepted at once (they did not ask to confirm each).
func DeclarationAcceptedText(site string) Text {
	return Text{
		Prefix + "수입신고가 접수되었습니다. 본인이 아니면 정지: " + Site(site),
		PrefixEn + "An import declaration names you. Not you? Suspend at " + Site(site),
	}
}

// Last4 is the last four digits of a code, or "" when it has fewer.
func Last4(code string) string {
	if len(code) < 5 {
		return ""
	}
	return code[len(code)-4:]
}

// NoticeID names one notice of one holder: the same holder and event give
// the same id, 22 URL-safe characters of a SHA-256.
func NoticeID(holderKey, event string) string {
	sum := sha256.Sum256([]byte("pccc-notice\x00" + holderKey + "\x00" + event))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// Events, as NoticeID hashes them.
func changeEvent(requestID string) string   { return "change\x00" + requestID }
func mismatchEvent(code, day string) string { return "mismatch\x00" + code + "\x00" + day }
func declarationEvent(id string) string     { return "declaration\x00" + id }
func numberFailuresEvent(day string) string { return "rrnfail\x00" + day }
func campaignEvent(id string) string        { return "campaign\x00" + id }

// Outbox queues a notice for the sender (sms.Outbox), in both languages:
// the sender sends the one the holder chose.
type Outbox interface {
	EnqueueNotice(ctx context.Context, noticeID, holderKey, sealedPhone, textKo, textEn string) error
}

// Notifier queues holder notices. Every caller hands it the holder's phone
// as the holder item keeps it (sealed), read in the work it already does:
// a notice costs no read of its own. Site is the page's address the texts
// name (config.PublicSiteURL).
type Notifier struct {
	Outbox Outbox
	Site   string
}

// CodeChanged queues the notice of a change (requestID, of kind) to the
// holder at sealedPhone (the phone as the holder item keeps it). A holder
// with no phone gets nothing.
func (n *Notifier) CodeChanged(ctx context.Context, holderKey, sealedPhone, requestID string, kind holder.Kind) error {
	text, ok := ChangeText(kind, n.Site)
	if !ok {
		return fmt.Errorf("notify: no notice for %q", kind)
	}
	if sealedPhone == "" {
		return nil
	}
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, changeEvent(requestID)), holderKey, sealedPhone, text.Ko, text.En)
}

// RepeatedMismatches queues the day's one notice of repeated mismatches on
// code. It is queued whether or not the code has a holder (holderKey and
// sealedPhone "" for an unknown code; the sender drops it), so a check
// does the same work either way and tells nothing by its timing.
func (n *Notifier) RepeatedMismatches(ctx context.Context, holderKey, sealedPhone, code, day string) error {
	text := MismatchText(Last4(code), n.Site)
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, mismatchEvent(code, day)), holderKey, sealedPhone, text.Ko, text.En)
}

// NumberFailuresSpent queues the day's one notice that the holder's
// registration number failed the real-name check too often. Like
// RepeatedMismatches it is queued whether or not the number has a holder
// ("" phone: the sender drops it), so the check does the same work either
// way.
func (n *Notifier) NumberFailuresSpent(ctx context.Context, holderKey, sealedPhone, day string) error {
	text := NumberFailuresText(n.Site)
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, numberFailuresEvent(day)), holderKey, sealedPhone, text.Ko, text.En)
}

// DeclarationFiled queues the notice that a declaration was filed in the
// holder's name, to the holder at sealedPhone (as the holder item keeps
// it; the check that matched read it), asking them to confirm or deny it
// when it is pending; one per declaration. A holder with no phone gets
// nothing.
func (n *Notifier) DeclarationFiled(ctx context.Context, holderKey, sealedPhone, declarationID string, pending bool) error {
	phone := sealedPhone
	if phone == "" {
		return nil
	}
	text := DeclarationAcceptedText(n.Site)
	if pending {
		text = DeclarationText(n.Site)
	}
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, declarationEvent(declarationID)), holderKey, phone, text.Ko, text.En)
}

// CampaignText is the authority's notice of a notify campaign to the
// holder of the code ending in last4: check the code; nothing else.
func CampaignText(last4, site string) Text {
	return Text{
		Prefix + "관세청 안내: 부호(끝 " + last4 + ") 확인 바랍니다: " + Site(site),
		PrefixEn + "Customs asks you to check your code (" + last4 + ") at " + Site(site),
	}
}

// CampaignNotice queues a notify campaign's one notice to a holder (none
// without a phone).
func (n *Notifier) CampaignNotice(ctx context.Context, holderKey, sealedPhone, campaignID, code string) error {
	if sealedPhone == "" {
		return nil
	}
	text := CampaignText(Last4(code), n.Site)
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, campaignEvent(campaignID)), holderKey, sealedPhone, text.Ko, text.En)
}
