// Package loadgen owns the open-loop side of make bench: a rate profile
// (phases ramped linearly in requests per second), the deterministic
// arrival schedule it implies, a Runner that fires every arrival at its
// scheduled time whether or not earlier requests have finished, and a
// Recorder that keeps per-endpoint counts, latency histograms and a
// per-second time series of what was offered and what came back.
//
// Open loop matters for a spike test: a closed-loop client (N workers,
// each waiting for its last reply) slows down exactly when the system
// does, so it never offers the load it claims and hides the queueing it
// should expose. Here arrivals are fixed in advance; when the client
// itself falls behind, the lag is measured rather than absorbed, and
// latency is counted from the intended start so a stall shows up in
// the tail instead of vanishing (coordinated omission).
//
// The package knows nothing about HTTP: the caller's Do function makes
// one request and classifies it; the Runner stamps the timings.
package loadgen
