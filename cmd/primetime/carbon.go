//go:build !simulateonly

package main

import (
	"strings"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// carbonIntensity is serve's --carbon-intensity: the grams of CO2e of
// one replica-hour, written either as that ("120") or as grams per
// vCPU-hour and the vCPUs of one replica, a number or a Kubernetes CPU
// quantity ("400:0.5" or "400:500m", both 200 g a replica-hour). Empty,
// the default, is off.
type carbonIntensity struct {
	text string
	// perReplicaHour is the grams of one replica-hour, absent when off.
	perReplicaHour ground.Opt[float64]
}

// Set parses v (config.ParseCarbonIntensity); pflag names the flag in the
// error: invalid argument "-1" for "--carbon-intensity" flag: ...
func (c *carbonIntensity) Set(v string) error {
	g, err := config.ParseCarbonIntensity(v)
	if err != nil {
		return err
	}
	*c = carbonIntensity{perReplicaHour: g}
	if g.OK {
		c.text = strings.TrimSpace(v)
	}
	return nil
}

func (c *carbonIntensity) String() string { return c.text }

func (c *carbonIntensity) Type() string { return "intensity" }
