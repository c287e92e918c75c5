// Package functions lists every Lambda function of the system by the name of
// its folder under functions/ (the CodeUri in template.yaml). Each
// functions/<name>/main.go hands its builder to the Lambda runtime; the local
// runner looks builders up here to invoke them in-process. A test keeps this
// list, the folders and template.yaml in step.
package functions

import (
	"context"
	"fmt"
	"maps"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/declarationapi"
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/openapi"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/smsapi"
	"github.com/pccc/pccc/shared/statsapi"
)

// Registry maps a function folder name to its builder.
var Registry = map[string]platform.Builder{
	"realname":   identityapi.BuildRealName,
	"smscode":    identityapi.BuildSendCode,
	"smsconfirm": identityapi.BuildConfirmCode,
	"smssender":  smsapi.BuildSender,

	"codeissue":     codeapi.BuildIssue,
	"codereissue":   codeapi.BuildReissue,
	"codechange":    codeapi.BuildChange,
	"codelookup":    codeapi.BuildLookup,
	"requeststatus": codeapi.BuildRequestStatus,
	"codeworker":    codeapi.BuildWorker,
	"codeexpiry":    codeapi.BuildExpiry,

	"clearancecheck": clearanceapi.BuildCheck,
	"holderchecks":   clearanceapi.BuildHolderChecks,
	"openapi":        openapi.Build,

	"declarationfile":   declarationapi.BuildBroker,
	"declarationholder": declarationapi.BuildHolder,

	"statsexport":    statsapi.BuildExport,
	"authoritystats": statsapi.Build,

	"authoritycampaigns": campaignapi.BuildAPI,
	"campaignreader":     campaignapi.BuildReader,
	"campaignworker":     campaignapi.BuildWorker,
}

// Worker is the command worker's handler, as codeapi.BuildWorker builds it.
type Worker = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// WithWorker is Registry with the command worker wrapped by wrap, for the
// tests and the bench that hold, count or kill its batches.
func WithWorker(wrap func(Worker) Worker) map[string]platform.Builder {
	reg := maps.Clone(Registry)
	reg["codeworker"] = func(ctx context.Context, d platform.Deps) (any, error) {
		h, err := codeapi.BuildWorker(ctx, d)
		if err != nil {
			return nil, err
		}
		w, ok := h.(Worker)
		if !ok {
			return nil, fmt.Errorf("codeworker: handler is %T, not a Worker", h)
		}
		return wrap(w), nil
	}
	return reg
}
