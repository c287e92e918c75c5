package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// metricRef is one metric an alarm watches, at the top level or in its
// Metrics (metric math).
type metricRef struct {
	namespace, name string
	dims            map[string]any // dimension name -> value as written
	extended        string         // ExtendedStatistic / Stat
}

func alarmMetrics(props map[string]any) []metricRef {
	dims := func(v any) map[string]any {
		out := map[string]any{}
		list, _ := v.([]any)
		for _, d := range list {
			m, _ := d.(map[string]any)
			name, _ := m["Name"].(string)
			out[name] = m["Value"]
		}
		return out
	}
	var out []metricRef
	if ns, ok := props["Namespace"].(string); ok {
		name, _ := props["MetricName"].(string)
		ext, _ := props["ExtendedStatistic"].(string)
		out = append(out, metricRef{ns, name, dims(props["Dimensions"]), ext})
	}
	list, _ := props["Metrics"].([]any)
	for _, q := range list {
		m, _ := q.(map[string]any)
		stat, _ := m["MetricStat"].(map[string]any)
		met, _ := stat["Metric"].(map[string]any)
		if met == nil {
			continue
		}
		ns, _ := met["Namespace"].(string)
		name, _ := met["MetricName"].(string)
		st, _ := stat["Stat"].(string)
		out = append(out, metricRef{ns, name, dims(met["Dimensions"]), st})
	}
	return out
}

func ref(name string) any { return map[string]any{"Ref": name} }
func getAtt(name, attr string) any {
	return map[string]any{"Fn::GetAtt": []any{name, attr}}
}

// alarmGaps lists what the template's alarms leave unwatched, or unsent:
// each function's errors and throttles, each queue's oldest message, each
// dead-letter queue's messages, each HTTP API's 5xx and p99 latency, each
// table's throttles, each scheduled function's missed runs; every alarm
// sends to the operators' topic (AlarmActions), which mails an address
// the deploy must be given.
func alarmGaps(tpl *Template) []string {
	var gaps []string
	topic := ""
	for id, r := range tpl.Resources {
		if r.Type != "AWS::SNS::Subscription" || r.Properties["Protocol"] != "email" {
			continue
		}
		target, ok := NewValue(r.Properties["TopicArn"]).RefTarget()
		endpoint, eok := NewValue(r.Properties["Endpoint"]).RefTarget()
		if !ok || !eok || tpl.Resources[target.Name].Type != "AWS::SNS::Topic" {
			gaps = append(gaps, id+": an e-mail subscription not of a topic of this template, or not to a parameter")
			continue
		}
		if p, isParam := tpl.Parameters[endpoint.Name]; !isParam || p.HasDefault {
			gaps = append(gaps, fmt.Sprintf("%s: the alarms' address %s must be a parameter without a default", id, endpoint.Name))
		}
		topic = target.Name
	}
	if topic == "" {
		return append(gaps, "no SNS topic with an e-mail subscription for the operators")
	}

	var alarms []map[string]any
	ids := map[int]string{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		actions, _ := r.Properties["AlarmActions"].([]any)
		sent := false
		for _, a := range actions {
			sent = sent || reflect.DeepEqual(a, ref(topic))
		}
		if !sent {
			gaps = append(gaps, fmt.Sprintf("%s: no AlarmActions to %s: it would tell nobody", id, topic))
		}
		ids[len(alarms)] = id
		alarms = append(alarms, r.Properties)
	}
	// watched reports whether some alarm watches a metric that match
	// accepts and whose whole alarm check accepts.
	watched := func(match func(metricRef) bool, check func(map[string]any) bool) bool {
		for _, a := range alarms {
			for _, m := range alarmMetrics(a) {
				if match(m) && (check == nil || check(a)) {
					return true
				}
			}
		}
		return false
	}
	above0 := func(a map[string]any) bool {
		return a["ComparisonOperator"] == "GreaterThanThreshold" && fmt.Sprint(a["Threshold"]) == "0"
	}
	for _, fn := range tpl.Functions {
		for _, metric := range []string{"Errors", "Throttles"} {
			if !watched(func(m metricRef) bool {
				return m.namespace == "AWS/Lambda" && m.name == metric && reflect.DeepEqual(m.dims["FunctionName"], ref(fn.LogicalID))
			}, nil) {
				gaps = append(gaps, fmt.Sprintf("%s: no alarm on its %s", fn.LogicalID, metric))
			}
		}
	}
	dlqs := map[string]bool{}
	for _, q := range tpl.Queues {
		if q.DLQ != "" {
			dlqs[q.DLQ] = true
		}
	}
	for _, q := range tpl.Queues {
		name := getAtt(q.LogicalID, "QueueName")
		if dlqs[q.LogicalID] {
			if !watched(func(m metricRef) bool {
				return m.namespace == "AWS/SQS" && m.name == "ApproximateNumberOfMessagesVisible" && reflect.DeepEqual(m.dims["QueueName"], name)
			}, above0) {
				gaps = append(gaps, fmt.Sprintf("%s: a dead-letter queue with no alarm on a message in it (visible > 0)", q.LogicalID))
			}
			continue
		}
		if !watched(func(m metricRef) bool {
			return m.namespace == "AWS/SQS" && m.name == "ApproximateAgeOfOldestMessage" && reflect.DeepEqual(m.dims["QueueName"], name)
		}, nil) {
			gaps = append(gaps, fmt.Sprintf("%s: no alarm on the age of its oldest message", q.LogicalID))
		}
	}
	for _, api := range tpl.HTTPAPIs {
		onAPI := func(metric, stat string) func(metricRef) bool {
			return func(m metricRef) bool {
				return m.namespace == "AWS/ApiGateway" && m.name == metric && reflect.DeepEqual(m.dims["ApiId"], ref(api.LogicalID)) &&
					(stat == "" || m.extended == stat)
			}
		}
		if !watched(onAPI("5xx", ""), nil) {
			gaps = append(gaps, api.LogicalID+": no alarm on its 5xx answers")
		}
		if !watched(onAPI("Latency", "p99"), nil) {
			gaps = append(gaps, api.LogicalID+": no alarm on its p99 latency")
		}
	}
	for _, tb := range tpl.Tables {
		if !watched(func(m metricRef) bool {
			return m.namespace == "AWS/DynamoDB" && strings.Contains(m.name, "Throttle") && reflect.DeepEqual(m.dims["TableName"], ref(tb.LogicalID))
		}, nil) {
			gaps = append(gaps, tb.LogicalID+": no alarm on its throttled requests")
		}
	}
	// A scheduled function's run is counted by a metric filter on its log
	// group; an alarm says when a day goes by without one (missing data
	// breaching: no line at all is a missed run).
	for _, fn := range tpl.Functions {
		if len(fn.Schedules) == 0 {
			continue
		}
		group := ""
		for id, r := range tpl.Resources {
			if r.Type == "AWS::Logs::LogGroup" && reflect.DeepEqual(r.Properties["LogGroupName"], map[string]any{"Fn::Sub": "/aws/lambda/${" + fn.LogicalID + "}"}) {
				group = id
			}
		}
		runs := map[[2]string]bool{}
		for _, r := range tpl.Resources {
			if r.Type != "AWS::Logs::MetricFilter" || !reflect.DeepEqual(r.Properties["LogGroupName"], ref(group)) {
				continue
			}
			ts, _ := r.Properties["MetricTransformations"].([]any)
			for _, t := range ts {
				m, _ := t.(map[string]any)
				ns, _ := m["MetricNamespace"].(string)
				name, _ := m["MetricName"].(string)
				runs[[2]string{ns, name}] = true
			}
		}
		if group == "" || !watched(func(m metricRef) bool { return runs[[2]string{m.namespace, m.name}] }, func(a map[string]any) bool {
			return a["ComparisonOperator"] == "LessThanThreshold" && a["TreatMissingData"] == "breaching"
		}) {
			gaps = append(gaps, fmt.Sprintf("%s: a scheduled job with no alarm on a missed run (a metric filter on its log group, missing data breaching)", fn.LogicalID))
		}
	}
	sort.Strings(gaps)
	return gaps
}

