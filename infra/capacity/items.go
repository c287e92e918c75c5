package capacity

import (
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ItemSize is an item's size as DynamoDB bills it: each attribute's name
// in UTF-8 bytes plus its value (strings in UTF-8 bytes, numbers about one
// byte per two significant digits plus one, binary in bytes, booleans and
// nulls one byte, lists and maps three bytes plus their elements, each
// element one byte more).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(x.Value), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range x.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// WriteUnits bills a write of an item of size bytes: one unit per KB,
// twice that inside a transaction.
func WriteUnits(size int, transactional bool) float64 {
	u := math.Ceil(float64(max(size, 1)) / 1024)
	if transactional {
		u *= 2
	}
	return u
}

// ReadUnits bills a read: one unit per 4 KB strongly consistent, half for
// an eventually consistent read.
func ReadUnits(size int, strong bool) float64 {
	u := math.Ceil(float64(max(size, 1)) / 4096)
	if !strong {
		u /= 2
	}
	return u
}
