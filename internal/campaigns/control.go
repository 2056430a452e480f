package campaigns

// controlStore is what following and controlling a campaign, and its
// scheduler, need.
type controlStore interface{}
