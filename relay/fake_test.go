package relay

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
)

// fakeConfig is a notifier config for relay's tests.
type fakeConfig struct {
	Text      string           `toml:"text"`
	To        []string         `toml:"to"`
	Token     notifiers.Secret `toml:"token"`
	TokenFile string           `toml:"token_file"`
	Fail      string           `toml:"fail"`
	Digest    string           `toml:"digest_text"`
}

func (c fakeConfig) Templates() notifiers.Templates {
	text := c.Text
	if text == "" {
		text = `{{ .Kind }} {{ .ID }} {{ .Status }}`
	}
	digest := c.Digest
	if digest == "" {
		digest = `digest {{ .Count }}:{{ range .Events }} {{ .ID }}={{ .Status }}{{ end }}`
	}
	return notifiers.Templates{Text: text, TextFormat: notifiers.Slack, To: c.To, Digest: notifiers.DigestTemplates{Text: digest}}
}

// fakeNotifier records messages; its answer to each send is programmable.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []notifiers.Message
	// answer decides each send from the message and the number of sends
	// so far of that message's ID (1 for the first); nil: success.
	answer func(m notifiers.Message, n int) error
	perID  map[string]int
	hang   bool // every send waits for its ctx to end (a destination that never answers)
	calls  int
	times  []time.Time // of every call
}

func (f *fakeNotifier) Notify(ctx context.Context, m notifiers.Message) error {
	f.mu.Lock()
	if f.hang {
		f.calls++
		f.times = append(f.times, time.Now())
		f.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	defer f.mu.Unlock()
	f.calls++
	f.times = append(f.times, time.Now())
	if f.perID == nil {
		f.perID = map[string]int{}
	}
	f.perID[m.ID]++
	if f.answer != nil {
		if err := f.answer(m, f.perID[m.ID]); err != nil {
			return err
		}
	}
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeNotifier) messages() []notifiers.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]notifiers.Message(nil), f.sent...)
}

func (f *fakeNotifier) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.times...)
}

// fakeBuilders returns builders whose "fake" notifiers are recorded in got.
func fakeBuilders(got map[string]*fakeNotifier) map[string]Builder {
	var mu sync.Mutex
	return map[string]Builder{
		"fake": func(decode func(any) error, _ notifiers.Deps) (notifiers.Notifier, notifiers.Templates, error) {
			var c fakeConfig
			if err := decode(&c); err != nil {
				return nil, notifiers.Templates{}, err
			}
			if c.Fail != "" {
				return nil, notifiers.Templates{}, errors.Join(notifiers.FieldErrorf("fail", "%s", c.Fail), notifiers.FieldErrorf("text", "also bad"))
			}
			n := &fakeNotifier{}
			mu.Lock()
			if got != nil {
				got[c.Text+"|"+c.Token.Reveal()] = n
			}
			mu.Unlock()
			return n, c.Templates(), nil
		},
	}
}

// loadSample decodes a sample webhook body with query.
func loadSample(t *testing.T, name, query string) *replicate.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := replicate.Decode(body, q, time.Unix(0, 0))
	if err != nil {
		t.Fatalf("Decode(%s): %v", name, err)
	}
	return ev
}
