package smsprovider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

func TestHTTPPostsToAndText(t *testing.T) {
	var got map[string]string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	p := &HTTP{URL: srv.URL, HTTP: srv.Client(), Timeout: time.Second}
	if err := p.Send(context.Background(), "01012345678", "hello"); err != nil {
		t.Fatal(err)
	}
	if got["to"] != "01012345678" || got["text"] != "hello" {
		t.Fatalf("posted %v", got)
	}
	status = http.StatusBadGateway
	if err := p.Send(context.Background(), "01012345678", "hello"); err == nil {
		t.Fatal("a 502 is a failure to retry")
	}
}

type publishFake struct{ in *sns.PublishInput }

func (f *publishFake) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = in
	return &sns.PublishOutput{}, nil
}

func TestSNSPublishesTransactionalToKoreanNumbers(t *testing.T) {
	f := &publishFake{}
	if err := (&SNS{SNS: f, SenderID: "PCCC"}).Send(context.Background(), "01012345678", "hello"); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(f.in.PhoneNumber) != "+821012345678" || aws.ToString(f.in.Message) != "hello" {
		t.Fatalf("published %+v", f.in)
	}
	if a := f.in.MessageAttributes; aws.ToString(a["AWS.SNS.SMS.SMSType"].StringValue) != "Transactional" || aws.ToString(a["AWS.SNS.SMS.SenderID"].StringValue) != "PCCC" {
		t.Fatalf("attributes %+v", a)
	}
}
