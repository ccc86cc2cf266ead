package testbed

import (
	"strings"
	"testing"
	"time"
)

func TestLeftoversSeesAProcessAndItsChildren(t *testing.T) {
	// A shell that starts a child in its group, as kube-apiserver or
	// Prometheus could.
	p := Start(t, "sh", "-c", "sleep 60 & sleep 60; wait")
	Eventually(t, 5*time.Second, 100*time.Millisecond, func() (bool, string) {
		left := Leftovers()
		sleeps := 0
		for _, l := range left {
			if strings.HasPrefix(l, "sleep ") && strings.Contains(l, "started as sh") {
				sleeps++
			}
		}
		return sleeps == 2, "leftovers: " + strings.Join(left, "; ")
	})
	p.Kill()
	if left := Leftovers(); len(left) != 0 {
		t.Fatalf("after Kill: %v", left)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		pid, pgrp  int
		comm, st   string
	}{
		{"plain", "4242 (etcd) S 1 4242 4242 0 -1", 4242, 4242, "etcd", "S"},
		{"parentheses and spaces in the name", "77 (a (b) c) R 5 70 70", 77, 70, "a (b) c", "R"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, comm, st, pgrp, ok := parseStat(tc.line)
			if !ok || pid != tc.pid || comm != tc.comm || st != tc.st || pgrp != tc.pgrp {
				t.Fatalf("parseStat(%q) = %d %q %q %d %v", tc.line, pid, comm, st, pgrp, ok)
			}
		})
	}
	if _, _, _, _, ok := parseStat("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}
