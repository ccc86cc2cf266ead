package config

// Findings of a hostile review of "leadTime: learned" and "behavior"
// per mode: each test failed on the code as it was reviewed and asserts
// the behaviour now in place.

import (
	"strings"
	"testing"
)

// TestHostileLeadTimeConfig:
//   - "leadTime: learnt" (or "auto") is told to be a duration; the message
//     should say that "learned" is the other word it takes.
//   - "leadTime: learned" with maxLeadTime: 0s (and minLeadTime: 0s) is
//     accepted: a lead that can only be 0 learns nothing, and every floor
//     starts at its window's start and is late; it should be rejected
//     (maxLeadTime must be positive), naming maxLeadTime.
//   - behavior.tolerance in mode hpa-floor is rejected saying
//     "behavior.scaleDown paces primetime's floors": in hpa-floor mode it
//     only holds a floor following its learned shape inside its window;
//     flat floors and their step-down are not paced by it.
func TestHostileLeadTimeConfig(t *testing.T) {
	const head = "targets:\n  - name: t\n    namespace: shop\n    scaleTargetRef: {kind: Deployment, name: web}\n    load: {prometheus: 'sum(rate(x[1m]))'}\n    capacityPerReplica: 50\n    maxReplicas: 10\n"
	t.Run("a misspelt learned", func(t *testing.T) {
		res := ParseFile("t.yaml", []byte(head+"    leadTime: learnt\n"))
		if got := res.Problems.Error(); !strings.Contains(got, "learned") {
			t.Errorf("problem %q does not say leadTime may be learned", got)
		}
	})
	t.Run("a learned lead bounded to 0", func(t *testing.T) {
		res := ParseFile("t.yaml", []byte(head+"    leadTime: learned\n    minLeadTime: 0s\n    maxLeadTime: 0s\n"))
		if len(res.Problems) == 0 {
			t.Errorf("accepted: a learned lead of at most 0s (targets %d)", len(res.Targets))
		}
	})
	t.Run("what behavior paces in hpa-floor mode", func(t *testing.T) {
		res := ParseFile("t.yaml", []byte(head+"    mode: hpa-floor\n    behavior: {tolerance: 0.2}\n"))
		if got := res.Problems.Error(); strings.Contains(got, "paces primetime's floors") {
			t.Errorf("problem %q: in hpa-floor mode behavior.scaleDown only holds a floor following its learned shape", got)
		}
	})
}
