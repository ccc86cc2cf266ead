// Command primetime is the one binary of primetime: serve (the daemon),
// lint, plan, simulate, report and version.
//
// It holds flags and wiring only: it builds the clients, sources, engine,
// leader and servers of the other packages and connects them; every
// behaviour lives, with its tests, in those packages. It may import every
// package of the project; none imports it.
package main
