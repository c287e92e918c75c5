// Package identityapi serves the identity-verification routes of API.md.
// (Placeholder: being written.)
package identityapi

import (
	"context"
	"errors"

	"github.com/pccc/pccc/shared/platform"
)

// BuildRealName builds the real-name check function.
func BuildRealName(ctx context.Context, d platform.Deps) (any, error) {
	return nil, errors.New("not yet")
}
