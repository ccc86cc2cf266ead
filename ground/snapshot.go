package ground

// Snapshot is a consistent view of the configuration entries in force, as
// the config watch assembles it from the cluster's ConfigMaps.
type Snapshot struct {
	// Version changes whenever an entry changes.
	Version uint64
	Targets []Target
	Windows []Window
	// Counts of entries, for primetime_config_entries.
	ValidTargets, InvalidTargets, ValidWindows, InvalidWindows int
}
