package notify

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/sms"
)

type queued struct {
	id, hk, phone string
	text          Text
}

type fakeOutbox struct {
	sent []queued
	err  error
}

func (f *fakeOutbox) EnqueueNotice(_ context.Context, id, hk, phone, ko, en string) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, queued{id, hk, phone, Text{ko, en}})
	return nil
}

// Marker personal data of a holder: none of it may reach a text.
var marker = []string{"홍길동", "HONG", "GILDONG", "01012345678", "010-1234-5678", "04524", "세종대로", "hong@example.com", "ACME"}

const code = "P247732688745"

// The longest page address PUBLIC_SITE_URL may name (config.MaxSiteURL
// characters after the scheme).
const longestSite = "https://" + "pccc-reissue.example.org"

// allTexts is every notice, by name.
func allTexts(site string) map[string]Text {
	texts := map[string]Text{"mismatch": MismatchText(Last4(code), site), "mismatch without digits": MismatchText("", site),
		"declaration": DeclarationText(site), "declaration accepted": DeclarationAcceptedText(site),
		"number failures": NumberFailuresText(site), "campaign": CampaignText(Last4(code), site)}
	for _, k := range holder.Kinds() {
		text, ok := ChangeText(k, site)
		if !ok {
			panic("no notice for " + string(k))
		}
		texts[string(k)] = text
	}
	return texts
}

// Every notice is one text in Korean and one in English, each starting
// with its prefix and naming the page's address (there is no app), and
// carries nothing personal: no name, phone, address or e-mail, no broker,
// and of the code at most its last four digits.
func TestTextsCarryNoPersonalData(t *testing.T) {
	if len(longestSite)-len("https://") != 24 {
		t.Fatalf("the longest site is %d characters", len(longestSite)-len("https://"))
	}
	if _, ok := ChangeText("frobnicate", longestSite); ok {
		t.Fatal("a text for an unknown kind")
	}
	hangul, latin := regexp.MustCompile(`\p{Hangul}`), regexp.MustCompile(`[A-Za-z]{4,}`)
	digits := regexp.MustCompile(`[0-9]+`)
	seen := map[string]string{}
	for name, both := range allTexts(longestSite) {
		if !strings.HasPrefix(both.Ko, Prefix) || !hangul.MatchString(both.Ko) || hangul.MatchString(both.En) ||
			!strings.HasPrefix(both.En, PrefixEn) || !latin.MatchString(both.En) {
			t.Errorf("%s: not one Korean and one English text: %q", name, both)
		}
		for _, text := range []string{both.Ko, both.En} {
			if !strings.HasSuffix(text, " "+Site(longestSite)) || strings.Contains(text, "앱") || strings.Contains(text, " app") {
				t.Errorf("%s: does not name the page: %q", name, text)
			}
			for _, m := range marker {
				if strings.Contains(text, m) {
					t.Errorf("%s: holds %q", name, m)
				}
			}
			for _, d := range digits.FindAllString(strings.TrimSuffix(text, Site(longestSite)), -1) {
				if d != "30" && d != "8745" {
					t.Errorf("%s: holds the digits %q", name, d)
				}
			}
			if strings.Contains(text, code) || strings.Contains(text, code[1:9]) {
				t.Errorf("%s: holds the code", name)
			}
			if other, dup := seen[text]; dup {
				t.Errorf("%s and %s read the same", name, other)
			}
			seen[text] = name
		}
	}
	if m := MismatchText(Last4(code), longestSite); !strings.Contains(m.Ko, "8745") || !strings.Contains(m.En, "8745") || Last4("P1") != "" {
		t.Error("the mismatch notice names the code by its last four digits only")
	}
	for _, k := range []holder.Kind{holder.Issue, holder.Suspend, holder.Update} {
		if text, _ := ChangeText(k, longestSite); !strings.Contains(text.En, "Not you?") || !strings.Contains(text.Ko, "본인이 아니면") {
			t.Errorf("%s: does not say what to do if it was not the holder", k)
		}
	}
	if (Text{"ko", "en"}).In(English) != "en" || (Text{"ko", "en"}).In(Korean) != "ko" || (Text{"ko", "en"}).In("") != "ko" {
		t.Error("In picks the wrong language")
	}
}

// Every notice, in each language, with the longest address the setting
// allows, fits one SMS part on every provider the sender may use: one AWS
// part (70 UCS-2 units with Hangul, 160 GSM-7 otherwise) and a Korean
// gateway's SMS (90 bytes counted EUC-KR-style), not an LMS.
func TestEveryNoticeFitsOneSMSPart(t *testing.T) {
	for name, both := range allTexts(longestSite) {
		for _, text := range []string{both.Ko, both.En} {
			if !sms.FitsOnePart(text) {
				t.Errorf("%s: %+v: %q", name, sms.Measure(text), text)
			}
		}
	}
	// The local default, the runner's own URL, fits too.
	for name, both := range allTexts("http://127.0.0.1:65535") {
		if !sms.FitsOnePart(both.Ko) || !sms.FitsOnePart(both.En) {
			t.Errorf("%s with the runner's URL: %q", name, both)
		}
	}
}

