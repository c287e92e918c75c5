// Package site puts the public web page (web/) into the site bucket: the
// same code for the deploy (infra/cmd/pccc-site, to the stack's SiteBucket,
// then a CloudFront invalidation) and for the local runner (to the local
// S3, which it then serves as the distribution does). Each file goes up
// with its Content-Type and Cache-Control; files no longer in web/ are
// deleted, so the bucket holds exactly the folder.
package site

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Bucket is what the upload needs of S3.
type Bucket interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ Bucket = (*s3.Client)(nil)

// Invalidator is what the deploy needs of CloudFront.
type Invalidator interface {
	CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, opts ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error)
}

var _ Invalidator = (*cloudfront.Client)(nil)

// File is one file of the site as it goes into the bucket.
type File struct {
	Key          string // "index.html", "js/app.js": the path under web/
	ContentType  string
	CacheControl string
	Body         []byte
}

// types are the Content-Types of the files a static site has; anything
// else goes up as application/octet-stream (and the browser, told
// nosniff, will not run it).
var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".webp":        "image/webp",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
	".woff2":       "font/woff2",
	".webmanifest": "application/manifest+json",
}

// ContentType is the Content-Type a file is stored with.
func ContentType(key string) string {
	if t, ok := types[strings.ToLower(path.Ext(key))]; ok {
		return t
	}
	return "application/octet-stream"
}

// CacheControl is what a file is stored with. Browsers keep a page a
// minute and the other files five (the names carry no hash, so not
// longer); the edges keep everything a day (s-maxage), and each deploy
// invalidates them, so a new page is out at once.
func CacheControl(key string) string {
	if strings.HasSuffix(key, ".html") {
		return "public, max-age=60, s-maxage=86400"
	}
	return "public, max-age=300, s-maxage=86400"
}

// Files reads the site from fsys: every regular file, skipping dot files
// and folders (.DS_Store, editors' swap files) and test files (*.test.*,
// *_test.*), which are not part of the page.
func Files(fsys fs.FS) ([]File, error) {
	var out []File
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != "." && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || isTest(name) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, File{Key: p, ContentType: ContentType(p), CacheControl: CacheControl(p), Body: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the site: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("the site folder has no files")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Merge puts the files of several folders together into one site (web/
// and the rendered API reference under build/site/): a key found in two is
// an error, so no folder hides another's file.
func Merge(sets ...[]File) ([]File, error) {
	seen := map[string]bool{}
	var out []File
	for _, set := range sets {
		for _, f := range set {
			if seen[f.Key] {
				return nil, fmt.Errorf("%s is in two of the site's folders", f.Key)
			}
			seen[f.Key] = true
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func isTest(name string) bool {
	base := strings.TrimSuffix(name, path.Ext(name))
	return strings.HasSuffix(base, ".test") || strings.HasSuffix(base, "_test")
}

// Result says what an upload did.
type Result struct {
	Uploaded  int   // files put
	Unchanged int   // files already there with the same bytes and headers
	Deleted   int   // objects no longer in the folder
	Bytes     int64 // bytes put
}

func (r Result) String() string {
	return fmt.Sprintf("%d uploaded (%d bytes), %d unchanged, %d deleted", r.Uploaded, r.Bytes, r.Unchanged, r.Deleted)
}

// Upload makes the bucket hold exactly files: each one put (unless the
// same bytes are there already, by their MD5 ETag, so an unchanged site
// is no new object version), then every other object deleted. The site's
// bucket is versioned, so a bad deploy can be rolled back from the old
// versions.
func Upload(ctx context.Context, b Bucket, bucket string, files []File) (Result, error) {
	var res Result
	existing := map[string]string{} // key -> ETag
	var token *string
	for {
		out, err := b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: token})
		if err != nil {
			return res, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range out.Contents {
			existing[aws.ToString(o.Key)] = strings.Trim(aws.ToString(o.ETag), `"`)
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Key] = true
		sum := md5.Sum(f.Body)
		if existing[f.Key] == hex.EncodeToString(sum[:]) {
			res.Unchanged++
			continue
		}
		_, err := b.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(f.Key),
			Body:          bytes.NewReader(f.Body),
			ContentLength: aws.Int64(int64(len(f.Body))),
			ContentType:   aws.String(f.ContentType),
			CacheControl:  aws.String(f.CacheControl),
		})
		if err != nil {
			return res, fmt.Errorf("put %s: %w", f.Key, err)
		}
		res.Uploaded++
		res.Bytes += int64(len(f.Body))
	}
	stale := make([]string, 0)
	for k := range existing {
		if !keep[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	// One at a time: DeleteObjects needs a Content-MD5 or checksum that the
	// local emulators do not all accept, and a site has few files.
	for _, k := range stale {
		if _, err := b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			return res, fmt.Errorf("delete %s: %w", k, err)
		}
		res.Deleted++
	}
	return res, nil
}

// Invalidate clears every edge's copy of the site, so the new files are
// served at once (the answers' s-maxage would otherwise keep old ones a
// day). It returns the invalidation's id.
func Invalidate(ctx context.Context, c Invalidator, distributionID string, now time.Time) (string, error) {
	out, err := c.CreateInvalidation(ctx, &cloudfront.CreateInvalidationInput{
		DistributionId: aws.String(distributionID),
		InvalidationBatch: &cftypes.InvalidationBatch{
			// Unique per deploy: the same reference twice is taken as one.
			CallerReference: aws.String("pccc-site-" + strconv.FormatInt(now.UnixNano(), 10)),
			Paths:           &cftypes.Paths{Quantity: aws.Int32(1), Items: []string{"/*"}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("invalidate distribution %s: %w", distributionID, err)
	}
	if out.Invalidation == nil {
		return "", nil
	}
	return aws.ToString(out.Invalidation.Id), nil
}

// ReadObject reads one object of the bucket, for whoever serves the site
// from it (the local runner). A missing key is ErrNotFound.
func ReadObject(ctx context.Context, c interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}, bucket, key string) (*Object, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if _, missing := errors.AsType[*s3types.NoSuchKey](err); missing {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	o := &Object{
		Body: b, ContentType: aws.ToString(out.ContentType), CacheControl: aws.ToString(out.CacheControl),
		ETag: aws.ToString(out.ETag),
	}
	if out.LastModified != nil {
		o.LastModified = *out.LastModified
	}
	return o, nil
}

// Object is a stored file with the headers S3 answers it with.
type Object struct {
	Body         []byte
	ContentType  string
	CacheControl string
	ETag         string
	LastModified time.Time
}

// ErrNotFound is a key the bucket does not hold.
var ErrNotFound = errors.New("no such file in the site bucket")
