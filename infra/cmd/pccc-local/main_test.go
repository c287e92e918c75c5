package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is written by run and read by the test at the same time.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run starts the system from the real template, prints a usable URL and
// test identities, serves, and stops cleanly when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	env := map[string]string{"STACK": "embedded", "PORT": "1"} // -addr wins over PORT
	args := []string{"pccc-local", "-addr", "127.0.0.1:0", "-template", filepath.Join("..", "..", "..", "template.yaml")}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, stdout, stderr) }()

	urlRE := regexp.MustCompile(`running at (http://127\.0\.0\.1:\d+)`)
	var url string
	deadline := time.Now().Add(20 * time.Second)
	for url == "" {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\nstderr: %s", err, stderr.String())
		default:
		}
		// The banner is written a line at a time: read it once it is whole.
		out := stdout.String()
		if m := urlRE.FindStringSubmatch(out); m != nil && strings.Contains(out, "Ctrl-C stops.") {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no URL printed; stdout: %s\nstderr: %s", stdout.String(), stderr.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	banner := stdout.String()
	for _, want := range []string{"stack: embedded", "DynamoDB  http://127.0.0.1:", "POST /v1/verifications", "Korean", "foreigner", "curl -s -X POST " + url + "/v1/verifications", "API reference  " + url + "/docs/api"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown stack flag", []string{"-stack", "moto"}, nil, `unknown local stack "moto"`},
		{"unknown stack env", nil, map[string]string{"STACK": "moto"}, `unknown local stack "moto"`},
		{"stray argument", []string{"serve"}, nil, "unexpected arguments: serve"},
		{"unknown flag", []string{"-port", "1"}, nil, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"pccc-local"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTestIdentities(t *testing.T) {
	k, f := testIdentities()
	if k.Name == "" || f.Name == "" {
		t.Fatalf("built-in residents lack a Korean (%q) or a foreigner (%q)", k.Name, f.Name)
	}
	if g := strings.ReplaceAll(k.RRN, "-", "")[6]; g < '1' || g > '4' {
		t.Errorf("Korean %s has gender digit %c", k.Name, g)
	}
	if g := strings.ReplaceAll(f.RRN, "-", "")[6]; g < '5' || g > '8' {
		t.Errorf("foreigner %s has gender digit %c", f.Name, g)
	}
}
