package campaigns

// createStore is what creating a campaign and the do-not-call list need.
type createStore interface{}
