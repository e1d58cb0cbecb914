package browsertest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zmqkit/zmqkit/sockets"
	"github.com/zmqkit/zmqkit/web"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chromium is Debian's; ZMQKIT_CHROMIUM names another binary.
func chromium() string {
	if p := os.Getenv("ZMQKIT_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser starts a fresh headless Chromium and returns a tab's context.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	bin := chromium()
	if _, err := os.Stat(bin); err != nil {
		if needBrowser {
			t.Fatalf("Chromium is missing (%v): scripts/ensure-chromium.sh installs it", err)
		}
		t.Skipf("Chromium is missing (%v); -tags interop makes this a failure", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(tctx), "starting Chromium")
	return tctx
}

// eval runs JavaScript in the page, awaiting a promise it returns.
func eval[T any](ctx context.Context, js string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// waitJS polls a JavaScript condition in the page.
func waitJS(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		state, _ := eval[string](ctx, `document.getElementById("sub-status").textContent + " / " +
			document.getElementById("req-status").textContent + " / " + JSON.stringify(window.demo && window.demo.errors)`)
		require.NoError(t, err, "waiting for %s; page: %s", cond, state)
	}
}

// TestBrowserDemo: a zmqkit PUB and REP listen on ws://; Chromium loads
// the demo page (zmqkit.js) from another origin, which the sockets admit
// with WithWSOrigins. The page receives what the PUB publishes, in order,
// gets the REP's reply to its request, and a DEALER made in the page talks
// to a ROUTER. A screenshot of the page is saved in the test's temp dir
// (and copied to $ZMQKIT_SCREENSHOT if set).
func TestBrowserDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page := httptest.NewServer(web.Assets())
	defer page.Close()
	origin := sockets.WithWSOrigins(strings.TrimPrefix(page.URL, "http://"))

	pub, err := sockets.NewPub(origin)
	require.NoError(t, err)
	defer pub.Close()
	subEP, err := pub.Listen("ws://127.0.0.1:0/events")
	require.NoError(t, err)
	rep, err := sockets.NewRep(origin)
	require.NoError(t, err)
	defer rep.Close()
	repEP, err := rep.Listen("ws://127.0.0.1:0/rpc")
	require.NoError(t, err)
	router, err := sockets.NewRouter(origin)
	require.NoError(t, err)
	defer router.Close()
	routerEP, err := router.Listen("ws://127.0.0.1:0/dealer")
	require.NoError(t, err)
	serve := func(s *sockets.Socket, prefix string) {
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return
			}
			last := len(m) - 1
			m[last] = append([]byte(prefix), m[last]...)
			_ = s.Send(ctx, m...)
		}
	}
	go serve(rep, "re:")
	go serve(router, "router got ")

	tab := browser(t, ctx)
	q := url.Values{"sub": {subEP}, "req": {repEP}, "topic": {"n"}}
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(page.URL+"/?"+q.Encode())))
	waitJS(t, tab, `document.getElementById("sub-status").textContent === "ready"`)
	waitJS(t, tab, `document.getElementById("req-status").textContent === "ready"`)

	// The subscription reaches the PUB after READY: publish probes until
	// one arrives, then the numbered messages.
	probes := 0
	for {
		require.NoError(t, pub.Send(ctx, []byte("n"), []byte("probe")))
		probes++
		n, err := eval[int](tab, `window.demo.count`)
		require.NoError(t, err)
		if n > 0 {
			break
		}
		require.Less(t, probes, 2000, "no probe reached the page")
	}
	require.NoError(t, pub.Send(ctx, []byte("other"), []byte("not subscribed")))
	const count = 500
	for i := 0; i < count; i++ {
		require.NoError(t, pub.Send(ctx, []byte("n"), []byte(fmt.Sprint(i))))
	}
	waitJS(t, tab, fmt.Sprintf(`window.demo.received.filter(l => !l.endsWith("probe")).length >= %d`, count))
	got, err := eval[[]string](tab, `window.demo.received.filter(l => !l.endsWith("probe"))`)
	require.NoError(t, err)
	want := make([]string, count)
	for i := range want {
		want[i] = fmt.Sprintf("n | %d", i)
	}
	assert.Equal(t, want, got, "the page receives what was published, in order, and only its topic")

	reply, err := eval[string](tab, `window.demo.request("ping from chromium")`)
	require.NoError(t, err)
	assert.Equal(t, "re:ping from chromium", reply)

	dealerReply, err := eval[string](tab, fmt.Sprintf(`import("./zmqkit.js").then(z => new Promise((ok, fail) => {
		const d = new z.Dealer(%q);
		d.onmessage = (frames) => { ok(z.text(frames[0])); d.close(); };
		d.send("dealer hello");
		setTimeout(() => fail(new Error("no reply")), 15000);
	}))`, routerEP))
	require.NoError(t, err)
	assert.Equal(t, "router got dealer hello", dealerReply)

	// A few seconds of traffic for the plot, then the screenshot.
	tick := time.NewTicker(2 * time.Millisecond)
	for i := 0; i < 2500; i++ {
		<-tick.C
		require.NoError(t, pub.Send(ctx, []byte("n"), []byte(fmt.Sprintf("live %d at %s", i, time.Now().Format("15:04:05.000")))))
	}
	tick.Stop()
	waitJS(t, tab, `window.demo.rates.filter(r => r > 0).length >= 4`)
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	shot := filepath.Join(t.TempDir(), "demo.png")
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	if dst := os.Getenv("ZMQKIT_SCREENSHOT"); dst != "" {
		require.NoError(t, os.WriteFile(dst, png, 0o644))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	errs, err := eval[[]string](tab, `window.demo.errors`)
	require.NoError(t, err)
	assert.Empty(t, errs)
}
