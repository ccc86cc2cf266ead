package e2e

import (
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestCalendarInBrowser opens /calendar in Debian's headless chromium
// against a daemon on the local control plane during a TV spot: the
// window is listed with its floor, the state goes from "pre-scaling" to
// "on air", and pasting a bad entry shows its line and message.
func TestCalendarInBrowser(t *testing.T) {
	scenario(t)
	browser := testbed.LookPath(t, "chromium")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 20 * time.Second, Cluster: sharedCluster(t), Namespace: "calendar"}) // 50 requests/s: 5 replicas at 10 each
	s.Deploy(t, ctx, 5, 2, 50)
	start := time.Now().Add(150 * time.Second).Truncate(time.Second)
	s.Configure(t, ctx, stage.WebTarget("1m", "metric"), fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: 1m
    cooldown: 1m
    expect: 4x
    targets: [%s/web]
`, start.UTC().Format(time.RFC3339), s.NS))
	pt := s.StartPrimetime(t, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	page := "http://" + pt.MetricsAddr + "/calendar"
	key := s.NS + "/web"

	// Listed with its floor: 4 × 50 requests/s at 10 per replica.
	testbed.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		dom, err := dumpDOM(ctx, browser, page)
		if err != nil {
			return false, err.Error()
		}
		row := calendarRow(dom, key, "tf1-spot")
		// window, kind, pre-scaling from, lead 1m, on air, floor 20, cooldown 1m, released
		// (21 when Prometheus measures a little over 50/s)
		return strings.HasPrefix(row, "tf1-spot pre-scale ") && (strings.Contains(row, " 20 1m ") || strings.Contains(row, " 21 1m ")), "row: " + row
	})
	t.Logf("calendar: %q at %s, %s before the spot", calendarRow(mustDump(ctx, t, browser, page), key, "tf1-spot"), time.Now().Format(time.TimeOnly), time.Until(start).Round(time.Second))

	states := map[string]time.Time{}
	var last, preFloor string
	readyFloor := regexp.MustCompile(`ready (\d+|\?) / floor (\d+)`)
	testbed.Eventually(t, time.Until(start)+60*time.Second, time.Second, func() (bool, string) {
		dom, err := dumpDOM(ctx, browser, page)
		if err != nil {
			return false, err.Error()
		}
		st, detail := calendarState(dom, key)
		if _, seen := states[st]; !seen {
			states[st] = time.Now()
			t.Logf("calendar at %s (spot %+ds): %s — %s", time.Now().Format(time.TimeOnly), int(time.Since(start).Seconds()), st, detail)
		}
		if m := readyFloor.FindStringSubmatch(detail); st == "pre-scaling" && m != nil {
			preFloor = m[2] // the leader's floor, once its first cycle in the lead has run
		}
		last = st + " — " + detail
		return st == "on air", "state " + last
	})
	pre, onAir := states["pre-scaling"], states["on air"]
	if pre.IsZero() || !pre.Before(onAir) {
		t.Fatalf("states seen %v: want pre-scaling, then on air", states)
	}
	// 4 × the load seen before the floor (50 requests/s, as Prometheus
	// measures it) at 10 per replica.
	if preFloor != "20" && preFloor != "21" {
		t.Errorf("floor shown while pre-scaling %q, want 20 (21 when Prometheus measured a little over 50/s)", preFloor)
	}
	if onAir.Before(start) {
		t.Errorf("on air at %s, before the spot's start %s", onAir.Format(time.TimeOnly), start.Format(time.TimeOnly))
	}

	// A bad entry pasted into the box.
	bad := "windows:\n  - name: m6-spot\n    start: \"2026-12-12 21:30\"\n    duration: 15 minutes\n    expect: 3x\n    targets: [" + s.NS + "/web]\n"
	dom, err := pasteInBrowser(ctx, t, browser, page, bad)
	if err != nil {
		t.Fatal(err)
	}
	want := `pasted:4: window "m6-spot": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d`
	m := regexp.MustCompile(`<li class="problem error" data-line="(\d+)">([^<]*)</li>`).FindStringSubmatch(dom)
	if m == nil || m[1] != "4" || html.UnescapeString(m[2]) != want {
		t.Fatalf("after the paste, want line 4 and %q; page:\n%s", want, dom)
	}
	t.Logf("paste: line %s: %s", m[1], html.UnescapeString(m[2]))
}

func mustDump(ctx context.Context, t *testing.T, browser, url string) string {
	t.Helper()
	dom, err := dumpDOM(ctx, browser, url)
	if err != nil {
		t.Fatal(err)
	}
	return dom
}

// chromiumFlags are those of a headless run on a machine without a GPU or
// network, as root in a container.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run"}

// dumpDOM loads url in chromium and returns the DOM it rendered.
func dumpDOM(ctx context.Context, browser, url string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "primetime-chromium-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	args := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+dir), extra...)
	cmd := exec.CommandContext(ctx, browser, append(args, "--dump-dom", url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("chromium: %v: %s", err, lastLines(stderr.String(), 5))
	}
	return string(out), nil
}

// pasteInBrowser fills the page's box with text and presses Check, as a
// user does, and returns the page that comes back. A local page opens the
// calendar in a frame-less form and submits it (chromium's --dump-dom has
// no keyboard).
func pasteInBrowser(ctx context.Context, t *testing.T, browser, page, text string) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "paste.html")
	doc := `<!DOCTYPE html><html><body><form method="post" action="` + html.EscapeString(page) + `">` +
		`<textarea name="windows">` + html.EscapeString(text) + `</textarea><button id="check-button" type="submit">Check</button></form>` +
		`<script>document.getElementById("check-button").click()</script></body></html>`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		return "", err
	}
	return dumpDOM(ctx, browser, "file://"+file, "--virtual-time-budget=10000", "--allow-file-access-from-files")
}

var (
	domTag   = regexp.MustCompile(`<[^>]*>`)
	domSpace = regexp.MustCompile(`\s+`)
	domRow   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
)

func domText(s string) string {
	return strings.TrimSpace(domSpace.ReplaceAllString(html.UnescapeString(domTag.ReplaceAllString(s, " ")), " "))
}

// calendarSection returns the HTML of a target's section.
func calendarSection(dom, key string) string {
	i := strings.Index(dom, `id="`+key+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(dom[i:], "</section>")
	if j < 0 {
		return dom[i:]
	}
	return dom[i : i+j]
}

// calendarRow returns the text of the coming-windows row of a window.
func calendarRow(dom, key, window string) string {
	sec := calendarSection(dom, key)
	for _, m := range domRow.FindAllStringSubmatch(sec, -1) {
		if strings.Contains(m[1], `<td class="window">`+window+`</td>`) {
			return domText(m[1])
		}
	}
	return ""
}

// calendarState returns a target's state and its detail.
func calendarState(dom, key string) (string, string) {
	sec := calendarSection(dom, key)
	m := regexp.MustCompile(`data-state="([^"]*)"`).FindStringSubmatch(sec)
	if m == nil {
		return "", ""
	}
	var detail string
	if i := strings.Index(sec, `<span class="detail">`); i >= 0 {
		detail = domText(sec[i : i+strings.Index(sec[i:], "</span>")])
	}
	return m[1], detail
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
