package templates

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hooknote/hooknote/replicate"
)

// Slack's Block Kit limits that slack.blocks keeps to.
const (
	maxBlocks      = 50
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxAltText     = 2000
)

// fileSamples decodes the sample webhook bodies at the repository root
// (testdata/samples), as hooknote check renders templates against them.
func fileSamples(t testing.TB) []struct {
	name string
	ev   event
} {
	t.Helper()
	dir := filepath.Join("..", "testdata", "samples")
	samples, err := replicate.SamplesFromFS(os.DirFS(dir))
	if err != nil || len(samples) == 0 {
		t.Fatalf("read samples in %s: %d, %v", dir, len(samples), err)
	}
	var out []struct {
		name string
		ev   event
	}
	for _, s := range samples {
		q, err := url.ParseQuery(s.Query)
		if err != nil {
			t.Fatalf("sample %s: %v", s.Name, err)
		}
		ev, err := replicate.Decode(s.Body, q, at(100))
		if err != nil {
			t.Fatalf("decode sample %s: %v", s.Name, err)
		}
		out = append(out, struct {
			name string
			ev   event
		}{s.Name, *ev})
	}
	return out
}

// bigEvent holds the longest and most entity-heavy values a bounded event
// can: every text is cut by slack.blocks, every link kept short enough.
func bigEvent() event {
	amps := strings.Repeat("&<>", 22000) // 64 KiB
	var outs []any
	for i := range 40 {
		outs = append(outs, fmt.Sprintf("https://replicate.delivery/%d/%s.png?%s", i, strings.Repeat("a&b", 300), strings.Repeat("x=1&", 100)))
	}
	return event{
		ID: strings.Repeat("&", 1024), Kind: "prediction", Status: "failed" + amps[:58],
		Model: amps[:1024], Deployment: amps[:1024],
		Error: amps, Logs: strings.Repeat(amps[:3000]+"\n", 80),
		Output:    outs,
		CreatedAt: at(0), CompletedAt: at(100), Metrics: metrics{PredictTime: 1e12, TotalTime: 1e13},
		URLs:  urls{Web: "https://replicate.com/p/" + strings.Repeat("a&", 900)},
		Query: map[string]string{"customId": amps[:3000]},
	}
}

// TestBlocksValid renders slack.blocks for every sample event, every
// sample body, a hostile and a huge event, and checks what Slack checks.
func TestBlocksValid(t *testing.T) {
	cases := append(sampleEvents(), fileSamples(t)...)
	training := bigEvent()
	training.Kind, training.Status = "training", "succeeded"
	training.Output = map[string]any{"version": strings.Repeat("<&>", 1000), "weights": "https://x.test/w.tar?" + strings.Repeat("&", 1400)}
	cases = append(cases, []struct {
		name string
		ev   event
	}{{"hostile", hostileEvent()}, {"big", bigEvent()}, {"big training", training}}...)
	set := newSet(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, set, "slack.blocks", false, Blocks, tc.ev)
			checkBlocks(t, out, tc.ev)
		})
	}
}

// checkBlocks checks a rendered slack.blocks: a JSON array of at most 50
// objects with a type; header, section, field, context and alt texts
// within Slack's limits and never empty; one image block exactly when
// image finds one in ev's output, with its URL as is. It returns the
// blocks.
func checkBlocks(t testing.TB, out string, ev event) []map[string]any {
	t.Helper()
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(out), &blocks); err != nil {
		t.Fatalf("slack.blocks is not a JSON array of objects: %v\n%s", err, out)
	}
	if len(blocks) == 0 || len(blocks) > maxBlocks {
		t.Errorf("slack.blocks has %d blocks, want 1 to %d", len(blocks), maxBlocks)
	}
	textLen := func(where string, v any, limit int) {
		t.Helper()
		m, _ := v.(map[string]any)
		s, ok := m["text"].(string)
		if n := utf8.RuneCountInString(s); !ok || n == 0 || n > limit {
			t.Errorf("%s text has %d characters (string %v), want 1 to %d: %.200q", where, n, ok, limit, s)
		}
	}
	images := 0
	for i, b := range blocks {
		where := fmt.Sprintf("block %d", i)
		switch b["type"] {
		case "header":
			textLen(where, b["text"], maxHeaderText)
		case "section":
			fields, _ := b["fields"].([]any)
			if b["text"] != nil {
				textLen(where, b["text"], maxSectionText)
			} else if len(fields) == 0 || len(fields) > maxFields {
				t.Errorf("%s has no text and %d fields, want 1 to %d", where, len(fields), maxFields)
			}
			for j, f := range fields {
				textLen(fmt.Sprintf("%s field %d", where, j), f, maxFieldText)
			}
		case "context":
			elements, _ := b["elements"].([]any)
			if len(elements) == 0 || len(elements) > 10 {
				t.Errorf("%s has %d elements, want 1 to 10", where, len(elements))
			}
			for j, e := range elements {
				textLen(fmt.Sprintf("%s element %d", where, j), e, maxSectionText)
			}
		case "image":
			images++
			alt, _ := b["alt_text"].(string)
			if n := utf8.RuneCountInString(alt); n == 0 || n > maxAltText {
				t.Errorf("%s alt_text has %d characters, want 1 to %d", where, n, maxAltText)
			}
			if got, want := b["image_url"], image(ev.Output); got != want || want == "" {
				t.Errorf("%s image_url = %q, want %q", where, got, want)
			}
		default:
			t.Errorf("%s has type %v, want header, section, context or image", where, b["type"])
		}
	}
	if want := image(ev.Output) != ""; (images == 1) != want || images > 1 {
		t.Errorf("slack.blocks has %d image blocks, want one only for an image output (%v)", images, want)
	}
	return blocks
}

