package codeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/session"
)

// oneHolder is a small fake of our Holders: the same stored holder always.
type oneHolder struct{ h holder.Stored }

func (o oneHolder) Holder(context.Context, string) (holder.Stored, error) { return o.h, nil }

// BenchmarkLookupOwnWork is the lookup function's own work, as the Lambda
// runtime invokes it, without its one DynamoDB call: the event decoded, the
// session checked, the holder's fields opened, the answer built and
// encoded. make bench holds the whole of it against that call.
func BenchmarkLookupOwnWork(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	iss, err := session.New(map[string][]byte{"k": key}, "k", time.Hour, clock)
	if err != nil {
		b.Fatal(err)
	}
	const hk = "hk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	tok, _, err := iss.Issue(hk, "v1")
	if err != nil {
		b.Fatal(err)
	}
	seal, err := sealer.New(map[string][]byte{"d1": bytes.Repeat([]byte{3}, 32)}, "d1")
	if err != nil {
		b.Fatal(err)
	}
	d := holder.Details{KoreanName: "홍길동", EnglishName: "HONG GILDONG", Nationality: "KR", Phone: "01012345678",
		Email: "gildong@example.com", Language: "ko", Addresses: []holder.Address{{Zip: "06236", Address: "서울특별시 강남구 테헤란로 123", Detail: "4층"}}}
	st := holder.Stored{Key: hk, Code: "P123456789012", Status: "active", IssuedAt: now.AddDate(0, -2, 0), ExpiresAt: now.AddDate(0, 10, 0),
		ReissueYear: 2026, ReissuesInYear: 1, Version: 3, Sealed: map[string]string{}}
	for name, v := range d.Fields() {
		s, err := seal.Seal(holder.FieldAAD(hk, name), []byte(v))
		if err != nil {
			b.Fatal(err)
		}
		st.Sealed[name] = s
	}
	h := httpapi.Handler(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Routes{
		RouteLookup: session.RequireHolder(iss, Lookup(oneHolder{st}, seal, holder.Policy{ReissuesPerYear: 5, ValidityMonths: 12, RenewalWindow: 30 * 24 * time.Hour}, clock)),
	})
	// The event as API Gateway sends it for the web page's lookup.
	payload, err := json.Marshal(events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: RouteLookup, RawPath: "/v1/codes/me",
		Headers: map[string]string{
			"accept": "application/json", "accept-encoding": "gzip, deflate, br, zstd", "accept-language": "ko-KR,ko;q=0.9,en;q=0.8",
			"authorization": "Bearer " + tok, "host": "api.example.kr", "origin": "https://pccc.example.kr",
			"referer": "https://pccc.example.kr/me", "sec-fetch-mode": "cors", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
			"x-amzn-trace-id": "Root=1-6756a1c2-0123456789abcdef01234567", "x-forwarded-for": "203.0.113.7",
			"x-forwarded-port": "443", "x-forwarded-proto": "https",
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: RouteLookup, AccountID: "123456789012", Stage: "$default", RequestID: "CiIGVhIcoE0EPkQ=", APIID: "a1b2c3d4e5",
			DomainName: "api.example.kr", DomainPrefix: "api", Time: "07/Dec/2026:12:00:00 +0000", TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/codes/me", Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "Mozilla/5.0"},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil || !bytes.Contains(out, []byte(`"statusCode":200`)) || !bytes.Contains(out, []byte("P123456789012")) {
		b.Fatalf("the lookup answered %s, %v", out, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
	}
}
