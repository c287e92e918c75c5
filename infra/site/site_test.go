package site

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pccc/pccc/infra/localstack"
)

func TestFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html>")},
		"js/app.js":            {Data: []byte("export {}")},
		"js/api.test.mjs":      {Data: []byte("test")},
		"js/x_test.js":         {Data: []byte("test")},
		".DS_Store":            {Data: []byte("junk")},
		".git/config":          {Data: []byte("junk")},
		"css/.site.css.swp":    {Data: []byte("junk")},
		"i18n/ko.json":         {Data: []byte("{}")},
		"images/mark.svg":      {Data: []byte("<svg/>")},
		"fonts/odd.bin":        {Data: []byte{0}},
		"site.webmanifest":     {Data: []byte("{}")},
		"components/a/a.css":   {Data: []byte("a{}")},
		"components/a/a.JS":    {Data: []byte("1")},
		"components/a/readme":  {Data: []byte("x")},
		"components/a/a.HTML.": {Data: []byte("x")},
	}
	files, err := Files(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]File{}
	var keys []string
	for _, f := range files {
		got[f.Key] = f
		keys = append(keys, f.Key)
	}
	want := []string{"components/a/a.HTML.", "components/a/a.JS", "components/a/a.css", "components/a/readme", "fonts/odd.bin", "i18n/ko.json", "images/mark.svg", "index.html", "js/app.js", "site.webmanifest"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for key, ct := range map[string]string{
		"index.html": "text/html; charset=utf-8", "js/app.js": "text/javascript; charset=utf-8",
		"components/a/a.JS": "text/javascript; charset=utf-8", "components/a/a.css": "text/css; charset=utf-8",
		"i18n/ko.json": "application/json; charset=utf-8", "images/mark.svg": "image/svg+xml",
		"fonts/odd.bin": "application/octet-stream", "components/a/readme": "application/octet-stream",
		"site.webmanifest": "application/manifest+json",
	} {
		if got[key].ContentType != ct {
			t.Errorf("%s: Content-Type %q, want %q", key, got[key].ContentType, ct)
		}
	}
	if got["index.html"].CacheControl != "public, max-age=60, s-maxage=86400" || got["js/app.js"].CacheControl != "public, max-age=300, s-maxage=86400" {
		t.Errorf("Cache-Control: %q, %q", got["index.html"].CacheControl, got["js/app.js"].CacheControl)
	}
	if _, err := Files(fstest.MapFS{".hidden": {Data: []byte("x")}}); err == nil {
		t.Error("an empty site was accepted")
	}
}

// Upload against the local stacks' S3 (gofakes3; fauxqs on
// PCCC_TEST_STACKS=dynamodb-local): the bucket ends up holding exactly the
// folder, with each file's headers; an unchanged file is not put again.
func TestUploadToLocalS3(t *testing.T) {
	kinds, err := localstack.TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			stack, err := localstack.Start(ctx, kind, localstack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer stack.Close()
			c, err := stack.S3(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 4)
			_, _ = rand.Read(b)
			bucket := "site-" + hex.EncodeToString(b)
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
				CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(stack.Region)}}); err != nil {
				t.Fatal(err)
			}
			first, err := Files(fstest.MapFS{
				"index.html": {Data: []byte("<!doctype html><title>one</title>")},
				"js/app.js":  {Data: []byte("export const one = 1;")},
				"old.css":    {Data: []byte("a{}")},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Upload(ctx, c, bucket, first)
			if err != nil {
				t.Fatal(err)
			}
			if res.Uploaded != 3 || res.Deleted != 0 || res.Unchanged != 0 {
				t.Errorf("first upload: %s", res)
			}
			second, _ := Files(fstest.MapFS{
				"index.html": {Data: []byte("<!doctype html><title>two</title>")},
				"js/app.js":  {Data: []byte("export const one = 1;")},
				"new.svg":    {Data: []byte("<svg/>")},
			})
			res, err = Upload(ctx, c, bucket, second)
			if err != nil {
				t.Fatal(err)
			}
			if res.Uploaded != 2 || res.Unchanged != 1 || res.Deleted != 1 {
				t.Errorf("second upload: %s, want 2 uploaded, 1 unchanged, 1 deleted", res)
			}
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			sort.Strings(keys)
			if strings.Join(keys, " ") != "index.html js/app.js new.svg" {
				t.Errorf("bucket holds %v", keys)
			}
			obj, err := ReadObject(ctx, c, bucket, "index.html")
			if err != nil {
				t.Fatal(err)
			}
			if string(obj.Body) != "<!doctype html><title>two</title>" || obj.ContentType != "text/html; charset=utf-8" || obj.ETag == "" {
				t.Errorf("index.html = %+v", obj)
			}
			if obj.CacheControl != "" && obj.CacheControl != CacheControl("index.html") {
				t.Errorf("Cache-Control %q", obj.CacheControl)
			}
			if _, err := ReadObject(ctx, c, bucket, "old.css"); !errors.Is(err, ErrNotFound) {
				t.Errorf("a deleted file: %v", err)
			}

			// pccc-site itself, pointed at the stack as make run's
			// environment points it: the folder replaces the bucket's files.
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "js"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string]string{"index.html": "<!doctype html><title>three</title>", "js/app.js": "export {}"} {
				if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, kv := range stack.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			var stdout, stderr strings.Builder
			if err := Main(ctx, []string{"-dir", dir, "-bucket", bucket, "-distribution", "E1LOCAL"}, os.Getenv, &stdout, &stderr); err != nil {
				t.Fatalf("pccc-site: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "2 uploaded") || !strings.Contains(stdout.String(), "1 deleted") || !strings.Contains(stdout.String(), "local stack: no distribution to invalidate") {
				t.Errorf("pccc-site said %q", stdout.String())
			}
			obj, err = ReadObject(ctx, c, bucket, "index.html")
			if err != nil || !strings.Contains(string(obj.Body), "three") {
				t.Errorf("after pccc-site: %v %q", err, obj)
			}
		})
	}
}

