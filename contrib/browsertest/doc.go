// Package browsertest drives Debian's Chromium, headless, through the
// DevTools protocol (chromedp) against zmqkit's WebSocket transport and
// its browser client, zmqkit.js. It is a module of its own so that the
// core module does not depend on chromedp. Its test fails without
// Chromium when built with -tags interop (scripts/ensure-chromium.sh
// installs it); without the tag it skips.
package browsertest