// TestBlocksImage checks which outputs get an image block: .png, .jpg,
// .jpeg and .gif in any case, judged on the path, not the query.
func TestBlocksImage(t *testing.T) {
	long := "https://x.test/" + strings.Repeat("a", maxImageURL) + ".png"
	tests := []struct {
		name   string
		output any
		want   string
	}{
		{name: "png", output: "https://x.test/out.png", want: "https://x.test/out.png"},
		{name: "query after png", output: "https://x.test/out.png?sig=a&b=c", want: "https://x.test/out.png?sig=a&b=c"},
		{name: "upper case", output: "https://x.test/OUT.PNG", want: "https://x.test/OUT.PNG"},
		{name: "jpg jpeg gif", output: []any{"https://x.test/a.Jpg", "https://x.test/b.jpeg"}, want: "https://x.test/a.Jpg"},
		{name: "gif", output: map[string]any{"anim": "https://x.test/a.gif#frag"}, want: "https://x.test/a.gif#frag"},
		{name: "webp", output: "https://x.test/out.webp"},
		{name: "png only in the query", output: "https://x.test/out.webp?name=x.png"},
		{name: "png only in the host", output: "https://x.png"},
		{name: "first image after others", output: []any{"https://x.test/a.webp", "https://x.test/m.mp4", "https://x.test/b.gif", "https://x.test/c.png"}, want: "https://x.test/b.gif"},
		{name: "data uri", output: "data:image/png;base64,iVBORw0KGgo="},
		{name: "not a url", output: "out.png"},
		{name: "other scheme", output: "ftp://x.test/out.png"},
		{name: "too long for slack", output: long},
		{name: "nothing", output: nil},
	}
	set := newSet(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := image(tc.output); got != tc.want {
				t.Errorf("image(%q) = %q, want %q", tc.output, got, tc.want)
			}
			ev := event{ID: "x", Kind: "prediction", Status: "succeeded", Output: tc.output}
			blocks := checkBlocks(t, render(t, set, "slack.blocks", false, Blocks, ev), ev)
			var got []any
			for _, b := range blocks {
				if b["type"] == "image" {
					got = append(got, b["image_url"])
				}
			}
			if want := []any{tc.want}; tc.want != "" && fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("slack.blocks image_urls = %q, want %q", got, want)
			}
		})
	}
}

// TestThread checks slack.thread: nothing for a status that is not final;
// for a failure the error and last 20 log lines, for a success the outputs
// or the new version.
func TestThread(t *testing.T) {
	set := newSet(t, nil)
	logs := logLines(30)
	tests := []struct {
		name    string
		ev      event
		want    []string
		notWant []string
	}{
		{name: "starting", ev: event{Status: "starting", Error: "x", Logs: logs}},
		{name: "processing", ev: event{Status: "processing", Logs: logs, Output: []any{"https://x.test/a.png"}}},
		{name: "failed", ev: event{Status: "failed", Error: "boom <!channel>", Logs: logs},
			want:    []string{"❌ *Failed*", "*Error*\n```boom &lt;!channel&gt;```", "*Last log lines*\n```step k\n", "step d```"},
			notWant: []string{"step j\n", "<!channel>"}},
		{name: "canceled without details", ev: event{Status: "canceled"}, want: []string{"🚫 *Canceled*"}, notWant: []string{"Error", "log"}},
		{name: "aborted", ev: event{Status: "aborted", Error: "deadline"}, want: []string{"⏹️ *Aborted*", "```deadline```"}},
		{name: "succeeded prediction", ev: event{Status: "succeeded", Kind: "prediction", StartedAt: at(1), CompletedAt: at(3), Output: []any{"https://x.test/a.png", "text"}},
			want: []string{"✅ *Succeeded* · 2s\n*Outputs*\n<https://x.test/a.png|a.png>"}, notWant: []string{"more"}},
		{name: "many outputs", ev: event{Status: "succeeded", Output: strings.Split(strings.Repeat("https://x.test/o.png ", 12), " ")},
			want: []string{"…and 2 more"}},
		{name: "succeeded training", ev: event{Status: "succeeded", Kind: "training", Output: map[string]any{"version": "acme/m:1", "weights": "https://x.test/w.tar"}},
			want: []string{"*New version* `acme/m:1` · <https://x.test/w.tar|weights>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, set, "slack.thread", false, Slack, tc.ev)
			if len(tc.want) == 0 && strings.TrimSpace(out) != "" {
				t.Errorf("slack.thread = %q, want nothing", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("slack.thread = %q, want it to contain %q", out, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("slack.thread = %q, want it not to contain %q", out, w)
				}
			}
		})
	}
}
