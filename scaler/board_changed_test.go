package scaler

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestBoardChanged(t *testing.T) {
	at := time.Date(2026, 11, 25, 20, 37, 0, 0, time.UTC)
	five := int32(5)
	entries := []Published{{Namespace: "storefront", Name: "web", Replicas: &five, At: at}}

	t.Run("closed by the next Replace, not before", func(t *testing.T) {
		b := &Board{}
		ch := b.Changed()
		if closed(ch) {
			t.Fatal("closed before any Replace")
		}
		if again := b.Changed(); again != ch {
			t.Error("two calls before a Replace returned different channels")
		}
		b.Replace(entries, at)
		if !closed(ch) {
			t.Fatal("not closed by Replace")
		}
		if got := b.Lookup("storefront", mustSelector(t, "target=web")); len(got) != 1 || *got[0].Replicas != 5 {
			t.Errorf("after the close the new generation is on the board: %+v", got)
		}
	})

	t.Run("a channel taken after a Replace waits for the following one", func(t *testing.T) {
		b := &Board{}
		b.Replace(entries, at)
		ch := b.Changed()
		if closed(ch) {
			t.Fatal("a channel taken after Replace is already closed")
		}
		b.Replace(nil, at.Add(5*time.Second))
		if !closed(ch) {
			t.Fatal("not closed by the second Replace")
		}
	})

	t.Run("every watcher is woken", func(t *testing.T) {
		b := &Board{}
		watchers := make([]<-chan struct{}, 3)
		for i := range watchers {
			watchers[i] = b.Changed()
		}
		done := make(chan int, len(watchers))
		for i, ch := range watchers {
			go func() { <-ch; done <- i }()
		}
		b.Replace(entries, at)
		for range watchers {
			<-done // each goroutine returns only once its channel is closed
		}
	})
}
