// Package ground is primetime's shared vocabulary: the words every other
// package speaks and none of them owns. A target (its key, workload, load
// spec and bounds), a window (when, how much, for whom), a load sample and
// series, an optional value (Opt), and the snapshot of the configuration in
// force.
//
// It owns no behaviour beyond small accessors, and it imports nothing of
// primetime's and no YAML, cron or decision library: the formats that
// produce these values live in policies/config, the decisions taken on them
// in policies, the fetching of loads in sources, and the daemon in scaler.
// Every one of those may import ground; ground imports only the standard
// library. TestImportRules (in this package) fails when that breaks.
package ground
