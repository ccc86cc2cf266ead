// Package sources fetches the load of targets: one package per source
// (prometheus, datadog, scrape, kubemetrics) behind the small Source
// interface, a registry that maps a target's load kind to its source, and a
// cache that keeps, for every query, the last good value, its timestamp and
// the last error.
//
// A reading is never made up: no data, stale data, an error and a rate
// limit are distinct outcomes, and none of them is ever turned into 0.
//
// Sources import only ground and their own clients: never policies,
// policies/config or scaler (TestImportRules in ground checks it).
package sources
