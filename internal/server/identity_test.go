package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
)

// TestRequestsCarryAnIdentity: without authentication configured, a
// request still reaches the API as anonymous, never as the process itself
// (a context without identity), which the services would let do anything
// (auth.Check).
func TestRequestsCarryAnIdentity(t *testing.T) {
	var got *auth.Identity
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.Caller(r.Context()); ok {
			got = &id
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := New(config.Default(), Deps{GraphQL: api})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/graphql?query=%7Bversion%7D", nil))
	assert.Equal(t, http.StatusNoContent, w.Code)
	if assert.NotNil(t, got, "the request carries an identity") {
		assert.Equal(t, auth.Anonymous, got.Role)
	}
}
