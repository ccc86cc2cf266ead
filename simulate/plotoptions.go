package simulate

import "time"

// PlotOptions choose what an SVG shows.
type PlotOptions struct {
	// From and To bound the time shown; zero: the whole trace.
	From, To time.Time
	// Location is the time zone of the time axis (UTC when nil).
	Location *time.Location
	// LoadUnit labels the load axis ("load units" when empty).
	LoadUnit string
	// MaxPoints bounds the points of each line (1500 when 0): longer
	// stretches are drawn from buckets, each the bucket's highest load and
	// replicas and lowest ready capacity, so that no spike or shortfall
	// disappears.
	MaxPoints int
}
