package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/hooknote/hooknote/notifiers"
)

// Slack's Block Kit limits that make it refuse a whole message.
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxHeaderText  = 150
	maxFieldText   = 2000
	maxFields      = 10
)

// rawBlock is one block as rendered, sent as it is: slack-go only needs
// its type.
type rawBlock struct {
	kind string
	raw  json.RawMessage
}

func (b rawBlock) BlockType() slackgo.MessageBlockType { return slackgo.MessageBlockType(b.kind) }
func (b rawBlock) ID() string                          { return "" }
func (b rawBlock) MarshalJSON() ([]byte, error)        { return b.raw, nil }

// block is what parseBlocks reads of a block to check it.
type block struct {
	Type   string       `json:"type"`
	Text   *textObject  `json:"text"`
	Fields []textObject `json:"fields"`
	URL    *string      `json:"image_url"`
}

// textObject is a Block Kit text object.
type textObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// parseBlocks reads a rendered Block Kit array and checks it against
// Slack's limits: a JSON array of 1 to 50 objects with a "type", section
// texts of at most 3,000 characters (at most 10 fields of 2,000), header
// texts of at most 150, image blocks with an http(s) URL.
func parseBlocks(s string) ([]slackgo.Block, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raws); err != nil {
		return nil, fmt.Errorf("blocks are not a JSON array: %w", err)
	}
	if len(raws) == 0 {
		return nil, errors.New("blocks: the array is empty")
	}
	if len(raws) > maxBlocks {
		return nil, fmt.Errorf("blocks: %d blocks, Slack takes at most %d", len(raws), maxBlocks)
	}
	blocks := make([]slackgo.Block, 0, len(raws))
	for i, raw := range raws {
		var b block
		if err := json.Unmarshal(raw, &b); err != nil || b.Type == "" {
			return nil, fmt.Errorf("blocks[%d]: not an object with a type", i)
		}
		if err := b.check(); err != nil {
			return nil, fmt.Errorf("blocks[%d] (%s): %w", i, b.Type, err)
		}
		blocks = append(blocks, rawBlock{kind: b.Type, raw: raw})
	}
	return blocks, nil
}

// check checks one block's texts against Slack's limits.
func (b *block) check() error {
	runes := func(t *textObject) int { return utf8.RuneCountInString(t.Text) }
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Text == "" {
			return errors.New("a header needs a text")
		}
		if n := runes(b.Text); n > maxHeaderText {
			return fmt.Errorf("header text of %d characters, Slack takes at most %d", n, maxHeaderText)
		}
	case "section":
		if (b.Text == nil || b.Text.Text == "") && len(b.Fields) == 0 {
			return errors.New("a section needs a text or fields")
		}
		if b.Text != nil && runes(b.Text) > maxSectionText {
			return fmt.Errorf("section text of %d characters, Slack takes at most %d", runes(b.Text), maxSectionText)
		}
		if len(b.Fields) > maxFields {
			return fmt.Errorf("%d fields, Slack takes at most %d", len(b.Fields), maxFields)
		}
		for _, f := range b.Fields {
			if f.Text == "" || runes(&f) > maxFieldText {
				return fmt.Errorf("a field is empty or longer than %d characters", maxFieldText)
			}
		}
	case "image":
		if b.URL == nil || !(strings.HasPrefix(*b.URL, "https://") || strings.HasPrefix(*b.URL, "http://")) {
			return errors.New("an image needs an http(s) image_url")
		}
	}
	return nil
}

// isBlocksRefused reports whether Slack refused a message for its blocks:
// it is then sent again as text alone.
func isBlocksRefused(err error) bool {
	var apiErr slackgo.SlackErrorResponse
	if errors.As(err, &apiErr) {
		return apiErr.Err == "invalid_blocks" || apiErr.Err == "invalid_attachments" || apiErr.Err == "invalid_blocks_format"
	}
	var he *notifiers.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusBadRequest {
		return strings.Contains(he.Body, "invalid_blocks") || strings.Contains(he.Body, "invalid_attachments")
	}
	return false
}
