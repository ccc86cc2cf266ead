package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/primetime-dev/primetime/ground"
	"k8s.io/apimachinery/pkg/api/resource"
)

const carbonSyntax = "write grams of CO2e per replica-hour (120), or grams per vCPU-hour and the vCPUs of one replica (400:0.5 or 400:500m)"

// ParseCarbonIntensity reads serve's --carbon-intensity: the grams of
// CO2e of one replica-hour, written either as that ("120") or as grams per
// vCPU-hour and the vCPUs of one replica, a number or a Kubernetes CPU
// quantity ("400:0.5" or "400:500m", both 200 g a replica-hour). Empty is
// off (absent).
func ParseCarbonIntensity(v string) (ground.Opt[float64], error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return ground.None[float64](), nil
	}
	grams, vcpuText, perVCPU := strings.Cut(v, ":")
	g, err := parseGrams(strings.TrimSpace(grams))
	if err != nil {
		return ground.None[float64](), err
	}
	if perVCPU {
		vcpu, err := parseVCPU(strings.TrimSpace(vcpuText))
		if err != nil {
			return ground.None[float64](), err
		}
		g *= vcpu
	}
	return ground.Some(g), nil
}

// parseGrams reads grams of CO2e.
func parseGrams(s string) (float64, error) {
	g, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a number of grams; %s", s, carbonSyntax)
	case math.IsNaN(g) || math.IsInf(g, 0):
		return 0, fmt.Errorf("grams of CO2e must be a finite number, got %s; %s", s, carbonSyntax)
	case g < 0:
		return 0, fmt.Errorf("grams of CO2e must not be negative, got %s", s)
	}
	return g, nil
}

// parseVCPU reads the vCPUs of one replica: "0.5", "2" or "500m".
func parseVCPU(s string) (float64, error) {
	var vcpu float64
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("the vCPUs of one replica must be a finite number, got %s; %s", s, carbonSyntax)
		}
		vcpu = f
	} else if q, err := resource.ParseQuantity(s); err == nil {
		vcpu = q.AsApproximateFloat64()
	} else {
		return 0, fmt.Errorf("%q is not a number of vCPUs; %s", s, carbonSyntax)
	}
	if vcpu <= 0 {
		return 0, fmt.Errorf("the vCPUs of one replica must be more than 0, got %s", s)
	}
	return vcpu, nil
}
