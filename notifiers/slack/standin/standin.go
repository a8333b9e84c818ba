// Package standin is a local stand-in for Slack, for tests and `hooknote
// demo`: the Web API's chat.postMessage and chat.update (with thread_ts),
// and incoming webhooks, answering as Slack does where hooknote depends on
// it. A post to a channel name is answered with the channel's ID; an update
// must name the channel by that ID and the ts the post returned
// (channel_not_found, message_not_found otherwise); a deleted message
// cannot be updated; an image block whose URL Slack could not show (not
// .png, .jpg, .jpeg or .gif) makes the whole message invalid_blocks, as do
// blocks that are not a JSON array.
//
// It imports nothing of hooknote.
package standin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
)

// Message is one message as the stand-in keeps it.
type Message struct {
	Channel  string // the channel ID
	TS       string
	ThreadTS string   // the parent's ts for a thread reply
	Text     string   // the text as last posted or updated
	Blocks   string   // the blocks as JSON ("" for none)
	Versions []string // every text it had, the first post's first
	Deleted  bool
	Webhook  bool // posted through an incoming webhook
}

// Call is one API call the stand-in answered.
type Call struct {
	Method   string // chat.postMessage, chat.update, webhook
	Channel  string // as the call named it
	TS       string // the ts updated (chat.update) or made (chat.postMessage)
	ThreadTS string
	Error    string // the error answered ("" for ok)
}

// String is the call in a word or three: "chat.update",
// "chat.postMessage (thread)", "chat.update → message_not_found".
func (c Call) String() string {
	s := c.Method
	if c.ThreadTS != "" {
		s += " (thread)"
	}
	if c.Error != "" {
		s += " → " + c.Error
	}
	return s
}

// Server is the stand-in: an http.Handler serving /api/ (Web API) and
// every other POST path as an incoming webhook. The zero value is not
// usable; use New.
type Server struct {
	token string

	mu       sync.Mutex
	channels map[string]string // name (without #) → ID
	messages []*Message
	calls    []Call
	next     int                 // ts counter
	fail     map[string][]string // method → error codes to answer next, in order
	notify   chan struct{}
}

// New returns a stand-in that accepts the bot token token (any token
// when empty).
func New(token string) *Server {
	return &Server{token: token, channels: map[string]string{}, fail: map[string][]string{}, notify: make(chan struct{}, 1)}
}

// Changed receives a value (without blocking the server; one may stand for
// several) after every call.
func (s *Server) Changed() <-chan struct{} { return s.notify }

// FailNext makes the next call of method (chat.postMessage, chat.update,
// webhook) answer the Slack error code (e.g. "ratelimited",
// "channel_not_found"). Codes queue up.
func (s *Server) FailNext(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method] = append(s.fail[method], code)
}

// Delete deletes the message at ts: an update of it then answers
// message_not_found.
func (s *Server) Delete(ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.TS == ts {
			m.Deleted = true
		}
	}
}

// Messages returns a copy of every message, in order of posting.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
		out[i].Versions = slices.Clone(m.Versions)
	}
	return out
}

// Calls returns a copy of every call answered, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	defer s.changed()
	method, api := strings.CutPrefix(r.URL.Path, "/api/")
	if !api {
		s.webhook(w, r)
		return
	}
	v, err := s.form(r)
	if err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	if s.token != "" && v.Get("token") != s.token && r.Header.Get("Authorization") != "Bearer "+s.token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var answer map[string]any
	switch method {
	case "chat.postMessage":
		answer = s.post(v)
	case "chat.update":
		answer = s.update(v)
	default:
		answer = map[string]any{"ok": false, "error": "unknown_method"}
	}
	writeJSON(w, answer)
}

func (s *Server) changed() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// form reads the form values of a request, form-encoded (as slack-go
// sends) or JSON.
func (s *Server) form(r *http.Request) (url.Values, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			} else {
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		return v, nil
	}
	return url.ParseQuery(string(body))
}

// failing returns the queued error code of method, if any.
func (s *Server) failing(method string) string {
	codes := s.fail[method]
	if len(codes) == 0 {
		return ""
	}
	s.fail[method] = codes[1:]
	return codes[0]
}

