package smsprovider

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

type snsAttr struct{ typ, value string }

func toSNS(attrs map[string]snsAttr) map[string]types.MessageAttributeValue {
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, a := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String(a.typ), StringValue: aws.String(a.value)}
	}
	return out
}
