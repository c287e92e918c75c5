package localrun

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/pccc/pccc/infra/site"
)

// siteDirs are the site's folders beside the template: web/ (the page) and
// build/site/ (what make builds into the site: the API reference under
// docs/), as make deploy uploads them; Options.SiteDirs replaces them.
func (r *Runner) siteDirs() []string {
	if len(r.opts.SiteDirs) > 0 {
		return r.opts.SiteDirs
	}
	root := filepath.Dir(r.opts.TemplatePath)
	return []string{filepath.Join(root, "web"), filepath.Join(root, "build", "site")}
}

// uploadSite puts the site's folders into the bucket the distribution's
// default behaviour serves, with the deploy's own code (infra/site, as
// pccc-site does in AWS). A folder that is not there is left out, with a
// warning (a template kept elsewhere, in tests; the API reference before
// make api-reference has built it).
func (r *Runner) uploadSite(ctx context.Context) error {
	if r.edge == nil {
		return nil
	}
	def := r.edge.behaviors[len(r.edge.behaviors)-1]
	if def.bucket == "" {
		return nil
	}
	var sets [][]site.File
	for _, dir := range r.siteDirs() {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			r.log.Warn("a site folder is missing; its files are not served (build/site: make api-reference)", "dir", dir)
			continue
		}
		files, err := site.Files(os.DirFS(dir))
		if err != nil {
			return err
		}
		sets = append(sets, files)
	}
	if len(sets) == 0 {
		return nil
	}
	files, err := site.Merge(sets...)
	if err != nil {
		return err
	}
	res, err := site.Upload(ctx, r.s3, def.bucket, files)
	if err != nil {
		return fmt.Errorf("upload the site: %w", err)
	}
	r.log.Info("site uploaded", "bucket", def.bucket, "result", res.String())
	return nil
}

// serveBucket is a bucket origin behind origin access control: the
// behaviour's viewer-request function, the default root object for "/",
// then the object with the headers S3 answers it with. A missing key is
// S3's 404 (the bucket policy lets the distribution list the bucket, so
// it is not a 403), passed on as CloudFront passes it.
func (r *Runner) serveBucket(w http.ResponseWriter, req *http.Request, b *edgeBehavior) {
	uri := req.URL.Path
	if b.viewerRequest != nil {
		uri = b.viewerRequest(uri)
	}
	key := strings.TrimPrefix(uri, "/")
	if uri == "/" && r.edge.rootObject != "" {
		key = r.edge.rootObject
	}
	obj, err := site.ReadObject(req.Context(), r.s3, b.bucket, key)
	switch {
	case errors.Is(err, site.ErrNotFound) || key == "":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`))
		return
	case err != nil:
		r.log.Error("site bucket", "key", key, "err", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("The site's origin could not be reached."))
		return
	}
	h := w.Header()
	h.Set("Content-Type", obj.ContentType)
	if obj.CacheControl == "" {
		// gofakes3 (the embedded stack) does not keep Cache-Control on a
		// put; S3 and fauxqs do. It is what the upload set.
		obj.CacheControl = site.CacheControl(key)
	}
	h.Set("Cache-Control", obj.CacheControl)
	if obj.ETag != "" {
		h.Set("ETag", obj.ETag)
	}
	if !obj.LastModified.IsZero() {
		h.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	}
	if inm := req.Header.Get("If-None-Match"); inm != "" && obj.ETag != "" && etagMatch(inm, obj.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(obj.Body)
}

// etagMatch compares If-None-Match with an ETag weakly, as caches do
// (a gzipped answer's ETag comes back as W/"...").
func etagMatch(header, etag string) bool {
	bare := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		if t = strings.TrimSpace(t); t == "*" || strings.TrimPrefix(t, "W/") == bare {
			return true
		}
	}
	return false
}

// knownFunctions are the CloudFront functions the runner can stand in
// for: each one's code, as template.yaml has it (compared with runs of
// white space made one), and its Go twin. A template with any other
// function code stops the runner, so the two cannot drift apart.
// sameCode compares two functions' code with runs of white space made one.
func sameCode(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// originHeaderFunction is template.yaml's OriginHeaderFunction: the origin
// header from the edge's key value store. Its twin is in serveEdge, which
// sets the origin ring's active value.
const originHeaderFunction = `import cf from 'cloudfront';
const kvs = cf.kvs();
async function handler(event) {
  var request = event.request;
  request.headers['x-pccc-origin'] = { value: await kvs.get('origin') };
  return request;
}`

var knownFunctions = []struct {
	code string
	twin func(uri string) string
}{
	{
		code: `function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}`,
		twin: pageRoute,
	},
	{
		code: `function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last !== '' && last.indexOf('.') === -1) {
    request.uri = request.uri + '.html';
  }
  return request;
}`,
		twin: docsRoute,
	},
}

func knownFunction(code string) (func(string) string, bool) {
	for _, k := range knownFunctions {
		if sameCode(k.code, code) {
			return k.twin, true
		}
	}
	return nil, false
}

// pageRoute is SiteRoutesFunction's twin: a path whose last part has no
// file extension is one of the page's own routes and gets index.html.
func pageRoute(uri string) string {
	last := uri[strings.LastIndex(uri, "/")+1:]
	if !strings.Contains(last, ".") {
		return "/index.html"
	}
	return uri
}

// docsRoute is DocsRoutesFunction's twin: a docs page named without its
// extension (/docs/api) is its .html file.
func docsRoute(uri string) string {
	last := uri[strings.LastIndex(uri, "/")+1:]
	if last != "" && !strings.Contains(last, ".") {
		return uri + ".html"
	}
	return uri
}
