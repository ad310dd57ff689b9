package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunOverloadClassifies drives a server that answers cheap queries,
// sheds expensive ones alternately by status and by GraphQL error, and
// fails a third kind: every answer lands in the right column.
func TestRunOverloadClassifies(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "cheap"):
			io.WriteString(w, `{"data":{"ok":true}}`)
		case strings.Contains(string(body), "expensive"):
			if n.Add(1)%2 == 0 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, `{"errors":[{"message":"busy","extensions":{"code":"OVERLOADED"}}],"data":null}`)
		}
	}))
	defer srv.Close()
	rows, err := RunOverload(t.Context(), OverloadConfig{
		URL: srv.URL, Clients: []int{2}, Duration: 200 * time.Millisecond,
		Cheap: APIQuery{Query: "{ cheap }"}, Expensive: APIQuery{Query: "{ expensive }"}, ExpensiveShare: 0.3,
		RSS: func() int64 { return 42 << 20 },
	})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Positive(t, r.CheapOK)
	assert.Zero(t, r.CheapShed)
	assert.Zero(t, r.ExpensiveOK, "every expensive answer was a shed")
	assert.Positive(t, r.ExpensiveShed)
	assert.Zero(t, r.Failed)
	assert.Equal(t, int64(42<<20), r.RSSBytes)
	var md strings.Builder
	OverloadMarkdown(&md, rows)
	assert.Contains(t, md.String(), "| 2 |")
}
