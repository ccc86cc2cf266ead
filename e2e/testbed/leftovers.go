package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// started records every process Start ran: its process group is its pid.
var started struct {
	sync.Mutex
	groups map[int]string // pgid -> program
}

func recordStart(name string, pid int) {
	started.Lock()
	defer started.Unlock()
	if started.groups == nil {
		started.groups = map[int]string{}
	}
	started.groups[pid] = name
}

// Leftovers lists the processes still running in the process group of
// any program Start ran (the program itself or a child it left), for a
// suite to check that it leaves nothing behind.
func Leftovers() []string {
	started.Lock()
	groups := make(map[int]string, len(started.groups))
	for g, n := range started.groups {
		groups[g] = n
	}
	started.Unlock()
	if len(groups) == 0 {
		return nil
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		pid, comm, state, pgrp, ok := parseStat(string(b))
		if !ok || state == "Z" {
			continue
		}
		if name, ours := groups[pgrp]; ours {
			out = append(out, fmt.Sprintf("%s (pid %d, started as %s, pid %d)", comm, pid, name, pgrp))
		}
	}
	return out
}

// parseStat reads pid, comm, state and process group from /proc/PID/stat;
// comm is in parentheses and may hold spaces or parentheses itself.
func parseStat(s string) (pid int, comm, state string, pgrp int, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return 0, "", "", 0, false
	}
	fields := strings.Fields(s[end+1:]) // state ppid pgrp ...
	if len(fields) < 3 {
		return 0, "", "", 0, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(s[:open]))
	pgrp, err2 := strconv.Atoi(fields[2])
	return pid, s[open+1 : end], fields[0], pgrp, err1 == nil && err2 == nil
}
