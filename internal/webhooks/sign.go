package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// Sign returns the webhook-signature header of a message: "v1," and the
// base64 HMAC-SHA256, keyed with the endpoint secret's key
// (dialq.WebhookKey), of "<webhook-id>.<webhook-timestamp>.<body>", as
// Standard Webhooks defines it.
func Sign(key []byte, webhookID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(webhookID + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
