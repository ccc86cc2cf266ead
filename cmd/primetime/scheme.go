//go:build !simulateonly

package main

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// scheme is the scheme Events are recorded with.
func scheme() *runtime.Scheme { return clientgoscheme.Scheme }
