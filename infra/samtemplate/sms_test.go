package samtemplate

import (
	"path/filepath"
	"testing"
)

// The SMS design as template.yaml deploys it (issue 16): codes on a queue
// of their own and notices on one that keeps them four days, each with a
// dead-letter queue; the provider's rate a parameter every function reads;
// the sender behind both queues, told the code queue to bring failed
// codes back early; and the alarms: the oldest message's age on both
// queues, failed sends, and the provider's spend.
func TestRepositorySMSDesign(t *testing.T) {
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	codes, ok1 := tpl.Queue("SmsCodeQueue")
	notices, ok2 := tpl.Queue("SmsNoticeQueue")
	if !ok1 || !ok2 {
		t.Fatal("no SmsCodeQueue or SmsNoticeQueue")
	}
	if notices.MessageRetention < 4*24*3600 {
		t.Errorf("the notice queue keeps messages %d s, want at least 4 days", notices.MessageRetention)
	}
	for _, q := range []Queue{codes, notices} {
		if q.DLQ == "" || q.MaxReceiveCount < 1 {
			t.Errorf("%s has no dead-letter queue", q.LogicalID)
		}
	}
	// The provider's rate is the account's quota: a deploy must say it
	// (no default, so a deploy without it fails before it creates anything).
	if p, ok := tpl.Parameters["SmsRate"]; !ok || p.HasDefault {
		t.Errorf("want an SmsRate parameter without a default: %+v", p)
	}
	sender, ok := tpl.Function("SmsSenderFunction")
	if !ok {
		t.Fatal("no SmsSenderFunction")
	}
	refs := func(v Value) string {
		s, _ := v.Resolve(func(r Ref) (string, error) { return "ref:" + r.Name, nil })
		return s
	}
	if got := refs(sender.Env["SMS_RATE"]); got != "ref:SmsRate" {
		t.Errorf("the sender's SMS_RATE is %q, want the SmsRate parameter", got)
	}
	if got := refs(sender.Env["CODE_QUEUE_URL"]); got != "ref:SmsCodeQueue" {
		t.Errorf("the sender's CODE_QUEUE_URL is %q, want the code queue", got)
	}
	if codes.VisibilityTimeout < 6*sender.Timeout {
		t.Errorf("code queue visibility %d s under six times the sender's %d s", codes.VisibilityTimeout, sender.Timeout)
	}
	queues := map[string]bool{}
	for _, s := range sender.SQSSources {
		queues[s.Queue] = s.ReportBatchItemFailures
	}
	if !queues["SmsCodeQueue"] || !queues["SmsNoticeQueue"] {
		t.Errorf("the sender's queues (with ReportBatchItemFailures): %v", queues)
	}
	// The alarms, by what they watch.
	watched := map[string]bool{}
	for _, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		metric, _ := r.Properties["MetricName"].(string)
		for _, d := range list(r.Properties["Dimensions"]) {
			dm := mapping(d)
			if v := mapping(dm["Value"]); v != nil {
				if ga := list(v["Fn::GetAtt"]); len(ga) > 0 {
					metric += "/" + str(ga[0])
				}
			}
		}
		watched[metric] = true
	}
	for _, want := range []string{"ApproximateAgeOfOldestMessage/SmsCodeQueue", "ApproximateAgeOfOldestMessage/SmsNoticeQueue",
		"FailedSends", "SMSMonthToDateSpentUSD", "ApproximateNumberOfMessagesVisible/SmsCodeDLQ", "ApproximateNumberOfMessagesVisible/SmsNoticeDLQ"} {
		if !watched[want] {
			t.Errorf("no alarm on %s (alarms on %v)", want, watched)
		}
	}
}
