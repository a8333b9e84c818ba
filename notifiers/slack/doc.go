// Package slack delivers hooknote notifications to Slack, either through an
// incoming webhook URL (the message goes to the webhook's own channel) or
// through a bot token and the Web API's chat.postMessage (the channel is a
// template rendered for every message).
//
// A [Config] is the notifier-specific part of one notifiers.NAME table of
// type "slack":
//
//	[notifiers.ml-alerts]
//	type = "slack"
//	webhook_url = "${SLACK_WEBHOOK_URL}"   # or webhook_url_file, or:
//	# token = "${SLACK_BOT_TOKEN}"         # or token_file
//	# channel = "#ml"                      # templated; required with token
//	# api_url = "http://127.0.0.1:9999/api/"
//	text = '{{ template "slack.text" . }}' # templated; default shown
//	# username = "hooknote"
//	# icon_emoji = ":robot_face:"
//	# format = "blocks"                    # Block Kit, rendered from blocks; text sent beside it
//	# blocks = '{{ template "slack.blocks" . }}'
//	# mode = "live"                        # one message per event, updated in place (token only)
//	# thread = '{{ template "slack.thread" . }}'
//	# digest_text = '{{ template "slack.digest" . }}'
//
// [Notifier.Notify] makes one attempt. Text longer than Slack's limit is cut
// with a visible "…truncated" marker, and an empty text is replaced, so Slack
// never rejects a message for its length. Errors are classified for relay's
// retry loop: a 429 with Retry-After asks for that pause, 5xx and network
// errors are transient, and rejections (invalid_auth, channel_not_found, an
// incoming webhook's 4xx, …) are permanent. An error keeps Slack's reason
// ("post to slack webhook: status 404: channel_is_archived"). Neither the
// webhook URL nor the token ever appears in an error.
//
// Blocks are checked against Block Kit's limits before they are sent
// ([Notifier.Check]); blocks Slack refuses anyway (invalid_blocks) are
// dropped and the text sent alone within the same attempt. In live mode the
// Notifier is a notifiers.Live: [Notifier.Post] returns the channel ID and
// ts of the message, [Notifier.Update] edits it (notifiers.ErrGone when
// Slack says it is gone), [Notifier.Reply] posts in its thread. Package
// standin is a local Slack for tests and the demo.
package slack