func repositoryTemplateText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every function, queue, dead-letter queue, the API, the table and the
// scheduled jobs have their alarms, and every alarm reaches the operators.
func TestEverythingHasAlarmsThatReachSomeone(t *testing.T) {
	tpl, err := Parse([]byte(repositoryTemplateText(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range alarmGaps(tpl) {
		t.Error(g)
	}
}

// The check is not blind: a function, a queue with its dead-letter queue
// or an alarm added to the template without what they need are caught.
func TestAlarmGapsAreCaught(t *testing.T) {
	text := repositoryTemplateText(t)
	anchor := "Outputs:\n"
	for _, tt := range []struct {
		name, add string
		want      []string
	}{
		{
			name: "a new function",
			add: `  NewJobFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/newjob
      Events:
        Daily:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 1 * * ? *)
`,
			want: []string{"NewJobFunction: no alarm on its Errors", "NewJobFunction: no alarm on its Throttles",
				"NewJobFunction: a scheduled job with no alarm on a missed run"},
		},
		{
			name: "a new queue and its dead-letter queue",
			add: `  NewQueue:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt NewDLQ.Arn
        maxReceiveCount: 5
  NewDLQ:
    Type: AWS::SQS::Queue
`,
			want: []string{"NewQueue: no alarm on the age of its oldest message", "NewDLQ: a dead-letter queue with no alarm on a message in it"},
		},
		{
			name: "an alarm that tells nobody",
			add: `  SilentAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/SQS
      MetricName: ApproximateAgeOfOldestMessage
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanThreshold
`,
			want: []string{"SilentAlarm: no AlarmActions to OpsAlarmTopic"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Count(text, anchor) != 1 {
				t.Fatalf("template.yaml has no single %q", anchor)
			}
			edited := strings.Replace(text, anchor, tt.add+"\n"+anchor, 1)
			tpl, err := Parse([]byte(edited))
			if err != nil {
				t.Fatal(err)
			}
			gaps := strings.Join(alarmGaps(tpl), "\n")
			for _, w := range tt.want {
				if !strings.Contains(gaps, w) {
					t.Errorf("not caught: %q in\n%s", w, gaps)
				}
			}
		})
	}
	// And the address: a default would deploy alarms to nobody in
	// particular.
	edited := strings.Replace(text, "  AlertEmail:\n    Type: String\n", "  AlertEmail:\n    Type: String\n    Default: ops@example.com\n", 1)
	tpl, err := Parse([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	if gaps := strings.Join(alarmGaps(tpl), "\n"); !strings.Contains(gaps, "must be a parameter without a default") {
		t.Errorf("a default alarm address not caught:\n%s", gaps)
	}
}
