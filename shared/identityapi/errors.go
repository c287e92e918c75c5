package identityapi

import "github.com/pccc/pccc/shared/apperr"

func invalid(fields map[string]string) error { return apperr.InvalidFields(fields) }