// fakeCloudFront is a fake of our own Invalidator.
type fakeCloudFront struct {
	got *cloudfront.CreateInvalidationInput
	err error
}

func (f *fakeCloudFront) CreateInvalidation(_ context.Context, in *cloudfront.CreateInvalidationInput, _ ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error) {
	f.got = in
	if f.err != nil {
		return nil, f.err
	}
	return &cloudfront.CreateInvalidationOutput{Invalidation: &cftypes.Invalidation{Id: aws.String("I123")}}, nil
}

func TestInvalidate(t *testing.T) {
	f := &fakeCloudFront{}
	id, err := Invalidate(context.Background(), f, "E1ABC", time.Unix(1700000000, 5))
	if err != nil || id != "I123" {
		t.Fatalf("Invalidate = %q, %v", id, err)
	}
	b := f.got.InvalidationBatch
	if aws.ToString(f.got.DistributionId) != "E1ABC" || aws.ToInt32(b.Paths.Quantity) != 1 || b.Paths.Items[0] != "/*" ||
		aws.ToString(b.CallerReference) != "pccc-site-1700000000000000005" {
		t.Errorf("request = %+v %+v", f.got, b)
	}
	f.err = errors.New("denied")
	if _, err := Invalidate(context.Background(), f, "E1ABC", time.Now()); err == nil || !strings.Contains(err.Error(), "E1ABC") {
		t.Errorf("err = %v", err)
	}
}

// fakeStacks is a fake of our own Stacks.
type fakeStacks struct{ outputs map[string]string }

func (f fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	st := cfntypes.Stack{StackName: in.StackName}
	for k, v := range f.outputs {
		st.Outputs = append(st.Outputs, cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cfntypes.Stack{st}}, nil
}

func TestStackOutputs(t *testing.T) {
	b, d, err := StackOutputs(context.Background(), fakeStacks{map[string]string{"SiteBucketName": "pccc-dev-sitebucket-1", "DistributionId": "E2", "ApiUrl": "x"}}, "pccc-dev")
	if err != nil || b != "pccc-dev-sitebucket-1" || d != "E2" {
		t.Errorf("StackOutputs = %q %q %v", b, d, err)
	}
	if _, _, err := StackOutputs(context.Background(), fakeStacks{map[string]string{"ApiUrl": "x"}}, "old"); err == nil || !strings.Contains(err.Error(), "SiteBucketName") {
		t.Errorf("a stack without the site: %v", err)
	}
	var stderr strings.Builder
	if err := Main(context.Background(), []string{"-bucket", "b", "-stack", "s"}, os.Getenv, io.Discard, &stderr); err == nil || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("both -stack and -bucket: %v", err)
	}
}
