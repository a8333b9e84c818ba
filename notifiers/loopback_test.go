package notifiers

import "testing"

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{host: "localhost", want: true},
		{host: "LOCALHOST", want: true},
		{host: "LocalHost", want: true},
		{host: "127.0.0.1", want: true},
		{host: "127.1.2.3", want: true},
		{host: "::1", want: true},
		{host: "[::1]", want: true},
		{host: "::ffff:127.0.0.1", want: true},
		{host: "", want: false},
		{host: "[::1", want: false},
		{host: "::1]", want: false},
		{host: "[127.0.0.1]:25", want: false},
		{host: "10.0.0.1", want: false},
		{host: "::2", want: false},
		{host: "smtp.example.com", want: false},
		{host: "localhost.example.com", want: false},
		{host: "localhost:25", want: false},
	}
	for _, tt := range tests {
		if got := IsLoopback(tt.host); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
