package cmdb

import "testing"

func TestOperational(t *testing.T) {
	tests := []struct {
		attrs map[string]any
		want  bool
	}{
		{nil, true},
		{map[string]any{"status": "live"}, true},
		{map[string]any{"status": ""}, true},
		{map[string]any{"status": "maintenance"}, false},
		{map[string]any{"status": "planned"}, false},
		{map[string]any{"status": "retired"}, false},
		{map[string]any{"status": "down"}, false},
	}
	for _, tt := range tests {
		if got := Operational(tt.attrs); got != tt.want {
			t.Errorf("Operational(%v) = %v, want %v", tt.attrs, got, tt.want)
		}
	}
}
