// Package policies holds primetime's decision arithmetic as pure functions
// of their inputs and the current time, which is always passed in: window
// calendars, floors and caps with their step-down, target tracking, the
// seasonal forecast (and the history ranges it needs, which the scaler
// fetches), and the combination of all of them into a Decision that
// explains itself. Nothing here reads a clock, a network or a cluster.
//
// It may import ground and policies/config; it never imports sources,
// scaler or simulate (TestImportRules in ground checks it).
package policies
