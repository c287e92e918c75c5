package localstack

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// sharedLog serialises the emulators' output into Options.Log: each child
// writes from its own goroutine, and a line must not be torn by another.
type sharedLog struct {
	mu sync.Mutex
	w  io.Writer
}

// line writes one whole line prefixed with "[name] ".
func (l *sharedLog) line(name, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, "["+name+"] "+text+"\n")
}

// tailSize is how much of a child's latest output a start error quotes.
const tailSize = 4 << 10

// childOutput is a child's stdout and stderr: whole lines go to the shared
// log with the child's name, and the latest tailSize bytes are kept for
// error messages (the log is often discarded).
type childOutput struct {
	name string
	log  *sharedLog

	mu      sync.Mutex
	partial []byte // an unfinished last line
	last    []byte // at most tailSize bytes
}

func (c *childOutput) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = append(c.last, p...)
	if over := len(c.last) - tailSize; over > 0 {
		c.last = append(c.last[:0], c.last[over:]...)
	}
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.log.line(c.name, string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	// Copy the remainder down so the buffer does not grow without bound.
	c.partial = append([]byte(nil), c.partial...)
	return len(p), nil
}

// tail returns the child's latest output.
func (c *childOutput) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.last)
}

// bindFailed reports whether the child said its port was taken: Java's
// BindException and Node's EADDRINUSE.
func (c *childOutput) bindFailed() bool {
	t := c.tail()
	return strings.Contains(t, "Address already in use") || strings.Contains(t, "EADDRINUSE")
}
