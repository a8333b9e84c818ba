package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procIO reads one counter of /proc/PID/io.
func procIO(d *daemon, key string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", d.cmd.Process.Pid))
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
