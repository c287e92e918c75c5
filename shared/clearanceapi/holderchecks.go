package clearanceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/session"
)

// RouteHolderChecks is the holder's list of the checks made against their
// codes, as template.yaml declares it.
const RouteHolderChecks = "GET /v1/clearance/checks"

// HolderChecksLimit is how many checks the list shows, newest first.
const HolderChecksLimit = 50

// CheckLister lists a holder's checks, newest first (dynamo.CheckStore).
type CheckLister interface {
	ChecksOf(ctx context.Context, hk string, limit int) ([]dynamo.Check, error)
}

// KeyReader reads an API key's record (dynamo.APIKeyStore), for the name of
// whoever checked.
type KeyReader interface {
	Key(ctx context.Context, id string) (apikey.Record, error)
}

var (
	_ CheckLister = (*dynamo.CheckStore)(nil)
	_ KeyReader   = (*dynamo.APIKeyStore)(nil)
)

// HolderCheck is one check as its holder sees it: when, against which of
// their codes, what it answered, and the broker or shop whose key made it.
// Nothing the broker sent (name, phone, zip) was kept, so none is shown.
type HolderCheck struct {
	CheckID   string    `json:"checkId"`
	CheckedAt time.Time `json:"checkedAt"`
	Code      string    `json:"code"`
	Result    string    `json:"result"`
	CheckedBy string    `json:"checkedBy"`
}

// HolderChecksResponse is the 200 answer.
type HolderChecksResponse struct {
	Checks []HolderCheck `json:"checks"`
}

// HolderChecks serves GET /v1/clearance/checks: the holder the session
// names sees the latest checks of their codes (current and past).
func HolderChecks(checks CheckLister, keys KeyReader) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		list, err := checks.ChecksOf(ctx, c.HolderKey, HolderChecksLimit)
		if err != nil {
			return nil, err
		}
		owners := map[string]string{}
		out := HolderChecksResponse{Checks: make([]HolderCheck, 0, len(list))}
		for _, ch := range list {
			if ch.HolderKey != c.HolderKey {
				continue // the index names the holder; belt and braces
			}
			owner, seen := owners[ch.KeyID]
			if !seen {
				rec, err := keys.Key(ctx, ch.KeyID)
				switch {
				case err == nil:
					owner = rec.Owner
				case !errors.Is(err, apikey.ErrNoKey):
					return nil, err
				}
				owners[ch.KeyID] = owner
			}
			out.Checks = append(out.Checks, HolderCheck{
				CheckID: ch.ID, CheckedAt: ch.At.UTC(), Code: ch.Code, Result: ch.Result, CheckedBy: owner,
			})
		}
		return httpapi.JSON(http.StatusOK, out), nil
	}
}

// BuildHolderChecks builds the function behind GET /v1/clearance/checks.
func BuildHolderChecks(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("holder checks: logger and DynamoDB client are required")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	cfg := d.Config
	iss, err := cfg.Keys.Session(cfg.SessionTTL, now)
	if err != nil {
		return nil, fmt.Errorf("holder checks: %w", err)
	}
	db, table := d.AWS.DynamoDB, cfg.TableName
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteHolderChecks: session.RequireHolder(iss, HolderChecks(dynamo.NewCheckStore(db, table), dynamo.NewAPIKeyStore(db, table))),
	}), nil
}
