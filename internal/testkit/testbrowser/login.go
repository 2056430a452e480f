package testbrowser

import (
	"context"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// LoginPrompt answers the HTTP authentication prompts (401 with
// WWW-Authenticate) of the pages under one URL pattern as a person at the
// browser would: with the credentials it holds, or, until LogIn, by
// cancelling the prompt, which shows the 401 page. It records each prompt.
type LoginPrompt struct {
	mu             sync.Mutex
	user, password string
	loggedIn       bool
	challenges     []fetch.AuthChallenge
}

// AnswerLogins starts answering the login prompts of the requests whose URL
// matches urlPattern ('*' any characters) on the browser tab ctx, until the
// test ends. Other requests are not touched.
func AnswerLogins(t testing.TB, ctx context.Context, urlPattern string) *LoginPrompt {
	t.Helper()
	p := &LoginPrompt{}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	prompts := chromedp.Events(ctx, fetch.AuthRequired)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: urlPattern}}, HandleAuthRequests: ptr(true)}); err != nil {
		t.Fatalf("enable the Fetch domain: %v", err)
	}
	// A request that matches the pattern waits for an answer: let it go.
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil && ctx.Err() == nil {
				t.Errorf("continue %s: %v", ev.Request.URL, err)
			}
		}
	}()
	go func() {
		for ev, err := range prompts {
			if err != nil {
				return
			}
			answer := p.answer(*ev.AuthChallenge)
			if _, err := chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{
				RequestID: ev.RequestID, AuthChallengeResponse: &answer}); err != nil && ctx.Err() == nil {
				t.Errorf("answer the login prompt of %s: %v", ev.Request.URL, err)
			}
		}
	}()
	return p
}

func (p *LoginPrompt) answer(c fetch.AuthChallenge) fetch.AuthChallengeResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.challenges = append(p.challenges, c)
	if !p.loggedIn {
		return fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
	}
	return fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials,
		Username: p.user, Password: p.password}
}

// LogIn makes the next prompts answered with user and password.
func (p *LoginPrompt) LogIn(user, password string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user, p.password, p.loggedIn = user, password, true
}

// Challenges returns the prompts seen so far, in order.
func (p *LoginPrompt) Challenges() []fetch.AuthChallenge {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]fetch.AuthChallenge(nil), p.challenges...)
}

func ptr[T any](v T) *T { return &v }
