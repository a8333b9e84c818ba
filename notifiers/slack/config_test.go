package slack

import (
	"errors"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/notifiers"
)

func TestValidate(t *testing.T) {
	secret := notifiers.NewSecret
	const hook = "https://hooks.slack.com/services/T0/B0/abc"
	tests := []struct {
		name string
		cfg  Config
		want string // errors, one a line; "" for none
	}{
		{name: "webhook", cfg: Config{WebhookURL: secret(hook)}},
		{name: "webhook on loopback over http", cfg: Config{WebhookURL: secret("http://127.0.0.1:9999/hook")}},
		{name: "webhook on localhost over http", cfg: Config{WebhookURL: secret("http://localhost:9999/hook")}},
		{name: "webhook on ::1 over http", cfg: Config{WebhookURL: secret("http://[::1]:9999/hook")}},
		{name: "token", cfg: Config{Token: secret("xoxb-1-2-abc"), Channel: "#ml", APIURL: "http://127.0.0.1:9999/api/", Username: "hooknote", IconEmoji: ":robot_face:"}},
		{name: "nothing", cfg: Config{}, want: "webhook_url: one of webhook_url or token is required"},
		{name: "both", cfg: Config{WebhookURL: secret(hook), Token: secret("xoxb-1"), Channel: "#ml"}, want: "token: only one of webhook_url or token may be set"},
		{name: "webhook over http", cfg: Config{WebhookURL: secret("http://hooks.slack.com/services/x")}, want: "webhook_url: must be an https URL"},
		{name: "webhook not a URL", cfg: Config{WebhookURL: secret("hooks.slack.com/services/x")}, want: "webhook_url: must be an https URL"},
		{name: "webhook with newline", cfg: Config{WebhookURL: secret(hook + "\n")}, want: "webhook_url: must be an https URL"},
		{name: "webhook with user info", cfg: Config{WebhookURL: secret("https://u:p@hooks.slack.com/x")}, want: "webhook_url: must be an https URL"},
		{name: "webhook with channel", cfg: Config{WebhookURL: secret(hook), Channel: "#ml"}, want: "channel: only with token (an incoming webhook posts to its own channel)"},
		{name: "webhook with api_url", cfg: Config{WebhookURL: secret(hook), APIURL: "https://slack.com/api/"}, want: "api_url: only with token"},
		{name: "token without channel", cfg: Config{Token: secret("xoxb-1")}, want: "channel: required with token"},
		{name: "token not a token", cfg: Config{Token: secret("hunter2"), Channel: "#ml"}, want: "token: must be a Slack token (xoxb-…) without spaces or newlines"},
		{name: "token with newline", cfg: Config{Token: secret("xoxb-1\n"), Channel: "#ml"}, want: "token: must be a Slack token (xoxb-…) without spaces or newlines"},
		{name: "api_url over http", cfg: Config{Token: secret("xoxb-1"), Channel: "#ml", APIURL: "http://slack.example.com/api/"}, want: "api_url: must be an https URL"},
		{name: "bad emoji", cfg: Config{WebhookURL: secret(hook), IconEmoji: "robot"}, want: "icon_emoji: must look like :name:"},
		{name: "blocks on a webhook", cfg: Config{WebhookURL: secret(hook), Format: "blocks", Blocks: "[]"}},
		{name: "live", cfg: Config{Token: secret("xoxb-1"), Channel: "#ml", Mode: "live", Thread: "{{ .Error }}", Format: "text"}},
		{name: "bad format", cfg: Config{WebhookURL: secret(hook), Format: "markdown"}, want: `format: "markdown" is not one of text, blocks`},
		{name: "blocks without format", cfg: Config{WebhookURL: secret(hook), Blocks: "[]"}, want: `blocks: only with format = "blocks"`},
		{name: "live on a webhook", cfg: Config{WebhookURL: secret(hook), Mode: "live"}, want: `mode: "live" needs a bot token and channel (an incoming webhook cannot update its messages)`},
		{name: "bad mode", cfg: Config{Token: secret("xoxb-1"), Channel: "#ml", Mode: "edit"}, want: `mode: "edit" is not one of post, live`},
		{name: "thread without live", cfg: Config{Token: secret("xoxb-1"), Channel: "#ml", Thread: "x"}, want: `thread: only with mode = "live"`},
		{
			name: "every problem at once",
			cfg:  Config{Token: secret("nope"), APIURL: "ftp://x", IconEmoji: "x"},
			want: "token: must be a Slack token (xoxb-…) without spaces or newlines\n" +
				"channel: required with token\n" +
				"api_url: must be an https URL\n" +
				"icon_emoji: must look like :name:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate(%s) =\n%s\nwant\n%s", tt.name, got, tt.want)
			}
		})
	}
}

