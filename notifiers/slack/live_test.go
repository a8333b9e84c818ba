package slack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/notifiers/slack"
	"github.com/hooknote/hooknote/notifiers/slack/standin"
)

// newLive returns a bot-token notifier posting to #ml of a fresh stand-in.
func newLive(t *testing.T) (*slack.Notifier, *standin.Server) {
	t.Helper()
	s := standin.New("xoxb-test")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	n, err := slack.New(slack.Config{Token: notifiers.NewSecret("xoxb-test"), Channel: "#ml", APIURL: srv.URL + "/api/"}, deps(t))
	if err != nil {
		t.Fatal(err)
	}
	return n, s
}

func deps(t *testing.T) notifiers.Deps {
	c := notifiers.NewHTTPClient(4)
	t.Cleanup(c.CloseIdleConnections)
	return notifiers.Deps{HTTP: c}
}

const (
	imageBlocks = `[{"type":"section","text":{"type":"mrkdwn","text":"*done*"}},{"type":"image","image_url":"https://x.example/out.png","alt_text":"output"}]`
	webpBlocks  = `[{"type":"section","text":{"type":"mrkdwn","text":"*done*"}},{"type":"image","image_url":"https://x.example/out.webp","alt_text":"output"}]`
)

// TestLiveMessage: a post returns the channel ID and ts, updates change
// that same message (by ID, never the name), a reply goes in its thread.
func TestLiveMessage(t *testing.T) {
	n, s := newLive(t)
	ctx := t.Context()
	ref, err := n.Post(ctx, notifiers.Message{Channel: "#ml", Text: "starting"})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"processing", "succeeded"} {
		if err := n.Update(ctx, ref, notifiers.Message{Channel: "#ml", Text: text, Blocks: imageBlocks}); err != nil {
			t.Fatalf("Update(%s) = %v", text, err)
		}
	}
	if err := n.Reply(ctx, ref, notifiers.Message{Channel: "#ml", Text: "outputs: out.png"}); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("messages = %+v, want the message and one reply", msgs)
	}
	root, reply := msgs[0], msgs[1]
	if diff := cmp.Diff([]string{"starting", "processing", "succeeded"}, root.Versions); diff != "" {
		t.Errorf("the message's versions (-want +got):\n%s", diff)
	}
	if root.Blocks != imageBlocks {
		t.Errorf("the message's blocks = %s, want the last update's", root.Blocks)
	}
	if reply.ThreadTS != root.TS || reply.Channel != root.Channel {
		t.Errorf("reply in %s thread %q, want %s thread %q", reply.Channel, reply.ThreadTS, root.Channel, root.TS)
	}
	for _, c := range s.Calls() {
		if c.Method == "chat.update" && (c.Channel != root.Channel || c.TS != root.TS) {
			t.Errorf("update of %s %s, want %s %s", c.Channel, c.TS, root.Channel, root.TS)
		}
	}
}

// TestUpdateGone: an update of a deleted message is ErrGone (relay posts
// a new one); other refusals are not.
func TestUpdateGone(t *testing.T) {
	n, s := newLive(t)
	ctx := t.Context()
	ref, err := n.Post(ctx, notifiers.Message{Channel: "#ml", Text: "starting"})
	if err != nil {
		t.Fatal(err)
	}
	s.Delete(s.Messages()[0].TS)
	err = n.Update(ctx, ref, notifiers.Message{Text: "processing"})
	if !errors.Is(err, notifiers.ErrGone) || !strings.Contains(err.Error(), "message_not_found") {
		t.Errorf("Update(deleted) = %v, want ErrGone saying message_not_found", err)
	}
	for _, code := range []string{"cant_update_message", "edit_window_closed"} {
		s.FailNext("chat.update", code)
		if err := n.Update(ctx, ref, notifiers.Message{Text: "x"}); !errors.Is(err, notifiers.ErrGone) {
			t.Errorf("Update answered %s = %v, want ErrGone", code, err)
		}
	}
	s.FailNext("chat.update", "invalid_auth")
	if err := n.Update(ctx, ref, notifiers.Message{Text: "x"}); errors.Is(err, notifiers.ErrGone) || !notifiers.IsPermanent(err) {
		t.Errorf("Update answered invalid_auth = %v, want permanent, not ErrGone", err)
	}
	if err := n.Update(ctx, []byte("nonsense"), notifiers.Message{Text: "x"}); !notifiers.IsPermanent(err) {
		t.Errorf("Update(bad ref) = %v, want permanent", err)
	}
}

