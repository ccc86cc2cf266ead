//go:build tools

// Package keda pins the KEDA commands the e2e tests build: the operator
// and its metrics server (the external metrics API adapter).
package keda

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