// TestValidateLeavesConfigUnchanged checks that Validate, valid config or
// not, changes nothing: New normalises what it uses.
func TestValidateLeavesConfigUnchanged(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "api_url without slash", cfg: Config{Token: notifiers.NewSecret("xoxb-1"), Channel: "#ml", APIURL: "http://127.0.0.1:9999/api"}},
		{name: "api_url with slash", cfg: Config{Token: notifiers.NewSecret("xoxb-1"), Channel: "#ml", APIURL: "https://slack.example.com/api/"}},
		{name: "invalid", cfg: Config{Token: notifiers.NewSecret("nope"), APIURL: "ftp://x", IconEmoji: "x", Channel: " "}},
		{name: "webhook", cfg: Config{WebhookURL: notifiers.NewSecret("https://hooks.slack.com/services/T0/B0/abc"), Text: "{{ .Status }}"}},
	}
	revealed := cmp.Comparer(func(a, b notifiers.Secret) bool { return a.Reveal() == b.Reveal() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			_ = c.Validate()
			if diff := cmp.Diff(tt.cfg, c, revealed); diff != "" {
				t.Errorf("Validate() changed the config (-before +after):\n%s", diff)
			}
		})
	}
}

// TestAPIBase checks the normalisation New applies to api_url;
// TestNotifyPostMessageGolden shows it in use, with an api_url that has no
// trailing slash.
func TestAPIBase(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{in: "http://127.0.0.1:9999/api", want: "http://127.0.0.1:9999/api/"},
		{in: "http://127.0.0.1:9999/api/", want: "http://127.0.0.1:9999/api/"},
		{in: "https://slack.com/api/", want: "https://slack.com/api/"},
	}
	for _, tt := range tests {
		if got := apiBase(tt.in); got != tt.want {
			t.Errorf("apiBase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNewRefusesInvalidConfig checks that New returns Validate's joined
// errors unwrapped, so that relay can place each under its key.
func TestNewRefusesInvalidConfig(t *testing.T) {
	n, err := New(Config{Token: notifiers.NewSecret("xoxb-1"), IconEmoji: "x"}, testDeps(t))
	if err == nil || n != nil {
		t.Fatalf("New() = %v, %v, want an error", n, err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 2 {
		t.Fatalf("New() = %#v, want the two errors of Validate joined", err)
	}
	if want := "channel: required with token\nicon_emoji: must look like :name:"; err.Error() != want {
		t.Errorf("New() = %q, want %q", err, want)
	}
}

// TestNewRefusesNoHTTPClient checks that New never falls back to a client
// of its own.
func TestNewRefusesNoHTTPClient(t *testing.T) {
	configs := []Config{
		{WebhookURL: notifiers.NewSecret("https://hooks.slack.com/services/T0/B0/abc")},
		{Token: notifiers.NewSecret("xoxb-1"), Channel: "#ml"},
	}
	for _, c := range configs {
		n, err := New(c, notifiers.Deps{})
		if n != nil || !errors.Is(err, notifiers.ErrNoHTTPClient) {
			t.Errorf("New(%v, Deps{}) = %v, %v, want ErrNoHTTPClient", c.Templates(), n, err)
		}
	}
}

func TestTemplates(t *testing.T) {
	digest := notifiers.DigestTemplates{Text: DefaultDigest}
	tests := []struct {
		name string
		cfg  Config
		want notifiers.Templates
	}{
		{name: "defaults", cfg: Config{}, want: notifiers.Templates{Text: DefaultText, TextFormat: notifiers.Slack, Digest: digest}},
		{
			name: "token",
			cfg:  Config{Text: "{{ .Status }}", Channel: "#{{ .Query.team }}", DigestText: "{{ .Count }}"},
			want: notifiers.Templates{Text: "{{ .Status }}", TextFormat: notifiers.Slack, Channel: "#{{ .Query.team }}",
				Digest: notifiers.DigestTemplates{Text: "{{ .Count }}"}},
		},
		{
			name: "blocks and live",
			cfg:  Config{Channel: "#ml", Format: FormatBlocks, Mode: ModeLive},
			want: notifiers.Templates{Text: DefaultText, TextFormat: notifiers.Slack, Channel: "#ml", Blocks: DefaultBlocks,
				Live: true, Thread: DefaultThread, Digest: digest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cfg.Templates()); diff != "" {
				t.Errorf("Templates() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeTOML checks the TOML keys of a [notifiers.NAME] table.
func TestDecodeTOML(t *testing.T) {
	const table = `
webhook_url = "https://hooks.slack.com/services/T0/B0/abc"
webhook_url_file = "slack-url"
token = "xoxb-1"
token_file = "slack-token"
channel = "#ml"
api_url = "http://127.0.0.1:9999/api/"
text = "{{ .Status }}"
username = "hooknote"
icon_emoji = ":robot_face:"
`
	var c Config
	md, err := toml.Decode(table, &c)
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Errorf("Decode() left keys undecoded: %v", u)
	}
	want := Config{
		WebhookURL:     notifiers.NewSecret("https://hooks.slack.com/services/T0/B0/abc"),
		WebhookURLFile: "slack-url",
		Token:          notifiers.NewSecret("xoxb-1"),
		TokenFile:      "slack-token",
		Channel:        "#ml",
		APIURL:         "http://127.0.0.1:9999/api/",
		Text:           "{{ .Status }}",
		Username:       "hooknote",
		IconEmoji:      ":robot_face:",
	}
	revealed := cmp.Comparer(func(a, b notifiers.Secret) bool { return a.Reveal() == b.Reveal() })
	if diff := cmp.Diff(want, c, revealed); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
}

// fieldKeys returns the Key of each error joined in err, found with
// errors.As, or "not a FieldError: TEXT".
func fieldKeys(err error) []string {
	var keys []string
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	for _, e := range joined.Unwrap() {
		var fe *notifiers.FieldError
		if !errors.As(e, &fe) {
			keys = append(keys, "not a FieldError: "+e.Error())
			continue
		}
		keys = append(keys, fe.Key)
	}
	return keys
}

// TestValidateFieldErrors checks that relay can place each problem at its
// key.
func TestValidateFieldErrors(t *testing.T) {
	secret := notifiers.NewSecret
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "valid", cfg: Config{WebhookURL: secret("https://hooks.slack.com/services/T0/B0/abc")}},
		{name: "nothing", cfg: Config{}, want: []string{"webhook_url"}},
		{name: "both", cfg: Config{WebhookURL: secret("http://x.example/"), Token: secret("xoxb-1"), Channel: "#ml"}, want: []string{"token", "webhook_url"}},
		{name: "token", cfg: Config{Token: secret("nope"), APIURL: "ftp://x", IconEmoji: "x"}, want: []string{"token", "channel", "api_url", "icon_emoji"}},
		{name: "webhook with channel", cfg: Config{WebhookURL: secret("https://hooks.slack.com/x"), Channel: "#ml", APIURL: "https://slack.com/api/"}, want: []string{"channel", "api_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, fieldKeys(tt.cfg.Validate())); diff != "" {
				t.Errorf("Validate() keys mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