// TestRefusedBlocksSentAsText: blocks Slack refuses (an image it cannot
// show) are dropped and the text sent alone, in the same call, for posts,
// updates, replies and incoming webhooks.
func TestRefusedBlocksSentAsText(t *testing.T) {
	n, s := newLive(t)
	ctx := t.Context()
	m := notifiers.Message{Channel: "#ml", Text: "done", Blocks: webpBlocks}
	if err := n.Notify(ctx, m); err != nil {
		t.Fatalf("Notify(webp blocks) = %v, want the text sent alone", err)
	}
	ref, err := n.Post(ctx, notifiers.Message{Channel: "#ml", Text: "starting", Blocks: imageBlocks})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Update(ctx, ref, m); err != nil {
		t.Fatalf("Update(webp blocks) = %v", err)
	}
	msgs := s.Messages()
	if msgs[0].Blocks != "" || msgs[0].Text != "done" {
		t.Errorf("post = %+v, want the text without blocks", msgs[0])
	}
	if msgs[1].Blocks != "" || msgs[1].Text != "done" {
		t.Errorf("updated message = %+v, want the text, its blocks cleared", msgs[1])
	}
	var refused int
	for _, c := range s.Calls() {
		if c.Error == "invalid_blocks" {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("invalid_blocks answers = %d, want 2 (one per call with bad blocks)", refused)
	}

	hook := standin.New("")
	srv := httptest.NewServer(hook)
	defer srv.Close()
	wn, err := slack.New(slack.Config{WebhookURL: notifiers.NewSecret(srv.URL + "/services/T/B/x")}, deps(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := wn.Notify(ctx, m); err != nil {
		t.Fatalf("webhook Notify(webp blocks) = %v", err)
	}
	if got := hook.Messages(); len(got) != 1 || got[0].Blocks != "" || got[0].Text != "done" {
		t.Errorf("webhook messages = %+v, want the text alone", got)
	}
	if err := wn.Notify(ctx, notifiers.Message{Text: "img", Blocks: imageBlocks}); err != nil {
		t.Fatal(err)
	}
	if got := hook.Messages(); len(got) != 2 || got[1].Blocks != imageBlocks {
		t.Errorf("webhook message with good blocks = %+v, want its blocks", got[1])
	}
}

// TestCheck: blocks within Block Kit's limits pass, the rest are refused
// before anything is sent.
func TestCheck(t *testing.T) {
	n, _ := newLive(t)
	section := func(n int) string {
		return fmt.Sprintf(`{"type":"section","text":{"type":"mrkdwn","text":%q}}`, strings.Repeat("é", n))
	}
	many := "[" + strings.Repeat(section(1)+",", 50) + section(1) + "]"
	tests := []struct {
		blocks string
		ok     bool
	}{
		{"", true},
		{imageBlocks, true},
		{"[" + section(3000) + "]", true},
		{"[" + section(3001) + "]", false},
		{`[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("x", 151) + `"}}]`, false},
		{many, false},
		{`{"type":"section"}`, false},
		{`[{"text":"no type"}]`, false},
		{`[]`, false},
		{`[{"type":"image","image_url":"javascript:x","alt_text":"x"}]`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		err := n.Check(notifiers.Message{Text: "t", Blocks: tt.blocks})
		if (err == nil) != tt.ok {
			t.Errorf("Check(%.60s…) = %v, want ok %v", tt.blocks, err, tt.ok)
		}
	}
}

// TestLiveNeedsToken: live calls on an incoming-webhook notifier are
// permanent errors (check refuses the config before that).
func TestLiveNeedsToken(t *testing.T) {
	n, err := slack.New(slack.Config{WebhookURL: notifiers.NewSecret("https://hooks.slack.com/services/T/B/x")}, deps(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Post(context.Background(), notifiers.Message{Text: "x"}); !notifiers.IsPermanent(err) {
		t.Errorf("Post() on a webhook notifier = %v, want permanent", err)
	}
}
