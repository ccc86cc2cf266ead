// Package scaler runs primetime: the engine loop that turns targets,
// windows and load into decisions, the board those decisions are served
// from, and (in subpackages) the config watch, the actuators, the external
// metrics API and high availability.
//
// The scaler is where the flow ends: it may import ground, policies,
// policies/config and sources; sources and policies never import it.
package scaler
