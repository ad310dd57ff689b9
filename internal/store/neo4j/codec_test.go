package neo4j

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestChangesRoundTrip checks the audit changes encoding gives back exactly
// the values and types it was given (no database needed).
func TestChangesRoundTrip(t *testing.T) {
	when := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -7200))
	changes := []store.FieldChange{
		{Field: "class", After: "Server"},
		{Field: "s", Before: "plain", After: "ünïcode \"quoted\" \\ \n\t\x00 <&> ✓"},
		{Field: "i", Before: int64(math.MinInt64), After: int64(math.MaxInt64)},
		{Field: "f", Before: 3.0, After: 1e21},
		{Field: "g", Before: -0.5, After: 5e-324},
		{Field: "b", Before: true, After: false},
		{Field: "t", Before: when},
		{Field: "l", Before: []string{}, After: []string{"a", "é\"", ""}},
		{Field: "gone", Before: "x"},
		{Field: "x'}) DETACH DELETE n //"},
	}
	enc, err := encodeChanges(changes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeChanges(enc)
	if err != nil {
		t.Fatalf("%v in %s", err, enc)
	}
	want := append([]store.FieldChange(nil), changes...)
	want[6].Before = when.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip\n got %#v\nwant %#v\n json %s", got, want, enc)
	}
	if enc, err := encodeChanges(nil); err != nil || enc != "[]" {
		t.Errorf("no changes: %q %v", enc, err)
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), uint8(1), store.ID("x"), []any{"x"}} {
		if _, err := encodeChanges([]store.FieldChange{{Field: "x", After: bad}}); err == nil {
			t.Errorf("%#v encoded", bad)
		}
	}
}
