package notifiers

import (
	"net"
	"strings"
)

// IsLoopback reports whether host names this machine: "localhost" in any
// case, or a loopback IP address, IPv6 with or without brackets ("::1",
// "[::1]"). It does no DNS lookup. Notifiers use it to allow plain text
// (http, SMTP without TLS) to a local stand-in only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
