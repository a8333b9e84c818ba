package slack

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/hooknote/hooknote/notifiers"
)

// DefaultText is the text template used when Config.Text is empty.
const DefaultText = `{{ template "slack.text" . }}`

// Config is the Slack-specific part of a notifiers.NAME table of type
// "slack". Exactly one of WebhookURL and Token is set; the config loader has
// already expanded ${VAR} references and read the *_file twins into their
// secrets when Validate runs.
type Config struct {
	// WebhookURL is a Slack incoming webhook URL. It is a secret: anyone
	// holding it can post to the channel.
	WebhookURL notifiers.Secret `toml:"webhook_url"`
	// WebhookURLFile names a file holding WebhookURL; read by the loader.
	WebhookURLFile string `toml:"webhook_url_file"`
	// Token is a bot token (xoxb-…) for chat.postMessage.
	Token notifiers.Secret `toml:"token"`
	// TokenFile names a file holding Token; read by the loader.
	TokenFile string `toml:"token_file"`
	// Channel is the template of the channel a bot-token message goes to
	// (a name such as #ml or an ID). Required with Token, refused with
	// WebhookURL, whose channel is fixed when the webhook is created.
	Channel string `toml:"channel"`
	// APIURL overrides the Slack Web API base (https://slack.com/api/), for
	// tests and local stand-ins. New adds a missing trailing '/'.
	APIURL string `toml:"api_url"`
	// Text is the message template, rendered with Slack escaping.
	// Empty means DefaultText.
	Text string `toml:"text"`
	// Username optionally overrides the poster's name.
	Username string `toml:"username"`
	// IconEmoji optionally overrides the poster's icon, as :name:.
	IconEmoji string `toml:"icon_emoji"`
	// Format is "text" (the default) or "blocks": Block Kit blocks
	// rendered from Blocks, with Text beside them.
	Format string `toml:"format"`
	// Blocks is the Block Kit template (format = "blocks"): a JSON array.
	// Empty means DefaultBlocks.
	Blocks string `toml:"blocks"`
	// Mode is "post" (the default: a message per notification) or "live":
	// one message per event, updated in place (needs Token and Channel).
	Mode string `toml:"mode"`
	// Thread is the template of the reply posted in a live message's
	// thread on a final status (mode = "live"). Empty means DefaultThread.
	Thread string `toml:"thread"`
	// DigestText is the text template of a digest. Empty means
	// DefaultDigest.
	DigestText string `toml:"digest_text"`
}

// Defaults of the templates of Block Kit, live and digest messages.
const (
	DefaultBlocks = `{{ template "slack.blocks" . }}`
	DefaultThread = `{{ template "slack.thread" . }}`
	DefaultDigest = `{{ template "slack.digest" . }}`
)

// Formats and modes.
const (
	FormatText   = "text"
	FormatBlocks = "blocks"
	ModePost     = "post"
	ModeLive     = "live"
)

var emojiPattern = regexp.MustCompile(`^:[a-z0-9_+'-]+:$`)

// Validate reports every problem with c, joined; each is a
// *notifiers.FieldError whose text is "key: problem". It never prints a
// secret value, and never changes c: New normalises what it uses.
func (c Config) Validate() error {
	var errs []error
	add := func(key, problem string) { errs = append(errs, notifiers.FieldErrorf(key, "%s", problem)) }
	hasURL, hasToken := !c.WebhookURL.IsZero(), !c.Token.IsZero()
	switch {
	case hasURL && hasToken:
		add("token", "only one of webhook_url or token may be set")
	case !hasURL && !hasToken:
		add("webhook_url", "one of webhook_url or token is required")
	}
	if hasURL && !validURL(c.WebhookURL.Reveal()) {
		add("webhook_url", "must be an https URL")
	}
	if hasToken {
		tok := c.Token.Reveal()
		if strings.ContainsFunc(tok, isSpaceOrControl) || !strings.HasPrefix(tok, "xox") {
			add("token", "must be a Slack token (xoxb-…) without spaces or newlines")
		}
	}
	switch {
	case hasToken && strings.TrimSpace(c.Channel) == "":
		add("channel", "required with token")
	case hasURL && !hasToken && c.Channel != "":
		add("channel", "only with token (an incoming webhook posts to its own channel)")
	}
	if c.APIURL != "" {
		switch {
		case !hasToken:
			add("api_url", "only with token")
		case !validURL(c.APIURL):
			add("api_url", "must be an https URL")
		}
	}
	if c.IconEmoji != "" && !emojiPattern.MatchString(c.IconEmoji) {
		add("icon_emoji", "must look like :name:")
	}
	switch c.Format {
	case "", FormatText:
		if c.Blocks != "" {
			add("blocks", `only with format = "blocks"`)
		}
	case FormatBlocks:
	default:
		add("format", fmt.Sprintf("%q is not one of text, blocks", c.Format))
	}
	switch c.Mode {
	case "", ModePost:
		if c.Thread != "" {
			add("thread", `only with mode = "live"`)
		}
	case ModeLive:
		if !hasToken {
			add("mode", `"live" needs a bot token and channel (an incoming webhook cannot update its messages)`)
		}
	default:
		add("mode", fmt.Sprintf("%q is not one of post, live", c.Mode))
	}
	return errors.Join(errs...)
}

// Templates returns the templates relay renders for every message: Text
// (Slack-escaped), with a bot token Channel, in blocks format Blocks, in
// live mode Thread, and the digest's text.
func (c Config) Templates() notifiers.Templates {
	t := notifiers.Templates{
		Text: or(c.Text, DefaultText), TextFormat: notifiers.Slack, Channel: c.Channel,
		Digest: notifiers.DigestTemplates{Text: or(c.DigestText, DefaultDigest)},
	}
	if c.Format == FormatBlocks {
		t.Blocks = or(c.Blocks, DefaultBlocks)
	}
	if c.Mode == ModeLive {
		t.Live, t.Thread = true, or(c.Thread, DefaultThread)
	}
	return t
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// validURL reports whether s is an absolute https URL, or an http URL whose
// host is a loopback address (a local stand-in in tests).
func validURL(s string) bool {
	if strings.ContainsFunc(s, isSpaceOrControl) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return notifiers.IsLoopback(u.Hostname())
	}
	return false
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}
