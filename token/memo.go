package token

import "context"

type memoKey struct{}

// memo remembers the last token verified during one request and its
// signature ("" when it did not verify).
type memo struct {
	kind, token, sig string
}

// WithMemo returns ctx marked as one request's: every check of the same
// token within it after the first returns the first's result without
// computing the MAC again. The memo is not safe for concurrent use: one
// request's handler goroutine uses it, as fosite does.
func WithMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{})
}

func memoOf(ctx context.Context) *memo {
	m, _ := ctx.Value(memoKey{}).(*memo)
	return m
}
