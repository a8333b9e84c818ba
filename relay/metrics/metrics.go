// Package metrics is hooknote's Prometheus instruments (DESIGN §5): what
// relay counts as it receives, renders, sends and records, and the gauges
// read from the store at scrape time. It imports store only; a nil *Set
// records nothing.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooknote/hooknote/store"
)

// Set is hooknote's Prometheus metrics. Build it with New on the registry
// the admin listener serves; a nil *Set records nothing.
type Set struct {
	webhooks      *prometheus.CounterVec
	notifications *prometheus.CounterVec
	fallbacks     *prometheus.CounterVec
	ack           prometheus.Histogram
	send          *prometheus.HistogramVec
	renders       *prometheus.HistogramVec
	endToEnd      *prometheus.HistogramVec
	reloads       *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
	digestEvents  prometheus.Counter
	digestsSent   *prometheus.CounterVec
	reg           prometheus.Registerer
}

// New registers hooknote's metrics on reg.
func New(reg prometheus.Registerer) *Set {
	m := &Set{
		reg: reg,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooknote_webhooks_received_total",
			Help: "Webhooks received, by result: accepted, duplicate, unmatched, stale, bad_signature, bad_request, too_large, method_not_allowed, unavailable.",
		}, []string{"result"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooknote_notifications_total",
			Help: "Delivery attempts by notifier, result (delivered, retry, dead, interrupted) and reason of a failure (rate_limited, client_error, server_error, redirect, timeout, network, template, rejected, interrupted, other; none when delivered).",
		}, []string{"notifier", "result", "reason"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooknote_template_fallbacks_total",
			Help: "Messages sent with the built-in fallback because a template failed at send time.",
		}, []string{"notifier"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hooknote_ack_duration_seconds",
			Help:    "Time from receiving a webhook to answering it (including the durable commit).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		send: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooknote_delivery_duration_seconds",
			Help:    "Time one send to a notifier took, whatever its outcome.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"notifier"}),
		renders: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooknote_render_duration_seconds",
			Help:    "Time decoding the stored webhook and rendering one message took (it counts within the notifier's timeout).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}, []string{"notifier"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooknote_end_to_end_seconds",
			Help:    "Time from the event's completed_at (or its receipt when absent) to its delivery.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 18),
		}, []string{"notifier"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooknote_config_reloads_total",
			Help: "Config reloads by result: success, failure.",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hooknote_config_last_reload_successful",
			Help: "Whether the last config reload succeeded (1) or was refused (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hooknote_config_last_reload_success_timestamp_seconds",
			Help: "When the config was last loaded successfully.",
		}),
		digestEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hooknote_digest_events_total",
			Help: "Events that joined a digest (a rule with digest), one per (event, status, rule, notifier).",
		}),
		digestsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooknote_digests_sent_total",
			Help: "Digests delivered, by why they were sent: quiet (no event joined for digest), max_wait (digest_max_wait reached), max (digest_max events).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.webhooks, m.notifications, m.fallbacks, m.ack, m.send, m.renders, m.endToEnd, m.reloads, m.reloadOK, m.reloadTime,
		m.digestEvents, m.digestsSent)
	for _, r := range []string{"quiet", "max_wait", "max"} {
		m.digestsSent.WithLabelValues(r)
	}
	for _, r := range []string{"accepted", "duplicate", "unmatched", "stale", "bad_signature", "bad_request", "too_large", "method_not_allowed", "unavailable"} {
		m.webhooks.WithLabelValues(r)
	}
	m.reloadOK.Set(1)
	m.reloadTime.SetToCurrentTime()
	return m
}

// statsTimeout bounds the store's answer to a scrape.
const statsTimeout = 5 * time.Second

// WatchStore registers the gauges read from st at scrape time: queue
// depth, dead letters, open digests.
func (m *Set) WatchStore(st store.Store) {
	if m != nil {
		m.reg.MustRegister(newStoreCollector(st))
	}
}

// storeCollector reads queue depth and dead letters from the store at
// scrape time.
type storeCollector struct {
	st                store.Store
	depth, dead, open *prometheus.Desc
}

func newStoreCollector(st store.Store) storeCollector {
	return storeCollector{
		st:    st,
		depth: prometheus.NewDesc("hooknote_queue_depth", "Jobs waiting for delivery (including those being sent).", nil, nil),
		dead:  prometheus.NewDesc("hooknote_dead_letters", "Dead letters kept (hooknote dead list).", nil, nil),
		open:  prometheus.NewDesc("hooknote_digests_open", "Digests gathering events, not yet sent.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.dead
	ch <- c.open
}

// Collect implements prometheus.Collector. A store that does not answer
// within statsTimeout leaves the gauges out of this scrape.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	s, err := c.st.Stats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(s.Dead))
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.OpenDigests))
}

// Reloaded records a config reload's outcome.
func (m *Set) Reloaded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadOK.Set(1)
		m.reloadTime.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
	m.reloadOK.Set(0)
}

// Webhook records a webhook answered with result after took.
func (m *Set) Webhook(result string, took time.Duration) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(result).Inc()
	m.ack.Observe(took.Seconds())
}

// Attempt records one delivery attempt: its result and failure reason, and how long the send took.
func (m *Set) Attempt(notifier, result, reason string, took time.Duration) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(notifier, result, reason).Inc()
	if took > 0 {
		m.send.WithLabelValues(notifier).Observe(took.Seconds())
	}
}

// Render records how long decoding and rendering one message took.
func (m *Set) Render(notifier string, took time.Duration) {
	if m == nil {
		return
	}
	m.renders.WithLabelValues(notifier).Observe(took.Seconds())
}

// Delivered records the time from the event (since) to its delivery.
func (m *Set) Delivered(notifier string, since time.Time, now time.Time) {
	if m == nil || since.IsZero() {
		return
	}
	m.endToEnd.WithLabelValues(notifier).Observe(now.Sub(since).Seconds())
}

// Fallback records a message sent with the built-in fallback.
func (m *Set) Fallback(notifier string) {
	if m == nil {
		return
	}
	m.fallbacks.WithLabelValues(notifier).Inc()
}

// DigestJoined records n events joining digests.
func (m *Set) DigestJoined(n int) {
	if m != nil {
		m.digestEvents.Add(float64(n))
	}
}

// DigestsSentBy records n digests sent, by why they were sent.
func (m *Set) DigestsSentBy(reason string, n int) {
	if m != nil && n > 0 {
		m.digestsSent.WithLabelValues(reason).Add(float64(n))
	}
}
