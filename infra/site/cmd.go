package site

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pccc/pccc/infra/operator"
)

// Usage is pccc-site's help.
const Usage = `usage: pccc-site [-dir web [-dir build/site ...]] (-stack NAME | -bucket NAME [-distribution ID])

Uploads the web page to the site bucket (each file with its Content-Type and
Cache-Control; files gone from the folder are deleted), then invalidates the
distribution so the edges serve the new files at once.

  -stack NAME         read SiteBucketName and DistributionId from the stack's outputs
  -bucket NAME        the bucket, without a stack
  -distribution ID    the distribution to invalidate (none: no invalidation)
  -dir DIR            a folder of the site, its files at the bucket's root; given
                      again, the folders are put together (make deploy: web and
                      build/site, the API reference); default web

The AWS SDK's usual variables choose the region and credentials;
AWS_ENDPOINT_URL_S3 on this machine uploads to a local stack (make run) and
invalidates nothing.
`

// Stacks is what the command needs of CloudFormation.
type Stacks interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ Stacks = (*cloudformation.Client)(nil)

// Main runs pccc-site with args (without the program name).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pccc-site", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	var dirs []string
	fs.Func("dir", "a folder of the site (repeatable; default web)", func(v string) error {
		dirs = append(dirs, v)
		return nil
	})
	stack := fs.String("stack", "", "the stack whose outputs name the bucket and distribution")
	bucket := fs.String("bucket", "", "the site bucket")
	dist := fs.String("distribution", "", "the distribution to invalidate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || (*stack == "") == (*bucket == "") {
		fs.Usage()
		return errors.New("give -stack, or -bucket (and -distribution)")
	}
	if len(dirs) == 0 {
		dirs = []string{"web"}
	}
	var sets [][]File
	for _, dir := range dirs {
		files, err := Files(os.DirFS(dir))
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		sets = append(sets, files)
	}
	files, err := Merge(sets...)
	if err != nil {
		return err
	}
	var loaders []func(*awsconfig.LoadOptions) error
	local := operator.Loopback(getenv("AWS_ENDPOINT_URL_S3"))
	if local {
		loaders = append(loaders, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if *stack != "" {
		if *bucket, *dist, err = StackOutputs(ctx, cloudformation.NewFromConfig(cfg), *stack); err != nil {
			return err
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if local {
			// The local stacks' S3: path-style (no bucket.127.0.0.1 host),
			// checksums only where required (the emulators do not take the
			// SDK's trailing ones).
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	res, err := Upload(ctx, s3c, *bucket, files)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "s3://%s: %s\n", *bucket, res)
	switch {
	case *dist == "":
		fmt.Fprintln(stdout, "no distribution given: nothing invalidated")
	case local:
		fmt.Fprintln(stdout, "local stack: no distribution to invalidate")
	default:
		id, err := Invalidate(ctx, cloudfront.NewFromConfig(cfg), *dist, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "distribution %s: invalidation %s of /* under way\n", *dist, id)
	}
	return nil
}

// StackOutputs reads the site bucket and the distribution from a deployed
// stack's outputs (template.yaml: SiteBucketName, DistributionId).
func StackOutputs(ctx context.Context, c Stacks, stack string) (bucket, distribution string, err error) {
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return "", "", fmt.Errorf("stack %s: %w", stack, err)
	}
	if len(out.Stacks) != 1 {
		return "", "", fmt.Errorf("stack %s: %d stacks found", stack, len(out.Stacks))
	}
	for _, o := range out.Stacks[0].Outputs {
		switch aws.ToString(o.OutputKey) {
		case "SiteBucketName":
			bucket = aws.ToString(o.OutputValue)
		case "DistributionId":
			distribution = aws.ToString(o.OutputValue)
		}
	}
	if bucket == "" || distribution == "" {
		return "", "", fmt.Errorf("stack %s has no SiteBucketName or DistributionId output: deploy template.yaml first", stack)
	}
	return bucket, distribution, nil
}
