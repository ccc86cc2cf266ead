package calendar

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/policies/config"
)

// A pasted targets file is checked with the daemon's template variables.
func TestCalendarPasteExpandsTemplateVariables(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	const paste = "targets:\n  - name: api\n    namespace: storefront\n    scaleTargetRef: {kind: Deployment, name: api}\n    load: {datadog: 'sum:x{kube_cluster_name:%%cluster%%}'}\n    capacityPerReplica: 10\n    maxReplicas: 50\n"
	problems := func(p *Page) []string {
		_, body := post(t, p, paste)
		var out []string
		for _, m := range regexp.MustCompile(`(?s)<li class="problem [a-z]+" data-line="\d+">(.*?)</li>`).FindAllStringSubmatch(section(t, body, "check"), -1) {
			out = append(out, text(m[1]))
		}
		return out
	}
	p := newPage(t, now, nil, 0)
	want := `pasted:5: target "api": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`
	if got := problems(p); strings.Join(got, "\n") != want {
		t.Errorf("without a cluster:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	p.Loader = config.Loader{Cluster: "eu"}
	if got := problems(p); len(got) != 0 {
		t.Errorf("with --cluster eu: %q", got)
	}
}
