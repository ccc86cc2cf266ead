package scaler

import (
	"fmt"
	"testing"
	"time"
)

// TestLatchesOfTenWindows: a target under ten windows whose floors start
// one after another keeps each occurrence's baseline apart, updates it in
// place (a peak measured later), and keeps room for eleven, not the
// sixteen of append's doubling (10,000 targets hold 100,000 of them).
func TestLatchesOfTenWindows(t *testing.T) {
	var ls latches
	start := time.Date(2026, 11, 25, 20, 45, 0, 0, time.UTC).Unix()
	key := func(i int) occurrenceKey {
		return occurrenceKey{file: "marketing/windows/w.yaml", window: fmt.Sprintf("w-%d", i), start: start + int64(i)}
	}
	for i := range 10 {
		if ls.get(key(i)) != nil {
			t.Fatalf("w-%d latched before it was added", i)
		}
		ls = ls.add(latch{key(i), Baseline{Load: float64(100 + i)}})
	}
	ls.get(key(3)).Peak = 450
	for i := range 10 {
		b := ls.get(key(i))
		if b == nil || b.Load != float64(100+i) {
			t.Fatalf("w-%d: baseline %+v, want load %d", i, b, 100+i)
		}
		if want := map[bool]float64{true: 450, false: 0}[i == 3]; b.Peak != want {
			t.Errorf("w-%d: peak %v, want %v", i, b.Peak, want)
		}
	}
	if other := (occurrenceKey{file: "other/windows/w.yaml", window: "w-3", start: start + 3}); ls.get(other) != nil {
		t.Error("a window of the same name in another ConfigMap shares w-3's baseline")
	}
	if cap(ls) > 11 {
		t.Errorf("room for %d latches after 10 were added one by one, want at most 11", cap(ls))
	}
}
