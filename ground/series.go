package ground

import (
	"math"
	"sort"
	"time"
)

// Sample is one load value at one instant.
type Sample struct {
	T time.Time
	V float64
}

// Series is a load history, sorted by time.
type Series []Sample

// At returns the sample nearest to t within tolerance.
func (s Series) At(t time.Time, tolerance time.Duration) (float64, bool) {
	i := sort.Search(len(s), func(i int) bool { return !s[i].T.Before(t) })
	best, bestDist := 0.0, tolerance+1
	for _, j := range []int{i - 1, i} {
		if j < 0 || j >= len(s) {
			continue
		}
		d := s[j].T.Sub(t)
		if d < 0 {
			d = -d
		}
		if d <= tolerance && d < bestDist && !math.IsNaN(s[j].V) && !math.IsInf(s[j].V, 0) {
			best, bestDist = s[j].V, d
		}
	}
	return best, bestDist <= tolerance
}
