// Package notify owns the notices a holder gets: one for every change to
// their code (whoever made it: the holder, the authority, the daily job),
// one when their code is checked with wrong details repeatedly in a day,
// and one for every declaration filed in their name.
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
// change, the code and day of repeated mismatches, the declaration's id.
// The sender sends an id once, so queueing a notice again (a redelivered
// command, a retried check) never reaches the phone twice.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/pccc/pccc/shared/holder"
)

// Prefix starts every text, as the one-time code's does.
const Prefix = "[개인통관고유부호] "

// changeTexts are the code-change notices, Korean then English.
var changeTexts = map[holder.Kind]string{
	holder.Issue: "개인통관고유부호가 발급되었습니다. 본인이 아니면 앱에서 즉시 정지하세요. " +
		"Your personal customs clearance code was issued. If this was not you, suspend it in the app at once.",
	holder.Reissue: "개인통관고유부호가 재발급되었습니다. 이전 부호는 더 이상 쓸 수 없습니다. 본인이 아니면 앱에서 확인하세요. " +
		"Your personal customs clearance code was reissued; the old code no longer works. If this was not you, check it in the app.",
	holder.Suspend: "개인통관고유부호가 정지되었습니다. 본인이 아니면 앱에서 확인하세요. " +
		"Your personal customs clearance code was suspended. If this was not you, check it in the app.",
	holder.Resume: "개인통관고유부호의 정지가 해제되었습니다. 본인이 아니면 앱에서 즉시 정지하세요. " +
		"Your personal customs clearance code was resumed. If this was not you, suspend it in the app at once.",
	holder.Cancel: "개인통관고유부호가 해지되었습니다. 본인이 아니면 앱에서 새로 신청하세요. " +
		"Your personal customs clearance code was cancelled. If this was not you, apply again in the app.",
	holder.Renew: "개인통관고유부호가 갱신되었습니다. 본인이 아니면 앱에서 확인하세요. " +
		"Your personal customs clearance code was renewed. If this was not you, check it in the app.",
	holder.Update: "개인통관고유부호의 등록 정보가 변경되었습니다. 본인이 아니면 앱에서 즉시 정지하세요. " +
		"The details registered with your personal customs clearance code were changed. If this was not you, suspend it in the app at once.",
	holder.Expire: "개인통관고유부호의 유효기간이 끝났습니다. 30일 안에 앱에서 갱신하세요. " +
		"Your personal customs clearance code has expired. Renew it in the app within 30 days.",
	holder.Lapse: "갱신되지 않은 개인통관고유부호가 해지되었습니다. 필요하면 앱에서 새로 신청하세요. " +
		"Your personal customs clearance code was cancelled because it was not renewed. Apply again in the app if you need one.",
}

// ChangeText is the notice for a change of kind k.
func ChangeText(k holder.Kind) (string, bool) {
	t, ok := changeTexts[k]
	if !ok {
		return "", false
	}
	return Prefix + t, true
}

// MismatchText is the notice of repeated mismatches on the code ending in
// last4 (the holder's own code; "" leaves the digits out).
func MismatchText(last4 string) string {
	ko, en := "오늘 귀하의 개인통관고유부호", "Several clearance checks today against your personal customs clearance code"
	if last4 != "" {
		ko += "(끝자리 " + last4 + ")"
		en += " (ending " + last4 + ")"
	}
	return Prefix + ko + "로 등록 정보와 일치하지 않는 조회가 여러 번 있었습니다. 본인이 모르는 일이면 앱에서 재발급하거나 정지하세요. " +
		en + " did not match your details. If you do not know why, reissue or suspend it in the app."
}

// DeclarationText is the notice of a declaration filed in the holder's
// name that waits for their answer: nothing of the declaration itself.
const DeclarationText = Prefix + "귀하 명의로 수입신고가 접수되었습니다. 앱에서 본인 신고인지 확인하거나 거부하세요. " +
	"An import declaration was filed in your name. Confirm or deny it in the app."

// DeclarationAcceptedText is the notice of a declaration filed in the
// holder's name and accepted at once (they did not ask to confirm each).
const DeclarationAcceptedText = Prefix + "귀하 명의로 수입신고가 접수되었습니다. 본인이 아니면 통관부호를 정지하고 관세청에 신고하세요. " +
	"An import declaration was filed in your name. If it was not you, suspend your code and tell the customs service."

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

// Outbox queues a notice for the sender (sms.Outbox).
type Outbox interface {
	EnqueueNotice(ctx context.Context, noticeID, holderKey, sealedPhone, text string) error
}

// Notifier queues holder notices. Every caller hands it the holder's phone
// as the holder item keeps it (sealed), read in the work it already does:
// a notice costs no read of its own.
type Notifier struct {
	Outbox Outbox
}

// CodeChanged queues the notice of a change (requestID, of kind) to the
// holder at sealedPhone (the phone as the holder item keeps it). A holder
// with no phone gets nothing.
func (n *Notifier) CodeChanged(ctx context.Context, holderKey, sealedPhone, requestID string, kind holder.Kind) error {
	text, ok := ChangeText(kind)
	if !ok {
		return fmt.Errorf("notify: no notice for %q", kind)
	}
	if sealedPhone == "" {
		return nil
	}
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, changeEvent(requestID)), holderKey, sealedPhone, text)
}

// RepeatedMismatches queues the day's one notice of repeated mismatches on
// code. It is queued whether or not the code has a holder (holderKey and
// sealedPhone "" for an unknown code; the sender drops it), so a check
// does the same work either way and tells nothing by its timing.
func (n *Notifier) RepeatedMismatches(ctx context.Context, holderKey, sealedPhone, code, day string) error {
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, mismatchEvent(code, day)), holderKey, sealedPhone, MismatchText(Last4(code)))
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
	text := DeclarationAcceptedText
	if pending {
		text = DeclarationText
	}
	return n.Outbox.EnqueueNotice(ctx, NoticeID(holderKey, declarationEvent(declarationID)), holderKey, phone, text)
}
