// Package render writes what the offline commands compute for people and
// machines: plans (primetime plan) as a table or JSON, and window reports
// (primetime report) as JSON. simulate's reports render themselves
// (simulate.Report.WriteTable).
//
// It may import ground and policies (with their config); nothing imports
// it but cmd.
package render
