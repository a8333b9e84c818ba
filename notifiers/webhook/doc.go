// Package webhook delivers hooknote notifications as an HTTP request to a
// fixed URL, for pipelines that want the event as JSON rather than as a chat
// message.
//
// A [Config] is the webhook-specific part of one notifiers.NAME table of
// type "webhook":
//
//	[notifiers.pipeline]
//	type = "webhook"
//	url = "https://internal.example.com/next-step"  # static: never templated
//	body = '{{ template "webhook.body" . }}'         # templated; default shown
//	headers = { Authorization = "Bearer ${PIPELINE_TOKEN}" }
//	# method = "POST"                                # or PUT
//
// The URL is static so that a payload can never choose where hooknote sends
// a request. [Notifier.Notify] makes one attempt with an Idempotency-Key
// header set to the job ID, which stays the same across retries. It does not
// follow redirects. A 2xx is success; a 429 with Retry-After asks relay for
// that pause; 408, 5xx and network errors are transient; any other answer is
// permanent (see notifiers.CheckHTTP). An error carries the status and the
// start of the answer ("post webhook: status 400: unknown pipeline"), but
// never the URL (it may embed a token) or a header value, even when the
// receiver echoes them.
package webhook