func (s *Server) post(v url.Values) map[string]any {
	call := Call{Method: "chat.postMessage", Channel: v.Get("channel"), ThreadTS: v.Get("thread_ts")}
	answer := func(code string) map[string]any {
		call.Error = code
		s.calls = append(s.calls, call)
		return map[string]any{"ok": false, "error": code}
	}
	if code := s.failing(call.Method); code != "" {
		return answer(code)
	}
	id := s.channelID(call.Channel)
	if id == "" {
		return answer("channel_not_found")
	}
	if code := checkBlocks(v.Get("blocks")); code != "" {
		return answer(code)
	}
	if call.ThreadTS != "" && s.find(id, call.ThreadTS) == nil {
		return answer("thread_not_found")
	}
	s.next++
	m := &Message{Channel: id, TS: fmt.Sprintf("1700000000.%06d", s.next), ThreadTS: call.ThreadTS,
		Text: v.Get("text"), Blocks: blocksOf(v), Versions: []string{v.Get("text")}}
	s.messages = append(s.messages, m)
	call.TS = m.TS
	s.calls = append(s.calls, call)
	return map[string]any{"ok": true, "channel": id, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}}
}

func (s *Server) update(v url.Values) map[string]any {
	call := Call{Method: "chat.update", Channel: v.Get("channel"), TS: v.Get("ts")}
	answer := func(code string) map[string]any {
		call.Error = code
		s.calls = append(s.calls, call)
		return map[string]any{"ok": false, "error": code}
	}
	if code := s.failing(call.Method); code != "" {
		return answer(code)
	}
	if !s.isChannelID(call.Channel) {
		return answer("channel_not_found") // chat.update takes IDs only
	}
	if code := checkBlocks(v.Get("blocks")); code != "" {
		return answer(code)
	}
	m := s.find(call.Channel, call.TS)
	if m == nil || m.Deleted {
		return answer("message_not_found")
	}
	m.Text = v.Get("text")
	if _, ok := v["blocks"]; ok {
		m.Blocks = blocksOf(v)
	}
	m.Versions = append(m.Versions, m.Text)
	s.calls = append(s.calls, call)
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text}
}

// webhook answers an incoming webhook's POST as Slack does: "ok", or 400
// with the reason.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Method: "webhook", Channel: r.URL.Path}
	code := s.failing(call.Method)
	if code == "" && len(msg.Blocks) > 0 {
		code = checkBlocks(string(msg.Blocks))
	}
	if code != "" {
		call.Error = code
		s.calls = append(s.calls, call)
		http.Error(w, code, http.StatusBadRequest)
		return
	}
	s.next++
	m := &Message{Channel: r.URL.Path, TS: fmt.Sprintf("1700000000.%06d", s.next), Text: msg.Text, Versions: []string{msg.Text}, Webhook: true}
	if len(msg.Blocks) > 0 {
		m.Blocks = string(msg.Blocks)
	}
	s.messages = append(s.messages, m)
	call.TS = m.TS
	s.calls = append(s.calls, call)
	io.WriteString(w, "ok")
}

// channelID returns the ID of a channel named by ID or by name (#ml, ml),
// making one for a new name.
func (s *Server) channelID(ch string) string {
	ch = strings.TrimSpace(ch)
	if ch == "" {
		return ""
	}
	if s.isChannelID(ch) {
		return ch
	}
	name := strings.TrimPrefix(ch, "#")
	id, ok := s.channels[name]
	if !ok {
		id = fmt.Sprintf("C%08d", len(s.channels)+1)
		s.channels[name] = id
	}
	return id
}

func (s *Server) isChannelID(ch string) bool {
	for _, id := range s.channels {
		if id == ch {
			return true
		}
	}
	return false
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// blocksOf returns the blocks of a call, "" when it has none or an empty
// list (which clears them).
func blocksOf(v url.Values) string {
	b := v.Get("blocks")
	if b == "[]" {
		return ""
	}
	return b
}

// checkBlocks answers what Slack would of blocks: "" when they are
// acceptable (or absent), else invalid_blocks.
func checkBlocks(blocks string) string {
	if blocks == "" {
		return ""
	}
	var list []struct {
		Type     string `json:"type"`
		ImageURL string `json:"image_url"`
	}
	if err := json.Unmarshal([]byte(blocks), &list); err != nil || len(list) > 50 {
		return "invalid_blocks"
	}
	for _, b := range list {
		if b.Type == "" {
			return "invalid_blocks"
		}
		if b.Type == "image" {
			u, err := url.Parse(b.ImageURL)
			if err != nil {
				return "invalid_blocks"
			}
			switch strings.ToLower(path.Ext(u.Path)) {
			case ".png", ".jpg", ".jpeg", ".gif":
			default:
				return "invalid_blocks" // Slack cannot show it, and refuses the whole message
			}
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
