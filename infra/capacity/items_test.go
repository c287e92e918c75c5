package capacity

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestItemSizeAndUnits(t *testing.T) {
	item := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "HOLDER#abc"},                                                      // 2 + 10
		"n":  &types.AttributeValueMemberN{Value: "12345"},                                                           // 1 + 4
		"ok": &types.AttributeValueMemberBOOL{Value: true},                                                           // 2 + 1
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 1 + 3 + 1 + 2
		"이름": &types.AttributeValueMemberS{Value: "홍길동"},                                                             // 6 + 9
	}
	if got := ItemSize(item); got != 12+5+3+7+15 {
		t.Fatalf("size %d", got)
	}
	for _, tc := range []struct {
		size  int
		tx    bool
		units float64
	}{{1, false, 1}, {1024, false, 1}, {1025, false, 2}, {1500, true, 4}} {
		if u := WriteUnits(tc.size, tc.tx); u != tc.units {
			t.Errorf("WriteUnits(%d, %v) = %v", tc.size, tc.tx, u)
		}
	}
	if ReadUnits(4096, true) != 1 || ReadUnits(4097, true) != 2 || ReadUnits(100, false) != 0.5 {
		t.Error("ReadUnits")
	}
}
