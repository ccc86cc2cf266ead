// Package calendar serves /calendar on the metrics address: a read-only
// page for the people who schedule windows. It shows, per target, the
// coming windows (floor, lead, cooldown), what is happening now
// (pre-scaling with ready / floor replicas, on air, cooldown), the past
// windows, and a box where a windows file can be pasted to see what lint
// and plan say of it. The page is rendered on the server, with no script
// and no external asset (clusters may be offline); a paste is computed and
// forgotten, nothing is stored.
//
// It reads the configuration, the board, the window reports kept
// (scaler.ReportBook) and the multipliers learned (the engine's Learned),
// and imports ground, policies, policies/config and scaler; nothing of the
// daemon imports it but cmd/primetime.
package calendar
