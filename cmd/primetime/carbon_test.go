//go:build !simulateonly

package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/primetime-dev/primetime/ground"
)

// serve --carbon-intensity: grams per replica-hour, or per vCPU-hour with
// the vCPUs of one replica; a bad value is refused with the flag named.
func TestCarbonIntensityFlag(t *testing.T) {
	parse := func(args ...string) (ground.Opt[float64], error) {
		f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.SetOutput(&strings.Builder{})
		var o serveOptions
		f.Var(&o.carbon, "carbon-intensity", "")
		err := f.Parse(args)
		return o.carbon.perReplicaHour, err
	}
	for _, tc := range []struct {
		arg  string
		want ground.Opt[float64]
	}{
		{"120", ground.Some(120.0)},
		{"0", ground.Some(0.0)},
		{"400:0.5", ground.Some(200.0)},
		{"400:500m", ground.Some(200.0)},
		{"400:2", ground.Some(800.0)},
		{" 35.5 : 250m ", ground.Some(35.5 / 4)},
		{"", ground.None[float64]()},
	} {
		got, err := parse("--carbon-intensity=" + tc.arg)
		if err != nil || got != tc.want {
			t.Errorf("--carbon-intensity=%q: %v, %v; want %v", tc.arg, got, err, tc.want)
		}
	}
	if got, err := parse(); err != nil || got.OK {
		t.Errorf("without --carbon-intensity: %v, %v; want off", got, err)
	}
	const syntax = "write grams of CO2e per replica-hour (120), or grams per vCPU-hour and the vCPUs of one replica (400:0.5 or 400:500m)"
	for _, tc := range []struct{ arg, msg string }{
		{"-1", `grams of CO2e must not be negative, got -1`},
		{"NaN", `grams of CO2e must be a finite number, got NaN; ` + syntax},
		{"+Inf", `grams of CO2e must be a finite number, got +Inf; ` + syntax},
		{"lots", `"lots" is not a number of grams; ` + syntax},
		{"120g", `"120g" is not a number of grams; ` + syntax},
		{"400:", `"" is not a number of vCPUs; ` + syntax},
		{":0.5", `"" is not a number of grams; ` + syntax},
		{"400:half", `"half" is not a number of vCPUs; ` + syntax},
		{"400:0", `the vCPUs of one replica must be more than 0, got 0`},
		{"400:-500m", `the vCPUs of one replica must be more than 0, got -500m`},
		{"400:NaN", `the vCPUs of one replica must be a finite number, got NaN; ` + syntax},
		{"-400:0.5", `grams of CO2e must not be negative, got -400`},
	} {
		_, err := parse("--carbon-intensity", tc.arg)
		want := `invalid argument "` + tc.arg + `" for "--carbon-intensity" flag: ` + tc.msg
		if err == nil || err.Error() != want {
			t.Errorf("--carbon-intensity %q: error %v\nwant %s", tc.arg, err, want)
		}
	}
	// As the command line says it.
	code, _, errOut := runCLI(t, "serve", "--carbon-intensity=-5")
	if want := "primetime: invalid argument \"-5\" for \"--carbon-intensity\" flag: grams of CO2e must not be negative, got -5\n"; code != 2 || errOut != want {
		t.Errorf("serve --carbon-intensity=-5: exit %d, %q; want exit 2, %q", code, errOut, want)
	}
}
