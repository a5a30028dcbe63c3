package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/authd/authd/internal/httpx"
)

// Every list of the admin API is paginated the same way: ?limit (default
// defaultLimit, at most maxLimit) and ?cursor, the opaque next_cursor of
// the previous page; the answer is {"items": [...], "next_cursor": "..."},
// next_cursor absent on the last page.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// pageReq is a list request's page: at most limit items after key ("" from
// the start).
type pageReq struct {
	limit int
	key   string
}

// list is the answer of a list request.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// readPage reads ?limit and ?cursor of a listing of kind (a cursor of
// another listing is refused).
func readPage(r *http.Request, kind string) (pageReq, error) {
	q := r.URL.Query()
	p := pageReq{limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, httpx.Invalid("limit must be an integer from 1 to " + strconv.Itoa(maxLimit) + ".")
		}
		p.limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		key, ok := strings.CutPrefix(string(b), kind+":")
		if err != nil || !ok || key == "" {
			return p, httpx.Invalid("cursor is not a next_cursor of this listing.")
		}
		p.key = key
	}
	return p, nil
}

// cursor is the opaque next_cursor of a listing of kind that continues
// after key ("" for none).
func cursor(kind, key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + key))
}

// nonNil makes an empty list [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