// One notice per (holder, event): the same holder and event always give
// the same id, which is what the sender sends once; anything else differs.
func TestNoticeIDs(t *testing.T) {
	ids := map[string]string{}
	for _, c := range []struct{ hk, event string }{
		{"hk1", changeEvent("r1")}, {"hk1", changeEvent("r2")}, {"hk2", changeEvent("r1")},
		{"hk1", mismatchEvent(code, "2026-12-01")}, {"hk1", mismatchEvent(code, "2026-12-02")},
		{"hk1", mismatchEvent("P100000000005", "2026-12-01")}, {"", mismatchEvent(code, "2026-12-01")},
		{"hk1", declarationEvent("d1")}, {"hk1", declarationEvent("r1")},
	} {
		id := NoticeID(c.hk, c.event)
		if id != NoticeID(c.hk, c.event) || len(id) != 22 || !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(id) {
			t.Fatalf("id %q for %q %q", id, c.hk, c.event)
		}
		if prev, dup := ids[id]; dup {
			t.Fatalf("%q and %q share an id", prev, c.hk+c.event)
		}
		ids[id] = c.hk + c.event
	}
}

func TestNotifierQueues(t *testing.T) {
	ctx := context.Background()
	out := &fakeOutbox{}
	n := &Notifier{Outbox: out, Site: longestSite}
	// A change, twice (a redelivery): the same notice id both times.
	for range 2 {
		if err := n.CodeChanged(ctx, "hk1", "v1.k1.sealed-phone", "r1", holder.Suspend); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.sent) != 2 || out.sent[0] != out.sent[1] {
		t.Fatalf("queued %+v", out.sent)
	}
	want, _ := ChangeText(holder.Suspend, longestSite)
	if q := out.sent[0]; q.hk != "hk1" || q.phone != "v1.k1.sealed-phone" || q.text != want || q.id != NoticeID("hk1", changeEvent("r1")) {
		t.Fatalf("queued %+v", q)
	}
	if err := n.CodeChanged(ctx, "hk1", "", "r2", holder.Suspend); err != nil || len(out.sent) != 2 {
		t.Fatalf("a holder without a phone: %v %d", err, len(out.sent))
	}
	if err := n.CodeChanged(ctx, "hk1", "p", "r2", "frobnicate"); err == nil {
		t.Fatal("an unknown kind was queued")
	}

	// Declarations: to the phone the matching check read, as sealed.
	if err := n.DeclarationFiled(ctx, "hk1", "v1.k1.sealed-phone", "decl-1", true); err != nil {
		t.Fatal(err)
	}
	if q := out.sent[2]; q.phone != "v1.k1.sealed-phone" || q.text != DeclarationText(longestSite) || q.id != NoticeID("hk1", declarationEvent("decl-1")) {
		t.Fatalf("declaration %+v", q)
	}
	// One accepted at once: told too, with what to do if it was not them.
	if err := n.DeclarationFiled(ctx, "hk1", "v1.k1.sealed-phone", "decl-3", false); err != nil {
		t.Fatal(err)
	}
	if q := out.sent[3]; q.text != DeclarationAcceptedText(longestSite) || q.id != NoticeID("hk1", declarationEvent("decl-3")) {
		t.Fatalf("accepted declaration %+v", q)
	}
	// A holder with no phone: nothing to queue, and no error.
	if err := n.DeclarationFiled(ctx, "hk2", "", "decl-1", true); err != nil || len(out.sent) != 4 {
		t.Fatalf("no phone: %v, %d queued", err, len(out.sent))
	}

	// Mismatches: queued for an unknown code too, with nobody to tell.
	if err := n.RepeatedMismatches(ctx, "", "", code, "2026-12-01"); err != nil {
		t.Fatal(err)
	}
	if q := out.sent[4]; q.hk != "" || q.phone != "" || q.text != MismatchText("8745", longestSite) {
		t.Fatalf("mismatch %+v", q)
	}
	out.err = errors.New("sqs down")
	if err := n.DeclarationFiled(ctx, "hk1", "v1.k1.sealed-phone", "decl-2", true); err == nil {
		t.Fatal("a failed enqueue was swallowed")
	}
}

func TestNumberFailuresNoticeOncePerHolderAndDay(t *testing.T) {
	out := &fakeOutbox{}
	n := &Notifier{Outbox: out, Site: longestSite}
	for _, call := range []struct{ hk, phone, day string }{{"h1", "sealed", "20261201"}, {"h1", "sealed", "20261201"}, {"h1", "sealed", "20261202"}, {"", "", "20261201"}} {
		if err := n.NumberFailuresSpent(context.Background(), call.hk, call.phone, call.day); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.sent) != 4 || out.sent[0].id != out.sent[1].id || out.sent[0].id == out.sent[2].id || out.sent[0].text != NumberFailuresText(longestSite) {
		t.Fatalf("queued %+v", out.sent)
	}
	if out.sent[3].hk != "" || out.sent[3].phone != "" {
		t.Fatalf("a number nobody holds: %+v", out.sent[3])
	}
}
