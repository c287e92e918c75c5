// Package webcheck holds the checks of the public web page in web/ that need
// no browser: the catalogues (every key used and present in both languages,
// no text outside them), the Content-Security-Policy's demands on the markup
// (no inline script or style), the first load's weight, and the fetch
// module's retry rules, run with the pinned Node 22 (js/api.test.mjs). The
// journeys in a real browser are another package's.
package webcheck
