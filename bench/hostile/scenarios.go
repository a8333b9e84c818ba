package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config: one rule to three webhook notifiers; %%s is the state dir, the
// rest are filled in by each scenario.
const config = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[replicate]
secret = "${SECRET}"
[state]
dir = %%q
[delivery]
backoff = "1s"
[notifiers.a]
type = "webhook"
url = %q
%s
[notifiers.b]
type = "webhook"
url = %q
[notifiers.c]
type = "webhook"
url = %q
[[rules]]
name = "all"
notify = ["a", "b", "c"]
`

func startWithSink(bin, aExtra string) (*daemon, *sink, error) {
	s, err := newSink()
	if err != nil {
		return nil, nil, err
	}
	d, err := start(bin, fmt.Sprintf(config, s.url(), aExtra, s.url(), s.url()))
	return d, s, err
}

// slowConnections: 128 connections send well-formed Standard Webhooks
// headers (a wrong signature) and then one body byte a second; meanwhile
// 6 signed webhooks are sent over 60s.
func slowConnections(bin string) error {
	d, _, err := startWithSink(bin, "")
	if err != nil {
		return err
	}
	defer d.stop()
	host := strings.TrimPrefix(d.intake, "http://")
	path := host[strings.Index(host, "/"):]
	host = host[:strings.Index(host, "/")]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var dropped atomic.Int64
	for range 128 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", host)
				if err != nil {
					return
				}
				fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nWebhook-Id: msg_slow\r\nWebhook-Timestamp: %d\r\nWebhook-Signature: v1,%s\r\n\r\n",
					path, time.Now().Unix(), base64.StdEncoding.EncodeToString(make([]byte, 32)))
				for {
					if _, err := c.Write([]byte("{")); err != nil {
						break
					}
					select {
					case <-stop:
						c.Close()
						return
					case <-time.After(time.Second):
					}
				}
				dropped.Add(1)
				c.Close()
			}
		})
	}
	time.Sleep(2 * time.Second)
	accepted := 0
	for i := range 6 {
		status, answer, err := d.post(body(fmt.Sprintf("slow%d", i), "customId=x", "null"), "customId=x")
		fmt.Printf("signed webhook %d while 128 slow connections are open: %d %s %v\n", i+1, status, answer, err)
		if status == 200 {
			accepted++
		}
		time.Sleep(10 * time.Second)
	}
	close(stop)
	wg.Wait()
	fmt.Printf("signed webhooks accepted: %d of 6; slow connections cut off by the server: %d\n", accepted, dropped.Load())
	return nil
}

// badSignatureFlood: 128 concurrent 25 MiB bodies with a wrong signature.
func badSignatureFlood(bin string) error {
	d, _, err := startWithSink(bin, "")
	if err != nil {
		return err
	}
	defer d.stop()
	big := strings.Repeat(" ", 25<<20-2) + "{}"
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range 128 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, d.intake, strings.NewReader(big))
			req.Header.Set("webhook-id", "msg_flood")
			req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
			req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
			resp, err := http.DefaultClient.Do(req)
			code := 0
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Printf("128 × 25 MiB bodies with a wrong signature in %v: answers %v\n", time.Since(start).Round(time.Millisecond), codes)
	fmt.Printf("peak RSS (VmHWM): %d MiB\n", d.status("VmHWM")>>10)
	status, answer, err := d.post(body("after-flood", "customId=x", "null"), "customId=x")
	fmt.Printf("signed webhook after the flood: %d %s %v\n", status, answer, err)
	return nil
}

// hugeOutput: a signed 20 MiB output of 1.85M keys, sent twice to three
// notifiers, then a small webhook: its delay, CPU and RSS.
func hugeOutput(bin string) error {
	d, s, err := startWithSink(bin, "")
	if err != nil {
		return err
	}
	defer d.stop()
	var out strings.Builder
	out.WriteString("{")
	for i := range 1_850_000 {
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `"k%07d":1`, i)
	}
	out.WriteString("}")
	cpu0 := d.cpu()
	start := time.Now()
	for i := range 2 {
		status, answer, err := d.post(body(fmt.Sprintf("huge%d", i), "customId=x", out.String()), "customId=x")
		fmt.Printf("huge webhook %d (%d MiB): %d %s %v\n", i+1, len(out.String())>>20, status, answer, err)
	}
	sent := time.Now()
	status, _, err := d.post(body("small", "customId=x", `["https://replicate.delivery/x.png"]`), "customId=x")
	if err != nil || status != 200 {
		return fmt.Errorf("small webhook: %d %v", status, err)
	}
	for time.Since(sent) < 5*time.Minute {
		if at, ok := s.at("small"); ok {
			fmt.Printf("small webhook delivered %v after it was acknowledged\n", at.Sub(sent).Round(time.Millisecond))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for s.count() < 9 && time.Since(start) < 5*time.Minute {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("all 9 deliveries in %v; daemon CPU %v; peak RSS %d MiB\n", time.Since(start).Round(time.Millisecond), (d.cpu() - cpu0).Round(10*time.Millisecond), d.status("VmHWM")>>10)
	return nil
}

// pacedBacklog: notifier a paced at 1/s with 3,000 jobs queued; the
// daemon's CPU and disk writes over 20s.
func pacedBacklog(bin string) error {
	d, s, err := startWithSink(bin, `rate = "1/s"`)
	if err != nil {
		return err
	}
	defer d.stop()
	const n = 3000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.post(body(fmt.Sprintf("paced%d", i), "customId=x", "null"), "customId=x")
		})
	}
	wg.Wait()
	for s.count() < 2*n { // b and c are not paced
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	cpu0, w0, sent0 := d.cpu(), writes(d), s.count()
	time.Sleep(20 * time.Second)
	cpu, w, sent := d.cpu()-cpu0, writes(d)-w0, s.count()-sent0
	fmt.Printf("paced notifier with a backlog of %d, over 20s: %d sends, CPU %v (%.1f%% of a core), %d write syscalls (%.1f/s)\n",
		n, sent, cpu.Round(10*time.Millisecond), 100*cpu.Seconds()/20, w, float64(w)/20)
	return nil
}

// writes is the daemon's write syscalls so far (/proc/PID/io syscw).
func writes(d *daemon) int64 {
	return procIO(d, "syscw")
}
